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
        ("POST", "views") | ("PATCH", "{view}") => json!({"name": "x", "type": "grid"}),
        ("POST", "accounts") if path.starts_with("/api/v1/ledger/") => {
            json!({"code": "100199", "name": "x", "kind": "asset", "direction": "debit"})
        }
        ("POST", "vouchers") if path.starts_with("/api/v1/ledger/") => {
            json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "s", "account": "1001", "debit": "1.00", "credit": "0"},
            {"summary": "s", "account": "6001", "debit": "0", "credit": "1.00"}]})
        }
        ("POST", "close" | "reopen")
            if path.starts_with("/api/v1/ledger/") && !path.contains("/periods/") =>
        {
            json!({"period": "2026-10"})
        }
        ("PUT", "opening-balances") => json!({"period": "2026-10", "balances": []}),
        ("PUT", "definition") => {
            json!({"lines": [{"code": "1", "name": "货币资金", "level": 1, "formula": "1001"}]})
        }
        ("POST", "redeliver") => json!({"event_id": uuid::Uuid::now_v7().to_string()}),
        ("POST", "transfer") => json!({"to": uuid::Uuid::now_v7().to_string()}),
        ("POST", "add-sign") => {
            json!({"members": [uuid::Uuid::now_v7().to_string()], "position": "before", "method": "or"})
        }
        ("POST", "return") => json!({"to": "initiator"}),
        ("POST", "resolve") => json!({"outcome": "done"}),
        ("PATCH", "{flow}") => json!({"enabled": false}),
        ("POST", "comments") => json!({"text": "x"}),
        ("POST", "share") => json!({"fields": ["title"], "mode": "read"}),
        ("POST", "cc") => json!({"members": [uuid::Uuid::now_v7().to_string()]}),
        ("PUT", "{key}") if path.contains("/dashboards/") => json!({"name": "x", "widgets": []}),
        ("PUT", "draft") => {
            json!({"code": "B_PROC", "name": "x", "table": "t", "app": "a", "nodes": [{"key": "n", "type": "end"}]})
        }
        ("POST" | "PATCH" | "PUT", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// The query a route needs to get past parameter checks (a ledger report's period, for instance).
pub fn valid_query_for(method: &Method, path: &str) -> &'static str {
    if !path.starts_with("/api/v1/ledger/") {
        return "";
    }
    match (method.as_str(), path.rsplit('/').next().unwrap_or("")) {
        (
            "GET",
            "vouchers" | "trial-balance" | "balances" | "balance-sheet" | "income-statement",
        ) => "?period=2026-10",
        ("GET", "general-ledger") => "?from=2026-10&to=2026-10",
        ("GET", "account-detail") => "?account=1122&from=2026-10&to=2026-10",
        ("GET", "receivables-aging") => "?as_of=2026-10-31",
        ("GET", "export") => "?format=csv&period=2026-10",
        ("POST", "import") => "?format=csv",
        _ => "",
    }
}

