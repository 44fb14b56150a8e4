//! Executing one step of a run inside the advancing transaction: `if`, record steps (through the records
//! module, with the API's parsing, checks, audit entries, events and watch hook), `find`, `notify`.
//! Formulas are checked (stored form, by id) against what the step may read, from the tables as they are
//! now; a formula that no longer checks fails the step with the reason.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tenon_flows::StepStatus;
use tenon_flows::compile::{Action, CompiledFlow, CompiledTrigger};
use tenon_flows::retry::Failure;
use tenon_flows::scope::{ScopeSchema, ids_of, record_json, render, value_json};
use tenon_model::apps::computed::cell_value;
use tenon_model::apps::formula::{self, EvalContext, Formula};
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::apps::{ParseContext, Record, TableSchema};
use tenon_model::{FieldId, MemberId, RecordId, TableId, TimeZone};
use uuid::Uuid;

use super::steps::flow_context;
use super::{FIND_SCAN_MAX, FlowRun};
use crate::exec::{Conn, quote};
use crate::records::RecordUpdate;
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant};

/// A step that did not succeed: why, and what it was given.
pub(super) struct StepFailure {
    pub failure: Failure,
    pub reason: String,
    /// Boxed: failures travel in `Result`s and should stay small.
    pub input: Box<Value>,
}

impl StepFailure {
    pub(super) fn mapping(reason: impl Into<String>, input: &Value) -> StepFailure {
        StepFailure {
            failure: Failure::Mapping,
            reason: reason.into(),
            input: Box::new(input.clone()),
        }
    }

