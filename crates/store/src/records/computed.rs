//! Keeping computed fields current, and computing the ones that are never stored.
//!
//! Stored (formulas without `TODAY()`/`NOW()`, lookups, rollups, counts): computed in Rust inside the
//! write's transaction — for the written records before they are saved, then for every record on any table
//! that reads them through a link, level by level, until nothing changes. Reads, filters, sorts and
//! aggregates then see plain columns (indexable; no per-row subqueries).
//!
//! Computed when read (formulas with `TODAY()`/`NOW()`): evaluated in Rust for the records returned; when a
//! filter or sort needs them, compiled to SQL over a derived table (`FROM (SELECT r0.*, <formula> AS
//! "f_…" FROM t AS r0) AS r`), so the rest of the query is unchanged.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use tenon_model::apps::computed::{self, FormulaDef};
use tenon_model::apps::formula::sql::{Bind, Dialect, SqlExpr};
use tenon_model::apps::formula::{self, EvalContext};
use tenon_model::apps::{CellValue, Field, FieldKind, FieldRef, Record, Storage, TableSchema};
use tenon_model::{DetailCode, FieldId, RecordId, TableId};
use uuid::Uuid;

use super::query::SqlText;
use super::{cells, column};
use crate::apps::ddl;
use crate::exec::{Arg, Backend, Conn, quote};
use crate::{Result, StoreError, Tenant};

/// Most rounds of propagation through links before a write is refused (a longer chain means a cycle).
const PROPAGATION_ROUNDS_MAX: usize = 64;

/// What changed in a table's records, for deciding which computed fields elsewhere must follow.
#[derive(Debug, Clone)]
pub(crate) enum Changed {
    /// Records were created or deleted: everything about them changed.
    All,
    Fields(HashSet<FieldId>),
}

impl Changed {
    fn touches(&self, field: FieldId) -> bool {
        match self {
            Changed::All => true,
            Changed::Fields(fields) => fields.contains(&field),
        }
    }
}

/// Schemas of the tables a propagation visits, loaded once, and what the write touched on the way
/// ([`super::touched`]).
#[derive(Default)]
pub(crate) struct Schemas {
    pub(crate) tables: HashMap<TableId, TableSchema>,
    pub(crate) touched: super::touched::Touched,
}

impl Schemas {
    /// For a write of `direct` records, noting what else it touches.
    pub(crate) fn tracking(direct: impl IntoIterator<Item = Uuid>) -> Schemas {
        Schemas {
            tables: HashMap::new(),
            touched: super::touched::Touched::new(direct),
        }
    }
}

