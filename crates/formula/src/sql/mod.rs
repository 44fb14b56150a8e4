//! The SQL compiler: a checked [`Formula`] to one SQL expression for SQLite or PostgreSQL, over the
//! physical layout the data engine uses (see the crate docs), so filters, sorts and aggregates run in the
//! database.
//!
//! Invariants: every value from the formula or the clock is a bound parameter (`$n`, valid on both
//! backends through sqlx; a repeated sub-expression repeats its placeholder numbers); only field columns
//! (from the caller's [`Field::column`](crate::Field)) and constants the compiler itself makes (powers of
//! ten, format strings) appear in the text. When a function cannot be computed exactly as the evaluator
//! computes it, compilation fails with [`NotCompilable`] — it never emits SQL that could disagree.
//!
//! Values in SQL: numbers are `INTEGER`s scaled by 10^scale on SQLite and `NUMERIC` on PostgreSQL; text is
//! never `''` (empty is NULL); booleans are 0/1 (SQLite) or `BOOLEAN`; dates are `'YYYY-MM-DD'` text or
//! `DATE`; datetimes are fixed-width UTC text or `TIMESTAMPTZ`.

mod dates;
mod numbers;
mod text;
mod tz;

use crate::check::Formula;
use crate::functions::Func;
use crate::ir::{Node, NodeKind};
use crate::schema::{FieldKind, SCALE_MAX, Type};
use crate::syntax::Span;
use crate::value::{EvalContext, Value};

/// The longest SQL text the compiler emits; larger means deeply repeated sub-expressions.
pub const SQL_BYTES_MAX: usize = 256 * 1024;

/// Which database the SQL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a placeholder. Numbers, dates and datetimes travel as text and are cast in SQL on
/// PostgreSQL (`CAST($1 AS NUMERIC)`), so any driver's plain text/integer binds suffice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Int(i64),
    Text(String),
}

/// A compiled formula: SQL text with `$n` placeholders, the values to bind (the first is `$first`), and
/// the formula's type, which says how to read the result.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlExpr {
    pub sql: String,
    pub binds: Vec<Bind>,
    pub ty: Type,
    pub dialect: Dialect,
}

/// The formula (or a part of it) cannot be computed in SQL exactly as in Rust; evaluate it in Rust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot compute in SQL: {reason}")]
pub struct NotCompilable {
    pub span: Span,
    pub reason: String,
}

impl Formula {
    /// Compiles the formula to an SQL expression over the fields' columns. Placeholders start at
    /// `$first_placeholder`, so the caller can put its own binds before them. `TODAY()`/`NOW()` are bound
    /// from `ctx`, never read from the database clock.
    pub fn to_sql(
        &self,
        dialect: Dialect,
        ctx: &EvalContext,
        first_placeholder: usize,
    ) -> Result<SqlExpr, NotCompilable> {
        let mut compiler = Compiler {
            dialect,
            ctx,
            formula: self,
            binds: Vec::new(),
            first_placeholder: first_placeholder.max(1),
        };
        let sql = compiler.expr(&self.root)?;
        Ok(SqlExpr {
            sql,
            binds: compiler.binds,
            ty: self.root.ty.clone(),
            dialect,
        })
    }
}

impl SqlExpr {
    /// The expression as an `ORDER BY` term: empty values last in both directions, text in code point
    /// order (as Rust compares strings) on both backends.
    pub fn order_by(&self, descending: bool) -> String {
        let collate = if self.dialect == Dialect::Postgres && self.ty == Type::Text {
            " COLLATE \"C\""
        } else {
            ""
        };
        let direction = if descending { "DESC" } else { "ASC" };
        format!("({}){collate} {direction} NULLS LAST", self.sql)
    }

