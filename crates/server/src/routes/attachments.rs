//! `/api/v1/attachments`: uploading files for attachment fields and downloading them. Bytes are stored by
//! content hash under the data folder; downloads need a credential of the file's organization.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_model::AttachmentId;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery, path_id};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentOut {
    pub id: String,
    pub name: String,
    pub size: i64,
    #[serde(rename = "type")]
    pub content_type: String,
    pub sha256: String,
    /// Where to download it (with a credential).
    pub url: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's name as people see it.
    pub filename: Option<String>,
}

/// Upload a file (the request body is the file; its type is the Content-Type). Give the returned id in
/// an attachment field: `{"fields": {"photo": ["<id>"]}}`.
#[utoipa::path(post, path = "/api/v1/attachments", tag = "records", params(UploadParams),
    request_body(content = crate::extract::FileBytes, content_type = "application/octet-stream", description = "The file's bytes"),
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 201, body = AttachmentOut), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<UploadParams>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, axum::Json<AttachmentOut>)> {
    if body.is_empty() {
        return Err(tenon_model::Invalid::one(
            "body",
            tenon_model::DetailCode::Empty,
            "the file is empty",
        )
        .into());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|value| value.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let filename: String = params
        .filename
        .unwrap_or_else(|| "file".to_owned())
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\' && *c != '"')
        .take(200)
        .collect();
    let filename = if filename.trim().is_empty() {
        "file".to_owned()
    } else {
        filename
    };
    let attachment = state
        .store()
        .tenant(auth.principal.org_id)
        .create_attachment(&auth.write_context(), &filename, &content_type, &body)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AttachmentOut {
            id: attachment.id.to_string(),
            url: format!("/api/v1/attachments/{}", attachment.id),
            name: attachment.filename,
            size: attachment.size,
            content_type: attachment.content_type,
            sha256: attachment.sha256,
        }),
    ))
}

/// Download a file.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "records", params(("id" = String, Path, description = "Attachment id")),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, description = "The file, in the media type it was uploaded with",
        content((crate::openapi::FileContent = "*/*"))), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: AttachmentId = path_id(&id, "attachment")?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let (attachment, path) = tenant.attachment(id).await?;
    // A file a limited member may not see answers as a file that does not exist.
    if !crate::service::access::file_readable(&state, &tenant, &auth, id).await? {
        return Err(ApiError::not_found("attachment"));
    }
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|error| ApiError::internal("attachment bytes missing", &error))?;
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&attachment.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(attachment.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let ascii: String = attachment
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = attachment
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
