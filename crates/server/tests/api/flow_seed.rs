//! The seed stories of connection flows (issue #18, "Proof": "Seed: …"), over HTTP on both backends. The
//! issue names them (T1, H6, P2, VT-1, VW-3 + VW-4, F1, T3; T2 is `flow_steps`') without telling them;
//! the people are the article's (`/work/shared/seed/`), and docs/flows.md ("The seed stories") says how
//! each is read here:
//!
//! - **T1** (黄平炜's tea shop): the short-video shop pushes each paid order to a webhook flow that upserts
//!   it by the platform's order number; DY-1001 comes twice (a retry with the same `Idempotency-Key`, then
//!   a re-push with a new key): one order, one voucher.
//! - **T3**: at 09:00 (Shanghai) each owner gets one inbox message listing the follow-ups due — one per
//!   owner, however many follow-ups; an owner with none due gets nothing.
//! - **VT-1**: paid orders VT-1 and VT-2 are booked by a `sync: auto` voucher rule; VT-1 is refunded:
//!   VT-1's voucher is reversed and VT-2's is left alone.
//! - **H6** (同心圆's free housing): a family's booking of house H6 for a night is sent twice; a flow keeps
//!   one room night per (house, night) by `upsert` on the table's `unique_together` group: one room night.
//! - **P2** (阮永华's phone shop): sale P2 is booked when it is paid; replaying that run posts nothing.
//! - **VW-3 + VW-4** (湖州优品's weddings): the florist's and the venue's bills for one wedding are booked to
//!   主营业务成本 with the wedding as their project: one cost of 6,800.00 for that wedding.
//! - **F1** (皇华中学's duty week, 值周): on Friday at 16:00 the duty flow tells each of the 15 head teachers
//!   about their class: 15 notices, one each.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approval_reminders::inbox;
use crate::approval_seed::members;
use crate::approvals::member_token;
use crate::flow_steps::{import, records, runs};
use crate::flow_vouchers::tenon_vouchers;
use crate::ledger_rules::finished_runs;
use crate::{Reply, TestApp, api_tests};

const TEA_ORDERS: &str = "/api/v1/apps/tea/tables/orders/records";
const TEA_FOLLOWUPS: &str = "/api/v1/apps/tea/tables/followups/records";
const BOOK: &str = "/api/v1/ledger/books/主账套";

/// 黄平炜's tea shop: orders (unique by the platform's order number), follow-ups, and a `sync: auto`
/// voucher rule booking paid orders (VAT 13 % included in the amount).
fn tea(flows: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "tea", "name": "茶叶私域",
        "tables": [
            {"key": "orders", "name": "订单", "fields": [
                {"key": "order_no", "name": "订单号", "type": "text", "unique": true},
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [
                    {"name": "待付款"}, {"name": "已收款"}, {"name": "已退款"}]}},
                {"key": "paid_on", "name": "付款日期", "type": "date"}
            ]},
            {"key": "followups", "name": "回访", "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "owner", "name": "负责人", "type": "member"},
                {"key": "due", "name": "到期", "type": "date"}
            ]}
        ],
        "voucher_rules": [{
            "key": "vr_tea", "name": "茶叶销售", "book": {"name": "主账套", "template": "cas"}, "table": "orders",
            "when": "{状态} = \"已收款\"", "date": "{付款日期}", "word": "记", "summary": "\"销售 \" & {订单号}",
            "sync": "auto",
            "lines": [
                {"account": "BANK", "debit": "{金额}"},
                {"account": "REVENUE", "credit": "ROUND({金额} / 1.13, 2)"},
                {"account": "VAT_OUTPUT", "credit": "{金额} - ROUND({金额} / 1.13, 2)"}
            ]
        }],
        "flows": flows
    })
}

