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
use tenon_model::{BookId, VoucherId};

use crate::StoreError;

mod books;
mod closing;
mod codes;
mod definitions;
mod detail;
mod drafts;
mod exchange;
mod openings;
mod records;
mod reports;
mod rules;
mod statements;
mod unnest;
mod vouchers;
mod write;

pub use closing::CloseOptions;
pub use codes::{BookChange, DimensionValueChange, StoredDimensionValue};
pub use definitions::{DefinitionInput, DefinitionSource, StoredDefinition};
pub use detail::{DETAIL_LINES_MAX, Detail, DetailEntry, DetailQuery, REPORT_PERIODS_MAX};
pub use drafts::Renumbered;
pub use exchange::{ImportOutcome, ImportProgress};
pub use records::{FromRecord, RecordOutcome, RecordResult};
pub use reports::Numbering;
pub use rules::{StoredRule, SyncOutcome, rule_scope};
pub use statements::{Statement, StatementLine};
pub use vouchers::VOUCHERS_PER_WRITE_MAX;

/// How a caller names a book: by its id, or by its exact name (the API's `{book}` takes either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookRef {
    Id(BookId),
    Name(String),
}

impl BookRef {
    /// The book with this exact name.
    pub fn name(name: impl Into<String>) -> Self {
        Self::Name(name.into())
    }

    /// An id in its canonical text form names the book with that id; any other text is a name.
    pub fn parse(text: &str) -> Self {
        text.parse::<BookId>()
            .map_or_else(|_| Self::Name(text.to_owned()), Self::Id)
    }
}

impl From<BookId> for BookRef {
    fn from(id: BookId) -> Self {
        Self::Id(id)
    }
}

impl std::fmt::Display for BookRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// How a writing transaction locks its book's row (`Tenant::find_book_locked`). Writers of vouchers share
/// it, so they run side by side; what changes the facts they check — closing and reopening periods,
/// replacing the openings, a new statement definition — takes it alone. So a close, an openings
/// replacement and a voucher in the periods they concern are serialised in either order, each checking
/// the other's committed result. Taken first in its transaction, before any other lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BookLock {
    Share,
    Update,
}

/// A stored book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub id: BookId,
    pub settings: BookSettings,
    /// The code other systems know the book by (Kingdee `FAccountBookID.FNumber`).
    pub code: String,
    /// The company's 统一社会信用代码, which SAF-T exports write.
    pub tax_registration_number: Option<String>,
    /// Periods up to and including this one are closed.
    pub closed_through: Option<Period>,
    /// The first period the book keeps, which its opening balances open (`None`: no openings given).
    pub opening_period: Option<Period>,
    /// Totals of the opening balances (zero without them); they differ only for an imported book whose
    /// file's openings did not balance, until they are corrected.
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
    pub created_at: DateTime<Utc>,
}

impl Book {
    /// Whether the opening balances balance (true without openings).
    pub fn opening_balanced(&self) -> bool {
        self.opening_debit == self.opening_credit
    }
}

/// A stored voucher with its identity and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoucher {
    pub id: VoucherId,
    pub book_id: BookId,
    pub voucher: Voucher,
    /// The voucher this one reverses (红字冲销).
    pub reverses_id: Option<VoucherId>,
    /// The red voucher that reversed this one.
    pub reversed_by_id: Option<VoucherId>,
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
