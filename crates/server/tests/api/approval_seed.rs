//! The seed's other approval scenarios (`/work/shared/seed/`, the DingTalk article), over HTTP on both
//! backends, asserting tasks, operation records and events exactly:
//!
//! - TRADEIN (阮永华's phone shop in Liuzhou): the store manager (`manager: 1`), the owner above a
//!   valuation, then the cashiers' handle node (办理, `done`; a handle task cannot be refused); the
//!   record is created by the start request itself (`fields`).
//! - TEA_REFUND (黄平炜's tea shop): 依次 (`one_by_one`) customer-service lead then finance; a refusal
//!   returns the refund to the initiator, who resubmits; withdrawing after someone acted is refused.
//! - CHECKIN_REVIEW (同心圆's free housing): a guest applies on a public form (the record is written by
//!   `system`); initiator and last approver come from the lookup 管家 of the booked house; a countersign
//!   (`and`) of two roles.
//! - WED_CONTRACT (湖州优品's wedding contracts): manager levels 1 and 2 above the sales group, rejoining
//!   at 财务; a small contract skips level 2.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::{approval_events, member_token, running_task};
use crate::{TestApp, api_tests, member_body};

pub(crate) async fn members(app: &TestApp, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        let member = app
            .post("/api/v1/members", &app.admin_token, member_body(name))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        ids.push(member["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn role(app: &TestApp, key: &str, name: &str, members: &[&String]) {
    app.post(
        "/api/v1/roles",
        &app.admin_token,
        json!({"key": key, "name": name, "member_ids": members}),
    )
    .await
    .expect(StatusCode::CREATED);
}

async fn publish(app: &TestApp, definition: Value) {
    let code = definition["code"].as_str().unwrap().to_owned();
    app.post("/api/v1/processes", &app.admin_token, definition)
        .await
        .expect(StatusCode::CREATED);
    let published = app
        .post(
            &format!("/api/v1/processes/{code}/publish"),
            &app.admin_token,
            json!({}),
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(published["published_version"], 1);
}

async fn tokens(app: &TestApp, ids: &[String]) -> std::collections::HashMap<String, String> {
    let mut tokens = std::collections::HashMap::new();
    for id in ids {
        tokens.insert(id.clone(), member_token(app, id).await);
    }
    tokens
}

/// (node, assignee, status, result) of every task, in creation order.
fn tasks(instance: &Value) -> Vec<(String, String, String, Value)> {
    instance["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["node"].as_str().unwrap().to_owned(),
                t["assignee"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
                t["result"].clone(),
            )
        })
        .collect()
}

fn task(
    node: &str,
    assignee: &str,
    status: &str,
    result: Value,
) -> (String, String, String, Value) {
    (
        node.to_owned(),
        assignee.to_owned(),
        status.to_owned(),
        result,
    )
}

fn record_types(instance: &Value) -> Vec<String> {
    let records = instance["operation_records"].as_array().unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=records.len() as i64).collect::<Vec<_>>(),
        "gap-free"
    );
    records
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn event_types(app: &TestApp, instance: &str) -> Vec<String> {
    let events = approval_events(app, instance).await;
    let seqs: Vec<i64> = events.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "contiguous"
    );
    events.into_iter().map(|(kind, _)| kind).collect()
}

async fn act(app: &TestApp, token: &str, task: &str, action: &str, body: Value) -> Value {
    app.post(
        &format!("/api/v1/approval-tasks/{task}/{action}"),
        token,
        body,
    )
    .await
    .expect(StatusCode::OK)
    .clone()
}

