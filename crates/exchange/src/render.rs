//! Records as JSON, the way the API shows them: numbers of precision 0 as JSON numbers, other decimals as
//! strings with the field's precision (so no digit is lost), links and members as `{"id", "name"}`, files
//! with their metadata. Names are fetched in bulk for all records at once, never per row.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use tenon_model::apps::filter::Filter;
use tenon_model::apps::{CellValue, FieldKind, LinkTarget, Record, TableSchema};
use tenon_model::{FieldId, OrgId};
use tenon_store::render::Names;
pub use tenon_store::render::{decimal, instant};
use tenon_store::{MissingRecord, Store, StoreError};
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

/// What a reader may see of the records an expanded link field points to (app permissions, issue #19):
/// the linked table's rows and fields as that reader may read them. The default sees everything.
#[derive(Debug, Clone, Default)]
pub struct ExpandSight {
    /// The rows: `None` every row; `Some(None)` none; `Some(Some(rule))` those the rule accepts.
    pub rows: Option<Option<Filter>>,
    /// The fields shown of each linked record (`None`: all).
    pub only: Option<Vec<FieldId>>,
}

/// What rendering needs besides the records: the names the records refer to (see
/// [`tenon_store::render::Names`], the representation shared with the events of the outbox) and expanded
/// linked records — all fetched in bulk, never per row.
#[derive(Debug, Default)]
pub struct RenderContext {
    pub key_by: KeyBy,
    names: Names,
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
        Self::load_for(store, org, schema, records, key_by, expand, &HashMap::new()).await
    }

    /// [`RenderContext::load`] for a reader limited by app permissions: an expanded link field with a
    /// sight in `sights` includes only the linked records that reader may read, with only the fields they
    /// may see (a linked record left out keeps its `{"id", "name"}` item, without `record`).
    pub async fn load_for(
        store: &Store,
        org: OrgId,
        schema: &TableSchema,
        records: &[Record],
        key_by: KeyBy,
        expand: &[FieldId],
        sights: &HashMap<FieldId, ExpandSight>,
    ) -> Result<RenderContext, StoreError> {
        let tenant = store.tenant(org);
        let mut context = RenderContext {
            key_by,
            names: tenant.render_names(schema, records).await?,
            expanded: HashMap::new(),
        };
        for field in &schema.fields {
            let FieldKind::Link {
                table: LinkTarget::Resolved(target),
                ..
            } = &field.kind
            else {
                continue;
            };
            if !expand.contains(&field.id) {
                continue;
            }
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
            let target = tenant.table_schema_by_id(*target).await?;
            let record_ids: Vec<tenon_model::RecordId> = ids
                .iter()
                .map(|id| tenon_model::RecordId::from_uuid(*id))
                .collect();
            let sight = sights.get(&field.id).cloned().unwrap_or_default();
            let record_ids = match &sight.rows {
                None => record_ids,
                Some(None) => continue,
                Some(Some(rule)) => {
                    tenant
                        .records_within(&target, &record_ids, Some(rule), MissingRecord::Outside)
                        .await?
                }
            };
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
                    (
                        *record.id.as_uuid(),
                        nested.record(&target, record, sight.only.as_deref()),
                    )
                })
                .collect();
            context.expanded.insert(field.id, rendered);
        }
        Ok(context)
    }

    /// `{"id", "version", "created_at", "modified_at", "fields": {…}}`; empty fields are absent.
    pub fn record(&self, schema: &TableSchema, record: &Record, only: Option<&[FieldId]>) -> Value {
        let mut fields = Map::new();
        for field in &schema.fields {
            if only.is_some_and(|only| !only.contains(&field.id)) {
                continue;
            }
            let Some(mut value) = self.names.field(field, record) else {
                continue;
            };
            if let (Some(expanded), Value::Array(items)) =
                (self.expanded.get(&field.id), &mut value)
            {
                for item in items.iter_mut() {
                    let linked = item
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| Uuid::parse_str(id).ok())
                        .and_then(|id| expanded.get(&id));
                    if let (Some(linked), Value::Object(map)) = (linked, item) {
                        map.insert("record".to_owned(), linked.clone());
                    }
                }
            }
            let name = match self.key_by {
                KeyBy::Key => field.key.to_string(),
                KeyBy::Id => field.id.to_string(),
                KeyBy::Name => field.name.to_string(),
            };
            fields.insert(name, value);
        }
        json!({
            "id": record.id.to_string(),
            "version": record.version,
            "created_at": instant(record.created_at),
            "modified_at": instant(record.modified_at),
            "fields": fields,
        })
    }
}
