//! Publish checks and the compiled form of a version.
//!
//! [`compile`] checks a parsed [`Flow`] against the tables of its app — tables and fields exist, written
//! fields are writable, every formula checks against what it may read at its step (the trigger's
//! fields, inputs, earlier steps' outputs), a `when` does not read the clock, templates parse — and
//! collects every problem with its path (`flows[0].steps[1].fields.due`). Its result, a
//! [`CompiledFlow`], is what a version stores: tables and fields by id, formulas in their stored form.
//! [`CompiledFlow::scope_at`] rebuilds, from the current tables, what a step's formulas read.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tenon_model::apps::computed::{diagnostics, formula_schema};
use tenon_model::apps::formula::{self, Formula, Type};
use tenon_model::apps::{FieldKind, TableSchema};
use tenon_model::{Checker, DetailCode, Invalid, TableId};

use crate::definition::{Flow, InputType, Step};
use crate::scope::{ScopeSchema, field_named};
use crate::state::Planned;
use crate::trigger::{On, Watch};

mod approval;
mod more;
mod notify;
mod outside;

use approval::compile_trigger;
use more::{add_item, add_output, for_each};

/// The tables a flow may name (its app's), found by key.
pub trait Tables {
    fn by_key(&self, key: &str) -> Option<&TableSchema>;
    fn by_id(&self, id: TableId) -> Option<&TableSchema>;
}

impl Tables for [TableSchema] {
    fn by_key(&self, key: &str) -> Option<&TableSchema> {
        self.iter().find(|t| t.table.key.as_str() == key)
    }
    fn by_id(&self, id: TableId) -> Option<&TableSchema> {
        self.iter().find(|t| t.table.id == id)
    }
}

/// The organization's approval processes a flow may name: a process's code → its table.
pub type Processes<'a> = &'a dyn Fn(&str) -> Option<TableId>;

