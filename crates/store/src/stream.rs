//! Stream mode's persistent state: per installed app a cursor into the outbox and a queue of events handed
//! over but not yet acknowledged, the open connections of every node, and the single-use tickets that open
//! them.
//!
//! The server's stream connections call [`Tenant::stream_pump`] in a loop: it moves events after the
//! installation's cursor into its queue, then claims what is due — the oldest queued event of each subject
//! that was never sent, was sent more than [`STREAM_REDELIVER_AFTER`] ago, or was sent on a connection
//! that is gone — and gives each claim a fresh message id. [`Tenant::stream_ack`] removes an event for good.
//! Because only the oldest queued event of a subject is ever claimed, at most one event per record is in
//! flight and a record's events arrive in commit order.
//!
//! Time is the store's [`crate::Clock`], so tests move it instead of sleeping. These transactions do not
//! wake [`crate::Store::commits`]: they write no events, and waking would make every consumer spin.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tenon_model::events::EventsExpired;
use tenon_model::{ClientAppId, Event, EventId, InstallationId, StreamConnectionId};
use uuid::Uuid;

use crate::exec::{Arg, Backend, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, Store, StoreError, Tenant};

/// An event sent on a live connection and not acknowledged is sent again after this long.
pub const STREAM_REDELIVER_AFTER: TimeDelta = TimeDelta::seconds(60);
/// A connection whose node has not refreshed it for this long is taken for dead (its node crashed): what
/// was in flight on it is due again on the app's other connections, which look every second. A node
/// refreshes all its connections every [`STREAM_CONNECTION_TOUCH_EVERY`] in one statement, so a crashed
/// node's events move on within about 5 s. A live node stalled longer than this (a frozen VM) may see
/// an event of its own sent again elsewhere: a duplicate, which at-least-once delivery allows and the
/// event id tells apart.
pub const STREAM_CONNECTION_STALE_AFTER: TimeDelta = TimeDelta::seconds(4);
/// How often a node refreshes its live stream connections.
pub const STREAM_CONNECTION_TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// A ticket from `connections/open` must be presented within this time.
pub const STREAM_TICKET_TTL: TimeDelta = TimeDelta::seconds(90);
/// Events an installation's queue holds at most; the cursor waits while it is full.
pub const STREAM_QUEUE_MAX: u32 = 1000;
/// Events one [`Tenant::stream_pump`] claims at most.
pub const STREAM_CLAIMS_PER_PUMP_MAX: u32 = 100;

/// One event to send now on a connection.
#[derive(Debug, Clone)]
pub struct StreamClaim {
    pub event: Event,
    /// New for every attempt; the client's acknowledgement names it.
    pub message_id: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// Events that expired unseen before this one (the app was away longer than the retention).
    pub events_expired: Option<EventsExpired>,
}

/// What a valid ticket opens: the app's connection and the event type patterns it subscribed to.
#[derive(Debug, Clone)]
pub struct StreamTicket {
    pub client_app_id: ClientAppId,
    pub topics: Vec<String>,
    /// The digest of the app's client secret when the ticket was used: rotating the secret deletes the
    /// app's tickets in its transaction, so this is the secret the ticket was opened with.
    pub secret_digest: Vec<u8>,
}

/// One queued event, as tests and operators inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamQueued {
    pub event_id: EventId,
    pub event_seq: i64,
    /// `None` while it waits behind an earlier event of its subject.
    pub message_id: Option<String>,
    pub attempts: i64,
}

impl Store {
    /// Stores a ticket's digest for `client_app_id`, valid for [`STREAM_TICKET_TTL`]; forgets expired ones.
    pub async fn create_stream_ticket(
        &self,
        digest: &[u8; 32],
        client_app_id: ClientAppId,
        topics: &[String],
    ) -> Result<DateTime<Utc>> {
        let now = self.now();
        let expires_at = now + STREAM_TICKET_TTL;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        conn.execute(Sql::new("DELETE FROM stream_tickets WHERE expires_at <= $1").bind(now))
            .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO stream_tickets (digest, client_app_id, topics, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(digest.as_slice())
            .bind(client_app_id)
            .bind(Value::from(topics.to_vec()))
            .bind(expires_at),
        )
        .await?;
        tx.commit().await?;
        Ok(expires_at)
    }

