//! Standing delegations (代理审批, `/api/v1/approval-delegations`): while one covers a process, the tasks
//! that would start for the delegating member start for the delegate — at a node's entry and on a transfer
//! — with an automatic `redirect_task` record; before it begins, after it ends or once deleted, they do
//! not. Bad input is refused with a structured error and writes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::{member_token, running_task, school};
use crate::{TestApp, api_tests, member_body};

fn record_types(instance: &Value) -> Vec<&str> {
    instance["operation_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["type"].as_str().unwrap())
        .collect()
}

async fn delegation_events(app: &TestApp) -> Vec<(String, Value)> {
    let page = app
        .get(
            "/api/v1/events?types=approval.delegation.*&page_size=100",
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["subject"]["delegation_id"].clone(),
            )
        })
        .collect()
}

async fn appeal(app: &TestApp, school: &crate::approvals::School, item: &str) -> Value {
    app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "fields": {
        "item": item, "points": "2.0", "head_teacher": school.teacher, "inspector": school.inspector
    }})).await.expect(StatusCode::CREATED).clone()
}

/// The forecast node `key`: `(approvers, delegations)`.
fn forecast_node<'a>(forecast: &'a Value, key: &str) -> (&'a Value, &'a Value) {
    let node = forecast["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["node"] == key)
        .unwrap_or_else(|| panic!("no node {key} in {forecast}"));
    (&node["approvers"], &node["delegations"])
}

api_tests! {
    async fn a_forecast_names_the_delegate_and_a_delegate_who_also_approves_gets_one_task(app) {
        let school = school(&app).await;
        let deputy = app.post("/api/v1/members", &app.admin_token, member_body("德育副主任孙")).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let body = json!({"initiator": school.teacher, "fields": {
            "item": "卫生", "points": "2.0", "head_teacher": school.teacher, "inspector": school.inspector
        }});
        let before = app.post("/api/v1/processes/DUTY_APPEAL/forecast", &app.admin_token, body.clone()).await.expect(StatusCode::OK).clone();
        assert_eq!(forecast_node(&before, "n1"), (&json!([school.dean]), &json!([])));

        // The dean delegates DUTY_APPEAL: the forecast asks the deputy at n1, and says for whom.
        app.post("/api/v1/approval-delegations", school.token("dean"), json!({"to": deputy, "processes": ["DUTY_APPEAL"]})).await.expect(StatusCode::CREATED);
        let delegated = app.post("/api/v1/processes/DUTY_APPEAL/forecast", &app.admin_token, body.clone()).await.expect(StatusCode::OK).clone();
        assert_eq!(forecast_node(&delegated, "n1"), (&json!([deputy]), &json!([{"from": school.dean, "to": deputy}])));
        assert_eq!(forecast_node(&delegated, "n2"), (&json!([school.vice]), &json!([])));

        // The deputy is a dean too: n1 would ask the deputy twice (for the dean, and as a dean); they
        // get one task, in the dean's place, and the forecast says the same.
        app.patch("/api/v1/roles/dean", &app.admin_token, json!({"member_ids": [school.dean, deputy]})).await.expect(StatusCode::OK);
        let both = app.post("/api/v1/processes/DUTY_APPEAL/forecast", &app.admin_token, body).await.expect(StatusCode::OK).clone();
        assert_eq!(forecast_node(&both, "n1"), (&json!([deputy]), &json!([{"from": school.dean, "to": deputy}])));
        let started = appeal(&app, &school, "卫生 2").await;
        let tasks: Vec<&str> = started["tasks"].as_array().unwrap().iter().map(|task| task["assignee"].as_str().unwrap()).collect();
        assert_eq!(tasks, [deputy.as_str()], "{started}");
        assert_eq!(record_types(&started), ["start_process_instance", "redirect_task"]);
        app
    }

    async fn a_standing_delegation_hands_new_tasks_to_the_delegate_while_it_covers_them(app) {
        let school = school(&app).await;
        let deputy = app.post("/api/v1/members", &app.admin_token, member_body("德育副主任孙")).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let deputy_token = member_token(&app, &deputy).await;

        // The dean delegates DUTY_APPEAL to the deputy for one day, from now.
        let created = app.post("/api/v1/approval-delegations", school.token("dean"), json!({
            "to": deputy, "processes": ["DUTY_APPEAL"], "ends_at": "2026-11-26T09:00:00Z"
        })).await.expect(StatusCode::CREATED).clone();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created, json!({
            "id": id, "from": school.dean, "to": deputy, "processes": ["DUTY_APPEAL"],
            "starts_at": "2026-11-25T09:00:00Z", "ends_at": "2026-11-26T09:00:00Z", "created_at": "2026-11-25T09:00:00Z",
        }));
        assert_eq!(app.get(&format!("/api/v1/approval-delegations/{id}"), &deputy_token).await.expect(StatusCode::OK), &created);
        let mine = app.get("/api/v1/approval-delegations?from=me", school.token("dean")).await.expect(StatusCode::OK).clone();
        assert_eq!(mine["items"], json!([created]));
        let theirs = app.get(&format!("/api/v1/approval-delegations?to={}", school.vice), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(theirs["items"], json!([]));
        assert_eq!(delegation_events(&app).await, [("approval.delegation.created".to_owned(), json!(id))]);

        // An appeal now: the dean's task starts for the deputy, with an automatic redirect record.
        let started = appeal(&app, &school, "卫生 1").await;
        let deputy_task = running_task(&started, &deputy).to_owned();
        assert_eq!(started["tasks"].as_array().unwrap().len(), 1, "{started}");
        assert_eq!(record_types(&started), ["start_process_instance", "redirect_task"]);
        let redirect = &started["operation_records"][1];
        assert_eq!((redirect["automatic"].as_bool(), redirect["task_id"].as_str(), &redirect["members"]), (Some(true), Some(deputy_task.as_str()), &json!([school.dean, deputy])));
        // The task is the deputy's: the dean may not decide it; the deputy does.
        app.post(&format!("/api/v1/approval-tasks/{deputy_task}/approve"), school.token("dean"), json!({})).await.expect_error(StatusCode::FORBIDDEN, "not_assignee");
        let at_vice = app.post(&format!("/api/v1/approval-tasks/{deputy_task}/approve"), &deputy_token, json!({})).await.expect(StatusCode::OK).clone();
        // The vice transfers their task to the dean: it goes on to the deputy too.
        let vice_task = running_task(&at_vice, &school.vice).to_owned();
        let transferred = app.post(&format!("/api/v1/approval-tasks/{vice_task}/transfer"), school.token("vice"), json!({"to": school.dean})).await.expect(StatusCode::OK).clone();
        let second = running_task(&transferred, &deputy).to_owned();
        assert_eq!(record_types(&transferred), ["start_process_instance", "redirect_task", "execute_task_normal", "redirect_task", "redirect_task"]);
        let done = app.post(&format!("/api/v1/approval-tasks/{second}/approve"), &deputy_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")));

        // Once it ended (a day later), the dean's tasks are the dean's again.
        app.clock.advance(chrono::TimeDelta::hours(25));
        let later = appeal(&app, &school, "卫生 2").await;
        running_task(&later, &school.dean);
        assert_eq!(record_types(&later), ["start_process_instance"]);

        // Deleted: only by the dean (or an administrator); the deputy's try is 404 and changes nothing.
        app.delete(&format!("/api/v1/approval-delegations/{id}"), &deputy_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/approval-delegations/{id}"), &app.admin_token).await.expect(StatusCode::OK);
        app.delete(&format!("/api/v1/approval-delegations/{id}"), school.token("dean")).await.expect(StatusCode::NO_CONTENT);
        app.get(&format!("/api/v1/approval-delegations/{id}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(delegation_events(&app).await, [
            ("approval.delegation.created".to_owned(), json!(id)),
            ("approval.delegation.deleted".to_owned(), json!(id)),
        ]);

        // An administrator sets one for the vice, for every process, starting tomorrow: nothing changes today.
        let tomorrow = app.post("/api/v1/approval-delegations", &app.admin_token, json!({
            "from": school.vice, "to": deputy, "starts_at": "2026-11-27T09:00:00Z"
        })).await.expect(StatusCode::CREATED).clone();
        assert_eq!(tomorrow["processes"], Value::Null);
        assert_eq!(tomorrow["ends_at"], Value::Null);
        let dean_task = running_task(&later, &school.dean).to_owned();
        let at_vice = app.post(&format!("/api/v1/approval-tasks/{dean_task}/approve"), school.token("dean"), json!({})).await.expect(StatusCode::OK).clone();
        running_task(&at_vice, &school.vice);
        app
    }

    async fn bad_delegations_are_refused_with_their_field_and_write_nothing(app) {
        let school = school(&app).await;
        let audit = app.audit_len().await;
        let dean = school.token("dean");
        let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"to": school.dean}), "to", "not_allowed"),
            (json!({"to": unknown}), "to", "not_found"),
            (json!({"to": "孙"}), "to", "invalid_format"),
            (json!({"to": school.vice, "processes": []}), "processes", "empty"),
            (json!({"to": school.vice, "processes": ["NOPE"]}), "processes[0]", "not_found"),
            (json!({"to": school.vice, "processes": ["DUTY_APPEAL", "DUTY_APPEAL"]}), "processes[1]", "duplicate"),
            (json!({"to": school.vice, "starts_at": "2026-11-27T09:00:00Z", "ends_at": "2026-11-26T09:00:00Z"}), "ends_at", "before_other"),
            (json!({"to": school.vice, "starts_at": "2026-11-20T09:00:00Z", "ends_at": "2026-11-21T09:00:00Z"}), "ends_at", "not_in_future"),
            (json!({"from": unknown, "to": school.vice}), "from", "not_found"),
        ];
        for (body, field, code) in cases {
            let token = if body.get("from").is_some() { app.admin_token.as_str() } else { dean };
            let error = app.post("/api/v1/approval-delegations", token, body.clone()).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
            assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str()), (Some(field), Some(code)), "{body}: {error}");
        }
        let processes: Vec<String> = (0..201).map(|i| format!("P{i}")).collect();
        let error = app.post("/api/v1/approval-delegations", dean, json!({"to": school.vice, "processes": processes})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str()), (Some("processes"), Some("too_many")));
        // An organization token must say whose delegation it is.
        let error = app.post("/api/v1/approval-delegations", &app.admin_token, json!({"to": school.vice})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str()), (Some("from"), Some("required")));
        // A member may not set another member's.
        let error = app.post("/api/v1/approval-delegations", dean, json!({"from": school.vice, "to": school.inspector})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope").clone();
        assert_eq!(error["params"]["scope"], "admin");
        app.get("/api/v1/approval-delegations/nope", dean).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/approval-delegations/{unknown}"), dean).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("/api/v1/approval-delegations/{unknown}"), dean).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/approval-delegations?from=nope", dean).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        assert_eq!(app.audit_len().await, audit, "a refused delegation writes nothing");
        assert_eq!(app.get("/api/v1/approval-delegations", dean).await.expect(StatusCode::OK)["items"], json!([]));

        // Two delegations of one member may not overlap in time and processes.
        let first = app.post("/api/v1/approval-delegations", dean, json!({"to": school.vice, "ends_at": "2026-11-28T09:00:00Z"})).await.expect(StatusCode::CREATED).clone();
        let error = app.post("/api/v1/approval-delegations", dean, json!({"to": school.inspector, "processes": ["DUTY_APPEAL"], "starts_at": "2026-11-27T09:00:00Z"})).await.expect_error(StatusCode::CONFLICT, "delegation_overlap").clone();
        assert_eq!(error["params"]["existing"], first["id"]);
        assert_eq!(app.audit_len().await, audit + 1);
        // Back to back is fine; another member's is fine.
        app.post("/api/v1/approval-delegations", dean, json!({"to": school.inspector, "starts_at": "2026-11-28T09:00:00Z"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/approval-delegations", school.token("vice"), json!({"to": school.dean})).await.expect(StatusCode::CREATED);
        assert_eq!(app.get("/api/v1/approval-delegations", dean).await.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 3);
        app
    }
}
