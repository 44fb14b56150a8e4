//! `GET /api/v1/apps/{app}/tables/{table}/records/{id}/history`: who changed a record, when, and each
//! field's value before and after — from the audit log, readable with `records:read` (the audit log
//! itself is for admins).

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tenon_model::{RecordId, TargetKind};
use tenon_store::AuditFilter;
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::path_id;
use crate::extract::{ApiQuery, PageParams, Paged};
use crate::routes::audit::AuditActor;
use crate::state::AppState;

/// One change of a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    /// Who made the change.
    pub actor: AuditActor,
    /// `created`, `updated` or `deleted`.
    #[schema(example = "updated")]
    pub action: String,
    /// The fields the change set, in the table's order: for a creation every field given, for an update
    /// the fields written (computed fields the change moved included when the store records them).
    pub changes: Vec<FieldChange>,
    pub request_id: Option<String>,
}

/// One field's value before and after a change (`null`: empty).
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChange {
    /// The field's key.
    pub field: String,
    /// The field's current name (`null` when the field has been deleted since).
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Value,
    #[schema(value_type = Option<Object>)]
    pub after: Value,
}

/// A record's history, newest first.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/records/{id}/history", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id"), PageParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, body = Paged<HistoryEntry>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn record_history(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table, id)): Path<(String, String, String)>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<HistoryEntry>>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    let hidden =
        crate::service::access::readable_record(&state, &tenant, &auth, &schema, id).await?;
    let filter = AuditFilter {
        target_kind: Some(TargetKind::Record),
        target_id: Some(id.to_string()),
        ..AuditFilter::default()
    };
    let entries = tenant.list_audit(&filter, page.to_request()?).await?;
    let table_id = schema.table.id.to_string();
    Ok(axum::Json(Paged::from_page(entries, |entry| {
        let fields = |side: &Option<Value>| {
            side.as_ref()
                .filter(|value| value["table_id"].as_str() == Some(table_id.as_str()))
                .and_then(|value| value["fields"].as_object().cloned())
                .unwrap_or_default()
        };
        let before = fields(&entry.before);
        let after = fields(&entry.after);
        let mut keys: Vec<String> = before.keys().chain(after.keys()).cloned().collect();
        // The table's order; fields deleted since come last.
        keys.sort_by_key(|key| {
            schema
                .fields
                .iter()
                .position(|field| field.key.as_str() == key)
                .unwrap_or(usize::MAX)
        });
        keys.dedup();
        // Hidden fields' changes are left out.
        keys.retain(|key| !hidden.iter().any(|hidden| hidden == key));
        let changes = keys
            .into_iter()
            .map(|key| FieldChange {
                name: schema
                    .field_by_key(&key)
                    .map(|field| field.name.to_string()),
                before: before.get(&key).cloned().unwrap_or(Value::Null),
                after: after.get(&key).cloned().unwrap_or(Value::Null),
                field: key,
            })
            .filter(|change| change.before != change.after)
            .collect();
        HistoryEntry {
            id: entry.id.to_string(),
            at: entry.at,
            actor: AuditActor {
                kind: entry.actor_kind,
                id: entry.actor_id,
                name: entry.actor_name,
            },
            action: entry
                .action
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned(),
            changes,
            request_id: entry.request_id,
        }
    })))
}
