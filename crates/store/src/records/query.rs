//! Listing records: filters, sorts and keyset cursors compiled to SQL for either backend.
//!
//! Column names come from field ids; every value is a bound parameter. Ordering is total (the record id
//! breaks ties) and NULL-aware (empty values first when ascending, last when descending, as SQLite's
//! indexes store them), so a cursor taken from the last row of a page continues exactly after it, even
//! while other records are inserted.

use rust_decimal::Decimal;
use serde_json::Value;
use tenon_model::apps::filter::{Condition, Filter, Op, Operand, SortKey};
use tenon_model::apps::{FieldKind, Storage};
use uuid::Uuid;

use super::cells;
use crate::apps::ddl;
use crate::exec::{Arg, Backend, DynRow, quote};
use crate::{Result, StoreError};

pub(crate) use crate::sql::SqlText;

/// The SQL expression of a field's value in the row aliased `r`.
pub(crate) fn column(kind: &FieldKind, field_id: tenon_model::FieldId) -> String {
    match kind {
        FieldKind::CreatedTime { .. } => "r.created_at".to_owned(),
        FieldKind::ModifiedTime { .. } => "r.modified_at".to_owned(),
        FieldKind::CreatedBy => "r.created_by".to_owned(),
        FieldKind::ModifiedBy => "r.modified_by".to_owned(),
        _ => format!("r.{}", quote(&ddl::column_name(field_id))),
    }
}

/// Binds a decimal compared with a column of `scale`: exact NUMERIC on PostgreSQL; on SQLite the scaled
/// integer, or the scaled value as a float when the operand has more decimals than the column keeps.
fn decimal_arg(value: Decimal, scale: u32, backend: Backend) -> Arg {
    match backend {
        Backend::Postgres => Arg::Decimal(Some(value)),
        Backend::Sqlite => match cells::scaled(value, scale) {
            Some(integer) => Arg::Int(Some(integer)),
            None => {
                let shifted = value * Decimal::from_i128_with_scale(10_i128.pow(scale), 0);
                Arg::Text(Some(shifted.to_string())).into_real()
            }
        },
    }
}

impl Arg {
    /// SQLite compares a REAL with an INTEGER numerically; this turns a decimal string into that REAL.
    fn into_real(self) -> Arg {
        match self {
            Arg::Text(Some(text)) => Arg::Real(text.parse::<f64>().ok()),
            other => other,
        }
    }
}

/// Appends the SQL of a checked filter.
pub(crate) fn filter(sql: &mut SqlText, filter: &Filter) -> Result<()> {
    match filter {
        Filter::And(children) | Filter::Or(children) if children.is_empty() => {
            sql.push(if matches!(filter, Filter::And(_)) {
                "1 = 1"
            } else {
                "1 = 0"
            });
        }
        Filter::And(children) | Filter::Or(children) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                self::filter(sql, child)?;
            }
            sql.push(")");
        }
        Filter::Not(child) => {
            // NOT over a condition that is NULL for empty cells would drop them (`eq` on an empty cell
            // is NULL): an unknown condition counts as false, so its negation holds.
            sql.push("NOT COALESCE((");
            self::filter(sql, child)?;
            sql.push("), FALSE)");
        }
        Filter::Leaf(condition) => leaf(sql, condition)?,
    }
    Ok(())
}

