//! `POST /api/v1/oauth/token`: the OAuth2 client-credentials grant (RFC 6749 §4.4) for installed apps.
//!
//! Requests are `application/x-www-form-urlencoded` (the RFC's form) or JSON. The client authenticates with
//! HTTP Basic or with `client_id`/`client_secret` parameters, not both. Errors follow RFC 6749 §5.2 —
//! `{"error": "invalid_client", "error_description": "…"}` — rather than the API's usual error shape,
//! because OAuth2 client libraries parse exactly that; `request_id` is added beside them.
//!
//! An app installed in several organizations names one with the `organization` parameter; the token then
//! belongs to that organization alone.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use tenon_auth::{SecretDigest, SecretKind};
use tenon_model::{Actor, Installation, OAuthErrorCode, ScopeSet};
use tenon_store::WriteContext;
use utoipa::ToSchema;

use crate::extract::ApiBytes;
use crate::state::AppState;

/// Parameters of a token request (form fields or JSON members).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    /// Unless sent with HTTP Basic authentication.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Space-separated scopes to request; default: everything the installation allows.
    pub scope: Option<String>,
    /// The organization (id) to act in, required when the app is installed in more than one.
    pub organization: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 7200)]
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The organization the token belongs to.
    pub organization: String,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type` or `invalid_scope`.
    pub error: &'static str,
    pub error_description: String,
    pub request_id: String,
}

struct OAuthError {
    code: OAuthErrorCode,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            basic_challenge: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = OAuthErrorBody {
            error: self.code.as_str(),
            error_description: self.description,
            request_id: crate::request_id::current(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            let challenge = if self.basic_challenge {
                "Basic realm=\"tenon\""
            } else {
                "Bearer realm=\"tenon\""
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Exchange an installed app's client credentials for an access token.
#[utoipa::path(
    post, path = "/api/v1/oauth/token", tag = "auth",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "An access token", body = TokenResponse),
        (status = 400, description = "RFC 6749 §5.2 error", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    )
)]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: ApiBytes) -> Response {
    let ApiBytes(body) = body;
    match grant(&state, &headers, &body).await {
        Ok(response) => {
            let mut response = axum::Json(response).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let params = parameters(headers, body)?;
    let basic = basic_credentials(headers)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "grant_type is missing"))?;
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type \"{grant_type}\" is not supported; use client_credentials"),
        ));
    }
    let (client_id, client_secret, via_basic) = match (
        basic,
        params.get("client_id"),
        params.get("client_secret"),
    ) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "authenticate the client with HTTP Basic or with client_id and client_secret, not both",
            ));
        }
        (Some((id, secret)), None, None) => (id, secret, true),
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone(), false),
        (None, _, _) => {
            let mut error = OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client authentication is missing",
            );
            error.basic_challenge = true;
            return Err(error);
        }
    };
    let invalid_client = || OAuthError {
        code: OAuthErrorCode::InvalidClient,
        description: "unknown client or wrong client secret".to_owned(),
        basic_challenge: via_basic,
    };
    let found = state
        .store()
        .find_client(&client_id)
        .await
        .map_err(server_error)?;
    let Some(found) = found else {
        return Err(invalid_client());
    };
    if !SecretDigest::of(&client_secret).matches(&SecretDigest(found.secret_digest)) {
        return Err(invalid_client());
    }
    let installation =
        choose_installation(state, &found.client, params.get("organization")).await?;
    let scopes = match params.get("scope") {
        None => installation.scopes,
        Some(requested) => {
            let requested = ScopeSet::parse(requested.split(' ')).map_err(|error| {
                OAuthError::new(OAuthErrorCode::InvalidScope, error.to_string())
            })?;
            if !installation.scopes.covers(requested) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    format!(
                        "the organization granted this app only: {}",
                        installation.scopes.to_space_separated()
                    ),
                ));
            }
            requested
        }
    };
    let secret = tenon_auth::mint(SecretKind::AccessToken);
    let ttl = state.config().access_token_ttl;
    let expires_at = state.store().now() + ttl;
    let ctx = WriteContext {
        actor: Actor::App {
            installation_id: installation.id,
            name: installation.app_name.to_string(),
        },
        request_id: Some(crate::request_id::current()),
    };
    state
        .store()
        .tenant(installation.org_id)
        .issue_access_token(
            &ctx,
            &installation,
            scopes,
            secret.digest.as_bytes(),
            expires_at,
        )
        .await
        .map_err(server_error)?;
    Ok(TokenResponse {
        access_token: secret.plaintext,
        token_type: "Bearer",
        expires_in: ttl.num_seconds(),
        scope: scopes.to_space_separated(),
        organization: installation.org_id.to_string(),
    })
}

async fn choose_installation(
    state: &AppState,
    client: &tenon_model::OAuthClient,
    organization: Option<&String>,
) -> Result<Installation, OAuthError> {
    let mut installations = state
        .store()
        .installations_of_client(client.id)
        .await
        .map_err(server_error)?;
    match organization {
        Some(org) => installations
            .into_iter()
            .find(|installation| installation.org_id.to_string() == *org)
            .ok_or_else(|| {
                OAuthError::new(
                    OAuthErrorCode::UnauthorizedClient,
                    "the app is not installed in that organization",
                )
            }),
        None if installations.len() == 1 => installations
            .pop()
            .ok_or_else(|| OAuthError::new(OAuthErrorCode::UnauthorizedClient, "")),
        None if installations.is_empty() => Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the app is not installed in any organization",
        )),
        None => Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the app is installed in several organizations; name one with the organization parameter",
        )),
    }
}

fn server_error(error: tenon_store::StoreError) -> OAuthError {
    tracing::error!(%error, "token endpoint failed");
    // RFC 6749 has no server-error code for the token endpoint; a 400 with a clear text is the least bad.
    OAuthError::new(
        OAuthErrorCode::InvalidRequest,
        "the server could not complete the request; retry later",
    )
}

/// The request's parameters, from a form or a JSON object. A parameter sent twice is an error (RFC 6749 §3.2).
fn parameters(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut params = HashMap::new();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            for (name, value) in form_urlencoded::parse(body) {
                if value.is_empty() {
                    // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
                    continue;
                }
                if params.insert(name.to_string(), value.to_string()).is_some() {
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidRequest,
                        format!("parameter {name} is repeated"),
                    ));
                }
            }
        }
        "application/json" => {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
                .map_err(|error| {
                OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    format!("the body is not a JSON object: {error}"),
                )
            })?;
            for (name, value) in object {
                match value {
                    serde_json::Value::String(text) if text.is_empty() => {}
                    serde_json::Value::String(text) => {
                        params.insert(name, text);
                    }
                    serde_json::Value::Null => {}
                    _ => {
                        return Err(OAuthError::new(
                            OAuthErrorCode::InvalidRequest,
                            format!("parameter {name} must be a string"),
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "send the parameters as application/x-www-form-urlencoded or application/json",
            ));
        }
    }
    Ok(params)
}

/// `Authorization: Basic base64(urlencode(client_id):urlencode(client_secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        let mut error = OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "the Authorization header is not valid Basic authentication",
        );
        error.basic_challenge = true;
        error
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |text: &str| -> String {
        form_urlencoded::parse(format!("v={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}
