//! Opening balances brought by an import: a SAF-T file of openings without any transaction, and a file's
//! openings replacing those of a book that already exists (a company switching vendors mid-year).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;

/// A SAF-T 1.30 file of the general ledger's opening balances as of fiscal period `start` of 2026, with
/// customers' openings on 1122 and no `GeneralLedgerEntries` at all: 1002 `cash` debit, 1122 12,000.00
/// debit (C001 10,000.00, C002 2,000.00), 4001 credit the sum.
fn openings_only_saft(start: u32, cash: &str) -> Vec<u8> {
    let capital = format!("{:.2}", cash.parse::<f64>().unwrap() + 12000.0);
    let account = |id: &str, name: &str, side: &str, amount: &str| {
        format!(
            "<Account><AccountID>{id}</AccountID><AccountDescription>{name}</AccountDescription>\
             <GroupingCategory>CAS-2006</GroupingCategory><GroupingCode>{id}</GroupingCode><AccountType>GL</AccountType>\
             <Opening{side}Balance>{amount}</Opening{side}Balance><Closing{side}Balance>{amount}</Closing{side}Balance></Account>"
        )
    };
    let customer = |id: &str, amount: &str| {
        format!(
            "<Customer><Name>客户{id}</Name><CustomerID>{id}</CustomerID><BalanceAccount><AccountID>1122</AccountID>\
             <OpeningDebitBalance>{amount}</OpeningDebitBalance><ClosingDebitBalance>{amount}</ClosingDebitBalance>\
             </BalanceAccount></Customer>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AuditFile xmlns=\"urn:StandardAuditFile-Taxation-Financial:NO\">\
         <Header><AuditFileVersion>1.30</AuditFileVersion><AuditFileCountry>CN</AuditFileCountry>\
         <AuditFileDateCreated>2026-07-01</AuditFileDateCreated><SoftwareCompanyName>Old vendor</SoftwareCompanyName>\
         <SoftwareID>old</SoftwareID><SoftwareVersion>1</SoftwareVersion><Company><RegistrationNumber>-</RegistrationNumber>\
         <Name>湖州</Name></Company><DefaultCurrencyCode>CNY</DefaultCurrencyCode><SelectionCriteria>\
         <PeriodStart>{start}</PeriodStart><PeriodStartYear>2026</PeriodStartYear><PeriodEnd>{start}</PeriodEnd>\
         <PeriodEndYear>2026</PeriodEndYear></SelectionCriteria><TaxAccountingBasis>A</TaxAccountingBasis></Header>\
         <MasterFiles><GeneralLedgerAccounts>{}{}{}</GeneralLedgerAccounts><Customers>{}{}</Customers></MasterFiles>\
         </AuditFile>\n",
        account("1002", "银行存款", "Debit", cash),
        account("1122", "应收账款", "Debit", "12000.00"),
        account("4001", "实收资本", "Credit", &capital),
        customer("C001", "10000.00"),
        customer("C002", "2000.00"),
    )
    .into_bytes()
}

async fn import(app: &crate::TestApp, token: &str, book: &str, bytes: Vec<u8>) -> crate::Reply {
    let url = format!("{}/api/v1/ledger/books/{book}/import?format=saft", app.base);
    crate::Reply::from(
        app.http
            .post(url)
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn balances(openings: &Value) -> Vec<(String, String, String, String)> {
    openings["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["account"].as_str().unwrap().to_owned(),
                b["dimensions"]["customer"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                b["debit"].as_str().unwrap().to_owned(),
                b["credit"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(list: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
    list.iter()
        .map(|(a, c, d, k)| {
            (
                (*a).to_owned(),
                (*c).to_owned(),
                (*d).to_owned(),
                (*k).to_owned(),
            )
        })
        .collect()
}

api_tests! {
    async fn a_saft_file_of_openings_without_transactions_opens_a_new_book(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        let done = import(&app, &writer, "新账", openings_only_saft(7, "50000.00")).await.expect(StatusCode::OK).clone();
        assert_eq!((done["vouchers"].as_u64(), done["openings"].as_u64(), done["opening_debit"].as_str(), done["opening_difference"].as_str()),
            (Some(0), Some(4), Some("62000.00"), Some("0.00")), "{done}");
        assert_eq!((done["book"]["opening_period"].as_str(), done["book"]["opening_balanced"].as_bool()), (Some("2026-07"), Some(true)), "{done}");
        let openings = app.get("/api/v1/ledger/books/新账/opening-balances", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(openings["period"], "2026-07");
        assert_eq!(balances(&openings), row(&[("1002", "", "50000.00", "0.00"), ("1122", "C001", "10000.00", "0.00"),
            ("1122", "C002", "2000.00", "0.00"), ("4001", "", "0.00", "62000.00")]));
        let trial = app.get("/api/v1/ledger/books/新账/trial-balance?period=2026-07", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((trial["totals"]["opening_debit"].as_str(), trial["totals"]["opening_credit"].as_str()), (Some("62000.00"), Some("62000.00")));
        app
    }

    async fn an_import_replaces_an_existing_books_openings_until_a_period_closes(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        const OPENINGS: &str = "/api/v1/ledger/books/主账套/opening-balances";
        app.call(Method::PUT, OPENINGS, Some(&writer), Some(json!({"period": "2026-01", "balances": [
            {"account": "1001", "debit": "800.00", "credit": "0"}, {"account": "4001", "debit": "0", "credit": "800.00"}]})))
            .await.expect(StatusCode::OK);
        crate::ledger::post_voucher(&app, "主账套", json!({"date": "2026-08-03", "word": "收", "lines": [
            {"summary": "增资", "account": "1002", "debit": "1000.00", "credit": "0"},
            {"summary": "增资", "account": "4001", "debit": "0", "credit": "1000.00"}]})).await;

        // The old vendor's balances as of July replace the book's own; its voucher of August stays.
        let done = import(&app, &writer, "主账套", openings_only_saft(7, "50000.00")).await.expect(StatusCode::OK).clone();
        assert_eq!((done["book_created"].as_bool(), done["openings"].as_u64(), done["opening_debit"].as_str()), (Some(false), Some(4), Some("62000.00")), "{done}");
        let openings = app.get(OPENINGS, &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((openings["period"].as_str(), openings["total_debit"].as_str()), (Some("2026-07"), Some("62000.00")), "{openings}");
        let august = app.get("/api/v1/ledger/books/主账套/trial-balance?period=2026-09", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(august["totals"]["opening_debit"], "63000.00", "{august}");

        // Once July is closed, another file's openings are refused, naming the period, and nothing changes.
        app.post("/api/v1/ledger/books/主账套/close", &writer, json!({"period": "2026-07"})).await.expect(StatusCode::OK);
        let before = app.audit_len().await;
        let refused = import(&app, &writer, "主账套", openings_only_saft(7, "70000.00")).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str(), error["details"][0]["params"]["period"].as_str()),
            (Some("openings"), Some("period_closed"), Some("2026-07")), "{error}");
        assert_eq!(app.audit_len().await, before);
        assert_eq!(app.get(OPENINGS, &writer).await.expect(StatusCode::OK).clone(), openings);
        app
    }

    async fn an_import_whose_openings_come_after_the_books_vouchers_is_refused(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        crate::ledger::post_voucher(&app, "主账套", json!({"date": "2026-03-10", "word": "收", "lines": [
            {"summary": "投资", "account": "1002", "debit": "1000.00", "credit": "0"},
            {"summary": "投资", "account": "4001", "debit": "0", "credit": "1000.00"}]})).await;
        let before = app.audit_len().await;
        let refused = import(&app, &writer, "主账套", openings_only_saft(7, "50000.00")).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let detail = &error["details"][0];
        assert_eq!((detail["field"].as_str(), detail["code"].as_str()), (Some("openings"), Some("conflict")), "{error}");
        assert!(detail["reason"].as_str().unwrap().contains("2026-03"), "{error}");
        assert_eq!(app.audit_len().await, before);
        let openings = app.get("/api/v1/ledger/books/主账套/opening-balances", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((openings["period"].clone(), openings["balances"].clone()), (json!(null), json!([])), "{openings}");
        // A file that opens no later than the book's first voucher is taken.
        let done = import(&app, &writer, "主账套", openings_only_saft(3, "50000.00")).await.expect(StatusCode::OK).clone();
        assert_eq!(done["book"]["opening_period"], "2026-03", "{done}");
        app
    }
}
