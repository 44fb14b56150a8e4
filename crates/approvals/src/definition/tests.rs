//! Parsing and rendering of process definitions.

use super::*;

#[test]
fn the_issue_example_parses_and_round_trips() {
    let value = json!({
        "code": "DUTY_APPEAL", "name": "扣分申诉", "table": "inspections",
        "initiator": {"field": "head_teacher"},
        "record_status": {"field": "status", "running": "申诉中", "agree": "已撤销", "refuse": "有效", "withdrawn": "有效"},
        "settings": {"comment_required_on_refuse": true},
        "cc": [{"at": "finish", "approvers": [{"field": "inspector"}]}],
        "nodes": [
            {"key": "n1", "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": "c1"},
            {"key": "c1", "type": "condition", "branches": [{"when": "{扣分} >= 2", "next": "n2"}], "default": "end"},
            {"key": "n2", "type": "approval", "method": "or", "approvers": [{"role": "vice"}], "next": "end"}
        ]
    });
    let process = Process::parse(&value, "").unwrap();
    assert_eq!(process.nodes.len(), 3);
    assert!(process.settings.comment_required_on_refuse);
    let again = Process::parse(&to_json(&process), "").unwrap();
    assert_eq!(again, process);
}

#[test]
fn shape_errors_name_their_paths() {
    let value = json!({
        "code": "X", "name": "x", "table": "t",
        "nodes": [
            {"key": "n1", "type": "approval", "method": "vote", "approvers": [{"boss": 1}], "next": "c1"},
            {"key": "c1", "type": "condition", "branches": [{"when": "TRUE", "next": "end"}]}
        ]
    });
    let errors = Process::parse(&value, "processes[0]").unwrap_err().0;
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"processes[0].nodes[0].pass_percent"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"processes[0].nodes[0].approvers[0]"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"processes[0].nodes[1].default"),
        "{fields:?}"
    );
}
