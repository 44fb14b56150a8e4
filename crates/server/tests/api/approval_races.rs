//! Approval commands racing each other and the rest of the store on one database: members who leave
//! while their instances are approved, records edited while their status is written, and two nodes
//! leasing the same timers. On PostgreSQL each of these deadlocked (a 500) or fired twice before the
//! lock order of docs/approvals.md; on SQLite they run through the single writer.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tenon_store::testing::TestBackend;

use crate::approvals::{approval_events, running_task, school};
use crate::{TestApp, api_tests, member_body};

/// Open tasks (new, running or paused) in an instance.
fn open_tasks(instance: &Value) -> Vec<&Value> {
    instance["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|task| matches!(task["status"].as_str(), Some("new" | "running" | "paused")))
        .collect()
}

api_tests! {
    async fn members_leaving_racing_approvals_and_record_edits_all_succeed(app) {
        // Six more deans: every appeal's first (OR) node has a task for each of the seven. While eight
        // clients approve their appeals (instance, approval counter, record, event counter) and edit the
        // appeals' records (record, event counter), the six leave one after another: each locks every
        // instance where they have an open task, reassigns it, and is audited last.
        let school = school(&app).await;
        let mut helpers = Vec::new();
        for i in 0..6 {
            let member = app.post("/api/v1/members", &app.admin_token, member_body(&format!("德育助理{i}"))).await.expect(StatusCode::CREATED).clone();
            helpers.push(member["id"].as_str().unwrap().to_owned());
        }
        let deans: Vec<&String> = std::iter::once(&school.dean).chain(&helpers).collect();
        app.patch("/api/v1/roles/dean", &app.admin_token, json!({"member_ids": deans})).await.expect(StatusCode::OK);
        let mut started = Vec::new();
        for i in 0..24 {
            let appeal = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "fields": {
                "item": format!("卫生 {i}"), "points": "2.0", "head_teacher": school.teacher, "inspector": school.inspector
            }})).await.expect(StatusCode::CREATED).clone();
            assert_eq!(open_tasks(&appeal).len(), 7, "{appeal}");
            started.push(appeal);
        }
        let (a, s) = (&app, &school);
        let approvers = started.chunks(3).map(|chunk| async move {
            let mut finished = Vec::new();
            for appeal in chunk {
                let record = appeal["record"]["id"].as_str().unwrap();
                let path = format!("/api/v1/apps/school/tables/inspections/records/{record}");
                let dean_task = running_task(appeal, &s.dean).to_owned();
                let approve = format!("/api/v1/approval-tasks/{dean_task}/approve");
                let (after_dean, edited) = tokio::join!(
                    a.post(&approve, s.token("dean"), json!({})),
                    a.patch(&path, &a.admin_token, json!({"fields": {"item": "卫生（已核）"}})),
                );
                edited.expect(StatusCode::OK);
                // A helper who left first passed the OR node (the process's `no_approver`, `pass`): then
                // the dean's task was canceled and the approve is 409; either way the vice's task runs.
                let after_dean = if after_dean.status == StatusCode::CONFLICT {
                    after_dean.expect_error(StatusCode::CONFLICT, "conflict");
                    a.get(&format!("/api/v1/approvals/{}", appeal["id"].as_str().unwrap()), &a.admin_token).await.expect(StatusCode::OK).clone()
                } else {
                    after_dean.expect(StatusCode::OK).clone()
                };
                let vice_task = running_task(&after_dean, &s.vice).to_owned();
                let approve = format!("/api/v1/approval-tasks/{vice_task}/approve");
                let (done, edited) = tokio::join!(
                    a.post(&approve, s.token("vice"), json!({})),
                    a.patch(&path, &a.admin_token, json!({"fields": {"points": "2.5"}})),
                );
                edited.expect(StatusCode::OK);
                finished.push(done.expect(StatusCode::OK).clone());
            }
            finished
        });
        let leavers = async {
            for helper in &helpers {
                a.patch(&format!("/api/v1/members/{helper}"), &a.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
            }
        };
        let (finished, ()) = tokio::join!(futures_util::future::join_all(approvers), leavers);
        let finished: Vec<Value> = finished.into_iter().flatten().collect();
        assert_eq!(finished.len(), 24);
        for appeal in &started {
            let id = appeal["id"].as_str().unwrap();
            let now = app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            assert_eq!((now["status"].as_str(), now["result"].as_str()), (Some("completed"), Some("agree")), "{now}");
            assert_eq!(open_tasks(&now), Vec::<&Value>::new(), "an ended appeal with an open task: {now}");
            // The records are gap-free and the instance's events count 1..n.
            let seqs: Vec<i64> = now["operation_records"].as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()).collect();
            assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{now}");
            let events: Vec<i64> = approval_events(&app, id).await.iter().map(|(_, seq)| *seq).collect();
            assert_eq!(events, (1..=events.len() as i64).collect::<Vec<_>>(), "{id}");
            let record = now["record"]["id"].as_str().unwrap();
            let stored = app.get(&format!("/api/v1/apps/school/tables/inspections/records/{record}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            assert_eq!((stored["fields"]["status"].as_str(), stored["fields"]["item"].as_str(), stored["fields"]["points"].as_str()), (Some("已撤销"), Some("卫生（已核）"), Some("2.5")), "{stored}");
        }
        // Everyone who left is `left`, and (above) no ended appeal holds an open task of theirs.
        for helper in &helpers {
            let member = app.get(&format!("/api/v1/members/{helper}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            assert_eq!(member["status"], "left");
        }
        let mut numbers: Vec<i64> = Vec::new();
        for appeal in &finished {
            for task in appeal["tasks"].as_array().unwrap() {
                numbers.push(task["number"].as_i64().unwrap());
            }
        }
        let total = numbers.len();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), total, "task numbers repeat");
        app
    }
}

