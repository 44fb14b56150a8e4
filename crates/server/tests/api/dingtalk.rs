//! The DingTalk-compatible API (#21): tokens of both families and the one error layer — under `/v1.0/`
//! every non-2xx is `{"code", "message", "requestid"}`, on oapi paths every answer is HTTP 200 with an
//! integer `errcode`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

/// An installed app: its client id and secret.
pub struct DingTalkApp {
    pub key: String,
    pub secret: String,
}

pub async fn install(app: &TestApp, scopes: &[&str]) -> DingTalkApp {
    let body = app
        .post(
            "/api/v1/clients",
            &app.admin_token,
            json!({"name": "DingTalk connector", "scopes": scopes}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    DingTalkApp {
        key: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// A request without a Tenon credential, with any body bytes and content type.
pub async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> Reply {
    Reply::from(
        app.http
            .request(method, format!("{}{path}", app.base))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub async fn gettoken(app: &TestApp, key: &str, secret: &str) -> Reply {
    app.call(
        Method::GET,
        &format!("/gettoken?appkey={key}&appsecret={secret}"),
        None,
        None,
    )
    .await
}

/// A v1.0 error: this status, exactly the keys `code`, `message`, `requestid`, the request id of the header.
#[track_caller]
pub fn v1_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    let keys: Vec<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["code", "message", "requestid"],
        "body: {}",
        reply.body
    );
    assert_eq!(reply.body["code"], code, "body: {}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        reply.body["requestid"].as_str(),
        reply.header("x-request-id")
    );
}

/// An oapi error: HTTP 200 with this integer `errcode`, a message and the request id.
#[track_caller]
pub fn oapi_error(reply: &Reply, errcode: i64) {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
    assert_eq!(
        reply.body["errcode"].as_i64(),
        Some(errcode),
        "body: {}",
        reply.body
    );
    assert!(
        reply.body["errmsg"]
            .as_str()
            .is_some_and(|m| !m.is_empty() && m != "ok")
    );
    assert_eq!(
        reply.body["request_id"].as_str(),
        reply.header("x-request-id")
    );
}

pub async fn oapi_post(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    app.call(
        Method::POST,
        &format!("{path}?access_token={token}"),
        None,
        Some(body),
    )
    .await
}

async fn corp(app: &TestApp, org: &str, body: Value) -> Reply {
    app.call(
        Method::POST,
        &format!("/v1.0/oauth2/{org}/token"),
        None,
        Some(body),
    )
    .await
}

pub fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

api_tests! {
    async fn tokens_of_both_families_are_tenon_access_tokens_with_the_installations_scopes(app) {
        let dt = install(&app, &["directory:read"]).await;
        // 1. GET /gettoken (oapi).
        let reply = gettoken(&app, &dt.key, &dt.secret).await;
        let body = reply.expect(StatusCode::OK).clone();
        assert_eq!(keys(&body), ["errcode", "errmsg", "access_token", "expires_in", "request_id"]);
        assert_eq!((body["errcode"].as_i64(), body["errmsg"].as_str(), body["expires_in"].as_i64()), (Some(0), Some("ok"), Some(7200)));
        let oapi_token = body["access_token"].as_str().unwrap().to_owned();
        assert!(oapi_token.starts_with("tna_"));
        assert!(oapi_token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)), "{oapi_token} is not URL-safe");
        // 2. POST /v1.0/oauth2/accessToken, with a key DingTalk's SDKs may add.
        let reply = app.call(Method::POST, "/v1.0/oauth2/accessToken", None, Some(json!({"appKey": dt.key, "appSecret": dt.secret, "extra": [1]}))).await;
        let body = reply.expect(StatusCode::OK).clone();
        assert_eq!(body, json!({"accessToken": body["accessToken"], "expireIn": 7200}));
        let v1_token = body["accessToken"].as_str().unwrap().to_owned();
        assert!(v1_token.starts_with("tna_") && v1_token != oapi_token);
        // 3. POST /v1.0/oauth2/{corpId}/token, snake_case.
        let reply = app.call(Method::POST, &format!("/v1.0/oauth2/{}/token", app.org.id), None,
            Some(json!({"client_id": dt.key, "client_secret": dt.secret, "grant_type": "client_credentials"}))).await;
        let body = reply.expect(StatusCode::OK).clone();
        assert_eq!(body, json!({"access_token": body["access_token"], "expires_in": 7200}));
        let corp_token = body["access_token"].as_str().unwrap().to_owned();
        // Each is a Tenon access token of the organization with the installation's scopes, on the native API.
        for token in [&oapi_token, &v1_token, &corp_token] {
            let members = app.get("/api/v1/members", token).await.expect(StatusCode::OK).clone();
            assert_eq!(members["items"][0]["id"], app.owner.id.to_string());
            app.get("/api/v1/apps", token).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        }
        app
    }

    async fn token_errors_have_each_familys_shape_and_issue_nothing(app) {
        let dt = install(&app, &["directory:read"]).await;
        let before = app.audit_len().await;
        // oapi: HTTP 200, errcode 40035 (missing) and 40096 (wrong secret, unknown key).
        oapi_error(&app.call(Method::GET, "/gettoken", None, None).await, 40035);
        oapi_error(&app.call(Method::GET, &format!("/gettoken?appkey={}", dt.key), None, None).await, 40035);
        oapi_error(&gettoken(&app, &dt.key, "tncs_wrong").await, 40096);
        oapi_error(&gettoken(&app, "tnc_unknown", &dt.secret).await, 40096);
        // v1.0 accessToken: 400 MissingParameter, invalidClientIdOrSecret, InvalidParameter.
        let access = |body: Value| app.call(Method::POST, "/v1.0/oauth2/accessToken", None, Some(body));
        v1_error(&access(json!({"appKey": dt.key})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&access(json!({})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&access(json!({"appKey": dt.key, "appSecret": "tncs_wrong"})).await, StatusCode::BAD_REQUEST, "invalidClientIdOrSecret");
        v1_error(&access(json!({"appKey": "tnc_unknown", "appSecret": dt.secret})).await, StatusCode::BAD_REQUEST, "invalidClientIdOrSecret");
        v1_error(&access(json!({"appKey": 12, "appSecret": dt.secret})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&raw(&app, Method::POST, "/v1.0/oauth2/accessToken", "application/json", "{").await, StatusCode::BAD_REQUEST, "InvalidParameter");
        // v1.0 corp token: unsupported.grant.type, invalid.client (wrong secret, other organization), MissingParameter.

        let org = app.org.id.to_string();
        v1_error(&corp(&app, &org, json!({"client_id": dt.key, "client_secret": dt.secret, "grant_type": "password"})).await, StatusCode::BAD_REQUEST, "unsupported.grant.type");
        v1_error(&corp(&app, &org, json!({"client_id": dt.key, "client_secret": "x", "grant_type": "client_credentials"})).await, StatusCode::BAD_REQUEST, "invalid.client");
        v1_error(&corp(&app, &org, json!({"client_id": dt.key, "grant_type": "client_credentials"})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        let (other, _, _) = app.other_org().await;
        v1_error(&corp(&app, &other.id.to_string(), json!({"client_id": dt.key, "client_secret": dt.secret, "grant_type": "client_credentials"})).await, StatusCode::BAD_REQUEST, "invalid.client");
        assert_eq!(app.audit_len().await, before, "no token was issued");
        app
    }

    async fn an_app_installed_in_two_organizations_must_use_the_corp_token(app) {
        let dt = install(&app, &["directory:read"]).await;
        let (other, other_owner, other_admin) = app.other_org().await;
        app.post("/api/v1/installations", &other_admin, json!({"client_id": dt.key, "scopes": ["directory:read"]})).await.expect(StatusCode::CREATED);
        oapi_error(&gettoken(&app, &dt.key, &dt.secret).await, 40035);
        let reply = app.call(Method::POST, "/v1.0/oauth2/accessToken", None, Some(json!({"appKey": dt.key, "appSecret": dt.secret}))).await;
        v1_error(&reply, StatusCode::BAD_REQUEST, "MissingParameter");
        let reply = app.call(Method::POST, &format!("/v1.0/oauth2/{}/token", other.id), None,
            Some(json!({"client_id": dt.key, "client_secret": dt.secret, "grant_type": "client_credentials"}))).await;
        let token = reply.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        let members = app.get("/api/v1/members", &token).await.expect(StatusCode::OK).clone();
        let ids: Vec<&str> = members["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [other_owner.id.to_string()]);
        app
    }

    async fn departments_are_numbered_root_1_then_by_the_organizations_counter_never_reused(app) {
        let list = app.get("/api/v1/departments", &app.admin_token).await.expect(StatusCode::OK).clone();
        let root = list["items"].as_array().unwrap().iter().find(|d| d["parent_id"].is_null()).unwrap().clone();
        assert_eq!(root["number"], 1);
        let create = |name: &'static str| app.post("/api/v1/departments", &app.admin_token, json!({"name": name}));
        let sales = create("Sales").await.expect(StatusCode::CREATED).clone();
        let ops = create("Ops").await.expect(StatusCode::CREATED).clone();
        assert_eq!((sales["number"].as_i64(), ops["number"].as_i64()), (Some(2), Some(3)));
        app.delete(&format!("/api/v1/departments/{}", ops["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let hr = create("HR").await.expect(StatusCode::CREATED).clone();
        assert_eq!(hr["number"], 4, "a deleted department's number is not reused");
        let fetched = app.get(&format!("/api/v1/departments/{}", sales["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(fetched.expect(StatusCode::OK)["number"], 2);
        // Each organization counts its own.
        let (_, _, other_admin) = app.other_org().await;
        let theirs = app.post("/api/v1/departments", &other_admin, json!({"name": "Sales"})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(theirs["number"], 2);
        app
    }

    async fn oapi_departments_by_number_one_level_with_lenient_parameters(app) {
        let dt = install(&app, &["directory:read"]).await;
        let token = gettoken(&app, &dt.key, &dt.secret).await.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        let sales = app.post("/api/v1/departments", &app.admin_token, json!({"name": "Sales", "sort_order": 2})).await.expect(StatusCode::CREATED).clone();
        app.post("/api/v1/departments", &app.admin_token, json!({"name": "Ops", "sort_order": 1})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/departments", &app.admin_token, json!({"name": "East", "parent_id": sales["id"]})).await.expect(StatusCode::CREATED);

        // listsub: one level, by sort order; the root by default.
        let reply = oapi_post(&app, &token, "/topapi/v2/department/listsub", json!({"dept_id": 1, "language": "zh_CN"})).await;
        let body = reply.expect(StatusCode::OK).clone();
        assert_eq!(keys(&body), ["errcode", "errmsg", "result", "request_id"]);
        assert_eq!(body["errcode"], 0);
        assert_eq!(body["result"], json!([
            {"dept_id": 3, "name": "Ops", "parent_id": 1, "create_dept_group": false, "auto_add_user": false},
            {"dept_id": 2, "name": "Sales", "parent_id": 1, "create_dept_group": false, "auto_add_user": false},
        ]));
        assert_eq!(oapi_post(&app, &token, "/topapi/v2/department/listsub", json!({})).await.body["result"], body["result"]);
        // A scalar as text, and a form body.
        let east = oapi_post(&app, &token, "/topapi/v2/department/listsub", json!({"dept_id": "2"})).await;
        assert_eq!(east.body["result"], json!([{"dept_id": 4, "name": "East", "parent_id": 2, "create_dept_group": false, "auto_add_user": false}]));
        let form = raw(&app, Method::POST, &format!("/topapi/v2/department/get?access_token={token}"), "application/x-www-form-urlencoded", "dept_id=4").await;
        assert_eq!(form.expect(StatusCode::OK)["result"], json!({"dept_id": 4, "name": "East", "parent_id": 2, "order": 0}));
        let root = oapi_post(&app, &token, "/topapi/v2/department/get", json!({"dept_id": 1})).await;
        assert_eq!(root.body["result"], json!({"dept_id": 1, "name": app.org.name.as_str(), "order": 0}));
        // Errors: missing or malformed parameter 40035, unknown department 60003, token 88, scope 60011.
        oapi_error(&oapi_post(&app, &token, "/topapi/v2/department/get", json!({})).await, 40035);
        oapi_error(&oapi_post(&app, &token, "/topapi/v2/department/get", json!({"dept_id": "two"})).await, 40035);
        oapi_error(&oapi_post(&app, &token, "/topapi/v2/department/get", json!({"dept_id": 99})).await, 60003);
        oapi_error(&oapi_post(&app, &token, "/topapi/v2/department/listsub", json!({"dept_id": 99})).await, 60003);
        let missing = app.call(Method::POST, "/topapi/v2/department/get", None, Some(json!({"dept_id": 1}))).await;
        oapi_error(&missing, 88);
        assert_eq!(missing.body["sub_code"], "40000");
        // A native bearer is not a DingTalk carrier.
        oapi_error(&app.call(Method::POST, "/topapi/v2/department/get", Some(&token), Some(json!({"dept_id": 1}))).await, 88);
        let invalid = app.call(Method::POST, "/topapi/v2/department/get?access_token=tna_invalid", None, Some(json!({"dept_id": 1}))).await;
        oapi_error(&invalid, 88);
        assert_eq!(invalid.body["sub_code"], "40014");
        let ledger = app.token(&["ledger:read"]).await;
        oapi_error(&app.call(Method::POST, &format!("/topapi/v2/department/get?access_token={ledger}"), None, Some(json!({"dept_id": 1}))).await, 60011);
        // Another organization's token sees its own tree only.
        let (_, _, other_admin) = app.other_org().await;
        oapi_error(&app.call(Method::POST, &format!("/topapi/v2/department/get?access_token={other_admin}"), None, Some(json!({"dept_id": 2}))).await, 60003);
        app
    }

    async fn v1_user_search_matches_name_mobile_or_job_number_with_the_header_token(app) {
        let dt = install(&app, &["directory:read"]).await;
        let token = app.call(Method::POST, "/v1.0/oauth2/accessToken", None, Some(json!({"appKey": dt.key, "appSecret": dt.secret}))).await
            .expect(StatusCode::OK)["accessToken"].as_str().unwrap().to_owned();
        let mut ids = vec![];
        for (name, mobile, employee_no) in [("Li Lei", "13800000001", "E-7"), ("Han Meimei", "13900000002", "E-8"), ("Wang Li", "13700000003", "X-1")] {
            let member = app.post("/api/v1/members", &app.admin_token, json!({"name": name, "mobile": mobile, "employee_no": employee_no})).await.expect(StatusCode::CREATED).clone();
            ids.push(member["id"].as_str().unwrap().to_owned());
        }
        let search = |body: Value, token: Option<String>| {
            let mut request = app.http.post(format!("{}/v1.0/contact/users/search", app.base)).json(&body);
            if let Some(token) = token {
                request = request.header("x-acs-dingtalk-access-token", token);
            }
            async move { Reply::from(request.send().await.unwrap()).await }
        };
        let tok = || Some(token.clone());
        // Name (ASCII case ignored), page by page.
        let first = search(json!({"queryWord": "li", "offset": 0, "size": 1}), tok()).await.expect(StatusCode::OK).clone();
        let mut named = [ids[0].clone(), ids[2].clone()];
        named.sort();
        assert_eq!(first, json!({"hasMore": true, "totalCount": 2, "list": [named[0]]}));
        let second = search(json!({"queryWord": "li", "offset": 1, "size": 1}), tok()).await.expect(StatusCode::OK).clone();
        assert_eq!(second, json!({"hasMore": false, "totalCount": 2, "list": [named[1]]}));
        // Mobile and job number; `%` is a character, not a wildcard.
        assert_eq!(search(json!({"queryWord": "139000"}), tok()).await.body["list"], json!([ids[1]]));
        assert_eq!(search(json!({"queryWord": "x-1"}), tok()).await.body["list"], json!([ids[2]]));
        assert_eq!(search(json!({"queryWord": "%"}), tok()).await.body, json!({"hasMore": false, "totalCount": 0, "list": []}));
        // Errors in the v1.0 shape.
        v1_error(&search(json!({"offset": 0}), tok()).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&search(json!({"queryWord": "li", "size": 101}), tok()).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&search(json!({"queryWord": "li", "size": "2"}), tok()).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&search(json!({"queryWord": "li"}), None).await, StatusCode::BAD_REQUEST, "AuthenticationFailed.MissingParameter");
        v1_error(&search(json!({"queryWord": "li"}), Some("tna_invalid".to_owned())).await, StatusCode::BAD_REQUEST, "InvalidAuthentication");
        let ledger = app.token(&["ledger:read"]).await;
        v1_error(&search(json!({"queryWord": "li"}), Some(ledger)).await, StatusCode::FORBIDDEN, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
        // A native bearer is not the v1.0 carrier.
        let reply = app.call(Method::POST, "/v1.0/contact/users/search", Some(&token), Some(json!({"queryWord": "li"}))).await;
        v1_error(&reply, StatusCode::BAD_REQUEST, "AuthenticationFailed.MissingParameter");
        app
    }

    async fn unknown_apis_wrong_methods_and_bad_credentials_stay_dingtalk_shaped(app) {
        // v1.0: router 404 and 405, a native bearer that is not valid.
        v1_error(&app.call(Method::POST, "/v1.0/nothing/here", None, Some(json!({}))).await, StatusCode::NOT_FOUND, "InvalidAction.NotFound");
        v1_error(&app.call(Method::GET, "/v1.0/oauth2/accessToken", None, None).await, StatusCode::METHOD_NOT_ALLOWED, "InvalidAction.MethodNotAllowed");
        // oapi: an unknown API is errcode 22 with HTTP 200, and so is a wrong method.
        oapi_error(&app.call(Method::POST, "/topapi/v2/nothing", None, Some(json!({}))).await, 22);
        oapi_error(&app.call(Method::POST, "/gettoken", None, Some(json!({}))).await, 22);
        // An undocumented query parameter is a parameter error, in the family's shape.
        oapi_error(&app.call(Method::GET, "/gettoken?appkey=a&appsecret=b&fliter=1", None, None).await, 40035);
        // The native API and the stream handshake keep their own shape.
        app.call(Method::GET, "/api/v1/nothing", None, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let reply = app.call(Method::POST, "/v1.0/gateway/connections/open", None, Some(json!({"clientId": "tnc_x", "clientSecret": "y"}))).await;
        assert!(reply.body["error"]["code"].is_string(), "{}", reply.body);
        app
    }
}

/// A body over the server's limit is 413 `RequestEntityTooLarge` on v1.0, in the v1.0 shape.
async fn a_body_over_the_limit_is_dingtalk_shaped(backend: tenon_store::testing::TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let app = TestApp::spawn(
        &database,
        tenon_server::ServerConfig {
            secure_cookies: false,
            max_body_bytes: 4096,
            ..tenon_server::ServerConfig::default()
        },
    )
    .await;
    let big = json!({"appKey": "x".repeat(5000), "appSecret": "y"}).to_string();
    let reply = raw(
        &app,
        Method::POST,
        "/v1.0/oauth2/accessToken",
        "application/json",
        &big,
    )
    .await;
    v1_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_dingtalk_shaped_sqlite() {
    a_body_over_the_limit_is_dingtalk_shaped(tenon_store::testing::TestBackend::Sqlite).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_dingtalk_shaped_postgres() {
    a_body_over_the_limit_is_dingtalk_shaped(tenon_store::testing::TestBackend::Postgres).await;
}
