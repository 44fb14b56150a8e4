//! Property tests of the engine: random process graphs (approval, handle, CC and condition nodes with
//! every method and approver rule, random settings) driven by random interleavings of every command, by
//! assignees, by other members and by administrators. After every step the invariants hold:
//!
//! - a terminal instance has no open task or activation, and stays as it ended;
//! - a decided or canceled task never changes again, and was decided by its assignee (or an agent with
//!   `admin`, or the engine itself, recorded as such);
//! - an OR group has at most one agreement; a passed AND node had every approver agree;
//! - the version never changes; exactly one finish-or-terminate event, at the end;
//! - every accepted action appends exactly one non-automatic record; record `seq` and `instance_seq`
//!   count up without gaps;
//! - timers (reminders and timeouts, per the random settings) fire at arbitrary points, on any task:
//!   every task that starts running gets exactly the timers the settings ask for; a reminder (timer or
//!   `remind`) changes no state, names exactly the running tasks' assignees and leaves no record or
//!   event; a timeout decides only a running task of a running instance, once, as an automatic record;
//! - a refused command is one of the expected refusals (never a runaway).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::{World, acting, admin, now};
use proptest::prelude::*;
use serde_json::{Value, json};
use tenon_approvals::definition::Method;
use tenon_approvals::engine::{Command, Position, ReturnTo, TimerKind};
use tenon_approvals::history::RecordKind;
use tenon_approvals::state::{ActivationStatus, InstanceStatus, TaskResult, TaskStatus};
use tenon_approvals::{InstanceState, Refusal, Transition, apply};
use tenon_model::ApprovalTaskId;

#[derive(Debug, Clone)]
struct NodeSpec {
    kind: u8,
    method: u8,
    rules: Vec<u8>,
    threshold: i64,
    jump: u8,
}

#[derive(Debug, Clone)]
struct ProcessSpec {
    nodes: Vec<NodeSpec>,
    dedupe: u8,
    initiator_is_approver: u8,
    no_approver: u8,
    on_refuse: u8,
    withdraw: u8,
    remind: bool,
    /// 0: no timeout; 1: approve; 2: refuse.
    timeout: u8,
}

#[derive(Debug, Clone)]
enum Move {
    Approve,
    Refuse,
    Transfer,
    AddSign {
        before: bool,
        method: u8,
        count: u8,
    },
    Return {
        to_initiator: bool,
    },
    Withdraw,
    Terminate,
    Comment,
    Cc,
    /// A timer comes due: a reminder or a timeout, of a running task or (`any`) of any task.
    Timer {
        remind: bool,
        any: bool,
    },
    Remind,
    MemberLeft,
}

#[derive(Debug, Clone)]
struct Step {
    action: Move,
    task: u8,
    /// 0: the assignee; 1: another member; 2: an administrator.
    actor: u8,
    other: u8,
}

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        0u8..10,
        0u8..6,
        prop::collection::vec(0u8..9, 1..3),
        0i64..200,
        any::<u8>(),
    )
        .prop_map(|(kind, method, rules, threshold, jump)| NodeSpec {
            kind,
            method,
            rules,
            threshold,
            jump,
        })
}

