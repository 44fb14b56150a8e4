//! Tenon's formula language (docs to come).

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

pub use check::{Formula, check, check_stored};
pub use diagnostic::Diagnostic;
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
