//! The form designer on the table page (`?view=<a form view>`): the form's fields in order with their
//! per-form settings (label, help, required, hidden with a default, filled from the link), the fields
//! that can be added, the form's texts, its daily cap, whether a returning visitor updates her row
//! (`upsert`), a link field's sub-table (the linked table's fields its rows fill in) and whether it is public — with the public link and its QR code (an SVG drawn here, `…/views/{view}/qr.svg`). The
//! `form-designer` island edits this draft in the page and saves it through the views API; a refused save
//! (a field deleted meanwhile) keeps the draft and names the field.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tenon_model::Scope;
use tenon_model::apps::view::{View, ViewType};
use tenon_model::apps::{Field, FieldKind, FieldType, LinkTarget, TableSchema};
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
    /// A link to many records: it may hold a sub-table of the linked table's rows.
    pub subtable: Option<SubtableDraft>,
}

#[derive(Debug, Serialize)]
pub struct Available {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub fillable: bool,
    pub subtable: Option<SubtableDraft>,
}

/// A link field's sub-table settings in the designer: whether it is one, and which of the linked
/// table's fields its rows fill in.
#[derive(Debug, Serialize)]
pub struct SubtableDraft {
    pub enabled: bool,
    pub options: Vec<SubtableOption>,
    pub min_rows: String,
    pub max_rows: String,
}

#[derive(Debug, Serialize)]
pub struct SubtableOption {
    pub key: String,
    pub name: String,
    pub checked: bool,
}

/// The sub-table draft of `field` (a link to many records of one of `details`), from the form entry's
/// `subtable` object when it has one.
fn subtable_draft(
    field: &Field,
    details: &[TableSchema],
    settings: Option<&serde_json::Map<String, Value>>,
) -> Option<SubtableDraft> {
    let FieldKind::Link {
        table: LinkTarget::Resolved(table),
        multiple: true,
        inverse,
    } = &field.kind
    else {
        return None;
    };
    let detail = details.iter().find(|detail| detail.table.id == *table)?;
    let chosen: Vec<String> = settings
        .and_then(|settings| settings.get("fields"))
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|reference| detail.resolve_field(reference))
                .map(|field| field.key.to_string())
                .collect()
        })
        .unwrap_or_default();
    let count = |key: &str| {
        settings
            .and_then(|settings| settings.get(key))
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    Some(SubtableDraft {
        enabled: settings.is_some(),
        options: detail
            .fields
            .iter()
            .filter(|option| {
                option.field_type().is_writable()
                    && Some(option.id) != *inverse
                    && option.field_type() != FieldType::Attachment
            })
            .map(|option| SubtableOption {
                checked: chosen.iter().any(|key| key == option.key.as_str()),
                key: option.key.to_string(),
                name: option.name.to_string(),
            })
            .collect(),
        min_rows: count("min_rows"),
        max_rows: count("max_rows"),
    })
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
/// `details`: the tables the form's table links to many records of (for sub-tables).
pub fn designer(
    schema: &TableSchema,
    view: &View,
    origin: &str,
    qr_base: &str,
    details: &[TableSchema],
) -> Designer {
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
            subtable: field.and_then(|field| {
                subtable_draft(
                    field,
                    details,
                    object.get("subtable").and_then(Value::as_object),
                )
            }),
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
            subtable: subtable_draft(field, details, None),
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

/// `GET /apps/{app}/tables/{table}/views/{view}/qr.svg`: the public link of a form (`/f/…`) or of a
/// published grid (`/v/…`) as a QR code, for those who manage the app (`apps:write`: owners, admins);
/// anyone else 403, like the views API.
pub async fn qr(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((app, table, view)): Path<(String, String, String)>,
) -> Response {
    let principal = &viewer.0.principal;
    // The app's manage right, as the views API asks for changing a form or publishing a grid.
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
    let Some(slug) = view.public_slug.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let page = if view.view_type == ViewType::Form && view.is_public_form() {
        "f"
    } else if view.is_public_grid() {
        "v"
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    svg_of(&format!("{}/{page}/{slug}", origin(&headers)))
}

/// `POST /qr.svg` (a member's session; the body is the link as text): a QR code of one of this site's
/// visitor links (`<origin>/s/…`, `/f/…`, `/v/…`), for the share dialog, which alone knows a new record
/// link's token (it is shown once and never stored). Anything else is 400, so this draws no other codes.
pub async fn link_qr(_viewer: Viewer, headers: HeaderMap, body: String) -> Response {
    let origin = origin(&headers);
    let link = body.trim();
    let ours = ["/s/", "/f/", "/v/"].iter().any(|page| {
        link.strip_prefix(&origin)
            .and_then(|rest| rest.strip_prefix(page))
            .is_some_and(|rest| {
                !rest.is_empty()
                    && rest.len() <= 200
                    && rest
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte))
            })
    });
    if !ours {
        return StatusCode::BAD_REQUEST.into_response();
    }
    svg_of(link)
}

/// A link as an SVG QR code (200 px at least, with its quiet zone), never cached.
fn svg_of(link: &str) -> Response {
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
