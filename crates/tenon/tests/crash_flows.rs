//! The crash proof of connection flows (issue #18, "The guarantee"): writers create orders (each with an
//! `Idempotency-Key`, retried against whichever server is up); a record trigger starts a run per order
//! whose steps create a followup and mark the order. `tenon serve` is killed with SIGKILL at random
//! moments and restarted; after each restart the test clock moves past the lease so the runs the killed
//! node held are claimed again. Afterwards:
//!
//! - every stored order has exactly one run (one trigger, one run), and every run is `succeeded` — none
//!   is left `queued`, `running` or `waiting`;
//! - each internal step committed exactly once: one followup per order, each journaled step `succeeded`
//!   with one attempt, the order marked once (and the followup's id is the step's output);
//! - every order the API acknowledged is stored.
//!
//! A second scenario kills the server while runs send text messages (`notify` to two phones through a
//! fake Aliyun in this process, and to the order's author's inbox): each message is journaled before it
//! is sent, so afterwards every run has ended or waits for a person on the one message whose answer the
//! kill lost (`unknown_outcome`); resolved `done`, they all end; no message was sent twice, every
//! message but such a lost one exactly once, and every run left exactly one inbox message.
//!
//! Runs on SQLite and on PostgreSQL, and prints the counts.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tenon_store::testing::{TestBackend, TestDatabase};

/// Times `tenon serve` is killed during the run.
const KILLS: usize = 4;
/// Writers running at once.
const WRITERS: usize = 3;
/// Acknowledged orders the run waits for before it stops the writers.
const MIN_ORDERS: usize = 60;

const ORDERS: &str = "/api/v1/apps/crash/tables/orders/records";
const FOLLOWUPS: &str = "/api/v1/apps/crash/tables/followups/records";

use support::{Server, run};

fn start(database: &TestDatabase) -> Server {
    support::start(database, &["--test-clock", "--outbound-allow", "127.0.0.1"])
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

/// Creates orders one by one; returns the ids the API acknowledged.
async fn writer(
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    token: String,
    writer: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("w{writer} n{n}");
        let body = json!({"fields": {"title": title}});
        let (status, order) = send(
            &http,
            &base,
            &token,
            reqwest::Method::POST,
            ORDERS,
            Some(&format!("order-{writer}-{n}")),
            Some(&body),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{order}");
        acked
            .lock()
            .unwrap()
            .push(order["id"].as_str().unwrap().to_owned());
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
        items.extend(
            page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {page}"))
                .iter()
                .cloned(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return items,
        }
    }
}

/// A fresh organization with an admin token acting for its admin (so records name her as their author).
async fn organization(backend: TestBackend) -> (TestDatabase, String) {
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
            "token",
            "create",
            "--org",
            &org,
            "--name",
            "crash",
            "--scopes",
            "admin",
            "--member",
            "crash@example.com",
        ],
    );
    (database, token)
}

async fn post_ok(http: &reqwest::Client, server: &Server, token: &str, path: &str, body: Value) {
    let answer = http
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{path}: {}",
        answer.text().await.unwrap()
    );
}

