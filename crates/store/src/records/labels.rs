//! Records, members and departments by what people call them: the records, members and departments
//! a list of labels names (imports that name linked records, members or departments), and the names
//! of the members and departments that record cells show.

use std::collections::HashMap;

use tenon_model::apps::{Storage, TableSchema};
use tenon_model::{DepartmentId, MemberId};
use uuid::Uuid;

use super::{query, write};
use crate::apps::ddl;
use crate::exec::{Conn, quote};
use crate::{Result, Tenant};

impl Tenant<'_> {
    /// Records whose primary field's text equals one of `labels` (for imports that name linked records).
    pub async fn records_by_label(
        &self,
        schema: &TableSchema,
        labels: &[String],
    ) -> Result<HashMap<String, Vec<Uuid>>> {
        let mut found: HashMap<String, Vec<Uuid>> = HashMap::new();
        let Some(primary) = schema
            .primary_field()
            .filter(|field| field.kind.storage() == Storage::Text)
        else {
            return Ok(found);
        };
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let column = format!("r.{}", quote(&ddl::column_name(primary.id)));
        for chunk in labels.chunks(write::IDS_PER_STATEMENT) {
            let mut sql = query::SqlText::new(conn.backend());
            sql.push(&format!(
                "SELECT r.id, {column} FROM {} AS r WHERE {column} IN (",
                quote(&ddl::table_name(schema.table.id))
            ));
            sql.args(
                chunk
                    .iter()
                    .map(|label| crate::exec::Arg::Text(Some(label.clone()))),
            );
            sql.push(")");
            let rows: Vec<(Uuid, String)> = conn.fetch_all(sql.into_sql()).await?;
            for (id, label) in rows {
                found.entry(label).or_default().push(id);
            }
        }
        Ok(found)
    }

    /// Members whose exact name, e-mail address (in any case) or mobile number equals one of `labels`.
    pub async fn members_by_label(&self, labels: &[String]) -> Result<HashMap<String, Vec<Uuid>>> {
        let mut found: HashMap<String, Vec<Uuid>> = HashMap::new();
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        for chunk in labels.chunks(write::IDS_PER_STATEMENT) {
            let lowered: Vec<String> = chunk.iter().map(|label| label.to_lowercase()).collect();
            // Mobile numbers are kept without spaces or dashes.
            let mobiles: Vec<String> = chunk
                .iter()
                .map(|label| label.chars().filter(|c| !matches!(c, ' ' | '-')).collect())
                .collect();
            let mut sql = query::SqlText::new(conn.backend());
            sql.push("SELECT id, name, email, mobile FROM members WHERE organization_id = ")
                .arg(crate::exec::Arg::Uuid(Some(*self.org_id.as_uuid())));
            sql.push(" AND (name IN (").args(
                chunk
                    .iter()
                    .map(|label| crate::exec::Arg::Text(Some(label.clone()))),
            );
            sql.push(") OR email IN (")
                .args(
                    lowered
                        .iter()
                        .map(|label| crate::exec::Arg::Text(Some(label.clone()))),
                )
                .push(") OR mobile IN (")
                .args(
                    mobiles
                        .iter()
                        .map(|label| crate::exec::Arg::Text(Some(label.clone()))),
                )
                .push("))");
            let rows: Vec<(Uuid, String, Option<String>, Option<String>)> =
                conn.fetch_all(sql.into_sql()).await?;
            for (id, name, email, mobile) in rows {
                for (label, as_mobile) in chunk.iter().zip(&mobiles) {
                    if *label == name
                        || email.as_deref() == Some(label.to_lowercase().as_str())
                        || mobile.as_deref() == Some(as_mobile.as_str())
                    {
                        found.entry(label.clone()).or_default().push(id);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Departments whose name equals one of `labels`.
    pub async fn departments_by_label(
        &self,
        labels: &[String],
    ) -> Result<HashMap<String, Vec<Uuid>>> {
        let mut found: HashMap<String, Vec<Uuid>> = HashMap::new();
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        for chunk in labels.chunks(write::IDS_PER_STATEMENT) {
            let mut sql = query::SqlText::new(conn.backend());
            sql.push("SELECT id, name FROM departments WHERE organization_id = ")
                .arg(crate::exec::Arg::Uuid(Some(*self.org_id.as_uuid())));
            sql.push(" AND name IN (")
                .args(
                    chunk
                        .iter()
                        .map(|label| crate::exec::Arg::Text(Some(label.clone()))),
                )
                .push(")");
            let rows: Vec<(Uuid, String)> = conn.fetch_all(sql.into_sql()).await?;
            for (id, name) in rows {
                found.entry(name).or_default().push(id);
            }
        }
        Ok(found)
    }

    /// Names of members, for rendering member cells.
    pub async fn member_names(&self, ids: &[MemberId]) -> Result<HashMap<MemberId, String>> {
        let ids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let names = self.names_of("members", &ids).await?;
        Ok(names
            .into_iter()
            .map(|(id, name)| (MemberId::from_uuid(id), name))
            .collect())
    }

    /// Names of departments, for rendering department cells.
    pub async fn department_names(
        &self,
        ids: &[DepartmentId],
    ) -> Result<HashMap<DepartmentId, String>> {
        let ids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let names = self.names_of("departments", &ids).await?;
        Ok(names
            .into_iter()
            .map(|(id, name)| (DepartmentId::from_uuid(id), name))
            .collect())
    }

    async fn names_of(&self, table: &'static str, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut pooled = self.store.pools.read().await?;
        self.names_of_in(&mut pooled.conn(), table, ids).await
    }

    pub(crate) async fn names_of_in(
        &self,
        conn: &mut Conn<'_>,
        table: &'static str,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>> {
        let mut names = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(write::IDS_PER_STATEMENT) {
            let backend = conn.backend();
            let mut sql = query::SqlText::new(backend);
            sql.push(&format!(
                "SELECT id, name FROM {table} WHERE organization_id = "
            ))
            .arg(crate::exec::Arg::Uuid(Some(*self.org_id.as_uuid())));
            if backend == crate::exec::Backend::Postgres {
                // One text for any number of ids: PostgreSQL keeps it prepared (every record read
                // that shows a member or a department asks).
                sql = sql.kept();
                sql.push(" AND id = ANY(")
                    .arg(crate::exec::Arg::UuidArray(
                        chunk.iter().map(|id| Some(*id)).collect(),
                    ))
                    .push(")");
            } else {
                sql.push(" AND id IN (")
                    .args(chunk.iter().map(|id| crate::exec::Arg::Uuid(Some(*id))))
                    .push(")");
            }
            let rows: Vec<(Uuid, String)> = conn.fetch_all(sql.into_sql()).await?;
            names.extend(rows);
        }
        Ok(names)
    }
}