fn leaf(sql: &mut SqlText, condition: &Condition) -> Result<()> {
    let field = &condition.field;
    let col = column(&field.kind, field.id);
    let backend = sql.backend;
    let op = condition.op;
    let unsupported = || {
        StoreError::Corrupt(format!(
            "a checked filter has {op:?} with {:?}",
            condition.operand
        ))
    };
    match field.kind.value_storage() {
        Storage::Text => {
            text_condition(sql, &col, op, &condition.operand).ok_or_else(unsupported)?
        }
        Storage::Decimal { scale } => {
            let bind = |value: &Decimal| decimal_arg(*value, scale, backend);
            match (&condition.operand, op) {
                (Operand::None, _) => empty(sql, &col, op, false),
                (Operand::Decimal(value), _) => compare(sql, &col, op, bind(value)),
                (Operand::DecimalPair(low, high), Op::Between) => {
                    between(sql, &col, bind(low), bind(high))
                }
                (Operand::Decimals(values), Op::In | Op::NotIn) => {
                    in_list(sql, &col, op, values.iter().map(bind).collect())
                }
                _ => return Err(unsupported()),
            }
        }
        Storage::Integer => match (&condition.operand, op) {
            (Operand::None, _) => empty(sql, &col, op, false),
            (Operand::Integer(value), _) => compare(sql, &col, op, Arg::Int(Some(*value))),
            (Operand::IntegerPair(low, high), Op::Between) => {
                between(sql, &col, Arg::Int(Some(*low)), Arg::Int(Some(*high)))
            }
            (Operand::Integers(values), Op::In | Op::NotIn) => in_list(
                sql,
                &col,
                op,
                values.iter().map(|v| Arg::Int(Some(*v))).collect(),
            ),
            _ => return Err(unsupported()),
        },
        Storage::Boolean => {
            let Operand::Bool(wanted) = condition.operand else {
                return Err(unsupported());
            };
            // An unticked checkbox may be stored as false or as NULL; both are "false".
            let wanted = if op == Op::Ne { !wanted } else { wanted };
            sql.push("(COALESCE(")
                .push(&col)
                .push(", ")
                .arg(Arg::Bool(Some(false)))
                .push(") = ")
                .arg(Arg::Bool(Some(wanted)))
                .push(")");
        }
        Storage::Date => match &condition.operand {
            Operand::None => empty(sql, &col, op, false),
            Operand::Days { from, to } => {
                range(sql, &col, op, Arg::Date(Some(*from)), Arg::Date(Some(*to)))
            }
            _ => return Err(unsupported()),
        },
        Storage::DateTime | Storage::System => match &condition.operand {
            Operand::None => empty(sql, &col, op, false),
            Operand::Instants { from, to } => {
                range(sql, &col, op, Arg::Time(Some(*from)), Arg::Time(Some(*to)))
            }
            Operand::Instant(at) => compare(sql, &col, op, Arg::Time(Some(*at))),
            _ => return Err(unsupported()),
        },
        Storage::JsonArray => match &condition.operand {
            Operand::None => empty(sql, &col, op, false),
            Operand::Texts(values)
                if op == Op::HasAny
                    && holds_ids(&field.kind)
                    && !values.is_empty()
                    && values.iter().all(|value| Uuid::parse_str(value).is_ok()) =>
            {
                let ids: Vec<Uuid> = values
                    .iter()
                    .filter_map(|value| Uuid::parse_str(value).ok())
                    .collect();
                has_any_id(sql, &col, &ids);
            }
            Operand::Texts(values) => {
                let values = normalize_ids(&field.kind, values);
                let elements = match backend {
                    Backend::Postgres => {
                        format!("SELECT DISTINCT e.v FROM jsonb_array_elements_text({col}) AS e(v)")
                    }
                    Backend::Sqlite => {
                        format!("SELECT DISTINCT e.value AS v FROM json_each({col}) AS e")
                    }
                };
                let column = "v";
                contains_values(
                    sql,
                    &elements,
                    column,
                    op,
                    values.into_iter().map(|v| Arg::Text(Some(v))).collect(),
                    true,
                );
            }
            _ => return Err(unsupported()),
        },
        Storage::Junction => {
            let FieldKind::Link {
                inverse: Some(inverse),
                ..
            } = field.kind
            else {
                return Err(unsupported());
            };
            let junction = quote(&ddl::junction_name(field.id, inverse));
            let (mine, other) = if field.id < inverse {
                ("source_id", "target_id")
            } else {
                ("target_id", "source_id")
            };
            let elements =
                format!("SELECT j.{other} AS v FROM {junction} AS j WHERE j.{mine} = r.id");
            match &condition.operand {
                Operand::None => {
                    sql.push(if op == Op::IsEmpty {
                        "NOT EXISTS ("
                    } else {
                        "EXISTS ("
                    })
                    .push(&elements)
                    .push(")");
                }
                Operand::Texts(values) => {
                    let ids: Vec<Arg> = values
                        .iter()
                        .filter_map(|v| Uuid::parse_str(v).ok())
                        .map(|id| Arg::Uuid(Some(id)))
                        .collect();
                    contains_values(sql, &elements, "v", op, ids, false);
                }
                _ => return Err(unsupported()),
            }
        }
        Storage::Virtual => return Err(unsupported()),
    }
    Ok(())
}

