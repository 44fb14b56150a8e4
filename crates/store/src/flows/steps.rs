//! Advancing a run by one step, in one transaction fenced by the claim's epoch.
//!
//! [`Store::advance_flow_run`] renews the lease only if the run's `lease_epoch` is still the claim's (a
//! worker that lost its lease — it stalled past the lease and another node claimed the run — changes
//! nothing), asks `tenon_flows::state::next` what to do, and does it: an internal step's write (records
//! through the records module, with the same checks, audit entries, events and watch hook as the API;
//! inbox messages) commits together with the step's journal row, so a crash before the commit leaves
//! neither and the step runs again, and a crash after leaves both: exactly once. A step that fails rolls
//! its transaction back — nothing of it is written — and a second transaction journals the failure:
//! retried later (`retry_wait`, the run `waiting` until then) or failed for good, which fails the run and
//! appends `flow.run.failed`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use tenon_flows::compile::{Action, CompiledFlow};
use tenon_flows::retry::{Decision, Failure, RetryPolicy};
use tenon_flows::state::{self, Journaled, Next, RunEvent};
use tenon_flows::{RunStatus, StepStatus};
use tenon_model::{Actor, FlowRunId, TargetKind};
use uuid::Uuid;

use super::actions::StepFailure;
use super::control::Progress;
use super::runs::Claim;
use super::{FLOW_LEASE_SECONDS, FlowRun, STEP_OUTPUT_BYTES_MAX};
use crate::audit::{self, NamedChange};
use crate::events::ExplicitEvent;
use crate::exec::{Conn, Sql, Tx};
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// What one call of [`Store::advance_flow_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// A step was done (or skipped): call again.
    Continue,
    /// The run waits (a retry later); the claim is released.
    Waiting,
    /// The run ended.
    Finished(RunStatus),
    /// The claim's epoch is no longer the run's (or the run was canceled): stop.
    Lost,
    /// An outside step was journaled `running`: the worker sends this request, then hands the answer to
    /// [`Store::finish_outside_step`].
    Outside(Box<super::OutsideCall>),
}

/// Steps of one run a batch chains in its transaction before the run goes on one step per transaction.
const CHAINED_STEPS: usize = 16;

/// What one step did inside its caller's transaction.
enum Stepped {
    /// Commit, then report `advance`; `chain`: the next step of the run may go on in the same transaction
    /// (the step was an internal one that finished within it).
    Done { advance: Advance, chain: bool },
    /// The step failed: roll back (nothing of it is kept), then journal the failure alone.
    Failed {
        compiled: Arc<CompiledFlow>,
        key: String,
        attempts: i32,
        failed: StepFailure,
    },
}

impl Store {
    /// Advances a claimed run by one step (see the module documentation).
    pub async fn advance_flow_run(&self, claim: &Claim) -> Result<Advance> {
        self.tenant(claim.org_id).advance_run(claim).await
    }

    /// Advances claimed runs with their internal steps chained: each run's steps one after the other (at
    /// most [`CHAINED_STEPS`] per run) in one transaction, until it finishes, waits, reaches an outside
    /// step, a step that spans transactions (`wait`, `for_each`, `call_flow`, `wait_approval`, a notify to
    /// phones or addresses) or its claim is lost. Every step's writes and journal row still commit
    /// together.
    ///
    /// On SQLite, whose single writer serializes every write anyway, all the claimed runs share one
    /// transaction (one commit for the batch). On PostgreSQL each run has its own: a transaction holds
    /// its organization's event counter from its first event to its commit, and a long one would keep
    /// every other writer of the organization waiting.
    ///
    /// One answer per claim, in order: `None` when the claim's transaction was rolled back because a step
    /// failed or a statement erred (on SQLite: every claim of the batch), nothing of it written — the
    /// caller advances that run one step per transaction ([`Store::advance_flow_run`]), where the
    /// failure is journaled alone. [`Advance::Continue`] means the run goes on one step per transaction.
    pub async fn advance_flow_runs(&self, claims: &[Claim]) -> Result<Vec<Option<Advance>>> {
        if self.backend() == crate::Backend::Postgres {
            let mut advances = Vec::with_capacity(claims.len());
            for claim in claims {
                let advance = self
                    .advance_together(std::slice::from_ref(claim))
                    .await?
                    .and_then(|mut one| one.pop());
                advances.push(advance);
            }
            return Ok(advances);
        }
        Ok(match self.advance_together(claims).await? {
            Some(advances) => advances.into_iter().map(Some).collect(),
            None => vec![None; claims.len()],
        })
    }

