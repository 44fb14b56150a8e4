//! Approver rules and the process's settings, each pinned on the engine: rules resolve in order, each
//! member once; `selected` approvers chosen at submit within their range; the initiator-is-approver,
//! no-approver and de-duplication settings; CC at start, at finish (only when approved) or both; who may
//! withdraw and until when.
//!
//! The directory (tests/common): 0 heads the root department, 1 and 2 head sales (members 1–5), the
//! others are in the root; roles `finance` = [6, 7], `board` = [0, 8, 9]; 9 is the administrator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::{World, acting, now};
use serde_json::{Value, json};
use tenon_approvals::engine::Command;
use tenon_approvals::state::{InstanceStatus, TaskResult, TaskStatus};
use tenon_approvals::{InstanceState, Refusal, Transition, apply};
use tenon_model::MemberId;

fn process(settings: Value, cc: Value, nodes: Value) -> Value {
    json!({
        "code": "RULES", "name": "Rules", "table": "claims",
        "settings": settings, "cc": cc, "nodes": nodes,
    })
}

fn start_with(
    world: &World,
    definition: &Value,
    initiator: usize,
    owner: usize,
    selected: BTreeMap<String, Vec<MemberId>>,
) -> Result<Transition, Refusal> {
    let state = world.new_state(world.compile(definition));
    apply(
        &state,
        Command::Start {
            initiator: world.members[initiator],
            department: None,
            selected,
            submission: world.submission(50, owner),
            by: acting(world.members[initiator]),
        },
        now(),
    )
}

fn start(world: &World, definition: &Value, initiator: usize) -> InstanceState {
    start_with(world, definition, initiator, initiator, BTreeMap::new())
        .unwrap()
        .state
}

/// The members of `world` by index, as the engine's ids.
fn who(world: &World, indexes: &[usize]) -> Vec<MemberId> {
    indexes.iter().map(|i| world.members[*i]).collect()
}

/// (assignee, status, result) of every task, in creation order.
fn tasks(state: &InstanceState) -> Vec<(MemberId, TaskStatus, Option<TaskResult>)> {
    state
        .tasks
        .iter()
        .map(|t| (t.assignee, t.status, t.result))
        .collect()
}

fn running(state: &InstanceState) -> Vec<MemberId> {
    state
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Running)
        .map(|t| t.assignee)
        .collect()
}

fn approve(state: &InstanceState, member: MemberId) -> Transition {
    let task = state
        .tasks
        .iter()
        .find(|t| t.assignee == member && t.status == TaskStatus::Running)
        .unwrap_or_else(|| panic!("no running task of {member}"))
        .id;
    apply(
        state,
        Command::Approve {
            task,
            comment: None,
            resubmission: None,
            by: acting(member),
        },
        now(),
    )
    .unwrap()
}

fn one_node(approvers: Value) -> Value {
    json!([{"key": "n1", "type": "approval", "method": "and", "approvers": approvers, "next": "end"}])
}

#[test]
fn rules_resolve_in_their_order_and_name_each_member_once() {
    let world = World::new();
    // Initiator 3 (sales), the record's owner 4.
    let definition = process(
        json!({}),
        json!([]),
        one_node(json!([
            {"role": "board"},            // 0, 8, 9
            {"manager": 1},               // 1, 2 (sales' heads)
            {"department_head": true},    // 1, 2 again
            {"manager_chain": 2},         // 1, 2, then 0
            {"initiator": true},          // 3
            {"field": "owner"},           // 4
            {"members": [world.members[5].to_string(), world.members[8].to_string()]},
        ])),
    );
    let state = start_with(&world, &definition, 3, 4, BTreeMap::new())
        .unwrap()
        .state;
    assert_eq!(
        running(&state),
        who(&world, &[0, 8, 9, 1, 2, 3, 4, 5]),
        "in rule order, de-duplicated"
    );
    // A manager chain up to a role stops at the level where a holder is; a head's level 1 is the
    // parent department's head.
    let chain = process(
        json!({}),
        json!([]),
        one_node(json!([{"manager_chain": {"role": "board"}}])),
    );
    assert_eq!(running(&start(&world, &chain, 3)), who(&world, &[1, 2, 0]));
    let head = process(json!({}), json!([]), one_node(json!([{"manager": 1}])));
    assert_eq!(running(&start(&world, &head, 1)), who(&world, &[0]));
}

