//! The OAuth2 client-credentials grant and every RFC 6749 §5.2 error that applies to it.

use base64::Engine;
use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

struct Client {
    id: String,
    secret: String,
    installation: String,
}

async fn register(app: &TestApp, scopes: &[&str]) -> Client {
    let reply = app
        .post(
            "/api/v1/clients",
            &app.admin_token,
            json!({"name": "Kingdee connector", "scopes": scopes}),
        )
        .await;
    let body = reply.expect(StatusCode::CREATED).clone();
    assert!(body["client_secret"].as_str().unwrap().starts_with("tncs_"));
    Client {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
        installation: body["id"].as_str().unwrap().to_owned(),
    }
}

async fn form(app: &TestApp, pairs: &[(&str, &str)]) -> Reply {
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    Reply::from(
        app.http
            .post(format!("{}/api/v1/oauth/token", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

async fn send(app: &TestApp, pairs: Vec<(&'static str, String)>) -> Reply {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form(app, &borrowed).await
}

#[track_caller]
fn oauth_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.body["error"], code, "body: {}", reply.body);
    assert!(reply.body["error_description"].is_string());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

api_tests! {
    async fn client_credentials_grant_issues_a_token_of_its_organization_that_expires(app) {
        let client = register(&app, &["directory:read", "directory:write"]).await;
        let reply = form(&app, &[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &client.secret)]).await;
        let token = reply.expect(StatusCode::OK).clone();
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["expires_in"], 7200);
        assert_eq!(token["scope"], "directory:read directory:write");
        assert_eq!(token["organization"], app.org.id.to_string());
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let access = token["access_token"].as_str().unwrap().to_owned();
        let me = app.get("/api/v1/me", &access).await;
        assert_eq!(me.expect(StatusCode::OK)["actor"]["type"], "app");
        assert_eq!(me.body["organization"]["id"], app.org.id.to_string());
        assert_eq!(me.body["credential"]["type"], "app_token");
        app.post("/api/v1/departments", &access, json!({"name": "by app"})).await.expect(StatusCode::CREATED);
        app.get("/api/v1/tokens", &access).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");

        // JSON works too, and a narrower scope may be asked for.
        let json_reply = app.call(reqwest::Method::POST, "/api/v1/oauth/token", None, Some(json!({
            "grant_type": "client_credentials", "client_id": client.id, "client_secret": client.secret, "scope": "directory:read"
        }))).await;
        let narrow = json_reply.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        app.post("/api/v1/departments", &narrow, json!({"name": "refused"})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");

        // HTTP Basic client authentication.
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, client.secret));
        let reply = Reply::from(app.http.post(format!("{}/api/v1/oauth/token", app.base))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials").send().await.unwrap()).await;
        reply.expect(StatusCode::OK);

        // Two hours later the token is dead.
        app.clock.advance(TimeDelta::hours(2) + TimeDelta::seconds(1));
        app.get("/api/v1/me", &access).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app
    }

    async fn every_applicable_rfc6749_error(app) {
        let client = register(&app, &["directory:read"]).await;
        let ok = |extra: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
            let mut pairs = vec![("grant_type", "client_credentials".to_owned()), ("client_id", client.id.clone()), ("client_secret", client.secret.clone())];
            pairs.extend(extra.iter().cloned());
            pairs
        };
        // invalid_request: missing grant_type, repeated parameter, two client authentications, wrong media type.
        oauth_error(&form(&app, &[("client_id", &client.id), ("client_secret", &client.secret)]).await, StatusCode::BAD_REQUEST, "invalid_request");
        oauth_error(&send(&app, ok(&[("scope", "directory:read".into()), ("scope", "directory:read".into())])).await, StatusCode::BAD_REQUEST, "invalid_request");
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, client.secret));
        let both = Reply::from(app.http.post(format!("{}/api/v1/oauth/token", app.base))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&client_id={}&client_secret={}", client.id, client.secret)).send().await.unwrap()).await;
        oauth_error(&both, StatusCode::BAD_REQUEST, "invalid_request");
        let text = Reply::from(app.http.post(format!("{}/api/v1/oauth/token", app.base)).header("content-type", "text/plain").body("grant_type=client_credentials").send().await.unwrap()).await;
        oauth_error(&text, StatusCode::BAD_REQUEST, "invalid_request");
        // invalid_client: unknown id, wrong secret, no authentication; Basic gets a Basic challenge.
        oauth_error(&form(&app, &[("grant_type", "client_credentials"), ("client_id", "tnc_unknown"), ("client_secret", "x")]).await, StatusCode::UNAUTHORIZED, "invalid_client");
        oauth_error(&form(&app, &[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", "tncs_wrong")]).await, StatusCode::UNAUTHORIZED, "invalid_client");
        oauth_error(&form(&app, &[("grant_type", "client_credentials")]).await, StatusCode::UNAUTHORIZED, "invalid_client");
        let wrong_basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:wrong", client.id));
        let reply = Reply::from(app.http.post(format!("{}/api/v1/oauth/token", app.base))
            .header("authorization", format!("Basic {wrong_basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials").send().await.unwrap()).await;
        oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(reply.header("www-authenticate").is_some_and(|value| value.starts_with("Basic")));
        // unsupported_grant_type.
        oauth_error(&form(&app, &[("grant_type", "password"), ("client_id", &client.id), ("client_secret", &client.secret)]).await, StatusCode::BAD_REQUEST, "unsupported_grant_type");
        // invalid_scope: unknown, and beyond what the organization granted.
        oauth_error(&send(&app, ok(&[("scope", "directory:everything".into())])).await, StatusCode::BAD_REQUEST, "invalid_scope");
        oauth_error(&send(&app, ok(&[("scope", "directory:write".into())])).await, StatusCode::BAD_REQUEST, "invalid_scope");
        // unauthorized_client: the named organization has not installed the app.
        let (other, _, _) = app.other_org().await;
        oauth_error(&send(&app, ok(&[("organization", other.id.to_string())])).await, StatusCode::BAD_REQUEST, "unauthorized_client");
        // A rotated secret replaces the old one.
        let rotated = app.post(&format!("/api/v1/installations/{}/rotate-secret", client.installation), &app.admin_token, json!({})).await;
        let new_secret = rotated.expect(StatusCode::OK)["client_secret"].as_str().unwrap().to_owned();
        oauth_error(&send(&app, ok(&[])).await, StatusCode::UNAUTHORIZED, "invalid_client");
        form(&app, &[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &new_secret)]).await.expect(StatusCode::OK);
        app
    }

    async fn app_installed_in_two_organizations_must_name_one_and_gets_only_its_data(app) {
        let client = register(&app, &["directory:read"]).await;
        let (other, other_owner, other_admin) = app.other_org().await;
        let installed = app.post("/api/v1/installations", &other_admin, json!({"client_id": client.id, "scopes": ["directory:read"], "rate_limit": "10/s"})).await;
        assert_eq!(installed.expect(StatusCode::CREATED)["registered_here"], false);
        let ambiguous = form(&app, &[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &client.secret)]).await;
        oauth_error(&ambiguous, StatusCode::BAD_REQUEST, "invalid_request");
        let reply = form(&app, &[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &client.secret), ("organization", &other.id.to_string())]).await;
        let access = reply.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        let members: Value = app.get("/api/v1/members", &access).await.expect(StatusCode::OK).clone();
        let ids: Vec<_> = members["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, vec![other_owner.id.to_string()]);
        app.get(&format!("/api/v1/members/{}", app.owner.id), &access).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // Narrowing the installation narrows live tokens; uninstalling kills them.
        let installation = app.get("/api/v1/installations", &other_admin).await.expect(StatusCode::OK)["items"][0]["id"].as_str().unwrap().to_owned();
        app.patch(&format!("/api/v1/installations/{installation}"), &other_admin, json!({"scopes": ["ledger:read"]})).await.expect(StatusCode::OK);
        app.get("/api/v1/members", &access).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        // Only the registering organization may rotate the secret.
        app.post(&format!("/api/v1/installations/{installation}/rotate-secret"), &other_admin, json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app.delete(&format!("/api/v1/installations/{installation}"), &other_admin).await.expect(StatusCode::NO_CONTENT);
        app.get("/api/v1/me", &access).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app
    }
}
