//! Native events rendered as DingTalk's events. DingTalk's names are renderings, not events of their own:
//! Tenon keeps one outbox, and a DingTalk-format installation (stream frames) or subscription (HTTP
//! callbacks) sees the native directory events under DingTalk's names, with DingTalk's ids — a member's
//! `userid`, a department's `number`.
//!
//! | native | DingTalk |
//! |---|---|
//! | `member.created` | `user_add_org` |
//! | `member.updated` | `user_modify_org`, or `user_leave_org` when it set the status `left` |
//! | `member.deleted` | `user_leave_org` |
//! | `department.created` | `org_dept_create` |
//! | `department.updated` | `org_dept_modify` |
//! | `department.deleted` | `org_dept_remove` |
//! | `approval.instance.started` | `bpms_instance_change` `type: start` |
//! | `approval.instance.approved` / `refused` | `bpms_instance_change` `type: finish`, `result: agree` / `refuse` |
//! | `approval.instance.withdrawn` / `terminated` | `bpms_instance_change` `type: terminate` |
//! | `approval.task.created` | `bpms_task_change` `type: start` |
//! | `approval.task.approved` / `auto_approved` | `bpms_task_change` `type: finish`, `result: agree` |
//! | `approval.task.refused` / `returned` | `bpms_task_change` `type: finish`, `result: refuse` |
//! | `approval.task.transferred` | `bpms_task_change` `type: finish`, `result: redirect` |
//! | `approval.task.canceled` | `bpms_task_change` `type: cancel` |
//!
//! `approval.task.paused`/`resumed` (an add-sign before a task waits for the added approvers, whose tasks
//! are `bpms_task_change` starts) and `approval.cc` have no rendering. Approval renderings carry the
//! native event's `instance_seq` as `instanceSeq`, DingTalk's `title`, an instance's `url` (its record's
//! Tenon page) and a finished task's `remark`, with DingTalk's JSON types (times in milliseconds as
//! integers, `taskId` an integer).

use serde_json::{Value, json};

/// DingTalk's event types Tenon renders, in the table's order.
pub const EVENT_TYPES: &[&str] = &[
    "user_add_org",
    "user_modify_org",
    "user_leave_org",
    "org_dept_create",
    "org_dept_modify",
    "org_dept_remove",
    "bpms_instance_change",
    "bpms_task_change",
];

/// The native approval events `bpms_instance_change` renders.
const INSTANCE_EVENTS: &[&str] = &[
    "approval.instance.started",
    "approval.instance.approved",
    "approval.instance.refused",
    "approval.instance.withdrawn",
    "approval.instance.terminated",
];

/// The native approval events `bpms_task_change` renders.
const TASK_EVENTS: &[&str] = &[
    "approval.task.created",
    "approval.task.approved",
    "approval.task.auto_approved",
    "approval.task.refused",
    "approval.task.returned",
    "approval.task.transferred",
    "approval.task.canceled",
];

/// The native event types a DingTalk type renders.
pub fn native_types(dingtalk_type: &str) -> Option<&'static [&'static str]> {
    Some(match dingtalk_type {
        "user_add_org" => &["member.created"],
        "user_modify_org" => &["member.updated"],
        "user_leave_org" => &["member.updated", "member.deleted"],
        "org_dept_create" => &["department.created"],
        "org_dept_modify" => &["department.updated"],
        "org_dept_remove" => &["department.deleted"],
        "bpms_instance_change" => INSTANCE_EVENTS,
        "bpms_task_change" => TASK_EVENTS,
        _ => return None,
    })
}

/// Whether a native event type has a DingTalk rendering (the types a DingTalk-format installation's
/// stream carries).
pub fn renders(native_type: &str) -> bool {
    native_type.starts_with("member.")
        || native_type.starts_with("department.")
        || INSTANCE_EVENTS.contains(&native_type)
        || TASK_EVENTS.contains(&native_type)
}

