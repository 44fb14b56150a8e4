//! `notify` to custom roles (issue #18): `to.roles` names roles of `/api/v1/roles`, whose members (as they
//! are when the step runs) each get one message in `GET /api/v1/me/notifications`, once however many
//! of `to.members` and `to.roles` name them; publish refuses unknown roles, missing recipients and
//! outside recipients (`phones`, `emails`) without their channel's connection, with their paths (those
//! recipients are `flow_notify_outside`'s); in a `for_each`,
//! `collect: per_recipient` sends each recipient one message listing their items when the loop ends; a
//! `created_by` field reads as the member who wrote the record, so a notify can answer its author.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::flow_steps::{ORDERS, crm, details, import, run_in, runs};
use crate::{TestApp, api_tests, member_body};

fn notify_flow(key: &str, to: Value) -> Value {
    json!({
        "key": key, "trigger": {"record": "orders", "on": "created"},
        "steps": [{"key": "tell", "type": "notify", "channel": "inbox", "to": to,
                   "title": "新订单", "text": "新订单 {{ trigger.fields.customer }}"}]
    })
}

/// A manual flow telling each order's owner, once per owner, of all their orders.
fn digest(key: &str, collect: &str) -> Value {
    json!({
        "key": key, "trigger": {"manual": {}},
        "steps": [
            {"key": "f", "type": "find", "table": "orders", "limit": 1000},
            {"key": "each", "type": "for_each", "items": "{steps.f.output.ids}", "table": "orders", "steps": [
                {"key": "tell", "type": "notify", "channel": "inbox", "to": {"members": "{item.owner}"}, "collect": collect,
                 "title": "你的订单", "text": "{{ item.fields.customer }}"}
            ]}
        ]
    })
}

