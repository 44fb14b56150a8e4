//! Reminders (催办) reach people: `POST /api/v1/approvals/{id}/remind` and the reminder timers of a
//! process's `remind_after_hours` leave a message in the inbox (`GET /api/v1/me/notifications`) of each
//! running task's assignee, in the command's transaction, with an audit entry `approval.reminded` — and
//! change nothing else (no task, record or event).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::{approval_events, running_task};
use crate::{TestApp, api_tests};

pub(crate) async fn inbox(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/v1/me/notifications", token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The newest audit entry about the approval `id`.
async fn last_audit(app: &TestApp, id: &str) -> Value {
    let page = app
        .get(
            &format!("/api/v1/audit?target_type=approval&target_id={id}"),
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    page["items"][0].clone()
}

api_tests! {
    async fn a_reminder_reaches_the_inbox_of_each_running_tasks_assignee_and_changes_nothing_else(app) {
        let school = crate::approvals::school(&app).await;
        let record = crate::approvals::inspection(&app, &school, "2.0").await;
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": record})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap().to_owned();
        let business_id = started["business_id"].as_str().unwrap().to_owned();
        let dean_task = running_task(&started, &school.dean).to_owned();
        let events = approval_events(&app, &id).await;
        let audit = app.audit_len().await;

        // The initiator reminds: the dean (the one running task) gets one message; nobody else does.
        let reminded = app.post(&format!("/api/v1/approvals/{id}/remind"), school.token("teacher"), json!({"comment": "请尽快处理"})).await.expect(StatusCode::OK).clone();
        assert_eq!(reminded, started, "a reminder changes no task and leaves no operation record");
        let messages = inbox(&app, school.token("dean")).await;
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["title"], "审批催办");
        assert_eq!(messages[0]["text"], format!("「扣分申诉」（审批编号 {business_id}）等待你处理\n请尽快处理"));
        assert_eq!(messages[0]["source"], json!({
            "type": "approval.remind", "instance_id": id, "process": "DUTY_APPEAL", "business_id": business_id,
            "task_ids": [dean_task], "by": school.teacher,
        }));
        assert_eq!(messages[0]["read_at"], Value::Null);
        for who in ["teacher", "vice", "inspector"] {
            assert_eq!(inbox(&app, school.token(who)).await, Vec::<Value>::new(), "{who}");
        }
        // No event (the issue names none for a reminder); one audit entry says who was reminded.
        assert_eq!(approval_events(&app, &id).await, events);
        assert_eq!(app.audit_len().await, audit + 1);
        let entry = last_audit(&app, &id).await;
        assert_eq!(entry["action"], "approval.reminded");
        assert_eq!(entry["after"]["reminded"], json!([{"task_id": dean_task, "assignee": school.dean}]));

        // The dean adds the vice before themself: the dean's task pauses, so the vice (running) is the
        // one reminded. An organization token acting for nobody reminds too (`by` null).
        let signed = app.post(&format!("/api/v1/approval-tasks/{dean_task}/add-sign"), school.token("dean"), json!({"members": [school.vice], "position": "before", "method": "or"})).await.expect(StatusCode::OK).clone();
        let vice_task = running_task(&signed, &school.vice).to_owned();
        app.post(&format!("/api/v1/approvals/{id}/remind"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let messages = inbox(&app, school.token("vice")).await;
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["text"], format!("「扣分申诉」（审批编号 {business_id}）等待你处理"));
        assert_eq!(messages[0]["source"]["task_ids"], json!([vice_task]));
        assert_eq!(messages[0]["source"]["by"], Value::Null);
        assert_eq!(inbox(&app, school.token("dean")).await.len(), 1, "the paused dean is not reminded again");

        // A comment longer than any comment may be is 422 and leaves no message.
        let long = "长".repeat(2001);
        let error = app.post(&format!("/api/v1/approvals/{id}/remind"), school.token("teacher"), json!({"comment": long})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "comment");
        assert_eq!(inbox(&app, school.token("vice")).await.len(), 1);
        // An ended instance is 409 and reminds nobody.
        app.post(&format!("/api/v1/approvals/{id}/terminate"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        app.post(&format!("/api/v1/approvals/{id}/remind"), school.token("teacher"), json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(inbox(&app, school.token("vice")).await.len(), 1);
        app
    }
}
