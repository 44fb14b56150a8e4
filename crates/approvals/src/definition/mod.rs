//! A process as people write it (`tenon.app/v1` `processes:`, `POST /api/v1/processes`): nodes with their
//! approver rules, the initiator rule, the record-status mapping, CC and settings — parsed from JSON (YAML
//! files arrive as the same tree) with every problem reported at its path.
//!
//! This module checks the shape only; [`crate::compile`] checks a process against its table, the
//! organization's roles and members (publish checks).

use serde_json::{Value, json};
use tenon_model::{MemberId, Name};

mod parse;
mod render;
#[cfg(test)]
mod tests;

pub(crate) use parse::join;
pub use render::to_json;

/// Most nodes a process may have.
pub const NODES_MAX: usize = 100;
/// Most branches a condition node may have.
pub const BRANCHES_MAX: usize = 20;
/// Most approvers a node may name or resolve to.
pub const APPROVERS_MAX: usize = 200;
/// Deepest manager level a rule may name.
pub const MANAGER_LEVEL_MAX: u32 = 20;
/// The target key that ends the instance; a node of type `end` may also be named.
pub const END: &str = "end";
/// The target of a return to the initiator, and the node key of the initiator's resubmit task.
pub const INITIATOR: &str = "initiator";

/// A process definition, checked for shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Unique per organization: `DUTY_APPEAL`.
    pub code: String,
    pub name: Name,
    /// The key of the process's table.
    pub table: String,
    /// Whom the instance is started for when the caller has no member and the request names none.
    pub initiator: Option<InitiatorRule>,
    pub record_status: Option<RecordStatus>,
    pub settings: Settings,
    pub cc: Vec<CcRule>,
    /// The first node is where an instance starts.
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InitiatorRule {
    /// A member field, a lookup of one, or `created_by`/`modified_by`.
    Field(String),
    Member(MemberId),
    /// The member who created the record (or the member behind the personal token that did).
    CreatedBy,
}

/// Which choices of one single-select field the record takes as the instance runs and ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordStatus {
    pub field: String,
    pub running: Option<String>,
    pub agree: Option<String>,
    pub refuse: Option<String>,
    pub withdrawn: Option<String>,
    pub terminated: Option<String>,
    /// A text field that receives the refusal's comment.
    pub comment_field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    Off,
    /// A member who already approved in this instance is passed automatically later.
    KeepFirst,
    /// Only when they approved at the node just before.
    Consecutive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitiatorIsApprover {
    ApproveSelf,
    AutoPass,
    /// Their direct manager approves instead.
    Manager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoApprover {
    Pass,
    /// The organization's owners and admins.
    Admin,
    Member(MemberId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdraw {
    Always,
    /// Only while nobody but the system has decided a task.
    BeforeAction,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRefuse {
    End,
    ReturnToInitiator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutAction {
    Approve,
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    pub after_hours: u32,
    pub action: TimeoutAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub dedupe: Dedupe,
    pub initiator_is_approver: InitiatorIsApprover,
    pub no_approver: NoApprover,
    pub withdraw: Withdraw,
    pub on_refuse: OnRefuse,
    pub comment_required_on_refuse: bool,
    pub remind_after_hours: Option<u32>,
    pub timeout: Option<Timeout>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dedupe: Dedupe::Off,
            initiator_is_approver: InitiatorIsApprover::ApproveSelf,
            no_approver: NoApprover::Pass,
            withdraw: Withdraw::Always,
            on_refuse: OnRefuse::End,
            comment_required_on_refuse: false,
            remind_after_hours: None,
            timeout: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcAt {
    Start,
    /// Only when the instance is approved.
    Finish,
    Both,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CcRule {
    pub at: CcAt,
    pub approvers: Vec<Rule>,
}

/// How the tasks of a node (or of an add-sign group) decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// 或签: the first decision decides.
    Or,
    /// 会签: everyone agrees, or one refusal refuses.
    And,
    /// 依次: one after another, in order.
    OneByOne,
    /// Passes once `pass_percent` of the voters agree; refused once that cannot happen.
    Vote { pass_percent: u8 },
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Or => "or",
            Method::And => "and",
            Method::OneByOne => "one_by_one",
            Method::Vote { .. } => "vote",
        }
    }

    /// The JSON form kept with an activation: `"or"`, or `{"vote": 60}`.
    pub fn to_json(self) -> Value {
        match self {
            Method::Vote { pass_percent } => json!({"vote": pass_percent}),
            other => json!(other.as_str()),
        }
    }

    pub fn from_json(value: &Value) -> Option<Method> {
        match value {
            Value::String(text) => match text.as_str() {
                "or" => Some(Method::Or),
                "and" => Some(Method::And),
                "one_by_one" => Some(Method::OneByOne),
                _ => None,
            },
            Value::Object(object) => {
                let percent = object.get("vote")?.as_u64()?;
                Some(Method::Vote {
                    pass_percent: u8::try_from(percent)
                        .ok()
                        .filter(|p| (1..=100).contains(p))?,
                })
            }
            _ => None,
        }
    }
}

/// Who approves: resolved in order when a node is entered, then de-duplicated.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Members(Vec<MemberId>),
    /// The members of a custom role.
    Role(String),
    /// The head at level N above the start department (a head's level 1 is the parent's head).
    Manager(u32),
    /// Levels 1 to N, in order.
    ManagerChainToLevel(u32),
    /// Levels 1 up to the first level whose head has the role, in order.
    ManagerChainToRole(String),
    /// The heads of the start department.
    DepartmentHead,
    /// Chosen by the initiator at submit, from `range` (any member when empty).
    Selected(Vec<Rule>),
    Initiator,
    /// A member field, a department field (its heads), a lookup of a member field, or `created_by` /
    /// `modified_by` (the record's creator or last writer).
    Field(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// A condition formula over the table's fields, as written (`{扣分} >= 2`).
    pub when: String,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Approval {
        method: Method,
        approvers: Vec<Rule>,
        next: String,
    },
    /// 办理: tasks end `done`; they cannot be refused.
    Handle {
        method: Method,
        approvers: Vec<Rule>,
        next: String,
    },
    Cc {
        approvers: Vec<Rule>,
        next: String,
    },
    /// Branches in order, first match wins; `default` otherwise.
    Condition {
        branches: Vec<Branch>,
        default: String,
    },
    End,
}

impl NodeKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Approval { .. } => "approval",
            NodeKind::Handle { .. } => "handle",
            NodeKind::Cc { .. } => "cc",
            NodeKind::Condition { .. } => "condition",
            NodeKind::End => "end",
        }
    }

    /// Every node this one may lead to.
    pub fn targets(&self) -> Vec<&str> {
        match self {
            NodeKind::Approval { next, .. }
            | NodeKind::Handle { next, .. }
            | NodeKind::Cc { next, .. } => vec![next.as_str()],
            NodeKind::Condition { branches, default } => branches
                .iter()
                .map(|branch| branch.next.as_str())
                .chain(std::iter::once(default.as_str()))
                .collect(),
            NodeKind::End => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub key: String,
    pub name: Option<String>,
    pub kind: NodeKind,
}

impl Process {
    pub fn node(&self, key: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.key == key)
    }
}
