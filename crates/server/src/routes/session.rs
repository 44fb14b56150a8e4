//! `/api/v1/auth/login` and `/api/v1/auth/logout`: browser sessions for people.
//!
//! A login checks the password with argon2id off the async workers. Failures are counted per e-mail
//! address, whether or not the address exists, and after five the address is locked for 30 s, doubling
//! with each further failure up to an hour: a lock says nothing about whether an account exists, and
//! unknown addresses cost as much time as known ones.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_auth::{SecretKind, lock_seconds_after};
use tenon_model::{Actor, DetailCode, Email, ErrorCode, FieldError, MemberStatus};
use tenon_store::{LoginCandidate, WriteContext};
use utoipa::ToSchema;

use crate::auth::{Authed, SESSION_COOKIE, Via, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, OptionalJson};
use crate::routes::members::MemberOut;
use crate::routes::organization::OrganizationOut;
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
        (status = 409, description = "Matches members of several organizations; choose one", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "Too many failed logins for this address", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let email = Email::parse(&body.email)
        .map_err(|reason| tenon_model::Invalid::from(reason.at("email")))?;
    let store = state.store();
    let throttle = store.login_throttle(email.as_str()).await?;
    let now = store.now();
    if let Some(locked_until) = throttle.locked_until.filter(|until| *until > now) {
        let seconds = (locked_until - now).num_seconds().max(1);
        return Err(ApiError::new(
            ErrorCode::TooManyAttempts,
            format!("too many failed logins for this address; try again in {seconds} s"),
        )
        .with("retry_after", seconds)
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds)));
    }
    let candidates: Vec<LoginCandidate> = store
        .login_candidates(&email)
        .await?
        .into_iter()
        .filter(|candidate| {
            candidate.status == MemberStatus::Active && candidate.password_hash.is_some()
        })
        .filter(|candidate| {
            body.organization
                .as_ref()
                .is_none_or(|org| candidate.org_id.to_string() == *org)
        })
        .collect();
    let password = body.password;
    let matching: Vec<LoginCandidate> = state
        .password_work(move || {
            if candidates.is_empty() {
                tenon_auth::verify_against_nothing(&password);
            }
            candidates
                .into_iter()
                .filter(|candidate| {
                    candidate
                        .password_hash
                        .as_deref()
                        .is_some_and(|hash| tenon_auth::verify_password(&password, hash))
                })
                .collect()
        })
        .await?;
    let member = match matching.as_slice() {
        [] => {
            store
                .record_login_failure(email.as_str(), lock_seconds_after)
                .await?;
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "wrong e-mail address or password",
            ));
        }
        [one] => one.clone(),
        several => {
            let details = several
                .iter()
                .map(|candidate| {
                    FieldError::new(
                        "organization",
                        DetailCode::Candidate,
                        format!("{} ({})", candidate.org_id, candidate.org_name),
                    )
                    .with("id", candidate.org_id.to_string())
                    .with("name", candidate.org_name.clone())
                })
                .collect();
            return Err(ApiError::new(
                ErrorCode::OrganizationRequired,
                "this address and password belong to members of several organizations; send the organization id",
            )
            .with_details(details));
        }
    };
    store.clear_login_failures(email.as_str()).await?;
    let tenant = store.tenant(member.org_id);
    let secret = tenon_auth::mint(SecretKind::Session);
    let ttl = state.config().session_ttl;
    let ctx = WriteContext {
        actor: Actor::Member {
            id: member.member_id,
            name: member.member_name.clone(),
        },
        request_id: Some(crate::request_id::current()),
    };
    tenant
        .create_session(&ctx, member.member_id, secret.digest.as_bytes(), now + ttl)
        .await?;
    let body = LoginResponse {
        member: tenant.member(member.member_id).await?.into(),
        organization: tenant.organization().await?.into(),
    };
    let cookie = session_cookie(&state, &secret.plaintext, ttl.num_seconds());
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