fn process_spec() -> impl Strategy<Value = ProcessSpec> {
    (
        prop::collection::vec(node_spec(), 1..7),
        0u8..3,
        0u8..3,
        0u8..3,
        0u8..2,
        0u8..3,
        any::<bool>(),
        0u8..3,
    )
        .prop_map(
            |(
                nodes,
                dedupe,
                initiator_is_approver,
                no_approver,
                on_refuse,
                withdraw,
                remind,
                timeout,
            )| {
                ProcessSpec {
                    nodes,
                    dedupe,
                    initiator_is_approver,
                    no_approver,
                    on_refuse,
                    withdraw,
                    remind,
                    timeout,
                }
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    let action = prop_oneof![
        6 => Just(Move::Approve),
        2 => Just(Move::Refuse),
        1 => Just(Move::Transfer),
        2 => (any::<bool>(), 0u8..3, 1u8..4).prop_map(|(before, method, count)| Move::AddSign { before, method, count }),
        1 => any::<bool>().prop_map(|to_initiator| Move::Return { to_initiator }),
        1 => Just(Move::Withdraw),
        1 => Just(Move::Terminate),
        1 => Just(Move::Comment),
        1 => Just(Move::Cc),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(remind, any)| Move::Timer { remind, any }),
        1 => Just(Move::Remind),
        1 => Just(Move::MemberLeft),
    ];
    (action, any::<u8>(), 0u8..3, any::<u8>()).prop_map(|(action, task, actor, other)| Step {
        action,
        task,
        actor,
        other,
    })
}

fn rule(world: &World, code: u8, i: usize) -> Value {
    let member = |k: usize| world.members[k % world.members.len()].to_string();
    match code {
        0 => json!({"members": [member(i + 3), member(i + 4)]}),
        1 => json!({"role": "finance"}),
        2 => json!({"role": "board"}),
        3 => json!({"manager": 1}),
        4 => json!({"field": "owner"}),
        5 => json!({"initiator": true}),
        6 => json!({"department_head": true}),
        7 => json!({"manager_chain": 2}),
        _ => json!({"members": [member(i + 7)]}),
    }
}

fn definition(world: &World, spec: &ProcessSpec) -> Value {
    let n = spec.nodes.len();
    let key = |i: usize| {
        if i >= n {
            "end".to_owned()
        } else {
            format!("n{i}")
        }
    };
    let nodes: Vec<Value> = spec
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let next = key(i + 1);
            let approvers: Vec<Value> = node.rules.iter().map(|code| rule(world, *code, i)).collect();
            let method = match node.method {
                0 => json!({"method": "or"}),
                1 => json!({"method": "and"}),
                2 => json!({"method": "one_by_one"}),
                3 => json!({"method": "vote", "pass_percent": 50}),
                4 => json!({"method": "vote", "pass_percent": 100}),
                _ => json!({"method": "and"}),
            };
            let mut value = match node.kind {
                0..=5 => json!({"type": "approval", "approvers": approvers, "next": next}),
                6 => json!({"type": "handle", "approvers": approvers, "next": next}),
                7 => json!({"type": "cc", "approvers": approvers, "next": next}),
                _ => {
                    let later = i + 1 + usize::from(node.jump) % (n - i);
                    json!({
                        "type": "condition",
                        "branches": [{"when": format!("{{Amount}} > {}", node.threshold), "next": key(later)}],
                        "default": next,
                    })
                }
            };
            value["key"] = json!(key(i));
            if matches!(node.kind, 0..=5) {
                for (k, v) in method.as_object().unwrap() {
                    value[k] = v.clone();
                }
            } else if node.kind == 6 && node.method == 1 {
                value["method"] = json!("and");
            }
            value
        })
        .collect();
    let pick = |names: [&'static str; 3], i: u8| names[usize::from(i) % 3];
    let on_refuse = if spec.on_refuse == 0 {
        "end"
    } else {
        "return_to_initiator"
    };
    let mut settings = json!({
        "dedupe": pick(["off", "keep_first", "consecutive"], spec.dedupe),
        "initiator_is_approver": pick(["approve_self", "auto_pass", "manager"], spec.initiator_is_approver),
        "no_approver": pick(["pass", "admin", "pass"], spec.no_approver),
        "on_refuse": on_refuse,
        "withdraw": pick(["always", "before_action", "never"], spec.withdraw),
    });
    if spec.remind {
        settings["remind_after_hours"] = json!(2);
    }
    if spec.timeout > 0 {
        let action = if spec.timeout == 1 {
            "approve"
        } else {
            "refuse"
        };
        settings["timeout"] = json!({"after_hours": 24, "action": action});
    }
    json!({
        "code": "PROP", "name": "Property", "table": "claims",
        "record_status": {"field": "status", "running": "running", "agree": "agree", "refuse": "refuse", "withdrawn": "withdrawn", "terminated": "terminated"},
        "settings": settings,
        "cc": [{"at": "finish", "approvers": [{"role": "finance"}]}],
        "nodes": nodes,
    })
}

