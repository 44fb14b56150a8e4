//! The transactional outbox: every audited change of a record, a schema, the directory or an app
//! installation appends an event in the transaction of the change, so an event exists exactly for the
//! writes that committed.
//!
//! Events are appended by the audit log ([`crate::audit`], the layer above this one): one hook, so no
//! write path can record its audit entry and forget its event. Each organization's events are numbered by `seq` from the
//! `event_counters` row, which the writing transaction holds locked (PostgreSQL) or writes under the single
//! writer (SQLite) until it commits: `seq` order is commit order, with no event appearing after a reader
//! has read past its place. Consumers read with [`Tenant::events_after`] and wait on
//! [`crate::Store::commits`].
//!
//! On PostgreSQL a transaction's events are kept in memory ([`Conn::defer`]) and numbered and inserted
//! last, just before its commit: the counter row — which every writer of the organization needs — is
//! then held for two statements and the commit, not from the transaction's first event to its end. A
//! statement of the transaction that reads events or counters runs the numbering first
//! ([`Conn::run_deferred`]), so the transaction always sees its own events.
//!
//! On SQLite the counter's step and the events are writes whose results nobody reads
//! ([`Conn::execute_unobserved`]): they go in one round trip with the transaction's next statement (which
//! so sees them) or with its `COMMIT`.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::{Action, Event, EventId, OrgId, Page, PageRequest, TableId, TargetKind};
use uuid::Uuid;

use crate::exec::{Arg, Backend, BeforeCommit, Conn, HookFuture, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// Events inserted per statement (11 values each, well under SQLite's 32,766 bound values).
const EVENTS_PER_STATEMENT: usize = 500;
/// Events one call of [`Tenant::events_after`] returns at most.
pub const EVENTS_PER_READ_MAX: u32 = 1000;

/// One audited change ([`crate::audit`] records it, and appends its event here).
pub(crate) struct Change<'a> {
    pub target_kind: TargetKind,
    pub target_id: String,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ctx: &'a WriteContext,
}

/// An event about to be appended.
struct NewEvent {
    id: EventId,
    event_type: &'static str,
    actor: Value,
    subject: Value,
    subject_key: String,
    app_id: Option<Uuid>,
    table_id: Option<Uuid>,
    data: Value,
}

