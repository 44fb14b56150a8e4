//! Runs: claiming them for a worker, reading them, and a person's commands (start, cancel, retry).
//!
//! A claim takes due runs — queued, waiting whose time came, or running whose lease expired (its worker
//! died) — across organizations (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two nodes never claim the
//! same run; SQLite's single writer serializes), bumps each run's `lease_epoch` and sets its lease. The
//! worker then advances the run step by step (`steps`), every step fenced by that epoch.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tenon_flows::{RunStatus, StepStatus};
use tenon_model::{DetailCode, FlowId, FlowRunId, Invalid, OrgId, TargetKind};
use uuid::Uuid;

use super::{FLOW_LEASE_SECONDS, FlowRun, StepEntry};
use crate::audit::{self, NamedChange};
use crate::exec::{Arg, Backend, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// A run a worker holds: until `lease_until`, and only while `epoch` is the run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub org_id: OrgId,
    pub run_id: FlowRunId,
    pub epoch: i64,
}

/// Which runs a list shows.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    /// Runs after this one (keyset pagination, newest first).
    pub before: Option<FlowRunId>,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    flow_id: Uuid,
    flow_key: String,
    version: i32,
    trigger_key: String,
    status: String,
    trigger: sqlx::types::Json<Value>,
    depth: i32,
    error: Option<sqlx::types::Json<Value>>,
    next_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl RunRow {
    fn into_run(self) -> Result<FlowRun> {
        Ok(FlowRun {
            id: FlowRunId::from_uuid(self.id),
            flow_id: FlowId::from_uuid(self.flow_id),
            flow_key: self.flow_key,
            version: self.version,
            trigger_key: self.trigger_key,
            status: RunStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("run status {}", self.status)))?,
            trigger: self.trigger.0,
            depth: u32::try_from(self.depth).unwrap_or(0),
            error: self.error.map(|e| e.0),
            next_at: self.next_at,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            steps: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct StepRow {
    key: String,
    position: i32,
    #[sqlx(rename = "type")]
    step_type: String,
    status: String,
    attempts: i32,
    branch: Option<bool>,
    input: Option<sqlx::types::Json<Value>>,
    output: Option<sqlx::types::Json<Value>>,
    error: Option<sqlx::types::Json<Value>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl StepRow {
    fn into_entry(self) -> Result<StepEntry> {
        Ok(StepEntry {
            status: StepStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("step status {}", self.status)))?,
            key: self.key,
            position: self.position,
            step_type: self.step_type,
            attempts: self.attempts,
            branch: self.branch,
            input: self.input.map(|v| v.0),
            output: self.output.map(|v| v.0),
            error: self.error.map(|v| v.0),
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

impl Store {
    /// Claims up to `limit` due runs for `owner` (a worker's name), each for [`FLOW_LEASE_SECONDS`].
    pub async fn claim_flow_runs(&self, owner: &str, limit: u32) -> Result<Vec<Claim>> {
        let now = self.now();
        // Wake-ups often find nothing due (another worker took it): look on a read connection
        // first, so that an idle check does not take SQLite's write lock (after every write, ahead of
        // the next writer) nor begin a transaction on PostgreSQL.
        let due = self
            .probe(
                Sql::new(
                    "SELECT CAST(1 AS BIGINT) FROM flow_runs \
                     WHERE status IN ('queued', 'running', 'waiting') AND next_at <= $1 \
                     AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
                )
                .bind(now),
            )
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let candidates = match conn.backend() {
            Backend::Postgres => Sql::new(
                "SELECT organization_id, id FROM flow_runs \
                 WHERE status IN ('queued', 'running', 'waiting') AND next_at <= $1 \
                 AND (lease_until IS NULL OR lease_until < $1) \
                 ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            ),
            Backend::Sqlite => Sql::new(
                "SELECT organization_id, id FROM flow_runs \
                 WHERE status IN ('queued', 'running', 'waiting') AND next_at <= $1 \
                 AND (lease_until IS NULL OR lease_until < $1) \
                 ORDER BY next_at LIMIT $2",
            ),
        };
        let found: Vec<(Uuid, Uuid)> = conn.fetch_all(candidates.bind(now).bind(limit)).await?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let until = now + Duration::seconds(FLOW_LEASE_SECONDS);
        let mut sql = SqlText::new(conn.backend());
        sql.push("UPDATE flow_runs SET lease_epoch = lease_epoch + 1, lease_owner = ")
            .arg(Arg::Text(Some(owner.to_owned())))
            .push(", lease_until = ")
            .arg(Arg::Time(Some(until)))
            .push(" WHERE (organization_id, id) IN (VALUES ")
            .rows(
                found
                    .iter()
                    .map(|(org, id)| [Arg::Uuid(Some(*org)), Arg::Uuid(Some(*id))]),
            )
            .push(")");
        conn.execute(sql.into_sql()).await?;
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT organization_id, id, lease_epoch FROM flow_runs WHERE (organization_id, id) IN (VALUES ")
            .rows(
                found
                    .iter()
                    .map(|(org, id)| [Arg::Uuid(Some(*org)), Arg::Uuid(Some(*id))]),
            )
            .push(")");
        let claimed: Vec<(Uuid, Uuid, i64)> = conn.fetch_all(sql.into_sql()).await?;
        tx.commit().await?;
        Ok(claimed
            .into_iter()
            .map(|(org, id, epoch)| Claim {
                org_id: OrgId::from_uuid(org),
                run_id: FlowRunId::from_uuid(id),
                epoch,
            })
            .collect())
    }

    /// The earliest time a run becomes due (for the worker's sleep), if any run is pending.
    pub async fn next_flow_run_due(&self) -> Result<Option<DateTime<Utc>>> {
        let mut pooled = self.pools.read().await?;
        let (due,): (Option<DateTime<Utc>>,) = pooled
            .conn()
            .fetch_one(Sql::new(
                "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_at THEN lease_until ELSE next_at END) \
                 FROM flow_runs WHERE status IN ('queued', 'running', 'waiting')",
            ))
            .await?;
        Ok(due)
    }
}

impl Tenant<'_> {
    pub(crate) async fn load_run(
        &self,
        conn: &mut Conn<'_>,
        id: FlowRunId,
    ) -> Result<Option<FlowRun>> {
        let row: Option<RunRow> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT r.id, r.flow_id, f.key AS flow_key, r.version, r.trigger_key, r.status, r.trigger, \
                     r.depth, r.error, r.next_at, r.created_at, r.started_at, r.finished_at \
                     FROM flow_runs r JOIN flows f ON f.organization_id = r.organization_id AND f.id = r.flow_id \
                     WHERE r.organization_id = $1 AND r.id = $2",
                )
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut run = row.into_run()?;
        run.steps = self.load_steps(conn, id).await?;
        Ok(Some(run))
    }

    pub(crate) async fn load_steps(
        &self,
        conn: &mut Conn<'_>,
        run: FlowRunId,
    ) -> Result<Vec<StepEntry>> {
        let rows: Vec<StepRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT key, position, type, status, attempts, branch, input, output, error, started_at, finished_at \
                     FROM flow_steps WHERE organization_id = $1 AND run_id = $2 ORDER BY position",
                )
                .bind(self.org_id)
                .bind(run),
            )
            .await?;
        rows.into_iter().map(StepRow::into_entry).collect()
    }

    /// `GET /api/v1/flow-runs/{id}`: a run with its journal.
    pub async fn flow_run(&self, id: FlowRunId) -> Result<FlowRun> {
        let mut pooled = self.store.pools.read().await?;
        self.load_run(&mut pooled.conn(), id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))
    }

    /// `GET /api/v1/flows/{flow}/runs`: a flow's runs, newest first (without their journals).
    pub async fn flow_runs(&self, flow: FlowId, filter: &RunFilter) -> Result<Vec<FlowRun>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT r.id, r.flow_id, f.key AS flow_key, r.version, r.trigger_key, r.status, r.trigger, \
             r.depth, r.error, r.next_at, r.created_at, r.started_at, r.finished_at \
             FROM flow_runs r JOIN flows f ON f.organization_id = r.organization_id AND f.id = r.flow_id \
             WHERE r.organization_id = ",
        )
        .arg(Arg::Uuid(Some(*self.org_id.as_uuid())))
        .push(" AND r.flow_id = ")
        .arg(Arg::Uuid(Some(*flow.as_uuid())));
        if let Some(status) = filter.status {
            sql.push(" AND r.status = ")
                .arg(Arg::Text(Some(status.as_str().to_owned())));
        }
        if let Some(before) = filter.before {
            sql.push(" AND r.id < ")
                .arg(Arg::Uuid(Some(*before.as_uuid())));
        }
        sql.push(" ORDER BY r.id DESC")
            .limit(u64::from(filter.limit));
        let rows: Vec<RunRow> = conn.fetch_all(sql.into_sql()).await?;
        rows.into_iter().map(RunRow::into_run).collect()
    }

    /// `POST /api/v1/flows/{flow}/runs`: starts a manual flow with `payload` (checked against its
    /// inputs). With an idempotency key seen before for this flow, the earlier run is returned.
    pub async fn start_flow_run(
        &self,
        ctx: &WriteContext,
        flow: &str,
        payload: Value,
        idempotency_key: Option<&str>,
    ) -> Result<FlowRun> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let flow = self
            .load_flow(&mut conn, flow)
            .await?
            .ok_or_else(|| StoreError::not_found("flow"))?;
        let compiled = self.flow_version(&mut conn, flow.id, flow.version).await?;
        let tenon_flows::compile::CompiledTrigger::Manual { inputs } = &compiled.trigger else {
            return Err(StoreError::conflict(
                None,
                DetailCode::NotAllowed,
                format!("flow {} starts on its trigger, not by hand", flow.key),
            ));
        };
        if !flow.enabled {
            return Err(StoreError::conflict(
                None,
                DetailCode::NotAllowed,
                format!("flow {} is disabled", flow.key),
            ));
        }
        let payload = check_payload(inputs, payload)?;
        let key = match idempotency_key {
            Some(key) => format!("idempotency:{key}"),
            None => format!("manual:{}", uuid::Uuid::now_v7()),
        };
        let depth = match &ctx.actor {
            tenon_model::Actor::Flow { depth, .. } => depth + 1,
            _ => 0,
        };
        let trigger = json!({
            "type": "manual",
            "payload": payload,
            "by": {"type": ctx.actor.kind(), "id": ctx.actor.id(), "name": ctx.actor.name()},
        });
        let id = self
            .insert_run(&mut conn, flow.id, flow.version, &key, trigger, depth)
            .await?;
        let run = self
            .load_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        tx.commit().await?;
        Ok(run)
    }

    /// `POST /api/v1/flow-runs/{id}/cancel`: a run not yet finished stops; its finished steps stay.
    pub async fn cancel_flow_run(&self, ctx: &WriteContext, id: FlowRunId) -> Result<FlowRun> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let run = self.lock_run(&mut conn, id).await?;
        if run
            .status
            .apply(tenon_flows::state::RunEvent::Cancel)
            .is_err()
        {
            return Err(StoreError::conflict(
                Some("status"),
                DetailCode::Conflict,
                format!(
                    "the run is {}; only a queued, running or waiting run can be canceled",
                    run.status
                ),
            ));
        }
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE flow_runs SET status = 'canceled', finished_at = $3, lease_epoch = lease_epoch + 1, \
                 lease_owner = NULL, lease_until = NULL WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(now),
        )
        .await?;
        self.wake_caller(&mut conn, &run).await?;
        self.audit_run(&mut conn, ctx, &run, "canceled").await?;
        let run = self
            .load_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        tx.commit().await?;
        Ok(run)
    }

    /// `POST /api/v1/flow-runs/{id}/steps/{step}/retry`: a failed run tries its failed step again (with
    /// the run's version); steps before it are not repeated.
    pub async fn retry_flow_step(
        &self,
        ctx: &WriteContext,
        id: FlowRunId,
        step: &str,
    ) -> Result<FlowRun> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let run = self.lock_run(&mut conn, id).await?;
        let entry = run.steps.iter().find(|entry| entry.key == step);
        let Some(entry) = entry else {
            return Err(StoreError::not_found("step"));
        };
        if run.status != RunStatus::Failed || entry.status != StepStatus::Failed {
            return Err(StoreError::conflict(
                Some("status"),
                DetailCode::Conflict,
                format!(
                    "the run is {} and step {step} is {}; only a failed step of a failed run is retried",
                    run.status, entry.status
                ),
            ));
        }
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE flow_steps SET status = 'pending', error = NULL \
                 WHERE organization_id = $1 AND run_id = $2 AND key = $3",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(step),
        )
        .await?;
        conn.execute(
            Sql::new(
                "UPDATE flow_runs SET status = 'queued', error = NULL, finished_at = NULL, next_at = $3 \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(now),
        )
        .await?;
        self.store.made_work(&conn, crate::work::FLOW_RUNS);
        self.audit_run(&mut conn, ctx, &run, "retried").await?;
        let run = self
            .load_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        tx.commit().await?;
        Ok(run)
    }

    /// The run, locked for a command (`FOR UPDATE` on PostgreSQL; SQLite's single writer).
    pub(super) async fn lock_run(&self, conn: &mut Conn<'_>, id: FlowRunId) -> Result<FlowRun> {
        if conn.backend() == Backend::Postgres {
            conn.execute(
                Sql::new(
                    "SELECT id FROM flow_runs WHERE organization_id = $1 AND id = $2 FOR UPDATE",
                )
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
        }
        self.load_run(conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))
    }

    pub(super) async fn audit_run(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        run: &FlowRun,
        action: &str,
    ) -> Result<()> {
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::FlowRun,
                target_id: run.id.to_string(),
                action,
                before: Some(json!({"status": run.status.as_str()})),
                after: None,
                ctx,
                events: Vec::new(),
            },
        )
        .await
    }
}

/// A manual run's payload, checked against the flow's inputs (required ones given, types right).
pub(super) fn check_payload(
    inputs: &[tenon_flows::definition::Input],
    payload: Value,
) -> Result<Value> {
    let Value::Object(given) = payload else {
        return Err(Invalid::one(
            "payload",
            DetailCode::InvalidValue,
            "the payload is an object of the flow's inputs",
        )
        .into());
    };
    let mut check = tenon_model::Checker::default();
    tenon_flows::definition::check_payload(inputs, &given, "payload", &mut check);
    check.finish()?;
    Ok(Value::Object(given))
}
