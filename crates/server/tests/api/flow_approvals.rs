//! Flows and approvals over HTTP (issue #18): approval triggers (a run per `approval.instance.*` event,
//! inserted in the approval command's transaction, its trigger key the event's id), `start_approval`
//! (an instance started by the flow, the initiator from the process's rule or the step's formula) and
//! `wait_approval` (the run `waiting` until the instance finishes, woken by the command that finishes it),
//! and their publish checks, 422 with paths.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::{School, inspection, record_status, running_task, school};
use crate::flow_steps::{details, only_run, records, run_in, runs, step_statuses};
use crate::{TestApp, api_tests};

const NOTES: &str = "/api/v1/apps/school/tables/notes/records";

/// The school of the approvals tests again, with a notes table and `flows`.
fn school_with(flows: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "school", "name": "学校",
        "tables": [
            {"key": "inspections", "name": "检查", "fields": [
                {"key": "item", "name": "事项", "type": "text"},
                {"key": "points", "name": "扣分", "type": "number", "options": {"precision": 1}},
                {"key": "head_teacher", "name": "班主任", "type": "member"},
                {"key": "inspector", "name": "检查人", "type": "member"},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "有效"}, {"name": "申诉中"}, {"name": "已撤销"}]}},
                {"key": "reason", "name": "驳回理由", "type": "text"}
            ]},
            {"key": "notes", "name": "记录", "fields": [
                {"key": "text", "name": "内容", "type": "text"},
                {"key": "instance", "name": "审批", "type": "text"}
            ]}
        ],
        "flows": flows
    })
}

async fn publish(app: &TestApp, flows: Value) -> School {
    let school = school(app).await;
    app.post("/api/v1/apps/import", &app.admin_token, school_with(flows))
        .await
        .expect(StatusCode::OK);
    school
}

