//! Tenant isolation, proven over every documented route: a credential of organization A never sees,
//! changes or even confirms the existence of an object of organization B.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;

/// Every (method, path) of the OpenAPI document with its security requirement.
pub async fn operations(app: &crate::TestApp) -> Vec<(Method, String, Value)> {
    let doc = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .expect(StatusCode::OK)
        .clone();
    let mut operations = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations.push((method, path.clone(), operation["security"].clone()));
        }
    }
    operations
}

pub fn body_for(method: &Method) -> Option<Value> {
    matches!(*method, Method::POST | Method::PATCH | Method::PUT).then(|| json!({}))
}

api_tests! {
    async fn token_of_another_organization_gets_404_for_every_object_on_every_route(app) {
        let (other, other_owner, other_admin) = app.other_org().await;
        let department = app.post("/api/v1/departments", &other_admin, json!({"name": "B only"})).await.expect(StatusCode::CREATED).clone();
        let member = app.post("/api/v1/members", &other_admin, json!({"name": "B member", "department_ids": [department["id"]]})).await.expect(StatusCode::CREATED).clone();
        let token = app.post("/api/v1/tokens", &other_admin, json!({"name": "B token", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let client = app.post("/api/v1/clients", &other_admin, json!({"name": "B app", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let ids = |kind: &str| -> Vec<String> {
            match kind {
                "members" => vec![member["id"].as_str().unwrap().to_owned(), other_owner.id.to_string()],
                "departments" => vec![department["id"].as_str().unwrap().to_owned(), other.root_department_id.to_string()],
                "tokens" => vec![token["id"].as_str().unwrap().to_owned()],
                "installations" => vec![client["id"].as_str().unwrap().to_owned()],
                other => panic!("a route with an id of kind {other} is not covered by this test; add it"),
            }
        };
        let before = app.audit_len().await;
        let mut checked = 0;
        for (method, path, _) in crate::isolation::operations(&app).await {
            if !path.contains("{id}") {
                continue;
            }
            let kind = path.split('/').nth(3).unwrap();
            for id in ids(kind) {
                let concrete = path.replace("{id}", &id);
                let reply = app.call(method.clone(), &concrete, Some(&app.admin_token), body_for(&method)).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {concrete}: {}", reply.body);
                reply.expect_error(StatusCode::NOT_FOUND, "not_found");
                checked += 1;
            }
        }
        assert!(checked >= 18, "only {checked} requests checked");
        assert_eq!(app.audit_len().await, before, "nothing was written in A");

        // B's objects are untouched.
        let fetched = app.get(&format!("/api/v1/members/{}", member["id"].as_str().unwrap()), &other_admin).await;
        assert_eq!(fetched.expect(StatusCode::OK), &member);
        let token_meta = app.get(&format!("/api/v1/tokens/{}", token["id"].as_str().unwrap()), &other_admin).await;
        assert!(token_meta.expect(StatusCode::OK)["revoked_at"].is_null());

        // And A's lists never mention them.
        let b_ids = [member["id"].as_str().unwrap().to_owned(), department["id"].as_str().unwrap().to_owned(),
            token["id"].as_str().unwrap().to_owned(), client["id"].as_str().unwrap().to_owned(), other_owner.id.to_string(), other.id.to_string()];
        for (method, path, _) in crate::isolation::operations(&app).await {
            if method != Method::GET || path.contains('{') {
                continue;
            }
            let reply = app.get(&path, &app.admin_token).await;
            let text = reply.body.to_string();
            for id in &b_ids {
                assert!(!text.contains(id.as_str()), "GET {path} shows {id} of another organization");
            }
        }
        app
    }
}
