//! Records over HTTP: the opaque list cursor, `key_by`, the organization context values are parsed in,
//! and rendering (which lives in `tenon-exchange`, shared with table exports).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tenon_model::OrgId;
use tenon_model::apps::ParseContext;
use tenon_store::Cursor;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use tenon_exchange::render::{ExpandSight, KeyBy, RenderContext};

/// Parses `key_by`, refusing anything but key, id and name.
pub fn key_by(raw: Option<&str>) -> ApiResult<KeyBy> {
    KeyBy::parse(raw).ok_or_else(|| {
        ApiError::invalid_request("key_by must be key, id or name").with_detail(
            tenon_model::Reason::not_one_of(&["key", "id", "name"], "must be key, id or name")
                .at("key_by"),
        )
    })
}

/// The organization's time zone, which values without an offset are read in.
pub async fn parse_context(state: &AppState, org: OrgId) -> ApiResult<ParseContext> {
    let organization = state.store().tenant(org).organization().await?;
    Ok(ParseContext {
        org_time_zone: organization.time_zone,
    })
}

pub fn encode_cursor(cursor: &Cursor) -> String {
    let json = json!({"v": cursor.values, "id": cursor.id.to_string()});
    URL_SAFE_NO_PAD.encode(json.to_string())
}

pub fn decode_cursor(raw: &str) -> ApiResult<Cursor> {
    let bad = crate::extract::cursor_error;
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let values = json
        .get("v")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(bad)?;
    let id = json
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(bad)?;
    Ok(Cursor { values, id })
}
