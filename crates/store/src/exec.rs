//! The only place that turns text into SQL and runs it.
//!
//! Every statement is a [`Sql`]: text with `$1`, `$2`, … placeholders (both SQLite and PostgreSQL read
//! that form) and the values to bind to them. Values are always bound, never spliced into the text. Text
//! comes from `&'static str` literals in this crate, or from the statement builder ([`crate::sql`]), which
//! writes the placeholders of what it binds; nothing a user typed becomes SQL text.
//!
//! This is the floor of the crate's layers: it imports no other module of the store (see
//! `tests/layers.rs`). What a commit must also do (wake event consumers, invalidate caches) arrives as an
//! [`AfterCommit`] hook; what must happen last before it (the outbox numbering the events it deferred) as
//! a [`BeforeCommit`] hook with the items deferred ([`Conn::defer`]).
//!
//! The backends differ in value encodings, which this module hides: timestamps are `TIMESTAMPTZ` on
//! PostgreSQL and fixed-width RFC 3339 text (`2026-11-25T13:19:43.123456Z`, so text order is time order) on
//! SQLite; ids are `UUID` on PostgreSQL and 16-byte `BLOB` on SQLite.

// This module is the one place allowed to hand text to the driver as SQL (see clippy.toml).
#![allow(clippy::disallowed_types)]

mod conns;
mod deferred;
mod direct;
mod dyn_row;
mod joined;
mod pair;
mod pg_tx;
mod pools;
mod sqlite_tx;

pub(crate) use conns::Conns;
pub(crate) use deferred::{BeforeCommit, Deferred, HookFuture};
pub(crate) use direct::Direct;
pub(crate) use dyn_row::DynRow;
use dyn_row::decode_error;
pub(crate) use pools::{AfterCommit, PooledConn, Pools, Tx, spawn_checkpointer};

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Arguments, AssertSqlSafe, FromRow, Postgres, Sqlite};
use uuid::Uuid;

/// Which SQL dialect a statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A value to bind. `None` binds SQL NULL of the right type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    Json(Option<serde_json::Value>),
    Bytes(Option<Vec<u8>>),
    /// PostgreSQL NUMERIC. SQLite has no exact decimal: callers bind scaled integers there instead.
    Decimal(Option<rust_decimal::Decimal>),
    /// DATE on PostgreSQL, `YYYY-MM-DD` text on SQLite.
    Date(Option<chrono::NaiveDate>),
    /// A float, only for comparing SQLite's scaled integers with operands finer than the column.
    Real(Option<f64>),
    /// Ledger money and other exact decimals of a fixed scale: `NUMERIC` on PostgreSQL, an integer scaled
    /// by 10^scale on SQLite.
    Scaled(Option<rust_decimal::Decimal>, u32),
    /// One PostgreSQL array per column of a batch, for `INSERT … SELECT … FROM UNNEST($n::type[], …)`: the
    /// statement's text does not depend on the row count, so each connection prepares and plans it once,
    /// and a batch travels as a few arrays instead of thousands of parameters. SQLite has no arrays:
    /// binding one there is an encoding error, so only PostgreSQL paths build them.
    UuidArray(Vec<Option<Uuid>>),
    TextArray(Vec<Option<String>>),
    IntArray(Vec<Option<i64>>),
    /// `NUMERIC[]`; the column's scale applies on insert.
    DecimalArray(Vec<Option<rust_decimal::Decimal>>),
    TimeArray(Vec<Option<DateTime<Utc>>>),
    /// `JSONB[]`.
    JsonArray(Vec<Option<serde_json::Value>>),
}

/// A statement and its bound values.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    text: Cow<'static, str>,
    args: Vec<Arg>,
    /// Whether PostgreSQL may keep the prepared statement. Statements over user tables are not kept: a
    /// field's type change alters their result types, and PostgreSQL refuses to reuse such a plan
    /// ("cached plan must not change result type") on every connection that cached it.
    persistent: bool,
    /// Whether the statement only inserts the rows it names and reads no table ([`Sql::new_rows`]).
    new_rows: bool,
}

