//! Store tests. Every test runs twice, on SQLite and on PostgreSQL, each time on a fresh database.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use chrono::{TimeZone as _, Utc};
use tenon_model::{Email, Locale, Name, NewMember, OptionalText, Role, TimeZone};
use tenon_store::testing::{TestBackend, TestDatabase};
use tenon_store::{ManualClock, NewOrganization, Store, WriteContext};

mod access_cache;
mod approvals;
mod apps;
mod authors;
mod cache;
mod credentials;
mod deliveries;
mod directory;
mod events;
mod form_uploads;
mod idle;
mod indexes;
mod ledger;
mod ledger_locks;
mod pow_spent;
mod retention;
mod schema_props;
mod stream;

/// Declares tests that run on both backends: `backend_tests! { async fn name(store) { … } }`.
macro_rules! backend_tests {
    ($(async fn $name:ident($store:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $crate::run(tenon_store::testing::TestBackend::Sqlite, |$store| async move $body).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::run(tenon_store::testing::TestBackend::Postgres, |$store| async move $body).await
            }
        }
    )*};
}
pub(crate) use backend_tests;

pub async fn run<F, Fut>(backend: TestBackend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let database = TestDatabase::create(backend).await;
    let store = Store::connect(&database.config, manual_clock())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    test(store.clone()).await;
    store.close().await;
    database.cleanup().await;
}

/// The store's clock in every test: it reads 2026-11-25 09:00 UTC until the test moves it, so no test
/// depends on how fast the machine runs.
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
    ))
}

/// Like [`run`], with the clock given to the test to move.
pub async fn run_with_clock<F, Fut>(backend: TestBackend, test: F)
where
    F: FnOnce(Store, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = ()>,
{
    let database = TestDatabase::create(backend).await;
    let clock = manual_clock();
    let store = Store::connect(&database.config, clock.clone())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    test(store.clone(), clock).await;
    store.close().await;
    database.cleanup().await;
}

/// Like `backend_tests!`, with the store's manual clock: `clock_tests! { async fn name(store, clock) { … } }`.
macro_rules! clock_tests {
    ($(async fn $name:ident($store:ident, $clock:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $crate::run_with_clock(tenon_store::testing::TestBackend::Sqlite, |$store, $clock| async move $body).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::run_with_clock(tenon_store::testing::TestBackend::Postgres, |$store, $clock| async move $body).await
            }
        }
    )*};
}
pub(crate) use clock_tests;

pub fn new_member(name: &str, email: Option<&str>) -> NewMember {
    NewMember {
        name: Name::parse(name).unwrap(),
        email: email.map(|email| Email::parse(email).unwrap()),
        mobile: None,
        job_title: OptionalText::NONE,
        employee_no: OptionalText::NONE,
        role: Role::Member,
        department_ids: vec![],
        password_hash: None,
    }
}

pub async fn new_org(
    store: &Store,
    name: &str,
) -> (tenon_model::Organization, tenon_model::Member) {
    store
        .create_organization(
            &WriteContext::system(),
            NewOrganization {
                name: Name::parse(name).unwrap(),
                time_zone: TimeZone::SHANGHAI,
                locale: Locale::ZhCn,
                owner: new_member("老板", Some(&format!("owner@{}.example", uuid_suffix()))),
            },
        )
        .await
        .expect("create organization")
}

pub fn uuid_suffix() -> String {
    tenon_model::OrgId::new().to_string()[24..].to_owned()
}