impl Tenant<'_> {
    /// The formula context: the store's clock and the organization's time zone.
    pub(crate) async fn eval_context(&self, conn: &mut Conn<'_>) -> Result<EvalContext> {
        let zone = self.zone_in(conn).await?;
        Ok(EvalContext::new(self.store.now(), zone.tz()))
    }

    /// The organization's time zone in a transaction ([`Tenant::organization_in`]: from this node's cache
    /// when it can).
    pub(crate) async fn zone_in(&self, conn: &mut Conn<'_>) -> Result<tenon_model::TimeZone> {
        Ok(self.organization_in(conn).await?.time_zone)
    }

    pub(crate) async fn schema_of(
        &self,
        conn: &mut Conn<'_>,
        schemas: &mut Schemas,
        table: TableId,
    ) -> Result<TableSchema> {
        if let Some(schema) = schemas.tables.get(&table) {
            return Ok(schema.clone());
        }
        let schema = self.kept_schema_by_id(conn, table).await?;
        schemas.tables.insert(table, schema.clone());
        Ok(schema)
    }

    /// Computes the stored computed fields of records in memory (`rows`: cells by field id, links
    /// included as ids). `system` gives each row's created and modified instants.
    pub(crate) async fn compute_rows(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        rows: &mut [BTreeMap<FieldId, CellValue>],
        system: &[(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)],
        ctx: &EvalContext,
        schemas: &mut Schemas,
    ) -> Result<()> {
        // Lookups, rollups and counts first: formulas may read them.
        for field in &schema.fields {
            let (link, read) = match &field.kind {
                FieldKind::Lookup {
                    link, field: read, ..
                }
                | FieldKind::Rollup {
                    link, field: read, ..
                } => (link, read.id()),
                FieldKind::Count { link } => (link, None),
                _ => continue,
            };
            let Some(link) = link.id().and_then(|id| schema.field(id)) else {
                continue;
            };
            let FieldKind::Link {
                table: tenon_model::apps::LinkTarget::Resolved(target),
                ..
            } = &link.kind
            else {
                continue;
            };
            let targets: Vec<RecordId> = rows
                .iter()
                .flat_map(|row| match row.get(&link.id) {
                    Some(CellValue::Ids(ids)) => ids.clone(),
                    _ => Vec::new(),
                })
                .collect::<HashSet<Uuid>>()
                .into_iter()
                .map(RecordId::from_uuid)
                .collect();
            let (values, element) = match read {
                Some(read) => {
                    let other = self.schema_of(conn, schemas, *target).await?;
                    let element = other
                        .field(read)
                        .and_then(|f| computed::formula_kind(&f.kind));
                    let records = if targets.is_empty() {
                        Vec::new()
                    } else {
                        self.load_records(conn, &other, &targets, Some(&[read]))
                            .await?
                    };
                    let values: HashMap<Uuid, Option<CellValue>> = records
                        .into_iter()
                        .map(|record| (*record.id.as_uuid(), record.cells.get(&read).cloned()))
                        .collect();
                    (values, element)
                }
                None => (HashMap::new(), None),
            };
            for row in rows.iter_mut() {
                let linked: Vec<Uuid> = match row.get(&link.id) {
                    Some(CellValue::Ids(ids)) => ids.clone(),
                    _ => Vec::new(),
                };
                let cells: Vec<Option<&CellValue>> = linked
                    .iter()
                    .filter(|id| read.is_none() || values.contains_key(*id))
                    .map(|id| values.get(id).and_then(Option::as_ref))
                    .collect();
                match computed::summarize(&field.kind, element.as_ref(), &cells) {
                    Some(cell) => row.insert(field.id, cell),
                    None => row.remove(&field.id),
                };
            }
        }
        let order = computed::formula_order(schema).map_err(|cycle| {
            StoreError::Corrupt(format!(
                "formulas refer to each other in a cycle: {cycle:?}"
            ))
        })?;
        for field in order {
            let FieldKind::Formula {
                formula: FormulaDef::Checked(formula),
            } = &field.kind
            else {
                continue;
            };
            let storage = field.kind.storage();
            if storage == Storage::Virtual {
                continue;
            }
            for (row, (created, modified)) in rows.iter_mut().zip(system) {
                with_system_cells(schema, row, *created, *modified);
                let value = computed::eval_formula(formula, row, ctx);
                match computed::value_cell(&value, storage) {
                    Some(cell) => row.insert(field.id, cell),
                    None => row.remove(&field.id),
                };
            }
        }
        for row in rows.iter_mut() {
            without_system_cells(schema, row);
        }
        Ok(())
    }

    /// Fills the values of formulas computed when read (those using `TODAY()`/`NOW()`).
    pub(crate) fn fill_virtual(
        &self,
        schema: &TableSchema,
        records: &mut [Record],
        ctx: &EvalContext,
    ) {
        for field in &schema.fields {
            let FieldKind::Formula {
                formula: FormulaDef::Checked(formula),
            } = &field.kind
            else {
                continue;
            };
            if field.kind.storage() != Storage::Virtual {
                continue;
            }
            let storage = field.kind.value_storage();
            for record in records.iter_mut() {
                with_system_cells(
                    schema,
                    &mut record.cells,
                    record.created_at,
                    record.modified_at,
                );
                let value = computed::eval_formula(formula, &record.cells, ctx);
                without_system_cells(schema, &mut record.cells);
                match computed::value_cell(&value, storage) {
                    Some(cell) => record.cells.insert(field.id, cell),
                    None => record.cells.remove(&field.id),
                };
            }
        }
    }

    /// Refuses records that break a validation rule of their table: one problem per record and rule,
    /// with the rule's message. `records` carry the values as they would be saved.
    pub(crate) fn check_rules(
        &self,
        schema: &TableSchema,
        records: &[Record],
        ctx: &EvalContext,
    ) -> Result<()> {
        if schema.table.validation_rules.is_empty() {
            return Ok(());
        }
        let mut records = records.to_vec();
        self.fill_virtual(schema, &mut records, ctx);
        let mut problems = Vec::new();
        for (index, record) in records.iter_mut().enumerate() {
            with_system_cells(
                schema,
                &mut record.cells,
                record.created_at,
                record.modified_at,
            );
            for message in computed::broken_rules(schema, &record.cells, ctx) {
                problems.push(super::RecordProblem {
                    index,
                    field: None,
                    reason: tenon_model::Reason::new(tenon_model::DetailCode::RuleBroken, &message)
                        .with("message", message),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::RuleBroken(problems))
        }
    }

    /// Recomputes the stored computed fields of records that exist, saving what changed; returns the
    /// fields whose value changed on any of them.
    pub(crate) async fn recompute(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        ctx: &EvalContext,
        schemas: &mut Schemas,
    ) -> Result<HashSet<FieldId>> {
        let mut changed = HashSet::new();
        if !computed::has_stored_computed(schema) || ids.is_empty() {
            return Ok(changed);
        }
        let stored: Vec<&Field> = schema
            .fields
            .iter()
            .filter(|field| {
                field.field_type().is_computed() && field.kind.storage() != Storage::Virtual
            })
            .collect();
        for chunk in ids.chunks(super::write::IDS_PER_STATEMENT) {
            if conn.backend() == Backend::Postgres {
                // Lock the rows before reading what they are computed from: a concurrent write of
                // the records they read commits first, and this transaction's next statements see
                // it (read committed), so two writers never save a sum each computed without the
                // other's change.
                let mut sql = SqlText::new(conn.backend());
                sql.push(&format!(
                    "SELECT id FROM {} WHERE id IN (",
                    quote(&ddl::table_name(schema.table.id))
                ))
                .args(chunk.iter().map(|id| Arg::Uuid(Some(*id.as_uuid()))))
                .push(") ORDER BY id FOR NO KEY UPDATE");
                let _: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
            }
            let records = self.load_records(conn, schema, chunk, None).await?;
            let system: Vec<_> = records
                .iter()
                .map(|r| (r.created_at, r.modified_at))
                .collect();
            let mut rows: Vec<BTreeMap<FieldId, CellValue>> =
                records.iter().map(|r| r.cells.clone()).collect();
            self.compute_rows(conn, schema, &mut rows, &system, ctx, schemas)
                .await?;
            for (record, row) in records.iter().zip(&rows) {
                let differs: Vec<&Field> = stored
                    .iter()
                    .copied()
                    .filter(|field| record.cells.get(&field.id) != row.get(&field.id))
                    .collect();
                if differs.is_empty() {
                    continue;
                }
                schemas.touched.note(schema.table.id, record);
                let mut sql = SqlText::new(conn.backend());
                sql.push(&format!(
                    "UPDATE {} SET ",
                    quote(&ddl::table_name(schema.table.id))
                ));
                for (i, field) in differs.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.push(&format!("{} = ", quote(&ddl::column_name(field.id))));
                    sql.arg(cells::to_arg(
                        row.get(&field.id),
                        field.kind.storage(),
                        conn.backend(),
                    )?);
                    changed.insert(field.id);
                }
                sql.push(" WHERE id = ")
                    .arg(Arg::Uuid(Some(*record.id.as_uuid())));
                conn.execute(sql.into_sql()).await?;
            }
        }
        Ok(changed)
    }

    /// Records on other tables (and this one, through self-links) whose computed fields read `ids` of
    /// `schema` through a link, given what changed about them.
    pub(crate) async fn readers_of(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[Uuid],
        changed: &Changed,
        schemas: &mut Schemas,
    ) -> Result<Vec<(TableId, Vec<RecordId>)>> {
        let mut readers = Vec::new();
        if ids.is_empty() {
            return Ok(readers);
        }
        for link in &schema.fields {
            let FieldKind::Link {
                table: tenon_model::apps::LinkTarget::Resolved(target),
                inverse: Some(inverse),
                ..
            } = &link.kind
            else {
                continue;
            };
            let other = self.schema_of(conn, schemas, *target).await?;
            let affected = other.fields.iter().any(|field| match &field.kind {
                FieldKind::Lookup {
                    link: FieldRef::Resolved(via),
                    field: read,
                    ..
                }
                | FieldKind::Rollup {
                    link: FieldRef::Resolved(via),
                    field: read,
                    ..
                } => {
                    via == inverse
                        && (changed.touches(link.id)
                            || read.id().is_some_and(|read| changed.touches(read)))
                }
                FieldKind::Count {
                    link: FieldRef::Resolved(via),
                } => via == inverse && changed.touches(link.id),
                _ => false,
            });
            if !affected {
                continue;
            }
            let linked = self.links_of(conn, link, ids).await?;
            if schemas.touched.on() {
                for source in ids {
                    for target in linked.get(source).into_iter().flatten() {
                        schemas.touched.reaches(*source, *target);
                    }
                }
            }
            let mut targets: Vec<RecordId> = linked
                .into_values()
                .flatten()
                .collect::<HashSet<Uuid>>()
                .into_iter()
                .map(RecordId::from_uuid)
                .collect();
            targets.sort();
            if !targets.is_empty() {
                readers.push((other.table.id, targets));
            }
        }
        Ok(readers)
    }

    /// After a write to `schema`'s records `ids` (`changed` says what changed; `also` are records that
    /// read them before the write): brings every computed field that depends on them up to date.
    pub(crate) async fn propagate(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        changed: Changed,
        also: Vec<(TableId, Vec<RecordId>)>,
        schemas: &mut Schemas,
    ) -> Result<()> {
        let mut queue: VecDeque<(TableId, Vec<RecordId>, Changed)> = VecDeque::new();
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        for (table, readers) in self
            .readers_of(conn, schema, &uuids, &changed, schemas)
            .await?
        {
            queue.push_back((table, readers, Changed::Fields(HashSet::new())));
        }
        for (table, readers) in also {
            queue.push_back((table, readers, Changed::Fields(HashSet::new())));
        }
        if queue.is_empty() {
            return Ok(());
        }
        let ctx = &self.eval_context(conn).await?;
        let mut rounds = 0;
        while let Some((table, ids, _)) = queue.pop_front() {
            rounds += 1;
            if rounds > PROPAGATION_ROUNDS_MAX {
                return Err(StoreError::conflict(
                    None,
                    DetailCode::Cycle,
                    "computed fields read each other through links in a cycle; the change was not saved",
                ));
            }
            let other = self.schema_of(conn, schemas, table).await?;
            let changed = self.recompute(conn, &other, &ids, ctx, schemas).await?;
            if changed.is_empty() {
                continue;
            }
            let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
            let changed = Changed::Fields(changed);
            for (next, readers) in self
                .readers_of(conn, &other, &uuids, &changed, schemas)
                .await?
            {
                queue.push_back((next, readers, changed.clone()));
            }
        }
        Ok(())
    }

    /// Recomputes a stored computed field for every record of its table (after it is added or changed).
    pub(crate) async fn backfill(&self, conn: &mut Conn<'_>, schema: &TableSchema) -> Result<()> {
        if !computed::has_stored_computed(schema) {
            return Ok(());
        }
        let ctx = self.eval_context(conn).await?;
        let mut schemas = Schemas::default();
        let table = quote(&ddl::table_name(schema.table.id));
        let mut after: Option<Uuid> = None;
        loop {
            let mut sql = SqlText::new(conn.backend());
            sql.push(&format!("SELECT id FROM {table}"));
            if let Some(after) = after {
                sql.push(" WHERE id > ").arg(Arg::Uuid(Some(after)));
            }
            sql.push(" ORDER BY id").limit(500);
            let batch: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
            let Some((last,)) = batch.last() else {
                break;
            };
            after = Some(*last);
            let ids: Vec<RecordId> = batch.iter().map(|(id,)| RecordId::from_uuid(*id)).collect();
            let changed = self
                .recompute(conn, schema, &ids, &ctx, &mut schemas)
                .await?;
            if !changed.is_empty() {
                self.propagate(
                    conn,
                    schema,
                    &ids,
                    Changed::Fields(changed),
                    Vec::new(),
                    &mut schemas,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Puts the created/modified instants where formulas reading created_time / modified_time fields look.
fn with_system_cells(
    schema: &TableSchema,
    cells: &mut BTreeMap<FieldId, CellValue>,
    created: chrono::DateTime<chrono::Utc>,
    modified: chrono::DateTime<chrono::Utc>,
) {
    for field in &schema.fields {
        match field.kind {
            FieldKind::CreatedTime { .. } => {
                cells.insert(field.id, CellValue::DateTime(created));
            }
            FieldKind::ModifiedTime { .. } => {
                cells.insert(field.id, CellValue::DateTime(modified));
            }
            _ => {}
        }
    }
}

fn without_system_cells(schema: &TableSchema, cells: &mut BTreeMap<FieldId, CellValue>) {
    for field in &schema.fields {
        if matches!(
            field.kind,
            FieldKind::CreatedTime { .. } | FieldKind::ModifiedTime { .. }
        ) {
            cells.remove(&field.id);
        }
    }
}

/// The dialect of the formula compiler for a backend.
pub(crate) fn dialect(backend: Backend) -> Dialect {
    match backend {
        Backend::Postgres => Dialect::Postgres,
        Backend::Sqlite => Dialect::Sqlite,
    }
}

/// The table's fields as formulas see them, with their SQL over the row aliased `alias`.
pub(crate) fn sql_schema(schema: &TableSchema, alias: &str) -> formula::Schema {
    computed::formula_schema(
        schema,
        &|field| column(&field.kind, field.id).replacen("r.", &format!("{alias}."), 1),
        &HashSet::new(),
    )
}

/// Compiles a checked formula over the row aliased `alias`, or says why it cannot run in the database.
pub(crate) fn compile(
    stored: &str,
    schema: &TableSchema,
    alias: &str,
    backend: Backend,
    ctx: &EvalContext,
    what: &str,
) -> Result<SqlExpr> {
    let refused = |reason: String| {
        StoreError::Invalid(tenon_model::Invalid::one(
            what,
            tenon_model::DetailCode::NotAllowed,
            reason,
        ))
    };
    let formula = formula::check_stored(stored, &sql_schema(schema, alias))
        .map_err(|found| StoreError::Invalid(computed::diagnostics(what, &found)))?;
    for reference in formula.references() {
        let virtual_input = reference
            .as_str()
            .parse::<FieldId>()
            .ok()
            .and_then(|id| schema.field(id))
            .filter(|field| field.kind.storage() == Storage::Virtual);
        if let Some(field) = virtual_input
            && alias != "r"
        {
            return Err(refused(format!(
                "it reads \"{}\", which uses TODAY() or NOW() and is computed when read; it cannot be computed in the database",
                field.name
            )));
        }
    }
    // Placeholder numbers are renumbered when the SQL is spliced in; any first number does.
    formula.to_sql(dialect(backend), ctx, 1).map_err(|error| {
        refused(format!(
            "it cannot be computed in the database: {}",
            error.reason
        ))
    })
}

/// Appends compiled formula SQL, binding its values in the order its placeholders appear.
pub(crate) fn push_expr(sql: &mut SqlText, expr: &SqlExpr) -> Result<()> {
    let binds: Vec<Arg> = expr
        .binds
        .iter()
        .map(|bind| match bind {
            Bind::Int(value) => Arg::Int(Some(*value)),
            Bind::Text(value) => Arg::Text(Some(value.clone())),
        })
        .collect();
    sql.splice(&expr.sql, &binds)
        .map_err(|reason| StoreError::Corrupt(format!("{reason} in {}", expr.sql)))?;
    Ok(())
}

/// Appends the table to select from, aliased `r`: the table itself, or a derived table that adds the
/// columns of formulas computed when read that the query filters or sorts on.
pub(crate) fn push_from(
    sql: &mut SqlText,
    schema: &TableSchema,
    virtual_fields: &[&Field],
    ctx: &EvalContext,
) -> Result<()> {
    let table = quote(&ddl::table_name(schema.table.id));
    if virtual_fields.is_empty() {
        sql.push(&format!("{table} AS r"));
        return Ok(());
    }
    sql.push("(SELECT r0.*");
    for field in virtual_fields {
        let FieldKind::Formula { formula } = &field.kind else {
            continue;
        };
        let stored = formula.stored().unwrap_or_default();
        let expr = compile(
            stored,
            schema,
            "r0",
            sql.backend,
            ctx,
            &format!("field {}", field.key),
        )?;
        sql.push(", (");
        push_expr(sql, &expr)?;
        sql.push(&format!(") AS {}", quote(&ddl::column_name(field.id))));
    }
    sql.push(&format!(" FROM {table} AS r0) AS r"));
    Ok(())
}
