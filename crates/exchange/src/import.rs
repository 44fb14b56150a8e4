//! Importing a table file into records: headers are matched to fields (by a given mapping, else by key,
//! id or name), each cell is converted to its field's type (checkboxes from yes/no/是/否, selects split
//! on commas and typecast — a unique prefix before a space names a choice —, linked records, members and
//! departments found by name), a blank cell takes the field's default, and every row that cannot be
//! written is reported with its line and field — never silently dropped.
//!
//! All or nothing by default, like the API's bulk writes: when any row is refused nothing is written,
//! and the rows are written in one transaction. With `partial`, valid rows are written in batches of up
//! to 1000, each batch in one transaction, and refused rows are left out.
//!
//! With `upsert_on` (a unique field, or the fields of a `unique_together` group), a row whose values of
//! those fields match a record changes that record — only the cells the row gives; blank cells leave
//! the record's values — and the other rows create records. Two rows of one file with the same values
//! there are refused, as the second would silently overwrite the first.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::apps::{CellValue, Field, FieldKind, LinkTarget, ParseContext, TableSchema};
use tenon_model::{DetailCode, FieldError, FieldId, Invalid, RecordId};
use tenon_store::{
    RECORDS_PER_WRITE_MAX, RecordQuery, RecordUpdate, StoreError, Tenant, WriteContext,
};
use uuid::Uuid;

use crate::ExchangeError;
use crate::tabular::Sheet;

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Header → field key (or id or name); headers not listed are matched by themselves.
    pub mapping: HashMap<String, String>,
    /// Check every row without writing.
    pub dry_run: bool,
    /// Write the valid rows even when others are refused (by default, one refused row writes nothing).
    pub partial: bool,
    /// Field keys (or ids or names) of a unique field or of a `unique_together` group: a row matching a
    /// record on them updates it instead of creating one. Empty: every row creates a record.
    pub upsert_on: Vec<String>,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: usize,
    /// The field key, when the problem is one field's value.
    pub field: Option<String>,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: usize,
    /// Records written, created or updated (or, in a dry run, that would be).
    pub imported: usize,
    /// Of `imported`, the records that existed and were updated (`upsert_on`).
    pub updated: usize,
    pub errors: Vec<RowError>,
    /// Headers that matched no writable field.
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
    /// Whether valid rows were written although others were refused (`partial`).
    pub partial: bool,
}

