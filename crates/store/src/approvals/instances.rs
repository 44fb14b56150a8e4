//! Instances: starting one on a record, and every later command, each in one transaction (see the module
//! above). Reading an instance, its operation records and a member's to-do list.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenon_approvals::compile::FieldSource;
use tenon_approvals::definition::InitiatorRule;
use tenon_approvals::engine::Submission;
use tenon_approvals::state::{Decision, InstanceStatus, RecordRef, Task, TaskResult, TaskStatus};
use tenon_approvals::{CompiledProcess, Instance, InstanceState};
use tenon_model::apps::{CellValue, Record, RecordActor, TableSchema};
use tenon_model::{
    ActivationId, ApprovalId, ApprovalTaskId, DepartmentId, FieldId, MemberId, ProcessId, RecordId,
    TimeZone,
};
use uuid::Uuid;

use super::operations::{ApprovalOperation, OPERATION_COLUMNS, OperationRow};
use super::processes::{ProcessRow, StoredProcess, process_from_row};
use crate::exec::{Backend, Conn, Sql};
use crate::records::{RecordRead, RecordUpdate};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant};

/// What a command acts on: an instance, or one of its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Instance(ApprovalId),
    Task(ApprovalTaskId),
}

/// `POST /api/v1/approvals`: a process code and a record (existing, or its cells to create it with).
#[derive(Debug, Clone)]
pub struct StartApproval {
    pub process: String,
    pub record: Option<RecordId>,
    /// Cells of a record to create in the same transaction (parsed against the process's table).
    pub fields: Option<BTreeMap<FieldId, CellValue>>,
    /// Named by the request; else the caller's member; else the process's initiator rule.
    pub initiator: Option<MemberId>,
    pub department: Option<DepartmentId>,
    pub selected: BTreeMap<String, Vec<MemberId>>,
    pub by: tenon_approvals::Acting,
}

/// A command's answer: the status and body the API returns, the same again for a replayed
/// `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

/// An instance with its tasks and operation records, as `GET /api/v1/approvals/{id}` shows it.
#[derive(Debug, Clone)]
pub struct ApprovalDetail {
    pub state: InstanceState,
    /// Operation records in `seq` order, as JSON.
    pub records: Vec<Value>,
}

impl ApprovalDetail {
    /// The instance shape with `tasks` and `operation_records`.
    pub fn json(&self) -> Value {
        let mut view = self.state.view();
        view["operation_records"] = Value::Array(self.records.clone());
        view
    }
}

/// `GET /api/v1/approval-tasks?assignee=&status=`.
#[derive(Debug, Clone)]
pub struct TaskFilter {
    pub assignee: Option<MemberId>,
    pub status: Option<TaskStatus>,
    pub instance: Option<ApprovalId>,
    /// Tasks with a number below this one (pages go from the newest task down).
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct InstanceRow {
    id: Uuid,
    process_id: Uuid,
    code: String,
    version: i32,
    app_id: Uuid,
    table_id: Uuid,
    record_id: Uuid,
    status: String,
    result: Option<String>,
    initiator: Uuid,
    business_id: String,
    state: sqlx::types::Json<Value>,
    row_version: i64,
    last_record_seq: i64,
    last_event_seq: i64,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    time_zone: String,
    /// Whether a delegation has begun and not ended (only then are they read).
    delegating: bool,
    /// The `approvers` epoch (migration 0050; NULL before it).
    approvers_epoch: Option<i64>,
    /// The organization's last task number (NULL before its first approval).
    last_task: Option<i64>,
}

/// What a command's first statement read besides its instance (at a start: besides the organization's
/// time zone).
#[derive(Debug, Clone, Default)]
pub(super) struct ReadAlong {
    /// The `approvers` epoch ([`Tenant::directory_at`]).
    pub approvers_epoch: Option<i64>,
    /// On SQLite, the organization's last task number ([`Tenant::reserve_task_numbers`]); `None` on
    /// PostgreSQL, which takes numbers on a connection of its own, and before the first approval.
    pub last_task: Option<i64>,
    /// At a start on SQLite, the counter's business day and last business number
    /// ([`Tenant::next_business_id`]).
    pub business: Option<(String, i64)>,
    /// The instance's operation records as the API shows them, when [`Tenant::load_state`] was asked
    /// for them.
    pub records: Option<Vec<Value>>,
}

impl InstanceRow {
    fn time_zone(&self) -> Result<TimeZone> {
        TimeZone::parse(&self.time_zone)
            .map_err(|_| StoreError::Corrupt(format!("time zone {:?}", self.time_zone)))
    }

