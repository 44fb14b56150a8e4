//! Apps as code, table files, attachments and the per-app OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::records::urlencode;
use crate::{Reply, TestApp, api_tests};

const DEFINITION: &str = r#"
format: tenon.app/v1
key: duty
name: 值日考勤 Duty attendance
tables:
  - key: classes
    name: Classes
    fields:
      - {key: name, name: 班级, type: text, required: true}
      - {key: size, name: Size, type: count, options: {link: roster}}
  - key: roster
    name: Roster
    primary_field: student
    unique_together: [[student, week]]
    indexes: [[mood, week]]
    fields:
      - {key: student, name: Student, type: text, required: true}
      - {key: week, name: Week, type: number}
      - {key: present, name: Present, type: checkbox}
      - {key: mood, name: Mood, type: single_select, options: {choices: [{name: happy}, {name: tired}]}}
      - {key: class, name: Class, type: link, options: {table: classes, multiple: false, inverse_key: roster, inverse_name: Roster}}
      - {key: shout, name: Shout, type: formula, options: {formula: "UPPER({Student}) & \"!\""}}
      - {key: class_name, name: Class name, type: lookup, options: {link: class, field: name}}
    validation_rules:
      - {formula: "LEN({Student}) <= 20", message: 名字太长}
    views:
      - {key: by_mood, name: By mood, type: kanban, config: {group_field: mood}}
      - {key: signup, name: Sign up, type: form, config: {fields: [student, week], public: true}}
"#;

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    let request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    Reply::from(request.send().await.unwrap()).await
}

