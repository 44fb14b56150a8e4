//! Voucher rules and the `ledger_sync` step over HTTP (issue #18): rules published with an app file (the
//! book made from its template), a record booked, left alone when nothing moved, reversed and rebooked
//! when it changed, a draft replaced in place, a reversal when `when` turns false; `sync: auto` end to
//! end through record updates; publish refusals with paths; the demo CRM's VAT split.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

const ORDERS: &str = "/api/v1/apps/shop/tables/orders/records";
const BOOK: &str = "/api/v1/ledger/books/主账套";
const CRM_TEMPLATE: &str = include_str!("../../../../templates/crm.yaml");

/// The shop's app file with `rule` as its one voucher rule and a manual flow that syncs a record by it.
fn shop(rule: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "shop", "name": "Shop",
        "tables": [{"key": "orders", "name": "订单", "fields": [
            {"key": "customer", "name": "客户", "type": "text"},
            {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "已收款"}]}},
            {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
            {"key": "rate", "name": "税率", "type": "number", "options": {"precision": 4}},
            {"key": "on", "name": "日期", "type": "date"},
            {"key": "note", "name": "备注", "type": "text"}
        ]}],
        "voucher_rules": [rule],
        "flows": [{"key": "book", "trigger": {"manual": {"inputs": [{"key": "record", "type": "text", "required": true}]}},
                   "steps": [{"key": "s", "type": "ledger_sync", "rule": "vr_s", "record": "{trigger.payload.record}"}]}]
    })
}

fn rule(extra: Value) -> Value {
    let mut rule = json!({
        "key": "vr_s", "name": "销售收款", "book": {"name": "主账套", "template": "cas"}, "table": "orders",
        "when": "{状态} = \"已收款\"", "date": "{日期}", "word": "记", "summary": "\"销售 \" & {客户}",
        "lines": [
            {"account": "AR", "debit": "{金额}", "dimensions": {"customer": "{客户}"}},
            {"account": "REVENUE", "credit": "ROUND({金额} / (1 + {税率}), 2)"},
            {"account": "=IF({税率} = 0, \"REVENUE\", \"VAT_OUTPUT\")", "credit": "{金额} - ROUND({金额} / (1 + {税率}), 2)"}
        ]
    });
    for (key, value) in extra.as_object().unwrap() {
        rule[key] = value.clone();
    }
    rule
}

async fn import(app: &TestApp, file: Value) -> Reply {
    app.post("/api/v1/apps/import", &app.admin_token, file)
        .await
}

