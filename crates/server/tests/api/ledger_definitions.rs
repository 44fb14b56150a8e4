//! A book's own, versioned statement line definitions over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;

const SHEET: &str = "/api/v1/ledger/books/主账套/statements/balance-sheet/definition";

fn line<'a>(statement: &'a Value, code: &str) -> &'a Value {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == code)
        .unwrap_or_else(|| panic!("line {code}: {statement}"))
}

api_tests! {
    async fn a_book_keeps_its_own_versions_of_the_statement_lines_and_statements_follow_them(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        crate::ledger::post_voucher(&app, "主账套", json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "投入", "account": "1001", "debit": "500.00", "credit": "0"},
            {"summary": "投入", "account": "1002", "debit": "200.00", "credit": "0"},
            {"summary": "投入", "account": "4001", "debit": "0", "credit": "700.00"}]})).await;
        let statement = "/api/v1/ledger/books/主账套/statements/balance-sheet?period=2026-10";

        // Without lines of its own, a book uses the shipped ones (version 0).
        let shipped = app.get(SHEET, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((shipped["version"].as_u64(), shipped["source"].as_str(), &shipped["created_at"]), (Some(0), Some("shipped"), &json!(null)));
        assert_eq!(line(&shipped, "1")["name"], "货币资金");
        assert_eq!(line(&shipped, "1")["level"], 2);
        assert!(line(&shipped, "1")["formula"].as_str().unwrap().starts_with("1001 + 1002"), "{shipped}");
        let before = app.get(statement, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((before["definition_version"].as_u64(), line(&before, "1")["current"].as_str()), (Some(0), Some("700.00")));

        // A new version: line 1 renamed with a new formula, a line added. Audited once.
        let mut lines = shipped["lines"].as_array().unwrap().clone();
        lines[0] = json!({"code": "1", "name": "库存现金", "level": 2, "formula": "1001"});
        lines.insert(1, json!({"code": "1a", "name": "银行存款", "level": 2, "formula": "1002 + 1012"}));
        let audited = app.audit_len().await;
        let stored = app.call(Method::PUT, SHEET, Some(&writer), Some(json!({"lines": lines}))).await.expect(StatusCode::OK).clone();
        assert_eq!((stored["version"].as_u64(), stored["source"].as_str()), (Some(1), Some("book")));
        assert!(stored["created_at"].is_string() && stored["created_by"].is_string(), "{stored}");
        assert_eq!(stored["lines"], json!(lines));
        assert_eq!(app.audit_len().await, audited + 1);
        assert_eq!(app.get(SHEET, &writer).await.expect(StatusCode::OK)["version"], 1);
        // The statement uses it; the shipped lines are still there with ?version=0.
        let after = app.get(statement, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(after["definition_version"], 1);
        assert_eq!((line(&after, "1")["name"].as_str(), line(&after, "1")["current"].as_str()), (Some("库存现金"), Some("500.00")));
        assert_eq!(line(&after, "1a")["current"], "200.00");
        let again = app.get(&format!("{statement}&version=0"), &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(again["lines"], before["lines"]);
        assert_eq!(app.get(&format!("{SHEET}?version=0"), &writer).await.expect(StatusCode::OK)["lines"], shipped["lines"]);
        app.get(&format!("{statement}&version=7"), &writer).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // The income statement has its own versions.
        let income = app.get("/api/v1/ledger/books/主账套/statements/income-statement/definition", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(income["version"], 0);

        // A formula naming an account the book does not have: 422 naming the line, nothing stored.
        let mut wrong = lines.clone();
        wrong[3]["formula"] = json!("1121 + 1999");
        let refused = app.call(Method::PUT, SHEET, Some(&writer), Some(json!({"lines": wrong}))).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(error["details"][0]["field"], "lines[3].formula", "{error}");
        assert!(error["details"][0]["reason"].as_str().unwrap().contains("account 1999 does not exist"), "{error}");
        assert_eq!(app.audit_len().await, audited + 1);
        let versions = app.get(&format!("{SHEET}/versions"), &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(versions["latest"], 1);
        let listed: Vec<(u64, String)> = versions["versions"].as_array().unwrap().iter()
            .map(|v| (v["version"].as_u64().unwrap(), v["source"].as_str().unwrap().to_owned())).collect();
        assert_eq!(listed, vec![(0, "shipped".to_owned()), (1, "book".to_owned())]);
        assert_eq!(versions["versions"][1]["line_count"].as_u64(), Some(lines.len() as u64));

        // Exportable: the TSV download (format= or Accept) goes back in as a new version, unchanged.
        let tsv = crate::Reply::from(app.http.get(format!("{}{SHEET}", app.base)).bearer_auth(&writer)
            .header("accept", "text/tab-separated-values").send().await.unwrap()).await;
        assert!(tsv.header("content-type").unwrap().starts_with("text/tab-separated-values"));
        let text = tsv.body.as_str().unwrap().to_owned();
        assert!(text.contains("1\t库存现金\t2\t1001\n") && text.contains("1a\t银行存款\t2\t1002 + 1012\n"), "{text}");
        assert_eq!(app.get(&format!("{SHEET}?format=tsv"), &writer).await.expect(StatusCode::OK).as_str(), Some(text.as_str()));
        let put_tsv = crate::Reply::from(app.http.put(format!("{}{SHEET}", app.base)).bearer_auth(&writer)
            .header("content-type", "text/tab-separated-values; charset=utf-8").body(text.clone()).send().await.unwrap()).await;
        let copy = put_tsv.expect(StatusCode::OK);
        assert_eq!((copy["version"].as_u64(), &copy["lines"]), (Some(2), &json!(lines)));
        // A TSV naming an unknown account is refused like JSON.
        let bad_tsv = crate::Reply::from(app.http.put(format!("{}{SHEET}", app.base)).bearer_auth(&writer)
            .header("content-type", "text/tab-separated-values").body("1\t现金\t2\t1001\n2\t其他\t2\t9999\n").send().await.unwrap()).await;
        assert_eq!(bad_tsv.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "lines[1].formula");
        app.get(&format!("{SHEET}?format=pdf"), &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/statements/cash-flow/definition", &writer).await.expect_error(StatusCode::NOT_FOUND, "not_found");

        // Reading needs ledger:read, writing ledger:write; another organization sees no such book.
        let reader = app.token(&["ledger:read"]).await;
        assert_eq!(app.get(SHEET, &reader).await.expect(StatusCode::OK)["version"], 2);
        app.call(Method::PUT, SHEET, Some(&reader), Some(json!({"lines": lines}))).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        let (_, _, other_admin) = app.other_org().await;
        app.get(SHEET, &other_admin).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("{SHEET}/versions"), &other_admin).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::PUT, SHEET, Some(&other_admin), Some(json!({"lines": lines}))).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.post("/api/v1/ledger/books", &other_admin, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        assert_eq!(app.get(SHEET, &other_admin).await.expect(StatusCode::OK)["version"], 0);
        assert_eq!(app.get(SHEET, &writer).await.expect(StatusCode::OK)["version"], 2);
        app
    }
}