/// What an event is about, as DingTalk names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A member, by `userid`.
    User(String),
    /// A department, by `number`.
    Department(i64),
    /// An approval instance or task: the camelCase keys of `bpms_instance_change`/`bpms_task_change`
    /// ([`approval_data`]).
    Approval(serde_json::Map<String, Value>),
}

/// The DingTalk type of a native event, given its `data` (`{"before", "after", "changed"}`).
pub fn dingtalk_type(native_type: &str, data: &Value) -> Option<&'static str> {
    Some(match native_type {
        "member.created" => "user_add_org",
        "member.updated" => {
            let left = |side: &str| data[side]["status"].as_str() == Some("left");
            if left("after") && !left("before") {
                "user_leave_org"
            } else {
                "user_modify_org"
            }
        }
        "member.deleted" => "user_leave_org",
        "department.created" => "org_dept_create",
        "department.updated" => "org_dept_modify",
        "department.deleted" => "org_dept_remove",
        other if INSTANCE_EVENTS.contains(&other) => "bpms_instance_change",
        other if TASK_EVENTS.contains(&other) => "bpms_task_change",
        _ => return None,
    })
}

/// Milliseconds since the epoch of a native RFC 3339 UTC time (`2026-12-05T08:31:41.5Z`).
fn millis(native: &Value) -> Option<i64> {
    let text = native.as_str()?;
    let (date, time) = text.trim_end_matches('Z').split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut time_parts = hms.splitn(3, ':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (
        time_parts.next()??,
        time_parts.next()??,
        time_parts.next()??,
    );
    let milli: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60 * 1000 + second * 1000 + milli)
}

/// What a `bpms_*` rendering shows besides the native event: the instance's title (DingTalk's
/// `{originator}提交的{process}`, [`instance_title`]) and, for a finished task, the comment the approver
/// left (`remark`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalText {
    pub title: String,
    pub remark: Option<String>,
}

/// An instance's title as DingTalk words it: `{originator's name}提交的{process's name}`.
pub fn instance_title(originator: &str, process: &str) -> String {
    format!("{originator}提交的{process}")
}

/// The Tenon page of an approval's record (`subject`: `{"app_id", "table_id", "record_id"}`): its table's
/// page, root-relative (Tenon knows no public address of its own).
pub fn approval_url(subject: &Value) -> Option<String> {
    let app = subject["app_id"].as_str()?;
    let table = subject["table_id"].as_str()?;
    Some(format!("/apps/{app}/tables/{table}"))
}

