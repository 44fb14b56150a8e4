//! The watch hook: a record write evaluates its table's record triggers before and after, and inserts
//! the runs in its own transaction.
//!
//! Called by the records module once a write's events exist (their ids are the runs' trigger keys), for
//! the records the write itself created, updated or deleted, and for the records it changed through links
//! (lookups, rollups, counts, inverse links and formulas over them: `record.updated` events with
//! `data.cause`), whose trigger names the written record as its `cause`. One indexed read finds the enabled flows
//! watching the table; a table nobody watches costs only that. For each flow, `tenon_flows::trigger::fires`
//! decides on the `when` condition's value before and after (evaluated on the stored values) and the
//! fields that moved; a firing inserts a `queued` run with `ON CONFLICT DO NOTHING` on
//! `(flow, trigger_key)`: one trigger, one run. A flow's own writes do not trigger it, and a run started
//! by another run's write is one level deeper; past `tenon_flows::DEPTH_MAX` the run is recorded as
//! failed instead of queued.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tenon_flows::scope::record_json;
use tenon_flows::trigger::{Change, fires};
use tenon_flows::{CompiledFlow, RunStatus};
use tenon_model::apps::computed::eval_formula;
use tenon_model::apps::formula;
use tenon_model::apps::{Record, TableSchema};
use tenon_model::{Actor, EventId, FieldId, FlowId, FlowRunId, TableId};
use uuid::Uuid;

use crate::cache::WatchingFlow;
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A record a write changed: its state before (absent for a creation) and after (absent for a
/// deletion), and the id of the event that says so.
pub(crate) struct Watched<'a> {
    pub before: Option<&'a Record>,
    pub after: Option<&'a Record>,
    pub event: EventId,
    /// For a record changed through links, the written record behind it: `{app_id, table_id, record_id,
    /// event_id}`.
    pub cause: Option<Value>,
}

/// A flow row as [`Tenant::watching`] reads it.
#[derive(sqlx::FromRow)]
struct Watching {
    id: Uuid,
    key: String,
    published_version: i32,
    compiled: sqlx::types::Json<Value>,
}

