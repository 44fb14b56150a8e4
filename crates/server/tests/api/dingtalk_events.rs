//! DingTalk-format events (#21 item 6): subscriptions that receive DingTalk's encrypted HTTP callbacks,
//! checked by a receiver that decrypts as DingTalk's `DingCallbackCrypto3.py` does (a separate Python
//! process, so Tenon's crypto is held to an independent implementation), and installations whose stream
//! frames carry DingTalk's event names. Approval events reach a DingTalk-format subscription as
//! `bpms_instance_change`/`bpms_task_change` callbacks with DingTalk's keys and JSON types.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::dingtalk::install;
use crate::{TestApp, api_tests};

const RECEIVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/dingtalk_callback_receiver.py"
);
const TOKEN: &str = "tenon-callback-token";
const AES_KEY: &str = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij";
/// How long a callback that must come may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// A running receiver: its URL, and the lines it prints (one per callback).
struct Receiver {
    child: Child,
    url: String,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Receiver {
    fn start(owner_key: &str, wrong_answers: u32) -> Receiver {
        let mut child = Command::new("python3")
            .arg(RECEIVER)
            .args([TOKEN, AES_KEY, owner_key, &wrong_answers.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (cryptography comes with alibabacloud-dingtalk)");
        let stdout = child.stdout.take().unwrap();
        let (sender, mut lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = sender.send(value);
                }
            }
        });
        // Called off the runtime: the receiver prints its port at once.
        let first = lines.blocking_recv().expect("the receiver's port line")["port"]
            .as_u64()
            .expect("the port first");
        Receiver {
            child,
            url: format!("http://127.0.0.1:{first}/dingtalk/callback?app=tenon"),
            lines,
        }
    }

    /// The next callback the receiver got, within the deadline.
    async fn next(&mut self) -> Value {
        match tokio::time::timeout(DEADLINE, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the receiver exited: {:?}", self.child.try_wait()),
            Err(_) => panic!("no callback within {DEADLINE:?}"),
        }
    }

