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
