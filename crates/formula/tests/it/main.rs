//! Integration tests of the formula crate: functions, diagnostics, parser robustness, and the
//! differential test against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod catalog;
mod diagnostics;
mod differential;
mod functions;
mod generator;
mod robustness;
mod support;
