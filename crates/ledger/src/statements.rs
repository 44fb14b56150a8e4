//! Financial statements (CAS): 资产负债表 (balance sheet) and 利润表 (income statement), each line item a
//! formula over account balances, in the formats of 企业会计准则 (general enterprises, the 2019 revised
//! format) and 小企业会计准则, shipped beside the chart templates (`templates/bs_*.tsv`, `is_*.tsv`).
//!
//! A formula adds and subtracts terms:
//! - `1122` — an account (with its sub-accounts): its balance in its own direction (a credit balance of
//!   1231 坏账准备 is positive), or for the income statement its amount of the period in its own direction;
//! - `1122:debit@customer` / `2203:credit@customer` — the sum of the dimension values' balances that stand
//!   on that side (应收账款 takes the customers of 1122 and of 2203 whose balance is a debit);
//! - `PNL` — income minus expense balances not yet carried forward to 本年利润 (so that 未分配利润 is right
//!   before and after the carry-forward);
//! - `#12` — the value of line 12, which must come earlier.
//!
//! Pure: the store gathers the [`Figures`], this module computes the lines.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tenon_model::{Checker, DetailCode, FieldError, Invalid};

use crate::account::{AccountCode, AccountKind, Chart, Dimension, Direction};
use crate::book::Standard;
use crate::money::{self, AMOUNT_SCALE};

/// Which statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    /// 资产负债表.
    BalanceSheet,
    /// 利润表.
    IncomeStatement,
}

impl StatementKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            StatementKind::BalanceSheet => "balance-sheet",
            StatementKind::IncomeStatement => "income-statement",
        }
    }

    /// The Chinese title.
    pub const fn title(self) -> &'static str {
        match self {
            StatementKind::BalanceSheet => "资产负债表",
            StatementKind::IncomeStatement => "利润表",
        }
    }
}

/// One term of a line's formula.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Account(AccountCode),
    Side(AccountCode, Direction, Dimension),
    ProfitAndLoss,
    Line(String),
}

/// One line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDef {
    pub code: String,
    pub name: String,
    pub level: u8,
    /// The formula as written.
    pub formula: String,
    /// (+1 or −1, term).
    pub terms: Vec<(i8, Term)>,
}

/// A statement's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub kind: StatementKind,
    pub lines: Vec<LineDef>,
}

impl Definition {
    /// The (account, dimension) pairs whose per-value balances the `:side@dimension` terms need.
    pub fn dimension_terms(&self) -> Vec<(AccountCode, Dimension)> {
        let mut pairs: Vec<(AccountCode, Dimension)> = self
            .lines
            .iter()
            .flat_map(|line| line.terms.iter())
            .filter_map(|(_, term)| match term {
                Term::Side(code, _, dimension) => Some((code.clone(), *dimension)),
                _ => None,
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }
}

const BS_CAS: &str = include_str!("templates/bs_cas.tsv");
const IS_CAS: &str = include_str!("templates/is_cas.tsv");
const BS_CAS_SMALL: &str = include_str!("templates/bs_cas_small.tsv");
const IS_CAS_SMALL: &str = include_str!("templates/is_cas_small.tsv");

/// The shipped definition text of a statement for a standard.
pub fn shipped_text(standard: Standard, kind: StatementKind) -> &'static str {
    match (standard, kind) {
        (Standard::Cas, StatementKind::BalanceSheet) => BS_CAS,
        (Standard::Cas, StatementKind::IncomeStatement) => IS_CAS,
        (Standard::CasSmall, StatementKind::BalanceSheet) => BS_CAS_SMALL,
        (Standard::CasSmall, StatementKind::IncomeStatement) => IS_CAS_SMALL,
    }
}

/// One line of a definition as written (the TSV columns, or the JSON of the API), before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub code: String,
    pub name: String,
    pub level: String,
    pub formula: String,
}

