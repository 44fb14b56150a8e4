//! Signed per-record links: made and revoked by members (`…/records/{id}/share`, `…/records/{id}/shares`),
//! opened without a credential by whoever holds the token (`/api/v1/shares/{token}`; the page is `/s/{token}`
//! in `tenon-web`). The shared checks live in [`crate::routes::share_links`].
//!
//! Making a link needs what the link gives: the maker must read the record and every chosen field (and,
//! for an edit link, update the record and write the fields). The token is shown once; only its digest
//! is kept.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenon_model::apps::TableSchema;
use tenon_model::apps::permissions::RecordAction;
use tenon_model::{DetailCode, FieldError, FieldId, RecordId, ShareId};
use tenon_store::{NewShare, Share, ShareMode, StoreError};
use utoipa::ToSchema;

use crate::auth::{Authed, Authenticated, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, path_id};
use crate::routes::share_links;
use crate::service::access::{Access, member_of};
use crate::state::AppState;

/// A link to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareCreate {
    /// The fields the link shows (keys, ids or names), in the order it shows them.
    pub fields: Vec<String>,
    /// `read` (the fields read-only) or `edit` (a form changing them).
    pub mode: String,
    /// Days until the link expires: 1 to 365, 30 when absent.
    pub expires_in_days: Option<i64>,
}

/// A link made: the token is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareCreated {
    /// The link's id (to revoke it).
    pub id: String,
    /// The page that opens the record: `<origin>/s/<token>`.
    pub url: String,
    /// The link's secret; `GET /api/v1/shares/{token}` answers the record's fields.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub mode: String,
    /// The keys of the fields the link shows.
    pub fields: Vec<String>,
}

/// A link as its record's list shows it (never the token).
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareOut {
    pub id: String,
    pub mode: String,
    pub fields: Vec<String>,
    /// The member who made it (`null`: an organization token).
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// How often it was opened or used to edit.
    pub uses: i64,
    /// `active`, `revoked` or `expired`.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SharesOut {
    pub items: Vec<ShareOut>,
}

/// An edit through a link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareEdit {
    /// The new values, by field key: only the link's editable fields.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// `http(s)://host` of the request (the scheme from `X-Forwarded-Proto` behind a proxy).
pub fn request_origin(headers: &HeaderMap) -> String {
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

fn share_out(schema: &TableSchema, share: &Share, now: DateTime<Utc>) -> ShareOut {
    ShareOut {
        id: share.id.to_string(),
        mode: share.mode.as_str().to_owned(),
        fields: keys(schema, &share.fields),
        created_by: share.created_by.map(|id| id.to_string()),
        created_at: share.created_at,
        expires_at: share.expires_at,
        revoked_at: share.revoked_at,
        last_used_at: share.last_used_at,
        uses: share.uses,
        status: share.gone_at(now).unwrap_or("active").to_owned(),
    }
}

fn keys(schema: &TableSchema, fields: &[FieldId]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|id| schema.field(*id))
        .map(|field| field.key.to_string())
        .collect()
}

/// The read check of the record for the caller (403 `action_forbidden` or `row_forbidden`, 404 when
/// there is no such record); answers the caller's access.
async fn readable(
    state: &AppState,
    auth: &Authenticated,
    schema: &TableSchema,
    id: RecordId,
) -> ApiResult<Access> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let access = Access::load(&tenant, &auth.principal.actor, schema).await?;
    access.require(RecordAction::Read)?;
    tenant.record(schema, id).await?;
    crate::service::access::readable_record(state, &tenant, auth, schema, id).await?;
    Ok(access)
}

/// Checks a link request against the table and the caller's access: the fields by id, in order.
async fn checked_fields(
    state: &AppState,
    auth: &Authenticated,
    schema: &TableSchema,
    id: RecordId,
    body: &ShareCreate,
    mode: ShareMode,
) -> ApiResult<Vec<FieldId>> {
    let mut fields: Vec<FieldId> = Vec::new();
    let mut errors = Vec::new();
    if body.fields.is_empty() {
        errors.push(
            FieldError::new("fields", DetailCode::TooFew, "name at least one field").with("min", 1),
        );
    }
    for (index, reference) in body.fields.iter().enumerate() {
        match schema.resolve_field(reference) {
            None => errors.push(FieldError::new(
                format!("fields[{index}]"),
                DetailCode::UnknownField,
                format!("no field \"{reference}\""),
            )),
            Some(field) if fields.contains(&field.id) => errors.push(FieldError::new(
                format!("fields[{index}]"),
                DetailCode::Duplicate,
                "is given more than once",
            )),
            Some(field)
                if mode == ShareMode::Edit && !share_links::editable_type(field.field_type()) =>
            {
                errors.push(FieldError::new(
                    format!("fields[{index}]"),
                    DetailCode::NotAllowed,
                    format!(
                        "a {} field cannot be changed through a link; share it read-only",
                        field.field_type().as_str()
                    ),
                ));
            }
            Some(field) => fields.push(field.id),
        }
    }
    if !errors.is_empty() {
        return Err(tenon_model::Invalid(errors).into());
    }
    let access = readable(state, auth, schema, id).await?;
    access.require_visible(schema, fields.iter().copied())?;
    if mode == ShareMode::Edit {
        let tenant = state.store().tenant(auth.principal.org_id);
        let context = crate::service::records::filter_context(state, &tenant.organization().await?);
        let guard = access.guard(RecordAction::Update, schema, &context)?;
        if let Some(rule) = guard.before
            && tenant
                .records_within(
                    schema,
                    &[id],
                    Some(&rule),
                    tenon_store::MissingRecord::Within,
                )
                .await?
                .is_empty()
        {
            return Err(StoreError::RowForbidden {
                record: id.to_string(),
            }
            .into());
        }
        let cells: Vec<(FieldId, ())> = fields.iter().map(|field| (*field, ())).collect();
        access.require_writable(schema, cells.iter().map(|(field, unit)| (field, unit)))?;
    }
    Ok(fields)
}

