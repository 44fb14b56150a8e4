//! Publish checks over real table schemas, and evaluation of the compiled formulas on a run's context.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use chrono::{TimeZone as _, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use tenon_flows::compile::{Action, CompiledTrigger};
use tenon_flows::definition::Flow;
use tenon_flows::scope::{render, value_json};
use tenon_flows::trigger::{Change, Watch, fires};
use tenon_flows::{On, compile};
use tenon_model::apps::field::Bounds;
use tenon_model::apps::formula::{self, EvalContext};
use tenon_model::apps::{ApiKey, App, Choice, Field, FieldKind, Table, TableSchema};
use tenon_model::{AppId, FieldId, Name, TableId};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

fn field(table: TableId, key: &str, name: &str, kind: FieldKind) -> Field {
    Field {
        id: FieldId::new(),
        table_id: table,
        key: ApiKey::parse(key).unwrap(),
        name: Name::parse(name).unwrap(),
        kind,
        required: false,
        unique: false,
        indexed: false,
        default: None,
        position: 0,
        created_at: now(),
        updated_at: now(),
    }
}

fn text() -> FieldKind {
    FieldKind::Text {
        min_length: None,
        max_length: None,
        pattern: None,
    }
}

fn table(app: &App, key: &str, fields: Vec<(&str, &str, FieldKind)>) -> TableSchema {
    let id = TableId::new();
    TableSchema {
        app: app.clone(),
        table: Table {
            id,
            app_id: app.id,
            key: ApiKey::parse(key).unwrap(),
            name: Name::parse(key).unwrap(),
            primary_field_id: None,
            unique_together: Vec::new(),
            indexes: Vec::new(),
            validation_rules: Vec::new(),
            position: 0,
            created_at: now(),
            updated_at: now(),
        },
        fields: fields
            .into_iter()
            .map(|(k, n, kind)| field(id, k, n, kind))
            .collect(),
    }
}

fn tables() -> Vec<TableSchema> {
    let app = App {
        id: AppId::new(),
        key: ApiKey::parse("crm").unwrap(),
        name: Name::parse("CRM").unwrap(),
        description: None,
        schema_version: 1,
        created_at: now(),
        updated_at: now(),
    };
    let choices = ["新建", "已签收"]
        .iter()
        .map(|name| Choice {
            id: (*name).to_owned(),
            name: (*name).to_owned(),
            color: "blue".into(),
        })
        .collect();
    vec![
        table(
            &app,
            "orders",
            vec![
                ("customer", "客户", text()),
                ("status", "状态", FieldKind::SingleSelect { choices }),
                (
                    "amount",
                    "Amount",
                    FieldKind::Number {
                        precision: 2,
                        bounds: Bounds::default(),
                    },
                ),
                ("owner", "Owner", FieldKind::Member { multiple: false }),
            ],
        ),
        table(
            &app,
            "followups",
            vec![
                ("customer", "Customer", text()),
                ("due", "Due", FieldKind::Date { time_zone: None }),
            ],
        ),
    ]
}

fn flow(value: Value) -> Flow {
    Flow::parse(&value, "flows[0]").expect("the flow parses")
}

fn problems(value: Value) -> Vec<(String, String)> {
    let tables = tables();
    compile(&flow(value), &tables, "flows[0]")
        .expect_err("the flow is refused")
        .0
        .into_iter()
        .map(|e| (e.field, e.code.as_str().to_owned()))
        .collect()
}

#[test]
fn a_flow_compiles_with_formulas_stored_by_id() {
    let tables = tables();
    let compiled = compile(
        &flow(json!({
            "key": "t2",
            "trigger": {"record": "orders", "on": "enter", "when": "{状态} = \"已签收\""},
            "steps": [
                {"key": "f", "type": "create_record", "table": "followups",
                 "fields": {"customer": "{trigger.fields.客户}", "due": "DATEADD(TODAY(), 3, \"days\")"}},
                {"key": "tell", "type": "notify", "to": {"members": "{trigger.fields.owner}"},
                 "text": "回访 {{ trigger.fields.customer }} ({{ steps.f.output.id }})"}
            ]
        })),
        &tables,
        "flows[0]",
    )
    .unwrap();
    let customer = tables[0].fields[0].id;
    match &compiled.trigger {
        CompiledTrigger::Record { on, when, .. } => {
            assert_eq!(*on, On::Enter);
            assert!(
                when.as_ref()
                    .unwrap()
                    .contains(&tables[0].fields[1].id.to_string())
            );
        }
        other => panic!("{other:?}"),
    }
    match &compiled.steps[0].action {
        Action::CreateRecord { fields, .. } => {
            assert_eq!(fields[0].1, format!("{{trigger.{customer}}}"));
        }
        other => panic!("{other:?}"),
    }
    // The stored formula evaluates on a run's context.
    let scope = compiled.scope_at(0, tables.as_slice());
    let Action::CreateRecord { fields, .. } = &compiled.steps[0].action else {
        unreachable!()
    };
    let formula = formula::check_stored(&fields[0].1, &scope.schema()).unwrap();
    let context = json!({"trigger": {"record_id": "r1", "fields": {"customer": "ACME 有限公司"}}});
    let ctx = EvalContext::new(now(), chrono_tz::Asia::Shanghai);
    assert_eq!(
        value_json(&scope.eval(&formula, &context, None, &ctx)),
        json!("ACME 有限公司")
    );
    let formula = formula::check_stored(&fields[1].1, &scope.schema()).unwrap();
    assert_eq!(
        value_json(&scope.eval(&formula, &context, None, &ctx)),
        json!("2026-11-28")
    );
    assert_eq!(
        render("回访 {{ trigger.fields.customer }}", &context).unwrap(),
        "回访 ACME 有限公司"
    );
}

