//! Runs advanced with their internal steps chained (issue #18's throughput): each run's steps in one
//! transaction — on SQLite the claimed runs share it and commit as one, on PostgreSQL each run has its
//! own; a step that fails rolls its transaction back (nothing of it written) and those runs go on one
//! step per transaction, where the failure is journaled alone and the other runs commit by themselves. A step that spans transactions (`wait`) ends a run's
//! chain. No workers here: the tests claim and advance the runs themselves.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tenon_flows::RunStatus;
use tenon_store::flows::{Advance, Claim};

use crate::TestApp;
use crate::flow_steps::{FOLLOWUPS, ORDERS, crm, import, records, run_in, runs, step_statuses};

const TALLY: &str = "/api/v1/apps/crm/tables/tally/records";

async fn without_workers(database: &tenon_store::testing::TestDatabase) -> TestApp {
    TestApp::spawn(
        database,
        tenon_server::ServerConfig {
            secure_cookies: false,
            flows: tenon_connect::FlowConfig {
                workers: 0,
                ..tenon_connect::FlowConfig::default()
            },
            ..tenon_server::ServerConfig::default()
        },
    )
    .await
}

async fn order(app: &TestApp, customer: &str) {
    app.post(
        ORDERS,
        &app.admin_token,
        json!({"fields": {"customer": customer, "amount": "5.00"}}),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// Customers of the records at `path`, sorted.
async fn customers(app: &TestApp, path: &str) -> Vec<String> {
    let mut found: Vec<String> = records(app, path)
        .await
        .iter()
        .map(|r| {
            r["fields"]["customer"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    found.sort();
    found
}

/// Advances a claim one step per transaction until it stops.
async fn alone(app: &TestApp, claim: &Claim) -> Advance {
    loop {
        match app.store.advance_flow_run(claim).await.unwrap() {
            Advance::Continue => continue,
            other => return other,
        }
    }
}

/// The runs of flow `keep`, by their order's customer (from the trigger), with their detail.
async fn runs_by_customer(app: &TestApp) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for run in runs(app, "keep").await {
        let id = run["id"].as_str().unwrap();
        let detail = app
            .get(&format!("/api/v1/flow-runs/{id}"), &app.admin_token)
            .await
            .expect(StatusCode::OK)
            .clone();
        let customer = detail["trigger"]["fields"]["customer"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        out.push((customer, detail));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn batches_commit_together_and_fall_back_on_a_failure(
    backend: tenon_store::testing::TestBackend,
) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let app = without_workers(&database).await;
    // Two internal steps; `followups.customer` is unique, so a second order of a customer fails `f`.
    let flows = json!([{
        "key": "keep", "trigger": {"record": "orders", "on": "created"},
        "steps": [
            {"key": "f", "type": "create_record", "table": "followups", "fields": {"customer": "{trigger.fields.客户}"}},
            {"key": "t", "type": "create_record", "table": "tally", "fields": {"n": "1", "customer": "{trigger.fields.客户}"}}
        ]
    }]);
    import(&app, crm(flows)).await.expect(StatusCode::CREATED);

    // Two runs claimed at once go to their end in one call: both steps of each, one transaction.
    order(&app, "a").await;
    order(&app, "b").await;
    let claims = app.store.claim_flow_runs("w", 16).await.unwrap();
    assert_eq!(claims.len(), 2);
    let done = app.store.advance_flow_runs(&claims).await.unwrap();
    let succeeded = Advance::Finished(RunStatus::Succeeded);
    assert_eq!(done, [Some(succeeded.clone()), Some(succeeded.clone())]);
    assert_eq!(customers(&app, FOLLOWUPS).await, ["a", "b"]);
    assert_eq!(customers(&app, TALLY).await, ["a", "b"]);

    // A failing step (a second order of "a") rolls its transaction back. On SQLite the two runs share
    // one, so the run of "c", which would have succeeded, wrote nothing either and neither journaled a
    // step; on PostgreSQL each run has its own, so "c" committed.
    order(&app, "c").await;
    order(&app, "a").await;
    let claims = app.store.claim_flow_runs("w", 16).await.unwrap();
    assert_eq!(claims.len(), 2);
    let done = app.store.advance_flow_runs(&claims).await.unwrap();
    let shared = backend == tenon_store::testing::TestBackend::Sqlite;
    let mut answers: Vec<String> = done.iter().map(|a| format!("{a:?}")).collect();
    answers.sort();
    if shared {
        assert_eq!(answers, ["None", "None"]);
        assert_eq!(customers(&app, FOLLOWUPS).await, ["a", "b"]);
        assert_eq!(customers(&app, TALLY).await, ["a", "b"]);
    } else {
        assert_eq!(answers, ["None", "Some(Finished(Succeeded))"]);
        assert_eq!(customers(&app, FOLLOWUPS).await, ["a", "b", "c"]);
        assert_eq!(customers(&app, TALLY).await, ["a", "b", "c"]);
    }
    let pending = runs_by_customer(&app).await;
    let mut journaled: Vec<(&str, usize)> = pending
        .iter()
        .map(|(customer, run)| {
            (
                customer.as_str(),
                run["steps"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    journaled.sort_unstable();
    let c_steps = if shared { 0 } else { 2 };
    assert_eq!(
        journaled,
        [("a", 0), ("a", 2), ("b", 2), ("c", c_steps)],
        "{pending:?}"
    );

    // The claims rolled back, one step per transaction: "c" succeeds, the second "a" fails at `f` alone.
    let mut ends = Vec::new();
    for (claim, answer) in claims.iter().zip(&done) {
        ends.push(match answer {
            Some(advance) => advance.clone(),
            None => alone(&app, claim).await,
        });
    }
    ends.sort_by_key(|advance| format!("{advance:?}"));
    assert_eq!(
        ends,
        [
            Advance::Finished(RunStatus::Failed),
            Advance::Finished(RunStatus::Succeeded)
        ]
    );
    assert_eq!(customers(&app, FOLLOWUPS).await, ["a", "b", "c"]);
    assert_eq!(customers(&app, TALLY).await, ["a", "b", "c"]);
    let settled = runs_by_customer(&app).await;
    // Each run as "customer status step:status…".
    let mut statuses: Vec<String> = settled
        .iter()
        .map(|(customer, run)| {
            let steps: Vec<String> = step_statuses(run)
                .into_iter()
                .map(|(key, status)| format!("{key}:{status}"))
                .collect();
            format!(
                "{customer} {} {}",
                run["status"].as_str().unwrap(),
                steps.join(" ")
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "a failed f:failed",
            "a succeeded f:succeeded t:succeeded",
            "b succeeded f:succeeded t:succeeded",
            "c succeeded f:succeeded t:succeeded",
        ]
    );

    app.stop().await;
    database.cleanup().await;
}

async fn a_step_spanning_transactions_ends_the_chain(backend: tenon_store::testing::TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let app = without_workers(&database).await;
    let flows = json!([{
        "key": "keep", "trigger": {"record": "orders", "on": "created"},
        "steps": [
            {"key": "f", "type": "create_record", "table": "followups", "fields": {"customer": "{trigger.fields.客户}"}},
            {"key": "w", "type": "wait", "until": "DATEADD(NOW(), 1, \"days\")"},
            {"key": "t", "type": "create_record", "table": "tally", "fields": {"n": "1", "customer": "{trigger.fields.客户}"}}
        ]
    }]);
    import(&app, crm(flows)).await.expect(StatusCode::CREATED);
    order(&app, "a").await;
    let claims = app.store.claim_flow_runs("w", 16).await.unwrap();
    assert_eq!(
        app.store.advance_flow_runs(&claims).await.unwrap(),
        [Some(Advance::Waiting)]
    );
    let run = runs(&app, "keep").await.remove(0);
    let run = run_in(&app, run["id"].as_str().unwrap(), "waiting").await;
    assert_eq!(
        step_statuses(&run),
        [
            ("f".to_owned(), "succeeded".to_owned()),
            ("w".to_owned(), "running".to_owned())
        ]
    );
    assert_eq!(customers(&app, FOLLOWUPS).await, ["a"]);
    assert!(customers(&app, TALLY).await.is_empty());
    app.stop().await;
    database.cleanup().await;
}

mod together {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::batches_commit_together_and_fall_back_on_a_failure(TestBackend::Sqlite).await;
        super::a_step_spanning_transactions_ends_the_chain(TestBackend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::batches_commit_together_and_fall_back_on_a_failure(TestBackend::Postgres).await;
        super::a_step_spanning_transactions_ends_the_chain(TestBackend::Postgres).await;
    }
}
