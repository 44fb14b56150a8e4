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
}
