//! Records as JSON, the way the API shows them: numbers of precision 0 as JSON numbers, other decimals as
//! strings with the field's precision (so no digit is lost), links and members as `{"id", "name"}`, files
//! with their metadata. Names are fetched in bulk for all records at once, never per row.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tenon_model::apps::{CellValue, FieldKind, LinkTarget, Record, TableSchema};
use tenon_model::{FieldId, OrgId};
use tenon_store::{Attachment, Store, StoreError};
use uuid::Uuid;

/// How `fields` objects are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyBy {
    #[default]
    Key,
    Id,
    Name,
}

impl KeyBy {
    /// `key` (default), `id` or `name`.
    pub fn parse(raw: Option<&str>) -> Option<KeyBy> {
        match raw {
            None | Some("key") => Some(KeyBy::Key),
            Some("id") => Some(KeyBy::Id),
            Some("name") => Some(KeyBy::Name),
            Some(_) => None,
        }
    }
}

/// What rendering needs besides the records: names of linked records, members and departments, file
/// metadata, and expanded linked records — all fetched in bulk, never per row.
#[derive(Debug, Default)]
pub struct RenderContext {
    pub key_by: KeyBy,
    link_names: HashMap<FieldId, HashMap<Uuid, String>>,
    people: HashMap<Uuid, String>,
    departments: HashMap<Uuid, String>,
    files: HashMap<Uuid, Attachment>,
    expanded: HashMap<FieldId, HashMap<Uuid, Value>>,
}

impl RenderContext {
    pub async fn load(
        store: &Store,
        org: OrgId,
        schema: &TableSchema,
        records: &[Record],
        key_by: KeyBy,
        expand: &[FieldId],
    ) -> Result<RenderContext, StoreError> {
        let tenant = store.tenant(org);
        let mut context = RenderContext {
            key_by,
            ..RenderContext::default()
        };
        let mut people = HashSet::new();
        let mut departments = HashSet::new();
        let mut files = HashSet::new();
        for field in &schema.fields {
            let ids: HashSet<Uuid> = records
                .iter()
                .filter_map(|record| match record.cells.get(&field.id) {
                    Some(CellValue::Ids(ids)) => Some(ids.iter().copied()),
                    _ => None,
                })
                .flatten()
                .collect();
            if ids.is_empty() {
                continue;
            }
            match &field.kind {
                FieldKind::Member { .. } => people.extend(ids),
                FieldKind::Department { .. } => departments.extend(ids),
                FieldKind::Attachment { .. } => files.extend(ids),
                FieldKind::Link {
                    table: LinkTarget::Resolved(target),
                    ..
                } => {
                    let target = tenant.table_schema_by_id(*target).await?;
                    let ids: Vec<Uuid> = ids.into_iter().collect();
                    context
                        .link_names
                        .insert(field.id, tenant.record_names(&target, &ids).await?);
                    if expand.contains(&field.id) {
                        let record_ids: Vec<tenon_model::RecordId> = ids
                            .iter()
                            .map(|id| tenon_model::RecordId::from_uuid(*id))
                            .collect();
                        let linked = tenant.records_by_ids(&target, &record_ids, None).await?;
                        let nested = Box::pin(RenderContext::load(
                            store,
                            org,
                            &target,
                            &linked,
                            key_by,
                            &[],
                        ))
                        .await?;
                        let rendered = linked
                            .iter()
                            .map(|record| {
                                (*record.id.as_uuid(), nested.record(&target, record, None))
                            })
                            .collect();
                        context.expanded.insert(field.id, rendered);
                    }
                }
                _ => {}
            }
        }
        let people: Vec<Uuid> = people.into_iter().collect();
        context.people = tenant.member_names(&people).await?;
        let departments: Vec<Uuid> = departments.into_iter().collect();
        context.departments = tenant.department_names(&departments).await?;
        let files: Vec<Uuid> = files.into_iter().collect();
        context.files = tenant.attachments(&files).await?;
        Ok(context)
    }

