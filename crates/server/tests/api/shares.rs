//! Signed per-record links (issue #19): made by members who may read (and, for edit links, change) the
//! record and the fields, opened without a credential by the token, revoked or expired into 410
//! `share_gone`, bounded by the maker's current access, audited on every use, and invisible to other
//! organizations.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::permissions::{charity, document, put};
use crate::{TestApp, api_tests, clock_start};

const FAMILIES: &str = "/api/v1/apps/charity/tables/families/records";

fn share_path(record: &str) -> String {
    format!("{FAMILIES}/{record}/share")
}

async fn share(app: &TestApp, token: &str, record: &str, body: Value) -> crate::Reply {
    app.post(&share_path(record), token, body).await
}

/// Opens a link without any credential.
async fn open(app: &TestApp, token: &str) -> crate::Reply {
    app.call(Method::GET, &format!("/api/v1/shares/{token}"), None, None)
        .await
}

async fn edit(app: &TestApp, token: &str, fields: Value) -> crate::Reply {
    app.call(
        Method::PATCH,
        &format!("/api/v1/shares/{token}"),
        None,
        Some(json!({ "fields": fields })),
    )
    .await
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.get(
        "/api/v1/audit?target_type=share&page_size=100",
        &app.admin_token,
    )
    .await
    .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_owned())
        .collect()
}

