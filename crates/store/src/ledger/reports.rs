//! Reports from the posted balances: the trial balance of a period.

use super::BookRef;
use tenon_ledger::balance::{AccountSums, Sums};
use tenon_ledger::{AccountCode, Period, TrialBalance};

use super::{Book, Scaled, corrupt};
use crate::exec::Sql;
use crate::{Result, StoreError, Tenant};

#[derive(sqlx::FromRow)]
struct SumsRow {
    account_code: String,
    before_debit: Scaled<2>,
    before_credit: Scaled<2>,
    within_debit: Scaled<2>,
    within_credit: Scaled<2>,
}

/// Whether a trial balance that does not balance is off by exactly the book's unbalanced openings (an
/// imported book whose file's openings did not balance): its opening and closing columns differ by the
/// openings' difference and its period columns balance.
fn off_by_openings(book: &Book, period: Period, report: &TrialBalance) -> bool {
    if book.opening_balanced() || book.opening_period.is_none_or(|first| first > period) {
        return false;
    }
    let t = &report.totals;
    let difference = book.opening_debit - book.opening_credit;
    t.period_debit == t.period_credit
        && t.opening_debit - t.opening_credit == difference
        && t.closing_debit - t.closing_credit == difference
}

impl Tenant<'_> {
    /// Opening, period and closing amounts per account (parents aggregate sub-accounts), from posted
    /// balances, with totals that balance.
    pub async fn trial_balance(&self, book: &BookRef, period: Period) -> Result<TrialBalance> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let rows: Vec<SumsRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT account_code, \
                     COALESCE(SUM(CASE WHEN period < $3 THEN debit ELSE 0 END), 0) AS before_debit, \
                     COALESCE(SUM(CASE WHEN period < $3 THEN credit ELSE 0 END), 0) AS before_credit, \
                     COALESCE(SUM(CASE WHEN period = $3 THEN debit ELSE 0 END), 0) AS within_debit, \
                     COALESCE(SUM(CASE WHEN period = $3 THEN credit ELSE 0 END), 0) AS within_credit \
                     FROM ledger_balances WHERE organization_id = $1 AND book_id = $2 AND period <= $3 \
                     GROUP BY account_code ORDER BY account_code",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(period.key()),
            )
            .await?;
        let sums = rows
            .into_iter()
            .map(|row| {
                Ok(AccountSums {
                    account: AccountCode::parse(&row.account_code)
                        .map_err(|_| corrupt("account code", &row.account_code))?,
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
        let mut sums = sums;
        let openings = self.opening_sums(&mut conn, &book, period).await?;
        if !openings.is_empty() {
            let mut by_account: std::collections::BTreeMap<AccountCode, AccountSums> = sums
                .into_iter()
                .map(|entry| (entry.account.clone(), entry))
                .collect();
            for (account, opening) in openings {
                by_account
                    .entry(account.clone())
                    .or_insert_with(|| AccountSums {
                        account,
                        before: Sums::default(),
                        within: Sums::default(),
                    })
                    .before
                    .add(opening);
            }
            sums = by_account.into_values().collect();
        }
        let chart = self.load_chart(&mut conn, book.id).await?;
        let report = TrialBalance::compute(&chart, period, &sums);
        if !report.is_balanced() && !off_by_openings(&book, period, &report) {
            // Every posted voucher balances, so this is a bug or a hand edit: say so loudly.
            return Err(StoreError::Corrupt(format!(
                "the trial balance of {period} does not balance: {:?}",
                report.totals
            )));
        }
        Ok(report)
    }

    /// Posted sums per (account, period) rebuilt from the posted lines, for checking `ledger_balances`.
    pub async fn rebuilt_balances(
        &self,
        book: &BookRef,
    ) -> Result<Vec<(String, i64, rust_decimal::Decimal, rust_decimal::Decimal)>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        #[derive(sqlx::FromRow)]
        struct Row {
            account_code: String,
            period: i64,
            debit: Scaled<2>,
            credit: Scaled<2>,
        }
        let from_lines: Vec<Row> = conn
            .fetch_all(
                Sql::new(
                    "SELECT l.account_code, v.period, COALESCE(SUM(l.debit), 0) AS debit, COALESCE(SUM(l.credit), 0) AS credit \
                     FROM ledger_lines l JOIN ledger_vouchers v ON v.organization_id = l.organization_id AND v.id = l.voucher_id \
                     WHERE l.organization_id = $1 AND l.book_id = $2 AND v.state = 'posted' \
                     GROUP BY l.account_code, v.period ORDER BY l.account_code, v.period",
                )
                .bind(self.org_id)
                .bind(book.id),
            )
            .await?;
        let stored: Vec<Row> = conn
            .fetch_all(
                Sql::new(
                    "SELECT account_code, period, debit, credit FROM ledger_balances WHERE organization_id = $1 AND book_id = $2 \
                     ORDER BY account_code, period",
                )
                .bind(self.org_id)
                .bind(book.id),
            )
            .await?;
        let flatten = |rows: Vec<Row>| {
            rows.into_iter()
                .map(|r| (r.account_code, r.period, r.debit.0, r.credit.0))
                .collect::<Vec<_>>()
        };
        let (from_lines, stored) = (flatten(from_lines), flatten(stored));
        if from_lines != stored {
            return Err(StoreError::Corrupt(format!(
                "posted balances differ from the posted lines: {stored:?} vs {from_lines:?}"
            )));
        }
        self.check_value_balances(&mut conn, book.id).await?;
        Ok(stored)
    }

    /// Compares `ledger_value_balances` with the posted lines that name a dimension value, summed per
    /// (account, period, values) — an error naming both when they differ.
    async fn check_value_balances(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        book_id: tenon_model::BookId,
    ) -> Result<()> {
        #[derive(sqlx::FromRow)]
        struct Row {
            account_code: String,
            period: i64,
            customer: String,
            supplier: String,
            department: String,
            employee: String,
            project: String,
            item: String,
            debit: Scaled<2>,
            credit: Scaled<2>,
        }
        let from_lines: Vec<Row> = conn
            .fetch_all(
                Sql::new(
                    "SELECT l.account_code, l.period, COALESCE(l.customer, '') AS customer, \
                     COALESCE(l.supplier, '') AS supplier, COALESCE(l.department, '') AS department, \
                     COALESCE(l.employee, '') AS employee, COALESCE(l.project, '') AS project, \
                     COALESCE(l.item, '') AS item, COALESCE(SUM(l.debit), 0) AS debit, COALESCE(SUM(l.credit), 0) AS credit \
                     FROM ledger_lines l JOIN ledger_vouchers v ON v.organization_id = l.organization_id AND v.id = l.voucher_id \
                     WHERE l.organization_id = $1 AND l.book_id = $2 AND v.state = 'posted' \
                     AND (COALESCE(l.customer, '') <> '' OR COALESCE(l.supplier, '') <> '' OR COALESCE(l.department, '') <> '' \
                     OR COALESCE(l.employee, '') <> '' OR COALESCE(l.project, '') <> '' OR COALESCE(l.item, '') <> '') \
                     GROUP BY l.account_code, l.period, COALESCE(l.customer, ''), COALESCE(l.supplier, ''), \
                     COALESCE(l.department, ''), COALESCE(l.employee, ''), COALESCE(l.project, ''), COALESCE(l.item, '')",
                )
                .bind(self.org_id)
                .bind(book_id),
            )
            .await?;
        let stored: Vec<Row> = conn
            .fetch_all(
                Sql::new(
                    "SELECT account_code, period, customer, supplier, department, employee, project, item, debit, credit \
                     FROM ledger_value_balances WHERE organization_id = $1 AND book_id = $2",
                )
                .bind(self.org_id)
                .bind(book_id),
            )
            .await?;
        let flatten = |rows: Vec<Row>| {
            let mut rows: Vec<_> = rows
                .into_iter()
                .map(|r| {
                    let key = [
                        r.customer,
                        r.supplier,
                        r.department,
                        r.employee,
                        r.project,
                        r.item,
                    ];
                    ((r.account_code, r.period, key), (r.debit.0, r.credit.0))
                })
                .collect();
            // Sorted here, not by the database: both sides in the same (byte) order whatever the collation.
            rows.sort();
            rows
        };
        let (from_lines, stored) = (flatten(from_lines), flatten(stored));
        if from_lines != stored {
            return Err(StoreError::Corrupt(format!(
                "posted balances by dimension value differ from the posted lines: {stored:?} vs {from_lines:?}"
            )));
        }
        Ok(())
    }
}

/// How one (period, word) of a book is numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbering {
    pub period: Period,
    pub word: tenon_ledger::Word,
    pub vouchers: u64,
    pub lowest: u32,
    pub highest: u32,
}

