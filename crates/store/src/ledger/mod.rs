//! The ledger's storage: books, charts, vouchers, posted balances, numbering and record links.
//!
//! Every rule about what may be written comes from `tenon-ledger` (`check_voucher`, `review`, `post`,
//! `reversal_of`, rules); this module decides nothing about accounting, it persists and serializes. Three
//! things are its own: numbers are taken from `ledger_numbers` inside the writing transaction (the row
//! lock on PostgreSQL, the single writer on SQLite), so numbers have no gaps or duplicates; posting adds the
//! voucher's lines to `ledger_balances` in the same transaction; and a closed period refuses writes.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Postgres, Sqlite, Type};
use tenon_ledger::{BookSettings, Period, Voucher};
use uuid::Uuid;

use crate::StoreError;

mod books;
mod detail;
mod exchange;
mod records;
mod reports;
mod unnest;
mod vouchers;
mod write;

pub use detail::{DETAIL_LINES_MAX, Detail, DetailEntry, DetailQuery, REPORT_PERIODS_MAX};
pub use exchange::{ImportOutcome, ImportProgress};
pub use records::{FromRecord, RecordOutcome, RecordResult};
pub use reports::Numbering;
pub use vouchers::VOUCHERS_PER_WRITE_MAX;

/// A stored book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub id: Uuid,
    pub settings: BookSettings,
    /// Periods up to and including this one are closed.
    pub closed_through: Option<Period>,
    pub created_at: DateTime<Utc>,
}

/// A stored voucher with its identity and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoucher {
    pub id: Uuid,
    pub book_id: Uuid,
    pub voucher: Voucher,
    /// The voucher this one reverses (红字冲销).
    pub reverses_id: Option<Uuid>,
    /// The red voucher that reversed this one.
    pub reversed_by_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// An exact decimal column: `NUMERIC` on PostgreSQL, an integer of 10^-S units on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scaled<const S: u32>(pub Decimal);

impl<const S: u32> Type<Postgres> for Scaled<S> {
    fn type_info() -> PgTypeInfo {
        <Decimal as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <Decimal as Type<Postgres>>::compatible(ty)
    }
}

impl<'r, const S: u32> Decode<'r, Postgres> for Scaled<S> {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Scaled(tenon_ledger::money::rescaled(
            <Decimal as Decode<Postgres>>::decode(value)?,
            S,
        )))
    }
}

impl<const S: u32> Type<Sqlite> for Scaled<S> {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r, const S: u32> Decode<'r, Sqlite> for Scaled<S> {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Scaled(tenon_ledger::money::from_scaled_i64(
            <i64 as Decode<Sqlite>>::decode(value)?,
            S,
        )))
    }
}

pub(crate) fn amount(value: Decimal) -> crate::exec::Arg {
    crate::exec::Arg::Scaled(Some(value), tenon_ledger::AMOUNT_SCALE)
}

pub(crate) fn scaled(value: Option<Decimal>, scale: u32) -> crate::exec::Arg {
    crate::exec::Arg::Scaled(value, scale)
}

pub(crate) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("ledger {what} {value} does not parse"))
}

/// A ledger refusal that is about the data, with the field it concerns.
pub(crate) fn invalid(
    field: &str,
    code: tenon_model::DetailCode,
    reason: impl Into<String>,
) -> StoreError {
    StoreError::Invalid(tenon_model::Invalid::one(field, code, reason))
}
