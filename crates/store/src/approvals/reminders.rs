//! Reminders (催办) reach people: each assignee the engine names gets one message in their inbox (the
//! one `GET /api/v1/me/notifications` reads, which flows' `notify` steps also fill), in the command's
//! transaction, in the organization's language. The issue names no operation record type or event for a
//! reminder, so none is invented: the audit entry (`approval.reminded`, its `after` listing who was
//! reminded of which task) is the record of it.

use serde_json::{Value, json};
use tenon_approvals::engine::Reminder;
use tenon_approvals::state::Instance;
use tenon_model::{ApprovalTaskId, Locale, MemberId};

use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant};

/// One reminder message: title and text in `locale`.
pub(crate) fn reminder_message(
    locale: Locale,
    process_name: &str,
    business_id: &str,
) -> (String, String) {
    match locale {
        Locale::ZhCn => (
            "审批催办".to_owned(),
            format!("「{process_name}」（审批编号 {business_id}）等待你处理"),
        ),
        Locale::En => (
            "Approval reminder".to_owned(),
            format!("{process_name} (approval {business_id}) is waiting for you"),
        ),
    }
}

/// What the audit entry of a reminder keeps: `[{"task_id", "assignee"}]`.
pub(crate) fn reminded_json(reminders: &[Reminder]) -> Value {
    Value::Array(
        reminders
            .iter()
            .map(|r| json!({"task_id": r.task.to_string(), "assignee": r.assignee.to_string()}))
            .collect(),
    )
}

impl Tenant<'_> {
    /// Leaves one inbox message per reminded assignee (naming each of their tasks).
    pub(super) async fn send_reminders(
        &self,
        conn: &mut Conn<'_>,
        instance: &Instance,
        process_name: &str,
        reminders: &[Reminder],
    ) -> Result<()> {
        if reminders.is_empty() {
            return Ok(());
        }
        let (locale,): (String,) = conn
            .fetch_one(Sql::new("SELECT locale FROM organizations WHERE id = $1").bind(self.org_id))
            .await?;
        let locale = Locale::parse(&locale)
            .map_err(|_| StoreError::Corrupt(format!("locale {locale:?}")))?;
        let (title, text) = reminder_message(locale, process_name, &instance.business_id);
        let mut assignees: Vec<(MemberId, Vec<ApprovalTaskId>, &Reminder)> = Vec::new();
        for reminder in reminders {
            match assignees
                .iter_mut()
                .find(|(who, _, _)| *who == reminder.assignee)
            {
                Some((_, tasks, _)) => tasks.push(reminder.task),
                None => assignees.push((reminder.assignee, vec![reminder.task], reminder)),
            }
        }
        for (assignee, tasks, first) in assignees {
            let text = match &first.comment {
                Some(comment) => format!("{text}\n{comment}"),
                None => text.clone(),
            };
            let source = json!({
                "type": "approval.remind",
                "instance_id": instance.id.to_string(),
                "process": instance.process_code,
                "business_id": instance.business_id,
                "task_ids": tasks.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "by": first.by.map(|member| member.to_string()),
            });
            self.notify_in(conn, &[assignee], Some(&title), &text, source)
                .await?;
        }
        Ok(())
    }
}
