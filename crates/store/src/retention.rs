//! Event retention: deleting events older than the retention, with their deliveries and attempt logs, in
//! bounded batches, and telling a consumer whose cursor names a deleted event that it expired.
//!
//! An event is deleted only when nothing still needs it:
//! - it occurred before `now − retention` (the store's clock);
//! - none of its deliveries is pending (due, retrying, or claimed by a worker); the delivered and
//!   dead-lettered ones go with it, attempt logs included (`ON DELETE CASCADE`);
//! - no stream-mode queue holds it (handed to an app and not acknowledged, so it may be sent again);
//! - every enabled subscription has fanned it out (its `cursor_seq` is at or past it);
//! - it is not the organization's newest event, so a consumer that has read everything keeps a cursor
//!   (`?after=`, `Last-Event-ID`) that names an event, however long the organization stays quiet.
//!
//! Numbering does not depend on the events kept: `seq` comes from `event_counters`, which pruning never
//! touches, so a number is never given twice. Subscription and stream cursors are numbers too. The one
//! thing derived from the events themselves is where an installation's stream cursor starts (its
//! `app.installed` event, looked up on the app's first connection), so a batch first creates the missing
//! cursors of the organization's installations, then deletes.
//!
//! A subscription disabled for longer than the retention, or a stream-mode app away for that long, misses
//! the events that expired meanwhile, as a `?after=` reader does, and each is told:
//! - a reader: `events_pruned` keeps per organization the largest event id deleted and the retention in
//!   force, and [`Tenant::event_cursor`] answers [`StoreError::EventExpired`] for an unknown id at or
//!   below it (410 `event_expired`);
//! - a disabled subscription or a stream-mode installation: the batch that deletes events adds those the
//!   consumer had not seen (and would have received: its types, app and table; an installation's
//!   readable types) to its tally (`subscriptions.events_expired`, `stream_cursors.events_expired`:
//!   [`EventsExpired`], count and first/last id and time); its next delivery or stream frame carries the
//!   tally as `events_expired` beside its event, and the tally starts again.
//!
//! Like the delivery workers' scans, listing the organizations that have events reads across tenants;
//! each batch then works inside one organization in its own short transaction, so on SQLite it holds the
//! single writer for one batch only, and it wakes no event consumer (it commits no event).

use std::num::NonZeroU32;

use chrono::{DateTime, TimeDelta, Utc};
use tenon_model::{EventId, OrgId};
use uuid::Uuid;

use tenon_model::events::{EventsExpired, readable_types};

use crate::deliveries::{passes_subject_filter, subscription_types};
use crate::exec::{Backend, Conn, Sql};
use crate::subscriptions::{SubscriptionRow, subscription_columns};
use crate::{Result, Store, StoreError, Tenant};

/// Events one batch deletes at most.
pub const PRUNE_EVENTS_PER_BATCH: u32 = 500;

/// Events of organization `$1` after seq `$2` that nothing needs any more, whatever their age: older than
/// the newest, fanned out by every enabled subscription (`$3` = true), with no pending delivery and not
/// queued for a stream-mode app. Refers to the outer row as `events`. The bounds on `seq` are uncorrelated
/// subqueries, computed once, so the scan is a range of the primary key.
macro_rules! prunable {
    () => {
        "events.organization_id = $1 AND events.seq > $2 \
         AND events.seq < (SELECT c.last_seq FROM event_counters c WHERE c.organization_id = $1) \
         AND events.seq <= (SELECT COALESCE(MIN(s.cursor_seq), 9223372036854775807) FROM subscriptions s \
             WHERE s.organization_id = $1 AND s.enabled = $3) \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.organization_id = $1 \
             AND d.event_seq = events.seq AND d.status = 'pending') \
         AND NOT EXISTS (SELECT 1 FROM stream_queue q WHERE q.organization_id = $1 \
             AND q.event_seq = events.seq)"
    };
}

/// An event the pruner deleted, as the tally of unseen events needs it.
#[derive(sqlx::FromRow)]
struct Deleted {
    seq: i64,
    id: Uuid,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: DateTime<Utc>,
    subject: sqlx::types::Json<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct LaggingSubscription {
    #[sqlx(flatten)]
    row: SubscriptionRow,
    cursor_seq: i64,
    events_expired: Option<String>,
}

/// `tally` with the `unseen` events (in seq order) added; `None` when there are none to add.
fn tallied<'a>(
    tally: Option<EventsExpired>,
    unseen: impl Iterator<Item = &'a Deleted>,
    retention_days: u32,
) -> Option<EventsExpired> {
    let mut added: Option<EventsExpired> = None;
    for event in unseen {
        match &mut added {
            Some(added) => {
                added.count += 1;
                added.last_id = EventId::from_uuid(event.id);
                added.last_occurred_at = event.occurred_at;
            }
            None => {
                added = Some(EventsExpired {
                    count: 1,
                    first_id: EventId::from_uuid(event.id),
                    last_id: EventId::from_uuid(event.id),
                    first_occurred_at: event.occurred_at,
                    last_occurred_at: event.occurred_at,
                    retention_days,
                });
            }
        }
    }
    let added = added?;
    Some(match tally {
        Some(mut tally) => {
            tally.extend(&added);
            tally
        }
        None => added,
    })
}

