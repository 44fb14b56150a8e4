//! Master–detail forms on the server: a form entry with a `subtable` (see
//! `tenon_model::apps::form_subtable`) loaded with its detail table, its rows taken from a submission
//! (`{"lines": [{"qty": 2, …}, …]}` in `fields`), checked — only the sub-table's fields, the row count,
//! each value — and handed to the store, which creates them with the main record in one transaction.
//!
//! A member submitting a members-only form writes the rows as herself: her app role must grant
//! `create` on the detail table, the fields she fills must not be read-only to her, and the rows must
//! satisfy her create rule (checked in the write's transaction). A visitor of a public form may fill
//! exactly the fields the sub-table shows.

use serde_json::{Map, Value};
use tenon_model::apps::form_subtable::{Subtable, check_detail};
use tenon_model::apps::input::{WriteMode, parse_record_fields};
use tenon_model::apps::permissions::RecordAction;
use tenon_model::apps::view::View;
use tenon_model::apps::{Field, ParseContext, TableSchema};
use tenon_model::{Actor, Checker, DetailCode, FieldError, Reason};
use tenon_store::{FormDetails, Tenant};

use crate::error::ApiResult;
use crate::service::access::{Access, member_of};

/// A sub-table of a form, ready for a page and a submission.
#[derive(Debug, Clone)]
pub struct FormSubtable {
    /// The main table's link field (its key names the sub-table in a submission).
    pub link: Field,
    /// The entry's label, else the link field's name.
    pub label: String,
    pub help: Option<String>,
    /// The detail table.
    pub schema: TableSchema,
    /// The detail fields the rows fill in, in order.
    pub fields: Vec<Field>,
    pub min_rows: usize,
    pub max_rows: usize,
}

impl FormSubtable {
    /// The sub-table's field `reference` (a key, name or id) names.
    pub fn field(&self, reference: &str) -> Option<&Field> {
        self.fields.iter().find(|field| {
            field.key.as_str() == reference
                || field.name.as_str() == reference
                || field.id.to_string() == reference
        })
    }
}

/// Checks a form configuration's sub-tables against their detail tables (422 at
/// `<path>.fields[i].subtable.fields[j]`).
pub async fn check(
    tenant: &Tenant<'_>,
    schema: &TableSchema,
    config: &Map<String, Value>,
    path: &str,
) -> ApiResult<()> {
    let mut check = Checker::default();
    for (entry, subtable) in Subtable::all(config, schema) {
        let detail = tenant.table_schema_by_id(subtable.detail).await?;
        check_detail(
            &mut check,
            &format!("{path}.fields[{entry}]"),
            &subtable,
            &detail,
            schema,
        );
    }
    check.finish()?;
    Ok(())
}

/// A form's sub-tables with their detail tables (fields deleted since the form was saved are left out).
pub async fn load(
    tenant: &Tenant<'_>,
    view: &View,
    schema: &TableSchema,
) -> ApiResult<Vec<FormSubtable>> {
    let entries = view
        .config
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (_, subtable) in Subtable::all(&view.config, schema) {
        let Some(link) = schema.field(subtable.link).cloned() else {
            continue;
        };
        let entry = entries.iter().filter_map(Value::as_object).find(|entry| {
            entry.contains_key("subtable")
                && entry
                    .get("field")
                    .and_then(Value::as_str)
                    .and_then(|reference| schema.resolve_field(reference))
                    .is_some_and(|field| field.id == link.id)
        });
        let text = |key: &str| {
            entry
                .and_then(|entry| entry.get(key))
                .and_then(Value::as_str)
                .filter(|text| !text.trim().is_empty())
                .map(str::to_owned)
        };
        let detail = tenant.table_schema_by_id(subtable.detail).await?;
        let fields = subtable
            .fields
            .iter()
            .filter_map(|reference| detail.resolve_field(reference).cloned())
            .collect();
        out.push(FormSubtable {
            label: text("label").unwrap_or_else(|| link.name.to_string()),
            help: text("help"),
            link,
            schema: detail,
            fields,
            min_rows: subtable.min_rows,
            max_rows: subtable.max_rows,
        });
    }
    Ok(out)
}