/// A version as stored and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompiledFlow {
    pub trigger: CompiledTrigger,
    pub steps: Vec<CompiledStep>,
    /// The app's `params:` as published with this version (`{params.<key>}` in step formulas).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CompiledTrigger {
    Record {
        table_id: String,
        on: On,
        fields: Vec<String>,
        /// Stored form, over the table's fields.
        when: Option<String>,
    },
    Manual {
        inputs: Vec<crate::definition::Input>,
    },
    /// The slots of `cron` in `zone` (see [`crate::schedule`]), each run with `payload` (of `inputs`).
    Schedule {
        cron: String,
        zone: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        inputs: Vec<crate::definition::Input>,
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        payload: serde_json::Map<String, serde_json::Value>,
    },
    /// `POST /api/v1/hooks/{slug}`: the body is the payload.
    Webhook {
        inputs: Vec<crate::definition::Input>,
        #[serde(default)]
        signed: bool,
        #[serde(default)]
        wait: bool,
    },
    /// The instance events `on` of approval process `process` (its code), whose table is `table_id`.
    Approval {
        process: String,
        table_id: String,
        on: Vec<crate::definition::ApprovalOn>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompiledStep {
    pub key: String,
    /// `(if step, branch)` pairs the step sits under.
    pub guard: Vec<(String, bool)>,
    pub action: Action,
}

/// A step with its formulas in stored form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    CreateRecord {
        table_id: String,
        fields: Vec<(String, String)>,
    },
    UpdateRecord {
        table_id: String,
        record: String,
        fields: Vec<(String, String)>,
    },
    DeleteRecord {
        table_id: String,
        record: String,
    },
    Get {
        table_id: String,
        record: String,
    },
    Find {
        table_id: String,
        condition: Option<String>,
        limit: u32,
    },
    If {
        condition: String,
    },
    Notify {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        members: Option<String>,
        /// Custom role keys, resolved to their members when the step runs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        roles: Vec<String>,
        title: Option<String>,
        text: String,
        /// Inside a `for_each`: collected per recipient and sent when the loop ends.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        per_recipient: bool,
        /// A stored formula giving phone numbers, reached through `sms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phones: Option<String>,
        /// A stored formula giving e-mail addresses, reached through `email`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emails: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sms: Option<crate::definition::NotifySms>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<crate::definition::NotifyEmail>,
    },
    /// `seconds` (a `for`), or `until` (a stored formula) with its wall time `at` (`HH:MM:SS`) and zone.
    Wait {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zone: Option<String>,
    },
    /// `on`: the ids of a unique field or of a `unique_together` group.
    Upsert {
        table_id: String,
        on: Vec<String>,
        fields: Vec<(String, String)>,
    },
    /// As `GET …/aggregate`; the filter tree as written (parsed again when the step runs).
    Aggregate {
        table_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_by: Option<String>,
        metrics: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sort: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// A run of the manual flow `flow` (by key) with `payload` (input key, stored formula).
    CallFlow {
        flow: String,
        payload: Vec<(String, String)>,
        wait: bool,
    },
    /// An instance of process `process` (code; its table `table_id`) on the record `record` gives, or on
    /// a record created with `fields`; `initiator` a formula giving a member id.
    StartApproval {
        process: String,
        table_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<(String, String)>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initiator: Option<String>,
    },
    /// Waits until the instance `approval` (a stored formula giving its id) is finished.
    WaitApproval {
        approval: String,
    },
    /// Books the record `record` (a stored formula giving its id) by the voucher rule `rule` (its key).
    LedgerSync {
        rule: String,
        record: String,
    },
    /// A request to an outside system, sent by a flow worker (see [`crate::http`]).
    Http(Box<crate::http::HttpSpec>),
    /// A message through a DingTalk custom robot, sent by a flow worker (see [`crate::robot`]).
    Robot(Box<crate::robot::RobotSpec>),
    /// A text message through an SMS vendor, sent by a flow worker (see [`crate::sms`]).
    Sms(Box<crate::sms::SmsSpec>),
    /// An e-mail through an SMTP server, sent by a flow worker (see [`crate::email`]).
    Email(Box<crate::email::EmailSpec>),
    /// A Tenon voucher pushed to Kingdee or U8 by a flow worker (see [`crate::voucher`]).
    Voucher(Box<crate::voucher::VoucherSpec>),
    /// One statement against an external PostgreSQL database, run by a flow worker (see [`crate::sql`]).
    Sql(Box<crate::sql::SqlSpec>),
    /// `steps` run once per item, in one transaction per batch of items.
    ForEach {
        items: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table_id: Option<String>,
        steps: Vec<CompiledStep>,
    },
}

impl Action {
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::CreateRecord { .. } => "create_record",
            Action::UpdateRecord { .. } => "update_record",
            Action::DeleteRecord { .. } => "delete_record",
            Action::Get { .. } => "get",
            Action::Find { .. } => "find",
            Action::If { .. } => "if",
            Action::Notify { .. } => "notify",
            Action::Wait { .. } => "wait",
            Action::Upsert { .. } => "upsert",
            Action::CallFlow { .. } => "call_flow",
            Action::Aggregate { .. } => "aggregate",
            Action::StartApproval { .. } => "start_approval",
            Action::WaitApproval { .. } => "wait_approval",
            Action::LedgerSync { .. } => "ledger_sync",
            Action::ForEach { .. } => "for_each",
            Action::Http(_) => "http",
            Action::Robot(_) => "robot",
            Action::Sms(_) => "sms",
            Action::Email(_) => "email",
            Action::Voucher(spec) => spec.vendor.step_type(),
            Action::Sql(_) => "sql",
        }
    }

    /// The table a step reads or writes, if it names one.
    pub fn table_id(&self) -> Option<&str> {
        match self {
            Action::CreateRecord { table_id, .. }
            | Action::UpdateRecord { table_id, .. }
            | Action::DeleteRecord { table_id, .. }
            | Action::Get { table_id, .. }
            | Action::Find { table_id, .. }
            | Action::Upsert { table_id, .. }
            | Action::StartApproval { table_id, .. }
            | Action::Aggregate { table_id, .. } => Some(table_id),
            Action::ForEach { table_id, .. } => table_id.as_deref(),
            _ => None,
        }
    }
}