    fn into_instance(self) -> Result<(Instance, Vec<tenon_approvals::state::Activation>)> {
        let corrupt =
            |what: &str, value: &str| StoreError::Corrupt(format!("approval {what} {value:?}"));
        let mut instance = Instance::new(
            ApprovalId::from_uuid(self.id),
            ProcessId::from_uuid(self.process_id),
            self.code,
            self.version,
            RecordRef {
                app: tenon_model::AppId::from_uuid(self.app_id),
                table: tenon_model::TableId::from_uuid(self.table_id),
                id: RecordId::from_uuid(self.record_id),
            },
            self.business_id,
            self.created_at,
        );
        instance.status =
            InstanceStatus::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?;
        instance.result = match &self.result {
            None => None,
            Some(result) => Some(Decision::parse(result).ok_or_else(|| corrupt("result", result))?),
        };
        instance.initiator = MemberId::from_uuid(self.initiator);
        instance.row_version = self.row_version;
        instance.last_record_seq = self.last_record_seq;
        instance.last_event_seq = self.last_event_seq;
        instance.finished_at = self.finished_at;
        let activations = tenon_approvals::stored::read_state(&mut instance, &self.state.0)
            .map_err(StoreError::Corrupt)?;
        Ok((instance, activations))
    }
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    instance_id: Uuid,
    number: i64,
    activation_id: Uuid,
    node: String,
    task_group: i32,
    assignee: Uuid,
    status: String,
    result: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl TaskRow {
    fn into_task(self) -> Result<Task> {
        let corrupt =
            |what: &str, value: &str| StoreError::Corrupt(format!("task {what} {value:?}"));
        Ok(Task {
            id: ApprovalTaskId::from_uuid(self.id),
            instance: ApprovalId::from_uuid(self.instance_id),
            number: self.number,
            activation: ActivationId::from_uuid(self.activation_id),
            node: self.node,
            group: u32::try_from(self.task_group).map_err(|_| corrupt("group", "negative"))?,
            assignee: MemberId::from_uuid(self.assignee),
            status: TaskStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            result: match &self.result {
                None => None,
                Some(result) => {
                    Some(TaskResult::parse(result).ok_or_else(|| corrupt("result", result))?)
                }
            },
            created_at: self.created_at,
            finished_at: self.finished_at,
        })
    }
}

/// An instance with its record and its operation records ([`Tenant::approval_with_record_on`]).
pub(crate) struct ApprovalWithRecord {
    pub state: InstanceState,
    pub schema: TableSchema,
    pub record: Record,
    /// In `seq` order.
    pub operations: Vec<ApprovalOperation>,
    /// The value of the statement's extra column.
    pub extra: Option<i64>,
}

const TASK_COLUMNS: &str = "id, instance_id, number, activation_id, node, task_group, assignee, \
                            status, result, created_at, finished_at";

/// An instance's tasks in number order, by the instance's id (`$2`); they come from the index
/// `approval_tasks_instance` (migration 0051), not from a walk of the organization's tasks.
pub(crate) const TASKS_BY_INSTANCE: &str = "SELECT id, instance_id, number, activation_id, node, task_group, \
     assignee, status, result, created_at, finished_at FROM approval_tasks WHERE organization_id = $1 \
     AND instance_id = $2 ORDER BY number";

/// [`TASKS_BY_INSTANCE`] by the id of one of its tasks (`$2`).
pub(crate) const TASKS_BY_TASK: &str = "SELECT id, instance_id, number, activation_id, node, task_group, \
     assignee, status, result, created_at, finished_at FROM approval_tasks WHERE organization_id = $1 \
     AND instance_id = (SELECT t.instance_id FROM approval_tasks t WHERE t.organization_id = $1 AND t.id = $2) \
     ORDER BY number";

impl Tenant<'_> {
    /// An instance's row (with its process's code and the organization's time zone), by its id or by
    /// one of its tasks' (one statement either way), locked on PostgreSQL when `lock`.
    async fn instance_row(
        &self,
        conn: &mut Conn<'_>,
        target: Target,
        lock: bool,
    ) -> Result<Option<InstanceRow>> {
        let sql = self.instance_row_sql(conn.backend(), target, lock);
        Ok(conn.fetch_optional(sql).await?)
    }

