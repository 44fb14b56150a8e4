//! `GET /apps/{app}/tables/{table}/views/{view}/preview`: a form view as its public page shows it, for
//! the designer's 手机预览|Preview as a phone frame (375 px wide). For those who manage the app
//! (`apps:write`: owners and admins; anyone else 403), public or not yet; the form as last saved;
//! nothing can be submitted from it. Only this page may be framed, and only by this site's own pages.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tenon_model::Scope;
use tenon_model::apps::view::ViewType;
use tenon_server::AppState;
use tenon_server::routes::forms::{self as api_forms, PublicForm};

use super::{PageInput, Prefill, prefilled, render, subtable};
use crate::security::FramedBySelf;
use crate::session::Viewer;

pub async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((app, table, view)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
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
    let Ok(view) = tenant.view(schema.table.id, &view).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if view.view_type != ViewType::Form {
        return StatusCode::NOT_FOUND.into_response();
    }
    let organization = match tenant.organization().await {
        Ok(organization) => organization,
        Err(error) => return tenon_server::ApiError::from(error).status().into_response(),
    };
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
    let query = super::FormQuery::parse(raw.as_deref());
    let lang = super::language(query.lang.as_deref(), &headers, &form);
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
        None,
        String::new(),
        &page,
    );
    response.extensions_mut().insert(FramedBySelf);
    response
}
