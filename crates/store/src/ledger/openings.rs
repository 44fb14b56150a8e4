//! Opening balances (期初余额): read, replace (checked by `tenon_ledger::opening`), and the per-account sums
//! the trial balance and the statements add to the movements before a period.

use std::collections::BTreeMap;

use tenon_ledger::balance::Sums;
use tenon_ledger::opening::{self, Opening, Openings};
use tenon_ledger::{AccountCode, Currency, Dimension, Period};
use tenon_model::{Action, DetailCode, TargetKind};

use super::{Book, BookLock, BookRef, Scaled, amount, corrupt, invalid, scaled};
use crate::audit::{self, Change};
use crate::exec::{Arg, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// Rows per multi-row insert (15 columns).
const ROWS_PER_STATEMENT: usize = 200;

#[derive(sqlx::FromRow)]
struct OpeningRow {
    account_code: String,
    customer: Option<String>,
    supplier: Option<String>,
    department: Option<String>,
    employee: Option<String>,
    project: Option<String>,
    item: Option<String>,
    debit: Scaled<2>,
    credit: Scaled<2>,
    currency: Option<String>,
    original_amount: Option<Scaled<2>>,
    quantity: Option<Scaled<6>>,
}

impl OpeningRow {
    fn into_opening(self) -> Result<Opening> {
        let mut dimensions = BTreeMap::new();
        for (dimension, value) in [
            (Dimension::Customer, self.customer),
            (Dimension::Supplier, self.supplier),
            (Dimension::Department, self.department),
            (Dimension::Employee, self.employee),
            (Dimension::Project, self.project),
            (Dimension::Item, self.item),
        ] {
            if let Some(value) = value {
                dimensions.insert(dimension, value);
            }
        }
        Ok(Opening {
            account: AccountCode::parse(&self.account_code)
                .map_err(|_| corrupt("account code", &self.account_code))?,
            dimensions,
            debit: self.debit.0,
            credit: self.credit.0,
            currency: self
                .currency
                .map(|c| Currency::parse(&c).map_err(|_| corrupt("currency", c)))
                .transpose()?,
            original_amount: self.original_amount.map(|v| v.0),
            quantity: self.quantity.map(|v| v.0),
        })
    }
}

/// The dimension part of an entry's key: '' without dimensions.
fn dimension_key(opening: &Opening) -> String {
    opening
        .key()
        .split_once('|')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default()
}

pub(crate) fn openings_snapshot(openings: Option<&Openings>) -> serde_json::Value {
    match openings {
        None => serde_json::json!({"openings": null}),
        Some(openings) => {
            let totals = openings.totals();
            serde_json::json!({
                "openings": {
                    "period": openings.period.to_string(),
                    "entries": openings.balances.len(),
                    "debit": tenon_ledger::money::amount_text(totals.debit),
                    "credit": tenon_ledger::money::amount_text(totals.credit),
                }
            })
        }
    }
}

impl Tenant<'_> {
    /// A book and its opening balances (`None` when none were ever given).
    pub async fn ledger_openings(&self, book: &BookRef) -> Result<(Book, Option<Openings>)> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let openings = self.load_openings(&mut conn, &book).await?;
        Ok((book, openings))
    }

    /// Replaces a book's opening balances with a checked, balanced set. Refused (422) when the set does
    /// not balance or an entry is wrong, and while a period from the (old or new) opening period on is
    /// closed. One audit entry.
    pub async fn set_ledger_openings(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        openings: Openings,
    ) -> Result<(Book, Openings)> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Update)
            .await?;
        let chart = self.load_chart(&mut conn, book.id).await?;
        opening::check_openings(&book.settings, &chart, &openings.balances, true)?;
        let first = book
            .opening_period
            .map_or(openings.period, |old| old.min(openings.period));
        if let Some(closed) = book.closed_through.filter(|closed| *closed >= first) {
            return Err(invalid(
                "period",
                DetailCode::PeriodClosed,
                format!(
                    "periods through {closed} of book {} are closed; opening balances change only while no period from {first} on is closed (reopen them first)",
                    book.settings.name
                ),
            )
            .with("period", closed.to_string()));
        }
        let before = self.load_openings(&mut conn, &book).await?;
        let book = self.write_openings(&mut conn, book, &openings).await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::LedgerBook,
                target_id: book.id.to_string(),
                action: Action::Updated,
                before: Some(openings_snapshot(before.as_ref())),
                after: Some(openings_snapshot(Some(&openings))),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((book, openings))
    }

    /// Whether a file's openings as of `period` may replace the openings of the existing `book` (a company
    /// switching vendors mid-year): while no period from the earlier of the book's and the file's opening
    /// period on is closed (as for `PUT …/opening-balances`), and while the book has no voucher before
    /// `period` (its movements would count on top of openings that already include them). Refused (422)
    /// naming the period or the voucher.
    pub(crate) async fn check_import_openings(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        period: Period,
    ) -> Result<()> {
        let first = book.opening_period.map_or(period, |old| old.min(period));
        if let Some(closed) = book.closed_through.filter(|closed| *closed >= first) {
            return Err(invalid(
                "openings",
                DetailCode::PeriodClosed,
                format!(
                    "the file's opening balances as of {period} would replace those of book {}, but periods through \
                     {closed} are closed; openings change only while no period from {first} on is closed (reopen them first)",
                    book.settings.name
                ),
            )
            .with("period", closed.to_string()));
        }
        let earlier: Option<(i64, String, i64)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT period, word, number FROM ledger_vouchers WHERE organization_id = $1 AND book_id = $2 \
                     AND period < $3 ORDER BY period, word, number LIMIT 1",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(period.key()),
            )
            .await?;
        if let Some((key, word, number)) = earlier {
            let at = Period::from_key(key).map_or_else(|| key.to_string(), |p| p.to_string());
            return Err(invalid(
                "openings",
                DetailCode::Conflict,
                format!(
                    "the file's opening balances are as of {period}, but book {} already has voucher {word}-{number} \
                     of {at}, before them; its movements would count twice (import into a new book, or a file that \
                     opens no later than {at})",
                    book.settings.name
                ),
            ));
        }
        Ok(())
    }

    /// Replaces the rows and the book's opening period; no checks, no audit (the caller does both).
    pub(crate) async fn write_openings(
        &self,
        conn: &mut Conn<'_>,
        book: Book,
        openings: &Openings,
    ) -> Result<Book> {
        conn.execute(
            Sql::new("DELETE FROM ledger_openings WHERE organization_id = $1 AND book_id = $2")
                .bind(self.org_id)
                .bind(book.id),
        )
        .await?;
        let rows: Vec<Vec<Arg>> = openings
            .balances
            .iter()
            .map(|o| {
                let dimension = |d: Dimension| Arg::from(o.dimensions.get(&d).cloned());
                vec![
                    Arg::from(self.org_id),
                    Arg::from(book.id),
                    Arg::from(o.account.as_str()),
                    Arg::from(dimension_key(o)),
                    dimension(Dimension::Customer),
                    dimension(Dimension::Supplier),
                    dimension(Dimension::Department),
                    dimension(Dimension::Employee),
                    dimension(Dimension::Project),
                    dimension(Dimension::Item),
                    amount(o.debit),
                    amount(o.credit),
                    Arg::from(o.currency.map(|c| c.as_str().to_owned())),
                    scaled(o.original_amount, tenon_ledger::AMOUNT_SCALE),
                    scaled(o.quantity, tenon_ledger::QUANTITY_SCALE),
                ]
            })
            .collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(
                "INSERT INTO ledger_openings (organization_id, book_id, account_code, dimension_key, customer, \
                 supplier, department, employee, project, item, debit, credit, currency, original_amount, quantity) VALUES ",
            )
            .rows(chunk.to_vec());
            conn.execute(sql.into_sql()).await?;
        }
        conn.execute(
            Sql::new("UPDATE ledger_books SET opening_period = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(book.id)
                .bind(openings.period.key())
                .bind(self.store.now()),
        )
        .await?;
        let totals = openings.totals();
        Ok(Book {
            opening_period: Some(openings.period),
            opening_debit: totals.debit,
            opening_credit: totals.credit,
            ..book
        })
    }

    pub(crate) async fn load_openings(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
    ) -> Result<Option<Openings>> {
        let Some(period) = book.opening_period else {
            return Ok(None);
        };
        let rows: Vec<OpeningRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT account_code, customer, supplier, department, employee, project, item, debit, credit, \
                     currency, original_amount, quantity FROM ledger_openings \
                     WHERE organization_id = $1 AND book_id = $2 ORDER BY account_code, dimension_key",
                )
                .bind(self.org_id)
                .bind(book.id),
            )
            .await?;
        let balances = rows
            .into_iter()
            .map(OpeningRow::into_opening)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Openings { period, balances }))
    }

    /// Opening sums per leaf account that count before `period` (none before the opening period).
    pub(crate) async fn opening_sums(
        &self,
        conn: &mut Conn<'_>,
        book: &Book,
        period: Period,
    ) -> Result<BTreeMap<AccountCode, Sums>> {
        match book.opening_period {
            Some(first) if first <= period => {}
            _ => return Ok(BTreeMap::new()),
        }
        #[derive(sqlx::FromRow)]
        struct SumRow {
            account_code: String,
            debit: Scaled<2>,
            credit: Scaled<2>,
        }
        let rows: Vec<SumRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT account_code, COALESCE(SUM(debit), 0) AS debit, COALESCE(SUM(credit), 0) AS credit \
                     FROM ledger_openings WHERE organization_id = $1 AND book_id = $2 GROUP BY account_code",
                )
                .bind(self.org_id)
                .bind(book.id),
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    AccountCode::parse(&row.account_code)
                        .map_err(|_| corrupt("account code", &row.account_code))?,
                    Sums {
                        debit: row.debit.0,
                        credit: row.credit.0,
                    },
                ))
            })
            .collect()
    }
}