pub(super) fn table_id(id: &str) -> Option<TableId> {
    id.parse().ok()
}

impl CompiledFlow {
    /// The plan the run walks.
    pub fn plan(&self) -> Vec<Planned> {
        self.steps
            .iter()
            .map(|step| Planned {
                key: step.key.clone(),
                guard: step.guard.clone(),
            })
            .collect()
    }

    pub fn step(&self, key: &str) -> Option<&CompiledStep> {
        self.steps.iter().find(|step| step.key == key)
    }

    /// The table of a record trigger or of an approval trigger's process, if it is one.
    pub fn trigger_table(&self) -> Option<TableId> {
        match &self.trigger {
            CompiledTrigger::Record { table_id: id, .. }
            | CompiledTrigger::Approval { table_id: id, .. } => table_id(id),
            CompiledTrigger::Manual { .. }
            | CompiledTrigger::Webhook { .. }
            | CompiledTrigger::Schedule { .. } => None,
        }
    }

    /// The record trigger ready to match (fields by id).
    pub fn watch(&self) -> Option<Watch> {
        match &self.trigger {
            CompiledTrigger::Record {
                on, fields, when, ..
            } => Some(Watch {
                on: *on,
                fields: fields.iter().filter_map(|f| f.parse().ok()).collect(),
                has_when: when.is_some(),
            }),
            CompiledTrigger::Manual { .. }
            | CompiledTrigger::Webhook { .. }
            | CompiledTrigger::Approval { .. }
            | CompiledTrigger::Schedule { .. } => None,
        }
    }

    /// The `when` condition, checked against the trigger table as it is now.
    pub fn when(&self, table: &TableSchema) -> Result<Option<Formula>, String> {
        match &self.trigger {
            CompiledTrigger::Record {
                when: Some(stored), ..
            } => {
                let schema = formula_schema(table, &|_| String::new(), &HashSet::new());
                formula::check_stored(stored, &schema)
                    .map(Some)
                    .map_err(|found| describe(&found))
            }
            _ => Ok(None),
        }
    }

    /// What the formulas of step `index` read, from the tables as they are now.
    pub fn scope_at<T: Tables + ?Sized>(&self, index: usize, tables: &T) -> ScopeSchema {
        let mut scope = ScopeSchema::default();
        scope.add_params(&self.params);
        match &self.trigger {
            CompiledTrigger::Record { table_id: id, .. } => {
                scope.add(
                    "trigger.record_id",
                    &["trigger.record_id".to_owned()],
                    formula::FieldKind::Text,
                    &["trigger", "record_id"],
                );
                if let Some(table) = table_id(id).and_then(|id| tables.by_id(id)) {
                    scope.add_record("trigger", "fields", table);
                }
            }
            CompiledTrigger::Manual { inputs } | CompiledTrigger::Webhook { inputs, .. } => {
                add_inputs(&mut scope, inputs)
            }
            CompiledTrigger::Schedule { inputs, .. } => {
                add_inputs(&mut scope, inputs);
                for (name, kind) in [
                    ("scheduled_for", formula::FieldKind::DateTime),
                    ("date", formula::FieldKind::Date),
                ] {
                    let id = format!("trigger.{name}");
                    scope.add(&id, std::slice::from_ref(&id), kind, &["trigger", name]);
                }
            }
            CompiledTrigger::Approval { table_id: id, .. } => {
                approval::add_trigger(&mut scope, table_id(id).and_then(|id| tables.by_id(id)));
            }
        }
        for step in self.steps.iter().take(index) {
            add_output(&mut scope, &step.key, &step.action, tables);
        }
        scope
    }

