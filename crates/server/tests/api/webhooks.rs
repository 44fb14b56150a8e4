//! Webhooks end to end: a receiver on 127.0.0.1 in the test, subscriptions over the API, the server's
//! own delivery workers, and the manual clock to walk through the retry schedule without waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};

use tenon_store::Clock as _;

use crate::{TestApp, api_tests};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub json: Value,
}

/// How the receiver answers: scripted replies first (status, Retry-After), then 200.
#[derive(Default)]
struct Script {
    replies: VecDeque<(u16, Option<u64>)>,
    received: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    script: Arc<Mutex<Script>>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let script = Arc::new(Mutex::new(Script::default()));
        let state = script.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let mut script = state.lock().unwrap();
                    script.received.push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        body: body.to_vec(),
                    });
                    let (status, retry_after) = script.replies.pop_front().unwrap_or((200, None));
                    let mut response_headers = HeaderMap::new();
                    if let Some(seconds) = retry_after {
                        response_headers
                            .insert("retry-after", seconds.to_string().parse().unwrap());
                    }
                    (
                        AxumStatus::from_u16(status).unwrap(),
                        response_headers,
                        format!("answer {status}"),
                    )
                        .into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver {
            url,
            script,
            server,
        }
    }

    pub fn reply_next(&self, replies: &[(u16, Option<u64>)]) {
        self.script
            .lock()
            .unwrap()
            .replies
            .extend(replies.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Waits (polling, with a deadline) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} webhooks arrived: {received:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn notes(app: &TestApp) {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "Notes", "key": "notes"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/notes/tables", &app.admin_token, json!({"name": "Notes", "key": "notes", "fields": [{"name": "Title", "key": "title", "type": "text"}]}))
        .await
        .expect(StatusCode::CREATED);
}

async fn subscribe(app: &TestApp, url: &str, types: Value) -> Value {
    app.post(
        "/api/v1/subscriptions",
        &app.admin_token,
        json!({"url": url, "event_types": types}),
    )
    .await
    .expect(StatusCode::CREATED)
    .clone()
}

async fn create_note(app: &TestApp, title: &str) -> String {
    let record = app
        .post(
            "/api/v1/apps/notes/tables/notes/records",
            &app.admin_token,
            json!({"fields": {"title": title}}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    record["id"].as_str().unwrap().to_owned()
}

async fn deliveries(app: &TestApp, subscription: &str) -> Vec<Value> {
    let page = app
        .get(
            &format!("/api/v1/subscriptions/{subscription}/deliveries"),
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    page["items"].as_array().unwrap().clone()
}

/// Polls the delivery log until `done` holds for the newest-first list, with a deadline.
async fn wait_deliveries(
    app: &TestApp,
    subscription: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(app, subscription).await;
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn verify_with_own_hmac(secret: &str, received: &Received) -> bool {
    let key = tenon_events::signing::secret_key(secret).unwrap();
    let expected = tenon_events::signing::signature(
        &key,
        &received.id,
        received.timestamp.parse().unwrap(),
        &received.body,
    );
    expected == received.signature
}

api_tests! {
    async fn record_events_are_delivered_signed_in_order_and_logged(app) {
        notes(&app).await;
        let receiver = Receiver::start().await;
        let subscription = subscribe(&app, &receiver.url, json!(["record.*"])).await;
        let secret = subscription["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_") && secret.len() > 40);
        let id = subscription["id"].as_str().unwrap().to_owned();
        // The secret is shown at creation only.
        let fetched = app.get(&format!("/api/v1/subscriptions/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(fetched.get("secret").is_none() && !fetched.to_string().contains(secret));

        let first = create_note(&app, "one").await;
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{first}"), &app.admin_token, json!({"fields": {"title": "two"}})).await.expect(StatusCode::OK);
        app.delete(&format!("/api/v1/apps/notes/tables/notes/records/{first}"), &app.admin_token).await;
        let received = receiver.wait_for(3).await;
        let types: Vec<&str> = received.iter().map(|r| r.json["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["record.created", "record.updated", "record.deleted"], "one record's events arrive in commit order");
        for request in &received {
            assert_eq!(request.id, request.json["id"].as_str().unwrap(), "webhook-id is the event id");
            assert!(verify_with_own_hmac(secret, request));
            let keys: Vec<&String> = request.json.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["id", "type", "organization", "occurred_at", "actor", "subject", "data"]);
        }
        assert_eq!(received[1].json["data"]["before"], json!({"title": "one"}));
        // The body is the event as the replay list shows it.
        let listed = app.get("/api/v1/events?types=record.updated", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"][0], received[1].json);

        let log = wait_deliveries(&app, &id, "three delivered", |list| list.len() == 3 && list.iter().all(|d| d["status"] == "delivered")).await;
        let attempt = &log[0]["attempt_log"][0];
        assert_eq!((attempt["status_code"].as_i64(), log[0]["attempts"].as_i64()), (Some(200), Some(1)));
        assert_eq!(attempt["response_excerpt"], "answer 200");

        // A rotated secret signs what follows.
        let rotated = app.post(&format!("/api/v1/subscriptions/{id}/rotate-secret"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        let new_secret = rotated["secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);
        create_note(&app, "three").await;
        let received = receiver.wait_for(4).await;
        assert!(verify_with_own_hmac(new_secret, &received[3]) && !verify_with_own_hmac(secret, &received[3]));

        // A ping reaches the receiver, signed, and reports how it went.
        let ping = app.post(&format!("/api/v1/subscriptions/{id}/ping"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!((ping["delivered"].as_bool(), ping["status_code"].as_i64()), (Some(true), Some(200)));
        let received = receiver.wait_for(5).await;
        assert_eq!(received[4].json["type"], "webhook.ping");
        assert!(verify_with_own_hmac(new_secret, &received[4]));
        app
    }

    async fn a_subscription_back_after_the_retention_is_told_how_many_events_expired_unseen(app) {
        notes(&app).await;
        let receiver = Receiver::start().await;
        let subscription = subscribe(&app, &receiver.url, json!(["record.created"])).await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        create_note(&app, "seen").await;
        let received = receiver.wait_for(1).await;
        assert!(received[0].json.get("events_expired").is_none());
        wait_deliveries(&app, &id, "the first delivered", |list| list.len() == 1 && list[0]["status"] == "delivered").await;

        // Disabled, it misses three record.created events; the update and the member are not its types.
        app.patch(&format!("/api/v1/subscriptions/{id}"), &app.admin_token, json!({"enabled": false})).await.expect(StatusCode::OK);
        let mut missed = Vec::new();
        for title in ["one", "two", "three"] {
            missed.push(create_note(&app, title).await);
        }
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{}", missed[0]), &app.admin_token, json!({"fields": {"title": "uno"}})).await.expect(StatusCode::OK);
        app.post("/api/v1/members", &app.admin_token, crate::member_body("Away")).await.expect(StatusCode::CREATED);
        let events = app.get("/api/v1/events?types=record.created", &app.admin_token).await.expect(StatusCode::OK).clone();
        let created: Vec<Value> = events["items"].as_array().unwrap().iter().filter(|e| missed.contains(&e["subject"]["record_id"].as_str().unwrap().to_owned())).cloned().collect();
        assert_eq!(created.len(), 3);

        app.clock.advance(TimeDelta::days(31));
        let kept = create_note(&app, "after the retention").await;
        let pruned = tenon_events::prune_expired(&app.store, std::num::NonZeroU32::new(30).unwrap()).await.unwrap();
        assert!(pruned.events >= 5, "{pruned:?}");
        app.patch(&format!("/api/v1/subscriptions/{id}"), &app.admin_token, json!({"enabled": true})).await.expect(StatusCode::OK);

        // Its first delivery back carries the newest event and says what it missed.
        let received = receiver.wait_for(2).await;
        let back = &received[1].json;
        assert_eq!(back["subject"]["record_id"], json!(kept));
        assert_eq!(back["events_expired"], json!({
            "count": 3,
            "first_id": created[0]["id"], "last_id": created[2]["id"],
            "first_occurred_at": created[0]["occurred_at"], "last_occurred_at": created[2]["occurred_at"],
            "retention_days": 30,
        }));
        assert!(verify_with_own_hmac(subscription["secret"].as_str().unwrap(), &received[1]), "the signature covers it");
        // Told once: the next delivery is a plain event.
        create_note(&app, "next").await;
        let received = receiver.wait_for(3).await;
        assert!(received[2].json.get("events_expired").is_none(), "{}", received[2].json);
        app
    }

    async fn deliveries_verify_with_the_official_standardwebhooks_library(app) {
        notes(&app).await;
        let receiver = Receiver::start().await;
        let subscription = subscribe(&app, &receiver.url, json!(["record.created"])).await;
        create_note(&app, "签名 ✓ \"quoted\"").await;
        let received = receiver.wait_for(1).await;
        let request = &received[0];
        let dir = tempfile_dir();
        let payload = dir.join("payload.json");
        std::fs::write(&payload, &request.body).unwrap();
        let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, msg_id, timestamp, signature, path = sys.argv[1:6]
body = open(path, "rb").read()
event = Webhook(secret).verify(body, {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature})
print(event["type"])
try:
    Webhook(secret).verify(body + b" ", {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature})
    print("tampered body accepted")
except Exception:
    print("tampered body refused")
"#;
        let output = std::process::Command::new("python3")
            .args(["-c", script, subscription["secret"].as_str().unwrap(), &request.id, &request.timestamp, &request.signature])
            .arg(&payload)
            .output()
            .expect("python3 runs (.ci/run installs it with the standardwebhooks package)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "the standardwebhooks library refused the delivery (pip install standardwebhooks): {}{}", stdout, String::from_utf8_lossy(&output.stderr));
        assert_eq!(stdout.lines().collect::<Vec<_>>(), ["record.created", "tampered body refused"]);
        let _ = std::fs::remove_dir_all(dir);
        app
    }

    async fn failures_retry_on_the_schedule_honour_retry_after_and_end_in_the_dead_letter(app) {
        notes(&app).await;
        let receiver = Receiver::start().await;
        let subscription = subscribe(&app, &receiver.url, json!(["record.created"])).await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        // First answer: 503 with Retry-After one hour; then 500 forever.
        receiver.reply_next(&[(503, Some(3600))]);
        receiver.reply_next(&[(500, None); 20]);
        let started = app.clock.now();
        create_note(&app, "doomed").await;
        let log = wait_deliveries(&app, &id, "first attempt", |l| l.len() == 1 && l[0]["attempts"] == 1).await;
        let next: chrono::DateTime<chrono::Utc> = serde_json::from_value(log[0]["next_attempt_at"].clone()).unwrap();
        assert!(next - started >= TimeDelta::seconds(3600) && next - started <= TimeDelta::seconds(3700), "Retry-After one hour wins over 5 s: {next}");
        assert_eq!(log[0]["attempt_log"][0]["status_code"], 503);

        // Walk through the schedule: each step moves the clock past the longest jittered delay.
        for (expected_attempts, delay_secs) in (2..).zip([3600i64, 300, 1800, 7200, 18_000, 36_000, 36_000]) {
            let log = deliveries(&app, &id).await;
            assert_eq!(log[0]["status"], "pending");
            app.clock.advance(TimeDelta::seconds(delay_secs * 12 / 10 + 1));
            wait_deliveries(&app, &id, "the next attempt", |l| l[0]["attempts"] == expected_attempts).await;
        }
        let log = deliveries(&app, &id).await;
        assert_eq!(log[0]["status"], "dead", "after eight attempts the delivery is dead-lettered");
        assert_eq!(log[0]["attempt_log"].as_array().unwrap().len(), 8);
        assert_eq!(log[0]["attempt_log"][7]["response_excerpt"], "answer 500");
        assert_eq!(receiver.received().len(), 8);
        let dead = app.get(&format!("/api/v1/subscriptions/{id}/deliveries?status=dead"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(dead["items"].as_array().unwrap().len(), 1);

        // About 1.5 days of failure: the subscription stays enabled.
        let sub = app.get(&format!("/api/v1/subscriptions/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(sub["enabled"], true);
        assert!(sub["failing_since"].is_string());
        // Still failing five days after the first failure: disabled, with the reason.
        app.clock.advance(TimeDelta::days(4));
        create_note(&app, "still failing").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let sub = loop {
            let sub = app.get(&format!("/api/v1/subscriptions/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            if sub["enabled"] == false {
                break sub;
            }
            assert!(tokio::time::Instant::now() < deadline, "never disabled: {sub}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert!(sub["disabled_reason"].as_str().unwrap().contains("5 days"));
        // Re-enabling forgets the failures.
        let sub = app.patch(&format!("/api/v1/subscriptions/{id}"), &app.admin_token, json!({"enabled": true})).await.expect(StatusCode::OK).clone();
        assert!(sub["failing_since"].is_null() && sub["disabled_reason"].is_null());
        app
    }

    async fn a_later_event_of_a_record_waits_for_the_earlier_one_and_a_success_resets_failures(app) {
        notes(&app).await;
        let receiver = Receiver::start().await;
        let subscription = subscribe(&app, &receiver.url, json!(["record.*"])).await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        receiver.reply_next(&[(500, None)]);
        let record = create_note(&app, "v1").await;
        wait_deliveries(&app, &id, "the failed first attempt", |l| l.len() == 1 && l[0]["attempts"] == 1).await;
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{record}"), &app.admin_token, json!({"fields": {"title": "v2"}})).await.expect(StatusCode::OK);
        let other = create_note(&app, "other").await;
        // The other record is not held up; the update waits behind the pending create.
        let received = receiver.wait_for(2).await;
        assert_eq!(received[1].json["subject"]["record_id"], json!(other));
        wait_deliveries(&app, &id, "three deliveries queued", |l| l.len() == 3).await;
        assert_eq!(receiver.received().len(), 2, "record.updated must wait for record.created");
        app.clock.advance(TimeDelta::seconds(7));
        let received = receiver.wait_for(4).await;
        let order: Vec<(&str, &str)> = received.iter().map(|r| (r.json["type"].as_str().unwrap(), r.json["subject"]["record_id"].as_str().unwrap())).collect();
        assert_eq!(order[2..], [("record.created", record.as_str()), ("record.updated", record.as_str())]);
        let sub = app.get(&format!("/api/v1/subscriptions/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(sub["failing_since"].is_null(), "a success ends the failure run");

        // Redelivery of a range sends those events again, with the same webhook-id.
        let all = app.get("/api/v1/events?types=record.*", &app.admin_token).await.expect(StatusCode::OK).clone();
        let items = all["items"].as_array().unwrap();
        let queued = app.post(&format!("/api/v1/subscriptions/{id}/redeliver"), &app.admin_token, json!({"event_id": items[0]["id"], "to_event_id": items[1]["id"]}))
            .await
            .expect(StatusCode::ACCEPTED)
            .clone();
        assert_eq!(queued["queued"], 2);
        let received = receiver.wait_for(6).await;
        let mut again: Vec<&str> = received[4..].iter().map(|r| r.id.as_str()).collect();
        again.sort_unstable();
        let mut expected = vec![items[0]["id"].as_str().unwrap(), items[1]["id"].as_str().unwrap()];
        expected.sort_unstable();
        assert_eq!(again, expected);
        app
    }

    async fn webhook_targets_on_private_networks_are_refused(app) {
        for url in ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/", "http://192.168.1.10/", "http://0.0.0.0/", "ftp://example.com/"] {
            let reply = app.post("/api/v1/subscriptions", &app.admin_token, json!({"url": url, "event_types": ["record.created"]})).await;
            let body = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(body["details"][0]["field"], "url", "{url}: {body}");
        }
        // The allow-list of this server names 127.0.0.1 (as --outbound-allow would).
        app.post("/api/v1/subscriptions", &app.admin_token, json!({"url": "http://127.0.0.1:9/hook", "event_types": ["record.created"]})).await.expect(StatusCode::CREATED);
        // Event types must exist and be readable by the subscriber.
        app.post("/api/v1/subscriptions", &app.admin_token, json!({"url": "http://127.0.0.1:9/hook", "event_types": ["nope.*"]})).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        let limited = app.token(&["events:manage", "directory:read"]).await;
        app.post("/api/v1/subscriptions", &limited, json!({"url": "http://127.0.0.1:9/hook", "event_types": ["record.created"]})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.post("/api/v1/subscriptions", &limited, json!({"url": "http://127.0.0.1:9/hook", "event_types": ["member.*"]})).await.expect(StatusCode::CREATED);
        app
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tenon-webhook-{}", crate::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
