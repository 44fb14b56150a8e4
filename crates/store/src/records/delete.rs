//! Deleting records: their links go with them, the records they linked to are recomputed and noted as
//! touched, and each deleted record gets its audit entry and `record.deleted` event in the same transaction.

use std::collections::HashSet;

use tenon_model::apps::{CellValue, FieldKind, Storage, TableSchema};
use tenon_model::{Action, Reason, RecordId, TargetKind};
use uuid::Uuid;

use super::computed::{self, Changed};
use super::query::SqlText;
use super::touched;
use super::write::{IDS_PER_STATEMENT, RecordProblem, event_ids};
use crate::apps::ddl;
use crate::audit::{self, Change};
use crate::exec::{Arg, Conn, quote};
use crate::{Result, StoreError, Tenant, WriteContext};

impl Tenant<'_> {
    /// Deletes records (their links go with them) in one transaction.
    pub async fn delete_records(
        &self,
        ctx: &WriteContext,
        schema: &TableSchema,
        ids: &[RecordId],
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        self.delete_records_in(&mut conn, ctx, schema, ids).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Tenant::delete_records`] in the caller's transaction (a flow's `delete_record` step).
    pub(crate) async fn delete_records_in(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        schema: &TableSchema,
        ids: &[RecordId],
    ) -> Result<()> {
        // Locked: a concurrent delete of the same record waits and then finds it gone.
        let existing = self.load_records_for_update(conn, schema, ids).await?;
        let found: HashSet<RecordId> = existing.iter().map(|record| record.id).collect();
        let missing: Vec<RecordProblem> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !found.contains(id))
            .map(|(index, id)| RecordProblem {
                index,
                field: None,
                reason: Reason::not_found("record", format!("no record {id} in this table")),
            })
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::InvalidRecords(missing));
        }
        let mut schemas = computed::Schemas::tracking(ids.iter().map(|id| *id.as_uuid()));
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        // The records they link to lose a link: note them as they are now.
        for field in schema
            .fields
            .iter()
            .filter(|field| field.kind.storage() == Storage::Junction)
        {
            let FieldKind::Link {
                table: tenon_model::apps::LinkTarget::Resolved(target_table),
                ..
            } = field.kind
            else {
                continue;
            };
            let mut targets: Vec<RecordId> = Vec::new();
            for record in &existing {
                if let Some(CellValue::Ids(linked)) = record.cells.get(&field.id) {
                    for target in linked {
                        schemas.touched.reaches(*record.id.as_uuid(), *target);
                        if !schemas.touched.seen(*target) {
                            targets.push(RecordId::from_uuid(*target));
                        }
                    }
                }
            }
            targets.sort();
            targets.dedup();
            if !targets.is_empty() {
                let target_schema = self.schema_of(conn, &mut schemas, target_table).await?;
                self.note_records(conn, &target_schema, &targets, &mut schemas)
                    .await?;
            }
        }
        let readers_before = self
            .readers_of(conn, schema, &uuids, &Changed::All, &mut schemas)
            .await?;
        if schema
            .fields
            .iter()
            .any(|field| field.kind.storage() == Storage::Junction)
        {
            let going = self.record_names_in(conn, schema, &uuids).await?;
            schemas.touched.going(going);
        }
        let names = self
            .render_names_in(conn, schema, existing.iter(), &mut schemas)
            .await?;
        let table = quote(&ddl::table_name(schema.table.id));
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut sql = SqlText::new(conn.backend());
            sql.push(&format!("DELETE FROM {table} WHERE id IN ("))
                .args(chunk.iter().map(|id| Arg::Uuid(Some(*id.as_uuid()))))
                .push(")");
            conn.execute(sql.into_sql()).await?;
        }
        self.propagate(
            conn,
            schema,
            &[],
            Changed::All,
            readers_before,
            &mut schemas,
        )
        .await?;
        let changes = existing
            .iter()
            .map(|record| Change {
                target_kind: TargetKind::Record,
                target_id: record.id.to_string(),
                action: Action::Deleted,
                before: Some(touched::snapshot(schema, &names, record, None)),
                after: None,
                ctx,
            })
            .collect();
        let settled = self.settle_touched(conn, ctx, schema, &mut schemas).await?;
        let events = audit::record_many(conn, self, changes).await?;
        let events = event_ids(&existing, events);
        self.record_settled(conn, settled, &events).await?;
        let written = existing.iter().map(|r| (Some(r), None));
        self.watch_written(conn, ctx, schema, written, &events)
            .await?;
        Ok(())
    }
}
