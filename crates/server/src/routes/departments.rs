//! `/api/v1/departments`: the department tree of an organization.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::{
    Checker, Department, DepartmentId, DepartmentPatch, MemberId, Name, NewDepartment,
};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PageParams, Paged, path_id};
use crate::routes::members::parse_ids;
use crate::state::AppState;

/// A department. The root department (`parent_id: null`) is created with the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentOut {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// Position among siblings; lower comes first.
    pub sort_order: i64,
    /// The department's number, DingTalk's `dept_id` (1 for the root; never reused).
    pub number: i64,
    /// Members who head the department.
    pub head_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Department> for DepartmentOut {
    fn from(department: Department) -> Self {
        DepartmentOut {
            id: department.id.to_string(),
            name: department.name.into_string(),
            parent_id: department.parent_id.map(|id| id.to_string()),
            sort_order: department.sort_order,
            number: department.number,
            head_ids: department
                .head_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            created_at: department.created_at,
            updated_at: department.updated_at,
        }
    }
}

/// A department to create; without `parent_id` it goes under the root department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentCreate {
    #[schema(example = "销售部")]
    pub name: String,
    pub parent_id: Option<String>,
    pub sort_order: Option<i64>,
    /// Members who head it; they join the department if they were not in it.
    pub head_ids: Option<Vec<String>>,
}

/// Fields to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentUpdate {
    pub name: Option<String>,
    /// Moves the department (with its sub-departments). Not allowed for the root, nor under itself.
    pub parent_id: Option<String>,
    pub sort_order: Option<i64>,
    /// Replaces the heads.
    pub head_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DepartmentListParams {
    /// Only the direct children of this department.
    pub parent_id: Option<String>,
}

fn parse_id_field<T: std::str::FromStr>(
    check: &mut Checker,
    field: &str,
    raw: String,
) -> Option<T> {
    check.field(
        field,
        raw.parse()
            .map_err(|_| tenon_model::Reason::format("id", "not an id")),
    )
}

impl DepartmentCreate {
    fn into_new(self) -> Result<NewDepartment, tenon_model::Invalid> {
        let mut check = Checker::default();
        let name = check.field("name", Name::parse(&self.name));
        let parent_id = match self.parent_id {
            None => Some(None),
            Some(raw) => parse_id_field::<DepartmentId>(&mut check, "parent_id", raw).map(Some),
        };
        let head_ids =
            parse_ids::<MemberId>(&mut check, "head_ids", &self.head_ids.unwrap_or_default());
        match (name, parent_id, head_ids) {
            (Some(name), Some(parent_id), Some(head_ids)) if check.is_clean() => {
                Ok(NewDepartment {
                    name,
                    parent_id,
                    sort_order: self.sort_order.unwrap_or(0),
                    head_ids,
                })
            }
            _ => Err(check.into_invalid()),
        }
    }
}

impl DepartmentUpdate {
    fn into_patch(self) -> Result<DepartmentPatch, tenon_model::Invalid> {
        let mut check = Checker::default();
        let patch = DepartmentPatch {
            name: self
                .name
                .and_then(|raw| check.field("name", Name::parse(&raw))),
            parent_id: self
                .parent_id
                .and_then(|raw| parse_id_field(&mut check, "parent_id", raw)),
            sort_order: self.sort_order,
            head_ids: self
                .head_ids
                .and_then(|raw| parse_ids(&mut check, "head_ids", &raw)),
        };
        check.finish().map(|()| patch)
    }
}

/// List departments, in creation order.
#[utoipa::path(
    get, path = "/api/v1/departments", tag = "directory",
    params(DepartmentListParams, PageParams),
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses(
        (status = 200, body = Paged<DepartmentOut>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_departments(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    ApiQuery(params): ApiQuery<DepartmentListParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<DepartmentOut>>> {
    let parent_id = match params.parent_id {
        None => None,
        Some(raw) => Some(raw.parse::<DepartmentId>().map_err(|_| {
            ApiError::bad_query(tenon_model::Reason::format("id", "not an id").at("parent_id"))
        })?),
    };
    let page = page.to_request()?;
    let departments = state
        .store()
        .tenant(auth.principal.org_id)
        .list_departments(parent_id, page)
        .await?;
    Ok(axum::Json(Paged::from_page(
        departments,
        DepartmentOut::from,
    )))
}

/// Create a department.
#[utoipa::path(
    post, path = "/api/v1/departments", tag = "directory",
    request_body = DepartmentCreate,
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses(
        (status = 201, body = DepartmentOut),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_department(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    ApiJson(body): ApiJson<DepartmentCreate>,
) -> ApiResult<(StatusCode, axum::Json<DepartmentOut>)> {
    let new = body.into_new()?;
    let department = state
        .store()
        .tenant(auth.principal.org_id)
        .create_department(&auth.write_context(), new)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(department.into())))
}

/// Get a department.
#[utoipa::path(
    get, path = "/api/v1/departments/{id}", tag = "directory",
    params(("id" = String, Path, description = "Department id")),
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses(
        (status = 200, body = DepartmentOut),
        (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_department(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DepartmentOut>> {
    let id: DepartmentId = path_id(&id, "department")?;
    let department = state
        .store()
        .tenant(auth.principal.org_id)
        .department(id)
        .await?;
    Ok(axum::Json(department.into()))
}

/// Rename, move or reorder a department, or replace its heads.
#[utoipa::path(
    patch, path = "/api/v1/departments/{id}", tag = "directory",
    params(("id" = String, Path, description = "Department id")),
    request_body = DepartmentUpdate,
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses(
        (status = 200, body = DepartmentOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn update_department(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DepartmentUpdate>,
) -> ApiResult<axum::Json<DepartmentOut>> {
    let id: DepartmentId = path_id(&id, "department")?;
    let patch = body.into_patch()?;
    let department = state
        .store()
        .tenant(auth.principal.org_id)
        .update_department(&auth.write_context(), id, patch)
        .await?;
    Ok(axum::Json(department.into()))
}

/// Delete an empty department (no members, no sub-departments; never the root).
#[utoipa::path(
    delete, path = "/api/v1/departments/{id}", tag = "directory",
    params(("id" = String, Path, description = "Department id")),
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not empty, or the root", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn delete_department(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: DepartmentId = path_id(&id, "department")?;
    state
        .store()
        .tenant(auth.principal.org_id)
        .delete_department(&auth.write_context(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
