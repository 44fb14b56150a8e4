//! Login-free sign-in (免登, #21 item 7a): `/oauth2/authorize` turns a Tenon session into a single-use
//! `authCode` for an installed app; `POST /v1.0/oauth2/userAccessToken` turns it into a user token that
//! reads `GET /v1.0/contact/users/me` and acts as the member on the native API; `getuserinfo` spends a code
//! on oapi. The official SDK (`alibabacloud-dingtalk` 2.2.65) drives the v1.0 half.

use std::process::Command;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dingtalk::{DingTalkApp, v1_error};
use crate::{Reply, TestApp, api_tests};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/dingtalk_signin_client.py"
);
const REDIRECT: &str = "https://h5.example.com/signed-in?from=dingtalk";
/// The redirect URI the apps register: `REDIRECT` without its query.
const REGISTERED: &str = "https://h5.example.com/signed-in";

/// An app registered here with `REGISTERED` as its redirect URI.
async fn install(app: &TestApp, scopes: &[&str]) -> DingTalkApp {
    let body = app
        .post(
            "/api/v1/clients",
            &app.admin_token,
            json!({"name": "DingTalk H5", "scopes": scopes, "redirect_uris": [REGISTERED]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    assert_eq!(body["redirect_uris"], json!([REGISTERED]), "{body}");
    DingTalkApp {
        key: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// A refusal page: 400, HTML, both languages, no `Location`; returns the page.
async fn refused(app: &TestApp, path: &str, cookie: Option<&str>) -> String {
    let mut request = browser().get(format!("{}{path}", app.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    assert!(response.headers().get("location").is_none(), "{path}");
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(kind, "text/html; charset=utf-8");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("无法登录") && page.contains("Sign-in refused"),
        "{page}"
    );
    page
}

/// A client that does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn session(app: &TestApp) -> String {
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": app.owner_email, "password": app.owner_password})),
        )
        .await;
    reply.expect(StatusCode::OK);
    let set_cookie = reply.header("set-cookie").expect("a session cookie");
    set_cookie.split(';').next().unwrap().to_owned()
}

fn authorize_path(client_id: &str, redirect: &str) -> String {
    let redirect: String = form_urlencoded::byte_serialize(redirect.as_bytes()).collect();
    format!(
        "/oauth2/authorize?client_id={client_id}&redirect_uri={redirect}&state=s%201&response_type=code&scope=openid&prompt=consent"
    )
}

/// `GET /oauth2/authorize` as a browser: the status and the `Location`.
async fn authorize(app: &TestApp, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = browser().get(format!("{}{path}", app.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), location)
}

/// A fresh `authCode` for the app, by the owner's session.
async fn auth_code(app: &TestApp, client_id: &str, cookie: &str) -> String {
    let (status, location) =
        authorize(app, &authorize_path(client_id, REDIRECT), Some(cookie)).await;
    assert_eq!(status, StatusCode::FOUND, "{location}");
    let prefix = format!("{REDIRECT}&");
    let query = location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("back to the app: {location}"));
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        pairs[1],
        ("state".to_owned(), "s 1".to_owned()),
        "{location}"
    );
    assert_eq!(pairs[0].0, "authCode", "{location}");
    pairs[0].1.clone()
}

async fn user_token(app: &TestApp, body: Value) -> Reply {
    app.call(
        Method::POST,
        "/v1.0/oauth2/userAccessToken",
        None,
        Some(body),
    )
    .await
}

async fn me(app: &TestApp, token: &str) -> Reply {
    Reply::from(
        app.http
            .get(format!("{}/v1.0/contact/users/me", app.base))
            .header("x-acs-dingtalk-access-token", token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

api_tests! {
    async fn a_session_becomes_a_single_use_code_then_a_user_token_that_reads_who_signed_in(app) {
        let dt = install(&app, &["directory:read"]).await;
        // Without a session: the log-in page first, which comes back here.
        let path = authorize_path(&dt.key, REDIRECT);
        let (status, location) = authorize(&app, &path, None).await;
        assert_eq!(status, StatusCode::FOUND);
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(location, format!("/login?next={next}"));
        let cookie = session(&app).await;
        // Bad requests: no page, no code.
        for bad in [
            authorize_path(&dt.key, "javascript:alert(1)"),
            authorize_path(&dt.key, "https://h5.example.com/#fragment"),
            authorize_path("tnc_nobody", REDIRECT),
            format!("/oauth2/authorize?redirect_uri={REDIRECT}"),
        ] {
            let (status, _) = authorize(&app, &bad, Some(&cookie)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        }

        let code = auth_code(&app, &dt.key, &cookie).await;
        let exchange = json!({"clientId": dt.key, "clientSecret": dt.secret, "code": code, "grantType": "authorization_code"});
        let reply = user_token(&app, exchange.clone()).await;
        let token = reply.expect(StatusCode::OK).clone();
        assert_eq!((&token["expireIn"], &token["corpId"]), (&json!(7200), &json!(app.org.id.to_string())), "{token}");
        let access = token["accessToken"].as_str().unwrap().to_owned();
        // Single use.
        v1_error(&user_token(&app, exchange).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        // Who signed in, on v1.0 and as the member on the native API.
        let who = me(&app, &access).await;
        let who = who.expect(StatusCode::OK).clone();
        assert_eq!(who["nick"], app.owner.name.as_str());
        let union_id = who["unionId"].as_str().unwrap().to_owned();
        assert_eq!(union_id, tenon_store::dingtalk_unionid(app.owner.id));
        let own = Reply::from(app.http.get(format!("{}/v1.0/contact/users/{union_id}", app.base)).header("x-acs-dingtalk-access-token", &access).send().await.unwrap()).await;
        assert_eq!(own.expect(StatusCode::OK)["unionId"], json!(union_id));
        // Another user's unionId, of this organization or another, is not found.
        let (_, other_owner, _) = app.other_org().await;
        for union_id in [tenon_store::dingtalk_unionid(other_owner.id), tenon_store::dingtalk_unionid(tenon_model::MemberId::new())] {
            let reply = Reply::from(app.http.get(format!("{}/v1.0/contact/users/{union_id}", app.base)).header("x-acs-dingtalk-access-token", &access).send().await.unwrap()).await;
            v1_error(&reply, StatusCode::NOT_FOUND, "resource.not.found");
        }
        let native = app.get("/api/v1/me", &access).await;
        assert!(native.expect(StatusCode::OK).to_string().contains(&app.owner.id.to_string()));
        // An app's own token is no user's.
        let app_token = crate::dingtalk::gettoken(&app, &dt.key, &dt.secret).await.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        v1_error(&me(&app, &app_token).await, StatusCode::NOT_FOUND, "resource.not.found");
        v1_error(&me(&app, "tnp_nonsense").await, StatusCode::BAD_REQUEST, "InvalidAuthentication");

        // The refresh token gives a new pair, once.
        let refresh = json!({"clientId": dt.key, "clientSecret": dt.secret, "refreshToken": token["refreshToken"], "grantType": "refresh_token"});
        let renewed = user_token(&app, refresh.clone()).await;
        let renewed = renewed.expect(StatusCode::OK).clone();
        assert_ne!(renewed["accessToken"], token["accessToken"]);
        me(&app, renewed["accessToken"].as_str().unwrap()).await.expect(StatusCode::OK);
        v1_error(&user_token(&app, refresh).await, StatusCode::BAD_REQUEST, "InvalidParameter");

        // A code is bound to its app, and to its secret; it lives 5 minutes.
        let other = install(&app, &["directory:read"]).await;
        let code = auth_code(&app, &dt.key, &cookie).await;
        v1_error(&user_token(&app, json!({"clientId": other.key, "clientSecret": other.secret, "code": code, "grantType": "authorization_code"})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        let code = auth_code(&app, &dt.key, &cookie).await;
        v1_error(&user_token(&app, json!({"clientId": dt.key, "clientSecret": "wrong", "code": code, "grantType": "authorization_code"})).await, StatusCode::BAD_REQUEST, "invalidClientIdOrSecret");
        let code = auth_code(&app, &dt.key, &cookie).await;
        app.clock.advance(TimeDelta::minutes(6));
        v1_error(&user_token(&app, json!({"clientId": dt.key, "clientSecret": dt.secret, "code": code, "grantType": "authorization_code"})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&user_token(&app, json!({"clientId": dt.key, "clientSecret": dt.secret, "grantType": "authorization_code"})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&user_token(&app, json!({"clientId": dt.key, "clientSecret": dt.secret, "code": "x", "grantType": "password"})).await, StatusCode::BAD_REQUEST, "unsupported.grant.type");
        v1_error(&user_token(&app, json!({"clientId": dt.key, "code": 5})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        app
    }

    async fn getuserinfo_spends_a_code_of_the_calling_app_for_the_userid(app) {
        let dt = install(&app, &["directory:read"]).await;
        let other = install(&app, &["directory:read"]).await;
        let cookie = session(&app).await;
        let token = crate::dingtalk::gettoken(&app, &dt.key, &dt.secret).await.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        let getuserinfo = |code: String| {
            let path = format!("/topapi/v2/user/getuserinfo?access_token={token}");
            let app = &app;
            async move { app.call(Method::POST, &path, None, Some(json!({"code": code}))).await }
        };
        let code = auth_code(&app, &dt.key, &cookie).await;
        let reply = getuserinfo(code.clone()).await;
        let body = reply.expect(StatusCode::OK).clone();
        assert_eq!(body["errcode"], 0, "{body}");
        let result = &body["result"];
        assert_eq!(result["userid"], app.owner.id.to_string());
        assert_eq!((&result["sys"], &result["sys_level"], &result["name"]), (&json!(true), &json!(1), &json!(app.owner.name.as_str())));
        assert_eq!(result["unionid"], tenon_store::dingtalk_unionid(app.owner.id));
        // Spent; another app's code; no code.
        assert_eq!(getuserinfo(code).await.expect(StatusCode::OK)["errcode"], 40078);
        let theirs = auth_code(&app, &other.key, &cookie).await;
        assert_eq!(getuserinfo(theirs).await.expect(StatusCode::OK)["errcode"], 40078);
        assert_eq!(getuserinfo(String::new()).await.expect(StatusCode::OK)["errcode"], 40035);
        app
    }

    async fn the_official_sdk_exchanges_a_code_reads_me_and_refreshes(app) {
        let dt = install(&app, &["directory:read"]).await;
        let cookie = session(&app).await;
        let code = auth_code(&app, &dt.key, &cookie).await;
        let endpoint = app.base.trim_start_matches("http://").to_owned();
        let (key, secret) = (dt.key.clone(), dt.secret.clone());
        let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(SCRIPT).args([&endpoint, &key, &secret, &code]).output())
            .await
            .unwrap()
            .expect("python3 runs (.ci/run installs alibabacloud-dingtalk==2.2.65)");
        assert!(output.status.success(), "the SDK script failed: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let steps: Vec<Value> = String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(names, ["userToken", "me", "refreshed", "spentCode"]);
        assert_eq!(steps[0]["keys"], json!(["accessToken", "corpId", "expireIn", "refreshToken"]), "no SDK fallback to _map");
        assert_eq!(steps[0]["corp_id"], app.org.id.to_string());
        assert_eq!(steps[1]["nick"], app.owner.name.as_str());
        assert_eq!(steps[1]["union_id"], tenon_store::dingtalk_unionid(app.owner.id));
        assert_eq!(steps[2]["new_token"], true);
        assert_eq!((&steps[3]["code"], &steps[3]["status"]), (&json!("InvalidParameter"), &json!(400)));
        app
    }
    async fn authorize_sends_members_only_to_a_redirect_uri_the_app_registered(app) {
        let dt = install(&app, &["directory:read"]).await;
        let cookie = session(&app).await;
        let installations = app.get("/api/v1/installations", &app.admin_token).await.expect(StatusCode::OK).clone();
        let mine = installations["items"].as_array().unwrap().iter().find(|i| i["client_id"] == json!(dt.key)).unwrap().clone();
        assert_eq!(mine["redirect_uris"], json!([REGISTERED]));
        let installation = format!("/api/v1/installations/{}", mine["id"].as_str().unwrap());
        // Any other address, however close, gets the refusal page — before a log-in and after — and no code.
        for other in [
            "https://evil.example.com/signed-in",
            "https://h5.example.com/signed-in/../../evil",
            "https://h5.example.com/signed-inx",
            "https://h5.example.com.evil.com/signed-in",
            "http://h5.example.com/signed-in",
            "https://h5.example.com/",
        ] {
            let page = refused(&app, &authorize_path(&dt.key, other), None).await;
            assert!(page.contains("DingTalk H5") && page.contains("redirect_uri"), "{page}");
            refused(&app, &authorize_path(&dt.key, other), Some(&cookie)).await;
        }
        // An unknown app: the page too, naming the client id escaped.
        let page = refused(&app, &authorize_path("<b>nobody</b>", REDIRECT), Some(&cookie)).await;
        assert!(page.contains("&lt;b&gt;nobody&lt;/b&gt;") && !page.contains("<b>nobody"), "{page}");
        // The registered address, with any query, is allowed.
        let (status, location) = authorize(&app, &authorize_path(&dt.key, REGISTERED), Some(&cookie)).await;
        assert_eq!(status, StatusCode::FOUND);
        assert!(location.starts_with(&format!("{REGISTERED}?authCode=")), "{location}");

        // Registering: http(s) URLs with a host, no query or fragment, at most 10; bad input changes nothing.
        let audit = app.audit_len().await;
        for (bad, at) in [
            (json!(["javascript:alert(1)"]), "redirect_uris[0]"),
            (json!([REGISTERED, "https://h5.example.com/x?y=1"]), "redirect_uris[1]"),
            (json!(["https://h5.example.com/#top"]), "redirect_uris[0]"),
            (json!(["https:///nohost"]), "redirect_uris[0]"),
            (json!((0..11).map(|n| format!("https://h5.example.com/{n}")).collect::<Vec<_>>()), "redirect_uris"),
        ] {
            let reply = app.patch(&installation, &app.admin_token, json!({"redirect_uris": bad, "event_format": "dingtalk"})).await;
            assert!(reply.status.is_client_error(), "{bad}: {}", reply.body);
            assert!(reply.body.to_string().contains(at), "{bad}: {}", reply.body);
        }
        assert_eq!(app.audit_len().await, audit, "a refused change writes nothing");
        let unchanged = app.get(&installation, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((&unchanged["redirect_uris"], &unchanged["event_format"]), (&json!([REGISTERED]), &json!("native")));
        // A new address works once registered; with none registered, nowhere does.
        let moved = "https://m.example.com/cb";
        let changed = app.patch(&installation, &app.admin_token, json!({"redirect_uris": [moved, moved]})).await.expect(StatusCode::OK).clone();
        assert_eq!(changed["redirect_uris"], json!([moved]));
        let (status, location) = authorize(&app, &authorize_path(&dt.key, moved), Some(&cookie)).await;
        assert_eq!(status, StatusCode::FOUND, "{location}");
        refused(&app, &authorize_path(&dt.key, REDIRECT), Some(&cookie)).await;
        app.patch(&installation, &app.admin_token, json!({"redirect_uris": []})).await.expect(StatusCode::OK);
        refused(&app, &authorize_path(&dt.key, moved), Some(&cookie)).await;

        // Only the organization that registered the app may change them.
        let (_, _, other_admin) = app.other_org().await;
        let theirs = app.post("/api/v1/installations", &other_admin, json!({"client_id": dt.key, "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(theirs["redirect_uris"], json!([]));
        let path = format!("/api/v1/installations/{}", theirs["id"].as_str().unwrap());
        let reply = app.patch(&path, &other_admin, json!({"redirect_uris": ["https://evil.example.com/"]})).await;
        reply.expect(StatusCode::CONFLICT);
        let still = app.get(&installation, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(still["redirect_uris"], json!([]));
        app
    }
}
