//! SQLite's write transactions, and their group commit.
//!
//! SQLite has one writer, so write transactions run one after the other on one connection. Committing
//! each on its own costs a `COMMIT` per transaction: a WAL frame for every page it changed (the same last
//! page of `events`, `audit_log` and the counters again and again) and an `fsync`. When other writers
//! wait, a transaction that is done does not commit: it leaves its writes in the connection's open
//! transaction — a *batch* — and hands the connection to the next writer, which joins the batch behind a
//! `SAVEPOINT` of its own. The batch commits once, when a writer finishes and nobody waits, when it is
//! [`BATCH_MAX`] long, or when its first member's turn at the pool comes again: every member that handed
//! the connection on queues for it once more, and the first to get it commits what is open
//! ([`Lease::settle`]). Each member's `commit` returns only when the batch's `COMMIT` did, with its
//! outcome: a write that returned is on disk, and one that failed left nothing.
//!
//! A member that fails rolls back to its savepoint and the batch goes on without it; a failure that
//! ends the transaction itself (a failed `COMMIT`, an I/O error) fails every member of the batch. A
//! writer alone commits at once, as before: nobody waits; so does background work (a
//! connection taken yielding: the deliveries' bookkeeping), which no request's answer waits for.

use std::sync::{Arc, OnceLock};

use futures_util::TryStreamExt;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Executor};
use tokio::sync::Notify;

use super::conns::{Conns, Lease};
use super::{Sql, joined};

/// The most transactions one batch holds: past it, a finished member commits even when others wait,
/// which bounds how long the first one's answer waits.
pub(super) const BATCH_MAX: usize = 64;

/// Write transactions that finished and wait, in the connection's open transaction, for one `COMMIT`.
pub(crate) struct Batch {
    members: std::sync::atomic::AtomicUsize,
    /// What its members' writes made stale in this node's caches ([`super::Conn::mark`]): a member
    /// that joins reads none of that from the caches, since they learn of it only after the commit.
    marks: std::sync::atomic::AtomicU8,
    outcome: OnceLock<Result<(), String>>,
    done: Notify,
}

impl Batch {
    fn new() -> Arc<Self> {
        Arc::new(Batch {
            members: std::sync::atomic::AtomicUsize::new(0),
            marks: std::sync::atomic::AtomicU8::new(0),
            outcome: OnceLock::new(),
            done: Notify::new(),
        })
    }

    fn members(&self) -> usize {
        self.members.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Tells the members how the batch's `COMMIT` went (the first outcome told stands).
    pub(super) fn finish(&self, outcome: &Result<(), sqlx::Error>) {
        let _ = self
            .outcome
            .set(outcome.as_ref().map(|_| ()).map_err(ToString::to_string));
        self.done.notify_waiters();
    }

    fn outcome(&self) -> Option<Result<(), sqlx::Error>> {
        self.outcome.get().map(|outcome| {
            outcome.clone().map_err(|error| {
                sqlx::Error::Protocol(format!(
                    "the transaction this write was committed with failed: {error}"
                ))
            })
        })
    }

    /// Waits for the batch's outcome, queued at `pool` meanwhile: whoever gets the connection first
    /// with the batch still open commits it, so a batch never waits for a writer that does not come.
    async fn wait(self: Arc<Self>, pool: Conns) -> Result<(), sqlx::Error> {
        let guard = Stranded {
            batch: Some(Arc::clone(&self)),
            pool: pool.clone(),
        };
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if let Some(outcome) = self.outcome() {
                guard.defuse();
                return outcome;
            }
            tokio::select! {
                () = &mut done => {}
                lease = pool.acquire_as_is() => match lease {
                    // Committing what is open commits this batch: it stays open until it commits.
                    Ok(lease) => {
                        let settled = Lease::settle_apart(lease).await.map(drop);
                        if self.outcome().is_none() {
                            // Not open on the connection, and never told: it was lost with a
                            // connection that closed. Nothing of it committed.
                            guard.defuse();
                            settled?;
                            return Err(sqlx::Error::Protocol(
                                "the transaction this write was to be committed with was lost".into(),
                            ));
                        }
                    }
                    Err(sqlx::Error::PoolTimedOut) => {}
                    Err(error) => {
                        guard.defuse();
                        return Err(error);
                    }
                },
            }
        }
    }
}

/// A member's wait, cancelled before the batch committed: a task of its own takes the connection and
/// commits what is open, so the others' answers do not wait for the next writer.
struct Stranded {
    batch: Option<Arc<Batch>>,
    pool: Conns,
}

