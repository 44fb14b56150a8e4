//! The audit log: who changed what, when, with the object before and after.

use chrono::{DateTime, Utc};

use crate::ids::AuditId;

/// The kind of object an audit entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    Organization,
    Member,
    Department,
    Token,
    Installation,
    Session,
    App,
    Table,
    Field,
    Record,
    Attachment,
    View,
    LedgerBook,
    LedgerAccount,
    Voucher,
    Subscription,
    /// A custom role of the organization (`/api/v1/roles`).
    OrgRole,
    /// An approval process and its versions.
    Process,
    /// An approval instance (its tasks and operation records).
    Approval,
    /// A connection flow and its versions.
    Flow,
    /// A run of a flow (retried, canceled, failed).
    FlowRun,
    /// A standing approval delegation (代理审批, `/api/v1/approval-delegations`).
    ApprovalDelegation,
    /// A dashboard of an app.
    Dashboard,
    /// A signed link to one record's chosen fields.
    Share,
    /// A stored credential for outside systems (`/api/v1/connections`), named by its key.
    Connection,
}

impl TargetKind {
    pub const ALL: [TargetKind; 25] = [
        TargetKind::Organization,
        TargetKind::Member,
        TargetKind::Department,
        TargetKind::Token,
        TargetKind::Installation,
        TargetKind::Session,
        TargetKind::App,
        TargetKind::Table,
        TargetKind::Field,
        TargetKind::Record,
        TargetKind::Attachment,
        TargetKind::View,
        TargetKind::LedgerBook,
        TargetKind::LedgerAccount,
        TargetKind::Voucher,
        TargetKind::Subscription,
        TargetKind::OrgRole,
        TargetKind::Process,
        TargetKind::Approval,
        TargetKind::Flow,
        TargetKind::FlowRun,
        TargetKind::ApprovalDelegation,
        TargetKind::Dashboard,
        TargetKind::Share,
        TargetKind::Connection,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetKind::Organization => "organization",
            TargetKind::Member => "member",
            TargetKind::Department => "department",
            TargetKind::Token => "token",
            TargetKind::Installation => "installation",
            TargetKind::Session => "session",
            TargetKind::App => "app",
            TargetKind::Table => "table",
            TargetKind::Field => "field",
            TargetKind::Record => "record",
            TargetKind::Attachment => "attachment",
            TargetKind::View => "view",
            TargetKind::LedgerBook => "ledger_book",
            TargetKind::LedgerAccount => "ledger_account",
            TargetKind::Voucher => "voucher",
            TargetKind::Subscription => "subscription",
            TargetKind::OrgRole => "role",
            TargetKind::Process => "process",
            TargetKind::Approval => "approval",
            TargetKind::Flow => "flow",
            TargetKind::FlowRun => "flow_run",
            TargetKind::ApprovalDelegation => "approval_delegation",
            TargetKind::Dashboard => "dashboard",
            TargetKind::Share => "share",
            TargetKind::Connection => "connection",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// What happened to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Created,
    Updated,
    Deleted,
    /// A credential was revoked or an app uninstalled.
    Revoked,
    /// A secret (password, client secret) was replaced.
    SecretChanged,
    LoggedIn,
    LoggedOut,
    /// A voucher was reviewed, posted or reversed; a book was imported into.
    Reviewed,
    Posted,
    Reversed,
    Imported,
}

impl Action {
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
            Action::Revoked => "revoked",
            Action::SecretChanged => "secret_changed",
            Action::LoggedIn => "logged_in",
            Action::LoggedOut => "logged_out",
            Action::Reviewed => "reviewed",
            Action::Posted => "posted",
            Action::Reversed => "reversed",
            Action::Imported => "imported",
        }
    }
}

/// One stored audit entry. Snapshots are JSON so that the log outlives schema changes of the objects.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    /// `<target>.<action>`, e.g. `member.updated`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}
