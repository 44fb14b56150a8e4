//! `/api/v1/apps/{app}/permissions`: an app's roles, grants, row rules and field rules (issue #19), and
//! `/api/v1/apps/{app}/tables/{table}/access?member=`: what one member may do with a table, and why.
//!
//! Only owners and admins read or change the document. An app without one keeps today's behaviour: every
//! member reads and writes every record.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tenon_model::apps::ApiKey;
use tenon_model::apps::permissions::{
    CheckContext, PermissionsDoc, RecordAction, Rows, TableAccess,
};
use tenon_model::{MemberId, Name, Role, Scope};
use tenon_store::Tenant;
use utoipa::IntoParams;

use crate::auth::{Authed, Authenticated, insufficient_scope, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::service::access::member_of;
use crate::state::AppState;

/// Owners and admins only: a plain member (or a token acting for one) gets 403 `insufficient_scope`.
async fn require_manager(tenant: &Tenant<'_>, auth: &Authenticated) -> ApiResult<()> {
    if let Some(member) = member_of(&auth.principal.actor) {
        let subject = tenant.member(member).await?;
        if subject.role == Role::Member {
            return Err(insufficient_scope(
                Scope::AppsWrite,
                "only the organization's owners and admins manage an app's permissions".to_owned(),
            ));
        }
    }
    Ok(())
}

/// The app's permissions document.
#[utoipa::path(get, path = "/api/v1/apps/{app}/permissions", tag = "apps",
    params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, description = "`{\"roles\": [{\"key\", \"name\", \"who\", \"grants\"}]}`", body = Object),
        (status = 404, description = "No such app, or the app has no permissions (every member reads and writes)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_permissions(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(app): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    require_manager(&tenant, &auth).await?;
    let document = tenant
        .app_permissions(app.id)
        .await?
        .ok_or_else(|| ApiError::not_found("permissions"))?;
    Ok(axum::Json(document))
}

/// Replace the app's permissions. Every table, field, role, department and member named must exist and
/// every row rule must check (422 naming it, with the rule's span); nothing is stored otherwise. Audited
/// as a change of the app (`schema.changed`).
#[utoipa::path(put, path = "/api/v1/apps/{app}/permissions", tag = "apps",
    params(("app" = String, Path, description = "App id or key")),
    request_body(content = Object, description = "`{\"roles\": [{\"key\", \"name\", \"who\": {\"everyone\"?, \"members\", \"departments\", \"roles\", \"sub_departments\"?}, \"grants\": [{\"table\", \"actions\": {\"read\"|\"create\"|\"update\"|\"delete\"|\"export\": true | \"row rule\"}, \"fields\": {\"hidden\", \"read_only\"}}]}]}`"),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, description = "The document as stored", body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "An unknown key, table, field, role, department or member, or a row rule that does not check", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn put_permissions(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    require_manager(&tenant, &auth).await?;
    let doc = PermissionsDoc::parse(&body).map_err(ApiError::validation)?;
    Ok(axum::Json(
        store_permissions(&tenant, &auth, &app, &doc).await?,
    ))
}

/// The custom roles (`who.roles`) a definition's permissions name that the organization does not have:
/// (key, name). An import creates them without members (a template cannot know who holds them); the name
/// is the app role's name when it names one custom role, else the key.
pub async fn missing_roles(
    tenant: &Tenant<'_>,
    doc: &PermissionsDoc,
) -> ApiResult<Vec<(ApiKey, Name)>> {
    let existing: HashSet<String> = tenant
        .list_roles()
        .await?
        .into_iter()
        .map(|role| role.key)
        .collect();
    let mut missing: Vec<(ApiKey, Name)> = Vec::new();
    for role in &doc.roles {
        for custom in &role.who.roles {
            let Ok(key) = ApiKey::parse(custom) else {
                continue;
            };
            if existing.contains(custom) || missing.iter().any(|(own, _)| own == &key) {
                continue;
            }
            let name = if role.who.roles.len() == 1 {
                Name::parse(&role.name).ok()
            } else {
                None
            };
            let Some(name) = name.or_else(|| Name::parse(custom).ok()) else {
                continue;
            };
            missing.push((key, name));
        }
    }
    Ok(missing)
}

/// Checks `doc` against the app and the directory and stores it (audited); answers it as stored.
pub async fn store_permissions(
    tenant: &Tenant<'_>,
    auth: &Authenticated,
    app: &tenon_model::apps::App,
    doc: &PermissionsDoc,
) -> ApiResult<Value> {
    let mut tables = Vec::new();
    for table in tenant.list_tables(app.id).await? {
        tables.push(tenant.table_schema_by_id(table.id).await?);
    }
    let roles: Vec<(String, String)> = tenant
        .list_roles()
        .await?
        .into_iter()
        .map(|role| (role.key, role.name))
        .collect();
    let departments: HashSet<_> = tenant.department_parents().await?.into_keys().collect();
    let mut members = HashSet::new();
    for raw in doc.roles.iter().flat_map(|role| &role.who.members) {
        if let Ok(id) = raw.parse::<MemberId>()
            && tenant.member(id).await.is_ok()
        {
            members.insert(id);
        }
    }
    doc.check(&CheckContext {
        tables: &tables,
        roles: &roles,
        departments: &departments,
        members: &members,
    })
    .map_err(ApiError::validation)?;
    let stored = doc.to_json();
    tenant
        .set_app_permissions(&auth.write_context(), app, Some(&stored))
        .await?;
    Ok(stored)
}

