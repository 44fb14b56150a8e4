//! Views of a table (`…/tables/{table}/views`) and public forms (`/api/v1/forms/{slug}`), through which
//! people without an account — patients' families booking a room — submit records.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tenon_model::apps::filter::{Filter, FilterContext, parse_sort};
use tenon_model::apps::view::{View, ViewType, check_config};
use tenon_model::apps::{ApiKey, TableSchema};
use tenon_model::{Checker, ErrorCode, Name};
use tenon_store::ViewSpec;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, page_request};
use crate::routes::apps::field_out;
use crate::routes::records_io::{KeyBy, decode_cursor, encode_cursor};
use crate::service::records::{ListProblem, ListRequest, filter_context, list, record_query};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewOut {
    pub id: String,
    pub table_id: String,
    pub key: String,
    pub name: String,
    /// `grid`, `kanban`, `calendar`, `gallery` or `form`.
    #[serde(rename = "type")]
    pub view_type: &'static str,
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// For a public form or a published grid: its link (no credential needed).
    pub public_url: Option<String>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<View> for ViewOut {
    fn from(view: View) -> Self {
        ViewOut {
            id: view.id.to_string(),
            table_id: view.table_id.to_string(),
            key: view.key.to_string(),
            name: view.name.into_string(),
            view_type: view.view_type.as_str(),
            public_url: view.public_slug.map(|slug| match view.view_type {
                ViewType::Form => format!("/api/v1/forms/{slug}"),
                _ => format!("/api/v1/public-views/{slug}"),
            }),
            config: view.config,
            position: view.position,
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewWrite {
    pub name: String,
    pub key: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "kanban")]
    pub view_type: String,
    /// Per type — grid: `fields` (keys or `{"field", "width", "hidden"}`), `filter`, `sort`, `group_by`,
    /// `row_height`, `public` (`{"enabled", "as_role"}`: published read-only, as the app role sees it); kanban: `group_field` (single select), `fields`, `filter`, `sort`, `card_cover`, `order_field` (a number field holding each card's place, sorted first: the order by hand);
    /// calendar: `date_field`, `end_date_field`, `fields`, `filter`; gallery: `cover_field`, `fields`,
    /// `filter`, `sort`; form: `fields` (`{"field", "label", "help", "required", "hidden", "default",
    /// "prefill", "subtable"}`; any other key is refused; `prefill`: the link may give the value, `?key=value`, a
    /// hidden field is then fixed by it; `subtable` on a link to many records: `{"fields": [detail
    /// keys], "min_rows", "max_rows"}`, rows of the linked table created with the record), `title`, `description`, `submit_label`, `success_message`
    /// (`{field}` placeholders take the written record's values), `public`, `daily_limit` (submissions
    /// per day, the organization's day), `members_only` (the page asks to log in and records who
    /// submitted; not open to the anonymous form API), `upsert` (a returning visitor's submission
    /// changes her row matched by a unique field or `unique_together` group on the form).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

/// Checks a view against the table, filter and sort included.
fn checked_spec(
    body: ViewWrite,
    schema: &TableSchema,
    context: &FilterContext,
) -> ApiResult<ViewSpec> {
    let mut check = Checker::default();
    let name = check.field("name", Name::parse(&body.name));
    let key = check.optional("key", body.key, |raw| ApiKey::parse(&raw));
    let view_type = ViewType::parse(&body.view_type);
    if view_type.is_none() {
        check.add(
            tenon_model::Reason::not_one_of(
                &["grid", "kanban", "calendar", "gallery", "form"],
                "must be grid, kanban, calendar, gallery or form",
            )
            .at("type"),
        );
    }
    check.finish()?;
    let (Some(name), Some(key), Some(view_type)) = (name, key, view_type) else {
        return Err(ApiError::invalid_request("invalid view"));
    };
    check_config(view_type, &body.config, schema, "config")?;
    if let Some(filter) = body.config.get("filter").filter(|value| !value.is_null()) {
        Filter::parse(filter, schema, context).map_err(|error| {
            let field = format!("config.{}", error.field);
            tenon_model::Invalid::from(error.at(field))
        })?;
    }
    if let Some(sort) = body.config.get("sort").and_then(Value::as_str) {
        parse_sort(sort, schema)
            .map_err(|error| tenon_model::Invalid::from(error.at("config.sort")))?;
    }
    Ok(ViewSpec {
        name,
        key,
        view_type,
        config: body.config,
        fresh_slug: tenon_auth::mint_slug(),
    })
}

/// List a table's views.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/views", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = crate::extract::Paged<ViewOut>), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_views(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table)): Path<(String, String)>,
) -> ApiResult<axum::Json<crate::extract::Paged<ViewOut>>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let views = tenant.views(schema.table.id).await?;
    Ok(axum::Json(crate::extract::Paged {
        items: views.into_iter().map(ViewOut::from).collect(),
        next_cursor: None,
    }))
}

/// Save a view.
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/views", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")), request_body = ViewWrite,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 201, body = ViewOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_view(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table)): Path<(String, String)>,
    ApiJson(body): ApiJson<ViewWrite>,
) -> ApiResult<(StatusCode, axum::Json<ViewOut>)> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let org = tenant.organization().await?;
    let spec = checked_spec(body, &schema, &filter_context(&state, &org))?;
    crate::routes::public_views::check_role(&tenant, &schema, &spec.config).await?;
    crate::routes::form_subtables::check(&tenant, &schema, &spec.config, "config").await?;
    let view = tenant
        .create_view(&auth.write_context(), &schema, spec)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view.into())))
}

