//! Standing approval delegations (代理审批, `/api/v1/approval-delegations`, migration `0021`): who gets a
//! member's approval tasks while they are away. The engine applies them (`tenon_approvals::delegation`);
//! this module keeps them, refuses overlapping ones, and loads those that may apply to a command.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_approvals::delegation::Delegation;
use tenon_model::{DetailCode, FieldError, Invalid, MemberId, Reason, TargetKind};
use uuid::Uuid;

use crate::audit::{self, NamedChange};
use crate::events::ExplicitEvent;
use crate::exec::{Conn, Sql};
use crate::sql::SqlText;
use crate::{Backend, Result, StoreError, Tenant, WriteContext};

/// Most processes one delegation names.
pub const DELEGATION_PROCESSES_MAX: usize = 200;

/// A delegation as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDelegation {
    pub id: Uuid,
    pub from: MemberId,
    pub to: MemberId,
    /// Process codes; `None`: every process.
    pub processes: Option<Vec<String>>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ApprovalDelegation {
    /// `{"id", "from", "to", "processes", "starts_at", "ends_at", "created_at"}`.
    pub fn json(&self) -> Value {
        let time = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        json!({
            "id": self.id.to_string(),
            "from": self.from.to_string(),
            "to": self.to.to_string(),
            "processes": self.processes,
            "starts_at": time(self.starts_at),
            "ends_at": self.ends_at.map(time),
            "created_at": time(self.created_at),
        })
    }

    fn rule(&self) -> Delegation {
        Delegation {
            from: self.from,
            to: self.to,
            processes: self.processes.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        }
    }
}

/// A delegation to create; the caller has checked who may set it.
#[derive(Debug, Clone)]
pub struct NewDelegation {
    pub from: MemberId,
    pub to: MemberId,
    pub processes: Option<Vec<String>>,
    /// `None`: now.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

type DelegationRow = (
    Uuid,
    Uuid,
    Uuid,
    Option<sqlx::types::Json<Value>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

const COLUMNS: &str = "id, from_member, to_member, processes, starts_at, ends_at, created_at FROM approval_delegations";

fn from_row(row: DelegationRow) -> Result<ApprovalDelegation> {
    let (id, from, to, processes, starts_at, ends_at, created_at) = row;
    let processes = match processes {
        None => None,
        Some(codes) => Some(
            codes
                .0
                .as_array()
                .ok_or_else(|| StoreError::Corrupt("delegation processes".into()))?
                .iter()
                .map(|code| {
                    code.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| StoreError::Corrupt("delegation process code".into()))
                })
                .collect::<Result<Vec<String>>>()?,
        ),
    };
    Ok(ApprovalDelegation {
        id,
        from: MemberId::from_uuid(from),
        to: MemberId::from_uuid(to),
        processes,
        starts_at,
        ends_at,
        created_at,
    })
}

impl Tenant<'_> {
    /// Delegations, oldest first; `from`/`to` narrow them to one member's.
    pub async fn list_delegations(
        &self,
        from: Option<MemberId>,
        to: Option<MemberId>,
    ) -> Result<Vec<ApprovalDelegation>> {
        let mut pooled = self.store.pools.read().await?;
        let mut sql = SqlText::new(pooled.conn().backend());
        sql.push("SELECT ")
            .push(COLUMNS)
            .push(" WHERE organization_id = ")
            .arg(self.org_id);
        if let Some(from) = from {
            sql.push(" AND from_member = ").arg(from);
        }
        if let Some(to) = to {
            sql.push(" AND to_member = ").arg(to);
        }
        sql.push(" ORDER BY created_at, id");
        let rows: Vec<DelegationRow> = pooled.conn().fetch_all(sql.into_sql()).await?;
        rows.into_iter().map(from_row).collect()
    }

    pub async fn delegation(&self, id: Uuid) -> Result<ApprovalDelegation> {
        let mut pooled = self.store.pools.read().await?;
        self.load_delegation(&mut pooled.conn(), id)
            .await?
            .ok_or_else(|| StoreError::not_found("delegation"))
    }

