//! In-test fakes of Kingdee K/3 Cloud's WebAPI and Yonyou U8's EAI (axum on 127.0.0.1:0), scripted per
//! request: answers, statuses, refusals, a save whose connection breaks before the answer, a slow
//! save, lost sessions.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const SERVICES: &str = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub";

/// What the next Save (or U8 post) does.
#[derive(Debug, Clone)]
pub enum Script {
    /// Answers this HTTP status, saves nothing.
    Status(u16),
    /// Answers 429 with this `Retry-After`, saves nothing.
    Limit(String),
    /// Refuses (Kingdee MsgCode 11, U8 succeed="1").
    Refuse(&'static str),
    /// Saves, then the connection breaks before the answer is read.
    Drop,
    /// Saves, then answers after this long.
    Slow(Duration),
    /// Saves, then answers when the test says so.
    Hold(Arc<tokio::sync::Notify>),
}

/// A voucher the fake Kingdee saved.
#[derive(Debug, Clone)]
pub struct Saved {
    pub id: u64,
    pub number: String,
    pub key: String,
    pub model: Value,
}

#[derive(Default)]
pub struct KingdeeState {
    pub sessions: HashSet<String>,
    pub logins: Vec<Value>,
    pub queries: usize,
    pub saves: usize,
    pub vouchers: Vec<Saved>,
    pub script: VecDeque<Script>,
}

pub struct FakeKingdee {
    pub base: String,
    pub state: Arc<Mutex<KingdeeState>>,
}

fn broken() -> Response {
    // Headers may go out; the body never completes: the client sees the connection break.
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("dropped"))
    });
    (StatusCode::OK, Body::from_stream(stream)).into_response()
}

fn limited(after: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", after.to_owned())],
        "slow down",
    )
        .into_response()
}

fn session_of(headers: &HeaderMap) -> String {
    headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .find_map(|p| p.trim().strip_prefix("kdservice-sessionid="))
        })
        .unwrap_or("")
        .to_owned()
}

fn lost() -> Value {
    json!({"Result": {"ResponseStatus": {"ErrorCode": 500, "IsSuccess": false, "MsgCode": 1,
        "Errors": [{"FieldName": null, "Message": "会话信息已丢失，请重新登录", "DIndex": 0}]}}})
}

