//! `for_each` over HTTP (issue #18): its steps run once per item (`{item.…}`, `{loop.index}` from 0), a
//! batch of items per transaction committing with the step's progress, so a failure part-way and a
//! retry run every item exactly once; two runs upserting one key at the same time (one record); and
//! `SPLIT`/`ARRAYFLATTEN` turning a text into a for_each's items and into one mapped field.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow_steps::{
    FOLLOWUPS, ORDERS, crm, details, import, only_run, records, run_in, runs, step_statuses,
};
use crate::{TestApp, api_tests};

const TALLY: &str = "/api/v1/apps/crm/tables/tally/records";

fn fan() -> Value {
    json!([{
        "key": "fan", "trigger": {"manual": {}},
        "steps": [
            {"key": "f", "type": "find", "table": "orders", "where": "{状态} = \"已签收\"", "limit": 1000},
            {"key": "each", "type": "for_each", "items": "{steps.f.output.ids}", "table": "orders", "steps": [
                {"key": "t", "type": "create_record", "table": "tally",
                 "fields": {"n": "{loop.index}", "customer": "{item.客户}"}},
                {"key": "big", "type": "if", "condition": "{item.金额} >= 10000", "then": [
                    {"key": "u", "type": "upsert", "table": "followups", "on": ["customer"],
                     "fields": {"customer": "{steps.t.output.customer}", "level": "\"高\""}}
                ]}
            ]},
            {"key": "sum", "type": "create_record", "table": "tally",
             "fields": {"n": "{steps.each.output.count}", "customer": "\"total\""}}
        ]
    }])
}

api_tests! {
    async fn for_each_runs_its_steps_once_per_item_across_a_failure_and_a_retry(app) {
        import(&app, crm(fan())).await.expect(StatusCode::CREATED);
        // 250 signed orders (three batches of items), every tenth one big; one order not signed.
        let mut bodies: Vec<Value> = (0..250).map(|i| json!({"fields": {
            "customer": format!("c{i:03}"), "status": "已签收",
            "amount": if i % 10 == 0 { "20000.00" } else { "10.00" }}})).collect();
        bodies.push(json!({"fields": {"customer": "new", "status": "新建", "amount": "99999.00"}}));
        app.post(ORDERS, &app.admin_token, json!({"records": bodies})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/flows/fan/runs", &app.admin_token, json!({"payload": {}})).await.expect(StatusCode::CREATED);
        let done = only_run(&app, "fan", "succeeded").await;
        assert_eq!(step_statuses(&done), [
            ("f".to_owned(), "succeeded".to_owned()),
            ("each".to_owned(), "succeeded".to_owned()),
            ("sum".to_owned(), "succeeded".to_owned()),
        ]);
        assert_eq!(done["steps"][1]["output"], json!({"count": 250}));
        let tally = records(&app, TALLY).await;
        assert_eq!(tally.len(), 251);
        let mut numbers: Vec<i64> = tally.iter().filter(|r| r["fields"]["customer"] != "total")
            .map(|r| r["fields"]["n"].to_string().trim_matches('"').parse().unwrap()).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..250).collect::<Vec<i64>>());
        // `{loop.index}` follows the items' order (the find's: oldest first).
        let c007 = tally.iter().find(|r| r["fields"]["customer"] == "c007").unwrap();
        assert_eq!(c007["fields"]["n"].to_string().trim_matches('"'), "7");
        let total = tally.iter().find(|r| r["fields"]["customer"] == "total").unwrap();
        assert_eq!(total["fields"]["n"].to_string().trim_matches('"'), "250");
        // The `if` inside ran for the big ones only: 25 followups, level 高.
        let followups = records(&app, FOLLOWUPS).await;
        assert_eq!(followups.len(), 25);
        assert!(followups.iter().all(|r| r["fields"]["level"] == "高"), "{followups:?}");
        app
    }

    async fn a_failing_item_rolls_back_its_batch_and_a_retry_resumes_there(app) {
        let mut flows = fan();
        // The big branch creates the followup (a taken customer is refused) instead of upserting it.
        flows[0]["steps"][1]["steps"][1]["then"][0] = json!({"key": "u", "type": "create_record", "table": "followups",
            "fields": {"customer": "{item.客户}"}});
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        let bodies: Vec<Value> = (0..250).map(|i| json!({"fields": {
            "customer": format!("c{i:03}"), "status": "已签收",
            "amount": if i == 150 { "20000.00" } else { "10.00" }}})).collect();
        app.post(ORDERS, &app.admin_token, json!({"records": bodies})).await.expect(StatusCode::CREATED);
        // Item 150 cannot create its followup while another has its customer.
        let blocker = app.post(FOLLOWUPS, &app.admin_token, json!({"fields": {"customer": "c150"}})).await.expect(StatusCode::CREATED).clone();
        app.post("/api/v1/flows/fan/runs", &app.admin_token, json!({"payload": {}})).await.expect(StatusCode::CREATED);
        let failed = only_run(&app, "fan", "failed").await;
        assert_eq!(failed["error"]["step"], "each");
        let each = &failed["steps"][1];
        assert_eq!(each["status"], "failed");
        assert!(each["error"]["message"].as_str().unwrap().contains("item 150, step u"), "{each}");
        assert_eq!(each["input"]["done"], 100);
        assert_eq!(each["input"]["item"], 150);
        // Items 0–99 committed (the first batch); the second batch, 100–199, rolled back whole.
        assert_eq!(records(&app, TALLY).await.len(), 100);
        app.delete(&format!("{FOLLOWUPS}/{}", blocker["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let id = failed["id"].as_str().unwrap();
        app.post(&format!("/api/v1/flow-runs/{id}/steps/each/retry"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let done = run_in(&app, id, "succeeded").await;
        assert_eq!(done["steps"][1]["attempts"], 2);
        // Every item exactly once: 250 tally rows numbered 0–249, and the total.
        let tally = records(&app, TALLY).await;
        let mut numbers: Vec<i64> = tally.iter().filter(|r| r["fields"]["customer"] != "total")
            .map(|r| r["fields"]["n"].to_string().trim_matches('"').parse().unwrap()).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..250).collect::<Vec<i64>>());
        assert_eq!(tally.len(), 251);
        let followups = records(&app, FOLLOWUPS).await;
        assert_eq!(followups.len(), 1);
        assert_eq!(followups[0]["fields"]["customer"], "c150");
        app
    }

    async fn split_and_arrayflatten_map_a_text_into_items_and_one_field(app) {
        // The order's note lists its contacts; SPLIT makes them the items of a for_each (empty pieces
        // dropped), and ARRAYFLATTEN joins them with the customer into one mapped field.
        let flows = json!([{
            "key": "contacts", "trigger": {"record": "orders", "on": "created"},
            "steps": [
                {"key": "each", "type": "for_each", "items": "SPLIT({trigger.fields.备注}, \"、\")", "steps": [
                    {"key": "t", "type": "create_record", "table": "tally",
                     "fields": {"n": "{loop.index}", "customer": "{item.value}"}}
                ]},
                {"key": "all", "type": "create_record", "table": "tally", "fields": {"n": "{steps.each.output.count}",
                 "customer": "ARRAYJOIN(ARRAYFLATTEN({trigger.fields.客户}, SPLIT({trigger.fields.备注}, \"、\")), \" / \")"}}
            ]
        }]);
        // A list function given the wrong type is refused at publish, with the step's path.
        let mut bad = flows.clone();
        bad[0]["steps"][1]["fields"]["customer"] = json!("ARRAYJOIN(SPLIT({trigger.fields.金额}, \",\"))");
        let error = import(&app, crm(bad)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&error), [("flows[0].steps[1].fields.customer".to_owned(), "formula_type".to_owned())]);
        assert!(error.to_string().contains("SPLIT expects text as argument 1"), "{error}");
        import(&app, crm(flows)).await.expect(StatusCode::CREATED);
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "湖州优品", "note": "张三、、李四、王五、"}}))
            .await.expect(StatusCode::CREATED);
        let done = only_run(&app, "contacts", "succeeded").await;
        assert_eq!(done["steps"][0]["output"], json!({"count": 3}));
        let mut tally: Vec<(i64, String)> = records(&app, TALLY).await.iter()
            .map(|r| (r["fields"]["n"].to_string().trim_matches('"').parse().unwrap(),
                      r["fields"]["customer"].as_str().unwrap().to_owned()))
            .collect();
        tally.sort();
        assert_eq!(tally, [
            (0, "张三".to_owned()),
            (1, "李四".to_owned()),
            (2, "王五".to_owned()),
            (3, "湖州优品 / 张三 / 李四 / 王五".to_owned()),
        ]);
        app
    }
}

