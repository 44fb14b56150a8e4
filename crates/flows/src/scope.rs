//! What a run's formulas and templates read.
//!
//! Formulas name values as fields: `{trigger.fields.客户}` (a trigger record's field by key or name),
//! `{trigger.record_id}`, `{trigger.payload.<input>}`, `{steps.<key>.output.<name>}`. A [`ScopeSchema`]
//! lists them with their formula types for checking (at publish, against the tables then) and maps each
//! to its place in the run's JSON context — `{"trigger": {"record_id", "fields": {key: value},
//! "payload"}, "steps": {key: {"output": {…}}}}` — from which values are read when a step runs. Stored
//! formulas name fields by id (`{trigger.<field id>}`), so renaming a field keeps a flow working.
//!
//! Values in the context are "flow values": text, decimals as strings, whole numbers, booleans, dates
//! (`YYYY-MM-DD`), instants (RFC 3339), lists; links, members and departments as ids. Templates
//! (MiniJinja) read the same context. Trigger data is only ever a value: never parsed as a formula or a
//! template.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tenon_model::apps::computed::formula_kind;
use tenon_model::apps::formula::{self, EvalContext, Formula};
use tenon_model::apps::{CellValue, Field, FieldKind, Record, RecordActor, Storage, TableSchema};

/// Reads a `find` candidate's field (by field id) as a formula value of the kind given.
pub type ReadField<'a> = dyn Fn(&str, &formula::FieldKind) -> formula::Value + 'a;

/// The names a formula may use, with where each value lives in the run's context.
#[derive(Debug, Clone, Default)]
pub struct ScopeSchema {
    fields: Vec<formula::Field>,
    paths: HashMap<String, Vec<String>>,
    /// Values known when the scope is made: the app's `params` (`{params.vat_rate}`).
    constants: HashMap<String, formula::Value>,
}

/// An app parameter's formula kind: numbers (at their written scale, at most 8), text, booleans.
pub fn param_kind(value: &Value) -> Option<formula::FieldKind> {
    match value {
        Value::Number(number) => {
            let number: Decimal = number.to_string().parse().ok()?;
            (number.scale() <= 8).then(|| formula::FieldKind::Number {
                scale: number.scale(),
            })
        }
        Value::String(_) => Some(formula::FieldKind::Text),
        Value::Bool(_) => Some(formula::FieldKind::Checkbox),
        _ => None,
    }
}

/// How a flow reads a field: links as a list of record ids; otherwise as formulas read it.
pub fn flow_kind(kind: &FieldKind) -> Option<formula::FieldKind> {
    match kind {
        FieldKind::Link { .. } => Some(formula::FieldKind::TextList),
        FieldKind::CreatedBy | FieldKind::ModifiedBy => Some(formula::FieldKind::Text),
        other => formula_kind(other),
    }
}

