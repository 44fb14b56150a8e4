//! Operation records (审批记录): as the API shows them, as the store writes them, as DingTalk's answers
//! read them.

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};
use tenon_approvals::history::{OperationRecord, RecordKind};
use tenon_approvals::state::TaskResult;
use tenon_model::MemberId;
use uuid::Uuid;

use crate::exec::DynRow;
use crate::{Result, StoreError};

#[derive(sqlx::FromRow)]
pub(super) struct OperationRow {
    seq: i64,
    #[sqlx(rename = "type")]
    kind: String,
    actor: Option<Uuid>,
    via: sqlx::types::Json<Value>,
    task_id: Option<Uuid>,
    node: Option<String>,
    result: Option<String>,
    comment: Option<String>,
    members: sqlx::types::Json<Value>,
    automatic: bool,
    at: DateTime<Utc>,
}

impl OperationRow {
    /// A record as reading it back after this transaction's insert gives it (times are kept to the
    /// microsecond).
    pub(super) fn written(record: &OperationRecord) -> Self {
        let at = record.at;
        OperationRow {
            seq: record.seq,
            kind: record.kind.as_str().to_owned(),
            actor: record.actor.map(|id| *id.as_uuid()),
            via: sqlx::types::Json(record_via(record)),
            task_id: record.task.map(|id| *id.as_uuid()),
            node: record.node.clone(),
            result: record.result.map(|result| result.as_str().to_owned()),
            comment: record.comment.clone(),
            members: sqlx::types::Json(record_members(record)),
            automatic: record.automatic,
            at: at
                .with_nanosecond(at.nanosecond() / 1_000 * 1_000)
                .unwrap_or(at),
        }
    }

    pub(super) fn json(self) -> Value {
        json!({
            "seq": self.seq,
            "type": self.kind,
            "actor": self.actor.map(|id| id.to_string()),
            "via": self.via.0,
            "task_id": self.task_id.map(|id| id.to_string()),
            "node": self.node,
            "result": self.result,
            "comment": self.comment,
            "members": self.members.0,
            "automatic": self.automatic,
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        })
    }
}

/// The credential an operation record was made with, as its `via` column keeps it.
pub(super) fn record_via(record: &OperationRecord) -> Value {
    json!({
        "type": record.credential.kind(),
        "id": record.credential.id(),
        "name": record.credential.name(),
    })
}

/// The members an operation record names, as its `members` column keeps them.
pub(super) fn record_members(record: &OperationRecord) -> Value {
    Value::Array(
        record
            .members
            .iter()
            .map(|id| json!(id.to_string()))
            .collect(),
    )
}

/// Operation records this transaction wrote, as the API shows them once read back.
pub(super) fn written_records(records: &[OperationRecord]) -> impl Iterator<Item = Value> + '_ {
    records
        .iter()
        .map(|record| OperationRow::written(record).json())
}

/// An operation record as DingTalk's answers read it: typed, without the credential (`via`), the task
/// and whether the engine made it, which those answers do not show.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalOperation {
    pub seq: i64,
    pub kind: RecordKind,
    pub actor: Option<MemberId>,
    pub node: Option<String>,
    pub result: Option<TaskResult>,
    pub comment: Option<String>,
    pub members: Vec<MemberId>,
    pub at: DateTime<Utc>,
}

/// The columns of an operation record, as [`ApprovalOperation::at`] reads them (the table is `o`).
pub(super) const OPERATION_COLUMNS: &str =
    "o.seq, o.type, o.actor, o.node, o.result, o.comment, o.members, o.at";

impl ApprovalOperation {
    /// The operation record in [`OPERATION_COLUMNS`] from position `at` of a row that reads it beside
    /// other columns; `None` when there is none (a left join that matched no record).
    pub(super) fn at(row: &DynRow, at: usize) -> Result<Option<ApprovalOperation>> {
        let Some(seq) = row.int(at)? else {
            return Ok(None);
        };
        let corrupt = |what: &str| StoreError::Corrupt(format!("operation record {seq}: {what}"));
        let kind = row.text(at + 1)?.ok_or_else(|| corrupt("no type"))?;
        let kind = RecordKind::parse(&kind).ok_or_else(|| corrupt(&format!("type {kind:?}")))?;
        let result = match row.text(at + 4)? {
            None => None,
            Some(result) => Some(
                TaskResult::parse(&result).ok_or_else(|| corrupt(&format!("result {result:?}")))?,
            ),
        };
        let members = match row.json(at + 6)? {
            Some(Value::Array(members)) => members
                .iter()
                .map(|member| {
                    member
                        .as_str()
                        .and_then(|text| text.parse::<MemberId>().ok())
                        .ok_or_else(|| corrupt(&format!("member {member}")))
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(corrupt("members not a list")),
        };
        Ok(Some(ApprovalOperation {
            seq,
            kind,
            actor: row.optional_uuid(at + 2)?.map(MemberId::from_uuid),
            node: row.text(at + 3)?,
            result,
            comment: row.text(at + 5)?,
            members,
            at: row.datetime(at + 7)?.ok_or_else(|| corrupt("no time"))?,
        }))
    }
}
