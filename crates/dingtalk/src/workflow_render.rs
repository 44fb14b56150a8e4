//! Native approvals shown as DingTalk's workflow API shows them: an instance (`GET
//! /v1.0/workflow/processInstances`), a process's form (`GET /v1.0/workflow/forms/schemas/processCodes`)
//! and a forecast (`POST /v1.0/workflow/processes/forecast`).
//!
//! The input is the native instance as the engine types it (its tasks, and its operation records as
//! [`OperationView`]s) or the native forecast's JSON nodes, with members named by a `userid` function; the
//! output has DingTalk's keys, spellings and JSON types:
//! statuses `RUNNING`/`COMPLETED`/`TERMINATED`, results `agree`/`refuse`, task results `AGREE`/`REFUSE`/
//! `REDIRECTED`/`NONE`, operation record types in capitals (`EXECUTE_TASK_NORMAL`), `taskId` an integer
//! (the task's `number`), times `yyyy-MM-ddTHH:mmZ` (UTC).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serialize;
use serde_json::Value;
use tenon_approvals::history::RecordKind;
use tenon_approvals::state::{Decision, Instance, InstanceStatus, Task, TaskResult, TaskStatus};
use tenon_model::MemberId;
use utoipa::ToSchema;

/// `{"success": "true", "result"}`: `success` is the string `"true"`, as DingTalk sends it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GetInstanceResponse {
    #[schema(example = "true")]
    pub success: String,
    pub result: InstanceResult,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceResult {
    pub title: String,
    /// `RUNNING`, `COMPLETED` or `TERMINATED`.
    pub status: String,
    /// `agree` or `refuse` once completed; `""` otherwise.
    pub result: String,
    pub business_id: String,
    pub originator_user_id: String,
    /// The number of the originator's first department, as text (`"1"` for the root).
    pub originator_dept_id: String,
    pub originator_dept_name: String,
    pub create_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
    /// The assignees of the running tasks.
    pub approver_user_ids: Vec<String>,
    pub cc_user_ids: Vec<String>,
    pub attached_process_instance_ids: Vec<String>,
    /// Always `NONE`.
    pub biz_action: String,
    pub form_component_values: Vec<FormValueOut>,
    pub tasks: Vec<TaskOut>,
    pub operation_records: Vec<OperationRecordOut>,
}

/// One field of the instance's record.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormValueOut {
    /// The field's key.
    pub id: String,
    /// The field's name.
    pub name: String,
    /// The value as text: a number's digits, a choice's name, a JSON array's text for several values.
    pub value: String,
    pub component_type: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOut {
    /// The task's `number`.
    pub task_id: i64,
    pub user_id: String,
    /// `NEW`, `RUNNING`, `PAUSED`, `CANCELED` or `COMPLETED`.
    pub status: String,
    /// `AGREE`, `REFUSE`, `REDIRECTED` or `NONE`.
    pub result: String,
    /// The node's key.
    pub activity_id: String,
    pub process_instance_id: String,
    pub create_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
    pub pc_url: String,
    pub mobile_url: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationRecordOut {
    /// Absent for what the platform did (an automatic pass, the finish).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub date: String,
    /// The native type in capitals: `START_PROCESS_INSTANCE`, `EXECUTE_TASK_NORMAL`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `AGREE`, `REFUSE` or `NONE`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    pub cc_user_ids: Vec<String>,
    pub images: Vec<String>,
}

/// DingTalk's time: `yyyy-MM-ddTHH:mmZ` of a native RFC 3339 UTC time (`2026-12-05T08:31:41.5Z`).
pub fn dingtalk_time(native: &str) -> String {
    match native.get(..16) {
        Some(minutes) => format!("{minutes}Z"),
        None => native.to_owned(),
    }
}

/// [`dingtalk_time`] of a time, written directly (no RFC 3339 text in between) for the years RFC 3339
/// writes with four digits; other years as [`dingtalk_time`] cuts chrono's text.
pub fn dingtalk_minute(at: DateTime<Utc>) -> String {
    if (0..=9999).contains(&at.year()) {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}Z",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute()
        )
    } else {
        dingtalk_time(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// DingTalk's instance status (`new` is shown as running).
pub fn instance_status(native: InstanceStatus) -> &'static str {
    match native {
        InstanceStatus::Completed => "COMPLETED",
        InstanceStatus::Terminated => "TERMINATED",
        InstanceStatus::New | InstanceStatus::Running => "RUNNING",
    }
}

/// DingTalk's task status.
pub fn task_status(native: TaskStatus) -> &'static str {
    match native {
        TaskStatus::New => "NEW",
        TaskStatus::Running => "RUNNING",
        TaskStatus::Paused => "PAUSED",
        TaskStatus::Canceled => "CANCELED",
        TaskStatus::Completed => "COMPLETED",
    }
}

