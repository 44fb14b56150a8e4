//! `/api/v1/approvals` and `/api/v1/approval-tasks`: starting an approval on a record, acting on its tasks
//! (approve, refuse, transfer, add-sign, return) and on the instance (withdraw, terminate, comments, CC,
//! remind), reading an instance and a to-do list. Every action answers the instance with its tasks and
//! operation records; an `Idempotency-Key` makes a retried action answer the first status and body.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tenon_approvals::Acting;
use tenon_approvals::state::TaskStatus;
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::{
    Actor, ApprovalId, Checker, DepartmentId, DetailCode, ErrorCode, Invalid, MemberId, Reason,
    RecordId, Scope,
};
use tenon_store::IdempotencyKey;
use tenon_store::approvals::{Answer, CommandError, StartApproval, TASKS_PER_PAGE_MAX, TaskFilter};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, Authenticated, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, parse_json, path_id};
use crate::routes::records_io::parse_context;
use crate::state::AppState;

/// The record an instance is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalRecordRef {
    pub app: String,
    pub table: String,
    pub id: String,
}

/// A task (DingTalk's `taskId` is `number`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalTaskOut {
    pub id: String,
    /// Per organization, increasing.
    pub number: i64,
    pub instance_id: String,
    /// The node key (`initiator` for the initiator's resubmit task after a return).
    pub node: String,
    pub assignee: String,
    /// `new`, `running`, `paused`, `completed` or `canceled`.
    pub status: String,
    /// `agree`, `refuse`, `done`, `redirected` or `returned` once completed.
    pub result: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Who acted through which credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViaOut {
    /// `member`, `token`, `app` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

/// One operation record (DingTalk's types in lowercase).
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationRecordOut {
    /// Gap-free per instance, from 1.
    pub seq: i64,
    /// `start_process_instance`, `execute_task_normal`, `execute_task_agent`, `execute_task_auto`,
    /// `append_task_before`, `append_task_after`, `redirect_task`, `redirect_process`,
    /// `terminate_process_instance`, `finish_process_instance`, `add_remark` or `process_cc`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The member who acted (`null` for the platform).
    pub actor: Option<String>,
    pub via: ViaOut,
    pub task_id: Option<String>,
    pub node: Option<String>,
    pub result: Option<String>,
    pub comment: Option<String>,
    /// Who the action names: CC'd, added, transferred to.
    pub members: Vec<String>,
    /// Made by the engine itself (an automatic pass, the finish, a CC of the settings).
    pub automatic: bool,
    pub at: DateTime<Utc>,
}

/// An approval instance with its tasks and operation records.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalOut {
    pub id: String,
    /// The process code.
    pub process: String,
    /// The published version the instance runs.
    pub version: i32,
    pub record: ApprovalRecordRef,
    /// `running`, `completed` or `terminated`.
    pub status: String,
    /// `agree` or `refuse` once completed; `null` while running.
    pub result: Option<String>,
    pub initiator: String,
    /// 审批编号.
    pub business_id: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub tasks: Vec<ApprovalTaskOut>,
    pub operation_records: Vec<OperationRecordOut>,
}

/// Start an approval on an existing record (`record`) or on a record created with it (`fields`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStart {
    /// The process code.
    #[schema(example = "DUTY_APPEAL")]
    pub process: String,
    pub record: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
    /// Whom the instance is for (an organization token or app); default: the caller's member.
    pub initiator: Option<String>,
    /// The department the instance starts from (manager rules); default: the initiator's first.
    pub dept: Option<String>,
    /// Approvers the initiator chose, by node key.
    pub selected_approvers: Option<BTreeMap<String, Vec<String>>>,
    /// The member an organization token or app acts for.
    pub actioner: Option<String>,
}

