//! Writes guarded by row rules (issue #19): a member's write is allowed when every record satisfies the
//! rule before it (update, delete) and after it (create, update). The check runs in the write's
//! transaction with the rule compiled like any filter, so a refused write leaves nothing behind.

use std::collections::{BTreeMap, HashSet};

use tenon_model::apps::filter::Filter;
use tenon_model::apps::{CellValue, Record, TableSchema};
use tenon_model::{AttachmentId, FieldId, RecordId, TimeZone};
use uuid::Uuid;

use super::query;
use super::write::{IDS_PER_STATEMENT, IdempotencyKey, RecordUpdate, WriteOutcome};
use crate::apps::ddl;
use crate::exec::{Arg, Backend, Conn, quote};
use crate::{Result, StoreError, Tenant, WriteContext};

/// The row rules a write must respect: `before` (update, delete) and `after` (create, update). `None`
/// means every row.
#[derive(Debug, Clone, Default)]
pub struct RowGuard {
    pub before: Option<Filter>,
    pub after: Option<Filter>,
}

/// Whether a record that does not exist (deleted, or never made) counts as within a row rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingRecord {
    /// Within: the caller answers for a missing record itself (a get answers 404 first).
    Within,
    /// Outside: there is no row to evaluate the rule on (record history, an event's record).
    Outside,
}

