//! Record rules: voucher rules made of formulas, written in the `voucher_rules:` section of a
//! `tenon.app/v1` file and run by the `ledger_sync` flow step (docs/ledger-rules.md).
//!
//! ```yaml
//! voucher_rules:
//!   - {key: vr_s, book: {name: 主账套, template: cas}, table: sales, when: '{状态} = "已收款"', date: '{日期}',
//!      word: 记, sync: auto, lines: [
//!        {account: '=IF({收款方式} = "现金", "CASH", "BANK")', debit: '{应收合计}'},
//!        {account: REVENUE, credit: '{不含税收入}'}]}
//! ```
//!
//! A line's `account` is a role (`REVENUE`), an account code (`6001`), or `=` and a formula giving one of
//! them; `debit` or `credit` (exactly one) is a formula giving the amount (rounded to cents; a line whose
//! amount is zero or empty is dropped); `when` a condition; `dimensions` formulas by dimension.
//!
//! [`RuleDefinition::parse`] checks the shape, [`compile`] checks the formulas against what the record
//! offers (a [`formula::Schema`]) and the accounts against the book's chart — every problem with its path —
//! and gives the storable [`RecordRule`] (formulas in stored form). [`RecordRule::applies`] and
//! [`RecordRule::voucher`] compute from a record through an evaluator the caller gives (the store reads
//! the record's stored values). Pure: no I/O.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_model::apps::formula::{self, Type};
use tenon_model::{Checker, DetailCode, FieldError, Invalid};

use crate::account::{AccountCode, Chart, Dimension, Role};
use crate::book::Standard;
use crate::money::{self, AMOUNT_SCALE};
use crate::voucher::{Line, SUMMARY_MAX, VoucherDraft, Word, truncate};

/// A rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDefinition {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub book: BookSpec,
    /// The table (key, in the file's app) whose records the rule books.
    pub table: String,
    /// Books a record only while it holds (default: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The voucher date: a formula giving a date.
    pub date: String,
    /// 记 (default), 收, 付 or 转.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word: Option<String>,
    /// The lines' summary (摘要): a formula giving text; the rule's name (else key) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `auto`: a system flow `rule:<key>` syncs a record when it enters, changes within or leaves
    /// `when`; `manual` (default): only `ledger_sync` steps do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncMode>,
    /// Post the vouchers (default true); a book that separates duties always gets drafts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<bool>,
    pub lines: Vec<LineDefinition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Auto,
    Manual,
}

