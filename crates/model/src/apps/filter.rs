//! Record filters: the JSON tree clients send (`{"field", "op", "value"}` leaves, `and`/`or`/`not`
//! groups), checked against a table's fields. An operator that does not fit a field's type, an unknown
//! field, or a value of the wrong shape is refused here, naming the field and the operator; the store
//! only ever compiles checked filters.
//!
//! Relative dates (`{"relative": "this_month"}`) become concrete day ranges in the organization's time
//! zone when the filter is checked, from the `today` the caller passes.

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::apps::field::{FieldKind, Storage};
use crate::apps::value::datetime;
use crate::apps::{Field, TableSchema};
use crate::validation::{DetailCode, FieldError, Reason};
use crate::values::TimeZone;

/// How deep groups may nest.
pub const FILTER_DEPTH_MAX: usize = 12;
/// How many nodes a filter may have in all.
pub const FILTER_NODES_MAX: usize = 200;
/// How many values `in`, `has_any` and `has_all` may list.
pub const FILTER_VALUES_MAX: usize = 1000;

/// A comparison operator of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    IsEmpty,
    IsNotEmpty,
    In,
    NotIn,
    HasAny,
    HasAll,
}

impl Op {
    const ALL: [Op; 17] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Between,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::IsEmpty,
        Op::IsNotEmpty,
        Op::In,
        Op::NotIn,
        Op::HasAny,
        Op::HasAll,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Between => "between",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::IsEmpty => "is_empty",
            Op::IsNotEmpty => "is_not_empty",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::HasAny => "has_any",
            Op::HasAll => "has_all",
        }
    }

    fn parse(raw: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == raw)
    }
}

/// The kinds of operand a condition compares with, already typed for the field's storage.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    Text(String),
    Texts(Vec<String>),
    Decimal(Decimal),
    Decimals(Vec<Decimal>),
    Integer(i64),
    Integers(Vec<i64>),
    Bool(bool),
    /// A half-open range of days `[from, to)`; `eq` on a date means "within that day".
    Days {
        from: NaiveDate,
        to: NaiveDate,
    },
    /// A half-open range of instants, for date-time fields compared with days.
    Instants {
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    },
    Instant(chrono::DateTime<chrono::Utc>),
    InstantPair(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    DecimalPair(Decimal, Decimal),
    IntegerPair(i64, i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub operand: Operand,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Leaf(Box<Condition>),
}

/// Why a filter was refused: where in the tree (`field`, e.g. `filter.and[1]`), a code, and what.
pub type FilterError = FieldError;

/// What checking needs besides the schema: today's date and the time zone relative dates are read in.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext {
    pub today: NaiveDate,
    pub time_zone: TimeZone,
}

impl Filter {
    /// Checks a filter tree against `schema`.
    pub fn parse(
        value: &Value,
        schema: &TableSchema,
        ctx: &FilterContext,
    ) -> Result<Filter, FilterError> {
        let mut nodes = 0;
        parse_node(value, schema, ctx, "filter", 0, &mut nodes)
    }
}

fn error(path: &str, code: DetailCode, message: impl Into<String>) -> FilterError {
    FieldError::new(path, code, message)
}

