//! Runtime values of formulas, evaluation errors, and the context a formula is evaluated in.
//!
//! Empty is a value like any other (SQL NULL in the database). Empty text is the same as empty: a text
//! value is never `""`. A runtime problem (division by zero, an invalid date, …) is an [`Value::Error`]: it
//! behaves as empty everywhere, except that IFERROR and ISERROR can see it and that it carries a reason to
//! show; in SQL it is NULL.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// A formula value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Empty,
    Error(EvalError),
    /// Carries the static scale of the expression that produced it.
    Number(Decimal),
    /// Never empty; use [`Value::text`] to build one.
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    List(Vec<Value>),
}

impl Value {
    /// Text, or empty for `""`.
    pub fn text(text: impl Into<String>) -> Value {
        let text = text.into();
        if text.is_empty() {
            Value::Empty
        } else {
            Value::Text(text)
        }
    }

    /// Empty, or an error (which counts as empty).
    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Empty | Value::Error(_))
    }

    /// True only for `TRUE`; empty and errors count as false.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The error, if this is one.
    pub fn error(&self) -> Option<&EvalError> {
        match self {
            Value::Error(error) => Some(error),
            _ => None,
        }
    }
}

/// Why a value could not be computed; shown in place of the value, like a spreadsheet's `#DIV/0!`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("#DIV/0!: division by zero")]
    DivisionByZero,
    #[error("#NUM!: the number is too large")]
    Overflow,
    #[error("#NUM!: {0}")]
    InvalidNumber(&'static str),
    #[error("#VALUE!: {0}")]
    InvalidArgument(&'static str),
    #[error("#DATE!: not a valid date")]
    InvalidDate,
    #[error("#VALUE!: the text is not a number")]
    NotANumber,
    #[error("#REGEX!: {0}")]
    InvalidRegex(String),
    #[error("#VALUE!: the text would be longer than {0} characters")]
    TextTooLong(usize),
}

/// What a formula needs from the outside world: the current instant and the organization's time zone.
/// `TODAY()` and `NOW()` read it, so values are never frozen at write time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalContext {
    pub now: DateTime<Utc>,
    pub time_zone: Tz,
}

impl EvalContext {
    pub fn new(now: DateTime<Utc>, time_zone: Tz) -> Self {
        EvalContext { now, time_zone }
    }

    /// Today's date in the organization's time zone.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.time_zone).date_naive()
    }
}
