//! Vouchers (凭证): words, states, lines, and the checks every write must pass.
//!
//! A voucher is created as a draft with the next number of its (period, word); it is reviewed, then
//! posted. A posted voucher is never edited: it is reversed by a red voucher (红字冲销) with the same
//! lines negated. [`check_voucher`] is the one gate a voucher passes before it is stored, whatever its
//! source (API, rule, import): leaf accounts, required dimensions, one side per line, amounts at scale,
//! foreign-currency consistency, and Σ debit = Σ credit in the base currency.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_model::{Checker, DetailCode, FieldError, Invalid, Reason};

use crate::account::{AccountCode, Chart, Dimension, check_dimension_value};
use crate::book::{BookSettings, Currency};
use crate::money::{self, AMOUNT_SCALE, QUANTITY_SCALE, RATE_SCALE};
use crate::period::Period;

/// Most lines a voucher may have.
pub const VOUCHER_LINES_MAX: usize = 1000;
/// Longest line summary (摘要).
pub const SUMMARY_MAX: usize = 200;
/// Largest difference tolerated between a line's base amount and original amount × rate.
pub fn conversion_tolerance() -> Decimal {
    Decimal::new(1, 2)
}

/// The voucher word (凭证字).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Word {
    /// 记: general.
    Ji,
    /// 收: receipt.
    Shou,
    /// 付: payment.
    Fu,
    /// 转: transfer.
    Zhuan,
}

impl Word {
    pub const ALL: [Word; 4] = [Word::Ji, Word::Shou, Word::Fu, Word::Zhuan];
    pub const fn as_str(self) -> &'static str {
        match self {
            Word::Ji => "记",
            Word::Shou => "收",
            Word::Fu => "付",
            Word::Zhuan => "转",
        }
    }
    pub fn parse(raw: &str) -> Result<Word, String> {
        Word::ALL
            .into_iter()
            .find(|word| word.as_str() == raw)
            .ok_or_else(|| format!("{raw:?} is not a voucher word; use 记, 收, 付 or 转"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VoucherState {
    Draft,
    Reviewed,
    Posted,
}

impl VoucherState {
    pub const fn as_str(self) -> &'static str {
        match self {
            VoucherState::Draft => "draft",
            VoucherState::Reviewed => "reviewed",
            VoucherState::Posted => "posted",
        }
    }
    pub fn parse(raw: &str) -> Result<VoucherState, String> {
        match raw {
            "draft" => Ok(VoucherState::Draft),
            "reviewed" => Ok(VoucherState::Reviewed),
            "posted" => Ok(VoucherState::Posted),
            other => Err(format!(
                "{other:?} is not a voucher state; use draft, reviewed or posted"
            )),
        }
    }
}

/// One line (分录) of a voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub summary: String,
    pub account: AccountCode,
    pub dimensions: BTreeMap<Dimension, String>,
    /// Base-currency debit; zero when the line is a credit.
    pub debit: Decimal,
    /// Base-currency credit; zero when the line is a debit.
    pub credit: Decimal,
    /// `None` for the base currency.
    pub currency: Option<Currency>,
    /// The amount in `currency` (signed like the base amount), for foreign-currency lines.
    pub original_amount: Option<Decimal>,
    /// Base units per unit of `currency`.
    pub exchange_rate: Option<Decimal>,
    /// For accounts that keep quantities.
    pub quantity: Option<Decimal>,
    pub unit_price: Option<Decimal>,
}

impl Line {
    /// A base-currency line with no dimensions, quantity or price.
    pub fn simple(summary: &str, account: AccountCode, debit: Decimal, credit: Decimal) -> Line {
        Line {
            summary: summary.trim().to_owned(),
            account,
            dimensions: BTreeMap::new(),
            debit: money::rescaled(debit, AMOUNT_SCALE),
            credit: money::rescaled(credit, AMOUNT_SCALE),
            currency: None,
            original_amount: None,
            exchange_rate: None,
            quantity: None,
            unit_price: None,
        }
    }

    /// Debit minus credit.
    pub fn net(&self) -> Decimal {
        self.debit - self.credit
    }

    /// The line with its amounts negated, for a red reversal.
    pub fn negated(&self) -> Line {
        Line {
            debit: -self.debit,
            credit: -self.credit,
            original_amount: self.original_amount.map(|amount| -amount),
            quantity: self.quantity.map(|quantity| -quantity),
            ..self.clone()
        }
    }
}

/// A voucher before it is numbered and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherDraft {
    pub date: NaiveDate,
    pub word: Word,
    /// Number of attached source documents (附单据数).
    pub attachments: u32,
    pub lines: Vec<Line>,
}

/// A stored voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    pub period: Period,
    pub word: Word,
    /// Gap-free within (book, period, word), from 1.
    pub number: u32,
    pub date: NaiveDate,
    pub attachments: u32,
    pub state: VoucherState,
    pub preparer: String,
    pub reviewer: Option<String>,
    pub poster: Option<String>,
    pub lines: Vec<Line>,
}