    /// [`Self::instance_row`]'s statement.
    fn instance_row_sql(&self, backend: Backend, target: Target, lock: bool) -> Sql {
        macro_rules! select {
            ($by:literal, $lock:literal) => {
                concat!(
                    "SELECT i.id, i.process_id, p.code, i.version, i.app_id, i.table_id, i.record_id, i.status, \
                     i.result, i.initiator, i.business_id, i.state, i.row_version, i.last_record_seq, \
                     i.last_event_seq, i.created_at, i.finished_at, \
                     (SELECT o.time_zone FROM organizations o WHERE o.id = i.organization_id) AS time_zone, \
                     EXISTS (SELECT 1 FROM approval_delegations d WHERE d.organization_id = i.organization_id \
                     AND d.starts_at <= $3 AND (d.ends_at IS NULL OR d.ends_at > $3)) AS delegating, \
                     (SELECT epoch FROM cache_epochs WHERE name = 'approvers') AS approvers_epoch, \
                     (SELECT c.last_task FROM approval_counters c WHERE c.organization_id = i.organization_id) AS last_task \
                     FROM approval_instances i JOIN processes p ON p.organization_id = i.organization_id AND p.id = i.process_id \
                     WHERE i.organization_id = $1 AND ",
                    $by,
                    $lock
                )
            };
        }
        let locked = lock && backend == Backend::Postgres;
        let text = match (target, locked) {
            (Target::Instance(_), true) => select!("i.id = $2", " FOR UPDATE OF i"),
            (Target::Instance(_), false) => select!("i.id = $2", ""),
            (Target::Task(_), true) => select!(
                "i.id = (SELECT t.instance_id FROM approval_tasks t WHERE t.organization_id = $1 AND t.id = $2)",
                " FOR UPDATE OF i"
            ),
            (Target::Task(_), false) => select!(
                "i.id = (SELECT t.instance_id FROM approval_tasks t WHERE t.organization_id = $1 AND t.id = $2)",
                ""
            ),
        };
        let sql = Sql::new(text).bind(self.org_id);
        match target {
            Target::Instance(id) => sql.bind(id),
            Target::Task(id) => sql.bind(id),
        }
        .bind(self.store.now())
    }

    /// An instance as events show it (`Instance::snapshot`), its row locked on PostgreSQL (a flow's
    /// `wait_approval`).
    pub(crate) async fn approval_snapshot(
        &self,
        conn: &mut Conn<'_>,
        id: ApprovalId,
    ) -> Result<Option<serde_json::Value>> {
        match self.instance_row(conn, Target::Instance(id), true).await? {
            Some(row) => Ok(Some(row.into_instance()?.0.snapshot())),
            None => Ok(None),
        }
    }

