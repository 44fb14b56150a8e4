//! Benchmarks (not tests): `cargo bench -p tenon-formula`.
//!
//! - `eval_*`: the Rust evaluator on simple formulas, beside `baseline_*`, the same arithmetic written
//!   directly in Rust with rust_decimal. Throughput is in evaluations per second per core.
//! - `sqlite_1m_*`: a filter + sort on a formula over 1,000,000 rows in the data engine's SQLite layout,
//!   compiled by the formula compiler, beside the same query written by hand.

// The benchmark runs the compiler's SQL directly; the store's exec module is not reachable from here.
#![allow(
    clippy::disallowed_types,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use divan::Bencher;
use divan::counter::ItemsCount;
use rust_decimal::{Decimal, RoundingStrategy};
use sqlx::{AssertSqlSafe, Connection, Row};
use tenon_formula::sql::{Bind, Dialect};
use tenon_formula::{EvalContext, Field, FieldKind, Formula, Schema, Value, check};

fn main() {
    divan::main();
}

fn schema() -> Schema {
    Schema::new([
        Field::new("price", "单价", FieldKind::Number { scale: 2 }),
        Field::new("qty", "数量", FieldKind::Integer),
        Field::new("customer", "客户", FieldKind::Text),
    ])
}

fn ctx() -> EvalContext {
    EvalContext::new(
        Utc.with_ymd_and_hms(2026, 11, 25, 8, 30, 0).unwrap(),
        chrono_tz::Asia::Shanghai,
    )
}

fn formula(source: &str) -> Formula {
    check(source, &schema()).unwrap()
}

fn inputs(index: u64) -> [Value; 3] {
    [
        Value::Number(Decimal::new(1250 + (index % 1000) as i64, 2)),
        Value::Number(Decimal::from(index % 17)),
        Value::text("湖州优品"),
    ]
}

const INPUTS: u64 = 1024;

#[divan::bench]
fn eval_round_price_times_qty(bencher: Bencher) {
    let formula = formula("ROUND({单价} * {数量}, 2)");
    let rows: Vec<[Value; 3]> = (0..INPUTS).map(inputs).collect();
    let ctx = ctx();
    let mut index = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        index = (index + 1) % rows.len();
        divan::black_box(formula.eval(divan::black_box(&rows[index][..2]), &ctx))
    });
}

#[divan::bench]
fn baseline_round_price_times_qty(bencher: Bencher) {
    let rows: Vec<(Decimal, Decimal)> = (0..INPUTS)
        .map(|index| match inputs(index) {
            [Value::Number(price), Value::Number(qty), _] => (price, qty),
            _ => unreachable!(),
        })
        .collect();
    let mut index = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        index = (index + 1) % rows.len();
        let (price, qty) = divan::black_box(rows[index]);
        divan::black_box(
            (price * qty).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        )
    });
}

#[divan::bench]
fn eval_if_compare_text(bencher: Bencher) {
    let formula = formula("IF({单价} * {数量} > 100, {客户} & \" (large)\", \"small\")");
    let rows: Vec<[Value; 3]> = (0..INPUTS).map(inputs).collect();
    let ctx = ctx();
    let mut index = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        index = (index + 1) % rows.len();
        divan::black_box(formula.eval(divan::black_box(&rows[index]), &ctx))
    });
}

#[divan::bench]
fn baseline_if_compare_text(bencher: Bencher) {
    let rows: Vec<[Value; 3]> = (0..INPUTS).map(inputs).collect();
    let hundred = Decimal::from(100);
    let mut index = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        index = (index + 1) % rows.len();
        let row = divan::black_box(&rows[index]);
        let (Value::Number(price), Value::Number(qty), Value::Text(customer)) =
            (&row[0], &row[1], &row[2])
        else {
            unreachable!()
        };
        divan::black_box(if price * qty > hundred {
            format!("{customer} (large)")
        } else {
            "small".to_owned()
        })
    });
}

const ROWS_1M: i64 = 1_000_000;

/// A 1,000,000-row table in the SQLite layout (price INTEGER × 100, qty INTEGER, customer TEXT), built once.
fn sqlite_1m() -> &'static (
    tokio::runtime::Runtime,
    tokio::sync::Mutex<sqlx::SqliteConnection>,
) {
    static TABLE: OnceLock<(
        tokio::runtime::Runtime,
        tokio::sync::Mutex<sqlx::SqliteConnection>,
    )> = OnceLock::new();
    TABLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let connection = runtime.block_on(async {
            let mut connection = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
            sqlx::query("CREATE TABLE records (id INTEGER PRIMARY KEY, \"f_price\" INTEGER, \"f_qty\" INTEGER, \"f_customer\" TEXT) STRICT")
                .execute(&mut connection)
                .await
                .unwrap();
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 INSERT INTO records SELECT i, (i * 7919) % 100000, CASE WHEN i % 13 = 0 THEN NULL ELSE i % 17 END, \
                 CASE i % 3 WHEN 0 THEN '湖州优品' WHEN 1 THEN 'Acme' ELSE '' END FROM n",
            )
            .bind(ROWS_1M)
            .execute(&mut connection)
            .await
            .unwrap();
            connection
        });
        (runtime, tokio::sync::Mutex::new(connection))
    })
}

fn run_sqlite(sql: &str, binds: &[Bind]) -> usize {
    let (runtime, connection) = sqlite_1m();
    runtime.block_on(async {
        let mut connection = connection.lock().await;
        let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
        for bind in binds {
            query = match bind {
                Bind::Int(value) => query.bind(*value),
                Bind::Text(value) => query.bind(value.clone()),
            };
        }
        let rows = query.fetch_all(&mut *connection).await.unwrap();
        rows.iter().filter(|row| row.get::<i64, _>(0) > 0).count()
    })
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn sqlite_1m_compiled_filter_and_sort(bencher: Bencher) {
    let filter = formula("AND({客户} = \"湖州优品\", ROUND({单价} * {数量}, 2) > 5000)")
        .to_sql(Dialect::Sqlite, &ctx(), 1)
        .unwrap();
    let sort = formula("{单价} * {数量}")
        .to_sql(Dialect::Sqlite, &ctx(), 1 + filter.binds.len())
        .unwrap();
    let sql = format!(
        "SELECT id FROM records WHERE {} ORDER BY {}, id LIMIT 100",
        filter.sql,
        sort.order_by(true)
    );
    let binds: Vec<Bind> = filter.binds.iter().chain(&sort.binds).cloned().collect();
    assert_eq!(run_sqlite(&sql, &binds), 100);
    bencher.bench_local(|| run_sqlite(&sql, &binds));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn sqlite_1m_hand_written_filter_and_sort(bencher: Bencher) {
    let sql = "SELECT id FROM records WHERE \"f_customer\" = '湖州优品' AND \"f_price\" * \"f_qty\" > 500000 \
               ORDER BY \"f_price\" * \"f_qty\" DESC NULLS LAST, id LIMIT 100";
    assert_eq!(run_sqlite(sql, &[]), 100);
    bencher.bench_local(|| run_sqlite(sql, &[]));
}
