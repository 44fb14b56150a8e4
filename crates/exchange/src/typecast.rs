//! Typecast, as Airtable's `typecast: true`: record input that names things instead of giving their ids.
//!
//! With `?typecast=true` on record writes (and always in CSV/Excel import), a link takes its target's
//! primary-field value, a member an e-mail address, a mobile number or an exact name, a department its
//! name, and a select a choice's exact name or a unique prefix before a space (`"缺勤"` → `"缺勤 Absent"`).
//! A value naming several things is `ambiguous` (with the candidates), one naming nothing is `no_match`
//! (or `unknown_choice` with the choices); the write is then refused as a whole. Ids are always taken as
//! they are. Without typecast nothing here runs, and ids stay required.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use tenon_model::FieldError;
use tenon_model::apps::value::{ambiguous, cast_choice};
use tenon_model::apps::{Field, FieldKind, LinkTarget, TableSchema};
use tenon_model::{DetailCode, FieldId};
use tenon_store::{StoreError, Tenant};
use uuid::Uuid;

/// Things found by the names records use for them, per field.
#[derive(Debug, Default)]
pub struct Names {
    by_field: HashMap<FieldId, HashMap<String, Vec<Uuid>>>,
}

impl Names {
    /// Looks up, in one query per field, every name `labels` gives for link, member and department
    /// fields (ids are left out: they need no lookup).
    pub async fn load(
        tenant: &Tenant<'_>,
        schema: &TableSchema,
        labels: HashMap<FieldId, HashSet<String>>,
    ) -> Result<Names, StoreError> {
        let mut by_field = HashMap::new();
        for (field_id, labels) in labels {
            let Some(field) = schema.field(field_id) else {
                continue;
            };
            let labels: Vec<String> = labels
                .into_iter()
                .filter(|label| Uuid::parse_str(label).is_err())
                .collect();
            if labels.is_empty() {
                continue;
            }
            let found = match &field.kind {
                FieldKind::Link {
                    table: LinkTarget::Resolved(target),
                    ..
                } => {
                    let target = if *target == schema.table.id {
                        schema.clone()
                    } else {
                        tenant.table_schema_by_id(*target).await?
                    };
                    tenant.records_by_label(&target, &labels).await?
                }
                FieldKind::Member { .. } => tenant.members_by_label(&labels).await?,
                FieldKind::Department { .. } => tenant.departments_by_label(&labels).await?,
                _ => continue,
            };
            by_field.insert(field_id, found);
        }
        Ok(Names { by_field })
    }

    /// The id `label` names in `field` (a link, member or department field), or why there is none.
    pub fn id(&self, field: &Field, label: &str) -> Result<String, tenon_model::Reason> {
        if Uuid::parse_str(label).is_ok() {
            return Ok(label.to_owned());
        }
        let what = match field.kind {
            FieldKind::Member { .. } => "member",
            FieldKind::Department { .. } => "department",
            _ => "record",
        };
        match self
            .by_field
            .get(&field.id)
            .and_then(|names| names.get(label))
            .map(Vec::as_slice)
        {
            Some([id]) => Ok(id.to_string()),
            Some(several) if several.len() > 1 => Err(ambiguous(
                label,
                several.iter().map(Uuid::to_string).collect(),
            )),
            _ => Err(tenon_model::Reason::new(
                DetailCode::NoMatch,
                format!("no {what} matches \"{label}\""),
            )
            .with("what", what)
            .with("value", label)),
        }
    }
}

/// Whether typecast converts values of this field.
fn casts(field: &Field) -> bool {
    matches!(
        field.kind,
        FieldKind::Link { .. }
            | FieldKind::Member { .. }
            | FieldKind::Department { .. }
            | FieldKind::SingleSelect { .. }
            | FieldKind::MultiSelect { .. }
    )
}

/// The texts a value gives: a string, or the strings of an array.
fn texts(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Rewrites the `fields` objects of `records` in place, names replaced by ids and choice prefixes by
/// choices. `path(i)` is where record `i`'s fields are in the request (`records[3].fields`). Every
/// problem of every record comes back at once.
pub async fn typecast(
    tenant: &Tenant<'_>,
    schema: &TableSchema,
    records: &mut [&mut Map<String, Value>],
    path: impl Fn(usize) -> String,
) -> Result<Vec<FieldError>, StoreError> {
    let mut labels: HashMap<FieldId, HashSet<String>> = HashMap::new();
    for fields in records.iter() {
        for (reference, value) in fields.iter() {
            if let Some(field) = schema.resolve_field(reference)
                && matches!(
                    field.kind,
                    FieldKind::Link { .. }
                        | FieldKind::Member { .. }
                        | FieldKind::Department { .. }
                )
            {
                labels
                    .entry(field.id)
                    .or_default()
                    .extend(texts(value).into_iter().map(|text| text.trim().to_owned()));
            }
        }
    }
    let names = Names::load(tenant, schema, labels).await?;
    let mut errors = Vec::new();
    for (index, fields) in records.iter_mut().enumerate() {
        for (reference, value) in fields.iter_mut() {
            let Some(field) = schema.resolve_field(reference).filter(|field| casts(field)) else {
                continue;
            };
            let at = format!("{}.{reference}", path(index));
            let cast = |text: &str| match &field.kind {
                FieldKind::SingleSelect { choices } | FieldKind::MultiSelect { choices } => {
                    cast_choice(text, choices)
                }
                _ => names.id(field, text.trim()),
            };
            match value {
                Value::String(text) if !text.trim().is_empty() => match cast(text) {
                    Ok(cast) => *text = cast,
                    Err(reason) => errors.push(reason.at(at)),
                },
                Value::Array(items) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        if let Value::String(text) = item {
                            match cast(text) {
                                Ok(cast) => *text = cast,
                                Err(reason) => errors.push(reason.at(format!("{at}[{i}]"))),
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(errors)
}
