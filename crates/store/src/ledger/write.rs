//! Writing vouchers with few statements: numbers for a whole batch from one counter update per (period,
//! word), voucher rows, lines and audit entries as multi-row inserts, dimension values created on first use,
//! and the posted sums added to `ledger_balances` once per (account, period) of the batch and to
//! `ledger_value_balances` once per (account, period, dimension values). This module
//! holds the SQLite form of each insert (multi-row `VALUES`); PostgreSQL takes the array form in `unnest`.
//!
//! Every path that stores vouchers ends here — one voucher from the API, a batch, a rule, a reversal, an
//! import — so the rows look the same whatever made them. What may be written is decided before: each
//! voucher has passed `tenon_ledger::voucher::check_voucher` and its period is open.
//!
//! Locks on PostgreSQL are taken in one order — new dimension values by key (`Tenant::insert_vouchers`
//! creates them before numbering), then counters by (period, word), then balances by (account, period), then balances by (account, period,
//! dimension values) —
//! so concurrent batches wait for each other but never deadlock. On SQLite the single writer serializes
//! them.

use std::collections::{BTreeMap, BTreeSet};
use tenon_model::BookId;

use rust_decimal::Decimal;
use tenon_ledger::{AccountCode, Dimension, Period, VoucherState, Word};

use super::{StoredVoucher, amount, date_text, scaled};
use crate::exec::{Arg, Backend, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant};
use tenon_model::DetailCode;

/// Rows per multi-row statement. Lines have 20 columns, so a statement binds at most 4,000 values, well
/// under SQLite's (32,766) and PostgreSQL's (65,535) limits.
const ROWS_PER_STATEMENT: usize = 200;

const VOUCHER_HEAD: &str = "INSERT INTO ledger_vouchers (organization_id, id, book_id, period, word, number, date, \
     attachments, state, preparer, reviewer, poster, reverses_id, reversed_by_id, created_at, updated_at) VALUES";
const LINE_HEAD: &str = "INSERT INTO ledger_lines (organization_id, voucher_id, line_no, book_id, period, account_code, \
     summary, customer, supplier, department, employee, project, item, debit, credit, currency, original_amount, \
     exchange_rate, quantity, unit_price) VALUES";
const VALUE_HEAD: &str =
    "INSERT INTO ledger_dimension_values (organization_id, book_id, dimension, code, name) VALUES";
const VALUE_TAIL: &str = " ON CONFLICT (organization_id, book_id, dimension, code) DO NOTHING";

/// The dimension values of a line in column order (customer, supplier, department, employee, project,
/// item), '' where it names none.
pub(crate) type ValueKey = [String; 6];

/// Posted sums of a set of vouchers: per (account, period), and per (account, period, dimension values)
/// for the lines that name at least one value.
#[derive(Debug, Default)]
pub(crate) struct PostedSums {
    pub accounts: BTreeMap<(AccountCode, Period), (Decimal, Decimal)>,
    pub values: BTreeMap<(AccountCode, Period, ValueKey), (Decimal, Decimal)>,
}

/// The line columns of the dimensions, in column order.
pub(crate) const DIMENSION_COLUMNS: [Dimension; 6] = [
    Dimension::Customer,
    Dimension::Supplier,
    Dimension::Department,
    Dimension::Employee,
    Dimension::Project,
    Dimension::Item,
];

/// Posted sums of the posted ones among `vouchers`.
pub(crate) fn posted_sums(vouchers: &[StoredVoucher]) -> PostedSums {
    let mut sums = PostedSums::default();
    for stored in vouchers
        .iter()
        .filter(|stored| stored.voucher.state == VoucherState::Posted)
    {
        for line in &stored.voucher.lines {
            let period = stored.voucher.period;
            let entry = sums
                .accounts
                .entry((line.account.clone(), period))
                .or_default();
            entry.0 += line.debit;
            entry.1 += line.credit;
            let key: ValueKey = DIMENSION_COLUMNS
                .map(|dimension| line.dimensions.get(&dimension).cloned().unwrap_or_default());
            if key.iter().all(String::is_empty) {
                continue;
            }
            let entry = sums
                .values
                .entry((line.account.clone(), period, key))
                .or_default();
            entry.0 += line.debit;
            entry.1 += line.credit;
        }
    }
    sums
}

