//! The flows that watch a table are kept per node with its schema (every record write asks for them):
//! a flow published, enabled or disabled through one node is seen by that node's next write at once,
//! and by another node's within its cache sync (the `schema` epoch the flows table bumps).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestApp;
use crate::flow_steps::{ORDERS, crm, import};

fn watch(enabled: bool) -> Value {
    json!([{
        "key": "watch", "enabled": enabled, "trigger": {"record": "orders", "on": "created"},
        "steps": [{"key": "t", "type": "create_record", "table": "tally",
                   "fields": {"customer": "{trigger.fields.客户}"}}]
    }])
}

/// How many runs the flow `watch` has (all of them: a page holds up to 1,000).
async fn runs(node: &TestApp) -> usize {
    node.get("/api/v1/flows/watch/runs?page_size=1000", &node.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .len()
}

/// Creates an order through `node` as `token` (node a's administrator, whichever node serves it).
async fn order(node: &TestApp, token: &str, customer: &str) {
    node.post(ORDERS, token, json!({"fields": {"customer": customer}}))
        .await
        .expect(StatusCode::CREATED);
}

async fn flows_watching_a_table_are_seen_by_the_next_write_on_every_node(
    backend: tenon_store::testing::TestBackend,
) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let a = TestApp::spawn(&database, config.clone()).await;
    let b = TestApp::spawn(&database, config).await;
    let token = a.admin_token.clone();
    import(&a, crm(json!([]))).await.expect(StatusCode::CREATED);
    // Both nodes write an order while no flow watches the table (and keep that).
    order(&a, &token, "A1").await;
    order(&b, &token, "B1").await;

    // Published through node a: node a's next write starts a run.
    import(&a, crm(watch(true))).await.expect(StatusCode::OK);
    order(&a, &token, "A2").await;
    assert_eq!(runs(&a).await, 1);
    // (The import also changed the app, so node b would see the flow without it; it does.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while runs(&a).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node b's writes never started a run of the flow node a published"
        );
        n += 1;
        order(&b, &token, &format!("B2-{n}")).await;
    }

    // Disabled through node a (only the flow's row changes): node a's next write starts none at once,
    // node b's within its sync interval (a generous deadline bounds it, not a wall-clock guess).
    a.patch("/api/v1/flows/watch", &token, json!({"enabled": false}))
        .await
        .expect(StatusCode::OK);
    let before = runs(&a).await;
    order(&a, &token, "A3").await;
    assert_eq!(runs(&a).await, before);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let before = runs(&a).await;
        n += 1;
        order(&b, &token, &format!("B3-{n}")).await;
        if runs(&a).await == before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node b's writes still start runs of the flow node a disabled"
        );
    }

    b.stop().await;
    a.stop().await;
    database.cleanup().await;
}

mod flows_watching_a_table_are_seen_by_the_next_write_on_every_node {
    #[tokio::test]
    async fn sqlite() {
        super::flows_watching_a_table_are_seen_by_the_next_write_on_every_node(
            tenon_store::testing::TestBackend::Sqlite,
        )
        .await;
    }

    #[tokio::test]
    async fn postgres() {
        super::flows_watching_a_table_are_seen_by_the_next_write_on_every_node(
            tenon_store::testing::TestBackend::Postgres,
        )
        .await;
    }
}
