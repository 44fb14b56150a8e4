//! The crash proof of DingTalk-format callbacks (issue #21, "Faults"): a DingTalk-format subscription (its
//! `check_url` answered) takes the directory's events as encrypted callbacks while departments and members
//! are created and changed and `tenon serve` is killed with SIGKILL at random moments and restarted.
//! Afterwards every committed directory change (the outbox's `member.*` and `department.*` events written
//! after the subscription) reached the receiver at least once, decrypted and verified as DingTalk's
//! receivers do (`tenon_dingtalk::crypto`), under its DingTalk name (`user_add_org`, `org_dept_create`, …)
//! and with its event id as `EventId`; the receiver saw nothing else.
//!
//! Runs on SQLite and on PostgreSQL, and prints the counts.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tenon_dingtalk::crypto::{CallbackCrypto, Sealed};
use tenon_store::testing::{TestBackend, TestDatabase};

use support::{Server, run};

/// Times `tenon serve` is killed during the run.
const KILLS: usize = 3;
/// Writers running at once.
const WRITERS: usize = 2;
/// Writes each server acknowledges (at least) before it is killed.
const WRITES_PER_LIFE: usize = 4;
const TOKEN: &str = "crash-callback-token";
const AES_KEY: &str = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij";
const TYPES: [&str; 6] = [
    "user_add_org",
    "user_modify_org",
    "user_leave_org",
    "org_dept_create",
    "org_dept_modify",
    "org_dept_remove",
];

fn start(database: &TestDatabase) -> Server {
    support::start(
        database,
        &["--outbound-allow", "127.0.0.1", "--webhook-timeout", "1"],
    )
}

/// Every callback the receiver opened, in arrival order: (`EventId`, `EventType`).
type Arrivals = Arc<Mutex<Vec<(String, String)>>>;

/// A DingTalk receiver: verifies and opens each callback, records it, answers the encrypted `success`
/// (slowly, 0–15 ms, so kills land mid-delivery). A callback that does not verify fails the test.
async fn receiver(owner_key: String) -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let state = arrivals.clone();
    let crypto = Arc::new(CallbackCrypto::new(TOKEN, AES_KEY, &owner_key).unwrap());
    let router = axum::Router::new().route(
        "/callback",
        axum::routing::post(
            move |axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
                  body: axum::body::Bytes| {
                let (state, crypto) = (state.clone(), crypto.clone());
                async move {
                    let body: Value = serde_json::from_slice(&body).unwrap();
                    let sealed = Sealed {
                        msg_signature: query["msg_signature"].clone(),
                        time_stamp: query["timestamp"].clone(),
                        nonce: query["nonce"].clone(),
                        encrypt: body["encrypt"].as_str().unwrap().to_owned(),
                    };
                    let plain = crypto
                        .open(&sealed)
                        .expect("the callback verifies and opens");
                    let message: Value = serde_json::from_str(&plain).unwrap();
                    let event_type = message["EventType"].as_str().unwrap().to_owned();
                    if event_type != "check_url" {
                        let id = message["EventId"].as_str().unwrap().to_owned();
                        let pause = u64::from(
                            id.as_bytes().iter().fold(0u8, |a, b| a.wrapping_add(*b)) % 16,
                        );
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        state.lock().unwrap().push((id, event_type));
                    }
                    let nonce = "crashnon";
                    let timestamp = query["timestamp"].clone();
                    axum::Json(crypto.seal("success", *b"0123456789abcdef", &timestamp, nonce))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, arrivals)
}

/// Creates a department, a member in it and renames the member, retrying against whichever server is
/// up; counts the writes the API acknowledged.
async fn writer(
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    token: String,
    who: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acked: Arc<Mutex<usize>>,
) {
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let base_now = base.lock().unwrap().clone();
        let created = http
            .post(format!("{base_now}/api/v1/departments"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("部门 {who}-{n}")}))
            .send()
            .await;
        let Ok(created) = created else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if !created.status().is_success() {
            continue;
        }
        let Ok(department) = created.json::<Value>().await else {
            continue;
        };
        *acked.lock().unwrap() += 1;
        let department = department["id"].as_str().unwrap().to_owned();
        let base_now = base.lock().unwrap().clone();
        let Ok(member) = http
            .post(format!("{base_now}/api/v1/members"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("成员 {who}-{n}"), "department_ids": [department]}))
            .send()
            .await
        else {
            continue;
        };
        if !member.status().is_success() {
            continue;
        }
        let Ok(member) = member.json::<Value>().await else {
            continue;
        };
        *acked.lock().unwrap() += 1;
        let member = member["id"].as_str().unwrap().to_owned();
        let base_now = base.lock().unwrap().clone();
        if let Ok(reply) = http
            .patch(format!("{base_now}/api/v1/members/{member}"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("成员 {who}-{n} 改")}))
            .send()
            .await
            && reply.status().is_success()
        {
            *acked.lock().unwrap() += 1;
        }
    }
}

