//! Master–detail forms: a form's field entry may carry a `subtable`, so one submission creates the main
//! record and rows of a linked table (an order with its lines) in one transaction.
//!
//! The entry names a link field of the form's table that holds many records (`"multiple": true`); the
//! rows go to the table it links to (the detail table), and the link itself is what ties them to the
//! main record — a detail row never names its main record by a field the visitor fills in. Checked in
//! two steps: the entry's shape and its link against the form's table here ([`check_entry`], called by
//! the view check), and the detail fields against the detail table ([`check_detail`]), which the caller
//! loads. Pure: no I/O.

use serde_json::{Map, Value};

use crate::apps::field::{FieldKind, FieldType, LinkTarget};
use crate::apps::{Field, TableSchema};
use crate::ids::{FieldId, TableId};
use crate::validation::{Checker, DetailCode, FieldError, Reason};

/// The settings a `subtable` object takes.
pub const SUBTABLE_KEYS: [&str; 3] = ["fields", "min_rows", "max_rows"];
/// Most rows a sub-table may take (the owner's `max_rows` is at most this).
pub const SUBTABLE_ROWS_MAX: u64 = 200;
/// `max_rows` when the entry leaves it out.
pub const SUBTABLE_ROWS_DEFAULT: u64 = 50;
/// Most fields a sub-table shows.
pub const SUBTABLE_FIELDS_MAX: usize = 20;
/// The entry settings that make no sense beside a sub-table (its rows are typed in, never fixed).
const NOT_WITH_SUBTABLE: [&str; 3] = ["hidden", "prefill", "default"];

/// A form's sub-table, as its entry states it (references as written).
#[derive(Debug, Clone, PartialEq)]
pub struct Subtable {
    /// The link field of the form's table.
    pub link: FieldId,
    /// The table the link points at.
    pub detail: TableId,
    /// The detail fields the rows fill in, as the entry names them (keys, names or ids).
    pub fields: Vec<String>,
    pub min_rows: usize,
    pub max_rows: usize,
}

