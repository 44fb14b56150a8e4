//! Writes of public form submissions: the files a visitor uploads for one submission, and the one
//! transaction that takes a submission — create the record (with the rows of its sub-tables, a
//! master–detail form), or (a form with `upsert`) update the row a returning visitor's unique key
//! names — and binds the submission's uploads to that record.
//!
//! A sub-table's rows are created first, then the main record with its link naming them: so the main
//! record's rollups and counts over its rows are computed before it is stored, and its
//! `record.created` event says them right; the rows then get `record.updated` (the link back moved),
//! caused by the main record's event, as when an order links existing lines.
//!
//! An upload is usable only by the submission it was uploaded for: its row in `form_uploads` names the
//! form, the field and the SHA-256 of the page's one-time submission key, and a submission takes it only
//! while it is unused and not expired. The take happens in the record's transaction, so a refused
//! submission leaves its uploads usable and writes nothing; a taken upload is never usable again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tenon_model::apps::filter::Filter;
use tenon_model::apps::input::present;
use tenon_model::apps::{CellValue, Record, TableSchema};
use tenon_model::{AttachmentId, DetailCode, FieldId, Invalid, Reason, RecordId, TimeZone, ViewId};
use uuid::Uuid;

use super::cells::to_arg;
use super::{RecordProblem, RecordUpdate, RowGuard, WriteOutcome};
use crate::apps::ddl;
use crate::exec::{Backend, Conn, Sql, quote};
use crate::files::Attachment;
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// Most files one submission may upload (all fields together).
pub const FORM_UPLOADS_PER_SUBMISSION_MAX: usize = 20;

/// Where an upload belongs: the form, its field, and the submission (the SHA-256, hex, of the page's
/// one-time submission key — the key itself is never stored).
#[derive(Debug, Clone)]
pub struct FormUploadSlot {
    pub view: ViewId,
    pub field: FieldId,
    pub submission: String,
    pub expires_at: DateTime<Utc>,
}

/// A submission to write.
#[derive(Debug, Clone)]
pub struct FormWrite {
    pub view: ViewId,
    /// The parsed values (creation mode: the table's defaults included).
    pub cells: BTreeMap<FieldId, Option<CellValue>>,
    /// The fields the form shows or its link fixes: an upsert changes only these.
    pub form_fields: Vec<FieldId>,
    /// With `upsert`: the unique keys to match a returning visitor's row on, in order of preference; the
    /// first whose fields all have values is used.
    pub upsert_keys: Vec<Vec<FieldId>>,
    /// The files the submission uses, by field, and the submission they must have been uploaded for.
    pub uploads: Vec<(FieldId, AttachmentId)>,
    pub submission: Option<String>,
    /// The sub-tables' rows (a master–detail form); only for a new record.
    pub details: Vec<FormDetails>,
    /// A member's row rules on the main table (a members-only form); `None`: every row.
    pub guard: Option<FormGuard>,
}

/// The row rules a member's submission respects on the form's own table: a new record must satisfy
/// her create rule; a returning visitor's row (upsert) her update rule before and after.
#[derive(Debug, Clone, Default)]
pub struct FormGuard {
    /// The create rule (`None`: every row).
    pub create: Option<Filter>,
    /// The update rules, or `None` when she may not update the table: an upsert that finds her row
    /// is then refused.
    pub update: Option<RowGuard>,
}

/// The rows of one sub-table of a submission.
#[derive(Debug, Clone)]
pub struct FormDetails {
    /// The detail table.
    pub schema: TableSchema,
    /// The main table's link field the rows are tied by.
    pub link: FieldId,
    /// The parsed rows (creation mode).
    pub rows: Vec<BTreeMap<FieldId, Option<CellValue>>>,
    /// A member's row rule for creating records of the detail table (`None`: every row).
    pub guard: Option<Filter>,
    /// Where the rows' problems are reported: `fields.lines` gives `fields.lines[2].qty`.
    pub at: String,
}

/// A submission written.
#[derive(Debug, Clone)]
pub enum FormWritten {
    Created(Record),
    /// A returning visitor's row, matched by the upsert key, changed.
    Updated(Record),
}

impl FormWritten {
    pub fn record(&self) -> &Record {
        match self {
            FormWritten::Created(record) | FormWritten::Updated(record) => record,
        }
    }
}

