//! DingTalk-format events (issue #21 item 6): native events rendered with DingTalk's names and ids, and
//! the encrypted HTTP callbacks of DingTalk-format subscriptions.
//!
//! A callback is `POST url?signature=&msg_signature=&timestamp=&timeStamp=&nonce=` with the JSON
//! `{"encrypt"}` (DingTalk's callback encryption, `tenon_dingtalk::crypto`); the receiver must answer
//! `{"msg_signature", "timeStamp", "nonce", "encrypt"}` whose `encrypt` opens to `success`. Anything else —
//! another status, another body, a wrong signature — fails the attempt, which is retried like a webhook's.
//! The registration handshake (`check_url`) is the same exchange with the plaintext
//! `{"EventType": "check_url"}`.

use rand::RngExt;
use reqwest::Url;
use tenon_dingtalk::crypto::{CallbackCrypto, Sealed};
use tenon_dingtalk::events::{
    ApprovalText, Subject, approval_data, approval_staff, department_number, dingtalk_type,
    instance_title,
};
use tenon_model::{ApprovalId, ApprovalTaskId, DepartmentId, Event, MemberId};
use tenon_store::{Store, StoreError, Tenant};

use crate::outbound::{SendResult, Sender};

/// An event as DingTalk names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendering {
    /// DingTalk's event type, e.g. `user_add_org`.
    pub event_type: &'static str,
    pub subject: Subject,
}

/// The DingTalk rendering of a native event; `None` for events DingTalk has no name for. A member is
/// named by its userid (the one chosen for it, kept after it is deleted; else its member id), a
/// department by its number (from the event's snapshots; for events older than that, the department's
/// own while it exists — a deleted one's old events have no rendering), an approval by its `bpms_*` keys
/// (`staffId` the task assignee's or the initiator's userid).
pub async fn render(store: &Store, event: &Event) -> Result<Option<Rendering>, StoreError> {
    let Some(event_type) = dingtalk_type(&event.event_type, &event.data) else {
        return Ok(None);
    };
    let subject = if event.event_type.starts_with("approval.") {
        let Some(staff) = approval_staff(&event.data).and_then(|id| id.parse::<MemberId>().ok())
        else {
            return Ok(None);
        };
        let tenant = store.tenant(event.org_id);
        let userid = tenant.dingtalk_userid_of(staff).await?;
        let text = approval_text(&tenant, event).await?;
        match approval_data(
            &event.event_type,
            &event.subject,
            &event.data,
            &userid,
            &text,
        ) {
            Some(keys) => Subject::Approval(keys),
            None => return Ok(None),
        }
    } else if event.event_type.starts_with("member.") {
        let member = event.subject["member_id"]
            .as_str()
            .and_then(|id| id.parse::<MemberId>().ok());
        match member {
            Some(member) => Subject::User(
                store
                    .tenant(event.org_id)
                    .dingtalk_userid_of(member)
                    .await?,
            ),
            None => return Ok(None),
        }
    } else {
        match department_number(&event.data) {
            Some(number) => Subject::Department(number),
            // Events written before snapshots carried the number: the department's, while it exists.
            None => {
                let department = event.subject["department_id"]
                    .as_str()
                    .and_then(|id| id.parse::<DepartmentId>().ok());
                let Some(department) = department else {
                    return Ok(None);
                };
                match store.tenant(event.org_id).department(department).await {
                    Ok(found) => Subject::Department(found.number),
                    Err(StoreError::NotFound { .. }) => return Ok(None),
                    Err(error) => return Err(error),
                }
            }
        }
    };
    Ok(Some(Rendering {
        event_type,
        subject,
    }))
}

/// The title of an approval event's instance (its originator's and process's names as they are now) and,
/// for a task's event, the comment left on the task (`remark`).
async fn approval_text(tenant: &Tenant<'_>, event: &Event) -> Result<ApprovalText, StoreError> {
    let id = |key: &str| event.subject[key].as_str().map(str::to_owned);
    let Some(instance) = id("instance_id").and_then(|id| id.parse::<ApprovalId>().ok()) else {
        return Ok(ApprovalText::default());
    };
    let task = id("task_id").and_then(|id| id.parse::<ApprovalTaskId>().ok());
    let (names, remark) = tenant.dingtalk_approval_names(instance, task).await?;
    Ok(ApprovalText {
        title: names.map_or_else(String::new, |(originator, process)| {
            instance_title(&originator, &process)
        }),
        remark,
    })
}

/// `n` random characters of `[A-Za-z0-9]`, as DingTalk's helpers make nonces and the random prefix.
fn random_text<const N: usize>() -> [u8; N] {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    std::array::from_fn(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
}

/// What one callback came to.
#[derive(Debug, Clone)]
pub struct CallbackResult {
    pub result: SendResult,
    /// The receiver answered the encrypted `success`.
    pub accepted: bool,
}

/// Sends `message` (the plaintext, JSON) encrypted to `url` and checks the answer.
pub async fn send_callback(
    sender: &Sender,
    url: &str,
    crypto: &CallbackCrypto,
    message: &str,
) -> CallbackResult {
    // Receivers compare the timestamp with their own clock: the wall clock, not the store's.
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string();
    let nonce = String::from_utf8_lossy(&random_text::<8>()).into_owned();
    let sealed = crypto.seal(message, random_text::<16>(), &timestamp, &nonce);
    let target = match Url::parse(url) {
        Ok(mut target) => {
            target
                .query_pairs_mut()
                .append_pair("signature", &sealed.msg_signature)
                .append_pair("msg_signature", &sealed.msg_signature)
                .append_pair("timestamp", &timestamp)
                .append_pair("timeStamp", &timestamp)
                .append_pair("nonce", &nonce);
            target.to_string()
        }
        // The sender reports the bad URL.
        Err(_) => url.to_owned(),
    };
    let body =
        serde_json::to_vec(&serde_json::json!({"encrypt": sealed.encrypt})).unwrap_or_default();
    let (mut result, text) = sender.send_plain(&target, body).await;
    if !result.succeeded() {
        return CallbackResult {
            result,
            accepted: false,
        };
    }
    let reply = serde_json::from_str::<Sealed>(&text)
        .map_err(|_| {
            "the receiver did not answer the encrypted success {msg_signature, timeStamp, nonce, encrypt}"
                .to_owned()
        })
        .and_then(|reply| {
            crypto
                .open(&reply)
                .map_err(|error| format!("the receiver's answer does not open: {error}"))
        });
    let accepted = match reply {
        Ok(plain) if plain == "success" => true,
        Ok(plain) => {
            let shown: String = plain.chars().take(64).collect();
            result.error = Some(format!(
                "the receiver answered \"{shown}\", not the encrypted success"
            ));
            false
        }
        Err(error) => {
            result.error = Some(error);
            false
        }
    };
    CallbackResult { result, accepted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_is_alphanumeric() {
        let text = random_text::<16>();
        assert!(text.iter().all(u8::is_ascii_alphanumeric));
        assert_ne!(random_text::<16>(), text);
    }
}