/// Approve or refuse a task.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDecision {
    pub comment: Option<String>,
    pub actioner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskTransfer {
    /// The member who takes the task over.
    pub to: String,
    pub comment: Option<String>,
    pub actioner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskAddSign {
    pub members: Vec<String>,
    /// `before` (the task waits for them) or `after` (the task agrees now; the node waits for them).
    pub position: String,
    /// `or`, `and` or `one_by_one`.
    pub method: String,
    pub comment: Option<String>,
    pub actioner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskReturn {
    /// A node key the instance passed, or `initiator`.
    pub to: String,
    pub comment: Option<String>,
    pub actioner: Option<String>,
}

/// Withdraw, terminate or remind.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceAction {
    pub comment: Option<String>,
    pub actioner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceComment {
    pub text: String,
    pub actioner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceCc {
    pub members: Vec<String>,
    pub comment: Option<String>,
    pub actioner: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// `me` (the caller's member) or a member id.
    pub assignee: Option<String>,
    /// `new`, `running`, `paused`, `completed` or `canceled`.
    pub status: Option<String>,
    /// Only this instance's tasks.
    pub instance_id: Option<String>,
    /// 1 to 200 (default 50).
    pub page_size: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of tasks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalTaskPage {
    pub items: Vec<ApprovalTaskOut>,
    pub next_cursor: Option<String>,
}

/// The member a credential acts as: a session's or personal token's own; an organization token or app
/// names `actioner`.
pub(crate) fn acting(auth: &Authenticated, actioner: Option<&str>) -> ApiResult<Acting> {
    let own = match &auth.principal.actor {
        Actor::Member { id, .. } => Some(*id),
        Actor::Token { member_id, .. } => *member_id,
        Actor::App { .. } | Actor::System | Actor::Flow { .. } | Actor::Share { .. } => None,
    };
    let member =
        match (own, actioner) {
            (Some(_), Some(_)) => {
                return Err(Invalid::one(
                    "actioner",
                    DetailCode::NotAllowed,
                    "a session or personal token acts as its own member",
                )
                .into());
            }
            (Some(member), None) => Some(member),
            (None, Some(raw)) => Some(raw.parse::<MemberId>().map_err(|_| {
                Invalid::from(Reason::format("id", "not a member id").at("actioner"))
            })?),
            (None, None) => None,
        };
    Ok(Acting {
        member,
        credential: auth.principal.actor.clone(),
        admin: auth.principal.scopes.grants(Scope::Admin),
    })
}

pub(crate) fn idempotency(
    headers: &HeaderMap,
    auth: &Authenticated,
    path: &str,
    body: &[u8],
) -> ApiResult<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| !key.is_empty() && key.len() <= 255)
        .ok_or_else(|| {
            ApiError::invalid_request("Idempotency-Key must be 1 to 255 visible characters")
        })?;
    let mut digest = Sha256::new();
    digest.update(path.as_bytes());
    digest.update([0]);
    digest.update(body);
    Ok(Some(IdempotencyKey {
        credential: auth.principal.rate_key,
        key: key.to_owned(),
        fingerprint: digest.finalize().into(),
    }))
}

/// A body that may be empty (then `T::default()`).
pub(crate) fn optional_body<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if headers.contains_key(axum::http::header::CONTENT_TYPE) {
        crate::extract::require_json(headers)?;
    }
    parse_json(body)
}

pub(crate) fn required_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    crate::extract::require_json(headers)?;
    parse_json(body)
}

pub(crate) fn command_error(error: CommandError) -> ApiError {
    use tenon_approvals::Refusal;
    match error {
        CommandError::Store(error) => error.into(),
        CommandError::Refused(refusal) => match refusal {
            Refusal::TaskNotFound => ApiError::not_found("task"),
            Refusal::NotAssignee => ApiError::new(
                ErrorCode::NotAssignee,
                "the task is assigned to another member; only they (or an administrator, recorded as an agent) may act on it",
            ),
            Refusal::NotInitiator => ApiError::new(
                ErrorCode::NotAssignee,
                "only the initiator may withdraw the instance",
            ),
            Refusal::Finished => ApiError::new(ErrorCode::Conflict, "the approval has ended"),
            Refusal::Stale(reason) | Refusal::NotAllowed(reason) => {
                ApiError::new(ErrorCode::Conflict, reason)
            }
            Refusal::Invalid(invalid) => invalid.into(),
            Refusal::TooManyApprovers(count) => Invalid::from(
                Reason::too_many(
                    tenon_approvals::definition::APPROVERS_MAX,
                    format!("the approvers resolve to {count} members; a node takes at most 200"),
                )
                .at("approvers"),
            )
            .into(),
            other @ (Refusal::NeedsDirectory | Refusal::NeedsRecord) => {
                ApiError::internal("approval engine", &other)
            }
        },
    }
}

pub(crate) fn answer(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, axum::Json(answer.body)).into_response();
    if answer.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

pub(crate) fn member_ids(check: &mut Checker, field: &str, raw: &[String]) -> Vec<MemberId> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            check.field(
                &format!("{field}[{i}]"),
                id.parse::<MemberId>()
                    .map_err(|_| Reason::format("id", "not a member id")),
            )
        })
        .collect()
}

pub(crate) fn member_id(check: &mut Checker, field: &str, raw: &str) -> Option<MemberId> {
    check.field(
        field,
        raw.parse::<MemberId>()
            .map_err(|_| Reason::format("id", "not a member id")),
    )
}

