//! The oapi family: `GET /gettoken?appkey=&appsecret=` → `{"errcode": 0, "errmsg": "ok", "access_token",
//! "expires_in"}`, and the directory by DingTalk's numbers: `POST /topapi/v2/department/listsub|get`
//! (`?access_token=`, `directory:read`; bodies JSON or form, scalars also as text). Every answer is HTTP 200; errors carry an integer `errcode` (40035 missing parameter or
//! an app installed in several organizations, 40096 unknown app key or wrong secret).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::OapiError;
use tenon_dingtalk::directory::{DeptBase, DeptDetail, DeptGetResponse, ListSubResponse};
use tenon_dingtalk::errors::OapiErrorBody;
use tenon_dingtalk::lenient::Params;
use tenon_dingtalk::oauth::{GetTokenQuery, GetTokenResponse};

use super::errors::OapiFailure;
use super::{TokenRefusal, issue_token};
use crate::auth::Authed;
use crate::auth::scopes::DirectoryRead;
use crate::error::ApiError;
use crate::extract::ApiBytes;
use crate::state::AppState;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The body of an oapi route's HTTP 200, as documented: its success shape (`errcode` 0) or the error
/// shape — the family answers every error with HTTP 200 and an integer `errcode`.
macro_rules! oapi_answer {
    ($answer:ident, $ok:ty) => {
        pub struct $answer;

        impl PartialSchema for $answer {
            fn schema() -> RefOr<Schema> {
                Schema::AnyOf(
                    AnyOfBuilder::new()
                        .item(Ref::from_schema_name(<$ok as ToSchema>::name()))
                        .item(Ref::from_schema_name(<OapiErrorBody as ToSchema>::name()))
                        .build(),
                )
                .into()
            }
        }

        impl ToSchema for $answer {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((
                    <$ok as ToSchema>::name().into_owned(),
                    <$ok as PartialSchema>::schema(),
                ));
                <$ok as ToSchema>::schemas(schemas);
                schemas.push((
                    <OapiErrorBody as ToSchema>::name().into_owned(),
                    <OapiErrorBody as PartialSchema>::schema(),
                ));
                <OapiErrorBody as ToSchema>::schemas(schemas);
            }
        }
    };
}

pub(super) use oapi_answer;

oapi_answer!(GetTokenAnswer, GetTokenResponse);
oapi_answer!(ListSubAnswer, ListSubResponse);
oapi_answer!(DeptGetAnswer, DeptGetResponse);

/// Get an app's access token (DingTalk `gettoken`).
#[utoipa::path(
    get, path = "/gettoken", tag = "dingtalk",
    params(GetTokenQuery),
    responses(
        (status = 200, description = "`errcode` 0 and a token, or an error: 40035 (missing parameter; an app installed in several organizations uses `POST /v1.0/oauth2/{corpId}/token`), 40096 (unknown app key or wrong secret)", body = GetTokenAnswer),
    )
)]
pub async fn dingtalk_gettoken(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::from_pairs(
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned())),
    );
    let (Ok(Some(appkey)), Ok(Some(appsecret))) = (params.text("appkey"), params.text("appsecret"))
    else {
        return OapiFailure::new(
            OapiError::MissingParameters,
            "appkey and appsecret are required",
        )
        .into_response();
    };
    match issue_token(&state, &appkey, &appsecret, None).await {
        Ok(issued) => axum::Json(GetTokenResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            access_token: issued.access_token,
            expires_in: issued.expires_in,
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(TokenRefusal::BadCredentials | TokenRefusal::NotInstalled) => OapiFailure::new(
            OapiError::InvalidAppKeyOrSecret,
            "unknown appkey, wrong appsecret, or an app installed in no organization",
        )
        .into_response(),
        Err(TokenRefusal::SeveralOrganizations) => OapiFailure::new(
            OapiError::MissingParameters,
            "the app is installed in several organizations; use POST /v1.0/oauth2/{corpId}/token",
        )
        .into_response(),
        Err(TokenRefusal::Store(error)) => ApiError::from(error).into_response(),
    }
}

/// The parameters of an oapi body: JSON, or a form when the request says so. Unreadable is 40035.
pub(super) fn body_params(headers: &HeaderMap, body: &ApiBytes) -> Result<Params, OapiFailure> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    Params::from_body(&body.0, form)
        .map_err(|error| OapiFailure::new(OapiError::MissingParameters, error.to_string()))
}

/// The required integer `dept_id` (a number or its text).
pub(super) fn dept_id(params: &Params) -> Result<i64, OapiFailure> {
    match params.int("dept_id") {
        Ok(Some(number)) => Ok(number),
        Ok(None) => Err(OapiFailure::new(
            OapiError::MissingParameters,
            "dept_id is required",
        )),
        Err(error) => Err(OapiFailure::new(
            OapiError::MissingParameters,
            error.to_string(),
        )),
    }
}

pub(super) fn unknown_department(number: i64) -> OapiFailure {
    OapiFailure::new(
        OapiError::UnknownDepartment,
        format!("no department {number}"),
    )
}

/// The departments right under one (DingTalk `topapi/v2/department/listsub`, one level).
#[utoipa::path(
    post, path = "/topapi/v2/department/listsub", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = "A token from /gettoken (without it: `errcode` 88, `sub_code` \"40000\")")),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"dept_id\": 1}` (default 1, the root; a number or its text)"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the sub-departments, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60003 (no such department)", body = ListSubAnswer),
    )
)]
pub async fn dingtalk_department_listsub(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = match body_params(&headers, &body) {
        Ok(params) => params,
        Err(failure) => return failure.into_response(),
    };
    let number = match params.int("dept_id") {
        Ok(number) => number.unwrap_or(1),
        Err(error) => {
            return OapiFailure::new(OapiError::MissingParameters, error.to_string())
                .into_response();
        }
    };
    let store = state.store().tenant(auth.principal.org_id);
    match store.dingtalk_sub_departments(number).await {
        Ok(Some(departments)) => axum::Json(ListSubResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: departments
                .into_iter()
                .map(|department| DeptBase {
                    dept_id: department.number,
                    name: department.name,
                    parent_id: department.parent_number,
                    create_dept_group: false,
                    auto_add_user: false,
                })
                .collect(),
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Ok(None) => unknown_department(number).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// A department by `dept_id` (DingTalk `topapi/v2/department/get`).
#[utoipa::path(
    post, path = "/topapi/v2/department/get", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = "A token from /gettoken (without it: `errcode` 88, `sub_code` \"40000\")")),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"dept_id\": 2}` (a number or its text)"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the department, or an error: 88 (token), 60011 (scope), 40035 (parameter), 60003 (no such department)", body = DeptGetAnswer),
    )
)]
pub async fn dingtalk_department_get(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let number = match body_params(&headers, &body).and_then(|params| dept_id(&params)) {
        Ok(number) => number,
        Err(failure) => return failure.into_response(),
    };
    let store = state.store().tenant(auth.principal.org_id);
    match store.dingtalk_department(number).await {
        Ok(Some(department)) => axum::Json(DeptGetResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: DeptDetail {
                dept_id: department.number,
                name: department.name,
                parent_id: department.parent_number,
                order: department.sort_order,
            },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Ok(None) => unknown_department(number).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
