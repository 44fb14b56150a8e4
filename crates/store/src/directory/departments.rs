//! Departments: the tree (creation, moves without cycles, deletion of empty departments) and its heads.

use tenon_model::{
    Action, Department, DepartmentId, DepartmentPatch, DetailCode, Invalid, MemberId,
    NewDepartment, Page, PageRequest, TargetKind,
};
use uuid::Uuid;

use super::{DEPARTMENT_DEPTH_MAX, dedup};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::rows::{DepartmentRow, HeadRow, department_columns};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

impl Tenant<'_> {
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
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(concat!(
            "SELECT ",
            department_columns!(),
            " FROM departments WHERE organization_id = "
        ))
        .arg(self.org_id);
        if let Some(after) = page.after {
            sql.push(" AND id > ").arg(after);
        }
        if let Some(parent_id) = parent_id {
            sql.push(" AND parent_id = ").arg(parent_id);
        }
        sql.push(" ORDER BY id ASC")
            .limit(u64::from(page.size()) + 1);
        let rows: Vec<DepartmentRow> = conn.fetch_all(sql.into_sql()).await?;
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
        let mut tx = self.store.begin_tx().await?;
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
            return Err(Invalid::from(
                tenon_model::FieldError::new(
                    "parent_id",
                    tenon_model::DetailCode::TooDeep,
                    format!("departments nest at most {DEPARTMENT_DEPTH_MAX} deep"),
                )
                .with("max", DEPARTMENT_DEPTH_MAX),
            )
            .into());
        }
        let id = DepartmentId::new();
        // The organization's counter, taken in this transaction: numbers are never reused.
        let (number,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "UPDATE organizations SET department_number_next = department_number_next + 1 \
                     WHERE id = $1 RETURNING department_number_next - 1",
                )
                .bind(self.org_id),
            )
            .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO departments (organization_id, id, name, parent_id, sort_order, number, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(new.name.as_str())
            .bind(parent_id)
            .bind(new.sort_order)
            .bind(number)
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
        tx.commit().await?;
        Ok(department)
    }

    pub async fn update_department(
        &self,
        ctx: &WriteContext,
        id: DepartmentId,
        patch: DepartmentPatch,
    ) -> Result<Department> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_department(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))?;
        let parent_id = match (patch.parent_id, before.parent_id) {
            (Some(_), None) => {
                return Err(Invalid::one(
                    "parent_id",
                    tenon_model::DetailCode::NotAllowed,
                    "the root department cannot be moved",
                )
                .into());
            }
            (Some(new_parent), Some(old_parent)) if new_parent != old_parent => {
                self.check_departments_exist(&mut conn, &[new_parent], "parent_id")
                    .await?;
                if self.is_ancestor_or_self(&mut conn, id, new_parent).await? {
                    return Err(Invalid::one(
                        "parent_id",
                        tenon_model::DetailCode::Cycle,
                        "a department cannot be moved under itself or one of its sub-departments",
                    )
                    .into());
                }
                let new_depth = self.depth_of(&mut conn, new_parent).await?
                    + 1
                    + self.height_below(&mut conn, id).await?;
                if new_depth > DEPARTMENT_DEPTH_MAX {
                    return Err(Invalid::from(
                        tenon_model::FieldError::new(
                            "parent_id",
                            tenon_model::DetailCode::TooDeep,
                            format!("departments nest at most {DEPARTMENT_DEPTH_MAX} deep"),
                        )
                        .with("max", DEPARTMENT_DEPTH_MAX),
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
                Sql::new(
                    "UPDATE member_departments SET is_head = FALSE WHERE organization_id = $1 AND department_id = $2",
                )
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
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes an empty department: not the root, no sub-departments, no members (as DingTalk requires).
    pub async fn delete_department(&self, ctx: &WriteContext, id: DepartmentId) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_department(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("department"))?;
        if before.parent_id.is_none() {
            return Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
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
                Some("id"),
                DetailCode::HasSubDepartments,
                format!("the department has {children} sub-departments; move or delete them first"),
            )
            .with("count", children));
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
                Some("id"),
                DetailCode::HasMembers,
                format!(
                    "the department has {members} members; move them to another department first"
                ),
            )
            .with("count", members));
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
        tx.commit().await?;
        Ok(())
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
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(
            "SELECT department_id, member_id FROM member_departments WHERE organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND department_id IN ")
        .list(department_ids.iter().copied())
        .push(" AND is_head = ")
        .arg(true)
        .push(" ORDER BY department_id ASC, member_id ASC");
        Ok(conn.fetch_all(sql.into_sql()).await?)
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
}