#[test]
fn selected_approvers_are_chosen_at_submit_within_their_range() {
    let world = World::new();
    let definition = process(
        json!({}),
        json!([]),
        one_node(json!([{"selected": [{"role": "finance"}]}])),
    );
    let chosen = |members: &[usize]| BTreeMap::from([("n1".to_owned(), who(&world, members))]);
    let state = start_with(&world, &definition, 3, 3, chosen(&[7]))
        .unwrap()
        .state;
    assert_eq!(running(&state), who(&world, &[7]));
    // Outside the range, or for a node that chooses nobody: 422 at the choice.
    let Err(Refusal::Invalid(problems)) = start_with(&world, &definition, 3, 3, chosen(&[6, 3]))
    else {
        panic!("a member outside the range is refused");
    };
    assert_eq!(problems.0[0].field, "selected_approvers.n1[1]");
    let other = BTreeMap::from([("n9".to_owned(), who(&world, &[6]))]);
    let Err(Refusal::Invalid(problems)) = start_with(&world, &definition, 3, 3, other) else {
        panic!("a node without a selected rule is refused");
    };
    assert_eq!(problems.0[0].field, "selected_approvers.n9");
    // An empty range lets the initiator choose anyone.
    let anyone = process(json!({}), json!([]), one_node(json!([{"selected": []}])));
    let state = start_with(&world, &anyone, 3, 3, chosen(&[8]))
        .unwrap()
        .state;
    assert_eq!(running(&state), who(&world, &[8]));
}

#[test]
fn the_initiator_among_the_approvers_approves_passes_or_goes_to_their_manager() {
    let world = World::new();
    let nodes = one_node(json!([{"initiator": true}, {"members": [world.members[6].to_string()]}]));
    let by = |setting: &str| {
        let definition = process(
            json!({"initiator_is_approver": setting}),
            json!([]),
            nodes.clone(),
        );
        start(&world, &definition, 3)
    };
    assert_eq!(running(&by("approve_self")), who(&world, &[3, 6]));
    let auto = by("auto_pass");
    assert_eq!(
        tasks(&auto),
        [
            (
                world.members[3],
                TaskStatus::Completed,
                Some(TaskResult::Agree)
            ),
            (world.members[6], TaskStatus::Running, None),
        ]
    );
    assert!(
        auto.tasks[0].finished_at.is_some(),
        "passed automatically at once"
    );
    assert_eq!(running(&by("manager")), who(&world, &[1, 2, 6]));
}

#[test]
fn a_node_nobody_resolves_for_passes_or_goes_to_an_admin_or_a_named_member() {
    let world = World::new();
    // Member 6 is in the root department: no manager above.
    let nodes = json!([
        {"key": "n1", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "n2"},
        {"key": "n2", "type": "approval", "method": "or", "approvers": [{"members": [world.members[7].to_string()]}], "next": "end"}
    ]);
    let definition = |no_approver: Value| {
        process(
            json!({"no_approver": no_approver}),
            json!([]),
            nodes.clone(),
        )
    };
    let passed = start(&world, &definition(json!("pass")), 0);
    assert_eq!(running(&passed), who(&world, &[7]), "n1 passed by itself");
    let auto = passed.tasks.iter().filter(|t| t.node == "n1").count();
    assert_eq!(auto, 0, "no task at n1");
    let to_admin = start(&world, &definition(json!("admin")), 0);
    assert_eq!(running(&to_admin), who(&world, &[9]));
    let to_member = start(
        &world,
        &definition(json!({"member": world.members[5].to_string()})),
        0,
    );
    assert_eq!(running(&to_member), who(&world, &[5]));
}

