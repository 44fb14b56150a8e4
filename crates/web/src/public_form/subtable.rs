//! A form page's sub-tables (master–detail forms): the rows of a linked table typed in below the form's
//! fields, as an accessible table whose inputs are named `lines[0][qty]`, so a plain post without
//! JavaScript carries them. "Add row" and "Remove row" are submit buttons (`subtable=add:lines`,
//! `subtable=remove:lines:1`): the server answers the page again with the rows changed and nothing
//! written, with or without JavaScript.
//!
//! Rows left entirely empty are not submitted; a problem the API reports at `fields.lines[2].qty` is
//! shown at the cell of the page row that became submitted row 2.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};
use tenon_model::apps::FieldType;
use tenon_server::routes::form_subtables::FormSubtable;
use tenon_server::routes::forms::{self, PublicForm};

use crate::public_page::{InputOut, input_out, posted_under, texts_of, typed_value};

/// The name of the add and remove buttons.
pub const ACTION: &str = "subtable";

/// The rows typed into each sub-table (in the form's order), each row by field key.
pub(crate) type Rows = Vec<Vec<Map<String, Value>>>;

/// Where problems stand: per sub-table, its own message and each page row's (the row's, and by field).
#[derive(Debug, Default)]
pub(crate) struct Problems {
    table: Vec<(usize, String)>,
    rows: Vec<(usize, usize, Option<String>, String)>,
}

#[derive(Debug, Serialize)]
struct ColumnOut {
    id: String,
    label: String,
    required: bool,
}

#[derive(Debug, Serialize)]
struct CellOut {
    #[serde(flatten)]
    input: InputOut,
    /// The input's name: `lines[0][qty]`.
    name: String,
    label: String,
}

#[derive(Debug, Serialize)]
struct RowOut {
    number: usize,
    cells: Vec<CellOut>,
    error: Option<String>,
    /// The remove button's value.
    remove: String,
}

/// A sub-table as the template shows it.
#[derive(Debug, Serialize)]
pub(crate) struct SubtableOut {
    id: String,
    label: String,
    help: Option<String>,
    required: bool,
    columns: Vec<ColumnOut>,
    rows: Vec<RowOut>,
    error: Option<String>,
    /// The add button's value, `None` at `max_rows`.
    add: Option<String>,
    /// Rows may be removed (more than `min_rows`, and more than one).
    removable: bool,
}

/// The fields a sub-table asks for on the page (pickers of linked records, members and departments
/// would show an outsider the organization's data).
fn on_page(subtable: &FormSubtable) -> impl Iterator<Item = &tenon_model::apps::Field> {
    subtable.fields.iter().filter(|field| {
        forms::fillable_on_page(field.field_type())
            && !matches!(
                field.field_type(),
                FieldType::MultiSelect | FieldType::Attachment
            )
    })
}

/// The rows a fresh page starts with: `min_rows`, at least one.
pub(crate) fn initial(form: &PublicForm) -> Rows {
    form.subtables
        .iter()
        .map(|subtable| vec![Map::new(); subtable.min_rows.max(1).min(subtable.max_rows)])
        .collect()
}

