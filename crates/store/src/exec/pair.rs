//! Two or three reads in one round trip on SQLite.
//!
//! A statement on SQLite is a round trip to the connection's thread (docs/benchmarks.md); two reads a
//! caller needs together (an approval's instance and its tasks) go in one text ([`joined::join`]), and
//! each statement's rows are decoded as its own type. sqlx's driver ends every statement of a text with a
//! result of its own, so the rows are told apart by the results between them. PostgreSQL runs the two
//! one after the other.

use futures_util::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Either, Executor, FromRow};

use super::{Conn, Db, FromAnyRow, Sql, count_statement, joined};

impl Conn<'_> {
    /// The rows of `first` and of `second`, read in this order — on SQLite in one round trip (in a write
    /// transaction, after what waits to go before its next statement).
    pub(crate) async fn fetch_all_pair<A: FromAnyRow, B: FromAnyRow>(
        &mut self,
        first: Sql,
        second: Sql,
    ) -> Result<(Vec<A>, Vec<B>), sqlx::Error> {
        if matches!(self.db, Db::Postgres(_) | Db::PgTx(_) | Db::Direct(_)) {
            let first = self.fetch_all(first).await?;
            let second = self.fetch_all(second).await?;
            return Ok((first, second));
        }
        let [first, second] = self.sqlite_groups([first, second]).await?;
        Ok((decode(&first)?, decode(&second)?))
    }

    /// [`Conn::fetch_all_pair`] with a third read.
    pub(crate) async fn fetch_all_triple<A: FromAnyRow, B: FromAnyRow, C: FromAnyRow>(
        &mut self,
        first: Sql,
        second: Sql,
        third: Sql,
    ) -> Result<(Vec<A>, Vec<B>, Vec<C>), sqlx::Error> {
        if matches!(self.db, Db::Postgres(_) | Db::PgTx(_) | Db::Direct(_)) {
            let first = self.fetch_all(first).await?;
            let second = self.fetch_all(second).await?;
            let third = self.fetch_all(third).await?;
            return Ok((first, second, third));
        }
        let [first, second, third] = self.sqlite_groups([first, second, third]).await?;
        Ok((decode(&first)?, decode(&second)?, decode(&third)?))
    }

    /// SQLite: the rows of each of `reads`, run in one text in this order.
    async fn sqlite_groups<const N: usize>(
        &mut self,
        reads: [Sql; N],
    ) -> Result<[Vec<SqliteRow>; N], sqlx::Error> {
        count_statement();
        let text = joined::join(reads.into())?;
        let (conn, mut sql, _) = self.db.sqlite(text)?;
        let args = sql.sqlite_args()?;
        let query = sqlx::query_with(AssertSqlSafe(sql.text), args);
        // The rows of each statement of the text, in order: a statement's result closes its group.
        let mut groups: Vec<Vec<SqliteRow>> = vec![Vec::new()];
        let mut steps = conn.fetch_many(query);
        while let Some(step) = steps.try_next().await? {
            match step {
                Either::Left(_) => groups.push(Vec::new()),
                Either::Right(row) => {
                    if let Some(group) = groups.last_mut() {
                        group.push(row);
                    }
                }
            }
        }
        drop(steps);
        // The group after the last result is empty; the N before it are the reads' (what went before
        // them — `BEGIN IMMEDIATE`, queued writes — returns no rows).
        groups.pop();
        let reads = groups
            .len()
            .checked_sub(N)
            .map(|skip| groups.split_off(skip));
        reads
            .and_then(|reads| <[Vec<SqliteRow>; N]>::try_from(reads).ok())
            .ok_or_else(|| sqlx::Error::Protocol("reads ran without a result for each".into()))
    }
}

fn decode<T: FromAnyRow>(rows: &[SqliteRow]) -> Result<Vec<T>, sqlx::Error> {
    rows.iter()
        .map(<T as FromRow<SqliteRow>>::from_row)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::sqlite::SqliteConnectOptions;

    use crate::exec::conns::Conns;
    use crate::exec::{Conn, Db, Sql};

    #[tokio::test]
    async fn each_read_of_a_pair_gets_its_own_rows_after_the_queued_writes() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true);
        let conns = Conns::connect(options, 1, Duration::from_secs(5))
            .await
            .unwrap();
        let mut tx = conns.begin_immediate().await.unwrap();
        tx.queue(Sql::new("CREATE TABLE t (n INTEGER, s TEXT)"));
        tx.queue(
            Sql::new("INSERT INTO t VALUES ($1, $2), ($3, $4)")
                .bind(1_i64)
                .bind("a")
                .bind(2_i64)
                .bind("b"),
        );
        let mut conn = Conn {
            db: Db::SqliteTx(&mut tx),
            marks: None,
            deferred: None,
        };
        // BEGIN, the two queued writes and the pair in one text: each statement's rows, its own values.
        let (first, second): (Vec<(i64, String)>, Vec<(i64,)>) = conn
            .fetch_all_pair(
                Sql::new("SELECT n, s FROM t WHERE n >= $1 ORDER BY n").bind(1_i64),
                Sql::new("SELECT n * $1 FROM t WHERE s = $2")
                    .bind(10_i64)
                    .bind("b"),
            )
            .await
            .unwrap();
        assert_eq!(first, [(1, "a".to_owned()), (2, "b".to_owned())]);
        assert_eq!(second, [(20,)]);
        // A read without rows keeps its place: the rows after it are the second read's.
        let (first, second): (Vec<(i64,)>, Vec<(i64,)>) = conn
            .fetch_all_pair(
                Sql::new("SELECT n FROM t WHERE n > $1").bind(5_i64),
                Sql::new("SELECT n FROM t WHERE n = $1").bind(1_i64),
            )
            .await
            .unwrap();
        assert!(first.is_empty(), "{first:?}");
        assert_eq!(second, [(1,)]);
        let (first, second): (Vec<(i64,)>, Vec<(i64,)>) = conn
            .fetch_all_pair(
                Sql::new("SELECT n FROM t WHERE n = $1").bind(2_i64),
                Sql::new("SELECT n FROM t WHERE n > $1").bind(5_i64),
            )
            .await
            .unwrap();
        assert_eq!(first, [(2,)]);
        assert!(second.is_empty(), "{second:?}");
        let (first, second, third) = conn
            .fetch_all_triple::<(i64,), (i64,), (String,)>(
                Sql::new("SELECT n FROM t WHERE n = $1").bind(1_i64),
                Sql::new("SELECT n FROM t WHERE n > $1").bind(5_i64),
                Sql::new("SELECT s FROM t WHERE n >= $1 ORDER BY n").bind(1_i64),
            )
            .await
            .unwrap();
        assert_eq!(first, [(1,)]);
        assert!(second.is_empty(), "{second:?}");
        assert_eq!(third, [("a".to_owned(),), ("b".to_owned(),)]);
        tx.commit(0).await.unwrap();
    }
}
