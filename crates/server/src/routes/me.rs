//! `/api/v1/me`: who the caller is, and a member's own password.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::{Actor, Checker, Password};
use utoipa::ToSchema;

use crate::auth::{Authed, Via, scope_names, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::members::{MemberOut, hash};
use crate::routes::organization::OrganizationOut;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub organization: OrganizationOut,
    pub actor: ActorOut,
    /// The member behind the credential (a session, or a personal token made by a member).
    pub member: Option<MemberOut>,
    /// The scopes the credential holds now (`admin` implies every other).
    pub scopes: Vec<&'static str>,
    pub credential: CredentialOut,
}

/// Who acts: `member` (a session), `token` (a personal or organization token), `app` (an installed app).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorOut {
    #[serde(rename = "type")]
    #[schema(example = "member")]
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: String,
}

impl From<&Actor> for ActorOut {
    fn from(actor: &Actor) -> Self {
        ActorOut {
            kind: actor.kind(),
            id: actor.id(),
            name: actor.name().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialOut {
    /// `session`, `personal_token` or `app_token`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The caller: organization, acting identity, scopes and credential.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody))
)]
pub async fn get_me(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
) -> ApiResult<axum::Json<MeOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let organization = tenant.organization().await?;
    let member = match auth.principal.actor.member_id() {
        Some(member_id) => Some(tenant.member(member_id).await?.into()),
        None => None,
    };
    let credential = match &auth.via {
        Via::Session { id, expires_at } => CredentialOut {
            kind: "session",
            id: id.to_string(),
            expires_at: Some(*expires_at),
        },
        Via::Token {
            id,
            kind,
            expires_at,
        } => CredentialOut {
            kind: match kind {
                tenon_model::TokenKind::Personal => "personal_token",
                tenon_model::TokenKind::AppAccess => "app_token",
            },
            id: id.to_string(),
            expires_at: *expires_at,
        },
    };
    Ok(axum::Json(MeOut {
        organization: organization.into(),
        actor: (&auth.principal.actor).into(),
        member,
        scopes: scope_names(auth.principal.scopes),
        credential,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 8 to 256 characters.
    pub new_password: String,
}

/// Change the caller's own password. Ends the member's other sessions.
#[utoipa::path(
    post, path = "/api/v1/me/password", tag = "auth",
    request_body = PasswordChange,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, body = ErrorBody),
        (status = 422, description = "The current password is wrong or the new one too short", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let Some(member_id) = auth.principal.actor.member_id() else {
        return Err(ApiError::invalid_request(
            "only a member has a password; this credential acts for no member",
        ));
    };
    let mut check = Checker::default();
    let new_password = check.field("new_password", Password::parse(&body.new_password));
    check.finish()?;
    let Some(new_password) = new_password else {
        return Err(ApiError::invalid_request("new_password missing"));
    };
    let tenant = state.store().tenant(auth.principal.org_id);
    let stored = tenant.password_hash(member_id).await?;
    let current = body.current_password;
    let matches = state
        .password_work(move || {
            stored.is_some_and(|hash| tenon_auth::verify_password(&current, &hash))
        })
        .await?;
    if !matches {
        return Err(tenon_model::Invalid::one(
            "current_password",
            tenon_model::DetailCode::WrongPassword,
            "is not the member's current password",
        )
        .into());
    }
    let new_hash = hash(&state, new_password).await?;
    let keep = match auth.via {
        Via::Session { id, .. } => Some(id),
        Via::Token { .. } => None,
    };
    tenant
        .set_password(&auth.write_context(), member_id, &new_hash, keep)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
