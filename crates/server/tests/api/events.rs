//! `/api/v1/events`: the outbox over HTTP, for consumers that catch up by replay.

use std::num::NonZeroU32;

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests, member_body};

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

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

api_tests! {
    async fn a_consumer_catches_up_by_replay_with_cursors_and_type_filters(app) {
        notes(&app).await;
        let records: Vec<Value> = (0..5).map(|i| json!({"fields": {"title": format!("n{i}")}})).collect();
        let created = app.post("/api/v1/apps/notes/tables/notes/records", &app.admin_token, json!({"records": records})).await.expect(StatusCode::CREATED).clone();
        let first_id = created["records"][0]["id"].as_str().unwrap().to_owned();
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{first_id}"), &app.admin_token, json!({"fields": {"title": "changed"}})).await.expect(StatusCode::OK);

        // Page by page, only record events, in commit order.
        let mut seen = vec![];
        let mut cursor = String::new();
        loop {
            let page = app.get(&format!("/api/v1/events?types=record.*&page_size=2&cursor={cursor}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            seen.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
            assert!(seen.len() <= 6, "pages never end");
        }
        let kinds: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["record.created"; 5].into_iter().chain(["record.updated"]).collect::<Vec<_>>());
        let updated = &seen[5];
        assert_eq!(updated["subject"]["record_id"], json!(first_id));
        assert_eq!(updated["data"], json!({"before": {"title": "n0"}, "after": {"title": "changed"}, "changed": ["title"]}));
        assert_eq!(updated["organization"], json!(app.org.id.to_string()));
        assert_eq!(updated["actor"]["type"], "token");

        // `after` resumes after a known event id.
        let after = seen[2]["id"].as_str().unwrap();
        let rest = app.get(&format!("/api/v1/events?types=record.created,record.updated&after={after}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let rest_ids: Vec<&Value> = rest["items"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
        assert_eq!(rest_ids, seen[3..].iter().map(|e| &e["id"]).collect::<Vec<_>>());
        // Schema events are there too, for those who ask.
        let schema = app.get("/api/v1/events?types=schema.changed", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(types(&schema).iter().all(|t| t == "schema.changed") && !types(&schema).is_empty());
        app
    }

    async fn a_credential_sees_only_the_event_families_its_scopes_allow(app) {
        notes(&app).await;
        app.post("/api/v1/apps/notes/tables/notes/records", &app.admin_token, json!({"fields": {"title": "x"}})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/members", &app.admin_token, crate::member_body("Neu")).await.expect(StatusCode::CREATED);
        let records_reader = app.token(&["records:read"]).await;
        let page = app.get("/api/v1/events", &records_reader).await.expect(StatusCode::OK).clone();
        assert!(!types(&page).is_empty() && types(&page).iter().all(|t| t.starts_with("record.")), "{page}");
        let directory_reader = app.token(&["directory:read"]).await;
        let page = app.get("/api/v1/events", &directory_reader).await.expect(StatusCode::OK).clone();
        assert!(types(&page).contains(&"member.created".to_owned()) && types(&page).iter().all(|t| t.starts_with("member.") || t.starts_with("department.")));
        app.get("/api/v1/events?types=record.created", &directory_reader).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.get("/api/v1/events?types=ledger.posted", &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/events?after=nope", &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }
    async fn a_cursor_naming_an_event_older_than_the_retention_is_410_event_expired(app) {
        for name in ["Old one", "Old two"] {
            app.post("/api/v1/members", &app.admin_token, member_body(name)).await.expect(StatusCode::CREATED);
        }
        let old = app.get("/api/v1/events?types=member.created", &app.admin_token).await.expect(StatusCode::OK).clone();
        let old_id = old["items"][0]["id"].as_str().unwrap().to_owned();
        app.clock.advance(TimeDelta::days(31));
        app.post("/api/v1/members", &app.admin_token, member_body("New")).await.expect(StatusCode::CREATED);
        // What the server's pruner does at start and hourly, run now after moving the clock.
        let pruned = tenon_events::prune_expired(&app.store, NonZeroU32::new(30).unwrap()).await.unwrap();
        assert!(pruned.events >= 3, "{pruned:?}");

        let reply = app.get(&format!("/api/v1/events?after={old_id}"), &app.admin_token).await;
        let error = reply.expect_error(StatusCode::GONE, "event_expired");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("events are kept 30 days") && message.contains("omit after"), "{message}");
        assert_eq!(error["details"][0]["field"], "after");
        // The same for an SSE stream resumed with the expired id.
        let resumed = app.http.get(format!("{}/api/v1/events/stream", app.base))
            .bearer_auth(&app.admin_token)
            .header("last-event-id", &old_id)
            .send().await.unwrap();
        let resumed = Reply::from(resumed).await;
        assert_eq!(resumed.expect_error(StatusCode::GONE, "event_expired")["details"][0]["field"], "Last-Event-ID");

        // Starting again from the beginning gives what is kept: here the newest event alone.
        let all = app.get("/api/v1/events", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(types(&all), ["member.created"]);
        let newest = all["items"][0]["id"].as_str().unwrap();
        let after_newest = app.get(&format!("/api/v1/events?after={newest}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(after_newest["items"].as_array().unwrap().is_empty());
        // An id that never named an event is still 404.
        let unknown = tenon_model::EventId::new();
        app.get(&format!("/api/v1/events?after={unknown}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");

        // Reading the expired event by id, or redelivering it, is 410 too, naming the id.
        let gone = app.get(&format!("/api/v1/events/{old_id}"), &app.admin_token).await;
        assert_eq!(gone.expect_error(StatusCode::GONE, "event_expired")["details"][0]["field"], "id");
        app.get(&format!("/api/v1/events/{unknown}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/events/{newest}"), &app.admin_token).await.expect(StatusCode::OK);
        let subscription = app.post("/api/v1/subscriptions", &app.admin_token, json!({"url": "http://127.0.0.1:9/hook", "event_types": ["member.*"]})).await.expect(StatusCode::CREATED).clone();
        let redeliver = format!("/api/v1/subscriptions/{}/redeliver", subscription["id"].as_str().unwrap());
        let gone = app.post(&redeliver, &app.admin_token, json!({"event_id": old_id})).await;
        assert_eq!(gone.expect_error(StatusCode::GONE, "event_expired")["details"][0]["field"], "event_id");
        let gone = app.post(&redeliver, &app.admin_token, json!({"event_id": newest, "to_event_id": old_id})).await;
        assert_eq!(gone.expect_error(StatusCode::GONE, "event_expired")["details"][0]["field"], "to_event_id");
        app.post(&redeliver, &app.admin_token, json!({"event_id": unknown.to_string()})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post(&redeliver, &app.admin_token, json!({"event_id": newest})).await.expect(StatusCode::ACCEPTED);
        app
    }
}

/// The node prunes when it starts (then hourly), with the retention of its configuration.
async fn a_node_deletes_expired_events_when_it_starts(backend: tenon_store::testing::TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let keep_forever = tenon_server::ServerConfig {
        secure_cookies: false,
        delivery: tenon_events::DeliveryConfig {
            event_retention_days: None,
            ..tenon_events::DeliveryConfig::default()
        },
        ..tenon_server::ServerConfig::default()
    };
    let first = TestApp::spawn(&database, keep_forever).await;
    first
        .post("/api/v1/members", &first.admin_token, member_body("Later"))
        .await
        .expect(StatusCode::CREATED);
    let listed = first
        .get("/api/v1/events", &first.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    let oldest = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let admin_token = first.admin_token.clone();
    first.stop().await;

    // 31 days later a node starts with the default retention (30 days).
    let default = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    assert_eq!(
        default.delivery.event_retention_days,
        NonZeroU32::new(30),
        "the default retention"
    );
    let later = crate::clock_start() + TimeDelta::days(31);
    let second = TestApp::spawn_at(&database, default, later).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let reply = second
            .get(&format!("/api/v1/events?after={oldest}"), &admin_token)
            .await;
        if reply.status == StatusCode::GONE {
            reply.expect_error(StatusCode::GONE, "event_expired");
            break;
        }
        reply.expect(StatusCode::OK);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never pruned at start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // The newest event of the first organization stays.
    let kept = second
        .get("/api/v1/events", &admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(types(&kept), ["member.created"]);
    second.stop().await;
    database.cleanup().await;
}

mod a_node_deletes_expired_events_when_it_starts {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::a_node_deletes_expired_events_when_it_starts(TestBackend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::a_node_deletes_expired_events_when_it_starts(TestBackend::Postgres).await;
    }
}