/// DingTalk's task result: a handle node's `done` is `AGREE`; a return is `NONE`.
pub fn task_result(native: Option<TaskResult>) -> &'static str {
    match native {
        Some(TaskResult::Agree | TaskResult::Done) => "AGREE",
        Some(TaskResult::Refuse) => "REFUSE",
        Some(TaskResult::Redirected) => "REDIRECTED",
        Some(TaskResult::Returned) | None => "NONE",
    }
}

/// DingTalk's operation record result: only agreeing (or a handle node's `done`) and refusing show.
pub fn record_result(native: Option<TaskResult>) -> &'static str {
    match native {
        Some(TaskResult::Agree | TaskResult::Done) => "AGREE",
        Some(TaskResult::Refuse) => "REFUSE",
        Some(TaskResult::Redirected | TaskResult::Returned) | None => "NONE",
    }
}

/// What [`render_instance`] needs besides the native instance.
#[derive(Debug, Clone)]
pub struct InstanceContext {
    pub title: String,
    pub originator_dept_id: String,
    pub originator_dept_name: String,
    pub form_values: Vec<FormValueOut>,
}

/// An operation record as [`render_instance`] reads it, borrowed from the native one (the credential,
/// the task and `seq` are not shown).
#[derive(Debug, Clone, Copy)]
pub struct OperationView<'a> {
    pub kind: RecordKind,
    pub actor: Option<MemberId>,
    pub node: Option<&'a str>,
    pub result: Option<TaskResult>,
    pub comment: Option<&'a str>,
    /// Who the record names (shown only for a CC).
    pub members: &'a [MemberId],
    pub at: DateTime<Utc>,
}

