//! What background loops do when there is nothing to do, and whom a commit wakes. Every write
//! transaction that commits wakes every task waiting on `Store::commits` (the event streams), and the
//! workers whose work it made (`Store::work_made`); a loop whose idle check commits would wake itself and
//! spin. This is how the approval timer task spun thousands of times a second before its idle check
//! stopped committing.

use std::time::Duration;

use chrono::TimeDelta;

use tenon_model::TimeZone;
use tenon_store::{Work, WriteContext};

use crate::backend_tests;

/// Whether `store.commits()` was woken while `work` ran (a wake is synchronous at commit, so the
/// notification is ready by the time `work` returns; a zero timeout polls it once).
async fn wakes<F: std::future::Future>(store: &tenon_store::Store, work: F) -> bool {
    let notified = store.commits().notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    work.await;
    tokio::time::timeout(Duration::ZERO, &mut notified)
        .await
        .is_ok()
}

/// Which workers' signals `work` woke, in the order deliveries, flow runs, approval timers.
async fn work_woken<F: std::future::Future>(store: &tenon_store::Store, work: F) -> [bool; 3] {
    let deliveries = store.work_made(Work::Deliveries).notified();
    let flows = store.work_made(Work::FlowRuns).notified();
    let timers = store.work_made(Work::ApprovalTimers).notified();
    tokio::pin!(deliveries, flows, timers);
    deliveries.as_mut().enable();
    flows.as_mut().enable();
    timers.as_mut().enable();
    work.await;
    let mut woken = [false; 3];
    for (woke, notified) in woken.iter_mut().zip([deliveries, flows, timers]) {
        *woke = tokio::time::timeout(Duration::ZERO, notified).await.is_ok();
    }
    woken
}

backend_tests! {
    async fn a_record_write_wakes_the_delivery_workers_alone(store) {
        let (org, _) = crate::new_org(&store, "Signals").await;
        let schema = crate::events::notes_table(&store, org.id).await;
        let tenant = store.tenant(org.id);
        let row = crate::events::row(&schema, serde_json::json!({"title": "a"}));
        let woken = work_woken(&store, async {
            tenant
                .create_records(&WriteContext::system(), &schema, vec![row], TimeZone::SHANGHAI, None)
                .await
                .unwrap();
        })
        .await;
        assert_eq!(woken, [true, false, false], "its event wakes the delivery workers; no flow or timer is due");
        // Waking every worker (the test clock moved) wakes all three.
        let woken = work_woken(&store, async { store.wake_workers() }).await;
        assert_eq!(woken, [true, true, true]);
    }


    async fn checking_for_due_approval_timers_when_none_are_due_commits_nothing(store) {
        let lease_until = store.now() + TimeDelta::seconds(60);
        let woke = wakes(&store, async {
            let leased = store.lease_due_approval_timers(50, lease_until).await.unwrap();
            assert!(leased.is_empty());
        }).await;
        assert!(!woke, "an idle check must not wake the commit waiters");
        // The probe itself can tell a wake: a commit does wake it.
        let woke = wakes(&store, crate::new_org(&store, "Wakes too")).await;
        assert!(woke, "a committed write wakes the waiters");
    }
}
