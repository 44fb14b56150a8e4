//! Reports read from posted lines and posted sums: account balances (by dimension too), the general
//! ledger, the sub-ledger detail with running balances, and the aging of receivables. The arithmetic is in
//! `tenon_ledger::report`; this module only fetches.
//!
//! Lines are restricted to the leaf accounts under the account asked for, listed from the chart and bound
//! one by one (`account_code IN (…)`), so the `(book, account, period)` index serves every query.

use super::BookRef;
use std::collections::BTreeMap;
use tenon_model::VoucherId;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_ledger::balance::{Sums, TrialBalanceTotals};
use tenon_ledger::report::{
    self, Aging, Balance, BalanceReport, BalanceRow, DimensionSums, GeneralLedger, PeriodSums,
};
use tenon_ledger::{AccountCode, Chart, Dimension, Period, Role, Word};
use tenon_model::DetailCode;
use uuid::Uuid;

use super::{Book, Scaled, corrupt, date_text, invalid};
use crate::exec::Conn;
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant};

/// Most lines one page of a sub-ledger detail answers (and the default page size); the next page starts
/// after the last line of this one (`DetailQuery::after`).
pub const DETAIL_LINES_MAX: usize = 10_000;

/// What a sub-ledger detail (明细账) shows.
#[derive(Debug, Clone)]
pub struct DetailQuery {
    /// An account; its sub-accounts are included.
    pub account: AccountCode,
    pub from: Period,
    pub to: Period,
    /// Only lines naming this value of this dimension (e.g. one customer).
    pub dimension: Option<(Dimension, String)>,
    /// Lines per page, 1 to [`DETAIL_LINES_MAX`].
    pub page_size: usize,
    /// The last line of the previous page (voucher, line number), from [`Detail::next_after`].
    pub after: Option<(VoucherId, u32)>,
}

/// One posted line in the detail, with the balance after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailEntry {
    pub voucher_id: VoucherId,
    pub date: NaiveDate,
    pub period: Period,
    pub word: Word,
    pub number: u32,
    pub account: AccountCode,
    pub summary: String,
    pub dimensions: BTreeMap<Dimension, String>,
    pub debit: Decimal,
    pub credit: Decimal,
    pub balance: Balance,
}

/// The sub-ledger detail of an account over a period range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub account: AccountCode,
    pub account_name: String,
    pub query: (Period, Period),
    pub opening: Balance,
    pub entries: Vec<DetailEntry>,
    pub total_debit: Decimal,
    pub total_credit: Decimal,
    pub closing: Balance,
    /// The last line of this page when more lines follow: pass it as [`DetailQuery::after`].
    pub next_after: Option<(VoucherId, u32)>,
}

#[derive(sqlx::FromRow)]
struct DimensionSumsRow {
    account_code: String,
    value: String,
    before_debit: Scaled<2>,
    before_credit: Scaled<2>,
    within_debit: Scaled<2>,
    within_credit: Scaled<2>,
}

