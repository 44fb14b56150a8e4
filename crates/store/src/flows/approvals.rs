//! Flows and approvals: approval triggers (runs inserted in the approval command's transaction, one per
//! event: the trigger key is the `approval.instance.*` event's id), the `start_approval` step (an
//! instance started in the step's transaction, acted by the flow) and the `wait_approval` step (the run
//! `waiting` until the instance is finished; the command that finishes it makes the run due in its own
//! transaction, through `flow_approval_waits`).

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{Map, Value, json};
use tenon_approvals::state::InstanceStatus;
use tenon_approvals::{Acting, Instance};
use tenon_flows::StepStatus;
use tenon_flows::compile::{Action, CompiledFlow, CompiledTrigger};
use tenon_flows::definition::ApprovalOn;
use tenon_flows::retry::Failure;
use tenon_flows::scope::{ids_of, record_json};
use tenon_model::apps::TableSchema;
use tenon_model::apps::formula;
use tenon_model::apps::input::{WriteMode, present};
use tenon_model::{Actor, ApprovalId, EventId, MemberId, TableId};
use uuid::Uuid;

use super::FlowRun;
use super::actions::{Outcome, Step, StepFailure, context, record_id, values};
use super::control::Progress;
use super::steps::flow_context;
use crate::approvals::{CommandError, StartApproval};
use crate::exec::{Backend, Conn, Sql};
use crate::{Result, Tenant, WriteContext};

/// How long a `wait_approval` sleeps before looking again if nothing wakes it.
const WAIT_APPROVAL_RECHECK_HOURS: i64 = 24;

