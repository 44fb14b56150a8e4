//! Cells as the API shows them — the one representation of a value, used by responses, exports and the
//! events of the outbox alike: numbers of precision 0 as JSON numbers, other decimals as strings with the
//! field's precision (so no digit is lost), links, members and departments as `{"id", "name"}`, files with
//! their metadata, instants in RFC 3339 UTC. Names are fetched in bulk for all records at once, never per
//! row; inside a write's transaction they are read through that transaction, so a record written in it is
//! named as it will be stored.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tenon_model::FieldId;
use tenon_model::apps::{CellValue, Field, FieldKind, LinkTarget, Record, Storage, TableSchema};
use uuid::Uuid;

use super::computed::Schemas;
use crate::exec::Conn;
use crate::files::Attachment;
use crate::{Result, Tenant};

/// What rendering cells needs besides the records: names of linked records, members and departments, and
/// file metadata.
#[derive(Debug, Default, Clone)]
pub struct Names {
    links: HashMap<FieldId, HashMap<Uuid, String>>,
    people: HashMap<Uuid, String>,
    departments: HashMap<Uuid, String>,
    files: HashMap<Uuid, Attachment>,
    /// Names of linked records deleted by the write being rendered.
    gone: HashMap<Uuid, String>,
}

/// The ids each kind of reference of `records` names, per link field for links.
struct Wanted {
    links: Vec<(FieldId, tenon_model::TableId, Vec<Uuid>)>,
    people: Vec<Uuid>,
    departments: Vec<Uuid>,
    files: Vec<Uuid>,
}

fn wanted<'a>(schema: &TableSchema, records: impl Iterator<Item = &'a Record> + Clone) -> Wanted {
    let mut people = HashSet::new();
    let mut departments = HashSet::new();
    let mut files = HashSet::new();
    let mut links = Vec::new();
    for field in &schema.fields {
        if !matches!(
            field.kind,
            FieldKind::Member { .. }
                | FieldKind::Department { .. }
                | FieldKind::Attachment { .. }
                | FieldKind::Link { .. }
        ) {
            continue;
        }
        let ids: HashSet<Uuid> = records
            .clone()
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
            } => links.push((field.id, *target, ids.into_iter().collect())),
            _ => {}
        }
    }
    Wanted {
        links,
        people: people.into_iter().collect(),
        departments: departments.into_iter().collect(),
        files: files.into_iter().collect(),
    }
}

impl Tenant<'_> {
    /// The names `records` of `schema` refer to, read from the database (outside any transaction).
    pub async fn render_names(&self, schema: &TableSchema, records: &[Record]) -> Result<Names> {
        let wanted = wanted(schema, records.iter());
        if wanted.links.is_empty()
            && wanted.people.is_empty()
            && wanted.departments.is_empty()
            && wanted.files.is_empty()
        {
            return Ok(Names::default());
        }
        // Link targets' schemas from this node's cache, as the request's own schema came.
        let mut schemas = Schemas::default();
        for (_, table, _) in &wanted.links {
            let target = self.table_schema_by_id(*table).await?;
            schemas.tables.insert(*table, target);
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        self.names_for(&mut conn, wanted, &mut schemas).await
    }

    /// The same, inside a write's transaction.
    pub(crate) async fn render_names_in<'r>(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        records: impl Iterator<Item = &'r Record> + Clone,
        schemas: &mut Schemas,
    ) -> Result<Names> {
        let wanted = wanted(schema, records);
        self.names_for(conn, wanted, schemas).await
    }

    async fn names_for(
        &self,
        conn: &mut Conn<'_>,
        wanted: Wanted,
        schemas: &mut Schemas,
    ) -> Result<Names> {
        let mut names = Names::default();
        for (field, table, ids) in wanted.links {
            let target = self.schema_of(conn, schemas, table).await?;
            names
                .links
                .insert(field, self.record_names_in(conn, &target, &ids).await?);
        }
        names.people = self.names_of_in(conn, "members", &wanted.people).await?;
        names.departments = self
            .names_of_in(conn, "departments", &wanted.departments)
            .await?;
        names.files = self.attachments_in(conn, &wanted.files).await?;
        Ok(names)
    }
}

impl Names {
    /// Names links to records that no longer exist (deleted in the transaction being rendered).
    pub(crate) fn name_gone(&mut self, gone: &HashMap<Uuid, String>) {
        self.gone
            .extend(gone.iter().map(|(id, name)| (*id, name.clone())));
    }

