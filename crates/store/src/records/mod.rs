//! Records of user tables: reading (one, a filtered and sorted page, counts, link values, the names that
//! label linked records) and writing (see `write`). A record's link values are read from the junction
//! tables and returned as cells like any other value.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use tenon_model::apps::filter::{Filter, SortKey};
use tenon_model::apps::{CellValue, Field, FieldKind, Record, RecordActor, Storage, TableSchema};
use tenon_model::{FieldId, RecordId};
use uuid::Uuid;

use crate::apps::ddl;
use crate::exec::{Conn, DynRow, PooledConn, Sql, quote};
use crate::{Result, StoreError, Tenant};

mod aggregate;
pub(crate) mod cells;
mod checks;
pub(crate) mod computed;
mod delete;
mod form_submit;
mod guard;
mod labels;
mod links;
mod query;
pub mod render;
mod touched;
mod write;

pub use aggregate::{Aggregation, Group, GroupValue, MetricValue};
pub use form_submit::{
    FORM_UPLOADS_PER_SUBMISSION_MAX, FormDetails, FormGuard, FormUploadSlot, FormWrite, FormWritten,
};
pub use guard::{MissingRecord, RowGuard};
pub use query::Cursor;
pub(crate) use query::column;
pub use write::{IdempotencyKey, RECORDS_PER_WRITE_MAX, RecordProblem, RecordUpdate, WriteOutcome};

/// What to list.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub filter: Option<Filter>,
    pub sort: Vec<SortKey>,
    /// Only these fields' values are read (all when `None`).
    pub fields: Option<Vec<FieldId>>,
    pub page_size: u32,
    pub after: Option<Cursor>,
    /// Records to skip before the page (a positional window; 0 with a cursor).
    pub offset: u64,
    pub count: bool,
    /// A condition formula (stored form, checked against the table) records must satisfy, besides `filter`.
    pub condition: Option<String>,
}

/// A page of records, the cursor after its last record (if more follow), and the total when asked for.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub next: Option<Cursor>,
    pub total: Option<i64>,
}

/// From this offset on, a positional window in a sort order counts the records first, to read a window
/// in the second half from the end (a window near the start sorts fewer records than the count costs).
const WINDOW_COUNT_FIRST_FROM: u64 = 5_000;

/// The system columns, then the field columns, in this order in every record query.
const SYSTEM_COLUMNS: &str =
    "r.id, r.version, r.created_at, r.modified_at, r.created_by, r.modified_by";
const SYSTEM_COLUMN_COUNT: usize = 6;

/// Column-stored fields among `wanted` (all when `None`), in schema order.
fn column_fields<'a>(schema: &'a TableSchema, wanted: Option<&[FieldId]>) -> Vec<&'a Field> {
    schema
        .fields
        .iter()
        .filter(|field| {
            !matches!(
                field.kind.storage(),
                Storage::Junction | Storage::System | Storage::Virtual
            )
        })
        .filter(|field| wanted.is_none_or(|wanted| wanted.contains(&field.id)))
        .collect()
}

