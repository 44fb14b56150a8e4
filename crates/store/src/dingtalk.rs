//! What the DingTalk-compatible API (#21) reads beside the native directory: departments by their
//! `number` (DingTalk's `dept_id`, migration `0014_dingtalk`).

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use tenon_model::{DepartmentId, DetailCode, MemberId, NewMember, Role};
use uuid::Uuid;

use crate::error::unique_violation;
use crate::exec::{Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// A department as DingTalk names it: by numbers.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DingTalkDepartment {
    pub number: i64,
    pub name: String,
    /// `None` for the root (number 1).
    pub parent_number: Option<i64>,
    pub sort_order: i64,
}

macro_rules! select_departments {
    ($rest:literal) => {
        concat!(
            "SELECT d.number, d.name, p.number AS parent_number, d.sort_order \
             FROM departments d LEFT JOIN departments p \
             ON p.organization_id = d.organization_id AND p.id = d.parent_id \
             WHERE d.organization_id = $1",
            $rest
        )
    };
}

impl Tenant<'_> {
    /// The department numbered `number`, if any.
    pub async fn dingtalk_department(&self, number: i64) -> Result<Option<DingTalkDepartment>> {
        let mut pooled = self.store.pools.read().await?;
        let sql = Sql::new(select_departments!(" AND d.number = $2"))
            .bind(self.org_id)
            .bind(number);
        Ok(pooled.conn().fetch_optional(sql).await?)
    }

    /// The departments right under the one numbered `number` (one level), by sort order then number;
    /// `None` when there is no such department.
    pub async fn dingtalk_sub_departments(
        &self,
        number: i64,
    ) -> Result<Option<Vec<DingTalkDepartment>>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let parent: Option<DingTalkDepartment> = conn
            .fetch_optional(
                Sql::new(select_departments!(" AND d.number = $2"))
                    .bind(self.org_id)
                    .bind(number),
            )
            .await?;
        if parent.is_none() {
            return Ok(None);
        }
        let sql = Sql::new(select_departments!(
            " AND p.number = $2 ORDER BY d.sort_order, d.number"
        ))
        .bind(self.org_id)
        .bind(number);
        Ok(Some(conn.fetch_all(sql).await?))
    }
}

/// A match of [`Tenant::dingtalk_search_users`]: the member and its DingTalk `userid`, if one was chosen.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DingTalkUserMatch {
    pub member_id: uuid::Uuid,
    pub userid: Option<String>,
}

impl Tenant<'_> {
    /// Active members whose name, mobile or employee number contains `word` (ASCII case ignored), by id:
    /// the total and the page at `offset` of at most `size`.
    pub async fn dingtalk_search_users(
        &self,
        word: &str,
        offset: i64,
        size: i64,
    ) -> Result<(i64, Vec<DingTalkUserMatch>)> {
        let pattern = format!(
            "%{}%",
            word.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (total,): (i64,) = conn
            .fetch_one(
                Sql::new(concat!(
                    "SELECT COUNT(*) FROM members m WHERE m.organization_id = $1 AND m.status = 'active' ",
                    "AND (LOWER(m.name) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(m.mobile, '')) LIKE $2 ESCAPE '\\' ",
                    "OR LOWER(COALESCE(m.employee_no, '')) LIKE $2 ESCAPE '\\')"
                ))
                .bind(self.org_id)
                .bind(pattern.clone()),
            )
            .await?;
        let rows = conn
            .fetch_all(
                Sql::new(concat!(
                    "SELECT m.id AS member_id, u.userid FROM members m LEFT JOIN dingtalk_users u ",
                    "ON u.organization_id = m.organization_id AND u.member_id = m.id ",
                    "WHERE m.organization_id = $1 AND m.status = 'active' ",
                    "AND (LOWER(m.name) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(m.mobile, '')) LIKE $2 ESCAPE '\\' ",
                    "OR LOWER(COALESCE(m.employee_no, '')) LIKE $2 ESCAPE '\\') ",
                    "ORDER BY m.id LIMIT $3 OFFSET $4"
                ))
                .bind(self.org_id)
                .bind(pattern)
                .bind(size)
                .bind(offset),
            )
            .await?;
        Ok((total, rows))
    }
}

/// A member as DingTalk's `topapi/v2/user/*` shows it: its `userid` and `unionid`, and its departments by
/// number with whether it heads each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DingTalkUser {
    pub member_id: MemberId,
    pub userid: String,
    pub unionid: String,
    pub name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub job_title: Option<String>,
    pub employee_no: Option<String>,
    pub role: Role,
    /// `(number, heads it)` in the member's order of departments.
    pub departments: Vec<(i64, bool)>,
}