/// Appends the events of audited changes (kinds without events are skipped); returns each change's event
/// id (`None` for kinds without events).
pub(crate) async fn append_for_changes(
    conn: &mut Conn<'_>,
    tenant: &Tenant<'_>,
    changes: &[Change<'_>],
) -> Result<Vec<Option<EventId>>> {
    let mut ids = Vec::with_capacity(changes.len());
    let mut apps_of_tables: HashMap<String, Option<Uuid>> = HashMap::new();
    let mut events = Vec::new();
    for change in changes {
        let Some(event_type) = event_type(change) else {
            ids.push(None);
            continue;
        };
        let table_id = table_of(change);
        let app_id = match change.target_kind {
            TargetKind::App => Uuid::parse_str(&change.target_id).ok(),
            TargetKind::Table => snapshot_uuid(change, "app_id"),
            _ => match &table_id {
                Some(table) => {
                    let key = table.to_string();
                    match apps_of_tables.get(&key) {
                        Some(app) => *app,
                        None => {
                            let kept = tenant
                                .kept_app_of_table(conn, TableId::from_uuid(*table))
                                .map(|app| *app.as_uuid());
                            let app = match kept {
                                Some(app) => Some(app),
                                None => app_of_table(conn, tenant.org_id, *table).await?,
                            };
                            apps_of_tables.insert(key, app);
                            app
                        }
                    }
                }
                None => None,
            },
        };
        let event = new_event(change, event_type, app_id, table_id);
        ids.push(Some(event.id));
        events.push(event);
    }
    append(conn, tenant, events).await?;
    Ok(ids)
}

fn event_type(change: &Change<'_>) -> Option<&'static str> {
    use Action::{Created, Deleted, Posted, Updated};
    Some(match (change.target_kind, change.action) {
        (TargetKind::Record, Created) => "record.created",
        (TargetKind::Record, Updated) => "record.updated",
        (TargetKind::Record, Deleted) => "record.deleted",
        (TargetKind::App | TargetKind::Table | TargetKind::Field | TargetKind::View, _) => {
            "schema.changed"
        }
        (TargetKind::Member, Created) => "member.created",
        (TargetKind::Member, Updated) => "member.updated",
        (TargetKind::Member, Deleted) => "member.deleted",
        (TargetKind::Department, Created) => "department.created",
        (TargetKind::Department, Updated) => "department.updated",
        (TargetKind::Department, Deleted) => "department.deleted",
        (TargetKind::Installation, Created) => "app.installed",
        (TargetKind::Installation, Updated) => "app.updated",
        (TargetKind::Installation, Deleted) => "app.uninstalled",
        (TargetKind::OrgRole, Created) => "role.created",
        (TargetKind::OrgRole, Updated) => "role.updated",
        (TargetKind::OrgRole, Deleted) => "role.deleted",
        // A voucher moves the balances when it is posted: posted later, or created posted (by the API at
        // once, a voucher rule, a reversal, the year-end carry-forward). Drafts and reviews move nothing.
        (TargetKind::Voucher, Posted) => "voucher.posted",
        (TargetKind::Voucher, Created)
            if change
                .after
                .as_ref()
                .and_then(|after| after.get("state"))
                .and_then(Value::as_str)
                == Some("posted") =>
        {
            "voucher.posted"
        }
        _ => return None,
    })
}

fn snapshot_uuid(change: &Change<'_>, key: &str) -> Option<Uuid> {
    [&change.after, &change.before]
        .into_iter()
        .flatten()
        .find_map(|snapshot| snapshot.get(key)?.as_str())
        .and_then(|text| Uuid::parse_str(text).ok())
}

fn snapshot_text(change: &Change<'_>, key: &str) -> Option<String> {
    [&change.after, &change.before]
        .into_iter()
        .flatten()
        .find_map(|snapshot| snapshot.get(key)?.as_str())
        .map(str::to_owned)
}

fn table_of(change: &Change<'_>) -> Option<Uuid> {
    match change.target_kind {
        TargetKind::Table => Uuid::parse_str(&change.target_id).ok(),
        TargetKind::Record | TargetKind::Field | TargetKind::View => {
            snapshot_uuid(change, "table_id")
        }
        _ => None,
    }
}

async fn app_of_table(conn: &mut Conn<'_>, org: OrgId, table: Uuid) -> Result<Option<Uuid>> {
    let row: Option<(Uuid,)> = conn
        .fetch_optional(
            Sql::new("SELECT app_id FROM app_tables WHERE organization_id = $1 AND id = $2")
                .bind(org)
                .bind(table),
        )
        .await?;
    Ok(row.map(|(app,)| app))
}

/// `data` is `{"before", "after", "changed"}` for every event: the object (a record's fields) before and
/// after the change, `null` on the side where it did not exist, and the keys whose values differ.
/// Schema events add `object` (`app`, `table`, `field`, `view`) and `action`.
fn new_event(
    change: &Change<'_>,
    event_type: &'static str,
    app_id: Option<Uuid>,
    table_id: Option<Uuid>,
) -> NewEvent {
    let actor = json!({
        "type": change.ctx.actor.kind(),
        "id": change.ctx.actor.id(),
        "name": change.ctx.actor.name(),
    });
    let unwrap_fields = |snapshot: &Option<Value>| match change.target_kind {
        TargetKind::Record => snapshot
            .as_ref()
            .and_then(|s| s.get("fields"))
            .cloned()
            .unwrap_or(Value::Null),
        _ => snapshot.clone().unwrap_or(Value::Null),
    };
    let before = unwrap_fields(&change.before);
    let after = unwrap_fields(&change.after);
    let changed = changed_keys(&before, &after);
    let mut data = json!({"before": before, "after": after, "changed": changed});
    // A record changed because of another record's write names that write.
    if let Some(cause) = change.after.as_ref().and_then(|after| after.get("cause")) {
        data["cause"] = cause.clone();
    }
    let id = change.target_id.clone();
    let (subject, subject_key) = match change.target_kind {
        TargetKind::Record => (
            json!({"app_id": app_id.map(|a| a.to_string()), "table_id": table_id.map(|t| t.to_string()), "record_id": id}),
            format!("record:{id}"),
        ),
        TargetKind::App | TargetKind::Table | TargetKind::Field | TargetKind::View => {
            data["object"] = json!(change.target_kind.as_str());
            data["action"] = json!(change.action.as_str());
            let app = app_id.map(|a| a.to_string());
            (
                json!({"app_id": app, "table_id": table_id.map(|t| t.to_string())}),
                format!("app:{}", app.as_deref().unwrap_or(&id)),
            )
        }
        TargetKind::Member => (json!({"member_id": id}), format!("member:{id}")),
        TargetKind::Department => (json!({"department_id": id}), format!("department:{id}")),
        TargetKind::OrgRole => (json!({"role": id}), format!("role:{id}")),
        TargetKind::Voucher => (
            json!({"book_id": snapshot_text(change, "book_id"), "voucher_id": id}),
            format!("voucher:{id}"),
        ),
        _ => (json!({"installation_id": id}), format!("installation:{id}")),
    };
    NewEvent {
        id: EventId::new(),
        event_type,
        actor,
        subject,
        subject_key,
        app_id,
        table_id,
        data,
    }
}

fn changed_keys(before: &Value, after: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// An event its domain module composes itself, beside the audit entry of its change: an approval command
/// appends several (`approval.task.approved`, `approval.instance.approved`, …), each with its own data.
pub(crate) struct ExplicitEvent {
    /// Chosen by the caller, so what the same transaction does next can name the event (an approval
    /// event is the trigger key of the flow runs it starts).
    pub id: EventId,
    pub event_type: &'static str,
    pub subject: Value,
    /// Delivery order is per subject key (`approval:<instance id>`).
    pub subject_key: String,
    pub app_id: Option<Uuid>,
    pub table_id: Option<Uuid>,
    pub data: Value,
}

/// Appends explicit events in order, acted by `ctx`'s actor.
pub(crate) async fn append_explicit(
    conn: &mut Conn<'_>,
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    events: Vec<ExplicitEvent>,
) -> Result<()> {
    let actor = json!({
        "type": ctx.actor.kind(),
        "id": ctx.actor.id(),
        "name": ctx.actor.name(),
    });
    let events = events
        .into_iter()
        .map(|event| NewEvent {
            id: event.id,
            event_type: event.event_type,
            actor: actor.clone(),
            subject: event.subject,
            subject_key: event.subject_key,
            app_id: event.app_id,
            table_id: event.table_id,
            data: event.data,
        })
        .collect();
    append(conn, tenant, events).await
}

async fn append(conn: &mut Conn<'_>, tenant: &Tenant<'_>, events: Vec<NewEvent>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = tenant.store.now();
    let mut batch = Deferred {
        org_id: tenant.org_id,
        events: events.into_iter().map(|event| (now, event)).collect(),
    };
    // On PostgreSQL the events wait for the commit, where they are numbered (see the module's
    // documentation); SQLite's single writer serializes transactions anyway.
    if conn.backend() == Backend::Postgres {
        match conn.defer(&NUMBER_AT_COMMIT, Box::new(batch)) {
            Ok(()) => {
                tenant.store.made_work(conn, crate::work::DELIVERIES);
                return Ok(());
            }
            Err(item) => match item.downcast::<Deferred>() {
                Ok(item) => batch = *item,
                Err(_) => return Err(StoreError::Corrupt("deferred events".into())),
            },
        }
    }
    insert_numbered(conn, batch.org_id, batch.events).await?;
    tenant.store.made_work(conn, crate::work::DELIVERIES);
    Ok(())
}

/// One `append`'s events of one organization, each with the instant it occurred, waiting for their
/// transaction's commit.
struct Deferred {
    org_id: OrgId,
    events: Vec<(DateTime<Utc>, NewEvent)>,
}

/// Numbers and inserts a transaction's deferred events just before it commits.
struct NumberAtCommit;

static NUMBER_AT_COMMIT: NumberAtCommit = NumberAtCommit;

impl BeforeCommit for NumberAtCommit {
    fn run<'a>(&'a self, mut conn: Conn<'a>, items: Vec<Box<dyn Any + Send>>) -> HookFuture<'a> {
        Box::pin(async move {
            // In append order per organization; organizations in id order, so two transactions
            // numbering the events of the same organizations take their counters in one order.
            let mut by_org: BTreeMap<OrgId, Vec<(DateTime<Utc>, NewEvent)>> = BTreeMap::new();
            for item in items {
                let batch = item.downcast::<Deferred>().map_err(|_| {
                    sqlx::Error::Protocol("deferred work that is not events".into())
                })?;
                by_org.entry(batch.org_id).or_default().extend(batch.events);
            }
            for (org_id, events) in by_org {
                insert_numbered(&mut conn, org_id, events).await?;
            }
            Ok(())
        })
    }
}

/// Takes the next `seq` numbers from the organization's counter row and inserts the events with them. On
/// PostgreSQL the row stays locked until the transaction ends, which puts concurrent writers' events in
/// commit order.
async fn insert_numbered(
    conn: &mut Conn<'_>,
    org_id: OrgId,
    events: Vec<(DateTime<Utc>, NewEvent)>,
) -> std::result::Result<(), sqlx::Error> {
    let count = i64::try_from(events.len())
        .map_err(|_| sqlx::Error::Protocol("more events than a counter holds".into()))?;
    if conn.backend() == Backend::Postgres && events.len() <= EVENTS_PER_STATEMENT {
        return insert_numbered_at_once(conn, org_id, count, events).await;
    }
    if conn.backend() == Backend::Sqlite {
        return insert_numbered_unobserved(conn, org_id, count, events).await;
    }
    let (last_seq,): (i64,) = conn
        .fetch_one(
            Sql::new(
                "INSERT INTO event_counters (organization_id, last_seq) VALUES ($1, $2) \
                 ON CONFLICT (organization_id) DO UPDATE SET last_seq = event_counters.last_seq + $2 \
                 RETURNING last_seq",
            )
            .bind(org_id)
            .bind(count),
        )
        .await?;
    let mut seq = last_seq - count;
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "INSERT INTO events (organization_id, seq, id, type, occurred_at, actor, subject, \
             subject_key, app_id, table_id, data) VALUES ",
        )
        .rows(
            events
                .by_ref()
                .take(EVENTS_PER_STATEMENT)
                .map(|(at, event)| {
                    seq += 1;
                    event_row(org_id, seq, at, event)
                }),
        );
        conn.execute(sql.into_sql()).await?;
    }
    Ok(())
}

/// SQLite: the counter's step and the events as writes whose results nobody reads
/// ([`Conn::execute_unobserved`]), which go in one round trip with the transaction's next statement or
/// its `COMMIT`: each event reads its `seq` from the counter's row in the statement that inserts it,
/// `last_seq - count + n` for the `n`-th event (from 1). SQLite's single writer keeps `seq` in commit order.
async fn insert_numbered_unobserved(
    conn: &mut Conn<'_>,
    org_id: OrgId,
    count: i64,
    events: Vec<(DateTime<Utc>, NewEvent)>,
) -> std::result::Result<(), sqlx::Error> {
    conn.execute_unobserved(
        Sql::new(
            "INSERT INTO event_counters (organization_id, last_seq) VALUES ($1, $2) \
             ON CONFLICT (organization_id) DO UPDATE SET last_seq = event_counters.last_seq + $2",
        )
        .bind(org_id)
        .bind(count),
    )
    .await?;
    // Events of the earlier statements.
    let mut before = 0_i64;
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<_> = events.by_ref().take(EVENTS_PER_STATEMENT).collect();
        let len = i64::try_from(chunk.len())
            .map_err(|_| sqlx::Error::Protocol("more events than a counter holds".into()))?;
        let mut sql = SqlText::new(Backend::Sqlite);
        sql.push(
            "INSERT INTO events (organization_id, seq, id, type, occurred_at, actor, subject, \
             subject_key, app_id, table_id, data) SELECT v.column1, c.last_seq - ",
        )
        .arg(count - before)
        .push(
            " + v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, \
             v.column9, v.column10, v.column11 FROM (VALUES ",
        )
        .rows(
            chunk
                .into_iter()
                .zip(1_i64..)
                .map(|((at, event), n)| event_row(org_id, n, at, event)),
        )
        .push(") AS v, event_counters AS c WHERE c.organization_id = ")
        .arg(org_id);
        conn.execute_unobserved(sql.into_sql()).await?;
        before += len;
    }
    Ok(())
}