impl Tenant<'_> {
    /// Among `ids`, the records that exist and whose `COALESCE(filter, FALSE)` is `accepted` (every
    /// existing one when there is no filter); in no particular order.
    async fn existing_where(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        filter: Option<&Filter>,
        accepted: bool,
    ) -> Result<Vec<RecordId>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = query::SqlText::new(conn.backend());
            sql.push(&format!(
                "SELECT r.id FROM {} AS r WHERE r.id IN ",
                quote(&ddl::table_name(schema.table.id))
            ));
            sql.list(chunk.iter().map(|id| Arg::Uuid(Some(*id.as_uuid()))));
            if let Some(filter) = filter {
                // A condition that is NULL (an empty cell) does not accept the record.
                sql.push(if accepted { " AND " } else { " AND NOT " });
                sql.push("COALESCE((");
                query::filter(&mut sql, filter)?;
                sql.push("), FALSE)");
            }
            for row in conn.fetch_rows(sql.into_sql()).await? {
                found.push(RecordId::from_uuid(row.uuid(0)?));
            }
        }
        Ok(found)
    }

    /// Among `ids`, those that exist and that the filter does not accept.
    pub(crate) async fn outside_filter(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        filter: &Filter,
    ) -> Result<Vec<RecordId>> {
        self.existing_where(conn, schema, ids, Some(filter), false)
            .await
    }

    /// Among `ids` (in their order), those the filter accepts (every one when `None`), a record that
    /// does not exist counting as `missing` says: a read check computed in SQL.
    pub async fn records_within(
        &self,
        schema: &TableSchema,
        ids: &[RecordId],
        filter: Option<&Filter>,
        missing: MissingRecord,
    ) -> Result<Vec<RecordId>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let (found, keep_found): (HashSet<RecordId>, bool) = match (missing, filter) {
            (MissingRecord::Within, None) => return Ok(ids.to_vec()),
            (MissingRecord::Within, Some(filter)) => {
                let outside = self.outside_filter(&mut conn, schema, ids, filter).await?;
                (outside.into_iter().collect(), false)
            }
            (MissingRecord::Outside, filter) => (
                self.existing_where(&mut conn, schema, ids, filter, true)
                    .await?
                    .into_iter()
                    .collect(),
                true,
            ),
        };
        Ok(ids
            .iter()
            .filter(|id| found.contains(id) == keep_found)
            .copied()
            .collect())
    }

    async fn require_within(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        filter: Option<&Filter>,
    ) -> Result<()> {
        let Some(filter) = filter else {
            return Ok(());
        };
        let outside = self.outside_filter(conn, schema, ids, filter).await?;
        match ids.iter().find(|id| outside.contains(id)) {
            Some(id) => Err(StoreError::RowForbidden {
                record: id.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Refuses with [`StoreError::RowForbidden`] when one of `ids` falls outside `filter` (a
    /// sub-table's rows against the member's create rule, in the submission's transaction).
    pub(crate) async fn require_rows_within(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        filter: &Filter,
    ) -> Result<()> {
        self.require_within(conn, schema, ids, Some(filter)).await
    }

    /// [`Tenant::create_records`], refused with [`StoreError::RowForbidden`] (nothing written) when a new
    /// record falls outside `guard.after`.
    pub async fn create_records_guarded(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        rows: Vec<BTreeMap<FieldId, CellValue>>,
        org_time_zone: TimeZone,
        idempotency: Option<&IdempotencyKey>,
        guard: &RowGuard,
    ) -> Result<WriteOutcome> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let outcome = self
            .create_records_in(&mut conn, ctx, schema, rows, org_time_zone, idempotency)
            .await?;
        if let WriteOutcome::Written(records) = &outcome {
            let ids: Vec<RecordId> = records.iter().map(|record| record.id).collect();
            self.require_within(&mut conn, schema, &ids, guard.after.as_ref())
                .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// [`Tenant::update_records`] with the records checked against `guard.before` first and
    /// `guard.after` once changed, in the same transaction.
    pub async fn update_records_guarded(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        updates: Vec<RecordUpdate>,
        guard: &RowGuard,
    ) -> Result<Vec<tenon_model::apps::Record>> {
        let ids: Vec<RecordId> = updates.iter().map(|update| update.id).collect();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        self.check_no_running_approval(&mut conn, schema, &updates)
            .await?;
        self.require_within(&mut conn, schema, &ids, guard.before.as_ref())
            .await?;
        let records = self
            .update_records_in(&mut conn, ctx, schema, updates)
            .await?;
        self.require_within(&mut conn, schema, &ids, guard.after.as_ref())
            .await?;
        tx.commit().await?;
        Ok(records)
    }

    /// One record for a reader limited to the rows `rule` accepts (every row when `None`), in one
    /// statement when she may read it: 404 `not_found` when it does not exist, [`StoreError::RowForbidden`]
    /// when the rule leaves it out.
    pub async fn record_within(
        &self,
        schema: &TableSchema,
        id: RecordId,
        rule: Option<&Filter>,
    ) -> Result<Record> {
        let Some(rule) = rule else {
            return self.record(schema, id).await;
        };
        let mut pooled = self.record_reader(schema).await?;
        let mut conn = pooled.conn();
        let mut records = self
            .load_records_where(&mut conn, schema, &[id], None, Some(rule), false)
            .await?;
        if let Some(mut record) = records.pop() {
            self.read_virtual(&mut conn, schema, std::slice::from_mut(&mut record), None)
                .await?;
            return Ok(record);
        }
        if self
            .existing_where(&mut conn, schema, &[id], None, true)
            .await?
            .is_empty()
        {
            Err(StoreError::not_found("record"))
        } else {
            Err(StoreError::RowForbidden {
                record: id.to_string(),
            })
        }
    }

    /// Whether a record of the table holds the file `file` in one of `fields` without `readable`
    /// accepting it (every record holding it counts when `readable` is `None`): the download check of a
    /// file for a member who may not read every row or field of the table. One statement, a scan of the
    /// table: only members limited by an app's permissions ask.
    pub async fn file_held_outside(
        &self,
        schema: &TableSchema,
        fields: &[FieldId],
        file: AttachmentId,
        readable: Option<&Filter>,
    ) -> Result<bool> {
        if fields.is_empty() {
            return Ok(false);
        }
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let backend = conn.backend();
        let mut sql = query::SqlText::new(backend);
        sql.push(&format!(
            "SELECT r.id FROM {} AS r WHERE (",
            quote(&ddl::table_name(schema.table.id))
        ));
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            let column = quote(&ddl::column_name(*field));
            match backend {
                Backend::Postgres => {
                    sql.push(&format!("r.{column} @> CAST("));
                    sql.arg(Arg::Text(Some(format!("[\"{file}\"]"))));
                    sql.push(" AS JSONB)");
                }
                Backend::Sqlite => {
                    sql.push(&format!(
                        "EXISTS (SELECT 1 FROM json_each(r.{column}) AS e WHERE e.value = "
                    ));
                    sql.arg(Arg::Text(Some(file.to_string())));
                    sql.push(")");
                }
            }
        }
        sql.push(")");
        if let Some(filter) = readable {
            // A condition that is NULL (an empty cell) does not accept the record.
            sql.push(" AND NOT COALESCE((");
            query::filter(&mut sql, filter)?;
            sql.push("), FALSE)");
        }
        sql.push(" LIMIT 1");
        let found: Option<(Uuid,)> = conn.fetch_optional(sql.into_sql()).await?;
        Ok(found.is_some())
    }

    /// [`Tenant::delete_records`] with the records checked against `guard.before` first.
    pub async fn delete_records_guarded(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        ids: &[RecordId],
        guard: &RowGuard,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        self.require_within(&mut conn, schema, ids, guard.before.as_ref())
            .await?;
        self.delete_records_in(&mut conn, ctx, schema, ids).await?;
        tx.commit().await?;
        Ok(())
    }
}
