//! The crash proof of approvals: writers start approvals and approve their tasks one by one (each action
//! with an `Idempotency-Key`, retried against whichever server is up) while `tenon serve` is killed with
//! SIGKILL at random moments and restarted. Afterwards:
//!
//! - every decision the API acknowledged (200) is kept: its task is completed with `agree`;
//! - no instance that ended has an open task, and every running one has one;
//! - per instance, operation records count 1..n without gaps and events count 1..n without gaps;
//! - the webhook receiver's de-duplicated set of `approval.*` events is the committed set (delivered =
//!   committed).
//!
//! Runs on SQLite and on PostgreSQL, and prints the counts.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tenon_store::testing::{TestBackend, TestDatabase};

/// Times `tenon serve` is killed during the run.
const KILLS: usize = 4;
/// Writers running at once.
const WRITERS: usize = 3;
/// Acknowledged decisions the run waits for before it stops the writers.
const MIN_DECISIONS: usize = 40;

use support::{Server, run};

fn start(database: &TestDatabase) -> Server {
    support::start(
        database,
        &["--outbound-allow", "127.0.0.1", "--webhook-timeout", "1"],
    )
}

/// Event ids the receiver got (with repeats).
type Arrivals = Arc<Mutex<Vec<String>>>;

async fn receiver() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let state = arrivals.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let event: Value = serde_json::from_slice(&body).unwrap();
                state
                    .lock()
                    .unwrap()
                    .push(event["id"].as_str().unwrap().to_owned());
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, arrivals)
}

