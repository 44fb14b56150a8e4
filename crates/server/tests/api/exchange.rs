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

    async fn a_definition_without_keys_takes_keys_derived_from_names_and_lists_every_missing_one_at_once(app) {
        // docs/fields.md: keys absent from a file are derived from the names, as the API derives them;
        // a derived key steps aside for one the file gives.
        let definition = r#"
name: 值日 Duty
tables:
  - name: 班级
    fields:
      - {name: 名称, type: text}
  - name: Roster
    fields:
      - {name: Student, type: text}
      - {key: student, name: 学号, type: text}
      - {name: Class, type: link, options: {table: ban_ji, multiple: false}}
    views:
      - {name: By class, type: grid}
"#;
        let created = send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", definition.into()).await;
        created.expect(StatusCode::CREATED);
        let fields = app.get("/api/v1/apps/zhi_ri_duty/tables/roster/fields", &app.admin_token).await.expect(StatusCode::OK).clone();
        let keys: Vec<&str> = fields["items"].as_array().unwrap().iter().map(|field| field["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["student_2", "student", "class"], "{fields}");
        let classes = app.get("/api/v1/apps/zhi_ri_duty/tables/ban_ji/fields", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(classes["items"][0]["key"], "ming_cheng", "{classes}");
        app.get("/api/v1/apps/zhi_ri_duty/tables/roster/views/by_class/records", &app.admin_token).await.expect(StatusCode::OK);
        // The same file imported again is the same app: derived keys are stable.
        let again = send(&app, Method::POST, "/api/v1/apps/import?dry_run=true", &app.admin_token, "application/yaml", definition.into()).await;
        assert_eq!(again.expect(StatusCode::OK)["steps"], json!([]));

        // What cannot be derived is listed in one answer, not one problem per try.
        let broken = "tables:\n  - fields: [{type: text}, {name: \"2026\", type: text}]\n  - {name: \"???\"}\n";
        let error = send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", broken.into()).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let mut problems: Vec<(String, String)> = error["details"].as_array().unwrap().iter()
            .map(|detail| (detail["field"].as_str().unwrap().to_owned(), detail["code"].as_str().unwrap().to_owned()))
            .collect();
        problems.sort();
        let expected: Vec<(String, String)> = [
            "key", "name", "tables[0].fields[0].key", "tables[0].fields[0].name", "tables[0].fields[1].key",
            "tables[0].key", "tables[0].name", "tables[1].key",
        ].iter().map(|field| (field.to_string(), "required".to_owned())).collect();
        assert_eq!(problems, expected, "{error}");
        app
    }

    async fn csv_and_excel_files_import_with_row_errors_and_export_back(app) {
        send(&app, Method::POST, "/api/v1/apps/import", &app.admin_token, "application/yaml", DEFINITION.into()).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/duty/tables/classes/records", &app.admin_token, json!({"fields": {"name": "三年二班"}})).await.expect(StatusCode::CREATED);
        let csv = "学生,Week,Present,Mood,Class,Unknown\n小明,47,是,happy,三年二班,x\n小红,forty,no,tired,,\n小刚,48,yes,,四年一班,\n";
        let mapping = urlencode(&json!({"学生": "student"}).to_string());
        let path = format!("/api/v1/apps/duty/tables/roster/import?format=csv&mapping={mapping}");
        // All or nothing by default: two refused rows, nothing written.
        let report = send(&app, Method::POST, &path, &app.admin_token, "text/csv", csv.into()).await;
        let report = report.expect(StatusCode::OK).clone();
        assert_eq!((&report["rows"], &report["imported"], &report["partial"]), (&json!(3), &json!(0), &json!(false)));
        let errors: Vec<(u64, String)> = report["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().to_owned())).collect();
        assert_eq!(errors, [(3, "week".to_owned()), (4, "class".to_owned())]);
        let listed = app.get("/api/v1/apps/duty/tables/roster/records", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"], json!([]), "a refused row writes nothing");
        // `partial=true` writes the valid rows and reports the others.
        let report = send(&app, Method::POST, &format!("{path}&partial=true"), &app.admin_token, "text/csv", csv.into()).await;
        let report = report.expect(StatusCode::OK).clone();
        assert_eq!((&report["rows"], &report["imported"], &report["partial"]), (&json!(3), &json!(1), &json!(true)));
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

    async fn an_export_writes_date_times_in_the_field_or_organization_zone_and_members_and_lookups_by_name(app) {
        let token = app.admin_token.clone();
        app.post("/api/v1/apps", &token, json!({"name": "CRM", "key": "crm"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/crm/tables", &token, json!({"name": "People", "key": "people", "fields": [
            {"name": "Name", "key": "name", "type": "text"},
            {"name": "Owner", "key": "owner", "type": "member", "options": {"multiple": false}}
        ]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/crm/tables", &token, json!({"name": "Visits", "key": "visits", "fields": [
            {"name": "Title", "key": "title", "type": "text"},
            {"name": "At", "key": "at", "type": "datetime"},
            {"name": "At NY", "key": "at_ny", "type": "datetime", "options": {"time_zone": "America/New_York"}},
            {"name": "Person", "key": "person", "type": "link", "options": {"table": "people", "multiple": false}},
            {"name": "Person's owner", "key": "person_owner", "type": "lookup", "options": {"link": "person", "field": "owner"}},
            {"name": "Person's visits", "key": "visited", "type": "lookup", "options": {"link": "person", "field": "name"}}
        ]})).await.expect(StatusCode::CREATED);
        let owner = app.get(&format!("/api/v1/members/{}", app.owner.id), &token).await.expect(StatusCode::OK).clone();
        let owner_name = owner["name"].as_str().unwrap().to_owned();
        let person = app.post("/api/v1/apps/crm/tables/people/records", &token, json!({"fields": {"name": "湖州优品", "owner": app.owner.id.to_string()}})).await.expect(StatusCode::CREATED).clone();
        app.post("/api/v1/apps/crm/tables/visits/records", &token, json!({"fields": {
            "title": "拜访", "at": "2026-11-30T20:00:00Z", "at_ny": "2026-11-30T20:00:00Z", "person": [person["id"]]
        }})).await.expect(StatusCode::CREATED);
        let csv = app.http.get(format!("{}/api/v1/apps/crm/tables/visits/export", app.base)).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
        let csv = String::from_utf8(csv[3..].to_vec()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "Title,At,At NY,Person,Person's owner,Person's visits", "{csv}");
        // The organization's zone is Asia/Shanghai; the field's own zone wins where it has one.
        assert_eq!(lines[1], format!("拜访,2026-12-01 04:00:00+08:00,2026-11-30 15:00:00-05:00,湖州优品,{owner_name},湖州优品"), "{csv}");
        // What the export wrote imports back as the same instants.
        let back = "Title,At,At NY\n再访,2026-12-01 04:00:00+08:00,2026-11-30 15:00:00-05:00\n";
        send(&app, Method::POST, "/api/v1/apps/crm/tables/visits/import?format=csv", &token, "text/csv", back.into()).await.expect(StatusCode::OK);
        let filter = urlencode(&json!({"field": "title", "op": "eq", "value": "再访"}).to_string());
        let again = app.get(&format!("/api/v1/apps/crm/tables/visits/records?filter={filter}"), &token).await.expect(StatusCode::OK).clone();
        assert_eq!((&again["items"][0]["fields"]["at"], &again["items"][0]["fields"]["at_ny"]), (&json!("2026-11-30T20:00:00Z"), &json!("2026-11-30T20:00:00Z")), "{again}");
        app
    }

    async fn an_import_with_upsert_on_updates_the_records_it_matches_and_creates_the_others(app) {
        let token = app.admin_token.clone();
        app.post("/api/v1/apps", &token, json!({"name": "CRM", "key": "crm"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/crm/tables", &token, json!({"name": "Customers", "key": "customers", "unique_together": [["name", "city"]], "fields": [
            {"name": "Code", "key": "code", "type": "text", "unique": true},
            {"name": "Name", "key": "name", "type": "text"},
            {"name": "City", "key": "city", "type": "text"},
            {"name": "Phone", "key": "phone", "type": "text"},
            {"name": "Level", "key": "level", "type": "number", "default": 1}
        ]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/crm/tables/customers/records", &token, json!({"fields": {"code": "A1", "name": "湖州优品", "city": "湖州", "phone": "0572-1", "level": 5}})).await.expect(StatusCode::CREATED);
        let records = "/api/v1/apps/crm/tables/customers/records?sort=code";
        let import = |query: &str, csv: &str| {
            let path = format!("/api/v1/apps/crm/tables/customers/import?format=csv&{query}");
            let csv = csv.to_owned();
            let app = &app;
            let token = token.clone();
            async move { send(app, Method::POST, &path, &token, "text/csv", csv.into()).await }
        };
        let csv = "code,name,phone,level\nA1,湖州优品有限公司,,\nB2,嘉兴电子,0573-2,\n";
        // A dry run says what would happen and changes nothing.
        let dry = import("upsert_on=code&dry_run=true", csv).await.expect(StatusCode::OK).clone();
        assert_eq!((&dry["imported"], &dry["updated"], &dry["errors"]), (&json!(2), &json!(1), &json!([])), "{dry}");
        assert_eq!(app.get(records, &token).await.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1);
        let report = import("upsert_on=code", csv).await.expect(StatusCode::OK).clone();
        assert_eq!((&report["imported"], &report["updated"], &report["errors"]), (&json!(2), &json!(1), &json!([])), "{report}");
        let listed = app.get(records, &token).await.expect(StatusCode::OK).clone();
        let rows: Vec<Value> = listed["items"].as_array().unwrap().iter().map(|item| item["fields"].clone()).collect();
        // The matched record takes the cells the row gives; its blank cells keep the record's values.
        assert_eq!(rows, [
            json!({"code": "A1", "name": "湖州优品有限公司", "city": "湖州", "phone": "0572-1", "level": 5}),
            json!({"code": "B2", "name": "嘉兴电子", "phone": "0573-2", "level": 1}),
        ]);
        // A unique_together group matches too, its keys in any order.
        let report = import("upsert_on=city,name", "Name,City,Level\n湖州优品有限公司,湖州,7\n").await.expect(StatusCode::OK).clone();
        assert_eq!((&report["imported"], &report["updated"]), (&json!(1), &json!(1)), "{report}");
        // Two rows for one record, or a row without the value records are matched on, are refused:
        // all or nothing, so nothing is written.
        let report = import("upsert_on=code", "code,name\nA1,甲\nA1,乙\n,丙\n").await.expect(StatusCode::OK).clone();
        let errors: Vec<(u64, Value)> = report["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["field"].clone())).collect();
        assert_eq!(errors, [(3, Value::Null), (4, json!("code"))], "{report}");
        assert_eq!(report["imported"], 0);
        let listed = app.get(records, &token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"][0]["fields"]["name"], "湖州优品有限公司");
        assert_eq!(listed["items"][0]["fields"]["level"], 7);
        // Only a unique field or group can match records, and the file must have its column.
        let error = import("upsert_on=phone", csv).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((&error["details"][0]["field"], &error["details"][0]["code"]), (&json!("upsert_on"), &json!("not_one_of")), "{error}");
        assert_eq!(error["details"][0]["params"]["allowed"], json!(["code", "name,city"]));
        let error = import("upsert_on=code", "name\n无码\n").await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!((&error["details"][0]["code"], &error["details"][0]["params"]), (&json!("unknown_column"), &json!({"column": "code"})), "{error}");
        let error = import("upsert_on=nope", csv).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["code"], "unknown_field", "{error}");
        app
    }

    async fn an_import_matches_headers_by_name_gives_blank_cells_the_default_and_typecasts_choices(app) {
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "Duty", "key": "duty"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/duty/tables", &app.admin_token, json!({"name": "Roster", "key": "roster", "fields": [
            {"name": "学生 Student", "key": "student", "type": "text", "required": true},
            {"name": "Hours", "key": "hours", "type": "number", "required": true, "default": 8},
            {"name": "Present", "key": "present", "type": "checkbox", "default": true},
            {"name": "State", "key": "state", "type": "single_select", "options": {"choices": ["缺勤 Absent", "出勤 Present"]}}
        ]})).await.expect(StatusCode::CREATED);
        // Headers are field names (any case) or keys, without a mapping; blank cells take the defaults.
        let csv = "学生 student,hours,PRESENT,State\n小明,,,缺勤\n小红,6,no,出勤 Present\n";
        let report = send(&app, Method::POST, "/api/v1/apps/duty/tables/roster/import?format=csv", &app.admin_token, "text/csv", csv.into()).await;
        let report = report.expect(StatusCode::OK).clone();
        assert_eq!((&report["imported"], &report["errors"], &report["ignored_columns"]), (&json!(2), &json!([]), &json!([])), "{report}");
        let listed = app.get("/api/v1/apps/duty/tables/roster/records?sort=student", &app.admin_token).await.expect(StatusCode::OK).clone();
        let rows: Vec<Value> = listed["items"].as_array().unwrap().iter().map(|item| item["fields"].clone()).collect();
        assert!(rows.contains(&json!({"student": "小明", "hours": 8, "present": true, "state": "缺勤 Absent"})), "{listed}");
        assert!(rows.contains(&json!({"student": "小红", "hours": 6, "present": false, "state": "出勤 Present"})), "{listed}");
        // A file none of whose columns is a field is refused, not read as empty records.
        let refused = send(&app, Method::POST, "/api/v1/apps/duty/tables/roster/import?format=csv", &app.admin_token, "text/csv", "false\n1\n".into()).await;
        assert_eq!(refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["details"][0]["field"], "file");
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
        // Every answer the API's document lists for the records routes is in the app's document too.
        let api = app.call(Method::GET, "/openapi.json", None, None).await.expect(StatusCode::OK).clone();
        let statuses = |doc: &Value, path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}")).keys().cloned().collect::<std::collections::BTreeSet<String>>().into_iter().collect()
        };
        for (own, path, method) in [
            ("/tables/roster/records", "/api/v1/apps/{app}/tables/{table}/records", "get"),
            ("/tables/roster/records", "/api/v1/apps/{app}/tables/{table}/records", "post"),
            ("/tables/roster/records/{id}", "/api/v1/apps/{app}/tables/{table}/records/{id}", "get"),
            ("/tables/roster/records/{id}", "/api/v1/apps/{app}/tables/{table}/records/{id}", "patch"),
            ("/tables/roster/records/{id}", "/api/v1/apps/{app}/tables/{table}/records/{id}", "delete"),
        ] {
            let listed = statuses(&doc, own, method);
            assert_eq!(listed, statuses(&api, path, method), "{method} {own}");
            assert!(listed.iter().any(|status| status == "401") && listed.iter().any(|status| status == "404"), "{method} {own}: {listed:?}");
        }
        assert!(doc["paths"]["/tables/roster/records"]["get"]["responses"]["422"].is_object(), "a select filter's 422");
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
