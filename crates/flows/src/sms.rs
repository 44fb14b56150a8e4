//! The `sms` step: a templated text message through Aliyun (阿里云短信, ACS3-HMAC-SHA256) or Tencent
//! Cloud (腾讯云短信, TC3-HMAC-SHA256), without I/O.
//!
//! ```yaml
//! - {key: code, type: sms, connection: aliyun, phones: '{trigger.fields.phone}', template: SMS_154950909,
//!    params: {code: '{trigger.fields.code}'}}
//! - {key: tell, type: sms, connection: tencent, phones: '{trigger.fields.phone}', template: '1234567',
//!    params: ['{trigger.fields.customer}', '"3"']}
//! ```
//!
//! `phones` is a formula giving phone numbers (one, a list, or text separated by commas); `params` are
//! formulas: named for Aliyun (`TemplateParam`), in order for Tencent (`TemplateParamSet`). The
//! connection (kind `aliyun_sms` or `tencent_sms`) keeps the access key pair and the sign name; the worker
//! signs each request at send time ([`crate::sign`]). A message is not idempotent: a send whose answer was
//! lost becomes `unknown_outcome`. Throttling (Aliyun `Throttling*`, `isv.BUSINESS_LIMIT_CONTROL`;
//! Tencent `RequestLimitExceeded*`, a number's 30-second or hourly limit) and vendor 5xx are retried; any
//! other refusal fails the step with the vendor's code.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use crate::retry::Failure;
use crate::sign::canonical_query;

/// Most phone numbers one step sends to (Tencent takes 200 a request).
pub const PHONES_MAX: usize = 200;
/// Where the vendors' SMS APIs are, unless a connection says otherwise.
pub const ALIYUN_BASE_URL: &str = "https://dysmsapi.aliyuncs.com";
pub const TENCENT_BASE_URL: &str = "https://sms.tencentcloudapi.com";
/// Tencent's region when a connection names none.
pub const TENCENT_REGION: &str = "ap-guangzhou";
pub const ALIYUN_ACTION: &str = "SendSms";
pub const ALIYUN_VERSION: &str = "2017-05-25";
pub const TENCENT_VERSION: &str = "2021-01-11";

/// The step as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsStep {
    pub key: String,
    pub connection: String,
    /// A formula giving phone numbers.
    pub phones: String,
    /// Aliyun's template code (`SMS_…`) or Tencent's template id.
    pub template: String,
    /// Overrides the connection's sign name (签名).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ParamsDefinition>,
}

/// Template parameters as written: by name (Aliyun) or in order (Tencent); values are formulas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamsDefinition {
    Ordered(Vec<Value>),
    Named(BTreeMap<String, Value>),
}

/// Template parameters: stored formulas (compiled) or their values (rendered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Params {
    Named(Vec<(String, String)>),
    Ordered(Vec<String>),
}

/// The compiled step a version keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsSpec {
    pub connection: String,
    /// Stored formula.
    pub phones: String,
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_name: Option<String>,
    pub params: Params,
}

/// Which vendor a connection's kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Aliyun,
    Tencent,
}

impl Vendor {
    pub fn of_kind(kind: &str) -> Option<Vendor> {
        match kind {
            "aliyun_sms" => Some(Vendor::Aliyun),
            "tencent_sms" => Some(Vendor::Tencent),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Vendor::Aliyun => "Aliyun SMS",
            Vendor::Tencent => "Tencent SMS",
        }
    }
}

/// A message rendered from a run: numbers, template, sign name and parameter values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    pub phones: Vec<String>,
    pub template: String,
    pub sign_name: String,
    pub params: Params,
}

/// An unsigned vendor request: the worker adds the signature at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Phone numbers from a formula's value: the texts of a list, or text split at commas and semicolons.
pub fn phones_of(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text
            .split([',', ';', '，'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Array(items) => items.iter().flat_map(phones_of).collect(),
        _ => Vec::new(),
    }
}

/// Checks a rendered message: some numbers, at most [`PHONES_MAX`], each looking like one.
pub fn check_message(message: &SmsMessage) -> Result<(), String> {
    if message.phones.is_empty() {
        return Err("phones: the formula gives no phone number".to_owned());
    }
    if message.phones.len() > PHONES_MAX {
        return Err(format!(
            "phones: {} numbers; a step sends to at most {PHONES_MAX}",
            message.phones.len()
        ));
    }
    for phone in &message.phones {
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("phones: \"{phone}\" is not a phone number"));
        }
    }
    if message.sign_name.trim().is_empty() {
        return Err(
            "sign_name: neither the step nor the connection gives a sign name (签名)".to_owned(),
        );
    }
    Ok(())
}