impl Voucher {
    pub fn total_debit(&self) -> Decimal {
        self.lines.iter().map(|line| line.debit).sum()
    }
    pub fn total_credit(&self) -> Decimal {
        self.lines.iter().map(|line| line.credit).sum()
    }
    /// `记-12`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.word.as_str(), self.number)
    }
}

/// Checks a draft against the book and its chart; `Ok` means it may be stored.
pub fn check_voucher(
    book: &BookSettings,
    chart: &Chart,
    draft: &VoucherDraft,
) -> Result<(), Invalid> {
    let mut check = Checker::default();
    if draft.lines.len() < 2 {
        check.add(
            FieldError::new(
                "lines",
                DetailCode::TooFew,
                "a voucher needs at least two lines",
            )
            .with("min", 2),
        );
    }
    if draft.lines.len() > VOUCHER_LINES_MAX {
        check.add(
            Reason::too_many(
                VOUCHER_LINES_MAX,
                format!("a voucher has at most {VOUCHER_LINES_MAX} lines"),
            )
            .at("lines"),
        );
    }
    for (index, line) in draft.lines.iter().enumerate() {
        check_line(book, chart, line, &format!("lines[{index}]"), &mut check);
    }
    if check.is_clean() {
        let debit: Decimal = draft.lines.iter().map(|line| line.debit).sum();
        let credit: Decimal = draft.lines.iter().map(|line| line.credit).sum();
        if debit != credit {
            check.add(
                FieldError::new(
                    "lines",
                    DetailCode::Unbalanced,
                    format!(
                        "the voucher does not balance: debits {} ≠ credits {} (difference {})",
                        money::amount_text(debit),
                        money::amount_text(credit),
                        money::amount_text(debit - credit)
                    ),
                )
                .with("debit", money::amount_text(debit))
                .with("credit", money::amount_text(credit))
                .with("difference", money::amount_text(debit - credit)),
            );
        }
    }
    check.finish()
}

fn check_line(book: &BookSettings, chart: &Chart, line: &Line, at: &str, check: &mut Checker) {
    if line.summary.chars().count() > SUMMARY_MAX || line.summary.chars().any(char::is_control) {
        let reason = if line.summary.chars().any(char::is_control) {
            Reason::control_characters()
        } else {
            Reason::too_long(SUMMARY_MAX)
        };
        check.add(
            Reason {
                message: format!(
                    "must be at most {SUMMARY_MAX} characters without control characters"
                ),
                ..reason
            }
            .at(format!("{at}.summary")),
        );
    }
    let account = chart.get(&line.account);
    match account {
        None => check.add(
            Reason::not_found(
                "account",
                format!("account {} does not exist in this book", line.account),
            )
            .at(format!("{at}.account")),
        ),
        Some(_) if !chart.is_leaf(&line.account) => check.add(
            FieldError::new(
                format!("{at}.account"),
                DetailCode::NotLeafAccount,
                format!(
                    "account {} has sub-accounts; post to one of them (lines post to leaf accounts)",
                    line.account
                ),
            )
            .with("account", line.account.to_string()),
        ),
        Some(_) => {}
    }
    if let Some(account) = account {
        for dimension in &account.dimensions {
            if !line.dimensions.contains_key(dimension) {
                check.add(
                    FieldError::new(
                        format!("{at}.dimensions.{}", dimension.as_str()),
                        DetailCode::DimensionRequired,
                        format!(
                            "account {} requires the {} dimension",
                            account.code,
                            dimension.as_str()
                        ),
                    )
                    .with("account", account.code.to_string())
                    .with("dimension", dimension.as_str()),
                );
            }
        }
        if account.quantity_unit.is_none() && (line.quantity.is_some() || line.unit_price.is_some())
        {
            check.add(
                FieldError::new(
                    format!("{at}.quantity"),
                    DetailCode::NoQuantities,
                    format!("account {} does not keep quantities", account.code),
                )
                .with("account", account.code.to_string()),
            );
        }
    }
    for (dimension, value) in &line.dimensions {
        if let Err(reason) = check_dimension_value(value) {
            check.add(reason.at(format!("{at}.dimensions.{}", dimension.as_str())));
        }
    }
    for (field, value, scale) in [
        ("debit", Some(line.debit), AMOUNT_SCALE),
        ("credit", Some(line.credit), AMOUNT_SCALE),
        ("original_amount", line.original_amount, AMOUNT_SCALE),
        ("exchange_rate", line.exchange_rate, RATE_SCALE),
        ("quantity", line.quantity, QUANTITY_SCALE),
        ("unit_price", line.unit_price, QUANTITY_SCALE),
    ] {
        if let Some(value) = value
            && money::parse_scaled(&value.to_string(), scale).is_err()
        {
            check.add(
                FieldError::new(
                    format!("{at}.{field}"),
                    DetailCode::TooPrecise,
                    format!("{value} is out of range or has more than {scale} fraction digits"),
                )
                .with("scale", scale),
            );
        }
    }
    match (line.debit.is_zero(), line.credit.is_zero()) {
        (true, true) => check.push(
            format!("{at}.debit"),
            DetailCode::NoAmount,
            "give a debit or a credit amount",
        ),
        (false, false) => check.push(
            format!("{at}.credit"),
            DetailCode::BothSides,
            "a line is either a debit or a credit; split it into two lines",
        ),
        _ => {}
    }
    check_currency(book, line, at, check);
}

