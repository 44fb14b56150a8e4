//! A flow waiting on an approval survives `tenon serve` being killed (issue #18, `wait_approval`): a run
//! starts an approval (`start_approval`) and waits for it; the server is killed with SIGKILL and
//! restarted; the approval is decided on the new server, which is killed again at once and restarted.
//! The run then finishes — woken by the decision, not by its 24-hour recheck — with each step done once:
//! one instance, the record marked once, every step one attempt.
//!
//! Runs on SQLite and on PostgreSQL.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use tenon_store::testing::{TestBackend, TestDatabase};

use support::{Server, call, kill, past_the_lease, run, run_until};

fn start(database: &TestDatabase) -> Server {
    support::start(database, &["--test-clock"])
}

/// Waits until the run has `status`.
async fn run_in(http: &reqwest::Client, base: &str, token: &str, id: &str, status: &str) -> Value {
    run_until(http, base, token, id, status, |run| run["status"] == status).await
}

async fn wait_across_restarts(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create(backend).await;
    run(&database, &["migrate"]);
    let org = run(
        &database,
        &[
            "org",
            "create",
            "Wait Co",
            "--admin-email",
            "wait@example.com",
            "--admin-password",
            "wait-password-123",
        ],
    );
    let token = run(
        &database,
        &[
            "token", "create", "--org", &org, "--name", "wait", "--scopes", "admin",
        ],
    );
    let http = reqwest::Client::new();
    let mut server = start(&database);
    let mut members = Vec::new();
    for name in ["申请人", "审批人"] {
        let (status, member) = call(
            &http,
            &server.base,
            &token,
            reqwest::Method::POST,
            "/api/v1/members",
            Some(json!({"name": name})),
        )
        .await;
        assert!(status.is_success(), "{member}");
        members.push(member["id"].as_str().unwrap().to_owned());
    }
    let (status, imported) = call(&http, &server.base, &token, reqwest::Method::POST, "/api/v1/apps/import", Some(json!({
        "format": "tenon.app/v1", "key": "wait", "name": "Wait",
        "tables": [{"key": "claims", "name": "Claims", "fields": [
            {"key": "title", "name": "Title", "type": "text"},
            {"key": "status", "name": "Status", "type": "single_select", "options": {"choices": [{"name": "running"}, {"name": "agree"}, {"name": "refuse"}]}}
        ]}],
        "processes": [{"code": "WAIT", "name": "Wait", "table": "claims",
            "record_status": {"field": "status", "running": "running", "agree": "agree", "refuse": "refuse"},
            "nodes": [{"key": "one", "type": "approval", "method": "or", "approvers": [{"members": [members[1]]}], "next": "end"}]}],
        "flows": [{"key": "ask", "trigger": {"manual": {"inputs": [{"key": "by", "type": "text", "required": true}]}},
            "steps": [
                {"key": "s", "type": "start_approval", "process": "WAIT", "initiator": "{trigger.payload.by}", "fields": {"title": "\"claim\""}},
                {"key": "w", "type": "wait_approval", "approval": "{steps.s.output.id}"},
                {"key": "u", "type": "update_record", "table": "claims", "record": "{steps.w.output.record.id}",
                 "fields": {"title": "\"done \" & {steps.w.output.result}"}}
            ]}]
    }))).await;
    assert!(status.is_success(), "{imported}");
    let (status, started) = call(
        &http,
        &server.base,
        &token,
        reqwest::Method::POST,
        "/api/v1/flows/ask/runs",
        Some(json!({"payload": {"by": members[0]}})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let waiting = run_in(&http, &server.base, &token, &id, "waiting").await;
    let instance = waiting["steps"][0]["output"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Killed while the run waits; the new server knows nothing but what the database holds.
    kill(&mut server);
    server = start(&database);
    let (_, detail) = call(
        &http,
        &server.base,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/approvals/{instance}"),
        None,
    )
    .await;
    assert_eq!(detail["status"], "running", "{detail}");
    let task = detail["tasks"][0]["id"].as_str().unwrap().to_owned();
    let (status, answer) = call(
        &http,
        &server.base,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/approval-tasks/{task}/approve"),
        Some(json!({"actioner": members[1]})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    // Killed right after the decision: the wake-up committed with it. (The worker may have claimed the
    // run meanwhile: its lease is made to expire.)
    kill(&mut server);
    server = start(&database);
    past_the_lease(&http, &server.base, &token).await;
    let done = run_in(&http, &server.base, &token, &id, "succeeded").await;
    let steps = done["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{done}");
    for step in steps {
        assert_eq!(step["status"], "succeeded", "{done}");
        assert_eq!(step["attempts"], 1, "{done}");
    }
    assert_eq!(steps[1]["output"]["result"], "agree");
    let (_, claims) = call(
        &http,
        &server.base,
        &token,
        reqwest::Method::GET,
        "/api/v1/apps/wait/tables/claims/records",
        None,
    )
    .await;
    let claims = claims["items"].as_array().unwrap();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(claims[0]["fields"]["title"], "done agree");
    assert_eq!(claims[0]["fields"]["status"], "agree");
    println!("{backend:?}: the run waited across two SIGKILLs and finished once");
    kill(&mut server);
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_waiting_on_an_approval_survives_sigkill_on_sqlite() {
    wait_across_restarts(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_waiting_on_an_approval_survives_sigkill_on_postgres() {
    wait_across_restarts(TestBackend::Postgres).await;
}
