//! Financial statements: the balance sheet (资产负债表) and the income statement (利润表) of a book, computed
//! by `tenon_ledger::statements` from the figures gathered here — closing balances (openings + posted
//! sums) per account and per dimension value, and period amounts of the income and expense accounts
//! without the carry-forward vouchers.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tenon_ledger::statements::{self, Definition, Figures, StatementKind};
use tenon_ledger::{AccountCode, Chart, Dimension, Period, Role};
use tenon_model::VoucherId;
use uuid::Uuid;

use super::{Book, BookRef, Scaled, corrupt};
use crate::exec::Conn;
use crate::sql::SqlText;
use crate::{Result, Tenant};

/// One line of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub code: String,
    pub name: String,
    pub level: u8,
    /// Balance sheet: closing at the end of the period (期末余额); income statement: the amount of the
    /// period or range (本期金额).
    pub current: Decimal,
    /// Balance sheet: closing at the end of the previous fiscal year (上年年末余额); income statement: the
    /// same period or range a year earlier (上期金额).
    pub previous: Decimal,
}

/// A computed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub kind: StatementKind,
    /// The version of the book's line definitions it was computed with (0: the shipped ones).
    pub definition_version: u32,
    pub from: Period,
    pub to: Period,
    pub lines: Vec<StatementLine>,
}

/// Vouchers per statement when reading the lines of the carry-forward vouchers.
const VOUCHERS_PER_STATEMENT: usize = 500;

#[derive(sqlx::FromRow)]
struct NetRow {
    account_code: String,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

#[derive(sqlx::FromRow)]
struct ValueRow {
    account_code: String,
    value: String,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

fn code_of(raw: &str) -> Result<AccountCode> {
    AccountCode::parse(raw).map_err(|_| corrupt("account code", raw))
}

impl Tenant<'_> {
    async fn statement_setup(
        &self,
        conn: &mut Conn<'_>,
        book: &BookRef,
        kind: StatementKind,
        version: Option<u32>,
    ) -> Result<(Book, Chart, Definition, u32)> {
        let (book, chart) = self.book_and_chart(conn, book).await?;
        let found = self
            .load_definition(conn, &book, &chart, kind, version)
            .await?;
        Ok((book, chart, found.definition, found.version))
    }

