//! Voucher rules: declarative mappings from a business record to a voucher.
//!
//! A rule says which accounts (by role, so it works on any chart that assigns the roles) are debited or
//! credited, on which condition, with amounts, summaries and dimension values computed by expressions over
//! the record's fields (see [`crate::expr`]). Lines whose amount is zero are left out (an order without
//! tax books no tax line). Idempotency — the same record never producing two vouchers — is kept by the
//! store, keyed by the record's source identifier; this module only computes.

pub mod record;

pub use record::{RecordRule, RuleDefinition, SyncMode};

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_model::{Checker, DetailCode, FieldError, Invalid, Reason};

use crate::account::{Chart, Dimension, Role};
use crate::expr::{Expr, Record, Value};
use crate::money::{self, AMOUNT_SCALE};
use crate::voucher::{Line, SUMMARY_MAX, VoucherDraft, Word, truncate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Debit,
    Credit,
}

/// One line a rule may produce.
#[derive(Debug, Clone)]
pub struct RuleLine {
    pub role: Role,
    pub side: Side,
    pub amount: Expr,
    /// Produce the line only when this holds.
    pub when: Option<Expr>,
    /// Overrides the rule's summary for this line.
    pub summary: Option<Expr>,
    pub dimensions: Vec<(Dimension, Expr)>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable name, e.g. `sales_invoice`.
    pub name: &'static str,
    pub description: &'static str,
    pub word: Word,
    /// The voucher date (a `YYYY-MM-DD` field).
    pub date: Expr,
    pub summary: Expr,
    pub lines: Vec<RuleLine>,
}

fn expr(source: &str) -> Result<Expr, String> {
    Expr::parse(source).map_err(|error| format!("built-in rule expression {source:?}: {error}"))
}

fn role(name: &str) -> Result<Role, String> {
    Role::parse(name)
}

fn line(role_name: &str, side: Side, amount: &str) -> Result<RuleLine, String> {
    Ok(RuleLine {
        role: role(role_name)?,
        side,
        amount: expr(amount)?,
        when: None,
        summary: None,
        dimensions: Vec::new(),
    })
}

