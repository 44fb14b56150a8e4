//! Codes for Kingdee and U8 (a book's code, its dimension values' codes), the company's 统一社会信用代码
//! for SAF-T, and U8's one-document-per-file export, over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_tests;

async fn download(app: &crate::TestApp, token: &str, query: &str) -> (StatusCode, String, String) {
    let reply = app
        .http
        .get(format!(
            "{}/api/v1/ledger/books/主账套/export?{query}",
            app.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = reply.status();
    let disposition = reply
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, disposition, reply.text().await.unwrap())
}

api_tests! {
    async fn books_and_dimension_values_have_codes_that_kingdee_and_u8_exports_write(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        let book = app.post("/api/v1/ledger/books", &writer, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED).clone();
        assert_eq!((book["code"].as_str(), &book["tax_registration_number"]), (Some("001"), &json!(null)));
        let second = app.post("/api/v1/ledger/books", &writer, json!({"name": "分公司", "template": "cas", "base_currency": "CNY",
            "code": "A-02", "tax_registration_number": "91110000600037341l"})).await.expect(StatusCode::CREATED).clone();
        assert_eq!((second["code"].as_str(), second["tax_registration_number"].as_str()), (Some("A-02"), Some("91110000600037341L")));
        let third = app.post("/api/v1/ledger/books", &writer, json!({"name": "第三", "template": "cas-small", "base_currency": "CNY"})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(third["code"], "002", "the next free three-digit code");

        // Bad codes and numbers: 422 where, a taken code 409; nothing written.
        let before = app.audit_len().await;
        let error = app.post("/api/v1/ledger/books", &writer, json!({"name": "x", "template": "cas", "base_currency": "CNY", "code": "主账套"})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((error["details"][0]["field"].as_str(), error["details"][0]["code"].as_str()), (Some("code"), Some("invalid_format")), "{error}");
        let error = app.post("/api/v1/ledger/books", &writer, json!({"name": "x", "template": "cas", "base_currency": "CNY", "tax_registration_number": "91350100M000100Y44"})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "tax_registration_number", "{error}");
        assert!(error["details"][0]["reason"].as_str().unwrap().contains("check character"), "{error}");
        app.post("/api/v1/ledger/books", &writer, json!({"name": "x", "template": "cas", "base_currency": "CNY", "code": "A-02"})).await
            .expect_error(StatusCode::CONFLICT, "conflict");
        app.patch("/api/v1/ledger/books/主账套", &writer, json!({"code": "A-02"})).await.expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(app.audit_len().await, before);

        let patched = app.patch("/api/v1/ledger/books/主账套", &writer, json!({"code": "100", "tax_registration_number": "91350100M000100Y43"})).await.expect(StatusCode::OK).clone();
        assert_eq!((patched["code"].as_str(), patched["tax_registration_number"].as_str()), (Some("100"), Some("91350100M000100Y43")));
        assert_eq!(app.audit_len().await, before + 1);
        let cleared = app.patch("/api/v1/ledger/books/分公司", &writer, json!({"tax_registration_number": null})).await.expect(StatusCode::OK).clone();
        assert_eq!((cleared["code"].as_str(), &cleared["tax_registration_number"]), (Some("A-02"), &json!(null)));

        // Values get the next free code of their dimension when lines first name them.
        crate::ledger::post_voucher(&app, "主账套", json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "113.00", "credit": "0"},
            {"summary": "销售", "account": "1122", "dimensions": {"customer": "C001"}, "debit": "10.00", "credit": "0"},
            {"summary": "销售", "account": "6001", "debit": "0", "credit": "123.00"}]})).await;
        crate::ledger::post_voucher(&app, "主账套", json!({"date": "2026-10-09", "word": "记", "lines": [
            {"summary": "广告", "account": "6601", "dimensions": {"department": "策划部"}, "debit": "30.00", "credit": "0"},
            {"summary": "广告", "account": "1002", "debit": "0", "credit": "30.00"}]})).await;
        let values = app.get("/api/v1/ledger/books/主账套/dimension-values", &writer).await.expect(StatusCode::OK).clone();
        let listed: Vec<(String, String, String)> = values["items"].as_array().unwrap().iter()
            .map(|v| (v["dimension"].as_str().unwrap().to_owned(), v["value"].as_str().unwrap().to_owned(), v["code"].as_str().unwrap().to_owned())).collect();
        let triple = |d: &str, v: &str, c: &str| (d.to_owned(), v.to_owned(), c.to_owned());
        assert_eq!(listed, [triple("customer", "C001", "C0001"), triple("customer", "湖州优品", "C0002"), triple("department", "策划部", "D0001")]);
        let customers = app.get("/api/v1/ledger/books/主账套/dimension-values?dimension=customer", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(customers["items"].as_array().unwrap().len(), 2);
        app.get("/api/v1/ledger/books/主账套/dimension-values?dimension=colour", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");

        // Codes and names are settable; a taken code is 409, a name as code 422; a new value is 201.
        let path = "/api/v1/ledger/books/主账套/dimension-values/customer/湖州优品";
        let set = app.call(Method::PUT, path, Some(&writer), Some(json!({"code": "HZYP", "name": "湖州优品婚庆用品有限公司"}))).await.expect(StatusCode::OK).clone();
        assert_eq!(set, json!({"dimension": "customer", "value": "湖州优品", "code": "HZYP", "name": "湖州优品婚庆用品有限公司"}));
        app.call(Method::PUT, path, Some(&writer), Some(json!({"code": "C0001"}))).await.expect_error(StatusCode::CONFLICT, "conflict");
        let error = app.call(Method::PUT, path, Some(&writer), Some(json!({"code": "湖州"}))).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "code", "{error}");
        let created = app.call(Method::PUT, "/api/v1/ledger/books/主账套/dimension-values/supplier/花店", Some(&writer), Some(json!({}))).await.expect(StatusCode::CREATED).clone();
        assert_eq!(created, json!({"dimension": "supplier", "value": "花店", "code": "S0001", "name": "花店"}));
        let reader = app.token(&["ledger:read"]).await;
        app.call(Method::PUT, path, Some(&reader), Some(json!({}))).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");

        // Kingdee: the book's and the values' codes, never names.
        let (status, _, kingdee) = download(&app, &writer, "format=kingdee&period=2026-10").await;
        assert_eq!(status, StatusCode::OK);
        let kingdee: Value = serde_json::from_str(&kingdee).unwrap();
        assert_eq!(kingdee["FAccountBookID"]["FNumber"], "100");
        let customers: Vec<&str> = kingdee["BD_Customer"].as_array().unwrap().iter().map(|c| c["FNumber"].as_str().unwrap()).collect();
        assert_eq!(customers, ["C0001", "HZYP"]);
        let models = kingdee["GL_VOUCHER"].as_array().unwrap();
        assert!(models.iter().all(|m| m["Model"]["FAccountBookID"]["FNumber"] == "100"));
        let details: Vec<&str> = models.iter().flat_map(|m| m["Model"]["FEntity"].as_array().unwrap())
            .flat_map(|e| e["FDetailID"].as_object().unwrap().values()).map(|v| v["FNumber"].as_str().unwrap()).collect();
        assert_eq!(details, ["HZYP", "C0001", "D0001"]);

        // U8: one EAI document per file, the vouchers by default, with the values' codes.
        let (status, disposition, u8) = download(&app, &writer, "format=yonyou-u8&period=2026-10").await;
        assert_eq!(status, StatusCode::OK);
        assert!(u8.lines().nth(1).unwrap().starts_with("<ufinterface roottag=\"voucher\""), "{u8}");
        assert!(!u8.contains("tenon-u8") && u8.contains("<item name=\"cust_id\">HZYP</item>"), "{u8}");
        assert!(disposition.contains("yonyou-u8-voucher"), "{disposition}");
        let (_, _, chart) = download(&app, &writer, "format=yonyou-u8&period=2026-10&document=code").await;
        assert!(chart.lines().nth(1).unwrap().starts_with("<ufinterface roottag=\"code\"") && !chart.contains("<voucher"), "{chart}");
        let (_, _, master) = download(&app, &writer, "format=yonyou-u8&period=2026-10&document=customer").await;
        assert!(master.contains("<code>HZYP</code>") && master.contains("<name>湖州优品婚庆用品有限公司</name>"), "{master}");
        app.get("/api/v1/ledger/books/主账套/export?format=yonyou-u8&period=2026-10&document=ledger", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/ledger/books/主账套/export?format=kingdee&period=2026-10&document=code", &writer).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");

        // SAF-T: the 统一社会信用代码 where the schema expects the company's registration.
        let (_, _, saft) = download(&app, &writer, "format=saft&period=2026-10").await;
        assert!(saft.contains("<RegistrationNumber>91350100M000100Y43</RegistrationNumber>"), "{saft}");
        assert!(saft.contains("<TaxRegistration>\n        <TaxRegistrationNumber>91350100M000100Y43</TaxRegistrationNumber>"), "{saft}");
        assert!(saft.contains("xmlns=\"urn:StandardAuditFile-Taxation-Financial:NO\""));

        // A Kingdee file imported into a new book keeps the values' codes; the file's book code is taken
        // (100), so the new book gets the next free one.
        let kingdee_bytes = serde_json::to_vec(&kingdee).unwrap();
        let url = format!("{}/api/v1/ledger/books/副本/import?format=kingdee", app.base);
        let done = crate::Reply::from(app.http.post(url).bearer_auth(&writer).body(kingdee_bytes).send().await.unwrap()).await.expect(StatusCode::OK).clone();
        assert_eq!((done["book"]["code"].as_str(), done["vouchers"].as_u64()), (Some("101"), Some(2)), "{done}");
        let copied = app.get("/api/v1/ledger/books/副本/dimension-values?dimension=customer", &writer).await.expect(StatusCode::OK).clone();
        let copied: Vec<(&str, &str, &str)> = copied["items"].as_array().unwrap().iter()
            .map(|v| (v["value"].as_str().unwrap(), v["code"].as_str().unwrap(), v["name"].as_str().unwrap())).collect();
        assert_eq!(copied, [("C0001", "C0001", "C001"), ("HZYP", "HZYP", "湖州优品婚庆用品有限公司")]);
        app
    }
}

