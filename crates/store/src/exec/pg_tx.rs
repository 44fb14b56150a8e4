//! PostgreSQL transactions whose writes nobody reads go in fewer statements.
//!
//! Every statement is a round trip to the server and a command its backend parses, plans and runs; on a
//! machine whose cores the server and PostgreSQL share, that is most of an approval action's cost
//! (docs/benchmarks.md). The writes whose results nobody reads ([`super::Conn::execute_unobserved`]:
//! audit entries, an approval's tasks and operation records) wait in the transaction and go as
//! data-modifying `WITH` queries of one statement, just before the next statement that needs them, or
//! inside a statement that does not read them ([`super::Conn::execute_with_queued`]: the events), or
//! before `COMMIT`.
//!
//! The queries of one statement all see the database as it was before the statement, not each other's
//! changes, so a group is joined only where that is the same as one after the other: a write marked
//! [`Sql::new_rows`] only inserts rows it names and reads no table; any other write begins a group of its
//! own, which the new-rows writes queued after it join (it cannot see them: it ran before them). Triggers
//! and constraint checks run as they do for separate statements. A statement holds at most
//! [`MAX_VALUES`] values.

use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use crate::exec::{Sql, count_statement, joined, pg_execute};

/// Values one joined statement may bind (PostgreSQL's protocol allows 65,535).
const MAX_VALUES: usize = 32_767;

/// A PostgreSQL transaction and the writes that wait in it.
pub(crate) struct PgTx {
    tx: Transaction<'static, Postgres>,
    queued: Vec<Sql>,
}

impl PgTx {
    pub(crate) fn new(tx: Transaction<'static, Postgres>) -> Self {
        PgTx {
            tx,
            queued: Vec::new(),
        }
    }

    /// Queues a write whose result nobody reads: it runs before the transaction's next statement, in as
    /// few statements as the module's rules allow. Its errors surface there.
    pub(crate) fn queue(&mut self, sql: Sql) {
        self.queued.push(sql);
    }

    /// Sends what is queued and returns the connection, for a statement that may read it.
    pub(crate) async fn ready(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        let queued = std::mem::take(&mut self.queued);
        for statement in groups(queued)? {
            run(&mut self.tx, statement).await?;
        }
        Ok(&mut self.tx)
    }

    /// `sql`, which reads no table the queued writes change, with the last group of them in it; the
    /// groups before it are sent first. Returns the connection and what to run.
    pub(crate) async fn with_queued(
        &mut self,
        sql: Sql,
    ) -> Result<(&mut PgConnection, Sql), sqlx::Error> {
        let mut queued = std::mem::take(&mut self.queued);
        let last = last_group_start(&queued);
        let tail = queued.split_off(last);
        for statement in groups(queued)? {
            run(&mut self.tx, statement).await?;
        }
        let fits = tail
            .iter()
            .all(|write| !joined::starts_with_with(&write.text))
            && tail.iter().map(|write| write.args.len()).sum::<usize>() + sql.args.len()
                <= MAX_VALUES;
        let sql = if tail.is_empty() {
            sql
        } else if fits {
            joined::merge_postgres(tail, sql)?
        } else {
            for statement in groups(tail)? {
                run(&mut self.tx, statement).await?;
            }
            sql
        };
        Ok((&mut self.tx, sql))
    }

    /// Sends what is queued, then `COMMIT`.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.ready().await?;
        self.tx.commit().await
    }
}

/// Where the last group of `queued` begins: at its last write that is not [`Sql::new_rows`], or at 0.
fn last_group_start(queued: &[Sql]) -> usize {
    queued
        .iter()
        .rposition(|write| !write.new_rows)
        .unwrap_or(0)
}

