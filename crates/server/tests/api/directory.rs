use reqwest::StatusCode;
use serde_json::json;

use crate::{api_tests, member_body};

api_tests! {
    async fn department_created_with_name_alone_goes_under_the_root(app) {
        let token = app.token(&["directory:write", "directory:read"]).await;
        let created = app.post("/api/v1/departments", &token, json!({"name": "销售部"})).await;
        let department = created.expect(StatusCode::CREATED).clone();
        assert_eq!(department["name"], "销售部");
        assert_eq!(department["parent_id"], app.org.root_department_id.to_string());
        assert!(department["id"].is_string());
        let fetched = app.get(&format!("/api/v1/departments/{}", department["id"].as_str().unwrap()), &token).await;
        assert_eq!(fetched.expect(StatusCode::OK), &department);
        app
    }

    async fn member_lifecycle_over_http_is_audited(app) {
        let token = app.admin_token.clone();
        let department = app.post("/api/v1/departments", &token, json!({"name": "财务部"})).await.expect(StatusCode::CREATED).clone();
        let department_id = department["id"].as_str().unwrap().to_owned();
        let created = app
            .post(
                "/api/v1/members",
                &token,
                json!({
                    "name": "陈静", "email": "Chen.Jing@Example.com", "mobile": "138 0013 8004",
                    "job_title": "会计", "employee_no": "E0004", "department_ids": [department_id]
                }),
            )
            .await;
        let member = created.expect(StatusCode::CREATED).clone();
        let id = member["id"].as_str().unwrap().to_owned();
        assert_eq!(member["email"], "chen.jing@example.com");
        assert_eq!(member["mobile"], "13800138004");
        assert_eq!(member["role"], "member");
        assert_eq!(member["status"], "active");
        assert_eq!(member["department_ids"], json!([department_id]));
        assert_eq!(member["has_password"], false);

        let heads = app.patch(&format!("/api/v1/departments/{department_id}"), &token, json!({"head_ids": [id]})).await;
        assert_eq!(heads.expect(StatusCode::OK)["head_ids"], json!([id]));

        let updated = app.patch(&format!("/api/v1/members/{id}"), &token, json!({"job_title": "财务经理", "mobile": null})).await;
        let updated = updated.expect(StatusCode::OK);
        assert_eq!(updated["job_title"], "财务经理");
        assert_eq!(updated["mobile"], json!(null));
        assert_eq!(updated["email"], "chen.jing@example.com", "absent fields stay");
        assert_eq!(updated["head_of_department_ids"], json!([department_id]));

        let left = app.patch(&format!("/api/v1/members/{id}"), &token, json!({"status": "left"})).await;
        assert_eq!(left.expect(StatusCode::OK)["status"], "left");

        let audit = app.get(&format!("/api/v1/audit?target_type=member&target_id={id}"), &token).await;
        let entries = audit.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
        let actions: Vec<&str> = entries.iter().map(|entry| entry["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["member.updated", "member.updated", "member.created"]);
        assert_eq!(entries[1]["before"]["job_title"], "会计");
        assert_eq!(entries[1]["after"]["job_title"], "财务经理");
        assert_eq!(entries[0]["actor"]["type"], "token");
        assert!(entries[0]["request_id"].as_str().is_some_and(|id| !id.is_empty()));

        app.delete(&format!("/api/v1/members/{id}"), &token).await.expect(StatusCode::NO_CONTENT);
        app.get(&format!("/api/v1/members/{id}"), &token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn members_page_with_cursor_and_filter(app) {
        let token = app.admin_token.clone();
        let sales = app.post("/api/v1/departments", &token, json!({"name": "Sales"})).await.expect(StatusCode::CREATED)["id"].clone();
        let mut in_sales = vec![];
        for i in 0..5 {
            let mut body = member_body(&format!("M{i}"));
            if i % 2 == 0 {
                body["department_ids"] = json!([sales]);
            }
            let member = app.post("/api/v1/members", &token, body).await.expect(StatusCode::CREATED).clone();
            if i % 2 == 0 {
                in_sales.push(member["id"].clone());
            }
        }
        let mut seen = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/members?page_size=2&cursor={cursor}"),
                None => "/api/v1/members?page_size=2".to_owned(),
            };
            let page = app.get(&path, &token).await.expect(StatusCode::OK).clone();
            seen.extend(page["items"].as_array().unwrap().iter().map(|member| member["id"].clone()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6, "owner and five members, each once");
        let filtered = app.get(&format!("/api/v1/members?department_id={}", sales.as_str().unwrap()), &token).await;
        let ids: Vec<_> = filtered.expect(StatusCode::OK)["items"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
        assert_eq!(ids, in_sales);
        app.get("/api/v1/members?page_size=0", &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/members?page_size=1001", &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/members?cursor=not-a-cursor", &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/members?status=retired", &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }

    async fn duplicate_email_is_409_and_names_the_field(app) {
        let token = app.admin_token.clone();
        app.post("/api/v1/members", &token, json!({"name": "A", "email": "dup@example.com"})).await.expect(StatusCode::CREATED);
        let before = app.audit_len().await;
        let reply = app.post("/api/v1/members", &token, json!({"name": "B", "email": "DUP@example.com"})).await;
        let error = reply.expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(error["details"][0]["field"], "email");
        assert_eq!(app.audit_len().await, before);
        app
    }

    async fn department_tree_rules_answer_422_and_409(app) {
        let token = app.admin_token.clone();
        let a = app.post("/api/v1/departments", &token, json!({"name": "A"})).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let b = app.post("/api/v1/departments", &token, json!({"name": "B", "parent_id": a})).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let error = app.patch(&format!("/api/v1/departments/{a}"), &token, json!({"parent_id": b})).await;
        assert_eq!(error.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "parent_id");
        app.delete(&format!("/api/v1/departments/{a}"), &token).await.expect_error(StatusCode::CONFLICT, "conflict");
        let root = app.org.root_department_id;
        app.delete(&format!("/api/v1/departments/{root}"), &token).await.expect_error(StatusCode::CONFLICT, "conflict");
        let unknown = tenon_model::DepartmentId::new();
        let reply = app.post("/api/v1/departments", &token, json!({"name": "C", "parent_id": unknown.to_string()})).await;
        assert_eq!(reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "parent_id");
        app.delete(&format!("/api/v1/departments/{b}"), &token).await.expect(StatusCode::NO_CONTENT);
        app.delete(&format!("/api/v1/departments/{a}"), &token).await.expect(StatusCode::NO_CONTENT);
        app
    }

    async fn only_admin_may_grant_or_change_admin_roles(app) {
        let writer = app.token(&["directory:write", "directory:read"]).await;
        let reply = app.post("/api/v1/members", &writer, json!({"name": "Sneaky", "role": "owner"})).await;
        reply.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        let owner = app.owner.id;
        app.patch(&format!("/api/v1/members/{owner}"), &writer, json!({"name": "Renamed"})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.delete(&format!("/api/v1/members/{owner}"), &writer).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        // The last owner stays, even for admin.
        app.delete(&format!("/api/v1/members/{owner}"), &app.admin_token).await.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }

    async fn organization_settings_are_read_and_changed(app) {
        let org = app.get("/api/v1/organization", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(org["time_zone"], "Asia/Shanghai");
        assert_eq!(org["locale"], "zh-CN");
        let changed = app.patch("/api/v1/organization", &app.admin_token, json!({"time_zone": "Europe/Oslo", "locale": "en"})).await;
        assert_eq!(changed.expect(StatusCode::OK)["time_zone"], "Europe/Oslo");
        let bad = app.patch("/api/v1/organization", &app.admin_token, json!({"time_zone": "Mars/Olympus"})).await;
        assert_eq!(bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "time_zone");
        app
    }
}