    pub(super) async fn operation_records(
        &self,
        conn: &mut Conn<'_>,
        instance: ApprovalId,
    ) -> Result<Vec<Value>> {
        let rows: Vec<OperationRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT seq, type, actor, via, task_id, node, result, comment, members, automatic, at \
                     FROM approval_records WHERE organization_id = $1 AND instance_id = $2 ORDER BY seq",
                )
                .bind(self.org_id)
                .bind(instance),
            )
            .await?;
        Ok(rows.into_iter().map(OperationRow::json).collect())
    }

    /// A start's first read: its process (by code) and the organization's time zone, whether a
    /// delegation has begun and not ended, and what a start reads along ([`ReadAlong`]) — in one round
    /// trip on SQLite.
    pub(super) async fn process_and_organization(
        &self,
        conn: &mut Conn<'_>,
        code: &str,
    ) -> Result<(Option<StoredProcess>, TimeZone, bool, ReadAlong)> {
        type Row = (
            String,
            bool,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let organization = Sql::new(
            "SELECT o.time_zone, EXISTS (SELECT 1 FROM approval_delegations d WHERE d.organization_id = o.id \
             AND d.starts_at <= $2 AND (d.ends_at IS NULL OR d.ends_at > $2)), \
             (SELECT epoch FROM cache_epochs WHERE name = 'approvers'), \
             c.last_task, c.business_day, c.last_business \
             FROM organizations o LEFT JOIN approval_counters c ON c.organization_id = o.id WHERE o.id = $1",
        )
        .bind(self.org_id)
        .bind(self.store.now());
        let (processes, organizations): (Vec<ProcessRow>, Vec<Row>) = conn
            .fetch_all_pair(self.process_sql(code), organization)
            .await?;
        let Some((zone, delegating, approvers_epoch, last_task, business_day, last_business)) =
            organizations.into_iter().next()
        else {
            return Err(StoreError::not_found("organization"));
        };
        let zone = TimeZone::parse(&zone)
            .map_err(|_| StoreError::Corrupt(format!("time zone {zone:?}")))?;
        let sqlite = conn.backend() == Backend::Sqlite;
        let read = ReadAlong {
            approvers_epoch,
            last_task: last_task.filter(|_| sqlite),
            business: business_day.zip(last_business).filter(|_| sqlite),
            records: None,
        };
        let process = processes.into_iter().next().map(process_from_row);
        Ok((process, zone, delegating, read))
    }

    pub(super) async fn time_zone_in(&self, conn: &mut Conn<'_>) -> Result<TimeZone> {
        let (zone,): (String,) = conn
            .fetch_one(
                Sql::new("SELECT time_zone FROM organizations WHERE id = $1").bind(self.org_id),
            )
            .await?;
        TimeZone::parse(&zone).map_err(|_| StoreError::Corrupt(format!("time zone {zone:?}")))
    }

    /// The instance's state (without the directory) and its table: its row (by its id or a task's),
    /// its tasks and the delegations that may apply — the table and the compiled version from this
    /// node's caches when they have them — and what was read along with the row ([`ReadAlong`]; with
    /// `records`, the operation records too: in the same round trip on SQLite).
    pub(super) async fn load_state(
        &self,
        conn: &mut Conn<'_>,
        target: Target,
        lock: bool,
        records: bool,
    ) -> Result<(InstanceState, TableSchema, ReadAlong)> {
        // The row and the tasks, in one round trip on SQLite (after the row's lock on PostgreSQL).
        let tasks = self.of_instance(target, TASKS_BY_INSTANCE, TASKS_BY_TASK);
        let row_sql = self.instance_row_sql(conn.backend(), target, lock);
        let (rows, tasks, records): (Vec<InstanceRow>, Vec<TaskRow>, Option<Vec<OperationRow>>) =
            if records {
                let records = self.of_instance(
                    target,
                    "SELECT seq, type, actor, via, task_id, node, result, comment, members, automatic, at \
                     FROM approval_records WHERE organization_id = $1 AND instance_id = $2 ORDER BY seq",
                    "SELECT seq, type, actor, via, task_id, node, result, comment, members, automatic, at \
                     FROM approval_records WHERE organization_id = $1 AND instance_id = \
                     (SELECT t.instance_id FROM approval_tasks t WHERE t.organization_id = $1 AND t.id = $2) \
                     ORDER BY seq",
                );
                let (rows, tasks, records) = conn.fetch_all_triple(row_sql, tasks, records).await?;
                (rows, tasks, Some(records))
            } else {
                let (rows, tasks) = conn.fetch_all_pair(row_sql, tasks).await?;
                (rows, tasks, None)
            };
        let row = rows.into_iter().next().ok_or_else(|| match target {
            Target::Instance(_) => StoreError::not_found("approval"),
            Target::Task(_) => StoreError::not_found("task"),
        })?;
        let time_zone = row.time_zone()?;
        let delegating = row.delegating;
        let read = ReadAlong {
            approvers_epoch: row.approvers_epoch,
            last_task: row.last_task.filter(|_| conn.backend() == Backend::Sqlite),
            business: None,
            records: records.map(|rows| rows.into_iter().map(OperationRow::json).collect()),
        };
        let (instance, activations) = row.into_instance()?;
        let schema = self
            .approval_schema(conn, instance.record.app, instance.record.table)
            .await?;
        let process = self
            .compiled_version_cached(conn, instance.process_id, instance.version, &schema)
            .await?;
        let tasks = tasks
            .into_iter()
            .map(TaskRow::into_task)
            .collect::<Result<Vec<_>>>()?;
        Ok((
            InstanceState {
                process,
                directory: None,
                delegations: if delegating {
                    self.active_delegations(conn).await?
                } else {
                    Arc::from([])
                },
                time_zone,
                instance,
                activations,
                tasks,
            },
            schema,
            read,
        ))
    }

    /// `by_instance` or `by_task`, whichever `target` names, bound to the organization (`$1`) and the
    /// instance's or the task's id (`$2`).
    fn of_instance(&self, target: Target, by_instance: &'static str, by_task: &'static str) -> Sql {
        match target {
            Target::Instance(id) => Sql::new(by_instance).bind(self.org_id).bind(id),
            Target::Task(id) => Sql::new(by_task).bind(self.org_id).bind(id),
        }
    }

    /// `GET /api/v1/approvals/{id}`.
    pub async fn approval(&self, id: ApprovalId) -> Result<ApprovalDetail> {
        let mut pooled = self.store.pools.read().await?;
        Ok(self.approval_on(&mut pooled.conn(), id).await?.0)
    }

    /// [`Self::approval`]'s reads on `conn`, with the schema of the instance's table.
    pub(crate) async fn approval_on(
        &self,
        conn: &mut Conn<'_>,
        id: ApprovalId,
    ) -> Result<(ApprovalDetail, TableSchema)> {
        let (state, schema, read) = self
            .load_state(conn, Target::Instance(id), false, true)
            .await?;
        let records = read.records.unwrap_or_default();
        Ok((ApprovalDetail { state, records }, schema))
    }

    /// What [`Self::approval_on`] reads, the operation records typed, and the instance's record (with
    /// its links and the formulas computed when read) in as many statements as it alone, links aside:
    /// the operation records are read joined to the record, in the statement that reads it, with `extra`
    /// (an integer scalar subquery the store wrote) beside them — its value is returned too.
    pub(crate) async fn approval_with_record_on(
        &self,
        conn: &mut Conn<'_>,
        id: ApprovalId,
        extra: &str,
    ) -> Result<ApprovalWithRecord> {
        let (state, schema, _) = self
            .load_state(conn, Target::Instance(id), false, false)
            .await?;
        let read = RecordRead::new(&schema);
        let mut sql = SqlText::new(conn.backend());
        sql.push(&read.select())
            .push(", ")
            .push(extra)
            .push(", ")
            .push(OPERATION_COLUMNS)
            .push(" FROM ")
            .push(read.table())
            .push(" LEFT JOIN approval_records o ON o.organization_id = ")
            .arg(self.org_id)
            .push(" AND o.instance_id = ")
            .arg(id)
            .push(" WHERE r.id = ")
            .arg(state.instance.record.id)
            .push(" ORDER BY o.seq");
        let rows = conn.fetch_rows(sql.into_sql()).await?;
        let first = rows
            .first()
            .ok_or_else(|| StoreError::not_found("record"))?;
        let mut record = read.decode(first)?;
        let extra = first.int(read.width())?;
        let mut operations = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(operation) = ApprovalOperation::at(row, read.width() + 1)? {
                operations.push(operation);
            }
        }
        self.complete_records(conn, &schema, std::slice::from_mut(&mut record))
            .await?;
        Ok(ApprovalWithRecord {
            state,
            schema,
            record,
            operations,
            extra,
        })
    }

    /// A to-do list: tasks by assignee and status, newest number first.
    pub async fn approval_tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(&format!(
            "SELECT {TASK_COLUMNS} FROM approval_tasks WHERE organization_id = "
        ))
        .arg(self.org_id);
        if let Some(assignee) = filter.assignee {
            sql.push(" AND assignee = ").arg(assignee);
        }
        if let Some(status) = filter.status {
            sql.push(" AND status = ").arg(status.as_str());
        }
        if let Some(instance) = filter.instance {
            sql.push(" AND instance_id = ").arg(instance);
        }
        if let Some(before) = filter.before {
            sql.push(" AND number < ").arg(before);
        }
        sql.push(" ORDER BY number DESC")
            .limit(u64::from(filter.limit));
        let rows: Vec<TaskRow> = conn.fetch_all(sql.into_sql()).await?;
        rows.into_iter().map(TaskRow::into_task).collect()
    }

    /// The member behind a record's `created_by`/`modified_by`: the member, or a personal token's member.
    pub(super) async fn member_of(
        &self,
        conn: &mut Conn<'_>,
        actor: Option<&RecordActor>,
    ) -> Result<Option<MemberId>> {
        let Some(actor) = actor else { return Ok(None) };
        let Some(id) = actor.id.as_deref().and_then(|id| id.parse::<Uuid>().ok()) else {
            return Ok(None);
        };
        match actor.kind.as_str() {
            "member" => Ok(Some(MemberId::from_uuid(id))),
            "token" => {
                let row: Option<(Option<Uuid>,)> = conn
                    .fetch_optional(
                        Sql::new("SELECT member_id FROM api_tokens WHERE organization_id = $1 AND id = $2")
                            .bind(self.org_id)
                            .bind(id),
                    )
                    .await?;
                Ok(row.and_then(|(member,)| member).map(MemberId::from_uuid))
            }
            _ => Ok(None),
        }
    }

    pub(super) async fn submission_of(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        record: &Record,
    ) -> Result<Submission> {
        let mut records = vec![record.clone()];
        self.read_virtual(conn, schema, &mut records, None).await?;
        let record = records.pop().unwrap_or_else(|| record.clone());
        Ok(Submission {
            created_by: self.member_of(conn, record.created_by.as_ref()).await?,
            modified_by: self.member_of(conn, record.modified_by.as_ref()).await?,
            values: record.cells,
        })
    }

    pub(super) async fn current_submission(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        id: RecordId,
    ) -> Result<Submission> {
        let record = self
            .load_records(conn, schema, &[id], None)
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found("record"))?;
        self.submission_of(conn, schema, &record).await
    }
}

