//! Publishing flows from a definition file: each flow is compiled against the app's tables as the import
//! leaves them (`tenon_flows::compile`, every problem with its path `flows[i]…`), then created or, when
//! its definition changed, given version n+1. Runs keep the version they started with.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_flows::{CompiledFlow, Flow};
use tenon_model::apps::App;
use tenon_model::{AppId, DetailCode, FieldError, FlowId, Invalid, TableId, TargetKind};
use uuid::Uuid;

use super::StoredFlow;
use crate::audit::{self, NamedChange};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// What an app definition file says about flows: each as written, and parsed at `flows[i]`.
#[derive(Debug, Clone, Default)]
pub struct FileFlows {
    pub flows: Vec<(Value, Flow)>,
}

#[derive(sqlx::FromRow)]
struct FlowRow {
    id: Uuid,
    key: String,
    name: String,
    app_id: Option<Uuid>,
    table_id: Option<Uuid>,
    enabled: bool,
    definition: sqlx::types::Json<Value>,
    published_version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl FlowRow {
    fn into_flow(self) -> StoredFlow {
        StoredFlow {
            id: FlowId::from_uuid(self.id),
            key: self.key,
            name: self.name,
            app_id: self.app_id.map(AppId::from_uuid),
            table_id: self.table_id.map(TableId::from_uuid),
            enabled: self.enabled,
            definition: self.definition.0,
            version: self.published_version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl Tenant<'_> {
    /// A flow by id or key, in `conn`.
    pub(crate) async fn load_flow(
        &self,
        conn: &mut Conn<'_>,
        reference: &str,
    ) -> Result<Option<StoredFlow>> {
        let row: Option<FlowRow> = match reference.parse::<FlowId>() {
            Ok(id) => {
                conn.fetch_optional(
                    Sql::new(
                        "SELECT id, key, name, app_id, table_id, enabled, definition, published_version, created_at, updated_at \
                         FROM flows WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(self.org_id)
                    .bind(id),
                )
                .await?
            }
            Err(_) => {
                conn.fetch_optional(
                    Sql::new(
                        "SELECT id, key, name, app_id, table_id, enabled, definition, published_version, created_at, updated_at \
                         FROM flows WHERE organization_id = $1 AND key = $2",
                    )
                    .bind(self.org_id)
                    .bind(reference),
                )
                .await?
            }
        };
        Ok(row.map(FlowRow::into_flow))
    }

    /// `GET /api/v1/flows/{flow}`: a flow by id or key.
    pub async fn flow(&self, reference: &str) -> Result<StoredFlow> {
        let mut pooled = self.store.pools.read().await?;
        self.load_flow(&mut pooled.conn(), reference)
            .await?
            .ok_or_else(|| StoreError::not_found("flow"))
    }

    /// Every flow of the organization, by key.
    pub async fn list_flows(&self) -> Result<Vec<StoredFlow>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<FlowRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT id, key, name, app_id, table_id, enabled, definition, published_version, created_at, updated_at \
                     FROM flows WHERE organization_id = $1 ORDER BY key",
                )
                .bind(self.org_id),
            )
            .await?;
        Ok(rows.into_iter().map(FlowRow::into_flow).collect())
    }

    /// The compiled form of a flow's version.
    pub(crate) async fn flow_version(
        &self,
        conn: &mut Conn<'_>,
        flow: FlowId,
        version: i32,
    ) -> Result<CompiledFlow> {
        let (compiled,): (sqlx::types::Json<Value>,) = conn
            .fetch_optional(
                Sql::new(
                    "SELECT compiled FROM flow_versions WHERE organization_id = $1 AND flow_id = $2 AND version = $3",
                )
                .bind(self.org_id)
                .bind(flow)
                .bind(version),
            )
            .await?
            .ok_or_else(|| StoreError::not_found("flow version"))?;
        serde_json::from_value(compiled.0)
            .map_err(|error| StoreError::Corrupt(format!("flow {flow} version {version}: {error}")))
    }

    /// Publishes the flows of a definition file of `app` (after its tables were applied, in the same
    /// transaction).
    pub(crate) async fn apply_file_flows(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        app: &App,
        flows: &FileFlows,
    ) -> Result<()> {
        if flows.flows.is_empty() {
            return Ok(());
        }
        let tables = self.app_schemas(conn, app.id).await?;
        let processes = self.process_tables(conn).await?;
        let process_table = |code: &str| processes.get(code).copied();
        let mut problems: Vec<FieldError> = Vec::new();
        let mut compiled = Vec::with_capacity(flows.flows.len());
        for (i, (_, flow)) in flows.flows.iter().enumerate() {
            match tenon_flows::compile::compile_in(
                flow,
                &tables,
                &process_table,
                &format!("flows[{i}]"),
            ) {
                Ok(done) => compiled.push(Some(done)),
                Err(invalid) => {
                    problems.extend(invalid.0);
                    compiled.push(None);
                }
            }
        }
        let callees = self.stored_callees(conn).await?;
        let file: Vec<&Flow> = flows.flows.iter().map(|(_, flow)| flow).collect();
        problems.extend(tenon_flows::calls::check_calls(&file, &|key| {
            callees.get(key).cloned()
        }));
        if !problems.is_empty() {
            return Err(Invalid(problems).into());
        }
        let now = self.store.now();
        for (i, ((definition, flow), compiled)) in flows.flows.iter().zip(compiled).enumerate() {
            let Some(compiled) = compiled else { continue };
            let compiled_json = serde_json::to_value(&compiled)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let table_id = compiled.trigger_table();
            let name = flow.name.clone().unwrap_or_else(|| flow.key.clone());
            let existing = self.load_flow(conn, &flow.key).await?;
            let (id, version, before) = match &existing {
                Some(existing) if existing.app_id != Some(app.id) => {
                    return Err(Invalid::one(
                        format!("flows[{i}].key"),
                        DetailCode::NotUnique,
                        format!("{} is the key of a flow of another app", flow.key),
                    )
                    .into());
                }
                Some(existing) if existing.definition == *definition => continue,
                Some(existing) => (existing.id, existing.version + 1, Some(snapshot(existing))),
                None => (FlowId::new(), 1, None),
            };
            if existing.is_none() {
                conn.execute(
                    Sql::new(
                        "INSERT INTO flows (organization_id, id, key, name, app_id, table_id, enabled, definition, \
                         published_version, compiled, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10)",
                    )
                    .bind(self.org_id)
                    .bind(id)
                    .bind(flow.key.as_str())
                    .bind(name.as_str())
                    .bind(app.id)
                    .bind(table_id.map(|t| *t.as_uuid()))
                    .bind(flow.enabled)
                    .bind(definition.clone())
                    .bind(compiled_json.clone())
                    .bind(now),
                )
                .await?;
            }
            conn.execute(
                Sql::new(
                    "INSERT INTO flow_versions (organization_id, flow_id, version, definition, compiled, published_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(version)
                .bind(definition.clone())
                .bind(compiled_json.clone())
                .bind(now),
            )
            .await?;
            conn.execute(
                Sql::new(
                    "UPDATE flows SET name = $3, table_id = $4, enabled = $5, definition = $6, published_version = $7, \
                     compiled = $8, updated_at = $9 WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(name.as_str())
                .bind(table_id.map(|t| *t.as_uuid()))
                .bind(flow.enabled)
                .bind(definition.clone())
                .bind(version)
                .bind(compiled_json)
                .bind(now),
            )
            .await?;
            self.ensure_hook(conn, id, &compiled.trigger).await?;
            let stored = self
                .load_flow(conn, &flow.key)
                .await?
                .ok_or_else(|| StoreError::not_found("flow"))?;
            audit::record_with_events(
                conn,
                self,
                NamedChange {
                    target_kind: TargetKind::Flow,
                    target_id: id.to_string(),
                    action: "published",
                    before,
                    after: Some(snapshot(&stored)),
                    ctx,
                    events: Vec::new(),
                },
            )
            .await?;
        }
        Ok(())
    }
}

fn snapshot(flow: &StoredFlow) -> Value {
    json!({
        "id": flow.id.to_string(),
        "key": flow.key,
        "name": flow.name,
        "enabled": flow.enabled,
        "version": flow.version,
    })
}
