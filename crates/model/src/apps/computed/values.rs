//! Values between cells and formulas: a cell as a formula value, a formula value as a cell, a formula
//! computed on a record, and a lookup, rollup or count over linked records' cells.

use std::collections::BTreeMap;

use tenon_formula::{self as formula, Formula, Type};

use crate::apps::CellValue;
use crate::apps::field::{FieldKind, Storage};
use crate::ids::FieldId;

/// A cell as a formula value of the field's formula kind (numbers at the field's scale).
pub fn cell_value(kind: &formula::FieldKind, cell: Option<&CellValue>) -> formula::Value {
    use formula::FieldKind as F;
    use formula::Value as V;
    let Some(cell) = cell else {
        return V::Empty;
    };
    match (kind, cell) {
        (F::Number { scale }, CellValue::Decimal(value)) => {
            formula::rescale(*value, *scale).map_or_else(V::Error, V::Number)
        }
        (F::Number { scale }, CellValue::Integer(value)) => {
            formula::rescale((*value).into(), *scale).map_or_else(V::Error, V::Number)
        }
        (F::Integer, CellValue::Integer(value)) => V::Number((*value).into()),
        (F::Text | F::SingleSelect, CellValue::Text(text)) => V::text(text.clone()),
        (F::Checkbox, CellValue::Bool(flag)) => V::Bool(*flag),
        (F::Date, CellValue::Date(date)) => V::Date(*date),
        (F::DateTime, CellValue::DateTime(time)) => V::DateTime(*time),
        (F::TextList, CellValue::Names(names)) => {
            V::List(names.iter().map(|n| V::text(n.clone())).collect())
        }
        (F::TextList, CellValue::Ids(ids)) => {
            V::List(ids.iter().map(|id| V::text(id.to_string())).collect())
        }
        (F::Lookup(of), CellValue::Names(items)) => {
            V::List(items.iter().map(|item| element_value(of, item)).collect())
        }
        _ => V::Empty,
    }
}

/// One element of a stored list (lookup values are kept as text) as a formula value.
fn element_value(kind: &formula::FieldKind, text: &str) -> formula::Value {
    use formula::FieldKind as F;
    use formula::Value as V;
    match kind {
        F::Number { scale } => text
            .parse::<rust_decimal::Decimal>()
            .ok()
            .and_then(|value| formula::rescale(value, *scale).ok())
            .map_or(V::Empty, V::Number),
        F::Integer => text
            .parse::<i64>()
            .map_or(V::Empty, |n| V::Number(n.into())),
        F::Checkbox => V::Bool(text == "true"),
        F::Date => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_or(V::Empty, V::Date),
        F::DateTime => chrono::DateTime::parse_from_rfc3339(text).map_or(V::Empty, |time| {
            V::DateTime(time.with_timezone(&chrono::Utc))
        }),
        F::Lookup(inner) => element_value(inner, text),
        F::Text | F::SingleSelect | F::TextList => V::text(text),
    }
}

/// A formula value as the cell of a column of `storage` (`None`: empty; errors are empty).
pub fn value_cell(value: &formula::Value, storage: Storage) -> Option<CellValue> {
    use formula::Value as V;
    match (value, storage) {
        (V::Empty | V::Error(_), _) => None,
        (V::Number(number), Storage::Integer) => i64::try_from(number.trunc().mantissa())
            .ok()
            .map(CellValue::Integer),
        (V::Number(number), Storage::Decimal { scale }) => formula::rescale(*number, scale)
            .ok()
            .map(CellValue::Decimal),
        (V::Text(text), Storage::Text) => Some(CellValue::Text(text.clone())),
        (V::Bool(flag), Storage::Boolean) => Some(CellValue::Bool(*flag)),
        (V::Date(date), Storage::Date) => Some(CellValue::Date(*date)),
        (V::DateTime(time), Storage::DateTime) => Some(CellValue::DateTime(*time)),
        (V::List(items), Storage::JsonArray) => {
            let texts: Vec<String> = items.iter().filter_map(element_text).collect();
            (!texts.is_empty()).then_some(CellValue::Names(texts))
        }
        (other, Storage::Text) => element_text(other).map(CellValue::Text),
        _ => None,
    }
}

/// A value as one element of a stored list: decimals plain, dates and instants in ISO 8601.
fn element_text(value: &formula::Value) -> Option<String> {
    use formula::Value as V;
    match value {
        V::Empty | V::Error(_) => None,
        V::Number(number) => Some(number.to_string()),
        V::Text(text) => Some(text.clone()),
        V::Bool(flag) => Some(flag.to_string()),
        V::Date(date) => Some(date.format("%Y-%m-%d").to_string()),
        V::DateTime(time) => Some(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        V::List(items) => {
            let parts: Vec<String> = items.iter().filter_map(element_text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
    }
}

/// Computes a formula on a record's cells (by field id).
pub fn eval_formula(
    formula: &Formula,
    cells: &BTreeMap<FieldId, CellValue>,
    ctx: &formula::EvalContext,
) -> formula::Value {
    let inputs: Vec<formula::Value> = formula
        .fields()
        .iter()
        .map(|field| {
            let id: Option<FieldId> = field.id.as_str().parse().ok();
            cell_value(&field.kind, id.and_then(|id| cells.get(&id)))
        })
        .collect();
    formula.eval(&inputs, ctx)
}

/// A rollup, lookup or count over the linked records' cells of the looked-up field (of `element` kind).
pub fn summarize(
    kind: &FieldKind,
    element: Option<&formula::FieldKind>,
    linked: &[Option<&CellValue>],
) -> Option<CellValue> {
    match kind {
        FieldKind::Count { .. } => Some(CellValue::Integer(
            i64::try_from(linked.len()).unwrap_or(i64::MAX),
        )),
        FieldKind::Lookup { .. } => {
            let element = element?;
            let values: Vec<formula::Value> = linked
                .iter()
                .map(|cell| cell_value(element, *cell))
                .flat_map(|value| match value {
                    formula::Value::List(items) => items,
                    other => vec![other],
                })
                .collect();
            value_cell(&formula::Value::List(values), Storage::JsonArray)
        }
        FieldKind::Rollup { function, .. } => {
            let element = element?;
            let element_type = element.formula_type();
            let values: Vec<formula::Value> = linked
                .iter()
                .map(|cell| cell_value(element, *cell))
                .flat_map(|value| match value {
                    formula::Value::List(items) => items,
                    other => vec![other],
                })
                .collect();
            let flat_type = match &element_type {
                Type::List(inner) => (**inner).clone(),
                other => other.clone(),
            };
            value_cell(&function.eval(&values, &flat_type), kind.storage())
        }
        _ => None,
    }
}
