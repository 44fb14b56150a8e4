//! `POST …/fields/{field}/check` (#22 §3): what a field change would clear, said before it is made. The
//! check runs the real change in a transaction that is rolled back: its count equals what saving clears,
//! and it writes nothing — not the field, not a value, not an audit entry.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

const TABLE: &str = "/api/v1/apps/duty/tables/hours";

async fn hours(app: &TestApp) {
    let token = &app.admin_token;
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "Duty", "key": "duty"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/duty/tables",
        token,
        json!({"name": "Hours", "key": "hours", "fields": [
            {"name": "Name", "key": "name", "type": "text"},
            {"name": "Worked", "key": "worked", "type": "text"}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let records: Vec<Value> = ["8", "八小时", "7.5", "", "half"]
        .iter()
        .enumerate()
        .map(|(i, worked)| {
            if worked.is_empty() {
                json!({"fields": {"name": format!("n{i}")}})
            } else {
                json!({"fields": {"name": format!("n{i}"), "worked": worked}})
            }
        })
        .collect();
    app.post(
        &format!("{TABLE}/records"),
        token,
        json!({"records": records}),
    )
    .await
    .expect(StatusCode::CREATED);
}

async fn values(app: &TestApp) -> Vec<Value> {
    let page = app
        .get(&format!("{TABLE}/records?sort=name"), &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["fields"]["worked"].clone())
        .collect()
}

async fn audit_entries(app: &TestApp) -> usize {
    app.get("/api/v1/audit?page_size=1000", &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .len()
}

api_tests! {
    async fn a_type_change_check_counts_what_saving_clears_and_changes_nothing(app) {
        hours(&app).await;
        let token = app.admin_token.clone();
        let field = format!("{TABLE}/fields/worked");
        let before = values(&app).await;
        let audits = audit_entries(&app).await;
        let change = json!({"type": "number", "options": {"precision": 1}});
        let checked = app.post(&format!("{field}/check"), &token, change.clone()).await.expect(StatusCode::OK).clone();
        assert_eq!(checked["cleared_values"], 2, "八小时 and half cannot be numbers: {checked}");
        assert_eq!(checked["type"], "number", "the field as it would be: {checked}");
        // Nothing changed: the field, its values, the audit log.
        let now = app.get(&field, &token).await.expect(StatusCode::OK).clone();
        assert_eq!(now["type"], "text");
        assert_eq!(values(&app).await, before);
        assert_eq!(audit_entries(&app).await, audits, "a check is not audited");
        // A change that keeps everything says 0; one refused is refused the same way as the change.
        let kept = app.post(&format!("{field}/check"), &token, json!({"type": "long_text"})).await.expect(StatusCode::OK).clone();
        assert_eq!(kept["cleared_values"], 0);
        app.post(&format!("{field}/check"), &token, json!({"type": "no_such_type"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post(&format!("{TABLE}/fields/nothing/check"), &token, json!({"type": "number"}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        // Saving clears exactly what the check said.
        let saved = app.patch(&field, &token, change).await.expect(StatusCode::OK).clone();
        assert_eq!(saved["cleared_values"], checked["cleared_values"]);
        assert_eq!(values(&app).await, vec![json!("8.0"), Value::Null, json!("7.5"), Value::Null, Value::Null]);
        app
    }

    async fn an_option_given_as_null_is_removed_and_a_null_default_clears(app) {
        hours(&app).await;
        let token = app.admin_token.clone();
        let name = format!("{TABLE}/fields/name");
        let set = json!({"options": {"min_length": 2, "max_length": 8, "pattern": "^[a-z0-9]+$"}, "default": "n0"});
        let before = app.patch(&name, &token, set).await.expect(StatusCode::OK).clone();
        assert_eq!(before["options"], json!({"min_length": 2, "max_length": 8, "pattern": "^[a-z0-9]+$"}), "{before}");
        assert_eq!(before["default"], "n0");
        // Only the options given change: max_length stays; min_length and pattern go; the default is cleared.
        let clear = json!({"options": {"min_length": null, "pattern": null}, "default": null});
        let after = app.patch(&name, &token, clear).await.expect(StatusCode::OK).clone();
        assert_eq!(after["options"], json!({"max_length": 8}), "{after}");
        let read = app.get(&name, &token).await.expect(StatusCode::OK).clone();
        assert_eq!(read["options"], json!({"max_length": 8}));
        assert!(read["default"].is_null(), "{read}");
        // A value the removed pattern refused is taken now; the kept bound still applies.
        app.post(&format!("{TABLE}/records"), &token, json!({"fields": {"name": "N 1"}}))
            .await
            .expect(StatusCode::CREATED);
        app.post(&format!("{TABLE}/records"), &token, json!({"fields": {"name": "longer than eight"}}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        // A number's bounds and an attachment's limits clear the same way; an unknown name is still refused.
        let number = app.post(&format!("{TABLE}/fields"), &token, json!({"name": "Hours", "type": "number", "options": {"precision": 1, "min": "0", "max": "24"}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let hours_field = format!("{TABLE}/fields/{}", number["key"].as_str().unwrap());
        let cleared = app.patch(&hours_field, &token, json!({"options": {"min": null, "max": null}})).await.expect(StatusCode::OK).clone();
        assert_eq!(cleared["options"], json!({"precision": 1}), "{cleared}");
        let files = app.post(&format!("{TABLE}/fields"), &token, json!({"name": "Scan", "type": "attachment", "options": {"max_size_mb": 2, "types": ["image/*"]}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let files_field = format!("{TABLE}/fields/{}", files["key"].as_str().unwrap());
        let opened = app.patch(&files_field, &token, json!({"options": {"types": null, "max_size_mb": null}})).await.expect(StatusCode::OK).clone();
        assert_eq!(opened["options"]["max_size_mb"], 20, "the default size: {opened}");
        assert!(opened["options"]["types"].as_array().is_none_or(Vec::is_empty), "{opened}");
        app.patch(&hours_field, &token, json!({"options": {"nope": null}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }
}
