//! Event retention inside `tenon serve`: the pruner that deletes old events beside the delivery workers.
//!
//! Once at start and then every [`PRUNE_INTERVAL`], it walks the organizations that have events and
//! prunes each in batches of [`PRUNE_EVENTS_PER_BATCH`], every batch its own short transaction, so on
//! SQLite a record write waits for one batch at most. What may be deleted (old, every delivery finished,
//! nothing queued for a stream app, not the newest) is decided by `tenon_store`'s retention module; the
//! cutoff is the store's clock minus the retention, so tests move time instead of waiting. Several nodes
//! may prune at once: a batch deletes only what is still there.

use std::num::NonZeroU32;
use std::time::Duration;

use tenon_model::OrgId;
use tenon_store::{PRUNE_EVENTS_PER_BATCH, Store, StoreError};
use tokio::task::JoinHandle;

/// How often the pruner runs after its first run at start.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Organizations listed per query while walking them.
const ORGANIZATIONS_PER_PAGE: u32 = 100;
/// Batches one organization gets per run (a million events); a larger backlog waits for the next run.
const BATCHES_PER_ORGANIZATION_MAX: u32 = 2000;

/// What one run deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneSummary {
    /// Organizations that had events.
    pub organizations: u64,
    /// Events deleted (their deliveries and attempts went with them).
    pub events: u64,
}

/// Starts the pruner, unless events are kept forever (`None`); abort the handle to stop it (a batch cut
/// short rolls back).
pub fn spawn_pruner(store: Store, retention_days: Option<NonZeroU32>) -> Option<JoinHandle<()>> {
    let retention_days = retention_days?;
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick is at once: the node prunes when it starts.
            every.tick().await;
            match prune_expired(&store, retention_days).await {
                Ok(summary) if summary.events > 0 => tracing::info!(
                    events = summary.events,
                    organizations = summary.organizations,
                    retention_days,
                    "expired events deleted"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not delete expired events"),
            }
        }
    }))
}

/// One run: every organization, in batches, until nothing older than the retention can go.
pub async fn prune_expired(
    store: &Store,
    retention_days: NonZeroU32,
) -> Result<PruneSummary, StoreError> {
    let mut summary = PruneSummary::default();
    let mut after: Option<OrgId> = None;
    loop {
        let organizations = store
            .organizations_with_events(after, ORGANIZATIONS_PER_PAGE)
            .await?;
        for &org in &organizations {
            summary.organizations += 1;
            summary.events += prune_organization(store, org, retention_days).await?;
        }
        match organizations.last() {
            Some(&last) if organizations.len() == ORGANIZATIONS_PER_PAGE as usize => {
                after = Some(last);
            }
            _ => return Ok(summary),
        }
    }
}

async fn prune_organization(
    store: &Store,
    org: OrgId,
    retention_days: NonZeroU32,
) -> Result<u64, StoreError> {
    let tenant = store.tenant(org);
    let mut after_seq = 0;
    let mut pruned = 0;
    for _ in 0..BATCHES_PER_ORGANIZATION_MAX {
        let batch = tenant
            .prune_events(retention_days, after_seq, PRUNE_EVENTS_PER_BATCH)
            .await?;
        pruned += batch.pruned;
        let Some(next) = batch.next_after_seq else {
            break;
        };
        after_seq = next;
        // Writers queued for SQLite's single writer go before the next batch.
        tokio::task::yield_now().await;
    }
    Ok(pruned)
}
