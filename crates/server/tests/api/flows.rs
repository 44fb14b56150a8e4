//! Connection flows over HTTP (issue #18): flows published by app import, record triggers inserting runs
//! in the write's transaction, the workers executing internal steps with their journal, the inbox, manual
//! runs, failures and retries, and the guards (no self-trigger, depth limit, scopes, tenants).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::conformance::conforms;
use crate::{Reply, TestApp, api_tests};

const ORDERS: &str = "/api/v1/apps/crm/tables/orders/records";
const FOLLOWUPS: &str = "/api/v1/apps/crm/tables/followups/records";

fn crm(flows: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "crm", "name": "CRM",
        "tables": [
            {"key": "orders", "name": "订单", "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "已签收"}]}},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "note", "name": "备注", "type": "text"},
                {"key": "owner", "name": "负责人", "type": "member"}
            ]},
            {"key": "followups", "name": "回访", "fields": [
                {"key": "customer", "name": "客户", "type": "text", "unique": true},
                {"key": "due", "name": "到期", "type": "date"},
                {"key": "level", "name": "级别", "type": "single_select", "options": {"choices": [{"name": "高"}, {"name": "低"}]}}
            ]}
        ],
        "flows": flows
    })
}

fn t2() -> Value {
    json!([{
        "key": "t2_followup", "name": "签收回访",
        "trigger": {"record": "orders", "on": "enter", "when": "{状态} = \"已签收\""},
        "steps": [
            {"key": "f", "type": "create_record", "table": "followups",
             "fields": {"customer": "{trigger.fields.客户}", "due": "DATEADD(TODAY(), 3, \"days\")"}},
            {"key": "big", "type": "if", "condition": "{trigger.fields.金额} >= 10000",
             "then": [{"key": "tell", "type": "notify", "channel": "inbox", "to": {"members": "{trigger.fields.owner}"},
                       "title": "回访 {{ trigger.fields.customer }}", "text": "回访 {{ trigger.fields.customer }}，金额 {{ trigger.fields.amount }}"}],
             "else": [{"key": "small", "type": "update_record", "table": "orders", "record": "{trigger.record_id}",
                       "fields": {"note": "\"小单\""}}]}
        ]
    }])
}

async fn import(app: &TestApp, file: Value) -> Reply {
    app.post("/api/v1/apps/import", &app.admin_token, file)
        .await
}

