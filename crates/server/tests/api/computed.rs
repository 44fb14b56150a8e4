//! Computed fields: formulas (stored, and computed when read for TODAY()/NOW()), lookups, rollups and
//! counts kept current through links, `formula=` filters.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::records::urlencode;
use crate::{TestApp, api_tests};

const ORDERS: &str = "/api/v1/apps/shop/tables/orders";
const LINES: &str = "/api/v1/apps/shop/tables/lines";

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
            {"name": "客户", "key": "customer", "type": "text"},
            {"name": "Due", "key": "due", "type": "date"}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/shop/tables", &app.admin_token, json!({"name": "Lines", "key": "lines", "fields": [
        {"name": "Item", "key": "item", "type": "text"},
        {"name": "单价", "key": "price", "type": "currency"},
        {"name": "数量", "key": "qty", "type": "number"},
        {"name": "金额", "key": "amount", "type": "formula", "options": {"formula": "ROUND({单价} * {数量}, 2)"}},
        {"name": "Order", "key": "order", "type": "link", "options": {"table": "orders", "multiple": false, "inverse_key": "lines", "inverse_name": "Lines"}}
    ]})).await.expect(StatusCode::CREATED);
}

async fn field(app: &TestApp, table: &str, key: &str) -> Value {
    let schema = app
        .get(table, &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no field {key}: {schema}"))
}

async fn add_field(app: &TestApp, table: &str, body: Value) -> Value {
    app.post(&format!("{table}/fields"), &app.admin_token, body)
        .await
        .expect(StatusCode::CREATED)
        .clone()
}

async fn create(app: &TestApp, table: &str, fields: Value) -> Value {
    app.post(
        &format!("{table}/records"),
        &app.admin_token,
        json!({"fields": fields}),
    )
    .await
    .expect(StatusCode::CREATED)
    .clone()
}

async fn read(app: &TestApp, table: &str, id: &Value) -> Value {
    app.get(
        &format!("{table}/records/{}", id.as_str().unwrap()),
        &app.admin_token,
    )
    .await
    .expect(StatusCode::OK)["fields"]
        .clone()
}

api_tests! {
    async fn a_formula_field_shows_its_type_computes_on_write_and_survives_renames(app) {
        shop(&app).await;
        let amount = field(&app, LINES, "amount").await;
        assert_eq!(amount["type"], "formula");
        assert_eq!(amount["options"]["formula"], "ROUND({单价} * {数量}, 2)");
        assert_eq!(amount["result"], json!({"type": "number", "precision": 2}));

        let line = create(&app, LINES, json!({"item": "茶", "price": "12.50", "qty": 3})).await;
        assert_eq!(line["fields"]["amount"], "37.50", "decimal results travel as strings with their scale");
        let id = line["id"].clone();
        app.patch(&format!("{LINES}/records/{}", id.as_str().unwrap()), &app.admin_token, json!({"fields": {"qty": 4}})).await.expect(StatusCode::OK);
        assert_eq!(read(&app, LINES, &id).await["amount"], "50.00");

        // A computed field cannot be written.
        let refused = app.patch(&format!("{LINES}/records/{}", id.as_str().unwrap()), &app.admin_token, json!({"fields": {"amount": "1.00"}})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);

        // Renaming an input keeps the formula working and shows the new name.
        let price = field(&app, LINES, "price").await;
        app.patch(&format!("{LINES}/fields/{}", price["id"].as_str().unwrap()), &app.admin_token, json!({"name": "Unit price"})).await.expect(StatusCode::OK);
        assert_eq!(field(&app, LINES, "amount").await["options"]["formula"], "ROUND({Unit price} * {数量}, 2)");
        app.patch(&format!("{LINES}/records/{}", id.as_str().unwrap()), &app.admin_token, json!({"fields": {"price": "1.25"}})).await.expect(StatusCode::OK);
        assert_eq!(read(&app, LINES, &id).await["amount"], "5.00");

        // Changing the formula recomputes every record.
        app.patch(&format!("{LINES}/fields/{}", amount["id"].as_str().unwrap()), &app.admin_token, json!({"options": {"formula": "{Unit price} * {数量} * 2"}}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(read(&app, LINES, &id).await["amount"], "10.00");
        app
    }

    async fn bad_formulas_are_refused_with_the_place_and_a_suggestion(app) {
        shop(&app).await;
        let reply = app.post(&format!("{LINES}/fields"), &app.admin_token, json!({"name": "Bad", "type": "formula", "options": {"formula": "{单介} * 2"}})).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "body.options.formula", "{error}");
        let reason = error["details"][0]["reason"].as_str().unwrap();
        assert!(reason.contains("did you mean \"单价\""), "{reason}");
        let types = app.post(&format!("{LINES}/fields"), &app.admin_token, json!({"name": "Bad", "type": "formula", "options": {"formula": "{Item} + 1"}})).await;
        types.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let missing = app.post(&format!("{LINES}/fields"), &app.admin_token, json!({"name": "Bad", "type": "formula"})).await;
        missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let unique = app.post(&format!("{LINES}/fields"), &app.admin_token, json!({"name": "Bad", "type": "formula", "unique": true, "options": {"formula": "1"}})).await;
        unique.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        // A field a formula reads cannot be deleted, nor change to a type the formula cannot read.
        let qty = field(&app, LINES, "qty").await;
        let deleted = app.delete(&format!("{LINES}/fields/{}", qty["id"].as_str().unwrap()), &app.admin_token).await;
        let error = deleted.expect_error(StatusCode::CONFLICT, "conflict").clone();
        assert!(error["message"].as_str().unwrap().contains("amount"), "{error}");
        let retyped = app.patch(&format!("{LINES}/fields/{}", qty["id"].as_str().unwrap()), &app.admin_token, json!({"type": "text"})).await;
        retyped.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }

    async fn formula_fields_filter_and_sort_in_the_database(app) {
        shop(&app).await;
        for (item, price, qty) in [("a", "10.00", 1), ("b", "2.50", 10), ("c", "99.99", 2), ("d", "1.00", 0)] {
            create(&app, LINES, json!({"item": item, "price": price, "qty": qty})).await;
        }
        let filter = urlencode(&json!({"field": "amount", "op": "gte", "value": "25"}).to_string());
        let page = app.get(&format!("{LINES}/records?filter={filter}&sort=-amount&fields=item,amount"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let got: Vec<(&str, &str)> = page["items"].as_array().unwrap().iter().map(|r| (r["fields"]["item"].as_str().unwrap(), r["fields"]["amount"].as_str().unwrap())).collect();
        assert_eq!(got, vec![("c", "199.98"), ("b", "25.00")]);

        let condition = urlencode("AND({数量} > 0, {金额} < 100)");
        let page = app.get(&format!("{LINES}/records?formula={condition}&sort=item&count=true"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let items: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["fields"]["item"].as_str().unwrap()).collect();
        assert_eq!(items, vec!["a", "b"]);
        assert_eq!(page["total"], 2);

        let bad = app.get(&format!("{LINES}/records?formula={}", urlencode("{金额} + 1")), &app.admin_token).await;
        let error = bad.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
        assert!(error["details"][0]["reason"].as_str().unwrap().contains("TRUE or FALSE"), "{error}");
        let regex = app.get(&format!("{LINES}/records?formula={}", urlencode("REGEX_MATCH({Item}, \"^a\")")), &app.admin_token).await;
        regex.expect_error(StatusCode::BAD_REQUEST, "invalid_request");

        let groups = app.get(&format!("{LINES}/aggregate?metrics=sum:amount,max:amount"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(groups["groups"][0]["sum:amount"], "234.98");
        app
    }

    async fn rollups_lookups_and_counts_follow_every_change_of_the_linked_records(app) {
        shop(&app).await;
        add_field(&app, ORDERS, json!({"name": "Total", "key": "total", "type": "rollup", "options": {"link": "lines", "field": "amount", "function": "sum"}})).await;
        add_field(&app, ORDERS, json!({"name": "Average", "key": "average", "type": "rollup", "options": {"link": "lines", "field": "amount", "function": "avg"}})).await;
        let count = add_field(&app, ORDERS, json!({"name": "Line count", "key": "line_count", "type": "count", "options": {"link": "lines"}})).await;
        assert_eq!(count["options"], json!({"link": "lines"}));
        let items = add_field(&app, ORDERS, json!({"name": "Items", "key": "items", "type": "lookup", "options": {"link": "lines", "field": "item"}})).await;
        assert_eq!(items["result"], json!({"type": "list", "of": {"type": "text"}}));
        add_field(&app, ORDERS, json!({"name": "Large", "key": "large", "type": "formula", "options": {"formula": "IF({Total} > 100, \"large\", \"small\")"}})).await;

        let a = create(&app, ORDERS, json!({"customer": "湖州优品"})).await;
        assert_eq!(a["fields"]["total"], "0.00", "the sum of no lines is 0");
        assert_eq!(a["fields"]["line_count"], 0);
        assert!(a["fields"].get("average").is_none_or(Value::is_null), "the average of nothing is empty");
        let b = create(&app, ORDERS, json!({"customer": "Ærø"})).await;
        let tea = create(&app, LINES, json!({"item": "茶", "price": "12.50", "qty": 3, "order": [a["id"]]})).await;
        let cup = create(&app, LINES, json!({"item": "杯", "price": "80.00", "qty": 1, "order": [a["id"]]})).await;
        let order = read(&app, ORDERS, &a["id"]).await;
        assert_eq!(order["total"], "117.50");
        assert_eq!(order["average"], "58.75000000", "averages keep 6 more decimals, as AVERAGE does");
        assert_eq!(order["line_count"], 2);
        assert_eq!(order["items"], json!(["茶", "杯"]));
        assert_eq!(order["large"], "large");

        // A line's price changes: its amount, then the order's total and formula follow.
        app.patch(&format!("{LINES}/records/{}", tea["id"].as_str().unwrap()), &app.admin_token, json!({"fields": {"price": "1.00"}})).await.expect(StatusCode::OK);
        let order = read(&app, ORDERS, &a["id"]).await;
        assert_eq!(order["total"], "83.00");
        assert_eq!(order["large"], "small");

        // A line moves to the other order: both orders follow.
        app.patch(&format!("{LINES}/records/{}", cup["id"].as_str().unwrap()), &app.admin_token, json!({"fields": {"order": [b["id"]]}})).await.expect(StatusCode::OK);
        assert_eq!(read(&app, ORDERS, &a["id"]).await["total"], "3.00");
        assert_eq!(read(&app, ORDERS, &b["id"]).await["total"], "80.00");

        // Linking from the other side works the same.
        app.patch(&format!("{ORDERS}/records/{}", b["id"].as_str().unwrap()), &app.admin_token, json!({"fields": {"lines": [cup["id"], tea["id"]]}})).await.expect(StatusCode::OK);
        assert_eq!(read(&app, ORDERS, &a["id"]).await["line_count"], 0);
        assert_eq!(read(&app, ORDERS, &b["id"]).await["total"], "83.00");

        // A deleted line leaves the order.
        app.delete(&format!("{LINES}/records/{}", cup["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let order = read(&app, ORDERS, &b["id"]).await;
        assert_eq!(order["total"], "3.00");
        assert_eq!(order["items"], json!(["茶"]));

        // Rollups filter and sort like any number.
        let filter = urlencode(&json!({"field": "total", "op": "gt", "value": "1"}).to_string());
        let page = app.get(&format!("{ORDERS}/records?filter={filter}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        // The link a rollup reads cannot be deleted under it.
        let lines = field(&app, ORDERS, "lines").await;
        app.delete(&format!("{ORDERS}/fields/{}", lines["id"].as_str().unwrap()), &app.admin_token).await.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }

    async fn a_rollup_added_later_is_computed_for_existing_records(app) {
        shop(&app).await;
        let a = create(&app, ORDERS, json!({"customer": "A"})).await;
        create(&app, LINES, json!({"item": "x", "price": "2.00", "qty": 2, "order": [a["id"]]})).await;
        create(&app, LINES, json!({"item": "y", "price": "3.00", "qty": 1, "order": [a["id"]]})).await;
        add_field(&app, ORDERS, json!({"name": "Most", "key": "most", "type": "rollup", "options": {"link": "lines", "field": "amount", "function": "max"}})).await;
        add_field(&app, ORDERS, json!({"name": "Names", "key": "names", "type": "rollup", "options": {"link": "lines", "field": "item", "function": "concat"}})).await;
        let order = read(&app, ORDERS, &a["id"]).await;
        assert_eq!(order["most"], "4.00");
        assert_eq!(order["names"], "x, y");
        let bad = app.post(&format!("{ORDERS}/fields"), &app.admin_token, json!({"name": "Bad", "type": "rollup", "options": {"link": "customer", "field": "amount", "function": "sum"}})).await;
        bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let wrong = app.post(&format!("{ORDERS}/fields"), &app.admin_token, json!({"name": "Bad", "type": "rollup", "options": {"link": "lines", "field": "item", "function": "sum"}})).await;
        wrong.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let function = app.post(&format!("{ORDERS}/fields"), &app.admin_token, json!({"name": "Bad", "type": "rollup", "options": {"link": "lines", "field": "amount", "function": "median"}})).await;
        function.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app
    }

    async fn today_is_read_from_the_clock_when_the_value_is_read_filtered_or_sorted(app) {
        shop(&app).await;
        let days = add_field(&app, ORDERS, json!({"name": "Days left", "key": "days_left", "type": "formula", "options": {"formula": "DATETIME_DIFF({Due}, TODAY(), \"days\")"}})).await;
        assert_eq!(days["result"], json!({"type": "number", "precision": 0}));
        // The clock says 2026-11-25 17:00 in Shanghai.
        let soon = create(&app, ORDERS, json!({"customer": "soon", "due": "2026-11-27"})).await;
        assert_eq!(soon["fields"]["days_left"], "2");
        create(&app, ORDERS, json!({"customer": "later", "due": "2026-12-25"})).await;
        create(&app, ORDERS, json!({"customer": "late", "due": "2026-11-20"})).await;
        app.clock.advance(chrono::TimeDelta::days(3));
        assert_eq!(read(&app, ORDERS, &soon["id"]).await["days_left"], "-1", "never frozen at write time");
        let filter = urlencode(&json!({"field": "days_left", "op": "lt", "value": 0}).to_string());
        let page = app.get(&format!("{ORDERS}/records?filter={filter}&sort=days_left&page_size=1"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["items"][0]["fields"]["customer"], "late");
        assert_eq!(page["items"][0]["fields"]["days_left"], "-8");
        let cursor = page["next_cursor"].as_str().expect("a second page").to_owned();
        let next = app.get(&format!("{ORDERS}/records?filter={filter}&sort=days_left&page_size=1&cursor={cursor}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(next["items"][0]["fields"]["customer"], "soon");
        assert!(next["next_cursor"].is_null());
        let overdue = app.get(&format!("{ORDERS}/records?formula={}&count=true", urlencode("{Days left} < 0")), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(overdue["total"], 2);
        // A formula over a TODAY() formula depends on the clock too: computed when read, never frozen.
        add_field(&app, ORDERS, json!({"name": "Late", "key": "late", "type": "formula", "options": {"formula": "IF({Days left} < 0, \"late\", \"on time\")"}})).await;
        assert_eq!(read(&app, ORDERS, &soon["id"]).await["late"], "late");
        app.clock.advance(chrono::TimeDelta::days(-10));
        assert_eq!(read(&app, ORDERS, &soon["id"]).await["late"], "on time");
        // A stored formula with readers cannot start reading the clock under them.
        add_field(&app, ORDERS, json!({"name": "Label", "key": "label", "type": "formula", "options": {"formula": "UPPER({客户})"}})).await;
        add_field(&app, ORDERS, json!({"name": "Label2", "key": "label2", "type": "formula", "options": {"formula": "{Label} & \"!\""}})).await;
        let label = field(&app, ORDERS, "label").await;
        let clocked = app.patch(&format!("{ORDERS}/fields/{}", label["id"].as_str().unwrap()), &app.admin_token, json!({"options": {"formula": "UPPER({客户}) & TEXT(TODAY())"}})).await;
        clocked.expect_error(StatusCode::CONFLICT, "conflict");
        // It has no column: it cannot be grouped, aggregated or looked up.
        let grouped = app.get(&format!("{ORDERS}/aggregate?group_by=days_left"), &app.admin_token).await;
        grouped.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        let lookup = app.post(&format!("{LINES}/fields"), &app.admin_token, json!({"name": "Left", "type": "lookup", "options": {"link": "order", "field": "days_left"}})).await;
        lookup.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app
    }
}

api_tests! {
    async fn validation_rules_refuse_records_that_break_them_with_their_message(app) {
        shop(&app).await;
        let table = app
            .patch(LINES, &app.admin_token, json!({"validation_rules": [
                {"formula": "{数量} > 0", "message": "数量必须大于 0"},
                {"formula": "OR(ISBLANK({金额}), {金额} <= 1000)", "message": "An order line is at most 1000"}
            ]}))
            .await
            .expect(StatusCode::OK)
            .clone();
        assert_eq!(table["validation_rules"][0], json!({"formula": "{数量} > 0", "message": "数量必须大于 0"}));
        let broken = app.post(&format!("{LINES}/records"), &app.admin_token, json!({"fields": {"item": "x", "price": "600", "qty": 2}})).await;
        let error = broken.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"], json!([{"field": "fields", "code": "rule_broken", "params": {"message": "An order line is at most 1000"}, "reason": "An order line is at most 1000"}]));
        let both = app.post(&format!("{LINES}/records"), &app.admin_token, json!({"records": [
            {"fields": {"item": "ok", "price": "1", "qty": 1}},
            {"fields": {"item": "none", "price": "1", "qty": 0}}
        ]})).await;
        let error = both.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"], json!([{"field": "records[1].fields", "code": "rule_broken", "params": {"message": "数量必须大于 0"}, "reason": "数量必须大于 0"}]));
        let page = app.get(&format!("{LINES}/records?count=true"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["total"], 0, "nothing of a refused write is saved");

        let good = create(&app, LINES, json!({"item": "ok", "price": "10", "qty": 1})).await;
        let update = app.patch(&format!("{LINES}/records/{}", good["id"].as_str().unwrap()), &app.admin_token, json!({"fields": {"qty": 0}})).await;
        update.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(read(&app, LINES, &good["id"]).await["qty"], 1, "the refused update changed nothing");

        let bad_rule = app.patch(LINES, &app.admin_token, json!({"validation_rules": [{"formula": "{数量} + 1", "message": "x"}]})).await;
        let error = bad_rule.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "validation_rules[0].formula");
        let qty = field(&app, LINES, "qty").await;
        let deleted = app.delete(&format!("{LINES}/fields/{}", qty["id"].as_str().unwrap()), &app.admin_token).await;
        deleted.expect_error(StatusCode::CONFLICT, "conflict");
        app
    }
}
