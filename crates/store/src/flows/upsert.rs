//! The `upsert` step: creates a record, or updates the one whose values of a unique field (or of a
//! `unique_together` group) are those given.
//!
//! Race-safe through the unique index: on PostgreSQL the step first takes a transaction-scoped advisory
//! lock on (table, key values), so two runs upserting the same key one after the other find, the second,
//! the record the first created; on SQLite the writer is single. A plain write of the same key by
//! someone else in between still meets the index: the step's transaction rolls back (nothing written)
//! and it is retried, finding that record then.

use serde_json::{Map, Value, json};
use tenon_flows::retry::Failure;
use tenon_model::apps::input::{WriteMode, present};
use tenon_model::apps::{CellValue, TableSchema};
use tenon_model::{DetailCode, FieldId, RecordId};
use uuid::Uuid;

use super::actions::{Outcome, StepFailure, output};
use crate::apps::ddl;
use crate::exec::{Backend, Conn, Sql, quote};
use crate::records::RecordUpdate;
use crate::records::cells::to_arg;
use crate::sql::SqlText;
use crate::{StoreError, Tenant, WriteContext};

impl Tenant<'_> {
    pub(super) async fn upsert(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        target: &TableSchema,
        on: &[String],
        input: Map<String, Value>,
    ) -> std::result::Result<Outcome, StepFailure> {
        let given = Value::Object(input.clone());
        let fail = |error: StoreError| StepFailure::store(error, &given);
        let cells = self
            .parse_fields(conn, target, &input, WriteMode::Create)
            .await?;
        let mut key: Vec<(FieldId, CellValue)> = Vec::new();
        for id in on {
            let field = id
                .parse::<FieldId>()
                .ok()
                .and_then(|id| target.field(id))
                .ok_or_else(|| StepFailure::mapping(format!("field {id} was deleted"), &given))?;
            match cells.get(&field.id).cloned().flatten() {
                Some(cell) => key.push((field.id, cell)),
                None => {
                    return Err(StepFailure::mapping(
                        format!(
                            "fields.{}: the upsert matches records on it and it has no value",
                            field.key
                        ),
                        &given,
                    ));
                }
            }
        }
        let backend = conn.backend();
        if backend == Backend::Postgres {
            let lock = lock_key(target, &key);
            conn.execute(Sql::new("SELECT pg_advisory_xact_lock($1)").bind(lock))
                .await
                .map_err(|e| fail(e.into()))?;
        }
        let mut sql = SqlText::new(backend);
        sql.push(&format!(
            "SELECT id FROM {} WHERE ",
            quote(&ddl::table_name(target.table.id))
        ));
        for (i, (field, cell)) in key.iter().enumerate() {
            if i > 0 {
                sql.push(" AND ");
            }
            let storage = target
                .field(*field)
                .map(|f| f.kind.storage())
                .ok_or_else(|| StepFailure::mapping("a key field was deleted", &given))?;
            sql.push(&format!("{} = ", quote(&ddl::column_name(*field))))
                .arg(to_arg(Some(cell), storage, backend).map_err(fail)?);
        }
        sql.push(" LIMIT 2");
        let found: Vec<(Uuid,)> = conn
            .fetch_all(sql.into_sql())
            .await
            .map_err(|e| fail(e.into()))?;
        let input_json = json!({
            "on": key.iter().filter_map(|(id, _)| target.field(*id)).map(|f| f.key.to_string()).collect::<Vec<_>>(),
            "fields": given,
        });
        let (record, created) = match found.as_slice() {
            [] => {
                let zone = self.zone(conn).await.map_err(fail)?;
                let outcome = self
                    .create_records_in(conn, ctx, target, vec![present(cells)], zone, None)
                    .await
                    .map_err(|error| taken(error, &input_json))?;
                let record = match outcome {
                    crate::records::WriteOutcome::Written(mut records)
                    | crate::records::WriteOutcome::Replayed(mut records) => records.pop(),
                };
                (record, true)
            }
            [(id,)] => {
                let cells = self
                    .parse_fields(conn, target, &input, WriteMode::Update)
                    .await?;
                let mut records = self
                    .update_records_in(
                        conn,
                        ctx,
                        target,
                        vec![RecordUpdate {
                            id: RecordId::from_uuid(*id),
                            expected_version: None,
                            cells,
                        }],
                    )
                    .await
                    .map_err(|error| taken(error, &input_json))?;
                (records.pop(), false)
            }
            _ => {
                return Err(StepFailure::mapping(
                    "more than one record has these values: the key is not unique",
                    &input_json,
                ));
            }
        };
        let record =
            record.ok_or_else(|| StepFailure::mapping("no record was written", &input_json))?;
        let mut output = output(target, &record);
        if let Value::Object(map) = &mut output {
            map.insert("created".to_owned(), json!(created));
        }
        Ok(Outcome {
            input: input_json,
            output,
            branch: None,
        })
    }
}

/// A unique value taken meanwhile by a write that is not an upsert of this key: retried (the retry finds
/// the record); every other refusal as usual.
fn taken(error: StoreError, input: &Value) -> StepFailure {
    let conflict = matches!(&error, StoreError::InvalidRecords(problems)
        if problems.iter().any(|p| p.reason.code == DetailCode::NotUnique));
    let mut failure = StepFailure::store(error, input);
    if conflict {
        failure.failure = Failure::Unavailable;
    }
    failure
}

/// The advisory lock of a key: FNV-1a over the organization, the table and the key's values.
fn lock_key(target: &TableSchema, key: &[(FieldId, CellValue)]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(target.table.id.as_uuid().as_bytes());
    for (field, cell) in key {
        feed(field.as_uuid().as_bytes());
        feed(format!("{cell:?}").as_bytes());
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}
