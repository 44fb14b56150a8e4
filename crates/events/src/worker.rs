//! Delivery workers: the loop each of them runs inside `tenon serve`.
//!
//! A worker fans committed events out to subscriptions, claims a batch of due deliveries (a lease; see
//! `tenon_store::deliveries`), sends them concurrently, and records every attempt with the next step:
//! delivered, retry at a time from the Standard Webhooks schedule (±20 % jitter, at least the receiver's
//! `Retry-After`), or dead-lettered after the last attempt. It wakes on a commit of this process that
//! appended events or queued deliveries (`tenon_store::Work::Deliveries`) and polls at [`DeliveryConfig::poll_interval`] for the rest (retries coming due, other nodes'
//! writes). Times come from the store's clock, so tests move time instead of waiting.

use std::num::NonZeroU32;
use std::time::Duration;

use tenon_model::subscriptions::{DeliveryAttempt, NextStep, after_failure};
use tenon_store::{AttemptOutcome, ClaimedDelivery, Store, Work, lease_for};
use tokio::task::{JoinHandle, JoinSet};

use crate::outbound::Sender;

/// Days events are kept unless configured otherwise (`tenon serve --event-retention-days`).
pub const EVENT_RETENTION_DAYS_DEFAULT: u32 = 30;

/// How deliveries are sent, and how long events and their delivery logs are kept.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Workers per node (0: this node sends nothing).
    pub workers: usize,
    /// Deliveries a worker claims and sends at once.
    pub batch: u32,
    /// The limit of one HTTP attempt, connection included.
    pub timeout: Duration,
    /// How often an idle worker looks for due work without being woken.
    pub poll_interval: Duration,
    /// Days events and their delivery logs are kept before the pruner deletes them (see
    /// [`crate::retention`]); `None` keeps them forever.
    pub event_retention_days: Option<NonZeroU32>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            workers: 4,
            batch: 128,
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            event_retention_days: NonZeroU32::new(EVENT_RETENTION_DAYS_DEFAULT),
        }
    }
}

/// Starts the workers; abort the handles to stop them (a delivery cut short is retried after its lease).
pub fn spawn_workers(store: Store, sender: Sender, config: DeliveryConfig) -> Vec<JoinHandle<()>> {
    (0..config.workers)
        .map(|worker| {
            let store = store.clone();
            let sender = sender.clone();
            let config = config.clone();
            tokio::spawn(async move { run(worker, store, sender, config).await })
        })
        .collect()
}

