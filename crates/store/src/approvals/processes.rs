//! Processes: a draft as written, published versions frozen (`tenon_approvals::freeze`) with the field ids
//! and stored conditions they read. Publishing checks the draft against its table, the organization's roles
//! and members (`tenon_approvals::compile`); instances keep the version they started with.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_approvals::{CompiledProcess, Known, Process};
use tenon_model::apps::TableSchema;
use tenon_model::{AppId, DetailCode, Invalid, ProcessId, TableId, TargetKind};
use uuid::Uuid;

use crate::audit::{self, NamedChange};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A process and its draft.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProcess {
    pub id: ProcessId,
    pub code: String,
    /// Per organization, from 1 in creation order (DingTalk's `processId`).
    pub number: i64,
    pub name: String,
    pub app_id: AppId,
    pub table_id: TableId,
    /// The definition as last written (`PUT …/draft`), published or not.
    pub draft: Value,
    /// The last published version; 0 before the first publish.
    pub published_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One published version.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessVersion {
    pub version: i32,
    /// The definition as published.
    pub definition: Value,
    pub published_at: DateTime<Utc>,
}

pub(super) type ProcessRow = (
    Uuid,
    String,
    i64,
    String,
    Uuid,
    Uuid,
    sqlx::types::Json<Value>,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
);

pub(super) fn process_from_row(row: ProcessRow) -> StoredProcess {
    let (
        id,
        code,
        number,
        name,
        app_id,
        table_id,
        draft,
        published_version,
        created_at,
        updated_at,
    ) = row;
    StoredProcess {
        id: ProcessId::from_uuid(id),
        code,
        number,
        name,
        app_id: AppId::from_uuid(app_id),
        table_id: TableId::from_uuid(table_id),
        draft: draft.0,
        published_version,
        created_at,
        updated_at,
    }
}

fn process_snapshot(process: &StoredProcess) -> Value {
    json!({
        "id": process.id.to_string(),
        "code": process.code,
        "name": process.name,
        "table_id": process.table_id.to_string(),
        "published_version": process.published_version,
    })
}

impl Tenant<'_> {
    pub(crate) async fn load_process(
        &self,
        conn: &mut Conn<'_>,
        code: &str,
    ) -> Result<Option<StoredProcess>> {
        let row: Option<ProcessRow> = conn.fetch_optional(self.process_sql(code)).await?;
        Ok(row.map(process_from_row))
    }

    /// [`Self::load_process`]'s statement.
    pub(super) fn process_sql(&self, code: &str) -> Sql {
        Sql::new(
            "SELECT id, code, number, name, app_id, table_id, draft, published_version, created_at, updated_at \
             FROM processes WHERE organization_id = $1 AND code = $2",
        )
        .bind(self.org_id)
        .bind(code)
    }

    pub async fn process(&self, code: &str) -> Result<StoredProcess> {
        let mut pooled = self.store.pools.read().await?;
        self.load_process(&mut pooled.conn(), code)
            .await?
            .ok_or_else(|| StoreError::not_found("process"))
    }

    pub async fn list_processes(&self) -> Result<Vec<StoredProcess>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<ProcessRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT id, code, number, name, app_id, table_id, draft, published_version, created_at, updated_at \
                     FROM processes WHERE organization_id = $1 ORDER BY code",
                )
                .bind(self.org_id),
            )
            .await?;
        Ok(rows.into_iter().map(process_from_row).collect())
    }

    /// The app (from `app` in the definition, else `app`) and the table a process names.
    async fn process_table(
        &self,
        conn: &mut Conn<'_>,
        definition: &Value,
        app: Option<&str>,
        process: &Process,
        path: &str,
    ) -> Result<(AppId, TableSchema, Vec<TableSchema>)> {
        let at = |key: &str| tenon_approvals_path(path, key);
        let app_reference = definition["app"].as_str().or(app).ok_or_else(|| {
            Invalid::one(
                at("app"),
                DetailCode::Required,
                "name the app whose table the process runs on",
            )
        })?;
        let Some(app) = self.load_app(conn, app_reference).await? else {
            return Err(Invalid::from(
                tenon_model::Reason::not_found("app", format!("no app \"{app_reference}\""))
                    .at(at("app")),
            )
            .into());
        };
        let mut tables = Vec::new();
        for table in self.load_tables(conn, app.id).await? {
            let fields = self.load_fields(conn, table.id).await?;
            tables.push(crate::apps::stored::finish_schema(TableSchema {
                app: app.clone(),
                table,
                fields,
            })?);
        }
        let Some(table) = tables
            .iter()
            .find(|schema| {
                schema.table.key.as_str() == process.table
                    || schema.table.id.to_string() == process.table
            })
            .cloned()
        else {
            return Err(Invalid::from(
                tenon_model::Reason::not_found(
                    "table",
                    format!("app {} has no table \"{}\"", app.key, process.table),
                )
                .at(at("table")),
            )
            .into());
        };
        Ok((app.id, table, tables))
    }

    /// `POST /api/v1/processes`: a new process with its draft (publish it to start instances).
    pub async fn create_process(
        &self,
        ctx: &WriteContext,
        definition: Value,
    ) -> Result<StoredProcess> {
        let process = Process::parse(&definition, "")?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let created = self
            .create_process_in(&mut conn, ctx, &definition, None, &process, "")
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub(crate) async fn create_process_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        definition: &Value,
        app: Option<&str>,
        process: &Process,
        path: &str,
    ) -> Result<StoredProcess> {
        let (app_id, table, _) = self
            .process_table(conn, definition, app, process, path)
            .await?;
        let now = self.store.now();
        // The organization's counter, taken in this transaction: numbers are never reused.
        let (number,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "UPDATE organizations SET process_number_next = process_number_next + 1 \
                     WHERE id = $1 RETURNING process_number_next - 1",
                )
                .bind(self.org_id),
            )
            .await?;
        let created = StoredProcess {
            id: ProcessId::new(),
            code: process.code.clone(),
            number,
            name: process.name.as_str().to_owned(),
            app_id,
            table_id: table.table.id,
            draft: tenon_approvals::definition::to_json(process),
            published_version: 0,
            created_at: now,
            updated_at: now,
        };
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO processes (organization_id, id, code, name, app_id, table_id, draft, \
                     published_version, created_at, updated_at, number) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $9)",
                )
                .bind(self.org_id)
                .bind(created.id)
                .bind(created.code.as_str())
                .bind(created.name.as_str())
                .bind(created.app_id)
                .bind(created.table_id)
                .bind(created.draft.clone())
                .bind(now)
                .bind(number),
            )
            .await;
        if let Err(error) = inserted {
            return Err(match crate::error::unique_violation(&error) {
                Some(_) => StoreError::conflict(
                    Some("code"),
                    DetailCode::NotUnique,
                    format!("a process with code {} exists", created.code),
                ),
                None => error.into(),
            });
        }
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::Process,
                target_id: created.id.to_string(),
                action: "created",
                before: None,
                after: Some(process_snapshot(&created)),
                ctx,
                events: Vec::new(),
            },
        )
        .await?;
        Ok(created)
    }

    /// `PUT /api/v1/processes/{code}/draft`: replaces the draft (the code stays; the table may change only
    /// before the first publish).
    pub async fn put_process_draft(
        &self,
        ctx: &WriteContext,
        code: &str,
        definition: Value,
    ) -> Result<StoredProcess> {
        let process = Process::parse(&definition, "")?;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_process(&mut conn, code)
            .await?
            .ok_or_else(|| StoreError::not_found("process"))?;
        let updated = self
            .put_draft_in(&mut conn, ctx, &before, &definition, None, process, "")
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_draft_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        before: &StoredProcess,
        definition: &Value,
        app: Option<&str>,
        process: Process,
        path: &str,
    ) -> Result<StoredProcess> {
        if process.code != before.code {
            return Err(Invalid::one(
                tenon_approvals_path(path, "code"),
                DetailCode::NotAllowed,
                format!("the draft of {} keeps its code", before.code),
            )
            .into());
        }
        let (_, table, _) = self
            .process_table(conn, definition, app, &process, path)
            .await?;
        if table.table.id != before.table_id && before.published_version > 0 {
            return Err(Invalid::one(
                tenon_approvals_path(path, "table"),
                DetailCode::NotAllowed,
                "a published process keeps its table",
            )
            .into());
        }
        let now = self.store.now();
        let mut updated = before.clone();
        updated.name = process.name.as_str().to_owned();
        updated.table_id = table.table.id;
        updated.app_id = table.app.id;
        updated.draft = tenon_approvals::definition::to_json(&process);
        updated.updated_at = now;
        conn.execute(
            Sql::new(
                "UPDATE processes SET name = $3, app_id = $4, table_id = $5, draft = $6, updated_at = $7 \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(updated.id)
            .bind(updated.name.as_str())
            .bind(updated.app_id)
            .bind(updated.table_id)
            .bind(updated.draft.clone())
            .bind(now),
        )
        .await?;
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::Process,
                target_id: updated.id.to_string(),
                action: "updated",
                before: Some(process_snapshot(before)),
                after: Some(process_snapshot(&updated)),
                ctx,
                events: Vec::new(),
            },
        )
        .await?;
        Ok(updated)
    }

    /// `POST /api/v1/processes/{code}/publish`: checks the draft and freezes it as the next version. A draft
    /// equal to the last published version publishes nothing new.
    pub async fn publish_process(&self, ctx: &WriteContext, code: &str) -> Result<StoredProcess> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let process = self
            .load_process(&mut conn, code)
            .await?
            .ok_or_else(|| StoreError::not_found("process"))?;
        let published = self.publish_in(&mut conn, ctx, process, "").await?;
        tx.commit().await?;
        Ok(published)
    }

    pub(crate) async fn publish_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        process: StoredProcess,
        path: &str,
    ) -> Result<StoredProcess> {
        let schema = self.schema_by_id(conn, process.table_id).await?;
        let mut tables = Vec::new();
        for table in self.load_tables(conn, process.app_id).await? {
            let fields = self.load_fields(conn, table.id).await?;
            tables.push(crate::apps::stored::finish_schema(TableSchema {
                app: schema.app.clone(),
                table,
                fields,
            })?);
        }
        let definition = Process::parse(&process.draft, path)?;
        let (roles, members) = self.known_names(conn).await?;
        let compiled = tenon_approvals::compile(
            definition,
            &schema,
            &tables,
            Known {
                roles: &roles,
                members: &members,
            },
            path,
        )?;
        if process.published_version > 0 {
            let last = self
                .load_version(conn, process.id, process.published_version)
                .await?;
            if last["definition"] == process.draft {
                return Ok(process);
            }
        }
        let frozen = tenon_approvals::freeze(&compiled);
        let now = self.store.now();
        let version = process.published_version + 1;
        conn.execute(
            Sql::new(
                "INSERT INTO process_versions (organization_id, process_id, version, frozen, published_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.org_id)
            .bind(process.id)
            .bind(version)
            .bind(frozen)
            .bind(now),
        )
        .await?;
        conn.execute(
            Sql::new(
                "UPDATE processes SET published_version = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(process.id)
            .bind(version)
            .bind(now),
        )
        .await?;
        let mut published = process.clone();
        published.published_version = version;
        published.updated_at = now;
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::Process,
                target_id: published.id.to_string(),
                action: "published",
                before: Some(process_snapshot(&process)),
                after: Some(process_snapshot(&published)),
                ctx,
                events: Vec::new(),
            },
        )
        .await?;
        Ok(published)
    }

    pub(crate) async fn load_version(
        &self,
        conn: &mut Conn<'_>,
        process: ProcessId,
        version: i32,
    ) -> Result<Value> {
        let row: Option<(sqlx::types::Json<Value>,)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT frozen FROM process_versions WHERE organization_id = $1 AND process_id = $2 AND version = $3",
                )
                .bind(self.org_id)
                .bind(process)
                .bind(version),
            )
            .await?;
        row.map(|(frozen,)| frozen.0).ok_or_else(|| {
            StoreError::Corrupt(format!("process {process} has no version {version}"))
        })
    }

    /// A version compiled against its table as it is now, from this node's cache when it has it (a
    /// version never changes; the cache goes with the schemas', see `cache.rs`).
    pub(crate) async fn compiled_version_cached(
        &self,
        conn: &mut Conn<'_>,
        process: ProcessId,
        version: i32,
        schema: &TableSchema,
    ) -> Result<std::sync::Arc<CompiledProcess>> {
        let caches = &self.store.caches;
        let key = (self.org_id, process, version);
        // A transaction that changed a schema reads its own.
        let cacheable = !conn.marked(crate::cache::SCHEMA);
        if cacheable
            && caches.fresh()
            && let Some(compiled) = caches.processes.get(&key)
        {
            return Ok(compiled);
        }
        let generation = caches.processes.generation();
        let compiled = std::sync::Arc::new(
            self.compiled_version(conn, process, version, schema)
                .await?,
        );
        if cacheable {
            caches.processes.insert(key, compiled.clone(), generation);
        }
        Ok(compiled)
    }

    /// A version, thawed against its table as it is now.
    pub(crate) async fn compiled_version(
        &self,
        conn: &mut Conn<'_>,
        process: ProcessId,
        version: i32,
        schema: &TableSchema,
    ) -> Result<CompiledProcess> {
        let frozen = self.load_version(conn, process, version).await?;
        tenon_approvals::thaw(&frozen, schema).map_err(StoreError::Corrupt)
    }

    pub async fn process_versions(&self, code: &str) -> Result<Vec<ProcessVersion>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let process = self
            .load_process(&mut conn, code)
            .await?
            .ok_or_else(|| StoreError::not_found("process"))?;
        let rows: Vec<(i32, sqlx::types::Json<Value>, DateTime<Utc>)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT version, frozen, published_at FROM process_versions \
                     WHERE organization_id = $1 AND process_id = $2 ORDER BY version",
                )
                .bind(self.org_id)
                .bind(process.id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(version, frozen, published_at)| ProcessVersion {
                version,
                definition: frozen.0["definition"].clone(),
                published_at,
            })
            .collect())
    }
}

