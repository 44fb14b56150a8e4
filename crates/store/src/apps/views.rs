//! Views: saved configurations of a table, and the public links of forms.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tenon_model::apps::view::{View, ViewType};
use tenon_model::apps::{ApiKey, TableSchema};
use tenon_model::{Action, Invalid, Name, OrgId, TableId, TargetKind, ViewId};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::rows::corrupt;
use crate::{Result, Store, StoreError, Tenant, WriteContext};

macro_rules! view_columns {
    () => {
        "organization_id, id, table_id, key, name, type, config, public_slug, position, created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    organization_id: Uuid,
    id: Uuid,
    table_id: Uuid,
    key: String,
    name: String,
    #[sqlx(rename = "type")]
    view_type: String,
    config: sqlx::types::Json<Value>,
    public_slug: Option<String>,
    position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ViewRow {
    fn into_model(self) -> Result<(OrgId, View)> {
        Ok((
            OrgId::from_uuid(self.organization_id),
            View {
                id: ViewId::from_uuid(self.id),
                table_id: TableId::from_uuid(self.table_id),
                key: ApiKey::parse(&self.key).map_err(|_| corrupt("view key", &self.key))?,
                name: Name::parse(&self.name).map_err(|_| corrupt("view name", &self.name))?,
                view_type: ViewType::parse(&self.view_type)
                    .ok_or_else(|| corrupt("view type", &self.view_type))?,
                config: self.config.0.as_object().cloned().unwrap_or_default(),
                public_slug: self.public_slug,
                position: self.position,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
        ))
    }
}

/// A view to create or the new state of one (configuration already checked).
#[derive(Debug, Clone)]
pub struct ViewSpec {
    pub name: Name,
    pub key: Option<ApiKey>,
    pub view_type: ViewType,
    pub config: Map<String, Value>,
    /// A fresh random slug (from `tenon_auth::mint_slug`), used if the view becomes a public form.
    pub fresh_slug: String,
}

impl Store {
    /// A public form by its slug, with its organization (the slug is the only credential a visitor has).
    pub async fn public_form(&self, slug: &str) -> Result<(OrgId, View)> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(concat!(
            "SELECT ",
            view_columns!(),
            " FROM views WHERE public_slug = $1"
        ))
        .bind(slug);
        let row: Option<ViewRow> = pooled.conn().fetch_optional(sql).await?;
        let (org, view) = row
            .ok_or_else(|| StoreError::not_found("form"))?
            .into_model()?;
        if !view.is_public_form() {
            return Err(StoreError::not_found("form"));
        }
        Ok((org, view))
    }
}

impl Store {
    /// A published grid by its slug, with its organization (the slug is the only credential a visitor
    /// has); 404 for a form's slug or a grid no longer published.
    pub async fn public_view(&self, slug: &str) -> Result<(OrgId, View)> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(concat!(
            "SELECT ",
            view_columns!(),
            " FROM views WHERE public_slug = $1"
        ))
        .bind(slug);
        let row: Option<ViewRow> = pooled.conn().fetch_optional(sql).await?;
        let (org, view) = row
            .ok_or_else(|| StoreError::not_found("view"))?
            .into_model()?;
        if !view.is_public_grid() {
            return Err(StoreError::not_found("view"));
        }
        Ok((org, view))
    }
}

impl Tenant<'_> {
    pub async fn views(&self, table: TableId) -> Result<Vec<View>> {
        let mut pooled = self.store.pools.read().await?;
        self.load_views(&mut pooled.conn(), table).await
    }

    pub(crate) async fn load_views(
        &self,
        conn: &mut Conn<'_>,
        table: TableId,
    ) -> Result<Vec<View>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            view_columns!(),
            " FROM views WHERE organization_id = $1 AND table_id = $2 ORDER BY position, id"
        ))
        .bind(self.org_id)
        .bind(*table.as_uuid());
        let rows: Vec<ViewRow> = conn.fetch_all(sql).await?;
        rows.into_iter()
            .map(|row| row.into_model().map(|(_, view)| view))
            .collect()
    }

    /// A view of the table by id or key.
    pub async fn view(&self, table: TableId, reference: &str) -> Result<View> {
        let views = self.views(table).await?;
        views
            .into_iter()
            .find(|view| view.key.as_str() == reference || view.id.to_string() == reference)
            .ok_or_else(|| StoreError::not_found("view"))
    }

    pub async fn create_view(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        spec: ViewSpec,
    ) -> Result<View> {
        let mut tx = self.store.begin_tx().await?;
        let view = self
            .create_view_in(&mut tx.conn(), ctx, schema, spec)
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    pub(crate) async fn create_view_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        spec: ViewSpec,
    ) -> Result<View> {
        let existing = self.load_views(conn, schema.table.id).await?;
        if existing.len() >= tenon_model::apps::view::VIEWS_PER_TABLE_MAX {
            return Err(Invalid::from(
                tenon_model::FieldError::new(
                    "body",
                    tenon_model::DetailCode::LimitReached,
                    format!(
                        "a table has at most {} views",
                        tenon_model::apps::view::VIEWS_PER_TABLE_MAX
                    ),
                )
                .with("max", tenon_model::apps::view::VIEWS_PER_TABLE_MAX),
            )
            .into());
        }
        let id = ViewId::new();
        let key = match spec.key {
            Some(key) => key,
            None => {
                let base = ApiKey::derive(spec.name.as_str())
                    .unwrap_or_else(|| ApiKey::from_id('v', id.as_uuid()));
                ApiKey::unique_among(base, |key| {
                    existing.iter().any(|view| view.key.as_str() == key)
                })
            }
        };
        let now = self.store.now();
        let mut view = View {
            id,
            table_id: schema.table.id,
            key,
            name: spec.name,
            view_type: spec.view_type,
            config: spec.config,
            public_slug: None,
            position: existing
                .iter()
                .map(|view| view.position)
                .max()
                .map_or(0, |max| max + 1),
            created_at: now,
            updated_at: now,
        };
        view.public_slug = slug_for(&view, None, &spec.fresh_slug);
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO views (organization_id, id, table_id, key, name, type, config, public_slug, position, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                )
                .bind(self.org_id)
                .bind(*id.as_uuid())
                .bind(*schema.table.id.as_uuid())
                .bind(view.key.as_str())
                .bind(view.name.as_str())
                .bind(view.view_type.as_str())
                .bind(Value::Object(view.config.clone()))
                .bind(view.public_slug.clone())
                .bind(view.position)
                .bind(now),
            )
            .await;
        inserted.map_err(|error| {
            super::key_conflict(error, "a view with this key already exists on the table")
        })?;
        self.audit_view(conn, ctx, Action::Created, None, Some(&view))
            .await?;
        Ok(view)
    }

    pub async fn update_view(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        before: &View,
        spec: ViewSpec,
    ) -> Result<View> {
        let mut tx = self.store.begin_tx().await?;
        let view = self
            .update_view_in(&mut tx.conn(), ctx, schema, before, spec)
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    pub(crate) async fn update_view_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        before: &View,
        spec: ViewSpec,
    ) -> Result<View> {
        let fresh_slug = spec.fresh_slug.clone();
        let mut after = View {
            key: spec.key.unwrap_or_else(|| before.key.clone()),
            name: spec.name,
            view_type: spec.view_type,
            config: spec.config,
            updated_at: self.store.now(),
            ..before.clone()
        };
        after.public_slug = slug_for(&after, before.public_slug.as_deref(), &fresh_slug);
        let updated = conn
            .execute(
                Sql::new(
                    "UPDATE views SET key = $3, name = $4, type = $5, config = $6, public_slug = $7, updated_at = $8 \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(*before.id.as_uuid())
                .bind(after.key.as_str())
                .bind(after.name.as_str())
                .bind(after.view_type.as_str())
                .bind(Value::Object(after.config.clone()))
                .bind(after.public_slug.clone())
                .bind(after.updated_at),
            )
            .await;
        updated.map_err(|error| {
            super::key_conflict(error, "a view with this key already exists on the table")
        })?;
        let _ = schema;
        self.audit_view(conn, ctx, Action::Updated, Some(before), Some(&after))
            .await?;
        Ok(after)
    }

    pub async fn delete_view(&self, ctx: &WriteContext, view: &View) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        self.delete_view_in(&mut tx.conn(), ctx, view).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn delete_view_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        view: &View,
    ) -> Result<()> {
        conn.execute(
            Sql::new("DELETE FROM views WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(*view.id.as_uuid()),
        )
        .await?;
        self.audit_view(conn, ctx, Action::Deleted, Some(view), None)
            .await
    }

    async fn audit_view(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&View>,
        after: Option<&View>,
    ) -> Result<()> {
        let snapshot = |view: &View| {
            json!({"id": view.id.to_string(), "table_id": view.table_id.to_string(), "key": view.key.as_str(), "name": view.name.as_str(),
                   "type": view.view_type.as_str(), "config": view.config, "public": view.is_published()})
        };
        let id = after
            .or(before)
            .map(|view| view.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::View,
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

/// A public form (or published grid) keeps its slug; a view that becomes public gets the fresh one;
/// anything else has none.
fn slug_for(view: &View, current: Option<&str>, fresh: &str) -> Option<String> {
    if !view.is_published() {
        return None;
    }
    Some(current.unwrap_or(fresh).to_owned())
}
