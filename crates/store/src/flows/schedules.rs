//! Schedule triggers: what the scheduler of each node does at each tick.
//!
//! For every enabled flow with `trigger: {schedule: {cron, zone}}` (across organizations),
//! `tenon_flows::schedule::due` decides from the last slot handled (or the version's publication) and
//! the store's clock — so the test clock drives it — whether a slot runs or is recorded missed. The slot's
//! row in `flow_schedule_slots` and its run (trigger key `schedule:<instant>`) are inserted in one
//! transaction, both `ON CONFLICT DO NOTHING`: however many nodes tick at once, one run per slot.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tenon_flows::compile::CompiledTrigger;
use tenon_flows::schedule::{self, Cron, Due};
use tenon_model::{FlowId, FlowRunId, OrgId};
use uuid::Uuid;

use crate::exec::Sql;
use crate::{Result, Store, StoreError, Tenant};

/// One slot a scheduler handled.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSlot {
    pub slot: DateTime<Utc>,
    /// `run` or `missed`.
    pub status: String,
    pub run_id: Option<FlowRunId>,
    /// Earlier slots of the same downtime passed over.
    pub skipped: i32,
    pub recorded_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Scheduled {
    organization_id: Uuid,
    id: Uuid,
    published_version: i32,
    compiled: sqlx::types::Json<Value>,
    published_at: DateTime<Utc>,
    last_slot: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SlotRow {
    slot: DateTime<Utc>,
    status: String,
    run_id: Option<Uuid>,
    skipped: i32,
    recorded_at: DateTime<Utc>,
}

impl Store {
    /// One tick of the scheduler: starts the runs of the slots due now (or records them missed).
    /// Returns how many slots it handled.
    pub async fn run_schedules(&self) -> Result<usize> {
        let now = self.now();
        let flows: Vec<Scheduled> = {
            let mut pooled = self.pools.read().await?;
            pooled
                .conn()
                .fetch_all(Sql::new(
                    "SELECT f.organization_id, f.id, f.published_version, f.compiled, v.published_at, \
                     (SELECT MAX(s.slot) FROM flow_schedule_slots s \
                      WHERE s.organization_id = f.organization_id AND s.flow_id = f.id) AS last_slot \
                     FROM flows f JOIN flow_versions v ON v.organization_id = f.organization_id \
                     AND v.flow_id = f.id AND v.version = f.published_version \
                     WHERE f.enabled AND f.table_id IS NULL AND f.published_version > 0",
                ))
                .await?
        };
        let mut handled = 0;
        for flow in flows {
            let Ok(tenon_flows::CompiledFlow {
                trigger:
                    CompiledTrigger::Schedule {
                        cron,
                        zone,
                        payload,
                        ..
                    },
                ..
            }) = serde_json::from_value::<tenon_flows::CompiledFlow>(flow.compiled.0)
            else {
                continue;
            };
            let (Ok(cron), Ok(zone)) = (Cron::parse(&cron), schedule::zone(&zone)) else {
                continue;
            };
            let after = flow
                .last_slot
                .map_or(flow.published_at, |last| last.max(flow.published_at));
            let due = schedule::due(&cron, zone, after, now);
            let tenant = self.tenant(OrgId::from_uuid(flow.organization_id));
            let flow_id = FlowId::from_uuid(flow.id);
            match due {
                Due::Nothing => {}
                Due::Run { slot, skipped } => {
                    tenant
                        .record_slot(
                            flow_id,
                            flow.published_version,
                            slot,
                            zone,
                            skipped,
                            Some(&payload),
                        )
                        .await?;
                    handled += 1;
                }
                Due::Missed { slot, skipped } => {
                    tenant
                        .record_slot(flow_id, flow.published_version, slot, zone, skipped, None)
                        .await?;
                    handled += 1;
                }
            }
        }
        Ok(handled)
    }
}

impl Tenant<'_> {
    async fn record_slot(
        &self,
        flow: FlowId,
        version: i32,
        slot: DateTime<Utc>,
        zone: chrono_tz::Tz,
        skipped: usize,
        run: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<()> {
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let ran = run.is_some();
        let run_id = if let Some(payload) = run {
            let instant = slot.to_rfc3339_opts(SecondsFormat::Secs, true);
            let trigger = json!({
                "type": "schedule",
                "scheduled_for": instant,
                "date": slot.with_timezone(&zone).date_naive().to_string(),
                "skipped": skipped,
                "payload": payload,
            });
            Some(
                self.insert_run(
                    &mut conn,
                    flow,
                    version,
                    &format!("schedule:{instant}"),
                    trigger,
                    0,
                )
                .await?,
            )
        } else {
            None
        };
        conn.execute(
            Sql::new(
                "INSERT INTO flow_schedule_slots (organization_id, flow_id, slot, status, run_id, skipped, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (organization_id, flow_id, slot) DO NOTHING",
            )
            .bind(self.org_id)
            .bind(flow)
            .bind(slot)
            .bind(if ran { "run" } else { "missed" })
            .bind(run_id.map(|id| *id.as_uuid()))
            .bind(i32::try_from(skipped).unwrap_or(i32::MAX))
            .bind(now),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `GET /api/v1/flows/{flow}/slots`: the slots a schedule handled, newest first (at most `limit`).
    pub async fn schedule_slots(&self, flow: FlowId, limit: u32) -> Result<Vec<ScheduleSlot>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<SlotRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT slot, status, run_id, skipped, recorded_at FROM flow_schedule_slots \
                     WHERE organization_id = $1 AND flow_id = $2 ORDER BY slot DESC LIMIT $3",
                )
                .bind(self.org_id)
                .bind(flow)
                .bind(i64::from(limit)),
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                if row.status != "run" && row.status != "missed" {
                    return Err(StoreError::Corrupt(format!("slot status {}", row.status)));
                }
                Ok(ScheduleSlot {
                    slot: row.slot,
                    status: row.status,
                    run_id: row.run_id.map(FlowRunId::from_uuid),
                    skipped: row.skipped,
                    recorded_at: row.recorded_at,
                })
            })
            .collect()
    }
}