    pub(super) fn store(error: StoreError, input: &Value) -> StepFailure {
        let failure = match &error {
            StoreError::Database(_) | StoreError::Connect(_) => Failure::Unavailable,
            _ => Failure::Refused,
        };
        let reason = match &error {
            StoreError::Invalid(invalid) => invalid
                .0
                .iter()
                .map(|e| format!("{}: {}", e.field, e.reason))
                .collect::<Vec<_>>()
                .join("; "),
            StoreError::InvalidRecords(problems) | StoreError::RuleBroken(problems) => problems
                .iter()
                .map(|p| match &p.field {
                    Some(field) => format!("{field}: {}", p.reason.message),
                    None => p.reason.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        StepFailure {
            failure,
            reason,
            input: Box::new(input.clone()),
        }
    }
}

/// What a succeeded step leaves in the journal.
pub(super) struct Outcome {
    pub input: Value,
    pub output: Value,
    pub branch: Option<bool>,
}

/// The tables a version names, loaded once per step.
pub(super) struct Loaded(pub(super) Vec<TableSchema>);

/// What a step runs with: its run, what its formulas read and the run's values.
#[derive(Clone, Copy)]
pub(super) struct Step<'a> {
    pub run: &'a FlowRun,
    pub key: &'a str,
    pub tables: &'a Loaded,
    pub scope: &'a ScopeSchema,
    pub context: &'a Value,
    pub eval: &'a EvalContext,
}

impl Loaded {
    pub(super) fn table(&self, id: &str) -> Option<&TableSchema> {
        self.0.iter().find(|t| t.table.id.to_string() == id)
    }
}

impl Tenant<'_> {
    /// Executes step `index` inside the caller's transaction.
    pub(super) async fn execute(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
    ) -> std::result::Result<Outcome, StepFailure> {
        let none = Value::Null;
        let step = &compiled.steps[index];
        let tables = self
            .version_tables(conn, compiled)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        let scope = compiled.scope_at(index, tables.0.as_slice());
        let context = context(run);
        let eval = self
            .eval_context(conn)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        let step = Step {
            run,
            key: &step.key,
            tables: &tables,
            scope: &scope,
            context: &context,
            eval: &eval,
        };
        self.perform(conn, &step, &compiled.steps[index].action)
            .await
    }

    /// Does `action` for `step` (a run's step, or a step of a `for_each` item).
    pub(super) async fn perform(
        &self,
        conn: &mut Conn<'_>,
        step: &Step<'_>,
        action: &Action,
    ) -> std::result::Result<Outcome, StepFailure> {
        let none = Value::Null;
        let Step {
            run,
            tables,
            scope,
            context,
            eval,
            ..
        } = *step;
        let schema = scope.schema();
        let ctx = flow_context(run);
        let formula = |stored: &str| -> std::result::Result<Formula, StepFailure> {
            formula::check_stored(stored, &schema).map_err(|found| {
                StepFailure::mapping(
                    format!(
                        "a formula of the step no longer checks against the tables: {}",
                        found
                            .iter()
                            .map(|d| d.message.clone())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    &none,
                )
            })
        };
        let table = |id: &str| -> std::result::Result<&TableSchema, StepFailure> {
            tables
                .table(id)
                .ok_or_else(|| StepFailure::mapping("the step's table was deleted", &none))
        };
        match action {
            Action::If { condition } => {
                let value = scope.eval(&formula(condition)?, context, None, eval);
                let branch = matches!(value, formula::Value::Bool(true));
                Ok(Outcome {
                    input: json!({"condition": value_json(&value)}),
                    output: json!({"result": branch}),
                    branch: Some(branch),
                })
            }
            Action::CreateRecord { table_id, fields } => {
                let target = table(table_id)?;
                let input = values(scope, context, eval, target, fields, &formula)?;
                let cells = self
                    .parse_fields(conn, target, &input, WriteMode::Create)
                    .await?;
                let input = Value::Object(input);
                let zone = self
                    .zone(conn)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                let outcome = self
                    .create_records_in(conn, &ctx, target, vec![present(cells)], zone, None)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                let record = match outcome {
                    crate::records::WriteOutcome::Written(mut records)
                    | crate::records::WriteOutcome::Replayed(mut records) => records.pop(),
                }
                .ok_or_else(|| StepFailure::mapping("no record was created", &input))?;
                Ok(Outcome {
                    output: output(target, &record),
                    input,
                    branch: None,
                })
            }
            Action::UpdateRecord {
                table_id,
                record,
                fields,
            } => {
                let target = table(table_id)?;
                let id = record_id(scope, context, eval, &formula(record)?)?;
                let mut input = values(scope, context, eval, target, fields, &formula)?;
                let cells = self
                    .parse_fields(conn, target, &input, WriteMode::Update)
                    .await?;
                input.insert("record".to_owned(), json!(id.to_string()));
                let input = Value::Object(input);
                let mut records = self
                    .update_records_in(
                        conn,
                        &ctx,
                        target,
                        vec![RecordUpdate {
                            id,
                            expected_version: None,
                            cells,
                        }],
                    )
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                let record = records
                    .pop()
                    .ok_or_else(|| StepFailure::mapping("no record was updated", &input))?;
                Ok(Outcome {
                    output: output(target, &record),
                    input,
                    branch: None,
                })
            }
            Action::DeleteRecord { table_id, record } => {
                let target = table(table_id)?;
                let id = record_id(scope, context, eval, &formula(record)?)?;
                let input = json!({"record": id.to_string()});
                self.delete_records_in(conn, &ctx, target, &[id])
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                Ok(Outcome {
                    input,
                    output: json!({"id": id.to_string()}),
                    branch: None,
                })
            }
            Action::Get { table_id, record } => {
                let target = table(table_id)?;
                let id = record_id(scope, context, eval, &formula(record)?)?;
                let input = json!({"record": id.to_string()});
                let record = self
                    .load_records(conn, target, &[id], None)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?
                    .pop()
                    .ok_or_else(|| StepFailure {
                        failure: Failure::Refused,
                        reason: format!("no record {id} in table {}", target.table.key),
                        input: Box::new(input.clone()),
                    })?;
                Ok(Outcome {
                    output: output(target, &record),
                    input,
                    branch: None,
                })
            }
            Action::Find {
                table_id,
                condition,
                limit,
            } => {
                let target = table(table_id)?;
                let condition = match condition {
                    Some(stored) => {
                        let mut fields = schema.fields().to_vec();
                        let mut own = ScopeSchema::default();
                        own.add_table(target);
                        fields.extend(own.schema().fields().iter().cloned());
                        Some(
                            formula::check_stored(stored, &formula::Schema::new(fields)).map_err(
                                |_| {
                                    StepFailure::mapping(
                                        "the find condition no longer checks",
                                        &none,
                                    )
                                },
                            )?,
                        )
                    }
                    None => None,
                };
                let found = self
                    .find(
                        conn,
                        target,
                        condition.as_ref(),
                        scope,
                        context,
                        eval,
                        *limit,
                    )
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let ids: Vec<String> = found.iter().map(|r| r.id.to_string()).collect();
                Ok(Outcome {
                    input: json!({"limit": limit}),
                    output: json!({
                        "ids": ids,
                        "count": ids.len(),
                        "first": ids.first(),
                        "records": found.iter().map(|r| output(target, r)).collect::<Vec<_>>(),
                    }),
                    branch: None,
                })
            }
            Action::Notify {
                members,
                roles,
                title,
                text,
                per_recipient,
                phones,
                emails,
                ..
            } => {
                let ids = match members {
                    Some(members) => ids_of(&scope.eval(&formula(members)?, context, None, eval)),
                    None => Vec::new(),
                };
                let mut member_ids = Vec::new();
                for id in &ids {
                    member_ids.push(id.parse::<MemberId>().map_err(|_| {
                        StepFailure::mapping(
                            format!("{id} is not a member id"),
                            &json!({"members": ids}),
                        )
                    })?);
                }
                // A role's members as they are when the step runs.
                for role in roles {
                    let found = self
                        .load_role(conn, role)
                        .await
                        .map_err(|e| StepFailure::store(e, &json!({"roles": roles})))?;
                    let Some(found) = found else {
                        return Err(StepFailure::mapping(
                            format!("the organization has no role {role}"),
                            &json!({"roles": roles}),
                        ));
                    };
                    member_ids.extend(found.member_ids);
                }
                member_ids.sort();
                member_ids.dedup();
                let body = render(text, context)
                    .map_err(|reason| StepFailure::mapping(format!("text: {reason}"), &none))?;
                let title = title
                    .as_deref()
                    .map(|title| render(title, context))
                    .transpose()
                    .map_err(|reason| StepFailure::mapping(format!("title: {reason}"), &none))?;
                let mut input = json!({"members": member_ids.iter().map(ToString::to_string).collect::<Vec<_>>(), "roles": roles, "title": title, "text": body});
                // People outside the organization: their messages go out through the step's
                // connections after the inbox's (see `deliveries`).
                for (name, source) in [("phones", phones), ("emails", emails)] {
                    if let Some(source) = source {
                        let value = scope.eval(&formula(source)?, context, None, eval);
                        if let formula::Value::Error(error) = &value {
                            return Err(StepFailure::mapping(
                                format!("to.{name} gives an error: {error:?}"),
                                &input,
                            ));
                        }
                        input[name] = json!(tenon_flows::sms::phones_of(&value_json(&value)));
                    }
                }
                if *per_recipient {
                    // The enclosing for_each collects the item's message and sends when it ends.
                    let output = json!({"members": input["members"]});
                    return Ok(Outcome {
                        input,
                        output,
                        branch: None,
                    });
                }
                let source = json!({
                    "flow": run.flow_key,
                    "flow_id": run.flow_id.to_string(),
                    "run_id": run.id.to_string(),
                    "step": step.key,
                });
                let sent = self
                    .notify_in(conn, &member_ids, title.as_deref(), &body, source)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                Ok(Outcome {
                    input,
                    output: json!({"notifications": sent.iter().map(ToString::to_string).collect::<Vec<_>>()}),
                    branch: None,
                })
            }
            Action::Upsert {
                table_id,
                on,
                fields,
            } => {
                let target = table(table_id)?;
                let input = values(scope, context, eval, target, fields, &formula)?;
                self.upsert(conn, &flow_context(run), target, on, input)
                    .await
            }
            // They span transactions: the run's walk does them (`control`).
            Action::Aggregate {
                table_id,
                group_by,
                metrics,
                filter,
                sort,
                limit,
            } => {
                let target = table(table_id)?;
                let ask = super::aggregate::AggregateAsk {
                    group_by: group_by.as_deref(),
                    metrics,
                    filter: filter.as_ref(),
                    sort: sort.as_deref(),
                    limit: *limit,
                };
                self.aggregate_step(conn, target, &ask, eval).await
            }
            Action::StartApproval { .. } => {
                self.start_approval_action(conn, step, action, &formula)
                    .await
            }
            Action::LedgerSync { rule, record } => {
                let id = record_id(scope, context, eval, &formula(record)?)?;
                let input = json!({"rule": rule, "record": id.to_string()});
                let done = self
                    .ledger_sync_in(conn, &ctx, rule, id)
                    .await
                    .map_err(|e| StepFailure::store(e, &input))?;
                Ok(Outcome {
                    input,
                    output: done.json(),
                    branch: None,
                })
            }
            Action::CallFlow { .. } => Err(StepFailure::mapping(
                "a call_flow step cannot run inside a for_each",
                &none,
            )),
            Action::Wait { .. }
            | Action::ForEach { .. }
            | Action::WaitApproval { .. }
            | Action::Http(_)
            | Action::Robot(_)
            | Action::Sms(_)
            | Action::Email(_)
            | Action::Voucher(_)
            | Action::Sql(_) => Err(StepFailure::mapping(
                "a wait, wait_approval, for_each or outside step cannot run here",
                &none,
            )),
        }
    }

    /// The tables the version names (trigger and steps), as they are now.
    pub(super) async fn version_tables(
        &self,
        conn: &mut Conn<'_>,
        compiled: &CompiledFlow,
    ) -> Result<Loaded> {
        let mut ids: Vec<TableId> = Vec::new();
        if let CompiledTrigger::Record { table_id, .. } | CompiledTrigger::Approval { table_id, .. } =
            &compiled.trigger
            && let Ok(id) = table_id.parse()
        {
            ids.push(id);
        }
        fn collect(steps: &[tenon_flows::CompiledStep], ids: &mut Vec<TableId>) {
            for step in steps {
                if let Some(id) = step.action.table_id().and_then(|id| id.parse().ok()) {
                    ids.push(id);
                }
                if let Action::ForEach { steps, .. } = &step.action {
                    collect(steps, ids);
                }
            }
        }
        collect(&compiled.steps, &mut ids);
        ids.sort();
        ids.dedup();
        let mut loaded = Vec::with_capacity(ids.len());
        for id in ids {
            match self.kept_schema_by_id(conn, id).await {
                Ok(schema) => loaded.push(schema),
                Err(StoreError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(Loaded(loaded))
    }

    pub(super) async fn zone(&self, conn: &mut Conn<'_>) -> Result<TimeZone> {
        self.zone_in(conn).await
    }

    /// Field values (flow values by key) through the records API's own parsing: the same refusals.
    pub(super) async fn parse_fields(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        input: &Map<String, Value>,
        mode: WriteMode,
    ) -> std::result::Result<BTreeMap<FieldId, Option<tenon_model::apps::CellValue>>, StepFailure>
    {
        let zone = self
            .zone(conn)
            .await
            .map_err(|e| StepFailure::store(e, &Value::Object(input.clone())))?;
        parse_record_fields(
            schema,
            input,
            &ParseContext {
                org_time_zone: zone,
            },
            mode,
            "fields",
        )
        .map_err(|errors| {
            StepFailure::mapping(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
                &Value::Object(input.clone()),
            )
        })
    }

    /// Records of `schema` satisfying `condition` (all when none), at most `limit`, reading at most
    /// [`FIND_SCAN_MAX`] candidates in id order.
    #[allow(clippy::too_many_arguments)]
    async fn find(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        condition: Option<&Formula>,
        scope: &ScopeSchema,
        context: &Value,
        eval: &EvalContext,
        limit: u32,
    ) -> Result<Vec<Record>> {
        let mut sql = SqlText::new(conn.backend());
        sql.push(&format!(
            "SELECT id FROM {} ORDER BY id LIMIT ",
            quote(&crate::apps::ddl::table_name(schema.table.id))
        ))
        .arg(i64::try_from(FIND_SCAN_MAX).unwrap_or(i64::MAX));
        let ids: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        let ids: Vec<RecordId> = ids
            .into_iter()
            .map(|(id,)| RecordId::from_uuid(id))
            .collect();
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            for record in self.load_records(conn, schema, chunk, None).await? {
                let keep = match condition {
                    None => true,
                    Some(condition) => {
                        let read = |id: &str, kind: &formula::FieldKind| {
                            let field: Option<FieldId> = id.parse().ok();
                            cell_value(kind, field.and_then(|f| record.cells.get(&f)))
                        };
                        matches!(
                            scope.eval(condition, context, Some(&read), eval),
                            formula::Value::Bool(true)
                        )
                    }
                };
                if keep {
                    found.push(record);
                    if found.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }
}

/// The run's context: its trigger and the outputs of its succeeded steps.
pub(super) fn context(run: &FlowRun) -> Value {
    let mut steps = Map::new();
    for entry in &run.steps {
        if entry.status == StepStatus::Succeeded {
            steps.insert(
                entry.key.clone(),
                json!({"output": entry.output.clone().unwrap_or(Value::Null)}),
            );
        }
    }
    json!({"trigger": run.trigger, "steps": steps})
}

/// A record as a step's output: `{"id", <field key>: flow value…}`.
pub(super) fn output(schema: &TableSchema, record: &Record) -> Value {
    let mut output = match record_json(schema, record) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    output.insert("id".to_owned(), json!(record.id.to_string()));
    Value::Object(output)
}

/// A step's fields computed: flow values by field key.
pub(super) fn values(
    scope: &ScopeSchema,
    context: &Value,
    eval: &EvalContext,
    target: &TableSchema,
    fields: &[(String, String)],
    formula: &dyn Fn(&str) -> std::result::Result<Formula, StepFailure>,
) -> std::result::Result<Map<String, Value>, StepFailure> {
    let mut input = Map::new();
    for (field, stored) in fields {
        let key = field
            .parse::<FieldId>()
            .ok()
            .and_then(|id| target.field(id))
            .map(|f| f.key.to_string())
            .ok_or_else(|| {
                StepFailure::mapping(format!("field {field} was deleted"), &Value::Null)
            })?;
        let value = scope.eval(&formula(stored)?, context, None, eval);
        if let formula::Value::Error(error) = &value {
            return Err(StepFailure::mapping(
                format!("fields.{key}: the formula gives an error: {error:?}"),
                &Value::Object(input),
            ));
        }
        input.insert(key, value_json(&value));
    }
    Ok(input)
}

/// The record a `record:` formula names.
pub(super) fn record_id(
    scope: &ScopeSchema,
    context: &Value,
    eval: &EvalContext,
    formula: &Formula,
) -> std::result::Result<RecordId, StepFailure> {
    let value = scope.eval(formula, context, None, eval);
    let ids = ids_of(&value);
    match ids.as_slice() {
        [one] => one.parse().map_err(|_| {
            StepFailure::mapping(format!("record: {one} is not a record id"), &Value::Null)
        }),
        [] => Err(StepFailure::mapping(
            "record: the formula gives no record id",
            &Value::Null,
        )),
        _ => Err(StepFailure::mapping(
            format!("record: the formula gives {} ids; give one", ids.len()),
            &Value::Null,
        )),
    }
}