/// The texts of a member's inbox.
async fn inbox(app: &TestApp, token: &str) -> Vec<String> {
    crate::approval_reminders::inbox(app, token)
        .await
        .iter()
        .map(|n| n["text"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates an order and waits for the run it starts (the `index`-th of the flow, from 1) to succeed.
async fn order_notified(app: &TestApp, customer: &str, owner: &str, index: usize) -> Value {
    app.post(
        ORDERS,
        &app.admin_token,
        json!({"fields": {"customer": customer, "owner": [owner]}}),
    )
    .await
    .expect(StatusCode::CREATED);
    let started = runs(app, "tell_leads").await;
    assert_eq!(started.len(), index, "{started:?}");
    run_in(app, started[0]["id"].as_str().unwrap(), "succeeded").await
}

api_tests! {
    async fn a_created_by_field_is_the_writing_member_and_notify_reaches_them(app) {
        let file = json!({
            "format": "tenon.app/v1", "key": "desk", "name": "Desk",
            "tables": [{"key": "requests", "name": "请求", "fields": [
                {"key": "title", "name": "标题", "type": "text"},
                {"key": "author", "name": "提交人", "type": "created_by"},
                {"key": "at", "name": "提交时间", "type": "created_time"}]}],
            "flows": [{"key": "ack", "trigger": {"record": "requests", "on": "created"}, "steps": [
                {"key": "tell", "type": "notify", "channel": "inbox", "to": {"members": "{trigger.fields.提交人}"},
                 "text": "已收到：{{ trigger.fields.title }}"}]}]
        });
        import(&app, file).await.expect(StatusCode::CREATED);
        let member = app.post("/api/v1/members", &app.admin_token, member_body("前台小林")).await.expect(StatusCode::CREATED).clone();
        let id = member["id"].as_str().unwrap();
        let token = member_token(&app, id).await;
        let made = app.post("/api/v1/apps/desk/tables/requests/records", &token, json!({"fields": {"title": "打印机卡纸"}}))
            .await.expect(StatusCode::CREATED).clone();
        let started = runs(&app, "ack").await;
        let done = run_in(&app, started[0]["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(done["trigger"]["fields"]["author"], id, "{done}");
        let at: chrono::DateTime<chrono::Utc> = done["trigger"]["fields"]["at"].as_str().unwrap().parse().unwrap();
        let created: chrono::DateTime<chrono::Utc> = made["created_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, created, "{done}");
        assert_eq!(done["steps"][0]["input"]["members"], json!([id]), "{done}");
        assert_eq!(inbox(&app, &token).await, ["已收到：打印机卡纸"]);
        app
    }

    async fn notify_reaches_a_roles_members_once_each_and_publish_refuses_bad_recipients(app) {
        let mut ids = Vec::new();
        for name in ["主管李", "主管张"] {
            let member = app.post("/api/v1/members", &app.admin_token, member_body(name)).await.expect(StatusCode::CREATED).clone();
            ids.push(member["id"].as_str().unwrap().to_owned());
        }
        let (li, zhang) = (ids[0].clone(), ids[1].clone());
        app.post("/api/v1/roles", &app.admin_token, json!({"key": "leads", "name": "销售主管", "member_ids": [li, zhang]}))
            .await.expect(StatusCode::CREATED);
        // Refused with paths, and nothing imported.
        let mut top = notify_flow("bad_collect", json!({"members": "{trigger.fields.owner}"}));
        top["steps"][0]["collect"] = json!("per_recipient");
        let bad = json!([
            notify_flow("bad_role", json!({"roles": ["leads", "nobody"]})),
            notify_flow("bad_outside", json!({"members": "{trigger.fields.owner}", "phones": "\"13800000000\"", "emails": "\"a@example.com\""})),
            notify_flow("bad_empty", json!({})),
            top,
            digest("bad_per_item", "per_item"),
        ]);
        let refused = import(&app, crm(bad)).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&error), [
            ("flows[0].steps[0].to.roles[1]".to_owned(), "not_found".to_owned()),
            ("flows[1].steps[0].email".to_owned(), "required".to_owned()),
            ("flows[1].steps[0].sms".to_owned(), "required".to_owned()),
            ("flows[2].steps[0].to.members".to_owned(), "required".to_owned()),
            ("flows[3].steps[0].collect".to_owned(), "not_allowed".to_owned()),
            ("flows[4].steps[1].steps[0].collect".to_owned(), "not_one_of".to_owned()),
        ], "{error}");
        app.get("/api/v1/flows/bad_role", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // A role and a member formula: 张 is both the owner and a lead, and gets one message.
        let flows = json!([notify_flow("tell_leads", json!({"members": "{trigger.fields.owner}", "roles": ["leads"]}))]);
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        let done = order_notified(&app, "ACME", &zhang, 1).await;
        let mut sent: Vec<&str> = done["steps"][0]["input"]["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        sent.sort();
        let mut both = [li.as_str(), zhang.as_str()];
        both.sort();
        assert_eq!(sent, both, "{done}");
        assert_eq!(done["steps"][0]["input"]["roles"], json!(["leads"]));
        assert_eq!(done["steps"][0]["output"]["notifications"].as_array().unwrap().len(), 2, "{done}");
        let (li_token, zhang_token) = (member_token(&app, &li).await, member_token(&app, &zhang).await);
        let owner_token = member_token(&app, &app.owner.id.to_string()).await;
        assert_eq!(inbox(&app, &li_token).await, ["新订单 ACME"]);
        assert_eq!(inbox(&app, &zhang_token).await, ["新订单 ACME"]);
        assert_eq!(inbox(&app, &owner_token).await, Vec::<String>::new());
        // The role's members are read when the step runs: after the change, the owner is a lead and 李 is not.
        app.patch("/api/v1/roles/leads", &app.admin_token, json!({"member_ids": [app.owner.id.to_string()]})).await.expect(StatusCode::OK);
        order_notified(&app, "Beta", &zhang, 2).await;
        assert_eq!(inbox(&app, &owner_token).await, ["新订单 Beta"]);
        assert_eq!(inbox(&app, &li_token).await, ["新订单 ACME"]);
        assert_eq!(inbox(&app, &zhang_token).await.len(), 2);
        // A role deleted after publishing fails the step with the reason.
        app.delete("/api/v1/roles/leads", &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "Gamma", "owner": [zhang]}})).await.expect(StatusCode::CREATED);
        let started = runs(&app, "tell_leads").await;
        let failed = run_in(&app, started[0]["id"].as_str().unwrap(), "failed").await;
        assert!(failed["steps"][0]["error"]["message"].as_str().unwrap().contains("no role leads"), "{failed}");
        assert_eq!(inbox(&app, &owner_token).await.len(), 1);
        app
    }

    async fn per_recipient_sends_each_owner_one_message_listing_their_items(app) {
        let mut ids = Vec::new();
        for name in ["销售李", "销售张"] {
            let member = app.post("/api/v1/members", &app.admin_token, member_body(name)).await.expect(StatusCode::CREATED).clone();
            ids.push(member["id"].as_str().unwrap().to_owned());
        }
        import(&app, crm(json!([digest("digest", "per_recipient")]))).await.expect(StatusCode::CREATED);
        // 250 orders, so the loop runs in three transactions (100 items each) and keeps what it collected
        // in its journal between them: 李 owns 甲 and 丙, 张 owns 乙, nobody the rest.
        let mut bodies: Vec<Value> = vec![
            json!({"fields": {"customer": "甲", "owner": [ids[0]]}}),
            json!({"fields": {"customer": "乙", "owner": [ids[1]]}}),
        ];
        bodies.extend((0..247).map(|i| json!({"fields": {"customer": format!("c{i:03}")}})));
        bodies.push(json!({"fields": {"customer": "丙", "owner": [ids[0]]}}));
        app.post(ORDERS, &app.admin_token, json!({"records": bodies})).await.expect(StatusCode::CREATED);
        let started = app.post("/api/v1/flows/digest/runs", &app.admin_token, json!({"payload": {}})).await.expect(StatusCode::CREATED).clone();
        let done = run_in(&app, started["id"].as_str().unwrap(), "succeeded").await;
        let each = done["steps"].as_array().unwrap().iter().find(|s| s["key"] == "each").unwrap();
        assert_eq!(each["output"]["count"], 250, "{done}");
        assert_eq!(each["output"]["notifications"]["tell"].as_array().unwrap().len(), 2, "{done}");
        // 李 has one message listing both of their orders, 张 one with theirs.
        let li = crate::approval_reminders::inbox(&app, &member_token(&app, &ids[0]).await).await;
        assert_eq!(li.len(), 1, "{li:?}");
        assert_eq!(li[0]["title"], "你的订单");
        let mut lines: Vec<&str> = li[0]["text"].as_str().unwrap().lines().collect();
        lines.sort();
        assert_eq!(lines, ["丙", "甲"]);
        assert_eq!(inbox(&app, &member_token(&app, &ids[1]).await).await, ["乙"]);
        app
    }
}
