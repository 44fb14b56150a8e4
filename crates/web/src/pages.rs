//! Page handlers: load what the page shows through the store's services, check the viewer may see it,
//! render the template. Writes are made by the islands through the REST API.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_model::apps::FieldType;
use tenon_model::apps::view::{View, ViewType};
use tenon_model::{PageRequest, Scope};
use tenon_server::{ApiError, AppState};

use crate::i18n::{self, Lang};
use crate::session::Viewer;
use crate::templates;

/// What every page's layout needs.
#[derive(Debug, Serialize)]
pub struct Frame {
    pub lang: &'static str,
    /// Catalog messages the islands use (`js-*`, `error-*`, `detail-*`), as JSON for a data block.
    pub messages: String,
    pub languages: Vec<LanguageOption>,
    /// `None` on the log-in page.
    pub viewer: Option<ViewerOut>,
    /// The navigation entry to mark current: `apps`, `admin` or empty.
    pub section: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LanguageOption {
    pub tag: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Debug, Serialize)]
pub struct ViewerOut {
    pub organization: String,
    pub name: String,
    pub is_admin: bool,
    /// The organization's time zone (IANA name): date-times are shown and typed in it.
    pub time_zone: String,
}

impl Frame {
    pub(crate) fn new(lang: Lang, viewer: Option<ViewerOut>, section: &'static str) -> Frame {
        let messages = json_block(&i18n::client_slice(lang));
        Frame {
            lang: lang.tag(),
            messages,
            languages: Lang::ALL
                .iter()
                .map(|option| LanguageOption {
                    tag: option.tag(),
                    // Each language is named in itself, so a person can find theirs.
                    label: match option {
                        Lang::ZhCn => "简体中文",
                        Lang::En => "English",
                    },
                    selected: *option == lang,
                })
                .collect(),
            viewer,
            section,
        }
    }
}

/// JSON for a `<script type="application/json">` data block: `<` escaped, so no value (user data
/// included) can close the block.
pub fn json_block(value: &impl Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
}