/// Start an approval.
#[utoipa::path(post, path = "/api/v1/approvals", tag = "approvals",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried start answer the first status and body")),
    request_body = ApprovalStart,
    security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
    responses((status = 201, body = ApprovalOut),
        (status = 400, body = ErrorBody), (status = 409, description = "An instance of the process already runs on the record, or the Idempotency-Key was reused", body = ErrorBody),
        (status = 422, description = "Unknown process, record, initiator or approvers (named by field); nothing was written", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn start_approval(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let input: ApprovalStart = required_body(&headers, &body)?;
    let by = acting(&auth, input.actioner.as_deref())?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let mut check = Checker::default();
    let record = input.record.as_deref().and_then(|raw| {
        check.field(
            "record",
            raw.parse::<RecordId>()
                .map_err(|_| Reason::format("id", "not a record id")),
        )
    });
    let initiator = input
        .initiator
        .as_deref()
        .and_then(|raw| member_id(&mut check, "initiator", raw));
    let department = input.dept.as_deref().and_then(|raw| {
        check.field(
            "dept",
            raw.parse::<DepartmentId>()
                .map_err(|_| Reason::format("id", "not a department id")),
        )
    });
    let mut selected = BTreeMap::new();
    for (node, members) in input.selected_approvers.unwrap_or_default() {
        let ids = member_ids(&mut check, &format!("selected_approvers.{node}"), &members);
        selected.insert(node, ids);
    }
    if input.record.is_some() == input.fields.is_some() {
        check.push(
            "record",
            DetailCode::Required,
            "give either record (an existing record's id) or fields (to create one)",
        );
    }
    let mut fields = None;
    if let Some(cells) = &input.fields {
        match tenant.process(&input.process).await {
            Ok(process) => {
                let schema = tenant.table_schema_by_id(process.table_id).await?;
                let parse = parse_context(&state, auth.principal.org_id).await?;
                match parse_record_fields(&schema, cells, &parse, WriteMode::Create, "fields") {
                    Ok(parsed) => fields = Some(present(parsed)),
                    Err(problems) => problems.into_iter().for_each(|problem| check.add(problem)),
                }
            }
            Err(tenon_store::StoreError::NotFound { .. }) => check.add(
                Reason::not_found("process", format!("no process {}", input.process)).at("process"),
            ),
            Err(other) => return Err(other.into()),
        }
    }
    check.finish()?;
    let key = idempotency(&headers, &auth, "/api/v1/approvals", &body)?;
    let start = StartApproval {
        process: input.process,
        record,
        fields,
        initiator,
        department,
        selected,
        by,
    };
    let outcome = tenant
        .start_approval(&auth.write_context(), start, key.as_ref())
        .await
        .map_err(command_error)?;
    Ok(answer(outcome))
}

/// Get an approval with its tasks and operation records.
#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "Approval instance id")),
    security(("bearer" = ["approvals:read"]), ("session" = ["approvals:read"])),
    responses((status = 200, body = ApprovalOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_approval(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let id: ApprovalId = path_id(&id, "approval")?;
    let detail = state
        .store()
        .tenant(auth.principal.org_id)
        .approval(id)
        .await?;
    Ok(axum::Json(detail.json()))
}

/// A to-do list: tasks by assignee and status, newest first.
#[utoipa::path(get, path = "/api/v1/approval-tasks", tag = "approvals",
    params(TaskListParams),
    security(("bearer" = ["approvals:read"]), ("session" = ["approvals:read"])),
    responses((status = 200, body = ApprovalTaskPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> ApiResult<axum::Json<Value>> {
    let bad = |field: &str, reason: Reason| ApiError::bad_query(reason.at(field));
    let assignee = match params.assignee.as_deref() {
        None => None,
        Some("me") => Some(acting(&auth, None)?.member.ok_or_else(|| {
            bad(
                "assignee",
                Reason::new(
                    DetailCode::NotAllowed,
                    "the credential acts for no member; name a member id",
                ),
            )
        })?),
        Some(raw) => Some(
            raw.parse::<MemberId>()
                .map_err(|_| bad("assignee", Reason::format("id", "not `me` or a member id")))?,
        ),
    };
    let status = match params.status.as_deref() {
        None => None,
        Some(raw) => Some(TaskStatus::parse(raw).ok_or_else(|| {
            bad(
                "status",
                Reason::not_one_of(
                    &["new", "running", "paused", "completed", "canceled"],
                    "not a task status",
                ),
            )
        })?),
    };
    let instance = match params.instance_id.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<ApprovalId>()
                .map_err(|_| bad("instance_id", Reason::format("id", "not an id")))?,
        ),
    };
    let limit = params.page_size.unwrap_or(50);
    if !(1..=TASKS_PER_PAGE_MAX).contains(&limit) {
        return Err(bad(
            "page_size",
            Reason::new(DetailCode::OutOfRange, "must be from 1 to 200")
                .with("min", 1)
                .with("max", TASKS_PER_PAGE_MAX),
        ));
    }
    let before = match params.cursor.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| crate::extract::cursor_error())?,
        ),
    };
    let filter = TaskFilter {
        assignee,
        status,
        instance,
        before,
        limit: limit + 1,
    };
    let mut tasks = state
        .store()
        .tenant(auth.principal.org_id)
        .approval_tasks(&filter)
        .await?;
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    let next = more
        .then(|| tasks.last().map(|task| task.number.to_string()))
        .flatten();
    Ok(axum::Json(json!({
        "items": tasks.iter().map(tenon_approvals::Task::snapshot).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}