/// Parses a definition (tab-separated: code, name, level, formula; `#` comments) and checks it against a
/// chart: every account a formula names exists, every `#line` names an earlier line, codes are unique.
/// Refusals name the line: `lines[i].formula`.
pub fn parse_definition(
    text: &str,
    kind: StatementKind,
    chart: &Chart,
) -> Result<Definition, Invalid> {
    let mut check = Checker::default();
    let mut raw_lines = Vec::new();
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let index = raw_lines.len();
        let fields: Vec<&str> = raw.split('\t').collect();
        let (code, name, level, formula) = match fields.as_slice() {
            [code, name, level, formula] => (*code, *name, *level, *formula),
            [code, name, level] => (*code, *name, *level, ""),
            _ => {
                check.add(
                    FieldError::new(
                        format!("lines[{index}]"),
                        DetailCode::InvalidFormat,
                        format!(
                            "a line has four tab-separated columns (code, name, level, formula); found {}",
                            fields.len()
                        ),
                    )
                    .with("format", "statement_line"),
                );
                raw_lines.push(None);
                continue;
            }
        };
        raw_lines.push(Some(RawLine {
            code: code.to_owned(),
            name: name.to_owned(),
            level: level.to_owned(),
            formula: formula.to_owned(),
        }));
    }
    check_rows(&raw_lines, kind, chart, check)
}

/// Checks lines given one by one (the API's JSON) like [`parse_definition`] checks a file's, and also
/// that each column can be written back as TSV (no tab or line break, a code that does not start with
/// `#`), so that every stored definition exports and re-imports unchanged.
pub fn check_lines(
    raw_lines: Vec<RawLine>,
    kind: StatementKind,
    chart: &Chart,
) -> Result<Definition, Invalid> {
    let rows: Vec<Option<RawLine>> = raw_lines.into_iter().map(Some).collect();
    check_rows(&rows, kind, chart, Checker::default())
}

/// The lines of a definition (`None`: a file line that could not be split, already refused in `check`).
fn check_rows(
    raw_lines: &[Option<RawLine>],
    kind: StatementKind,
    chart: &Chart,
    mut check: Checker,
) -> Result<Definition, Invalid> {
    if raw_lines.is_empty() {
        check.push(
            "lines",
            DetailCode::Required,
            "a statement has at least one line",
        );
    }
    let mut lines: Vec<LineDef> = Vec::new();
    for (index, raw) in raw_lines.iter().enumerate() {
        let Some(raw) = raw else { continue };
        let at = |field: &str| format!("lines[{index}].{field}");
        let (code, name, formula) = (raw.code.trim(), raw.name.trim(), raw.formula.trim());
        for (field, value) in [("code", code), ("name", name), ("formula", formula)] {
            if value.contains(['\t', '\n', '\r']) {
                check.add(
                    FieldError::new(
                        at(field),
                        DetailCode::InvalidFormat,
                        "must not contain a tab or a line break",
                    )
                    .with("format", "statement_line"),
                );
            }
        }
        if code.is_empty() || code.starts_with('#') {
            check.add(
                FieldError::new(
                    at("code"),
                    DetailCode::InvalidFormat,
                    "a line code is not empty and does not start with #",
                )
                .with("format", "statement_line"),
            );
        }
        if name.is_empty() {
            check.push(at("name"), DetailCode::Required, "a line has a name");
        }
        let level = match raw.level.trim().parse::<u8>() {
            Ok(level @ 1..=3) => level,
            _ => {
                check.add(
                    FieldError::new(at("level"), DetailCode::OutOfRange, "must be 1, 2 or 3")
                        .with("min", 1)
                        .with("max", 3),
                );
                1
            }
        };
        if lines.iter().any(|line| line.code == code) {
            check.push(
                at("code"),
                DetailCode::Duplicate,
                format!("line {code} is defined twice"),
            );
        }
        let terms = match parse_formula(formula, chart, &lines) {
            Ok(terms) => terms,
            Err(reason) => {
                check.add(
                    FieldError::new(
                        at("formula"),
                        DetailCode::InvalidFormat,
                        format!("line {code} ({name}): {reason}"),
                    )
                    .with("format", "statement_formula"),
                );
                Vec::new()
            }
        };
        lines.push(LineDef {
            code: code.to_owned(),
            name: name.to_owned(),
            level,
            formula: formula.to_owned(),
            terms,
        });
    }
    check.finish()?;
    Ok(Definition { kind, lines })
}