/// Waits (bounded) until `flow` has `count` runs, all finished; returns them newest first.
pub(crate) async fn finished_runs(app: &TestApp, flow: &str, count: usize) -> Vec<Value> {
    for _ in 0..300 {
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

/// The `ledger_sync` step's output of the newest run of `flow`, which must have succeeded.
async fn sync_output(app: &TestApp, flow: &str, count: usize) -> Value {
    let runs = finished_runs(app, flow, count).await;
    let id = runs[0]["id"].as_str().unwrap();
    let run = app
        .get(&format!("/api/v1/flow-runs/{id}"), &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(run["status"], "succeeded", "{run}");
    run["steps"][0]["output"].clone()
}

/// Runs the manual `book` flow for `record` (the `count`th run) and answers the step's output.
async fn sync(app: &TestApp, record: &str, count: usize) -> Value {
    app.post(
        "/api/v1/flows/book/runs",
        &app.admin_token,
        json!({"payload": {"record": record}}),
    )
    .await
    .expect(StatusCode::CREATED);
    sync_output(app, "book", count).await
}

async fn voucher(app: &TestApp, id: &Value) -> Value {
    app.get(
        &format!("{BOOK}/vouchers/{}", id.as_str().unwrap()),
        &app.admin_token,
    )
    .await
    .expect(StatusCode::OK)
    .clone()
}

async fn vouchers(app: &TestApp) -> Vec<Value> {
    app.get(&format!("{BOOK}/vouchers?period=2026-11"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// `(account, debit, credit)` of each line.
fn amounts(voucher: &Value) -> Vec<(String, String, String)> {
    voucher["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["account"].as_str().unwrap().to_owned(),
                l["debit"].as_str().unwrap().to_owned(),
                l["credit"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn lines(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, d, c)| ((*a).to_owned(), (*d).to_owned(), (*c).to_owned()))
        .collect()
}

async fn order(app: &TestApp, amount: &str, rate: &str) -> String {
    let order = app.post(ORDERS, &app.admin_token, json!({"fields": {
        "customer": "湖州优品", "status": "已收款", "amount": amount, "rate": rate, "on": "2026-11-20"}})).await
        .expect(StatusCode::CREATED).clone();
    order["id"].as_str().unwrap().to_owned()
}

async fn send_yaml(app: &TestApp, path: &str, body: &str) -> Reply {
    let request = app
        .http
        .request(Method::POST, format!("{}{path}", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/yaml")
        .body(body.to_owned());
    Reply::from(request.send().await.unwrap()).await
}

api_tests! {
    async fn ledger_sync_posts_then_leaves_alone_then_reverses_and_rebooks_then_reverses(app) {
        import(&app, shop(rule(json!({})))).await.expect(StatusCode::CREATED);
        // The book was made from its template.
        let book = app.get(BOOK, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(book["template"], "cas", "{book}");
        let id = order(&app, "28800", "0.13").await;

        let first = sync(&app, &id, 1).await;
        assert_eq!((first["outcome"].as_str(), first["book"].as_str()), (Some("created"), Some("主账套")), "{first}");
        let posted = voucher(&app, &first["voucher_id"]).await;
        assert_eq!(posted["state"], "posted");
        assert_eq!(amounts(&posted), lines(&[("1122", "28800.00", "0.00"), ("6001", "0.00", "25486.73"), ("22210102", "0.00", "3313.27")]));
        assert_eq!(posted["lines"][0]["dimensions"]["customer"], "湖州优品");
        assert_eq!(posted["lines"][0]["summary"], "销售 湖州优品");

        // Recomputed, nothing moved: nothing new.
        let again = sync(&app, &id, 2).await;
        assert_eq!((again["outcome"].as_str(), &again["voucher_id"]), (Some("unchanged"), &first["voucher_id"]));
        // A change the lines do not read: nothing new either.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"note": "加急"}})).await.expect(StatusCode::OK);
        assert_eq!(sync(&app, &id, 3).await["outcome"], "unchanged");
        assert_eq!(vouchers(&app).await.len(), 1);

        // The amount changed: the posted voucher is reversed (on its own date, its period being open) and
        // a new one made. At 0 % the tax line's amount is zero: dropped.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"amount": "11300", "rate": "0"}})).await.expect(StatusCode::OK);
        let changed = sync(&app, &id, 4).await;
        assert_eq!(changed["outcome"], "replaced", "{changed}");
        let red = voucher(&app, &changed["reversal_id"]).await;
        assert_eq!((&red["reverses_id"], red["date"].as_str(), red["total_debit"].as_str()), (&first["voucher_id"], Some("2026-11-20"), Some("-28800.00")));
        let new = voucher(&app, &changed["voucher_id"]).await;
        assert_eq!(amounts(&new), lines(&[("1122", "11300.00", "0.00"), ("6001", "0.00", "11300.00")]));
        assert_eq!(vouchers(&app).await.len(), 3);

        // `when` turns false: a reversal only.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"status": "新建"}})).await.expect(StatusCode::OK);
        let left = sync(&app, &id, 5).await;
        assert_eq!((left["outcome"].as_str(), &left["voucher_id"]), (Some("reversed"), &Value::Null), "{left}");
        assert_eq!(voucher(&app, &left["reversal_id"]).await["reverses_id"], changed["voucher_id"]);
        assert_eq!(sync(&app, &id, 6).await["outcome"], "none");
        assert_eq!(vouchers(&app).await.len(), 4);
        let report = app.get(&format!("{BOOK}/trial-balance?period=2026-11"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((report["totals"]["period_debit"].as_str(), report["totals"]["period_credit"].as_str()), (Some("0.00"), Some("0.00")), "{report}");
        app
    }

    async fn a_reversal_whose_period_closed_is_dated_the_first_day_of_the_first_open_period(app) {
        import(&app, shop(rule(json!({})))).await.expect(StatusCode::CREATED);
        let id = order(&app, "28800", "0.13").await;
        let first = sync(&app, &id, 1).await;
        app.post(&format!("{BOOK}/close"), &app.admin_token, json!({"period": "2026-11", "force": true})).await.expect(StatusCode::OK);
        // The record moves into December with another amount: the November voucher is reversed on
        // 2026-12-01, the new one dated as the record says.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"amount": "11300", "on": "2026-12-05"}})).await.expect(StatusCode::OK);
        let changed = sync(&app, &id, 2).await;
        assert_eq!(changed["outcome"], "replaced", "{changed}");
        let red = voucher(&app, &changed["reversal_id"]).await;
        assert_eq!((&red["reverses_id"], red["date"].as_str(), red["period"].as_str()), (&first["voucher_id"], Some("2026-12-01"), Some("2026-12")));
        assert_eq!(voucher(&app, &changed["voucher_id"]).await["date"], "2026-12-05");
        // Leaving `when` with the period of the voucher open: the reversal keeps the voucher's date.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"status": "新建"}})).await.expect(StatusCode::OK);
        let left = sync(&app, &id, 3).await;
        assert_eq!(voucher(&app, &left["reversal_id"]).await["date"], "2026-12-05");
        app
    }

    async fn a_draft_is_replaced_in_place_keeping_its_number_never_reversed(app) {
        import(&app, shop(rule(json!({"post": false})))).await.expect(StatusCode::CREATED);
        // Another voucher of the same word first, so the rule's draft is number 2.
        let other = order(&app, "100", "0").await;
        assert_eq!(sync(&app, &other, 1).await["outcome"], "created");
        let id = order(&app, "28800", "0.13").await;
        let first = sync(&app, &id, 2).await;
        let draft = voucher(&app, &first["voucher_id"]).await;
        assert_eq!((draft["state"].as_str(), draft["number"].as_u64()), (Some("draft"), Some(2)));

        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"amount": "11300"}})).await.expect(StatusCode::OK);
        let changed = sync(&app, &id, 3).await;
        assert_eq!((changed["outcome"].as_str(), &changed["voucher_id"], &changed["reversal_id"]),
            (Some("draft_replaced"), &first["voucher_id"], &Value::Null), "{changed}");
        let replaced = voucher(&app, &changed["voucher_id"]).await;
        assert_eq!((replaced["state"].as_str(), replaced["number"].as_u64()), (Some("draft"), Some(2)));
        assert_eq!(amounts(&replaced), lines(&[("1122", "11300.00", "0.00"), ("6001", "0.00", "10000.00"), ("22210102", "0.00", "1300.00")]));
        assert_eq!(vouchers(&app).await.len(), 2, "no red draft");
        assert_eq!(sync(&app, &id, 4).await["outcome"], "unchanged");

        // Leaving `when`: the draft is deleted, not reversed.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"status": "新建"}})).await.expect(StatusCode::OK);
        assert_eq!(sync(&app, &id, 5).await["outcome"], "draft_deleted");
        let left: Vec<Value> = vouchers(&app).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["number"], 1);
        app
    }

    async fn sync_auto_books_records_as_they_enter_change_and_leave_the_condition(app) {
        import(&app, shop(rule(json!({"sync": "auto"})))).await.expect(StatusCode::CREATED);
        let flow = app.get("/api/v1/flows/rule:vr_s", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(flow["enabled"], true, "{flow}");
        // Not paid: the rule's flow does not run.
        let created = app.post(ORDERS, &app.admin_token, json!({"fields": {
            "customer": "湖州优品", "status": "新建", "amount": "28800", "rate": "0.13", "on": "2026-11-20"}})).await
            .expect(StatusCode::CREATED).clone();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(app.get("/api/v1/flows/rule:vr_s/runs", &app.admin_token).await.expect(StatusCode::OK)["items"], json!([]));
        // Enter: booked.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"status": "已收款"}})).await.expect(StatusCode::OK);
        let entered = sync_output(&app, "rule:vr_s", 1).await;
        assert_eq!(entered["outcome"], "created", "{entered}");
        assert_eq!(amounts(&voucher(&app, &entered["voucher_id"]).await)[2], ("22210102".to_owned(), "0.00".to_owned(), "3313.27".to_owned()));
        // Change within: a field the lines do not read → nothing; the amount → reversal and a new voucher.
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"note": "x"}})).await.expect(StatusCode::OK);
        assert_eq!(sync_output(&app, "rule:vr_s", 2).await["outcome"], "unchanged");
        app.patch(&format!("{ORDERS}/{id}"), &app.admin_token, json!({"fields": {"amount": "11300"}})).await.expect(StatusCode::OK);
        let changed = sync_output(&app, "rule:vr_s", 3).await;
        assert_eq!(changed["outcome"], "replaced");
        assert_eq!(voucher(&app, &changed["voucher_id"]).await["total_debit"], "11300.00");
        // Leave (deleting the record): reversed.
        app.delete(&format!("{ORDERS}/{id}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let left = sync_output(&app, "rule:vr_s", 4).await;
        assert_eq!(left["outcome"], "reversed", "{left}");
        assert_eq!(vouchers(&app).await.len(), 4);
        // The rule's flow is not exported in `flows:`; the rule is, and importing the export changes nothing.
        let export = app.get("/api/v1/apps/shop/export?format=json", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(export["voucher_rules"][0]["key"], "vr_s", "{export}");
        assert!(export["flows"].as_array().unwrap().iter().all(|f| f["key"] != "rule:vr_s"), "{export}");
        import(&app, export).await.expect(StatusCode::OK);
        assert_eq!(app.get("/api/v1/flows/rule:vr_s", &app.admin_token).await.expect(StatusCode::OK)["version"], 1);
        app
    }

    async fn publishing_refuses_bad_voucher_rules_with_paths_and_writes_nothing(app) {
        let mut file = shop(json!({
            "key": "vr_s", "book": {"name": "主账套", "template": "cas-small"}, "table": "orders",
            "when": "{状态} = \"已收款\"", "date": "{金额}",
            "lines": [
                {"account": "AR", "debit": "{nope}"},
                {"account": "NO_SUCH_ROLE", "credit": "{金额}"},
                {"account": "2221", "credit": "{金额}"},
                {"account": "5001", "credit": "{客户}"}
            ]
        }));
        file["flows"][0]["steps"][0]["rule"] = json!("missing");
        let reply = import(&app, file).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let found: Vec<(&str, &str)> = error["details"].as_array().unwrap().iter()
            .map(|d| (d["field"].as_str().unwrap(), d["code"].as_str().unwrap())).collect();
        for wanted in [
            ("voucher_rules[0].date", "formula_type"),
            ("voucher_rules[0].lines[0].dimensions.customer", "dimension_required"),
            ("voucher_rules[0].lines[0].debit", "formula_unknown_field"),
            ("voucher_rules[0].lines[1].account", "role_missing"),
            ("voucher_rules[0].lines[2].account", "not_leaf_account"),
            ("voucher_rules[0].lines[3].credit", "formula_type"),
            ("flows[0].steps[0].rule", "not_found"),
        ] {
            assert!(found.contains(&wanted), "{wanted:?} in {found:?}");
        }
        // Nothing written: no app, no book.
        app.get("/api/v1/apps/shop", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(BOOK, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // The shape: an unknown table, a bad word, a line with both sides, a `sync: auto` whose `when` reads the clock.
        let reply = import(&app, shop(rule(json!({"table": "nowhere"})))).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "voucher_rules[0].table", "{error}");
        let mut both = rule(json!({"word": "借"}));
        both["lines"][1]["debit"] = json!("1");
        let error = import(&app, shop(both)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["voucher_rules[0].word", "voucher_rules[0].lines[1].credit"]);
        let clock = rule(json!({"sync": "auto", "when": "AND({状态} = \"已收款\", {日期} < TODAY())"}));
        let error = import(&app, shop(clock)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str()), (Some("voucher_rules[0].when"), Some("not_allowed")), "{error}");
        app.get(BOOK, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn params_feed_rule_and_step_formulas(app) {
        let mut file = shop(rule(json!({"lines": [
            {"account": "AR", "debit": "{金额}", "dimensions": {"customer": "{客户}"}},
            {"account": "REVENUE", "credit": "ROUND({金额} / (1 + {params.vat_rate}), 2)"},
            {"account": "VAT_OUTPUT", "credit": "{金额} - ROUND({金额} / (1 + {params.vat_rate}), 2)"}
        ]})));
        file["params"] = json!({"vat_rate": 0.13, "label": "税率"});
        file["flows"].as_array_mut().unwrap().push(json!({"key": "tag", "trigger": {"manual": {"inputs": [{"key": "record", "type": "text", "required": true}]}},
            "steps": [{"key": "u", "type": "update_record", "table": "orders", "record": "{trigger.payload.record}",
                       "fields": {"note": "{params.label} & \" \" & {params.vat_rate}"}}]}));
        import(&app, file.clone()).await.expect(StatusCode::CREATED);
        // The order's own rate is 0; the rule reads the app's parameter.
        let id = order(&app, "28800", "0").await;
        let booked = sync(&app, &id, 1).await;
        assert_eq!(amounts(&voucher(&app, &booked["voucher_id"]).await),
            lines(&[("1122", "28800.00", "0.00"), ("6001", "0.00", "25486.73"), ("22210102", "0.00", "3313.27")]));
        app.post("/api/v1/flows/tag/runs", &app.admin_token, json!({"payload": {"record": id}})).await.expect(StatusCode::CREATED);
        assert_eq!(finished_runs(&app, "tag", 1).await[0]["status"], "succeeded");
        let read = app.get(&format!("{ORDERS}/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(read["fields"]["note"], "税率 0.13");
        let export = app.get("/api/v1/apps/shop/export?format=json", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(export["params"], json!({"label": "税率", "vat_rate": 0.13}), "{export}");
        // A parameter that is not a number, a text or a boolean; a formula naming one that does not exist.
        let mut bad = file.clone();
        bad["params"] = json!({"vat_rate": [0.13]});
        let error = import(&app, bad).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "params.vat_rate", "{error}");
        let mut missing = file;
        missing["params"] = json!({"label": "税率"});
        let error = import(&app, missing).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"voucher_rules[0].lines[1].credit") && fields.contains(&"flows[1].steps[0].fields.note"), "{error}");
        app
    }

    async fn the_demo_crm_books_a_won_order_of_28800_with_its_vat_split(app) {
        send_yaml(&app, "/api/v1/apps/import", CRM_TEMPLATE).await.expect(StatusCode::CREATED);
        let customer = app.post("/api/v1/apps/crm/tables/customers/records", &app.admin_token, json!({"fields": {
            "name": "湖州优品", "phone": "0572-1234567"}})).await.expect(StatusCode::CREATED).clone();
        let order = app.post("/api/v1/apps/crm/tables/orders/records", &app.admin_token, json!({"fields": {
            "customer": [customer["id"]], "title": "门店收银系统", "amount": "28800", "tax_rate": "0.13",
            "stage": "won", "won_on": "2026-11-20"}})).await.expect(StatusCode::CREATED).clone();
        let booked = sync_output(&app, "rule:crm_won_order", 1).await;
        assert_eq!(booked["outcome"], "created", "{booked}");
        let posted = voucher(&app, &booked["voucher_id"]).await;
        assert_eq!(amounts(&posted), lines(&[("1122", "28800.00", "0.00"), ("6001", "0.00", "25486.73"), ("22210102", "0.00", "3313.27")]));
        assert_eq!(posted["lines"][0]["dimensions"]["customer"], "湖州优品");
        assert!(posted["lines"][0]["summary"].as_str().unwrap().starts_with("销售 湖州优品 SO-"), "{posted}");

        // `from-record` takes the record as the records API gives it (the link as [{"id", "name"}]) and
        // its `crm_order` rule splits the VAT the same way.
        let id = order["id"].as_str().unwrap();
        let read = app.get(&format!("/api/v1/apps/crm/tables/orders/records/{id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(read["fields"]["customer"][0]["name"], "湖州优品", "{read}");
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "备查账", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let body = |version: &Value, fields: &Value, post: bool| json!({"book": "备查账", "rule": "crm_order", "post": post,
            "source": {"app": "crm", "table": "orders", "record": id, "version": version}, "fields": fields});
        let made = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, body(&read["version"], &read["fields"], false)).await.expect(StatusCode::CREATED).clone();
        assert_eq!(amounts(&made["voucher"]), lines(&[("1122", "28800.00", "0.00"), ("6001", "0.00", "25486.73"), ("22210102", "0.00", "3313.27")]));
        assert_eq!(made["voucher"]["lines"][0]["dimensions"]["customer"], "湖州优品");
        assert_eq!(made["voucher"]["state"], "draft");
        // A changed record whose voucher is still a draft: replaced in place, no red draft.
        let mut fields = read["fields"].clone();
        fields["amount"] = json!("11300.00");
        let version = json!(read["version"].as_i64().unwrap() + 1);
        let replaced = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, body(&version, &fields, false)).await.expect(StatusCode::CREATED).clone();
        assert_eq!((replaced["outcome"].as_str(), &replaced["reversal"]), (Some("replaced"), &Value::Null));
        assert_eq!((&replaced["voucher"]["id"], &replaced["voucher"]["number"]), (&made["voucher"]["id"], &made["voucher"]["number"]));
        assert_eq!(replaced["voucher"]["total_debit"], "11300.00");
        let drafts = app.get("/api/v1/ledger/books/备查账/vouchers?period=2026-11", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(drafts["items"].as_array().unwrap().len(), 1);
        app
    }
}
