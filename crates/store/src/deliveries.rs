//! The delivery queue, as the delivery workers see it: fan events out to subscriptions, claim due
//! deliveries, record attempts.
//!
//! These are the platform's own background jobs, so unlike everything else they scan across
//! organizations (the due deliveries of every tenant, the subscriptions with events to fan out); every
//! row they touch after that is addressed by its organization id and its own id.
//!
//! - **Fan-out** (after commit, not in the writer's transaction, so subscriptions cost writes nothing):
//!   each subscription keeps a `cursor_seq`; events after it that match its types (limited by the owning
//!   app's current scopes) and filter become `pending` deliveries, and the cursor moves, in one
//!   transaction. Only events up to the organization's committed `last_seq` are taken, so none is skipped.
//! - **Claim**: due pending deliveries of enabled subscriptions, skipping those with an earlier pending
//!   delivery for the same subscription and subject (per-record order), locked with
//!   `FOR UPDATE … SKIP LOCKED` on PostgreSQL so nodes never claim the same row; the claim moves
//!   `next_attempt_at` to the end of a lease, after which a crashed worker's delivery is due again.
//! - **Record**: the attempt log, the delivery's next step, and the subscription's failure run; a
//!   subscription is disabled only after failing without a success for five days.

use chrono::{DateTime, TimeDelta, Utc};
use tenon_model::events::{EventsExpired, expand_patterns, readable_types};
use tenon_model::subscriptions::{DeliveryAttempt, NextStep, Subscription, should_disable};
use tenon_model::{DeliveryId, Event, EventId, OrgId, ScopeSet, SubscriptionId};
use uuid::Uuid;

use crate::exec::{Arg, Backend, Conn, Sql};
use crate::sql::SqlText;
use crate::subscriptions::{SubscriptionRow, subscription_columns};
use crate::{Result, Store};

/// Due pending deliveries of enabled subscriptions with no earlier pending delivery of the same subject.
/// `$1` now, `$2` limit, `$3` true.
macro_rules! claim_candidates {
    () => {
        // One table in FROM, ordered by the partial index on due pending rows: SQLite would otherwise start
        // from the (small) subscriptions table and sort every pending delivery.
        "SELECT d.organization_id, d.id FROM deliveries d \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
         AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.organization_id = d.organization_id \
           AND s.id = d.subscription_id AND s.enabled = $3) \
         AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.organization_id = d.organization_id \
           AND p.subscription_id = d.subscription_id AND p.subject_key = d.subject_key \
           AND p.status = 'pending' \
           AND (p.event_seq < d.event_seq OR (p.event_seq = d.event_seq AND p.id < d.id)))"
    };
}

