//! Fields: adding (with the column, or the junction and inverse field of a link), changing (renames are
//! metadata only; a type change converts every stored value in Rust, the same on both backends) and
//! deleting.

use std::collections::HashSet;

use serde_json::{Value, json};
use tenon_model::apps::computed;
use tenon_model::apps::{
    ApiKey, App, Field, FieldKind, FieldSpec, LinkTarget, ParseContext, Storage, Table,
    TableSchema, parse_cell,
};
use tenon_model::{Action, DetailCode, FieldId, Invalid, Name, TargetKind};

use super::computed_fields::check_computed_flags;
use super::conversion::needs_conversion;
use super::{ddl, stored, unknown};
use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A change to a field. `None` leaves a property alone.
#[derive(Debug, Clone, Default)]
pub struct FieldPatch {
    pub name: Option<Name>,
    pub key: Option<ApiKey>,
    /// A new type and/or options. Changing the storage converts the stored values.
    pub kind: Option<FieldKind>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub indexed: Option<bool>,
    pub default: Option<Option<Value>>,
    pub position: Option<i64>,
}

/// The outcome of a field change: the field, and how many values a type change could not convert (they
/// were emptied, and the audit entry says how many).
#[derive(Debug, Clone)]
pub struct FieldChange {
    pub field: Field,
    pub cleared_values: u64,
}