/// Waits (bounded) until `flow` has `count` runs, all `status`; newest first.
async fn runs_in(app: &TestApp, flow: &str, count: usize, status: &str) -> Vec<Value> {
    for _ in 0..300 {
        let found = runs(app, flow).await;
        if found.len() == count && found.iter().all(|run| run["status"] == status) {
            return found;
        }
        assert!(found.len() <= count, "{found:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{flow}: not {count} runs {status}: {:?}",
        runs(app, flow).await
    );
}

/// The id of the event of `event_type` about `instance`.
async fn event_id(app: &TestApp, instance: &str, event_type: &str) -> String {
    let events = app
        .get(
            &format!("/api/v1/events?types={event_type}&page_size=1000"),
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    let found: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["subject"]["instance_id"] == instance)
        .collect();
    assert_eq!(found.len(), 1, "{events}");
    found[0]["id"].as_str().unwrap().to_owned()
}

async fn notes(app: &TestApp) -> Vec<String> {
    let mut texts: Vec<String> = records(app, NOTES)
        .await
        .iter()
        .map(|note| {
            note["fields"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    texts.sort();
    texts
}

api_tests! {
    async fn approval_triggers_start_one_run_per_event_in_the_approvals_transaction(app) {
        let school = publish(&app, json!([
            {"key": "on_start", "trigger": {"approval": {"process": "DUTY_APPEAL", "on": ["started"]}},
             "steps": [{"key": "n", "type": "create_record", "table": "notes",
                        "fields": {"text": "\"started \" & {trigger.fields.事项} & \" \" & {trigger.status}", "instance": "{trigger.instance_id}"}}]},
            {"key": "on_end", "trigger": {"approval": {"process": "DUTY_APPEAL", "on": ["approved", "refused", "withdrawn"]}},
             "steps": [{"key": "n", "type": "create_record", "table": "notes",
                        "fields": {"text": "{trigger.event} & \" \" & {trigger.result} & \" \" & {trigger.fields.状态}",
                                   "instance": "{trigger.business_id}"}}]}
        ])).await;
        let flow = app.get("/api/v1/flows/on_end", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(flow["definition"]["trigger"]["approval"]["process"], "DUTY_APPEAL", "{flow}");
        // Approved: one run at the start, one at the end, each keyed by its event.
        let approved = inspection(&app, &school, "0.5").await;
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": approved})).await.expect(StatusCode::CREATED).clone();
        let instance = started["id"].as_str().unwrap().to_owned();
        let start_run = runs_in(&app, "on_start", 1, "succeeded").await;
        let start_run = run_in(&app, start_run[0]["id"].as_str().unwrap(), "succeeded").await;
        let trigger = &start_run["trigger"];
        assert_eq!(trigger["type"], "approval");
        assert_eq!(trigger["event"], "started");
        assert_eq!(trigger["instance_id"], instance.as_str());
        assert_eq!(trigger["record_id"], approved.as_str());
        assert_eq!(trigger["initiator"], school.teacher.as_str());
        assert_eq!(trigger["event_id"].as_str().unwrap(), event_id(&app, &instance, "approval.instance.started").await);
        assert_eq!(start_run["depth"], 0);
        assert!(runs(&app, "on_end").await.is_empty());
        app.post(&format!("/api/v1/approval-tasks/{}/approve", running_task(&started, &school.dean)), school.token("dean"), json!({})).await.expect(StatusCode::OK);
        let end_run = runs_in(&app, "on_end", 1, "succeeded").await;
        assert_eq!(end_run[0]["trigger"]["event_id"].as_str().unwrap(), event_id(&app, &instance, "approval.instance.approved").await);
        assert_eq!(end_run[0]["trigger"]["result"], "agree");
        // Refused (a comment is required), and withdrawn.
        let refused = inspection(&app, &school, "0.5").await;
        let second = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": refused})).await.expect(StatusCode::CREATED).clone();
        app.post(&format!("/api/v1/approval-tasks/{}/refuse", running_task(&second, &school.dean)), school.token("dean"), json!({"comment": "属实"})).await.expect(StatusCode::OK);
        let withdrawn = inspection(&app, &school, "0.5").await;
        let third = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": withdrawn})).await.expect(StatusCode::CREATED).clone();
        app.post(&format!("/api/v1/approvals/{}/withdraw", third["id"].as_str().unwrap()), school.token("teacher"), json!({})).await.expect(StatusCode::OK);
        runs_in(&app, "on_start", 3, "succeeded").await;
        runs_in(&app, "on_end", 3, "succeeded").await;
        assert_eq!(notes(&app).await, [
            "approved agree 已撤销",
            "refused refuse 有效",
            "started 卫生 running",
            "started 卫生 running",
            "started 卫生 running",
            "withdrawn  有效",
        ]);
        // A refused command starts nothing: a stale approve of the finished instance is 409.
        app.post(&format!("/api/v1/approval-tasks/{}/approve", running_task(&started, &school.dean)), school.token("dean"), json!({})).await.expect(StatusCode::CONFLICT);
        runs_in(&app, "on_end", 3, "succeeded").await;
        // A disabled flow starts nothing.
        app.call(reqwest::Method::PATCH, "/api/v1/flows/on_start", Some(&app.admin_token), Some(json!({"enabled": false}))).await.expect(StatusCode::OK);
        let fourth = inspection(&app, &school, "0.5").await;
        app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": fourth})).await.expect(StatusCode::CREATED);
        runs_in(&app, "on_end", 3, "succeeded").await;
        assert_eq!(runs(&app, "on_start").await.len(), 3);
        app
    }

    async fn start_approval_and_wait_approval_run_an_instance_to_its_end(app) {
        let school = publish(&app, json!([
            {"key": "appeal", "trigger": {"manual": {"inputs": [{"key": "record", "type": "text", "required": true}]}},
             "steps": [
                {"key": "s", "type": "start_approval", "process": "DUTY_APPEAL", "record": "{trigger.payload.record}"},
                {"key": "w", "type": "wait_approval", "approval": "{steps.s.output.id}"},
                {"key": "n", "type": "create_record", "table": "notes",
                 "fields": {"text": "{steps.w.output.status} & \" \" & {steps.w.output.result}", "instance": "{steps.w.output.id}"}}
             ]},
            {"key": "create", "trigger": {"manual": {"inputs": [{"key": "teacher", "type": "text", "required": true}]}},
             "steps": [
                {"key": "s", "type": "start_approval", "process": "DUTY_APPEAL", "initiator": "{trigger.payload.teacher}",
                 "fields": {"item": "\"宿舍\"", "points": "3", "head_teacher": "{trigger.payload.teacher}", "status": "\"有效\""}},
                {"key": "w", "type": "wait_approval", "approval": "{steps.s.output.id}"},
                {"key": "n", "type": "create_record", "table": "notes",
                 "fields": {"text": "{steps.w.output.status} & \" \" & {steps.s.output.record.id}"}}
             ]}
        ])).await;
        // On an existing record: the initiator from the process's rule (the head teacher), acted by the flow.
        let record = inspection(&app, &school, "0.5").await;
        let run = app.post("/api/v1/flows/appeal/runs", &app.admin_token, json!({"payload": {"record": record}})).await.expect(StatusCode::CREATED).clone();
        let id = run["id"].as_str().unwrap().to_owned();
        let waiting = run_in(&app, &id, "waiting").await;
        assert_eq!(step_statuses(&waiting), [("s".to_owned(), "succeeded".to_owned()), ("w".to_owned(), "running".to_owned())]);
        let started = &waiting["steps"][0]["output"];
        let instance = started["id"].as_str().unwrap().to_owned();
        assert_eq!(started["status"], "running");
        assert_eq!(started["initiator"], school.teacher.as_str());
        assert_eq!(waiting["steps"][1]["input"]["approval_id"], instance.as_str());
        assert_eq!(record_status(&app, &record).await, "申诉中");
        let detail = app.get(&format!("/api/v1/approvals/{instance}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let events = app.get("/api/v1/events?types=approval.instance.started&page_size=100", &app.admin_token).await.expect(StatusCode::OK).clone();
        let event = events["items"].as_array().unwrap().iter().find(|e| e["subject"]["instance_id"] == instance.as_str()).unwrap().clone();
        assert_eq!(event["actor"]["type"], "flow", "{event}");
        assert_eq!(event["actor"]["id"], id.as_str());
        // The dean approves: the command that finishes the instance makes the run due at once.
        app.post(&format!("/api/v1/approval-tasks/{}/approve", running_task(&detail, &school.dean)), school.token("dean"), json!({})).await.expect(StatusCode::OK);
        let done = run_in(&app, &id, "succeeded").await;
        assert_eq!(done["steps"][1]["output"]["status"], "completed");
        assert_eq!(done["steps"][1]["output"]["result"], "agree");
        assert_eq!(done["steps"][1]["attempts"], 1);
        assert_eq!(notes(&app).await, ["completed agree"]);
        // With fields: the record is created in the step's transaction; withdrawn, the wait ends too.
        let run = app.post("/api/v1/flows/create/runs", &app.admin_token, json!({"payload": {"teacher": school.teacher}})).await.expect(StatusCode::CREATED).clone();
        let id = run["id"].as_str().unwrap().to_owned();
        let waiting = run_in(&app, &id, "waiting").await;
        let started = waiting["steps"][0]["output"].clone();
        let created = started["record"]["id"].as_str().unwrap().to_owned();
        assert_eq!(record_status(&app, &created).await, "申诉中");
        app.post(&format!("/api/v1/approvals/{}/withdraw", started["id"].as_str().unwrap()), school.token("teacher"), json!({})).await.expect(StatusCode::OK);
        let done = run_in(&app, &id, "succeeded").await;
        assert_eq!(done["steps"][1]["output"]["status"], "terminated");
        assert_eq!(notes(&app).await, ["completed agree".to_owned(), format!("terminated {created}")]);
        // A record with a running instance: the start is refused, the step fails with the reason and
        // writes nothing.
        let busy = inspection(&app, &school, "0.5").await;
        app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": busy})).await.expect(StatusCode::CREATED);
        let run = app.post("/api/v1/flows/appeal/runs", &app.admin_token, json!({"payload": {"record": busy}})).await.expect(StatusCode::CREATED).clone();
        let failed = run_in(&app, run["id"].as_str().unwrap(), "failed").await;
        assert_eq!(failed["error"]["step"], "s");
        let message = failed["steps"][0]["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains("runs on this record"), "{failed}");
        assert_eq!(notes(&app).await.len(), 2);
        let _ = only_run(&app, "create", "succeeded").await;
        app
    }

    async fn approval_flows_are_checked_at_publish_with_paths(app) {
        let _school = school(&app).await;
        let reply = app.post("/api/v1/apps/import", &app.admin_token, school_with(json!([
            {"key": "a", "trigger": {"approval": {"process": "NOPE", "on": ["approved"]}},
             "steps": [{"key": "x", "type": "if", "condition": "TRUE()"}]},
            {"key": "b", "trigger": {"manual": {}}, "steps": [
                {"key": "s", "type": "start_approval", "process": "DUTY_APPEAL"},
                {"key": "t", "type": "start_approval", "process": "DUTY_APPEAL", "fields": {"nope": "1"}},
                {"key": "w", "type": "wait_approval", "approval": "{steps.zz.output.id}"},
                {"key": "e", "type": "for_each", "items": "\"a\"", "steps": [{"key": "e1", "type": "wait_approval", "approval": "\"x\""}]}
            ]}
        ]))).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let expected: Vec<(String, String)> = [
            ("flows[0].trigger.approval.process", "not_found"),
            ("flows[1].steps[0].record", "required"),
            ("flows[1].steps[1].fields.nope", "not_found"),
            ("flows[1].steps[2].approval", "formula_unknown_field"),
            ("flows[1].steps[3].steps[0].type", "not_allowed"),
        ].iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect();
        assert_eq!(details(&error), expected, "{error}");
        app.get("/api/v1/flows/a", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/apps/school/tables/notes", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn the_export_carries_the_flows_and_imports_again_unchanged(app) {
        let _school = publish(&app, json!([
            {"key": "on_start", "name": "开始", "trigger": {"approval": {"process": "DUTY_APPEAL", "on": ["started"]}},
             "steps": [{"key": "n", "type": "create_record", "table": "notes", "fields": {"text": "{trigger.business_id}"}}]},
            {"key": "appeal", "trigger": {"manual": {"inputs": [{"key": "record", "type": "text", "required": true}]}},
             "steps": [
                {"key": "s", "type": "start_approval", "process": "DUTY_APPEAL", "record": "{trigger.payload.record}"},
                {"key": "w", "type": "wait_approval", "approval": "{steps.s.output.id}"}
             ]}
        ])).await;
        let exported = app.http.get(format!("{}/api/v1/apps/school/export?format=json", app.base)).bearer_auth(&app.admin_token).send().await.unwrap().text().await.unwrap();
        let file: Value = serde_json::from_str(&exported).unwrap();
        let keys: Vec<&str> = file["flows"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["appeal", "on_start"], "{file}");
        let appeal = app.get("/api/v1/flows/appeal", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(file["flows"][0], appeal["definition"]);
        assert_eq!(file["flows"][1]["trigger"]["approval"]["on"], json!(["started"]));
        // The YAML export imports again and publishes nothing new.
        let yaml = app.http.get(format!("{}/api/v1/apps/school/export", app.base)).bearer_auth(&app.admin_token).send().await.unwrap().text().await.unwrap();
        assert!(yaml.contains("flows:"), "{yaml}");
        let request = app.http.post(format!("{}/api/v1/apps/import", app.base)).bearer_auth(&app.admin_token).header("content-type", "application/yaml").body(yaml);
        crate::Reply::from(request.send().await.unwrap()).await.expect(StatusCode::OK);
        for flow in ["appeal", "on_start"] {
            let stored = app.get(&format!("/api/v1/flows/{flow}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            assert_eq!(stored["version"], 1, "{stored}");
        }
        // Another app's flows stay out of this app's file.
        app.post("/api/v1/apps/import", &app.admin_token, json!({
            "format": "tenon.app/v1", "key": "other", "name": "其他",
            "tables": [{"key": "t", "name": "表", "fields": [{"key": "x", "name": "X", "type": "text"}]}],
            "flows": [{"key": "elsewhere", "trigger": {"manual": {}}, "steps": [{"key": "c", "type": "create_record", "table": "t", "fields": {"x": "\"1\""}}]}]
        })).await.expect(StatusCode::CREATED);
        let exported = app.http.get(format!("{}/api/v1/apps/school/export?format=json", app.base)).bearer_auth(&app.admin_token).send().await.unwrap().text().await.unwrap();
        let file: Value = serde_json::from_str(&exported).unwrap();
        assert_eq!(file["flows"].as_array().unwrap().len(), 2);
        app
    }
}
