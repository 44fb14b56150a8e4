//! Authentication and authorization of API requests.
//!
//! The [`authenticate`] middleware turns a bearer token or a session cookie into an [`Authenticated`]
//! principal (or answers 401), counts the request against the credential's rate limit (or answers 429),
//! and adds the `RateLimit-*` headers to the response. Handlers then take [`Authed<S>`], whose type names
//! the scope the route needs: a handler without it cannot reach tenant data, and one with it cannot run
//! without the scope. The principal's organization is the tenant for everything the request does.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tenon_auth::SecretDigest;
use tenon_model::{
    Actor, ErrorCode, MemberStatus, Principal, Scope, ScopeSet, SessionId, TokenId, TokenKind,
};
use tenon_store::{SessionLookup, WriteContext};

use crate::error::{ApiError, ApiResult};
use crate::rate_limit::{Decision, Policy};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tenon_session";

/// How the request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session {
        id: SessionId,
        expires_at: DateTime<Utc>,
    },
    Token {
        id: TokenId,
        kind: TokenKind,
        expires_at: Option<DateTime<Utc>>,
    },
}

/// An authenticated request's identity.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub via: Via,
}

impl Authenticated {
    /// The audit context for writes made by this request.
    pub fn write_context(&self) -> WriteContext {
        WriteContext {
            actor: self.principal.actor.clone(),
            request_id: Some(crate::request_id::current()),
        }
    }
}

/// A scope a route requires, as a type.
pub trait RequiredScope: Send + Sync + 'static {
    /// `None` means any authenticated credential will do (e.g. `GET /api/v1/me`).
    const SCOPE: Option<Scope>;
}

/// Markers naming the scopes routes require.
pub mod scopes {
    use super::{RequiredScope, Scope};

    macro_rules! scope_marker {
        ($($name:ident => $scope:expr),* $(,)?) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Option<Scope> = $scope;
            }
        )*};
    }

    scope_marker!(
        AnyScope => None,
        DirectoryRead => Some(Scope::DirectoryRead),
        DirectoryWrite => Some(Scope::DirectoryWrite),
        AppsRead => Some(Scope::AppsRead),
        AppsWrite => Some(Scope::AppsWrite),
        RecordsRead => Some(Scope::RecordsRead),
        RecordsWrite => Some(Scope::RecordsWrite),
        EventsManage => Some(Scope::EventsManage),
        LedgerRead => Some(Scope::LedgerRead),
        LedgerWrite => Some(Scope::LedgerWrite),
        ApprovalsRead => Some(Scope::ApprovalsRead),
        ApprovalsWrite => Some(Scope::ApprovalsWrite),
        FlowsRead => Some(Scope::FlowsRead),
        FlowsWrite => Some(Scope::FlowsWrite),
        Admin => Some(Scope::Admin),
    );
}

/// An authenticated principal holding scope `S`.
#[derive(Debug)]
pub struct Authed<S: RequiredScope>(pub Authenticated, PhantomData<S>);

impl<S: RequiredScope> std::ops::Deref for Authed<S> {
    type Target = Authenticated;
    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for Authed<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let Some(authenticated) = parts.extensions.get::<Authenticated>() else {
            return Err(ApiError::unauthenticated(
                "this route needs credentials: an Authorization: Bearer token or a session cookie",
            ));
        };
        if let Some(scope) = S::SCOPE
            && !authenticated.principal.scopes.grants(scope)
        {
            return Err(insufficient_scope(
                scope,
                format!("this route needs the scope {scope}, which the credential does not hold"),
            ));
        }
        Ok(Authed(authenticated.clone(), PhantomData))
    }
}

/// 403 `insufficient_scope` with the `WWW-Authenticate` challenge naming the scope that is missing.
pub(crate) fn insufficient_scope(scope: Scope, message: String) -> ApiError {
    let challenge =
        format!("Bearer realm=\"tenon\", error=\"insufficient_scope\", scope=\"{scope}\"");
    let mut error = ApiError::new(tenon_model::ErrorCode::InsufficientScope, message)
        .with("scope", scope.as_str());
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        error = error.with_header(header::WWW_AUTHENTICATE, value);
    }
    error
}

/// A request let through by [`admit`]: what its response's `RateLimit-*` headers say.
#[derive(Debug)]
pub struct Admitted(Option<(Policy, u32, u64)>);

impl Admitted {
    /// Nothing to add: the route is public.
    pub fn none() -> Self {
        Admitted(None)
    }