    /// An expression that reads the value as text the same on both backends, for callers that decode
    /// results generically: numbers as plain decimals at the formula's scale, booleans as 1/0, dates as
    /// `YYYY-MM-DD`, datetimes as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, empty as NULL. Decode with
    /// [`decode_text`].
    pub fn as_text(&self) -> String {
        let sql = &self.sql;
        match (self.dialect, &self.ty) {
            (Dialect::Sqlite, _) => format!("CAST(({sql}) AS TEXT)"),
            (Dialect::Postgres, Type::Number { .. }) => format!("CAST(({sql}) AS TEXT)"),
            (Dialect::Postgres, Type::Boolean) => format!("CAST(CAST(({sql}) AS INTEGER) AS TEXT)"),
            (Dialect::Postgres, Type::Date) => format!("to_char(({sql}), 'YYYY-MM-DD')"),
            (Dialect::Postgres, Type::DateTime) => {
                format!("to_char(({sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            (Dialect::Postgres, _) => format!("CAST(({sql}) AS TEXT)"),
        }
    }
}

/// Reads a value selected with [`SqlExpr::as_text`].
pub fn decode_text(ty: &Type, dialect: Dialect, text: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Empty;
    };
    let parsed = match ty {
        Type::Number { scale } => match dialect {
            Dialect::Sqlite => text
                .parse::<i64>()
                .ok()
                .and_then(|mantissa| crate::num::from_parts(i128::from(mantissa), *scale).ok()),
            Dialect::Postgres => text
                .parse::<rust_decimal::Decimal>()
                .ok()
                .and_then(|number| crate::num::rescale(number, *scale).ok()),
        }
        .map(Value::Number),
        Type::Boolean => Some(Value::Bool(text != "0")),
        Type::Date => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(Value::Date),
        Type::DateTime => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|instant| Value::DateTime(instant.with_timezone(&chrono::Utc))),
        Type::Text => Some(Value::text(text)),
        Type::List(_) | Type::Blank => None,
    };
    parsed.unwrap_or(Value::Empty)
}

pub(crate) struct Compiler<'a> {
    pub dialect: Dialect,
    pub ctx: &'a EvalContext,
    formula: &'a Formula,
    binds: Vec<Bind>,
    first_placeholder: usize,
}

pub(crate) type Sql = Result<String, NotCompilable>;

pub(crate) fn not_compilable<T>(
    node: &Node,
    reason: impl Into<String>,
) -> Result<T, NotCompilable> {
    Err(NotCompilable {
        span: node.span,
        reason: reason.into(),
    })
}

