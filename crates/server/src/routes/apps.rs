//! `/api/v1/apps`, `…/tables`, `…/fields`: the schema of low-code apps. `{app}`, `{table}` and `{field}`
//! take an id or an API key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{
    ApiKey, App, Field, FieldKind, FieldSpec, FieldType, Keys, LinkTarget, SpecError, TableSchema,
    computed,
};
use tenon_model::{Checker, DetailCode, FieldError, Name};
use tenon_store::{AppPatch, NewApp, NewTable, TablePatch};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PageParams, Paged};
use crate::routes::nullable;
use crate::routes::records_io::parse_context;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AppOut {
    pub id: String,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// Grows with every schema change of the app's tables.
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<App> for AppOut {
    fn from(app: App) -> Self {
        AppOut {
            id: app.id.to_string(),
            key: app.key.to_string(),
            name: app.name.into_string(),
            description: app.description,
            schema_version: app.schema_version,
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppCreate {
    #[schema(example = "住房预约")]
    pub name: String,
    /// `[a-z][a-z0-9_]{0,62}`; derived from the name when absent.
    pub key: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppUpdate {
    pub name: Option<String>,
    pub key: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// A field: `{"id", "name", "key", "type", "options", "required", "unique", "default"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldOut {
    pub id: String,
    pub name: String,
    pub key: String,
    /// One of the type ids, e.g. `text`, `number`, `link`.
    #[serde(rename = "type")]
    pub field_type: &'static str,
    #[schema(value_type = Object)]
    pub options: Value,
    pub required: bool,
    pub unique: bool,
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    /// An index serves sorting and filtering by this field.
    pub indexed: bool,
    pub position: i64,
    /// For computed fields (formula, lookup, rollup, count): the type of their values, e.g.
    /// `{"type": "number", "precision": 2}`, `{"type": "text"}`, `{"type": "list", "of": {…}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

/// A table with its fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableOut {
    pub id: String,
    pub app_id: String,
    pub key: String,
    pub name: String,
    /// Key of the field whose value names a record.
    pub primary_field: Option<String>,
    /// Groups of field keys whose values together are unique.
    pub unique_together: Vec<Vec<String>>,
    /// Composite indexes, each a list of field keys in index order.
    pub indexes: Vec<Vec<String>>,
    pub fields: Vec<FieldOut>,
    /// Conditions every record must satisfy; a write that breaks one gets 422 with its message.
    pub validation_rules: Vec<ValidationRuleIo>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validation rule: a condition formula (e.g. `{Check out} > {Check in}`) and the message shown when a
/// record breaks it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRuleIo {
    pub formula: String,
    pub message: String,
}

/// Renders a field; link options name the linked table by key.
pub fn field_out(field: &Field, keys: &Keys) -> FieldOut {
    let options = field.kind.options_json(keys);
    FieldOut {
        id: field.id.to_string(),
        name: field.name.to_string(),
        key: field.key.to_string(),
        field_type: field.field_type().as_str(),
        options,
        required: field.required,
        unique: field.unique,
        default: field.default.clone(),
        indexed: field.indexed,
        position: field.position,
        result: field.kind.value_type().map(|ty| computed::result_json(&ty)),
    }
}

fn table_out(schema: &TableSchema, tables: &Keys) -> TableOut {
    let key_of = |id: &tenon_model::FieldId| {
        schema
            .field(*id)
            .map(|field| field.key.to_string())
            .unwrap_or_default()
    };
    TableOut {
        id: schema.table.id.to_string(),
        app_id: schema.app.id.to_string(),
        key: schema.table.key.to_string(),
        name: schema.table.name.to_string(),
        primary_field: schema.table.primary_field_id.as_ref().map(key_of),
        unique_together: schema
            .table
            .unique_together
            .iter()
            .map(|group| group.iter().map(key_of).collect())
            .collect(),
        indexes: schema
            .table
            .indexes
            .iter()
            .map(|group| group.iter().map(key_of).collect())
            .collect(),
        fields: schema
            .fields
            .iter()
            .map(|field| field_out(field, tables))
            .collect(),
        validation_rules: schema
            .table
            .validation_rules
            .iter()
            .map(|rule| ValidationRuleIo {
                formula: rule.formula.text().to_owned(),
                message: rule.message.clone(),
            })
            .collect(),
        created_at: schema.table.created_at,
        updated_at: schema.table.updated_at,
    }
}

/// A field to create: `{"name", "key", "type", "options", "required", "unique", "default"}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldCreate {
    pub name: String,
    pub key: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "text")]
    pub field_type: String,
    /// Type-specific options (see docs/fields.md); unknown option names are refused with 400.
    #[schema(value_type = Option<Object>)]
    pub options: Option<Map<String, Value>>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub indexed: bool,
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldUpdate {
    pub name: Option<String>,
    pub key: Option<String>,
    /// A new type; stored values are converted (those that do not fit are emptied and counted).
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    /// Options to change (merged into the current ones when the type stays); an option given as `null`
    /// is removed (the type's default applies).
    #[schema(value_type = Option<Object>)]
    pub options: Option<Map<String, Value>>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub indexed: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub default: Option<Option<Value>>,
    pub position: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableCreate {
    pub name: String,
    pub key: Option<String>,
    #[serde(default)]
    pub fields: Vec<FieldCreate>,
    /// Key of the field that names records (default: the first text field).
    pub primary_field: Option<String>,
    /// e.g. `[["class", "week"]]`.
    #[serde(default)]
    pub unique_together: Vec<Vec<String>>,
    /// Composite indexes, e.g. `[["region", "amount"]]`: a filter, sort or grouped aggregate on these
    /// fields reads the index (1–8 single-valued fields stored in the table each).
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
    #[serde(default)]
    pub validation_rules: Vec<ValidationRuleIo>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableUpdate {
    pub name: Option<String>,
    pub key: Option<String>,
    pub primary_field: Option<String>,
    pub unique_together: Option<Vec<Vec<String>>>,
    /// Replaces the table's composite indexes.
    pub indexes: Option<Vec<Vec<String>>>,
    /// Replaces the table's validation rules.
    pub validation_rules: Option<Vec<ValidationRuleIo>>,
    pub position: Option<i64>,
}

/// A field change answer: the field, and for a type change how many values could not be converted.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChanged {
    #[serde(flatten)]
    pub field: FieldOut,
    /// Values emptied because they had no equivalent in the new type (0 when nothing was converted).
    pub cleared_values: u64,
}

fn spec_error(error: SpecError) -> ApiError {
    match error {
        SpecError::UnknownOptions {
            path,
            names,
            allowed,
        } => {
            let details = names
                .iter()
                .map(|name| {
                    FieldError::new(
                        format!("{path}.{name}"),
                        DetailCode::UnknownOption,
                        format!("unknown option; this type takes: {}", allowed.join(", ")),
                    )
                    .with("allowed", allowed.clone())
                })
                .collect();
            ApiError::invalid_request(format!("unknown option names: {}", names.join(", ")))
                .with_details(details)
        }
        SpecError::Invalid(invalid) => invalid.into(),
    }
}

fn key(check: &mut Checker, path: &str, raw: Option<String>) -> Option<Option<ApiKey>> {
    check.optional(path, raw, |raw| ApiKey::parse(&raw))
}

/// Turns a field definition into a spec, reading a link's inverse options.
pub(crate) fn field_spec(input: FieldCreate, path: &str) -> ApiResult<FieldSpec> {
    let mut check = Checker::default();
    let name = check.field(&format!("{path}.name"), Name::parse(&input.name));
    let key = key(&mut check, &format!("{path}.key"), input.key);
    let field_type = check.field(&format!("{path}.type"), FieldType::parse(&input.field_type));
    let mut options = input.options.unwrap_or_default();
    let (mut inverse_key, mut inverse_name, mut inverse_multiple) = (None, None, true);
    if field_type == Some(FieldType::Link) {
        if let Some(raw) = options.remove("inverse_key") {
            inverse_key = check.field(
                &format!("{path}.options.inverse_key"),
                ApiKey::parse(raw.as_str().unwrap_or("")),
            );
        }
        if let Some(raw) = options.remove("inverse_name") {
            inverse_name = check.field(
                &format!("{path}.options.inverse_name"),
                Name::parse(raw.as_str().unwrap_or("")),
            );
        }
        if let Some(raw) = options.remove("inverse_multiple") {
            inverse_multiple = raw.as_bool().unwrap_or(true);
        }
    }
    check.finish()?;
    let (Some(name), Some(key), Some(field_type)) = (name, key, field_type) else {
        return Err(ApiError::invalid_request("invalid field"));
    };
    let kind = parse_kind(field_type, &options, &format!("{path}.options")).map_err(spec_error)?;
    Ok(FieldSpec {
        name,
        key,
        kind,
        required: input.required,
        unique: input.unique,
        indexed: input.indexed,
        default: input.default,
        inverse_key,
        inverse_name,
        inverse_multiple,
    })
}

pub(crate) async fn table_keys(
    state: &AppState,
    org: tenon_model::OrgId,
    app: tenon_model::AppId,
) -> ApiResult<Keys> {
    Ok(state.store().tenant(org).keys_of_app(app).await?)
}

/// List apps.
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps", params(PageParams),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = Paged<AppOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_apps(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<AppOut>>> {
    let apps = state
        .store()
        .tenant(auth.principal.org_id)
        .list_apps(page.to_request()?)
        .await?;
    Ok(axum::Json(Paged::from_page(apps, AppOut::from)))
}

/// Create an app.
#[utoipa::path(post, path = "/api/v1/apps", tag = "apps", request_body = AppCreate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 201, body = AppOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_app(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    ApiJson(body): ApiJson<AppCreate>,
) -> ApiResult<(StatusCode, axum::Json<AppOut>)> {
    let mut check = Checker::default();
    let name = check.field("name", Name::parse(&body.name));
    let key = key(&mut check, "key", body.key);
    check.finish()?;
    let (Some(name), Some(key)) = (name, key) else {
        return Err(ApiError::invalid_request("invalid app"));
    };
    let app = state
        .store()
        .tenant(auth.principal.org_id)
        .create_app(
            &auth.write_context(),
            NewApp {
                name,
                key,
                description: body.description,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(app.into())))
}

/// Get an app.
#[utoipa::path(get, path = "/api/v1/apps/{app}", tag = "apps", params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = AppOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_app(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(app): Path<String>,
) -> ApiResult<axum::Json<AppOut>> {
    Ok(axum::Json(
        state
            .store()
            .tenant(auth.principal.org_id)
            .app(&app)
            .await?
            .into(),
    ))
}

/// Rename an app or change its key or description.
#[utoipa::path(patch, path = "/api/v1/apps/{app}", tag = "apps", params(("app" = String, Path, description = "App id or key")), request_body = AppUpdate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, body = AppOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_app(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<AppUpdate>,
) -> ApiResult<axum::Json<AppOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    let mut check = Checker::default();
    let patch = AppPatch {
        name: body
            .name
            .and_then(|raw| check.field("name", Name::parse(&raw))),
        key: body
            .key
            .and_then(|raw| check.field("key", ApiKey::parse(&raw))),
        description: body.description,
    };
    check.finish()?;
    Ok(axum::Json(
        tenant
            .update_app(&auth.write_context(), app.id, patch)
            .await?
            .into(),
    ))
}