api_tests! {
    async fn members_set_left_while_tasks_are_created_for_them_keep_no_open_task(app) {
        // A relay of eight helpers (a countersign node entered when the dean approves): while three
        // clients approve eighteen appeals' dean tasks — each approve gives every helper still active a
        // task —, the helpers leave one after another. A helper's leaving reassigns the open tasks it
        // finds; an approve that read a helper as active before the helper left must not leave a task
        // for them behind (PostgreSQL: the approve locks the helpers' rows and checks, the leaving locks
        // its member first).
        let school = school(&app).await;
        let mut helpers = Vec::new();
        for i in 0..8 {
            let member = app.post("/api/v1/members", &app.admin_token, member_body(&format!("接力{i}"))).await.expect(StatusCode::CREATED).clone();
            helpers.push(member["id"].as_str().unwrap().to_owned());
        }
        app.post("/api/v1/roles", &app.admin_token, json!({"key": "relay", "name": "接力", "member_ids": helpers})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes", &app.admin_token, json!({
            "app": "school", "code": "RELAY", "name": "接力审批", "table": "inspections",
            "nodes": [{"key": "n1", "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": "n2"},
                      {"key": "n2", "type": "approval", "method": "and", "approvers": [{"role": "relay"}], "next": "end"}]
        })).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes/RELAY/publish", &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let mut started = Vec::new();
        for i in 0..18 {
            let appeal = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "RELAY", "fields": {
                "item": format!("接力 {i}"), "points": "1.0", "head_teacher": school.teacher, "inspector": school.inspector
            }})).await.expect(StatusCode::CREATED).clone();
            started.push(appeal);
        }
        let (a, s) = (&app, &school);
        let approvers = started.chunks(6).map(|chunk| async move {
            for appeal in chunk {
                let task = running_task(appeal, &s.dean).to_owned();
                a.post(&format!("/api/v1/approval-tasks/{task}/approve"), s.token("dean"), json!({})).await.expect(StatusCode::OK);
            }
        });
        let leavers = async {
            for helper in &helpers {
                a.patch(&format!("/api/v1/members/{helper}"), &a.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
            }
        };
        tokio::join!(futures_util::future::join_all(approvers), leavers);
        for helper in &helpers {
            let member = app.get(&format!("/api/v1/members/{helper}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            assert_eq!(member["status"], "left");
        }
        let mut relay_tasks = 0;
        for appeal in &started {
            let id = appeal["id"].as_str().unwrap();
            let now = app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            let stranded: Vec<&Value> = open_tasks(&now)
                .into_iter()
                .filter(|task| helpers.iter().any(|helper| task["assignee"] == helper.as_str()))
                .collect();
            assert_eq!(stranded, Vec::<&Value>::new(), "an open task of a member who left: {now}");
            relay_tasks += now["tasks"].as_array().unwrap().iter().filter(|task| task["node"] == "n2").count();
            // Every helper left: the relay passed by itself (`no_approver`: pass) or is still open for
            // someone who is active; the dean's part is done either way.
            assert!(now["tasks"].as_array().unwrap().iter().any(|task| task["node"] == "n1" && task["result"] == "agree"), "{now}");
            let seqs: Vec<i64> = now["operation_records"].as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()).collect();
            assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{now}");
        }
        // The helpers did get tasks at the relay (the race had something to race over): the first
        // approves run before the last helper leaves.
        assert!(relay_tasks > 0, "no relay task was ever created");
        app
    }
}