/// A comment naming the stored type of every column of `columns`, which lets PostgreSQL keep a
/// statement over a user table prepared: a field's type change (its column dropped and remade under
/// the same name) changes the comment, hence the statement's text, so no connection runs a kept plan
/// whose result types changed ("cached plan must not change result type").
fn storage_tag(columns: &[&Field], backend: crate::exec::Backend) -> String {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new` starts from fixed keys: one text per signature for the life of the process.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for field in columns {
        field.id.as_uuid().hash(&mut hasher);
        ddl::column_type(field.kind.storage(), backend).hash(&mut hasher);
    }
    format!("/* columns {:016x} */ ", hasher.finish())
}

fn link_fields<'a>(schema: &'a TableSchema, wanted: Option<&[FieldId]>) -> Vec<&'a Field> {
    schema
        .fields
        .iter()
        .filter(|field| field.kind.storage() == Storage::Junction)
        .filter(|field| wanted.is_none_or(|wanted| wanted.contains(&field.id)))
        .collect()
}

fn select_list(columns: &[&Field]) -> String {
    let mut list = SYSTEM_COLUMNS.to_owned();
    for field in columns {
        list.push_str(", r.");
        list.push_str(&quote(&ddl::column_name(field.id)));
    }
    list
}

/// A record read in a statement that reads other columns beside it (a join): the statement selects
/// [`RecordRead::select`] first, then its own columns from [`RecordRead::width`] on, `FROM`
/// [`RecordRead::table`]. [`Tenant::complete_records`] then adds what is read apart (links, formulas).
pub(crate) struct RecordRead<'a> {
    columns: Vec<&'a Field>,
    table: String,
}

impl<'a> RecordRead<'a> {
    pub(crate) fn new(schema: &'a TableSchema) -> Self {
        RecordRead {
            columns: column_fields(schema, None),
            table: format!("{} AS r", quote(&ddl::table_name(schema.table.id))),
        }
    }

    /// `SELECT` and the record's columns (the record's table is `r`).
    pub(crate) fn select(&self) -> String {
        format!("SELECT {}", select_list(&self.columns))
    }

    /// The record's table, as `r`.
    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// The position of the statement's first own column.
    pub(crate) fn width(&self) -> usize {
        SYSTEM_COLUMN_COUNT + self.columns.len()
    }

    pub(crate) fn decode(&self, row: &DynRow) -> Result<Record> {
        decode_record(row, &self.columns)
    }
}

fn actor(value: Option<String>) -> Option<RecordActor> {
    let value: Value = serde_json::from_str(&value?).ok()?;
    Some(RecordActor {
        kind: value.get("type")?.as_str()?.to_owned(),
        id: value.get("id").and_then(Value::as_str).map(str::to_owned),
        name: value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

fn decode_record(row: &DynRow, columns: &[&Field]) -> Result<Record> {
    let mut cells = BTreeMap::new();
    for (i, field) in columns.iter().enumerate() {
        if let Some(cell) = cells::from_row(row, SYSTEM_COLUMN_COUNT + i, &field.kind)? {
            cells.insert(field.id, cell);
        }
    }
    Ok(Record {
        id: RecordId::from_uuid(row.uuid(0)?),
        version: row.int(1)?.unwrap_or(0),
        created_at: row
            .datetime(2)?
            .ok_or_else(|| StoreError::Corrupt("record without created_at".to_owned()))?,
        modified_at: row
            .datetime(3)?
            .ok_or_else(|| StoreError::Corrupt("record without modified_at".to_owned()))?,
        created_by: actor(row.text(4)?),
        modified_by: actor(row.text(5)?),
        cells,
    })
}

/// The fields a filter tree refers to.
fn filter_fields(filter: &Filter, out: &mut HashSet<FieldId>) {
    match filter {
        Filter::And(children) | Filter::Or(children) => {
            children.iter().for_each(|child| filter_fields(child, out));
        }
        Filter::Not(child) => filter_fields(child, out),
        Filter::Leaf(condition) => {
            out.insert(condition.field.id);
        }
    }
}

impl Tenant<'_> {
    pub async fn record(&self, schema: &TableSchema, id: RecordId) -> Result<Record> {
        let mut pooled = self.record_reader(schema).await?;
        let mut conn = pooled.conn();
        let mut records = self.load_records(&mut conn, schema, &[id], None).await?;
        self.read_virtual(&mut conn, schema, &mut records, None)
            .await?;
        records.pop().ok_or_else(|| StoreError::not_found("record"))
    }

    /// A connection to read records of `schema` by id with ([`Tenant::load_records`], rows only): on
    /// SQLite one that runs them on this thread ([`crate::exec::Direct`]), unless the table has formulas
    /// computed when read, whose context may need a typed read.
    pub(crate) async fn record_reader(&self, schema: &TableSchema) -> Result<PooledConn> {
        let computed_when_read = schema
            .fields
            .iter()
            .any(|field| field.kind.storage() == Storage::Virtual);
        Ok(if computed_when_read {
            self.store.pools.read().await?
        } else {
            self.store.pools.read_direct().await?
        })
    }

    /// Computes the formulas that are computed when read, for the records returned to a client.
    pub(crate) async fn read_virtual(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        records: &mut [Record],
        wanted: Option<&[FieldId]>,
    ) -> Result<()> {
        let needed = schema.fields.iter().any(|field| {
            field.kind.storage() == Storage::Virtual
                && wanted.is_none_or(|wanted| wanted.contains(&field.id))
        });
        if needed && !records.is_empty() {
            let ctx = self.eval_context(conn).await?;
            self.fill_virtual(schema, records, &ctx);
        }
        Ok(())
    }

    /// Records by id, in the order asked, skipping ids that do not exist.
    pub async fn records_by_ids(
        &self,
        schema: &TableSchema,
        ids: &[RecordId],
        fields: Option<&[FieldId]>,
    ) -> Result<Vec<Record>> {
        let mut pooled = self.record_reader(schema).await?;
        let mut conn = pooled.conn();
        // Formulas computed when read need their inputs: read every column when a field list is given.
        let all = schema
            .fields
            .iter()
            .any(|field| field.kind.storage() == Storage::Virtual);
        let mut records = self
            .load_records(&mut conn, schema, ids, if all { None } else { fields })
            .await?;
        self.read_virtual(&mut conn, schema, &mut records, fields)
            .await?;
        Ok(records)
    }

    pub(crate) async fn load_records(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        wanted: Option<&[FieldId]>,
    ) -> Result<Vec<Record>> {
        self.load_records_where(conn, schema, ids, wanted, None, false)
            .await
    }

    /// [`Tenant::load_records`] of records the transaction is about to change or delete, locked until it
    /// ends (PostgreSQL, in id order; SQLite's single writer holds them anyway): a concurrent writer of one
    /// of them waits for the commit and then reads what it committed, so each write's before-image (its
    /// event's `before`, its `If-Match` check) is the record as the previous write left it, and of racing
    /// deletes one finds the record and the others find it gone.
    pub(crate) async fn load_records_for_update(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
    ) -> Result<Vec<Record>> {
        self.load_records_where(conn, schema, ids, None, None, true)
            .await
    }

    /// [`Tenant::load_records`] of the records `filter` accepts (a NULL condition does not).
    pub(crate) async fn load_records_where(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        wanted: Option<&[FieldId]>,
        filter: Option<&Filter>,
        for_update: bool,
    ) -> Result<Vec<Record>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let columns = column_fields(schema, wanted);
        let mut sql = query::SqlText::new(conn.backend());
        if ids.len() == 1 && conn.backend() == crate::exec::Backend::Postgres {
            // One record by id (a get, a write's read): few texts per table, a plan PostgreSQL keeps
            // (one round trip instead of two, no planning). SQLite keeps every statement anyway.
            sql = sql.kept();
            sql.push(&storage_tag(&columns, conn.backend()));
        }
        sql.push(&format!(
            "SELECT {} FROM {} AS r WHERE r.id IN (",
            select_list(&columns),
            quote(&ddl::table_name(schema.table.id))
        ));
        sql.args(
            ids.iter()
                .map(|id| crate::exec::Arg::Uuid(Some(*id.as_uuid()))),
        );
        sql.push(")");
        if let Some(filter) = filter {
            sql.push(" AND COALESCE((");
            query::filter(&mut sql, filter)?;
            sql.push("), FALSE)");
        }
        if for_update && conn.backend() == crate::exec::Backend::Postgres {
            sql.push(" ORDER BY r.id FOR UPDATE");
        }
        let rows = conn.fetch_rows(sql.into_sql()).await?;
        let mut by_id: HashMap<RecordId, Record> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let record = decode_record(row, &columns)?;
            by_id.insert(record.id, record);
        }
        let mut records: Vec<Record> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        self.attach_links(conn, schema, &mut records, wanted)
            .await?;
        Ok(records)
    }

    /// Completes records read by a [`RecordRead`]: their link values (one query per link field) and the
    /// formulas computed when read.
    pub(crate) async fn complete_records(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        records: &mut [Record],
    ) -> Result<()> {
        self.attach_links(conn, schema, records, None).await?;
        self.read_virtual(conn, schema, records, None).await
    }

    /// A page of records matching a filter, in sort order.
    pub async fn list_records(
        &self,
        schema: &TableSchema,
        query: &RecordQuery,
    ) -> Result<RecordPage> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let has_virtual = schema
            .fields
            .iter()
            .any(|field| field.kind.storage() == Storage::Virtual);
        // Formulas computed when read need all their inputs: read every column then.
        let wanted = if has_virtual {
            None
        } else {
            query.fields.as_deref()
        };
        let columns = column_fields(schema, wanted);
        let mut referenced: HashSet<FieldId> = HashSet::new();
        if let Some(filter) = &query.filter {
            filter_fields(filter, &mut referenced);
        }
        referenced.extend(query.sort.iter().map(|key| key.field.id));
        if let Some(condition) = &query.condition {
            referenced.extend(tenon_model::apps::computed::stored_references(condition));
        }
        let derived: Vec<&Field> = schema
            .fields
            .iter()
            .filter(|field| {
                field.kind.storage() == Storage::Virtual && referenced.contains(&field.id)
            })
            .collect();
        let ctx = if has_virtual || query.condition.is_some() {
            Some(self.eval_context(&mut conn).await?)
        } else {
            None
        };
        let condition = match (&query.condition, &ctx) {
            (Some(stored), Some(ctx)) => Some(computed::compile(
                stored,
                schema,
                "r",
                conn.backend(),
                ctx,
                "formula",
            )?),
            _ => None,
        };
        let from_and_where = |sql: &mut query::SqlText| -> Result<()> {
            match &ctx {
                Some(ctx) => computed::push_from(sql, schema, &derived, ctx)?,
                None => {
                    sql.push(&format!(
                        "{} AS r",
                        quote(&ddl::table_name(schema.table.id))
                    ));
                }
            }
            sql.push(" WHERE ");
            match &query.filter {
                Some(filter) => query::filter(sql, filter)?,
                None => {
                    sql.push("1 = 1");
                }
            }
            if let Some(condition) = &condition {
                sql.push(" AND (");
                computed::push_expr(sql, condition)?;
                sql.push(")");
            }
            Ok(())
        };
        let backend = conn.backend();
        let count = || -> Result<crate::exec::Sql> {
            let mut count = query::SqlText::new(backend);
            count.push("SELECT COUNT(*) FROM ");
            from_and_where(&mut count)?;
            Ok(count.into_sql())
        };
        let mut total = None;
        let wanted_rows = u64::from(query.page_size) + 1;
        // A positional window: the ids of the window first, sorting only (sort values, id) past the
        // skipped records (or walking the primary key in the default order), then the window's rows by
        // id. Deep in the order, the count comes first and a window in the second half is read from the
        // end in the reverse order, so no window sorts more than half the records (docs/benchmarks.md,
        // #22). The count and the window are two statements: a record written between them moves the
        // window by one, as any later read would.
        let window = if query.offset > 0 && query.after.is_none() {
            if query.offset >= WINDOW_COUNT_FIRST_FROM || query.count {
                let (counted,): (i64,) = conn.fetch_one(count()?).await?;
                total = Some(counted);
            }
            let mut ids = query::SqlText::new(conn.backend());
            ids.push("SELECT r.id FROM ");
            from_and_where(&mut ids)?;
            let (limit, offset) = match total.map(|total| u64::try_from(total).unwrap_or(0)) {
                Some(total) if query.offset >= total => (0, 0),
                Some(total) if query.offset.saturating_mul(2) > total => {
                    // Positions offset..=last, counted from the end.
                    let last = (query.offset + wanted_rows).min(total) - 1;
                    query::order_by_reversed(&mut ids, &query.sort);
                    (last - query.offset + 1, total - 1 - last)
                }
                _ => {
                    query::order_by(&mut ids, &query.sort);
                    (wanted_rows, query.offset)
                }
            };
            if limit == 0 {
                Some(Vec::new())
            } else {
                let int =
                    |n: u64| crate::exec::Arg::Int(Some(i64::try_from(n).unwrap_or(i64::MAX)));
                ids.limit(limit);
                ids.push(" OFFSET ").arg(int(offset));
                let ids: Vec<(Uuid,)> = conn.fetch_all(ids.into_sql()).await?;
                Some(ids.into_iter().map(|(id,)| id).collect::<Vec<_>>())
            }
        } else {
            None
        };
        let mut sql = query::SqlText::new(conn.backend());
        sql.push("SELECT ").push(&select_list(&columns));
        for key in &query.sort {
            sql.push(", ")
                .push(&query::column(&key.field.kind, key.field.id));
        }
        sql.push(" FROM ");
        from_and_where(&mut sql)?;
        if let Some(cursor) = &query.after {
            sql.push(" AND ");
            query::after_cursor(&mut sql, &query.sort, cursor)?;
        }
        match &window {
            Some(ids) if ids.is_empty() => {
                sql.push(" AND 1 = 0");
            }
            Some(ids) => {
                sql.push(" AND r.id IN (");
                sql.args(ids.iter().map(|id| crate::exec::Arg::Uuid(Some(*id))));
                sql.push(")");
            }
            None => {}
        }
        query::order_by(&mut sql, &query.sort);
        sql.limit(u64::from(query.page_size) + 1);
        if query.offset > 0 && window.is_none() {
            sql.push(" OFFSET ").arg(crate::exec::Arg::Int(Some(
                i64::try_from(query.offset).unwrap_or(i64::MAX),
            )));
        }
        let rows = conn.fetch_rows(sql.into_sql()).await?;
        let has_more = rows.len() > query.page_size as usize;
        let kept = &rows[..rows.len().min(query.page_size as usize)];
        let mut records = kept
            .iter()
            .map(|row| decode_record(row, &columns))
            .collect::<Result<Vec<_>>>()?;
        let next = match (has_more, kept.last()) {
            (true, Some(last)) => Some(Cursor {
                values: query::cursor_values(
                    last,
                    &query.sort,
                    SYSTEM_COLUMN_COUNT + columns.len(),
                )?,
                id: last.uuid(0)?,
            }),
            _ => None,
        };
        self.attach_links(&mut conn, schema, &mut records, wanted)
            .await?;
        if let Some(ctx) = &ctx {
            self.fill_virtual(schema, &mut records, ctx);
        }
        let total = match total {
            Some(total) if query.count => Some(total),
            _ if query.count => {
                let (total,): (i64,) = conn.fetch_one(count()?).await?;
                Some(total)
            }
            _ => None,
        };
        Ok(RecordPage {
            records,
            next,
            total,
        })
    }

    /// Fills the link cells of `records` from the junction tables (one query per link field).
    async fn attach_links(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        records: &mut [Record],
        wanted: Option<&[FieldId]>,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = records.iter().map(|record| *record.id.as_uuid()).collect();
        for field in link_fields(schema, wanted) {
            let links = self.links_of(conn, field, &ids).await?;
            for record in records.iter_mut() {
                if let Some(targets) = links.get(record.id.as_uuid()) {
                    record
                        .cells
                        .insert(field.id, CellValue::Ids(targets.clone()));
                }
            }
        }
        Ok(())
    }

    /// For each of `ids`, the records its link field points to, in link order.
    pub(crate) async fn links_of(
        &self,
        conn: &mut Conn<'_>,
        field: &Field,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Uuid>>> {
        let FieldKind::Link {
            inverse: Some(inverse),
            ..
        } = field.kind
        else {
            return Ok(HashMap::new());
        };
        let (mine, other) = if field.id < inverse {
            ("source_id", "target_id")
        } else {
            ("target_id", "source_id")
        };
        let mut links: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for chunk in ids.chunks(write::IDS_PER_STATEMENT) {
            let mut sql = query::SqlText::new(conn.backend());
            sql.push(&format!(
                "SELECT {mine}, {other} FROM {} WHERE {mine} IN (",
                quote(&ddl::junction_name(field.id, inverse))
            ));
            sql.args(chunk.iter().map(|id| crate::exec::Arg::Uuid(Some(*id))));
            sql.push(&format!(") ORDER BY {mine}, position, {other}"));
            for row in conn.fetch_rows(sql.into_sql()).await? {
                links.entry(row.uuid(0)?).or_default().push(row.uuid(1)?);
            }
        }
        Ok(links)
    }

    /// The label of each record: its primary field's value as text (or its id when it has none).
    pub async fn record_names(
        &self,
        schema: &TableSchema,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut pooled = self.store.pools.read().await?;
        self.record_names_in(&mut pooled.conn(), schema, ids).await
    }

    pub(crate) async fn record_names_in(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>> {
        let primary = schema.primary_field().filter(|field| {
            !matches!(
                field.kind.storage(),
                Storage::Junction | Storage::System | Storage::Virtual
            )
        });
        let mut names = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(write::IDS_PER_STATEMENT) {
            let mut sql = query::SqlText::new(conn.backend());
            let column = primary.map_or_else(
                || "NULL".to_owned(),
                |field| format!("r.{}", quote(&ddl::column_name(field.id))),
            );
            sql.push(&format!(
                "SELECT r.id, {column} FROM {} AS r WHERE r.id IN (",
                quote(&ddl::table_name(schema.table.id))
            ));
            sql.args(chunk.iter().map(|id| crate::exec::Arg::Uuid(Some(*id))));
            sql.push(")");
            for row in conn.fetch_rows(sql.into_sql()).await? {
                let id = row.uuid(0)?;
                let name = match primary {
                    Some(field) => cells::from_row(&row, 1, &field.kind)?.map(|cell| label(&cell)),
                    None => None,
                };
                names.insert(id, name.unwrap_or_default());
            }
        }
        Ok(names)
    }

    /// Counts the records of a table (for tests and summaries).
    pub async fn count_records(&self, schema: &TableSchema) -> Result<i64> {
        let mut pooled = self.store.pools.read().await?;
        let sql = Sql::generated(format!(
            "SELECT COUNT(*) FROM {}",
            quote(&ddl::table_name(schema.table.id))
        ));
        let (count,): (i64,) = pooled.conn().fetch_one(sql).await?;
        Ok(count)
    }
}

/// A cell as a short text label (for linked records' names).
pub fn label(cell: &CellValue) -> String {
    match cells::to_json(cell) {
        Value::String(text) => text,
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