/// The rules Tenon ships. Record fields each expects are in its description.
pub fn builtin() -> Result<Vec<Rule>, String> {
    let total = "amount + round(amount * coalesce(tax_rate, 0), 2)";
    let mut ar = line("AR", Side::Debit, total)?;
    ar.dimensions.push((Dimension::Customer, expr("customer")?));
    let mut receipt_ar = line("AR", Side::Credit, "amount")?;
    receipt_ar
        .dimensions
        .push((Dimension::Customer, expr("customer")?));
    let mut expense = line("ADMIN_EXPENSE", Side::Debit, "amount")?;
    expense
        .dimensions
        .push((Dimension::Department, expr("department")?));
    let mut payable = line("OTHER_PAYABLE", Side::Credit, "amount")?;
    payable.when = Some(expr("not coalesce(paid, false)")?);
    payable
        .dimensions
        .push((Dimension::Employee, expr("employee")?));
    let mut paid = line("BANK", Side::Credit, "amount")?;
    paid.when = Some(expr("coalesce(paid, false)")?);
    // The demo CRM's order: its amount includes VAT, so the net and the tax are split off it the way the
    // template's own formula fields do (net = ROUND(amount / (1 + rate), 2), tax = amount − net).
    let gross = "amount";
    let net = "round(amount / (1 + coalesce(tax_rate, 0)), 2)";
    let mut order_ar = line("AR", Side::Debit, gross)?;
    order_ar
        .dimensions
        .push((Dimension::Customer, expr("customer")?));
    Ok(vec![
        Rule {
            name: "crm_order",
            description: "A won order of the demo CRM (templates/crm.yaml), its fields as the records API gives them: \
                          Dr 应收账款 (AR, customer) = amount; Cr 主营业务收入 (REVENUE) = round(amount / (1 + tax_rate), 2); \
                          Cr 应交税费-应交增值税(销项税额) (VAT_OUTPUT) = amount − revenue. \
                          Fields: won_on, customer (a link: its name), amount (including VAT), tax_rate (e.g. 0.13; default 0), no (optional).",
            word: Word::Ji,
            date: expr("won_on")?,
            summary: expr("'销售 ' & customer & if(coalesce(no, '') = '', '', ' ' & no)")?,
            lines: vec![
                order_ar,
                line("REVENUE", Side::Credit, net)?,
                line("VAT_OUTPUT", Side::Credit, &format!("{gross} - {net}"))?,
            ],
        },
        Rule {
            name: "sales_invoice",
            description: "A won sales order or invoice: Dr 应收账款 (AR, customer) = amount + tax; Cr 主营业务收入 \
                          (REVENUE) = amount; Cr 应交税费-应交增值税(销项税额) (VAT_OUTPUT) = round(amount × tax_rate, 2). \
                          Fields: date, customer, amount (before tax), tax_rate (e.g. 0.13; default 0), order_no (optional).",
            word: Word::Ji,
            date: expr("date")?,
            summary: expr(
                "'销售 ' & customer & if(coalesce(order_no, '') = '', '', ' ' & order_no)",
            )?,
            lines: vec![
                ar,
                line("REVENUE", Side::Credit, "amount")?,
                line(
                    "VAT_OUTPUT",
                    Side::Credit,
                    "round(amount * coalesce(tax_rate, 0), 2)",
                )?,
            ],
        },
        Rule {
            name: "receipt",
            description: "Money received from a customer: Dr 银行存款 (BANK); Cr 应收账款 (AR, customer). \
                          Fields: date, customer, amount, reference (optional).",
            word: Word::Shou,
            date: expr("date")?,
            summary: expr(
                "'收款 ' & customer & if(coalesce(reference, '') = '', '', ' ' & reference)",
            )?,
            lines: vec![line("BANK", Side::Debit, "amount")?, receipt_ar],
        },
        Rule {
            name: "expense_claim",
            description: "An approved expense claim: Dr 管理费用 (ADMIN_EXPENSE, department); Cr 其他应付款 \
                          (OTHER_PAYABLE, employee) while unpaid, or Cr 银行存款 (BANK) when paid is true. \
                          Fields: date, employee, department, amount, paid (optional, default false), description (optional).",
            word: Word::Ji,
            date: expr("date")?,
            summary: expr(
                "'报销 ' & employee & if(coalesce(description, '') = '', '', ' ' & description)",
            )?,
            lines: vec![expense, payable, paid],
        },
    ])
}