impl ScopeSchema {
    /// One value: `id` in stored formulas, `names` in formulas people write, at `path` in the context.
    pub fn add(&mut self, id: &str, names: &[String], kind: formula::FieldKind, path: &[&str]) {
        let mut seen: Vec<&String> = Vec::new();
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            self.fields
                .push(formula::Field::new(id, name.as_str(), kind.clone()));
        }
        self.paths.insert(
            id.to_owned(),
            path.iter().map(|p| (*p).to_owned()).collect(),
        );
    }

    /// A record's fields under `prefix` (`trigger` → `{trigger.fields.<key|name>}`, id
    /// `trigger.<field id>`; `steps.f` → `{steps.f.output.<key|name>}`), and its id.
    pub fn add_record(&mut self, prefix: &str, names: &str, table: &TableSchema) {
        let base: Vec<&str> = prefix.split('.').collect();
        for field in &table.fields {
            let Some(kind) = flow_kind(&field.kind) else {
                continue;
            };
            let mut path = base.clone();
            path.push(if names == "fields" {
                "fields"
            } else {
                "output"
            });
            path.push(field.key.as_str());
            self.add(
                &format!("{prefix}.{}", field.id),
                &[
                    format!("{prefix}.{names}.{}", field.key),
                    format!("{prefix}.{names}.{}", field.name.as_str()),
                ],
                kind,
                &path,
            );
        }
    }

    /// Adds the app's parameters as `{params.<key>}`, read as the values given.
    pub fn add_params(&mut self, params: &std::collections::BTreeMap<String, Value>) {
        for (key, value) in params {
            let Some(kind) = param_kind(value) else {
                continue;
            };
            let id = format!("params.{key}");
            self.fields
                .push(formula::Field::new(&id, id.as_str(), kind.clone()));
            self.constants.insert(id, json_value(&kind, value));
        }
    }

    /// Adds the fields of `table` as themselves (`{状态}`, by field id): a `find` condition's candidates.
    pub fn add_table(&mut self, table: &TableSchema) {
        for field in &table.fields {
            if let Some(kind) = flow_kind(&field.kind) {
                let id = field.id.to_string();
                for name in [field.name.as_str(), field.key.as_str()] {
                    self.fields
                        .push(formula::Field::new(&id, name, kind.clone()));
                }
            }
        }
    }

    pub fn schema(&self) -> formula::Schema {
        formula::Schema::new(self.fields.iter().cloned())
    }

    /// The value of field `id` in `context`, as the formula field's kind reads it.
    fn value(
        &self,
        id: &str,
        kind: &formula::FieldKind,
        context: &Value,
    ) -> Option<formula::Value> {
        if let Some(constant) = self.constants.get(id) {
            return Some(constant.clone());
        }
        let path = self.paths.get(id)?;
        let mut at = context;
        for part in path {
            at = at.get(part)?;
        }
        Some(json_value(kind, at))
    }

    /// Evaluates a checked formula on the context; `record` gives the fields of a `find` candidate.
    pub fn eval(
        &self,
        formula: &Formula,
        context: &Value,
        record: Option<&ReadField<'_>>,
        ctx: &EvalContext,
    ) -> formula::Value {
        let inputs: Vec<formula::Value> = formula
            .fields()
            .iter()
            .map(|field| {
                self.value(field.id.as_str(), &field.kind, context)
                    .or_else(|| record.map(|read| read(field.id.as_str(), &field.kind)))
                    .unwrap_or(formula::Value::Empty)
            })
            .collect();
        formula.eval(&inputs, ctx)
    }
}

