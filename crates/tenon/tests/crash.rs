//! The crash proof of webhook delivery: records are written while a slow receiver takes the webhooks,
//! `tenon serve` is killed with SIGKILL at random moments and restarted, and afterwards
//!
//! - every committed write's event (the outbox after the run: the writes that committed) reached the
//!   receiver at least once, and the receiver saw nothing else (de-duplicated set = committed set);
//! - every write the API acknowledged is in the outbox;
//! - per record, events arrived in commit order (a redelivery after a crash may repeat an event, never
//!   go back to an earlier one once a later one arrived);
//! - every group whose rollup (the sum of its notes' amounts) moved was delivered with its final value:
//!   the last event of each group to arrive is its last committed one, and its `after.total` is what a GET
//!   of the group shows, which is the sum of its notes.
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
/// Writes each server acknowledges (at least) before it is killed.
const WRITES_PER_LIFE: usize = 4;

use support::{Server, run};

fn start(database: &TestDatabase) -> Server {
    support::start(
        database,
        &["--outbound-allow", "127.0.0.1", "--webhook-timeout", "1"],
    )
}

/// Every request the receiver got, in arrival order: (event id, record id).
type Arrivals = Arc<Mutex<Vec<(String, String)>>>;

async fn slow_receiver() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let state = arrivals.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let event: Value = serde_json::from_slice(&body).unwrap();
                let id = event["id"].as_str().unwrap().to_owned();
                // Slow: 0–15 ms per request, spread by the id, so kills land mid-delivery.
                let pause =
                    u64::from(id.as_bytes().iter().fold(0u8, |a, b| a.wrapping_add(*b)) % 16);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let record = event["subject"]["record_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                state.lock().unwrap().push((id, record));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, arrivals)
}

/// Creates a note in one of the groups and updates its amount twice (three events per note, and one for
/// its group each time), retrying against whichever server is up. Returns the notes' ids acknowledged by
/// the API, once per acknowledged write.
async fn writer(
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    token: String,
    groups: Vec<String>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let url = format!(
            "{}/api/v1/apps/crash/tables/notes/records",
            base.lock().unwrap()
        );
        let created = http
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"fields": {"title": format!("n{n}"), "amount": n % 7 + 1, "group": [groups[(n % 3) as usize]]}}))
            .send()
            .await;
        let Ok(created) = created else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if !created.status().is_success() {
            continue;
        }
        let Ok(record) = created.json::<Value>().await else {
            continue;
        };
        let id = record["id"].as_str().unwrap().to_owned();
        acked.lock().unwrap().push(id.clone());
        for version in 1..=2 {
            let url = format!(
                "{}/api/v1/apps/crash/tables/notes/records/{id}",
                base.lock().unwrap()
            );
            if let Ok(reply) = http
                .patch(&url)
                .bearer_auth(&token)
                .json(&json!({"fields": {"title": format!("n{n} v{version}"), "amount": n % 7 + 1 + version}}))
                .send()
                .await
                && reply.status().is_success()
            {
                acked.lock().unwrap().push(id.clone());
            }
        }
    }
}

