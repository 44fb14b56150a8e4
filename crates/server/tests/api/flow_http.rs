//! Outside steps over HTTP (issue #18): the `http` step against a local fake ERP — a record change calls
//! it with a connection's credentials and maps its answer into the record; 5xx answers are retried with
//! the same `Idempotency-Key`; a POST cut short by a lost claim becomes `unknown_outcome` rather than
//! being sent again; connections' secrets are never answered and are encrypted in the database; bad
//! steps answer 422 naming the step.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow_steps::{ORDERS, crm, details, import, only_run, records};
use crate::{TestApp, api_tests};

/// What the fake ERP received.
#[derive(Debug, Clone)]
struct Seen {
    authorization: String,
    idempotency_key: String,
    json: Value,
}

#[derive(Default)]
struct Script {
    statuses: VecDeque<u16>,
    seen: Vec<Seen>,
    /// While set, a request waits until the test releases it.
    hold: Option<Arc<tokio::sync::Notify>>,
}

/// A fake ERP: `POST /api/orders` answers the scripted statuses, then 200 `{"data": {"number"}}`.
struct FakeErp {
    base: String,
    script: Arc<Mutex<Script>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl FakeErp {
    async fn start() -> FakeErp {
        let script = Arc::new(Mutex::new(Script::default()));
        let arrived = Arc::new(tokio::sync::Notify::new());
        let (state, signal) = (script.clone(), arrived.clone());
        let router = axum::Router::new().route(
            "/api/orders",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (state, signal) = (state.clone(), signal.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let (status, count, hold) = {
                        let mut script = state.lock().unwrap();
                        script.seen.push(Seen {
                            authorization: header("authorization"),
                            idempotency_key: header("idempotency-key"),
                            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        });
                        let status = script.statuses.pop_front().unwrap_or(200);
                        (status, script.seen.len(), script.hold.clone())
                    };
                    signal.notify_one();
                    if let Some(hold) = hold {
                        hold.notified().await;
                    }
                    let body = if status == 200 {
                        json!({"data": {"number": format!("K-{count}")}}).to_string()
                    } else {
                        json!({"error": "busy"}).to_string()
                    };
                    (AxumStatus::from_u16(status).unwrap(), body).into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeErp {
            base,
            script,
            arrived,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }
}

async fn erp_connection(app: &TestApp, erp: &FakeErp) {
    app.post(
        "/api/v1/connections",
        &app.admin_token,
        json!({"key": "erp", "name": "金蝶 ERP", "kind": "http",
               "config": {"base_url": erp.base, "auth": "bearer"},
               "secrets": {"token": "s3cret-token"}}),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// A flow on new orders: POST the order to the ERP, write its number into the order's note.
fn push_flow(step: Value) -> Value {
    json!([{"key": "push", "trigger": {"record": "orders", "on": "created"}, "steps": [
        step,
        {"key": "save", "type": "update_record", "table": "orders", "record": "{trigger.record_id}",
         "fields": {"note": "{steps.call.output.number}"}}
    ]}])
}

fn post_step(extra: Value) -> Value {
    let mut step = json!({"key": "call", "type": "http", "method": "POST", "connection": "erp",
        "url": "/orders",
        "body": "{\"customer\": {{ trigger.fields.customer | tojson }}, \"record\": \"{{ trigger.record_id }}\"}",
        "output": {"number": "/data/number"}});
    for (k, v) in extra.as_object().unwrap() {
        step[k] = v.clone();
    }
    step
}

async fn new_order(app: &TestApp, customer: &str) -> String {
    app.post(
        ORDERS,
        &app.admin_token,
        json!({"fields": {"customer": customer}}),
    )
    .await
    .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn step_in(app: &TestApp, run: &str, step: &str, status: &str) -> Value {
    step_at(app, run, step, status, None).await
}

/// Waits (bounded) until step `step` of run `run` has `status` (and `attempts`, if given).
pub(crate) async fn step_at(
    app: &TestApp,
    run: &str,
    step: &str,
    status: &str,
    attempts: Option<i64>,
) -> Value {
    for _ in 0..300 {
        let found = app
            .get(&format!("/api/v1/flow-runs/{run}"), &app.admin_token)
            .await
            .expect(StatusCode::OK)
            .clone();
        if let Some(entry) = found["steps"].as_array().unwrap().iter().find(|s| {
            s["key"] == step && s["status"] == status && attempts.is_none_or(|n| s["attempts"] == n)
        }) {
            return entry.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("step {step} of run {run} did not become {status} ({attempts:?} attempts)");
}

api_tests! {
    async fn a_new_record_calls_the_erp_with_the_connection_and_its_answer_lands_in_the_record(app) {
        let erp = FakeErp::start().await;
        erp_connection(&app, &erp).await;
        import(&app, crm(push_flow(post_step(json!({}))))).await.expect(StatusCode::CREATED);
        let order = new_order(&app, "甲\"公司").await;
        let run = only_run(&app, "push", "succeeded").await;
        let run_id = run["id"].as_str().unwrap();
        let seen = erp.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].authorization, "Bearer s3cret-token");
        assert_eq!(seen[0].idempotency_key, format!("{run_id}:call"));
        assert_eq!(seen[0].json, json!({"customer": "甲\"公司", "record": order}));
        let stored = records(&app, ORDERS).await;
        assert_eq!(stored[0]["fields"]["note"], "K-1");
        let call = &run["steps"][0];
        assert_eq!(call["output"]["status"], 200);
        assert_eq!(call["output"]["body"]["data"]["number"], "K-1");
        assert_eq!(call["input"]["url"], format!("{}/orders", erp.base));
        assert!(!run.to_string().contains("s3cret-token"), "the journal shows no credential: {run}");
        app
    }

    async fn a_5xx_answer_is_retried_with_the_same_key_until_the_erp_takes_it(app) {
        let erp = FakeErp::start().await;
        erp_connection(&app, &erp).await;
        erp.script.lock().unwrap().statuses.extend([503, 502]);
        import(&app, crm(push_flow(post_step(json!({"retry": {"attempts": 3}}))))).await.expect(StatusCode::CREATED);
        new_order(&app, "乙公司").await;
        let run = only_run(&app, "push", "waiting").await;
        let run_id = run["id"].as_str().unwrap().to_owned();
        let first = step_in(&app, &run_id, "call", "retry_wait").await;
        assert_eq!(first["error"]["kind"], "status");
        assert!(first["error"]["message"].as_str().unwrap().starts_with("HTTP 503"), "{first}");
        // The first wait is 30 s ±20 %, the second 5 min ±20 %.
        app.clock.advance(chrono::TimeDelta::seconds(40));
        let second = step_at(&app, &run_id, "call", "retry_wait", Some(2)).await;
        assert!(second["error"]["message"].as_str().unwrap().starts_with("HTTP 502"), "{second}");
        app.clock.advance(chrono::TimeDelta::minutes(7));
        let done = crate::flow_steps::run_in(&app, &run_id, "succeeded").await;
        assert_eq!(done["steps"][0]["attempts"], 3);
        let seen = erp.seen();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|s| s.idempotency_key == format!("{run_id}:call")), "{seen:?}");
        assert_eq!(records(&app, ORDERS).await[0]["fields"]["note"], "K-3");
        app
    }

    async fn a_post_whose_answer_was_lost_is_not_sent_again_but_waits_for_a_person(app) {
        let erp = FakeErp::start().await;
        erp_connection(&app, &erp).await;
        let hold = Arc::new(tokio::sync::Notify::new());
        erp.script.lock().unwrap().hold = Some(hold.clone());
        import(&app, crm(push_flow(post_step(json!({}))))).await.expect(StatusCode::CREATED);
        let arrived = erp.arrived.notified();
        new_order(&app, "丙公司").await;
        tokio::time::timeout(Duration::from_secs(10), arrived).await.expect("the ERP got the request");
        // The worker waits on the ERP; its lease runs out and the other worker claims the run.
        app.clock.advance(chrono::TimeDelta::minutes(2));
        let run = crate::flow_steps::runs(&app, "push").await;
        let run_id = run[0]["id"].as_str().unwrap().to_owned();
        let unknown = step_in(&app, &run_id, "call", "unknown_outcome").await;
        assert_eq!(unknown["error"]["kind"], "unknown_outcome");
        // The first worker's answer comes too late: its claim is gone, it journals nothing.
        hold.notify_waiters();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(erp.seen().len(), 1, "a POST is not sent again blindly");
        let events = app
            .get("/api/v1/events?types=flow.step.unknown_outcome", &app.admin_token)
            .await
            .expect(StatusCode::OK)
            .clone();
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
        assert_eq!(events["items"][0]["data"]["step"]["key"], "call");
        // A person says it took effect: the run goes on without sending it again.
        erp.script.lock().unwrap().hold = None;
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/call/resolve"), &app.admin_token,
            json!({"outcome": "done"})).await.expect(StatusCode::OK);
        let done = crate::flow_steps::run_in(&app, &run_id, "succeeded").await;
        assert_eq!(done["steps"][0]["status"], "succeeded");
        assert_eq!(erp.seen().len(), 1);
        app
    }

    async fn connection_secrets_are_never_answered_and_are_encrypted_in_the_database(app) {
        let erp = FakeErp::start().await;
        let created = app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "erp", "name": "ERP", "kind": "http",
                   "config": {"base_url": erp.base, "auth": "bearer"},
                   "secrets": {"token": "s3cret-token"}}))
            .await
            .expect(StatusCode::CREATED)
            .clone();
        assert_eq!(created["secret_names"], json!(["token"]));
        for answer in [
            created.clone(),
            app.get("/api/v1/connections", &app.admin_token).await.expect(StatusCode::OK).clone(),
            app.get("/api/v1/connections/erp", &app.admin_token).await.expect(StatusCode::OK).clone(),
            app.patch("/api/v1/connections/erp", &app.admin_token, json!({"secrets": {"token": "n3w-token"}}))
                .await.expect(StatusCode::OK).clone(),
        ] {
            let text = answer.to_string();
            assert!(!text.contains("s3cret") && !text.contains("n3w-token"), "{text}");
        }
        let sealed = app.store.tenant(app.org.id).connection_sealed_secrets("erp").await.unwrap().unwrap();
        assert!(sealed.len() > 24 + 16, "a nonce, the ciphertext and its tag");
        assert!(!sealed.windows(9).any(|w| w == b"n3w-token"), "the database holds no clear secret");
        // The new secret is the one sent.
        import(&app, crm(push_flow(post_step(json!({}))))).await.expect(StatusCode::CREATED);
        new_order(&app, "丁公司").await;
        only_run(&app, "push", "succeeded").await;
        assert_eq!(erp.seen()[0].authorization, "Bearer n3w-token");
        // Refused: a missing secret, a duplicate key, another credential, another organization.
        let missing = app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "crm2", "name": "CRM", "kind": "http", "config": {"base_url": "https://crm.example", "auth": "bearer"}}))
            .await;
        assert_eq!(details(&missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone()), vec![("secrets.token".to_owned(), "required".to_owned())]);
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "erp", "name": "ERP", "kind": "http", "config": {"base_url": "https://x.example"}}))
            .await.expect(StatusCode::CONFLICT);
        let flows_only = app.token(&["flows:read", "flows:write"]).await;
        app.get("/api/v1/connections", &flows_only).await.expect(StatusCode::FORBIDDEN);
        let (_, _, other) = app.other_org().await;
        app.get("/api/v1/connections/erp", &other).await.expect(StatusCode::NOT_FOUND);
        app.delete("/api/v1/connections/erp", &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.get("/api/v1/connections/erp", &app.admin_token).await.expect(StatusCode::NOT_FOUND);
        app
    }

    async fn bad_http_steps_answer_422_naming_the_step_and_its_option(app) {
        let flows = json!([{"key": "bad", "trigger": {"manual": {}}, "steps": [
            {"key": "call", "type": "http", "method": "FETCH", "url": "erp.example/x", "timeout": "5m",
             "headers": {"Authorization": "Bearer x"}, "output": {"status": "/a"}},
            {"key": "loop", "type": "for_each", "items": "SPLIT(\"a,b\", \",\")", "steps": [
                {"key": "each", "type": "http", "url": "https://erp.example/x"}]},
            {"key": "conn", "type": "http", "connection": "erp", "url": "https://evil.example/x"}
        ]}]);
        let error = import(&app, crm(flows)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&error), vec![
            ("flows[0].steps[0].headers.Authorization".to_owned(), "not_allowed".to_owned()),
            ("flows[0].steps[0].method".to_owned(), "not_one_of".to_owned()),
            ("flows[0].steps[0].output.status".to_owned(), "invalid_value".to_owned()),
            ("flows[0].steps[0].timeout".to_owned(), "too_large".to_owned()),
            ("flows[0].steps[0].url".to_owned(), "invalid_format".to_owned()),
            ("flows[0].steps[2].connection".to_owned(), "not_found".to_owned()),
            ("flows[0].steps[2].url".to_owned(), "not_allowed".to_owned()),
        ]);
        app
    }
}