impl Stranded {
    fn defuse(mut self) {
        self.batch = None;
    }
}

impl Drop for Stranded {
    fn drop(&mut self) {
        let Some(batch) = self.batch.take() else {
            return;
        };
        if batch.outcome.get().is_some() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pool = self.pool.clone();
            runtime.spawn(async move {
                if batch.outcome.get().is_none()
                    && let Err(error) = pool.acquire().await
                {
                    tracing::warn!(%error, "committing a batch of SQLite writes failed");
                }
            });
        }
    }
}

/// A transaction on a [`Lease`]. Dropped without [`SqliteTx::commit`] (or after a failed commit), it
/// rolls back before the connection serves anyone else: a task of its own runs the `ROLLBACK` (a member
/// of a batch: to its savepoint) and only then gives the connection (and its permit) back. Without a
/// runtime the connection is closed instead, which rolls back too.
pub(crate) struct SqliteTx {
    lease: Option<Lease>,
    /// Whether `BEGIN IMMEDIATE` (a member of a batch: its `SAVEPOINT`) went out with the transaction's
    /// first statement: only then is there anything to roll back.
    begun: bool,
    open: bool,
    /// Whether it joined a batch its connection held open: it begins with a savepoint, not `BEGIN`.
    joined: bool,
    /// Writes whose results nobody reads, sent in one text with the transaction's next statement or its
    /// `COMMIT` ([`SqliteTx::queue`]).
    queued: Vec<Sql>,
}

impl SqliteTx {
    pub(super) fn on(lease: Lease) -> Self {
        SqliteTx {
            joined: lease.batch.is_some(),
            lease: Some(lease),
            begun: false,
            open: true,
            queued: Vec::new(),
        }
    }

    /// The marks of the batch it joined: its own start with them ([`super::Tx`]).
    pub(crate) fn inherited_marks(&self) -> u8 {
        self.lease
            .as_ref()
            .and_then(|lease| lease.batch.as_ref())
            .map_or(0, |batch| {
                batch.marks.load(std::sync::atomic::Ordering::SeqCst)
            })
    }

    fn lease(&mut self) -> &mut Lease {
        self.lease
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }

