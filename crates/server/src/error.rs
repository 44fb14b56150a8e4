//! The one error shape of the API, rendered from the one error table (`tenon_model::errors`).
//!
//! Every failure answers `{"error": {"code", "message", "params", "details": [{"field", "code", "params",
//! "reason"}], "request_id"}}`. `code` names an entry of [`ErrorCode`], which fixes the HTTP status and the
//! headers the response carries; `params` and each detail's `code`/`params` let a user interface say it in
//! its own words; `message` and `reason` are English for people. Internal failures are logged with their
//! cause and answered with an opaque message and the request id, so an operator can find the log line.
//!
//! Errors of every kind become HTTP here and only here: [`ApiError`] from the store's `StoreError`, the
//! model's `Invalid`, and the extractors' rejections. The OAuth2 token endpoint alone answers RFC 6749
//! bodies (`routes::oauth`), because OAuth2 libraries expect them; its codes are in the same table module.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tenon_model::{DetailCode, ErrorCode, ErrorHeader, FieldError, Invalid, Params};
use tenon_store::StoreError;
use utoipa::ToSchema;

use crate::request_id;

/// A failed request, ready to be rendered: an entry of the error table, an English message, parameters,
/// details and any extra headers.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    params: Params,
    details: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable code from the error table (docs/errors.md), e.g. `validation_failed`, `not_found`.
    #[schema(example = "validation_failed", value_type = ErrorCodeName)]
    pub code: &'static str,
    /// What went wrong, in English, for people.
    pub message: String,
    /// The values the code's message needs (`{"retry_after": 3}`); keys per code in docs/errors.md.
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Where: one entry per offending field (empty when the error is not about a field).
    pub details: Vec<ErrorDetail>,
    /// The request id, also in the `x-request-id` response header and in every log line of the request.
    pub request_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A path into the request, e.g. `email`, `department_ids[2]`, or a query parameter name.
    pub field: String,
    /// Stable code of the problem (docs/errors.md), e.g. `too_long`, `required`, `unknown_choice`.
    #[schema(example = "too_long", value_type = DetailCodeName)]
    pub code: &'static str,
    /// The values the code's reason needs (`{"max": 100}`).
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Why, in English.
    pub reason: String,
}

/// Every top-level error code (`error.code`), as the document's enumeration.
pub struct ErrorCodeName;

impl utoipa::PartialSchema for ErrorCodeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        code_enum(ErrorCode::ALL.iter().map(|code| code.as_str()))
    }
}

impl ToSchema for ErrorCodeName {}

/// Every detail code (`error.details[].code`), as the document's enumeration.
pub struct DetailCodeName;

impl utoipa::PartialSchema for DetailCodeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        code_enum(DetailCode::ALL.iter().map(|code| code.as_str()))
    }
}

impl ToSchema for DetailCodeName {}

fn code_enum<'a>(
    codes: impl Iterator<Item = &'a str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(codes))
        .into()
}

impl ApiError {
    /// An error of the table's entry `code`, with an English message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            params: Params::new(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// A parameter (`retry_after`, …).
    pub fn param(&self, key: &str) -> Option<&serde_json::Value> {
        self.params.get(key)
    }

    pub fn details(&self) -> &[FieldError] {
        &self.details
    }

