//! Approvals (审批) in DingTalk's vocabulary: processes as graphs of approval, handle, CC, condition and
//! end nodes; approver rules resolved over a snapshot of the directory; and the engine that moves an
//! instance through its process one command at a time.
//!
//! - [`definition`]: a process as people write it, checked for shape;
//! - [`compile`]: publish checks against the table, roles and members, and frozen versions;
//! - [`directory`]: the directory snapshot and approver rule resolution;
//! - [`delegation`]: standing delegations (代理审批) and who finally gets a task;
//! - [`state`]: instances, activations (node visits), task groups and tasks, and their JSON;
//! - [`engine`]: [`engine::apply`]`(&InstanceState, Command, now) -> Result<Transition, Refusal>`;
//! - [`history`]: operation records and `approval.*` events;
//! - [`forecast`]: the path an instance would take.
//!
//! Pure: no I/O, no clock ("now" is an argument), no database. The store locks and loads an instance,
//! calls [`engine::apply`] and persists the transition in one transaction, as it calls `tenon-ledger`.

pub mod compile;
pub mod definition;
pub mod delegation;
pub mod directory;
pub mod engine;
pub mod forecast;
pub mod history;
pub mod state;
pub mod stored;
pub mod values;

pub use compile::{CompiledProcess, Known, compile, freeze, thaw};
pub use definition::Process;
pub use directory::DirectorySnapshot;
pub use engine::{Command, Refusal, Transition, apply};
pub use history::{Acting, ApprovalEvent, OperationRecord, RecordKind};
pub use state::{Instance, InstanceState, Task};
