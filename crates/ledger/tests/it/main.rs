//! Ledger tests: invariants as properties over random valid ledgers, the round-trip law of every exchange
//! format, golden payloads, and the official SAF-T files.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exchange;
mod invariants;
mod reports;
mod rules;
mod saft_files;
mod sample;
