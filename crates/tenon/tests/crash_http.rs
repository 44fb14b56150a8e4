//! Outside steps survive `tenon serve` being killed mid-request (issue #18, "The guarantee"): a fake ERP
//! holds each request while the server is killed with SIGKILL; the restarted server (the test clock moved
//! past the lease) finds the step journaled `running` with its idempotency key and
//!
//! - sends a `PUT` again, with the same `Idempotency-Key`: the run succeeds, the ERP saw the key twice;
//! - does not send a `POST` again: the step is `unknown_outcome`, `flow.step.unknown_outcome` is appended,
//!   the ERP saw it once; a person resolves it `done` and the run finishes without another request.
//!
//! Runs on SQLite and on PostgreSQL.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::json;
use tenon_store::testing::{TestBackend, TestDatabase};

use support::{Server, call, kill, past_the_lease, run, run_until};

fn start(database: &TestDatabase) -> Server {
    support::start(
        database,
        &[
            "--test-clock",
            "--outbound-allow",
            "127.0.0.1",
            "--flow-workers",
            "1",
        ],
    )
}

/// A fake ERP that records each request's `Idempotency-Key` and, while `hold` is set, never answers.
async fn fake_erp(hold: Arc<Mutex<bool>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let keys = seen.clone();
    let handler = move |headers: HeaderMap| {
        let (keys, hold) = (keys.clone(), hold.clone());
        async move {
            let key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            keys.lock().unwrap().push(key);
            while *hold.lock().unwrap() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            axum::Json(json!({"data": {"number": "K-1"}}))
        }
    };
    let router =
        axum::Router::new().route("/orders", axum::routing::put(handler.clone()).post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, seen)
}

async fn cut_short(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create(backend).await;
    run(&database, &["migrate"]);
    let org = run(
        &database,
        &[
            "org",
            "create",
            "Cut Co",
            "--admin-email",
            "cut@example.com",
            "--admin-password",
            "cut-password-123",
        ],
    );
    let token = run(
        &database,
        &[
            "token", "create", "--org", &org, "--name", "cut", "--scopes", "admin",
        ],
    );
    let hold = Arc::new(Mutex::new(true));
    let (erp, seen) = fake_erp(hold.clone()).await;
    let http = reqwest::Client::new();
    let mut server = start(&database);
    let step = |key: &str, method: &str| {
        json!({"key": key, "trigger": {"manual": {}}, "steps": [
            {"key": "call", "type": "http", "method": method, "url": format!("{erp}/orders"), "output": {"number": "/data/number"}}
        ]})
    };
    let (status, imported) = call(&http, &server.base, &token, reqwest::Method::POST, "/api/v1/apps/import", Some(json!({
        "format": "tenon.app/v1", "key": "cut", "name": "Cut",
        "tables": [{"key": "notes", "name": "Notes", "fields": [{"key": "text", "name": "Text", "type": "text"}]}],
        "flows": [step("put_order", "PUT"), step("post_order", "POST")]
    }))).await;
    assert!(status.is_success(), "{imported}");
    for (flow, method) in [("put_order", "PUT"), ("post_order", "POST")] {
        seen.lock().unwrap().clear();
        *hold.lock().unwrap() = true;
        let (status, started) = call(
            &http,
            &server.base,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/flows/{flow}/runs"),
            Some(json!({"payload": {}})),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{started}");
        let id = started["id"].as_str().unwrap().to_owned();
        // The ERP has the request; the server dies before the answer.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while seen.lock().unwrap().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ERP got no {method}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        kill(&mut server);
        *hold.lock().unwrap() = false;
        server = start(&database);
        past_the_lease(&http, &server.base, &token).await;
        let key = format!("{id}:call");
        if method == "PUT" {
            let done = run_until(&http, &server.base, &token, &id, "succeeded", |r| {
                r["status"] == "succeeded"
            })
            .await;
            assert_eq!(done["steps"][0]["output"]["number"], "K-1");
            assert_eq!(
                *seen.lock().unwrap(),
                vec![key.clone(), key],
                "a PUT is sent again with its key"
            );
        } else {
            let blocked = run_until(&http, &server.base, &token, &id, "unknown_outcome", |r| {
                r["steps"][0]["status"] == "unknown_outcome"
            })
            .await;
            assert_eq!(blocked["status"], "waiting");
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(
                *seen.lock().unwrap(),
                vec![key],
                "a POST is not sent again blindly"
            );
            let (_, events) = call(
                &http,
                &server.base,
                &token,
                reqwest::Method::GET,
                "/api/v1/events?types=flow.step.unknown_outcome",
                None,
            )
            .await;
            assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
            let (status, resolved) = call(
                &http,
                &server.base,
                &token,
                reqwest::Method::POST,
                &format!("/api/v1/flow-runs/{id}/steps/call/resolve"),
                Some(json!({"outcome": "done"})),
            )
            .await;
            assert_eq!(status, reqwest::StatusCode::OK, "{resolved}");
            run_until(&http, &server.base, &token, &id, "succeeded", |r| {
                r["status"] == "succeeded"
            })
            .await;
            assert_eq!(seen.lock().unwrap().len(), 1);
        }
    }
    println!("{backend:?}: a PUT cut short by SIGKILL was sent again; a POST waited for a person");
    kill(&mut server);
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_short_by_sigkill_is_resent_only_when_safe_on_sqlite() {
    cut_short(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_short_by_sigkill_is_resent_only_when_safe_on_postgres() {
    cut_short(TestBackend::Postgres).await;
}
