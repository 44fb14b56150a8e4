//! Uploaded files (attachments): bytes on disk under the files folder, named by their SHA-256 (so the same
//! file uploaded twice is stored once), metadata in the `attachments` table of the organization.
//!
//! With several Tenon nodes, the files folder must be shared storage; the database does not hold bytes.
//!
//! One file may be named by several attachment rows, of any organizations. Bytes are removed only by
//! [`Store::purge_expired_form_uploads`], and only when no row names them any more; a write of a file and
//! the check before its removal are serialized per SHA-256 (see there), so a committed attachment always
//! has its bytes.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tenon_model::{Action, AttachmentId, Invalid, TargetKind};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::{Backend, Conn, Sql};
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// Largest file accepted, whatever a field allows (fields may set lower limits).
pub const FILE_BYTES_MAX: usize = 100 * 1024 * 1024;

/// Expired form uploads one purge transaction deletes at most.
pub const FORM_UPLOADS_PURGED_PER_BATCH: u32 = 200;

/// Batches one call of [`Store::purge_expired_form_uploads`] runs at most; what is left waits for the
/// next call.
const FORM_UPLOAD_PURGE_BATCHES_MAX: usize = 50;

/// What one purge of expired form uploads removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgedUploads {
    /// Attachment rows deleted (with their `form_uploads` rows).
    pub uploads: u64,
    /// Files removed from disk (those no other attachment row named).
    pub files: u64,
}

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
        conn: &mut Conn<'_>,
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
        // Held until this transaction ends: a purge cannot remove the file between this check and the
        // commit of the row that names it (see `Store::purge_expired_form_uploads`).
        lock_file(conn, &sha256).await?;
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
        conn: &mut Conn<'_>,
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

impl Store {
    /// Deletes the files visitors uploaded to public forms for a submission that never took them and
    /// whose time ran out (`form_uploads`: `record_id IS NULL AND expires_at < now`): their attachment
    /// rows (the `form_uploads` rows go with them), and their bytes when no attachment row of any
    /// organization names the same SHA-256 any more. Runs in batches of
    /// [`FORM_UPLOADS_PURGED_PER_BATCH`], one transaction each, from any node.
    ///
    /// The race with an upload of the same bytes: an upload checks whether the file exists (and writes
    /// it if not) and inserts its row in one transaction; the purge asks whether a row still names the
    /// file and removes it in one transaction. The two are serialized per SHA-256 — on SQLite by the one
    /// write lock every write transaction takes at its start (`BEGIN IMMEDIATE`), on PostgreSQL by a
    /// transaction advisory lock on the SHA-256 that both take before looking at the file. So either
    /// the upload commits first and the purge, asking after it under the lock, sees its row and keeps
    /// the file; or the purge removes the file first and the upload, looking after it, finds none and
    /// writes the bytes again. A purge whose commit fails after it removed files leaves only expired,
    /// untaken rows without bytes, which no submission can use and the next purge deletes. On
    /// PostgreSQL the candidates are locked `FOR UPDATE SKIP LOCKED`: two nodes purge different rows,
    /// and a row a submission is taking (at its very expiry) is left for the next purge, which sees it
    /// taken.
    pub async fn purge_expired_form_uploads(&self) -> Result<PurgedUploads> {
        let mut purged = PurgedUploads::default();
        for _ in 0..FORM_UPLOAD_PURGE_BATCHES_MAX {
            let batch = self.purge_form_upload_batch().await?;
            purged.uploads += batch.uploads;
            purged.files += batch.files;
            if batch.uploads < u64::from(FORM_UPLOADS_PURGED_PER_BATCH) {
                break;
            }
        }
        Ok(purged)
    }

    async fn purge_form_upload_batch(&self) -> Result<PurgedUploads> {
        let now = self.now();
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let candidates = match conn.backend() {
            Backend::Postgres => Sql::new(
                "SELECT u.organization_id, u.attachment_id, a.sha256 FROM form_uploads u \
                 JOIN attachments a ON a.organization_id = u.organization_id AND a.id = u.attachment_id \
                 WHERE u.record_id IS NULL AND u.expires_at < $1 \
                 ORDER BY u.expires_at LIMIT $2 FOR UPDATE OF u SKIP LOCKED",
            ),
            Backend::Sqlite => Sql::new(
                "SELECT u.organization_id, u.attachment_id, a.sha256 FROM form_uploads u \
                 JOIN attachments a ON a.organization_id = u.organization_id AND a.id = u.attachment_id \
                 WHERE u.record_id IS NULL AND u.expires_at < $1 \
                 ORDER BY u.expires_at LIMIT $2",
            ),
        };
        let expired: Vec<(Uuid, Uuid, String)> = conn
            .fetch_all(candidates.bind(now).bind(FORM_UPLOADS_PURGED_PER_BATCH))
            .await?;
        let mut purged = PurgedUploads::default();
        for (org_id, attachment_id, _) in &expired {
            purged.uploads += conn
                .execute(
                    Sql::new("DELETE FROM attachments WHERE organization_id = $1 AND id = $2")
                        .bind(*org_id)
                        .bind(*attachment_id),
                )
                .await?;
        }
        // Sorted and once each: two purges take their locks in the same order.
        let mut files: Vec<String> = expired.into_iter().map(|(_, _, sha256)| sha256).collect();
        files.sort_unstable();
        files.dedup();
        for sha256 in &files {
            lock_file(&mut conn, sha256).await?;
            let named: Option<(Uuid,)> = conn
                .fetch_optional(
                    Sql::new("SELECT id FROM attachments WHERE sha256 = $1 LIMIT 1")
                        .bind(sha256.as_str()),
                )
                .await?;
            if named.is_some() {
                continue;
            }
            let Some(dir) = &self.files_dir else {
                continue;
            };
            let path = blob_path(dir, sha256);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => purged.files += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(StoreError::Config(format!(
                        "cannot remove the file {}: {error}",
                        path.display()
                    )));
                }
            }
        }
        tx.commit().await?;
        Ok(purged)
    }
}

/// Serializes, until the transaction ends, whoever writes or removes the file of `sha256` (see
/// [`Store::purge_expired_form_uploads`]): a transaction advisory lock on PostgreSQL; nothing on SQLite,
/// whose write transactions hold the database's one write lock from their start.
async fn lock_file(conn: &mut Conn<'_>, sha256: &str) -> Result<()> {
    if conn.backend() == Backend::Postgres {
        conn.execute(Sql::new("SELECT pg_advisory_xact_lock($1)").bind(file_lock_key(sha256)))
            .await?;
    }
    Ok(())
}

/// The advisory lock key of a file: the first 64 bits of its SHA-256 (uniform already; a collision with
/// another lock only makes one wait).
fn file_lock_key(sha256: &str) -> i64 {
    let prefix = sha256.get(..16).unwrap_or(sha256);
    u64::from_str_radix(prefix, 16).map_or(0, |bits| i64::from_ne_bytes(bits.to_ne_bytes()))
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
