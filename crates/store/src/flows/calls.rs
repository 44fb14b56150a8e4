//! The `call_flow` step: a run of another (manual) flow, one level deeper, started in the step's
//! transaction with the trigger key `call:<run>:<step>:<attempt>` (one call, one run); by default the
//! step waits for it (`running`, the run `waiting`), and the called run's end wakes the caller.

use std::collections::HashMap;

use chrono::Duration;
use serde_json::{Map, Value, json};
use tenon_flows::calls::Callee;
use tenon_flows::compile::{Action, CompiledFlow, CompiledTrigger};
use tenon_flows::retry::Failure;
use tenon_flows::scope::value_json;
use tenon_flows::{RunStatus, StepStatus};
use tenon_model::FlowRunId;
use tenon_model::apps::formula;

use super::FlowRun;
use super::actions::{Outcome, StepFailure, context};
use super::control::Progress;
use super::runs::check_payload;
use crate::exec::{Conn, Sql};
use crate::{Result, Tenant};

impl Tenant<'_> {
    /// The organization's flows as callers see them, by key (publish checks of `call_flow`).
    pub(super) async fn stored_callees(
        &self,
        conn: &mut Conn<'_>,
    ) -> Result<HashMap<String, Callee>> {
        let rows: Vec<(String, sqlx::types::Json<Value>)> = conn
            .fetch_all(
                Sql::new("SELECT key, compiled FROM flows WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, compiled)| {
                let compiled: CompiledFlow = serde_json::from_value(compiled.0).ok()?;
                Some((key, compiled.callee()))
            })
            .collect())
    }

    /// A `call_flow`: starts the called run the first time, then reads how it ended.
    pub(super) async fn call_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
    ) -> std::result::Result<Progress, StepFailure> {
        let none = Value::Null;
        let step = &compiled.steps[index];
        let Action::CallFlow {
            flow,
            payload,
            wait,
        } = &step.action
        else {
            return Err(StepFailure::mapping("not a call_flow step", &none));
        };
        let entry = run.steps.iter().find(|entry| entry.key == step.key);
        let started = entry
            .filter(|entry| entry.status == StepStatus::Running)
            .and_then(|entry| {
                entry
                    .input
                    .as_ref()?
                    .get("run_id")?
                    .as_str()?
                    .parse::<FlowRunId>()
                    .ok()
            });
        let refused = |reason: String, input: &Value| StepFailure {
            failure: Failure::Refused,
            reason,
            input: Box::new(input.clone()),
        };
        let child = match started {
            Some(id) => id,
            None => {
                let tables = self
                    .version_tables(conn, compiled)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let scope = compiled.scope_at(index, tables.0.as_slice());
                let schema = scope.schema();
                let eval = self
                    .eval_context(conn)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let run_context = context(run);
                let mut given = Map::new();
                for (name, stored) in payload {
                    let formula = formula::check_stored(stored, &schema).map_err(|_| {
                        StepFailure::mapping(format!("payload.{name} no longer checks"), &none)
                    })?;
                    let value = scope.eval(&formula, &run_context, None, &eval);
                    if let formula::Value::Error(error) = &value {
                        return Err(StepFailure::mapping(
                            format!("payload.{name}: the formula gives an error: {error:?}"),
                            &Value::Object(given),
                        ));
                    }
                    if !matches!(value, formula::Value::Empty) {
                        given.insert(name.clone(), value_json(&value));
                    }
                }
                let input = json!({"flow": flow, "payload": given});
                let callee = self
                    .load_flow(conn, flow)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?
                    .ok_or_else(|| refused(format!("there is no flow {flow}"), &input))?;
                if !callee.enabled {
                    return Err(refused(format!("flow {flow} is disabled"), &input));
                }
                let version = self
                    .flow_version(conn, callee.id, callee.version)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                let CompiledTrigger::Manual { inputs } = &version.trigger else {
                    return Err(refused(format!("flow {flow} is not a manual flow"), &input));
                };
                let payload = check_payload(inputs, Value::Object(given.clone()))
                    .map_err(|e| StepFailure::store(e, &input))?;
                let attempt = entry.map_or(0, |entry| entry.attempts);
                let trigger = json!({
                    "type": "call",
                    "payload": payload,
                    "by": {"type": "flow", "id": run.id.to_string(), "name": run.flow_key},
                    "parent": {"run_id": run.id.to_string(), "flow": run.flow_key, "step": step.key},
                });
                let id = self
                    .insert_run(
                        conn,
                        callee.id,
                        callee.version,
                        &format!("call:{}:{}:{attempt}", run.id, step.key),
                        trigger,
                        run.depth + 1,
                    )
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                if !wait {
                    return Ok(Progress::Done(Outcome {
                        input,
                        output: json!({"run_id": id.to_string(), "status": "queued"}),
                        branch: None,
                    }));
                }
                id
            }
        };
        let input = json!({"flow": flow, "run_id": child.to_string()});
        let called = self
            .load_run(conn, child)
            .await
            .map_err(|e| StepFailure::store(e, &input))?
            .ok_or_else(|| refused(format!("the called run {child} is gone"), &input))?;
        match called.status {
            RunStatus::Succeeded => {
                let outputs: Map<String, Value> = called
                    .steps
                    .iter()
                    .filter(|entry| entry.status == StepStatus::Succeeded)
                    .map(|entry| {
                        (
                            entry.key.clone(),
                            entry.output.clone().unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                Ok(Progress::Done(Outcome {
                    input,
                    output: json!({"run_id": child.to_string(), "status": "succeeded", "steps": outputs}),
                    branch: None,
                }))
            }
            RunStatus::Failed | RunStatus::Canceled => Err(refused(
                format!(
                    "the called run of {flow} ({child}) {}: {}",
                    called.status,
                    called.error.unwrap_or(Value::Null)
                ),
                &input,
            )),
            RunStatus::Queued | RunStatus::Running | RunStatus::Waiting => Ok(Progress::Holds {
                input,
                output: None,
                // Woken when the called run ends; a day at most.
                until: Some(self.store.now() + Duration::days(1)),
            }),
        }
    }

    /// A called run ended: its caller, waiting on it, is due now.
    pub(super) async fn wake_caller(&self, conn: &mut Conn<'_>, run: &FlowRun) -> Result<()> {
        if run.trigger.get("type").and_then(Value::as_str) != Some("call") {
            return Ok(());
        }
        let Some(parent) = run.trigger["parent"]["run_id"]
            .as_str()
            .and_then(|id| id.parse::<FlowRunId>().ok())
        else {
            return Ok(());
        };
        conn.execute(
            Sql::new(
                "UPDATE flow_runs SET next_at = $3 WHERE organization_id = $1 AND id = $2 AND status = 'waiting'",
            )
            .bind(self.org_id)
            .bind(parent)
            .bind(self.store.now()),
        )
        .await?;
        self.store.made_work(conn, crate::work::FLOW_RUNS);
        Ok(())
    }
}
