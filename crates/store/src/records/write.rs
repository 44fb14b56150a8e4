//! Writing records: create (one or a batch, in one transaction), update (with optimistic concurrency),
//! delete. Every write checks what only the data can check — linked records, members, departments and
//! files exist in this organization; unique values are unique — and records its audit entries in the
//! same transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::apps::computed::has_stored_computed;
use tenon_model::apps::{CellValue, Field, FieldKind, Record, RecordActor, Storage, TableSchema};
use tenon_model::{Action, DetailCode, FieldId, Reason, RecordId, TargetKind, TimeZone};
use uuid::Uuid;

use super::computed::{self, Changed};
use super::query::SqlText;
use super::{cells, column_fields};
use crate::apps::ddl;
use crate::audit::{self, Change};
use crate::exec::{Arg, Conn, Sql, quote};
use crate::{Result, StoreError, Tenant, WriteContext};

/// Ids bound in one `IN (…)` list.
pub(crate) const IDS_PER_STATEMENT: usize = 500;
/// Records one request may write (in one transaction); the server enforces it.
pub const RECORDS_PER_WRITE_MAX: usize = 1000;
/// Bound values per statement, under SQLite's limit of 32,766.
const VALUES_PER_STATEMENT: usize = 30_000;

pub use crate::error::RecordProblem;

/// A change to one record. `None` for a field clears it.
#[derive(Debug, Clone)]
pub struct RecordUpdate {
    pub id: RecordId,
    /// With `If-Match`: the version the client last saw; a different current version is a conflict.
    pub expected_version: Option<i64>,
    pub cells: BTreeMap<FieldId, Option<CellValue>>,
}

/// An `Idempotency-Key` of a create request: per credential, with a digest of the request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub credential: Uuid,
    pub key: String,
    pub fingerprint: [u8; 32],
}

/// Whether a create wrote records or replayed an earlier request with the same key.
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    Written(Vec<Record>),
    Replayed(Vec<Record>),
}

fn actor_json(ctx: &WriteContext) -> String {
    json!({"type": ctx.actor.kind(), "id": ctx.actor.id(), "name": ctx.actor.name()}).to_string()
}

fn record_actor(ctx: &WriteContext) -> RecordActor {
    RecordActor {
        kind: ctx.actor.kind().to_owned(),
        id: ctx.actor.id(),
        name: ctx.actor.name().to_owned(),
    }
}

/// A record's column values as an audit snapshot keyed by field key.
fn snapshot(
    schema: &TableSchema,
    cells: &BTreeMap<FieldId, CellValue>,
    only: Option<&HashSet<FieldId>>,
) -> Value {
    let mut object = serde_json::Map::new();
    for field in &schema.fields {
        if only.is_some_and(|only| !only.contains(&field.id)) {
            continue;
        }
        let value = cells.get(&field.id).map_or(Value::Null, cells::to_json);
        if only.is_some() || !value.is_null() {
            object.insert(field.key.as_str().to_owned(), value);
        }
    }
    Value::Object(object)
}

