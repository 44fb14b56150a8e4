//! Applying an app definition (apps as code): the steps of a plan, all in one transaction, so an import
//! either takes effect whole or not at all.

use tenon_model::apps::dashboard::check::check_references;
use tenon_model::apps::definition::{
    AppDefinition, CurrentApp, Step, ViewDefinition, adopt_choice_ids, created_apart,
};
use tenon_model::apps::filter::{Filter, FilterContext, parse_sort};
use tenon_model::apps::form_subtable::{self, Subtable};
use tenon_model::apps::view::check_config;
use tenon_model::apps::{App, ParseContext, TableSchema};
use tenon_model::{DetailCode, Invalid};

use super::{AppPatch, FieldPatch, NewApp, NewTable, TablePatch, ViewSpec};
use crate::exec::Conn;
use crate::{Result, StoreError, Tenant, WriteContext};

impl Tenant<'_> {
    /// An app with all its tables, by id or key (`None` if it does not exist).
    pub async fn current_app(&self, reference: &str) -> Result<Option<CurrentApp>> {
        let mut pooled = self.store.pools.read().await?;
        self.current_app_in(&mut pooled.conn(), reference).await
    }

    pub(crate) async fn current_app_in(
        &self,
        conn: &mut Conn<'_>,
        reference: &str,
    ) -> Result<Option<CurrentApp>> {
        let Some(app) = self.load_app(conn, reference).await? else {
            return Ok(None);
        };
        let mut tables = Vec::new();
        let mut views = std::collections::HashMap::new();
        for table in self.load_tables(conn, app.id).await? {
            views.insert(table.id, self.load_views(conn, table.id).await?);
            let fields = self.load_fields(conn, table.id).await?;
            tables.push(super::stored::finish_schema(TableSchema {
                app: app.clone(),
                table,
                fields,
            })?);
        }
        let dashboards = self
            .load_dashboards(conn, app.id)
            .await?
            .into_iter()
            .map(|stored| stored.dashboard)
            .collect();
        Ok(Some(CurrentApp {
            app,
            tables,
            views,
            dashboards,
        }))
    }

    /// Applies `steps` (computed by `plan` from `definition`) in one transaction.
    pub async fn apply_definition(
        &self,
        ctx: &WriteContext,
        definition: &AppDefinition,
        steps: &[Step],
        parse: &ParseContext,
        mint_slug: fn() -> String,
    ) -> Result<App> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let app = self
            .apply_definition_in(&mut conn, ctx, definition, steps, parse, mint_slug)
            .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// An app definition file: its app and tables as [`Tenant::apply_definition`], then its custom roles
    /// (created without members when missing), processes (created or their drafts replaced, then
    /// published: a changed process becomes version n+1) and flows (published likewise), all in one
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_app_file(
        &self,
        ctx: &WriteContext,
        definition: &AppDefinition,
        steps: &[Step],
        parse: &ParseContext,
        mint_slug: fn() -> String,
        approvals: &crate::approvals::FileApprovals,
        flows: &crate::flows::FileFlows,
    ) -> Result<App> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let app = self
            .apply_definition_in(&mut conn, ctx, definition, steps, parse, mint_slug)
            .await?;
        self.apply_file_approvals(&mut conn, ctx, app.key.as_str(), approvals)
            .await?;
        self.apply_file_flows(&mut conn, ctx, &app, flows).await?;
        tx.commit().await?;
        Ok(app)
    }

    pub(crate) async fn apply_definition_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        definition: &AppDefinition,
        steps: &[Step],
        parse: &ParseContext,
        mint_slug: fn() -> String,
    ) -> Result<App> {
        let mut app = self.load_app(conn, definition.key.as_str()).await?;
        for step in steps {
            let missing = |what: &str| {
                StoreError::Invalid(Invalid::one(
                    "definition",
                    DetailCode::Required,
                    format!("{what} is missing for step {step}"),
                ))
            };
            if let Step::CreateApp = step {
                let new = NewApp {
                    name: definition.name.clone(),
                    key: Some(definition.key.clone()),
                    description: definition.description.clone(),
                };
                app = Some(self.create_app_in(conn, ctx, new).await?);
                continue;
            }
            let current = app.clone().ok_or_else(|| missing("the app"))?;
            match step {
                Step::CreateApp => {}
                Step::UpdateApp => {
                    let patch = AppPatch {
                        name: Some(definition.name.clone()),
                        key: None,
                        description: Some(definition.description.clone()),
                    };
                    app = Some(self.update_app_in(conn, ctx, current.id, patch).await?);
                }
                Step::CreateTable { table } => {
                    let wanted = definition
                        .tables
                        .iter()
                        .find(|t| t.key == *table)
                        .ok_or_else(|| missing("the table"))?;
                    let fields = wanted
                        .fields
                        .iter()
                        .filter(|spec| !created_apart(&spec.kind))
                        .cloned()
                        .collect();
                    let new = NewTable {
                        name: wanted.name.clone(),
                        key: Some(wanted.key.clone()),
                        fields,
                        primary_field: None,
                        unique_together: Vec::new(),
                        indexes: Vec::new(),
                        validation_rules: Vec::new(),
                    };
                    self.create_table_in(conn, ctx, &current, new, parse)
                        .await?;
                }
                Step::AddField { table, field } => {
                    let schema = self.schema_by_key(conn, &current, table.as_str()).await?;
                    let wanted = definition
                        .tables
                        .iter()
                        .find(|t| t.key == *table)
                        .and_then(|t| t.field(field))
                        .ok_or_else(|| missing("the field"))?;
                    self.add_field_in(conn, ctx, &schema, wanted.clone(), parse)
                        .await?;
                }
                Step::UpdateField {
                    table,
                    field,
                    changes,
                } => {
                    let schema = self.schema_by_key(conn, &current, table.as_str()).await?;
                    let existing = schema
                        .field_by_key(field.as_str())
                        .cloned()
                        .ok_or_else(|| missing("the field"))?;
                    let mut wanted = definition
                        .tables
                        .iter()
                        .find(|t| t.key == *table)
                        .and_then(|t| t.field(field))
                        .cloned()
                        .ok_or_else(|| missing("the field"))?;
                    adopt_choice_ids(&mut wanted, &existing);
                    let retype = changes
                        .iter()
                        .any(|change| *change == "type" || *change == "options");
                    let patch = FieldPatch {
                        name: Some(wanted.name),
                        key: None,
                        kind: retype.then_some(wanted.kind),
                        required: Some(wanted.required),
                        unique: Some(wanted.unique),
                        indexed: Some(wanted.indexed),
                        default: Some(wanted.default),
                        position: None,
                    };
                    self.update_field_in(conn, ctx, &schema, existing.id, patch, parse)
                        .await?;
                }
                Step::DeleteField { table, field } => {
                    let schema = self.schema_by_key(conn, &current, table.as_str()).await?;
                    let existing = schema
                        .field_by_key(field.as_str())
                        .map(|f| f.id)
                        .ok_or_else(|| missing("the field"))?;
                    self.delete_field_in(conn, ctx, &schema, existing).await?;
                }
                Step::UpdateTable { table, .. } => {
                    let schema = self.schema_by_key(conn, &current, table.as_str()).await?;
                    let wanted = definition
                        .tables
                        .iter()
                        .find(|t| t.key == *table)
                        .ok_or_else(|| missing("the table"))?;
                    let patch = TablePatch {
                        name: Some(wanted.name.clone()),
                        key: None,
                        primary_field: wanted.primary_field.as_ref().map(ToString::to_string),
                        unique_together: Some(
                            wanted
                                .unique_together
                                .iter()
                                .map(|group| group.iter().map(ToString::to_string).collect())
                                .collect(),
                        ),
                        indexes: Some(
                            wanted
                                .indexes
                                .iter()
                                .map(|group| group.iter().map(ToString::to_string).collect())
                                .collect(),
                        ),
                        validation_rules: Some(wanted.validation_rules.clone()),
                        position: None,
                    };
                    self.update_table_in(conn, ctx, &schema, patch).await?;
                }
                Step::UpdateViews { table } => {
                    let schema = self.schema_by_key(conn, &current, table.as_str()).await?;
                    let wanted = definition
                        .tables
                        .iter()
                        .find(|t| t.key == *table)
                        .ok_or_else(|| missing("the table"))?;
                    self.sync_views(conn, ctx, &schema, &wanted.views, parse, mint_slug)
                        .await?;
                }
                Step::DeleteTable { table } => {
                    let schema = self.schema_by_key(conn, &current, table.as_str()).await?;
                    self.delete_table_in(conn, ctx, &schema).await?;
                }
                Step::UpdateDashboards => {
                    let now = self
                        .current_app_in(conn, &current.id.to_string())
                        .await?
                        .ok_or_else(|| missing("the app"))?;
                    let filter_context = FilterContext {
                        today: self
                            .store
                            .now()
                            .with_timezone(&parse.org_time_zone.tz())
                            .date_naive(),
                        time_zone: parse.org_time_zone,
                    };
                    for (i, dashboard) in definition.dashboards.iter().enumerate() {
                        check_references(
                            dashboard,
                            &format!("dashboards[{i}]"),
                            &now,
                            &filter_context,
                        )?;
                    }
                    self.replace_dashboards_in(conn, ctx, &current, &definition.dashboards)
                        .await?;
                }
            }
        }
        let app = self
            .load_app(conn, definition.key.as_str())
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        Ok(app)
    }

    /// Makes a table's views match a definition: creates, changes (keeping ids and form links) and
    /// deletes by key, checking each against the table.
    async fn sync_views(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        wanted: &[ViewDefinition],
        parse: &ParseContext,
        mint_slug: fn() -> String,
    ) -> Result<()> {
        let existing = self.load_views(conn, schema.table.id).await?;
        let filter_context = FilterContext {
            today: self
                .store
                .now()
                .with_timezone(&parse.org_time_zone.tz())
                .date_naive(),
            time_zone: parse.org_time_zone,
        };
        for (i, view) in wanted.iter().enumerate() {
            let path = format!("tables.{}.views[{i}]", schema.table.key);
            check_config(
                view.view_type,
                &view.config,
                schema,
                &format!("{path}.config"),
            )?;
            let mut check = tenon_model::Checker::default();
            for (entry, subtable) in Subtable::all(&view.config, schema) {
                let detail = self.schema_by_id(conn, subtable.detail).await?;
                form_subtable::check_detail(
                    &mut check,
                    &format!("{path}.config.fields[{entry}]"),
                    &subtable,
                    &detail,
                    schema,
                );
            }
            check.finish()?;
            if let Some(filter) = view.config.get("filter").filter(|value| !value.is_null()) {
                Filter::parse(filter, schema, &filter_context).map_err(|error| {
                    let field = format!("{path}.config.{}", error.field);
                    Invalid::from(error.at(field))
                })?;
            }
            if let Some(sort) = view.config.get("sort").and_then(serde_json::Value::as_str) {
                parse_sort(sort, schema)
                    .map_err(|error| Invalid::from(error.at(format!("{path}.config.sort"))))?;
            }
            let spec = ViewSpec {
                name: view.name.clone(),
                key: Some(view.key.clone()),
                view_type: view.view_type,
                config: view.config.clone(),
                fresh_slug: mint_slug(),
            };
            match existing.iter().find(|current| current.key == view.key) {
                Some(current) => {
                    let same = current.name == view.name
                        && current.view_type == view.view_type
                        && current.config == view.config;
                    if !same {
                        self.update_view_in(conn, ctx, schema, current, spec)
                            .await?;
                    }
                }
                None => {
                    self.create_view_in(conn, ctx, schema, spec).await?;
                }
            }
        }
        for current in existing
            .iter()
            .filter(|current| !wanted.iter().any(|view| view.key == current.key))
        {
            self.delete_view_in(conn, ctx, current).await?;
        }
        Ok(())
    }

    async fn schema_by_key(
        &self,
        conn: &mut Conn<'_>,
        app: &App,
        table: &str,
    ) -> Result<TableSchema> {
        let table = self
            .load_table(conn, app.id, table)
            .await?
            .ok_or_else(|| StoreError::not_found("table"))?;
        let fields = self.load_fields(conn, table.id).await?;
        let app = self
            .load_app(conn, &app.id.to_string())
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        super::stored::finish_schema(TableSchema { app, table, fields })
    }
}