    /// Adds the rate-limit headers (when the request was authenticated) to the response.
    pub fn finish(self, mut response: Response) -> Response {
        if let Some((policy, remaining, reset_seconds)) = self.0 {
            add_rate_headers(response.headers_mut(), &policy, remaining, reset_seconds);
        }
        response
    }
}

/// Authenticates the request when it carries credentials (putting the [`Authenticated`] principal in its
/// extensions) and counts it against the credential's rate limit; the response to send instead when the
/// credentials are wrong (401) or the limit is spent (429).
pub async fn admit(state: &AppState, request: &mut Request) -> Result<Admitted, Response> {
    let authenticated = match credential(request.headers()) {
        Ok(None) => return Ok(Admitted(None)),
        Ok(Some(Credential::Bearer(token))) => from_bearer(state, &token).await,
        Ok(Some(Credential::Session(cookie))) => {
            from_session(state, &cookie, request.method(), request.headers()).await
        }
        Err(error) => Err(error),
    };
    let authenticated = authenticated.map_err(IntoResponse::into_response)?;
    let limit = authenticated
        .principal
        .rate_limit
        .unwrap_or(state.config().default_rate_limit);
    let decision = state
        .limiter()
        .check(authenticated.principal.rate_key, limit);
    match decision {
        Decision::Limited {
            policy,
            retry_after_seconds,
        } => {
            let mut response = ApiError::new(
                tenon_model::ErrorCode::RateLimited,
                format!(
                    "rate limit of this credential exceeded; retry after {retry_after_seconds} s"
                ),
            )
            .with("retry_after", retry_after_seconds)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds))
            .into_response();
            add_rate_headers(response.headers_mut(), &policy, 0, retry_after_seconds);
            Err(response)
        }
        Decision::Allowed {
            policy,
            remaining,
            reset_seconds,
        } => {
            request.extensions_mut().insert(authenticated);
            Ok(Admitted(Some((policy, remaining, reset_seconds))))
        }
        Decision::Unlimited => {
            request.extensions_mut().insert(authenticated);
            Ok(Admitted(None))
        }
    }
}

/// [`admit`] as a middleware, for routes outside the API's own routing (the browser UI of `tenon-web`):
/// a request with wrong credentials or over its limit gets [`admit`]'s refusal, any other goes on with
/// its principal (if any) in its extensions and the rate-limit headers on its response.
pub async fn authenticate(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    match admit(&state, &mut request).await {
        Ok(admitted) => admitted.finish(next.run(request).await),
        Err(refusal) => refusal,
    }
}

fn add_rate_headers(headers: &mut HeaderMap, policy: &Policy, remaining: u32, reset_seconds: u64) {
    headers.insert("ratelimit-limit", HeaderValue::from(policy.burst));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(reset_seconds));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{};w={};burst={}",
        policy.requests, policy.period_seconds, policy.burst
    )) {
        headers.insert("ratelimit-policy", value);
    }
}

enum Credential {
    Bearer(String),
    Session(String),
}

/// The credential a request carries: a bearer token wins over a session cookie.
fn credential(headers: &HeaderMap) -> ApiResult<Option<Credential>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            if token.trim().is_empty() {
                return Err(ApiError::unauthenticated(
                    "use Authorization: Bearer <token>",
                ));
            }
            return Ok(Some(Credential::Bearer(token.trim().to_owned())));
        }
        // Other schemes (HTTP Basic at the token endpoint) are for the route itself to read; as far as
        // the API's own authentication goes, the request carries no credential.
        return Ok(None);
    }
    Ok(session_cookie(headers).map(Credential::Session))
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

