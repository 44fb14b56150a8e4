//! Low-code apps: the metadata of apps, tables and fields, and the DDL that keeps each user table's
//! physical table in step with it. Every schema change runs in one transaction with its DDL (both backends
//! have transactional DDL), bumps the app's `schema_version`, is logged in `schema_changes`, and writes an
//! audit entry.

use serde_json::{Value, json};
use tenon_model::apps::{ApiKey, App, Field, Table, TableSchema};
use tenon_model::{
    Action, AppId, DetailCode, Invalid, Name, Page, PageRequest, TableId, TargetKind,
};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::error::unique_violation;
use crate::exec::{Backend, Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

mod computed_fields;
mod conversion;
mod dashboards;
pub(crate) mod ddl;
mod definition;
mod fields;
mod form_caps;
mod groups;
mod permissions;
pub(crate) mod stored;
mod tables;
mod views;

pub use dashboards::StoredDashboard;
pub use fields::FieldPatch;
pub use permissions::PermissionSubject;
pub use tables::{NewTable, TablePatch};
pub use views::ViewSpec;

use stored::{AppRow, FieldRow, TableRow, app_columns, field_columns, table_columns};

/// Keys an app cannot have because a route under `/api/v1/apps/` uses the word.
const RESERVED_APP_KEYS: [&str; 1] = ["import"];

/// An app to create.
#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: Name,
    /// Derived from the name when absent.
    pub key: Option<ApiKey>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AppPatch {
    pub name: Option<Name>,
    pub key: Option<ApiKey>,
    pub description: Option<Option<String>>,
}

impl Tenant<'_> {
    pub async fn create_app(&self, ctx: &WriteContext, new: NewApp) -> Result<App> {
        let mut tx = self.store.begin_tx().await?;
        let result = self.create_app_in(&mut tx.conn(), ctx, new).await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn create_app_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        new: NewApp,
    ) -> Result<App> {
        let id = AppId::new();
        let now = self.store.now();
        if new
            .key
            .as_ref()
            .is_some_and(|key| RESERVED_APP_KEYS.contains(&key.as_str()))
        {
            return Err(Invalid::one(
                "key",
                DetailCode::Reserved,
                "this key is reserved by the API (POST /api/v1/apps/import)",
            )
            .into());
        }
        let key = match new.key {
            Some(key) => key,
            None => {
                let base = ApiKey::derive(new.name.as_str())
                    .filter(|key| !RESERVED_APP_KEYS.contains(&key.as_str()))
                    .unwrap_or_else(|| ApiKey::from_id('a', id.as_uuid()));
                let taken = self.app_keys(conn).await?;
                ApiKey::unique_among(base, |key| taken.iter().any(|t| t == key))
            }
        };
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO apps (organization_id, id, key, name, description, schema_version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
                )
                .bind(self.org_id)
                .bind(*id.as_uuid())
                .bind(key.as_str())
                .bind(new.name.as_str())
                .bind(new.description.clone())
                .bind(now),
            )
            .await;
        inserted.map_err(|error| key_conflict(error, "an app with this key already exists"))?;
        let app = App {
            id,
            key,
            name: new.name,
            description: new.description,
            schema_version: 1,
            created_at: now,
            updated_at: now,
        };
        self.audit_app(conn, ctx, Action::Created, None, Some(&app))
            .await?;
        Ok(app)
    }

    pub async fn list_apps(&self, page: PageRequest<AppId>) -> Result<Page<App, AppId>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            app_columns!(),
            " FROM apps WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ))
        .bind(self.org_id)
        .bind(page.after.map(|id| *id.as_uuid()))
        .bind(i64::from(page.size()) + 1);
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<AppRow> = pooled.conn().fetch_all(sql).await?;
        let apps = rows
            .into_iter()
            .map(AppRow::into_model)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(apps, page.size(), |app: &App| app.id))
    }

    /// An app by id or key.
    pub async fn app(&self, reference: &str) -> Result<App> {
        let mut pooled = self.store.pools.read().await?;
        self.load_app(&mut pooled.conn(), reference)
            .await?
            .ok_or_else(|| StoreError::not_found("app"))
    }

    pub async fn update_app(&self, ctx: &WriteContext, id: AppId, patch: AppPatch) -> Result<App> {
        let mut tx = self.store.begin_tx().await?;
        let result = self.update_app_in(&mut tx.conn(), ctx, id, patch).await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn update_app_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        id: AppId,
        patch: AppPatch,
    ) -> Result<App> {
        let before = self
            .load_app(conn, &id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        if patch
            .key
            .as_ref()
            .is_some_and(|key| RESERVED_APP_KEYS.contains(&key.as_str()))
        {
            return Err(Invalid::one(
                "key",
                DetailCode::Reserved,
                "this key is reserved by the API (POST /api/v1/apps/import)",
            )
            .into());
        }
        let after = App {
            name: patch.name.unwrap_or_else(|| before.name.clone()),
            key: patch.key.unwrap_or_else(|| before.key.clone()),
            description: patch
                .description
                .unwrap_or_else(|| before.description.clone()),
            updated_at: self.store.now(),
            ..before.clone()
        };
        let updated = conn
            .execute(
                Sql::new(
                    "UPDATE apps SET name = $3, key = $4, description = $5, updated_at = $6 \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(*id.as_uuid())
                .bind(after.name.as_str())
                .bind(after.key.as_str())
                .bind(after.description.clone())
                .bind(after.updated_at),
            )
            .await;
        updated.map_err(|error| key_conflict(error, "an app with this key already exists"))?;
        self.audit_app(conn, ctx, Action::Updated, Some(&before), Some(&after))
            .await?;
        Ok(after)
    }

    /// Deletes an app with all its tables and their records.
    pub async fn delete_app(&self, ctx: &WriteContext, id: AppId) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        self.delete_app_in(&mut tx.conn(), ctx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn delete_app_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        id: AppId,
    ) -> Result<()> {
        let before = self
            .load_app(conn, &id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        let tables = self.load_tables(conn, id).await?;
        let mut fields = Vec::new();
        for table in &tables {
            fields.extend(self.load_fields(conn, table.id).await?);
        }
        // Junctions reference the tables; drop them first.
        for field in &fields {
            if let tenon_model::apps::FieldKind::Link {
                inverse: Some(inverse),
                ..
            } = field.kind
            {
                conn.execute_script(ddl::drop_junction(field.id, inverse))
                    .await?;
            }
        }
        for table in &tables {
            conn.execute_script(ddl::drop_table(table.id)).await?;
        }
        conn.execute(
            Sql::new("DELETE FROM apps WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(*id.as_uuid()),
        )
        .await?;
        self.audit_app(conn, ctx, Action::Deleted, Some(&before), None)
            .await?;
        Ok(())
    }

    /// Tables of an app, in their order.
    /// The keys of an app's tables and fields, for showing references by key.
    pub async fn keys_of_app(&self, app: AppId) -> Result<tenon_model::apps::Keys> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let tables: Vec<(Uuid, String)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT id, key FROM app_tables WHERE organization_id = $1 AND app_id = $2",
                )
                .bind(self.org_id)
                .bind(*app.as_uuid()),
            )
            .await?;
        let fields: Vec<(Uuid, String)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT f.id, f.key FROM fields AS f JOIN app_tables AS t ON t.organization_id = f.organization_id \
                     AND t.id = f.table_id WHERE f.organization_id = $1 AND t.app_id = $2",
                )
                .bind(self.org_id)
                .bind(*app.as_uuid()),
            )
            .await?;
        Ok(tenon_model::apps::Keys {
            tables: tables
                .into_iter()
                .map(|(id, key)| (TableId::from_uuid(id), key))
                .collect(),
            fields: fields
                .into_iter()
                .map(|(id, key)| (tenon_model::FieldId::from_uuid(id), key))
                .collect(),
        })
    }

    pub async fn list_tables(&self, app: AppId) -> Result<Vec<Table>> {
        let mut pooled = self.store.pools.read().await?;
        self.load_tables(&mut pooled.conn(), app).await
    }

    /// Everything needed to work with a table's records, by app and table id or key.
    pub async fn table_schema(
        &self,
        app_reference: &str,
        table_reference: &str,
    ) -> Result<TableSchema> {
        let caches = &self.store.caches;
        let key = (
            self.org_id,
            app_reference.to_owned(),
            table_reference.to_owned(),
        );
        if caches.fresh()
            && let Some(schema) = caches.schemas.get(&key)
        {
            return Ok(schema);
        }
        let generation = caches.schemas.generation();
        let schema = self
            .load_table_schema(app_reference, table_reference)
            .await?;
        // Also under its id (the key of `kept_schema_by_id`), which the write that follows looks up
        // (the table's app for its events).
        let by_id = (self.org_id, String::new(), schema.table.id.to_string());
        caches.schemas.insert(by_id, schema.clone(), generation);
        caches.schemas.insert(key, schema.clone(), generation);
        Ok(schema)
    }

    async fn load_table_schema(
        &self,
        app_reference: &str,
        table_reference: &str,
    ) -> Result<TableSchema> {
        let mut pooled = self.store.pools.read().await?;
        // One query for app, table and fields: every record request starts here.
        let sql = Sql::new(
            "SELECT a.id AS a_id, a.key AS a_key, a.name AS a_name, a.description AS a_description, \
               a.schema_version AS a_schema_version, a.created_at AS a_created_at, a.updated_at AS a_updated_at, \
               t.id AS t_id, t.app_id AS t_app_id, t.key AS t_key, t.name AS t_name, t.primary_field_id AS t_primary_field_id, \
               t.unique_together AS t_unique_together, t.indexes AS t_indexes, t.validation_rules AS t_validation_rules, t.position AS t_position, t.created_at AS t_created_at, \
               t.updated_at AS t_updated_at, \
               f.id AS f_id, f.table_id AS f_table_id, f.key AS f_key, f.name AS f_name, f.type AS f_type, f.options AS f_options, \
               f.required AS f_required, f.is_unique AS f_is_unique, f.indexed AS f_indexed, f.default_value AS f_default_value, \
               f.position AS f_position, f.created_at AS f_created_at, f.updated_at AS f_updated_at \
             FROM apps a \
             JOIN app_tables t ON t.organization_id = a.organization_id AND t.app_id = a.id \
             LEFT JOIN fields f ON f.organization_id = t.organization_id AND f.table_id = t.id \
             WHERE a.organization_id = $1 AND (a.id = $2 OR a.key = $3) AND (t.id = $4 OR t.key = $5) \
             ORDER BY f.position, f.id",
        )
        .bind(self.org_id)
        .bind(app_reference.parse::<AppId>().ok().map(|id| *id.as_uuid()))
        .bind(app_reference)
        .bind(table_reference.parse::<TableId>().ok().map(|id| *id.as_uuid()))
        .bind(table_reference);
        let rows: Vec<stored::SchemaRow> = pooled.conn().fetch_all(sql).await?;
        match stored::SchemaRow::into_schema(rows)? {
            Some(schema) => Ok(schema),
            None => {
                // Say which of the two was not found.
                let mut conn = pooled.conn();
                match self.load_app(&mut conn, app_reference).await? {
                    None => Err(StoreError::not_found("app")),
                    Some(_) => Err(StoreError::not_found("table")),
                }
            }
        }
    }

    /// The names of the SQL indexes on a table's SQL table, sorted (for diagnostics and tests: the
    /// indexes `indexed`, `unique`, `unique_together` and `indexes` asked for).
    pub async fn physical_indexes(&self, schema: &TableSchema) -> Result<Vec<String>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        // The table must be this organization's before its SQL table is looked at.
        self.schema_by_id(&mut conn, schema.table.id).await?;
        let sql = match conn.backend() {
            Backend::Sqlite => Sql::new(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
                 AND sql IS NOT NULL ORDER BY name",
            ),
            Backend::Postgres => Sql::new(
                "SELECT indexname AS name FROM pg_indexes WHERE tablename = $1 \
                 AND indexname NOT LIKE '%_pkey' ORDER BY indexname",
            ),
        }
        .bind(ddl::table_name(schema.table.id));
        let rows: Vec<(String,)> = conn.fetch_all(sql).await?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    /// A table's schema by table id alone (for link targets), from this node's cache when it can.
    pub async fn table_schema_by_id(&self, table: TableId) -> Result<TableSchema> {
        let caches = &self.store.caches;
        // No app reference is empty, so this key cannot meet one of `table_schema`'s.
        let key = (self.org_id, String::new(), table.to_string());
        if caches.fresh()
            && let Some(schema) = caches.schemas.get(&key)
        {
            return Ok(schema);
        }
        let generation = caches.schemas.generation();
        let mut pooled = self.store.pools.read().await?;
        let schema = self.schema_by_id(&mut pooled.conn(), table).await?;
        caches.schemas.insert(key, schema.clone(), generation);
        Ok(schema)
    }

    /// A table's schema in a transaction, from this node's cache when it has it (unless the transaction
    /// changed a schema itself). Kept under the table's id alone ([`Tenant::kept_schema_by_id`]), where
    /// the events of the record writes that follow find the table's app ([`Tenant::kept_app_of_table`]).
    pub(crate) async fn approval_schema(
        &self,
        conn: &mut Conn<'_>,
        app: AppId,
        table: TableId,
    ) -> Result<TableSchema> {
        let schema = self.kept_schema_by_id(conn, table).await?;
        if schema.app.id != app {
            return Err(StoreError::Corrupt(format!(
                "table {table} is in app {}, not {app}",
                schema.app.id
            )));
        }
        Ok(schema)
    }

    /// [`Tenant::table_schema_by_id`] in a transaction: from this node's cache when it has it, unless
    /// the transaction changed a schema itself (then read, and not kept).
    pub(crate) async fn kept_schema_by_id(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
    ) -> Result<TableSchema> {
        // No app reference is empty, so this key cannot meet one of `table_schema`'s.
        let key = (self.org_id, String::new(), table.to_string());
        self.schema_kept_as(conn, key, table).await
    }

    /// `table`'s schema in a transaction, kept under `key` unless the transaction changed a schema.
    async fn schema_kept_as(
        &self,
        conn: &mut Conn<'_>,
        key: crate::cache::SchemaKey,
        table: TableId,
    ) -> Result<TableSchema> {
        let caches = &self.store.caches;
        let cacheable = !conn.marked(crate::cache::SCHEMA);
        if cacheable
            && caches.fresh()
            && let Some(schema) = caches.schemas.get(&key)
        {
            return Ok(schema);
        }
        let generation = caches.schemas.generation();
        let schema = self.schema_by_id(conn, table).await?;
        if cacheable {
            caches.schemas.insert(key, schema.clone(), generation);
        }
        Ok(schema)
    }

    /// The app of `table` if this node's cache holds the table's schema (kept by id) and the transaction
    /// changed no schema; `None` tells the caller to read it.
    pub(crate) fn kept_app_of_table(&self, conn: &Conn<'_>, table: TableId) -> Option<AppId> {
        let caches = &self.store.caches;
        if conn.marked(crate::cache::SCHEMA) || !caches.fresh() {
            return None;
        }
        caches
            .schemas
            .get(&(self.org_id, String::new(), table.to_string()))
            .map(|schema| schema.app.id)
    }

    pub(crate) async fn schema_by_id(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
    ) -> Result<TableSchema> {
        let sql = Sql::new(concat!(
            "SELECT ",
            table_columns!(),
            " FROM app_tables WHERE organization_id = $1 AND id = $2"
        ))
        .bind(self.org_id)
        .bind(*table.as_uuid());
        let table = conn
            .fetch_optional::<TableRow>(sql)
            .await?
            .ok_or_else(|| StoreError::not_found("table"))?
            .into_model()?;
        let app = self
            .load_app(conn, &table.app_id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        let fields = self.load_fields(conn, table.id).await?;
        stored::finish_schema(TableSchema { app, table, fields })
    }

    pub(crate) async fn load_app(
        &self,
        conn: &mut Conn<'_>,
        reference: &str,
    ) -> Result<Option<App>> {
        let id = reference.parse::<AppId>().ok().map(|id| *id.as_uuid());
        let sql = Sql::new(concat!(
            "SELECT ",
            app_columns!(),
            " FROM apps WHERE organization_id = $1 AND (id = $2 OR key = $3)"
        ))
        .bind(self.org_id)
        .bind(id)
        .bind(reference);
        conn.fetch_optional::<AppRow>(sql)
            .await?
            .map(AppRow::into_model)
            .transpose()
    }

    pub(crate) async fn load_tables(&self, conn: &mut Conn<'_>, app: AppId) -> Result<Vec<Table>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            table_columns!(),
            " FROM app_tables WHERE organization_id = $1 AND app_id = $2 ORDER BY position, id"
        ))
        .bind(self.org_id)
        .bind(*app.as_uuid());
        let rows: Vec<TableRow> = conn.fetch_all(sql).await?;
        rows.into_iter().map(TableRow::into_model).collect()
    }

    pub(crate) async fn load_table(
        &self,
        conn: &mut Conn<'_>,
        app: AppId,
        reference: &str,
    ) -> Result<Option<Table>> {
        let id = reference.parse::<TableId>().ok().map(|id| *id.as_uuid());
        let sql = Sql::new(concat!(
            "SELECT ",
            table_columns!(),
            " FROM app_tables WHERE organization_id = $1 AND app_id = $2 AND (id = $3 OR key = $4)"
        ))
        .bind(self.org_id)
        .bind(*app.as_uuid())
        .bind(id)
        .bind(reference);
        conn.fetch_optional::<TableRow>(sql)
            .await?
            .map(TableRow::into_model)
            .transpose()
    }

    pub(crate) async fn load_fields(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
    ) -> Result<Vec<Field>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            field_columns!(),
            " FROM fields WHERE organization_id = $1 AND table_id = $2 ORDER BY position, id"
        ))
        .bind(self.org_id)
        .bind(*table.as_uuid());
        let rows: Vec<FieldRow> = conn.fetch_all(sql).await?;
        rows.into_iter().map(FieldRow::into_model).collect()
    }

    async fn app_keys(&self, conn: &mut Conn<'_>) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = conn
            .fetch_all(
                Sql::new("SELECT key FROM apps WHERE organization_id = $1").bind(self.org_id),
            )
            .await?;
        Ok(rows.into_iter().map(|(key,)| key).collect())
    }

    /// Bumps the app's schema version (which also serializes concurrent schema changes of one app: the
    /// update locks the app's row) and logs the change.
    pub(crate) async fn record_schema_change(
        &self,
        conn: &mut Conn<'_>,
        app: AppId,
        change: Value,
    ) -> Result<i64> {
        if !conn.mark(crate::cache::SCHEMA) {
            self.store.caches.invalidate(crate::cache::SCHEMA);
        }
        // The app may have been deleted since the caller read its schema (a concurrent request): that
        // is a 404, not a failure.
        let (version,): (i64,) = conn
            .fetch_optional(
                Sql::new(
                    "UPDATE apps SET schema_version = schema_version + 1, updated_at = $3 \
                     WHERE organization_id = $1 AND id = $2 RETURNING schema_version",
                )
                .bind(self.org_id)
                .bind(*app.as_uuid())
                .bind(self.store.now()),
            )
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        conn.execute(
            Sql::new(
                "INSERT INTO schema_changes (organization_id, app_id, version, change, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.org_id)
            .bind(*app.as_uuid())
            .bind(version)
            .bind(change)
            .bind(self.store.now()),
        )
        .await?;
        Ok(version)
    }

    async fn audit_app(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&App>,
        after: Option<&App>,
    ) -> Result<()> {
        let snapshot = |app: &App| json!({"id": app.id.to_string(), "key": app.key.as_str(), "name": app.name.as_str(), "description": app.description});
        let id = after
            .or(before)
            .map(|app| app.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::App,
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

/// A unique violation on a key or name column, as a conflict naming the field.
pub(crate) fn key_conflict(error: sqlx::Error, message: &str) -> StoreError {
    match unique_violation(&error) {
        Some(what) if what.contains("name") => StoreError::conflict(
            Some("name"),
            DetailCode::NotUnique,
            message.replace("key", "name"),
        ),
        Some(_) => StoreError::conflict(Some("key"), DetailCode::NotUnique, message),
        None => error.into(),
    }
}

/// A reference a client gave that names nothing in the app.
pub(crate) fn unknown(field: &str, what: &str, reference: &str) -> StoreError {
    StoreError::Invalid(
        tenon_model::FieldError::new(
            field,
            DetailCode::NotFound,
            format!("no {what} \"{reference}\" in this app"),
        )
        .with("what", what)
        .into(),
    )
}

pub(crate) fn uuid_list(ids: &[Uuid]) -> Value {
    Value::Array(ids.iter().map(|id| Value::String(id.to_string())).collect())
}
