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
use tenon_model::{DetailCode, ErrorCode};
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

/// The body limit in force for a request (set by the router next to axum's `DefaultBodyLimit`), so a
/// 413 can say what it is.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A file's bytes as a request body, in the document: a binary string.
pub struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for FileBytes {}

/// A raw request body (a file, a form), refused in the API's error shape when it is too large.
#[derive(Debug)]
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_body(request, state).await.map(ApiBytes)
    }
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> ApiResult<Bytes> {
    let limit = request
        .extensions()
        .get::<BodyLimit>()
        .map_or(crate::BODY_BYTES_MAX, |limit| limit.0);
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large(limit)
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
            ErrorCode::UnsupportedMediaType,
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
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    // Every JSON body of the API is an object. serde would also fill a struct from an array, field by
    // field in order (`[null, null]` as an empty patch): refuse that rather than guess.
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "body: the body must be a JSON object",
        )
        .with_detail(
            FieldError::new("body", DetailCode::WrongType, "must be a JSON object")
                .with("expected", "object"),
        ));
    }
    Ok(value)
}

/// [`parse_json`] of a body already read as a JSON object, without reading its text again: the same
/// errors (path, field, reason).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|error| json_error(&error))
}

fn json_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if !inner.is_data() {
        return ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {inner}"),
        );
    }
    let path = error.path().to_string();
    let message = strip_location(&inner.to_string());
    let field = field_path(&path, &message);
    let detail = classify(field, &message, message.clone());
    ApiError::new(
        ErrorCode::ValidationFailed,
        format!("{}: {message}", detail.field),
    )
    .with_detail(detail)
}

/// A serde message as a detail with a code: `missing field` is `required`, `unknown field` is
/// `unknown_field`, `unknown variant` is `not_one_of` (with the variants), a type mismatch is `wrong_type`.
/// `reason` is the English text to answer with.
fn classify(field: String, message: &str, reason: String) -> FieldError {
    let quoted = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    if message.starts_with("missing field `") {
        return FieldError::new(field, DetailCode::Required, reason);
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let allowed: Vec<String> = rest
            .split_once("expected")
            .map(|(_, known)| quoted(known))
            .unwrap_or_default();
        return FieldError::new(field, DetailCode::UnknownOption, reason).with("allowed", allowed);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let allowed: Vec<String> = rest
            .split_once("expected")
            .map(|(_, known)| quoted(known))
            .unwrap_or_default();
        return FieldError::new(field, DetailCode::NotOneOf, reason).with("allowed", allowed);
    }
    let expected = if message.contains("invalid digit")
        || message.contains("cannot parse integer")
        || message.contains("number too large")
        || message.contains("number too small")
        || message.contains("expected u")
        || message.contains("expected i")
        || message.contains("integer")
    {
        Some("integer")
    } else if message.contains("`true` or `false`") || message.contains("a boolean") {
        Some("boolean")
    } else if message.contains("expected a string")
        || message.contains("expected a borrowed string")
    {
        Some("string")
    } else if message.contains("expected a sequence") {
        Some("array")
    } else if message.contains("expected a map") || message.contains("expected struct") {
        Some("object")
    } else if message.contains("expected f64") || message.contains("a number") {
        Some("number")
    } else {
        None
    };
    match expected {
        Some(expected) if message.starts_with("invalid type") || expected != "string" => {
            FieldError::new(field, DetailCode::WrongType, reason).with("expected", expected)
        }
        _ => FieldError::new(field, DetailCode::InvalidValue, reason),
    }
}

/// 413 with the limit in bytes.
pub fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is larger than the limit of {limit} bytes"),
    )
    .with("limit", limit)
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
            .map_err(|error| query_error(&error.path().to_string(), &error.inner().to_string()))
    }
}

/// A query string serde refused, in Tenon's words: the parameter, a code, and what is wrong with it.
pub fn query_error(path: &str, message: &str) -> ApiError {
    let field = field_path(path, message);
    let field = if field == "body" {
        "query".to_owned()
    } else {
        field
    };
    let reason = if message.starts_with("missing field `") {
        "is required".to_owned()
    } else if message.contains("invalid digit")
        || message.contains("cannot parse integer")
        || message.contains("number too large")
    {
        "must be a whole number".to_owned()
    } else if message.contains("`true` or `false`") {
        "must be true or false".to_owned()
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let given = rest.split('`').next().unwrap_or("");
        let allowed = rest.split_once("expected").map_or("", |(_, known)| known);
        format!(
            "\"{given}\" is not allowed; use {}",
            allowed.replace('`', "").replace("one of ", "")
        )
    } else {
        message.to_owned()
    };
    ApiError::bad_query(classify(field, message, reason))
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
        ApiError::bad_query(
            FieldError::new(
                "page_size",
                DetailCode::OutOfRange,
                format!("must be between 1 and {PAGE_SIZE_MAX}"),
            )
            .with("min", 1)
            .with("max", PAGE_SIZE_MAX),
        )
    })
}

fn decode_cursor(cursor: &str) -> ApiResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(cursor_error)
}

/// 400 for a `cursor` this list did not hand out.
pub fn cursor_error() -> ApiError {
    ApiError::bad_query(
        tenon_model::Reason::format("cursor", "not a cursor returned by this list").at("cursor"),
    )
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
