//! `/api/v1/events`: the outbox over HTTP, for consumers that catch up by replay.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

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
}
