//! The `sql` step on MySQL or MariaDB (a `mysql` connection; see `tenon_flows::sql` and
//! `tenon_flows::sql_mysql`), once [`crate::sql::run`] has checked the host.
//!
//! The session is set first: the statement timeout on the server (MariaDB's `max_statement_time`;
//! MySQL's `max_execution_time`, which bounds reads only), `innodb_lock_wait_timeout`, and for a read
//! `sql_select_limit` (one row more than kept). The database's own `sql_mode` is left as it is. A read
//! runs in `START TRANSACTION READ ONLY`, and only once MySQL has prepared it and said it returns rows:
//! a statement that returns none — an `UPDATE`, a DDL statement (which MySQL would commit implicitly,
//! outside the read-only transaction), a `CALL`, a `SELECT … INTO` — fails the step without running. Rows
//! are read until one more than kept, then the transaction is rolled back. A write runs in
//! `START TRANSACTION` and is committed; a connection lost while committing is an unclear outcome.
//!
//! Values come out as the PostgreSQL kind's: integers and floats as JSON numbers, DECIMAL as its exact
//! text (`"12.50"`), DATE `2024-05-01`, DATETIME `2024-05-01T08:30:00` (fractions as given), TIMESTAMP in
//! UTC `2024-05-01T08:30:00+00:00` (the session's `time_zone` is `+00:00`), TIME `08:30:00`, text as
//! strings, binary as `\x` and lowercase hex (as PostgreSQL's bytea), a MySQL JSON column as JSON (on
//! MariaDB JSON is text), NULL as null.
#![allow(clippy::disallowed_types)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::{Map, Number, Value, json};
use sqlx::error::BoxDynError;
use sqlx::mysql::{
    MySql, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow, MySqlSslMode,
    MySqlValueRef,
};
use sqlx::{
    AssertSqlSafe, Column, Connection, Decode, Executor, Row, SqlSafeStr, Statement, Type,
    TypeInfo, ValueRef,
};
use tenon_flows::retry::Failure;
use tenon_store::flows::{OutsideAnswer, OutsideCall, SqlRun};

use crate::sql::failed;

/// MySQL error numbers worth another attempt: too many connections (1040, 1203, 1226), a lock wait or a
/// deadlock (1205, 1213), an interrupted or timed-out statement (1317; 1969 MariaDB's and 3024 MySQL's
/// statement timeout), the server going away (1053, 1927), a statement to prepare again (1615).
const RETRY_NUMBERS: &[u16] = &[
    1040, 1053, 1203, 1205, 1213, 1226, 1317, 1615, 1927, 1969, 3024,
];

/// A database error: the numbers above and SQLSTATE classes 08 (connection) and 40 (rollback) retry,
/// the rest fail the step with MySQL's number, SQLSTATE and message.
fn database_failure(error: &sqlx::Error) -> OutsideAnswer {
    match error {
        sqlx::Error::Database(db) => {
            let (number, state) = db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map_or((0, ""), |e| (e.number(), e.code().unwrap_or("")));
            let retry = RETRY_NUMBERS.contains(&number)
                || state.starts_with("08")
                || state.starts_with("40");
            let failure = if retry {
                Failure::Timeout
            } else {
                Failure::Refused
            };
            failed(
                failure,
                format!("MySQL {number} ({state}): {}", db.message()),
            )
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            failed(Failure::Connect, format!("MySQL: {error}"))
        }
        other => failed(Failure::Refused, format!("MySQL: {other}")),
    }
}

/// What a statement came to, short of a database error.
enum Done {
    Output(Value),
    /// A read step's statement returns no rows: it was not run.
    NotRows,
}

