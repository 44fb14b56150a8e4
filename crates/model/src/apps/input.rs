//! A record's fields as a client sends them (`{"fields": {"guest": "家属1", "nights": 3}}`), checked
//! against the table: unknown fields, computed fields, required fields and defaults, every value parsed.
//! All problems of a record are reported together, each under the field it concerns.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::apps::value::{CellValue, ParseContext, parse_cell};
use crate::apps::{Field, TableSchema};
use crate::ids::FieldId;
use crate::validation::{DetailCode, FieldError};

/// Whether a write creates a record (defaults and required fields apply) or changes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Update,
}

/// Parses a record's `fields` object. Keys may be field keys, ids or names. `path` prefixes error fields
/// (e.g. `records[3].fields`).
pub fn parse_record_fields(
    schema: &TableSchema,
    fields: &Map<String, Value>,
    ctx: &ParseContext,
    mode: WriteMode,
    path: &str,
) -> Result<BTreeMap<FieldId, Option<CellValue>>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut cells: BTreeMap<FieldId, Option<CellValue>> = BTreeMap::new();
    for (reference, value) in fields {
        let at = format!("{path}.{reference}");
        let Some(field) = schema.resolve_field(reference) else {
            errors.push(FieldError::new(
                at,
                DetailCode::UnknownField,
                format!("no field \"{reference}\" in table {}", schema.table.key),
            ));
            continue;
        };
        if cells.contains_key(&field.id) {
            errors.push(FieldError::new(
                at,
                DetailCode::Duplicate,
                "the field is given twice (by key and by name or id)",
            ));
            continue;
        }
        match parse_cell(&field.kind, value, ctx) {
            Ok(cell) => {
                if cell.is_none() && field.required {
                    errors.push(FieldError::new(at, DetailCode::Required, "is required"));
                } else {
                    cells.insert(field.id, cell);
                }
            }
            Err(reason) => errors.push(reason.at(at)),
        }
    }
    if mode == WriteMode::Create {
        for field in &schema.fields {
            if cells.contains_key(&field.id) || !field.field_type().is_writable() {
                continue;
            }
            match default_cell(field, ctx) {
                Some(cell) => {
                    cells.insert(field.id, Some(cell));
                }
                None if field.required => {
                    errors.push(FieldError::new(
                        format!("{path}.{}", field.key),
                        DetailCode::Required,
                        "is required",
                    ));
                }
                None => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(cells)
    } else {
        Err(errors)
    }
}

fn default_cell(field: &Field, ctx: &ParseContext) -> Option<CellValue> {
    let default = field.default.as_ref()?;
    parse_cell(&field.kind, default, ctx).ok().flatten()
}

/// The cells of a new record: the parsed values without the empty ones.
pub fn present(cells: BTreeMap<FieldId, Option<CellValue>>) -> BTreeMap<FieldId, CellValue> {
    cells
        .into_iter()
        .filter_map(|(id, cell)| cell.map(|cell| (id, cell)))
        .collect()
}
