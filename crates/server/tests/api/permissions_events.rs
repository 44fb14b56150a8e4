//! App permissions on the events a member reads (issue #19): the event list (pages and cursors), one
//! event by id and the Server-Sent Events stream show a member only the events of records she may read
//! now, without her hidden fields; owners, admins and organization tokens see every event whole; events
//! of apps without permissions are unchanged; a member cannot subscribe a webhook. Approval events follow
//! their record's rows; a plain member's `schema.changed` events do not carry the permissions document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::auth::{login, session_cookie, with_cookie};
use crate::event_stream::Sse;
use crate::permissions::{charity, document, put};
use crate::{TestApp, api_tests};

const FAMILIES: &str = "/api/v1/apps/charity/tables/families/records";
const RECORD_EVENTS: &str = "/api/v1/events?types=record.*&page_size=1000";

/// The record events of a page as (type, record id).
fn record_events(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["subject"]["record_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// No event of the page carries the field, on either side.
fn assert_absent(page: &Value, field: &str) {
    for event in page["items"].as_array().unwrap() {
        for side in ["before", "after"] {
            let fields = &event["data"][side];
            assert!(fields.is_null() || fields.get(field).is_none(), "{event}");
        }
        assert!(
            !event["data"]["changed"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{event}"
        );
    }
}

async fn create(app: &TestApp, fields: Value) -> String {
    app.post(FAMILIES, &app.admin_token, json!({ "fields": fields }))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

api_tests! {
    async fn a_member_reads_only_the_events_of_her_rows_without_hidden_fields(app) {
        let charity = charity(&app).await;
        let [f1, f2, f3, f4] = [0, 1, 2, 3].map(|i| charity.families[i].clone());
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        // S logs in with a session; in East, so a volunteer.
        let s = app.post("/api/v1/members", &app.admin_token, json!({"name": "S", "role": "member",
            "email": "s@example.com", "password": "s-the-volunteer-1", "department_ids": [charity.east]})).await;
        let s_id = s.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let f5 = create(&app, json!({"name": "F5", "volunteer": s_id, "id_number": "150"})).await;
        // Only a hidden field changes: not shown. The phone changes: shown without the ID number.
        app.patch(&format!("{FAMILIES}/{f1}"), &app.admin_token, json!({"fields": {"id_number": "111"}})).await.expect(StatusCode::OK);
        app.patch(&format!("{FAMILIES}/{f1}"), &app.admin_token, json!({"fields": {"phone": "2", "id_number": "112"}})).await.expect(StatusCode::OK);
        app.patch(&format!("{FAMILIES}/{f3}"), &app.admin_token, json!({"fields": {"name": "F3b"}})).await.expect(StatusCode::OK);
        app.delete(&format!("{FAMILIES}/{f4}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        // An app without permissions: its events reach every member whole.
        app.post("/api/v1/apps", &app.admin_token, json!({"name": "Notes", "key": "notes"})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/notes/tables", &app.admin_token, json!({"name": "Notes", "key": "notes",
            "fields": [{"name": "Secret", "key": "secret", "type": "text"}]})).await.expect(StatusCode::CREATED);
        let note = app.post("/api/v1/apps/notes/tables/notes/records", &app.admin_token, json!({"fields": {"secret": "s3"}})).await;
        let note = note.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();

        // The organization token sees every event whole.
        let all = app.get(RECORD_EVENTS, &app.admin_token).await.expect(StatusCode::OK).clone();
        let seen = record_events(&all);
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert!(seen.contains(&("record.deleted".into(), f4.clone())));
        assert_eq!(all["items"][0]["data"]["after"]["id_number"], "110");

        // A: F1's events (not its hidden-only update), the note; nothing of F2 (archived), F3, F4, F5.
        let a = member_token(&app, &charity.a).await;
        let mine = app.get(RECORD_EVENTS, &a).await.expect(StatusCode::OK).clone();
        assert_eq!(record_events(&mine), vec![
            ("record.created".into(), f1.clone()),
            ("record.updated".into(), f1.clone()),
            ("record.created".into(), note.clone()),
        ]);
        assert_absent(&mine, "id_number");
        assert_eq!(mine["items"][1]["data"]["changed"], json!(["phone"]));
        assert_eq!(mine["items"][1]["data"]["after"]["phone"], "2");
        assert_eq!(mine["items"][2]["data"]["after"]["secret"], "s3");
        let _ = &f2;

        // Pages of one follow the cursor over the events A may not see.
        let first = app.get("/api/v1/events?types=record.*&page_size=1", &a).await.expect(StatusCode::OK).clone();
        assert_eq!(record_events(&first), vec![("record.created".into(), f1.clone())]);
        let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
        let second = app.get(&format!("/api/v1/events?types=record.*&page_size=2&cursor={cursor}"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(record_events(&second), vec![("record.updated".into(), f1.clone()), ("record.created".into(), note.clone())]);
        assert!(second["next_cursor"].is_null(), "{second}");
        let after = first["items"][0]["id"].as_str().unwrap();
        let resumed = app.get(&format!("/api/v1/events?types=record.*&after={after}"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(record_events(&resumed).len(), 2);

        // One event by id: another's row is 404 to A; her own without the hidden field.
        let event_of = |record: &str, kind: &str| all["items"].as_array().unwrap().iter()
            .find(|event| event["subject"]["record_id"] == record && event["type"] == kind)
            .map(|event| event["id"].as_str().unwrap().to_owned()).unwrap();
        let theirs = event_of(&f3, "record.updated");
        app.get(&format!("/api/v1/events/{theirs}"), &a).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/events/{}", event_of(&f4, "record.deleted")), &a).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let own = app.get(&format!("/api/v1/events/{}", event_of(&f1, "record.created")), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(own["data"]["after"]["name"], "F1");
        assert!(own["data"]["after"].get("id_number").is_none(), "{own}");
        let whole = app.get(&format!("/api/v1/events/{}", event_of(&f1, "record.created")), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(whole["data"]["after"]["id_number"], "110");

        // A session: S sees F5's event without the ID number.
        let logged_in = login(&app, "s@example.com", "s-the-volunteer-1").await;
        logged_in.expect(StatusCode::OK);
        let cookie = session_cookie(&logged_in);
        let hers = with_cookie(&app, Method::GET, "/api/v1/events?types=record.*", &cookie, None).await.expect(StatusCode::OK).clone();
        assert_eq!(record_events(&hers), vec![("record.created".into(), f5.clone()), ("record.created".into(), note.clone())]);
        assert_absent(&hers, "id_number");

        // A member in no role sees no event of the charity's rows, only the note.
        let outsider = member_token(&app, &charity.outsider).await;
        let none = app.get(RECORD_EVENTS, &outsider).await.expect(StatusCode::OK).clone();
        assert_eq!(record_events(&none), vec![("record.created".into(), note.clone())]);

        // No webhook is delivered on a member's behalf: subscribing needs events:manage, which members lack.
        app.post("/api/v1/subscriptions", &a, json!({"url": "https://hooks.example.com/x", "event_types": ["record.*"]}))
            .await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        app
    }

    async fn the_event_stream_sends_a_member_only_her_rows_without_hidden_fields(app) {
        let charity = charity(&app).await;
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        let a = member_token(&app, &charity.a).await;
        let mut stream = Sse::open(&app, &a, None).await;
        let mut admin = Sse::open(&app, &app.admin_token, None).await;
        let f6 = create(&app, json!({"name": "F6", "volunteer": charity.b, "id_number": "160"})).await;
        let f7 = create(&app, json!({"name": "F7", "volunteer": charity.a, "id_number": "170"})).await;
        let (_, event, data) = stream.next().await;
        assert_eq!(event, "record.created");
        assert_eq!(data["subject"]["record_id"], f7.as_str(), "F6 is B's: skipped");
        assert_eq!(data["data"]["after"]["name"], "F7");
        assert!(data["data"]["after"].get("id_number").is_none(), "{data}");
        // The admin's stream carries both, whole.
        let (_, _, first) = admin.next().await;
        assert_eq!(first["subject"]["record_id"], f6.as_str());
        assert_eq!(first["data"]["after"]["id_number"], "160");
        let (_, _, second) = admin.next().await;
        assert_eq!(second["subject"]["record_id"], f7.as_str());
        app
    }
    async fn approval_events_follow_the_record_and_schema_events_keep_the_document_from_members(app) {
        let charity = charity(&app).await;
        let [f1, f3] = [0, 2].map(|i| charity.families[i].clone());
        let token = &app.admin_token;
        app.post("/api/v1/processes", token, json!({"app": "charity", "code": "REVIEW", "name": "复核",
            "table": "families", "initiator": {"field": "volunteer"},
            "nodes": [{"key": "n1", "type": "approval", "method": "or",
                "approvers": [{"members": [charity.finance]}], "next": "end"}]})).await.expect(StatusCode::CREATED);
        app.post("/api/v1/processes/REVIEW/publish", token, json!({})).await.expect(StatusCode::OK);
        put(&app, document(&charity)).await.expect(StatusCode::OK);
        for record in [&f1, &f3] {
            app.post("/api/v1/approvals", token, json!({"process": "REVIEW", "record": record})).await.expect(StatusCode::CREATED);
        }
        const APPROVAL_EVENTS: &str = "/api/v1/events?types=approval.*&page_size=1000";
        let records = |page: &Value| page["items"].as_array().unwrap().iter()
            .map(|event| event["subject"]["record_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        let all = records(&app.get(APPROVAL_EVENTS, token).await.expect(StatusCode::OK).clone());
        let of_f1 = all.iter().filter(|record| **record == f1).count();
        assert!(of_f1 > 0 && all.contains(&f3), "{all:?}");
        // A reads F1 (hers), not F3 (B's): only F1's approval events, all of them.
        let a = member_token(&app, &charity.a).await;
        let hers = records(&app.get(APPROVAL_EVENTS, &a).await.expect(StatusCode::OK).clone());
        assert_eq!(hers, vec![f1.clone(); of_f1]);
        let theirs = app.get(APPROVAL_EVENTS, token).await.expect(StatusCode::OK).clone();
        let f3_event = theirs["items"].as_array().unwrap().iter()
            .find(|event| event["subject"]["record_id"] == f3.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
        app.get(&format!("/api/v1/events/{f3_event}"), &a).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // A member in no role of the charity sees none; the finance role reads every row, so all.
        let outsider = member_token(&app, &charity.outsider).await;
        assert!(records(&app.get(APPROVAL_EVENTS, &outsider).await.expect(StatusCode::OK).clone()).is_empty());
        let finance = member_token(&app, &charity.finance).await;
        assert_eq!(records(&app.get(APPROVAL_EVENTS, &finance).await.expect(StatusCode::OK).clone()), all);

        // The permissions change is a schema.changed event: whole for the organization's token; a plain
        // member (a session, which reads schema events) learns that permissions changed, not the document.
        let s = app.post("/api/v1/members", token, json!({"name": "S", "role": "member",
            "email": "s2@example.com", "password": "s-the-volunteer-2", "department_ids": [charity.east]})).await;
        s.expect(StatusCode::CREATED);
        const SCHEMA_EVENTS: &str = "/api/v1/events?types=schema.changed&page_size=1000";
        let changed_permissions = |page: &Value| page["items"].as_array().unwrap().iter()
            .find(|event| event["data"]["changed"].as_array().unwrap().contains(&json!("permissions")))
            .cloned().expect("the permissions change");
        let whole = changed_permissions(&app.get(SCHEMA_EVENTS, token).await.expect(StatusCode::OK).clone());
        assert_eq!(whole["data"]["after"]["permissions"]["roles"][0]["key"], "volunteers", "{whole}");
        let logged_in = login(&app, "s2@example.com", "s-the-volunteer-2").await;
        logged_in.expect(StatusCode::OK);
        let cookie = session_cookie(&logged_in);
        let seen = with_cookie(&app, Method::GET, SCHEMA_EVENTS, &cookie, None).await.expect(StatusCode::OK).clone();
        let event = changed_permissions(&seen);
        assert_eq!(event["id"], whole["id"]);
        for side in ["before", "after"] {
            assert!(event["data"][side].get("permissions").is_none(), "{event}");
        }
        assert_eq!(event["data"]["after"]["key"], "charity", "{event}");
        app
    }
}
