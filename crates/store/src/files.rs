//! Uploaded files (attachments): bytes on disk under the files folder, named by their SHA-256 (so the same
//! file uploaded twice is stored once), metadata in the `attachments` table of the organization.
//!
//! With several Tenon nodes, the files folder must be shared storage; the database does not hold bytes.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tenon_model::{Action, AttachmentId, Invalid, TargetKind};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::Sql;
use crate::{Result, StoreError, Tenant, WriteContext};

/// Largest file accepted, whatever a field allows (fields may set lower limits).
pub const FILE_BYTES_MAX: usize = 100 * 1024 * 1024;

/// A stored file's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub filename: String,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    id: Uuid,
    sha256: String,
    size: i64,
    content_type: String,
    filename: String,
    created_at: DateTime<Utc>,
}

impl From<AttachmentRow> for Attachment {
    fn from(row: AttachmentRow) -> Self {
        Attachment {
            id: AttachmentId::from_uuid(row.id),
            sha256: row.sha256,
            size: row.size,
            content_type: row.content_type,
            filename: row.filename,
            created_at: row.created_at,
        }
    }
}

impl Tenant<'_> {
    /// Stores a file and its metadata. The bytes are written (atomically) before the row commits, so a
    /// committed attachment always has its bytes.
    pub async fn create_attachment(
        &self,
        ctx: &WriteContext,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment> {
        if bytes.len() > FILE_BYTES_MAX {
            return Err(Invalid::from(
                tenon_model::FieldError::new(
                    "body",
                    tenon_model::DetailCode::TooLarge,
                    format!("files are at most {} MB", FILE_BYTES_MAX / 1024 / 1024),
                )
                .with("max", FILE_BYTES_MAX),
            )
            .into());
        }
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let attachment = self
            .insert_attachment(&mut conn, ctx, filename, content_type, bytes)
            .await?;
        tx.commit().await?;
        Ok(attachment)
    }

    /// Writes a file's bytes (atomically, before the caller's transaction commits) and inserts its row
    /// and audit entry in that transaction.
    pub(crate) async fn insert_attachment(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        ctx: &WriteContext,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment> {
        let dir = self
            .store
            .files_dir
            .clone()
            .ok_or_else(|| StoreError::Config("no files folder is configured".to_owned()))?;
        let sha256 = hex(&Sha256::digest(bytes));
        let path = blob_path(&dir, &sha256);
        if tokio::fs::try_exists(&path).await.ok() != Some(true) {
            write_atomically(&path, bytes).await?;
        }
        let attachment = Attachment {
            id: AttachmentId::new(),
            sha256,
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            content_type: content_type.to_owned(),
            filename: filename.to_owned(),
            created_at: self.store.now(),
        };
        conn.execute(
            Sql::new(
                "INSERT INTO attachments (organization_id, id, sha256, size, content_type, filename, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(self.org_id)
            .bind(*attachment.id.as_uuid())
            .bind(attachment.sha256.as_str())
            .bind(attachment.size)
            .bind(attachment.content_type.as_str())
            .bind(attachment.filename.as_str())
            .bind(attachment.created_at),
        )
        .await?;
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Attachment,
                target_id: attachment.id.to_string(),
                action: Action::Created,
                before: None,
                after: Some(serde_json::json!({
                    "id": attachment.id.to_string(), "filename": attachment.filename, "size": attachment.size,
                    "content_type": attachment.content_type, "sha256": attachment.sha256,
                })),
                ctx,
            },
        )
        .await?;
        Ok(attachment)
    }

    /// A file's metadata and where its bytes are.
    pub async fn attachment(&self, id: AttachmentId) -> Result<(Attachment, PathBuf)> {
        let dir = self
            .store
            .files_dir
            .clone()
            .ok_or_else(|| StoreError::not_found("attachment"))?;
        let mut found = self.attachments(&[id]).await?;
        let attachment = found
            .remove(&id)
            .ok_or_else(|| StoreError::not_found("attachment"))?;
        let path = blob_path(&dir, &attachment.sha256);
        Ok((attachment, path))
    }

    /// Metadata of several files (for rendering attachment cells).
    pub async fn attachments(
        &self,
        ids: &[AttachmentId],
    ) -> Result<HashMap<AttachmentId, Attachment>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let mut pooled = self.store.pools.read().await?;
        let found = self.attachments_in(&mut pooled.conn(), &ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, file)| (AttachmentId::from_uuid(id), file))
            .collect())
    }

    pub(crate) async fn attachments_in(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Attachment>> {
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            let row: Option<AttachmentRow> = conn
                .fetch_optional(
                    Sql::new(
                        "SELECT id, sha256, size, content_type, filename, created_at FROM attachments \
                         WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(self.org_id)
                    .bind(*id),
                )
                .await?;
            if let Some(row) = row {
                found.insert(*id, Attachment::from(row));
            }
        }
        Ok(found)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn blob_path(dir: &std::path::Path, sha256: &str) -> PathBuf {
    dir.join(&sha256[..2]).join(sha256)
}

async fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let io = |error: std::io::Error| {
        StoreError::Config(format!(
            "cannot store a file at {}: {error}",
            path.display()
        ))
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let temporary = path.with_extension(format!("tmp-{}", Uuid::now_v7().simple()));
    tokio::fs::write(&temporary, bytes).await.map_err(io)?;
    tokio::fs::rename(&temporary, path).await.map_err(io)?;
    Ok(())
}
