//! Dashboards of an app (`/api/v1/apps/{app}/dashboards/{key}`): the boss's screen — numbers, charts,
//! top-N tables, ledger figures and a view's first rows — defined as part of the app and answered in one
//! request (`…/data`), each widget's figures or its own error.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tenon_ledger::{AccountCode, Period};
use tenon_model::apps::dashboard::Dashboard;
use tenon_model::apps::dashboard::check::check_references;
use tenon_model::{DetailCode, FieldError, Invalid, Reason};
use tenon_store::StoredDashboard;
use tenon_store::ledger::BookRef;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::service::records::filter_context;
use crate::state::AppState;

pub use crate::routes::dashboard_data::{DashboardDataOut, dashboard_data};

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOut {
    pub id: String,
    pub app_id: String,
    pub key: String,
    pub name: String,
    /// The widgets as written (each with its `key`): `{key, title, type, width, …}` — see
    /// `DashboardWrite`.
    #[schema(value_type = Vec<Object>)]
    pub widgets: Vec<Value>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredDashboard> for DashboardOut {
    fn from(stored: StoredDashboard) -> Self {
        DashboardOut {
            id: stored.id.to_string(),
            app_id: stored.app_id.to_string(),
            key: stored.dashboard.key.to_string(),
            name: stored.dashboard.name.to_string(),
            widgets: stored
                .dashboard
                .widgets
                .iter()
                .map(|widget| Value::Object(widget.source.clone()))
                .collect(),
            position: stored.position,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardWrite {
    pub name: String,
    /// Widgets, each `{key?, title, type, width?, …}` by type — `number`: `table`, `metric` (`count`,
    /// `sum:<field>`…), `filter`, `date_field` + `period` (`this_month`…), `compare`; `chart`: `table`,
    /// `chart` (`bar`, `line`, `pie`), `group_by` (a field or `<date field>:week`…), `metrics`, `filter`,
    /// `date_field` + `period`, `limit`; `top`: `table`, `group_by`, `metric`, `limit` (default 5),
    /// `filter`, `date_field` + `period`; `ledger`: `book`, `account` (code), `measure` (`balance` or
    /// `movement`), `period` (`this_month`, `last_month`, `this_year`); `records`: `table`, `view`,
    /// `limit` (default 5). docs/dashboards.md.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub widgets: Vec<Value>,
}

/// List an app's dashboards.
#[utoipa::path(get, path = "/api/v1/apps/{app}/dashboards", tag = "apps",
    params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = crate::extract::Paged<DashboardOut>), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_dashboards(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(app): Path<String>,
) -> ApiResult<axum::Json<crate::extract::Paged<DashboardOut>>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    Ok(axum::Json(crate::extract::Paged {
        items: tenant
            .dashboards(app.id)
            .await?
            .into_iter()
            .map(DashboardOut::from)
            .collect(),
        next_cursor: None,
    }))
}

/// Get a dashboard.
#[utoipa::path(get, path = "/api/v1/apps/{app}/dashboards/{key}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("key" = String, Path, description = "Dashboard key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = DashboardOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_dashboard(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, key)): Path<(String, String)>,
) -> ApiResult<axum::Json<DashboardOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    Ok(axum::Json(tenant.dashboard(app.id, &key).await?.into()))
}

/// Create or replace a dashboard. Every table, field, view and ledger account its widgets name must
/// exist (422 naming it; nothing is stored). A widget's book may not exist yet (a voucher rule creates
/// it when published): the widget then shows `not_found` in place.
#[utoipa::path(put, path = "/api/v1/apps/{app}/dashboards/{key}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("key" = String, Path, description = "Dashboard key")),
    request_body = DashboardWrite,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, description = "Replaced", body = DashboardOut), (status = 201, description = "Created", body = DashboardOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "A widget names a table, field, view or account that does not exist, or is malformed", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_dashboard(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<DashboardWrite>,
) -> ApiResult<(StatusCode, axum::Json<DashboardOut>)> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let current = tenant
        .current_app(&app)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let mut check = tenon_model::Checker::default();
    check.field("key", tenon_model::apps::ApiKey::parse(&key));
    check.finish()?;
    let dashboard = Dashboard::parse(
        &json!({"key": key, "name": body.name, "widgets": body.widgets}),
        "",
    )?;
    let org = tenant.organization().await?;
    check_references(&dashboard, "", &current, &filter_context(&state, &org))?;
    check_ledger_accounts(&state, auth.principal.org_id, &dashboard, "").await?;
    let (stored, created) = tenant
        .put_dashboard(&auth.write_context(), &current.app, dashboard)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(stored.into())))
}

