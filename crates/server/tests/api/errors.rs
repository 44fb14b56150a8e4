use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;

api_tests! {
    async fn bad_json_wrong_types_and_unknown_fields_answer_the_error_shape_and_change_nothing(app) {
        let token = app.admin_token.clone();
        let before = app.audit_len().await;
        let raw = |body: &'static str| {
            app.http
                .post(format!("{}/api/v1/members", app.base))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let malformed = crate::Reply::from(raw("{\"name\": \"x\",").await.unwrap()).await;
        malformed.expect_error(StatusCode::BAD_REQUEST, "malformed_json");
        let trailing = crate::Reply::from(raw("{\"name\": \"x\"} extra").await.unwrap()).await;
        trailing.expect_error(StatusCode::BAD_REQUEST, "malformed_json");
        let wrong_type = app.post("/api/v1/members", &token, json!({"name": 42})).await;
        assert_eq!(wrong_type.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "name");
        let unknown = app.post("/api/v1/members", &token, json!({"name": "x", "nickname": "y"})).await;
        assert_eq!(unknown.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "nickname");
        let nested = app.post("/api/v1/members", &token, json!({"name": "x", "department_ids": ["ok", 7]})).await;
        assert_eq!(nested.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "department_ids[1]");
        // A struct is never filled from an array, field by field (serde would take `[null, null]` as an empty patch).
        let array = app.patch(&format!("/api/v1/members/{}", app.owner.id), &token, json!([null, null])).await;
        let error = array.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!((&error["details"][0]["field"], &error["details"][0]["params"]), (&json!("body"), &json!({"expected": "object"})));
        let missing = app.post("/api/v1/members", &token, json!({"email": "a@example.com"})).await;
        assert_eq!(missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "name");
        let invalid = app.post("/api/v1/members", &token, json!({"name": " ", "email": "nope", "department_ids": ["x"]})).await;
        let fields: Vec<_> = invalid.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"]
            .as_array().unwrap().iter().map(|detail| detail["field"].as_str().unwrap().to_owned()).collect();
        assert_eq!(fields, ["name", "email", "department_ids[0]"], "every bad field is reported at once");
        let not_json = crate::Reply::from(
            app.http.post(format!("{}/api/v1/members", app.base)).bearer_auth(&token).header("content-type", "text/plain").body("name=x").send().await.unwrap(),
        ).await;
        not_json.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        assert_eq!(app.audit_len().await, before, "no refused request wrote anything");
        let members = app.get("/api/v1/members", &token).await;
        assert_eq!(members.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1, "only the owner");
        app
    }

    async fn unknown_routes_methods_and_ids_answer_the_error_shape(app) {
        let token = app.admin_token.clone();
        app.get("/api/v1/nothing-here", &token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::PUT, "/api/v1/members", Some(&token), None).await.expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        app.get("/api/v1/members/not-an-id", &token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/members/{}", tenon_model::MemberId::new()), &token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn every_response_carries_a_request_id_and_a_client_id_is_echoed(app) {
        let reply = app.call(Method::GET, "/healthz", None, None).await;
        assert_eq!(reply.expect(StatusCode::OK)["status"], "ok");
        assert!(reply.header("x-request-id").is_some_and(|id| !id.is_empty()));
        let echoed = app.http.get(format!("{}/readyz", app.base)).header("x-request-id", "trace-me-42").send().await.unwrap();
        assert_eq!(echoed.status(), StatusCode::OK);
        assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
        app
    }
}

/// The detail at `field` of an error body, or a panic listing the details there are.
#[track_caller]
fn detail<'a>(error: &'a Value, field: &str) -> &'a Value {
    error["details"]
        .as_array()
        .and_then(|details| details.iter().find(|detail| detail["field"] == field))
        .unwrap_or_else(|| panic!("no detail at {field}: {error}"))
}