/// The process's initiator rule on a record made without a member (a public form, a flow).
pub(super) fn initiator_by_rule(
    process: &CompiledProcess,
    submission: &Submission,
) -> Option<MemberId> {
    match process.process.initiator.as_ref()? {
        InitiatorRule::Member(member) => Some(*member),
        InitiatorRule::CreatedBy => submission.created_by,
        InitiatorRule::Field(reference) => match process.fields.get(reference)? {
            FieldSource::CreatedBy => submission.created_by,
            FieldSource::ModifiedBy => submission.modified_by,
            FieldSource::Member(id) => match submission.values.get(id)? {
                CellValue::Ids(ids) => ids.first().map(|id| MemberId::from_uuid(*id)),
                _ => None,
            },
            FieldSource::MemberLookup(id) => match submission.values.get(id)? {
                CellValue::Names(texts) => texts.iter().find_map(|text| text.parse().ok()),
                CellValue::Ids(ids) => ids.first().map(|id| MemberId::from_uuid(*id)),
                _ => None,
            },
            FieldSource::Department(_) | FieldSource::Other(_) => None,
        },
    }
}

impl Tenant<'_> {
    /// Refuses a records-API write of the status field of an approval running on one of the records.
    pub(crate) async fn check_no_running_approval(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        updates: &[RecordUpdate],
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT id, record_id, status_field FROM approval_instances WHERE organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND table_id = ")
        .arg(schema.table.id)
        .push(" AND status = 'running' AND status_field IS NOT NULL AND record_id IN ")
        .list(updates.iter().map(|update| update.id));
        let running: Vec<(Uuid, Uuid, Uuid)> = conn.fetch_all(sql.into_sql()).await?;
        for (approval, record, field) in running {
            let field = FieldId::from_uuid(field);
            if updates
                .iter()
                .any(|update| *update.id.as_uuid() == record && update.cells.contains_key(&field))
            {
                return Err(StoreError::ApprovalRunning {
                    record: record.to_string(),
                    approval: approval.to_string(),
                });
            }
        }
        Ok(())
    }
}