async fn cell(app: &TestApp, table: &str, record: &str, field: &str) -> Value {
    app.get(&format!("{table}/records/{record}"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["fields"][field]
        .clone()
}

const TRADEINS: &str = "/api/v1/apps/phones/tables/tradeins";

fn tradein() -> Value {
    json!({
        "app": "phones", "code": "TRADEIN", "name": "以旧换新回收", "table": "tradeins",
        "record_status": {"field": "status", "running": "审批中", "agree": "已回收", "refuse": "已拒绝"},
        "nodes": [
            {"key": "manager", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "value"},
            {"key": "value", "type": "condition", "branches": [{"when": "{估价} >= 3000", "next": "boss"}], "default": "pay"},
            {"key": "boss", "type": "approval", "method": "or", "approvers": [{"role": "boss"}], "next": "pay"},
            {"key": "pay", "type": "handle", "method": "or", "approvers": [{"role": "cashier"}], "next": "end"}
        ]
    })
}

const STAYS: &str = "/api/v1/apps/charity/tables/stays";

const CONTRACTS: &str = "/api/v1/apps/wedding/tables/contracts";

api_tests! {
    async fn tradein_goes_to_the_store_manager_the_owner_above_3000_and_the_cashiers_handle_it(app) {
        app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "phones", "name": "手机门店",
            "tables": [{"key": "tradeins", "name": "回收单", "fields": [
                {"key": "model", "name": "机型", "type": "text"},
                {"key": "valuation", "name": "估价", "type": "number", "options": {"precision": 2}},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "待审"}, {"name": "审批中"}, {"name": "已回收"}, {"name": "已拒绝"}]}}
            ]}]
        })).await.expect(StatusCode::CREATED);
        let ids = members(&app, &["店员", "店长", "老板阮", "收银一", "收银二"]).await;
        let [clerk, manager, boss, cash1, cash2] = [&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]];
        let store = app.post("/api/v1/departments", &app.admin_token, json!({"name": "柳州一店", "head_ids": [manager]})).await.expect(StatusCode::CREATED).clone();
        app.patch(&format!("/api/v1/members/{clerk}"), &app.admin_token, json!({"department_ids": [store["id"]]})).await.expect(StatusCode::OK);
        role(&app, "boss", "老板", &[boss]).await;
        role(&app, "cashier", "收银", &[cash1, cash2]).await;
        publish(&app, tradein()).await;
        let tokens = tokens(&app, &ids).await;

        // A 3,500 trade-in: the record is created by the start itself.
        let started = app.post("/api/v1/approvals", &tokens[clerk], json!({"process": "TRADEIN", "fields": {"model": "iPhone 12", "valuation": "3500"}})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        let record = started["record"]["id"].as_str().unwrap().to_owned();
        assert_eq!(started["initiator"], clerk.as_str());
        assert_eq!(cell(&app, TRADEINS, &record, "status").await, "审批中");
        assert_eq!(cell(&app, TRADEINS, &record, "model").await, "iPhone 12");
        assert_eq!(tasks(&started), [task("manager", manager, "running", Value::Null)]);
        let after_manager = act(&app, &tokens[manager], running_task(&started, manager), "approve", json!({})).await;
        let after_boss = act(&app, &tokens[boss], running_task(&after_manager, boss), "approve", json!({"comment": "成色好"})).await;
        assert_eq!(tasks(&after_boss)[2..], [task("pay", cash1, "running", Value::Null), task("pay", cash2, "running", Value::Null)]);
        // A handle task is done, never refused: 409, nothing changes.
        let audit = app.audit_len().await;
        let pay1 = running_task(&after_boss, cash1).to_owned();
        app.post(&format!("/api/v1/approval-tasks/{pay1}/refuse"), &tokens[cash1], json!({"comment": "no"})).await.expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(app.audit_len().await, audit);
        let done = act(&app, &tokens[cash1], &pay1, "approve", json!({})).await;
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")));
        assert_eq!(tasks(&done), [
            task("manager", manager, "completed", json!("agree")),
            task("boss", boss, "completed", json!("agree")),
            task("pay", cash1, "completed", json!("done")),
            task("pay", cash2, "canceled", Value::Null),
        ]);
        assert_eq!(record_types(&done), ["start_process_instance", "execute_task_normal", "execute_task_normal", "execute_task_normal", "finish_process_instance"]);
        assert_eq!(event_types(&app, &id).await, [
            "approval.instance.started", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.approved", "approval.task.created", "approval.task.created",
            "approval.task.approved", "approval.task.canceled", "approval.instance.approved",
        ]);
        assert_eq!(cell(&app, TRADEINS, &record, "status").await, "已回收");

        // 800: the owner is skipped; the forecast said so before the start.
        let forecast = app.post("/api/v1/processes/TRADEIN/forecast", &app.admin_token, json!({"initiator": clerk, "fields": {"model": "Redmi", "valuation": "800"}})).await.expect(StatusCode::OK).clone();
        let path: Vec<&str> = forecast["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
        assert_eq!(path, ["manager", "value", "pay"], "the condition node is on the path; the owner is not");
        let small = app.post("/api/v1/approvals", &tokens[clerk], json!({"process": "TRADEIN", "fields": {"model": "Redmi", "valuation": "800"}})).await.expect(StatusCode::CREATED).clone();
        let after_manager = act(&app, &tokens[manager], running_task(&small, manager), "approve", json!({})).await;
        assert_eq!(tasks(&after_manager)[1..], [task("pay", cash1, "running", Value::Null), task("pay", cash2, "running", Value::Null)]);
        let done = act(&app, &tokens[cash2], running_task(&after_manager, cash2), "approve", json!({})).await;
        assert_eq!(done["result"], "agree");
        app
    }

    async fn tea_refund_asks_lead_then_finance_in_turn_and_a_refusal_returns_it_to_the_initiator(app) {
        app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "tea", "name": "茶叶电商",
            "tables": [{"key": "refunds", "name": "退款", "fields": [
                {"key": "order_no", "name": "订单号", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "申请"}, {"name": "审批中"}, {"name": "已退款"}, {"name": "已拒绝"}, {"name": "已撤回"}]}}
            ]}]
        })).await.expect(StatusCode::CREATED);
        let ids = members(&app, &["客服小黄", "客服主管", "财务"]).await;
        let [agent, lead, finance] = [&ids[0], &ids[1], &ids[2]];
        role(&app, "cs_lead", "客服主管", &[lead]).await;
        role(&app, "finance", "财务", &[finance]).await;
        publish(&app, json!({
            "app": "tea", "code": "TEA_REFUND", "name": "退款审批", "table": "refunds",
            "record_status": {"field": "status", "running": "审批中", "agree": "已退款", "refuse": "已拒绝", "withdrawn": "已撤回"},
            "settings": {"on_refuse": "return_to_initiator", "withdraw": "before_action", "comment_required_on_refuse": true},
            "nodes": [
                {"key": "review", "type": "approval", "method": "one_by_one", "approvers": [{"role": "cs_lead"}, {"role": "finance"}], "next": "end"}
            ]
        })).await;
        let tokens = tokens(&app, &ids).await;
        let started = app.post("/api/v1/approvals", &tokens[agent], json!({"process": "TEA_REFUND", "fields": {"order_no": "WYS-2026-001", "amount": "268.00"}})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        // One after another: only the lead's task exists at first.
        assert_eq!(tasks(&started), [task("review", lead, "running", Value::Null)]);
        let after_lead = act(&app, &tokens[lead], running_task(&started, lead), "approve", json!({})).await;
        assert_eq!(tasks(&after_lead)[1..], [task("review", finance, "running", Value::Null)]);
        // Someone acted: the initiator may no longer withdraw (409), nothing changes.
        let audit = app.audit_len().await;
        app.post(&format!("/api/v1/approvals/{id}/withdraw"), &tokens[agent], json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(app.audit_len().await, audit);
        // Finance refuses: back to the initiator, who fixes the amount and resubmits.
        let returned = act(&app, &tokens[finance], running_task(&after_lead, finance), "refuse", json!({"comment": "金额与订单不符"})).await;
        assert_eq!(returned["status"], "running");
        assert_eq!(tasks(&returned)[2..], [task("initiator", agent, "running", Value::Null)]);
        let record = returned["record"]["id"].as_str().unwrap().to_owned();
        app.patch(&format!("/api/v1/apps/tea/tables/refunds/records/{record}"), &tokens[agent], json!({"fields": {"amount": "168.00"}})).await.expect(StatusCode::OK);
        let resubmitted = act(&app, &tokens[agent], running_task(&returned, agent), "approve", json!({})).await;
        assert_eq!(tasks(&resubmitted)[3..], [task("review", lead, "running", Value::Null)]);
        let again = act(&app, &tokens[lead], running_task(&resubmitted, lead), "approve", json!({})).await;
        let done = act(&app, &tokens[finance], running_task(&again, finance), "approve", json!({})).await;
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")));
        assert_eq!(tasks(&done), [
            task("review", lead, "completed", json!("agree")),
            task("review", finance, "completed", json!("refuse")),
            task("initiator", agent, "completed", json!("done")),
            task("review", lead, "completed", json!("agree")),
            task("review", finance, "completed", json!("agree")),
        ]);
        assert_eq!(record_types(&done), [
            "start_process_instance", "execute_task_normal", "execute_task_normal", "execute_task_normal",
            "execute_task_normal", "execute_task_normal", "finish_process_instance",
        ]);
        assert_eq!(event_types(&app, &id).await, [
            "approval.instance.started", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.refused", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.approved", "approval.instance.approved",
        ]);
        assert_eq!(cell(&app, "/api/v1/apps/tea/tables/refunds", &record, "status").await, "已退款");
        app
    }

    async fn checkin_review_starts_from_a_public_form_for_the_houses_steward_and_needs_both_roles(app) {
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "同心圆住宿", "key": "charity"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/charity/tables", &app.admin_token, json!({"name": "房源", "key": "houses", "fields": [
            {"name": "房号", "key": "name", "type": "text"},
            {"name": "管家", "key": "steward", "type": "member"}
        ]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/charity/tables", &app.admin_token, json!({"name": "入住申请", "key": "stays", "fields": [
            {"name": "申请人", "key": "guest", "type": "text", "required": true},
            {"name": "电话", "key": "phone", "type": "phone"},
            {"name": "房源", "key": "house", "type": "link", "options": {"table": "houses", "multiple": false, "inverse_key": "stays", "inverse_name": "入住"}},
            {"name": "状态", "key": "status", "type": "single_select", "options": {"choices": ["待审核", "审核中", "已入住", "未通过"]}}
        ]})).await.expect(StatusCode::CREATED);
        app.post(&format!("{STAYS}/fields"), &app.admin_token, json!({"name": "管家", "key": "steward", "type": "lookup", "options": {"link": "house", "field": "steward"}})).await.expect(StatusCode::CREATED);
        let ids = members(&app, &["管家刘", "社工陈", "社工吴", "主任孙"]).await;
        let [steward, social1, social2, director] = [&ids[0], &ids[1], &ids[2], &ids[3]];
        role(&app, "social_worker", "社工", &[social1, social2]).await;
        role(&app, "director", "主任", &[director]).await;
        let house = app.post("/api/v1/apps/charity/tables/houses/records", &app.admin_token, json!({"fields": {"name": "3-201", "steward": steward}})).await.expect(StatusCode::CREATED).clone();
        publish(&app, json!({
            "app": "charity", "code": "CHECKIN_REVIEW", "name": "入住审核", "table": "stays",
            "initiator": {"field": "steward"},
            "record_status": {"field": "status", "running": "审核中", "agree": "已入住", "refuse": "未通过"},
            "nodes": [
                {"key": "review", "type": "approval", "method": "and", "approvers": [{"role": "social_worker"}, {"role": "director"}], "next": "room"},
                {"key": "room", "type": "handle", "method": "or", "approvers": [{"field": "steward"}], "next": "end"}
            ]
        })).await;
        let form = app.post(&format!("{STAYS}/views"), &app.admin_token, json!({"name": "申请", "type": "form", "config": {"fields": ["guest", "phone", "house"], "public": true}})).await.expect(StatusCode::CREATED).clone();
        let slug = form["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let submitted = app.call(Method::POST, &format!("/api/v1/forms/{slug}"), None, Some(json!({"fields": {"guest": "患者家属王", "phone": "+86 138 0000 0000", "house": [house["id"]]}}))).await.expect(StatusCode::CREATED).clone();
        let record = submitted["id"].as_str().unwrap().to_owned();
        assert_eq!(cell(&app, STAYS, &record, "steward").await, json!([steward]));
        let tokens = tokens(&app, &ids).await;

        // An organization token starts it (the flow a form would trigger): no member, so the process's
        // initiator rule names the steward through the lookup.
        let started = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "CHECKIN_REVIEW", "record": record})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        assert_eq!(started["initiator"], steward.as_str());
        assert_eq!(tasks(&started), [
            task("review", social1, "running", Value::Null),
            task("review", social2, "running", Value::Null),
            task("review", director, "running", Value::Null),
        ]);
        // A countersign: two agreements are not enough.
        let one = act(&app, &tokens[social1], running_task(&started, social1), "approve", json!({})).await;
        let two = act(&app, &tokens[director], running_task(&one, director), "approve", json!({})).await;
        assert_eq!(tasks(&two).len(), 3);
        let three = act(&app, &tokens[social2], running_task(&two, social2), "approve", json!({})).await;
        assert_eq!(tasks(&three)[3..], [task("room", steward, "running", Value::Null)]);
        let done = act(&app, &tokens[steward], running_task(&three, steward), "approve", json!({})).await;
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")));
        assert_eq!(tasks(&done)[3], task("room", steward, "completed", json!("done")));
        assert_eq!(record_types(&done), [
            "start_process_instance", "execute_task_normal", "execute_task_normal", "execute_task_normal",
            "execute_task_normal", "finish_process_instance",
        ]);
        assert_eq!(event_types(&app, &id).await, [
            "approval.instance.started", "approval.task.created", "approval.task.created", "approval.task.created",
            "approval.task.approved", "approval.task.approved", "approval.task.approved", "approval.task.created",
            "approval.task.approved", "approval.instance.approved",
        ]);
        assert_eq!(cell(&app, STAYS, &record, "status").await, "已入住");

        // A second application refused by one social worker ends refused at once.
        let second = app.call(Method::POST, &format!("/api/v1/forms/{slug}"), None, Some(json!({"fields": {"guest": "家属李", "house": [house["id"]]}}))).await.expect(StatusCode::CREATED).clone();
        let started = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "CHECKIN_REVIEW", "record": second["id"]})).await.expect(StatusCode::CREATED).clone();
        let refused = act(&app, &tokens[social2], running_task(&started, social2), "refuse", json!({"comment": "已有住处"})).await;
        assert_eq!((refused["status"].as_str(), refused["result"].as_str()), (Some("completed"), Some("refuse")));
        assert_eq!(cell(&app, STAYS, second["id"].as_str().unwrap(), "status").await, "未通过");
        app
    }

    async fn wed_contract_climbs_manager_levels_and_rejoins_at_finance(app) {
        app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "wedding", "name": "婚庆",
            "tables": [{"key": "contracts", "name": "合同", "fields": [
                {"key": "couple", "name": "新人", "type": "text"},
                {"key": "amount", "name": "合同金额", "type": "number", "options": {"precision": 2}},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "草拟"}, {"name": "审批中"}, {"name": "已签"}, {"name": "驳回"}]}}
            ]}]
        })).await.expect(StatusCode::CREATED);
        let ids = members(&app, &["顾问", "组长", "销售经理", "财务"]).await;
        let [adviser, lead, sales_head, finance] = [&ids[0], &ids[1], &ids[2], &ids[3]];
        let sales = app.post("/api/v1/departments", &app.admin_token, json!({"name": "销售部", "head_ids": [sales_head]})).await.expect(StatusCode::CREATED).clone();
        let group = app.post("/api/v1/departments", &app.admin_token, json!({"name": "销售一组", "parent_id": sales["id"], "head_ids": [lead]})).await.expect(StatusCode::CREATED).clone();
        app.patch(&format!("/api/v1/members/{adviser}"), &app.admin_token, json!({"department_ids": [group["id"], sales["id"]]})).await.expect(StatusCode::OK);
        role(&app, "finance", "财务", &[finance]).await;
        publish(&app, json!({
            "app": "wedding", "code": "WED_CONTRACT", "name": "婚庆合同审批", "table": "contracts",
            "record_status": {"field": "status", "running": "审批中", "agree": "已签", "refuse": "驳回"},
            "nodes": [
                {"key": "lead", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "size"},
                {"key": "size", "type": "condition", "branches": [{"when": "{合同金额} >= 50000", "next": "head"}], "default": "money"},
                {"key": "head", "type": "approval", "method": "or", "approvers": [{"manager": 2}], "next": "money"},
                {"key": "money", "type": "approval", "method": "or", "approvers": [{"role": "finance"}], "next": "end"}
            ]
        })).await;
        let tokens = tokens(&app, &ids).await;

        // 88,000: 组长 (level 1), 销售经理 (level 2), then 财务.
        let big = app.post("/api/v1/approvals", &tokens[adviser], json!({"process": "WED_CONTRACT", "fields": {"couple": "张先生 & 李女士", "amount": "88000"}})).await.expect(StatusCode::CREATED).clone();
        let id = big["id"].as_str().unwrap().to_owned();
        let step = act(&app, &tokens[lead], running_task(&big, lead), "approve", json!({})).await;
        let step = act(&app, &tokens[sales_head], running_task(&step, sales_head), "approve", json!({})).await;
        let done = act(&app, &tokens[finance], running_task(&step, finance), "approve", json!({})).await;
        assert_eq!(done["result"], "agree");
        assert_eq!(tasks(&done), [
            task("lead", lead, "completed", json!("agree")),
            task("head", sales_head, "completed", json!("agree")),
            task("money", finance, "completed", json!("agree")),
        ]);
        assert_eq!(record_types(&done), ["start_process_instance", "execute_task_normal", "execute_task_normal", "execute_task_normal", "finish_process_instance"]);
        assert_eq!(event_types(&app, &id).await, [
            "approval.instance.started", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.approved", "approval.instance.approved",
        ]);
        assert_eq!(cell(&app, CONTRACTS, done["record"]["id"].as_str().unwrap(), "status").await, "已签");

        // 30,000: level 2 is skipped; the branch rejoins at 财务, who refuses.
        let small = app.post("/api/v1/approvals", &tokens[adviser], json!({"process": "WED_CONTRACT", "fields": {"couple": "王先生 & 赵女士", "amount": "30000"}})).await.expect(StatusCode::CREATED).clone();
        let step = act(&app, &tokens[lead], running_task(&small, lead), "approve", json!({})).await;
        assert_eq!(tasks(&step)[1..], [task("money", finance, "running", Value::Null)]);
        let refused = act(&app, &tokens[finance], running_task(&step, finance), "refuse", json!({"comment": "定金未到账"})).await;
        assert_eq!((refused["status"].as_str(), refused["result"].as_str()), (Some("completed"), Some("refuse")));
        assert_eq!(cell(&app, CONTRACTS, refused["record"]["id"].as_str().unwrap(), "status").await, "驳回");
        // The adviser is also in the sales department: started there (`dept`), level 1 is the sales head;
        // a department they are not in is refused.
        let elsewhere = app.post("/api/v1/departments", &app.admin_token, json!({"name": "策划部"})).await.expect(StatusCode::CREATED).clone();
        let error = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "WED_CONTRACT", "initiator": adviser, "dept": elsewhere["id"], "fields": {"couple": "x", "amount": "1"}})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "dept");
        let from_sales = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "WED_CONTRACT", "initiator": adviser, "dept": sales["id"], "fields": {"couple": "周先生 & 吴女士", "amount": "1000"}})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(tasks(&from_sales), [task("lead", sales_head, "running", Value::Null)]);
        app
    }

    async fn a_refund_nobody_decides_reminds_the_lead_then_passes_by_itself_when_its_timeout_comes_due(app) {
        app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "tea", "name": "茶叶电商",
            "tables": [{"key": "refunds", "name": "退款", "fields": [
                {"key": "order_no", "name": "订单号", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}}
            ]}]
        })).await.expect(StatusCode::CREATED);
        let ids = members(&app, &["客服小黄", "客服主管"]).await;
        let [agent, lead] = [&ids[0], &ids[1]];
        role(&app, "cs_lead", "客服主管", &[lead]).await;
        publish(&app, json!({
            "app": "tea", "code": "TEA_REFUND", "name": "退款审批", "table": "refunds",
            "settings": {"remind_after_hours": 2, "timeout": {"after_hours": 24, "action": "approve"}},
            "nodes": [{"key": "review", "type": "approval", "method": "or", "approvers": [{"role": "cs_lead"}], "next": "end"}]
        })).await;
        let tokens = tokens(&app, &ids).await;
        let started = app.post("/api/v1/approvals", &tokens[agent], json!({"process": "TEA_REFUND", "fields": {"order_no": "WYS-9", "amount": "30.00"}})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/approvals/{id}");
        // Three hours: the reminder comes due and leaves the lead a message; the task still waits.
        app.clock.advance(chrono::TimeDelta::hours(3));
        app.store.wake_workers();
        let mut messages = Vec::new();
        for _ in 0..100 {
            messages = app.get("/api/v1/me/notifications", &tokens[lead]).await.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
            if !messages.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["title"], "审批催办");
        assert_eq!(messages[0]["source"], json!({
            "type": "approval.remind", "instance_id": id, "process": "TEA_REFUND", "business_id": started["business_id"],
            "task_ids": [started["tasks"][0]["id"]], "by": null,
        }));
        let waiting = app.get(&path, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(tasks(&waiting), [task("review", lead, "running", Value::Null)]);
        assert_eq!(record_types(&waiting), ["start_process_instance"]);
        assert_eq!(event_types(&app, &id).await, ["approval.instance.started", "approval.task.created"]);
        assert_eq!(app.get("/api/v1/me/notifications", &tokens[agent]).await.expect(StatusCode::OK)["items"], json!([]));
        // A day later the timeout passes the task automatically (a recorded automatic decision).
        app.clock.advance(chrono::TimeDelta::hours(22));
        app.store.wake_workers();
        let mut done = waiting;
        for _ in 0..100 {
            done = app.get(&path, &app.admin_token).await.expect(StatusCode::OK).clone();
            if done["status"] == "completed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")), "{done}");
        assert_eq!(tasks(&done), [task("review", lead, "completed", json!("agree"))]);
        assert_eq!(record_types(&done), ["start_process_instance", "execute_task_auto", "finish_process_instance"]);
        assert_eq!(done["operation_records"][1]["automatic"], true);
        assert_eq!(event_types(&app, &id).await, [
            "approval.instance.started", "approval.task.created",
            "approval.task.auto_approved", "approval.instance.approved",
        ]);
        // The reminder fired once: still one message.
        assert_eq!(app.get("/api/v1/me/notifications", &tokens[lead]).await.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1);
        // The lead comes back too late: the task is decided.
        app.post(&format!("/api/v1/approval-tasks/{}/approve", done["tasks"][0]["id"].as_str().unwrap()), &tokens[lead], json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }
}

