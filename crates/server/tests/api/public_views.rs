//! Published grid views (issue #19): read-only without an account, narrowed by a chosen app role — its
//! read rule in SQL (rules about the person match no visitor) and its hidden fields left out — paged by
//! cursor; unpublished, unknown or form slugs are 404.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::permissions::{charity, document, put};
use crate::{TestApp, api_tests};

const VIEWS: &str = "/api/v1/apps/charity/tables/families/views";

async fn publish(app: &TestApp, config: Value) -> crate::Reply {
    app.post(
        VIEWS,
        &app.admin_token,
        json!({"name": "Board", "type": "grid", "config": config}),
    )
    .await
}

fn slug_of(view: &Value) -> String {
    let url = view["public_url"].as_str().unwrap();
    assert!(url.starts_with("/api/v1/public-views/"), "{url}");
    url.rsplit('/').next().unwrap().to_owned()
}

async fn visit(app: &TestApp, slug: &str, cursor: Option<&str>) -> crate::Reply {
    let path = match cursor {
        Some(cursor) => format!("/api/v1/public-views/{slug}?cursor={cursor}"),
        None => format!("/api/v1/public-views/{slug}"),
    };
    app.call(Method::GET, &path, None, None).await
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["fields"]["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The charity's document with a `board` role: every row that is not archived, without ID numbers
/// and phones.
async fn with_board_role(app: &TestApp, charity: &crate::permissions::Charity) {
    let mut doc = document(charity);
    doc["roles"].as_array_mut().unwrap().push(json!({
        "key": "board", "name": "Board", "who": {"members": [], "departments": [], "roles": []},
        "grants": [{"table": "families", "actions": {"read": "{status} != \"archived\""},
            "fields": {"hidden": ["id_number", "phone"], "read_only": []}}]
    }));
    put(app, doc).await.expect(StatusCode::OK);
}

/// A `tenon.app/v1` file of a hostel whose second view publishes the rooms as `as_role`, with the
/// permissions `roles` (none: no `permissions` section).
fn hostel(as_role: &str, roles: &[&str]) -> Value {
    let mut file = json!({
        "format": "tenon.app/v1", "key": "hostel", "name": "Hostel",
        "tables": [{"key": "rooms", "name": "Rooms", "fields": [{"key": "name", "name": "Name", "type": "text"}],
            "views": [
                {"key": "all", "name": "All", "type": "grid", "config": {}},
                {"key": "free", "name": "Free", "type": "grid",
                 "config": {"public": {"enabled": true, "as_role": as_role}}}
            ]}]
    });
    if !roles.is_empty() {
        file["permissions"] = json!({"roles": roles.iter().map(|key| json!({
            "key": key, "name": key, "who": {"members": [], "departments": [], "roles": []},
            "grants": [{"table": "rooms", "actions": {"read": true}, "fields": {"hidden": [], "read_only": []}}]
        })).collect::<Vec<_>>()});
    }
    file
}

/// The one problem of a refused import: its path and code, and the roles it allows.
fn refused_role(reply: &crate::Reply) -> (String, String, Value) {
    let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let details = error["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{error}");
    (
        details[0]["field"].as_str().unwrap().to_owned(),
        details[0]["code"].as_str().unwrap().to_owned(),
        details[0]["params"]["allowed"].clone(),
    )
}

api_tests! {
    async fn app_code_import_refuses_a_published_grid_as_a_role_the_app_will_not_have(app) {
        const IMPORT: &str = "/api/v1/apps/import";
        let at = "tables[0].views[1].config.public.as_role".to_owned();
        // A new app: the roles are the file's; the dry run refuses as the import does, and nothing is made.
        for path in [format!("{IMPORT}?dry_run=true"), IMPORT.to_owned()] {
            let reply = app.post(&path, &app.admin_token, hostel("guests", &["staff"])).await;
            assert_eq!(refused_role(&reply), (at.clone(), "unknown_option".to_owned(), json!(["staff"])), "{path}");
        }
        let reply = app.post(IMPORT, &app.admin_token, hostel("guests", &[])).await;
        assert_eq!(refused_role(&reply), (at.clone(), "unknown_option".to_owned(), json!([])), "no permissions, no roles");
        app.get("/api/v1/apps/hostel", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");

        let made = app.post(IMPORT, &app.admin_token, hostel("guests", &["staff", "guests"])).await;
        made.expect(StatusCode::CREATED);
        let views = app.get("/api/v1/apps/hostel/tables/rooms/views", &app.admin_token).await.expect(StatusCode::OK).clone();
        let free = views["items"].as_array().unwrap().iter().find(|view| view["key"] == "free").unwrap().clone();
        let slug = slug_of(&free);
        visit(&app, &slug, None).await.expect(StatusCode::OK);

        // An existing app: a file without permissions is checked against the stored ones (which it keeps).
        let reply = app.post(&format!("{IMPORT}?dry_run=true"), &app.admin_token, hostel("ghost", &[])).await;
        assert_eq!(refused_role(&reply), (at.clone(), "unknown_option".to_owned(), json!(["staff", "guests"])));
        let reply = app.post(IMPORT, &app.admin_token, hostel("ghost", &[])).await;
        refused_role(&reply);
        // A file with permissions is checked against its own: a role it drops cannot publish.
        let reply = app.post(IMPORT, &app.admin_token, hostel("guests", &["staff"])).await;
        assert_eq!(refused_role(&reply), (at.clone(), "unknown_option".to_owned(), json!(["staff"])));
        let views = app.get("/api/v1/apps/hostel/tables/rooms/views", &app.admin_token).await.expect(StatusCode::OK).clone();
        let still = views["items"].as_array().unwrap().iter().find(|view| view["key"] == "free").unwrap().clone();
        assert_eq!(still["config"], free["config"], "a refused import changes nothing");
        // The stored roles let a file without permissions publish as one of them.
        app.post(IMPORT, &app.admin_token, hostel("staff", &[])).await.expect(StatusCode::OK);
        app
    }

    async fn a_published_view_shows_the_roles_rows_and_fields_without_credentials(app) {
        let charity = charity(&app).await;
        with_board_role(&app, &charity).await;
        let unknown = publish(&app, json!({"public": {"enabled": true, "as_role": "nobody"}})).await;
        let error = unknown.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "config.public.as_role");
        let shape = publish(&app, json!({"public": {"enabled": "yes", "colour": 1}})).await;
        shape.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

        let view = publish(&app, json!({"fields": ["name", "id_number", "status"], "sort": "name", "public": {"enabled": true, "as_role": "board"}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let slug = slug_of(&view);
        let page = visit(&app, &slug, None).await.expect(StatusCode::OK).clone();
        assert_eq!(page["title"], "Board");
        assert_eq!(names(&page), ["F1", "F3", "F4"], "F2 is archived: {page}");
        let keys: Vec<&str> = page["fields"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["name", "status"], "the role hides id_number; the view does not show phone");
        // As a JSON string: the page's ids are random hex, which may hold the digits 110.
        assert!(!page.to_string().contains("\"110\""), "no ID number anywhere: {page}");
        assert!(page["next_cursor"].is_null());
        // A form's slug is not a published view, and a view's slug is not a form.
        app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");

        // A role whose rule is about the person matches no visitor.
        let mine = publish(&app, json!({"public": {"enabled": true, "as_role": "volunteers"}})).await.expect(StatusCode::CREATED).clone();
        let page = visit(&app, &slug_of(&mine), None).await.expect(StatusCode::OK).clone();
        assert_eq!(names(&page), Vec::<String>::new());
        // Sorting by a field the role hides would leak it through the order: refused.
        let leaky = publish(&app, json!({"sort": "id_number", "public": {"enabled": true, "as_role": "board"}})).await.expect(StatusCode::CREATED).clone();
        visit(&app, &slug_of(&leaky), None).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");

        // Unpublished: 404, and the link is gone.
        let id = view["id"].as_str().unwrap();
        app.patch(&format!("{VIEWS}/{id}"), &app.admin_token, json!({"name": "Board", "type": "grid", "config": {"public": {"enabled": false}}}))
            .await
            .expect(StatusCode::OK);
        visit(&app, &slug, None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        visit(&app, "no-such-view", None).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn a_published_view_pages_by_cursor(app) {
        let charity = charity(&app).await;
        with_board_role(&app, &charity).await;
        let records: Vec<Value> = (0..30).map(|n| json!({"fields": {"name": format!("G{n:02}")}})).collect();
        app.post("/api/v1/apps/charity/tables/families/records", &app.admin_token, json!({"records": records}))
            .await
            .expect(StatusCode::CREATED);
        let view = publish(&app, json!({"sort": "name", "public": {"enabled": true, "as_role": "board"}})).await.expect(StatusCode::CREATED).clone();
        let slug = slug_of(&view);
        let first = visit(&app, &slug, None).await.expect(StatusCode::OK).clone();
        assert_eq!(first["items"].as_array().unwrap().len(), 25);
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let second = visit(&app, &slug, Some(&cursor)).await.expect(StatusCode::OK).clone();
        let mut all = names(&first);
        all.extend(names(&second));
        assert_eq!(all.len(), 33, "30 new and F1, F3, F4: {all:?}");
        assert!(second["next_cursor"].is_null());
        assert!(!all.contains(&"F2".to_owned()));
        app
    }

    async fn a_lookup_view_finds_one_record_by_number_and_digits_and_answers_misses_alike(app) {
        let token = &app.admin_token;
        app.post("/api/v1/apps", token, json!({"name": "Housing", "key": "housing"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/housing/tables", token, json!({"name": "Stays", "key": "stays", "fields": [
            {"name": "No", "key": "no", "type": "number"},
            {"name": "Guest", "key": "guest", "type": "text"},
            {"name": "Phone", "key": "phone", "type": "phone"},
            {"name": "Room", "key": "room", "type": "text"},
            {"name": "ID number", "key": "id_number", "type": "text"}
        ]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/housing/tables/stays/records", token, json!({"records": [
            {"fields": {"no": 1001, "guest": "Wang", "phone": "+86 138 0000 5678", "room": "A1", "id_number": "110101"}},
            {"fields": {"no": 1002, "guest": "Li", "phone": "+86 139 0000 1234", "room": "B2", "id_number": "220202"}}
        ]})).await.expect(StatusCode::CREATED);
        app.call(Method::PUT, "/api/v1/apps/housing/permissions", Some(token), Some(json!({"roles": [
            {"key": "guests", "name": "Guests", "grants": [{"table": "stays", "actions": {"read": true}, "fields": {"hidden": ["id_number"]}}]}
        ]}))).await.expect(StatusCode::OK);
        let bad = app.post("/api/v1/apps/housing/tables/stays/views", token, json!({"name": "Mine", "type": "grid",
            "config": {"public": {"enabled": true, "as_role": "guests", "lookup": {"number": "no", "phone": "room_of"}}}})).await;
        let error = bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "config.public.lookup.phone");
        let view = app.post("/api/v1/apps/housing/tables/stays/views", token, json!({"name": "My stay", "type": "grid",
            "config": {"fields": ["no", "guest", "room", "id_number"], "public": {"enabled": true, "as_role": "guests", "lookup": {"number": "no", "phone": "phone"}}}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        let slug = slug_of(&view);
        // A lookup view lists nothing.
        let listed = visit(&app, &slug, None).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["lookup"], true);
        assert_eq!(listed["items"], json!([]));
        let path = format!("/api/v1/public-views/{slug}/lookup");
        let ask = |number: &str, digits: &str| {
            let body = json!({"number": number, "phone_last4": digits});
            let path = path.clone();
            let app = &app;
            async move { app.call(Method::POST, &path, None, Some(body)).await }
        };
        let found = ask("1001", "5678").await.expect(StatusCode::OK).clone();
        assert_eq!(found["record"]["fields"]["guest"], "Wang");
        assert_eq!(found["record"]["fields"]["room"], "A1");
        assert!(found["record"]["fields"].get("id_number").is_none(), "hidden by the role: {found}");
        assert!(found["record"]["fields"].get("phone").is_none(), "not a field of the view: {found}");
        // The number is read as the store compares it (and limited as one number however it is spelled).
        assert_eq!(ask("01001", "5678").await.expect(StatusCode::OK)["record"]["id"], found["record"]["id"]);
        // Every miss answers alike.
        let wrong_digits = ask("1001", "1234").await.expect_error(StatusCode::NOT_FOUND, "not_found").clone();
        let no_such = ask("9999", "5678").await.expect_error(StatusCode::NOT_FOUND, "not_found").clone();
        let strip = |mut error: Value| {
            error.as_object_mut().unwrap().remove("request_id");
            error
        };
        assert_eq!(strip(wrong_digits), strip(no_such));
        ask("1001", "56a8").await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        // Guessing is limited: soon every try is refused, the right one too.
        let mut limited = false;
        for _ in 0..12 {
            let reply = ask("1001", "0000").await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
                limited = true;
                break;
            }
            reply.expect_error(StatusCode::NOT_FOUND, "not_found");
        }
        assert!(limited, "the lookups were never limited");
        ask("1001", "5678").await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        app
    }
}
