//! The approval timer task of each `tenon serve`: leases reminders and timeouts that came due (by the
//! store's clock, so the test clock moves them too) and fires them. It wakes on a local commit that set
//! timers and on a `POST /api/v1/_test/clock`, and polls at [`POLL`] for timers coming due by time alone
//! or set by other nodes.

use std::time::Duration;

use chrono::TimeDelta;
use tenon_store::{Store, Work};

/// How often an idle node looks for due timers.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a leased timer is this node's; a node that dies holding one leaves it to another after this.
const LEASE: TimeDelta = TimeDelta::seconds(60);
/// Timers leased at once.
const BATCH: u32 = 50;

pub(crate) fn spawn(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store))
}

async fn run(store: Store) {
    loop {
        let notified = store.work_made(Work::ApprovalTimers).notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match store
            .lease_due_approval_timers(BATCH, store.now() + LEASE)
            .await
        {
            Ok(timers) if !timers.is_empty() => {
                for timer in &timers {
                    match store.fire_approval_timer(timer).await {
                        Ok(acted) => tracing::info!(
                            task = %timer.task, kind = timer.kind.as_str(), acted, "approval timer fired"
                        ),
                        Err(error) => tracing::warn!(
                            %error, task = %timer.task, "approval timer failed; it fires again after its lease"
                        ),
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot lease approval timers"),
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
