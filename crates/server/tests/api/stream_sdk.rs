//! Stream mode driven by the official Python `dingtalk-stream` SDK (0.24.x, installed by `.ci/run`), with
//! nothing changed but `DINGTALK_OPENAPI_ENDPOINT`: it receives record events, acknowledges them, crashes
//! holding one unacknowledged, reconnects, and gets that one again and none it had acknowledged.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::stream::{create_note, notes, until_no_connection};
use crate::{TestApp, api_tests};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/dingtalk_stream_client.py"
);
/// How long the SDK may take to start, connect and receive what it must.
const SDK_DEADLINE: Duration = Duration::from_secs(60);

/// A running SDK client: its lines arrive on `lines` (read by a thread, since the child is blocking I/O).
pub(crate) struct SdkClient {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl SdkClient {
    pub(crate) fn start(
        app: &TestApp,
        client_id: &str,
        secret: &str,
        mode: &str,
        acks_before_crash: usize,
    ) -> SdkClient {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .args([client_id, secret, mode, &acks_before_crash.to_string()])
            .env("DINGTALK_OPENAPI_ENDPOINT", &app.base)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (.ci/run installs dingtalk-stream==0.24.3)");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = sender.send(value);
                }
            }
        });
        SdkClient { child, lines }
    }

    /// The next line the script printed, within the deadline (a script that died fails here, loudly).
    pub(crate) async fn next(&mut self) -> Value {
        match tokio::time::timeout(SDK_DEADLINE, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the SDK client exited early: {:?}", self.child.try_wait()),
            Err(_) => panic!("the SDK client printed nothing for {SDK_DEADLINE:?}"),
        }
    }
}

impl Drop for SdkClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls the store until `condition` holds for the installation's queue of unacknowledged events.
pub(crate) async fn until_queue(
    app: &TestApp,
    installation: tenon_model::InstallationId,
    what: &str,
    condition: impl Fn(&[tenon_store::StreamQueued]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + SDK_DEADLINE;
    loop {
        let queue = app
            .store
            .tenant(app.org.id)
            .stream_queue(installation)
            .await
            .unwrap();
        if condition(&queue) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened; queue: {queue:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

api_tests! {
    async fn the_dingtalk_stream_sdk_gets_an_event_again_after_crashing_and_none_it_acknowledged(app) {
        notes(&app).await;
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "SDK", "scopes": ["records:read"]})).await;
        let created = created.expect(StatusCode::CREATED).clone();
        let client_id = created["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        let installation: tenon_model::InstallationId = created["id"].as_str().unwrap().parse().unwrap();
        // Four events wait for the app: three creations and an update of the first record.
        let r1 = create_note(&app, "one").await;
        create_note(&app, "two").await;
        create_note(&app, "three").await;
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{r1}"), &app.admin_token, json!({"fields": {"title": "one, changed"}})).await.expect(StatusCode::OK);

        let mut first = SdkClient::start(&app, &client_id, &secret, "crash", 3);
        let mut acked = BTreeSet::new();
        let mut order = vec![];
        let held = loop {
            let line = first.next().await;
            if let Some(event) = line.get("acked") {
                assert_eq!(event["event_id"], event["envelope_id"], "data is the event itself");
                acked.insert(event["event_id"].as_str().unwrap().to_owned());
                order.push((event["record_id"].clone(), event["event_type"].clone()));
            } else if let Some(event) = line.get("holding") {
                break event.clone();
            }
        };
        assert_eq!(acked.len(), 3);
        // The update of record one comes after its creation was acknowledged, never beside it.
        assert_eq!(held["event_type"], "record.updated");
        assert_eq!(held["record_id"], json!(r1));
        assert!(order.contains(&(json!(r1), json!("record.created"))));
        // Crash only once the server has every acknowledgement, so the test knows what was acknowledged.
        let held_id = held["event_id"].as_str().unwrap().to_owned();
        until_queue(&app, installation, "the three acknowledgements", |queue| queue.len() == 1 && queue[0].event_id.to_string() == held_id).await;
        first.child.stdin.as_mut().unwrap().write_all(b"crash\n").unwrap();
        let status = tokio::task::spawn_blocking(move || {
            let mut first = first;
            let status = first.child.wait();
            drop(first);
            status
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(status.code(), Some(3), "the client crashed as told");

        until_no_connection(&app, &client_id).await;
        // Reconnected, it gets the held event again, then a new one, and nothing it had acknowledged.
        let mut second = SdkClient::start(&app, &client_id, &secret, "ack", 0);
        let r4 = create_note(&app, "four").await;
        let mut received = vec![];
        while !received.iter().any(|e: &Value| e["record_id"] == json!(r4)) {
            let line = second.next().await;
            received.push(line["acked"].clone());
        }
        until_queue(&app, installation, "acknowledgement of everything", <[_]>::is_empty).await;
        let ids: Vec<&str> = received.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
        assert_eq!(ids[0], held_id, "the held event comes first, at once: {received:?}");
        assert_eq!(ids.len(), 2, "{received:?}");
        assert!(ids.iter().all(|id| !acked.contains(*id)), "an acknowledged event came again: {received:?}");
        assert_ne!(received[0]["message_id"], held["message_id"], "a new message id per attempt");
        drop(second);
        app
    }
}