/// A rendered page, or the error page in the same language.
pub(crate) fn page(lang: Lang, name: &str, context: impl Serialize) -> Response {
    match templates::render(name, context) {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, template = name, "a page failed to render");
            error_page(lang, None, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The error page for `status` (404, 403, 500…), with the header when the viewer is known.
pub fn error_page(lang: Lang, viewer: Option<ViewerOut>, status: StatusCode) -> Response {
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        status: u16,
    }
    let context = Context {
        frame: Frame::new(lang, viewer, ""),
        status: status.as_u16(),
    };
    let body = templates::render("error.html", &context).unwrap_or_else(|error| {
        tracing::error!(%error, "the error page failed to render");
        String::from("<!doctype html><title>Error</title><p>Error</p>")
    });
    (status, Html(body)).into_response()
}

/// Loads the viewer's organization (for the header and the language fallback).
pub(crate) async fn frame_of(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
) -> Result<(Lang, ViewerOut), Response> {
    let principal = &viewer.0.principal;
    let organization = state
        .store()
        .tenant(principal.org_id)
        .organization()
        .await
        .map_err(|error| {
            let error = ApiError::from(error);
            error_page(i18n::negotiate(headers, None), None, error.status())
        })?;
    let lang = i18n::negotiate(headers, Some(organization.locale));
    Ok((
        lang,
        ViewerOut {
            organization: organization.name.to_string(),
            name: principal.actor.name().to_owned(),
            is_admin: principal.scopes.grants(Scope::Admin),
            time_zone: organization.time_zone.name().to_owned(),
        },
    ))
}

/// Turns a store error into the error page.
pub(crate) fn failed(lang: Lang, viewer: ViewerOut, error: impl Into<ApiError>) -> Response {
    let error: ApiError = error.into();
    if error.status().is_server_error() {
        tracing::error!(message = error.message(), "a page failed");
    }
    error_page(lang, Some(viewer), error.status())
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    email: Option<String>,
}

/// `GET /login`: the log-in form. `next` (a path on this site) is where the person goes afterwards.
pub async fn login(headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        next: String,
        email: String,
    }
    let lang = i18n::negotiate(&headers, None);
    // Only a local path: never an open redirect to another site.
    let next = query
        .next
        .filter(|next| next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    page(
        lang,
        "login.html",
        Context {
            frame: Frame::new(lang, None, ""),
            next,
            email: query.email.unwrap_or_default(),
        },
    )
}

#[derive(Debug, Serialize)]
pub(crate) struct AppItem {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: String,
}

impl From<tenon_model::apps::App> for AppItem {
    fn from(app: tenon_model::apps::App) -> Self {
        AppItem {
            id: app.id.to_string(),
            key: app.key.to_string(),
            name: app.name.to_string(),
            description: app.description.unwrap_or_default(),
        }
    }
}

/// `GET /`: the workspace — the organization's apps.
pub async fn home(State(state): State<AppState>, viewer: Viewer, headers: HeaderMap) -> Response {
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        apps: Vec<AppItem>,
        can_build: bool,
    }
    let (lang, viewer_out) = match frame_of(&state, &viewer, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let principal = &viewer.0.principal;
    if !principal.scopes.grants(Scope::AppsRead) {
        return error_page(lang, Some(viewer_out), StatusCode::FORBIDDEN);
    }
    let Some(first) = PageRequest::first(tenon_model::page::PAGE_SIZE_MAX) else {
        return error_page(lang, Some(viewer_out), StatusCode::INTERNAL_SERVER_ERROR);
    };
    let apps = match state
        .store()
        .tenant(principal.org_id)
        .list_apps(first)
        .await
    {
        Ok(page) => page.items.into_iter().map(AppItem::from).collect(),
        Err(error) => return failed(lang, viewer_out, error),
    };
    page(
        lang,
        "home.html",
        Context {
            frame: Frame::new(lang, Some(viewer_out), "apps"),
            apps,
            can_build: principal.scopes.grants(Scope::AppsWrite),
        },
    )
}

#[derive(Debug, Serialize)]
struct TableItem {
    id: String,
    key: String,
    name: String,
}

/// `GET /apps/{app}`: an app and its tables.
pub async fn app(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Response {
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        app: AppItem,
        tables: Vec<TableItem>,
        dashboards: Vec<crate::dashboards::DashboardItem>,
        can_build: bool,
    }
    let (lang, viewer_out) = match frame_of(&state, &viewer, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let principal = &viewer.0.principal;
    if !principal.scopes.grants(Scope::AppsRead) {
        return error_page(lang, Some(viewer_out), StatusCode::FORBIDDEN);
    }
    let tenant = state.store().tenant(principal.org_id);
    let app = match tenant.app(&reference).await {
        Ok(app) => app,
        Err(error) => return failed(lang, viewer_out, error),
    };
    let tables = match tenant.list_tables(app.id).await {
        Ok(tables) => tables
            .into_iter()
            .map(|table| TableItem {
                id: table.id.to_string(),
                key: table.key.to_string(),
                name: table.name.to_string(),
            })
            .collect(),
        Err(error) => return failed(lang, viewer_out, error),
    };
    let dashboards = match tenant.dashboards(app.id).await {
        Ok(found) => found
            .into_iter()
            .map(crate::dashboards::DashboardItem::from)
            .collect(),
        Err(error) => return failed(lang, viewer_out, error),
    };
    page(
        lang,
        "app.html",
        Context {
            frame: Frame::new(lang, Some(viewer_out), "apps"),
            app: app.into(),
            tables,
            dashboards,
            can_build: principal.scopes.grants(Scope::AppsWrite),
        },
    )
}

#[derive(Debug, Serialize)]
struct FieldItem {
    id: String,
    key: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Deserialize)]
pub struct TableQuery {
    /// The view to show (id or key); default: the table's first grid view.
    view: Option<String>,
    /// A calendar's day and mode (`month`, `week`).
    date: Option<String>,
    mode: Option<String>,
}

#[derive(Debug, Serialize)]
struct ViewItem {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A column of the grid: a field the view shows, in the view's order, with its width.
#[derive(Debug, Serialize)]
struct Column {
    key: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    width: Option<u64>,
}

/// The view's columns: its `fields` entries (keys or `{"field", "width", "hidden"}`) in order, then the
/// fields it does not mention (added after the view was set up), minus the hidden ones.
fn columns(schema: &tenon_model::apps::TableSchema, view: Option<&View>) -> Vec<Column> {
    let column = |field: &tenon_model::apps::Field, width: Option<u64>| Column {
        key: field.key.to_string(),
        name: field.name.to_string(),
        kind: field.field_type().as_str(),
        width,
    };
    let entries = view
        .and_then(|view| view.config.get("fields"))
        .and_then(serde_json::Value::as_array);
    let Some(entries) = entries else {
        return schema
            .fields
            .iter()
            .map(|field| column(field, None))
            .collect();
    };
    let mut mentioned = std::collections::HashSet::new();
    let mut out = Vec::new();
    for entry in entries {
        let (reference, hidden, width) = match entry {
            serde_json::Value::String(key) => (key.as_str(), false, None),
            serde_json::Value::Object(object) => (
                object
                    .get("field")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
                object
                    .get("hidden")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                object.get("width").and_then(serde_json::Value::as_u64),
            ),
            _ => continue,
        };
        let Some(field) = schema.resolve_field(reference) else {
            continue;
        };
        if !mentioned.insert(field.id) {
            continue;
        }
        if !hidden {
            out.push(column(field, width.map(|w| w.clamp(60, 800))));
        }
    }
    for field in schema
        .fields
        .iter()
        .filter(|field| !mentioned.contains(&field.id))
    {
        out.push(column(field, None));
    }
    out
}

/// `GET /apps/{app}/tables/{table}`: a table's grid.
pub async fn table(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((app_reference, table_reference)): Path<(String, String)>,
    Query(query): Query<TableQuery>,
) -> Response {
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        app: AppItem,
        table: TableItem,
        fields: Vec<FieldItem>,
        columns: Vec<Column>,
        views: Vec<ViewItem>,
        /// The view shown (`None`: no grid view yet; the tools create one when first used).
        view: Option<ViewItem>,
        tables: Vec<TableItem>,
        can_build: bool,
        can_write: bool,
        /// A kanban, calendar or gallery view (`None`: the grid).
        board: Option<crate::boards::Board>,
        /// Board parts render whole boards here, not only cards.
        cards_only: bool,
        /// The grid island's data block: the fields as the API shows them, and where to write.
        grid_schema: String,
        /// Every field type, in the order the builder offers them.
        field_types: Vec<&'static str>,
        choice_colors: &'static [&'static str],
        /// The functions a rollup offers, in the order the builder lists them.
        rollup_functions: &'static [&'static str],
        /// The types that take `unique` and `default` (space-separated, for the builder's sections).
        plain_types: &'static str,
        /// The formula functions (name, signature, example) for the formula editor's autocomplete.
        functions: String,
        /// The form designer's draft, when the view shown is a form.
        designer: Option<crate::designer::Designer>,
        /// The table has a grid view (else the default grid has a tab of its own).
        has_grid: bool,
        /// The 发布|Publish dialog, when the view shown is a grid.
        publish: Option<crate::publish::Publish>,
    }
    let (lang, viewer_out) = match frame_of(&state, &viewer, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let principal = &viewer.0.principal;
    if !principal.scopes.grants(Scope::RecordsRead) {
        return error_page(lang, Some(viewer_out), StatusCode::FORBIDDEN);
    }
    let tenant = state.store().tenant(principal.org_id);
    let schema = match tenant.table_schema(&app_reference, &table_reference).await {
        Ok(schema) => schema,
        Err(error) => return failed(lang, viewer_out, error),
    };
    let tables = match tenant.list_tables(schema.app.id).await {
        Ok(tables) => tables
            .into_iter()
            .map(|table| TableItem {
                id: table.id.to_string(),
                key: table.key.to_string(),
                name: table.name.to_string(),
            })
            .collect(),
        Err(error) => return failed(lang, viewer_out, error),
    };
    let keys = match tenant.keys_of_app(schema.app.id).await {
        Ok(keys) => keys,
        Err(error) => return failed(lang, viewer_out, error),
    };
    let views: Vec<View> = match tenant.views(schema.table.id).await {
        Ok(views) => views,
        Err(error) => return failed(lang, viewer_out, error),
    };
    let current = match query.view.as_deref().filter(|raw| !raw.is_empty()) {
        Some(wanted) => match views
            .iter()
            .find(|view| view.id.to_string() == wanted || view.key.as_str() == wanted)
        {
            Some(view) => Some(view),
            None => return error_page(lang, Some(viewer_out), StatusCode::NOT_FOUND),
        },
        None => views.iter().find(|view| view.view_type == ViewType::Grid),
    };
    let board = match current.filter(|view| view.view_type != ViewType::Grid) {
        Some(view) if crate::boards::is_board(view) => {
            let at = crate::boards::BoardQuery {
                date: query.date.clone(),
                mode: query.mode.clone(),
                column: None,
                offset: None,
            };
            match crate::boards::build(&state, principal.org_id, &schema, view, &at).await {
                Ok(board) => Some(board),
                Err(status) => return error_page(lang, Some(viewer_out), status),
            }
        }
        _ => None,
    };
    let mut details = Vec::new();
    if current.is_some_and(|view| view.view_type == ViewType::Form) {
        for field in &schema.fields {
            if let tenon_model::apps::FieldKind::Link {
                table: tenon_model::apps::LinkTarget::Resolved(table),
                multiple: true,
                ..
            } = &field.kind
                && let Ok(detail) = tenant.table_schema_by_id(*table).await
            {
                details.push(detail);
            }
        }
    }
    // The designer and the publish dialog are the app's manage right (`apps:write`), as their routes.
    let manages = principal.scopes.grants(Scope::AppsWrite);
    let designer = current
        .filter(|view| manages && view.view_type == ViewType::Form)
        .map(|view| {
            crate::designer::designer(
                &schema,
                view,
                &crate::designer::origin(&headers),
                &format!("/apps/{}/tables/{}", schema.app.id, schema.table.id),
                &details,
            )
        });
    let publish = match current.filter(|_| manages) {
        Some(view) => match crate::publish::publish(
            &tenant,
            &schema,
            view,
            &crate::designer::origin(&headers),
            &format!("/apps/{}/tables/{}", schema.app.id, schema.table.id),
        )
        .await
        {
            Ok(publish) => publish,
            Err(error) => return failed(lang, viewer_out, error),
        },
        None => None,
    };
    let columns = columns(&schema, current);
    let can_write = principal.scopes.grants(Scope::RecordsWrite);
    let grid_schema = json_block(&serde_json::json!({
        "app": schema.app.id.to_string(),
        "table": schema.table.id.to_string(),
        "primary_field": schema
            .table
            .primary_field_id
            .and_then(|id| schema.field(id))
            .map(|field| field.key.to_string()),
        "fields": schema
            .fields
            .iter()
            .map(|field| tenon_server::routes::apps::field_out(field, &keys))
            .collect::<Vec<_>>(),
        "can_write": can_write,
        "columns": columns.iter().map(|column| serde_json::json!({"key": column.key, "width": column.width})).collect::<Vec<_>>(),
        "view": current.map(|view| serde_json::json!({
            "id": view.id.to_string(),
            "name": view.name.as_str(),
            "type": view.view_type.as_str(),
            "config": view.config,
        })),
        "can_build": principal.scopes.grants(Scope::AppsWrite),
        "time_zone": viewer_out.time_zone,
    }));
    let fields = schema
        .fields
        .iter()
        .map(|field| FieldItem {
            id: field.id.to_string(),
            key: field.key.to_string(),
            name: field.name.to_string(),
            kind: field.field_type().as_str(),
        })
        .collect();
    page(
        lang,
        "table.html",
        Context {
            frame: Frame::new(lang, Some(viewer_out), "apps"),
            table: TableItem {
                id: schema.table.id.to_string(),
                key: schema.table.key.to_string(),
                name: schema.table.name.to_string(),
            },
            app: schema.app.into(),
            fields,
            columns,
            view: current.map(|view| ViewItem {
                id: view.id.to_string(),
                name: view.name.to_string(),
                kind: view.view_type.as_str(),
            }),
            views: views
                .iter()
                .map(|view| ViewItem {
                    id: view.id.to_string(),
                    name: view.name.to_string(),
                    kind: view.view_type.as_str(),
                })
                .collect(),
            board,
            cards_only: false,
            designer,
            has_grid: views.iter().any(|view| view.view_type == ViewType::Grid),
            publish,
            tables,
            can_build: principal.scopes.grants(Scope::AppsWrite),
            can_write,
            grid_schema,
            field_types: FieldType::ALL.iter().map(|kind| kind.as_str()).collect(),
            choice_colors: &tenon_model::apps::field::CHOICE_COLORS,
            rollup_functions: &[
                "sum",
                "avg",
                "min",
                "max",
                "count",
                "count_distinct",
                "count_all",
                "concat",
            ],
            plain_types: PLAIN_TYPES,
            functions: json_block(
                &tenon_model::apps::formula::functions::FUNCTIONS
                    .iter()
                    .map(|function| {
                        serde_json::json!({
                            "name": function.name,
                            "signature": function.signature,
                            "example": function.example,
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
        },
    )
}

/// Field types with one stored value a person types: they take `unique` and a `default`.
const PLAIN_TYPES: &str = "text long_text number currency percent date datetime duration single_select \
     rating email phone url";

/// The admin sections, in the order of the admin navigation.
pub const ADMIN_SECTIONS: [&str; 8] = [
    "members",
    "departments",
    "roles",
    "tokens",
    "apps",
    "webhooks",
    "audit",
    "settings",
];

/// `GET /admin` and `GET /admin/{section}`: the organization's administration. People without the admin
/// role get the 403 page. Lists are filled by the `api-table` island from the same REST API that
/// scripts use; writes go through it too.
pub async fn admin(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    section: Option<Path<String>>,
) -> Response {
    let section = section.map_or_else(|| "members".to_owned(), |Path(section)| section);
    admin_page(&state, &viewer, &headers, &section, None).await
}

/// `GET /admin/webhooks/{id}`: one webhook subscription, its test button and its deliveries.
pub async fn admin_webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admin_page(&state, &viewer, &headers, "webhooks", Some(id)).await
}

async fn admin_page(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    section: &str,
    subscription: Option<String>,
) -> Response {
    #[derive(Serialize)]
    struct Settings {
        name: String,
        time_zone: String,
        locale: &'static str,
    }
    #[derive(Serialize)]
    struct Context {
        #[serde(flatten)]
        frame: Frame,
        admin_section: String,
        subscription: Option<String>,
        settings: Settings,
        scopes: Vec<&'static str>,
        audit_kinds: Vec<&'static str>,
    }
    let (lang, viewer_out) = match frame_of(state, viewer, headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !viewer.0.principal.scopes.grants(Scope::Admin) {
        return error_page(lang, Some(viewer_out), StatusCode::FORBIDDEN);
    }
    let Some(section) = ADMIN_SECTIONS.iter().find(|known| **known == section) else {
        return error_page(lang, Some(viewer_out), StatusCode::NOT_FOUND);
    };
    let organization = match state
        .store()
        .tenant(viewer.0.principal.org_id)
        .organization()
        .await
    {
        Ok(organization) => organization,
        Err(error) => return failed(lang, viewer_out, error),
    };
    if let Some(id) = &subscription
        && (id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return error_page(lang, Some(viewer_out), StatusCode::NOT_FOUND);
    }
    page(
        lang,
        "admin.html",
        Context {
            frame: Frame::new(lang, Some(viewer_out), "admin"),
            admin_section: (*section).to_owned(),
            subscription,
            settings: Settings {
                name: organization.name.to_string(),
                time_zone: organization.time_zone.name().to_owned(),
                locale: Lang::from(organization.locale).tag(),
            },
            scopes: Scope::ALL.iter().map(|scope| scope.as_str()).collect(),
            audit_kinds: tenon_model::TargetKind::ALL
                .iter()
                .map(|kind| kind.as_str())
                .collect(),
        },
    )
}
