//! Views (grid, kanban, calendar, gallery, form) and public form links.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

const VIEWS: &str = "/api/v1/apps/housing/tables/bookings/views";

async fn housing(app: &TestApp) {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "Housing", "key": "housing"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/housing/tables", &app.admin_token, json!({"name": "Bookings", "key": "bookings", "fields": [
        {"name": "Guest", "key": "guest", "type": "text", "required": true},
        {"name": "Phone", "key": "phone", "type": "phone"},
        {"name": "Status", "key": "status", "type": "single_select", "options": {"choices": ["pending", "approved"]}},
        {"name": "Check in", "key": "check_in", "type": "date"},
        {"name": "Nights", "key": "nights", "type": "number"},
        {"name": "Internal note", "key": "note", "type": "text"},
        {"name": "Number", "key": "number", "type": "autonumber"}
    ]})).await.expect(StatusCode::CREATED);
    app.post("/api/v1/apps/housing/tables/bookings/records", &app.admin_token, json!({"records": [
        {"fields": {"guest": "王芳", "status": "approved", "check_in": "2026-12-01", "nights": 3}},
        {"fields": {"guest": "Ola", "status": "pending", "check_in": "2026-12-03", "nights": 1}},
        {"fields": {"guest": "李雷", "status": "approved", "check_in": "2026-11-28", "nights": 7}}
    ]})).await.expect(StatusCode::CREATED);
}

