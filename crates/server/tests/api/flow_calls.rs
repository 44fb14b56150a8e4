//! `call_flow` over HTTP (issue #18): a run of a manual flow started one level deeper in the step's
//! transaction, the caller waiting until it ends (woken by its end), its failure failing the step; and
//! the publish checks (a call cycle, an unknown flow, a payload that does not fit), 422 with paths.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::api_tests;
use crate::flow_steps::{ORDERS, crm, details, import, records, run_in, runs, step_statuses};

const TALLY: &str = "/api/v1/apps/crm/tables/tally/records";

api_tests! {
    async fn call_flow_starts_a_deeper_run_waits_for_it_and_fails_with_it(app) {
        let flows = json!([
            {"key": "add", "trigger": {"manual": {"inputs": [{"key": "customer", "type": "text", "required": true}]}},
             "steps": [
                {"key": "f", "type": "create_record", "table": "followups", "fields": {"customer": "{trigger.payload.customer}"}},
                {"key": "w", "type": "wait", "for": "1h"}
             ]},
            {"key": "caller", "trigger": {"record": "orders", "on": "created"}, "steps": [
                {"key": "c", "type": "call_flow", "flow": "add", "payload": {"customer": "{trigger.fields.客户}"}},
                {"key": "t", "type": "create_record", "table": "tally", "fields": {"customer": "{steps.c.output.status}"}}
            ]},
            {"key": "forget", "trigger": {"manual": {}}, "steps": [
                {"key": "c", "type": "call_flow", "flow": "add", "payload": {"customer": "\"不等\""}, "wait": false}
            ]}
        ]);
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "ACME"}})).await.expect(StatusCode::CREATED);
        let caller = crate::flow_steps::only_run(&app, "caller", "waiting").await;
        assert_eq!(step_statuses(&caller), [("c".to_owned(), "running".to_owned())]);
        let child_id = caller["steps"][0]["input"]["run_id"].as_str().unwrap().to_owned();
        let child = run_in(&app, &child_id, "waiting").await;
        assert_eq!(child["depth"], 1);
        assert_eq!(child["trigger"]["type"], "call");
        assert_eq!(child["trigger"]["payload"]["customer"], "ACME");
        assert_eq!(child["trigger"]["parent"]["run_id"], caller["id"]);
        // The called run waits an hour; when it ends, the caller goes on at once.
        app.clock.advance(Duration::hours(1));
        run_in(&app, &child_id, "succeeded").await;
        let id = caller["id"].as_str().unwrap();
        let done = run_in(&app, id, "succeeded").await;
        assert_eq!(done["steps"][0]["output"]["status"], "succeeded");
        assert_eq!(done["steps"][0]["output"]["steps"]["f"]["customer"], "ACME");
        assert_eq!(done["steps"][0]["attempts"], 1);
        let tally = records(&app, TALLY).await;
        assert_eq!(tally.len(), 1);
        assert_eq!(tally[0]["fields"]["customer"], "succeeded");
        // A second ACME order: the called run fails (the customer is taken), and so does the call.
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "ACME"}})).await.expect(StatusCode::CREATED);
        let mut failed = None;
        for _ in 0..300 {
            let all = runs(&app, "caller").await;
            if all.len() == 2 && all[0]["status"] == "failed" {
                failed = Some(all[0].clone());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let failed = failed.expect("the second call failed");
        assert_eq!(failed["error"]["step"], "c");
        let message = failed["error"]["error"]["message"].as_str().unwrap();
        assert!(message.contains("failed"), "{message}");
        assert_eq!(records(&app, TALLY).await.len(), 1);
        // Without waiting, the step only starts the run.
        app.post("/api/v1/flows/forget/runs", &app.admin_token, json!({"payload": {}})).await.expect(StatusCode::CREATED);
        let forget = crate::flow_steps::only_run(&app, "forget", "succeeded").await;
        assert_eq!(forget["steps"][0]["output"]["status"], "queued");
        let started = forget["steps"][0]["output"]["run_id"].as_str().unwrap();
        let started = run_in(&app, started, "waiting").await;
        assert_eq!(started["trigger"]["payload"]["customer"], "不等");
        app
    }

    async fn publishing_refuses_call_cycles_unknown_flows_and_payloads_that_do_not_fit(app) {
        let flows = json!([
            {"key": "ping", "trigger": {"manual": {"inputs": [{"key": "n", "type": "integer"}]}}, "steps": [{"key": "c", "type": "call_flow", "flow": "pong"}]},
            {"key": "pong", "trigger": {"manual": {"inputs": [{"key": "n", "type": "integer", "required": true}]}},
             "steps": [{"key": "c", "type": "call_flow", "flow": "ping", "payload": {"n": "1"}}]},
            {"key": "lost", "trigger": {"record": "orders", "on": "created"}, "steps": [
                {"key": "a", "type": "call_flow", "flow": "nowhere"},
                {"key": "b", "type": "call_flow", "flow": "lost"},
                {"key": "d", "type": "call_flow", "flow": "pong", "payload": {"n": "{trigger.fields.nope}", "m": "2"}},
                {"key": "e", "type": "for_each", "items": "\"x\"", "steps": [{"key": "e1", "type": "call_flow", "flow": "ping"}]}
            ]}
        ]);
        let reply = import(&app, crm(flows)).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let expected: Vec<(String, String)> = [
            ("flows[0].steps[0].flow", "not_allowed"),
            ("flows[0].steps[0].payload.n", "required"),
            ("flows[1].steps[0].flow", "not_allowed"),
            ("flows[2].steps[0].flow", "not_found"),
            ("flows[2].steps[1].flow", "not_allowed"),
            ("flows[2].steps[2].payload.m", "unknown_field"),
            ("flows[2].steps[2].payload.n", "formula_unknown_field"),
            ("flows[2].steps[3].steps[0].type", "not_allowed"),
        ].iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect();
        assert_eq!(details(&error), expected, "{error}");
        let cycle = error["details"].as_array().unwrap().iter().find(|d| d["field"] == "flows[0].steps[0].flow").unwrap();
        assert!(cycle["message"].as_str().unwrap_or_default().contains("ping → pong → ping")
            || cycle.to_string().contains("ping → pong → ping"), "{cycle}");
        app.get("/api/v1/flows/ping", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }
}
