//! The directory of an organization: members, departments, memberships and department heads.

use std::collections::HashSet;

use sea_query::{Expr, ExprTrait, Order, Query};
use tenon_model::{
    Action, Department, DepartmentId, DepartmentPatch, Invalid, Member, MemberId, MemberPatch,
    MemberStatus, NewDepartment, NewMember, Page, PageRequest, Role, TargetKind,
};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::error::unique_violation;
use crate::exec::{Conn, Sql};
use crate::rows::{
    DepartmentRow, HeadRow, MemberRow, MembershipRow, department_columns, member_columns,
};
use crate::{Result, StoreError, Tenant, WriteContext};

/// How deep the department tree may grow; also bounds the ancestor walk of the cycle check.
pub const DEPARTMENT_DEPTH_MAX: i64 = 64;
/// How many departments one member may belong to.
pub const MEMBER_DEPARTMENTS_MAX: usize = 100;

/// Which members to list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only members of this department (not of its sub-departments).
    pub department_id: Option<DepartmentId>,
    pub status: Option<MemberStatus>,
    pub role: Option<Role>,
}

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
        let org = *self.org_id.as_uuid();
        let mut query = Query::select();
        query
            .expr(Expr::cust(member_columns!()))
            .from("members")
            .and_where(Expr::col("organization_id").eq(org))
            .order_by("id", Order::Asc)
            .limit(u64::from(page.size()) + 1);
        if let Some(after) = page.after {
            query.and_where(Expr::col("id").gt(*after.as_uuid()));
        }
        if let Some(status) = filter.status {
            query.and_where(Expr::col("status").eq(status.as_str()));
        }
        if let Some(role) = filter.role {
            query.and_where(Expr::col("role").eq(role.as_str()));
        }
        if let Some(department_id) = filter.department_id {
            query.and_where(
                Expr::col("id").in_subquery(
                    Query::select()
                        .column("member_id")
                        .from("member_departments")
                        .and_where(Expr::col("organization_id").eq(org))
                        .and_where(Expr::col("department_id").eq(*department_id.as_uuid()))
                        .to_owned(),
                ),
            );
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let rows: Vec<MemberRow> = conn.fetch_all(Sql::built(&query, conn.backend())).await?;
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
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        let root_id = self.root_department_id(&mut conn).await?;
        let member = self.insert_member(&mut conn, ctx, new, root_id).await?;
        drop(conn);
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
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
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
        drop(conn);
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a member with their memberships, sessions and personal tokens. The last active owner stays.
    pub async fn delete_member(&self, ctx: &WriteContext, id: MemberId) -> Result<()> {
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        let before = self
            .load_member(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("member"))?;
        if before.role == Role::Owner && before.status == MemberStatus::Active {
            self.check_other_owner_exists(&mut conn, id).await?;
        }
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
        drop(conn);
        tx.commit().await?;
        Ok(())
    }

    pub async fn department(&self, id: DepartmentId) -> Result<Department> {
        let mut pooled = self.store.pools.read().await?;
        self.load_department(&mut pooled.conn(), id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))
    }

    /// Departments in id order, optionally only the children of `parent_id`.
    pub async fn list_departments(
        &self,
        parent_id: Option<DepartmentId>,
        page: PageRequest<DepartmentId>,
    ) -> Result<Page<Department, DepartmentId>> {
        let org = *self.org_id.as_uuid();
        let mut query = Query::select();
        query
            .expr(Expr::cust(department_columns!()))
            .from("departments")
            .and_where(Expr::col("organization_id").eq(org))
            .order_by("id", Order::Asc)
            .limit(u64::from(page.size()) + 1);
        if let Some(after) = page.after {
            query.and_where(Expr::col("id").gt(*after.as_uuid()));
        }
        if let Some(parent_id) = parent_id {
            query.and_where(Expr::col("parent_id").eq(*parent_id.as_uuid()));
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let rows: Vec<DepartmentRow> = conn.fetch_all(Sql::built(&query, conn.backend())).await?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let heads = self.heads_of(&mut conn, &ids).await?;
        let departments = rows
            .into_iter()
            .map(|row| row.into_model(&heads))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(
            departments,
            page.size(),
            |department: &Department| department.id,
        ))
    }

    pub async fn create_department(
        &self,
        ctx: &WriteContext,
        new: NewDepartment,
    ) -> Result<Department> {
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        let parent_id = match new.parent_id {
            Some(parent_id) => {
                self.check_departments_exist(&mut conn, &[parent_id], "parent_id")
                    .await?;
                parent_id
            }
            None => self.root_department_id(&mut conn).await?,
        };
        if self.depth_of(&mut conn, parent_id).await? + 1 > DEPARTMENT_DEPTH_MAX {
            return Err(Invalid::one(
                "parent_id",
                format!("departments nest at most {DEPARTMENT_DEPTH_MAX} deep"),
            )
            .into());
        }
        let id = DepartmentId::new();
        conn.execute(
            Sql::new(
                "INSERT INTO departments (organization_id, id, name, parent_id, sort_order, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(new.name.as_str())
            .bind(parent_id)
            .bind(new.sort_order)
            .bind(self.store.now()),
        )
        .await?;
        self.set_heads(&mut conn, id, &new.head_ids).await?;
        let department = self
            .load_department(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Department,
                target_id: id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(audit::department_snapshot(&department)),
                ctx,
            },
        )
        .await?;
        drop(conn);
        tx.commit().await?;
        Ok(department)
    }

    pub async fn update_department(
        &self,
        ctx: &WriteContext,
        id: DepartmentId,
        patch: DepartmentPatch,
    ) -> Result<Department> {
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        let before = self
            .load_department(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))?;
        let parent_id = match (patch.parent_id, before.parent_id) {
            (Some(_), None) => {
                return Err(
                    Invalid::one("parent_id", "the root department cannot be moved").into(),
                );
            }
            (Some(new_parent), Some(old_parent)) if new_parent != old_parent => {
                self.check_departments_exist(&mut conn, &[new_parent], "parent_id")
                    .await?;
                if self.is_ancestor_or_self(&mut conn, id, new_parent).await? {
                    return Err(Invalid::one(
                        "parent_id",
                        "a department cannot be moved under itself or one of its sub-departments",
                    )
                    .into());
                }
                let new_depth = self.depth_of(&mut conn, new_parent).await?
                    + 1
                    + self.height_below(&mut conn, id).await?;
                if new_depth > DEPARTMENT_DEPTH_MAX {
                    return Err(Invalid::one(
                        "parent_id",
                        format!("departments nest at most {DEPARTMENT_DEPTH_MAX} deep"),
                    )
                    .into());
                }
                Some(new_parent)
            }
            (_, old_parent) => old_parent,
        };
        conn.execute(
            Sql::new(
                "UPDATE departments SET name = $3, parent_id = $4, sort_order = $5, updated_at = $6 \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(patch.name.as_ref().unwrap_or(&before.name).as_str())
            .bind(parent_id)
            .bind(patch.sort_order.unwrap_or(before.sort_order))
            .bind(self.store.now()),
        )
        .await?;
        if let Some(head_ids) = &patch.head_ids {
            conn.execute(
                Sql::new("UPDATE member_departments SET is_head = FALSE WHERE organization_id = $1 AND department_id = $2")
                    .bind(self.org_id)
                    .bind(id),
            )
            .await?;
            self.set_heads(&mut conn, id, head_ids).await?;
        }
        let after = self
            .load_department(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Department,
                target_id: id.to_string(),
                action: Action::Updated,
                before: Some(audit::department_snapshot(&before)),
                after: Some(audit::department_snapshot(&after)),
                ctx,
            },
        )
        .await?;
        drop(conn);
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes an empty department: not the root, no sub-departments, no members (as DingTalk requires).
    pub async fn delete_department(&self, ctx: &WriteContext, id: DepartmentId) -> Result<()> {
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        let before = self
            .load_department(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))?;
        if before.parent_id.is_none() {
            return Err(StoreError::conflict(
                None,
                "the root department cannot be deleted",
            ));
        }
        let (children,): (i64,) = conn
            .fetch_one(
                Sql::new("SELECT COUNT(*) FROM departments WHERE organization_id = $1 AND parent_id = $2")
                    .bind(self.org_id)
                    .bind(id),
            )
            .await?;
        if children > 0 {
            return Err(StoreError::conflict(
                None,
                format!("the department has {children} sub-departments; move or delete them first"),
            ));
        }
        let (members,): (i64,) = conn
            .fetch_one(
                Sql::new("SELECT COUNT(*) FROM member_departments WHERE organization_id = $1 AND department_id = $2")
                    .bind(self.org_id)
                    .bind(id),
            )
            .await?;
        if members > 0 {
            return Err(StoreError::conflict(
                None,
                format!(
                    "the department has {members} members; move them to another department first"
                ),
            ));
        }
        conn.execute(
            Sql::new("DELETE FROM departments WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Department,
                target_id: id.to_string(),
                action: Action::Deleted,
                before: Some(audit::department_snapshot(&before)),
                after: None,
                ctx,
            },
        )
        .await?;
        drop(conn);
        tx.commit().await?;
        Ok(())
    }

    // ---- helpers shared by the operations above ----

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
        let query = Query::select()
            .columns(["member_id", "department_id", "is_head"])
            .from("member_departments")
            .and_where(Expr::col("organization_id").eq(*self.org_id.as_uuid()))
            .and_where(Expr::col("member_id").is_in(member_ids.iter().copied()))
            .order_by("member_id", Order::Asc)
            .order_by("position", Order::Asc)
            .to_owned();
        Ok(conn.fetch_all(Sql::built(&query, conn.backend())).await?)
    }

    async fn load_department(
        &self,
        conn: &mut Conn<'_>,
        id: DepartmentId,
    ) -> Result<Option<Department>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            department_columns!(),
            " FROM departments WHERE organization_id = $1 AND id = $2"
        ))
        .bind(self.org_id)
        .bind(id);
        let Some(row) = conn.fetch_optional::<DepartmentRow>(sql).await? else {
            return Ok(None);
        };
        let heads = self.heads_of(conn, &[*id.as_uuid()]).await?;
        row.into_model(&heads).map(Some)
    }

    async fn heads_of(&self, conn: &mut Conn<'_>, department_ids: &[Uuid]) -> Result<Vec<HeadRow>> {
        if department_ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = Query::select()
            .columns(["department_id", "member_id"])
            .from("member_departments")
            .and_where(Expr::col("organization_id").eq(*self.org_id.as_uuid()))
            .and_where(Expr::col("department_id").is_in(department_ids.iter().copied()))
            .and_where(Expr::col("is_head").eq(true))
            .order_by("department_id", Order::Asc)
            .order_by("member_id", Order::Asc)
            .to_owned();
        Ok(conn.fetch_all(Sql::built(&query, conn.backend())).await?)
    }

    pub(crate) async fn root_department_id(&self, conn: &mut Conn<'_>) -> Result<DepartmentId> {
        let row: Option<(Uuid,)> = conn
            .fetch_optional(
                Sql::new("SELECT root_department_id FROM organizations WHERE id = $1")
                    .bind(self.org_id),
            )
            .await?;
        row.map(|(id,)| DepartmentId::from_uuid(id))
            .ok_or_else(|| StoreError::not_found("organization"))
    }

    /// Refuses ids that are not departments of this organization, naming each by its position.
    async fn check_departments_exist(
        &self,
        conn: &mut Conn<'_>,
        ids: &[DepartmentId],
        field: &str,
    ) -> Result<()> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let query = Query::select()
            .column("id")
            .from("departments")
            .and_where(Expr::col("organization_id").eq(*self.org_id.as_uuid()))
            .and_where(Expr::col("id").is_in(uuids.iter().copied()))
            .to_owned();
        let found: Vec<(Uuid,)> = conn.fetch_all(Sql::built(&query, conn.backend())).await?;
        let found: HashSet<Uuid> = found.into_iter().map(|(id,)| id).collect();
        let mut check = tenon_model::Checker::default();
        for (idx, id) in uuids.iter().enumerate() {
            if !found.contains(id) {
                let path = if ids.len() == 1 && !field.ends_with("ids") {
                    field.to_owned()
                } else {
                    format!("{field}[{idx}]")
                };
                check.push(path, "no department with this id in the organization");
            }
        }
        Ok(check.finish()?)
    }

    async fn check_members_exist(
        &self,
        conn: &mut Conn<'_>,
        ids: &[MemberId],
        field: &str,
    ) -> Result<()> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let query = Query::select()
            .column("id")
            .from("members")
            .and_where(Expr::col("organization_id").eq(*self.org_id.as_uuid()))
            .and_where(Expr::col("id").is_in(uuids.iter().copied()))
            .to_owned();
        let found: Vec<(Uuid,)> = conn.fetch_all(Sql::built(&query, conn.backend())).await?;
        let found: HashSet<Uuid> = found.into_iter().map(|(id,)| id).collect();
        let mut check = tenon_model::Checker::default();
        for (idx, id) in uuids.iter().enumerate() {
            if !found.contains(id) {
                check.push(
                    format!("{field}[{idx}]"),
                    "no member with this id in the organization",
                );
            }
        }
        Ok(check.finish()?)
    }

    async fn insert_memberships(
        &self,
        conn: &mut Conn<'_>,
        member_id: MemberId,
        department_ids: &[DepartmentId],
        heads: &HashSet<DepartmentId>,
    ) -> Result<()> {
        if department_ids.len() > MEMBER_DEPARTMENTS_MAX {
            return Err(Invalid::one(
                "department_ids",
                format!("a member belongs to at most {MEMBER_DEPARTMENTS_MAX} departments"),
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

    /// Marks `head_ids` as heads of the department, adding them to it where they were not members.
    async fn set_heads(
        &self,
        conn: &mut Conn<'_>,
        department_id: DepartmentId,
        head_ids: &[MemberId],
    ) -> Result<()> {
        let head_ids = dedup(head_ids.to_vec());
        if head_ids.is_empty() {
            return Ok(());
        }
        self.check_members_exist(conn, &head_ids, "head_ids")
            .await?;
        for member_id in head_ids {
            conn.execute(
                Sql::new(
                    "INSERT INTO member_departments (organization_id, member_id, department_id, position, is_head) \
                     VALUES ($1, $2, $3, (SELECT COALESCE(MAX(position), -1) + 1 FROM member_departments \
                     WHERE organization_id = $1 AND member_id = $2), TRUE) \
                     ON CONFLICT (organization_id, member_id, department_id) DO UPDATE SET is_head = TRUE",
                )
                .bind(self.org_id)
                .bind(member_id)
                .bind(department_id),
            )
            .await?;
        }
        Ok(())
    }

    /// Whether `ancestor` is `department` itself or above it in the tree.
    async fn is_ancestor_or_self(
        &self,
        conn: &mut Conn<'_>,
        ancestor: DepartmentId,
        department: DepartmentId,
    ) -> Result<bool> {
        let (count,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "WITH RECURSIVE chain (id, parent_id, depth) AS ( \
                       SELECT id, parent_id, 0 FROM departments WHERE organization_id = $1 AND id = $2 \
                       UNION ALL \
                       SELECT d.id, d.parent_id, c.depth + 1 FROM departments d JOIN chain c ON d.id = c.parent_id \
                       WHERE d.organization_id = $1 AND c.depth < $4 \
                     ) SELECT COUNT(*) FROM chain WHERE id = $3",
                )
                .bind(self.org_id)
                .bind(department)
                .bind(ancestor)
                .bind(DEPARTMENT_DEPTH_MAX),
            )
            .await?;
        Ok(count > 0)
    }

    /// The number of edges from the root down to `department` (the root has depth 0).
    async fn depth_of(&self, conn: &mut Conn<'_>, department: DepartmentId) -> Result<i64> {
        let (depth,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "WITH RECURSIVE chain (id, parent_id, depth) AS ( \
                       SELECT id, parent_id, 0 FROM departments WHERE organization_id = $1 AND id = $2 \
                       UNION ALL \
                       SELECT d.id, d.parent_id, c.depth + 1 FROM departments d JOIN chain c ON d.id = c.parent_id \
                       WHERE d.organization_id = $1 AND c.depth < $3 \
                     ) SELECT CAST(COALESCE(MAX(depth), 0) AS BIGINT) FROM chain",
                )
                .bind(self.org_id)
                .bind(department)
                .bind(DEPARTMENT_DEPTH_MAX),
            )
            .await?;
        Ok(depth)
    }

    /// How many levels of sub-departments hang below `department` (0 for a leaf).
    async fn height_below(&self, conn: &mut Conn<'_>, department: DepartmentId) -> Result<i64> {
        let (height,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "WITH RECURSIVE below (id, depth) AS ( \
                       SELECT id, 0 FROM departments WHERE organization_id = $1 AND id = $2 \
                       UNION ALL \
                       SELECT d.id, b.depth + 1 FROM departments d JOIN below b ON d.parent_id = b.id \
                       WHERE d.organization_id = $1 AND b.depth < $3 \
                     ) SELECT CAST(COALESCE(MAX(depth), 0) AS BIGINT) FROM below",
                )
                .bind(self.org_id)
                .bind(department)
                .bind(DEPARTMENT_DEPTH_MAX),
            )
            .await?;
        Ok(height)
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
                "this is the organization's only active owner; make another member owner first",
            ));
        }
        Ok(())
    }
}

fn dedup<T: Copy + Eq + std::hash::Hash>(ids: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

/// Turns a unique violation on members into a conflict that names the field.
fn member_conflict(error: sqlx::Error) -> StoreError {
    match unique_violation(&error) {
        Some(what) if what.contains("email") => StoreError::conflict(
            Some("email"),
            "a member with this e-mail address already exists",
        ),
        Some(what) if what.contains("mobile") => StoreError::conflict(
            Some("mobile"),
            "a member with this mobile number already exists",
        ),
        Some(what) if what.contains("employee_no") => StoreError::conflict(
            Some("employee_no"),
            "a member with this employee number already exists",
        ),
        _ => StoreError::from(error),
    }
}
