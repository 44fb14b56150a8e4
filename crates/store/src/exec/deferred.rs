//! Work a transaction defers to just before its commit ([`BeforeCommit`]): the outbox queues its events
//! there on PostgreSQL (`events`), and hands back work that numbers them after the commit
//! ([`AfterCommitWork`]), so no writer holds the organization's counter row through its commit.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use super::{Conn, Db};

/// Work a transaction defers to just before its commit: the hook that does it and the items, in order.
pub(crate) type Deferred = Option<(&'static dyn BeforeCommit, Vec<Box<dyn Any + Send>>)>;

/// Work a [`BeforeCommit`] hook hands back to run after the commit, on a task of its own (so a caller
/// that goes away after the commit does not cancel it), before [`super::Tx::commit`] returns.
pub(crate) type AfterCommitWork = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A future a [`BeforeCommit`] hook returns.
pub(crate) type HookFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<AfterCommitWork>, sqlx::Error>> + Send + 'a>>;

/// What a transaction does last before it commits, on its connection, with the items deferred to it
/// ([`Conn::defer`]) — or earlier, when a statement of the transaction must see them
/// ([`Conn::run_deferred`]). `at_commit` says which: only then may it hand back [`AfterCommitWork`].
pub(crate) trait BeforeCommit: Send + Sync {
    fn run<'a>(
        &'a self,
        conn: Conn<'a>,
        items: Vec<Box<dyn Any + Send>>,
        at_commit: bool,
    ) -> HookFuture<'a>;
}

impl Conn<'_> {
    /// Defers `item` to `hook`, which runs with every item deferred so far just before the transaction
    /// commits (or at [`Conn::run_deferred`]). Gives `item` back outside a transaction: the caller does
    /// the work at once. One hook per transaction.
    pub(crate) fn defer(
        &self,
        hook: &'static dyn BeforeCommit,
        item: Box<dyn Any + Send>,
    ) -> Result<(), Box<dyn Any + Send>> {
        let Some(cell) = self.deferred else {
            return Err(item);
        };
        let mut deferred = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        deferred
            .get_or_insert_with(|| (hook, Vec::new()))
            .1
            .push(item);
        Ok(())
    }

    /// Does the transaction's deferred work now, on this connection (a statement that follows must see
    /// it). Nothing to do outside a transaction or when nothing was deferred.
    pub(crate) async fn run_deferred(&mut self) -> Result<(), sqlx::Error> {
        self.run_deferred_as(false).await.map(drop)
    }

    /// [`Conn::run_deferred`] just before the commit: gives back what the hook leaves for after it.
    pub(crate) async fn run_deferred_at_commit(
        &mut self,
    ) -> Result<Option<AfterCommitWork>, sqlx::Error> {
        self.run_deferred_as(true).await
    }

    async fn run_deferred_as(
        &mut self,
        at_commit: bool,
    ) -> Result<Option<AfterCommitWork>, sqlx::Error> {
        let Some(cell) = self.deferred else {
            return Ok(None);
        };
        let taken = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some((hook, items)) = taken else {
            return Ok(None);
        };
        let db = match &mut self.db {
            Db::Postgres(conn) => Db::Postgres(conn),
            Db::Sqlite(conn) => Db::Sqlite(conn),
            Db::SqliteTx(tx) => Db::SqliteTx(tx),
            Db::Direct(conn) => Db::Direct(conn),
        };
        hook.run(
            Conn {
                db,
                marks: self.marks,
                deferred: None,
            },
            items,
            at_commit,
        )
        .await
    }
}
