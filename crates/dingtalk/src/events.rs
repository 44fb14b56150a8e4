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

use serde_json::{Value, json};

/// DingTalk's event types Tenon renders, in the table's order.
pub const EVENT_TYPES: &[&str] = &[
    "user_add_org",
    "user_modify_org",
    "user_leave_org",
    "org_dept_create",
    "org_dept_modify",
    "org_dept_remove",
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
        _ => return None,
    })
}

/// Whether a native event type has a DingTalk rendering (the types a DingTalk-format installation's
/// stream carries).
pub fn renders(native_type: &str) -> bool {
    native_type.starts_with("member.") || native_type.starts_with("department.")
}

/// What an event is about, as DingTalk names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A member, by `userid`.
    User(String),
    /// A department, by `number`.
    Department(i64),
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
        _ => return None,
    })
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
    }
    data
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
        assert!(native_types("bpms_task_change").is_none());
        assert!(!renders("record.created"));
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
}
