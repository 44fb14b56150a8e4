//! `/api/v1/members`: the people of an organization.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::{
    Checker, DepartmentId, Email, Member, MemberId, MemberPatch, MemberStatus, Mobile, Name,
    NewMember, OptionalText, Password, Role,
};
use tenon_store::MemberFilter;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PageParams, Paged, path_id};
use crate::routes::nullable;
use crate::state::AppState;

/// A member of the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub job_title: Option<String>,
    pub employee_no: Option<String>,
    /// `active` or `left`.
    #[schema(example = "active")]
    pub status: &'static str,
    /// `owner`, `admin` or `member`.
    #[schema(example = "member")]
    pub role: &'static str,
    /// Departments the member belongs to, in the order given.
    pub department_ids: Vec<String>,
    /// The departments among `department_ids` that the member heads.
    pub head_of_department_ids: Vec<String>,
    /// Whether the member can log in with a password.
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Member> for MemberOut {
    fn from(member: Member) -> Self {
        MemberOut {
            id: member.id.to_string(),
            name: member.name.into_string(),
            email: member.email.map(|email| email.as_str().to_owned()),
            mobile: member.mobile.map(|mobile| mobile.as_str().to_owned()),
            job_title: member.job_title.into_option(),
            employee_no: member.employee_no.into_option(),
            status: member.status.as_str(),
            role: member.role.as_str(),
            department_ids: member
                .department_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            head_of_department_ids: member
                .head_of_department_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            has_password: member.has_password,
            created_at: member.created_at,
            updated_at: member.updated_at,
        }
    }
}

/// A member to create. Only `name` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberCreate {
    #[schema(example = "张三")]
    pub name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub job_title: Option<String>,
    pub employee_no: Option<String>,
    /// `owner`, `admin` or `member` (default).
    pub role: Option<String>,
    /// Departments to join; default: the organization's root department.
    pub department_ids: Option<Vec<String>>,
    /// An initial password (8 to 256 characters); without one the member cannot log in yet.
    pub password: Option<String>,
}

/// Fields to change; absent fields stay as they are, `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub employee_no: Option<Option<String>>,
    /// `active` or `left`. A member who left can no longer log in; their sessions end at once.
    pub status: Option<String>,
    pub role: Option<String>,
    /// Replaces the member's departments; `[]` moves them to the root department.
    pub department_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberListParams {
    /// Only members of this department (not of its sub-departments).
    pub department_id: Option<String>,
    /// `active` or `left`.
    pub status: Option<String>,
    /// `owner`, `admin` or `member`.
    pub role: Option<String>,
    /// Only members whose name, e-mail address or mobile contains this text (any letter case; at most
    /// 100 characters). Pickers search with it, a page at a time (`page_size`).
    pub q: Option<String>,
}

pub(crate) fn parse_role(raw: &str) -> Result<Role, tenon_model::validation::Reason> {
    raw.parse().map_err(|()| {
        tenon_model::Reason::not_one_of(
            &["owner", "admin", "member"],
            "must be owner, admin or member",
        )
    })
}

fn parse_status(raw: &str) -> Result<MemberStatus, tenon_model::validation::Reason> {
    MemberStatus::parse(raw).ok_or_else(|| {
        tenon_model::Reason::not_one_of(&["active", "left"], "must be active or left")
    })
}

pub(crate) fn parse_ids<T: std::str::FromStr>(
    check: &mut Checker,
    field: &str,
    raw: &[String],
) -> Option<Vec<T>> {
    let mut ids = Vec::with_capacity(raw.len());
    for (idx, text) in raw.iter().enumerate() {
        match text.parse() {
            Ok(id) => ids.push(id),
            Err(_) => check
                .add(tenon_model::Reason::format("id", "not an id").at(format!("{field}[{idx}]"))),
        }
    }
    (ids.len() == raw.len()).then_some(ids)
}