#[derive(sqlx::FromRow)]
struct DingTalkUserRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    mobile: Option<String>,
    job_title: Option<String>,
    employee_no: Option<String>,
    role: String,
    userid: Option<String>,
    unionid: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DingTalkMembershipRow {
    member_id: Uuid,
    number: i64,
    is_head: bool,
}

/// A member's `unionid`: derived from its id once, so it is the same whether or not the member has a
/// `dingtalk_users` row yet, and never changes.
pub fn dingtalk_unionid(member_id: MemberId) -> String {
    let digest = Sha256::new()
        .chain_update(b"tenon dingtalk unionid\0")
        .chain_update(member_id.as_uuid().as_bytes())
        .finalize();
    digest[..12]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "SELECT m.id, m.name, m.email, m.mobile, m.job_title, m.employee_no, m.role, u.userid, u.unionid \
             FROM members m LEFT JOIN dingtalk_users u \
             ON u.organization_id = m.organization_id AND u.member_id = m.id \
             WHERE m.organization_id = $1 AND m.status = 'active'",
            $rest
        )
    };
}

impl Tenant<'_> {
    /// The id of the department numbered `number`, if any.
    pub async fn dingtalk_department_id(&self, number: i64) -> Result<Option<DepartmentId>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(Uuid,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new("SELECT id FROM departments WHERE organization_id = $1 AND number = $2")
                    .bind(self.org_id)
                    .bind(number),
            )
            .await?;
        Ok(row.map(|(id,)| DepartmentId::from_uuid(id)))
    }

    /// The ids of the departments numbered `numbers`, in order; `Err(number)` names the first that does not
    /// exist.
    pub async fn dingtalk_department_ids(
        &self,
        numbers: &[i64],
    ) -> Result<std::result::Result<Vec<DepartmentId>, i64>> {
        if numbers.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push("SELECT number, id FROM departments WHERE organization_id = ")
            .arg(self.org_id)
            .push(" AND number IN ")
            .list(numbers.iter().copied());
        let rows: Vec<(i64, Uuid)> = conn.fetch_all(sql.into_sql()).await?;
        let found: HashMap<i64, Uuid> = rows.into_iter().collect();
        Ok(numbers
            .iter()
            .map(|number| {
                found
                    .get(number)
                    .map(|id| DepartmentId::from_uuid(*id))
                    .ok_or(*number)
            })
            .collect())
    }

    /// The active member whose `userid` is `userid`: the one chosen for it, else (without a
    /// `dingtalk_users` row) its member id.
    pub async fn dingtalk_user(&self, userid: &str) -> Result<Option<DingTalkUser>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let rows: Vec<DingTalkUserRow> = match userid.parse::<MemberId>() {
            // Both ways in one query (at most a row each); the chosen userid wins below.
            Ok(member_id) => {
                conn.fetch_all(
                    Sql::new(concat!(
                        select_users!(" AND u.userid = $2"),
                        " UNION ALL ",
                        select_users!(" AND m.id = $3 AND u.userid IS NULL")
                    ))
                    .bind(self.org_id)
                    .bind(userid)
                    .bind(member_id),
                )
                .await?
            }
            Err(_) => {
                conn.fetch_all(
                    Sql::new(select_users!(" AND u.userid = $2"))
                        .bind(self.org_id)
                        .bind(userid),
                )
                .await?
            }
        };
        let chosen = rows
            .iter()
            .position(|row| row.userid.as_deref() == Some(userid));
        let Some(row) = rows.into_iter().nth(chosen.unwrap_or(0)) else {
            return Ok(None);
        };
        let mut users = self.dingtalk_users_of(&mut conn, vec![row]).await?;
        Ok(users.pop())
    }

    /// The active members of the department numbered `number` (not of its sub-departments), by member id:
    /// the page of at most `size` after skipping `offset`, and whether more follow. `None` when there is
    /// no such department.
    pub async fn dingtalk_users_in_department(
        &self,
        number: i64,
        offset: i64,
        size: i64,
    ) -> Result<Option<(Vec<DingTalkUser>, bool)>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let department: Option<(Uuid,)> = conn
            .fetch_optional(
                Sql::new("SELECT id FROM departments WHERE organization_id = $1 AND number = $2")
                    .bind(self.org_id)
                    .bind(number),
            )
            .await?;
        let Some((department_id,)) = department else {
            return Ok(None);
        };
        let mut rows: Vec<DingTalkUserRow> = conn
            .fetch_all(
                Sql::new(select_users!(
                    " AND m.id IN (SELECT md.member_id FROM member_departments md \
                     WHERE md.organization_id = $1 AND md.department_id = $2) \
                     ORDER BY m.id LIMIT $3 OFFSET $4"
                ))
                .bind(self.org_id)
                .bind(department_id)
                .bind(size.saturating_add(1))
                .bind(offset),
            )
            .await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > size;
        rows.truncate(usize::try_from(size).unwrap_or(0));
        let users = self.dingtalk_users_of(&mut conn, rows).await?;
        Ok(Some((users, more)))
    }

    /// The `userid` of the active member with this mobile number (as `Mobile` normalizes it), if any.
    pub async fn dingtalk_userid_by_mobile(&self, mobile: &str) -> Result<Option<String>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<DingTalkUserRow> = pooled
            .conn()
            .fetch_optional(
                Sql::new(select_users!(" AND m.mobile = $2"))
                    .bind(self.org_id)
                    .bind(mobile),
            )
            .await?;
        Ok(row.map(|row| {
            row.userid
                .unwrap_or_else(|| MemberId::from_uuid(row.id).to_string())
        }))
    }

    /// Creates a member and its DingTalk identity in one transaction: `userid` as chosen (else the member
    /// id) and its `unionid`. A `userid` already taken — chosen for another member, or another member's id
    /// — is a conflict at `userid`.
    pub async fn dingtalk_create_user(
        &self,
        ctx: &WriteContext,
        new: NewMember,
        userid: Option<&str>,
    ) -> Result<DingTalkUser> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if let Some(userid) = userid {
            let taken: Option<(Uuid,)> = conn
                .fetch_optional(
                    Sql::new("SELECT member_id FROM dingtalk_users WHERE organization_id = $1 AND userid = $2")
                        .bind(self.org_id)
                        .bind(userid),
                )
                .await?;
            let member_taken = match userid.parse::<MemberId>() {
                Ok(member_id) => self.load_member(&mut conn, member_id).await?.is_some(),
                Err(_) => false,
            };
            if taken.is_some() || member_taken {
                return Err(userid_taken());
            }
        }
        let root_id = self.root_department_id(&mut conn).await?;
        let member = self.insert_member(&mut conn, ctx, new, root_id).await?;
        let userid = userid
            .map(str::to_owned)
            .unwrap_or_else(|| member.id.to_string());
        let unionid = dingtalk_unionid(member.id);
        conn.execute(
            Sql::new(
                "INSERT INTO dingtalk_users (organization_id, member_id, userid, unionid, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.org_id)
            .bind(member.id)
            .bind(userid.as_str())
            .bind(unionid.as_str())
            .bind(self.store.now()),
        )
        .await
        .map_err(|error| match unique_violation(&error) {
            Some(what) if what.contains("userid") => userid_taken(),
            _ => StoreError::from(error),
        })?;
        let row = DingTalkUserRow {
            id: *member.id.as_uuid(),
            name: member.name.as_str().to_owned(),
            email: member.email.as_ref().map(|email| email.as_str().to_owned()),
            mobile: member
                .mobile
                .as_ref()
                .map(|mobile| mobile.as_str().to_owned()),
            job_title: member.job_title.as_deref().map(str::to_owned),
            employee_no: member.employee_no.as_deref().map(str::to_owned),
            role: member.role.as_str().to_owned(),
            userid: Some(userid),
            unionid: Some(unionid),
        };
        let mut users = self.dingtalk_users_of(&mut conn, vec![row]).await?;
        tx.commit().await?;
        users.pop().ok_or_else(|| StoreError::not_found("member"))
    }

    async fn dingtalk_users_of(
        &self,
        conn: &mut Conn<'_>,
        rows: Vec<DingTalkUserRow>,
    ) -> Result<Vec<DingTalkUser>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(
            "SELECT md.member_id, d.number, md.is_head FROM member_departments md \
             JOIN departments d ON d.organization_id = md.organization_id AND d.id = md.department_id \
             WHERE md.organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND md.member_id IN ")
        .list(rows.iter().map(|row| row.id))
        .push(" ORDER BY md.member_id, md.position");
        let memberships: Vec<DingTalkMembershipRow> = conn.fetch_all(sql.into_sql()).await?;
        rows.into_iter()
            .map(|row| {
                let member_id = MemberId::from_uuid(row.id);
                let role: Role = row
                    .role
                    .parse()
                    .map_err(|()| StoreError::Corrupt(format!("member role {}", row.role)))?;
                Ok(DingTalkUser {
                    member_id,
                    userid: row.userid.unwrap_or_else(|| member_id.to_string()),
                    unionid: row.unionid.unwrap_or_else(|| dingtalk_unionid(member_id)),
                    name: row.name,
                    email: row.email,
                    mobile: row.mobile,
                    job_title: row.job_title,
                    employee_no: row.employee_no,
                    role,
                    departments: memberships
                        .iter()
                        .filter(|membership| membership.member_id == row.id)
                        .map(|membership| (membership.number, membership.is_head))
                        .collect(),
                })
            })
            .collect()
    }
}

fn userid_taken() -> StoreError {
    StoreError::conflict(
        Some("userid"),
        DetailCode::NotUnique,
        "another member of the organization has this userid",
    )
}
