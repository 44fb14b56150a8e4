//! The engine's behaviour, command by command, with the exact events and records each step leaves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{World, acting, admin, now};
use serde_json::json;
use tenon_approvals::definition::Method;
use tenon_approvals::engine::{Command, Position, ReturnTo};
use tenon_approvals::state::{InstanceStatus, TaskResult, TaskStatus};
use tenon_approvals::{InstanceState, Refusal, Transition, apply};
use tenon_model::{ApprovalTaskId, MemberId};

fn types(transition: &Transition) -> Vec<&'static str> {
    transition
        .events
        .iter()
        .map(|event| event.event_type)
        .collect()
}

fn records(transition: &Transition) -> Vec<&'static str> {
    transition
        .records
        .iter()
        .map(|record| record.kind.as_str())
        .collect()
}

fn start(world: &World, state: &InstanceState, initiator: usize, amount: i64) -> Transition {
    apply(
        state,
        Command::Start {
            initiator: world.members[initiator],
            department: None,
            selected: Default::default(),
            submission: world.submission(amount, initiator),
            by: acting(world.members[initiator]),
        },
        now(),
    )
    .unwrap()
}

fn running_task(state: &InstanceState, member: MemberId) -> ApprovalTaskId {
    state
        .tasks
        .iter()
        .find(|task| task.assignee == member && task.status == TaskStatus::Running)
        .unwrap_or_else(|| panic!("no running task for {member}: {:?}", state.tasks))
        .id
}

fn approve(state: &InstanceState, member: MemberId) -> Transition {
    apply(
        state,
        Command::Approve {
            task: running_task(state, member),
            comment: None,
            resubmission: None,
            by: acting(member),
        },
        now(),
    )
    .unwrap()
}

fn countersign(world: &World) -> serde_json::Value {
    let m = |i: usize| world.members[i].to_string();
    json!({
        "code": "CS", "name": "Countersign", "table": "claims",
        "record_status": {"field": "status", "running": "running", "agree": "agree", "refuse": "refuse"},
        "nodes": [
            {"key": "lead", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "money"},
            {"key": "money", "type": "condition", "branches": [{"when": "{Amount} >= 100", "next": "both"}], "default": "end"},
            {"key": "both", "type": "approval", "method": "and", "approvers": [{"members": [m(6), m(7)]}], "next": "end"}
        ]
    })
}

#[test]
fn a_small_amount_ends_after_the_manager_a_large_one_needs_both_countersigners() {
    let world = World::new();
    let small = world.new_state(world.compile(&countersign(&world)));
    let started = start(&world, &small, 3, 50);
    assert_eq!(
        types(&started),
        [
            "approval.instance.started",
            "approval.task.created",
            "approval.task.created"
        ]
    );
    assert_eq!(records(&started), ["start_process_instance"]);
    // Member 3 is in sales, whose heads are 1 and 2: an OR of both.
    let done = approve(&started.state, world.members[1]);
    assert_eq!(
        types(&done),
        [
            "approval.task.approved",
            "approval.task.canceled",
            "approval.instance.approved"
        ]
    );
    assert_eq!(
        records(&done),
        ["execute_task_normal", "finish_process_instance"]
    );
    assert_eq!(
        done.status.as_ref().unwrap().value.as_deref(),
        Some("agree")
    );

    let large = world.new_state(world.compile(&countersign(&world)));
    let started = start(&world, &large, 3, 150);
    let next = approve(&started.state, world.members[2]);
    assert_eq!(
        types(&next),
        [
            "approval.task.approved",
            "approval.task.canceled",
            "approval.task.created",
            "approval.task.created"
        ]
    );
    let one = approve(&next.state, world.members[6]);
    assert_eq!(types(&one), ["approval.task.approved"]);
    let both = approve(&one.state, world.members[7]);
    assert_eq!(
        types(&both),
        ["approval.task.approved", "approval.instance.approved"]
    );
    assert_eq!(both.state.instance.status, InstanceStatus::Completed);
    // Events count up per instance without gaps.
    let seqs: Vec<i64> = [&started, &next, &one, &both]
        .iter()
        .flat_map(|t| t.events.iter().map(|e| e.instance_seq))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
}

