//! `has_any` over member and department fields (the commonest row rule, `{owner} = CURRENT_MEMBER()`,
//! is one): single and multiple fields, several ids, ids no cell holds, empty cells, under `not` and
//! `or`, on lists, counts and aggregates — the same rows on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests, member_body};

const RECORDS: &str = "/api/v1/apps/crm/tables/deals/records";
const AGGREGATE: &str = "/api/v1/apps/crm/tables/deals/aggregate";

async fn created(app: &TestApp, path: &str, body: Value) -> String {
    app.post(path, &app.admin_token, body)
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn encoded(filter: &Value) -> String {
    form_urlencoded::byte_serialize(filter.to_string().as_bytes()).collect()
}

api_tests! {
    async fn has_any_over_member_and_department_ids_answers_exactly_the_holding_rows(app) {
        let token = app.admin_token.clone();
        let a = created(&app, "/api/v1/members", member_body("A")).await;
        let b = created(&app, "/api/v1/members", member_body("B")).await;
        let c = created(&app, "/api/v1/members", member_body("C")).await;
        let east = created(&app, "/api/v1/departments", json!({"name": "East"})).await;
        let west = created(&app, "/api/v1/departments", json!({"name": "West"})).await;
        app.post("/api/v1/apps", &token, json!({"name": "CRM", "key": "crm"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/crm/tables", &token, json!({"name": "Deals", "key": "deals", "fields": [
            {"name": "Name", "key": "name", "type": "text"},
            {"name": "Owner", "key": "owner", "type": "member"},
            {"name": "Team", "key": "team", "type": "member", "options": {"multiple": true}},
            {"name": "Dept", "key": "dept", "type": "department", "options": {"multiple": true}}
        ]})).await.expect(StatusCode::CREATED);
        app.post(RECORDS, &token, json!({"records": [
            {"fields": {"name": "d1", "owner": a, "team": [a, b], "dept": [east]}},
            {"fields": {"name": "d2", "owner": b, "team": [b], "dept": [east, west]}},
            {"fields": {"name": "d3", "owner": a, "team": []}},
            {"fields": {"name": "d4"}}
        ]})).await.expect(StatusCode::CREATED);
        let nobody = "0190a1b2-0000-7000-8000-000000000000";
        let upper = a.to_uppercase();
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({"field": "owner", "op": "has_any", "value": [a]}), vec!["d1", "d3"]),
            (json!({"field": "owner", "op": "has_any", "value": [upper]}), vec!["d1", "d3"]),
            (json!({"field": "owner", "op": "has_any", "value": [b, c]}), vec!["d2"]),
            (json!({"field": "owner", "op": "has_any", "value": [nobody]}), vec![]),
            (json!({"field": "team", "op": "has_any", "value": [b]}), vec!["d1", "d2"]),
            (json!({"field": "team", "op": "has_any", "value": [a, c]}), vec!["d1"]),
            (json!({"field": "team", "op": "has_all", "value": [a, b]}), vec!["d1"]),
            (json!({"not": {"field": "team", "op": "has_any", "value": [b]}}), vec!["d3", "d4"]),
            (json!({"not": {"field": "owner", "op": "has_any", "value": [a]}}), vec!["d2", "d4"]),
            (json!({"or": [{"field": "dept", "op": "has_any", "value": [west]}, {"field": "owner", "op": "has_any", "value": [a]}]}), vec!["d1", "d2", "d3"]),
            (json!({"field": "dept", "op": "has_any", "value": [east]}), vec!["d1", "d2"]),
            (json!({"not": {"field": "dept", "op": "has_any", "value": [east]}}), vec!["d3", "d4"]),
        ];
        for (filter, expected) in cases {
            let page = app.get(&format!("{RECORDS}?sort=name&count=true&filter={}", encoded(&filter)), &token).await;
            let page = page.expect(StatusCode::OK);
            let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|item| item["fields"]["name"].as_str().unwrap()).collect();
            assert_eq!(names, expected, "filter {filter}");
            assert_eq!(page["total"], json!(expected.len()), "filter {filter}");
            let counted = app.get(&format!("{AGGREGATE}?metrics=count&filter={}", encoded(&filter)), &token).await;
            let counted = counted.expect(StatusCode::OK);
            // No group at all when no row matches.
            let count = counted["groups"][0]["count"].as_u64().unwrap_or(0);
            assert_eq!(count, expected.len() as u64, "filter {filter}: {counted}");
        }
        app
    }
}
