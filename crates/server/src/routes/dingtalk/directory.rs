//! The directory's writes and users on oapi (`?access_token=`; bodies JSON or form, scalars also as text,
//! lists as `"2,3"` or `[2, 3]`): `POST /topapi/v2/department/create|update|delete` (`directory:write`, by
//! `dept_id` = the department's number) and `POST /topapi/v2/user/create|get|list|update|delete|getbymobile`
//! (`directory:read` to read, `directory:write` to write). Every write goes through the native store call
//! (the same checks, audit entry and `member.*`/`department.*` event as the native API); every answer is HTTP
//! 200 with DingTalk's `errcode`, and a refused request writes nothing.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::OapiError;
use tenon_dingtalk::directory::{DeptCreateResponse, DeptCreateResult, OapiOk};
use tenon_dingtalk::errors::OapiErrorBody;
use tenon_dingtalk::lenient::{ParamError, Params};
use tenon_dingtalk::users::{
    DeptLeader, LIST_SIZE_MAX, ListUser, UserByMobile, UserByMobileResponse, UserCreateResponse,
    UserCreateResult, UserDetail, UserGetResponse, UserListResponse, UserPage, userid_is_valid,
};
use tenon_model::{
    DepartmentPatch, DetailCode, Email, MemberPatch, Mobile, Name, NewDepartment, NewMember,
    OptionalText, Role,
};
use tenon_store::{DingTalkUser, StoreError};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::errors::OapiFailure;
use super::oapi::{body_params, dept_id, oapi_answer, unknown_department};
use crate::auth::Authed;
use crate::auth::scopes::{DirectoryRead, DirectoryWrite};
use crate::error::ApiError;
use crate::extract::ApiBytes;
use crate::state::AppState;

oapi_answer!(DeptCreateAnswer, DeptCreateResponse);
oapi_answer!(OkAnswer, OapiOk);
oapi_answer!(UserCreateAnswer, UserCreateResponse);
oapi_answer!(UserGetAnswer, UserGetResponse);
oapi_answer!(UserListAnswer, UserListResponse);
oapi_answer!(UserByMobileAnswer, UserByMobileResponse);

/// Answers `$failure` (an [`OapiFailure`]) from the handler when `$result` is an error.
macro_rules! try_oapi {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(failure) => return OapiFailure::into_response(failure),
        }
    };
}

fn parameter(error: ParamError) -> OapiFailure {
    OapiFailure::new(OapiError::MissingParameters, error.to_string())
}

fn required<T>(value: Result<Option<T>, ParamError>, name: &str) -> Result<T, OapiFailure> {
    match value {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(OapiFailure::new(
            OapiError::MissingParameters,
            format!("{name} is required"),
        )),
        Err(error) => Err(parameter(error)),
    }
}

fn optional<T>(value: Result<Option<T>, ParamError>) -> Result<Option<T>, OapiFailure> {
    value.map_err(parameter)
}

/// A value checked by a model type, refused with `error` naming the parameter.
fn checked<T>(
    raw: Option<String>,
    parse: impl Fn(&str) -> Result<T, tenon_model::Reason>,
    name: &str,
    error: OapiError,
) -> Result<Option<T>, OapiFailure> {
    raw.map(|raw| parsed(&raw, &parse, name, error)).transpose()
}

/// A present value checked by a model type.
fn parsed<T>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, tenon_model::Reason>,
    name: &str,
    error: OapiError,
) -> Result<T, OapiFailure> {
    parse(raw).map_err(|reason| OapiFailure::new(error, format!("{name}: {}", reason.message)))
}

/// What the store refused, as the oapi code of a directory write; anything else goes through the error
/// layer (-1).
fn store_failure(error: StoreError) -> Response {
    failure_response(error, false)
}

/// As [`store_failure`], for `department/delete`, whose refusals differ only by their reason.
fn delete_failure(error: StoreError) -> Response {
    failure_response(error, true)
}

