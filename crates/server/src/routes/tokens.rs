//! `/api/v1/tokens`: personal and organization API tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_auth::SecretKind;
use tenon_model::{ApiToken, Checker, Name, RateLimit, ScopeSet, TokenId};
use tenon_store::NewToken;
use utoipa::ToSchema;

use crate::auth::{Authed, Via, scope_names, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PageParams, Paged, path_id};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: String,
    pub name: String,
    pub scopes: Vec<&'static str>,
    /// The member the token acts for; `null` for organization tokens.
    pub member_id: Option<String>,
    /// The token's own rate limit, e.g. `200/s`; `null` uses the platform default.
    pub rate_limit: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ApiToken> for TokenOut {
    fn from(token: ApiToken) -> Self {
        TokenOut {
            id: token.id.to_string(),
            name: token.name.into_string(),
            scopes: scope_names(token.scopes),
            member_id: token.member_id.map(|id| id.to_string()),
            rate_limit: token.rate_limit.map(|limit| limit.to_string()),
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
            created_at: token.created_at,
        }
    }
}

/// A new token: its metadata and, this once, the secret itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub meta: TokenOut,
    /// The bearer token. It is shown only in this response; Tenon keeps only its SHA-256.
    #[schema(example = "tnp_…")]
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    #[schema(example = "Finance sync")]
    pub name: String,
    /// Scope names; each must be held by the caller.
    #[schema(example = json!(["directory:read"]))]
    pub scopes: Vec<String>,
    /// RFC 3339 instant after which the token stops working; `null` or absent: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// `off`, or `<N>/s`, `<N>/min`, `<N>/h`, optionally `,burst=<M>` (default burst 2N).
    #[schema(example = "50/s")]
    pub rate_limit: Option<String>,
}

pub(crate) fn parse_scopes(check: &mut Checker, field: &str, names: &[String]) -> Option<ScopeSet> {
    let mut set = ScopeSet::EMPTY;
    for (idx, name) in names.iter().enumerate() {
        match name.parse() {
            Ok(scope) => set = set.with(scope),
            Err(error) => check.add(
                tenon_model::Reason::format("scope", format!("{error}"))
                    .at(format!("{field}[{idx}]")),
            ),
        }
    }
    check.is_clean().then_some(set)
}

pub(crate) fn parse_rate_limit(
    check: &mut Checker,
    raw: Option<String>,
) -> Option<Option<RateLimit>> {
    check.optional("rate_limit", raw, |raw| RateLimit::parse(&raw))
}

/// Who may manage which tokens: a credential holding `admin` manages every token of the organization
/// (`owner` `None`); a member's own login session (any role) manages that member's personal tokens
/// (`owner` their id). Anything else — a personal token without `admin`, an app — is 403
/// `insufficient_scope` (`admin`), before the body is read.
pub struct TokenManager {
    pub auth: Authed<scopes::AnyScope>,
    pub owner: Option<tenon_model::MemberId>,
}

impl<St: Send + Sync> axum::extract::FromRequestParts<St> for TokenManager {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &St,
    ) -> Result<Self, Self::Rejection> {
        let auth = Authed::<scopes::AnyScope>::from_request_parts(parts, state).await?;
        if auth.principal.scopes.grants(tenon_model::Scope::Admin) {
            return Ok(TokenManager { auth, owner: None });
        }
        match (&auth.via, &auth.principal.actor) {
            (Via::Session { .. }, tenon_model::Actor::Member { id, .. }) => {
                let owner = Some(*id);
                Ok(TokenManager { auth, owner })
            }
            _ => Err(crate::auth::insufficient_scope(
                tenon_model::Scope::Admin,
                "managing tokens needs the scope admin, or a member's own login session (for their personal tokens)".into(),
            )),
        }
    }
}

/// The token `id`, if the caller may see it: any with `admin`, else only the member's own (404 otherwise,
/// as if it did not exist).
async fn visible_token(
    state: &AppState,
    manager: &TokenManager,
    id: TokenId,
) -> ApiResult<ApiToken> {
    let token = state
        .store()
        .tenant(manager.auth.principal.org_id)
        .token(id)
        .await?;
    match manager.owner {
        Some(member) if token.member_id != Some(member) => Err(ApiError::not_found("token")),
        _ => Ok(token),
    }
}

