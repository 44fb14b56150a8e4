//! Tenon's formula language: one parser, one type checker, and two back ends — an evaluator in Rust and
//! a compiler to SQL for SQLite and PostgreSQL — that agree. Pure: no I/O, no clock (the time comes in an
//! [`EvalContext`]), no async.
//!
//! # How the data engine uses it
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use tenon_formula::{check, check_stored, EvalContext, Field, FieldKind, Schema, Type, Value};
//! use tenon_formula::sql::Dialect;
//!
//! // The table's fields: id, name, logical kind and the SQL column that holds them.
//! let schema = Schema::new([
//!     Field::new("fld_price", "单价", FieldKind::Number { scale: 2 }),
//!     Field::new("fld_qty", "数量", FieldKind::Integer),
//! ]);
//!
//! // Saving a formula field: check it, keep the stored form and the inferred type.
//! let formula = check("ROUND({单价} * {数量}, 2)", &schema).unwrap();
//! assert_eq!(formula.stored(), "ROUND({fld_price} * {fld_qty}, 2)");
//! assert_eq!(formula.result_type(), &Type::Number { scale: 2 });
//!
//! // Loading it again (after a rename the text shows the new names).
//! let formula = check_stored(formula.stored(), &schema).unwrap();
//! assert_eq!(formula.text(), "ROUND({单价} * {数量}, 2)");
//!
//! // Computing a value: inputs in the order of `formula.fields()`.
//! let ctx = EvalContext::new(Utc.with_ymd_and_hms(2026, 11, 25, 8, 30, 0).unwrap(), chrono_tz::Asia::Shanghai);
//! let value = formula.eval(&[Value::Number("12.50".parse().unwrap()), Value::Number(3.into())], &ctx);
//! assert_eq!(value, Value::Number("37.50".parse().unwrap()));
//!
//! // Filtering or sorting in the database: SQL over the fields' columns, values bound from `$1`.
//! let sql = formula.to_sql(Dialect::Postgres, &ctx, 1).unwrap();
//! assert!(sql.sql.contains("\"f_fld_price\""));
//! ```
//!
//! - [`check`] / [`check_stored`] → [`Formula`] or [`Diagnostic`]s with spans and suggestions.
//! - [`Formula::eval`] → [`Value`] (errors are [`Value::Error`], which behave as empty).
//! - [`Formula::to_sql`] → [`sql::SqlExpr`] or [`sql::NotCompilable`] (evaluate in Rust then).
//! - [`rollup::Aggregate`] → rollups over linked records in Rust, and `GROUP BY` aggregates in SQL.
//! - [`functions::FUNCTIONS`] → the catalog of functions (name, signature, example, SQL support).
//!
//! The language reference follows (it is `docs/formula.md`).
//!
#![doc = include_str!("../../../docs/formula.md")]

mod check;
mod datetime_format;
mod diagnostic;
mod eval;
mod eval_date;
mod eval_text;
pub mod functions;
mod ir;
mod num;
mod parser;
pub mod rollup;
mod schema;
pub mod sql;
pub mod syntax;
mod typing;
mod value;

pub use check::{Formula, check, check_condition, check_stored};
pub use diagnostic::{Diagnostic, DiagnosticKind};
pub use eval_text::{number_text, to_text};
pub use num::rescale;
pub use parser::{DEPTH_MAX, SOURCE_BYTES_MAX, parse};
pub use schema::{Field, FieldId, FieldKind, SCALE_MAX, Schema, Type};
pub use typing::DIVISION_EXTRA_SCALE;
pub use value::{EvalContext, EvalError, Value};

/// Runs a step of a recursive pass with enough stack: the passes recurse once per tree level, and debug
/// builds use large frames, so deep (but accepted) formulas would otherwise overflow small thread stacks.
fn deep<T>(step: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, step)
}
