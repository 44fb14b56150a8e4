//! The `sql` step's request, built in the step's journaling transaction: its parameters evaluated over
//! the run's values, the `postgres` connection's secret opened.

use serde_json::Value;
use tenon_flows::compile::CompiledFlow;
use tenon_flows::connection::Auth;
use tenon_flows::sql::SqlSpec;

use super::FlowRun;
use super::actions::StepFailure;
use super::outside::OutsideCall;
use crate::Tenant;
use crate::exec::Conn;

/// What the worker runs for an `sql` step.
#[derive(Clone, PartialEq, Eq)]
pub struct SqlRun {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: Option<String>,
    /// `none`: plain; `starttls`/`tls`: TLS required; absent: TLS when offered.
    pub tls: Option<String>,
    /// The statement as sent (a read wrapped to give JSON rows).
    pub statement: String,
    /// `$1`, `$2`… as text (null for a blank value).
    pub params: Vec<Option<String>>,
    pub allow_write: bool,
    pub max_rows: u32,
}

impl std::fmt::Debug for SqlRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("SqlRun")
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
            .connection_of(conn, &spec.connection, &["postgres"])
            .await?;
        let config = &connection.config;
        let setting = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_owned);
        let sql = SqlRun {
            host: setting("host").unwrap_or_default(),
            port: config
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(5432),
            database: setting("database").unwrap_or_default(),
            username: setting("username").unwrap_or_default(),
            password: secrets.get("password").cloned(),
            tls: setting("tls"),
            statement: if spec.allow_write {
                spec.query.clone()
            } else {
                spec.read_statement()
            },
            params,
            allow_write: spec.allow_write,
            max_rows: spec.max_rows,
        };
        Ok(OutsideCall {
            org_id: self.org_id,
            run_id: run.id,
            step: key.to_owned(),
            attempt: 0,
            method: "SQL".to_owned(),
            url: format!("postgres://{}:{}/{}", sql.host, sql.port, sql.database),
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