    async fn load_delegation(
        &self,
        conn: &mut Conn<'_>,
        id: Uuid,
    ) -> Result<Option<ApprovalDelegation>> {
        let row: Option<DelegationRow> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT id, from_member, to_member, processes, starts_at, ends_at, created_at \
                     FROM approval_delegations WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
        row.map(from_row).transpose()
    }

    /// Whether `member` is an active member (locking their row on PostgreSQL when `lock`: the first lock
    /// of the order in docs/approvals.md, which serializes two delegations of one member — `FOR NO KEY
    /// UPDATE`, which the `FOR KEY SHARE` of a command giving them a task does not wait for).
    async fn active_member(
        &self,
        conn: &mut Conn<'_>,
        member: MemberId,
        lock: bool,
    ) -> Result<bool> {
        let sql = if lock && conn.backend() == Backend::Postgres {
            "SELECT status FROM members WHERE organization_id = $1 AND id = $2 FOR NO KEY UPDATE"
        } else {
            "SELECT status FROM members WHERE organization_id = $1 AND id = $2"
        };
        let row: Option<(String,)> = conn
            .fetch_optional(Sql::new(sql).bind(self.org_id).bind(member))
            .await?;
        Ok(row.is_some_and(|(status,)| status == "active"))
    }

    /// Creates a delegation (201): `from` and `to` active and different, the processes known, the times
    /// in order, and no overlap with another delegation of `from` (409 `delegation_overlap`).
    pub async fn create_delegation(
        &self,
        ctx: &WriteContext,
        new: NewDelegation,
    ) -> Result<ApprovalDelegation> {
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let mut problems = Vec::new();
        if !self.active_member(&mut conn, new.from, true).await? {
            problems.push(
                Reason::not_found("member", format!("no active member {}", new.from)).at("from"),
            );
        }
        if new.to == new.from {
            problems.push(FieldError::new(
                "to",
                DetailCode::NotAllowed,
                "a member cannot delegate to themself",
            ));
        } else if !self.active_member(&mut conn, new.to, false).await? {
            problems
                .push(Reason::not_found("member", format!("no active member {}", new.to)).at("to"));
        }
        if let Some(codes) = &new.processes {
            if codes.is_empty() {
                problems.push(FieldError::new(
                    "processes",
                    DetailCode::Empty,
                    "name at least one process, or leave processes out for every process",
                ));
            } else if codes.len() > DELEGATION_PROCESSES_MAX {
                problems.push(
                    Reason::too_many(
                        DELEGATION_PROCESSES_MAX,
                        format!("at most {DELEGATION_PROCESSES_MAX} processes"),
                    )
                    .at("processes"),
                );
            } else {
                let mut sql = SqlText::new(conn.backend());
                sql.push("SELECT code FROM processes WHERE organization_id = ")
                    .arg(self.org_id)
                    .push(" AND code IN ")
                    .list(codes.iter().map(String::as_str));
                let known: Vec<(String,)> = conn.fetch_all(sql.into_sql()).await?;
                for (i, code) in codes.iter().enumerate() {
                    if codes[..i].contains(code) {
                        problems.push(FieldError::new(
                            format!("processes[{i}]"),
                            DetailCode::Duplicate,
                            "the process is named twice",
                        ));
                    } else if !known.iter().any(|(known,)| known == code) {
                        problems.push(
                            Reason::not_found("process", format!("no process {code}"))
                                .at(format!("processes[{i}]")),
                        );
                    }
                }
            }
        }
        let starts_at = new.starts_at.unwrap_or(now);
        if let Some(ends_at) = new.ends_at {
            if ends_at <= starts_at {
                problems.push(
                    FieldError::new(
                        "ends_at",
                        DetailCode::BeforeOther,
                        "must be after starts_at",
                    )
                    .with("other", "starts_at"),
                );
            } else if ends_at <= now {
                problems.push(FieldError::new(
                    "ends_at",
                    DetailCode::NotInFuture,
                    "a delegation that ended already would never apply",
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Invalid(problems).into());
        }
        let created = ApprovalDelegation {
            id: Uuid::now_v7(),
            from: new.from,
            to: new.to,
            processes: new.processes,
            starts_at,
            ends_at: new.ends_at,
            created_at: now,
        };
        let rows: Vec<DelegationRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT id, from_member, to_member, processes, starts_at, ends_at, created_at \
                     FROM approval_delegations WHERE organization_id = $1 AND from_member = $2 \
                     ORDER BY created_at, id",
                )
                .bind(self.org_id)
                .bind(created.from),
            )
            .await?;
        for row in rows {
            let other = from_row(row)?;
            if other.rule().overlaps(&created.rule()) {
                return Err(StoreError::DelegationOverlap {
                    existing: other.id.to_string(),
                });
            }
        }
        conn.execute(
            Sql::new(
                "INSERT INTO approval_delegations (organization_id, id, from_member, to_member, processes, \
                 starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(self.org_id)
            .bind(created.id)
            .bind(created.from)
            .bind(created.to)
            .bind(created.processes.as_ref().map(|codes| json!(codes)))
            .bind(created.starts_at)
            .bind(created.ends_at)
            .bind(created.created_at),
        )
        .await?;
        self.audit_delegation(&mut conn, ctx, None, Some(&created))
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Deletes a delegation (it stops applying at once; tasks it already handed on stay with the
    /// delegate). `only_from`: the member whose delegation it must be (a caller without `admin`).
    pub async fn delete_delegation(
        &self,
        ctx: &WriteContext,
        id: Uuid,
        only_from: Option<MemberId>,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let existing = self
            .load_delegation(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("delegation"))?;
        if only_from.is_some_and(|member| member != existing.from) {
            return Err(StoreError::not_found("delegation"));
        }
        conn.execute(
            Sql::new("DELETE FROM approval_delegations WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id),
        )
        .await?;
        self.audit_delegation(&mut conn, ctx, Some(&existing), None)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_delegation(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        before: Option<&ApprovalDelegation>,
        after: Option<&ApprovalDelegation>,
    ) -> Result<()> {
        let Some(delegation) = after.or(before) else {
            return Ok(());
        };
        let (action, event_type) = if after.is_some() {
            ("created", "approval.delegation.created")
        } else {
            ("deleted", "approval.delegation.deleted")
        };
        let before = before.map(ApprovalDelegation::json);
        let after = after.map(ApprovalDelegation::json);
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::ApprovalDelegation,
                target_id: delegation.id.to_string(),
                action,
                before: before.clone(),
                after: after.clone(),
                ctx,
                events: vec![ExplicitEvent {
                    id: tenon_model::EventId::new(),
                    event_type,
                    subject: json!({
                        "delegation_id": delegation.id.to_string(),
                        "from": delegation.from.to_string(),
                        "to": delegation.to.to_string(),
                    }),
                    subject_key: format!("approval_delegation:{}", delegation.id),
                    app_id: None,
                    table_id: None,
                    data: json!({"before": before, "after": after}),
                }],
            },
        )
        .await
    }

    /// The delegations that may apply to a command now: begun, not ended, to an active member. The engine
    /// follows them ([`tenon_approvals::delegation::delegate_of`]).
    pub(crate) async fn active_delegations(
        &self,
        conn: &mut Conn<'_>,
    ) -> Result<Arc<[Delegation]>> {
        let rows: Vec<DelegationRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT d.id, d.from_member, d.to_member, d.processes, d.starts_at, d.ends_at, d.created_at \
                     FROM approval_delegations d JOIN members m \
                     ON m.organization_id = d.organization_id AND m.id = d.to_member \
                     WHERE d.organization_id = $1 AND d.starts_at <= $2 AND (d.ends_at IS NULL OR d.ends_at > $2) \
                     AND m.status = 'active' ORDER BY d.created_at, d.id",
                )
                .bind(self.org_id)
                .bind(self.store.now()),
            )
            .await?;
        rows.into_iter()
            .map(|row| from_row(row).map(|delegation| delegation.rule()))
            .collect()
    }
}