    /// The balance sheet at the end of `period`, beside the end of the previous fiscal year, with the
    /// book's definition `version` (`None`: its latest).
    pub async fn balance_sheet(
        &self,
        book: &BookRef,
        period: Period,
        version: Option<u32>,
    ) -> Result<Statement> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart, definition, version) = self
            .statement_setup(&mut conn, book, StatementKind::BalanceSheet, version)
            .await?;
        let (year, _) = period.fiscal(book.settings.fiscal_year_start_month);
        let year_start = Period::from_fiscal(year, 1, book.settings.fiscal_year_start_month)
            .ok_or_else(|| corrupt("period", year))?;
        let ends: Vec<Period> = [Some(period), year_start.previous()]
            .into_iter()
            .flatten()
            .collect();
        // On PostgreSQL the account sums of both columns are read on a second connection while this one
        // reads the value sums, when the pool has one idle (see `Pools::try_read`); otherwise one after
        // the other, the same statements.
        let (accounts, values) = match self.store.pools.try_read() {
            Some(mut spare) => {
                let mut other = spare.conn();
                tokio::join!(
                    self.account_figures(&mut other, &book, &ends),
                    self.value_figures(&mut conn, &book, &chart, &definition, &ends)
                )
            }
            None => (
                self.account_figures(&mut conn, &book, &ends).await,
                self.value_figures(&mut conn, &book, &chart, &definition, &ends)
                    .await,
            ),
        };
        let mut columns = Vec::with_capacity(ends.len());
        for (mut figures, terms) in accounts?.into_iter().zip(values?) {
            for (dimension, leaves, rows) in terms {
                add_values(&mut figures, dimension, leaves, rows)?;
            }
            columns.push(figures);
        }
        let mut columns = columns.into_iter();
        let current = columns.next().unwrap_or_default();
        let previous = columns.next().unwrap_or_default();
        Ok(statement(
            (&definition, version),
            &chart,
            period,
            period,
            &current,
            &previous,
        ))
    }

    /// The income statement of `from..=to` (one period when equal), beside the same range a year earlier,
    /// with the book's definition `version` (`None`: its latest).
    pub async fn income_statement(
        &self,
        book: &BookRef,
        from: Period,
        to: Period,
        version: Option<u32>,
    ) -> Result<Statement> {
        super::detail::check_range(from, to)?;
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart, definition, version) = self
            .statement_setup(&mut conn, book, StatementKind::IncomeStatement, version)
            .await?;
        let current = self
            .period_figures(&mut conn, &book, &chart, from, to)
            .await?;
        let year_back = |p: Period| Period::new(p.year() - 1, p.month());
        let previous = match (year_back(from), year_back(to)) {
            (Some(from), Some(to)) => {
                self.period_figures(&mut conn, &book, &chart, from, to)
                    .await?
            }
            _ => Figures::default(),
        };
        Ok(statement(
            (&definition, version),
            &chart,
            from,
            to,
            &current,
            &previous,
        ))
    }

    /// Posted net (debit − credit) per leaf account over `from..=to` from the kept balances
    /// (`ledger_balances`), never from the posted lines; `from: None` sums every period up to `to`.
    async fn account_nets(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        from: Option<Period>,
        to: Period,
    ) -> Result<BTreeMap<AccountCode, Decimal>> {
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT account_code, COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit FROM ledger_balances WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND book_id = ")
            .arg(book.id);
        if let Some(from) = from {
            sql.push(" AND period >= ").arg(from.key());
        }
        sql.push(" AND period <= ")
            .arg(to.key())
            .push(" GROUP BY account_code");
        let rows: Vec<NetRow> = conn.fetch_all(sql.into_sql()).await?;
        let mut nets = BTreeMap::new();
        for row in rows {
            *nets.entry(code_of(&row.account_code)?).or_default() += row.debit.0 - row.credit.0;
        }
        Ok(nets)
    }

    /// Closing balances per leaf account at the end of each of `ends`: openings plus posted sums, from
    /// kept balances (`ledger_balances`, `ledger_openings`), never from the posted lines.
    async fn account_figures(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        ends: &[Period],
    ) -> Result<Vec<Figures>> {
        let mut out = Vec::with_capacity(ends.len());
        for &period in ends {
            let mut figures = Figures {
                by_account: self.account_nets(conn, book, None, period).await?,
                ..Figures::default()
            };
            if with_openings(book, period) {
                for (code, sums) in self.opening_sums(conn, book, period.next()).await? {
                    *figures.by_account.entry(code).or_default() += sums.net();
                }
            }
            out.push(figures);
        }
        Ok(out)
    }

    /// For each of `ends`, per `:side@dimension` term of the definition: the term's dimension, the leaves
    /// under its account and the sums per (leaf, value) at that end — the kept sums of the lines that
    /// name a value (`ledger_value_balances`, see migration 0020) and the openings that name one.
    async fn value_figures(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        chart: &Chart,
        definition: &Definition,
        ends: &[Period],
    ) -> Result<Vec<Vec<TermRows>>> {
        let mut out = Vec::with_capacity(ends.len());
        for &period in ends {
            let mut terms = Vec::new();
            for (code, dimension) in definition.dimension_terms() {
                let leaves = chart.leaves_under(&code);
                if leaves.is_empty() {
                    continue;
                }
                let column = dimension.as_str();
                let mut sql = SqlText::new(conn.backend());
                sql.push(&format!(
                    "SELECT account_code, {column} AS value, COALESCE(SUM(debit), 0) AS debit, \
                     COALESCE(SUM(credit), 0) AS credit FROM ledger_value_balances WHERE organization_id = "
                ))
                .arg(self.org_id)
                .push(" AND book_id = ")
                .arg(book.id)
                .push(" AND account_code IN ")
                .list(leaves.iter().map(AccountCode::as_str))
                .push(" AND period <= ")
                .arg(period.key())
                .push(&format!(
                    " AND {column} <> '' GROUP BY account_code, {column}"
                ));
                let mut rows: Vec<ValueRow> = conn.fetch_all(sql.into_sql()).await?;
                if with_openings(book, period) {
                    let mut sql = SqlText::new(conn.backend());
                    sql.push(&format!(
                        "SELECT account_code, {column} AS value, debit, credit FROM ledger_openings WHERE organization_id = "
                    ))
                    .arg(self.org_id)
                    .push(" AND book_id = ")
                    .arg(book.id)
                    .push(" AND account_code IN ")
                    .list(leaves.iter().map(AccountCode::as_str))
                    .push(&format!(" AND {column} IS NOT NULL"));
                    rows.extend(conn.fetch_all::<ValueRow>(sql.into_sql()).await?);
                }
                terms.push((dimension, leaves, rows));
            }
            out.push(terms);
        }
        Ok(out)
    }

    /// Posted amounts of `from..=to` per leaf account, without the lines of vouchers that touch 本年利润
    /// (the carry-forward and year-end vouchers).
    async fn period_figures(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        chart: &Chart,
        from: Period,
        to: Period,
    ) -> Result<Figures> {
        let mut figures = Figures {
            by_account: self.account_nets(conn, book, Some(from), to).await?,
            ..Figures::default()
        };
        let profit = Role::parse("CURRENT_PROFIT")
            .ok()
            .and_then(|role| chart.by_role(&role))
            .map(|account| chart.leaves_under(&account.code))
            .unwrap_or_default();
        if profit.is_empty() {
            return Ok(figures);
        }
        // First the vouchers (few: the carry-forwards) through the lines of 本年利润 in the range, then
        // their lines by primary key — never a join the planner could turn into a walk of every line.
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT DISTINCT c.voucher_id FROM ledger_lines c JOIN ledger_vouchers v \
             ON v.organization_id = c.organization_id AND v.id = c.voucher_id WHERE c.organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND c.book_id = ")
        .arg(book.id)
        .push(" AND c.account_code IN ")
        .list(profit.iter().map(AccountCode::as_str))
        .push(" AND c.period >= ")
        .arg(from.key())
        .push(" AND c.period <= ")
        .arg(to.key())
        .push(" AND v.state = 'posted' ORDER BY c.voucher_id");
        let vouchers: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        for chunk in vouchers.chunks(VOUCHERS_PER_STATEMENT) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(
                "SELECT account_code, COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit \
                 FROM ledger_lines WHERE organization_id = ",
            )
            .arg(self.org_id)
            .push(" AND voucher_id IN ")
            .list(chunk.iter().map(|(id,)| VoucherId::from_uuid(*id)))
            .push(" GROUP BY account_code");
            let rows: Vec<NetRow> = conn.fetch_all(sql.into_sql()).await?;
            for row in rows {
                *figures
                    .by_account
                    .entry(code_of(&row.account_code)?)
                    .or_default() -= row.debit.0 - row.credit.0;
            }
        }
        Ok(figures)
    }
}

