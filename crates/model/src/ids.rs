//! Typed identifiers. One type per kind, so a member id can never be passed where a department id is meant.
//!
//! Ids are UUID v7: they sort by creation time, which gives keyset pagination a stable order for free.
//! Their text form (hyphenated lowercase UUID) is what the API shows; clients must treat it as opaque.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The text was not an id of this kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct ParseIdError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id; `Uuid::now_v7` orders ids by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl AsRef<Uuid> for $name {
            fn as_ref(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Only the canonical hyphenated form is accepted, so one id has one spelling.
                if s.len() != 36 {
                    return Err(ParseIdError);
                }
                Uuid::parse_str(s).map(Self).map_err(|_| ParseIdError)
            }
        }
    };
}

id_type!(
    /// An organization (tenant).
    OrgId
);
id_type!(
    /// A member of an organization.
    MemberId
);
id_type!(
    /// A department in an organization's tree.
    DepartmentId
);
id_type!(
    /// A personal API token or an OAuth access token.
    TokenId
);
id_type!(
    /// A registered third-party ("ISV") application.
    ClientAppId
);
id_type!(
    /// The installation of a third-party application in one organization.
    InstallationId
);
id_type!(
    /// A human login session.
    SessionId
);
id_type!(
    /// One entry of the audit log.
    AuditId
);
id_type!(
    /// A low-code app: a set of tables.
    AppId
);
id_type!(
    /// A table of an app.
    TableId
);
id_type!(
    /// A field (column) of a table.
    FieldId
);
id_type!(
    /// A record (row) of a table.
    RecordId
);
id_type!(
    /// An uploaded file.
    AttachmentId
);
id_type!(
    /// A saved view of a table.
    ViewId
);
id_type!(
    /// An event of the outbox (the `webhook-id` of its deliveries).
    EventId
);
id_type!(
    /// A webhook subscription.
    SubscriptionId
);
id_type!(
    /// A connection flow (its versions share it).
    FlowId
);
id_type!(
    /// One run of a flow.
    FlowRunId
);
id_type!(
    /// A message in a member's inbox (`GET /api/v1/me/notifications`).
    NotificationId
);
id_type!(
    /// One event queued for one subscription.
    DeliveryId
);
id_type!(
    /// An approval process (审批流程), the same across its published versions.
    ProcessId
);
id_type!(
    /// An approval instance (审批实例): one run of a process on one record.
    ApprovalId
);
id_type!(
    /// An approval task (审批任务): one person's part in one node visit.
    ApprovalTaskId
);
id_type!(
    /// One visit of an approval instance to a node of its process.
    ActivationId
);
id_type!(
    /// A ledger book (账套).
    BookId
);
id_type!(
    /// One live stream-mode connection of an installed app, on some node.
    StreamConnectionId
);
id_type!(
    /// A voucher (凭证) of a ledger book.
    VoucherId
);
id_type!(
    /// A signed link to one record's chosen fields (`…/records/{id}/share`).
    ShareId
);