async fn from_bearer(state: &AppState, token: &str) -> ApiResult<Authenticated> {
    let digest = SecretDigest::of(token);
    let found = state.store().authenticate_token(digest.as_bytes()).await?;
    let Some(found) = found else {
        return Err(ApiError::unauthenticated("the token is not valid"));
    };
    let now = state.store().now();
    if found.token.revoked_at.is_some() {
        return Err(ApiError::unauthenticated("the token was revoked"));
    }
    if found
        .token
        .expires_at
        .is_some_and(|expires_at| now >= expires_at)
    {
        return Err(ApiError::unauthenticated("the token has expired"));
    }
    let token = &found.token;
    let (actor, scopes, rate_limit, rate_key) =
        match (token.kind, &found.member, &found.installation) {
            (TokenKind::AppAccess, _, Some(installation)) => (
                Actor::App {
                    installation_id: installation.id,
                    name: installation.app_name.to_string(),
                },
                token.scopes.effective_with(installation.scopes),
                installation.rate_limit,
                *installation.id.as_uuid(),
            ),
            (TokenKind::AppAccess, _, None) => {
                return Err(ApiError::unauthenticated("the app is no longer installed"));
            }
            (TokenKind::Personal, Some(member), _) => {
                if member.status != MemberStatus::Active {
                    return Err(ApiError::unauthenticated(
                        "the token's member has left the organization",
                    ));
                }
                (
                    Actor::Token {
                        id: token.id,
                        name: token.name.to_string(),
                        member_id: Some(member.id),
                        member_name: Some(member.name.clone()),
                    },
                    token.scopes.effective_with(member.role.scopes()),
                    token.rate_limit,
                    *token.id.as_uuid(),
                )
            }
            (TokenKind::Personal, None, _) => (
                Actor::Token {
                    id: token.id,
                    name: token.name.to_string(),
                    member_id: None,
                    member_name: None,
                },
                token.scopes,
                token.rate_limit,
                *token.id.as_uuid(),
            ),
        };
    if token
        .last_used_at
        .is_none_or(|last| now - last >= tenon_store::TOKEN_TOUCH_INTERVAL)
    {
        // Recording the last use must not slow the request down or fail it.
        let store = state.store().clone();
        let token = token.clone();
        tokio::spawn(async move {
            if let Err(error) = store.touch_token(&token, now).await {
                tracing::warn!(%error, "could not record a token's last use");
            }
        });
    }
    Ok(Authenticated {
        principal: Principal {
            org_id: token.org_id,
            actor,
            scopes,
            rate_limit,
            rate_key,
        },
        via: Via::Token {
            id: token.id,
            kind: token.kind,
            expires_at: token.expires_at,
        },
    })
}

/// The person a browser's session cookie logs in, for a page outside the API's authentication (the
/// DingTalk sign-in page `/oauth2/authorize`): `None` without a live session.
pub async fn session_viewer(
    state: &AppState,
    headers: &HeaderMap,
) -> ApiResult<Option<Authenticated>> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    match from_session(state, &cookie, &Method::GET, headers).await {
        Ok(viewer) => Ok(Some(viewer)),
        Err(error) if error.code() == ErrorCode::Unauthenticated => Ok(None),
        Err(error) => Err(error),
    }
}

async fn from_session(
    state: &AppState,
    cookie: &str,
    method: &Method,
    headers: &HeaderMap,
) -> ApiResult<Authenticated> {
    let digest = SecretDigest::of(cookie);
    let Some(session) = state.store().find_session(digest.as_bytes()).await? else {
        return Err(ApiError::unauthenticated(
            "the session has ended; log in again",
        ));
    };
    let now = state.store().now();
    if now >= session.expires_at || session.status != MemberStatus::Active {
        return Err(ApiError::unauthenticated(
            "the session has ended; log in again",
        ));
    }
    check_same_origin(method, headers)?;
    slide_session(state, &session, now);
    Ok(Authenticated {
        principal: Principal {
            org_id: session.org_id,
            actor: Actor::Member {
                id: session.member_id,
                name: session.member_name.clone(),
            },
            scopes: session.role.scopes(),
            rate_limit: None,
            rate_key: *session.member_id.as_uuid(),
        },
        via: Via::Session {
            id: session.session_id,
            expires_at: session.expires_at,
        },
    })
}

fn slide_session(state: &AppState, session: &SessionLookup, now: DateTime<Utc>) {
    if now - session.last_seen_at < tenon_store::SESSION_TOUCH_INTERVAL {
        return;
    }
    let store = state.store().clone();
    let session = session.clone();
    let expires_at = now + state.config().session_ttl;
    tokio::spawn(async move {
        if let Err(error) = store
            .tenant(session.org_id)
            .touch_session(&session, expires_at)
            .await
        {
            tracing::warn!(%error, "could not extend a session");
        }
    });
}

/// Cookie-authenticated writes must come from the same site: browsers send `Sec-Fetch-Site` and `Origin`
/// on cross-site requests, which is what a forged form or script would be.
pub fn check_same_origin(method: &Method, headers: &HeaderMap) -> ApiResult<()> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let forbidden = || {
        ApiError::new(
            tenon_model::ErrorCode::CrossSiteRequest,
            "a cookie-authenticated write must come from Tenon's own pages; API clients use a bearer token",
        )
    };
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(forbidden());
    }
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin_host != host {
            return Err(forbidden());
        }
    }
    Ok(())
}

/// The effective scopes as the API lists them.
pub fn scope_names(scopes: ScopeSet) -> Vec<&'static str> {
    scopes.iter().map(Scope::as_str).collect()
}
