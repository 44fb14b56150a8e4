//! YonSuite (用友 YonBIP 公有云) open API, the protocol of the `yonyou_voucher` step over a `yonsuite`
//! connection, without I/O: the token request's signature, the save, and what the answers mean. The
//! worker (`tenon-connect`) holds the conversation; the body is the ledger's
//! (`tenon_ledger::exchange::yonsuite`).
//!
//! - Token: `GET <token_url>/open-auth/selfAppAuth/getAccessToken?appKey=…&timestamp=<ms>&signature=…`,
//!   `signature` = URL-encoded Base64 of HMAC-SHA256(app secret, `appKey<app key>timestamp<ms>`) (the
//!   parameters but the signature, sorted by name, each name followed by its value). The answer
//!   `{"code": "00000", "data": {"access_token", "expire": <seconds>}}`. A node keeps its tokens in
//!   memory until a minute before they expire.
//! - Save: `POST <base_url>/yonbip/fi/ficloud/openapi/voucher/addVoucher?access_token=…`, the body
//!   with `resubmitCheckKey` = the Tenon voucher's id without dashes (32 hex digits). `code` `"200"` is
//!   a saved voucher: `data.voucherId` (or `data.id`) its id, `data.displayName` (`记-5`; else
//!   `billCode`, else `code`) its number.
//!
//! YonSuite keeps the key, so the step is idempotent: a push whose answer was lost is sent again with
//! the same key, and YonSuite either saves it once or answers that it is a repeated submission (codes
//! `10004`/`100004`) — then the step succeeds with `existing: true` and no number (the save answered
//! none). An invalid token (`310036`, or `310001`: none) gets one new token per push; the platform's
//! rate limits (`310032`, `310039`, `310042`, `310046`) are retried like a 429; another code fails the
//! step with YonSuite's message.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::retry::Failure;

/// The token and save paths, under a connection's `token_url` and `base_url`.
pub const TOKEN_PATH: &str = "/open-auth/selfAppAuth/getAccessToken";
pub const SAVE_PATH: &str = "/yonbip/fi/ficloud/openapi/voucher/addVoucher";
/// What YonSuite answers: a token, a saved voucher.
pub const TOKEN_OK: &str = "00000";
pub const SAVE_OK: &str = "200";
/// The token is invalid or missing: get a new one.
pub const TOKEN_INVALID: &[&str] = &["310036", "310001"];
/// The platform's rate limits.
pub const RATE_LIMITED: &[&str] = &["310032", "310039", "310042", "310046"];
/// A repeated submission of the same `resubmitCheckKey` (both spellings of YonSuite's documents).
pub const REPEATED: &[&str] = &["10004", "100004"];
/// The gateway's path segment, replaced by the auth service's when a connection names no `token_url`.
pub const GATEWAY_SEGMENT: &str = "/iuap-api-gateway";
pub const AUTH_SEGMENT: &str = "/iuap-api-auth";

/// A push: where, who, the body and the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Push {
    pub base_url: String,
    pub token_url: String,
    pub app_key: String,
    pub app_secret: String,
    /// YonSuite's `resubmitCheckKey`.
    pub key: String,
    /// The Tenon voucher's id.
    pub voucher_id: String,
    /// The save body (JSON text; holds no secret).
    pub body: String,
}

impl std::fmt::Debug for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Push")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("app_key", &self.app_key)
            .field("app_secret", &"…")
            .field("key", &self.key)
            .field("voucher_id", &self.voucher_id)
            .finish_non_exhaustive()
    }
}

/// YonSuite's `resubmitCheckKey` of a Tenon voucher: its id's 32 hex digits.
pub fn resubmit_key(voucher_id: &str) -> String {
    voucher_id.chars().filter(|c| *c != '-').take(32).collect()
}

/// Where tokens come from when a connection names no `token_url`: the gateway's address with its
/// `/iuap-api-gateway` segment replaced by `/iuap-api-auth` (YonSuite's data centres pair them), else
/// the gateway's address itself.
pub fn default_token_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    match base.strip_suffix(GATEWAY_SEGMENT) {
        Some(host) => format!("{host}{AUTH_SEGMENT}"),
        None => base.to_owned(),
    }
}

/// The token request's `signature`: URL-encoded Base64 of HMAC-SHA256(secret, `appKey<key>timestamp<ms>`).
pub fn signature(app_key: &str, millis: i64, app_secret: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("appKey{app_key}timestamp{millis}").as_bytes());
    let digest = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    crate::sign::encode(&digest)
}

