//! The one error shape of the API and the one table from error kinds to HTTP statuses.
//!
//! Every failure answers `{"error": {"code", "message", "details": [{"field", "reason"}], "request_id"}}`.
//! `code` is a stable machine-readable string (the contract); `message` is for people; `details` say where.
//! Internal failures are logged with their cause and answered with an opaque message and the request id,
//! so an operator can find the log line.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tenon_model::{FieldError, Invalid};
use tenon_store::StoreError;
use utoipa::ToSchema;

use crate::request_id;

/// A failed request, ready to be rendered.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<FieldError>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable code, e.g. `validation_failed`, `not_found`, `insufficient_scope`.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Where: one entry per offending field (empty when the error is not about a field).
    pub details: Vec<ErrorDetail>,
    /// The request id, also in the `x-request-id` response header and in every log line of the request.
    pub request_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A path into the request, e.g. `email`, `department_ids[2]`, or a query parameter name.
    pub field: String,
    pub reason: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    #[must_use]
    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.details = details;
        self
    }

    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 410 for a cursor (`field`) that names an event the retention deleted: the client missed events
    /// and must start again from the oldest one kept.
    pub fn event_expired(field: &str, retention_days: u32) -> Self {
        ApiError::new(
            StatusCode::GONE,
            "event_expired",
            format!(
                "{field} names an event that is no longer kept: events are kept {retention_days} days. \
                 Start again from the beginning (omit {field}) and expect events you may have seen already"
            ),
        )
        .with_details(vec![FieldError::new(
            field,
            format!("the event expired (events are kept {retention_days} days)"),
        )])
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tenon\""),
        )
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn validation(invalid: Invalid) -> Self {
        let message = match invalid.0.as_slice() {
            [one] => format!("{}: {}", one.field, one.reason),
            many => format!("{} fields are invalid", many.len()),
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_details(invalid.0)
    }

    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error, source = ?error.source(), "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to complete the request; the request id identifies it in the server's log",
        )
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
            StoreError::Conflict { field, reason } => {
                let details = field
                    .map(|field| vec![FieldError::new(field, reason.clone())])
                    .unwrap_or_default();
                ApiError::new(StatusCode::CONFLICT, "conflict", reason).with_details(details)
            }
            StoreError::Invalid(invalid) => ApiError::validation(invalid),
            StoreError::RuleBroken(problems) => ApiError::validation(tenon_model::Invalid(
                problems
                    .into_iter()
                    .map(|problem| FieldError::new("fields", problem.reason))
                    .collect(),
            )),
            ref unavailable if unavailable.is_unavailable() => {
                tracing::error!(error = %unavailable, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is not reachable; retry later",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
            }
            other => ApiError::internal("store failure", &other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code,
                message: self.message,
                details: self
                    .details
                    .into_iter()
                    .map(|detail| ErrorDetail {
                        field: detail.field,
                        reason: detail.reason,
                    })
                    .collect(),
                request_id: request_id::current(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
