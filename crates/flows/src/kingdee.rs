//! Kingdee K/3 Cloud (金蝶云星空) WebAPI, the protocol of the `kingdee_voucher` step, without I/O: the
//! request bodies and what the answers mean. The worker (`tenon-connect`) holds the conversation.
//!
//! - Login: `POST <base_url>/Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc`
//!   `{"acctID", "username", "password", "lcid"}` (or `…AuthService.LoginByAppSecret.common.kdsvc`
//!   `{"acctID", "username", "appId", "appSecret", "lcid"}` with an app secret); `LoginResultType` 1 is a
//!   login, and `KDSVCSessionId` the session, sent after as the cookie `kdservice-sessionid`. A node keeps
//!   its sessions in memory and logs in again, once per push, when Kingdee says the session is gone
//!   (`MsgCode` 1).
//! - Query: `POST <base_url>/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc`
//!   `{"data": {"FormId": "GL_VOUCHER", "FieldKeys": "FVOUCHERID,FVOUCHERGROUPNO", "FilterString":
//!   "<key_field> = '<key>'", …}}`: rows `[[id, number]]`, none when no voucher has the key.
//! - Save: `POST <base_url>/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc`
//!   `{"formid": "GL_VOUCHER", "data": {"NeedReturnFields": ["FVOUCHERID", "FVOUCHERGROUPNO"], "Model":
//!   {…, "<key_field>": "<key>"}}}`: `Result.ResponseStatus.IsSuccess`, `Result.Id`, and the number in
//!   `Result.NeedReturnData[0].FVOUCHERGROUPNO` (else `Result.Number`).
//!
//! Tenon's key is `tenon:<voucher id>`, kept in a text field of `GL_VOUCHER` the Kingdee administrator
//! adds (`key_field`, default `F_TENON_KEY`): one Tenon voucher is one Kingdee voucher, however many
//! times and by however many runs it is pushed.

use serde_json::{Value, json};

use crate::retry::Failure;

/// Where the WebAPI's services are, under a connection's `base_url` (`https://erp.example/k3cloud`).
pub const LOGIN_PATH: &str =
    "Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc";
pub const LOGIN_APP_SECRET_PATH: &str =
    "Kingdee.BOS.WebApi.ServicesStub.AuthService.LoginByAppSecret.common.kdsvc";
pub const SAVE_PATH: &str = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc";
pub const QUERY_PATH: &str =
    "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc";
/// The cookie a session travels in.
pub const SESSION_COOKIE: &str = "kdservice-sessionid";
/// The voucher form.
pub const FORM_ID: &str = "GL_VOUCHER";
/// The `GL_VOUCHER` field that keeps Tenon's key, unless a connection names another.
pub const KEY_FIELD_DEFAULT: &str = "F_TENON_KEY";
/// Simplified Chinese.
pub const LCID_DEFAULT: u64 = 2052;
/// Kingdee's `MsgCode`s Tenon acts on: the session is gone; network control conflict (网控冲突); the
/// call limit (调用限制).
pub const MSG_SESSION_LOST: i64 = 1;
pub const MSG_NETWORK_CONTROL: i64 = 13;
pub const MSG_CALL_LIMIT: i64 = 14;

/// Tenon's key of a voucher.
pub fn voucher_key(voucher_id: &str) -> String {
    format!("tenon:{voucher_id}")
}

/// The service URL `path` under `base_url`.
pub fn url(base_url: &str, path: &str) -> String {
    format!("{}/{path}", base_url.trim_end_matches('/'))
}

/// How a connection logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    Password(String),
    AppSecret { app_id: String, app_secret: String },
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Login::Password(_) => "Password(…)",
            Login::AppSecret { .. } => "AppSecret(…)",
        })
    }
}

/// A push: where, who, the Save model and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub base_url: String,
    pub acct_id: String,
    pub username: String,
    pub login: Login,
    pub lcid: u64,
    pub key_field: String,
    /// Tenon's key (`tenon:<voucher id>`).
    pub key: String,
    /// The Tenon voucher's id.
    pub voucher_id: String,
    /// The ledger's `GL_VOUCHER` Save model, without the key.
    pub model: Value,
}

