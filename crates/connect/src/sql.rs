//! Running an `sql` step's statement against an external database (see `tenon_flows::sql`): the host,
//! then PostgreSQL here or MySQL/MariaDB in [`crate::mysql`].
//!
//! The host is resolved and checked against the node's outbound policy (private addresses only with
//! `tenon serve --outbound-allow`), then the statement runs in its own transaction — `BEGIN READ ONLY`
//! for a read — with `SET LOCAL statement_timeout`, its params bound as text. A read is rolled back; a
//! write is committed, and a connection lost while committing is an unclear outcome.
//!
//! This is the one place outside `tenon_store::exec` that turns a string into SQL: the statement is the
//! flow author's own (published by an app admin, run against an outside database the organization
//! connected), never built from run values — those are bound parameters.
#![allow(clippy::disallowed_types)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{AssertSqlSafe, Connection, Executor, Row};
use tenon_events::Sender;
use tenon_flows::retry::Failure;
use tenon_flows::sql::Dialect;
use tenon_store::flows::{OutsideAnswer, OutsideCall, SqlRun};

pub(crate) fn failed(failure: Failure, reason: impl Into<String>) -> OutsideAnswer {
    OutsideAnswer::Failed {
        failure,
        reason: reason.into(),
    }
}

/// A database error: transient classes (connection, serialization, resources, canceled — a statement
/// timeout —) retry, the rest fail the step with PostgreSQL's message.
fn database_failure(error: &sqlx::Error) -> OutsideAnswer {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let retry = ["08", "40", "53", "57"]
                .iter()
                .any(|class| code.starts_with(class));
            let failure = if retry {
                Failure::Timeout
            } else {
                Failure::Refused
            };
            failed(failure, format!("PostgreSQL {code}: {}", db.message()))
        }
        other => failed(Failure::Connect, format!("PostgreSQL: {other}")),
    }
}

/// Runs the call's statement and says what came of it.
pub async fn run(sender: &Sender, call: &OutsideCall, sql: &SqlRun) -> OutsideAnswer {
    let address = match resolve(sender, sql).await {
        Ok(address) => address,
        Err(answer) => return answer,
    };
    match sql.dialect {
        Dialect::Postgres => postgres(call, sql, address).await,
        Dialect::MySql => crate::mysql::run(call, sql, address).await,
    }
}

/// The database's address, every address of its host allowed by the outbound policy.
async fn resolve(sender: &Sender, sql: &SqlRun) -> Result<SocketAddr, OutsideAnswer> {
    let addresses = match tokio::net::lookup_host((sql.host.as_str(), sql.port)).await {
        Ok(found) => found.collect::<Vec<_>>(),
        Err(error) => return Err(failed(Failure::Connect, format!("{}: {error}", sql.host))),
    };
    let Some(address) = addresses.first().copied() else {
        return Err(failed(
            Failure::Connect,
            format!("{} has no address", sql.host),
        ));
    };
    for address in &addresses {
        if let Err(blocked) = sender.policy().check_ip(address.ip()) {
            return Err(failed(Failure::Refused, blocked.to_string()));
        }
    }
    Ok(address)
}

async fn postgres(call: &OutsideCall, sql: &SqlRun, address: SocketAddr) -> OutsideAnswer {
    let mut options = PgConnectOptions::new()
        .host(&address.ip().to_string())
        .port(address.port())
        .database(&sql.database)
        .username(&sql.username)
        .ssl_mode(match sql.tls.as_deref() {
            Some("none") => PgSslMode::Disable,
            Some(_) => PgSslMode::Require,
            None => PgSslMode::Prefer,
        });
    if let Some(password) = &sql.password {
        options = options.password(password);
    }
    let mut conn =
        match tokio::time::timeout(call.timeout, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(error)) => return database_failure(&error),
            Err(_) => {
                return failed(
                    Failure::Timeout,
                    "PostgreSQL did not accept the connection in time",
                );
            }
        };
    let mut committing = false;
    let work = statement(&mut conn, call, sql, &mut committing);
    let answer = match tokio::time::timeout(call.timeout + Duration::from_secs(2), work).await {
        Ok(Ok(output)) => OutsideAnswer::Output(output),
        Ok(Err(error)) if committing && !matches!(error, sqlx::Error::Database(_)) => {
            OutsideAnswer::Unclear(format!("the connection was lost while committing: {error}"))
        }
        Ok(Err(error)) => database_failure(&error),
        Err(_) if sql.allow_write => {
            OutsideAnswer::Unclear("PostgreSQL did not finish the statement in time".to_owned())
        }
        Err(_) => failed(Failure::Timeout, "PostgreSQL did not answer in time"),
    };
    let _ = conn.close().await;
    answer
}

async fn statement(
    conn: &mut PgConnection,
    call: &OutsideCall,
    sql: &SqlRun,
    committing: &mut bool,
) -> Result<Value, sqlx::Error> {
    conn.execute(if sql.allow_write {
        "BEGIN"
    } else {
        "BEGIN READ ONLY"
    })
    .await?;
    let ms = call.timeout.as_millis();
    conn.execute(AssertSqlSafe(format!("SET LOCAL statement_timeout = {ms}")))
        .await?;
    let mut query = sqlx::query(AssertSqlSafe(sql.statement.clone()));
    for param in &sql.params {
        query = query.bind(param.clone());
    }
    if sql.allow_write {
        let done = query.execute(&mut *conn).await?;
        *committing = true;
        conn.execute("COMMIT").await?;
        return Ok(
            json!({"affected": done.rows_affected(), "count": 0, "truncated": false,
                         "value": null, "rows": []}),
        );
    }
    let rows = query.fetch_all(&mut *conn).await?;
    conn.execute("ROLLBACK").await?;
    let mut values = Vec::with_capacity(rows.len());
    for row in rows {
        let value: sqlx::types::Json<Value> = row.try_get(0)?;
        values.push(value.0);
    }
    let mut output = tenon_flows::sql::read_output(values, sql.max_rows);
    output["affected"] = json!(0);
    Ok(output)
}
