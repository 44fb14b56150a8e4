//! Yonyou U8 (用友 U8) EAI, the protocol of the `yonyou_voucher` step, without I/O.
//!
//! The voucher is the ledger's U8 EAI document (`<ufinterface roottag="voucher" …>`, see
//! `tenon_ledger::exchange::yonyou`) with the connection's `sender` and `receiver`, POSTed as
//! `text/xml` to `<base_url><path>` (default path `/U8EAI/import.asp`). U8 answers a `<ufinterface>`
//! whose `<item>` says `succeed="0"` (imported; `u8key` is U8's key of the voucher, `dsc` its message)
//! or another code with the reason in `dsc`.
//!
//! U8 keeps no idempotency key: a push whose outcome is unclear (no answer in time, the connection
//! broken after the request went out, the worker gone before the answer was journaled) is never sent
//! again blindly — the step becomes `unknown_outcome` and a person resolves it (`done` or `retry`).

use serde_json::{Value, json};

use crate::retry::Failure;

/// Where U8's EAI import listens, under a connection's `base_url`.
pub const PATH_DEFAULT: &str = "/U8EAI/import.asp";
/// The EAI sender and receiver codes, unless a connection names others.
pub const SENDER_DEFAULT: &str = "tenon";
pub const RECEIVER_DEFAULT: &str = "u8";
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// What U8's answer means: the step's output (`number`: U8's key of the voucher, `message`), or why it
/// failed.
pub fn judge(status: u16, body: &str, voucher_id: &str) -> Result<Value, (Failure, String)> {
    if !(200..300).contains(&status) {
        return Err((
            Failure::Status {
                code: status,
                retry_after: None,
            },
            format!("U8 answered HTTP {status}"),
        ));
    }
    let Some(item) = element(body, "item") else {
        return Err((
            Failure::Refused,
            "the answer is not U8 EAI's <ufinterface><item …/>".to_owned(),
        ));
    };
    let succeed = attribute(item, "succeed").unwrap_or_default();
    let message = attribute(item, "dsc").unwrap_or_default();
    if succeed.trim() == "0" {
        Ok(json!({
            "pushed": true,
            "number": attribute(item, "u8key").unwrap_or_default(),
            "message": message,
            "voucher_id": voucher_id,
        }))
    } else {
        Err((Failure::Refused, format!("U8 {succeed}: {message}")))
    }
}

/// The attributes of the first `<name …>` element.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(at) = xml[from..].find(&open) {
        let start = from + at + open.len();
        let rest = &xml[start..];
        if rest.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>') {
            let end = rest.find('>')?;
            return Some(&rest[..end]);
        }
        from = start;
    }
    None
}

/// An attribute's value (`name="…"` or `name='…'`), entities decoded.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let mut rest = attributes;
    loop {
        let at = rest.find(name)?;
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let end = value[1..].find(quote)?;
                return Some(unescape(&value[1..1 + end]));
            }
        }
        rest = &rest[at + name.len()..];
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u8_answers_succeed_or_fail_with_their_description() {
        let ok = r#"<?xml version="1.0" encoding="utf-8"?><ufinterface roottag="SendResult" proc="add"><item key="1" succeed="0" dsc="凭证导入成功 &amp; 已记账" u8key="记-0012" proc="add"/></ufinterface>"#;
        let output = judge(200, ok, "v1").unwrap();
        assert_eq!(output["number"], "记-0012");
        assert_eq!(output["message"], "凭证导入成功 & 已记账");
        let refused =
            r#"<ufinterface><item key="1" succeed="1" dsc="科目 9999 不存在"/></ufinterface>"#;
        let (failure, reason) = judge(200, refused, "v1").unwrap_err();
        assert!(!failure.retries());
        assert_eq!(reason, "U8 1: 科目 9999 不存在");
        assert!(judge(503, "", "v1").unwrap_err().0.retries());
        assert!(judge(200, "<html/>", "v1").is_err());
    }
}
