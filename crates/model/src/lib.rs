//! Tenon's domain model: the vocabulary every other crate speaks.
//!
//! This crate owns ids, scopes, roles, validated values (names, e-mail addresses, time zones, rate limits),
//! the shapes of directory objects (organizations, members, departments) and of credentials, and the
//! validation error type. It never performs I/O, never awaits, never reads the clock (callers pass "now"),
//! and its types are not API shapes: the server crate maps them to JSON.

pub mod apps;
pub mod audit;
pub mod credentials;
pub mod directory;
pub mod errors;
pub mod events;
pub mod ids;
pub mod page;
pub mod rate;
pub mod role;
pub mod scope;
pub mod subscriptions;
pub mod validation;
pub mod values;

pub use audit::{Action, AuditEntry, TargetKind};
pub use credentials::{
    Actor, ApiToken, EventFormat, Installation, OAuthClient, Principal, TokenKind,
    check_redirect_uris,
};
pub use directory::{
    Department, DepartmentPatch, Member, MemberPatch, MemberStatus, NewDepartment, NewMember,
    Organization, OrganizationPatch,
};
pub use errors::{DetailCode, ErrorCode, ErrorHeader, OAuthErrorCode, Params};
pub use events::Event;
pub use ids::{
    ActivationId, AppId, ApprovalId, ApprovalTaskId, AttachmentId, AuditId, BookId, ClientAppId,
    DeliveryId, DepartmentId, EventId, FieldId, FlowId, FlowRunId, InstallationId, MemberId,
    NotificationId, OrgId, ParseIdError, ProcessId, RecordId, SessionId, ShareId,
    StreamConnectionId, SubscriptionId, TableId, TokenId, ViewId, VoucherId,
};
pub use page::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, Page, PageRequest};
pub use rate::RateLimit;
pub use role::Role;
pub use scope::{Scope, ScopeSet};
pub use validation::{Checker, FieldError, Invalid, Reason};
pub use values::{Email, Locale, Mobile, Name, OptionalText, Password, TimeZone};
