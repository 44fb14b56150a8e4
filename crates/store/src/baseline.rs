//! Raw-SQLite baselines for benchmarks: the same rows Tenon writes, written and read with hand-written,
//! prepared SQL and nothing else (no HTTP, no validation, no audit). `tenon bench` prints Tenon's figures
//! as ratios to these, measured in the same run on the same machine.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::exec::{Arg, Backend, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError};

/// A raw table shaped like a user table with a text, a number, a currency and a date field.
const CREATE: &str = "CREATE TABLE raw_bench (id BLOB PRIMARY KEY, version INTEGER NOT NULL, created_at TEXT NOT NULL, \
     modified_at TEXT NOT NULL, created_by TEXT, modified_by TEXT, guest TEXT, nights INTEGER, deposit INTEGER, check_in TEXT) STRICT";
const INSERT: &str = "INSERT INTO raw_bench (id, version, created_at, modified_at, created_by, modified_by, guest, nights, deposit, check_in) \
     VALUES ($1, 1, $2, $2, $3, $3, $4, $5, $6, $7)";

/// Timings of the raw baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// One row inserted and committed per transaction, each timed.
    pub single_insert: Vec<Duration>,
    /// Rows per second inserting `bulk_rows` with a prepared statement, 1000 rows per transaction.
    pub bulk_rows_per_second: f64,
    /// The filtered, sorted page of 25, each query timed.
    pub page_query: Vec<Duration>,
    /// One row fetched by id, each timed.
    pub get_by_id: Vec<Duration>,
}

/// The values of row `n` (the same function feeds Tenon and the baseline).
pub fn bench_row(n: u64) -> (String, i64, i64, String) {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
        + chrono::Days::new(n % 365);
    (
        format!("客人 {n}"),
        i64::try_from(n % 14).unwrap_or(0) + 1,
        i64::try_from((n * 7919) % 1_000_000).unwrap_or(0),
        day.to_string(),
    )
}

/// Measures the baseline in the SQLite file at `path` (created if missing; Tenon's own file in the records
/// suite, in a table of its own) with Tenon's pragmas (WAL, synchronous FULL).
pub async fn measure(
    path: &Path,
    single: usize,
    bulk_rows: u64,
    queries: usize,
) -> Result<Baseline> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        // On Tenon's own file the server holds it too (idle while this runs).
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(StoreError::connect)?;
    let mut pooled = pool.acquire().await?;
    let mut conn = Conn::sqlite(&mut pooled);
    conn.execute_script(CREATE.to_owned()).await?;
    // The indexes Tenon keeps for the benchmark table's two indexed fields, there from the start as in
    // Tenon, so both sides insert the same rows into the same shape.
    conn.execute_script("CREATE INDEX raw_bench_deposit ON raw_bench (deposit, id)".to_owned())
        .await?;
    conn.execute_script("CREATE INDEX raw_bench_nights ON raw_bench (nights, id)".to_owned())
        .await?;
    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let actor = r#"{"type":"system","id":null,"name":"bench"}"#;
    let insert = |n: u64| {
        let (guest, nights, deposit, check_in) = bench_row(n);
        Sql::new(INSERT)
            .bind(uuid::Uuid::now_v7())
            .bind(now)
            .bind(actor)
            .bind(guest)
            .bind(nights)
            .bind(deposit)
            .bind(check_in)
    };
    let mut single_insert = Vec::with_capacity(single);
    for n in 0..single as u64 {
        let started = Instant::now();
        conn.execute_script("BEGIN IMMEDIATE".to_owned()).await?;
        conn.execute(insert(n)).await?;
        conn.execute_script("COMMIT".to_owned()).await?;
        single_insert.push(started.elapsed());
    }
    let started = Instant::now();
    let mut n = single as u64;
    while n < single as u64 + bulk_rows {
        conn.execute_script("BEGIN IMMEDIATE".to_owned()).await?;
        for _ in 0..1000 {
            conn.execute(insert(n)).await?;
            n += 1;
        }
        conn.execute_script("COMMIT".to_owned()).await?;
    }
    let bulk_rows_per_second = bulk_rows as f64 / started.elapsed().as_secs_f64();
    let mut page_query = Vec::with_capacity(queries);
    let mut ids = Vec::with_capacity(queries);
    for _ in 0..queries {
        let started = Instant::now();
        let rows: Vec<(uuid::Uuid, Option<String>)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT id, guest FROM raw_bench WHERE nights >= $1 AND deposit BETWEEN $2 AND $3 \
                     ORDER BY deposit DESC NULLS LAST, id DESC LIMIT 25",
                )
                .bind(3i64)
                .bind(Arg::Int(Some(100_000)))
                .bind(Arg::Int(Some(900_000))),
            )
            .await?;
        page_query.push(started.elapsed());
        ids.extend(rows.into_iter().map(|(id, _)| id));
    }
    let mut get_by_id = Vec::with_capacity(ids.len());
    for id in ids.iter().take(queries) {
        let started = Instant::now();
        let _row: Option<(uuid::Uuid, Option<String>)> = conn
            .fetch_optional(Sql::new("SELECT id, guest FROM raw_bench WHERE id = $1").bind(*id))
            .await?;
        get_by_id.push(started.elapsed());
    }
    drop(pooled);
    pool.close().await;
    Ok(Baseline {
        single_insert,
        bulk_rows_per_second,
        page_query,
        get_by_id,
    })
}