/// The `bpms_*` keys of a native approval event (`data`: `{"before", "after", "instance_seq"}`,
/// `subject`: `{"instance_id", "process", "app_id", "table_id"}`), with DingTalk's JSON types:
/// `processInstanceId`, `processCode`, `bizCategoryId` (`""`: Tenon's processes have no business category,
/// and DingTalk sends `""` for a process without one), `title`, `type`, `result`, `staffId` (the
/// initiator's, or the task assignee's, userid: `staff`), `createTime`/`finishTime` (milliseconds, integers),
/// `businessId` and `instanceSeq` (an integer); an instance's add `url` and `businessType` (`""`), a task's `taskId` (an integer) and
/// `activityId`, a finished task's `remark` (`""` without a comment). `None` for events without a rendering.
pub fn approval_data(
    native_type: &str,
    subject: &Value,
    data: &Value,
    staff: &str,
    text: &ApprovalText,
) -> Option<serde_json::Map<String, Value>> {
    let (kind, result) = match native_type {
        "approval.instance.started" | "approval.task.created" => ("start", None),
        "approval.instance.approved" | "approval.task.approved" | "approval.task.auto_approved" => {
            ("finish", Some("agree"))
        }
        "approval.instance.refused" | "approval.task.refused" | "approval.task.returned" => {
            ("finish", Some("refuse"))
        }
        "approval.task.transferred" => ("finish", Some("redirect")),
        "approval.instance.withdrawn" | "approval.instance.terminated" => ("terminate", None),
        "approval.task.canceled" => ("cancel", None),
        _ => return None,
    };
    let after = if data["after"].is_null() {
        &data["before"]
    } else {
        &data["after"]
    };
    let mut map = serde_json::Map::new();
    map.insert("processInstanceId".into(), subject["instance_id"].clone());
    map.insert("processCode".into(), subject["process"].clone());
    map.insert("bizCategoryId".into(), json!(""));
    map.insert("title".into(), json!(text.title));
    map.insert("type".into(), json!(kind));
    if let Some(result) = result {
        map.insert("result".into(), json!(result));
    }
    map.insert("staffId".into(), json!(staff));
    if let Some(number) = after["number"].as_i64() {
        map.insert("taskId".into(), json!(number));
        if let Some(node) = after["node"].as_str() {
            map.insert("activityId".into(), json!(node));
        }
        if kind == "finish" {
            map.insert(
                "remark".into(),
                json!(text.remark.as_deref().unwrap_or_default()),
            );
        }
    } else {
        // DingTalk's own deliveries carry an empty `businessType` for a process without one, as Tenon's are.
        map.insert("businessType".into(), json!(""));
        if let Some(url) = approval_url(subject) {
            map.insert("url".into(), json!(url));
        }
    }
    if let Some(business_id) = after["business_id"].as_str() {
        map.insert("businessId".into(), json!(business_id));
    }
    if let Some(created) = millis(&after["created_at"]) {
        map.insert("createTime".into(), json!(created));
    }
    if let Some(finished) = millis(&after["finished_at"]) {
        map.insert("finishTime".into(), json!(finished));
    }
    map.insert("instanceSeq".into(), data["instance_seq"].clone());
    Some(map)
}

/// The member an approval event's rendering names (`staffId`): the task's assignee, else the instance's
/// initiator (member ids, as the native snapshots have them).
pub fn approval_staff(data: &Value) -> Option<&str> {
    let after = if data["after"].is_null() {
        &data["before"]
    } else {
        &data["after"]
    };
    after["assignee"]
        .as_str()
        .or_else(|| after["initiator"].as_str())
}

/// A department's number as the event's snapshots carry it (after, else before).
pub fn department_number(data: &Value) -> Option<i64> {
    ["after", "before"]
        .into_iter()
        .find_map(|side| data[side]["number"].as_i64())
}

/// The `data` of a stream `EVENT` frame: camelCase, `userId` or `deptId` as lists as DingTalk sends them.
pub fn stream_data(subject: &Subject, corp_id: &str, event_id: &str, time_ms: i64) -> Value {
    let mut data = json!({
        "eventId": event_id,
        "corpId": corp_id,
        "timeStamp": time_ms.to_string(),
    });
    match subject {
        Subject::User(userid) => data["userId"] = json!([userid]),
        Subject::Department(number) => data["deptId"] = json!([number]),
        Subject::Approval(keys) => {
            data["eventType"] = json!(event_type_of(keys));
            for (key, value) in keys {
                data[key] = value.clone();
            }
        }
    }
    data
}

/// `bpms_task_change` for a task's keys (they carry `taskId`), else `bpms_instance_change`.
fn event_type_of(keys: &serde_json::Map<String, Value>) -> &'static str {
    if keys.contains_key("taskId") {
        "bpms_task_change"
    } else {
        "bpms_instance_change"
    }
}

/// The plaintext of an HTTP callback: PascalCase with `EventType`, as DingTalk's callbacks have it.
pub fn callback_payload(
    event_type: &str,
    subject: &Subject,
    corp_id: &str,
    event_id: &str,
    time_ms: i64,
) -> Value {
    let mut payload = json!({
        "EventType": event_type,
        "TimeStamp": time_ms.to_string(),
        "CorpId": corp_id,
        "EventId": event_id,
    });
    match subject {
        Subject::User(userid) => payload["UserId"] = json!([userid]),
        Subject::Department(number) => payload["DeptId"] = json!([number]),
        // DingTalk's approval callbacks keep their own keys camelCase beside `EventType`.
        Subject::Approval(keys) => {
            payload["corpId"] = json!(corp_id);
            for (key, value) in keys {
                payload[key] = value.clone();
            }
        }
    }
    payload
}

