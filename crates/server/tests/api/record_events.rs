//! What the outbox says about record writes (#16): every field that moved, computed ones included, in the
//! API's representation; records changed through links get their own version, audit entry and event,
//! naming the write that caused them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests, member_body};

const CUSTOMERS: &str = "/api/v1/apps/crm/tables/customers";
const ORDERS: &str = "/api/v1/apps/crm/tables/orders";

/// The app: customers, orders linked to a customer, a formula `{Amount} * 2` on orders and a
/// rollup `sum(amount)` on customers.
async fn crm(app: &TestApp) {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "CRM", "key": "crm"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/crm/tables",
        &app.admin_token,
        json!({"name": "Customers", "key": "customers", "fields": [{"name": "Name", "key": "name", "type": "text"}]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/crm/tables", &app.admin_token, json!({"name": "Orders", "key": "orders", "fields": [
        {"name": "Title", "key": "title", "type": "text"},
        {"name": "Amount", "key": "amount", "type": "number", "options": {"precision": 2}},
        {"name": "Customer", "key": "customer", "type": "link", "options": {"table": "customers", "multiple": false, "inverse_key": "orders", "inverse_name": "Orders"}}
    ]})).await.expect(StatusCode::CREATED);
    app.post(
        &format!("{ORDERS}/fields"),
        &app.admin_token,
        json!({"name": "Double", "key": "double", "type": "formula", "options": {"formula": "{Amount} * 2"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        &format!("{CUSTOMERS}/fields"),
        &app.admin_token,
        json!({"name": "Total", "key": "total", "type": "rollup", "options": {"link": "orders", "field": "amount", "function": "sum"}}),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// Every record event so far, oldest first.
async fn record_events(app: &TestApp) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/v1/events?types=record.*&page_size=100&cursor={cursor}"),
                &app.admin_token,
            )
            .await
            .expect(StatusCode::OK)
            .clone();
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return seen,
        }
    }
}

/// The events after the first `skip`, as (type, record id) pairs and the events themselves.
async fn new_events(app: &TestApp, skip: usize) -> Vec<Value> {
    record_events(app).await.split_off(skip)
}

fn about<'a>(events: &'a [Value], kind: &str, id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind && e["subject"]["record_id"] == id)
        .collect()
}

