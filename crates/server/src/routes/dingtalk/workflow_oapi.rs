//! The oapi family's approvals (#21 item 9): `POST /topapi/processinstance/create|get|listids` and
//! `/topapi/process/instance/terminate`, the same cores as the v1.0 workflow routes with the legacy
//! parameters — `form_component_values` an array or its JSON text, `approvers` a comma-joined string or a
//! list (all of them approve the process's first node whose approvers are chosen), scalars also as text.
//! `?access_token=`, bodies JSON or form; every answer is HTTP 200 (40035 for bad parameters, 60011 for a
//! refused actor).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::OapiError;
use tenon_dingtalk::errors::OapiErrorBody;
use tenon_dingtalk::lenient::{ParamError, Params};
use tenon_dingtalk::workflow::FormComponentValue;
use tenon_dingtalk::workflow_legacy::{
    LegacyCreateResponse, LegacyGetResponse, LegacyIds, LegacyListIdsResponse,
    LegacyTerminateResponse, legacy_instance,
};
use tenon_model::ApprovalId;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::errors::OapiFailure;
use super::oapi::{body_params, oapi_answer};
use super::workflow::{Choice, Failure, NodeRef, StartInput, instance_answer, start_instance};
use super::workflow_actions::{End, IdsInput, end_instance, instance_ids};
use crate::auth::{Authed, scopes};
use crate::extract::ApiBytes;
use crate::state::AppState;

oapi_answer!(LegacyCreateAnswer, LegacyCreateResponse);
oapi_answer!(LegacyGetAnswer, LegacyGetResponse);
oapi_answer!(LegacyListIdsAnswer, LegacyListIdsResponse);
oapi_answer!(LegacyTerminateAnswer, LegacyTerminateResponse);

const TOKEN: &str = "A token from /gettoken (without it: `errcode` 88, `sub_code` \"40000\")";
/// The largest page of `listids`, as DingTalk limits it.
const LIST_SIZE_MAX: i64 = 20;

fn parameter(error: ParamError) -> Failure {
    Failure::Invalid(error.to_string())
}

macro_rules! try_oapi {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(failure) => return Failure::oapi(failure),
        }
    };
}

fn params(headers: &HeaderMap, body: &ApiBytes) -> Result<Params, Failure> {
    body_params(headers, body).map_err(|failure: OapiFailure| Failure::Missing(failure.message))
}

fn instance_id(params: &Params, name: &str) -> Result<ApprovalId, Failure> {
    params
        .text(name)
        .map_err(parameter)?
        .ok_or_else(|| Failure::Missing(format!("{name} is required")))?
        .parse::<ApprovalId>()
        .map_err(|_| Failure::Invalid(format!("{name}: not an instance id")))
}