/// Delete an app with all its tables and records.
#[utoipa::path(delete, path = "/api/v1/apps/{app}", tag = "apps", params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_app(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(app): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    tenant.delete_app(&auth.write_context(), app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List an app's tables with their fields.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables", tag = "apps", params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = Paged<TableOut>), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_tables(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(app): Path<String>,
) -> ApiResult<axum::Json<Paged<TableOut>>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    let keys = table_keys(&state, auth.principal.org_id, app.id).await?;
    let mut items = Vec::new();
    for table in tenant.list_tables(app.id).await? {
        items.push(table_out(
            &tenant.table_schema_by_id(table.id).await?,
            &keys,
        ));
    }
    Ok(axum::Json(Paged {
        items,
        next_cursor: None,
    }))
}

/// Create a table, optionally with its fields.
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables", tag = "apps", params(("app" = String, Path, description = "App id or key")), request_body = TableCreate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 201, body = TableOut), (status = 400, description = "Malformed, or unknown option names", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_table(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<TableCreate>,
) -> ApiResult<(StatusCode, axum::Json<TableOut>)> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    let mut check = Checker::default();
    let name = check.field("name", Name::parse(&body.name));
    let key = key(&mut check, "key", body.key);
    check.finish()?;
    let (Some(name), Some(key)) = (name, key) else {
        return Err(ApiError::invalid_request("invalid table"));
    };
    let fields = body
        .fields
        .into_iter()
        .enumerate()
        .map(|(i, field)| field_spec(field, &format!("fields[{i}]")))
        .collect::<ApiResult<Vec<_>>>()?;
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let new = NewTable {
        name,
        key,
        fields,
        primary_field: body.primary_field,
        unique_together: body.unique_together,
        indexes: body.indexes,
        validation_rules: body
            .validation_rules
            .into_iter()
            .map(|rule| (rule.formula, rule.message))
            .collect(),
    };
    let schema = tenant
        .create_table(&auth.write_context(), &app, new, &parse)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, app.id).await?;
    Ok((StatusCode::CREATED, axum::Json(table_out(&schema, &keys))))
}