impl Numbering {
    /// Numbers run 1..=n without a gap (the unique key already forbids duplicates).
    pub fn is_gap_free(&self) -> bool {
        self.lowest == 1 && u64::from(self.highest) == self.vouchers
    }
}

impl Tenant<'_> {
    /// Per (period, word): the number of vouchers and their lowest and highest number.
    pub async fn voucher_numbering(&self, book: &BookRef) -> Result<Vec<Numbering>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let rows: Vec<(i64, String, i64, i64, i64)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT period, word, COUNT(*), MIN(number), MAX(number) FROM ledger_vouchers \
                     WHERE organization_id = $1 AND book_id = $2 GROUP BY period, word ORDER BY period, word",
                )
                .bind(self.org_id)
                .bind(book.id),
            )
            .await?;
        rows.into_iter()
            .map(|(period, word, count, lowest, highest)| {
                Ok(Numbering {
                    period: Period::from_key(period).ok_or_else(|| corrupt("period", period))?,
                    word: tenon_ledger::Word::parse(&word).map_err(|_| corrupt("word", &word))?,
                    vouchers: u64::try_from(count).unwrap_or(0),
                    lowest: u32::try_from(lowest).map_err(|_| corrupt("number", lowest))?,
                    highest: u32::try_from(highest).map_err(|_| corrupt("number", highest))?,
                })
            })
            .collect()
    }
}
