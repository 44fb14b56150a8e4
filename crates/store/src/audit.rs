//! The audit log: one entry per change, written in the transaction of the change itself, so the log has
//! an entry exactly for the changes that committed. Recording a change also appends its event to the
//! outbox ([`crate::events`]) when its kind has events.
//!
//! Snapshots (`before`, `after`) are JSON objects with the field names of the public API. Secrets never
//! appear in them: not password hashes, not token digests.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::{
    ApiToken, AuditEntry, AuditId, Department, Installation, Member, Organization, Page,
    PageRequest, TargetKind,
};

use crate::exec::{Arg, Conn, Sql};
use crate::rows::{AuditRow, audit_columns};
use crate::sql::SqlText;
use crate::{Result, Tenant, WriteContext};

/// What to list from the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub target_kind: Option<TargetKind>,
    pub target_id: Option<String>,
    /// Only entries by this actor (a member's, token's or app's id as the entry names it).
    pub actor_id: Option<String>,
    /// Only entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub until: Option<DateTime<Utc>>,
}

/// One change to record (defined beside the outbox, which turns it into an event).
pub(crate) use crate::events::Change;

pub(crate) async fn record(
    conn: &mut Conn<'_>,
    tenant: &Tenant<'_>,
    change: Change<'_>,
) -> Result<()> {
    invalidates(conn, tenant, std::slice::from_ref(&change));
    let now = tenant.store.now();
    // The entry first, then the events: on PostgreSQL the queued entry goes in the events' statement
    // (`exec/pg_tx.rs`).
    let sql = Sql::new(
        "INSERT INTO audit_log (organization_id, id, at, actor_kind, actor_id, actor_name, action, \
         target_kind, target_id, before, after, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant.org_id)
    .bind(AuditId::new())
    .bind(now)
    .bind(change.ctx.actor.kind())
    .bind(change.ctx.actor.id())
    .bind(change.ctx.actor.name())
    .bind(format!(
        "{}.{}",
        change.target_kind.as_str(),
        change.action.as_str()
    ))
    .bind(change.target_kind.as_str())
    .bind(change.target_id.clone())
    .bind(change.before.clone())
    .bind(change.after.clone())
    .bind(change.ctx.request_id.clone())
    .new_rows();
    conn.execute_unobserved(sql).await?;
    crate::events::append_for_changes(conn, tenant, std::slice::from_ref(&change)).await?;
    Ok(())
}

/// One change whose audit action is named by its domain (`approval.approved`) and whose events the domain
/// composes ([`crate::events::ExplicitEvent`]): the entry and the events are written by this one hook, in
/// the change's transaction, as for every other change.
pub(crate) struct NamedChange<'a> {
    pub target_kind: TargetKind,
    pub target_id: String,
    /// The action after the target kind: `approved` is logged as `approval.approved`.
    pub action: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ctx: &'a WriteContext,
    /// Appended to the outbox in this order.
    pub events: Vec<crate::events::ExplicitEvent>,
}

