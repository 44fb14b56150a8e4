//! What the server answers is what the document says (#15 §2), checked in-process for answers a fuzzer
//! rarely reaches: exports in every format, public forms, aggregates, bulk deletes, a view's page, an app's
//! own document, health checks and a select filter's 422. Each answer's status and content type are
//! documented for its operation, and a JSON body fits the documented schema.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

/// The schema a `$ref` names, followed to the end.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "{reference} does not resolve");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn type_fits(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown schema type {other}"),
    }
}

/// Where `value` does not fit `schema`, for the part of JSON Schema the generated document uses:
/// `$ref`, `type` (one or several), `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `oneOf` (exactly one fits), `anyOf` and `allOf`.
fn misfits(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(types) = schema.get("type") {
        let kinds: Vec<&str> = match types {
            Value::String(kind) => vec![kind.as_str()],
            Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
            other => panic!("unexpected type {other}"),
        };
        if !kinds.iter().any(|kind| type_fits(kind, value)) {
            out.push(format!("{at}: {value} is not of type {kinds:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is none of {allowed:?}"));
    }
    let fitting = |options: &Vec<Value>| {
        options
            .iter()
            .filter(|option| {
                let mut inner = Vec::new();
                misfits(doc, option, value, at, &mut inner);
                inner.is_empty()
            })
            .count()
    };
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array)
        && fitting(options) != 1
    {
        out.push(format!("{at}: {value} fits not exactly one of {options:?}"));
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array)
        && fitting(options) == 0
    {
        out.push(format!("{at}: {value} fits none of {options:?}"));
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        misfits(doc, part, value, at, out);
    }
    if let Value::Object(object) = value {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                out.push(format!("{at}: the required {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, item) in object {
            match properties.and_then(|properties| properties.get(name)) {
                Some(property) => misfits(doc, property, item, &format!("{at}.{name}"), out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        out.push(format!("{at}: {name} is not a documented property"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        misfits(doc, extra, item, &format!("{at}.{name}"), out);
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (index, item) in items.iter().enumerate() {
            misfits(doc, item_schema, item, &format!("{at}[{index}]"), out);
        }
    }
}

/// Asserts that `reply` is what the document says `method template` answers: its status is documented,
/// its content type is one the status documents, and a JSON body fits that content's schema.
#[track_caller]
pub(crate) fn conforms(doc: &Value, method: &str, template: &str, reply: &Reply) {
    let operation = &doc["paths"][template][method];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let status = reply.status.as_str();
    let response = &operation["responses"][status];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which its document does not list: {}",
        reply.body
    );
    let Some(content_type) = reply.header("content-type") else {
        assert!(
            response.get("content").is_none() && reply.body.is_null(),
            "{method} {template} {status} documents a body but sent none"
        );
        return;
    };
    let media = content_type.split(';').next().unwrap_or("").trim();
    let documented = response["content"].as_object().unwrap_or_else(|| {
        panic!("{method} {template} {status} sent {media} but documents no body")
    });
    let content = documented
        .get(media)
        .or_else(|| documented.get("*/*"))
        .unwrap_or_else(|| {
            panic!(
                "{method} {template} {status} sent {media}; the document lists {:?}",
                documented.keys().collect::<Vec<_>>()
            )
        });
    if media.ends_with("json") {
        let mut out = Vec::new();
        misfits(doc, &content["schema"], &reply.body, "body", &mut out);
        assert!(
            out.is_empty(),
            "{method} {template} {status}: the body does not fit the documented schema:\n{}\n{}",
            out.join("\n"),
            reply.body
        );
    }
}

/// A table with a select, three records, a grid view and a public form.
async fn attendance(app: &TestApp) -> String {
    let token = &app.admin_token;
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "Duty", "key": "duty"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/duty/tables", token, json!({"name": "Attendance", "key": "attendance", "fields": [
        {"name": "Student", "key": "student", "type": "text"},
        {"name": "State", "key": "state", "type": "single_select", "options": {"choices": ["缺勤 Absent", "出勤 Present"]}},
        {"name": "Hours", "key": "hours", "type": "number", "options": {"precision": 1}}
    ]}))
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/duty/tables/attendance/records",
        token,
        json!({"records": [
            {"fields": {"student": "李雷", "state": "缺勤 Absent", "hours": "0"}},
            {"fields": {"student": "韩梅梅", "state": "出勤 Present", "hours": "7.5"}},
            {"fields": {"student": "Lily", "state": "出勤 Present", "hours": "8"}}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/duty/tables/attendance/views", token, json!({"name": "All", "key": "all", "type": "grid", "config": {"fields": ["student", "state"]}}))
        .await
        .expect(StatusCode::CREATED);
    let form = app.post("/api/v1/apps/duty/tables/attendance/views", token, json!({"name": "Report", "type": "form", "config": {
        "title": "请假 / Report an absence", "fields": ["student", {"field": "state", "help": "Choose one", "required": true}],
        "public": true, "success_message": "收到"}}))
        .await
        .expect(StatusCode::CREATED)
        .clone();
    form["public_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

fn encoded(filter: &Value) -> String {
    form_urlencoded::byte_serialize(filter.to_string().as_bytes()).collect()
}

api_tests! {
    async fn answers_are_the_statuses_content_types_and_bodies_the_document_gives(app) {
        let doc = app.call(Method::GET, "/openapi.json", None, None).await.expect(StatusCode::OK).clone();
        let slug = attendance(&app).await;
        let token = app.admin_token.clone();
        let get = |path: String| {
            let token = token.clone();
            let app = &app;
            async move { app.get(&path, &token).await }
        };
        for path in ["/healthz", "/readyz"] {
            conforms(&doc, "get", path, &app.call(Method::GET, path, None, None).await);
        }

        // Lists and aggregates, including the 422 of a select compared with a value that is not a choice.
        let records = "/api/v1/apps/{app}/tables/{table}/records";
        let aggregate = "/api/v1/apps/{app}/tables/{table}/aggregate";
        let not_a_choice = encoded(&json!({"field": "state", "op": "eq", "value": "缺勤"}));
        let listed = get("/api/v1/apps/duty/tables/attendance/records?count=true".to_owned()).await;
        assert_eq!(listed.expect(StatusCode::OK)["total"], 3);
        conforms(&doc, "get", records, &listed);
        let refused = get(format!("/api/v1/apps/duty/tables/attendance/records?filter={not_a_choice}")).await;
        refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        conforms(&doc, "get", records, &refused);
        let grouped = get("/api/v1/apps/duty/tables/attendance/aggregate?group_by=state&metrics=count,sum:hours".to_owned()).await;
        assert_eq!(grouped.expect(StatusCode::OK)["groups"].as_array().unwrap().len(), 2);
        conforms(&doc, "get", aggregate, &grouped);
        let refused = get(format!("/api/v1/apps/duty/tables/attendance/aggregate?filter={not_a_choice}")).await;
        refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        conforms(&doc, "get", aggregate, &refused);
        let page = get("/api/v1/apps/duty/tables/attendance/views/all/records".to_owned()).await;
        assert_eq!(page.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 3);
        conforms(&doc, "get", "/api/v1/apps/{app}/tables/{table}/views/{view}/records", &page);

        // Files: each format with its own content type, and an unknown format refused in Tenon's words.
        let table_export = "/api/v1/apps/{app}/tables/{table}/export";
        for (format, media) in [("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")] {
            let file = get(format!("/api/v1/apps/duty/tables/attendance/export?format={format}")).await;
            assert!(file.header("content-type").is_some_and(|kind| kind.starts_with(media)), "{format}: {:?}", file.headers);
            conforms(&doc, "get", table_export, &file);
        }
        let app_export = "/api/v1/apps/{app}/export";
        for (format, media) in [("yaml", "application/yaml"), ("json", "application/json")] {
            let file = get(format!("/api/v1/apps/duty/export?format={format}")).await;
            assert!(file.header("content-type").is_some_and(|kind| kind.starts_with(media)), "{format}: {:?}", file.headers);
            conforms(&doc, "get", app_export, &file);
        }
        for (path, template, allowed) in [
            ("/api/v1/apps/duty/tables/attendance/export?format=pdf", table_export, json!(["csv", "xlsx"])),
            ("/api/v1/apps/duty/export?format=xml", app_export, json!(["yaml", "json"])),
        ] {
            let refused = get(path.to_owned()).await;
            let error = refused.expect_error(StatusCode::BAD_REQUEST, "invalid_request").clone();
            assert_eq!((&error["details"][0]["field"], &error["details"][0]["code"], &error["details"][0]["params"]["allowed"]),
                (&json!("format"), &json!("not_one_of"), &allowed), "{error}");
            conforms(&doc, "get", template, &refused);
        }
        let own = get("/api/v1/apps/duty/openapi.json".to_owned()).await;
        assert_eq!(own.expect(StatusCode::OK)["openapi"], "3.1.0");
        conforms(&doc, "get", "/api/v1/apps/{app}/openapi.json", &own);
        app.post("/api/v1/ledger/books", &token, json!({"name": "主账套", "template": "cas", "base_currency": "CNY"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/ledger/books/主账套/vouchers", &token, json!({"date": "2026-10-08", "word": "记", "lines": [
            {"summary": "收款", "account": "1002", "debit": "100.00", "credit": "0"},
            {"summary": "收款", "account": "6001", "debit": "0", "credit": "100.00"}
        ]})).await.expect(StatusCode::CREATED);
        for (format, media) in [("kingdee", "application/json"), ("yonyou-u8", "application/xml"), ("saft", "application/xml"), ("csv", "text/csv")] {
            let file = get(format!("/api/v1/ledger/books/主账套/export?format={format}&period=2026-10&include_unposted=true")).await;
            assert!(file.header("content-type").is_some_and(|kind| kind.starts_with(media)), "{format}: {} {:?}", file.status, file.body);
            conforms(&doc, "get", "/api/v1/ledger/books/{book}/export", &file);
        }

        // The public form, read and submitted without credentials.
        let form = app.call(Method::GET, &format!("/api/v1/forms/{slug}"), None, None).await;
        assert_eq!(form.expect(StatusCode::OK)["title"], "请假 / Report an absence");
        conforms(&doc, "get", "/api/v1/forms/{slug}", &form);
        let submitted = app.call(Method::POST, &format!("/api/v1/forms/{slug}"), None, Some(json!({"fields": {"student": "Tom", "state": "缺勤 Absent"}}))).await;
        assert_eq!(submitted.expect(StatusCode::CREATED)["message"], "收到");
        conforms(&doc, "post", "/api/v1/forms/{slug}", &submitted);
        let refused = app.call(Method::POST, &format!("/api/v1/forms/{slug}"), None, Some(json!({"fields": {"student": "Tom"}}))).await;
        refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        conforms(&doc, "post", "/api/v1/forms/{slug}", &refused);
        // A form's texts are text: anything else is refused when the view is saved.
        let error = app.post("/api/v1/apps/duty/tables/attendance/views", &token, json!({"name": "Odd", "type": "form", "config": {"fields": ["student"], "title": 5, "success_message": ["x"]}}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|detail| detail["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["config.title", "config.success_message"], "{error}");
        assert_eq!(error["details"][0]["params"], json!({"expected": "string"}));

        // A bulk delete answers what it removed.
        let listed = get("/api/v1/apps/duty/tables/attendance/records".to_owned()).await;
        let ids: Vec<Value> = listed.expect(StatusCode::OK)["items"].as_array().unwrap().iter().take(2).map(|record| record["id"].clone()).collect();
        let deleted = app.call(Method::DELETE, "/api/v1/apps/duty/tables/attendance/records", Some(&token), Some(json!({"ids": ids}))).await;
        assert_eq!(deleted.expect(StatusCode::OK)["records"], json!([{"id": ids[0], "deleted": true}, {"id": ids[1], "deleted": true}]));
        conforms(&doc, "delete", records, &deleted);
        app
    }
}

/// The checker itself finds what it is for: an undocumented status, content type or property type.
#[test]
fn the_conformance_check_catches_what_the_document_does_not_say() {
    let doc = json!({"paths": {"/x": {"get": {"responses": {
        "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}
    }}}}, "components": {"schemas": {"Out": {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "note": {"oneOf": [{"type": "null"}, {"type": "string"}]}, "tags": {"type": "array", "items": {"type": "string"}}
    }}}}});
    let reply = |status: u16, content_type: &str, body: Value| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", content_type.parse().unwrap());
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body,
        }
    };
    conforms(
        &doc,
        "get",
        "/x",
        &reply(
            200,
            "application/json",
            json!({"id": "a", "note": null, "tags": ["t"]}),
        ),
    );
    for wrong in [
        reply(422, "application/json", json!({"id": "a"})),
        reply(200, "text/csv", json!("a,b")),
        reply(200, "application/json", json!({"note": "n"})),
        reply(200, "application/json", json!({"id": "a", "tags": [1]})),
        reply(200, "application/json", json!({"id": "a", "note": 5})),
    ] {
        let caught = std::panic::catch_unwind(|| conforms(&doc, "get", "/x", &wrong));
        assert!(caught.is_err(), "{wrong:?} passed");
    }
}