impl Tenant<'_> {
    /// The organization's processes by code, with their tables (publish checks).
    pub(super) async fn process_tables(
        &self,
        conn: &mut Conn<'_>,
    ) -> Result<BTreeMap<String, TableId>> {
        let rows: Vec<(String, Uuid)> = conn
            .fetch_all(
                Sql::new("SELECT code, table_id FROM processes WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(code, table)| (code, TableId::from_uuid(table)))
            .collect())
    }

    /// Called by every approval command in its transaction, once its events exist: inserts the runs of
    /// the approval triggers `fired` (event id, type) match, and, when the instance is finished, makes
    /// the runs waiting on it due.
    pub(crate) async fn approval_changed(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        instance: &Instance,
        fired: &[(EventId, &'static str)],
        schema: &TableSchema,
    ) -> Result<()> {
        if matches!(
            instance.status,
            InstanceStatus::Completed | InstanceStatus::Terminated
        ) {
            // A run a worker holds locked is skipped (PostgreSQL): that worker locks the run, then this
            // instance in `wait_approval`, so waiting for the run here would deadlock; it reads the
            // instance once this command commits and sees it finished.
            let sql = match conn.backend() {
                Backend::Postgres => {
                    "UPDATE flow_runs SET next_at = $3 WHERE organization_id = $1 AND id IN \
                     (SELECT r.id FROM flow_runs r JOIN flow_approval_waits w \
                      ON w.organization_id = r.organization_id AND w.run_id = r.id \
                      WHERE r.organization_id = $1 AND w.approval_id = $2 AND r.status = 'waiting' \
                      FOR UPDATE OF r SKIP LOCKED)"
                }
                Backend::Sqlite => {
                    "UPDATE flow_runs SET next_at = $3 WHERE organization_id = $1 AND status = 'waiting' \
                     AND id IN (SELECT run_id FROM flow_approval_waits WHERE organization_id = $1 AND approval_id = $2)"
                }
            };
            // Nobody reads these two writes' results: on SQLite they go with the next statement.
            conn.execute_unobserved(
                Sql::new(sql)
                    .bind(self.org_id)
                    .bind(instance.id)
                    .bind(self.store.now()),
            )
            .await?;
            conn.execute_unobserved(
                Sql::new(
                    "DELETE FROM flow_approval_waits WHERE organization_id = $1 AND approval_id = $2",
                )
                .bind(self.org_id)
                .bind(instance.id),
            )
            .await?;
            self.store.made_work(conn, crate::work::FLOW_RUNS);
        }
        let events: Vec<(EventId, ApprovalOn)> = fired
            .iter()
            .filter_map(|(id, kind)| Some((*id, ApprovalOn::of_event(kind)?)))
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        let watching = self.watching(conn, instance.record.table).await?;
        let (writer, depth) = match &ctx.actor {
            Actor::Flow { flow_id, depth, .. } => (Some(*flow_id), depth + 1),
            _ => (None, 0),
        };
        let mut fields: Option<Value> = None;
        for flow in watching.iter() {
            let flow_id = flow.id;
            if writer == Some(flow_id) {
                continue;
            }
            let CompiledTrigger::Approval { process, on, .. } = &flow.compiled.trigger else {
                continue;
            };
            if *process != instance.process_code {
                continue;
            }
            for (event, kind) in &events {
                if !on.contains(kind) {
                    continue;
                }
                if fields.is_none() {
                    let record = self
                        .load_records(conn, schema, &[instance.record.id], None)
                        .await?
                        .pop();
                    fields = Some(
                        record
                            .map(|record| record_json(schema, &record))
                            .unwrap_or(Value::Null),
                    );
                }
                let trigger = json!({
                    "type": "approval",
                    "event": kind.as_str(),
                    "event_id": event.to_string(),
                    "instance_id": instance.id.to_string(),
                    "process": instance.process_code,
                    "status": instance.status.as_str(),
                    "result": instance.result.map(|result| result.as_str()),
                    "business_id": instance.business_id,
                    "initiator": instance.initiator.to_string(),
                    "app_id": instance.record.app.to_string(),
                    "table_id": instance.record.table.to_string(),
                    "record_id": instance.record.id.to_string(),
                    "fields": fields.clone().unwrap_or(Value::Null),
                });
                self.insert_run(
                    conn,
                    flow_id,
                    flow.version,
                    &event.to_string(),
                    trigger,
                    depth,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A `start_approval`: an instance of the process on the record given (or created), in the step's
    /// transaction, acted by the flow; the initiator is the step's, else the process's `initiator` rule.
    pub(super) async fn start_approval_action(
        &self,
        conn: &mut Conn<'_>,
        step: &Step<'_>,
        action: &Action,
        formula: &(dyn Fn(&str) -> std::result::Result<formula::Formula, StepFailure> + Sync),
    ) -> std::result::Result<Outcome, StepFailure> {
        let none = Value::Null;
        let Action::StartApproval {
            process,
            table_id,
            record,
            fields,
            initiator,
        } = action
        else {
            return Err(StepFailure::mapping("not a start_approval step", &none));
        };
        let Step {
            run,
            tables,
            scope,
            context,
            eval,
            ..
        } = *step;
        let target = tables
            .table(table_id)
            .ok_or_else(|| StepFailure::mapping("the process's table was deleted", &none))?;
        let mut input = Map::new();
        input.insert("process".to_owned(), json!(process));
        let (record, cells) = match (record, fields) {
            (Some(record), _) => {
                let id = record_id(scope, context, eval, &formula(record)?)?;
                input.insert("record".to_owned(), json!(id.to_string()));
                (Some(id), None)
            }
            (None, Some(fields)) => {
                let given = values(scope, context, eval, target, fields, formula)?;
                let cells = self
                    .parse_fields(conn, target, &given, WriteMode::Create)
                    .await?;
                input.insert("fields".to_owned(), Value::Object(given));
                (None, Some(present(cells)))
            }
            (None, None) => {
                return Err(StepFailure::mapping(
                    "start_approval without record or fields",
                    &none,
                ));
            }
        };
        let initiator = match initiator {
            Some(stored) => {
                let value = scope.eval(&formula(stored)?, context, None, eval);
                let ids = ids_of(&value);
                let [one] = ids.as_slice() else {
                    return Err(StepFailure::mapping(
                        format!(
                            "initiator: the formula gives {} member ids; give one",
                            ids.len()
                        ),
                        &Value::Object(input),
                    ));
                };
                let member = one.parse::<MemberId>().map_err(|_| {
                    StepFailure::mapping(
                        format!("initiator: {one} is not a member id"),
                        &Value::Object(input.clone()),
                    )
                })?;
                input.insert("initiator".to_owned(), json!(member.to_string()));
                Some(member)
            }
            None => None,
        };
        let input = Value::Object(input);
        let ctx = flow_context(run);
        let start = StartApproval {
            process: process.clone(),
            record,
            fields: cells,
            initiator,
            department: None,
            selected: BTreeMap::new(),
            by: Acting {
                member: None,
                credential: ctx.actor.clone(),
                admin: false,
            },
        };
        let answer =
            self.start_approval_in(conn, &ctx, start)
                .await
                .map_err(|error| match error {
                    CommandError::Refused(refusal) => StepFailure {
                        failure: Failure::Refused,
                        reason: refusal.to_string(),
                        input: Box::new(input.clone()),
                    },
                    CommandError::Store(error) => StepFailure::store(error, &input),
                })?;
        Ok(Outcome {
            input,
            output: answer.body,
            branch: None,
        })
    }

    /// A `wait_approval`: the instance's id is computed the first time and journaled; the step is done
    /// when the instance is finished (its output the instance), else the run waits for it.
    pub(super) async fn wait_approval_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
    ) -> std::result::Result<Progress, StepFailure> {
        let none = Value::Null;
        let step = &compiled.steps[index];
        let Action::WaitApproval { approval } = &step.action else {
            return Err(StepFailure::mapping("not a wait_approval step", &none));
        };
        let journaled = run
            .steps
            .iter()
            .find(|entry| entry.key == step.key && entry.status == StepStatus::Running)
            .and_then(|entry| {
                entry
                    .input
                    .as_ref()?
                    .get("approval_id")?
                    .as_str()?
                    .parse::<ApprovalId>()
                    .ok()
            });
        let id = match journaled {
            Some(id) => id,
            None => {
                let tables = self
                    .version_tables(conn, compiled)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let scope = compiled.scope_at(index, tables.0.as_slice());
                let formula = formula::check_stored(approval, &scope.schema()).map_err(|_| {
                    StepFailure::mapping("approval no longer checks against the tables", &none)
                })?;
                let eval = self
                    .eval_context(conn)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let value = scope.eval(&formula, &context(run), None, &eval);
                let ids = ids_of(&value);
                let [one] = ids.as_slice() else {
                    return Err(StepFailure::mapping(
                        format!(
                            "approval: the formula gives {} instance ids; give one",
                            ids.len()
                        ),
                        &none,
                    ));
                };
                one.parse::<ApprovalId>().map_err(|_| {
                    StepFailure::mapping(
                        format!("approval: {one} is not an approval instance id"),
                        &none,
                    )
                })?
            }
        };
        let input = json!({"approval_id": id.to_string()});
        // Locked (PostgreSQL): a command finishing the instance at the same moment either commits
        // before this read, or waits for this step's wait row and then wakes the run.
        let instance = self
            .approval_snapshot(conn, id)
            .await
            .map_err(|e| StepFailure::store(e, &input))?
            .ok_or_else(|| StepFailure {
                failure: Failure::Refused,
                reason: format!("there is no approval instance {id}"),
                input: Box::new(input.clone()),
            })?;
        if matches!(
            instance["status"].as_str(),
            Some("completed" | "terminated")
        ) {
            return Ok(Progress::Done(Outcome {
                input,
                output: instance,
                branch: None,
            }));
        }
        conn.execute(
            Sql::new(
                "INSERT INTO flow_approval_waits (organization_id, approval_id, run_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (organization_id, approval_id, run_id) DO NOTHING",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(run.id),
        )
        .await
        .map_err(|e| StepFailure::store(e.into(), &input))?;
        Ok(Progress::Holds {
            input,
            output: None,
            until: Some(self.store.now() + Duration::hours(WAIT_APPROVAL_RECHECK_HOURS)),
        })
    }
}
