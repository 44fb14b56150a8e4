//! Approvals over HTTP: roles, processes published from drafts, instances started on records, tasks acted
//! on by their assignees, the record's status written with each step, and the `approval.*` events.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tenon_model::{MemberId, Name, ScopeSet};
use tenon_store::{NewToken, WriteContext};

use crate::{TestApp, api_tests, member_body};

/// A personal token acting as `member` (scopes narrowed by the member's role, as for any personal token).
pub async fn member_token(app: &TestApp, member: &str) -> String {
    let secret = tenon_auth::mint(tenon_auth::SecretKind::PersonalToken);
    app.store
        .tenant(app.org.id)
        .create_token(
            &WriteContext::system(),
            NewToken {
                name: Name::parse("member").unwrap(),
                member_id: Some(member.parse::<MemberId>().unwrap()),
                scopes: ScopeSet::parse([
                    "approvals:read",
                    "approvals:write",
                    "records:read",
                    "records:write",
                ])
                .unwrap(),
                rate_limit: None,
                expires_at: None,
                digest: secret.digest.0,
            },
        )
        .await
        .expect("token created");
    secret.plaintext
}

pub struct School {
    pub teacher: String,
    pub dean: String,
    pub vice: String,
    pub inspector: String,
    pub tokens: std::collections::HashMap<&'static str, String>,
}

impl School {
    pub fn token(&self, who: &str) -> &str {
        &self.tokens[who]
    }
}

