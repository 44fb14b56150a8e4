//! Checks of record writes that only the data can answer: do linked records, members, departments and
//! files exist here (and fit a field's limits), and which record broke a unique key.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use tenon_model::apps::{CellValue, Field, FieldKind, LinkTarget, TableSchema};
use tenon_model::{DetailCode, FieldId, Reason, RecordId};
use uuid::Uuid;

use super::cells;
use super::query::SqlText;
use super::write::{IDS_PER_STATEMENT, RecordProblem};
use crate::apps::ddl;
use crate::exec::{Arg, Conn, quote};
use crate::{Result, StoreError, Tenant};

impl Tenant<'_> {
    /// Refuses links to records that do not exist, and members, departments or files not of this
    /// organization (or beyond a field's attachment limits).
    pub(super) async fn check_references(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        rows: impl Iterator<Item = (usize, Vec<(FieldId, Option<&CellValue>)>)>,
    ) -> Result<()> {
        let mut wanted: HashMap<FieldId, Vec<(usize, Uuid)>> = HashMap::new();
        for (index, cells) in rows {
            for (field_id, cell) in cells {
                if let Some(CellValue::Ids(ids)) = cell {
                    wanted
                        .entry(field_id)
                        .or_default()
                        .extend(ids.iter().map(|id| (index, *id)));
                }
            }
        }
        let mut problems = Vec::new();
        for (field_id, references) in wanted {
            let Some(field) = schema.field(field_id) else {
                continue;
            };
            let unique: Vec<Uuid> = references
                .iter()
                .map(|(_, id)| *id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let (found, what, limits) = match &field.kind {
                FieldKind::Link {
                    table: LinkTarget::Resolved(target),
                    ..
                } => (
                    self.existing_ids(conn, &quote(&ddl::table_name(*target)), false, &unique)
                        .await?,
                    "record",
                    None,
                ),
                FieldKind::Member { .. } => (
                    self.existing_ids(conn, "members", true, &unique).await?,
                    "member",
                    None,
                ),
                FieldKind::Department { .. } => (
                    self.existing_ids(conn, "departments", true, &unique)
                        .await?,
                    "department",
                    None,
                ),
                FieldKind::Attachment { max_size_mb, types } => {
                    let files = self.attachment_meta(conn, &unique).await?;
                    (
                        files.keys().copied().collect(),
                        "file",
                        Some((files, *max_size_mb, types.clone())),
                    )
                }
                _ => continue,
            };
            for (index, id) in references {
                if !found.contains(&id) {
                    problems.push(RecordProblem {
                        index,
                        field: Some(field_id),
                        reason: Reason::not_found(what, format!("no {what} {id} here")),
                    });
                    continue;
                }
                if let Some((files, max_size_mb, types)) = &limits
                    && let Some((size, content_type)) = files.get(&id)
                {
                    if *size > i64::from(*max_size_mb) * 1024 * 1024 {
                        problems.push(RecordProblem {
                            index,
                            field: Some(field_id),
                            reason: Reason::new(
                                DetailCode::TooLarge,
                                format!("file {id} is larger than {max_size_mb} MB"),
                            )
                            .with("max", u64::from(*max_size_mb) * 1024 * 1024),
                        });
                    } else if !types.is_empty()
                        && !types
                            .iter()
                            .any(|pattern| mime_matches(pattern, content_type))
                    {
                        problems.push(RecordProblem {
                            index,
                            field: Some(field_id),
                            reason: Reason::not_one_of(
                                &types.iter().map(String::as_str).collect::<Vec<_>>(),
                                format!(
                                    "file {id} is {content_type}; this field takes {}",
                                    types.join(", ")
                                ),
                            ),
                        });
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::InvalidRecords(problems))
        }
    }

    async fn existing_ids(
        &self,
        conn: &mut Conn<'_>,
        table: &str,
        tenant_table: bool,
        ids: &[Uuid],
    ) -> Result<HashSet<Uuid>> {
        let mut found = HashSet::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(&format!("SELECT id FROM {table} WHERE "));
            if tenant_table {
                sql.push("organization_id = ")
                    .arg(Arg::Uuid(Some(*self.org_id.as_uuid())))
                    .push(" AND ");
            }
            sql.push("id IN (")
                .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                .push(")");
            let rows: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(found)
    }

    async fn attachment_meta(
        &self,
        conn: &mut Conn<'_>,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (i64, String)>> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = SqlText::new(conn.backend());
            sql.push("SELECT id, size, content_type FROM attachments WHERE organization_id = ")
                .arg(Arg::Uuid(Some(*self.org_id.as_uuid())));
            sql.push(" AND id IN (")
                .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                .push(")");
            let rows: Vec<(Uuid, i64, String)> = conn.fetch_all(sql.into_sql()).await?;
            found.extend(
                rows.into_iter()
                    .map(|(id, size, content_type)| (id, (size, content_type))),
            );
        }
        Ok(found)
    }

    /// Explains a failed write: a unique value taken (by another record or twice in the batch), or else
    /// the database error as it is. Runs after the transaction was rolled back.
    pub(super) async fn unique_problem(
        &self,
        schema: &TableSchema,
        error: sqlx::Error,
        rows: &[BTreeMap<FieldId, CellValue>],
        ids: Option<&[RecordId]>,
    ) -> StoreError {
        let Some(message) = crate::error::unique_violation(&error) else {
            return error.into();
        };
        let fields: Vec<&Field> = schema
            .fields
            .iter()
            .filter(|field| {
                let hex = field.id.as_uuid().simple().to_string();
                message.contains(&hex)
            })
            .collect();
        let together = schema
            .table
            .unique_together
            .iter()
            .enumerate()
            .find(|(n, group)| {
                message.contains(&format!("ut_{}_{n}", schema.table.id.as_uuid().simple()))
                    || (group.len() == fields.len()
                        && group
                            .iter()
                            .all(|id| fields.iter().any(|field| field.id == *id)))
            });
        let group: Vec<FieldId> = match together {
            Some((_, group)) => group.clone(),
            None => fields.iter().map(|field| field.id).collect(),
        };
        let Some(first) = group.first().copied() else {
            return error.into();
        };
        let key_of = |cells: &BTreeMap<FieldId, CellValue>| -> Option<Vec<Value>> {
            group
                .iter()
                .map(|id| cells.get(id).map(cells::to_json))
                .collect()
        };
        let mut problems = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, cells) in rows.iter().enumerate() {
            if let Some(values) = key_of(cells) {
                let text = Value::Array(values).to_string();
                if let Some(first_index) = seen.get(&text) {
                    problems.push(RecordProblem {
                        index,
                        field: Some(first),
                        reason: Reason::new(
                            DetailCode::NotUnique,
                            format!("must be unique; record {first_index} of this request has the same value"),
                        ),
                    });
                } else {
                    seen.insert(text, index);
                }
            }
        }
        if problems.is_empty() {
            let names: Vec<String> = group
                .iter()
                .filter_map(|id| schema.field(*id))
                .map(|field| field.key.to_string())
                .collect();
            let reason = if group.len() > 1 {
                format!(
                    "the combination of {} must be unique; another record has these values",
                    names.join(", ")
                )
            } else {
                "must be unique; another record has this value".to_owned()
            };
            let offending = match self.rows_taken_elsewhere(schema, &group, rows, ids).await {
                Ok(indexes) if !indexes.is_empty() => indexes,
                _ => vec![
                    rows.iter()
                        .position(|cells| key_of(cells).is_some())
                        .unwrap_or(0),
                ],
            };
            problems.extend(offending.into_iter().map(|index| RecordProblem {
                index,
                field: Some(first),
                reason: Reason::new(DetailCode::NotUnique, reason.clone()),
            }));
        }
        StoreError::InvalidRecords(problems)
    }

    /// Which rows of a refused write carry unique values another stored record already has.
    async fn rows_taken_elsewhere(
        &self,
        schema: &TableSchema,
        group: &[FieldId],
        rows: &[BTreeMap<FieldId, CellValue>],
        ids: Option<&[RecordId]>,
    ) -> Result<Vec<usize>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let backend = conn.backend();
        let table = quote(&ddl::table_name(schema.table.id));
        let mut taken = Vec::new();
        for (index, cells) in rows.iter().enumerate() {
            let values: Option<Vec<(&Field, &CellValue)>> = group
                .iter()
                .map(|id| Some((schema.field(*id)?, cells.get(id)?)))
                .collect();
            let Some(values) = values else { continue };
            let mut sql = SqlText::new(backend);
            sql.push(&format!("SELECT COUNT(*) FROM {table} AS r WHERE 1 = 1"));
            for (field, cell) in values {
                sql.push(&format!(" AND r.{} = ", quote(&ddl::column_name(field.id))));
                sql.arg(cells::to_arg(Some(cell), field.kind.storage(), backend)?);
            }
            if let Some(id) = ids.and_then(|ids| ids.get(index)) {
                sql.push(" AND r.id <> ")
                    .arg(Arg::Uuid(Some(*id.as_uuid())));
            }
            let (count,): (i64,) = conn.fetch_one(sql.into_sql()).await?;
            if count > 0 {
                taken.push(index);
            }
        }
        Ok(taken)
    }
}

/// `image/*` matches `image/png`; an exact type matches itself.
fn mime_matches(pattern: &str, content_type: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => content_type.split('/').next() == Some(prefix),
        None => pattern.eq_ignore_ascii_case(content_type),
    }
}
