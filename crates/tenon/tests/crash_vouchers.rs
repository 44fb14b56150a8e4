//! Voucher pushes survive `tenon serve` being killed mid-push (issue #18, "Proof": SIGKILL during the
//! push, one voucher in each). A fake Kingdee saves the voucher and holds its answer, a fake U8 takes the
//! EAI document and holds its answer, while the server is killed with SIGKILL; the restarted server (the
//! test clock moved past the lease) finds the step journaled `running` and
//!
//! - for Kingdee (reconcilable) asks by Tenon's key before saving again: it finds the voucher, the run
//!   succeeds, Kingdee has exactly one voucher and saw one Save;
//! - for U8 (unsafe) sends nothing again: the step is `unknown_outcome`; a person resolves it `done`, the
//!   run finishes, U8 saw one document.
//!
//! Runs on SQLite and on PostgreSQL.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tenon_store::testing::{TestBackend, TestDatabase};

use support::{Server, call, kill, past_the_lease, run, run_until};

const SERVICES: &str = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub";

fn start(database: &TestDatabase) -> Server {
    support::start(
        database,
        &[
            "--test-clock",
            "--outbound-allow",
            "127.0.0.1",
            "--flow-workers",
            "1",
        ],
    )
}

#[derive(Default)]
struct Fake {
    /// Kingdee's vouchers (`[key, model]`) or U8's documents.
    saved: Vec<(String, Value)>,
    saves: usize,
    hold: bool,
}

