//! Typecast (#15 §4): `?typecast=true` on record writes takes names instead of ids, and refuses an
//! ambiguous or unknown name with the candidates; without it ids stay required.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, api_tests};

const RECORDS: &str = "/api/v1/apps/school/tables/attendance/records";

/// Classes, members (two named 王伟), a department, and an attendance table linking them.
async fn school(app: &TestApp) -> (String, String, String, Vec<String>) {
    let token = &app.admin_token;
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "School", "key": "school"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/school/tables", token, json!({"name": "Classes", "key": "classes", "fields": [{"name": "Name", "key": "name", "type": "text"}]}))
        .await.expect(StatusCode::CREATED);
    let class = app
        .post(
            "/api/v1/apps/school/tables/classes/records",
            token,
            json!({"fields": {"name": "一班"}}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/api/v1/apps/school/tables", token, json!({"name": "Attendance", "key": "attendance", "fields": [
        {"name": "Student", "key": "student", "type": "text"},
        {"name": "State", "key": "state", "type": "single_select", "options": {"choices": ["缺勤 Absent", "出勤 Present", "请假 Leave", "请假 Sick"]}},
        {"name": "Notes", "key": "notes", "type": "multi_select", "options": {"choices": ["迟到 Late", "早退 Early"]}},
        {"name": "Class", "key": "class", "type": "link", "options": {"table": "classes", "multiple": false}},
        {"name": "Teacher", "key": "teacher", "type": "member"},
        {"name": "Department", "key": "department", "type": "department"}
    ]})).await.expect(StatusCode::CREATED);
    let teacher = app
        .post(
            "/api/v1/members",
            token,
            json!({"name": "李老师", "email": "li.teacher@example.com", "mobile": "138 0013 8004"}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut namesakes = Vec::new();
    for _ in 0..2 {
        namesakes.push(
            app.post("/api/v1/members", token, crate::member_body("王伟"))
                .await
                .expect(StatusCode::CREATED)["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let department = app
        .post("/api/v1/departments", token, json!({"name": "初一年级"}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (class, teacher, department, namesakes)
}

fn detail<'a>(error: &'a Value, field: &str) -> &'a Value {
    error["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|detail| detail["field"] == field)
        .unwrap_or_else(|| panic!("no detail at {field}: {error}"))
}

async fn count(app: &TestApp) -> usize {
    app.get(RECORDS, &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .len()
}

api_tests! {
    async fn typecast_takes_names_for_links_members_departments_and_choices(app) {
        let (class, teacher, department, _) = school(&app).await;
        let token = app.admin_token.clone();
        let named = json!({"fields": {"student": "李雷", "state": "缺勤", "notes": ["迟到"], "class": "一班",
            "teacher": "li.teacher@example.com", "department": "初一年级"}});
        // Without typecast, ids stay required: nothing is guessed.
        let error = app.post(RECORDS, &token, named.clone()).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(detail(&error, "fields.class")["params"]["format"], "id");
        assert_eq!(detail(&error, "fields.state")["code"], "unknown_choice");
        assert_eq!(count(&app).await, 0);
        let created = app.post(&format!("{RECORDS}?typecast=true"), &token, named).await.expect(StatusCode::CREATED).clone();
        let fields = &created["fields"];
        assert_eq!((&fields["state"], &fields["notes"]), (&json!("缺勤 Absent"), &json!(["迟到 Late"])), "{created}");
        assert!(fields["class"].to_string().contains(&class), "{created}");
        assert!(fields["teacher"].to_string().contains(&teacher), "{created}");
        assert!(fields["department"].to_string().contains(&department), "{created}");
        // A member by mobile (as written, with spaces) or exact name; ids are still taken as they are.
        let bulk = app.post(&format!("{RECORDS}?typecast=true"), &token, json!({"records": [
            {"fields": {"student": "韩梅梅", "teacher": "138 0013 8004", "class": class}},
            {"fields": {"student": "Lily", "teacher": "李老师", "state": "出勤 Present"}}
        ]})).await.expect(StatusCode::CREATED).clone();
        for record in bulk["records"].as_array().unwrap() {
            assert!(record["fields"]["teacher"].to_string().contains(&teacher), "{bulk}");
        }
        // Updates take typecast too, one record or many.
        let id = created["id"].as_str().unwrap();
        let updated = app.patch(&format!("{RECORDS}/{id}?typecast=true"), &token, json!({"fields": {"state": "请假 Sick"}})).await.expect(StatusCode::OK).clone();
        assert_eq!(updated["fields"]["state"], "请假 Sick");
        let updated = app.patch(&format!("{RECORDS}?typecast=true"), &token, json!({"records": [{"id": id, "fields": {"notes": ["早退", "迟到 Late"]}}]})).await.expect(StatusCode::OK).clone();
        assert_eq!(updated["records"][0]["fields"]["notes"], json!(["早退 Early", "迟到 Late"]));
        app
    }

    async fn an_ambiguous_or_unknown_name_is_422_naming_the_candidates_and_writes_nothing(app) {
        let (_, _, _, namesakes) = school(&app).await;
        let token = app.admin_token.clone();
        let before = count(&app).await;
        let reply = app.post(&format!("{RECORDS}?typecast=true"), &token, json!({"records": [
            {"fields": {"student": "A", "teacher": "王伟", "state": "请假"}},
            {"fields": {"student": "B", "class": "九班", "department": "不存在的部门", "notes": ["迟到", "旷课"]}}
        ]})).await;
        let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let teacher = detail(&error, "records[0].fields.teacher");
        assert_eq!(teacher["code"], "ambiguous");
        let mut candidates: Vec<String> = teacher["params"]["candidates"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        candidates.sort();
        let mut expected = namesakes.clone();
        expected.sort();
        assert_eq!(candidates, expected, "both members named 王伟 are listed");
        let state = detail(&error, "records[0].fields.state");
        assert_eq!(state["code"], "ambiguous");
        assert_eq!(state["params"], json!({"value": "请假", "candidates": ["请假 Leave", "请假 Sick"]}));
        assert_eq!(detail(&error, "records[1].fields.class")["params"], json!({"what": "record", "value": "九班"}));
        assert_eq!(detail(&error, "records[1].fields.class")["code"], "no_match");
        assert_eq!(detail(&error, "records[1].fields.department")["params"], json!({"what": "department", "value": "不存在的部门"}));
        let unknown_choice = detail(&error, "records[1].fields.notes[1]");
        assert_eq!(unknown_choice["code"], "unknown_choice");
        assert_eq!(unknown_choice["params"]["choices"], json!(["迟到 Late", "早退 Early"]));
        assert_eq!(count(&app).await, before, "nothing was written");
        app
    }
}