/// Every detail has a code from the table, an object of params, a field and an English reason.
#[track_caller]
fn well_formed(error: &Value) {
    assert!(
        tenon_model::ErrorCode::parse(error["code"].as_str().unwrap()).is_some(),
        "{error}"
    );
    assert!(error["params"].is_object(), "{error}");
    for detail in error["details"].as_array().unwrap() {
        let code = detail["code"].as_str().unwrap_or_default();
        let known = tenon_model::DetailCode::parse(code)
            .unwrap_or_else(|| panic!("unknown detail code in {detail}"));
        assert!(
            detail["params"].is_object()
                && detail["field"].is_string()
                && detail["reason"].is_string(),
            "{detail}"
        );
        for key in known.params() {
            assert!(
                detail["params"].get(key).is_some(),
                "{code} without its parameter {key}: {detail}"
            );
        }
    }
}

api_tests! {
    async fn refusals_of_every_area_carry_detail_codes_and_params(app) {
        let token = app.admin_token.clone();
        // Field parsing per type, required, length, pattern, bounds, choices, links.
        app.post("/api/v1/apps", &token, json!({"name": "Duty", "key": "duty"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/duty/tables", &token, json!({"name": "Classes", "key": "classes", "fields": [{"name": "Name", "key": "name", "type": "text"}]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/duty/tables", &token, json!({"name": "Attendance", "key": "attendance", "fields": [
            {"name": "Code", "key": "code", "type": "text", "required": true, "unique": true, "options": {"min_length": 2, "max_length": 5, "pattern": "^[A-Z]+$"}},
            {"name": "Hours", "key": "hours", "type": "number", "options": {"precision": 1, "min": 0, "max": 12}},
            {"name": "State", "key": "state", "type": "single_select", "options": {"choices": ["缺勤 Absent", "出勤 Present"]}},
            {"name": "Day", "key": "day", "type": "date"},
            {"name": "Class", "key": "class", "type": "link", "options": {"table": "classes", "multiple": false}}
        ]})).await.expect(StatusCode::CREATED);
        let records = "/api/v1/apps/duty/tables/attendance/records";
        let refused = app.post(records, &token, json!({"fields": {
            "hours": "12.55", "state": "缺勤", "day": "2026-02-30", "class": "not-an-id", "nope": 1
        }})).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        assert_eq!(detail(&error, "fields.code")["code"], "required");
        assert_eq!(detail(&error, "fields.hours")["code"], "too_precise");
        assert_eq!(detail(&error, "fields.hours")["params"]["scale"], 1);
        assert_eq!(detail(&error, "fields.state")["code"], "unknown_choice");
        assert_eq!(detail(&error, "fields.state")["params"], json!({"value": "缺勤", "choices": ["缺勤 Absent", "出勤 Present"]}));
        assert_eq!(detail(&error, "fields.day")["params"]["format"], "date");
        assert_eq!(detail(&error, "fields.class")["params"]["format"], "id");
        assert_eq!(detail(&error, "fields.nope")["code"], "unknown_field");
        let error = app.post(records, &token, json!({"fields": {"code": "ABCDEF", "hours": 13}})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        assert_eq!((&detail(&error, "fields.code")["code"], &detail(&error, "fields.code")["params"]), (&json!("too_long"), &json!({"max": 5})));
        assert_eq!((&detail(&error, "fields.hours")["code"], &detail(&error, "fields.hours")["params"]), (&json!("too_large"), &json!({"max": "12"})));
        let error = app.post(records, &token, json!({"fields": {"code": "ab"}})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(detail(&error, "fields.code")["params"], json!({"pattern": "^[A-Z]+$"}));
        let missing_class = tenon_model::RecordId::new();
        let error = app.post(records, &token, json!({"fields": {"code": "AB", "class": missing_class.to_string()}})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        assert_eq!((&detail(&error, "fields.class")["code"], &detail(&error, "fields.class")["params"]), (&json!("not_found"), &json!({"what": "record"})));
        app.post(records, &token, json!({"fields": {"code": "AB"}})).await.expect(StatusCode::CREATED);
        let error = app.post(records, &token, json!({"records": [{"fields": {"code": "CD"}}, {"fields": {"code": "AB"}}]})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        assert_eq!(detail(&error, "records[1].fields.code")["code"], "not_unique");
        // Formula diagnostics carry the span.
        let error = app.post("/api/v1/apps/duty/tables/attendance/fields", &token, json!({"name": "Double", "type": "formula", "options": {"formula": "{Hourz} * 2"}})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        let diagnostic = &error["details"][0];
        assert_eq!(diagnostic["code"], "formula_unknown_field");
        assert_eq!((diagnostic["params"]["start"].as_u64(), diagnostic["params"]["end"].as_u64()), (Some(0), Some(7)));
        // Ledger checks.
        app.post("/api/v1/ledger/books", &token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let error = app.post("/api/v1/ledger/books/主账套/vouchers", &token, json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "销售", "account": "1122", "debit": "113.00", "credit": "0"},
            {"summary": "收入", "account": "6001", "debit": "0", "credit": "100.00"}
        ]})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        assert_eq!(detail(&error, "lines[0].dimensions.customer")["params"], json!({"account": "1122", "dimension": "customer"}));
        assert_eq!(detail(&error, "lines[0].dimensions.customer")["code"], "dimension_required");
        let error = app.post("/api/v1/ledger/books/主账套/vouchers", &token, json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "113.00", "credit": "0"},
            {"summary": "收入", "account": "6001", "debit": "0", "credit": "100.00"}
        ]})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(detail(&error, "lines")["code"], "unbalanced");
        assert_eq!(detail(&error, "lines")["params"], json!({"debit": "113.00", "credit": "100.00", "difference": "13.00"}));
        // Directory input and query parameters.
        let error = app.post("/api/v1/members", &token, json!({"name": "", "email": "nope", "department_ids": ["x"]})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        well_formed(&error);
        assert_eq!(detail(&error, "name")["code"], "empty");
        assert_eq!(detail(&error, "email")["params"], json!({"format": "email"}));
        let error = app.get("/api/v1/members?page_size=0", &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        well_formed(&error);
        assert_eq!(detail(&error, "page_size")["params"], json!({"min": 1, "max": 1000}));
        // Login: a wrong password, then the lockout with its retry time.
        let login = |password: &'static str| app.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": app.owner_email, "password": password})));
        let wrong = login("wrong-password-1").await;
        let error = wrong.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials").clone();
        well_formed(&error);
        assert!(wrong.header("www-authenticate").is_some(), "every 401 carries a challenge");
        let mut locked = None;
        for _ in 0..10 {
            let reply = login("wrong-password-1").await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                locked = Some(reply);
                break;
            }
        }
        let locked = locked.expect("repeated failures lock the address");
        let error = locked.expect_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").clone();
        well_formed(&error);
        assert_eq!(error["params"]["retry_after"].as_i64().map(|s| s.to_string()), locked.header("retry-after").map(str::to_owned));
        // Rate limits and scopes.
        let limited = crate::token_for(&app.store, &app.org, tenon_model::ScopeSet::parse(["records:read"]).unwrap(), Some("1/h,burst=1")).await;
        app.get(records, &limited).await.expect(StatusCode::OK);
        let reply = app.get(records, &limited).await;
        let error = reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited").clone();
        well_formed(&error);
        assert_eq!(error["params"]["retry_after"].as_u64().map(|s| s.to_string()), reply.header("retry-after").map(str::to_owned));
        let reader = app.token(&["records:read"]).await;
        let reply = app.post(records, &reader, json!({"fields": {"code": "EF"}})).await;
        let error = reply.expect_error(StatusCode::FORBIDDEN, "insufficient_scope").clone();
        assert_eq!(error["params"], json!({"scope": "records:write"}));
        assert!(reply.header("www-authenticate").is_some_and(|challenge| challenge.contains("insufficient_scope")));
        let directory_writer = app.token(&["directory:write", "directory:read"]).await;
        let reply = app.patch(&format!("/api/v1/members/{}", app.owner.id), &directory_writer, json!({"role": "member"})).await;
        let error = reply.expect_error(StatusCode::FORBIDDEN, "insufficient_scope").clone();
        well_formed(&error);
        assert!(reply.header("www-authenticate").is_some(), "the admin-only 403 carries its challenge too");
        app
    }
}

/// `docs/errors.md` is rendered from the error table, so every code is documented and the page never
/// drifts. Regenerate with `UPDATE_DOCS=1 cargo test -p tenon-server --test api errors::`.
#[test]
fn committed_error_table_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
    let generated = tenon_model::errors::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/errors.md is out of date; run UPDATE_DOCS=1 cargo test -p tenon-server --test api errors::"
    );
    for code in tenon_model::ErrorCode::ALL {
        assert!(
            committed.contains(&format!("| `{}` |", code.as_str())),
            "{} is undocumented",
            code.as_str()
        );
    }
    for code in tenon_model::DetailCode::ALL {
        assert!(
            committed.contains(&format!("| `{}` |", code.as_str())),
            "{} is undocumented",
            code.as_str()
        );
    }
}

/// The error table has no dead entries, and the tests expect only codes it has: every error code and
/// detail code is named somewhere in the product's source, and every code a test expects is in the table.
#[test]
fn every_table_entry_is_used_and_every_expected_code_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut product = String::new();
    let mut tests = String::new();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let under_tests = path.components().any(|part| part.as_os_str() == "tests");
                if path.ends_with("model/src/errors.rs") {
                    continue;
                }
                if under_tests {
                    tests.push_str(&text)
                } else {
                    product.push_str(&text)
                }
            }
        }
    }
    let variant = |code: &str| -> String {
        code.split('_')
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    for code in tenon_model::ErrorCode::ALL {
        let name = format!("ErrorCode::{}", variant(code.as_str()));
        assert!(
            product.contains(&name),
            "{name} is in the table but nothing answers it"
        );
    }
    for code in tenon_model::DetailCode::ALL {
        let name = format!("DetailCode::{}", variant(code.as_str()));
        assert!(
            product.contains(&name),
            "{name} is in the table but nothing uses it"
        );
    }
    // `expect_error(StatusCode::X, "…")` and `["code"], "…")`: the quoted word right after.
    let quoted_after = |marker: &str, skip_status: bool| -> Vec<String> {
        tests
            .split(marker)
            .skip(1)
            .filter_map(|rest| {
                let rest = rest.trim_start();
                let rest = if skip_status {
                    rest.strip_prefix("StatusCode::")?
                        .split_once(',')?
                        .1
                        .trim_start()
                } else {
                    rest
                };
                rest.strip_prefix('"')?.split('"').next().map(str::to_owned)
            })
            .filter(|word| {
                !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
            .collect()
    };
    let expected = quoted_after("expect_error(", true);
    assert!(
        expected.len() > 50,
        "the scan finds the tests' expectations"
    );
    for code in expected {
        assert!(
            tenon_model::ErrorCode::parse(&code).is_some(),
            "a test expects {code}, which the error table lacks"
        );
    }
    for code in quoted_after("[\"code\"], ", false) {
        assert!(
            tenon_model::DetailCode::parse(&code).is_some()
                || tenon_model::ErrorCode::parse(&code).is_some(),
            "a test expects the code {code}, which the error table lacks"
        );
    }
}

api_tests! {
    async fn the_test_clock_without_the_flag_is_404_to_every_caller(app) {
        // The API tests' server runs without `--test-clock`: the route does not exist for anyone —
        // no credentials, wrong credentials, a credential without `admin`, or one with it.
        let reader = crate::token_for(&app.store, &app.org, tenon_model::ScopeSet::parse(["directory:read"]).unwrap(), None).await;
        let audit = app.audit_len().await;
        for token in [None, Some("tnp_not_a_token"), Some(reader.as_str()), Some(app.admin_token.as_str())] {
            for (method, body) in [(Method::GET, None), (Method::POST, Some(json!({"now": "2030-01-01T00:00:00Z"}))), (Method::POST, Some(json!({"now": "tomorrow"})))] {
                let reply = app.call(method.clone(), "/api/v1/_test/clock", token, body.clone()).await;
                reply.expect_error(StatusCode::NOT_FOUND, "not_found");
                assert_eq!(reply.header("www-authenticate"), None, "{method} {token:?} {body:?}");
            }
        }
        assert_eq!(app.audit_len().await, audit);
        assert_eq!(app.store.now(), crate::clock_start(), "the clock did not move");
        app
    }
}
