//! The `yonyou_voucher` step over a `yonsuite` connection (issue #18: "Yonyou (U8 EAI, YonSuite)"): a
//! booked order's voucher pushed to a fake YonSuite open API — a signed token request (the fake checks
//! the HMAC), the save with the accounts, amounts and auxiliary codes and Tenon's `resubmitCheckKey` —
//! and its number written back; the node's token reused; an invalid token replaced once; a save whose
//! answer is lost sent again with the same key and saved once (YonSuite answers the repeat); a worker
//! gone mid-push resends instead of asking a person (unlike U8); a dimension without an auxiliary item
//! code fails the step naming the setting, nothing sent; bad connections are refused with their paths.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::flow_http::step_in;
use crate::flow_steps::run_in;
use crate::flow_vouchers::{import, newest_in, note_of, paid_order, push_runs, shop, step};
use crate::{TestApp, api_tests};

const APP_KEY: &str = "41832a3d2df94989b500da6a22268747";
const APP_SECRET: &str = "ys-secret";

/// What the next save does.
#[derive(Debug, Clone)]
enum Script {
    /// Saves, then the connection breaks before the answer.
    Drop,
    /// Saves, then answers when the test says so.
    Hold(Arc<tokio::sync::Notify>),
}

#[derive(Default)]
struct State {
    tokens: HashSet<String>,
    token_requests: usize,
    bad_signatures: usize,
    saves: usize,
    /// Saved vouchers' bodies by `resubmitCheckKey`, in order.
    vouchers: Vec<Value>,
    script: VecDeque<Script>,
}

struct FakeYonSuite {
    base: String,
    state: Arc<Mutex<State>>,
}

fn broken() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("dropped"))
    });
    (StatusCode::OK, axum::body::Body::from_stream(stream)).into_response()
}