fn parse_node(
    value: &Value,
    schema: &TableSchema,
    ctx: &FilterContext,
    path: &str,
    depth: usize,
    nodes: &mut usize,
) -> Result<Filter, FilterError> {
    *nodes += 1;
    if *nodes > FILTER_NODES_MAX {
        return Err(error(
            path,
            DetailCode::TooMany,
            format!("a filter has at most {FILTER_NODES_MAX} nodes"),
        )
        .with("max", FILTER_NODES_MAX));
    }
    if depth > FILTER_DEPTH_MAX {
        return Err(error(
            path,
            DetailCode::TooDeep,
            format!("groups nest at most {FILTER_DEPTH_MAX} deep"),
        )
        .with("max", FILTER_DEPTH_MAX));
    }
    let object = value.as_object().ok_or_else(|| {
        error(
            path,
            DetailCode::WrongType,
            "must be an object: a condition or an and/or/not group",
        )
        .with("expected", "object")
    })?;
    for group in ["and", "or"] {
        if let Some(children) = object.get(group) {
            if object.len() != 1 {
                return Err(error(
                    path,
                    DetailCode::NotAllowed,
                    format!("a group object has only the key \"{group}\""),
                ));
            }
            let children = children.as_array().ok_or_else(|| {
                error(
                    path,
                    DetailCode::WrongType,
                    format!("\"{group}\" takes a list"),
                )
                .with("expected", "array")
            })?;
            let parsed = children
                .iter()
                .enumerate()
                .map(|(i, child)| {
                    parse_node(
                        child,
                        schema,
                        ctx,
                        &format!("{path}.{group}[{i}]"),
                        depth + 1,
                        nodes,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if group == "and" {
                Filter::And(parsed)
            } else {
                Filter::Or(parsed)
            });
        }
    }
    if let Some(child) = object.get("not") {
        if object.len() != 1 {
            return Err(error(
                path,
                DetailCode::NotAllowed,
                "a group object has only the key \"not\"",
            ));
        }
        return Ok(Filter::Not(Box::new(parse_node(
            child,
            schema,
            ctx,
            &format!("{path}.not"),
            depth + 1,
            nodes,
        )?)));
    }
    for key in object.keys() {
        if !["field", "op", "value"].contains(&key.as_str()) {
            return Err(error(
                path,
                DetailCode::UnknownOption,
                format!("unknown key \"{key}\"; a condition has field, op and value"),
            )
            .with("allowed", vec!["field", "op", "value"]));
        }
    }
    let reference = object
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| error(path, DetailCode::Required, "a condition needs \"field\""))?;
    let field = schema.resolve_field(reference).cloned().ok_or_else(|| {
        error(
            path,
            DetailCode::UnknownField,
            format!("no field \"{reference}\" in table {}", schema.table.key),
        )
    })?;
    let op_name = object
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| error(path, DetailCode::Required, "a condition needs \"op\""))?;
    let op = Op::parse(op_name).ok_or_else(|| {
        error(
            path,
            DetailCode::NotOneOf,
            format!("\"{op_name}\" is not an operator"),
        )
        .with(
            "allowed",
            Op::ALL.iter().map(|op| op.as_str()).collect::<Vec<_>>(),
        )
    })?;
    let operand = operand(&field, op, object.get("value"), ctx, path)?;
    Ok(Filter::Leaf(Box::new(Condition { field, op, operand })))
}

/// Which operators a field type takes.
fn allowed(field: &Field) -> &'static [Op] {
    use Op::*;
    match &field.kind {
        FieldKind::Text { .. }
        | FieldKind::LongText { .. }
        | FieldKind::Email
        | FieldKind::Phone
        | FieldKind::Url
        | FieldKind::Autonumber { .. } => &[
            Eq,
            Ne,
            Contains,
            NotContains,
            StartsWith,
            EndsWith,
            In,
            NotIn,
            IsEmpty,
            IsNotEmpty,
        ],
        FieldKind::SingleSelect { .. } => &[Eq, Ne, In, NotIn, IsEmpty, IsNotEmpty],
        FieldKind::Number { .. }
        | FieldKind::Currency { .. }
        | FieldKind::Percent { .. }
        | FieldKind::Rating { .. }
        | FieldKind::Duration { .. } => &[
            Eq, Ne, Gt, Gte, Lt, Lte, Between, In, NotIn, IsEmpty, IsNotEmpty,
        ],
        FieldKind::Date { .. }
        | FieldKind::DateTime { .. }
        | FieldKind::CreatedTime { .. }
        | FieldKind::ModifiedTime { .. } => {
            &[Eq, Ne, Gt, Gte, Lt, Lte, Between, IsEmpty, IsNotEmpty]
        }
        FieldKind::Checkbox => &[Eq, Ne],
        FieldKind::MultiSelect { .. }
        | FieldKind::Member { .. }
        | FieldKind::Department { .. }
        | FieldKind::Link { .. } => &[HasAny, HasAll, IsEmpty, IsNotEmpty],
        FieldKind::Attachment { .. } | FieldKind::CreatedBy | FieldKind::ModifiedBy => {
            &[IsEmpty, IsNotEmpty]
        }
        FieldKind::Formula { .. }
        | FieldKind::Lookup { .. }
        | FieldKind::Rollup { .. }
        | FieldKind::Count { .. } => match field.kind.value_storage() {
            Storage::Text => &[
                Eq,
                Ne,
                Contains,
                NotContains,
                StartsWith,
                EndsWith,
                In,
                NotIn,
                IsEmpty,
                IsNotEmpty,
            ],
            Storage::Decimal { .. } | Storage::Integer => &[
                Eq, Ne, Gt, Gte, Lt, Lte, Between, In, NotIn, IsEmpty, IsNotEmpty,
            ],
            Storage::Date | Storage::DateTime => {
                &[Eq, Ne, Gt, Gte, Lt, Lte, Between, IsEmpty, IsNotEmpty]
            }
            Storage::Boolean => &[Eq, Ne],
            Storage::JsonArray => &[HasAny, HasAll, IsEmpty, IsNotEmpty],
            Storage::Junction | Storage::System | Storage::Virtual => &[IsEmpty, IsNotEmpty],
        },
    }
}