async fn inbox(node: &TestApp, token: &str) -> Vec<Value> {
    node.get("/api/v1/me/notifications?page_size=100", token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls `check` every 100 ms (up to 60 s: the machine may be loaded) until it answers `Some`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(done) = check().await {
            return done;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 60 s");
}

/// Two nodes (two servers, each with its own clock and timer task) on one database: both see every timer
/// come due and race to lease it; each reminder leaves one message and each timeout decides its task
/// once.
async fn two_nodes_leasing_the_same_timers_fire_each_once(backend: TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let node_a = TestApp::spawn(&database, config.clone()).await;
    let node_b = TestApp::spawn(&database, config).await;
    let school = school(&node_a).await;
    node_a.post("/api/v1/processes", &node_a.admin_token, json!({
        "app": "school", "code": "TIMED", "name": "限时申诉", "table": "inspections",
        "settings": {"remind_after_hours": 2, "timeout": {"after_hours": 24, "action": "approve"}},
        "nodes": [{"key": "n1", "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": "end"}]
    })).await.expect(StatusCode::CREATED);
    node_a
        .post(
            "/api/v1/processes/TIMED/publish",
            &node_a.admin_token,
            json!({}),
        )
        .await
        .expect(StatusCode::OK);
    let mut ids = Vec::new();
    for i in 0..12 {
        let started = node_a.post("/api/v1/approvals", school.token("teacher"), json!({"process": "TIMED", "fields": {
            "item": format!("迟到 {i}"), "points": "0.5", "head_teacher": school.teacher, "inspector": school.inspector
        }})).await.expect(StatusCode::CREATED).clone();
        ids.push(started["id"].as_str().unwrap().to_owned());
    }
    let dean = school.token("dean");
    // Three hours on, on both nodes: the twelve reminders come due on both at once.
    for node in [&node_a, &node_b] {
        node.clock.advance(chrono::TimeDelta::hours(3));
        node.store.wake_workers();
    }
    eventually("twelve reminders", || async {
        let messages = inbox(&node_b, dean).await;
        (messages.len() >= 12).then_some(())
    })
    .await;
    // A day on: the twelve timeouts pass the dean's tasks.
    for node in [&node_a, &node_b] {
        node.clock.advance(chrono::TimeDelta::hours(22));
        node.store.wake_workers();
    }
    for id in &ids {
        let path = format!("/api/v1/approvals/{id}");
        let done = eventually("the timeout", || async {
            let now = node_a
                .get(&path, &node_a.admin_token)
                .await
                .expect(StatusCode::OK)
                .clone();
            (now["status"] == "completed").then_some(now)
        })
        .await;
        assert_eq!(done["result"], "agree", "{done}");
        let kinds: Vec<&str> = done["operation_records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "start_process_instance",
                "execute_task_auto",
                "finish_process_instance"
            ],
            "{done}"
        );
        let events: Vec<String> = approval_events(&node_a, id)
            .await
            .into_iter()
            .map(|(kind, _)| kind)
            .collect();
        assert_eq!(
            events,
            [
                "approval.instance.started",
                "approval.task.created",
                "approval.task.auto_approved",
                "approval.instance.approved"
            ]
        );
    }
    // Every timer is gone with its task: each reminder fired once, whichever node leased it.
    let messages = inbox(&node_a, dean).await;
    let mut reminded: Vec<&str> = messages
        .iter()
        .map(|m| m["source"]["instance_id"].as_str().unwrap())
        .collect();
    reminded.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(
        reminded, expected,
        "one reminder per instance: {messages:?}"
    );
    node_b.stop().await;
    node_a.stop().await;
    database.cleanup().await;
}

mod two_nodes_leasing_the_same_timers_fire_each_once {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        super::two_nodes_leasing_the_same_timers_fire_each_once(TestBackend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::two_nodes_leasing_the_same_timers_fire_each_once(TestBackend::Postgres).await;
    }
}