/// Get a view.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/views/{view}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("view" = String, Path, description = "View id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = ViewOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_view(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table, view)): Path<(String, String, String)>,
) -> ApiResult<axum::Json<ViewOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    Ok(axum::Json(
        tenant.view(schema.table.id, &view).await?.into(),
    ))
}

/// Replace a view's name, type and configuration.
#[utoipa::path(patch, path = "/api/v1/apps/{app}/tables/{table}/views/{view}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("view" = String, Path, description = "View id or key")), request_body = ViewWrite,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, body = ViewOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_view(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table, view)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<ViewWrite>,
) -> ApiResult<axum::Json<ViewOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let before = tenant.view(schema.table.id, &view).await?;
    let org = tenant.organization().await?;
    let spec = checked_spec(body, &schema, &filter_context(&state, &org))?;
    crate::routes::public_views::check_role(&tenant, &schema, &spec.config).await?;
    crate::routes::form_subtables::check(&tenant, &schema, &spec.config, "config").await?;
    Ok(axum::Json(
        tenant
            .update_view(&auth.write_context(), &schema, &before, spec)
            .await?
            .into(),
    ))
}

/// Delete a view (records stay).
#[utoipa::path(delete, path = "/api/v1/apps/{app}/tables/{table}/views/{view}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("view" = String, Path, description = "View id or key")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_view(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table, view)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let view = tenant.view(schema.table.id, &view).await?;
    tenant.delete_view(&auth.write_context(), &view).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewRecordsParams {
    pub page_size: Option<u32>,
    pub cursor: Option<String>,
}

/// The records a view shows: its filter, sort and fields.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/views/{view}/records", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("view" = String, Path, description = "View id or key"), ViewRecordsParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, description = "The page, as listing records answers it", body = crate::routes::records::RecordPageOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The view refers to fields that no longer exist", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn view_records(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table, view)): Path<(String, String, String)>,
    ApiQuery(params): ApiQuery<ViewRecordsParams>,
) -> ApiResult<axum::Json<Value>> {
    let org = auth.principal.org_id;
    let tenant = state.store().tenant(org);
    let schema = tenant.table_schema(&app, &table).await?;
    let view = tenant.view(schema.table.id, &view).await?;
    let context = filter_context(&state, &tenant.organization().await?);
    let after = params
        .cursor
        .as_deref()
        .filter(|raw| !raw.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let keys = view.field_keys();
    let sort = view.records_sort();
    let request = ListRequest {
        filter: view.filter(),
        sort: &sort,
        fields: keys
            .as_ref()
            .map(|keys| keys.iter().map(String::as_str).collect()),
        formula: None,
        page: page_request(params.page_size, after)?,
        offset: 0,
        count: false,
    };
    let stale = |message: String| {
        ApiError::new(
            ErrorCode::Conflict,
            format!("view {}: {message}; update the view", view.key),
        )
    };
    let mut query = record_query(&schema, request, &context).map_err(|problem| match problem {
        ListProblem::Filter(error) | ListProblem::Sort(error) => stale(error.reason),
        ListProblem::Field(key) => stale(format!("no field \"{key}\"")),
        ListProblem::Formula(invalid) => stale(invalid.to_string()),
    })?;
    // A view never widens access: the member's read rule and hidden fields apply to it too.
    crate::service::access::restrict_list(&tenant, &auth, &schema, &mut query, &context).await?;
    let page = list(&state, org, &schema, &query, KeyBy::Key, &[]).await?;
    Ok(axum::Json(
        json!({"items": page.items, "next_cursor": page.next.as_ref().map(encode_cursor)}),
    ))
}

/// A public form, as a visitor's page needs it: title, texts and the fields to fill in.
#[utoipa::path(get, path = "/api/v1/forms/{slug}", tag = "forms", params(("slug" = String, Path, description = "The form link's slug")),
    responses((status = 200, body = PublicFormOut), (status = 404, body = ErrorBody)))]