/// Get a table with its fields.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = TableOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_table(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table)): Path<(String, String)>,
) -> ApiResult<axum::Json<TableOut>> {
    let schema = state
        .store()
        .tenant(auth.principal.org_id)
        .table_schema(&app, &table)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok(axum::Json(table_out(&schema, &keys)))
}

/// Rename a table, change its primary field, composite unique keys, composite indexes or validation rules.
#[utoipa::path(patch, path = "/api/v1/apps/{app}/tables/{table}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")), request_body = TableUpdate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, body = TableOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_table(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table)): Path<(String, String)>,
    ApiJson(body): ApiJson<TableUpdate>,
) -> ApiResult<axum::Json<TableOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let mut check = Checker::default();
    let patch = TablePatch {
        name: body
            .name
            .and_then(|raw| check.field("name", Name::parse(&raw))),
        key: body
            .key
            .and_then(|raw| check.field("key", ApiKey::parse(&raw))),
        primary_field: body.primary_field,
        unique_together: body.unique_together,
        indexes: body.indexes,
        validation_rules: body.validation_rules.map(|rules| {
            rules
                .into_iter()
                .map(|rule| (rule.formula, rule.message))
                .collect()
        }),
        position: body.position,
    };
    check.finish()?;
    let schema = tenant
        .update_table(&auth.write_context(), &schema, patch)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok(axum::Json(table_out(&schema, &keys)))
}