#[test]
fn publish_refuses_with_paths() {
    assert_eq!(
        problems(
            json!({"key": "x", "trigger": {"record": "orders", "on": "enter", "when": "{状态} = \"已签收\" AND TODAY() > DATE(2026, 1, 1)"},
            "steps": [{"key": "a", "type": "get", "table": "orders", "record": "{trigger.record_id}"}]})
        ),
        vec![("flows[0].trigger.when".to_owned(), "not_allowed".to_owned())]
    );
    assert_eq!(
        problems(
            json!({"key": "x", "trigger": {"record": "nope", "on": "created"},
            "steps": [{"key": "a", "type": "create_record", "table": "followups",
                "fields": {"colour": "1", "due": "{trigger.fields.nothing}"}}]})
        ),
        vec![
            ("flows[0].trigger.record".to_owned(), "not_found".to_owned()),
            (
                "flows[0].steps[0].fields.colour".to_owned(),
                "not_found".to_owned()
            ),
            (
                "flows[0].steps[0].fields.due".to_owned(),
                "formula_unknown_field".to_owned()
            ),
        ]
    );
    // A later step may read an earlier one's output, never the reverse.
    assert_eq!(
        problems(
            json!({"key": "x", "trigger": {"record": "orders", "on": "created"},
            "steps": [
                {"key": "a", "type": "if", "condition": "{steps.b.output.id} = \"x\""},
                {"key": "b", "type": "get", "table": "orders", "record": "{trigger.record_id}"},
                {"key": "c", "type": "notify", "channel": "sms", "to": {"members": "{steps.b.output.owner}"}, "text": "{{ oops"}
            ]})
        ),
        vec![
            (
                "flows[0].steps[0].condition".to_owned(),
                "formula_unknown_field".to_owned()
            ),
            (
                "flows[0].steps[2].channel".to_owned(),
                "not_allowed".to_owned()
            ),
            (
                "flows[0].steps[2].text".to_owned(),
                "invalid_value".to_owned()
            ),
        ]
    );
}

fn arb_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Created),
        Just(Change::Updated),
        Just(Change::Deleted)
    ]
}

proptest! {
    /// Over any sequence of states of one record, `enter` and `leave` alternate: a record cannot enter
    /// twice without leaving in between, and `change` fires only while the condition holds.
    #[test]
    fn enter_and_leave_alternate(states in proptest::collection::vec(any::<bool>(), 1..30)) {
        let enter = Watch { on: On::Enter, fields: vec![], has_when: true };
        let leave = Watch { on: On::Leave, fields: vec![], has_when: true };
        let change = Watch { on: On::Change, fields: vec![], has_when: true };
        let moved: HashSet<FieldId> = [FieldId::new()].into();
        let mut inside = false;
        let mut before = false;
        for (i, after) in states.iter().copied().enumerate() {
            let kind = if i == 0 { Change::Created } else { Change::Updated };
            let entered = fires(&enter, kind, &moved, before, after);
            let left = fires(&leave, kind, &moved, before, after);
            prop_assert!(!(entered && left));
            if entered { prop_assert!(!inside); inside = true; }
            if left { prop_assert!(inside); inside = false; }
            if fires(&change, kind, &moved, before, after) { prop_assert!(before && after); }
            prop_assert_eq!(inside, after);
            before = after;
        }
    }

    /// A trigger without a condition ignores the condition's values, and fires only for its change.
    #[test]
    fn plain_triggers_fire_for_their_change_only(change in arb_change(), b in any::<bool>(), a in any::<bool>()) {
        let moved: HashSet<FieldId> = [FieldId::new()].into();
        for (on, wanted) in [(On::Created, Change::Created), (On::Updated, Change::Updated), (On::Deleted, Change::Deleted)] {
            let watch = Watch { on, fields: vec![], has_when: false };
            prop_assert_eq!(fires(&watch, change, &moved, b, a), change == wanted);
        }
    }
}

