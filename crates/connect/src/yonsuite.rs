//! Pushing a voucher to YonSuite (用友 YonBIP 公有云) over its open API: the conversation of the
//! `yonyou_voucher` step over a `yonsuite` connection (see `tenon_flows::yonsuite` for the requests
//! and answers).
//!
//! 1. The token: this node's, kept in memory per connection and credentials until a minute before it
//!    expires, else a signed token request (signed with the wall clock: YonSuite compares it with its
//!    own).
//! 2. The save, with Tenon's `resubmitCheckKey`. An answer cut short (no answer in time, the connection
//!    broken after sending) is a failure retried later: the next attempt sends the same key, so YonSuite
//!    saves the voucher at most once (it answers a repeat as such, and the step succeeds).
//!
//! A token YonSuite calls invalid is replaced once per push; a second refusal fails the attempt. An
//! answer other than 2xx (429, 503…) is retried later, no sooner than its `Retry-After`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tenon_events::{OutboundRequest, Sender};
use tenon_flows::retry::Failure;
use tenon_flows::yonsuite::{self, Answer, Push};
use tenon_store::flows::{OutsideAnswer, OutsideCall};

use crate::reply::{Reply, failed, reply_of};

/// Tokens by connection and credentials (a hash: never the secret itself), with when to stop using them.
static TOKENS: LazyLock<Mutex<HashMap<String, (String, Instant)>>> = LazyLock::new(Mutex::default);

/// A token is used until this long before YonSuite says it expires.
const MARGIN: Duration = Duration::from_secs(60);

async fn send(
    sender: &Sender,
    now: DateTime<Utc>,
    call: &OutsideCall,
    method: &str,
    url: String,
    body: Option<&str>,
) -> Reply {
    let headers = if body.is_some() {
        vec![("Content-Type".to_owned(), "application/json".to_owned())]
    } else {
        Vec::new()
    };
    let reply = sender
        .request(OutboundRequest {
            method: method.to_owned(),
            url,
            headers,
            body: body.map(|b| b.as_bytes().to_vec()),
            timeout: call.timeout,
        })
        .await;
    reply_of(reply, "YonSuite", now)
}

fn cache_key(call: &OutsideCall, push: &Push) -> String {
    let digest = Sha256::digest(
        format!("{}\n{}\n{}", push.token_url, push.app_key, push.app_secret).as_bytes(),
    );
    format!(
        "{}/{}/{}",
        call.org_id,
        call.connection.as_deref().unwrap_or(""),
        hex::encode(digest)
    )
}

fn cached(key: &str) -> Option<String> {
    let mut tokens = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    match tokens.get(key) {
        Some((token, until)) if Instant::now() < *until => Some(token.clone()),
        Some(_) => {
            tokens.remove(key);
            None
        }
        None => None,
    }
}

fn forget(key: &str) {
    TOKENS.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
}

async fn token(
    sender: &Sender,
    now: DateTime<Utc>,
    call: &OutsideCall,
    push: &Push,
    key: &str,
) -> Result<String, OutsideAnswer> {
    let url = push.token_request_url(Utc::now().timestamp_millis());
    match send(sender, now, call, "GET", url, None).await {
        Reply::Answered(status, body) => match yonsuite::judge_token(status, &body) {
            Answer::Token { token, expires_in } => {
                let lasts = Duration::from_secs(u64::try_from(expires_in).unwrap_or(0));
                let until = Instant::now() + lasts.saturating_sub(MARGIN);
                TOKENS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.to_owned(), (token.clone(), until));
                Ok(token)
            }
            Answer::Failed(failure, reason) => Err(failed(failure, reason)),
            _ => Err(failed(
                Failure::Refused,
                "YonSuite's token answer is not one",
            )),
        },
        // Only a token request: asking again later is safe.
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
    let key = cache_key(call, push);
    let mut renewed = false;
    let mut current = match cached(&key) {
        Some(current) => current,
        None => match token(sender, now, call, push, &key).await {
            Ok(current) => current,
            Err(answer) => return answer,
        },
    };
    loop {
        let url = push.save_url(&current);
        match send(sender, now, call, "POST", url, Some(&push.body)).await {
            Reply::Answered(status, body) => match yonsuite::judge_save(status, &body) {
                Answer::Saved {
                    id,
                    number,
                    message,
                } => return OutsideAnswer::Output(push.output(&id, &number, &message, false)),
                Answer::Repeated(message) => {
                    return OutsideAnswer::Output(push.output("", "", &message, true));
                }
                Answer::TokenInvalid if !renewed => {
                    renewed = true;
                    forget(&key);
                    current = match token(sender, now, call, push, &key).await {
                        Ok(current) => current,
                        Err(answer) => return answer,
                    };
                }
                Answer::TokenInvalid => {
                    return failed(
                        Failure::Refused,
                        "YonSuite refused a token it had just issued",
                    );
                }
                Answer::Failed(failure, reason) => return failed(failure, reason),
                Answer::Token { .. } => {
                    return failed(Failure::Refused, "YonSuite answered a save with a token");
                }
            },
            Reply::Unclear(reason) => {
                return failed(
                    Failure::Timeout,
                    format!(
                        "{reason}; the next attempt sends the voucher again with the same resubmitCheckKey, which YonSuite saves at most once"
                    ),
                );
            }
            Reply::Failed(answer) => return answer,
        }
    }
}
