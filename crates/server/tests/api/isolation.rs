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

/// The smallest valid body of a route, so that only the object's existence can fail the request.
pub fn valid_body_for(method: &Method, path: &str) -> Option<Value> {
    let body = match (method.as_str(), path.rsplit('/').next().unwrap_or("")) {
        ("POST", "tables") => json!({"name": "x"}),
        ("POST", "fields") => json!({"name": "x", "type": "text"}),
        ("POST", "records") => json!({"fields": {}}),
        ("PATCH", "records") => json!({"records": []}),
        ("DELETE", "records") => json!({"ids": []}),
        ("PATCH", "{id}") if path.contains("/records/") => json!({"fields": {}}),
        ("POST" | "PATCH" | "PUT", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

api_tests! {
    async fn token_of_another_organization_gets_404_for_every_object_on_every_route(app) {
        let (other, other_owner, other_admin) = app.other_org().await;
        let department = app.post("/api/v1/departments", &other_admin, json!({"name": "B only"})).await.expect(StatusCode::CREATED).clone();
        let member = app.post("/api/v1/members", &other_admin, json!({"name": "B member", "department_ids": [department["id"]]})).await.expect(StatusCode::CREATED).clone();
        let token = app.post("/api/v1/tokens", &other_admin, json!({"name": "B token", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let client = app.post("/api/v1/clients", &other_admin, json!({"name": "B app", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let b_app = app.post("/api/v1/apps", &other_admin, json!({"name": "B app", "key": "b_app"})).await.expect(StatusCode::CREATED).clone();
        let b_table = app
            .post("/api/v1/apps/b_app/tables", &other_admin, json!({"name": "B table", "key": "b_table", "fields": [{"name": "Title", "key": "title", "type": "text"}]}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let b_record = app
            .post("/api/v1/apps/b_app/tables/b_table/records", &other_admin, json!({"fields": {"title": "secret of B"}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let b_file = crate::Reply::from(
            app.http
                .post(format!("{}/api/v1/attachments?filename=b.txt", app.base))
                .bearer_auth(&other_admin)
                .header("content-type", "text/plain")
                .body("B's secret file")
                .send()
                .await
                .unwrap(),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
        let text = |value: &Value| value.as_str().unwrap().to_owned();
        // Every way a path may name an object of B: by id, and by key where keys are accepted.
        let substitutions = |path: &str| -> Vec<String> {
            let resource = path.split('/').nth(3).unwrap();
            let objects: Vec<String> = match resource {
                "members" => vec![text(&member["id"]), other_owner.id.to_string()],
                "departments" => vec![text(&department["id"]), other.root_department_id.to_string()],
                "tokens" => vec![text(&token["id"])],
                "installations" => vec![text(&client["id"])],
                "apps" => vec![text(&b_app["id"]), "b_app".to_owned()],
                "attachments" => vec![text(&b_file["id"])],
                other => panic!("a route under /api/v1/{other} with a path parameter is not covered by this test; add it"),
            };
            objects
                .into_iter()
                .map(|object| {
                    if resource != "apps" {
                        return path.replace("{id}", &object);
                    }
                    let by_key = object == "b_app";
                    path.replace("{app}", &object)
                        .replace("{table}", if by_key { "b_table" } else { b_table["id"].as_str().unwrap() })
                        .replace("{field}", if by_key { "title" } else { b_table["fields"][0]["id"].as_str().unwrap() })
                        .replace("{id}", b_record["id"].as_str().unwrap())
                })
                .collect()
        };
        let before = app.audit_len().await;
        let mut checked = 0;
        for (method, path, _) in crate::isolation::operations(&app).await {
            if !path.contains('{') {
                continue;
            }
            for concrete in substitutions(&path) {
                let reply = app.call(method.clone(), &concrete, Some(&app.admin_token), valid_body_for(&method, &path)).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {concrete}: {}", reply.body);
                reply.expect_error(StatusCode::NOT_FOUND, "not_found");
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} requests checked");
        assert_eq!(app.audit_len().await, before, "nothing was written in A");

        // B's objects are untouched.
        let fetched = app.get(&format!("/api/v1/members/{}", member["id"].as_str().unwrap()), &other_admin).await;
        assert_eq!(fetched.expect(StatusCode::OK), &member);
        let token_meta = app.get(&format!("/api/v1/tokens/{}", token["id"].as_str().unwrap()), &other_admin).await;
        assert!(token_meta.expect(StatusCode::OK)["revoked_at"].is_null());

        // And A's lists never mention them.
        let b_ids = [member["id"].as_str().unwrap().to_owned(), department["id"].as_str().unwrap().to_owned(),
            token["id"].as_str().unwrap().to_owned(), client["id"].as_str().unwrap().to_owned(), other_owner.id.to_string(), other.id.to_string(),
            b_app["id"].as_str().unwrap().to_owned(), b_table["id"].as_str().unwrap().to_owned(), b_record["id"].as_str().unwrap().to_owned()];
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
