//! `/api/v1/roles`: custom roles (德育主任, 分管副校长) that approval rules name — not the access role
//! (owner/admin/member) of a member.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::apps::ApiKey;
use tenon_model::{Checker, Name};
use tenon_store::approvals::OrgRole;
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::members::parse_ids;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    #[schema(example = "dean")]
    pub key: String,
    #[schema(example = "德育主任")]
    pub name: String,
    /// The members who hold the role, in order.
    pub member_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrgRole> for RoleOut {
    fn from(role: OrgRole) -> Self {
        RoleOut {
            key: role.key,
            name: role.name,
            member_ids: role.member_ids.iter().map(ToString::to_string).collect(),
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleCreate {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub member_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdate {
    pub name: Option<String>,
    /// Replaces the holders.
    pub member_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleOut>,
}

/// List custom roles, by key.
#[utoipa::path(get, path = "/api/v1/roles", tag = "directory",
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses((status = 200, body = RoleList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_roles(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
) -> ApiResult<axum::Json<RoleList>> {
    let roles = state
        .store()
        .tenant(auth.principal.org_id)
        .list_roles()
        .await?;
    Ok(axum::Json(RoleList {
        items: roles.into_iter().map(RoleOut::from).collect(),
    }))
}

/// Create a custom role.
#[utoipa::path(post, path = "/api/v1/roles", tag = "directory", request_body = RoleCreate,
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses((status = 201, body = RoleOut), (status = 400, body = ErrorBody),
        (status = 409, description = "A role with this key exists", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    ApiJson(body): ApiJson<RoleCreate>,
) -> ApiResult<(StatusCode, axum::Json<RoleOut>)> {
    let mut check = Checker::default();
    let key = check.field("key", ApiKey::parse(&body.key));
    let name = check.field("name", Name::parse(&body.name));
    let members = parse_ids(&mut check, "member_ids", &body.member_ids);
    let (Some(key), Some(name), Some(members)) = (key, name, members) else {
        return Err(check.into_invalid().into());
    };
    check.finish()?;
    let role = state
        .store()
        .tenant(auth.principal.org_id)
        .create_role(&auth.write_context(), &key, &name, &members)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(role.into())))
}

/// Get a custom role.
#[utoipa::path(get, path = "/api/v1/roles/{key}", tag = "directory",
    params(("key" = String, Path, description = "Role key")),
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses((status = 200, body = RoleOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<RoleOut>> {
    let role = state
        .store()
        .tenant(auth.principal.org_id)
        .role(&key)
        .await?;
    Ok(axum::Json(role.into()))
}

/// Rename a role or replace its holders.
#[utoipa::path(patch, path = "/api/v1/roles/{key}", tag = "directory",
    params(("key" = String, Path, description = "Role key")), request_body = RoleUpdate,
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses((status = 200, body = RoleOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_role(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<RoleUpdate>,
) -> ApiResult<axum::Json<RoleOut>> {
    let mut check = Checker::default();
    let name = body
        .name
        .and_then(|raw| check.field("name", Name::parse(&raw)));
    let members = body
        .member_ids
        .and_then(|raw| parse_ids(&mut check, "member_ids", &raw));
    check.finish()?;
    let role = state
        .store()
        .tenant(auth.principal.org_id)
        .update_role(
            &auth.write_context(),
            &key,
            name.as_ref(),
            members.as_deref(),
        )
        .await?;
    Ok(axum::Json(role.into()))
}

/// Delete a custom role. Published processes that name it resolve no approvers from it.
#[utoipa::path(delete, path = "/api/v1/roles/{key}", tag = "directory",
    params(("key" = String, Path, description = "Role key")),
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store()
        .tenant(auth.principal.org_id)
        .delete_role(&auth.write_context(), &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
