//! Self-service lookup on a published grid (`"public": {"enabled": true, "as_role": …, "lookup":
//! {"number": <field>, "phone": <field>}}`): an outsider finds their own record by its number and the last
//! four digits of its phone, and sees only the view's fields the role does not hide. The view then lists
//! nothing; `POST /api/v1/public-views/{slug}/lookup` (JSON) and the page `/v/{slug}` answer one record.
//!
//! No enumeration: "no such number", "wrong digits", "more than one record with that number" and "a row
//! the role may not read" all answer the same 404 `not_found` (`record`), and every attempt counts
//! against a limit per address and a limit per number (the number as the store compares it, whether or
//! not a record has it), so guessing the four digits of one record is as slow as guessing them of none.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tenon_model::apps::FieldType;
use tenon_model::apps::permissions::RecordAction;
use tenon_model::{DetailCode, FieldError, PageRequest};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::public_views::{self, PublicView};
use crate::routes::records_io::KeyBy;
use crate::service::access::both;
use crate::service::records::{ListRequest, filter_context, list, record_query};
use crate::state::AppState;

/// Lookups one address may make on one view.
pub const LOOKUP_ADDRESS_LIMIT: &str = "5/min,burst=10";

/// Lookups of one number on one view, from any address: ten tries of the last four digits an hour.
pub const LOOKUP_NUMBER_LIMIT: &str = "10/h,burst=10";

/// A lookup: the record's number and the last four digits of its phone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub number: String,
    /// Exactly four digits.
    pub phone_last4: String,
}

fn limited(state: &AppState, key: &str, limit: &str) -> ApiResult<()> {
    crate::rate_limit::visitor_limit(state.limiter(), key, limit, "lookups")
}

/// The one answer for every way a lookup can miss.
fn no_match() -> ApiError {
    ApiError::not_found("record")
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Finds the visitor's record: the rendered record with only the view's visible fields, or 404 however
/// it missed. 422 when the number is empty or the digits are not four; 429 over a limit.
pub async fn lookup(
    state: &AppState,
    public: &PublicView,
    number: &str,
    phone_last4: &str,
    peer: IpAddr,
) -> ApiResult<Value> {
    let Some((number_ref, phone_ref)) = public.view.public_lookup() else {
        return Err(ApiError::not_found("lookup"));
    };
    let number = number.trim();
    let last4 = phone_last4.trim();
    let mut problems = Vec::new();
    if number.is_empty() {
        problems.push(FieldError::new(
            "number",
            DetailCode::Required,
            "is required",
        ));
    }
    if last4.len() != 4 || digits(last4) != last4 {
        problems.push(FieldError::new(
            "phone_last4",
            DetailCode::InvalidValue,
            "must be the last four digits of the phone number",
        ));
    }
    if !problems.is_empty() {
        return Err(tenon_model::Invalid(problems).into());
    }
    limited(
        state,
        &format!("lookup:{}:{peer}", public.slug),
        LOOKUP_ADDRESS_LIMIT,
    )?;
    let (Some(number_field), Some(phone_field)) = (
        public.schema.resolve_field(number_ref),
        public.schema.resolve_field(phone_ref),
    ) else {
        return Err(no_match());
    };
    // The number as the store compares it, so `1001`, `01001` and `1001.0` share one limit.
    let value = match number_field.field_type() {
        FieldType::Number | FieldType::Autonumber => match number.parse::<f64>() {
            Ok(parsed) if parsed.is_finite() && parsed.fract() == 0.0 && parsed.abs() < 9.0e15 => {
                #[allow(clippy::cast_possible_truncation)]
                let whole = parsed as i64;
                json!(whole)
            }
            Ok(parsed) if parsed.is_finite() => json!(parsed),
            _ => return Err(no_match()),
        },
        _ => json!(number),
    };
    limited(
        state,
        &format!("lookup-number:{}:{value}", public.slug),
        LOOKUP_NUMBER_LIMIT,
    )?;
    if !public.access().table.rows(RecordAction::Read).granted() {
        return Err(no_match());
    }
    let filter = json!({"field": number_field.key.as_str(), "op": "eq", "value": value});
    let context = filter_context(state, &public.organization);
    let mut keys: Vec<&str> = public
        .fields
        .iter()
        .map(|field| field.key.as_str())
        .collect();
    keys.push(phone_field.key.as_str());
    let request = ListRequest {
        filter: Some(&filter),
        sort: "",
        fields: Some(keys),
        formula: None,
        // Two: one record answers; two with the same number answer nobody.
        page: PageRequest::new(2, None).ok_or_else(no_match)?,
        offset: 0,
        count: false,
    };
    let mut query = record_query(&public.schema, request, &context).map_err(|_| no_match())?;
    query.filter = both(
        query.filter.take(),
        public
            .access()
            .filter(RecordAction::Read, &public.schema, &context)?,
    );
    let page = list(
        state,
        public.organization.id,
        &public.schema,
        &query,
        KeyBy::Key,
        &[],
    )
    .await?;
    let [found] = page.items.as_slice() else {
        return Err(no_match());
    };
    let stored = found["fields"][phone_field.key.as_str()]
        .as_str()
        .map(digits)
        .unwrap_or_default();
    if stored.len() < 4 || !stored.ends_with(last4) {
        return Err(no_match());
    }
    let mut record = found.clone();
    if !public.fields.iter().any(|field| field.id == phone_field.id)
        && let Some(fields) = record.get_mut("fields").and_then(Value::as_object_mut)
    {
        fields.remove(phone_field.key.as_str());
    }
    Ok(record)
}

/// Find one's own record on a published view with a lookup: by its number and the last four digits of
/// its phone; without a credential. Every miss answers the same 404. Each address may look up 5 times
/// a minute (bursts of 10) and each number 10 times an hour.
#[utoipa::path(post, path = "/api/v1/public-views/{slug}/lookup", tag = "records",
    params(("slug" = String, Path, description = "The view link's slug")),
    request_body = LookupRequest,
    responses((status = 200, description = "`{\"record\": {\"id\", \"version\", …, \"fields\"}}` with only the view's visible fields", body = Object),
        (status = 400, body = ErrorBody), (status = 404, description = "No record answers this number and these digits (the same answer however it missed)", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn lookup_record(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<LookupRequest>,
) -> ApiResult<axum::Json<Value>> {
    let public = public_views::load(&state, &slug, peer.ip()).await?;
    let record = lookup(&state, &public, &body.number, &body.phone_last4, peer.ip()).await?;
    Ok(axum::Json(json!({ "record": record })))
}