async fn run(worker: usize, store: Store, sender: Sender, config: DeliveryConfig) {
    loop {
        match round(&store, &sender, &config).await {
            // Work was found: look again at once, there may be more.
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => tracing::warn!(worker, %error, "delivery round failed"),
        }
        // A commit wakes one waiting worker; one made during the round left a permit, and the wait
        // ends at once.
        tokio::select! {
            () = store.work_made(Work::Deliveries).notified() => {}
            () = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

/// One round: fan out, claim, send, record. `true` if anything was done.
pub async fn round(
    store: &Store,
    sender: &Sender,
    config: &DeliveryConfig,
) -> Result<bool, tenon_store::StoreError> {
    let queued = store.fan_out_events().await?;
    if !store.any_delivery_due().await? {
        return Ok(queued > 0);
    }
    // The lease is counted from the clock as the claim reads it (no await in between): counted from an
    // earlier reading, a clock that moved meanwhile could end the lease before the claim, and another
    // worker would claim and send the same delivery again at once.
    let lease_until = store.now() + lease_for(config.timeout);
    let claimed = store.claim_deliveries(config.batch, lease_until).await?;
    if claimed.is_empty() {
        return Ok(queued > 0);
    }
    if claimed.len() >= config.batch as usize {
        // A full batch: there may be more, for the next worker.
        store.work_made(Work::Deliveries).notify_one();
    }
    let mut sending = JoinSet::new();
    for delivery in claimed {
        let sender = sender.clone();
        let store = store.clone();
        sending.spawn(async move { attempt(&store, &sender, delivery).await });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = sending.join_next().await {
        match done {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => tracing::error!(%error, "a delivery task failed"),
        }
    }
    store.record_attempts(&outcomes).await?;
    Ok(true)
}

async fn attempt(store: &Store, sender: &Sender, delivery: ClaimedDelivery) -> AttemptOutcome {
    if let Some(dingtalk) = &delivery.dingtalk {
        return dingtalk_attempt(store, sender, &delivery, dingtalk).await;
    }
    let at = store.now();
    let body = serde_json::to_vec(&tenon_model::events::delivery_body(
        &delivery.event,
        delivery.events_expired.as_ref(),
    ))
    .unwrap_or_default();
    let id = delivery.event.id.to_string();
    let result = sender
        .send(&delivery.url, &delivery.secret, &id, body)
        .await;
    let succeeded = result.succeeded();
    outcome(store, &delivery, at, result, succeeded)
}

/// What an attempt came to, with the next step of the retry schedule when it failed.
fn outcome(
    store: &Store,
    delivery: &ClaimedDelivery,
    at: chrono::DateTime<chrono::Utc>,
    result: crate::SendResult,
    succeeded: bool,
) -> AttemptOutcome {
    let next = if succeeded {
        NextStep::Delivered
    } else {
        let jitter = rand::random::<f64>() * 2.0 - 1.0;
        let now = store.now();
        let retry_after = result.retry_after.map(|wish| wish.delay_from(now));
        after_failure(delivery.attempts + 1, now, jitter, retry_after)
    };
    AttemptOutcome {
        org_id: delivery.org_id,
        delivery_id: delivery.id,
        subscription_id: delivery.subscription_id,
        attempt: DeliveryAttempt {
            at,
            status_code: result.status_code.map(i64::from),
            latency_ms: result.latency_ms,
            error: result.error.or_else(|| {
                (!succeeded).then(|| "the receiver did not answer with 2xx".to_owned())
            }),
            response_excerpt: result.response_excerpt,
        },
        next,
    }
}

/// A DingTalk-format subscription's attempt: the event rendered as DingTalk's, encrypted, and accepted
/// only on the encrypted `success`. An event whose rendering the subscription did not ask for (a
/// `member.updated` that is `user_leave_org` for a subscription of `user_modify_org` alone) is done
/// without a request, and so is one DingTalk has no rendering for.
async fn dingtalk_attempt(
    store: &Store,
    sender: &Sender,
    delivery: &ClaimedDelivery,
    dingtalk: &tenon_store::ClaimedDingTalk,
) -> AttemptOutcome {
    let at = store.now();
    let skipped = |reason: String| crate::SendResult {
        status_code: None,
        latency_ms: 0,
        error: Some(reason),
        response_excerpt: None,
        retry_after: None,
    };
    let rendering = match crate::dingtalk::render(store, &delivery.event).await {
        Ok(Some(rendering)) => rendering,
        Ok(None) => {
            let result = skipped("not sent: DingTalk has no rendering of this event".to_owned());
            return outcome(store, delivery, at, result, true);
        }
        Err(error) => {
            let result = skipped(format!("could not render the event: {error}"));
            return outcome(store, delivery, at, result, false);
        }
    };
    if !dingtalk
        .event_types
        .iter()
        .any(|wanted| wanted == rendering.event_type)
    {
        let result = skipped(format!(
            "not sent: the event is {}, which the subscription did not ask for",
            rendering.event_type
        ));
        return outcome(store, delivery, at, result, true);
    }
    let crypto = match tenon_dingtalk::crypto::CallbackCrypto::new(
        &dingtalk.token,
        &dingtalk.aes_key,
        &dingtalk.owner_key,
    ) {
        Ok(crypto) => crypto,
        Err(error) => return outcome(store, delivery, at, skipped(error.to_string()), false),
    };
    let payload = tenon_dingtalk::events::callback_payload(
        rendering.event_type,
        &rendering.subject,
        &delivery.event.org_id.to_string(),
        &delivery.event.id.to_string(),
        delivery.event.occurred_at.timestamp_millis(),
    );
    let sent =
        crate::dingtalk::send_callback(sender, &delivery.url, &crypto, &payload.to_string()).await;
    outcome(store, delivery, at, sent.result, sent.accepted)
}
