//! The oapi family's approvals (`POST /topapi/processinstance/create|get|listids`,
//! `/topapi/process/instance/terminate`): snake_case answers with `errcode`, the instance as the legacy API
//! shows it — the v1.0 rendering ([`crate::workflow_render`]) with the legacy keys: times `yyyy-MM-dd
//! HH:mm:ss` (UTC, to the minute), `taskid` as text, `originator_userid`, `operation_type`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::workflow_render::InstanceResult;

/// `{"errcode": 0, "errmsg": "ok", "process_instance_id", "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyCreateResponse {
    pub errcode: i64,
    pub errmsg: String,
    pub process_instance_id: String,
    pub request_id: String,
}

/// `{"errcode": 0, "errmsg": "ok", "process_instance", "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyGetResponse {
    pub errcode: i64,
    pub errmsg: String,
    pub process_instance: LegacyInstance,
    pub request_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyInstance {
    pub title: String,
    pub create_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
    pub originator_userid: String,
    pub originator_dept_id: String,
    pub originator_dept_name: String,
    /// `RUNNING`, `COMPLETED` or `TERMINATED`.
    pub status: String,
    /// `agree`, `refuse` or `""`.
    pub result: String,
    pub business_id: String,
    pub approver_userids: Vec<String>,
    pub cc_userids: Vec<String>,
    pub form_component_values: Vec<LegacyValue>,
    pub tasks: Vec<LegacyTask>,
    pub operation_records: Vec<LegacyRecord>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyValue {
    pub id: String,
    pub name: String,
    pub value: String,
    pub component_type: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyTask {
    /// The task's `number`, as text.
    pub taskid: String,
    pub userid: String,
    pub task_status: String,
    pub task_result: String,
    pub activity_id: String,
    pub create_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    pub date: String,
    pub operation_type: String,
    pub operation_result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

/// `{"errcode": 0, "errmsg": "ok", "result": {"list", "next_cursor"}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyListIdsResponse {
    pub errcode: i64,
    pub errmsg: String,
    pub result: LegacyIds,
    pub request_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyIds {
    pub list: Vec<String>,
    /// The next page's `cursor`, only while more follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
}

/// `{"errcode": 0, "errmsg": "ok", "result": true, "success": true, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyTerminateResponse {
    pub errcode: i64,
    pub errmsg: String,
    pub result: bool,
    pub success: bool,
    pub request_id: String,
}

/// `yyyy-MM-dd HH:mm:ss` of a v1.0 time (`yyyy-MM-ddTHH:mmZ`).
pub fn legacy_time(v1: &str) -> String {
    match v1.get(..16) {
        Some(minutes) => format!("{}:00", minutes.replacen('T', " ", 1)),
        None => v1.to_owned(),
    }
}

/// The legacy shape of a v1.0 instance.
pub fn legacy_instance(v1: InstanceResult) -> LegacyInstance {
    LegacyInstance {
        title: v1.title,
        create_time: legacy_time(&v1.create_time),
        finish_time: v1.finish_time.as_deref().map(legacy_time),
        originator_userid: v1.originator_user_id,
        originator_dept_id: v1.originator_dept_id,
        originator_dept_name: v1.originator_dept_name,
        status: v1.status,
        result: v1.result,
        business_id: v1.business_id,
        approver_userids: v1.approver_user_ids,
        cc_userids: v1.cc_user_ids,
        form_component_values: v1
            .form_component_values
            .into_iter()
            .map(|value| LegacyValue {
                id: value.id,
                name: value.name,
                value: value.value,
                component_type: value.component_type,
            })
            .collect(),
        tasks: v1
            .tasks
            .into_iter()
            .map(|task| LegacyTask {
                taskid: task.task_id.to_string(),
                userid: task.user_id,
                task_status: task.status,
                task_result: task.result,
                activity_id: task.activity_id,
                create_time: legacy_time(&task.create_time),
                finish_time: task.finish_time.as_deref().map(legacy_time),
            })
            .collect(),
        operation_records: v1
            .operation_records
            .into_iter()
            .map(|record| LegacyRecord {
                userid: record.user_id,
                date: legacy_time(&record.date),
                operation_type: record.kind,
                operation_result: record.result,
                remark: record.remark,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_times_are_space_separated_to_the_second() {
        assert_eq!(legacy_time("2026-12-05T08:31Z"), "2026-12-05 08:31:00");
    }
}