/// A `:side@dimension` term's dimension, the leaves under its account and their sums per value.
type TermRows = (Dimension, Vec<AccountCode>, Vec<ValueRow>);

/// Whether the openings count in the closing at the end of `period`. Openings are the balances at the
/// start of the first period: they count in the closing of the period before it (上年年末余额 of a book
/// that starts in January) and of every later one.
fn with_openings(book: &Book, period: Period) -> bool {
    book.opening_period
        .is_some_and(|first| first <= period.next())
}

/// Adds a term's value sums to `figures`, whose account sums are complete: what names no value of the
/// dimension ('') is the rest of each leaf's closing balance.
fn add_values(
    figures: &mut Figures,
    dimension: Dimension,
    leaves: Vec<AccountCode>,
    rows: Vec<ValueRow>,
) -> Result<()> {
    let mut named: BTreeMap<AccountCode, Decimal> = BTreeMap::new();
    for row in rows {
        let leaf = code_of(&row.account_code)?;
        let net = row.debit.0 - row.credit.0;
        *named.entry(leaf.clone()).or_default() += net;
        *figures
            .by_value
            .entry((leaf, dimension))
            .or_default()
            .entry(row.value)
            .or_default() += net;
    }
    for leaf in leaves {
        let total = figures.by_account.get(&leaf).copied().unwrap_or_default();
        let rest = total - named.get(&leaf).copied().unwrap_or_default();
        if !rest.is_zero() {
            figures
                .by_value
                .entry((leaf, dimension))
                .or_default()
                .insert(String::new(), rest);
        }
    }
    Ok(())
}

fn statement(
    (definition, version): (&Definition, u32),
    chart: &Chart,
    from: Period,
    to: Period,
    current: &Figures,
    previous: &Figures,
) -> Statement {
    let now = statements::evaluate(definition, chart, current);
    let before = statements::evaluate(definition, chart, previous);
    Statement {
        kind: definition.kind,
        definition_version: version,
        from,
        to,
        lines: definition
            .lines
            .iter()
            .zip(now.into_iter().zip(before))
            .map(|(line, (current, previous))| StatementLine {
                code: line.code.clone(),
                name: line.name.clone(),
                level: line.level,
                current,
                previous,
            })
            .collect(),
    }
}
