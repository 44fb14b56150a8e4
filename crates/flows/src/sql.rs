//! The `sql` step: one statement against an external PostgreSQL or MySQL/MariaDB database, without I/O.
//!
//! ```yaml
//! - {key: stock, type: sql, connection: warehouse, query: 'SELECT sku, qty FROM stock WHERE sku = $1',
//!    params: ['{trigger.fields.sku}'], max_rows: 10, timeout: 5s}
//! ```
//!
//! `query` is one statement, sent as written (never a template: values go in `params`, formulas bound as
//! text to `$1`, `$2`… — cast in SQL, `$1::int` — or, on a `mysql` connection, to `?` in order or to
//! `$1`, `$2`…; see [`crate::sql_mysql`]). Without `allow_write: true` it runs in a read-only transaction:
//! on PostgreSQL wrapped as `SELECT to_jsonb(t) FROM (<query>) t` (inexact numbers as text), on MySQL run as given once MySQL has
//! said (at prepare) that it returns rows — so only a query that returns rows runs; at most `max_rows`
//! rows are kept (1–1,000, default 100; `truncated` says more were there). With `allow_write: true` the
//! statement runs as given in its own transaction and the output is the rows it affected. `timeout`
//! bounds the statement (`statement_timeout`; MariaDB's `max_statement_time`, MySQL's
//! `max_execution_time`) and the whole call (default 10s, at most 30s). A read is sent again after a
//! crash; a write is not (`unknown_outcome`, a person decides).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_model::{Checker, DetailCode};

use crate::http::{TIMEOUT_DEFAULT_MS, TIMEOUT_MAX_MS};

/// The most rows a step keeps, and the default.
pub const ROWS_MAX: u32 = 1000;
pub const ROWS_DEFAULT: u32 = 100;
/// The longest statement.
pub const QUERY_CHARS_MAX: usize = 16 * 1024;
/// The most parameters.
pub const PARAMS_MAX: usize = 32;

/// The database a `sql` step's connection reaches, by the connection's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
}

impl Dialect {
    /// The connection kinds a `sql` step runs on.
    pub const KINDS: &[&str] = &["postgres", "mysql"];

    pub fn of_kind(kind: &str) -> Option<Dialect> {
        match kind {
            "postgres" => Some(Dialect::Postgres),
            "mysql" => Some(Dialect::MySql),
            _ => None,
        }
    }

