//! The directory as approver rules read it, loaded in the command's transaction: members (active or not,
//! departments in order), departments (parent, heads), custom roles and the active administrators — and
//! what a member leaving does to their open tasks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tenon_approvals::DirectorySnapshot;
use tenon_approvals::directory::{DirectoryDepartment, DirectoryMember};
use tenon_model::{DepartmentId, MemberId};
use uuid::Uuid;

use tenon_approvals::engine::Command;
use tenon_model::{ApprovalId, DetailCode};

use super::{CommandError, json_ids};
use crate::exec::{Conn, Sql};
use crate::sql::SqlText;
use crate::{Backend, Result, StoreError, Tenant, WriteContext};

/// A member (id, status, access role) with one of their places (department, whether they head it), if any.
type MemberPlaceRow = (Uuid, String, String, Option<Uuid>, Option<bool>);

impl Tenant<'_> {
    /// The directory for a command whose transaction read the `approvers` epoch `epoch` (migration 0050,
    /// read with the instance or the organization) before it wrote anything that bumps it: this node's copy when it
    /// was read at that epoch, else read now (three statements) and kept at it. `None` (the epoch is
    /// unknown, or the transaction changed the directory itself, whose uncommitted bump a rolled-back
    /// transaction would leave for another change to reach) reads it and keeps nothing.
    ///
    /// On PostgreSQL a directory read after the epoch may be newer than it (a change committed between
    /// the two statements); kept at the older epoch it is served only to commands that read that epoch
    /// before the change committed, for which it is as current as a read of their own would have been.
    pub(super) async fn directory_at(
        &self,
        conn: &mut Conn<'_>,
        epoch: Option<i64>,
    ) -> Result<Arc<DirectorySnapshot>> {
        let cache = &self.store.caches.approvers;
        let epoch = epoch.filter(|_| !conn.marked(crate::cache::AUTH | crate::cache::ACCESS));
        if let Some(epoch) = epoch
            && let Some((_, directory)) = cache.get_if(&self.org_id, |(at, _)| *at == epoch)
        {
            return Ok(directory);
        }
        let generation = cache.generation();
        let directory = Arc::new(self.directory_snapshot(conn).await?);
        if let Some(epoch) = epoch {
            cache.insert(self.org_id, (epoch, Arc::clone(&directory)), generation);
        }
        Ok(directory)
    }

    pub(crate) async fn directory_snapshot(
        &self,
        conn: &mut Conn<'_>,
    ) -> Result<DirectorySnapshot> {
        // Members with their places (one row per place, or one without), in one statement.
        let rows: Vec<MemberPlaceRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT m.id, m.status, m.role, d.department_id, d.is_head FROM members m \
                     LEFT JOIN member_departments d ON d.organization_id = m.organization_id AND d.member_id = m.id \
                     WHERE m.organization_id = $1 ORDER BY m.id, d.position, d.department_id",
                )
                .bind(self.org_id),
            )
            .await?;
        let mut members: Vec<(Uuid, String, String)> = Vec::new();
        let mut placements: Vec<(Uuid, Uuid, bool)> = Vec::new();
        for (member, status, role, department, is_head) in rows {
            if members.last().is_none_or(|(last, _, _)| *last != member) {
                members.push((member, status, role));
            }
            if let Some(department) = department {
                placements.push((member, department, is_head.unwrap_or(false)));
            }
        }
        let departments: Vec<(Uuid, Option<Uuid>)> = conn
            .fetch_all(
                Sql::new("SELECT id, parent_id FROM departments WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        let roles: Vec<(String, sqlx::types::Json<serde_json::Value>)> = conn
            .fetch_all(
                Sql::new("SELECT key, member_ids FROM org_roles WHERE organization_id = $1")
                    .bind(self.org_id),
            )
            .await?;
        let mut snapshot = DirectorySnapshot::default();
        for (id, parent) in departments {
            let id = DepartmentId::from_uuid(id);
            snapshot.departments.insert(
                id,
                DirectoryDepartment {
                    id,
                    parent: parent.map(DepartmentId::from_uuid),
                    heads: Vec::new(),
                },
            );
        }
        let mut departments_of: HashMap<MemberId, Vec<DepartmentId>> = HashMap::new();
        let mut heads: HashSet<(DepartmentId, MemberId)> = HashSet::new();
        for (member, department, is_head) in placements {
            let (member, department) = (
                MemberId::from_uuid(member),
                DepartmentId::from_uuid(department),
            );
            departments_of.entry(member).or_default().push(department);
            if is_head {
                heads.insert((department, member));
            }
        }
        for (id, status, role) in members {
            let id = MemberId::from_uuid(id);
            let active = status == "active";
            if active && (role == "owner" || role == "admin") {
                snapshot.admins.push(id);
            }
            snapshot.members.insert(
                id,
                DirectoryMember {
                    id,
                    active,
                    departments: departments_of.remove(&id).unwrap_or_default(),
                },
            );
        }
        // Heads in member id order, so that resolution does not depend on the order rows came in.
        let mut heads: Vec<(DepartmentId, MemberId)> = heads.into_iter().collect();
        heads.sort_by_key(|(department, member)| (*department.as_uuid(), *member.as_uuid()));
        for (department, member) in heads {
            if let Some(department) = snapshot.departments.get_mut(&department) {
                department.heads.push(member);
            }
        }
        for (key, members) in roles {
            snapshot
                .roles
                .insert(key, json_ids(&members.0, "role member")?);
        }
        Ok(snapshot)
    }

    /// Role keys and member ids of the organization (what a process may name).
    pub(crate) async fn known_names(
        &self,
        conn: &mut Conn<'_>,
    ) -> Result<(HashSet<String>, HashSet<MemberId>)> {
        let roles: Vec<(String,)> = conn
            .fetch_all(
                Sql::new("SELECT key FROM org_roles WHERE organization_id = $1").bind(self.org_id),
            )
            .await?;
        let members: Vec<(Uuid,)> = conn
            .fetch_all(
                Sql::new("SELECT id FROM members WHERE organization_id = $1").bind(self.org_id),
            )
            .await?;
        Ok((
            roles.into_iter().map(|(key,)| key).collect(),
            members
                .into_iter()
                .map(|(id,)| MemberId::from_uuid(id))
                .collect(),
        ))
    }
}

