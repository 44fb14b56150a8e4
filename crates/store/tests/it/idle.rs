//! What background loops do when there is nothing to do. Every write transaction that commits wakes
//! every task waiting on `Store::commits` (event workers, flow workers, the approval timer task); a
//! loop whose idle check commits would wake itself and spin. This is how the approval timer task spun
//! thousands of times a second before its idle check stopped committing.

use std::time::Duration;

use chrono::TimeDelta;

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

backend_tests! {
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