    /// The database's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Dialect::Postgres => 5432,
            Dialect::MySql => 3306,
        }
    }

    /// The scheme of the `database` address the journal shows.
    pub fn scheme(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlStep {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Formulas bound to `$1`, `$2`… (or to `?` in order on MySQL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_write: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlSpec {
    pub connection: String,
    pub query: String,
    /// Stored formulas.
    pub params: Vec<String>,
    pub allow_write: bool,
    pub max_rows: u32,
    pub timeout_ms: u64,
}

impl SqlSpec {
    /// A read is sent again after a crash; a write is not.
    pub fn resendable(&self) -> bool {
        !self.allow_write
    }

    /// The statement sent for a read: the query's rows as JSON, one more than kept (to tell truncation).
    /// A number a JSON number would not carry exactly — one with a fraction or an exponent (`NUMERIC`
    /// `10.50`, `REAL`, `DOUBLE PRECISION`) or more than 15 digits — comes as its exact text.
    pub fn read_statement(&self) -> String {
        format!(
            "SELECT (SELECT COALESCE(jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'number' \
             AND (e.value::text ~ '[.eE]' OR length(e.value::text) > 15) THEN to_jsonb(e.value #>> '{{}}') \
             ELSE e.value END), '{{}}'::jsonb) FROM jsonb_each(to_jsonb(t)) AS e) \
             FROM ({}) AS t LIMIT {}",
            self.query,
            self.max_rows + 1
        )
    }
}

/// The step's output of a read: `{rows, count, truncated, value}` (`value`: the first row's value as text
/// when the query returns one column, else null — rows are JSON objects, whose keys carry no order).
pub fn read_output(mut rows: Vec<Value>, max_rows: u32) -> Value {
    let truncated = rows.len() > max_rows as usize;
    rows.truncate(max_rows as usize);
    let value = rows
        .first()
        .and_then(Value::as_object)
        .filter(|row| row.len() == 1)
        .and_then(|row| row.values().next())
        .map_or(Value::Null, |v| match v {
            Value::String(text) => Value::String(text.clone()),
            Value::Null => Value::Null,
            other => Value::String(other.to_string()),
        });
    serde_json::json!({"count": rows.len(), "truncated": truncated, "value": value, "rows": rows})
}

/// Checks the step's own options; `params` are the stored formulas (checked by the caller; `None` when
/// one did not check).
pub fn compile(
    step: &SqlStep,
    params: Option<Vec<String>>,
    at: &str,
    check: &mut Checker,
) -> Option<SqlSpec> {
    let mut fine = true;
    let connection = step.connection.as_deref().map(str::trim).unwrap_or("");
    if connection.is_empty() {
        check.push(
            format!("{at}.connection"),
            DetailCode::Required,
            "connection: the key of a connection of kind postgres or mysql",
        );
        fine = false;
    }
    let query = step
        .query
        .as_deref()
        .unwrap_or("")
        .trim()
        .trim_end_matches(';')
        .trim();
    if query.is_empty() {
        check.push(
            format!("{at}.query"),
            DetailCode::Required,
            "query: one SQL statement; values go in params ($1, $2…, or ? on MySQL)",
        );
        fine = false;
    } else if query.chars().count() > QUERY_CHARS_MAX || query.contains(';') {
        check.push(
            format!("{at}.query"),
            DetailCode::InvalidValue,
            "query is one statement (no ;) of at most 16,384 characters",
        );
        fine = false;
    }
    if step.params.len() > PARAMS_MAX {
        check.too_many(
            format!("{at}.params"),
            PARAMS_MAX,
            "a statement takes at most 32 params",
        );
        fine = false;
    }
    let max_rows = step.max_rows.unwrap_or(ROWS_DEFAULT);
    if max_rows == 0 || max_rows > ROWS_MAX {
        check.add(
            tenon_model::Reason::new(DetailCode::OutOfRange, "max_rows is from 1 to 1,000")
                .with("min", 1)
                .with("max", ROWS_MAX)
                .at(format!("{at}.max_rows")),
        );
        fine = false;
    }
    let timeout_ms = match &step.timeout {
        None => TIMEOUT_DEFAULT_MS,
        Some(text) => match crate::wait::parse_duration(text) {
            Ok(wait) => {
                let ms = u64::try_from(wait.num_milliseconds()).unwrap_or(u64::MAX);
                if ms > TIMEOUT_MAX_MS || ms == 0 {
                    check.add(
                        tenon_model::Reason::new(
                            DetailCode::TooLarge,
                            "a statement runs at most 30s",
                        )
                        .with("max", "30s")
                        .at(format!("{at}.timeout")),
                    );
                    fine = false;
                }
                ms
            }
            Err(reason) => {
                check.format(format!("{at}.timeout"), "duration", reason);
                fine = false;
                TIMEOUT_DEFAULT_MS
            }
        },
    };
    let params = params?;
    fine.then(|| SqlSpec {
        connection: connection.to_owned(),
        query: query.to_owned(),
        params,
        allow_write: step.allow_write,
        max_rows,
        timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_checked_and_reads_are_wrapped_and_capped() {
        let step: SqlStep = serde_json::from_value(
            json!({"key": "q", "query": "SELECT 1; DROP TABLE x", "max_rows": 0, "timeout": "1m"}),
        )
        .unwrap();
        let mut check = Checker::default();
        assert!(compile(&step, Some(vec![]), "s", &mut check).is_none());
        let mut fields: Vec<String> = check
            .finish()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["s.connection", "s.max_rows", "s.query", "s.timeout"]
        );
        let step: SqlStep = serde_json::from_value(
            json!({"key": "q", "connection": "wh", "query": "SELECT sku FROM stock;", "max_rows": 2}),
        )
        .unwrap();
        let mut check = Checker::default();
        let spec = compile(&step, Some(vec![]), "s", &mut check).unwrap();
        assert!(
            spec.read_statement().ends_with(
                "FROM jsonb_each(to_jsonb(t)) AS e) FROM (SELECT sku FROM stock) AS t LIMIT 3"
            ),
            "{}",
            spec.read_statement()
        );
        assert!(spec.resendable());
        let output = read_output(
            vec![json!({"sku": 7}), json!({"sku": 8}), json!({"sku": 9})],
            2,
        );
        assert_eq!(output["count"], 2);
        assert_eq!(output["truncated"], true);
        assert_eq!(output["value"], "7");
    }
}
