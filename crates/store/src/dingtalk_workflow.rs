//! DingTalk's workflow API over the native approvals (#21 part 2): a form made in one transaction (the
//! app `dingtalk_forms` if it is missing, the form's table, its process, published), tasks found by their
//! DingTalk `taskId` (the task's `number`), instance ids by process and creation time, and members as
//! DingTalk names them (userid, name, first department).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenon_approvals::InstanceState;
use tenon_approvals::definition::Process;
use tenon_model::apps::{ApiKey, FieldSpec, ParseContext, Record, TableSchema};
use tenon_model::{ApprovalId, ApprovalTaskId, MemberId, Name};
use uuid::Uuid;

use crate::approvals::{ApprovalOperation, ApprovalWithRecord, StoredProcess};
use crate::apps::{NewApp, NewTable};
use crate::cache::DIRECTORY_EPOCH;
use crate::exec::Conn;
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// A form to create: its table's fields and its process's definition (which names `table_key`).
#[derive(Debug, Clone)]
pub struct DingTalkForm {
    pub app_key: ApiKey,
    pub app_name: Name,
    pub table_key: ApiKey,
    pub name: Name,
    pub fields: Vec<FieldSpec>,
    pub process: Value,
}

/// Defined beside the cache that keeps it (the store's layers: the cache is below the domain).
pub use crate::cache::DingTalkPerson;

/// An instance with what DingTalk's answer shows beside it ([`Tenant::dingtalk_instance`]).
#[derive(Debug)]
pub struct DingTalkInstance {
    /// The instance and its tasks, as [`Tenant::approval`] reads them.
    pub state: InstanceState,
    /// The operation records [`Tenant::approval`] reads, in `seq` order, typed.
    pub operations: Vec<ApprovalOperation>,
    pub schema: TableSchema,
    pub record: Record,
    pub process_name: String,
    pub people: HashMap<MemberId, Arc<DingTalkPerson>>,
}

/// `POST /v1.0/workflow/processes/instanceIds/query`.
#[derive(Debug, Clone)]
pub struct InstanceIdQuery {
    pub process: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub initiators: Option<Vec<MemberId>>,
    /// Native statuses (`running`, `completed`, `terminated`).
    pub statuses: Vec<&'static str>,
    pub offset: i64,
    pub limit: i64,
}

