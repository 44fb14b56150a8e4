//! No silent wrong answers (#15 §4): a select compared with a value that is none of its choices, an
//! unknown query parameter, a body over the limit and a missing query parameter are refused in Tenon's
//! words, and a parameter with a sensible default takes it.

use chrono::{TimeZone as _, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

async fn attendance(app: &TestApp) {
    let token = &app.admin_token;
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "Duty", "key": "duty"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/duty/tables", token, json!({"name": "Attendance", "key": "attendance", "fields": [
        {"name": "Student", "key": "student", "type": "text"},
        {"name": "State", "key": "state", "type": "single_select", "options": {"choices": ["缺勤 Absent", "出勤 Present"]}},
        {"name": "Tags", "key": "tags", "type": "multi_select", "options": {"choices": ["迟到 Late", "早退 Early"]}}
    ]}))
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/duty/tables/attendance/records",
        token,
        json!({"records": [
            {"fields": {"student": "李雷", "state": "缺勤 Absent", "tags": ["迟到 Late"]}},
            {"fields": {"student": "韩梅梅", "state": "出勤 Present"}}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
}

fn encoded(filter: &Value) -> String {
    form_urlencoded::byte_serialize(filter.to_string().as_bytes()).collect()
}

api_tests! {
    async fn a_select_compared_with_a_value_that_is_not_a_choice_is_422_listing_the_choices(app) {
        attendance(&app).await;
        let token = app.admin_token.clone();
        let records = "/api/v1/apps/duty/tables/attendance/records";
        let aggregate = "/api/v1/apps/duty/tables/attendance/aggregate";
        for filter in [
            json!({"field": "state", "op": "eq", "value": "缺勤"}),
            json!({"and": [{"field": "student", "op": "contains", "value": "李"}, {"field": "state", "op": "in", "value": ["出勤 Present", "缺勤"]}]}),
        ] {
            for route in [records, aggregate] {
                let reply = app.get(&format!("{route}?filter={}", encoded(&filter)), &token).await;
                let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
                let detail = &error["details"][0];
                assert_eq!(detail["code"], "unknown_choice", "{error}");
                assert_eq!(detail["params"], json!({"value": "缺勤", "choices": ["缺勤 Absent", "出勤 Present"]}));
                assert!(detail["reason"].as_str().unwrap().contains("\"state\""), "the reason names the field: {detail}");
            }
        }
        let multi = json!({"field": "tags", "op": "has_any", "value": ["迟到"]});
        let error = app.get(&format!("{records}?filter={}", encoded(&multi)), &token).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["params"]["choices"], json!(["迟到 Late", "早退 Early"]));
        // The exact name still finds the absence.
        let exact = json!({"field": "state", "op": "eq", "value": "缺勤 Absent"});
        let found = app.get(&format!("{records}?filter={}", encoded(&exact)), &token).await.expect(StatusCode::OK).clone();
        assert_eq!(found["items"].as_array().unwrap().len(), 1);
        let counted = app.get(&format!("{aggregate}?filter={}", encoded(&exact)), &token).await.expect(StatusCode::OK).clone();
        assert_eq!(counted["groups"][0]["count"], 1, "{counted}");
        app
    }

    async fn an_unknown_query_parameter_is_400_naming_it_and_the_known_ones(app) {
        attendance(&app).await;
        let token = app.admin_token.clone();
        let filter = encoded(&json!({"field": "state", "op": "eq", "value": "出勤 Present"}));
        for (path, known) in [
            ("/api/v1/apps/duty/tables/attendance/records", "filter"),
            ("/api/v1/apps/duty/tables/attendance/aggregate", "group_by"),
            ("/api/v1/apps/duty/tables/attendance/export", "format"),
            ("/api/v1/members", "page_size"),
        ] {
            for unknown in ["fliter", "filterByFormula"] {
                let reply = app.get(&format!("{path}?page_size=1&{unknown}={filter}"), &token).await;
                // `page_size` is not a parameter of every route: the first unknown one is named.
                let error = reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
                let detail = &error["details"][0];
                assert_eq!(detail["code"], "unknown_parameter", "{error}");
                let allowed: Vec<&str> = detail["params"]["allowed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                assert!(allowed.contains(&known), "{path}: {error}");
                let named = detail["field"].as_str().unwrap();
                assert!(named == unknown || (named == "page_size" && !allowed.contains(&"page_size")), "{path}: {error}");
                assert!(error["message"].as_str().unwrap().contains(named), "{error}");
            }
        }
        // A documented parameter is taken, and the whole table is not answered for a misspelt one.
        let filtered = app.get(&format!("/api/v1/apps/duty/tables/attendance/records?filter={filter}"), &token).await.expect(StatusCode::OK).clone();
        assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
        app
    }

    async fn a_missing_or_malformed_query_parameter_is_answered_in_tenons_words(app) {
        let token = app.admin_token.clone();
        app.post("/api/v1/ledger/books", &token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let error = app.get("/api/v1/ledger/books/主账套/account-detail?from=2026-10&to=2026-10", &token).await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert_eq!(error["message"], "query parameter account: is required");
        assert_eq!((&error["details"][0]["field"], &error["details"][0]["code"]), (&json!("account"), &json!("required")));
        let error = app.get("/api/v1/members?page_size=many", &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert_eq!(error["message"], "query parameter page_size: must be a whole number");
        assert!(!error.to_string().contains("missing field"), "no serde wording: {error}");
        app
    }

    async fn receivables_aging_is_as_of_today_in_the_organizations_zone_by_default(app) {
        let token = app.admin_token.clone();
        app.post("/api/v1/ledger/books", &token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        // 20:00 UTC on 30 November is already 1 December in Shanghai, the organization's zone.
        app.clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 20, 0, 0).unwrap());
        let aging = app.get("/api/v1/ledger/books/主账套/receivables-aging", &token).await.expect(StatusCode::OK).clone();
        assert_eq!(aging["as_of"], "2026-12-01", "{aging}");
        let error = app.get("/api/v1/ledger/books/主账套/receivables-aging?as_of=yesterday", &token).await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert_eq!((&error["details"][0]["field"], &error["details"][0]["params"]), (&json!("as_of"), &json!({"format": "date"})));
        app
    }
}

/// A body over the configured limit is 413 in the error shape, with the limit in `params.limit`, on JSON
/// routes and on raw-body routes (CSV import) alike, and changes nothing.
async fn a_body_over_the_configured_limit_is_413_with_the_limit(
    backend: tenon_store::testing::TestBackend,
) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let app = TestApp::spawn(
        &database,
        tenon_server::ServerConfig {
            secure_cookies: false,
            max_body_bytes: 4096,
            ..tenon_server::ServerConfig::default()
        },
    )
    .await;
    attendance(&app).await;
    let before = app.audit_len().await;
    let big = "x".repeat(5000);
    let reply = app
        .post("/api/v1/members", &app.admin_token, json!({"name": big}))
        .await;
    let error = reply
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        .clone();
    assert_eq!(error["params"], json!({"limit": 4096}));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let csv = format!("student\n{}\n", "y".repeat(5000));
    let reply = crate::Reply::from(
        app.http
            .post(format!(
                "{}/api/v1/apps/duty/tables/attendance/import",
                app.base
            ))
            .bearer_auth(&app.admin_token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")["params"]["limit"],
        4096
    );
    // A body under the limit goes through.
    app.post(
        "/api/v1/members",
        &app.admin_token,
        crate::member_body("Small"),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(
        app.audit_len().await,
        before + 1,
        "only the small body wrote"
    );
    app.stop().await;
    database.cleanup().await;
}

mod body_limit {
    #[tokio::test]
    async fn sqlite() {
        super::a_body_over_the_configured_limit_is_413_with_the_limit(
            tenon_store::testing::TestBackend::Sqlite,
        )
        .await;
    }
    #[tokio::test]
    async fn postgres() {
        super::a_body_over_the_configured_limit_is_413_with_the_limit(
            tenon_store::testing::TestBackend::Postgres,
        )
        .await;
    }
}
