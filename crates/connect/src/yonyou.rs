//! Pushing a voucher to Yonyou U8 through EAI: one POST of the voucher document (see
//! `tenon_flows::yonyou`). U8 keeps no idempotency key, so a request that went out without a clear
//! answer (no answer in time, the connection broken after sending) is reported unclear: the store makes
//! the step `unknown_outcome` and a person decides. A connection that could not be made (refused,
//! unreachable, no connection in time) sent nothing and is retried; so is an answer other than 2xx (a
//! 429's or 503's `Retry-After` honoured, in seconds or as an HTTP date).

use tenon_events::{OutboundReply, Sender};
use tenon_flows::retry::Failure;
use tenon_store::flows::{OutsideAnswer, OutsideCall};

/// Posts the call's voucher document and says what came of it.
pub async fn post(
    sender: &Sender,
    call: &OutsideCall,
    now: chrono::DateTime<chrono::Utc>,
) -> OutsideAnswer {
    match crate::http::request(sender, call).await {
        OutboundReply::Timeout(reason) => {
            OutsideAnswer::Unclear(format!("U8 did not answer: {reason}"))
        }
        OutboundReply::Broken(reason) => OutsideAnswer::Unclear(format!(
            "the connection to U8 broke after sending: {reason}"
        )),
        // Busy or down (429, 503…): U8 took nothing; a `Retry-After` is honoured.
        OutboundReply::Answered {
            status,
            retry_after,
            ..
        } if !(200..300).contains(&status) => OutsideAnswer::Failed {
            failure: Failure::Status {
                code: status,
                retry_after: retry_after.map(|after| after.delay_from(now)),
            },
            reason: format!("U8 answered HTTP {status}"),
        },
        reply => crate::http::answer_of(reply, now),
    }
}
