//! Validation errors that say what is wrong and where, collected over a whole input.
//!
//! A parse of user input reports every bad field at once, not just the first, so a form can mark them all.

use std::fmt;

use serde_json::Value;

pub use crate::errors::{DetailCode, Params};

/// One problem with one field of the input: where, a stable code with its parameters, and why in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// A path into the input, e.g. `email` or `department_ids[2]`.
    pub field: String,
    /// What is wrong, as a stable code (`too_long`, `required`, …); see [`DetailCode`].
    pub code: DetailCode,
    /// The values the code's message needs (`{"max": 100}`); the keys are those the code documents.
    pub params: Params,
    /// Why the value was refused, in an English sentence.
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: DetailCode, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            params: Params::new(),
            reason: reason.into(),
        }
    }

    /// Adds a parameter (a key the code documents).
    #[must_use]
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) -> &mut Self {
        debug_assert!(
            self.code.params().contains(&key),
            "detail code {} does not document the parameter {key}",
            self.code
        );
        self.params.insert(key, value.into());
        self
    }

    /// The same problem at another path (e.g. prefixed with the record it belongs to).
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    /// The problem without its place, to attach elsewhere.
    pub fn into_reason(self) -> Reason {
        Reason {
            code: self.code,
            params: self.params,
            message: self.reason,
        }
    }
}

/// The input was refused; `0` lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, code: DetailCode, reason: impl Into<String>) -> Self {
        Invalid(vec![FieldError::new(field, code, reason)])
    }
}

impl From<FieldError> for Invalid {
    fn from(error: FieldError) -> Self {
        Invalid(vec![error])
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for error in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{}: {}", error.field, error.reason)?;
        }
        Ok(())
    }
}

/// A value-level refusal, before it is attached to a field name: a code, its parameters, and English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Reason {
    pub code: DetailCode,
    pub params: Params,
    pub message: String,
}

impl Reason {
    pub fn new(code: DetailCode, message: impl Into<String>) -> Self {
        Reason {
            code,
            params: Params::new(),
            message: message.into(),
        }
    }

    /// Adds a parameter (a key the code documents).
    #[must_use]
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        debug_assert!(
            self.code.params().contains(&key),
            "detail code {} does not document the parameter {key}",
            self.code
        );
        self.params.insert(key, value.into());
        self
    }

    /// `empty`: "must not be empty".
    pub fn empty() -> Self {
        Reason::new(DetailCode::Empty, "must not be empty")
    }

    /// `required`: "is required".
    pub fn required() -> Self {
        Reason::new(DetailCode::Required, "is required")
    }

    /// `too_long`: "must be at most {max} characters".
    pub fn too_long(max: usize) -> Self {
        Reason::new(
            DetailCode::TooLong,
            format!("must be at most {max} characters"),
        )
        .with("max", max)
    }

    /// `too_short`: "must be at least {min} characters".
    pub fn too_short(min: usize) -> Self {
        Reason::new(
            DetailCode::TooShort,
            format!("must be at least {min} characters"),
        )
        .with("min", min)
    }

    /// `too_many` with `max` and the English `message`.
    pub fn too_many(max: usize, message: impl Into<String>) -> Self {
        Reason::new(DetailCode::TooMany, message).with("max", max)
    }

    /// `control_characters`.
    pub fn control_characters() -> Self {
        Reason::new(
            DetailCode::ControlCharacters,
            "must not contain control characters",
        )
    }

    /// `invalid_format` for `format` (`date`, `id`, `email`…), with the English `message`.
    pub fn format(format: &'static str, message: impl Into<String>) -> Self {
        Reason::new(DetailCode::InvalidFormat, message).with("format", format)
    }

    /// `not_one_of` the `allowed` values, with the English `message`.
    pub fn not_one_of(allowed: &[&str], message: impl Into<String>) -> Self {
        Reason::new(DetailCode::NotOneOf, message).with("allowed", allowed.to_vec())
    }

    /// `wrong_type`: `expected` is `string`, `number`, `integer`, `boolean`, `array` or `object`.
    pub fn wrong_type(expected: &'static str, message: impl Into<String>) -> Self {
        Reason::new(DetailCode::WrongType, message).with("expected", expected)
    }

    /// `not_found`: the value names a `what` that does not exist.
    pub fn not_found(what: &'static str, message: impl Into<String>) -> Self {
        Reason::new(DetailCode::NotFound, message).with("what", what)
    }

    /// `not_allowed`, with the English `message` saying why.
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Reason::new(DetailCode::NotAllowed, message)
    }

    /// This problem at `field`.
    pub fn at(self, field: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            code: self.code,
            params: self.params,
            reason: self.message,
        }
    }
}

/// Collects field errors while an input is parsed.
///
/// ```
/// # use tenon_model::{Checker, Name};
/// let mut check = Checker::default();
/// let name = check.field("name", Name::parse(""));
/// assert!(name.is_none());
/// assert!(check.finish().is_err());
/// ```
#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    /// Keeps the value if it parsed, or records why it did not under `field`.
    pub fn field<T>(&mut self, field: &str, parsed: Result<T, Reason>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(reason) => {
                self.errors.push(reason.at(field));
                None
            }
        }
    }

    /// Like [`Checker::field`] for an optional input: `None` stays `None` without an error.
    pub fn optional<T, R>(
        &mut self,
        field: &str,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, Reason>,
    ) -> Option<Option<T>> {
        match raw {
            None => Some(None),
            Some(raw) => self.field(field, parse(raw)).map(Some),
        }
    }

    pub fn push(&mut self, field: impl Into<String>, code: DetailCode, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, reason));
    }

    /// Records a problem built with its parameters.
    pub fn add(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `not_found`: the value at `field` names a `what` (member, role, node…) that does not exist.
    pub fn not_found(
        &mut self,
        field: impl Into<String>,
        what: &'static str,
        reason: impl Into<String>,
    ) {
        self.add(Reason::not_found(what, reason).at(field));
    }

    /// `invalid_format`: the value at `field` is not a valid `format` (`id`, `key`, `date`…).
    pub fn format(
        &mut self,
        field: impl Into<String>,
        format: &'static str,
        reason: impl Into<String>,
    ) {
        self.add(Reason::format(format, reason).at(field));
    }

    /// `too_many`: the list at `field` has more than `max` items.
    pub fn too_many(&mut self, field: impl Into<String>, max: usize, reason: impl Into<String>) {
        self.add(Reason::too_many(max, reason).at(field));
    }

    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.errors))
        }
    }

    /// The recorded errors, for a caller that found every field present but must still refuse.
    pub fn into_invalid(self) -> Invalid {
        Invalid(self.errors)
    }
}