    /// Uses up a ticket: `None` if it is unknown, used or expired.
    pub async fn take_stream_ticket(&self, digest: &[u8; 32]) -> Result<Option<StreamTicket>> {
        let mut tx = self.pools.begin().await?;
        let row: Option<(Uuid, sqlx::types::Json<Value>, DateTime<Utc>)> = tx
            .conn()
            .fetch_optional(
                Sql::new(
                    "DELETE FROM stream_tickets WHERE digest = $1 RETURNING client_app_id, topics, expires_at",
                )
                .bind(digest.as_slice()),
            )
            .await?;
        let Some((client_app_id, topics, expires_at)) = row else {
            return Ok(None);
        };
        // In the transaction that took the ticket: a rotation that committed first deleted the ticket, one
        // that commits later is seen by the connection as a change of this digest.
        let (secret_digest,): (Vec<u8>,) = tx
            .conn()
            .fetch_one(
                Sql::new("SELECT secret_digest FROM oauth_clients WHERE id = $1")
                    .bind(client_app_id),
            )
            .await?;
        tx.commit().await?;
        if expires_at <= self.now() {
            return Ok(None);
        }
        let topics = match topics.0 {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
            _ => return Err(StoreError::Corrupt("stream ticket topics".into())),
        };
        Ok(Some(StreamTicket {
            client_app_id: ClientAppId::from_uuid(client_app_id),
            topics,
            secret_digest,
        }))
    }