/// A cell as a flow value.
pub fn cell_json(cell: &CellValue) -> Value {
    match cell {
        CellValue::Text(text) => json!(text),
        CellValue::Decimal(value) => json!(value.to_string()),
        CellValue::Integer(value) => json!(value),
        CellValue::Bool(flag) => json!(flag),
        CellValue::Date(date) => json!(date.format("%Y-%m-%d").to_string()),
        CellValue::DateTime(time) => {
            json!(time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        CellValue::Names(names) => json!(names),
        CellValue::Ids(ids) => json!(ids.iter().map(ToString::to_string).collect::<Vec<_>>()),
    }
}

/// A record's stored fields as flow values by key (empty fields as `null`). The system fields come from
/// the record's system columns: created and modified times as instants, `created_by` and `modified_by`
/// as the member's id when a member wrote (`null` for a token, an app or the system).
pub fn record_json(table: &TableSchema, record: &Record) -> Value {
    let member = |actor: &Option<RecordActor>| match actor {
        Some(RecordActor {
            kind, id: Some(id), ..
        }) if kind == "member" => json!(id),
        _ => Value::Null,
    };
    let instant =
        |at: &DateTime<Utc>| json!(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    let mut fields = serde_json::Map::new();
    for field in &table.fields {
        let system = match &field.kind {
            FieldKind::CreatedTime { .. } => Some(instant(&record.created_at)),
            FieldKind::ModifiedTime { .. } => Some(instant(&record.modified_at)),
            FieldKind::CreatedBy => Some(member(&record.created_by)),
            FieldKind::ModifiedBy => Some(member(&record.modified_by)),
            _ => None,
        };
        if let Some(value) = system {
            fields.insert(field.key.to_string(), value);
            continue;
        }
        let value = match (record.cells.get(&field.id), field.kind.storage()) {
            // Decimals at the field's scale, as the API shows them ("28800.00").
            (Some(CellValue::Decimal(value)), Storage::Decimal { scale }) => {
                let mut value = *value;
                value.rescale(scale);
                json!(value.to_string())
            }
            (cell, _) => cell.map_or(Value::Null, cell_json),
        };
        fields.insert(field.key.to_string(), value);
    }
    Value::Object(fields)
}

/// A flow value as a formula value of `kind`.
pub fn json_value(kind: &formula::FieldKind, value: &Value) -> formula::Value {
    use formula::FieldKind as F;
    use formula::Value as V;
    match (kind, value) {
        (_, Value::Null) => V::Empty,
        (F::Text | F::SingleSelect, Value::String(text)) => V::text(text.clone()),
        (F::Text | F::SingleSelect, Value::Number(number)) => V::text(number.to_string()),
        (F::Text | F::SingleSelect, Value::Array(items)) if items.len() == 1 => {
            json_value(kind, &items[0])
        }
        (F::Number { scale }, _) => decimal(value)
            .and_then(|number| formula::rescale(number, *scale).ok())
            .map_or(V::Empty, V::Number),
        (F::Integer, _) => decimal(value).map_or(V::Empty, |number| V::Number(number.trunc())),
        (F::Checkbox, Value::Bool(flag)) => V::Bool(*flag),
        (F::Date, Value::String(text)) => {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_or(V::Empty, V::Date)
        }
        (F::DateTime, Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map_or(V::Empty, |time| V::DateTime(time.with_timezone(&Utc))),
        (F::TextList, Value::Array(items)) => V::List(
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(V::text(text.clone())),
                    Value::Null => None,
                    other => Some(V::text(other.to_string())),
                })
                .collect(),
        ),
        (F::TextList, Value::String(text)) => V::List(vec![V::text(text.clone())]),
        (F::Lookup(of), Value::Array(items)) => {
            V::List(items.iter().map(|item| json_value(of, item)).collect())
        }
        _ => V::Empty,
    }
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

/// A formula's result as a flow value (`null` for empty and errors).
pub fn value_json(value: &formula::Value) -> Value {
    use formula::Value as V;
    match value {
        V::Empty | V::Error(_) => Value::Null,
        V::Number(number) => json!(number.normalize().to_string()),
        V::Text(text) => json!(text),
        V::Bool(flag) => json!(flag),
        V::Date(date) => json!(date.format("%Y-%m-%d").to_string()),
        V::DateTime(time) => json!(time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        V::List(items) => Value::Array(items.iter().map(value_json).collect()),
    }
}

/// Ids a formula's value names: one id, a list of ids, or text separated by commas.
pub fn ids_of(value: &formula::Value) -> Vec<String> {
    use formula::Value as V;
    match value {
        V::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect(),
        V::List(items) => items.iter().flat_map(ids_of).collect(),
        _ => Vec::new(),
    }
}

/// Renders a MiniJinja template over the context. Values render as their flow values.
pub fn render(template: &str, context: &Value) -> Result<String, String> {
    let env = minijinja::Environment::new();
    env.render_str(
        template,
        minijinja::Value::from(minijinja::value::Serde(context)),
    )
    .map_err(|error| error.to_string())
}

/// Checks that a template parses (at publish).
pub fn check_template(template: &str) -> Result<(), String> {
    let env = minijinja::Environment::new();
    env.template_from_str(template)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The field a step names by key or name.
pub fn field_named<'a>(table: &'a TableSchema, name: &str) -> Option<&'a Field> {
    table
        .field_by_key(name)
        .or_else(|| table.field_by_name(name))
}