api_tests! {
    async fn an_exported_app_imports_into_another_organization_as_the_same_schema(app) {
        let created = send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", DEFINITION.into()).await;
        let created = created.expect(StatusCode::CREATED).clone();
        assert_eq!(created["applied"], true);
        assert_eq!(created["steps"][0], "+ app");
        let roster = app.get("/api/v1/apps/duty/tables/roster", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(roster["unique_together"], json!([["student", "week"]]));
        assert_eq!(roster["indexes"], json!([["mood", "week"]]));
        let exported = app.http.get(format!("{}/api/v1/apps/duty/export?format=json", app.base)).bearer_auth(&app.admin_token).send().await.unwrap();
        let exported: Value = exported.json().await.unwrap();
        assert_eq!(exported["format"], "tenon.app/v1");
        let class_link = &exported["tables"][1]["fields"][4];
        assert_eq!(class_link["options"]["table"], "classes");
        assert_eq!(class_link["options"]["inverse_key"], "roster");
        assert!(exported["tables"][0]["fields"].as_array().unwrap().iter().all(|f| f["key"] != "roster"), "inverse links are described by their owner");
        assert_eq!(exported["tables"][0]["fields"][1]["options"], json!({"link": "roster"}));
        assert_eq!(exported["tables"][1]["fields"][5]["options"]["formula"], "UPPER({Student}) & \"!\"");
        assert_eq!(exported["tables"][1]["validation_rules"][0]["message"], "名字太长");
        assert_eq!(exported["tables"][1]["views"][0]["config"], json!({"group_field": "mood"}));
        let class = app.post("/api/v1/apps/duty/tables/classes/records", &app.admin_token, json!({"fields": {"name": "三年级二班"}})).await.expect(StatusCode::CREATED).clone();
        let student = app.post("/api/v1/apps/duty/tables/roster/records", &app.admin_token, json!({"fields": {"student": "li lei", "class": [class["id"]]}})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(student["fields"]["shout"], "LI LEI!");
        assert_eq!(student["fields"]["class_name"], json!(["三年级二班"]));
        let counted = app.get(&format!("/api/v1/apps/duty/tables/classes/records/{}", class["id"].as_str().unwrap()), &app.admin_token).await;
        assert_eq!(counted.expect(StatusCode::OK)["fields"]["size"], 1);

        let (_, _, other_admin) = app.other_org().await;
        let body = serde_json::to_vec(&exported).unwrap();
        send(&app, Method::POST, "/api/v1/apps/import", &other_admin, "application/json", body).await.expect(StatusCode::CREATED);
        let again = app.http.get(format!("{}/api/v1/apps/duty/export?format=json", app.base)).bearer_auth(&other_admin).send().await.unwrap();
        let mut again: Value = again.json().await.unwrap();
        let mut original = exported.clone();
        strip_ids(&mut again);
        strip_ids(&mut original);
        assert_eq!(again, original, "the round trip keeps the schema");
        // Importing the same definition again changes nothing.
        let same = send(&app, Method::POST, "/api/v1/apps/import?dry_run=true", &app.admin_token, "application/yaml", DEFINITION.into()).await;
        assert_eq!(same.expect(StatusCode::OK)["steps"], json!([]));
        app
    }

    async fn computed_fields_import_in_dependency_order_whatever_the_table_order(app) {
        let definition = r#"
key: families
name: Families
tables:
  - key: parents
    name: Parents
    fields:
      - {key: name, name: Name, type: text}
      - {key: total, name: Total, type: rollup, options: {link: kids, field: double, function: sum}}
      - {key: label, name: Label, type: formula, options: {formula: "{Name} & \": \" & {Total}"}}
  - key: kids
    name: Kids
    fields:
      - {key: n, name: N, type: number}
      - {key: double, name: Double, type: formula, options: {formula: "{Triple} - {N}"}}
      - {key: triple, name: Triple, type: formula, options: {formula: "{N} * 3"}}
      - {key: parent, name: Parent, type: link, options: {table: parents, multiple: false, inverse_key: kids, inverse_name: Kids}}
"#;
        send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", definition.into()).await.expect(StatusCode::CREATED);
        let parent = app.post("/api/v1/apps/families/tables/parents/records", &app.admin_token, json!({"fields": {"name": "Ann"}})).await.expect(StatusCode::CREATED).clone();
        app.post("/api/v1/apps/families/tables/kids/records", &app.admin_token, json!({"records": [
            {"fields": {"n": 1, "parent": [parent["id"]]}}, {"fields": {"n": 4, "parent": [parent["id"]]}}
        ]})).await.expect(StatusCode::CREATED);
        let read = app.get(&format!("/api/v1/apps/families/tables/parents/records/{}", parent["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(read["fields"]["total"], "10");
        assert_eq!(read["fields"]["label"], "Ann: 10");
        app
    }

    async fn importing_a_changed_definition_migrates_and_dry_run_shows_the_steps(app) {
        send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", DEFINITION.into()).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/duty/tables/roster/records", &app.admin_token, json!({"fields": {"student": "小明", "week": 47, "mood": "happy"}})).await.expect(StatusCode::CREATED);
        let changed = DEFINITION
            .replace("{key: week, name: Week, type: number}", "{key: week, name: 周次, type: text}")
            .replace("      - {key: present, name: Present, type: checkbox}\n", "")
            .replace("{name: tired}", "{name: tired}, {name: sick}");
        let dry = send(&app, Method::POST, "/api/v1/apps/import?dry_run=true", &app.admin_token, "application/yaml", changed.clone().into()).await;
        let steps: Vec<String> = dry.expect(StatusCode::OK)["steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
        assert_eq!(steps, ["~ field roster.week: name, type", "~ field roster.mood: options", "- field roster.present (and its values)"]);
        let refused = send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", changed.clone().into()).await;
        refused.expect_error(StatusCode::CONFLICT, "conflict");
        let fields = app.get("/api/v1/apps/duty/tables/roster/fields", &app.admin_token).await;
        assert!(fields.expect(StatusCode::OK).to_string().contains("present"), "a refused import changes nothing");
        send(&app, Method::POST, "/api/v1/apps/import?allow_deletions=true", &app.admin_token, "application/yaml", changed.into()).await.expect(StatusCode::OK);
        let records = app.get("/api/v1/apps/duty/tables/roster/records", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(records["items"][0]["fields"]["week"], "47", "the number became text");
        assert_eq!(records["items"][0]["fields"]["mood"], "happy", "choices matched by name keep their records");
        let bad = send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", b"key: x\nname: y\ntables: [{key: t, name: T, fields: [{key: f, name: F, type: number, options: {digits: 2}}]}]".to_vec()).await;
        assert_eq!(bad.expect_error(StatusCode::BAD_REQUEST, "invalid_request")["details"][0]["field"], "tables[0].fields[0].options.digits");
        app
    }

    async fn csv_and_excel_files_import_with_row_errors_and_export_back(app) {
        send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", DEFINITION.into()).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/duty/tables/classes/records", &app.admin_token, json!({"fields": {"name": "三年二班"}})).await.expect(StatusCode::CREATED);
        let csv = "学生,Week,Present,Mood,Class,Unknown\n小明,47,是,happy,三年二班,x\n小红,forty,no,tired,,\n小刚,48,yes,,四年一班,\n";
        let mapping = urlencode(&json!({"学生": "student"}).to_string());
        let path = format!("/api/v1/apps/duty/tables/roster/import?format=csv&mapping={mapping}");
        let report = send(&app, Method::POST, &path, &app.admin_token, "text/csv", csv.into()).await;
        let report = report.expect(StatusCode::OK).clone();
        assert_eq!(report["rows"], 3);
        assert_eq!(report["imported"], 1);
        assert_eq!(report["ignored_columns"], json!(["Unknown"]));
        let errors: Vec<(u64, String)> = report["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().to_owned())).collect();
        assert_eq!(errors, [(3, "week".to_owned()), (4, "class".to_owned())]);
        let listed = app.get("/api/v1/apps/duty/tables/roster/records", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"][0]["fields"]["present"], true);
        assert_eq!(listed["items"][0]["fields"]["class"][0]["name"], "三年二班");

        let xlsx = app.http.get(format!("{}/api/v1/apps/duty/tables/roster/export?format=xlsx", app.base)).bearer_auth(&app.admin_token).send().await.unwrap();
        assert_eq!(xlsx.status(), StatusCode::OK);
        let bytes = xlsx.bytes().await.unwrap().to_vec();
        let reimport = send(&app, Method::POST, "/api/v1/apps/duty/tables/roster/import?dry_run=true", &app.admin_token, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", bytes).await;
        let reimport = reimport.expect(StatusCode::OK).clone();
        assert_eq!(reimport["rows"], 1);
        assert_eq!(reimport["imported"], 0, "the same student and week are already there (unique together)");
        let csv_out = app.http.get(format!("{}/api/v1/apps/duty/tables/roster/export", app.base)).bearer_auth(&app.admin_token).send().await.unwrap().bytes().await.unwrap();
        assert!(csv_out.starts_with(b"\xEF\xBB\xBF"), "Excel needs the BOM to read UTF-8");
        let csv_text = String::from_utf8(csv_out[3..].to_vec()).unwrap();
        assert!(csv_text.contains("小明,47,true,happy,三年二班"), "{csv_text}");
        app
    }

    async fn attachments_upload_download_and_fill_attachment_fields_within_limits(app) {
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "Files", "key": "files"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/files/tables", &app.admin_token, json!({"name": "Docs", "key": "docs", "fields": [
            {"name": "Title", "key": "title", "type": "text"},
            {"name": "Photo", "key": "photo", "type": "attachment", "options": {"types": ["image/*"], "max_size_mb": 1}}
        ]})).await.expect(StatusCode::CREATED);
        let png = send(&app, Method::POST, "/api/v1/attachments?filename=房间.png", &app.admin_token, "image/png", b"\x89PNG fake".to_vec()).await;
        let png = png.expect(StatusCode::CREATED).clone();
        let text = send(&app, Method::POST, "/api/v1/attachments?filename=a.txt", &app.admin_token, "text/plain", b"hello".to_vec()).await.expect(StatusCode::CREATED).clone();
        let record = app.post("/api/v1/apps/files/tables/docs/records", &app.admin_token, json!({"fields": {"title": "A", "photo": [png["id"]]}})).await;
        let record = record.expect(StatusCode::CREATED).clone();
        assert_eq!(record["fields"]["photo"][0]["name"], "房间.png");
        assert_eq!(record["fields"]["photo"][0]["type"], "image/png");
        let refused = app.post("/api/v1/apps/files/tables/docs/records", &app.admin_token, json!({"fields": {"photo": [text["id"]]}})).await;
        assert_eq!(refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "fields.photo");
        let download = app.http.get(format!("{}{}", app.base, png["url"].as_str().unwrap())).bearer_auth(&app.admin_token).send().await.unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        assert_eq!(download.headers()["content-type"], "image/png");
        assert_eq!(download.bytes().await.unwrap().as_ref(), b"\x89PNG fake");
        let reader = app.token(&["directory:read"]).await;
        app.get(png["url"].as_str().unwrap(), &reader).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app
    }

    async fn every_shipped_template_imports_and_takes_records(app) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let mut imported = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read(entry.unwrap().path()).unwrap();
            let reply = send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", text).await;
            let key = reply.expect(StatusCode::CREATED)["app"]["key"].as_str().unwrap().to_owned();
            let doc = app.get(&format!("/api/v1/apps/{key}/openapi.json"), &app.admin_token).await;
            doc.expect(StatusCode::OK);
            imported += 1;
        }
        assert_eq!(imported, 4);
        let record = app.post("/api/v1/apps/charity_housing/tables/bookings/records", &app.admin_token, json!({"fields": {"guest": "家属1", "check_in": "2026-11-24"}})).await;
        let record = record.expect(StatusCode::CREATED).clone();
        assert_eq!(record["fields"]["status"], "booked");
        assert_eq!(record["fields"]["nights"], 1);
        assert!(record["fields"]["no"].as_str().unwrap().starts_with("ZS-"));
        app
    }

    async fn per_app_openapi_document_describes_each_table(app) {
        send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", DEFINITION.into()).await.expect(StatusCode::CREATED);
        let doc = app.get("/api/v1/apps/duty/openapi.json", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(doc["openapi"], "3.1.0");
        let fields = &doc["components"]["schemas"]["RosterFields"];
        assert_eq!(fields["properties"]["week"]["type"], "integer");
        assert_eq!(fields["properties"]["mood"]["enum"], json!(["happy", "tired"]));
        assert_eq!(fields["required"], json!(["student"]));
        assert!(doc["paths"]["/tables/roster/records/{id}"]["patch"].is_object());
        let mut refs = std::collections::BTreeSet::new();
        collect_refs(&doc, &mut refs);
        for reference in refs {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(doc["components"]["schemas"][name].is_object(), "{reference} does not resolve");
        }
        app
    }
}

fn collect_refs(value: &Value, refs: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.insert(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Choice ids are generated per organization; compare definitions without them.
fn strip_ids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("id");
            map.values_mut().for_each(strip_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ids),
        _ => {}
    }
}
