//! The actions on approval tasks (`/api/v1/approval-tasks/{id}/approve|refuse|transfer|add-sign|return`)
//! and instances (`/api/v1/approvals/{id}/withdraw|terminate|comments|cc|remind`). Each answers the
//! instance with its tasks and operation records; an `Idempotency-Key` makes a retry answer the first
//! status and body.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tenon_approvals::definition::Method;
use tenon_approvals::engine::{Command, Position, ReturnTo};
use tenon_model::{ApprovalId, ApprovalTaskId, Checker, DetailCode, FieldError, MemberId, Reason};
use tenon_store::approvals::Target;

use crate::auth::{Authed, Authenticated, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{parse_json, path_id};
use crate::routes::approvals::{
    ApprovalOut, InstanceAction, InstanceCc, InstanceComment, TaskAddSign, TaskDecision,
    TaskReturn, TaskTransfer, acting, answer, command_error, idempotency, member_id, member_ids,
    optional_body, required_body,
};
use crate::state::AppState;

async fn act(
    state: &AppState,
    auth: &Authenticated,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    target: Target,
    command: Command,
) -> ApiResult<Response> {
    let key = idempotency(headers, auth, path, body)?;
    let outcome = state
        .store()
        .tenant(auth.principal.org_id)
        .approval_command(&auth.write_context(), target, command, key.as_ref())
        .await
        .map_err(command_error)?;
    Ok(answer(outcome))
}

macro_rules! task_action {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, |$input:ident, $task:ident, $by:ident, $check:ident| $make:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(state): State<AppState>,
            auth: Authed<scopes::ApprovalsWrite>,
            Path(id): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> ApiResult<Response> {
            let $task: ApprovalTaskId = path_id(&id, "task")?;
            let $input: $body = parse_action_body(&headers, &body)?;
            let $by = acting(&auth, $input.actioner.as_deref())?;
            #[allow(unused_mut)]
            let mut $check = Checker::default();
            let command: Command = $make;
            $check.finish()?;
            let path = $path.replace("{id}", &id);
            act(&state, &auth, &headers, &path, &body, Target::Task($task), command).await
        }
    };
}

macro_rules! instance_action {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, |$input:ident, $by:ident, $check:ident| $make:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(state): State<AppState>,
            auth: Authed<scopes::ApprovalsWrite>,
            Path(id): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> ApiResult<Response> {
            let instance: ApprovalId = path_id(&id, "approval")?;
            let $input: $body = parse_action_body(&headers, &body)?;
            let $by = acting(&auth, $input.actioner.as_deref())?;
            #[allow(unused_mut)]
            let mut $check = Checker::default();
            let command: Command = $make;
            $check.finish()?;
            let path = $path.replace("{id}", &id);
            act(&state, &auth, &headers, &path, &body, Target::Instance(instance), command).await
        }
    };
}

/// Bodies of actions: some may be empty (`approve` with nothing to say), others are required.
trait ActionBody: DeserializeOwned {
    fn empty() -> Option<Self>;
}

macro_rules! action_bodies {
    (optional: $($optional:ty),*; required: $($required:ty),*) => {
        $(impl ActionBody for $optional { fn empty() -> Option<Self> { Some(Self::default()) } })*
        $(impl ActionBody for $required { fn empty() -> Option<Self> { None } })*
    };
}

action_bodies!(optional: TaskDecision, InstanceAction; required: TaskTransfer, TaskAddSign, TaskReturn, InstanceComment, InstanceCc);

fn parse_action_body<T: ActionBody>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    match T::empty() {
        Some(empty) if body.iter().all(u8::is_ascii_whitespace) => Ok(empty),
        Some(_) => optional_body::<Value>(headers, body).and_then(|_| parse_json(body)),
        None => required_body(headers, body),
    }
}

