//! Commands on instances, each in one transaction: start an instance, act on one, and persist what the
//! engine decided (tasks numbered per organization, operation records, timers, the record's status, the
//! audit entry with the `approval.*` events, the idempotency answer).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tenon_approvals::engine::Command;
use tenon_approvals::state::{Decision, RecordRef, TaskResult, TaskStatus};
use tenon_approvals::{Instance, InstanceState, Refusal, Transition};
use tenon_model::apps::{CellValue, TableSchema};
use tenon_model::{
    ApprovalId, DetailCode, EventId, Invalid, Reason, RecordId, TableId, TargetKind,
};
use uuid::Uuid;

use super::CommandError;
use super::instances::{
    Answer, ApprovalDetail, ReadAlong, StartApproval, Target, initiator_by_rule,
};
use super::operations::{record_members, record_via, written_records};
use crate::apps::ddl;
use crate::audit::{self, NamedChange};
use crate::events::ExplicitEvent;
use crate::exec::{Arg, Conn, Sql, quote};
use crate::records::{IdempotencyKey, RecordUpdate, WriteOutcome};
use crate::sql::SqlText;
use crate::{Backend, Result, StoreError, Tenant, WriteContext};

impl Tenant<'_> {
    pub(super) async fn replay_answer(
        &self,
        conn: &mut Conn<'_>,
        key: &IdempotencyKey,
    ) -> Result<Option<Answer>> {
        let row: Option<(Vec<u8>, i32, sqlx::types::Json<Value>)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT fingerprint, status, body FROM idempotency_answers \
                     WHERE organization_id = $1 AND credential = $2 AND key = $3",
                )
                .bind(self.org_id)
                .bind(key.credential)
                .bind(key.key.as_str()),
            )
            .await?;
        match row {
            None => Ok(None),
            Some((fingerprint, _, _)) if fingerprint != key.fingerprint => {
                Err(StoreError::conflict(
                    Some("Idempotency-Key"),
                    DetailCode::IdempotencyKeyReused,
                    "this Idempotency-Key was already used for a different request",
                ))
            }
            Some((_, status, body)) => Ok(Some(Answer {
                status: u16::try_from(status).unwrap_or(200),
                body: body.0,
                replayed: true,
            })),
        }
    }

    pub(super) async fn remember_answer(
        &self,
        conn: &mut Conn<'_>,
        key: &IdempotencyKey,
        answer: &Answer,
    ) -> Result<()> {
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO idempotency_answers (organization_id, credential, key, fingerprint, status, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(self.org_id)
                .bind(key.credential)
                .bind(key.key.as_str())
                .bind(key.fingerprint.as_slice())
                .bind(i64::from(answer.status))
                .bind(answer.body.clone())
                .bind(self.store.now()),
            )
            .await;
        inserted
            .map(|_| ())
            .map_err(|error| match crate::error::unique_violation(&error) {
                Some(_) => StoreError::conflict(
                    Some("Idempotency-Key"),
                    DetailCode::IdempotencyKeyReused,
                    "a request with this Idempotency-Key is being processed",
                ),
                None => error.into(),
            })
    }

    /// Applies a command, loading the directory (from this node's copy at `approvers_epoch`,
    /// [`Tenant::directory_at`]) or the record's current values when the engine asks —
    /// and, on PostgreSQL, locking the members the transition gives open tasks to: a member set `left`
    /// meanwhile makes it run again on the directory as it is now (see [`Tenant::assignees_active`]).
    pub(super) async fn apply_loading(
        &self,
        conn: &mut Conn<'_>,
        state: &mut InstanceState,
        schema: &TableSchema,
        mut command: Command,
        approvers_epoch: Option<i64>,
    ) -> std::result::Result<Transition, CommandError> {
        let now = self.store.now();
        for _ in 0..6 {
            match tenon_approvals::apply(state, command.clone(), now) {
                Err(Refusal::NeedsDirectory) if state.directory.is_none() => {
                    state.directory = Some(self.directory_at(conn, approvers_epoch).await?);
                }
                Err(Refusal::NeedsRecord) => {
                    let submission = self
                        .current_submission(conn, schema, state.instance.record.id)
                        .await?;
                    if let Command::Approve { resubmission, .. } = &mut command {
                        *resubmission = Some(submission);
                    } else {
                        return Err(Refusal::NeedsRecord.into());
                    }
                }
                Ok(transition) => {
                    if self.assignees_active(conn, state, &transition).await? {
                        return Ok(transition);
                    }
                    // Someone the transition would give a task to left (committed since the directory
                    // was read): again, on the directory and delegations as they are now.
                    state.directory = Some(Arc::new(self.directory_snapshot(conn).await?));
                    state.delegations = self.active_delegations(conn).await?;
                }
                Err(refusal) => return Err(refusal.into()),
            }
        }
        Err(StoreError::Corrupt("the engine kept asking for more data".into()).into())
    }

    /// Whether every member a transition gives an open task to (a new task, or one that changed hands)
    /// is active — checked on PostgreSQL under a `FOR KEY SHARE` lock of their rows, which a member
    /// being set `left` holds `FOR UPDATE` from the start of its transaction: so the member either left
    /// before (the answer is no, and the command runs again without them) or leaves after this command
    /// commits (and their transaction, which lists their open tasks after it locked their row, finds and
    /// reassigns this one). The lock is taken `NOWAIT`: a command that holds an instance must not wait
    /// for a member's row, which the first lock of the order in docs/approvals.md; a busy row fails the
    /// command's transaction, which [`retry_when_busy`] runs again. SQLite's writer is single: its
    /// directory, read in the transaction, is current.
    pub(super) async fn assignees_active(
        &self,
        conn: &mut Conn<'_>,
        before: &InstanceState,
        transition: &Transition,
    ) -> Result<bool> {
        if conn.backend() != Backend::Postgres {
            return Ok(true);
        }
        let mut assignees: Vec<tenon_model::MemberId> = transition
            .state
            .tasks
            .iter()
            .filter(|task| task.status.is_open())
            .filter(|task| {
                !before
                    .tasks
                    .iter()
                    .any(|old| old.id == task.id && old.assignee == task.assignee)
            })
            .map(|task| task.assignee)
            .collect();
        assignees.sort_by_key(|member| *member.as_uuid());
        assignees.dedup();
        if assignees.is_empty() {
            return Ok(true);
        }
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push("SELECT id, status FROM members WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND id IN ")
            .list(assignees.iter().copied())
            .push(" ORDER BY id FOR KEY SHARE NOWAIT");
        let rows: Vec<(Uuid, String)> = conn.fetch_all(sql.into_sql()).await?;
        Ok(rows.len() == assignees.len() && rows.iter().all(|(_, status)| status == "active"))
    }

    /// Starts an instance (`POST /api/v1/approvals`): 201 with the instance.
    pub async fn start_approval(
        &self,
        ctx: &WriteContext,
        start: StartApproval,
        idempotency: Option<&IdempotencyKey>,
    ) -> std::result::Result<Answer, CommandError> {
        retry_when_busy(|| self.start_approval_once(ctx, start.clone(), idempotency)).await
    }

    async fn start_approval_once(
        &self,
        ctx: &WriteContext,
        start: StartApproval,
        idempotency: Option<&IdempotencyKey>,
    ) -> std::result::Result<Answer, CommandError> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if let Some(key) = idempotency
            && let Some(answer) = self.replay_answer(&mut conn, key).await?
        {
            return Ok(answer);
        }
        let answer = self.start_approval_in(&mut conn, ctx, start).await?;
        if let Some(key) = idempotency {
            self.remember_answer(&mut conn, key, &answer).await?;
        }
        tx.commit().await?;
        Ok(answer)
    }

    /// Starts an instance in the caller's transaction (the API's, or a flow step's).
    pub(crate) async fn start_approval_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        start: StartApproval,
    ) -> std::result::Result<Answer, CommandError> {
        let (process, time_zone, delegating, read) =
            self.process_and_organization(conn, &start.process).await?;
        let Some(process) = process else {
            return Err(StoreError::from(Invalid::from(
                Reason::not_found("process", format!("no process {}", start.process)).at("process"),
            ))
            .into());
        };
        if process.published_version == 0 {
            return Err(StoreError::from(Invalid::one(
                "process",
                DetailCode::NotAllowed,
                format!(
                    "process {} has no published version; publish it first",
                    process.code
                ),
            ))
            .into());
        }
        let schema = self
            .approval_schema(conn, process.app_id, process.table_id)
            .await?;
        let compiled = self
            .compiled_version_cached(conn, process.id, process.published_version, &schema)
            .await?;
        // The business number before the record. On PostgreSQL the approval counter is taken on a
        // connection of its own and committed at once (`Pools::take_number`), so it is never held while
        // this transaction waits for a lock, and a refused start leaves a gap; an earlier version held it
        // here to the commit, after the record it deadlocked against a concurrent approve. On SQLite a
        // refused start rolls the number back with everything else.
        let business_id = self
            .next_business_id(conn, time_zone, read.business.clone())
            .await?;
        let existing = start.record.is_some();
        let record = match (start.record, start.fields) {
            (Some(id), None) => self
                .load_records(conn, &schema, &[id], None)
                .await?
                .pop()
                .ok_or_else(|| {
                    StoreError::from(Invalid::from(
                        Reason::not_found(
                            "record",
                            format!("no record {id} in table {}", schema.table.key),
                        )
                        .at("record"),
                    ))
                })?,
            (None, Some(cells)) => {
                match self
                    .create_records_in(conn, ctx, &schema, vec![cells], time_zone, None)
                    .await?
                {
                    WriteOutcome::Written(mut records) | WriteOutcome::Replayed(mut records) => {
                        records
                            .pop()
                            .ok_or_else(|| StoreError::Corrupt("no record created".into()))?
                    }
                }
            }
            _ => {
                return Err(StoreError::from(Invalid::one(
                    "record",
                    DetailCode::Required,
                    "give either record (an existing record's id) or fields (to create one)",
                ))
                .into());
            }
        };
        // A record the start just created has no instance yet.
        let running: Option<(Uuid,)> = if !existing {
            None
        } else {
            conn.fetch_optional(
                Sql::new(
                    "SELECT id FROM approval_instances WHERE organization_id = $1 AND process_id = $2 \
                     AND record_id = $3 AND status = 'running'",
                )
                .bind(self.org_id)
                .bind(process.id)
                .bind(record.id),
            )
            .await?
        };
        if let Some((running,)) = running {
            return Err(StoreError::conflict(
                Some("record"),
                DetailCode::Conflict,
                format!(
                    "approval {running} of process {} runs on this record",
                    process.code
                ),
            )
            .into());
        }
        let submission = self.submission_of(conn, &schema, &record).await?;
        let initiator = match start.initiator.or(start.by.member) {
            Some(member) => Some(member),
            None => initiator_by_rule(&compiled, &submission),
        };
        let Some(initiator) = initiator else {
            return Err(StoreError::from(Invalid::one(
                "initiator",
                DetailCode::Required,
                "the caller acts for no member and the process's initiator rule names none on this record",
            ))
            .into());
        };
        let instance = Instance::new(
            ApprovalId::new(),
            process.id,
            process.code.clone(),
            process.published_version,
            RecordRef {
                app: schema.app.id,
                table: schema.table.id,
                id: record.id,
            },
            business_id,
            self.store.now(),
        );
        let mut state = InstanceState {
            process: compiled,
            directory: None,
            delegations: if delegating {
                self.active_delegations(conn).await?
            } else {
                Arc::from([])
            },
            time_zone,
            instance,
            activations: Vec::new(),
            tasks: Vec::new(),
        };
        let command = Command::Start {
            initiator,
            department: start.department,
            selected: start.selected,
            submission,
            by: start.by,
        };
        let transition = self
            .apply_loading(conn, &mut state, &schema, command, read.approvers_epoch)
            .await?;
        Ok(self
            .persist(conn, ctx, &state, transition, &schema, true, read)
            .await?)
    }

    /// Any command after the start (`approve`, `refuse`, `withdraw`, …): 200 with the instance.
    pub async fn approval_command(
        &self,
        ctx: &WriteContext,
        target: Target,
        command: Command,
        idempotency: Option<&IdempotencyKey>,
    ) -> std::result::Result<Answer, CommandError> {
        retry_when_busy(|| self.approval_command_once(ctx, target, command.clone(), idempotency))
            .await
    }

    async fn approval_command_once(
        &self,
        ctx: &WriteContext,
        target: Target,
        command: Command,
        idempotency: Option<&IdempotencyKey>,
    ) -> std::result::Result<Answer, CommandError> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if let Some(key) = idempotency
            && let Some(answer) = self.replay_answer(&mut conn, key).await?
        {
            return Ok(answer);
        }
        let (mut state, schema, read) = self.load_state(&mut conn, target, true, true).await?;
        let transition = self
            .apply_loading(
                &mut conn,
                &mut state,
                &schema,
                command,
                read.approvers_epoch,
            )
            .await?;
        let answer = self
            .persist(&mut conn, ctx, &state, transition, &schema, false, read)
            .await?;
        if let Some(key) = idempotency {
            self.remember_answer(&mut conn, key, &answer).await?;
        }
        tx.commit().await?;
        Ok(answer)
    }

    /// Locks a record's row until the transaction ends (PostgreSQL; SQLite's writer is single).
    async fn lock_record_row(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
        record: RecordId,
    ) -> Result<()> {
        if conn.backend() != Backend::Postgres {
            return Ok(());
        }
        // Kept prepared although it names a user table: it reads only the id, whatever the fields.
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push("SELECT id FROM ")
            .push(&quote(&ddl::table_name(table)))
            .push(" WHERE id = ")
            .arg(record)
            .push(" FOR UPDATE");
        let _: Option<(Uuid,)> = conn.fetch_optional(sql.into_sql()).await?;
        Ok(())
    }

    /// Writes what a transition changed, its record status, audit entry and events; 201 with the instance
    /// when `created`, else 200. `read`: what this transaction read along with the instance
    /// ([`ReadAlong`]): the organization's last task number on SQLite, the operation records before the
    /// transition (else, when not `created`, they are read after it).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn persist(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        before: &InstanceState,
        mut transition: Transition,
        schema: &TableSchema,
        created: bool,
        read: ReadAlong,
    ) -> Result<Answer> {
        let status = if created { 201 } else { 200 };
        let unnumbered = transition.unnumbered_tasks();
        if unnumbered > 0 {
            let first = self
                .reserve_task_numbers(conn, unnumbered, read.last_task)
                .await?;
            transition.number_tasks(first);
        }
        let after = &transition.state;
        let instance = &after.instance;
        let state_json = tenon_approvals::stored::state_json(instance, &after.activations);
        if created {
            conn.execute(
                Sql::new(
                    "INSERT INTO approval_instances (organization_id, id, process_id, version, app_id, table_id, \
                     record_id, status, result, initiator, business_id, state, row_version, last_record_seq, \
                     last_event_seq, created_at, finished_at, status_field) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                )
                .bind(self.org_id)
                .bind(instance.id)
                .bind(instance.process_id)
                .bind(instance.version)
                .bind(instance.record.app)
                .bind(instance.record.table)
                .bind(instance.record.id)
                .bind(instance.status.as_str())
                .bind(instance.result.map(Decision::as_str))
                .bind(instance.initiator)
                .bind(instance.business_id.as_str())
                .bind(state_json)
                .bind(instance.row_version)
                .bind(instance.last_record_seq)
                .bind(instance.last_event_seq)
                .bind(instance.created_at)
                .bind(instance.finished_at)
                .bind(after.process.status.as_ref().map(|status| *status.field.as_uuid())),
            )
            .await
            .map_err(|error| match crate::error::unique_violation(&error) {
                Some(_) => StoreError::conflict(
                    Some("record"),
                    DetailCode::Conflict,
                    "an approval of this process already runs on this record",
                ),
                None => error.into(),
            })?;
        } else {
            let update = Sql::new(
                "UPDATE approval_instances SET status = $3, result = $4, state = $5, row_version = $6, \
                 last_record_seq = $7, last_event_seq = $8, finished_at = $9 \
                 WHERE organization_id = $1 AND id = $2 AND row_version = $10",
            )
            .bind(self.org_id)
            .bind(instance.id)
            .bind(instance.status.as_str())
            .bind(instance.result.map(Decision::as_str))
            .bind(state_json)
            .bind(instance.row_version)
            .bind(instance.last_record_seq)
            .bind(instance.last_event_seq)
            .bind(instance.finished_at)
            .bind(before.instance.row_version);
            // `before` was read in this transaction with its row locked (`load_state`: `FOR UPDATE` on
            // PostgreSQL; SQLite's single writer, held since the transaction's first statement): nothing
            // can have changed the row since, so the update goes unread ([`Conn::execute_unobserved`]).
            conn.execute_unobserved(update).await?;
        }
        let changes = transition.changes(before);
        // New tasks and operation records, one statement each however many (a node of 200 approvers).
        // None of these writes' results is read: on SQLite they go in one round trip with the command's
        // next statement ([`Conn::execute_unobserved`]).
        if !changes.new_tasks.is_empty() {
            let mut sql = SqlText::new(conn.backend()).kept();
            sql.push(
                "INSERT INTO approval_tasks (organization_id, id, instance_id, number, activation_id, node, \
                 task_group, assignee, status, result, created_at, finished_at) VALUES ",
            )
            .rows(changes.new_tasks.iter().map(|task| {
                [
                    Arg::from(self.org_id),
                    Arg::from(task.id),
                    Arg::from(task.instance),
                    Arg::from(task.number),
                    Arg::from(task.activation),
                    Arg::from(task.node.as_str()),
                    Arg::from(task.group),
                    Arg::from(task.assignee),
                    Arg::from(task.status.as_str()),
                    Arg::from(task.result.map(TaskResult::as_str)),
                    Arg::from(task.created_at),
                    Arg::from(task.finished_at),
                ]
            }));
            conn.execute_unobserved(sql.into_sql().new_rows()).await?;
        }
        for task in &changes.changed_tasks {
            conn.execute_unobserved(
                Sql::new(
                    "UPDATE approval_tasks SET assignee = $3, status = $4, result = $5, finished_at = $6, \
                     task_group = $7 WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(task.id)
                .bind(task.assignee)
                .bind(task.status.as_str())
                .bind(task.result.map(TaskResult::as_str))
                .bind(task.finished_at)
                .bind(task.group),
            )
            .await?;
        }
        // Timers of tasks that stopped running go; only a version with reminders or timeouts has any.
        let settings = &before.process.process.settings;
        let timed = settings.remind_after_hours.is_some() || settings.timeout.is_some();
        let stopped: Vec<_> = changes
            .changed_tasks
            .iter()
            .filter(|task| task.status != TaskStatus::Running)
            .map(|task| task.id)
            .collect();
        if timed && !stopped.is_empty() {
            let mut sql = SqlText::new(conn.backend());
            sql.push("DELETE FROM approval_timers WHERE organization_id = ")
                .arg(self.org_id)
                .push(" AND task_id IN ")
                .list(stopped);
            conn.execute_unobserved(sql.into_sql()).await?;
        }
        if !transition.records.is_empty() {
            let mut sql = SqlText::new(conn.backend()).kept();
            sql.push(
                "INSERT INTO approval_records (organization_id, instance_id, seq, type, actor, via, task_id, \
                 node, result, comment, members, automatic, at) VALUES ",
            )
            .rows(transition.records.iter().map(|record| {
                [
                    Arg::from(self.org_id),
                    Arg::from(instance.id),
                    Arg::from(record.seq),
                    Arg::from(record.kind.as_str()),
                    Arg::from(record.actor),
                    Arg::from(record_via(record)),
                    Arg::from(record.task),
                    Arg::from(record.node.clone()),
                    Arg::from(record.result.map(TaskResult::as_str)),
                    Arg::from(record.comment.clone()),
                    Arg::from(record_members(record)),
                    Arg::from(record.automatic),
                    Arg::from(record.at),
                ]
            }));
            conn.execute_unobserved(sql.into_sql().new_rows()).await?;
        }
        for timer in &transition.timers {
            conn.execute_unobserved(
                Sql::new(
                    "INSERT INTO approval_timers (organization_id, task_id, kind, instance_id, due_at, leased_until) \
                     VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (organization_id, task_id, kind) \
                     DO UPDATE SET due_at = $5, leased_until = NULL",
                )
                .bind(self.org_id)
                .bind(timer.task)
                .bind(timer.kind.as_str())
                .bind(instance.id)
                .bind(timer.due),
            )
            .await?;
        }
        if !transition.timers.is_empty() {
            self.store.made_work(conn, crate::work::APPROVAL_TIMERS);
        }
        if transition.status.is_some() && after.process.status.is_some() {
            // The record's row before the events (the lock order of docs/approvals.md): the records API
            // holds a record's row while it waits for the event counter, so the status write, which
            // comes after this command's events, must not wait for that row while holding the counter.
            self.lock_record_row(conn, instance.record.table, instance.record.id)
                .await?;
        }
        let events: Vec<ExplicitEvent> = transition
            .events
            .iter()
            .map(|event| ExplicitEvent {
                id: EventId::new(),
                event_type: event.event_type,
                subject: event.subject(instance),
                subject_key: format!("approval:{}", instance.id),
                app_id: Some(*instance.record.app.as_uuid()),
                table_id: Some(*instance.record.table.as_uuid()),
                data: event.data(instance),
            })
            .collect();
        let fired: Vec<(EventId, &'static str)> = events
            .iter()
            .map(|event| (event.id, event.event_type))
            .collect();
        self.send_reminders(
            conn,
            instance,
            after.process.process.name.as_str(),
            &transition.reminders,
        )
        .await?;
        if !transition.records.is_empty() || !events.is_empty() || !transition.reminders.is_empty()
        {
            let mut snapshot = instance.snapshot();
            if !transition.reminders.is_empty() {
                snapshot["reminded"] = super::reminders::reminded_json(&transition.reminders);
            }
            audit::record_with_events(
                conn,
                self,
                NamedChange {
                    target_kind: TargetKind::Approval,
                    target_id: instance.id.to_string(),
                    action: transition.action,
                    before: (!created).then(|| before.instance.snapshot()),
                    after: Some(snapshot),
                    ctx,
                    events,
                },
            )
            .await?;
        }
        if let (Some(write), Some(fields)) = (&transition.status, &after.process.status) {
            let mut cells = BTreeMap::new();
            if let Some(value) = &write.value {
                cells.insert(fields.field, Some(CellValue::Text(value.clone())));
            }
            if let (Some(comment), Some(field)) = (&write.comment, fields.comment_field) {
                cells.insert(field, Some(CellValue::Text(comment.clone())));
            }
            if !cells.is_empty() {
                self.update_records_in(
                    conn,
                    ctx,
                    schema,
                    vec![RecordUpdate {
                        id: instance.record.id,
                        expected_version: None,
                        cells,
                    }],
                )
                .await?;
            }
        }
        // Flows: runs of the approval triggers these events fire, and runs waiting on this instance.
        self.approval_changed(conn, ctx, instance, &fired, schema)
            .await?;
        let records = match read.records {
            Some(mut records) => {
                records.extend(written_records(&transition.records));
                records
            }
            None if created => written_records(&transition.records).collect(),
            None => self.operation_records(conn, instance.id).await?,
        };
        let body = ApprovalDetail {
            state: transition.state,
            records,
        }
        .json();
        Ok(Answer {
            status,
            body,
            replayed: false,
        })
    }
}

/// Attempts of a command whose member lock was busy (a member being set `left`), and the pause before
/// the next: 5 ms, 10 ms, … — about 2.5 s in all, far more than a member's update takes.
const BUSY_ATTEMPTS: u32 = 32;

/// Runs `attempt` (one transaction) again while it fails because a member's row it would lock without
/// waiting is held by another transaction ([`Tenant::assignees_active`]); each failed attempt rolled back
/// everything it did.
pub(crate) async fn retry_when_busy<T, F, Fut>(
    mut attempt: F,
) -> std::result::Result<T, CommandError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, CommandError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(CommandError::Store(error))
                if error.is_lock_busy() && tries + 1 < BUSY_ATTEMPTS =>
            {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(tries))).await;
            }
            other => return other,
        }
    }
}
