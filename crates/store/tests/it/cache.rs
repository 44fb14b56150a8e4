//! The per-node caches of credentials and schemas: two stores on one database play two nodes. A change
//! made through a node is seen by that node at once and by the other within the sync interval.

use std::time::Duration;

use serde_json::json;
use tenon_model::apps::{ParseContext, TableSchema};
use tenon_model::{Name, Scope, ScopeSet, TimeZone};
use tenon_store::testing::{TestBackend, TestDatabase};
use tenon_store::{NewToken, Store, WriteContext};

use crate::apps::spec;
use crate::new_org;

const PARSE: ParseContext = ParseContext {
    org_time_zone: TimeZone::SHANGHAI,
};

pub(crate) async fn node(database: &TestDatabase) -> Store {
    let store = Store::connect(&database.config, crate::manual_clock())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

/// Waits (up to a generous bound, polling) until `done` holds; the bound is for a stalled machine, the
/// expected wait is one sync interval.
pub(crate) async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The notes table's schema as `store` (one node) sees it now.
async fn notes(store: &Store, org: tenon_model::OrgId, app_key: &str) -> TableSchema {
    store
        .tenant(org)
        .table_schema(app_key, "notes")
        .await
        .unwrap()
}

/// Adds a field to the notes table through `store` (one node).
pub(crate) async fn add_field(
    store: &Store,
    org: tenon_model::OrgId,
    app_key: &str,
    key: &str,
    kind: &str,
) {
    let schema = notes(store, org, app_key).await;
    store
        .tenant(org)
        .add_field(
            &WriteContext::system(),
            &schema,
            spec(key, key, kind, json!({})),
            &PARSE,
        )
        .await
        .unwrap();
}

async fn two_nodes_share_one_database(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    let a = node(&database).await;
    let b = node(&database).await;
    eventually("node a reads the cache epochs", || async {
        a.cache_stats().fresh
    })
    .await;

    // Credentials: a caches a token; revoking it through a is seen at once, through b within the interval.
    let (org, owner) = new_org(&a, "Two nodes").await;
    let ctx = WriteContext::system();
    let mut digests = Vec::new();
    for seed in [1u8, 2] {
        let digest = [seed; 32];
        a.tenant(org.id)
            .create_token(
                &ctx,
                NewToken {
                    name: Name::parse("t").unwrap(),
                    member_id: Some(owner.id),
                    scopes: ScopeSet::of([Scope::RecordsRead]),
                    rate_limit: None,
                    expires_at: None,
                    digest,
                },
            )
            .await
            .unwrap();
        digests.push(digest);
    }
    let hits = a.cache_stats().credential_hits;
    for digest in &digests {
        for _ in 0..3 {
            assert!(
                a.authenticate_token(digest)
                    .await
                    .unwrap()
                    .unwrap()
                    .token
                    .revoked_at
                    .is_none()
            );
        }
    }
    assert!(
        a.cache_stats().credential_hits >= hits + 4,
        "{:?}",
        a.cache_stats()
    );
    let first = a
        .authenticate_token(&digests[0])
        .await
        .unwrap()
        .unwrap()
        .token;
    a.tenant(org.id).revoke_token(&ctx, first.id).await.unwrap();
    assert!(
        a.authenticate_token(&digests[0])
            .await
            .unwrap()
            .unwrap()
            .token
            .revoked_at
            .is_some()
    );
    let second = a
        .authenticate_token(&digests[1])
        .await
        .unwrap()
        .unwrap()
        .token;
    b.tenant(org.id)
        .revoke_token(&ctx, second.id)
        .await
        .unwrap();
    eventually("node a sees node b's revocation", || async {
        a.authenticate_token(&digests[1])
            .await
            .unwrap()
            .unwrap()
            .token
            .revoked_at
            .is_some()
    })
    .await;

    // Schemas: a caches a table's schema; a field added through b appears on a within the interval, one
    // added through a at once.
    let app = crate::events::notes_table(&a, org.id).await.app;
    let app_key = app.key.as_str();
    let schema = notes(&a, org.id, app_key).await;
    let hits = a.cache_stats().schema_hits;
    assert_eq!(notes(&a, org.id, app_key).await, schema);
    assert_eq!(a.cache_stats().schema_hits, hits + 1);
    add_field(&b, org.id, app_key, "words", "number").await;
    eventually("node a sees the field node b added", || async {
        notes(&a, org.id, app_key)
            .await
            .field_by_key("words")
            .is_some()
    })
    .await;
    add_field(&a, org.id, app_key, "due", "date").await;
    assert!(
        notes(&a, org.id, app_key)
            .await
            .field_by_key("due")
            .is_some()
    );
    // Another organization never gets this one's schema, whatever the key.
    let (other, _) = new_org(&a, "Other").await;
    assert!(
        a.tenant(other.id)
            .table_schema(app_key, "notes")
            .await
            .is_err()
    );

    a.close().await;
    b.close().await;
    database.cleanup().await;
}

#[tokio::test]
async fn two_nodes_share_one_database_on_sqlite() {
    two_nodes_share_one_database(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn two_nodes_share_one_database_on_postgres() {
    two_nodes_share_one_database(TestBackend::Postgres).await;
}
