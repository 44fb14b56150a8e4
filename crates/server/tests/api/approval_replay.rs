//! The store agrees with the pure engine. Random command sequences (approve, refuse, transfer, add-sign,
//! return, resubmit, remind, and reminder and timeout timers firing at arbitrary points on any task —
//! through the store's `fire_approval_timer`, as the timer task of `tenon serve` fires them) are applied
//! twice: through the API — the store locks, loads, persists, numbers — and
//! directly through `tenon_approvals::apply` on the state the store loaded after the start, with the
//! directory the store reads. After every step both must show the same tasks (node, assignee, status,
//! result), operation records (type, node, result, actor, members, automatic), instance status and result,
//! and the same events (type, instance_seq) — and refuse the same commands; and each reminder the engine
//! names is a message in that assignee's inbox, naming the same tasks.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tenon_approvals::definition::Method;
use tenon_approvals::engine::{Command, Position, ReturnTo, Submission, TimerKind};
use tenon_approvals::state::{ActivationStatus, TaskStatus};
use tenon_approvals::{Acting, InstanceState, apply};
use tenon_model::{Actor, ApprovalId, ApprovalTaskId, MemberId, TokenId};

use crate::approvals::{approval_events, member_token};
use crate::{TestApp, api_tests, member_body};

/// Sequences per backend, and steps per sequence at most.
const SEQUENCES: u64 = 12;
const STEPS_MAX: usize = 14;

/// xorshift64*: a deterministic stream per seed, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn acting(member: MemberId) -> Acting {
    Acting {
        member: Some(member),
        credential: Actor::Token {
            id: TokenId::new(),
            name: "member".into(),
            member_id: Some(member),
            member_name: Some("member".into()),
        },
        admin: false,
    }
}

type TaskRow = (String, String, String, Option<String>);
type RecordRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<String>,
    bool,
);

fn engine_tasks(state: &InstanceState) -> Vec<TaskRow> {
    state
        .tasks
        .iter()
        .map(|t| {
            (
                t.node.clone(),
                t.assignee.to_string(),
                t.status.as_str().to_owned(),
                t.result.map(|r| r.as_str().to_owned()),
            )
        })
        .collect()
}

