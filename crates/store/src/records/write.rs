//! Writing records: create (one or a batch, in one transaction), update (with optimistic concurrency),
//! delete. Every write checks what only the data can check — linked records, members, departments and
//! files exist in this organization; unique values are unique — and records its audit entries in the
//! same transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::apps::computed::has_stored_computed;
use tenon_model::apps::{CellValue, FieldKind, Record, RecordActor, Storage, TableSchema};
use tenon_model::{Action, DetailCode, EventId, FieldId, Reason, RecordId, TargetKind, TimeZone};
use uuid::Uuid;

use super::computed::{self, Changed};
use super::query::SqlText;
use super::touched;
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
pub(crate) const VALUES_PER_STATEMENT: usize = 30_000;

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

/// The author a record names (`created_by` / `modified_by`), as stored: the member behind a session or a
/// personal token, else the actor (see [`tenon_model::Actor::author`]).
fn actor_json(ctx: &WriteContext) -> String {
    let author = ctx.actor.author();
    json!({"type": author.kind(), "id": author.id(), "name": author.name()}).to_string()
}

fn record_actor(ctx: &WriteContext) -> RecordActor {
    let author = ctx.actor.author();
    RecordActor {
        kind: author.kind().to_owned(),
        id: author.id(),
        name: author.name().to_owned(),
    }
}

/// The written records' event ids, by record (`events` in the order of `records`).
pub(super) fn event_ids(
    records: &[Record],
    events: Vec<Option<EventId>>,
) -> HashMap<Uuid, EventId> {
    records
        .iter()
        .zip(events)
        .filter_map(|(record, event)| Some((*record.id.as_uuid(), event?)))
        .collect()
}