#[derive(sqlx::FromRow)]
struct PeriodSumsRow {
    account_code: String,
    period: i64,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    voucher_id: Uuid,
    line_no: i64,
    date: String,
    period: i64,
    word: String,
    number: i64,
    account_code: String,
    summary: String,
    customer: Option<String>,
    supplier: Option<String>,
    department: Option<String>,
    employee: Option<String>,
    project: Option<String>,
    item: Option<String>,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

#[derive(sqlx::FromRow)]
struct AgingRow {
    customer: String,
    date: String,
    debit: Scaled<2>,
    credit: Scaled<2>,
}

#[derive(sqlx::FromRow)]
struct RangeSumsRow {
    before_debit: Scaled<2>,
    before_credit: Scaled<2>,
    within_debit: Scaled<2>,
    within_credit: Scaled<2>,
}

#[derive(sqlx::FromRow)]
struct NetRow {
    debit: Scaled<2>,
    credit: Scaled<2>,
}

/// ` AND <column> IN (…)` for `leaves` (nothing for none).
fn accounts_in(sql: &mut SqlText, column: &str, leaves: &[AccountCode]) {
    if !leaves.is_empty() {
        sql.push(&format!(" AND {column} IN "))
            .list(leaves.iter().map(|code| code.as_str()));
    }
}

/// The leaves under `account`, refusing an account the chart does not have.
fn leaves(chart: &Chart, account: &AccountCode) -> Result<Vec<AccountCode>> {
    let leaves = chart.leaves_under(account);
    if leaves.is_empty() {
        return Err(invalid(
            "account",
            DetailCode::NotFound,
            format!("account {account} does not exist in this book"),
        )
        .with("what", "account"));
    }
    Ok(leaves)
}

impl Tenant<'_> {
    /// A book (not found: 404) and its chart.
    pub(crate) async fn book_and_chart(
        &self,
        conn: &mut Conn<'_>,
        book: &BookRef,
    ) -> Result<(Book, Chart)> {
        let book = self
            .find_book(conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let chart = self.load_chart(conn, book.id).await?;
        Ok((book, chart))
    }

    /// Account balances of `period`: per account (parents aggregating sub-accounts) or, with a dimension,
    /// per (leaf account, dimension value). `account` limits the report to that account and its
    /// sub-accounts; without it a dimension report covers the lines that name a value of the dimension.
    pub async fn account_balances(
        &self,
        book: &BookRef,
        period: Period,
        account: Option<&AccountCode>,
        dimension: Option<Dimension>,
    ) -> Result<BalanceReport> {
        let Some(dimension) = dimension else {
            let trial = self.trial_balance(book, period).await?;
            let rows: Vec<BalanceRow> = trial
                .rows
                .into_iter()
                .filter(|row| account.is_none_or(|a| row.code.as_str().starts_with(a.as_str())))
                .map(|row| BalanceRow {
                    account: row.code,
                    account_name: row.name,
                    value: None,
                    opening_debit: row.opening_debit,
                    opening_credit: row.opening_credit,
                    period_debit: row.period_debit,
                    period_credit: row.period_credit,
                    closing_debit: row.closing_debit,
                    closing_credit: row.closing_credit,
                })
                .collect();
            let top = rows
                .iter()
                .map(|row| row.account.level())
                .min()
                .unwrap_or(1);
            let mut totals = TrialBalanceTotals::default();
            for row in rows.iter().filter(|row| row.account.level() == top) {
                report::add_to_totals(&mut totals, row);
            }
            return Ok(BalanceReport {
                period,
                dimension: None,
                rows,
                totals,
            });
        };
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart) = self.book_and_chart(&mut conn, book).await?;
        let column = dimension.as_str();
        let leaves = match account {
            Some(account) => leaves(&chart, account)?,
            None => Vec::new(),
        };
        let mut sql = SqlText::new(conn.backend());
        let sum = |sql: &mut SqlText, op: &str, side: &str, alias: &str| {
            sql.push(&format!(", COALESCE(SUM(CASE WHEN l.period {op} "))
                .arg(period.key())
                .push(&format!(" THEN l.{side} ELSE 0 END), 0) AS {alias}"));
        };
        sql.push(&format!(
            "SELECT l.account_code, COALESCE(l.{column}, '') AS value"
        ));
        sum(&mut sql, "<", "debit", "before_debit");
        sum(&mut sql, "<", "credit", "before_credit");
        sum(&mut sql, "=", "debit", "within_debit");
        sum(&mut sql, "=", "credit", "within_credit");
        sql.push(
            " FROM ledger_lines l JOIN ledger_vouchers v ON v.organization_id = l.organization_id \
             AND v.id = l.voucher_id WHERE l.organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND l.book_id = ")
        .arg(book.id)
        .push(" AND l.period <= ")
        .arg(period.key())
        .push(" AND v.state = 'posted'");
        if leaves.is_empty() {
            sql.push(&format!(" AND l.{column} IS NOT NULL"));
        } else {
            accounts_in(&mut sql, "l.account_code", &leaves);
        }
        sql.push(&format!(
            " GROUP BY l.account_code, COALESCE(l.{column}, '') ORDER BY l.account_code"
        ));
        let rows: Vec<DimensionSumsRow> = conn.fetch_all(sql.into_sql()).await?;
        let sums = rows
            .into_iter()
            .map(|row| {
                Ok(DimensionSums {
                    account: AccountCode::parse(&row.account_code)
                        .map_err(|_| corrupt("account code", &row.account_code))?,
                    value: row.value,
                    before: Sums {
                        debit: row.before_debit.0,
                        credit: row.before_credit.0,
                    },
                    within: Sums {
                        debit: row.within_debit.0,
                        credit: row.within_credit.0,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(report::dimension_balances(&chart, period, dimension, &sums))
    }

    /// The general ledger (总账) of `from..=to`: for `account` (with its sub-accounts) or for every
    /// first-level account with posted amounts, the opening balance, each period's debit and credit, the
    /// year-to-date sums and the closing balance.
    pub async fn general_ledger(
        &self,
        book: &BookRef,
        from: Period,
        to: Period,
        account: Option<&AccountCode>,
    ) -> Result<GeneralLedger> {
        check_range(from, to)?;
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart) = self.book_and_chart(&mut conn, book).await?;
        let leaves = match account {
            Some(account) => leaves(&chart, account)?,
            None => Vec::new(),
        };
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT account_code, period, debit, credit FROM ledger_balances WHERE organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND book_id = ")
        .arg(book.id)
        .push(" AND period <= ")
        .arg(to.key());
        if !leaves.is_empty() {
            accounts_in(&mut sql, "account_code", &leaves);
        }
        let rows: Vec<PeriodSumsRow> = conn.fetch_all(sql.into_sql()).await?;
        let sums = rows
            .into_iter()
            .map(|row| {
                Ok(PeriodSums {
                    account: AccountCode::parse(&row.account_code)
                        .map_err(|_| corrupt("account code", &row.account_code))?,
                    period: Period::from_key(row.period)
                        .ok_or_else(|| corrupt("period", row.period))?,
                    sums: Sums {
                        debit: row.debit.0,
                        credit: row.credit.0,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let shown: Vec<AccountCode> = account.into_iter().cloned().collect();
        Ok(report::general_ledger(
            &chart,
            &shown,
            from,
            to,
            book.settings.fiscal_year_start_month,
            &sums,
        ))
    }

    /// The sub-ledger detail (明细账): the opening balance at `from`, every posted line of the account (and
    /// its sub-accounts) in `from..=to` by date and voucher with the balance after it, and the closing
    /// balance. Refuses more than [`DETAIL_LINES_MAX`] lines, saying how to narrow the query.
    pub async fn account_detail(&self, book: &BookRef, query: &DetailQuery) -> Result<Detail> {
        check_range(query.from, query.to)?;
        if !(1..=DETAIL_LINES_MAX).contains(&query.page_size) {
            return Err(invalid(
                "page_size",
                DetailCode::OutOfRange,
                format!("must be between 1 and {DETAIL_LINES_MAX}"),
            )
            .with("min", 1)
            .with("max", DETAIL_LINES_MAX));
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart) = self.book_and_chart(&mut conn, book).await?;
        let leaves = leaves(&chart, &query.account)?;
        let narrow = |sql: &mut SqlText, prefix: &str| {
            if let Some((dimension, value)) = &query.dimension {
                sql.push(&format!(" AND {prefix}{} = ", dimension.as_str()))
                    .arg(value.as_str());
            }
            accounts_in(sql, &format!("{prefix}account_code"), &leaves);
        };
        const FROM_POSTED: &str = "FROM ledger_lines l \
             JOIN ledger_vouchers v ON v.organization_id = l.organization_id AND v.id = l.voucher_id \
             WHERE v.state = 'posted' AND l.organization_id = ";
        // Sums of the posted lines: before the range, within it, and (when paging) within it before the
        // cursor's line, whose key is (date, period, word, number, line).
        let cursor = match query.after {
            None => None,
            Some((voucher, line)) => {
                let key: Option<(String, i64, String, i64)> = conn
                    .fetch_optional(
                        crate::exec::Sql::new(
                            "SELECT v.date, v.period, v.word, v.number FROM ledger_vouchers v JOIN ledger_lines l \
                             ON l.organization_id = v.organization_id AND l.voucher_id = v.id \
                             WHERE v.organization_id = $1 AND v.book_id = $2 AND v.id = $3 AND l.line_no = $4",
                        )
                        .bind(self.org_id)
                        .bind(book.id)
                        .bind(voucher)
                        .bind(i64::from(line)),
                    )
                    .await?;
                let key = key.ok_or_else(|| {
                    invalid(
                        "cursor",
                        DetailCode::InvalidFormat,
                        "not a cursor returned by this report",
                    )
                    .with("format", "cursor")
                })?;
                Some((key, i64::from(line)))
            }
        };
        let after_cursor = |sql: &mut SqlText, op: &str| {
            if let Some(((date, period, word, number), line)) = &cursor {
                sql.push(&format!(
                    " AND (v.date, v.period, v.word, v.number, l.line_no) {op} ("
                ))
                .arg(date.as_str())
                .push(", ")
                .arg(*period)
                .push(", ")
                .arg(word.as_str())
                .push(", ")
                .arg(*number)
                .push(", ")
                .arg(*line)
                .push(")");
            }
        };
        let mut sums = SqlText::new(conn.backend());
        sums.push(
            "SELECT COALESCE(SUM(CASE WHEN l.period < ",
        )
        .arg(query.from.key())
        .push(" THEN l.debit ELSE 0 END), 0) AS before_debit, COALESCE(SUM(CASE WHEN l.period < ")
        .arg(query.from.key())
        .push(" THEN l.credit ELSE 0 END), 0) AS before_credit, COALESCE(SUM(CASE WHEN l.period >= ")
        .arg(query.from.key())
        .push(" THEN l.debit ELSE 0 END), 0) AS within_debit, COALESCE(SUM(CASE WHEN l.period >= ")
        .arg(query.from.key())
        .push(" THEN l.credit ELSE 0 END), 0) AS within_credit ")
        .push(FROM_POSTED)
        .arg(self.org_id)
        .push(" AND l.book_id = ")
        .arg(book.id)
        .push(" AND l.period <= ")
        .arg(query.to.key());
        narrow(&mut sums, "l.");
        let sums: RangeSumsRow = conn.fetch_one(sums.into_sql()).await?;
        let skipped = if cursor.is_some() {
            let mut sql = SqlText::new(conn.backend());
            sql.push(
                "SELECT COALESCE(SUM(l.debit), 0) AS debit, COALESCE(SUM(l.credit), 0) AS credit ",
            )
            .push(FROM_POSTED)
            .arg(self.org_id)
            .push(" AND l.book_id = ")
            .arg(book.id)
            .push(" AND l.period >= ")
            .arg(query.from.key())
            .push(" AND l.period <= ")
            .arg(query.to.key());
            narrow(&mut sql, "l.");
            after_cursor(&mut sql, "<=");
            let row: NetRow = conn.fetch_one(sql.into_sql()).await?;
            row.debit.0 - row.credit.0
        } else {
            Decimal::ZERO
        };
        // Opening balances (期初余额) count before any range from the book's opening period on.
        let mut opening_net = sums.before_debit.0 - sums.before_credit.0;
        if book.opening_period.is_some_and(|first| first <= query.from) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(
                "SELECT COALESCE(SUM(o.debit), 0) AS debit, COALESCE(SUM(o.credit), 0) AS credit FROM ledger_openings o \
                 WHERE o.organization_id = ",
            )
            .arg(self.org_id)
            .push(" AND o.book_id = ")
            .arg(book.id);
            narrow(&mut sql, "o.");
            let row: NetRow = conn.fetch_one(sql.into_sql()).await?;
            opening_net += row.debit.0 - row.credit.0;
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT l.voucher_id, l.line_no, v.date, v.period, v.word, v.number, l.account_code, l.summary, l.customer, \
             l.supplier, l.department, l.employee, l.project, l.item, l.debit, l.credit ",
        )
        .push(FROM_POSTED)
        .arg(self.org_id)
        .push(" AND l.book_id = ")
        .arg(book.id)
        .push(" AND l.period >= ")
        .arg(query.from.key())
        .push(" AND l.period <= ")
        .arg(query.to.key());
        narrow(&mut sql, "l.");
        after_cursor(&mut sql, ">");
        sql.push(&format!(
            " ORDER BY v.date, v.period, v.word, v.number, l.line_no LIMIT {}",
            query.page_size + 1
        ));
        let mut rows: Vec<DetailRow> = conn.fetch_all(sql.into_sql()).await?;
        let more = rows.len() > query.page_size;
        rows.truncate(query.page_size);
        let next_after = match (more, rows.last()) {
            (true, Some(last)) => Some((
                VoucherId::from_uuid(last.voucher_id),
                u32::try_from(last.line_no).map_err(|_| corrupt("line number", last.line_no))?,
            )),
            _ => None,
        };
        let movements: Vec<(Decimal, Decimal)> =
            rows.iter().map(|row| (row.debit.0, row.credit.0)).collect();
        let balances = report::running_balances(opening_net + skipped, movements.iter().copied());
        let mut entries = Vec::with_capacity(rows.len());
        for (row, balance) in rows.into_iter().zip(balances) {
            entries.push(detail_entry(row, balance)?);
        }
        let (total_debit, total_credit) = (sums.within_debit.0, sums.within_credit.0);
        Ok(Detail {
            account_name: chart
                .get(&query.account)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            account: query.account.clone(),
            query: (query.from, query.to),
            opening: Balance::of(opening_net),
            closing: Balance::of(opening_net + total_debit - total_credit),
            entries,
            total_debit: Balance::of(total_debit).amount,
            total_credit: Balance::of(total_credit).amount,
            next_after,
        })
    }

    /// Aging of receivables by customer as of `as_of`, over the account holding role AR (or `account`),
    /// in the day bands of `limits`. Returns the account used with the report.
    pub async fn receivables_aging(
        &self,
        book: &BookRef,
        as_of: NaiveDate,
        account: Option<&AccountCode>,
        limits: &[u32],
    ) -> Result<(AccountCode, Aging)> {
        let buckets = report::aging_buckets(limits).map_err(|reason| {
            invalid("buckets", DetailCode::InvalidFormat, reason).with("format", "buckets")
        })?;
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (book, chart) = self.book_and_chart(&mut conn, book).await?;
        let account = match account {
            Some(account) => account.clone(),
            None => {
                let role = Role::parse("AR").map_err(StoreError::Corrupt)?;
                chart
                    .by_role(&role)
                    .map(|a| a.code.clone())
                    .ok_or_else(|| {
                        invalid(
                            "account",
                            DetailCode::RoleMissing,
                            format!(
                                "book {} has no account with role AR; name the receivable account",
                                book.settings.name
                            ),
                        )
                        .with("role", "AR")
                    })?
            }
        };
        let leaves = leaves(&chart, &account)?;
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT COALESCE(l.customer, '') AS customer, v.date, l.debit, l.credit FROM ledger_lines l \
             JOIN ledger_vouchers v ON v.organization_id = l.organization_id AND v.id = l.voucher_id \
             WHERE l.organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND l.book_id = ")
        .arg(book.id)
        .push(" AND l.period <= ")
        .arg(Period::of(as_of).key())
        .push(" AND v.date <= ")
        .arg(date_text(as_of))
        .push(" AND v.state = 'posted'");
        accounts_in(&mut sql, "l.account_code", &leaves);
        let rows: Vec<AgingRow> = conn.fetch_all(sql.into_sql()).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                Ok(report::AgingItem {
                    date: NaiveDate::parse_from_str(&row.date, "%Y-%m-%d")
                        .map_err(|_| corrupt("date", &row.date))?,
                    customer: row.customer,
                    net: row.debit.0 - row.credit.0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((account, report::aging(as_of, buckets, &items)))
    }
}

/// Most periods one range report covers (ten years).
pub const REPORT_PERIODS_MAX: usize = 120;

pub(super) fn check_range(from: Period, to: Period) -> Result<()> {
    if from > to {
        return Err(invalid(
            "from",
            DetailCode::AfterOther,
            format!("{from} is after {to}"),
        )
        .with("other", "to"));
    }
    if from.through(to).len() > REPORT_PERIODS_MAX {
        return Err(invalid(
            "to",
            DetailCode::TooMany,
            format!("a report covers at most {REPORT_PERIODS_MAX} periods"),
        )
        .with("max", REPORT_PERIODS_MAX));
    }
    Ok(())
}

fn detail_entry(row: DetailRow, balance: Balance) -> Result<DetailEntry> {
    let mut dimensions = BTreeMap::new();
    for (dimension, value) in [
        (Dimension::Customer, row.customer),
        (Dimension::Supplier, row.supplier),
        (Dimension::Department, row.department),
        (Dimension::Employee, row.employee),
        (Dimension::Project, row.project),
        (Dimension::Item, row.item),
    ] {
        if let Some(value) = value {
            dimensions.insert(dimension, value);
        }
    }
    Ok(DetailEntry {
        voucher_id: VoucherId::from_uuid(row.voucher_id),
        date: NaiveDate::parse_from_str(&row.date, "%Y-%m-%d")
            .map_err(|_| corrupt("date", &row.date))?,
        period: Period::from_key(row.period).ok_or_else(|| corrupt("period", row.period))?,
        word: Word::parse(&row.word).map_err(|_| corrupt("word", &row.word))?,
        number: u32::try_from(row.number).map_err(|_| corrupt("number", row.number))?,
        account: AccountCode::parse(&row.account_code)
            .map_err(|_| corrupt("account code", &row.account_code))?,
        summary: row.summary,
        dimensions,
        debit: row.debit.0,
        credit: row.credit.0,
        balance,
    })
}