    /// What begins the transaction: `BEGIN IMMEDIATE`, or a member's savepoint in an open batch.
    fn begin(&self) -> Sql {
        if self.joined {
            Sql::new("SAVEPOINT tenon_member")
        } else {
            Sql::new("BEGIN IMMEDIATE")
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
            parts.push(self.begin());
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
        Ok((&mut **self.lease(), sql, before))
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
        if !(self.begun && self.queued.is_empty()) {
            let mut parts = Vec::new();
            if !self.begun {
                parts.push(self.begin());
                self.begun = true;
            }
            parts.append(&mut self.queued);
            let mut sql = joined::join(parts)?;
            let args = sql.sqlite_args()?;
            sqlx::query_with(AssertSqlSafe(sql.text), args)
                .execute(&mut **self.lease())
                .await?;
        }
        Ok(&mut **self.lease())
    }

    /// Commits: the queued writes and `COMMIT` in one round trip — or, while other writers wait, the
    /// queued writes alone, leaving this transaction's writes to the batch's one `COMMIT` (see the
    /// module's documentation), whose outcome it returns. A transaction that never sent or queued a
    /// statement has nothing to commit and sends nothing. `marks`: what its writes made stale in this
    /// node's caches, handed to the members that join the batch after it.
    pub(crate) async fn commit(mut self, marks: u8) -> Result<(), sqlx::Error> {
        if !self.begun && self.queued.is_empty() {
            self.open = false;
            return Ok(());
        }
        if self.joined {
            self.queued.push(Sql::new("RELEASE tenon_member"));
        }
        let lease = self.lease();
        let members = lease.batch.as_ref().map_or(0, |batch| batch.members());
        // Background work (a lease taken yielding) commits at once: its bookkeeping must not make a
        // request's answer wait for it, nor a request wait to commit what it began.
        if !lease.is_yielding() && lease.others_waiting() && members + 1 < BATCH_MAX {
            self.flush().await?;
            self.open = false;
            let mut lease = self
                .lease
                .take()
                .unwrap_or_else(|| unreachable!("taken only here and on drop"));
            let batch = Arc::clone(lease.batch.get_or_insert_with(Batch::new));
            batch
                .members
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            batch
                .marks
                .fetch_or(marks, std::sync::atomic::Ordering::SeqCst);
            let pool = lease.pool();
            // Back among the idle connections with the batch open: the next writer joins it.
            drop(lease);
            return batch.wait(pool).await;
        }
        let (conn, mut sql, _) = self.next(Sql::new("COMMIT"))?;
        let args = sql.sqlite_args()?;
        sqlx::query_with(AssertSqlSafe(sql.text), args)
            .execute(conn)
            .await?;
        self.open = false;
        if let Some(batch) = self.lease().batch.take() {
            batch.finish(&Ok(()));
        }
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
        let member = self.joined;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    // A member of a batch takes back its own writes, and the batch goes on. When its
                    // savepoint is gone (its `COMMIT` failed after the `RELEASE`, or SQLite ended the
                    // transaction), the whole transaction rolls back and the batch fails.
                    if member
                        && lease
                            .execute("ROLLBACK TO tenon_member; RELEASE tenon_member")
                            .await
                            .is_ok()
                    {
                        return;
                    }
                    let batch = lease.batch.take();
                    match lease.execute("ROLLBACK").await {
                        Ok(_) => {}
                        // Its first statement failed before `BEGIN` took (the file was busy), or was
                        // cancelled before it was sent: there is nothing to roll back.
                        Err(error) if error.to_string().contains("no transaction is active") => {}
                        Err(error) => {
                            tracing::warn!(%error, "rolling back a dropped SQLite transaction failed; closing its connection");
                            lease.discard();
                        }
                    }
                    if let Some(batch) = batch {
                        batch.finish(&Err(sqlx::Error::Protocol(
                            "a write of its batch ended the transaction".into(),
                        )));
                    }
                });
            }
            Err(_) => {
                lease.discard();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::conns::tests::conns;
    use sqlx::Row;

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
        tx.commit(0).await.unwrap();
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
        tx.commit(0).await.unwrap();
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
        tx.commit(0).await.unwrap();
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
            .commit(0)
            .await
            .unwrap();
        drop(conns.begin_immediate().await.unwrap());
        // The connection is in no transaction: a new one begins and commits.
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.run("INSERT INTO t VALUES (1)").await.unwrap();
        tx.commit(0).await.unwrap();
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

    /// A reader of its own on the test's file: what is committed, whoever holds the writer.
    async fn committed(dir: &tempfile::TempDir, table: &str) -> Vec<i64> {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .read_only(true);
        let readers = Conns::connect(options, 1, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        let mut conn = readers.acquire().await.unwrap();
        let sql = format!("SELECT n FROM {table} ORDER BY n");
        let rows = conn.fetch_all(AssertSqlSafe(sql)).await.unwrap();
        rows.iter().map(|row| row.get(0)).collect()
    }

    /// Starts writers that each insert `n` into `table` and commit, and returns once all of them wait
    /// for the writer; each tells its commit's outcome.
    async fn waiting_writers(
        conns: &Conns,
        table: &'static str,
        values: &[i64],
    ) -> Vec<tokio::task::JoinHandle<Result<(), sqlx::Error>>> {
        let before = conns.waiting();
        let writers: Vec<_> = values
            .iter()
            .map(|&n| {
                let conns = conns.clone();
                tokio::spawn(async move {
                    let mut tx = conns.begin_immediate().await?;
                    tx.execute(Sql::new(format!("INSERT INTO {table} VALUES ($1)").leak()).bind(n))
                        .await?;
                    tx.commit(0).await
                })
            })
            .collect();
        while conns.waiting() < before + values.len() {
            tokio::task::yield_now().await;
        }
        writers
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_that_wait_commit_in_one_batch_and_each_answers_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut first = conns.begin_immediate().await.unwrap();
        first.run("INSERT INTO t VALUES (1)").await.unwrap();
        let writers = waiting_writers(&conns, "t", &[2, 3, 4]).await;
        // Others wait: the first hands the writer on and answers when the batch with them commits.
        first.commit(0).await.unwrap();
        assert_eq!(committed(&dir, "t").await, [1, 2, 3, 4]);
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        // Alone, a writer commits at once.
        let mut alone = conns.begin_immediate().await.unwrap();
        alone.run("INSERT INTO t VALUES (5)").await.unwrap();
        alone.commit(0).await.unwrap();
        assert_eq!(committed(&dir, "t").await, [1, 2, 3, 4, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_starts_with_what_the_batch_made_stale_in_the_caches() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut first = conns.begin_immediate().await.unwrap();
        assert_eq!(first.inherited_marks(), 0);
        first.run("INSERT INTO t VALUES (1)").await.unwrap();
        let before = conns.waiting();
        let joining = {
            let pool = conns.clone();
            tokio::spawn(async move {
                let mut tx = pool.begin_immediate().await.unwrap();
                let inherited = tx.inherited_marks();
                tx.run("INSERT INTO t VALUES (2)").await.unwrap();
                tx.commit(inherited).await.unwrap();
                inherited
            })
        };
        while conns.waiting() == before {
            tokio::task::yield_now().await;
        }
        // The first's writes changed what marks 2 and 4 name; the next member must not trust those caches.
        first.commit(2 | 4).await.unwrap();
        assert_eq!(joining.await.unwrap(), 2 | 4);
        assert_eq!(committed(&dir, "t").await, [1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_work_commits_at_once_even_when_writers_wait() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut background = conns.begin_immediate_yielding().await.unwrap();
        background.run("INSERT INTO t VALUES (1)").await.unwrap();
        // A writer that, once it has the connection, writes only when told to.
        let (go, told) = tokio::sync::oneshot::channel::<()>();
        let writer = {
            let before = conns.waiting();
            let pool = conns.clone();
            let task = tokio::spawn(async move {
                let mut tx = pool.begin_immediate().await?;
                told.await.ok();
                tx.execute(Sql::new("INSERT INTO t VALUES (2)")).await?;
                tx.commit(0).await
            });
            while conns.waiting() == before {
                tokio::task::yield_now().await;
            }
            task
        };
        // Committed on its own, at once: had it left a batch open for the waiting writer, its answer
        // would wait for that writer's commit, which waits to be told.
        tokio::time::timeout(std::time::Duration::from_secs(10), background.commit(0))
            .await
            .expect("background work answers without waiting for the writer")
            .unwrap();
        assert_eq!(committed(&dir, "t").await, [1]);
        go.send(()).unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(committed(&dir, "t").await, [1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_that_fails_leaves_the_batch_to_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut first = conns.begin_immediate().await.unwrap();
        first.run("INSERT INTO t VALUES (1)").await.unwrap();
        let failing = {
            let pool = conns.clone();
            let before = conns.waiting();
            let task = tokio::spawn(async move {
                let mut tx = pool.begin_immediate().await.unwrap();
                tx.run("INSERT INTO t VALUES (20)").await.unwrap();
                // A statement that fails, and the transaction dropped without a commit.
                tx.run("INSERT INTO nowhere VALUES (21)").await.unwrap_err();
            });
            while conns.waiting() == before {
                tokio::task::yield_now().await;
            }
            task
        };
        let writers = waiting_writers(&conns, "t", &[3]).await;
        first.commit(0).await.unwrap();
        failing.await.unwrap();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        assert_eq!(committed(&dir, "t").await, [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_commit_fails_fails_every_member_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        conns
            .acquire()
            .await
            .unwrap()
            .execute(
                "CREATE TABLE p (n INTEGER PRIMARY KEY); \
                 CREATE TABLE c (n INTEGER REFERENCES p (n) DEFERRABLE INITIALLY DEFERRED)",
            )
            .await
            .unwrap();
        let mut first = conns.begin_immediate().await.unwrap();
        first.run("INSERT INTO p VALUES (1)").await.unwrap();
        first.run("INSERT INTO c VALUES (1)").await.unwrap();
        // 7 names no row of p: checked at the batch's COMMIT, which fails.
        let writers = waiting_writers(&conns, "c", &[7, 1]).await;
        first.commit(0).await.unwrap_err();
        for writer in writers {
            writer.await.unwrap().unwrap_err();
        }
        assert!(committed(&dir, "c").await.is_empty());
        assert!(committed(&dir, "p").await.is_empty());
        // The writer is usable again.
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.run("INSERT INTO t VALUES (9)").await.unwrap();
        tx.commit(0).await.unwrap();
        assert_eq!(committed(&dir, "t").await, [9]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_members_stop_waiting_is_committed_all_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let conns = conns(&dir, 1).await;
        let mut first = conns.begin_immediate().await.unwrap();
        first.run("INSERT INTO t VALUES (1)").await.unwrap();
        let writers = waiting_writers(&conns, "t", &[2]).await;
        // The first hands the writer on, then its caller gives up waiting for the batch.
        let _ = tokio::time::timeout(std::time::Duration::ZERO, first.commit(0)).await;
        writers.into_iter().next().unwrap().await.unwrap().unwrap();
        assert_eq!(committed(&dir, "t").await, [1, 2]);
    }
}