#[test]
fn an_approver_who_agreed_before_passes_again_by_the_dedupe_setting() {
    let world = World::new();
    let m = |i: usize| world.members[i].to_string();
    let nodes = json!([
        {"key": "a", "type": "approval", "method": "or", "approvers": [{"members": [m(6)]}], "next": "b"},
        {"key": "b", "type": "approval", "method": "or", "approvers": [{"members": [m(7)]}], "next": "c"},
        {"key": "c", "type": "approval", "method": "or", "approvers": [{"members": [m(7), m(6)]}], "next": "end"}
    ]);
    let through_b = |dedupe: &str| {
        let definition = process(json!({"dedupe": dedupe}), json!([]), nodes.clone());
        let state = start(&world, &definition, 3);
        let state = approve(&state, world.members[6]).state;
        approve(&state, world.members[7])
    };
    // Off: c asks both again.
    assert_eq!(running(&through_b("off").state), who(&world, &[7, 6]));
    // Keep first: 7 agreed before, so c (an OR) passes by itself; the instance ends.
    let kept = through_b("keep_first");
    assert_eq!(kept.state.instance.status, InstanceStatus::Completed);
    assert!(
        kept.records
            .iter()
            .any(|r| r.kind.as_str() == "execute_task_auto" && r.automatic)
    );
    // Only consecutive: 7 agreed at b, right before c: passes by itself too.
    assert_eq!(
        through_b("consecutive").state.instance.status,
        InstanceStatus::Completed
    );
    // Consecutive, but 6 agreed two nodes back: c is an AND of 6 alone, who is asked again.
    let and_nodes = json!([
        {"key": "a", "type": "approval", "method": "or", "approvers": [{"members": [m(6)]}], "next": "b"},
        {"key": "b", "type": "approval", "method": "or", "approvers": [{"members": [m(7)]}], "next": "c"},
        {"key": "c", "type": "approval", "method": "or", "approvers": [{"members": [m(6)]}], "next": "end"}
    ]);
    let definition = process(
        json!({"dedupe": "consecutive"}),
        json!([]),
        and_nodes.clone(),
    );
    let state = start(&world, &definition, 3);
    let state = approve(&approve(&state, world.members[6]).state, world.members[7]).state;
    assert_eq!(running(&state), who(&world, &[6]));
    let definition = process(json!({"dedupe": "keep_first"}), json!([]), and_nodes);
    let state = start(&world, &definition, 3);
    let state = approve(&approve(&state, world.members[6]).state, world.members[7]).state;
    assert_eq!(state.instance.status, InstanceStatus::Completed);
}

#[test]
fn cc_goes_at_start_at_finish_only_when_approved_or_both() {
    let world = World::new();
    let nodes = json!([{"key": "n1", "type": "approval", "method": "or", "approvers": [{"members": [world.members[6].to_string()]}], "next": "end"}]);
    let cc = |at: &str| json!([{"at": at, "approvers": [{"role": "finance"}, {"field": "owner"}]}]);
    let started = |at: &str| {
        start_with(
            &world,
            &process(json!({}), cc(at), nodes.clone()),
            3,
            4,
            BTreeMap::new(),
        )
        .unwrap()
    };
    let types = |t: &Transition| -> Vec<&str> { t.events.iter().map(|e| e.event_type).collect() };
    let kinds =
        |t: &Transition| -> Vec<&str> { t.records.iter().map(|r| r.kind.as_str()).collect() };
    let at_start = started("start");
    assert_eq!(
        types(&at_start),
        [
            "approval.instance.started",
            "approval.cc",
            "approval.task.created"
        ]
    );
    assert_eq!(kinds(&at_start), ["start_process_instance", "process_cc"]);
    assert_eq!(at_start.records[1].members, who(&world, &[6, 7, 4]));
    assert!(at_start.records[1].automatic);
    let finished = approve(&at_start.state, world.members[6]);
    assert!(!types(&finished).contains(&"approval.cc"), "start only");

    let at_finish = started("finish");
    assert!(!types(&at_finish).contains(&"approval.cc"));
    let approved = approve(&at_finish.state, world.members[6]);
    assert_eq!(
        types(&approved),
        [
            "approval.task.approved",
            "approval.instance.approved",
            "approval.cc"
        ]
    );
    let task = at_finish.state.tasks[0].id;
    let refused = apply(
        &at_finish.state,
        Command::Refuse {
            task,
            comment: None,
            by: acting(world.members[6]),
        },
        now(),
    )
    .unwrap();
    assert!(
        !types(&refused).contains(&"approval.cc"),
        "no CC of a refusal"
    );

    let both = started("both");
    assert!(types(&both).contains(&"approval.cc"));
    assert!(types(&approve(&both.state, world.members[6])).contains(&"approval.cc"));
}