async fn get(app: &TestApp, table: &str, id: &str) -> Value {
    app.get(&format!("{table}/records/{id}"), &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone()
}

/// The values `after` shows equal what a GET shows, key by key (`null`: absent from the GET).
#[track_caller]
fn agrees_with_get(after: &Value, record: &Value) {
    let fields = record["fields"].as_object().unwrap();
    for (key, value) in after.as_object().unwrap() {
        assert_eq!(
            fields.get(key).unwrap_or(&Value::Null),
            value,
            "field {key}: the event says {value}, a GET says {record}"
        );
    }
}

/// A field of every stored type (none computed): a link to the app's `targets` table with the inverse
/// `inverse_key`, an autonumber with `prefix`.
fn every_stored_field(inverse_key: &str, inverse_name: &str, prefix: &str) -> Value {
    json!([
        {"name": "Text", "key": "text", "type": "text"},
        {"name": "Long", "key": "long", "type": "long_text"},
        {"name": "Whole", "key": "whole", "type": "number"},
        {"name": "Fine", "key": "fine", "type": "number", "options": {"precision": 4}},
        {"name": "Money", "key": "money", "type": "currency", "options": {"currency": "CNY"}},
        {"name": "Rate", "key": "rate", "type": "percent", "options": {"precision": 1}},
        {"name": "Day", "key": "day", "type": "date"},
        {"name": "At", "key": "at", "type": "datetime"},
        {"name": "Took", "key": "took", "type": "duration"},
        {"name": "Done", "key": "done", "type": "checkbox"},
        {"name": "Status", "key": "status", "type": "single_select", "options": {"choices": [{"name": "open"}, {"name": "closed"}]}},
        {"name": "Tags", "key": "tags", "type": "multi_select", "options": {"choices": [{"name": "a"}, {"name": "b"}]}},
        {"name": "Stars", "key": "stars", "type": "rating"},
        {"name": "Mail", "key": "mail", "type": "email"},
        {"name": "Phone", "key": "phone", "type": "phone"},
        {"name": "Site", "key": "site", "type": "url"},
        {"name": "Owner", "key": "owner", "type": "member"},
        {"name": "Team", "key": "team", "type": "department", "options": {"multiple": true}},
        {"name": "Files", "key": "files", "type": "attachment"},
        {"name": "Target", "key": "target", "type": "link", "options": {"table": "targets", "inverse_key": inverse_key, "inverse_name": inverse_name}},
        {"name": "No.", "key": "no", "type": "autonumber", "options": {"prefix": prefix}},
        {"name": "Created", "key": "created", "type": "created_time"},
        {"name": "Creator", "key": "creator", "type": "created_by"},
        {"name": "Modified", "key": "modified", "type": "modified_time"},
        {"name": "Editor", "key": "editor", "type": "modified_by"}
    ])
}

api_tests! {
    async fn an_update_event_carries_the_formula_it_moved_in_the_apis_representation(app) {
        crm(&app).await;
        let customer = app.post(&format!("{CUSTOMERS}/records"), &app.admin_token, json!({"fields": {"name": "ACME"}})).await.expect(StatusCode::CREATED).clone();
        let customer_id = customer["id"].as_str().unwrap().to_owned();
        let order = app.post(&format!("{ORDERS}/records"), &app.admin_token, json!({"fields": {"title": "first", "amount": 10.5, "customer": [customer_id]}})).await.expect(StatusCode::CREATED).clone();
        let order_id = order["id"].as_str().unwrap().to_owned();
        assert_eq!(order["fields"]["amount"], "10.50");
        assert_eq!(order["fields"]["double"], "21.00");
        let skip = record_events(&app).await.len();

        app.patch(&format!("{ORDERS}/records/{order_id}"), &app.admin_token, json!({"fields": {"amount": 20}})).await.expect(StatusCode::OK);
        let events = new_events(&app, skip).await;
        let updated = about(&events, "record.updated", &order_id);
        assert_eq!(updated.len(), 1, "{events:?}");
        assert_eq!(updated[0]["data"], json!({
            "before": {"amount": "10.50", "double": "21.00"},
            "after": {"amount": "20.00", "double": "40.00"},
            "changed": ["amount", "double"],
        }));
        agrees_with_get(&updated[0]["data"]["after"], &get(&app, ORDERS, &order_id).await);
        app
    }

    async fn a_customer_whose_rollup_and_inverse_link_move_gets_a_version_an_event_and_an_audit_entry(app) {
        crm(&app).await;
        let customer = app.post(&format!("{CUSTOMERS}/records"), &app.admin_token, json!({"fields": {"name": "ACME"}})).await.expect(StatusCode::CREATED).clone();
        let customer_id = customer["id"].as_str().unwrap().to_owned();
        assert_eq!(customer["version"], 1);
        let before_modified = customer["modified_at"].clone();
        app.clock.advance(chrono::TimeDelta::seconds(5));

        // Creating an order linked to the customer: the customer gains an inverse link and its total moves.
        let order = app.post(&format!("{ORDERS}/records"), &app.admin_token, json!({"fields": {"title": "first", "amount": "10.5", "customer": [customer_id]}})).await.expect(StatusCode::CREATED).clone();
        let order_id = order["id"].as_str().unwrap().to_owned();
        let events = record_events(&app).await;
        let created = about(&events, "record.created", &order_id);
        assert_eq!(created.len(), 1);
        let moved = about(&events, "record.updated", &customer_id);
        assert_eq!(moved.len(), 1, "one event for the customer: {events:?}");
        let moved = moved[0];
        let customer_now = get(&app, CUSTOMERS, &customer_id).await;
        assert_eq!(customer_now["version"], 2);
        assert_ne!(customer_now["modified_at"], before_modified);
        assert_eq!(moved["data"]["changed"], json!(["orders", "total"]));
        assert_eq!(moved["data"]["before"], json!({"orders": null, "total": "0.00"}));
        assert_eq!(moved["data"]["after"], json!({"orders": [{"id": order_id, "name": "first"}], "total": "10.50"}));
        agrees_with_get(&moved["data"]["after"], &customer_now);
        assert_eq!(moved["data"]["cause"], json!({
            "app_id": created[0]["subject"]["app_id"], "table_id": created[0]["subject"]["table_id"],
            "record_id": order_id, "event_id": created[0]["id"],
        }));
        assert_eq!(moved["actor"], created[0]["actor"], "the writer of the order is the actor");
        // The order's own event came first; the customer's follows it.
        let position = |id: &Value| events.iter().position(|e| &e["id"] == id).unwrap();
        assert!(position(&created[0]["id"]) < position(&moved["id"]));

        // Moving the amount moves the total again: version 3, and If-Match sees it.
        app.patch(&format!("{ORDERS}/records/{order_id}"), &app.admin_token, json!({"fields": {"amount": 20}})).await.expect(StatusCode::OK);
        let customer_now = get(&app, CUSTOMERS, &customer_id).await;
        assert_eq!(customer_now["version"], 3);
        assert_eq!(customer_now["fields"]["total"], "20.00");
        let events = record_events(&app).await;
        let moved = about(&events, "record.updated", &customer_id);
        assert_eq!(moved.len(), 2);
        assert_eq!(moved[1]["data"]["before"], json!({"total": "10.50"}));
        assert_eq!(moved[1]["data"]["after"], json!({"total": "20.00"}));
        assert_eq!(moved[1]["data"]["changed"], json!(["total"]));
        let order_update = about(&events, "record.updated", &order_id);
        assert_eq!(moved[1]["data"]["cause"]["event_id"], order_update[0]["id"]);
        let path = format!("{}{CUSTOMERS}/records/{customer_id}", app.base);
        let stale = app.http.patch(&path).bearer_auth(&app.admin_token).header("if-match", "\"2\"").json(&json!({"fields": {"name": "ACME Ltd"}})).send().await.unwrap();
        assert_eq!(stale.status(), StatusCode::CONFLICT, "If-Match sees the rollup's version");
        let fresh = app.http.patch(&path).bearer_auth(&app.admin_token).header("if-match", "\"3\"").json(&json!({"fields": {"name": "ACME Ltd"}})).send().await.unwrap();
        assert_eq!(fresh.status(), StatusCode::OK);

        // The audit log has an entry for the customer, by the same actor, naming the cause.
        let audit = app.get(&format!("/api/v1/audit?target_id={customer_id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let entries = audit["items"].as_array().unwrap();
        let updates: Vec<&Value> = entries.iter().filter(|e| e["action"] == "record.updated").collect();
        assert_eq!(updates.len(), 3, "{audit}");
        assert_eq!(updates[1]["after"]["cause"]["record_id"], json!(order_id));

        // Deleting the order: record.deleted for it, record.updated for the customer it leaves.
        let skip = events.len() + 1;
        app.delete(&format!("{ORDERS}/records/{order_id}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let events = new_events(&app, skip).await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0]["type"], "record.deleted");
        assert_eq!(events[0]["subject"]["record_id"], json!(order_id));
        assert_eq!(events[0]["data"]["before"]["amount"], "20.00");
        assert_eq!(events[1]["type"], "record.updated");
        assert_eq!(events[1]["subject"]["record_id"], json!(customer_id));
        assert_eq!(events[1]["data"]["before"], json!({"orders": [{"id": order_id, "name": "first"}], "total": "20.00"}));
        assert_eq!(events[1]["data"]["after"], json!({"orders": null, "total": "0.00"}));
        assert_eq!(events[1]["data"]["cause"]["event_id"], events[0]["id"]);
        let customer_now = get(&app, CUSTOMERS, &customer_id).await;
        assert_eq!(customer_now["version"], 5);
        agrees_with_get(&events[1]["data"]["after"], &customer_now);
        app
    }

    async fn a_bulk_write_coalesces_one_event_per_touched_record(app) {
        crm(&app).await;
        let customers = app.post(&format!("{CUSTOMERS}/records"), &app.admin_token, json!({"records": [{"fields": {"name": "A"}}, {"fields": {"name": "B"}}]})).await.expect(StatusCode::CREATED).clone();
        let a = customers["records"][0]["id"].as_str().unwrap().to_owned();
        let b = customers["records"][1]["id"].as_str().unwrap().to_owned();
        let skip = record_events(&app).await.len();
        let orders: Vec<Value> = (0..5).map(|i| json!({"fields": {"title": format!("o{i}"), "amount": i + 1, "customer": [if i < 3 { &a } else { &b }]}})).collect();
        let created = app.post(&format!("{ORDERS}/records"), &app.admin_token, json!({"records": orders})).await.expect(StatusCode::CREATED).clone();
        let events = new_events(&app, skip).await;
        assert_eq!(events.iter().filter(|e| e["type"] == "record.created").count(), 5);
        let for_a = about(&events, "record.updated", &a);
        let for_b = about(&events, "record.updated", &b);
        assert_eq!((for_a.len(), for_b.len()), (1, 1), "{events:?}");
        assert_eq!(events.len(), 7);
        assert_eq!(for_a[0]["data"]["after"]["total"], "6.00");
        assert_eq!(for_b[0]["data"]["after"]["total"], "9.00");
        assert_eq!(for_a[0]["data"]["after"]["orders"].as_array().unwrap().len(), 3);
        // The cause is the first order that reached it.
        assert_eq!(for_a[0]["data"]["cause"]["record_id"], created["records"][0]["id"]);
        assert_eq!(for_b[0]["data"]["cause"]["record_id"], created["records"][3]["id"]);
        for id in [&a, &b] {
            let record = get(&app, CUSTOMERS, id).await;
            assert_eq!(record["version"], 2);
        }
        agrees_with_get(&for_a[0]["data"]["after"], &get(&app, CUSTOMERS, &a).await);

        // Moving an order from A to B: both customers move, each once; the order's event has the link.
        let moving = created["records"][0]["id"].as_str().unwrap().to_owned();
        let skip = skip + events.len();
        app.patch(&format!("{ORDERS}/records/{moving}"), &app.admin_token, json!({"fields": {"customer": [b]}})).await.expect(StatusCode::OK);
        let events = new_events(&app, skip).await;
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0]["data"]["changed"], json!(["customer"]));
        assert_eq!(events[0]["data"]["after"]["customer"], json!([{"id": b, "name": "B"}]));
        assert_eq!(about(&events, "record.updated", &a)[0]["data"]["after"]["total"], "5.00");
        assert_eq!(about(&events, "record.updated", &b)[0]["data"]["after"]["total"], "10.00");
        app
    }

    async fn an_update_that_moves_nothing_else_answers_and_tells_what_a_get_shows(app) {
        // No field computed and stored, its link untouched: the store builds the updated record from the
        // one it read and the update, without reading it back (`update_records_in`).
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "Plain", "key": "plain"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/plain/tables", &app.admin_token, json!({"name": "Targets", "key": "targets", "fields": [
            {"name": "Label", "key": "label", "type": "text"}
        ]})).await.expect(StatusCode::CREATED);
        let target = app.post("/api/v1/apps/plain/tables/targets/records", &app.admin_token, json!({"fields": {"label": "T1"}})).await.expect(StatusCode::CREATED).clone();
        app.post("/api/v1/apps/plain/tables", &app.admin_token, json!({"name": "Items", "key": "items", "fields": every_stored_field("items", "Items", "I-")})).await.expect(StatusCode::CREATED);
        const ITEMS: &str = "/api/v1/apps/plain/tables/items";
        let member = app.post("/api/v1/members", &app.admin_token, member_body("Wang Wu")).await.expect(StatusCode::CREATED).clone();
        let department = app.post("/api/v1/departments", &app.admin_token, json!({"name": "财务部"})).await.expect(StatusCode::CREATED).clone();
        let record = app.post(&format!("{ITEMS}/records"), &app.admin_token, json!({"fields": {
            "text": "hi", "whole": 7, "fine": "1.5", "money": "12.3", "day": "2026-11-24", "done": true,
            "tags": ["a"], "owner": member["id"], "target": [target["id"]],
        }})).await.expect(StatusCode::CREATED).clone();
        let id = record["id"].as_str().unwrap().to_owned();
        app.clock.advance(chrono::TimeDelta::seconds(3));
        let skip = record_events(&app).await.len();
        let answer = app.patch(&format!("{ITEMS}/records/{id}"), &app.admin_token, json!({"fields": {
            "text": "ho", "long": "line\nline", "whole": 8, "fine": "2.25", "money": "1", "rate": "0.125",
            "day": "2026-12-01", "at": "2026-12-01T08:00:00+08:00", "took": "1:30", "done": false, "status": "closed",
            "tags": ["b", "a"], "stars": 4, "mail": "A@Example.com", "phone": "+86 10 1234", "site": "https://example.org",
            "owner": null, "team": [department["id"]],
        }})).await.expect(StatusCode::OK).clone();
        let stored = get(&app, ITEMS, &id).await;
        assert_eq!(answer, stored, "the update's answer vs GET");
        assert_eq!(stored["version"], 2);
        assert_eq!(stored["fields"]["target"].as_array().unwrap().len(), 1, "{stored}");
        let events = new_events(&app, skip).await;
        let updated = about(&events, "record.updated", &id);
        assert_eq!(updated.len(), 1);
        agrees_with_get(&updated[0]["data"]["after"], &stored);
        let changed: Vec<&str> = updated[0]["data"]["changed"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        for key in ["text", "long", "whole", "fine", "money", "rate", "day", "at", "took", "done", "status", "tags", "stars", "mail", "phone", "site", "owner", "team", "modified"] {
            assert!(changed.contains(&key), "{key} changed: {changed:?}");
        }
        for key in ["target", "no", "created", "creator"] {
            assert!(!changed.contains(&key), "{key} did not change: {changed:?}");
        }
        app
    }

    async fn event_values_equal_what_a_get_shows_for_every_field_type(app) {
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "All", "key": "all"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/all/tables", &app.admin_token, json!({"name": "Targets", "key": "targets", "fields": [
            {"name": "Label", "key": "label", "type": "text"},
            {"name": "Weight", "key": "weight", "type": "number", "options": {"precision": 3}}
        ]})).await.expect(StatusCode::CREATED);
        let target = app.post("/api/v1/apps/all/tables/targets/records", &app.admin_token, json!({"fields": {"label": "T1", "weight": "1.5"}})).await.expect(StatusCode::CREATED).clone();
        let target_id = target["id"].as_str().unwrap().to_owned();
        app.post("/api/v1/apps/all/tables", &app.admin_token, json!({"name": "Everything", "key": "everything", "fields": every_stored_field("everything", "Everything", "E-")})).await.expect(StatusCode::CREATED);
        const EVERYTHING: &str = "/api/v1/apps/all/tables/everything";
        for field in [
            json!({"name": "Sum", "key": "sum", "type": "formula", "options": {"formula": "{Money} + {Fine}"}}),
            json!({"name": "Weights", "key": "weights", "type": "lookup", "options": {"link": "target", "field": "weight"}}),
            json!({"name": "Heaviest", "key": "heaviest", "type": "rollup", "options": {"link": "target", "field": "weight", "function": "max"}}),
            json!({"name": "Targets", "key": "targets_count", "type": "count", "options": {"link": "target"}}),
        ] {
            app.post(&format!("{EVERYTHING}/fields"), &app.admin_token, field).await.expect(StatusCode::CREATED);
        }
        let member = app.post("/api/v1/members", &app.admin_token, member_body("Zhang San")).await.expect(StatusCode::CREATED).clone();
        let department = app.post("/api/v1/departments", &app.admin_token, json!({"name": "销售部"})).await.expect(StatusCode::CREATED).clone();
        let file = app.http.post(format!("{}/api/v1/attachments?filename=a.txt", app.base)).bearer_auth(&app.admin_token).header("content-type", "text/plain").body("hello").send().await.unwrap();
        assert_eq!(file.status(), StatusCode::CREATED);
        let file: Value = file.json().await.unwrap();
        let record = app.post(&format!("{EVERYTHING}/records"), &app.admin_token, json!({"fields": {
            "text": "hi", "long": "line\nline", "whole": 7, "fine": "1.5", "money": "12.3", "rate": "0.125",
            "day": "2026-11-24", "at": "2026-11-24T08:00:00+08:00", "took": "1:30", "done": true, "status": "open",
            "tags": ["a", "b"], "stars": 4, "mail": "A@Example.com", "phone": "+86 10 1234", "site": "https://example.com",
            "owner": member["id"], "team": [department["id"]], "files": [file["id"]], "target": [target_id],
        }})).await.expect(StatusCode::CREATED).clone();
        let id = record["id"].as_str().unwrap().to_owned();
        let events = record_events(&app).await;
        let created = about(&events, "record.created", &id);
        let stored = get(&app, EVERYTHING, &id).await;
        // The created event shows exactly what a GET shows.
        assert_eq!(created[0]["data"]["after"], stored["fields"], "created event vs GET");
        for key in ["owner", "team", "files", "target", "fine", "money", "rate", "sum", "weights", "heaviest", "targets_count", "creator"] {
            assert!(stored["fields"].get(key).is_some(), "{key} is shown: {stored}");
        }

        // An update of every writable field: its event's values equal a GET's, field by field.
        app.clock.advance(chrono::TimeDelta::seconds(3));
        let other_member = app.post("/api/v1/members", &app.admin_token, member_body("Li Si")).await.expect(StatusCode::CREATED).clone();
        let other_target = app.post("/api/v1/apps/all/tables/targets/records", &app.admin_token, json!({"fields": {"label": "T2", "weight": "2.25"}})).await.expect(StatusCode::CREATED).clone();
        let skip = record_events(&app).await.len();
        app.patch(&format!("{EVERYTHING}/records/{id}"), &app.admin_token, json!({"fields": {
            "text": "ho", "long": "other", "whole": 8, "fine": "2.25", "money": "1", "rate": "0.5",
            "day": "2026-12-01", "at": "2026-12-01T00:00:00Z", "took": 60, "done": false, "status": "closed",
            "tags": ["b"], "stars": 1, "mail": "b@example.com", "phone": "123", "site": "https://example.org",
            "owner": other_member["id"], "team": null, "files": null, "target": [target_id, other_target["id"]],
        }})).await.expect(StatusCode::OK);
        let events = new_events(&app, skip).await;
        let updated = about(&events, "record.updated", &id);
        assert_eq!(updated.len(), 1);
        let stored = get(&app, EVERYTHING, &id).await;
        agrees_with_get(&updated[0]["data"]["after"], &stored);
        let changed: Vec<&str> = updated[0]["data"]["changed"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        for key in ["text", "long", "whole", "fine", "money", "rate", "day", "at", "took", "done", "status", "tags", "stars", "mail", "phone", "site", "owner", "team", "files", "target", "sum", "weights", "heaviest", "targets_count", "modified"] {
            assert!(changed.contains(&key), "{key} changed: {changed:?}");
        }
        for key in ["no", "created", "creator", "editor"] {
            assert!(!changed.contains(&key), "{key} did not change: {changed:?}");
        }
        let keys: Vec<&String> = updated[0]["data"]["after"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), changed.len(), "before, after and changed cover the same fields");
        // The targets' inverse links moved: the new one gained, the old one kept it (both still linked).
        let t2 = about(&events, "record.updated", other_target["id"].as_str().unwrap());
        assert_eq!(t2.len(), 1);
        agrees_with_get(&t2[0]["data"]["after"], &get(&app, "/api/v1/apps/all/tables/targets", other_target["id"].as_str().unwrap()).await);
        assert!(about(&events, "record.updated", &target_id).is_empty(), "T1 kept its link: no event");
        app
    }

    async fn a_rollup_move_gives_the_ledger_a_new_version_to_rebook(app) {
        crm(&app).await;
        app.post("/api/v1/ledger/books", &app.admin_token, json!({"name": "主账套", "template": "cas-small", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        let customer = app.post(&format!("{CUSTOMERS}/records"), &app.admin_token, json!({"fields": {"name": "湖州优品"}})).await.expect(StatusCode::CREATED).clone();
        let customer_id = customer["id"].as_str().unwrap().to_owned();
        let order = app.post(&format!("{ORDERS}/records"), &app.admin_token, json!({"fields": {"title": "o", "amount": 100, "customer": [customer_id]}})).await.expect(StatusCode::CREATED).clone();
        let order_id = order["id"].as_str().unwrap().to_owned();
        // An integrator books the customer's total from the record as it reads it.
        let book = |record: &Value| json!({"book": "主账套", "rule": "sales_invoice", "post": true,
            "source": {"app": "crm", "table": "customers", "record": customer_id, "version": record["version"]},
            "fields": {"date": "2026-11-25", "customer": record["fields"]["name"], "amount": record["fields"]["total"], "tax_rate": "0.13"}});
        let read = get(&app, CUSTOMERS, &customer_id).await;
        assert_eq!((read["version"].as_i64(), read["fields"]["total"].as_str()), (Some(2), Some("100.00")));
        let first = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, book(&read)).await.expect(StatusCode::CREATED).clone();
        assert_eq!(first["outcome"], "created");
        app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, book(&read)).await.expect(StatusCode::OK);

        // The order's amount moves the customer's total: a new version, so the ledger rebooks it.
        app.patch(&format!("{ORDERS}/records/{order_id}"), &app.admin_token, json!({"fields": {"amount": 150}})).await.expect(StatusCode::OK);
        let reread = get(&app, CUSTOMERS, &customer_id).await;
        assert_eq!((reread["version"].as_i64(), reread["fields"]["total"].as_str()), (Some(3), Some("150.00")));
        let mut stale = book(&reread);
        stale["source"]["version"] = json!(2);
        app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, stale).await.expect_error(StatusCode::CONFLICT, "conflict");
        let rebooked = app.post("/api/v1/ledger/vouchers/from-record", &app.admin_token, book(&reread)).await.expect(StatusCode::CREATED).clone();
        assert_eq!(rebooked["outcome"], "replaced");
        assert_eq!(rebooked["reversal"]["reverses_id"], first["voucher"]["id"]);
        assert_eq!(rebooked["voucher"]["total_debit"], "169.50");
        app
    }

    async fn a_members_personal_token_writes_records_as_the_member_and_acts_as_the_token(app) {
        crm(&app).await;
        let secret = tenon_auth::mint(tenon_auth::SecretKind::PersonalToken);
        let token = app.store.tenant(app.org.id).create_token(&tenon_store::WriteContext::system(), tenon_store::NewToken {
            name: tenon_model::Name::parse("laptop").unwrap(), member_id: Some(app.owner.id),
            scopes: tenon_model::ScopeSet::parse(["records:write", "records:read"]).unwrap(), rate_limit: None, expires_at: None, digest: secret.digest.0,
        }).await.unwrap();
        let created = app.post(&format!("{CUSTOMERS}/records"), &secret.plaintext, json!({"fields": {"name": "ACME"}})).await.expect(StatusCode::CREATED).clone();
        let id = created["id"].as_str().unwrap().to_owned();
        app.post(&format!("{CUSTOMERS}/fields"), &app.admin_token, json!({"name": "By", "key": "by", "type": "created_by"})).await.expect(StatusCode::CREATED);
        app.post(&format!("{CUSTOMERS}/fields"), &app.admin_token, json!({"name": "Editor", "key": "editor", "type": "modified_by"})).await.expect(StatusCode::CREATED);
        let member = json!({"type": "member", "id": app.owner.id.to_string(), "name": app.owner.name.to_string()});
        let record = get(&app, CUSTOMERS, &id).await;
        assert_eq!(record["fields"]["by"], member);
        assert_eq!(record["fields"]["editor"], member);
        // The organization token edits it: the editor is that token; the author stays the member.
        app.patch(&format!("{CUSTOMERS}/records/{id}"), &app.admin_token, json!({"fields": {"name": "ACME Ltd"}})).await.expect(StatusCode::OK);
        let record = get(&app, CUSTOMERS, &id).await;
        assert_eq!(record["fields"]["by"], member);
        assert_eq!(record["fields"]["editor"]["type"], "token");
        // The actor of the event and the audit entry is the token.
        let events = record_events(&app).await;
        let created_event = about(&events, "record.created", &id)[0];
        assert_eq!(created_event["actor"], json!({"type": "token", "id": token.id.to_string(), "name": "laptop"}));
        let updated_event = about(&events, "record.updated", &id)[0];
        assert_eq!(updated_event["data"]["changed"], json!(["editor", "name"]));
        assert_eq!(updated_event["data"]["before"]["editor"], member);
        let audit = app.get(&format!("/api/v1/audit?target_id={id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let created_entry = audit["items"].as_array().unwrap().iter().find(|e| e["action"] == "record.created").unwrap().clone();
        assert_eq!(created_entry["actor"]["type"], "token", "{created_entry}");
        assert_eq!(created_entry["actor"]["id"], json!(token.id.to_string()));
        app
    }

    async fn an_app_installations_writes_name_the_installation_as_author_and_actor(app) {
        crm(&app).await;
        let client = app.post("/api/v1/clients", &app.admin_token, json!({"name": "Kingdee connector", "scopes": ["records:read", "records:write"]})).await.expect(StatusCode::CREATED).clone();
        let installation = client["id"].as_str().unwrap().to_owned();
        let token = app.call(reqwest::Method::POST, "/api/v1/oauth/token", None, Some(json!({
            "grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"],
        }))).await.expect(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
        app.post(&format!("{CUSTOMERS}/fields"), &app.admin_token, json!({"name": "By", "key": "by", "type": "created_by"})).await.expect(StatusCode::CREATED);
        app.post(&format!("{CUSTOMERS}/fields"), &app.admin_token, json!({"name": "Editor", "key": "editor", "type": "modified_by"})).await.expect(StatusCode::CREATED);
        let created = app.post(&format!("{CUSTOMERS}/records"), &token, json!({"fields": {"name": "ACME"}})).await.expect(StatusCode::CREATED).clone();
        let id = created["id"].as_str().unwrap().to_owned();
        let by_app = json!({"type": "app", "id": installation, "name": "Kingdee connector"});
        assert_eq!(created["fields"]["by"], by_app);
        assert_eq!(created["fields"]["editor"], by_app);
        let events = record_events(&app).await;
        let event = about(&events, "record.created", &id)[0];
        assert_eq!(event["actor"], by_app, "the installation is the actor too");
        assert_eq!(event["data"]["after"]["by"], by_app);
        let audit = app.get(&format!("/api/v1/audit?target_id={id}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let entry = audit["items"].as_array().unwrap().iter().find(|e| e["action"] == "record.created").unwrap().clone();
        assert_eq!(entry["actor"]["type"], "app", "{entry}");
        assert_eq!(entry["actor"]["id"], json!(installation));
        // A member's later edit keeps the app as author and names the editor.
        app.patch(&format!("{CUSTOMERS}/records/{id}"), &app.admin_token, json!({"fields": {"name": "ACME Ltd"}})).await.expect(StatusCode::OK);
        let record = get(&app, CUSTOMERS, &id).await;
        assert_eq!(record["fields"]["by"], by_app);
        assert_eq!(record["fields"]["editor"]["type"], "token");
        app
    }
}