/// The plaintext of the registration handshake sent when a callback subscription is created; the
/// receiver answers the encrypted `success`.
pub fn check_url_payload(time_ms: i64) -> Value {
    json!({"EventType": "check_url", "TimeStamp": time_ms.to_string()})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_dingtalk_type_maps_back_to_the_native_types_that_render_it() {
        for dingtalk in EVENT_TYPES {
            let natives = native_types(dingtalk).unwrap();
            assert!(natives.iter().all(|native| renders(native)));
        }
        assert!(native_types("bpms_task_change").is_some());
        assert!(native_types("bpms_unknown").is_none());
        assert!(!renders("record.created"));
        assert!(!renders("approval.task.paused"));
    }

    #[test]
    fn a_member_set_left_leaves_the_organization() {
        let data = |before: &str, after: &str| json!({"before": {"status": before}, "after": {"status": after}});
        assert_eq!(
            dingtalk_type("member.updated", &data("active", "left")),
            Some("user_leave_org")
        );
        assert_eq!(
            dingtalk_type("member.updated", &data("active", "active")),
            Some("user_modify_org")
        );
        assert_eq!(
            dingtalk_type("member.updated", &data("left", "left")),
            Some("user_modify_org")
        );
        assert_eq!(
            dingtalk_type("member.deleted", &json!({"before": {}, "after": null})),
            Some("user_leave_org")
        );
        assert_eq!(dingtalk_type("record.created", &json!({})), None);
        assert_eq!(
            department_number(&json!({"before": {"number": 4}, "after": null})),
            Some(4)
        );
    }

    #[test]
    fn stream_data_is_camel_case_and_callbacks_pascal_case() {
        let user = Subject::User("zhangsan".to_owned());
        assert_eq!(
            stream_data(&user, "org", "ev", 5),
            json!({"eventId": "ev", "corpId": "org", "timeStamp": "5", "userId": ["zhangsan"]})
        );
        assert_eq!(
            callback_payload("org_dept_create", &Subject::Department(3), "org", "ev", 5),
            json!({"EventType": "org_dept_create", "TimeStamp": "5", "CorpId": "org", "EventId": "ev", "DeptId": [3]})
        );
    }

    #[test]
    fn approval_events_render_as_bpms_changes_with_the_instance_seq() {
        let subject = json!({"instance_id": "i1", "process": "PROC_1", "app_id": "a1", "table_id": "t1", "record_id": "r1"});
        let text = ApprovalText {
            title: instance_title("李雷", "请假"),
            remark: None,
        };
        let started = json!({"before": null, "after": {"initiator": "m1", "business_id": "20261205000001", "created_at": "1970-01-01T00:00:01.5Z", "finished_at": null}, "instance_seq": 1});
        assert_eq!(
            dingtalk_type("approval.instance.started", &started),
            Some("bpms_instance_change")
        );
        assert_eq!(approval_staff(&started), Some("m1"));
        let keys =
            approval_data("approval.instance.started", &subject, &started, "li", &text).unwrap();
        // Exact keys and JSON types: times and `instanceSeq` integers, the rest text.
        assert_eq!(
            Value::Object(keys.clone()),
            json!({"processInstanceId": "i1", "processCode": "PROC_1", "bizCategoryId": "", "title": "李雷提交的请假", "type": "start", "staffId": "li", "businessType": "", "businessId": "20261205000001", "createTime": 1500, "url": "/apps/a1/tables/t1", "instanceSeq": 1})
        );
        let data = stream_data(&Subject::Approval(keys), "org", "ev", 5);
        assert_eq!(
            (&data["eventType"], &data["type"], &data["corpId"]),
            (
                &json!("bpms_instance_change"),
                &json!("start"),
                &json!("org")
            )
        );
        let ended = json!({"before": {"initiator": "m1"}, "after": {"initiator": "m1", "business_id": "b", "created_at": "1970-01-01T00:00:01Z", "finished_at": "1970-01-01T00:00:02Z"}, "instance_seq": 9});
        let keys =
            approval_data("approval.instance.approved", &subject, &ended, "li", &text).unwrap();
        assert_eq!(
            Value::Object(keys),
            json!({"processInstanceId": "i1", "processCode": "PROC_1", "bizCategoryId": "", "title": "李雷提交的请假", "type": "finish", "result": "agree", "staffId": "li", "businessType": "", "businessId": "b", "createTime": 1000, "finishTime": 2000, "url": "/apps/a1/tables/t1", "instanceSeq": 9})
        );
        let moved = json!({"before": {"number": 7}, "after": {"number": 7, "assignee": "m2", "node": "n1", "created_at": "2026-12-05T08:31:41Z", "finished_at": "2026-12-05T08:31:42.25Z"}, "instance_seq": 4});
        let commented = ApprovalText {
            remark: Some("同意".to_owned()),
            ..text.clone()
        };
        let keys = approval_data(
            "approval.task.approved",
            &subject,
            &moved,
            "han",
            &commented,
        )
        .unwrap();
        assert_eq!(
            Value::Object(keys.clone()),
            json!({"processInstanceId": "i1", "processCode": "PROC_1", "bizCategoryId": "", "title": "李雷提交的请假", "type": "finish", "result": "agree", "staffId": "han", "taskId": 7, "activityId": "n1", "remark": "同意", "createTime": 1796459501000_i64, "finishTime": 1796459502250_i64, "instanceSeq": 4})
        );
        let payload =
            callback_payload("bpms_task_change", &Subject::Approval(keys), "org", "ev", 5);
        assert_eq!(
            (
                &payload["EventType"],
                &payload["remark"],
                &payload["taskId"],
                &payload["corpId"]
            ),
            (
                &json!("bpms_task_change"),
                &json!("同意"),
                &json!(7),
                &json!("org")
            )
        );
        for (native, kind, result, remark) in [
            (
                "approval.task.transferred",
                "finish",
                Some("redirect"),
                Some(""),
            ),
            ("approval.task.canceled", "cancel", None, None),
            ("approval.task.refused", "finish", Some("refuse"), Some("")),
            ("approval.task.created", "start", None, None),
        ] {
            assert_eq!(dingtalk_type(native, &moved), Some("bpms_task_change"));
            let keys = approval_data(native, &subject, &moved, "han", &text).unwrap();
            assert_eq!(
                (
                    &keys["type"],
                    keys.get("result"),
                    keys.get("remark"),
                    &keys["taskId"],
                    &keys["instanceSeq"],
                    &keys["title"],
                ),
                (
                    &json!(kind),
                    result.map(|r| json!(r)).as_ref(),
                    remark.map(|r| json!(r)).as_ref(),
                    &json!(7),
                    &json!(4),
                    &json!("李雷提交的请假"),
                )
            );
            assert!(!keys.contains_key("url"), "{keys:?}");
            assert_eq!(keys["finishTime"], json!(1_796_459_502_250_i64));
            let payload =
                callback_payload("bpms_task_change", &Subject::Approval(keys), "org", "ev", 5);
            assert_eq!(
                (
                    &payload["EventType"],
                    &payload["staffId"],
                    &payload["corpId"]
                ),
                (&json!("bpms_task_change"), &json!("han"), &json!("org"))
            );
        }
        assert_eq!(dingtalk_type("approval.task.paused", &moved), None);
        assert!(approval_data("approval.cc", &subject, &moved, "x", &text).is_none());
    }
}