/// Aliyun `SendSms` (RPC style: parameters in the query, an empty body), `OutId` the step's key.
pub fn aliyun_request(base_url: &str, message: &SmsMessage, out_id: &str) -> SmsRequest {
    let mut pairs = vec![
        ("PhoneNumbers".to_owned(), message.phones.join(",")),
        ("SignName".to_owned(), message.sign_name.clone()),
        ("TemplateCode".to_owned(), message.template.clone()),
        ("OutId".to_owned(), out_id.to_owned()),
    ];
    let named: Map<String, Value> = match &message.params {
        Params::Named(named) => named.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
        Params::Ordered(values) => values
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + 1).to_string(), json!(v)))
            .collect(),
    };
    if !named.is_empty() {
        pairs.push(("TemplateParam".to_owned(), Value::Object(named).to_string()));
    }
    SmsRequest {
        url: format!(
            "{}/?{}",
            base_url.trim_end_matches('/'),
            canonical_query(&pairs)
        ),
        headers: Vec::new(),
        body: None,
    }
}

/// Tencent `SendSms` (a JSON `POST /`), `SessionContext` the step's key.
pub fn tencent_request(
    base_url: &str,
    region: &str,
    sdk_app_id: &str,
    message: &SmsMessage,
    session: &str,
) -> SmsRequest {
    let params: Vec<String> = match &message.params {
        Params::Ordered(values) => values.clone(),
        Params::Named(named) => named.iter().map(|(_, v)| v.clone()).collect(),
    };
    let body = json!({
        "PhoneNumberSet": message.phones,
        "SmsSdkAppId": sdk_app_id,
        "SignName": message.sign_name,
        "TemplateId": message.template,
        "TemplateParamSet": params,
        "SessionContext": session,
    });
    SmsRequest {
        url: format!("{}/", base_url.trim_end_matches('/')),
        headers: vec![
            (
                "Content-Type".to_owned(),
                crate::sign::TC3_CONTENT_TYPE.to_owned(),
            ),
            ("X-TC-Action".to_owned(), "SendSms".to_owned()),
            ("X-TC-Version".to_owned(), TENCENT_VERSION.to_owned()),
            ("X-TC-Region".to_owned(), region.to_owned()),
        ],
        body: Some(body.to_string()),
    }
}

fn throttled() -> Failure {
    Failure::Status {
        code: 429,
        retry_after: None,
    }
}