/// Deliveries queued after which PostgreSQL's statistics of the delivery table are refreshed. The queue
/// grows by thousands of rows in seconds, faster than autovacuum's analyze; with stale statistics the
/// planner runs the per-subject check over every pending row before sorting (3 s per claim with 12,000
/// pending, measured) instead of walking the due index (0.4 ms after `ANALYZE`).
const ANALYZE_AFTER_DELIVERIES: u64 = 2000;
/// Subscriptions looked at per fan-out round.
const FAN_OUT_SUBSCRIPTIONS_MAX: i64 = 100;
/// Events turned into deliveries per subscription per round; and a subscription is fanned out only while
/// fewer of its deliveries than this wait to be sent. That is a few claims ahead of its workers (128 a
/// claim: one worker on SQLite, four on PostgreSQL); its other events wait in the events table, behind
/// its cursor (which keeps them from the pruner), until the sending needs them. Fanned out as fast as
/// they were written instead, sixteen subscriptions' deliveries (sixteen rows of five indexes per event)
/// took SQLite's one writer from the writes that made them, while they could only be sent far more
/// slowly: the bulk-write overhead with sixteen receivers fell from 24–37 % to −4 … +19 % with 256
/// (docs/benchmarks.md).
///
/// On SQLite the chunk shares [`FAN_OUT_AHEAD_SQLITE`] among the subscriptions that are `behind` (between
/// 128 and 1,024 each): sixteen subscriptions have 128 each ahead, one has 1,024, so a lone subscription
/// is sent as fast as before the bound. On PostgreSQL, whose writers do not wait for one another, it is
/// 1,000.
pub fn fan_out_chunk(backend: Backend, behind: usize) -> u32 {
    match backend {
        Backend::Sqlite => {
            let share = FAN_OUT_AHEAD_SQLITE / u32::try_from(behind.max(1)).unwrap_or(u32::MAX);
            share.clamp(FAN_OUT_CHUNK_MIN, FAN_OUT_CHUNK_MAX)
        }
        Backend::Postgres => 1000,
    }
}
/// Deliveries that all subscriptions together may have fanned out ahead of their sending, on SQLite.
const FAN_OUT_AHEAD_SQLITE: u32 = 2048;
/// A subscription's chunk on SQLite: at least a claim's worth…
const FAN_OUT_CHUNK_MIN: u32 = 128;
/// …and at most this.
const FAN_OUT_CHUNK_MAX: u32 = 1024;
/// Deliveries inserted per statement (7 values each).
const DELIVERIES_PER_STATEMENT: usize = 1000;
/// Attempt responses are kept up to this many characters.
pub const RESPONSE_EXCERPT_CHARS_MAX: usize = 1024;

/// What an attempt sets on its delivery: status, next attempt, finished at, last status code and error.
type Step = (
    &'static str,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<String>,
);

/// A delivery a worker now holds until its lease ends.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub org_id: OrgId,
    pub id: DeliveryId,
    pub subscription_id: SubscriptionId,
    pub url: String,
    pub secret: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub event: Event,
    /// Events that expired unseen before this one (the subscription was disabled longer than the
    /// retention): the body says so beside the event.
    pub events_expired: Option<EventsExpired>,
    /// A DingTalk-format subscription's callback settings: the delivery is an encrypted DingTalk callback.
    pub dingtalk: Option<ClaimedDingTalk>,
}

/// What a DingTalk callback needs from its subscription.
#[derive(Debug, Clone)]
pub struct ClaimedDingTalk {
    /// The DingTalk event types the subscription asked for.
    pub event_types: Vec<String>,
    pub token: String,
    pub aes_key: String,
    /// DingTalk's corpId/suiteKey: the owning app's client id (app key), else the organization id.
    pub owner_key: String,
}

/// What one attempt of a claimed delivery came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub org_id: OrgId,
    pub delivery_id: DeliveryId,
    pub subscription_id: SubscriptionId,
    pub attempt: DeliveryAttempt,
    pub next: NextStep,
}

/// Whether an event passes a subscription's app/table filter (types are checked by the caller).
pub(crate) fn passes_filter(subscription: &Subscription, event: &Event) -> bool {
    passes_subject_filter(subscription, &event.subject)
}

/// [`passes_filter`] on an event's subject alone.
pub(crate) fn passes_subject_filter(
    subscription: &Subscription,
    subject: &serde_json::Value,
) -> bool {
    let id_of = |key: &str| subject.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    subscription
        .app_id
        .is_none_or(|app| id_of("app_id") == Some(app.to_string()))
        && subscription
            .table_id
            .is_none_or(|table| id_of("table_id") == Some(table.to_string()))
}

