//! Work notifications (工作通知) on oapi (#21 item 7b): `POST /topapi/message/corpconversation/asyncsend_v2`
//! leaves the message in each recipient's Tenon inbox (`GET /api/v1/me/notifications`) and appends a
//! `notification.created` event per recipient, in one transaction; `getsendprogress` and `getsendresult`
//! read the task back. `?access_token=`, bodies JSON or form, scalars also as text, `directory:read` (the
//! send resolves userids and departments; it changes nothing in the directory). Every answer is HTTP 200.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::OapiError;
use tenon_dingtalk::lenient::{ParamError, Params};
use tenon_dingtalk::messages::{
    AsyncSendResponse, SendProgress, SendProgressResponse, SendResult, SendResultResponse,
    inbox_message,
};
use tenon_store::WorkNotification;

use super::errors::OapiFailure;
use super::oapi::{body_params, oapi_answer};
use crate::auth::Authed;
use crate::auth::scopes::DirectoryRead;
use crate::error::ApiError;
use crate::extract::ApiBytes;
use crate::state::AppState;
use tenon_dingtalk::errors::OapiErrorBody;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

oapi_answer!(AsyncSendAnswer, AsyncSendResponse);
oapi_answer!(SendProgressAnswer, SendProgressResponse);
oapi_answer!(SendResultAnswer, SendResultResponse);

/// Recipients a send names at most, as DingTalk limits them.
const USERIDS_MAX: usize = 5000;
const DEPARTMENTS_MAX: usize = 500;

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

fn missing(message: impl Into<String>) -> OapiFailure {
    OapiFailure::new(OapiError::MissingParameters, message)
}

/// The required integer `name`.
fn required_int(params: &Params, name: &str) -> Result<i64, OapiFailure> {
    params
        .int(name)
        .map_err(parameter)?
        .ok_or_else(|| missing(format!("{name} is required")))
}

const TOKEN: &str = "A token from /gettoken (without it: `errcode` 88, `sub_code` \"40000\")";

/// Send a work notification (DingTalk `topapi/message/corpconversation/asyncsend_v2`).
#[utoipa::path(
    post, path = "/topapi/message/corpconversation/asyncsend_v2", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"agent_id\": 1, \"userid_list\": \"li,wang\", \"dept_id_list\": \"2,3\", \"to_all_user\": false, \"msg\": {\"msgtype\": \"text\", \"text\": {\"content\": \"…\"}}}` — at least one of `userid_list`, `dept_id_list` (members of the departments and their sub-departments) or `to_all_user: true`; `msgtype` `text`, `markdown`, `link` or `action_card`; `msg` may be its JSON text"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the `task_id` (the send is finished when it answers; unknown userids and departments are reported by `getsendresult`), or an error: 88 (token), 60011 (scope), 40035 (parameter, message)", body = AsyncSendAnswer),
    )
)]
pub async fn dingtalk_message_send(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = try_oapi!(body_params(&headers, &body));
    let agent_id = try_oapi!(required_int(&params, "agent_id"));
    let userids = try_oapi!(params.text_list("userid_list").map_err(parameter)).unwrap_or_default();
    let dept_numbers =
        try_oapi!(params.int_list("dept_id_list").map_err(parameter)).unwrap_or_default();
    let to_all = try_oapi!(params.boolean("to_all_user").map_err(parameter)).unwrap_or(false);
    let msg = try_oapi!(
        params
            .object("msg")
            .map_err(parameter)
            .and_then(|msg| msg.ok_or_else(|| missing("msg is required")))
    );
    if userids.is_empty() && dept_numbers.is_empty() && !to_all {
        return missing("userid_list, dept_id_list or to_all_user: true is required")
            .into_response();
    }
    if userids.len() > USERIDS_MAX {
        return missing(format!("userid_list has more than {USERIDS_MAX} userids")).into_response();
    }
    if dept_numbers.len() > DEPARTMENTS_MAX {
        return missing(format!(
            "dept_id_list has more than {DEPARTMENTS_MAX} departments"
        ))
        .into_response();
    }
    let message = try_oapi!(inbox_message(&msg).map_err(missing));
    let send = WorkNotification {
        agent_id,
        userids,
        dept_numbers,
        to_all,
        title: message.title,
        text: message.text,
        msg: serde_json::Value::Object(msg),
    };
    match state
        .store()
        .tenant(auth.principal.org_id)
        .dingtalk_send_work_notification(&auth.write_context(), &send)
        .await
    {
        Ok(task_id) => axum::Json(AsyncSendResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            task_id,
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// The task `{agent_id, task_id}` names, or the failure to answer.
async fn task(
    state: &AppState,
    auth: &Authed<DirectoryRead>,
    headers: &HeaderMap,
    body: &ApiBytes,
) -> Result<tenon_store::WorkNotificationTask, Response> {
    let params = body_params(headers, body).map_err(IntoResponse::into_response)?;
    let _agent = required_int(&params, "agent_id").map_err(IntoResponse::into_response)?;
    let task_id = required_int(&params, "task_id").map_err(IntoResponse::into_response)?;
    match state
        .store()
        .tenant(auth.principal.org_id)
        .dingtalk_work_notification_task(task_id)
        .await
    {
        Ok(Some(task)) => Ok(task),
        Ok(None) => Err(missing(format!("no task {task_id}")).into_response()),
        Err(error) => Err(ApiError::from(error).into_response()),
    }
}

/// How far a send got (DingTalk `topapi/message/corpconversation/getsendprogress`): always finished.
#[utoipa::path(
    post, path = "/topapi/message/corpconversation/getsendprogress", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"agent_id\": 1, \"task_id\": 123}`"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and `progress` `{\"progress_in_percent\": 100, \"status\": 2}` (a send finishes in its request), or an error: 88 (token), 60011 (scope), 40035 (parameter, or no such task in the organization)", body = SendProgressAnswer),
    )
)]
pub async fn dingtalk_message_progress(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    match task(&state, &auth, &headers, &body).await {
        Ok(_) => axum::Json(SendProgressResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            progress: SendProgress {
                progress_in_percent: 100,
                status: 2,
            },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(response) => response,
    }
}

/// Who got a send and who has read it (DingTalk `topapi/message/corpconversation/getsendresult`).
#[utoipa::path(
    post, path = "/topapi/message/corpconversation/getsendresult", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = TOKEN)),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"agent_id\": 1, \"task_id\": 123}`"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and `send_result` (`invalid_user_id_list`, `invalid_dept_id_list`, `read_user_id_list`, `unread_user_id_list`; the forbidden and failed lists are always empty), or an error: 88 (token), 60011 (scope), 40035 (parameter, or no such task in the organization)", body = SendResultAnswer),
    )
)]
pub async fn dingtalk_message_result(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    match task(&state, &auth, &headers, &body).await {
        Ok(task) => axum::Json(SendResultResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            send_result: SendResult {
                invalid_user_id_list: task.invalid_userids,
                forbidden_user_id_list: Vec::new(),
                failed_user_id_list: Vec::new(),
                read_user_id_list: task.read,
                unread_user_id_list: task.unread,
                invalid_dept_id_list: task.invalid_dept_ids,
            },
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(response) => response,
    }
}