fn failure_response(error: StoreError, deleting_department: bool) -> Response {
    match oapi_failure(&error, deleting_department) {
        Some(failure) => failure.into_response(),
        None => ApiError::from(error).into_response(),
    }
}

fn oapi_failure(error: &StoreError, deleting_department: bool) -> Option<OapiFailure> {
    let failure = match error {
        StoreError::NotFound { what: "department" } => {
            OapiFailure::new(OapiError::UnknownDepartment, "no such department")
        }
        StoreError::NotFound { what: "member" } => {
            OapiFailure::new(OapiError::UnknownUser, "no such user")
        }
        StoreError::Conflict {
            field,
            code: detail,
            reason,
            ..
        } => {
            let code = match *field {
                // `delete_department`'s refusals with their own codes.
                _ if deleting_department && matches!(detail, DetailCode::HasSubDepartments) => {
                    OapiError::DepartmentHasChildren
                }
                _ if deleting_department && matches!(detail, DetailCode::HasMembers) => {
                    OapiError::DepartmentHasMembers
                }
                Some("userid") => OapiError::UseridExists,
                Some("mobile") => OapiError::MobileExists,
                Some("email") => OapiError::EmailExists,
                Some("employee_no") => OapiError::JobNumberInvalid,
                // `delete_department`'s refusals, by their reason.
                None if deleting_department && reason.contains("root department") => {
                    OapiError::RootNotDeletable
                }
                None if deleting_department && reason.contains("sub-departments") => {
                    OapiError::DepartmentHasChildren
                }
                None if deleting_department && reason.contains("members") => {
                    OapiError::DepartmentHasMembers
                }
                _ => OapiError::MissingParameters,
            };
            OapiFailure::new(code, reason.clone())
        }
        StoreError::Invalid(invalid) => {
            let code = match invalid.0.first().map(|detail| detail.code) {
                Some(DetailCode::TooDeep) => OapiError::DepartmentTooDeep,
                Some(DetailCode::Cycle) => OapiError::DepartmentCycle,
                Some(DetailCode::NotAllowed) => OapiError::RootNotMovable,
                _ => OapiError::MissingParameters,
            };
            let message = invalid
                .0
                .iter()
                .map(|detail| format!("{}: {}", detail.field, detail.reason))
                .collect::<Vec<_>>()
                .join("; ");
            OapiFailure::new(code, message)
        }
        _ => return None,
    };
    Some(failure)
}

fn unknown_user(userid: &str) -> OapiFailure {
    OapiFailure::new(OapiError::UnknownUser, format!("no user {userid}"))
}

/// The ids of departments named by number; an unknown one is `error`.
async fn department_ids(
    store: &tenon_store::Tenant<'_>,
    numbers: &[i64],
    error: OapiError,
) -> Result<Vec<tenon_model::DepartmentId>, Response> {
    match store.dingtalk_department_ids(numbers).await {
        Ok(Ok(ids)) => Ok(ids),
        Ok(Err(number)) => {
            Err(OapiFailure::new(error, format!("no department {number}")).into_response())
        }
        Err(error) => Err(ApiError::from(error).into_response()),
    }
}

/// The active member a `userid` names, or the response to send.
async fn user(store: &tenon_store::Tenant<'_>, userid: &str) -> Result<DingTalkUser, Response> {
    match store.dingtalk_user(userid).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(unknown_user(userid).into_response()),
        Err(error) => Err(ApiError::from(error).into_response()),
    }
}

const TOKEN: &str = "A token from /gettoken (without it: `errcode` 88, `sub_code` \"40000\")";

