//! SQLite's connections, handed out and taken back without a word to their threads.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own, so every command is a round trip
//! between threads, and its pool pings a connection when it hands it out and again (in a task of its
//! own) when it takes it back: two of a get by id's three round trips, and two more for every write
//! transaction. `perf` puts most of a get's cost in those hand-offs (docs/benchmarks.md). These
//! connections are a file on this machine, so none goes stale while it waits; and a connection runs its
//! commands in order, so whatever a cancelled user left queued (a statement, a transaction's `ROLLBACK`)
//! is done before the next user's first statement.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Executor};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{Sql, joined};

/// At most `size` connections, opened when first needed and kept open until [`Conns::close`].
#[derive(Clone)]
pub(crate) struct Conns {
    inner: Arc<Inner>,
}

struct Inner {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
    /// Users waiting for a connection who do not yield ([`Conns::acquire`]).
    waiting: AtomicUsize,
    /// Told when the last of them has one: users that yield wait for it ([`Conns::acquire_yielding`]).
    none_waiting: Notify,
    turns: Mutex<Turns>,
}

/// Who had the connections lately, for the share of users that yield ([`Conns::acquire_yielding`]).
#[derive(Default)]
struct Turns {
    /// When a user that does not yield last gave a connection back.
    others_at: Option<Instant>,
    /// Before when a user that yields waits while the others are busy: its last turn's length times
    /// [`YIELD_PAUSE`] after that turn.
    yielding_next: Option<Instant>,
}

/// How long a user that yields waits for the others at most before it queues among them: under writes
/// that never pause, background work still gets a turn now and then.
const YIELD_AT_MOST: Duration = Duration::from_millis(50);
/// The others count as busy this long after they last gave a connection back.
const BUSY_FOR: Duration = Duration::from_millis(100);
/// While the others are busy, a user that yields pauses this many times as long as its last turn took
/// before it takes the next: background work gets at most a tenth of the writer while requests write,
/// and all of it when they do not.
const YIELD_PAUSE: u32 = 9;
/// The longest such pause.
const YIELD_PAUSE_MAX: Duration = Duration::from_secs(1);

/// Counts a waiting user from creation until dropped (given a connection, failed or cancelled).
struct Waiting<'a>(&'a Inner);

impl<'a> Waiting<'a> {
    fn new(inner: &'a Inner) -> Self {
        inner.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(inner)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_waiting.notify_waiters();
        }
    }
}

impl Conns {
    /// Opens one connection at once, so a bad path or a locked file fails here, not at the first use.
    pub(crate) async fn connect(
        options: SqliteConnectOptions,
        size: usize,
        acquire_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let first = options.connect().await?;
        Ok(Conns {
            inner: Arc::new(Inner {
                options,
                idle: Mutex::new(vec![first]),
                permits: Arc::new(Semaphore::new(size)),
                acquire_timeout,
                waiting: AtomicUsize::new(0),
                none_waiting: Notify::new(),
                turns: Mutex::default(),
            }),
        })
    }

    /// A connection: an idle one, or a new one while fewer than `size` are open. Waiters are served in
    /// turn; after the acquire timeout `PoolTimedOut`, after [`Conns::close`] `PoolClosed`.
    pub(crate) async fn acquire(&self) -> Result<Lease, sqlx::Error> {
        let _waiting = Waiting::new(&self.inner);
        self.take(false).await
    }