/// What a fake DingTalk robot received: its query and message.
#[derive(Debug, Clone)]
struct RobotSeen {
    query: std::collections::HashMap<String, String>,
    json: Value,
}

/// A fake DingTalk: `POST /robot/send` answers the scripted errcodes, then `{"errcode": 0}`.
async fn fake_robot() -> (String, Arc<Mutex<(VecDeque<i64>, Vec<RobotSeen>)>>) {
    let state: Arc<Mutex<(VecDeque<i64>, Vec<RobotSeen>)>> = Arc::default();
    let shared = state.clone();
    let router = axum::Router::new().route(
        "/robot/send",
        axum::routing::post(
            move |axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
                  body: Bytes| {
                let shared = shared.clone();
                async move {
                    let mut state = shared.lock().unwrap();
                    state.1.push(RobotSeen { query, json: serde_json::from_slice(&body).unwrap_or(Value::Null) });
                    let code = state.0.pop_front().unwrap_or(0);
                    axum::Json(json!({"errcode": code, "errmsg": if code == 0 { "ok" } else { "sign not match" }}))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, state)
}

api_tests! {
    async fn a_robot_step_posts_a_signed_markdown_message_and_a_dingtalk_error_fails_it(app) {
        use base64::Engine as _;
        use hmac::{KeyInit as _, Mac as _};
        let (base, robot) = fake_robot().await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "sales_group", "name": "销售群", "kind": "dingtalk_robot", "config": {"base_url": base},
                   "secrets": {"access_token": "t0ken", "sign": "SECabc"}}))
            .await.expect(StatusCode::CREATED);
        import(&app, crm(json!([{"key": "tell", "trigger": {"record": "orders", "on": "created"}, "steps": [
            {"key": "say", "type": "robot", "connection": "sales_group", "title": "新订单",
             "text": "**{{ trigger.fields.customer }}** 下单", "at": {"mobiles": ["13800000000"]}}
        ]}]))).await.expect(StatusCode::CREATED);
        new_order(&app, "甲公司").await;
        let run = only_run(&app, "tell", "succeeded").await;
        assert_eq!(run["steps"][0]["output"]["errcode"], 0);
        assert!(!run.to_string().contains("t0ken") && !run.to_string().contains("SECabc"), "{run}");
        let seen = robot.lock().unwrap().1.clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].query["access_token"], "t0ken");
        let timestamp = &seen[0].query["timestamp"];
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"SECabc").unwrap();
        mac.update(format!("{timestamp}\nSECabc").as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(seen[0].query["sign"], expected, "DingTalk's documented signature");
        assert_eq!(seen[0].json["msgtype"], "markdown");
        assert_eq!(seen[0].json["markdown"], json!({"title": "新订单", "text": "**甲公司** 下单"}));
        assert_eq!(seen[0].json["at"]["atMobiles"], json!(["13800000000"]));
        // DingTalk refuses (errcode 310000): the step fails at once with its message.
        robot.lock().unwrap().0.push_back(310_000);
        new_order(&app, "乙公司").await;
        let mut failed = None;
        for _ in 0..300 {
            let runs = crate::flow_steps::runs(&app, "tell").await;
            if let Some(run) = runs.iter().find(|r| r["status"] == "failed") {
                failed = Some(run.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let failed = failed.expect("a failed run");
        let detail = app.get(&format!("/api/v1/flow-runs/{}", failed["id"].as_str().unwrap()), &app.admin_token)
            .await.expect(StatusCode::OK).clone();
        assert!(detail["steps"][0]["error"]["message"].as_str().unwrap().contains("DingTalk 310000"), "{detail}");
        app
    }
}

api_tests! {
    async fn http_and_robot_steps_run_inside_a_for_each_once_per_item_with_the_loop_index_in_their_key(app) {
        let erp = FakeErp::start().await;
        erp_connection(&app, &erp).await;
        let (base, robot) = fake_robot().await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "group", "name": "群", "kind": "dingtalk_robot", "config": {"base_url": base},
                   "secrets": {"access_token": "t0ken"}}))
            .await.expect(StatusCode::CREATED);
        // The first request meets a 503: the loop waits and goes on at that item and step.
        erp.script.lock().unwrap().statuses.push_back(503);
        import(&app, crm(json!([{"key": "fan", "trigger": {"record": "orders", "on": "created"}, "steps": [
            {"key": "each", "type": "for_each", "items": "SPLIT(\"a,b,c\", \",\")", "steps": [
                {"key": "call", "type": "http", "method": "POST", "connection": "erp", "url": "/orders",
                 "body": "{\"item\": \"{{ item.value }}\", \"n\": {{ loop.index }}}", "output": {"number": "/data/number"}},
                {"key": "t", "type": "create_record", "table": "tally",
                 "fields": {"n": "{loop.index}", "customer": "{steps.call.output.number}"}},
                {"key": "say", "type": "robot", "connection": "group", "text": "{{ item.value }}: {{ steps.call.output.number }}"}
            ]}
        ]}]))).await.expect(StatusCode::CREATED);
        new_order(&app, "甲公司").await;
        let run = crate::flow_steps::runs(&app, "fan").await;
        let run_id = run[0]["id"].as_str().unwrap().to_owned();
        let waiting = step_in(&app, &run_id, "each", "retry_wait").await;
        assert!(waiting["error"]["message"].as_str().unwrap().starts_with("item 0, step call: HTTP 503"), "{waiting}");
        app.clock.advance(chrono::TimeDelta::seconds(40));
        let done = crate::flow_steps::run_in(&app, &run_id, "succeeded").await;
        assert_eq!(done["steps"][0]["output"]["count"], 3);
        assert!(!done.to_string().contains("s3cret-token") && !done.to_string().contains("t0ken"), "{done}");
        let seen = erp.seen();
        let keys: Vec<String> = seen.iter().map(|s| s.idempotency_key.clone()).collect();
        assert_eq!(keys, [0, 0, 1, 2].map(|i| format!("{run_id}:call:{i}")), "the same key for each attempt of an item");
        assert_eq!(seen[3].json, json!({"item": "c", "n": 2}));
        let mut tally: Vec<(String, String)> = records(&app, "/api/v1/apps/crm/tables/tally/records").await.iter()
            .map(|r| (r["fields"]["n"].to_string().trim_matches('"').to_owned(), r["fields"]["customer"].as_str().unwrap().to_owned()))
            .collect();
        tally.sort();
        assert_eq!(tally, [("0", "K-2"), ("1", "K-3"), ("2", "K-4")].map(|(a, b)| (a.to_owned(), b.to_owned())), "each item once");
        let said: Vec<Value> = robot.lock().unwrap().1.iter().map(|s| s.json["text"]["content"].clone()).collect();
        assert_eq!(said, [json!("a: K-2"), json!("b: K-3"), json!("c: K-4")]);
        app
    }
}

