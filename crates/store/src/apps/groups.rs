//! A table's groups of fields: composite unique keys (`unique_together`) and composite indexes
//! (`indexes`) — checking the fields they name and saving the lists.

use serde_json::Value;
use tenon_model::apps::Field;
use tenon_model::{DetailCode, FieldId, Invalid, TableId};
use uuid::Uuid;

use super::tables::resolve;
use crate::exec::{Conn, Sql};
use crate::{Result, Tenant};

/// What a group of fields is for: a composite unique key or a composite index.
#[derive(Clone, Copy)]
pub(crate) enum Groups {
    Unique,
    Index,
}

/// Most fields one composite index may span.
const INDEX_FIELDS_MAX: usize = 8;

pub(crate) fn resolve_groups(
    fields: &[Field],
    groups: &[Vec<String>],
    kind: Groups,
) -> Result<Vec<Vec<FieldId>>> {
    let (option, fewest) = match kind {
        Groups::Unique => ("unique_together", 2),
        Groups::Index => ("indexes", 1),
    };
    let mut resolved = Vec::with_capacity(groups.len());
    for (g, group) in groups.iter().enumerate() {
        if group.len() < fewest {
            let reason = match kind {
                Groups::Unique => "a group needs at least two fields",
                Groups::Index => "an index needs at least one field",
            };
            return Err(Invalid::from(
                tenon_model::FieldError::new(format!("{option}[{g}]"), DetailCode::TooFew, reason)
                    .with("min", fewest),
            )
            .into());
        }
        if group.len() > INDEX_FIELDS_MAX {
            return Err(Invalid::from(
                tenon_model::Reason::too_many(
                    INDEX_FIELDS_MAX,
                    format!("a group may have at most {INDEX_FIELDS_MAX} fields"),
                )
                .at(format!("{option}[{g}]")),
            )
            .into());
        }
        let mut ids = Vec::with_capacity(group.len());
        for (i, reference) in group.iter().enumerate() {
            let id = resolve(fields, reference, &format!("{option}[{g}][{i}]"))?;
            if ids.contains(&id) {
                return Err(Invalid::one(
                    format!("{option}[{g}][{i}]"),
                    DetailCode::Duplicate,
                    "a field appears twice in this group",
                )
                .into());
            }
            let storage = fields
                .iter()
                .find(|field| field.id == id)
                .map(|field| field.kind.storage());
            if matches!(
                storage,
                Some(
                    tenon_model::apps::Storage::Junction
                        | tenon_model::apps::Storage::System
                        | tenon_model::apps::Storage::JsonArray
                        | tenon_model::apps::Storage::Virtual
                )
            ) {
                let reason = match kind {
                    Groups::Unique => "only single-valued fields can be part of a unique key",
                    Groups::Index => {
                        "only single-valued fields stored in the table can be indexed (not links, \
                         multiple values, or formulas computed when read)"
                    }
                };
                return Err(Invalid::one(
                    format!("{option}[{g}][{i}]"),
                    DetailCode::NotAllowed,
                    reason,
                )
                .into());
            }
            ids.push(id);
        }
        if resolved.contains(&ids) {
            return Err(Invalid::one(
                format!("{option}[{g}]"),
                DetailCode::Duplicate,
                "the same group is given twice",
            )
            .into());
        }
        resolved.push(ids);
    }
    Ok(resolved)
}

impl Tenant<'_> {
    pub(crate) async fn set_indexes(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
        groups: &[Vec<FieldId>],
    ) -> Result<()> {
        self.save_groups(conn, table, Groups::Index, groups).await
    }

    pub(crate) async fn set_unique_together(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
        groups: &[Vec<FieldId>],
    ) -> Result<()> {
        self.save_groups(conn, table, Groups::Unique, groups).await
    }

    async fn save_groups(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
        kind: Groups,
        groups: &[Vec<FieldId>],
    ) -> Result<()> {
        let value = Value::Array(
            groups
                .iter()
                .map(|group| {
                    super::uuid_list(&group.iter().map(|id| *id.as_uuid()).collect::<Vec<Uuid>>())
                })
                .collect(),
        );
        // The column is one of two fixed names, never user text.
        let sql = match kind {
            Groups::Unique => {
                "UPDATE app_tables SET unique_together = $3 WHERE organization_id = $1 AND id = $2"
            }
            Groups::Index => {
                "UPDATE app_tables SET indexes = $3 WHERE organization_id = $1 AND id = $2"
            }
        };
        conn.execute(
            Sql::new(sql)
                .bind(self.org_id)
                .bind(*table.as_uuid())
                .bind(value),
        )
        .await?;
        Ok(())
    }
}