fn operand(
    field: &Field,
    op: Op,
    value: Option<&Value>,
    ctx: &FilterContext,
    path: &str,
) -> Result<Operand, FilterError> {
    let name = field.key.as_str();
    let ops = allowed(field);
    if !ops.contains(&op) {
        let names: Vec<&str> = ops.iter().map(|op| op.as_str()).collect();
        return Err(error(
            path,
            DetailCode::NotOneOf,
            format!(
                "operator \"{}\" does not apply to field \"{name}\" of type {}; use one of {}",
                op.as_str(),
                field.field_type(),
                names.join(", ")
            ),
        )
        .with("allowed", names));
    }
    if matches!(op, Op::IsEmpty | Op::IsNotEmpty) {
        if value.is_some_and(|value| !value.is_null()) {
            return Err(error(
                path,
                DetailCode::NotAllowed,
                format!("operator \"{}\" takes no value", op.as_str()),
            ));
        }
        return Ok(Operand::None);
    }
    let value = value.filter(|value| !value.is_null()).ok_or_else(|| {
        error(
            path,
            DetailCode::Required,
            format!(
                "operator \"{}\" on field \"{name}\" needs a value",
                op.as_str()
            ),
        )
    })?;
    let bad = |reason: Reason| {
        let mut error = reason.at(path);
        error.reason = format!(
            "field \"{name}\", operator \"{}\": {}",
            op.as_str(),
            error.reason
        );
        error
    };
    let list = |value: &Value| -> Result<Vec<Value>, FilterError> {
        let items = value
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![value.clone()]);
        if items.len() > FILTER_VALUES_MAX {
            return Err(bad(Reason::too_many(
                FILTER_VALUES_MAX,
                format!("at most {FILTER_VALUES_MAX} values"),
            )));
        }
        Ok(items)
    };
    let pair = |value: &Value| -> Result<(Value, Value), FilterError> {
        match value.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((a.clone(), b.clone())),
            _ => Err(bad(Reason::wrong_type(
                "array",
                "between takes a list of two values [low, high]",
            ))),
        }
    };
    match field.kind.value_storage() {
        Storage::Text => {
            let text = |value: &Value| -> Result<String, FilterError> {
                match value {
                    Value::String(text) => Ok(text.clone()),
                    Value::Number(number) => Ok(number.to_string()),
                    _ => Err(bad(Reason::wrong_type(
                        "string",
                        "the value must be a string",
                    ))),
                }
            };
            if matches!(op, Op::In | Op::NotIn) {
                let texts: Vec<String> = list(value)?.iter().map(text).collect::<Result<_, _>>()?;
                check_choices(field, &texts, path)?;
                return Ok(Operand::Texts(texts));
            }
            let text = text(value)?;
            check_choices(field, std::slice::from_ref(&text), path)?;
            Ok(Operand::Text(text))
        }
        Storage::Decimal { scale } => {
            // Comparisons may use any decimal; only stored values are limited to the field's precision.
            let _ = scale;
            let number = |value: &Value| -> Result<Decimal, FilterError> {
                let parsed = match value {
                    Value::Number(number) => number.to_string().parse::<Decimal>().ok(),
                    Value::String(text) => text.trim().parse::<Decimal>().ok(),
                    _ => None,
                };
                parsed
                    .map(|number| number.normalize())
                    .ok_or_else(|| bad(Reason::format("number", "the value must be a number")))
            };
            match op {
                Op::In | Op::NotIn => Ok(Operand::Decimals(
                    list(value)?.iter().map(number).collect::<Result<_, _>>()?,
                )),
                Op::Between => {
                    let (low, high) = pair(value)?;
                    Ok(Operand::DecimalPair(number(&low)?, number(&high)?))
                }
                _ => Ok(Operand::Decimal(number(value)?)),
            }
        }
        Storage::Integer => {
            let integer = |value: &Value| -> Result<i64, FilterError> {
                value
                    .as_i64()
                    .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
                    .ok_or_else(|| {
                        bad(Reason::wrong_type(
                            "integer",
                            "the value must be a whole number",
                        ))
                    })
            };
            match op {
                Op::In | Op::NotIn => Ok(Operand::Integers(
                    list(value)?.iter().map(integer).collect::<Result<_, _>>()?,
                )),
                Op::Between => {
                    let (low, high) = pair(value)?;
                    Ok(Operand::IntegerPair(integer(&low)?, integer(&high)?))
                }
                _ => Ok(Operand::Integer(integer(value)?)),
            }
        }
        Storage::Boolean => value.as_bool().map(Operand::Bool).ok_or_else(|| {
            bad(Reason::wrong_type(
                "boolean",
                "the value must be true or false",
            ))
        }),
        Storage::Date => {
            if op == Op::Between {
                let (low, high) = pair(value)?;
                let (from, _) = days(&low, ctx).map_err(bad)?;
                let (_, to) = days(&high, ctx).map_err(bad)?;
                return Ok(Operand::Days { from, to });
            }
            let (from, to) = days(value, ctx).map_err(bad)?;
            Ok(Operand::Days { from, to })
        }
        Storage::DateTime | Storage::System => {
            let tz = match &field.kind {
                FieldKind::DateTime { time_zone }
                | FieldKind::CreatedTime { time_zone }
                | FieldKind::ModifiedTime { time_zone } => time_zone.unwrap_or(ctx.time_zone),
                _ => ctx.time_zone,
            };
            let instants = |value: &Value| -> Result<
                (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
                FilterError,
            > {
                // A day (or relative range) covers its whole span; an exact instant is a point.
                if let Ok((from, to)) = days(value, ctx) {
                    return Ok((start_of(from, tz), start_of(to, tz)));
                }
                let instant = datetime(value, tz).map_err(bad)?;
                Ok((instant, instant))
            };
            if op == Op::Between {
                let (low, high) = pair(value)?;
                let (from, _) = instants(&low)?;
                let (_, high_to) = instants(&high)?;
                let (high_from, _) = instants(&high)?;
                // An exact upper instant is inclusive; a day is included whole.
                let to = if high_to == high_from {
                    high_to + chrono::TimeDelta::microseconds(1)
                } else {
                    high_to
                };
                return Ok(Operand::Instants { from, to });
            }
            let (from, to) = instants(value)?;
            if from == to {
                Ok(Operand::Instant(from))
            } else {
                Ok(Operand::Instants { from, to })
            }
        }
        Storage::JsonArray | Storage::Junction => {
            let items = list(value)?;
            let texts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    Value::Object(object) => object
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            bad(Reason::wrong_type("string", "give ids or names as strings"))
                        }),
                    _ => Err(bad(Reason::wrong_type(
                        "string",
                        "give ids or names as strings",
                    ))),
                })
                .collect::<Result<_, _>>()?;
            check_choices(field, &texts, path)?;
            if texts.is_empty() {
                return Err(bad(Reason::new(
                    DetailCode::TooFew,
                    "give at least one value",
                )
                .with("min", 1)));
            }
            if !matches!(
                field.kind,
                FieldKind::MultiSelect { .. } | FieldKind::Lookup { .. }
            ) {
                for text in &texts {
                    if uuid::Uuid::parse_str(text).is_err() {
                        return Err(bad(Reason::format(
                            "id",
                            format!("\"{text}\" is not an id"),
                        )));
                    }
                }
            }
            Ok(Operand::Texts(texts))
        }
        Storage::Virtual => Err(bad(Reason::not_allowed("this field cannot be filtered on"))),
    }
}

