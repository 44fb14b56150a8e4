//! SQLite reads run on the caller's own thread, for the hottest read there is: one record by id.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own, so even a get by id's one statement
//! is a hand-off to that thread and back: `perf` counted 5.4 context switches per get against 1.1 for
//! `/healthz` (docs/benchmarks.md). A primary-key lookup takes SQLite a few microseconds, less than the
//! hand-off. These connections (rusqlite, over the same bundled SQLite library as sqlx's) run the
//! statement where it is asked for. They are read-only, like sqlx's readers, and run only statements
//! whose rows are read column by column ([`DynRow`]); [`Conn`](super::Conn)'s typed fetches refuse them.
//!
//! A reader in WAL mode takes no lock a writer holds, so a statement here does not wait for writes; the
//! busy timeout is a backstop for the rare moments SQLite itself makes a reader wait (a WAL being
//! recovered), and then it blocks this thread, as sqlx's does its own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use super::{Arg, decode_error};

/// Prepared statements kept per connection (one per table and column list read by id, a few per link).
const STATEMENT_CACHE: usize = 128;

/// Read-only connections to one SQLite file, opened when first needed; at most `keep` are kept idle.
#[derive(Clone)]
pub(crate) struct Direct {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    keep: usize,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Inner {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Direct {
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration, keep: usize) -> Self {
        Direct {
            inner: Arc::new(Inner {
                path,
                busy_timeout,
                keep,
                idle: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// An idle connection, or a new one. A lease is held only while statements run on the caller's
    /// thread, so no more are open at once than there are threads reading.
    pub(crate) fn acquire(&self) -> Result<DirectLease, sqlx::Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let idle = self.inner.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(DirectLease {
            conn: Some(conn),
            home: Arc::clone(&self.inner),
        })
    }

    fn open(&self) -> Result<Connection, sqlx::Error> {
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_error)?;
        conn.busy_timeout(self.inner.busy_timeout)
            .map_err(db_error)?;
        conn.pragma_update(None, "temp_store", "memory")
            .map_err(db_error)?;
        // A kept statement stays prepared whatever is bound to it. Without the query planner stability
        // guarantee, SQLite marks a statement whose plan looked at a bound value (a `LIMIT $n`, a
        // `LIKE $n`) to be prepared again at each new binding: the fan-out's look for subscriptions that
        // are behind, run after every commit, was parsed and planned anew each time (12 % of a single
        // create's server CPU, `perf`, docs/benchmarks.md).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(db_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Closes the idle connections; later acquires fail with `PoolClosed`.
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.idle().clear();
    }
}

/// A connection taken from [`Direct`]; goes back when dropped.
pub(crate) struct DirectLease {
    conn: Option<Connection>,
    home: Arc<Inner>,
}

impl std::ops::Deref for DirectLease {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl std::ops::DerefMut for DirectLease {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for DirectLease {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.home.closed.load(Ordering::Acquire) {
            return;
        }
        let mut idle = self.home.idle();
        if idle.len() < self.home.keep {
            idle.push(conn);
        }
    }
}

/// Runs `text` with `args` bound by their `$n` numbers (as sqlx binds them) and returns every row's
/// values.
pub(crate) fn fetch_values(
    conn: &Connection,
    text: &str,
    args: Vec<Arg>,
) -> Result<Vec<Vec<Value>>, sqlx::Error> {
    let values = args
        .into_iter()
        .map(super::sqlite_value)
        .collect::<Result<Vec<Value>, sqlx::Error>>()?;
    let mut statement = conn.prepare_cached(text).map_err(db_error)?;
    for index in 1..=statement.parameter_count() {
        let number = statement
            .parameter_name(index)
            // `$n` or `?n`: the number after the sign.
            .and_then(|name| name.get(1..))
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or(index);
        let value = number
            .checked_sub(1)
            .and_then(|at| values.get(at))
            .ok_or_else(|| {
                sqlx::Error::Encode(format!("no value bound to parameter number {number}").into())
            })?;
        statement
            .raw_bind_parameter(index, value)
            .map_err(db_error)?;
    }
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        let mut values = Vec::with_capacity(columns);
        for column in 0..columns {
            values.push(row.get::<_, Value>(column).map_err(db_error)?);
        }
        out.push(values);
    }
    Ok(out)
}

/// A database that is busy or cannot be opened is unavailable (as sqlx's I/O errors are); anything else is
/// the statement's own error.
fn db_error(error: rusqlite::Error) -> sqlx::Error {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure,
        ) => sqlx::Error::Io(std::io::Error::other(error)),
        _ => sqlx::Error::Protocol(format!("SQLite: {error}")),
    }
}

fn mismatch(idx: usize, wanted: &str, found: &Value) -> sqlx::Error {
    let found = match found {
        Value::Null => "NULL",
        Value::Integer(_) => "INTEGER",
        Value::Real(_) => "REAL",
        Value::Text(_) => "TEXT",
        Value::Blob(_) => "BLOB",
    };
    decode_error(
        idx,
        std::io::Error::other(format!("expected {wanted}, found {found}")),
    )
}

/// One row's values, decoded the way sqlx decodes SQLite's (see [`super::DynRow`]).
pub(crate) struct DirectRow(pub(crate) Vec<Value>);

impl DirectRow {
    fn value(&self, idx: usize) -> Result<&Value, sqlx::Error> {
        self.0
            .get(idx)
            .ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds {
                index: idx,
                len: self.0.len(),
            })
    }