    /// Records a new connection of an app; returns its id.
    pub async fn open_stream_connection(
        &self,
        client_app_id: ClientAppId,
    ) -> Result<StreamConnectionId> {
        let id = StreamConnectionId::new();
        let now = self.now();
        let mut tx = self.pools.begin().await?;
        tx.conn()
            .execute(
                Sql::new(
                    "INSERT INTO stream_connections (id, client_app_id, opened_at, seen_at) VALUES ($1, $2, $3, $3)",
                )
                .bind(id)
                .bind(client_app_id)
                .bind(now),
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Says the connection is still served (its node is alive).
    pub async fn touch_stream_connection(&self, id: StreamConnectionId) -> Result<()> {
        self.touch_stream_connections(&[id]).await
    }

    /// Says a node's connections are still served, in one statement (a node calls it every
    /// [`STREAM_CONNECTION_TOUCH_EVERY`] with all of its connections).
    pub async fn touch_stream_connections(&self, ids: &[StreamConnectionId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        for chunk in ids.chunks(500) {
            let mut sql = SqlText::new(conn.backend());
            sql.push("UPDATE stream_connections SET seen_at = ")
                .arg(self.now())
                .push(" WHERE id IN ")
                .list(chunk.iter().copied());
            conn.execute(sql.into_sql()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a connection that ended: what was in flight on it is due again at once, on the app's next
    /// (or other) connection.
    pub async fn close_stream_connection(&self, id: StreamConnectionId) -> Result<()> {
        let mut tx = self.pools.begin().await?;
        tx.conn()
            .execute(Sql::new("DELETE FROM stream_connections WHERE id = $1").bind(id))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every connection at a node's start when only one node can exist (SQLite): connections of the
    /// previous run are closed, and their unacknowledged events are due at once on the next connection.
    /// On PostgreSQL other nodes' connections are alive; a crashed node's go stale instead.
    pub async fn forget_stream_connections_of_previous_run(&self) -> Result<u64> {
        if self.backend() != Backend::Sqlite {
            return Ok(0);
        }
        let mut tx = self.pools.begin().await?;
        let forgotten = tx
            .conn()
            .execute(Sql::new("DELETE FROM stream_connections"))
            .await?;
        tx.commit().await?;
        Ok(forgotten)
    }

    /// Connections of an app that a node still serves.
    pub async fn live_stream_connections(&self, client_app_id: ClientAppId) -> Result<i64> {
        let mut pooled = self.pools.read().await?;
        let (count,): (i64,) = pooled
            .conn()
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*) FROM stream_connections WHERE client_app_id = $1 AND seen_at > $2",
                )
                .bind(client_app_id)
                .bind(self.now() - STREAM_CONNECTION_STALE_AFTER),
            )
            .await?;
        Ok(count)
    }
}

/// The queued events of installation `$2` due on connection `$4` at `$3` = now − 60 s (`$5` = now − stale):
/// the oldest of their subject, and never sent, sent long ago, or sent on a connection that is gone.
/// `$1` is the organization. Alias `q` is the queue row.
macro_rules! due {
    () => {
        "q.organization_id = $1 AND q.installation_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM stream_queue p WHERE p.organization_id = q.organization_id \
             AND p.installation_id = q.installation_id AND p.subject_key = q.subject_key AND p.event_seq < q.event_seq) \
         AND (q.sent_at IS NULL OR q.sent_at <= $3 OR (q.connection_id <> $4 AND NOT EXISTS ( \
             SELECT 1 FROM stream_connections c WHERE c.id = q.connection_id AND c.seen_at > $5)))"
    };
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    seq: i64,
    id: Uuid,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: DateTime<Utc>,
    actor: sqlx::types::Json<Value>,
    subject: sqlx::types::Json<Value>,
    subject_key: String,
    data: sqlx::types::Json<Value>,
    attempts: i64,
    events_expired: Option<String>,
}

impl Tenant<'_> {
    /// One round of an installation's stream on connection `connection_id`: hands the events after its
    /// cursor whose type is in `types` to its queue, then claims the events due now (see the module doc).
    /// Claimed events whose type is no longer in `types` (the app lost a scope) are dropped from the queue.
    pub async fn stream_pump(
        &self,
        installation_id: InstallationId,
        connection_id: StreamConnectionId,
        types: &[&str],
    ) -> Result<Vec<StreamClaim>> {
        self.stream_pump_wanted(installation_id, connection_id, types, &|_: &Event| true)
            .await
    }

    /// [`Tenant::stream_pump`] for a subscription finer than event types: of the events whose type is in
    /// `types`, only those `wanted` accepts are handed over; the cursor passes the others as it passes
    /// events of other types (they are not for this app). A queued event `wanted` refuses when it is due
    /// (it was queued by a connection that wanted more) is dropped from the queue in the same transaction,
    /// like one whose type the app no longer reads; the next event of its subject is then due on the
    /// following round. `wanted` looks only at the event (type and data), so it answers the same on
    /// every round.
    pub async fn stream_pump_wanted(
        &self,
        installation_id: InstallationId,
        connection_id: StreamConnectionId,
        types: &[&str],
        wanted: &(dyn Fn(&Event) -> bool + Sync),
    ) -> Result<Vec<StreamClaim>> {
        let now = self.store.now();
        // Most rounds find nothing to do; finding that out must not take SQLite's write lock.
        if !self
            .stream_has_work(installation_id, connection_id, now)
            .await?
        {
            return Ok(Vec::new());
        }
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        let cursor = self.lock_cursor(&mut conn, installation_id).await?;
        self.fill_queue(&mut conn, installation_id, cursor, types, wanted)
            .await?;
        let rows: Vec<ClaimRow> = conn
            .fetch_all(
                Sql::new(concat!(
                    "SELECT e.seq, e.id, e.type, e.occurred_at, e.actor, e.subject, e.subject_key, e.data, q.attempts, \
                     q.events_expired \
                     FROM stream_queue q JOIN events e ON e.organization_id = q.organization_id AND e.seq = q.event_seq \
                     WHERE ",
                    due!(),
                    " ORDER BY q.event_seq LIMIT $6"
                ))
                .bind(self.org_id)
                .bind(installation_id)
                .bind(now - STREAM_REDELIVER_AFTER)
                .bind(connection_id)
                .bind(now - STREAM_CONNECTION_STALE_AFTER)
                .bind(STREAM_CLAIMS_PER_PUMP_MAX),
            )
            .await?;
        let mut claims = Vec::with_capacity(rows.len());
        for row in rows {
            let event = Event {
                id: EventId::from_uuid(row.id),
                seq: row.seq,
                org_id: self.org_id,
                event_type: row.event_type,
                occurred_at: row.occurred_at,
                actor: row.actor.0,
                subject: row.subject.0,
                subject_key: row.subject_key,
                data: row.data.0,
            };
            if !types.contains(&event.event_type.as_str()) || !wanted(&event) {
                conn.execute(
                    Sql::new(
                        "DELETE FROM stream_queue WHERE organization_id = $1 AND installation_id = $2 AND event_seq = $3",
                    )
                    .bind(self.org_id)
                    .bind(installation_id)
                    .bind(row.seq),
                )
                .await?;
                continue;
            }
            let message_id = Uuid::now_v7().to_string();
            conn.execute(
                Sql::new(
                    "UPDATE stream_queue SET message_id = $1, connection_id = $2, sent_at = $3, attempts = attempts + 1 \
                     WHERE organization_id = $4 AND installation_id = $5 AND event_seq = $6",
                )
                .bind(message_id.as_str())
                .bind(connection_id)
                .bind(now)
                .bind(self.org_id)
                .bind(installation_id)
                .bind(row.seq),
            )
            .await?;
            claims.push(StreamClaim {
                message_id,
                attempt: row.attempts + 1,
                events_expired: crate::deliveries::stored_expired(row.events_expired.as_deref())?,
                event,
            });
        }
        tx.commit().await?;
        Ok(claims)
    }

    /// The installation's cursor, created at its `app.installed` event on first use, and locked until the
    /// transaction ends (PostgreSQL), so two nodes never pump one installation at once.
    async fn lock_cursor(
        &self,
        conn: &mut Conn<'_>,
        installation_id: InstallationId,
    ) -> Result<i64> {
        let select = match conn.backend() {
            Backend::Postgres => Sql::new(
                "SELECT cursor_seq FROM stream_cursors WHERE organization_id = $1 AND installation_id = $2 FOR UPDATE",
            ),
            Backend::Sqlite => Sql::new(
                "SELECT cursor_seq FROM stream_cursors WHERE organization_id = $1 AND installation_id = $2",
            ),
        };
        let select = select.bind(self.org_id).bind(installation_id);
        if let Some((cursor,)) = conn.fetch_optional::<(i64,)>(select.clone()).await? {
            return Ok(cursor);
        }
        self.create_cursor(conn, installation_id).await?;
        let (cursor,): (i64,) = conn.fetch_one(select).await?;
        Ok(cursor)
    }

    /// Creates the installation's cursor at its start, unless it exists. The installation's own event
    /// marks its creation; an installation older than the outbox starts at the events that occurred
    /// before it was created.
    async fn create_cursor(
        &self,
        conn: &mut Conn<'_>,
        installation_id: InstallationId,
    ) -> Result<()> {
        // The installation's own event, appended in this transaction, must be numbered to be found.
        conn.run_deferred().await?;
        let (start,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT COALESCE( \
                       (SELECT MAX(seq) FROM events WHERE organization_id = $1 AND subject_key = $2 AND type = 'app.installed'), \
                       (SELECT MAX(e.seq) FROM events e JOIN installations i ON i.organization_id = e.organization_id \
                          WHERE e.organization_id = $1 AND i.id = $3 AND e.occurred_at <= i.created_at), \
                       0)",
                )
                .bind(self.org_id)
                .bind(format!("installation:{installation_id}"))
                .bind(installation_id),
            )
            .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO stream_cursors (organization_id, installation_id, cursor_seq) VALUES ($1, $2, $3) \
                 ON CONFLICT (organization_id, installation_id) DO NOTHING",
            )
            .bind(self.org_id)
            .bind(installation_id)
            .bind(start),
        )
        .await?;
        Ok(())
    }

