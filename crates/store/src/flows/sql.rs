//! The `sql` step's request, built in the step's journaling transaction: its parameters evaluated over
//! the run's values, the `postgres` or `mysql` connection's secret opened, and on MySQL the query's
//! placeholders placed (checked again: the connection may have been replaced since publish).

use serde_json::Value;
use tenon_flows::compile::CompiledFlow;
use tenon_flows::connection::Auth;
use tenon_flows::sql::{Dialect, SqlSpec};

use super::FlowRun;
use super::actions::StepFailure;
use super::outside::{OutsideCall, refused};
use crate::Tenant;
use crate::exec::Conn;

/// What the worker runs for an `sql` step.
#[derive(Clone, PartialEq, Eq)]
pub struct SqlRun {
    pub dialect: Dialect,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: Option<String>,
    /// `none`: plain; `starttls`/`tls`: TLS required; absent: TLS when offered.
    pub tls: Option<String>,
    /// The statement as sent (on PostgreSQL a read wrapped to give JSON rows; on MySQL with `?`).
    pub statement: String,
    /// The step's params in order, as text (null for a blank value): `$1`, `$2`…
    pub params: Vec<Option<String>>,
    /// On MySQL, the param each `?` of `statement` binds (0-based); empty on PostgreSQL.
    pub bind: Vec<usize>,
    pub allow_write: bool,
    pub max_rows: u32,
}

impl std::fmt::Debug for SqlRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("SqlRun")
            .field("dialect", &self.dialect)
            .field("host", &self.host)
            .field("database", &self.database)
            .field("statement", &self.statement)
            .finish_non_exhaustive()
    }
}

impl Tenant<'_> {
    pub(super) async fn sql_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
        spec: &SqlSpec,
    ) -> std::result::Result<OutsideCall, StepFailure> {
        let key = compiled.steps[index].key.as_str();
        let stored: Vec<&str> = spec.params.iter().map(String::as_str).collect();
        let values = self
            .step_values(conn, run, compiled, index, &stored)
            .await?;
        let params: Vec<Option<String>> = values
            .iter()
            .map(|value| match value {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                other => Some(other.to_string()),
            })
            .collect();
        let (connection, secrets) = self
            .connection_of(conn, &spec.connection, Dialect::KINDS)
            .await?;
        let Some(dialect) = Dialect::of_kind(&connection.kind) else {
            return Err(refused(format!(
                "connection {} is of kind {}",
                spec.connection, connection.kind
            )));
        };
        let (statement, bind) = match dialect {
            Dialect::Postgres if spec.allow_write => (spec.query.clone(), Vec::new()),
            Dialect::Postgres => (spec.read_statement(), Vec::new()),
            Dialect::MySql => {
                let placed = tenon_flows::sql_mysql::place(&spec.query, params.len())
                    .map_err(|misplaced| refused(misplaced.reason))?;
                (placed.statement, placed.bind)
            }
        };
        let config = &connection.config;
        let setting = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_owned);
        let sql = SqlRun {
            dialect,
            host: setting("host").unwrap_or_default(),
            port: config
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(dialect.default_port()),
            database: setting("database").unwrap_or_default(),
            username: setting("username").unwrap_or_default(),
            password: secrets.get("password").cloned(),
            tls: setting("tls"),
            statement,
            params,
            bind,
            allow_write: spec.allow_write,
            max_rows: spec.max_rows,
        };
        Ok(OutsideCall {
            org_id: self.org_id,
            run_id: run.id,
            step: key.to_owned(),
            attempt: 0,
            method: "SQL".to_owned(),
            url: format!(
                "{}://{}:{}/{}",
                dialect.scheme(),
                sql.host,
                sql.port,
                sql.database
            ),
            headers: Vec::new(),
            body: Some(spec.query.clone()),
            timeout: std::time::Duration::from_millis(spec.timeout_ms),
            idempotency_key: format!("{}:{key}", run.id),
            connection: Some(spec.connection.clone()),
            auth: Auth::None,
            mail: None,
            voucher: None,
            sql: Some(Box::new(sql)),
            inner: None,
            delivery: None,
        })
    }
}
