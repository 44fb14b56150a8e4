//! Triggers (record, manual, webhook, schedule, approval) and the approval steps (`start_approval`,
//! `wait_approval`) at publish.

use std::collections::{BTreeMap, HashSet};

use tenon_model::apps::computed::{diagnostics, formula_schema};
use tenon_model::apps::formula::{self, Type};
use tenon_model::apps::{Storage, TableSchema};
use tenon_model::{Checker, DetailCode, FieldId};

use super::{Action, CompiledTrigger, Compiler, Processes, Tables};
use crate::definition::Flow;
use crate::scope::{ScopeSchema, field_named};
use crate::trigger::On;

/// What an approval trigger gives its steps: the instance (`{trigger.instance_id}`, `{trigger.event}`,
/// `{trigger.status}`, `{trigger.result}`, `{trigger.business_id}`, `{trigger.initiator}`,
/// `{trigger.process}`) and its record (`{trigger.record_id}`, `{trigger.fields.<field>}`).
pub(super) fn add_trigger(scope: &mut ScopeSchema, table: Option<&TableSchema>) {
    for name in [
        "record_id",
        "instance_id",
        "process",
        "event",
        "status",
        "result",
        "business_id",
        "initiator",
    ] {
        let id = format!("trigger.{name}");
        scope.add(
            &id,
            std::slice::from_ref(&id),
            formula::FieldKind::Text,
            &["trigger", name],
        );
    }
    if let Some(table) = table {
        scope.add_record("trigger", "fields", table);
    }
}

/// The table of process `code`, which must be one of the app's tables.
fn process_table<'t>(
    check: &mut Checker,
    tables: &'t [TableSchema],
    processes: Processes<'_>,
    code: &str,
    at: &str,
) -> Option<&'t TableSchema> {
    let Some(table_id) = processes(code) else {
        check.not_found(
            at.to_owned(),
            "process",
            format!("the organization has no approval process {code}"),
        );
        return None;
    };
    let table = tables.by_id(table_id);
    if table.is_none() {
        check.push(
            at.to_owned(),
            DetailCode::NotAllowed,
            format!("process {code} approves records of another app's table; a flow names its own app's processes"),
        );
    }
    table
}

impl Compiler<'_> {
    /// A formula giving one id (text).
    pub(super) fn id_formula(&mut self, field: &str, source: &str, what: &str) -> Option<String> {
        let formula = self.formula(field, source)?;
        match formula.result_type() {
            Type::Text | Type::List(_) | Type::Blank => Some(formula.stored().to_owned()),
            other => {
                self.type_error(
                    field,
                    source,
                    format!("{field} gives {what} (text); this formula gives {other}"),
                );
                None
            }
        }
    }

    /// A `start_approval`: the process (of the app's tables), `record` or `fields` (one of them), the
    /// initiator.
    pub(super) fn start_approval(
        &mut self,
        tables: &[TableSchema],
        process: &str,
        record: Option<&str>,
        fields: Option<&BTreeMap<String, serde_json::Value>>,
        initiator: Option<&str>,
    ) -> Option<Action> {
        let at = format!("{}.process", self.at);
        let table = process_table(self.check, tables, self.processes, process, &at);
        let initiator = match initiator {
            Some(source) => Some(self.id_formula("initiator", source, "a member id")?),
            None => None,
        };
        let table = table?;
        let (record, fields) = match (record, fields) {
            (Some(_), Some(_)) => {
                self.check.push(
                    format!("{}.fields", self.at),
                    DetailCode::NotAllowed,
                    "give either record (an existing record) or fields (to create one), not both",
                );
                return None;
            }
            (None, None) => {
                self.check.push(
                    format!("{}.record", self.at),
                    DetailCode::Required,
                    "give record (a formula giving a record id) or fields (to create the record)",
                );
                return None;
            }
            (Some(source), None) => (Some(self.record(source)?), None),
            (None, Some(fields)) => (None, Some(self.fields(table, fields))),
        };
        Some(Action::StartApproval {
            process: process.to_owned(),
            table_id: table.table.id.to_string(),
            record,
            fields,
            initiator,
        })
    }
}

pub(super) fn compile_trigger(
    flow: &Flow,
    tables: &[TableSchema],
    processes: Processes<'_>,
    path: &str,
    check: &mut Checker,
) -> Option<CompiledTrigger> {
    let trigger = &flow.trigger;
    if let Some(approval) = &trigger.approval {
        let table = process_table(
            check,
            tables,
            processes,
            &approval.process,
            &format!("{path}.approval.process"),
        )?;
        return Some(CompiledTrigger::Approval {
            process: approval.process.clone(),
            table_id: table.table.id.to_string(),
            on: approval.on.clone(),
        });
    }
    if let Some(manual) = &trigger.manual {
        return Some(CompiledTrigger::Manual {
            inputs: manual.inputs.clone(),
        });
    }
    if let Some(schedule) = &trigger.schedule {
        return Some(CompiledTrigger::Schedule {
            cron: schedule.cron.clone(),
            zone: schedule.zone.clone(),
            inputs: schedule.inputs.clone(),
            payload: schedule.payload.clone(),
        });
    }
    if let Some(webhook) = &trigger.webhook {
        return Some(CompiledTrigger::Webhook {
            inputs: webhook.inputs.clone(),
            signed: webhook.signed,
            wait: webhook.wait,
        });
    }
    let key = trigger.record.as_deref()?;
    let Some(table) = tables.by_key(key) else {
        check.not_found(
            format!("{path}.record"),
            "table",
            format!("the app has no table {key}"),
        );
        return None;
    };
    let mut fields = Vec::new();
    for (i, name) in trigger.fields.iter().enumerate() {
        match field_named(table, name) {
            Some(field) => fields.push(field.id.to_string()),
            None => check.not_found(
                format!("{path}.fields[{i}]"),
                "field",
                format!("{key} has no field {name}"),
            ),
        }
    }
    let mut when = None;
    if let Some(source) = &trigger.when {
        let schema = formula_schema(table, &|_| String::new(), &HashSet::new());
        match formula::check_condition(source, &schema) {
            Ok(formula) => {
                let virtual_read = formula.references().any(|id| {
                    id.as_str()
                        .parse::<FieldId>()
                        .ok()
                        .and_then(|id| table.field(id))
                        .is_some_and(|field| field.kind.storage() == Storage::Virtual)
                });
                if formula.uses_clock() || virtual_read {
                    check.push(
                        format!("{path}.when"),
                        DetailCode::NotAllowed,
                        "a trigger's condition cannot read the clock (TODAY(), NOW() or a field computed from them): it would change without a write; use a schedule",
                    );
                } else {
                    when = Some(formula.stored().to_owned());
                }
            }
            Err(found) => diagnostics(&format!("{path}.when"), &found)
                .0
                .into_iter()
                .for_each(|error| check.add(error)),
        }
    }
    Some(CompiledTrigger::Record {
        table_id: table.table.id.to_string(),
        on: trigger.on.unwrap_or(On::Created),
        fields,
        when,
    })
}