    /// No callback for a while.
    async fn quiet(&mut self) {
        if let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_millis(1500), self.lines.recv()).await
        {
            panic!("an unexpected callback: {line}");
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A verified callback's message, with the query DingTalk's receivers read.
#[track_caller]
fn opened(line: &Value) -> &Value {
    assert_eq!(
        line["verified"], true,
        "the receiver verified and opened it: {line}"
    );
    for key in [
        "signature",
        "msg_signature",
        "timestamp",
        "timeStamp",
        "nonce",
    ] {
        assert!(line["query"][key].is_string(), "{key} in the query: {line}");
    }
    assert_eq!(line["query"]["app"], "tenon", "the URL's own query is kept");
    assert_eq!(line["query"]["timestamp"], line["query"]["timeStamp"]);
    &line["message"]
}

fn subscription(url: &str, types: &[&str]) -> Value {
    json!({"url": url, "event_types": types, "format": "dingtalk", "dingtalk": {"token": TOKEN, "aes_key": AES_KEY}})
}

async fn oapi(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let reply = app
        .call(
            Method::POST,
            &format!("{path}?access_token={token}"),
            None,
            Some(body),
        )
        .await;
    let body = reply.expect(StatusCode::OK).clone();
    assert_eq!(body["errcode"], 0, "{path}: {body}");
    body
}

/// Polls the subscription's newest delivery until `condition` holds.
async fn delivery_when(
    app: &TestApp,
    token: &str,
    subscription: &str,
    condition: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let reply = app
            .get(
                &format!("/api/v1/subscriptions/{subscription}/deliveries"),
                token,
            )
            .await;
        let delivery = reply.expect(StatusCode::OK)["items"][0].clone();
        if condition(&delivery) {
            return delivery;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery stays {delivery}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn app_token(app: &TestApp, key: &str, secret: &str) -> String {
    let reply = crate::dingtalk::gettoken(app, key, secret).await;
    reply.expect(StatusCode::OK)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

api_tests! {
    async fn dingtalk_callbacks_are_encrypted_for_dingtalks_receiver_and_retried_until_it_answers_success(app) {
        let dt = install(&app, &["directory:read", "directory:write", "events:manage"]).await;
        let token = app_token(&app, &dt.key, &dt.secret).await;
        // The app's own subscription: the plaintext ends with its app key. The first event callback is
        // answered with a plain {"errcode": 0}, which is not DingTalk's encrypted success.
        let mut receiver = tokio::task::spawn_blocking({
            let key = dt.key.clone();
            move || Receiver::start(&key, 1)
        })
        .await
        .unwrap();
        let created = app.post("/api/v1/subscriptions", &token, subscription(&receiver.url, &["org_dept_create", "user_add_org", "user_leave_org"])).await;
        let created = created.expect(StatusCode::CREATED).clone();
        assert_eq!(created["format"], "dingtalk");
        assert_eq!(created["event_types"], json!(["org_dept_create", "user_add_org", "user_leave_org"]));
        let check = receiver.next().await;
        assert_eq!(opened(&check)["EventType"], "check_url", "{check}");

        // A department and a user made through oapi: DingTalk's names and ids.
        let dept = oapi(&app, &token, "/topapi/v2/department/create", json!({"name": "Sales", "parent_id": 1})).await;
        let dept_id = dept["result"]["dept_id"].as_i64().unwrap();
        let first = receiver.next().await;
        let message = opened(&first);
        assert_eq!((&message["EventType"], &message["DeptId"]), (&json!("org_dept_create"), &json!([dept_id])), "{first}");
        assert_eq!(message["CorpId"], app.org.id.to_string());
        // That answer was not the encrypted success: once the attempt is recorded as failed, the callback
        // comes again on the retry schedule.
        let subscription_id = created["id"].as_str().unwrap();
        let failed = delivery_when(&app, &token, subscription_id, |d| d["attempts"] == 1).await;
        assert_eq!(failed["status"], "pending", "{failed}");
        assert!(failed["attempt_log"][0]["error"].as_str().unwrap().contains("encrypted success"), "{failed}");
        app.clock.advance(TimeDelta::seconds(7));
        let again = receiver.next().await;
        assert_eq!(opened(&again)["EventId"], message["EventId"], "the same event again: {again}");
        delivery_when(&app, &token, subscription_id, |d| d["status"] == "delivered" && d["attempts"] == 2).await;

        oapi(&app, &token, "/topapi/v2/user/create", json!({"userid": "zhang.san", "name": "张三", "mobile": "13800000031", "dept_id_list": [dept_id]})).await;
        let added = receiver.next().await;
        assert_eq!((&opened(&added)["EventType"], &opened(&added)["UserId"]), (&json!("user_add_org"), &json!(["zhang.san"])), "{added}");
        // user_modify_org was not asked for: nothing is sent for an update.
        oapi(&app, &token, "/topapi/v2/user/update", json!({"userid": "zhang.san", "title": "Lead"})).await;
        receiver.quiet().await;
        // A deleted user is still named by its chosen userid.
        oapi(&app, &token, "/topapi/v2/user/delete", json!({"userid": "zhang.san"})).await;
        let left = receiver.next().await;
        assert_eq!((&opened(&left)["EventType"], &opened(&left)["UserId"]), (&json!("user_leave_org"), &json!(["zhang.san"])), "{left}");
        // A member set `left` through the native API leaves the organization too, named by member id.
        let member = app.post("/api/v1/members", &app.admin_token, json!({"name": "Li Lei"})).await.expect(StatusCode::CREATED).clone();
        let member_id = member["id"].as_str().unwrap();
        let joined = receiver.next().await;
        assert_eq!(opened(&joined)["UserId"], json!([member_id]));
        app.patch(&format!("/api/v1/members/{member_id}"), &app.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
        let gone = receiver.next().await;
        assert_eq!((&opened(&gone)["EventType"], &opened(&gone)["UserId"]), (&json!("user_leave_org"), &json!([member_id])), "{gone}");
        // A DingTalk subscription's URL and types are fixed; it is not pinged.
        app.patch(&format!("/api/v1/subscriptions/{subscription_id}"), &token, json!({"event_types": ["user_modify_org"]})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.patch(&format!("/api/v1/subscriptions/{subscription_id}"), &token, json!({"description": "DingTalk sync"})).await.expect(StatusCode::OK);
        drop(receiver);
        app
    }

    async fn a_dingtalk_subscription_to_bpms_changes_receives_them_decrypted_in_dingtalks_shape(app) {
        let dt = install(&app, &["apps:read", "apps:write", "approvals:read", "approvals:write", "events:manage"]).await;
        let token = app_token(&app, &dt.key, &dt.secret).await;
        let mut receiver = tokio::task::spawn_blocking({
            let key = dt.key.clone();
            move || Receiver::start(&key, 0)
        })
        .await
        .unwrap();
        let created = app.post("/api/v1/subscriptions", &token, subscription(&receiver.url, &["bpms_instance_change", "bpms_task_change"])).await;
        created.expect(StatusCode::CREATED);
        assert_eq!(opened(&receiver.next().await)["EventType"], "check_url");
        // An instance started and agreed with a comment through DingTalk's v1.0 API (the oapi token serves it).
        let li = crate::dingtalk_workflow::member(&app, "Li Lei").await;
        let han = crate::dingtalk_workflow::member(&app, "Han Meimei").await;
        let code = crate::dingtalk_workflow::create_form(&app, &token).await;
        let id = crate::dingtalk_workflow::start(&app, &token, &code, &li, &han).await;
        let got = crate::dingtalk_workflow::get_instance(&app, &token, &id).await;
        let task_id = got["result"]["tasks"][0]["taskId"].as_i64().unwrap();
        let executed = crate::dingtalk_workflow::v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/execute", Some(json!({"processInstanceId": id, "actionerUserId": han, "taskId": task_id, "result": "agree", "remark": "同意，早点回来"}))).await;
        executed.expect(StatusCode::OK);
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let line = receiver.next().await;
            let message = opened(&line);
            // DingTalk's callback shape: PascalCase envelope keys, the approval's own keys camelCase beside them.
            let event_type = message["EventType"].as_str().unwrap();
            assert!(message["TimeStamp"].is_string() && message["EventId"].is_string(), "{message}");
            assert_eq!((&message["CorpId"], &message["corpId"], &message["processInstanceId"], &message["processCode"]), (&json!(app.org.id.to_string()), &json!(app.org.id.to_string()), &json!(id), &json!(code)), "{message}");
            assert!(message.get("eventType").is_none(), "{message}");
            let (kind, result, remark) = crate::dingtalk_workflow::check_bpms(event_type, message, "Li Lei提交的请假");
            if event_type == "bpms_task_change" {
                assert_eq!(message["taskId"], json!(task_id), "{message}");
            }
            seen.push((message["instanceSeq"].as_i64().unwrap(), event_type.to_owned(), kind, message["staffId"].as_str().unwrap().to_owned(), result, remark));
        }
        seen.sort();
        let text = |value: &str| Some(value.to_owned());
        assert_eq!(seen, [
            (1, "bpms_instance_change".to_owned(), "start".to_owned(), li.clone(), None, None),
            (2, "bpms_task_change".to_owned(), "start".to_owned(), han.clone(), None, None),
            (3, "bpms_task_change".to_owned(), "finish".to_owned(), han.clone(), text("agree"), text("同意，早点回来")),
            (4, "bpms_instance_change".to_owned(), "finish".to_owned(), li.clone(), text("agree"), None),
        ]);
        receiver.quiet().await;
        drop(receiver);
        app
    }

    async fn dingtalk_subscriptions_need_dingtalk_types_settings_and_a_check_url_answered_with_success(app) {
        let dt = install(&app, &["directory:read", "events:manage"]).await;
        let token = app_token(&app, &dt.key, &dt.secret).await;
        // The receiver expects the organization's id as the owner key, but an app's subscription uses its app key.
        let mut receiver = tokio::task::spawn_blocking({
            let org = app.org.id.to_string();
            move || Receiver::start(&org, 0)
        })
        .await
        .unwrap();
        let before = app.get("/api/v1/subscriptions", &app.admin_token).await.expect(StatusCode::OK)["items"].as_array().unwrap().len();
        let refused = app.post("/api/v1/subscriptions", &token, subscription(&receiver.url, &["user_add_org"])).await;
        let body = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(body["details"][0]["field"], "url", "{body}");
        let refusal = receiver.next().await;
        assert_eq!(refusal["verified"], false, "the receiver could not open it: {refusal}");
        // The organization's own subscription uses the organization's id: accepted.
        app.post("/api/v1/subscriptions", &app.admin_token, subscription(&receiver.url, &["user_add_org"])).await.expect(StatusCode::CREATED);
        assert_eq!(opened(&receiver.next().await)["EventType"], "check_url");
        // Native and DingTalk names do not mix, either way; the settings are required and checked.
        let cases = [
            json!({"url": receiver.url, "event_types": ["user_add_org", "member.created"], "format": "dingtalk", "dingtalk": {"token": TOKEN, "aes_key": AES_KEY}}),
            json!({"url": receiver.url, "event_types": ["member.created", "user_add_org"]}),
            json!({"url": receiver.url, "event_types": ["user_add_org"], "format": "dingtalk"}),
            json!({"url": receiver.url, "event_types": ["user_add_org"], "format": "dingtalk", "dingtalk": {"token": TOKEN, "aes_key": "short"}}),
            json!({"url": receiver.url, "event_types": ["user_add_org"], "format": "dingtalk", "dingtalk": {"token": "", "aes_key": AES_KEY}}),
            json!({"url": receiver.url, "event_types": ["member.created"], "dingtalk": {"token": TOKEN, "aes_key": AES_KEY}}),
            json!({"url": receiver.url, "event_types": ["user_add_org"], "format": "xml", "dingtalk": {"token": TOKEN, "aes_key": AES_KEY}}),
        ];
        for case in cases {
            app.post("/api/v1/subscriptions", &app.admin_token, case.clone()).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        }
        receiver.quiet().await;
        let after = app.get("/api/v1/subscriptions", &app.admin_token).await.expect(StatusCode::OK)["items"].as_array().unwrap().len();
        assert_eq!(after, before + 1, "only the accepted subscription was made");
        drop(receiver);
        app
    }

    async fn a_dingtalk_format_installation_streams_directory_events_under_dingtalk_names(app) {
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "DingTalk stream", "scopes": ["directory:read", "directory:write", "records:read"], "event_format": "dingtalk"})).await;
        let created = created.expect(StatusCode::CREATED).clone();
        assert_eq!(created["event_format"], "dingtalk");
        let (key, secret) = (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
        let token = app_token(&app, &key, &secret).await;
        let mut socket = crate::stream::connect(&app, &key, &secret).await;
        // A record event has no DingTalk name: a DingTalk-format installation does not get it.
        crate::stream::notes(&app).await;
        crate::stream::create_note(&app, "not for DingTalk").await;
        oapi(&app, &token, "/topapi/v2/user/create", json!({"userid": "li.si", "name": "李四", "mobile": "13800000032", "dept_id_list": [1]})).await;
        let frame = crate::stream::next_event(&mut socket).await;
        assert_eq!(frame["headers"]["eventType"], "user_add_org", "{frame}");
        assert_eq!(frame["headers"]["eventCorpId"], app.org.id.to_string());
        let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["userId"], json!(["li.si"]), "{data}");
        assert!(data["timeStamp"].is_string() && data["eventId"] == frame["headers"]["eventId"], "{data}");
        crate::stream::ack(&mut socket, &frame, 200, json!({"status": "SUCCESS"})).await;
        oapi(&app, &token, "/topapi/v2/department/create", json!({"name": "Ops", "parent_id": 1})).await;
        let frame = crate::stream::next_event(&mut socket).await;
        assert_eq!(frame["headers"]["eventType"], "org_dept_create", "{frame}");
        let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["deptId"], json!([2]));
        crate::stream::ack(&mut socket, &frame, 200, json!({"status": "SUCCESS"})).await;
        // Back to the native format: the next frame is native.
        let installation = created["id"].as_str().unwrap();
        let patched = app.patch(&format!("/api/v1/installations/{installation}"), &app.admin_token, json!({"event_format": "native"})).await;
        assert_eq!(patched.expect(StatusCode::OK)["event_format"], "native");
        app.patch(&format!("/api/v1/installations/{installation}"), &app.admin_token, json!({"event_format": "xml"})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        oapi(&app, &token, "/topapi/v2/department/create", json!({"name": "Support", "parent_id": 1})).await;
        loop {
            let frame = crate::stream::next_event(&mut socket).await;
            crate::stream::ack(&mut socket, &frame, 200, json!({"status": "SUCCESS"})).await;
            if frame["headers"]["eventType"] == "department.created" {
                break;
            }
            assert_eq!(frame["headers"]["eventType"], "record.created", "{frame}");
        }
        app
    }

    async fn a_stream_subscribed_to_a_dingtalk_type_gets_exactly_the_events_rendered_under_it(app) {
        // Two DingTalk-format apps (one cursor each): one subscribed to user_modify_org alone, one to
        // user_leave_org alone. Both renderings come from member.updated.
        let (mut sockets, mut installations) = (vec![], vec![]);
        for topic in ["user_modify_org", "user_leave_org"] {
            let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": format!("Stream {topic}"), "scopes": ["directory:read"], "event_format": "dingtalk"})).await;
            let created = created.expect(StatusCode::CREATED).clone();
            let (key, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
            sockets.push(crate::stream::connect_with(&app, key, secret, &[topic]).await);
            installations.push(created["id"].as_str().unwrap().parse::<tenon_model::InstallationId>().unwrap());
        }
        let [mut modify, mut leave] = <[_; 2]>::try_from(sockets).unwrap();
        let mut members = vec![];
        for name in ["Han Meimei", "Li Lei"] {
            let member = app.post("/api/v1/members", &app.admin_token, json!({"name": name})).await.expect(StatusCode::CREATED).clone();
            members.push(member["id"].as_str().unwrap().to_owned());
        }
        let (stays, goes) = (&members[0], &members[1]);
        let member = |id: &str| format!("/api/v1/members/{id}");
        // A change, a member set left, another change, a deletion: in commit order.
        app.patch(&member(stays), &app.admin_token, json!({"job_title": "Lead"})).await.expect(StatusCode::OK);
        app.patch(&member(goes), &app.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
        app.patch(&member(stays), &app.admin_token, json!({"job_title": "Head"})).await.expect(StatusCode::OK);
        app.delete(&member(stays), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let user = |frame: &Value| {
            let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
            (frame["headers"]["eventType"].as_str().unwrap().to_owned(), data["userId"][0].as_str().unwrap().to_owned())
        };
        // user_modify_org: the two changes and nothing else. The leave was committed before the second
        // change and is never held back by another member's events, so it would come first.
        for _ in 0..2 {
            let frame = crate::stream::next_event(&mut modify).await;
            assert_eq!(user(&frame), ("user_modify_org".to_owned(), stays.clone()), "{frame}");
            crate::stream::ack(&mut modify, &frame, 200, json!({"status": "SUCCESS"})).await;
        }
        // user_leave_org: the member set left (member.updated) and the deleted one (member.deleted), no
        // change before either.
        let mut left = vec![];
        for _ in 0..2 {
            let frame = crate::stream::next_event(&mut leave).await;
            left.push(user(&frame));
            crate::stream::ack(&mut leave, &frame, 200, json!({"status": "SUCCESS"})).await;
        }
        left.sort();
        let mut expected = vec![("user_leave_org".to_owned(), goes.clone()), ("user_leave_org".to_owned(), stays.clone())];
        expected.sort();
        assert_eq!(left, expected);
        // What was not wanted was passed, not left waiting: after one more change and one more leave each
        // socket gets its own next, and both queues end empty.
        let third = app.post("/api/v1/members", &app.admin_token, json!({"name": "Wei Hua"})).await.expect(StatusCode::CREATED).clone();
        let third = third["id"].as_str().unwrap().to_owned();
        app.patch(&member(&third), &app.admin_token, json!({"job_title": "Clerk"})).await.expect(StatusCode::OK);
        app.patch(&member(&third), &app.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
        let frame = crate::stream::next_event(&mut modify).await;
        assert_eq!(user(&frame), ("user_modify_org".to_owned(), third.clone()), "{frame}");
        crate::stream::ack(&mut modify, &frame, 200, json!({"status": "SUCCESS"})).await;
        let frame = crate::stream::next_event(&mut leave).await;
        assert_eq!(user(&frame), ("user_leave_org".to_owned(), third.clone()), "{frame}");
        crate::stream::ack(&mut leave, &frame, 200, json!({"status": "SUCCESS"})).await;
        for installation in installations {
            crate::stream_sdk::until_queue(&app, installation, "an empty queue", <[_]>::is_empty).await;
        }
        app
    }

    async fn the_dingtalk_stream_sdk_receives_dingtalk_named_events(app) {
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "DingTalk SDK", "scopes": ["directory:read", "directory:write"], "event_format": "dingtalk"})).await;
        let created = created.expect(StatusCode::CREATED).clone();
        let (key, secret) = (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
        let token = app_token(&app, &key, &secret).await;
        let mut sdk = crate::stream_sdk::SdkClient::start(&app, &key, &secret, "ack", 0);
        oapi(&app, &token, "/topapi/v2/department/create", json!({"name": "Ops", "parent_id": 1})).await;
        oapi(&app, &token, "/topapi/v2/user/create", json!({"userid": "wang.wu", "name": "王五", "mobile": "13800000033", "dept_id_list": [2]})).await;
        oapi(&app, &token, "/topapi/v2/user/delete", json!({"userid": "wang.wu"})).await;
        let mut seen = vec![];
        while seen.len() < 3 {
            let line = sdk.next().await;
            let event = &line["acked"];
            let id = event["data"]["userId"].get(0).or_else(|| event["data"]["deptId"].get(0)).cloned().unwrap_or(Value::Null);
            seen.push((event["event_type"].as_str().unwrap().to_owned(), id));
        }
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(seen, [("org_dept_create".to_owned(), json!(2)), ("user_add_org".to_owned(), json!("wang.wu")), ("user_leave_org".to_owned(), json!("wang.wu"))]);
        drop(sdk);
        app
    }
}