api_tests! {
    async fn a_post_in_a_for_each_whose_answer_was_lost_waits_for_a_person_and_done_goes_on_past_it(app) {
        let erp = FakeErp::start().await;
        erp_connection(&app, &erp).await;
        let hold = Arc::new(tokio::sync::Notify::new());
        erp.script.lock().unwrap().hold = Some(hold.clone());
        import(&app, crm(json!([{"key": "fan", "trigger": {"record": "orders", "on": "created"}, "steps": [
            {"key": "each", "type": "for_each", "items": "SPLIT(\"a,b\", \",\")", "steps": [
                {"key": "t", "type": "create_record", "table": "tally", "fields": {"n": "{loop.index}"}},
                {"key": "call", "type": "http", "method": "POST", "connection": "erp", "url": "/orders",
                 "body": "{\"item\": \"{{ item.value }}\"}"}
            ]}
        ]}]))).await.expect(StatusCode::CREATED);
        let arrived = erp.arrived.notified();
        new_order(&app, "甲公司").await;
        tokio::time::timeout(Duration::from_secs(10), arrived).await.expect("the ERP got the request");
        // The worker waits on the ERP; its lease runs out and the other worker claims the run.
        app.clock.advance(chrono::TimeDelta::minutes(2));
        let run_id = crate::flow_steps::runs(&app, "fan").await[0]["id"].as_str().unwrap().to_owned();
        let unknown = step_in(&app, &run_id, "each", "unknown_outcome").await;
        assert_eq!(unknown["input"]["outside"]["step"], "call");
        assert_eq!(unknown["input"]["outside"]["item"], 0);
        hold.notify_waiters();
        erp.script.lock().unwrap().hold = None;
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/each/resolve"), &app.admin_token,
            json!({"outcome": "done"})).await.expect(StatusCode::OK);
        crate::flow_steps::run_in(&app, &run_id, "succeeded").await;
        let keys: Vec<String> = erp.seen().iter().map(|s| s.idempotency_key.clone()).collect();
        assert_eq!(keys, [format!("{run_id}:call:0"), format!("{run_id}:call:1")], "item 0's POST was not sent again");
        assert_eq!(records(&app, "/api/v1/apps/crm/tables/tally/records").await.len(), 2, "item 0's record once");
        app
    }
}
