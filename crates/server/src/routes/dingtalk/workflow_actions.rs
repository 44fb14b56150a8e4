//! v1.0 workflow actions (#21 part 2) as native approval commands: `POST
//! /v1.0/workflow/processInstances/execute` (approve or refuse a task by its `taskId`, the task's
//! `number`), `…/processInstances/terminate` (the originator's withdraw, or an administrator's terminate),
//! `POST /v1.0/workflow/tasks/redirect` (transfer), and the reads `POST /v1.0/workflow/processes/forecast`
//! and `…/processes/instanceIds/query`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde_json::json;
use tenon_approvals::engine::Command;
use tenon_dingtalk::workflow::{
    DoneResponse, ExecuteRequest, ForecastRequest, INSTANCE_IDS_MAX, InstanceIdsRequest,
    InstanceIdsResponse, InstanceIdsResult, RedirectRequest, RedirectResponse, TerminateRequest,
    native_instance_status, record_fields, selected_nodes,
};
use tenon_dingtalk::workflow_render::{ForecastResponse, ForecastStep, render_forecast};
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::{ApprovalId, MemberId};
use tenon_store::InstanceIdQuery;
use tenon_store::approvals::{ForecastRequest as NativeForecast, Target};

use super::oauth::read;
use super::workflow::{Failure, acting_as, invalid, member_of, missing, native, required, try_v1};
use crate::auth::{Authed, Authenticated, scopes};
use crate::extract::ApiBytes;
use crate::routes::approvals::command_error;
use crate::routes::records_io::parse_context;
use crate::state::AppState;

fn instance_id(raw: Option<String>) -> Result<ApprovalId, super::errors::V1Failure> {
    required(raw, "processInstanceId")?
        .parse::<ApprovalId>()
        .map_err(|_| invalid("processInstanceId: not an instance id"))
}

fn done() -> Response {
    axum::Json(DoneResponse {
        success: true,
        result: true,
    })
    .into_response()
}