/// Inserts pending deliveries of `events` for one subscription, due at `now`; the first carries
/// `expired` (events that expired unseen before it), if any.
pub(crate) async fn queue(
    conn: &mut Conn<'_>,
    org: OrgId,
    subscription: SubscriptionId,
    events: &[Event],
    now: DateTime<Utc>,
    expired: Option<&EventsExpired>,
) -> Result<u64> {
    let mut expired = expired.map(|expired| expired.to_json().to_string());
    for chunk in events.chunks(DELIVERIES_PER_STATEMENT) {
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "INSERT INTO deliveries (organization_id, id, subscription_id, event_seq, subject_key, \
             attempts, next_attempt_at, created_at, events_expired, status) VALUES ",
        );
        for (i, event) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .args([
                    Arg::from(org),
                    Arg::from(DeliveryId::new()),
                    Arg::from(subscription),
                    Arg::from(event.seq),
                    Arg::from(event.subject_key.clone()),
                    Arg::from(0i64),
                    Arg::from(now),
                    Arg::from(now),
                    Arg::Text(expired.take()),
                ])
                .push(", 'pending')");
        }
        conn.execute_unobserved(sql.into_sql()).await?;
    }
    Ok(events.len() as u64)
}

/// The event types a subscription receives now: its patterns, limited by its app's current scopes when
/// an installed app owns it.
pub(crate) async fn subscription_types(
    conn: &mut Conn<'_>,
    org: OrgId,
    subscription: &Subscription,
) -> Result<Vec<&'static str>> {
    let mut types = expand_patterns(&subscription.event_types);
    if let Some(installation) = subscription.installation_id {
        let scopes: Option<(String,)> = conn
            .fetch_optional(
                Sql::new("SELECT scopes FROM installations WHERE organization_id = $1 AND id = $2")
                    .bind(org)
                    .bind(installation),
            )
            .await?;
        let scopes = scopes
            .map(|(text,)| crate::rows::scopes(&text))
            .transpose()?
            .unwrap_or(ScopeSet::EMPTY);
        let allowed = readable_types(scopes);
        types.retain(|t| allowed.contains(t));
    }
    Ok(types)
}

/// Reads a stored `events_expired` column.
pub(crate) fn stored_expired(text: Option<&str>) -> Result<Option<EventsExpired>> {
    let Some(text) = text else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .ok()
        .as_ref()
        .and_then(EventsExpired::from_json)
        .map(Some)
        .ok_or_else(|| crate::StoreError::Corrupt("events_expired".into()))
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    organization_id: Uuid,
    id: Uuid,
    subscription_id: Uuid,
    url: String,
    secret: String,
    attempts: i64,
    seq: i64,
    event_id: Uuid,
    event_type: String,
    occurred_at: DateTime<Utc>,
    actor: sqlx::types::Json<serde_json::Value>,
    subject: sqlx::types::Json<serde_json::Value>,
    subject_key: String,
    data: sqlx::types::Json<serde_json::Value>,
    events_expired: Option<String>,
    format: String,
    dingtalk_event_types: Option<sqlx::types::Json<Vec<String>>>,
    dingtalk_token: Option<String>,
    dingtalk_aes_key: Option<String>,
    owner_client_id: Option<String>,
}