async fn directory_events(http: &reqwest::Client, base: &str, token: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = http
            .get(format!(
                "{base}/api/v1/events?types=member.*,department.*&page_size=250&cursor={cursor}"
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

/// The DingTalk name a directory event is delivered under (the members here never leave).
fn dingtalk_name(native: &str) -> &'static str {
    match native {
        "member.created" => "user_add_org",
        "member.updated" => "user_modify_org",
        "member.deleted" => "user_leave_org",
        "department.created" => "org_dept_create",
        "department.updated" => "org_dept_modify",
        "department.deleted" => "org_dept_remove",
        other => panic!("not a directory event: {other}"),
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
    // A personal token's subscription: the owner key is the organization's id.
    let (url, arrivals) = receiver(org.clone()).await;
    let http = reqwest::Client::new();
    let mut server = start(&database);
    let before: HashSet<String> = directory_events(&http, &server.base, &token)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let created = http
        .post(format!("{}/api/v1/subscriptions", server.base))
        .bearer_auth(&token)
        .json(&json!({"url": url, "event_types": TYPES, "format": "dingtalk", "dingtalk": {"token": TOKEN, "aes_key": AES_KEY}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        reqwest::StatusCode::CREATED,
        "{}",
        created.text().await.unwrap()
    );

    let base = Arc::new(Mutex::new(server.base.clone()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked: Arc<Mutex<usize>> = Arc::default();
    let writers: Vec<_> = (0..WRITERS)
        .map(|who| {
            tokio::spawn(writer(
                http.clone(),
                base.clone(),
                token.clone(),
                who,
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    for kill in 0..KILLS {
        let acked_at_start = *acked.lock().unwrap();
        // A random moment: 300–1,300 ms into this server's life, from the clock's nanoseconds.
        let nanos = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
        tokio::time::sleep(Duration::from_millis(300 + nanos % 1000)).await;
        // And not before this server has acknowledged a few writes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while *acked.lock().unwrap() < acked_at_start + WRITES_PER_LIFE {
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
            "{backend:?}: kill {} after {delivered_before} callbacks",
            kill + 1
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    // The committed set: the outbox's directory events written after the subscription, by DingTalk name.
    let committed: HashMap<String, &'static str> = directory_events(&http, &server.base, &token)
        .await
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                dingtalk_name(e["type"].as_str().unwrap()),
            )
        })
        .filter(|(id, _)| !before.contains(id))
        .collect();
    let acked = *acked.lock().unwrap();
    assert!(
        committed.len() >= acked,
        "{acked} acknowledged writes, only {} events",
        committed.len()
    );
    let committed_ids: HashSet<String> = committed.keys().cloned().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let received = loop {
        let arrivals = arrivals.lock().unwrap().clone();
        let seen: HashSet<String> = arrivals.iter().map(|(id, _)| id.clone()).collect();
        if committed_ids.is_subset(&seen) {
            break arrivals;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} committed directory changes never arrived",
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
    for (id, event_type) in &received {
        assert_eq!(
            event_type, committed[id],
            "event {id} arrived under its DingTalk name"
        );
    }
    println!(
        "{backend:?}: {KILLS} SIGKILLs; {acked} writes acknowledged, {} directory events committed, {} callbacks received ({} duplicates)",
        committed_ids.len(),
        received.len(),
        received.len() - seen.len()
    );
    assert!(
        committed_ids.len() >= 20,
        "the run wrote too little to prove anything: {}",
        committed_ids.len()
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_callbacks_survive_sigkill_at_random_moments_on_sqlite() {
    crash_and_recover(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_callbacks_survive_sigkill_at_random_moments_on_postgres() {
    crash_and_recover(TestBackend::Postgres).await;
}
