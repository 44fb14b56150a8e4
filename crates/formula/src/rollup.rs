//! Rollups and aggregates: what the data engine needs to summarise linked records (rollup fields, in
//! Rust) and groups of records (the aggregation API, in SQL), with the same semantics as the formula
//! functions SUM, AVERAGE, MIN, MAX and the COUNTs: empties are skipped, the sum and count of nothing are 0,
//! the average, minimum and maximum of nothing are empty, and averages keep 6 more decimal places.

use rust_decimal::Decimal;

use crate::eval::compare;
use crate::num;
use crate::schema::{SCALE_MAX, Type};
use crate::sql::{Dialect, NotCompilable, SqlExpr, decode_text};
use crate::syntax::Span;
use crate::typing::DIVISION_EXTRA_SCALE;
use crate::value::{EvalError, Value};

/// How a rollup or an aggregation metric summarises values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Non-empty values.
    Count,
    /// Distinct non-empty values.
    CountDistinct,
    /// Every value, empties included.
    CountAll,
    Sum,
    Avg,
    Min,
    Max,
    /// The non-empty values as text joined by ", " (Rust only).
    Concat,
}

impl Aggregate {
    /// Reads the names the field JSON and the aggregation API use: `sum`, `avg`, `min`, `max`, `count`,
    /// `count_distinct`, `count_all`, `concat`.
    pub fn parse(name: &str) -> Option<Aggregate> {
        Some(match name {
            "count" => Aggregate::Count,
            "count_distinct" => Aggregate::CountDistinct,
            "count_all" => Aggregate::CountAll,
            "sum" => Aggregate::Sum,
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "concat" => Aggregate::Concat,
            _ => return None,
        })
    }

    /// The type of the result over values of type `element`, or why the aggregate does not apply.
    pub fn result_type(self, element: &Type) -> Result<Type, String> {
        match (self, element) {
            (Aggregate::Count | Aggregate::CountDistinct | Aggregate::CountAll, _) => {
                Ok(Type::number(0))
            }
            (Aggregate::Sum, Type::Number { scale }) => Ok(Type::number(*scale)),
            (Aggregate::Avg, Type::Number { scale }) => {
                Ok(Type::number(scale + DIVISION_EXTRA_SCALE))
            }
            (
                Aggregate::Min | Aggregate::Max,
                Type::Number { .. } | Type::Text | Type::Date | Type::DateTime,
            ) => Ok(element.clone()),
            (Aggregate::Concat, Type::List(_)) => Err("concat needs single values".into()),
            (Aggregate::Concat, _) => Ok(Type::Text),
            (other, element) => Err(format!("{other:?} does not apply to {element}")),
        }
    }