impl Store {
    /// Turns committed events into deliveries for every subscription that is behind and has fewer than
    /// [`fan_out_chunk`] deliveries waiting. Returns the number of deliveries queued.
    pub async fn fan_out_events(&self) -> Result<u64> {
        // Every commit that appended events wakes this: read on SQLite on this thread (a direct
        // connection, `Store::probe`).
        // Each subscription that is behind, with how many of its deliveries wait (counted up to the
        // largest chunk: the walk stops there, on the partial index of waiting deliveries).
        let behind: Vec<(Uuid, Uuid, i64)> = {
            let mut pooled = self.pools.read_direct().await?;
            pooled
                .conn()
                .fetch_rows(
                    Sql::new(
                        "SELECT s.organization_id, s.id, (SELECT COUNT(*) FROM (SELECT 1 FROM deliveries d \
                           WHERE d.organization_id = s.organization_id AND d.subscription_id = s.id \
                           AND d.status = 'pending' LIMIT $3) w) \
                         FROM subscriptions s \
                         JOIN event_counters c ON c.organization_id = s.organization_id \
                         WHERE s.enabled = $1 AND s.cursor_seq < c.last_seq \
                         LIMIT $2",
                    )
                    .bind(true)
                    .bind(FAN_OUT_SUBSCRIPTIONS_MAX)
                    .bind(i64::from(fan_out_chunk(self.backend(), 1))),
                )
                .await?
                .iter()
                .map(|row| Ok((row.uuid(0)?, row.uuid(1)?, row.int(2)?.unwrap_or(0))))
                .collect::<std::result::Result<_, sqlx::Error>>()?
        };
        // Fanned out: those with fewer than a chunk waiting, the chunk shared among all that are behind.
        let chunk = fan_out_chunk(self.backend(), behind.len());
        let behind: Vec<(OrgId, SubscriptionId)> = behind
            .into_iter()
            .filter(|(_, _, waiting)| *waiting < i64::from(chunk))
            .map(|(org, id, _)| (OrgId::from_uuid(org), SubscriptionId::from_uuid(id)))
            .collect();
        let mut queued = 0;
        // One transaction per subscription, also on SQLite: writers queued for SQLite's one writer get
        // their turn between two subscriptions. (All of them in one transaction — one WAL flush — held the
        // writer for a whole round of fan-out: bulk writes while delivering to sixteen receivers fell to a
        // quarter, docs/benchmarks.md.)
        for (org, id) in behind {
            queued += self.fan_out_one(org, id, chunk).await?;
        }
        if queued > 0 && self.backend() == Backend::Postgres {
            use std::sync::atomic::Ordering;
            let debt = self
                .deliveries_since_analyze
                .fetch_add(queued, Ordering::Relaxed)
                + queued;
            if debt >= ANALYZE_AFTER_DELIVERIES {
                self.deliveries_since_analyze.store(0, Ordering::Relaxed);
                let mut pooled = self.pools.read().await?;
                pooled
                    .conn()
                    .execute_script("ANALYZE deliveries".to_owned())
                    .await?;
            }
        }
        Ok(queued)
    }

