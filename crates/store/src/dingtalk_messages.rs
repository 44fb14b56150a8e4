//! DingTalk work notifications (#21 item 7b, migration `0027_dingtalk_messages`): a send resolves its
//! recipients (userids, departments with their sub-departments, or every active member), leaves one
//! message in each recipient's inbox, appends one `notification.created` event per recipient and keeps the
//! task — all in one transaction, so a send is finished when it answers.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tenon_model::{EventId, MemberId, NotificationId};
use uuid::Uuid;

use crate::error::unique_violation;
use crate::events::{ExplicitEvent, append_explicit};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A send's row: agent id, the userids and department ids it could not resolve.
type TaskRow = (
    i64,
    sqlx::types::Json<Vec<String>>,
    sqlx::types::Json<Vec<i64>>,
);

/// A work notification to send.
#[derive(Debug, Clone)]
pub struct WorkNotification {
    pub agent_id: i64,
    pub userids: Vec<String>,
    /// Department numbers (DingTalk's `dept_id`); their sub-departments' members are recipients too.
    pub dept_numbers: Vec<i64>,
    pub to_all: bool,
    pub title: Option<String>,
    pub text: String,
    /// The `msg` as sent, kept in the inbox message's `source`.
    pub msg: Value,
}

/// A send as `getsendresult` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkNotificationTask {
    pub task_id: i64,
    pub agent_id: i64,
    pub invalid_userids: Vec<String>,
    pub invalid_dept_ids: Vec<i64>,
    /// Recipients by userid (the chosen one, else the member id), in member id order.
    pub read: Vec<String>,
    pub unread: Vec<String>,
}

/// Task ids are random below 2^53, so they survive JavaScript's numbers.
fn new_task_id() -> i64 {
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    let id = (u64::from_le_bytes(bytes) >> 11).max(1);
    i64::try_from(id).unwrap_or(1)
}

