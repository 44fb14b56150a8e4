//! Validation errors that say what is wrong and where, collected over a whole input.
//!
//! A parse of user input reports every bad field at once, not just the first, so a form can mark them all.

use std::fmt;

/// One problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// A path into the input, e.g. `email` or `department_ids[2]`.
    pub field: String,
    /// Why the value was refused, in a sentence.
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The input was refused; `0` lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid(vec![FieldError::new(field, reason)])
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

/// A value-level refusal, before it is attached to a field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Reason(pub String);

impl Reason {
    pub fn new(reason: impl Into<String>) -> Self {
        Reason(reason.into())
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
                self.errors.push(FieldError::new(field, reason.0));
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

    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
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