impl Tenant<'_> {
    /// Stores a visitor's file for one submission of a form (see the module's header).
    pub async fn create_form_upload(
        &self,
        ctx: &WriteContext,
        slot: &FormUploadSlot,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let attachment = self
            .insert_attachment(&mut conn, ctx, filename, content_type, bytes)
            .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO form_uploads (organization_id, attachment_id, view_id, field_id, submission, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(self.org_id)
            .bind(*attachment.id.as_uuid())
            .bind(*slot.view.as_uuid())
            .bind(*slot.field.as_uuid())
            .bind(slot.submission.as_str())
            .bind(attachment.created_at)
            .bind(slot.expires_at),
        )
        .await?;
        tx.commit().await?;
        Ok(attachment)
    }

    /// The files uploaded for a submission that it may still use (unused, not expired), by field, in
    /// upload order: a page refused for another reason shows them again instead of asking anew.
    pub async fn pending_form_uploads(
        &self,
        view: ViewId,
        submission: &str,
    ) -> Result<Vec<(FieldId, Attachment)>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let rows: Vec<(Uuid, Uuid)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT attachment_id, field_id FROM form_uploads WHERE organization_id = $1 AND view_id = $2 \
                     AND submission = $3 AND record_id IS NULL AND expires_at > $4 ORDER BY created_at, attachment_id",
                )
                .bind(self.org_id)
                .bind(*view.as_uuid())
                .bind(submission)
                .bind(self.store.now()),
            )
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
        let mut files = self.attachments_in(&mut conn, &ids).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, field)| Some((FieldId::from_uuid(field), files.remove(&id)?)))
            .collect())
    }

    /// Takes one submission in one transaction: creates its record, or with upsert keys updates the row
    /// the first usable key matches (only the form's fields), then binds its uploads to that record.
    pub async fn write_form_submission(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        write: FormWrite,
        org_time_zone: TimeZone,
    ) -> Result<FormWritten> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let existing = self.upsert_match(&mut conn, schema, &write).await?;
        let written = match existing {
            None => {
                let mut cells = write.cells.clone();
                let mut detail_ids: Vec<(&FormDetails, Vec<RecordId>)> = Vec::new();
                for details in &write.details {
                    let ids = self
                        .create_details(&mut conn, ctx, details, org_time_zone)
                        .await?;
                    if ids.is_empty() {
                        continue;
                    }
                    cells.insert(
                        details.link,
                        Some(CellValue::Ids(ids.iter().map(|id| *id.as_uuid()).collect())),
                    );
                    detail_ids.push((details, ids));
                }
                let outcome = self
                    .create_records_in(
                        &mut conn,
                        ctx,
                        schema,
                        vec![present(cells)],
                        org_time_zone,
                        None,
                    )
                    .await?;
                let record = match outcome {
                    WriteOutcome::Written(mut records) | WriteOutcome::Replayed(mut records) => {
                        records.pop()
                    }
                }
                .ok_or_else(|| StoreError::not_found("record"))?;
                if let Some(FormGuard {
                    create: Some(rule), ..
                }) = &write.guard
                {
                    self.require_rows_within(&mut conn, schema, &[record.id], rule)
                        .await?;
                }
                // The rows as stored now, linked: a rule may read the main record through the link.
                for (details, ids) in &detail_ids {
                    if let Some(guard) = &details.guard {
                        self.require_rows_within(&mut conn, &details.schema, ids, guard)
                            .await?;
                    }
                }
                FormWritten::Created(record)
            }
            Some(id) => {
                let update = match &write.guard {
                    None => None,
                    Some(FormGuard { update: None, .. }) => {
                        return Err(StoreError::RowForbidden {
                            record: id.to_string(),
                        });
                    }
                    Some(FormGuard {
                        update: Some(rules),
                        ..
                    }) => Some(rules),
                };
                if let Some(RowGuard {
                    before: Some(rule), ..
                }) = update
                {
                    self.require_rows_within(&mut conn, schema, &[id], rule)
                        .await?;
                }
                let cells = write
                    .cells
                    .iter()
                    .filter(|(field, _)| write.form_fields.contains(field))
                    .map(|(field, cell)| (*field, cell.clone()))
                    .collect();
                let mut records = self
                    .update_records_in(
                        &mut conn,
                        ctx,
                        schema,
                        vec![RecordUpdate {
                            id,
                            expected_version: None,
                            cells,
                        }],
                    )
                    .await?;
                if let Some(RowGuard {
                    after: Some(rule), ..
                }) = update
                {
                    self.require_rows_within(&mut conn, schema, &[id], rule)
                        .await?;
                }
                FormWritten::Updated(
                    records
                        .pop()
                        .ok_or_else(|| StoreError::not_found("record"))?,
                )
            }
        };
        self.take_form_uploads(&mut conn, &write, written.record().id)
            .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Creates one sub-table's rows (not yet linked); their problems are reported at
    /// `<at>[<row>].<field key>`.
    async fn create_details(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        details: &FormDetails,
        org_time_zone: TimeZone,
    ) -> Result<Vec<RecordId>> {
        if details.rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows = details.rows.iter().cloned().map(present).collect();
        let outcome = self
            .create_records_in(conn, ctx, &details.schema, rows, org_time_zone, None)
            .await
            .map_err(|error| detail_problems(error, details))?;
        Ok(match outcome {
            WriteOutcome::Written(records) | WriteOutcome::Replayed(records) => {
                records.iter().map(|record| record.id).collect()
            }
        })
    }

    /// The row a returning visitor's upsert key names (`None`: create). On PostgreSQL a transaction
    /// advisory lock on the key makes two submissions of the same key find each other's row.
    async fn upsert_match(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        write: &FormWrite,
    ) -> Result<Option<RecordId>> {
        let key = write.upsert_keys.iter().find_map(|fields| {
            fields
                .iter()
                .map(|field| match write.cells.get(field) {
                    Some(Some(cell)) => Some((*field, cell.clone())),
                    _ => None,
                })
                .collect::<Option<Vec<(FieldId, CellValue)>>>()
        });
        let Some(key) = key else {
            return Ok(None);
        };
        let backend = conn.backend();
        if backend == Backend::Postgres {
            conn.execute(Sql::new("SELECT pg_advisory_xact_lock($1)").bind(lock_key(schema, &key)))
                .await?;
        }
        let mut sql = SqlText::new(backend);
        sql.push(&format!(
            "SELECT id FROM {} WHERE ",
            quote(&ddl::table_name(schema.table.id))
        ));
        for (i, (field, cell)) in key.iter().enumerate() {
            if i > 0 {
                sql.push(" AND ");
            }
            let storage = schema
                .field(*field)
                .map(|field| field.kind.storage())
                .ok_or_else(|| StoreError::not_found("field"))?;
            sql.push(&format!("{} = ", quote(&ddl::column_name(*field))))
                .arg(to_arg(Some(cell), storage, backend)?);
        }
        sql.push(" LIMIT 2");
        let found: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
        Ok(match found.as_slice() {
            [(id,)] => Some(RecordId::from_uuid(*id)),
            _ => None,
        })
    }

    /// Binds the submission's uploads to `record`; an upload of another submission, field or form, used
    /// already or expired, refuses the whole submission (the caller's transaction rolls back).
    async fn take_form_uploads(
        &self,
        conn: &mut Conn<'_>,
        write: &FormWrite,
        record: RecordId,
    ) -> Result<()> {
        let mut problems = Vec::new();
        for (field, attachment) in &write.uploads {
            let taken = match &write.submission {
                Some(submission) => {
                    conn.execute(
                        Sql::new(
                            "UPDATE form_uploads SET record_id = $1 WHERE organization_id = $2 AND attachment_id = $3 \
                             AND view_id = $4 AND field_id = $5 AND submission = $6 AND record_id IS NULL AND expires_at > $7",
                        )
                        .bind(*record.as_uuid())
                        .bind(self.org_id)
                        .bind(*attachment.as_uuid())
                        .bind(*write.view.as_uuid())
                        .bind(*field.as_uuid())
                        .bind(submission.as_str())
                        .bind(self.store.now()),
                    )
                    .await?
                }
                None => 0,
            };
            if taken != 1 {
                problems.push(RecordProblem {
                    index: 0,
                    field: Some(*field),
                    reason: Reason::new(
                        DetailCode::NotAllowed,
                        format!(
                            "file {attachment} was not uploaded for this submission, or is used or expired"
                        ),
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::InvalidRecords(problems))
        }
    }
}

/// The advisory lock of a key: FNV-1a over the table and the key's values.
fn lock_key(schema: &TableSchema, key: &[(FieldId, CellValue)]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(b"form-upsert");
    feed(schema.table.id.as_uuid().as_bytes());
    for (field, cell) in key {
        feed(field.as_uuid().as_bytes());
        feed(format!("{cell:?}").as_bytes());
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A sub-table's refused rows as problems at their cells (`fields.lines[1].qty`) or, for a broken
/// validation rule, at their row (`fields.lines[1]`).
fn detail_problems(error: StoreError, details: &FormDetails) -> StoreError {
    let (problems, rule) = match error {
        StoreError::InvalidRecords(problems) => (problems, false),
        StoreError::RuleBroken(problems) => (problems, true),
        other => return other,
    };
    let errors = problems
        .into_iter()
        .map(|problem| {
            let row = format!("{}[{}]", details.at, problem.index);
            let at = match problem.field.and_then(|id| details.schema.field(id)) {
                Some(field) if !rule => format!("{row}.{}", field.key),
                _ => row,
            };
            problem.reason.at(at)
        })
        .collect();
    StoreError::Invalid(Invalid(errors))
}