api_tests! {
    async fn token_of_another_organization_gets_404_for_every_object_on_every_route(app) {
        let (other, other_owner, other_admin) = app.other_org().await;
        let department = app.post("/api/v1/departments", &other_admin, json!({"name": "B only"})).await.expect(StatusCode::CREATED).clone();
        let member = app.post("/api/v1/members", &other_admin, json!({"name": "B member", "department_ids": [department["id"]]})).await.expect(StatusCode::CREATED).clone();
        let token = app.post("/api/v1/tokens", &other_admin, json!({"name": "B token", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let client = app.post("/api/v1/clients", &other_admin, json!({"name": "B app", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let book = app.post("/api/v1/ledger/books", &other_admin, json!({"name": "B books", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED).clone();
        let voucher = app.post("/api/v1/ledger/books/B%20books/vouchers", &other_admin, json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "s", "account": "1001", "debit": "1.00", "credit": "0"}, {"summary": "s", "account": "6001", "debit": "0", "credit": "1.00"}]})).await.expect(StatusCode::CREATED).clone();
        // A's own book, to prove B's voucher is not reachable through it either.
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "A books", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
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
        let b_view = app
            .post("/api/v1/apps/b_app/tables/b_table/views", &other_admin, json!({"name": "B board", "key": "b_view", "type": "grid", "config": {}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        app.call(Method::PUT, "/api/v1/apps/b_app/dashboards/b_board", Some(&other_admin),
            Some(json!({"name": "B dashboard", "widgets": [{"title": "Count", "type": "number", "table": "b_table"}]})))
            .await
            .expect(StatusCode::CREATED);
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
        let b_events = app.get("/api/v1/events", &other_admin).await.expect(StatusCode::OK).clone();
        let b_event = b_events["items"][0]["id"].as_str().unwrap().to_owned();
        let b_subscription = app
            .post("/api/v1/subscriptions", &other_admin, json!({"url": "http://127.0.0.1:9/b", "event_types": ["record.*"]}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        app.post("/api/v1/roles", &other_admin, json!({"key": "b_role", "name": "B role", "member_ids": [member["id"]]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes", &other_admin, json!({"app": "b_app", "code": "B_PROC", "name": "B process", "table": "b_table",
            "nodes": [{"key": "n1", "type": "approval", "method": "or", "approvers": [{"role": "b_role"}], "next": "end"}]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes/B_PROC/publish", &other_admin, json!({})).await.expect(StatusCode::OK);
        let b_approval = app
            .post("/api/v1/approvals", &other_admin, json!({"process": "B_PROC", "record": b_record["id"], "initiator": member["id"]}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let b_delegation = app
            .post("/api/v1/approval-delegations", &other_admin, json!({"from": other_owner.id.to_string(), "to": member["id"]}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        app.post("/api/v1/apps/import", &other_admin, json!({"format": "tenon.app/v1", "key": "b_flows", "name": "B flows",
            "tables": [{"key": "notes", "name": "Notes", "fields": [{"key": "title", "name": "Title", "type": "text"}]}],
            "flows": [{"key": "b_flow", "trigger": {"manual": {}}, "steps": [{"key": "a", "type": "create_record", "table": "notes", "fields": {"title": "\"B\""}}]}]}))
            .await
            .expect(StatusCode::CREATED);
        let b_flow = app.get("/api/v1/flows/b_flow", &other_admin).await.expect(StatusCode::OK).clone();
        app.post("/api/v1/connections", &other_admin, json!({"key": "b_conn", "name": "B ERP", "kind": "http",
            "config": {"base_url": "https://erp.b.example", "auth": "bearer"}, "secrets": {"token": "b-secret-token"}}))
            .await
            .expect(StatusCode::CREATED);
        let b_run = app.post("/api/v1/flows/b_flow/runs", &other_admin, json!({})).await.expect(StatusCode::CREATED).clone();
        let text = |value: &Value| value.as_str().unwrap().to_owned();
        // Every way a path may name an object of B: by id, and by key where keys are accepted.
        let substitutions = |path: &str| -> Vec<String> {
            let resource = path.split('/').nth(3).unwrap();
            if resource == "ledger" {
                // {book}: B's book by id and by name, and A's own book (with B's voucher id where {id} follows).
                let mut books = vec![text(&book["id"]), "B%20books".to_owned()];
                if path.contains("{id}") {
                    books.push("A%20books".to_owned());
                }
                if !path.contains("{book}") {
                    books = vec![String::new()];
                }
                // An import names the book to write into (created in A when A has none of that name): only
                // B's book id must be unknown there.
                if path.ends_with("/import") {
                    books.truncate(1);
                }
                return books
                    .into_iter()
                    .map(|book_ref| {
                        path.replace("{book}", &book_ref)
                            .replace("{id}", voucher["id"].as_str().unwrap())
                            .replace("{period}", "2026-10")
                            .replace("{dimension}", "customer")
                            .replace("{value}", "C001")
                            .replace("{kind}", "balance-sheet")
                    })
                    .collect();
            }
            let objects: Vec<String> = match resource {
                "members" => vec![text(&member["id"]), other_owner.id.to_string()],
                "departments" => vec![text(&department["id"]), other.root_department_id.to_string()],
                "tokens" => vec![text(&token["id"])],
                "installations" => vec![text(&client["id"])],
                "apps" => vec![text(&b_app["id"]), "b_app".to_owned()],
                "attachments" => vec![text(&b_file["id"])],
                "events" => vec![b_event.clone()],
                "subscriptions" => vec![text(&b_subscription["id"])],
                "roles" => return vec![path.replace("{key}", "b_role")],
                "processes" => return vec![path.replace("{code}", "B_PROC")],
                "flows" => return vec![path.replace("{flow}", &text(&b_flow["id"])), path.replace("{flow}", "b_flow")],
                "flow-runs" => return vec![path.replace("{id}", &text(&b_run["id"])).replace("{step}", "a")],
                "approvals" => vec![text(&b_approval["id"])],
                "approval-tasks" => vec![text(&b_approval["tasks"][0]["id"])],
                "approval-delegations" => vec![text(&b_delegation["id"])],
                "connections" => return vec![path.replace("{key}", "b_conn")],
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
                        .replace("{view}", if by_key { "b_view" } else { b_view["id"].as_str().unwrap() })
                        .replace("{key}", "b_board")
                        .replace("{id}", b_record["id"].as_str().unwrap())
                        .replace("{share}", &uuid::Uuid::now_v7().to_string())
                })
                .collect()
        };
        let before = app.audit_len().await;
        let mut checked = 0;
        for (method, path, security) in crate::isolation::operations(&app).await {
            // Public routes (form links) are reachable by design by anyone holding the unguessable link.
            if !path.contains('{') || security.is_null() {
                continue;
            }
            // The DingTalk facade answers in DingTalk's shapes; `/v1.0/contact/users/{unionId}` reads only
            // the signed-in user (another's unionId, of any organization, is 404 `resource.not.found`:
            // `dingtalk_signin`).
            if path.starts_with("/v1.0/") {
                continue;
            }
            for concrete in substitutions(&path) {
                let concrete = concrete + valid_query_for(&method, &path);
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
            b_app["id"].as_str().unwrap().to_owned(), b_table["id"].as_str().unwrap().to_owned(), b_record["id"].as_str().unwrap().to_owned(),
            book["id"].as_str().unwrap().to_owned(), voucher["id"].as_str().unwrap().to_owned(),
            b_subscription["id"].as_str().unwrap().to_owned(), b_flow["id"].as_str().unwrap().to_owned(),
            b_run["id"].as_str().unwrap().to_owned(), "b_conn".to_owned(), "b-secret-token".to_owned()];
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
