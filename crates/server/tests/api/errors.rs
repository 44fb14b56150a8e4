use reqwest::{Method, StatusCode};
use serde_json::json;

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
