//! Tests of the workflow shapes: the component mapping, start values and the renderings' keys and types.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn component(kind: &str, props: Value) -> FormComponent {
    serde_json::from_value(json!({"componentType": kind, "props": props, "extra": 1})).unwrap()
}

#[test]
fn components_map_to_field_types_and_others_are_invalid() {
    let cases = [
        ("TextField", "text"),
        ("TextareaField", "long_text"),
        ("NumberField", "number"),
        ("MoneyField", "currency"),
        ("DDDateField", "date"),
        ("DDAttachment", "attachment"),
    ];
    for (kind, field_type) in cases {
        let field =
            component_field(&component(kind, json!({"label": "A", "required": true})), 0).unwrap();
        assert_eq!(
            (field["type"].as_str(), &field["name"], &field["required"]),
            (Some(field_type), &json!("A"), &json!(true))
        );
    }
    let select = component(
        "DDSelectField",
        json!({"label": "S", "options": [{"key": "k1", "value": "Red"}, {"key": "k2", "value": "Blue"}]}),
    );
    assert_eq!(
        component_field(&select, 0).unwrap()["options"],
        json!({"choices": ["Red", "Blue"]})
    );
    let multi = component(
        "DDMultiSelectField",
        json!({"label": "M", "options": [{"value": "A"}]}),
    );
    assert_eq!(component_field(&multi, 0).unwrap()["type"], "multi_select");
    assert!(
        matches!(component_field(&component("TableField", json!({"label": "T"})), 2), Err(ComponentError::Invalid(message)) if message.contains("formComponents[2]"))
    );
    assert!(matches!(
        component_field(&component("TextField", json!({})), 0),
        Err(ComponentError::Missing(_))
    ));
    assert!(matches!(
        component_field(&component("DDSelectField", json!({"label": "S"})), 0),
        Err(ComponentError::Missing(_))
    ));
    assert_eq!(component_type("multi_select"), "DDMultiSelectField");
}

#[test]
fn the_form_process_has_one_or_node_of_selected_approvers() {
    let process = form_process("PROC_1", "Leave", "proc_1");
    assert_eq!(selected_nodes(&process), vec![FORM_NODE_KEY.to_owned()]);
    assert_eq!(process["nodes"][0]["method"], "or");
    assert_eq!(process["nodes"][0]["approvers"], json!([{"selected": []}]));
}

#[test]
fn start_values_are_fields_by_name_and_array_text_becomes_arrays() {
    let values: Vec<FormComponentValue> = serde_json::from_value(json!([
        {"name": "Days", "value": "2"},
        {"name": "Kinds", "value": "[\"A\",\"B\"]", "componentType": "DDMultiSelectField"},
        {"name": "Note", "value": ""},
    ]))
    .unwrap();
    let fields = record_fields(&values).unwrap();
    assert_eq!(
        Value::Object(fields),
        json!({"Days": "2", "Kinds": ["A", "B"], "Note": null})
    );
    let twice: Vec<FormComponentValue> =
        serde_json::from_value(json!([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]))
            .unwrap();
    assert!(matches!(
        record_fields(&twice),
        Err(ComponentError::Invalid(_))
    ));
    let nameless: Vec<FormComponentValue> =
        serde_json::from_value(json!([{"value": "1"}])).unwrap();
    assert!(matches!(
        record_fields(&nameless),
        Err(ComponentError::Missing(_))
    ));
}

#[test]
fn a_forecast_carries_the_process_number_as_an_integer_process_id() {
    use crate::workflow_render::{ForecastStep, render_forecast};
    let steps = [ForecastStep {
        native: json!({"node": "approver", "type": "approval", "method": "or", "approvers": ["m1"]}),
        name: "审批人".to_owned(),
        selected: true,
    }];
    let rendered = render_forecast(("PROC_1", 3), "li", true, &steps, &|id: &str| {
        (format!("u-{id}"), "Li".to_owned())
    });
    let result = serde_json::to_value(rendered).unwrap()["result"].clone();
    let mut keys: Vec<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "isForecastSuccess",
            "isStaticWorkflow",
            "processCode",
            "processId",
            "userId",
            "workflowActivityRules",
            "workflowForecastNodes"
        ]
    );
    assert_eq!(
        (
            &result["processId"],
            &result["processCode"],
            &result["isStaticWorkflow"]
        ),
        (&json!(3), &json!("PROC_1"), &json!(true))
    );
    assert_eq!(
        result["workflowActivityRules"][0]["activityActioners"][0]["userId"],
        json!("u-m1")
    );
}
