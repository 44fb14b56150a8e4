//! Pushing a voucher to Kingdee K/3 Cloud: the conversation of the `kingdee_voucher` step (see
//! `tenon_flows::kingdee` for the requests and answers).
//!
//! 1. The session: this node's, kept in memory per connection and credentials, else a login.
//! 2. A query by Tenon's key (`ExecuteBillQuery`): a voucher with the key is the answer (`existing`), so
//!    a push sent before — by an attempt whose answer was lost, a crashed worker, another run — is never
//!    saved twice.
//! 3. The Save. An answer cut short (no answer in time, the connection broken after sending) is
//!    reconciled at once by asking again by key: found, the step succeeds; not found, it is retried later
//!    (and that attempt asks first).
//!
//! An answer other than 2xx (429, 503…) is a failure retried later, no sooner than its `Retry-After`
//! (seconds, or an HTTP date read against the store's clock).
//!
//! A session Kingdee says is gone (`MsgCode` 1) is replaced by a new login once per push; a second loss
//! fails the attempt.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tenon_events::{OutboundRequest, Sender};
use tenon_flows::kingdee::{self, Answer, Push};
use tenon_flows::retry::Failure;
use tenon_store::flows::{OutsideAnswer, OutsideCall};

use crate::reply::{Reply, failed, reply_of};

/// Sessions by connection and credentials (a hash: never the secret itself).
static SESSIONS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Mutex::default);

/// Where requests go, and the store's clock (for a `Retry-After` date).
type Via<'a> = (&'a Sender, DateTime<Utc>);

async fn send(
    (sender, now): Via<'_>,
    call: &OutsideCall,
    push: &Push,
    path: &str,
    body: String,
    session: Option<&str>,
) -> Reply {
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    if let Some(session) = session {
        headers.push((
            "Cookie".to_owned(),
            format!("{}={session}", kingdee::SESSION_COOKIE),
        ));
    }
    let reply = sender
        .request(OutboundRequest {
            method: "POST".to_owned(),
            url: kingdee::url(&push.base_url, path),
            headers,
            body: Some(body.into_bytes()),
            timeout: call.timeout,
        })
        .await;
    reply_of(reply, "Kingdee", now)
}

fn cache_key(call: &OutsideCall, push: &Push) -> String {
    let (_, login) = push.login_request();
    let digest = Sha256::digest(format!("{}\n{login}", push.base_url).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}/{}/{hex}",
        call.org_id,
        call.connection.as_deref().unwrap_or("")
    )
}

fn remember(key: &str, session: Option<&str>) {
    let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    match session {
        Some(session) => sessions.insert(key.to_owned(), session.to_owned()),
        None => sessions.remove(key),
    };
}

fn cached(key: &str) -> Option<String> {
    SESSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        .cloned()
}

async fn login(
    via: Via<'_>,
    call: &OutsideCall,
    push: &Push,
    key: &str,
) -> Result<String, OutsideAnswer> {
    let (path, body) = push.login_request();
    match send(via, call, push, path, body, None).await {
        Reply::Answered(status, body) => match kingdee::judge_login(status, &body) {
            Answer::Session(session) => {
                remember(key, Some(&session));
                Ok(session)
            }
            Answer::Failed(failure, reason) => Err(failed(failure, reason)),
            _ => Err(failed(
                Failure::Refused,
                "Kingdee's login answer is not one",
            )),
        },
        Reply::Unclear(reason) => Err(failed(Failure::Timeout, reason)),
        Reply::Failed(answer) => Err(answer),
    }
}

/// Pushes one voucher (see the module documentation).
pub async fn push(
    sender: &Sender,
    call: &OutsideCall,
    push: &Push,
    now: DateTime<Utc>,
) -> OutsideAnswer {
    let via = (sender, now);
    let key = cache_key(call, push);
    let mut relogged = false;
    let mut session = cached(&key);
    // Ask first: a voucher with Tenon's key is already there.
    let session = loop {
        let current = match session.take() {
            Some(current) => current,
            None => match login(via, call, push, &key).await {
                Ok(current) => current,
                Err(answer) => return answer,
            },
        };
        match send(
            via,
            call,
            push,
            kingdee::QUERY_PATH,
            push.query_body(),
            Some(&current),
        )
        .await
        {
            Reply::Answered(status, body) => match kingdee::judge_query(status, &body) {
                Answer::Absent => break current,
                Answer::Voucher { id, number } => {
                    return OutsideAnswer::Output(push.output(&id, &number, true));
                }
                Answer::SessionLost if !relogged => {
                    relogged = true;
                    remember(&key, None);
                }
                Answer::SessionLost => {
                    return failed(
                        Failure::Refused,
                        "Kingdee lost the session again right after a new login",
                    );
                }
                Answer::Failed(failure, reason) => return failed(failure, reason),
                Answer::Session(_) => {
                    return failed(Failure::Refused, "Kingdee answered a query with a login");
                }
            },
            // Only a question: asking again later is safe.
            Reply::Unclear(reason) => return failed(Failure::Timeout, reason),
            Reply::Failed(answer) => return answer,
        }
    };
    let mut current = session;
    loop {
        match send(
            via,
            call,
            push,
            kingdee::SAVE_PATH,
            push.save_body(),
            Some(&current),
        )
        .await
        {
            Reply::Answered(status, body) => match kingdee::judge_save(status, &body) {
                Answer::Voucher { id, number } => {
                    return OutsideAnswer::Output(push.output(&id, &number, false));
                }
                Answer::SessionLost if !relogged => {
                    relogged = true;
                    remember(&key, None);
                    current = match login(via, call, push, &key).await {
                        Ok(current) => current,
                        Err(answer) => return answer,
                    };
                }
                Answer::SessionLost => {
                    return failed(
                        Failure::Refused,
                        "Kingdee lost the session again right after a new login",
                    );
                }
                Answer::Failed(failure, reason) => return failed(failure, reason),
                Answer::Absent | Answer::Session(_) => {
                    return failed(Failure::Refused, "Kingdee's Save answer is not one");
                }
            },
            Reply::Unclear(reason) => return reconcile(via, call, push, &current, reason).await,
            Reply::Failed(answer) => return answer,
        }
    }
}

/// After a Save whose answer was lost: the voucher with Tenon's key, if Kingdee saved it.
async fn reconcile(
    via: Via<'_>,
    call: &OutsideCall,
    push: &Push,
    session: &str,
    why: String,
) -> OutsideAnswer {
    let asked = send(
        via,
        call,
        push,
        kingdee::QUERY_PATH,
        push.query_body(),
        Some(session),
    )
    .await;
    if let Reply::Answered(status, body) = asked
        && let Answer::Voucher { id, number } = kingdee::judge_query(status, &body)
    {
        return OutsideAnswer::Output(push.output(&id, &number, true));
    }
    failed(
        Failure::Timeout,
        format!(
            "{why}; Kingdee shows no voucher with Tenon's key yet: the next attempt asks again before saving"
        ),
    )
}