/// A select is compared with its choices' exact names: a value that is none of them (`"缺勤"` where the
/// choice is `"缺勤 Absent"`) would silently match nothing, which reads as "there are none", so it is refused
/// with the choices listed.
fn check_choices(field: &Field, texts: &[String], path: &str) -> Result<(), FilterError> {
    let (FieldKind::SingleSelect { choices } | FieldKind::MultiSelect { choices }) = &field.kind
    else {
        return Ok(());
    };
    let Some(unknown) = texts
        .iter()
        .find(|text| !choices.iter().any(|choice| choice.name == **text))
    else {
        return Ok(());
    };
    let names: Vec<&str> = choices.iter().map(|choice| choice.name.as_str()).collect();
    Err(error(
        path,
        DetailCode::UnknownChoice,
        format!(
            "field \"{}\": \"{unknown}\" is not one of its choices: {}",
            field.key,
            names.join(", ")
        ),
    )
    .with("value", unknown.as_str())
    .with("choices", names))
}

fn start_of(day: NaiveDate, tz: TimeZone) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone as _;
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.tz()
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&chrono::Utc))
}

/// A date value as a half-open range of days: `"2026-11-24"` is one day; `{"relative": …}` a period.
fn days(value: &Value, ctx: &FilterContext) -> Result<(NaiveDate, NaiveDate), Reason> {
    if let Some(text) = value.as_str() {
        let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| Reason::format("date", format!("\"{text}\" is not a date YYYY-MM-DD")))?;
        let next = day
            .checked_add_days(Days::new(1))
            .ok_or_else(|| Reason::format("date", "the date is out of range"))?;
        return Ok((day, next));
    }
    let relative = value
        .as_object()
        .and_then(|object| object.get("relative"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Reason::format(
                "date",
                "give a date YYYY-MM-DD or {\"relative\": \"today\"}",
            )
        })?;
    relative_days(relative, ctx.today).ok_or_else(|| {
        Reason::not_one_of(
            &RELATIVE_DAYS,
            format!(
                "\"{relative}\" is not a relative date; use today, yesterday, this_week, last_7_days, this_month, last_month or this_year"
            ),
        )
    })
}