pub(crate) async fn record_with_events(
    conn: &mut Conn<'_>,
    tenant: &Tenant<'_>,
    change: NamedChange<'_>,
) -> Result<()> {
    mark(conn, tenant, marks_of(change.target_kind));
    let now = tenant.store.now();
    let sql = Sql::new(
        "INSERT INTO audit_log (organization_id, id, at, actor_kind, actor_id, actor_name, action, \
         target_kind, target_id, before, after, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant.org_id)
    .bind(AuditId::new())
    .bind(now)
    .bind(change.ctx.actor.kind())
    .bind(change.ctx.actor.id())
    .bind(change.ctx.actor.name())
    .bind(format!("{}.{}", change.target_kind.as_str(), change.action))
    .bind(change.target_kind.as_str())
    .bind(change.target_id)
    .bind(change.before)
    .bind(change.after)
    .bind(change.ctx.request_id.clone())
    .new_rows();
    conn.execute_unobserved(sql).await?;
    crate::events::append_explicit(conn, tenant, change.ctx, change.events).await?;
    Ok(())
}

/// Marks the caches the changes make stale, to be invalidated when the transaction commits (at once when
/// there is no transaction: the change has committed). The one hook every audited write passes, so no
/// write path can change a credential, a schema or what permissions read and leave this node's caches
/// behind.
fn invalidates(conn: &Conn<'_>, tenant: &Tenant<'_>, changes: &[Change<'_>]) {
    let marks = changes
        .iter()
        .fold(0, |marks, change| marks | marks_of(change.target_kind));
    mark(conn, tenant, marks);
}

fn marks_of(kind: TargetKind) -> u8 {
    match kind {
        TargetKind::Token | TargetKind::Installation => crate::cache::AUTH,
        TargetKind::Member | TargetKind::Organization => crate::cache::AUTH | crate::cache::ACCESS,
        // An app's permissions are audited as a change of the app.
        TargetKind::App => crate::cache::SCHEMA | crate::cache::ACCESS,
        // The flows that watch a table are kept with its schema.
        TargetKind::Table | TargetKind::Field | TargetKind::View | TargetKind::Flow => {
            crate::cache::SCHEMA
        }
        TargetKind::Department | TargetKind::OrgRole => crate::cache::ACCESS,
        _ => 0,
    }
}

fn mark(conn: &Conn<'_>, tenant: &Tenant<'_>, marks: u8) {
    if marks != 0 && !conn.mark(marks) {
        tenant.store.caches.invalidate(marks);
    }
}

/// Audit entries written per statement when many changes are recorded at once.
const AUDIT_ROWS_PER_STATEMENT: usize = 500;

/// Audit entries per array statement on PostgreSQL (no parameter limit; this bounds a message's size).
const AUDIT_ROWS_PER_ARRAY_STATEMENT: usize = 10_000;

/// Records many changes with few statements (bulk record writes); returns each change's event id (`None`
/// for kinds without events).
pub(crate) async fn record_many(
    conn: &mut Conn<'_>,
    tenant: &Tenant<'_>,
    changes: Vec<Change<'_>>,
) -> Result<Vec<Option<tenon_model::EventId>>> {
    invalidates(conn, tenant, &changes);
    let now = tenant.store.now();
    if conn.backend() == crate::exec::Backend::Postgres {
        // The entries first, then the events: the queued entries go in the events' statement
        // (`exec/pg_tx.rs`).
        record_many_unnest(conn, tenant, now, &changes).await?;
        return crate::events::append_for_changes(conn, tenant, &changes).await;
    }
    let events = crate::events::append_for_changes(conn, tenant, &changes).await?;
    let mut changes = changes.into_iter().peekable();
    while changes.peek().is_some() {
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "INSERT INTO audit_log (organization_id, id, at, actor_kind, actor_id, actor_name, action, \
             target_kind, target_id, before, after, request_id) VALUES ",
        )
        .rows(
            changes
                .by_ref()
                .take(AUDIT_ROWS_PER_STATEMENT)
                .map(|change| {
                    [
                        Arg::from(tenant.org_id),
                        Arg::from(AuditId::new()),
                        Arg::from(now),
                        Arg::from(change.ctx.actor.kind()),
                        Arg::from(change.ctx.actor.id()),
                        Arg::from(change.ctx.actor.name()),
                        Arg::from(format!(
                            "{}.{}",
                            change.target_kind.as_str(),
                            change.action.as_str()
                        )),
                        Arg::from(change.target_kind.as_str()),
                        Arg::from(change.target_id),
                        Arg::from(change.before),
                        Arg::from(change.after),
                        Arg::from(change.ctx.request_id.clone()),
                    ]
                }),
        );
        conn.execute_unobserved(sql.into_sql().new_rows()).await?;
    }
    Ok(events)
}

/// PostgreSQL: every entry of a write in one statement, each column one array, so the statement text is
/// the same for any number of entries and each connection prepares it once.
async fn record_many_unnest(
    conn: &mut Conn<'_>,
    tenant: &Tenant<'_>,
    now: chrono::DateTime<chrono::Utc>,
    changes: &[Change<'_>],
) -> Result<()> {
    for batch in changes.chunks(AUDIT_ROWS_PER_ARRAY_STATEMENT) {
        let texts = |get: &dyn Fn(&Change<'_>) -> Option<String>| {
            Arg::TextArray(batch.iter().map(get).collect())
        };
        let sql = Sql::new(
            "INSERT INTO audit_log (organization_id, id, at, actor_kind, actor_id, actor_name, action, \
             target_kind, target_id, before, after, request_id) \
             SELECT $1, u.id, $2, u.actor_kind, u.actor_id, u.actor_name, u.action, u.target_kind, u.target_id, \
             u.before, u.after, u.request_id \
             FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::jsonb[], $11::jsonb[], $12::text[]) \
             AS u (id, actor_kind, actor_id, actor_name, action, target_kind, target_id, before, after, request_id)",
        )
        .bind(tenant.org_id)
        .bind(now)
        .bind_all([
            Arg::UuidArray(
                batch
                    .iter()
                    .map(|_| Some(*AuditId::new().as_uuid()))
                    .collect(),
            ),
            texts(&|change| Some(change.ctx.actor.kind().to_owned())),
            texts(&|change| change.ctx.actor.id()),
            texts(&|change| Some(change.ctx.actor.name().to_owned())),
            texts(&|change| {
                Some(format!(
                    "{}.{}",
                    change.target_kind.as_str(),
                    change.action.as_str()
                ))
            }),
            texts(&|change| Some(change.target_kind.as_str().to_owned())),
            texts(&|change| Some(change.target_id.clone())),
            Arg::JsonArray(batch.iter().map(|change| change.before.clone()).collect()),
            Arg::JsonArray(batch.iter().map(|change| change.after.clone()).collect()),
            texts(&|change| change.ctx.request_id.clone()),
        ])
        .new_rows();
        conn.execute_unobserved(sql).await?;
    }
    Ok(())
}

impl Tenant<'_> {
    /// Audit entries, newest first. The page key is the entry id; `after` continues with older entries.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest<AuditId>,
    ) -> Result<Page<AuditEntry, AuditId>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log WHERE organization_id = "
        ))
        .arg(self.org_id);
        if let Some(after) = page.after {
            sql.push(" AND id < ").arg(after);
        }
        if let Some(kind) = filter.target_kind {
            sql.push(" AND target_kind = ").arg(kind.as_str());
        }
        if let Some(target_id) = &filter.target_id {
            sql.push(" AND target_id = ").arg(target_id.as_str());
        }
        if let Some(actor_id) = &filter.actor_id {
            sql.push(" AND actor_id = ").arg(actor_id.as_str());
        }
        if let Some(since) = filter.since {
            sql.push(" AND at >= ").arg(since);
        }
        if let Some(until) = filter.until {
            sql.push(" AND at < ").arg(until);
        }
        sql.push(" ORDER BY id DESC")
            .limit(u64::from(page.size()) + 1);
        let sql = sql.into_sql();
        let rows: Vec<AuditRow> = conn.fetch_all(sql).await?;
        let entries = rows.into_iter().map(AuditRow::into_model).collect();
        Ok(Page::from_overfetch(
            entries,
            page.size(),
            |entry: &AuditEntry| entry.id,
        ))
    }
}

