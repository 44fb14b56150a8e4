use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Reply, TestApp, api_tests, token_for};

pub(crate) async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    app.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

pub(crate) fn session_cookie(reply: &Reply) -> String {
    let set_cookie = reply.header("set-cookie").expect("a session cookie");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    set_cookie.split(';').next().unwrap().to_owned()
}

pub(crate) async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .header("cookie", cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.unwrap()).await
}

api_tests! {
    async fn missing_malformed_unknown_expired_and_revoked_tokens_get_401(app) {
        app.call(Method::GET, "/api/v1/me", None, None).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let malformed = crate::Reply::from(
            app.http.get(format!("{}/api/v1/me", app.base)).header("authorization", "Token abc").send().await.unwrap(),
        ).await;
        malformed.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(malformed.header("www-authenticate").is_some_and(|value| value.starts_with("Bearer")));
        app.get("/api/v1/me", "tnp_not-a-real-token").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");

        let created = app.post("/api/v1/tokens", &app.admin_token, json!({
            "name": "short-lived", "scopes": ["directory:read"],
            "expires_at": (app.store.now() + TimeDelta::hours(1)).to_rfc3339(),
        })).await;
        let created = created.expect(StatusCode::CREATED).clone();
        let secret = created["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("tnp_"));
        app.get("/api/v1/members", &secret).await.expect(StatusCode::OK);
        app.clock.advance(TimeDelta::hours(2));
        app.get("/api/v1/members", &secret).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");

        let created = app.post("/api/v1/tokens", &app.admin_token, json!({"name": "to revoke", "scopes": ["directory:read"]})).await;
        let created = created.expect(StatusCode::CREATED).clone();
        let secret = created["token"].as_str().unwrap().to_owned();
        app.get("/api/v1/members", &secret).await.expect(StatusCode::OK);
        let revoked = app.delete(&format!("/api/v1/tokens/{}", created["id"].as_str().unwrap()), &app.admin_token).await;
        assert!(revoked.expect(StatusCode::OK)["revoked_at"].is_string());
        app.get("/api/v1/members", &secret).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        // Public routes do not look at credentials: the revoked token (or any Authorization header) is
        // ignored there, as if the request carried none.
        for public in ["/healthz", "/readyz"] {
            app.get(public, &secret).await.expect(StatusCode::OK);
            app.call(Method::GET, public, Some("not a token at all"), None).await.expect(StatusCode::OK);
        }
        let login = app.http.post(format!("{}/api/v1/auth/login", app.base)).bearer_auth(&secret)
            .json(&json!({"email": app.owner_email, "password": app.owner_password})).send().await.unwrap();
        assert_eq!(login.status(), StatusCode::OK, "login ignores a stale bearer token");
        let listed = app.get("/api/v1/tokens", &app.admin_token).await;
        let listed = listed.expect(StatusCode::OK);
        assert!(listed.to_string().contains("to revoke"));
        assert!(!listed.to_string().contains(&secret), "secrets are never listed");
        app
    }

    async fn a_token_cannot_mint_scopes_it_lacks(app) {
        let admin_only_reader = app.token(&["admin"]).await;
        let reply = app.post("/api/v1/tokens", &admin_only_reader, json!({"name": "x", "scopes": ["directory:nope"]})).await;
        assert_eq!(reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "scopes[0]");
        let reply = app.post("/api/v1/tokens", &admin_only_reader, json!({"name": "x", "scopes": ["ledger:read"], "expires_at": "2020-01-01T00:00:00Z"})).await;
        assert_eq!(reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "expires_at");
        let reply = app.post("/api/v1/tokens", &admin_only_reader, json!({"name": "x", "scopes": ["ledger:read"], "rate_limit": "lots"})).await;
        assert_eq!(reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "rate_limit");
        app
    }

    async fn a_member_makes_sees_and_revokes_only_their_own_personal_tokens_with_a_session(app) {
        let member = app.post("/api/v1/members", &app.admin_token, json!({"name": "Bo", "role": "member", "email": "bo@example.com", "password": "bo-the-member-1"})).await;
        let member_id = member.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let logged_in = login(&app, "bo@example.com", "bo-the-member-1").await;
        logged_in.expect(StatusCode::OK);
        let cookie = session_cookie(&logged_in);
        let audit = app.audit_len().await;
        // Beyond the member's role: 422 at scopes, nothing written.
        for scopes in [json!(["admin"]), json!(["events:manage"]), json!(["approvals:write", "ledger:write"])] {
            let refused = with_cookie(&app, Method::POST, "/api/v1/tokens", &cookie, Some(json!({"name": "too much", "scopes": scopes}))).await;
            let body = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(body["details"][0]["field"], "scopes", "{body}");
        }
        assert_eq!(app.audit_len().await, audit);
        let created = with_cookie(&app, Method::POST, "/api/v1/tokens", &cookie, Some(json!({"name": "Bo's approvals", "scopes": ["approvals:read", "approvals:write"]}))).await;
        let created = created.expect(StatusCode::CREATED).clone();
        assert_eq!(created["member_id"], member_id);
        assert_eq!(created["scopes"], json!(["approvals:read", "approvals:write"]));
        let secret = created["token"].as_str().unwrap().to_owned();
        let me = app.get("/api/v1/me", &secret).await;
        assert_eq!(me.expect(StatusCode::OK)["member"]["id"], member_id);
        // The personal token itself cannot mint tokens (that needs a session or admin), nor list them.
        app.post("/api/v1/tokens", &secret, json!({"name": "child", "scopes": ["approvals:read"]})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.get("/api/v1/tokens", &secret).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        // The session lists only Bo's tokens; another's token is 404 to Bo, found by an admin.
        let other = app.post("/api/v1/tokens", &app.admin_token, json!({"name": "org", "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        let other_id = other["id"].as_str().unwrap();
        let listed = with_cookie(&app, Method::GET, "/api/v1/tokens", &cookie, None).await;
        let ids: Vec<&str> = listed.expect(StatusCode::OK)["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![created["id"].as_str().unwrap()]);
        with_cookie(&app, Method::GET, &format!("/api/v1/tokens/{other_id}"), &cookie, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        with_cookie(&app, Method::DELETE, &format!("/api/v1/tokens/{other_id}"), &cookie, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/members", other["token"].as_str().unwrap()).await.expect(StatusCode::OK);
        let all = app.get("/api/v1/tokens", &app.admin_token).await;
        assert!(all.expect(StatusCode::OK)["items"].as_array().unwrap().len() >= 2);
        // Bo revokes their own; it stops working at once.
        let revoked = with_cookie(&app, Method::DELETE, &format!("/api/v1/tokens/{}", created["id"].as_str().unwrap()), &cookie, None).await;
        assert!(revoked.expect(StatusCode::OK)["revoked_at"].is_string());
        app.get("/api/v1/me", &secret).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app
    }

    async fn personal_token_follows_its_members_role_and_status(app) {
        let member = app.post("/api/v1/members", &app.admin_token, json!({"name": "Ada", "role": "admin", "email": "ada@example.com", "password": "ada-lovelace-1815"})).await;
        let member_id = member.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let logged_in = login(&app, "ada@example.com", "ada-lovelace-1815").await;
        logged_in.expect(StatusCode::OK);
        let cookie = session_cookie(&logged_in);
        let created = with_cookie(&app, Method::POST, "/api/v1/tokens", &cookie, Some(json!({"name": "Ada's", "scopes": ["admin"]}))).await;
        let created = created.expect(StatusCode::CREATED).clone();
        assert_eq!(created["member_id"], member_id);
        let secret = created["token"].as_str().unwrap().to_owned();
        let me = app.get("/api/v1/me", &secret).await;
        assert_eq!(me.expect(StatusCode::OK)["scopes"], json!(["admin"]));
        assert_eq!(me.body["member"]["id"], member_id);
        // Demoted: the token keeps only what a member may do.
        app.patch(&format!("/api/v1/members/{member_id}"), &app.admin_token, json!({"role": "member"})).await.expect(StatusCode::OK);
        let me = app.get("/api/v1/me", &secret).await;
        assert_eq!(me.expect(StatusCode::OK)["scopes"], json!(["directory:read", "apps:read", "records:read", "records:write", "approvals:read", "approvals:write"]));
        app.get("/api/v1/tokens", &secret).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        // Left: the token stops working, and so does the session.
        app.patch(&format!("/api/v1/members/{member_id}"), &app.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
        app.get("/api/v1/me", &secret).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app
    }

    async fn rate_limited_token_gets_429_with_retry_after_and_ratelimit_headers(app) {
        let token = token_for(&app.store, &app.org, tenon_model::ScopeSet::parse(["directory:read"]).unwrap(), Some("1/h,burst=2")).await;
        let first = app.get("/api/v1/members", &token).await;
        first.expect(StatusCode::OK);
        assert_eq!(first.header("ratelimit-limit"), Some("2"));
        assert_eq!(first.header("ratelimit-remaining"), Some("1"));
        app.get("/api/v1/members", &token).await.expect(StatusCode::OK);
        let limited = app.get("/api/v1/members", &token).await;
        limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!(retry_after > 0 && retry_after <= 3600);
        assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
        assert!(limited.header("ratelimit-reset").is_some());
        // Other credentials are not affected.
        app.get("/api/v1/members", &app.admin_token).await.expect(StatusCode::OK);
        app
    }

    async fn login_me_password_change_and_logout(app) {
        let logged_in = login(&app, &app.owner_email.to_uppercase(), &app.owner_password).await;
        assert_eq!(logged_in.expect(StatusCode::OK)["member"]["id"], app.owner.id.to_string());
        assert_eq!(logged_in.body["organization"]["id"], app.org.id.to_string());
        let cookie = session_cookie(&logged_in);
        let me = with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await;
        assert_eq!(me.expect(StatusCode::OK)["credential"]["type"], "session");
        assert_eq!(me.body["actor"]["type"], "member");

        let second = session_cookie(&login(&app, &app.owner_email, &app.owner_password).await);
        let wrong = with_cookie(&app, Method::POST, "/api/v1/me/password", &cookie, Some(json!({"current_password": "nope", "new_password": "a new secret"}))).await;
        assert_eq!(wrong.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "current_password");
        let short = with_cookie(&app, Method::POST, "/api/v1/me/password", &cookie, Some(json!({"current_password": app.owner_password, "new_password": "short"}))).await;
        assert_eq!(short.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "new_password");
        with_cookie(&app, Method::POST, "/api/v1/me/password", &cookie, Some(json!({"current_password": app.owner_password, "new_password": "a brand new secret"}))).await.expect(StatusCode::NO_CONTENT);
        // The other session ended; this one goes on.
        with_cookie(&app, Method::GET, "/api/v1/me", &second, None).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await.expect(StatusCode::OK);
        login(&app, &app.owner_email, &app.owner_password).await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        login(&app, &app.owner_email, "a brand new secret").await.expect(StatusCode::OK);

        let logout = with_cookie(&app, Method::POST, "/api/v1/auth/logout", &cookie, None).await;
        logout.expect(StatusCode::NO_CONTENT);
        assert!(logout.header("set-cookie").is_some_and(|value| value.contains("Max-Age=0")));
        with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app
    }

    async fn repeated_login_failures_lock_the_address_then_backoff_expires(app) {
        for _ in 0..5 {
            login(&app, &app.owner_email, "wrong password").await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        }
        let locked = login(&app, &app.owner_email, &app.owner_password).await;
        locked.expect_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        assert!(locked.header("retry-after").is_some());
        // Unknown addresses are throttled the same way, so a lock tells nothing about existence.
        for _ in 0..5 {
            login(&app, "nobody@example.com", "whatever-123").await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        }
        login(&app, "nobody@example.com", "whatever-123").await.expect_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        app.clock.advance(TimeDelta::seconds(31));
        login(&app, &app.owner_email, &app.owner_password).await.expect(StatusCode::OK);
        app
    }

    async fn cookie_writes_from_another_site_are_refused(app) {
        let cookie = session_cookie(&login(&app, &app.owner_email, &app.owner_password).await);
        let forged = Reply::from(
            app.http
                .post(format!("{}/api/v1/departments", app.base))
                .header("cookie", &cookie)
                .header("origin", "https://evil.example")
                .json(&json!({"name": "Evil"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        forged.expect_error(StatusCode::FORBIDDEN, "cross_site_request");
        let same_site = Reply::from(
            app.http
                .post(format!("{}/api/v1/departments", app.base))
                .header("cookie", &cookie)
                .header("origin", app.base.clone())
                .json(&json!({"name": "Fine"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        same_site.expect(StatusCode::CREATED);
        app
    }
}