/// `shared/data/saf-t` beside the repository (read there, never copied in).
fn shared_saft(file: &str) -> Vec<u8> {
    let start = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = start
        .ancestors()
        .skip(2)
        .map(|dir| dir.join("shared/data/saf-t"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| start.join("../../../shared/data/saf-t"))
        .join(file);
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("{} is needed by this test: {error}", path.display()))
}

api_tests! {
    async fn the_official_saft_example_imports_its_openings_as_written_and_names_the_differences(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        let bytes = shared_saft("ExampleFile_SAF-T_Financial_999999999_20161125213512.xml");
        let url = format!("{}/api/v1/ledger/books/Selskapet/import?format=saft", app.base);
        let done = crate::Reply::from(app.http.post(url).bearer_auth(&writer).body(bytes).send().await.unwrap()).await.expect(StatusCode::OK).clone();
        assert_eq!((done["opening_debit"].as_str(), done["opening_credit"].as_str(), done["opening_difference"].as_str()),
            (Some("1234.56"), Some("2469.12"), Some("-1234.56")), "{done}");
        assert_eq!(done["control_differences"], json!([{"account": "1500", "parties_debit": "1234.56", "parties_credit": "0.00",
            "account_debit": "0.00", "account_credit": "0.00", "difference": "1234.56"}]));
        assert_eq!((done["book"]["opening_balanced"].as_bool(), done["book"]["opening_difference"].as_str()), (Some(false), Some("-1234.56")));
        // 2400 opens per supplier (its suppliers' openings agree with it).
        let openings = app.get("/api/v1/ledger/books/Selskapet/opening-balances", &writer).await.expect(StatusCode::OK).clone();
        let on_2400: Vec<&Value> = openings["balances"].as_array().unwrap().iter().filter(|b| b["account"] == "2400").collect();
        assert_eq!(on_2400.len(), 1, "{openings}");
        assert_eq!((&on_2400[0]["dimensions"], on_2400[0]["credit"].as_str()), (&json!({"supplier": "20000"}), Some("1234.56")));
        // No period closes until the openings are corrected; the refusal names the difference.
        let period = openings["period"].as_str().unwrap().to_owned();
        let refused = app.post("/api/v1/ledger/books/Selskapet/close", &writer, json!({"period": period, "force": true})).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!((error["details"][0]["code"].as_str(), error["details"][0]["params"]["difference"].as_str()),
            (Some("openings_unbalanced"), Some("-1234.56")), "{error}");
        app
    }

    async fn a_csv_of_balances_opens_a_new_book(app) {
        let writer = app.token(&["ledger:write", "ledger:read"]).await;
        let csv = "record,period,account,customer,debit,credit\nopening,2026-01,1002,,50000.00,0\nopening,2026-01,1122,湖州优品,10000.00,0\nopening,2026-01,4001,,0,60000.00\n";
        let url = format!("{}/api/v1/ledger/books/期初/import?format=csv", app.base);
        let done = crate::Reply::from(app.http.post(url).bearer_auth(&writer).body(csv).send().await.unwrap()).await.expect(StatusCode::OK).clone();
        assert_eq!((done["openings"].as_u64(), done["opening_difference"].as_str(), done["vouchers"].as_u64()), (Some(3), Some("0.00"), Some(0)), "{done}");
        let book = app.get("/api/v1/ledger/books/期初", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((book["opening_period"].as_str(), book["opening_balanced"].as_bool()), (Some("2026-01"), Some(true)));
        let trial = app.get("/api/v1/ledger/books/期初/trial-balance?period=2026-01", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!((trial["totals"]["opening_debit"].as_str(), trial["totals"]["opening_credit"].as_str()), (Some("60000.00"), Some("60000.00")));
        // The customer the balances name is a dimension value with a code.
        let values = app.get("/api/v1/ledger/books/期初/dimension-values", &writer).await.expect(StatusCode::OK).clone();
        assert_eq!(values["items"], json!([{"dimension": "customer", "value": "湖州优品", "code": "C0001", "name": "湖州优品"}]));
        // The U8 account-balance document of it carries them back, by code.
        let accsum = app.http.get(format!("{}/api/v1/ledger/books/期初/export?format=yonyou-u8&period=2026-01&document=accsum", app.base))
            .bearer_auth(&writer).send().await.unwrap().text().await.unwrap();
        assert!(accsum.contains("<ccode>1122</ccode>") && accsum.contains("<item name=\"cust_id\">C0001</item>") && accsum.contains("<cbegind_c>贷</cbegind_c>"), "{accsum}");
        app
    }
}