impl Tenant<'_> {
    /// Takes `count` consecutive numbers of (period, word) and returns the first. The counter row stays
    /// locked until the transaction ends (PostgreSQL row lock; SQLite's single writer), so concurrent
    /// writers get consecutive ranges and a rolled-back transaction gives its numbers back.
    pub(crate) async fn take_numbers(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        period: Period,
        word: Word,
        count: u32,
    ) -> Result<u32> {
        let (last,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO ledger_numbers (organization_id, book_id, period, word, last_number) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (organization_id, book_id, period, word) DO UPDATE SET last_number = ledger_numbers.last_number + excluded.last_number \
                     RETURNING last_number",
                )
                .bind(self.org_id)
                .bind(book_id)
                .bind(period.key())
                .bind(word.as_str())
                .bind(i64::from(count)),
            )
            .await?;
        let first = last - i64::from(count) + 1;
        u32::try_from(first).map_err(|_| super::corrupt("voucher number", last))
    }

    /// Raises the counter of (period, word) to at least `number` (imports keep their source numbers).
    pub(crate) async fn raise_number(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        period: Period,
        word: Word,
        number: u32,
    ) -> Result<()> {
        conn.execute(
            Sql::new(
                "INSERT INTO ledger_numbers (organization_id, book_id, period, word, last_number) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (organization_id, book_id, period, word) DO UPDATE SET last_number = \
                 CASE WHEN ledger_numbers.last_number > excluded.last_number THEN ledger_numbers.last_number ELSE excluded.last_number END",
            )
            .bind(self.org_id)
            .bind(book_id)
            .bind(period.key())
            .bind(word.as_str())
            .bind(i64::from(number)),
        )
        .await?;
        Ok(())
    }

    /// Writes checked, numbered vouchers of one book: their rows, their lines, the dimension values they
    /// name for the first time, and (for posted ones) their sums into `ledger_balances`. No audit entry:
    /// the caller records the change it is making.
    pub(crate) async fn write_vouchers(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        vouchers: &[StoredVoucher],
    ) -> Result<()> {
        let lines = vouchers.iter().flat_map(|stored| &stored.voucher.lines);
        self.ensure_dimension_values(conn, book_id, lines).await?;
        self.write_rows_and_balances(conn, book_id, vouchers).await
    }

    /// [`Self::write_vouchers`] for a caller that has already created the dimension values the vouchers
    /// name (before taking their numbers, so that statement is not part of the wait on the counters).
    pub(crate) async fn write_rows_and_balances(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        vouchers: &[StoredVoucher],
    ) -> Result<()> {
        self.insert_voucher_rows(conn, book_id, vouchers).await?;
        self.add_posted(conn, book_id, vouchers).await
    }

    /// Adds the posted sums of the posted ones among `vouchers` to the kept balances: `ledger_balances`
    /// first, then `ledger_value_balances` (the lock order, each in key order).
    pub(crate) async fn add_posted(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        vouchers: &[StoredVoucher],
    ) -> Result<()> {
        let sums = posted_sums(vouchers);
        self.add_to_balances(conn, book_id, &sums.accounts).await?;
        self.add_to_value_balances(conn, book_id, &sums.values)
            .await
    }

    /// The voucher and line rows alone: no checks, numbers, dimension values, balances or audit.
    async fn insert_voucher_rows(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        vouchers: &[StoredVoucher],
    ) -> Result<()> {
        if conn.backend() == Backend::Postgres {
            return self
                .insert_voucher_rows_unnest(conn, book_id, vouchers)
                .await;
        }
        for chunk in vouchers.chunks(ROWS_PER_STATEMENT) {
            let mut rows = Vec::with_capacity(chunk.len());
            for stored in chunk {
                let v = &stored.voucher;
                rows.push([
                    Arg::from(self.org_id),
                    Arg::from(stored.id),
                    Arg::from(book_id),
                    Arg::from(v.period.key()),
                    Arg::from(v.word.as_str()),
                    Arg::from(i64::from(v.number)),
                    Arg::from(date_text(v.date)),
                    Arg::from(i64::from(v.attachments)),
                    Arg::from(v.state.as_str()),
                    Arg::from(v.preparer.as_str()),
                    Arg::from(v.reviewer.clone()),
                    Arg::from(v.poster.clone()),
                    Arg::from(stored.reverses_id),
                    Arg::from(stored.reversed_by_id),
                    Arg::from(stored.created_at),
                    Arg::from(stored.created_at),
                ]);
            }
            let mut sql = SqlText::new(conn.backend());
            sql.push(VOUCHER_HEAD).push(" ").rows(rows);
            conn.execute(sql.into_sql())
                .await
                .map_err(number_conflict)?;
        }
        let mut rows: Vec<Vec<Arg>> = Vec::new();
        for stored in vouchers {
            for (index, line) in stored.voucher.lines.iter().enumerate() {
                let dimension = |d: Dimension| Arg::from(line.dimensions.get(&d).cloned());
                rows.push(vec![
                    Arg::from(self.org_id),
                    Arg::from(stored.id),
                    Arg::from(i64::try_from(index).unwrap_or(i64::MAX)),
                    Arg::from(book_id),
                    Arg::from(stored.voucher.period.key()),
                    Arg::from(line.account.as_str()),
                    Arg::from(line.summary.as_str()),
                    dimension(Dimension::Customer),
                    dimension(Dimension::Supplier),
                    dimension(Dimension::Department),
                    dimension(Dimension::Employee),
                    dimension(Dimension::Project),
                    dimension(Dimension::Item),
                    amount(line.debit),
                    amount(line.credit),
                    Arg::from(line.currency.map(|c| c.as_str().to_owned())),
                    scaled(line.original_amount, tenon_ledger::AMOUNT_SCALE),
                    scaled(line.exchange_rate, tenon_ledger::RATE_SCALE),
                    scaled(line.quantity, tenon_ledger::QUANTITY_SCALE),
                    scaled(line.unit_price, tenon_ledger::QUANTITY_SCALE),
                ]);
                if rows.len() == ROWS_PER_STATEMENT {
                    insert_rows(conn, LINE_HEAD, "", std::mem::take(&mut rows)).await?;
                }
            }
        }
        if !rows.is_empty() {
            insert_rows(conn, LINE_HEAD, "", rows).await?;
        }
        Ok(())
    }

    /// For `tenon bench-ledger` only: `VACUUM ANALYZE` of the ledger's tables on PostgreSQL — what
    /// autovacuum does to heavily updated tables on a server with its default settings (a benchmark's
    /// server may run with it off). Answers false on SQLite, which keeps no dead row versions and whose
    /// own `VACUUM` rewrites the whole file, which nothing does behind an application's back.
    #[cfg(feature = "bench")]
    pub async fn vacuum_ledger_for_benchmark(&self) -> Result<bool> {
        if self.store.backend() != Backend::Postgres {
            return Ok(false);
        }
        let mut pooled = self.store.pools.read().await?;
        pooled
            .conn()
            .execute_script(
                "VACUUM ANALYZE ledger_balances, ledger_value_balances, ledger_lines, ledger_vouchers, \
                 ledger_openings"
                    .to_owned(),
            )
            .await?;
        Ok(true)
    }

    /// For `tenon bench-ledger` only: inserts the rows of already numbered vouchers in one transaction with
    /// the same statements as a real write, but without checks, numbering, dimension values, balances or
    /// audit — the baseline that shows what those cost. Never use it for real books.
    #[cfg(feature = "bench")]
    pub async fn insert_raw_vouchers_for_benchmark(
        &self,
        book: &super::BookRef,
        vouchers: Vec<tenon_ledger::Voucher>,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let now = self.store.now();
        let stored: Vec<StoredVoucher> = vouchers
            .into_iter()
            .map(|voucher| StoredVoucher {
                id: tenon_model::VoucherId::new(),
                book_id: book.id,
                voucher,
                reverses_id: None,
                reversed_by_id: None,
                created_at: now,
            })
            .collect();
        self.insert_voucher_rows(&mut conn, book.id, &stored)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds posted sums to `ledger_balances` in key order: one upsert per (account, period) on SQLite
    /// (each a cached statement, run in-process), one statement for all of them on PostgreSQL.
    pub(crate) async fn add_to_balances(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        sums: &BTreeMap<(AccountCode, Period), (Decimal, Decimal)>,
    ) -> Result<()> {
        if conn.backend() == Backend::Postgres {
            return self.add_to_balances_unnest(conn, book_id, sums).await;
        }
        for ((account, period), (debit, credit)) in sums {
            conn.execute(
                Sql::new(
                    "INSERT INTO ledger_balances (organization_id, book_id, account_code, period, debit, credit) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, book_id, account_code, period) \
                     DO UPDATE SET debit = ledger_balances.debit + excluded.debit, credit = ledger_balances.credit + excluded.credit",
                )
                .bind(self.org_id)
                .bind(book_id)
                .bind(account.as_str())
                .bind(period.key())
                .bind(amount(*debit))
                .bind(amount(*credit)),
            )
            .await?;
        }
        Ok(())
    }

    /// Adds posted sums to `ledger_value_balances` in key order, as [`Self::add_to_balances`] does.
    pub(crate) async fn add_to_value_balances(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        sums: &BTreeMap<(AccountCode, Period, ValueKey), (Decimal, Decimal)>,
    ) -> Result<()> {
        if conn.backend() == Backend::Postgres {
            return self.add_to_value_balances_unnest(conn, book_id, sums).await;
        }
        for ((account, period, key), (debit, credit)) in sums {
            let mut sql = Sql::new(
                "INSERT INTO ledger_value_balances (organization_id, book_id, account_code, period, customer, supplier, \
                 department, employee, project, item, debit, credit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (organization_id, book_id, account_code, period, customer, supplier, department, employee, project, item) \
                 DO UPDATE SET debit = ledger_value_balances.debit + excluded.debit, credit = ledger_value_balances.credit + excluded.credit",
            )
            .bind(self.org_id)
            .bind(book_id)
            .bind(account.as_str())
            .bind(period.key());
            for value in key {
                sql = sql.bind(value.as_str());
            }
            conn.execute(sql.bind(amount(*debit)).bind(amount(*credit)))
                .await?;
        }
        Ok(())
    }

    /// Creates the dimension values the lines name that do not exist yet (value and name alike, the next
    /// free code of their dimension), in key order.
    pub(crate) async fn ensure_dimension_values<'l>(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        lines: impl Iterator<Item = &'l tenon_ledger::Line>,
    ) -> Result<()> {
        let named: BTreeSet<(Dimension, &str)> = lines
            .flat_map(|line| line.dimensions.iter())
            .map(|(dimension, value)| (*dimension, value.as_str()))
            .collect();
        self.create_dimension_values(
            conn,
            book_id,
            named
                .into_iter()
                .map(|(dimension, value)| (dimension, value.to_owned(), value.to_owned(), None))
                .collect(),
        )
        .await?;
        Ok(())
    }

    /// Inserts (dimension, value, name, proposed code) values, keeping those that exist, and gives each
    /// new one its code: the proposed one when it is a valid code no other value of the dimension has,
    /// else the next free code of the dimension ([`Dimension::next_code`]). Returns how many were new.
    /// On PostgreSQL the codes are given under a lock of the book's codes, taken after the values' own
    /// row locks (see the lock order above), so that concurrent writers never give one code twice.
    pub(crate) async fn create_dimension_values(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        values: Vec<(Dimension, String, String, Option<String>)>,
    ) -> Result<usize> {
        if values.is_empty() {
            return Ok(0);
        }
        let mut created: Vec<(String, String)> = Vec::new();
        if conn.backend() == Backend::Postgres {
            created = self
                .insert_dimension_values_unnest(conn, book_id, &values)
                .await?;
        } else {
            let rows: Vec<Vec<Arg>> = values
                .iter()
                .map(|(dimension, value, name, _)| {
                    vec![
                        Arg::from(self.org_id),
                        Arg::from(book_id),
                        Arg::from(dimension.as_str()),
                        Arg::from(value.as_str()),
                        Arg::from(name.as_str()),
                    ]
                })
                .collect();
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut sql = SqlText::new(conn.backend());
                sql.push(VALUE_HEAD)
                    .push(" ")
                    .rows(chunk.to_vec())
                    .push(VALUE_TAIL)
                    .push(" RETURNING dimension, code");
                created.extend(conn.fetch_all::<(String, String)>(sql.into_sql()).await?);
            }
        }
        if created.is_empty() {
            return Ok(0);
        }
        if conn.backend() == Backend::Postgres {
            conn.execute(Sql::new("SELECT pg_advisory_xact_lock($1)").bind(
                super::codes::lock_key(&[
                    self.org_id.as_uuid().as_bytes(),
                    book_id.as_uuid().as_bytes(),
                    b"ledger dimension codes",
                ]),
            ))
            .await?;
        }
        let proposed: BTreeMap<(&str, &str), Option<&str>> = values
            .iter()
            .map(|(dimension, value, _, code)| {
                ((dimension.as_str(), value.as_str()), code.as_deref())
            })
            .collect();
        let mut taken: BTreeMap<Dimension, BTreeSet<String>> = BTreeMap::new();
        created.sort();
        for (dimension_text, value) in &created {
            let dimension = Dimension::parse(dimension_text)
                .map_err(|_| super::corrupt("dimension", dimension_text))?;
            if let std::collections::btree_map::Entry::Vacant(slot) = taken.entry(dimension) {
                let codes: Vec<(Option<String>,)> = conn
                    .fetch_all(
                        Sql::new(
                            "SELECT external_code FROM ledger_dimension_values \
                             WHERE organization_id = $1 AND book_id = $2 AND dimension = $3",
                        )
                        .bind(self.org_id)
                        .bind(book_id)
                        .bind(dimension.as_str()),
                    )
                    .await?;
                slot.insert(codes.into_iter().filter_map(|(c,)| c).collect());
            }
            let codes = taken.entry(dimension).or_default();
            let code = proposed
                .get(&(dimension.as_str(), value.as_str()))
                .copied()
                .flatten()
                .and_then(|code| tenon_ledger::book::check_code(code).ok())
                .filter(|code| !codes.contains(code))
                .unwrap_or_else(|| dimension.next_code(codes.iter().map(String::as_str)));
            conn.execute(
                Sql::new(
                    "UPDATE ledger_dimension_values SET external_code = $5 \
                     WHERE organization_id = $1 AND book_id = $2 AND dimension = $3 AND code = $4",
                )
                .bind(self.org_id)
                .bind(book_id)
                .bind(dimension.as_str())
                .bind(value.as_str())
                .bind(code.as_str()),
            )
            .await?;
            codes.insert(code);
        }
        Ok(created.len())
    }
}

/// A unique violation of a voucher insert is a number taken twice (an import's source numbers).
pub(super) fn number_conflict(error: sqlx::Error) -> StoreError {
    match crate::error::unique_violation(&error) {
        Some(_) => StoreError::conflict(
            Some("number"),
            DetailCode::NotUnique,
            "a voucher with this period, word and number already exists in this book",
        ),
        None => error.into(),
    }
}

async fn insert_rows(
    conn: &mut Conn<'_>,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Arg>>,
) -> Result<()> {
    let mut sql = SqlText::new(conn.backend());
    sql.push(head).push(" ").rows(rows).push(tail);
    conn.execute(sql.into_sql()).await?;
    Ok(())
}
