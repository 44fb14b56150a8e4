//! Public forms' used proofs of work (#23): shared by the nodes of one database, forgotten after they
//! expire; the key they are signed with is the same on nodes with the same secret key file.

use chrono::TimeDelta;
use tenon_store::Store;
use tenon_store::connections::SecretKey;
use tenon_store::testing::{TestBackend, TestDatabase};

use crate::manual_clock;

fn key(seed: u8) -> SecretKey {
    SecretKey::from_bytes(&[seed; 32]).unwrap()
}

async fn a_challenge_is_spent_once_across_nodes(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    let clock = manual_clock();
    let a = Store::connect(&database.config, clock.clone())
        .await
        .expect("connect")
        .with_secret_key(key(1));
    a.migrate().await.expect("migrate");
    let b = Store::connect(&database.config, clock.clone())
        .await
        .expect("connect")
        .with_secret_key(key(1));
    let expires = a.now().timestamp() + 60;
    assert!(a.spend_challenge("c1", expires).await.unwrap());
    assert!(
        !b.spend_challenge("c1", expires).await.unwrap(),
        "node b sees node a's use"
    );
    assert!(
        !a.spend_challenge("c1", expires).await.unwrap(),
        "and so does node a"
    );
    assert!(b.spend_challenge("c2", expires + 120).await.unwrap());

    // The same key file signs alike on both nodes; another purpose or another file, not.
    let signing = a.derived_key("public-form proof of work");
    assert!(signing.is_some());
    assert_eq!(signing, b.derived_key("public-form proof of work"));
    assert_ne!(signing, a.derived_key("something else"));
    let other = Store::connect(&database.config, clock.clone())
        .await
        .expect("connect");
    assert_eq!(other.derived_key("public-form proof of work"), None);
    let other = other.with_secret_key(key(2));
    assert_ne!(other.derived_key("public-form proof of work"), signing);

    // Past its expiry a used challenge is forgotten (it is refused as expired by then); the other stays.
    clock.advance(TimeDelta::seconds(61));
    assert_eq!(a.purge_spent_challenges().await.unwrap(), 1);
    assert!(
        !a.spend_challenge("c2", expires + 120).await.unwrap(),
        "c2 is still used"
    );
    clock.advance(TimeDelta::seconds(120));
    assert_eq!(b.purge_spent_challenges().await.unwrap(), 1);

    other.close().await;
    b.close().await;
    a.close().await;
    database.cleanup().await;
}

#[tokio::test]
async fn sqlite() {
    a_challenge_is_spent_once_across_nodes(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    a_challenge_is_spent_once_across_nodes(TestBackend::Postgres).await;
}