#[test]
fn add_sign_before_on_a_countersign_node_pauses_the_task_until_the_added_approver_agrees() {
    let world = World::new();
    let state = world.new_state(world.compile(&countersign(&world)));
    let state = start(&world, &state, 3, 150).state;
    let state = approve(&state, world.members[1]).state;
    let signer = world.members[6];
    let added = apply(
        &state,
        Command::AddSign {
            task: running_task(&state, signer),
            members: vec![world.members[8]],
            position: Position::Before,
            method: Method::Or,
            comment: Some("please check the invoice".into()),
            by: acting(signer),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        types(&added),
        ["approval.task.paused", "approval.task.created"]
    );
    assert_eq!(records(&added), ["append_task_before"]);
    // The paused task cannot decide; the other countersigner still can.
    let paused = apply(
        &added.state,
        Command::Approve {
            task: added
                .state
                .tasks
                .iter()
                .find(|t| t.assignee == signer && t.status == TaskStatus::Paused)
                .unwrap()
                .id,
            comment: None,
            resubmission: None,
            by: acting(signer),
        },
        now(),
    );
    assert!(matches!(paused, Err(Refusal::Stale(_))), "{paused:?}");
    let resumed = approve(&added.state, world.members[8]);
    assert_eq!(
        types(&resumed),
        ["approval.task.approved", "approval.task.resumed"]
    );
    let other = approve(&resumed.state, world.members[7]);
    assert_eq!(types(&other), ["approval.task.approved"]);
    let done = approve(&other.state, signer);
    assert_eq!(
        types(&done),
        ["approval.task.approved", "approval.instance.approved"]
    );
}

#[test]
fn add_sign_after_agrees_now_and_the_node_waits_for_the_added_approvers() {
    let world = World::new();
    let state = world.new_state(world.compile(&countersign(&world)));
    let state = start(&world, &state, 3, 150).state;
    let state = approve(&state, world.members[1]).state;
    let added = apply(
        &state,
        Command::AddSign {
            task: running_task(&state, world.members[6]),
            members: vec![world.members[8], world.members[0]],
            position: Position::After,
            method: Method::OneByOne,
            comment: None,
            by: acting(world.members[6]),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        types(&added),
        ["approval.task.approved", "approval.task.created"]
    );
    assert_eq!(records(&added), ["append_task_after"]);
    let state = approve(&added.state, world.members[7]).state;
    assert_eq!(state.instance.status, InstanceStatus::Running);
    let next = approve(&state, world.members[8]);
    assert_eq!(
        types(&next),
        ["approval.task.approved", "approval.task.created"]
    );
    let done = approve(&next.state, world.members[0]);
    assert_eq!(
        types(&done),
        ["approval.task.approved", "approval.instance.approved"]
    );
}

#[test]
fn returning_into_a_countersign_node_cancels_and_asks_both_again() {
    let world = World::new();
    let m = |i: usize| world.members[i].to_string();
    let definition = json!({
        "code": "RET", "name": "Return", "table": "claims",
        "nodes": [
            {"key": "both", "type": "approval", "method": "and", "approvers": [{"members": [m(6), m(7)]}], "next": "boss"},
            {"key": "boss", "type": "approval", "approvers": [{"members": [m(0)]}], "next": "end"}
        ]
    });
    let state = world.new_state(world.compile(&definition));
    let state = start(&world, &state, 3, 10).state;
    let state = approve(&state, world.members[6]).state;
    let state = approve(&state, world.members[7]).state;
    let back = apply(
        &state,
        Command::Return {
            task: running_task(&state, world.members[0]),
            to: ReturnTo::Node("both".into()),
            comment: Some("the amounts differ".into()),
            by: acting(world.members[0]),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        types(&back),
        [
            "approval.task.returned",
            "approval.task.created",
            "approval.task.created"
        ]
    );
    assert_eq!(records(&back), ["redirect_process"]);
    let visits: Vec<(String, u32)> = back
        .state
        .activations
        .iter()
        .map(|a| (a.node.clone(), a.visit))
        .collect();
    assert_eq!(
        visits,
        [("both".into(), 1), ("boss".into(), 1), ("both".into(), 2)]
    );
    // Returning to a node not passed is refused, naming the field.
    let refused = apply(
        &back.state,
        Command::Return {
            task: running_task(&back.state, world.members[6]),
            to: ReturnTo::Node("boss".into()),
            comment: None,
            by: acting(world.members[6]),
        },
        now(),
    );
    assert!(matches!(refused, Err(Refusal::Invalid(_))), "{refused:?}");
}

#[test]
fn a_vote_passes_at_its_percentage_and_refuses_once_it_cannot() {
    let world = World::new();
    let m = |i: usize| world.members[i].to_string();
    let definition = json!({
        "code": "VOTE", "name": "Vote", "table": "claims",
        "nodes": [{"key": "board", "type": "approval", "method": "vote", "pass_percent": 60,
                   "approvers": [{"members": [m(0), m(6), m(7), m(8), m(9)]}], "next": "end"}]
    });
    let state = world.new_state(world.compile(&definition));
    let state = start(&world, &state, 3, 10).state;
    let state = approve(&state, world.members[0]).state;
    let state = approve(&state, world.members[6]).state;
    let passed = approve(&state, world.members[7]);
    assert_eq!(passed.state.instance.status, InstanceStatus::Completed);
    let canceled = passed
        .state
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Canceled)
        .count();
    assert_eq!(canceled, 2);

    let state = world.new_state(world.compile(&definition));
    let mut state = start(&world, &state, 3, 10).state;
    for member in [0, 6] {
        state = apply(
            &state,
            Command::Refuse {
                task: running_task(&state, world.members[member]),
                comment: None,
                by: acting(world.members[member]),
            },
            now(),
        )
        .unwrap()
        .state;
    }
    assert_eq!(state.instance.status, InstanceStatus::Running);
    let refused = apply(
        &state,
        Command::Refuse {
            task: running_task(&state, world.members[7]),
            comment: None,
            by: acting(world.members[7]),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        refused.state.instance.result,
        Some(tenon_approvals::state::Decision::Refuse)
    );
}

#[test]
fn not_the_assignee_is_refused_and_an_admin_acts_as_a_recorded_agent() {
    let world = World::new();
    let state = world.new_state(world.compile(&countersign(&world)));
    let state = start(&world, &state, 3, 10).state;
    let task = running_task(&state, world.members[1]);
    let stranger = apply(
        &state,
        Command::Approve {
            task,
            comment: None,
            resubmission: None,
            by: acting(world.members[5]),
        },
        now(),
    );
    assert_eq!(stranger.unwrap_err(), Refusal::NotAssignee);
    let agent = apply(
        &state,
        Command::Approve {
            task,
            comment: None,
            resubmission: None,
            by: admin(),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        records(&agent),
        ["execute_task_agent", "finish_process_instance"]
    );
    assert_eq!(
        agent.state.task(task).unwrap().result,
        Some(TaskResult::Agree)
    );
}

#[test]
fn withdraw_cancels_open_tasks_and_sends_no_cc() {
    let world = World::new();
    let mut definition = countersign(&world);
    definition["cc"] = json!([{"at": "finish", "approvers": [{"role": "finance"}]}]);
    let state = world.new_state(world.compile(&definition));
    let state = start(&world, &state, 3, 10).state;
    let withdrawn = apply(
        &state,
        Command::Withdraw {
            comment: None,
            by: acting(world.members[3]),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        types(&withdrawn),
        [
            "approval.task.canceled",
            "approval.task.canceled",
            "approval.instance.withdrawn"
        ]
    );
    assert_eq!(records(&withdrawn), ["terminate_process_instance"]);
    assert_eq!(withdrawn.state.instance.status, InstanceStatus::Terminated);
    let again = apply(
        &withdrawn.state,
        Command::Withdraw {
            comment: None,
            by: acting(world.members[3]),
        },
        now(),
    );
    assert_eq!(again.unwrap_err(), Refusal::Finished);
}

#[test]
fn a_transfer_without_the_directory_asks_for_it_rather_than_calling_the_member_unknown() {
    let world = World::new();
    let state = world.new_state(world.compile(&countersign(&world)));
    let mut state = start(&world, &state, 3, 50).state;
    state.directory = None;
    let lead = world.members[1];
    let transfer = apply(
        &state,
        Command::Transfer {
            task: running_task(&state, lead),
            to: world.members[4],
            comment: None,
            by: acting(lead),
        },
        now(),
    );
    assert!(
        matches!(transfer, Err(Refusal::NeedsDirectory)),
        "{transfer:?}"
    );
}

#[test]
fn a_reminder_names_the_running_tasks_assignees_and_changes_nothing() {
    use tenon_approvals::engine::{Reminder, TimerKind};
    let world = World::new();
    let state = world.new_state(world.compile(&countersign(&world)));
    let started = start(&world, &state, 3, 150).state;
    let remind = |state: &InstanceState, comment: Option<&str>| {
        apply(
            state,
            Command::Remind {
                comment: comment.map(str::to_owned),
                by: acting(world.members[3]),
            },
            now(),
        )
    };
    let reminded = remind(&started, Some("请尽快")).unwrap();
    let tasks = |member: usize| running_task(&started, world.members[member]);
    assert_eq!(
        reminded.reminders,
        [1, 2]
            .map(|m| Reminder {
                task: tasks(m),
                assignee: world.members[m],
                by: Some(world.members[3]),
                comment: Some("请尽快".into()),
            })
            .to_vec()
    );
    assert!(reminded.records.is_empty() && reminded.events.is_empty());
    assert_eq!(reminded.state.tasks, started.tasks);
    assert_eq!(
        reminded.state.instance.row_version,
        started.instance.row_version
    );
    // A reminder timer names its task's assignee while the task runs, and nobody after.
    let timer = |state: &InstanceState, task| {
        apply(
            state,
            Command::Timer {
                task,
                kind: TimerKind::Remind,
            },
            now(),
        )
        .unwrap()
    };
    let fired = timer(&started, tasks(2));
    assert_eq!(fired.action, "reminded");
    assert_eq!(
        fired.reminders,
        [Reminder {
            task: tasks(2),
            assignee: world.members[2],
            by: None,
            comment: None,
        }]
    );
    let next = approve(&started, world.members[1]).state;
    let late = timer(&next, tasks(2));
    assert!(late.reminders.is_empty() && late.events.is_empty() && late.records.is_empty());
    // A task paused for an add-sign before is not reminded; the added approver is.
    let first = running_task(&next, world.members[6]);
    let paused = apply(
        &next,
        Command::AddSign {
            task: first,
            members: vec![world.members[8]],
            position: Position::Before,
            method: Method::Or,
            comment: None,
            by: acting(world.members[6]),
        },
        now(),
    )
    .unwrap()
    .state;
    let assignees: Vec<MemberId> = remind(&paused, None)
        .unwrap()
        .reminders
        .iter()
        .map(|r| r.assignee)
        .collect();
    assert_eq!(assignees, [world.members[7], world.members[8]]);
    // An ended instance reminds nobody: refused as finished.
    let ended = apply(
        &paused,
        Command::Terminate {
            comment: None,
            by: admin(),
        },
        now(),
    )
    .unwrap()
    .state;
    assert_eq!(remind(&ended, None).unwrap_err(), Refusal::Finished);
}

#[test]
fn an_organization_token_acts_for_the_active_member_it_names() {
    use tenon_model::{Actor, TokenId};
    let world = World::new();
    let state = world.new_state(world.compile(&countersign(&world)));
    let started = start(&world, &state, 3, 50).state;
    let token = |member: MemberId, admin: bool| tenon_approvals::Acting {
        member: Some(member),
        credential: Actor::Token {
            id: TokenId::new(),
            name: "erp".into(),
            member_id: None,
            member_name: None,
        },
        admin,
    };
    let approve_as = |by| {
        apply(
            &started,
            Command::Approve {
                task: running_task(&started, world.members[1]),
                comment: None,
                resubmission: None,
                by,
            },
            now(),
        )
    };
    // Naming the assignee: their own decision, through the token (both recorded).
    let done = approve_as(token(world.members[1], false)).unwrap();
    let record = &done.records[0];
    assert_eq!(record.kind.as_str(), "execute_task_normal");
    assert_eq!(record.actor, Some(world.members[1]));
    assert_eq!(record.credential.kind(), "token");
    // Naming someone else, without admin: not the assignee.
    assert_eq!(
        approve_as(token(world.members[6], false)).unwrap_err(),
        Refusal::NotAssignee
    );
    // Naming a member who does not exist (even with admin): 422 at actioner, not an agent's decision.
    let Err(Refusal::Invalid(problems)) = approve_as(token(MemberId::new(), true)) else {
        panic!("an unknown actioner is refused");
    };
    assert_eq!(problems.0[0].field, "actioner");
    // Without the directory the engine asks for it rather than guessing.
    let mut bare = started.clone();
    bare.directory = None;
    let asked = apply(
        &bare,
        Command::Comment {
            text: "x".into(),
            by: token(world.members[6], false),
        },
        now(),
    );
    assert_eq!(asked.unwrap_err(), Refusal::NeedsDirectory);
}

/// One approval node of `method` asking `approvers` (member indexes), then the end.
fn one_node(world: &World, method: &str, approvers: &[usize]) -> serde_json::Value {
    let ids: Vec<String> = approvers
        .iter()
        .map(|i| world.members[*i].to_string())
        .collect();
    json!({
        "code": "DG", "name": "Delegated", "table": "claims",
        "nodes": [{"key": "n", "type": "approval", "method": method, "approvers": [{"members": ids}], "next": "end"}]
    })
}

/// A standing delegation of every process from `from` to `to`, begun an hour ago.
fn delegation(world: &World, from: usize, to: usize) -> tenon_approvals::delegation::Delegation {
    tenon_approvals::delegation::Delegation {
        from: world.members[from],
        to: world.members[to],
        processes: None,
        starts_at: now() - chrono::TimeDelta::hours(1),
        ends_at: None,
    }
}

fn assignees(state: &InstanceState) -> Vec<MemberId> {
    state.tasks.iter().map(|task| task.assignee).collect()
}

#[test]
fn a_delegate_who_is_also_an_approver_of_the_node_gets_one_task_or_and_one_by_one() {
    let world = World::new();
    let m = |i: usize| world.members[i];
    for method in ["or", "and", "one_by_one"] {
        // The node asks 6, 7 and 8; 6 delegates to 7. After delegation 7 comes first (for 6), so 7's own
        // place goes: 7 decides once, for both.
        let mut state = world.new_state(world.compile(&one_node(&world, method, &[6, 7, 8])));
        state.delegations = std::sync::Arc::from([delegation(&world, 6, 7)]);
        let started = start(&world, &state, 3, 10);
        let redirect = started
            .records
            .iter()
            .find(|record| record.kind.as_str() == "redirect_task")
            .unwrap_or_else(|| panic!("{method}: no redirect record"));
        assert_eq!(
            (redirect.members.clone(), redirect.automatic),
            (vec![m(6), m(7)], true)
        );
        let expected_now = if method == "one_by_one" {
            vec![m(7)]
        } else {
            vec![m(7), m(8)]
        };
        assert_eq!(assignees(&started.state), expected_now, "{method}");
        let after_seven = approve(&started.state, m(7));
        let state = match method {
            // One agreement passes an OR node.
            "or" => after_seven.state,
            // AND and one-by-one wait for 8, and only for 8: 7 is not asked again.
            _ => {
                assert_eq!(
                    after_seven.state.instance.status,
                    InstanceStatus::Running,
                    "{method}"
                );
                assert_eq!(assignees(&after_seven.state), vec![m(7), m(8)], "{method}");
                approve(&after_seven.state, m(8)).state
            }
        };
        assert_eq!(state.instance.status, InstanceStatus::Completed, "{method}");
        assert_eq!(
            state
                .tasks
                .iter()
                .filter(|task| task.assignee == m(7))
                .count(),
            1,
            "{method}: {:?}",
            state.tasks
        );
    }
}

#[test]
fn two_approvers_delegating_to_one_member_make_one_task_and_a_vote_counts_it_once() {
    let world = World::new();
    let m = |i: usize| world.members[i];
    let mut definition = one_node(&world, "and", &[6, 8, 7]);
    definition["nodes"][0]["method"] = json!("vote");
    definition["nodes"][0]["pass_percent"] = json!(50);
    let mut state = world.new_state(world.compile(&definition));
    // 6 and 8 both hand their tasks to 4: the node asks 4 (for 6) and 7; two voters.
    state.delegations = std::sync::Arc::from([delegation(&world, 6, 4), delegation(&world, 8, 4)]);
    let started = start(&world, &state, 3, 10);
    assert_eq!(assignees(&started.state), vec![m(4), m(7)]);
    assert_eq!(started.state.activations[0].groups[0].voters, 2);
    // Half of two: 4's agreement passes the vote.
    let done = approve(&started.state, m(4));
    assert_eq!(done.state.instance.status, InstanceStatus::Completed);
}

#[test]
fn a_one_by_one_turn_skips_a_delegate_who_decided_and_gives_a_leavers_turn_to_their_manager() {
    let world = World::new();
    let m = |i: usize| world.members[i];
    // 6, then 8, then 7. A delegation 8 → 7 begins after the node was entered.
    let state = world.new_state(world.compile(&one_node(&world, "one_by_one", &[6, 8, 7])));
    let mut started = start(&world, &state, 3, 10).state;
    assert_eq!(assignees(&started), vec![m(6)]);
    started.delegations = std::sync::Arc::from([delegation(&world, 8, 7)]);
    // 8's turn goes to 7 (delegated); then 7's own turn is skipped: 7 decided already.
    let eights_turn = approve(&started, m(6)).state;
    assert_eq!(assignees(&eights_turn), vec![m(6), m(7)]);
    let done = approve(&eights_turn, m(7)).state;
    assert_eq!(done.instance.status, InstanceStatus::Completed);
    assert_eq!(assignees(&done), vec![m(6), m(7)]);

    // 6, then 8; 8 leaves while 6 decides: 8's turn goes to 8's manager (0 heads the root).
    let state = world.new_state(world.compile(&one_node(&world, "one_by_one", &[6, 8])));
    let mut started = start(&world, &state, 3, 10).state;
    let mut directory = (**started.directory.as_ref().unwrap()).clone();
    directory.members.get_mut(&m(8)).unwrap().active = false;
    started.directory = Some(std::sync::Arc::new(directory));
    let next = approve(&started, m(6)).state;
    assert_eq!(assignees(&next), vec![m(6), m(0)]);
    assert_eq!(next.tasks[1].status, TaskStatus::Running);
}
