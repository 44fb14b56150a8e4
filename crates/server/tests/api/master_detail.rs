//! Master–detail forms: a form's sub-table (an order with its lines) is created with the main record in
//! one transaction, checked row by row, and described in app files.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

const ORDERS: &str = "/api/v1/apps/shop/tables/orders";
const LINES: &str = "/api/v1/apps/shop/tables/lines";

/// Orders (customer, channel, a rollup and a count over their lines) and lines (product, qty, price,
/// an amount formula, the link to their order).
async fn shop(app: &TestApp) {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "Shop", "key": "shop"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/shop/tables",
        &app.admin_token,
        json!({"name": "Orders", "key": "orders", "fields": [
            {"name": "客户", "key": "customer", "type": "text", "required": true},
            {"name": "Channel", "key": "channel", "type": "text"},
            {"name": "Number", "key": "number", "type": "autonumber"}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/shop/tables", &app.admin_token, json!({"name": "Lines", "key": "lines", "fields": [
        {"name": "Product", "key": "product", "type": "text", "required": true},
        {"name": "数量", "key": "qty", "type": "number"},
        {"name": "单价", "key": "price", "type": "currency"},
        {"name": "金额", "key": "amount", "type": "formula", "options": {"formula": "ROUND({单价} * {数量}, 2)"}},
        {"name": "Order", "key": "order", "type": "link", "options": {"table": "orders", "multiple": false, "inverse_key": "lines", "inverse_name": "Lines"}}
    ]})).await.expect(StatusCode::CREATED);
    for field in [
        json!({"name": "Total", "key": "total", "type": "rollup", "options": {"link": "lines", "field": "amount", "function": "sum"}}),
        json!({"name": "Line count", "key": "line_count", "type": "count", "options": {"link": "lines"}}),
    ] {
        app.post(&format!("{ORDERS}/fields"), &app.admin_token, field)
            .await
            .expect(StatusCode::CREATED);
    }
}

