//! The directory of an organization: members, departments, memberships and department heads.
//!
//! `members` owns people and their memberships, `departments` the tree and its heads; this module holds
//! the checks both use (does this department or member exist in this organization?).

use std::collections::HashSet;

use tenon_model::{DepartmentId, MemberId, MemberStatus, Role};
use uuid::Uuid;

use crate::exec::{Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant};

mod departments;
mod members;

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
    /// Only members whose name, e-mail address or mobile contains this text (any letter case).
    pub q: Option<String>,
}

impl Tenant<'_> {
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
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push("SELECT id FROM departments WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND id IN ")
            .list(uuids.iter().copied());
        let found: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        let found: HashSet<Uuid> = found.into_iter().map(|(id,)| id).collect();
        let mut check = tenon_model::Checker::default();
        for (idx, id) in uuids.iter().enumerate() {
            if !found.contains(id) {
                let path = if ids.len() == 1 && !field.ends_with("ids") {
                    field.to_owned()
                } else {
                    format!("{field}[{idx}]")
                };
                check.add(
                    tenon_model::Reason::not_found(
                        "department",
                        "no department with this id in the organization",
                    )
                    .at(path),
                );
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
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push("SELECT id FROM members WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND id IN ")
            .list(uuids.iter().copied());
        let found: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        let found: HashSet<Uuid> = found.into_iter().map(|(id,)| id).collect();
        let mut check = tenon_model::Checker::default();
        for (idx, id) in uuids.iter().enumerate() {
            if !found.contains(id) {
                check.add(
                    tenon_model::Reason::not_found(
                        "member",
                        "no member with this id in the organization",
                    )
                    .at(format!("{field}[{idx}]")),
                );
            }
        }
        Ok(check.finish()?)
    }
}

fn dedup<T: Copy + Eq + std::hash::Hash>(ids: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}