/// Waits (bounded) until `flow` has `count` runs, all finished; returns them newest first.
async fn finished_runs(app: &TestApp, flow: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let runs = app
            .get(&format!("/api/v1/flows/{flow}/runs"), &app.admin_token)
            .await
            .expect(StatusCode::OK)["items"]
            .as_array()
            .unwrap()
            .clone();
        let done = runs.iter().all(|run| {
            ["succeeded", "failed", "canceled"].contains(&run["status"].as_str().unwrap())
        });
        if runs.len() >= count && done {
            assert_eq!(runs.len(), count, "{runs:?}");
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow {flow} did not finish {count} runs");
}

async fn run(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/flow-runs/{id}"), &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone()
}

async fn records(app: &TestApp, path: &str) -> Vec<Value> {
    app.get(path, &app.admin_token).await.expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

api_tests! {
    async fn an_order_entering_signed_creates_a_followup_and_notifies_its_owner(app) {
        let imported = import(&app, crm(t2())).await;
        imported.expect(StatusCode::CREATED);
        let flow = app.get("/api/v1/flows/t2_followup", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(flow["version"], 1);
        assert_eq!(flow["key"], "t2_followup");
        let owner = app.owner.id.to_string();
        let order = app.post(ORDERS, &app.admin_token, json!({"fields": {
            "customer": "ACME 有限公司", "status": "新建", "amount": "28800.00", "owner": [owner]}})).await
            .expect(StatusCode::CREATED).clone();
        let id = order["id"].as_str().unwrap();
        // Not signed yet: no run.
        let none = app.get("/api/v1/flows/t2_followup/runs", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(none["items"], json!([]));
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"status": "已签收"}})).await.expect(StatusCode::OK);
        let runs = finished_runs(&app, "t2_followup", 1).await;
        assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
        assert_eq!(runs[0]["trigger"]["record_id"], id);
        assert_eq!(runs[0]["trigger"]["on"], "enter");
        let detail = run(&app, runs[0]["id"].as_str().unwrap()).await;
        let steps: Vec<(&str, &str)> = detail["steps"].as_array().unwrap().iter()
            .map(|s| (s["key"].as_str().unwrap(), s["status"].as_str().unwrap())).collect();
        assert_eq!(steps, [("f", "succeeded"), ("big", "succeeded"), ("tell", "succeeded"), ("small", "skipped")]);
        assert_eq!(detail["steps"][0]["attempts"], 1);
        // The followup, once, due three days after the store's clock (2026-11-25).
        let followups = records(&app, FOLLOWUPS).await;
        assert_eq!(followups.len(), 1);
        assert_eq!(followups[0]["fields"]["customer"], "ACME 有限公司");
        assert_eq!(followups[0]["fields"]["due"], "2026-11-28");
        assert_eq!(detail["steps"][0]["output"]["id"], followups[0]["id"]);
        // The owner's inbox has the message, rendered.
        let token = member_token(&app, &owner).await;
        let inbox = app.get("/api/v1/me/notifications", &token).await.expect(StatusCode::OK).clone();
        assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
        assert_eq!(inbox["items"][0]["text"], "回访 ACME 有限公司，金额 28800.00");
        assert_eq!(inbox["items"][0]["title"], "回访 ACME 有限公司");
        assert_eq!(inbox["items"][0]["source"]["flow"], "t2_followup");
        // The flow's write is acted by the run.
        let events = app.get("/api/v1/events?types=record.created", &app.admin_token).await.expect(StatusCode::OK).clone();
        let created = events["items"].as_array().unwrap().iter()
            .find(|e| e["subject"]["record_id"] == followups[0]["id"]).expect("the followup's event").clone();
        assert_eq!(created["actor"]["type"], "flow");
        assert_eq!(created["actor"]["id"], runs[0]["id"]);
        assert_eq!(created["actor"]["name"], "t2_followup");
        // A stale claim (an epoch the run has moved past) commits nothing.
        let run_id: tenon_model::FlowRunId = runs[0]["id"].as_str().unwrap().parse().unwrap();
        let stale = tenon_store::flows::Claim { org_id: app.org.id, run_id, epoch: 0 };
        assert_eq!(app.store.advance_flow_run(&stale).await.unwrap(), tenon_store::flows::Advance::Lost);
        assert_eq!(run(&app, runs[0]["id"].as_str().unwrap()).await, detail);
        // Another change while signed does not enter again.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"note": "已联系"}})).await.expect(StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
        finished_runs(&app, "t2_followup", 1).await;
        app
    }

    async fn the_else_branch_runs_and_a_flows_own_write_does_not_trigger_it(app) {
        let mut flows = t2();
        flows.as_array_mut().unwrap().push(json!({
            "key": "on_update", "trigger": {"record": "orders", "on": "updated", "fields": ["note"]},
            "steps": [{"key": "touch", "type": "update_record", "table": "orders", "record": "{trigger.record_id}",
                       "fields": {"note": "CONCATENATE({trigger.fields.备注}, \"!\")"}}]
        }));
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        let order = app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "小店", "status": "已签收", "amount": "99.00"}}))
            .await.expect(StatusCode::CREATED).clone();
        let id = order["id"].as_str().unwrap();
        let runs = finished_runs(&app, "t2_followup", 1).await;
        let detail = run(&app, runs[0]["id"].as_str().unwrap()).await;
        let steps: Vec<&str> = detail["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(steps, ["succeeded", "succeeded", "skipped", "succeeded"]);
        // t2's update of the note triggered on_update (another flow), whose own write did not trigger it again.
        let updates = finished_runs(&app, "on_update", 1).await;
        assert_eq!(updates[0]["status"], "succeeded");
        assert_eq!(updates[0]["depth"], 1);
        let order = app.get(&format!("{ORDERS}/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(order["fields"]["note"], "小单!");
        // A person's change of the note runs it once more; a change of another field does not.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"amount": "100.00"}})).await.expect(StatusCode::OK);
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"note": "x"}})).await.expect(StatusCode::OK);
        finished_runs(&app, "on_update", 2).await;
        let order = app.get(&format!("{ORDERS}/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(order["fields"]["note"], "x!");
        app
    }

    async fn a_refused_value_fails_the_step_writes_nothing_and_a_retry_finishes_the_run(app) {
        import(&app, crm(t2())).await.expect(StatusCode::CREATED);
        // A followup for ACME exists: the flow's create breaks the unique customer.
        let blocker = app.post(FOLLOWUPS, &app.admin_token, json!({"fields": {"customer": "ACME"}})).await.expect(StatusCode::CREATED).clone();
        let order = app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "ACME", "status": "已签收", "amount": "1.00"}}))
            .await.expect(StatusCode::CREATED).clone();
        let runs = finished_runs(&app, "t2_followup", 1).await;
        assert_eq!(runs[0]["status"], "failed", "{runs:?}");
        assert_eq!(runs[0]["error"]["step"], "f");
        let detail = run(&app, runs[0]["id"].as_str().unwrap()).await;
        assert_eq!(detail["steps"].as_array().unwrap().len(), 1);
        assert_eq!(detail["steps"][0]["status"], "failed");
        assert_eq!(detail["steps"][0]["error"]["kind"], "refused");
        assert!(detail["steps"][0]["error"]["message"].as_str().unwrap().contains("unique"), "{detail}");
        assert_eq!(detail["steps"][0]["input"]["customer"], "ACME");
        assert_eq!(records(&app, FOLLOWUPS).await.len(), 1);
        // The failure is an event.
        let events = app.get("/api/v1/events?types=flow.run.failed", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
        assert_eq!(events["items"][0]["data"]["run"]["id"], runs[0]["id"]);
        // Only a failed step of a failed run is retried.
        let run_id = runs[0]["id"].as_str().unwrap();
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/big/retry"), &app.admin_token, json!({})).await.expect(StatusCode::NOT_FOUND);
        app.delete(&format!("{FOLLOWUPS}/{}", blocker["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let retried = app.post(&format!("/api/v1/flow-runs/{run_id}/steps/f/retry"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(retried["status"], "queued");
        let runs = finished_runs(&app, "t2_followup", 1).await;
        assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
        let detail = run(&app, run_id).await;
        assert_eq!(detail["steps"][0]["attempts"], 2);
        let followups = records(&app, FOLLOWUPS).await;
        assert_eq!(followups.len(), 1);
        assert_eq!(followups[0]["fields"]["customer"], "ACME");
        let order_id = order["id"].as_str().unwrap();
        let order = app.get(&format!("{ORDERS}/{order_id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(order["fields"]["note"], "小单");
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/f/retry"), &app.admin_token, json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app.post(&format!("/api/v1/flow-runs/{run_id}/cancel"), &app.admin_token, json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }

    async fn publishing_refuses_bad_flows_with_paths_and_imports_nothing(app) {
        let bad = json!([{
            "key": "bad", "trigger": {"record": "orders", "on": "enter", "when": "AND({状态} = \"已签收\", TODAY() > DATE(2026, 1, 1))"},
            "steps": [
                {"key": "f", "type": "create_record", "table": "followups", "fields": {"nope": "1", "due": "{trigger.fields.missing}"}},
                {"key": "w", "type": "teleport", "to": "x"}
            ]
        }]);
        // The shape first: a step type Tenon does not have.
        let reply = import(&app, crm(bad.clone())).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["flows[0].steps[1].type"]);
        let mut bad = bad;
        bad[0]["steps"].as_array_mut().unwrap().pop();
        let reply = import(&app, crm(bad)).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<(&str, &str)> = error["details"].as_array().unwrap().iter()
            .map(|d| (d["field"].as_str().unwrap(), d["code"].as_str().unwrap())).collect();
        assert_eq!(fields, [
            ("flows[0].trigger.when", "not_allowed"),
            // Fields in key order.
            ("flows[0].steps[0].fields.due", "formula_unknown_field"),
            ("flows[0].steps[0].fields.nope", "not_found"),
        ]);
        app.get("/api/v1/apps/crm", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/flows/bad", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // `flows=off` imports the app without them.
        let reply = app.post("/api/v1/apps/import?flows=off", &app.admin_token, crm(json!([{"key": "x", "trigger": {"record": "nowhere", "on": "created"},
            "steps": [{"key": "a", "type": "get", "table": "orders", "record": "\"x\""}]}]))).await;
        reply.expect(StatusCode::CREATED);
        app.get("/api/v1/flows/x", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // A changed flow becomes version 2; the same file again changes nothing.
        import(&app, crm(t2())).await.expect(StatusCode::OK);
        import(&app, crm(t2())).await.expect(StatusCode::OK);
        assert_eq!(app.get("/api/v1/flows/t2_followup", &app.admin_token).await.expect(StatusCode::OK)["version"], 1);
        let mut changed = t2();
        changed[0]["name"] = json!("签收后回访");
        import(&app, crm(changed)).await.expect(StatusCode::OK);
        let flow = app.get("/api/v1/flows/t2_followup", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(flow["version"], 2);
        let by_id = app.get(&format!("/api/v1/flows/{}", flow["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(by_id["key"], "t2_followup");
        app
    }

    async fn manual_runs_take_typed_payloads_once_per_idempotency_key(app) {
        let flows = json!([{
            "key": "add_followup", "trigger": {"manual": {"inputs": [{"key": "customer", "type": "text", "required": true}, {"key": "days", "type": "integer"}]}},
            "steps": [{"key": "f", "type": "create_record", "table": "followups",
                       "fields": {"customer": "{trigger.payload.customer}", "due": "DATEADD(TODAY(), {trigger.payload.days}, \"days\")"}}]
        }]);
        let mut file = crm(flows);
        file["flows"].as_array_mut().unwrap().extend(t2().as_array().unwrap().clone());
        import(&app, file).await.expect(StatusCode::CREATED);
        let path = "/api/v1/flows/add_followup/runs";
        let reply = app.post(path, &app.admin_token, json!({"payload": {"days": "x", "colour": 1}})).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["payload.colour", "payload.customer", "payload.days"]);
        app.post("/api/v1/flows/t2_followup/runs", &app.admin_token, json!({"payload": {}})).await.expect_error(StatusCode::CONFLICT, "conflict");
        let send = || async {
            let request = app.http.post(format!("{}{path}", app.base)).bearer_auth(&app.admin_token)
                .header("idempotency-key", "k-1").json(&json!({"payload": {"customer": "甲", "days": 7}}));
            Reply::from(request.send().await.unwrap()).await
        };
        let first = send().await.expect(StatusCode::CREATED).clone();
        let second = send().await.expect(StatusCode::CREATED).clone();
        assert_eq!(first["id"], second["id"]);
        assert_eq!(first["trigger"]["payload"]["customer"], "甲");
        let runs = finished_runs(&app, "add_followup", 1).await;
        assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
        let followups = records(&app, FOLLOWUPS).await;
        assert_eq!(followups.len(), 1);
        assert_eq!(followups[0]["fields"]["due"], "2026-12-02");
        // A succeeded run has no error: the document says so (`null` fits), on the list and on the run.
        let doc = app.call(reqwest::Method::GET, "/openapi.json", None, None).await.expect(StatusCode::OK).clone();
        let listed = app.get(path, &app.admin_token).await;
        assert_eq!(listed.expect(StatusCode::OK)["items"][0]["error"], Value::Null);
        conforms(&doc, "get", "/api/v1/flows/{flow}/runs", &listed);
        let run = app.get(&format!("/api/v1/flow-runs/{}", runs[0]["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(run.expect(StatusCode::OK)["steps"][0]["error"], Value::Null);
        conforms(&doc, "get", "/api/v1/flow-runs/{id}", &run);
        // Scopes: reading needs flows:read, starting flows:write.
        let reader = app.token(&["flows:read"]).await;
        app.get("/api/v1/flows", &reader).await.expect(StatusCode::OK);
        app.post(path, &reader, json!({"payload": {"customer": "乙"}})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        let records_only = app.token(&["records:read"]).await;
        app.get("/api/v1/flows/add_followup", &records_only).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        // Another organization sees none of it.
        let (_, _, other) = app.other_org().await;
        app.get("/api/v1/flows/add_followup", &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/flow-runs/{}", runs[0]["id"].as_str().unwrap()), &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.post(path, &other, json!({"payload": {"customer": "丙"}})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(app.get("/api/v1/flows", &other).await.expect(StatusCode::OK)["items"], json!([]));
        app
    }

    async fn runs_started_by_runs_stop_at_depth_eight(app) {
        // Two flows that feed each other: a ping creates a pong, a pong creates a ping.
        let file = json!({
            "format": "tenon.app/v1", "key": "loop", "name": "Loop",
            "tables": [
                {"key": "pings", "name": "Pings", "fields": [{"key": "n", "name": "N", "type": "number", "options": {"precision": 0}}]},
                {"key": "pongs", "name": "Pongs", "fields": [{"key": "n", "name": "N", "type": "number", "options": {"precision": 0}}]}
            ],
            "flows": [
                {"key": "ping", "trigger": {"record": "pings", "on": "created"},
                 "steps": [{"key": "a", "type": "create_record", "table": "pongs", "fields": {"n": "{trigger.fields.n} + 1"}}]},
                {"key": "pong", "trigger": {"record": "pongs", "on": "created"},
                 "steps": [{"key": "a", "type": "create_record", "table": "pings", "fields": {"n": "{trigger.fields.n} + 1"}}]}
            ]
        });
        import(&app, file).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/loop/tables/pings/records", &app.admin_token, json!({"fields": {"n": 0}})).await.expect(StatusCode::CREATED);
        // Depths 0..=8 run (9 runs: 5 pings, 4 pongs); the tenth is recorded failed, not run.
        let pings = finished_runs(&app, "ping", 5).await;
        let pongs = finished_runs(&app, "pong", 5).await;
        let failed: Vec<&Value> = pings.iter().chain(&pongs).filter(|r| r["status"] == "failed").collect();
        assert_eq!(failed.len(), 1, "{pings:?} {pongs:?}");
        assert_eq!(failed[0]["depth"], 9);
        assert_eq!(failed[0]["error"]["code"].as_str(), Some("depth_limit"));
        assert_eq!(records(&app, "/api/v1/apps/loop/tables/pings/records").await.len(), 5);
        assert_eq!(records(&app, "/api/v1/apps/loop/tables/pongs/records").await.len(), 5);
        app
    }
}
