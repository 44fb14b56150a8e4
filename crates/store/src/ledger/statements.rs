//! Financial statements: the balance sheet (资产负债表) and the income statement (利润表) of a book, computed
//! by `tenon_ledger::statements` from the figures gathered here — closing balances (openings + posted
//! sums) per account and per dimension value, and period amounts of the income and expense accounts
//! without the carry-forward vouchers.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use tenon_ledger::statements::{self, Definition, Figures, StatementKind};
use tenon_ledger::{AccountCode, Chart, Dimension, Period, Role};
use tenon_model::VoucherId;
use uuid::Uuid;

use super::{Book, BookRef, Scaled, corrupt};
use crate::exec::Conn;
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant};

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

/// Sums of kept balances up to a balance sheet's period, `early` (1) when their periods are also within
/// the earlier end it reports beside it (0 when only within the later one).
#[derive(sqlx::FromRow)]
struct ClosingRow {
    account_code: String,
    early: i32,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

impl ClosingRow {
    /// The ends (0: the period, 1: the earlier end) the sums count in.
    fn ends(&self) -> std::ops::Range<usize> {
        if self.early == 1 { 0..2 } else { 0..1 }
    }
}

/// [`ClosingRow`] per dimension value.
#[derive(sqlx::FromRow)]
struct ValueRow {
    account_code: String,
    value: String,
    early: i32,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

impl ValueRow {
    fn ends(&self) -> std::ops::Range<usize> {
        if self.early == 1 { 0..2 } else { 0..1 }
    }
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
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let (year, _) = period.fiscal(book.settings.fiscal_year_start_month);
        let year_start = Period::from_fiscal(year, 1, book.settings.fiscal_year_start_month)
            .ok_or_else(|| corrupt("period", year))?;
        let earlier = year_start.previous();
        let setup = async {
            let chart = self.load_chart(&mut conn, book.id).await?;
            let found = self
                .load_definition(
                    &mut conn,
                    &book,
                    &chart,
                    StatementKind::BalanceSheet,
                    version,
                )
                .await?;
            let values = self
                .value_closings(&mut conn, &book, &chart, &found.definition, period, earlier)
                .await?;
            Ok::<_, StoreError>((chart, found, values))
        };
        // The account sums need only the book: they are read on a second connection while this one
        // reads the chart, the definition and the value sums — when the pool has one idle. Never waiting
        // for one: readers that each hold a connection and wait for a second could wait for each other.
        let (mut figures, (chart, found, values)) = match self.store.pools.try_read() {
            Some(mut spare) => {
                let mut other = spare.conn();
                let (accounts, setup) = tokio::join!(
                    self.account_closings(&mut other, &book, period, earlier),
                    setup
                );
                (accounts?, setup?)
            }
            None => {
                let setup = setup.await?;
                let accounts = self
                    .account_closings(&mut conn, &book, period, earlier)
                    .await?;
                (accounts, setup)
            }
        };
        for (dimension, leaves, rows) in values {
            add_values(&mut figures, dimension, &leaves, rows)?;
        }
        let [current, previous] = figures;
        Ok(statement(
            (&found.definition, found.version),
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

    /// Closing balances per leaf account at the end of `period` and, from the same statement, at the end
    /// of `earlier` (the previous fiscal year end, before `period`; `None`: no such column, its figures
    /// stay empty): openings plus posted sums, from kept balances (`ledger_balances`, `ledger_openings`),
    /// never from the posted lines. The statement sums every kept row up to `period` once, split by
    /// whether the row's period is also within `earlier`.
    async fn account_closings(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        period: Period,
        earlier: Option<Period>,
    ) -> Result<[Figures; 2]> {
        let mut figures = [Figures::default(), Figures::default()];
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push("SELECT account_code, CASE WHEN period <= ")
            .arg(split(earlier))
            .push(" THEN 1 ELSE 0 END AS early, COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit FROM ledger_balances WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND book_id = ")
            .arg(book.id)
            .push(" AND period <= ")
            .arg(period.key())
            .push(" GROUP BY account_code, early");
        let rows: Vec<ClosingRow> = conn.fetch_all(sql.into_sql()).await?;
        for row in rows {
            let code = code_of(&row.account_code)?;
            let net = row.debit.0 - row.credit.0;
            for end in row.ends() {
                *figures[end].by_account.entry(code.clone()).or_default() += net;
            }
        }
        let with_openings = with_openings(book, period, earlier);
        if with_openings[0] {
            for (code, sums) in self.opening_sums(conn, book, period.next()).await? {
                for end in (0..2).filter(|end| with_openings[*end]) {
                    *figures[end].by_account.entry(code.clone()).or_default() += sums.net();
                }
            }
        }
        Ok(figures)
    }

    /// For the definition's `:side@dimension` terms, the closing sums per (leaf, dimension value) at the
    /// same two ends as [`Self::account_closings`], from `ledger_value_balances` and `ledger_openings`:
    /// one statement per dimension over the leaves of all its terms (not one per term), the rows split
    /// the same way. Per dimension: its leaves and the rows.
    async fn value_closings(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        chart: &Chart,
        definition: &Definition,
        period: Period,
        earlier: Option<Period>,
    ) -> Result<Vec<(Dimension, BTreeSet<AccountCode>, Vec<ValueRow>)>> {
        let with_openings = with_openings(book, period, earlier);
        let mut terms: BTreeMap<Dimension, BTreeSet<AccountCode>> = BTreeMap::new();
        for (code, dimension) in definition.dimension_terms() {
            terms
                .entry(dimension)
                .or_default()
                .extend(chart.leaves_under(&code));
        }
        let mut out = Vec::new();
        for (dimension, leaves) in terms {
            if leaves.is_empty() {
                continue;
            }
            let column = dimension.as_str();
            // The kept sums of the lines that name a value (see migration 0020), not the lines themselves.
            let mut sql = SqlText::new(conn.backend());
            sql.push(&format!(
                "SELECT account_code, {column} AS value, CASE WHEN period <= "
            ))
            .arg(split(earlier))
            .push(
                " THEN 1 ELSE 0 END AS early, COALESCE(SUM(debit), 0) AS debit, \
                 COALESCE(SUM(credit), 0) AS credit FROM ledger_value_balances WHERE organization_id = ",
            )
            .arg(self.org_id)
            .push(" AND book_id = ")
            .arg(book.id)
            .push(" AND account_code IN ")
            .list(leaves.iter().map(AccountCode::as_str))
            .push(" AND period <= ")
            .arg(period.key())
            .push(&format!(
                " AND {column} <> '' GROUP BY account_code, {column}, early"
            ));
            let mut rows: Vec<ValueRow> = conn.fetch_all(sql.into_sql()).await?;
            if with_openings[0] {
                // Openings are in both ends when they are in the earlier one, otherwise in the later only.
                let early = if with_openings[1] { 1 } else { 0 };
                let mut sql = SqlText::new(conn.backend());
                sql.push(&format!(
                    "SELECT account_code, {column} AS value, {early} AS early, debit, credit \
                     FROM ledger_openings WHERE organization_id = "
                ))
                .arg(self.org_id)
                .push(" AND book_id = ")
                .arg(book.id)
                .push(" AND account_code IN ")
                .list(leaves.iter().map(AccountCode::as_str))
                .push(&format!(" AND {column} IS NOT NULL"));
                rows.extend(conn.fetch_all::<ValueRow>(sql.into_sql()).await?);
            }
            out.push((dimension, leaves, rows));
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
        let mut figures = Figures::default();
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT account_code, COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit FROM ledger_balances WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND book_id = ")
            .arg(book.id)
            .push(" AND period >= ")
            .arg(from.key())
            .push(" AND period <= ")
            .arg(to.key())
            .push(" GROUP BY account_code");
        let rows: Vec<NetRow> = conn.fetch_all(sql.into_sql()).await?;
        for row in rows {
            *figures
                .by_account
                .entry(code_of(&row.account_code)?)
                .or_default() += row.debit.0 - row.credit.0;
        }
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

/// The bound that splits kept rows between the two ends of a balance sheet: rows of periods up to it are
/// in the earlier end too. No period key is below `i64::MIN`: without an earlier end no row is in it.
fn split(earlier: Option<Period>) -> i64 {
    earlier.map_or(i64::MIN, Period::key)
}

/// Whether the openings count in the closing at `period` and at `earlier`. Openings are the balances at
/// the start of the first period: they count in the closing of the period before it (上年年末余额 of a
/// book that starts in January) and of every later one.
fn with_openings(book: &Book, period: Period, earlier: Option<Period>) -> [bool; 2] {
    let opens = |end: Period| book.opening_period.is_some_and(|first| first <= end.next());
    [opens(period), earlier.is_some_and(opens)]
}

/// Adds the value sums of `dimension` to both ends' figures; what names no value of the dimension ('')
/// is the rest of each leaf's closing balance (so the account sums must be in `figures` already).
fn add_values(
    figures: &mut [Figures; 2],
    dimension: Dimension,
    leaves: &BTreeSet<AccountCode>,
    rows: Vec<ValueRow>,
) -> Result<()> {
    let mut named: [BTreeMap<AccountCode, Decimal>; 2] = Default::default();
    for row in rows {
        let leaf = code_of(&row.account_code)?;
        let net = row.debit.0 - row.credit.0;
        for end in row.ends() {
            *named[end].entry(leaf.clone()).or_default() += net;
            *figures[end]
                .by_value
                .entry((leaf.clone(), dimension))
                .or_default()
                .entry(row.value.clone())
                .or_default() += net;
        }
    }
    for (figures, named) in figures.iter_mut().zip(&named) {
        for leaf in leaves {
            let total = figures.by_account.get(leaf).copied().unwrap_or_default();
            let rest = total - named.get(leaf).copied().unwrap_or_default();
            if !rest.is_zero() {
                figures
                    .by_value
                    .entry((leaf.clone(), dimension))
                    .or_default()
                    .insert(String::new(), rest);
            }
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
