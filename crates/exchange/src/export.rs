//! A table's records as a sheet (header of field names, one row per record), for CSV and Excel exports.
//!
//! A sheet is read by people: date-times are written in the field's time zone (else the organization's)
//! as `2026-12-01 08:30:00+08:00`, which imports read back as the same instant; members, departments and
//! linked records are written by name, and so are lookups of members and departments.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenon_model::apps::formula::Type;
use tenon_model::apps::{Field, FieldKind, LinkTarget, TableSchema};
use tenon_model::{DepartmentId, MemberId, OrgId, TimeZone};
use tenon_store::{RecordQuery, Store, StoreError, Tenant};
use uuid::Uuid;

use crate::render::{KeyBy, RenderContext};
use crate::tabular::{Sheet, text};

/// Records read per page while exporting.
const EXPORT_PAGE_ROWS: u32 = 1000;

/// How a column's rendered values become cells.
#[derive(Debug, Clone, Copy)]
enum Column {
    /// As rendered, lists and objects flattened to text (names joined).
    Plain,
    /// Instants (or lists of them), written in this zone.
    Instants(TimeZone),
    /// A lookup of member ids, written as the members' names.
    Members,
    /// A lookup of department ids, written as the departments' names.
    Departments,
}

/// Every record of the table, in creation order, rendered as the API shows it and flattened for a
/// spreadsheet: lists and objects become text (names joined); numbers and booleans keep their types;
/// date-times are in the field's or the organization's zone.
pub async fn table_sheet(
    store: &Store,
    org: OrgId,
    schema: &TableSchema,
) -> Result<Sheet, StoreError> {
    table_sheet_of(store, org, schema, None, None).await
}

