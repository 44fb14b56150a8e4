//! Work a transaction defers to just before its commit ([`BeforeCommit`]): the outbox numbers its events
//! there on PostgreSQL (`events`), so the organization's counter row is held for the commit only.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use super::{Conn, Db};

/// Work a transaction defers to just before its commit: the hook that does it and the items, in order.
pub(crate) type Deferred = Option<(&'static dyn BeforeCommit, Vec<Box<dyn Any + Send>>)>;

/// A future a [`BeforeCommit`] hook returns.
pub(crate) type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// What a transaction does last before it commits, on its connection, with the items deferred to it
/// ([`Conn::defer`]) — or earlier, when a statement of the transaction must see them
/// ([`Conn::run_deferred`]).
pub(crate) trait BeforeCommit: Send + Sync {
    fn run<'a>(&'a self, conn: Conn<'a>, items: Vec<Box<dyn Any + Send>>) -> HookFuture<'a>;
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
        let Some(cell) = self.deferred else {
            return Ok(());
        };
        let taken = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some((hook, items)) = taken else {
            return Ok(());
        };
        let db = match &mut self.db {
            Db::Postgres(conn) => Db::Postgres(conn),
            Db::PgTx(tx) => Db::PgTx(tx),
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
        )
        .await
    }
}
