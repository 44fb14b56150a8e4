//! `/api/v1/auth/login` and `/api/v1/auth/logout`: browser sessions for people. The login itself (throttle,
//! password check, session) is [`crate::service::login`]; this module speaks HTTP: the body, the status
//! codes and the cookie.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_model::{DetailCode, Email, ErrorCode, FieldError};
use utoipa::ToSchema;

use crate::auth::{Authed, SESSION_COOKIE, Via, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, OptionalJson};
use crate::routes::members::MemberOut;
use crate::routes::organization::OrganizationOut;
use crate::service::login::{Credentials, LoginRefused, log_in};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@demo.tenon.local")]
    pub email: String,
    pub password: String,
    /// The organization id, needed only when the address and password match members of several.
    pub organization: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub member: MemberOut,
    pub organization: OrganizationOut,
}

/// Log in with e-mail and password; sets the `tenon_session` cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong e-mail address or password", body = ErrorBody),
        (status = 403, description = "Sent by another site's page (`cross_site_request`)", body = ErrorBody),
        (status = 409, description = "Matches members of several organizations; choose one", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "Too many failed logins for this address", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    // A log-in from another site's page (login CSRF) is refused like any cookie write from there.
    crate::auth::check_same_origin(&axum::http::Method::POST, &headers)?;
    let email = Email::parse(&body.email)
        .map_err(|reason| tenon_model::Invalid::from(reason.at("email")))?;
    let credentials = Credentials {
        email,
        password: body.password,
        organization: body.organization,
    };
    let session = match log_in(&state, credentials, crate::request_id::current()).await {
        Ok(session) => session,
        Err(LoginRefused::Locked { seconds }) => {
            return Err(ApiError::new(
                ErrorCode::TooManyAttempts,
                format!("too many failed logins for this address; try again in {seconds} s"),
            )
            .with("retry_after", seconds)
            .with_header(header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        Err(LoginRefused::WrongCredentials) => {
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "wrong e-mail address or password",
            ));
        }
        Err(LoginRefused::SeveralOrganizations(organizations)) => {
            let details = organizations
                .into_iter()
                .map(|(id, name)| {
                    FieldError::new(
                        "organization",
                        DetailCode::Candidate,
                        format!("{id} ({name})"),
                    )
                    .with("id", id.to_string())
                    .with("name", name)
                })
                .collect();
            return Err(ApiError::new(
                ErrorCode::OrganizationRequired,
                "this address and password belong to members of several organizations; send the organization id",
            )
            .with_details(details));
        }
        Err(LoginRefused::Failed(error)) => return Err(error),
    };
    let body = LoginResponse {
        member: session.member.into(),
        organization: session.organization.into(),
    };
    let cookie = session_cookie(&state, &session.secret, session.ttl.num_seconds());
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// End the current browser session and clear its cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("session" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "The credential is a token, not a session", body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
    OptionalJson(_empty): OptionalJson<crate::extract::EmptyBody>,
) -> ApiResult<Response> {
    let Via::Session { id, .. } = auth.via else {
        return Err(ApiError::invalid_request(
            "logout ends a browser session; revoke a token with DELETE /api/v1/tokens/{id} instead",
        ));
    };
    let Some(member_id) = auth.principal.actor.member_id() else {
        return Err(ApiError::invalid_request("the session has no member"));
    };
    state
        .store()
        .tenant(auth.principal.org_id)
        .end_session(&auth.write_context(), id, member_id)
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

fn session_cookie(state: &AppState, value: &str, max_age_seconds: i64) -> HeaderValue {
    let secure = if state.config().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
    );
    HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("tenon_session=; Max-Age=0"))
}