    /// The values the code's message needs (`{"what": "book"}`), as the error body shows them.
    pub fn params_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.params.to_json()
    }

    /// Adds a parameter (a key the code documents).
    #[must_use]
    pub fn with(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        debug_assert!(
            self.code.params().contains(&key),
            "error code {} does not document the parameter {key}",
            self.code
        );
        self.params.insert(key, value.into());
        self
    }

    #[must_use]
    /// The details' paths under `prefix` (`roles[0].key` → `permissions.roles[0].key`).
    pub fn at_prefix(mut self, prefix: &str) -> Self {
        for detail in &mut self.details {
            detail.field = format!("{prefix}.{}", detail.field);
        }
        self
    }

    #[must_use]
    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.details = details;
        self
    }

    /// One detail.
    #[must_use]
    pub fn with_detail(mut self, detail: FieldError) -> Self {
        self.details.push(detail);
        self
    }

    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 404 for a `what` (route, member, record…) that does not exist here.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("{what} not found")).with("what", what)
    }

    /// 410 for a cursor (`field`) that names an event the retention deleted: the client missed events
    /// and must start again from the oldest one kept.
    pub fn event_expired(field: &str, retention_days: u32) -> Self {
        ApiError::new(
            ErrorCode::EventExpired,
            format!(
                "{field} names an event that is no longer kept: events are kept {retention_days} days. \
                 Start again from the beginning (omit {field}) and expect events you may have seen already"
            ),
        )
        .with("retention_days", retention_days)
        .with_detail(
            FieldError::new(
                field,
                DetailCode::Expired,
                format!("the event expired (events are kept {retention_days} days)"),
            )
            .with("retention_days", retention_days),
        )
    }

    /// 401 with the `WWW-Authenticate` challenge.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthenticated, message)
    }

    /// 400 for a request that cannot be read (a bad query parameter or header).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    /// 400 naming the query parameter (the detail's field up to its first `.` or `[`: `filter` for
    /// `filter.and[1]`) and what is wrong with it.
    pub fn bad_query(detail: FieldError) -> Self {
        let param = detail
            .field
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_owned();
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("query parameter {param}: {}", detail.reason),
        )
        .with_detail(detail)
    }

    /// A filter (or an aggregate's condition) the server refuses: 400 naming the parameter, except a
    /// comparison of a select with a value that is none of its choices, which is 422 listing the choices —
    /// the request is well-formed, but answering it would silently match nothing.
    pub fn bad_filter(detail: FieldError) -> Self {
        if detail.code == DetailCode::UnknownChoice {
            ApiError::validation(Invalid(vec![detail]))
        } else {
            ApiError::bad_query(detail)
        }
    }

    /// 422 with every problem of the input.
    pub fn validation(invalid: Invalid) -> Self {
        let message = match invalid.0.as_slice() {
            [one] => format!("{}: {}", one.field, one.reason),
            many => format!("{} fields are invalid", many.len()),
        };
        ApiError::new(ErrorCode::ValidationFailed, message).with_details(invalid.0)
    }

    /// 500, logged with its cause; the client sees only the request id.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error, source = ?error.source(), "{context}");
        ApiError::new(ErrorCode::Internal, ErrorCode::Internal.template())
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::validation(invalid)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what } => ApiError::not_found(what),
            // Only a cursor names an event that can expire, and `after` is the cursor's name in the API.
            StoreError::EventExpired { retention_days } => {
                ApiError::event_expired("after", retention_days)
            }
            StoreError::Conflict {
                field,
                code,
                params,
                reason,
            } => {
                let details = field
                    .map(|field| {
                        vec![FieldError {
                            field: field.to_owned(),
                            code,
                            params,
                            reason: reason.clone(),
                        }]
                    })
                    .unwrap_or_default();
                ApiError::new(ErrorCode::Conflict, reason).with_details(details)
            }
            StoreError::ApprovalRunning { .. } => {
                ApiError::new(ErrorCode::ApprovalRunning, error.to_string())
            }
            StoreError::DelegationOverlap { ref existing } => {
                let existing = existing.clone();
                ApiError::new(ErrorCode::DelegationOverlap, error.to_string())
                    .with("existing", existing)
            }
            StoreError::RowForbidden { ref record } => {
                let record = record.clone();
                ApiError::new(ErrorCode::RowForbidden, error.to_string()).with("record", record)
            }
            StoreError::Invalid(invalid) => ApiError::validation(invalid),
            StoreError::RuleBroken(problems) => ApiError::validation(Invalid(
                problems
                    .into_iter()
                    .map(|problem| problem.reason.at("fields"))
                    .collect(),
            )),
            ref unavailable if unavailable.is_unavailable() => {
                tracing::error!(error = %unavailable, "database unavailable");
                ApiError::new(ErrorCode::Unavailable, ErrorCode::Unavailable.template())
            }
            other => ApiError::internal("store failure", &other),
        }
    }
}

/// The value of a header the table says a code carries, when the site that made the error set none.
fn default_header(code: ErrorCode, header: ErrorHeader) -> Option<(HeaderName, HeaderValue)> {
    match header {
        ErrorHeader::WwwAuthenticate => {
            let challenge = match code {
                ErrorCode::InsufficientScope => {
                    "Bearer realm=\"tenon\", error=\"insufficient_scope\"".to_owned()
                }
                ErrorCode::Unauthenticated => {
                    "Bearer realm=\"tenon\", error=\"invalid_token\"".to_owned()
                }
                _ => "Bearer realm=\"tenon\"".to_owned(),
            };
            HeaderValue::from_str(&challenge)
                .ok()
                .map(|value| (header::WWW_AUTHENTICATE, value))
        }
        ErrorHeader::RetryAfter => Some((header::RETRY_AFTER, HeaderValue::from_static("1"))),
        ErrorHeader::Allow => None,
    }
}

fn header_name(header: ErrorHeader) -> HeaderName {
    match header {
        ErrorHeader::WwwAuthenticate => header::WWW_AUTHENTICATE,
        ErrorHeader::RetryAfter => header::RETRY_AFTER,
        ErrorHeader::Allow => header::ALLOW,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if cfg!(debug_assertions) {
            check_params(self.code.as_str(), self.code.params(), &self.params);
            for detail in &self.details {
                check_params(detail.code.as_str(), detail.code.params(), &detail.params);
            }
        }
        let status = self.status();
        let code = self.code;
        let body = ErrorBody {
            error: ErrorObject {
                code: code.as_str(),
                message: self.message,
                params: self.params.to_json(),
                details: self
                    .details
                    .into_iter()
                    .map(|detail| ErrorDetail {
                        field: detail.field,
                        code: detail.code.as_str(),
                        params: detail.params.to_json(),
                        reason: detail.reason,
                    })
                    .collect(),
                request_id: request_id::current(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        for required in code.headers() {
            if !headers.contains_key(header_name(*required))
                && let Some((name, value)) = default_header(code, *required)
            {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// Debug builds (the tests) check that an error carries every parameter its code documents.
fn check_params(code: &str, documented: &[&str], params: &Params) {
    for key in documented {
        debug_assert!(
            params.contains_key(key),
            "{code} is answered without its parameter {key}: {params:?}"
        );
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