/// The organization's processes in these tests: `EXPENSE` approves orders.
fn processes_of(tables: &[TableSchema]) -> impl Fn(&str) -> Option<TableId> + '_ {
    move |code| (code == "EXPENSE").then(|| tables[0].table.id)
}

#[test]
fn approval_triggers_and_steps_compile_against_the_process_table() {
    let tables = tables();
    let processes = processes_of(&tables);
    let compiled = tenon_flows::compile::compile_in(
        &flow(json!({
            "key": "on_approved",
            "trigger": {"approval": {"process": "EXPENSE", "on": ["approved", "refused"]}},
            "steps": [
                {"key": "f", "type": "create_record", "table": "followups",
                 "fields": {"customer": "{trigger.fields.客户} & \" \" & {trigger.result} & {trigger.instance_id}"}},
                {"key": "s", "type": "start_approval", "process": "EXPENSE", "fields": {"customer": "{trigger.fields.客户}"},
                 "initiator": "{trigger.initiator}"},
                {"key": "w", "type": "wait_approval", "approval": "{steps.s.output.id}"},
                {"key": "g", "type": "get", "table": "orders", "record": "{steps.w.output.record.id}"},
                {"key": "i", "type": "if", "condition": "{steps.w.output.result} = \"agree\""}
            ]
        })),
        &tables,
        &processes,
        "flows[0]",
    )
    .unwrap();
    match &compiled.trigger {
        CompiledTrigger::Approval {
            process,
            table_id,
            on,
        } => {
            assert_eq!(process, "EXPENSE");
            assert_eq!(*table_id, tables[0].table.id.to_string());
            assert_eq!(on.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(compiled.trigger_table(), Some(tables[0].table.id));
    assert!(
        compiled.watch().is_none(),
        "an approval trigger watches no record write"
    );
    match &compiled.steps[1].action {
        Action::StartApproval {
            process,
            record,
            fields,
            initiator,
            ..
        } => {
            assert_eq!(process, "EXPENSE");
            assert!(record.is_none());
            assert_eq!(fields.as_ref().unwrap().len(), 1);
            assert!(initiator.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        compiled.steps[2].action,
        Action::WaitApproval { .. }
    ));
}

#[test]
fn approval_publish_checks_name_the_path() {
    let tables = tables();
    let processes = processes_of(&tables);
    let refused = |value: Value| -> Vec<(String, String)> {
        tenon_flows::compile::compile_in(&flow(value), &tables, &processes, "flows[0]")
            .expect_err("refused")
            .0
            .into_iter()
            .map(|e| (e.field, e.code.as_str().to_owned()))
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect()
    };
    assert_eq!(
        refused(
            json!({"key": "a", "trigger": {"approval": {"process": "NOPE", "on": ["approved"]}},
            "steps": [{"key": "x", "type": "if", "condition": "TRUE()"}]})
        ),
        pairs(&[("flows[0].trigger.approval.process", "not_found")])
    );
    assert_eq!(
        refused(json!({"key": "a", "trigger": {"manual": {}}, "steps": [
            {"key": "s", "type": "start_approval", "process": "NOPE", "record": "\"x\""},
            {"key": "t", "type": "start_approval", "process": "EXPENSE"},
            {"key": "u", "type": "start_approval", "process": "EXPENSE", "record": "\"x\"", "fields": {}},
            {"key": "v", "type": "start_approval", "process": "EXPENSE", "fields": {"nope": "1"}, "initiator": "1 = 1"},
            {"key": "w", "type": "wait_approval", "approval": "{steps.zz.output.id}"},
            {"key": "e", "type": "for_each", "items": "\"a\"", "steps": [{"key": "e1", "type": "wait_approval", "approval": "\"x\""}]}
        ]})),
        pairs(&[
            ("flows[0].steps[0].process", "not_found"),
            ("flows[0].steps[1].record", "required"),
            ("flows[0].steps[2].fields", "not_allowed"),
            ("flows[0].steps[3].initiator", "formula_type"),
            ("flows[0].steps[4].approval", "formula_unknown_field"),
            ("flows[0].steps[5].steps[0].type", "not_allowed"),
        ])
    );
    // Shape: an approval trigger needs its events.
    let error = Flow::parse(
        &json!({"key": "a", "trigger": {"approval": {"process": "EXPENSE"}}, "steps": [{"key": "x", "type": "if", "condition": "TRUE()"}]}),
        "flows[0]",
    )
    .unwrap_err();
    assert_eq!(error.0[0].field, "flows[0].trigger.approval.on");
    // Without processes (another organization), the process is unknown.
    let error = compile(
        &flow(
            json!({"key": "a", "trigger": {"approval": {"process": "EXPENSE", "on": ["started"]}},
            "steps": [{"key": "x", "type": "if", "condition": "TRUE()"}]}),
        ),
        &tables,
        "flows[0]",
    )
    .unwrap_err();
    assert_eq!(error.0[0].field, "flows[0].trigger.approval.process");
}
