//! What the DingTalk-compatible API (#21) reads beside the native directory: departments by their
//! `number` (DingTalk's `dept_id`, migration `0014_dingtalk`).

use crate::exec::Sql;
use crate::{Result, Tenant};

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