impl Push {
    /// The token request's URL, signed at `millis` (the wall clock: YonSuite compares it with its own).
    pub fn token_request_url(&self, millis: i64) -> String {
        format!(
            "{}{TOKEN_PATH}?appKey={}&timestamp={millis}&signature={}",
            self.token_url.trim_end_matches('/'),
            crate::sign::encode(&self.app_key),
            signature(&self.app_key, millis, &self.app_secret)
        )
    }

    /// The save's URL with `token`.
    pub fn save_url(&self, token: &str) -> String {
        format!(
            "{}{SAVE_PATH}?access_token={}",
            self.base_url.trim_end_matches('/'),
            crate::sign::encode(token)
        )
    }

    /// The step's output.
    pub fn output(&self, id: &str, number: &str, message: &str, existing: bool) -> Value {
        json!({
            "pushed": true,
            "id": (!id.is_empty()).then_some(id),
            "number": (!number.is_empty()).then_some(number),
            "message": message,
            "voucher_id": self.voucher_id,
            "key": self.key,
            "existing": existing,
        })
    }
}

/// What an answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A token, valid for this many seconds.
    Token {
        token: String,
        expires_in: i64,
    },
    /// The voucher is saved: YonSuite's id and number, and its message.
    Saved {
        id: String,
        number: String,
        message: String,
    },
    /// Saved before with the same key.
    Repeated(String),
    /// The token is no longer valid.
    TokenInvalid,
    Failed(Failure, String),
}

fn code_and_message(body: &Value) -> (String, String) {
    let code = match &body["code"] {
        Value::String(code) => code.clone(),
        Value::Number(code) => code.to_string(),
        _ => String::new(),
    };
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    (code, message)
}

fn parsed(status: u16, body: &str) -> Result<Value, Answer> {
    if !(200..300).contains(&status) {
        return Err(Answer::Failed(
            Failure::Status {
                code: status,
                retry_after: None,
            },
            format!("YonSuite answered HTTP {status}"),
        ));
    }
    match serde_json::from_str::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        // The gateway answers some refusals (an invalid token on a few services) in plain text.
        _ if body.contains("非法token") => Err(Answer::TokenInvalid),
        _ => Err(Answer::Failed(
            Failure::Refused,
            format!(
                "YonSuite's answer is not JSON: {}",
                body.chars().take(200).collect::<String>()
            ),
        )),
    }
}

fn platform(code: &str, message: &str, what: &str) -> Answer {
    if TOKEN_INVALID.contains(&code) {
        Answer::TokenInvalid
    } else if RATE_LIMITED.contains(&code) {
        Answer::Failed(
            Failure::Status {
                code: 429,
                retry_after: None,
            },
            format!("YonSuite's rate limit ({code}): {message}"),
        )
    } else {
        Answer::Failed(
            Failure::Refused,
            format!("YonSuite refused the {what} ({code}): {message}"),
        )
    }
}

/// The token answer.
pub fn judge_token(status: u16, body: &str) -> Answer {
    let value = match parsed(status, body) {
        Ok(value) => value,
        Err(answer) => return answer,
    };
    let (code, message) = code_and_message(&value);
    match value["data"]["access_token"].as_str() {
        Some(token) if code == TOKEN_OK && !token.is_empty() => Answer::Token {
            token: token.to_owned(),
            expires_in: value["data"]["expire"].as_i64().unwrap_or(7200),
        },
        // A refused token request is the connection's app key or secret: retrying changes nothing.
        _ if RATE_LIMITED.contains(&code.as_str()) => platform(&code, &message, "token request"),
        _ => Answer::Failed(
            Failure::Refused,
            format!("YonSuite gave no token ({code}): {message}"),
        ),
    }
}