/// A public order form whose `lines` entry is a sub-table.
async fn order_form(app: &TestApp, subtable: Value) -> (Value, String) {
    let view = app
        .post(&format!("{ORDERS}/views"), &app.admin_token, json!({"name": "Order", "type": "form", "config": {
            "fields": ["customer", {"field": "channel", "prefill": true, "hidden": true}, {"field": "lines", "label": "商品", "subtable": subtable}],
            "public": true, "success_message": "订单 {Number} 已收到"}}))
        .await
        .expect(StatusCode::CREATED)
        .clone();
    let slug = view["public_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    (view, slug)
}

async fn submit(app: &TestApp, slug: &str, body: Value) -> Reply {
    app.call(
        Method::POST,
        &format!("/api/v1/forms/{slug}"),
        None,
        Some(body),
    )
    .await
}

async fn total(app: &TestApp, table: &str) -> Value {
    app.get(&format!("{table}/records?count=true"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["total"]
        .clone()
}

fn paths(error: &Value) -> Vec<String> {
    error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Every record event so far, oldest first.
async fn record_events(app: &TestApp) -> Vec<Value> {
    let page = app
        .get(
            "/api/v1/events?types=record.*&page_size=100",
            &app.admin_token,
        )
        .await
        .expect(StatusCode::OK)
        .clone();
    page["items"].as_array().unwrap().clone()
}

fn line(product: &str, qty: Value, price: &str) -> Value {
    json!({"product": product, "qty": qty, "price": price})
}

api_tests! {
    async fn a_submission_creates_the_order_and_its_three_lines_with_the_rollup_right_in_its_event(app) {
        shop(&app).await;
        let (_, slug) = order_form(&app, json!({"fields": ["product", "qty", "price"], "min_rows": 1, "max_rows": 50})).await;
        let page = app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await.expect(StatusCode::OK).clone();
        let keys: Vec<&str> = page["fields"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(keys, vec!["customer"], "the sub-table is not a field to fill in");
        assert_eq!(page["subtables"][0]["key"], "lines");
        assert_eq!(page["subtables"][0]["label"], "商品");
        assert_eq!(page["subtables"][0]["min_rows"], 1);
        let columns: Vec<&str> = page["subtables"][0]["fields"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(columns, vec!["product", "qty", "price"]);

        let before = record_events(&app).await.len();
        let done = submit(&app, &slug, json!({"fields": {"customer": "王芳", "lines": [
            line("茶叶", json!(2), "35.50"), line("茶杯", json!("4"), "12.00"), line("茶盘", json!(1), "88.00")
        ]}})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(done["message"], "订单 0001 已收到");
        let order = app.get(&format!("{ORDERS}/records/{}", done["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(order["fields"]["total"], "207.00");
        assert_eq!(order["fields"]["line_count"], 3);
        let linked: Vec<&str> = order["fields"]["lines"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
        assert_eq!(linked, vec!["茶叶", "茶杯", "茶盘"], "the lines in the order they were typed");
        let lines = app.get(&format!("{LINES}/records?sort=product"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let lines = lines["items"].as_array().unwrap();
        assert_eq!(lines.len(), 3);
        for line in lines {
            assert_eq!(line["fields"]["order"][0]["id"], done["id"], "every line names its order: {line}");
        }

        // The order's `record.created` already carries the rollup and count over its lines.
        let events = record_events(&app).await.split_off(before);
        let created: Vec<&Value> = events.iter().filter(|e| e["type"] == "record.created").collect();
        assert_eq!(created.len(), 4, "three lines and the order: {events:?}");
        let order_created = created.iter().find(|e| e["subject"]["record_id"] == done["id"]).expect("the order's event");
        assert_eq!(order_created["data"]["after"]["total"], "207.00");
        assert_eq!(order_created["data"]["after"]["line_count"], 3);
        assert_eq!(order_created["data"]["after"]["lines"].as_array().unwrap().len(), 3);
        app
    }

    async fn an_invalid_line_refuses_the_submission_at_its_cell_and_writes_nothing(app) {
        shop(&app).await;
        let (_, slug) = order_form(&app, json!({"fields": ["product", "qty", "price"], "min_rows": 1})).await;
        let (orders, lines, audit) = (total(&app, ORDERS).await, total(&app, LINES).await, app.audit_len().await);
        let refused = submit(&app, &slug, json!({"fields": {"customer": "王芳", "lines": [
            line("茶叶", json!(2), "35.50"), line("茶杯", json!("many"), "12.00"), {"qty": 1, "note": "gift"}
        ]}})).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let at = paths(&error);
        for expected in ["fields.lines[2].note", "fields.lines[1].qty", "fields.lines[2].product"] {
            assert!(at.iter().any(|path| path == expected), "{expected} in {at:?}");
        }
        assert!(!at.iter().any(|path| path.starts_with("fields.lines[0]")), "the good line is fine: {at:?}");
        // A line the store refuses (its unique value) also rolls back the order and the other lines.
        app.patch(&format!("{LINES}/fields/product"), &app.admin_token, json!({"unique": true})).await.expect(StatusCode::OK);
        assert_eq!(app.audit_len().await, audit + 1, "only the field change so far");
        let audit = audit + 1;
        let twice = submit(&app, &slug, json!({"fields": {"customer": "王芳", "lines": [line("茶叶", json!(1), "1.00"), line("茶叶", json!(1), "1.00")]}})).await;
        let error = twice.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert!(paths(&error).iter().all(|path| path.starts_with("fields.lines[")), "{error}");
        assert_eq!(total(&app, ORDERS).await, orders);
        assert_eq!(total(&app, LINES).await, lines);
        assert_eq!(app.audit_len().await, audit, "no audit entry, no event");
        app
    }

    async fn a_subtable_takes_between_min_rows_and_max_rows(app) {
        shop(&app).await;
        let (_, slug) = order_form(&app, json!({"fields": ["product", "qty"], "min_rows": 1, "max_rows": 2})).await;
        let many = submit(&app, &slug, json!({"fields": {"customer": "Ola", "lines": [
            {"product": "a"}, {"product": "b"}, {"product": "c"}
        ]}})).await;
        let error = many.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "fields.lines");
        assert_eq!(error["details"][0]["code"], "too_many");
        assert_eq!(error["details"][0]["params"]["max"], 2);
        let none = submit(&app, &slug, json!({"fields": {"customer": "Ola"}})).await;
        let error = none.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["code"], "too_few");
        let not_rows = submit(&app, &slug, json!({"fields": {"customer": "Ola", "lines": "a,b"}})).await;
        not_rows.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(total(&app, ORDERS).await, 0);
        assert_eq!(total(&app, LINES).await, 0);
        submit(&app, &slug, json!({"fields": {"customer": "Ola", "lines": [{"product": "a"}, {"product": "b"}]}})).await.expect(StatusCode::CREATED);
        assert_eq!(total(&app, LINES).await, 2);
        app
    }

    async fn a_public_form_fixes_a_prefilled_field_and_takes_only_the_subtables_fields(app) {
        shop(&app).await;
        let (_, slug) = order_form(&app, json!({"fields": ["product", "qty"]})).await;
        let page = app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await.expect(StatusCode::OK).clone();
        assert_eq!(page["fixed_by_link"], json!(["channel"]));
        let done = submit(&app, &slug, json!({"fields": {"customer": "Kari", "channel": "wechat", "lines": [{"product": "伞", "qty": 1}]}})).await.expect(StatusCode::CREATED).clone();
        let order = app.get(&format!("{ORDERS}/records/{}", done["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(order["fields"]["channel"], "wechat");
        assert_eq!(order["fields"]["line_count"], 1);
        // The price is a field of the lines, but not of this sub-table: a visitor cannot set it.
        let priced = submit(&app, &slug, json!({"fields": {"customer": "Eve", "lines": [{"product": "伞", "price": "0.01"}]}})).await;
        let error = priced.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(paths(&error), vec!["fields.lines[0].price"]);
        assert_eq!(total(&app, ORDERS).await, 1);
        app
    }

    async fn a_subtable_is_checked_when_the_form_is_saved(app) {
        shop(&app).await;
        let save = |config: Value| {
            let app = &app;
            async move { app.post(&format!("{ORDERS}/views"), &app.admin_token, json!({"name": "Bad", "type": "form", "config": config})).await }
        };
        let cases = [
            (json!({"fields": ["lines", {"field": "customer", "subtable": {"fields": ["product"]}}]}), "config.fields[1].field", "not_allowed"),
            (json!({"fields": [{"field": "lines", "subtable": {"fields": ["product", "colour"]}}]}), "config.fields[0].subtable.fields[1]", "unknown_field"),
            (json!({"fields": [{"field": "lines", "subtable": {"fields": ["amount"]}}]}), "config.fields[0].subtable.fields[0]", "read_only"),
            (json!({"fields": [{"field": "lines", "subtable": {"fields": ["order"]}}]}), "config.fields[0].subtable.fields[0]", "not_allowed"),
            (json!({"fields": [{"field": "lines", "subtable": {"fields": ["product"], "max_rows": 500}}]}), "config.fields[0].subtable.max_rows", "out_of_range"),
            (json!({"fields": [{"field": "lines", "subtable": {"fields": ["product"], "rows": 3}}]}), "config.fields[0].subtable.rows", "unknown_option"),
            (json!({"fields": ["customer", {"field": "lines", "subtable": {"fields": ["product"]}}], "upsert": true}), "config.upsert", "not_allowed"),
        ];
        for (config, at, code) in cases {
            let reply = save(config.clone()).await;
            let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
            assert!(
                error["details"].as_array().unwrap().iter().any(|d| d["field"] == at && d["code"] == code),
                "{config} should be refused at {at} ({code}): {error}"
            );
        }
        let views = app.get(&format!("{ORDERS}/views"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(views["items"], json!([]), "nothing was saved");
        app
    }

    async fn an_app_file_carries_a_form_subtable_through_export_and_import(app) {
        let definition = r#"
format: tenon.app/v1
key: duty
name: Duty
tables:
  - key: classes
    name: Classes
    fields:
      - {key: name, name: 班级, type: text, required: true}
      - {key: size, name: Size, type: count, options: {link: roster}}
    views:
      - key: enrol
        name: Enrol a class
        type: form
        config:
          public: true
          fields:
            - name
            - {field: roster, subtable: {fields: [student, week], min_rows: 1, max_rows: 40}}
  - key: roster
    name: Roster
    fields:
      - {key: student, name: Student, type: text, required: true}
      - {key: week, name: Week, type: number}
      - {key: class, name: Class, type: link, options: {table: classes, multiple: false, inverse_key: roster, inverse_name: Roster}}
"#;
        let send = |body: String, dry: bool| {
            let app = &app;
            async move {
                let path = if dry { "/api/v1/apps/import?dry_run=true" } else { "/api/v1/apps/import" };
                let request = app.http.post(format!("{}{path}", app.base)).bearer_auth(&app.admin_token).header("content-type", "application/yaml").body(body);
                Reply::from(request.send().await.unwrap()).await
            }
        };
        send(definition.to_owned(), false).await.expect(StatusCode::CREATED);
        let exported = app.http.get(format!("{}/api/v1/apps/duty/export?format=json", app.base)).bearer_auth(&app.admin_token).send().await.unwrap();
        let exported: Value = exported.json().await.unwrap();
        assert_eq!(
            exported["tables"][0]["views"][0]["config"]["fields"][1],
            json!({"field": "roster", "subtable": {"fields": ["student", "week"], "min_rows": 1, "max_rows": 40}})
        );
        let same = send(definition.to_owned(), true).await;
        assert_eq!(same.expect(StatusCode::OK)["steps"], json!([]), "the diff sees no change");
        let bad = definition.replace("[student, week]", "[student, colour]");
        let refused = send(bad, false).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert!(
            paths(&error).iter().any(|path| path.ends_with("config.fields[1].subtable.fields[1]")),
            "{error}"
        );
        // The imported form takes a class with its roster.
        let slug = exported["tables"][0]["views"][0]["public_slug"].as_str().map(str::to_owned);
        let slug = match slug {
            Some(slug) => slug,
            None => {
                let view = app.get("/api/v1/apps/duty/tables/classes/views/enrol", &app.admin_token).await.expect(StatusCode::OK).clone();
                view["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()
            }
        };
        submit(&app, &slug, json!({"fields": {"name": "三年级二班", "roster": [{"student": "李雷", "week": 1}, {"student": "韩梅梅"}]}})).await.expect(StatusCode::CREATED);
        let classes = app.get("/api/v1/apps/duty/tables/classes/records", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(classes["items"][0]["fields"]["size"], 2);
        app
    }
}
