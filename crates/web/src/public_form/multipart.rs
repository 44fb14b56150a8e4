//! Reads a `multipart/form-data` body (RFC 7578) with `multer` — the public form page posts one when the
//! form takes files, with or without JavaScript. The whole body is already in memory (bounded by the
//! route's body limit); at most [`PARTS_MAX`] parts.

use std::convert::Infallible;

use axum::body::Bytes;

/// Most parts one post may have (fields, choices and files together).
pub const PARTS_MAX: usize = 500;

/// One part of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Set for a file input's part (empty when no file was chosen).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` Content-Type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    multer::parse_boundary(content_type).ok()
}

/// The body's parts, or `None` when it is not well formed.
pub async fn parse(body: Bytes, boundary: &str) -> Option<Vec<Part>> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.ok()? {
        if parts.len() >= PARTS_MAX {
            return None;
        }
        let name = field.name()?.to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let data = field.bytes().await.ok()?.to_vec();
        parts.push(Part {
            name,
            filename,
            content_type,
            data,
        });
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn text_and_file_parts_are_read_and_a_broken_body_is_refused() {
        let body: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"guest\"\r\n\r\n\xe7\x8e\x8b\xe8\x8a\xb3\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--X\r\n\
--XyZ--\r\n";
        let boundary = boundary("multipart/form-data; boundary=XyZ").unwrap();
        let parts = parse(Bytes::from_static(body), &boundary).await.unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "guest");
        assert_eq!(String::from_utf8(parts[0].data.clone()).unwrap(), "王芳");
        assert_eq!(parts[1].filename.as_deref(), Some("a b.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n--X");
        assert!(
            parse(Bytes::from_static(&body[..40]), &boundary)
                .await
                .is_none()
        );
        assert!(super::boundary("application/x-www-form-urlencoded").is_none());
    }
}