/// The save answer.
pub fn judge_save(status: u16, body: &str) -> Answer {
    let value = match parsed(status, body) {
        Ok(value) => value,
        Err(answer) => return answer,
    };
    let (code, message) = code_and_message(&value);
    if code == SAVE_OK {
        let data = &value["data"];
        let text = |key: &str| match &data[key] {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        };
        let id = [text("voucherId"), text("id")]
            .into_iter()
            .find(|t| !t.is_empty())
            .unwrap_or_default();
        let number = [text("displayName"), text("billCode"), text("code")]
            .into_iter()
            .find(|t| !t.is_empty())
            .unwrap_or_default();
        return Answer::Saved {
            id,
            number,
            message,
        };
    }
    if REPEATED.contains(&code.as_str()) {
        return Answer::Repeated(message);
    }
    platform(&code, &message, "voucher")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push() -> Push {
        Push {
            base_url: "https://c2.yonyoucloud.com/iuap-api-gateway".into(),
            token_url: default_token_url("https://c2.yonyoucloud.com/iuap-api-gateway/"),
            app_key: "41832a3d2df94989b500da6a22268747".into(),
            app_secret: "S3CRET".into(),
            key: resubmit_key("0190f3c2-7a1b-7c3d-8e4f-a0b1c2d3e4f5"),
            voucher_id: "0190f3c2-7a1b-7c3d-8e4f-a0b1c2d3e4f5".into(),
            body: "{}".into(),
        }
    }

    #[test]
    fn the_token_request_is_signed_as_yonsuite_documents() {
        // Computed independently: python3 -c "import hmac,hashlib,base64,urllib.parse;
        // print(urllib.parse.quote(base64.b64encode(hmac.new(b'S3CRET',
        // b'appKey41832a3d2df94989b500da6a22268747timestamp1568098531823', hashlib.sha256).digest()), safe=''))"
        // (the documented example's app key and timestamp, with a secret of our own).
        assert_eq!(
            signature(
                "41832a3d2df94989b500da6a22268747",
                1_568_098_531_823,
                "S3CRET"
            ),
            SIGNATURE
        );
        let push = push();
        assert_eq!(push.token_url, "https://c2.yonyoucloud.com/iuap-api-auth");
        assert_eq!(
            push.token_request_url(1_568_098_531_823),
            format!(
                "https://c2.yonyoucloud.com/iuap-api-auth/open-auth/selfAppAuth/getAccessToken?appKey=41832a3d2df94989b500da6a22268747&timestamp=1568098531823&signature={SIGNATURE}"
            )
        );
        assert_eq!(
            push.save_url("a+b/c="),
            "https://c2.yonyoucloud.com/iuap-api-gateway/yonbip/fi/ficloud/openapi/voucher/addVoucher?access_token=a%2Bb%2Fc%3D"
        );
        assert_eq!(push.key, "0190f3c27a1b7c3d8e4fa0b1c2d3e4f5");
        assert_eq!(
            default_token_url("http://127.0.0.1:9"),
            "http://127.0.0.1:9"
        );
        assert!(!format!("{push:?}").contains("S3CRET"));
    }

    const SIGNATURE: &str = "0jvuABoyaxXn0aoV7lQ%2BcuFcR2ly1xq5afJJf6uuAQ8%3D";

    #[test]
    fn answers_mean_a_token_a_voucher_a_repeat_or_a_failure() {
        assert_eq!(
            judge_token(
                200,
                r#"{"code":"00000","message":"成功！","data":{"access_token":"t1","expire":7200}}"#
            ),
            Answer::Token {
                token: "t1".into(),
                expires_in: 7200
            }
        );
        let refused = judge_token(
            200,
            r#"{"code":"10018","message":"应用不存在或appKey已停用"}"#,
        );
        assert!(
            matches!(refused, Answer::Failed(ref f, ref m) if !f.retries() && m.contains("10018"))
        );
        assert_eq!(
            judge_save(
                200,
                r#"{"code":"200","message":"操作成功","data":{"voucherId":"1674770115738468360","displayName":"记-5","billCode":5}}"#
            ),
            Answer::Saved {
                id: "1674770115738468360".into(),
                number: "记-5".into(),
                message: "操作成功".into()
            }
        );
        assert_eq!(
            judge_save(200, r#"{"code":200,"data":{"id":"9","billCode":7}}"#),
            Answer::Saved {
                id: "9".into(),
                number: "7".into(),
                message: String::new()
            }
        );
        assert_eq!(
            judge_save(200, r#"{"code":"310036","message":"非法token"}"#),
            Answer::TokenInvalid
        );
        assert_eq!(judge_save(200, "非法token"), Answer::TokenInvalid);
        assert_eq!(
            judge_save(200, r#"{"code":"100004","message":"重复提交"}"#),
            Answer::Repeated("重复提交".into())
        );
        assert!(matches!(
            judge_save(200, r#"{"code":"310042","message":"调用频率超限"}"#),
            Answer::Failed(ref f, _) if f.retries()
        ));
        assert!(matches!(
            judge_save(200, r#"{"code":"999","message":"科目 9999 不存在"}"#),
            Answer::Failed(ref f, ref m) if !f.retries() && m.contains("科目 9999 不存在")
        ));
        assert!(matches!(judge_save(503, ""), Answer::Failed(ref f, _) if f.retries()));
    }
}
