//! `GET /api/v1/apps/{app}/openapi.json`: an OpenAPI 3.1 document for one app, with a schema per table
//! generated from its fields, so a developer can generate a typed client for, say, a school's duty
//! attendance app.

use axum::extract::{Path, State};
use serde_json::{Map, Value, json};
use tenon_model::apps::{Field, FieldKind, TableSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// An OpenAPI 3.1 document, as the body's schema.
pub struct OpenApiDocument;

impl utoipa::PartialSchema for OpenApiDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("An OpenAPI 3.1 document"))
            .property("openapi", ObjectBuilder::new().schema_type(Type::String))
            .property("info", ObjectBuilder::new().schema_type(Type::Object))
            .property("paths", ObjectBuilder::new().schema_type(Type::Object))
            .property("components", ObjectBuilder::new().schema_type(Type::Object))
            .required("openapi")
            .required("info")
            .required("paths")
            .into()
    }
}

impl utoipa::ToSchema for OpenApiDocument {}

/// The app's own API description.
#[utoipa::path(get, path = "/api/v1/apps/{app}/openapi.json", tag = "apps", params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, description = "An OpenAPI 3.1 document", body = OpenApiDocument), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn app_openapi(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(app): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let current = state
        .store()
        .tenant(auth.principal.org_id)
        .current_app(&app)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    Ok(axum::Json(document(&current.app, &current.tables)))
}

/// A PascalCase schema name from a table key (`duty_roster` → `DutyRoster`).
fn type_name(key: &str) -> String {
    key.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn id_name() -> Value {
    json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}, "required": ["id", "name"]})
}

/// The JSON schema of a field's value as records show it.
fn field_schema(field: &Field) -> Value {
    let mut schema = match &field.kind {
        FieldKind::Text {
            max_length,
            pattern,
            ..
        } => {
            let mut s = json!({"type": "string"});
            if let Some(max) = max_length {
                s["maxLength"] = json!(max);
            }
            if let Some(pattern) = pattern {
                s["pattern"] = json!(pattern.as_str());
            }
            s
        }
        FieldKind::LongText { .. } | FieldKind::Phone => json!({"type": "string"}),
        FieldKind::Email => json!({"type": "string", "format": "email"}),
        FieldKind::Url => json!({"type": "string", "format": "uri"}),
        FieldKind::Number { precision: 0, .. } => json!({"type": "integer"}),
        FieldKind::Number { precision, .. } => {
            json!({"type": "string", "format": "decimal", "description": format!("A decimal with {precision} decimals, as a string")})
        }
        FieldKind::Currency {
            currency,
            precision,
            ..
        } => {
            json!({"type": "string", "format": "decimal", "description": format!("An amount in {currency} with {precision} decimals, as a string")})
        }
        FieldKind::Percent { .. } => {
            json!({"type": "string", "format": "decimal", "description": "A fraction as a string: \"0.06\" is 6 %"})
        }
        FieldKind::Date { .. } => json!({"type": "string", "format": "date"}),
        FieldKind::DateTime { .. } => json!({"type": "string", "format": "date-time"}),
        FieldKind::Duration { .. } => json!({"type": "integer", "description": "Seconds"}),
        FieldKind::Checkbox => json!({"type": "boolean"}),
        FieldKind::Rating { max } => json!({"type": "integer", "minimum": 1, "maximum": max}),
        FieldKind::SingleSelect { choices } => {
            json!({"type": "string", "enum": choices.iter().map(|c| c.name.clone()).collect::<Vec<_>>()})
        }
        FieldKind::MultiSelect { choices } => {
            json!({"type": "array", "items": {"type": "string", "enum": choices.iter().map(|c| c.name.clone()).collect::<Vec<_>>()}})
        }
        FieldKind::Member { multiple } | FieldKind::Department { multiple } => {
            if *multiple {
                json!({"type": "array", "items": id_name()})
            } else {
                id_name()
            }
        }
        FieldKind::Link { .. } => {
            json!({"type": "array", "items": id_name(), "description": "Linked records; write them as a list of record ids"})
        }
        FieldKind::Attachment { .. } => {
            json!({"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "size": {"type": "integer"}, "type": {"type": "string"}, "url": {"type": "string"}}}})
        }
        FieldKind::Autonumber { .. } => json!({"type": "string", "readOnly": true}),
        FieldKind::CreatedTime { .. } | FieldKind::ModifiedTime { .. } => {
            json!({"type": "string", "format": "date-time", "readOnly": true})
        }
        FieldKind::CreatedBy | FieldKind::ModifiedBy => {
            json!({"type": "object", "readOnly": true, "properties": {
            "type": {"type": "string"}, "id": {"type": "string"}, "name": {"type": "string"}}})
        }
        FieldKind::Count { .. } => json!({"type": "integer", "readOnly": true}),
        FieldKind::Rollup { .. }
            if matches!(field.kind.storage(), tenon_model::apps::Storage::Integer) =>
        {
            json!({"type": "integer", "readOnly": true})
        }
        FieldKind::Formula { .. } | FieldKind::Lookup { .. } | FieldKind::Rollup { .. } => {
            let mut schema = field
                .kind
                .value_type()
                .map_or_else(|| json!({}), |ty| computed_schema(&ty));
            schema["readOnly"] = json!(true);
            schema
        }
    };
    if let Value::Object(map) = &mut schema {
        map.insert("title".to_owned(), json!(field.name.as_str()));
    }
    schema
}

/// The JSON schema of a computed value of formula type `ty`.
fn computed_schema(ty: &tenon_model::apps::formula::Type) -> Value {
    use tenon_model::apps::formula::Type;
    match ty {
        Type::Number { scale } => {
            json!({"type": "string", "format": "decimal", "description": format!("A decimal with {scale} decimals, as a string")})
        }
        Type::Boolean => json!({"type": "boolean"}),
        Type::Date => json!({"type": "string", "format": "date"}),
        Type::DateTime => json!({"type": "string", "format": "date-time"}),
        Type::List(_) => json!({"type": "array", "items": {"type": "string"}}),
        Type::Text | Type::Blank => json!({"type": "string"}),
    }
}

/// The records routes of the API's document that an app's document describes per table.
const LIST: &str = "/api/v1/apps/{app}/tables/{table}/records";
const ONE: &str = "/api/v1/apps/{app}/tables/{table}/records/{id}";

/// The API's own document as JSON, made once.
fn api_document() -> &'static Value {
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(crate::openapi()).unwrap_or(Value::Null))
}

