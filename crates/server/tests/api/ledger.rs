//! The ledger over HTTP: books, vouchers through their states, the trial balance, vouchers from records.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_tests;

api_tests! {
    async fn a_voucher_goes_draft_reviewed_posted_and_shows_in_the_trial_balance(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        let book = app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(book["template"], "cas");
        let created = app.post("/api/v1/ledger/books/主账套/vouchers", &writer, json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "113.00", "credit": "0"},
            {"summary": "销售", "account": "6001", "debit": "0", "credit": "100.00"},
            {"summary": "销项税", "account": "22210102", "debit": "0", "credit": "13.00"}]})).await.expect(StatusCode::CREATED).clone();
        assert_eq!((created["state"].as_str(), created["number"].as_u64(), created["total_debit"].as_str()), (Some("draft"), Some(1), Some("113.00")));
        let id = created["id"].as_str().unwrap();
        let base = format!("/api/v1/ledger/books/{}/vouchers/{id}", book["id"].as_str().unwrap());
        app.call(Method::POST, &format!("{base}/post"), Some(&writer), None).await.expect_error(StatusCode::CONFLICT, "conflict");
        let reviewed = app.call(Method::POST, &format!("{base}/review"), Some(&writer), None).await.expect(StatusCode::OK).clone();
        assert_eq!(reviewed["state"], "reviewed");
        let posted = app.post(&format!("{base}/post"), &writer, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(posted["state"], "posted");
        let report = app.get("/api/v1/ledger/books/主账套/trial-balance?period=2026-10", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(report["period"], "2026-10");
        assert_eq!(report["totals"], json!({"opening_debit": "0.00", "opening_credit": "0.00", "period_debit": "113.00", "period_credit": "113.00", "closing_debit": "113.00", "closing_credit": "113.00"}));
        let ar = report["accounts"].as_array().unwrap().iter().find(|row| row["code"] == "1122").unwrap();
        assert_eq!(ar["closing_debit"], "113.00");
        let unbalanced = app.post("/api/v1/ledger/books/主账套/vouchers", &writer, json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "x", "account": "1001", "debit": "1.00", "credit": "0"}, {"summary": "x", "account": "6001", "debit": "0", "credit": "2.00"}]})).await;
        let error = unbalanced.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["message"].as_str().unwrap().contains("does not balance"), "{error}");
        let red = app.post(&format!("{base}/reverse"), &writer, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!((red["reverses_id"].as_str(), red["total_debit"].as_str()), (Some(id), Some("-113.00")));
        // The period's vouchers, a page at a time, by word and number.
        let later = app.post("/api/v1/ledger/books/主账套/vouchers", &writer, json!({"date": "2026-10-20", "word": "记", "lines": [
            {"summary": "x", "account": "1001", "debit": "5.00", "credit": "0"}, {"summary": "x", "account": "6001", "debit": "0", "credit": "5.00"}]})).await.expect(StatusCode::CREATED).clone();
        let list = "/api/v1/ledger/books/主账套/vouchers?period=2026-10&page_size=1";
        let first = app.get(list, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((first["items"].as_array().unwrap().len(), first["items"][0]["id"].as_str()), (1, Some(id)));
        let cursor = first["next_cursor"].as_str().expect("a second page follows");
        let second = app.get(&format!("{list}&cursor={cursor}"), &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((second["items"][0]["id"].as_str(), &second["next_cursor"]), (later["id"].as_str(), &json!(null)));
        app.get("/api/v1/ledger/books/主账套/vouchers?period=2026-10&page_size=0", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }

    async fn the_same_record_never_makes_two_vouchers_and_a_changed_one_is_reversed_and_rebooked(app) {
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "婚庆", "template": "cas-small", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let record = |version: i64, amount: &str| json!({"book": "婚庆", "rule": "sales_invoice", "post": true,
            "source": {"app": "crm", "table": "orders", "record": "SO-1", "version": version},
            "fields": {"date": "2026-10-08", "customer": "湖州优品", "amount": amount, "tax_rate": "0.13"}});
        let first = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, record(1, "100.00")).await.expect(StatusCode::CREATED).clone();
        assert_eq!((first["outcome"].as_str(), first["voucher"]["total_debit"].as_str()), (Some("created"), Some("113.00")));
        assert_eq!(first["voucher"]["lines"][1]["account"], "5001");
        let again = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, record(1, "100.00")).await.expect(StatusCode::OK).clone();
        assert_eq!((again["outcome"].as_str(), &again["voucher"]["id"]), (Some("unchanged"), &first["voucher"]["id"]));
        app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, record(1, "200.00")).await.expect_error(StatusCode::CONFLICT, "conflict");
        let changed = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, record(2, "200.00")).await.expect(StatusCode::CREATED).clone();
        assert_eq!(changed["outcome"], "replaced");
        assert_eq!(changed["reversal"]["reverses_id"], first["voucher"]["id"]);
        assert_eq!(changed["voucher"]["total_debit"], "226.00");
        let report = app.get("/api/v1/ledger/books/婚庆/trial-balance?period=2026-10", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(report["totals"]["period_debit"], "226.00");
        app
    }
}