/// The book a rule books into: the organization's book of that name, created from `template` (`cas`,
/// `cas-small`; default `cas`) when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl BookSpec {
    pub fn standard(&self) -> Result<Standard, String> {
        Standard::parse(self.template.as_deref().unwrap_or("cas"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDefinition {
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

/// How a line names its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRef {
    Role(String),
    Code(String),
    /// A stored formula giving a role or a code.
    Formula(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

/// A checked rule: formulas in stored form (by field id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRule {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub date: String,
    pub word: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The summary when there is no `summary` formula.
    pub default_summary: String,
    pub post: bool,
    pub lines: Vec<RecordRuleLine>,
    /// The app's `params:` the formulas may read (`{params.vat_rate}`), kept with the rule by the store.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRuleLine {
    pub account: AccountRef,
    pub side: Side,
    pub amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<(String, String)>,
}

/// Most lines one rule may have.
pub const RULE_LINES_MAX: usize = 100;

impl RuleDefinition {
    /// Parses a rule at `path` (`voucher_rules[0]`), checking its shape.
    pub fn parse(value: &Value, path: &str) -> Result<RuleDefinition, Invalid> {
        let rule: RuleDefinition = serde_json::from_value(value.clone()).map_err(|error| {
            Invalid::one(path.to_owned(), DetailCode::InvalidValue, error.to_string())
        })?;
        let mut check = Checker::default();
        if tenon_model::apps::ApiKey::parse(&rule.key).is_err() {
            check.push(
                format!("{path}.key"),
                DetailCode::InvalidFormat,
                "a rule key is a short identifier (letters, digits, _)",
            );
        }
        if rule.book.name.trim().is_empty() {
            check.push(
                format!("{path}.book.name"),
                DetailCode::Required,
                "the book's name",
            );
        }
        if let Err(reason) = rule.book.standard() {
            check.add(
                FieldError::new(
                    format!("{path}.book.template"),
                    DetailCode::NotOneOf,
                    reason,
                )
                .with("allowed", "cas, cas-small"),
            );
        }
        if let Some(word) = &rule.word
            && let Err(reason) = Word::parse(word)
        {
            check.add(
                FieldError::new(format!("{path}.word"), DetailCode::NotOneOf, reason)
                    .with("allowed", "记, 收, 付, 转"),
            );
        }
        if rule.lines.len() < 2 {
            check.add(
                FieldError::new(
                    format!("{path}.lines"),
                    DetailCode::TooFew,
                    "a rule needs at least two lines",
                )
                .with("min", 2),
            );
        }
        if rule.lines.len() > RULE_LINES_MAX {
            check.too_many(
                format!("{path}.lines"),
                RULE_LINES_MAX,
                "a rule has at most 100 lines",
            );
        }
        for (i, line) in rule.lines.iter().enumerate() {
            let at = format!("{path}.lines[{i}]");
            match (&line.debit, &line.credit) {
                (Some(_), Some(_)) => check.push(
                    format!("{at}.credit"),
                    DetailCode::NotAllowed,
                    "a line is either a debit or a credit",
                ),
                (None, None) => check.push(
                    format!("{at}.debit"),
                    DetailCode::Required,
                    "give debit or credit: a formula giving the amount",
                ),
                _ => {}
            }
            if line.account.trim().is_empty() {
                check.push(
                    format!("{at}.account"),
                    DetailCode::Required,
                    "a role, an account code, or = and a formula",
                );
            }
            for name in line.dimensions.keys() {
                if let Err(reason) = Dimension::parse(name) {
                    check.push(
                        format!("{at}.dimensions.{name}"),
                        DetailCode::InvalidValue,
                        reason,
                    );
                }
            }
        }
        check.finish()?;
        Ok(rule)
    }

    pub fn sync(&self) -> SyncMode {
        self.sync.unwrap_or(SyncMode::Manual)
    }
}

/// A value written as a formula (text) or a number, as formula source.
fn source(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null => Some("BLANK()".to_owned()),
        _ => None,
    }
}

struct Compiler<'a> {
    check: &'a mut Checker,
    schema: &'a formula::Schema,
}

impl Compiler<'_> {
    fn diagnostics(&mut self, at: &str, found: &[formula::Diagnostic]) {
        tenon_model::apps::computed::diagnostics(at, found)
            .0
            .into_iter()
            .for_each(|error| self.check.add(error));
    }

    fn formula(&mut self, at: &str, source: &str) -> Option<formula::Formula> {
        match formula::check(source, self.schema) {
            Ok(formula) => Some(formula),
            Err(found) => {
                self.diagnostics(at, &found);
                None
            }
        }
    }

    fn condition(&mut self, at: &str, source: &str) -> Option<String> {
        match formula::check_condition(source, self.schema) {
            Ok(formula) => Some(formula.stored().to_owned()),
            Err(found) => {
                self.diagnostics(at, &found);
                None
            }
        }
    }

    fn typed(
        &mut self,
        at: &str,
        source: &str,
        fits: fn(&Type) -> bool,
        wanted: &str,
    ) -> Option<String> {
        let formula = self.formula(at, source)?;
        if fits(formula.result_type()) {
            Some(formula.stored().to_owned())
        } else {
            self.check.add(
                FieldError::new(
                    at,
                    DetailCode::FormulaType,
                    format!("{wanted}; this formula gives {}", formula.result_type()),
                )
                .with("start", 0)
                .with("end", source.len()),
            );
            None
        }
    }
}

fn is_number(kind: &Type) -> bool {
    matches!(kind, Type::Number { .. } | Type::Blank)
}

fn is_date(kind: &Type) -> bool {
    matches!(kind, Type::Date | Type::Blank)
}

fn is_text(kind: &Type) -> bool {
    matches!(kind, Type::Text | Type::List(_) | Type::Blank)
}

fn is_any(_: &Type) -> bool {
    true
}

/// What an `account:` names.
enum Written<'a> {
    Role(Role),
    Code(AccountCode),
    Formula(&'a str),
}

fn written(account: &str) -> Result<Written<'_>, String> {
    let account = account.trim();
    if let Some(source) = account.strip_prefix('=') {
        return Ok(Written::Formula(source));
    }
    if account.starts_with(|c: char| c.is_ascii_digit()) {
        return AccountCode::parse(account).map(Written::Code);
    }
    Role::parse(account).map(Written::Role)
}

