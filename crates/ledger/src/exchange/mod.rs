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
use crate::opening::Opening;
use crate::period::Period;
use crate::voucher::{Voucher, VoucherState};

pub mod csv;
pub mod kingdee;
pub mod saft;
mod saft_read;
pub mod xml;
pub mod yonsuite;
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
    pub value: String,
    /// The code other systems know it by (Kingdee `FNumber`): given, or the next free code of its
    /// dimension ([`Dimension::next_code`]) when the value was first used; empty when unknown.
    pub code: String,
    pub name: String,
}

/// The canonical content of a book for a range of periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    pub name: String,
    /// The book's code (Kingdee `FAccountBookID.FNumber`); empty when unknown.
    pub code: String,
    /// The company's 统一社会信用代码 (SAF-T `RegistrationNumber` and `TaxRegistrationNumber`).
    pub tax_registration_number: Option<String>,
    pub base_currency: Currency,
    pub fiscal_year_start_month: u32,
    pub accounts: Vec<Account>,
    pub dimension_values: Vec<DimensionValue>,
    /// Ordered by period, word, number.
    pub vouchers: Vec<Voucher>,
    /// The balances before the first period, per leaf account and dimension values — a book's opening
    /// balances plus everything posted before — each on its side: SAF-T's opening balances (of accounts,
    /// and of customers and suppliers per control account), the CSV's `opening` rows. Ordered by key.
    pub openings: Vec<Opening>,
    /// The period the openings open (the first exported period); `None`: the first voucher's.
    pub opening_period: Option<Period>,
}

impl Books {
    pub fn new(name: &str, base_currency: Currency) -> Books {
        Books {
            name: name.to_owned(),
            code: String::new(),
            tax_registration_number: None,
            base_currency,
            fiscal_year_start_month: 1,
            accounts: Vec::new(),
            dimension_values: Vec::new(),
            vouchers: Vec::new(),
            openings: Vec::new(),
            opening_period: None,
        }
    }

    /// The code of a dimension value the lines name, when the books know one.
    pub fn value_code(&self, dimension: Dimension, value: &str) -> Option<&str> {
        self.dimension_values
            .iter()
            .find(|known| known.dimension == dimension && known.value == value)
            .map(|known| known.code.as_str())
            .filter(|code| !code.is_empty())
    }

    /// The openings' net (debit − credit) per leaf account.
    pub fn opening_by_account(&self) -> BTreeMap<AccountCode, Decimal> {
        let mut nets: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
        for opening in &self.openings {
            *nets.entry(opening.account.clone()).or_default() += opening.net();
        }
        nets
    }

    /// The openings' net per (value of `dimension`, account): a customer's or supplier's opening on each
    /// of its control accounts.
    pub fn opening_by_value(
        &self,
        dimension: Dimension,
    ) -> BTreeMap<(String, AccountCode), Decimal> {
        let mut nets: BTreeMap<(String, AccountCode), Decimal> = BTreeMap::new();
        for opening in &self.openings {
            if let Some(value) = opening.dimensions.get(&dimension) {
                *nets
                    .entry((value.clone(), opening.account.clone()))
                    .or_default() += opening.net();
            }
        }
        nets
    }

    pub fn sort(&mut self) {
        self.openings.sort_by_key(Opening::key);
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
    /// The openings read from the file: entries, debits and credits (they differ when the file's do
    /// not balance).
    pub openings: usize,
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
    /// Control accounts whose customers' or suppliers' openings in the file disagree with the account's
    /// own opening (the account's opening is imported as written).
    pub control_differences: Vec<ControlDifference>,
}

/// A control account (应收账款 1122, 应付账款 2202 …) whose parties' openings in a file differ from its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlDifference {
    pub account: AccountCode,
    /// The parties' openings on the account, per side.
    pub parties_debit: Decimal,
    pub parties_credit: Decimal,
    /// The account's own opening in the file, per side.
    pub account_debit: Decimal,
    pub account_credit: Decimal,
}

impl ControlDifference {
    /// Parties' net − the account's net.
    pub fn difference(&self) -> Decimal {
        (self.parties_debit - self.parties_credit) - (self.account_debit - self.account_credit)
    }
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
        let openings = crate::opening::totals(&books.openings);
        report.openings = books.openings.len();
        report.opening_debit = openings.debit;
        report.opening_credit = openings.credit;
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

    /// The code a vendor file writes for a dimension value the lines name: its code, or — when the books
    /// know none — the value itself, counted as not carried.
    pub(crate) fn coded<'b>(
        &mut self,
        books: &'b Books,
        dimension: Dimension,
        value: &'b str,
    ) -> &'b str {
        match books.value_code(dimension, value) {
            Some(code) => code,
            None => {
                self.lost(
                    format!(
                        "{} code (no code known: written as named)",
                        dimension.as_str()
                    ),
                    1,
                );
                value
            }
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
        if self.openings > 0 {
            writeln!(f, "openings: {}", self.openings)?;
            writeln!(
                f,
                "opening debit: {}",
                money::amount_text(self.opening_debit)
            )?;
            writeln!(
                f,
                "opening credit: {}",
                money::amount_text(self.opening_credit)
            )?;
            writeln!(
                f,
                "opening difference: {}",
                money::amount_text(self.opening_debit - self.opening_credit)
            )?;
        }
        for control in &self.control_differences {
            writeln!(
                f,
                "control account {}: parties' openings debit {} credit {}, the account's debit {} credit {} (difference {})",
                control.account,
                money::amount_text(control.parties_debit),
                money::amount_text(control.parties_credit),
                money::amount_text(control.account_debit),
                money::amount_text(control.account_credit),
                money::amount_text(control.difference())
            )?;
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
    /// SAF-T `AuditFileDateCreated`, the day of the export: the server and the CLI set it to today in the
    /// organization's time zone (this crate reads no clock); without it, the last day of the last period
    /// exported.
    pub created_on: Option<chrono::NaiveDate>,
    /// SAF-T `AuditFileCountry` (ISO 3166 alpha-2).
    pub country: String,
    /// The U8 EAI document to write ([`yonyou::DOCUMENTS`]): `voucher` unless asked.
    pub u8_document: &'static str,
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
            u8_document: "voucher",
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
        Format::YonyouU8 => yonyou::export(books, options.u8_document),
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
    let totals = crate::opening::totals(&books.openings);
    report.openings = books.openings.len();
    report.opening_debit = totals.debit;
    report.opening_credit = totals.credit;
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