    /// What step `body_index` of the `for_each` at `index` reads: the run's values, the item, and the
    /// outputs of the item's earlier steps.
    pub fn body_scope_at<T: Tables + ?Sized>(
        &self,
        index: usize,
        body_index: usize,
        tables: &T,
    ) -> ScopeSchema {
        let mut scope = self.scope_at(index, tables);
        if let Some(Action::ForEach {
            table_id: table,
            steps,
            ..
        }) = self.steps.get(index).map(|step| &step.action)
        {
            let table = table
                .as_deref()
                .and_then(table_id)
                .and_then(|id| tables.by_id(id));
            add_item(&mut scope, table);
            for step in steps.iter().take(body_index) {
                add_output(&mut scope, &step.key, &step.action, tables);
            }
        }
        scope
    }
}

fn add_inputs(scope: &mut ScopeSchema, inputs: &[crate::definition::Input]) {
    for input in inputs {
        let kind = match input.kind {
            InputType::Text => formula::FieldKind::Text,
            InputType::Number => formula::FieldKind::Number { scale: 8 },
            InputType::Integer => formula::FieldKind::Integer,
            InputType::Boolean => formula::FieldKind::Checkbox,
            InputType::Date => formula::FieldKind::Date,
            InputType::DateTime => formula::FieldKind::DateTime,
            InputType::Ids => formula::FieldKind::TextList,
        };
        let name = format!("trigger.payload.{}", input.key);
        scope.add(
            &name,
            std::slice::from_ref(&name),
            kind,
            &["trigger", "payload", &input.key],
        );
    }
}

fn describe(found: &[formula::Diagnostic]) -> String {
    found
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks `flow` (parsed at `path`) against the tables of its app (an organization without approval
/// processes).
pub fn compile(flow: &Flow, tables: &[TableSchema], path: &str) -> Result<CompiledFlow, Invalid> {
    compile_in(flow, tables, &|_| None, path)
}

/// Checks `flow` (parsed at `path`) against the tables of its app and the organization's processes.
pub fn compile_in(
    flow: &Flow,
    tables: &[TableSchema],
    processes: Processes<'_>,
    path: &str,
) -> Result<CompiledFlow, Invalid> {
    compile_with(flow, tables, processes, &Default::default(), path)
}

/// [`compile_in`] for an app with `params:` (`{params.<key>}` in step formulas).
pub fn compile_with(
    flow: &Flow,
    tables: &[TableSchema],
    processes: Processes<'_>,
    params: &std::collections::BTreeMap<String, serde_json::Value>,
    path: &str,
) -> Result<CompiledFlow, Invalid> {
    let mut check = Checker::default();
    let trigger = compile_trigger(
        flow,
        tables,
        processes,
        &format!("{path}.trigger"),
        &mut check,
    );
    let mut compiled = CompiledFlow {
        trigger: trigger.unwrap_or(CompiledTrigger::Manual { inputs: Vec::new() }),
        steps: Vec::new(),
        params: params.clone(),
    };
    let mut order: Vec<Flat<'_>> = Vec::new();
    flatten(&flow.steps, &format!("{path}.steps"), &[], &mut order);
    for (step, at, guard) in order {
        let scope = compiled.scope_at(compiled.steps.len(), tables);
        let schema = scope.schema();
        let mut c = Compiler {
            check: &mut check,
            schema: &schema,
            at: &at,
            processes,
        };
        let action = match step {
            Step::ForEach {
                items,
                table,
                steps,
                ..
            } => for_each(
                &mut check,
                &scope,
                (items, table.as_deref(), steps),
                tables,
                processes,
                &at,
            ),
            Step::Notify {
                collect: Some(_), ..
            } => {
                check.push(
                    format!("{at}.collect"),
                    DetailCode::NotAllowed,
                    "collect belongs to a notify inside a for_each",
                );
                None
            }
            _ => c.step(step, tables),
        };
        compiled.steps.push(CompiledStep {
            key: step.key().to_owned(),
            guard,
            // A step that did not check still takes its place, so later steps see its outputs.
            action: action.unwrap_or(Action::If {
                condition: "TRUE()".to_owned(),
            }),
        });
    }
    check.finish()?;
    Ok(compiled)
}

/// A step with its path and guard.
type Flat<'a> = (&'a Step, String, Vec<(String, bool)>);

/// Steps in execution order with their paths and guards.
fn flatten<'a>(steps: &'a [Step], path: &str, guard: &[(String, bool)], out: &mut Vec<Flat<'a>>) {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{path}[{i}]");
        out.push((step, at.clone(), guard.to_vec()));
        if let Step::If {
            key,
            then,
            otherwise,
            ..
        } = step
        {
            let mut yes = guard.to_vec();
            yes.push((key.clone(), true));
            flatten(then, &format!("{at}.then"), &yes, out);
            let mut no = guard.to_vec();
            no.push((key.clone(), false));
            flatten(otherwise, &format!("{at}.else"), &no, out);
        }
    }
}

