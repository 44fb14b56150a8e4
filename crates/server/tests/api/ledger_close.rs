//! Opening balances (期初余额) and period end (期末结账) over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;

const OPENINGS: &str = "/api/v1/ledger/books/主账套/opening-balances";

fn balanced_openings() -> Value {
    json!({"period": "2026-01", "balances": [
        {"account": "1002", "debit": "50000.00", "credit": "0"},
        {"account": "1122", "dimensions": {"customer": "C001"}, "debit": "10000.00", "credit": "0"},
        {"account": "1122", "dimensions": {"customer": "C002"}, "debit": "2000.00", "credit": "0"},
        {"account": "4001", "debit": "0", "credit": "62000.00"}]})
}

api_tests! {
    async fn opening_balances_are_refused_unless_they_balance_and_open_the_trial_balance(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let none = app.get(OPENINGS, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((none["period"].clone(), none["opening_balanced"].clone(), none["balances"].clone()), (json!(null), json!(true), json!([])));

        // Debits 62,000.00 against credits 61,000.00: refused, naming the accounts of each side, nothing written.
        let mut short = balanced_openings();
        short["balances"][3]["credit"] = json!("61000.00");
        let before = app.audit_len().await;
        let refused = app.call(Method::PUT, OPENINGS, Some(&writer), Some(short)).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let detail = &error["details"][0];
        assert_eq!((detail["field"].as_str(), detail["code"].as_str()), (Some("balances"), Some("openings_unbalanced")), "{error}");
        assert_eq!(detail["params"], json!({"debit": "62000.00", "credit": "61000.00", "difference": "1000.00",
            "debit_accounts": ["1002", "1122"], "credit_accounts": ["4001"]}));
        assert_eq!(app.audit_len().await, before);
        assert_eq!(app.get(OPENINGS, &writer).await.expect(StatusCode::OK)["period"], json!(null));

        // An entry without the dimension its account requires, and a parent account: refused where they are.
        let mut wrong = balanced_openings();
        wrong["balances"][1]["dimensions"] = json!({});
        wrong["balances"][0]["account"] = json!("2221");
        let error = app.call(Method::PUT, OPENINGS, Some(&writer), Some(wrong)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let found: Vec<(String, String)> = error["details"].as_array().unwrap().iter()
            .map(|d| (d["field"].as_str().unwrap().to_owned(), d["code"].as_str().unwrap().to_owned())).collect();
        assert!(found.contains(&("balances[1].dimensions.customer".to_owned(), "dimension_required".to_owned())), "{error}");
        assert!(found.contains(&("balances[0].account".to_owned(), "not_leaf_account".to_owned())), "{error}");

        // A balanced set is kept as given.
        let kept = app.call(Method::PUT, OPENINGS, Some(&writer), Some(balanced_openings())).await.expect(StatusCode::OK).clone();
        assert_eq!((kept["period"].as_str(), kept["total_debit"].as_str(), kept["total_credit"].as_str(), kept["difference"].as_str()),
            (Some("2026-01"), Some("62000.00"), Some("62000.00"), Some("0.00")));
        assert_eq!(app.audit_len().await, before + 1);
        let read = app.get(OPENINGS, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(read["balances"].as_array().unwrap().len(), 4);
        assert_eq!(read["balances"][1], json!({"account": "1122", "dimensions": {"customer": "C001"}, "debit": "10000.00", "credit": "0.00",
            "currency": null, "original_amount": null, "quantity": null}));
        let book = app.get("/api/v1/ledger/books/主账套", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((book["opening_period"].as_str(), book["opening_balanced"].as_bool(), book["opening_difference"].as_str()),
            (Some("2026-01"), Some(true), Some("0.00")));

        // The trial balance's opening columns: openings + posted movements before the period.
        let january = app.get("/api/v1/ledger/books/主账套/trial-balance?period=2026-01", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(january["totals"], json!({"opening_debit": "62000.00", "opening_credit": "62000.00", "period_debit": "0.00",
            "period_credit": "0.00", "closing_debit": "62000.00", "closing_credit": "62000.00"}));
        crate::ledger::post_voucher(&app, "主账套", json!({"date": "2026-02-10", "word": "收", "lines": [
            {"summary": "回款", "account": "1002", "debit": "3000.00", "credit": "0"},
            {"summary": "回款", "account": "1122", "dimensions": {"customer": "C001"}, "debit": "0", "credit": "3000.00"}]})).await;
        let march = app.get("/api/v1/ledger/books/主账套/trial-balance?period=2026-03", &writer).await.expect(StatusCode::OK).clone();
        let row = |code: &str| march["accounts"].as_array().unwrap().iter().find(|r| r["code"] == code).unwrap().clone();
        assert_eq!((row("1002")["opening_debit"].as_str(), row("1122")["opening_debit"].as_str(), row("4001")["opening_credit"].as_str()),
            (Some("53000.00"), Some("9000.00"), Some("62000.00")));
        assert_eq!(march["totals"]["opening_debit"], "62000.00");

        // Once a period from the opening period on is closed, the openings no longer change.
        app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-01"})).await.expect(StatusCode::OK);
        let closed = app.call(Method::PUT, OPENINGS, Some(&writer), Some(balanced_openings())).await;
        let error = closed.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!((error["details"][0]["code"].as_str(), error["details"][0]["params"]["period"].as_str()), (Some("period_closed"), Some("2026-01")), "{error}");
        // Reading needs ledger:read only; writing needs ledger:write.
        let reader = app.token(&["ledger:read"]).await;
        app.get(OPENINGS, &reader).await.expect(StatusCode::OK);
        app.call(Method::PUT, OPENINGS, Some(&reader), Some(balanced_openings())).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app
    }

    async fn carry_forward_moves_profit_and_loss_once_and_closing_and_reopening_follow_the_rules(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let post = |date: &'static str, lines: Value| crate::ledger::post_voucher(&app, "主账套", json!({"date": date, "word": "记", "lines": lines}));
        post("2026-10-08", json!([
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "113.00", "credit": "0"},
            {"summary": "销售", "account": "6001", "debit": "0", "credit": "100.00"},
            {"summary": "销项税", "account": "22210102", "debit": "0", "credit": "13.00"}])).await;
        post("2026-10-12", json!([
            {"summary": "广告", "account": "6601", "dimensions": {"department": "销售部"}, "debit": "30.00", "credit": "0"},
            {"summary": "广告", "account": "1002", "debit": "0", "credit": "30.00"}])).await;

        // Closing while income and expense accounts have a balance is refused, naming them.
        let refused = app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-10"})).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert_eq!((refused["details"][0]["code"].as_str(), &refused["details"][0]["params"]),
            (Some("profit_and_loss_open"), &json!({"period": "2026-10", "accounts": ["6001", "6601"]})), "{refused}");

        let carry = "/api/v1/ledger/books/主账套/periods/2026-10/carry-forward";
        let first = app.post(carry, &writer, json!({})).await.expect(StatusCode::CREATED).clone();
        let voucher = &first["voucher"];
        assert_eq!((voucher["word"].as_str(), voucher["date"].as_str(), voucher["state"].as_str()), (Some("转"), Some("2026-10-31"), Some("posted")));
        let lines: Vec<(String, String, String, Value)> = voucher["lines"].as_array().unwrap().iter()
            .map(|l| (l["account"].as_str().unwrap().to_owned(), l["debit"].as_str().unwrap().to_owned(), l["credit"].as_str().unwrap().to_owned(), l["dimensions"].clone())).collect();
        assert_eq!(lines, vec![
            ("6001".to_owned(), "100.00".to_owned(), "0.00".to_owned(), json!({})),
            ("6601".to_owned(), "0.00".to_owned(), "30.00".to_owned(), json!({"department": "销售部"})),
            ("4103".to_owned(), "0.00".to_owned(), "70.00".to_owned(), json!({}))]);
        let trial = app.get("/api/v1/ledger/books/主账套/trial-balance?period=2026-10", &writer).await.expect(StatusCode::OK).clone();
        let row = |code: &str| trial["accounts"].as_array().unwrap().iter().find(|r| r["code"] == code).unwrap().clone();
        assert_eq!((row("6001")["closing_credit"].as_str(), row("6001")["closing_debit"].as_str()), (Some("0.00"), Some("0.00")));
        assert_eq!((row("6601")["closing_credit"].as_str(), row("6601")["closing_debit"].as_str()), (Some("0.00"), Some("0.00")));
        assert_eq!(row("4103")["closing_credit"], "70.00");

        // Again with nothing new: 200 and no voucher. After a new posting: only the difference.
        let again = app.post(carry, &writer, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!((&again["voucher"], &again["more_vouchers"]), (&json!(null), &json!([])));
        post("2026-10-20", json!([
            {"summary": "零售", "account": "1001", "debit": "50.00", "credit": "0"},
            {"summary": "零售", "account": "6001", "debit": "0", "credit": "50.00"}])).await;
        let second = app.post(carry, &writer, json!({})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(second["voucher"]["total_debit"], "50.00");
        assert_eq!(second["voucher"]["number"].as_u64(), Some(2));
        assert_ne!(second["voucher"]["id"], first["voucher"]["id"]);

        // Now the period closes; a closed period takes no carry-forward (422), and only admin reopens.
        let closed = app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-10"})).await.expect(StatusCode::OK).clone();
        assert_eq!(closed["closed_through"], "2026-10");
        let error = app.post(carry, &writer, json!({})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["code"], "period_closed", "{error}");
        let reopen = "/api/v1/ledger/books/主账套/periods/2026-10/reopen";
        app.post(reopen, &writer, json!({})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        let audited = app.audit_len().await;
        let reopened = app.post(reopen, &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        assert_eq!(reopened["closed_through"], "2026-09");
        assert_eq!(app.audit_len().await, audited + 1);
        // The year-end move is for the fiscal year's last period only.
        let error = app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-11", "year_end": true})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str()), (Some("year_end"), Some("not_allowed")), "{error}");
        // Only the latest closed period reopens.
        app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-11"})).await.expect(StatusCode::OK);
        let error = app.post(reopen, &app.admin_token, json!({})).await.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert_eq!((error["details"][0]["code"].as_str(), error["details"][0]["params"]["period"].as_str()), (Some("not_latest_closed"), Some("2026-11")), "{error}");

        // Year end: 本年利润 moves to 利润分配—未分配利润, in the year's last period only.
        app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-12", "year_end": "yes"})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let year = app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-12", "year_end": true})).await.expect(StatusCode::OK).clone();
        assert_eq!(year["closed_through"], "2026-12");
        let december = app.get("/api/v1/ledger/books/主账套/trial-balance?period=2026-12", &writer).await.expect(StatusCode::OK).clone();
        let row = |code: &str| december["accounts"].as_array().unwrap().iter().find(|r| r["code"] == code).cloned();
        assert_eq!(row("410406").unwrap()["closing_credit"], "120.00");
        let profit = row("4103").unwrap();
        assert_eq!((profit["closing_debit"].as_str(), profit["closing_credit"].as_str(), profit["period_debit"].as_str()), (Some("0.00"), Some("0.00"), Some("120.00")));
        assert!(december["totals"]["closing_debit"] == december["totals"]["closing_credit"]);
        app
    }

    async fn statements_follow_the_books_and_net_profit_is_the_carried_forward_amount(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        app.call(Method::PUT, OPENINGS, Some(&writer), Some(json!({"period": "2026-01", "balances": [
            {"account": "1002", "debit": "50000.00", "credit": "0"}, {"account": "4001", "debit": "0", "credit": "50000.00"}]}))).await.expect(StatusCode::OK);
        let post = |date: &'static str, lines: Value| crate::ledger::post_voucher(&app, "主账套", json!({"date": date, "word": "记", "lines": lines}));
        post("2026-10-08", json!([
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "113.00", "credit": "0"},
            {"summary": "销售", "account": "6001", "debit": "0", "credit": "100.00"},
            {"summary": "销项税", "account": "22210102", "debit": "0", "credit": "13.00"}])).await;
        post("2026-10-12", json!([
            {"summary": "预收", "account": "1002", "debit": "20.00", "credit": "0"},
            {"summary": "预收", "account": "2203", "dimensions": {"customer": "杭州甲"}, "debit": "0", "credit": "20.00"}])).await;
        post("2026-10-12", json!([
            {"summary": "广告", "account": "6601", "dimensions": {"department": "销售部"}, "debit": "30.00", "credit": "0"},
            {"summary": "广告", "account": "1002", "debit": "0", "credit": "30.00"}])).await;
        let line = |statement: &Value, name: &str| -> (String, String) {
            let found = statement["lines"].as_array().unwrap().iter().find(|l| l["name"] == name).unwrap_or_else(|| panic!("{name}: {statement}"));
            (found["current"].as_str().unwrap().to_owned(), found["previous"].as_str().unwrap().to_owned())
        };
        let income = "/api/v1/ledger/books/主账套/statements/income-statement?period=2026-10";
        let before = app.get(income, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(before["period"], "2026-10");
        assert_eq!(line(&before, "一、营业收入"), ("100.00".to_owned(), "0.00".to_owned()));
        assert_eq!(line(&before, "销售费用").0, "30.00");
        let carried = app.post("/api/v1/ledger/books/主账套/periods/2026-10/carry-forward", &writer, json!({})).await.expect(StatusCode::CREATED).clone();
        let moved = carried["voucher"]["lines"].as_array().unwrap().iter().find(|l| l["account"] == "4103").unwrap()["credit"].clone();
        // After the carry-forward the income statement still shows the month (without the 转 voucher), and
        // its net profit is the amount carried to 本年利润.
        let after = app.get(income, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(after["lines"], before["lines"]);
        assert_eq!(json!(line(&after, "四、净利润（净亏损以\"-\"号填列）").0), moved);
        let year = app.get("/api/v1/ledger/books/主账套/statements/income-statement?from=2026-01&to=2026-10", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((year["from"].as_str(), line(&year, "四、净利润（净亏损以\"-\"号填列）").0.as_str()), (Some("2026-01"), "70.00"));

        let sheet = app.get("/api/v1/ledger/books/主账套/statements/balance-sheet?period=2026-10", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(line(&sheet, "货币资金"), ("49990.00".to_owned(), "50000.00".to_owned()));
        assert_eq!(line(&sheet, "应收账款").0, "113.00");
        assert_eq!(line(&sheet, "预收款项").0, "20.00");
        assert_eq!(line(&sheet, "应交税费").0, "13.00");
        assert_eq!(line(&sheet, "未分配利润").0, "70.00");
        assert_eq!(line(&sheet, "资产总计"), ("50103.00".to_owned(), "50000.00".to_owned()));
        assert_eq!(line(&sheet, "负债和所有者权益（或股东权益）总计"), line(&sheet, "资产总计"));

        // Downloads with the Chinese line names, by format= or by Accept.
        let csv = app.get("/api/v1/ledger/books/主账套/statements/balance-sheet?period=2026-10&format=csv", &writer).await.expect(StatusCode::OK).clone();
        let text = csv.as_str().unwrap();
        assert!(text.contains("项目,行次,期末余额,上年年末余额") && text.contains("资产总计,29,50103.00,50000.00"), "{text}");
        let accepted = crate::Reply::from(app.http.get(format!("{}{income}", app.base)).bearer_auth(&writer).header("accept", "text/csv").send().await.unwrap()).await;
        assert!(accepted.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        let xlsx = app.http.get(format!("{}/api/v1/ledger/books/主账套/statements/balance-sheet?period=2026-10&format=xlsx", app.base)).bearer_auth(&writer).send().await.unwrap();
        assert_eq!(xlsx.status(), StatusCode::OK);
        assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));

        // Bad input says where.
        app.get("/api/v1/ledger/books/主账套/statements/balance-sheet?period=2026-13", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/statements/income-statement", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/statements/balance-sheet?period=2026-10&format=pdf", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }
}

api_tests! {
    async fn books_export_and_import_over_http_and_a_saft_round_trip_keeps_the_statements(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        app.call(Method::PUT, OPENINGS, Some(&writer), Some(json!({"period": "2026-10", "balances": [
            {"account": "1002", "debit": "50000.00", "credit": "0"}, {"account": "4001", "debit": "0", "credit": "50000.00"}]}))).await.expect(StatusCode::OK);
        let post = |date: &'static str, lines: Value| crate::ledger::post_voucher(&app, "主账套", json!({"date": date, "word": "记", "lines": lines}));
        post("2026-10-08", json!([
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "C001"}, "debit": "113.00", "credit": "0"},
            {"summary": "销售", "account": "6001", "debit": "0", "credit": "100.00"},
            {"summary": "销项税", "account": "22210102", "debit": "0", "credit": "13.00"}])).await;
        post("2026-11-12", json!([
            {"summary": "广告", "account": "6601", "dimensions": {"department": "D01"}, "debit": "30.00", "credit": "0"},
            {"summary": "广告", "account": "1002", "debit": "0", "credit": "30.00"}])).await;

        // Every format downloads as a file; SAF-T is dated the day of the export.
        for (format, kind) in [("kingdee", "application/json"), ("yonyou-u8", "application/xml"), ("saft", "application/xml"), ("csv", "text/csv")] {
            let file = app.http.get(format!("{}/api/v1/ledger/books/主账套/export?format={format}&from=2026-10&to=2026-11", app.base)).bearer_auth(&writer).send().await.unwrap();
            assert_eq!(file.status(), StatusCode::OK, "{format}");
            assert!(file.headers()["content-type"].to_str().unwrap().starts_with(kind), "{format}");
            assert!(file.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"), "{format}");
        }
        let saft = app.http.get(format!("{}/api/v1/ledger/books/主账套/export?format=saft&from=2026-10&to=2026-11", app.base)).bearer_auth(&writer).send().await.unwrap().bytes().await.unwrap();
        let text = String::from_utf8(saft.to_vec()).unwrap();
        let today = tenon_store::Clock::now(&*app.clock).with_timezone(&tenon_model::TimeZone::SHANGHAI.tz()).date_naive().to_string();
        assert!(text.contains(&format!("<AuditFileDateCreated>{today}</AuditFileDateCreated>")), "created on the export day");
        assert!(text.contains("<OpeningDebitBalance>50000.00</OpeningDebitBalance>"), "openings of the first period");

        // A dry run checks and writes nothing; the import creates the book with the file's openings.
        let import = |query: &str, bytes: Vec<u8>| {
            let url = format!("{}/api/v1/ledger/books/副本/import?{query}", app.base);
            let request = app.http.post(url).bearer_auth(&writer).body(bytes);
            async move { crate::Reply::from(request.send().await.unwrap()).await }
        };
        let dry = import("format=saft&dry_run=true", saft.to_vec()).await.expect(StatusCode::OK).clone();
        assert_eq!((&dry["written"], &dry["vouchers"], &dry["book"]), (&json!(false), &json!(2), &json!(null)));
        app.get("/api/v1/ledger/books/副本", &writer).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let done = import("format=saft", saft.to_vec()).await.expect(StatusCode::OK).clone();
        assert_eq!((&done["written"], &done["book_created"], &done["vouchers"], &done["lines"]), (&json!(true), &json!(true), &json!(2), &json!(5)));
        assert_eq!((&done["total_debit"], &done["opening_debit"], &done["opening_credit"]), (&json!("143.00"), &json!("50000.00"), &json!("50000.00")));
        assert_eq!(done["book"]["opening_balanced"], true);
        // The statements of the imported book equal those of the book it came from.
        for statement in ["balance-sheet?period=2026-11", "income-statement?period=2026-10", "income-statement?from=2026-10&to=2026-11"] {
            let original = app.get(&format!("/api/v1/ledger/books/主账套/statements/{statement}"), &writer).await.expect(StatusCode::OK).clone();
            let copy = app.get(&format!("/api/v1/ledger/books/副本/statements/{statement}"), &writer).await.expect(StatusCode::OK).clone();
            assert_eq!(copy["lines"], original["lines"], "{statement}");
        }
        // Importing the same file again refuses the numbers it already holds, and writes nothing.
        let before = app.audit_len().await;
        import("format=saft", saft.to_vec()).await.expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(app.audit_len().await, before);

        // Bad input: an unknown format, a missing period, a file that is not what it says.
        app.get("/api/v1/ledger/books/主账套/export?format=pdf&period=2026-10", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/export?format=saft", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/export?format=saft&from=2026-11&to=2026-10", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        let refused = import("format=kingdee", b"<not json>".to_vec()).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(error["details"][0]["field"], "file", "{error}");
        let reader = app.token(&["ledger:read"]).await;
        let url = format!("{}/api/v1/ledger/books/副本/import?format=saft", app.base);
        let forbidden = crate::Reply::from(app.http.post(url).bearer_auth(&reader).body(saft.to_vec()).send().await.unwrap()).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        app
    }
}
