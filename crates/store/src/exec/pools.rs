//! The pools of either backend, connections taken from them for reads, and write transactions.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use sqlx::postgres::{PgPool, Postgres};
use sqlx::sqlite::SqlitePool;

use crate::exec::{
    Backend, Conn, Conns, Db, Deferred, Direct, FromAnyRow, Sql, conns, count_statement, direct,
    pg_tx,
};

/// A pool of either backend. SQLite gets two pools: many readers, and one writer, because SQLite admits one
/// writer at a time and queueing writers in the pool is cheaper than letting them collide on the file lock.
#[derive(Clone)]
pub(crate) enum Pools {
    /// `numbers`: a few connections of their own for counters whose numbers may have gaps
    /// ([`Pools::take_number`]).
    Postgres { pool: PgPool, numbers: PgPool },
    /// `read` and `write` are [`Conns`] (handed out without pings); `checkpoint`: one connection of its own
    /// for the background WAL checkpoints ([`spawn_checkpointer`]), so they never wait for, or hold up, the writer.
    Sqlite {
        read: Conns,
        write: Conns,
        checkpoint: SqlitePool,
        /// Read-only connections used on the caller's thread, for records by id ([`Pools::read_direct`]).
        direct: Direct,
    },
}

/// How often the background checkpointer copies committed pages from SQLite's WAL into the database file.
const SQLITE_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection every [`SQLITE_CHECKPOINT_EVERY`] until the
/// pool closes. SQLite's own checkpoint runs inside the commit that pushes the WAL over its threshold, on
/// the single writer, so one request in a few hundred paid for copying the WAL; here no request does. A
/// passive checkpoint takes no lock a reader or the writer waits for, and copies what no reader still
/// needs. The writer keeps an automatic checkpoint at a much higher threshold as a backstop.
pub(crate) fn spawn_checkpointer(pool: SqlitePool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut ticker = tokio::time::interval(SQLITE_CHECKPOINT_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if pool.is_closed() {
                return;
            }
            let done: Result<(i64, i64, i64), sqlx::Error> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&pool)
                    .await;
            match done {
                Ok(_) => {}
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => tracing::debug!(%error, "background WAL checkpoint failed"),
            }
        }
    });
}

/// A connection taken from a pool for reads outside a transaction.
pub(crate) enum PooledConn {
    Postgres(sqlx::pool::PoolConnection<Postgres>),
    Sqlite(conns::Lease),
    Direct(direct::DirectLease),
}

impl PooledConn {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Postgres(conn) => Conn::postgres(conn),
            PooledConn::Sqlite(conn) => Conn::sqlite(conn),
            PooledConn::Direct(conn) => Conn {
                db: Db::Direct(conn),
                marks: None,
                deferred: None,
            },
        }
    }
}

/// What runs after a transaction commits, with the marks its writes set ([`Conn::mark`]).
pub(crate) trait AfterCommit: Send + Sync {
    fn committed(&self, marks: u8);
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back.
pub(crate) struct Tx {
    inner: TxInner,
    /// Woken after a successful commit, so event consumers in this process look for new events at once.
    commits: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// What this transaction's writes set ([`Conn::mark`]), handed to `after_commit` after the commit.
    marks: AtomicU8,
    after_commit: Option<std::sync::Arc<dyn AfterCommit>>,
    /// Work deferred to just before the commit ([`Conn::defer`]).
    deferred: Mutex<Deferred>,
}

enum TxInner {
    Postgres(pg_tx::PgTx),
    Sqlite(conns::SqliteTx),
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        let db = match &mut self.inner {
            TxInner::Postgres(tx) => Db::PgTx(tx),
            TxInner::Sqlite(tx) => Db::SqliteTx(tx),
        };
        Conn {
            db,
            marks: Some(&self.marks),
            deferred: Some(&self.deferred),
        }
    }

    /// Wakes `commits` after this transaction commits, and hands its marks to `after_commit`.
    pub(crate) fn notifying(
        mut self,
        commits: std::sync::Arc<tokio::sync::Notify>,
        after_commit: std::sync::Arc<dyn AfterCommit>,
    ) -> Self {
        self.commits = Some(commits);
        self.after_commit = Some(after_commit);
        self
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.conn().run_deferred().await?;
        count_statement();
        match self.inner {
            TxInner::Postgres(tx) => tx.commit().await?,
            TxInner::Sqlite(tx) => tx.commit(self.marks.load(Ordering::SeqCst)).await?,
        }
        // After the commit, never before: a reader that loads between an early invalidation and the
        // commit would cache what the commit replaces.
        if let Some(hook) = self.after_commit {
            hook.committed(self.marks.into_inner());
        }
        if let Some(commits) = self.commits {
            commits.notify_waiters();
        }
        Ok(())
    }
}