impl Tenant<'_> {
    /// Adds a field to a table (and, for a link, its inverse on the other table).
    pub async fn add_field(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        spec: FieldSpec,
        parse: &ParseContext,
    ) -> Result<Field> {
        let mut tx = self.store.begin_tx().await?;
        let result = self
            .add_field_in(&mut tx.conn(), ctx, schema, spec, parse)
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn add_field_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        spec: FieldSpec,
        parse: &ParseContext,
    ) -> Result<Field> {
        let field = self
            .insert_field(
                conn,
                &schema.app,
                &schema.table,
                &schema.fields,
                spec,
                "body",
                parse,
            )
            .await?;
        self.record_schema_change(
            conn,
            schema.app.id,
            json!({"op": "add_field", "table_id": schema.table.id.to_string(), "field_id": field.id.to_string()}),
        )
        .await?;
        self.audit_field(conn, ctx, Action::Created, None, Some(&field))
            .await?;
        Ok(field)
    }

    /// Inserts a field's metadata and physical storage. `path` prefixes error fields.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_field(
        &self,
        conn: &mut Conn<'_>,
        app: &App,
        table: &Table,
        existing: &[Field],
        spec: FieldSpec,
        path: &str,
        parse: &ParseContext,
    ) -> Result<Field> {
        if existing.len() >= tenon_model::apps::FIELDS_PER_TABLE_MAX {
            return Err(Invalid::from(
                tenon_model::Reason::new(
                    DetailCode::LimitReached,
                    format!(
                        "a table has at most {} fields",
                        tenon_model::apps::FIELDS_PER_TABLE_MAX
                    ),
                )
                .with("max", tenon_model::apps::FIELDS_PER_TABLE_MAX)
                .at(path),
            )
            .into());
        }
        let id = FieldId::new();
        check_name_free(existing, &spec.name, None, &format!("{path}.name"))?;
        let mut spec = spec;
        if spec.kind.field_type().is_computed() {
            check_computed_flags(spec.unique, spec.required, spec.default.is_some(), path)?;
            let here = TableSchema {
                app: app.clone(),
                table: table.clone(),
                fields: existing.to_vec(),
            };
            spec.kind = self
                .resolve_computed(conn, &here, spec.kind, None, &format!("{path}.options"))
                .await?;
        }
        let key = choose_key(
            existing,
            spec.key.as_ref(),
            spec.name.as_str(),
            id,
            &format!("{path}.key"),
        )?;
        if let Some(default) = &spec.default {
            parse_cell(&spec.kind, default, parse)
                .map_err(|reason| Invalid::from(reason.at(format!("{path}.default"))))?;
        }
        let position = existing
            .iter()
            .map(|field| field.position)
            .max()
            .map_or(0, |max| max + 1);
        let now = self.store.now();
        let mut field = Field {
            id,
            table_id: table.id,
            key,
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            required: spec.required,
            unique: spec.unique,
            indexed: spec.indexed,
            default: spec.default.clone(),
            position,
            created_at: now,
            updated_at: now,
        };
        let backend = conn.backend();
        if let FieldKind::Link {
            table: target,
            multiple,
            ..
        } = &spec.kind
        {
            if spec.unique {
                return Err(Invalid::one(
                    format!("{path}.unique"),
                    DetailCode::NotAllowed,
                    "a link field cannot be unique",
                )
                .into());
            }
            let target_id = match target {
                LinkTarget::Resolved(id) => *id,
                LinkTarget::Named(reference)
                    if reference == table.key.as_str() || reference == &table.id.to_string() =>
                {
                    table.id
                }
                LinkTarget::Named(reference) => {
                    self.load_table(conn, app.id, reference)
                        .await?
                        .ok_or_else(|| {
                            unknown(&format!("{path}.options.table"), "table", reference)
                        })?
                        .id
                }
            };
            let inverse_id = FieldId::new();
            field.kind = FieldKind::Link {
                table: LinkTarget::Resolved(target_id),
                multiple: *multiple,
                inverse: Some(inverse_id),
            };
            self.insert_field_row(conn, &field).await?;
            // The inverse field lives on the target table (the same table for a self-link).
            let target_fields = if target_id == table.id {
                existing.iter().cloned().chain([field.clone()]).collect()
            } else {
                self.load_fields(conn, target_id).await?
            };
            let inverse_name = match &spec.inverse_name {
                Some(name) => {
                    check_name_free(
                        &target_fields,
                        name,
                        None,
                        &format!("{path}.options.inverse_name"),
                    )?;
                    name.clone()
                }
                None => free_name(
                    &target_fields,
                    table.name.as_str(),
                    &format!("{path}.options.inverse_name"),
                )?,
            };
            let inverse_key = choose_key(
                &target_fields,
                spec.inverse_key.as_ref(),
                if spec.inverse_key.is_some() {
                    inverse_name.as_str()
                } else {
                    table.key.as_str()
                },
                inverse_id,
                &format!("{path}.options.inverse_key"),
            )?;
            let inverse = Field {
                id: inverse_id,
                table_id: target_id,
                key: inverse_key,
                name: inverse_name,
                kind: FieldKind::Link {
                    table: LinkTarget::Resolved(table.id),
                    multiple: spec.inverse_multiple,
                    inverse: Some(id),
                },
                required: false,
                unique: false,
                indexed: false,
                default: None,
                position: target_fields
                    .iter()
                    .map(|f| f.position)
                    .max()
                    .map_or(0, |max| max + 1),
                created_at: now,
                updated_at: now,
            };
            self.insert_field_row(conn, &inverse).await?;
            for statement in ddl::create_junction(&field, table.id, target_id, backend) {
                conn.execute_script(statement).await?;
            }
            return Ok(field);
        }
        self.insert_field_row(conn, &field).await?;
        let column = ddl::column_name(field.id);
        if let Some(statement) = ddl::add_column(table.id, &column, field.kind.storage(), backend) {
            conn.execute_script(statement).await?;
        }
        for statement in ddl::field_indexes(table.id, &field, conn.backend()) {
            conn.execute_script(statement).await?;
        }
        if field.field_type().is_computed() {
            let fields = existing.iter().cloned().chain([field.clone()]).collect();
            let here = TableSchema {
                app: app.clone(),
                table: table.clone(),
                fields,
            };
            self.backfill(conn, &here).await?;
        }
        Ok(field)
    }

    async fn insert_field_row(&self, conn: &mut Conn<'_>, field: &Field) -> Result<()> {
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO fields (organization_id, id, table_id, key, name, type, options, required, is_unique, \
                     indexed, default_value, position, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
                )
                .bind(self.org_id)
                .bind(*field.id.as_uuid())
                .bind(*field.table_id.as_uuid())
                .bind(field.key.as_str())
                .bind(field.name.as_str())
                .bind(field.field_type().as_str())
                .bind(stored::kind_to_stored(&field.kind))
                .bind(field.required)
                .bind(field.unique)
                .bind(field.indexed)
                .bind(field.default.clone())
                .bind(field.position)
                .bind(field.created_at),
            )
            .await;
        inserted.map_err(|error| {
            super::key_conflict(error, "a field with this key already exists in the table")
        })?;
        Ok(())
    }

    /// Changes a field. Renames touch metadata only; a new storage converts the stored values.
    pub async fn update_field(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        id: FieldId,
        patch: FieldPatch,
        parse: &ParseContext,
    ) -> Result<FieldChange> {
        let mut tx = self.store.begin_tx().await?;
        let result = self
            .update_field_in(&mut tx.conn(), ctx, schema, id, patch, parse)
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn update_field_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        id: FieldId,
        patch: FieldPatch,
        parse: &ParseContext,
    ) -> Result<FieldChange> {
        let before = schema
            .field(id)
            .cloned()
            .ok_or_else(|| StoreError::not_found("field"))?;
        let mut after = before.clone();
        if let Some(name) = patch.name {
            check_name_free(&schema.fields, &name, Some(id), "name")?;
            after.name = name;
        }
        if let Some(key) = patch.key {
            if schema
                .fields
                .iter()
                .any(|field| field.id != id && field.key == key)
            {
                return Err(StoreError::conflict(
                    Some("key"),
                    DetailCode::NotUnique,
                    "another field of the table has this key",
                ));
            }
            after.key = key;
        }
        if let Some(kind) = patch.kind {
            after.kind = merge_link_kind(&before.kind, kind)?;
            if after.kind.field_type().is_computed() {
                after.kind = self
                    .resolve_computed(conn, schema, after.kind, Some(id), "options")
                    .await?;
            }
        }
        if after.field_type().is_computed() {
            check_computed_flags(
                patch.unique == Some(true),
                patch.required == Some(true),
                patch.default.as_ref().is_some_and(Option::is_some),
                "body",
            )?;
        }
        let recomputes = after.kind != before.kind
            && (after.field_type().is_computed() || before.field_type().is_computed());
        if after.kind != before.kind {
            self.check_readers_allow(conn, schema, &after).await?;
        }
        after.required = patch.required.unwrap_or(before.required);
        after.unique = patch.unique.unwrap_or(before.unique);
        after.indexed = patch.indexed.unwrap_or(before.indexed);
        after.position = patch.position.unwrap_or(before.position);
        if let Some(default) = patch.default {
            after.default = default;
        }
        if after.field_type().is_computed() {
            after.unique = false;
            after.required = false;
            after.default = None;
        }
        if let Some(default) = &after.default {
            parse_cell(&after.kind, default, parse)
                .map_err(|reason| Invalid::from(reason.at("default")))?;
        }
        if after.unique && after.kind.storage() == Storage::Junction {
            return Err(Invalid::one(
                "unique",
                DetailCode::NotAllowed,
                "a link field cannot be unique",
            )
            .into());
        }
        after.updated_at = self.store.now();
        let converts = needs_conversion(&before.kind, &after.kind) && !recomputes;
        let reindex = converts || before.unique != after.unique || before.indexed != after.indexed;
        if reindex {
            for statement in ddl::drop_field_indexes(id) {
                conn.execute_script(statement).await?;
            }
        }
        let mut cleared_values = 0;
        // A column that is remade or converted takes the table's multi-field indexes with it: drop them
        // first (SQLite cannot drop or alter an indexed column) and make them again afterwards.
        let remade = recomputes && before.kind.storage() != after.kind.storage();
        let table = &schema.table;
        let grouped = table
            .unique_together
            .iter()
            .chain(&table.indexes)
            .any(|group| group.contains(&id));
        let regroup = grouped && (converts || remade);
        if regroup {
            if !matches!(
                after.kind.storage(),
                Storage::Text
                    | Storage::Decimal { .. }
                    | Storage::Integer
                    | Storage::Boolean
                    | Storage::Date
                    | Storage::DateTime
            ) {
                return Err(StoreError::conflict(
                    Some("type"),
                    DetailCode::Conflict,
                    "the field is part of the table's `unique_together` or `indexes`, which need a \
                     single value stored in the table; remove it from them first",
                ));
            }
            let drops = ddl::drop_together_indexes(table.id, table.unique_together.len())
                .into_iter()
                .chain(ddl::drop_composite_indexes(table.id, table.indexes.len()));
            for statement in drops {
                conn.execute_script(statement).await?;
            }
        }
        if remade {
            // Computed values are not converted: the column is remade and every value computed again.
            if before.kind.storage() != Storage::Virtual {
                conn.execute_script(ddl::drop_column(schema.table.id, &ddl::column_name(id)))
                    .await?;
            }
            if let Some(statement) = ddl::add_column(
                schema.table.id,
                &ddl::column_name(id),
                after.kind.storage(),
                conn.backend(),
            ) {
                conn.execute_script(statement).await?;
            }
            for statement in ddl::field_indexes(schema.table.id, &after, conn.backend()) {
                run_index(conn, statement, "unique").await?;
            }
        }
        if converts {
            cleared_values = self
                .convert_column(conn, schema.table.id, &before, &after, parse)
                .await?;
        }
        if regroup {
            for statement in ddl::together_indexes(table.id, &table.unique_together) {
                run_index(conn, statement, "unique_together").await?;
            }
            for statement in ddl::composite_indexes(table.id, &table.indexes) {
                run_index(conn, statement, "indexes").await?;
            }
        }
        if reindex {
            for statement in ddl::field_indexes(schema.table.id, &after, conn.backend()) {
                run_index(conn, statement, "unique").await?;
            }
        }
        let updated = conn
            .execute(
                Sql::new(
                    "UPDATE fields SET key = $3, name = $4, type = $5, options = $6, required = $7, is_unique = $8, \
                     indexed = $9, default_value = $10, position = $11, updated_at = $12 \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(*id.as_uuid())
                .bind(after.key.as_str())
                .bind(after.name.as_str())
                .bind(after.field_type().as_str())
                .bind(stored::kind_to_stored(&after.kind))
                .bind(after.required)
                .bind(after.unique)
                .bind(after.indexed)
                .bind(after.default.clone())
                .bind(after.position)
                .bind(after.updated_at),
            )
            .await;
        updated.map_err(|error| {
            super::key_conflict(error, "a field with this key already exists in the table")
        })?;
        if recomputes
            || (converts
                && computed::dependents_in_table(schema, id)
                    .iter()
                    .next()
                    .is_some())
        {
            let mut fields = schema.fields.clone();
            if let Some(slot) = fields.iter_mut().find(|field| field.id == id) {
                *slot = after.clone();
            }
            let here = TableSchema {
                fields,
                ..schema.clone()
            };
            self.backfill(conn, &here).await?;
        }
        self.record_schema_change(
            conn,
            schema.app.id,
            json!({"op": "update_field", "field_id": id.to_string(), "cleared_values": cleared_values}),
        )
        .await?;
        self.audit_field(conn, ctx, Action::Updated, Some(&before), Some(&after))
            .await?;
        Ok(FieldChange {
            field: after,
            cleared_values,
        })
    }

    /// Deletes a field with its values (a link with its inverse field and junction).
    pub async fn delete_field(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        id: FieldId,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        self.delete_field_in(&mut tx.conn(), ctx, schema, id)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn delete_field_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        id: FieldId,
    ) -> Result<()> {
        let field = schema
            .field(id)
            .cloned()
            .ok_or_else(|| StoreError::not_found("field"))?;
        let mut removed = vec![id];
        let mut gone: HashSet<FieldId> = HashSet::from([id]);
        if let FieldKind::Link {
            inverse: Some(inverse),
            ..
        } = field.kind
        {
            gone.insert(inverse);
        }
        let tables = self.app_schemas(conn, schema.app.id).await?;
        let readers = computed::readers_of_fields(&tables, &gone);
        let mut names: Vec<String> = vec![computed::describe_readers(&readers)];
        names.retain(|name| !name.is_empty());
        names.extend(computed::rules_reading(&tables, &gone));
        if !names.is_empty() {
            return Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
                format!(
                    "field \"{}\" is read by {}; change or delete those first",
                    field.key,
                    names.join(", ")
                ),
            ));
        }
        match field.kind {
            FieldKind::Link {
                inverse: Some(inverse),
                ..
            } => {
                conn.execute_script(ddl::drop_junction(id, inverse)).await?;
                removed.push(inverse);
            }
            _ => {
                for statement in ddl::drop_field_indexes(id) {
                    conn.execute_script(statement).await?;
                }
                let groups = &schema.table.unique_together;
                if groups.iter().any(|group| group.contains(&id)) {
                    for statement in ddl::drop_together_indexes(schema.table.id, groups.len()) {
                        conn.execute_script(statement).await?;
                    }
                    let kept: Vec<Vec<FieldId>> = groups
                        .iter()
                        .filter(|group| !group.contains(&id))
                        .cloned()
                        .collect();
                    for statement in ddl::together_indexes(schema.table.id, &kept) {
                        conn.execute_script(statement).await?;
                    }
                    self.set_unique_together(conn, schema.table.id, &kept)
                        .await?;
                }
                let indexes = &schema.table.indexes;
                if indexes.iter().any(|group| group.contains(&id)) {
                    for statement in ddl::drop_composite_indexes(schema.table.id, indexes.len()) {
                        conn.execute_script(statement).await?;
                    }
                    // An index loses the deleted field; one left with no field goes.
                    let kept: Vec<Vec<FieldId>> = indexes
                        .iter()
                        .map(|group| group.iter().copied().filter(|field| *field != id).collect())
                        .filter(|group: &Vec<FieldId>| !group.is_empty())
                        .collect();
                    for statement in ddl::composite_indexes(schema.table.id, &kept) {
                        conn.execute_script(statement).await?;
                    }
                    self.set_indexes(conn, schema.table.id, &kept).await?;
                }
                if !matches!(field.kind.storage(), Storage::System | Storage::Virtual) {
                    conn.execute_script(ddl::drop_column(schema.table.id, &ddl::column_name(id)))
                        .await?;
                }
            }
        }
        for field_id in &removed {
            conn.execute(
                Sql::new("DELETE FROM fields WHERE organization_id = $1 AND id = $2")
                    .bind(self.org_id)
                    .bind(*field_id.as_uuid()),
            )
            .await?;
            conn.execute(
                Sql::new("UPDATE app_tables SET primary_field_id = NULL WHERE organization_id = $1 AND primary_field_id = $2")
                    .bind(self.org_id)
                    .bind(*field_id.as_uuid()),
            )
            .await?;
        }
        self.record_schema_change(
            conn,
            schema.app.id,
            json!({"op": "delete_field", "field_id": id.to_string()}),
        )
        .await?;
        self.audit_field(conn, ctx, Action::Deleted, Some(&field), None)
            .await?;
        Ok(())
    }

    async fn audit_field(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&Field>,
        after: Option<&Field>,
    ) -> Result<()> {
        let snapshot = |field: &Field| {
            json!({
                "id": field.id.to_string(), "table_id": field.table_id.to_string(), "key": field.key.as_str(),
                "name": field.name.as_str(), "type": field.field_type().as_str(), "options": stored::kind_to_stored(&field.kind),
                "required": field.required, "unique": field.unique, "indexed": field.indexed, "default": field.default,
            })
        };
        let id = after
            .or(before)
            .map(|field| field.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Field,
                target_id: id,
                action,
                before: before.map(snapshot),
                after: after.map(snapshot),
                ctx,
            },
        )
        .await
    }
}