/// Whether no field of the table, alone or with others, must be unique: then a write of its rows cannot
/// break a constraint for what a user sent (a write of one goes unread: [`Conn::execute_unobserved`]).
fn no_unique_field(schema: &TableSchema) -> bool {
    !schema.fields.iter().any(|field| field.unique) && schema.table.unique_together.is_empty()
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
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let outcome = self
            .create_records_in(&mut conn, ctx, schema, rows, org_time_zone, idempotency)
            .await?;
        if commit {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// Creates `rows` and changes `updates` in one transaction, all or nothing (an import that updates
    /// the records it matches: `--upsert-on`); with `commit` false, every check runs and nothing stays
    /// (a dry run). Returns the created and the changed records. A refused record's
    /// [`RecordProblem::index`] counts `rows` first, then `updates` (the first update is `rows.len()`).
    pub async fn create_and_update_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        rows: Vec<BTreeMap<FieldId, CellValue>>,
        updates: Vec<RecordUpdate>,
        org_time_zone: TimeZone,
        commit: bool,
    ) -> Result<(Vec<Record>, Vec<Record>)> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let offset = rows.len();
        let created = if rows.is_empty() {
            Vec::new()
        } else {
            match self
                .create_records_in(&mut conn, ctx, schema, rows, org_time_zone, None)
                .await?
            {
                WriteOutcome::Written(records) | WriteOutcome::Replayed(records) => records,
            }
        };
        let updated = if updates.is_empty() {
            Vec::new()
        } else {
            self.check_no_running_approval(&mut conn, schema, &updates)
                .await?;
            self.update_records_in(&mut conn, ctx, schema, updates)
                .await
                .map_err(|error| {
                    let shift = |problems: Vec<RecordProblem>| -> Vec<RecordProblem> {
                        problems
                            .into_iter()
                            .map(|mut problem| {
                                problem.index += offset;
                                problem
                            })
                            .collect()
                    };
                    match error {
                        StoreError::InvalidRecords(problems) => {
                            StoreError::InvalidRecords(shift(problems))
                        }
                        StoreError::RuleBroken(problems) => StoreError::RuleBroken(shift(problems)),
                        other => other,
                    }
                })?
        };
        if commit {
            tx.commit().await?;
        }
        Ok((created, updated))
    }

    /// [`Tenant::create_records`] inside the caller's transaction (an approval started with `fields`).
    pub(crate) async fn create_records_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        rows: Vec<BTreeMap<FieldId, CellValue>>,
        org_time_zone: TimeZone,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<WriteOutcome> {
        let backend = self.store.backend();
        let now = self.store.now();
        if let Some(key) = idempotency
            && let Some(ids) = self.idempotent_replay(conn, key).await?
        {
            let records = self.load_records(conn, schema, &ids, None).await?;
            return Ok(WriteOutcome::Replayed(records));
        }
        self.check_references(
            conn,
            schema,
            rows.iter()
                .enumerate()
                .map(|(i, cells)| (i, cells.iter().map(|(f, c)| (*f, Some(c))).collect())),
        )
        .await?;
        let mut rows = rows;
        self.assign_autonumbers(conn, schema, &mut rows, now, org_time_zone)
            .await?;
        let ids: Vec<RecordId> = rows.iter().map(|_| RecordId::new()).collect();
        let mut schemas = computed::Schemas::tracking(ids.iter().map(|id| *id.as_uuid()));
        if has_stored_computed(schema) || !schema.table.validation_rules.is_empty() {
            let ctx = self.eval_context(conn).await?;
            let system = vec![(now, now); rows.len()];
            self.compute_rows(conn, schema, &mut rows, &system, &ctx, &mut schemas)
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
        let columns = column_fields(schema, None);
        let created_by = actor_json(ctx);
        let per_row = 6 + columns.len();
        let rows_per_statement = (VALUES_PER_STATEMENT / per_row).max(1);
        let table = quote(&ddl::table_name(schema.table.id));
        // New ids, no unique field: an insert cannot fail for what a user sent, and goes unread.
        let unread = no_unique_field(schema);
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
            if unread {
                conn.execute_unobserved(sql.into_sql().new_rows()).await?;
            } else if let Err(error) = conn.execute(sql.into_sql()).await {
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
            left.extend(
                self.write_links(conn, schema, field, &links, false, &mut schemas)
                    .await?,
            );
        }
        let left: Vec<RecordId> = left.into_iter().map(RecordId::from_uuid).collect();
        if !left.is_empty() && has_stored_computed(schema) {
            let ctx = self.eval_context(conn).await?;
            self.recompute(conn, schema, &left, &ctx, &mut schemas)
                .await?;
        }
        let touched: Vec<RecordId> = ids.iter().chain(&left).copied().collect();
        self.propagate(
            conn,
            schema,
            &touched,
            Changed::All,
            Vec::new(),
            &mut schemas,
        )
        .await?;
        let actor = record_actor(ctx);
        let mut records: Vec<Record> = ids
            .iter()
            .zip(rows)
            .map(|(id, cells)| Record {
                id: *id,
                version: 1,
                created_at: now,
                modified_at: now,
                created_by: Some(actor.clone()),
                modified_by: Some(actor.clone()),
                cells,
            })
            .collect();
        // A created record another one links to, or that reads one through a link, moved after its
        // insert: read it back as stored.
        let moved: Vec<RecordId> = records
            .iter()
            .filter(|record| schemas.touched.direct_moved().contains(record.id.as_uuid()))
            .map(|record| record.id)
            .collect();
        if !moved.is_empty() {
            let mut reloaded: HashMap<RecordId, Record> = HashMap::new();
            for chunk in moved.chunks(IDS_PER_STATEMENT) {
                for record in self.load_records(conn, schema, chunk, None).await? {
                    reloaded.insert(record.id, record);
                }
            }
            for record in &mut records {
                if let Some(stored) = reloaded.remove(&record.id) {
                    *record = stored;
                }
            }
        }
        let names = self
            .render_names_in(conn, schema, records.iter(), &mut schemas)
            .await?;
        let changes = records
            .iter()
            .map(|record| Change {
                target_kind: TargetKind::Record,
                target_id: record.id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(touched::snapshot(schema, &names, record, None)),
                ctx,
            })
            .collect();
        let settled = self.settle_touched(conn, ctx, schema, &mut schemas).await?;
        let events = audit::record_many(conn, self, changes).await?;
        let events = event_ids(&records, events);
        self.record_settled(conn, settled, &events).await?;
        let written = records.iter().map(|r| (None, Some(r)));
        self.watch_written(conn, ctx, schema, written, &events)
            .await?;
        if let Some(key) = idempotency {
            self.remember_idempotency(conn, key, &ids, now).await?;
        }
        self.read_virtual(conn, schema, &mut records, None).await?;
        Ok(WriteOutcome::Written(records))
    }

    /// Changes records in one transaction and returns them as stored afterwards.
    pub async fn update_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        updates: Vec<RecordUpdate>,
    ) -> Result<Vec<Record>> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        self.check_no_running_approval(&mut conn, schema, &updates)
            .await?;
        let records = self
            .update_records_in(&mut conn, ctx, schema, updates)
            .await?;
        tx.commit().await?;
        Ok(records)
    }

    /// [`Tenant::update_records`] in the caller's transaction (an approval's status write), same audit.
    pub(crate) async fn update_records_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        updates: Vec<RecordUpdate>,
    ) -> Result<Vec<Record>> {
        let backend = self.store.backend();
        let now = self.store.now();
        let ids: Vec<RecordId> = updates.iter().map(|update| update.id).collect();
        let current = self.load_records_for_update(conn, schema, &ids).await?;
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
            conn,
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
        let mut schemas = computed::Schemas::tracking(ids.iter().map(|id| *id.as_uuid()));
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
        let links_changed = !changed_links.is_empty();
        let readers_before = if changed_links.is_empty() {
            Vec::new()
        } else {
            self.readers_of(
                conn,
                schema,
                &uuids,
                &Changed::Fields(changed_links),
                &mut schemas,
            )
            .await?
        };
        let modified_by = actor_json(ctx);
        let table = quote(&ddl::table_name(schema.table.id));
        // The rows were read locked above (PostgreSQL; SQLite's single writer), so each update changes
        // its row; without a unique field it cannot fail for what a user sent, and goes unread.
        let unread = no_unique_field(schema);
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
            if unread {
                conn.execute_unobserved(sql.into_sql()).await?;
            } else if let Err(error) = conn.execute(sql.into_sql()).await {
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
                            conn,
                            schema,
                            field,
                            &[(*update.id.as_uuid(), targets)],
                            true,
                            &mut schemas,
                        )
                        .await?,
                    );
                }
            }
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
            let ctx = self.eval_context(conn).await?;
            changed.extend(
                self.recompute(conn, schema, &touched, &ctx, &mut schemas)
                    .await?,
            );
        }
        self.propagate(
            conn,
            schema,
            &touched,
            Changed::Fields(changed),
            readers_before,
            &mut schemas,
        )
        .await?;
        // Only the update wrote them (each once; no link of theirs changed, no field of theirs is computed
        // and stored, nothing moved them through a link): they are what they were with it applied.
        let only_updated = !links_changed
            && left.is_empty()
            && current.len() == ids.len()
            && !has_stored_computed(schema)
            && !ids
                .iter()
                .any(|id| schemas.touched.direct_moved().contains(id.as_uuid()));
        let mut records = if only_updated {
            cells::updated_in_memory(schema, &current, &updates, now, record_actor(ctx))
        } else {
            self.load_records(conn, schema, &ids, None).await?
        };
        if !schema.table.validation_rules.is_empty() {
            let ctx = self.eval_context(conn).await?;
            // Indexes of the request: `ids` are in request order.
            self.check_rules(schema, &records, &ctx)?;
        }
        // Each record's event carries every field whose value moved in this transaction.
        let names = self
            .render_names_in(
                conn,
                schema,
                records
                    .iter()
                    .chain(records.iter().filter_map(|r| current.get(&r.id))),
                &mut schemas,
            )
            .await?;
        let changes = records
            .iter()
            .filter_map(|after| {
                let before = current.get(&after.id)?;
                let changed = touched::changed_fields(schema, &names, before, after);
                Some(Change {
                    target_kind: TargetKind::Record,
                    target_id: after.id.to_string(),
                    action: Action::Updated,
                    before: Some(touched::snapshot(schema, &names, before, Some(&changed))),
                    after: Some(touched::snapshot(schema, &names, after, Some(&changed))),
                    ctx,
                })
            })
            .collect();
        let settled = self.settle_touched(conn, ctx, schema, &mut schemas).await?;
        let events = audit::record_many(conn, self, changes).await?;
        let events = event_ids(&records, events);
        self.record_settled(conn, settled, &events).await?;
        let written = records.iter().map(|r| (current.get(&r.id), Some(r)));
        self.watch_written(conn, ctx, schema, written, &events)
            .await?;
        self.read_virtual(conn, schema, &mut records, None).await?;
        Ok(records)
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