/// Sends until a server answers (a connection error or a 5xx while the server is down is retried).
async fn send(
    http: &reqwest::Client,
    base: &Mutex<String>,
    token: &str,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (reqwest::StatusCode, Value) {
    loop {
        let url = format!("{}{path}", base.lock().unwrap());
        let mut request = http.request(method.clone(), url).bearer_auth(token);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) if !response.status().is_server_error() => {
                let status = response.status();
                match response.json::<Value>().await {
                    Ok(body) => return (status, body),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Starts approvals and approves their tasks, as the admin acting for each assignee (recorded as an
/// agent). Returns the tasks whose approval was acknowledged.
async fn writer(
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    token: String,
    initiator: String,
    writer: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acked: Arc<Mutex<Vec<(String, String)>>>,
) {
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let key = format!("start-{writer}-{n}");
        let body = json!({"process": "CRASH", "fields": {"title": format!("w{writer} n{n}")}, "initiator": initiator});
        let (status, instance) = send(
            &http,
            &base,
            &token,
            reqwest::Method::POST,
            "/api/v1/approvals",
            Some(&key),
            Some(&body),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{instance}");
        let id = instance["id"].as_str().unwrap().to_owned();
        loop {
            let (status, current) = send(
                &http,
                &base,
                &token,
                reqwest::Method::GET,
                &format!("/api/v1/approvals/{id}"),
                None,
                None,
            )
            .await;
            assert_eq!(status, reqwest::StatusCode::OK, "{current}");
            let Some(task) = current["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|task| task["status"] == "running")
            else {
                break;
            };
            let task = task["id"].as_str().unwrap().to_owned();
            let (status, answer) = send(
                &http,
                &base,
                &token,
                reqwest::Method::POST,
                &format!("/api/v1/approval-tasks/{task}/approve"),
                Some(&format!("approve-{task}")),
                Some(&json!({})),
            )
            .await;
            assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
            acked.lock().unwrap().push((id.clone(), task));
        }
    }
}

async fn all(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page: Value = http
            .get(format!(
                "{base}{path}{separator}page_size=200&cursor={cursor}"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return items,
        }
    }
}

async fn crash_and_recover(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create(backend).await;
    run(&database, &["migrate"]);
    let org = run(
        &database,
        &[
            "org",
            "create",
            "Crash Co",
            "--admin-email",
            "crash@example.com",
            "--admin-password",
            "crash-password-123",
        ],
    );
    let token = run(
        &database,
        &[
            "token", "create", "--org", &org, "--name", "crash", "--scopes", "admin",
        ],
    );
    let (hook, arrivals) = receiver().await;
    let http = reqwest::Client::new();
    let mut server = start(&database);
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let mut members = Vec::new();
    for name in ["甲", "乙", "丙", "丁", "戊", "己"] {
        let member: Value = post("/api/v1/members", json!({"name": name}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        members.push(member["id"].as_str().unwrap().to_owned());
    }
    let imported = post("/api/v1/apps/import", json!({
        "format": "tenon.app/v1", "key": "crash", "name": "Crash",
        "tables": [{"key": "claims", "name": "Claims", "fields": [
            {"key": "title", "name": "Title", "type": "text"},
            {"key": "status", "name": "Status", "type": "single_select", "options": {"choices": [{"name": "running"}, {"name": "agree"}, {"name": "refuse"}]}}
        ]}],
        "processes": [{"code": "CRASH", "name": "Crash", "table": "claims",
            "record_status": {"field": "status", "running": "running", "agree": "agree", "refuse": "refuse"},
            "nodes": [
                {"key": "first", "type": "approval", "method": "or", "approvers": [{"members": [members[1], members[2]]}], "next": "both"},
                {"key": "both", "type": "approval", "method": "and", "approvers": [{"members": [members[3], members[4]]}], "next": "last"},
                {"key": "last", "type": "approval", "method": "or", "approvers": [{"members": [members[5]]}], "next": "end"}
            ]}]
    })).await.unwrap();
    assert!(
        imported.status().is_success(),
        "{}",
        imported.text().await.unwrap()
    );
    assert!(
        post(
            "/api/v1/subscriptions",
            json!({"url": hook, "event_types": ["approval.*"]})
        )
        .await
        .unwrap()
        .status()
        .is_success()
    );

    let base = Arc::new(Mutex::new(server.base.clone()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                http.clone(),
                base.clone(),
                token.clone(),
                members[0].clone(),
                w,
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    for kill in 0..KILLS {
        // A random moment: 300–1,300 ms into this server's life, from the clock's nanoseconds.
        let nanos = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
        tokio::time::sleep(Duration::from_millis(300 + nanos % 1000)).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        server = start(&database);
        *base.lock().unwrap() = server.base.clone();
        println!(
            "{backend:?}: kill {} after {} acknowledged approvals",
            kill + 1,
            acked.lock().unwrap().len()
        );
    }
    // Enough decisions to prove something, however slow the machine is today.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < MIN_DECISIONS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writers decided too little in two minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let base = server.base.clone();

    // Every acknowledged decision is kept; ended instances have no open task; records and events count
    // without gaps.
    let acked = acked.lock().unwrap().clone();
    let instances: HashSet<&String> = acked.iter().map(|(instance, _)| instance).collect();
    let committed = all(&http, &base, &token, "/api/v1/events?types=approval.*").await;
    let mut seqs: HashMap<String, Vec<i64>> = HashMap::new();
    for event in &committed {
        seqs.entry(event["subject"]["instance_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(event["data"]["instance_seq"].as_i64().unwrap());
    }
    let mut finished = 0;
    for id in &instances {
        let instance: Value = http
            .get(format!("{base}/api/v1/approvals/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tasks = instance["tasks"].as_array().unwrap();
        for (_, task) in acked.iter().filter(|(instance, _)| instance == *id) {
            let stored = tasks
                .iter()
                .find(|t| t["id"] == task.as_str())
                .unwrap_or_else(|| panic!("task {task} is gone: {instance}"));
            assert_eq!(
                (stored["status"].as_str(), stored["result"].as_str()),
                (Some("completed"), Some("agree")),
                "{instance}"
            );
        }
        let open = tasks
            .iter()
            .filter(|t| ["new", "running", "paused"].contains(&t["status"].as_str().unwrap()))
            .count();
        if instance["status"] == "running" {
            assert!(
                open > 0,
                "a running instance without an open task: {instance}"
            );
        } else {
            finished += 1;
            assert_eq!(open, 0, "an ended instance with an open task: {instance}");
            assert_eq!(instance["result"], "agree", "{instance}");
        }
        let records: Vec<i64> = instance["operation_records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(
            records,
            (1..=records.len() as i64).collect::<Vec<_>>(),
            "{instance}"
        );
        let events = seqs.get(id.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            events,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "events of {id}"
        );
    }

    // Delivered = committed.
    let committed_ids: HashSet<String> = committed
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let received = loop {
        let arrivals = arrivals.lock().unwrap().clone();
        let seen: HashSet<String> = arrivals.iter().cloned().collect();
        if committed_ids.is_subset(&seen) {
            break arrivals;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} committed events never arrived",
            committed_ids.difference(&seen).count(),
            committed_ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seen: HashSet<String> = received.iter().cloned().collect();
    assert_eq!(
        seen, committed_ids,
        "the receiver's de-duplicated set is the committed set"
    );
    println!(
        "{backend:?}: {KILLS} SIGKILLs; {} approvals acknowledged on {} instances ({finished} finished), {} events committed, {} deliveries received ({} duplicates)",
        acked.len(),
        instances.len(),
        committed_ids.len(),
        received.len(),
        received.len() - seen.len()
    );
    assert!(
        acked.len() >= 20,
        "the run decided too little to prove anything: {}",
        acked.len()
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_survive_sigkill_at_random_moments_on_sqlite() {
    crash_and_recover(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_survive_sigkill_at_random_moments_on_postgres() {
    crash_and_recover(TestBackend::Postgres).await;
}