/// `GET /v1.0/workflow/processInstances`' answer for a native instance, its tasks and its operation
/// records (in `seq` order), members named by `userid`.
pub fn render_instance(
    instance: &Instance,
    tasks: &[Task],
    operations: &[OperationView<'_>],
    context: InstanceContext,
    userid: &dyn Fn(MemberId) -> String,
) -> GetInstanceResponse {
    let instance_id = instance.id.to_string();
    let mut approver_user_ids = Vec::new();
    let tasks: Vec<TaskOut> = tasks
        .iter()
        .map(|task| {
            let user_id = userid(task.assignee);
            if task.status == TaskStatus::Running {
                approver_user_ids.push(user_id.clone());
            }
            TaskOut {
                task_id: task.number,
                user_id,
                status: task_status(task.status).to_owned(),
                result: task_result(task.result).to_owned(),
                activity_id: task.node.clone(),
                process_instance_id: instance_id.clone(),
                create_time: dingtalk_minute(task.created_at),
                finish_time: task.finished_at.map(dingtalk_minute),
                pc_url: String::new(),
                mobile_url: String::new(),
            }
        })
        .collect();
    let mut cc_user_ids: Vec<String> = Vec::new();
    let operation_records = operations
        .iter()
        .map(|operation| {
            let cc = if operation.kind == RecordKind::ProcessCc {
                let members: Vec<String> = operation.members.iter().map(|id| userid(*id)).collect();
                for member in &members {
                    if !cc_user_ids.contains(member) {
                        cc_user_ids.push(member.clone());
                    }
                }
                members
            } else {
                Vec::new()
            };
            OperationRecordOut {
                user_id: operation.actor.map(userid),
                date: dingtalk_minute(operation.at),
                kind: operation.kind.as_str().to_ascii_uppercase(),
                result: record_result(operation.result).to_owned(),
                remark: operation.comment.map(str::to_owned),
                activity_id: operation.node.map(str::to_owned),
                cc_user_ids: cc,
                images: Vec::new(),
            }
        })
        .collect();
    GetInstanceResponse {
        success: "true".to_owned(),
        result: InstanceResult {
            title: context.title,
            status: instance_status(instance.status).to_owned(),
            result: instance.result.map_or("", Decision::as_str).to_owned(),
            business_id: instance.business_id.clone(),
            originator_user_id: userid(instance.initiator),
            originator_dept_id: context.originator_dept_id,
            originator_dept_name: context.originator_dept_name,
            create_time: dingtalk_minute(instance.created_at),
            finish_time: instance.finished_at.map(dingtalk_minute),
            approver_user_ids,
            cc_user_ids,
            attached_process_instance_ids: Vec::new(),
            biz_action: "NONE".to_owned(),
            form_component_values: context.form_values,
            tasks,
            operation_records,
        },
    }
}

/// A field of a process's table, as the form schema shows it.
#[derive(Debug, Clone)]
pub struct SchemaField {
    pub key: String,
    pub name: String,
    pub field_type: String,
    pub required: bool,
    /// A select's choice names.
    pub choices: Vec<String>,
}

/// `{"result": {"name", "memo", "formCode", "status", "gmtCreate", "gmtModified", "schemaContent":
/// {"title", "icon", "items": [{"componentName", "props": {"id", "label", "required", "options"}}]}}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormSchemaResponse {
    pub result: FormSchemaResult,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormSchemaResult {
    pub name: String,
    pub memo: String,
    /// The process code.
    pub form_code: String,
    /// `PUBLISHED` once a version is published, else `INVALID`.
    pub status: String,
    pub gmt_create: String,
    pub gmt_modified: String,
    pub schema_content: SchemaContent,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchemaContent {
    pub title: String,
    pub icon: String,
    pub items: Vec<SchemaItem>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaItem {
    pub component_name: String,
    pub props: SchemaProps,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchemaProps {
    /// The field's key.
    pub id: String,
    pub label: String,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// The form of a process: its table's fields as components.
pub fn render_schema(
    name: &str,
    code: &str,
    published: bool,
    created_at: &str,
    updated_at: &str,
    fields: &[SchemaField],
) -> FormSchemaResponse {
    FormSchemaResponse {
        result: FormSchemaResult {
            name: name.to_owned(),
            memo: String::new(),
            form_code: code.to_owned(),
            status: if published { "PUBLISHED" } else { "INVALID" }.to_owned(),
            gmt_create: dingtalk_time(created_at),
            gmt_modified: dingtalk_time(updated_at),
            schema_content: SchemaContent {
                title: name.to_owned(),
                icon: String::new(),
                items: fields
                    .iter()
                    .map(|field| SchemaItem {
                        component_name: crate::workflow::component_type(&field.field_type)
                            .to_owned(),
                        props: SchemaProps {
                            id: field.key.clone(),
                            label: field.name.clone(),
                            required: field.required,
                            options: (!field.choices.is_empty()).then(|| field.choices.clone()),
                        },
                    })
                    .collect(),
            },
        },
    }
}

/// `{"result": {"isForecastSuccess", "isStaticWorkflow", "processCode", "userId",
/// "workflowActivityRules", "workflowForecastNodes"}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ForecastResponse {
    pub result: ForecastResult,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastResult {
    pub is_forecast_success: bool,
    /// Whether the process has no condition (every instance takes the same path).
    pub is_static_workflow: bool,
    pub process_code: String,
    /// The process's number (an integer, as DingTalk's `processId` is).
    pub process_id: i64,
    pub user_id: String,
    pub workflow_activity_rules: Vec<ActivityRule>,
    pub workflow_forecast_nodes: Vec<ForecastNode>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRule {
    pub activity_id: String,
    pub activity_name: String,
    /// `target_approval` (a node whose approvers the initiator selects) or `target_approval_auto`.
    pub activity_type: String,
    /// Whether the initiator selects this node's approvers (`approvers[i]` of a start).
    pub is_target_select: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_activity_id: Option<String>,
    pub workflow_actor: WorkflowActor,
    pub activity_actioners: Vec<Actioner>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowActor {
    pub actor_key: String,
    /// `approver`, `processor` (a handle node) or `notifier` (CC).
    pub actor_type: String,
    /// `OR`, `AND`, `ONE_BY_ONE` or `VOTE`.
    pub approval_method: String,
    pub approval_type: String,
    pub actor_selection_type: String,
    pub allowed_multi: bool,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actioner {
    pub user_id: String,
    pub name: String,
    pub avatar: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastNode {
    pub activity_id: String,
    pub out_id: String,
}

/// A forecast's node as the native forecast answers it, with what the rendering adds.
#[derive(Debug, Clone)]
pub struct ForecastStep {
    /// `{"node", "type", "method", "approvers"}` of the native forecast.
    pub native: Value,
    pub name: String,
    pub selected: bool,
}

/// The forecast of a process (its code and number) from the native one's nodes, approvers named by
/// `userid` and `name`.
pub fn render_forecast(
    (code, process_id): (&str, i64),
    user_id: &str,
    is_static: bool,
    steps: &[ForecastStep],
    member: &dyn Fn(&str) -> (String, String),
) -> ForecastResponse {
    let mut rules = Vec::new();
    let mut nodes = Vec::new();
    let mut previous: Option<String> = None;
    for step in steps {
        let key = text(&step.native["node"]);
        let actor_type = match step.native["type"].as_str() {
            Some("handle") => "processor",
            Some("cc") => "notifier",
            _ => "approver",
        };
        let method = step.native["method"]
            .as_str()
            .unwrap_or("or")
            .to_ascii_uppercase();
        let actioners = step.native["approvers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|id| {
                let (user_id, name) = member(id);
                Actioner {
                    user_id,
                    name,
                    avatar: String::new(),
                }
            })
            .collect();
        rules.push(ActivityRule {
            activity_id: key.clone(),
            activity_name: step.name.clone(),
            activity_type: if step.selected {
                "target_approval"
            } else {
                "target_approval_auto"
            }
            .to_owned(),
            is_target_select: step.selected,
            prev_activity_id: previous.clone(),
            workflow_actor: WorkflowActor {
                actor_key: key.clone(),
                actor_type: actor_type.to_owned(),
                approval_method: method,
                approval_type: "MANUAL".to_owned(),
                actor_selection_type: if step.selected { "allStaff" } else { "rule" }.to_owned(),
                allowed_multi: true,
                required: step.selected,
            },
            activity_actioners: actioners,
        });
        nodes.push(ForecastNode {
            activity_id: key.clone(),
            out_id: key.clone(),
        });
        previous = Some(key);
    }
    ForecastResponse {
        result: ForecastResult {
            is_forecast_success: true,
            is_static_workflow: is_static,
            process_code: code.to_owned(),
            process_id,
            user_id: user_id.to_owned(),
            workflow_activity_rules: rules,
            workflow_forecast_nodes: nodes,
        },
    }
}

#[cfg(test)]
#[path = "workflow_render_tests.rs"]
mod tests;