/// The statements that run `queued` by the module's rules, in order.
fn groups(queued: Vec<Sql>) -> Result<Vec<Sql>, sqlx::Error> {
    let mut statements = Vec::new();
    let mut group: Vec<Sql> = Vec::new();
    let mut values = 0;
    for write in queued {
        let alone = joined::starts_with_with(&write.text);
        let starts_group = !write.new_rows || alone || values + write.args.len() > MAX_VALUES;
        if starts_group && !group.is_empty() {
            statements.push(joined_group(std::mem::take(&mut group))?);
            values = 0;
        }
        values += write.args.len();
        group.push(write);
        if alone {
            statements.push(joined_group(std::mem::take(&mut group))?);
            values = 0;
        }
    }
    if !group.is_empty() {
        statements.push(joined_group(group)?);
    }
    Ok(statements)
}

/// One statement for a group: its first write (the only one that may read) with the others in it.
fn joined_group(mut group: Vec<Sql>) -> Result<Sql, sqlx::Error> {
    let first = group.remove(0);
    if group.is_empty() {
        return Ok(first);
    }
    joined::merge_postgres(group, first)
}

async fn run(conn: &mut PgConnection, sql: Sql) -> Result<(), sqlx::Error> {
    count_statement();
    pg_execute(conn, sql).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &'static str, new_rows: bool) -> Sql {
        let sql = Sql::new(text).bind(1_i64);
        if new_rows { sql.new_rows() } else { sql }
    }

    #[test]
    fn new_rows_join_the_write_before_them_and_any_other_write_begins_a_group() {
        let statements = groups(vec![
            write("INSERT INTO a VALUES ($1)", true),
            write("INSERT INTO b VALUES ($1)", true),
            write("UPDATE c SET n = $1", false),
            write("INSERT INTO d VALUES ($1)", true),
            write("DELETE FROM e WHERE n = $1", false),
            write("WITH x AS (SELECT 1) INSERT INTO f SELECT $1 FROM x", true),
            write("INSERT INTO g VALUES ($1)", true),
        ])
        .unwrap();
        let texts: Vec<&str> = statements.iter().map(Sql::text).collect();
        assert_eq!(
            texts,
            [
                "WITH queued_0 AS (INSERT INTO b VALUES ($1)) INSERT INTO a VALUES ($2)",
                "WITH queued_0 AS (INSERT INTO d VALUES ($1)) UPDATE c SET n = $2",
                "DELETE FROM e WHERE n = $1",
                "WITH x AS (SELECT 1) INSERT INTO f SELECT $1 FROM x",
                "INSERT INTO g VALUES ($1)",
            ]
        );
        assert_eq!(statements[0].args.len(), 2);
    }

    #[test]
    fn a_statement_that_reads_none_of_them_takes_the_last_group() {
        let queued = vec![
            write("UPDATE c SET n = $1", false),
            write("INSERT INTO d VALUES ($1)", true),
            write("INSERT INTO e VALUES ($1)", true),
        ];
        let start = last_group_start(&queued);
        assert_eq!(start, 0);
        let merged = joined::merge_postgres(
            queued,
            Sql::new("WITH c AS (SELECT $1 AS n) INSERT INTO f SELECT n FROM c").bind(2_i64),
        )
        .unwrap();
        assert_eq!(
            merged.text(),
            "WITH queued_0 AS (UPDATE c SET n = $1), queued_1 AS (INSERT INTO d VALUES ($2)), \
             queued_2 AS (INSERT INTO e VALUES ($3)), c AS (SELECT $4 AS n) INSERT INTO f SELECT n FROM c"
        );
        assert_eq!(merged.args.len(), 4);
    }

    #[test]
    fn a_group_holds_no_more_values_than_a_statement_may() {
        let big = |n: usize| {
            Sql::assembled(
                "INSERT INTO a VALUES ($1)".to_owned(),
                vec![crate::exec::Arg::from(1_i64); n],
                false,
            )
            .new_rows()
        };
        let statements = groups(vec![big(20_000), big(20_000), big(1)]).unwrap();
        assert_eq!(statements.len(), 2);
    }
}