async fn hold_while(state: &Arc<Mutex<Fake>>) {
    while state.lock().unwrap().hold {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fake Kingdee (login, query by key, Save that holds its answer) and a fake U8 (a post that holds
/// its answer), on one address.
async fn fakes() -> (String, Arc<Mutex<Fake>>, Arc<Mutex<Fake>>) {
    let kingdee: Arc<Mutex<Fake>> = Arc::default();
    let u8: Arc<Mutex<Fake>> = Arc::default();
    let (query, save, post) = (kingdee.clone(), kingdee.clone(), u8.clone());
    let router = axum::Router::new()
        .route(
            &format!("{SERVICES}.AuthService.ValidateUser.common.kdsvc"),
            axum::routing::post(|| async {
                axum::Json(json!({"LoginResultType": 1, "KDSVCSessionId": "s1"}))
            }),
        )
        .route(
            &format!("{SERVICES}.DynamicFormService.ExecuteBillQuery.common.kdsvc"),
            axum::routing::post(move |body: Bytes| {
                let state = query.clone();
                async move {
                    let asked: Value = serde_json::from_slice(&body).unwrap();
                    let filter = asked["data"]["FilterString"].as_str().unwrap().to_owned();
                    let state = state.lock().unwrap();
                    let rows: Vec<Value> = state
                        .saved
                        .iter()
                        .enumerate()
                        .filter(|(_, (key, _))| filter == format!("F_TENON_KEY = '{key}'"))
                        .map(|(i, _)| json!([100_001 + i, format!("{}", i + 1)]))
                        .collect();
                    axum::Json(Value::Array(rows))
                }
            }),
        )
        .route(
            &format!("{SERVICES}.DynamicFormService.Save.common.kdsvc"),
            axum::routing::post(move |body: Bytes| {
                let state = save.clone();
                async move {
                    let saved: Value = serde_json::from_slice(&body).unwrap();
                    let model = saved["data"]["Model"].clone();
                    let count = {
                        let mut state = state.lock().unwrap();
                        state.saves += 1;
                        let key = model["F_TENON_KEY"].as_str().unwrap().to_owned();
                        state.saved.push((key, model));
                        state.saved.len()
                    };
                    hold_while(&state).await;
                    axum::Json(json!({"Result": {"ResponseStatus": {"IsSuccess": true, "MsgCode": 0},
                        "Id": 100_000 + count, "NeedReturnData": [{"FVOUCHERGROUPNO": format!("{count}")}]}}))
                }
            }),
        )
        .route(
            "/U8EAI/import.asp",
            axum::routing::post(move |body: Bytes| {
                let state = post.clone();
                async move {
                    {
                        let mut state = state.lock().unwrap();
                        state.saves += 1;
                        state.saved.push((String::new(), json!(String::from_utf8_lossy(&body))));
                    }
                    hold_while(&state).await;
                    r#"<ufinterface><item key="1" succeed="0" dsc="ok" u8key="记-0001"/></ufinterface>"#
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, kingdee, u8)
}

fn shop() -> Value {
    let flow = |key: &str, step: Value| {
        json!({"key": key, "trigger": {"manual": {"inputs": [{"key": "record", "type": "text", "required": true}]}},
               "steps": [{"key": "sync", "type": "ledger_sync", "rule": "vr_s", "record": "{trigger.payload.record}"}, step]})
    };
    json!({
        "format": "tenon.app/v1", "key": "shop", "name": "Shop",
        "tables": [{"key": "orders", "name": "订单", "fields": [
            {"key": "customer", "name": "客户", "type": "text"},
            {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
            {"key": "on", "name": "日期", "type": "date"}
        ]}],
        "voucher_rules": [{
            "key": "vr_s", "name": "销售收款", "book": {"name": "主账套", "template": "cas"}, "table": "orders",
            "when": "{金额} > 0", "date": "{日期}", "word": "记", "summary": "\"销售 \" & {客户}",
            "lines": [
                {"account": "AR", "debit": "{金额}", "dimensions": {"customer": "{客户}"}},
                {"account": "REVENUE", "credit": "{金额}"}
            ]
        }],
        "flows": [
            flow("to_kingdee", json!({"key": "push", "type": "kingdee_voucher", "connection": "kd", "voucher": "{steps.sync.output.voucher_id}", "timeout": "30s"})),
            flow("to_u8", json!({"key": "push", "type": "yonyou_voucher", "connection": "u8", "voucher": "{steps.sync.output.voucher_id}", "timeout": "30s"}))
        ]
    })
}

async fn cut_short(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create(backend).await;
    run(&database, &["migrate"]);
    let org = run(
        &database,
        &[
            "org",
            "create",
            "Cut Co",
            "--admin-email",
            "cut@example.com",
            "--admin-password",
            "cut-password-123",
        ],
    );
    let token = run(
        &database,
        &[
            "token", "create", "--org", &org, "--name", "cut", "--scopes", "admin",
        ],
    );
    let (base, kingdee, u8) = fakes().await;
    let http = reqwest::Client::new();
    let mut server = start(&database);
    let post = |path: &'static str, body: Value| {
        let (http, base, token) = (http.clone(), server.base.clone(), token.clone());
        async move {
            call(
                &http,
                &base,
                &token,
                reqwest::Method::POST,
                path,
                Some(body),
            )
            .await
        }
    };
    for (connection, status) in [
        (
            post(
                "/api/v1/connections",
                json!({"key": "kd", "name": "金蝶", "kind": "kingdee",
                   "config": {"base_url": format!("{base}/k3cloud"), "acct_id": "A1", "username": "api"},
                   "secrets": {"password": "k-pass"}}),
            )
            .await,
            reqwest::StatusCode::CREATED,
        ),
        (
            post(
                "/api/v1/connections",
                json!({"key": "u8", "name": "U8", "kind": "yonyou_u8", "config": {"base_url": base}}),
            )
            .await,
            reqwest::StatusCode::CREATED,
        ),
        (
            post("/api/v1/apps/import", shop()).await,
            reqwest::StatusCode::CREATED,
        ),
    ] {
        assert_eq!(connection.0, status, "{}", connection.1);
    }
    for (flow, fake) in [("to_kingdee", kingdee.clone()), ("to_u8", u8.clone())] {
        fake.lock().unwrap().hold = true;
        let (status, order) = call(
            &http,
            &server.base,
            &token,
            reqwest::Method::POST,
            "/api/v1/apps/shop/tables/orders/records",
            Some(json!({"fields": {"customer": "甲公司", "amount": "100.00", "on": "2026-11-20"}})),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{order}");
        let (status, started) = call(
            &http,
            &server.base,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/flows/{flow}/runs"),
            Some(json!({"payload": {"record": order["id"]}})),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{started}");
        let id = started["id"].as_str().unwrap().to_owned();
        // The vendor has the voucher; the server dies before the answer.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while fake.lock().unwrap().saves == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{flow}: no push arrived"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        kill(&mut server);
        fake.lock().unwrap().hold = false;
        server = start(&database);
        past_the_lease(&http, &server.base, &token).await;
        if flow == "to_kingdee" {
            let done = run_until(&http, &server.base, &token, &id, "succeeded", |r| {
                r["status"] == "succeeded"
            })
            .await;
            assert_eq!(done["steps"][1]["output"]["existing"], true, "{done}");
            assert_eq!(done["steps"][1]["output"]["number"], "1");
        } else {
            let blocked = run_until(&http, &server.base, &token, &id, "unknown_outcome", |r| {
                r["steps"][1]["status"] == "unknown_outcome"
            })
            .await;
            assert_eq!(blocked["status"], "waiting");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (status, resolved) = call(
                &http,
                &server.base,
                &token,
                reqwest::Method::POST,
                &format!("/api/v1/flow-runs/{id}/steps/push/resolve"),
                Some(json!({"outcome": "done"})),
            )
            .await;
            assert_eq!(status, reqwest::StatusCode::OK, "{resolved}");
            run_until(&http, &server.base, &token, &id, "succeeded", |r| {
                r["status"] == "succeeded"
            })
            .await;
        }
        let fake = fake.lock().unwrap();
        assert_eq!(fake.saved.len(), 1, "{flow}: exactly one voucher");
        assert_eq!(fake.saves, 1, "{flow}: the push was not sent again");
    }
    println!(
        "{backend:?}: pushes cut short by SIGKILL: Kingdee reconciled by key, U8 resolved by a person"
    );
    kill(&mut server);
    database.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_push_cut_short_by_sigkill_is_one_voucher_on_sqlite() {
    cut_short(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_push_cut_short_by_sigkill_is_one_voucher_on_postgres() {
    cut_short(TestBackend::Postgres).await;
}
