//! The book's row lock (PostgreSQL): a close, an openings replacement and a voucher in the periods they
//! concern take turns, and each checks what the other committed — under READ COMMITTED a check made
//! before the other's commit would otherwise pass and its write land in a closed period. SQLite's single
//! writer serialises these writers already, so these tests run on PostgreSQL only.
//!
//! A test transaction plays the other writer: it changes or locks the book's row and stays open until
//! the store's writer is seen waiting for that row (`pg_stat_activity`), then commits. No sleeps decide
//! the outcome.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_ledger::opening::{Opening, Openings};
use tenon_ledger::voucher::VoucherDraft;
use tenon_ledger::{
    AccountCode, BookSettings, Currency, Line, Period, Standard, VoucherState, Word,
};
use tenon_model::DetailCode;
use tenon_store::ledger::{Book, BookRef, CloseOptions};
use tenon_store::testing::{OpenTx, TestBackend, wait_for_blocked_statements};
use tenon_store::{Store, StoreError, WriteContext};

use crate::new_org;

/// The statement a writer runs first in its transaction to take the book's row.
const BOOK_LOCK: &str = "FROM ledger_books WHERE organization_id = $1 AND name = $2 FOR";

async fn book_of(store: &Store) -> (tenon_model::OrgId, Book) {
    let (org, _) = new_org(store, "锁").await;
    let book = store
        .tenant(org.id)
        .create_ledger_book(
            &WriteContext::system(),
            BookSettings {
                name: "主账套".to_owned(),
                base_currency: Currency::CNY,
                standard: Standard::Cas,
                fiscal_year_start_month: 1,
                segregation_of_duties: false,
            },
        )
        .await
        .unwrap();
    (org.id, book)
}

fn openings() -> Openings {
    let entry = |account: &str, debit: i64, credit: i64| {
        Opening::simple(
            AccountCode::parse(account).unwrap(),
            Decimal::new(debit, 2),
            Decimal::new(credit, 2),
        )
    };
    Openings {
        period: Period::parse("2026-01").unwrap(),
        balances: vec![entry("1002", 10_000, 0), entry("4001", 0, 10_000)],
    }
}

fn cash_in(date: NaiveDate) -> VoucherDraft {
    let amount = Decimal::new(5_000, 2);
    VoucherDraft {
        date,
        word: Word::Ji,
        attachments: 0,
        lines: vec![
            Line::simple(
                "投入",
                AccountCode::parse("1001").unwrap(),
                amount,
                Decimal::ZERO,
            ),
            Line::simple(
                "投入",
                AccountCode::parse("4001").unwrap(),
                Decimal::ZERO,
                amount,
            ),
        ],
    }
}

fn is_period_closed(error: &StoreError) -> bool {
    match error {
        StoreError::Invalid(invalid) => {
            invalid.0.iter().any(|e| e.code == DetailCode::PeriodClosed)
        }
        StoreError::Conflict { code, .. } => *code == DetailCode::PeriodClosed,
        _ => false,
    }
}

/// A transaction holding the book's row as a voucher writer does.
async fn voucher_writer(store: &Store, book: &Book) -> OpenTx {
    let mut voucher = OpenTx::begin(store).await;
    voucher
        .execute(format!(
            "SELECT id FROM ledger_books WHERE id = '{}' FOR SHARE",
            book.id.as_uuid()
        ))
        .await;
    voucher
}

/// A close in flight (the row changed, not committed): the openings writer and a voucher writer wait for
/// it, then see the period closed and refuse — without the lock both read the old row and write.
#[tokio::test]
async fn writers_wait_for_a_close_in_flight_and_then_see_it() {
    crate::run(TestBackend::Postgres, |store| async move {
        let (org, book) = book_of(&store).await;
        let mut close = OpenTx::begin(&store).await;
        close
            .execute(format!(
                "UPDATE ledger_books SET closed_through = 202610 WHERE id = '{}'",
                book.id.as_uuid()
            ))
            .await;
        let writer = store.clone();
        let replacing = tokio::spawn(async move {
            writer
                .tenant(org)
                .set_ledger_openings(
                    &WriteContext::system(),
                    &BookRef::name("主账套"),
                    openings(),
                )
                .await
        });
        let writer = store.clone();
        let posting = tokio::spawn(async move {
            let draft = cash_in(NaiveDate::from_ymd_opt(2026, 10, 8).unwrap());
            writer
                .tenant(org)
                .create_vouchers(
                    &WriteContext::system(),
                    &BookRef::name("主账套"),
                    vec![draft],
                    VoucherState::Posted,
                )
                .await
        });
        // Both are queued behind the close before it commits.
        wait_for_blocked_statements(&store, BOOK_LOCK, 2).await;
        close.commit().await;
        let replaced = replacing.await.unwrap().unwrap_err();
        assert!(is_period_closed(&replaced), "{replaced:?}");
        let posted = posting.await.unwrap().unwrap_err();
        assert!(is_period_closed(&posted), "{posted:?}");
        let (stored, kept) = store
            .tenant(org)
            .ledger_openings(&BookRef::name("主账套"))
            .await
            .unwrap();
        assert_eq!((stored.opening_period, kept), (None, None));
        assert!(
            store
                .tenant(org)
                .list_vouchers(&BookRef::name("主账套"), Period::parse("2026-10").unwrap())
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

/// A voucher writer in flight holds the row shared: closing and replacing the openings wait for it.
#[tokio::test]
async fn a_close_and_an_openings_replacement_wait_for_a_voucher_writer_in_flight() {
    crate::run(TestBackend::Postgres, |store| async move {
        let (org, book) = book_of(&store).await;
        let voucher = voucher_writer(&store, &book).await;
        let writer = store.clone();
        let closing = tokio::spawn(async move {
            writer
                .tenant(org)
                .close_ledger_periods(
                    &WriteContext::system(),
                    &BookRef::name("主账套"),
                    Period::parse("2026-09").unwrap(),
                    CloseOptions::default(),
                )
                .await
        });
        wait_for_blocked_statements(&store, BOOK_LOCK, 1).await;
        assert!(!closing.is_finished());
        voucher.commit().await;
        let closed = closing.await.unwrap().unwrap();
        assert_eq!(
            closed.closed_through,
            Some(Period::parse("2026-09").unwrap())
        );

        let voucher = voucher_writer(&store, &book).await;
        let writer = store.clone();
        let replacing = tokio::spawn(async move {
            let mut later = openings();
            later.period = Period::parse("2026-10").unwrap();
            writer
                .tenant(org)
                .set_ledger_openings(&WriteContext::system(), &BookRef::name("主账套"), later)
                .await
        });
        wait_for_blocked_statements(&store, BOOK_LOCK, 1).await;
        assert!(!replacing.is_finished());
        voucher.commit().await;
        let (replaced, _) = replacing.await.unwrap().unwrap();
        assert_eq!(
            replaced.opening_period,
            Some(Period::parse("2026-10").unwrap())
        );
    })
    .await;
}
