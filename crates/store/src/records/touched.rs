//! Records a write changes besides the ones it writes: the other side of a link it sets or clears, and the
//! records whose lookups, rollups, counts (and formulas over them) follow. Each gets, in the write's
//! transaction, a version bump, `modified_at` (not `modified_by`: no one touched it), an audit entry and a
//! `record.updated` event whose `data.cause` names the written record and its event — one per record per
//! transaction however many written records reach it.
//!
//! The write notes each such record's state the first time it is about to change ([`Touched::note`]),
//! then [`Tenant::settle_touched`] compares every noted record with what it became and bumps those that
//! moved, and, once the written records' events exist, [`Tenant::record_settled`] records their changes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use tenon_model::apps::{Record, Storage, TableSchema};
use tenon_model::{Action, EventId, FieldId, RecordId, TableId, TargetKind};
use uuid::Uuid;

use super::computed::Schemas;
use super::render::Names;
use super::write::IDS_PER_STATEMENT;
use crate::audit::{self, Change};
use crate::exec::{Arg, Conn};
use crate::flows::watch::Watched;
use crate::sql::SqlText;
use crate::{Result, Tenant, WriteContext};

/// What a write touched (kept beside the schemas a propagation visits).
#[derive(Default)]
pub(crate) struct Touched {
    /// Off (schema changes recomputing a whole table): nothing is noted.
    on: bool,
    /// Records the write itself creates, updates or deletes.
    direct: HashSet<Uuid>,
    /// Direct records whose stored state moved after it was written (a created record that another
    /// created record links to, or whose computed fields read such a record): reloaded before rendering.
    direct_moved: HashSet<Uuid>,
    /// Noted records, in the order first seen.
    noted: Vec<Noted>,
    seen: HashSet<Uuid>,
    /// The direct record whose write reaches a record, known before the record changes.
    causes: HashMap<Uuid, Uuid>,
    /// Names of deleted records, for the links to them that noted records had before.
    gone: HashMap<Uuid, String>,
}

struct Noted {
    table: TableId,
    before: Record,
    cause: Uuid,
}

impl Touched {
    /// Tracking for a write of `direct` records.
    pub(crate) fn new(direct: impl IntoIterator<Item = Uuid>) -> Touched {
        Touched {
            on: true,
            direct: direct.into_iter().collect(),
            ..Touched::default()
        }
    }

    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// The direct record behind `id` (itself when it is one), if known.
    fn cause_of(&self, id: Uuid) -> Option<Uuid> {
        if self.direct.contains(&id) {
            return Some(id);
        }
        self.causes.get(&id).copied()
    }

    /// `reader` changes because `source` changed: its cause is `source`'s (the first one seen wins).
    pub(crate) fn reaches(&mut self, source: Uuid, reader: Uuid) {
        if !self.on || self.direct.contains(&reader) || self.causes.contains_key(&reader) {
            return;
        }
        if let Some(cause) = self.cause_of(source) {
            self.causes.insert(reader, cause);
        }
    }

    /// `record` of `table` is about to change: keeps its state the first time. A direct record is marked
    /// moved instead.
    pub(crate) fn note(&mut self, table: TableId, record: &Record) {
        if !self.on {
            return;
        }
        let id = *record.id.as_uuid();
        if self.direct.contains(&id) {
            self.direct_moved.insert(id);
            return;
        }
        if !self.seen.insert(id) {
            return;
        }
        let cause = self
            .cause_of(id)
            .or_else(|| self.direct.iter().min().copied())
            .unwrap_or(id);
        self.noted.push(Noted {
            table,
            before: record.clone(),
            cause,
        });
    }

    /// Whether `id` was noted (its state before the write is known).
    pub(crate) fn seen(&self, id: Uuid) -> bool {
        self.seen.contains(&id) || self.direct.contains(&id)
    }

    /// Remembers the names of records about to be deleted.
    pub(crate) fn going(&mut self, names: HashMap<Uuid, String>) {
        if self.on {
            self.gone.extend(names);
        }
    }

    /// Direct records whose stored state moved after they were written.
    pub(crate) fn direct_moved(&self) -> &HashSet<Uuid> {
        &self.direct_moved
    }
}

/// The fields whose value, as the API shows it, differs between two states of a record; formulas
/// computed when read are not stored and never count.
pub(crate) fn changed_fields(
    schema: &TableSchema,
    names: &Names,
    before: &Record,
    after: &Record,
) -> HashSet<FieldId> {
    schema
        .fields
        .iter()
        .filter(|field| field.kind.storage() != Storage::Virtual)
        .filter(|field| names.field(field, before) != names.field(field, after))
        .map(|field| field.id)
        .collect()
}

/// A record's audit snapshot: `{"table_id", "fields"}` with the fields as the API shows them (all
/// non-empty stored ones, or just `only`, empty ones as `null`).
pub(crate) fn snapshot(
    schema: &TableSchema,
    names: &Names,
    record: &Record,
    only: Option<&HashSet<FieldId>>,
) -> Value {
    let mut fields = names.fields(schema, record, only);
    for field in &schema.fields {
        if field.kind.storage() == Storage::Virtual {
            fields.remove(field.key.as_str());
        }
    }
    json!({"table_id": schema.table.id.to_string(), "fields": fields})
}

/// Changes of records the write moved, settled (bumped, rendered) but not yet recorded: their audit
/// entries and events wait for the written records' event ids, and the watch hook for their own.
pub(crate) struct Settled<'a> {
    ctx: &'a WriteContext,
    changes: Vec<(Change<'a>, Uuid)>,
    /// By table, in the order of `changes`: each moved record's state before and after.
    states: Vec<(TableSchema, Vec<(Record, Record)>)>,
}

