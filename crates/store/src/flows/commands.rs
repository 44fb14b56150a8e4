//! A person's commands on flows and runs besides start, cancel and retry (`runs`): replay a run, resolve
//! a step whose outcome is unknown, enable or disable a flow, delete it.

use serde_json::{Value, json};
use tenon_flows::{RunStatus, StepStatus};
use tenon_model::{DetailCode, FlowRunId, TargetKind};

use super::{FlowRun, StoredFlow};
use crate::audit::{self, NamedChange};
use crate::exec::Sql;
use crate::{Result, StoreError, Tenant, WriteContext};

/// What a person decided about a step whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It happened: the step counts as succeeded and the run goes on.
    Done,
    /// It did not: the step runs again.
    Retry,
}

impl Tenant<'_> {
    /// `POST /api/v1/flow-runs/{id}/replay`: a new run of the flow's current version with the run's
    /// trigger data (`trigger.replay_of` names the run). The original run is unchanged.
    pub async fn replay_flow_run(&self, ctx: &WriteContext, id: FlowRunId) -> Result<FlowRun> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let original = self
            .load_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        let flow = self
            .load_flow(&mut conn, &original.flow_id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("flow"))?;
        if !flow.enabled {
            return Err(StoreError::conflict(
                None,
                DetailCode::NotAllowed,
                format!("flow {} is disabled", flow.key),
            ));
        }
        let mut trigger = original.trigger.clone();
        if let Value::Object(map) = &mut trigger {
            map.insert("replay_of".to_owned(), json!(original.id.to_string()));
        }
        let key = format!("replay:{}:{}", original.id, uuid::Uuid::now_v7());
        let new = self
            .insert_run(
                &mut conn,
                flow.id,
                flow.version,
                &key,
                trigger,
                original.depth,
            )
            .await?;
        self.audit_run(&mut conn, ctx, &original, "replayed")
            .await?;
        let run = self
            .load_run(&mut conn, new)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        tx.commit().await?;
        Ok(run)
    }

    /// `POST /api/v1/flow-runs/{id}/steps/{step}/resolve`: a person decides a step whose outcome is
    /// unknown (`unknown_outcome`): `done` counts it succeeded, `retry` runs it again; the run is queued.
    pub async fn resolve_flow_step(
        &self,
        ctx: &WriteContext,
        id: FlowRunId,
        step: &str,
        resolution: Resolution,
    ) -> Result<FlowRun> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let run = self.lock_run(&mut conn, id).await?;
        let Some(entry) = run.steps.iter().find(|entry| entry.key == step) else {
            return Err(StoreError::not_found("step"));
        };
        let open = matches!(
            run.status,
            RunStatus::Waiting | RunStatus::Queued | RunStatus::Running
        );
        if entry.status != StepStatus::UnknownOutcome || !open {
            return Err(StoreError::conflict(
                Some("status"),
                DetailCode::Conflict,
                format!(
                    "the run is {} and step {step} is {}; only a step whose outcome is unknown is resolved",
                    run.status, entry.status
                ),
            ));
        }
        let now = self.store.now();
        let resolved = json!({"resolved": "done", "by": ctx.actor.id()});
        let pending = entry
            .input
            .as_ref()
            .and_then(|input| input["outside"]["step"].as_str());
        let delivery = entry
            .input
            .as_ref()
            .is_some_and(|input| input["outside"]["delivery"].is_u64());
        let (status, output, input) = match (pending, resolution) {
            // A notify's message to a phone or an address: the step goes on (same attempt), at the
            // next delivery or sending this one again.
            _ if delivery => (
                StepStatus::Running,
                entry.output.clone(),
                entry.input.clone().map(|input| {
                    super::deliveries::delivery_answered(
                        input,
                        (resolution == Resolution::Done).then_some(resolved),
                    )
                }),
            ),
            // A `for_each` item's request: the loop goes on (same attempt), past the step or sending it
            // again.
            (Some(inner), resolution) => (
                StepStatus::Running,
                entry.output.clone(),
                entry.input.clone().map(|input| {
                    super::control::loop_answered(
                        input,
                        inner,
                        (resolution == Resolution::Done).then_some(resolved),
                    )
                }),
            ),
            (None, Resolution::Done) => {
                (StepStatus::Succeeded, Some(resolved), entry.input.clone())
            }
            (None, Resolution::Retry) => (
                StepStatus::Pending,
                entry.output.clone(),
                entry.input.clone(),
            ),
        };
        conn.execute(
            Sql::new(
                "UPDATE flow_steps SET status = $4, output = $5, finished_at = $6, input = $7 \
                 WHERE organization_id = $1 AND run_id = $2 AND key = $3",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(step)
            .bind(status.as_str())
            .bind(output)
            .bind((status == StepStatus::Succeeded).then_some(now))
            .bind(input),
        )
        .await?;
        conn.execute(
            Sql::new(
                "UPDATE flow_runs SET status = 'queued', next_at = $3, lease_epoch = lease_epoch + 1, \
                 lease_owner = NULL, lease_until = NULL WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(now),
        )
        .await?;
        self.store.made_work(&conn, crate::work::FLOW_RUNS);
        if pending.is_none() && !delivery {
            // A voucher step's claim follows the person's decision (see `pushes`).
            self.resolve_voucher_push(&mut conn, id, step, resolution)
                .await?;
        }
        let action = match resolution {
            Resolution::Done => "resolved_done",
            Resolution::Retry => "resolved_retry",
        };
        self.audit_run(&mut conn, ctx, &run, action).await?;
        let run = self
            .load_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        tx.commit().await?;
        Ok(run)
    }

    /// `PATCH /api/v1/flows/{flow}`: enables or disables a flow. A disabled flow starts no runs (its
    /// triggers are ignored; its hook answers 404); runs already started go on.
    pub async fn set_flow_enabled(
        &self,
        ctx: &WriteContext,
        reference: &str,
        enabled: bool,
    ) -> Result<StoredFlow> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let flow = self
            .load_flow(&mut conn, reference)
            .await?
            .ok_or_else(|| StoreError::not_found("flow"))?;
        if flow.enabled != enabled {
            conn.execute(
                Sql::new(
                    "UPDATE flows SET enabled = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(flow.id)
                .bind(enabled)
                .bind(self.store.now()),
            )
            .await?;
            audit::record_with_events(
                &mut conn,
                self,
                NamedChange {
                    target_kind: TargetKind::Flow,
                    target_id: flow.id.to_string(),
                    action: if enabled { "enabled" } else { "disabled" },
                    before: Some(json!({"enabled": flow.enabled})),
                    after: Some(json!({"enabled": enabled})),
                    ctx,
                    events: Vec::new(),
                },
            )
            .await?;
        }
        let flow = self
            .load_flow(&mut conn, &flow.id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("flow"))?;
        tx.commit().await?;
        Ok(flow)
    }

    /// `DELETE /api/v1/flows/{flow}`: deletes a flow with its versions, runs, journal, hook and slots.
    /// A run being executed stops at its next step (its claim no longer holds).
    pub async fn delete_flow(&self, ctx: &WriteContext, reference: &str) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let flow = self
            .load_flow(&mut conn, reference)
            .await?
            .ok_or_else(|| StoreError::not_found("flow"))?;
        for sql in [
            "DELETE FROM flow_approval_waits WHERE organization_id = $1 AND run_id IN \
             (SELECT id FROM flow_runs WHERE organization_id = $1 AND flow_id = $2)",
            "DELETE FROM flow_steps WHERE organization_id = $1 AND run_id IN \
             (SELECT id FROM flow_runs WHERE organization_id = $1 AND flow_id = $2)",
            "DELETE FROM flow_runs WHERE organization_id = $1 AND flow_id = $2",
            "DELETE FROM flow_hooks WHERE organization_id = $1 AND flow_id = $2",
            "DELETE FROM flow_schedule_slots WHERE organization_id = $1 AND flow_id = $2",
            "DELETE FROM flow_versions WHERE organization_id = $1 AND flow_id = $2",
            "DELETE FROM flows WHERE organization_id = $1 AND id = $2",
        ] {
            conn.execute(Sql::new(sql).bind(self.org_id).bind(flow.id))
                .await?;
        }
        audit::record_with_events(
            &mut conn,
            self,
            NamedChange {
                target_kind: TargetKind::Flow,
                target_id: flow.id.to_string(),
                action: "deleted",
                before: Some(
                    json!({"id": flow.id.to_string(), "key": flow.key, "version": flow.version}),
                ),
                after: None,
                ctx,
                events: Vec::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