    /// A field's value of a record as the API shows it (system fields included); `None` when empty.
    pub fn field(&self, field: &Field, record: &Record) -> Option<Value> {
        let actor = |actor: &tenon_model::apps::RecordActor| json!({"type": actor.kind, "id": actor.id, "name": actor.name});
        match &field.kind {
            FieldKind::CreatedTime { .. } => Some(instant(record.created_at)),
            FieldKind::ModifiedTime { .. } => Some(instant(record.modified_at)),
            FieldKind::CreatedBy => record.created_by.as_ref().map(actor),
            FieldKind::ModifiedBy => record.modified_by.as_ref().map(actor),
            kind => record
                .cells
                .get(&field.id)
                .map(|cell| self.cell(field.id, kind, cell)),
        }
    }

    /// A record's fields by key, as the API shows them. With `only`, just those fields, the empty ones
    /// as `null`; without, every non-empty field.
    pub fn fields(
        &self,
        schema: &TableSchema,
        record: &Record,
        only: Option<&HashSet<FieldId>>,
    ) -> Map<String, Value> {
        let mut object = Map::new();
        for field in &schema.fields {
            match only {
                Some(only) if !only.contains(&field.id) => {}
                Some(_) => {
                    object.insert(
                        field.key.to_string(),
                        self.field(field, record).unwrap_or(Value::Null),
                    );
                }
                None => {
                    if let Some(value) = self.field(field, record) {
                        object.insert(field.key.to_string(), value);
                    }
                }
            }
        }
        object
    }

    /// One cell of field `field` (of kind `kind`).
    pub fn cell(&self, field: FieldId, kind: &FieldKind, cell: &CellValue) -> Value {
        match (kind, cell) {
            (FieldKind::Number { precision, .. }, CellValue::Decimal(value)) => {
                decimal(*value, *precision, *precision == 0)
            }
            (FieldKind::Currency { precision, .. }, CellValue::Decimal(value)) => {
                decimal(*value, *precision, false)
            }
            (FieldKind::Percent { precision, .. }, CellValue::Decimal(value)) => {
                decimal(*value, precision + 2, false)
            }
            (FieldKind::Member { multiple }, CellValue::Ids(ids)) => {
                named(ids, &self.people, *multiple)
            }
            (FieldKind::Department { multiple }, CellValue::Ids(ids)) => {
                named(ids, &self.departments, *multiple)
            }
            (FieldKind::Link { .. }, CellValue::Ids(ids)) => {
                let names = self.links.get(&field);
                Value::Array(
                    ids.iter()
                        .map(|id| {
                            let name = names
                                .and_then(|n| n.get(id))
                                .or_else(|| self.gone.get(id))
                                .cloned()
                                .unwrap_or_default();
                            json!({"id": id.to_string(), "name": name})
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
            (FieldKind::Formula { .. } | FieldKind::Rollup { .. }, CellValue::Decimal(value)) => {
                match kind.value_storage() {
                    Storage::Decimal { scale } => decimal(*value, scale, false),
                    _ => Value::String(value.normalize().to_string()),
                }
            }
            (_, CellValue::Text(text)) => Value::String(text.clone()),
            (_, CellValue::Integer(value)) => Value::from(*value),
            (_, CellValue::Bool(flag)) => Value::Bool(*flag),
            (_, CellValue::Date(date)) => Value::String(date.format("%Y-%m-%d").to_string()),
            (_, CellValue::DateTime(time)) => instant(*time),
            (_, CellValue::Names(names)) => Value::Array(
                names
                    .iter()
                    .map(|name| Value::String(name.clone()))
                    .collect(),
            ),
            (_, CellValue::Ids(ids)) => {
                Value::Array(ids.iter().map(|id| Value::String(id.to_string())).collect())
            }
            (_, CellValue::Decimal(value)) => Value::String(value.normalize().to_string()),
        }
    }
}

fn named(ids: &[Uuid], names: &HashMap<Uuid, String>, multiple: bool) -> Value {
    let objects: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id.to_string(), "name": names.get(id).cloned().unwrap_or_default()}))
        .collect();
    if multiple {
        Value::Array(objects)
    } else {
        objects.into_iter().next().unwrap_or(Value::Null)
    }
}

/// An instant as the API writes it: RFC 3339 in UTC.
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
