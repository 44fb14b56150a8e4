//! Connection flows' storage (migration `0013_flows`): flows and their published versions, runs (one per
//! trigger), the step journal, and members' inboxes.
//!
//! `tenon-flows` decides (publish checks, trigger matching, the walk over steps, retries); this module
//! keeps what it decided and gives it transactions:
//!
//! - `publish`: a definition file's flows compiled against the app's tables and published (a changed
//!   flow becomes version n+1), in the import's transaction;
//! - `watch`: the watch hook — every record write evaluates the record triggers of its table before and
//!   after and inserts the runs in its own transaction (one trigger, one run: a unique
//!   `(flow, trigger_key)`, the key being the record event's id);
//! - `runs`: claiming runs with a lease fenced by an epoch, reading and steering them (manual start,
//!   cancel, retry);
//! - `steps`: advancing a run by one step in one transaction — the step's write (records, inbox) commits
//!   with its journal row, only while the claim's epoch is current: exactly once;
//! - `actions`: what each step type does; `control`: `wait` and `for_each`, which span transactions;
//!   `upsert`: create-or-update on a unique key; `aggregate` and `calls` (`call_flow`);
//! - `outside`: outside steps (`http`): journaled `running` with an idempotency key before the worker
//!   sends the request, the answer journaled after; a request cut short is sent again only if resending is
//!   safe, else the step's outcome is unknown and a person resolves it;
//! - `vouchers`: the `kingdee_voucher` and `yonyou_voucher` steps' requests (the ledger's exchange
//!   payload of one voucher; Kingdee reconciled by Tenon's key, U8 unsafe);
//! - `pushes`: the memory of voucher pushes per (organization, connection, voucher), claimed before a
//!   push is sent, so a replay or a second run never posts a voucher twice;
//! - `inbox`: notifications;
//! - `commands`: replay, resolve, enable/disable, delete;
//! - `hooks`: webhook triggers (secret slugs, `Idempotency-Key`s kept 24 h);
//! - `schedules`: schedule triggers (one run per slot across nodes, missed slots);
//! - `approvals`: approval triggers (runs inserted in the approval command's transaction), the
//!   `start_approval` and `wait_approval` steps.

mod actions;
mod aggregate;
mod approvals;
mod calls;
mod commands;
mod control;
mod deliveries;
mod hooks;
mod inbox;
mod messages;
mod outside;
mod publish;
mod pushes;
mod runs;
mod schedules;
mod sql;
mod steps;
mod upsert;
mod vouchers;
pub(crate) mod watch;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenon_flows::{RunStatus, StepStatus};
use tenon_model::{AppId, FlowId, FlowRunId, MemberId, NotificationId, TableId};

pub use commands::Resolution;
pub use hooks::{HOOK_KEY_HOURS, Hook, HookRun};
pub use messages::OutboundMail;
pub use outside::{LoopCall, OutsideAnswer, OutsideCall};
pub use publish::FileFlows;
pub use runs::{Claim, RunFilter};
pub use schedules::ScheduleSlot;
pub use sql::SqlRun;
pub use steps::Advance;
pub use vouchers::VoucherPush;

/// How long a claim holds a run; every step renews it.
pub const FLOW_LEASE_SECONDS: i64 = 60;
/// Most runs one list page returns.
pub const FLOW_RUNS_PER_PAGE_MAX: u32 = 200;
/// Candidates a `find` step reads at most (it evaluates its condition on each).
pub const FIND_SCAN_MAX: usize = 10_000;
/// A step's output is kept up to this many bytes of JSON; larger ones are replaced by a note.
pub const STEP_OUTPUT_BYTES_MAX: usize = 64 * 1024;

/// A flow and its published version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFlow {
    pub id: FlowId,
    pub key: String,
    pub name: String,
    pub app_id: Option<AppId>,
    pub table_id: Option<TableId>,
    pub enabled: bool,
    /// The definition as published.
    pub definition: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A run, with its journal when read alone.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRun {
    pub id: FlowRunId,
    pub flow_id: FlowId,
    pub flow_key: String,
    pub version: i32,
    pub trigger_key: String,
    pub status: RunStatus,
    pub trigger: Value,
    pub depth: u32,
    pub error: Option<Value>,
    pub next_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub steps: Vec<StepEntry>,
}

/// One step's journal row.
#[derive(Debug, Clone, PartialEq)]
pub struct StepEntry {
    pub key: String,
    pub position: i32,
    pub step_type: String,
    pub status: StepStatus,
    pub attempts: i32,
    pub branch: Option<bool>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A message in a member's inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: NotificationId,
    pub member_id: MemberId,
    pub title: Option<String>,
    pub text: String,
    /// `{"flow", "flow_id", "run_id", "step"}`.
    pub source: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}
