//! Period end (期末结账): the profit-and-loss carry-forward, closing with its checks (openings that balance,
//! P&L carried forward, the year-end move of 本年利润) and reopening the latest closed period. What the
//! vouchers contain is decided by `tenon_ledger::closing`; this module gathers the balances and writes.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tenon_ledger::closing::{self, PeriodAmount};
use tenon_ledger::{AccountCode, Chart, Dimension, Period, VoucherState};
use tenon_model::DetailCode;

use super::{Book, BookLock, BookRef, Scaled, StoredVoucher, corrupt, invalid};
use crate::exec::Conn;
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// How a period is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseOptions {
    /// Close even though income and expense accounts still have a balance in the periods.
    pub force: bool,
    /// The fiscal year's last period only: first move 本年利润's balance to 利润分配—未分配利润 with a
    /// posted voucher (word 转).
    pub year_end: bool,
}

#[derive(sqlx::FromRow)]
struct AmountRow {
    account_code: String,
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
struct OpenRow {
    account_code: String,
    period: i64,
}

#[derive(sqlx::FromRow)]
struct NetRow {
    debit: Scaled<2>,
    credit: Scaled<2>,
}

/// The P&L leaf accounts of a chart.
fn profit_and_loss_leaves(chart: &Chart) -> Vec<AccountCode> {
    chart
        .accounts()
        .filter(|account| closing::is_profit_and_loss(account) && chart.is_leaf(&account.code))
        .map(|account| account.code.clone())
        .collect()
}

impl Tenant<'_> {
    /// Generates and writes the profit-and-loss carry-forward of `period` (结转损益, word 转): every income
    /// and expense account's posted period balance, by dimension values, moved to 本年利润. Posted at once
    /// (left a draft when the book separates duties). Idempotent: after it is posted, calling again moves
    /// only what was posted since; with nothing to move it writes nothing and answers no voucher.
    /// Refused (422) in a closed period, and (409) while a voucher of the period is not posted.
    pub async fn carry_forward(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        period: Period,
    ) -> Result<(Book, Vec<StoredVoucher>)> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Share)
            .await?;
        if let Some(closed) = book.closed_through.filter(|closed| *closed >= period) {
            return Err(invalid(
                "period",
                DetailCode::PeriodClosed,
                format!(
                    "period {period} of book {} is closed (closed through {closed}); reopen it to carry forward into it",
                    book.settings.name
                ),
            )
            .with("period", period.to_string()));
        }
        self.refuse_unposted(&mut conn, &book, period, period)
            .await?;
        let chart = self.load_chart(&mut conn, book.id).await?;
        let leaves = profit_and_loss_leaves(&chart);
        let amounts = self
            .period_amounts(&mut conn, &book, period, &leaves)
            .await?;
        let drafts = closing::carry_forward(&chart, period, &amounts)
            .map_err(|reason| StoreError::Invalid(reason.at("period").into()))?;
        if drafts.is_empty() {
            tx.commit().await?;
            return Ok((book, Vec::new()));
        }
        let state = if book.settings.segregation_of_duties {
            VoucherState::Draft
        } else {
            VoucherState::Posted
        };
        let drafts = drafts.into_iter().map(|draft| (draft, None)).collect();
        let stored = self
            .insert_vouchers(&mut conn, ctx, &book, drafts, state)
            .await?;
        tx.commit().await?;
        Ok((book, stored))
    }

    /// 409 when a voucher of `from..=to` is not posted.
    async fn refuse_unposted(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        from: Period,
        to: Period,
    ) -> Result<()> {
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT COUNT(*) FROM ledger_vouchers WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND book_id = ")
            .arg(book.id)
            .push(" AND period >= ")
            .arg(from.key())
            .push(" AND period <= ")
            .arg(to.key())
            .push(" AND state <> 'posted'");
        let (count,): (i64,) = conn.fetch_one(sql.into_sql()).await?;
        if count > 0 {
            return Err(StoreError::conflict(
                Some("period"),
                DetailCode::Conflict,
                format!(
                    "{count} voucher(s) of {from}{} are not posted; post them first, so that the carry-forward moves every amount",
                    if from == to {
                        String::new()
                    } else {
                        format!(" to {to}")
                    }
                ),
            ));
        }
        Ok(())
    }

    /// Posted sums of `period` per (leaf account among `accounts`, dimension values).
    async fn period_amounts(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        period: Period,
        accounts: &[AccountCode],
    ) -> Result<Vec<PeriodAmount>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT l.account_code, l.customer, l.supplier, l.department, l.employee, l.project, l.item, \
             COALESCE(SUM(l.debit), 0) AS debit, COALESCE(SUM(l.credit), 0) AS credit FROM ledger_lines l \
             JOIN ledger_vouchers v ON v.organization_id = l.organization_id AND v.id = l.voucher_id \
             WHERE l.organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND l.book_id = ")
        .arg(book.id)
        .push(" AND l.period = ")
        .arg(period.key())
        .push(" AND v.state = 'posted' AND l.account_code IN ")
        .list(accounts.iter().map(AccountCode::as_str))
        .push(
            " GROUP BY l.account_code, l.customer, l.supplier, l.department, l.employee, l.project, l.item",
        );
        let rows: Vec<AmountRow> = conn.fetch_all(sql.into_sql()).await?;
        rows.into_iter()
            .map(|row| {
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
                Ok(PeriodAmount {
                    account: AccountCode::parse(&row.account_code)
                        .map_err(|_| corrupt("account code", &row.account_code))?,
                    dimensions,
                    debit: row.debit.0,
                    credit: row.credit.0,
                })
            })
            .collect()
    }

    /// The checks of closing `from..=to` beyond posted vouchers: openings that balance, P&L carried
    /// forward (unless forced); then, at year end, the move of 本年利润 to retained earnings.
    pub(crate) async fn before_closing(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        book: &Book,
        to: Period,
        options: CloseOptions,
    ) -> Result<()> {
        if !book.opening_balanced() {
            let openings = self.load_openings(conn, book).await?;
            let balances = openings.map(|o| o.balances).unwrap_or_default();
            let refusal = tenon_ledger::opening::unbalanced(&balances, "openings").map_or_else(
                || {
                    tenon_model::Invalid::one(
                        "openings",
                        DetailCode::OpeningsUnbalanced,
                        "the opening balances do not balance",
                    )
                },
                |error| tenon_model::Invalid(vec![error]),
            );
            let mut refusal = refusal;
            for error in &mut refusal.0 {
                error.reason = format!(
                    "{}; correct them (PUT …/opening-balances) before closing a period",
                    error.reason
                );
            }
            return Err(StoreError::Invalid(refusal));
        }
        let chart = self.load_chart(conn, book.id).await?;
        let leaves = profit_and_loss_leaves(&chart);
        if !options.force && !leaves.is_empty() {
            let mut sql = SqlText::new(conn.backend());
            sql.push("SELECT account_code, period FROM ledger_balances WHERE organization_id = ")
                .arg(self.org_id)
                .push(" AND book_id = ")
                .arg(book.id)
                .push(" AND period <= ")
                .arg(to.key());
            if let Some(closed) = book.closed_through {
                sql.push(" AND period > ").arg(closed.key());
            }
            sql.push(" AND debit <> credit AND account_code IN ")
                .list(leaves.iter().map(AccountCode::as_str))
                .push(" ORDER BY period, account_code");
            let open: Vec<OpenRow> = conn.fetch_all(sql.into_sql()).await?;
            if let Some(first) = open.first() {
                let at = Period::from_key(first.period)
                    .ok_or_else(|| corrupt("period", first.period))?;
                let accounts: Vec<String> = open
                    .iter()
                    .filter(|row| row.period == first.period)
                    .map(|row| row.account_code.clone())
                    .collect();
                return Err(StoreError::conflict(
                    Some("period"),
                    DetailCode::ProfitAndLossOpen,
                    format!(
                        "income and expense accounts {} still have a balance in {at}; carry them forward \
                         (POST …/periods/{at}/carry-forward) or close with force",
                        accounts.join(", ")
                    ),
                )
                .with("period", at.to_string())
                .with("accounts", accounts));
            }
        }
        if options.year_end {
            let (_, number) = to.fiscal(book.settings.fiscal_year_start_month);
            if number != 12 {
                return Err(invalid(
                    "year_end",
                    DetailCode::NotAllowed,
                    format!(
                        "{to} is period {number} of its fiscal year; the year-end carry-forward of 本年利润 is made when closing the year's last period"
                    ),
                ));
            }
            let profit = chart
                .by_role(&tenon_ledger::Role::parse("CURRENT_PROFIT").map_err(StoreError::Corrupt)?)
                .map(|account| account.code.clone());
            let net = match &profit {
                Some(code) => self.closing_net(conn, book, code, to).await?,
                None => Decimal::ZERO,
            };
            let draft = closing::profit_to_retained_earnings(&chart, to, net)
                .map_err(|reason| StoreError::Invalid(reason.at("year_end").into()))?;
            if let Some(draft) = draft {
                let state = if book.settings.segregation_of_duties {
                    VoucherState::Draft
                } else {
                    VoucherState::Posted
                };
                self.insert_vouchers(conn, ctx, book, vec![(draft, None)], state)
                    .await?;
                if state != VoucherState::Posted {
                    return Err(StoreError::conflict(
                        Some("year_end"),
                        DetailCode::Conflict,
                        "the book separates duties: the year-end voucher cannot be posted by its preparer",
                    ));
                }
            }
        }
        Ok(())
    }

    /// An account's closing balance (debit − credit) at the end of `period`: openings and posted sums.
    async fn closing_net(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        account: &AccountCode,
        period: Period,
    ) -> Result<Decimal> {
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit FROM ledger_balances WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND book_id = ")
            .arg(book.id)
            .push(" AND account_code = ")
            .arg(account.as_str())
            .push(" AND period <= ")
            .arg(period.key());
        let posted: NetRow = conn.fetch_one(sql.into_sql()).await?;
        let openings = self.opening_sums(conn, book, period).await?;
        let opening = openings
            .get(account)
            .map_or(Decimal::ZERO, |sums| sums.net());
        Ok(opening + posted.debit.0 - posted.credit.0)
    }
}
