//! What the admin pages and pickers ask of the directory and audit APIs: members searched by the server
//! (`q`), the audit log narrowed by actor and time, and a department delete refused with a code the UI
//! translates.

use reqwest::StatusCode;
use serde_json::json;

use tenon_store::Clock as _;

use crate::api_tests;

api_tests! {
    async fn members_are_searched_by_name_email_or_mobile(app) {
        let token = app.admin_token.clone();
        let zhang = app.post("/api/v1/members", &token, json!({"name": "张三", "email": "Zhang.San@School.example"})).await.expect(StatusCode::CREATED)["id"].clone();
        let li = app.post("/api/v1/members", &token, json!({"name": "李四", "mobile": "138 0013 8000"})).await.expect(StatusCode::CREATED)["id"].clone();
        let odd = app.post("/api/v1/members", &token, json!({"name": "Ann_100%"})).await.expect(StatusCode::CREATED)["id"].clone();
        let left = app.post("/api/v1/members", &token, json!({"name": "张老师"})).await.expect(StatusCode::CREATED)["id"].clone();
        app.patch(&format!("/api/v1/members/{}", left.as_str().unwrap()), &token, json!({"status": "left"})).await.expect(StatusCode::OK);
        let found = |path: String| {
            let app = &app;
            let token = token.clone();
            async move {
                let page = app.get(&path, &token).await.expect(StatusCode::OK).clone();
                page["items"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect::<Vec<_>>()
            }
        };
        assert_eq!(found("/api/v1/members?q=%E5%BC%A0".to_owned()).await, vec![zhang.clone(), left.clone()], "张: by name");
        assert_eq!(found("/api/v1/members?q=%E5%BC%A0&status=active".to_owned()).await, vec![zhang.clone()], "with the other filters");
        assert_eq!(found("/api/v1/members?q=SCHOOL.EXAMPLE".to_owned()).await, vec![zhang.clone()], "by e-mail, any case");
        assert_eq!(found("/api/v1/members?q=80013800".to_owned()).await, vec![li.clone()], "by mobile");
        assert_eq!(found("/api/v1/members?q=_".to_owned()).await, vec![odd.clone()], "_ is a character, not a wildcard");
        assert_eq!(found("/api/v1/members?q=%25".to_owned()).await, vec![odd.clone()], "% is a character, not a wildcard");
        assert_eq!(found("/api/v1/members?q=nobody-here".to_owned()).await, Vec::<serde_json::Value>::new());
        // A page at a time: the picker asks for a few.
        let page = app.get("/api/v1/members?q=%E5%BC%A0&page_size=1", &token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert!(page["next_cursor"].is_string());
        let long = "x".repeat(101);
        let error = app.get(&format!("/api/v1/members?q={long}"), &token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert_eq!(error["details"][0]["field"], "q");
        assert_eq!(error["details"][0]["code"], "too_long");
        app
    }

    async fn the_audit_log_is_narrowed_by_actor_and_time(app) {
        let admin = app.admin_token.clone();
        let other = app.token(&["directory:write", "directory:read"]).await;
        let start = app.clock.now();
        app.post("/api/v1/departments", &admin, json!({"name": "教务处"})).await.expect(StatusCode::CREATED);
        app.clock.advance(chrono::TimeDelta::hours(2));
        app.post("/api/v1/departments", &other, json!({"name": "德育处"})).await.expect(StatusCode::CREATED);
        app.clock.advance(chrono::TimeDelta::hours(2));
        app.post("/api/v1/departments", &admin, json!({"name": "总务处"})).await.expect(StatusCode::CREATED);
        let names = |page: &serde_json::Value| {
            page["items"].as_array().unwrap().iter().map(|e| e["after"]["name"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>()
        };
        let all = app.get("/api/v1/audit?target_type=department", &admin).await.expect(StatusCode::OK).clone();
        assert_eq!(names(&all), ["总务处", "德育处", "教务处"]);
        let by_other = all["items"][1]["actor"]["id"].as_str().unwrap().to_owned();
        let page = app.get(&format!("/api/v1/audit?target_type=department&actor_id={by_other}"), &admin).await.expect(StatusCode::OK).clone();
        assert_eq!(names(&page), ["德育处"]);
        let since = (start + chrono::TimeDelta::hours(1)).to_rfc3339();
        let until = (start + chrono::TimeDelta::hours(3)).to_rfc3339();
        let query = format!("since={}&until={}", urlencoding(&since), urlencoding(&until));
        let page = app.get(&format!("/api/v1/audit?target_type=department&{query}"), &admin).await.expect(StatusCode::OK).clone();
        assert_eq!(names(&page), ["德育处"], "since is inclusive, until exclusive");
        // An offset in the instant means the same moment.
        let shanghai = (start + chrono::TimeDelta::hours(3)).with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).to_rfc3339();
        let page = app.get(&format!("/api/v1/audit?target_type=department&until={}", urlencoding(&shanghai)), &admin).await.expect(StatusCode::OK).clone();
        assert_eq!(names(&page), ["德育处", "教务处"]);
        let error = app.get("/api/v1/audit?since=yesterday", &admin).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert_eq!(error["details"][0]["field"], "since");
        assert_eq!(error["details"][0]["code"], "invalid_format");
        app
    }

    async fn a_department_with_members_or_children_is_refused_with_a_code(app) {
        let token = app.admin_token.clone();
        let a = app.post("/api/v1/departments", &token, json!({"name": "初一年级"})).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        app.post("/api/v1/departments", &token, json!({"name": "初一(1)班", "parent_id": a})).await.expect(StatusCode::CREATED);
        let error = app.delete(&format!("/api/v1/departments/{a}"), &token).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert_eq!(error["details"][0]["code"], "has_sub_departments");
        assert_eq!(error["details"][0]["params"]["count"], 1);
        let b = app.post("/api/v1/departments", &token, json!({"name": "初二年级"})).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        app.post("/api/v1/members", &token, json!({"name": "王老师", "department_ids": [b]})).await.expect(StatusCode::CREATED);
        let error = app.delete(&format!("/api/v1/departments/{b}"), &token).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert_eq!(error["details"][0]["code"], "has_members");
        assert_eq!(error["details"][0]["params"]["count"], 1);
        app
    }
}

/// Percent-encodes a query value (`+` and `:` in an RFC 3339 instant).
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