impl Tenant<'_> {
    /// Creates a form: the app if missing, the table, the process, and publishes it, in one transaction.
    pub async fn dingtalk_create_form(
        &self,
        ctx: &WriteContext,
        form: DingTalkForm,
        parse: &ParseContext,
    ) -> Result<StoredProcess> {
        let process = Process::parse(&form.process, "")?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let app = match self.load_app(&mut conn, form.app_key.as_str()).await? {
            Some(app) => app,
            None => {
                self.create_app_in(
                    &mut conn,
                    ctx,
                    NewApp {
                        name: form.app_name,
                        key: Some(form.app_key),
                        description: None,
                    },
                )
                .await?
            }
        };
        let table = NewTable {
            name: form.name,
            key: Some(form.table_key),
            fields: form.fields,
            primary_field: None,
            unique_together: Vec::new(),
            indexes: Vec::new(),
            validation_rules: Vec::new(),
        };
        self.create_table_in(&mut conn, ctx, &app, table, parse)
            .await?;
        let created = self
            .create_process_in(
                &mut conn,
                ctx,
                &form.process,
                Some(&app.id.to_string()),
                &process,
                "",
            )
            .await?;
        let published = self.publish_in(&mut conn, ctx, created, "").await?;
        tx.commit().await?;
        Ok(published)
    }

    /// The task numbered `number` and its instance.
    pub async fn dingtalk_task(&self, number: i64) -> Result<Option<(ApprovalTaskId, ApprovalId)>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(Uuid, Uuid)> = pooled
            .conn()
            .fetch_optional(
                crate::exec::Sql::new(
                    "SELECT id, instance_id FROM approval_tasks WHERE organization_id = $1 AND number = $2",
                )
                .bind(self.org_id)
                .bind(number),
            )
            .await?;
        Ok(row.map(|(task, instance)| {
            (
                ApprovalTaskId::from_uuid(task),
                ApprovalId::from_uuid(instance),
            )
        }))
    }

    /// Ids of the process's instances created in `[from, to)`, oldest first: one page and whether more
    /// follow. `None` when there is no such process.
    pub async fn dingtalk_instance_ids(
        &self,
        query: &InstanceIdQuery,
    ) -> Result<Option<(Vec<ApprovalId>, bool)>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let process: Option<(Uuid,)> = conn
            .fetch_optional(
                crate::exec::Sql::new(
                    "SELECT id FROM processes WHERE organization_id = $1 AND code = $2",
                )
                .bind(self.org_id)
                .bind(query.process.as_str()),
            )
            .await?;
        let Some((process,)) = process else {
            return Ok(None);
        };
        if matches!(&query.initiators, Some(initiators) if initiators.is_empty()) {
            return Ok(Some((Vec::new(), false)));
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT id FROM approval_instances WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND process_id = ")
            .arg(process)
            .push(" AND created_at >= ")
            .arg(query.from)
            .push(" AND created_at < ")
            .arg(query.to);
        if let Some(initiators) = &query.initiators {
            sql.push(" AND initiator IN ")
                .list(initiators.iter().copied());
        }
        if !query.statuses.is_empty() {
            sql.push(" AND status IN ")
                .list(query.statuses.iter().copied());
        }
        sql.push(" ORDER BY created_at, id")
            .limit(u64::try_from(query.limit + 1).unwrap_or(0))
            .push(" OFFSET ")
            .arg(query.offset);
        let mut rows: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        let more = rows.len() as i64 > query.limit;
        rows.truncate(usize::try_from(query.limit).unwrap_or(0));
        Ok(Some((
            rows.into_iter()
                .map(|(id,)| ApprovalId::from_uuid(id))
                .collect(),
            more,
        )))
    }

    /// Members (active or not) by id as DingTalk names them: the userid chosen for each (kept after a
    /// deletion), else the member id. Members that do not exist are left out.
    pub async fn dingtalk_people(
        &self,
        members: &[MemberId],
    ) -> Result<HashMap<MemberId, DingTalkPerson>> {
        if members.is_empty() {
            return Ok(HashMap::new());
        }
        let mut pooled = self.store.pools.read().await?;
        Ok(self.people_on(&mut pooled.conn(), members).await?.0)
    }

    /// [`Self::dingtalk_people`] on `conn`, from this node's cache for the members it holds at `epoch`
    /// (the `directory` epoch the caller's statement just read; `None`: the cache is not used), the rest
    /// in one query that also reads the epoch they are kept at.
    async fn people_cached(
        &self,
        conn: &mut Conn<'_>,
        members: &[MemberId],
        epoch: Option<i64>,
    ) -> Result<HashMap<MemberId, Arc<DingTalkPerson>>> {
        let cache = &self.store.caches.people;
        let mut people = HashMap::with_capacity(members.len());
        let mut missing = Vec::new();
        for member in members {
            let cached = epoch
                .and_then(|epoch| cache.get_if(&(self.org_id, *member), |(at, _)| *at == epoch));
            match cached {
                Some((_, person)) => {
                    people.insert(*member, person);
                }
                None => missing.push(*member),
            }
        }
        if missing.is_empty() {
            return Ok(people);
        }
        let generation = cache.generation();
        let (found, read_at) = self.people_on(conn, &missing).await?;
        for (member, person) in found {
            let person = Arc::new(person);
            if let Some(read_at) = read_at {
                cache.insert(
                    (self.org_id, member),
                    (read_at, Arc::clone(&person)),
                    generation,
                );
            }
            people.insert(member, person);
        }
        Ok(people)
    }

    /// [`Self::dingtalk_people`] on `conn`, in one query (the first department joined by position),
    /// with the `directory` epoch the same statement read (`None` without rows or before migration 0044).
    async fn people_on(
        &self,
        conn: &mut Conn<'_>,
        members: &[MemberId],
    ) -> Result<(HashMap<MemberId, DingTalkPerson>, Option<i64>)> {
        if members.is_empty() {
            return Ok((HashMap::new(), None));
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT m.id, m.name, COALESCE(u.userid, f.userid), d.number, d.name, ")
            .push(DIRECTORY_EPOCH)
            .push(
            " FROM members m \
             LEFT JOIN dingtalk_users u ON u.organization_id = m.organization_id AND u.member_id = m.id \
             LEFT JOIN dingtalk_former_users f ON f.organization_id = m.organization_id AND f.member_id = m.id \
             LEFT JOIN member_departments md ON md.organization_id = m.organization_id AND md.member_id = m.id \
               AND md.position = (SELECT MIN(x.position) FROM member_departments x \
                 WHERE x.organization_id = m.organization_id AND x.member_id = m.id) \
             LEFT JOIN departments d ON d.organization_id = md.organization_id AND d.id = md.department_id \
             WHERE m.organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND m.id IN ")
        .list(members.iter().copied());
        type Row = (
            Uuid,
            String,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = conn.fetch_all(sql.into_sql()).await?;
        let epoch = rows.first().and_then(|row| row.5);
        let mut people = HashMap::with_capacity(rows.len());
        for (id, name, userid, number, department, _) in rows {
            let member = MemberId::from_uuid(id);
            people.entry(member).or_insert_with(|| DingTalkPerson {
                userid: userid.unwrap_or_else(|| member.to_string()),
                name,
                department: number.zip(department),
            });
        }
        Ok((people, epoch))
    }

    /// What `GET /v1.0/workflow/processInstances` shows, read on one connection: the instance as
    /// [`Self::approval`] has it, its table's schema, its record, its process's name (as the version
    /// the instance runs on has it) and the members it names (the originator, the assignees, the
    /// operation records' actors and members) as DingTalk names them. As many statements as
    /// [`Self::approval`] when this node's cache holds the members at the current `directory` epoch
    /// (read with the record), one more when it does not (links of the record's table aside).
    pub async fn dingtalk_instance(&self, id: ApprovalId) -> Result<DingTalkInstance> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        // The instance as the native route reads it, with the record and the `directory` epoch read in
        // the statement that reads its operation records: no statement beyond the native route's.
        let ApprovalWithRecord {
            state,
            schema,
            record,
            operations,
            extra: epoch,
        } = self
            .approval_with_record_on(&mut conn, id, DIRECTORY_EPOCH)
            .await?;
        let mut members: Vec<MemberId> = vec![state.instance.initiator];
        members.extend(state.tasks.iter().map(|task| task.assignee));
        for operation in &operations {
            members.extend(operation.actor);
            members.extend_from_slice(&operation.members);
        }
        members.sort_unstable();
        members.dedup();
        // The name of the version the instance runs on (no query): the process as it was started, as
        // DingTalk's title keeps it, not a later draft's rename.
        let process_name = state.process.process.name.as_str().to_owned();
        // The people from this node's cache when it holds them at that epoch (no statement), else one.
        let people = self.people_cached(&mut conn, &members, epoch).await?;
        Ok(DingTalkInstance {
            state,
            operations,
            schema,
            record,
            process_name,
            people,
        })
    }

    /// What a `bpms_*` rendering of an instance's event names: the originator's and the process's names
    /// (`None` when the instance is gone) and, given a task, the comment of the last operation record on
    /// it that has one.
    pub async fn dingtalk_approval_names(
        &self,
        instance: ApprovalId,
        task: Option<ApprovalTaskId>,
    ) -> Result<(Option<(String, String)>, Option<String>)> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let names: Option<(String, String)> = conn
            .fetch_optional(
                crate::exec::Sql::new(
                    "SELECT m.name, p.name FROM approval_instances i \
                     JOIN members m ON m.organization_id = i.organization_id AND m.id = i.initiator \
                     JOIN processes p ON p.organization_id = i.organization_id AND p.id = i.process_id \
                     WHERE i.organization_id = $1 AND i.id = $2",
                )
                .bind(self.org_id)
                .bind(instance),
            )
            .await?;
        let Some(task) = task else {
            return Ok((names, None));
        };
        let remark: Option<(Option<String>,)> = conn
            .fetch_optional(
                crate::exec::Sql::new(
                    "SELECT comment FROM approval_records WHERE organization_id = $1 AND instance_id = $2 \
                     AND task_id = $3 AND comment IS NOT NULL ORDER BY seq DESC LIMIT 1",
                )
                .bind(self.org_id)
                .bind(instance)
                .bind(task),
            )
            .await?;
        Ok((names, remark.and_then(|(comment,)| comment)))
    }

    /// The published definition of a process (the version instances start on), with the process.
    pub async fn dingtalk_published(&self, code: &str) -> Result<Option<(StoredProcess, Value)>> {
        let process = match self.process(code).await {
            Ok(process) => process,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        if process.published_version == 0 {
            return Ok(Some((process.clone(), process.draft)));
        }
        let versions = self.process_versions(code).await?;
        let definition = versions
            .into_iter()
            .find(|version| version.version == process.published_version)
            .map_or_else(|| process.draft.clone(), |version| version.definition);
        Ok(Some((process, definition)))
    }
}
