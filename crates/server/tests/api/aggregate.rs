//! The aggregation API: groups, buckets in time zones, exploded multi-valued keys, exact decimals.

use reqwest::StatusCode;
use serde_json::json;

use crate::records::urlencode;
use crate::{TestApp, api_tests};

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
        {"name": "Booked at", "key": "booked_at", "type": "datetime"},
        {"name": "Oslo time", "key": "oslo", "type": "datetime", "options": {"time_zone": "Europe/Oslo"}},
        {"name": "Tags", "key": "tags", "type": "multi_select", "options": {"choices": ["vip", "new"]}},
        {"name": "Nights", "key": "nights", "type": "number"}
    ]})).await.expect(StatusCode::CREATED);
    let customers = app
        .post(
            "/api/v1/apps/sales/tables/customers/records",
            &app.admin_token,
            json!({"records": [{"fields": {"name": "湖州优品"}}, {"fields": {"name": "Ærø"}}]}),
        )
        .await;
    let customers = customers.expect(StatusCode::CREATED).clone();
    let a = customers["records"][0]["id"].clone();
    let b = customers["records"][1]["id"].clone();
    app.post("/api/v1/apps/sales/tables/orders/records", &app.admin_token, json!({"records": [
        {"fields": {"customer": [a], "amount": "1000.00", "booked_at": "2026-11-30T20:00:00Z", "oslo": "2026-03-29T00:30:00Z", "tags": ["vip", "new"], "nights": 1}},
        {"fields": {"customer": [a], "amount": "130.34", "booked_at": "2026-11-02T01:00:00Z", "oslo": "2026-10-24T22:30:00Z", "tags": ["vip"], "nights": 2}},
        {"fields": {"customer": [b], "amount": "2.00", "booked_at": "2026-10-15T12:00:00Z", "nights": 2}},
        {"fields": {"amount": "1.00", "nights": 5}}
    ]})).await.expect(StatusCode::CREATED);
}

const AGG: &str = "/api/v1/apps/sales/tables/orders/aggregate";