/// A definition as the TSV the shipped templates use (without comments): what is stored, exported, and
/// read back by [`parse_definition`].
pub fn definition_text(definition: &Definition) -> String {
    definition
        .lines
        .iter()
        .map(|line| {
            format!(
                "{}\t{}\t{}\t{}\n",
                line.code, line.name, line.level, line.formula
            )
        })
        .collect()
}

fn parse_formula(
    formula: &str,
    chart: &Chart,
    earlier: &[LineDef],
) -> Result<Vec<(i8, Term)>, String> {
    let text: String = formula.chars().filter(|c| !c.is_whitespace()).collect();
    let mut terms = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (sign, after) = match rest.as_bytes()[0] {
            b'+' => (1, &rest[1..]),
            b'-' => (-1, &rest[1..]),
            _ if terms.is_empty() => (1, rest),
            _ => return Err(format!("expected + or - before {rest:?}")),
        };
        let end = after.find(['+', '-']).unwrap_or(after.len());
        let word = &after[..end];
        rest = &after[end..];
        terms.push((sign, parse_term(word, chart, earlier)?));
    }
    Ok(terms)
}

fn parse_term(word: &str, chart: &Chart, earlier: &[LineDef]) -> Result<Term, String> {
    if word.is_empty() {
        return Err("a term is missing".to_owned());
    }
    if word == "PNL" {
        return Ok(Term::ProfitAndLoss);
    }
    if let Some(line) = word.strip_prefix('#') {
        return if earlier.iter().any(|l| l.code == line) {
            Ok(Term::Line(line.to_owned()))
        } else {
            Err(format!("#{line} names no earlier line"))
        };
    }
    let (code, side) = match word.split_once(':') {
        Some((code, side)) => (code, Some(side)),
        None => (word, None),
    };
    let code = AccountCode::parse(code)?;
    if chart.get(&code).is_none() {
        return Err(format!("account {code} does not exist in this book"));
    }
    let Some(side) = side else {
        return Ok(Term::Account(code));
    };
    let (direction, dimension) = side
        .split_once('@')
        .ok_or_else(|| format!("{word:?}: write CODE:debit@dimension or CODE:credit@dimension"))?;
    Ok(Term::Side(
        code,
        Direction::parse(direction)?,
        Dimension::parse(dimension)?,
    ))
}

/// What a statement is computed from: per leaf account, the net amount (debit − credit) — closing
/// balances for a balance sheet, period amounts for an income statement — and per (leaf account,
/// dimension) the net of each value, for the `:side@dimension` terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub by_account: BTreeMap<AccountCode, Decimal>,
    pub by_value: BTreeMap<(AccountCode, Dimension), BTreeMap<String, Decimal>>,
}

/// Each line's value, in the order of the definition (rounded to cents).
pub fn evaluate(definition: &Definition, chart: &Chart, figures: &Figures) -> Vec<Decimal> {
    let mut values: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut out = Vec::with_capacity(definition.lines.len());
    for line in &definition.lines {
        let mut total = Decimal::ZERO;
        for (sign, term) in &line.terms {
            let value = match term {
                Term::Account(code) => account_value(chart, figures, code),
                Term::Side(code, side, dimension) => side_value(figures, code, *side, *dimension),
                Term::ProfitAndLoss => profit_and_loss(chart, figures),
                Term::Line(code) => values.get(code.as_str()).copied().unwrap_or_default(),
            };
            total += Decimal::from(*sign) * value;
        }
        let total = money::rescaled(total, AMOUNT_SCALE);
        values.insert(line.code.as_str(), total);
        out.push(total);
    }
    out
}

fn under(code: &AccountCode, leaf: &AccountCode) -> bool {
    leaf.as_str().starts_with(code.as_str())
}

