//! `POST /api/v1/apps/{app}/tables/{table}/fields/{field}/check`: what a field change would do, without
//! doing it — for editors that warn before a type change empties values. The change (conversion
//! included) runs exactly as `PATCH …/fields/{field}` would run it, inside a transaction that is rolled
//! back: the answer's `cleared_values` is the number of values saving would empty, and nothing is written,
//! audited or announced.

use axum::extract::{Path, State};
use tenon_model::apps::{ApiKey, Field, FieldType};
use tenon_model::{Checker, Name};
use tenon_store::FieldPatch;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::apps::{FieldChanged, FieldUpdate, field_out, find_field, new_kind, table_keys};
use crate::routes::records_io::parse_context;
use crate::state::AppState;

/// The store's patch for a `PATCH …/fields/{field}` body (shared by the change and its check).
pub(crate) fn field_patch(field: &Field, body: FieldUpdate) -> ApiResult<FieldPatch> {
    let mut check = Checker::default();
    let name = body
        .name
        .and_then(|raw| check.field("name", Name::parse(&raw)));
    let key = body
        .key
        .and_then(|raw| check.field("key", ApiKey::parse(&raw)));
    let new_type = body
        .field_type
        .and_then(|raw| check.field("type", FieldType::parse(&raw)));
    check.finish()?;
    let kind = match (new_type, body.options) {
        (None, None) => None,
        (new_type, options) => Some(new_kind(field, new_type, options)?),
    };
    Ok(FieldPatch {
        name,
        key,
        kind,
        required: body.required,
        unique: body.unique,
        indexed: body.indexed,
        default: body.default,
        position: body.position,
    })
}

/// Check a field change without saving it: the field as it would be, and how many values it would empty.
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/fields/{field}/check", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("field" = String, Path, description = "Field id or key")),
    request_body = FieldUpdate,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, description = "What saving this change would do; nothing was saved", body = FieldChanged),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn check_field_change(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path((app, table, field)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<FieldUpdate>,
) -> ApiResult<axum::Json<FieldChanged>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let field = find_field(&schema, &field)?.clone();
    let patch = field_patch(&field, body)?;
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let change = tenant
        .preview_field_change(&auth.write_context(), &schema, field.id, patch, &parse)
        .await?;
    let keys = table_keys(&state, auth.principal.org_id, schema.app.id).await?;
    Ok(axum::Json(FieldChanged {
        field: field_out(&change.field, &keys),
        cleared_values: change.cleared_values,
    }))
}
