//! Fresh databases for tests: a temporary SQLite file, or a PostgreSQL database with a random name.
//!
//! PostgreSQL tests use `TENON_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! the local service on CI machines). If PostgreSQL cannot be reached the test fails with a message that
//! says so: these tests are never skipped silently.

// Test fixtures fail the test that asked for them, loudly, with the reason.
#![allow(clippy::panic)]

use std::path::PathBuf;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::DatabaseConfig;
use crate::exec::Conn;

/// The environment variable naming the PostgreSQL server tests create their databases on.
pub const TEST_DATABASE_URL_VAR: &str = "TENON_TEST_DATABASE_URL";
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test. Call [`TestDatabase::cleanup`] at the end of a passing test; a
/// failing test leaves its PostgreSQL database behind for inspection (its name is in the panic output).
#[derive(Debug)]
pub struct TestDatabase {
    pub config: DatabaseConfig,
    /// Keeps the SQLite file's folder alive; removed on drop.
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => Self::sqlite(),
            TestBackend::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(error) => panic!("cannot create a temporary folder for the test database: {error}"),
        };
        let path: PathBuf = dir.path().join("tenon.db");
        TestDatabase {
            config: DatabaseConfig::Sqlite { path },
            dir,
            postgres: None,
        }
    }

    pub async fn postgres() -> Self {
        let admin_url = std::env::var(TEST_DATABASE_URL_VAR)
            .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(error) => panic!(
                "PostgreSQL tests need a server: cannot connect to {admin_url} ({error}). \
                 Start PostgreSQL or set {TEST_DATABASE_URL_VAR}; .ci/run does both."
            ),
        };
        let name = format!("tenon_test_{}", uuid::Uuid::now_v7().simple());
        if let Err(error) = Conn::postgres(&mut admin)
            .execute_script(format!("CREATE DATABASE \"{name}\""))
            .await
        {
            panic!("cannot create test database {name}: {error}");
        }
        let _ = admin.close().await;
        let url = replace_database(&admin_url, &name);
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(error) => panic!("cannot create a temporary folder: {error}"),
        };
        TestDatabase {
            config: DatabaseConfig::Postgres { url },
            dir,
            postgres: Some((admin_url, name)),
        }
    }

    /// Drops the PostgreSQL database (the SQLite folder goes with the value).
    pub async fn cleanup(self) {
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = PgConnection::connect(admin_url).await
        {
            let _ = Conn::postgres(&mut admin)
                .execute_script(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// `postgres://u@h:5432/postgres?x=y` with the database replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The number of rows in one of the platform's own tables (all organizations), for tests that prove what a
/// delete took with it. `table` is a name from the migrations, never input.
pub async fn table_rows(store: &crate::Store, table: &'static str) -> i64 {
    let sql = crate::exec::Sql::generated(format!(
        "SELECT COUNT(*) FROM {}",
        crate::exec::quote(table)
    ));
    let counted: Result<(i64,), String> = async {
        let mut pooled = store.pools.read().await.map_err(|e| e.to_string())?;
        pooled
            .conn()
            .fetch_one(sql)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match counted {
        Ok((rows,)) => rows,
        Err(error) => panic!("cannot count the rows of {table}: {error}"),
    }
}

/// Runs a statement without values on the database directly, to put it in a state the API cannot reach
/// (rows as an older version wrote them). Tests only.
pub async fn execute(store: &crate::Store, sql: String) {
    let run = async {
        let mut tx = store.begin_tx().await.map_err(|e| e.to_string())?;
        tx.conn()
            .execute(crate::exec::Sql::generated(sql.clone()))
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    };
    if let Err(error) = run.await {
        panic!("cannot run {sql}: {error}");
    }
}

/// The physical table of a user table, quoted, for [`execute`].
pub fn record_table(table: tenon_model::TableId) -> String {
    crate::exec::quote(&crate::apps::ddl::table_name(table))
}

/// Runs a query without values that returns one text column, on the database directly, to look at what
/// the API does not show (an index's definition, a plan). Tests only.
pub async fn fetch_strings(store: &crate::Store, sql: String) -> Vec<String> {
    let run = async {
        let mut pooled = store.pools.read().await.map_err(|e| e.to_string())?;
        let rows: Vec<(String,)> = pooled
            .conn()
            .fetch_all(crate::exec::Sql::generated(sql.clone()))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(rows.into_iter().map(|(text,)| text).collect())
    };
    match run.await {
        Ok(rows) => rows,
        Err(error) => panic!("cannot run {sql}: {error}"),
    }
}

/// Runs `future` and returns its output with the number of SQL statements it ran — round trips to the
/// database, `BEGIN` and `COMMIT` included — on the current task (what the store does for one call).
pub async fn count_statements<F: std::future::Future>(future: F) -> (F::Output, u64) {
    crate::exec::count_statements(future).await
}

/// A write transaction left open, for tests that show what waits for the locks its statements took:
/// they are held until [`OpenTx::commit`] (or the value is dropped, which rolls back). Tests only.
pub struct OpenTx(crate::exec::Tx);

impl OpenTx {
    pub async fn begin(store: &crate::Store) -> Self {
        match store.begin_tx().await {
            Ok(tx) => OpenTx(tx),
            Err(error) => panic!("cannot begin a transaction: {error}"),
        }
    }

    /// Runs a statement without values inside the transaction.
    pub async fn execute(&mut self, sql: String) {
        if let Err(error) = self
            .0
            .conn()
            .execute(crate::exec::Sql::generated(sql.clone()))
            .await
        {
            panic!("cannot run {sql}: {error}");
        }
    }

    pub async fn commit(self) {
        if let Err(error) = self.0.commit().await {
            panic!("cannot commit: {error}");
        }
    }
}

/// Waits until `sessions` sessions of this PostgreSQL database are blocked on a lock in a statement
/// containing `fragment` (from `pg_stat_activity`): the moment writers queue behind a test's [`OpenTx`].
/// Fails the test after a minute, which only a writer that never takes the lock would need. Tests only.
pub async fn wait_for_blocked_statements(store: &crate::Store, fragment: &str, sessions: usize) {
    for _ in 0..1200 {
        let waiting = fetch_strings(
            store,
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                .to_owned(),
        )
        .await;
        if waiting
            .iter()
            .filter(|query| query.contains(fragment))
            .count()
            >= sessions
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {sessions} statements containing {fragment:?} waited for a lock");
}

/// The reads of an instance's tasks that every approval command runs (by instance, by task), for tests
/// of their plans.
pub fn approval_task_reads() -> [&'static str; 2] {
    [
        crate::approvals::TASKS_BY_INSTANCE,
        crate::approvals::TASKS_BY_TASK,
    ]
}

/// SQLite's plan for `sql` (`EXPLAIN QUERY PLAN`, values unbound): one line per step. Tests only.
pub async fn sqlite_query_plan(store: &crate::Store, sql: &str) -> Vec<String> {
    let mut pooled = match store.pools.read().await {
        Ok(pooled) => pooled,
        Err(error) => panic!("no connection: {error}"),
    };
    let rows: Vec<(i64, i64, i64, String)> = match pooled
        .conn()
        .fetch_all(crate::exec::Sql::generated(format!(
            "EXPLAIN QUERY PLAN {sql}"
        )))
        .await
    {
        Ok(rows) => rows,
        Err(error) => panic!("cannot explain {sql}: {error}"),
    };
    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
}