async fn all_events(http: &reqwest::Client, base: &str, token: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = http
            .get(format!(
                "{base}/api/v1/events?types=record.*&page_size=250&cursor={cursor}"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        events.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return events,
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
    let (hook, arrivals) = slow_receiver().await;
    let http = reqwest::Client::new();
    let mut server = start(&database);
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert!(
        post("/api/v1/apps", json!({"name": "Crash", "key": "crash"}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(post("/api/v1/apps/crash/tables", json!({"name": "Groups", "key": "groups", "fields": [{"name": "Name", "key": "name", "type": "text"}]})).await.unwrap().status().is_success());
    assert!(post("/api/v1/apps/crash/tables", json!({"name": "Notes", "key": "notes", "fields": [
        {"name": "Title", "key": "title", "type": "text"},
        {"name": "Amount", "key": "amount", "type": "number"},
        {"name": "Group", "key": "group", "type": "link", "options": {"table": "groups", "multiple": false, "inverse_key": "notes", "inverse_name": "Notes"}}
    ]})).await.unwrap().status().is_success());
    assert!(post("/api/v1/apps/crash/tables/groups/fields", json!({"name": "Total", "key": "total", "type": "rollup", "options": {"link": "notes", "field": "amount", "function": "sum"}})).await.unwrap().status().is_success());
    assert!(
        post(
            "/api/v1/subscriptions",
            json!({"url": hook, "event_types": ["record.*"]})
        )
        .await
        .unwrap()
        .status()
        .is_success()
    );
    // Created after the subscription: their events are delivered too.
    let groups: Value = post("/api/v1/apps/crash/tables/groups/records", json!({"records": [{"fields": {"name": "g0"}}, {"fields": {"name": "g1"}}, {"fields": {"name": "g2"}}]})).await.unwrap().json().await.unwrap();
    let groups: Vec<String> = groups["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();

    let base = Arc::new(Mutex::new(server.base.clone()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            tokio::spawn(writer(
                http.clone(),
                base.clone(),
                token.clone(),
                groups.clone(),
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    for kill in 0..KILLS {
        let acked_at_start = acked.lock().unwrap().len();
        // A random moment: 300–1,300 ms into this server's life, from the clock's nanoseconds.
        let nanos = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
        tokio::time::sleep(Duration::from_millis(300 + nanos % 1000)).await;
        // And not before this server has acknowledged a few writes: on a busy machine a restart can
        // take most of that time, and a run of kills with nothing written in between proves nothing.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().len() < acked_at_start + WRITES_PER_LIFE {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server acknowledged no write for 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let delivered_before = arrivals.lock().unwrap().len();
        server = start(&database);
        *base.lock().unwrap() = server.base.clone();
        println!(
            "{backend:?}: kill {} after {delivered_before} deliveries",
            kill + 1
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    // The committed set: the outbox after the run.
    let committed = all_events(&http, &server.base, &token).await;
    let committed_ids: HashSet<String> = committed
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let position: HashMap<String, usize> = committed
        .iter()
        .enumerate()
        .map(|(i, e)| (e["id"].as_str().unwrap().to_owned(), i))
        .collect();
    // Every acknowledged write is committed: its record has at least as many events as acknowledgements.
    let mut events_per_record: HashMap<String, usize> = HashMap::new();
    for event in &committed {
        *events_per_record
            .entry(event["subject"]["record_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let acked = acked.lock().unwrap().clone();
    let mut acked_per_record: HashMap<String, usize> = HashMap::new();
    for record in &acked {
        *acked_per_record.entry(record.clone()).or_default() += 1;
    }
    for (record, n) in &acked_per_record {
        let have = events_per_record.get(record).copied().unwrap_or(0);
        if have < *n {
            let stored = http
                .get(format!(
                    "{}/api/v1/apps/crash/tables/notes/records/{record}",
                    server.base
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let its_events: Vec<&Value> = committed
                .iter()
                .filter(|e| e["subject"]["record_id"].as_str() == Some(record.as_str()))
                .collect();
            panic!(
                "an acknowledged write of {record} has no event: {n} acknowledged, {have} events \
                 {its_events:?}; the record now: {stored}"
            );
        }
    }

    // Wait until the receiver has every committed event.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let received = loop {
        let arrivals = arrivals.lock().unwrap().clone();
        let seen: HashSet<String> = arrivals.iter().map(|(id, _)| id.clone()).collect();
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
    let seen: HashSet<String> = received.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        seen, committed_ids,
        "the receiver's de-duplicated set is the committed set"
    );
    // Per record, arrivals never go back to an earlier event.
    let mut last_position: HashMap<&str, usize> = HashMap::new();
    for (id, record) in &received {
        let at = position[id];
        if let Some(previous) = last_position.insert(record.as_str(), at) {
            assert!(
                previous <= at,
                "record {record}: event #{at} arrived after #{previous}"
            );
        }
    }
    // Every group was delivered with its final total, and that total is the sum of its notes.
    for group in &groups {
        let stored: Value = http
            .get(format!(
                "{}/api/v1/apps/crash/tables/groups/records/{group}?expand=notes",
                server.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let last_committed = committed
            .iter()
            .rfind(|e| e["subject"]["record_id"] == group.as_str())
            .unwrap_or_else(|| panic!("group {group} never moved: {stored}"));
        assert_eq!(
            last_committed["data"]["after"]["total"], stored["fields"]["total"],
            "group {group}: its last event says {last_committed}, a GET says {stored}"
        );
        let last_arrived = received
            .iter()
            .rev()
            .find(|(_, record)| record == group)
            .map(|(id, _)| id.as_str());
        assert_eq!(
            last_arrived,
            last_committed["id"].as_str(),
            "group {group}: the last delivery is its last committed event"
        );
        // A group the writer never reached before the kills has no notes (and no `notes` key): its only
        // event is its creation, checked above, and its total is empty or zero.
        let Some(notes) = stored["fields"]["notes"].as_array() else {
            let total = &stored["fields"]["total"];
            assert!(
                total.is_null() || total == &json!("0") || total == &json!(0),
                "group {group} has no notes but a total: {stored}"
            );
            continue;
        };
        let sum: i64 = notes
            .iter()
            .map(|note| note["record"]["fields"]["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(
            stored["fields"]["total"],
            json!(sum.to_string()),
            "group {group}: {stored}"
        );
    }
    println!(
        "{backend:?}: {KILLS} SIGKILLs; {} writes acknowledged, {} events committed, {} deliveries received ({} duplicates), per-record order held",
        acked.len(),
        committed_ids.len(),
        received.len(),
        received.len() - seen.len()
    );
    assert!(
        committed_ids.len() >= 30,
        "the run wrote too little to prove anything: {}",
        committed_ids.len()
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_sigkill_at_random_moments_on_sqlite() {
    crash_and_recover(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_sigkill_at_random_moments_on_postgres() {
    crash_and_recover(TestBackend::Postgres).await;
}
