//! Cell values to and from SQL, per field storage and backend, the canonical JSON of a cell (used in
//! audit snapshots and type conversions; the API renders cells itself), and a record as an update of its
//! cells leaves it.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::Value;
use tenon_model::RecordId;
use tenon_model::apps::{CellValue, FieldKind, Record, RecordActor, Storage, TableSchema};
use uuid::Uuid;

use super::RecordUpdate;

use crate::StoreError;
use crate::exec::{Arg, Backend, DynRow};

/// The value to bind for a cell in a column of `storage` (`None`: SQL NULL, the empty cell).
pub(crate) fn to_arg(
    cell: Option<&CellValue>,
    storage: Storage,
    backend: Backend,
) -> Result<Arg, StoreError> {
    let mismatch = || {
        StoreError::Corrupt(format!(
            "a {cell:?} value does not fit a {storage:?} column"
        ))
    };
    let arg = match (storage, cell) {
        (Storage::Text, None) => Arg::Text(None),
        (Storage::Text, Some(CellValue::Text(text))) => Arg::Text(Some(text.clone())),
        (Storage::Decimal { .. }, None) => match backend {
            Backend::Postgres => Arg::Decimal(None),
            Backend::Sqlite => Arg::Int(None),
        },
        (Storage::Decimal { scale }, Some(CellValue::Decimal(value))) => match backend {
            Backend::Postgres => Arg::Decimal(Some(*value)),
            Backend::Sqlite => Arg::Int(Some(scaled(*value, scale).ok_or_else(mismatch)?)),
        },
        (Storage::Integer, None) => Arg::Int(None),
        (Storage::Integer, Some(CellValue::Integer(value))) => Arg::Int(Some(*value)),
        (Storage::Boolean, None) => Arg::Bool(None),
        (Storage::Boolean, Some(CellValue::Bool(flag))) => Arg::Bool(Some(*flag)),
        (Storage::Date, None) => Arg::Date(None),
        (Storage::Date, Some(CellValue::Date(date))) => Arg::Date(Some(*date)),
        (Storage::DateTime, None) => Arg::Time(None),
        (Storage::DateTime, Some(CellValue::DateTime(time))) => Arg::Time(Some(*time)),
        (Storage::JsonArray, None) => Arg::Json(None),
        (Storage::JsonArray, Some(CellValue::Names(names))) => Arg::Json(Some(Value::Array(
            names
                .iter()
                .map(|name| Value::String(name.clone()))
                .collect(),
        ))),
        (Storage::JsonArray, Some(CellValue::Ids(ids))) => Arg::Json(Some(Value::Array(
            ids.iter().map(|id| Value::String(id.to_string())).collect(),
        ))),
        _ => return Err(mismatch()),
    };
    Ok(arg)
}

/// `value × 10^scale` as an integer, if exact and in range.
pub(crate) fn scaled(value: Decimal, scale: u32) -> Option<i64> {
    let mut shifted = value;
    shifted.rescale(scale);
    if shifted != value {
        return None;
    }
    i64::try_from(shifted.mantissa()).ok()
}

/// Reads the cell of `kind` at column `idx`.
pub(crate) fn from_row(
    row: &DynRow,
    idx: usize,
    kind: &FieldKind,
) -> Result<Option<CellValue>, StoreError> {
    let cell = match kind.value_storage() {
        Storage::Text => row.text(idx)?.map(CellValue::Text),
        Storage::Decimal { scale } => row
            .decimal(idx, scale)?
            .map(|value| CellValue::Decimal(value.normalize())),
        Storage::Integer => row.int(idx)?.map(CellValue::Integer),
        Storage::Boolean => row.bool(idx)?.map(CellValue::Bool),
        Storage::Date => row.date(idx)?.map(CellValue::Date),
        Storage::DateTime => row.datetime(idx)?.map(CellValue::DateTime),
        Storage::JsonArray => match row.json(idx)? {
            None => None,
            Some(Value::Array(items)) => {
                let texts: Vec<String> = items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect();
                match kind {
                    FieldKind::MultiSelect { .. } | FieldKind::Lookup { .. } => {
                        Some(CellValue::Names(texts))
                    }
                    _ => Some(CellValue::Ids(
                        texts
                            .iter()
                            .map(|text| {
                                Uuid::parse_str(text)
                                    .map_err(|_| crate::rows::corrupt("id in cell", text))
                            })
                            .collect::<Result<_, _>>()?,
                    )),
                }
            }
            Some(other) => return Err(crate::rows::corrupt("array cell", &other.to_string())),
        },
        Storage::Junction | Storage::System | Storage::Virtual => None,
    };
    Ok(cell
        .filter(|cell| !matches!(cell, CellValue::Names(names) if names.is_empty()))
        .filter(|cell| !matches!(cell, CellValue::Ids(ids) if ids.is_empty())))
}

/// The canonical JSON of a cell: text as strings, decimals as decimal strings, dates and instants in
/// ISO 8601, lists as arrays. It is also valid input for the same or a compatible field type.
pub(crate) fn to_json(cell: &CellValue) -> Value {
    match cell {
        CellValue::Text(text) => Value::String(text.clone()),
        CellValue::Decimal(value) => Value::String(value.normalize().to_string()),
        CellValue::Integer(value) => Value::from(*value),
        CellValue::Bool(flag) => Value::Bool(*flag),
        CellValue::Date(date) => Value::String(date.format("%Y-%m-%d").to_string()),
        CellValue::DateTime(time) => {
            Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        CellValue::Names(names) => Value::Array(
            names
                .iter()
                .map(|name| Value::String(name.clone()))
                .collect(),
        ),
        CellValue::Ids(ids) => {
            Value::Array(ids.iter().map(|id| Value::String(id.to_string())).collect())
        }
    }
}

/// The records `updates` changed, as reading them back gives them, when nothing else wrote them.
pub(super) fn updated_in_memory(
    schema: &TableSchema,
    current: &HashMap<RecordId, Record>,
    updates: &[RecordUpdate],
    now: chrono::DateTime<chrono::Utc>,
    actor: RecordActor,
) -> Vec<Record> {
    updates
        .iter()
        .filter_map(|update| {
            let mut record = current.get(&update.id)?.clone();
            record.version += 1;
            record.modified_at = now;
            record.modified_by = Some(actor.clone());
            for (field_id, cell) in &update.cells {
                let stored = schema.field(*field_id).is_some_and(|field| {
                    !matches!(
                        field.kind.storage(),
                        Storage::Junction | Storage::System | Storage::Virtual
                    )
                });
                match cell {
                    Some(value) if stored => {
                        record.cells.insert(*field_id, value.clone());
                    }
                    None if stored => {
                        record.cells.remove(field_id);
                    }
                    _ => {}
                }
            }
            Some(record)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_is_exact_or_refused() {
        assert_eq!(scaled("12.5".parse().unwrap(), 2), Some(1250));
        assert_eq!(scaled("-0.01".parse().unwrap(), 2), Some(-1));
        assert_eq!(scaled("1.005".parse().unwrap(), 2), None);
        assert_eq!(
            scaled("92233720368547758.07".parse().unwrap(), 2),
            Some(i64::MAX)
        );
        assert_eq!(scaled("92233720368547758.08".parse().unwrap(), 2), None);
    }
}