/// Approve or refuse a task (DingTalk `workflow/processInstances/execute`).
#[utoipa::path(
    post, path = "/v1.0/workflow/processInstances/execute", tag = "dingtalk",
    request_body = ExecuteRequest,
    security(("dingtalk_header" = ["approvals:write"])),
    responses(
        (status = 200, description = "`{\"success\": true, \"result\": true}` (booleans): the task was decided as `POST /api/v1/approval-tasks/{id}/approve|refuse` decides it", body = DoneResponse),
        (status = 400, description = "`MissingParameter`, `InvalidParameter` (`result` not `agree`/`refuse`, an unknown user, a task not of the instance, a task or instance that moved on); nothing is written", body = tenon_dingtalk::V1ErrorBody),
        (status = 403, description = "`Forbidden.AccessDenied.AccessTokenPermissionDenied`: the actioner is not the task's assignee (and the token is no administrator's)", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_instance_execute(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    body: ApiBytes,
) -> Response {
    let request: ExecuteRequest = try_v1!(read(&body));
    let instance = try_v1!(instance_id(request.process_instance_id));
    let actioner = try_v1!(required(request.actioner_user_id, "actionerUserId"));
    let Some(number) = request.task_id else {
        return missing("taskId").into_response();
    };
    let result = try_v1!(required(request.result, "result"));
    if result != "agree" && result != "refuse" {
        return invalid("result must be agree or refuse").into_response();
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let task = match tenant.dingtalk_task(number).await {
        Ok(Some((task, of))) if of == instance => task,
        Ok(_) => {
            return invalid(format!("taskId: no task {number} in the instance")).into_response();
        }
        Err(error) => return native(error),
    };
    let member = match member_of(&tenant, &actioner, "actionerUserId").await {
        Ok(member) => member,
        Err(failure) => return failure.v1(),
    };
    let by = match acting_as(&auth, Some(member)) {
        Ok(by) => by,
        Err(failure) => return failure.v1(),
    };
    let comment = request.remark.filter(|remark| !remark.is_empty());
    let command = if result == "agree" {
        Command::Approve {
            task,
            comment,
            resubmission: None,
            by,
        }
    } else {
        Command::Refuse { task, comment, by }
    };
    match tenant
        .approval_command(&auth.write_context(), Target::Task(task), command, None)
        .await
    {
        Ok(_) => done(),
        Err(error) => native(command_error(error)),
    }
}

/// End an instance (DingTalk `workflow/processInstances/terminate`).
#[utoipa::path(
    post, path = "/v1.0/workflow/processInstances/terminate", tag = "dingtalk",
    request_body = TerminateRequest,
    security(("dingtalk_header" = ["approvals:write"])),
    responses(
        (status = 200, description = "`{\"success\": true, \"result\": true}`: withdrawn when `operatingUserId` is the originator and `isSystem` is not true (as `POST /api/v1/approvals/{id}/withdraw`), else terminated (as `…/terminate`, which needs a token holding `admin`)", body = DoneResponse),
        (status = 400, description = "`MissingParameter`, `InvalidParameter` (an unknown user, an instance that has ended); nothing is written", body = tenon_dingtalk::V1ErrorBody),
        (status = 403, description = "`Forbidden.AccessDenied.AccessTokenPermissionDenied`", body = tenon_dingtalk::V1ErrorBody),
        (status = 404, description = "`resource.not.found`: no such instance in the organization", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_instance_terminate(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    body: ApiBytes,
) -> Response {
    let request: TerminateRequest = try_v1!(read(&body));
    let instance = try_v1!(instance_id(request.process_instance_id));
    let end = End {
        instance,
        system: request.is_system.unwrap_or(false),
        operator: request.operating_user_id,
        remark: request.remark,
        operator_name: "operatingUserId",
    };
    match end_instance(&state, &auth, end).await {
        Ok(()) => done(),
        Err(failure) => failure.v1(),
    }
}

/// A terminate as either family asks for it.
pub(super) struct End {
    pub instance: ApprovalId,
    pub system: bool,
    pub operator: Option<String>,
    pub remark: Option<String>,
    pub operator_name: &'static str,
}

/// Withdraws (the originator, not as the system) or terminates an instance.
pub(super) async fn end_instance(
    state: &AppState,
    auth: &Authenticated,
    end: End,
) -> Result<(), Failure> {
    let operator = end.operator.filter(|userid| !userid.is_empty());
    if !end.system && operator.is_none() {
        return Err(Failure::Missing(format!(
            "{} is required",
            end.operator_name
        )));
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let member = match &operator {
        Some(userid) => Some(member_of(&tenant, userid, end.operator_name).await?),
        None => None,
    };
    let initiator = tenant
        .approval(end.instance)
        .await?
        .state
        .instance
        .initiator;
    let by = acting_as(auth, member)?;
    let comment = end.remark.filter(|remark| !remark.is_empty());
    let command = if !end.system && member == Some(initiator) {
        Command::Withdraw { comment, by }
    } else {
        Command::Terminate { comment, by }
    };
    tenant
        .approval_command(
            &auth.write_context(),
            Target::Instance(end.instance),
            command,
            None,
        )
        .await
        .map_err(command_error)?;
    Ok(())
}

/// Hand a task to another user (DingTalk `workflow/tasks/redirect`).
#[utoipa::path(
    post, path = "/v1.0/workflow/tasks/redirect", tag = "dingtalk",
    request_body = RedirectRequest,
    security(("dingtalk_header" = ["approvals:write"])),
    responses(
        (status = 200, description = "`{\"result\": true}`: the task was transferred as `POST /api/v1/approval-tasks/{id}/transfer` does", body = RedirectResponse),
        (status = 400, description = "`MissingParameter`, `InvalidParameter` (an unknown task or user, a task that moved on); nothing is written", body = tenon_dingtalk::V1ErrorBody),
        (status = 403, description = "`Forbidden.AccessDenied.AccessTokenPermissionDenied`: `operateUserId` is not the assignee", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_task_redirect(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    body: ApiBytes,
) -> Response {
    let request: RedirectRequest = try_v1!(read(&body));
    let Some(number) = request.task_id else {
        return missing("taskId").into_response();
    };
    let to = try_v1!(required(request.to_user_id, "toUserId"));
    let operator = try_v1!(required(request.operate_user_id, "operateUserId"));
    let tenant = state.store().tenant(auth.principal.org_id);
    let task = match tenant.dingtalk_task(number).await {
        Ok(Some((task, _))) => task,
        Ok(None) => return invalid(format!("taskId: no task {number}")).into_response(),
        Err(error) => return native(error),
    };
    let (to, operator) = match (
        member_of(&tenant, &to, "toUserId").await,
        member_of(&tenant, &operator, "operateUserId").await,
    ) {
        (Ok(to), Ok(operator)) => (to, operator),
        (Err(failure), _) | (_, Err(failure)) => return failure.v1(),
    };
    let by = match acting_as(&auth, Some(operator)) {
        Ok(by) => by,
        Err(failure) => return failure.v1(),
    };
    let command = Command::Transfer {
        task,
        to,
        comment: request.remark.filter(|remark| !remark.is_empty()),
        by,
    };
    match tenant
        .approval_command(&auth.write_context(), Target::Task(task), command, None)
        .await
    {
        Ok(_) => axum::Json(RedirectResponse { result: true }).into_response(),
        Err(error) => native(command_error(error)),
    }
}

/// Who would approve an instance (DingTalk `workflow/processes/forecast`).
#[utoipa::path(
    post, path = "/v1.0/workflow/processes/forecast", tag = "dingtalk",
    request_body = ForecastRequest,
    security(("dingtalk_header" = ["apps:read"])),
    responses(
        (status = 200, description = "The nodes an instance started now by `userId` would pass if every approver agreed (as `POST /api/v1/processes/{code}/forecast`); a node whose approvers are chosen at the start is `isTargetSelect`; nothing is written", body = ForecastResponse),
        (status = 400, description = "`MissingParameter` (`processCode`, `userId`), `InvalidParameter`", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_process_forecast(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    body: ApiBytes,
) -> Response {
    let request: ForecastRequest = try_v1!(read(&body));
    let code = try_v1!(required(request.process_code, "processCode"));
    let userid = try_v1!(required(request.user_id, "userId"));
    let tenant = state.store().tenant(auth.principal.org_id);
    let (process, definition) = match tenant.dingtalk_published(&code).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid(format!("processCode: no process {code}")).into_response(),
        Err(error) => return native(error),
    };
    let initiator = match member_of(&tenant, &userid, "userId").await {
        Ok(member) => member,
        Err(failure) => return failure.v1(),
    };
    let department = match request.dept_id.filter(|number| *number > 0) {
        None => None,
        Some(number) => match tenant.dingtalk_department_id(number).await {
            Ok(Some(id)) => Some(id),
            Ok(None) => return invalid(format!("deptId: no department {number}")).into_response(),
            Err(error) => return native(error),
        },
    };
    let values = request.form_component_values.unwrap_or_default();
    let fields = if values.is_empty() {
        None
    } else {
        let cells = match record_fields(&values) {
            Ok(cells) => cells,
            Err(_) => {
                return invalid("formComponentValues: each value needs a name").into_response();
            }
        };
        let schema = match tenant.table_schema_by_id(process.table_id).await {
            Ok(schema) => schema,
            Err(error) => return native(error),
        };
        let parse = match parse_context(&state, auth.principal.org_id).await {
            Ok(parse) => parse,
            Err(error) => return native(error),
        };
        match parse_record_fields(
            &schema,
            &cells,
            &parse,
            WriteMode::Create,
            "formComponentValues",
        ) {
            Ok(parsed) => Some(present(parsed)),
            Err(problems) => {
                let reasons: Vec<String> = problems
                    .iter()
                    .map(|problem| format!("{}: {}", problem.field, problem.reason))
                    .collect();
                return invalid(reasons.join("; ")).into_response();
            }
        }
    };
    let by = match acting_as(&auth, Some(initiator)) {
        Ok(by) => by,
        Err(failure) => return failure.v1(),
    };
    let forecast = NativeForecast {
        record: None,
        fields,
        initiator: Some(initiator),
        department,
        selected: BTreeMap::new(),
        by,
    };
    let nodes = match tenant.forecast_approval(&code, forecast).await {
        Ok(nodes) => nodes,
        Err(error) => return native(command_error(error)),
    };
    let selected = selected_nodes(&definition);
    let names: BTreeMap<String, String> = definition["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| {
            let key = node["key"].as_str()?;
            Some((
                key.to_owned(),
                node["name"].as_str().unwrap_or(key).to_owned(),
            ))
        })
        .collect();
    let is_static = !definition["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|node| node["type"] == "condition");
    let mut members: Vec<MemberId> = nodes
        .iter()
        .flat_map(|node| node.approvers.iter().copied())
        .collect();
    members.sort_unstable();
    members.dedup();
    let people = match tenant.dingtalk_people(&members).await {
        Ok(people) => people,
        Err(error) => return native(error),
    };
    let steps: Vec<ForecastStep> = nodes
        .iter()
        .map(|node| ForecastStep {
            native: json!({
                "node": node.node,
                "type": node.node_type,
                "method": node.method.map(|method| method.to_json()),
                "approvers": node.approvers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            name: names
                .get(&node.node)
                .cloned()
                .unwrap_or_else(|| node.node.clone()),
            selected: selected.contains(&node.node),
        })
        .collect();
    let people_by_id: BTreeMap<String, (String, String)> = people
        .into_iter()
        .map(|(member, person)| (member.to_string(), (person.userid, person.name)))
        .collect();
    axum::Json(render_forecast(
        (&code, process.number),
        &userid,
        is_static,
        &steps,
        &|id: &str| {
            people_by_id
                .get(id)
                .cloned()
                .unwrap_or_else(|| (id.to_owned(), String::new()))
        },
    ))
    .into_response()
}

/// Ids of a process's instances (DingTalk `workflow/processes/instanceIds/query`).
#[utoipa::path(
    post, path = "/v1.0/workflow/processes/instanceIds/query", tag = "dingtalk",
    request_body = InstanceIdsRequest,
    security(("dingtalk_header" = ["approvals:read"])),
    responses(
        (status = 200, description = "`{\"success\": true, \"result\": {\"list\", \"nextToken\"}}`: ids of the instances created in `[startTime, endTime)` (milliseconds), oldest first; `nextToken` (an offset, as text) only while more follow", body = InstanceIdsResponse),
        (status = 400, description = "`MissingParameter` (`processCode`, `startTime`), `InvalidParameter` (`maxResults` not 1–20, a negative `nextToken`, an unknown status or process)", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_instance_ids(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    body: ApiBytes,
) -> Response {
    let request: InstanceIdsRequest = try_v1!(read(&body));
    let code = try_v1!(required(request.process_code, "processCode"));
    let Some(start) = request.start_time else {
        return missing("startTime").into_response();
    };
    let mut statuses = Vec::new();
    for status in request.statuses.unwrap_or_default() {
        match native_instance_status(&status) {
            Some(native) => statuses.push(native),
            None => {
                return invalid(format!(
                    "statuses: {status:?} is not RUNNING, COMPLETED or TERMINATED"
                ))
                .into_response();
            }
        }
    }
    let page = IdsInput {
        code,
        start,
        end: request.end_time,
        offset: request.next_token.unwrap_or(0),
        limit: request.max_results.unwrap_or(INSTANCE_IDS_MAX),
        userids: request.user_ids.unwrap_or_default(),
        statuses,
    };
    match instance_ids(&state, &auth, page).await {
        Ok((list, next)) => axum::Json(InstanceIdsResponse {
            success: true,
            result: InstanceIdsResult {
                list,
                next_token: next.map(|next| next.to_string()),
            },
        })
        .into_response(),
        Err(failure) => failure.v1(),
    }
}

/// An instance id query as either family asks for it.
pub(super) struct IdsInput {
    pub code: String,
    /// Milliseconds since the epoch.
    pub start: i64,
    pub end: Option<i64>,
    pub offset: i64,
    pub limit: i64,
    /// Originators; empty: anyone.
    pub userids: Vec<String>,
    pub statuses: Vec<&'static str>,
}

/// A page of instance ids and the next page's offset, if any.
pub(super) async fn instance_ids(
    state: &AppState,
    auth: &Authenticated,
    page: IdsInput,
) -> Result<(Vec<String>, Option<i64>), Failure> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let from = DateTime::from_timestamp_millis(page.start);
    let to = match page.end {
        Some(end) => DateTime::from_timestamp_millis(end),
        // Up to now, inclusive: an instance created this millisecond is listed.
        None => Some(state.store().now() + chrono::TimeDelta::milliseconds(1)),
    };
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Failure::Invalid(
            "the start and end times are milliseconds since 1970".to_owned(),
        ));
    };
    if !(1..=INSTANCE_IDS_MAX).contains(&page.limit) || page.offset < 0 {
        return Err(Failure::Invalid(format!(
            "the page size must be 1 to {INSTANCE_IDS_MAX} and the cursor at least 0"
        )));
    }
    let initiators = if page.userids.is_empty() {
        None
    } else {
        let mut members = Vec::new();
        for userid in &page.userids {
            if let Some(user) = tenant.dingtalk_user(userid).await? {
                members.push(user.member_id);
            }
        }
        Some(members)
    };
    let query = InstanceIdQuery {
        process: page.code.clone(),
        from,
        to,
        initiators,
        statuses: page.statuses,
        offset: page.offset,
        limit: page.limit,
    };
    match tenant.dingtalk_instance_ids(&query).await? {
        Some((ids, more)) => Ok((
            ids.iter().map(ToString::to_string).collect(),
            more.then_some(page.offset + page.limit),
        )),
        None => Err(Failure::Invalid(format!("no process {}", page.code))),
    }
}
