//! The differential test: random well-typed formulas over random rows must give the same value in the
//! Rust evaluator, in SQLite and in PostgreSQL (errors count as empty, as in SQL). Formulas that a back
//! end refuses with `NotCompilable` are skipped for that back end, and the test requires that most
//! compile. The generator is seeded; a failure prints the seed, the formula, the row and the SQL.
//!
//! `TENON_FORMULA_DIFF_CASES` sets the number of formulas (default 400); `TENON_FORMULA_DIFF_SEED` the seed.

// Running the compiler's SQL is the point of this test; the store's exec module is not reachable here.
#![allow(clippy::disallowed_types)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::{AssertSqlSafe, Connection, Row};
use tenon_formula::Type;
use tenon_formula::rollup::{Aggregate, AggregateSql};
use tenon_formula::sql::{Bind, Dialect, SqlExpr, decode_text};
use tenon_formula::{EvalContext, Field, FieldKind, Schema, Value, check};

use crate::generator::{Generator, Rng};

const ROWS: usize = 48;

pub struct Column {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: FieldKind,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub fn columns() -> Vec<Column> {
    let column = |id, name, kind, sqlite, postgres| Column {
        id,
        name,
        kind,
        sqlite,
        postgres,
    };
    vec![
        column(
            "a",
            "A",
            FieldKind::Number { scale: 2 },
            "INTEGER",
            "NUMERIC(28,2)",
        ),
        column("q", "Q", FieldKind::Integer, "INTEGER", "BIGINT"),
        column(
            "r",
            "R",
            FieldKind::Number { scale: 4 },
            "INTEGER",
            "NUMERIC(28,4)",
        ),
        column("t1", "T1", FieldKind::Text, "TEXT", "TEXT"),
        column("t2", "T2", FieldKind::SingleSelect, "TEXT", "TEXT"),
        column("b", "B", FieldKind::Checkbox, "INTEGER", "BOOLEAN"),
        column("d1", "D1", FieldKind::Date, "TEXT", "DATE"),
        column("d2", "D2", FieldKind::Date, "TEXT", "DATE"),
        column("s1", "S1", FieldKind::DateTime, "TEXT", "TIMESTAMPTZ"),
        column("s2", "S2", FieldKind::DateTime, "TEXT", "TIMESTAMPTZ"),
    ]
}

pub fn schema() -> Schema {
    Schema::new(
        columns()
            .into_iter()
            .map(|column| Field::new(column.id, column.name, column.kind)),
    )
}

const TEXTS: &[&str] = &[
    "",
    " ",
    "abc",
    "ABC",
    "a b  c ",
    "湖州优品",
    "😀x",
    "ß",
    "Ä",
    "-",
    "a-b-c",
    "12",
    "%",
    "_",
    "\t tab\n",
    "O'Brien",
    "\"q\"",
    "b",
    "bb",
    "優品a",
    "zz",
];

/// One row: a value per column, `None` for NULL; text as stored ('' is possible and means empty).
type RowValues = Vec<Option<Value>>;

fn random_row(rng: &mut Rng, index: usize) -> RowValues {
    if index == 0 {
        return vec![None; 10];
    }
    let null = |rng: &mut Rng| rng.below(6) == 0;
    let mut row = Vec::new();
    let number = |rng: &mut Rng, bound: i64, scale: u32| {
        let mantissa = match rng.below(5) {
            0 => 0,
            1 => (rng.below(21) as i64 - 10) * 10i64.pow(scale) / 2,
            _ => rng.range(-bound, bound),
        };
        Value::Number(Decimal::new(mantissa, scale))
    };
    let date = |rng: &mut Rng| {
        let base = NaiveDate::from_ymd_opt(1985, 1, 1).unwrap();
        let special = [
            (2024, 2, 29),
            (2023, 1, 31),
            (2026, 12, 31),
            (2026, 1, 1),
            (1988, 4, 17),
        ];
        if rng.below(4) == 0 {
            let (y, m, d) = special[rng.below(special.len() as u64) as usize];
            return Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        }
        Value::Date(base + chrono::Duration::days(rng.range(0, 20_000)))
    };
    let datetime = |rng: &mut Rng| {
        let special = [
            "2026-11-24T15:59:59.999999Z",
            "2026-11-24T16:00:00.000000Z",
            "1988-04-16T17:59:59.500000Z",
            "1988-09-10T17:00:00.000001Z",
            "2026-03-08T07:00:00.000000Z",
        ];
        if rng.below(4) == 0 {
            let text = special[rng.below(special.len() as u64) as usize];
            return Value::DateTime(
                DateTime::parse_from_rfc3339(text)
                    .unwrap()
                    .with_timezone(&Utc),
            );
        }
        let seconds = rng.range(473_385_600, 2_000_000_000);
        let micros = if rng.below(2) == 0 {
            0
        } else {
            rng.range(0, 999_999)
        };
        Value::DateTime(
            Utc.timestamp_opt(seconds, 0).unwrap() + chrono::Duration::microseconds(micros),
        )
    };
    for column in columns() {
        if null(rng) {
            row.push(None);
            continue;
        }
        row.push(Some(match column.id {
            "a" => number(rng, 10_000_000, 2),
            "q" => number(rng, 1_000, 0),
            "r" => number(rng, 100_000, 4),
            "t1" | "t2" => Value::Text(TEXTS[rng.below(TEXTS.len() as u64) as usize].to_owned()),
            "b" => Value::Bool(rng.below(2) == 0),
            "d1" | "d2" => date(rng),
            _ => datetime(rng),
        }));
    }
    row
}

/// The value the evaluator receives for a stored value (text as stored; '' is made empty by the crate).
fn input(value: &Option<Value>) -> Value {
    value.clone().unwrap_or(Value::Empty)
}

fn sqlite_text(value: &Option<Value>) -> (Option<i64>, Option<String>) {
    match value {
        None => (None, None),
        Some(Value::Number(number)) => (Some(i64::try_from(number.mantissa()).unwrap()), None),
        Some(Value::Bool(flag)) => (Some(i64::from(*flag)), None),
        Some(Value::Text(text)) => (None, Some(text.clone())),
        Some(Value::Date(date)) => (None, Some(date.format("%Y-%m-%d").to_string())),
        Some(Value::DateTime(instant)) => (
            None,
            Some(instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
        ),
        Some(other) => panic!("no storage for {other:?}"),
    }
}

fn postgres_text(value: &Option<Value>) -> Option<String> {
    match value {
        None => None,
        Some(Value::Number(number)) => Some(number.to_string()),
        Some(Value::Bool(flag)) => Some(flag.to_string()),
        Some(other) => sqlite_text(&Some(other.clone())).1,
    }
}

pub struct Databases {
    pub sqlite: sqlx::SqliteConnection,
    pub postgres: sqlx::PgConnection,
    pub schema_name: String,
}

impl Databases {
    pub async fn open() -> Databases {
        let url = std::env::var("TENON_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut postgres = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|error| {
            panic!("the differential test needs PostgreSQL at {url} (set TENON_TEST_DATABASE_URL): {error}")
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let schema_name = format!("t_formula_{}_{nanos}", std::process::id());
        for statement in [
            format!("CREATE SCHEMA {schema_name}"),
            format!("SET search_path TO {schema_name}"),
        ] {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut postgres)
                .await
                .unwrap();
        }
        let sqlite = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        Databases {
            sqlite,
            postgres,
            schema_name,
        }
    }

    pub async fn close(mut self) {
        let statement = format!("DROP SCHEMA {} CASCADE", self.schema_name);
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut self.postgres)
            .await
            .unwrap();
    }

    async fn load(&mut self, rows: &[RowValues]) {
        let columns = columns();
        let sqlite_columns: Vec<String> = columns
            .iter()
            .map(|c| format!("\"f_{}\" {}", c.id, c.sqlite))
            .collect();
        let postgres_columns: Vec<String> = columns
            .iter()
            .map(|c| format!("\"f_{}\" {}", c.id, c.postgres))
            .collect();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, {}) STRICT",
            sqlite_columns.join(", ")
        )))
        .execute(&mut self.sqlite)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, {})",
            postgres_columns.join(", ")
        )))
        .execute(&mut self.postgres)
        .await
        .unwrap();
        let placeholders: Vec<String> = (2..=columns.len() + 1).map(|n| format!("${n}")).collect();
        let casts: Vec<String> = columns
            .iter()
            .zip(&placeholders)
            .map(|(c, p)| format!("CAST({p} AS {})", c.postgres))
            .collect();
        for (id, row) in rows.iter().enumerate() {
            let mut insert = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO t VALUES ($1, {})",
                placeholders.join(", ")
            )))
            .bind(id as i64);
            for value in row {
                insert = match sqlite_text(value) {
                    (Some(int), _) => insert.bind(Some(int)),
                    (None, text) => insert.bind(text),
                };
            }
            insert.execute(&mut self.sqlite).await.unwrap();
            let mut insert = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO t VALUES ($1, {})",
                casts.join(", ")
            )))
            .bind(id as i64);
            for value in row {
                insert = insert.bind(postgres_text(value));
            }
            insert.execute(&mut self.postgres).await.unwrap();
        }
    }

    /// The aggregate over the rows whose id is a multiple of `every`.
    pub async fn aggregate(
        &mut self,
        aggregate: &AggregateSql,
        every: i64,
    ) -> Result<Value, String> {
        let text = format!(
            "SELECT {} FROM t WHERE id % {every} = 0",
            aggregate.columns.join(", ")
        );
        macro_rules! fetch {
            ($connection:expr) => {{
                let mut query = sqlx::query(AssertSqlSafe(text.clone()));
                for bind in &aggregate.binds {
                    query = match bind {
                        Bind::Int(value) => query.bind(*value),
                        Bind::Text(value) => query.bind(value.clone()),
                    };
                }
                let row = query
                    .fetch_one($connection)
                    .await
                    .map_err(|error| error.to_string())?;
                (0..aggregate.columns.len())
                    .map(|index| {
                        row.try_get::<Option<String>, _>(index)
                            .map_err(|error| error.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }};
        }
        let texts = match aggregate.dialect {
            Dialect::Sqlite => fetch!(&mut self.sqlite),
            Dialect::Postgres => fetch!(&mut self.postgres),
        };
        let refs: Vec<Option<&str>> = texts.iter().map(|text| text.as_deref()).collect();
        Ok(aggregate.finish(&refs))
    }

    /// The formula's value for every row, in id order.
    pub async fn select(&mut self, expr: &SqlExpr) -> Result<Vec<Value>, String> {
        let text = format!("SELECT id, {} FROM t ORDER BY id", expr.as_text());
        macro_rules! fetch {
            ($connection:expr) => {{
                let mut query = sqlx::query(AssertSqlSafe(text.clone()));
                for bind in &expr.binds {
                    query = match bind {
                        Bind::Int(value) => query.bind(*value),
                        Bind::Text(value) => query.bind(value.clone()),
                    };
                }
                let rows = query
                    .fetch_all($connection)
                    .await
                    .map_err(|error| error.to_string())?;
                rows.iter()
                    .map(|row| {
                        row.try_get::<Option<String>, _>(1)
                            .map_err(|error| error.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }};
        }
        let values = match expr.dialect {
            Dialect::Sqlite => fetch!(&mut self.sqlite),
            Dialect::Postgres => fetch!(&mut self.postgres),
        };
        Ok(values
            .iter()
            .map(|text| decode_text(&expr.ty, expr.dialect, text.as_deref()))
            .collect())
    }
}

fn comparable(value: Value) -> Value {
    match value {
        Value::Error(_) => Value::Empty,
        Value::Text(text) if text.is_empty() => Value::Empty,
        other => other,
    }
}

async fn run(zone: Tz, cases: usize, seed: u64, fixed: &[&str]) -> (usize, usize, usize) {
    let mut dbs = Databases::open().await;
    let mut rng = Rng::new(seed);
    let rows: Vec<RowValues> = (0..ROWS).map(|index| random_row(&mut rng, index)).collect();
    dbs.load(&rows).await;
    let schema = schema();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 30, 0).unwrap()
        + chrono::Duration::microseconds(123_456);
    let ctx = EvalContext::new(now, zone);
    let (mut sqlite_compiled, mut postgres_compiled) = (0, 0);
    let (mut values, mut non_empty) = (0usize, 0usize);
    for case in 0..cases + fixed.len() {
        let case_seed = Rng::new(seed ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next();
        let source = match fixed.get(case) {
            Some(source) => (*source).to_owned(),
            None => Generator::new(case_seed).formula(),
        };
        let formula = check(&source, &schema).unwrap_or_else(|errors| {
            panic!("generated formula does not check (seed {case_seed}): {source}\n{errors:?}")
        });
        let expected: Vec<Value> = rows
            .iter()
            .map(|row| {
                let inputs: Vec<Value> = formula
                    .fields()
                    .iter()
                    .map(|field| {
                        let index = columns()
                            .iter()
                            .position(|c| c.id == field.id.as_str())
                            .unwrap();
                        input(&row[index])
                    })
                    .collect();
                comparable(formula.eval(&inputs, &ctx))
            })
            .collect();
        values += expected.len();
        non_empty += expected.iter().filter(|value| !value.is_empty()).count();
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let Ok(expr) = formula.to_sql(dialect, &ctx, 1) else {
                continue;
            };
            match dialect {
                Dialect::Sqlite => sqlite_compiled += 1,
                Dialect::Postgres => postgres_compiled += 1,
            }
            if std::env::var("TENON_FORMULA_DIFF_SIZES").is_ok() && expr.sql.len() > 20_000 {
                eprintln!("{dialect:?} {} bytes: {source}", expr.sql.len());
            }
            if let Ok(path) = std::env::var("TENON_FORMULA_DIFF_DUMP") {
                std::fs::write(path, format!("{}\n{:?}", expr.sql, expr.binds)).unwrap();
            }
            let actual = dbs.select(&expr).await.unwrap_or_else(|error| {
                panic!("{dialect:?} rejected the SQL for {source} (seed {case_seed}, zone {zone}): {error}\nSQL: {}", expr.sql)
            });
            if case % 4 == 0 && !matches!(expr.ty, Type::Boolean | Type::Blank) {
                for aggregate in [
                    Aggregate::Count,
                    Aggregate::CountDistinct,
                    Aggregate::CountAll,
                    Aggregate::Sum,
                    Aggregate::Avg,
                    Aggregate::Min,
                    Aggregate::Max,
                ] {
                    let Ok(compiled) = aggregate.to_sql(&expr) else {
                        continue;
                    };
                    for every in [1, 3] {
                        let subset: Vec<Value> = expected
                            .iter()
                            .enumerate()
                            .filter(|(index, _)| *index as i64 % every == 0)
                            .map(|(_, value)| value.clone())
                            .collect();
                        let want = comparable(aggregate.eval(&subset, &expr.ty));
                        let got = comparable(dbs.aggregate(&compiled, every).await.unwrap_or_else(
                            |error| {
                                panic!(
                                    "{dialect:?} rejected {aggregate:?} of {source}: {error}\n{:?}",
                                    compiled.columns
                                )
                            },
                        ));
                        assert!(
                            want == got,
                            "{dialect:?} {aggregate:?} of {source} (every {every}): evaluator {want:?}, SQL {got:?}\n{:?}",
                            compiled.columns
                        );
                    }
                }
            }
            for (index, (want, got)) in expected.iter().zip(actual).enumerate() {
                let got = comparable(got);
                assert!(
                    *want == got,
                    "{dialect:?} disagrees with the evaluator (seed {case_seed}, zone {zone})\nformula: {source}\nrow {index}: {:?}\nevaluator: {want:?}\n{dialect:?}: {got:?}\nSQL: {}\nbinds: {:?}",
                    rows[index],
                    expr.sql,
                    expr.binds
                );
            }
        }
    }
    dbs.close().await;
    // Formulas that are empty on every row would prove little.
    assert!(
        non_empty * 10 >= values * 6,
        "only {non_empty} of {values} values were not empty"
    );
    (cases + fixed.len(), sqlite_compiled, postgres_compiled)
}

/// Edge cases written by hand: constants at and beyond every limit, so that no value can make the
/// database raise an error (PostgreSQL folds constants while planning) or disagree.
const EXTREMES: &[&str] = &[
    "DATE(0, 1, 1)",
    "DATE(10000, 1, 1)",
    "DATE(9999, 12, 32)",
    "DATE(2026, 99999999999, 1)",
    "DATE(2026, 1, -99999999999)",
    "DATEADD(#9999-12-31#, 1, \"days\")",
    "DATEADD(#0001-01-01#, -1, \"days\")",
    "DATEADD(#2026-01-31#, 99999999999, \"years\")",
    "DATEADD(#9999-12-31T23:59:59Z#, 1, \"seconds\")",
    "DATEADD({S1}, 99999999999, \"weeks\")",
    "EOMONTH(#9999-12-15#, 0)",
    "EOMONTH(#9999-12-15#, 1)",
    "EDATE({D1}, -99999999)",
    "#9999-12-31# + {Q}",
    "LEFT({T1}, 99999999999)",
    "RIGHT({T1}, -99999999999)",
    "MID({T1}, 99999999999, 99999999999)",
    "REPLACE({T1}, -5, 99999999999, \"x\")",
    "FIND(\"\", {T1}, 99999999999)",
    "FIND(\"\", \"\")",
    "1 / 0",
    "{A} / 0",
    "MOD({A}, 0)",
    "{A} % BLANK()",
    "CEILING({A}, 0)",
    "FLOOR(-0.5, 0.3)",
    "ROUND(-0.5, 0)",
    "ROUND({R}, -20)",
    "ROUNDUP({R}, -3)",
    "FIXED({R}, -3)",
    "FIXED(-0.0001, 2)",
    "AVERAGE(BLANK(), BLANK())",
    "MIN(BLANK())",
    "9999999999.99 * 9999",
    "DATETIME_DIFF(#0001-01-01#, #9999-12-31#, \"weeks\")",
    "DATETIME_DIFF(#0001-01-01T00:00:00Z#, #9999-12-31T23:59:59.999999Z#)",
    "WEEKNUM(#0001-01-01#)",
    "YEAR(#0001-01-01T00:00:00Z#)",
    "DATESTR(#9999-12-31T20:00:00Z#)",
    "TEXT(#9999-12-31T23:59:59.999999Z#)",
];

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "current_thread")]
async fn evaluator_sqlite_and_postgres_agree_on_random_formulas() {
    let cases = setting("TENON_FORMULA_DIFF_CASES", 400) as usize;
    let seed = setting("TENON_FORMULA_DIFF_SEED", 0x7e40_2026);
    for (zone, share) in [
        (chrono_tz::Asia::Shanghai, 2),
        (chrono_tz::America::New_York, 1),
        (chrono_tz::UTC, 1),
    ] {
        let (total, sqlite, postgres) = run(
            zone,
            cases * share / 4,
            seed ^ u64::from(zone.name().len() as u32),
            if zone == chrono_tz::Asia::Shanghai {
                EXTREMES
            } else {
                &[]
            },
        )
        .await;
        eprintln!(
            "{zone}: {total} formulas, {sqlite} compiled for SQLite, {postgres} for PostgreSQL"
        );
        assert!(
            postgres * 10 >= total * 7,
            "{zone}: only {postgres} of {total} formulas compiled for PostgreSQL"
        );
        let sqlite_floor = if zone == chrono_tz::America::New_York {
            4
        } else {
            7
        };
        assert!(
            sqlite * 10 >= total * sqlite_floor,
            "{zone}: only {sqlite} of {total} formulas compiled for SQLite"
        );
    }
}