/// Runs the call's statement on the database at `address` and says what came of it.
pub async fn run(call: &OutsideCall, sql: &SqlRun, address: SocketAddr) -> OutsideAnswer {
    let mut options = MySqlConnectOptions::new()
        .host(&address.ip().to_string())
        .port(address.port())
        .database(&sql.database)
        .username(&sql.username)
        .ssl_mode(match sql.tls.as_deref() {
            Some("none") => MySqlSslMode::Disabled,
            Some(_) => MySqlSslMode::Required,
            None => MySqlSslMode::Preferred,
        })
        // The statement means what it means on that database: its own sql_mode, without the modes
        // sqlx adds by default (`||` as concatenation).
        .pipes_as_concat(false)
        .no_engine_substitution(false)
        .timezone(Some("+00:00".to_owned()));
    if let Some(password) = &sql.password {
        options = options.password(password);
    }
    let mut conn =
        match tokio::time::timeout(call.timeout, MySqlConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(error)) => return database_failure(&error),
            Err(_) => {
                return failed(
                    Failure::Timeout,
                    "MySQL did not accept the connection in time",
                );
            }
        };
    let mut committing = false;
    let work = statement(&mut conn, call, sql, &mut committing);
    let answer = match tokio::time::timeout(call.timeout + Duration::from_secs(2), work).await {
        Ok(Ok(Done::Output(output))) => OutsideAnswer::Output(output),
        Ok(Ok(Done::NotRows)) => failed(
            Failure::Refused,
            "MySQL: the statement returns no rows; a step without allow_write: true runs only a \
             query that returns rows",
        ),
        Ok(Err(error)) if committing && !matches!(error, sqlx::Error::Database(_)) => {
            OutsideAnswer::Unclear(format!("the connection was lost while committing: {error}"))
        }
        Ok(Err(error)) => database_failure(&error),
        Err(_) if sql.allow_write => {
            OutsideAnswer::Unclear("MySQL did not finish the statement in time".to_owned())
        }
        Err(_) => failed(Failure::Timeout, "MySQL did not answer in time"),
    };
    let _ = conn.close().await;
    answer
}

async fn statement(
    conn: &mut MySqlConnection,
    call: &OutsideCall,
    sql: &SqlRun,
    committing: &mut bool,
) -> Result<Done, sqlx::Error> {
    let version: String = conn.fetch_one("SELECT VERSION()").await?.try_get(0)?;
    let ms = call.timeout.as_millis();
    let server_timeout = if version.contains("MariaDB") {
        format!("max_statement_time = {}.{:03}", ms / 1000, ms % 1000)
    } else {
        format!("max_execution_time = {ms}")
    };
    let lock_wait_s = call.timeout.as_secs().max(1);
    let mut settings =
        format!("SET SESSION {server_timeout}, innodb_lock_wait_timeout = {lock_wait_s}");
    if !sql.allow_write {
        settings.push_str(&format!(", sql_select_limit = {}", sql.max_rows + 1));
    }
    conn.execute(AssertSqlSafe(settings)).await?;
    // The step's params, each at every `?` that binds it.
    let bound: Vec<Option<String>> = sql
        .bind
        .iter()
        .map(|&index| sql.params.get(index).cloned().flatten())
        .collect();
    if sql.allow_write {
        conn.execute("START TRANSACTION").await?;
        let mut query = sqlx::query(AssertSqlSafe(sql.statement.clone()));
        for param in bound {
            query = query.bind(param);
        }
        let done = query.execute(&mut *conn).await?;
        *committing = true;
        conn.execute("COMMIT").await?;
        return Ok(Done::Output(
            json!({"affected": done.rows_affected(), "count": 0, "truncated": false,
                   "value": null, "rows": []}),
        ));
    }
    conn.execute("START TRANSACTION READ ONLY").await?;
    let prepared = conn
        .prepare(AssertSqlSafe(sql.statement.clone()).into_sql_str())
        .await?;
    if prepared.columns().is_empty() {
        conn.execute("ROLLBACK").await?;
        return Ok(Done::NotRows);
    }
    let mut query = prepared.query();
    for param in bound {
        query = query.bind(param);
    }
    let mut values = Vec::new();
    {
        let mut rows = query.fetch(&mut *conn);
        while values.len() <= sql.max_rows as usize {
            match rows.try_next().await? {
                Some(row) => values.push(row_json(&row)?),
                None => break,
            }
        }
    }
    conn.execute("ROLLBACK").await?;
    let mut output = tenon_flows::sql::read_output(values, sql.max_rows);
    output["affected"] = json!(0);
    Ok(Done::Output(output))
}

/// A row as a JSON object, its columns in order.
fn row_json(row: &MySqlRow) -> Result<Value, sqlx::Error> {
    let mut object = Map::new();
    for column in row.columns() {
        let raw = row.try_get_raw(column.ordinal())?;
        let value = cell(raw).map_err(|source| sqlx::Error::ColumnDecode {
            index: column.name().to_owned(),
            source,
        })?;
        object.insert(column.name().to_owned(), value);
    }
    Ok(Value::Object(object))
}

