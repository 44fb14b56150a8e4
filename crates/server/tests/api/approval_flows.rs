//! A three-level expense process over HTTP: an amount branch, a countersign of two, racing OR approvals,
//! transfer, add-sign, return into the countersign node, withdraw, a forecast, a new version mid-flight,
//! and a member who leaves with open tasks — asserting tasks, records and events exactly.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::{approval_events, member_token, running_task};
use crate::{TestApp, api_tests, member_body};

struct Office {
    employee: String,
    lead1: String,
    lead2: String,
    f1: String,
    f2: String,
    f3: String,
    auditor: String,
    cfo: String,
    tokens: std::collections::HashMap<String, String>,
}

impl Office {
    fn token(&self, member: &str) -> &str {
        &self.tokens[member]
    }
}

fn expense() -> Value {
    json!({
        "app": "office", "code": "EXPENSE", "name": "费用报销", "table": "claims",
        "record_status": {"field": "status", "running": "审批中", "agree": "通过", "refuse": "拒绝", "withdrawn": "撤回"},
        "settings": {"no_approver": "admin"},
        "nodes": [
            {"key": "lead", "type": "approval", "method": "or", "approvers": [{"manager": 1}], "next": "money"},
            {"key": "money", "type": "condition", "branches": [{"when": "{金额} >= 1000", "next": "finance"}], "default": "end"},
            {"key": "finance", "type": "approval", "method": "and", "approvers": [{"role": "finance"}], "next": "cfo"},
            {"key": "cfo", "type": "approval", "method": "or", "approvers": [{"members": []}], "next": "end"}
        ]
    })
}