/// Member and department cells store hyphenated lowercase ids; compare in that form.
/// Whether the field's JSON array holds ids only (members, departments, files): strings that JSON writes
/// without escapes, so `"<id>"` appears in the array's text exactly when the id is one of its elements.
fn holds_ids(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Member { .. } | FieldKind::Department { .. } | FieldKind::Attachment { .. }
    )
}

/// `has_any` over an array of ids without expanding the array per row (the commonest row rule,
/// `{owner} = CURRENT_MEMBER()`, is one): PostgreSQL asks `@>` of the JSONB value, SQLite looks for the
/// quoted id in the stored text (every array the store writes is serde_json's text of canonical UUID
/// strings). Never NULL, like the `EXISTS` it replaces, so `NOT` keeps its meaning on empty cells.
fn has_any_id(sql: &mut SqlText, col: &str, ids: &[Uuid]) {
    sql.push("COALESCE((");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        match sql.backend {
            // A JSONB constant (folded once), not `jsonb_build_array(…)`, which PostgreSQL calls
            // per row (it is only STABLE): half the time of a scan.
            Backend::Postgres => {
                sql.push(col).push(" @> CAST(");
                sql.arg(Arg::Text(Some(format!("[\"{id}\"]"))));
                sql.push(" AS JSONB)");
            }
            Backend::Sqlite => {
                sql.push("instr(").push(col).push(", ");
                sql.arg(Arg::Text(Some(format!("\"{id}\""))));
                sql.push(") > 0");
            }
        }
    }
    sql.push("), FALSE)");
}

fn normalize_ids(kind: &FieldKind, values: &[String]) -> Vec<String> {
    match kind {
        FieldKind::MultiSelect { .. } | FieldKind::Lookup { .. } => values.to_vec(),
        _ => values
            .iter()
            .map(|value| Uuid::parse_str(value).map_or_else(|_| value.clone(), |id| id.to_string()))
            .collect(),
    }
}

fn empty(sql: &mut SqlText, col: &str, op: Op, text: bool) {
    let check = match (op, text) {
        (Op::IsEmpty, true) => format!("({col} IS NULL OR {col} = '')"),
        (Op::IsEmpty, false) => format!("({col} IS NULL)"),
        (_, true) => format!("({col} IS NOT NULL AND {col} <> '')"),
        (_, false) => format!("({col} IS NOT NULL)"),
    };
    sql.push(&check);
}

/// `=`, `<>`, `>`, … where "not equal" also matches empty cells (as people expect from "is not").
fn compare(sql: &mut SqlText, col: &str, op: Op, value: Arg) {
    let operator = match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        _ => "<=",
    };
    if op == Op::Ne {
        sql.push("(")
            .push(col)
            .push(" IS NULL OR ")
            .push(col)
            .push(" <> ")
            .arg(value)
            .push(")");
    } else {
        sql.push("(")
            .push(col)
            .push(&format!(" {operator} "))
            .arg(value)
            .push(")");
    }
}

fn between(sql: &mut SqlText, col: &str, low: Arg, high: Arg) {
    sql.push("(")
        .push(col)
        .push(" >= ")
        .arg(low)
        .push(" AND ")
        .push(col)
        .push(" <= ")
        .arg(high)
        .push(")");
}

/// A half-open range `[from, to)` compared with an operator: `eq` is "within", `gt` is "after it".
fn range(sql: &mut SqlText, col: &str, op: Op, from: Arg, to: Arg) {
    match op {
        Op::Eq | Op::Between => {
            sql.push("(")
                .push(col)
                .push(" >= ")
                .arg(from)
                .push(" AND ")
                .push(col)
                .push(" < ")
                .arg(to)
                .push(")");
        }
        Op::Ne => {
            sql.push("(")
                .push(col)
                .push(" IS NULL OR ")
                .push(col)
                .push(" < ")
                .arg(from)
                .push(" OR ")
                .push(col)
                .push(" >= ")
                .arg(to)
                .push(")");
        }
        Op::Gt => {
            sql.push("(").push(col).push(" >= ").arg(to).push(")");
        }
        Op::Gte => {
            sql.push("(").push(col).push(" >= ").arg(from).push(")");
        }
        Op::Lt => {
            sql.push("(").push(col).push(" < ").arg(from).push(")");
        }
        _ => {
            sql.push("(").push(col).push(" < ").arg(to).push(")");
        }
    }
}