/// Start an approval instance (DingTalk `topapi/processinstance/create`).
#[utoipa::path(
    post, path = "/topapi/processinstance/create", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"process_code\", \"originator_user_id\", \"dept_id\", \"approvers\": \"li,wang\", \"form_component_values\": [{\"name\", \"value\"}]}` — `form_component_values` may be its JSON text, `approvers` a comma-joined string or a list (they approve the first node whose approvers are chosen)"),
    security(("dingtalk_query" = ["approvals:write"])),
    responses(
        (status = 200, description = "`errcode` 0 and the `process_instance_id` (the record and the instance made in one transaction), or an error: 88 (token), 60011 (scope), 40035 (parameter, unknown user or process, a value its field refuses; nothing written)", body = LegacyCreateAnswer),
    )
)]
pub async fn dingtalk_legacy_create(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(params(&headers, &body));
    let approvers = try_oapi!(params.text_list("approvers").map_err(parameter)).unwrap_or_default();
    let values =
        try_oapi!(params.array("form_component_values").map_err(parameter)).unwrap_or_default();
    let values: Vec<FormComponentValue> = try_oapi!(
        serde_json::from_value(serde_json::Value::Array(values))
            .map_err(|error| { Failure::Invalid(format!("form_component_values: {error}")) })
    );
    let choices = if approvers.is_empty() {
        Vec::new()
    } else {
        vec![Choice {
            node: NodeRef::Nth(0),
            userids: approvers,
            at: "approvers".to_owned(),
        }]
    };
    let start = StartInput {
        code: try_oapi!(params.text("process_code").map_err(parameter)),
        originator: try_oapi!(params.text("originator_user_id").map_err(parameter)),
        dept: try_oapi!(params.int("dept_id").map_err(parameter)),
        choices,
        values,
        names: ["process_code", "originator_user_id"],
    };
    match start_instance(&state, &auth, start).await {
        Ok(id) => axum::Json(LegacyCreateResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            process_instance_id: id,
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(failure) => failure.oapi(),
    }
}

/// Get an approval instance (DingTalk `topapi/processinstance/get`).
#[utoipa::path(
    post, path = "/topapi/processinstance/get", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"process_instance_id\"}`"),
    security(("dingtalk_query" = ["approvals:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the `process_instance` (as `GET /v1.0/workflow/processInstances` with the legacy keys; times `yyyy-MM-dd HH:mm:ss` UTC, `taskid` as text), or an error: 88 (token), 60011 (scope), 40035 (parameter, no such instance)", body = LegacyGetAnswer),
    )
)]
pub async fn dingtalk_legacy_get(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(params(&headers, &body));
    let id = try_oapi!(instance_id(&params, "process_instance_id"));
    let tenant = state.store().tenant(auth.principal.org_id);
    match instance_answer(&tenant, id).await {
        Ok(answer) => axum::Json(LegacyGetResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            process_instance: legacy_instance(answer.result),
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(tenon_store::StoreError::NotFound { .. }) => {
            OapiFailure::new(OapiError::MissingParameters, "no such process instance")
                .into_response()
        }
        Err(error) => Failure::from(error).oapi(),
    }
}

/// Ids of a process's instances (DingTalk `topapi/processinstance/listids`).
#[utoipa::path(
    post, path = "/topapi/processinstance/listids", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"process_code\", \"start_time\", \"end_time\", \"size\", \"cursor\", \"userid_list\"}` — times in milliseconds, `size` 1–20 (default 10), `cursor` an offset"),
    security(("dingtalk_query" = ["approvals:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and `result` `{\"list\", \"next_cursor\"}` (oldest first; `next_cursor` only while more follow), or an error: 88 (token), 60011 (scope), 40035 (parameter, unknown process)", body = LegacyListIdsAnswer),
    )
)]
pub async fn dingtalk_legacy_listids(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(params(&headers, &body));
    let code =
        try_oapi!(params.text("process_code").map_err(parameter)).filter(|code| !code.is_empty());
    let start = try_oapi!(params.int("start_time").map_err(parameter));
    let (Some(code), Some(start)) = (code, start) else {
        return Failure::Missing("process_code and start_time are required".to_owned()).oapi();
    };
    let size = try_oapi!(params.int("size").map_err(parameter)).unwrap_or(10);
    if !(1..=LIST_SIZE_MAX).contains(&size) {
        return Failure::Invalid(format!("size must be 1 to {LIST_SIZE_MAX}")).oapi();
    }
    let page = IdsInput {
        code,
        start,
        end: try_oapi!(params.int("end_time").map_err(parameter)),
        offset: try_oapi!(params.int("cursor").map_err(parameter)).unwrap_or(0),
        limit: size,
        userids: try_oapi!(params.text_list("userid_list").map_err(parameter)).unwrap_or_default(),
        statuses: Vec::new(),
    };
    match instance_ids(&state, &auth, page).await {
        Ok((list, next_cursor)) => axum::Json(LegacyListIdsResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: LegacyIds { list, next_cursor },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(failure) => failure.oapi(),
    }
}

/// End an approval instance (DingTalk `topapi/process/instance/terminate`).
#[utoipa::path(
    post, path = "/topapi/process/instance/terminate", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"request\": {\"process_instance_id\", \"is_system\", \"operating_userid\", \"remark\"}}` (`request` may be its JSON text): the originator withdraws unless `is_system`; otherwise an administrator's token terminates"),
    security(("dingtalk_query" = ["approvals:write"])),
    responses(
        (status = 200, description = "`errcode` 0, `result` and `success` true, or an error: 88 (token), 60011 (scope, or a user's token naming another user), 40035 (parameter, unknown user, an instance that ended, a terminate without `admin`)", body = LegacyTerminateAnswer),
    )
)]
pub async fn dingtalk_legacy_terminate(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let outer = try_oapi!(params(&headers, &body));
    let request = try_oapi!(outer.object("request").map_err(parameter))
        .ok_or_else(|| Failure::Missing("request is required".to_owned()));
    let request = try_oapi!(request.and_then(|map| {
        Params::from_body(serde_json::Value::Object(map).to_string().as_bytes(), false)
            .map_err(parameter)
    }));
    let end = End {
        instance: try_oapi!(instance_id(&request, "process_instance_id")),
        system: try_oapi!(request.boolean("is_system").map_err(parameter)).unwrap_or(false),
        operator: try_oapi!(request.text("operating_userid").map_err(parameter)),
        remark: try_oapi!(request.text("remark").map_err(parameter)),
        operator_name: "operating_userid",
    };
    match end_instance(&state, &auth, end).await {
        Ok(()) => axum::Json(LegacyTerminateResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            result: true,
            success: true,
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(failure) => failure.oapi(),
    }
}
