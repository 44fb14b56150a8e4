//! App permissions (issue #19): the document at `/api/v1/apps/{app}/permissions`, checked against the
//! app and the directory, and enforced on the records routes, aggregates and exports for members (and
//! tokens acting for them), in SQL: pages, `total` and aggregates count only the rows a rule allows.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::records::urlencode;
use crate::{TestApp, api_tests, member_body};

const FAMILIES: &str = "/api/v1/apps/charity/tables/families/records";
const PERMISSIONS: &str = "/api/v1/apps/charity/permissions";

pub(crate) struct Charity {
    pub(crate) east: String,
    pub(crate) east_sub: String,
    /// In `east`.
    pub(crate) a: String,
    /// In `east_sub`.
    pub(crate) b: String,
    /// Holds the custom role `finance`.
    pub(crate) finance: String,
    /// In `east`, named by id by the `leads` role.
    pub(crate) lead: String,
    /// In no role.
    pub(crate) outsider: String,
    /// F1 (a, east), F2 (a, east, archived), F3 (b, east_sub), F4 (nobody).
    pub(crate) families: Vec<String>,
}

async fn member(app: &TestApp, name: &str, departments: &[&str]) -> String {
    let mut body = member_body(name);
    body["department_ids"] = json!(departments);
    app.post("/api/v1/members", &app.admin_token, body)
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn charity(app: &TestApp) -> Charity {
    let token = &app.admin_token;
    let east = app
        .post("/api/v1/departments", token, json!({"name": "East"}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let east_sub = app
        .post(
            "/api/v1/departments",
            token,
            json!({"name": "East 2", "parent_id": east}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = member(app, "A", &[&east]).await;
    let b = member(app, "B", &[&east_sub]).await;
    let finance = member(app, "F", &[]).await;
    let lead = member(app, "L", &[&east]).await;
    let outsider = member(app, "O", &[]).await;
    app.post(
        "/api/v1/roles",
        token,
        json!({"key": "finance", "name": "财务", "member_ids": [finance]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "Charity", "key": "charity"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/charity/tables",
        token,
        json!({"name": "Families", "key": "families", "fields": [
            {"name": "Name", "key": "name", "type": "text"},
            {"name": "Volunteer", "key": "volunteer", "type": "member"},
            {"name": "Department", "key": "dept", "type": "department"},
            {"name": "ID number", "key": "id_number", "type": "text"},
            {"name": "Phone", "key": "phone", "type": "text"},
            {"name": "Status", "key": "status", "type": "text"}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let created = app.post(FAMILIES, token, json!({"records": [
        {"fields": {"name": "F1", "volunteer": a, "dept": east, "id_number": "110", "phone": "1"}},
        {"fields": {"name": "F2", "volunteer": a, "dept": east, "id_number": "120", "status": "archived"}},
        {"fields": {"name": "F3", "volunteer": b, "dept": east_sub, "id_number": "130"}},
        {"fields": {"name": "F4", "id_number": "140"}}
    ]})).await;
    let families = created.expect(StatusCode::CREATED)["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["id"].as_str().unwrap().to_owned())
        .collect();
    Charity {
        east,
        east_sub,
        a,
        b,
        finance,
        lead,
        outsider,
        families,
    }
}

pub(crate) fn document(charity: &Charity) -> Value {
    json!({"roles": [
        {"key": "volunteers", "name": "志愿者",
         "who": {"members": [], "departments": [charity.east], "roles": [], "sub_departments": true},
         "grants": [{"table": "families",
            "actions": {"read": "AND({volunteer} = CURRENT_MEMBER(), {status} != \"archived\")",
                        "update": "{volunteer} = CURRENT_MEMBER()",
                        "create": "{volunteer} = CURRENT_MEMBER()", "export": true},
            "fields": {"hidden": ["id_number"], "read_only": ["phone"]}}]},
        {"key": "finance", "name": "财务", "who": {"members": [], "departments": [], "roles": ["finance"]},
         "grants": [{"table": "families", "actions": {"read": "HAS_ROLE(\"财务\")"}, "fields": {"hidden": [], "read_only": []}}]},
        {"key": "leads", "name": "Leads", "who": {"members": [charity.lead], "departments": [], "roles": []},
         "grants": [{"table": "families", "actions": {"read": "IN_DEPARTMENT({dept}, CURRENT_DEPARTMENTS(), TRUE)"},
            "fields": {"hidden": ["id_number"], "read_only": []}}]}
    ]})
}

pub(crate) async fn put(app: &TestApp, body: Value) -> crate::Reply {
    app.call(Method::PUT, PERMISSIONS, Some(&app.admin_token), Some(body))
        .await
}

fn names(reply: &Value) -> Vec<String> {
    let mut names: Vec<String> = reply["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["fields"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

api_tests! {
    async fn the_document_is_checked_stored_audited_and_read_back(app) {
        let charity = charity(&app).await;
        app.get(PERMISSIONS, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let before = app.audit_len().await;
        let bad = [
            (json!({"roles": [{"key": "x", "name": "X", "colour": "red"}]}), "roles[0].colour"),
            (json!({"roles": [{"key": "x", "name": "X", "grants": [{"table": "nope", "actions": {"read": true}}]}]}), "roles[0].grants[0].table"),
            (json!({"roles": [{"key": "x", "name": "X", "grants": [{"table": "families", "actions": {"read": true}, "fields": {"hidden": ["ghost"]}}]}]}), "roles[0].grants[0].fields.hidden[0]"),
            (json!({"roles": [{"key": "x", "name": "X", "who": {"roles": ["dean"]}}]}), "roles[0].who.roles[0]"),
            (json!({"roles": [{"key": "x", "name": "X", "who": {"departments": [charity.families[0]]}}]}), "roles[0].who.departments[0]"),
            (json!({"roles": [{"key": "x", "name": "X", "who": {"members": [charity.east]}}]}), "roles[0].who.members[0]"),
        ];
        for (body, field) in bad {
            let reply = put(&app, body).await;
            let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(error["details"][0]["field"], field, "{error}");
        }
        let rule = put(&app, json!({"roles": [{"key": "x", "name": "X", "grants": [{"table": "families", "actions": {"read": "{status} > CURRENT_DEPARTMENTS()"}}]}]})).await;
        let error = rule.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "roles[0].grants[0].actions.read");
        assert_eq!(error["details"][0]["code"], "formula_type");
        assert_eq!(error["details"][0]["params"]["start"], 0);
        app.get(PERMISSIONS, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(app.audit_len().await, before, "a refused document wrote nothing");

        let stored = put(&app, document(&charity)).await.expect(StatusCode::OK).clone();
        assert_eq!(stored, document(&charity));
        assert_eq!(app.get(PERMISSIONS, &app.admin_token).await.expect(StatusCode::OK), &document(&charity));
        assert_eq!(app.audit_len().await, before + 1);
        let member = member_token(&app, &charity.a).await;
        app.get(PERMISSIONS, &member).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app.call(Method::DELETE, PERMISSIONS, Some(&app.admin_token), None).await.expect(StatusCode::NO_CONTENT);
        app.get(PERMISSIONS, &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn members_read_only_their_rows_and_visible_fields(app) {
        let charity = charity(&app).await;
        let a = member_token(&app, &charity.a).await;
        // No permissions yet: every member reads everything.
        let all = app.get(&format!("{FAMILIES}?count=true"), &a).await;
        assert_eq!(all.expect(StatusCode::OK)["total"], 4);
        put(&app, document(&charity)).await.expect(StatusCode::OK);

        let page = app.get(&format!("{FAMILIES}?count=true&page_size=1"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(page["total"], 1, "F1 only: F2 is archived, F3 and F4 are not A's");
        assert_eq!(names(&page), ["F1"]);
        assert!(page["next_cursor"].is_null());
        assert!(page["items"][0]["fields"].get("id_number").is_none(), "hidden fields are absent");
        assert_eq!(page["items"][0]["fields"]["phone"], "1", "read-only fields are read");
        let by_hidden = urlencode(&json!({"field": "id_number", "op": "eq", "value": "110"}).to_string());
        app.get(&format!("{FAMILIES}?filter={by_hidden}"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.get(&format!("{FAMILIES}?sort=-id_number"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let f1 = &charity.families[0];
        let f3 = &charity.families[2];
        let one = app.get(&format!("{FAMILIES}/{f1}"), &a).await;
        assert!(one.expect(StatusCode::OK)["fields"].get("id_number").is_none());
        app.get(&format!("{FAMILIES}/{f3}"), &a).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");

        // B is in a sub-department of East: named by the volunteers role; sees F3 only.
        let b = member_token(&app, &charity.b).await;
        assert_eq!(names(app.get(FAMILIES, &b).await.expect(StatusCode::OK)), ["F3"]);
        // HAS_ROLE: finance sees every row and every field.
        let finance = member_token(&app, &charity.finance).await;
        let all = app.get(&format!("{FAMILIES}?count=true"), &finance).await.expect(StatusCode::OK).clone();
        assert_eq!(all["total"], 4);
        assert!(all["items"][0]["fields"].get("id_number").is_some());
        // IN_DEPARTMENT with sub-departments.
        let lead = member_token(&app, &charity.lead).await;
        assert_eq!(names(app.get(FAMILIES, &lead).await.expect(StatusCode::OK)), ["F1", "F2", "F3"]);
        // In no role: no read at all.
        let outsider = member_token(&app, &charity.outsider).await;
        app.get(FAMILIES, &outsider).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        // Organization tokens (and owners, admins) are not limited.
        assert_eq!(app.get(&format!("{FAMILIES}?count=true"), &app.admin_token).await.expect(StatusCode::OK)["total"], 4);

        // The explanation.
        let access = app.get(&format!("/api/v1/apps/charity/tables/families/access?member={}", charity.a), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(access["limited"], true);
        assert_eq!(access["actions"]["delete"], false);
        assert_eq!(access["actions"]["export"], true);
        assert_eq!(access["actions"]["read"]["rules"][0], "AND({volunteer} = CURRENT_MEMBER(), {status} != \"archived\")");
        assert_eq!(access["hidden"], json!(["id_number"]));
        assert_eq!(access["grants"][0]["role"], "volunteers");
        let mine = app.get(&format!("{FAMILIES}/{f1}/access?member={}", charity.a), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(mine["actions"]["read"]["allowed"], true);
        assert_eq!(mine["actions"]["delete"]["allowed"], false);
        let theirs = app.get(&format!("{FAMILIES}/{f3}/access?member={}", charity.a), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(theirs["actions"]["read"]["allowed"], false);
        assert_eq!(theirs["actions"]["export"]["allowed"], false);
        let _ = (&charity.east_sub, &charity.east);
        app
    }

    async fn writes_respect_rules_before_and_after_and_field_rules(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let a = member_token(&app, &charity.a).await;
        let f1 = &charity.families[0];
        let f3 = &charity.families[2];
        let audit = app.audit_len().await;
        app.patch(&format!("{FAMILIES}/{f1}"), &a, json!({"fields": {"phone": "2"}})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.patch(&format!("{FAMILIES}/{f1}"), &a, json!({"fields": {"id_number": "9"}})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        // Handing the family to B would leave A's rule: refused after the write, nothing written.
        app.patch(&format!("{FAMILIES}/{f1}"), &a, json!({"fields": {"volunteer": charity.b}})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        // Not A's family before the write.
        app.patch(&format!("{FAMILIES}/{f3}"), &a, json!({"fields": {"name": "mine"}})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        app.patch(FAMILIES, &a, json!({"records": [{"id": f1, "fields": {"name": "ok"}}, {"id": f3, "fields": {"name": "mine"}}]})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        // No delete grant.
        app.delete(&format!("{FAMILIES}/{f1}"), &a).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        // A create must satisfy the create rule.
        app.post(FAMILIES, &a, json!({"fields": {"name": "F5", "volunteer": charity.b}})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        app.post(FAMILIES, &a, json!({"fields": {"name": "F5", "volunteer": charity.a, "id_number": "1"}})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        assert_eq!(app.audit_len().await, audit, "refused writes wrote nothing");
        let owner_view = app.get(&format!("{FAMILIES}/{f1}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(owner_view["fields"]["volunteer"].to_string().contains(&charity.a));
        assert_eq!(owner_view["fields"]["phone"], "1");

        let updated = app.patch(&format!("{FAMILIES}/{f1}"), &a, json!({"fields": {"name": "F1b"}})).await.expect(StatusCode::OK).clone();
        assert!(updated["fields"].get("id_number").is_none());
        let created = app.post(FAMILIES, &a, json!({"fields": {"name": "F5", "volunteer": charity.a}})).await;
        assert!(created.expect(StatusCode::CREATED)["fields"].get("id_number").is_none());
        assert_eq!(app.get(&format!("{FAMILIES}?count=true"), &a).await.expect(StatusCode::OK)["total"], 2);
        app
    }

    async fn aggregates_and_exports_follow_the_read_rule(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let a = member_token(&app, &charity.a).await;
        let aggregate = "/api/v1/apps/charity/tables/families/aggregate";
        let groups = app.get(&format!("{aggregate}?metrics=count"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(groups["groups"][0]["count"], 1);
        app.get(&format!("{aggregate}?group_by=id_number"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.get(&format!("{aggregate}?metrics=count_distinct:id_number"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let lead = member_token(&app, &charity.lead).await;
        let groups = app.get(&format!("{aggregate}?metrics=count"), &lead).await.expect(StatusCode::OK).clone();
        assert_eq!(groups["groups"][0]["count"], 3);

        let export = app.get("/api/v1/apps/charity/tables/families/export", &a).await;
        assert_eq!(export.status, StatusCode::OK);
        let text = export.body.as_str().unwrap().to_owned();
        assert!(text.contains("F1") && !text.contains("F2") && !text.contains("F3"), "{text}");
        // No cell is F1's ID number (the ids are random hex, which may hold the digits 110).
        let cells = || text.split([',', '\n']).map(|cell| cell.trim_matches(['"', '\r']));
        assert!(!text.contains("ID number") && !cells().any(|cell| cell == "110"), "{text}");
        // Finance reads (HAS_ROLE) but has no export grant.
        let finance = member_token(&app, &charity.finance).await;
        app.get("/api/v1/apps/charity/tables/families/export", &finance).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        app
    }
}

api_tests! {
    async fn a_dashboard_shows_a_member_only_what_the_member_may_read(app) {
        let charity = charity(&app).await;
        app.post("/api/v1/apps/charity/tables/families/views", &app.admin_token,
            json!({"name": "All", "key": "all", "type": "grid", "config": {"fields": ["name", "id_number"]}}))
            .await.expect(StatusCode::CREATED);
        app.call(Method::PUT, "/api/v1/apps/charity/dashboards/board", Some(&app.admin_token), Some(json!({"name": "Board", "widgets": [
            {"key": "families", "title": "Families", "type": "number", "table": "families", "metric": "count"},
            {"key": "ids", "title": "By ID", "type": "chart", "chart": "bar", "table": "families", "group_by": "id_number", "metrics": "count"},
            {"key": "list", "title": "List", "type": "records", "table": "families", "view": "all", "limit": 10}
        ]}))).await.expect(StatusCode::CREATED);
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let data = |token: String| {
            let app = &app;
            async move { app.get("/api/v1/apps/charity/dashboards/board/data", &token).await.expect(StatusCode::OK).clone() }
        };
        let admin = data(app.admin_token.clone()).await;
        assert_eq!(admin["widgets"][0]["data"]["value"], 4, "{admin}");
        assert_eq!(admin["widgets"][1]["error"], Value::Null, "{admin}");
        // A (a volunteer): one family, the hidden field neither grouped by nor listed.
        let a = data(member_token(&app, &charity.a).await).await;
        assert_eq!(a["widgets"][0]["data"]["value"], 1, "{a}");
        assert_eq!(a["widgets"][1]["error"]["code"], "field_forbidden", "{a}");
        let items = a["widgets"][2]["data"]["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{a}");
        assert_eq!(items[0]["fields"]["name"], "F1");
        assert!(items[0]["fields"].get("id_number").is_none(), "{a}");
        // The lead reads three; a member in no role reads none.
        let lead = data(member_token(&app, &charity.lead).await).await;
        assert_eq!(lead["widgets"][0]["data"]["value"], 3, "{lead}");
        let outsider = data(member_token(&app, &charity.outsider).await).await;
        assert_eq!(outsider["widgets"][0]["error"]["code"], "action_forbidden", "{outsider}");
        app
    }

    async fn a_deleted_records_history_is_not_read_through_a_row_rule(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let f1 = &charity.families[0];
        let history = format!("{FAMILIES}/{f1}/history");
        let a = member_token(&app, &charity.a).await;
        let lead = member_token(&app, &charity.lead).await;
        // F1 is A's (and in the lead's departments): both read its history while it exists.
        app.get(&history, &a).await.expect(StatusCode::OK);
        app.get(&history, &lead).await.expect(StatusCode::OK);
        app.delete(&format!("{FAMILIES}/{f1}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        // Deleted, there is no row to evaluate their rules on: as a record they may not read.
        app.get(&history, &a).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        app.get(&history, &lead).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        let owner = app.get(&history, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(owner["items"][0]["action"], "deleted", "{owner}");
        app
    }

    async fn the_definition_carries_the_permissions(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let exported = app.get("/api/v1/apps/charity/export?format=json", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(exported["permissions"], document(&charity));
        // Into a new app: the same permissions, set after its tables.
        let mut copy = exported.clone();
        copy["key"] = json!("charity_copy");
        copy["name"] = json!("Charity copy");
        app.post("/api/v1/apps/import", &app.admin_token, copy.clone()).await.expect(StatusCode::CREATED);
        let stored = app.get("/api/v1/apps/charity_copy/permissions", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(stored, document(&charity));
        // A bad section is refused before anything is applied, at its path.
        copy["key"] = json!("charity_bad");
        copy["permissions"]["roles"][0]["colour"] = json!("red");
        let refused = app.post("/api/v1/apps/import", &app.admin_token, copy).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(error["details"][0]["field"], "permissions.roles[0].colour");
        app.get("/api/v1/apps/charity_bad", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }
}
