//! The engine: [`apply`] takes an instance's state, a command and the time, and returns the
//! [`Transition`] — the new state, the operation records and events it appends, the record status to
//! write and the timers to set — or the [`Refusal`] that leaves everything as it was. Pure: the store
//! locks, loads, calls it, and persists the difference in the same transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tenon_model::apps::CellValue;
use tenon_model::{ActivationId, ApprovalTaskId, DepartmentId, FieldId, Invalid, MemberId};

use crate::definition::Method;
use crate::history::{Acting, ApprovalEvent, OperationRecord, Snapshot};
use crate::state::{InstanceState, Task};

mod actions;
mod flow;
mod instance;
mod run;

/// Where add-signed approvers go relative to the task that adds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// They decide first; the task waits (paused) for them.
    Before,
    /// The task agrees now; the node waits for them.
    After,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnTo {
    /// A node the instance passed.
    Node(String),
    Initiator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    Remind,
    Timeout,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Remind => "remind",
            TimerKind::Timeout => "timeout",
        }
    }

    pub fn parse(raw: &str) -> Option<TimerKind> {
        match raw {
            "remind" => Some(TimerKind::Remind),
            "timeout" => Some(TimerKind::Timeout),
            _ => None,
        }
    }
}

/// The record as submitted: the values conditions and field rules read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Submission {
    pub values: BTreeMap<FieldId, CellValue>,
    pub created_by: Option<MemberId>,
    pub modified_by: Option<MemberId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Start {
        initiator: MemberId,
        department: Option<DepartmentId>,
        selected: BTreeMap<String, Vec<MemberId>>,
        submission: Submission,
        by: Acting,
    },
    /// Agree (or, on a handle node, done). On the initiator's task after a return, it resubmits with
    /// the record as it is now (`resubmission`, which the store reads for such a task).
    Approve {
        task: ApprovalTaskId,
        comment: Option<String>,
        resubmission: Option<Submission>,
        by: Acting,
    },
    Refuse {
        task: ApprovalTaskId,
        comment: Option<String>,
        by: Acting,
    },
    Transfer {
        task: ApprovalTaskId,
        to: MemberId,
        comment: Option<String>,
        by: Acting,
    },
    AddSign {
        task: ApprovalTaskId,
        members: Vec<MemberId>,
        position: Position,
        method: Method,
        comment: Option<String>,
        by: Acting,
    },
    Return {
        task: ApprovalTaskId,
        to: ReturnTo,
        comment: Option<String>,
        by: Acting,
    },
    Withdraw {
        comment: Option<String>,
        by: Acting,
    },
    Terminate {
        comment: Option<String>,
        by: Acting,
    },
    Comment {
        text: String,
        by: Acting,
    },
    Cc {
        members: Vec<MemberId>,
        comment: Option<String>,
        by: Acting,
    },
    /// Reminds the assignees of the running tasks ([`Transition::reminders`]); changes no state.
    Remind {
        comment: Option<String>,
        by: Acting,
    },
    /// A timer of a task came due.
    Timer {
        task: ApprovalTaskId,
        kind: TimerKind,
    },
    /// A member left the organization: their open tasks go to their manager, else by the process's
    /// no-approver setting.
    MemberLeft {
        member: MemberId,
    },
}

impl Command {
    /// Who gives the command (`None` for the platform's own: timers, a member leaving).
    pub fn acting(&self) -> Option<&Acting> {
        match self {
            Command::Start { by, .. }
            | Command::Approve { by, .. }
            | Command::Refuse { by, .. }
            | Command::Transfer { by, .. }
            | Command::AddSign { by, .. }
            | Command::Return { by, .. }
            | Command::Withdraw { by, .. }
            | Command::Terminate { by, .. }
            | Command::Comment { by, .. }
            | Command::Cc { by, .. }
            | Command::Remind { by, .. } => Some(by),
            Command::Timer { .. } | Command::MemberLeft { .. } => None,
        }
    }
}