/// `path.key`, or `key` at the top.
fn tenon_approvals_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// What an app definition file says about approvals: custom roles (without members) and processes (each
/// as written, and parsed at `processes[i]`).
#[derive(Debug, Clone, Default)]
pub struct FileApprovals {
    pub roles: Vec<(tenon_model::apps::ApiKey, tenon_model::Name)>,
    pub processes: Vec<(Value, Process)>,
}

impl Tenant<'_> {
    pub(crate) async fn apply_file_approvals(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        app: &str,
        approvals: &FileApprovals,
    ) -> Result<()> {
        self.ensure_roles_in(conn, ctx, &approvals.roles).await?;
        for (i, (definition, process)) in approvals.processes.iter().enumerate() {
            let path = format!("processes[{i}]");
            let stored = match self.load_process(conn, &process.code).await? {
                Some(existing) => {
                    let wanted = tenon_approvals::definition::to_json(process);
                    if existing.draft == wanted
                        && existing.table_id_matches(conn, self, app, process).await?
                    {
                        existing
                    } else {
                        self.put_draft_in(
                            conn,
                            ctx,
                            &existing,
                            definition,
                            Some(app),
                            process.clone(),
                            &path,
                        )
                        .await?
                    }
                }
                None => {
                    self.create_process_in(conn, ctx, definition, Some(app), process, &path)
                        .await?
                }
            };
            self.publish_in(conn, ctx, stored, &path).await?;
        }
        Ok(())
    }
}

impl StoredProcess {
    /// Whether the process runs on the table the file names (a file may move it to another table).
    async fn table_id_matches(
        &self,
        conn: &mut Conn<'_>,
        tenant: &Tenant<'_>,
        app: &str,
        process: &Process,
    ) -> Result<bool> {
        let Some(app) = tenant.load_app(conn, app).await? else {
            return Ok(false);
        };
        let tables = tenant.load_tables(conn, app.id).await?;
        Ok(tables
            .iter()
            .any(|table| table.id == self.table_id && table.key.as_str() == process.table))
    }
}
