//! Importing a table file into records: headers are matched to fields (by a given mapping, else by key,
//! id or name), each cell is converted to its field's type (checkboxes from yes/no/是/否, selects split
//! on commas, linked records, members and departments found by name), and every row that cannot be
//! written is reported with its line and field — never silently dropped. Valid rows are written in
//! batches of up to 1000, each batch in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};
use tenon_model::FieldId;
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::apps::{CellValue, Field, FieldKind, LinkTarget, ParseContext, TableSchema};
use tenon_store::{RECORDS_PER_WRITE_MAX, StoreError, Tenant, WriteContext, WriteOutcome};
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
    /// Records written (or, in a dry run, that would be).
    pub imported: usize,
    pub errors: Vec<RowError>,
    /// Headers that matched no writable field.
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
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
    let lookups = Lookups::load(tenant, schema, &columns, &sheet).await?;
    let mut batch: Vec<(usize, BTreeMap<FieldId, CellValue>)> = Vec::new();
    let total = sheet.rows.len();
    for (n, row) in sheet.rows.iter().enumerate() {
        let line = n + 2;
        let mut fields = Map::new();
        let mut row_errors = Vec::new();
        for (value, field) in row.iter().zip(&columns) {
            let Some(field) = field else { continue };
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
        match parse_record_fields(schema, &fields, parse, WriteMode::Create, "fields") {
            Ok(cells) => batch.push((line, present(cells))),
            Err(problems) => report
                .errors
                .extend(problems.into_iter().map(|problem| RowError {
                    line,
                    field: problem.field.strip_prefix("fields.").map(str::to_owned),
                    reason: problem.reason,
                })),
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
    write_batch(tenant, ctx, schema, parse, batch, &mut report).await?;
    progress(total, total);
    report.errors.sort_by_key(|error| error.line);
    Ok(report)
}

/// Writes a batch; rows the store refuses (a taken unique value, a vanished link) are reported and the
/// rest written again without them.
async fn write_batch(
    tenant: &Tenant<'_>,
    ctx: &WriteContext,
    schema: &TableSchema,
    parse: &ParseContext,
    mut batch: Vec<(usize, BTreeMap<FieldId, CellValue>)>,
    report: &mut ImportReport,
) -> Result<(), ExchangeError> {
    for _attempt in 0..3 {
        if batch.is_empty() {
            return Ok(());
        }
        let rows: Vec<BTreeMap<FieldId, CellValue>> =
            batch.iter().map(|(_, cells)| cells.clone()).collect();
        // A dry run writes in a transaction that is rolled back, so uniqueness is checked too.
        let written = if report.dry_run {
            tenant
                .rehearse_create_records(ctx, schema, rows, parse.org_time_zone)
                .await
        } else {
            tenant
                .create_records(ctx, schema, rows, parse.org_time_zone, None)
                .await
                .map(|outcome| match outcome {
                    WriteOutcome::Written(records) | WriteOutcome::Replayed(records) => records,
                })
        };
        match written {
            Ok(records) => {
                report.imported += records.len();
                return Ok(());
            }
            Err(StoreError::InvalidRecords(problems)) => {
                let refused: HashSet<usize> =
                    problems.iter().map(|problem| problem.index).collect();
                for problem in problems {
                    if let Some((line, _)) = batch.get(problem.index) {
                        report.errors.push(RowError {
                            line: *line,
                            field: problem
                                .field
                                .and_then(|id| schema.field(id))
                                .map(|field| field.key.to_string()),
                            reason: problem.reason.message,
                        });
                    }
                }
                batch = batch
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !refused.contains(i))
                    .map(|(_, row)| row)
                    .collect();
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
            FieldKind::MultiSelect { .. } => {
                Value::Array(split_list(text).into_iter().map(Value::String).collect())
            }
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