/// What one call of [`Tenant::prune_events`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneBatch {
    /// Events deleted.
    pub pruned: u64,
    /// Where the next batch starts (its `after_seq`); `None` when nothing older than the retention is
    /// left to look at in this organization.
    pub next_after_seq: Option<i64>,
}

impl Store {
    /// Up to `limit` organizations that have events, in id order after `after`: where the pruner looks.
    pub async fn organizations_with_events(
        &self,
        after: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<OrgId>> {
        let mut pooled = self.pools.read().await?;
        let rows: Vec<(Uuid,)> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT organization_id FROM event_counters WHERE organization_id > $1 \
                     ORDER BY organization_id LIMIT $2",
                )
                .bind(after.map_or(Uuid::nil(), |org| *org.as_uuid()))
                .bind(limit),
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| OrgId::from_uuid(id)).collect())
    }
}

impl Tenant<'_> {
    /// Deletes, in one transaction, the prunable events (see the module doc) among the next `limit` (at
    /// most [`PRUNE_EVENTS_PER_BATCH`]) after `after_seq` that occurred more than `retention_days` ago,
    /// with their deliveries and attempts. Start at `after_seq` 0 and go on from
    /// [`PruneBatch::next_after_seq`]: events that must stay are passed over, not looked at again.
    pub async fn prune_events(
        &self,
        retention_days: NonZeroU32,
        after_seq: i64,
        limit: u32,
    ) -> Result<PruneBatch> {
        let limit = limit.clamp(1, PRUNE_EVENTS_PER_BATCH);
        let now = self.store.now();
        let cutoff = now - TimeDelta::days(i64::from(retention_days.get()));
        // Looking costs no write lock: most hourly runs find nothing old enough, and an event that must
        // stay (a delivery pending for days) is not looked at.
        let candidates: Vec<(i64, DateTime<Utc>)> = {
            let mut pooled = self.store.pools.read().await?;
            pooled
                .conn()
                .fetch_all(
                    Sql::new(concat!(
                        "SELECT events.seq, events.occurred_at FROM events WHERE ",
                        prunable!(),
                        " ORDER BY events.seq LIMIT $4"
                    ))
                    .bind(self.org_id)
                    .bind(after_seq)
                    .bind(true)
                    .bind(limit),
                )
                .await?
        };
        // `seq` is commit order and `occurred_at` the clock at commit, so the first event inside the
        // retention ends the search: every later one is as young.
        let old = candidates
            .iter()
            .take_while(|(_, occurred_at)| *occurred_at < cutoff)
            .count();
        let Some(&(last_seq, _)) = old.checked_sub(1).and_then(|i| candidates.get(i)) else {
            return Ok(PruneBatch {
                pruned: 0,
                next_after_seq: None,
            });
        };
        let more = old == candidates.len() && candidates.len() == limit as usize;
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        self.pin_stream_cursors(&mut conn).await?;
        // The conditions are checked again under the write lock: a delivery may have been queued since.
        let mut deleted: Vec<Deleted> = conn
            .fetch_all(
                Sql::new(concat!(
                    "DELETE FROM events WHERE ",
                    prunable!(),
                    " AND events.seq <= $4 AND events.occurred_at < $5 \
                     RETURNING events.seq, events.id, events.type, events.occurred_at, events.subject"
                ))
                .bind(self.org_id)
                .bind(after_seq)
                .bind(true)
                .bind(last_seq)
                .bind(cutoff),
            )
            .await?;
        deleted.sort_by_key(|event| event.seq);
        self.tally_unseen(&mut conn, &deleted, retention_days.get())
            .await?;
        if let Some(max_id) = deleted.iter().map(|event| event.id).max() {
            conn.execute(
                Sql::new(
                    "INSERT INTO events_pruned (organization_id, max_id, retention_days, pruned_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id) DO UPDATE SET \
                     max_id = CASE WHEN excluded.max_id > events_pruned.max_id \
                         THEN excluded.max_id ELSE events_pruned.max_id END, \
                     retention_days = excluded.retention_days, pruned_at = excluded.pruned_at",
                )
                .bind(self.org_id)
                .bind(max_id)
                .bind(retention_days.get())
                .bind(now),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(PruneBatch {
            pruned: deleted.len() as u64,
            next_after_seq: more.then_some(last_seq),
        })
    }

    /// Adds the `deleted` events (in seq order) to the tally of every consumer that had not seen them: a
    /// disabled subscription whose cursor is before them (of the types and app/table it subscribed to),
    /// and a stream-mode installation whose cursor is before them (of the types its scopes read). Enabled
    /// subscriptions have fanned every deleted event out (the pruner waits for them), and events queued
    /// for a stream app are not deleted.
    async fn tally_unseen(
        &self,
        conn: &mut Conn<'_>,
        deleted: &[Deleted],
        retention_days: u32,
    ) -> Result<()> {
        let Some(last) = deleted.last() else {
            return Ok(());
        };
        let postgres = conn.backend() == Backend::Postgres;
        let lagging = if postgres {
            Sql::new(concat!(
                "SELECT ",
                subscription_columns!(),
                ", cursor_seq, events_expired FROM subscriptions \
                 WHERE organization_id = $1 AND enabled = $2 AND cursor_seq < $3 FOR UPDATE"
            ))
        } else {
            Sql::new(concat!(
                "SELECT ",
                subscription_columns!(),
                ", cursor_seq, events_expired FROM subscriptions \
                 WHERE organization_id = $1 AND enabled = $2 AND cursor_seq < $3"
            ))
        };
        let subscriptions: Vec<LaggingSubscription> = conn
            .fetch_all(lagging.bind(self.org_id).bind(false).bind(last.seq))
            .await?;
        for lagging in subscriptions {
            let tally = crate::deliveries::stored_expired(lagging.events_expired.as_deref())?;
            let subscription = lagging.row.into_model();
            let types = subscription_types(conn, self.org_id, &subscription).await?;
            let unseen = deleted.iter().filter(|event| {
                event.seq > lagging.cursor_seq
                    && types.contains(&event.event_type.as_str())
                    && passes_subject_filter(&subscription, &event.subject.0)
            });
            if let Some(tally) = tallied(tally, unseen, retention_days) {
                conn.execute(
                    Sql::new(
                        "UPDATE subscriptions SET events_expired = $3 WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(self.org_id)
                    .bind(subscription.id)
                    .bind(tally.to_json().to_string()),
                )
                .await?;
            }
        }
        macro_rules! lagging_cursors {
            () => {
                "SELECT c.installation_id, c.cursor_seq, c.events_expired, i.scopes FROM stream_cursors c \
                 JOIN installations i ON i.organization_id = c.organization_id AND i.id = c.installation_id \
                 WHERE c.organization_id = $1 AND c.cursor_seq < $2"
            };
        }
        let lagging = if postgres {
            Sql::new(concat!(lagging_cursors!(), " FOR UPDATE OF c"))
        } else {
            Sql::new(lagging_cursors!())
        };
        let cursors: Vec<(Uuid, i64, Option<String>, String)> = conn
            .fetch_all(lagging.bind(self.org_id).bind(last.seq))
            .await?;
        for (installation, cursor, tally, scopes) in cursors {
            let tally = crate::deliveries::stored_expired(tally.as_deref())?;
            let types = readable_types(crate::rows::scopes(&scopes)?);
            let unseen = deleted
                .iter()
                .filter(|event| event.seq > cursor && types.contains(&event.event_type.as_str()));
            if let Some(tally) = tallied(tally, unseen, retention_days) {
                conn.execute(
                    Sql::new(
                        "UPDATE stream_cursors SET events_expired = $3 \
                         WHERE organization_id = $1 AND installation_id = $2",
                    )
                    .bind(self.org_id)
                    .bind(installation)
                    .bind(tally.to_json().to_string()),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The `seq` of the event a consumer's cursor names: `NotFound` if the id is no event of this
    /// organization, `EventExpired` if the retention deleted it.
    pub async fn event_cursor(&self, id: EventId) -> Result<i64> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let found: Option<(i64,)> = conn
            .fetch_optional(
                Sql::new("SELECT seq FROM events WHERE organization_id = $1 AND id = $2")
                    .bind(self.org_id)
                    .bind(id),
            )
            .await?;
        if let Some((seq,)) = found {
            return Ok(seq);
        }
        Err(self.missing_event(&mut conn, id).await?)
    }

    /// Why an event id names no event of this organization: `EventExpired` if the retention deleted it,
    /// else `NotFound("event")`.
    pub(crate) async fn missing_event(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        id: EventId,
    ) -> Result<StoreError> {
        let pruned: Option<(Uuid, i64)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT max_id, CAST(retention_days AS BIGINT) FROM events_pruned \
                     WHERE organization_id = $1",
                )
                .bind(self.org_id),
            )
            .await?;
        match pruned {
            // Every deleted event's id is at or below the largest deleted id.
            Some((max_id, retention_days)) if *id.as_uuid() <= max_id => {
                Ok(StoreError::EventExpired {
                    retention_days: u32::try_from(retention_days).unwrap_or(u32::MAX),
                })
            }
            _ => Ok(StoreError::not_found("event")),
        }
    }
}