/// Checks a parsed rule at `path` against what the record offers (`schema`: its fields by name and key)
/// and the book's chart: formulas check and give the right type, roles exist, accounts are leaves,
/// the dimensions an account requires are given.
pub fn compile(
    rule: &RuleDefinition,
    schema: &formula::Schema,
    chart: &Chart,
    path: &str,
) -> Result<RecordRule, Invalid> {
    let mut check = Checker::default();
    let mut c = Compiler {
        check: &mut check,
        schema,
    };
    let when = rule
        .when
        .as_deref()
        .map(|source| c.condition(&format!("{path}.when"), source));
    let date = c.typed(
        &format!("{path}.date"),
        &rule.date,
        is_date,
        "date gives a date",
    );
    let summary = rule.summary.as_deref().map(|source| {
        c.typed(
            &format!("{path}.summary"),
            source,
            is_any,
            "summary gives text",
        )
    });
    let mut lines = Vec::with_capacity(rule.lines.len());
    for (i, line) in rule.lines.iter().enumerate() {
        let at = format!("{path}.lines[{i}]");
        let account = match written(&line.account) {
            Ok(Written::Formula(source)) => c
                .typed(
                    &format!("{at}.account"),
                    source,
                    is_text,
                    "account gives a role or an account code (text)",
                )
                .map(AccountRef::Formula),
            Ok(Written::Role(role)) => match chart.by_role(&role) {
                Some(account) => {
                    leaf_and_dimensions(c.check, chart, &account.code, line, &at);
                    Some(AccountRef::Role(role.as_str().to_owned()))
                }
                None => {
                    c.check.add(
                        FieldError::new(
                            format!("{at}.account"),
                            DetailCode::RoleMissing,
                            format!("no account of the book has the role {}", role.as_str()),
                        )
                        .with("role", role.as_str()),
                    );
                    None
                }
            },
            Ok(Written::Code(code)) => {
                if chart.get(&code).is_some() {
                    leaf_and_dimensions(c.check, chart, &code, line, &at);
                    Some(AccountRef::Code(code.as_str().to_owned()))
                } else {
                    c.check.not_found(
                        format!("{at}.account"),
                        "account",
                        format!("the book has no account {}", code.as_str()),
                    );
                    None
                }
            }
            Err(reason) => {
                c.check.push(
                    format!("{at}.account"),
                    DetailCode::InvalidValue,
                    format!("{reason}; an account is a role, a code, or = and a formula"),
                );
                None
            }
        };
        let (side, amount) = match (&line.debit, &line.credit) {
            (Some(debit), _) => (Side::Debit, debit),
            (None, Some(credit)) => (Side::Credit, credit),
            (None, None) => continue,
        };
        let side_name = match side {
            Side::Debit => "debit",
            Side::Credit => "credit",
        };
        let amount = match source(amount) {
            Some(source) => c.typed(
                &format!("{at}.{side_name}"),
                &source,
                is_number,
                "the amount is a number",
            ),
            None => {
                c.check.push(
                    format!("{at}.{side_name}"),
                    DetailCode::InvalidValue,
                    "the amount is a formula (text) or a number",
                );
                None
            }
        };
        let when = line
            .when
            .as_deref()
            .map(|source| c.condition(&format!("{at}.when"), source));
        let summary = line.summary.as_deref().map(|source| {
            c.typed(
                &format!("{at}.summary"),
                source,
                is_any,
                "summary gives text",
            )
        });
        let mut dimensions = Vec::new();
        for (name, source) in &line.dimensions {
            if let Some(stored) = c.typed(
                &format!("{at}.dimensions.{name}"),
                source,
                is_any,
                "a dimension value",
            ) {
                dimensions.push((name.clone(), stored));
            }
        }
        if let (Some(account), Some(amount)) = (account, amount) {
            lines.push(RecordRuleLine {
                account,
                side,
                amount,
                when: when.flatten(),
                summary: summary.flatten(),
                dimensions,
            });
        }
    }
    let word = rule.word.clone().unwrap_or_else(|| "记".to_owned());
    check.finish()?;
    Ok(RecordRule {
        key: rule.key.clone(),
        when: when.flatten(),
        date: date.unwrap_or_default(),
        word,
        summary: summary.flatten(),
        default_summary: rule.name.clone().unwrap_or_else(|| rule.key.clone()),
        post: rule.post.unwrap_or(true),
        lines,
        params: BTreeMap::new(),
    })
}

fn leaf_and_dimensions(
    check: &mut Checker,
    chart: &Chart,
    code: &AccountCode,
    line: &LineDefinition,
    at: &str,
) {
    if !chart.is_leaf(code) {
        check.add(
            FieldError::new(
                format!("{at}.account"),
                DetailCode::NotLeafAccount,
                format!(
                    "account {} has sub-accounts; vouchers post to leaf accounts",
                    code.as_str()
                ),
            )
            .with("account", code.as_str()),
        );
        return;
    }
    let Some(account) = chart.get(code) else {
        return;
    };
    for dimension in &account.dimensions {
        if !line.dimensions.contains_key(dimension.as_str()) {
            check.add(
                FieldError::new(
                    format!("{at}.dimensions.{}", dimension.as_str()),
                    DetailCode::DimensionRequired,
                    format!(
                        "account {} requires the {} dimension; give it as a formula",
                        code.as_str(),
                        dimension.as_str()
                    ),
                )
                .with("account", code.as_str())
                .with("dimension", dimension.as_str()),
            );
        }
    }
}

