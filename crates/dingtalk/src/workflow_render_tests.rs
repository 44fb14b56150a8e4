//! Tests of the instance rendering: DingTalk's spellings and types, and the typed rendering checked
//! against the rendering of the native JSON it replaced (kept here as the oracle) on rich instances.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fmt::Debug;
use std::str::FromStr;

use serde_json::json;
use tenon_approvals::state::RecordRef;
use tenon_model::ActivationId;

use super::*;

/// An id of any kind from a small number.
fn id<T: FromStr>(n: u32) -> T
where
    T::Err: Debug,
{
    format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn instance(status: InstanceStatus, result: Option<Decision>, finished: Option<&str>) -> Instance {
    let record = RecordRef {
        app: id(901),
        table: id(902),
        id: id(903),
    };
    let mut instance = Instance::new(
        id(900),
        id(904),
        "PROC_1".to_owned(),
        1,
        record,
        "20261205000001".to_owned(),
        at("2026-12-05T08:31:41.123456789Z"),
    );
    instance.status = status;
    instance.result = result;
    instance.initiator = id(1);
    instance.finished_at = finished.map(at);
    instance
}

fn task(number: i64, assignee: u32, status: TaskStatus, result: Option<TaskResult>) -> Task {
    Task {
        id: id(500 + u32::try_from(number).unwrap()),
        instance: id(900),
        number,
        activation: ActivationId::from_str("00000000-0000-0000-0000-000000000700").unwrap(),
        node: if number % 2 == 0 {
            "approver"
        } else {
            "handler"
        }
        .to_owned(),
        group: u32::try_from(number % 3).unwrap(),
        assignee: id(assignee),
        status,
        result,
        created_at: at("2026-12-05T08:31:41Z"),
        finished_at: (!status.is_open()).then(|| at("2026-12-05T09:00:00.5Z")),
    }
}

/// An operation record: kind, actor, result, comment, members, node, time.
struct Op(
    RecordKind,
    Option<u32>,
    Option<TaskResult>,
    Option<&'static str>,
    Vec<MemberId>,
    Option<&'static str>,
    &'static str,
);

fn views(ops: &[Op]) -> Vec<OperationView<'_>> {
    ops.iter()
        .map(
            |Op(kind, actor, result, comment, members, node, time)| OperationView {
                kind: *kind,
                actor: actor.map(id),
                node: *node,
                result: *result,
                comment: *comment,
                members,
                at: at(time),
            },
        )
        .collect()
}

/// The native JSON of `GET /api/v1/approvals/{id}` for the same instance (as the store writes operation
/// records).
fn native_json(instance: &Instance, tasks: &[Task], ops: &[Op]) -> Value {
    let mut native = instance.snapshot();
    native["tasks"] = Value::Array(tasks.iter().map(Task::snapshot).collect());
    native["operation_records"] = ops
        .iter()
        .enumerate()
        .map(
            |(seq, Op(kind, actor, result, comment, members, node, time))| {
                json!({
                    "seq": seq + 1,
                    "type": kind.as_str(),
                    "actor": actor.map(|actor| id::<MemberId>(actor).to_string()),
                    "via": {"type": "system", "id": null, "name": ""},
                    "task_id": null,
                    "node": node,
                    "result": result.map(TaskResult::as_str),
                    "comment": comment,
                    "members": members.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "automatic": false,
                    "at": at(time).to_rfc3339_opts(SecondsFormat::AutoSi, true),
                })
            },
        )
        .collect();
    native
}

fn time_of(value: &Value) -> Option<String> {
    value.as_str().map(dingtalk_time)
}

