//! The `robot` step: a message to a DingTalk group through a custom robot (自定义机器人), without I/O.
//!
//! ```yaml
//! - {key: tell, type: robot, connection: sales_group, title: '新订单',
//!    text: '**{{ trigger.fields.customer }}** 下单 {{ trigger.fields.amount }} 元', at: {mobiles: ['13800000000']}}
//! ```
//!
//! The connection (kind `dingtalk_robot`) keeps the robot's `access_token` and, for a robot with 加签,
//! its `sign` secret; the worker signs each request at send time (`timestamp` in milliseconds and
//! `sign` = base64 HMAC-SHA256 of `"<timestamp>\n<secret>"`, as DingTalk documents). `text` (and `title`)
//! are MiniJinja templates; with a `title` the message is `markdown`, else `text`. DingTalk answers 200
//! with `errcode`: 0 succeeds, 130101 (sending too fast) is retried, anything else fails the step with
//! `errmsg`. A message is not idempotent: a send cut short becomes `unknown_outcome`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tenon_model::{Checker, DetailCode};

use crate::retry::Failure;
use crate::scope::{check_template, render};

/// DingTalk's errcode for "sending too fast" (retried).
pub const ERRCODE_TOO_FAST: i64 = 130_101;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotStep {
    pub key: String,
    pub connection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<At>,
}

/// Whom the message @-mentions: phone numbers (templates), or everyone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct At {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mobiles: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// The compiled step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotSpec {
    pub connection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    #[serde(default)]
    pub at: At,
}

/// Checks the step at `at`.
pub fn compile(step: &RobotStep, at: &str, check: &mut Checker) -> Option<RobotSpec> {
    let mut fine = true;
    let mut template = |field: String, text: &str| {
        if let Err(reason) = check_template(text) {
            check.push(
                field,
                DetailCode::InvalidValue,
                format!("the template does not parse: {reason}"),
            );
            fine = false;
        }
    };
    template(format!("{at}.text"), &step.text);
    if let Some(title) = &step.title {
        template(format!("{at}.title"), title);
    }
    let mentions = step.at.clone().unwrap_or_default();
    for (i, mobile) in mentions.mobiles.iter().enumerate() {
        template(format!("{at}.at.mobiles[{i}]"), mobile);
    }
    fine.then(|| RobotSpec {
        connection: step.connection.clone(),
        title: step.title.clone(),
        text: step.text.clone(),
        at: mentions,
    })
}

impl RobotSpec {
    /// The message's JSON body, rendered over the run's context.
    pub fn body(&self, context: &Value) -> Result<String, String> {
        let text = render(&self.text, context).map_err(|e| format!("text: {e}"))?;
        let mut mobiles = Vec::new();
        for (i, mobile) in self.at.mobiles.iter().enumerate() {
            let mobile = render(mobile, context).map_err(|e| format!("at.mobiles[{i}]: {e}"))?;
            if !mobile.trim().is_empty() {
                mobiles.push(mobile.trim().to_owned());
            }
        }
        let at = json!({"atMobiles": mobiles, "isAtAll": self.at.all});
        let message = match &self.title {
            Some(title) => {
                let title = render(title, context).map_err(|e| format!("title: {e}"))?;
                json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at})
            }
            None => json!({"msgtype": "text", "text": {"content": text}, "at": at}),
        };
        Ok(message.to_string())
    }
}

/// What DingTalk's answer means: the step's output, or why it failed.
pub fn judge(status: u16, body: &str) -> Result<Value, (Failure, String)> {
    if !(200..300).contains(&status) {
        return Err((
            Failure::Status {
                code: status,
                retry_after: None,
            },
            format!("HTTP {status}"),
        ));
    }
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = answer.get("errcode").and_then(Value::as_i64);
    let message = answer
        .get("errmsg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match code {
        Some(0) => Ok(json!({"errcode": 0, "errmsg": message})),
        Some(ERRCODE_TOO_FAST) => Err((
            Failure::Status {
                code: 429,
                retry_after: None,
            },
            format!("DingTalk {ERRCODE_TOO_FAST}: {message}"),
        )),
        Some(code) => Err((Failure::Refused, format!("DingTalk {code}: {message}"))),
        None => Err((
            Failure::Refused,
            "the answer is not DingTalk's {errcode, errmsg}".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_titled_message_is_markdown_and_mentions_render() {
        let spec = RobotSpec {
            connection: "g".into(),
            title: Some("新订单".into()),
            text: "**{{ trigger.fields.customer }}**".into(),
            at: At {
                mobiles: vec!["{{ trigger.fields.phone }}".into()],
                all: false,
            },
        };
        let context = json!({"trigger": {"fields": {"customer": "甲", "phone": "13800000000"}}});
        let body: Value = serde_json::from_str(&spec.body(&context).unwrap()).unwrap();
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["text"], "**甲**");
        assert_eq!(body["at"]["atMobiles"], json!(["13800000000"]));
    }

    #[test]
    fn dingtalk_errcodes_succeed_retry_or_fail() {
        assert!(judge(200, r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(
            judge(200, r#"{"errcode":130101,"errmsg":"send too fast"}"#)
                .unwrap_err()
                .0
                .retries()
        );
        assert!(
            !judge(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#)
                .unwrap_err()
                .0
                .retries()
        );
        assert!(judge(503, "").unwrap_err().0.retries());
    }
}
