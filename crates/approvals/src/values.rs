//! The record's values an instance keeps (its submit snapshot) as JSON and back, losslessly: each cell
//! tagged with its kind, so a value reads back as it was written whatever happens to the table later.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tenon_model::FieldId;
use tenon_model::apps::CellValue;

/// `{"<field id>": {"text": "…"} | {"decimal": "2.50"} | {"integer": 3} | {"bool": true} |
/// {"date": "2026-11-25"} | {"datetime": "…Z"} | {"names": […]} | {"ids": […]}}`.
pub fn to_json(values: &BTreeMap<FieldId, CellValue>) -> Value {
    let object: Map<String, Value> = values
        .iter()
        .map(|(field, cell)| {
            let tagged = match cell {
                CellValue::Text(text) => json!({"text": text}),
                CellValue::Decimal(value) => json!({"decimal": value.to_string()}),
                CellValue::Integer(value) => json!({"integer": value}),
                CellValue::Bool(flag) => json!({"bool": flag}),
                CellValue::Date(date) => json!({"date": date.format("%Y-%m-%d").to_string()}),
                CellValue::DateTime(time) => json!({"datetime": time.to_rfc3339()}),
                CellValue::Names(names) => json!({"names": names}),
                CellValue::Ids(ids) => {
                    json!({"ids": ids.iter().map(ToString::to_string).collect::<Vec<_>>()})
                }
            };
            (field.to_string(), tagged)
        })
        .collect();
    Value::Object(object)
}

/// Reads what [`to_json`] wrote; entries it cannot read are left out.
pub fn from_json(value: &Value) -> BTreeMap<FieldId, CellValue> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(field, tagged)| {
            let field: FieldId = field.parse().ok()?;
            let (kind, inner) = tagged.as_object()?.iter().next()?;
            let cell = match kind.as_str() {
                "text" => CellValue::Text(inner.as_str()?.to_owned()),
                "decimal" => CellValue::Decimal(inner.as_str()?.parse::<Decimal>().ok()?),
                "integer" => CellValue::Integer(inner.as_i64()?),
                "bool" => CellValue::Bool(inner.as_bool()?),
                "date" => {
                    CellValue::Date(NaiveDate::parse_from_str(inner.as_str()?, "%Y-%m-%d").ok()?)
                }
                "datetime" => CellValue::DateTime(
                    DateTime::parse_from_rfc3339(inner.as_str()?)
                        .ok()?
                        .with_timezone(&Utc),
                ),
                "names" => CellValue::Names(
                    inner
                        .as_array()?
                        .iter()
                        .filter_map(|name| name.as_str().map(str::to_owned))
                        .collect(),
                ),
                "ids" => CellValue::Ids(
                    inner
                        .as_array()?
                        .iter()
                        .filter_map(|id| id.as_str()?.parse().ok())
                        .collect(),
                ),
                _ => return None,
            };
            Some((field, cell))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_cell_round_trips() {
        let mut values = BTreeMap::new();
        values.insert(FieldId::new(), CellValue::Text("扣分".into()));
        values.insert(FieldId::new(), CellValue::Decimal(Decimal::new(250, 2)));
        values.insert(FieldId::new(), CellValue::Integer(-3));
        values.insert(FieldId::new(), CellValue::Bool(true));
        values.insert(
            FieldId::new(),
            CellValue::Date(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()),
        );
        values.insert(
            FieldId::new(),
            CellValue::DateTime(DateTime::<Utc>::UNIX_EPOCH),
        );
        values.insert(
            FieldId::new(),
            CellValue::Names(vec!["a".into(), "b".into()]),
        );
        values.insert(FieldId::new(), CellValue::Ids(vec![uuid::Uuid::now_v7()]));
        assert_eq!(from_json(&to_json(&values)), values);
    }
}