/// Takes the sub-tables' rows out of a submission's values: each sub-table's key (or the link's name
/// or id) holds a list of objects keyed by the sub-table's fields. Returns the raw rows per sub-table
/// (in the order of `subtables`) and the problems (`fields.lines[1].note`: not a field of the
/// sub-table; `fields.lines`: too few or too many rows, not a list).
pub fn take_rows(
    subtables: &[FormSubtable],
    given: &mut Map<String, Value>,
) -> (Vec<Vec<Map<String, Value>>>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut all = Vec::new();
    for subtable in subtables {
        let key = subtable.link.key.as_str();
        let reference = given
            .keys()
            .find(|reference| {
                reference.as_str() == key
                    || reference.as_str() == subtable.link.name.as_str()
                    || *reference == &subtable.link.id.to_string()
            })
            .cloned();
        let value = reference
            .and_then(|reference| given.remove(&reference))
            .unwrap_or(Value::Null);
        let at = format!("fields.{key}");
        let items = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            _ => {
                errors.push(
                    Reason::wrong_type(
                        "array",
                        "must be a list of rows, each an object of the sub-table's fields",
                    )
                    .at(at),
                );
                all.push(Vec::new());
                continue;
            }
        };
        if items.len() < subtable.min_rows {
            errors.push(
                FieldError::new(
                    at.clone(),
                    DetailCode::TooFew,
                    format!("needs at least {} rows", subtable.min_rows),
                )
                .with("min", subtable.min_rows),
            );
        }
        if items.len() > subtable.max_rows {
            errors.push(
                FieldError::new(
                    at.clone(),
                    DetailCode::TooMany,
                    format!("takes at most {} rows", subtable.max_rows),
                )
                .with("max", subtable.max_rows),
            );
            all.push(Vec::new());
            continue;
        }
        let mut rows = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(object) = item else {
                errors.push(
                    Reason::wrong_type("object", "must be an object of the sub-table's fields")
                        .at(format!("{at}[{i}]")),
                );
                continue;
            };
            let mut row = Map::new();
            for (reference, value) in object {
                match subtable.field(&reference) {
                    Some(field) => {
                        row.insert(field.key.to_string(), value);
                    }
                    None => errors.push(FieldError::new(
                        format!("{at}[{i}].{reference}"),
                        DetailCode::UnknownField,
                        "is not a field of this sub-table",
                    )),
                }
            }
            rows.push(row);
        }
        all.push(rows);
    }
    (all, errors)
}

/// Parses the rows of each sub-table and, for a member, checks her app role on the detail tables.
/// Every value's problem at once (`fields.lines[0].qty`); the permission refusals are 403s.
pub async fn parse_rows(
    tenant: &Tenant<'_>,
    subtables: &[FormSubtable],
    rows: Vec<Vec<Map<String, Value>>>,
    parse: &ParseContext,
    actor: Option<&Actor>,
    context: &tenon_model::apps::filter::FilterContext,
) -> ApiResult<(Vec<FormDetails>, Vec<FieldError>)> {
    let mut errors = Vec::new();
    let mut details = Vec::new();
    for (subtable, rows) in subtables.iter().zip(rows) {
        let at = format!("fields.{}", subtable.link.key);
        let access = match actor.filter(|actor| member_of(actor).is_some()) {
            Some(actor) => Access::load(tenant, actor, &subtable.schema).await?,
            None => Access::full(),
        };
        let guard = access.guard(RecordAction::Create, &subtable.schema, context)?;
        let mut parsed = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let path = format!("{at}[{i}]");
            match parse_record_fields(&subtable.schema, row, parse, WriteMode::Create, &path) {
                Ok(cells) => {
                    if !access.table.read_only.is_empty() {
                        // Only the fields the member filled: a read-only field's default is not hers.
                        let given: Vec<_> = cells
                            .iter()
                            .filter(|(id, _)| {
                                subtable
                                    .schema
                                    .field(**id)
                                    .is_some_and(|field| row.contains_key(field.key.as_str()))
                            })
                            .collect();
                        access.require_writable(
                            &subtable.schema,
                            given.iter().map(|(id, cell)| (*id, *cell)),
                        )?;
                    }
                    parsed.push(cells);
                }
                Err(problems) => errors.extend(problems),
            }
        }
        details.push(FormDetails {
            schema: subtable.schema.clone(),
            link: subtable.link.id,
            rows: parsed,
            guard: guard.after,
            at,
        });
    }
    Ok((details, errors))
}