async fn upserts_of_one_key_racing_make_one_record(backend: tenon_store::testing::TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    // No workers: the test claims and advances the runs itself, two at the same time.
    let app = TestApp::spawn(
        &database,
        tenon_server::ServerConfig {
            secure_cookies: false,
            flows: tenon_connect::FlowConfig {
                workers: 0,
                ..tenon_connect::FlowConfig::default()
            },
            ..tenon_server::ServerConfig::default()
        },
    )
    .await;
    let flows = json!([{
        "key": "keep", "trigger": {"record": "orders", "on": "created"},
        "steps": [{"key": "u", "type": "upsert", "table": "followups", "on": ["customer"],
                   "fields": {"customer": "{trigger.fields.客户}", "level": "IF({trigger.fields.金额} >= 10000, \"高\", \"低\")"}}]
    }]);
    import(&app, crm(flows)).await.expect(StatusCode::CREATED);
    for amount in ["1.00", "20000.00"] {
        app.post(
            ORDERS,
            &app.admin_token,
            json!({"fields": {"customer": "ACME", "amount": amount}}),
        )
        .await
        .expect(StatusCode::CREATED);
    }
    let first = app.store.claim_flow_runs("a", 1).await.unwrap();
    let second = app.store.claim_flow_runs("b", 1).await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    let advance = |claim: tenon_store::flows::Claim| {
        let store = app.store.clone();
        async move {
            loop {
                match store.advance_flow_run(&claim).await.unwrap() {
                    tenon_store::flows::Advance::Continue => continue,
                    other => return other,
                }
            }
        }
    };
    let (a, b) = tokio::join!(advance(first[0]), advance(second[0]));
    let succeeded = tenon_store::flows::Advance::Finished(tenon_flows::RunStatus::Succeeded);
    assert_eq!((a, b), (succeeded.clone(), succeeded));
    let followups = records(&app, FOLLOWUPS).await;
    assert_eq!(followups.len(), 1, "{followups:?}");
    let all = runs(&app, "keep").await;
    let mut created: Vec<bool> = Vec::new();
    for run in &all {
        let detail = run_in(&app, run["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(detail["steps"][0]["attempts"], 1);
        created.push(detail["steps"][0]["output"]["created"].as_bool().unwrap());
    }
    created.sort_unstable();
    assert_eq!(created, [false, true]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.stop().await;
    database.cleanup().await;
}

mod upsert_race {
    #[tokio::test]
    async fn sqlite() {
        super::upserts_of_one_key_racing_make_one_record(tenon_store::testing::TestBackend::Sqlite)
            .await;
    }
    #[tokio::test]
    async fn postgres() {
        super::upserts_of_one_key_racing_make_one_record(
            tenon_store::testing::TestBackend::Postgres,
        )
        .await;
    }
}