/// [`table_sheet`] limited to the records `filter` accepts and to the `visible` fields (all when
/// `None`): an export by a member whose app role limits rows and hides fields (issue #19).
pub async fn table_sheet_of(
    store: &Store,
    org: OrgId,
    schema: &TableSchema,
    filter: Option<tenon_model::apps::filter::Filter>,
    visible: Option<&[tenon_model::FieldId]>,
) -> Result<Sheet, StoreError> {
    let tenant = store.tenant(org);
    let zone = tenant.organization().await?.time_zone;
    let fields: Vec<&tenon_model::apps::Field> = schema
        .fields
        .iter()
        .filter(|field| visible.is_none_or(|visible| visible.contains(&field.id)))
        .collect();
    let mut columns = Vec::with_capacity(fields.len());
    for field in &fields {
        columns.push(column(&tenant, schema, field, zone).await?);
    }
    let headers: Vec<String> = fields.iter().map(|field| field.name.to_string()).collect();
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let query = RecordQuery {
            filter: filter.clone(),
            sort: Vec::new(),
            fields: None,
            page_size: EXPORT_PAGE_ROWS,
            after,
            offset: 0,
            count: false,
            condition: None,
        };
        let page = tenant.list_records(schema, &query).await?;
        let context =
            RenderContext::load(store, org, schema, &page.records, KeyBy::Key, &[]).await?;
        let rendered: Vec<Value> = page
            .records
            .iter()
            .map(|record| context.record(schema, record, None))
            .collect();
        let people: Vec<MemberId> = referenced(&rendered, &fields, &columns, Column::Members);
        let people = tenant.member_names(&people).await?;
        let departments: Vec<DepartmentId> =
            referenced(&rendered, &fields, &columns, Column::Departments);
        let departments = tenant.department_names(&departments).await?;
        for record in &rendered {
            rows.push(
                fields
                    .iter()
                    .zip(&columns)
                    .map(|(field, column)| {
                        let value = record["fields"].get(field.key.as_str());
                        cell(value, *column, &people, &departments)
                    })
                    .collect(),
            );
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(Sheet { headers, rows })
}

/// What a field's column holds; a lookup is judged by the field it looks up.
async fn column(
    tenant: &Tenant<'_>,
    schema: &TableSchema,
    field: &Field,
    zone: TimeZone,
) -> Result<Column, StoreError> {
    Ok(match &field.kind {
        FieldKind::DateTime { time_zone }
        | FieldKind::CreatedTime { time_zone }
        | FieldKind::ModifiedTime { time_zone } => Column::Instants(time_zone.unwrap_or(zone)),
        FieldKind::Lookup {
            link,
            field: looked_up_field,
            ..
        } => {
            let target =
                link.id()
                    .and_then(|id| schema.field(id))
                    .and_then(|link| match &link.kind {
                        FieldKind::Link {
                            table: LinkTarget::Resolved(table),
                            ..
                        } => Some(*table),
                        _ => None,
                    });
            let looked_up = match (target, looked_up_field.id()) {
                (Some(table), Some(id)) => tenant
                    .table_schema_by_id(table)
                    .await?
                    .field(id)
                    .map(|field| field.kind.clone()),
                _ => None,
            };
            match looked_up {
                Some(FieldKind::Member { .. }) => Column::Members,
                Some(FieldKind::Department { .. }) => Column::Departments,
                Some(
                    FieldKind::DateTime { time_zone }
                    | FieldKind::CreatedTime { time_zone }
                    | FieldKind::ModifiedTime { time_zone },
                ) => Column::Instants(time_zone.unwrap_or(zone)),
                _ => computed_column(&field.kind.value_type(), zone),
            }
        }
        kind => computed_column(&kind.value_type(), zone),
    })
}

/// A computed field whose values are instants is written in the organization's zone.
fn computed_column(ty: &Option<Type>, zone: TimeZone) -> Column {
    match ty {
        Some(Type::DateTime) => Column::Instants(zone),
        Some(Type::List(item)) if **item == Type::DateTime => Column::Instants(zone),
        _ => Column::Plain,
    }
}

/// The ids in the columns of kind `wanted` (member or department lookups) of a page of records.
fn referenced<Id: From<Uuid> + Ord>(
    rendered: &[Value],
    fields: &[&tenon_model::apps::Field],
    columns: &[Column],
    wanted: Column,
) -> Vec<Id> {
    let mut ids: Vec<Id> = Vec::new();
    for (field, column) in fields.iter().zip(columns) {
        if std::mem::discriminant(column) != std::mem::discriminant(&wanted) {
            continue;
        }
        for record in rendered {
            if let Some(Value::Array(items)) = record["fields"].get(field.key.as_str()) {
                ids.extend(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .filter_map(|raw| Uuid::parse_str(raw).ok())
                        .map(Id::from),
                );
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn cell(
    value: Option<&Value>,
    column: Column,
    people: &HashMap<MemberId, String>,
    departments: &HashMap<DepartmentId, String>,
) -> Value {
    let Some(value) = value else {
        return Value::Null;
    };
    let value = match (column, value) {
        (Column::Instants(zone), Value::String(raw)) => local(raw, zone),
        (Column::Instants(zone), Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::String(raw) => local(raw, zone),
                    other => other.clone(),
                })
                .collect(),
        ),
        (Column::Members, Value::Array(items)) => {
            Value::Array(items.iter().map(|item| named(people, item)).collect())
        }
        (Column::Departments, Value::Array(items)) => {
            Value::Array(items.iter().map(|item| named(departments, item)).collect())
        }
        (_, other) => other.clone(),
    };
    match value {
        Value::Array(_) | Value::Object(_) => Value::String(text(&value)),
        other => other,
    }
}

/// A member's or department's id written as its name (kept as is when it names nobody).
fn named<Id: From<Uuid> + Eq + std::hash::Hash>(
    names: &HashMap<Id, String>,
    item: &Value,
) -> Value {
    item.as_str()
        .and_then(|raw| Uuid::parse_str(raw).ok())
        .and_then(|id| names.get(&Id::from(id)))
        .map_or_else(|| item.clone(), |name| Value::String(name.clone()))
}

/// An instant as rendered (RFC 3339, UTC) written in `zone`: `2026-12-01 08:30:00+08:00`.
fn local(raw: &str, zone: TimeZone) -> Value {
    match DateTime::parse_from_rfc3339(raw) {
        Ok(time) => Value::String(
            time.with_timezone(&Utc)
                .with_timezone(&zone.tz())
                .format("%Y-%m-%d %H:%M:%S%.f%:z")
                .to_string(),
        ),
        Err(_) => Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_in_the_zone_and_read_back_as_the_same_instant() {
        let shanghai = TimeZone::SHANGHAI;
        let written = local("2026-11-30T20:00:00Z", shanghai);
        assert_eq!(written, Value::from("2026-12-01 04:00:00+08:00"));
        let fraction = local("2026-11-30T20:00:00.25Z", shanghai);
        assert_eq!(fraction, Value::from("2026-12-01 04:00:00.250+08:00"));
        let read = tenon_model::apps::value::datetime(&written, shanghai).unwrap();
        assert_eq!(
            read,
            "2026-11-30T20:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            local("2026-07-01T12:00:00Z", new_york),
            Value::from("2026-07-01 08:00:00-04:00")
        );
    }
}