/// One value, by its column's type (see the module documentation).
fn cell(raw: MySqlValueRef<'_>) -> Result<Value, BoxDynError> {
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_info = raw.type_info().into_owned();
    let name = type_info.name();
    if <i64 as Type<MySql>>::compatible(&type_info) {
        return Ok(json!(<i64 as Decode<MySql>>::decode(raw)?));
    }
    if <u64 as Type<MySql>>::compatible(&type_info) || matches!(name, "YEAR" | "BIT") {
        return Ok(json!(<u64 as Decode<MySql>>::decode(raw)?));
    }
    Ok(match name {
        "FLOAT" => {
            // Through its shortest text, so FLOAT 0.1 stays 0.1 rather than 0.10000000149011612.
            let text = <f32 as Decode<MySql>>::decode(raw)?.to_string();
            number(text.parse().unwrap_or(f64::NAN))
        }
        "DOUBLE" => number(<f64 as Decode<MySql>>::decode(raw)?),
        "DECIMAL" => Value::String(<&str as Decode<MySql>>::decode(raw)?.to_owned()),
        "DATE" => Value::String(date(temporal(&raw)?)),
        "DATETIME" => Value::String(datetime(temporal(&raw)?)),
        "TIMESTAMP" => Value::String(format!("{}+00:00", datetime(temporal(&raw)?))),
        "TIME" => Value::String(time(temporal(&raw)?)),
        "JSON" => {
            let bytes = <&[u8] as Decode<MySql>>::decode(raw)?;
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        }
        "NULL" => Value::Null,
        _ if <str as Type<MySql>>::compatible(&type_info) => {
            Value::String(<&str as Decode<MySql>>::decode(raw)?.to_owned())
        }
        _ => Value::String(format!(
            "\\x{}",
            hex::encode(<&[u8] as Decode<MySql>>::decode(raw)?)
        )),
    })
}

fn number(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// A DATE, DATETIME, TIMESTAMP or TIME value of the binary protocol, after its length byte.
fn temporal<'r>(raw: &MySqlValueRef<'r>) -> Result<&'r [u8], BoxDynError> {
    let bytes = <&[u8] as Decode<MySql>>::decode(raw.clone())?;
    match bytes.split_first() {
        Some((&len, rest)) if usize::from(len) == rest.len() => Ok(rest),
        _ => Err(format!("a temporal value of {} bytes", bytes.len()).into()),
    }
}

/// `YYYY-MM-DD` from `[year lo, year hi, month, day, …]` (no bytes: MySQL's zero date).
fn date(bytes: &[u8]) -> String {
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let year = u16::from_le_bytes([byte(0), byte(1)]);
    format!("{year:04}-{:02}-{:02}", byte(2), byte(3))
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` from a date's bytes followed by hour, minute, second, microseconds.
fn datetime(bytes: &[u8]) -> String {
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    format!(
        "{}T{:02}:{:02}:{:02}{}",
        date(bytes),
        byte(4),
        byte(5),
        byte(6),
        fraction(bytes.get(7..))
    )
}

/// `[-]HH:MM:SS[.ffffff]` from `[negative, days (4), hour, minute, second, microseconds (4)]`; TIME is a
/// duration, so its hours may pass 24.
fn time(bytes: &[u8]) -> String {
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let days = u32::from_le_bytes([byte(1), byte(2), byte(3), byte(4)]);
    let hours = days * 24 + u32::from(byte(5));
    let sign = if byte(0) == 1 { "-" } else { "" };
    format!(
        "{sign}{hours:02}:{:02}:{:02}{}",
        byte(6),
        byte(7),
        fraction(bytes.get(8..))
    )
}

/// `.ffffff` without its trailing zeros (none for zero), as PostgreSQL prints fractions of a second.
fn fraction(micros: Option<&[u8]>) -> String {
    let micros = match micros {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    };
    if micros == 0 {
        return String::new();
    }
    format!(".{micros:06}").trim_end_matches('0').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_values_print_as_postgresql_prints_them() {
        assert_eq!(date(&[0xe8, 0x07, 5, 1]), "2024-05-01");
        assert_eq!(date(&[]), "0000-00-00", "MySQL's zero date");
        assert_eq!(
            datetime(&[0xe8, 0x07, 5, 1, 8, 30, 0]),
            "2024-05-01T08:30:00"
        );
        assert_eq!(datetime(&[0xe8, 0x07, 5, 1]), "2024-05-01T00:00:00");
        let half = 500_000u32.to_le_bytes();
        assert_eq!(
            datetime(&[
                0xe8, 0x07, 5, 1, 8, 30, 0, half[0], half[1], half[2], half[3]
            ]),
            "2024-05-01T08:30:00.5"
        );
        assert_eq!(time(&[]), "00:00:00");
        assert_eq!(time(&[0, 0, 0, 0, 0, 8, 30, 5]), "08:30:05");
        assert_eq!(
            time(&[1, 2, 0, 0, 0, 3, 0, 0]),
            "-51:00:00",
            "two days and three hours back"
        );
    }
}