impl MemberCreate {
    /// Checks every field; the password is returned separately so it can be hashed off the runtime.
    fn into_new(self) -> Result<(NewMember, Option<Password>), tenon_model::Invalid> {
        let mut check = Checker::default();
        let name = check.field("name", Name::parse(&self.name));
        let email = check.optional("email", self.email, |raw| Email::parse(&raw));
        let mobile = check.optional("mobile", self.mobile, |raw| Mobile::parse(&raw));
        let job_title = check.field(
            "job_title",
            OptionalText::parse(self.job_title.as_deref().unwrap_or("")),
        );
        let employee_no = check.field(
            "employee_no",
            OptionalText::parse(self.employee_no.as_deref().unwrap_or("")),
        );
        let role = check.optional("role", self.role, |raw| parse_role(&raw));
        let department_ids = parse_ids::<DepartmentId>(
            &mut check,
            "department_ids",
            &self.department_ids.unwrap_or_default(),
        );
        let password = check.optional("password", self.password, |raw| Password::parse(&raw));
        match (
            name,
            email,
            mobile,
            job_title,
            employee_no,
            role,
            department_ids,
            password,
        ) {
            (
                Some(name),
                Some(email),
                Some(mobile),
                Some(job_title),
                Some(employee_no),
                Some(role),
                Some(department_ids),
                Some(password),
            ) if check.is_clean() => {
                let new = NewMember {
                    name,
                    email,
                    mobile,
                    job_title,
                    employee_no,
                    role: role.unwrap_or(Role::Member),
                    department_ids,
                    password_hash: None,
                };
                Ok((new, password))
            }
            _ => Err(check.into_invalid()),
        }
    }
}

impl MemberUpdate {
    fn into_patch(self) -> Result<MemberPatch, tenon_model::Invalid> {
        let mut check = Checker::default();
        let patch = MemberPatch {
            name: self
                .name
                .and_then(|raw| check.field("name", Name::parse(&raw))),
            email: self
                .email
                .and_then(|raw| check.optional("email", raw, |raw| Email::parse(&raw))),
            mobile: self
                .mobile
                .and_then(|raw| check.optional("mobile", raw, |raw| Mobile::parse(&raw))),
            job_title: self.job_title.and_then(|raw| {
                check.field(
                    "job_title",
                    OptionalText::parse(raw.as_deref().unwrap_or("")),
                )
            }),
            employee_no: self.employee_no.and_then(|raw| {
                check.field(
                    "employee_no",
                    OptionalText::parse(raw.as_deref().unwrap_or("")),
                )
            }),
            status: self
                .status
                .and_then(|raw| check.field("status", parse_status(&raw))),
            role: self
                .role
                .and_then(|raw| check.field("role", parse_role(&raw))),
            department_ids: self
                .department_ids
                .and_then(|raw| parse_ids(&mut check, "department_ids", &raw)),
        };
        check.finish().map(|()| patch)
    }
}

/// List members, in creation order.
#[utoipa::path(
    get, path = "/api/v1/members", tag = "directory",
    params(MemberListParams, PageParams),
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses(
        (status = 200, description = "A page of members", body = Paged<MemberOut>),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    ApiQuery(params): ApiQuery<MemberListParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<MemberOut>>> {
    let mut check = Checker::default();
    let filter = MemberFilter {
        department_id: params.department_id.and_then(|raw| {
            check.field(
                "department_id",
                raw.parse()
                    .map_err(|_| tenon_model::Reason::format("id", "not an id")),
            )
        }),
        status: params
            .status
            .and_then(|raw| check.field("status", parse_status(&raw))),
        role: params
            .role
            .and_then(|raw| check.field("role", parse_role(&raw))),
        q: params.q.and_then(|raw| {
            check.field(
                "q",
                if raw.chars().count() > 100 {
                    Err(tenon_model::Reason::too_long(100))
                } else {
                    Ok(raw.trim().to_owned())
                },
            )
        }),
    };
    if let Err(invalid) = check.finish() {
        return Err(
            crate::error::ApiError::invalid_request(invalid.to_string()).with_details(invalid.0)
        );
    }
    let page = page.to_request()?;
    let members = state
        .store()
        .tenant(auth.principal.org_id)
        .list_members(&filter, page)
        .await?;
    Ok(axum::Json(Paged::from_page(members, MemberOut::from)))
}

/// Create a member.
#[utoipa::path(
    post, path = "/api/v1/members", tag = "directory",
    request_body = MemberCreate,
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses(
        (status = 201, description = "The new member", body = MemberOut),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The e-mail address, mobile or employee number is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_member(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    ApiJson(body): ApiJson<MemberCreate>,
) -> ApiResult<(StatusCode, axum::Json<MemberOut>)> {
    let (mut new, password) = body.into_new()?;
    if new.role == Role::Owner || new.role == Role::Admin {
        require_admin(&auth.principal, "role")?;
    }
    if let Some(password) = password {
        new.password_hash = Some(hash(&state, password).await?);
    }
    let member = state
        .store()
        .tenant(auth.principal.org_id)
        .create_member(&auth.write_context(), new)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(member.into())))
}

