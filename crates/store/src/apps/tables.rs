//! Tables: creation with their fields, primary field, composite unique keys and composite indexes;
//! changes; deletion.

use serde_json::json;
use tenon_model::apps::computed;
use tenon_model::apps::{
    ApiKey, App, Field, FieldKind, FieldSpec, FieldType, ParseContext, Table, TableSchema,
};
use tenon_model::{Action, AppId, DetailCode, FieldId, Invalid, Name, TableId, TargetKind};

use super::fields::run_index;
use super::groups::{Groups, resolve_groups};
use super::{ddl, unknown};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A table to create, with its first fields.
#[derive(Debug, Clone)]
pub struct NewTable {
    pub name: Name,
    pub key: Option<ApiKey>,
    pub fields: Vec<FieldSpec>,
    /// Key of the field that names records; default: the first text field.
    pub primary_field: Option<String>,
    /// Groups of field keys whose values together must be unique.
    pub unique_together: Vec<Vec<String>>,
    /// Composite indexes: groups of field keys in index order.
    pub indexes: Vec<Vec<String>>,
    /// Validation rules as typed: (condition formula, message).
    pub validation_rules: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct TablePatch {
    pub name: Option<Name>,
    pub key: Option<ApiKey>,
    pub primary_field: Option<String>,
    pub unique_together: Option<Vec<Vec<String>>>,
    pub indexes: Option<Vec<Vec<String>>>,
    /// Replaces the validation rules: (condition formula, message) as typed.
    pub validation_rules: Option<Vec<(String, String)>>,
    pub position: Option<i64>,
}

impl Tenant<'_> {
    pub async fn create_table(
        &self,
        ctx: &WriteContext,
        app: &App,
        new: NewTable,
        parse: &ParseContext,
    ) -> Result<TableSchema> {
        let mut tx = self.store.begin_tx().await?;
        let result = self
            .create_table_in(&mut tx.conn(), ctx, app, new, parse)
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn create_table_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        app: &App,
        new: NewTable,
        parse: &ParseContext,
    ) -> Result<TableSchema> {
        let id = TableId::new();
        let now = self.store.now();
        let existing = self.load_tables(conn, app.id).await?;
        if existing.len() >= tenon_model::apps::TABLES_PER_APP_MAX {
            return Err(Invalid::from(
                tenon_model::FieldError::new(
                    "body",
                    DetailCode::LimitReached,
                    format!(
                        "an app has at most {} tables",
                        tenon_model::apps::TABLES_PER_APP_MAX
                    ),
                )
                .with("max", tenon_model::apps::TABLES_PER_APP_MAX),
            )
            .into());
        }
        let key = match new.key {
            Some(key) => key,
            None => {
                let base = ApiKey::derive(new.name.as_str())
                    .unwrap_or_else(|| ApiKey::from_id('t', id.as_uuid()));
                ApiKey::unique_among(base, |key| {
                    existing.iter().any(|table| table.key.as_str() == key)
                })
            }
        };
        let mut table = Table {
            id,
            app_id: app.id,
            key,
            name: new.name,
            primary_field_id: None,
            unique_together: Vec::new(),
            indexes: Vec::new(),
            validation_rules: Vec::new(),
            position: existing
                .iter()
                .map(|table| table.position)
                .max()
                .map_or(0, |max| max + 1),
            created_at: now,
            updated_at: now,
        };
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO app_tables (organization_id, id, app_id, key, name, primary_field_id, unique_together, \
                     position, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $8)",
                )
                .bind(self.org_id)
                .bind(*id.as_uuid())
                .bind(*app.id.as_uuid())
                .bind(table.key.as_str())
                .bind(table.name.as_str())
                .bind(json!([]))
                .bind(table.position)
                .bind(now),
            )
            .await;
        inserted.map_err(|error| {
            super::key_conflict(error, "a table with this key already exists in the app")
        })?;
        conn.execute_script(ddl::create_table(id, conn.backend()))
            .await?;
        let mut fields: Vec<Field> = Vec::with_capacity(new.fields.len());
        for (idx, spec) in new.fields.into_iter().enumerate() {
            let field = self
                .insert_field(
                    conn,
                    app,
                    &table,
                    &fields,
                    spec,
                    &format!("fields[{idx}]"),
                    parse,
                )
                .await?;
            fields.push(field);
        }
        // A self-link added an inverse field to this very table.
        let fields = self.load_fields(conn, id).await?;
        table.primary_field_id = match &new.primary_field {
            Some(reference) => Some(resolve(&fields, reference, "primary_field")?),
            None => default_primary(&fields),
        };
        table.unique_together = resolve_groups(&fields, &new.unique_together, Groups::Unique)?;
        table.indexes = resolve_groups(&fields, &new.indexes, Groups::Index)?;
        if !new.validation_rules.is_empty() {
            let here = TableSchema {
                app: app.clone(),
                table: table.clone(),
                fields: fields.clone(),
            };
            table.validation_rules =
                computed::check_rules(&new.validation_rules, &here, "validation_rules")?;
        }
        self.save_table_settings(conn, &table).await?;
        for statement in ddl::together_indexes(id, &table.unique_together) {
            run_index(conn, statement, "unique_together").await?;
        }
        for statement in ddl::composite_indexes(id, &table.indexes) {
            run_index(conn, statement, "indexes").await?;
        }
        self.record_schema_change(
            conn,
            app.id,
            json!({"op": "create_table", "table_id": id.to_string()}),
        )
        .await?;
        self.audit_table(conn, ctx, Action::Created, None, Some(&table))
            .await?;
        let app = self
            .load_app(conn, &app.id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        super::stored::finish_schema(TableSchema { app, table, fields })
    }

    pub async fn update_table(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        patch: TablePatch,
    ) -> Result<TableSchema> {
        let mut tx = self.store.begin_tx().await?;
        let result = self
            .update_table_in(&mut tx.conn(), ctx, schema, patch)
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn update_table_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        patch: TablePatch,
    ) -> Result<TableSchema> {
        let before = schema.table.clone();
        let mut after = before.clone();
        if let Some(name) = patch.name {
            after.name = name;
        }
        if let Some(key) = patch.key {
            after.key = key;
        }
        if let Some(position) = patch.position {
            after.position = position;
        }
        if let Some(reference) = &patch.primary_field {
            after.primary_field_id = Some(resolve(&schema.fields, reference, "primary_field")?);
        }
        if let Some(groups) = &patch.unique_together {
            after.unique_together = resolve_groups(&schema.fields, groups, Groups::Unique)?;
        }
        if let Some(groups) = &patch.indexes {
            after.indexes = resolve_groups(&schema.fields, groups, Groups::Index)?;
        }
        if let Some(rules) = &patch.validation_rules {
            after.validation_rules = computed::check_rules(rules, schema, "validation_rules")?;
        }
        after.updated_at = self.store.now();
        let updated = conn
            .execute(
                Sql::new("UPDATE app_tables SET key = $3, name = $4, position = $5, updated_at = $6 WHERE organization_id = $1 AND id = $2")
                    .bind(self.org_id)
                    .bind(*before.id.as_uuid())
                    .bind(after.key.as_str())
                    .bind(after.name.as_str())
                    .bind(after.position)
                    .bind(after.updated_at),
            )
            .await;
        updated.map_err(|error| {
            super::key_conflict(error, "a table with this key already exists in the app")
        })?;
        if after.unique_together != before.unique_together {
            for statement in ddl::drop_together_indexes(before.id, before.unique_together.len()) {
                conn.execute_script(statement).await?;
            }
            for statement in ddl::together_indexes(before.id, &after.unique_together) {
                run_index(conn, statement, "unique_together").await?;
            }
        }
        if after.indexes != before.indexes {
            for statement in ddl::drop_composite_indexes(before.id, before.indexes.len()) {
                conn.execute_script(statement).await?;
            }
            for statement in ddl::composite_indexes(before.id, &after.indexes) {
                run_index(conn, statement, "indexes").await?;
            }
        }
        self.save_table_settings(conn, &after).await?;
        self.record_schema_change(
            conn,
            schema.app.id,
            json!({"op": "update_table", "table_id": before.id.to_string()}),
        )
        .await?;
        self.audit_table(conn, ctx, Action::Updated, Some(&before), Some(&after))
            .await?;
        Ok(TableSchema {
            table: after,
            ..schema.clone()
        })
    }

    /// Deletes a table with its records; link fields on other tables that pointed at it go too.
    pub async fn delete_table(&self, ctx: &WriteContext, schema: &TableSchema) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        self.delete_table_in(&mut tx.conn(), ctx, schema).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn delete_table_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
    ) -> Result<()> {
        let mut gone: std::collections::HashSet<FieldId> =
            schema.fields.iter().map(|field| field.id).collect();
        gone.extend(schema.fields.iter().filter_map(|field| match field.kind {
            FieldKind::Link { inverse, .. } => inverse,
            _ => None,
        }));
        let tables = self.app_schemas(conn, schema.app.id).await?;
        let readers = tenon_model::apps::computed::readers_of_fields(&tables, &gone);
        if !readers.is_empty() {
            return Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
                format!(
                    "table {} is read by {}; change or delete those first",
                    schema.table.key,
                    tenon_model::apps::computed::describe_readers(&readers)
                ),
            ));
        }
        for field in &schema.fields {
            if let FieldKind::Link {
                inverse: Some(inverse),
                ..
            } = field.kind
            {
                conn.execute_script(ddl::drop_junction(field.id, inverse))
                    .await?;
                conn.execute(
                    Sql::new("DELETE FROM fields WHERE organization_id = $1 AND id = $2")
                        .bind(self.org_id)
                        .bind(*inverse.as_uuid()),
                )
                .await?;
            }
        }
        conn.execute_script(ddl::drop_table(schema.table.id))
            .await?;
        conn.execute(
            Sql::new("DELETE FROM app_tables WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(*schema.table.id.as_uuid()),
        )
        .await?;
        self.record_schema_change(
            conn,
            schema.app.id,
            json!({"op": "delete_table", "table_id": schema.table.id.to_string()}),
        )
        .await?;
        self.audit_table(conn, ctx, Action::Deleted, Some(&schema.table), None)
            .await?;
        Ok(())
    }

    async fn save_table_settings(&self, conn: &mut Conn<'_>, table: &Table) -> Result<()> {
        conn.execute(
            Sql::new("UPDATE app_tables SET primary_field_id = $3, validation_rules = $4 WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(*table.id.as_uuid())
                .bind(table.primary_field_id.map(|id| *id.as_uuid()))
                .bind(super::stored::rules_to_stored(&table.validation_rules)),
        )
        .await?;
        self.set_unique_together(conn, table.id, &table.unique_together)
            .await?;
        self.set_indexes(conn, table.id, &table.indexes).await
    }

    async fn audit_table(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&Table>,
        after: Option<&Table>,
    ) -> Result<()> {
        let snapshot = |table: &Table| {
            json!({
                "id": table.id.to_string(), "app_id": table.app_id.to_string(), "key": table.key.as_str(),
                "name": table.name.as_str(), "primary_field_id": table.primary_field_id.map(|id| id.to_string()),
                "unique_together": table.unique_together.iter().map(|g| g.iter().map(ToString::to_string).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "indexes": table.indexes.iter().map(|g| g.iter().map(ToString::to_string).collect::<Vec<_>>()).collect::<Vec<_>>(),
            })
        };
        let id = after
            .or(before)
            .map(|table| table.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Table,
                target_id: id,
                action,
                before: before.map(snapshot),
                after: after.map(snapshot),
                ctx,
            },
        )
        .await
    }

    /// The app a table belongs to, for callers that hold only ids.
    pub async fn app_of_table(&self, table: TableId) -> Result<AppId> {
        Ok(self.table_schema_by_id(table).await?.app.id)
    }
}

pub(super) fn resolve(fields: &[Field], reference: &str, path: &str) -> Result<FieldId> {
    fields
        .iter()
        .find(|field| {
            field.key.as_str() == reference
                || field.id.to_string() == reference
                || field.name.as_str() == reference
        })
        .map(|field| field.id)
        .ok_or_else(|| unknown(path, "field", reference))
}

/// The first text-like field names records when the client did not choose.
fn default_primary(fields: &[Field]) -> Option<FieldId> {
    let text_like = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Autonumber,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
    ];
    fields
        .iter()
        .find(|field| text_like.contains(&field.field_type()))
        .or_else(|| fields.first())
        .map(|field| field.id)
}