fn in_list(sql: &mut SqlText, col: &str, op: Op, values: Vec<Arg>) {
    if values.is_empty() {
        sql.push(if op == Op::In { "1 = 0" } else { "1 = 1" });
        return;
    }
    if op == Op::NotIn {
        sql.push("(")
            .push(col)
            .push(" IS NULL OR ")
            .push(col)
            .push(" NOT IN (")
            .args(values)
            .push("))");
    } else {
        sql.push("(")
            .push(col)
            .push(" IN (")
            .args(values)
            .push("))");
    }
}

/// `has_any` / `has_all` over the elements a subquery yields.
fn contains_values(
    sql: &mut SqlText,
    elements: &str,
    column: &str,
    op: Op,
    values: Vec<Arg>,
    distinct_values: bool,
) {
    let n = values.len();
    match op {
        Op::HasAll => {
            let _ = distinct_values;
            sql.push("((SELECT COUNT(DISTINCT x.")
                .push(column)
                .push(") FROM (")
                .push(elements)
                .push(") AS x WHERE x.")
                .push(column);
            sql.push(" IN (").args(values).push(&format!(")) = {n})"));
        }
        _ => {
            sql.push("EXISTS (SELECT 1 FROM (")
                .push(elements)
                .push(") AS x WHERE x.")
                .push(column)
                .push(" IN (")
                .args(values)
                .push("))");
        }
    }
}

fn text_condition(sql: &mut SqlText, col: &str, op: Op, operand: &Operand) -> Option<()> {
    let like = |sql: &mut SqlText, pattern: String, negate: bool| {
        if negate {
            sql.push("(")
                .push(col)
                .push(" IS NULL OR NOT (lower(")
                .push(col)
                .push(") LIKE ")
                .arg(Arg::Text(Some(pattern)))
                .push(" ESCAPE '\\'))");
        } else {
            sql.push("(lower(")
                .push(col)
                .push(") LIKE ")
                .arg(Arg::Text(Some(pattern)))
                .push(" ESCAPE '\\')");
        }
    };
    match (op, operand) {
        (Op::IsEmpty | Op::IsNotEmpty, Operand::None) => empty(sql, col, op, true),
        (Op::Eq | Op::Ne, Operand::Text(text)) => {
            compare(sql, col, op, Arg::Text(Some(text.clone())))
        }
        (Op::Contains, Operand::Text(text)) => like(sql, format!("%{}%", escape_like(text)), false),
        (Op::NotContains, Operand::Text(text)) => {
            like(sql, format!("%{}%", escape_like(text)), true)
        }
        (Op::StartsWith, Operand::Text(text)) => {
            like(sql, format!("{}%", escape_like(text)), false)
        }
        (Op::EndsWith, Operand::Text(text)) => like(sql, format!("%{}", escape_like(text)), false),
        (Op::In | Op::NotIn, Operand::Texts(values)) => {
            in_list(
                sql,
                col,
                op,
                values.iter().map(|v| Arg::Text(Some(v.clone()))).collect(),
            );
        }
        _ => return None,
    }
    Some(())
}

/// Lowercases (matching is case-insensitive for ASCII letters on both backends) and escapes LIKE's
/// wildcards so `%` and `_` in the value match themselves.
fn escape_like(text: &str) -> String {
    text.to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `ORDER BY` for the sort keys, ties broken by id in the first key's direction (so an index on
/// `(column, id)` serves the order on both backends).
pub(crate) fn order_by(sql: &mut SqlText, sort: &[SortKey]) {
    push_order(sql, sort, false);
}

/// The exact reverse of [`order_by`]: the last record of that order comes first.
pub(crate) fn order_by_reversed(sql: &mut SqlText, sort: &[SortKey]) {
    push_order(sql, sort, true);
}

fn push_order(sql: &mut SqlText, sort: &[SortKey], reversed: bool) {
    sql.push(" ORDER BY ");
    for key in sort {
        let col = column(&key.field.kind, key.field.id);
        sql.push(&col);
        if sql.backend == Backend::Postgres && key.field.kind.value_storage() == Storage::Text {
            sql.push(" COLLATE \"C\"");
        }
        sql.push(if key.descending != reversed {
            " DESC NULLS LAST, "
        } else {
            " ASC NULLS FIRST, "
        });
    }
    sql.push(if id_descending(sort) != reversed {
        "r.id DESC"
    } else {
        "r.id ASC"
    });
}

fn id_descending(sort: &[SortKey]) -> bool {
    sort.first().is_some_and(|key| key.descending)
}

/// Where a page stops: the sort values and id of its last record.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub values: Vec<Value>,
    pub id: Uuid,
}