impl FakeKingdee {
    pub async fn start() -> FakeKingdee {
        let state: Arc<Mutex<KingdeeState>> = Arc::default();
        let (login_state, query_state, save_state) = (state.clone(), state.clone(), state.clone());
        let router = axum::Router::new()
            .route(
                &format!("{SERVICES}.AuthService.ValidateUser.common.kdsvc"),
                axum::routing::post(move |body: Bytes| {
                    let state = login_state.clone();
                    async move {
                        let login: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let mut state = state.lock().unwrap();
                        state.logins.push(login.clone());
                        if login["acctID"] != "A1" || login["username"] != "api" || login["password"] != "k-pass" {
                            return axum::Json(json!({"LoginResultType": 0, "Message": "用户名或密码错误"}));
                        }
                        let session = format!("s{}", state.logins.len());
                        state.sessions.insert(session.clone());
                        axum::Json(json!({"LoginResultType": 1, "KDSVCSessionId": session, "Message": null}))
                    }
                }),
            )
            .route(
                &format!("{SERVICES}.DynamicFormService.ExecuteBillQuery.common.kdsvc"),
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let state = query_state.clone();
                    async move {
                        let query: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let mut state = state.lock().unwrap();
                        state.queries += 1;
                        if !state.sessions.contains(&session_of(&headers)) {
                            return axum::Json(json!([[lost()]]));
                        }
                        assert_eq!(query["data"]["FormId"], "GL_VOUCHER");
                        let filter = query["data"]["FilterString"].as_str().unwrap_or("");
                        let key = filter
                            .strip_prefix("F_TENON_KEY = '")
                            .and_then(|k| k.strip_suffix('\''))
                            .unwrap_or("?");
                        let rows: Vec<Value> = state
                            .vouchers
                            .iter()
                            .filter(|v| v.key == key)
                            .map(|v| json!([v.id, v.number]))
                            .collect();
                        axum::Json(Value::Array(rows))
                    }
                }),
            )
            .route(
                &format!("{SERVICES}.DynamicFormService.Save.common.kdsvc"),
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let state = save_state.clone();
                    async move {
                        let save: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let (script, saved) = {
                            let mut state = state.lock().unwrap();
                            state.saves += 1;
                            if !state.sessions.contains(&session_of(&headers)) {
                                return axum::Json(lost()).into_response();
                            }
                            assert_eq!(save["formid"], "GL_VOUCHER");
                            let script = state.script.pop_front();
                            let saves = !matches!(script, Some(Script::Status(_) | Script::Refuse(_) | Script::Limit(_)));
                            let saved = saves.then(|| {
                                let model = save["data"]["Model"].clone();
                                let id = 100_000 + state.vouchers.len() as u64 + 1;
                                let saved = Saved {
                                    id,
                                    number: format!("{}", state.vouchers.len() + 1),
                                    key: model["F_TENON_KEY"].as_str().unwrap_or("").to_owned(),
                                    model,
                                };
                                state.vouchers.push(saved.clone());
                                saved
                            });
                            (script, saved)
                        };
                        match (script, saved) {
                            (Some(Script::Status(code)), _) => {
                                (StatusCode::from_u16(code).unwrap(), "busy").into_response()
                            }
                            (Some(Script::Limit(after)), _) => limited(&after),
                            (Some(Script::Refuse(message)), _) => axum::Json(json!({"Result": {"ResponseStatus": {
                                "IsSuccess": false, "MsgCode": 11, "Errors": [{"Message": message}]}}}))
                            .into_response(),
                            (Some(Script::Drop), _) => broken(),
                            (script, Some(saved)) => {
                                match script {
                                    Some(Script::Slow(wait)) => tokio::time::sleep(wait).await,
                                    Some(Script::Hold(hold)) => hold.notified().await,
                                    _ => {}
                                }
                                axum::Json(json!({"Result": {"ResponseStatus": {"IsSuccess": true, "MsgCode": 0,
                                    "Errors": [], "SuccessEntitys": [{"Id": saved.id, "Number": format!("V{}", saved.id), "DIndex": 0}]},
                                    "Id": saved.id, "Number": format!("V{}", saved.id),
                                    "NeedReturnData": [{"FVOUCHERID": saved.id, "FVOUCHERGROUPNO": saved.number}]}}))
                                .into_response()
                            }
                            (_, None) => unreachable!("every other script saves"),
                        }
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/k3cloud", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeKingdee { base, state }
    }

    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.state.lock().unwrap().script.extend(steps);
    }

    /// Kingdee forgets every session (they expired).
    pub fn expire_sessions(&self) {
        self.state.lock().unwrap().sessions.clear();
    }

    pub fn vouchers(&self) -> Vec<Saved> {
        self.state.lock().unwrap().vouchers.clone()
    }

    pub fn logins(&self) -> usize {
        self.state.lock().unwrap().logins.len()
    }

    pub fn saves(&self) -> usize {
        self.state.lock().unwrap().saves
    }

    /// Every request: logins, queries and saves.
    pub fn calls(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.logins.len() + state.queries + state.saves
    }
}

#[derive(Default)]
pub struct U8State {
    /// The EAI documents received.
    pub documents: Vec<String>,
    /// Requests received, refused ones included.
    pub posts: usize,
    pub script: VecDeque<Script>,
}

pub struct FakeU8 {
    pub base: String,
    pub state: Arc<Mutex<U8State>>,
}

impl FakeU8 {
    pub async fn start() -> FakeU8 {
        let state: Arc<Mutex<U8State>> = Arc::default();
        let shared = state.clone();
        let router = axum::Router::new().route(
            "/U8EAI/import.asp",
            axum::routing::post(move |body: Bytes| {
                let state = shared.clone();
                async move {
                    let (script, count) = {
                        let mut state = state.lock().unwrap();
                        let script = state.script.pop_front();
                        state.posts += 1;
                        if !matches!(script, Some(Script::Status(_) | Script::Limit(_))) {
                            state.documents.push(String::from_utf8_lossy(&body).into_owned());
                        }
                        (script, state.documents.len())
                    };
                    let answer = |succeed: &str, dsc: &str, key: &str| {
                        format!(r#"<?xml version="1.0" encoding="utf-8"?><ufinterface roottag="SendResult" proc="add"><item key="1" succeed="{succeed}" dsc="{dsc}" u8key="{key}" proc="add"/></ufinterface>"#)
                    };
                    match script {
                        Some(Script::Status(code)) => (StatusCode::from_u16(code).unwrap(), "busy").into_response(),
                        Some(Script::Limit(after)) => limited(&after),
                        Some(Script::Refuse(message)) => answer("1", message, "").into_response(),
                        Some(Script::Drop) => broken(),
                        other => {
                            match other {
                                Some(Script::Slow(wait)) => tokio::time::sleep(wait).await,
                                Some(Script::Hold(hold)) => hold.notified().await,
                                _ => {}
                            }
                            answer("0", "凭证导入成功", &format!("记-{count:04}")).into_response()
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeU8 { base, state }
    }

    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.state.lock().unwrap().script.extend(steps);
    }

    pub fn documents(&self) -> Vec<String> {
        self.state.lock().unwrap().documents.clone()
    }

    pub fn posts(&self) -> usize {
        self.state.lock().unwrap().posts
    }
}
