//! Work notifications (工作通知) on oapi: `topapi/message/corpconversation/asyncsend_v2`'s `msg` and the
//! answers of `asyncsend_v2`, `getsendprogress` and `getsendresult`, with DingTalk's keys and JSON types.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The message types Tenon accepts (DingTalk's `msgtype`).
pub const MESSAGE_TYPES: [&str; 4] = ["text", "markdown", "link", "action_card"];

/// What a member's inbox shows of a work notification: a title (not for `text`) and a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMessage {
    pub title: Option<String>,
    pub text: String,
}

/// Reads a `msg`: `{"msgtype": "text", "text": {"content"}}`, `{"msgtype": "markdown", "markdown":
/// {"title", "text"}}`, `{"msgtype": "link", "link": {"title", "text", "messageUrl", "picUrl"}}` or
/// `{"msgtype": "action_card", "action_card": {"title", "markdown", "single_title", "single_url" |
/// "btn_json_list"}}`. `Err` says which key is missing or of the wrong type.
pub fn inbox_message(msg: &Map<String, Value>) -> Result<InboxMessage, String> {
    let msgtype = match msg.get("msgtype") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err("msg.msgtype must be a string".to_owned()),
        None => return Err("msg.msgtype is required".to_owned()),
    };
    if !MESSAGE_TYPES.contains(&msgtype) {
        return Err(format!(
            "msg.msgtype {msgtype:?} is not one of {}",
            MESSAGE_TYPES.join(", ")
        ));
    }
    let body = match msg.get(msgtype) {
        Some(Value::Object(body)) => body,
        Some(_) => return Err(format!("msg.{msgtype} must be an object")),
        None => return Err(format!("msg.{msgtype} is required")),
    };
    let text = |key: &str| -> Result<String, String> {
        match body.get(key) {
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                Err(format!("msg.{msgtype}.{key} is required"))
            }
            Some(_) => Err(format!("msg.{msgtype}.{key} must be a string")),
        }
    };
    Ok(match msgtype {
        "text" => InboxMessage {
            title: None,
            text: text("content")?,
        },
        "markdown" => InboxMessage {
            title: Some(text("title")?),
            text: text("text")?,
        },
        "link" => {
            let url = text("messageUrl")?;
            InboxMessage {
                title: Some(text("title")?),
                text: format!("{}\n{url}", text("text")?),
            }
        }
        _ => InboxMessage {
            title: Some(text("title")?),
            text: text("markdown")?,
        },
    })
}

/// `POST /topapi/message/corpconversation/asyncsend_v2` → `{"errcode": 0, "errmsg": "ok", "task_id",
/// "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AsyncSendResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    /// The send's id for `getsendprogress` and `getsendresult`.
    pub task_id: i64,
    pub request_id: String,
}

/// `getsendprogress`'s `progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SendProgress {
    /// 0–100.
    pub progress_in_percent: i64,
    /// 0 not started, 1 sending, 2 finished (a Tenon send is finished when it answers).
    pub status: i64,
}

/// `POST /topapi/message/corpconversation/getsendprogress` → `{"errcode": 0, "errmsg": "ok", "progress":
/// {"progress_in_percent", "status"}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendProgressResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub progress: SendProgress,
    pub request_id: String,
}

/// `getsendresult`'s `send_result`: recipients by `userid`, departments by `dept_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct SendResult {
    /// `userid`s that name no active member of the organization.
    pub invalid_user_id_list: Vec<String>,
    /// Always empty: Tenon forbids no recipient.
    pub forbidden_user_id_list: Vec<String>,
    /// Always empty: a send either commits for every recipient or not at all.
    pub failed_user_id_list: Vec<String>,
    /// Recipients who have read the message in their inbox.
    pub read_user_id_list: Vec<String>,
    /// Recipients who have not.
    pub unread_user_id_list: Vec<String>,
    /// `dept_id`s that name no department of the organization.
    pub invalid_dept_id_list: Vec<i64>,
}

/// `POST /topapi/message/corpconversation/getsendresult` → `{"errcode": 0, "errmsg": "ok", "send_result":
/// {...}, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendResultResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub send_result: SendResult,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(msg: Value) -> Result<InboxMessage, String> {
        inbox_message(msg.as_object().unwrap())
    }

    #[test]
    fn every_message_type_becomes_a_title_and_a_text() {
        assert_eq!(
            read(json!({"msgtype": "text", "text": {"content": "hi"}})),
            Ok(InboxMessage {
                title: None,
                text: "hi".into()
            })
        );
        assert_eq!(
            read(json!({"msgtype": "markdown", "markdown": {"title": "T", "text": "# x"}})),
            Ok(InboxMessage {
                title: Some("T".into()),
                text: "# x".into()
            })
        );
        assert_eq!(
            read(
                json!({"msgtype": "link", "link": {"title": "T", "text": "see", "messageUrl": "https://e.x/1", "picUrl": "@lADO"}})
            ),
            Ok(InboxMessage {
                title: Some("T".into()),
                text: "see\nhttps://e.x/1".into()
            })
        );
        assert_eq!(
            read(
                json!({"msgtype": "action_card", "action_card": {"title": "T", "markdown": "m", "single_title": "Go", "single_url": "https://e.x"}})
            ),
            Ok(InboxMessage {
                title: Some("T".into()),
                text: "m".into()
            })
        );
    }

    #[test]
    fn a_malformed_message_names_its_key() {
        assert_eq!(read(json!({})), Err("msg.msgtype is required".into()));
        assert!(
            read(json!({"msgtype": "oa", "oa": {}}))
                .unwrap_err()
                .contains("not one of")
        );
        assert_eq!(
            read(json!({"msgtype": "text"})),
            Err("msg.text is required".into())
        );
        assert_eq!(
            read(json!({"msgtype": "text", "text": "hi"})),
            Err("msg.text must be an object".into())
        );
        assert_eq!(
            read(json!({"msgtype": "text", "text": {"content": " "}})),
            Err("msg.text.content is required".into())
        );
        assert_eq!(
            read(json!({"msgtype": "markdown", "markdown": {"title": 1, "text": "x"}})),
            Err("msg.markdown.title must be a string".into())
        );
        assert_eq!(
            read(json!({"msgtype": "link", "link": {"title": "t", "text": "x"}})),
            Err("msg.link.messageUrl is required".into())
        );
    }
}
