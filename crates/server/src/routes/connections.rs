//! `/api/v1/connections` (`admin`): the organization's stored credentials for outside systems, which flow
//! steps name by key (`connection: erp`). Secrets are write-only: encrypted at rest with the server's
//! secret key, never answered, never logged — an answer lists only which are set (`secret_names`).
//! Every change is audited (`connection.created|updated|deleted`) with `secret_names` only.
//! Reference: docs/flows.md (Connections).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_model::apps::ApiKey;
use tenon_model::{Checker, Name};
use tenon_store::connections::{Connection, ConnectionPatch, NewConnection};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionOut {
    #[schema(example = "erp")]
    pub key: String,
    pub name: String,
    /// `http`.
    pub kind: String,
    /// `{base_url, auth: none|bearer|basic|hmac, username}`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// The secrets that are set (their values are never answered).
    pub secret_names: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Connection> for ConnectionOut {
    fn from(c: Connection) -> Self {
        ConnectionOut {
            key: c.key,
            name: c.name,
            kind: c.kind,
            config: c.config,
            secret_names: c.secret_names,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionCreate {
    pub key: String,
    pub name: String,
    pub kind: String,
    #[schema(value_type = Object)]
    #[serde(default = "empty")]
    pub config: Value,
    /// By auth: `token` (bearer), `password` (basic), `key` (hmac).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

fn empty() -> Value {
    Value::Object(Default::default())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    pub name: Option<String>,
    /// Replaces the config.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Sets the secrets named (`null` removes one); others are kept.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    pub items: Vec<ConnectionOut>,
}

/// List the organization's connections, by key.
#[utoipa::path(get, path = "/api/v1/connections", tag = "flows",
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = ConnectionList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_connections(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
) -> ApiResult<axum::Json<ConnectionList>> {
    let items = state
        .store()
        .tenant(auth.principal.org_id)
        .list_connections()
        .await?;
    Ok(axum::Json(ConnectionList {
        items: items.into_iter().map(ConnectionOut::from).collect(),
    }))
}

/// Create a connection; its secrets are encrypted and never answered.
#[utoipa::path(post, path = "/api/v1/connections", tag = "flows", request_body = ConnectionCreate,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 201, body = ConnectionOut), (status = 400, body = ErrorBody),
        (status = 409, description = "A connection with this key exists", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_connection(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    ApiJson(body): ApiJson<ConnectionCreate>,
) -> ApiResult<(StatusCode, axum::Json<ConnectionOut>)> {
    let mut check = Checker::default();
    let key = check.field("key", ApiKey::parse(&body.key));
    let name = check.field("name", Name::parse(&body.name));
    let (Some(key), Some(name)) = (key, name) else {
        return Err(check.into_invalid().into());
    };
    let connection = state
        .store()
        .tenant(auth.principal.org_id)
        .create_connection(
            &auth.write_context(),
            NewConnection {
                key,
                name: name.as_str().to_owned(),
                kind: body.kind,
                config: body.config,
                secrets: body.secrets,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(connection.into())))
}

/// Get a connection (without its secrets).
#[utoipa::path(get, path = "/api/v1/connections/{key}", tag = "flows",
    params(("key" = String, Path, description = "Connection key")),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = ConnectionOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_connection(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<ConnectionOut>> {
    let connection = state
        .store()
        .tenant(auth.principal.org_id)
        .connection(&key)
        .await?;
    Ok(axum::Json(connection.into()))
}

/// Rename a connection, replace its config, or set or remove secrets.
#[utoipa::path(patch, path = "/api/v1/connections/{key}", tag = "flows",
    params(("key" = String, Path, description = "Connection key")), request_body = ConnectionUpdate,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = ConnectionOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_connection(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<ConnectionUpdate>,
) -> ApiResult<axum::Json<ConnectionOut>> {
    let mut check = Checker::default();
    let name = body
        .name
        .and_then(|raw| check.field("name", Name::parse(&raw)));
    check.finish()?;
    let connection = state
        .store()
        .tenant(auth.principal.org_id)
        .update_connection(
            &auth.write_context(),
            &key,
            ConnectionPatch {
                name: name.map(|n| n.as_str().to_owned()),
                config: body.config,
                secrets: body.secrets,
            },
        )
        .await?;
    Ok(axum::Json(connection.into()))
}

/// Delete a connection. Steps that name it fail until one with its key exists again.
#[utoipa::path(delete, path = "/api/v1/connections/{key}", tag = "flows",
    params(("key" = String, Path, description = "Connection key")),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_connection(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store()
        .tenant(auth.principal.org_id)
        .delete_connection(&auth.write_context(), &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