/// Why a command changed nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The command must resolve approvers or check members: call again with the directory loaded.
    #[error("the directory is needed")]
    NeedsDirectory,
    /// An approve of the initiator's task resubmits: call again with the record's values as they are now.
    #[error("the record's values are needed")]
    NeedsRecord,
    #[error("no such task in this instance")]
    TaskNotFound,
    #[error("the task is assigned to someone else")]
    NotAssignee,
    #[error("only the initiator may withdraw the instance")]
    NotInitiator,
    /// The task or instance moved on (decided, canceled, paused).
    #[error("{0}")]
    Stale(String),
    #[error("the instance has ended")]
    Finished,
    /// The process's settings or the node do not allow the action.
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Invalid(Invalid),
    #[error("the approvers resolve to {0} members; a node takes at most 200")]
    TooManyApprovers(usize),
}

/// The record status to write with the transition: a choice of the status field, and the refusal's
/// comment for the comment field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusWrite {
    pub value: Option<String>,
    pub comment: Option<String>,
}

/// A reminder or timeout to set for a task that started running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub task: ApprovalTaskId,
    pub kind: TimerKind,
    pub due: DateTime<Utc>,
}

/// Someone to remind (催办) of a running task: a `remind` command or a reminder timer coming due. It
/// changes no state and leaves no operation record or event (the issue names none for it); the store
/// puts a message in the assignee's inbox and an audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub task: ApprovalTaskId,
    pub assignee: MemberId,
    /// Who reminded: the member of a `remind` command; `None` for a reminder timer (or a caller acting
    /// for no member).
    pub by: Option<MemberId>,
    /// What the reminder says besides (the `remind` command's comment).
    pub comment: Option<String>,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Transition {
    pub state: InstanceState,
    pub records: Vec<OperationRecord>,
    pub events: Vec<ApprovalEvent>,
    pub status: Option<StatusWrite>,
    pub timers: Vec<Timer>,
    /// The running tasks whose assignees are to be reminded, in task order.
    pub reminders: Vec<Reminder>,
    /// The command's name in the audit log (`approval.<action>`).
    pub action: &'static str,
}

/// Applies `command` at `now`.
pub fn apply(
    state: &InstanceState,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    let mut run = run::Run::new(state.clone(), now);
    let action = actions::dispatch(&mut run, command)?;
    Ok(run.finish(action))
}

/// What changed between two states of one instance: new and changed tasks and activations.
#[derive(Debug, Default)]
pub struct Changes<'a> {
    pub new_tasks: Vec<&'a Task>,
    pub changed_tasks: Vec<&'a Task>,
    pub new_activations: Vec<ActivationId>,
    pub changed_activations: Vec<ActivationId>,
}

impl Transition {
    /// The tasks and activations to insert and update.
    pub fn changes<'a>(&'a self, before: &InstanceState) -> Changes<'a> {
        let mut changes = Changes::default();
        for task in &self.state.tasks {
            match before.task(task.id) {
                None => changes.new_tasks.push(task),
                Some(old) if old != task => changes.changed_tasks.push(task),
                Some(_) => {}
            }
        }
        for activation in &self.state.activations {
            match before.activation(activation.id) {
                None => changes.new_activations.push(activation.id),
                Some(old) if old != activation => changes.changed_activations.push(activation.id),
                Some(_) => {}
            }
        }
        changes
    }

    /// Gives the new tasks (number 0) numbers from `first` on, in creation order, in the state and in
    /// the events' snapshots. Returns how many were numbered.
    pub fn number_tasks(&mut self, first: i64) -> i64 {
        let mut next = first;
        let mut numbers = BTreeMap::new();
        for task in self.state.tasks.iter_mut().filter(|task| task.number == 0) {
            task.number = next;
            numbers.insert(task.id, next);
            next += 1;
        }
        for event in &mut self.events {
            for snapshot in [&mut event.before, &mut event.after].into_iter().flatten() {
                if let Snapshot::Task(task) = snapshot
                    && let Some(number) = numbers.get(&task.id)
                {
                    task.number = *number;
                }
            }
        }
        next - first
    }

    /// How many tasks the transition created (to reserve their numbers).
    pub fn unnumbered_tasks(&self) -> i64 {
        self.state
            .tasks
            .iter()
            .filter(|task| task.number == 0)
            .count()
            .try_into()
            .unwrap_or(i64::MAX)
    }
}
