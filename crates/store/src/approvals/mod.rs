//! Approvals' storage (migration `0012_approvals`): custom roles, processes and their frozen versions,
//! instances with their tasks, operation records and timers, and the answers of idempotent commands.
//!
//! `tenon-approvals` decides everything; this module persists what it decided, as `store::ledger` does for
//! `tenon-ledger`. One transaction per command: lock the instance (`FOR UPDATE` on PostgreSQL; SQLite's
//! single writer), load its state, call [`tenon_approvals::apply`], persist the difference (tasks numbered
//! per organization, operation records, timers), write the record's status through the records module's
//! `update_records_in` (same audit entry and `record.updated` as the records API), append the
//! `approval.*` events through the one audit hook, and remember the idempotency answer.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenon_approvals::Refusal;
use tenon_model::MemberId;

use crate::StoreError;

#[cfg(feature = "bench")]
mod bench;
mod commands;
mod delegations;
mod directory;
mod forecast;
mod instances;
#[cfg(feature = "test-support")]
pub(crate) use instances::{TASKS_BY_INSTANCE, TASKS_BY_TASK};
mod numbers;
mod operations;
mod processes;
mod reminders;
mod roles;
mod timers;

pub(crate) use commands::retry_when_busy;
pub use delegations::{ApprovalDelegation, DELEGATION_PROCESSES_MAX, NewDelegation};
pub use forecast::ForecastRequest;
pub(crate) use instances::ApprovalWithRecord;
pub use instances::{Answer, ApprovalDetail, StartApproval, Target, TaskFilter};
pub use operations::ApprovalOperation;
pub use processes::{FileApprovals, ProcessVersion, StoredProcess};
pub use timers::DueTimer;

/// Most tasks one to-do list page returns.
pub const TASKS_PER_PAGE_MAX: u32 = 200;

/// A custom role (德育主任): who holds it, in order. Not the access role (owner/admin/member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRole {
    pub key: String,
    pub name: String,
    pub member_ids: Vec<MemberId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why an approval command changed nothing: the engine refused it, or the store failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CommandError {
    fn from(error: sqlx::Error) -> Self {
        CommandError::Store(error.into())
    }
}

pub(crate) fn json_ids<T: std::str::FromStr>(
    value: &Value,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            item.as_str()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("{what} {item} is not an id")))
        })
        .collect()
}