/// The seed's school: an inspections table, a dean and a vice-principal role, and DUTY_APPEAL published.
pub async fn school(app: &TestApp) -> School {
    app.post("/api/v1/apps/import", &app.admin_token, json!({
        "format": "tenon.app/v1", "key": "school", "name": "学校",
        "tables": [{"key": "inspections", "name": "检查", "fields": [
            {"key": "item", "name": "事项", "type": "text"},
            {"key": "points", "name": "扣分", "type": "number", "options": {"precision": 1}},
            {"key": "head_teacher", "name": "班主任", "type": "member"},
            {"key": "inspector", "name": "检查人", "type": "member"},
            {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "有效"}, {"name": "申诉中"}, {"name": "已撤销"}]}},
            {"key": "reason", "name": "驳回理由", "type": "text"}
        ]}]
    })).await.expect(StatusCode::CREATED);
    let mut ids = Vec::new();
    for name in ["班主任王", "德育主任李", "副校长张", "检查员赵"] {
        let member = app
            .post("/api/v1/members", &app.admin_token, member_body(name))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        ids.push(member["id"].as_str().unwrap().to_owned());
    }
    app.post(
        "/api/v1/roles",
        &app.admin_token,
        json!({"key": "dean", "name": "德育主任", "member_ids": [ids[1]]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/roles",
        &app.admin_token,
        json!({"key": "vice", "name": "分管副校长", "member_ids": [ids[2]]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let created = app
        .post("/api/v1/processes", &app.admin_token, duty_appeal())
        .await
        .expect(StatusCode::CREATED)
        .clone();
    assert_eq!(created["published_version"], Value::Null);
    let published = app
        .post(
            "/api/v1/processes/DUTY_APPEAL/publish",
            &app.admin_token,
            json!({}),
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(published["published_version"], 1);
    let mut tokens = std::collections::HashMap::new();
    for (who, id) in ["teacher", "dean", "vice", "inspector"]
        .into_iter()
        .zip(&ids)
    {
        tokens.insert(who, member_token(app, id).await);
    }
    School {
        teacher: ids[0].clone(),
        dean: ids[1].clone(),
        vice: ids[2].clone(),
        inspector: ids[3].clone(),
        tokens,
    }
}

pub fn duty_appeal() -> Value {
    json!({
        "app": "school", "code": "DUTY_APPEAL", "name": "扣分申诉", "table": "inspections",
        "initiator": {"field": "head_teacher"},
        "record_status": {"field": "status", "running": "申诉中", "agree": "已撤销", "refuse": "有效", "withdrawn": "有效", "comment_field": "reason"},
        "settings": {"comment_required_on_refuse": true},
        "cc": [{"at": "finish", "approvers": [{"field": "inspector"}]}],
        "nodes": [
            {"key": "n1", "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": "c1"},
            {"key": "c1", "type": "condition", "branches": [{"when": "{扣分} >= 2", "next": "n2"}], "default": "end"},
            {"key": "n2", "type": "approval", "method": "or", "approvers": [{"role": "vice"}], "next": "end"}
        ]
    })
}

pub async fn inspection(app: &TestApp, school: &School, points: &str) -> String {
    let record = app.post("/api/v1/apps/school/tables/inspections/records", &app.admin_token, json!({"fields": {
        "item": "卫生", "points": points, "head_teacher": school.teacher, "inspector": school.inspector, "status": "有效"
    }})).await.expect(StatusCode::CREATED).clone();
    record["id"].as_str().unwrap().to_owned()
}

pub fn running_task<'a>(instance: &'a Value, assignee: &str) -> &'a str {
    instance["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["assignee"] == assignee && task["status"] == "running")
        .unwrap_or_else(|| panic!("no running task of {assignee}: {instance}"))["id"]
        .as_str()
        .unwrap()
}

pub async fn record_status(app: &TestApp, record: &str) -> Value {
    let record = app
        .get(
            &format!("/api/v1/apps/school/tables/inspections/records/{record}"),
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    record["fields"]["status"].clone()
}

/// The approval events of one instance, as (type, instance_seq).
pub async fn approval_events(app: &TestApp, instance: &str) -> Vec<(String, i64)> {
    let events = app
        .get(
            "/api/v1/events?types=approval.*&page_size=1000",
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["subject"]["instance_id"] == instance)
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["data"]["instance_seq"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn types(events: &[(String, i64)]) -> Vec<&str> {
    events.iter().map(|(kind, _)| kind.as_str()).collect()
}

api_tests! {
    async fn two_points_go_to_the_dean_then_the_vice_and_a_refusal_keeps_the_deduction(app) {
        let school = school(&app).await;
        let record = inspection(&app, &school, "2.0").await;
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": record})).await.expect(StatusCode::CREATED).clone();
        assert_eq!((started["status"].as_str(), &started["result"], started["version"].as_i64()), (Some("running"), &Value::Null, Some(1)));
        assert_eq!(started["initiator"], school.teacher.as_str());
        assert_eq!(started["record"]["id"], record.as_str());
        assert_eq!(started["business_id"].as_str().unwrap().len(), 14);
        assert_eq!(started["tasks"].as_array().unwrap().len(), 1);
        assert_eq!(started["tasks"][0]["number"], 1);
        assert_eq!(record_status(&app, &record).await, "申诉中");
        let id = started["id"].as_str().unwrap();
        // One running instance per (process, record).
        app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": record})).await.expect_error(StatusCode::CONFLICT, "conflict");

        // While it runs, the status field changes only with the approval; other fields stay writable.
        let path = format!("/api/v1/apps/school/tables/inspections/records/{record}");
        app.patch(&path, &app.admin_token, json!({"fields": {"status": "已撤销"}})).await.expect_error(StatusCode::CONFLICT, "approval_running");
        app.patch(&path, &app.admin_token, json!({"fields": {"item": "卫生（复查）"}})).await.expect(StatusCode::OK);
        let dean_task = running_task(&started, &school.dean).to_owned();
        // Not the assignee: 403 and nothing changes.
        let audit = app.audit_len().await;
        app.post(&format!("/api/v1/approval-tasks/{dean_task}/approve"), school.token("inspector"), json!({})).await.expect_error(StatusCode::FORBIDDEN, "not_assignee");
        assert_eq!(app.audit_len().await, audit);
        let after_dean = app.post(&format!("/api/v1/approval-tasks/{dean_task}/approve"), school.token("dean"), json!({"comment": "同意"})).await.expect(StatusCode::OK).clone();
        // 2.0 ≥ 2: the vice-principal decides too.
        let vice_task = running_task(&after_dean, &school.vice).to_owned();
        // Decided tasks are stale.
        app.post(&format!("/api/v1/approval-tasks/{dean_task}/approve"), school.token("dean"), json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        // A refusal needs a comment in this process.
        app.post(&format!("/api/v1/approval-tasks/{vice_task}/refuse"), school.token("vice"), json!({})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let done = app.post(&format!("/api/v1/approval-tasks/{vice_task}/refuse"), school.token("vice"), json!({"comment": "证据充分"})).await.expect(StatusCode::OK).clone();
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("refuse")));
        assert!(done["finished_at"].is_string());
        assert_eq!(record_status(&app, &record).await, "有效");
        let kinds: Vec<&str> = done["operation_records"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["start_process_instance", "execute_task_normal", "execute_task_normal", "finish_process_instance"]);
        let seqs: Vec<i64> = done["operation_records"].as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);

        let events = approval_events(&app, id).await;
        assert_eq!(types(&events), [
            "approval.instance.started", "approval.task.created",
            "approval.task.approved", "approval.task.created",
            "approval.task.refused", "approval.instance.refused",
        ]);
        let seqs: Vec<i64> = events.iter().map(|(_, seq)| *seq).collect();
        assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
        // GET shows the same instance; finished instances refuse actions.
        let fetched = app.get(&format!("/api/v1/approvals/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(fetched, done);
        app.post(&format!("/api/v1/approvals/{id}/withdraw"), school.token("teacher"), json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }

    async fn half_a_point_needs_only_the_dean_and_the_inspector_is_copied_at_the_finish(app) {
        let school = school(&app).await;
        let record = inspection(&app, &school, "0.5").await;
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": record})).await.expect(StatusCode::CREATED).clone();
        let id = started["id"].as_str().unwrap();
        let task = running_task(&started, &school.dean).to_owned();
        let done = app.post(&format!("/api/v1/approval-tasks/{task}/approve"), school.token("dean"), json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")));
        assert_eq!(record_status(&app, &record).await, "已撤销");
        let events = approval_events(&app, id).await;
        assert_eq!(types(&events), [
            "approval.instance.started", "approval.task.created",
            "approval.task.approved", "approval.instance.approved", "approval.cc",
        ]);
        // The dean's to-do list: nothing running, one completed.
        let todo = app.get("/api/v1/approval-tasks?assignee=me&status=running", school.token("dean")).await.expect(StatusCode::OK).clone();
        assert_eq!(todo["items"], json!([]));
        let done_list = app.get("/api/v1/approval-tasks?assignee=me&status=completed", school.token("dean")).await.expect(StatusCode::OK).clone();
        assert_eq!(done_list["items"][0]["id"], task.as_str());
        app
    }

    async fn an_organization_token_starts_for_the_initiator_rule_and_a_replayed_key_answers_the_first_body(app) {
        let school = school(&app).await;
        let record = inspection(&app, &school, "1.0").await;
        let request = |key: &str| {
            app.http.post(format!("{}/api/v1/approvals", app.base)).bearer_auth(&app.admin_token)
                .header("idempotency-key", key).json(&json!({"process": "DUTY_APPEAL", "record": record}))
        };
        let first = crate::Reply::from(request("k-1").send().await.unwrap()).await;
        first.expect(StatusCode::CREATED);
        // The process's initiator rule: the record's head teacher.
        assert_eq!(first.body["initiator"], school.teacher.as_str());
        let again = crate::Reply::from(request("k-1").send().await.unwrap()).await;
        again.expect(StatusCode::CREATED);
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        // Unknown process and record: 422 naming the field; nothing written.
        let audit = app.audit_len().await;
        let error = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "NOPE", "record": record})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "process");
        let error = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "DUTY_APPEAL", "record": tenon_model::RecordId::new().to_string()})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "record");
        assert_eq!(app.audit_len().await, audit);
        app.get(&format!("/api/v1/approvals/{}", tenon_model::ApprovalId::new()), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn publishing_reports_each_problem_at_its_path(app) {
        let _school = school(&app).await;
        let mut bad = duty_appeal();
        bad["code"] = json!("BAD");
        bad["nodes"][0]["approvers"] = json!([{"role": "nobody"}]);
        bad["nodes"][1]["branches"][0]["when"] = json!("{没有} >= 2");
        bad["record_status"]["running"] = json!("不存在");
        app.post("/api/v1/processes", &app.admin_token, bad).await.expect(StatusCode::CREATED);
        let error = app.post("/api/v1/processes/BAD/publish", &app.admin_token, json!({})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        for expected in ["nodes[0].approvers[0].role", "nodes[1].branches[0].when", "record_status.running"] {
            assert!(fields.contains(&expected), "{expected} missing in {fields:?}");
        }
        let versions = app.get("/api/v1/processes/BAD/versions", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(versions["items"], json!([]));
        // A changed draft publishes version 2; instances keep theirs.
        let mut changed = duty_appeal();
        changed["name"] = json!("扣分申诉（新）");
        app.call(reqwest::Method::PUT, "/api/v1/processes/DUTY_APPEAL/draft", Some(&app.admin_token), Some(changed)).await.expect(StatusCode::OK);
        let published = app.post("/api/v1/processes/DUTY_APPEAL/publish", &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(published["published_version"], 2);
        let versions = app.get("/api/v1/processes/DUTY_APPEAL/versions", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(versions["items"].as_array().unwrap().len(), 2);
        app.post("/api/v1/processes", &app.admin_token, duty_appeal()).await.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }
}

const SCHOOL_FILE: &str = r#"
format: tenon.app/v1
key: campus
name: 校园
tables:
  - key: inspections
    name: 检查
    fields:
      - {key: points, name: 扣分, type: number, options: {precision: 1}}
      - {key: head_teacher, name: 班主任, type: member}
      - {key: inspector, name: 检查人, type: member}
      - {key: status, name: 状态, type: single_select, options: {choices: [{name: 有效}, {name: 申诉中}, {name: 已撤销}]}}
roles: [{key: dean, name: 德育主任}, {key: vice, name: 分管副校长}]
processes:
  - {code: DUTY_APPEAL, name: 扣分申诉, table: inspections,
     initiator: {field: head_teacher},
     record_status: {field: status, running: 申诉中, agree: 已撤销, refuse: 有效, withdrawn: 有效},
     settings: {comment_required_on_refuse: true}, cc: [{at: finish, approvers: [{field: inspector}]}],
     nodes: [{key: n1, type: approval, method: or, approvers: [{role: dean}], next: c1},
             {key: c1, type: condition, branches: [{when: '{扣分} >= 2', next: n2}], default: end},
             {key: n2, type: approval, method: or, approvers: [{role: vice}], next: end}]}
"#;

async fn import(app: &TestApp, text: &str) -> crate::Reply {
    let request = app
        .http
        .post(format!("{}/api/v1/apps/import", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/yaml")
        .body(text.to_owned());
    crate::Reply::from(request.send().await.unwrap()).await
}

api_tests! {
    async fn an_app_file_brings_its_roles_and_publishes_its_processes(app) {
        import(&app, SCHOOL_FILE).await.expect(StatusCode::CREATED);
        let roles = app.get("/api/v1/roles", &app.admin_token).await.expect(StatusCode::OK).clone();
        let keys: Vec<&str> = roles["items"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["dean", "vice"]);
        assert_eq!(roles["items"][0]["member_ids"], json!([]));
        let process = app.get("/api/v1/processes/DUTY_APPEAL", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(process["published_version"], 1);
        // The same file again publishes nothing new; a changed process becomes version 2.
        import(&app, SCHOOL_FILE).await.expect(StatusCode::OK);
        let process = app.get("/api/v1/processes/DUTY_APPEAL", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(process["published_version"], 1);
        import(&app, &SCHOOL_FILE.replace("'{扣分} >= 2'", "'{扣分} >= 3'")).await.expect(StatusCode::OK);
        let versions = app.get("/api/v1/processes/DUTY_APPEAL/versions", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(versions["items"].as_array().unwrap().len(), 2);
        assert_eq!(versions["items"][1]["definition"]["nodes"][1]["branches"][0]["when"], "{扣分} >= 3");
        // The export writes the processes and the roles they name (no members); importing it again
        // publishes nothing new.
        let exported = app.http.get(format!("{}/api/v1/apps/campus/export?format=json", app.base)).bearer_auth(&app.admin_token).send().await.unwrap().text().await.unwrap();
        let file: Value = serde_json::from_str(&exported).unwrap();
        assert_eq!(file["roles"], json!([{"key": "dean", "name": "德育主任"}, {"key": "vice", "name": "分管副校长"}]));
        assert_eq!(file["processes"].as_array().unwrap().len(), 1, "{file}");
        assert_eq!(file["processes"][0]["code"], "DUTY_APPEAL");
        assert_eq!(file["processes"][0]["nodes"][1]["branches"][0]["when"], "{扣分} >= 3");
        import(&app, &exported).await.expect(StatusCode::OK);
        let versions = app.get("/api/v1/processes/DUTY_APPEAL/versions", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(versions["items"].as_array().unwrap().len(), 2, "the round trip publishes nothing");
        // A file whose process does not check changes nothing, and says where.
        let bad = SCHOOL_FILE.replace("key: campus", "key: campus2").replace("DUTY_APPEAL", "APPEAL_2").replace("'{扣分} >= 2'", "'{没有} >= 2'");
        let error = import(&app, &bad).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "processes[0].nodes[1].branches[0].when", "{error}");
        app.get("/api/v1/apps/campus2", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/processes/APPEAL_2", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }
}

api_tests! {
    async fn an_organization_token_acts_for_the_member_it_names_and_both_are_recorded(app) {
        let school = school(&app).await;
        let record = inspection(&app, &school, "2.0").await;
        let started = app.post("/api/v1/approvals", school.token("teacher"), json!({"process": "DUTY_APPEAL", "record": record})).await.expect(StatusCode::CREATED).clone();
        let task = running_task(&started, &school.dean).to_owned();
        let erp = crate::token_for(&app.store, &app.org, ScopeSet::parse(["approvals:read", "approvals:write"]).unwrap(), None).await;
        let approve = format!("/api/v1/approval-tasks/{task}/approve");
        let audit = app.audit_len().await;
        // Not for a member who does not exist, nor (without admin) for someone who is not the assignee;
        // a personal token cannot name anyone. Nothing changes.
        let error = app.post(&approve, &erp, json!({"actioner": MemberId::new().to_string()})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "actioner");
        let error = app.post(&approve, &app.admin_token, json!({"actioner": MemberId::new().to_string()})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "actioner");
        app.post(&approve, &erp, json!({"actioner": school.vice})).await.expect_error(StatusCode::FORBIDDEN, "not_assignee");
        let error = app.post(&approve, school.token("dean"), json!({"actioner": school.dean})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "actioner");
        assert_eq!(app.audit_len().await, audit);
        // For the dean: the dean's own decision, through the token.
        let done = app.post(&approve, &erp, json!({"actioner": school.dean, "comment": "同意"})).await.expect(StatusCode::OK).clone();
        let decided = &done["operation_records"][1];
        assert_eq!((decided["type"].as_str(), decided["actor"].as_str(), decided["via"]["type"].as_str()), (Some("execute_task_normal"), Some(school.dean.as_str()), Some("token")));
        assert!(decided["via"]["id"].is_string(), "{decided}");
        // An administrator's token naming nobody decides for the vice as a recorded agent.
        let vice_task = running_task(&done, &school.vice).to_owned();
        let agent = app.post(&format!("/api/v1/approval-tasks/{vice_task}/approve"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        let decided = &agent["operation_records"][2];
        assert_eq!((decided["type"].as_str(), &decided["actor"]), (Some("execute_task_agent"), &Value::Null));
        app
    }
}

api_tests! {
    async fn roles_are_created_changed_and_deleted_with_role_events(app) {
        let member = app.post("/api/v1/members", &app.admin_token, member_body("出纳甲")).await.expect(StatusCode::CREATED).clone();
        let id = member["id"].as_str().unwrap();
        let created = app.post("/api/v1/roles", &app.admin_token, json!({"key": "cashier", "name": "出纳"})).await.expect(StatusCode::CREATED).clone();
        assert_eq!((created["key"].as_str(), created["name"].as_str(), &created["member_ids"]), (Some("cashier"), Some("出纳"), &json!([])));
        let changed = app.patch("/api/v1/roles/cashier", &app.admin_token, json!({"name": "出纳员", "member_ids": [id]})).await.expect(StatusCode::OK).clone();
        assert_eq!((changed["name"].as_str(), &changed["member_ids"]), (Some("出纳员"), &json!([id])));
        assert_eq!(app.get("/api/v1/roles/cashier", &app.admin_token).await.expect(StatusCode::OK), &changed);
        app.delete("/api/v1/roles/cashier", &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.get("/api/v1/roles/cashier", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let events = app.get("/api/v1/events?types=role.*", &app.admin_token).await.expect(StatusCode::OK).clone();
        let types: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["role.created", "role.updated", "role.deleted"]);
        assert_eq!(events["items"][1]["data"]["after"]["member_ids"], json!([id]), "{events}");
        // A custom role is not the access role: the member's access role is unchanged.
        let member = app.get(&format!("/api/v1/members/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(member["role"], "member");
        app
    }
}

api_tests! {
    async fn the_initiator_rule_names_a_member_or_the_records_creator_and_none_is_422(app) {
        let school = school(&app).await;
        for (code, rule) in [("BY_CREATOR", json!({"created_by": true})), ("BY_MEMBER", json!({"member": school.vice}))] {
            let mut definition = duty_appeal();
            definition["code"] = json!(code);
            definition["initiator"] = rule;
            app.post("/api/v1/processes", &app.admin_token, definition).await.expect(StatusCode::CREATED);
            app.post(&format!("/api/v1/processes/{code}/publish"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        }
        // A record the teacher wrote through their personal token, without a head teacher.
        let written = app.post("/api/v1/apps/school/tables/inspections/records", school.token("teacher"), json!({"fields": {"item": "迟到", "points": "1.0", "status": "有效"}})).await.expect(StatusCode::CREATED).clone();
        let record = written["id"].as_str().unwrap();
        // An organization token acts for no member: the process's rule decides.
        let by_creator = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "BY_CREATOR", "record": record})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(by_creator["initiator"], school.teacher.as_str());
        let other = inspection(&app, &school, "1.0").await;
        let by_member = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "BY_MEMBER", "record": other})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(by_member["initiator"], school.vice.as_str());
        // DUTY_APPEAL takes the head teacher, whom this record does not name: 422 at initiator, nothing written.
        let audit = app.audit_len().await;
        let error = app.post("/api/v1/approvals", &app.admin_token, json!({"process": "DUTY_APPEAL", "record": record})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "initiator");
        assert_eq!(app.audit_len().await, audit);
        app
    }
}

api_tests! {
    async fn starts_with_fields_racing_approvals_all_succeed_with_distinct_numbers(app) {
        // A start with `fields` creates its record (whose event takes the organization's event counter)
        // and takes a business number; an approve numbers its new task, then appends its events. Both in
        // the same order now: before, eight clients doing both at once deadlocked on PostgreSQL (500).
        let school = school(&app).await;
        let (a, s) = (&app, &school);
        let clients = (0..8).map(|client| async move {
            let mut finished = Vec::new();
            for round in 0..6 {
                let started = a.post("/api/v1/approvals", s.token("teacher"), json!({"process": "DUTY_APPEAL", "fields": {
                    "item": format!("卫生 {client}-{round}"), "points": "2.0", "head_teacher": s.teacher, "inspector": s.inspector
                }})).await.expect(StatusCode::CREATED).clone();
                let dean_task = running_task(&started, &s.dean).to_owned();
                let after_dean = a.post(&format!("/api/v1/approval-tasks/{dean_task}/approve"), s.token("dean"), json!({})).await.expect(StatusCode::OK).clone();
                let vice_task = running_task(&after_dean, &s.vice).to_owned();
                let done = a.post(&format!("/api/v1/approval-tasks/{vice_task}/approve"), s.token("vice"), json!({})).await.expect(StatusCode::OK).clone();
                assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("agree")));
                finished.push(done);
            }
            finished
        });
        let finished: Vec<Value> = futures_util::future::join_all(clients).await.into_iter().flatten().collect();
        assert_eq!(finished.len(), 48);
        let mut business: Vec<&str> = finished.iter().map(|done| done["business_id"].as_str().unwrap()).collect();
        business.sort_unstable();
        business.dedup();
        assert_eq!(business.len(), 48, "business numbers repeat");
        let mut numbers: Vec<i64> = finished.iter().flat_map(|done| done["tasks"].as_array().unwrap().iter().map(|task| task["number"].as_i64().unwrap())).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=96).collect::<Vec<_>>(), "task numbers are not 1..=96 once each");
        app
    }
}