impl Push {
    /// The login request: its path and body (the body holds the secret: never journaled).
    pub fn login_request(&self) -> (&'static str, String) {
        match &self.login {
            Login::Password(password) => (
                LOGIN_PATH,
                json!({"acctID": self.acct_id, "username": self.username, "password": password,
                       "lcid": self.lcid})
                .to_string(),
            ),
            Login::AppSecret { app_id, app_secret } => (
                LOGIN_APP_SECRET_PATH,
                json!({"acctID": self.acct_id, "username": self.username, "appId": app_id,
                       "appSecret": app_secret, "lcid": self.lcid})
                .to_string(),
            ),
        }
    }

    /// The query for a voucher with Tenon's key.
    pub fn query_body(&self) -> String {
        json!({"data": {
            "FormId": FORM_ID,
            "FieldKeys": "FVOUCHERID,FVOUCHERGROUPNO",
            "FilterString": format!("{} = '{}'", self.key_field, self.key.replace('\'', "''")),
            "OrderString": "",
            "TopRowCount": 0,
            "StartRow": 0,
            "Limit": 2,
        }})
        .to_string()
    }

    /// The Save request's body: the model with Tenon's key.
    pub fn save_body(&self) -> String {
        let mut model = self.model.clone();
        if let Value::Object(map) = &mut model {
            map.insert(self.key_field.clone(), json!(self.key));
        }
        json!({"formid": FORM_ID, "data": {
            "NeedReturnFields": ["FVOUCHERID", "FVOUCHERGROUPNO"],
            "Model": model,
        }})
        .to_string()
    }

    /// The step's output for Kingdee's voucher `id` and `number`; `existing` when the query found it.
    pub fn output(&self, id: &str, number: &str, existing: bool) -> Value {
        json!({"pushed": true, "id": id, "number": number, "voucher_id": self.voucher_id,
               "key": self.key, "existing": existing})
    }
}

/// What a WebAPI answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Logged in: the session.
    Session(String),
    /// Saved or found: Kingdee's voucher id and number.
    Voucher { id: String, number: String },
    /// The query found no voucher with the key.
    Absent,
    /// The session is gone (log in again).
    SessionLost,
    /// Failed: why, and whether trying later may help.
    Failed(Failure, String),
}

fn http_failure(status: u16) -> Answer {
    Answer::Failed(
        Failure::Status {
            code: status,
            retry_after: None,
        },
        format!("Kingdee answered HTTP {status}"),
    )
}

/// A login's answer.
pub fn judge_login(status: u16, body: &str) -> Answer {
    if !(200..300).contains(&status) {
        return http_failure(status);
    }
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let session = answer["KDSVCSessionId"].as_str().unwrap_or_default();
    if answer["LoginResultType"].as_i64() == Some(1) && !session.is_empty() {
        return Answer::Session(session.to_owned());
    }
    let message = answer["Message"].as_str().unwrap_or("no message");
    Answer::Failed(
        Failure::Refused,
        format!(
            "Kingdee refused the login (LoginResultType {}): {message}",
            answer["LoginResultType"]
        ),
    )
}