/// Imports `sheet` into the table. `progress(done, total)` is called after each batch.
pub async fn import_table(
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    schema: &TableSchema,
    sheet: Sheet,
    parse: &ParseContext,
    options: &ImportOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<ImportReport, ExchangeError> {
    let mut report = ImportReport {
        rows: sheet.rows.len(),
        dry_run: options.dry_run,
        partial: options.partial,
        ..ImportReport::default()
    };
    let mut columns: Vec<Option<&Field>> = Vec::with_capacity(sheet.headers.len());
    for header in &sheet.headers {
        let reference = options
            .mapping
            .get(header)
            .map_or(header.as_str(), String::as_str);
        let field = schema
            .resolve_field(reference)
            .or_else(|| {
                schema
                    .fields
                    .iter()
                    .find(|field| field.name.as_str().eq_ignore_ascii_case(reference))
            })
            .filter(|field| field.field_type().is_writable());
        if field.is_none() && !header.is_empty() {
            report.ignored_columns.push(header.clone());
        }
        columns.push(field);
    }
    for (header, reference) in &options.mapping {
        if !sheet.headers.contains(header) {
            return Err(tenon_model::Invalid::from(
                tenon_model::FieldError::new(
                    "mapping",
                    tenon_model::DetailCode::UnknownColumn,
                    format!("the file has no column \"{header}\" (mapped to {reference})"),
                )
                .with("column", header.as_str()),
            )
            .into());
        }
    }
    if columns.iter().all(Option::is_none) {
        return Err(tenon_model::Invalid::from(tenon_model::FieldError::new(
            "file",
            tenon_model::DetailCode::Required,
            format!(
                "no column of the file matches a field of table {}; name the columns after the fields' keys or names, or map them",
                schema.table.key
            ),
        ))
        .into());
    }
    let upsert = match options.upsert_on.as_slice() {
        [] => None,
        references => Some(Upsert::load(tenant, schema, references, &columns).await?),
    };
    let lookups = Lookups::load(tenant, schema, &columns, &sheet).await?;
    let mut everything: Vec<(usize, Write)> = Vec::new();
    let mut batch: Vec<(usize, Write)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let total = sheet.rows.len();
    for (n, row) in sheet.rows.iter().enumerate() {
        let line = n + 2;
        let mut fields = Map::new();
        let mut row_errors = Vec::new();
        for (value, field) in row.iter().zip(&columns) {
            let Some(field) = field else { continue };
            // A blank cell is an absent value: the field's default applies.
            if crate::tabular::text(value).trim().is_empty() {
                continue;
            }
            match lookups.convert(field, value) {
                Ok(value) => {
                    fields.insert(field.key.to_string(), value);
                }
                Err(reason) => row_errors.push(RowError {
                    line,
                    field: Some(field.key.to_string()),
                    reason,
                }),
            }
        }
        if !row_errors.is_empty() {
            report.errors.extend(row_errors);
            continue;
        }
        let row_problems = |problems: Vec<FieldError>| {
            problems.into_iter().map(move |problem| RowError {
                line,
                field: problem.field.strip_prefix("fields.").map(str::to_owned),
                reason: problem.reason,
            })
        };
        let mut write = None;
        if let Some(upsert) = &upsert {
            // The row's own cells, without defaults: what an update of a matched record changes.
            let cells =
                match parse_record_fields(schema, &fields, parse, WriteMode::Update, "fields") {
                    Ok(cells) => cells,
                    Err(problems) => {
                        report.errors.extend(row_problems(problems));
                        continue;
                    }
                };
            let key = match upsert.key_of(&cells) {
                Ok(key) => key,
                Err(missing) => {
                    report.errors.push(RowError {
                        line,
                        field: Some(missing.clone()),
                        reason: format!(
                            "a row needs a value for {missing}, which the import matches records on"
                        ),
                    });
                    continue;
                }
            };
            if let Some(first) = seen.get(&key) {
                report.errors.push(RowError {
                    line,
                    field: None,
                    reason: format!(
                        "line {first} has the same {}; one record cannot take both rows",
                        upsert.names()
                    ),
                });
                continue;
            }
            seen.insert(key.clone(), line);
            if let Some(id) = upsert.existing.get(&key) {
                write = Some(Write::Update(RecordUpdate {
                    id: *id,
                    expected_version: None,
                    cells,
                }));
            }
        }
        let write = match write {
            Some(write) => write,
            None => {
                match parse_record_fields(schema, &fields, parse, WriteMode::Create, "fields") {
                    Ok(cells) => Write::Create(present(cells)),
                    Err(problems) => {
                        report.errors.extend(row_problems(problems));
                        continue;
                    }
                }
            }
        };
        if options.partial {
            batch.push((line, write));
        } else {
            everything.push((line, write));
        }
        if batch.len() == RECORDS_PER_WRITE_MAX {
            write_batch(
                tenant,
                ctx,
                schema,
                parse,
                std::mem::take(&mut batch),
                &mut report,
            )
            .await?;
            progress(n + 1, total);
        }
    }
    if options.partial {
        write_batch(tenant, ctx, schema, parse, batch, &mut report).await?;
    } else if report.errors.is_empty() {
        write_all(tenant, ctx, schema, parse, everything, &mut report).await?;
    }
    progress(total, total);
    report.errors.sort_by_key(|error| error.line);
    Ok(report)
}

/// What a row does: create a record, or change the record it matched (`upsert_on`).
#[derive(Debug, Clone)]
enum Write {
    Create(BTreeMap<FieldId, CellValue>),
    Update(RecordUpdate),
}

/// The fields an import matches records on, and the records there are, by those fields' values.
struct Upsert {
    fields: Vec<Field>,
    existing: HashMap<String, RecordId>,
}

impl Upsert {
    /// Checks that `references` name a unique field or a `unique_together` group that the file has
    /// columns for, and reads every record's values of those fields.
    async fn load(
        tenant: &Tenant<'_>,
        schema: &TableSchema,
        references: &[String],
        columns: &[Option<&Field>],
    ) -> Result<Upsert, ExchangeError> {
        let mut fields: Vec<Field> = Vec::new();
        for reference in references {
            match schema.resolve_field(reference.trim()) {
                Some(field) if !fields.iter().any(|known| known.id == field.id) => {
                    fields.push(field.clone())
                }
                Some(_) => {}
                None => {
                    return Err(Invalid::from(FieldError::new(
                        "upsert_on",
                        DetailCode::UnknownField,
                        format!("table {} has no field {reference}", schema.table.key),
                    ))
                    .into());
                }
            }
        }
        let mut ids: Vec<FieldId> = fields.iter().map(|field| field.id).collect();
        ids.sort();
        let unique_groups: Vec<Vec<FieldId>> = schema
            .fields
            .iter()
            .filter(|field| field.unique)
            .map(|field| vec![field.id])
            .chain(schema.table.unique_together.iter().cloned())
            .collect();
        let is_unique = unique_groups.iter().any(|group| {
            let mut group = group.clone();
            group.sort();
            group == ids
        });
        if !is_unique {
            let allowed: Vec<String> = unique_groups
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .filter_map(|id| schema.field(*id))
                        .map(|field| field.key.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            let reason = if allowed.is_empty() {
                format!(
                    "table {} has no unique field or unique_together group to match records on",
                    schema.table.key
                )
            } else {
                format!(
                    "records are matched on a unique field or a unique_together group: {}",
                    allowed.join("; ")
                )
            };
            return Err(Invalid::from(
                FieldError::new("upsert_on", DetailCode::NotOneOf, reason).with("allowed", allowed),
            )
            .into());
        }
        for field in &fields {
            if !columns.iter().flatten().any(|column| column.id == field.id) {
                return Err(Invalid::from(
                    FieldError::new(
                        "upsert_on",
                        DetailCode::UnknownColumn,
                        format!(
                            "the file has no column for {}, which the import matches records on",
                            field.key
                        ),
                    )
                    .with("column", field.key.as_str()),
                )
                .into());
            }
        }
        let mut upsert = Upsert {
            fields,
            existing: HashMap::new(),
        };
        let mut after = None;
        loop {
            let query = RecordQuery {
                filter: None,
                sort: Vec::new(),
                fields: Some(ids.clone()),
                page_size: RECORDS_PER_WRITE_MAX as u32,
                after,
                offset: 0,
                count: false,
                condition: None,
            };
            let page = tenant.list_records(schema, &query).await?;
            for record in &page.records {
                let cells: BTreeMap<FieldId, Option<CellValue>> = record
                    .cells
                    .iter()
                    .map(|(id, cell)| (*id, Some(cell.clone())))
                    .collect();
                if let Ok(key) = upsert.key_of(&cells) {
                    upsert.existing.insert(key, record.id);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(upsert)
    }

    /// The values of the matched fields as one text, or the key of the first field without a value.
    fn key_of(&self, cells: &BTreeMap<FieldId, Option<CellValue>>) -> Result<String, String> {
        let mut key = String::new();
        for field in &self.fields {
            let Some(Some(cell)) = cells.get(&field.id) else {
                return Err(field.key.to_string());
            };
            let text = match cell {
                CellValue::Decimal(value) => value.normalize().to_string(),
                other => tenon_store::label(other),
            };
            key.push_str(&text);
            key.push('\u{1f}');
        }
        Ok(key)
    }

    /// The matched fields' keys, for messages: `student and week`.
    fn names(&self) -> String {
        let keys: Vec<&str> = self.fields.iter().map(|field| field.key.as_str()).collect();
        keys.join(" and ")
    }
}

/// Writes `rows` in one transaction (created and updated together), or, in a dry run, checks them in a
/// transaction rolled back. Returns how many were created and updated.
async fn write_rows(
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    schema: &TableSchema,
    parse: &ParseContext,
    rows: &[(usize, Write)],
    dry_run: bool,
) -> Result<(usize, usize), StoreError> {
    // Creates first, then updates: the order of the indices of refused records.
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for (_, write) in rows {
        match write {
            Write::Create(cells) => creates.push(cells.clone()),
            Write::Update(update) => updates.push(update.clone()),
        }
    }
    let (created, updated) = tenant
        .create_and_update_records(ctx, schema, creates, updates, parse.org_time_zone, !dry_run)
        .await?;
    Ok((created.len(), updated.len()))
}

/// The lines of `rows` in the order [`write_rows`] writes them (creates, then updates).
fn written_lines(rows: &[(usize, Write)]) -> Vec<usize> {
    let creates = rows
        .iter()
        .filter(|(_, write)| matches!(write, Write::Create(_)));
    let updates = rows
        .iter()
        .filter(|(_, write)| matches!(write, Write::Update(_)));
    creates.chain(updates).map(|(line, _)| *line).collect()
}

fn row_error(schema: &TableSchema, line: usize, problem: tenon_store::RecordProblem) -> RowError {
    RowError {
        line,
        field: problem
            .field
            .and_then(|id| schema.field(id))
            .map(|field| field.key.to_string()),
        reason: problem.reason.message,
    }
}

/// Writes every row in one transaction, or none: a row the store refuses (a taken unique value) is
/// reported and nothing is written.
async fn write_all(
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    schema: &TableSchema,
    parse: &ParseContext,
    rows: Vec<(usize, Write)>,
    report: &mut ImportReport,
) -> Result<(), ExchangeError> {
    if rows.is_empty() {
        return Ok(());
    }
    let lines = written_lines(&rows);
    match write_rows(tenant, ctx, schema, parse, &rows, report.dry_run).await {
        Ok((created, updated)) => {
            report.imported = created + updated;
            report.updated = updated;
        }
        Err(StoreError::InvalidRecords(problems)) => {
            for problem in problems {
                if let Some(line) = lines.get(problem.index) {
                    report.errors.push(row_error(schema, *line, problem));
                }
            }
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}

/// Writes a batch; rows the store refuses (a taken unique value, a vanished link) are reported and the
/// rest written again without them.
async fn write_batch(
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    schema: &TableSchema,
    parse: &ParseContext,
    mut batch: Vec<(usize, Write)>,
    report: &mut ImportReport,
) -> Result<(), ExchangeError> {
    for _attempt in 0..3 {
        if batch.is_empty() {
            return Ok(());
        }
        let lines = written_lines(&batch);
        // A dry run writes in a transaction that is rolled back, so uniqueness is checked too.
        match write_rows(tenant, ctx, schema, parse, &batch, report.dry_run).await {
            Ok((created, updated)) => {
                report.imported += created + updated;
                report.updated += updated;
                return Ok(());
            }
            Err(StoreError::InvalidRecords(problems)) => {
                let mut refused: HashSet<usize> = HashSet::new();
                for problem in problems {
                    if let Some(line) = lines.get(problem.index) {
                        refused.insert(*line);
                        report.errors.push(row_error(schema, *line, problem));
                    }
                }
                batch.retain(|(line, _)| !refused.contains(line));
            }
            Err(other) => return Err(other.into()),
        }
    }
    for (line, _) in batch {
        report.errors.push(RowError {
            line,
            field: None,
            reason: "the row could not be written".to_owned(),
        });
    }
    Ok(())
}

/// Ids of linked records, members and departments, by the names a file uses for them.
struct Lookups {
    by_field: HashMap<FieldId, HashMap<String, Vec<Uuid>>>,
}

impl Lookups {
    async fn load(
        tenant: &Tenant<'_>,
        schema: &TableSchema,
        columns: &[Option<&Field>],
        sheet: &Sheet,
    ) -> Result<Lookups, ExchangeError> {
        let mut by_field = HashMap::new();
        for (idx, field) in columns.iter().enumerate() {
            let Some(field) = field else { continue };
            if !matches!(
                field.kind,
                FieldKind::Link { .. } | FieldKind::Member { .. } | FieldKind::Department { .. }
            ) {
                continue;
            }
            let labels: Vec<String> = sheet
                .rows
                .iter()
                .filter_map(|row| row.get(idx))
                .flat_map(|value| split_list(&crate::tabular::text(value)))
                .filter(|label| Uuid::parse_str(label).is_err())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let found = match &field.kind {
                FieldKind::Link {
                    table: LinkTarget::Resolved(target),
                    ..
                } => {
                    let target = if *target == schema.table.id {
                        schema.clone()
                    } else {
                        tenant.table_schema_by_id(*target).await?
                    };
                    tenant.records_by_label(&target, &labels).await?
                }
                FieldKind::Member { .. } => tenant.members_by_label(&labels).await?,
                _ => tenant.departments_by_label(&labels).await?,
            };
            by_field.insert(field.id, found);
        }
        Ok(Lookups { by_field })
    }

    /// A file cell as the JSON the field's parser takes.
    fn convert(&self, field: &Field, value: &Value) -> Result<Value, String> {
        let Value::String(text) = value else {
            return Ok(value.clone());
        };
        let text = text.trim();
        Ok(match &field.kind {
            FieldKind::Checkbox => match text.to_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "x" | "✓" | "是" | "对" => Value::Bool(true),
                "false" | "no" | "n" | "0" | "" | "否" | "错" => Value::Bool(false),
                _ => return Err(format!("\"{text}\" is not yes or no")),
            },
            // Selects are typecast: a unique prefix before a space names a choice (`缺勤` → `缺勤 Absent`).
            FieldKind::SingleSelect { choices } if !text.is_empty() => Value::String(
                tenon_model::apps::value::cast_choice(text, choices)
                    .map_err(|reason| reason.message)?,
            ),
            FieldKind::MultiSelect { choices } => Value::Array(
                split_list(text)
                    .into_iter()
                    .map(|item| {
                        tenon_model::apps::value::cast_choice(&item, choices)
                            .map(Value::String)
                            .map_err(|reason| reason.message)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            FieldKind::Percent { .. } if text.ends_with('%') => {
                let number: rust_decimal::Decimal = text
                    .trim_end_matches('%')
                    .trim()
                    .replace(',', "")
                    .parse()
                    .map_err(|_| format!("\"{text}\" is not a percentage"))?;
                Value::String(
                    (number / rust_decimal::Decimal::from(100))
                        .normalize()
                        .to_string(),
                )
            }
            FieldKind::Number { .. } | FieldKind::Currency { .. } | FieldKind::Percent { .. } => {
                Value::String(
                    text.trim_start_matches(['¥', '￥', '$', '€'])
                        .replace(',', "")
                        .trim()
                        .to_owned(),
                )
            }
            FieldKind::Link { .. } | FieldKind::Member { .. } | FieldKind::Department { .. } => {
                let names = self.by_field.get(&field.id);
                let mut ids = Vec::new();
                for label in split_list(text) {
                    if Uuid::parse_str(&label).is_ok() {
                        ids.push(Value::String(label));
                        continue;
                    }
                    match names.and_then(|names| names.get(&label)).map(Vec::as_slice) {
                        Some([id]) => ids.push(Value::String(id.to_string())),
                        Some([]) | None => {
                            return Err(format!("nothing named \"{label}\" was found"));
                        }
                        Some(_) => {
                            return Err(format!("several are named \"{label}\"; use the id"));
                        }
                    }
                }
                Value::Array(ids)
            }
            _ => Value::String(text.to_owned()),
        })
    }
}

/// Splits "a, b；c" into its items.
fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，', ';', '；'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}
