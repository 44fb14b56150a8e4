//! The PostgreSQL form of the ledger's batch writes: one `INSERT … SELECT … FROM UNNEST(…)` per table and
//! batch, each column bound as one array (`Arg::UuidArray` and its siblings).
//!
//! Why not the multi-row `VALUES` that SQLite gets (see `write`): with a statement of 4,000 bound
//! parameters per 200 lines, the server's log showed ~4 ms of parse and bind and ~50 ms of execution per
//! statement, where one array statement inserts 2,000 lines in ~40 ms. These statements have one fixed
//! text whatever the row count, so each connection prepares them once, and the rows arrive as a few
//! arrays. The rows, their order and the constraints they meet are the same as on SQLite; only the
//! transport differs. SQLite never runs these (it has no arrays).

use std::collections::BTreeMap;
use tenon_model::BookId;

use rust_decimal::Decimal;
use tenon_ledger::{AccountCode, Dimension, Period};

use super::write::{DIMENSION_COLUMNS, ValueKey};
use super::{StoredVoucher, date_text};
use crate::exec::{Arg, Conn, Sql};
use crate::{Result, Tenant};

/// Rows per array statement. Arrays have no parameter limit; this bounds one message's size (a 10,000-line
/// statement is about 2 MB on the wire).
const ROWS_PER_ARRAY_STATEMENT: usize = 10_000;

const INSERT_VOUCHERS: &str = "INSERT INTO ledger_vouchers (organization_id, id, book_id, period, word, number, date, \
     attachments, state, preparer, reviewer, poster, reverses_id, reversed_by_id, created_at, updated_at) \
     SELECT $1, u.id, $2, u.period, u.word, u.number, u.date, u.attachments, u.state, u.preparer, u.reviewer, \
     u.poster, u.reverses_id, u.reversed_by_id, u.created_at, u.created_at \
     FROM UNNEST($3::uuid[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::text[], \
     $10::text[], $11::text[], $12::text[], $13::uuid[], $14::uuid[], $15::timestamptz[]) \
     AS u (id, period, word, number, date, attachments, state, preparer, reviewer, poster, reverses_id, \
     reversed_by_id, created_at)";

const INSERT_LINES: &str = "INSERT INTO ledger_lines (organization_id, voucher_id, line_no, book_id, period, account_code, \
     summary, customer, supplier, department, employee, project, item, debit, credit, currency, original_amount, \
     exchange_rate, quantity, unit_price) \
     SELECT $1, u.voucher_id, u.line_no, $2, u.period, u.account_code, u.summary, u.customer, u.supplier, \
     u.department, u.employee, u.project, u.item, u.debit, u.credit, u.currency, u.original_amount, \
     u.exchange_rate, u.quantity, u.unit_price \
     FROM UNNEST($3::uuid[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], \
     $10::text[], $11::text[], $12::text[], $13::text[], $14::numeric[], $15::numeric[], $16::text[], \
     $17::numeric[], $18::numeric[], $19::numeric[], $20::numeric[]) \
     AS u (voucher_id, line_no, period, account_code, summary, customer, supplier, department, employee, project, \
     item, debit, credit, currency, original_amount, exchange_rate, quantity, unit_price)";

const INSERT_DIMENSION_VALUES: &str = "INSERT INTO ledger_dimension_values (organization_id, book_id, dimension, code, name) \
     SELECT $1, $2, u.dimension, u.code, u.name FROM UNNEST($3::text[], $4::text[], $5::text[]) \
     AS u (dimension, code, name) \
     ON CONFLICT (organization_id, book_id, dimension, code) DO NOTHING RETURNING dimension, code";

/// `ORDER BY` the ordinality keeps the upserts — and so the row locks — in the order given (key order),
/// the lock order that keeps concurrent batches from deadlocking.
const ADD_TO_BALANCES: &str = "INSERT INTO ledger_balances (organization_id, book_id, account_code, period, debit, credit) \
     SELECT $1, $2, u.account_code, u.period, u.debit, u.credit \
     FROM UNNEST($3::text[], $4::bigint[], $5::numeric[], $6::numeric[]) WITH ORDINALITY \
     AS u (account_code, period, debit, credit, ordinality) ORDER BY u.ordinality \
     ON CONFLICT (organization_id, book_id, account_code, period) \
     DO UPDATE SET debit = ledger_balances.debit + excluded.debit, credit = ledger_balances.credit + excluded.credit";

