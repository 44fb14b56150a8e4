//! The voucher steps over HTTP (issue #18): a record booked by `ledger_sync`, its voucher pushed to a
//! fake Kingdee K/3 Cloud (`kingdee_voucher`: login, a query by Tenon's key, `GL_VOUCHER` Save, a new
//! login once when the session is gone) and its number written back into the record; 503, 503, 200 is one
//! voucher and the earlier step ran once; a save whose answer is lost (connection broken, too slow) is
//! reconciled by key, never saved twice; a refusal fails the run and a retry from the step pushes it;
//! Yonyou U8 (`yonyou_voucher`, EAI XML) is unsafe: an unclear outcome waits for a person; bad steps are
//! refused with their paths.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow_http::{step_at, step_in};
use crate::flow_steps::{details, records, run_in};
use crate::vendor_fakes::{FakeKingdee, FakeU8, Script};
use crate::{Reply, TestApp, api_tests};

const ORDERS: &str = "/api/v1/apps/shop/tables/orders/records";
const BOOK: &str = "/api/v1/ledger/books/主账套";

/// The shop: orders, a voucher rule booking paid orders, and flow `push`: new order → `ledger_sync` →
/// `step` (a voucher step keyed `k`) → the vendor's number into the order's note.
pub(crate) fn shop(step: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "shop", "name": "Shop",
        "tables": [{"key": "orders", "name": "订单", "fields": [
            {"key": "customer", "name": "客户", "type": "text"},
            {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "已收款"}]}},
            {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
            {"key": "on", "name": "日期", "type": "date"},
            {"key": "note", "name": "备注", "type": "text"}
        ]}],
        "voucher_rules": [{
            "key": "vr_s", "name": "销售收款", "book": {"name": "主账套", "template": "cas"}, "table": "orders",
            "when": "{状态} = \"已收款\"", "date": "{日期}", "word": "记", "summary": "\"销售 \" & {客户}",
            "lines": [
                {"account": "AR", "debit": "{金额}", "dimensions": {"customer": "{客户}"}},
                {"account": "REVENUE", "credit": "ROUND({金额} / 1.13, 2)"},
                {"account": "VAT_OUTPUT", "credit": "{金额} - ROUND({金额} / 1.13, 2)"}
            ]
        }],
        "flows": [{"key": "push", "trigger": {"record": "orders", "on": "created"}, "steps": [
            {"key": "sync", "type": "ledger_sync", "rule": "vr_s", "record": "{trigger.record_id}"},
            step,
            {"key": "save", "type": "update_record", "table": "orders", "record": "{trigger.record_id}",
             "fields": {"note": "{steps.k.output.number}"}}
        ]}]
    })
}

pub(crate) fn kingdee_step(extra: Value) -> Value {
    let mut step = json!({"key": "k", "type": "kingdee_voucher", "connection": "kd",
                          "voucher": "{steps.sync.output.voucher_id}"});
    for (k, v) in extra.as_object().unwrap() {
        step[k] = v.clone();
    }
    step
}

pub(crate) async fn import(app: &TestApp, file: Value) -> Reply {
    app.post("/api/v1/apps/import", &app.admin_token, file)
        .await
}

