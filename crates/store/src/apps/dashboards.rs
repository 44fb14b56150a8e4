//! Dashboards of apps: stored as their authors wrote them (key, name, widgets as JSON), checked by the
//! model before they get here.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::apps::App;
use tenon_model::apps::dashboard::{DASHBOARDS_PER_APP_MAX, Dashboard};
use tenon_model::{Action, AppId, DetailCode, FieldError, Invalid, TargetKind};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::{Conn, Sql};
use crate::rows::corrupt;
use crate::{Result, StoreError, Tenant, WriteContext};

/// A stored dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDashboard {
    pub id: Uuid,
    pub app_id: AppId,
    pub dashboard: Dashboard,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DashboardRow {
    id: Uuid,
    app_id: Uuid,
    key: String,
    name: String,
    widgets: sqlx::types::Json<Value>,
    position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl DashboardRow {
    fn into_model(self) -> Result<StoredDashboard> {
        let value = json!({"key": self.key, "name": self.name, "widgets": self.widgets.0});
        let dashboard =
            Dashboard::parse(&value, "").map_err(|_| corrupt("dashboard", &self.key))?;
        Ok(StoredDashboard {
            id: self.id,
            app_id: AppId::from_uuid(self.app_id),
            dashboard,
            position: self.position,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

macro_rules! dashboard_columns {
    () => {
        "id, app_id, key, name, widgets, position, created_at, updated_at"
    };
}

impl Tenant<'_> {
    /// An app's dashboards, in order.
    pub async fn dashboards(&self, app: AppId) -> Result<Vec<StoredDashboard>> {
        let mut pooled = self.store.pools.read().await?;
        self.load_dashboards(&mut pooled.conn(), app).await
    }

    pub(crate) async fn load_dashboards(
        &self,
        conn: &mut Conn<'_>,
        app: AppId,
    ) -> Result<Vec<StoredDashboard>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            dashboard_columns!(),
            " FROM dashboards WHERE organization_id = $1 AND app_id = $2 ORDER BY position, id"
        ))
        .bind(self.org_id)
        .bind(*app.as_uuid());
        let rows: Vec<DashboardRow> = conn.fetch_all(sql).await?;
        rows.into_iter().map(DashboardRow::into_model).collect()
    }

    /// A dashboard of the app by key.
    pub async fn dashboard(&self, app: AppId, key: &str) -> Result<StoredDashboard> {
        self.dashboards(app)
            .await?
            .into_iter()
            .find(|stored| stored.dashboard.key.as_str() == key)
            .ok_or_else(|| StoreError::not_found("dashboard"))
    }

    /// Creates the dashboard, or replaces the one with its key; `true` when it was created.
    pub async fn put_dashboard(
        &self,
        ctx: &WriteContext,
        app: &App,
        dashboard: Dashboard,
    ) -> Result<(StoredDashboard, bool)> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let existing = self.load_dashboards(&mut conn, app.id).await?;
        let before = existing
            .iter()
            .find(|stored| stored.dashboard.key == dashboard.key);
        let stored = match before {
            Some(before) => {
                self.update_dashboard_in(&mut conn, ctx, before, dashboard)
                    .await?
            }
            None => {
                self.insert_dashboard_in(&mut conn, ctx, app, &existing, dashboard)
                    .await?
            }
        };
        let created = before.is_none();
        tx.commit().await?;
        Ok((stored, created))
    }

    /// Deletes the app's dashboard `key` (`not_found` when it has none); the others keep their order.
    pub async fn delete_dashboard(
        &self,
        ctx: &WriteContext,
        app: AppId,
        key: &str,
    ) -> Result<StoredDashboard> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let stored = self
            .load_dashboards(&mut conn, app)
            .await?
            .into_iter()
            .find(|stored| stored.dashboard.key.as_str() == key)
            .ok_or_else(|| StoreError::not_found("dashboard"))?;
        conn.execute(
            Sql::new("DELETE FROM dashboards WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(stored.id),
        )
        .await?;
        self.audit_dashboard(&mut conn, ctx, Action::Deleted, Some(&stored), None)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Makes the app's dashboards exactly `wanted` (in that order): an import of a definition file.
    pub(crate) async fn replace_dashboards_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        app: &App,
        wanted: &[Dashboard],
    ) -> Result<()> {
        let mut existing = self.load_dashboards(conn, app.id).await?;
        for stored in existing
            .iter()
            .filter(|stored| !wanted.iter().any(|w| w.key == stored.dashboard.key))
        {
            conn.execute(
                Sql::new("DELETE FROM dashboards WHERE organization_id = $1 AND id = $2")
                    .bind(self.org_id)
                    .bind(stored.id),
            )
            .await?;
            self.audit_dashboard(conn, ctx, Action::Deleted, Some(stored), None)
                .await?;
        }
        existing.retain(|stored| wanted.iter().any(|w| w.key == stored.dashboard.key));
        for (position, dashboard) in wanted.iter().enumerate() {
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            match existing
                .iter()
                .find(|stored| stored.dashboard.key == dashboard.key)
                .cloned()
            {
                Some(before) => {
                    if before.dashboard != *dashboard || before.position != position {
                        let after = self
                            .update_dashboard_in(conn, ctx, &before, dashboard.clone())
                            .await?;
                        conn.execute(
                            Sql::new("UPDATE dashboards SET position = $3 WHERE organization_id = $1 AND id = $2")
                                .bind(self.org_id)
                                .bind(after.id)
                                .bind(position),
                        )
                        .await?;
                    }
                }
                None => {
                    let stored = self
                        .insert_dashboard_in(conn, ctx, app, &existing, dashboard.clone())
                        .await?;
                    conn.execute(
                        Sql::new("UPDATE dashboards SET position = $3 WHERE organization_id = $1 AND id = $2")
                            .bind(self.org_id)
                            .bind(stored.id)
                            .bind(position),
                    )
                    .await?;
                    existing.push(stored);
                }
            }
        }
        Ok(())
    }

    async fn insert_dashboard_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        app: &App,
        existing: &[StoredDashboard],
        dashboard: Dashboard,
    ) -> Result<StoredDashboard> {
        if existing.len() >= DASHBOARDS_PER_APP_MAX {
            return Err(Invalid::from(
                FieldError::new(
                    "key",
                    DetailCode::LimitReached,
                    format!("an app has at most {DASHBOARDS_PER_APP_MAX} dashboards"),
                )
                .with("max", DASHBOARDS_PER_APP_MAX),
            )
            .into());
        }
        let now = self.store.now();
        let stored = StoredDashboard {
            id: Uuid::now_v7(),
            app_id: app.id,
            position: existing
                .iter()
                .map(|stored| stored.position)
                .max()
                .map_or(0, |max| max + 1),
            dashboard,
            created_at: now,
            updated_at: now,
        };
        conn.execute(
            Sql::new(
                "INSERT INTO dashboards (organization_id, id, app_id, key, name, widgets, position, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(self.org_id)
            .bind(stored.id)
            .bind(*app.id.as_uuid())
            .bind(stored.dashboard.key.as_str())
            .bind(stored.dashboard.name.as_str())
            .bind(widgets_json(&stored.dashboard))
            .bind(stored.position)
            .bind(now),
        )
        .await
        .map_err(|error| {
            super::key_conflict(error, "a dashboard with this key already exists in the app")
        })?;
        self.audit_dashboard(conn, ctx, Action::Created, None, Some(&stored))
            .await?;
        Ok(stored)
    }

    async fn update_dashboard_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        before: &StoredDashboard,
        dashboard: Dashboard,
    ) -> Result<StoredDashboard> {
        let after = StoredDashboard {
            dashboard,
            updated_at: self.store.now(),
            ..before.clone()
        };
        conn.execute(
            Sql::new(
                "UPDATE dashboards SET name = $3, widgets = $4, updated_at = $5 \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(before.id)
            .bind(after.dashboard.name.as_str())
            .bind(widgets_json(&after.dashboard))
            .bind(after.updated_at),
        )
        .await?;
        self.audit_dashboard(conn, ctx, Action::Updated, Some(before), Some(&after))
            .await?;
        Ok(after)
    }

    async fn audit_dashboard(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&StoredDashboard>,
        after: Option<&StoredDashboard>,
    ) -> Result<()> {
        let snapshot = |stored: &StoredDashboard| {
            let mut value = stored.dashboard.to_json();
            value["id"] = json!(stored.id.to_string());
            value["app_id"] = json!(stored.app_id.to_string());
            value
        };
        let id = after
            .or(before)
            .map(|stored| stored.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Dashboard,
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

fn widgets_json(dashboard: &Dashboard) -> Value {
    Value::Array(
        dashboard
            .widgets
            .iter()
            .map(|widget| Value::Object(widget.source.clone()))
            .collect(),
    )
}