impl Compiler<'_> {
    pub fn pg(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// A new placeholder bound to `bind`.
    pub fn bind(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.first_placeholder + self.binds.len() - 1)
    }

    /// A bound text value, cast to `pg_type` on PostgreSQL.
    pub fn bind_text(&mut self, text: String, pg_type: &str) -> String {
        let placeholder = self.bind(Bind::Text(text));
        if self.pg() {
            format!("CAST({placeholder} AS {pg_type})")
        } else {
            placeholder
        }
    }

    pub fn expr(&mut self, node: &Node) -> Sql {
        crate::deep(|| self.expr_node(node))
    }

    fn expr_node(&mut self, node: &Node) -> Sql {
        if node.ty == Type::Blank {
            return Ok(self.null(&Type::Blank));
        }
        let sql = match &node.kind {
            NodeKind::Literal(value) => self.literal(node, value),
            NodeKind::Field(index) => self.field(node, *index),
            NodeKind::Call(func, args) => self.call(*func, node, args),
        }?;
        if sql.len() > SQL_BYTES_MAX {
            return not_compilable(node, "the SQL would be too large");
        }
        Ok(sql)
    }

    /// SQL for empty of the node's type.
    pub fn null(&self, ty: &Type) -> String {
        if !self.pg() {
            return "NULL".into();
        }
        match ty {
            Type::Number { .. } => "CAST(NULL AS NUMERIC)",
            Type::Text => "CAST(NULL AS TEXT)",
            Type::Boolean => "CAST(NULL AS BOOLEAN)",
            Type::Date => "CAST(NULL AS DATE)",
            Type::DateTime => "CAST(NULL AS TIMESTAMPTZ)",
            Type::List(_) | Type::Blank => "NULL",
        }
        .into()
    }

    fn literal(&mut self, node: &Node, value: &Value) -> Sql {
        Ok(match value {
            Value::Empty | Value::Error(_) => self.null(&node.ty),
            Value::Number(number) => {
                let scale = node.ty.scale();
                if self.pg() {
                    let text = crate::num::rescale(*number, scale).map_err(|_| NotCompilable {
                        span: node.span,
                        reason: "number out of range".into(),
                    })?;
                    self.bind_text(text.to_string(), "NUMERIC")
                } else {
                    let mantissa = crate::num::mantissa_at(*number, scale)
                        .ok()
                        .and_then(|mantissa| i64::try_from(mantissa).ok());
                    let Some(mantissa) = mantissa else {
                        return not_compilable(
                            node,
                            "the number does not fit SQLite's 64-bit integers",
                        );
                    };
                    self.bind(Bind::Int(mantissa))
                }
            }
            Value::Text(text) => self.bind_text(text.clone(), "TEXT"),
            Value::Bool(value) => self.boolean(*value),
            Value::Date(date) => self.bind_text(date.format("%Y-%m-%d").to_string(), "DATE"),
            Value::DateTime(instant) => self.bind_text(
                instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "TIMESTAMPTZ",
            ),
            Value::List(_) => return not_compilable(node, "lists are evaluated in Rust"),
        })
    }

    pub fn boolean(&self, value: bool) -> String {
        match (self.pg(), value) {
            (true, true) => "TRUE".into(),
            (true, false) => "FALSE".into(),
            (false, true) => "1".into(),
            (false, false) => "0".into(),
        }
    }

    fn field(&mut self, node: &Node, index: usize) -> Sql {
        let Some(field) = self.formula.fields.get(index) else {
            return not_compilable(node, "unknown field");
        };
        let column = field.column.as_str();
        Ok(match &field.kind {
            FieldKind::Text | FieldKind::SingleSelect => format!("NULLIF({column}, '')"),
            FieldKind::Number { scale } if *scale > SCALE_MAX => {
                return not_compilable(
                    node,
                    format!("fields with more than {SCALE_MAX} decimal places"),
                );
            }
            FieldKind::Integer if self.pg() => format!("CAST({column} AS NUMERIC)"),
            FieldKind::Number { .. }
            | FieldKind::Integer
            | FieldKind::Checkbox
            | FieldKind::Date
            | FieldKind::DateTime => column.to_owned(),
            FieldKind::TextList | FieldKind::Lookup(_) => {
                return not_compilable(node, "lists and lookups are evaluated in Rust");
            }
        })
    }

    /// A boolean that is never NULL (empty counts as false).
    pub fn truth(&mut self, node: &Node) -> Sql {
        let sql = self.expr(node)?;
        // Comparisons and logic already compile to non-NULL booleans.
        let never_empty = matches!(
            &node.kind,
            NodeKind::Call(
                Func::Eq
                    | Func::Ne
                    | Func::Lt
                    | Func::Le
                    | Func::Gt
                    | Func::Ge
                    | Func::And
                    | Func::Or
                    | Func::Not
                    | Func::Xor
                    | Func::IsBlank
                    | Func::Exact
                    | Func::IsBefore
                    | Func::IsAfter
                    | Func::True
                    | Func::False,
                _
            )
        );
        Ok(if never_empty {
            sql
        } else {
            format!("COALESCE({sql}, {})", self.boolean(false))
        })
    }

    fn call(&mut self, func: Func, node: &Node, args: &[Node]) -> Sql {
        use Func::*;
        match func {
            And | Or => {
                let joiner = if func == And { " AND " } else { " OR " };
                let parts = args
                    .iter()
                    .map(|arg| self.truth(arg))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join(joiner)))
            }
            Not => Ok(format!("(NOT {})", self.truth(&args[0])?)),
            Xor => {
                let parts = args
                    .iter()
                    .map(|arg| {
                        self.truth(arg).map(|sql| {
                            if self.pg() {
                                format!("CAST({sql} AS INTEGER)")
                            } else {
                                sql
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("(({}) % 2 = 1)", parts.join(" + ")))
            }
            If | Ifs | Switch => self.conditional(func, node, args),
            IsBlank => {
                if matches!(args[0].ty, Type::List(_)) {
                    return not_compilable(node, "lists are evaluated in Rust");
                }
                Ok(format!("({} IS NULL)", self.expr(&args[0])?))
            }
            IsError | IfError => {
                not_compilable(node, "SQL cannot tell an error from an empty value")
            }
            Blank => Ok(self.null(&node.ty)),
            True => Ok(self.boolean(true)),
            False => Ok(self.boolean(false)),
            Eq | Ne | Lt | Le | Gt | Ge | IsBefore | IsAfter => self.comparison(func, args),
            IsSame if args.len() == 2 => {
                let equal = self.comparison(Eq, args)?;
                let a = self.expr(&args[0])?;
                let b = self.expr(&args[1])?;
                Ok(format!("({equal} AND {a} IS NOT NULL AND {b} IS NOT NULL)"))
            }
            Add | Sub if node.ty == Type::Date || args[0].ty == Type::Date => {
                self.date_arith(func, node, args)
            }
            Add | Sub | Mul | Div | Mod | Neg | Abs | Sum | Average | Min | Max | Count
            | CountA | CountAll | Round | RoundUp | RoundDown | Trunc | Int | Ceiling | Floor
            | Sign | Even | Odd => self.number_call(func, node, args),
            Concat | Left | Right | Mid | Len | Trim | Substitute | Find | Replace | Text | T
            | Exact | Fixed => self.text_call(func, node, args),
            Today | Now | Date | Year | Month | Day | Hour | Minute | Second | Weekday
            | Weeknum | DateAdd | DatetimeDiff | Datedif | Datevalue | Datestr | Eomonth
            | Edate => self.date_call(func, node, args),
            _ => {
                let reason = match crate::functions::FUNCTIONS
                    .iter()
                    .find(|doc| doc.func == func)
                    .map(|doc| doc.sql)
                {
                    Some(
                        crate::functions::SqlSupport::No(reason)
                        | crate::functions::SqlSupport::Partly(reason),
                    ) => reason,
                    _ => "evaluated in Rust",
                };
                not_compilable(node, format!("{}: {reason}", func.name()))
            }
        }
    }

    /// A branch value in the node's type (numbers rescaled to the common scale).
    fn branch(&mut self, value: &Node, ty: &Type) -> Sql {
        let sql = self.expr(value)?;
        Ok(match (ty, &value.ty) {
            (Type::Number { scale }, Type::Number { scale: own }) => {
                self.rescale(&sql, *own, *scale)
            }
            _ => sql,
        })
    }

    fn conditional(&mut self, func: Func, node: &Node, args: &[Node]) -> Sql {
        let mut out = String::from("(CASE");
        match func {
            Func::If => {
                let condition = self.expr(&args[0])?;
                let then = self.branch(&args[1], &node.ty)?;
                let otherwise = match args.get(2) {
                    Some(arg) => self.branch(arg, &node.ty)?,
                    None => self.null(&node.ty),
                };
                out.push_str(&format!(" WHEN {condition} THEN {then} ELSE {otherwise}"));
            }
            Func::Ifs => {
                for pair in (0..args.len()).step_by(2) {
                    let condition = self.expr(&args[pair])?;
                    let value = self.branch(&args[pair + 1], &node.ty)?;
                    out.push_str(&format!(" WHEN {condition} THEN {value}"));
                }
            }
            _ => {
                let pairs_end = if args.len().is_multiple_of(2) {
                    args.len() - 1
                } else {
                    args.len()
                };
                for pair in (1..pairs_end).step_by(2) {
                    let equal =
                        self.comparison(Func::Eq, &[args[0].clone(), args[pair].clone()])?;
                    let value = self.branch(&args[pair + 1], &node.ty)?;
                    out.push_str(&format!(" WHEN {equal} THEN {value}"));
                }
                if pairs_end < args.len() {
                    let value = self.branch(&args[pairs_end], &node.ty)?;
                    out.push_str(&format!(" ELSE {value}"));
                }
            }
        }
        out.push_str(" END)");
        Ok(out)
    }

    fn comparison(&mut self, func: Func, args: &[Node]) -> Sql {
        let (left, right) = (&args[0], &args[1]);
        let (mut a, mut b) = (self.expr(left)?, self.expr(right)?);
        if left.ty == Type::Blank {
            a = self.null(&right.ty);
        }
        if right.ty == Type::Blank {
            b = self.null(&left.ty);
        }
        if let (Type::Number { scale: x }, Type::Number { scale: y }) = (&left.ty, &right.ty) {
            let common = (*x).max(*y);
            a = self.rescale(&a, *x, common);
            b = self.rescale(&b, *y, common);
        }
        let text = left.ty == Type::Text || right.ty == Type::Text;
        let collate = if self.pg() && text {
            " COLLATE \"C\""
        } else {
            ""
        };
        let operator = match func {
            Func::Eq | Func::Ne => {
                let same = if self.pg() {
                    format!("({a} IS NOT DISTINCT FROM {b})")
                } else {
                    format!("({a} IS {b})")
                };
                return Ok(if func == Func::Ne {
                    format!("(NOT {same})")
                } else {
                    same
                });
            }
            Func::Lt | Func::IsBefore => "<",
            Func::Le => "<=",
            Func::Gt | Func::IsAfter => ">",
            _ => ">=",
        };
        Ok(format!(
            "COALESCE({a}{collate} {operator} {b}, {})",
            self.boolean(false)
        ))
    }
}