/// Creates, reviews and posts a voucher; answers it.
pub(crate) async fn post_voucher(
    app: &crate::TestApp,
    book: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let created = app
        .post(
            &format!("/api/v1/ledger/books/{book}/vouchers"),
            &app.admin_token,
            body,
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    let base = format!(
        "/api/v1/ledger/books/{book}/vouchers/{}",
        created["id"].as_str().unwrap()
    );
    app.post(&format!("{base}/review"), &app.admin_token, json!({}))
        .await
        .expect(StatusCode::OK);
    app.post(&format!("{base}/post"), &app.admin_token, json!({}))
        .await
        .expect(StatusCode::OK)
        .clone()
}

fn sale(date: &str, customer: &str, net: &str, tax: &str, total: &str) -> serde_json::Value {
    json!({"date": date, "word": "记", "lines": [
        {"summary": "销售", "account": "1122", "dimensions": {"customer": customer}, "debit": total, "credit": "0"},
        {"summary": "销售", "account": "6001", "debit": "0", "credit": net},
        {"summary": "销项税", "account": "22210102", "debit": "0", "credit": tax}]})
}

api_tests! {
    async fn reports_show_balances_by_customer_the_general_ledger_the_detail_and_the_aging(app) {
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        post_voucher(&app, "主账套", sale("2026-09-15", "湖州优品", "1000.00", "130.00", "1130.00")).await;
        post_voucher(&app, "主账套", sale("2026-10-08", "湖州优品", "100.00", "13.00", "113.00")).await;
        post_voucher(&app, "主账套", sale("2026-10-09", "杭州喜铺", "200.00", "26.00", "226.00")).await;
        post_voucher(&app, "主账套", json!({"date": "2026-10-20", "word": "收", "lines": [
            {"summary": "收款", "account": "1002", "debit": "1000.00", "credit": "0"},
            {"summary": "收款", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "0", "credit": "1000.00"}]})).await;
        // A draft is not in any report.
        app.post("/api/v1/ledger/books/主账套/vouchers", &app.admin_token, sale("2026-10-21", "湖州优品", "1.00", "0.13", "1.13")).await.expect(StatusCode::CREATED);
        let reader = app.token(&["ledger:read"]).await;

        let by_customer = app.get("/api/v1/ledger/books/主账套/balances?period=2026-10&dimension=customer&account=1122", &reader).await.expect(StatusCode::OK).clone();
        assert_eq!(by_customer["dimension"], "customer");
        let rows = by_customer["accounts"].as_array().unwrap();
        let huzhou = rows.iter().find(|r| r["value"] == "湖州优品").unwrap();
        assert_eq!((&huzhou["opening_debit"], &huzhou["period_debit"], &huzhou["period_credit"], &huzhou["closing_debit"]),
            (&json!("1130.00"), &json!("113.00"), &json!("1000.00"), &json!("243.00")));
        let hangzhou = rows.iter().find(|r| r["value"] == "杭州喜铺").unwrap();
        assert_eq!(hangzhou["closing_debit"], "226.00");
        assert_eq!(by_customer["totals"]["closing_debit"], "469.00");

        let by_account = app.get("/api/v1/ledger/books/主账套/balances?period=2026-10", &reader).await.expect(StatusCode::OK).clone();
        let ar = by_account["accounts"].as_array().unwrap().iter().find(|r| r["code"] == "1122").unwrap();
        assert_eq!((ar["closing_debit"].as_str(), ar.get("value")), (Some("469.00"), None));
        assert_eq!(by_account["totals"]["closing_debit"], by_account["totals"]["closing_credit"]);

        let ledger = app.get("/api/v1/ledger/books/主账套/general-ledger?from=2026-09&to=2026-10&account=1122", &reader).await.expect(StatusCode::OK).clone();
        let account = &ledger["accounts"][0];
        assert_eq!((account["code"].as_str(), account["direction"].as_str()), (Some("1122"), Some("debit")));
        assert_eq!(account["opening"], json!({"side": "flat", "amount": "0.00"}));
        assert_eq!(account["periods"][0]["closing"], json!({"side": "debit", "amount": "1130.00"}));
        assert_eq!(account["periods"][1], json!({"period": "2026-10", "debit": "339.00", "credit": "1000.00",
            "year_debit": "1469.00", "year_credit": "1000.00", "closing": {"side": "debit", "amount": "469.00"}}));

        let detail = app.get("/api/v1/ledger/books/主账套/account-detail?account=1122&from=2026-10&to=2026-10&dimension=customer&value=湖州优品", &reader).await.expect(StatusCode::OK).clone();
        assert_eq!(detail["opening"], json!({"side": "debit", "amount": "1130.00"}));
        let entries = detail["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0]["voucher"].as_str(), entries[0]["balance"]["amount"].as_str()), (Some("记-1"), Some("1243.00")));
        assert_eq!((entries[1]["voucher"].as_str(), entries[1]["credit"].as_str(), entries[1]["balance"]["amount"].as_str()), (Some("收-1"), Some("1000.00"), Some("243.00")));
        assert_eq!((detail["total_debit"].as_str(), detail["closing"]["amount"].as_str()), (Some("113.00"), Some("243.00")));

        let aging = app.get("/api/v1/ledger/books/主账套/receivables-aging?as_of=2026-10-31&buckets=30,60", &reader).await.expect(StatusCode::OK).clone();
        assert_eq!((aging["account"].as_str(), aging["buckets"].clone()), (Some("1122"), json!(["0-30", "31-60", ">60"])));
        let huzhou = aging["customers"].as_array().unwrap().iter().find(|c| c["customer"] == "湖州优品").unwrap();
        // The receipt settled most of September's invoice: 130.00 of it is 46 days old, October's 113.00 is 23.
        assert_eq!((&huzhou["open"], &huzhou["buckets"], &huzhou["oldest_open"]), (&json!("243.00"), &json!(["113.00", "130.00", "0.00"]), &json!("2026-09-15")));
        assert_eq!(aging["totals"], json!({"open": "469.00", "buckets": ["339.00", "130.00", "0.00"], "credit_balance": "0.00"}));

        // Bad parameters say which one.
        let error = app.get("/api/v1/ledger/books/主账套/general-ledger?from=2026-13&to=2026-10", &reader).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert_eq!(error["details"][0]["field"], "from");
        app.get("/api/v1/ledger/books/主账套/account-detail?account=9999&from=2026-10&to=2026-10", &reader).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.get("/api/v1/ledger/books/主账套/account-detail?account=1122&from=2026-10&to=2026-10&dimension=customer", &reader).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/receivables-aging?as_of=2026-10-31&buckets=60,30", &reader).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app
    }

    async fn a_period_closes_only_when_every_voucher_is_posted_and_reopens(app) {
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        post_voucher(&app, "主账套", sale("2026-09-15", "湖州优品", "1000.00", "130.00", "1130.00")).await;
        let draft = app.post("/api/v1/ledger/books/主账套/vouchers", &app.admin_token, sale("2026-10-08", "湖州优品", "100.00", "13.00", "113.00")).await.expect(StatusCode::CREATED).clone();
        let refused = app.post("/api/v1/ledger/books/主账套/close", &app.admin_token, json!({"period": "2026-10"})).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert!(refused["message"].as_str().unwrap().contains("1 voucher(s) through 2026-10 are not posted yet (the first: 记-1 of 2026-10)"), "{refused}");
        // Closing September alone is fine: its only voucher is posted.
        let closed = app.post("/api/v1/ledger/books/主账套/close", &app.admin_token, json!({"period": "2026-09", "force": true})).await.expect(StatusCode::OK).clone();
        assert_eq!(closed["closed_through"], "2026-09");
        let error = app.post("/api/v1/ledger/books/主账套/vouchers", &app.admin_token, sale("2026-09-30", "湖州优品", "1.00", "0.13", "1.13")).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert!(error["message"].as_str().unwrap().contains("period 2026-09 of book 主账套 is closed"), "{error}");
        let base = format!("/api/v1/ledger/books/主账套/vouchers/{}", draft["id"].as_str().unwrap());
        app.post(&format!("{base}/review"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        app.post(&format!("{base}/post"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let closed = app.post("/api/v1/ledger/books/主账套/close", &app.admin_token, json!({"period": "2026-10", "force": true})).await.expect(StatusCode::OK).clone();
        assert_eq!(closed["closed_through"], "2026-10");
        app.post("/api/v1/ledger/books/主账套/close", &app.admin_token, json!({"period": "2026-08"})).await.expect_error(StatusCode::CONFLICT, "conflict");
        // A posted voucher of a closed period is reversed in the current, open period, dated by the
        // organization's calendar: 2026-11-25 21:00 UTC is already the 26th in Shanghai.
        app.clock.advance(chrono::TimeDelta::hours(12));
        let red = app.post(&format!("{base}/reverse"), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!((red["date"].as_str(), red["state"].as_str()), (Some("2026-11-26"), Some("posted")));

        app.post("/api/v1/ledger/books/主账套/reopen", &app.admin_token, json!({"period": "2026-11"})).await.expect_error(StatusCode::CONFLICT, "conflict");
        let reopened = app.post("/api/v1/ledger/books/主账套/reopen", &app.admin_token, json!({"period": "2026-10"})).await.expect(StatusCode::OK).clone();
        assert_eq!(reopened["closed_through"], "2026-09");
        app.post("/api/v1/ledger/books/主账套/vouchers", &app.admin_token, sale("2026-10-30", "湖州优品", "1.00", "0.13", "1.13")).await.expect(StatusCode::CREATED);
        app.post("/api/v1/ledger/books/主账套/reopen", &app.admin_token, json!({"period": "bad"})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let reader = app.token(&["ledger:read"]).await;
        app.post("/api/v1/ledger/books/主账套/close", &reader, json!({"period": "2026-10"})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app
    }
}

api_tests! {
    async fn deleting_a_draft_closes_up_the_numbers_of_its_period_and_word(app) {
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let create = |day: &str| sale(&format!("2026-10-{day}"), "湖州优品", "100.00", "13.00", "113.00");
        let mut ids = Vec::new();
        for day in ["01", "02", "03", "04"] {
            let made = app.post("/api/v1/ledger/books/主账套/vouchers", &app.admin_token, create(day)).await.expect(StatusCode::CREATED).clone();
            ids.push(made["id"].as_str().unwrap().to_owned());
        }
        let url = |id: &str| format!("/api/v1/ledger/books/主账套/vouchers/{id}");
        // 记-4 reviewed: reviewed vouchers close up too.
        app.post(&format!("{}/review", url(&ids[3])), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let deleted = app.call(Method::DELETE, &url(&ids[1]), Some(&app.admin_token), None).await.expect(StatusCode::OK).clone();
        assert_eq!(deleted["id"].as_str(), Some(ids[1].as_str()));
        assert_eq!(deleted["renumbered"], json!([
            {"id": ids[2], "number_before": 3, "number": 2},
            {"id": ids[3], "number_before": 4, "number": 3}]));
        app.get(&url(&ids[1]), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let numbers = |list: &serde_json::Value| list["items"].as_array().unwrap().iter().map(|v| (v["id"].as_str().unwrap().to_owned(), v["number"].as_u64().unwrap())).collect::<Vec<_>>();
        let list = app.get("/api/v1/ledger/books/主账套/vouchers?period=2026-10", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(numbers(&list), vec![(ids[0].clone(), 1), (ids[2].clone(), 2), (ids[3].clone(), 3)]);
        // The next voucher takes the next free number: no gap, no duplicate.
        let next = app.post("/api/v1/ledger/books/主账套/vouchers", &app.admin_token, create("05")).await.expect(StatusCode::CREATED).clone();
        assert_eq!(next["number"], 4);
        // Only drafts are deleted; a draft before a posted voucher of its word cannot be (the posted number is fixed).
        app.call(Method::DELETE, &url(&ids[3]), Some(&app.admin_token), None).await.expect_error(StatusCode::CONFLICT, "conflict");
        let posted = app.post(&format!("{}/review", url(next["id"].as_str().unwrap())), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        app.post(&format!("{}/post", url(posted["id"].as_str().unwrap())), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let error = app.call(Method::DELETE, &url(&ids[0]), Some(&app.admin_token), None).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert!(error["message"].as_str().unwrap().contains("记-4"), "{error}");
        let list = app.get("/api/v1/ledger/books/主账套/vouchers?period=2026-10", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(list["items"].as_array().unwrap().len(), 4, "a refused delete changes nothing");
        // The deletion and the renumbering are audited.
        let audit = app.get("/api/v1/audit?target_type=voucher", &app.admin_token).await.expect(StatusCode::OK).clone();
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"voucher.deleted") && actions.iter().filter(|a| **a == "voucher.updated").count() == 2, "{actions:?}");
        app
    }

    async fn the_account_detail_pages_by_cursor_with_running_balances_and_counts_the_openings(app) {
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        app.call(Method::PUT, "/api/v1/ledger/books/主账套/opening-balances", Some(&app.admin_token), Some(json!({"period": "2026-10", "balances": [
            {"account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "1000.00", "credit": "0"},
            {"account": "4001", "debit": "0", "credit": "1000.00"}]}))).await.expect(StatusCode::OK);
        for day in 1..=5 {
            post_voucher(&app, "主账套", sale(&format!("2026-10-{day:02}"), "湖州优品", "100.00", "13.00", "113.00")).await;
        }
        let base = "/api/v1/ledger/books/主账套/account-detail?account=1122&from=2026-10&to=2026-10";
        let whole = app.get(base, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!((whole["entries"].as_array().unwrap().len(), &whole["next_cursor"]), (5, &json!(null)));
        assert_eq!(whole["opening"], json!({"side": "debit", "amount": "1000.00"}));
        assert_eq!(whole["closing"], json!({"side": "debit", "amount": "1565.00"}));
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor { Some(c) => format!("{base}&page_size=2&cursor={c}"), None => format!("{base}&page_size=2") };
            let page = app.get(&url, &app.admin_token).await.expect(StatusCode::OK).clone();
            assert_eq!((&page["opening"], &page["closing"], &page["total_debit"]), (&whole["opening"], &whole["closing"], &whole["total_debit"]), "every page shows the range's totals");
            paged.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() { Some(next) => cursor = Some(next.to_owned()), None => break }
        }
        assert_eq!(&paged, whole["entries"].as_array().unwrap(), "the pages together are the whole detail, balances included");
        app.get(&format!("{base}&page_size=0"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get(&format!("{base}&cursor=bm9wZQ"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }
}

/// Two nodes on one database: a node keeps each book's chart, and serves it while the book holds as many
/// accounts. An account added through the other node is seen by the next voucher on this one (the count
/// differs), not refused as unknown.
async fn a_node_sees_an_account_another_node_added(backend: tenon_store::testing::TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let node_a = crate::TestApp::spawn(&database, config.clone()).await;
    let node_b = crate::TestApp::spawn(&database, config).await;
    let token = &node_a.admin_token;
    node_a
        .post(
            "/api/v1/ledger/books",
            token,
            json!({"name": "主账套", "template": "cas", "base_currency": "CNY"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let voucher = |account: &str| {
        json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "x", "account": account, "debit": "5.00", "credit": "0"},
            {"summary": "x", "account": "6001", "debit": "0", "credit": "5.00"}]})
    };
    // Node A reads (and keeps) the chart.
    node_a
        .post(
            "/api/v1/ledger/books/主账套/vouchers",
            token,
            voucher("1001"),
        )
        .await
        .expect(StatusCode::CREATED);
    // Node B adds a bank sub-account; node A has not heard of it.
    node_b
        .post(
            "/api/v1/ledger/books/主账套/accounts",
            token,
            json!({"code": "100201", "name": "工行", "kind": "asset", "direction": "debit"}),
        )
        .await
        .expect(StatusCode::CREATED);
    node_a
        .post(
            "/api/v1/ledger/books/主账套/vouchers",
            token,
            voucher("100201"),
        )
        .await
        .expect(StatusCode::CREATED);
    // Its parent now has a sub-account, so a line on the parent is refused on node A too.
    node_a
        .post(
            "/api/v1/ledger/books/主账套/vouchers",
            token,
            voucher("1002"),
        )
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    node_b.stop().await;
    node_a.stop().await;
    database.cleanup().await;
}

mod a_node_sees_an_account_another_node_added {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::a_node_sees_an_account_another_node_added(TestBackend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::a_node_sees_an_account_another_node_added(TestBackend::Postgres).await;
    }
}
