//! A process back as the JSON tree people write.

use serde_json::{Map, Value, json};

use super::*;

/// The definition back as JSON in the shape [`Process::parse`] reads (for `GET …/versions` and exports).
pub fn to_json(process: &Process) -> Value {
    let mut object = Map::new();
    object.insert("code".into(), json!(process.code));
    object.insert("name".into(), json!(process.name.as_str()));
    object.insert("table".into(), json!(process.table));
    if let Some(initiator) = &process.initiator {
        object.insert(
            "initiator".into(),
            match initiator {
                InitiatorRule::Field(field) => json!({"field": field}),
                InitiatorRule::Member(id) => json!({"member": id.to_string()}),
                InitiatorRule::CreatedBy => json!({"created_by": true}),
            },
        );
    }
    if let Some(status) = &process.record_status {
        let mut map = Map::new();
        map.insert("field".into(), json!(status.field));
        for (name, value) in [
            ("running", &status.running),
            ("agree", &status.agree),
            ("refuse", &status.refuse),
            ("withdrawn", &status.withdrawn),
            ("terminated", &status.terminated),
            ("comment_field", &status.comment_field),
        ] {
            if let Some(value) = value {
                map.insert(name.into(), json!(value));
            }
        }
        object.insert("record_status".into(), Value::Object(map));
    }
    object.insert("settings".into(), settings_json(&process.settings));
    if !process.cc.is_empty() {
        object.insert(
            "cc".into(),
            Value::Array(
                process
                    .cc
                    .iter()
                    .map(|cc| {
                        json!({
                            "at": match cc.at { CcAt::Start => "start", CcAt::Finish => "finish", CcAt::Both => "both" },
                            "approvers": rules_json(&cc.approvers),
                        })
                    })
                    .collect(),
            ),
        );
    }
    object.insert(
        "nodes".into(),
        Value::Array(process.nodes.iter().map(node_json).collect()),
    );
    Value::Object(object)
}

fn settings_json(settings: &Settings) -> Value {
    let mut map = Map::new();
    map.insert(
        "dedupe".into(),
        json!(match settings.dedupe {
            Dedupe::Off => "off",
            Dedupe::KeepFirst => "keep_first",
            Dedupe::Consecutive => "consecutive",
        }),
    );
    map.insert(
        "initiator_is_approver".into(),
        json!(match settings.initiator_is_approver {
            InitiatorIsApprover::ApproveSelf => "approve_self",
            InitiatorIsApprover::AutoPass => "auto_pass",
            InitiatorIsApprover::Manager => "manager",
        }),
    );
    map.insert(
        "no_approver".into(),
        match settings.no_approver {
            NoApprover::Pass => json!("pass"),
            NoApprover::Admin => json!("admin"),
            NoApprover::Member(id) => json!({"member": id.to_string()}),
        },
    );
    map.insert(
        "withdraw".into(),
        json!(match settings.withdraw {
            Withdraw::Always => "always",
            Withdraw::BeforeAction => "before_action",
            Withdraw::Never => "never",
        }),
    );
    map.insert(
        "on_refuse".into(),
        json!(match settings.on_refuse {
            OnRefuse::End => "end",
            OnRefuse::ReturnToInitiator => "return_to_initiator",
        }),
    );
    map.insert(
        "comment_required_on_refuse".into(),
        json!(settings.comment_required_on_refuse),
    );
    if let Some(hours) = settings.remind_after_hours {
        map.insert("remind_after_hours".into(), json!(hours));
    }
    if let Some(timeout) = settings.timeout {
        map.insert(
            "timeout".into(),
            json!({"after_hours": timeout.after_hours, "action": match timeout.action {
                TimeoutAction::Approve => "approve",
                TimeoutAction::Refuse => "refuse",
            }}),
        );
    }
    Value::Object(map)
}

fn rules_json(rules: &[Rule]) -> Value {
    Value::Array(rules.iter().map(rule_json).collect())
}

fn rule_json(rule: &Rule) -> Value {
    match rule {
        Rule::Members(ids) => {
            json!({"members": ids.iter().map(ToString::to_string).collect::<Vec<_>>()})
        }
        Rule::Role(role) => json!({"role": role}),
        Rule::Manager(level) => json!({"manager": level}),
        Rule::ManagerChainToLevel(level) => json!({"manager_chain": level}),
        Rule::ManagerChainToRole(role) => json!({"manager_chain": {"role": role}}),
        Rule::DepartmentHead => json!({"department_head": true}),
        Rule::Selected(range) if range.is_empty() => json!({"selected": true}),
        Rule::Selected(range) => json!({"selected": rules_json(range)}),
        Rule::Initiator => json!({"initiator": true}),
        Rule::Field(field) => json!({"field": field}),
    }
}

fn node_json(node: &Node) -> Value {
    let mut map = Map::new();
    map.insert("key".into(), json!(node.key));
    if let Some(name) = &node.name {
        map.insert("name".into(), json!(name));
    }
    map.insert("type".into(), json!(node.kind.type_name()));
    match &node.kind {
        NodeKind::Approval {
            method,
            approvers,
            next,
        }
        | NodeKind::Handle {
            method,
            approvers,
            next,
        } => {
            map.insert("method".into(), json!(method.as_str()));
            if let Method::Vote { pass_percent } = method {
                map.insert("pass_percent".into(), json!(pass_percent));
            }
            map.insert("approvers".into(), rules_json(approvers));
            map.insert("next".into(), json!(next));
        }
        NodeKind::Cc { approvers, next } => {
            map.insert("approvers".into(), rules_json(approvers));
            map.insert("next".into(), json!(next));
        }
        NodeKind::Condition { branches, default } => {
            map.insert(
                "branches".into(),
                Value::Array(
                    branches
                        .iter()
                        .map(|branch| json!({"when": branch.when, "next": branch.next}))
                        .collect(),
                ),
            );
            map.insert("default".into(), json!(default));
        }
        NodeKind::End => {}
    }
    Value::Object(map)
}
