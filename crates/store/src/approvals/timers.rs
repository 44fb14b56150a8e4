//! Reminders and timeouts (`approval_timers`): each `tenon serve` leases the timers that came due — like
//! webhook deliveries, `FOR UPDATE … SKIP LOCKED` on PostgreSQL so two nodes never hold the same one —
//! and fires each as the engine's `Timer` command in the instance's own transaction. Firing is at least
//! once: a node that dies after the command but before the timer row goes leaves it to fire again when
//! the lease ends, and the engine ignores a timer whose task no longer runs.

use chrono::{DateTime, Utc};
use tenon_approvals::engine::{Command, TimerKind};
use tenon_model::{ApprovalId, ApprovalTaskId, OrgId};
use uuid::Uuid;

use super::{CommandError, Target};
use crate::exec::Sql;
use crate::{Backend, Result, Store, WriteContext};

/// A timer this node leased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub org_id: OrgId,
    pub task: ApprovalTaskId,
    pub kind: TimerKind,
    pub instance: ApprovalId,
    pub due_at: DateTime<Utc>,
}

macro_rules! due_timers {
    () => {
        "SELECT organization_id, task_id, kind, instance_id, due_at FROM approval_timers \
         WHERE due_at <= $1 AND (leased_until IS NULL OR leased_until <= $1) ORDER BY due_at LIMIT $2"
    };
}

impl Store {
    /// Leases up to `limit` timers that came due (by the store's clock) until `lease_until`.
    pub async fn lease_due_approval_timers(
        &self,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<DueTimer>> {
        let now = self.now();
        // Most wake-ups find nothing due: look on a read connection first, so that an idle check neither
        // takes SQLite's write lock nor commits. A commit wakes every task waiting on `Store::commits` —
        // this one included — so committing an empty lease made the idle server spin.
        let due = self
            .probe(
                Sql::new(
                    "SELECT CAST(1 AS BIGINT) FROM approval_timers \
                     WHERE due_at <= $1 AND (leased_until IS NULL OR leased_until <= $1) LIMIT 1",
                )
                .bind(now),
            )
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let select = match conn.backend() {
            Backend::Postgres => Sql::new(concat!(due_timers!(), " FOR UPDATE SKIP LOCKED")),
            Backend::Sqlite => Sql::new(due_timers!()),
        };
        let rows: Vec<(Uuid, Uuid, String, Uuid, DateTime<Utc>)> = conn
            .fetch_all(select.bind(now).bind(i64::from(limit)))
            .await?;
        let mut leased = Vec::with_capacity(rows.len());
        for (org, task, kind, instance, due_at) in rows {
            let Some(kind) = TimerKind::parse(&kind) else {
                continue;
            };
            conn.execute(
                Sql::new(
                    "UPDATE approval_timers SET leased_until = $4 \
                     WHERE organization_id = $1 AND task_id = $2 AND kind = $3",
                )
                .bind(org)
                .bind(task)
                .bind(kind.as_str())
                .bind(lease_until),
            )
            .await?;
            leased.push(DueTimer {
                org_id: OrgId::from_uuid(org),
                task: ApprovalTaskId::from_uuid(task),
                kind,
                instance: ApprovalId::from_uuid(instance),
                due_at,
            });
        }
        if leased.is_empty() {
            // Another node leased them first: roll back (dropping the transaction) rather than commit.
            return Ok(leased);
        }
        tx.commit().await?;
        Ok(leased)
    }

    /// Fires a leased timer: the engine's `Timer` command on its instance (a timeout decides the task as
    /// the process says; a reminder leaves a message in the assignee's inbox), then the timer row goes. A refusal (the instance
    /// ended meanwhile) also retires the timer; a store failure leaves it leased, to fire again.
    pub async fn fire_approval_timer(&self, timer: &DueTimer) -> Result<bool> {
        let fired = self
            .tenant(timer.org_id)
            .approval_command(
                &WriteContext::system(),
                Target::Instance(timer.instance),
                Command::Timer {
                    task: timer.task,
                    kind: timer.kind,
                },
                None,
            )
            .await;
        let acted = match fired {
            Ok(_) => true,
            Err(CommandError::Refused(refusal)) => {
                tracing::info!(task = %timer.task, kind = timer.kind.as_str(), %refusal, "approval timer retired");
                false
            }
            Err(CommandError::Store(error)) => return Err(error),
        };
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new(
                "DELETE FROM approval_timers WHERE organization_id = $1 AND task_id = $2 AND kind = $3",
            )
            .bind(timer.org_id)
            .bind(timer.task)
            .bind(timer.kind.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(acted)
    }
}