/// The same for `ledger_value_balances`, keyed by (account, period, dimension values).
const ADD_TO_VALUE_BALANCES: &str = "INSERT INTO ledger_value_balances (organization_id, book_id, account_code, period, \
     customer, supplier, department, employee, project, item, debit, credit) \
     SELECT $1, $2, u.account_code, u.period, u.customer, u.supplier, u.department, u.employee, u.project, u.item, \
     u.debit, u.credit \
     FROM UNNEST($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
     $11::numeric[], $12::numeric[]) WITH ORDINALITY \
     AS u (account_code, period, customer, supplier, department, employee, project, item, debit, credit, ordinality) \
     ORDER BY u.ordinality \
     ON CONFLICT (organization_id, book_id, account_code, period, customer, supplier, department, employee, project, item) \
     DO UPDATE SET debit = ledger_value_balances.debit + excluded.debit, \
     credit = ledger_value_balances.credit + excluded.credit";

fn index_i64(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

impl Tenant<'_> {
    /// Voucher rows, then line rows, of already numbered vouchers.
    pub(super) async fn insert_voucher_rows_unnest(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        vouchers: &[StoredVoucher],
    ) -> Result<()> {
        for chunk in vouchers.chunks(ROWS_PER_ARRAY_STATEMENT) {
            let n = chunk.len();
            let (mut id, mut period, mut word, mut number) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut date, mut attachments, mut state, mut preparer) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut reviewer, mut poster, mut reverses_id, mut reversed_by_id, mut created_at) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for stored in chunk {
                let v = &stored.voucher;
                id.push(Some(*stored.id.as_uuid()));
                period.push(Some(v.period.key()));
                word.push(Some(v.word.as_str().to_owned()));
                number.push(Some(i64::from(v.number)));
                date.push(Some(date_text(v.date)));
                attachments.push(Some(i64::from(v.attachments)));
                state.push(Some(v.state.as_str().to_owned()));
                preparer.push(Some(v.preparer.clone()));
                reviewer.push(v.reviewer.clone());
                poster.push(v.poster.clone());
                reverses_id.push(stored.reverses_id.map(|id| *id.as_uuid()));
                reversed_by_id.push(stored.reversed_by_id.map(|id| *id.as_uuid()));
                created_at.push(Some(stored.created_at));
            }
            let sql = Sql::new(INSERT_VOUCHERS)
                .bind(self.org_id)
                .bind(book_id)
                .bind_all([
                    Arg::UuidArray(id),
                    Arg::IntArray(period),
                    Arg::TextArray(word),
                    Arg::IntArray(number),
                    Arg::TextArray(date),
                    Arg::IntArray(attachments),
                    Arg::TextArray(state),
                    Arg::TextArray(preparer),
                    Arg::TextArray(reviewer),
                    Arg::TextArray(poster),
                    Arg::UuidArray(reverses_id),
                    Arg::UuidArray(reversed_by_id),
                    Arg::TimeArray(created_at),
                ]);
            conn.execute(sql)
                .await
                .map_err(super::write::number_conflict)?;
        }
        let lines: Vec<(&StoredVoucher, usize, &tenon_ledger::Line)> = vouchers
            .iter()
            .flat_map(|stored| {
                stored
                    .voucher
                    .lines
                    .iter()
                    .enumerate()
                    .map(move |(index, line)| (stored, index, line))
            })
            .collect();
        for chunk in lines.chunks(ROWS_PER_ARRAY_STATEMENT) {
            let n = chunk.len();
            let texts = || Vec::<Option<String>>::with_capacity(n);
            let decimals = || Vec::<Option<Decimal>>::with_capacity(n);
            let (mut voucher_id, mut line_no, mut period) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut account, mut summary, mut currency) = (texts(), texts(), texts());
            let mut dimensions: [Vec<Option<String>>; 6] =
                [texts(), texts(), texts(), texts(), texts(), texts()];
            let (mut debit, mut credit, mut original_amount) = (decimals(), decimals(), decimals());
            let (mut exchange_rate, mut quantity, mut unit_price) =
                (decimals(), decimals(), decimals());
            for &(stored, index, line) in chunk {
                voucher_id.push(Some(*stored.id.as_uuid()));
                line_no.push(Some(index_i64(index)));
                period.push(Some(stored.voucher.period.key()));
                account.push(Some(line.account.as_str().to_owned()));
                summary.push(Some(line.summary.clone()));
                for (column, dimension) in dimensions.iter_mut().zip(DIMENSION_COLUMNS) {
                    column.push(line.dimensions.get(&dimension).cloned());
                }
                debit.push(Some(line.debit));
                credit.push(Some(line.credit));
                currency.push(line.currency.map(|c| c.as_str().to_owned()));
                original_amount.push(line.original_amount);
                exchange_rate.push(line.exchange_rate);
                quantity.push(line.quantity);
                unit_price.push(line.unit_price);
            }
            let [customer, supplier, department, employee, project, item] = dimensions;
            let sql = Sql::new(INSERT_LINES)
                .bind(self.org_id)
                .bind(book_id)
                .bind_all([
                    Arg::UuidArray(voucher_id),
                    Arg::IntArray(line_no),
                    Arg::IntArray(period),
                    Arg::TextArray(account),
                    Arg::TextArray(summary),
                    Arg::TextArray(customer),
                    Arg::TextArray(supplier),
                    Arg::TextArray(department),
                    Arg::TextArray(employee),
                    Arg::TextArray(project),
                    Arg::TextArray(item),
                    Arg::DecimalArray(debit),
                    Arg::DecimalArray(credit),
                    Arg::TextArray(currency),
                    Arg::DecimalArray(original_amount),
                    Arg::DecimalArray(exchange_rate),
                    Arg::DecimalArray(quantity),
                    Arg::DecimalArray(unit_price),
                ]);
            conn.execute(sql).await?;
        }
        Ok(())
    }

    /// Inserts (dimension, value, name, _) values, keeping those that exist; returns the (dimension,
    /// value) of those it inserted.
    pub(super) async fn insert_dimension_values_unnest(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        values: &[(Dimension, String, String, Option<String>)],
    ) -> Result<Vec<(String, String)>> {
        let mut created = Vec::new();
        for chunk in values.chunks(ROWS_PER_ARRAY_STATEMENT) {
            let dimension = chunk
                .iter()
                .map(|v| Some(v.0.as_str().to_owned()))
                .collect();
            let code = chunk.iter().map(|v| Some(v.1.clone())).collect();
            let name = chunk.iter().map(|v| Some(v.2.clone())).collect();
            let sql = Sql::new(INSERT_DIMENSION_VALUES)
                .bind(self.org_id)
                .bind(book_id)
                .bind_all([
                    Arg::TextArray(dimension),
                    Arg::TextArray(code),
                    Arg::TextArray(name),
                ]);
            created.extend(conn.fetch_all::<(String, String)>(sql).await?);
        }
        Ok(created)
    }

    /// Adds posted sums to `ledger_balances` in one statement, in key order.
    pub(super) async fn add_to_balances_unnest(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        sums: &BTreeMap<(AccountCode, Period), (Decimal, Decimal)>,
    ) -> Result<()> {
        if sums.is_empty() {
            return Ok(());
        }
        let account = sums
            .keys()
            .map(|(account, _)| Some(account.as_str().to_owned()))
            .collect();
        let period = sums.keys().map(|(_, period)| Some(period.key())).collect();
        let debit = sums.values().map(|(debit, _)| Some(*debit)).collect();
        let credit = sums.values().map(|(_, credit)| Some(*credit)).collect();
        let sql = Sql::new(ADD_TO_BALANCES)
            .bind(self.org_id)
            .bind(book_id)
            .bind_all([
                Arg::TextArray(account),
                Arg::IntArray(period),
                Arg::DecimalArray(debit),
                Arg::DecimalArray(credit),
            ]);
        conn.execute(sql).await?;
        Ok(())
    }
}