/// Builds the command a step stands for in `state` (`None` when it makes no sense there).
fn command(world: &World, state: &InstanceState, step: &Step) -> Option<Command> {
    let open: Vec<_> = state
        .tasks
        .iter()
        .filter(|task| task.status == TaskStatus::Running)
        .collect();
    let task = if open.is_empty() {
        state
            .tasks
            .get(usize::from(step.task) % state.tasks.len().max(1))
    } else {
        Some(open[usize::from(step.task) % open.len()])
    };
    let other = world.members[usize::from(step.other) % world.members.len()];
    let by = match (step.actor, task) {
        (0, Some(task)) => acting(task.assignee),
        (2, _) => admin(),
        _ => acting(other),
    };
    let initiator = acting(state.instance.initiator);
    let task_id = task.map_or_else(ApprovalTaskId::new, |task| task.id);
    Some(match &step.action {
        Move::Approve => Command::Approve {
            task: task_id,
            comment: None,
            resubmission: Some(
                world.submission(i64::from(step.other), usize::from(step.other) % 10),
            ),
            by,
        },
        Move::Refuse => Command::Refuse {
            task: task_id,
            comment: Some("no".into()),
            by,
        },
        Move::Transfer => Command::Transfer {
            task: task_id,
            to: other,
            comment: None,
            by,
        },
        Move::AddSign {
            before,
            method,
            count,
        } => Command::AddSign {
            task: task_id,
            members: (0..usize::from(*count))
                .map(|k| world.members[(usize::from(step.other) + k * 3) % world.members.len()])
                .collect(),
            position: if *before {
                Position::Before
            } else {
                Position::After
            },
            method: [Method::Or, Method::And, Method::OneByOne][usize::from(*method)],
            comment: None,
            by,
        },
        Move::Return { to_initiator } => {
            let passed: Vec<&str> = state
                .activations
                .iter()
                .filter(|a| a.status == ActivationStatus::Passed && a.node.starts_with('n'))
                .map(|a| a.node.as_str())
                .collect();
            let to = if *to_initiator || passed.is_empty() {
                ReturnTo::Initiator
            } else {
                ReturnTo::Node(passed[usize::from(step.other) % passed.len()].to_owned())
            };
            Command::Return {
                task: task_id,
                to,
                comment: None,
                by,
            }
        }
        Move::Withdraw => Command::Withdraw {
            comment: None,
            by: if step.actor == 0 { initiator } else { by },
        },
        Move::Terminate => Command::Terminate { comment: None, by },
        Move::Comment => Command::Comment {
            text: "a remark".into(),
            by,
        },
        Move::Cc => Command::Cc {
            members: vec![other],
            comment: None,
            by,
        },
        Move::Timer { remind, any } => Command::Timer {
            task: if *any {
                state
                    .tasks
                    .get(usize::from(step.other) % state.tasks.len().max(1))
                    .map_or(task_id, |task| task.id)
            } else {
                task_id
            },
            kind: if *remind {
                TimerKind::Remind
            } else {
                TimerKind::Timeout
            },
        },
        Move::Remind => Command::Remind {
            comment: None,
            by: if step.actor == 0 { initiator } else { by },
        },
        Move::MemberLeft => Command::MemberLeft {
            member: task.map_or(other, |task| task.assignee),
        },
    })
}

const ENDINGS: [&str; 4] = [
    "approval.instance.approved",
    "approval.instance.refused",
    "approval.instance.withdrawn",
    "approval.instance.terminated",
];

/// Invariants of one accepted transition from `before`.
fn check_transition(before: &InstanceState, command: &Command, transition: &Transition) {
    let after = &transition.state;
    let actions = transition.records.iter().filter(|r| !r.automatic).count();
    let expected = match command {
        Command::Timer { .. } | Command::MemberLeft { .. } | Command::Remind { .. } => 0,
        _ => 1,
    };
    assert_eq!(
        actions, expected,
        "records of {command:?}: {:?}",
        transition.records
    );
    // Records and events count on from where they were.
    for (k, record) in transition.records.iter().enumerate() {
        assert_eq!(record.seq, before.instance.last_record_seq + 1 + k as i64);
    }
    for (k, event) in transition.events.iter().enumerate() {
        assert_eq!(
            event.instance_seq,
            before.instance.last_event_seq + 1 + k as i64
        );
    }
    assert_eq!(after.instance.version, before.instance.version);
    // A decided or canceled task never changes.
    for old in &before.tasks {
        if !old.status.is_open() {
            assert_eq!(after.task(old.id), Some(old), "a closed task changed");
        }
    }
    check_timers(before, command, transition);
    // Who decided: the assignee, an agent with admin, or the engine.
    for record in &transition.records {
        if record.kind == RecordKind::ExecuteTaskNormal {
            let task = after.task(record.task.unwrap()).unwrap();
            assert_eq!(record.actor, Some(task.assignee), "decided by someone else");
        }
        if record.kind == RecordKind::ExecuteTaskAgent {
            let by = match command {
                Command::Approve { by, .. } | Command::Refuse { by, .. } => by,
                other => panic!("an agent record from {other:?}"),
            };
            assert!(by.admin);
        }
    }
}