/// `success` and every other answer the API's document lists for `method path` (a records route), each
/// with its description and headers and the app document's error body: an app's document never says
/// less than the server does.
fn responses(method: &str, path: &str, success: (&str, Value)) -> Value {
    let mut out = Map::new();
    out.insert(success.0.to_owned(), success.1);
    let listed = api_document()["paths"][path][method]["responses"].as_object();
    for (status, response) in listed.into_iter().flatten() {
        if status.starts_with('2') {
            continue;
        }
        let mut entry = json!({
            "description": response["description"].as_str().unwrap_or("Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        });
        if let Some(headers) = response.get("headers") {
            entry["headers"] = headers.clone();
        }
        out.insert(status.clone(), entry);
    }
    Value::Object(out)
}

/// Builds the document.
pub fn document(app: &tenon_model::apps::App, tables: &[TableSchema]) -> Value {
    let mut schemas = Map::new();
    let mut paths = Map::new();
    schemas.insert("Error".to_owned(), json!({"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "params": {"type": "object"}, "request_id": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "code": {"type": "string"},
            "params": {"type": "object"}, "reason": {"type": "string"}}}}}}}}));
    for schema in tables {
        let name = type_name(schema.table.key.as_str());
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &schema.fields {
            properties.insert(field.key.to_string(), field_schema(field));
            if field.required {
                required.push(field.key.to_string());
            }
        }
        schemas.insert(format!("{name}Fields"), json!({"type": "object", "title": schema.table.name.as_str(), "properties": properties, "required": required}));
        schemas.insert(format!("{name}Record"), json!({"type": "object", "required": ["id", "version", "fields"], "properties": {
            "id": {"type": "string"}, "version": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
            "modified_at": {"type": "string", "format": "date-time"}, "fields": {"$ref": format!("#/components/schemas/{name}Fields")}}}));
        schemas.insert(format!("{name}Page"), json!({"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}Record")}},
            "next_cursor": {"type": ["string", "null"]}, "total": {"type": "integer"}}}));
        schemas.insert(format!("{name}Write"), json!({"type": "object", "required": ["fields"], "additionalProperties": false, "properties": {
            "fields": {"type": "object", "description": "Values keyed by field key; numbers may also be sent as strings, links and members as ids (or, with typecast, by name)"}}}));
        let record = json!({"$ref": format!("#/components/schemas/{name}Record")});
        let one = |description: &str| json!({"description": description, "content": {"application/json": {"schema": record}}});
        let security = json!([{"bearer": ["records:read"]}]);
        let write_security = json!([{"bearer": ["records:write"]}]);
        let typecast = json!({"name": "typecast", "in": "query", "schema": {"type": "boolean"},
            "description": "Accept names instead of ids: links by primary field, members by e-mail, mobile or name, departments by name, choices by a unique prefix"});
        let base = format!("/tables/{}/records", schema.table.key);
        paths.insert(base.clone(), json!({
            "get": {"operationId": format!("list{name}"), "summary": format!("List {}", schema.table.name), "security": security,
                "parameters": [
                    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "filter", "in": "query", "schema": {"type": "string"}, "description": "A JSON filter tree"},
                    {"name": "sort", "in": "query", "schema": {"type": "string"}},
                    {"name": "fields", "in": "query", "schema": {"type": "string"}},
                    {"name": "count", "in": "query", "schema": {"type": "boolean"}}],
                "responses": responses("get", LIST, ("200", json!({"description": "A page", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}Page")}}}})))},
            "post": {"operationId": format!("create{name}"), "summary": format!("Create a record in {}", schema.table.name), "security": write_security,
                "parameters": [typecast.clone()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}Write")}}}},
                "responses": responses("post", LIST, ("201", one("The record")))}
        }));
        paths.insert(format!("{base}/{{id}}"), json!({
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "get": {"operationId": format!("get{name}"), "security": security,
                "responses": responses("get", ONE, ("200", one("The record")))},
            "patch": {"operationId": format!("update{name}"), "security": write_security,
                "parameters": [typecast.clone()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}Write")}}}},
                "responses": responses("patch", ONE, ("200", one("The record")))},
            "delete": {"operationId": format!("delete{name}"), "security": write_security, "responses": responses("delete", ONE, ("204", json!({"description": "Deleted"})))}
        }));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": format!("{} API", app.name), "version": app.schema_version.to_string(),
            "description": format!("Records of the Tenon app \"{}\" ({}). Generated from its schema version {}.", app.name, app.key, app.schema_version)},
        "servers": [{"url": format!("/api/v1/apps/{}", app.key)}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "paths": paths,
    })
}