/// Run `id` with its steps; it must have succeeded.
async fn succeeded(app: &TestApp, id: &Value) -> Value {
    let run = app
        .get(
            &format!("/api/v1/flow-runs/{}", id.as_str().unwrap()),
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}

/// The output of the `ledger_sync` step (the first) of each run of `flow`, oldest first, once there are
/// `count` ended runs.
async fn syncs(app: &TestApp, flow: &str, count: usize) -> Vec<Value> {
    let mut outputs = Vec::new();
    for run in finished_runs(app, flow, count).await.iter().rev() {
        outputs.push(succeeded(app, &run["id"]).await["steps"][0]["output"].clone());
    }
    outputs
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

async fn post_hook(app: &TestApp, url: &str, key: &str, body: &Value) -> Reply {
    let request = app
        .http
        .post(format!("{}{url}", app.base))
        .header("idempotency-key", key)
        .json(body);
    Reply::from(request.send().await.unwrap()).await
}

/// Moves the test clock to `at` and waits (bounded) for the one run it starts of schedule `flow`.
async fn scheduled_run(app: &TestApp, flow: &str, at: &str) -> Value {
    app.clock.set(at.parse().unwrap());
    let found = finished_runs(app, flow, 1).await;
    succeeded(app, &found[0]["id"]).await
}

api_tests! {
    async fn t1_an_order_pushed_twice_is_one_order_and_one_voucher(app) {
        let flows = json!([{
            "key": "t1_douyin",
            "trigger": {"webhook": {"inputs": [
                {"key": "order_no", "type": "text", "required": true},
                {"key": "customer", "type": "text", "required": true},
                {"key": "amount", "type": "number", "required": true},
                {"key": "paid_on", "type": "date", "required": true}]}},
            "steps": [{"key": "keep", "type": "upsert", "table": "orders", "on": ["订单号"], "fields": {
                "订单号": "{trigger.payload.order_no}", "客户": "{trigger.payload.customer}",
                "金额": "{trigger.payload.amount}", "状态": "\"已收款\"", "付款日期": "{trigger.payload.paid_on}"}}]
        }]);
        let imported = import(&app, tea(flows)).await.expect(StatusCode::CREATED).clone();
        let url = imported["flows"].as_array().unwrap().iter().find(|f| f["key"] == "t1_douyin").unwrap()["hook_url"].as_str().unwrap().to_owned();
        let order = json!({"order_no": "DY-1001", "customer": "武夷山 王女士", "amount": "2260.00", "paid_on": "2026-11-20"});
        // The platform's retry of one push (same key) is the same run; its re-push (a new key) a second run.
        let first = post_hook(&app, &url, "douyin-DY-1001-a", &order).await.expect(StatusCode::ACCEPTED).clone();
        let retried = post_hook(&app, &url, "douyin-DY-1001-a", &order).await.expect(StatusCode::ACCEPTED).clone();
        assert_eq!(retried["run_id"], first["run_id"]);
        let pushes = finished_runs(&app, "t1_douyin", 1).await;
        assert_eq!(succeeded(&app, &pushes[0]["id"]).await["steps"][0]["output"]["created"], true);
        post_hook(&app, &url, "douyin-DY-1001-b", &order).await.expect(StatusCode::ACCEPTED);
        let pushes = finished_runs(&app, "t1_douyin", 2).await;
        assert_eq!(succeeded(&app, &pushes[0]["id"]).await["steps"][0]["output"]["created"], false);
        // One order, as pushed; the voucher rule ran once for it (entering 已收款) and booked it once.
        let orders = records(&app, TEA_ORDERS).await;
        assert_eq!(orders.len(), 1, "{orders:?}");
        assert_eq!((orders[0]["fields"]["order_no"].as_str(), orders[0]["fields"]["amount"].as_str()), (Some("DY-1001"), Some("2260.00")));
        let booked = syncs(&app, "rule:vr_tea", 1).await;
        assert_eq!(booked[0]["outcome"], "created", "{booked:?}");
        let all = tenon_vouchers(&app).await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(voucher(&app, &booked[0]["voucher_id"]).await["total_debit"], "2260.00");
        app
    }

    async fn t3_each_owner_gets_one_message_listing_the_followups_due(app) {
        let ids = members(&app, &["销售李", "销售张", "销售王"]).await;
        let flows = json!([{
            "key": "t3_digest", "trigger": {"schedule": {"cron": "0 9 * * *", "zone": "Asia/Shanghai"}},
            "steps": [
                {"key": "due", "type": "find", "table": "followups", "where": "{到期} <= TODAY()", "limit": 1000},
                {"key": "each", "type": "for_each", "items": "{steps.due.output.ids}", "table": "followups", "steps": [
                    {"key": "tell", "type": "notify", "channel": "inbox", "to": {"members": "{item.owner}"},
                     "collect": "per_recipient", "title": "今日回访", "text": "{{ item.fields.customer }}"}]}
            ]
        }]);
        import(&app, tea(flows)).await.expect(StatusCode::CREATED);
        let followups = [("茶客甲", 0, "2026-11-26"), ("茶客乙", 1, "2026-11-26"), ("茶客丙", 0, "2026-11-25"), ("茶客丁", 2, "2026-11-30")];
        let bodies: Vec<Value> = followups.iter()
            .map(|(customer, owner, due)| json!({"fields": {"customer": customer, "owner": [ids[*owner]], "due": due}}))
            .collect();
        app.post(TEA_FOLLOWUPS, &app.admin_token, json!({"records": bodies})).await.expect(StatusCode::CREATED);
        // 09:00 of 26 November in Shanghai: three follow-ups are due, two of them 李's.
        let run = scheduled_run(&app, "t3_digest", "2026-11-26T01:00:30Z").await;
        let each = run["steps"].as_array().unwrap().iter().find(|s| s["key"] == "each").unwrap();
        assert_eq!(each["output"]["count"], 3, "{run}");
        let li = inbox(&app, &member_token(&app, &ids[0]).await).await;
        assert_eq!(li.len(), 1, "{li:?}");
        assert_eq!(li[0]["title"], "今日回访");
        let mut lines: Vec<&str> = li[0]["text"].as_str().unwrap().lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["茶客丙", "茶客甲"]);
        let zhang = inbox(&app, &member_token(&app, &ids[1]).await).await;
        assert_eq!(zhang.iter().map(|n| n["text"].as_str().unwrap()).collect::<Vec<_>>(), ["茶客乙"]);
        assert!(inbox(&app, &member_token(&app, &ids[2]).await).await.is_empty());
        app
    }

    async fn vt1_a_refund_reverses_vt1s_voucher_only(app) {
        import(&app, tea(json!([]))).await.expect(StatusCode::CREATED);
        let mut ids = Vec::new();
        for (no, amount) in [("VT-1", "1130.00"), ("VT-2", "565.00")] {
            let order = app.post(TEA_ORDERS, &app.admin_token, json!({"fields": {
                "order_no": no, "customer": "茶客", "amount": amount, "status": "已收款", "paid_on": "2026-11-20"}}))
                .await.expect(StatusCode::CREATED).clone();
            ids.push(order["id"].as_str().unwrap().to_owned());
        }
        let booked = syncs(&app, "rule:vr_tea", 2).await;
        let mut by_order: Vec<(String, String)> = Vec::new();
        for output in &booked {
            assert_eq!(output["outcome"], "created", "{output}");
            let made = voucher(&app, &output["voucher_id"]).await;
            by_order.push((made["lines"][0]["summary"].as_str().unwrap().to_owned(), made["id"].as_str().unwrap().to_owned()));
        }
        by_order.sort();
        let (vt1, vt2) = (by_order[0].1.clone(), by_order[1].1.clone());
        assert_eq!((by_order[0].0.as_str(), by_order[1].0.as_str()), ("销售 VT-1", "销售 VT-2"));
        // VT-1 is refunded: it leaves the rule's condition, and its voucher alone is reversed.
        app.patch(&format!("{TEA_ORDERS}/{}", ids[0]), &app.admin_token, json!({"fields": {"status": "已退款"}}))
            .await.expect(StatusCode::OK);
        let refunded = syncs(&app, "rule:vr_tea", 3).await;
        assert_eq!((refunded[2]["outcome"].as_str(), &refunded[2]["voucher_id"]), (Some("reversed"), &Value::Null), "{refunded:?}");
        let red = voucher(&app, &refunded[2]["reversal_id"]).await;
        assert_eq!((red["reverses_id"].as_str(), red["total_debit"].as_str()), (Some(vt1.as_str()), Some("-1130.00")));
        let all = tenon_vouchers(&app).await;
        assert_eq!(all.len(), 3, "{all:?}");
        let reversed: Vec<&str> = all.iter().filter_map(|v| v["reverses_id"].as_str()).collect();
        assert_eq!(reversed, [vt1.as_str()]);
        assert!(all.iter().any(|v| v["id"] == vt2.as_str()));
        app
    }

    async fn h6_a_booking_sent_twice_is_one_room_night(app) {
        let file = json!({
            "format": "tenon.app/v1", "key": "housing", "name": "同心圆住宿",
            "tables": [
                {"key": "bookings", "name": "预订", "fields": [
                    {"key": "guest", "name": "入住人", "type": "text"},
                    {"key": "house", "name": "房屋", "type": "text"},
                    {"key": "night", "name": "入住日期", "type": "date"}]},
                {"key": "room_nights", "name": "房晚", "unique_together": [["house", "night"]], "fields": [
                    {"key": "house", "name": "房屋", "type": "text"},
                    {"key": "night", "name": "日期", "type": "date"},
                    {"key": "guest", "name": "入住人", "type": "text"}]}
            ],
            "flows": [{"key": "h_nights", "trigger": {"record": "bookings", "on": "created"}, "steps": [
                {"key": "night", "type": "upsert", "table": "room_nights", "on": ["house", "night"], "fields": {
                    "house": "{trigger.fields.house}", "night": "{trigger.fields.night}", "guest": "{trigger.fields.guest}"}}]}]
        });
        import(&app, file).await.expect(StatusCode::CREATED);
        const BOOKINGS: &str = "/api/v1/apps/housing/tables/bookings/records";
        let booking = json!({"fields": {"guest": "患者家属 刘", "house": "H6", "night": "2026-12-10"}});
        // The family's form is sent twice (a double tap), then the next night once.
        for body in [&booking, &booking, &json!({"fields": {"guest": "患者家属 刘", "house": "H6", "night": "2026-12-11"}})] {
            app.post(BOOKINGS, &app.admin_token, body.clone()).await.expect(StatusCode::CREATED);
        }
        let made: Vec<bool> = {
            let mut made = Vec::new();
            for run in finished_runs(&app, "h_nights", 3).await.iter().rev() {
                made.push(succeeded(&app, &run["id"]).await["steps"][0]["output"]["created"].as_bool().unwrap());
            }
            made
        };
        assert_eq!(made.iter().filter(|created| **created).count(), 2, "{made:?}");
        let mut nights: Vec<(String, String)> = records(&app, "/api/v1/apps/housing/tables/room_nights/records").await.iter()
            .map(|r| (r["fields"]["house"].as_str().unwrap().to_owned(), r["fields"]["night"].as_str().unwrap().to_owned()))
            .collect();
        nights.sort();
        assert_eq!(nights, [("H6".to_owned(), "2026-12-10".to_owned()), ("H6".to_owned(), "2026-12-11".to_owned())]);
        app
    }

    async fn p2_a_replayed_booking_posts_nothing(app) {
        let file = json!({
            "format": "tenon.app/v1", "key": "phones", "name": "手机销售",
            "tables": [{"key": "sales", "name": "销售单", "fields": [
                {"key": "sale_no", "name": "单号", "type": "text"},
                {"key": "model", "name": "机型", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "已收款"}]}},
                {"key": "on", "name": "日期", "type": "date"}]}],
            "voucher_rules": [{
                "key": "vr_p", "name": "手机销售", "book": {"name": "主账套", "template": "cas"}, "table": "sales",
                "when": "{状态} = \"已收款\"", "date": "{日期}", "word": "记", "summary": "\"销售 \" & {单号}",
                "lines": [
                    {"account": "CASH", "debit": "{金额}"},
                    {"account": "REVENUE", "credit": "ROUND({金额} / 1.13, 2)"},
                    {"account": "VAT_OUTPUT", "credit": "{金额} - ROUND({金额} / 1.13, 2)"}]
            }],
            "flows": [{"key": "p_book", "trigger": {"record": "sales", "on": "enter", "when": "{状态} = \"已收款\""}, "steps": [
                {"key": "sync", "type": "ledger_sync", "rule": "vr_p", "record": "{trigger.record_id}"}]}]
        });
        import(&app, file).await.expect(StatusCode::CREATED);
        const SALES: &str = "/api/v1/apps/phones/tables/sales/records";
        let sale = app.post(SALES, &app.admin_token, json!({"fields": {
            "sale_no": "P2", "model": "Mate 60", "amount": "5649.00", "status": "新建", "on": "2026-11-20"}}))
            .await.expect(StatusCode::CREATED).clone();
        let id = sale["id"].as_str().unwrap();
        assert!(runs(&app, "p_book").await.is_empty());
        app.patch(&format!("{SALES}/{id}"), &app.admin_token, json!({"fields": {"status": "已收款"}})).await.expect(StatusCode::OK);
        let booked = syncs(&app, "p_book", 1).await;
        assert_eq!(booked[0]["outcome"], "created", "{booked:?}");
        let first_run = finished_runs(&app, "p_book", 1).await[0]["id"].clone();
        // The bookkeeper replays the run: a new run with the same trigger, whose sync finds the voucher
        // as the record would make it and posts nothing.
        let replayed = app.post(&format!("/api/v1/flow-runs/{}/replay", first_run.as_str().unwrap()), &app.admin_token, json!({}))
            .await.expect(StatusCode::CREATED).clone();
        assert_eq!(replayed["trigger"]["replay_of"], first_run);
        let both = syncs(&app, "p_book", 2).await;
        assert_eq!((both[1]["outcome"].as_str(), &both[1]["voucher_id"]), (Some("unchanged"), &booked[0]["voucher_id"]), "{both:?}");
        let all = tenon_vouchers(&app).await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0]["total_debit"], "5649.00");
        app
    }

    async fn vw3_and_vw4_are_one_cost_of_their_wedding(app) {
        let file = json!({
            "format": "tenon.app/v1", "key": "wedding", "name": "婚庆成本",
            "tables": [{"key": "bills", "name": "供应商账单", "fields": [
                {"key": "bill_no", "name": "单号", "type": "text"},
                {"key": "wedding", "name": "婚礼", "type": "text"},
                {"key": "supplier", "name": "供应商", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "on", "name": "日期", "type": "date"}]}],
            "voucher_rules": [{
                "key": "vr_cost", "name": "婚礼成本", "book": {"name": "主账套", "template": "cas"}, "table": "bills",
                "when": "{金额} > 0", "date": "{日期}", "word": "记", "summary": "{单号} & \" \" & {婚礼}", "sync": "auto",
                "lines": [
                    {"account": "COST_OF_SALES", "debit": "{金额}", "dimensions": {"project": "{婚礼}"}},
                    {"account": "AP", "credit": "{金额}", "dimensions": {"supplier": "{供应商}"}}]
            }]
        });
        import(&app, file).await.expect(StatusCode::CREATED);
        const BILLS: &str = "/api/v1/apps/wedding/tables/bills/records";
        let bills = [("VW-3", "婚礼-118 周/陈", "湖州花艺", "2300.00"), ("VW-4", "婚礼-118 周/陈", "南太湖酒店", "4500.00"), ("VW-5", "婚礼-119 李/王", "湖州花艺", "1000.00")];
        for (no, wedding, supplier, amount) in bills {
            app.post(BILLS, &app.admin_token, json!({"fields": {
                "bill_no": no, "wedding": wedding, "supplier": supplier, "amount": amount, "on": "2026-11-21"}}))
                .await.expect(StatusCode::CREATED);
        }
        for output in syncs(&app, "rule:vr_cost", 3).await {
            assert_eq!(output["outcome"], "created", "{output}");
        }
        // 主营业务成本 by project: VW-3 and VW-4 are one cost of wedding 118; wedding 119 has its own.
        let by_project = app.get(&format!("{BOOK}/balances?period=2026-11&dimension=project&account=6401"), &app.admin_token)
            .await.expect(StatusCode::OK).clone();
        let rows: Vec<(&str, &str, &str)> = by_project["accounts"].as_array().unwrap().iter()
            .map(|r| (r["code"].as_str().unwrap(), r["value"].as_str().unwrap(), r["period_debit"].as_str().unwrap()))
            .collect();
        assert_eq!(rows, [("6401", "婚礼-118 周/陈", "6800.00"), ("6401", "婚礼-119 李/王", "1000.00")], "{by_project}");
        // The suppliers are owed their own bills: the florist both of theirs.
        let by_supplier = app.get(&format!("{BOOK}/balances?period=2026-11&dimension=supplier&account=2202"), &app.admin_token)
            .await.expect(StatusCode::OK).clone();
        let mut owed: Vec<(&str, &str)> = by_supplier["accounts"].as_array().unwrap().iter()
            .map(|r| (r["value"].as_str().unwrap(), r["closing_credit"].as_str().unwrap()))
            .collect();
        owed.sort_unstable();
        assert_eq!(owed, [("南太湖酒店", "4500.00"), ("湖州花艺", "3300.00")], "{by_supplier}");
        app
    }

    async fn f1_the_duty_week_sends_the_15_head_teachers_one_notice_each(app) {
        let names: Vec<String> = (1..=15).map(|n| format!("班主任{n:02}")).collect();
        let teachers = members(&app, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let file = json!({
            "format": "tenon.app/v1", "key": "duty", "name": "值周考勤",
            "tables": [{"key": "classes", "name": "班级", "fields": [
                {"key": "name", "name": "班级", "type": "text"},
                {"key": "head_teacher", "name": "班主任", "type": "member"}]}],
            "flows": [{"key": "f1_duty", "trigger": {"schedule": {"cron": "0 16 * * 5", "zone": "Asia/Shanghai"}}, "steps": [
                {"key": "all", "type": "find", "table": "classes", "limit": 1000},
                {"key": "each", "type": "for_each", "items": "{steps.all.output.ids}", "table": "classes", "steps": [
                    {"key": "tell", "type": "notify", "channel": "inbox", "to": {"members": "{item.head_teacher}"},
                     "title": "值周考勤", "text": "{{ item.fields.name }}：本周值周考勤已出，请查看扣分"}]}]}]
        });
        import(&app, file).await.expect(StatusCode::CREATED);
        let classes: Vec<Value> = teachers.iter().enumerate()
            .map(|(n, teacher)| json!({"fields": {"name": format!("初{}（{}）班", 1 + n / 5, 1 + n % 5), "head_teacher": [teacher]}}))
            .collect();
        app.post("/api/v1/apps/duty/tables/classes/records", &app.admin_token, json!({"records": classes})).await.expect(StatusCode::CREATED);
        // Friday 27 November 2026, 16:00 in Shanghai.
        let run = scheduled_run(&app, "f1_duty", "2026-11-27T08:00:30Z").await;
        let each = run["steps"].as_array().unwrap().iter().find(|s| s["key"] == "each").unwrap();
        assert_eq!(each["output"]["count"], 15, "{run}");
        for (n, teacher) in teachers.iter().enumerate() {
            let messages = inbox(&app, &member_token(&app, teacher).await).await;
            let texts: Vec<&str> = messages.iter().map(|m| m["text"].as_str().unwrap()).collect();
            assert_eq!(texts, [format!("初{}（{}）班：本周值周考勤已出，请查看扣分", 1 + n / 5, 1 + n % 5)], "teacher {n}");
        }
        app
    }
}