/// Timers and reminders: each task that starts running gets the timers the settings ask for; reminders
/// change nothing and name the running tasks; a timeout decides a running task once, automatically.
fn check_timers(before: &InstanceState, command: &Command, transition: &Transition) {
    let after = &transition.state;
    let settings = before.process.process.settings;
    let was_running = |id| {
        before
            .task(id)
            .is_some_and(|t| t.status == TaskStatus::Running)
    };
    let mut expected = Vec::new();
    for task in after
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Running)
    {
        if was_running(task.id) {
            continue;
        }
        if settings.remind_after_hours.is_some() {
            expected.push((task.id, TimerKind::Remind));
        }
        if settings.timeout.is_some() {
            expected.push((task.id, TimerKind::Timeout));
        }
    }
    let timers: Vec<_> = transition.timers.iter().map(|t| (t.task, t.kind)).collect();
    assert_eq!(timers, expected, "timers of {command:?}");
    let running: Vec<_> = before
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Running)
        .map(|t| (t.id, t.assignee))
        .collect();
    let reminded: Vec<_> = transition
        .reminders
        .iter()
        .map(|r| (r.task, r.assignee))
        .collect();
    let unchanged = |what: &str| {
        assert!(
            transition.records.is_empty() && transition.events.is_empty(),
            "{what} left records or events"
        );
        assert_eq!(after.tasks, before.tasks, "{what} changed a task");
        assert_eq!(
            after.activations, before.activations,
            "{what} changed an activation"
        );
        assert_eq!(
            after.instance, before.instance,
            "{what} changed the instance"
        );
    };
    match command {
        Command::Remind { .. } => {
            assert_eq!(reminded, running, "a remind names every running task");
            unchanged("a remind");
        }
        Command::Timer { task, kind } => {
            let live = before.instance.status == InstanceStatus::Running && was_running(*task);
            match kind {
                TimerKind::Remind => {
                    let expected: Vec<_> = running
                        .iter()
                        .copied()
                        .filter(|(id, _)| live && id == task)
                        .collect();
                    assert_eq!(
                        reminded, expected,
                        "a reminder timer names its running task"
                    );
                    unchanged("a reminder timer");
                }
                TimerKind::Timeout => {
                    assert!(reminded.is_empty());
                    let decided = transition
                        .records
                        .iter()
                        .filter(|r| r.task == Some(*task) && r.kind == RecordKind::ExecuteTaskAuto)
                        .count();
                    let initiator_task = before
                        .task(*task)
                        .is_some_and(|t| t.node == tenon_approvals::definition::INITIATOR);
                    if !live || settings.timeout.is_none() || initiator_task {
                        unchanged("a timeout of a task that does not run (or with no timeout set)");
                    } else {
                        assert_eq!(
                            decided, 1,
                            "a timeout decides its task once: {:?}",
                            transition.records
                        );
                        let task = after.task(*task).unwrap();
                        assert_eq!(task.status, TaskStatus::Completed, "a timed-out task ends");
                    }
                }
            }
        }
        _ => assert!(reminded.is_empty(), "{command:?} reminded someone"),
    }
}

/// Invariants of a state.
fn check_state(state: &InstanceState, ending_events: usize) {
    let terminal = matches!(
        state.instance.status,
        InstanceStatus::Completed | InstanceStatus::Terminated
    );
    if terminal {
        assert_eq!(
            state.open_tasks().count(),
            0,
            "a finished instance has open tasks"
        );
        assert!(
            state
                .activations
                .iter()
                .all(|a| a.status != ActivationStatus::Open),
            "a finished instance has an open activation"
        );
        assert_eq!(ending_events, 1, "one finish-or-terminate event");
    } else {
        assert_eq!(ending_events, 0, "an ending event before the end");
    }
    for activation in &state.activations {
        for group in &activation.groups {
            let tasks: Vec<_> = state
                .tasks
                .iter()
                .filter(|t| t.activation == activation.id && t.group == group.number)
                .collect();
            let agreed = tasks
                .iter()
                .filter(|t| matches!(t.result, Some(TaskResult::Agree | TaskResult::Done)))
                .count();
            if group.method == Method::Or {
                assert!(agreed <= 1, "an OR group agreed {agreed} times");
            }
            if group.number == 0
                && group.method == Method::And
                && activation.status == ActivationStatus::Passed
            {
                assert!(
                    tasks.iter().all(|t| matches!(
                        t.result,
                        Some(TaskResult::Agree | TaskResult::Done | TaskResult::Redirected)
                    )),
                    "a passed AND node with a task not agreed: {tasks:?}"
                );
            }
        }
    }
}

