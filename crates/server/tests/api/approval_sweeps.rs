//! The bad-input sweep of the processes and roles routes (called by
//! `approval_seed::bad_approval_requests_name_what_is_wrong_and_change_nothing`, on both backends):
//! unknown codes and keys 404, bad definitions and bad graphs 422 at their paths, taken codes and keys
//! 409; nothing is written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;
use crate::approval_seed::sweep;

/// The processes and roles routes: unknown codes and keys 404, bad definitions and bad graphs 422 at their
/// paths, taken codes and keys 409; nothing is written.
pub async fn bad_process_and_role_requests(app: &TestApp, school: &crate::approvals::School) {
    let duty = crate::approvals::duty_appeal;
    let named = |code: &str, change: &dyn Fn(&mut Value)| {
        let mut definition = duty();
        definition["code"] = json!(code);
        change(&mut definition);
        definition
    };
    // Drafts that check as shapes but not as graphs (written now: a draft is not checked as a graph).
    let nobody = tenon_model::MemberId::new().to_string();
    let drafts = [
        named("CYCLE", &|d| d["nodes"][2]["next"] = json!("n1")),
        named("ISLAND", &|d| {
            d["nodes"].as_array_mut().unwrap().push(json!({"key": "n3", "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": "end"}));
        }),
        named("STRANGER", &|d| {
            d["nodes"][0]["approvers"] = json!([{"members": [nobody]}])
        }),
        named("NOFIELD", &|d| {
            d["nodes"][0]["approvers"] = json!([{"field": "nope"}])
        }),
        named("DANGLING", &|d| d["nodes"][0]["next"] = json!("n9")),
    ];
    for draft in drafts {
        app.post("/api/v1/processes", &app.admin_token, draft)
            .await
            .expect(StatusCode::CREATED);
    }
    let processes = app
        .get("/api/v1/processes", &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    let roles = app
        .get("/api/v1/roles", &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    let record = crate::approvals::inspection(app, school, "1.0").await;
    let audit = app.audit_len().await;
    let many_nodes: Vec<Value> = (0..101).map(|k| json!({"key": format!("k{k}"), "type": "approval", "method": "or", "approvers": [{"role": "dean"}], "next": if k == 100 { "end".to_owned() } else { format!("k{}", k + 1) }})).collect();
    let many_branches: Vec<Value> = (0..21)
        .map(|k| json!({"when": format!("{{扣分}} >= {k}"), "next": "n2"}))
        .collect();
    let p = |rest: &str| match rest {
        "" => "/api/v1/processes".to_owned(),
        rest => format!("/api/v1/processes/{rest}"),
    };
    sweep(
        app,
        &app.admin_token,
        vec![
            // Unknown codes.
            (Method::GET, p("NOPE"), json!(null), 404, "not_found", None),
            (
                Method::PUT,
                p("NOPE/draft"),
                named("NOPE", &|_| {}),
                404,
                "not_found",
                None,
            ),
            (
                Method::POST,
                p("NOPE/publish"),
                json!({}),
                404,
                "not_found",
                None,
            ),
            (
                Method::GET,
                p("NOPE/versions"),
                json!(null),
                404,
                "not_found",
                None,
            ),
            (
                Method::POST,
                p("NOPE/forecast"),
                json!({}),
                404,
                "not_found",
                None,
            ),
            // Bad definitions, at their paths.
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| d["app"] = json!("nope")),
                422,
                "validation_failed",
                Some("app"),
            ),
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| d["table"] = json!("nope")),
                422,
                "validation_failed",
                Some("table"),
            ),
            (
                Method::POST,
                p(""),
                named("1bad", &|_| {}),
                422,
                "validation_failed",
                Some("code"),
            ),
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| {
                    d["nodes"][1].as_object_mut().unwrap().remove("default");
                }),
                422,
                "validation_failed",
                Some("nodes[1].default"),
            ),
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| d["nodes"] = json!(many_nodes)),
                422,
                "validation_failed",
                Some("nodes"),
            ),
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| {
                    d["nodes"][1]["branches"] = json!(many_branches)
                }),
                422,
                "validation_failed",
                Some("nodes[1].branches"),
            ),
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| d["settings"]["remind_afer_hours"] = json!(2)),
                422,
                "validation_failed",
                Some("settings.remind_afer_hours"),
            ),
            (
                Method::POST,
                p(""),
                named("NEW1", &|d| d["nodes"][0]["method"] = json!("xor")),
                422,
                "validation_failed",
                Some("nodes[0].method"),
            ),
            (
                Method::POST,
                p(""),
                json!({"app": "school", "code": "NEW1", "name": "x", "table": "inspections"}),
                422,
                "validation_failed",
                Some("nodes"),
            ),
            (Method::POST, p(""), duty(), 409, "conflict", Some("code")),
            (
                Method::PUT,
                p("DUTY_APPEAL/draft"),
                named("OTHER", &|_| {}),
                422,
                "validation_failed",
                Some("code"),
            ),
            (
                Method::PUT,
                p("DUTY_APPEAL/draft"),
                named("DUTY_APPEAL", &|d| d["table"] = json!("nope")),
                422,
                "validation_failed",
                Some("table"),
            ),
            // Bad graphs: publishing says where, and publishes nothing.
            (
                Method::POST,
                p("CYCLE/publish"),
                json!({}),
                422,
                "validation_failed",
                Some("nodes[2].next"),
            ),
            (
                Method::POST,
                p("ISLAND/publish"),
                json!({}),
                422,
                "validation_failed",
                Some("nodes[3]"),
            ),
            (
                Method::POST,
                p("STRANGER/publish"),
                json!({}),
                422,
                "validation_failed",
                Some("nodes[0].approvers[0].members[0]"),
            ),
            (
                Method::POST,
                p("NOFIELD/publish"),
                json!({}),
                422,
                "validation_failed",
                Some("nodes[0].approvers[0].field"),
            ),
            (
                Method::POST,
                p("DANGLING/publish"),
                json!({}),
                422,
                "validation_failed",
                Some("nodes[0].next"),
            ),
            // A process never published starts nothing; a forecast names what it does not know.
            (
                Method::POST,
                "/api/v1/approvals".into(),
                json!({"process": "CYCLE", "record": record}),
                422,
                "validation_failed",
                Some("process"),
            ),
            (
                Method::POST,
                p("DUTY_APPEAL/forecast"),
                json!({"record": tenon_model::RecordId::new().to_string()}),
                422,
                "validation_failed",
                Some("record"),
            ),
            (
                Method::POST,
                p("DUTY_APPEAL/forecast"),
                json!({"record": record, "initiator": "not-an-id"}),
                422,
                "validation_failed",
                Some("initiator"),
            ),
            (
                Method::POST,
                p("DUTY_APPEAL/forecast"),
                json!({"record": record, "colour": 1}),
                422,
                "validation_failed",
                Some("colour"),
            ),
        ],
    )
    .await;
    let r = |rest: &str| format!("/api/v1/roles{rest}");
    sweep(
        app,
        &app.admin_token,
        vec![
            (Method::GET, r("/nope"), json!(null), 404, "not_found", None),
            (
                Method::PATCH,
                r("/nope"),
                json!({"name": "x"}),
                404,
                "not_found",
                None,
            ),
            (
                Method::DELETE,
                r("/nope"),
                json!(null),
                404,
                "not_found",
                None,
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "dean", "name": "又一个"}),
                409,
                "conflict",
                Some("key"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "bad key", "name": "x"}),
                422,
                "validation_failed",
                Some("key"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "ok", "name": ""}),
                422,
                "validation_failed",
                Some("name"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "ok"}),
                422,
                "validation_failed",
                Some("name"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "ok", "name": "x", "member_ids": [nobody]}),
                422,
                "validation_failed",
                Some("member_ids[0]"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "ok", "name": "x", "member_ids": ["not-an-id"]}),
                422,
                "validation_failed",
                Some("member_ids[0]"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "ok", "name": "x", "member_ids": [school.dean, school.dean]}),
                422,
                "validation_failed",
                Some("member_ids[1]"),
            ),
            (
                Method::POST,
                r(""),
                json!({"key": "ok", "name": "x", "colour": "red"}),
                422,
                "validation_failed",
                Some("colour"),
            ),
            (
                Method::PATCH,
                r("/dean"),
                json!({"member_ids": [nobody]}),
                422,
                "validation_failed",
                Some("member_ids[0]"),
            ),
            (
                Method::PATCH,
                r("/dean"),
                json!({"name": ""}),
                422,
                "validation_failed",
                Some("name"),
            ),
            (
                Method::PATCH,
                r("/dean"),
                json!({"nmae": "x"}),
                422,
                "validation_failed",
                Some("nmae"),
            ),
        ],
    )
    .await;
    assert_eq!(app.audit_len().await, audit, "nothing written");
    assert_eq!(
        app.get("/api/v1/processes", &app.admin_token)
            .await
            .expect(StatusCode::OK),
        &processes
    );
    assert_eq!(
        app.get("/api/v1/roles", &app.admin_token)
            .await
            .expect(StatusCode::OK),
        &roles
    );
    for code in ["CYCLE", "ISLAND", "STRANGER", "NOFIELD", "DANGLING"] {
        assert_eq!(
            app.get(&p(&format!("{code}/versions")), &app.admin_token)
                .await
                .expect(StatusCode::OK)["items"],
            json!([]),
            "{code}"
        );
    }
}