fn slug_of(view: &Value) -> String {
    view["public_url"]
        .as_str()
        .expect("a public form has a link")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

async fn submit(app: &TestApp, slug: &str, body: Value) -> crate::Reply {
    app.call(
        Method::POST,
        &format!("/api/v1/forms/{slug}"),
        None,
        Some(body),
    )
    .await
}

api_tests! {
    async fn views_are_created_listed_updated_and_deleted(app) {
        housing(&app).await;
        let grid = app.post(VIEWS, &app.admin_token, json!({"name": "Approved", "key": "approved", "type": "grid",
            "config": {"fields": ["guest", {"field": "nights", "width": 80}], "filter": {"field": "status", "op": "eq", "value": "approved"}, "sort": "-nights"}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        assert_eq!(grid["type"], "grid");
        assert_eq!(grid["key"], "approved");
        assert!(grid["public_url"].is_null());
        let board = app.post(VIEWS, &app.admin_token, json!({"name": "Board", "type": "kanban", "config": {"group_field": "status", "fields": ["guest"]}})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(board["position"], 1);
        let cards = app.get(&format!("{VIEWS}/{}/records", board["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(cards["items"][0]["fields"].get("status").is_some(), "a kanban's cards carry their column: {cards}");
        let list = app.get(VIEWS, &app.admin_token).await.expect(StatusCode::OK).clone();
        let keys: Vec<&str> = list["items"].as_array().unwrap().iter().map(|view| view["key"].as_str().unwrap()).collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], "approved");

        let renamed = app
            .patch(&format!("{VIEWS}/approved"), &app.admin_token, json!({"name": "Confirmed", "type": "grid", "config": {"sort": "guest"}}))
            .await
            .expect(StatusCode::OK)
            .clone();
        assert_eq!(renamed["name"], "Confirmed");
        assert_eq!(renamed["id"], grid["id"]);
        let by_id = app.get(&format!("{VIEWS}/{}", grid["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(by_id["config"], json!({"sort": "guest"}));

        app.delete(&format!("{VIEWS}/{}", board["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.get(&format!("{VIEWS}/{}", board["id"].as_str().unwrap()), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn a_view_lists_its_records_filtered_sorted_and_trimmed_to_its_fields(app) {
        housing(&app).await;
        app.post(VIEWS, &app.admin_token, json!({"name": "Approved", "key": "approved", "type": "grid",
            "config": {"fields": ["guest", "nights", {"field": "note", "hidden": true}], "filter": {"field": "status", "op": "eq", "value": "approved"}, "sort": "-nights"}}))
            .await
            .expect(StatusCode::CREATED);
        let page = app.get(&format!("{VIEWS}/approved/records?page_size=1"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["fields"], json!({"guest": "李雷", "nights": 7}));
        let cursor = page["next_cursor"].as_str().expect("a second page").to_owned();
        let next = app.get(&format!("{VIEWS}/approved/records?page_size=1&cursor={cursor}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(next["items"][0]["fields"]["guest"], "王芳");
        assert!(next["next_cursor"].is_null());

        // A field the view relies on disappears: the view says so instead of showing something else.
        let schema = app.get("/api/v1/apps/housing/tables/bookings", &app.admin_token).await.expect(StatusCode::OK).clone();
        let nights = schema["fields"].as_array().unwrap().iter().find(|field| field["key"] == "nights").unwrap()["id"].as_str().unwrap().to_owned();
        app.delete(&format!("/api/v1/apps/housing/tables/bookings/fields/{nights}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let stale = app.get(&format!("{VIEWS}/approved/records"), &app.admin_token).await;
        let error = stale.expect_error(StatusCode::CONFLICT, "conflict");
        assert!(error["message"].as_str().unwrap().contains("nights"), "{error}");
        app
    }

    async fn bad_views_are_refused_with_the_path_of_each_problem(app) {
        housing(&app).await;
        let reply = app.post(VIEWS, &app.admin_token, json!({"name": "Board", "type": "kanban", "config": {"group_field": "guest", "colour": "red"}})).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let paths: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert!(paths.contains(&"config.group_field"), "{error}");
        assert!(paths.contains(&"config.colour"), "{error}");
        // A cover is an attachment field, on a board as in a gallery.
        for (kind, setting, config) in [
            ("kanban", "card_cover", json!({"group_field": "status", "card_cover": "guest"})),
            ("gallery", "cover_field", json!({"cover_field": "guest"})),
        ] {
            let reply = app.post(VIEWS, &app.admin_token, json!({"name": "Covered", "type": kind, "config": config})).await;
            let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
            let detail = &error["details"][0];
            assert_eq!((&detail["field"], &detail["code"]), (&json!(format!("config.{setting}")), &json!("not_allowed")), "{kind}: {error}");
            assert!(detail["reason"].as_str().unwrap().contains("is not an attachment"), "{error}");
        }
        let calendar = app.post(VIEWS, &app.admin_token, json!({"name": "Cal", "type": "calendar", "config": {}})).await;
        calendar.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let filter = app.post(VIEWS, &app.admin_token, json!({"name": "F", "type": "grid", "config": {"filter": {"field": "nope", "op": "eq", "value": 1}}})).await;
        filter.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let computed = app.post(VIEWS, &app.admin_token, json!({"name": "Form", "type": "form", "config": {"fields": ["number"]}})).await;
        computed.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let kind = app.post(VIEWS, &app.admin_token, json!({"name": "X", "type": "pivot"})).await;
        kind.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let list = app.get(VIEWS, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(list["items"], json!([]), "nothing was saved");
        // `null` for an optional cover is the same as none.
        let board = app.post(VIEWS, &app.admin_token, json!({"name": "Board", "type": "kanban", "config": {"group_field": "status", "card_cover": null}})).await;
        assert_eq!(board.expect(StatusCode::CREATED)["type"], "kanban");
        app
    }

    async fn a_public_form_takes_submissions_without_credentials_and_only_its_fields(app) {
        housing(&app).await;
        let form = app.post(VIEWS, &app.admin_token, json!({"name": "Apply", "type": "form", "config": {
            "title": "申请住宿 / Apply for a room", "fields": ["guest", {"field": "phone", "help": "We call you back", "required": true}, "check_in"],
            "public": true, "success_message": "谢谢"}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let slug = slug_of(&form);
        assert!(slug.len() >= 20, "the link is unguessable: {slug}");

        let page = app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await.expect(StatusCode::OK).clone();
        assert_eq!(page["title"], "申请住宿 / Apply for a room");
        // A public route ignores credentials: a stale token a browser or client still sends changes nothing.
        let stale = app.call(Method::GET, &format!("/api/v1/forms/{slug}"), Some("tnp_not-a-token"), None).await;
        assert_eq!(stale.expect(StatusCode::OK)["title"], page["title"]);
        let fields: Vec<(&str, bool)> = page["fields"].as_array().unwrap().iter().map(|f| (f["key"].as_str().unwrap(), f["required"].as_bool().unwrap())).collect();
        assert_eq!(fields, vec![("guest", true), ("phone", true), ("check_in", false)]);
        assert_eq!(page["fields"][1]["help"], "We call you back");

        let done = submit(&app, &slug, json!({"fields": {"guest": "Kari", "phone": "+47 22 00 00 00", "check_in": "2026-12-24"}})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(done["message"], "谢谢");
        let record = app.get(&format!("/api/v1/apps/housing/tables/bookings/records/{}", done["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(record.expect(StatusCode::OK)["fields"]["guest"], "Kari");

        // Fields not on the form, and missing required ones, are refused; nothing is written.
        let before = app.get("/api/v1/apps/housing/tables/bookings/records?count=true", &app.admin_token).await.expect(StatusCode::OK)["total"].clone();
        let sneaky = submit(&app, &slug, json!({"fields": {"guest": "Eve", "phone": "1", "note": "approve me", "status": "approved"}})).await;
        let error = sneaky.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let paths: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        // Every problem at once: the fields not on the form, then the values (phone "1" is no number).
        assert_eq!(paths, vec!["fields.note", "fields.status", "fields.phone"]);
        let missing = submit(&app, &slug, json!({"fields": {"guest": "Eve"}})).await;
        missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let after = app.get("/api/v1/apps/housing/tables/bookings/records?count=true", &app.admin_token).await.expect(StatusCode::OK)["total"].clone();
        assert_eq!(before, after);

        // The owner withdraws the link: it stops working at once.
        app.patch(&format!("{VIEWS}/{}", form["id"].as_str().unwrap()), &app.admin_token, json!({"name": "Apply", "type": "form", "config": {"fields": ["guest"], "public": false}}))
            .await
            .expect(StatusCode::OK);
        app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        submit(&app, &slug, json!({"fields": {"guest": "Late"}})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // A form that is not public has no link at all.
        app.call(Method::GET, "/api/v1/forms/not-a-form", None, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn a_public_form_limits_each_visitor(app) {
        housing(&app).await;
        let form = app.post(VIEWS, &app.admin_token, json!({"name": "Apply", "type": "form", "config": {"fields": ["guest"], "public": true}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let slug = slug_of(&form);
        let mut accepted = 0;
        let mut limited = None;
        for i in 0..40 {
            let reply = submit(&app, &slug, json!({"fields": {"guest": format!("guest {i}")}})).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(reply);
                break;
            }
            reply.expect(StatusCode::CREATED);
            accepted += 1;
        }
        let limited = limited.expect("the visitor is limited");
        limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert!(limited.header("retry-after").is_some());
        assert!(accepted >= 20, "a burst of 20 is allowed, got {accepted}");
        app
    }

    async fn a_public_forms_daily_cap_refuses_and_writes_nothing(app) {
        housing(&app).await;
        let form = app.post(VIEWS, &app.admin_token, json!({"name": "Apply", "type": "form", "config": {
            "fields": ["guest", {"field": "status", "hidden": true, "default": "pending"}], "public": true, "daily_limit": 2}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let slug = slug_of(&form);
        // A hidden field is not on the page and cannot be sent; the record gets its default.
        let page = app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await.expect(StatusCode::OK).clone();
        assert_eq!(page["fields"].as_array().unwrap().len(), 1);
        submit(&app, &slug, json!({"fields": {"guest": "A", "status": "approved"}})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let first = submit(&app, &slug, json!({"fields": {"guest": "A"}})).await.expect(StatusCode::CREATED).clone();
        let record = app.get(&format!("/api/v1/apps/housing/tables/bookings/records/{}", first["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(record.expect(StatusCode::OK)["fields"]["status"], "pending");
        // A refused submission does not use up the day's slots.
        submit(&app, &slug, json!({"fields": {"guest": ""}})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        submit(&app, &slug, json!({"fields": {"guest": "B"}})).await.expect(StatusCode::CREATED);
        let over = submit(&app, &slug, json!({"fields": {"guest": "C"}})).await;
        let error = over.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited").clone();
        assert_eq!(error["details"][0]["code"], "limit_reached");
        assert_eq!(error["details"][0]["params"]["max"], 2);
        assert!(over.header("retry-after").is_some());
        let total = app.get("/api/v1/apps/housing/tables/bookings/records?count=true", &app.admin_token).await.expect(StatusCode::OK)["total"].clone();
        assert_eq!(total, 5, "3 seeded + 2 submitted");
        // The cap must be a whole number of at least 1.
        app.post(VIEWS, &app.admin_token, json!({"name": "Bad", "type": "form", "config": {"fields": ["guest"], "daily_limit": 0}}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app
    }
}
