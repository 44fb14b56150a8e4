//! DingTalk work notifications on oapi (#21 item 7b): `topapi/message/corpconversation/asyncsend_v2` to
//! userids, departments (with their sub-departments) or everyone leaves the message in each recipient's
//! inbox (`GET /api/v1/me/notifications`) with one `notification.created` event each; `getsendprogress`
//! and `getsendresult` answer with DingTalk's shapes; unknown userids and departments are reported, not
//! refused; bad input and other organizations' tokens write nothing here.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::dingtalk::{gettoken, install, keys, oapi_error, oapi_post, raw};
use crate::{TestApp, api_tests};

const SEND: &str = "/topapi/message/corpconversation/asyncsend_v2";
const PROGRESS: &str = "/topapi/message/corpconversation/getsendprogress";
const RESULT: &str = "/topapi/message/corpconversation/getsendresult";

/// An oapi token of an app installed with these scopes.
async fn oapi_token(app: &TestApp, scopes: &[&str]) -> String {
    let dt = install(app, scopes).await;
    gettoken(app, &dt.key, &dt.secret)
        .await
        .expect(StatusCode::OK)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[track_caller]
fn ok(reply: &crate::Reply) -> Value {
    let body = reply.expect(StatusCode::OK).clone();
    assert_eq!(
        (body["errcode"].as_i64(), body["errmsg"].as_str()),
        (Some(0), Some("ok")),
        "{body}"
    );
    assert_eq!(body["request_id"].as_str(), reply.header("x-request-id"));
    body
}

async fn inbox(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/v1/me/notifications?page_size=100", token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The `notification.created` events of the app's organization, oldest first.
async fn notification_events(app: &TestApp) -> Vec<Value> {
    app.get(
        "/api/v1/events?types=notification.created&page_size=1000",
        &app.admin_token,
    )
    .await
    .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

api_tests! {
    async fn work_notifications_reach_the_inboxes_of_userids_departments_and_everyone(app) {
        let token = oapi_token(&app, &["directory:read", "directory:write"]).await;
        let post = |path: &'static str, body: Value| oapi_post(&app, &token, path, body);
        // Sales (2) with East (3) under it; Li in Sales, Han in East, Wang in the root only.
        ok(&post("/topapi/v2/department/create", json!({"name": "Sales", "parent_id": 1})).await);
        ok(&post("/topapi/v2/department/create", json!({"name": "East", "parent_id": 2})).await);
        ok(&post("/topapi/v2/user/create", json!({"userid": "lilei", "name": "Li Lei", "mobile": "13800000001", "dept_id_list": "2"})).await);
        ok(&post("/topapi/v2/user/create", json!({"userid": "han", "name": "Han Meimei", "mobile": "13800000002", "dept_id_list": "3"})).await);
        ok(&post("/topapi/v2/user/create", json!({"userid": "wang", "name": "Wang Wu", "mobile": "13800000003", "dept_id_list": "1"})).await);
        let members = app.get("/api/v1/members?page_size=100", &app.admin_token).await.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
        let member_of = |name: &str| members.iter().find(|m| m["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
        let owner = app.owner.id.to_string();
        let tokens = [
            ("lilei", member_token(&app, &member_of("Li Lei")).await),
            ("han", member_token(&app, &member_of("Han Meimei")).await),
            ("wang", member_token(&app, &member_of("Wang Wu")).await),
            ("owner", member_token(&app, &owner).await),
        ];

        // 1. To userids: an unknown one is reported by getsendresult, not refused.
        let text = json!({"msgtype": "text", "text": {"content": "月报请于周五前提交"}});
        let sent = ok(&post(SEND, json!({"agent_id": 1001, "userid_list": "lilei,nobody", "msg": text})).await);
        assert_eq!(keys(&sent), ["errcode", "errmsg", "task_id", "request_id"]);
        let first = sent["task_id"].as_i64().expect("task_id is an integer");
        assert!(first > 0);
        let progress = ok(&post(PROGRESS, json!({"agent_id": 1001, "task_id": first})).await);
        assert_eq!(keys(&progress), ["errcode", "errmsg", "progress", "request_id"]);
        assert_eq!(progress["progress"], json!({"progress_in_percent": 100, "status": 2}));
        let result = ok(&post(RESULT, json!({"agent_id": "1001", "task_id": first.to_string()})).await);
        assert_eq!(keys(&result), ["errcode", "errmsg", "send_result", "request_id"]);
        assert_eq!(result["send_result"], json!({
            "invalid_user_id_list": ["nobody"], "forbidden_user_id_list": [], "failed_user_id_list": [],
            "read_user_id_list": [], "unread_user_id_list": ["lilei"], "invalid_dept_id_list": [],
        }));
        let li = inbox(&app, &tokens[0].1).await;
        assert_eq!(li.len(), 1, "{li:?}");
        assert_eq!((&li[0]["title"], &li[0]["text"], &li[0]["read_at"]), (&Value::Null, &json!("月报请于周五前提交"), &Value::Null));
        assert_eq!(li[0]["source"], json!({"type": "dingtalk.work_notification", "task_id": first, "agent_id": 1001, "msg": text}));
        for (who, token) in &tokens[1..] {
            assert_eq!(inbox(&app, token).await, Vec::<Value>::new(), "{who}");
        }
        let events = notification_events(&app).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["subject"]["member_id"], json!(member_of("Li Lei")));
        assert_eq!(events[0]["subject"]["notification_id"], li[0]["id"]);
        assert_eq!((&events[0]["data"]["text"], &events[0]["data"]["source"]["task_id"]), (&json!("月报请于周五前提交"), &json!(first)));
        assert_eq!(events[0]["actor"]["type"], "app");

        // 2. To departments: their members and their sub-departments' members; an unknown number reported.
        let markdown = json!({"msgtype": "markdown", "markdown": {"title": "销售周会", "text": "## 周一 9:00"}});
        let second = ok(&post(SEND, json!({"agent_id": 1001, "dept_id_list": [2, 99], "msg": markdown})).await)["task_id"].as_i64().unwrap();
        assert_ne!(second, first);
        let result = ok(&post(RESULT, json!({"agent_id": 1001, "task_id": second})).await);
        assert_eq!(sorted(strings(&result["send_result"]["unread_user_id_list"])), ["han", "lilei"]);
        assert_eq!(result["send_result"]["invalid_dept_id_list"], json!([99]));
        assert_eq!(result["send_result"]["invalid_user_id_list"], json!([]));
        let han = inbox(&app, &tokens[1].1).await;
        assert_eq!(han.len(), 1, "{han:?}");
        assert_eq!((&han[0]["title"], &han[0]["text"]), (&json!("销售周会"), &json!("## 周一 9:00")));
        assert_eq!(inbox(&app, &tokens[0].1).await.len(), 2);
        assert_eq!(inbox(&app, &tokens[2].1).await, Vec::<Value>::new(), "Wang is in no department named");

        // 3. To everyone, as a form with `msg` as JSON text: every active member, owner included (its userid
        // is its member id).
        let card = json!({"msgtype": "action_card", "action_card": {"title": "放假通知", "markdown": "元旦放假三天", "single_title": "查看", "single_url": "https://example.com/n/1"}});
        let form = format!("agent_id=1001&to_all_user=true&msg={}", form_urlencoded::byte_serialize(card.to_string().as_bytes()).collect::<String>());
        let third = ok(&raw(&app, Method::POST, &format!("{SEND}?access_token={token}"), "application/x-www-form-urlencoded", &form).await)["task_id"].as_i64().unwrap();
        let result = ok(&post(RESULT, json!({"agent_id": 1001, "task_id": third})).await);
        assert_eq!(sorted(strings(&result["send_result"]["unread_user_id_list"])), sorted(vec!["han".into(), "lilei".into(), "wang".into(), owner.clone()]));
        let owners = inbox(&app, &tokens[3].1).await;
        assert_eq!(owners.len(), 1);
        assert_eq!((&owners[0]["title"], &owners[0]["text"], &owners[0]["source"]["msg"]), (&json!("放假通知"), &json!("元旦放假三天"), &card));
        // A link, to the owner by member id.
        let link = json!({"msgtype": "link", "link": {"title": "报销单", "text": "待你审批", "messageUrl": "https://example.com/e/7", "picUrl": "@lADO"}});
        ok(&post(SEND, json!({"agent_id": 1001, "userid_list": [owner], "msg": link})).await);
        assert_eq!(inbox(&app, &tokens[3].1).await[0]["text"], "待你审批\nhttps://example.com/e/7");

        // One event per recipient: 1 + 2 + 4 + 1.
        let events = notification_events(&app).await;
        assert_eq!(events.len(), 8);
        let inboxes = [(0, 3), (1, 2), (2, 1), (3, 2)];
        for (index, count) in inboxes {
            assert_eq!(inbox(&app, &tokens[index].1).await.len(), count, "{}", tokens[index].0);
        }
        app
    }

    async fn work_notifications_refuse_bad_input_and_other_organizations_writing_nothing(app) {
        let token = oapi_token(&app, &["directory:read", "directory:write"]).await;
        let post = |path: &'static str, body: Value| oapi_post(&app, &token, path, body);
        ok(&post("/topapi/v2/user/create", json!({"userid": "lilei", "name": "Li Lei", "mobile": "13800000001", "dept_id_list": "1"})).await);
        let li = app.get("/api/v1/members?page_size=100", &app.admin_token).await.expect(StatusCode::OK)["items"].as_array().unwrap()
            .iter().find(|m| m["name"] == "Li Lei").unwrap()["id"].as_str().unwrap().to_owned();
        let li_token = member_token(&app, &li).await;
        let owner_token = member_token(&app, &app.owner.id.to_string()).await;
        let msg = json!({"msgtype": "text", "text": {"content": "hi"}});
        let task = ok(&post(SEND, json!({"agent_id": 7, "userid_list": "lilei", "msg": msg})).await)["task_id"].as_i64().unwrap();
        let events = notification_events(&app).await.len();
        assert_eq!(events, 1);

        // Missing token: 88 / 40000, on all three routes.
        for path in [SEND, PROGRESS, RESULT] {
            let missing = app.call(Method::POST, path, None, Some(json!({"agent_id": 7, "userid_list": "lilei", "task_id": task, "msg": msg}))).await;
            oapi_error(&missing, 88);
            assert_eq!(missing.body["sub_code"], "40000");
        }
        // Missing or malformed parameters: 40035.
        for body in [
            json!({}),
            json!({"userid_list": "lilei", "msg": msg}),
            json!({"agent_id": "seven", "userid_list": "lilei", "msg": msg}),
            json!({"agent_id": 7, "msg": msg}),
            json!({"agent_id": 7, "userid_list": [], "dept_id_list": "", "to_all_user": false, "msg": msg}),
            json!({"agent_id": 7, "userid_list": "lilei"}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": "not json"}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": [1]}),
            json!({"agent_id": 7, "userid_list": {"a": 1}, "msg": msg}),
            json!({"agent_id": 7, "dept_id_list": "1,x", "msg": msg}),
            json!({"agent_id": 7, "to_all_user": "maybe", "msg": msg}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": {"msgtype": "oa", "oa": {}}}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": {"msgtype": "text", "text": {}}}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": {"msgtype": "markdown", "markdown": {"title": "t"}}}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": {"msgtype": "link", "link": {"title": "t", "text": "x"}}}),
            json!({"agent_id": 7, "userid_list": "lilei", "msg": {"msgtype": "action_card", "action_card": {"title": "t"}}}),
        ] {
            oapi_error(&post(SEND, body.clone()).await, 40035);
        }
        let unreadable = raw(&app, Method::POST, &format!("{SEND}?access_token={token}"), "application/json", "{not json").await;
        oapi_error(&unreadable, 40035);
        for path in [PROGRESS, RESULT] {
            oapi_error(&post(path, json!({"agent_id": 7})).await, 40035);
            oapi_error(&post(path, json!({"task_id": task})).await, 40035);
            oapi_error(&post(path, json!({"agent_id": 7, "task_id": "x"})).await, 40035);
            oapi_error(&post(path, json!({"agent_id": 7, "task_id": task + 1})).await, 40035);
        }
        // Scope: a token without `directory:read` gets 60011.
        let ledger = oapi_token(&app, &["ledger:read"]).await;
        oapi_error(&oapi_post(&app, &ledger, SEND, json!({"agent_id": 7, "userid_list": "lilei", "msg": msg})).await, 60011);
        oapi_error(&oapi_post(&app, &ledger, RESULT, json!({"agent_id": 7, "task_id": task})).await, 60011);

        // Another organization's token never reaches this organization's members, departments or tasks.
        let (_, other_owner, other_admin) = app.other_org().await;
        let theirs = |path: &'static str, body: Value| oapi_post(&app, &other_admin, path, body);
        oapi_error(&theirs(RESULT, json!({"agent_id": 7, "task_id": task})).await, 40035);
        oapi_error(&theirs(PROGRESS, json!({"agent_id": 7, "task_id": task})).await, 40035);
        let owner = app.owner.id.to_string();
        let their_task = ok(&theirs(SEND, json!({"agent_id": 7, "userid_list": ["lilei", li.as_str(), owner.as_str()], "dept_id_list": "1,2", "msg": msg})).await)["task_id"].as_i64().unwrap();
        let their_result = ok(&theirs(RESULT, json!({"agent_id": 7, "task_id": their_task})).await);
        assert_eq!(their_result["send_result"]["invalid_user_id_list"], json!(["lilei", li, owner]));
        assert_eq!(their_result["send_result"]["invalid_dept_id_list"], json!([2]));
        assert_eq!(their_result["send_result"]["unread_user_id_list"], json!([other_owner.id.to_string()]), "their root has only their owner");
        let everyone = ok(&theirs(SEND, json!({"agent_id": 7, "to_all_user": true, "msg": msg})).await)["task_id"].as_i64().unwrap();
        let everyone = ok(&theirs(RESULT, json!({"agent_id": 7, "task_id": everyone})).await);
        assert_eq!(everyone["send_result"]["unread_user_id_list"], json!([other_owner.id.to_string()]));
        // And our task is not theirs to read.
        oapi_error(&post(RESULT, json!({"agent_id": 7, "task_id": their_task})).await, 40035);

        // Nothing was written here by any refused or foreign request.
        assert_eq!(notification_events(&app).await.len(), events);
        assert_eq!(inbox(&app, &li_token).await.len(), 1);
        assert_eq!(inbox(&app, &owner_token).await, Vec::<Value>::new());
        let result = ok(&post(RESULT, json!({"agent_id": 7, "task_id": task})).await);
        assert_eq!(result["send_result"]["unread_user_id_list"], json!(["lilei"]));
        app
    }
}