    pub(crate) fn optional_uuid(&self, idx: usize) -> Result<Option<Uuid>, sqlx::Error> {
        match self.value(idx)? {
            Value::Null => Ok(None),
            Value::Blob(bytes) => Uuid::from_slice(bytes)
                .map(Some)
                .map_err(|e| decode_error(idx, e)),
            other => Err(mismatch(idx, "BLOB", other)),
        }
    }

    pub(crate) fn text(&self, idx: usize) -> Result<Option<String>, sqlx::Error> {
        match self.value(idx)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            other => Err(mismatch(idx, "TEXT", other)),
        }
    }

    pub(crate) fn int(&self, idx: usize) -> Result<Option<i64>, sqlx::Error> {
        match self.value(idx)? {
            Value::Null => Ok(None),
            Value::Integer(value) => Ok(Some(*value)),
            other => Err(mismatch(idx, "INTEGER", other)),
        }
    }

    pub(crate) fn bool(&self, idx: usize) -> Result<Option<bool>, sqlx::Error> {
        Ok(self.int(idx)?.map(|value| value != 0))
    }

    /// The store's RFC 3339 text; also SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (UTC), as sqlx reads it.
    pub(crate) fn datetime(&self, idx: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let Some(text) = self.text(idx)? else {
            return Ok(None);
        };
        if let Ok(time) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Some(time.with_timezone(&Utc)));
        }
        NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f")
            .map(|time| Some(time.and_utc()))
            .map_err(|e| decode_error(idx, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE t (id BLOB PRIMARY KEY, n INTEGER, s TEXT, at TEXT) STRICT;",
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn binds_by_number_and_reads_what_sqlx_writes() {
        let (_dir, path) = store_file();
        let id = Uuid::now_v7();
        let at: DateTime<Utc> = "2026-12-06T10:11:12.123456Z".parse().unwrap();
        {
            let writer = Connection::open(&path).unwrap();
            let mut insert = writer
                .prepare("INSERT INTO t (id, n, s, at) VALUES ($1, $2, $3, $4)")
                .unwrap();
            insert
                .execute(rusqlite::params![
                    id.as_bytes().to_vec(),
                    7,
                    "七",
                    crate::exec::sqlite_time_text(&at)
                ])
                .unwrap();
        }
        let direct = Direct::new(path, Duration::from_secs(1), 2);
        let lease = direct.acquire().unwrap();
        // `$2` comes before `$1` in the text: values go by number, not by position.
        let rows = fetch_values(
            &lease,
            "SELECT id, n, s, at FROM t WHERE n = $2 AND id = $1",
            vec![Arg::Uuid(Some(id)), Arg::Int(Some(7))],
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        let row = DirectRow(rows.into_iter().next().unwrap());
        assert_eq!(row.optional_uuid(0).unwrap(), Some(id));
        assert_eq!(row.int(1).unwrap(), Some(7));
        assert_eq!(row.text(2).unwrap().as_deref(), Some("七"));
        assert_eq!(row.datetime(3).unwrap(), Some(at));
        assert!(row.text(1).is_err(), "an INTEGER is not read as text");
        // Anonymous placeholders (what `sql::SqlText` writes on SQLite) bind in order.
        let anonymous = fetch_values(
            &lease,
            "SELECT s FROM t WHERE id = ? AND n = ?",
            vec![Arg::Uuid(Some(id)), Arg::Int(Some(7))],
        )
        .unwrap();
        assert_eq!(anonymous, vec![vec![Value::Text("七".into())]]);
        let missing = fetch_values(
            &lease,
            "SELECT s FROM t WHERE n = $3",
            vec![Arg::Int(Some(7))],
        );
        assert!(
            matches!(missing, Err(sqlx::Error::Encode(_))),
            "{missing:?}"
        );
        assert!(row.int(4).is_err(), "a column past the end is an error");
    }

    #[test]
    fn a_kept_statement_is_not_prepared_again_when_its_limit_is_bound_anew() {
        let (_dir, path) = store_file();
        let direct = Direct::new(path, Duration::from_secs(1), 1);
        let lease = direct.acquire().unwrap();
        let text = "SELECT n FROM t WHERE n > $1 ORDER BY n LIMIT $2 OFFSET $3";
        for limit in [1, 2, 3] {
            let rows = fetch_values(
                &lease,
                text,
                vec![
                    Arg::Int(Some(0)),
                    Arg::Int(Some(limit)),
                    Arg::Int(Some(limit)),
                ],
            )
            .unwrap();
            assert!(rows.is_empty());
        }
        let statement = lease.prepare_cached(text).unwrap();
        assert_eq!(
            statement.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "each new LIMIT prepared the statement again"
        );
    }

    #[test]
    fn refuses_writes_and_closes() {
        let (_dir, path) = store_file();
        let direct = Direct::new(path, Duration::from_secs(1), 1);
        let lease = direct.acquire().unwrap();
        let refused = fetch_values(
            &lease,
            "INSERT INTO t (n) VALUES ($1) RETURNING n",
            vec![Arg::Int(Some(1))],
        );
        assert!(refused.is_err(), "a direct connection is read-only");
        drop(lease);
        direct.close();
        assert!(matches!(direct.acquire(), Err(sqlx::Error::PoolClosed)));
    }
}