impl Tenant<'_> {
    /// Adds posted sums to `ledger_value_balances` in one statement per chunk, in key order.
    pub(super) async fn add_to_value_balances_unnest(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        sums: &BTreeMap<(AccountCode, Period, ValueKey), (Decimal, Decimal)>,
    ) -> Result<()> {
        let rows: Vec<_> = sums.iter().collect();
        for chunk in rows.chunks(ROWS_PER_ARRAY_STATEMENT) {
            let account = chunk
                .iter()
                .map(|((account, _, _), _)| Some(account.as_str().to_owned()))
                .collect();
            let period = chunk
                .iter()
                .map(|((_, period, _), _)| Some(period.key()))
                .collect();
            let values: [Arg; 6] = std::array::from_fn(|column| {
                Arg::TextArray(
                    chunk
                        .iter()
                        .map(|((_, _, key), _)| Some(key[column].clone()))
                        .collect(),
                )
            });
            let debit = chunk.iter().map(|(_, (debit, _))| Some(*debit)).collect();
            let credit = chunk.iter().map(|(_, (_, credit))| Some(*credit)).collect();
            let sql = Sql::new(ADD_TO_VALUE_BALANCES)
                .bind(self.org_id)
                .bind(book_id)
                .bind_all([Arg::TextArray(account), Arg::IntArray(period)])
                .bind_all(values)
                .bind_all([Arg::DecimalArray(debit), Arg::DecimalArray(credit)]);
            conn.execute(sql).await?;
        }
        Ok(())
    }
}
