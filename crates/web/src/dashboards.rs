//! The dashboard page: the app's boss view. The server lays out the widgets (each a `region` named by its
//! title); the `dashboard` island fills them from `…/dashboards/{key}/data`, draws the charts (uPlot,
//! loaded only on this page) beside an accessible table of the same figures, and re-queries the widgets a
//! record change or a posted voucher touches. A builder edits, removes and reorders widgets here and
//! deletes the dashboard.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use tenon_model::Scope;
use tenon_server::AppState;
use tenon_store::StoredDashboard;

use crate::pages::{AppItem, Frame, error_page, failed, frame_of, page};
use crate::session::Viewer;

/// A dashboard as the app page lists it.
#[derive(Debug, Serialize)]
pub struct DashboardItem {
    pub key: String,
    pub name: String,
}

impl From<StoredDashboard> for DashboardItem {
    fn from(stored: StoredDashboard) -> Self {
        DashboardItem {
            key: stored.dashboard.key.to_string(),
            name: stored.dashboard.name.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
struct WidgetItem {
    key: String,
    title: String,
    width: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    /// The widget's table's field names by key (JSON), so tables and charts head their columns with
    /// the names people gave the fields, not their keys.
    names: String,
}

/// `GET /apps/{app}/dashboards/{key}`.
pub async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((app_reference, key)): Path<(String, String)>,
) -> Response {
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        app: AppItem,
        dashboard: DashboardItem,
        widgets: Vec<WidgetItem>,
        /// The app's tables (key, name), for the "Add widget" dialog.
        tables: Vec<(String, String)>,
        can_build: bool,
        /// The page follows `voucher.posted` for its ledger widgets (a credential without
        /// `ledger:read` may not hear ledger events; its ledger widgets say so in place).
        ledger_events: bool,
    }
    let (lang, viewer_out) = match frame_of(&state, &viewer, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let principal = &viewer.0.principal;
    if !principal.scopes.grants(Scope::AppsRead) || !principal.scopes.grants(Scope::RecordsRead) {
        return error_page(lang, Some(viewer_out), StatusCode::FORBIDDEN);
    }
    let tenant = state.store().tenant(principal.org_id);
    let app = match tenant.app(&app_reference).await {
        Ok(app) => app,
        Err(error) => return failed(lang, viewer_out, error),
    };
    let stored = match tenant.dashboard(app.id, &key).await {
        Ok(stored) => stored,
        Err(error) => return failed(lang, viewer_out, error),
    };
    let tables = match tenant.list_tables(app.id).await {
        Ok(tables) => tables
            .into_iter()
            .map(|table| (table.key.to_string(), table.name.to_string()))
            .collect(),
        Err(error) => return failed(lang, viewer_out, error),
    };
    let ledger_events = principal.scopes.grants(Scope::LedgerRead)
        && stored
            .dashboard
            .widgets
            .iter()
            .any(|widget| widget.kind.type_name() == "ledger");
    let mut widgets = Vec::with_capacity(stored.dashboard.widgets.len());
    for widget in &stored.dashboard.widgets {
        // A table that no longer exists names nothing: the widget shows its own error from `…/data`.
        let names: serde_json::Map<String, serde_json::Value> = match widget.kind.table() {
            Some(table) => match tenant.table_schema(app.key.as_str(), table).await {
                Ok(schema) => schema
                    .fields
                    .iter()
                    .map(|field| (field.key.to_string(), field.name.to_string().into()))
                    .collect(),
                Err(_) => serde_json::Map::new(),
            },
            None => serde_json::Map::new(),
        };
        widgets.push(WidgetItem {
            key: widget.key.to_string(),
            title: widget.title.clone(),
            width: widget.width,
            kind: widget.kind.type_name(),
            names: serde_json::Value::Object(names).to_string(),
        });
    }
    page(
        lang,
        "dashboard.html",
        Context {
            frame: Frame::new(lang, Some(viewer_out), "apps"),
            app: AppItem {
                id: app.id.to_string(),
                key: app.key.to_string(),
                name: app.name.to_string(),
                description: app.description.unwrap_or_default(),
            },
            dashboard: stored.into(),
            widgets,
            tables,
            can_build: principal.scopes.grants(Scope::AppsWrite),
            ledger_events,
        },
    )
}
