//! Webhook delivery: the delivery workers that run inside `tenon serve`, the Standard Webhooks signature,
//! DingTalk's encrypted callbacks for DingTalk-format subscriptions (`dingtalk`),
//! the outbound policy that keeps webhooks away from private networks (SSRF), and the pruner that deletes
//! events older than the retention.
//!
//! The outbox itself (events appended in the writer's transaction) and the delivery queue live in
//! `tenon-store`; this crate only sends. It owns every outbound HTTP request of the platform, and it
//! never follows a redirect or connects to an address it has not checked.

pub mod dingtalk;
pub mod outbound;
pub mod retention;
pub mod signing;
pub mod worker;

pub use outbound::{
    Blocked, OutboundPolicy, OutboundReply, OutboundRequest, RetryAfter, SendResult, Sender,
};
pub use retention::{PruneSummary, prune_expired, spawn_pruner};
pub use worker::{DeliveryConfig, spawn_workers};