pub async fn get_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<PublicFormOut>> {
    let form = crate::routes::forms::load_anonymous(&state, &slug).await?;
    let fields: Vec<Value> = form
        .visible()
        .map(|entry| {
            let mut out =
                serde_json::to_value(field_out(&entry.field, &tenon_model::apps::Keys::default()))
                    .unwrap_or(Value::Null);
            if let Value::Object(map) = &mut out {
                map.insert("label".to_owned(), Value::String(entry.label.clone()));
                map.insert(
                    "help".to_owned(),
                    entry.help.clone().map_or(Value::Null, Value::String),
                );
                map.insert("required".to_owned(), Value::Bool(entry.required));
                map.insert("prefill".to_owned(), Value::Bool(entry.prefill));
            }
            out
        })
        .collect();
    // Hidden fields the link fixes: their keys only (their settings stay the owner's).
    let fixed: Vec<String> = form
        .fields
        .iter()
        .filter(|entry| entry.hidden && entry.prefill)
        .map(|entry| entry.field.key.to_string())
        .collect();
    let subtables = form
        .subtables
        .iter()
        .map(|subtable| {
            let fields: Vec<Value> = subtable
                .fields
                .iter()
                .map(|field| {
                    serde_json::to_value(field_out(field, &tenon_model::apps::Keys::default()))
                        .unwrap_or(Value::Null)
                })
                .collect();
            json!({
                "key": subtable.link.key.as_str(),
                "label": subtable.label,
                "help": subtable.help,
                "min_rows": subtable.min_rows,
                "max_rows": subtable.max_rows,
                "fields": fields,
            })
        })
        .collect();
    Ok(axum::Json(PublicFormOut {
        title: form.title(),
        description: form.description(),
        submit_label: form.submit_label(),
        fields,
        fixed_by_link: fixed,
        subtables,
    }))
}

/// A public form as its page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicFormOut {
    /// The form's title (the view's name unless the form sets one).
    pub title: String,
    pub description: Option<String>,
    pub submit_label: Option<String>,
    /// The fields to fill in, in order: each as the table's fields are shown, with `help` (text or
    /// null), `required` and `prefill` (the link may give its value, `?key=value`).
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<Value>,
    /// Keys of the hidden fields the link may fix (`?key=value`); send them in `fields` too.
    pub fixed_by_link: Vec<String>,
    /// The form's sub-tables (rows of a linked table created with the record): each `{"key", "label",
    /// "help", "min_rows", "max_rows", "fields"}`; submit the rows in `fields` under `key` as a list
    /// of objects, `{"lines": [{"qty": 2}]}`.
    #[schema(value_type = Vec<Object>)]
    pub subtables: Vec<Value>,
}

/// A submission taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormSubmittedOut {
    /// The record created (or, with `upsert`, changed).
    pub id: String,
    /// The form's `success_message` with its `{field}` placeholders filled, or a default thank-you.
    pub message: String,
    /// With `upsert`: the visitor's existing row was changed (200) instead of a new one created (201).
    pub updated: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormSubmission {
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// The key the files in `fields` were uploaded with (`POST /api/v1/forms/{slug}/files`).
    #[serde(default)]
    pub submission: Option<String>,
}

/// Submit a public form: creates one record with the form's fields only (and the fields its link may
/// prefill; a link takes a record id or the linked record's primary value); with `upsert`, changes the
/// row a unique key on the form matches instead. No credential; each visitor address may submit 10
/// times a minute (bursts of 20).
#[utoipa::path(post, path = "/api/v1/forms/{slug}", tag = "forms", params(("slug" = String, Path, description = "The form link's slug")), request_body = FormSubmission,
    responses((status = 201, description = "Submitted: one record created", body = FormSubmittedOut), (status = 200, description = "Submitted to a form with `upsert`: the visitor's row was changed", body = FormSubmittedOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn submit_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<FormSubmission>,
) -> ApiResult<Response> {
    let form = crate::routes::forms::load_anonymous(&state, &slug).await?;
    let done = crate::routes::forms::submit(
        &state,
        &form,
        peer.ip(),
        crate::routes::forms::Submission {
            given: body.fields,
            origin: crate::routes::forms::Origin::Api,
            actor: None,
            honeypot: false,
            key: body.submission,
        },
    )
    .await?;
    let id = done.id.unwrap_or_default();
    let message = done.message;
    let updated = done.updated;
    let status = if updated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(FormSubmittedOut {
            id,
            message,
            updated,
        }),
    )
        .into_response())
}
