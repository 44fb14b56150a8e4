//! The one error layer of the DingTalk facade. Under `/v1.0/` (the stream's `gateway/connections/open`
//! aside, which keeps the native shape its SDK already reads) every non-2xx answer — a handler's, the
//! router's 404/405, the body limit's 413, the rate limit's 429, a timeout's 408, a panic's 500 — is
//! `{"code", "message", "requestid"}`; on oapi paths (`/gettoken`, `/topapi/*`) every answer is HTTP 200
//! with an integer `errcode`. Handlers answer [`V1Failure`] / [`OapiFailure`] themselves; whatever else
//! comes out in the native error shape is translated here, by its native code.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::{OapiError, V1Error};

/// The largest native error body the layer reads to translate it (they are a few hundred bytes).
const NATIVE_ERROR_BYTES_MAX: usize = 64 * 1024;

/// The API family a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `/v1.0/*`: camelCase JSON, errors as non-2xx `{"code", "message", "requestid"}`.
    V1,
    /// `/gettoken`, `/topapi/*`: always HTTP 200 with `errcode`.
    Oapi,
}

impl Family {
    /// The family of a request path; `None` for the native API and for the stream handshake.
    pub fn of(path: &str) -> Option<Family> {
        if path == "/v1.0/gateway/connections/open" {
            None
        } else if path.starts_with("/v1.0/") {
            Some(Family::V1)
        } else if path == "/gettoken" || path.starts_with("/topapi/") {
            Some(Family::Oapi)
        } else {
            None
        }
    }
}

/// Marks a response already in its family's shape.
#[derive(Debug, Clone, Copy)]
struct Rendered;

/// A v1.0 error a handler answers.
#[derive(Debug)]
pub struct V1Failure {
    pub error: V1Error,
    pub message: String,
}

impl V1Failure {
    pub fn new(error: V1Error, message: impl Into<String>) -> Self {
        V1Failure {
            error,
            message: message.into(),
        }
    }
}

impl IntoResponse for V1Failure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.error.body(self.message, crate::request_id::current());
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(Rendered);
        response
    }
}

/// An oapi error a handler answers (HTTP 200).
#[derive(Debug)]
pub struct OapiFailure {
    pub error: OapiError,
    pub message: String,
}

impl OapiFailure {
    pub fn new(error: OapiError, message: impl Into<String>) -> Self {
        OapiFailure {
            error,
            message: message.into(),
        }
    }
}

impl IntoResponse for OapiFailure {
    fn into_response(self) -> Response {
        let body = self
            .error
            .body(&self.message, &crate::request_id::current());
        let mut response = axum::Json(body).into_response();
        response.extensions_mut().insert(Rendered);
        response
    }
}