/// List personal and organization tokens (never their secrets). A member's session lists only their
/// own personal tokens.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "credentials",
    params(PageParams),
    security(("bearer" = ["admin"]), ("session" = [])),
    responses(
        (status = 200, body = Paged<TokenOut>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    manager: TokenManager,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<TokenOut>>> {
    let tokens = state
        .store()
        .tenant(manager.auth.principal.org_id)
        .list_tokens(page.to_request()?, manager.owner)
        .await?;
    Ok(axum::Json(Paged::from_page(tokens, TokenOut::from)))
}

/// Create a token. The secret is in the response and nowhere else. With `admin`: a personal token of the
/// caller's member, or an organization token when the caller acts for none. A member's login session
/// (any role): a personal token for themselves, with scopes their role holds.
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "credentials",
    request_body = TokenCreate,
    security(("bearer" = ["admin"]), ("session" = [])),
    responses(
        (status = 201, body = TokenCreated),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    manager: TokenManager,
    ApiJson(body): ApiJson<TokenCreate>,
) -> ApiResult<(StatusCode, axum::Json<TokenCreated>)> {
    let auth = manager.auth;
    let mut check = Checker::default();
    let name = check.field("name", Name::parse(&body.name));
    let scopes = parse_scopes(&mut check, "scopes", &body.scopes);
    let rate_limit = parse_rate_limit(&mut check, body.rate_limit);
    if let Some(scopes) = scopes
        && !auth.principal.scopes.covers(scopes)
    {
        check.push(
            "scopes",
            tenon_model::DetailCode::ScopeNotHeld,
            "a token cannot hold scopes its creator does not hold",
        );
    }
    let now = state.store().now();
    if body.expires_at.is_some_and(|expires_at| expires_at <= now) {
        check.push(
            "expires_at",
            tenon_model::DetailCode::NotInFuture,
            "must be in the future",
        );
    }
    let (Some(name), Some(scopes), Some(rate_limit)) = (name, scopes, rate_limit) else {
        return Err(check.into_invalid().into());
    };
    check.finish()?;
    let secret = tenon_auth::mint(SecretKind::PersonalToken);
    let new = NewToken {
        name,
        member_id: auth.principal.actor.member_id(),
        scopes,
        rate_limit,
        expires_at: body.expires_at,
        digest: secret.digest.0,
    };
    let token = state
        .store()
        .tenant(auth.principal.org_id)
        .create_token(&auth.write_context(), new)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenCreated {
            meta: token.into(),
            token: secret.plaintext,
        }),
    ))
}

/// Get a token's metadata.
#[utoipa::path(
    get, path = "/api/v1/tokens/{id}", tag = "credentials",
    params(("id" = String, Path, description = "Token id")),
    security(("bearer" = ["admin"]), ("session" = [])),
    responses(
        (status = 200, body = TokenOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_token(
    State(state): State<AppState>,
    manager: TokenManager,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<TokenOut>> {
    let id: TokenId = path_id(&id, "token")?;
    Ok(axum::Json(
        visible_token(&state, &manager, id).await?.into(),
    ))
}

/// Revoke a token at once. Revoking again changes nothing.
#[utoipa::path(
    delete, path = "/api/v1/tokens/{id}", tag = "credentials",
    params(("id" = String, Path, description = "Token id")),
    security(("bearer" = ["admin"]), ("session" = [])),
    responses(
        (status = 200, description = "The revoked token", body = TokenOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    manager: TokenManager,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<TokenOut>> {
    let id: TokenId = path_id(&id, "token")?;
    visible_token(&state, &manager, id).await?;
    let token = state
        .store()
        .tenant(manager.auth.principal.org_id)
        .revoke_token(&manager.auth.write_context(), id)
        .await?;
    Ok(axum::Json(token.into()))
}
