//! The pools hand out connections without pinging each first (a round trip per transaction and read);
//! a connection that broke must still not fail more than one call.

use tenon_store::testing::{OpenTx, TestBackend};

/// PostgreSQL ends every session of the store's pool but the one that asks (as a restart would): at most
/// one call fails, the ones after it find working connections.
#[tokio::test]
async fn connections_ended_by_the_server_fail_one_call_at_most() {
    crate::run(TestBackend::Postgres, |store| async move {
        // Four connections in the pool, idle.
        let mut open = Vec::new();
        for _ in 0..4 {
            open.push(OpenTx::begin(&store).await);
        }
        for tx in open {
            tx.commit().await;
        }
        let ended = tenon_store::testing::fetch_strings(
            &store,
            "SELECT CAST(pg_terminate_backend(pid) AS TEXT) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()"
                .to_owned(),
        )
        .await;
        assert!(ended.len() >= 3, "ended {ended:?}");
        let mut failed = Vec::new();
        for _ in 0..20 {
            if let Err(error) = store.ping().await {
                failed.push(error.to_string());
            }
        }
        assert!(
            failed.len() <= 1,
            "{} of 20 calls failed: {failed:?}",
            failed.len()
        );
    })
    .await;
}
