//! Server-Sent Events: `GET /api/v1/events/stream` sends events as they commit, resumes after
//! `Last-Event-ID`, and shows only what the credential's scopes allow.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::stream::{create_note, notes};
use crate::{TestApp, api_tests};

/// An open SSE response and the text received so far.
pub(crate) struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    pub(crate) async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Sse {
        let mut request = app
            .http
            .get(format!("{}/api/v1/events/stream", app.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Sse {
            response,
            buffer: String::new(),
        }
    }

    /// The next event as (id, event, data), within a deadline; comments (keep-alives) are skipped.
    pub(crate) async fn next(&mut self) -> (String, String, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block.lines().find_map(|line| {
                        line.strip_prefix(&format!("{name}: ")[..])
                            .map(str::to_owned)
                    })
                };
                let (Some(id), Some(event), Some(data)) =
                    (field("id"), field("event"), field("data"))
                else {
                    continue;
                };
                return (id, event, serde_json::from_str(&data).unwrap());
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("stream open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

api_tests! {
    async fn server_sent_events_follow_commits_and_resume_after_last_event_id(app) {
        notes(&app).await;
        let before = create_note(&app, "before").await;
        let reader = app.token(&["records:read"]).await;
        let mut live = Sse::open(&app, &reader, None).await;
        // From now on only; a member event is not for records:read.
        app.post("/api/v1/members", &app.admin_token, crate::member_body("Hidden")).await.expect(StatusCode::CREATED);
        let a = create_note(&app, "a").await;
        let b = create_note(&app, "b").await;
        let (first_id, first_type, first) = live.next().await;
        assert_eq!((first_type.as_str(), &first["subject"]["record_id"]), ("record.created", &json!(a)), "{before} came before the stream");
        assert_eq!(first["id"], json!(first_id));
        let (_, _, second) = live.next().await;
        assert_eq!(second["subject"]["record_id"], json!(b));

        // A reconnecting EventSource sends Last-Event-ID and gets what followed.
        let mut resumed = Sse::open(&app, &reader, Some(&first_id)).await;
        let (_, _, again) = resumed.next().await;
        assert_eq!(again["subject"]["record_id"], json!(b));
        let fetched = app.get(&format!("/api/v1/events/{first_id}"), &reader).await.expect(StatusCode::OK).clone();
        assert_eq!(fetched, first);

        let unknown = app.http.get(format!("{}/api/v1/events/stream?after={}", app.base, tenon_model::EventId::new())).bearer_auth(&reader).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let forbidden = app.http.get(format!("{}/api/v1/events/stream?types=member.*", app.base)).bearer_auth(&reader).send().await.unwrap();
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        app
    }
}