    /// `{"id", "version", "created_at", "modified_at", "fields": {…}}`; empty fields are absent.
    pub fn record(&self, schema: &TableSchema, record: &Record, only: Option<&[FieldId]>) -> Value {
        let mut fields = Map::new();
        for field in &schema.fields {
            if only.is_some_and(|only| !only.contains(&field.id)) {
                continue;
            }
            let value =
                match &field.kind {
                    FieldKind::CreatedTime { .. } => Some(instant(record.created_at)),
                    FieldKind::ModifiedTime { .. } => Some(instant(record.modified_at)),
                    FieldKind::CreatedBy => record.created_by.as_ref().map(
                        |actor| json!({"type": actor.kind, "id": actor.id, "name": actor.name}),
                    ),
                    FieldKind::ModifiedBy => record.modified_by.as_ref().map(
                        |actor| json!({"type": actor.kind, "id": actor.id, "name": actor.name}),
                    ),
                    kind => record
                        .cells
                        .get(&field.id)
                        .map(|cell| self.cell(field.id, kind, cell)),
                };
            if let Some(value) = value {
                let name = match self.key_by {
                    KeyBy::Key => field.key.to_string(),
                    KeyBy::Id => field.id.to_string(),
                    KeyBy::Name => field.name.to_string(),
                };
                fields.insert(name, value);
            }
        }
        json!({
            "id": record.id.to_string(),
            "version": record.version,
            "created_at": instant(record.created_at),
            "modified_at": instant(record.modified_at),
            "fields": fields,
        })
    }

    fn cell(&self, field: FieldId, kind: &FieldKind, cell: &CellValue) -> Value {
        match (kind, cell) {
            (FieldKind::Number { precision, .. }, CellValue::Decimal(value)) => decimal(*value, *precision, *precision == 0),
            (FieldKind::Currency { precision, .. }, CellValue::Decimal(value)) => decimal(*value, *precision, false),
            (FieldKind::Percent { precision, .. }, CellValue::Decimal(value)) => decimal(*value, precision + 2, false),
            (FieldKind::Member { multiple }, CellValue::Ids(ids)) => self.named(ids, &self.people, *multiple),
            (FieldKind::Department { multiple }, CellValue::Ids(ids)) => self.named(ids, &self.departments, *multiple),
            (FieldKind::Link { .. }, CellValue::Ids(ids)) => {
                let names = self.link_names.get(&field);
                let expanded = self.expanded.get(&field);
                Value::Array(
                    ids.iter()
                        .map(|id| {
                            let mut object = json!({"id": id.to_string(), "name": names.and_then(|n| n.get(id)).cloned().unwrap_or_default()});
                            if let (Some(expanded), Value::Object(map)) = (expanded, &mut object)
                                && let Some(record) = expanded.get(id)
                            {
                                map.insert("record".to_owned(), record.clone());
                            }
                            object
                        })
                        .collect(),
                )
            }
            (FieldKind::Attachment { .. }, CellValue::Ids(ids)) => Value::Array(
                ids.iter()
                    .map(|id| match self.files.get(id) {
                        Some(file) => json!({"id": id.to_string(), "name": file.filename, "size": file.size, "type": file.content_type, "url": format!("/api/v1/attachments/{id}")}),
                        None => json!({"id": id.to_string()}),
                    })
                    .collect(),
            ),
            (FieldKind::Formula { .. } | FieldKind::Rollup { .. }, CellValue::Decimal(value)) => match kind.value_storage() {
                tenon_model::apps::Storage::Decimal { scale } => decimal(*value, scale, false),
                _ => Value::String(value.normalize().to_string()),
            },
            (_, CellValue::Text(text)) => Value::String(text.clone()),
            (_, CellValue::Integer(value)) => Value::from(*value),
            (_, CellValue::Bool(flag)) => Value::Bool(*flag),
            (_, CellValue::Date(date)) => Value::String(date.format("%Y-%m-%d").to_string()),
            (_, CellValue::DateTime(time)) => instant(*time),
            (_, CellValue::Names(names)) => Value::Array(names.iter().map(|name| Value::String(name.clone())).collect()),
            (_, CellValue::Ids(ids)) => Value::Array(ids.iter().map(|id| Value::String(id.to_string())).collect()),
            (_, CellValue::Decimal(value)) => Value::String(value.normalize().to_string()),
        }
    }

    fn named(&self, ids: &[Uuid], names: &HashMap<Uuid, String>, multiple: bool) -> Value {
        let objects: Vec<Value> =
            ids.iter().map(|id| json!({"id": id.to_string(), "name": names.get(id).cloned().unwrap_or_default()})).collect();
        if multiple {
            Value::Array(objects)
        } else {
            objects.into_iter().next().unwrap_or(Value::Null)
        }
    }
}

pub fn instant(time: chrono::DateTime<chrono::Utc>) -> Value {
    Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// A decimal with exactly `scale` decimals, as a string (or a JSON number for whole-number fields).
pub fn decimal(value: Decimal, scale: u32, as_number: bool) -> Value {
    let mut value = value;
    value.rescale(scale);
    if as_number && let Ok(integer) = i64::try_from(value.mantissa()) {
        return Value::from(integer);
    }
    Value::String(value.to_string())
}