fn account_value(chart: &Chart, figures: &Figures, code: &AccountCode) -> Decimal {
    let net: Decimal = figures
        .by_account
        .range(code.clone()..)
        .take_while(|(leaf, _)| under(code, leaf))
        .map(|(_, net)| *net)
        .sum();
    match chart.get(code).map(|account| account.direction) {
        Some(Direction::Credit) => -net,
        _ => net,
    }
}

fn side_value(
    figures: &Figures,
    code: &AccountCode,
    side: Direction,
    dimension: Dimension,
) -> Decimal {
    let mut per_value: BTreeMap<&str, Decimal> = BTreeMap::new();
    for ((leaf, at), values) in &figures.by_value {
        if *at != dimension || !under(code, leaf) {
            continue;
        }
        for (value, net) in values {
            *per_value.entry(value.as_str()).or_default() += *net;
        }
    }
    per_value
        .values()
        .map(|net| match side {
            Direction::Debit => (*net).max(Decimal::ZERO),
            Direction::Credit => (-*net).max(Decimal::ZERO),
        })
        .sum()
}

fn profit_and_loss(chart: &Chart, figures: &Figures) -> Decimal {
    figures
        .by_account
        .iter()
        .filter(|(code, _)| {
            chart
                .get(code)
                .is_some_and(|a| matches!(a.kind, AccountKind::Income | AccountKind::Expense))
        })
        .map(|(_, net)| -*net)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates;
    use proptest::prelude::*;

    fn chart(standard: Standard) -> Chart {
        Chart::from_accounts(templates::accounts(standard).unwrap()).unwrap()
    }

    fn shipped(standard: Standard, kind: StatementKind) -> Definition {
        parse_definition(shipped_text(standard, kind), kind, &chart(standard)).unwrap()
    }

    fn value(definition: &Definition, values: &[Decimal], code: &str) -> Decimal {
        let index = definition
            .lines
            .iter()
            .position(|l| l.code == code)
            .unwrap();
        values[index]
    }

    #[test]
    fn the_shipped_definitions_parse_against_their_charts() {
        for standard in Standard::ALL {
            for kind in [StatementKind::BalanceSheet, StatementKind::IncomeStatement] {
                let definition = shipped(standard, kind);
                assert!(definition.lines.len() > 10, "{standard:?} {kind:?}");
            }
        }
    }

    #[test]
    fn a_formula_naming_an_unknown_account_or_line_is_refused_where_it_is() {
        let chart = chart(Standard::Cas);
        let text = "1\t货币资金\t2\t1001 + 1999\n2\t合计\t1\t#1 + #3\n";
        let refused = parse_definition(text, StatementKind::BalanceSheet, &chart).unwrap_err();
        let fields: Vec<&str> = refused.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["lines[0].formula", "lines[1].formula"]);
        assert!(
            refused.0[0].reason.contains("account 1999 does not exist"),
            "{refused}"
        );
        assert!(
            refused.0[1].reason.contains("#3 names no earlier line"),
            "{refused}"
        );
    }

    #[test]
    fn a_definition_written_as_tsv_reads_back_the_same() {
        for standard in Standard::ALL {
            for kind in [StatementKind::BalanceSheet, StatementKind::IncomeStatement] {
                let definition = shipped(standard, kind);
                let text = definition_text(&definition);
                let again = parse_definition(&text, kind, &chart(standard)).unwrap();
                assert_eq!(again, definition, "{standard:?} {kind:?}");
            }
        }
    }

    #[test]
    fn lines_given_one_by_one_are_refused_where_they_cannot_be_written_as_tsv() {
        let chart = chart(Standard::Cas);
        let raw = |code: &str, name: &str, level: &str, formula: &str| RawLine {
            code: code.to_owned(),
            name: name.to_owned(),
            level: level.to_owned(),
            formula: formula.to_owned(),
        };
        let lines = vec![
            raw("1", "货币\t资金", "2", "1001"),
            raw("#2", "合计", "1", "#1"),
            raw("3", "", "4", "1001"),
            raw("1", "重复", "2", ""),
        ];
        let refused = check_lines(lines, StatementKind::BalanceSheet, &chart).unwrap_err();
        let found: Vec<(&str, DetailCode)> = refused
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code))
            .collect();
        assert_eq!(
            found,
            vec![
                ("lines[0].name", DetailCode::InvalidFormat),
                ("lines[1].code", DetailCode::InvalidFormat),
                ("lines[2].name", DetailCode::Required),
                ("lines[2].level", DetailCode::OutOfRange),
                ("lines[3].code", DetailCode::Duplicate),
            ]
        );
        let none = check_lines(Vec::new(), StatementKind::BalanceSheet, &chart).unwrap_err();
        assert_eq!(none.0[0].field, "lines");
    }

    /// Leaf accounts of a chart, with their kinds.
    fn leaves(chart: &Chart) -> Vec<(AccountCode, AccountKind)> {
        chart
            .accounts()
            .filter(|a| chart.is_leaf(&a.code))
            .map(|a| (a.code.clone(), a.kind))
            .collect()
    }

    /// Random balances over every leaf that sum to zero (a ledger always balances), with 1122/2203 and
    /// 1123/2202 split over a few dimension values.
    fn random_figures(chart: &Chart, cents: &[i64], with_pnl: bool) -> Figures {
        let mut figures = Figures::default();
        let leaves = leaves(chart);
        let mut total = Decimal::ZERO;
        for ((code, kind), cents) in leaves.iter().zip(cents.iter().cycle()) {
            let is_pnl = matches!(kind, AccountKind::Income | AccountKind::Expense);
            if is_pnl && !with_pnl {
                continue;
            }
            let net = Decimal::new(*cents, 2);
            total += net;
            figures.by_account.insert(code.clone(), net);
        }
        // The difference goes to cash, so everything sums to zero.
        let cash = AccountCode::parse("1001").unwrap();
        *figures.by_account.entry(cash).or_default() -= total;
        for (code, dimension) in [
            ("1122", Dimension::Customer),
            ("2203", Dimension::Customer),
            ("1123", Dimension::Supplier),
            ("2202", Dimension::Supplier),
        ] {
            let code = AccountCode::parse(code).unwrap();
            let net = figures.by_account.get(&code).copied().unwrap_or_default();
            let split = Decimal::new(cents[0].abs() % 100_000, 2);
            let values = BTreeMap::from([("A".to_owned(), net + split), ("B".to_owned(), -split)]);
            figures.by_value.insert((code, dimension), values);
        }
        figures
    }

    proptest! {
        #[test]
        fn every_balance_sheet_balances(cents in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 1..200), with_pnl: bool) {
            for standard in Standard::ALL {
                let chart = chart(standard);
                let definition = shipped(standard, StatementKind::BalanceSheet);
                let figures = random_figures(&chart, &cents, with_pnl);
                let values = evaluate(&definition, &chart, &figures);
                let (assets, total) = match standard {
                    Standard::Cas => ("29", "59"),
                    Standard::CasSmall => ("26", "49"),
                };
                prop_assert_eq!(value(&definition, &values, assets), value(&definition, &values, total), "{:?}", standard);
            }
        }

        #[test]
        fn net_profit_is_income_minus_expenses(cents in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 1..200)) {
            for standard in Standard::ALL {
                let chart = chart(standard);
                let definition = shipped(standard, StatementKind::IncomeStatement);
                let figures = random_figures(&chart, &cents, true);
                let values = evaluate(&definition, &chart, &figures);
                let expected: Decimal = figures
                    .by_account
                    .iter()
                    .filter(|(code, _)| chart.get(code).is_some_and(|a| matches!(a.kind, AccountKind::Income | AccountKind::Expense)))
                    .map(|(_, net)| -*net)
                    .sum();
                let last = definition.lines.last().unwrap();
                prop_assert_eq!(value(&definition, &values, &last.code), money::rescaled(expected, AMOUNT_SCALE), "{:?}", standard);
            }
        }
    }
}