/// Delete a dashboard (the app's records, views and other dashboards stay).
#[utoipa::path(delete, path = "/api/v1/apps/{app}/dashboards/{key}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("key" = String, Path, description = "Dashboard key")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_dashboard(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    tenant
        .delete_dashboard(&auth.write_context(), app.id, &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ledger widgets name accounts of their books: an account the book's chart lacks is refused
/// (`not_found` naming it). A book that does not exist (yet) is not refused.
pub(crate) async fn check_ledger_accounts(
    state: &AppState,
    org: tenon_model::OrgId,
    dashboard: &Dashboard,
    path: &str,
) -> ApiResult<()> {
    let tenant = state.store().tenant(org);
    let mut problems = Vec::new();
    let period = Period::of(state.store().now().date_naive());
    for (i, widget) in dashboard.widgets.iter().enumerate() {
        let tenon_model::apps::dashboard::WidgetKind::Ledger { book, account, .. } = &widget.kind
        else {
            continue;
        };
        let at = if path.is_empty() {
            format!("widgets[{i}].account")
        } else {
            format!("{path}.widgets[{i}].account")
        };
        let code = match AccountCode::parse(account) {
            Ok(code) => code,
            Err(reason) => {
                problems.push(Reason::format("account_code", reason).at(at));
                continue;
            }
        };
        match tenant
            .general_ledger(&BookRef::parse(book), period, period, Some(&code))
            .await
        {
            Ok(_) | Err(tenon_store::StoreError::NotFound { .. }) => {}
            Err(tenon_store::StoreError::Invalid(_)) => problems.push(
                FieldError::new(
                    at,
                    DetailCode::NotFound,
                    format!("account {account} does not exist in book {book}"),
                )
                .with("what", "account"),
            ),
            Err(other) => return Err(other.into()),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Invalid(problems).into())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataParams {
    /// Comma-separated widget keys: answer only these (a page re-queries the widgets an event touched).
    pub widgets: Option<String>,
}

/// Every widget's figures in one answer (or the widgets named). A widget whose query fails carries its
/// error (`{code, message, params, details}`) in place of `data`; the others still answer. Needs `records:read`;
/// ledger widgets also need `ledger:read` (without it they carry `insufficient_scope`).
#[utoipa::path(get, path = "/api/v1/apps/{app}/dashboards/{key}/data", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("key" = String, Path, description = "Dashboard key"), DataParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, body = DashboardDataOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_dashboard_data(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, key)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<DataParams>,
) -> ApiResult<axum::Json<DashboardDataOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let current = tenant
        .current_app(&app)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let stored = tenant.dashboard(current.app.id, &key).await?;
    let wanted: Option<Vec<&str>> = params.widgets.as_deref().map(|raw| {
        raw.split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .collect()
    });
    if let Some(wanted) = &wanted
        && let Some(unknown) = wanted
            .iter()
            .find(|key| stored.dashboard.widget(key).is_none())
    {
        return Err(ApiError::bad_query(
            FieldError::new(
                "widgets",
                DetailCode::NotFound,
                format!("the dashboard has no widget \"{unknown}\""),
            )
            .with("what", "widget"),
        ));
    }
    Ok(axum::Json(
        dashboard_data(&state, &auth, &current, &stored, wanted.as_deref()).await?,
    ))
}

/// The error a widget carries in place of its data.
pub(crate) fn widget_error(error: ApiError) -> Value {
    let details: Vec<Value> = error
        .details()
        .iter()
        .map(|detail| {
            json!({"field": detail.field, "code": detail.code.as_str(),
                   "params": detail.params.to_json(), "reason": detail.reason})
        })
        .collect();
    let mut object = Map::new();
    object.insert("code".to_owned(), json!(error.code().as_str()));
    object.insert("message".to_owned(), json!(error.message()));
    object.insert("params".to_owned(), Value::Object(error.params_json()));
    object.insert("details".to_owned(), Value::Array(details));
    Value::Object(object)
}