/// Turns a record into a voucher draft; every problem is reported with the field or rule part at fault.
pub fn apply(rule: &Rule, chart: &Chart, record: &Record) -> Result<VoucherDraft, Invalid> {
    let mut check = Checker::default();
    let date = match rule.date.eval(record) {
        Ok(value) => match NaiveDate::parse_from_str(value.text().trim(), "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                check.add(
                    Reason::format(
                        "date",
                        format!("{:?} is not a date (YYYY-MM-DD)", value.text()),
                    )
                    .at(format!("fields.{}", rule.date.source())),
                );
                None
            }
        },
        Err(error) => {
            check.push("fields", DetailCode::ExpressionFailed, error);
            None
        }
    };
    let summary = match rule.summary.eval(record) {
        Ok(value) => value.text(),
        Err(error) => {
            check.push("fields", DetailCode::ExpressionFailed, error);
            String::new()
        }
    };
    let mut lines = Vec::new();
    for (index, rule_line) in rule.lines.iter().enumerate() {
        let at = format!(
            "rule {} line {} ({})",
            rule.name,
            index + 1,
            rule_line.role.as_str()
        );
        if let Some(when) = &rule_line.when {
            match when.eval(record) {
                Ok(Value::Bool(false) | Value::Null) => continue,
                Ok(_) => {}
                Err(error) => {
                    check.push(
                        "fields",
                        DetailCode::ExpressionFailed,
                        format!("{at}: {error}"),
                    );
                    continue;
                }
            }
        }
        let amount = match rule_line.amount.eval(record) {
            Ok(value) => match value.number() {
                Some(number) if money::round(number, AMOUNT_SCALE) == number => number,
                Some(number) => {
                    check.add(
                        FieldError::new(
                            "fields",
                            DetailCode::TooPrecise,
                            format!("{at}: amount {number} has more than two fraction digits"),
                        )
                        .with("scale", AMOUNT_SCALE),
                    );
                    continue;
                }
                None => {
                    check.add(
                        Reason::format(
                            "number",
                            format!("{at}: amount {:?} is not a number", value.text()),
                        )
                        .at("fields"),
                    );
                    continue;
                }
            },
            Err(error) => {
                check.push(
                    "fields",
                    DetailCode::ExpressionFailed,
                    format!("{at}: {error}"),
                );
                continue;
            }
        };
        if amount.is_zero() {
            continue;
        }
        let Some(account) = chart.by_role(&rule_line.role) else {
            check.add(
                FieldError::new(
                    "rule",
                    DetailCode::RoleMissing,
                    format!(
                        "{at}: no account of this book has the role {}",
                        rule_line.role.as_str()
                    ),
                )
                .with("role", rule_line.role.as_str()),
            );
            continue;
        };
        let mut dimensions = BTreeMap::new();
        for (dimension, value) in &rule_line.dimensions {
            match value.eval(record) {
                Ok(Value::Null) => check.push(
                    format!("fields.{}", value.source()),
                    DetailCode::Required,
                    format!(
                        "{at}: the {} dimension needs this field",
                        dimension.as_str()
                    ),
                ),
                Ok(value) => {
                    dimensions.insert(*dimension, value.text());
                }
                Err(error) => check.push(
                    "fields",
                    DetailCode::ExpressionFailed,
                    format!("{at}: {error}"),
                ),
            }
        }
        let line_summary = match &rule_line.summary {
            Some(expression) => expression
                .eval(record)
                .map(|value| value.text())
                .unwrap_or_default(),
            None => summary.clone(),
        };
        let (debit, credit) = match rule_line.side {
            Side::Debit => (amount, Decimal::ZERO),
            Side::Credit => (Decimal::ZERO, amount),
        };
        let mut line = Line::simple(
            &truncate(&line_summary, SUMMARY_MAX),
            account.code.clone(),
            debit,
            credit,
        );
        line.dimensions = dimensions;
        lines.push(line);
    }
    check.finish()?;
    let date = date.ok_or_else(|| {
        Invalid::one(
            format!("fields.{}", rule.date.source()),
            DetailCode::Required,
            "is missing",
        )
    })?;
    Ok(VoucherDraft {
        date,
        word: rule.word,
        attachments: 0,
        lines,
    })
}

/// The names of the built-in rules.
pub const RULE_NAMES: [&str; 4] = ["crm_order", "sales_invoice", "receipt", "expense_claim"];

/// The rule named `name`.
pub fn find(name: &str) -> Result<Rule, String> {
    let rules = builtin()?;
    let known: Vec<&str> = rules.iter().map(|rule| rule.name).collect();
    let known = known.join(", ");
    rules
        .into_iter()
        .find(|rule| rule.name == name)
        .ok_or_else(|| format!("{name:?} is not a rule; the rules are {known}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Standard;
    use serde_json::json;

    #[test]
    fn crm_order_splits_the_vat_off_an_amount_that_includes_it_from_the_records_api_shapes() {
        let chart = crate::templates::chart(Standard::CasSmall).unwrap();
        let fields = json!({"won_on": "2026-11-20", "customer": [{"id": "0192", "name": "湖州优品"}],
                            "amount": "28800.00", "tax_rate": "0.13", "no": "SO-202611-0001",
                            "sales": {"id": "m1", "name": "赵敏"}});
        let record: Record = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect();
        let draft = apply(&find("crm_order").unwrap(), &chart, &record).unwrap();
        let lines: Vec<(&str, String, String)> = draft
            .lines
            .iter()
            .map(|l| {
                (
                    l.account.as_str(),
                    l.debit.to_string(),
                    l.credit.to_string(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                ("1122", "28800.00".to_owned(), "0.00".to_owned()),
                ("5001", "0.00".to_owned(), "25486.73".to_owned()),
                ("22210102", "0.00".to_owned(), "3313.27".to_owned()),
            ]
        );
        assert_eq!(draft.lines[0].dimensions[&Dimension::Customer], "湖州优品");
        assert_eq!(draft.lines[0].summary, "销售 湖州优品 SO-202611-0001");
        assert_eq!(record["sales"], Value::Text("赵敏".to_owned()));
    }
}