async fn office(app: &TestApp) -> Office {
    app.post("/api/v1/apps/import", &app.admin_token, json!({
        "format": "tenon.app/v1", "key": "office", "name": "办公",
        "tables": [{"key": "claims", "name": "报销", "fields": [
            {"key": "title", "name": "事由", "type": "text"},
            {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
            {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "草稿"}, {"name": "审批中"}, {"name": "通过"}, {"name": "拒绝"}, {"name": "撤回"}]}}
        ]}]
    })).await.expect(StatusCode::CREATED);
    let mut ids = Vec::new();
    for name in [
        "员工",
        "组长一",
        "组长二",
        "财务一",
        "财务二",
        "财务三",
        "审计",
        "财务总监",
    ] {
        let member = app
            .post("/api/v1/members", &app.admin_token, member_body(name))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        ids.push(member["id"].as_str().unwrap().to_owned());
    }
    let sales = app
        .post(
            "/api/v1/departments",
            &app.admin_token,
            json!({"name": "销售部", "head_ids": [ids[1], ids[2]]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    app.patch(
        &format!("/api/v1/members/{}", ids[0]),
        &app.admin_token,
        json!({"department_ids": [sales["id"]]}),
    )
    .await
    .expect(StatusCode::OK);
    app.post(
        "/api/v1/roles",
        &app.admin_token,
        json!({"key": "finance", "name": "财务", "member_ids": [ids[3], ids[4]]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let mut definition = expense();
    definition["nodes"][3]["approvers"][0]["members"] = json!([ids[7]]);
    app.post("/api/v1/processes", &app.admin_token, definition)
        .await
        .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/processes/EXPENSE/publish",
        &app.admin_token,
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    let mut tokens = std::collections::HashMap::new();
    for id in &ids {
        tokens.insert(id.clone(), member_token(app, id).await);
    }
    Office {
        employee: ids[0].clone(),
        lead1: ids[1].clone(),
        lead2: ids[2].clone(),
        f1: ids[3].clone(),
        f2: ids[4].clone(),
        f3: ids[5].clone(),
        auditor: ids[6].clone(),
        cfo: ids[7].clone(),
        tokens,
    }
}

fn task_rows(instance: &Value) -> Vec<(String, String, String, Value)> {
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

fn new_events(all: &[(String, i64)], seen: &mut usize) -> Vec<String> {
    let fresh = all[*seen..].iter().map(|(kind, _)| kind.clone()).collect();
    *seen = all.len();
    fresh
}

api_tests! {
    async fn an_expense_goes_through_racing_leads_a_countersign_with_transfer_and_add_sign_a_return_and_a_withdraw(app) {
        let o = office(&app).await;
        // The forecast of 5,000: both leads, then both of finance, then the CFO.
        let forecast = app.post("/api/v1/processes/EXPENSE/forecast", &app.admin_token, json!({"fields": {"amount": "5000"}, "initiator": o.employee})).await.expect(StatusCode::OK).clone();
        let path: Vec<(&str, Vec<&str>)> = forecast["nodes"].as_array().unwrap().iter()
            .filter(|n| n["type"] == "approval")
            .map(|n| (n["node"].as_str().unwrap(), n["approvers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect())).collect();
        assert_eq!(path, [("lead", vec![o.lead1.as_str(), o.lead2.as_str()]), ("finance", vec![o.f1.as_str(), o.f2.as_str()]), ("cfo", vec![o.cfo.as_str()])]);
        let small = app.post("/api/v1/processes/EXPENSE/forecast", &app.admin_token, json!({"fields": {"amount": "50"}, "initiator": o.employee})).await.expect(StatusCode::OK).clone();
        assert_eq!(small["nodes"].as_array().unwrap().iter().filter(|n| n["type"] == "approval").count(), 1);

        let started = app.post("/api/v1/approvals", o.token(&o.employee), json!({"process": "EXPENSE", "fields": {"title": "差旅", "amount": "5000"}})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        let mut seen = 0;
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.instance.started", "approval.task.created", "approval.task.created"]);
        // A new version published mid-flight: this instance keeps version 1.
        let mut changed = expense();
        changed["nodes"][3]["approvers"][0]["members"] = json!([o.auditor]);
        app.call(Method::PUT, "/api/v1/processes/EXPENSE/draft", Some(&app.admin_token), Some(changed)).await.expect(StatusCode::OK);
        app.post("/api/v1/processes/EXPENSE/publish", &app.admin_token, json!({})).await.expect(StatusCode::OK);

        // Racing OR approvals: one 200, the other 409, one decision recorded.
        let (t1, t2) = (running_task(&started, &o.lead1).to_owned(), running_task(&started, &o.lead2).to_owned());
        let (p1, p2) = (format!("/api/v1/approval-tasks/{t1}/approve"), format!("/api/v1/approval-tasks/{t2}/approve"));
        let (a, b) = tokio::join!(
            app.post(&p1, o.token(&o.lead1), json!({})),
            app.post(&p2, o.token(&o.lead2), json!({})),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{} / {}", a.body, b.body);
        let after = if a.status == StatusCode::OK { a.body.clone() } else { b.body.clone() };
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.approved", "approval.task.canceled", "approval.task.created", "approval.task.created"]);
        let executed = after["operation_records"].as_array().unwrap().iter().filter(|r| r["type"] == "execute_task_normal").count();
        assert_eq!(executed, 1);

        // The countersign: finance one transfers to finance three, who adds the auditor before them.
        let f1_task = running_task(&after, &o.f1).to_owned();
        let transferred = app.post(&format!("/api/v1/approval-tasks/{f1_task}/transfer"), o.token(&o.f1), json!({"to": o.f3, "comment": "请代办"})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.transferred", "approval.task.created"]);
        let f3_task = running_task(&transferred, &o.f3).to_owned();
        let signed = app.post(&format!("/api/v1/approval-tasks/{f3_task}/add-sign"), o.token(&o.f3), json!({"members": [o.auditor], "position": "before", "method": "or"})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.paused", "approval.task.created"]);
        app.post(&format!("/api/v1/approval-tasks/{f3_task}/approve"), o.token(&o.f3), json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        let audit_task = running_task(&signed, &o.auditor).to_owned();
        app.post(&format!("/api/v1/approval-tasks/{audit_task}/approve"), o.token(&o.auditor), json!({})).await.expect(StatusCode::OK);
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.approved", "approval.task.resumed"]);
        app.post(&format!("/api/v1/approval-tasks/{f3_task}/approve"), o.token(&o.f3), json!({})).await.expect(StatusCode::OK);
        let f2_task = running_task(&signed, &o.f2).to_owned();
        let at_cfo = app.post(&format!("/api/v1/approval-tasks/{f2_task}/approve"), o.token(&o.f2), json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.approved", "approval.task.approved", "approval.task.created"]);
        // Version 1's CFO, not version 2's auditor.
        let cfo_task = running_task(&at_cfo, &o.cfo).to_owned();

        // The CFO returns it into the countersign node: both of finance are asked again.
        let back = app.post(&format!("/api/v1/approval-tasks/{cfo_task}/return"), o.token(&o.cfo), json!({"to": "finance"})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.returned", "approval.task.created", "approval.task.created"]);
        running_task(&back, &o.f1);
        running_task(&back, &o.f2);
        let kinds: Vec<&str> = back["operation_records"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["start_process_instance", "execute_task_normal", "redirect_task", "append_task_before", "execute_task_normal", "execute_task_normal", "execute_task_normal", "redirect_process"]);

        // Only the initiator withdraws; then every open task is canceled, the record says 撤回.
        app.post(&format!("/api/v1/approvals/{id}/withdraw"), o.token(&o.f1), json!({})).await.expect_error(StatusCode::FORBIDDEN, "not_assignee");
        let withdrawn = app.post(&format!("/api/v1/approvals/{id}/withdraw"), o.token(&o.employee), json!({"comment": "改日再报"})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.canceled", "approval.task.canceled", "approval.instance.withdrawn"]);
        assert_eq!(withdrawn["status"], "terminated");
        assert!(task_rows(&withdrawn).iter().all(|(_, _, status, _)| status == "completed" || status == "canceled"), "{withdrawn}");
        let record = &withdrawn["record"]["id"];
        let stored = app.get(&format!("/api/v1/apps/office/tables/claims/records/{}", record.as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(stored["fields"]["status"], "撤回");
        // Events count 1..n for the instance.
        let seqs: Vec<i64> = approval_events(&app, &id).await.iter().map(|(_, seq)| *seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());

        // A second claim starts on version 2. Finance one agrees and adds the auditor after them; the
        // auditor refuses: the countersign and the claim are refused, the record says 拒绝.
        let second = app.post("/api/v1/approvals", o.token(&o.employee), json!({"process": "EXPENSE", "fields": {"title": "设备", "amount": "3000"}})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(second["version"], 2);
        let id = second["id"].as_str().unwrap().to_owned();
        let mut seen = approval_events(&app, &id).await.len();
        let lead = running_task(&second, &o.lead1).to_owned();
        let at_finance = app.post(&format!("/api/v1/approval-tasks/{lead}/approve"), o.token(&o.lead1), json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.approved", "approval.task.canceled", "approval.task.created", "approval.task.created"]);
        let f1_task = running_task(&at_finance, &o.f1).to_owned();
        let after = app.post(&format!("/api/v1/approval-tasks/{f1_task}/add-sign"), o.token(&o.f1), json!({"members": [o.auditor], "position": "after", "method": "or"})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.approved", "approval.task.created"]);
        let audit_task = running_task(&after, &o.auditor).to_owned();
        let refused = app.post(&format!("/api/v1/approval-tasks/{audit_task}/refuse"), o.token(&o.auditor), json!({"comment": "发票不全"})).await.expect(StatusCode::OK).clone();
        assert_eq!(new_events(&approval_events(&app, &id).await, &mut seen), ["approval.task.refused", "approval.task.canceled", "approval.instance.refused"]);
        assert_eq!((refused["status"].as_str(), refused["result"].as_str()), (Some("completed"), Some("refuse")));
        let kinds: Vec<&str> = refused["operation_records"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["start_process_instance", "execute_task_normal", "append_task_after", "execute_task_normal", "finish_process_instance"]);
        assert_eq!(refused["operation_records"][3]["comment"], "发票不全");
        let stored = app.get(&format!("/api/v1/apps/office/tables/claims/records/{}", refused["record"]["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(stored["fields"]["status"], "拒绝");
        app
    }

    async fn a_member_who_leaves_hands_over_their_tasks_and_one_with_open_tasks_cannot_be_deleted(app) {
        let o = office(&app).await;
        let started = app.post("/api/v1/approvals", o.token(&o.employee), json!({"process": "EXPENSE", "fields": {"title": "文具", "amount": "80"}})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        // Deleting a member with an open task is refused; nothing changes.
        app.delete(&format!("/api/v1/members/{}", o.lead2), &app.admin_token).await.expect_error(StatusCode::CONFLICT, "conflict");
        // Leaving: lead one's task goes (no manager above the department's heads) to an administrator.
        app.patch(&format!("/api/v1/members/{}", o.lead1), &app.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
        let now = app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let open: Vec<String> = task_rows(&now).into_iter().filter(|(_, _, status, _)| status == "running").map(|(_, who, _, _)| who).collect();
        assert!(!open.contains(&o.lead1), "{now}");
        assert!(open.contains(&o.lead2), "{now}");
        assert!(open.contains(&app.owner.id.to_string()), "{now}");
        // The owner (an administrator) decides.
        let owner_task = running_task(&now, &app.owner.id.to_string()).to_owned();
        let done = app.post(&format!("/api/v1/approval-tasks/{owner_task}/approve"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(done["result"], "agree");
        app.delete(&format!("/api/v1/members/{}", o.lead2), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app
    }
}