#[test]
fn only_the_initiator_withdraws_and_only_as_long_as_the_process_allows() {
    let world = World::new();
    let m = |i: usize| world.members[i].to_string();
    let nodes = json!([
        {"key": "a", "type": "approval", "method": "or", "approvers": [{"members": [m(6)]}], "next": "b"},
        {"key": "b", "type": "approval", "method": "or", "approvers": [{"members": [m(7)]}], "next": "end"}
    ]);
    let withdraw = |state: &InstanceState, member: usize| {
        apply(
            state,
            Command::Withdraw {
                comment: None,
                by: acting(world.members[member]),
            },
            now(),
        )
    };
    for rule in ["always", "before_action", "never"] {
        let definition = process(json!({"withdraw": rule}), json!([]), nodes.clone());
        let fresh = start(&world, &definition, 3);
        assert_eq!(
            withdraw(&fresh, 6).unwrap_err(),
            Refusal::NotInitiator,
            "{rule}"
        );
        let acted = approve(&fresh, world.members[6]).state;
        let (before, after) = (withdraw(&fresh, 3), withdraw(&acted, 3));
        match rule {
            "always" => assert!(before.is_ok() && after.is_ok()),
            "before_action" => {
                assert!(before.is_ok());
                assert!(matches!(after, Err(Refusal::NotAllowed(_))), "{after:?}");
            }
            _ => {
                assert!(matches!(before, Err(Refusal::NotAllowed(_))));
                assert!(matches!(after, Err(Refusal::NotAllowed(_))));
            }
        }
        if let Ok(withdrawn) = before {
            assert_eq!(withdrawn.state.instance.status, InstanceStatus::Terminated);
            assert!(withdrawn.state.instance.withdrawn);
            // Ended: nobody withdraws it again.
            assert_eq!(
                withdraw(&withdrawn.state, 3).unwrap_err(),
                Refusal::Finished
            );
        }
    }
}

#[test]
fn field_rules_read_member_and_department_fields_and_the_records_authors() {
    use tenon_model::apps::CellValue;
    let world = World::new();
    let dept = world
        .table
        .fields
        .iter()
        .find(|f| f.key.as_str() == "dept")
        .unwrap()
        .id;
    let definition = process(
        json!({}),
        json!([]),
        one_node(json!([
            {"field": "dept"},        // the department's heads: 1, 2
            {"field": "owner"},       // 4
            {"field": "created_by"},  // 5
            {"field": "modified_by"}, // 6
        ])),
    );
    let state = world.new_state(world.compile(&definition));
    let mut submission = world.submission(50, 4);
    submission
        .values
        .insert(dept, CellValue::Ids(vec![*world.sales.as_uuid()]));
    submission.created_by = Some(world.members[5]);
    submission.modified_by = Some(world.members[6]);
    let started = apply(
        &state,
        Command::Start {
            initiator: world.members[3],
            department: None,
            selected: BTreeMap::new(),
            submission,
            by: acting(world.members[3]),
        },
        now(),
    )
    .unwrap();
    assert_eq!(running(&started.state), who(&world, &[1, 2, 4, 5, 6]));
}