impl Tenant<'_> {
    /// Instances where `member` has an open task.
    async fn instances_with_open_tasks(
        &self,
        conn: &mut Conn<'_>,
        member: MemberId,
    ) -> Result<Vec<ApprovalId>> {
        let rows: Vec<(Uuid,)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT DISTINCT instance_id FROM approval_tasks WHERE organization_id = $1 AND assignee = $2 \
                     AND status IN ('new', 'running', 'paused') ORDER BY instance_id",
                )
                .bind(self.org_id)
                .bind(member),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id,)| ApprovalId::from_uuid(id))
            .collect())
    }

    /// A member set `left`: their open tasks go to their manager, else by each process's no-approver
    /// setting, in the transaction that changed the member.
    pub(crate) async fn reassign_open_tasks_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        member: MemberId,
    ) -> Result<()> {
        // The lock order (docs/approvals.md, "Lock order"): every instance first, in id order, then the
        // counters. Taking instance B after A's persist held the approval counter deadlocked against an
        // approve of B (instance B, then the counter) on PostgreSQL.
        let instances = self.instances_with_open_tasks(conn, member).await?;
        self.lock_instances(conn, &instances).await?;
        for id in instances {
            // The member's change bumped the `approvers` epoch in this transaction: nothing is kept.
            let (mut state, schema, _) = self
                .load_state(conn, super::Target::Instance(id), true, false)
                .await?;
            let transition = match self
                .apply_loading(
                    conn,
                    &mut state,
                    &schema,
                    Command::MemberLeft { member },
                    None,
                )
                .await
            {
                Ok(transition) => transition,
                Err(CommandError::Store(error)) => return Err(error),
                Err(CommandError::Refused(refusal)) => {
                    return Err(StoreError::Corrupt(format!(
                        "reassigning the tasks of a member who left was refused: {refusal}"
                    )));
                }
            };
            self.persist(
                conn,
                ctx,
                &state,
                transition,
                &schema,
                false,
                Default::default(),
            )
            .await?;
        }
        Ok(())
    }

    /// Locks `instances` (sorted by id) in that order: PostgreSQL only; SQLite's writer is single.
    async fn lock_instances(&self, conn: &mut Conn<'_>, instances: &[ApprovalId]) -> Result<()> {
        if conn.backend() != Backend::Postgres || instances.is_empty() {
            return Ok(());
        }
        let mut sql = SqlText::new(conn.backend());
        sql.push("SELECT id FROM approval_instances WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND id IN ")
            .list(instances.iter().copied())
            .push(" ORDER BY id FOR UPDATE");
        let _: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        Ok(())
    }

    /// A member with open tasks cannot be deleted (set them `left` first: their tasks are reassigned).
    pub(crate) async fn check_no_open_tasks(
        &self,
        conn: &mut Conn<'_>,
        member: MemberId,
    ) -> Result<()> {
        let open = self.instances_with_open_tasks(conn, member).await?;
        if let Some(first) = open.first() {
            return Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
                format!(
                    "the member has open approval tasks in {} approvals (e.g. {first}); set them left first, which reassigns their tasks",
                    open.len()
                ),
            ));
        }
        Ok(())
    }
}

impl Tenant<'_> {
    /// The directory as approver rules read it (forecasts, tests that replay the engine beside the store).
    pub async fn approval_directory(&self) -> Result<DirectorySnapshot> {
        let mut pooled = self.store.pools.read().await?;
        self.directory_snapshot(&mut pooled.conn()).await
    }
}