    /// Advances `claims` in one transaction (see [`Store::advance_flow_runs`]); `None` when it was rolled
    /// back.
    async fn advance_together(&self, claims: &[Claim]) -> Result<Option<Vec<Advance>>> {
        let mut tx = self.begin_tx().await?;
        let mut advances = Vec::with_capacity(claims.len());
        {
            let mut conn = tx.conn();
            for claim in claims {
                let tenant = self.tenant(claim.org_id);
                let mut chained = 0;
                let advance = loop {
                    match tenant.step_in(&mut conn, claim, true).await {
                        Ok(Stepped::Done {
                            advance: Advance::Continue,
                            chain: true,
                        }) if chained + 1 < CHAINED_STEPS => chained += 1,
                        Ok(Stepped::Done { advance, .. }) => break advance,
                        Ok(Stepped::Failed { .. }) | Err(_) => return Ok(None),
                    }
                };
                advances.push(advance);
            }
        }
        tx.commit().await?;
        Ok(Some(advances))
    }
}

impl Tenant<'_> {
    /// Renews the claim's lease if its epoch is current; the run becomes `running`.
    pub(super) async fn fence(&self, conn: &mut Conn<'_>, claim: &Claim) -> Result<bool> {
        let now = self.store.now();
        let renewed = conn
            .execute(
                Sql::new(
                    "UPDATE flow_runs SET lease_until = $4, status = 'running', started_at = COALESCE(started_at, $5) \
                     WHERE organization_id = $1 AND id = $2 AND lease_epoch = $3 \
                     AND status IN ('queued', 'running', 'waiting')",
                )
                .bind(self.org_id)
                .bind(claim.run_id)
                .bind(claim.epoch)
                .bind(now + Duration::seconds(FLOW_LEASE_SECONDS))
                .bind(now),
            )
            .await?;
        Ok(renewed == 1)
    }

    /// Opens a step's transaction: the claim's lease renewed (the fence) and the run loaded; `None`
    /// when the claim is lost.
    pub(super) async fn fenced_run(&self, claim: &Claim) -> Result<Option<(Tx, FlowRun)>> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if !self.fence(&mut conn, claim).await? {
            return Ok(None);
        }
        let run = self
            .load_run(&mut conn, claim.run_id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        Ok(Some((tx, run)))
    }

    async fn advance_run(&self, claim: &Claim) -> Result<Advance> {
        let mut tx = self.store.begin_tx().await?;
        let stepped = self.step_in(&mut tx.conn(), claim, false).await?;
        match stepped {
            Stepped::Done { advance, .. } => {
                tx.commit().await?;
                Ok(advance)
            }
            Stepped::Failed {
                compiled,
                key,
                attempts,
                failed,
            } => {
                // Nothing of the step is kept: roll back, then journal the failure alone.
                drop(tx);
                self.step_failed(claim, &compiled, &key, attempts, failed)
                    .await
            }
        }
    }

    /// One step of a claimed run in the caller's transaction: the claim's lease renewed (the fence), the
    /// run loaded, the step done and journaled. Commits nothing; a lost claim writes nothing.
    ///
    /// `batched`: the transaction is a batch's ([`Store::advance_flow_runs`]), whose runs' outside calls
    /// the worker would send one after the other once it commits. A step that reaches outside is then
    /// left alone ([`Advance::Continue`], nothing written): the worker takes it in a transaction of its
    /// own just before sending, so a message is journaled `running` only when it is about to go out, and
    /// a crash leaves at most the one request in flight unclear (`unknown_outcome`) — not every run of
    /// the batch.
    async fn step_in(&self, conn: &mut Conn<'_>, claim: &Claim, batched: bool) -> Result<Stepped> {
        if !self.fence(conn, claim).await? {
            return Ok(Stepped::Done {
                advance: Advance::Lost,
                chain: false,
            });
        }
        let run = self
            .load_run(conn, claim.run_id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        let compiled = self
            .committed_flow_version(conn, run.flow_id, run.version)
            .await?;
        let mut journal: HashMap<String, Journaled> = run
            .steps
            .iter()
            .map(|entry| {
                (
                    entry.key.clone(),
                    Journaled {
                        status: entry.status,
                        branch: entry.branch,
                    },
                )
            })
            .collect();
        // Whether the next step may follow in this transaction: after a skip or an internal step done.
        let mut chain = false;
        let advance = match state::next(&compiled.plan(), &journal) {
            Next::Done => {
                self.end_run(conn, &run, RunStatus::Succeeded, None).await?;
                Advance::Finished(RunStatus::Succeeded)
            }
            Next::Failed(key) => {
                let error = run
                    .steps
                    .iter()
                    .find(|entry| entry.key == key)
                    .and_then(|entry| entry.error.clone());
                self.end_run(
                    conn,
                    &run,
                    RunStatus::Failed,
                    Some(json!({"step": key, "error": error})),
                )
                .await?;
                Advance::Finished(RunStatus::Failed)
            }
            Next::Blocked(_) => {
                self.park(conn, &run, Duration::days(1)).await?;
                Advance::Waiting
            }
            Next::Skip(key) => {
                let position = position(&compiled, &key);
                let step_type = compiled.step(&key).map_or("if", |s| s.action.type_name());
                self.journal(
                    conn,
                    run.id,
                    &key,
                    position,
                    step_type,
                    StepStatus::Skipped,
                    0,
                    None,
                    None,
                    None,
                    None,
                )
                .await?;
                chain = true;
                Advance::Continue
            }
            Next::Execute(key) => {
                let index = usize::try_from(position(&compiled, &key)).unwrap_or(0);
                if batched && state::reaches_outside(&compiled.steps[index].action) {
                    return Ok(Stepped::Done {
                        advance: Advance::Continue,
                        chain: false,
                    });
                }
                // A step journaled `running` is under way (a wait, a for_each between batches): the same
                // attempt goes on.
                let attempts = run
                    .steps
                    .iter()
                    .find(|entry| entry.key == key)
                    .map_or(1, |entry| {
                        entry.attempts + i32::from(entry.status != StepStatus::Running)
                    });
                if let Action::Http(_)
                | Action::Robot(_)
                | Action::Sms(_)
                | Action::Email(_)
                | Action::Voucher(_)
                | Action::Sql(_) = &compiled.steps[index].action
                {
                    let entry = run.steps.iter().find(|entry| entry.key == key);
                    return Ok(
                        match self
                            .outside_step(conn, &run, &compiled, index, entry, attempts)
                            .await
                        {
                            Ok(advance) => Stepped::Done {
                                advance,
                                chain: false,
                            },
                            Err(failed) => Stepped::Failed {
                                compiled: compiled.clone(),
                                key,
                                attempts,
                                failed,
                            },
                        },
                    );
                }
                let mut plain = false;
                let result = match &compiled.steps[index].action {
                    Action::Wait { .. } => self.wait_step(conn, &run, &compiled, index).await,
                    Action::ForEach { .. } => {
                        self.for_each_step(conn, &run, &compiled, index).await
                    }
                    Action::Notify { phones, emails, .. }
                        if phones.is_some() || emails.is_some() =>
                    {
                        self.notify_step(conn, &run, &compiled, index).await
                    }
                    Action::CallFlow { .. } => self.call_step(conn, &run, &compiled, index).await,
                    Action::WaitApproval { .. } => {
                        self.wait_approval_step(conn, &run, &compiled, index).await
                    }
                    _ => {
                        plain = true;
                        self.execute(conn, &run, &compiled, index)
                            .await
                            .map(Progress::Done)
                    }
                };
                let step_type = compiled.steps[index].action.type_name();
                let at = position(&compiled, &key);
                match result {
                    Ok(Progress::Done(outcome)) => {
                        self.journal(
                            conn,
                            run.id,
                            &key,
                            at,
                            step_type,
                            StepStatus::Succeeded,
                            attempts,
                            outcome.branch,
                            Some(outcome.input),
                            Some(cap(outcome.output)),
                            None,
                        )
                        .await?;
                        // The run's last step: the run ends in the step's own transaction, not in one
                        // more.
                        journal.insert(
                            key.clone(),
                            Journaled {
                                status: StepStatus::Succeeded,
                                branch: outcome.branch,
                            },
                        );
                        if matches!(state::next(&compiled.plan(), &journal), Next::Done) {
                            self.end_run(conn, &run, RunStatus::Succeeded, None).await?;
                            Advance::Finished(RunStatus::Succeeded)
                        } else {
                            chain = plain;
                            Advance::Continue
                        }
                    }
                    Ok(Progress::Holds {
                        input,
                        output,
                        until,
                    }) => {
                        self.journal(
                            conn,
                            run.id,
                            &key,
                            at,
                            step_type,
                            StepStatus::Running,
                            attempts,
                            None,
                            Some(input),
                            output,
                            None,
                        )
                        .await?;
                        match until {
                            Some(until) => {
                                let now = self.store.now();
                                self.park(conn, &run, until - now).await?;
                                Advance::Waiting
                            }
                            None => Advance::Continue,
                        }
                    }
                    Ok(Progress::Outside { input, call }) => {
                        self.journal(
                            conn,
                            run.id,
                            &key,
                            at,
                            step_type,
                            StepStatus::Running,
                            attempts,
                            None,
                            Some(input),
                            None,
                            None,
                        )
                        .await?;
                        Advance::Outside(Box::new(super::OutsideCall {
                            attempt: attempts,
                            ..*call
                        }))
                    }
                    Ok(Progress::Parked) => Advance::Waiting,
                    Err(failed) => {
                        return Ok(Stepped::Failed {
                            compiled: compiled.clone(),
                            key,
                            attempts,
                            failed,
                        });
                    }
                }
            }
        };
        Ok(Stepped::Done { advance, chain })
    }

    /// Journals a failed attempt in its own transaction (still fenced).
    pub(super) async fn step_failed(
        &self,
        claim: &Claim,
        compiled: &CompiledFlow,
        key: &str,
        attempts: i32,
        failed: StepFailure,
    ) -> Result<Advance> {
        let Some((mut tx, run)) = self.fenced_run(claim).await? else {
            return Ok(Advance::Lost);
        };
        let mut conn = tx.conn();
        let jitter = (Uuid::now_v7().as_u128() & 0xffff) as f64 / 65_535.0 * 2.0 - 1.0;
        let policy = match compiled.step(key).map(|step| &step.action) {
            Some(Action::Http(spec)) => spec.policy(),
            Some(Action::Voucher(spec)) => spec.policy(),
            _ => RetryPolicy::default(),
        };
        let decision = policy.decide(
            u32::try_from(attempts).unwrap_or(u32::MAX),
            &failed.failure,
            jitter,
        );
        let error = json!({
            "kind": failure_kind(&failed.failure),
            "message": failed.reason,
            "attempt": attempts,
        });
        let step_type = compiled.step(key).map_or("", |s| s.action.type_name());
        let (status, advance) = match decision {
            Decision::RetryAfter(wait) => {
                self.park(&mut conn, &run, wait).await?;
                (StepStatus::RetryWait, Advance::Waiting)
            }
            Decision::Fail => (StepStatus::Failed, Advance::Continue),
        };
        self.journal(
            &mut conn,
            run.id,
            key,
            position(compiled, key),
            step_type,
            status,
            attempts,
            None,
            Some(*failed.input),
            None,
            Some(error.clone()),
        )
        .await?;
        let advance = if status == StepStatus::Failed {
            self.end_run(
                &mut conn,
                &run,
                RunStatus::Failed,
                Some(json!({"step": key, "error": error})),
            )
            .await?;
            Advance::Finished(RunStatus::Failed)
        } else {
            advance
        };
        tx.commit().await?;
        Ok(advance)
    }

    /// The run waits `wait` (a retry, a person); the claim is released.
    pub(super) async fn park(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        wait: Duration,
    ) -> Result<()> {
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE flow_runs SET status = 'waiting', next_at = $3, lease_owner = NULL, lease_until = NULL \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(run.id)
            .bind(now + wait),
        )
        .await?;
        Ok(())
    }

    /// Ends a run; a failure appends `flow.run.failed` (with its audit entry).
    async fn end_run(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        status: RunStatus,
        error: Option<Value>,
    ) -> Result<()> {
        let event = if status == RunStatus::Failed {
            RunEvent::Fail
        } else {
            RunEvent::Succeed
        };
        run.status
            .apply(RunEvent::Claim)
            .and_then(|running| running.apply(event))
            .or_else(|_| RunStatus::Running.apply(event))
            .map_err(|illegal| StoreError::Corrupt(illegal.to_string()))?;
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE flow_runs SET status = $3, error = $4, finished_at = $5, lease_owner = NULL, lease_until = NULL \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(run.id)
            .bind(status.as_str())
            .bind(error.clone())
            .bind(now),
        )
        .await?;
        self.wake_caller(conn, run).await?;
        if status == RunStatus::Failed {
            let ctx = flow_context(run);
            let data = json!({
                "run": {
                    "id": run.id.to_string(),
                    "flow": run.flow_key,
                    "flow_id": run.flow_id.to_string(),
                    "version": run.version,
                    "status": "failed",
                    "error": error,
                }
            });
            audit::record_with_events(
                conn,
                self,
                NamedChange {
                    target_kind: TargetKind::FlowRun,
                    target_id: run.id.to_string(),
                    action: "failed",
                    before: None,
                    after: Some(data.clone()),
                    ctx: &ctx,
                    events: vec![ExplicitEvent {
                        id: tenon_model::EventId::new(),
                        event_type: "flow.run.failed",
                        subject: json!({"type": "flow_run", "id": run.id.to_string()}),
                        subject_key: format!("flow_run:{}", run.id),
                        app_id: None,
                        table_id: None,
                        data,
                    }],
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Writes a step's journal row (inserted the first time, updated after).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn journal(
        &self,
        conn: &mut Conn<'_>,
        run: FlowRunId,
        key: &str,
        position: i32,
        step_type: &str,
        status: StepStatus,
        attempts: i32,
        branch: Option<bool>,
        input: Option<Value>,
        output: Option<Value>,
        error: Option<Value>,
    ) -> Result<()> {
        let now = self.store.now();
        let finished =
            (!matches!(status, StepStatus::RetryWait | StepStatus::Running)).then_some(now);
        conn.execute(
            Sql::new(
                "INSERT INTO flow_steps (organization_id, run_id, key, position, type, status, attempts, branch, \
                 input, output, error, started_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (organization_id, run_id, key) DO UPDATE SET status = excluded.status, \
                 attempts = excluded.attempts, branch = excluded.branch, input = excluded.input, \
                 output = excluded.output, error = excluded.error, finished_at = excluded.finished_at",
            )
            .bind(self.org_id)
            .bind(run)
            .bind(key)
            .bind(position)
            .bind(step_type)
            .bind(status.as_str())
            .bind(attempts)
            .bind(branch)
            .bind(input)
            .bind(output)
            .bind(error)
            .bind(now)
            .bind(finished),
        )
        .await?;
        Ok(())
    }
}

/// The actor a run writes as.
pub(super) fn flow_context(run: &FlowRun) -> WriteContext {
    WriteContext {
        actor: Actor::Flow {
            run_id: run.id,
            name: run.flow_key.clone(),
            flow_id: run.flow_id,
            depth: run.depth,
        },
        request_id: None,
    }
}

pub(super) fn position(compiled: &CompiledFlow, key: &str) -> i32 {
    compiled
        .steps
        .iter()
        .position(|step| step.key == key)
        .and_then(|i| i32::try_from(i).ok())
        .unwrap_or(0)
}

/// Keeps outputs under 64 KiB: a `find`'s records go first (its ids stay, for a `for_each`), then all.
pub(super) fn cap(mut output: Value) -> Value {
    let size = output.to_string().len();
    if size <= STEP_OUTPUT_BYTES_MAX {
        return output;
    }
    if let Some(map) = output.as_object_mut()
        && map.remove("records").is_some()
    {
        map.insert("records_truncated".to_owned(), json!(true));
        if output.to_string().len() <= STEP_OUTPUT_BYTES_MAX {
            return output;
        }
    }
    json!({"truncated": true, "bytes": size})
}

fn failure_kind(failure: &Failure) -> &'static str {
    match failure {
        Failure::Connect => "connect",
        Failure::Timeout => "timeout",
        Failure::Status { .. } => "status",
        Failure::Unavailable => "unavailable",
        Failure::Mapping => "mapping",
        Failure::Refused => "refused",
    }
}
