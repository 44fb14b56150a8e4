//! Members' inboxes: messages a flow's `notify` step (channel `inbox`) and approval reminders leave,
//! read by `GET /api/v1/me/notifications`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenon_model::{DetailCode, Invalid, MemberId, NotificationId};
use uuid::Uuid;

use super::Notification;
use crate::exec::{Arg, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, Tenant};

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: Uuid,
    member_id: Uuid,
    title: Option<String>,
    text: String,
    source: sqlx::types::Json<Value>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl Tenant<'_> {
    /// Leaves one message per member (each must be a member of this organization).
    pub(crate) async fn notify_in(
        &self,
        conn: &mut Conn<'_>,
        members: &[MemberId],
        title: Option<&str>,
        text: &str,
        source: Value,
    ) -> Result<Vec<NotificationId>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT id FROM members WHERE organization_id = ")
            .arg(Arg::Uuid(Some(*self.org_id.as_uuid())))
            .push(" AND id IN (")
            .args(members.iter().map(|m| Arg::Uuid(Some(*m.as_uuid()))))
            .push(")");
        let found: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        if let Some(missing) = members
            .iter()
            .find(|m| !found.iter().any(|(id,)| id == m.as_uuid()))
        {
            return Err(Invalid::from(
                tenon_model::Reason::not_found("member", format!("no member {missing}"))
                    .at("to.members"),
            )
            .into());
        }
        let now = self.store.now();
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            let id = NotificationId::new();
            conn.execute(
                Sql::new(
                    "INSERT INTO notifications (organization_id, id, member_id, title, text, source, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(*member)
                .bind(title)
                .bind(text)
                .bind(source.clone())
                .bind(now),
            )
            .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// A member's messages, newest first; `before` pages on.
    pub async fn notifications(
        &self,
        member: MemberId,
        before: Option<NotificationId>,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        if limit == 0 {
            return Err(Invalid::one("limit", DetailCode::TooSmall, "at least 1").into());
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT id, member_id, title, text, source, created_at, read_at FROM notifications \
             WHERE organization_id = ",
        )
        .arg(Arg::Uuid(Some(*self.org_id.as_uuid())))
        .push(" AND member_id = ")
        .arg(Arg::Uuid(Some(*member.as_uuid())));
        if let Some(before) = before {
            sql.push(" AND id < ")
                .arg(Arg::Uuid(Some(*before.as_uuid())));
        }
        sql.push(" ORDER BY id DESC").limit(u64::from(limit));
        let rows: Vec<NotificationRow> = conn.fetch_all(sql.into_sql()).await?;
        Ok(rows
            .into_iter()
            .map(|row| Notification {
                id: NotificationId::from_uuid(row.id),
                member_id: MemberId::from_uuid(row.member_id),
                title: row.title,
                text: row.text,
                source: row.source.0,
                created_at: row.created_at,
                read_at: row.read_at,
            })
            .collect())
    }
}