/// The names `{"relative": …}` takes.
pub const RELATIVE_DAYS: [&str; 7] = [
    "today",
    "yesterday",
    "this_week",
    "last_7_days",
    "this_month",
    "last_month",
    "this_year",
];

/// Relative periods in the organization's calendar; weeks start on Monday.
pub fn relative_days(name: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let day = |n: u64| Days::new(n);
    let month_start = today.with_day(1)?;
    match name {
        "today" => Some((today, today.checked_add_days(day(1))?)),
        "yesterday" => Some((today.checked_sub_days(day(1))?, today)),
        "this_week" => {
            let monday =
                today.checked_sub_days(day(u64::from(today.weekday().num_days_from_monday())))?;
            Some((monday, monday.checked_add_days(day(7))?))
        }
        "last_7_days" => Some((
            today.checked_sub_days(day(6))?,
            today.checked_add_days(day(1))?,
        )),
        "this_month" => Some((month_start, month_start.checked_add_months(Months::new(1))?)),
        "last_month" => Some((month_start.checked_sub_months(Months::new(1))?, month_start)),
        "this_year" => {
            let start = NaiveDate::from_ymd_opt(today.year(), 1, 1)?;
            Some((start, NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)?))
        }
        _ => None,
    }
}

/// The sort order of a list: fields, each ascending or descending.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

/// Parses `sort=-nights,guest`.
pub fn parse_sort(raw: &str, schema: &TableSchema) -> Result<Vec<SortKey>, FilterError> {
    let mut keys: Vec<SortKey> = Vec::new();
    for part in raw
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (descending, reference) = match part.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        let field = schema.resolve_field(reference).cloned().ok_or_else(|| {
            error(
                "sort",
                DetailCode::UnknownField,
                format!("no field \"{reference}\" in table {}", schema.table.key),
            )
        })?;
        if matches!(field.kind.storage(), Storage::JsonArray | Storage::Junction)
            || matches!(field.kind, FieldKind::CreatedBy | FieldKind::ModifiedBy)
        {
            return Err(error(
                "sort",
                DetailCode::NotAllowed,
                format!(
                    "field \"{reference}\" of type {} cannot be sorted by",
                    field.field_type()
                ),
            ));
        }
        if keys.iter().any(|key| key.field.id == field.id) {
            return Err(error(
                "sort",
                DetailCode::Duplicate,
                format!("field \"{reference}\" is listed twice"),
            ));
        }
        keys.push(SortKey { field, descending });
    }
    if keys.len() > 8 {
        return Err(error("sort", DetailCode::TooMany, "sort by at most 8 fields").with("max", 8));
    }
    Ok(keys)
}