/// Creating an index that enforces uniqueness fails on existing duplicates; say so in the client's terms.
pub(crate) async fn run_index(
    conn: &mut Conn<'_>,
    statement: String,
    field: &'static str,
) -> Result<()> {
    conn.execute_script(statement).await.map_err(|error| {
        match crate::error::unique_violation(&error) {
            Some(_) => StoreError::conflict(
                Some(field),
                DetailCode::NotUnique,
                "existing records have duplicate values; make them unique first",
            ),
            None => error.into(),
        }
    })
}

fn check_name_free(
    fields: &[Field],
    name: &Name,
    except: Option<FieldId>,
    path: &str,
) -> Result<()> {
    if fields
        .iter()
        .any(|field| Some(field.id) != except && field.name == *name)
    {
        return Err(StoreError::conflict(
            None,
            DetailCode::NotUnique,
            format!("{path}: another field of the table is named \"{name}\""),
        ));
    }
    Ok(())
}

fn free_name(fields: &[Field], base: &str, path: &str) -> Result<Name> {
    let taken = |candidate: &str| fields.iter().any(|field| field.name.as_str() == candidate);
    let mut candidate = base.to_owned();
    let mut n = 2;
    while taken(&candidate) {
        candidate = format!("{base} {n}");
        n += 1;
    }
    Name::parse(&candidate).map_err(|reason| Invalid::from(reason.at(path)).into())
}

