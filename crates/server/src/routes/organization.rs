//! `/api/v1/organization`: the caller's organization and its settings.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::{Checker, Locale, Name, Organization, OrganizationPatch, TimeZone};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationOut {
    pub id: String,
    pub name: String,
    /// IANA time zone used for dates shown to people, e.g. `Asia/Shanghai`.
    pub time_zone: &'static str,
    /// `zh-CN` or `en`.
    pub locale: &'static str,
    pub root_department_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationOut {
    fn from(org: Organization) -> Self {
        OrganizationOut {
            id: org.id.to_string(),
            name: org.name.into_string(),
            time_zone: org.time_zone.name(),
            locale: org.locale.as_str(),
            root_department_id: org.root_department_id.to_string(),
            created_at: org.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationUpdate {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
}

/// The organization the credential belongs to.
#[utoipa::path(
    get, path = "/api/v1/organization", tag = "directory",
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses(
        (status = 200, body = OrganizationOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_organization(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
) -> ApiResult<axum::Json<OrganizationOut>> {
    Ok(axum::Json(
        state
            .store()
            .tenant(auth.principal.org_id)
            .organization()
            .await?
            .into(),
    ))
}

/// Change the organization's name, time zone or locale.
#[utoipa::path(
    patch, path = "/api/v1/organization", tag = "directory",
    request_body = OrganizationUpdate,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = OrganizationOut),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn update_organization(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    ApiJson(body): ApiJson<OrganizationUpdate>,
) -> ApiResult<axum::Json<OrganizationOut>> {
    let mut check = Checker::default();
    let patch = OrganizationPatch {
        name: body
            .name
            .and_then(|raw| check.field("name", Name::parse(&raw))),
        time_zone: body
            .time_zone
            .and_then(|raw| check.field("time_zone", TimeZone::parse(&raw))),
        locale: body
            .locale
            .and_then(|raw| check.field("locale", Locale::parse(&raw))),
    };
    check.finish()?;
    let org = state
        .store()
        .tenant(auth.principal.org_id)
        .update_organization(&auth.write_context(), patch)
        .await?;
    Ok(axum::Json(org.into()))
}