task_action!(
    /// Approve a task (on a handle node: done; on the initiator's task after a return: resubmit).
    #[utoipa::path(post, path = "/api/v1/approval-tasks/{id}/approve", tag = "approvals",
        params(("id" = String, Path, description = "Task id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = TaskDecision,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The task or instance moved on (decided, canceled, paused, finished); nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: the task is someone else's; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    approve_task, "/api/v1/approval-tasks/{id}/approve", TaskDecision,
    |input, task, by, check| Command::Approve { task, comment: input.comment, resubmission: None, by }
);

task_action!(
    /// Refuse a task.
    #[utoipa::path(post, path = "/api/v1/approval-tasks/{id}/refuse", tag = "approvals",
        params(("id" = String, Path, description = "Task id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = TaskDecision,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The task or instance moved on (decided, canceled, paused, finished); nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: the task is someone else's; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    refuse_task, "/api/v1/approval-tasks/{id}/refuse", TaskDecision,
    |input, task, by, check| Command::Refuse { task, comment: input.comment, by }
);

task_action!(
    /// Transfer a task to another member (转交): the task ends `redirected`, a new one is made.
    #[utoipa::path(post, path = "/api/v1/approval-tasks/{id}/transfer", tag = "approvals",
        params(("id" = String, Path, description = "Task id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = TaskTransfer,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The task or instance moved on (decided, canceled, paused, finished); nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: the task is someone else's; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    transfer_task, "/api/v1/approval-tasks/{id}/transfer", TaskTransfer,
    |input, task, by, check| {
        let to = member_id(&mut check, "to", &input.to).unwrap_or_else(|| MemberId::from_uuid(uuid::Uuid::nil()));
        Command::Transfer { task, to, comment: input.comment, by }
    }
);

task_action!(
    /// Add approvers before (the task waits) or after (the task agrees now) the task (加签).
    #[utoipa::path(post, path = "/api/v1/approval-tasks/{id}/add-sign", tag = "approvals",
        params(("id" = String, Path, description = "Task id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = TaskAddSign,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The task or instance moved on (decided, canceled, paused, finished); nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: the task is someone else's; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    add_sign_task, "/api/v1/approval-tasks/{id}/add-sign", TaskAddSign,
    |input, task, by, check| {
        let members = member_ids(&mut check, "members", &input.members);
        let position = match input.position.as_str() {
            "before" => Position::Before,
            "after" => Position::After,
            _ => {
                check.add(Reason::not_one_of(&["before", "after"], "must be before or after").at("position"));
                Position::Before
            }
        };
        let method = match input.method.as_str() {
            "or" => Method::Or,
            "and" => Method::And,
            "one_by_one" => Method::OneByOne,
            _ => {
                check.add(Reason::not_one_of(&["or", "and", "one_by_one"], "must be or, and or one_by_one").at("method"));
                Method::Or
            }
        };
        Command::AddSign { task, members, position, method, comment: input.comment, by }
    }
);

task_action!(
    /// Return the instance to a node it passed or to the initiator (退回).
    #[utoipa::path(post, path = "/api/v1/approval-tasks/{id}/return", tag = "approvals",
        params(("id" = String, Path, description = "Task id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = TaskReturn,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The task or instance moved on (decided, canceled, paused, finished); nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: the task is someone else's; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    return_task, "/api/v1/approval-tasks/{id}/return", TaskReturn,
    |input, task, by, check| {
        let to = if input.to == tenon_approvals::definition::INITIATOR {
            ReturnTo::Initiator
        } else {
            ReturnTo::Node(input.to.clone())
        };
        Command::Return { task, to, comment: input.comment, by }
    }
);

instance_action!(
    /// Withdraw an instance (the initiator, while it runs; 撤销).
    #[utoipa::path(post, path = "/api/v1/approvals/{id}/withdraw", tag = "approvals",
        params(("id" = String, Path, description = "Approval instance id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = InstanceAction,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The instance has ended, or its settings do not allow this now; nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: only the initiator may withdraw; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    withdraw_approval, "/api/v1/approvals/{id}/withdraw", InstanceAction,
    |input, by, check| Command::Withdraw { comment: input.comment, by }
);

instance_action!(
    /// Terminate an instance (an administrator).
    #[utoipa::path(post, path = "/api/v1/approvals/{id}/terminate", tag = "approvals",
        params(("id" = String, Path, description = "Approval instance id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = InstanceAction,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The instance has ended, or its settings do not allow this now; nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: only the initiator may withdraw; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    terminate_approval, "/api/v1/approvals/{id}/terminate", InstanceAction,
    |input, by, check| Command::Terminate { comment: input.comment, by }
);

instance_action!(
    /// Add a comment (评论) to an instance.
    #[utoipa::path(post, path = "/api/v1/approvals/{id}/comments", tag = "approvals",
        params(("id" = String, Path, description = "Approval instance id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = InstanceComment,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The instance has ended, or its settings do not allow this now; nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: only the initiator may withdraw; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    comment_approval, "/api/v1/approvals/{id}/comments", InstanceComment,
    |input, by, check| {
        if input.text.trim().is_empty() {
            check.push("text", DetailCode::Empty, "write something");
        }
        Command::Comment { text: input.text, by }
    }
);

instance_action!(
    /// CC members on an instance (抄送).
    #[utoipa::path(post, path = "/api/v1/approvals/{id}/cc", tag = "approvals",
        params(("id" = String, Path, description = "Approval instance id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = InstanceCc,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The instance has ended, or its settings do not allow this now; nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: only the initiator may withdraw; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    cc_approval, "/api/v1/approvals/{id}/cc", InstanceCc,
    |input, by, check| {
        let members = member_ids(&mut check, "members", &input.members);
        if input.members.is_empty() {
            check.add(FieldError::new("members", DetailCode::TooFew, "name at least one member").with("min", 1));
        }
        Command::Cc { members, comment: input.comment, by }
    }
);

instance_action!(
    /// Remind the assignees of the running tasks (催办): each gets a message in their inbox
    /// (`GET /api/v1/me/notifications`, with the comment if any). The instance does not change.
    #[utoipa::path(post, path = "/api/v1/approvals/{id}/remind", tag = "approvals",
        params(("id" = String, Path, description = "Approval instance id"),
            ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried action answer the first status and body")),
        request_body = InstanceAction,
        security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
        responses((status = 200, body = ApprovalOut),
            (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, description = "The instance has ended, or its settings do not allow this now; nothing changed", body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, description = "`not_assignee`: only the initiator may withdraw; or a missing scope", body = ErrorBody),
            (status = 429, body = ErrorBody)))]
    remind_approval, "/api/v1/approvals/{id}/remind", InstanceAction,
    |input, by, check| Command::Remind { comment: input.comment, by }
);
