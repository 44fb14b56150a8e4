//! Connections are audited like every other admin change: `connection.created|updated|deleted` with
//! before and after snapshots that name the secrets (`secret_names`, and an update's `secrets_changed`)
//! but never hold one; refused changes write nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

async fn audit(app: &TestApp, query: &str) -> Value {
    app.get(
        &format!("/api/v1/audit?page_size=100{query}"),
        &app.admin_token,
    )
    .await
    .expect(StatusCode::OK)
    .clone()
}

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_owned())
        .collect()
}

api_tests! {
    async fn connection_changes_are_audited_without_their_secrets(app) {
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "erp", "name": "ERP", "kind": "http",
                   "config": {"base_url": "https://erp.example/api", "auth": "bearer"},
                   "secrets": {"token": "s3cret-token"}}))
            .await
            .expect(StatusCode::CREATED);
        app.patch("/api/v1/connections/erp", &app.admin_token,
            json!({"name": "金蝶 ERP", "secrets": {"token": "n3w-token"}}))
            .await
            .expect(StatusCode::OK);
        // Refused changes are not audited.
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "erp", "name": "ERP", "kind": "http", "config": {"base_url": "https://x.example"}}))
            .await
            .expect(StatusCode::CONFLICT);
        app.patch("/api/v1/connections/nope", &app.admin_token, json!({"name": "x"}))
            .await
            .expect(StatusCode::NOT_FOUND);
        app.delete("/api/v1/connections/erp", &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.delete("/api/v1/connections/erp", &app.admin_token).await.expect(StatusCode::NOT_FOUND);

        let page = audit(&app, "&target_type=connection").await;
        assert_eq!(actions(&page), ["connection.deleted", "connection.updated", "connection.created"], "{page}");
        let entries = page["items"].as_array().unwrap();
        for entry in entries {
            assert_eq!(entry["target_type"], "connection");
            assert_eq!(entry["target_id"], "erp");
            assert_eq!(entry["actor"]["type"], "token", "{entry}");
        }
        let (deleted, updated, created) = (&entries[0], &entries[1], &entries[2]);
        let shown = |name: &str| json!({"key": "erp", "name": name, "kind": "http",
            "config": {"base_url": "https://erp.example/api", "auth": "bearer"}, "secret_names": ["token"]});
        assert_eq!(created["before"], Value::Null);
        assert_eq!(created["after"], shown("ERP"));
        assert_eq!(updated["before"], shown("ERP"));
        let mut rotated = shown("金蝶 ERP");
        rotated["secrets_changed"] = json!(["token"]);
        assert_eq!(updated["after"], rotated, "the rotation shows by name");
        assert_eq!(deleted["before"], shown("金蝶 ERP"));
        assert_eq!(deleted["after"], Value::Null);
        // Filtering by the key finds them too.
        assert_eq!(actions(&audit(&app, "&target_type=connection&target_id=erp").await).len(), 3);

        // No secret anywhere in the log.
        let everything = audit(&app, "").await.to_string();
        assert!(everything.contains("connection.updated"), "{everything}");
        assert!(!everything.contains("s3cret") && !everything.contains("n3w-token"), "{everything}");

        // `target_type` names every kind when it is refused.
        let error = app.get("/api/v1/audit?target_type=nope", &app.admin_token).await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        let allowed = &error["details"][0]["params"]["allowed"];
        assert_eq!(allowed.as_array().unwrap().len(), tenon_model::TargetKind::ALL.len(), "{error}");
        assert!(allowed.as_array().unwrap().contains(&json!("connection")), "{error}");
        app
    }
}

/// The audit's `target_type` parameter names every kind of target (the list is written by hand).
#[test]
fn the_audit_documents_every_target_type() {
    let doc = serde_json::to_value(tenon_server::openapi()).unwrap();
    let params = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let target_type = params.iter().find(|p| p["name"] == "target_type").unwrap();
    let described = target_type["description"].as_str().unwrap();
    for kind in tenon_model::TargetKind::ALL {
        assert!(
            described.contains(&format!("`{}`", kind.as_str())),
            "{}: {described}",
            kind.as_str()
        );
    }
}