impl Subtable {
    /// The sub-table of a form entry, when it has one whose link still stands (entries were checked
    /// when saved; a field deleted since leaves the entry without a sub-table).
    pub fn of_entry(entry: &Map<String, Value>, schema: &TableSchema) -> Option<Subtable> {
        let settings = entry.get("subtable")?.as_object()?;
        let field = schema.resolve_field(entry.get("field")?.as_str()?)?;
        let detail = link_target(field)?;
        let count = |key: &str, default: u64| {
            settings
                .get(key)
                .and_then(Value::as_u64)
                .unwrap_or(default)
                .min(SUBTABLE_ROWS_MAX)
        };
        Some(Subtable {
            link: field.id,
            detail,
            fields: settings
                .get("fields")
                .and_then(Value::as_array)
                .map(|fields| {
                    fields
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            min_rows: usize::try_from(count("min_rows", 0)).unwrap_or(0),
            max_rows: usize::try_from(count("max_rows", SUBTABLE_ROWS_DEFAULT)).unwrap_or(0),
        })
    }

    /// The sub-tables of a form's configuration, with the index of their entry.
    pub fn all(config: &Map<String, Value>, schema: &TableSchema) -> Vec<(usize, Subtable)> {
        config
            .get("fields")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .enumerate()
                    .filter_map(|(i, entry)| {
                        Some((i, Subtable::of_entry(entry.as_object()?, schema)?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The table a multiple link points at (`None` for any other field).
fn link_target(field: &Field) -> Option<TableId> {
    match &field.kind {
        FieldKind::Link {
            table: LinkTarget::Resolved(table),
            multiple: true,
            ..
        } => Some(*table),
        _ => None,
    }
}

/// Checks a form entry's `subtable` (`at` is the entry's path): its shape, and that its field is a link
/// of the form's table that holds many records.
pub fn check_entry(
    check: &mut Checker,
    at: &str,
    entry: &Map<String, Value>,
    schema: &TableSchema,
) {
    let Some(subtable) = entry.get("subtable") else {
        return;
    };
    let at_subtable = format!("{at}.subtable");
    for key in NOT_WITH_SUBTABLE {
        if entry.get(key).is_some_and(|value| !value.is_null()) {
            check.push(
                format!("{at}.{key}"),
                DetailCode::NotAllowed,
                format!("a sub-table's rows are filled in, so the entry takes no {key}"),
            );
        }
    }
    if let Some(field) = entry
        .get("field")
        .and_then(Value::as_str)
        .and_then(|reference| schema.resolve_field(reference))
        && link_target(field).is_none()
    {
        check.push(
            format!("{at}.field"),
            DetailCode::NotAllowed,
            format!(
                "field \"{}\" is not a link to many records, so it cannot hold a sub-table",
                field.key
            ),
        );
    }
    let Some(settings) = subtable.as_object() else {
        check.add(
            Reason::wrong_type(
                "object",
                "must be {\"fields\": [keys], \"min_rows\": n, \"max_rows\": n}",
            )
            .at(at_subtable),
        );
        return;
    };
    for key in settings.keys() {
        if !SUBTABLE_KEYS.contains(&key.as_str()) {
            check.add(
                FieldError::new(
                    format!("{at_subtable}.{key}"),
                    DetailCode::UnknownOption,
                    format!(
                        "unknown setting for a sub-table; it takes: {}",
                        SUBTABLE_KEYS.join(", ")
                    ),
                )
                .with("allowed", SUBTABLE_KEYS.to_vec()),
            );
        }
    }
    match settings.get("fields").and_then(Value::as_array) {
        Some(fields)
            if !fields.is_empty()
                && fields.len() <= SUBTABLE_FIELDS_MAX
                && fields.iter().all(Value::is_string) => {}
        _ => check.add(
            Reason::new(
                DetailCode::InvalidValue,
                format!("must list 1 to {SUBTABLE_FIELDS_MAX} field keys of the linked table"),
            )
            .at(format!("{at_subtable}.fields")),
        ),
    }
    let mut bound = |key: &str, default: u64| -> Option<u64> {
        match settings.get(key) {
            None | Some(Value::Null) => Some(default),
            Some(value) => match value.as_u64().filter(|n| *n <= SUBTABLE_ROWS_MAX) {
                Some(n) => Some(n),
                None => {
                    check.add(
                        Reason::new(
                            DetailCode::OutOfRange,
                            format!("must be a whole number from 0 to {SUBTABLE_ROWS_MAX}"),
                        )
                        .with("min", 0)
                        .with("max", SUBTABLE_ROWS_MAX)
                        .at(format!("{at_subtable}.{key}")),
                    );
                    None
                }
            },
        }
    };
    let min = bound("min_rows", 0);
    let max = bound("max_rows", SUBTABLE_ROWS_DEFAULT);
    if let (Some(min), Some(max)) = (min, max)
        && (max == 0 || min > max)
    {
        check.push(
            format!("{at_subtable}.max_rows"),
            DetailCode::InvalidValue,
            "must be at least 1 and not below min_rows",
        );
    }
}

/// Checks a sub-table's detail fields against the detail table: each exists, can be written, takes no
/// files, and is not the link back to the form's table (the submission sets it). `at` is the entry's
/// path.
pub fn check_detail(
    check: &mut Checker,
    at: &str,
    subtable: &Subtable,
    detail: &TableSchema,
    main: &TableSchema,
) {
    let back = main
        .field(subtable.link)
        .and_then(|field| match &field.kind {
            FieldKind::Link { inverse, .. } => *inverse,
            _ => None,
        });
    let mut seen: Vec<FieldId> = Vec::new();
    for (i, reference) in subtable.fields.iter().enumerate() {
        let path = format!("{at}.subtable.fields[{i}]");
        let Some(field) = detail.resolve_field(reference) else {
            check.push(
                path,
                DetailCode::UnknownField,
                format!("no field \"{reference}\" in table {}", detail.table.key),
            );
            continue;
        };
        let problem = if !field.field_type().is_writable() {
            Some((
                DetailCode::ReadOnly,
                format!(
                    "field \"{}\" is computed and cannot be filled in",
                    field.key
                ),
            ))
        } else if Some(field.id) == back {
            Some((
                DetailCode::NotAllowed,
                format!(
                    "field \"{}\" links back to the form's record; the submission sets it",
                    field.key
                ),
            ))
        } else if field.field_type() == FieldType::Attachment {
            Some((
                DetailCode::NotAllowed,
                format!(
                    "field \"{}\" takes files, which a sub-table does not",
                    field.key
                ),
            ))
        } else if seen.contains(&field.id) {
            Some((
                DetailCode::Duplicate,
                format!("field \"{}\" is listed twice", field.key),
            ))
        } else {
            None
        };
        seen.push(field.id);
        if let Some((code, reason)) = problem {
            check.push(path, code, reason);
        }
    }
}