impl FakeYonSuite {
    async fn start() -> FakeYonSuite {
        let state: Arc<Mutex<State>> = Arc::default();
        let (token_state, save_state) = (state.clone(), state.clone());
        let router = axum::Router::new()
            .route(
                "/iuap-api-auth/open-auth/selfAppAuth/getAccessToken",
                axum::routing::get(move |Query(query): Query<HashMap<String, String>>| {
                    let state = token_state.clone();
                    async move {
                        let mut state = state.lock().unwrap();
                        state.token_requests += 1;
                        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
                        mac.update(format!("appKey{}timestamp{}", query["appKey"], query["timestamp"]).as_bytes());
                        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
                        let fresh = query["timestamp"].parse::<i64>().is_ok_and(|ms| {
                            (chrono::Utc::now().timestamp_millis() - ms).abs() < 60_000
                        });
                        if query.get("appKey").map(String::as_str) != Some(APP_KEY)
                            || query.get("signature") != Some(&expected)
                            || !fresh
                        {
                            state.bad_signatures += 1;
                            return axum::Json(json!({"code": "10018", "message": "签名错误"}));
                        }
                        let token = format!("tk{}+/=", state.token_requests);
                        state.tokens.insert(token.clone());
                        axum::Json(json!({"code": "00000", "message": "成功！",
                                          "data": {"access_token": token, "expire": 7200}}))
                    }
                }),
            )
            .route(
                "/iuap-api-gateway/yonbip/fi/ficloud/openapi/voucher/addVoucher",
                axum::routing::post(move |Query(query): Query<HashMap<String, String>>, body: Bytes| {
                    let state = save_state.clone();
                    async move {
                        let save: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let (script, answer) = {
                            let mut state = state.lock().unwrap();
                            state.saves += 1;
                            let token = query.get("access_token").cloned().unwrap_or_default();
                            if !state.tokens.contains(&token) {
                                return axum::Json(json!({"code": "310036", "message": "非法token"})).into_response();
                            }
                            let key = save["resubmitCheckKey"].clone();
                            if state.vouchers.iter().any(|v| v["resubmitCheckKey"] == key) {
                                return axum::Json(json!({"code": "100004", "message": "重复提交"})).into_response();
                            }
                            if save["bodies"][0]["accsubjectCode"] == "9999" {
                                return axum::Json(json!({"code": "999", "message": "科目 9999 不存在"})).into_response();
                            }
                            state.vouchers.push(save);
                            let n = state.vouchers.len();
                            (state.script.pop_front(), json!({"code": "200", "message": "操作成功",
                                "data": {"voucherId": format!("16747701157384{n:05}"), "displayName": format!("记-{n}"), "billCode": n}}))
                        };
                        match script {
                            Some(Script::Drop) => broken(),
                            Some(Script::Hold(hold)) => {
                                hold.notified().await;
                                axum::Json(answer).into_response()
                            }
                            None => axum::Json(answer).into_response(),
                        }
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeYonSuite { base, state }
    }

    fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.state.lock().unwrap().script.extend(steps);
    }

    fn vouchers(&self) -> Vec<Value> {
        self.state.lock().unwrap().vouchers.clone()
    }

    fn saves(&self) -> usize {
        self.state.lock().unwrap().saves
    }

    fn token_requests(&self) -> usize {
        self.state.lock().unwrap().token_requests
    }

    /// YonSuite forgets every token.
    fn expire_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }
}

/// A `yonsuite` connection `ys` to `fake` with `config` merged in.
async fn yonsuite(app: &TestApp, config: Value) -> FakeYonSuite {
    let fake = FakeYonSuite::start().await;
    let mut settings = json!({"base_url": format!("{}/iuap-api-gateway", fake.base), "app_key": APP_KEY,
                              "accbook_code": "A01", "auxiliary": {"customer": "0005"}});
    for (k, v) in config.as_object().unwrap() {
        settings[k] = v.clone();
    }
    app.post(
        "/api/v1/connections",
        &app.admin_token,
        json!({"key": "ys", "name": "用友 YonSuite", "kind": "yonsuite",
               "config": settings, "secrets": {"app_secret": APP_SECRET}}),
    )
    .await
    .expect(StatusCode::CREATED);
    fake
}

fn ys_step(extra: Value) -> Value {
    let mut step = json!({"key": "k", "type": "yonyou_voucher", "connection": "ys",
                          "voucher": "{steps.sync.output.voucher_id}"});
    for (k, v) in extra.as_object().unwrap() {
        step[k] = v.clone();
    }
    step
}

api_tests! {
    async fn a_booked_order_is_pushed_to_yonsuite_with_a_signed_token_and_its_number_lands_in_the_order(app) {
        let fake = yonsuite(&app, json!({"maker_mobile": "13800000000"})).await;
        import(&app, shop(ys_step(json!({})))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let run = newest_in(&app, 1, "succeeded").await;
        let voucher_id = step(&run, "sync")["output"]["voucher_id"].as_str().unwrap().to_owned();
        let saved = fake.vouchers();
        assert_eq!(saved.len(), 1, "{saved:?}");
        let body = &saved[0];
        assert_eq!(body["resubmitCheckKey"], voucher_id.replace('-', ""), "Tenon's key travels as resubmitCheckKey");
        assert_eq!(body["externalSourceDataId"], voucher_id.as_str());
        assert_eq!(body["accbookCode"], "A01");
        assert_eq!(body["voucherTypeCode"], "1", "记");
        assert_eq!(body["makeTime"], "2026-11-20");
        assert_eq!(body["makerMobile"], "13800000000");
        let lines = body["bodies"].as_array().unwrap();
        let amounts: Vec<(Value, Value)> = lines.iter()
            .map(|l| (l["debitOrg"].clone(), l["creditOrg"].clone()))
            .collect();
        assert_eq!(amounts, [(json!(113), Value::Null), (Value::Null, json!(100)), (Value::Null, json!(13))], "{body}");
        assert_eq!(lines[0]["accsubjectCode"], "1122");
        assert_eq!(lines[0]["description"], "销售 甲公司");
        assert_eq!(lines[0]["clientAuxiliaryList"][0]["filedCode"], "0005");
        assert!(lines[0]["clientAuxiliaryList"][0]["valueCode"].as_str().unwrap().starts_with('C'),
                "the customer by its code in the book: {body}");
        let k = step(&run, "k");
        assert_eq!(k["output"]["number"], "记-1");
        assert_eq!(k["output"]["id"], "1674770115738400001");
        assert_eq!(k["output"]["existing"], false);
        assert_eq!(k["output"]["already_pushed"], false);
        assert_eq!(note_of(&app, &order).await, "记-1", "the number written back by the next step");
        assert!(!run.to_string().contains(APP_SECRET), "the journal shows no secret: {run}");
        assert!(!run.to_string().contains("tk1"), "nor the token: {run}");
        assert_eq!(fake.state.lock().unwrap().bad_signatures, 0);
        // The next order reuses the node's token.
        paid_order(&app, "乙公司", "226.00").await;
        newest_in(&app, 2, "succeeded").await;
        assert_eq!(fake.vouchers().len(), 2);
        assert_eq!(fake.token_requests(), 1);
        // YonSuite drops its tokens: the next push gets a new one, once, in the same attempt.
        fake.expire_tokens();
        let third = paid_order(&app, "丙公司", "339.00").await;
        let run = newest_in(&app, 3, "succeeded").await;
        assert_eq!(fake.token_requests(), 2, "one new token");
        assert_eq!(step(&run, "k")["attempts"], 1);
        assert_eq!(note_of(&app, &third).await, "记-3");
        app
    }

    async fn a_yonsuite_save_whose_answer_is_lost_is_sent_again_with_its_key_and_saved_once(app) {
        let fake = yonsuite(&app, json!({})).await;
        fake.script([Script::Drop]);
        import(&app, shop(ys_step(json!({})))).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let run_id = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        let waiting = step_in(&app, &run_id, "k", "retry_wait").await;
        assert!(waiting["error"]["message"].as_str().unwrap().contains("resubmitCheckKey"), "{waiting}");
        assert_eq!(fake.vouchers().len(), 1, "YonSuite saved it; Tenon does not know");
        app.clock.advance(chrono::TimeDelta::seconds(40));
        let done = run_in(&app, &run_id, "succeeded").await;
        let k = step(&done, "k");
        assert_eq!(k["attempts"], 2);
        assert_eq!(k["output"]["existing"], true, "YonSuite answered the repeat: {done}");
        assert_eq!(k["output"]["number"], Value::Null, "a repeat's answer carries no number");
        assert_eq!(fake.vouchers().len(), 1, "exactly one voucher in YonSuite");
        assert_eq!(fake.saves(), 2);
        assert_eq!(note_of(&app, &order).await, Value::Null);
        app
    }

    async fn a_yonsuite_push_cut_short_by_a_lost_claim_is_sent_again_not_left_to_a_person(app) {
        let fake = yonsuite(&app, json!({})).await;
        let hold = Arc::new(tokio::sync::Notify::new());
        fake.script([Script::Hold(hold.clone())]);
        import(&app, shop(ys_step(json!({"timeout": "30s"})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        for _ in 0..300 {
            if !fake.vouchers().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(fake.vouchers().len(), 1, "YonSuite saved it and holds the answer");
        // The worker's lease runs out and another claims the run: the step is `running`, its answer
        // unknown. U8 would wait for a person; YonSuite keeps the key, so the push is sent again.
        app.clock.advance(chrono::TimeDelta::minutes(2));
        let run_id = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        let done = run_in(&app, &run_id, "succeeded").await;
        assert_eq!(step(&done, "k")["output"]["existing"], true, "{done}");
        hold.notify_waiters();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(fake.vouchers().len(), 1, "exactly one voucher");
        assert_eq!(fake.saves(), 2);
        app
    }

    async fn a_dimension_without_an_auxiliary_code_fails_the_step_naming_the_setting(app) {
        let fake = yonsuite(&app, json!({"auxiliary": {}})).await;
        import(&app, shop(ys_step(json!({})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        let failed = newest_in(&app, 1, "failed").await;
        let k = step(&failed, "k");
        let message = k["error"]["message"].as_str().unwrap();
        assert!(message.contains("config.auxiliary.customer"), "{k}");
        assert_eq!(k["attempts"], 1, "not retried: the connection lacks a setting");
        assert_eq!((fake.token_requests(), fake.saves()), (0, 0), "nothing was sent");
        app
    }

    async fn bad_yonsuite_connections_are_refused_with_their_paths(app) {
        let reply = app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "ys", "name": "YS", "kind": "yonsuite",
                   "config": {"base_url": "ftp://x", "token_url": "x", "voucher_types": {"记账": "1"},
                              "auxiliary": {"customer": ""}},
                   "secrets": {}}))
            .await;
        let body = reply.expect(StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields: Vec<String> = body["error"]["details"].as_array().unwrap().iter()
            .map(|d| d["field"].as_str().unwrap().to_owned())
            .collect();
        fields.sort();
        assert_eq!(fields, ["config.app_key", "config.auxiliary.customer", "config.base_url",
                            "config.token_url", "config.voucher_types.记账", "secrets.app_secret"], "{body}");
        // A kingdee_voucher step cannot use it, a yonyou_voucher step can.
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "ys", "name": "YS", "kind": "yonsuite",
                   "config": {"base_url": "https://c2.yonyoucloud.com/iuap-api-gateway", "app_key": APP_KEY},
                   "secrets": {"app_secret": APP_SECRET}}))
            .await
            .expect(StatusCode::CREATED);
        let wrong = json!({"key": "k", "type": "kingdee_voucher", "connection": "ys",
                           "voucher": "{steps.sync.output.voucher_id}"});
        let refused = import(&app, shop(wrong)).await;
        let refused = refused.expect(StatusCode::UNPROCESSABLE_ENTITY).to_string();
        assert!(refused.contains("flows[0].steps[1].connection"), "{refused}");
        import(&app, shop(ys_step(json!({})))).await.expect(StatusCode::CREATED);
        app
    }
}