/// Writers create orders while `tenon serve` is killed [`KILLS`] times at random moments and restarted
/// (the test clock then moves past the lease); returns the last server and the acknowledged orders.
async fn write_through_kills(
    backend: TestBackend,
    database: &TestDatabase,
    http: &reqwest::Client,
    token: &str,
    mut server: Server,
) -> (Server, Vec<String>) {
    let base = Arc::new(Mutex::new(server.base.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                http.clone(),
                base.clone(),
                token.to_owned(),
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
        server = start(database);
        *base.lock().unwrap() = server.base.clone();
        // The runs the killed node held resume once their lease has expired (by the test clock).
        let current = base.lock().unwrap().clone();
        support::past_the_lease(http, &current, token).await;
        println!(
            "{backend:?}: kill {} after {} acknowledged orders",
            kill + 1,
            acked.lock().unwrap().len()
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < MIN_ORDERS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writers created too little in two minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    (server, acked)
}

async fn crash_and_recover(backend: TestBackend) {
    let (database, token) = organization(backend).await;
    let http = reqwest::Client::new();
    let server = start(&database);
    post_ok(
        &http,
        &server,
        &token,
        "/api/v1/apps/import",
        json!({
            "format": "tenon.app/v1", "key": "crash", "name": "Crash",
            "tables": [
                {"key": "orders", "name": "Orders", "fields": [
                    {"key": "title", "name": "Title", "type": "text"},
                    {"key": "note", "name": "Note", "type": "text"}
                ]},
                {"key": "followups", "name": "Followups", "fields": [
                    {"key": "order_id", "name": "Order", "type": "text"},
                    {"key": "title", "name": "Title", "type": "text"}
                ]}
            ],
            "flows": [{
                "key": "crash_flow",
                "trigger": {"record": "orders", "on": "created"},
                "steps": [
                    {"key": "f", "type": "create_record", "table": "followups",
                     "fields": {"order_id": "{trigger.record_id}", "title": "{trigger.fields.title}"}},
                    {"key": "mark", "type": "update_record", "table": "orders", "record": "{trigger.record_id}",
                     "fields": {"note": "CONCAT(\"handled by \", {steps.f.output.id})"}}
                ]
            }]
        }),
    )
    .await;
    let (server, acked) = write_through_kills(backend, &database, &http, &token, server).await;
    let base = server.base.clone();

    // Every run ends; none stays queued, running or waiting.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let runs = all(&http, &base, &token, "/api/v1/flows/crash_flow/runs").await;
        let open: Vec<&Value> = runs
            .iter()
            .filter(|run| run["status"] != "succeeded" && run["status"] != "failed")
            .collect();
        if open.is_empty() {
            break runs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} runs never finished, e.g. {}",
            open.len(),
            open[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let failed: Vec<&Value> = runs.iter().filter(|r| r["status"] != "succeeded").collect();
    assert!(failed.is_empty(), "runs failed: {failed:?}");

    // One order, one run; every acknowledged order is stored.
    let orders = all(&http, &base, &token, ORDERS).await;
    let order_ids: HashSet<String> = orders
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &acked {
        assert!(order_ids.contains(id), "acknowledged order {id} is gone");
    }
    let mut runs_by_order: HashMap<String, Vec<&Value>> = HashMap::new();
    for run in &runs {
        runs_by_order
            .entry(run["trigger"]["record_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(run);
    }
    assert_eq!(runs.len(), orders.len(), "one run per order");
    for id in &order_ids {
        let count = runs_by_order.get(id).map_or(0, Vec::len);
        assert_eq!(count, 1, "order {id} has {count} runs");
    }

    // Each internal step committed exactly once.
    let followups = all(&http, &base, &token, FOLLOWUPS).await;
    let mut followups_by_order: HashMap<String, Vec<String>> = HashMap::new();
    for followup in &followups {
        followups_by_order
            .entry(
                followup["fields"]["order_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .or_default()
            .push(followup["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(followups.len(), orders.len(), "one followup per order");
    let mut retried_steps = 0;
    for order in &orders {
        let id = order["id"].as_str().unwrap();
        let made = followups_by_order.get(id).cloned().unwrap_or_default();
        assert_eq!(made.len(), 1, "order {id} has followups {made:?}");
        assert_eq!(
            order["fields"]["note"],
            format!("handled by {}", made[0]),
            "{order}"
        );
        let run_id = runs_by_order[id][0]["id"].as_str().unwrap();
        let detail: Value = http
            .get(format!("{base}/api/v1/flow-runs/{run_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let steps: Vec<(&str, &str)> = detail["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["key"].as_str().unwrap(), s["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            steps,
            [("f", "succeeded"), ("mark", "succeeded")],
            "{detail}"
        );
        assert_eq!(detail["steps"][0]["output"]["id"], made[0].as_str());
        for step in detail["steps"].as_array().unwrap() {
            if step["attempts"] != 1 {
                retried_steps += 1;
            }
        }
    }
    assert_eq!(
        retried_steps, 0,
        "a step that commits with its journal row never needs a second attempt"
    );
    println!(
        "{backend:?}: {KILLS} SIGKILLs; {} orders acknowledged, {} stored, {} runs (all succeeded), {} followups",
        acked.len(),
        orders.len(),
        runs.len(),
        followups.len()
    );
    drop(server);
    database.cleanup().await;
}

/// A fake Aliyun SMS in this process (so it outlives the killed servers): answers OK after 0–40 ms,
/// counting the requests per `OutId` (`<run>:<step>:<n>`).
async fn fake_aliyun() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counted = seen.clone();
    let router = axum::Router::new().route(
        "/",
        axum::routing::post(
            move |axum::extract::RawQuery(raw): axum::extract::RawQuery| {
                let counted = counted.clone();
                async move {
                    let query: HashMap<String, String> =
                        serde_urlencoded::from_str(&raw.unwrap_or_default()).unwrap();
                    *counted
                        .lock()
                        .unwrap()
                        .entry(query["OutId"].clone())
                        .or_default() += 1;
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos();
                    tokio::time::sleep(Duration::from_millis(u64::from(nanos % 40))).await;
                    axum::Json(
                        json!({"Code": "OK", "Message": "OK", "BizId": "b", "RequestId": "r"}),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, seen)
}

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn notify_through_kills(backend: TestBackend) {
    let (database, token) = organization(backend).await;
    let http = reqwest::Client::new();
    let (aliyun, sent) = fake_aliyun().await;
    let server = start(&database);
    post_ok(
        &http,
        &server,
        &token,
        "/api/v1/connections",
        json!({"key": "aliyun", "name": "阿里云短信", "kind": "aliyun_sms",
               "config": {"base_url": aliyun, "sign_name": "天工"},
               "secrets": {"access_key_id": "LTAI-test-id", "access_key_secret": "aliyun-s3cret"}}),
    )
    .await;
    post_ok(
        &http,
        &server,
        &token,
        "/api/v1/apps/import",
        json!({
            "format": "tenon.app/v1", "key": "crash", "name": "Crash",
            "tables": [{"key": "orders", "name": "Orders", "fields": [
                {"key": "title", "name": "Title", "type": "text"},
                {"key": "author", "name": "Author", "type": "created_by"}
            ]}],
            "flows": [{
                "key": "tell_flow",
                "trigger": {"record": "orders", "on": "created"},
                "steps": [{"key": "tell", "type": "notify", "channel": "inbox",
                    "to": {"members": "{trigger.fields.author}", "phones": "\"13800000001, 13800000002\""},
                    "title": "新订单", "text": "新订单 {{ trigger.fields.title }}",
                    "sms": {"connection": "aliyun", "template": "SMS_1"}}]
            }]
        }),
    )
    .await;
    let (server, acked) = write_through_kills(backend, &database, &http, &token, server).await;
    let base = server.base.clone();

    // Every run ends, or waits for a person on the one message whose answer a kill lost.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut lost: HashMap<String, i64> = HashMap::new();
    let runs = loop {
        let runs = all(&http, &base, &token, "/api/v1/flows/tell_flow/runs").await;
        let mut open = Vec::new();
        for run in runs.iter().filter(|run| run["status"] != "succeeded") {
            let id = run["id"].as_str().unwrap();
            let detail = get(&http, &base, &token, &format!("/api/v1/flow-runs/{id}")).await;
            let step = &detail["steps"][0];
            if step["status"] == "unknown_outcome" {
                lost.insert(
                    id.to_owned(),
                    step["input"]["outside"]["delivery"].as_i64().unwrap(),
                );
            } else {
                open.push(detail);
            }
        }
        if open.is_empty() {
            break runs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} runs neither ended nor wait for a person, e.g. {}",
            open.len(),
            open[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(runs.len(), acked.len(), "one run per acknowledged order");
    // A message is journaled `running` only as it goes out: a kill leaves at most the request each flow
    // worker had in flight unclear (one worker on SQLite, four on PostgreSQL).
    let workers = if backend == TestBackend::Sqlite { 1 } else { 4 };
    assert!(
        lost.len() <= KILLS * workers,
        "{} messages wait for a person after {KILLS} kills",
        lost.len()
    );
    // Before anyone decides, no message went out twice, and none after the lost one.
    {
        let sent = sent.lock().unwrap();
        for (key, count) in sent.iter() {
            assert_eq!(*count, 1, "{key} was sent {count} times");
        }
        for (run, delivery) in &lost {
            for after in delivery + 1..2 {
                let count = sent
                    .get(&format!("{run}:tell:{after}"))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(count, 0, "run {run} sent past its lost delivery {delivery}");
            }
        }
    }
    // A person says the lost messages went out: their runs go on at the next message and end.
    for run in lost.keys() {
        let (status, body) = support::call(
            &http,
            &base,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/flow-runs/{run}/steps/tell/resolve"),
            Some(json!({"outcome": "done"})),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let runs = all(&http, &base, &token, "/api/v1/flows/tell_flow/runs").await;
        if runs.iter().all(|run| run["status"] == "succeeded") {
            break runs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs never finished after the resolves"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every message exactly once, but a lost one: at most once (its answer was lost, so maybe never sent).
    let sent = sent.lock().unwrap().clone();
    let mut lost_unsent = 0;
    for run in &runs {
        let id = run["id"].as_str().unwrap();
        for delivery in 0..2 {
            let count = sent
                .get(&format!("{id}:tell:{delivery}"))
                .copied()
                .unwrap_or(0);
            if lost.get(id) == Some(&delivery) {
                assert!(
                    count <= 1,
                    "run {id} delivery {delivery} sent {count} times"
                );
                lost_unsent += 1 - count;
            } else {
                assert_eq!(count, 1, "run {id} delivery {delivery} sent {count} times");
            }
        }
    }
    assert_eq!(sent.values().sum::<usize>(), 2 * runs.len() - lost_unsent);
    // The author's inbox holds one message per run (they commit with the step's first journal row).
    let inbox = all(&http, &base, &token, "/api/v1/me/notifications").await;
    let mut per_run: HashMap<String, usize> = HashMap::new();
    for message in &inbox {
        *per_run
            .entry(message["source"]["run_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(inbox.len(), runs.len(), "one inbox message per run");
    for run in &runs {
        assert_eq!(per_run.get(run["id"].as_str().unwrap()), Some(&1), "{run}");
    }
    println!(
        "{backend:?}: {KILLS} SIGKILLs; {} orders, {} runs (all succeeded), {} text messages sent, {} answers lost ({} of those never sent), {} inbox messages",
        acked.len(),
        runs.len(),
        sent.values().sum::<usize>(),
        lost.len(),
        lost_unsent,
        inbox.len()
    );
    drop(server);
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_survive_sigkill_at_random_moments_on_sqlite() {
    crash_and_recover(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_survive_sigkill_at_random_moments_on_postgres() {
    crash_and_recover(TestBackend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_sends_each_message_at_most_once_through_sigkills_on_sqlite() {
    notify_through_kills(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_sends_each_message_at_most_once_through_sigkills_on_postgres() {
    notify_through_kills(TestBackend::Postgres).await;
}