/// Remove the app's permissions: every member reads and writes again. Audited.
#[utoipa::path(delete, path = "/api/v1/apps/{app}/permissions", tag = "apps",
    params(("app" = String, Path, description = "App id or key")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 204, description = "Removed (also when there were none)"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_permissions(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(app): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let app = tenant.app(&app).await?;
    require_manager(&tenant, &auth).await?;
    tenant
        .set_app_permissions(&auth.write_context(), &app, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessParams {
    /// The member whose access is explained (required).
    pub member: Option<String>,
}

/// What a member may do with a table and why: per action, `false`, `true` (every row) or the row rules
/// that decide, with the grants they come from; the hidden and read-only fields.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/access", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), AccessParams),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, description = "`{\"member\", \"limited\", \"reason\", \"actions\": {\"read\": false | true | {\"rules\": [...]}, …}, \"hidden\", \"read_only\", \"grants\"}`", body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn table_access(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<AccessParams>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    require_manager(&tenant, &auth).await?;
    let member: MemberId = path_id(&required_member(&params)?, "member")?;
    Ok(axum::Json(
        explain(&state, &tenant, &schema, member, None).await?,
    ))
}

/// What a member may do with one record and why: as the table's access, with `actions.<action>.allowed`
/// saying whether this record satisfies the action's rules.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/records/{id}/access", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id"), AccessParams),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, description = "As the table's access; each action `{\"allowed\": bool, \"rules\"?: [...]}`", body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn record_access(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table, id)): Path<(String, String, String)>,
    ApiQuery(params): ApiQuery<AccessParams>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    require_manager(&tenant, &auth).await?;
    let member: MemberId = path_id(&required_member(&params)?, "member")?;
    let id: tenon_model::RecordId = path_id(&id, "record")?;
    tenant.record(&schema, id).await?;
    Ok(axum::Json(
        explain(&state, &tenant, &schema, member, Some(id)).await?,
    ))
}

fn required_member(params: &AccessParams) -> ApiResult<String> {
    params.member.clone().ok_or_else(|| {
        ApiError::bad_query(tenon_model::FieldError::new(
            "member",
            tenon_model::DetailCode::Required,
            "is required",
        ))
    })
}

async fn explain(
    state: &AppState,
    tenant: &Tenant<'_>,
    schema: &tenon_model::apps::TableSchema,
    member: MemberId,
    record: Option<tenon_model::RecordId>,
) -> ApiResult<Value> {
    let subject = tenant.permission_subject(member).await?;
    let document = tenant.app_permissions(schema.app.id).await?;
    let (limited, reason) = match (&document, subject.role) {
        (None, _) => (
            false,
            "the app has no permissions: every member reads and writes",
        ),
        (Some(_), Role::Owner | Role::Admin) => (false, "owners and admins keep full access"),
        (Some(_), Role::Member) => (true, "the grants of the app roles that name the member"),
    };
    let full = match &document {
        Some(document) if limited => {
            let linked = tenant.looked_up_schemas(schema).await?;
            crate::service::access::Access::of(document, schema, &linked, subject.person)
        }
        _ => crate::service::access::Access::full(),
    };
    let context = crate::service::records::filter_context(state, &tenant.organization().await?);
    let mut allowed = serde_json::Map::new();
    if let Some(id) = record {
        for action in RecordAction::ALL {
            let rows = if action == RecordAction::Export {
                RecordAction::Read
            } else {
                action
            };
            let within = match full.filter(rows, schema, &context)? {
                _ if !full.table.rows(action).granted() => false,
                None => true,
                Some(rule) => !tenant
                    .records_within(
                        schema,
                        &[id],
                        Some(&rule),
                        tenon_store::MissingRecord::Within,
                    )
                    .await?
                    .is_empty(),
            };
            allowed.insert(action.as_str().to_owned(), Value::Bool(within));
        }
    }
    let access: &TableAccess = &full.table;
    let key = |id: &tenon_model::FieldId| {
        schema
            .field(*id)
            .map_or_else(|| id.to_string(), |field| field.key.as_str().to_owned())
    };
    let actions: serde_json::Map<String, Value> = RecordAction::ALL
        .into_iter()
        .map(|action| {
            let mut value = match access.rows(action) {
                Rows::None => Value::Bool(false),
                Rows::All => Value::Bool(true),
                Rows::Rules(rules) => {
                    json!({"rules": rules.iter().map(|rule| rule.text()).collect::<Vec<_>>()})
                }
            };
            if let Some(within) = allowed.get(action.as_str()) {
                value = match value {
                    Value::Object(mut map) => {
                        map.insert("allowed".to_owned(), within.clone());
                        Value::Object(map)
                    }
                    _ => json!({ "allowed": within }),
                };
            }
            (action.as_str().to_owned(), value)
        })
        .collect();
    let grants: Vec<Value> = access
        .sources
        .iter()
        .map(|source| json!({"role": source.role_key, "role_name": source.role_name, "table": source.grant.table}))
        .collect();
    Ok(json!({
        "member": member.to_string(),
        "limited": limited,
        "reason": reason,
        "actions": actions,
        "hidden": access.hidden.iter().map(key).collect::<Vec<_>>(),
        "read_only": access.read_only.iter().map(key).collect::<Vec<_>>(),
        "grants": grants,
    }))
}
