//! The OpenAPI document: valid, complete, and true about scopes.

use std::collections::{BTreeSet, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenon_model::Scope;

use crate::api_tests;
use crate::isolation::{body_for, operations};

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.insert(reference.clone());
            }
            map.values().for_each(|value| collect_refs(value, refs));
        }
        Value::Array(items) => items.iter().for_each(|value| collect_refs(value, refs)),
        _ => {}
    }
}

/// Every handler annotated for the document is registered, and no route bypasses the registration.
#[test]
fn every_annotated_handler_is_registered_and_no_route_is_added_outside_the_document() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut annotated = 0;
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            annotated += text.matches("#[utoipa::path(").count();
            assert!(
                !text.contains(".route("),
                "{} adds a route outside the OpenAPI registration",
                path.display()
            );
        }
    }
    let doc = tenon_server::openapi();
    let documented: usize = doc
        .paths
        .paths
        .values()
        .map(|item| {
            [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .iter()
                .filter(|op| op.is_some())
                .count()
        })
        .sum();
    assert_eq!(
        documented, annotated,
        "every #[utoipa::path] handler must be in routes::api()"
    );
}

api_tests! {
    async fn document_is_openapi_3_1_with_resolvable_refs_unique_operation_ids_and_declared_parameters(app) {
        let doc = app.call(Method::GET, "/openapi.json", None, None).await.expect(StatusCode::OK).clone();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Tenon API");
        assert_eq!(doc["info"]["license"]["name"], "Apache-2.0");
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        assert!(schemes.contains_key("bearer") && schemes.contains_key("session"));
        let mut refs = BTreeSet::new();
        collect_refs(&doc, &mut refs);
        for reference in &refs {
            let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected ref {reference}"));
            assert!(doc["components"]["schemas"][name].is_object(), "{reference} does not resolve");
        }
        let mut operation_ids = HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
                let responses = operation["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{method} {path} documents no response");
                for (status, response) in responses {
                    assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status} has no description");
                }
                for security in operation["security"].as_array().into_iter().flatten() {
                    for scheme in security.as_object().unwrap().keys() {
                        assert!(schemes.contains_key(scheme), "{method} {path} uses unknown scheme {scheme}");
                    }
                    for scope in security.as_object().unwrap().values().flat_map(|s| s.as_array().unwrap().clone()) {
                        scope.as_str().unwrap().parse::<Scope>().unwrap_or_else(|_| panic!("{method} {path}: unknown scope {scope}"));
                    }
                }
                let declared: Vec<&str> = operation["parameters"].as_array().into_iter().flatten()
                    .filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect();
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = segment.trim_matches(|c| c == '{' || c == '}');
                    assert!(declared.contains(&name), "{method} {path} does not declare path parameter {name}");
                }
            }
        }
        // The API reference renders from the same document without any outside resource.
        let page = app.http.get(format!("{}/docs/", app.base)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(!html.contains("https://"), "the reference page must not load anything from the network");
        app
    }

    async fn every_documented_route_answers_and_enforces_the_scope_it_documents(app) {
        // Public form routes need a real form link; every other parameter names nothing that exists.
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "Sweep", "key": "sweep"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/sweep/tables", &app.admin_token, json!({"name": "T", "key": "t", "fields": [{"name": "Title", "key": "title", "type": "text"}]}))
            .await
            .expect(StatusCode::CREATED);
        let form = app
            .post("/api/v1/apps/sweep/tables/t/views", &app.admin_token, json!({"name": "Form", "type": "form", "config": {"fields": ["title"], "public": true}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let slug = form["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        // A webhook flow's hook is public too.
        let hooked = app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "hooked", "name": "Hooked",
            "tables": [{"key": "t", "name": "T", "fields": [{"key": "title", "name": "Title", "type": "text"}]}],
            "flows": [{"key": "hooked", "trigger": {"webhook": {}}, "steps": [{"key": "f", "type": "find", "table": "t"}]}]
        })).await.expect(StatusCode::CREATED).clone();
        let hook = hooked["flows"][0]["hook_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        // A record link's token is public too.
        let record = app.post("/api/v1/apps/sweep/tables/t/records", &app.admin_token, json!({"fields": {"title": "x"}})).await.expect(StatusCode::CREATED).clone();
        let shared = app
            .post(&format!("/api/v1/apps/sweep/tables/t/records/{}/share", record["id"].as_str().unwrap()), &app.admin_token, json!({"fields": ["title"], "mode": "edit"}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let share_token = shared["token"].as_str().unwrap().to_owned();
        // And a published grid's.
        let published = app
            .post("/api/v1/apps/sweep/tables/t/views", &app.admin_token, json!({"name": "Board", "type": "grid", "config": {"public": {"enabled": true}}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let view_slug = published["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let mut checked = 0;
        for (method, path, security) in operations(&app).await {
            // The test clock exists only under `tenon serve --test-clock`; without it (as here) it is 404 to
            // every caller (`errors::the_test_clock_without_the_flag_is_404_to_every_caller`), and the CLI
            // tests drive it with the flag.
            if path == "/api/v1/_test/clock" {
                continue;
            }
            let slug = if path.starts_with("/api/v1/hooks/") {
                &hook
            } else if path.starts_with("/api/v1/public-views/") {
                &view_slug
            } else {
                &slug
            };
            let mut concrete = path.replace("{slug}", slug).replace("{period}", "2026-10");
            concrete = concrete.replace("{corpId}", &app.org.id.to_string());
            concrete = concrete.replace("{unionId}", "me");
            concrete = concrete.replace("{dimension}", "customer");
            concrete = concrete.replace("{kind}", "balance-sheet");
            concrete = concrete.replace("{token}", &share_token);
            for param in ["{id}", "{app}", "{table}", "{field}", "{view}", "{book}", "{code}", "{key}", "{flow}", "{step}", "{value}", "{share}"] {
                concrete = concrete.replace(param, &tenon_model::MemberId::new().to_string());
            }
            assert!(!concrete.contains('{'), "{path} has a path parameter this test does not fill");
            let Some(requirements) = security.as_array() else {
                // Public routes answer without credentials (never 401 / 404 / 405).
                let reply = app.call(method.clone(), &concrete, None, body_for(&method)).await;
                assert!(![StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&reply.status), "{method} {path}: {}", reply.status);
                continue;
            };
            // The DingTalk oapi family: the token in `?access_token=`, every answer HTTP 200 with `errcode`.
            if let Some(dingtalk) = requirements.iter().find_map(|r| r.get("dingtalk_query")) {
                let scope: Scope = dingtalk[0].as_str().unwrap().parse().unwrap();
                let with_token = |token: &str| format!("{concrete}?access_token={token}");
                crate::dingtalk::oapi_error(&app.call(method.clone(), &concrete, None, body_for(&method)).await, 88);
                crate::dingtalk::oapi_error(&app.call(method.clone(), &with_token("tna_nothing"), None, body_for(&method)).await, 88);
                let all_but: Vec<&str> = Scope::ALL.iter().filter(|s| **s != scope && **s != Scope::Admin).map(|s| s.as_str()).collect();
                let without = app.token(&all_but).await;
                crate::dingtalk::oapi_error(&app.call(method.clone(), &with_token(&without), None, body_for(&method)).await, 60011);
                let with = app.token(&[scope.as_str()]).await;
                let reply = app.call(method.clone(), &with_token(&with), None, body_for(&method)).await;
                assert_eq!(reply.status, StatusCode::OK, "{method} {path}");
                assert!(![88, 60011].contains(&reply.body["errcode"].as_i64().unwrap()), "{method} {path} with {scope}: {}", reply.body);
                checked += 1;
                continue;
            }
            // The DingTalk v1.0 family: the token in `x-acs-dingtalk-access-token`, errors `{"code", …}`.
            if let Some(dingtalk) = requirements.iter().find_map(|r| r.get("dingtalk_header")) {
                let scope: Scope = dingtalk[0].as_str().unwrap().parse().unwrap();
                let send = |token: Option<String>| {
                    let mut request = app.http.request(method.clone(), format!("{}{concrete}", app.base)).json(&json!({}));
                    if let Some(token) = token {
                        request = request.header("x-acs-dingtalk-access-token", token);
                    }
                    async move { crate::Reply::from(request.send().await.unwrap()).await }
                };
                crate::dingtalk::v1_error(&send(None).await, StatusCode::BAD_REQUEST, "AuthenticationFailed.MissingParameter");
                crate::dingtalk::v1_error(&send(Some("tna_nothing".to_owned())).await, StatusCode::BAD_REQUEST, "InvalidAuthentication");
                let all_but: Vec<&str> = Scope::ALL.iter().filter(|s| **s != scope && **s != Scope::Admin).map(|s| s.as_str()).collect();
                let without = app.token(&all_but).await;
                crate::dingtalk::v1_error(&send(Some(without)).await, StatusCode::FORBIDDEN, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
                let reply = send(Some(app.token(&[scope.as_str()]).await)).await;
                let code = reply.body["code"].as_str().unwrap_or("");
                assert!(!["AuthenticationFailed.MissingParameter", "InvalidAuthentication", "Forbidden.AccessDenied.AccessTokenPermissionDenied"].contains(&code), "{method} {path} with {scope}: {}", reply.body);
                checked += 1;
                continue;
            }
            let bearer = requirements
                .iter()
                .find_map(|r| r.get("bearer").or_else(|| r.get("session")))
                .unwrap_or_else(|| panic!("{method} {path} has no security requirement"));
            let scopes: Vec<Scope> = bearer.as_array().unwrap().iter().map(|s| s.as_str().unwrap().parse().unwrap()).collect();
            // Without credentials: 401.
            app.call(method.clone(), &concrete, None, body_for(&method)).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
            match scopes.as_slice() {
                [] => {
                    let token = app.token(&["ledger:read"]).await;
                    let reply = app.call(method.clone(), &concrete, Some(&token), body_for(&method)).await;
                    assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&reply.status), "{method} {path}: {}", reply.body);
                }
                [scope] => {
                    let all_but: Vec<&str> = Scope::ALL.iter().filter(|s| *s != scope && **s != Scope::Admin).map(|s| s.as_str()).collect();
                    let without = app.token(&all_but).await;
                    let reply = app.call(method.clone(), &concrete, Some(&without), body_for(&method)).await;
                    reply.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
                    let with = app.token(&[scope.as_str()]).await;
                    let reply = app.call(method.clone(), &concrete, Some(&with), body_for(&method)).await;
                    assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::METHOD_NOT_ALLOWED].contains(&reply.status), "{method} {path} with {scope}: {}", reply.body);
                }
                more => panic!("{method} {path} documents several scopes {more:?}; the test expects one"),
            }
            checked += 1;
        }
        assert!(checked >= 40, "only {checked} routes checked");
        app
    }
}

/// `docs/openapi.json` is the document the server generates, so API changes show in review.
/// Regenerate with `TENON_UPDATE_OPENAPI=1 cargo test -p tenon-server --test api committed_openapi`.
#[test]
fn committed_openapi_document_is_current() {
    let generated = serde_json::to_string_pretty(&tenon_server::openapi()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("TENON_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date; run TENON_UPDATE_OPENAPI=1 cargo test -p tenon-server --test api committed_openapi"
    );
}

/// Every status an operation can answer is documented with the error body: 405, 408 and 503 everywhere
/// (but 503 on `/healthz`, which touches nothing), 401/403/429 where credentials are needed, 404 with path
/// parameters, 400 with query parameters, 400/413/415 with a body and 422 with a JSON body or a `filter`;
/// every success but 204 documents its media types with a schema.
#[test]
fn every_operation_documents_every_status_it_can_answer_with_its_body() {
    let doc = serde_json::to_value(tenon_server::openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let responses = operation["responses"].as_object().unwrap();
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let has = |place: &str| parameters.iter().any(|p| p["in"] == place);
            let body = operation["requestBody"]["content"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            // The DingTalk facade (#21): oapi answers everything with HTTP 200 and `errcode`; v1.0 errors are
            // `{"code", "message", "requestid"}` (400 for token errors, never 401/415/422).
            if path == "/gettoken" || path.starts_with("/topapi/") {
                let statuses: Vec<&String> = responses.keys().collect();
                assert_eq!(
                    statuses,
                    ["200"],
                    "{method} {path}: oapi answers only HTTP 200"
                );
                checked += 1;
                continue;
            }
            if path.starts_with("/v1.0/") && path != "/v1.0/gateway/connections/open" {
                let mut expected = vec!["405", "408", "503"];
                if secured {
                    expected.extend(["400", "403", "429"]);
                }
                if has("path") {
                    expected.push("404");
                }
                if !body.is_empty() {
                    expected.extend(["400", "413"]);
                }
                for status in expected {
                    let reference = &responses
                        .get(status)
                        .unwrap_or_else(|| panic!("{method} {path} does not document {status}"))["content"]
                        ["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        reference, "#/components/schemas/V1ErrorBody",
                        "{method} {path} {status}"
                    );
                }
                checked += 1;
                continue;
            }
            let mut expected = vec!["405", "408"];
            if path != "/healthz" {
                expected.push("503");
            }
            if secured {
                expected.extend(["401", "403", "429"]);
            }
            if has("path") {
                expected.push("404");
            }
            if has("query") || (!body.is_empty() && path != "/api/v1/oauth/token") {
                expected.push("400");
            }
            // A select compared with a value that is none of its choices is 422 (#15 §4).
            if parameters
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == "filter")
            {
                expected.push("422");
            }
            if !body.is_empty() {
                expected.push("413");
                if path != "/api/v1/oauth/token" {
                    expected.push("415");
                    if body.keys().any(|kind| kind.contains("json")) {
                        expected.push("422");
                    }
                }
            }
            for status in expected {
                let response = responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
                let content = &response["content"];
                assert!(
                    content["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("ErrorBody") || r.ends_with("OAuthErrorBody")),
                    "{method} {path} {status} has no error body: {response}"
                );
            }
            // A success with a body documents its media types, each with a schema.
            for (status, response) in responses {
                if status.starts_with('2') && status != "204" {
                    let content = response["content"].as_object().unwrap_or_else(|| {
                        panic!("{method} {path} {status} documents no body: {response}")
                    });
                    assert!(
                        !content.is_empty(),
                        "{method} {path} {status}: no media type"
                    );
                    for (media, entry) in content {
                        assert!(
                            entry["schema"].is_object(),
                            "{method} {path} {status} {media} has no schema"
                        );
                    }
                }
            }
            if secured {
                assert!(
                    responses["401"]["headers"]
                        .get("WWW-Authenticate")
                        .is_some(),
                    "{method} {path}: 401 without WWW-Authenticate"
                );
                assert!(
                    responses["429"]["headers"].get("Retry-After").is_some(),
                    "{method} {path}: 429 without Retry-After"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 90, "every operation was checked ({checked})");
}