impl Tenant<'_> {
    /// Sends a work notification; returns the task id. Unknown userids and department numbers are kept
    /// as invalid, not refused.
    pub async fn dingtalk_send_work_notification(
        &self,
        ctx: &WriteContext,
        send: &WorkNotification,
    ) -> Result<i64> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let mut members = BTreeSet::new();
        let mut invalid_userids = Vec::new();
        for userid in &send.userids {
            match self.active_member_by_userid(&mut conn, userid).await? {
                Some(member) => {
                    members.insert(member);
                }
                None if !invalid_userids.contains(userid) => invalid_userids.push(userid.clone()),
                None => {}
            }
        }
        let mut invalid_dept_ids = Vec::new();
        for number in &send.dept_numbers {
            let department: Option<(Uuid,)> = conn
                .fetch_optional(
                    Sql::new(
                        "SELECT id FROM departments WHERE organization_id = $1 AND number = $2",
                    )
                    .bind(self.org_id)
                    .bind(*number),
                )
                .await?;
            let Some((department,)) = department else {
                if !invalid_dept_ids.contains(number) {
                    invalid_dept_ids.push(*number);
                }
                continue;
            };
            let rows: Vec<(Uuid,)> = conn
                .fetch_all(
                    Sql::new(
                        "WITH RECURSIVE tree (id) AS ( \
                           SELECT id FROM departments WHERE organization_id = $1 AND id = $2 \
                           UNION SELECT d.id FROM departments d JOIN tree t ON d.parent_id = t.id \
                           WHERE d.organization_id = $1) \
                         SELECT DISTINCT m.id FROM members m JOIN member_departments md \
                           ON md.organization_id = m.organization_id AND md.member_id = m.id \
                         WHERE m.organization_id = $1 AND m.status = 'active' \
                           AND md.department_id IN (SELECT id FROM tree)",
                    )
                    .bind(self.org_id)
                    .bind(department),
                )
                .await?;
            members.extend(rows.into_iter().map(|(id,)| MemberId::from_uuid(id)));
        }
        if send.to_all {
            let rows: Vec<(Uuid,)> = conn
                .fetch_all(
                    Sql::new(
                        "SELECT id FROM members WHERE organization_id = $1 AND status = 'active'",
                    )
                    .bind(self.org_id),
                )
                .await?;
            members.extend(rows.into_iter().map(|(id,)| MemberId::from_uuid(id)));
        }
        let members: Vec<MemberId> = members.into_iter().collect();
        let task_id = new_task_id();
        conn.execute(
            Sql::new(
                "INSERT INTO dingtalk_message_tasks (organization_id, task_id, agent_id, \
                 invalid_userids, invalid_dept_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(self.org_id)
            .bind(task_id)
            .bind(send.agent_id)
            .bind(json!(invalid_userids))
            .bind(json!(invalid_dept_ids))
            .bind(self.store.now()),
        )
        .await
        .map_err(|error| match unique_violation(&error) {
            Some(_) => StoreError::conflict(
                Some("task_id"),
                tenon_model::DetailCode::NotUnique,
                "the task id drawn is taken; send again",
            ),
            None => StoreError::from(error),
        })?;
        let source = json!({
            "type": "dingtalk.work_notification",
            "task_id": task_id,
            "agent_id": send.agent_id,
            "msg": send.msg,
        });
        let ids = self
            .notify_in(
                &mut conn,
                &members,
                send.title.as_deref(),
                &send.text,
                source.clone(),
            )
            .await?;
        let mut events = Vec::with_capacity(members.len());
        for (member, notification) in members.iter().zip(&ids) {
            conn.execute(
                Sql::new(
                    "INSERT INTO dingtalk_message_recipients (organization_id, task_id, member_id, \
                     notification_id) VALUES ($1, $2, $3, $4)",
                )
                .bind(self.org_id)
                .bind(task_id)
                .bind(*member)
                .bind(*notification),
            )
            .await?;
            events.push(notification_event(
                *member,
                *notification,
                send.title.as_deref(),
                &send.text,
                &source,
            ));
        }
        append_explicit(&mut conn, self, ctx, events).await?;
        tx.commit().await?;
        Ok(task_id)
    }

    /// A send of this organization, with who has read it; `None` when there is no such task.
    pub async fn dingtalk_work_notification_task(
        &self,
        task_id: i64,
    ) -> Result<Option<WorkNotificationTask>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let task: Option<TaskRow> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT agent_id, invalid_userids, invalid_dept_ids FROM dingtalk_message_tasks \
                     WHERE organization_id = $1 AND task_id = $2",
                )
                .bind(self.org_id)
                .bind(task_id),
            )
            .await?;
        let Some((agent_id, invalid_userids, invalid_dept_ids)) = task else {
            return Ok(None);
        };
        let rows: Vec<(Uuid, Option<String>, bool)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT r.member_id, u.userid, n.read_at IS NOT NULL \
                     FROM dingtalk_message_recipients r \
                     JOIN notifications n ON n.organization_id = r.organization_id AND n.id = r.notification_id \
                     LEFT JOIN dingtalk_users u ON u.organization_id = r.organization_id AND u.member_id = r.member_id \
                     WHERE r.organization_id = $1 AND r.task_id = $2 ORDER BY r.member_id",
                )
                .bind(self.org_id)
                .bind(task_id),
            )
            .await?;
        let (mut read, mut unread) = (Vec::new(), Vec::new());
        for (member, userid, was_read) in rows {
            let userid = userid.unwrap_or_else(|| MemberId::from_uuid(member).to_string());
            if was_read {
                read.push(userid);
            } else {
                unread.push(userid);
            }
        }
        Ok(Some(WorkNotificationTask {
            task_id,
            agent_id,
            invalid_userids: invalid_userids.0,
            invalid_dept_ids: invalid_dept_ids.0,
            read,
            unread,
        }))
    }

    /// The active member a `userid` names: the one chosen for it, else (without a `dingtalk_users` row)
    /// the member with that id.
    async fn active_member_by_userid(
        &self,
        conn: &mut Conn<'_>,
        userid: &str,
    ) -> Result<Option<MemberId>> {
        let chosen: Option<(Uuid,)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT m.id FROM dingtalk_users u JOIN members m \
                     ON m.organization_id = u.organization_id AND m.id = u.member_id \
                     WHERE u.organization_id = $1 AND u.userid = $2 AND m.status = 'active'",
                )
                .bind(self.org_id)
                .bind(userid),
            )
            .await?;
        if let Some((id,)) = chosen {
            return Ok(Some(MemberId::from_uuid(id)));
        }
        let Ok(member) = userid.parse::<MemberId>() else {
            return Ok(None);
        };
        let by_id: Option<(Uuid,)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT m.id FROM members m WHERE m.organization_id = $1 AND m.id = $2 \
                     AND m.status = 'active' AND NOT EXISTS (SELECT 1 FROM dingtalk_users u \
                     WHERE u.organization_id = m.organization_id AND u.member_id = m.id)",
                )
                .bind(self.org_id)
                .bind(member),
            )
            .await?;
        Ok(by_id.map(|(id,)| MemberId::from_uuid(id)))
    }
}

/// `notification.created`: subject the member, data the message as the inbox shows it.
fn notification_event(
    member: MemberId,
    notification: NotificationId,
    title: Option<&str>,
    text: &str,
    source: &Value,
) -> ExplicitEvent {
    ExplicitEvent {
        id: EventId::new(),
        event_type: "notification.created",
        subject: json!({"member_id": member.to_string(), "notification_id": notification.to_string()}),
        subject_key: format!("member:{member}"),
        app_id: None,
        table_id: None,
        data: json!({
            "notification_id": notification.to_string(),
            "member_id": member.to_string(),
            "title": title,
            "text": text,
            "source": source,
        }),
    }
}
