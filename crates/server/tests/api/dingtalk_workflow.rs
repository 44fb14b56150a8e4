//! DingTalk's v1.0 workflow API (#21 part 2) over the native approvals, on both backends and the real
//! socket: a form makes a table of `dingtalk_forms` and a published process; an instance starts with its
//! record in one transaction and is read back with DingTalk's keys, spellings and JSON types; execute,
//! redirect, terminate, forecast and the instance id query act as the native commands do; bad input
//! answers DingTalk's codes and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dingtalk::{install, v1_error};
use crate::{Reply, TestApp, api_tests};

pub(crate) const SCOPES: &[&str] = &[
    "apps:read",
    "apps:write",
    "approvals:read",
    "approvals:write",
    "directory:read",
];

pub async fn v1_token(app: &TestApp, scopes: &[&str]) -> String {
    let dt = install(app, scopes).await;
    app.call(
        Method::POST,
        "/v1.0/oauth2/accessToken",
        None,
        Some(json!({"appKey": dt.key, "appSecret": dt.secret})),
    )
    .await
    .expect(StatusCode::OK)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn v1(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .header("x-acs-dingtalk-access-token", token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.unwrap()).await
}

/// Checks a `bpms_*` rendering (a stream frame's `data` or a callback's plaintext) has DingTalk's keys
/// with DingTalk's JSON types: ids, names and the title text; `createTime`, `finishTime`, `taskId` and
/// `instanceSeq` integers; an instance's `url` (a Tenon page) and `businessId`; a finished task's `remark`
/// and `result`; `title` the one expected. Returns `(type, result, remark)`.
#[track_caller]
pub(crate) fn check_bpms(
    event_type: &str,
    data: &Value,
    title: &str,
) -> (String, Option<String>, Option<String>) {
    let text = |key: &str| {
        assert!(data[key].is_string(), "{key} must be text: {data}");
        data[key].as_str().unwrap().to_owned()
    };
    let integer = |key: &str| assert!(data[key].is_i64(), "{key} must be an integer: {data}");
    for key in ["processInstanceId", "processCode", "corpId", "staffId"] {
        text(key);
    }
    // DingTalk sends `""` for a process without a business category; Tenon's processes have none.
    assert_eq!(text("bizCategoryId"), "", "{data}");
    assert_eq!(
        text("title"),
        title,
        "DingTalk's title, originator and process: {data}"
    );
    integer("createTime");
    integer("instanceSeq");
    let kind = text("type");
    if kind == "finish" || data.get("finishTime").is_some() {
        integer("finishTime");
    }
    let result = (kind == "finish").then(|| text("result"));
    let remark = match event_type {
        "bpms_instance_change" => {
            assert!(
                text("url").starts_with("/apps/"),
                "the url is a Tenon page: {data}"
            );
            text("businessId");
            assert_eq!(text("businessType"), "", "{data}");
            assert!(
                data.get("taskId").is_none() && data.get("remark").is_none(),
                "{data}"
            );
            None
        }
        "bpms_task_change" => {
            integer("taskId");
            text("activityId");
            assert!(
                data.get("url").is_none() && data.get("businessType").is_none(),
                "{data}"
            );
            if kind == "finish" {
                Some(text("remark"))
            } else {
                assert!(
                    data.get("remark").is_none(),
                    "only a finished task has a remark: {data}"
                );
                None
            }
        }
        other => panic!("not a bpms event: {other}"),
    };
    (kind, result, remark)
}

pub(crate) async fn member(app: &TestApp, name: &str) -> String {
    app.post("/api/v1/members", &app.admin_token, json!({"name": name}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn leave_form() -> Value {
    json!({
        "name": "请假",
        "description": "days off",
        "formComponents": [
            {"componentType": "TextField", "props": {"componentId": "TextField_1", "label": "事由", "required": true}},
            {"componentType": "NumberField", "props": {"label": "天数"}},
            {"componentType": "MoneyField", "props": {"label": "补贴"}},
            {"componentType": "DDSelectField", "props": {"label": "类型", "options": [{"key": "a", "value": "年假"}, {"key": "b", "value": "病假"}]}},
            {"componentType": "DDMultiSelectField", "props": {"label": "交接", "options": [{"value": "文档"}, {"value": "钥匙"}]}},
            {"componentType": "DDDateField", "props": {"label": "开始"}},
            {"componentType": "TextareaField", "props": {"label": "备注", "placeholder": "…"}},
            {"componentType": "DDAttachment", "props": {"label": "附件"}},
        ],
        "templateConfig": {"disableFormEdit": true},
    })
}

pub(crate) async fn create_form(app: &TestApp, token: &str) -> String {
    let reply = v1(
        app,
        token,
        Method::POST,
        "/v1.0/workflow/forms",
        Some(leave_form()),
    )
    .await;
    let body = reply.expect(StatusCode::OK).clone();
    assert_eq!(crate::dingtalk::keys(&body), ["result"]);
    assert_eq!(crate::dingtalk::keys(&body["result"]), ["processCode"]);
    body["result"]["processCode"].as_str().unwrap().to_owned()
}

pub(crate) async fn start(
    app: &TestApp,
    token: &str,
    code: &str,
    originator: &str,
    approver: &str,
) -> String {
    let body = json!({
        "processCode": code, "originatorUserId": originator, "deptId": 1,
        "approvers": [{"actionType": "OR", "userIds": [approver]}],
        "formComponentValues": [
            {"name": "事由", "value": "rest"}, {"name": "天数", "value": "2.5"}, {"name": "类型", "value": "年假", "componentType": "DDSelectField"},
            {"name": "交接", "value": "[\"文档\",\"钥匙\"]"}, {"name": "开始", "value": "2026-12-24"},
        ],
    });
    let reply = v1(
        app,
        token,
        Method::POST,
        "/v1.0/workflow/processInstances",
        Some(body),
    )
    .await;
    let body = reply.expect(StatusCode::OK).clone();
    assert_eq!(crate::dingtalk::keys(&body), ["instanceId"]);
    body["instanceId"].as_str().unwrap().to_owned()
}

pub(crate) async fn get_instance(app: &TestApp, token: &str, id: &str) -> Value {
    v1(
        app,
        token,
        Method::GET,
        &format!("/v1.0/workflow/processInstances?processInstanceId={id}"),
        None,
    )
    .await
    .expect(StatusCode::OK)
    .clone()
}

/// `yyyy-MM-ddTHH:mmZ`.
#[track_caller]
fn dingtalk_time(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    let bytes = text.as_bytes();
    assert!(
        text.len() == 17
            && bytes[4] == b'-'
            && bytes[10] == b'T'
            && bytes[13] == b':'
            && text.ends_with('Z'),
        "{text}"
    );
}

api_tests! {
    async fn a_form_makes_a_published_process_and_its_instance_is_agreed_with_dingtalk_shapes(app) {
        let token = v1_token(&app, SCOPES).await;
        let (li, han) = (member(&app, "Li Lei").await, member(&app, "Han Meimei").await);
        let code = create_form(&app, &token).await;
        assert!(code.starts_with("PROC_"), "{code}");
        // The form is a table of dingtalk_forms and a published process with one `or` node of selected approvers.
        let process = app.get(&format!("/api/v1/processes/{code}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((&process["name"], &process["published_version"]), (&json!("请假"), &json!(1)));
        assert_eq!(process["draft"]["nodes"][0]["method"], "or");
        let apps = app.get("/api/v1/apps/dingtalk_forms", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(apps["key"], "dingtalk_forms");
        // A second form goes into the same app.
        let second = create_form(&app, &token).await;
        assert_ne!(second, code);
        // The schema, by component.
        let schema = v1(&app, &token, Method::GET, &format!("/v1.0/workflow/forms/schemas/processCodes?processCode={code}"), None).await.expect(StatusCode::OK).clone();
        let items = schema["result"]["schemaContent"]["items"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|item| item["componentName"].as_str().unwrap()).collect();
        assert_eq!(names, ["TextField", "NumberField", "MoneyField", "DDSelectField", "DDMultiSelectField", "DDDateField", "TextareaField", "DDAttachment"]);
        assert_eq!((&items[0]["props"]["label"], &items[0]["props"]["required"]), (&json!("事由"), &json!(true)));
        assert_eq!(items[3]["props"]["options"], json!(["年假", "病假"]));
        assert_eq!((&schema["result"]["name"], &schema["result"]["status"]), (&json!("请假"), &json!("PUBLISHED")));
        // Start: the record and the instance.
        let id = start(&app, &token, &code, &li, &han).await;
        let native = app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((&native["status"], &native["initiator"]), (&json!("running"), &json!(li)));
        let got = get_instance(&app, &token, &id).await;
        assert_eq!(got["success"], "true");
        let result = &got["result"];
        assert_eq!((&result["status"], &result["result"], &result["originatorUserId"]), (&json!("RUNNING"), &json!(""), &json!(li)));
        assert_eq!((&result["title"], &result["originatorDeptId"]), (&json!("Li Lei提交的请假"), &json!("1")));
        assert_eq!(result["businessId"], native["business_id"]);
        dingtalk_time(&result["createTime"]);
        assert!(result.get("finishTime").is_none());
        assert_eq!(result["approverUserIds"], json!([han]));
        let task = &result["tasks"][0];
        assert!(task["taskId"].is_i64(), "{task}");
        assert_eq!(task["taskId"], native["tasks"][0]["number"]);
        assert_eq!((&task["userId"], &task["status"], &task["result"], &task["activityId"]), (&json!(han), &json!("RUNNING"), &json!("NONE"), &json!("approver")));
        let values: Vec<(&str, &str)> = result["formComponentValues"].as_array().unwrap().iter()
            .map(|value| (value["name"].as_str().unwrap(), value["value"].as_str().unwrap())).collect();
        assert_eq!(values, [("事由", "rest"), ("天数", "2.5"), ("补贴", ""), ("类型", "年假"), ("交接", "[\"文档\",\"钥匙\"]"), ("开始", "2026-12-24"), ("备注", ""), ("附件", "")]);
        assert_eq!(result["operationRecords"][0]["type"], "START_PROCESS_INSTANCE");
        // Agree.
        let execute = json!({"processInstanceId": id, "actionerUserId": han, "taskId": task["taskId"], "result": "agree", "remark": "ok"});
        let done = v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/execute", Some(execute.clone())).await.expect(StatusCode::OK).clone();
        assert_eq!(done, json!({"success": true, "result": true}));
        let got = get_instance(&app, &token, &id).await;
        let result = &got["result"];
        assert_eq!((&result["status"], &result["result"]), (&json!("COMPLETED"), &json!("agree")));
        dingtalk_time(&result["finishTime"]);
        assert_eq!((&result["tasks"][0]["status"], &result["tasks"][0]["result"]), (&json!("COMPLETED"), &json!("AGREE")));
        let types: Vec<&str> = result["operationRecords"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["START_PROCESS_INSTANCE", "EXECUTE_TASK_NORMAL", "FINISH_PROCESS_INSTANCE"]);
        assert_eq!((&result["operationRecords"][1]["userId"], &result["operationRecords"][1]["remark"], &result["operationRecords"][1]["result"]), (&json!(han), &json!("ok"), &json!("AGREE")));
        // Executing again: the task moved on.
        v1_error(&v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/execute", Some(execute)).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        // Instance ids of the process.
        let ids = v1(&app, &token, Method::POST, "/v1.0/workflow/processes/instanceIds/query", Some(json!({"processCode": code, "startTime": 0, "maxResults": 10}))).await.expect(StatusCode::OK).clone();
        assert_eq!(ids, json!({"success": true, "result": {"list": [id]}}));
        let none = v1(&app, &token, Method::POST, "/v1.0/workflow/processes/instanceIds/query", Some(json!({"processCode": code, "startTime": 0, "statuses": ["RUNNING"]}))).await.expect(StatusCode::OK).clone();
        assert_eq!(none["result"]["list"], json!([]));
        app
    }

    async fn redirect_refuse_terminate_and_forecast_act_as_the_native_commands(app) {
        let token = v1_token(&app, SCOPES).await;
        let (li, han, wang) = (member(&app, "Li Lei").await, member(&app, "Han Meimei").await, member(&app, "Wang Wu").await);
        let code = create_form(&app, &token).await;
        let forecast = v1(&app, &token, Method::POST, "/v1.0/workflow/processes/forecast", Some(json!({"processCode": code, "userId": li, "deptId": 1}))).await.expect(StatusCode::OK).clone();
        let rule = &forecast["result"]["workflowActivityRules"][0];
        assert_eq!((&rule["activityId"], &rule["isTargetSelect"], &forecast["result"]["isForecastSuccess"]), (&json!("approver"), &json!(true), &json!(true)));
        // `processId` is the process's number, an integer, as DingTalk's: the organization's first
        // process is 1, the next one 2.
        assert_eq!(forecast["result"]["processId"], json!(1), "{forecast}");
        let second_code = create_form(&app, &token).await;
        let second = v1(&app, &token, Method::POST, "/v1.0/workflow/processes/forecast", Some(json!({"processCode": second_code, "userId": li, "deptId": 1}))).await.expect(StatusCode::OK).clone();
        assert_eq!(second["result"]["processId"], json!(2), "{second}");
        assert_eq!(rule["workflowActor"]["approvalMethod"], "OR");
        let id = start(&app, &token, &code, &li, &han).await;
        let task = get_instance(&app, &token, &id).await["result"]["tasks"][0]["taskId"].clone();
        // Wang is not the assignee: 403, nothing changes.
        let by_wang = json!({"processInstanceId": id, "actionerUserId": wang, "taskId": task, "result": "refuse"});
        v1_error(&v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/execute", Some(by_wang.clone())).await, StatusCode::FORBIDDEN, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
        // Han hands the task to Wang, who refuses.
        let redirected = v1(&app, &token, Method::POST, "/v1.0/workflow/tasks/redirect", Some(json!({"taskId": task, "toUserId": wang, "operateUserId": han, "remark": "away"}))).await.expect(StatusCode::OK).clone();
        assert_eq!(redirected, json!({"result": true}));
        let tasks = get_instance(&app, &token, &id).await["result"]["tasks"].clone();
        assert_eq!((&tasks[0]["result"], &tasks[1]["userId"], &tasks[1]["status"]), (&json!("REDIRECTED"), &json!(wang), &json!("RUNNING")));
        let by_wang = json!({"processInstanceId": id, "actionerUserId": wang, "taskId": tasks[1]["taskId"], "result": "refuse"});
        v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/execute", Some(by_wang)).await.expect(StatusCode::OK);
        let result = get_instance(&app, &token, &id).await["result"].clone();
        assert_eq!((&result["status"], &result["result"], &result["tasks"][1]["result"]), (&json!("COMPLETED"), &json!("refuse"), &json!("REFUSE")));
        // The originator withdraws a second instance; a system terminate needs an administrator's token.
        let second = start(&app, &token, &code, &li, &han).await;
        let terminate = |body: Value, token: String| { let app = &app; async move { v1(app, &token, Method::POST, "/v1.0/workflow/processInstances/terminate", Some(body)).await } };
        v1_error(&terminate(json!({"processInstanceId": second, "isSystem": true, "remark": "stop"}), token.clone()).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        let done = terminate(json!({"processInstanceId": second, "isSystem": false, "operatingUserId": li, "remark": "no longer"}), token.clone()).await.expect(StatusCode::OK).clone();
        assert_eq!(done, json!({"success": true, "result": true}));
        assert_eq!(get_instance(&app, &token, &second).await["result"]["status"], "TERMINATED");
        let third = start(&app, &token, &code, &li, &han).await;
        let admin = v1_token(&app, &["admin"]).await;
        terminate(json!({"processInstanceId": third, "isSystem": true}), admin).await.expect(StatusCode::OK);
        let result = get_instance(&app, &token, &third).await["result"].clone();
        assert_eq!((&result["status"], &result["tasks"][0]["status"]), (&json!("TERMINATED"), &json!("CANCELED")));
        // Another organization's token does not see the instance.
        let (_, _, other) = app.other_org().await;
        v1_error(&v1(&app, &other, Method::GET, &format!("/v1.0/workflow/processInstances?processInstanceId={id}"), None).await, StatusCode::NOT_FOUND, "resource.not.found");
        app
    }

    async fn bad_workflow_input_answers_dingtalk_codes_and_writes_nothing(app) {
        let token = v1_token(&app, SCOPES).await;
        let (li, han) = (member(&app, "Li Lei").await, member(&app, "Han Meimei").await);
        let before = app.audit_len().await;
        let form = |body: Value| { let (app, token) = (&app, token.clone()); async move { v1(app, &token, Method::POST, "/v1.0/workflow/forms", Some(body)).await } };
        let component = |kind: &str| json!({"name": "F", "formComponents": [{"componentType": kind, "props": {"label": "A"}}]});
        v1_error(&form(component("TableField")).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&form(json!({"formComponents": [{"componentType": "TextField", "props": {"label": "A"}}]})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&form(json!({"name": "F", "formComponents": [{"componentType": "TextField", "props": {}}]})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&form(json!({"name": "F"})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&form(json!({"name": 12, "formComponents": []})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&form(json!({"name": "F", "processCode": "PROC_X", "formComponents": [{"componentType": "TextField", "props": {"label": "A"}}]})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&form(json!({"name": "F", "formComponents": [{"componentType": "TextField", "props": {"label": "A"}}, {"componentType": "TextareaField", "props": {"label": "A"}}]})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        assert_eq!(app.audit_len().await, before, "no form was written");
        app.get("/api/v1/apps/dingtalk_forms", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // A token without the scope, and none.
        let reader = v1_token(&app, &["apps:read"]).await;
        v1_error(&v1(&app, &reader, Method::POST, "/v1.0/workflow/forms", Some(leave_form())).await, StatusCode::FORBIDDEN, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
        let anonymous = app.call(Method::POST, "/v1.0/workflow/forms", None, Some(leave_form())).await;
        v1_error(&anonymous, StatusCode::BAD_REQUEST, "AuthenticationFailed.MissingParameter");
        // Starts refused.
        let code = create_form(&app, &token).await;
        let before = app.audit_len().await;
        let start_with = |body: Value| { let (app, token) = (&app, token.clone()); async move { v1(app, &token, Method::POST, "/v1.0/workflow/processInstances", Some(body)).await } };
        let values = json!([{"name": "事由", "value": "rest"}]);
        let approvers = json!([{"actionType": "OR", "userIds": [han]}]);
        v1_error(&start_with(json!({"originatorUserId": li, "approvers": approvers, "formComponentValues": values})).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": li, "approvers": [{"userIds": [han]}, {"userIds": [han]}], "formComponentValues": values})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": "nobody", "approvers": approvers, "formComponentValues": values})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": li, "approvers": [{"userIds": ["nobody"]}], "formComponentValues": values})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": li, "approvers": approvers, "formComponentValues": [{"name": "事由", "value": "x"}, {"name": "天数", "value": "many"}]})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": li, "approvers": approvers, "formComponentValues": [{"name": "天数", "value": "1"}]})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": li, "approvers": approvers, "deptId": 999, "formComponentValues": values})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": "NOPE", "originatorUserId": li, "approvers": approvers, "formComponentValues": values})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&start_with(json!({"processCode": code, "originatorUserId": li, "deptId": "one"})).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        assert_eq!(app.audit_len().await, before, "no record or instance was written");
        let ids = v1(&app, &token, Method::POST, "/v1.0/workflow/processes/instanceIds/query", Some(json!({"processCode": code, "startTime": 0}))).await.expect(StatusCode::OK).clone();
        assert_eq!(ids["result"]["list"], json!([]));
        // Reads and actions: missing and malformed parameters.
        v1_error(&v1(&app, &token, Method::GET, "/v1.0/workflow/processInstances", None).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&v1(&app, &token, Method::GET, "/v1.0/workflow/processInstances?processInstanceId=x", None).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/execute", Some(json!({"processInstanceId": "x"}))).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&v1(&app, &token, Method::POST, "/v1.0/workflow/processes/instanceIds/query", Some(json!({"processCode": code}))).await, StatusCode::BAD_REQUEST, "MissingParameter");
        v1_error(&v1(&app, &token, Method::POST, "/v1.0/workflow/processes/instanceIds/query", Some(json!({"processCode": code, "startTime": 0, "maxResults": 21}))).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&v1(&app, &token, Method::POST, "/v1.0/workflow/tasks/redirect", Some(json!({"taskId": 999999, "toUserId": han, "operateUserId": li}))).await, StatusCode::BAD_REQUEST, "InvalidParameter");
        v1_error(&v1(&app, &token, Method::GET, "/v1.0/workflow/forms/schemas/processCodes?processCode=NOPE", None).await, StatusCode::NOT_FOUND, "resource.not.found");
        app
    }

    async fn a_dingtalk_format_installation_streams_approvals_as_bpms_changes_with_the_instance_seq(app) {
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "DingTalk approvals", "scopes": SCOPES, "event_format": "dingtalk"})).await;
        let created = created.expect(StatusCode::CREATED).clone();
        let (key, secret) = (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
        let token = app.call(Method::POST, "/v1.0/oauth2/accessToken", None, Some(json!({"appKey": key, "appSecret": secret}))).await
            .expect(StatusCode::OK)["accessToken"].as_str().unwrap().to_owned();
        let (li, han) = (member(&app, "Li Lei").await, member(&app, "Han Meimei").await);
        let mut socket = crate::stream::connect(&app, &key, &secret).await;
        let code = create_form(&app, &token).await;
        let id = start(&app, &token, &code, &li, &han).await;
        v1(&app, &token, Method::POST, "/v1.0/workflow/processInstances/terminate", Some(json!({"processInstanceId": id, "operatingUserId": li}))).await.expect(StatusCode::OK);
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let frame = crate::stream::next_event(&mut socket).await;
            if !frame["headers"]["eventType"].as_str().unwrap().starts_with("bpms_") {
                // The members' user_add_org (the installation reads the directory too).
                crate::stream::ack(&mut socket, &frame, 200, json!({"status": "SUCCESS"})).await;
                continue;
            }
            let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
            assert_eq!((&data["processInstanceId"], &data["processCode"], &data["corpId"]), (&json!(id), &json!(code), &json!(app.org.id.to_string())), "{data}");
            assert_eq!(data["eventType"], frame["headers"]["eventType"]);
            seen.push((frame["headers"]["eventType"].as_str().unwrap().to_owned(), data["type"].as_str().unwrap().to_owned(), data["staffId"].as_str().unwrap().to_owned(), data["instanceSeq"].as_i64().unwrap()));
            if data["type"] == "start" && frame["headers"]["eventType"] == "bpms_task_change" {
                assert!(data["taskId"].is_i64(), "{data}");
            }
            crate::stream::ack(&mut socket, &frame, 200, json!({"status": "SUCCESS"})).await;
        }
        let expected = [
            ("bpms_instance_change", "start", li.as_str(), 1),
            ("bpms_task_change", "start", han.as_str(), 2),
            ("bpms_task_change", "cancel", han.as_str(), 3),
            ("bpms_instance_change", "terminate", li.as_str(), 4),
        ];
        let seen: Vec<(&str, &str, &str, i64)> = seen.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), *d)).collect();
        assert_eq!(seen, expected);
        app
    }

    async fn legacy_oapi_approvals_take_json_text_values_and_comma_joined_approvers(app) {
        let token = v1_token(&app, SCOPES).await;
        let (li, han, wang) = (member(&app, "Li Lei").await, member(&app, "Han Meimei").await, member(&app, "Wang Wu").await);
        let code = create_form(&app, &token).await;
        let values = json!([{"name": "事由", "value": "legacy"}, {"name": "天数", "value": "1"}]).to_string();
        // A form body: values as JSON text, approvers comma-joined.
        let form = format!("process_code={code}&originator_user_id={li}&dept_id=1&approvers={han},{wang}&form_component_values={}", urlencode(&values));
        let created = crate::dingtalk::raw(&app, Method::POST, &format!("/topapi/processinstance/create?access_token={token}"), "application/x-www-form-urlencoded", &form).await.expect(StatusCode::OK).clone();
        assert_eq!(crate::dingtalk::keys(&created), ["errcode", "errmsg", "process_instance_id", "request_id"]);
        let id = created["process_instance_id"].as_str().unwrap().to_owned();
        let got = crate::dingtalk::oapi_post(&app, &token, "/topapi/processinstance/get", json!({"process_instance_id": id})).await.expect(StatusCode::OK).clone();
        let instance = &got["process_instance"];
        assert_eq!((&got["errcode"], &instance["status"], &instance["originator_userid"]), (&json!(0), &json!("RUNNING"), &json!(li)));
        let assignees: Vec<&str> = instance["tasks"].as_array().unwrap().iter().map(|t| t["userid"].as_str().unwrap()).collect();
        assert_eq!(assignees, [han.as_str(), wang.as_str()]);
        assert!(instance["tasks"][0]["taskid"].is_string());
        assert_eq!(instance["create_time"].as_str().unwrap().len(), 19);
        assert_eq!(instance["form_component_values"][0]["value"], "legacy");
        // listids, then the originator withdraws through the legacy terminate.
        let ids = crate::dingtalk::oapi_post(&app, &token, "/topapi/processinstance/listids", json!({"process_code": code, "start_time": "0", "size": 5})).await.expect(StatusCode::OK).clone();
        assert_eq!(ids["result"], json!({"list": [id]}));
        let request = json!({"process_instance_id": id, "is_system": false, "operating_userid": li}).to_string();
        let ended = crate::dingtalk::oapi_post(&app, &token, "/topapi/process/instance/terminate", json!({"request": request})).await.expect(StatusCode::OK).clone();
        assert_eq!((&ended["errcode"], &ended["result"], &ended["success"]), (&json!(0), &json!(true), &json!(true)));
        let got = crate::dingtalk::oapi_post(&app, &token, "/topapi/processinstance/get", json!({"process_instance_id": id})).await.expect(StatusCode::OK).clone();
        assert_eq!(got["process_instance"]["status"], "TERMINATED");
        // Bad input: errcode 40035, nothing written.
        let before = app.audit_len().await;
        for body in [
            json!({"originator_user_id": li, "approvers": han}),
            json!({"process_code": code, "originator_user_id": li, "approvers": han, "form_component_values": "not json"}),
            json!({"process_code": code, "originator_user_id": "nobody", "approvers": han, "form_component_values": values}),
        ] {
            crate::dingtalk::oapi_error(&crate::dingtalk::oapi_post(&app, &token, "/topapi/processinstance/create", body).await, 40035);
        }
        crate::dingtalk::oapi_error(&crate::dingtalk::oapi_post(&app, &token, "/topapi/processinstance/get", json!({})).await, 40035);
        crate::dingtalk::oapi_error(&crate::dingtalk::oapi_post(&app, &token, "/topapi/process/instance/terminate", json!({"request": {"process_instance_id": id, "operating_userid": li}})).await, 40035);
        assert_eq!(app.audit_len().await, before);
        app
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