/// Make a signed link to one record's chosen fields: read-only, or an edit form for those fields. The
/// maker must be allowed what the link allows (read the record and the fields; for `edit`, update them).
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/records/{id}/share", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id")),
    request_body = ShareCreate,
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 201, body = ShareCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The record has 100 live links", body = ErrorBody),
        (status = 422, description = "An unknown or repeated field, a field an edit link cannot change, a bad mode or lifetime", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "The maker may not read (or, for `edit`, update) the record or a field", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_share(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ShareCreate>,
) -> ApiResult<Response> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    let mode = ShareMode::parse(&body.mode).ok_or_else(|| {
        ApiError::validation(tenon_model::Invalid::from(
            tenon_model::Reason::not_one_of(&["read", "edit"], "must be read or edit").at("mode"),
        ))
    })?;
    let expires_at = share_links::expiry(state.store().now(), body.expires_in_days)
        .map_err(|error| ApiError::validation(tenon_model::Invalid::from(error)))?;
    let fields = checked_fields(&state, &auth, &schema, id, &body, mode).await?;
    let secret = tenon_auth::mint(tenon_auth::SecretKind::Share);
    let share = tenant
        .create_share(
            &auth.write_context(),
            NewShare {
                table_id: schema.table.id,
                record_id: id,
                mode,
                fields,
                created_by: member_of(&auth.principal.actor),
                expires_at,
                digest: secret.digest.0,
            },
        )
        .await?;
    let created = ShareCreated {
        id: share.id.to_string(),
        url: format!("{}/s/{}", request_origin(&headers), secret.plaintext),
        token: secret.plaintext,
        expires_at: share.expires_at,
        mode: share.mode.as_str().to_owned(),
        fields: keys(&schema, &share.fields),
    };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// The links of a record, newest first (revoked and expired ones included; never their tokens).
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/records/{id}/shares", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id")),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, body = SharesOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_shares(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table, id)): Path<(String, String, String)>,
) -> ApiResult<axum::Json<SharesOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    readable(&state, &auth, &schema, id).await?;
    let now = state.store().now();
    let items = tenant
        .shares_of(id)
        .await?
        .iter()
        .filter(|share| share.table_id == schema.table.id)
        .map(|share| share_out(&schema, share, now))
        .collect();
    Ok(axum::Json(SharesOut { items }))
}

/// Revoke a link: from now on it answers 410 `share_gone`. Revoking a revoked link is not an error.
#[utoipa::path(delete, path = "/api/v1/apps/{app}/tables/{table}/records/{id}/shares/{share}", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id"), ("share" = String, Path, description = "The link's id")),
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn revoke_share(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table, id, share)): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    let share: ShareId = path_id(&share, "share")?;
    readable(&state, &auth, &schema, id).await?;
    tenant
        .revoke_share(&auth.write_context(), id, share)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Open a link: the record's chosen fields, without a credential (the token is the credential). Each
/// address may open one link 60 times a minute (bursts of 120). Every use is audited (`share.used`).
#[utoipa::path(get, path = "/api/v1/shares/{token}", tag = "records",
    params(("token" = String, Path, description = "The link's token")),
    responses((status = 200, description = "`{\"id\", \"mode\", \"expires_at\", \"fields\": [{\"key\", \"name\", \"type\", \"editable\"}], \"record\": {\"id\", \"version\", \"created_at\", \"modified_at\", \"fields\"}}`", body = Object),
        (status = 404, body = ErrorBody), (status = 410, description = "`share_gone`: revoked, expired, or the record was deleted", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_shared(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let open = share_links::open(&state, &token, peer.ip()).await?;
    share_links::audit_read(&state, &open).await?;
    Ok(axum::Json(share_links::render(&state, &open).await?))
}

/// Change the record through an edit link: only the link's editable fields; without a credential. Each
/// address may edit through one link 10 times a minute (bursts of 20). Answers the link as `GET` does.
#[utoipa::path(patch, path = "/api/v1/shares/{token}", tag = "records",
    params(("token" = String, Path, description = "The link's token")),
    request_body = ShareEdit,
    responses((status = 200, description = "The link, as `GET` answers it, with the new values", body = Object),
        (status = 400, body = ErrorBody), (status = 403, description = "A read-only link, or the maker's row rule refuses the change", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn edit_shared(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<ShareEdit>,
) -> ApiResult<axum::Json<Value>> {
    let mut open = share_links::open(&state, &token, peer.ip()).await?;
    open.record = share_links::edit(&state, &open, &token, peer.ip(), &body.fields).await?;
    Ok(axum::Json(share_links::render(&state, &open).await?))
}