impl Tenant<'_> {
    /// The hook as the records module calls it: `(before, after)` of each written record, and the
    /// write's event ids by record (a record without an event — nothing moved — triggers nothing).
    pub(crate) async fn watch_written<'r>(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        written: impl Iterator<Item = (Option<&'r Record>, Option<&'r Record>)>,
        events: &HashMap<Uuid, EventId>,
    ) -> Result<()> {
        let watched: Vec<Watched<'r>> = written
            .filter_map(|(before, after)| {
                let id = after.or(before)?.id;
                Some(Watched {
                    before,
                    after,
                    event: *events.get(id.as_uuid())?,
                    cause: None,
                })
            })
            .collect();
        self.watch_records(conn, ctx, schema, &watched).await
    }

    /// Inserts the runs the changes of records of `schema` trigger.
    pub(crate) async fn watch_records(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        changes: &[Watched<'_>],
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let watching = self.watching(conn, schema.table.id).await?;
        if watching.is_empty() {
            return Ok(());
        }
        let (writer, depth) = match &ctx.actor {
            Actor::Flow { flow_id, depth, .. } => (Some(*flow_id), depth + 1),
            _ => (None, 0),
        };
        let eval = self.eval_context(conn).await?;
        for flow in watching.iter() {
            let flow_id = flow.id;
            if writer == Some(flow_id) {
                continue;
            }
            let compiled = &flow.compiled;
            let Some(watch) = compiled.watch() else {
                continue;
            };
            let when = match compiled.when(schema) {
                Ok(when) => when,
                Err(reason) => {
                    // A field the condition reads was deleted or changed type: the flow cannot match.
                    tracing::warn!(flow = %flow.key, %reason, "a flow's trigger condition no longer checks");
                    continue;
                }
            };
            let holds = |record: Option<&Record>| -> bool {
                match (&when, record) {
                    (Some(when), Some(record)) => {
                        matches!(
                            eval_formula(when, &record.cells, &eval),
                            formula::Value::Bool(true)
                        )
                    }
                    _ => false,
                }
            };
            for change in changes {
                let kind = match (change.before, change.after) {
                    (None, Some(_)) => Change::Created,
                    (Some(_), Some(_)) => Change::Updated,
                    (Some(_), None) => Change::Deleted,
                    (None, None) => continue,
                };
                let moved: HashSet<FieldId> = match (change.before, change.after) {
                    (Some(before), Some(after)) => schema
                        .fields
                        .iter()
                        .filter(|f| before.cells.get(&f.id) != after.cells.get(&f.id))
                        .map(|f| f.id)
                        .collect(),
                    _ => HashSet::new(),
                };
                if !fires(
                    &watch,
                    kind,
                    &moved,
                    holds(change.before),
                    holds(change.after),
                ) {
                    continue;
                }
                let record = change.after.or(change.before).map(|r| r.id);
                let mut trigger = json!({
                    "type": "record",
                    "on": watch.on.as_str(),
                    "change": kind.as_str(),
                    "event_id": change.event.to_string(),
                    "app_id": schema.app.id.to_string(),
                    "table_id": schema.table.id.to_string(),
                    "record_id": record.map(|id| id.to_string()),
                    "fields": change.after.or(change.before).map(|r| record_json(schema, r)),
                    "before": change.before.map(|r| record_json(schema, r)),
                    "changed": schema.fields.iter().filter(|f| moved.contains(&f.id)).map(|f| f.key.to_string()).collect::<Vec<_>>(),
                });
                if let Some(cause) = &change.cause {
                    trigger["cause"] = cause.clone();
                }
                self.insert_run(
                    conn,
                    flow_id,
                    flow.version,
                    &change.event.to_string(),
                    trigger,
                    depth,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Inserts a run unless one exists for the same trigger; past the depth limit it is recorded failed.
    /// Returns the run's id (an existing one's when the trigger was seen before).
    pub(crate) async fn insert_run(
        &self,
        conn: &mut Conn<'_>,
        flow: FlowId,
        version: i32,
        trigger_key: &str,
        trigger: Value,
        depth: u32,
    ) -> Result<FlowRunId> {
        let now = self.store.now();
        let too_deep = depth > tenon_flows::DEPTH_MAX;
        let (status, error, finished) = if too_deep {
            (
                RunStatus::Failed,
                Some(json!({
                    "code": "depth_limit",
                    "message": format!("runs started by runs nest at most {} deep; this one would be {depth}", tenon_flows::DEPTH_MAX),
                })),
                Some(now),
            )
        } else {
            (RunStatus::Queued, None, None)
        };
        let id = FlowRunId::new();
        conn.execute(
            Sql::new(
                "INSERT INTO flow_runs (organization_id, id, flow_id, version, trigger_key, status, trigger, depth, \
                 error, next_at, lease_epoch, created_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $10, $11) \
                 ON CONFLICT (organization_id, flow_id, trigger_key) DO NOTHING",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(flow)
            .bind(version)
            .bind(trigger_key)
            .bind(status.as_str())
            .bind(trigger)
            .bind(depth)
            .bind(error)
            .bind(now)
            .bind(finished),
        )
        .await?;
        self.store.made_work(conn, crate::work::FLOW_RUNS);
        let (existing,): (Uuid,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT id FROM flow_runs WHERE organization_id = $1 AND flow_id = $2 AND trigger_key = $3",
                )
                .bind(self.org_id)
                .bind(flow)
                .bind(trigger_key),
            )
            .await?;
        Ok(FlowRunId::from_uuid(existing))
    }
}

impl Tenant<'_> {
    /// The published, enabled flows on `table` (record and approval triggers): from this node's cache
    /// unless the transaction changed a schema or a flow itself (then read, and not kept).
    pub(crate) async fn watching(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
    ) -> Result<Arc<[WatchingFlow]>> {
        let caches = &self.store.caches;
        let key = (self.org_id, table);
        let cacheable = !conn.marked(crate::cache::SCHEMA);
        if cacheable
            && caches.fresh()
            && let Some(watching) = caches.watching.get(&key)
        {
            return Ok(watching);
        }
        let generation = caches.watching.generation();
        let rows: Vec<Watching> = conn
            .fetch_all(
                Sql::new(
                    "SELECT id, key, published_version, compiled FROM flows \
                     WHERE organization_id = $1 AND table_id = $2 AND enabled AND published_version > 0",
                )
                .bind(self.org_id)
                .bind(*table.as_uuid()),
            )
            .await?;
        let watching = rows
            .into_iter()
            .map(|row| {
                let compiled: CompiledFlow = serde_json::from_value(row.compiled.0)
                    .map_err(|error| StoreError::Corrupt(format!("flow {}: {error}", row.key)))?;
                Ok(WatchingFlow {
                    id: FlowId::from_uuid(row.id),
                    key: row.key,
                    version: row.published_version,
                    compiled,
                })
            })
            .collect::<Result<Arc<[WatchingFlow]>>>()?;
        if cacheable {
            caches
                .watching
                .insert(key, Arc::clone(&watching), generation);
        }
        Ok(watching)
    }
}