/// Delete a table with its records (link fields pointing at it go too).
#[utoipa::path(delete, path = "/api/v1/apps/{app}/tables/{table}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_table(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    tenant.delete_table(&auth.write_context(), &schema).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a table's fields.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/fields", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = Paged<FieldOut>), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_fields(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table)): Path<(String, String)>,
) -> ApiResult<axum::Json<Paged<FieldOut>>> {
    let schema = state
        .store()
        .tenant(auth.principal.org_id)
        .table_schema(&app, &table)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok(axum::Json(Paged {
        items: schema
            .fields
            .iter()
            .map(|field| field_out(field, &keys))
            .collect(),
        next_cursor: None,
    }))
}

/// Add a field (a link also adds its inverse field to the other table).
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/fields", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")), request_body = FieldCreate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 201, body = FieldOut), (status = 400, description = "Malformed, or unknown option names", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_field(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table)): Path<(String, String)>,
    ApiJson(body): ApiJson<FieldCreate>,
) -> ApiResult<(StatusCode, axum::Json<FieldOut>)> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let spec = field_spec(body, "body")?;
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let field = tenant
        .add_field(&auth.write_context(), &schema, spec, &parse)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok((StatusCode::CREATED, axum::Json(field_out(&field, &keys))))
}

/// Get a field.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/fields/{field}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("field" = String, Path, description = "Field id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = FieldOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_field(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table, field)): Path<(String, String, String)>,
) -> ApiResult<axum::Json<FieldOut>> {
    let schema = state
        .store()
        .tenant(auth.principal.org_id)
        .table_schema(&app, &table)
        .await?;
    let field = find_field(&schema, &field)?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok(axum::Json(field_out(field, &keys)))
}