impl Tenant<'_> {
    /// Gives every record the write touched and changed its version bump and `modified_at`, and renders
    /// its change. Runs before the written records' events are appended: on PostgreSQL every row lock of a
    /// write is then taken before the organization's event counter, as in every other write, so two
    /// writes never wait for each other in opposite orders. Records that ended as they began get nothing.
    pub(crate) async fn settle_touched<'a>(
        &self,
        conn: &mut Conn<'_>,
        ctx: &'a WriteContext,
        written: &TableSchema,
        schemas: &mut Schemas,
    ) -> Result<Settled<'a>> {
        let mut settled = Settled {
            ctx,
            changes: Vec::new(),
            states: Vec::new(),
        };
        let noted = std::mem::take(&mut schemas.touched.noted);
        let gone = std::mem::take(&mut schemas.touched.gone);
        if noted.is_empty() {
            return Ok(settled);
        }
        let now = self.store.now();
        let mut by_table: BTreeMap<TableId, Vec<Noted>> = BTreeMap::new();
        let mut order = Vec::new();
        for entry in noted {
            if !by_table.contains_key(&entry.table) {
                order.push(entry.table);
            }
            by_table.entry(entry.table).or_default().push(entry);
        }
        for table in order {
            let entries = by_table.remove(&table).unwrap_or_default();
            let schema = self.schema_of(conn, schemas, table).await?;
            let ids: Vec<RecordId> = entries.iter().map(|entry| entry.before.id).collect();
            let mut afters: HashMap<RecordId, Record> = HashMap::with_capacity(ids.len());
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                for record in self.load_records(conn, &schema, chunk, None).await? {
                    afters.insert(record.id, record);
                }
            }
            // Compared on stored values first: the system columns have not moved yet.
            let moved: Vec<&Noted> = entries
                .iter()
                .filter(|entry| {
                    afters
                        .get(&entry.before.id)
                        .is_some_and(|after| after.cells != entry.before.cells)
                })
                .collect();
            if moved.is_empty() {
                continue;
            }
            let table_name = crate::exec::quote(&crate::apps::ddl::table_name(table));
            for chunk in moved.chunks(IDS_PER_STATEMENT) {
                let mut sql = SqlText::new(conn.backend());
                sql.push(&format!(
                    "UPDATE {table_name} SET version = version + 1, modified_at = "
                ))
                .arg(Arg::Time(Some(now)))
                .push(" WHERE id IN (")
                .args(
                    chunk
                        .iter()
                        .map(|entry| Arg::Uuid(Some(*entry.before.id.as_uuid()))),
                )
                .push(")");
                conn.execute(sql.into_sql()).await?;
            }
            let mut pairs = Vec::with_capacity(moved.len());
            for entry in moved {
                let Some(mut after) = afters.remove(&entry.before.id) else {
                    continue;
                };
                after.version += 1;
                after.modified_at = now;
                pairs.push((entry, after));
            }
            let mut names = self
                .render_names_in(
                    conn,
                    &schema,
                    pairs
                        .iter()
                        .flat_map(|(entry, after)| [&entry.before, after]),
                    schemas,
                )
                .await?;
            names.name_gone(&gone);
            let mut states = Vec::with_capacity(pairs.len());
            for (entry, after) in pairs {
                let changed = changed_fields(&schema, &names, &entry.before, &after);
                let mut after_snapshot = snapshot(&schema, &names, &after, Some(&changed));
                after_snapshot["cause"] = json!({
                    "app_id": written.app.id.to_string(),
                    "table_id": written.table.id.to_string(),
                    "record_id": entry.cause.to_string(),
                    "event_id": Value::Null,
                });
                let change = Change {
                    target_kind: TargetKind::Record,
                    target_id: after.id.to_string(),
                    action: Action::Updated,
                    before: Some(snapshot(&schema, &names, &entry.before, Some(&changed))),
                    after: Some(after_snapshot),
                    ctx,
                };
                settled.changes.push((change, entry.cause));
                states.push((entry.before.clone(), after));
            }
            settled.states.push((schema, states));
        }
        Ok(settled)
    }

    /// Appends the audit entries and events of settled changes, naming the written record's event
    /// (`events`: the written records' event ids, by record), then runs the watch hook on the records
    /// they moved: a record recomputed through links triggers its table's flows as a written one does,
    /// its own event's id the trigger key and the written record its trigger's `cause`.
    pub(crate) async fn record_settled(
        &self,
        conn: &mut Conn<'_>,
        settled: Settled<'_>,
        events: &HashMap<Uuid, EventId>,
    ) -> Result<()> {
        if settled.changes.is_empty() {
            return Ok(());
        }
        let mut causes = Vec::with_capacity(settled.changes.len());
        let changes = settled
            .changes
            .into_iter()
            .map(|(mut change, cause)| {
                if let Some(after) = change.after.as_mut() {
                    after["cause"]["event_id"] = json!(events.get(&cause).map(ToString::to_string));
                }
                causes.push(change.after.as_ref().map(|after| after["cause"].clone()));
                change
            })
            .collect();
        let ids = audit::record_many(conn, self, changes).await?;
        let mut recorded = ids.into_iter().zip(causes);
        for (schema, states) in &settled.states {
            let watched: Vec<Watched<'_>> = states
                .iter()
                .zip(recorded.by_ref())
                .filter_map(|((before, after), (event, cause))| {
                    Some(Watched {
                        before: Some(before),
                        after: Some(after),
                        event: event?,
                        cause,
                    })
                })
                .collect();
            self.watch_records(conn, settled.ctx, schema, &watched)
                .await?;
        }
        Ok(())
    }
}