pub(crate) async fn kingdee(app: &TestApp) -> FakeKingdee {
    let fake = FakeKingdee::start().await;
    app.post(
        "/api/v1/connections",
        &app.admin_token,
        json!({"key": "kd", "name": "金蝶云星空", "kind": "kingdee",
               "config": {"base_url": fake.base, "acct_id": "A1", "username": "api"},
               "secrets": {"password": "k-pass"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    fake
}

pub(crate) async fn u8(app: &TestApp) -> FakeU8 {
    let fake = FakeU8::start().await;
    app.post(
        "/api/v1/connections",
        &app.admin_token,
        json!({"key": "u8", "name": "用友 U8", "kind": "yonyou_u8",
               "config": {"base_url": fake.base, "sender": "999"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    fake
}

/// A paid order of `amount` (with VAT) on 2026-11-20: the rule books it.
pub(crate) async fn paid_order(app: &TestApp, customer: &str, amount: &str) -> String {
    app.post(
        ORDERS,
        &app.admin_token,
        json!({"fields": {"customer": customer, "status": "已收款",
        "amount": amount, "on": "2026-11-20"}}),
    )
    .await
    .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The runs of `push`, newest first, once there are `count`.
pub(crate) async fn push_runs(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..300 {
        let runs = crate::flow_steps::runs(app, "push").await;
        if runs.len() >= count {
            assert_eq!(runs.len(), count, "{runs:?}");
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow push did not start {count} runs");
}

pub(crate) async fn newest_in(app: &TestApp, count: usize, status: &str) -> Value {
    let runs = push_runs(app, count).await;
    run_in(app, runs[0]["id"].as_str().unwrap(), status).await
}

pub(crate) fn step<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap()
}

pub(crate) async fn tenon_vouchers(app: &TestApp) -> Vec<Value> {
    app.get(&format!("{BOOK}/vouchers?period=2026-11"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) async fn note_of(app: &TestApp, order: &str) -> Value {
    records(app, ORDERS)
        .await
        .into_iter()
        .find(|r| r["id"] == order)
        .unwrap()["fields"]["note"]
        .clone()
}

api_tests! {
    async fn a_booked_order_is_pushed_to_kingdee_and_its_number_lands_in_the_order(app) {
        let fake = kingdee(&app).await;
        import(&app, shop(kingdee_step(json!({})))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let run = newest_in(&app, 1, "succeeded").await;
        let voucher_id = step(&run, "sync")["output"]["voucher_id"].as_str().unwrap().to_owned();
        let saved = fake.vouchers();
        assert_eq!(saved.len(), 1, "{saved:?}");
        assert_eq!(saved[0].key, format!("tenon:{voucher_id}"), "Tenon's key travels with the voucher");
        let model = &saved[0].model;
        assert_eq!(model["FDate"], "2026-11-20");
        assert_eq!(model["FVOUCHERGROUPID"]["FNumber"], "PRE001", "记");
        let lines: Vec<(String, String, String)> = model["FEntity"].as_array().unwrap().iter()
            .map(|l| (l["FACCOUNTID"]["FNumber"].as_str().unwrap().to_owned(),
                      l["FDEBIT"].as_str().unwrap().to_owned(), l["FCREDIT"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(lines.iter().map(|l| (l.1.as_str(), l.2.as_str())).collect::<Vec<_>>(),
                   [("113.00", "0.00"), ("0.00", "100.00"), ("0.00", "13.00")], "{model}");
        assert_eq!(model["FEntity"][0]["FEXPLANATION"], "销售 甲公司");
        let k = step(&run, "k");
        assert_eq!(k["output"]["number"], "1");
        assert_eq!(k["output"]["id"], "100001");
        assert_eq!(k["output"]["existing"], false);
        assert_eq!(k["output"]["voucher_id"], voucher_id.as_str());
        assert_eq!(note_of(&app, &order).await, "1", "the number written back by the next step");
        assert!(!run.to_string().contains("k-pass"), "the journal shows no password: {run}");
        // The next order reuses the node's session: one login for both.
        paid_order(&app, "乙公司", "226.00").await;
        newest_in(&app, 2, "succeeded").await;
        assert_eq!(fake.vouchers().len(), 2);
        assert_eq!(fake.logins(), 1);
        app
    }

    async fn an_expired_kingdee_session_logs_in_again_once(app) {
        let fake = kingdee(&app).await;
        import(&app, shop(kingdee_step(json!({})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        newest_in(&app, 1, "succeeded").await;
        assert_eq!(fake.logins(), 1);
        fake.expire_sessions();
        let order = paid_order(&app, "乙公司", "226.00").await;
        let run = newest_in(&app, 2, "succeeded").await;
        assert_eq!(fake.logins(), 2, "one new login");
        assert_eq!(fake.vouchers().len(), 2);
        assert_eq!(step(&run, "k")["attempts"], 1, "in the same attempt");
        assert_eq!(note_of(&app, &order).await, "2");
        app
    }

    async fn kingdee_503_503_200_saves_one_voucher_and_the_sync_runs_once(app) {
        let fake = kingdee(&app).await;
        fake.script([Script::Status(503), Script::Status(503)]);
        import(&app, shop(kingdee_step(json!({})))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let run_id = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        let first = step_in(&app, &run_id, "k", "retry_wait").await;
        assert!(first["error"]["message"].as_str().unwrap().contains("HTTP 503"), "{first}");
        // Waits of 30 s and 5 min, ±20 %.
        app.clock.advance(chrono::TimeDelta::seconds(40));
        step_at(&app, &run_id, "k", "retry_wait", Some(2)).await;
        app.clock.advance(chrono::TimeDelta::minutes(7));
        let done = run_in(&app, &run_id, "succeeded").await;
        assert_eq!(step(&done, "k")["attempts"], 3);
        assert_eq!(step(&done, "sync")["attempts"], 1, "the earlier step ran once");
        assert_eq!(tenon_vouchers(&app).await.len(), 1, "one voucher in Tenon");
        assert_eq!(fake.vouchers().len(), 1, "one voucher in Kingdee");
        assert_eq!(fake.saves(), 3);
        assert_eq!(note_of(&app, &order).await, "1");
        app
    }

    async fn a_kingdee_save_whose_answer_is_lost_is_reconciled_by_key_and_saved_once(app) {
        let fake = kingdee(&app).await;
        // The first save commits and the connection breaks; the second commits after the step's timeout.
        fake.script([Script::Drop, Script::Slow(Duration::from_secs(3))]);
        import(&app, shop(kingdee_step(json!({"timeout": "1s"})))).await.expect(StatusCode::CREATED);
        let first = paid_order(&app, "甲公司", "113.00").await;
        let run = newest_in(&app, 1, "succeeded").await;
        assert_eq!(step(&run, "k")["output"]["existing"], true, "found by Tenon's key: {run}");
        assert_eq!(step(&run, "k")["attempts"], 1);
        assert_eq!(note_of(&app, &first).await, "1");
        let second = paid_order(&app, "乙公司", "226.00").await;
        let run = newest_in(&app, 2, "succeeded").await;
        assert_eq!(step(&run, "k")["output"]["existing"], true, "{run}");
        assert_eq!(note_of(&app, &second).await, "2");
        let saved = fake.vouchers();
        assert_eq!(saved.len(), 2, "exactly one voucher per order: {saved:?}");
        assert_eq!(fake.saves(), 2, "no save was sent twice");
        app
    }

    async fn a_kingdee_push_cut_short_by_a_lost_claim_is_asked_for_by_key_not_saved_again(app) {
        let fake = kingdee(&app).await;
        let hold = std::sync::Arc::new(tokio::sync::Notify::new());
        fake.script([Script::Hold(hold.clone())]);
        import(&app, shop(kingdee_step(json!({"timeout": "30s"})))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        for _ in 0..300 {
            if !fake.vouchers().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(fake.vouchers().len(), 1, "Kingdee saved it and holds the answer");
        // The worker waits on Kingdee; its lease runs out and the other worker claims the run: the step
        // is `running`, its answer unknown — Kingdee is asked by key before anything is saved again.
        app.clock.advance(chrono::TimeDelta::minutes(2));
        let run_id = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        let done = run_in(&app, &run_id, "succeeded").await;
        assert_eq!(step(&done, "k")["output"]["existing"], true, "{done}");
        assert_eq!(note_of(&app, &order).await, "1");
        // The first worker's answer comes too late: its claim is gone, it journals nothing.
        hold.notify_waiters();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(fake.vouchers().len(), 1, "exactly one voucher");
        assert_eq!(fake.saves(), 1, "the Save was not sent again");
        let again = run_in(&app, &run_id, "succeeded").await;
        assert_eq!(step(&again, "k")["output"], step(&done, "k")["output"]);
        app
    }

    async fn a_kingdee_refusal_fails_the_run_and_a_retry_from_the_step_pushes_it(app) {
        let fake = kingdee(&app).await;
        fake.script([Script::Refuse("科目 1122 未启用")]);
        import(&app, shop(kingdee_step(json!({})))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let failed = newest_in(&app, 1, "failed").await;
        let k = step(&failed, "k");
        assert_eq!(k["status"], "failed");
        assert_eq!(k["attempts"], 1, "a refusal is not retried");
        assert!(k["error"]["message"].as_str().unwrap().contains("科目 1122 未启用"), "{k}");
        assert!(fake.vouchers().is_empty());
        // Someone enables the account in Kingdee, then retries from the step.
        let run_id = failed["id"].as_str().unwrap();
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/k/retry"), &app.admin_token, json!({}))
            .await
            .expect(StatusCode::OK);
        let done = run_in(&app, run_id, "succeeded").await;
        assert_eq!(step(&done, "sync")["attempts"], 1, "the sync is not run again");
        assert_eq!(tenon_vouchers(&app).await.len(), 1);
        assert_eq!(fake.vouchers().len(), 1);
        assert_eq!(note_of(&app, &order).await, "1");
        app
    }

    async fn a_voucher_that_is_not_posted_is_not_pushed(app) {
        let fake = kingdee(&app).await;
        let mut file = shop(kingdee_step(json!({})));
        // The rule books drafts: a draft may still be replaced in place, so it stays home.
        file["voucher_rules"][0]["post"] = json!(false);
        import(&app, file).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        let failed = newest_in(&app, 1, "failed").await;
        let k = step(&failed, "k");
        assert_eq!(k["attempts"], 1, "a draft is not retried: {k}");
        assert!(k["error"]["message"].as_str().unwrap().contains("is draft, not posted"), "{k}");
        assert_eq!(fake.saves(), 0);
        assert!(fake.vouchers().is_empty());
        app
    }

    async fn a_u8_push_posts_the_eai_voucher_and_an_unclear_one_waits_for_a_person(app) {
        let fake = u8(&app).await;
        import(&app, shop(json!({"key": "k", "type": "yonyou_voucher", "connection": "u8",
                                 "voucher": "{steps.sync.output.voucher_id}"}))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let run = newest_in(&app, 1, "succeeded").await;
        assert_eq!(step(&run, "k")["output"]["number"], "记-0001");
        assert_eq!(note_of(&app, &order).await, "记-0001");
        let document = &fake.documents()[0];
        for part in [r#"roottag="voucher""#, r#"sender="999""#, "<company>主账套</company>",
                     "<voucher_type>记</voucher_type>", "<natural_debit_currency>113.00</natural_debit_currency>"] {
            assert!(document.contains(part), "{part} in {document}");
        }
        // The connection breaks after U8 took the document: nobody knows whether it is booked.
        fake.script([Script::Drop]);
        paid_order(&app, "乙公司", "226.00").await;
        let run_id = push_runs(&app, 2).await[0]["id"].as_str().unwrap().to_owned();
        let unknown = step_in(&app, &run_id, "k", "unknown_outcome").await;
        assert_eq!(unknown["error"]["kind"], "unknown_outcome");
        assert!(unknown["error"]["message"].as_str().unwrap().contains("broke"), "{unknown}");
        let events = app.get("/api/v1/events?types=flow.step.unknown_outcome", &app.admin_token)
            .await.expect(StatusCode::OK).clone();
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
        assert_eq!(events["items"][0]["data"]["step"]["type"], "yonyou_voucher");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(fake.documents().len(), 2, "not sent again blindly");
        // A person checks U8: it is there.
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/k/resolve"), &app.admin_token,
            json!({"outcome": "done"})).await.expect(StatusCode::OK);
        let done = run_in(&app, &run_id, "succeeded").await;
        assert_eq!(step(&done, "k")["status"], "succeeded");
        assert_eq!(fake.documents().len(), 2);
        app
    }

    async fn bad_voucher_steps_and_connections_answer_422_with_their_paths(app) {
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "mail", "name": "SMTP", "kind": "smtp", "config": {"host": "smtp.example", "from": "a@example.com"}}))
            .await.expect(StatusCode::CREATED);
        let mut file = shop(json!({"key": "k", "type": "kingdee_voucher"}));
        file["flows"][0]["steps"].as_array_mut().unwrap().extend([
            json!({"key": "u", "type": "yonyou_voucher", "connection": "nowhere", "voucher": "{steps.sync.output.voucher_id}"}),
            json!({"key": "w", "type": "kingdee_voucher", "connection": "mail", "voucher": "{steps.sync.output.nothing}", "timeout": "2m"}),
        ]);
        let error = import(&app, file).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let found = details(&error);
        for expected in [
            ("flows[0].steps[1].connection", "required"),
            ("flows[0].steps[1].voucher", "required"),
            ("flows[0].steps[3].connection", "not_found"),
            ("flows[0].steps[4].connection", "not_allowed"),
            ("flows[0].steps[4].timeout", "too_large"),
        ] {
            assert!(found.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {found:?}");
        }
        assert!(found.iter().any(|(field, _)| field == "flows[0].steps[4].voucher"), "{found:?}");
        let unknown = import(&app, shop(kingdee_step(json!({"book": "主账套"})))).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert!(details(&unknown).iter().any(|(field, _)| field.starts_with("flows[0].steps[1]")), "{unknown}");
        // A kingdee connection logs in with a password or an app secret.
        let refused = app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "kd", "name": "金蝶", "kind": "kingdee",
                   "config": {"base_url": "https://erp.example/k3cloud", "acct_id": "A1", "username": "api", "key_field": "bad field"}}))
            .await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&refused), vec![
            ("config.key_field".to_owned(), "invalid_value".to_owned()),
            ("secrets.password".to_owned(), "required".to_owned()),
        ]);
        app
    }
}