/// Create a department (DingTalk `topapi/v2/department/create`).
#[utoipa::path(
    post, path = "/topapi/v2/department/create", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"name\": \"Sales\", \"parent_id\": 1, \"order\": 2}`; other keys are ignored"),
    security(("dingtalk_query" = ["directory:write"])),
    responses(
        (status = 200, description = "`errcode` 0 and the new `dept_id`, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60001 (name), 60002 (too deep), 60004 (no such parent)", body = DeptCreateAnswer),
    )
)]
pub async fn dingtalk_department_create(
    State(state): State<AppState>,
    auth: Authed<DirectoryWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let name = try_oapi!(required(params.text("name"), "name"));
    let parent = try_oapi!(required(params.int("parent_id"), "parent_id"));
    let order = try_oapi!(optional(params.int("order")));
    let name = try_oapi!(parsed(
        &name,
        Name::parse,
        "name",
        OapiError::DepartmentNameInvalid
    ));
    let store = state.store().tenant(auth.principal.org_id);
    let parent_id = match store.dingtalk_department_id(parent).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return OapiFailure::new(OapiError::ParentNotFound, format!("no department {parent}"))
                .into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let new = NewDepartment {
        name,
        parent_id: Some(parent_id),
        sort_order: order.unwrap_or(0),
        head_ids: Vec::new(),
    };
    match store.create_department(&auth.write_context(), new).await {
        Ok(department) => axum::Json(DeptCreateResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: DeptCreateResult {
                dept_id: department.number,
            },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(error) => store_failure(error),
    }
}

/// Rename, move or reorder a department, or replace its heads (DingTalk `topapi/v2/department/update`).
#[utoipa::path(
    post, path = "/topapi/v2/department/update", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"dept_id\": 2, \"name\", \"parent_id\", \"order\", \"dept_manager_userid_list\": \"li,wang\"}`; absent keys stay as they are"),
    security(("dingtalk_query" = ["directory:write"])),
    responses(
        (status = 200, description = "`errcode` 0, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60003 (no such department), 60001 (name), 60004 (no such parent), 60002 (too deep), 60010 (cycle), 60018 (moving the root), 60121 (no such manager)", body = OkAnswer),
    )
)]
pub async fn dingtalk_department_update(
    State(state): State<AppState>,
    auth: Authed<DirectoryWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let number = try_oapi!(dept_id(&params));
    let name = try_oapi!(optional(params.text("name")));
    let parent = try_oapi!(optional(params.int("parent_id")));
    let order = try_oapi!(optional(params.int("order")));
    let managers = try_oapi!(optional(params.text_list("dept_manager_userid_list")));
    let name = try_oapi!(checked(
        name,
        Name::parse,
        "name",
        OapiError::DepartmentNameInvalid
    ));
    let store = state.store().tenant(auth.principal.org_id);
    let id = match store.dingtalk_department_id(number).await {
        Ok(Some(id)) => id,
        Ok(None) => return unknown_department(number).into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let parent_id = match parent {
        Some(parent) => match department_ids(&store, &[parent], OapiError::ParentNotFound).await {
            Ok(ids) => ids.into_iter().next(),
            Err(response) => return response,
        },
        None => None,
    };
    let head_ids = match managers {
        Some(userids) => {
            let mut ids = Vec::with_capacity(userids.len());
            for userid in &userids {
                match user(&store, userid).await {
                    Ok(found) => ids.push(found.member_id),
                    Err(response) => return response,
                }
            }
            Some(ids)
        }
        None => None,
    };
    let patch = DepartmentPatch {
        name,
        parent_id,
        sort_order: order,
        head_ids,
    };
    match store
        .update_department(&auth.write_context(), id, patch)
        .await
    {
        Ok(_) => axum::Json(OapiOk::new(crate::request_id::current())).into_response(),
        Err(error) => store_failure(error),
    }
}

/// Delete an empty department (DingTalk `topapi/v2/department/delete`).
#[utoipa::path(
    post, path = "/topapi/v2/department/delete", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"dept_id\": 2}`"),
    security(("dingtalk_query" = ["directory:write"])),
    responses(
        (status = 200, description = "`errcode` 0, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60003 (no such department), 60005 (has members), 60006 (has sub-departments), 60007 (the root)", body = OkAnswer),
    )
)]
pub async fn dingtalk_department_delete(
    State(state): State<AppState>,
    auth: Authed<DirectoryWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let number = try_oapi!(dept_id(&params));
    let store = state.store().tenant(auth.principal.org_id);
    let id = match store.dingtalk_department_id(number).await {
        Ok(Some(id)) => id,
        Ok(None) => return unknown_department(number).into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    match store.delete_department(&auth.write_context(), id).await {
        Ok(()) => axum::Json(OapiOk::new(crate::request_id::current())).into_response(),
        Err(error) => delete_failure(error),
    }
}

/// The member fields DingTalk's `user/create` and `user/update` both take, checked.
struct UserFields {
    name: Option<Name>,
    mobile: Option<Mobile>,
    email: Option<Email>,
    title: Option<OptionalText>,
    job_number: Option<OptionalText>,
    dept_numbers: Option<Vec<i64>>,
}

fn user_fields(params: &Params) -> Result<UserFields, OapiFailure> {
    let name = optional(params.text("name"))?;
    let mobile = optional(params.text("mobile"))?;
    let email = optional(params.text("email"))?;
    let title = optional(params.text("title"))?;
    let job_number = optional(params.text("job_number"))?;
    let dept_numbers = optional(params.int_list("dept_id_list"))?;
    Ok(UserFields {
        name: checked(name, Name::parse, "name", OapiError::UserNameInvalid)?,
        mobile: checked(mobile, Mobile::parse, "mobile", OapiError::MobileInvalid)?,
        email: checked(email, Email::parse, "email", OapiError::EmailInvalid)?,
        title: checked(
            title,
            OptionalText::parse,
            "title",
            OapiError::MissingParameters,
        )?,
        job_number: checked(
            job_number,
            OptionalText::parse,
            "job_number",
            OapiError::JobNumberInvalid,
        )?,
        dept_numbers,
    })
}

fn detail(user: DingTalkUser) -> UserDetail {
    UserDetail {
        dept_id_list: user.departments.iter().map(|(number, _)| *number).collect(),
        leader_in_dept: user
            .departments
            .iter()
            .map(|(number, head)| DeptLeader {
                dept_id: *number,
                leader: *head,
            })
            .collect(),
        admin: matches!(user.role, Role::Owner | Role::Admin),
        boss: user.role == Role::Owner,
        userid: user.userid,
        unionid: user.unionid,
        name: user.name,
        avatar: String::new(),
        mobile: user.mobile,
        hide_mobile: false,
        email: user.email,
        title: user.job_title,
        job_number: user.employee_no,
        senior: false,
        active: true,
        real_authed: false,
        exclusive_account: false,
    }
}

/// Create a user: a member with its DingTalk identity (DingTalk `topapi/v2/user/create`).
#[utoipa::path(
    post, path = "/topapi/v2/user/create", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"name\", \"mobile\", \"dept_id_list\": \"2,3\", \"userid\", \"email\", \"title\", \"job_number\"}`: `name`, `mobile` and `dept_id_list` are required; without `userid` the member id is the user's id"),
    security(("dingtalk_query" = ["directory:write"])),
    responses(
        (status = 200, description = "`errcode` 0 with `userid` and `unionId`, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60003 (no such department), 60102 (userid taken), 60103/60104 (mobile invalid/taken), 60105/60106 (e-mail invalid/taken), 60112 (name), 60123 (job number)", body = UserCreateAnswer),
    )
)]
pub async fn dingtalk_user_create(
    State(state): State<AppState>,
    auth: Authed<DirectoryWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    try_oapi!(required(params.text("name"), "name"));
    try_oapi!(required(params.text("mobile"), "mobile"));
    try_oapi!(required(params.int_list("dept_id_list"), "dept_id_list"));
    let userid = try_oapi!(optional(params.text("userid")));
    if let Some(userid) = &userid
        && !userid_is_valid(userid)
    {
        return OapiFailure::new(
            OapiError::MissingParameters,
            "userid must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'",
        )
        .into_response();
    }
    let fields = try_oapi!(user_fields(&params));
    let store = state.store().tenant(auth.principal.org_id);
    let department_ids = match department_ids(
        &store,
        fields.dept_numbers.as_deref().unwrap_or_default(),
        OapiError::UnknownDepartment,
    )
    .await
    {
        Ok(ids) => ids,
        Err(response) => return response,
    };
    let (Some(name), Some(mobile)) = (fields.name, fields.mobile) else {
        return OapiFailure::new(OapiError::MissingParameters, "name and mobile are required")
            .into_response();
    };
    let new = NewMember {
        name,
        email: fields.email,
        mobile: Some(mobile),
        job_title: fields.title.unwrap_or(OptionalText::NONE),
        employee_no: fields.job_number.unwrap_or(OptionalText::NONE),
        role: Role::Member,
        department_ids,
        password_hash: None,
    };
    match store
        .dingtalk_create_user(&auth.write_context(), new, userid.as_deref())
        .await
    {
        Ok(created) => axum::Json(UserCreateResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: UserCreateResult {
                userid: created.userid,
                union_id: created.unionid,
            },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(error) => store_failure(error),
    }
}

/// A user by `userid` (DingTalk `topapi/v2/user/get`).
#[utoipa::path(
    post, path = "/topapi/v2/user/get", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"userid\": \"zhangsan\"}`"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the user, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60121 (no such user)", body = UserGetAnswer),
    )
)]
pub async fn dingtalk_user_get(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let userid = try_oapi!(required(params.text("userid"), "userid"));
    let store = state.store().tenant(auth.principal.org_id);
    match user(&store, &userid).await {
        Ok(found) => axum::Json(UserGetResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: detail(found),
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(response) => response,
    }
}

/// The users of one department, page by page (DingTalk `topapi/v2/user/list`).
#[utoipa::path(
    post, path = "/topapi/v2/user/list", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"dept_id\": 1, \"cursor\": 0, \"size\": 10}`: all required; `size` 1–100; the next page's `cursor` is the answer's `next_cursor`"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and a page of users, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60003 (no such department)", body = UserListAnswer),
    )
)]
pub async fn dingtalk_user_list(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let number = try_oapi!(dept_id(&params));
    let cursor = try_oapi!(required(params.int("cursor"), "cursor"));
    let size = try_oapi!(required(params.int("size"), "size"));
    if cursor < 0 || !(1..=LIST_SIZE_MAX).contains(&size) {
        return OapiFailure::new(
            OapiError::MissingParameters,
            format!("cursor must be at least 0 and size between 1 and {LIST_SIZE_MAX}"),
        )
        .into_response();
    }
    let store = state.store().tenant(auth.principal.org_id);
    match store
        .dingtalk_users_in_department(number, cursor, size)
        .await
    {
        Ok(Some((users, has_more))) => {
            let shown = i64::try_from(users.len()).unwrap_or(i64::MAX);
            let list = users
                .into_iter()
                .map(|user| {
                    let leader = user
                        .departments
                        .iter()
                        .any(|(dept, head)| *dept == number && *head);
                    let detail = detail(user);
                    ListUser {
                        userid: detail.userid,
                        unionid: detail.unionid,
                        name: detail.name,
                        avatar: detail.avatar,
                        mobile: detail.mobile,
                        hide_mobile: detail.hide_mobile,
                        email: detail.email,
                        title: detail.title,
                        job_number: detail.job_number,
                        dept_id_list: detail.dept_id_list,
                        leader,
                        admin: detail.admin,
                        boss: detail.boss,
                        active: detail.active,
                        exclusive_account: detail.exclusive_account,
                    }
                })
                .collect();
            axum::Json(UserListResponse {
                errcode: 0,
                errmsg: "ok".to_owned(),
                result: UserPage {
                    has_more,
                    next_cursor: has_more.then(|| cursor.saturating_add(shown)),
                    list,
                },
                request_id: crate::request_id::current(),
            })
            .into_response()
        }
        Ok(None) => unknown_department(number).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// Change a user (DingTalk `topapi/v2/user/update`).
#[utoipa::path(
    post, path = "/topapi/v2/user/update", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"userid\", \"name\", \"mobile\", \"email\", \"title\", \"job_number\", \"dept_id_list\"}`: `userid` is required, absent keys stay as they are"),
    security(("dingtalk_query" = ["directory:write"])),
    responses(
        (status = 200, description = "`errcode` 0, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60121 (no such user), 60003 (no such department), 60103/60104 (mobile invalid/taken), 60105/60106 (e-mail invalid/taken), 60112 (name), 60123 (job number)", body = OkAnswer),
    )
)]
pub async fn dingtalk_user_update(
    State(state): State<AppState>,
    auth: Authed<DirectoryWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let userid = try_oapi!(required(params.text("userid"), "userid"));
    let fields = try_oapi!(user_fields(&params));
    let store = state.store().tenant(auth.principal.org_id);
    let found = match user(&store, &userid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let department_ids = match &fields.dept_numbers {
        Some(numbers) => {
            match department_ids(&store, numbers, OapiError::UnknownDepartment).await {
                Ok(ids) => Some(ids),
                Err(response) => return response,
            }
        }
        None => None,
    };
    let patch = MemberPatch {
        name: fields.name,
        email: fields.email.map(Some),
        mobile: fields.mobile.map(Some),
        job_title: fields.title,
        employee_no: fields.job_number,
        status: None,
        role: None,
        department_ids,
    };
    match store
        .update_member(&auth.write_context(), found.member_id, patch)
        .await
    {
        Ok(_) => axum::Json(OapiOk::new(crate::request_id::current())).into_response(),
        Err(error) => store_failure(error),
    }
}

/// Delete a user: the member and its DingTalk identity (DingTalk `topapi/v2/user/delete`).
#[utoipa::path(
    post, path = "/topapi/v2/user/delete", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"userid\": \"zhangsan\"}`"),
    security(("dingtalk_query" = ["directory:write"])),
    responses(
        (status = 200, description = "`errcode` 0, or an error: 88 (token), 60011 (scope), 40035 (parameter; also the organization's only owner, or a member with open approval tasks), 60121 (no such user)", body = OkAnswer),
    )
)]
pub async fn dingtalk_user_delete(
    State(state): State<AppState>,
    auth: Authed<DirectoryWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let userid = try_oapi!(required(params.text("userid"), "userid"));
    let store = state.store().tenant(auth.principal.org_id);
    let found = match user(&store, &userid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match store
        .delete_member(&auth.write_context(), found.member_id)
        .await
    {
        Ok(()) => axum::Json(OapiOk::new(crate::request_id::current())).into_response(),
        Err(error) => store_failure(error),
    }
}

/// A user's `userid` by mobile number (DingTalk `topapi/v2/user/getbymobile`).
#[utoipa::path(
    post, path = "/topapi/v2/user/getbymobile", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"mobile\": \"13800000000\"}`"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the `userid`, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60103 (not a mobile number), 60121 (no such user)", body = UserByMobileAnswer),
    )
)]
pub async fn dingtalk_user_getbymobile(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let mobile = try_oapi!(required(params.text("mobile"), "mobile"));
    let mobile = try_oapi!(parsed(
        &mobile,
        Mobile::parse,
        "mobile",
        OapiError::MobileInvalid
    ));
    let store = state.store().tenant(auth.principal.org_id);
    match store.dingtalk_userid_by_mobile(mobile.as_str()).await {
        Ok(Some(userid)) => axum::Json(UserByMobileResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: UserByMobile {
                userid,
                exclusive_account_userid_list: Vec::new(),
            },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Ok(None) => unknown_user(mobile.as_str()).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