api_tests! {
    async fn groups_by_link_with_names_exact_sums_and_top_n(app) {
        sales(&app).await;
        let reply = app.get(&format!("{AGG}?group_by=customer&metrics=sum:amount,count,avg:amount&sort=-sum:amount"), &app.admin_token).await;
        let groups = reply.expect(StatusCode::OK)["groups"].clone();
        assert_eq!(groups[0]["key"]["customer"]["name"], "湖州优品");
        assert_eq!(groups[0]["sum:amount"], "1130.34");
        assert_eq!(groups[0]["count"], 2);
        assert_eq!(groups[0]["avg:amount"], "565.17");
        assert_eq!(groups[1]["sum:amount"], "2.00");
        assert_eq!(groups[2]["key"]["customer"], serde_json::Value::Null, "records without a link form their own group");
        let top = app.get(&format!("{AGG}?group_by=customer&metrics=sum:amount&sort=-sum:amount&limit=1"), &app.admin_token).await;
        assert_eq!(top.expect(StatusCode::OK)["groups"].as_array().unwrap().len(), 1);
        let avg = app.get(&format!("{AGG}?metrics=avg:nights,min:amount,max:amount,count_distinct:nights"), &app.admin_token).await;
        let total = avg.expect(StatusCode::OK)["groups"][0].clone();
        assert_eq!(total["avg:nights"], "2.5");
        assert_eq!(total["min:amount"], "1.00");
        assert_eq!(total["max:amount"], "1000.00");
        assert_eq!(total["count_distinct:nights"], 3);
        app
    }

    async fn date_buckets_follow_the_time_zone_including_daylight_saving(app) {
        sales(&app).await;
        let months = app.get(&format!("{AGG}?group_by=booked_at:month&metrics=count&sort=booked_at:month"), &app.admin_token).await;
        let keys: Vec<_> = months.expect(StatusCode::OK)["groups"].as_array().unwrap().iter().map(|g| g["key"]["booked_at:month"].clone()).collect();
        // 2026-11-30T20:00Z is already December in Shanghai.
        assert_eq!(keys, [json!(null), json!("2026-10"), json!("2026-11"), json!("2026-12")]);
        let days = app.get(&format!("{AGG}?group_by=oslo:day&sort=oslo:day"), &app.admin_token).await;
        let keys: Vec<_> = days.expect(StatusCode::OK)["groups"].as_array().unwrap().iter().map(|g| g["key"]["oslo:day"].clone()).collect();
        assert_eq!(keys, [json!(null), json!("2026-03-29"), json!("2026-10-25")]);
        let weeks = app.get(&format!("{AGG}?group_by=booked_at:week,booked_at:quarter&filter={}", urlencode(&json!({"field": "booked_at", "op": "is_not_empty"}).to_string())), &app.admin_token).await;
        let groups = weeks.expect(StatusCode::OK)["groups"].clone();
        assert_eq!(groups[0]["key"]["booked_at:week"], "2026-W42");
        assert_eq!(groups[0]["key"]["booked_at:quarter"], "2026-Q4");
        app
    }

    async fn multi_valued_keys_count_a_record_in_each_group_and_bad_specs_are_400(app) {
        sales(&app).await;
        let tags = app.get(&format!("{AGG}?group_by=tags&metrics=count&sort=-count"), &app.admin_token).await;
        let groups = tags.expect(StatusCode::OK)["groups"].clone();
        let counts: Vec<(serde_json::Value, serde_json::Value)> = groups.as_array().unwrap().iter().map(|g| (g["key"]["tags"].clone(), g["count"].clone())).collect();
        // Ties (two records without tags, two tagged vip) are ordered by key, empty first.
        assert_eq!(counts, [(json!(null), json!(2)), (json!("vip"), json!(2)), (json!("new"), json!(1))]);
        for bad in ["group_by=amount:month", "metrics=sum:tags", "metrics=median:amount", "sort=-nope", "group_by=ghost", "limit=0"] {
            app.get(&format!("{AGG}?{bad}"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
        app
    }

    async fn buckets_of_a_date_field_add_up_the_days_exactly(app) {
        // SQLite cuts a date field's months from its day groups (so an index on the date serves the
        // grouping); the figures must be the ones PostgreSQL computes over the rows directly.
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "Shop", "key": "shop"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/shop/tables", &app.admin_token, json!({"name": "Sales", "key": "sales", "fields": [
            {"name": "Day", "key": "day", "type": "date"},
            {"name": "Amount", "key": "amount", "type": "currency"},
            {"name": "Region", "key": "region", "type": "text"}
        ]})).await.expect(StatusCode::CREATED);
        let rows = [
            ("2026-01-05", Some("10.10"), "north"), ("2026-01-05", Some("0.01"), "south"),
            ("2026-01-31", Some("5.00"), "north"), ("2026-02-01", None, "north"),
            ("2026-02-28", Some("7.25"), "south"), ("2026-04-01", Some("100.00"), "north"),
            ("2025-12-31", Some("1.00"), "north"),
        ];
        let mut records: Vec<serde_json::Value> = rows.iter().map(|(day, amount, region)| json!({"fields": {"day": day, "amount": amount, "region": region}})).collect();
        records.push(json!({"fields": {"amount": "3.00", "region": "south"}}));
        app.post("/api/v1/apps/shop/tables/sales/records", &app.admin_token, json!({"records": records})).await.expect(StatusCode::CREATED);
        let url = "/api/v1/apps/shop/tables/sales/aggregate";
        let months = app.get(&format!("{url}?group_by=day:month&metrics=count,sum:amount,avg:amount,min:amount,max:amount&sort=day:month"), &app.admin_token).await;
        let groups = months.expect(StatusCode::OK)["groups"].clone();
        let got: Vec<serde_json::Value> = groups.as_array().unwrap().iter().map(|g| json!([g["key"]["day:month"], g["count"], g["sum:amount"], g["avg:amount"], g["min:amount"], g["max:amount"]])).collect();
        assert_eq!(got, [
            json!([null, 1, "3.00", "3", "3.00", "3.00"]),
            json!(["2025-12", 1, "1.00", "1", "1.00", "1.00"]),
            json!(["2026-01", 3, "15.11", "5.0367", "0.01", "10.10"]),
            json!(["2026-02", 2, "7.25", "7.25", "7.25", "7.25"]),
            json!(["2026-04", 1, "100.00", "100", "100.00", "100.00"]),
        ]);
        // Sorted by a combined average, with a second key and a filter on the rows.
        let filter = urlencode(&json!({"field": "day", "op": "is_not_empty"}).to_string());
        let years = app.get(&format!("{url}?group_by=day:year,region&metrics=count,avg:amount&sort=-avg:amount&filter={filter}"), &app.admin_token).await;
        let groups = years.expect(StatusCode::OK)["groups"].clone();
        let got: Vec<serde_json::Value> = groups.as_array().unwrap().iter().map(|g| json!([g["key"]["day:year"], g["key"]["region"], g["count"], g["avg:amount"]])).collect();
        assert_eq!(got, [
            json!(["2026", "north", 4, "38.3667"]),
            json!(["2026", "south", 2, "3.63"]),
            json!(["2025", "north", 1, "1"]),
        ]);
        let quarters = app.get(&format!("{url}?group_by=day:quarter&metrics=sum:amount,count_distinct:region&sort=-count_distinct:region"), &app.admin_token).await;
        let groups = quarters.expect(StatusCode::OK)["groups"].clone();
        let got: Vec<serde_json::Value> = groups.as_array().unwrap().iter().map(|g| json!([g["key"]["day:quarter"], g["sum:amount"], g["count_distinct:region"]])).collect();
        assert_eq!(got, [
            json!(["2026-Q1", "22.36", 2]),
            json!([null, "3.00", 1]),
            json!(["2025-Q4", "1.00", 1]),
            json!(["2026-Q2", "100.00", 1]),
        ]);
        app
    }
}