/// (method, path, body, status, error code, a detail's field) of each bad request of the sweep.
pub type Bad = (
    Method,
    String,
    Value,
    u16,
    &'static str,
    Option<&'static str>,
);

pub async fn sweep(app: &TestApp, token: &str, cases: Vec<Bad>) {
    for (method, path, body, status, code, field) in cases {
        let reply = app
            .call(method.clone(), &path, Some(token), Some(body.clone()))
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body}: {}",
            reply.body
        );
        if let Some(field) = field {
            let details = reply.body["error"]["details"].as_array().unwrap();
            assert!(
                details.iter().any(|detail| detail["field"] == field),
                "{method} {path} {body}: no detail at {field}: {}",
                reply.body
            );
        }
    }
}

api_tests! {
    async fn bad_approval_requests_name_what_is_wrong_and_change_nothing(app) {
        let school = crate::approvals::school(&app).await;
        let record = crate::approvals::inspection(&app, &school, "2.0").await;
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": record})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        let task = running_task(&started, &school.dean).to_owned();
        let other = crate::approvals::inspection(&app, &school, "1.0").await;
        let nobody = tenon_model::MemberId::new().to_string();
        let unknown_task = tenon_model::ApprovalTaskId::new().to_string();
        let unknown_instance = tenon_model::ApprovalId::new().to_string();
        let audit = app.audit_len().await;
        let t = |action: &str| format!("/api/v1/approval-tasks/{task}/{action}");
        let i = |action: &str| format!("/api/v1/approvals/{id}/{action}");
        sweep(&app, &app.admin_token, vec![
            (Method::POST, format!("/api/v1/approval-tasks/{unknown_task}/approve"), json!({}), 404, "not_found", None),
            (Method::POST, format!("/api/v1/approvals/{unknown_instance}/withdraw"), json!({}), 404, "not_found", None),
            (Method::POST, t("transfer"), json!({"to": nobody}), 422, "validation_failed", Some("to")),
            (Method::POST, t("transfer"), json!({}), 422, "validation_failed", Some("to")),
            (Method::POST, t("add-sign"), json!({"members": [], "position": "before", "method": "or"}), 422, "validation_failed", Some("members")),
            (Method::POST, t("add-sign"), json!({"members": [school.vice], "position": "middle", "method": "or"}), 422, "validation_failed", Some("position")),
            (Method::POST, t("add-sign"), json!({"members": [nobody], "position": "after", "method": "and"}), 422, "validation_failed", Some("members[0]")),
            (Method::POST, t("return"), json!({"to": "n9"}), 422, "validation_failed", Some("to")),
            (Method::POST, t("approve"), json!({"commnet": "typo"}), 422, "validation_failed", Some("commnet")),
            (Method::POST, i("comments"), json!({"text": " "}), 422, "validation_failed", Some("text")),
            (Method::POST, i("cc"), json!({"members": [nobody]}), 422, "validation_failed", Some("members[0]")),
            (Method::POST, "/api/v1/approvals".into(), json!({"process": "DUTY_APPEAL"}), 422, "validation_failed", Some("record")),
            (Method::POST, "/api/v1/approvals".into(), json!({"process": "DUTY_APPEAL", "record": other, "initiator": nobody}), 422, "validation_failed", Some("initiator")),
        ]).await;
        assert_eq!(app.audit_len().await, audit, "nothing written");
        let unchanged = app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(unchanged, started);
        // A finished instance refuses every action with 409; still nothing written.
        app.post(&format!("/api/v1/approvals/{id}/terminate"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let audit = app.audit_len().await;
        sweep(&app, &app.admin_token, vec![
            (Method::POST, t("approve"), json!({}), 409, "conflict", None),
            (Method::POST, t("transfer"), json!({"to": school.vice}), 409, "conflict", None),
            (Method::POST, i("withdraw"), json!({}), 409, "conflict", None),
            (Method::POST, i("terminate"), json!({}), 409, "conflict", None),
            (Method::POST, i("remind"), json!({}), 409, "conflict", None),
        ]).await;
        assert_eq!(app.audit_len().await, audit);
        crate::approval_sweeps::bad_process_and_role_requests(&app, &school).await;
        app
    }
}