impl Pools {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pools::Postgres { .. } => Backend::Postgres,
            Pools::Sqlite { .. } => Backend::Sqlite,
        }
    }

    pub(crate) async fn read(&self) -> Result<PooledConn, sqlx::Error> {
        Ok(match self {
            Pools::Postgres { pool, .. } => PooledConn::Postgres(pool.acquire().await?),
            Pools::Sqlite { read, .. } => PooledConn::Sqlite(read.acquire().await?),
        })
    }

    /// A read connection for statements whose rows are read as [`DynRow`]s only ([`Conn::fetch_rows`];
    /// the typed fetches refuse it): on SQLite one whose statements run on the caller's thread
    /// ([`direct`]), on PostgreSQL an ordinary one.
    pub(crate) async fn read_direct(&self) -> Result<PooledConn, sqlx::Error> {
        match self {
            Pools::Sqlite { direct, .. } => Ok(PooledConn::Direct(direct.acquire()?)),
            Pools::Postgres { .. } => self.read().await,
        }
    }

    /// A second read connection for a reader that already holds one, on PostgreSQL, if one is idle now:
    /// never waits for one and never opens one, so readers that each hold a connection cannot wait for
    /// each other. `None` on SQLite, whose statements stay on one connection (concurrent reads there
    /// were not measured).
    pub(crate) fn try_read(&self) -> Option<PooledConn> {
        match self {
            Pools::Postgres { pool, .. } => pool.try_acquire().map(PooledConn::Postgres),
            Pools::Sqlite { .. } => None,
        }
    }

    /// Runs a counter's statement (an upsert `RETURNING` the numbers it took) for numbers that may have
    /// gaps — task and business numbers of approvals, never a voucher's. On PostgreSQL it runs on a
    /// connection of its own and commits at once, so the counter's row is locked for that one statement
    /// rather than until `conn`'s transaction ends: writers of one organization no longer queue on it. A
    /// transaction that rolls back leaves its numbers unused (a gap). The `numbers` connections commit
    /// asynchronously (`synchronous_commit = off`), which loses nothing: a transaction that uses a number
    /// commits after it, and flushing its commit flushes the write-ahead log up to it, the counter's
    /// commit included; a crash before that loses the counter's step and no stored number. On SQLite the
    /// statement runs in `conn`'s transaction (one writer; a rollback gives the numbers back).
    pub(crate) async fn take_number<T: FromAnyRow>(
        &self,
        conn: &mut Conn<'_>,
        sql: Sql,
    ) -> Result<T, sqlx::Error> {
        match self {
            Pools::Postgres { numbers, .. } if conn.deferred.is_some() => {
                let mut side = numbers.acquire().await?;
                Conn::postgres(&mut side).fetch_one(sql).await
            }
            _ => conn.fetch_one(sql).await,
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock with its first statement (`BEGIN
    /// IMMEDIATE` goes in one text with it: [`conns::SqliteTx`]; the writer's lease keeps this process's
    /// other writers out from now), so a transaction that reads before it writes cannot fail half-way
    /// when another process (the CLI) writes.
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.begin_as(false).await
    }

    /// [`Pools::begin`] for background work (webhook deliveries' bookkeeping): on SQLite it lets the
    /// writers that do not yield take the one writer first ([`conns::Conns::acquire_yielding`]). On
    /// PostgreSQL, where writers of different rows do not queue on each other, it is [`Pools::begin`].
    pub(crate) async fn begin_yielding(&self) -> Result<Tx, sqlx::Error> {
        self.begin_as(true).await
    }

    async fn begin_as(&self, yielding: bool) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pools::Postgres { pool, .. } => Tx {
                inner: TxInner::Postgres({
                    count_statement();
                    pg_tx::PgTx::new(pool.begin().await?)
                }),
                commits: None,
                marks: AtomicU8::new(0),
                after_commit: None,
                deferred: Mutex::new(None),
            },
            Pools::Sqlite { write, .. } => {
                let tx = if yielding {
                    write.begin_immediate_yielding().await?
                } else {
                    write.begin_immediate().await?
                };
                Tx {
                    // A transaction that joins a batch starts with what the batch made stale.
                    marks: AtomicU8::new(tx.inherited_marks()),
                    inner: TxInner::Sqlite(tx),
                    commits: None,
                    after_commit: None,
                    deferred: Mutex::new(None),
                }
            }
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Pools::Postgres { pool, numbers } => {
                pool.close().await;
                numbers.close().await;
            }
            Pools::Sqlite {
                read,
                write,
                checkpoint,
                direct,
            } => {
                direct.close();
                read.close().await;
                write.close().await;
                checkpoint.close().await;
            }
        }
    }
}
