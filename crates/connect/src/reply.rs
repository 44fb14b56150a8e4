//! What came of one request of a vendor conversation (Kingdee, YonSuite): an answer to judge, a request
//! sent whose answer is unknown, or a failure of the step — the same for every vendor, named in the
//! messages.

use chrono::{DateTime, Utc};
use tenon_events::OutboundReply;
use tenon_flows::retry::Failure;
use tenon_store::flows::OutsideAnswer;

pub(crate) enum Reply {
    /// A 2xx answer: its status and body.
    Answered(u16, String),
    /// Sent, answer unknown (no answer in time, the connection broken after sending).
    Unclear(String),
    /// Nothing (or nothing useful) came back: the step's failure.
    Failed(OutsideAnswer),
}

pub(crate) fn failed(failure: Failure, reason: impl Into<String>) -> OutsideAnswer {
    OutsideAnswer::Failed {
        failure,
        reason: reason.into(),
    }
}

/// `reply` of `vendor` read against the store's clock `now`: an answer other than 2xx fails (retried later,
/// no sooner than its `Retry-After`, in seconds or as an HTTP date).
pub(crate) fn reply_of(reply: OutboundReply, vendor: &str, now: DateTime<Utc>) -> Reply {
    match reply {
        OutboundReply::Answered {
            status,
            retry_after,
            ..
        } if !(200..300).contains(&status) => Reply::Failed(failed(
            Failure::Status {
                code: status,
                retry_after: retry_after.map(|after| after.delay_from(now)),
            },
            format!("{vendor} answered HTTP {status}"),
        )),
        OutboundReply::Answered { status, body, .. } => Reply::Answered(status, body),
        OutboundReply::Timeout(reason) => {
            Reply::Unclear(format!("{vendor} did not answer: {reason}"))
        }
        OutboundReply::Broken(reason) => Reply::Unclear(format!(
            "the connection to {vendor} broke after sending: {reason}"
        )),
        OutboundReply::Connect(reason) => Reply::Failed(failed(Failure::Connect, reason)),
        OutboundReply::Blocked(reason) => Reply::Failed(failed(Failure::Refused, reason)),
    }
}