struct Compiler<'a> {
    check: &'a mut Checker,
    schema: &'a formula::Schema,
    at: &'a str,
    processes: Processes<'a>,
}

impl Compiler<'_> {
    fn formula(&mut self, field: &str, source: &str) -> Option<Formula> {
        match formula::check(source, self.schema) {
            Ok(formula) => Some(formula),
            Err(found) => {
                diagnostics(&format!("{}.{field}", self.at), &found)
                    .0
                    .into_iter()
                    .for_each(|error| self.check.add(error));
                None
            }
        }
    }

    fn condition(&mut self, field: &str, source: &str, schema: &formula::Schema) -> Option<String> {
        match formula::check_condition(source, schema) {
            Ok(formula) => Some(formula.stored().to_owned()),
            Err(found) => {
                diagnostics(&format!("{}.{field}", self.at), &found)
                    .0
                    .into_iter()
                    .for_each(|error| self.check.add(error));
                None
            }
        }
    }

    /// A formula giving a record id (text).
    fn record(&mut self, source: &str) -> Option<String> {
        let formula = self.formula("record", source)?;
        match formula.result_type() {
            Type::Text | Type::List(_) | Type::Blank => Some(formula.stored().to_owned()),
            other => {
                self.type_error(
                    "record",
                    source,
                    format!("record gives a record id (text); this formula gives {other}"),
                );
                None
            }
        }
    }

    fn table<'t>(&mut self, tables: &'t [TableSchema], key: &str) -> Option<&'t TableSchema> {
        let found = tables.by_key(key);
        if found.is_none() {
            self.check.not_found(
                format!("{}.table", self.at),
                "table",
                format!("the app has no table {key}"),
            );
        }
        found
    }

    fn fields(
        &mut self,
        table: &TableSchema,
        fields: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in fields {
            let at = format!("fields.{name}");
            let Some(field) = field_named(table, name) else {
                self.check.not_found(
                    format!("{}.{at}", self.at),
                    "field",
                    format!("{} has no field {name}", table.table.key),
                );
                continue;
            };
            if !field.kind.field_type().is_writable()
                || matches!(field.kind, FieldKind::Attachment { .. })
            {
                self.check.push(
                    format!("{}.{at}", self.at),
                    DetailCode::NotAllowed,
                    format!("{name} is computed or read-only; a flow cannot write it"),
                );
                continue;
            }
            let Some(source) = self.source(&at, value) else {
                continue;
            };
            if let Some(formula) = self.formula(&at, &source) {
                out.push((field.id.to_string(), formula.stored().to_owned()));
            }
        }
        out
    }

    fn step(&mut self, step: &Step, tables: &[TableSchema]) -> Option<Action> {
        match step {
            Step::CreateRecord { table, fields, .. } => {
                let table = self.table(tables, table)?;
                let fields = self.fields(table, fields);
                Some(Action::CreateRecord {
                    table_id: table.table.id.to_string(),
                    fields,
                })
            }
            Step::UpdateRecord {
                table,
                record,
                fields,
                ..
            } => {
                let table = self.table(tables, table)?;
                let record = self.record(record);
                let fields = self.fields(table, fields);
                Some(Action::UpdateRecord {
                    table_id: table.table.id.to_string(),
                    record: record?,
                    fields,
                })
            }
            Step::DeleteRecord { table, record, .. } => {
                let table = self.table(tables, table)?;
                Some(Action::DeleteRecord {
                    table_id: table.table.id.to_string(),
                    record: self.record(record)?,
                })
            }
            Step::Get { table, record, .. } => {
                let table = self.table(tables, table)?;
                Some(Action::Get {
                    table_id: table.table.id.to_string(),
                    record: self.record(record)?,
                })
            }
            Step::Find {
                table,
                condition,
                limit,
                ..
            } => {
                let table = self.table(tables, table)?;
                let limit = limit.unwrap_or(100);
                if limit == 0 || limit > crate::FIND_LIMIT_MAX {
                    self.check.add(
                        tenon_model::Reason::new(
                            DetailCode::OutOfRange,
                            "find returns from 1 to 1,000 records",
                        )
                        .with("min", 1)
                        .with("max", crate::FIND_LIMIT_MAX)
                        .at(format!("{}.limit", self.at)),
                    );
                }
                let condition = match condition {
                    Some(source) => {
                        // The candidates' fields by name, besides what the step may read.
                        let mut fields: Vec<formula::Field> = self.schema.fields().to_vec();
                        let mut own = ScopeSchema::default();
                        own.add_table(table);
                        fields.extend(own.schema().fields().iter().cloned());
                        let schema = formula::Schema::new(fields);
                        Some(self.condition("where", source, &schema)?)
                    }
                    None => None,
                };
                Some(Action::Find {
                    table_id: table.table.id.to_string(),
                    condition,
                    limit,
                })
            }
            Step::If { condition, .. } => {
                let schema = self.schema;
                Some(Action::If {
                    condition: self.condition("condition", condition, schema)?,
                })
            }
            Step::Notify { .. } => self.notify(step),
            Step::Wait {
                duration,
                until,
                at,
                zone,
                ..
            } => self.wait(
                duration.as_deref(),
                until.as_deref(),
                at.as_deref(),
                zone.as_deref(),
            ),
            Step::Upsert {
                table, on, fields, ..
            } => {
                let table = self.table(tables, table)?;
                let on = self.upsert_on(table, on, fields);
                let fields = self.fields(table, fields);
                Some(Action::Upsert {
                    table_id: table.table.id.to_string(),
                    on: on?,
                    fields,
                })
            }
            Step::CallFlow {
                flow,
                payload,
                wait,
                ..
            } => Some(self.call_flow(flow, payload, *wait)),
            Step::Aggregate {
                table,
                group_by,
                metrics,
                filter,
                sort,
                limit,
                ..
            } => {
                let table = self.table(tables, table)?;
                self.aggregate(table, group_by, metrics, filter, sort, *limit)
            }
            Step::StartApproval {
                process,
                record,
                fields,
                initiator,
                ..
            } => self.start_approval(
                tables,
                process,
                record.as_deref(),
                fields.as_ref(),
                initiator.as_deref(),
            ),
            Step::WaitApproval { approval, .. } => Some(Action::WaitApproval {
                approval: self.id_formula("approval", approval, "an approval instance's id")?,
            }),
            Step::LedgerSync { rule, record, .. } => self.ledger_sync(rule, record),
            Step::Http(_)
            | Step::Robot(_)
            | Step::Sms(_)
            | Step::Email(_)
            | Step::KingdeeVoucher(_)
            | Step::YonyouVoucher(_)
            | Step::Sql(_) => self.outside(step),
            // Compiled by `for_each` (with its own scope).
            Step::ForEach { .. } => None,
        }
    }
}
