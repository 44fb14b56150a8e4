//! An instance as the engine sees it: the instance, its activations (one per node visit) with their
//! task groups, and its tasks — the state [`crate::engine::apply`] reads and returns changed — and the
//! public JSON shapes of instances and tasks.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tenon_model::apps::CellValue;
use tenon_model::{
    ActivationId, AppId, ApprovalId, ApprovalTaskId, DepartmentId, FieldId, MemberId, ProcessId,
    RecordId, TableId, TimeZone,
};

use crate::compile::CompiledProcess;
use crate::definition::Method;
use crate::directory::DirectorySnapshot;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(
    /// `new` only before the start command ran; then `running` until `completed` or `terminated`.
    InstanceStatus { New => "new", Running => "running", Completed => "completed", Terminated => "terminated" }
);
text_enum!(
    /// An instance's result once completed.
    Decision { Agree => "agree", Refuse => "refuse" }
);
text_enum!(
    ActivationStatus { Open => "open", Passed => "passed", Refused => "refused", Canceled => "canceled" }
);
text_enum!(
    /// `new` → `running` ⇄ `paused` → `completed` or `canceled`.
    TaskStatus { New => "new", Running => "running", Paused => "paused", Completed => "completed", Canceled => "canceled" }
);
text_enum!(
    TaskResult { Agree => "agree", Refuse => "refuse", Done => "done", Redirected => "redirected", Returned => "returned" }
);

impl TaskStatus {
    /// Still waiting for a decision (running, paused, or not yet started).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TaskStatus::New | TaskStatus::Running | TaskStatus::Paused
        )
    }
}

/// The record an instance is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    pub app: AppId,
    pub table: TableId,
    pub id: RecordId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: ApprovalId,
    pub process_id: ProcessId,
    pub process_code: String,
    /// The published version the instance runs, fixed at start.
    pub version: i32,
    pub record: RecordRef,
    pub status: InstanceStatus,
    pub result: Option<Decision>,
    /// Terminated by its initiator (withdrawn) rather than by an administrator.
    pub withdrawn: bool,
    pub initiator: MemberId,
    pub department: Option<DepartmentId>,
    /// 审批编号: the organization's date and a number.
    pub business_id: String,
    /// The record's values at submit (re-taken on resubmit); conditions read them.
    pub values: BTreeMap<FieldId, CellValue>,
    /// The members behind the record's `created_by` and `modified_by` at submit.
    pub created_by: Option<MemberId>,
    pub modified_by: Option<MemberId>,
    /// The initiator's choices for `selected` rules, by node key.
    pub selected: BTreeMap<String, Vec<MemberId>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Moves with every committed command (optimistic check beside the row lock).
    pub row_version: i64,
    /// The last operation record's `seq` (gap-free per instance).
    pub last_record_seq: i64,
    /// The last event's `instance_seq` (contiguous per instance).
    pub last_event_seq: i64,
}

/// A set of tasks of one activation that decide together: group 0 is the node's approvers; an add-sign
/// makes another, tied to the task that added it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub number: u32,
    pub method: Method,
    /// The task whose add-sign made the group (`None` for group 0).
    pub parent: Option<ApprovalTaskId>,
    /// An add-sign before: the parent waits (paused) for the group.
    pub before: bool,
    /// Members of a one-by-one group still to come, in order.
    pub waiting: Vec<MemberId>,
    /// How many decide (a vote's denominator).
    pub voters: u32,
    /// Decided (passed or refused) and its open tasks canceled.
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    pub id: ActivationId,
    /// The node key (`initiator` for a resubmit by the initiator).
    pub node: String,
    /// 1 for the first visit of the node, 2 after a return to it, …
    pub visit: u32,
    pub status: ActivationStatus,
    pub groups: Vec<Group>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: ApprovalTaskId,
    pub instance: ApprovalId,
    /// Per organization (DingTalk's `taskId`); 0 until the store numbers the task.
    pub number: i64,
    pub activation: ActivationId,
    pub node: String,
    pub group: u32,
    pub assignee: MemberId,
    pub status: TaskStatus,
    pub result: Option<TaskResult>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Everything a command is applied to.
#[derive(Debug, Clone)]
pub struct InstanceState {
    pub process: Arc<CompiledProcess>,
    /// Loaded when a command needs to resolve approvers or check members (see
    /// [`crate::engine::Refusal::NeedsDirectory`]).
    pub directory: Option<Arc<DirectorySnapshot>>,
    /// The organization's delegations that may apply now (the store loads them with the instance).
    pub delegations: Arc<[crate::delegation::Delegation]>,
    pub time_zone: TimeZone,
    pub instance: Instance,
    pub activations: Vec<Activation>,
    pub tasks: Vec<Task>,
}

impl Instance {
    /// An instance not started yet: the start command fills in the initiator and the values.
    pub fn new(
        id: ApprovalId,
        process_id: ProcessId,
        process_code: String,
        version: i32,
        record: RecordRef,
        business_id: String,
        now: DateTime<Utc>,
    ) -> Instance {
        Instance {
            id,
            process_id,
            process_code,
            version,
            record,
            status: InstanceStatus::New,
            result: None,
            withdrawn: false,
            initiator: MemberId::from_uuid(uuid::Uuid::nil()),
            department: None,
            business_id,
            values: BTreeMap::new(),
            created_by: None,
            modified_by: None,
            selected: BTreeMap::new(),
            created_at: now,
            finished_at: None,
            row_version: 0,
            last_record_seq: 0,
            last_event_seq: 0,
        }
    }
}

impl InstanceState {
    pub fn task(&self, id: ApprovalTaskId) -> Option<&Task> {
        self.tasks.iter().find(|task| task.id == id)
    }

    pub fn activation(&self, id: ActivationId) -> Option<&Activation> {
        self.activations
            .iter()
            .find(|activation| activation.id == id)
    }

    pub fn open_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|task| task.status.is_open())
    }

    /// The instance with its tasks, as `GET /api/v1/approvals/{id}` shows it.
    pub fn view(&self) -> Value {
        let mut view = self.instance.snapshot();
        view["tasks"] = Value::Array(self.tasks.iter().map(Task::snapshot).collect());
        view
    }
}

pub(crate) fn time(at: DateTime<Utc>) -> Value {
    json!(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub(crate) fn optional_time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, time)
}

impl Instance {
    /// `{"id", "process", "version", "record", "status", "result", "initiator", "business_id",
    /// "created_at", "finished_at"}`.
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "process": self.process_code,
            "version": self.version,
            "record": self.record.json(),
            "status": self.status.as_str(),
            "result": self.result.map(Decision::as_str),
            "initiator": self.initiator.to_string(),
            "business_id": self.business_id,
            "created_at": time(self.created_at),
            "finished_at": optional_time(self.finished_at),
        })
    }
}

impl RecordRef {
    /// `{"app", "table", "id"}`.
    pub fn json(&self) -> Value {
        json!({"app": self.app.to_string(), "table": self.table.to_string(), "id": self.id.to_string()})
    }
}

impl Task {
    /// `{"id", "number", "instance_id", "node", "assignee", "status", "result", "created_at",
    /// "finished_at"}`.
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "number": self.number,
            "instance_id": self.instance.to_string(),
            "node": self.node,
            "assignee": self.assignee.to_string(),
            "status": self.status.as_str(),
            "result": self.result.map(TaskResult::as_str),
            "created_at": time(self.created_at),
            "finished_at": optional_time(self.finished_at),
        })
    }
}
