//! Flow steps over HTTP (issue #18): `wait` (a duration, or until a formula's date at 00:00 or a wall
//! time in a zone, computed once and journaled; the run `waiting` until the clock gets there), `upsert`
//! (keyed by a unique field or a `unique_together` group), and the publish checks of `wait`, `upsert`
//! and `for_each`, each answering 422 with its path.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::{TestApp, api_tests};

pub(crate) const ORDERS: &str = "/api/v1/apps/crm/tables/orders/records";
pub(crate) const FOLLOWUPS: &str = "/api/v1/apps/crm/tables/followups/records";
const VISITS: &str = "/api/v1/apps/crm/tables/visits/records";

/// The CRM of the flows tests, with a signing date, and visits unique per (customer, week).
pub(crate) fn crm(flows: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "crm", "name": "CRM",
        "tables": [
            {"key": "orders", "name": "订单", "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "已签收"}]}},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "signed_on", "name": "签收日期", "type": "date"},
                {"key": "note", "name": "备注", "type": "text"},
                {"key": "owner", "name": "负责人", "type": "member"}
            ]},
            {"key": "followups", "name": "回访", "fields": [
                {"key": "customer", "name": "客户", "type": "text", "unique": true},
                {"key": "due", "name": "到期", "type": "date"},
                {"key": "level", "name": "级别", "type": "single_select", "options": {"choices": [{"name": "高"}, {"name": "低"}]}}
            ]},
            {"key": "visits", "name": "拜访", "unique_together": [["customer", "week"]], "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "week", "name": "周", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}}
            ]},
            {"key": "tally", "name": "计数", "fields": [
                {"key": "n", "name": "序号", "type": "number", "options": {"precision": 0}},
                {"key": "customer", "name": "客户", "type": "text"}
            ]}
        ],
        "flows": flows
    })
}

pub(crate) async fn import(app: &TestApp, file: Value) -> crate::Reply {
    app.post("/api/v1/apps/import", &app.admin_token, file)
        .await
}

