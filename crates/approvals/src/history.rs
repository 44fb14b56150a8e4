//! What a command leaves behind: operation records (append-only, `seq` gap-free per instance, DingTalk's
//! operation types in lowercase) and events (`approval.*`, `instance_seq` contiguous per instance), and
//! their JSON.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::{Actor, ApprovalTaskId, MemberId};

use crate::state::{Instance, Task, TaskResult, time};

macro_rules! record_kinds {
    ($($variant:ident => $text:literal),* $(,)?) => {
        /// An operation record's type: DingTalk's names, in lowercase.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RecordKind { $($variant),* }
        impl RecordKind {
            pub const ALL: &'static [RecordKind] = &[$(RecordKind::$variant),*];
            pub const fn as_str(self) -> &'static str {
                match self { $(RecordKind::$variant => $text),* }
            }
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some(RecordKind::$variant),)* _ => None }
            }
        }
    };
}

record_kinds!(
    StartProcessInstance => "start_process_instance",
    ExecuteTaskNormal => "execute_task_normal",
    ExecuteTaskAgent => "execute_task_agent",
    ExecuteTaskAuto => "execute_task_auto",
    AppendTaskBefore => "append_task_before",
    AppendTaskAfter => "append_task_after",
    RedirectTask => "redirect_task",
    RedirectProcess => "redirect_process",
    TerminateProcessInstance => "terminate_process_instance",
    FinishProcessInstance => "finish_process_instance",
    AddRemark => "add_remark",
    ProcessCc => "process_cc",
);

/// Who acted, as a record keeps it: the member (the actioner an organization token or app named, or the
/// member of a session or personal token) and the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub member: Option<MemberId>,
    pub credential: Actor,
    /// The credential holds `admin`: it may act for an assignee (recorded as an agent) and terminate.
    pub admin: bool,
}

impl Acting {
    /// The platform acting (timers, a member leaving).
    pub fn system() -> Acting {
        Acting {
            member: None,
            credential: Actor::System,
            admin: true,
        }
    }
}

/// One operation record.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationRecord {
    pub seq: i64,
    pub kind: RecordKind,
    /// `None` for the system.
    pub actor: Option<MemberId>,
    pub credential: Actor,
    pub task: Option<ApprovalTaskId>,
    pub node: Option<String>,
    pub result: Option<TaskResult>,
    pub comment: Option<String>,
    /// Who the action names: CC'd, added, transferred to.
    pub members: Vec<MemberId>,
    /// Made by the engine itself, not by an action: an automatic pass, the finish, a CC of the process's
    /// settings or of a CC node.
    pub automatic: bool,
    pub at: DateTime<Utc>,
}

impl OperationRecord {
    /// `{"seq", "type", "actor", "task_id", "node", "result", "comment", "members", "at"}`.
    pub fn json(&self) -> Value {
        json!({
            "seq": self.seq,
            "type": self.kind.as_str(),
            "actor": self.actor.map(|id| id.to_string()),
            "via": {"type": self.credential.kind(), "id": self.credential.id(), "name": self.credential.name()},
            "task_id": self.task.map(|id| id.to_string()),
            "node": self.node,
            "result": self.result.map(TaskResult::as_str),
            "comment": self.comment,
            "members": self.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "at": time(self.at),
        })
    }
}

/// Every event type of the approval family, in documentation order.
pub const EVENT_TYPES: [&str; 15] = [
    "approval.instance.started",
    "approval.instance.approved",
    "approval.instance.refused",
    "approval.instance.withdrawn",
    "approval.instance.terminated",
    "approval.task.created",
    "approval.task.approved",
    "approval.task.refused",
    "approval.task.transferred",
    "approval.task.returned",
    "approval.task.canceled",
    "approval.task.paused",
    "approval.task.resumed",
    "approval.task.auto_approved",
    "approval.cc",
];

/// What an event is about, before and after.
#[derive(Debug, Clone, PartialEq)]
pub enum Snapshot {
    Instance(Box<Instance>),
    Task(Box<Task>),
    /// Who was CC'd, at which node (`None`: by the process's settings or by hand).
    Cc {
        members: Vec<MemberId>,
        node: Option<String>,
    },
}

impl Snapshot {
    fn json(&self) -> Value {
        match self {
            Snapshot::Instance(instance) => instance.snapshot(),
            Snapshot::Task(task) => task.snapshot(),
            Snapshot::Cc { members, node } => json!({
                "members": members.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "node": node,
            }),
        }
    }
}

/// One event of a transition.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalEvent {
    pub event_type: &'static str,
    pub instance_seq: i64,
    pub before: Option<Snapshot>,
    pub after: Option<Snapshot>,
}

impl ApprovalEvent {
    /// The task the event is about, if it is about one.
    pub fn task(&self) -> Option<ApprovalTaskId> {
        match (&self.after, &self.before) {
            (Some(Snapshot::Task(task)), _) | (_, Some(Snapshot::Task(task))) => Some(task.id),
            _ => None,
        }
    }

    /// `{"before", "after", "changed", "instance_seq", "record"}`: the instance or task before and after,
    /// the keys whose values differ, the event's place in the instance, and the record.
    pub fn data(&self, instance: &Instance) -> Value {
        let before = self.before.as_ref().map_or(Value::Null, Snapshot::json);
        let after = self.after.as_ref().map_or(Value::Null, Snapshot::json);
        let changed = changed_keys(&before, &after);
        json!({
            "before": before,
            "after": after,
            "changed": changed,
            "instance_seq": self.instance_seq,
            "record": instance.record.json(),
        })
    }

    /// `{"instance_id", "task_id"?, "process", "app_id", "table_id", "record_id"}`.
    pub fn subject(&self, instance: &Instance) -> Value {
        let mut subject = json!({
            "instance_id": instance.id.to_string(),
            "process": instance.process_code,
            "app_id": instance.record.app.to_string(),
            "table_id": instance.record.table.to_string(),
            "record_id": instance.record.id.to_string(),
        });
        if let Some(task) = self.task() {
            subject["task_id"] = json!(task.to_string());
        }
        subject
    }
}

fn changed_keys(before: &Value, after: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}