/// Get a member.
#[utoipa::path(
    get, path = "/api/v1/members/{id}", tag = "directory",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = ["directory:read"]), ("session" = ["directory:read"])),
    responses(
        (status = 200, body = MemberOut),
        (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_member(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<MemberOut>> {
    let id: MemberId = path_id(&id, "member")?;
    let member = state
        .store()
        .tenant(auth.principal.org_id)
        .member(id)
        .await?;
    Ok(axum::Json(member.into()))
}

/// Change a member.
#[utoipa::path(
    patch, path = "/api/v1/members/{id}", tag = "directory",
    params(("id" = String, Path, description = "Member id")),
    request_body = MemberUpdate,
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses(
        (status = 200, body = MemberOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn update_member(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MemberUpdate>,
) -> ApiResult<axum::Json<MemberOut>> {
    let id: MemberId = path_id(&id, "member")?;
    let patch = body.into_patch()?;
    let tenant = state.store().tenant(auth.principal.org_id);
    if patch.role.is_some() {
        require_admin(&auth.principal, "role")?;
    } else if matches!(tenant.member(id).await?.role, Role::Owner | Role::Admin) {
        // Changing an administrator is administration.
        require_admin(&auth.principal, "id")?;
    }
    let member = tenant
        .update_member(&auth.write_context(), id, patch)
        .await?;
    Ok(axum::Json(member.into()))
}

/// Delete a member, with their memberships, sessions and personal tokens.
#[utoipa::path(
    delete, path = "/api/v1/members/{id}", tag = "directory",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = ["directory:write"]), ("session" = ["directory:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The organization's only owner", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn delete_member(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryWrite>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: MemberId = path_id(&id, "member")?;
    let tenant = state.store().tenant(auth.principal.org_id);
    if matches!(tenant.member(id).await?.role, Role::Owner | Role::Admin) {
        require_admin(&auth.principal, "id")?;
    }
    tenant.delete_member(&auth.write_context(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Granting or touching administrator rights needs `admin`, not just `directory:write`: otherwise a
/// directory-sync integration could make itself owner.
fn require_admin(principal: &tenon_model::Principal, field: &str) -> ApiResult<()> {
    if principal.scopes.grants(tenon_model::Scope::Admin) {
        return Ok(());
    }
    Err(crate::auth::insufficient_scope(
        tenon_model::Scope::Admin,
        "making or changing owners and admins needs the scope admin".to_owned(),
    )
    .with_detail(
        tenon_model::FieldError::new(
            field,
            tenon_model::DetailCode::NeedsScope,
            "needs the scope admin",
        )
        .with("scope", "admin"),
    ))
}

pub(crate) async fn hash(state: &AppState, password: Password) -> ApiResult<String> {
    state
        .password_work(move || tenon_auth::hash_password(password.expose()))
        .await?
        .map_err(|error| crate::error::ApiError::internal("password hashing failed", &error))
}