/// What the vendor's answer means: the step's output, or why it failed (and whether that retries).
pub fn judge(vendor: Vendor, status: u16, body: &str) -> Result<Value, (Failure, String)> {
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let server = |status: u16| {
        (
            Failure::Status {
                code: status,
                retry_after: None,
            },
            format!("{}: HTTP {status}", vendor.name()),
        )
    };
    match vendor {
        Vendor::Aliyun => {
            let Some(code) = answer.get("Code").and_then(Value::as_str) else {
                return Err(if status >= 500 || status == 429 {
                    server(status)
                } else {
                    (
                        Failure::Refused,
                        format!("{}: HTTP {status}, not its answer", vendor.name()),
                    )
                });
            };
            let message = text(&answer["Message"]);
            if code == "OK" && (200..300).contains(&status) {
                return Ok(json!({
                    "code": code,
                    "biz_id": answer["BizId"],
                    "request_id": answer["RequestId"],
                }));
            }
            let reason = format!("{} {code}: {message}", vendor.name());
            if code.starts_with("Throttling") || code == "isv.BUSINESS_LIMIT_CONTROL" {
                Err((throttled(), reason))
            } else if status >= 500 || code == "ServiceUnavailable" || code == "InternalError" {
                Err((
                    Failure::Status {
                        code: status.max(500),
                        retry_after: None,
                    },
                    reason,
                ))
            } else {
                Err((Failure::Refused, reason))
            }
        }
        Vendor::Tencent => {
            if status >= 500 || status == 429 {
                return Err(server(status));
            }
            let response = &answer["Response"];
            if let Some(error) = response.get("Error") {
                let code = text(&error["Code"]);
                let reason = format!("{} {code}: {}", vendor.name(), text(&error["Message"]));
                return Err(if code.starts_with("RequestLimitExceeded") {
                    (throttled(), reason)
                } else if code.starts_with("InternalError") {
                    (
                        Failure::Status {
                            code: 503,
                            retry_after: None,
                        },
                        reason,
                    )
                } else {
                    (Failure::Refused, reason)
                });
            }
            let Some(sent) = response.get("SendStatusSet").and_then(Value::as_array) else {
                return Err((
                    Failure::Refused,
                    format!("{}: HTTP {status}, not its answer", vendor.name()),
                ));
            };
            let refused: Vec<&Value> = sent.iter().filter(|s| s["Code"] != "Ok").collect();
            if refused.is_empty() {
                return Ok(json!({
                    "request_id": response["RequestId"],
                    "sent": sent.iter().map(|s| json!({"phone": s["PhoneNumber"], "serial_no": s["SerialNo"]})).collect::<Vec<_>>(),
                }));
            }
            let reason = format!(
                "{}: {}",
                vendor.name(),
                refused
                    .iter()
                    .map(|s| format!(
                        "{} {}: {}",
                        text(&s["PhoneNumber"]),
                        text(&s["Code"]),
                        text(&s["Message"])
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            // Only when nothing was sent is a number's rate limit worth waiting out: a retry sends to all.
            let limited = refused.len() == sent.len()
                && refused.iter().all(|s| {
                    let code = text(&s["Code"]);
                    code.starts_with("LimitExceeded.PhoneNumberThirtySecondLimit")
                        || code.starts_with("LimitExceeded.PhoneNumberOneHourLimit")
                });
            Err(if limited {
                (throttled(), reason)
            } else {
                (Failure::Refused, reason)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> SmsMessage {
        SmsMessage {
            phones: vec!["13800000000".into(), "+8613900000000".into()],
            template: "SMS_1".into(),
            sign_name: "天工".into(),
            params: Params::Named(vec![("code".into(), "1234".into())]),
        }
    }

    #[test]
    fn the_aliyun_request_carries_its_parameters_in_a_canonical_query() {
        let request = aliyun_request("http://127.0.0.1:9/", &message(), "run:s");
        assert_eq!(
            request.url,
            "http://127.0.0.1:9/?OutId=run%3As&PhoneNumbers=13800000000%2C%2B8613900000000\
             &SignName=%E5%A4%A9%E5%B7%A5&TemplateCode=SMS_1&TemplateParam=%7B%22code%22%3A%221234%22%7D"
        );
        assert!(request.body.is_none());
    }

    #[test]
    fn the_tencent_request_is_json_with_ordered_params() {
        let mut m = message();
        m.params = Params::Ordered(vec!["甲".into(), "3".into()]);
        let request = tencent_request(TENCENT_BASE_URL, "ap-guangzhou", "1400000000", &m, "k");
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["TemplateParamSet"], json!(["甲", "3"]));
        assert_eq!(
            body["PhoneNumberSet"],
            json!(["13800000000", "+8613900000000"])
        );
        assert_eq!(request.url, "https://sms.tencentcloudapi.com/");
    }

    #[test]
    fn phones_come_from_lists_and_separated_text_and_are_checked() {
        assert_eq!(
            phones_of(&json!(["138", "139;140", "141，142"])),
            vec!["138", "139", "140", "141", "142"]
        );
        let mut m = message();
        m.phones = vec!["138-0000".into()];
        assert!(check_message(&m).is_err());
        m.phones = Vec::new();
        assert!(check_message(&m).is_err());
        assert!(check_message(&message()).is_ok());
    }

    #[test]
    fn vendor_answers_succeed_retry_or_fail() {
        assert!(
            judge(
                Vendor::Aliyun,
                200,
                r#"{"Code":"OK","Message":"OK","BizId":"9","RequestId":"r"}"#
            )
            .is_ok()
        );
        let (failure, _) = judge(
            Vendor::Aliyun,
            200,
            r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发流控"}"#,
        )
        .unwrap_err();
        assert!(failure.retries());
        let (failure, reason) = judge(
            Vendor::Aliyun,
            200,
            r#"{"Code":"isv.SMS_TEMPLATE_ILLEGAL","Message":"模板不合法"}"#,
        )
        .unwrap_err();
        assert!(!failure.retries());
        assert_eq!(reason, "Aliyun SMS isv.SMS_TEMPLATE_ILLEGAL: 模板不合法");
        assert!(judge(Vendor::Aliyun, 503, "").unwrap_err().0.retries());
        let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"s1","PhoneNumber":"+8613800000000","Code":"Ok","Message":"send success"}],"RequestId":"r"}}"#;
        assert_eq!(
            judge(Vendor::Tencent, 200, ok).unwrap()["sent"][0]["serial_no"],
            "s1"
        );
        let limited = r#"{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"too fast"},"RequestId":"r"}}"#;
        assert!(
            judge(Vendor::Tencent, 200, limited)
                .unwrap_err()
                .0
                .retries()
        );
        let auth = r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r"}}"#;
        assert!(!judge(Vendor::Tencent, 200, auth).unwrap_err().0.retries());
        let refused = r#"{"Response":{"SendStatusSet":[{"PhoneNumber":"+861","Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"bad"}],"RequestId":"r"}}"#;
        assert!(
            !judge(Vendor::Tencent, 200, refused)
                .unwrap_err()
                .0
                .retries()
        );
    }
}