#[test]
fn a_resubmission_after_a_return_is_judged_on_the_record_as_it_is_then() {
    let world = World::new();
    let m = |i: usize| world.members[i].to_string();
    let definition = json!({
        "code": "RESUBMIT", "name": "Resubmit", "table": "claims",
        "settings": {"on_refuse": "return_to_initiator"},
        "nodes": [
            {"key": "lead", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "money"},
            {"key": "money", "type": "condition", "branches": [{"when": "{Amount} >= 100", "next": "both"}], "default": "end"},
            {"key": "both", "type": "approval", "method": "and", "approvers": [{"members": [m(6), m(7)]}], "next": "end"}
        ]
    });
    let state = world.new_state(world.compile(&definition));
    // Submitted at 50: the lead alone would end it.
    let started = apply(
        &state,
        Command::Start {
            initiator: world.members[3],
            department: None,
            selected: BTreeMap::new(),
            submission: world.submission(50, 3),
            by: acting(world.members[3]),
        },
        now(),
    )
    .unwrap()
    .state;
    let lead_task = started
        .tasks
        .iter()
        .find(|t| t.assignee == world.members[1])
        .unwrap()
        .id;
    let returned = apply(
        &started,
        Command::Refuse {
            task: lead_task,
            comment: Some("金额不对".into()),
            by: acting(world.members[1]),
        },
        now(),
    )
    .unwrap()
    .state;
    assert_eq!(
        running(&returned),
        who(&world, &[3]),
        "back to the initiator"
    );
    let initiator_task = returned
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Running)
        .unwrap()
        .id;
    let resubmit = |resubmission| {
        apply(
            &returned,
            Command::Approve {
                task: initiator_task,
                comment: None,
                resubmission,
                by: acting(world.members[3]),
            },
            now(),
        )
    };
    // The engine asks for the record as it is now rather than reuse the old values.
    assert_eq!(resubmit(None).unwrap_err(), Refusal::NeedsRecord);
    let again = resubmit(Some(world.submission(150, 3))).unwrap().state;
    assert_eq!(running(&again), who(&world, &[1, 2]), "the lead again");
    let after_lead = approve(&again, world.members[2]).state;
    assert_eq!(
        running(&after_lead),
        who(&world, &[6, 7]),
        "150 ≥ 100 now: the countersign"
    );
}

#[test]
fn approvers_are_resolved_once_on_entry_and_again_when_a_return_re_enters() {
    use std::sync::Arc;
    use tenon_approvals::engine::ReturnTo;
    let world = World::new();
    let definition = process(
        json!({}),
        json!([]),
        json!([
            {"key": "fin", "type": "approval", "method": "or", "approvers": [{"role": "finance"}], "next": "boss"},
            {"key": "boss", "type": "approval", "method": "or", "approvers": [{"members": [world.members[0].to_string()]}], "next": "end"}
        ]),
    );
    let mut state = start(&world, &definition, 3);
    assert_eq!(running(&state), who(&world, &[6, 7]));
    // The role changes hands mid-flight: the tasks already made stay as they are.
    let mut directory = (*world.directory).clone();
    directory
        .roles
        .insert("finance".into(), vec![world.members[5]]);
    state.directory = Some(Arc::new(directory));
    let at_boss = approve(&state, world.members[6]).state;
    assert_eq!(running(&at_boss), who(&world, &[0]));
    // Returned to the finance node: entered again, its approvers resolved again.
    let boss_task = at_boss
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Running)
        .unwrap()
        .id;
    let back = apply(
        &at_boss,
        Command::Return {
            task: boss_task,
            to: ReturnTo::Node("fin".into()),
            comment: None,
            by: acting(world.members[0]),
        },
        now(),
    )
    .unwrap()
    .state;
    assert_eq!(running(&back), who(&world, &[5]));
    let visits: Vec<(String, u32)> = back
        .activations
        .iter()
        .map(|a| (a.node.clone(), a.visit))
        .collect();
    assert_eq!(
        visits,
        [("fin".into(), 1), ("boss".into(), 1), ("fin".into(), 2)]
    );
}
