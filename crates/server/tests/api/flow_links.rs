//! Record triggers on records changed through links (issue #18): a write that moves a rollup (or an
//! inverse link) of another record runs the watch hook on that record too, in the write's transaction,
//! on its stored values before and after — so a customer `enter`s `{订单总额} >= 10000` when an order
//! pushes its rollup over, and `leave`s it when deleted orders take it back under.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow_steps::{import, records, run_in, runs};
use crate::{TestApp, api_tests};

const CUSTOMERS: &str = "/api/v1/apps/sales/tables/customers/records";
const ORDERS: &str = "/api/v1/apps/sales/tables/orders/records";
const MARKS: &str = "/api/v1/apps/sales/tables/marks/records";

fn mark_flow(key: &str, on: &str) -> Value {
    json!({
        "key": key,
        "trigger": {"record": "customers", "on": on, "when": "{订单总额} >= 10000"},
        "steps": [{"key": "m", "type": "create_record", "table": "marks", "fields": {
            "customer": "{trigger.fields.名称}", "kind": format!("\"{on}\""), "total": "{trigger.fields.订单总额}"}}]
    })
}

fn sales() -> Value {
    json!({
        "format": "tenon.app/v1", "key": "sales", "name": "Sales",
        "tables": [
            {"key": "customers", "name": "客户", "fields": [
                {"key": "name", "name": "名称", "type": "text"},
                {"key": "total", "name": "订单总额", "type": "rollup", "options": {"link": "orders", "field": "amount", "function": "sum"}}
            ]},
            {"key": "orders", "name": "订单", "fields": [
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "customer", "name": "客户", "type": "link",
                 "options": {"table": "customers", "multiple": false, "inverse_key": "orders", "inverse_name": "订单"}}
            ]},
            {"key": "marks", "name": "标记", "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "kind", "name": "类型", "type": "text"},
                {"key": "total", "name": "总额", "type": "number", "options": {"precision": 2}}
            ]}
        ],
        "flows": [mark_flow("big_enter", "enter"), mark_flow("big_leave", "leave")]
    })
}

async fn order(app: &TestApp, customer: &str, amount: &str) -> String {
    let created = app
        .post(
            ORDERS,
            &app.admin_token,
            json!({"fields": {"amount": amount, "customer": [customer]}}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    created["id"].as_str().unwrap().to_owned()
}

async fn total(app: &TestApp, customer: &str) -> Value {
    app.get(&format!("{CUSTOMERS}/{customer}"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["fields"]["total"]
        .clone()
}

api_tests! {
    async fn a_rollup_moved_by_orders_enters_and_leaves_the_customers_condition(app) {
        import(&app, sales()).await.expect(StatusCode::CREATED);
        let acme = app.post(CUSTOMERS, &app.admin_token, json!({"fields": {"name": "ACME"}})).await
            .expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let other = app.post(CUSTOMERS, &app.admin_token, json!({"fields": {"name": "Other"}})).await
            .expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        // Runs are inserted in the write's transaction: once a write has answered, its runs exist.
        let first = order(&app, &acme, "6000").await;
        assert_eq!(total(&app, &acme).await, "6000.00");
        assert_eq!(runs(&app, "big_enter").await, Vec::<Value>::new());
        // The order that crosses 10,000 starts exactly one run, whose trigger is the customer's change.
        let crossing = order(&app, &acme, "5000").await;
        assert_eq!(total(&app, &acme).await, "11000.00");
        let entered = runs(&app, "big_enter").await;
        assert_eq!(entered.len(), 1, "{entered:?}");
        let trigger = &entered[0]["trigger"];
        assert_eq!(trigger["record_id"], acme.as_str(), "{trigger}");
        assert_eq!(trigger["on"], "enter");
        assert_eq!(trigger["change"], "updated");
        assert_eq!(trigger["fields"]["total"], "11000.00");
        assert_eq!(trigger["before"]["total"], "6000.00");
        assert!(trigger["changed"].as_array().unwrap().contains(&json!("total")), "{trigger}");
        assert_eq!(trigger["cause"]["record_id"], crossing.as_str(), "{trigger}");
        // The trigger key is the customer's own `record.updated` event, which names the order as cause.
        let events = app.get("/api/v1/events?types=record.updated", &app.admin_token).await.expect(StatusCode::OK).clone();
        let event = events["items"].as_array().unwrap().iter()
            .find(|e| e["id"] == trigger["event_id"]).expect("the customer's event").clone();
        assert_eq!(event["subject"]["record_id"], acme.as_str());
        assert_eq!(event["data"]["cause"]["record_id"], crossing.as_str(), "{event}");
        assert_eq!(trigger["cause"]["event_id"], event["data"]["cause"]["event_id"]);
        let done = run_in(&app, entered[0]["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(done["steps"][0]["output"]["customer"], "ACME", "{done}");
        assert_eq!(done["steps"][0]["output"]["total"], "11000.00", "{done}");
        // Above it already: another order starts none; another customer's order moves only its own total.
        order(&app, &acme, "2000").await;
        order(&app, &other, "9000").await;
        assert_eq!(total(&app, &acme).await, "13000.00");
        assert_eq!(runs(&app, "big_enter").await.len(), 1);
        assert_eq!(runs(&app, "big_leave").await, Vec::<Value>::new());
        // Deleting orders: 13,000 → 8,000 leaves once; 8,000 → 2,000 is still below and starts nothing.
        app.delete(&format!("{ORDERS}/{crossing}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let left = runs(&app, "big_leave").await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0]["trigger"]["record_id"], acme.as_str());
        assert_eq!(left[0]["trigger"]["on"], "leave");
        assert_eq!(left[0]["trigger"]["fields"]["total"], "8000.00");
        assert_eq!(left[0]["trigger"]["cause"]["record_id"], crossing.as_str());
        app.delete(&format!("{ORDERS}/{first}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        assert_eq!(total(&app, &acme).await, "2000.00");
        assert_eq!(runs(&app, "big_leave").await.len(), 1);
        assert_eq!(runs(&app, "big_enter").await.len(), 1);
        run_in(&app, left[0]["id"].as_str().unwrap(), "succeeded").await;
        let mut marks: Vec<(String, String, String)> = records(&app, MARKS).await.iter()
            .map(|m| (m["fields"]["customer"].as_str().unwrap().to_owned(), m["fields"]["kind"].as_str().unwrap().to_owned(),
                      m["fields"]["total"].as_str().unwrap().to_owned()))
            .collect();
        marks.sort();
        assert_eq!(marks, [("ACME".into(), "enter".into(), "11000.00".into()), ("ACME".into(), "leave".into(), "8000.00".into())]);
        app
    }
}
