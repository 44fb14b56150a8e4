//! Dashboards over HTTP: put, read, list; every widget's figures in one answer, a failing widget's error
//! in place; references checked (422 naming them, nothing stored); export, diff and import with the app.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

const BOARD: &str = "/api/v1/apps/sales/dashboards/boss";

async fn sales(app: &TestApp) {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "Sales", "key": "sales"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/sales/tables", &app.admin_token, json!({"name": "Customers", "key": "customers", "fields": [{"name": "Name", "key": "name", "type": "text"}]})).await.expect(StatusCode::CREATED);
    app.post("/api/v1/apps/sales/tables", &app.admin_token, json!({"name": "Orders", "key": "orders", "fields": [
        {"name": "Customer", "key": "customer", "type": "link", "options": {"table": "customers", "multiple": false}},
        {"name": "Amount", "key": "amount", "type": "currency"},
        {"name": "Booked on", "key": "booked_on", "type": "date"},
        {"name": "Rep", "key": "rep", "type": "single_select", "options": {"choices": ["王芳", "李强"]}}
    ]})).await.expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/sales/tables/orders/views",
        &app.admin_token,
        json!({"name": "Latest", "key": "latest", "type": "grid",
        "config": {"fields": ["customer", "amount"], "sort": "-booked_on"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    let customers = app
        .post(
            "/api/v1/apps/sales/tables/customers/records",
            &app.admin_token,
            json!({"records": [{"fields": {"name": "湖州优品"}}, {"fields": {"name": "Ærø"}}]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    let a = customers["records"][0]["id"].clone();
    let b = customers["records"][1]["id"].clone();
    // The clock says 2026-11-25: three orders this month, one last month.
    app.post("/api/v1/apps/sales/tables/orders/records", &app.admin_token, json!({"records": [
        {"fields": {"customer": [a], "amount": "1000.00", "booked_on": "2026-11-02", "rep": "王芳"}},
        {"fields": {"customer": [a], "amount": "130.34", "booked_on": "2026-11-20", "rep": "王芳"}},
        {"fields": {"customer": [b], "amount": "2.00", "booked_on": "2026-11-24", "rep": "李强"}},
        {"fields": {"customer": [b], "amount": "50.00", "booked_on": "2026-10-15", "rep": "李强"}}
    ]})).await.expect(StatusCode::CREATED);
}

async fn book_with_a_sale(app: &TestApp) {
    app.post(
        "/api/v1/ledger/books",
        &app.admin_token,
        json!({"name": "主账套", "template": "cas", "base_currency": "CNY"}),
    )
    .await
    .expect(StatusCode::CREATED);
    crate::ledger::post_voucher(app, "主账套", json!({"date": "2026-11-08", "word": "记", "lines": [
        {"summary": "销售", "account": "1122", "dimensions": {"customer": "湖州优品"}, "debit": "113.00", "credit": "0"},
        {"summary": "销售", "account": "6001", "debit": "0", "credit": "100.00"},
        {"summary": "销项税", "account": "22210102", "debit": "0", "credit": "13.00"}]})).await;
}

fn widgets() -> Value {
    json!([
        {"key": "orders", "title": "本月订单 Orders this month", "type": "number", "table": "orders", "metric": "count",
         "date_field": "booked_on", "period": "this_month", "compare": true},
        {"key": "amount", "title": "本月金额 Amount this month", "type": "number", "table": "orders", "metric": "sum:amount",
         "date_field": "booked_on", "period": "this_month"},
        {"key": "by_week", "title": "按周 By week", "type": "chart", "chart": "line", "table": "orders",
         "group_by": "booked_on:week", "metrics": ["count", "sum:amount"]},
        {"key": "by_rep", "title": "按销售 By rep", "type": "chart", "chart": "bar", "table": "orders", "group_by": "rep", "metrics": "sum:amount"},
        {"key": "top", "title": "前五客户 Top customers", "type": "top", "table": "orders", "group_by": "customer", "metric": "sum:amount", "limit": 5},
        {"key": "revenue", "title": "本月收入 Revenue", "type": "ledger", "book": "主账套", "account": "6001", "measure": "movement"},
        {"key": "receivables", "title": "应收账款 Receivables", "type": "ledger", "book": "主账套", "account": "1122"},
        {"key": "latest", "title": "最新订单 Latest orders", "type": "records", "table": "orders", "view": "latest", "limit": 2}
    ])
}

async fn put(app: &TestApp, token: &str, body: Value) -> Reply {
    app.call(Method::PUT, BOARD, Some(token), Some(body)).await
}

fn widget<'a>(data: &'a Value, key: &str) -> &'a Value {
    data["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|widget| widget["key"] == key)
        .unwrap_or_else(|| panic!("no widget {key} in {data}"))
}

api_tests! {
    async fn a_dashboard_is_put_read_and_listed_and_answers_every_widget_at_once(app) {
        sales(&app).await;
        book_with_a_sale(&app).await;
        let created = put(&app, &app.admin_token, json!({"name": "老板看板 Boss", "widgets": widgets()})).await.expect(StatusCode::CREATED).clone();
        assert_eq!((created["key"].as_str(), created["widgets"].as_array().unwrap().len()), (Some("boss"), 8));
        let replaced = put(&app, &app.admin_token, json!({"name": "Boss", "widgets": widgets()})).await.expect(StatusCode::OK).clone();
        assert_eq!((replaced["name"].as_str(), &replaced["id"]), (Some("Boss"), &created["id"]));
        let listed = app.get("/api/v1/apps/sales/dashboards", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert_eq!(app.get(BOARD, &app.admin_token).await.expect(StatusCode::OK)["widgets"][2]["chart"], "line");

        let data = app.get(&format!("{BOARD}/data"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(data["today"], "2026-11-25");
        let orders = widget(&data, "orders");
        assert_eq!((&orders["data"]["value"], &orders["data"]["previous"], &orders["error"]), (&json!(3), &json!(1), &Value::Null), "{orders}");
        assert_eq!(orders["table"], "orders");
        assert_eq!(widget(&data, "amount")["data"]["value"], "1132.34");
        let weeks = &widget(&data, "by_week")["data"]["groups"];
        let keys: Vec<&Value> = weeks.as_array().unwrap().iter().map(|g| &g["key"]["booked_on:week"]).collect();
        assert_eq!(keys, [&json!("2026-W42"), &json!("2026-W45"), &json!("2026-W47"), &json!("2026-W48")], "{weeks}");
        let reps = &widget(&data, "by_rep")["data"]["groups"];
        assert_eq!((&reps[0]["key"]["rep"], &reps[0]["sum:amount"]), (&json!("王芳"), &json!("1130.34")), "{reps}");
        let top = &widget(&data, "top")["data"]["groups"];
        assert_eq!((&top[0]["key"]["customer"]["name"], &top[1]["sum:amount"]), (&json!("湖州优品"), &json!("52.00")), "{top}");
        let revenue = &widget(&data, "revenue")["data"];
        assert_eq!((revenue["amount"].as_str(), revenue["side"].as_str(), revenue["period"].as_str()), (Some("100.00"), Some("credit"), Some("2026-11")), "{revenue}");
        let receivables = &widget(&data, "receivables")["data"];
        assert_eq!((receivables["amount"].as_str(), receivables["side"].as_str()), (Some("113.00"), Some("debit")), "{receivables}");
        let latest = &widget(&data, "latest")["data"]["items"];
        assert_eq!((latest.as_array().unwrap().len(), &latest[0]["fields"]["amount"]), (2, &json!("2.00")), "{latest}");

        // Only the widgets asked for; an unknown one is a 400.
        let some = app.get(&format!("{BOARD}/data?widgets=amount,top"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(some["widgets"].as_array().unwrap().len(), 2);
        app.get(&format!("{BOARD}/data?widgets=ghost"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get("/api/v1/apps/sales/dashboards/ghost", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn unknown_tables_fields_views_and_accounts_are_422_naming_them_and_nothing_is_stored(app) {
        sales(&app).await;
        book_with_a_sale(&app).await;
        let cases = [
            (json!({"title": "A", "type": "number", "table": "ghosts"}), "widgets[0].table", "not_found"),
            (json!({"title": "A", "type": "number", "table": "orders", "metric": "sum:ghost"}), "widgets[0].metric", "unknown_field"),
            (json!({"title": "A", "type": "chart", "table": "orders", "group_by": "ghost"}), "widgets[0].group_by", "unknown_field"),
            (json!({"title": "A", "type": "top", "table": "orders", "group_by": "rep", "filter": {"field": "ghost", "op": "eq", "value": 1}}), "widgets[0].filter", "unknown_field"),
            (json!({"title": "A", "type": "number", "table": "orders", "date_field": "ghost", "period": "this_month"}), "widgets[0].date_field", "unknown_field"),
            (json!({"title": "A", "type": "records", "table": "orders", "view": "ghost"}), "widgets[0].view", "not_found"),
            (json!({"title": "A", "type": "ledger", "book": "主账套", "account": "9999"}), "widgets[0].account", "not_found"),
            (json!({"title": "A", "type": "gauge"}), "widgets[0].type", "not_one_of"),
        ];
        for (bad, field, code) in cases {
            let reply = put(&app, &app.admin_token, json!({"name": "Boss", "widgets": [bad]})).await;
            let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
            let detail = &error["details"][0];
            assert_eq!((detail["field"].as_str(), detail["code"].as_str()), (Some(field), Some(code)), "{error}");
        }
        app.get(BOARD, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // A book that does not exist yet is accepted: the widget says so in place.
        put(&app, &app.admin_token, json!({"name": "Boss", "widgets": [{"title": "Cash", "type": "ledger", "book": "Later", "account": "1002"}]})).await.expect(StatusCode::CREATED);
        let data = app.get(&format!("{BOARD}/data"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(data["widgets"][0]["error"]["code"], "not_found", "{data}");
        app
    }

    async fn a_failing_widget_carries_its_error_in_place_and_ledger_widgets_need_ledger_read(app) {
        sales(&app).await;
        book_with_a_sale(&app).await;
        put(&app, &app.admin_token, json!({"name": "Boss", "widgets": widgets()})).await.expect(StatusCode::CREATED);
        let reader = app.token(&["apps:read", "records:read"]).await;
        let data = app.get(&format!("{BOARD}/data"), &reader).await.expect(StatusCode::OK).clone();
        assert_eq!(widget(&data, "revenue")["error"]["code"], "insufficient_scope", "{data}");
        assert_eq!(widget(&data, "amount")["data"]["value"], "1132.34");
        // The data are records: apps:read alone does not read them; apps:read does read the definition.
        let schema_only = app.token(&["apps:read"]).await;
        app.get(&format!("{BOARD}/data"), &schema_only).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.get(BOARD, &schema_only).await.expect(StatusCode::OK);
        put(&app, &schema_only, json!({"name": "Boss", "widgets": []})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        // A field a widget reads is deleted: that widget fails, the others still answer.
        let fields = app.get("/api/v1/apps/sales/tables/orders/fields", &app.admin_token).await.expect(StatusCode::OK).clone();
        let rep = fields["items"].as_array().unwrap().iter().find(|field| field["key"] == "rep").unwrap()["id"].as_str().unwrap().to_owned();
        app.delete(&format!("/api/v1/apps/sales/tables/orders/fields/{rep}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let data = app.get(&format!("{BOARD}/data"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let by_rep = widget(&data, "by_rep");
        assert_eq!((&by_rep["data"], by_rep["error"]["code"].as_str()), (&Value::Null, Some("invalid_request")), "{by_rep}");
        assert_eq!(widget(&data, "orders")["data"]["value"], 3);
        app
    }

    async fn a_dashboard_is_deleted_with_apps_write_and_the_others_stay(app) {
        sales(&app).await;
        put(&app, &app.admin_token, json!({"name": "Boss", "widgets": [widgets()[0].clone()]})).await.expect(StatusCode::CREATED);
        app.call(Method::PUT, "/api/v1/apps/sales/dashboards/second", Some(&app.admin_token), Some(json!({"name": "Second", "widgets": []}))).await.expect(StatusCode::CREATED);
        let reader = app.token(&["apps:read", "records:read"]).await;
        app.call(Method::DELETE, BOARD, Some(&reader), None).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.call(Method::DELETE, BOARD, Some(&app.admin_token), None).await.expect(StatusCode::NO_CONTENT);
        app.get(BOARD, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::DELETE, BOARD, Some(&app.admin_token), None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let listed = app.get("/api/v1/apps/sales/dashboards", &app.admin_token).await.expect(StatusCode::OK).clone();
        let keys: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|d| d["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["second"]);
        // The key is free again.
        put(&app, &app.admin_token, json!({"name": "Boss again", "widgets": []})).await.expect(StatusCode::CREATED);
        app
    }

    async fn a_posted_voucher_is_a_voucher_posted_event_naming_the_book_its_ledger_widgets_read(app) {
        sales(&app).await;
        book_with_a_sale(&app).await;
        put(&app, &app.admin_token, json!({"name": "Boss", "widgets": widgets()})).await.expect(StatusCode::CREATED);
        let data = app.get(&format!("{BOARD}/data?widgets=revenue,orders"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let book_id = widget(&data, "revenue")["book_id"].as_str().unwrap().to_owned();
        assert_eq!(widget(&data, "revenue")["data"]["book_id"], book_id.as_str());
        assert_eq!(widget(&data, "orders")["book_id"], Value::Null);
        let ledger_reader = app.token(&["ledger:read"]).await;
        let events = app.get("/api/v1/events?types=voucher.posted", &ledger_reader).await.expect(StatusCode::OK).clone();
        let items = events["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{events}");
        assert_eq!(items[0]["subject"]["book_id"], book_id.as_str());
        assert_eq!((items[0]["data"]["after"]["state"].as_str(), items[0]["data"]["after"]["total"].as_str()), (Some("posted"), Some("113.00")));
        // Ledger events are for ledger readers.
        let records_reader = app.token(&["records:read"]).await;
        app.get("/api/v1/events?types=voucher.posted", &records_reader).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        let mine = app.get("/api/v1/events", &records_reader).await.expect(StatusCode::OK).clone();
        assert!(mine["items"].as_array().unwrap().iter().all(|event| event["type"] != "voucher.posted"), "{mine}");
        app
    }

    async fn dashboards_are_exported_diffed_and_imported_with_their_app(app) {
        sales(&app).await;
        put(&app, &app.admin_token, json!({"name": "Boss", "widgets": [widgets()[0].clone(), widgets()[7].clone()]})).await.expect(StatusCode::CREATED);
        let exported = app.get("/api/v1/apps/sales/export?format=json", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(exported["dashboards"][0]["key"], "boss", "{exported}");
        assert_eq!(exported["dashboards"][0]["widgets"][1]["view"], "latest");
        // The same file again: nothing to do.
        let same = app.post("/api/v1/apps/import?dry_run=true", &app.admin_token, exported.clone()).await.expect(StatusCode::OK).clone();
        assert_eq!(same["steps"], json!([]), "{same}");
        let mut changed = exported.clone();
        changed["dashboards"][0]["widgets"][0]["title"] = json!("Orders");
        changed["dashboards"].as_array_mut().unwrap().push(json!({"name": "Second", "widgets": [{"title": "Count", "type": "number", "table": "orders"}]}));
        let diff = app.post("/api/v1/apps/import?dry_run=true", &app.admin_token, changed.clone()).await.expect(StatusCode::OK).clone();
        assert_eq!(diff["steps"], json!(["~ dashboards"]), "{diff}");
        app.post("/api/v1/apps/import", &app.admin_token, changed).await.expect(StatusCode::OK);
        let listed = app.get("/api/v1/apps/sales/dashboards", &app.admin_token).await.expect(StatusCode::OK).clone();
        let keys: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|d| d["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["boss", "second"]);
        assert_eq!(listed["items"][0]["widgets"][0]["title"], "Orders");
        // A dashboard naming a field the file does not have: 422 at its path, nothing applied.
        let mut bad = exported.clone();
        bad["dashboards"][0]["widgets"][0]["metric"] = json!("sum:ghost");
        let error = app.post("/api/v1/apps/import", &app.admin_token, bad).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "dashboards[0].widgets[0].metric", "{error}");
        let after = app.get("/api/v1/apps/sales/dashboards", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(after["items"].as_array().unwrap().len(), 2);
        app
    }
}