pub(crate) fn organization_snapshot(org: &Organization) -> Value {
    json!({
        "id": org.id.to_string(),
        "name": org.name.as_str(),
        "time_zone": org.time_zone.name(),
        "locale": org.locale.as_str(),
    })
}

pub(crate) fn member_snapshot(member: &Member) -> Value {
    json!({
        "id": member.id.to_string(),
        "name": member.name.as_str(),
        "email": member.email.as_ref().map(|email| email.as_str()),
        "mobile": member.mobile.as_ref().map(|mobile| mobile.as_str()),
        "job_title": member.job_title.as_deref(),
        "employee_no": member.employee_no.as_deref(),
        "status": member.status.as_str(),
        "role": member.role.as_str(),
        "department_ids": member.department_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

pub(crate) fn department_snapshot(department: &Department) -> Value {
    json!({
        "id": department.id.to_string(),
        "name": department.name.as_str(),
        "parent_id": department.parent_id.map(|id| id.to_string()),
        "sort_order": department.sort_order,
        "number": department.number,
        "head_ids": department.head_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

pub(crate) fn token_snapshot(token: &ApiToken) -> Value {
    json!({
        "id": token.id.to_string(),
        "kind": token.kind.as_str(),
        "name": token.name.as_str(),
        "member_id": token.member_id.map(|id| id.to_string()),
        "installation_id": token.installation_id.map(|id| id.to_string()),
        "scopes": token.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
        "rate_limit": token.rate_limit.map(|limit| limit.to_string()),
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    })
}

pub(crate) fn installation_snapshot(installation: &Installation) -> Value {
    json!({
        "id": installation.id.to_string(),
        "client_id": installation.client_id,
        "app_name": installation.app_name.as_str(),
        "scopes": installation.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
        "rate_limit": installation.rate_limit.map(|limit| limit.to_string()),
        "event_format": installation.event_format.as_str(),
    })
}