impl Sql {
    /// A statement written in this crate. The same text must be valid on both backends.
    pub(crate) fn new(text: &'static str) -> Self {
        Sql {
            text: Cow::Borrowed(text),
            args: Vec::new(),
            persistent: true,
            new_rows: false,
        }
    }

    /// A statement without values assembled by this crate at run time from its own fragments: physical
    /// names made from ids (always through [`quote`]) and keywords (DDL, counts). Statements with values
    /// are assembled by [`crate::sql::SqlText`]. Never call it with text a user wrote.
    pub(crate) fn generated(text: String) -> Self {
        Sql {
            text: Cow::Owned(text),
            args: Vec::new(),
            persistent: false,
            new_rows: false,
        }
    }

    /// Appends values in order, for a literal statement's numbered placeholders (`$3`, `$4`, … after
    /// two [`Sql::bind`]s). Placeholders of a generated statement come from [`crate::sql::SqlText`].
    pub(crate) fn bind_all(mut self, values: impl IntoIterator<Item = Arg>) -> Self {
        self.args.extend(values);
        self
    }

    /// What [`crate::sql::SqlText`] assembled: text and the values of its placeholders, in order.
    pub(crate) fn assembled(text: String, args: Vec<Arg>, persistent: bool) -> Self {
        Sql {
            text: Cow::Owned(text),
            args,
            persistent,
            new_rows: false,
        }
    }

    /// The statement's text (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Marks a write that only inserts the rows it names and reads no table (no `SELECT … FROM` a table,
    /// no `ON CONFLICT … DO UPDATE`, no `WITH`): queued on PostgreSQL
    /// ([`Conn::execute_unobserved`]), it may go in one statement with other queued writes
    /// (`exec/pg_tx.rs`).
    #[must_use]
    pub(crate) fn new_rows(mut self) -> Self {
        self.new_rows = true;
        self
    }

