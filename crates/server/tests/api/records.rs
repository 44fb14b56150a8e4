//! Apps, tables, fields and records over HTTP: the shapes of the contract, validation, filters, cursors,
//! concurrency and idempotency.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

/// The charity housing app: rooms, and bookings that link to them.
async fn housing(app: &TestApp) -> Value {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "住房预约", "key": "housing"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/housing/tables",
        &app.admin_token,
        json!({"name": "Rooms", "key": "rooms", "fields": [{"name": "房间", "key": "room", "type": "text"}]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let table = app
        .post(
            "/api/v1/apps/housing/tables",
            &app.admin_token,
            json!({
                "name": "Bookings", "key": "bookings", "primary_field": "guest",
                "unique_together": [["guest", "check_in"]],
                "indexes": [["status", "deposit"]],
                "fields": [
                    {"name": "Guest", "key": "guest", "type": "text", "required": true},
                    {"name": "Nights", "key": "nights", "type": "number"},
                    {"name": "Deposit", "key": "deposit", "type": "currency", "options": {"currency": "CNY"}},
                    {"name": "Discount", "key": "discount", "type": "percent"},
                    {"name": "入住日期", "key": "check_in", "type": "date"},
                    {"name": "Status", "key": "status", "type": "single_select", "options": {"choices": [{"name": "booked", "color": "blue"}, {"name": "cancelled"}]}, "default": "booked"},
                    {"name": "Room", "key": "room", "type": "link", "options": {"table": "rooms", "multiple": false, "inverse_key": "bookings", "inverse_name": "Bookings"}},
                    {"name": "Host", "key": "host", "type": "member"},
                    {"name": "No.", "key": "no", "type": "autonumber", "options": {"prefix": "ZS-", "digits": 4}},
                    {"name": "Created", "key": "created", "type": "created_time"}
                ]
            }),
        )
        .await;
    table.expect(StatusCode::CREATED).clone()
}

const RECORDS: &str = "/api/v1/apps/housing/tables/bookings/records";

api_tests! {
    async fn table_json_has_the_contract_shape_and_options(app) {
        let table = housing(&app).await;
        assert_eq!(table["key"], "bookings");
        assert_eq!(table["primary_field"], "guest");
        assert_eq!(table["unique_together"], json!([["guest", "check_in"]]));
        assert_eq!(table["indexes"], json!([["status", "deposit"]]));
        // Replacing the composite indexes; a link cannot be in one (422 naming it, nothing changed).
        let refused = app.patch("/api/v1/apps/housing/tables/bookings", &app.admin_token, json!({"indexes": [["room"]]})).await;
        assert_eq!(refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "indexes[0][0]");
        let patched = app.patch("/api/v1/apps/housing/tables/bookings", &app.admin_token, json!({"indexes": [["status", "nights"], ["check_in"]]})).await;
        assert_eq!(patched.expect(StatusCode::OK)["indexes"], json!([["status", "nights"], ["check_in"]]));
        let exported = app.get("/api/v1/apps/housing/export?format=json", &app.admin_token).await.expect(StatusCode::OK).clone();
        let bookings = exported["tables"].as_array().unwrap().iter().find(|t| t["key"] == "bookings").unwrap().clone();
        assert_eq!(bookings["indexes"], json!([["status", "nights"], ["check_in"]]), "the app definition carries them");
        let field = |key: &str| table["fields"].as_array().unwrap().iter().find(|f| f["key"] == key).unwrap().clone();
        let deposit = field("deposit");
        for key in ["id", "name", "key", "type", "options", "required", "unique", "default"] {
            assert!(deposit.get(key).is_some(), "field JSON lacks {key}: {deposit}");
        }
        assert_eq!(deposit["options"], json!({"currency": "CNY", "precision": 2}));
        assert_eq!(field("nights")["options"]["precision"], 0);
        let status = field("status");
        assert_eq!(status["options"]["choices"][0]["color"], "blue");
        assert!(status["options"]["choices"][1]["id"].is_string() && status["options"]["choices"][1]["color"].is_string());
        assert_eq!(field("room")["options"]["table"], "rooms");
        let rooms = app.get("/api/v1/apps/housing/tables/rooms", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(rooms["fields"].as_array().unwrap().iter().any(|f| f["key"] == "bookings" && f["type"] == "link"));
        // Keys derive from Chinese names; unknown option names are a 400 naming them.
        let derived = app.post("/api/v1/apps/housing/tables/rooms/fields", &app.admin_token, json!({"name": "入住人数", "type": "number"})).await;
        assert_eq!(derived.expect(StatusCode::CREATED)["key"], "ru_zhu_ren_shu");
        let unknown = app.post("/api/v1/apps/housing/tables/rooms/fields", &app.admin_token, json!({"name": "X", "type": "number", "options": {"precision": 2, "scale": 2}})).await;
        assert_eq!(unknown.expect_error(StatusCode::BAD_REQUEST, "invalid_request")["details"][0]["field"], "body.options.scale");
        let bad_precision = app.post("/api/v1/apps/housing/tables/rooms/fields", &app.admin_token, json!({"name": "Y", "type": "number", "options": {"precision": 9}})).await;
        bad_precision.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let bad_key = app.post("/api/v1/apps/housing/tables/rooms/fields", &app.admin_token, json!({"name": "Z", "key": "Z-1", "type": "text"})).await;
        assert_eq!(bad_key.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "body.key");
        app
    }

    async fn records_render_every_type_and_validate_per_field_and_per_record(app) {
        housing(&app).await;
        let room = app.post("/api/v1/apps/housing/tables/rooms/records", &app.admin_token, json!({"fields": {"room": "A1"}})).await.expect(StatusCode::CREATED).clone();
        let created = app
            .post(RECORDS, &app.admin_token, json!({"fields": {
                "guest": "家属1", "nights": 3, "deposit": "12.5", "discount": "0.06", "check_in": "2026-11-24",
                "room": [room["id"]], "host": app.owner.id.to_string()
            }}))
            .await;
        let record = created.expect(StatusCode::CREATED).clone();
        assert_eq!(record["version"], 1);
        let fields = &record["fields"];
        assert_eq!(fields["nights"], json!(3), "precision 0 numbers are JSON numbers");
        assert_eq!(fields["deposit"], "12.50", "currency keeps its precision as a string");
        assert_eq!(fields["discount"], "0.06");
        assert_eq!(fields["status"], "booked", "the default applies");
        assert_eq!(fields["room"], json!([{"id": room["id"], "name": "A1"}]));
        assert_eq!(fields["host"], json!({"id": app.owner.id.to_string(), "name": "Owner"}));
        assert_eq!(fields["no"], "ZS-0001");
        assert!(fields["created"].is_string());
        assert!(fields.get("check_out").is_none());

        let before = app.audit_len().await;
        let refused = app
            .post(RECORDS, &app.admin_token, json!({"records": [
                {"fields": {"guest": "ok"}},
                {"fields": {"nights": "many", "status": "gone"}},
                {"fields": {"guest": "x", "room": [app.owner.id.to_string()]}},
            ]}))
            .await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["records[1].fields.nights", "records[1].fields.status", "records[1].fields.guest"]);
        let refused = app.post(RECORDS, &app.admin_token, json!({"records": [{"fields": {"guest": "ok"}}, {"fields": {"guest": "x", "room": [app.owner.id.to_string()]}}]})).await;
        assert_eq!(refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "records[1].fields.room");
        assert_eq!(app.audit_len().await, before, "a refused batch writes nothing");
        let listed = app.get(&format!("{RECORDS}?count=true"), &app.admin_token).await;
        assert_eq!(listed.expect(StatusCode::OK)["total"], 1);

        let too_precise = app.post(RECORDS, &app.admin_token, json!({"fields": {"guest": "y", "deposit": "1.005"}})).await;
        assert_eq!(too_precise.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "fields.deposit");
        let duplicate = app.post(RECORDS, &app.admin_token, json!({"fields": {"guest": "家属1", "check_in": "2026-11-24"}})).await;
        assert_eq!(duplicate.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "fields.guest");
        app
    }

    async fn list_filters_sorts_pages_projects_and_keys_by_name(app) {
        housing(&app).await;
        let mut bodies = vec![];
        for (i, guest) in ["Ann", "Bob", "Cai", "Dee", "Eve"].iter().enumerate() {
            bodies.push(json!({"fields": {"guest": guest, "nights": (i % 3) + 1, "check_in": format!("2026-11-2{i}")}}));
        }
        app.post(RECORDS, &app.admin_token, json!({"records": bodies})).await.expect(StatusCode::CREATED);
        let filter = urlencode(&json!({"and": [{"field": "nights", "op": "gte", "value": 2}, {"not": {"field": "guest", "op": "eq", "value": "Eve"}}]}).to_string());
        let page = app.get(&format!("{RECORDS}?filter={filter}&sort=-nights,guest&fields=guest,nights&count=true"), &app.admin_token).await;
        let page = page.expect(StatusCode::OK).clone();
        let guests: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["fields"]["guest"].as_str().unwrap()).collect();
        assert_eq!(guests, ["Cai", "Bob"]);
        assert_eq!(page["total"], 2);
        assert!(page["items"][0]["fields"].get("check_in").is_none(), "fields= projects");
        let by_name = app.get(&format!("{RECORDS}?key_by=name&page_size=1"), &app.admin_token).await;
        let by_name = by_name.expect(StatusCode::OK).clone();
        assert!(by_name["items"][0]["fields"].get("Guest").is_some());
        let mut cursor = by_name["next_cursor"].as_str().unwrap().to_owned();
        let mut seen = 1;
        loop {
            let next = app.get(&format!("{RECORDS}?page_size=1&cursor={cursor}"), &app.admin_token).await.expect(StatusCode::OK).clone();
            seen += next["items"].as_array().unwrap().len();
            match next["next_cursor"].as_str() { Some(c) => cursor = c.to_owned(), None => break }
        }
        assert_eq!(seen, 5);
        let bad_op = app.get(&format!("{RECORDS}?filter={}", urlencode(&json!({"field": "nights", "op": "contains", "value": 1}).to_string())), &app.admin_token).await;
        let message = bad_op.expect_error(StatusCode::BAD_REQUEST, "invalid_request")["message"].as_str().unwrap().to_owned();
        assert!(message.contains("nights") && message.contains("contains"), "{message}");
        app.get(&format!("{RECORDS}?sort=room"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get(&format!("{RECORDS}?sort=nope"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app.get(&format!("{RECORDS}?filter=%7Bnot-json"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        app
    }

    async fn if_match_guards_updates_and_bulk_changes_are_atomic(app) {
        housing(&app).await;
        let record = app.post(RECORDS, &app.admin_token, json!({"fields": {"guest": "Ann", "nights": 1}})).await.expect(StatusCode::CREATED).clone();
        let path = format!("{RECORDS}/{}", record["id"].as_str().unwrap());
        let stale = app.http.patch(format!("{}{path}", app.base)).bearer_auth(&app.admin_token).header("if-match", "\"7\"").json(&json!({"fields": {"nights": 2}})).send().await.unwrap();
        crate::Reply::from(stale).await.expect_error(StatusCode::CONFLICT, "conflict");
        let fresh = app.http.patch(format!("{}{path}", app.base)).bearer_auth(&app.admin_token).header("if-match", "\"1\"").json(&json!({"fields": {"nights": 2, "status": null}})).send().await.unwrap();
        let fresh = crate::Reply::from(fresh).await;
        assert_eq!(fresh.expect(StatusCode::OK)["version"], 2);
        assert_eq!(fresh.body["fields"]["nights"], 2);
        assert!(fresh.body["fields"].get("status").is_none());
        app.patch(&path, &app.admin_token, json!({"fields": {"guest": null}})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let other = app.post(RECORDS, &app.admin_token, json!({"fields": {"guest": "Bob"}})).await.expect(StatusCode::CREATED).clone();
        let ghost = tenon_model::RecordId::new().to_string();
        let bulk = app.call(Method::PATCH, RECORDS, Some(&app.admin_token), Some(json!({"records": [{"id": other["id"], "fields": {"nights": 9}}, {"id": ghost, "fields": {"nights": 1}}]}))).await;
        assert_eq!(bulk.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "records[1].id");
        let unchanged = app.get(&format!("{RECORDS}/{}", other["id"].as_str().unwrap()), &app.admin_token).await;
        assert!(unchanged.expect(StatusCode::OK)["fields"].get("nights").is_none(), "the failed batch changed nothing");
        let deleted = app.call(Method::DELETE, RECORDS, Some(&app.admin_token), Some(json!({"ids": [record["id"], other["id"]]}))).await;
        assert_eq!(deleted.expect(StatusCode::OK)["records"][1]["deleted"], true);
        app.get(&path, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn idempotency_key_replays_the_first_create_and_refuses_a_different_body(app) {
        housing(&app).await;
        let send = |body: Value| {
            app.http.post(format!("{}{RECORDS}", app.base)).bearer_auth(&app.admin_token).header("idempotency-key", "order-42").json(&body).send()
        };
        let first = crate::Reply::from(send(json!({"fields": {"guest": "Ann"}})).await.unwrap()).await;
        let first_id = first.expect(StatusCode::CREATED)["id"].clone();
        let again = crate::Reply::from(send(json!({"fields": {"guest": "Ann"}})).await.unwrap()).await;
        assert_eq!(again.expect(StatusCode::CREATED)["id"], first_id);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        let different = crate::Reply::from(send(json!({"fields": {"guest": "Bob"}})).await.unwrap()).await;
        different.expect_error(StatusCode::CONFLICT, "conflict");
        let listed = app.get(&format!("{RECORDS}?count=true"), &app.admin_token).await;
        assert_eq!(listed.expect(StatusCode::OK)["total"], 1);
        app
    }

    async fn expand_fetches_linked_records_and_links_show_on_both_sides(app) {
        housing(&app).await;
        let room = app.post("/api/v1/apps/housing/tables/rooms/records", &app.admin_token, json!({"fields": {"room": "B2"}})).await.expect(StatusCode::CREATED).clone();
        let booking = app.post(RECORDS, &app.admin_token, json!({"fields": {"guest": "Ann", "room": [room["id"]]}})).await.expect(StatusCode::CREATED).clone();
        let expanded = app.get(&format!("{RECORDS}/{}?expand=room", booking["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(expanded.expect(StatusCode::OK)["fields"]["room"][0]["record"]["fields"]["room"], "B2");
        let room_view = app.get(&format!("/api/v1/apps/housing/tables/rooms/records/{}", room["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(room_view.expect(StatusCode::OK)["fields"]["bookings"], json!([{"id": booking["id"], "name": "Ann"}]));
        app
    }

    async fn hostile_names_keys_filters_and_sorts_stay_data(app) {
        let evil = "x\"; DROP TABLE members; --";
        app.post("/api/v1/apps", &app.admin_token, json!({"name": evil, "key": "evil"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "k", "key": "a\"; drop"})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let table = app.post("/api/v1/apps/evil/tables", &app.admin_token, json!({"name": evil, "fields": [{"name": evil, "type": "text"}, {"name": "n' OR 1=1 --", "type": "number"}]})).await;
        let table = table.expect(StatusCode::CREATED).clone();
        let table_key = table["key"].as_str().unwrap().to_owned();
        let records = format!("/api/v1/apps/evil/tables/{table_key}/records");
        let text_key = table["fields"][0]["key"].as_str().unwrap().to_owned();
        app.post(&records, &app.admin_token, json!({"fields": {text_key.clone(): "'; DELETE FROM audit_log; --"}})).await.expect(StatusCode::CREATED);
        let filter = urlencode(&json!({"field": text_key, "op": "contains", "value": "'; DELETE"}).to_string());
        let found = app.get(&format!("{records}?filter={filter}"), &app.admin_token).await;
        assert_eq!(found.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1);
        let injected_sort = urlencode("guest; DROP TABLE apps");
        app.get(&format!("{records}?sort={injected_sort}"), &app.admin_token).await.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        // Everything is still there.
        app.get("/api/v1/members", &app.admin_token).await.expect(StatusCode::OK);
        assert!(app.audit_len().await > 0);
        app
    }

    async fn a_record_read_by_id_after_its_field_changed_type_has_the_new_type(app) {
        // PostgreSQL keeps the plan of a read by id on every connection that ran it; a field whose type
        // changes (its column remade under the same name) must not meet a plan of the old type.
        let table = "/api/v1/apps/stock/tables/items";
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "库存", "key": "stock"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/stock/tables", &app.admin_token, json!({"name": "Items", "key": "items", "fields": [{"name": "Name", "key": "name", "type": "text"}, {"name": "Qty", "key": "qty", "type": "number"}]}))
            .await
            .expect(StatusCode::CREATED);
        let item = app.post(&format!("{table}/records"), &app.admin_token, json!({"fields": {"name": "螺丝", "qty": 3}})).await.expect(StatusCode::CREATED).clone();
        let path = format!("{table}/records/{}", item["id"].as_str().unwrap());
        for (step, retype) in [(0, None), (1, Some("text")), (2, Some("number"))] {
            if let Some(kind) = retype {
                app.patch(&format!("{table}/fields/qty"), &app.admin_token, json!({"type": kind})).await.expect(StatusCode::OK);
            }
            // As the list (read without a kept plan) renders it.
            let listed = app.get(&format!("{table}/records"), &app.admin_token).await.expect(StatusCode::OK)["items"][0]["fields"].clone();
            assert_eq!(listed["qty"].is_string(), step == 1, "{listed}");
            // Inside a write's transaction, where a stale plan could not be prepared again.
            for round in 0..10 {
                let name = format!("螺丝 {step}.{round}");
                let written = app.patch(&path, &app.admin_token, json!({"fields": {"name": name}})).await;
                assert_eq!(written.expect(StatusCode::OK)["fields"]["qty"], listed["qty"], "step {step}");
            }
            for _ in 0..40 {
                let got = app.get(&path, &app.admin_token).await.expect(StatusCode::OK)["fields"].clone();
                assert_eq!((&got["qty"], &got["name"]), (&listed["qty"], &json!(format!("螺丝 {step}.9"))), "step {step}");
            }
        }
        app
    }
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