/// Appends "comes after the cursor" in the sort order.
pub(crate) fn after_cursor(sql: &mut SqlText, sort: &[SortKey], cursor: &Cursor) -> Result<()> {
    if cursor.values.len() != sort.len() {
        return Err(StoreError::Invalid(
            tenon_model::Reason::format("cursor", "the cursor belongs to another sort order")
                .at("cursor")
                .into(),
        ));
    }
    let descending_id = id_descending(sort);
    sql.push("(");
    for (key, value) in sort.iter().zip(&cursor.values) {
        let col = column(&key.field.kind, key.field.id);
        let collate = if sql.backend == Backend::Postgres
            && key.field.kind.value_storage() == Storage::Text
        {
            " COLLATE \"C\""
        } else {
            ""
        };
        let arg = cursor_arg(&key.field.kind, value, sql.backend)?;
        // strictly after on this key
        match (arg, key.descending) {
            (None, false) => {
                sql.push(&format!("({col} IS NOT NULL) OR ({col} IS NULL AND ("));
            }
            (None, true) => {
                sql.push(&format!("(1 = 0) OR ({col} IS NULL AND ("));
            }
            (Some(arg), false) => {
                sql.push(&format!("({col}{collate} > "))
                    .arg(arg.clone())
                    .push(&format!(") OR ({col}{collate} = "))
                    .arg(arg)
                    .push(" AND (");
            }
            (Some(arg), true) => {
                sql.push(&format!("({col}{collate} < "))
                    .arg(arg.clone())
                    .push(&format!(" OR {col} IS NULL) OR ({col}{collate} = "))
                    .arg(arg)
                    .push(" AND (");
            }
        }
    }
    sql.push(if descending_id { "r.id < " } else { "r.id > " })
        .arg(Arg::Uuid(Some(cursor.id)));
    for _ in sort {
        sql.push("))");
    }
    sql.push(")");
    Ok(())
}

fn cursor_arg(kind: &FieldKind, value: &Value, backend: Backend) -> Result<Option<Arg>> {
    if value.is_null() {
        return Ok(None);
    }
    let bad = || {
        StoreError::Invalid(
            tenon_model::Reason::format("cursor", "not a cursor returned by this list")
                .at("cursor")
                .into(),
        )
    };
    let arg = match kind.value_storage() {
        Storage::Text => Arg::Text(Some(value.as_str().ok_or_else(bad)?.to_owned())),
        Storage::Decimal { scale } => {
            let number: Decimal = value
                .as_str()
                .and_then(|text| text.parse().ok())
                .ok_or_else(bad)?;
            decimal_arg(number, scale, backend)
        }
        Storage::Integer => Arg::Int(Some(value.as_i64().ok_or_else(bad)?)),
        Storage::Boolean => Arg::Bool(Some(value.as_bool().ok_or_else(bad)?)),
        Storage::Date => Arg::Date(Some(
            value
                .as_str()
                .and_then(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                .ok_or_else(bad)?,
        )),
        Storage::DateTime | Storage::System => Arg::Time(Some(
            value
                .as_str()
                .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                .map(|time| time.with_timezone(&chrono::Utc))
                .ok_or_else(bad)?,
        )),
        Storage::JsonArray | Storage::Junction | Storage::Virtual => return Err(bad()),
    };
    Ok(Some(arg))
}

/// The cursor values of a row for the sort keys (read from the selected sort columns at `first_idx`…).
pub(crate) fn cursor_values(
    row: &DynRow,
    sort: &[SortKey],
    first_idx: usize,
) -> Result<Vec<Value>> {
    sort.iter()
        .enumerate()
        .map(|(i, key)| {
            let idx = first_idx + i;
            let value = match key.field.kind.value_storage() {
                Storage::DateTime | Storage::System => row
                    .datetime(idx)?
                    .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))),
                _ => cells::from_row(row, idx, &key.field.kind)?.map(|cell| cells::to_json(&cell)),
            };
            Ok(value.unwrap_or(Value::Null))
        })
        .collect()
}