api_tests! {
    async fn a_read_link_shows_only_its_fields_without_credentials_and_each_use_is_audited(app) {
        let charity = charity(&app).await;
        let f1 = &charity.families[0];
        let made = share(&app, &app.admin_token, f1, json!({"fields": ["name", "Phone"], "mode": "read"})).await;
        let made = made.expect(StatusCode::CREATED).clone();
        let token = made["token"].as_str().unwrap().to_owned();
        assert_eq!(keys(&made), ["expires_at", "fields", "id", "mode", "token", "url"]);
        assert!(made["url"].as_str().unwrap().ends_with(&format!("/s/{token}")), "{made}");
        assert!(token.len() >= 40, "256 random bits: {token}");
        assert_eq!(made["fields"], json!(["name", "phone"]));
        let expires: chrono::DateTime<chrono::Utc> = made["expires_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires, clock_start() + TimeDelta::days(30), "30 days unless the maker says");

        let opened = open(&app, &token).await.expect(StatusCode::OK).clone();
        assert_eq!(opened["mode"], "read");
        assert_eq!(opened["record"]["id"], f1.as_str());
        assert_eq!(keys(&opened["record"]["fields"]), ["name", "phone"], "only the chosen fields: {opened}");
        assert_eq!(opened["record"]["fields"]["name"], "F1");
        assert_eq!(opened["fields"][1], json!({"key": "phone", "name": "Phone", "type": "text", "editable": false}));
        // A read link changes nothing.
        edit(&app, &token, json!({"name": "changed"})).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        let record = app.get(&format!("{FAMILIES}/{f1}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(record["fields"]["name"], "F1");
        // An unknown token is not a link.
        open(&app, "tnl_no-such-link").await.expect_error(StatusCode::NOT_FOUND, "not_found");

        let actions = audit_actions(&app).await;
        assert_eq!(actions.iter().filter(|a| *a == "share.created").count(), 1, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| *a == "share.used").count(), 1, "{actions:?}");
        let listed = app.get(&format!("{FAMILIES}/{f1}/shares"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert_eq!(listed["items"][0]["id"], made["id"]);
        assert_eq!(listed["items"][0]["status"], "active");
        assert_eq!(listed["items"][0]["uses"], 1);
        assert!(listed["items"][0].get("token").is_none() && !listed.to_string().contains(&token), "the token is shown once");
        app
    }

    async fn an_edit_link_changes_only_its_editable_fields(app) {
        let charity = charity(&app).await;
        let f1 = &charity.families[0];
        // Members, departments and computed values cannot be picked on an outsider's form.
        let refused = share(&app, &app.admin_token, f1, json!({"fields": ["status", "volunteer"], "mode": "edit"})).await;
        let error = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "fields[1]");
        let bad = [
            (json!({"fields": ["ghost"], "mode": "read"}), "fields[0]"),
            (json!({"fields": ["name", "name"], "mode": "read"}), "fields[1]"),
            (json!({"fields": [], "mode": "read"}), "fields"),
            (json!({"fields": ["name"], "mode": "write"}), "mode"),
            (json!({"fields": ["name"], "mode": "read", "expires_in_days": 0}), "expires_in_days"),
            (json!({"fields": ["name"], "mode": "read", "expires_in_days": 366}), "expires_in_days"),
        ];
        for (body, field) in bad {
            let reply = share(&app, &app.admin_token, f1, body.clone()).await;
            let error = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
            assert_eq!(error["details"][0]["field"], field, "{body}: {error}");
        }
        assert!(audit_actions(&app).await.is_empty(), "a refused link is not made");

        let made = share(&app, &app.admin_token, f1, json!({"fields": ["name", "status"], "mode": "edit", "expires_in_days": 7})).await;
        let token = made.expect(StatusCode::CREATED)["token"].as_str().unwrap().to_owned();
        let opened = open(&app, &token).await.expect(StatusCode::OK).clone();
        assert_eq!(opened["fields"][0]["editable"], true);
        let changed = edit(&app, &token, json!({"status": "visited"})).await.expect(StatusCode::OK).clone();
        assert_eq!(changed["record"]["fields"]["status"], "visited");
        assert_eq!(keys(&changed["record"]["fields"]), ["name", "status"]);
        let record = app.get(&format!("{FAMILIES}/{f1}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(record["fields"]["status"], "visited");
        assert_eq!(record["fields"]["id_number"], "110", "other fields are untouched");
        // A field the link does not show is not the visitor's to change; nothing is written.
        let before = app.audit_len().await;
        let error = edit(&app, &token, json!({"id_number": "999", "status": "x"})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "fields.id_number");
        assert_eq!(app.audit_len().await, before);
        let record = app.get(&format!("{FAMILIES}/{f1}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(record["fields"]["id_number"], "110");
        assert_eq!(record["fields"]["status"], "visited");
        let actions = audit_actions(&app).await;
        assert_eq!(actions.iter().filter(|a| *a == "share.used").count(), 2, "one read, one edit: {actions:?}");
        app
    }

    async fn a_visitors_edit_is_audited_as_the_link_not_as_the_system(app) {
        let charity = charity(&app).await;
        let f1 = &charity.families[0];
        let made = share(&app, &app.admin_token, f1, json!({"fields": ["name", "status"], "mode": "edit"})).await.expect(StatusCode::CREATED).clone();
        let token = made["token"].as_str().unwrap().to_owned();
        let link = made["id"].as_str().unwrap().to_owned();
        open(&app, &token).await.expect(StatusCode::OK);
        edit(&app, &token, json!({"status": "visited"})).await.expect(StatusCode::OK);
        // The organization's language is zh-CN.
        let the_link = json!({"type": "share", "id": link, "name": "分享链接"});
        // The audit log: both uses of the link, and the record's change, name the link.
        let audit = app.get("/api/v1/audit?page_size=100", &app.admin_token).await.expect(StatusCode::OK).clone();
        let entries = audit["items"].as_array().unwrap();
        let uses: Vec<&Value> = entries.iter().filter(|entry| entry["action"] == "share.used").collect();
        assert_eq!(uses.len(), 2, "{audit}");
        for entry in &uses {
            assert_eq!(entry["actor"], the_link, "{entry}");
        }
        let made_by = entries.iter().find(|entry| entry["action"] == "share.created").unwrap();
        assert_ne!(made_by["actor"]["type"], "share", "the maker made it: {made_by}");
        let change = entries
            .iter()
            .find(|entry| entry["action"] == "record.updated" && entry["target_id"] == f1.as_str())
            .unwrap_or_else(|| panic!("the record's change is audited: {audit}"));
        assert_eq!(change["actor"], the_link, "{change}");
        // The record's history and its event say the same.
        let history = app.get(&format!("{FAMILIES}/{f1}/history"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(history["items"][0]["actor"], the_link, "{history}");
        let events = app.get("/api/v1/events?types=record.updated&page_size=100", &app.admin_token).await.expect(StatusCode::OK).clone();
        let event = events["items"].as_array().unwrap().iter().rev()
            .find(|event| event["subject"]["record_id"] == f1.as_str())
            .unwrap_or_else(|| panic!("a record.updated event: {events}"))
            .clone();
        assert_eq!(event["actor"], the_link, "{event}");
        app
    }

    async fn revoked_and_expired_links_answer_410(app) {
        let charity = charity(&app).await;
        let f1 = &charity.families[0];
        let made = share(&app, &app.admin_token, f1, json!({"fields": ["name"], "mode": "edit"})).await.expect(StatusCode::CREATED).clone();
        let token = made["token"].as_str().unwrap().to_owned();
        let id = made["id"].as_str().unwrap().to_owned();
        open(&app, &token).await.expect(StatusCode::OK);
        // Only the record's own links can be revoked through it.
        let f3 = &charity.families[2];
        app.delete(&format!("{FAMILIES}/{f3}/shares/{id}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("{FAMILIES}/{f1}/shares/{id}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let gone = open(&app, &token).await.expect_error(StatusCode::GONE, "share_gone").clone();
        assert_eq!(gone["params"]["reason"], "revoked");
        edit(&app, &token, json!({"name": "x"})).await.expect_error(StatusCode::GONE, "share_gone");
        // Revoking again is not an error.
        app.delete(&format!("{FAMILIES}/{f1}/shares/{id}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);

        let short = share(&app, &app.admin_token, f1, json!({"fields": ["name"], "mode": "read", "expires_in_days": 2})).await.expect(StatusCode::CREATED).clone();
        let short_token = short["token"].as_str().unwrap().to_owned();
        app.clock.advance(TimeDelta::days(2) - TimeDelta::seconds(1));
        open(&app, &short_token).await.expect(StatusCode::OK);
        app.clock.advance(TimeDelta::seconds(1));
        let gone = open(&app, &short_token).await.expect_error(StatusCode::GONE, "share_gone").clone();
        assert_eq!(gone["params"]["reason"], "expired");
        let listed = app.get(&format!("{FAMILIES}/{f1}/shares"), &app.admin_token).await.expect(StatusCode::OK).clone();
        let statuses: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["expired", "revoked"]);
        // A deleted record's links are gone too.
        let f4 = &charity.families[3];
        let last = share(&app, &app.admin_token, f4, json!({"fields": ["name"], "mode": "read"})).await.expect(StatusCode::CREATED).clone();
        app.delete(&format!("{FAMILIES}/{f4}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        let gone = open(&app, last["token"].as_str().unwrap()).await.expect_error(StatusCode::GONE, "share_gone").clone();
        assert_eq!(gone["params"]["reason"], "deleted");
        app
    }

    async fn members_share_only_what_they_may_read_and_change(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let a = member_token(&app, &charity.a).await;
        let f1 = &charity.families[0];
        let f3 = &charity.families[2];
        share(&app, &a, f3, json!({"fields": ["name"], "mode": "read"})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        share(&app, &a, f1, json!({"fields": ["name", "id_number"], "mode": "read"})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        share(&app, &a, f1, json!({"fields": ["name", "phone"], "mode": "edit"})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let outsider = member_token(&app, &charity.outsider).await;
        share(&app, &outsider, f1, json!({"fields": ["name"], "mode": "read"})).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        assert!(audit_actions(&app).await.is_empty(), "no refused link was made");

        let read = share(&app, &a, f1, json!({"fields": ["name", "phone"], "mode": "read"})).await.expect(StatusCode::CREATED).clone();
        let read_token = read["token"].as_str().unwrap().to_owned();
        let edit_link = share(&app, &a, f1, json!({"fields": ["name", "status"], "mode": "edit"})).await.expect(StatusCode::CREATED).clone();
        let edit_token = edit_link["token"].as_str().unwrap().to_owned();
        // A's row rules hold for the link: F1 is A's family, so the link changes it...
        edit(&app, &edit_token, json!({"name": "F1b"})).await.expect(StatusCode::OK);
        // ...but once F1 is B's family, A may not read it, and neither may A's links.
        app.patch(&format!("{FAMILIES}/{f1}"), &app.admin_token, json!({"fields": {"volunteer": charity.b}})).await.expect(StatusCode::OK);
        let gone = open(&app, &read_token).await.expect_error(StatusCode::GONE, "share_gone").clone();
        assert_eq!(gone["params"]["reason"], "revoked");
        edit(&app, &edit_token, json!({"name": "mine"})).await.expect_error(StatusCode::GONE, "share_gone");
        let record = app.get(&format!("{FAMILIES}/{f1}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(record["fields"]["name"], "F1b");
        // A may no longer revoke or list them either; the admin may.
        let id = read["id"].as_str().unwrap();
        app.delete(&format!("{FAMILIES}/{f1}/shares/{id}"), &a).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        app.delete(&format!("{FAMILIES}/{f1}/shares/{id}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        // A maker who leaves the organization takes their links along.
        let finance = member_token(&app, &charity.finance).await;
        let theirs = share(&app, &finance, f3, json!({"fields": ["name"], "mode": "read"})).await.expect(StatusCode::CREATED).clone();
        let theirs_token = theirs["token"].as_str().unwrap().to_owned();
        open(&app, &theirs_token).await.expect(StatusCode::OK);
        app.patch(&format!("/api/v1/members/{}", charity.finance), &app.admin_token, json!({"status": "left"})).await.expect(StatusCode::OK);
        let gone = open(&app, &theirs_token).await.expect_error(StatusCode::GONE, "share_gone").clone();
        assert_eq!(gone["params"]["reason"], "revoked");
        let _ = (&charity.east, &charity.east_sub, &charity.lead);
        app
    }

    async fn another_organization_cannot_make_list_or_revoke_links(app) {
        let charity = charity(&app).await;
        let f1 = &charity.families[0];
        let made = share(&app, &app.admin_token, f1, json!({"fields": ["name"], "mode": "read"})).await.expect(StatusCode::CREATED).clone();
        let id = made["id"].as_str().unwrap();
        let (_, _, other) = app.other_org().await;
        share(&app, &other, f1, json!({"fields": ["name"], "mode": "read"})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("{FAMILIES}/{f1}/shares"), &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("{FAMILIES}/{f1}/shares/{id}"), &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // The other organization's own app of the same key holds no such record, nor this link.
        app.post("/api/v1/apps", &other, json!({"name": "Charity", "key": "charity"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/charity/tables", &other, json!({"name": "Families", "key": "families", "fields": [{"name": "Name", "key": "name", "type": "text"}]}))
            .await
            .expect(StatusCode::CREATED);
        app.delete(&format!("{FAMILIES}/{f1}/shares/{id}"), &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        share(&app, &other, f1, json!({"fields": ["name"], "mode": "read"})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        open(&app, made["token"].as_str().unwrap()).await.expect(StatusCode::OK);
        app
    }
}
