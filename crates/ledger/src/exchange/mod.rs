//! Exchange formats: a book's accounts, dimension values and vouchers in and out of Kingdee Cloud
//! Galaxy, Yonyou U8, SAF-T Financial and CSV, without losing a voucher.
//!
//! Every adapter works on [`Books`], the canonical content of a book for a range of periods. An export
//! returns the bytes and a [`Report`]; an import returns `Books` and a `Report`. What a format cannot carry
//! is counted in [`Report::not_carried`], never silently dropped; doubtful data a file holds (balances that
//! do not add up, numbers that had to be reassigned) is listed in [`Report::warnings`]. An import refuses
//! only what cannot be booked, with an [`ExchangeError`] that says where.
//!
//! Round-trip law (property-tested): canonical → format → canonical is the identity on what the format
//! carries; in particular the vouchers' date, word, number, lines (summary, account, dimensions, amounts,
//! currency) survive every format.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;

use crate::account::{Account, AccountCode, Dimension};
use crate::book::Currency;
use crate::money;
use crate::voucher::{Voucher, VoucherState};

pub mod csv;
pub mod kingdee;
pub mod saft;
mod saft_read;
pub mod xml;
pub mod yonyou;

/// The formats Tenon reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Kingdee,
    YonyouU8,
    Saft,
    Csv,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Kingdee, Format::YonyouU8, Format::Saft, Format::Csv];
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Kingdee => "kingdee",
            Format::YonyouU8 => "yonyou-u8",
            Format::Saft => "saft",
            Format::Csv => "csv",
        }
    }
    pub fn parse(raw: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == raw)
            .ok_or_else(|| format!("{raw:?} is not a format; use kingdee, yonyou-u8, saft or csv"))
    }
}

/// A customer, supplier, department, employee, project or item as the books know it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DimensionValue {
    pub dimension: Dimension,
    /// What voucher lines name (the value of `dimensions.customer`).
    pub code: String,
    pub name: String,
}

/// The canonical content of a book for a range of periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    pub name: String,
    pub base_currency: Currency,
    pub fiscal_year_start_month: u32,
    pub accounts: Vec<Account>,
    pub dimension_values: Vec<DimensionValue>,
    /// Ordered by period, word, number.
    pub vouchers: Vec<Voucher>,
    /// Posted net (debit − credit) before the first period, per leaf account: SAF-T opening balances.
    pub opening: BTreeMap<AccountCode, Decimal>,
}

impl Books {
    pub fn new(name: &str, base_currency: Currency) -> Books {
        Books {
            name: name.to_owned(),
            base_currency,
            fiscal_year_start_month: 1,
            accounts: Vec::new(),
            dimension_values: Vec::new(),
            vouchers: Vec::new(),
            opening: BTreeMap::new(),
        }
    }

    pub fn sort(&mut self) {
        self.vouchers.sort_by_key(|v| (v.period, v.word, v.number));
        self.accounts.sort_by(|a, b| a.code.cmp(&b.code));
        self.dimension_values.sort();
    }
}

/// What an export or import did, for a person to check against the other system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub accounts: usize,
    pub vouchers: usize,
    pub lines: usize,
    pub total_debit: Decimal,
    pub total_credit: Decimal,
    /// Vouchers per state.
    pub states: BTreeMap<&'static str, usize>,
    /// What the format could not carry → how many values.
    pub not_carried: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
}

/// Most warnings listed one by one; the rest are counted in the last entry.
pub const WARNINGS_MAX: usize = 200;

impl Report {
    pub fn count(books: &Books) -> Report {
        let mut report = Report {
            accounts: books.accounts.len(),
            ..Report::default()
        };
        for voucher in &books.vouchers {
            report.vouchers += 1;
            report.lines += voucher.lines.len();
            report.total_debit += voucher.total_debit();
            report.total_credit += voucher.total_credit();
            *report.states.entry(voucher.state.as_str()).or_default() += 1;
        }
        report.total_debit = money::rescaled(report.total_debit, money::AMOUNT_SCALE);
        report.total_credit = money::rescaled(report.total_credit, money::AMOUNT_SCALE);
        report
    }