impl Tenant<'_> {
    /// Creates records in one transaction. With an idempotency key seen before (for the same request),
    /// nothing is written and the first request's records are returned.
    pub async fn create_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        rows: Vec<BTreeMap<FieldId, CellValue>>,
        org_time_zone: TimeZone,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<WriteOutcome> {
        self.write_new_records(ctx, schema, rows, org_time_zone, idempotency, true)
            .await
    }

    /// Runs a create with every check (uniqueness included) and rolls it back: a dry run.
    pub async fn rehearse_create_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        rows: Vec<BTreeMap<FieldId, CellValue>>,
        org_time_zone: TimeZone,
    ) -> Result<Vec<Record>> {
        match self
            .write_new_records(ctx, schema, rows, org_time_zone, None, false)
            .await?
        {
            WriteOutcome::Written(records) | WriteOutcome::Replayed(records) => Ok(records),
        }
    }

    async fn write_new_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        rows: Vec<BTreeMap<FieldId, CellValue>>,
        org_time_zone: TimeZone,
        idempotency: Option<&IdempotencyKey>,
        commit: bool,
    ) -> Result<WriteOutcome> {
        let backend = self.store.backend();
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if let Some(key) = idempotency
            && let Some(ids) = self.idempotent_replay(&mut conn, key).await?
        {
            let records = self.load_records(&mut conn, schema, &ids, None).await?;
            return Ok(WriteOutcome::Replayed(records));
        }
        self.check_references(
            &mut conn,
            schema,
            rows.iter()
                .enumerate()
                .map(|(i, cells)| (i, cells.iter().map(|(f, c)| (*f, Some(c))).collect())),
        )
        .await?;
        let mut rows = rows;
        self.assign_autonumbers(&mut conn, schema, &mut rows, now, org_time_zone)
            .await?;
        let mut schemas = computed::Schemas::default();
        if has_stored_computed(schema) || !schema.table.validation_rules.is_empty() {
            let ctx = self.eval_context(&mut conn).await?;
            let system = vec![(now, now); rows.len()];
            self.compute_rows(&mut conn, schema, &mut rows, &system, &ctx, &mut schemas)
                .await?;
            let drafts: Vec<Record> = rows
                .iter()
                .map(|cells| Record {
                    id: RecordId::new(),
                    version: 1,
                    created_at: now,
                    modified_at: now,
                    created_by: None,
                    modified_by: None,
                    cells: cells.clone(),
                })
                .collect();
            self.check_rules(schema, &drafts, &ctx)?;
        }
        let ids: Vec<RecordId> = rows.iter().map(|_| RecordId::new()).collect();
        let columns = column_fields(schema, None);
        let created_by = actor_json(ctx);
        let per_row = 6 + columns.len();
        let rows_per_statement = (VALUES_PER_STATEMENT / per_row).max(1);
        let table = quote(&ddl::table_name(schema.table.id));
        let mut column_list =
            "id, version, created_at, modified_at, created_by, modified_by".to_owned();
        for field in &columns {
            column_list.push_str(", ");
            column_list.push_str(&quote(&ddl::column_name(field.id)));
        }
        for (chunk_ids, chunk_rows) in ids
            .chunks(rows_per_statement)
            .zip(rows.chunks(rows_per_statement))
        {
            let mut sql = SqlText::new(backend);
            sql.push(&format!("INSERT INTO {table} ({column_list}) VALUES "));
            for (i, (id, cells)) in chunk_ids.iter().zip(chunk_rows).enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(");
                let mut values = vec![
                    Arg::Uuid(Some(*id.as_uuid())),
                    Arg::Int(Some(1)),
                    Arg::Time(Some(now)),
                    Arg::Time(Some(now)),
                    Arg::Text(Some(created_by.clone())),
                    Arg::Text(Some(created_by.clone())),
                ];
                for field in &columns {
                    values.push(cells::to_arg(
                        cells.get(&field.id),
                        field.kind.storage(),
                        backend,
                    )?);
                }
                sql.args(values).push(")");
            }
            if let Err(error) = conn.execute(sql.into_sql()).await {
                drop(tx);
                return Err(self.unique_problem(schema, error, &rows, None).await);
            }
        }
        let mut left: Vec<Uuid> = Vec::new();
        for field in schema
            .fields
            .iter()
            .filter(|field| field.kind.storage() == Storage::Junction)
        {
            let links: Vec<(Uuid, Vec<Uuid>)> = ids
                .iter()
                .zip(&rows)
                .filter_map(|(id, cells)| match cells.get(&field.id) {
                    Some(CellValue::Ids(targets)) => Some((*id.as_uuid(), targets.clone())),
                    _ => None,
                })
                .collect();
            left.extend(self.write_links(&mut conn, field, &links, false).await?);
        }
        let left: Vec<RecordId> = left.into_iter().map(RecordId::from_uuid).collect();
        if !left.is_empty() && has_stored_computed(schema) {
            let ctx = self.eval_context(&mut conn).await?;
            self.recompute(&mut conn, schema, &left, &ctx, &mut schemas)
                .await?;
        }
        let touched: Vec<RecordId> = ids.iter().chain(&left).copied().collect();
        self.propagate(
            &mut conn,
            schema,
            &touched,
            Changed::All,
            Vec::new(),
            &mut schemas,
        )
        .await?;
        let changes = ids
            .iter()
            .zip(&rows)
            .map(|(id, cells)| Change {
                target_kind: TargetKind::Record,
                target_id: id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(json!({"table_id": schema.table.id.to_string(), "fields": snapshot(schema, cells, None)})),
                ctx,
            })
            .collect();
        audit::record_many(&mut conn, self, changes).await?;
        if let Some(key) = idempotency {
            self.remember_idempotency(&mut conn, key, &ids, now).await?;
        }
        let actor = record_actor(ctx);
        let mut records: Vec<Record> = ids
            .into_iter()
            .zip(rows)
            .map(|(id, cells)| Record {
                id,
                version: 1,
                created_at: now,
                modified_at: now,
                created_by: Some(actor.clone()),
                modified_by: Some(actor.clone()),
                cells,
            })
            .collect();
        self.read_virtual(&mut conn, schema, &mut records, None)
            .await?;
        if commit {
            tx.commit().await?;
        }
        Ok(WriteOutcome::Written(records))
    }

    /// Changes records in one transaction and returns them as stored afterwards.
    pub async fn update_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        updates: Vec<RecordUpdate>,
    ) -> Result<Vec<Record>> {
        let backend = self.store.backend();
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let ids: Vec<RecordId> = updates.iter().map(|update| update.id).collect();
        let current = self.load_records(&mut conn, schema, &ids, None).await?;
        let current: HashMap<RecordId, Record> = current
            .into_iter()
            .map(|record| (record.id, record))
            .collect();
        let missing: Vec<RecordProblem> = updates
            .iter()
            .enumerate()
            .filter(|(_, update)| !current.contains_key(&update.id))
            .map(|(index, update)| RecordProblem {
                index,
                field: None,
                reason: Reason::not_found(
                    "record",
                    format!("no record {} in this table", update.id),
                ),
            })
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::InvalidRecords(missing));
        }
        for update in &updates {
            if let (Some(expected), Some(record)) =
                (update.expected_version, current.get(&update.id))
                && record.version != expected
            {
                return Err(StoreError::conflict(
                    Some("version"),
                    DetailCode::VersionMismatch,
                    format!(
                        "record {} is at version {}, not {expected}; reload it and try again",
                        update.id, record.version
                    ),
                )
                .with("expected", expected)
                .with("current", record.version));
            }
        }
        self.check_references(
            &mut conn,
            schema,
            updates.iter().enumerate().map(|(i, update)| {
                (
                    i,
                    update.cells.iter().map(|(f, c)| (*f, c.as_ref())).collect(),
                )
            }),
        )
        .await?;
        // Records that read the changed links before the change (they may lose a linked record).
        let mut schemas = computed::Schemas::default();
        let changed_links: HashSet<FieldId> = updates
            .iter()
            .flat_map(|update| update.cells.keys())
            .filter(|id| {
                schema
                    .field(**id)
                    .is_some_and(|field| field.kind.storage() == Storage::Junction)
            })
            .copied()
            .collect();
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let readers_before = if changed_links.is_empty() {
            Vec::new()
        } else {
            self.readers_of(
                &mut conn,
                schema,
                &uuids,
                &Changed::Fields(changed_links),
                &mut schemas,
            )
            .await?
        };
        let modified_by = actor_json(ctx);
        let table = quote(&ddl::table_name(schema.table.id));
        let mut changes = Vec::with_capacity(updates.len());
        let mut left: Vec<Uuid> = Vec::new();
        for update in &updates {
            let mut sql = SqlText::new(backend);
            sql.push(&format!(
                "UPDATE {table} SET version = version + 1, modified_at = "
            ))
            .arg(Arg::Time(Some(now)));
            sql.push(", modified_by = ")
                .arg(Arg::Text(Some(modified_by.clone())));
            for (field_id, cell) in &update.cells {
                let Some(field) = schema.field(*field_id) else {
                    continue;
                };
                if matches!(
                    field.kind.storage(),
                    Storage::Junction | Storage::System | Storage::Virtual
                ) {
                    continue;
                }
                sql.push(&format!(", {} = ", quote(&ddl::column_name(*field_id))));
                sql.arg(cells::to_arg(cell.as_ref(), field.kind.storage(), backend)?);
            }
            sql.push(" WHERE id = ")
                .arg(Arg::Uuid(Some(*update.id.as_uuid())));
            if let Some(expected) = update.expected_version {
                sql.push(" AND version = ").arg(Arg::Int(Some(expected)));
            }
            if let Err(error) = conn.execute(sql.into_sql()).await {
                drop(tx);
                let rows: Vec<BTreeMap<FieldId, CellValue>> = updates
                    .iter()
                    .map(|update| {
                        update
                            .cells
                            .iter()
                            .filter_map(|(f, c)| c.clone().map(|c| (*f, c)))
                            .collect()
                    })
                    .collect();
                return Err(self.unique_problem(schema, error, &rows, Some(&ids)).await);
            }
            for (field_id, cell) in &update.cells {
                let Some(field) = schema.field(*field_id) else {
                    continue;
                };
                if field.kind.storage() == Storage::Junction {
                    let targets = match cell {
                        Some(CellValue::Ids(targets)) => targets.clone(),
                        _ => Vec::new(),
                    };
                    left.extend(
                        self.write_links(
                            &mut conn,
                            field,
                            &[(*update.id.as_uuid(), targets)],
                            true,
                        )
                        .await?,
                    );
                }
            }
            let before = current
                .get(&update.id)
                .map(|record| record.cells.clone())
                .unwrap_or_default();
            let mut after = before.clone();
            for (field_id, cell) in &update.cells {
                match cell {
                    Some(cell) => after.insert(*field_id, cell.clone()),
                    None => after.remove(field_id),
                };
            }
            let changed: HashSet<FieldId> = update.cells.keys().copied().collect();
            changes.push(Change {
                target_kind: TargetKind::Record,
                target_id: update.id.to_string(),
                action: Action::Updated,
                before: Some(json!({"table_id": schema.table.id.to_string(), "fields": snapshot(schema, &before, Some(&changed))})),
                after: Some(json!({"table_id": schema.table.id.to_string(), "fields": snapshot(schema, &after, Some(&changed))})),
                ctx,
            });
        }
        let mut changed: HashSet<FieldId> = updates
            .iter()
            .flat_map(|update| update.cells.keys())
            .copied()
            .collect();
        left.retain(|id| !uuids.contains(id));
        let touched: Vec<RecordId> = ids
            .iter()
            .copied()
            .chain(left.iter().map(|id| RecordId::from_uuid(*id)))
            .collect();
        if has_stored_computed(schema) {
            let ctx = self.eval_context(&mut conn).await?;
            changed.extend(
                self.recompute(&mut conn, schema, &touched, &ctx, &mut schemas)
                    .await?,
            );
        }
        self.propagate(
            &mut conn,
            schema,
            &touched,
            Changed::Fields(changed),
            readers_before,
            &mut schemas,
        )
        .await?;
        audit::record_many(&mut conn, self, changes).await?;
        let mut records = self.load_records(&mut conn, schema, &ids, None).await?;
        if !schema.table.validation_rules.is_empty() {
            let ctx = self.eval_context(&mut conn).await?;
            // Indexes of the request: `ids` are in request order.
            self.check_rules(schema, &records, &ctx)?;
        }
        self.read_virtual(&mut conn, schema, &mut records, None)
            .await?;
        tx.commit().await?;
        Ok(records)
    }

    /// Deletes records (their links go with them) in one transaction.
    pub async fn delete_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        ids: &[RecordId],
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let existing = self.load_records(&mut conn, schema, ids, None).await?;
        let found: HashSet<RecordId> = existing.iter().map(|record| record.id).collect();
        let missing: Vec<RecordProblem> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !found.contains(id))
            .map(|(index, id)| RecordProblem {
                index,
                field: None,
                reason: Reason::not_found("record", format!("no record {id} in this table")),
            })
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::InvalidRecords(missing));
        }
        let mut schemas = computed::Schemas::default();
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let readers_before = self
            .readers_of(&mut conn, schema, &uuids, &Changed::All, &mut schemas)
            .await?;
        let table = quote(&ddl::table_name(schema.table.id));
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(&format!("DELETE FROM {table} WHERE id IN ("))
                .args(chunk.iter().map(|id| Arg::Uuid(Some(*id.as_uuid()))))
                .push(")");
            conn.execute(sql.into_sql()).await?;
        }
        self.propagate(
            &mut conn,
            schema,
            &[],
            Changed::All,
            readers_before,
            &mut schemas,
        )
        .await?;
        let changes = existing
            .iter()
            .map(|record| Change {
                target_kind: TargetKind::Record,
                target_id: record.id.to_string(),
                action: Action::Deleted,
                before: Some(json!({"table_id": schema.table.id.to_string(), "fields": snapshot(schema, &record.cells, None)})),
                after: None,
                ctx,
            })
            .collect();
        audit::record_many(&mut conn, self, changes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces (or, on create, sets) the links of records through one link field. When the other side
    /// holds one record at most, a target linked elsewhere moves here; the records it leaves are returned
    /// (their link changed too).
    async fn write_links(
        &self,
        conn: &mut Conn<'_>,
        field: &Field,
        links: &[(Uuid, Vec<Uuid>)],
        replace: bool,
    ) -> Result<Vec<Uuid>> {
        let FieldKind::Link {
            table: tenon_model::apps::LinkTarget::Resolved(target_table),
            inverse: Some(inverse),
            ..
        } = field.kind
        else {
            return Ok(Vec::new());
        };
        let owner_side = field.id < inverse;
        let (mine, other) = if owner_side {
            ("source_id", "target_id")
        } else {
            ("target_id", "source_id")
        };
        let junction = quote(&ddl::junction_name(field.id, inverse));
        let backend = conn.backend();
        if replace {
            for chunk in links.chunks(IDS_PER_STATEMENT) {
                let mut sql = SqlText::new(backend);
                sql.push(&format!("DELETE FROM {junction} WHERE {mine} IN ("))
                    .args(chunk.iter().map(|(id, _)| Arg::Uuid(Some(*id))))
                    .push(")");
                conn.execute(sql.into_sql()).await?;
            }
        }
        let single_other = self
            .load_fields(conn, target_table)
            .await?
            .iter()
            .any(|candidate| {
                candidate.id == inverse
                    && matches!(
                        candidate.kind,
                        FieldKind::Link {
                            multiple: false,
                            ..
                        }
                    )
            });
        let mut left = Vec::new();
        if single_other {
            let writers: HashSet<Uuid> = links.iter().map(|(id, _)| *id).collect();
            let targets: Vec<Uuid> = links
                .iter()
                .flat_map(|(_, targets)| targets.iter().copied())
                .collect();
            for chunk in targets.chunks(IDS_PER_STATEMENT) {
                let mut sql = SqlText::new(backend);
                sql.push(&format!("SELECT {mine} FROM {junction} WHERE {other} IN ("))
                    .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                    .push(")");
                let owners: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
                left.extend(
                    owners
                        .into_iter()
                        .map(|(id,)| id)
                        .filter(|id| !writers.contains(id)),
                );
                let mut sql = SqlText::new(backend);
                sql.push(&format!("DELETE FROM {junction} WHERE {other} IN ("))
                    .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                    .push(")");
                conn.execute(sql.into_sql()).await?;
            }
            left.sort();
            left.dedup();
        }
        let pairs: Vec<(Uuid, Uuid, i64)> = links
            .iter()
            .flat_map(|(id, targets)| {
                targets
                    .iter()
                    .enumerate()
                    .map(move |(n, target)| (*id, *target, i64::try_from(n).unwrap_or(i64::MAX)))
            })
            .collect();
        for chunk in pairs.chunks(VALUES_PER_STATEMENT / 3) {
            let mut sql = SqlText::new(backend);
            sql.push(&format!(
                "INSERT INTO {junction} ({mine}, {other}, position) VALUES "
            ));
            for (i, (me, target, position)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .args([
                        Arg::Uuid(Some(*me)),
                        Arg::Uuid(Some(*target)),
                        Arg::Int(Some(*position)),
                    ])
                    .push(")");
            }
            conn.execute(sql.into_sql()).await?;
        }
        Ok(left)
    }

    /// Gives every new record its autonumbers, reserving one block per field and period.
    async fn assign_autonumbers(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        rows: &mut [BTreeMap<FieldId, CellValue>],
        now: DateTime<Utc>,
        org_time_zone: TimeZone,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        for field in &schema.fields {
            let FieldKind::Autonumber {
                prefix,
                date_pattern,
                digits,
            } = &field.kind
            else {
                continue;
            };
            let date_part = date_pattern.map(|pattern| {
                now.with_timezone(&org_time_zone.tz())
                    .format(pattern.format())
                    .to_string()
            });
            let period = date_part.clone().unwrap_or_default();
            let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            let (last,): (i64,) = conn
                .fetch_one(
                    Sql::new(
                        "INSERT INTO field_sequences (organization_id, field_id, period, next_value) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (organization_id, field_id, period) DO UPDATE SET next_value = field_sequences.next_value + $4 \
                         RETURNING next_value",
                    )
                    .bind(self.org_id)
                    .bind(*field.id.as_uuid())
                    .bind(period)
                    .bind(count),
                )
                .await?;
            let first = last - count + 1;
            let width = *digits as usize;
            for (n, row) in rows.iter_mut().enumerate() {
                let number = first + i64::try_from(n).unwrap_or(0);
                let text = match &date_part {
                    Some(date) => format!("{prefix}{date}-{number:0width$}"),
                    None => format!("{prefix}{number:0width$}"),
                };
                row.insert(field.id, CellValue::Text(text));
            }
        }
        Ok(())
    }

    async fn idempotent_replay(
        &self,
        conn: &mut Conn<'_>,
        key: &IdempotencyKey,
    ) -> Result<Option<Vec<RecordId>>> {
        let row: Option<(Vec<u8>, sqlx::types::Json<Vec<Uuid>>)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT fingerprint, record_ids FROM idempotency_keys WHERE organization_id = $1 AND credential = $2 AND key = $3",
                )
                .bind(self.org_id)
                .bind(key.credential)
                .bind(key.key.as_str()),
            )
            .await?;
        match row {
            None => Ok(None),
            Some((fingerprint, _)) if fingerprint != key.fingerprint => Err(StoreError::conflict(
                Some("Idempotency-Key"),
                DetailCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used for a different request",
            )),
            Some((_, ids)) => Ok(Some(ids.0.into_iter().map(RecordId::from_uuid).collect())),
        }
    }

    async fn remember_idempotency(
        &self,
        conn: &mut Conn<'_>,
        key: &IdempotencyKey,
        ids: &[RecordId],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let ids = Value::Array(ids.iter().map(|id| Value::String(id.to_string())).collect());
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO idempotency_keys (organization_id, credential, key, fingerprint, record_ids, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(self.org_id)
                .bind(key.credential)
                .bind(key.key.as_str())
                .bind(key.fingerprint.as_slice())
                .bind(ids)
                .bind(now),
            )
            .await;
        inserted.map_err(|error| match crate::error::unique_violation(&error) {
            // A concurrent request with the same key committed first; the client retries and gets its answer.
            Some(_) => StoreError::conflict(
                Some("Idempotency-Key"),
                DetailCode::IdempotencyKeyReused,
                "a request with this Idempotency-Key is being processed",
            ),
            None => error.into(),
        })?;
        Ok(())
    }
}