/// An event's row of `INSERT INTO events`, in the columns' order: `number` is its `seq`, or its place
/// from 1 when [`insert_numbered_at_once`] or [`insert_numbered_unobserved`] computes the `seq`.
fn event_row(org_id: OrgId, number: i64, at: DateTime<Utc>, event: NewEvent) -> [Arg; 11] {
    [
        Arg::from(org_id),
        Arg::from(number),
        Arg::from(event.id),
        Arg::from(event.event_type),
        Arg::from(at),
        Arg::from(event.actor),
        Arg::from(event.subject),
        Arg::from(event.subject_key),
        Arg::Uuid(event.app_id),
        Arg::Uuid(event.table_id),
        Arg::from(event.data),
    ]
}

/// PostgreSQL: takes the numbers and inserts the events in one statement, so the counter's row (taken last
/// in a transaction, just before `COMMIT`) is held for that statement and the commit, one round trip less
/// than a counter update followed by the insert. Row `n` (from 1) of the values gets `last_seq - count + n`.
async fn insert_numbered_at_once(
    conn: &mut Conn<'_>,
    org_id: OrgId,
    count: i64,
    events: Vec<(DateTime<Utc>, NewEvent)>,
) -> std::result::Result<(), sqlx::Error> {
    // Kept prepared: its text takes one shape per number of events, and most writes have one or two.
    let mut sql = SqlText::new(Backend::Postgres).kept();
    sql.push("WITH counter AS (INSERT INTO event_counters (organization_id, last_seq) VALUES (")
        .arg(org_id)
        .push(", ")
        .arg(count)
        .push(
            ") ON CONFLICT (organization_id) DO UPDATE SET last_seq = event_counters.last_seq + \
             excluded.last_seq RETURNING last_seq) \
             INSERT INTO events (organization_id, seq, id, type, occurred_at, actor, subject, \
             subject_key, app_id, table_id, data) \
             SELECT v.organization_id, counter.last_seq - ",
        )
        .arg(count)
        .push(
            " + v.n, v.id, v.type, v.occurred_at, v.actor, v.subject, v.subject_key, v.app_id, \
             v.table_id, v.data FROM counter, (VALUES ",
        )
        .rows(
            events
                .into_iter()
                .zip(1_i64..)
                .map(|((at, event), n)| event_row(org_id, n, at, event)),
        )
        .push(
            ") AS v (organization_id, n, id, type, occurred_at, actor, subject, subject_key, app_id, \
             table_id, data)",
        );
    // It reads only the counter: the writes queued before it go in its statement (`exec/pg_tx.rs`).
    let inserted = conn.execute_with_queued(sql.into_sql()).await?;
    if inserted != u64::try_from(count).unwrap_or(u64::MAX) {
        return Err(sqlx::Error::Protocol(format!(
            "{inserted} of {count} events were inserted"
        )));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    id: Uuid,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: DateTime<Utc>,
    actor: sqlx::types::Json<Value>,
    subject: sqlx::types::Json<Value>,
    subject_key: String,
    data: sqlx::types::Json<Value>,
}

impl EventRow {
    fn into_model(self, org_id: OrgId) -> Event {
        Event {
            id: EventId::from_uuid(self.id),
            seq: self.seq,
            org_id,
            event_type: self.event_type,
            occurred_at: self.occurred_at,
            actor: self.actor.0,
            subject: self.subject.0,
            subject_key: self.subject_key,
            data: self.data.0,
        }
    }
}

const EVENT_COLUMNS: &str = "seq, id, type, occurred_at, actor, subject, subject_key, data";

impl Tenant<'_> {
    /// Up to `limit` (at most [`EVENTS_PER_READ_MAX`]) events with `seq > after_seq` whose type is one of
    /// `types`, in commit order. This is what a stream consumer calls after each wake-up of
    /// [`crate::Store::commits`], with the `seq` of the last event it handled (0 for "from the start").
    pub async fn events_after(
        &self,
        after_seq: i64,
        types: &[&str],
        limit: u32,
    ) -> Result<Vec<Event>> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        self.events_after_in(&mut conn, after_seq, types, limit.min(EVENTS_PER_READ_MAX))
            .await
    }

    pub(crate) async fn events_after_in(
        &self,
        conn: &mut Conn<'_>,
        after_seq: i64,
        types: &[&str],
        limit: u32,
    ) -> Result<Vec<Event>> {
        conn.run_deferred().await?;
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = "
        ))
        .arg(self.org_id)
        .push(" AND seq > ")
        .arg(after_seq)
        .push(" AND type IN ")
        .list(types.iter().copied())
        .push(" ORDER BY seq")
        .limit(u64::from(limit));
        let rows: Vec<EventRow> = conn.fetch_all(sql.into_sql()).await?;
        Ok(rows
            .into_iter()
            .map(|row| row.into_model(self.org_id))
            .collect())
    }

    /// The event with this id, if it is this organization's.
    pub async fn event(&self, id: EventId) -> Result<Option<Event>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<EventRow> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT seq, id, type, occurred_at, actor, subject, subject_key, data \
                     FROM events WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
        Ok(row.map(|row| row.into_model(self.org_id)))
    }

    /// The organization's last committed `seq` (0 before its first event): where a consumer that wants
    /// only new events starts.
    pub async fn last_event_seq(&self) -> Result<i64> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(i64,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new("SELECT last_seq FROM event_counters WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        Ok(row.map_or(0, |(seq,)| seq))
    }

    /// A page of events after the event `page.after` (exclusive), oldest first. An `after` id that names
    /// no event of this organization is `NotFound("event")`, one the retention deleted `EventExpired`.
    pub async fn list_events(
        &self,
        types: &[&str],
        page: PageRequest<EventId>,
    ) -> Result<Page<Event, EventId>> {
        let after_seq = match page.after {
            None => 0,
            Some(id) => self.event_cursor(id).await?,
        };
        if types.is_empty() {
            return Ok(Page::from_overfetch(
                Vec::new(),
                page.size(),
                |event: &Event| event.id,
            ));
        }
        // One more than the page, past `events_after`'s cap: a full page of the largest size must still
        // learn whether more follow.
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let rows = self
            .events_after_in(&mut conn, after_seq, types, page.size() + 1)
            .await?;
        Ok(Page::from_overfetch(rows, page.size(), |event| event.id))
    }
}