    async fn fan_out_one(&self, org: OrgId, id: SubscriptionId, chunk: u32) -> Result<u64> {
        let mut tx = self.begin_background_tx().await?;
        let queued = self.fan_out_in(&mut tx.conn(), org, id, chunk).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Queues a subscription's deliveries of up to `chunk` events after its cursor and moves the cursor,
    /// in the caller's transaction.
    async fn fan_out_in(
        &self,
        conn: &mut Conn<'_>,
        org: OrgId,
        id: SubscriptionId,
        chunk: u32,
    ) -> Result<u64> {
        let tenant = self.tenant(org);
        let now = self.now();
        let lock = match conn.backend() {
            Backend::Postgres => Sql::new(concat!(
                "SELECT ",
                subscription_columns!(),
                ", cursor_seq, events_expired FROM subscriptions WHERE organization_id = $1 AND id = $2 \
                 AND enabled FOR UPDATE SKIP LOCKED"
            )),
            Backend::Sqlite => Sql::new(concat!(
                "SELECT ",
                subscription_columns!(),
                ", cursor_seq, events_expired FROM subscriptions WHERE organization_id = $1 AND id = $2 \
                 AND enabled"
            )),
        };
        let row: Option<SubscriptionRowWithCursor> =
            conn.fetch_optional(lock.bind(org).bind(id)).await?;
        let Some(row) = row else {
            // Another node is fanning it out, or it was disabled meanwhile.
            return Ok(0);
        };
        let cursor = row.cursor_seq;
        let expired = stored_expired(row.events_expired.as_deref())?;
        let subscription = row.into_subscription();
        conn.run_deferred().await?;
        let (upper,): (i64,) = conn
            .fetch_one(
                Sql::new("SELECT last_seq FROM event_counters WHERE organization_id = $1")
                    .bind(org),
            )
            .await?;
        let types = subscription_types(conn, org, &subscription).await?;
        let raw = if types.is_empty() {
            Vec::new()
        } else {
            tenant.events_after_in(conn, cursor, &types, chunk).await?
        };
        let full = raw.len() == chunk as usize;
        let new_cursor = match raw.last() {
            Some(last) if full => last.seq.min(upper),
            _ => upper,
        };
        let events: Vec<Event> = raw
            .into_iter()
            .filter(|event| event.seq <= upper && passes_filter(&subscription, event))
            .collect();
        // Events that expired unseen while it was disabled are told with its next delivery.
        let told = if events.is_empty() { None } else { expired };
        let queued = queue(conn, org, id, &events, now, told.as_ref()).await?;
        if queued > 0 {
            // Other workers may send them while this one sends its claim.
            self.made_work(conn, crate::work::DELIVERIES);
        }
        let update = if told.is_some() {
            "UPDATE subscriptions SET cursor_seq = $3, events_expired = NULL \
             WHERE organization_id = $1 AND id = $2"
        } else {
            "UPDATE subscriptions SET cursor_seq = $3 WHERE organization_id = $1 AND id = $2"
        };
        conn.execute_unobserved(
            Sql::new(update)
                .bind(org)
                .bind(id)
                .bind(new_cursor.max(cursor)),
        )
        .await?;
        Ok(queued)
    }

    /// Claims up to `limit` due deliveries until `lease_until`.
    pub async fn claim_deliveries(
        &self,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>> {
        let now = self.now();
        let mut tx = self.begin_background_tx().await?;
        let mut conn = tx.conn();
        let candidates = match conn.backend() {
            Backend::Postgres => Sql::new(concat!(
                claim_candidates!(),
                " ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            )),
            Backend::Sqlite => Sql::new(concat!(
                claim_candidates!(),
                " ORDER BY d.next_attempt_at LIMIT $2"
            )),
        };
        let claimed: Vec<(Uuid, Uuid)> = conn
            .fetch_all(candidates.bind(now).bind(limit).bind(true))
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let keys = |sql: &mut SqlText| {
            sql.push("(d.organization_id, d.id) IN (VALUES ")
                .rows(
                    claimed
                        .iter()
                        .map(|(org, id)| [Arg::Uuid(Some(*org)), Arg::Uuid(Some(*id))]),
                )
                .push(")");
        };
        let backend = conn.backend();
        let mut sql = SqlText::new(backend);
        sql.push("UPDATE deliveries AS d SET next_attempt_at = ")
            .arg(lease_until)
            .push(" WHERE ");
        keys(&mut sql);
        // Goes with the next statement on SQLite (one round trip fewer).
        conn.execute_unobserved(sql.into_sql()).await?;
        let mut sql = SqlText::new(backend);
        sql.push(
            "SELECT d.organization_id, d.id, d.subscription_id, s.url, s.secret, \
             CAST(d.attempts AS BIGINT) AS attempts, e.seq, e.id AS event_id, e.type AS event_type, \
             e.occurred_at, e.actor, e.subject, e.subject_key, e.data, d.events_expired, s.format, \
             s.dingtalk_event_types, s.dingtalk_token, s.dingtalk_aes_key, c.client_id AS owner_client_id \
             FROM deliveries d \
             JOIN subscriptions s ON s.organization_id = d.organization_id AND s.id = d.subscription_id \
             JOIN events e ON e.organization_id = d.organization_id AND e.seq = d.event_seq \
             LEFT JOIN installations i ON i.organization_id = s.organization_id AND i.id = s.installation_id \
             LEFT JOIN oauth_clients c ON c.id = i.client_app_id WHERE ",
        );
        keys(&mut sql);
        let rows: Vec<ClaimRow> = conn.fetch_all(sql.into_sql()).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                let org_id = OrgId::from_uuid(row.organization_id);
                let dingtalk = match (
                    row.format.as_str(),
                    row.dingtalk_token,
                    row.dingtalk_aes_key,
                ) {
                    ("dingtalk", Some(token), Some(aes_key)) => Some(ClaimedDingTalk {
                        event_types: row
                            .dingtalk_event_types
                            .map(|types| types.0)
                            .unwrap_or_default(),
                        token,
                        aes_key,
                        owner_key: row.owner_client_id.unwrap_or_else(|| org_id.to_string()),
                    }),
                    ("native", _, _) => None,
                    (other, _, _) => return Err(crate::rows::corrupt("format", other)),
                };
                Ok(ClaimedDelivery {
                    dingtalk,
                    events_expired: stored_expired(row.events_expired.as_deref())?,
                    org_id,
                    id: DeliveryId::from_uuid(row.id),
                    subscription_id: SubscriptionId::from_uuid(row.subscription_id),
                    url: row.url,
                    secret: row.secret,
                    attempts: row.attempts,
                    event: Event {
                        id: EventId::from_uuid(row.event_id),
                        seq: row.seq,
                        org_id,
                        event_type: row.event_type,
                        occurred_at: row.occurred_at,
                        actor: row.actor.0,
                        subject: row.subject.0,
                        subject_key: row.subject_key,
                        data: row.data.0,
                    },
                })
            })
            .collect()
    }

    /// Records the outcomes of attempts in one transaction.
    pub async fn record_attempts(&self, outcomes: &[AttemptOutcome]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.begin_background_tx().await?;
        let mut conn = tx.conn();
        let backend = conn.backend();
        // A delivery deleted while its attempt was on the wire (its subscription deleted, its app
        // uninstalled) has nothing left to record, and its attempt row would break the foreign key and
        // with it the whole batch. The others are locked until commit, so they cannot go meanwhile.
        let mut sql = SqlText::new(backend);
        sql.push(
            "SELECT d.organization_id, d.id FROM deliveries d WHERE (d.organization_id, d.id) IN (VALUES ",
        )
        .rows(
            outcomes
                .iter()
                .map(|outcome| [Arg::from(outcome.org_id), Arg::from(outcome.delivery_id)]),
        )
        .push(")");
        if backend == Backend::Postgres {
            sql.push(" FOR UPDATE");
        }
        let existing: Vec<(Uuid, Uuid)> = conn.fetch_all(sql.into_sql()).await?;
        let outcomes: Vec<&AttemptOutcome> = outcomes
            .iter()
            .filter(|o| existing.contains(&(*o.org_id.as_uuid(), *o.delivery_id.as_uuid())))
            .collect();
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut sql = SqlText::new(backend);
        sql.push(
            "INSERT INTO delivery_attempts (organization_id, id, delivery_id, at, status_code, \
             latency_ms, error, response_excerpt) VALUES ",
        )
        .rows(outcomes.iter().map(|outcome| {
            let attempt = &outcome.attempt;
            [
                Arg::from(outcome.org_id),
                Arg::Uuid(Some(Uuid::now_v7())),
                Arg::from(outcome.delivery_id),
                Arg::from(attempt.at),
                Arg::Int(attempt.status_code),
                Arg::from(attempt.latency_ms),
                Arg::Text(attempt.error.clone()),
                Arg::Text(attempt.response_excerpt.clone()),
            ]
        }));
        conn.execute_unobserved(sql.into_sql()).await?;
        // One statement per distinct next step: a batch of successes (the common case) is one update.
        let mut steps: Vec<(Step, Vec<&AttemptOutcome>)> = Vec::new();
        for outcome in &outcomes {
            let step = match outcome.next {
                NextStep::Delivered => ("delivered", now, Some(now)),
                NextStep::RetryAt(at) => ("pending", at, None),
                NextStep::Dead => ("dead", now, Some(now)),
            };
            let step = (
                step.0,
                step.1,
                step.2,
                outcome.attempt.status_code,
                outcome.attempt.error.clone(),
            );
            match steps.iter_mut().find(|(known, _)| *known == step) {
                Some((_, members)) => members.push(outcome),
                None => steps.push((step, vec![outcome])),
            }
        }
        for ((status, next_at, finished, status_code, error), members) in steps {
            for chunk in members.chunks(500) {
                let mut sql = SqlText::new(backend);
                sql.push("UPDATE deliveries SET status = ")
                    .arg(status)
                    .push(", attempts = attempts + 1, next_attempt_at = ")
                    .arg(next_at)
                    .push(", finished_at = ")
                    .arg(Arg::Time(finished))
                    .push(", last_status = ")
                    .arg(Arg::Int(status_code))
                    .push(", last_error = ")
                    .arg(Arg::Text(error.clone()))
                    .push(" WHERE status = 'pending' AND (organization_id, id) IN (VALUES ")
                    .rows(
                        chunk
                            .iter()
                            .map(|o| [Arg::from(o.org_id), Arg::from(o.delivery_id)]),
                    )
                    .push(")");
                conn.execute_unobserved(sql.into_sql()).await?;
            }
        }
        let mut subscriptions: Vec<(OrgId, SubscriptionId, bool)> = Vec::new();
        for outcome in &outcomes {
            let ok = outcome.next == NextStep::Delivered;
            match subscriptions
                .iter_mut()
                .find(|(org, id, _)| *org == outcome.org_id && *id == outcome.subscription_id)
            {
                Some(entry) => entry.2 |= ok,
                None => subscriptions.push((outcome.org_id, outcome.subscription_id, ok)),
            }
        }
        for (org, id, any_success) in subscriptions {
            if any_success {
                conn.execute_unobserved(
                    Sql::new(
                        "UPDATE subscriptions SET failing_since = NULL \
                         WHERE organization_id = $1 AND id = $2 AND failing_since IS NOT NULL",
                    )
                    .bind(org)
                    .bind(id),
                )
                .await?;
                continue;
            }
            let row: Option<(Option<DateTime<Utc>>,)> = conn
                .fetch_optional(
                    Sql::new(
                        "UPDATE subscriptions SET failing_since = COALESCE(failing_since, $3) \
                         WHERE organization_id = $1 AND id = $2 RETURNING failing_since",
                    )
                    .bind(org)
                    .bind(id)
                    .bind(now),
                )
                .await?;
            if let Some((Some(since),)) = row
                && should_disable(since, now)
            {
                let reason = format!(
                    "disabled: every delivery has failed since {} (5 days without a success)",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                tracing::warn!(organization = %org, subscription = %id, "{reason}");
                conn.execute(
                    Sql::new(
                        "UPDATE subscriptions SET enabled = $3, disabled_reason = $4, updated_at = $5 \
                         WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(org)
                    .bind(id)
                    .bind(false)
                    .bind(reason)
                    .bind(now),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether any pending delivery is due (one probe of the partial index; claiming takes a write lock,
    /// this does not).
    pub async fn any_delivery_due(&self) -> Result<bool> {
        Ok(self
            .probe(
                Sql::new(
                    "SELECT CAST(1 AS BIGINT) FROM deliveries \
                     WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1",
                )
                .bind(self.now()),
            )
            .await?)
    }
}

/// The lease a claim takes: long enough for one attempt with its timeout, with room to record it.
pub fn lease_for(timeout: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(timeout * 2).unwrap_or(TimeDelta::minutes(1)) + TimeDelta::seconds(1)
}

#[derive(sqlx::FromRow)]
struct SubscriptionRowWithCursor {
    #[sqlx(flatten)]
    row: SubscriptionRow,
    cursor_seq: i64,
    events_expired: Option<String>,
}

impl SubscriptionRowWithCursor {
    fn into_subscription(self) -> Subscription {
        self.row.into_model()
    }
}