/// The runs of `flow`, newest first.
pub(crate) async fn runs(app: &TestApp, flow: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/flows/{flow}/runs"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (bounded) until run `id` has `status`; returns it with its steps.
pub(crate) async fn run_in(app: &TestApp, id: &str, status: &str) -> Value {
    for _ in 0..300 {
        let run = app
            .get(&format!("/api/v1/flow-runs/{id}"), &app.admin_token)
            .await
            .expect(StatusCode::OK)
            .clone();
        if run["status"] == status {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = app
        .get(&format!("/api/v1/flow-runs/{id}"), &app.admin_token)
        .await;
    panic!("run {id} did not become {status}: {:?}", run.body);
}

/// The only run of `flow` once it has `status`.
pub(crate) async fn only_run(app: &TestApp, flow: &str, status: &str) -> Value {
    for _ in 0..300 {
        let found = runs(app, flow).await;
        if let [one] = found.as_slice() {
            return run_in(app, one["id"].as_str().unwrap(), status).await;
        }
        assert!(found.len() < 2, "{found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow {flow} did not start a run");
}

pub(crate) async fn records(app: &TestApp, path: &str) -> Vec<Value> {
    app.get(&format!("{path}?page_size=1000"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) fn step_statuses(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(field, code)` of a 422, sorted.
pub(crate) fn details(error: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_owned(),
                d["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

fn at(text: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn inbox(app: &TestApp, member: &str) -> Vec<Value> {
    let token = member_token(app, member).await;
    app.get("/api/v1/me/notifications", &token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

api_tests! {
    async fn t2_waits_until_three_days_after_signing_then_notifies_as_the_clock_steps(app) {
        // The seed's T2: an order signed on 2026-11-19 is followed up on 2026-11-22 (00:00 in Shanghai).
        app.clock.set(Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap());
        let flows = json!([{
            "key": "t2_followup", "trigger": {"record": "orders", "on": "enter", "when": "{状态} = \"已签收\""},
            "steps": [
                {"key": "w", "type": "wait", "until": "DATEADD({trigger.fields.签收日期}, 3, \"days\")"},
                {"key": "tell", "type": "notify", "channel": "inbox", "to": {"members": "{trigger.fields.owner}"},
                 "text": "回访 {{ trigger.fields.customer }}"}
            ]
        }]);
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        let owner = app.owner.id.to_string();
        app.post(ORDERS, &app.admin_token, json!({"fields": {
            "customer": "ACME 有限公司", "status": "已签收", "signed_on": "2026-11-19", "owner": [owner]}}))
            .await.expect(StatusCode::CREATED);
        let waiting = only_run(&app, "t2_followup", "waiting").await;
        assert_eq!(step_statuses(&waiting), [("w".to_owned(), "running".to_owned())]);
        assert_eq!(waiting["steps"][0]["input"]["until"], "2026-11-21T16:00:00Z");
        assert!(inbox(&app, &owner).await.is_empty());
        // A second before: still waiting.
        app.clock.set(at("2026-11-21T15:59:59Z"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let id = waiting["id"].as_str().unwrap();
        let still = run_in(&app, id, "waiting").await;
        assert_eq!(still["steps"], waiting["steps"]);
        assert!(inbox(&app, &owner).await.is_empty());
        // The clock reaches 2026-11-22 00:00 (Shanghai): the run wakes and notifies, once.
        app.clock.set(at("2026-11-21T16:00:00Z"));
        let done = run_in(&app, id, "succeeded").await;
        assert_eq!(step_statuses(&done), [("w".to_owned(), "succeeded".to_owned()), ("tell".to_owned(), "succeeded".to_owned())]);
        assert_eq!(done["steps"][0]["attempts"], 1);
        assert_eq!(done["steps"][0]["output"]["until"], "2026-11-21T16:00:00Z");
        let messages = inbox(&app, &owner).await;
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["text"], "回访 ACME 有限公司");
        app
    }

    async fn a_wait_is_computed_once_at_its_wall_time_and_a_canceled_wait_does_nothing(app) {
        let flows = json!([
            {"key": "later", "trigger": {"manual": {}}, "steps": [
                {"key": "past", "type": "wait", "until": "DATE(2020, 1, 1)"},
                // 2026-11-25 17:00 in Shanghai: tomorrow at 09:30 is 2026-11-26T01:30Z.
                {"key": "w", "type": "wait", "until": "DATEADD(TODAY(), 1, \"days\")", "at": "09:30"},
                {"key": "f", "type": "create_record", "table": "followups", "fields": {"customer": "\"明天\""}}
            ]},
            {"key": "nap", "trigger": {"manual": {}}, "steps": [
                {"key": "w", "type": "wait", "for": "2h"},
                {"key": "f", "type": "create_record", "table": "followups", "fields": {"customer": "\"午后\""}}
            ]},
            {"key": "berlin", "trigger": {"manual": {}}, "steps": [
                {"key": "w", "type": "wait", "until": "DATE(2026, 11, 26)", "at": "08:00", "zone": "Europe/Berlin"}
            ]},
            {"key": "blank", "trigger": {"manual": {}}, "steps": [
                {"key": "w", "type": "wait", "until": "BLANK()"}
            ]}
        ]);
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        for flow in ["later", "nap", "berlin", "blank"] {
            app.post(&format!("/api/v1/flows/{flow}/runs"), &app.admin_token, json!({"payload": {}})).await.expect(StatusCode::CREATED);
        }
        let later = only_run(&app, "later", "waiting").await;
        assert_eq!(step_statuses(&later), [("past".to_owned(), "succeeded".to_owned()), ("w".to_owned(), "running".to_owned())]);
        assert_eq!(later["steps"][0]["output"]["until"], "2019-12-31T16:00:00Z");
        assert_eq!(later["steps"][1]["input"]["until"], "2026-11-26T01:30:00Z");
        let nap = only_run(&app, "nap", "waiting").await;
        assert_eq!(nap["steps"][0]["input"]["until"], "2026-11-25T11:00:00Z");
        let berlin = only_run(&app, "berlin", "waiting").await;
        assert_eq!(berlin["steps"][0]["input"]["until"], "2026-11-26T07:00:00Z");
        let blank = only_run(&app, "blank", "failed").await;
        assert_eq!(blank["error"]["step"], "w");
        assert_eq!(blank["steps"][0]["error"]["kind"], "mapping");
        // A waiting run can be canceled; its wait then does nothing.
        let nap_id = nap["id"].as_str().unwrap();
        let canceled = app.post(&format!("/api/v1/flow-runs/{nap_id}/cancel"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(canceled["status"], "canceled");
        // It is 09:29 on the 26th in Shanghai: TODAY() moved, the journaled instant did not.
        app.clock.set(at("2026-11-26T01:29:00Z"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let id = later["id"].as_str().unwrap();
        let still = run_in(&app, id, "waiting").await;
        assert_eq!(still["steps"][1]["input"]["until"], "2026-11-26T01:30:00Z");
        app.clock.set(at("2026-11-26T01:30:00Z"));
        let done = run_in(&app, id, "succeeded").await;
        assert_eq!(done["steps"][1]["attempts"], 1);
        let followups = records(&app, FOLLOWUPS).await;
        let names: Vec<&str> = followups.iter().map(|r| r["fields"]["customer"].as_str().unwrap()).collect();
        assert_eq!(names, ["明天"]);
        assert_eq!(run_in(&app, nap_id, "canceled").await["steps"].as_array().unwrap().len(), 1);
        // 08:00 in Berlin on the 26th.
        let berlin_id = berlin["id"].as_str().unwrap();
        assert_eq!(run_in(&app, berlin_id, "waiting").await["status"], "waiting");
        app.clock.set(at("2026-11-26T07:00:00Z"));
        run_in(&app, berlin_id, "succeeded").await;
        app
    }

    async fn publishing_checks_wait_upsert_and_for_each_steps_with_paths(app) {
        let bad = json!([{
            "key": "bad", "trigger": {"record": "orders", "on": "created"},
            "steps": [
                {"key": "a", "type": "wait", "for": "1h", "until": "TODAY()"},
                {"key": "b", "type": "wait"},
                {"key": "c", "type": "wait", "for": "soon"},
                {"key": "d", "type": "wait", "until": "{trigger.fields.客户}"},
                {"key": "e", "type": "wait", "until": "{trigger.fields.签收日期}", "at": "25:00", "zone": "Mars/Base"},
                {"key": "f", "type": "wait", "for": "3d", "zone": "Asia/Shanghai"},
                {"key": "g", "type": "upsert", "table": "orders", "on": ["customer"], "fields": {"customer": "\"x\""}},
                {"key": "h", "type": "upsert", "table": "followups", "on": ["nope"], "fields": {"customer": "\"x\""}},
                {"key": "i", "type": "upsert", "table": "followups", "on": ["customer"], "fields": {"due": "TODAY()"}},
                {"key": "j", "type": "upsert", "table": "visits", "on": ["customer"], "fields": {"customer": "\"x\""}},
                {"key": "k", "type": "for_each", "items": "{trigger.fields.金额}", "steps": [
                    {"key": "k1", "type": "wait", "for": "1h"},
                    {"key": "k2", "type": "create_record", "table": "tally", "fields": {"n": "{loop.index}", "customer": "{item.nope}"}}
                ]},
                {"key": "l", "type": "for_each", "items": "{trigger.fields.负责人}", "steps": []}
            ]
        }]);
        let reply = import(&app, crm(bad)).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let expected: Vec<(String, String)> = [
            ("flows[0].steps[0].until", "not_allowed"),
            ("flows[0].steps[1].for", "required"),
            ("flows[0].steps[2].for", "invalid_format"),
            ("flows[0].steps[3].until", "formula_type"),
            ("flows[0].steps[4].at", "invalid_format"),
            ("flows[0].steps[4].zone", "invalid_format"),
            ("flows[0].steps[5].zone", "not_allowed"),
            ("flows[0].steps[6].on", "not_one_of"),
            ("flows[0].steps[7].on[0]", "not_found"),
            ("flows[0].steps[8].on[0]", "required"),
            ("flows[0].steps[9].on", "not_one_of"),
            ("flows[0].steps[10].items", "formula_type"),
            ("flows[0].steps[10].steps[0].type", "not_allowed"),
            ("flows[0].steps[10].steps[1].fields.customer", "formula_unknown_field"),
            ("flows[0].steps[11].steps", "required"),
        ].iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect();
        let mut expected = expected;
        expected.sort();
        assert_eq!(details(&error), expected, "{error}");
        // The allowed keys are named.
        let on = error["details"].as_array().unwrap().iter().find(|d| d["field"] == "flows[0].steps[9].on").unwrap();
        assert_eq!(on["params"]["allowed"], json!(["customer,week"]));
        app.get("/api/v1/apps/crm", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/flows/bad", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn upsert_creates_then_updates_by_a_unique_field_or_a_unique_together_group(app) {
        let flows = json!([{
            "key": "keep", "trigger": {"record": "orders", "on": "created"},
            "steps": [
                {"key": "u", "type": "upsert", "table": "followups", "on": ["客户"],
                 "fields": {"客户": "{trigger.fields.客户}", "due": "DATEADD(TODAY(), 3, \"days\")",
                            "level": "IF({trigger.fields.金额} >= 10000, \"高\", \"低\")"}},
                {"key": "v", "type": "upsert", "table": "visits", "on": ["week", "customer"],
                 "fields": {"customer": "{trigger.fields.客户}", "week": "\"2026-W48\"", "amount": "{trigger.fields.金额}"}},
                {"key": "tell", "type": "if", "condition": "{steps.u.output.created}", "then": [
                    {"key": "first", "type": "create_record", "table": "tally", "fields": {"customer": "{steps.u.output.客户}"}}
                ]}
            ]
        }]);
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "ACME", "amount": "100.00"}})).await.expect(StatusCode::CREATED);
        let first = only_run(&app, "keep", "succeeded").await;
        assert_eq!(first["steps"][0]["output"]["created"], true);
        assert_eq!(first["steps"][0]["output"]["level"], "低");
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "ACME", "amount": "20000.00"}})).await.expect(StatusCode::CREATED);
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "Globex", "amount": "5.00"}})).await.expect(StatusCode::CREATED);
        for _ in 0..200 {
            let all = runs(&app, "keep").await;
            if all.len() == 3 && all.iter().all(|r| r["status"] == "succeeded") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let all = runs(&app, "keep").await;
        assert!(all.len() == 3 && all.iter().all(|r| r["status"] == "succeeded"), "{all:?}");
        let followups = records(&app, FOLLOWUPS).await;
        let mut seen: Vec<(String, String)> = followups.iter()
            .map(|r| (r["fields"]["customer"].as_str().unwrap().to_owned(), r["fields"]["level"].as_str().unwrap().to_owned())).collect();
        seen.sort();
        assert_eq!(seen, [("ACME".to_owned(), "高".to_owned()), ("Globex".to_owned(), "低".to_owned())]);
        let acme = followups.iter().find(|r| r["fields"]["customer"] == "ACME").unwrap();
        let second = run_in(&app, all[1]["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(second["steps"][0]["output"]["created"], false);
        assert_eq!(second["steps"][0]["output"]["id"], acme["id"]);
        assert_eq!(step_statuses(&second)[3], ("first".to_owned(), "skipped".to_owned()));
        let visits = records(&app, VISITS).await;
        let mut amounts: Vec<(String, String)> = visits.iter()
            .map(|r| (r["fields"]["customer"].as_str().unwrap().to_owned(), r["fields"]["amount"].as_str().unwrap().to_owned())).collect();
        amounts.sort();
        assert_eq!(amounts, [("ACME".to_owned(), "20000.00".to_owned()), ("Globex".to_owned(), "5.00".to_owned())]);
        // Created once per customer.
        assert_eq!(records(&app, "/api/v1/apps/crm/tables/tally/records").await.len(), 2);
        app
    }

    async fn aggregate_computes_as_the_aggregate_api_in_the_run(app) {
        let flows = json!([{
            "key": "stats", "trigger": {"manual": {}},
            "steps": [
                {"key": "a", "type": "aggregate", "table": "orders", "metrics": "count,sum:amount",
                 "filter": {"field": "status", "op": "eq", "value": "已签收"}},
                {"key": "g", "type": "aggregate", "table": "orders", "group_by": "customer",
                 "metrics": "count,sum:amount", "sort": "-sum:amount"},
                {"key": "t", "type": "create_record", "table": "tally",
                 "fields": {"n": "{steps.a.output.count}", "customer": "CONCATENATE(\"sum \", {steps.a.output.sum:amount})"}}
            ]
        }]);
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        for (customer, status, amount) in [("ACME", "已签收", "100.00"), ("ACME", "已签收", "50.50"), ("Globex", "新建", "10.00")] {
            app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": customer, "status": status, "amount": amount}})).await.expect(StatusCode::CREATED);
        }
        app.post("/api/v1/flows/stats/runs", &app.admin_token, json!({"payload": {}})).await.expect(StatusCode::CREATED);
        let done = only_run(&app, "stats", "succeeded").await;
        let a = &done["steps"][0]["output"];
        assert_eq!((&a["count"], &a["sum:amount"]), (&json!(2), &json!("150.50")), "{a}");
        let g = &done["steps"][1]["output"]["groups"];
        assert_eq!(g, &json!([
            {"key": {"customer": "ACME"}, "count": 2, "sum:amount": "150.50"},
            {"key": {"customer": "Globex"}, "count": 1, "sum:amount": "10.00"}
        ]));
        // The same numbers as GET …/aggregate.
        let api = app.get("/api/v1/apps/crm/tables/orders/aggregate?group_by=customer&metrics=count,sum:amount&sort=-sum:amount", &app.admin_token)
            .await.expect(StatusCode::OK).clone();
        assert_eq!(&api["groups"], g);
        let tally = records(&app, "/api/v1/apps/crm/tables/tally/records").await;
        assert_eq!(tally[0]["fields"]["n"].to_string().trim_matches('"'), "2");
        assert!(tally[0]["fields"]["customer"].as_str().unwrap().starts_with("sum 150.5"), "{tally:?}");
        // Publish checks it as the API would.
        let bad = json!([{"key": "bad", "trigger": {"manual": {}}, "steps": [
            {"key": "a", "type": "aggregate", "table": "orders", "metrics": "sum:nope"},
            {"key": "b", "type": "aggregate", "table": "orders", "metrics": "count", "filter": {"field": "nope", "op": "eq", "value": 1}}
        ]}]);
        let error = import(&app, crm(bad)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<String> = details(&error).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields.len(), 2, "{error}");
        assert!(fields[0].starts_with("flows[0].steps[0].metrics"), "{error}");
        assert!(fields[1].starts_with("flows[0].steps[1].filter"), "{error}");
        app
    }
}