    /// [`Conns::acquire`] for background work. While the others are busy (they gave a connection back
    /// less than [`BUSY_FOR`] ago) it first pauses [`YIELD_PAUSE`] times as long as its last turn took;
    /// then it lets every user that does not yield and waits go before it ([`YIELD_AT_MOST`] at most),
    /// and queues. On the writer's pool this gives requests SQLite's one writer before webhook
    /// deliveries' bookkeeping, which takes the rest and catches up when writes pause.
    pub(crate) async fn acquire_yielding(&self) -> Result<Lease, sqlx::Error> {
        let pause_until = {
            let turns = self.inner.turns();
            let now = Instant::now();
            let busy = turns.others_at.is_some_and(|at| now < at + BUSY_FOR);
            turns.yielding_next.filter(|next| busy && now < *next)
        };
        if let Some(until) = pause_until {
            tokio::time::sleep_until(until).await;
        }
        let deadline = Instant::now() + YIELD_AT_MOST;
        loop {
            let none_waiting = self.inner.none_waiting.notified();
            tokio::pin!(none_waiting);
            none_waiting.as_mut().enable();
            if self.inner.waiting.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, none_waiting)
                .await
                .is_err()
            {
                break;
            }
        }
        self.take(true).await
    }

    /// A connection; `yielding`: for a user that yields, whose turn is timed.
    async fn take(&self, yielding: bool) -> Result<Lease, sqlx::Error> {
        let permit = tokio::time::timeout(
            self.inner.acquire_timeout,
            Arc::clone(&self.inner.permits).acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.inner.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.inner.options.connect().await?,
        };
        Ok(Lease {
            conn: Some(conn),
            home: Arc::clone(&self.inner),
            yielding: yielding.then(Instant::now),
            _permit: permit,
        })
    }

    /// A connection in a transaction begun with `BEGIN IMMEDIATE` (the write lock at once).
    /// A write transaction on a connection of this pool. Its `BEGIN IMMEDIATE` goes with its first
    /// statement ([`SqliteTx::next`]): the lease already keeps this process's other writers out.
    pub(crate) async fn begin_immediate(&self) -> Result<SqliteTx, sqlx::Error> {
        Ok(SqliteTx::on(self.acquire().await?))
    }

    /// [`Conns::begin_immediate`] on a connection taken by [`Conns::acquire_yielding`].
    pub(crate) async fn begin_immediate_yielding(&self) -> Result<SqliteTx, sqlx::Error> {
        Ok(SqliteTx::on(self.acquire_yielding().await?))
    }

    /// Refuses new users and closes the idle connections (one in use closes when its user drops it).
    pub(crate) async fn close(&self) {
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.idle());
        for conn in idle {
            // A connection that fails to close cleanly is gone all the same.
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

impl Inner {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn turns(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection in use; back among the idle ones when dropped (before its permit is released).
pub(crate) struct Lease {
    conn: Option<SqliteConnection>,
    home: Arc<Inner>,
    /// A user that yields: when it got the connection ([`Conns::acquire_yielding`]).
    yielding: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Lease {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let now = Instant::now();
        {
            let mut turns = self.home.turns();
            match self.yielding {
                Some(since) => {
                    let pause = (now - since).saturating_mul(YIELD_PAUSE);
                    turns.yielding_next = Some(now + pause.min(YIELD_PAUSE_MAX));
                }
                None => turns.others_at = Some(now),
            }
        }
        if let Some(conn) = self.conn.take()
            && !self.home.permits.is_closed()
        {
            self.home.idle().push(conn);
        }
    }
}

/// A transaction on a [`Lease`]. Dropped without [`SqliteTx::commit`] (or after a failed commit), it
/// rolls back before the connection serves anyone else: a task of its own runs the `ROLLBACK` and only
/// then gives the connection (and its permit) back. Without a runtime the connection is closed instead,
/// which rolls back too.
pub(crate) struct SqliteTx {
    lease: Option<Lease>,
    /// Whether `BEGIN IMMEDIATE` went out (with the transaction's first statement): only then is there
    /// anything to roll back.
    begun: bool,
    open: bool,
    /// Writes whose results nobody reads, sent in one text with the transaction's next statement or its
    /// `COMMIT` ([`SqliteTx::queue`]).
    queued: Vec<Sql>,
}

impl SqliteTx {
    fn on(lease: Lease) -> Self {
        SqliteTx {
            lease: Some(lease),
            begun: false,
            open: true,
            queued: Vec::new(),
        }
    }

    /// Queues a write whose result nobody reads (an audit entry, an event): it runs, in order, just before
    /// the transaction's next statement or its `COMMIT`, in the same round trip.
    pub(crate) fn queue(&mut self, sql: Sql) {
        self.queued.push(sql);
    }

    /// The connection and what to send for `sql`: `sql` after what must run before it — `BEGIN
    /// IMMEDIATE` on the transaction's first statement, then the queued writes — joined into one text
    /// ([`joined::join`]); `true` when something was put before `sql`.
    pub(crate) fn next(
        &mut self,
        sql: Sql,
    ) -> Result<(&mut SqliteConnection, Sql, bool), sqlx::Error> {
        let mut parts = Vec::new();
        if !self.begun {
            parts.push(Sql::new("BEGIN IMMEDIATE"));
            // Set before anything is sent: a caller cancelled from here on leaves a transaction that
            // may have begun, which the drop rolls back.
            self.begun = true;
        }
        parts.append(&mut self.queued);
        let before = !parts.is_empty();
        let sql = if before {
            parts.push(sql);
            joined::join(parts)?
        } else {
            sql
        };
        let conn = self
            .lease
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"));
        Ok((conn, sql, before))
    }

    /// Runs `sql` after what waits to go before it; the rows `sql` changed (not those of what went
    /// before it).
    pub(crate) async fn execute(&mut self, sql: Sql) -> Result<u64, sqlx::Error> {
        let (conn, mut sql, joined) = self.next(sql)?;
        let args = sql.sqlite_args()?;
        let query = sqlx::query_with(AssertSqlSafe(sql.text), args);
        if !joined {
            return Ok(query.execute(conn).await?.rows_affected());
        }
        // One result per statement, the caller's last.
        let mut steps = conn.fetch_many(query);
        let mut changed = 0;
        while let Some(step) = steps.try_next().await? {
            if let sqlx::Either::Left(done) = step {
                changed = done.rows_affected();
            }
        }
        Ok(changed)
    }

    /// Sends what waits to go before the next statement (`BEGIN IMMEDIATE`, queued writes), if anything
    /// does, and returns the connection: for statements that cannot carry it (scripts without values).
    pub(crate) async fn flush(&mut self) -> Result<&mut SqliteConnection, sqlx::Error> {
        if self.begun && self.queued.is_empty() {
            let conn = self
                .lease
                .as_deref_mut()
                .unwrap_or_else(|| unreachable!("taken only on drop"));
            return Ok(conn);
        }
        let mut parts = Vec::new();
        if !self.begun {
            parts.push(Sql::new("BEGIN IMMEDIATE"));
            self.begun = true;
        }
        parts.append(&mut self.queued);
        let mut sql = joined::join(parts)?;
        let args = sql.sqlite_args()?;
        let conn = self
            .lease
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"));
        sqlx::query_with(AssertSqlSafe(sql.text), args)
            .execute(&mut *conn)
            .await?;
        Ok(conn)
    }

    /// Commits: the queued writes and `COMMIT` in one round trip. A transaction that never sent or
    /// queued a statement has nothing to commit and sends nothing.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        if !self.begun && self.queued.is_empty() {
            self.open = false;
            return Ok(());
        }
        let (conn, mut sql, _) = self.next(Sql::new("COMMIT"))?;
        let args = sql.sqlite_args()?;
        sqlx::query_with(AssertSqlSafe(sql.text), args)
            .execute(conn)
            .await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.open || !self.begun {
            // Committed, or nothing was ever sent: the lease goes back as it is.
            return;
        }
        let Some(mut lease) = self.lease.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    match lease.execute("ROLLBACK").await {
                        Ok(_) => {}
                        // Its first statement failed before `BEGIN` took (the file was busy), or was
                        // cancelled before it was sent: there is nothing to roll back.
                        Err(error) if error.to_string().contains("no transaction is active") => {}
                        Err(error) => {
                            tracing::warn!(%error, "rolling back a dropped SQLite transaction failed; closing its connection");
                            lease.conn.take();
                        }
                    }
                });
            }
            Err(_) => {
                lease.conn.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn conns(dir: &tempfile::TempDir, size: usize) -> Conns {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let conns = Conns::connect(options, size, Duration::from_millis(200))
            .await
            .unwrap();
        let mut conn = conns.acquire().await.unwrap();
        conn.execute("CREATE TABLE t (n INTEGER)").await.unwrap();
        conns
    }

    impl SqliteTx {
        /// A statement without values, after whatever waits to go before it.
        async fn run(&mut self, text: &'static str) -> Result<u64, sqlx::Error> {
            self.execute(Sql::new(text)).await
        }

        /// The one value a statement without values reads, after whatever waits to go before it.
        async fn read(&mut self, text: &'static str) -> i64 {
            let (conn, mut sql, _) = self.next(Sql::new(text)).unwrap();
            let args = sql.sqlite_args().unwrap();
            let row = sqlx::query_with(AssertSqlSafe(sql.text), args)
                .fetch_one(conn)
                .await
                .unwrap();
            row.get(0)
        }
    }

    async fn count(conns: &Conns) -> i64 {
        let mut conn = conns.acquire().await.unwrap();
        let row = conn.fetch_one("SELECT COUNT(*) FROM t").await.unwrap();
        row.get(0)
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_next_one_begins() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.run("INSERT INTO t VALUES (1)").await.unwrap();
        drop(tx);
        // The next transaction gets the same connection only after the ROLLBACK: were it still in the
        // dropped transaction, BEGIN would fail and the row would be there to commit.
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.run("INSERT INTO t VALUES (2)").await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = conns.acquire().await.unwrap();
        let rows = conn.fetch_all("SELECT n FROM t").await.unwrap();
        let values: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
        assert_eq!(values, vec![2]);
    }

    #[tokio::test]
    async fn a_cancelled_statement_leaves_the_connection_usable() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        {
            let mut tx = conns.begin_immediate().await.unwrap();
            let insert = tx.run("INSERT INTO t VALUES (1)");
            // Polled once and dropped: the statement may or may not have run; the transaction rolls back.
            let _ = futures_poll_once(insert).await;
        }
        assert_eq!(count(&conns).await, 0);
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.run("INSERT INTO t VALUES (3)").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&conns).await, 1);
    }

    #[tokio::test]
    async fn queued_writes_go_with_the_next_statement_or_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.queue(Sql::new("INSERT INTO t VALUES ($1)").bind(5_i64));
        tx.queue(
            Sql::new("INSERT INTO t VALUES ($1), ($2)")
                .bind(6_i64)
                .bind(7_i64),
        );
        // The next statement sees them: they ran before it, in its transaction.
        assert_eq!(tx.read("SELECT SUM(n) FROM t").await, 18);
        tx.queue(Sql::new("INSERT INTO t VALUES ($1)").bind(8_i64));
        // Its changed rows are the statement's own, not the queued writes'.
        assert_eq!(
            tx.run("UPDATE t SET n = n + 1 WHERE n = 8").await.unwrap(),
            1
        );
        tx.queue(Sql::new("INSERT INTO t VALUES ($1)").bind(10_i64));
        tx.commit().await.unwrap();
        assert_eq!(count(&conns).await, 5);

        // Sent with a statement, then dropped: rolled back with it. Queued only: never sent.
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.queue(Sql::new("INSERT INTO t VALUES ($1)").bind(11_i64));
        assert_eq!(tx.read("SELECT COUNT(*) FROM t").await, 6);
        tx.queue(Sql::new("INSERT INTO t VALUES ($1)").bind(12_i64));
        drop(tx);
        assert_eq!(count(&conns).await, 5);
    }

    #[tokio::test]
    async fn a_transaction_that_sent_nothing_commits_and_drops_without_a_word() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        conns
            .begin_immediate()
            .await
            .unwrap()
            .commit()
            .await
            .unwrap();
        drop(conns.begin_immediate().await.unwrap());
        // The connection is in no transaction: a new one begins and commits.
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.run("INSERT INTO t VALUES (1)").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&conns).await, 1);
    }

    async fn futures_poll_once<F: std::future::Future>(future: F) -> Option<F::Output> {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match future.as_mut().poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }

    #[tokio::test]
    async fn no_more_than_size_connections_and_waiters_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 2).await;
        let first = conns.acquire().await.unwrap();
        let second = conns.acquire().await.unwrap();
        assert!(matches!(
            conns.acquire().await,
            Err(sqlx::Error::PoolTimedOut)
        ));
        drop(first);
        let third = conns.acquire().await.unwrap();
        drop((second, third));
        conns.close().await;
        assert!(matches!(
            conns.acquire().await,
            Err(sqlx::Error::PoolClosed)
        ));
    }

    /// Starts `name`'s turn at the pool: it takes a connection (yielding or not), tells `order`, and
    /// gives the connection back. Runs until it waits, so users start in the order of the calls.
    async fn start(
        conns: &Conns,
        name: &'static str,
        yielding: bool,
        order: &tokio::sync::mpsc::UnboundedSender<&'static str>,
    ) {
        let (conns, order) = (conns.clone(), order.clone());
        tokio::spawn(async move {
            let lease = if yielding {
                conns.acquire_yielding().await
            } else {
                conns.acquire().await
            };
            drop(lease.unwrap());
            order.send(name).unwrap();
        });
        tokio::task::yield_now().await;
    }

    async fn turns(
        order: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
    ) -> Vec<&'static str> {
        let mut names = Vec::new();
        for _ in 0..3 {
            names.push(order.recv().await.unwrap());
        }
        names
    }

    #[tokio::test]
    async fn a_yielding_user_lets_waiting_users_go_first_but_not_for_ever() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let (tell, mut order) = tokio::sync::mpsc::unbounded_channel();
        // From here no user opens a connection (the pool's one is idle): time moves only when every task
        // waits, so the yield's bound passes exactly when the test sleeps past it.
        tokio::time::pause();

        // A request waits; background work arrives, then another request: both requests go first.
        let held = conns.acquire().await.unwrap();
        start(&conns, "request 1", false, &tell).await;
        start(&conns, "background", true, &tell).await;
        start(&conns, "request 2", false, &tell).await;
        drop(held);
        assert_eq!(
            turns(&mut order).await,
            ["request 1", "request 2", "background"]
        );

        // Waiting longer than its bound, background work queues: a request after that goes after it.
        let held = conns.acquire().await.unwrap();
        start(&conns, "request 1", false, &tell).await;
        start(&conns, "background", true, &tell).await;
        tokio::time::sleep(YIELD_AT_MOST * 2).await;
        start(&conns, "request 2", false, &tell).await;
        drop(held);
        assert_eq!(
            turns(&mut order).await,
            ["request 1", "background", "request 2"]
        );
    }

    #[tokio::test]
    async fn while_the_others_are_busy_a_yielding_user_pauses_nine_times_its_last_turn() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        tokio::time::pause();
        let turn = conns.acquire_yielding().await.unwrap();
        let began = Instant::now();
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(turn);
        let ended = Instant::now();
        // A request wrote after that turn: the next turn starts nine times the last one's length after
        // it ended (a paused clock's sleeps end on the next millisecond).
        drop(conns.acquire().await.unwrap());
        drop(conns.acquire_yielding().await.unwrap());
        let pause = (ended - began) * 9;
        assert!(pause >= Duration::from_millis(90));
        assert!((pause..pause + Duration::from_millis(2)).contains(&ended.elapsed()));
        // No request for longer than BUSY_FOR: no pause (it would last until 450 ms after this turn).
        let turn = conns.acquire_yielding().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(turn);
        tokio::time::sleep(BUSY_FOR).await;
        let asked = Instant::now();
        drop(conns.acquire_yielding().await.unwrap());
        assert_eq!(asked.elapsed(), Duration::ZERO);
    }
}