fn api_tasks(instance: &Value) -> Vec<TaskRow> {
    instance["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["node"].as_str().unwrap().to_owned(),
                t["assignee"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
                t["result"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn record_rows(records: &[Value]) -> Vec<RecordRow> {
    records
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_owned(),
                r["node"].as_str().map(str::to_owned),
                r["result"].as_str().map(str::to_owned),
                r["actor"].as_str().map(str::to_owned),
                r["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap().to_owned())
                    .collect(),
                r["automatic"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Returns how many commands both applied and how many both refused.
async fn replay(app: &TestApp, seed: u64) -> (usize, usize) {
    let mut ids = Vec::new();
    for name in [
        "发起",
        "组长一",
        "组长二",
        "财务一",
        "财务二",
        "复核一",
        "复核二",
        "旁一",
        "旁二",
    ] {
        let member = app
            .post("/api/v1/members", &app.admin_token, member_body(name))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        ids.push(member["id"].as_str().unwrap().to_owned());
    }
    let sales = app
        .post(
            "/api/v1/departments",
            &app.admin_token,
            json!({"name": format!("销售{seed}"), "head_ids": [ids[1], ids[2]]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    app.patch(
        &format!("/api/v1/members/{}", ids[0]),
        &app.admin_token,
        json!({"department_ids": [sales["id"]]}),
    )
    .await
    .expect(StatusCode::OK);
    app.post(
        "/api/v1/roles",
        &app.admin_token,
        json!({"key": format!("fin{seed}"), "name": "财务", "member_ids": [ids[3], ids[4]]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let code = format!("REPLAY{seed}");
    app.post("/api/v1/processes", &app.admin_token, json!({
        "app": "replay", "code": code, "name": "Replay", "table": "claims",
        "record_status": {"field": "status", "running": "running", "agree": "agree", "refuse": "refuse"},
        "settings": {"remind_after_hours": 1, "timeout": {"after_hours": 48, "action": if seed.is_multiple_of(2) { "approve" } else { "refuse" }}},
        "nodes": [
            {"key": "lead", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "money"},
            {"key": "money", "type": "condition", "branches": [{"when": "{Amount} >= 100", "next": "both"}], "default": "seq"},
            {"key": "both", "type": "approval", "method": "and", "approvers": [{"role": format!("fin{seed}")}], "next": "seq"},
            {"key": "seq", "type": "approval", "method": "one_by_one", "approvers": [{"members": [ids[5], ids[6]]}], "next": "end"}
        ]
    })).await.expect(StatusCode::CREATED);
    app.post(
        &format!("/api/v1/processes/{code}/publish"),
        &app.admin_token,
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    let mut tokens = std::collections::HashMap::new();
    for id in &ids {
        tokens.insert(id.clone(), member_token(app, id).await);
    }
    let members: Vec<MemberId> = ids.iter().map(|id| id.parse().unwrap()).collect();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let amount = if rng.below(2) == 0 { "50" } else { "150" };

    let started = app
        .post(
            "/api/v1/approvals",
            &tokens[&ids[0]],
            json!({"process": code, "fields": {"title": "replay", "amount": amount}}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    let instance: ApprovalId = started["id"].as_str().unwrap().parse().unwrap();
    let tenant = app.store.tenant(app.org.id);
    let mut state = tenant.approval(instance).await.unwrap().state;
    state.directory = Some(Arc::new(tenant.approval_directory().await.unwrap()));
    let mut records: Vec<RecordRow> = record_rows(started["operation_records"].as_array().unwrap());
    let mut seen_events = approval_events(app, &instance.to_string()).await.len();
    let now = app.store.now();
    let (mut applied, mut refused) = (0, 0);
    // How many reminder messages each member should have.
    let mut inbox: std::collections::HashMap<MemberId, usize> = Default::default();

    for step in 0..STEPS_MAX {
        let running: Vec<usize> = (0..state.tasks.len())
            .filter(|i| state.tasks[*i].status == TaskStatus::Running)
            .collect();
        if running.is_empty() {
            break;
        }
        let idx = running[rng.below(running.len())];
        let task = state.tasks[idx].clone();
        let by = acting(task.assignee);
        let others: Vec<MemberId> = members
            .iter()
            .copied()
            .filter(|m| *m != task.assignee)
            .collect();
        let passed: Vec<String> = state
            .activations
            .iter()
            .filter(|a| {
                a.status == ActivationStatus::Passed
                    && a.node != tenon_approvals::definition::INITIATOR
            })
            .map(|a| a.node.clone())
            .collect();
        let initiator_task = task.node == tenon_approvals::definition::INITIATOR;
        // The initiator's resubmit task: resubmit, or remind, or a timer.
        let choice = if initiator_task {
            [0, 8, 9][rng.below(3)]
        } else {
            rng.below(11)
        };
        // A timer fires on any task, running or not (the store fires what it leased, whatever the task
        // did meanwhile).
        let timer_task = rng.below(state.tasks.len());
        let timer_kind = if rng.below(2) == 0 {
            TimerKind::Remind
        } else {
            TimerKind::Timeout
        };
        let (command, path, body) = match choice {
            0..=2 => (
                Command::Approve {
                    task: task.id,
                    comment: None,
                    resubmission: None,
                    by,
                },
                "approve",
                json!({}),
            ),
            3 => (
                Command::Refuse {
                    task: task.id,
                    comment: Some("no".into()),
                    by,
                },
                "refuse",
                json!({"comment": "no"}),
            ),
            4 => {
                let to = others[rng.below(others.len())];
                (
                    Command::Transfer {
                        task: task.id,
                        to,
                        comment: None,
                        by,
                    },
                    "transfer",
                    json!({"to": to.to_string()}),
                )
            }
            5 | 6 => {
                let added = vec![others[rng.below(others.len())]];
                let position = if rng.below(2) == 0 {
                    Position::Before
                } else {
                    Position::After
                };
                let method = [Method::Or, Method::And, Method::OneByOne][rng.below(3)];
                (
                    Command::AddSign {
                        task: task.id,
                        members: added.clone(),
                        position,
                        method,
                        comment: None,
                        by,
                    },
                    "add-sign",
                    json!({"members": added.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "position": if position == Position::Before { "before" } else { "after" }, "method": method.as_str()}),
                )
            }
            8 => (
                Command::Remind {
                    comment: None,
                    by: acting(members[0]),
                },
                "remind",
                json!({}),
            ),
            9 | 10 => (
                Command::Timer {
                    task: state.tasks[timer_task].id,
                    kind: timer_kind,
                },
                "timer",
                json!({"task": timer_task, "kind": timer_kind.as_str()}),
            ),
            _ => {
                let to = if passed.is_empty() || rng.below(3) == 0 {
                    None
                } else {
                    Some(passed[rng.below(passed.len())].clone())
                };
                (
                    Command::Return {
                        task: task.id,
                        to: to.clone().map_or(ReturnTo::Initiator, ReturnTo::Node),
                        comment: None,
                        by,
                    },
                    "return",
                    json!({"to": to.unwrap_or_else(|| "initiator".into())}),
                )
            }
        };
        let mut engine = apply(&state, command.clone(), now);
        if let (
            Err(tenon_approvals::Refusal::NeedsRecord),
            Command::Approve {
                task, comment, by, ..
            },
        ) = (&engine, &command)
        {
            let submission = Submission {
                values: state.instance.values.clone(),
                created_by: state.instance.created_by,
                modified_by: state.instance.modified_by,
            };
            engine = apply(
                &state,
                Command::Approve {
                    task: *task,
                    comment: comment.clone(),
                    resubmission: Some(submission),
                    by: by.clone(),
                },
                now,
            );
        }
        let reply = match path {
            "remind" => {
                app.post(
                    &format!("/api/v1/approvals/{instance}/remind"),
                    &tokens[&ids[0]],
                    body.clone(),
                )
                .await
            }
            "timer" => {
                let task: ApprovalTaskId = started_task_id(app, instance, timer_task)
                    .await
                    .parse()
                    .unwrap();
                let fired = app
                    .store
                    .fire_approval_timer(&tenon_store::approvals::DueTimer {
                        org_id: app.org.id,
                        task,
                        kind: timer_kind,
                        instance,
                        due_at: now,
                    })
                    .await
                    .expect("the store fires the timer");
                let reply = app
                    .get(&format!("/api/v1/approvals/{instance}"), &app.admin_token)
                    .await;
                assert_eq!(
                    fired,
                    engine.is_ok(),
                    "seed {seed}, step {step}: fired {fired}, engine {engine:?}"
                );
                reply
            }
            _ => {
                let api_task = started_task_id(app, instance, idx).await;
                app.post(
                    &format!("/api/v1/approval-tasks/{api_task}/{path}"),
                    &tokens[&task.assignee.to_string()],
                    body.clone(),
                )
                .await
            }
        };
        let context = format!(
            "seed {seed}, step {step}: {path} {body} on task #{idx} ({}): engine {:?}, API {} {}",
            task.node,
            engine.as_ref().map(|_| "ok"),
            reply.status,
            reply.body
        );
        match engine {
            Err(_) => {
                // (A timer the engine refuses retires unfired, asserted above.)
                assert!(
                    path == "timer" || reply.status.is_client_error(),
                    "{context}"
                );
                refused += 1;
                continue;
            }
            Ok(transition) => {
                assert_eq!(reply.status, StatusCode::OK, "{context}");
                assert_eq!(
                    api_tasks(&reply.body),
                    engine_tasks(&transition.state),
                    "{context}"
                );
                assert_eq!(
                    (
                        reply.body["status"].as_str().unwrap(),
                        reply.body["result"].as_str()
                    ),
                    (
                        transition.state.instance.status.as_str(),
                        transition.state.instance.result.map(|r| r.as_str())
                    ),
                    "{context}"
                );
                records.extend(transition.records.iter().map(|r| {
                    (
                        r.kind.as_str().to_owned(),
                        r.node.clone(),
                        r.result.map(|result| result.as_str().to_owned()),
                        r.actor.map(|actor| actor.to_string()),
                        r.members.iter().map(ToString::to_string).collect(),
                        r.automatic,
                    )
                }));
                assert_eq!(
                    record_rows(reply.body["operation_records"].as_array().unwrap()),
                    records,
                    "{context}"
                );
                let events = approval_events(app, &instance.to_string()).await;
                let fresh: Vec<(String, i64)> = events[seen_events..].to_vec();
                seen_events = events.len();
                let expected: Vec<(String, i64)> = transition
                    .events
                    .iter()
                    .map(|e| (e.event_type.to_owned(), e.instance_seq))
                    .collect();
                assert_eq!(fresh, expected, "{context}");
                // Each reminded assignee has one more message, naming the reminded tasks.
                let mut reminded: Vec<(MemberId, Vec<String>)> = Vec::new();
                for reminder in &transition.reminders {
                    let index = state
                        .tasks
                        .iter()
                        .position(|t| t.id == reminder.task)
                        .unwrap();
                    let api_id = reply.body["tasks"][index]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    match reminded
                        .iter_mut()
                        .find(|(who, _)| *who == reminder.assignee)
                    {
                        Some((_, tasks)) => tasks.push(api_id),
                        None => reminded.push((reminder.assignee, vec![api_id])),
                    }
                }
                for (member, tasks) in &reminded {
                    *inbox.entry(*member).or_default() += 1;
                    let messages = app
                        .store
                        .tenant(app.org.id)
                        .notifications(*member, None, 200)
                        .await
                        .unwrap();
                    assert_eq!(messages[0].source["task_ids"], json!(tasks), "{context}");
                    assert_eq!(
                        messages[0].source["instance_id"],
                        instance.to_string(),
                        "{context}"
                    );
                }
                for member in &members {
                    let messages = app
                        .store
                        .tenant(app.org.id)
                        .notifications(*member, None, 200)
                        .await
                        .unwrap();
                    assert_eq!(
                        messages.len(),
                        inbox.get(member).copied().unwrap_or(0),
                        "inbox of {member}: {context}"
                    );
                }
                state = transition.state;
                applied += 1;
            }
        }
    }
    (applied, refused)
}

/// The API's id of the task at `index` in creation order (the engine's order).
async fn started_task_id(app: &TestApp, instance: ApprovalId, index: usize) -> String {
    let current = app
        .get(&format!("/api/v1/approvals/{instance}"), &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    current["tasks"][index]["id"].as_str().unwrap().to_owned()
}

api_tests! {
    async fn random_sequences_through_the_store_agree_with_the_engine(app) {
        app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "replay", "name": "Replay",
            "tables": [{"key": "claims", "name": "Claims", "fields": [
                {"key": "title", "name": "Title", "type": "text"},
                {"key": "amount", "name": "Amount", "type": "number", "options": {"precision": 2}},
                {"key": "status", "name": "Status", "type": "single_select", "options": {"choices": [{"name": "running"}, {"name": "agree"}, {"name": "refuse"}]}}
            ]}]
        })).await.expect(StatusCode::CREATED);
        let (mut applied, mut refused) = (0, 0);
        for seed in 1..=SEQUENCES {
            let (a, r) = replay(&app, seed).await;
            applied += a;
            refused += r;
        }
        println!("replay: {applied} commands applied alike, {refused} refused alike");
        assert!(applied >= 40, "the sequences applied too little to compare: {applied}");
        app
    }
}