fn expected_refusal(refusal: &Refusal) -> bool {
    match refusal {
        Refusal::Stale(reason) => !reason.contains("come to rest") && !reason.contains("no node"),
        Refusal::NeedsDirectory | Refusal::NeedsRecord | Refusal::TooManyApprovers(_) => false,
        _ => true,
    }
}

/// What one case did: accepted commands by kind, and how the instance ended.
#[derive(Debug, Default)]
struct Tally {
    accepted: HashMap<&'static str, usize>,
    endings: HashMap<&'static str, usize>,
}

fn run_case(spec: &ProcessSpec, amount: i64, initiator: usize, steps: &[Step], tally: &mut Tally) {
    let world = World::new();
    let process = world.compile(&definition(&world, spec));
    let mut state = world.new_state(process);
    let start = Command::Start {
        initiator: world.members[initiator],
        department: None,
        selected: Default::default(),
        submission: world.submission(amount, initiator),
        by: acting(world.members[initiator]),
    };
    let transition = apply(&state, start.clone(), now()).expect("a start is accepted");
    check_transition(&state, &start, &transition);
    let mut events: Vec<&'static str> = transition.events.iter().map(|e| e.event_type).collect();
    state = transition.state;
    let mut ended = None;
    for step in steps {
        let endings = events.iter().filter(|t| ENDINGS.contains(t)).count();
        check_state(&state, endings);
        if let Some(ending) = ended {
            assert_eq!(
                ending,
                (state.instance.status, state.instance.result),
                "an ended instance changed"
            );
        } else if state.instance.status != InstanceStatus::Running {
            ended = Some((state.instance.status, state.instance.result));
        }
        let Some(command) = command(&world, &state, step) else {
            continue;
        };
        match apply(&state, command.clone(), now()) {
            Ok(transition) => {
                check_transition(&state, &command, &transition);
                *tally.accepted.entry(transition.action).or_default() += 1;
                if matches!(command, Command::Timer { .. })
                    && transition
                        .records
                        .iter()
                        .any(|r| r.kind == RecordKind::ExecuteTaskAuto)
                {
                    *tally.accepted.entry("timed_out").or_default() += 1;
                }
                if !transition.reminders.is_empty() {
                    *tally.accepted.entry("reminders_sent").or_default() += 1;
                }
                events.extend(transition.events.iter().map(|e| e.event_type));
                state = transition.state;
            }
            Err(refusal) => assert!(
                expected_refusal(&refusal),
                "unexpected {refusal:?} for {command:?}"
            ),
        }
    }
    let endings: Vec<&'static str> = events
        .iter()
        .copied()
        .filter(|t| ENDINGS.contains(t))
        .collect();
    check_state(&state, endings.len());
    for ending in endings {
        *tally.endings.entry(ending).or_default() += 1;
    }
    assert_eq!(
        events
            .iter()
            .filter(|t| **t == "approval.instance.started")
            .count(),
        1
    );
}

fn case() -> impl Strategy<Value = (ProcessSpec, i64, usize, Vec<Step>)> {
    (
        process_spec(),
        0i64..250,
        0usize..10,
        prop::collection::vec(step(), 0..40),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_graphs_and_interleavings_keep_every_invariant((spec, amount, initiator, steps) in case()) {
        run_case(&spec, amount, initiator, &steps, &mut Tally::default());
    }
}

/// The generator reaches every command and every ending, so the property above is not vacuous.
#[test]
fn the_random_runs_exercise_every_command_and_every_ending() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut tally = Tally::default();
    for _ in 0..300 {
        let (spec, amount, initiator, steps) = case().new_tree(&mut runner).unwrap().current();
        run_case(&spec, amount, initiator, &steps, &mut tally);
    }
    println!("{tally:?}");
    for action in [
        "approved",
        "refused",
        "transferred",
        "add_signed",
        "returned",
        "withdrawn",
        "terminated",
        "commented",
        "cc",
        "timer",
        "timed_out",
        "reminded",
        "reminders_sent",
        "reassigned",
    ] {
        assert!(
            tally.accepted.get(action).copied().unwrap_or(0) > 5,
            "{action}: {tally:?}"
        );
    }
    for ending in ENDINGS {
        assert!(
            tally.endings.get(ending).copied().unwrap_or(0) > 5,
            "{ending}: {tally:?}"
        );
    }
}
