//! Request extractors that fail in the API's error shape: JSON bodies, query strings, path ids, pages.
//!
//! - Malformed JSON (a syntax error, trailing bytes) is `400 malformed_json`.
//! - JSON of the wrong shape (a wrong type, a missing or unknown field) is `422 validation_failed`, with the
//!   path of the offending field, e.g. `department_ids[1]`.
//! - A bad query parameter is `400 invalid_request` naming the parameter.
//! - A path id that is not an id of that kind is `404 not_found`: ids are opaque, so a malformed one simply
//!   names nothing.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tenon_model::{FieldError, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PageRequest};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// A JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(request.headers())?;
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may also be absent (empty), for actions such as `POST …/revoke` that take `{}` or nothing.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_content_type = request.headers().contains_key(header::CONTENT_TYPE);
        let headers = request.headers().clone();
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        if has_content_type {
            require_json_content_type(&headers)?;
        }
        parse_json(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> ApiResult<Bytes> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    rejection.body_text(),
                )
            } else {
                ApiError::invalid_request(format!(
                    "cannot read the request body: {}",
                    rejection.body_text()
                ))
            }
        })
}

/// Refuses a body that is not declared as JSON (415).
pub fn require_json(headers: &axum::http::HeaderMap) -> ApiResult<()> {
    require_json_content_type(headers)
}

fn require_json_content_type(headers: &axum::http::HeaderMap) -> ApiResult<()> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ))
    }
}

/// Parses a JSON document into `T`, with field paths in errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match parsed {
        Ok(value) => value,
        Err(error) => return Err(json_error(&error)),
    };
    deserializer.end().map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    Ok(value)
}

fn json_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if !inner.is_data() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {inner}"),
        );
    }
    let path = error.path().to_string();
    let message = strip_location(&inner.to_string());
    let field = field_path(&path, &message);
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        format!("{field}: {message}"),
    )
    .with_details(vec![FieldError::new(field, message)])
}

/// serde_json appends " at line 1 column 17"; the field path says where more usefully.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// serde reports a missing or unknown field at its parent; point at the field itself.
fn field_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(name) = rest.split('`').next()
        {
            return if parent.is_empty() || parent.ends_with(name) {
                if parent.is_empty() {
                    name.to_owned()
                } else {
                    parent.to_owned()
                }
            } else {
                format!("{parent}.{name}")
            };
        }
    }
    if parent.is_empty() {
        "body".to_owned()
    } else {
        parent.to_owned()
    }
}

/// A query string.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let field = error.path().to_string();
                let reason = error.inner().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                ApiError::invalid_request(format!("query parameter {field}: {reason}"))
                    .with_details(vec![FieldError::new(field, reason)])
            })
    }
}

/// Parses a path segment as an id of kind `T`; anything else names no object.
pub fn path_id<T: FromStr>(raw: &str, what: &str) -> ApiResult<T> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// `page_size` and `cursor`, shared by every list route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 1000 (default 100).
    pub page_size: Option<u32>,
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn to_request<K: From<Uuid>>(&self) -> ApiResult<PageRequest<K>> {
        let after = self
            .cursor
            .as_deref()
            .filter(|cursor| !cursor.is_empty())
            .map(decode_cursor)
            .transpose()?;
        page_request(self.page_size, after.map(K::from))
    }
}

/// A page of `page_size` (default [`PAGE_SIZE_DEFAULT`]) after `after`: the one check of a list's page
/// size, for every list route.
pub fn page_request<K>(page_size: Option<u32>, after: Option<K>) -> ApiResult<PageRequest<K>> {
    PageRequest::new(page_size.unwrap_or(PAGE_SIZE_DEFAULT), after).ok_or_else(|| {
        let reason = format!("must be between 1 and {PAGE_SIZE_MAX}");
        ApiError::invalid_request(format!("query parameter page_size: {reason}"))
            .with_details(vec![FieldError::new("page_size", reason)])
    })
}

fn decode_cursor(cursor: &str) -> ApiResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::invalid_request("query parameter cursor: not a cursor returned by this list")
                .with_details(vec![FieldError::new(
                    "cursor",
                    "not a cursor returned by this list",
                )])
        })
}

pub fn encode_cursor(key: &Uuid) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// A page of a list: `{"items": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn from_page<U, K: AsRef<Uuid>>(
        page: tenon_model::Page<U, K>,
        f: impl FnMut(U) -> T,
    ) -> Self {
        Paged {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page
                .next_after
                .as_ref()
                .map(|key| encode_cursor(key.as_ref())),
        }
    }
}

/// The only body an action route accepts besides none: `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}