    #[must_use]
    pub(crate) fn bind(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Takes the bound values (moved, not cloned: a batch binds thousands of strings).
    fn pg_args(&mut self) -> Result<PgArguments, sqlx::Error> {
        let mut args = PgArguments::default();
        for arg in std::mem::take(&mut self.args) {
            let added = match arg {
                Arg::Uuid(v) => args.add(v),
                Arg::Text(v) => args.add(v),
                Arg::Int(v) => args.add(v),
                Arg::Bool(v) => args.add(v),
                Arg::Time(v) => args.add(v),
                Arg::Json(v) => args.add(v.map(sqlx::types::Json)),
                Arg::Bytes(v) => args.add(v),
                Arg::Decimal(v) => args.add(v),
                Arg::Date(v) => args.add(v),
                Arg::Real(v) => args.add(v),
                Arg::Scaled(v, _) => args.add(v),
                Arg::UuidArray(v) => args.add(v),
                Arg::TextArray(v) => args.add(v),
                Arg::IntArray(v) => args.add(v),
                Arg::DecimalArray(v) => args.add(v),
                Arg::TimeArray(v) => args.add(v),
                Arg::JsonArray(v) => args.add(
                    v.into_iter()
                        .map(|json| json.map(sqlx::types::Json))
                        .collect::<Vec<_>>(),
                ),
            };
            added.map_err(sqlx::Error::Encode)?;
        }
        Ok(args)
    }

    fn sqlite_args(&mut self) -> Result<SqliteArguments, sqlx::Error> {
        use rusqlite::types::Value;
        let mut args = SqliteArguments::default();
        for arg in std::mem::take(&mut self.args) {
            let added = match sqlite_value(arg)? {
                Value::Null => args.add(None::<i64>),
                Value::Integer(v) => args.add(v),
                Value::Real(v) => args.add(v),
                Value::Text(v) => args.add(v),
                Value::Blob(v) => args.add(v),
            };
            added.map_err(sqlx::Error::Encode)?;
        }
        Ok(args)
    }
}

/// How a value is stored on SQLite (for sqlx's connections and the [`Direct`] ones alike): ids as 16-byte
/// blobs, instants as [`sqlite_time_text`], booleans as 0 and 1, exact decimals as text or scaled integers.
fn sqlite_value(arg: Arg) -> Result<rusqlite::types::Value, sqlx::Error> {
    use rusqlite::types::Value;
    fn or_null<T>(value: Option<T>, to: impl FnOnce(T) -> Value) -> Value {
        value.map_or(Value::Null, to)
    }
    Ok(match arg {
        Arg::Uuid(v) => or_null(v, |id| Value::Blob(id.as_bytes().to_vec())),
        Arg::Text(v) => or_null(v, Value::Text),
        Arg::Int(v) => or_null(v, Value::Integer),
        Arg::Bool(v) => or_null(v, |b| Value::Integer(i64::from(b))),
        Arg::Time(v) => or_null(v, |t| Value::Text(sqlite_time_text(&t))),
        Arg::Json(v) => or_null(v, |j| Value::Text(j.to_string())),
        Arg::Bytes(v) => or_null(v, Value::Blob),
        Arg::Decimal(v) => or_null(v, |d| Value::Text(d.to_string())),
        Arg::Date(v) => or_null(v, |d| Value::Text(d.format("%Y-%m-%d").to_string())),
        Arg::Real(v) => or_null(v, Value::Real),
        Arg::Scaled(None, _) => Value::Null,
        Arg::Scaled(Some(value), scale) => match tenon_ledger::money::to_scaled_i64(value, scale) {
            Some(minor) => Value::Integer(minor),
            None => {
                return Err(sqlx::Error::Encode(
                    format!("{value} does not fit an integer scaled by 10^{scale}").into(),
                ));
            }
        },
        Arg::UuidArray(_)
        | Arg::TextArray(_)
        | Arg::IntArray(_)
        | Arg::DecimalArray(_)
        | Arg::TimeArray(_)
        | Arg::JsonArray(_) => {
            return Err(sqlx::Error::Encode(
                "array parameters are bound on PostgreSQL only".into(),
            ));
        }
    })
}

/// Quotes an identifier the standard way (both backends): wrapped in `"`, inner `"` doubled. The store only
/// quotes names it generated from ids, but quoting anyway keeps a bug from becoming an injection.
pub(crate) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The one text form of an instant on SQLite: UTC, microseconds, `Z`; fixed width so text order is time order.
pub(crate) fn sqlite_time_text(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

macro_rules! arg_from {
    ($variant:ident: $($ty:ty => $conv:expr),* $(,)?) => {$(
        impl From<$ty> for Arg {
            fn from(value: $ty) -> Self { Arg::$variant(Some(($conv)(value))) }
        }
        impl From<Option<$ty>> for Arg {
            fn from(value: Option<$ty>) -> Self { Arg::$variant(value.map($conv)) }
        }
    )*};
}

arg_from!(Uuid: Uuid => |v| v);
arg_from!(Text: String => |v| v, &str => |v: &str| v.to_owned());
arg_from!(Int: i64 => |v| v, i32 => i64::from, u32 => i64::from);
arg_from!(Bool: bool => |v| v);
arg_from!(Time: DateTime<Utc> => |v| v);
arg_from!(Json: serde_json::Value => |v| v);
arg_from!(Bytes: Vec<u8> => |v| v, &[u8] => |v: &[u8]| v.to_vec());

macro_rules! arg_from_id {
    ($($id:ty),* $(,)?) => {$(
        impl From<$id> for Arg {
            fn from(value: $id) -> Self { Arg::Uuid(Some(*value.as_uuid())) }
        }
        impl From<Option<$id>> for Arg {
            fn from(value: Option<$id>) -> Self { Arg::Uuid(value.map(|id| *id.as_uuid())) }
        }
    )*};
}

arg_from_id!(
    tenon_model::OrgId,
    tenon_model::MemberId,
    tenon_model::DepartmentId,
    tenon_model::TokenId,
    tenon_model::ClientAppId,
    tenon_model::InstallationId,
    tenon_model::SessionId,
    tenon_model::AuditId,
    tenon_model::EventId,
    tenon_model::SubscriptionId,
    tenon_model::DeliveryId,
    tenon_model::ProcessId,
    tenon_model::ApprovalId,
    tenon_model::ApprovalTaskId,
    tenon_model::ActivationId,
    tenon_model::StreamConnectionId,
    tenon_model::AppId,
    tenon_model::TableId,
    tenon_model::RecordId,
    tenon_model::BookId,
    tenon_model::VoucherId,
    tenon_model::FlowId,
    tenon_model::FlowRunId,
    tenon_model::NotificationId,
    tenon_model::ShareId,
);

/// A row type both backends can decode (derive `sqlx::FromRow` and use types both drivers know).
pub(crate) trait FromAnyRow:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

tokio::task_local! {
    /// Statements (and `BEGIN`/`COMMIT`) run by the task inside [`count_statements`]: tests count an
    /// operation's round trips with it.
    static STATEMENTS: std::cell::Cell<u64>;
}

/// Counts one round trip to the database when the current task is inside [`count_statements`].
fn count_statement() {
    let _ = STATEMENTS.try_with(|count| count.set(count.get() + 1));
}

/// Runs `future` and returns its output with the number of statements (round trips to the database,
/// `BEGIN` and `COMMIT` included) it ran on this task. For tests: see `testing::count_statements`.
#[cfg(feature = "test-support")]
pub(crate) async fn count_statements<F: std::future::Future>(future: F) -> (F::Output, u64) {
    STATEMENTS
        .scope(std::cell::Cell::new(0), async move {
            let output = future.await;
            (output, STATEMENTS.get().get())
        })
        .await
}

/// A connection of either backend, borrowed from a pool or a transaction.
pub(crate) struct Conn<'c> {
    db: Db<'c>,
    /// A transaction's marks (bits its [`AfterCommit`] hook reads: which caches its writes make stale,
    /// which workers their work wakes),
    /// handed to the hook when it commits; `None` outside a transaction.
    marks: Option<&'c AtomicU8>,
    /// A transaction's deferred work ([`Conn::defer`]); `None` outside a transaction.
    deferred: Option<&'c Mutex<Deferred>>,
}

enum Db<'c> {
    Postgres(&'c mut PgConnection),
    Sqlite(&'c mut SqliteConnection),
    /// A SQLite write transaction: its statements go after what it sends first ([`conns::SqliteTx::next`]).
    SqliteTx(&'c mut conns::SqliteTx),
    /// A PostgreSQL transaction: its statements go after the writes queued in it ([`pg_tx::PgTx::ready`]).
    PgTx(&'c mut pg_tx::PgTx),
    /// Only [`Conn::fetch_rows`] runs here ([`direct`]).
    Direct(&'c mut rusqlite::Connection),
}

impl<'c> Conn<'c> {
    pub(crate) fn postgres(conn: &'c mut PgConnection) -> Self {
        Conn {
            db: Db::Postgres(conn),
            marks: None,
            deferred: None,
        }
    }

    pub(crate) fn sqlite(conn: &'c mut SqliteConnection) -> Self {
        Conn {
            db: Db::Sqlite(conn),
            marks: None,
            deferred: None,
        }
    }
}

impl Conn<'_> {
    pub(crate) fn backend(&self) -> Backend {
        match &self.db {
            Db::Postgres(_) | Db::PgTx(_) => Backend::Postgres,
            Db::Sqlite(_) | Db::SqliteTx(_) | Db::Direct(_) => Backend::Sqlite,
        }
    }

    /// Adds `marks` to what this transaction hands its [`AfterCommit`] hook when it commits. Returns
    /// `false` outside a transaction: the caller acts at once (the write has committed).
    pub(crate) fn mark(&self, marks: u8) -> bool {
        match self.marks {
            Some(cell) => {
                cell.fetch_or(marks, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Whether this transaction's writes set any of `marks` (so caches of what they change are stale
    /// for it).
    pub(crate) fn marked(&self, marks: u8) -> bool {
        self.marks
            .is_some_and(|cell| cell.load(Ordering::Relaxed) & marks != 0)
    }

    /// Runs a statement and returns the number of rows it changed.
    pub(crate) async fn execute(&mut self, mut sql: Sql) -> Result<u64, sqlx::Error> {
        count_statement();
        match &mut self.db {
            Db::Postgres(_) | Db::PgTx(_) => pg_execute(self.db.postgres().await?, sql).await,
            Db::Sqlite(conn) => {
                let args = sql.sqlite_args()?;
                let done = sqlx::query_with(AssertSqlSafe(sql.text), args)
                    .execute(&mut **conn)
                    .await?;
                Ok(done.rows_affected())
            }
            Db::SqliteTx(tx) => tx.execute(sql).await,
            Db::Direct(_) => Err(rows_only()),
        }
    }

    /// Runs a write whose result nobody reads (an audit entry, an event). In a SQLite transaction it
    /// waits, in order, to go in one round trip with the transaction's next statement or its `COMMIT`
    /// ([`conns::SqliteTx::queue`]); anywhere else it runs at once. Its errors surface there.
    pub(crate) async fn execute_unobserved(&mut self, sql: Sql) -> Result<(), sqlx::Error> {
        match &mut self.db {
            Db::SqliteTx(tx) => tx.queue(sql),
            Db::PgTx(tx) => tx.queue(sql),
            _ => return self.execute(sql).await.map(drop),
        }
        Ok(())
    }

    /// Runs a write that reads no table this transaction's queued writes change
    /// ([`Conn::execute_unobserved`]); returns the rows it changed. On PostgreSQL the last of them go in
    /// its statement ([`pg_tx::PgTx::with_queued`]); on SQLite they go before it in one text, as before
    /// any statement.
    pub(crate) async fn execute_with_queued(&mut self, sql: Sql) -> Result<u64, sqlx::Error> {
        let Db::PgTx(tx) = &mut self.db else {
            return self.execute(sql).await;
        };
        count_statement();
        let (conn, sql) = tx.with_queued(sql).await?;
        pg_execute(conn, sql).await
    }

    /// Runs several statements separated by `;` with no bound values (DDL, pragmas).
    pub(crate) async fn execute_script(&mut self, text: String) -> Result<(), sqlx::Error> {
        count_statement();
        use sqlx::Executor;
        match &mut self.db {
            Db::Postgres(_) | Db::PgTx(_) => self
                .db
                .postgres()
                .await?
                .execute(AssertSqlSafe(text))
                .await
                .map(drop),
            Db::Sqlite(conn) => conn.execute(AssertSqlSafe(text)).await.map(drop),
            Db::SqliteTx(tx) => tx
                .flush()
                .await?
                .execute(AssertSqlSafe(text))
                .await
                .map(drop),
            Db::Direct(_) => Err(rows_only()),
        }
    }

    pub(crate) async fn fetch_all<T: FromAnyRow>(
        &mut self,
        mut sql: Sql,
    ) -> Result<Vec<T>, sqlx::Error> {
        count_statement();
        match &mut self.db {
            Db::Postgres(_) | Db::PgTx(_) => {
                let conn = self.db.postgres().await?;
                let args = sql.pg_args()?;
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql.text), args)
                    .persistent(sql.persistent)
                    .fetch_all(conn)
                    .await
            }
            Db::Direct(_) => Err(rows_only()),
            db => {
                let (conn, mut sql, _) = db.sqlite(sql)?;
                let args = sql.sqlite_args()?;
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql.text), args)
                    .fetch_all(conn)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_optional<T: FromAnyRow>(
        &mut self,
        mut sql: Sql,
    ) -> Result<Option<T>, sqlx::Error> {
        count_statement();
        match &mut self.db {
            Db::Postgres(_) | Db::PgTx(_) => {
                let conn = self.db.postgres().await?;
                let args = sql.pg_args()?;
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql.text), args)
                    .persistent(sql.persistent)
                    .fetch_optional(conn)
                    .await
            }
            Db::Direct(_) => Err(rows_only()),
            db => {
                let (conn, mut sql, _) = db.sqlite(sql)?;
                let args = sql.sqlite_args()?;
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql.text), args)
                    .fetch_optional(conn)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_one<T: FromAnyRow>(&mut self, sql: Sql) -> Result<T, sqlx::Error> {
        self.fetch_optional(sql)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Rows whose columns are known only at run time (records of user tables).
    pub(crate) async fn fetch_rows(&mut self, mut sql: Sql) -> Result<Vec<DynRow>, sqlx::Error> {
        count_statement();
        match &mut self.db {
            Db::Postgres(_) | Db::PgTx(_) => {
                let conn = self.db.postgres().await?;
                let args = sql.pg_args()?;
                let rows = sqlx::query_with(AssertSqlSafe(sql.text), args)
                    .persistent(sql.persistent)
                    .fetch_all(conn)
                    .await?;
                Ok(rows.into_iter().map(DynRow::Postgres).collect())
            }
            Db::Sqlite(_) | Db::SqliteTx(_) => {
                let (conn, mut sql, _) = self.db.sqlite(sql)?;
                let args = sql.sqlite_args()?;
                let rows = sqlx::query_with(AssertSqlSafe(sql.text), args)
                    .fetch_all(conn)
                    .await?;
                Ok(rows.into_iter().map(DynRow::Sqlite).collect())
            }
            Db::Direct(conn) => {
                let rows = direct::fetch_values(conn, &sql.text, std::mem::take(&mut sql.args))?;
                Ok(rows
                    .into_iter()
                    .map(|values| DynRow::Direct(direct::DirectRow(values)))
                    .collect())
            }
        }
    }
}

/// Runs a statement on a PostgreSQL connection; the rows it changed.
async fn pg_execute(conn: &mut PgConnection, mut sql: Sql) -> Result<u64, sqlx::Error> {
    let args = sql.pg_args()?;
    let done = sqlx::query_with(AssertSqlSafe(sql.text), args)
        .persistent(sql.persistent)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

impl Db<'_> {
    /// PostgreSQL: the connection, after what a transaction queued ([`pg_tx::PgTx::ready`]).
    async fn postgres(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        match self {
            Db::Postgres(conn) => Ok(&mut **conn),
            Db::PgTx(tx) => tx.ready().await,
            Db::Sqlite(_) | Db::SqliteTx(_) | Db::Direct(_) => Err(sqlx::Error::Protocol(
                "a PostgreSQL statement for another connection".into(),
            )),
        }
    }

    /// SQLite: the connection `sql` runs on and the text to send — in a transaction, `sql` after what the
    /// transaction sends first ([`conns::SqliteTx::next`]; `true` then).
    fn sqlite(&mut self, sql: Sql) -> Result<(&mut SqliteConnection, Sql, bool), sqlx::Error> {
        match self {
            Db::Sqlite(conn) => Ok((&mut **conn, sql, false)),
            Db::SqliteTx(tx) => tx.next(sql),
            Db::Postgres(_) | Db::PgTx(_) | Db::Direct(_) => Err(sqlx::Error::Protocol(
                "a SQLite statement for another connection".into(),
            )),
        }
    }
}

/// What a [`Direct`] connection answers to anything but [`Conn::fetch_rows`]: sqlx's typed rows cannot be
/// made from its values. Only record reads by id take one ([`Pools::read_direct`]).
fn rows_only() -> sqlx::Error {
    sqlx::Error::Protocol("a direct SQLite reader runs only statements read as rows".to_owned())
}
