//! The limit of 200 approvers: a node lists at most 200 members (more is a 422 at the rule's
//! path when the process is written), resolves to at most 200 when it is entered (more is a 422 at
//! `approvers` and the start writes nothing), and an add-sign or CC names at most 200 — each with
//! `too_many` and `params.max` 200. Exactly 200 works.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::{running_task, school};
use crate::{TestApp, api_tests};

fn single_node(code: &str, approvers: Value) -> Value {
    json!({
        "app": "school", "code": code, "name": "点名", "table": "inspections",
        "nodes": [{"key": "n1", "type": "approval", "method": "or", "approvers": approvers, "next": "end"}]
    })
}

async fn record_count(app: &TestApp) -> usize {
    app.get(
        "/api/v1/apps/school/tables/inspections/records?page_size=1000",
        &app.admin_token,
    )
    .await
    .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .len()
}

#[track_caller]
fn assert_too_many(error: &Value, field: &str) {
    let detail = &error["details"][0];
    assert_eq!(
        (
            detail["field"].as_str(),
            detail["code"].as_str(),
            &detail["params"]["max"]
        ),
        (Some(field), Some("too_many"), &json!(200)),
        "{error}"
    );
}

api_tests! {
    async fn a_node_takes_at_most_200_approvers_and_201_is_a_clear_422_that_writes_nothing(app) {
        let school = school(&app).await;
        let mut ids = Vec::new();
        for i in 0..201 {
            let member = app.post("/api/v1/members", &app.admin_token, json!({"name": format!("教师{i}")})).await.expect(StatusCode::CREATED).clone();
            ids.push(member["id"].as_str().unwrap().to_owned());
        }
        // Written: 201 listed members is refused at the rule's path; 200 is a process.
        let audit = app.audit_len().await;
        let error = app.post("/api/v1/processes", &app.admin_token, single_node("LISTED", json!([{"members": ids}]))).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_too_many(&error, "nodes[0].approvers[0].members");
        app.get("/api/v1/processes/LISTED", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(app.audit_len().await, audit);
        app.post("/api/v1/processes", &app.admin_token, single_node("LISTED", json!([{"members": ids[..200]}]))).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes/LISTED/publish", &app.admin_token, json!({})).await.expect(StatusCode::OK);

        // Resolved: a role of 201 members is 422 at `approvers` when the node is entered; the start (with
        // the record it would create) writes nothing.
        app.post("/api/v1/roles", &app.admin_token, json!({"key": "everyone", "name": "全体教师", "member_ids": ids})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes", &app.admin_token, single_node("ROLLCALL", json!([{"role": "everyone"}]))).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes/ROLLCALL/publish", &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let (audit, records) = (app.audit_len().await, record_count(&app).await);
        let fields = json!({"item": "点名", "points": "1.0", "head_teacher": school.teacher, "inspector": school.inspector});
        let error = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "ROLLCALL", "fields": fields})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_too_many(&error, "approvers");
        assert_eq!((app.audit_len().await, record_count(&app).await), (audit, records), "a refused start writes nothing");
        // With 200 holders it starts, with a task each.
        app.patch("/api/v1/roles/everyone", &app.admin_token, json!({"member_ids": ids[..200]})).await.expect(StatusCode::OK);
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "ROLLCALL", "fields": fields})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(started["tasks"].as_array().unwrap().len(), 200);

        // Added approvers and CC: 201 named is 422 at `members`; the instance does not move.
        let appeal = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "fields": fields})).await.expect(StatusCode::CREATED).clone();
        let id = appeal["id"].as_str().unwrap();
        let dean_task = running_task(&appeal, &school.dean).to_owned();
        let error = app.post(&format!("/api/v1/approval-tasks/{dean_task}/add-sign"), school.token("dean"), json!({"members": ids, "position": "after", "method": "and"})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_too_many(&error, "members");
        let error = app.post(&format!("/api/v1/approvals/{id}/cc"), school.token("dean"), json!({"members": ids})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_too_many(&error, "members");
        assert_eq!(&app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone(), &appeal);
        app
    }
}
