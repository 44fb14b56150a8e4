//! `GET /apps/{app}/tables/{table}/views/{view}/preview`: a form view as its public page shows it, for
//! the designer's 手机预览|Preview as a phone frame (375 px wide). For those who manage the app
//! (`apps:write`: owners and admins; anyone else 403), public or not yet; nothing can be submitted from
//! it. Only this page may be framed, and only by this site's own pages.
//!
//! `POST` to the same address with `config` (the designer's unsaved draft, the JSON a save would send)
//! previews the draft: the designer posts it into the frame as the person edits. The draft is checked as
//! a save checks it and never stored; a draft that a save would refuse shows the saved form with the
//! reason above it.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use fluent_bundle::FluentValue;
use serde_json::{Map, Value};
use tenon_model::Scope;
use tenon_model::apps::view::{ViewType, check_config};
use tenon_server::routes::forms::{self as api_forms, PublicForm};
use tenon_server::{ApiError, AppState};

use super::{PageInput, Prefill, detail_message, prefilled, render, subtable};
use crate::i18n::Lang;
use crate::public_page::{pairs, text};
use crate::security::FramedBySelf;
use crate::session::Viewer;

type ViewPath = Path<(String, String, String)>;

/// The saved form.
pub async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(path): ViewPath,
    RawQuery(raw): RawQuery,
) -> Response {
    page(&state, &viewer, &headers, path, raw.as_deref(), None).await
}

/// The designer's unsaved draft (`config=<JSON>`, form-encoded).
pub async fn draft(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(path): ViewPath,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(error) = tenon_server::auth::check_same_origin(&Method::POST, &headers) {
        return error.status().into_response();
    }
    let config = pairs(&body)
        .into_iter()
        .find(|(name, _)| name == "config")
        .map(|(_, value)| value)
        .unwrap_or_default();
    page(
        &state,
        &viewer,
        &headers,
        path,
        raw.as_deref(),
        Some(config),
    )
    .await
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    (app, table, view): (String, String, String),
    raw: Option<&str>,
    draft: Option<String>,
) -> Response {
    let principal = &viewer.0.principal;
    // The designer's preview: for those who manage the app, as the designer itself.
    if !principal.scopes.grants(Scope::AppsWrite) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let tenant = state.store().tenant(principal.org_id);
    let Ok(schema) = tenant.table_schema(&app, &table).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(mut view) = tenant.view(schema.table.id, &view).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if view.view_type != ViewType::Form {
        return StatusCode::NOT_FOUND.into_response();
    }
    let organization = match tenant.organization().await {
        Ok(organization) => organization,
        Err(error) => return ApiError::from(error).status().into_response(),
    };
    // A draft a save would take replaces the saved configuration; one it would refuse leaves it and
    // says why.
    let mut refusal = None;
    if let Some(raw) = draft {
        match checked_draft(&tenant, &schema, &raw).await {
            Ok(config) => view.config = config,
            Err(error) => refusal = Some(error),
        }
    }
    let subtables = match tenon_server::routes::form_subtables::load(&tenant, &view, &schema).await
    {
        Ok(subtables) => subtables,
        Err(error) => return error.status().into_response(),
    };
    let form = PublicForm {
        slug: view.public_slug.clone().unwrap_or_default(),
        fields: api_forms::form_fields(&view, &schema),
        view,
        schema,
        organization,
        subtables,
    };
    let query = super::FormQuery::parse(raw);
    let lang = super::language(query.lang.as_deref(), headers, &form);
    let page = PageInput {
        prefill: Prefill::of(&form, &query),
        submission: String::new(),
        files: Vec::new(),
        rows: subtable::initial(&form),
        positions: Vec::new(),
        problems: subtable::Problems::default(),
        preview: true,
    };
    let mut response = render(
        tenon_server::pow::Issuer::of(state.store()),
        &form,
        lang,
        StatusCode::OK,
        "form",
        &prefilled(&form, &page.prefill),
        &[],
        refusal.map(|error| draft_refused(lang, &error)),
        String::new(),
        &page,
    );
    response.extensions_mut().insert(FramedBySelf);
    response
}

/// The draft as a save would check it: a JSON object, a form's settings, its sub-tables.
async fn checked_draft(
    tenant: &tenon_store::Tenant<'_>,
    schema: &tenon_model::apps::TableSchema,
    raw: &str,
) -> Result<Map<String, Value>, ApiError> {
    let Ok(Value::Object(config)) = serde_json::from_str::<Value>(raw) else {
        return Err(ApiError::invalid_request("the draft is not a JSON object"));
    };
    check_config(ViewType::Form, &config, schema, "config").map_err(ApiError::from)?;
    tenon_server::routes::form_subtables::check(tenant, schema, &config, "config").await?;
    Ok(config)
}

fn draft_refused(lang: Lang, error: &ApiError) -> String {
    let reason = error
        .details()
        .first()
        .map(|detail| detail_message(lang, detail))
        .unwrap_or_else(|| text(lang, "error-invalid_request", &[]));
    text(
        lang,
        "form-preview-draft-refused",
        &[("reason", FluentValue::from(reason))],
    )
}
