//! The store's errors, in its own words. Driver errors are converted here, once. Part of the crate's
//! floor, beside `exec`: it imports no other module of the store.

use tenon_model::{DetailCode, ErrorCode, FieldId, Invalid, Params, Reason};

/// A problem with one record of a write: its index in the request, the field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    pub index: usize,
    pub field: Option<FieldId>,
    /// What is wrong: a detail code, its parameters and the English reason.
    pub reason: Reason,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist in this organization (or at all: the two are not distinguished).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The event a cursor names was deleted by the event retention, which keeps events this many days.
    #[error("the event was deleted: events are kept {retention_days} days")]
    EventExpired { retention_days: u32 },
    /// The change conflicts with existing data (a duplicate e-mail, a department that still has members…).
    /// With a `field`, the API answers one detail there with `code` and `params`.
    #[error("{reason}")]
    Conflict {
        field: Option<&'static str>,
        code: DetailCode,
        params: Params,
        reason: String,
    },
    /// A records-API write of the status field of an approval running on the record: the status changes
    /// with the approval.
    #[error(
        "approval {approval} runs on record {record}; its status field changes with the approval"
    )]
    ApprovalRunning { record: String, approval: String },
    /// A new approval delegation would overlap `existing`, another of the same member (time and
    /// processes).
    #[error(
        "a delegation of this member already covers part of this time and these processes: {existing}"
    )]
    DelegationOverlap { existing: String },
    /// The input refers to things that do not exist or breaks a rule only the data can check.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Records of a write were refused, each problem with the index of its record in the request.
    #[error("{} records are invalid", .0.len())]
    InvalidRecords(Vec<RecordProblem>),
    /// A row rule of the member's app role does not allow the write on this record (issue #19).
    #[error("your app role does not allow this on record {record}")]
    RowForbidden { record: String },
    /// Records break validation rules of their table (each problem: the record's index and the rule's
    /// message).
    #[error("{} validation rules are broken", .0.len())]
    RuleBroken(Vec<RecordProblem>),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value no longer parses: a bug or a hand edit, never user input.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    pub(crate) fn connect(error: sqlx::Error) -> Self {
        StoreError::Connect(error)
    }

    pub(crate) fn not_found(what: &'static str) -> Self {
        StoreError::NotFound { what }
    }

    pub(crate) fn conflict(
        field: Option<&'static str>,
        code: DetailCode,
        reason: impl Into<String>,
    ) -> Self {
        StoreError::Conflict {
            field,
            code,
            params: Params::new(),
            reason: reason.into(),
        }
    }

    /// A conflict at `field` for `reason` (its code, parameters and English text).
    pub(crate) fn conflict_at(field: &'static str, reason: tenon_model::Reason) -> Self {
        StoreError::Conflict {
            field: Some(field),
            code: reason.code,
            params: reason.params,
            reason: reason.message,
        }
    }

    /// Adds a parameter to a conflict's detail, or to the last detail of a refusal (a key its code
    /// documents); other errors are unchanged.
    #[must_use]
    pub(crate) fn with(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        match &mut self {
            StoreError::Conflict { code, params, .. } => {
                debug_assert!(
                    code.params().contains(&key),
                    "{code} does not document {key}"
                );
                params.insert(key, value.into());
            }
            StoreError::Invalid(invalid) => {
                if let Some(last) = invalid.0.last_mut() {
                    last.set(key, value);
                }
            }
            _ => {}
        }
        self
    }

    /// The entry of the API's error table this error answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::EventExpired { .. } => ErrorCode::EventExpired,
            StoreError::Conflict { .. } => ErrorCode::Conflict,
            StoreError::ApprovalRunning { .. } => ErrorCode::ApprovalRunning,
            StoreError::DelegationOverlap { .. } => ErrorCode::DelegationOverlap,
            StoreError::Invalid(_) | StoreError::InvalidRecords(_) | StoreError::RuleBroken(_) => {
                ErrorCode::ValidationFailed
            }
            unavailable if unavailable.is_unavailable() => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }

    /// Whether the database was unreachable or timed out, as opposed to refusing the statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Connect(_)
                | StoreError::Database(
                    sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
                )
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

/// If `error` is a unique-constraint violation, the constraint's name (PostgreSQL) or the columns it names
/// (SQLite: `UNIQUE constraint failed: members.organization_id, members.email`).
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if !matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) {
        return None;
    }
    Some(
        db.constraint()
            .map(str::to_owned)
            .unwrap_or_else(|| db.message().to_owned()),
    )
}

impl StoreError {
    /// Whether a lock taken without waiting (`NOWAIT`) was held by another transaction (PostgreSQL's
    /// `lock_not_available`): the transaction failed whole and may run again.
    pub fn is_lock_busy(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03"))
    }
}

/// Whether `error` is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if matches!(db.kind(), sqlx::error::ErrorKind::ForeignKeyViolation))
}