/// The rows a post carries, in the order of their indexes.
pub(crate) fn posted(form: &PublicForm, posted: &[(String, String)]) -> Rows {
    form.subtables
        .iter()
        .map(|subtable| {
            let prefix = format!("{}[", subtable.link.key);
            let indexes: BTreeSet<usize> = posted
                .iter()
                .filter_map(|(name, _)| {
                    let rest = name.strip_prefix(&prefix)?;
                    rest.split(']').next()?.parse::<usize>().ok()
                })
                .filter(|index| {
                    *index < tenon_model::apps::form_subtable::SUBTABLE_ROWS_MAX as usize
                })
                .collect();
            indexes
                .into_iter()
                .map(|index| {
                    on_page(subtable)
                        .map(|field| {
                            let name = format!("{}[{index}][{}]", subtable.link.key, field.key);
                            (
                                field.key.to_string(),
                                typed_value(field.field_type(), &posted_under(posted, &name)),
                            )
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Applies an add or remove button of the post (`subtable=add:lines`, `remove:lines:1`); `false` when
/// the post was a submission.
pub(crate) fn apply_action(
    form: &PublicForm,
    posted: &[(String, String)],
    rows: &mut Rows,
) -> bool {
    let Some((_, action)) = posted.iter().find(|(name, _)| name == ACTION) else {
        return false;
    };
    let mut parts = action.split(':');
    let (verb, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let index = parts.next().and_then(|raw| raw.parse::<usize>().ok());
    if let Some(at) = form
        .subtables
        .iter()
        .position(|subtable| subtable.link.key.as_str() == key)
        && let Some(table) = rows.get_mut(at)
    {
        let subtable = &form.subtables[at];
        match (verb, index) {
            ("add", _) if table.len() < subtable.max_rows => table.push(Map::new()),
            ("remove", Some(index)) if index < table.len() => {
                table.remove(index);
            }
            _ => {}
        }
    }
    true
}

fn blank(row: &Map<String, Value>) -> bool {
    row.values().all(|value| match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    })
}

/// The rows to submit (empty rows left out), by sub-table key, and for each sub-table the page row of
/// each submitted row.
pub(crate) fn submitted(form: &PublicForm, rows: &Rows) -> (Map<String, Value>, Vec<Vec<usize>>) {
    let mut given = Map::new();
    let mut positions = Vec::new();
    for (subtable, table) in form.subtables.iter().zip(rows) {
        let mut kept = Vec::new();
        let mut at = Vec::new();
        for (index, row) in table.iter().enumerate() {
            if blank(row) {
                continue;
            }
            let row: Map<String, Value> = row
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            kept.push(Value::Object(row));
            at.push(index);
        }
        given.insert(subtable.link.key.to_string(), Value::Array(kept));
        positions.push(at);
    }
    (given, positions)
}

impl Problems {
    /// Takes a problem the API reported at `field` (`fields.lines`, `fields.lines[1]`,
    /// `fields.lines[1].qty`) when it is a sub-table's; `false` for any other.
    pub(crate) fn take(
        &mut self,
        form: &PublicForm,
        positions: &[Vec<usize>],
        field: &str,
        message: &str,
    ) -> bool {
        let Some(rest) = field.strip_prefix("fields.") else {
            return false;
        };
        for (at, subtable) in form.subtables.iter().enumerate() {
            let Some(rest) = rest.strip_prefix(subtable.link.key.as_str()) else {
                continue;
            };
            if rest.is_empty() {
                self.table.push((at, message.to_owned()));
                return true;
            }
            let Some(rest) = rest.strip_prefix('[') else {
                continue;
            };
            let Some((index, rest)) = rest.split_once(']') else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            let row = positions
                .get(at)
                .and_then(|rows| rows.get(index))
                .copied()
                .unwrap_or(index);
            let key = rest.strip_prefix('.').map(str::to_owned);
            // A problem at a field the page does not show is the row's.
            let key =
                key.filter(|key| on_page(subtable).any(|field| field.key.as_str() == key.as_str()));
            let message = match (&key, rest.strip_prefix('.')) {
                (None, Some(other)) => format!("{other}: {message}"),
                _ => message.to_owned(),
            };
            self.rows.push((at, row, key, message));
            return true;
        }
        false
    }
}

/// The sub-tables as the template shows them: `rows` typed so far, `problems` at their cells.
pub(crate) fn out(form: &PublicForm, rows: &Rows, problems: &Problems) -> Vec<SubtableOut> {
    form.subtables
        .iter()
        .enumerate()
        .map(|(at, subtable)| {
            let table = rows.get(at).map(Vec::as_slice).unwrap_or(&[]);
            let id = format!("s-{}", at + 1);
            let key = subtable.link.key.as_str();
            let columns = on_page(subtable)
                .enumerate()
                .map(|(c, field)| ColumnOut {
                    id: format!("{id}-c{}", c + 1),
                    label: field.name.to_string(),
                    required: field.required,
                })
                .collect();
            let rows = table
                .iter()
                .enumerate()
                .map(|(r, row)| {
                    let errors: Vec<(String, String)> = problems
                        .rows
                        .iter()
                        .filter(|(t, i, field, _)| *t == at && *i == r && field.is_some())
                        .filter_map(|(_, _, field, message)| {
                            Some((field.clone()?, message.clone()))
                        })
                        .collect();
                    let cells = on_page(subtable)
                        .enumerate()
                        .map(|(c, field)| {
                            let given = row.get(field.key.as_str());
                            let texts = texts_of(given);
                            CellOut {
                                input: input_out(
                                    field,
                                    format!("{id}-r{}-c{}", r + 1, c + 1),
                                    &texts,
                                    texts.first().cloned().unwrap_or_default(),
                                    matches!(given, Some(Value::Bool(true))),
                                    &errors,
                                ),
                                name: format!("{key}[{r}][{}]", field.key),
                                label: field.name.to_string(),
                            }
                        })
                        .collect();
                    let error = problems
                        .rows
                        .iter()
                        .filter(|(t, i, field, _)| *t == at && *i == r && field.is_none())
                        .map(|(_, _, _, message)| message.clone())
                        .collect::<Vec<_>>();
                    RowOut {
                        number: r + 1,
                        cells,
                        error: (!error.is_empty()).then(|| error.join(" ")),
                        remove: format!("remove:{key}:{r}"),
                    }
                })
                .collect::<Vec<_>>();
            let error = problems
                .table
                .iter()
                .filter(|(t, _)| *t == at)
                .map(|(_, message)| message.clone())
                .collect::<Vec<_>>();
            SubtableOut {
                label: subtable.label.clone(),
                help: subtable.help.clone(),
                required: subtable.min_rows > 0,
                columns,
                removable: rows.len() > subtable.min_rows.max(1),
                add: (rows.len() < subtable.max_rows).then(|| format!("add:{key}")),
                rows,
                error: (!error.is_empty()).then(|| error.join(" ")),
                id,
            }
        })
        .collect()
}
