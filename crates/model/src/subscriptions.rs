//! Webhook subscriptions and their deliveries: shapes, the retry schedule, and when to give up.
//!
//! Pure: the caller passes "now" and the random jitter; the store keeps the state, the delivery workers
//! (`tenon-events`) do the sending.

use chrono::{DateTime, TimeDelta, Utc};

use crate::{AppId, DeliveryId, EventId, InstallationId, SubscriptionId, TableId};

/// Delays before each attempt of a delivery (Standard Webhooks): at once, then after 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h and 10 h again. After the last attempt fails, the delivery is dead-lettered.
pub const RETRY_SCHEDULE_SECS: [i64; 8] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/// Every delay is moved by a random factor within ±20 %, so retries of many deliveries spread out.
pub const RETRY_JITTER: f64 = 0.2;
/// A `Retry-After` longer than this is cut to it.
pub const RETRY_AFTER_MAX_SECS: i64 = 86_400;
/// A subscription is disabled only when every attempt to it has failed for this long without a success.
pub const DISABLE_AFTER_FAILING_DAYS: i64 = 5;

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: SubscriptionId,
    /// The installed app that owns it; `None` for the organization's own.
    pub installation_id: Option<InstallationId>,
    pub url: String,
    pub description: Option<String>,
    /// Type patterns: `record.created`, `record.*`, `*`.
    pub event_types: Vec<String>,
    pub app_id: Option<AppId>,
    pub table_id: Option<TableId>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Start of the current run of failures; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// For a DingTalk-format subscription (encrypted DingTalk callbacks), the DingTalk event types it asked
    /// for (`user_add_org`…); `event_types` then holds the native types that render them.
    pub dingtalk_event_types: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    Delivered,
    /// Every attempt of the schedule failed: dead-lettered, kept for inspection and redelivery.
    Dead,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// One event for one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub subscription_id: SubscriptionId,
    pub event_id: EventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<DeliveryAttempt>,
}

/// One HTTP attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// `None` when no response arrived (refused, timed out, blocked).
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the response body, capped.
    pub response_excerpt: Option<String>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    Dead,
}

/// After the `attempts`-th attempt (1-based) failed at `now`: when to try again, or give up.
/// `jitter` is a random number in `-1.0..=1.0` (scaled to ±20 %); `retry_after` is the receiver's wish.
pub fn after_failure(
    attempts: i64,
    now: DateTime<Utc>,
    jitter: f64,
    retry_after: Option<TimeDelta>,
) -> NextStep {
    let Some(delay_secs) = usize::try_from(attempts)
        .ok()
        .and_then(|n| RETRY_SCHEDULE_SECS.get(n))
    else {
        return NextStep::Dead;
    };
    let factor = 1.0 + RETRY_JITTER * jitter.clamp(-1.0, 1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let jittered_ms = (*delay_secs as f64 * 1000.0 * factor).round() as i64;
    let mut delay = TimeDelta::milliseconds(jittered_ms.max(0));
    if let Some(wish) = retry_after {
        delay = delay.max(wish.min(TimeDelta::seconds(RETRY_AFTER_MAX_SECS)));
    }
    NextStep::RetryAt(now + delay)
}

/// Whether a subscription failing since `failing_since` has failed long enough to be disabled.
pub fn should_disable(failing_since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - failing_since >= TimeDelta::days(DISABLE_AFTER_FAILING_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_schedule_retries_seven_times_with_bounded_jitter_then_gives_up() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let delays: Vec<i64> = (1..=7)
            .map(|n| match after_failure(n, now, 0.0, None) {
                NextStep::RetryAt(at) => (at - now).num_seconds(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
        assert_eq!(after_failure(8, now, 0.0, None), NextStep::Dead);
        let NextStep::RetryAt(late) = after_failure(2, now, 1.0, None) else {
            panic!()
        };
        assert_eq!((late - now).num_seconds(), 360);
        let NextStep::RetryAt(early) = after_failure(2, now, -5.0, None) else {
            panic!()
        };
        assert_eq!((early - now).num_seconds(), 240);
        let NextStep::RetryAt(wished) = after_failure(1, now, 0.0, Some(TimeDelta::seconds(120)))
        else {
            panic!()
        };
        assert_eq!((wished - now).num_seconds(), 120);
    }

    #[test]
    fn a_subscription_is_disabled_after_five_days_of_failure_not_before() {
        let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!(!should_disable(
            since,
            since + TimeDelta::days(4) + TimeDelta::hours(23)
        ));
        assert!(should_disable(since, since + TimeDelta::days(5)));
    }
}
