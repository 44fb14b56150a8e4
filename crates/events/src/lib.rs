//! Webhook delivery: the delivery workers that run inside `tenon serve`, the Standard Webhooks signature,
//! and the outbound policy that keeps webhooks away from private networks (SSRF).
//!
//! The outbox itself (events appended in the writer's transaction) and the delivery queue live in
//! `tenon-store`; this crate only sends. It owns every outbound HTTP request of the platform, and it
//! never follows a redirect or connects to an address it has not checked.

pub mod outbound;
pub mod signing;
pub mod worker;

pub use outbound::{Blocked, OutboundPolicy, RetryAfter, SendResult, Sender};
pub use worker::{DeliveryConfig, spawn_workers};
