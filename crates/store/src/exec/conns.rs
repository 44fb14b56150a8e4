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

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Executor};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::sqlite_tx::Batch;
pub(crate) use super::sqlite_tx::SqliteTx;

/// At most `size` connections, opened when first needed and kept open until [`Conns::close`].
#[derive(Clone)]
pub(crate) struct Conns {
    inner: Arc<Inner>,
}

struct Inner {
    options: SqliteConnectOptions,
    /// Idle connections, each with the batch of finished transactions it holds open, if any
    /// ([`SqliteTx`]'s group commit).
    idle: Mutex<Vec<(SqliteConnection, Option<Arc<Batch>>)>>,
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
    /// How many users that do not yield wait for a connection.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::SeqCst)
    }

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
                idle: Mutex::new(vec![(first, None)]),
                permits: Arc::new(Semaphore::new(size)),
                acquire_timeout,
                waiting: AtomicUsize::new(0),
                none_waiting: Notify::new(),
                turns: Mutex::default(),
            }),
        })
    }

    /// A connection: an idle one, or a new one while fewer than `size` are open. Waiters are served in
    /// turn; after the acquire timeout `PoolTimedOut`, after [`Conns::close`] `PoolClosed`. It is in no
    /// transaction: a batch of finished write transactions it held open is committed first
    /// ([`Lease::settle`]).
    pub(crate) async fn acquire(&self) -> Result<Lease, sqlx::Error> {
        Lease::settle_apart(self.acquire_as_is().await?).await
    }

    /// [`Conns::acquire`] without settling: the connection may hold a batch open, which a write
    /// transaction joins ([`Conns::begin_immediate`]).
    pub(super) async fn acquire_as_is(&self) -> Result<Lease, sqlx::Error> {
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
        let mut acquire = std::pin::pin!(tokio::time::timeout(
            self.inner.acquire_timeout,
            Arc::clone(&self.inner.permits).acquire_owned(),
        ));
        // Polled once before a user that does not yield counts as waiting: whoever sees it waiting (a
        // transaction deciding whether to leave its batch open for it) sees it in the queue already.
        let first =
            std::future::poll_fn(|cx| std::task::Poll::Ready(acquire.as_mut().poll(cx))).await;
        let acquired = match first {
            std::task::Poll::Ready(acquired) => acquired,
            std::task::Poll::Pending => {
                let _waiting = (!yielding).then(|| Waiting::new(&self.inner));
                acquire.await
            }
        };
        let permit = acquired
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.inner.idle().pop();
        let (conn, batch) = match idle {
            Some(idle) => idle,
            None => (self.inner.options.connect().await?, None),
        };
        Ok(Lease {
            conn: Some(conn),
            batch,
            home: Arc::clone(&self.inner),
            yielding: yielding.then(Instant::now),
            _permit: permit,
        })
    }

    /// A connection in a transaction begun with `BEGIN IMMEDIATE` (the write lock at once).
    /// A write transaction on a connection of this pool. Its `BEGIN IMMEDIATE` goes with its first
    /// statement ([`SqliteTx::next`]): the lease already keeps this process's other writers out.
    pub(crate) async fn begin_immediate(&self) -> Result<SqliteTx, sqlx::Error> {
        Ok(SqliteTx::on(self.acquire_as_is().await?))
    }

    /// [`Conns::begin_immediate`] on a connection taken by [`Conns::acquire_yielding`].
    pub(crate) async fn begin_immediate_yielding(&self) -> Result<SqliteTx, sqlx::Error> {
        Ok(SqliteTx::on(self.acquire_yielding().await?))
    }

    /// Refuses new users and closes the idle connections (one in use closes when its user drops it).
    pub(crate) async fn close(&self) {
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.idle());
        for (conn, batch) in idle {
            if let Some(batch) = batch {
                batch.finish(&Err(sqlx::Error::PoolClosed));
            }
            // A connection that fails to close cleanly is gone all the same.
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

impl Inner {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(SqliteConnection, Option<Arc<Batch>>)>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn turns(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection in use; back among the idle ones when dropped (before its permit is released).
pub(crate) struct Lease {
    conn: Option<SqliteConnection>,
    /// Finished write transactions this connection holds open, to be committed together
    /// ([`SqliteTx`]'s group commit): whoever takes the connection joins them or commits them.
    pub(super) batch: Option<Arc<Batch>>,
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
        let batch = self.batch.take();
        match self.conn.take() {
            Some(conn) if !self.home.permits.is_closed() => self.home.idle().push((conn, batch)),
            // Closed (the pool, or a connection in an unknown state): its open batch is lost.
            _ => {
                if let Some(batch) = batch {
                    batch.finish(&Err(sqlx::Error::PoolClosed));
                }
            }
        }
    }
}

impl Lease {
    /// Commits the batch of finished write transactions this connection holds open, if any, and tells
    /// their users how it went. A failed commit is rolled back; a connection that cannot roll back is
    /// closed.
    pub(super) async fn settle(&mut self) -> Result<(), sqlx::Error> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let committed = self.execute("COMMIT").await.map(|_| ());
        if committed.is_err() && self.execute("ROLLBACK").await.is_err() {
            self.conn.take();
        }
        batch.finish(&committed);
        committed
    }

    /// [`Lease::settle`] on a task of its own, which a caller cancelled meanwhile (a request whose client
    /// went away) leaves to finish: cancelled during the `COMMIT`, the batch would be off the
    /// connection and never told, and its members would report lost writes that committed.
    pub(super) async fn settle_apart(mut lease: Lease) -> Result<Lease, sqlx::Error> {
        if lease.batch.is_none() {
            return Ok(lease);
        }
        match tokio::spawn(async move { lease.settle().await.map(|()| lease) }).await {
            Ok(settled) => settled,
            Err(error) => Err(sqlx::Error::Protocol(format!(
                "committing a batch of SQLite writes stopped: {error}"
            ))),
        }
    }

    /// Whether this connection was taken by a user that yields (background work).
    pub(super) fn is_yielding(&self) -> bool {
        self.yielding.is_some()
    }

    /// Whether users that do not yield wait for this pool's connections.
    pub(super) fn others_waiting(&self) -> bool {
        self.home.waiting.load(Ordering::SeqCst) > 0
    }

    /// The pool this connection came from.
    pub(super) fn pool(&self) -> Conns {
        Conns {
            inner: Arc::clone(&self.home),
        }
    }

    /// Closes the connection instead of giving it back (its state is unknown).
    pub(super) fn discard(&mut self) {
        self.conn.take();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::exec) async fn conns(dir: &tempfile::TempDir, size: usize) -> Conns {
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
