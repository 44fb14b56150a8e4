//! The form designer on the table page (`?view=<a form view>`): the form's fields in order with their
//! per-form settings (label, help, required, hidden with a default, filled from the link), the fields
//! that can be added, the form's texts, its daily cap, whether a returning visitor updates her row
//! (`upsert`) and whether it is public — with the public link and its QR code (an SVG drawn here, `…/views/{view}/qr.svg`). The
//! `form-designer` island edits this draft in the page and saves it through the views API; a refused save
//! (a field deleted meanwhile) keeps the draft and names the field.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tenon_model::Scope;
use tenon_model::apps::TableSchema;
use tenon_model::apps::view::{View, ViewType};
use tenon_server::AppState;
use tenon_server::routes::forms::fillable_on_page;

use crate::session::Viewer;

#[derive(Debug, Serialize)]
pub struct DesignerField {
    pub key: String,
    /// The field's name (the entry's key when the field no longer exists).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub label: String,
    pub help: String,
    pub required: bool,
    pub hidden: bool,
    /// The public link may give the value (`?key=…`); with `hidden` the link fixes it.
    pub prefill: bool,
    pub default: String,
    /// The field was deleted since the form was saved: saving refuses it until it is removed.
    pub missing: bool,
    /// The public page can ask for it (members, links and files cannot be filled in there).
    pub fillable: bool,
}

#[derive(Debug, Serialize)]
pub struct Available {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub fillable: bool,
}

#[derive(Debug, Serialize)]
pub struct Designer {
    pub view_id: String,
    pub title: String,
    pub description: String,
    pub submit_label: String,
    pub success_message: String,
    pub daily_limit: String,
    pub public: bool,
    /// A returning visitor's submission changes her row (matched by a unique key on the form).
    pub upsert: bool,
    pub public_link: Option<String>,
    pub qr_url: Option<String>,
    pub fields: Vec<DesignerField>,
    pub available: Vec<Available>,
}

/// `http(s)://host` of the request (the scheme from `X-Forwarded-Proto` behind a proxy).
pub fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .filter(|proto| *proto == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The designer's draft of a form view.
pub fn designer(schema: &TableSchema, view: &View, origin: &str, qr_base: &str) -> Designer {
    let entries = view
        .config
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut fields: Vec<DesignerField> = Vec::new();
    for entry in &entries {
        let empty = serde_json::Map::new();
        let (reference, object) = match entry {
            Value::String(key) => (key.clone(), &empty),
            Value::Object(object) => (text(object.get("field")), object),
            _ => continue,
        };
        let field = schema.resolve_field(&reference);
        let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
        let default = match object.get("default") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        fields.push(DesignerField {
            key: field.map_or(reference.clone(), |field| field.key.to_string()),
            name: field.map_or(reference.clone(), |field| field.name.to_string()),
            kind: field.map_or("text", |field| field.field_type().as_str()),
            label: text(object.get("label")),
            help: text(object.get("help")),
            required: flag("required"),
            hidden: flag("hidden"),
            prefill: flag("prefill"),
            default,
            missing: field.is_none(),
            fillable: field.is_some_and(|field| fillable_on_page(field.field_type())),
        });
    }
    let available = schema
        .fields
        .iter()
        .filter(|field| field.field_type().is_writable())
        .filter(|field| !fields.iter().any(|entry| entry.key == field.key.as_str()))
        .map(|field| Available {
            key: field.key.to_string(),
            name: field.name.to_string(),
            kind: field.field_type().as_str(),
            fillable: fillable_on_page(field.field_type()),
        })
        .collect();
    let public = view.is_public_form();
    Designer {
        view_id: view.id.to_string(),
        title: text(view.config.get("title")),
        description: text(view.config.get("description")),
        submit_label: text(view.config.get("submit_label")),
        success_message: text(view.config.get("success_message")),
        daily_limit: view
            .config
            .get("daily_limit")
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        public,
        upsert: view
            .config
            .get("upsert")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        public_link: view
            .public_slug
            .as_ref()
            .filter(|_| public)
            .map(|slug| format!("{origin}/f/{slug}")),
        qr_url: public.then(|| format!("{qr_base}/views/{}/qr.svg", view.id)),
        fields,
        available,
    }
}

/// `GET /apps/{app}/tables/{table}/views/{view}/qr.svg`: the public link of a form as a QR code.
pub async fn qr(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((app, table, view)): Path<(String, String, String)>,
) -> Response {
    let principal = &viewer.0.principal;
    if !principal.scopes.grants(Scope::AppsRead) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let tenant = state.store().tenant(principal.org_id);
    let Ok(schema) = tenant.table_schema(&app, &table).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(view) = tenant.view(schema.table.id, &view).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(slug) = view
        .public_slug
        .as_ref()
        .filter(|_| view.view_type == ViewType::Form && view.is_public_form())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let link = format!("{}/f/{slug}", origin(&headers));
    let Ok(code) = qrcode::QrCode::new(link.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