/// The rendering of the native JSON that [`render_instance`] replaced, word for word: the oracle.
fn oracle(
    native: &Value,
    context: InstanceContext,
    userid: &dyn Fn(&str) -> String,
) -> GetInstanceResponse {
    let instance_status = |native: &str| match native {
        "completed" => "COMPLETED",
        "terminated" => "TERMINATED",
        _ => "RUNNING",
    };
    let task_status = |native: &str| match native {
        "new" => "NEW",
        "paused" => "PAUSED",
        "canceled" => "CANCELED",
        "completed" => "COMPLETED",
        _ => "RUNNING",
    };
    let task_result = |native: Option<&str>| match native {
        Some("agree" | "done") => "AGREE",
        Some("refuse") => "REFUSE",
        Some("redirected") => "REDIRECTED",
        _ => "NONE",
    };
    let instance_id = text(&native["id"]);
    let tasks: Vec<TaskOut> = native["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|task| TaskOut {
            task_id: task["number"].as_i64().unwrap_or_default(),
            user_id: userid(task["assignee"].as_str().unwrap_or_default()),
            status: task_status(task["status"].as_str().unwrap_or_default()).to_owned(),
            result: task_result(task["result"].as_str()).to_owned(),
            activity_id: text(&task["node"]),
            process_instance_id: instance_id.clone(),
            create_time: time_of(&task["created_at"]).unwrap_or_default(),
            finish_time: time_of(&task["finished_at"]),
            pc_url: String::new(),
            mobile_url: String::new(),
        })
        .collect();
    let approver_user_ids = tasks
        .iter()
        .filter(|task| task.status == "RUNNING")
        .map(|task| task.user_id.clone())
        .collect();
    let mut cc_user_ids: Vec<String> = Vec::new();
    let operation_records = native["operation_records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|record| {
            let kind = text(&record["type"]);
            let members: Vec<String> = record["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(userid)
                .collect();
            let cc = if kind == "process_cc" {
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
                user_id: record["actor"].as_str().map(userid),
                date: time_of(&record["at"]).unwrap_or_default(),
                kind: kind.to_ascii_uppercase(),
                result: match record["result"].as_str() {
                    Some("agree" | "done") => "AGREE",
                    Some("refuse") => "REFUSE",
                    _ => "NONE",
                }
                .to_owned(),
                remark: record["comment"].as_str().map(str::to_owned),
                activity_id: record["node"].as_str().map(str::to_owned),
                cc_user_ids: cc,
                images: Vec::new(),
            }
        })
        .collect();
    GetInstanceResponse {
        success: "true".to_owned(),
        result: InstanceResult {
            title: context.title,
            status: instance_status(native["status"].as_str().unwrap_or_default()).to_owned(),
            result: text(&native["result"]),
            business_id: text(&native["business_id"]),
            originator_user_id: userid(native["initiator"].as_str().unwrap_or_default()),
            originator_dept_id: context.originator_dept_id,
            originator_dept_name: context.originator_dept_name,
            create_time: time_of(&native["created_at"]).unwrap_or_default(),
            finish_time: time_of(&native["finished_at"]),
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

fn context() -> InstanceContext {
    InstanceContext {
        title: "李雷提交的请假".to_owned(),
        originator_dept_id: "3".to_owned(),
        originator_dept_name: "销售部".to_owned(),
        form_values: vec![FormValueOut {
            id: "reason".to_owned(),
            name: "事由".to_owned(),
            value: "rest".to_owned(),
            component_type: "TextField".to_owned(),
        }],
    }
}

/// The typed rendering and the oracle give the same answer, byte for byte; members 1–7 have userids, the
/// others are named by their id.
fn check(instance: &Instance, tasks: &[Task], ops: &[Op]) -> Value {
    let userids: HashMap<MemberId, String> = (1..=7).map(|n| (id(n), format!("user{n}"))).collect();
    let typed = render_instance(instance, tasks, &views(ops), context(), &|member| {
        userids
            .get(&member)
            .cloned()
            .unwrap_or_else(|| member.to_string())
    });
    let by_text: HashMap<String, String> = userids
        .iter()
        .map(|(member, userid)| (member.to_string(), userid.clone()))
        .collect();
    let expected = oracle(&native_json(instance, tasks, ops), context(), &|member| {
        by_text
            .get(member)
            .cloned()
            .unwrap_or_else(|| member.to_owned())
    });
    let typed = serde_json::to_string(&typed).unwrap();
    assert_eq!(typed, serde_json::to_string(&expected).unwrap());
    serde_json::from_str(&typed).unwrap()
}

#[test]
fn a_running_instance_with_countersign_add_sign_comments_and_cc_renders_as_the_native_json_did() {
    use RecordKind::*;
    let tasks = [
        task(10, 2, TaskStatus::Completed, Some(TaskResult::Agree)),
        task(11, 3, TaskStatus::Running, None),
        task(12, 4, TaskStatus::Paused, None),
        task(13, 5, TaskStatus::Running, None),
        task(14, 8, TaskStatus::New, None),
        task(15, 6, TaskStatus::Completed, Some(TaskResult::Done)),
    ];
    let ops = [
        Op(
            StartProcessInstance,
            Some(1),
            None,
            None,
            vec![],
            None,
            "2026-12-05T08:31:41.123Z",
        ),
        Op(
            ProcessCc,
            None,
            None,
            None,
            vec![id(6), id(7)],
            None,
            "2026-12-05T08:31:41.2Z",
        ),
        Op(
            ExecuteTaskNormal,
            Some(2),
            Some(TaskResult::Agree),
            Some("同意"),
            vec![],
            Some("approver"),
            "2026-12-05T08:40:00Z",
        ),
        Op(
            AppendTaskBefore,
            Some(4),
            None,
            Some("请先看"),
            vec![id(5)],
            Some("approver"),
            "2026-12-05T08:45:59.999Z",
        ),
        Op(
            AddRemark,
            Some(3),
            None,
            Some("看一下"),
            vec![],
            None,
            "2026-12-05T08:50:00Z",
        ),
        Op(
            ExecuteTaskAuto,
            None,
            Some(TaskResult::Done),
            None,
            vec![],
            Some("handler"),
            "2026-12-05T08:51:00Z",
        ),
        Op(
            ProcessCc,
            Some(1),
            None,
            None,
            vec![id(7), id(9)],
            None,
            "2026-12-05T08:52:00Z",
        ),
    ];
    let rendered = check(&instance(InstanceStatus::Running, None, None), &tasks, &ops);
    let result = &rendered["result"];
    assert_eq!(result["approverUserIds"], json!(["user3", "user5"]));
    assert_eq!(
        result["ccUserIds"],
        json!(["user6", "user7", id::<MemberId>(9).to_string()])
    );
    assert_eq!(result["operationRecords"][3]["ccUserIds"], json!([]));
    assert!(result.get("finishTime").is_none());
}

#[test]
fn a_terminated_instance_with_redirected_and_returned_tasks_renders_as_the_native_json_did() {
    use RecordKind::*;
    let tasks = [
        task(20, 2, TaskStatus::Completed, Some(TaskResult::Redirected)),
        task(21, 8, TaskStatus::Completed, Some(TaskResult::Returned)),
        task(22, 3, TaskStatus::Completed, Some(TaskResult::Refuse)),
        task(23, 4, TaskStatus::Canceled, None),
    ];
    let ops = [
        Op(
            StartProcessInstance,
            Some(1),
            None,
            None,
            vec![],
            None,
            "2026-12-05T08:31:41Z",
        ),
        Op(
            RedirectTask,
            Some(2),
            Some(TaskResult::Redirected),
            Some("转给 8"),
            vec![id(8)],
            Some("approver"),
            "2026-12-05T08:35:00Z",
        ),
        Op(
            ExecuteTaskAgent,
            Some(7),
            Some(TaskResult::Returned),
            None,
            vec![],
            Some("approver"),
            "2026-12-05T08:36:00Z",
        ),
        Op(
            ExecuteTaskNormal,
            Some(3),
            Some(TaskResult::Refuse),
            Some("不行"),
            vec![],
            Some("approver"),
            "2026-12-05T08:37:00Z",
        ),
        Op(
            TerminateProcessInstance,
            Some(1),
            None,
            Some("撤回"),
            vec![],
            None,
            "2026-12-05T09:00:00Z",
        ),
        Op(
            FinishProcessInstance,
            None,
            None,
            None,
            vec![],
            None,
            "+10000-01-01T00:00:00Z",
        ),
    ];
    let finished = Some("2026-12-05T09:00:00Z");
    let rendered = check(
        &instance(InstanceStatus::Terminated, None, finished),
        &tasks,
        &ops,
    );
    let result = &rendered["result"];
    assert_eq!(
        (&result["status"], &result["result"]),
        (&json!("TERMINATED"), &json!(""))
    );
    assert_eq!(result["tasks"][0]["result"], "REDIRECTED");
    assert_eq!(result["operationRecords"][1]["result"], "NONE");
    assert_eq!(result["operationRecords"][5]["date"], "+10000-01-01T00:Z");
}

#[test]
fn an_instance_renders_with_dingtalk_spellings_and_types() {
    use RecordKind::*;
    assert_eq!(
        dingtalk_time("2026-12-05T08:31:41.123456Z"),
        "2026-12-05T08:31Z"
    );
    let tasks = [
        task(8, 2, TaskStatus::Completed, Some(TaskResult::Agree)),
        task(10, 3, TaskStatus::Canceled, None),
    ];
    let ops = [
        Op(
            StartProcessInstance,
            Some(1),
            None,
            None,
            vec![],
            None,
            "2026-12-05T08:31:41Z",
        ),
        Op(
            ExecuteTaskNormal,
            Some(2),
            Some(TaskResult::Agree),
            Some("ok"),
            vec![],
            Some("approver"),
            "2026-12-05T09:00:00Z",
        ),
        Op(
            FinishProcessInstance,
            None,
            Some(TaskResult::Agree),
            None,
            vec![],
            None,
            "2026-12-05T09:00:00Z",
        ),
    ];
    let completed = instance(
        InstanceStatus::Completed,
        Some(Decision::Agree),
        Some("2026-12-05T09:00:00Z"),
    );
    let rendered = check(&completed, &tasks, &ops);
    assert_eq!(rendered["success"], "true");
    let result = &rendered["result"];
    assert_eq!(
        (
            &result["status"],
            &result["result"],
            &result["originatorUserId"]
        ),
        (&json!("COMPLETED"), &json!("agree"), &json!("user1"))
    );
    assert_eq!(
        (&result["createTime"], &result["finishTime"]),
        (&json!("2026-12-05T08:31Z"), &json!("2026-12-05T09:00Z"))
    );
    assert_eq!(
        result["tasks"][0],
        json!({"taskId": 8, "userId": "user2", "status": "COMPLETED", "result": "AGREE", "activityId": "approver", "processInstanceId": id::<tenon_model::ApprovalId>(900).to_string(), "createTime": "2026-12-05T08:31Z", "finishTime": "2026-12-05T09:00Z", "pcUrl": "", "mobileUrl": ""})
    );
    assert_eq!(
        (&result["tasks"][1]["status"], &result["tasks"][1]["result"]),
        (&json!("CANCELED"), &json!("NONE"))
    );
    assert_eq!(result["operationRecords"][1]["type"], "EXECUTE_TASK_NORMAL");
    assert_eq!(result["operationRecords"][1]["result"], "AGREE");
    assert!(result["operationRecords"][2].get("userId").is_none());
    assert_eq!(result["approverUserIds"], json!([]));
    assert_eq!(
        dingtalk_minute(at("2026-01-02T03:04:59.999Z")),
        "2026-01-02T03:04Z"
    );
}