fn check_currency(book: &BookSettings, line: &Line, at: &str, check: &mut Checker) {
    match line.currency {
        Some(currency) if currency == book.base_currency => check.push(
            format!("{at}.currency"),
            DetailCode::BaseCurrency,
            "omit the currency for base-currency lines",
        ),
        Some(currency) => {
            let (Some(original), Some(rate)) = (line.original_amount, line.exchange_rate) else {
                check.add(
                    FieldError::new(
                        format!("{at}.original_amount"),
                        DetailCode::ExchangeRequired,
                        format!("a {currency} line needs original_amount and exchange_rate"),
                    )
                    .with("currency", currency.to_string()),
                );
                return;
            };
            if rate <= Decimal::ZERO {
                check.add(
                    FieldError::new(
                        format!("{at}.exchange_rate"),
                        DetailCode::TooSmall,
                        "must be positive",
                    )
                    .with("min", "0"),
                );
                return;
            }
            let base = line.net();
            let converted = money::round(original * rate, AMOUNT_SCALE);
            if (converted - base).abs() > conversion_tolerance() {
                check.add(
                    FieldError::new(
                        format!("{at}.original_amount"),
                        DetailCode::ExchangeMismatch,
                        format!(
                            "{original} {currency} × {rate} = {converted}, but the line's signed base amount (debit − credit) is {}",
                            money::amount_text(base)
                        ),
                    )
                    .with("original", original.to_string())
                    .with("currency", currency.to_string())
                    .with("rate", rate.to_string())
                    .with("converted", converted.to_string())
                    .with("base", money::amount_text(base)),
                );
            }
        }
        None => {
            if line.original_amount.is_some() || line.exchange_rate.is_some() {
                check.push(
                    format!("{at}.currency"),
                    DetailCode::Required,
                    "original_amount and exchange_rate need a foreign currency",
                );
            }
        }
    }
}

/// Why a state change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub Reason);

/// Reviews a draft. With segregation of duties the reviewer must differ from the preparer.
pub fn review(book: &BookSettings, voucher: &mut Voucher, reviewer: &str) -> Result<(), Refused> {
    if voucher.state != VoucherState::Draft {
        return Err(Refused(
            Reason::new(
                DetailCode::InvalidState,
                format!(
                    "voucher {} is {}; only a draft can be reviewed",
                    voucher.label(),
                    voucher.state.as_str()
                ),
            )
            .with("state", voucher.state.as_str()),
        ));
    }
    if book.segregation_of_duties && voucher.preparer == reviewer {
        return Err(Refused(Reason::new(
            DetailCode::SegregationOfDuties,
            format!(
                "book {} separates duties: {reviewer} prepared voucher {} and cannot review it",
                book.name,
                voucher.label()
            ),
        )));
    }
    voucher.state = VoucherState::Reviewed;
    voucher.reviewer = Some(reviewer.to_owned());
    Ok(())
}

/// Refuses to create a voucher already reviewed or posted (a batch, a rule with `post`) when the book
/// separates duties: its preparer would be its reviewer. Imports and reversals are not creations by a
/// person and do not pass here.
pub fn check_created_state(book: &BookSettings, state: VoucherState) -> Result<(), Refused> {
    if book.segregation_of_duties && state != VoucherState::Draft {
        return Err(Refused(Reason::new(
            DetailCode::SegregationOfDuties,
            format!(
                "book {} separates duties: a voucher cannot be created {} by its preparer; create it as a draft \
                 and have someone else review it",
                book.name,
                state.as_str()
            ),
        )));
    }
    Ok(())
}

/// Posts a reviewed voucher.
pub fn post(voucher: &mut Voucher, poster: &str) -> Result<(), Refused> {
    if voucher.state != VoucherState::Reviewed {
        return Err(Refused(
            Reason::new(
                DetailCode::InvalidState,
                format!(
                    "voucher {} is {}; only a reviewed voucher can be posted",
                    voucher.label(),
                    voucher.state.as_str()
                ),
            )
            .with("state", voucher.state.as_str()),
        ));
    }
    voucher.state = VoucherState::Posted;
    voucher.poster = Some(poster.to_owned());
    Ok(())
}

/// The red voucher (红字冲销) that cancels `voucher`: same word and lines, amounts negated, dated `date`.
pub fn reversal_of(voucher: &Voucher, date: NaiveDate) -> VoucherDraft {
    VoucherDraft {
        date,
        word: voucher.word,
        attachments: 0,
        lines: voucher
            .lines
            .iter()
            .map(|line| {
                let mut negated = line.negated();
                let prefix = format!(
                    "冲销{}年{}月{}号凭证",
                    voucher.period.year(),
                    voucher.period.month(),
                    voucher.label()
                );
                negated.summary = truncate(&format!("{prefix} {}", line.summary), SUMMARY_MAX);
                negated
            })
            .collect(),
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}