fn choose_key(
    fields: &[Field],
    given: Option<&ApiKey>,
    name: &str,
    id: FieldId,
    path: &str,
) -> Result<ApiKey> {
    if let Some(key) = given {
        if fields.iter().any(|field| field.key == *key) {
            return Err(StoreError::conflict(
                None,
                DetailCode::NotUnique,
                format!("{path}: another field of the table has the key \"{key}\""),
            ));
        }
        return Ok(key.clone());
    }
    let base = ApiKey::derive(name).unwrap_or_else(|| ApiKey::from_id('f', id.as_uuid()));
    Ok(ApiKey::unique_among(base, |key| {
        fields.iter().any(|field| field.key.as_str() == key)
    }))
}

/// A link may change only its `multiple`; its target and inverse stay.
fn merge_link_kind(before: &FieldKind, after: FieldKind) -> Result<FieldKind> {
    match (before, after) {
        // The target table of a link never changes (to link elsewhere, add a new link field).
        (FieldKind::Link { table, inverse, .. }, FieldKind::Link { multiple, .. }) => {
            Ok(FieldKind::Link {
                table: table.clone(),
                multiple,
                inverse: *inverse,
            })
        }
        (FieldKind::Link { .. }, _) | (_, FieldKind::Link { .. }) => Err(Invalid::one(
            "type",
            DetailCode::NotAllowed,
            "a link field cannot change to another type or from one; delete it and add a new field",
        )
        .into()),
        (_, after) if after.storage() == Storage::System && before.storage() != Storage::System => {
            Err(Invalid::one(
                "type",
                DetailCode::NotAllowed,
                "a field cannot become a system field (created/modified time or by)",
            )
            .into())
        }
        (_, after) => Ok(after),
    }
}