    pub fn lost(&mut self, what: impl Into<String>, count: usize) {
        if count > 0 {
            *self.not_carried.entry(what.into()).or_default() += count;
        }
    }

    pub fn warn(&mut self, warning: impl Into<String>) {
        if self.warnings.len() < WARNINGS_MAX {
            self.warnings.push(warning.into());
        } else if self.warnings.len() == WARNINGS_MAX {
            self.warnings.push("… more warnings left out".to_owned());
        }
    }

    /// Counts the vouchers whose state a format that records no state cannot carry.
    pub(crate) fn lose_unposted(&mut self, books: &Books, format: &str) {
        let unposted = books
            .vouchers
            .iter()
            .filter(|voucher| voucher.state != VoucherState::Posted)
            .count();
        self.lost(
            format!("voucher state (draft/reviewed vouchers import as posted from {format})"),
            unposted,
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "accounts: {}", self.accounts)?;
        writeln!(f, "vouchers: {}", self.vouchers)?;
        for (state, count) in &self.states {
            writeln!(f, "  {state}: {count}")?;
        }
        writeln!(f, "lines: {}", self.lines)?;
        writeln!(f, "total debit: {}", money::amount_text(self.total_debit))?;
        writeln!(f, "total credit: {}", money::amount_text(self.total_credit))?;
        for (what, count) in &self.not_carried {
            writeln!(f, "not carried: {what}: {count}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// A file that cannot be booked: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct ExchangeError {
    pub location: String,
    pub reason: String,
}

impl ExchangeError {
    pub fn at(location: impl Into<String>, reason: impl Into<String>) -> ExchangeError {
        ExchangeError {
            location: location.into(),
            reason: reason.into(),
        }
    }
}

/// Options of the vendor adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Kingdee `FDetailID` flex slot per dimension (e.g. customer → `FFLEX6`); slots vary by tenant.
    pub kingdee_slots: BTreeMap<Dimension, String>,
    /// SAF-T `AuditFileDateCreated`; without it, the last day of the last period exported.
    pub created_on: Option<chrono::NaiveDate>,
    /// SAF-T `AuditFileCountry` (ISO 3166 alpha-2).
    pub country: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kingdee_slots: [
                (Dimension::Supplier, "FFLEX4"),
                (Dimension::Department, "FFLEX5"),
                (Dimension::Customer, "FFLEX6"),
                (Dimension::Employee, "FFLEX7"),
            ]
            .into_iter()
            .map(|(dimension, slot)| (dimension, slot.to_owned()))
            .collect(),
            created_on: None,
            country: "CN".to_owned(),
        }
    }
}

/// Writes `books` in `format`.
pub fn export(
    format: Format,
    books: &Books,
    options: &Options,
) -> Result<(Vec<u8>, Report), ExchangeError> {
    match format {
        Format::Kingdee => kingdee::export(books, options),
        Format::YonyouU8 => yonyou::export(books),
        Format::Saft => saft::export(books, options),
        Format::Csv => csv::export(books),
    }
}

/// Reads a file of `format`. `book_name` and `base_currency` apply where the file does not say.
pub fn import(
    format: Format,
    bytes: &[u8],
    options: &Options,
    book_name: &str,
    base_currency: Currency,
) -> Result<(Books, Report), ExchangeError> {
    let (mut books, mut report) = match format {
        Format::Kingdee => kingdee::import(bytes, options, book_name, base_currency)?,
        Format::YonyouU8 => yonyou::import(bytes, book_name, base_currency)?,
        Format::Saft => saft_read::import(bytes, book_name)?,
        Format::Csv => csv::import(bytes, book_name, base_currency)?,
    };
    books.sort();
    let counted = Report::count(&books);
    report.accounts = counted.accounts;
    report.vouchers = counted.vouchers;
    report.lines = counted.lines;
    report.total_debit = counted.total_debit;
    report.total_credit = counted.total_credit;
    report.states = counted.states;
    Ok((books, report))
}

/// Parses a decimal field of a file.
pub(crate) fn decimal(raw: &str, scale: u32, location: &str) -> Result<Decimal, ExchangeError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(money::rescaled(Decimal::ZERO, scale));
    }
    money::parse_scaled(trimmed, scale).map_err(|reason| ExchangeError::at(location, reason))
}
