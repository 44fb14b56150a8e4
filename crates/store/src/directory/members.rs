//! Members: creation, changes, deletion and their department memberships.

use std::collections::HashSet;

use tenon_model::{
    Action, DepartmentId, DetailCode, Invalid, Member, MemberId, MemberPatch, MemberStatus,
    NewMember, Page, PageRequest, Role, TargetKind,
};
use uuid::Uuid;

use super::{MEMBER_DEPARTMENTS_MAX, MemberFilter, dedup};
use crate::audit::{self, Change};
use crate::error::unique_violation;
use crate::exec::{Conn, Sql};
use crate::rows::{MemberRow, MembershipRow, member_columns};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

impl Tenant<'_> {
    pub async fn member(&self, id: MemberId) -> Result<Member> {
        let mut pooled = self.store.pools.read().await?;
        self.load_member(&mut pooled.conn(), id)
            .await?
            .ok_or_else(|| StoreError::not_found("member"))
    }

    /// Members in id order (creation order), after the page key.
    pub async fn list_members(
        &self,
        filter: &MemberFilter,
        page: PageRequest<MemberId>,
    ) -> Result<Page<Member, MemberId>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(concat!(
            "SELECT ",
            member_columns!(),
            " FROM members WHERE organization_id = "
        ))
        .arg(self.org_id);
        if let Some(after) = page.after {
            sql.push(" AND id > ").arg(after);
        }
        if let Some(status) = filter.status {
            sql.push(" AND status = ").arg(status.as_str());
        }
        if let Some(role) = filter.role {
            sql.push(" AND role = ").arg(role.as_str());
        }
        if let Some(department_id) = filter.department_id {
            sql.push(
                " AND id IN (SELECT member_id FROM member_departments WHERE organization_id = ",
            )
            .arg(self.org_id)
            .push(" AND department_id = ")
            .arg(department_id)
            .push(")");
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            let pattern = format!(
                "%{}%",
                q.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            sql.push(" AND (LOWER(name) LIKE ")
                .arg(pattern.clone())
                .push(" ESCAPE '\\' OR LOWER(COALESCE(email, '')) LIKE ")
                .arg(pattern.clone())
                .push(" ESCAPE '\\' OR COALESCE(mobile, '') LIKE ")
                .arg(pattern)
                .push(" ESCAPE '\\')");
        }
        sql.push(" ORDER BY id ASC")
            .limit(u64::from(page.size()) + 1);
        let rows: Vec<MemberRow> = conn.fetch_all(sql.into_sql()).await?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let memberships = self.memberships_of(&mut conn, &ids).await?;
        let members = rows
            .into_iter()
            .map(|row| row.into_model(&memberships))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(
            members,
            page.size(),
            |member: &Member| member.id,
        ))
    }

    pub async fn create_member(&self, ctx: &WriteContext, new: NewMember) -> Result<Member> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let root_id = self.root_department_id(&mut conn).await?;
        let member = self.insert_member(&mut conn, ctx, new, root_id).await?;
        tx.commit().await?;
        Ok(member)
    }

    pub(crate) async fn insert_member(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        new: NewMember,
        root_department_id: DepartmentId,
    ) -> Result<Member> {
        let department_ids = if new.department_ids.is_empty() {
            vec![root_department_id]
        } else {
            dedup(new.department_ids)
        };
        self.check_departments_exist(conn, &department_ids, "department_ids")
            .await?;
        let id = MemberId::new();
        let now = self.store.now();
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO members (organization_id, id, name, email, mobile, job_title, employee_no, status, \
                     role, password_hash, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10)",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(new.name.as_str())
                .bind(new.email.as_ref().map(|email| email.as_str()))
                .bind(new.mobile.as_ref().map(|mobile| mobile.as_str()))
                .bind(new.job_title.as_deref())
                .bind(new.employee_no.as_deref())
                .bind(new.role.as_str())
                .bind(new.password_hash)
                .bind(now),
            )
            .await;
        inserted.map_err(member_conflict)?;
        self.insert_memberships(conn, id, &department_ids, &HashSet::new())
            .await?;
        let member = self
            .load_member(conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("member"))?;
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Member,
                target_id: id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(audit::member_snapshot(&member)),
                ctx,
            },
        )
        .await?;
        Ok(member)
    }

    pub async fn update_member(
        &self,
        ctx: &WriteContext,
        id: MemberId,
        patch: MemberPatch,
    ) -> Result<Member> {
        // Setting a member `left` reassigns their open approval tasks, and may meet a member lock held by
        // another member's leaving (see `approvals::commands::retry_when_busy`): then it runs again.
        crate::approvals::retry_when_busy(|| {
            let patch = patch.clone();
            async move { Ok(self.update_member_once(ctx, id, patch).await?) }
        })
        .await
        .map_err(|error| match error {
            crate::approvals::CommandError::Store(error) => error,
            crate::approvals::CommandError::Refused(refusal) => {
                StoreError::Corrupt(format!("a member update was refused: {refusal}"))
            }
        })
    }

    async fn update_member_once(
        &self,
        ctx: &WriteContext,
        id: MemberId,
        patch: MemberPatch,
    ) -> Result<Member> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if patch.status == Some(MemberStatus::Left) && conn.backend() == crate::Backend::Postgres {
            // The first lock of the order in docs/approvals.md, taken before anything is read: from here
            // no command gives this member a new task (it locks their row `FOR KEY SHARE` to check
            // they are active), and the open tasks listed below are all there will be.
            let _: Option<(uuid::Uuid,)> = conn
                .fetch_optional(
                    Sql::new(
                        "SELECT id FROM members WHERE organization_id = $1 AND id = $2 FOR UPDATE",
                    )
                    .bind(self.org_id)
                    .bind(id),
                )
                .await?;
        }
        let before = self
            .load_member(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("member"))?;
        let role = patch.role.unwrap_or(before.role);
        let status = patch.status.unwrap_or(before.status);
        let loses_ownership = before.role == Role::Owner
            && before.status == MemberStatus::Active
            && (role != Role::Owner || status != MemberStatus::Active);
        if loses_ownership {
            self.check_other_owner_exists(&mut conn, id).await?;
        }
        let email = patch.email.unwrap_or_else(|| before.email.clone());
        let mobile = patch.mobile.unwrap_or_else(|| before.mobile.clone());
        let job_title = patch.job_title.unwrap_or_else(|| before.job_title.clone());
        let employee_no = patch
            .employee_no
            .unwrap_or_else(|| before.employee_no.clone());
        let name = patch.name.unwrap_or_else(|| before.name.clone());
        let updated = conn
            .execute(
                Sql::new(
                    "UPDATE members SET name = $3, email = $4, mobile = $5, job_title = $6, employee_no = $7, \
                     status = $8, role = $9, updated_at = $10 WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(name.as_str())
                .bind(email.as_ref().map(|email| email.as_str()))
                .bind(mobile.as_ref().map(|mobile| mobile.as_str()))
                .bind(job_title.as_deref())
                .bind(employee_no.as_deref())
                .bind(status.as_str())
                .bind(role.as_str())
                .bind(self.store.now()),
            )
            .await;
        updated.map_err(member_conflict)?;
        if let Some(department_ids) = patch.department_ids {
            let department_ids = if department_ids.is_empty() {
                vec![self.root_department_id(&mut conn).await?]
            } else {
                dedup(department_ids)
            };
            self.check_departments_exist(&mut conn, &department_ids, "department_ids")
                .await?;
            let heads: HashSet<DepartmentId> =
                before.head_of_department_ids.iter().copied().collect();
            conn.execute(
                Sql::new(
                    "DELETE FROM member_departments WHERE organization_id = $1 AND member_id = $2",
                )
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
            self.insert_memberships(&mut conn, id, &department_ids, &heads)
                .await?;
        }
        if status == MemberStatus::Left && before.status != MemberStatus::Left {
            // A person who left loses every way in at once.
            conn.execute(
                Sql::new("DELETE FROM sessions WHERE organization_id = $1 AND member_id = $2")
                    .bind(self.org_id)
                    .bind(id),
            )
            .await?;
        }
        if status == MemberStatus::Left && before.status != MemberStatus::Left {
            // Their open approval tasks go to their manager (or by each process's settings), now — before
            // the member's own audit entry: its event takes the organization's event counter, which every
            // approval command takes last (the lock order of docs/approvals.md). Audited first, PostgreSQL
            // deadlocked this against a concurrent approve, which holds an instance and the approval counter
            // while it waits for the event counter.
            self.reassign_open_tasks_in(&mut conn, ctx, id).await?;
        }
        let after = self
            .load_member(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("member"))?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Member,
                target_id: id.to_string(),
                action: Action::Updated,
                before: Some(audit::member_snapshot(&before)),
                after: Some(audit::member_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a member with their memberships, sessions and personal tokens. The last active owner stays.
    pub async fn delete_member(&self, ctx: &WriteContext, id: MemberId) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_member(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("member"))?;
        if before.role == Role::Owner && before.status == MemberStatus::Active {
            self.check_other_owner_exists(&mut conn, id).await?;
        }
        self.check_no_open_tasks(&mut conn, id).await?;
        // A DingTalk userid goes with the member (its row cascades): it is kept, so that events rendered
        // later still name the user as DingTalk knew it (`user_leave_org`).
        conn.execute(
            Sql::new(
                "INSERT INTO dingtalk_former_users (organization_id, member_id, userid) \
                 SELECT organization_id, member_id, userid FROM dingtalk_users \
                 WHERE organization_id = $1 AND member_id = $2",
            )
            .bind(self.org_id)
            .bind(id),
        )
        .await?;
        conn.execute(
            Sql::new("DELETE FROM members WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Member,
                target_id: id.to_string(),
                action: Action::Deleted,
                before: Some(audit::member_snapshot(&before)),
                after: None,
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn load_member(
        &self,
        conn: &mut Conn<'_>,
        id: MemberId,
    ) -> Result<Option<Member>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            member_columns!(),
            " FROM members WHERE organization_id = $1 AND id = $2"
        ))
        .bind(self.org_id)
        .bind(id);
        let Some(row) = conn.fetch_optional::<MemberRow>(sql).await? else {
            return Ok(None);
        };
        let memberships: Vec<MembershipRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT member_id, department_id, is_head FROM member_departments \
                     WHERE organization_id = $1 AND member_id = $2 ORDER BY position",
                )
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
        row.into_model(&memberships).map(Some)
    }

    async fn memberships_of(
        &self,
        conn: &mut Conn<'_>,
        member_ids: &[Uuid],
    ) -> Result<Vec<MembershipRow>> {
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(
            "SELECT member_id, department_id, is_head FROM member_departments WHERE organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND member_id IN ")
        .list(member_ids.iter().copied())
        .push(" ORDER BY member_id ASC, position ASC");
        Ok(conn.fetch_all(sql.into_sql()).await?)
    }

    async fn insert_memberships(
        &self,
        conn: &mut Conn<'_>,
        member_id: MemberId,
        department_ids: &[DepartmentId],
        heads: &HashSet<DepartmentId>,
    ) -> Result<()> {
        if department_ids.len() > MEMBER_DEPARTMENTS_MAX {
            return Err(Invalid::from(
                tenon_model::Reason::too_many(
                    MEMBER_DEPARTMENTS_MAX,
                    format!("a member belongs to at most {MEMBER_DEPARTMENTS_MAX} departments"),
                )
                .at("department_ids"),
            )
            .into());
        }
        for (position, department_id) in department_ids.iter().enumerate() {
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            conn.execute(
                Sql::new(
                    "INSERT INTO member_departments (organization_id, member_id, department_id, position, is_head) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(self.org_id)
                .bind(member_id)
                .bind(*department_id)
                .bind(position)
                .bind(heads.contains(department_id)),
            )
            .await?;
        }
        Ok(())
    }

    async fn check_other_owner_exists(&self, conn: &mut Conn<'_>, except: MemberId) -> Result<()> {
        let (owners,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*) FROM members WHERE organization_id = $1 AND role = 'owner' \
                     AND status = 'active' AND id <> $2",
                )
                .bind(self.org_id)
                .bind(except),
            )
            .await?;
        if owners == 0 {
            return Err(StoreError::conflict(
                Some("role"),
                DetailCode::Conflict,
                "this is the organization's only active owner; make another member owner first",
            ));
        }
        Ok(())
    }
}

/// Turns a unique violation on members into a conflict that names the field.
fn member_conflict(error: sqlx::Error) -> StoreError {
    match unique_violation(&error) {
        Some(what) if what.contains("email") => StoreError::conflict(
            Some("email"),
            DetailCode::NotUnique,
            "a member with this e-mail address already exists",
        ),
        Some(what) if what.contains("mobile") => StoreError::conflict(
            Some("mobile"),
            DetailCode::NotUnique,
            "a member with this mobile number already exists",
        ),
        Some(what) if what.contains("employee_no") => StoreError::conflict(
            Some("employee_no"),
            DetailCode::NotUnique,
            "a member with this employee number already exists",
        ),
        _ => StoreError::from(error),
    }
}