    /// Creates the missing cursors of the organization's installations, each at its start. The start is
    /// found from events; the event pruner calls this before it deletes any, so that a cursor made later
    /// (on the app's first connection) cannot start elsewhere because its installation event is gone.
    pub(crate) async fn pin_stream_cursors(&self, conn: &mut Conn<'_>) -> Result<()> {
        let missing: Vec<(Uuid,)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT i.id FROM installations i WHERE i.organization_id = $1 AND NOT EXISTS ( \
                     SELECT 1 FROM stream_cursors c WHERE c.organization_id = i.organization_id \
                     AND c.installation_id = i.id)",
                )
                .bind(self.org_id),
            )
            .await?;
        for (installation,) in missing {
            self.create_cursor(conn, InstallationId::from_uuid(installation))
                .await?;
        }
        Ok(())
    }

    /// Moves the `wanted` events after `cursor` into the queue while it has room, and advances the cursor
    /// past every event it read, wanted or not.
    async fn fill_queue(
        &self,
        conn: &mut Conn<'_>,
        installation_id: InstallationId,
        cursor: i64,
        types: &[&str],
        wanted: &(dyn Fn(&Event) -> bool + Sync),
    ) -> Result<()> {
        let (queued,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*) FROM stream_queue WHERE organization_id = $1 AND installation_id = $2",
                )
                .bind(self.org_id)
                .bind(installation_id),
            )
            .await?;
        let room = i64::from(STREAM_QUEUE_MAX) - queued;
        if room <= 0 || types.is_empty() {
            return Ok(());
        }
        let room = u32::try_from(room).unwrap_or(STREAM_QUEUE_MAX);
        // Read the counter first: every event up to it has committed, so the cursor may pass it even
        // where no event of the wanted types lies.
        conn.run_deferred().await?;
        let last: Option<(i64,)> = conn
            .fetch_optional(
                Sql::new("SELECT last_seq FROM event_counters WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        let last = last.map_or(0, |(seq,)| seq);
        if last <= cursor {
            return Ok(());
        }
        let read = self.events_after_in(conn, cursor, types, room).await?;
        // A full read stops at its last event, wanted or not: later ones are read on the next round.
        let new_cursor = match read.last() {
            Some(event) if read.len() >= room as usize => event.seq,
            Some(event) => event.seq.max(last),
            None => last,
        };
        let events: Vec<&Event> = read.iter().filter(|event| wanted(event)).collect();
        // Events that expired unseen while the app was away are told with the first one handed over.
        let told = match events.first() {
            Some(first) => {
                let (expired,): (Option<String>,) = conn
                    .fetch_one(
                        Sql::new(
                            "SELECT events_expired FROM stream_cursors \
                             WHERE organization_id = $1 AND installation_id = $2",
                        )
                        .bind(self.org_id)
                        .bind(installation_id),
                    )
                    .await?;
                expired.map(|expired| (first.seq, expired))
            }
            None => None,
        };
        for batch in events.chunks(200) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(
                "INSERT INTO stream_queue (organization_id, installation_id, event_seq, subject_key, attempts) VALUES ",
            )
            .rows(batch.iter().map(|event| {
                [
                    Arg::from(self.org_id),
                    Arg::from(installation_id),
                    Arg::from(event.seq),
                    Arg::from(event.subject_key.as_str()),
                    Arg::from(0_i64),
                ]
            }));
            conn.execute(sql.into_sql()).await?;
        }
        if let Some((seq, expired)) = told {
            conn.execute(
                Sql::new(
                    "UPDATE stream_queue SET events_expired = $1 \
                     WHERE organization_id = $2 AND installation_id = $3 AND event_seq = $4",
                )
                .bind(expired)
                .bind(self.org_id)
                .bind(installation_id)
                .bind(seq),
            )
            .await?;
            conn.execute(
                Sql::new(
                    "UPDATE stream_cursors SET events_expired = NULL \
                     WHERE organization_id = $1 AND installation_id = $2",
                )
                .bind(self.org_id)
                .bind(installation_id),
            )
            .await?;
        }
        conn.execute(
            Sql::new(
                "UPDATE stream_cursors SET cursor_seq = $1 WHERE organization_id = $2 AND installation_id = $3",
            )
            .bind(new_cursor)
            .bind(self.org_id)
            .bind(installation_id),
        )
        .await?;
        Ok(())
    }

    /// Whether a pump could hand over or claim anything: no cursor yet, events after the cursor, or a due
    /// queued event. A read, so idle connections cost no write transaction.
    async fn stream_has_work(
        &self,
        installation_id: InstallationId,
        connection_id: StreamConnectionId,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut pooled = self.store.pools.read().await?;
        let (cursor, last, due): (Option<i64>, Option<i64>, i64) = pooled
            .conn()
            .fetch_one(
                Sql::new(concat!(
                    "SELECT (SELECT cursor_seq FROM stream_cursors WHERE organization_id = $1 AND installation_id = $2), \
                     (SELECT last_seq FROM event_counters WHERE organization_id = $1), \
                     (SELECT COUNT(*) FROM stream_queue q WHERE ",
                    due!(),
                    ")"
                ))
                .bind(self.org_id)
                .bind(installation_id)
                .bind(now - STREAM_REDELIVER_AFTER)
                .bind(connection_id)
                .bind(now - STREAM_CONNECTION_STALE_AFTER),
            )
            .await?;
        Ok(match cursor {
            None => true,
            Some(cursor) => due > 0 || last.is_some_and(|last| last > cursor),
        })
    }

    /// The client acknowledged `message_id`: the event is done. `false` if that message is not (or no
    /// longer) the current attempt of a queued event — acknowledged already, or sent again since.
    pub async fn stream_ack(
        &self,
        installation_id: InstallationId,
        message_id: &str,
    ) -> Result<bool> {
        let mut tx = self.store.pools.begin().await?;
        let deleted = tx
            .conn()
            .execute(
                Sql::new(
                    "DELETE FROM stream_queue WHERE organization_id = $1 AND installation_id = $2 AND message_id = $3",
                )
                .bind(self.org_id)
                .bind(installation_id)
                .bind(message_id),
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// The installation's queue, oldest first: what was handed over and not acknowledged.
    pub async fn stream_queue(&self, installation_id: InstallationId) -> Result<Vec<StreamQueued>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<(Uuid, i64, Option<String>, i64)> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT e.id, q.event_seq, q.message_id, q.attempts FROM stream_queue q \
                     JOIN events e ON e.organization_id = q.organization_id AND e.seq = q.event_seq \
                     WHERE q.organization_id = $1 AND q.installation_id = $2 ORDER BY q.event_seq",
                )
                .bind(self.org_id)
                .bind(installation_id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, event_seq, message_id, attempts)| StreamQueued {
                event_id: EventId::from_uuid(id),
                event_seq,
                message_id,
                attempts,
            })
            .collect())
    }
}