    /// Summarises values in Rust (a rollup over linked records). Values of the wrong type count as empty.
    pub fn eval(self, values: &[Value], element: &Type) -> Value {
        let present: Vec<&Value> = values.iter().filter(|value| !value.is_empty()).collect();
        let numbers = || {
            present.iter().filter_map(|value| match value {
                Value::Number(number) => Some(*number),
                _ => None,
            })
        };
        let scale = element.scale();
        let lift =
            |result: Result<Decimal, EvalError>| result.map_or_else(Value::Error, Value::Number);
        match self {
            Aggregate::Count => Value::Number(Decimal::from(present.len())),
            Aggregate::CountAll => Value::Number(Decimal::from(values.len())),
            Aggregate::CountDistinct => {
                let mut distinct: Vec<&Value> = Vec::new();
                for value in &present {
                    if !distinct
                        .iter()
                        .any(|known| crate::eval::equals(known, value))
                    {
                        distinct.push(value);
                    }
                }
                Value::Number(Decimal::from(distinct.len()))
            }
            Aggregate::Sum => lift(numbers().try_fold(Decimal::ZERO, |total, number| {
                num::add(total, number, scale)
            })),
            Aggregate::Avg => {
                let count = numbers().count();
                if count == 0 {
                    return Value::Empty;
                }
                let total = numbers().try_fold(Decimal::ZERO, |total, number| {
                    num::add(total, number, scale)
                });
                lift(total.and_then(|total| {
                    num::div(
                        total,
                        Decimal::from(count),
                        (scale + DIVISION_EXTRA_SCALE).min(SCALE_MAX),
                    )
                }))
            }
            Aggregate::Min | Aggregate::Max => {
                let wanted = if self == Aggregate::Min {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                };
                let mut best: Option<&Value> = None;
                for value in &present {
                    if best.is_none_or(|known| compare(value, known) == Some(wanted)) {
                        best = Some(value);
                    }
                }
                best.cloned().unwrap_or(Value::Empty)
            }
            Aggregate::Concat => Value::text(
                present
                    .iter()
                    .map(|value| crate::eval_text::to_text(value))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }
    }

    /// The SQL aggregate over a compiled expression (e.g. a field reference `{Amount}` or a formula), for
    /// `GROUP BY` queries. Select [`AggregateSql::columns`] and pass their text to [`AggregateSql::finish`].
    pub fn to_sql(self, expr: &SqlExpr) -> Result<AggregateSql, NotCompilable> {
        let ty = self.result_type(&expr.ty).map_err(|reason| NotCompilable {
            span: Span::default(),
            reason,
        })?;
        let value = &expr.sql;
        let pg = expr.dialect == Dialect::Postgres;
        let text = |sql: String| {
            let inner = SqlExpr {
                sql,
                binds: Vec::new(),
                ty: expr.ty.clone(),
                dialect: expr.dialect,
            };
            inner.as_text()
        };
        let count = |sql: String| format!("CAST({sql} AS TEXT)");
        let collate = if pg && expr.ty == Type::Text {
            " COLLATE \"C\""
        } else {
            ""
        };
        let columns = match self {
            Aggregate::Count => vec![count(format!("COUNT({value})"))],
            Aggregate::CountDistinct => vec![count(format!("COUNT(DISTINCT {value})"))],
            Aggregate::CountAll => vec![count("COUNT(*)".into())],
            Aggregate::Sum => vec![text(format!("COALESCE(SUM({value}), 0)"))],
            Aggregate::Avg => vec![
                text(format!("SUM({value})")),
                count(format!("COUNT({value})")),
            ],
            Aggregate::Min => vec![text(format!("MIN({value}{collate})"))],
            Aggregate::Max => vec![text(format!("MAX({value}{collate})"))],
            Aggregate::Concat => {
                return Err(NotCompilable {
                    span: Span::default(),
                    reason: "concat rollups are evaluated in Rust".into(),
                });
            }
        };
        let binds = if self == Aggregate::CountAll {
            Vec::new()
        } else {
            expr.binds.clone()
        };
        Ok(AggregateSql {
            columns,
            binds,
            ty,
            element: expr.ty.clone(),
            aggregate: self,
            dialect: expr.dialect,
        })
    }
}

/// An aggregate compiled to SQL: the select-list expressions (reading as text), their binds (the
/// expression's), and how to turn what they return into a value.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSql {
    pub columns: Vec<String>,
    pub binds: Vec<crate::sql::Bind>,
    pub ty: Type,
    element: Type,
    aggregate: Aggregate,
    pub dialect: Dialect,
}

impl AggregateSql {
    /// The aggregate's value from the text of its columns. An average is divided here, in exact decimals,
    /// because SQLite's AVG is a float.
    pub fn finish(&self, columns: &[Option<&str>]) -> Value {
        let first = columns.first().copied().flatten();
        match self.aggregate {
            Aggregate::Count | Aggregate::CountDistinct | Aggregate::CountAll => first
                .and_then(|text| text.parse::<Decimal>().ok())
                .map_or(Value::Empty, Value::Number),
            Aggregate::Avg => {
                let total = decode_text(&self.element, self.dialect, first);
                let count = columns
                    .get(1)
                    .copied()
                    .flatten()
                    .and_then(|text| text.parse::<Decimal>().ok());
                match (total, count) {
                    (Value::Number(total), Some(count)) if !count.is_zero() => {
                        num::div(total, count, self.ty.scale())
                            .map_or_else(Value::Error, Value::Number)
                    }
                    _ => Value::Empty,
                }
            }
            _ => decode_text(&self.ty, self.dialect, first),
        }
    }
}
