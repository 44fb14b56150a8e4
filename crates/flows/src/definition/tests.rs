//! Shape checks of flow definitions.

use serde_json::json;

use super::*;

fn fields_of(error: &Invalid) -> Vec<String> {
    error.0.iter().map(|e| e.field.clone()).collect()
}

#[test]
fn a_record_flow_parses_with_nested_if_steps() {
    let flow = Flow::parse(
        &json!({
            "key": "t2_followup",
            "trigger": {"record": "orders", "on": "enter", "when": "{状态} = \"已签收\""},
            "steps": [
                {"key": "check", "type": "if", "condition": "TRUE()",
                 "then": [{"key": "tell", "type": "notify", "to": {"members": "{trigger.fields.owner}"}, "text": "hi"}]}
            ]
        }),
        "flows[0]",
    )
    .unwrap();
    assert_eq!(flow.trigger.on, Some(On::Enter));
    assert_eq!(flow.steps[0].type_name(), "if");
}

#[test]
fn bad_shapes_are_refused_with_paths() {
    let error = Flow::parse(
        &json!({"key": "x", "trigger": {"record": "orders", "on": "enter"}, "steps": [
            {"key": "a", "type": "get", "table": "t", "record": "1"},
            {"key": "a", "type": "get", "table": "t", "record": "1"}
        ]}),
        "flows[0]",
    )
    .unwrap_err();
    assert_eq!(
        fields_of(&error),
        vec!["flows[0].trigger.when", "flows[0].steps[1].key"]
    );
    let error = Flow::parse(
        &json!({"key": "x", "trigger": {"manual": {}}, "steps": [{"key": "a", "type": "teleport"}]}),
        "flows[1]",
    )
    .unwrap_err();
    assert!(
        fields_of(&error)[0].starts_with("flows[1].steps"),
        "{error:?}"
    );
    let error = Flow::parse(
        &json!({"key": "x", "trigger": {"manual": {}}, "steps": [{"key": "a", "type": "teleport", "query": "x"}]}),
        "flows[2]",
    )
    .unwrap_err();
    assert!(
        fields_of(&error)[0].starts_with("flows[2].steps"),
        "{error:?}"
    );
    assert!(error.0[0].reason.contains("teleport"), "{error:?}");
}

#[test]
fn unknown_keys_and_missing_triggers_are_refused() {
    let error = Flow::parse(
        &json!({"key": "x", "trigger": {"record": "t", "on": "created", "colour": 1}, "steps": []}),
        "flows[0]",
    )
    .unwrap_err();
    assert!(
        fields_of(&error)[0].starts_with("flows[0].trigger"),
        "{error:?}"
    );
    let error = Flow::parse(
        &json!({"key": "x", "trigger": {}, "steps": [
        {"key": "a", "type": "get", "table": "t", "record": "1"}]}),
        "f",
    )
    .unwrap_err();
    assert_eq!(fields_of(&error), vec!["f.trigger"]);
}

#[test]
fn webhook_and_schedule_triggers_parse_and_bad_ones_are_refused_with_paths() {
    let steps = json!([{"key": "g", "type": "get", "table": "t", "record": "1"}]);
    let hook = Flow::parse(
        &json!({"key": "h", "trigger": {"webhook": {"signed": true, "inputs": [{"key": "order", "type": "text", "required": true}]}}, "steps": steps}),
        "flows[0]",
    )
    .unwrap();
    let webhook = hook.trigger.webhook.unwrap();
    assert!(webhook.signed && !webhook.wait);
    assert_eq!(webhook.inputs[0].key, "order");
    let daily = Flow::parse(
        &json!({"key": "s", "trigger": {"schedule": {"cron": "0 9 * * MON-FRI", "zone": "Asia/Shanghai"}}, "steps": steps}),
        "flows[0]",
    )
    .unwrap();
    assert_eq!(daily.trigger.schedule.unwrap().zone, "Asia/Shanghai");
    let error = Flow::parse(
        &json!({"key": "s", "trigger": {"schedule": {"cron": "0 25 * * *", "zone": "Asia/Beijing"}}, "steps": steps}),
        "flows[0]",
    )
    .unwrap_err();
    assert_eq!(
        fields_of(&error),
        [
            "flows[0].trigger.schedule.cron",
            "flows[0].trigger.schedule.zone"
        ]
    );
    let error = Flow::parse(
        &json!({"key": "s", "trigger": {"webhook": {}, "manual": {}}, "steps": steps}),
        "flows[0]",
    )
    .unwrap_err();
    assert_eq!(fields_of(&error), ["flows[0].trigger.webhook"]);
    let error = Flow::parse(
        &json!({"key": "s", "trigger": {"webhook": {}, "on": "created"}, "steps": steps}),
        "flows[0]",
    )
    .unwrap_err();
    assert_eq!(fields_of(&error), ["flows[0].trigger.on"]);
    let error = Flow::parse(
        &json!({"key": "s", "trigger": {"webhook": {"secret": "x"}}, "steps": steps}),
        "flows[0]",
    )
    .unwrap_err();
    assert!(
        fields_of(&error)[0].starts_with("flows[0].trigger"),
        "{error:?}"
    );
}