/// Evaluates a stored formula of the rule on the record (an error value is an `Err`).
pub type Evaluate<'a> = dyn FnMut(&str) -> Result<formula::Value, String> + 'a;

/// A formula value as text: lists joined by `, `.
fn text_of(value: &formula::Value) -> String {
    match value {
        formula::Value::List(items) => items
            .iter()
            .map(text_of)
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        formula::Value::Date(date) => date.format("%Y-%m-%d").to_string(),
        other => formula::to_text(other),
    }
}

impl RecordRule {
    /// Whether the record is to be booked (`when`, or always).
    pub fn applies(&self, eval: &mut Evaluate<'_>) -> Result<bool, String> {
        match &self.when {
            None => Ok(true),
            Some(when) => Ok(matches!(
                eval(when).map_err(|e| format!("when: {e}"))?,
                formula::Value::Bool(true)
            )),
        }
    }

    /// The voucher the record makes. Lines whose amount is zero or empty are dropped; every problem is
    /// named by the rule part at fault (`lines[1].debit: …`).
    pub fn voucher(&self, chart: &Chart, eval: &mut Evaluate<'_>) -> Result<VoucherDraft, String> {
        let date = match eval(&self.date).map_err(|e| format!("date: {e}"))? {
            formula::Value::Date(date) => date,
            formula::Value::DateTime(time) => time.date_naive(),
            formula::Value::Text(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| format!("date: {text:?} is not a date"))?,
            formula::Value::Empty => return Err("date: the record gives no date".to_owned()),
            other => return Err(format!("date: {} is not a date", text_of(&other))),
        };
        let word = Word::parse(&self.word)?;
        let summary = match &self.summary {
            Some(summary) => text_of(&eval(summary).map_err(|e| format!("summary: {e}"))?),
            None => self.default_summary.clone(),
        };
        let mut lines = Vec::new();
        for (i, rule_line) in self.lines.iter().enumerate() {
            let at = format!("lines[{i}]");
            if let Some(when) = &rule_line.when
                && !matches!(
                    eval(when).map_err(|e| format!("{at}.when: {e}"))?,
                    formula::Value::Bool(true)
                )
            {
                continue;
            }
            let amount = match eval(&rule_line.amount).map_err(|e| format!("{at}: {e}"))? {
                formula::Value::Number(number) => money::round(number, AMOUNT_SCALE),
                formula::Value::Empty => Decimal::ZERO,
                other => {
                    return Err(format!(
                        "{at}: the amount {} is not a number",
                        text_of(&other)
                    ));
                }
            };
            if amount.is_zero() {
                continue;
            }
            let account = match &rule_line.account {
                AccountRef::Role(role) => role_account(chart, role, &at)?,
                AccountRef::Code(code) => AccountCode::parse(code)?,
                AccountRef::Formula(stored) => {
                    let named = text_of(&eval(stored).map_err(|e| format!("{at}.account: {e}"))?);
                    match written(&named) {
                        Ok(Written::Role(role)) => role_account(chart, role.as_str(), &at)?,
                        Ok(Written::Code(code)) => code,
                        _ => {
                            return Err(format!(
                                "{at}.account: {named:?} is neither a role nor an account code"
                            ));
                        }
                    }
                }
            };
            let mut dimensions = BTreeMap::new();
            for (name, stored) in &rule_line.dimensions {
                let dimension = Dimension::parse(name)?;
                let value =
                    text_of(&eval(stored).map_err(|e| format!("{at}.dimensions.{name}: {e}"))?);
                if !value.trim().is_empty() {
                    dimensions.insert(dimension, value.trim().to_owned());
                }
            }
            let line_summary = match &rule_line.summary {
                Some(stored) => text_of(&eval(stored).map_err(|e| format!("{at}.summary: {e}"))?),
                None => summary.clone(),
            };
            let (debit, credit) = match rule_line.side {
                Side::Debit => (amount, Decimal::ZERO),
                Side::Credit => (Decimal::ZERO, amount),
            };
            let mut line = Line::simple(
                &truncate(&line_summary, SUMMARY_MAX),
                account,
                debit,
                credit,
            );
            line.dimensions = dimensions;
            lines.push(line);
        }
        Ok(VoucherDraft {
            date,
            word,
            attachments: 0,
            lines,
        })
    }
}

fn role_account(chart: &Chart, role: &str, at: &str) -> Result<AccountCode, String> {
    let role = Role::parse(role)?;
    chart
        .by_role(&role)
        .map(|account| account.code.clone())
        .ok_or_else(|| {
            format!(
                "{at}.account: no account of the book has the role {}",
                role.as_str()
            )
        })
}

#[cfg(test)]
mod tests;