pub(crate) fn find_field<'a>(schema: &'a TableSchema, reference: &str) -> ApiResult<&'a Field> {
    schema
        .field_by_key(reference)
        .or_else(|| reference.parse().ok().and_then(|id| schema.field(id)))
        .ok_or_else(|| ApiError::not_found("field"))
}

/// Rename, retype, reorder or reconfigure a field. A type change converts the stored values.
#[utoipa::path(patch, path = "/api/v1/apps/{app}/tables/{table}/fields/{field}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("field" = String, Path, description = "Field id or key")), request_body = FieldUpdate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, body = FieldChanged), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_field(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table, field)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<FieldUpdate>,
) -> ApiResult<axum::Json<FieldChanged>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let field = find_field(&schema, &field)?.clone();
    let patch = crate::routes::field_check::field_patch(&field, body)?;
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let change = tenant
        .update_field(&auth.write_context(), &schema, field.id, patch, &parse)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok(axum::Json(FieldChanged {
        field: field_out(&change.field, &keys),
        cleared_values: change.cleared_values,
    }))
}

/// The kind a field changes to: options merge into the current ones when the type stays.
pub(crate) fn new_kind(
    field: &Field,
    new_type: Option<FieldType>,
    options: Option<Map<String, Value>>,
) -> ApiResult<FieldKind> {
    let field_type = new_type.unwrap_or(field.field_type());
    if field_type == FieldType::Link && field.field_type() == FieldType::Link {
        let options = options.unwrap_or_default();
        if let Some(name) = options.keys().find(|name| name.as_str() != "multiple") {
            return Err(ApiError::invalid_request(format!(
                "a link field's only changeable option is multiple, not {name}"
            ))
            .with_details(vec![
                FieldError::new(
                    format!("options.{name}"),
                    DetailCode::UnknownOption,
                    "unknown option for a link change",
                )
                .with("allowed", vec!["multiple"]),
            ]));
        }
        let multiple = options
            .get("multiple")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        return Ok(FieldKind::Link {
            table: LinkTarget::Named(String::new()),
            multiple,
            inverse: None,
        });
    }
    let merged = if new_type.is_none_or(|new_type| new_type == field.field_type()) {
        let mut merged = match field.kind.options_json(&tenon_model::apps::NoKeys) {
            Value::Object(current) => current,
            _ => Map::new(),
        };
        merged.extend(options.unwrap_or_default());
        merged
    } else {
        options.unwrap_or_default()
    };
    parse_kind(field_type, &merged, "options").map_err(spec_error)
}

/// Delete a field and its values (a link with its inverse field).
#[utoipa::path(delete, path = "/api/v1/apps/{app}/tables/{table}/fields/{field}", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("field" = String, Path, description = "Field id or key")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_field(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table, field)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let field = find_field(&schema, &field)?.id;
    tenant
        .delete_field(&auth.write_context(), &schema, field)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