/// A `ResponseStatus` that is not a success: the session is gone, or a failure.
fn refusal(status: &Value) -> Answer {
    let code = status["MsgCode"].as_i64().unwrap_or(0);
    let messages: Vec<&str> = status["Errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["Message"].as_str())
        .collect();
    let reason = format!("Kingdee MsgCode {code}: {}", messages.join("; "));
    match code {
        MSG_SESSION_LOST => Answer::SessionLost,
        MSG_NETWORK_CONTROL => Answer::Failed(
            Failure::Status {
                code: 503,
                retry_after: None,
            },
            reason,
        ),
        MSG_CALL_LIMIT => Answer::Failed(
            Failure::Status {
                code: 429,
                retry_after: None,
            },
            reason,
        ),
        _ => Answer::Failed(Failure::Refused, reason),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Save's answer.
pub fn judge_save(status: u16, body: &str) -> Answer {
    if !(200..300).contains(&status) {
        return http_failure(status);
    }
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let result = &answer["Result"];
    let response = &result["ResponseStatus"];
    if !response.is_object() {
        return Answer::Failed(
            Failure::Refused,
            "the answer is not Kingdee's {Result: {ResponseStatus}}".to_owned(),
        );
    }
    if response["IsSuccess"].as_bool() != Some(true) {
        return refusal(response);
    }
    let returned = &result["NeedReturnData"][0];
    let id = match &result["Id"] {
        Value::Null => text(&response["SuccessEntitys"][0]["Id"]),
        id => text(id),
    };
    let number = match &returned["FVOUCHERGROUPNO"] {
        Value::Null => text(&result["Number"]),
        number => text(number),
    };
    Answer::Voucher { id, number }
}

/// An `ExecuteBillQuery`'s answer: rows `[[id, number]]`, or an error wrapped as `[[{"Result": …}]]`.
pub fn judge_query(status: u16, body: &str) -> Answer {
    if !(200..300).contains(&status) {
        return http_failure(status);
    }
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let Some(rows) = answer.as_array() else {
        if answer["Result"].is_object() {
            return refusal(&answer["Result"]["ResponseStatus"]);
        }
        return Answer::Failed(
            Failure::Refused,
            "the answer is not ExecuteBillQuery's rows".to_owned(),
        );
    };
    let Some(first) = rows.first() else {
        return Answer::Absent;
    };
    if first[0]["Result"].is_object() {
        return refusal(&first[0]["Result"]["ResponseStatus"]);
    }
    Answer::Voucher {
        id: text(&first[0]),
        number: text(&first[1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push() -> Push {
        Push {
            base_url: "https://erp.example/k3cloud/".into(),
            acct_id: "A1".into(),
            username: "api".into(),
            login: Login::Password("pw".into()),
            lcid: LCID_DEFAULT,
            key_field: KEY_FIELD_DEFAULT.into(),
            key: voucher_key("v1"),
            voucher_id: "v1".into(),
            model: json!({"FDate": "2026-11-20"}),
        }
    }

    #[test]
    fn requests_carry_the_key_and_urls_join() {
        let push = push();
        assert_eq!(
            url(&push.base_url, SAVE_PATH),
            format!("https://erp.example/k3cloud/{SAVE_PATH}")
        );
        let save: Value = serde_json::from_str(&push.save_body()).unwrap();
        assert_eq!(save["formid"], "GL_VOUCHER");
        assert_eq!(save["data"]["Model"]["F_TENON_KEY"], "tenon:v1");
        assert_eq!(save["data"]["Model"]["FDate"], "2026-11-20");
        let query: Value = serde_json::from_str(&push.query_body()).unwrap();
        assert_eq!(query["data"]["FilterString"], "F_TENON_KEY = 'tenon:v1'");
        let (path, body) = push.login_request();
        assert_eq!(path, LOGIN_PATH);
        assert!(body.contains("\"password\":\"pw\""));
        assert_eq!(format!("{:?}", push.login), "Password(…)");
    }

    #[test]
    fn answers_mean_a_voucher_a_lost_session_or_a_failure() {
        assert_eq!(
            judge_login(200, r#"{"LoginResultType":1,"KDSVCSessionId":"s1"}"#),
            Answer::Session("s1".into())
        );
        assert!(matches!(
            judge_login(200, r#"{"LoginResultType":0,"Message":"密码错误"}"#),
            Answer::Failed(Failure::Refused, _)
        ));
        let saved = r#"{"Result":{"ResponseStatus":{"IsSuccess":true,"Errors":[],"SuccessEntitys":[{"Id":100001,"Number":"V1"}],"MsgCode":0},"Id":100001,"Number":"V1","NeedReturnData":[{"FVOUCHERID":100001,"FVOUCHERGROUPNO":"7"}]}}"#;
        assert_eq!(
            judge_save(200, saved),
            Answer::Voucher {
                id: "100001".into(),
                number: "7".into()
            }
        );
        let lost = r#"{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"Message":"会话信息已丢失，请重新登录"}],"MsgCode":1}}}"#;
        assert_eq!(judge_save(200, lost), Answer::SessionLost);
        let refused = r#"{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"Message":"科目不存在"}],"MsgCode":11}}}"#;
        match judge_save(200, refused) {
            Answer::Failed(failure, reason) => {
                assert!(!failure.retries());
                assert!(reason.contains("科目不存在"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(judge_save(503, ""), Answer::Failed(f, _) if f.retries()));
        assert_eq!(judge_query(200, "[]"), Answer::Absent);
        assert_eq!(
            judge_query(200, r#"[[100001,"7"]]"#),
            Answer::Voucher {
                id: "100001".into(),
                number: "7".into()
            }
        );
        assert_eq!(
            judge_query(200, &format!("[[{lost}]]")),
            Answer::SessionLost
        );
    }
}
