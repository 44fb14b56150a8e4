//! Files a visitor uploads on a public form (the page's multipart post): checked against the field's
//! limits (size, types) before anything is stored, and bound to the form, the field and the page's
//! one-time submission key, so only that submission can use them — once — and only for
//! [`FORM_UPLOAD_TTL_HOURS`]. The bytes go through the attachments store like any other file.

use std::net::IpAddr;

use tenon_model::apps::FieldKind;
use tenon_model::{Actor, DetailCode, FieldError, FieldId, Invalid, Reason};
use tenon_store::{Attachment, FORM_UPLOADS_PER_SUBMISSION_MAX, FormUploadSlot, WriteContext};

use crate::error::ApiResult;
use crate::routes::forms::{PublicForm, submission_hash};
use crate::state::AppState;

/// How long an upload waits for its submission; after that no submission can use it.
pub const FORM_UPLOAD_TTL_HOURS: i64 = 24;

/// Uploads one visitor may make to one public form.
pub const FORM_UPLOAD_LIMIT: &str = "20/min,burst=40";

/// Shortest and longest submission key a page may carry.
const SUBMISSION_KEY_CHARS: std::ops::RangeInclusive<usize> = 16..=128;

/// A file as the visitor's browser sent it.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// The form field it is for (key, name or id).
    pub field: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Whether `content_type` is one of a field's `types` (`image/*` covers every image type).
pub fn type_allowed(types: &[String], content_type: &str) -> bool {
    types.is_empty()
        || types
            .iter()
            .any(|pattern| match pattern.strip_suffix("/*") {
                Some(prefix) => content_type.split('/').next() == Some(prefix),
                None => pattern.eq_ignore_ascii_case(content_type),
            })
}

/// Stores the files of one page post for its submission `key`; every file is checked first, and a
/// refused one stores nothing (422 at `fields.<key>` with the field's limit).
pub async fn upload(
    state: &AppState,
    form: &PublicForm,
    peer: IpAddr,
    key: &str,
    actor: Option<Actor>,
    files: Vec<UploadedFile>,
) -> ApiResult<Vec<(FieldId, Attachment)>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    crate::routes::forms::limited_upload(state, form, peer)?;
    let mut errors: Vec<FieldError> = Vec::new();
    if !SUBMISSION_KEY_CHARS.contains(&key.len())
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        errors.push(FieldError::new(
            "submission",
            DetailCode::InvalidValue,
            "the page's submission key is missing or malformed; reload the page",
        ));
        return Err(Invalid(errors).into());
    }
    let tenant = state.store().tenant(form.organization.id);
    let pending = tenant
        .pending_form_uploads(form.view.id, &submission_hash(key))
        .await?
        .len();
    if pending + files.len() > FORM_UPLOADS_PER_SUBMISSION_MAX {
        errors.push(
            Reason::new(
                DetailCode::TooMany,
                format!("a submission takes at most {FORM_UPLOADS_PER_SUBMISSION_MAX} files"),
            )
            .with("max", FORM_UPLOADS_PER_SUBMISSION_MAX)
            .at("files"),
        );
        return Err(Invalid(errors).into());
    }
    let mut checked = Vec::with_capacity(files.len());
    for file in files {
        let Some(entry) = form.accepted_field(&file.field) else {
            errors.push(FieldError::new(
                format!("fields.{}", file.field),
                DetailCode::UnknownField,
                "is not a field of this form",
            ));
            continue;
        };
        let at = format!("fields.{}", entry.field.key);
        let FieldKind::Attachment { max_size_mb, types } = &entry.field.kind else {
            errors.push(FieldError::new(
                at,
                DetailCode::InvalidValue,
                "takes no files",
            ));
            continue;
        };
        let max_bytes = u64::from(*max_size_mb) * 1024 * 1024;
        if file.bytes.is_empty() {
            errors.push(FieldError::new(at, DetailCode::Empty, "the file is empty"));
        } else if u64::try_from(file.bytes.len()).unwrap_or(u64::MAX) > max_bytes {
            errors.push(
                Reason::new(
                    DetailCode::TooLarge,
                    format!("files are at most {max_size_mb} MB here"),
                )
                .with("max", max_bytes)
                .at(at),
            );
        } else if !type_allowed(types, &file.content_type) {
            errors.push(
                Reason::not_one_of(
                    &types.iter().map(String::as_str).collect::<Vec<_>>(),
                    format!(
                        "a {} file; this field takes {}",
                        file.content_type,
                        types.join(", ")
                    ),
                )
                .at(at),
            );
        } else {
            checked.push((entry.field.id, file));
        }
    }
    if !errors.is_empty() {
        return Err(Invalid(errors).into());
    }
    let ctx = WriteContext {
        actor: actor.unwrap_or(Actor::System),
        request_id: Some(crate::request_id::current()),
    };
    let now = state.store().now();
    let mut stored = Vec::with_capacity(checked.len());
    for (field, file) in checked {
        let slot = FormUploadSlot {
            view: form.view.id,
            field,
            submission: submission_hash(key),
            expires_at: now + chrono::Duration::hours(FORM_UPLOAD_TTL_HOURS),
        };
        let attachment = tenant
            .create_form_upload(&ctx, &slot, &file.filename, &file.content_type, &file.bytes)
            .await?;
        stored.push((field, attachment));
    }
    Ok(stored)
}

/// Where a visitor's file goes.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormFileParams {
    /// The form's attachment field (key, name or id).
    pub field: String,
    /// The submission the file is for: a key the client makes up (16 to 128 of `A-Z a-z 0-9 - _`)
    /// and gives again as `submission` when it submits.
    pub submission: String,
    /// The file's name as people see it.
    pub filename: Option<String>,
}

/// A visitor's file, stored for one submission.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FormFileOut {
    /// Give it in the attachment field: `{"fields": {"photo": ["<id>"]}, "submission": "<key>"}`.
    pub id: String,
    pub name: String,
    pub size: i64,
    #[serde(rename = "type")]
    pub content_type: String,
}

/// Upload a file for a public form's attachment field (the body is the file; its type is the
/// Content-Type). It is checked against the field's size and types, and only the submission made with
/// the same `submission` key can use it, once, within 24 hours. No credential; each address may upload
/// 20 files a minute (bursts of 40).
#[utoipa::path(post, path = "/api/v1/forms/{slug}/files", tag = "forms", params(("slug" = String, Path, description = "The form link's slug"), FormFileParams),
    request_body(content = crate::extract::FileBytes, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, body = FormFileOut), (status = 404, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn upload_file(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::extract::Path(slug): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    crate::extract::ApiQuery(params): crate::extract::ApiQuery<FormFileParams>,
    crate::extract::ApiBytes(body): crate::extract::ApiBytes,
) -> ApiResult<(axum::http::StatusCode, axum::Json<FormFileOut>)> {
    let form = crate::routes::forms::load_anonymous(&state, &slug).await?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| value.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let filename: String = params
        .filename
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\' && *c != '"')
        .take(200)
        .collect();
    let file = UploadedFile {
        field: params.field,
        filename: if filename.trim().is_empty() {
            "file".to_owned()
        } else {
            filename
        },
        content_type,
        bytes: body.to_vec(),
    };
    let mut stored = upload(
        &state,
        &form,
        peer.ip(),
        &params.submission,
        None,
        vec![file],
    )
    .await?;
    let (_, attachment) = stored
        .pop()
        .ok_or_else(|| crate::error::ApiError::not_found("file"))?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(FormFileOut {
            id: attachment.id.to_string(),
            name: attachment.filename,
            size: attachment.size,
            content_type: attachment.content_type,
        }),
    ))
}
