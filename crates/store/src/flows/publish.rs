//! Publishing flows from a definition file: each flow is compiled against the app's tables as the import
//! leaves them (`tenon_flows::compile`, every problem with its path `flows[i]…`), then created or, when
//! its definition changed, given version n+1. Runs keep the version they started with.

use std::sync::Arc;

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
    /// `voucher_rules:` each as written, and parsed at `voucher_rules[i]` (published with the flows).
    pub rules: Vec<(Value, tenon_ledger::rules::RuleDefinition)>,
    /// `params:` (`{params.vat_rate}` in rule and step formulas); replaces the app's.
    pub params: std::collections::BTreeMap<String, Value>,
}

/// The flow a voucher rule with `sync: auto` adds (`rule:<key>`): on `enter`, `change` and `leave` of the
/// rule's `when` (any change while none is given), one `ledger_sync` step.
fn rule_flow(rule: &tenon_ledger::rules::RuleDefinition, enabled: bool) -> Flow {
    Flow {
        key: format!("rule:{}", rule.key),
        name: Some(format!(
            "凭证规则 {}",
            rule.name.clone().unwrap_or_else(|| rule.key.clone())
        )),
        description: None,
        enabled,
        trigger: tenon_flows::definition::Trigger {
            record: Some(rule.table.clone()),
            on: Some(tenon_flows::On::Sync),
            when: Some(rule.when.clone().unwrap_or_else(|| "TRUE()".to_owned())),
            ..Default::default()
        },
        steps: vec![tenon_flows::definition::Step::LedgerSync {
            key: "sync".to_owned(),
            rule: rule.key.clone(),
            record: "{trigger.record_id}".to_owned(),
        }],
    }
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
    ) -> Result<Arc<CompiledFlow>> {
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
            .map(Arc::new)
            .map_err(|error| StoreError::Corrupt(format!("flow {flow} version {version}: {error}")))
    }

    /// [`Tenant::flow_version`] of a version known to be committed (a claimed run's, a callee's read by
    /// a worker's step), kept per node: a version row is written once, when published, and never
    /// changes; a deleted flow's runs go with it. A transaction that publishes must not call it (a
    /// version it wrote could roll back).
    pub(crate) async fn committed_flow_version(
        &self,
        conn: &mut Conn<'_>,
        flow: FlowId,
        version: i32,
    ) -> Result<Arc<CompiledFlow>> {
        let caches = &self.store.caches;
        let key = (self.org_id, flow, version);
        if let Some(compiled) = caches.flows.get(&key) {
            return Ok(compiled);
        }
        let generation = caches.flows.generation();
        let compiled = self.flow_version(conn, flow, version).await?;
        caches.flows.insert(key, compiled.clone(), generation);
        Ok(compiled)
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
        if flows.flows.is_empty() && flows.rules.is_empty() && flows.params.is_empty() {
            return Ok(());
        }
        self.write_app_params(conn, app.id, &flows.params).await?;
        let tables = self.app_schemas(conn, app.id).await?;
        let processes = self.process_tables(conn).await?;
        let process_table = |code: &str| processes.get(code).copied();
        let mut problems: Vec<FieldError> = Vec::new();
        let rules = self
            .check_file_rules(
                conn,
                app,
                &tables,
                &flows.rules,
                &flows.params,
                &mut problems,
            )
            .await?;
        // The file's flows, then the flows of its voucher rules (`sync: auto`; a rule that no longer
        // syncs by itself disables its flow).
        let mut all: Vec<(Value, Flow, String)> = flows
            .flows
            .iter()
            .enumerate()
            .map(|(i, (definition, flow))| {
                (definition.clone(), flow.clone(), format!("flows[{i}]"))
            })
            .collect();
        for (i, (_, rule)) in flows.rules.iter().enumerate() {
            let auto = rule.sync() == tenon_ledger::rules::SyncMode::Auto;
            let key = format!("rule:{}", rule.key);
            // A rule whose table is missing is refused at `voucher_rules[i].table` already.
            let table_exists = tables.iter().any(|t| t.table.key.as_str() == rule.table);
            if table_exists && (auto || self.load_flow(conn, &key).await?.is_some()) {
                let flow = rule_flow(rule, auto);
                let definition = serde_json::to_value(&flow)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                all.push((definition, flow, format!("voucher_rules[{i}]")));
            }
        }
        let mut compiled = Vec::with_capacity(all.len());
        for (_, flow, path) in &all {
            match tenon_flows::compile::compile_with(
                flow,
                &tables,
                &process_table,
                &flows.params,
                path,
            ) {
                Ok(done) => compiled.push(Some(done)),
                Err(invalid) => {
                    let system = path.starts_with("voucher_rules");
                    problems.extend(invalid.0.into_iter().map(|mut error| {
                        if system {
                            error.field = error.field.replace(".trigger.when", ".when");
                        }
                        error
                    }));
                    compiled.push(None);
                }
            }
        }
        let callees = self.stored_callees(conn).await?;
        let file: Vec<&Flow> = flows.flows.iter().map(|(_, flow)| flow).collect();
        problems.extend(tenon_flows::calls::check_calls(&file, &|key| {
            callees.get(key).cloned()
        }));
        // `ledger_sync` steps name a rule of the file or of the organization; outside steps a connection.
        let mut named = Vec::new();
        let mut roles = Vec::new();
        let mut connections = Vec::new();
        // `sql` steps: `(step path, connection, query, params)`, for their kind's placeholders.
        let mut queries = Vec::new();
        for (i, (_, flow)) in flows.flows.iter().enumerate() {
            tenon_flows::definition::walk(
                &flow.steps,
                &format!("flows[{i}].steps"),
                &mut |step, at| {
                    if let tenon_flows::definition::Step::LedgerSync { rule, .. } = step {
                        named.push((format!("{at}.rule"), rule.clone()));
                    }
                    if let tenon_flows::definition::Step::Notify { sms, email, .. } = step {
                        if let Some(sms) = sms.as_ref().filter(|s| !s.connection.is_empty()) {
                            connections.push((
                                format!("{at}.sms.connection"),
                                sms.connection.clone(),
                                &["aliyun_sms", "tencent_sms"][..],
                            ));
                        }
                        if let Some(email) = email.as_ref().filter(|e| !e.connection.is_empty()) {
                            connections.push((
                                format!("{at}.email.connection"),
                                email.connection.clone(),
                                &["smtp"][..],
                            ));
                        }
                    }
                    if let tenon_flows::definition::Step::Notify { to, .. } = step {
                        roles.extend(
                            to.roles
                                .iter()
                                .enumerate()
                                .map(|(j, role)| (format!("{at}.to.roles[{j}]"), role.clone())),
                        );
                    }
                    match step {
                        tenon_flows::definition::Step::Http(http) => {
                            if let Some(connection) = &http.connection {
                                connections.push((
                                    format!("{at}.connection"),
                                    connection.clone(),
                                    &["http"][..],
                                ));
                            }
                        }
                        tenon_flows::definition::Step::Robot(robot) => connections.push((
                            format!("{at}.connection"),
                            robot.connection.clone(),
                            &["dingtalk_robot"][..],
                        )),
                        tenon_flows::definition::Step::Sms(sms) => connections.push((
                            format!("{at}.connection"),
                            sms.connection.clone(),
                            &["aliyun_sms", "tencent_sms"][..],
                        )),
                        tenon_flows::definition::Step::Email(email) => connections.push((
                            format!("{at}.connection"),
                            email.connection.clone(),
                            &["smtp"][..],
                        )),
                        tenon_flows::definition::Step::KingdeeVoucher(step) => {
                            if let Some(connection) = &step.connection {
                                connections.push((
                                    format!("{at}.connection"),
                                    connection.clone(),
                                    &["kingdee"][..],
                                ));
                            }
                        }
                        tenon_flows::definition::Step::Sql(step) => {
                            if let Some(connection) = &step.connection {
                                connections.push((
                                    format!("{at}.connection"),
                                    connection.clone(),
                                    tenon_flows::sql::Dialect::KINDS,
                                ));
                                if let Some(query) = &step.query {
                                    queries.push((
                                        at.to_owned(),
                                        connection.clone(),
                                        query.clone(),
                                        step.params.len(),
                                    ));
                                }
                            }
                        }
                        tenon_flows::definition::Step::YonyouVoucher(step) => {
                            if let Some(connection) = &step.connection {
                                connections.push((
                                    format!("{at}.connection"),
                                    connection.clone(),
                                    &["yonyou_u8", "yonsuite"][..],
                                ));
                            }
                        }
                        _ => {}
                    }
                },
            );
        }
        for (at, rule) in named {
            if !flows.rules.iter().any(|(_, r)| r.key == rule)
                && !self.has_voucher_rule(conn, &rule).await?
            {
                problems.push(
                    FieldError::new(
                        at,
                        DetailCode::NotFound,
                        format!("the organization has no voucher rule {rule}"),
                    )
                    .with("what", "voucher rule"),
                );
            }
        }
        for (at, role) in roles {
            if self.load_role(conn, &role).await?.is_none() {
                problems.push(
                    FieldError::new(
                        at,
                        DetailCode::NotFound,
                        format!("the organization has no role {role}"),
                    )
                    .with("what", "role"),
                );
            }
        }
        let mut kinds = std::collections::BTreeMap::new();
        for (at, key, wanted) in connections {
            let kind = self.connection_row_kind(conn, &key).await?;
            if let Some(kind) = &kind {
                kinds.insert(key.clone(), kind.clone());
            }
            match kind {
                None => problems.push(
                    FieldError::new(
                        at,
                        DetailCode::NotFound,
                        format!("the organization has no connection {key}"),
                    )
                    .with("what", "connection"),
                ),
                Some(kind) if !wanted.contains(&kind.as_str()) => problems.push(FieldError::new(
                    at,
                    DetailCode::NotAllowed,
                    format!(
                        "connection {key} is of kind {kind}, not {}",
                        wanted.join(" or ")
                    ),
                )),
                Some(_) => {}
            }
        }
        for (at, key, query, n_params) in queries {
            if kinds.get(&key).map(String::as_str) != Some("mysql") {
                continue;
            }
            if let Err(misplaced) = tenon_flows::sql_mysql::place(&query, n_params) {
                let field = if misplaced.params_wrong {
                    "params"
                } else {
                    "query"
                };
                problems.push(FieldError::new(
                    format!("{at}.{field}"),
                    DetailCode::InvalidValue,
                    misplaced.reason,
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Invalid(problems).into());
        }
        self.write_file_rules(conn, ctx, app, &rules).await?;
        let now = self.store.now();
        for ((definition, flow, path), compiled) in all.iter().zip(compiled) {
            let Some(compiled) = compiled else { continue };
            let compiled_json = serde_json::to_value(&compiled)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let table_id = compiled.trigger_table();
            let name = flow.name.clone().unwrap_or_else(|| flow.key.clone());
            let existing = self.load_flow(conn, &flow.key).await?;
            let (id, version, before) = match &existing {
                Some(existing) if existing.app_id != Some(app.id) => {
                    return Err(Invalid::one(
                        format!("{path}.key"),
                        DetailCode::NotUnique,
                        format!("{} is the key of a flow of another app", flow.key),
                    )
                    .into());
                }
                Some(existing)
                    if existing.definition == *definition
                        && self
                            .flow_version(conn, existing.id, existing.version)
                            .await
                            .is_ok_and(|published| published.params == compiled.params) =>
                {
                    continue;
                }
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

impl Tenant<'_> {
    /// Replaces an app's `params:` (none: the row goes).
    async fn write_app_params(
        &self,
        conn: &mut Conn<'_>,
        app: AppId,
        params: &std::collections::BTreeMap<String, Value>,
    ) -> Result<()> {
        conn.execute(
            Sql::new("DELETE FROM app_params WHERE organization_id = $1 AND app_id = $2")
                .bind(self.org_id)
                .bind(app),
        )
        .await?;
        if !params.is_empty() {
            conn.execute(
                Sql::new(
                    "INSERT INTO app_params (organization_id, app_id, params, updated_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(self.org_id)
                .bind(app)
                .bind(serde_json::to_value(params).map_err(|e| StoreError::Corrupt(e.to_string()))?)
                .bind(self.store.now()),
            )
            .await?;
        }
        Ok(())
    }

    /// An app's `params:` as last imported.
    pub async fn app_params(
        &self,
        app: AppId,
    ) -> Result<std::collections::BTreeMap<String, Value>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(sqlx::types::Json<std::collections::BTreeMap<String, Value>>,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT params FROM app_params WHERE organization_id = $1 AND app_id = $2",
                )
                .bind(self.org_id)
                .bind(app),
            )
            .await?;
        Ok(row.map(|(params,)| params.0).unwrap_or_default())
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