/// Middleware, outside the panic guard, the timeout and the body limit so that their answers pass through
/// it too.
pub async fn layer(request: Request, next: Next) -> Response {
    let family = Family::of(request.uri().path());
    let response = next.run(request).await;
    let Some(family) = family else {
        return response;
    };
    let success = match family {
        Family::V1 => response.status().is_success(),
        Family::Oapi => response.status() == StatusCode::OK,
    };
    if success || response.extensions().get::<Rendered>().is_some() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let status = parts.status;
    let bytes = axum::body::to_bytes(body, NATIVE_ERROR_BYTES_MAX)
        .await
        .unwrap_or_default();
    let native: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let code = native["error"]["code"].as_str();
    let what = native["error"]["params"]["what"].as_str();
    let message = native["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let request_id = crate::request_id::current();
    let body = match family {
        Family::V1 => {
            let error = v1_error(status, code, what);
            parts.status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            serde_json::to_vec(&error.body(message, request_id))
        }
        Family::Oapi => {
            parts.status = StatusCode::OK;
            serde_json::to_vec(&oapi_error(status, code, what).body(&message, &request_id))
        }
    }
    .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::WWW_AUTHENTICATE);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// The v1.0 code of a native error (by its code, else its status).
fn v1_error(status: StatusCode, code: Option<&str>, what: Option<&str>) -> V1Error {
    match code {
        Some("unauthenticated") => V1Error::InvalidAuthentication,
        Some("insufficient_scope" | "forbidden") => V1Error::AccessDenied,
        Some("rate_limited") => V1Error::Throttling,
        Some("not_found") if what == Some("route") => V1Error::UnknownApi,
        Some("not_found") => V1Error::NotFound,
        Some("method_not_allowed") => V1Error::MethodNotAllowed,
        Some("payload_too_large") => V1Error::PayloadTooLarge,
        Some("request_timeout") => V1Error::RequestTimeout,
        Some("unavailable") => V1Error::ServiceUnavailable,
        _ => match status.as_u16() {
            404 => V1Error::UnknownApi,
            405 => V1Error::MethodNotAllowed,
            408 => V1Error::RequestTimeout,
            413 => V1Error::PayloadTooLarge,
            429 => V1Error::Throttling,
            401 => V1Error::InvalidAuthentication,
            403 => V1Error::AccessDenied,
            503 => V1Error::ServiceUnavailable,
            400..=499 => V1Error::InvalidParameter,
            _ => V1Error::Internal,
        },
    }
}

/// The oapi `errcode` of a native error (by its code, else its status).
fn oapi_error(status: StatusCode, code: Option<&str>, what: Option<&str>) -> OapiError {
    match code {
        Some("unauthenticated") => OapiError::InvalidToken,
        Some("insufficient_scope" | "forbidden") => OapiError::NoPermission,
        Some("rate_limited") => OapiError::Throttling,
        Some("not_found") if what == Some("route") => OapiError::UnknownApi,
        Some("method_not_allowed") => OapiError::UnknownApi,
        Some("not_found") if what == Some("department") => OapiError::UnknownDepartment,
        Some("not_found") if what == Some("member") => OapiError::UnknownUser,
        _ => match status.as_u16() {
            401 => OapiError::InvalidToken,
            403 => OapiError::NoPermission,
            404 | 405 => OapiError::UnknownApi,
            429 => OapiError::Throttling,
            400..=499 => OapiError::MissingParameters,
            _ => OapiError::SystemBusy,
        },
    }
}

/// Moves the token from its DingTalk carrier — `x-acs-dingtalk-access-token` on v1.0, `?access_token=` on
/// oapi, and only there — into `Authorization: Bearer` for the API's own authentication; a request without
/// it is refused in its family's shape (`AuthenticationFailed.MissingParameter`, errcode 88 / 40000): the
/// refusal to send, if any.
pub fn carry_token(family: Family, request: &mut Request) -> Option<Response> {
    let token = match family {
        Family::V1 => request
            .headers()
            .get("x-acs-dingtalk-access-token")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        Family::Oapi => request.uri().query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "access_token")
                .map(|(_, value)| value.into_owned())
        }),
    };
    let token = token.filter(|token| !token.trim().is_empty());
    let Some(token) = token else {
        return Some(match family {
            Family::V1 => V1Failure::new(
                V1Error::MissingToken,
                "send the token in the x-acs-dingtalk-access-token header",
            )
            .into_response(),
            Family::Oapi => OapiFailure::new(
                OapiError::MissingToken,
                "send the token as the access_token query parameter",
            )
            .into_response(),
        });
    };
    let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", token.trim())) else {
        return Some(match family {
            Family::V1 => V1Failure::new(V1Error::InvalidAuthentication, "the token is not valid")
                .into_response(),
            Family::Oapi => {
                OapiFailure::new(OapiError::InvalidToken, "the token is not valid").into_response()
            }
        });
    };
    let headers = request.headers_mut();
    headers.remove(header::COOKIE);
    headers.insert(header::AUTHORIZATION, value);
    None
}