/// The hand-written SQL floor of the formula benchmark, run on Tenon's own SQLite file (read-only,
/// beside the running server): the page filtered and sorted on a stored formula column, and the grouped
/// sum, exactly as one would write them without Tenon.
#[derive(Debug, Clone)]
pub struct FormulaFloor {
    pub filter_sort: Vec<Duration>,
    pub grouped: Vec<Duration>,
    /// The filter and sort with the formula computed in the query instead of read from its column.
    pub computed_filter_sort: Vec<Duration>,
}

/// Times the hand-written queries over the user table `table` with a currency `price`, a number `qty`,
/// a single select `region` and the stored formula `total` (= price × qty, scale 2), `runs` times each.
pub async fn formula_floor(
    path: &Path,
    table: tenon_model::TableId,
    fields: [tenon_model::FieldId; 4],
    threshold_cents: i64,
    runs: usize,
) -> Result<FormulaFloor> {
    use crate::apps::ddl::{column_name, table_name};
    use crate::exec::quote;
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(StoreError::connect)?;
    let mut pooled = pool.acquire().await?;
    let mut conn = Conn::sqlite(&mut pooled);
    let [price, qty, region, total] = fields.map(|field| quote(&column_name(field)));
    let table = quote(&table_name(table));
    let mut filter_sort = SqlText::new(Backend::Sqlite);
    filter_sort
        .push(&format!("SELECT id, {total} FROM {table} WHERE {total} > "))
        .arg(threshold_cents)
        .push(&format!(
            " ORDER BY {total} DESC NULLS LAST, id DESC LIMIT 50"
        ));
    let filter_sort = filter_sort.into_sql();
    let grouped = format!("SELECT {region}, SUM({total}), COUNT(*) FROM {table} GROUP BY {region}");
    // price is scaled by 100, qty by 1: the product is the total in cents (scale 2).
    let mut computed = SqlText::new(Backend::Sqlite);
    computed
        .push(&format!(
            "SELECT id, {price} * {qty} FROM {table} WHERE {price} * {qty} > "
        ))
        .arg(threshold_cents)
        .push(&format!(" ORDER BY {price} * {qty} DESC, id DESC LIMIT 50"));
    let computed = computed.into_sql();
    let mut floor = FormulaFloor {
        filter_sort: Vec::with_capacity(runs),
        grouped: Vec::with_capacity(runs),
        computed_filter_sort: Vec::with_capacity(runs),
    };
    for _ in 0..runs {
        let started = Instant::now();
        let rows: Vec<(uuid::Uuid, Option<i64>)> = conn.fetch_all(filter_sort.clone()).await?;
        floor.filter_sort.push(started.elapsed());
        if rows.is_empty() {
            return Err(StoreError::Corrupt(
                "the formula floor query found nothing".to_owned(),
            ));
        }
        let started = Instant::now();
        let _groups: Vec<(Option<String>, Option<i64>, i64)> =
            conn.fetch_all(Sql::generated(grouped.clone())).await?;
        floor.grouped.push(started.elapsed());
        let started = Instant::now();
        let _rows: Vec<(uuid::Uuid, Option<i64>)> = conn.fetch_all(computed.clone()).await?;
        floor.computed_filter_sort.push(started.elapsed());
    }
    drop(pooled);
    pool.close().await;
    Ok(floor)
}
