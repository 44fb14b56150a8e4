//! Reading the page's post: `application/x-www-form-urlencoded`, or `multipart/form-data` when the form
//! takes files (see [`super::multipart`]); file names cleaned, types as the browser gave them.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use tenon_server::routes::form_uploads::UploadedFile;

use super::multipart;
use crate::public_page::pairs;

/// What a post carried: its text values (in order) and its files.
pub struct Posted {
    pub pairs: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
}

/// Reads the post: `application/x-www-form-urlencoded`, or `multipart/form-data` when the form takes
/// files (`None`: a broken multipart body).
pub async fn posted(headers: &HeaderMap, body: Bytes) -> Option<Posted> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let Some(boundary) = multipart::boundary(content_type) else {
        return Some(Posted {
            pairs: pairs(&body),
            files: Vec::new(),
        });
    };
    let mut out = Posted {
        pairs: Vec::new(),
        files: Vec::new(),
    };
    for part in multipart::parse(body, &boundary).await? {
        match part.filename {
            // A file input without a chosen file sends an empty, nameless part.
            Some(filename) if !part.data.is_empty() || !filename.is_empty() => {
                out.files.push(UploadedFile {
                    field: part.name,
                    filename: clean_filename(&filename),
                    content_type: part
                        .content_type
                        .as_deref()
                        .and_then(|value| value.split(';').next())
                        .map(|value| value.trim().to_ascii_lowercase())
                        .filter(|value| value.contains('/'))
                        .unwrap_or_else(|| "application/octet-stream".to_owned()),
                    bytes: part.data,
                });
            }
            Some(_) => {}
            None => out
                .pairs
                .push((part.name, String::from_utf8_lossy(&part.data).into_owned())),
        }
    }
    Some(out)
}

/// A file name as people see it: no path, quotes or control characters, at most 200 characters.
fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    if name.trim().is_empty() {
        "file".to_owned()
    } else {
        name
    }
}
