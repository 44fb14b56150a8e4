//! Moving data in and out of Tenon.
//!
//! - [`definition`]: an app's schema as a YAML or JSON file (apps as code), read, written and checked.
//! - [`tabular`]: table data as CSV or Excel, read into rows of JSON values and written from records.
//! - [`import`]: a table file into records, row by row, with every row's problems reported.
//! - [`typecast`]: record input that names linked records, members, departments and choices.
//!
//! This crate parses and renders files; it reaches the database only through `tenon-store`.

pub mod definition;
pub mod export;
pub mod fields;
pub mod import;
pub mod render;
pub mod tabular;
pub mod typecast;

/// A file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    Invalid(#[from] tenon_model::Invalid),
    #[error("unknown option names at {path}: {}", names.join(", "))]
    UnknownOptions {
        path: String,
        names: Vec<String>,
        allowed: Vec<&'static str>,
    },
    #[error(transparent)]
    Store(#[from] tenon_store::StoreError),
}

impl From<tenon_model::apps::SpecError> for ExchangeError {
    fn from(error: tenon_model::apps::SpecError) -> Self {
        match error {
            tenon_model::apps::SpecError::UnknownOptions {
                path,
                names,
                allowed,
            } => ExchangeError::UnknownOptions {
                path,
                names,
                allowed,
            },
            tenon_model::apps::SpecError::Invalid(invalid) => ExchangeError::Invalid(invalid),
        }
    }
}
