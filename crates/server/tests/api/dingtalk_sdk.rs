//! The DingTalk-compatible API driven by DingTalk's official Python SDK (`alibabacloud-dingtalk` 2.2.65,
//! installed by `.ci/run`) with nothing changed but the endpoint: both v1.0 token endpoints answer the
//! SDK's models with the right JSON types, the user search answers the SDK's model, the tokens work on the native API and on oapi, and a wrong
//! secret reaches the SDK as DingTalk's error code. The SDK has no call for the oapi directory, so the
//! script calls `topapi/v2/department/*` and `topapi/v2/user/*` over plain HTTP with the SDK's token:
//! a department and users created, listed with cursors, found by mobile, and deleted. A `dingtalk-stream`
//! client of a DingTalk-format installation receives the `bpms_*` changes of the instances the SDK starts,
//! agrees and terminates, with DingTalk's keys and JSON types.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;
use crate::dingtalk::install;

/// A `bpms_*` event as the stream SDK handed it over: instance, `instanceSeq`, event type, `type`,
/// `staffId`, `result`, `remark`.
type Seen = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

const WORKFLOW_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/dingtalk_workflow_client.py"
);

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/dingtalk_api_client.py"
);

/// Runs the SDK script (blocking: call it off the runtime) and returns its steps.
fn run_sdk(endpoint: String, key: String, secret: String, corp_id: String) -> Vec<Value> {
    let output = Command::new("python3")
        .arg(SCRIPT)
        .args([&endpoint, &key, &secret, &corp_id, "lei"])
        .output()
        .expect("python3 runs (.ci/run installs alibabacloud-dingtalk==2.2.65)");
    assert!(
        output.status.success(),
        "the SDK script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Runs the SDK's workflow script (blocking) and returns its steps.
fn run_workflow_sdk(args: [String; 5]) -> Vec<Value> {
    let output = Command::new("python3")
        .arg(WORKFLOW_SCRIPT)
        .args(&args)
        .output()
        .expect("python3 runs (.ci/run installs alibabacloud-dingtalk==2.2.65)");
    assert!(
        output.status.success(),
        "the SDK workflow script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

api_tests! {
    async fn the_official_sdk_creates_a_form_starts_agrees_reads_and_terminates_approvals(app) {
        let dt = install(&app, &["apps:read", "apps:write", "approvals:read", "approvals:write"]).await;
        let mut ids = Vec::new();
        for name in ["Li Lei", "Han Meimei"] {
            let member = app.post("/api/v1/members", &app.admin_token, json!({"name": name})).await.expect(StatusCode::CREATED).clone();
            ids.push(member["id"].as_str().unwrap().to_owned());
        }
        let endpoint = app.base.trim_start_matches("http://").to_owned();
        let args = [endpoint, dt.key.clone(), dt.secret.clone(), ids[0].clone(), ids[1].clone()];
        let steps = tokio::task::spawn_blocking(move || run_workflow_sdk(args)).await.unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(names, ["formCreate", "schema", "start", "agree", "terminate"]);
        let code = steps[0]["process_code"].as_str().unwrap();
        assert_eq!(steps[1]["components"], json!(["TextField", "NumberField", "DDSelectField"]));
        assert_eq!((&steps[2]["status"], &steps[2]["approver"]), (&json!("RUNNING"), &json!(ids[1])));
        assert_eq!(steps[2]["values"], json!({"事由": "rest", "天数": "2", "类型": "年假"}));
        assert_eq!((&steps[3]["success"], &steps[3]["result"], &steps[3]["status"], &steps[3]["outcome"], &steps[3]["task_result"]),
            (&json!(true), &json!(true), &json!("COMPLETED"), &json!("agree"), &json!("AGREE")));
        assert_eq!(steps[3]["records"], json!(["START_PROCESS_INSTANCE", "EXECUTE_TASK_NORMAL", "FINISH_PROCESS_INSTANCE"]));
        assert_eq!((&steps[4]["success"], &steps[4]["status"]), (&json!(true), &json!("TERMINATED")));
        // The native API sees the same instances.
        let instance = steps[2]["instance_id"].as_str().unwrap();
        let native = app.get(&format!("/api/v1/approvals/{instance}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((&native["process"], &native["result"]), (&json!(code), &json!("agree")));
        app
    }

    async fn the_dingtalk_stream_sdk_receives_the_bpms_changes_of_instances_the_official_sdk_starts(app) {
        let scopes = ["apps:read", "apps:write", "approvals:read", "approvals:write"];
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "DingTalk approvals SDK", "scopes": scopes, "event_format": "dingtalk"})).await;
        let created = created.expect(StatusCode::CREATED).clone();
        let (key, secret) = (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
        let li = crate::dingtalk_workflow::member(&app, "Li Lei").await;
        let han = crate::dingtalk_workflow::member(&app, "Han Meimei").await;
        let mut stream = crate::stream_sdk::SdkClient::start(&app, &key, &secret, "ack", 0);
        let endpoint = app.base.trim_start_matches("http://").to_owned();
        let args = [endpoint, key.clone(), secret.clone(), li.clone(), han.clone()];
        let steps = tokio::task::spawn_blocking(move || run_workflow_sdk(args)).await.unwrap();
        let (agreed, terminated) = (steps[2]["instance_id"].as_str().unwrap().to_owned(), steps[4]["instance_id"].as_str().unwrap().to_owned());
        // Eight renderings, four per instance; the SDK hands each to the handler as DingTalk's JSON.
        let mut seen: Vec<Seen> = Vec::new();
        while seen.len() < 8 {
            let line = stream.next().await;
            let event = &line["acked"];
            let event_type = event["event_type"].as_str().unwrap();
            if !event_type.starts_with("bpms_") {
                continue;
            }
            let data = &event["data"];
            assert_eq!((&data["eventType"], &data["corpId"]), (&json!(event_type), &json!(app.org.id.to_string())), "{data}");
            let (kind, result, remark) = crate::dingtalk_workflow::check_bpms(event_type, data, "Li Lei提交的SDK 请假");
            let instance = data["processInstanceId"].as_str().unwrap().to_owned();
            assert!(instance == agreed || instance == terminated, "{data}");
            let staff = data["staffId"].as_str().unwrap().to_owned();
            seen.push((instance, data["instanceSeq"].as_i64().unwrap(), event_type.to_owned(), kind, staff, result, remark));
        }
        seen.sort();
        let row = |instance: &str, seq: i64, event_type: &str, kind: &str, staff: &str, result: Option<&str>, remark: Option<&str>| {
            (instance.to_owned(), seq, event_type.to_owned(), kind.to_owned(), staff.to_owned(), result.map(str::to_owned), remark.map(str::to_owned))
        };
        let mut expected = vec![
            row(&agreed, 1, "bpms_instance_change", "start", &li, None, None),
            row(&agreed, 2, "bpms_task_change", "start", &han, None, None),
            row(&agreed, 3, "bpms_task_change", "finish", &han, Some("agree"), Some("ok")),
            row(&agreed, 4, "bpms_instance_change", "finish", &li, Some("agree"), None),
            row(&terminated, 1, "bpms_instance_change", "start", &li, None, None),
            row(&terminated, 2, "bpms_task_change", "start", &han, None, None),
            row(&terminated, 3, "bpms_task_change", "cancel", &han, None, None),
            row(&terminated, 4, "bpms_instance_change", "terminate", &li, None, None),
        ];
        expected.sort();
        assert_eq!(seen, expected);
        drop(stream);
        app
    }

    async fn the_official_sdk_gets_tokens_that_serve_both_families_and_reads_dingtalk_errors(app) {
        let dt = install(&app, &["directory:read", "directory:write"]).await;
        let member = app.post("/api/v1/members", &app.admin_token, json!({"name": "Li Lei"})).await.expect(StatusCode::CREATED).clone();
        let member_id = member["id"].as_str().unwrap().to_owned();
        let endpoint = app.base.trim_start_matches("http://").to_owned();
        let (key, secret, org) = (dt.key.clone(), dt.secret.clone(), app.org.id.to_string());
        let steps = tokio::task::spawn_blocking(move || run_sdk(endpoint, key, secret, org)).await.unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(names, ["accessToken", "corpToken", "search", "departmentCreate", "userCreate", "userGet", "userList", "userGetByMobile", "deleted", "wrongSecret"]);
        assert_eq!(steps[0]["expire_in"], 7200);
        assert_eq!(steps[1]["expires_in"], 7200);
        assert_eq!((&steps[2]["has_more"], &steps[2]["total_count"], &steps[2]["list"]), (&json!(false), &json!(1), &json!([member_id])));
        // The oapi directory, driven with the SDK's token.
        let dept_id = steps[3]["dept_id"].as_i64().unwrap();
        assert_eq!(dept_id, 2);
        let userids: Vec<String> = steps[4]["userids"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect();
        assert_eq!(userids[0], "sdk.one");
        for generated in &userids[1..] {
            assert!(generated.parse::<tenon_model::MemberId>().is_ok(), "{generated} is a member id");
        }
        assert_eq!((&steps[5]["userid"], &steps[5]["dept_id_list"], &steps[5]["active"]), (&json!("sdk.one"), &json!([dept_id]), &json!(true)));
        let mut listed: Vec<String> = steps[6]["userids"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect();
        assert_eq!(steps[6]["pages"], 2, "three users, two per page");
        listed.sort();
        let mut created = userids.clone();
        created.sort();
        assert_eq!(listed, created);
        assert_eq!(steps[7]["userid"], userids[1]);
        assert_eq!(steps[8]["remaining"], json!([]));
        let members = app.get("/api/v1/members", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(members["items"].as_array().unwrap().iter().all(|m| !m["name"].as_str().unwrap().starts_with("SDK ")), "the users were deleted");
        assert_eq!((&steps[9]["code"], &steps[9]["status"]), (&json!("invalidClientIdOrSecret"), &json!(400)));
        // The v1.0 token on the native API, the corp token on oapi.
        let v1 = steps[0]["token"].as_str().unwrap();
        app.get("/api/v1/members", v1).await.expect(StatusCode::OK);
        let corp = steps[1]["token"].as_str().unwrap();
        let reply = app.call(Method::POST, &format!("/topapi/v2/department/get?access_token={corp}"), None, Some(json!({"dept_id": 1}))).await;
        assert_eq!(reply.expect(StatusCode::OK)["errcode"], 0);
        app
    }
}
