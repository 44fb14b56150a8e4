//! Signed per-record links (`…/records/{id}/share`): one record's chosen fields opened to someone without
//! an account, read-only or in an edit form, until the link expires or is revoked.
//!
//! Only the SHA-256 digest of a link's token is stored (the token arrives here digested, like API tokens);
//! a link is found by its digest alone, so the token is its only credential. Making, revoking and every use
//! of a link are audited (`share.created`, `share.revoked`, `share.used`). What a link may show is decided
//! by the server (the record's permissions); this module only keeps links.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::{FieldId, MemberId, OrgId, RecordId, ShareId, TableId, TargetKind};
use uuid::Uuid;

use crate::audit::{self, NamedChange};
use crate::exec::{Conn, Sql};
use crate::rows::corrupt;
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// Links one record may have that are not revoked: a bound on what one record accumulates.
pub const SHARES_PER_RECORD_MAX: usize = 100;

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareMode {
    Read,
    Edit,
}

impl ShareMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ShareMode::Read => "read",
            ShareMode::Edit => "edit",
        }
    }

    pub fn parse(raw: &str) -> Option<ShareMode> {
        match raw {
            "read" => Some(ShareMode::Read),
            "edit" => Some(ShareMode::Edit),
            _ => None,
        }
    }
}

/// A link to store (its fields already checked against the table and the maker's access).
#[derive(Debug, Clone)]
pub struct NewShare {
    pub table_id: TableId,
    pub record_id: RecordId,
    pub mode: ShareMode,
    pub fields: Vec<FieldId>,
    pub created_by: Option<MemberId>,
    pub expires_at: DateTime<Utc>,
    pub digest: [u8; 32],
}

/// A stored link.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub id: ShareId,
    pub org_id: OrgId,
    pub table_id: TableId,
    pub record_id: RecordId,
    pub mode: ShareMode,
    pub fields: Vec<FieldId>,
    /// The member who made it: the link never shows more than this member may still see.
    pub created_by: Option<MemberId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub uses: i64,
}

impl Share {
    /// Why the link no longer opens at `now` (`revoked` or `expired`), if it does not.
    pub fn gone_at(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked")
        } else if self.expires_at <= now {
            Some("expired")
        } else {
            None
        }
    }

    /// The audit snapshot (never the digest).
    fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "table_id": self.table_id.to_string(),
            "record_id": self.record_id.to_string(),
            "mode": self.mode.as_str(),
            "fields": self.fields.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "created_by": self.created_by.map(|id| id.to_string()),
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ShareRow {
    organization_id: Uuid,
    id: Uuid,
    table_id: Uuid,
    record_id: Uuid,
    mode: String,
    fields: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    uses: i64,
}

impl ShareRow {
    fn into_model(self) -> Result<Share> {
        let mode = ShareMode::parse(&self.mode).ok_or_else(|| corrupt("share mode", &self.mode))?;
        let ids: Vec<String> = serde_json::from_str(&self.fields)
            .map_err(|_| corrupt("share fields", &self.fields))?;
        let fields = ids
            .iter()
            .map(|raw| raw.parse::<FieldId>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| corrupt("share fields", &self.fields))?;
        Ok(Share {
            id: ShareId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.organization_id),
            table_id: TableId::from_uuid(self.table_id),
            record_id: RecordId::from_uuid(self.record_id),
            mode,
            fields,
            created_by: self.created_by.map(MemberId::from_uuid),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            uses: self.uses,
        })
    }
}

macro_rules! share_columns {
    () => {
        "organization_id, id, table_id, record_id, mode, fields, created_by, created_at, expires_at, \
         revoked_at, last_used_at, uses"
    };
}

impl Store {
    /// The link whose token has this digest, in whichever organization (`None`: no such link).
    pub async fn share_by_digest(&self, digest: &[u8; 32]) -> Result<Option<Share>> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(concat!(
            "SELECT ",
            share_columns!(),
            " FROM record_shares WHERE digest = $1"
        ))
        .bind(digest.as_slice());
        let row: Option<ShareRow> = pooled.conn().fetch_optional(sql).await?;
        row.map(ShareRow::into_model).transpose()
    }
}

impl Tenant<'_> {
    /// The links of a record, newest first (revoked ones included).
    pub async fn shares_of(&self, record: RecordId) -> Result<Vec<Share>> {
        let mut pooled = self.store.pools.read().await?;
        self.load_shares(&mut pooled.conn(), record).await
    }

    async fn load_shares(&self, conn: &mut Conn<'_>, record: RecordId) -> Result<Vec<Share>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            share_columns!(),
            " FROM record_shares WHERE organization_id = $1 AND record_id = $2 ORDER BY id DESC"
        ))
        .bind(self.org_id)
        .bind(record);
        let rows: Vec<ShareRow> = conn.fetch_all(sql).await?;
        rows.into_iter().map(ShareRow::into_model).collect()
    }

    /// Stores a link (audited `share.created`); 409 when the record has [`SHARES_PER_RECORD_MAX`] live links.
    pub async fn create_share(&self, ctx: &WriteContext, new: NewShare) -> Result<Share> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let now = self.store.now();
        let live = self
            .load_shares(&mut conn, new.record_id)
            .await?
            .iter()
            .filter(|share| share.gone_at(now).is_none())
            .count();
        if live >= SHARES_PER_RECORD_MAX {
            return Err(StoreError::conflict_at(
                "record",
                tenon_model::Reason::too_many(
                    SHARES_PER_RECORD_MAX,
                    format!(
                        "a record has at most {SHARES_PER_RECORD_MAX} live links; revoke one first"
                    ),
                ),
            ));
        }
        let share = Share {
            id: ShareId::new(),
            org_id: self.org_id,
            table_id: new.table_id,
            record_id: new.record_id,
            mode: new.mode,
            fields: new.fields,
            created_by: new.created_by,
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
            uses: 0,
        };
        let fields = Value::from(
            share
                .fields
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .to_string();
        conn.execute(
            Sql::new(
                "INSERT INTO record_shares (organization_id, id, table_id, record_id, digest, mode, fields, \
                 created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(self.org_id)
            .bind(share.id)
            .bind(share.table_id)
            .bind(share.record_id)
            .bind(new.digest.as_slice())
            .bind(share.mode.as_str())
            .bind(fields)
            .bind(share.created_by)
            .bind(now)
            .bind(share.expires_at),
        )
        .await?;
        self.audit_share(
            &mut conn,
            ctx,
            &share,
            "created",
            None,
            Some(share.snapshot()),
        )
        .await?;
        tx.commit().await?;
        Ok(share)
    }

    /// Revokes a link of `record` (audited `share.revoked`); revoking a revoked link changes nothing.
    /// 404 when the record has no such link.
    pub async fn revoke_share(
        &self,
        ctx: &WriteContext,
        record: RecordId,
        id: ShareId,
    ) -> Result<Share> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_shares(&mut conn, record)
            .await?
            .into_iter()
            .find(|share| share.id == id)
            .ok_or_else(|| StoreError::not_found("share"))?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE record_shares SET revoked_at = $3 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(now),
        )
        .await?;
        let after = Share {
            revoked_at: Some(now),
            ..before.clone()
        };
        self.audit_share(
            &mut conn,
            ctx,
            &after,
            "revoked",
            Some(before.snapshot()),
            Some(after.snapshot()),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Records one use of a link (`share.used`, with `what` — `read`, `edited` — and the written fields'
    /// ids when it was an edit) and counts it on the link.
    pub async fn share_used(
        &self,
        ctx: &WriteContext,
        share: &Share,
        what: &str,
        written: &[FieldId],
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new(
                "UPDATE record_shares SET uses = uses + 1, last_used_at = $3 \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(share.id)
            .bind(self.store.now()),
        )
        .await?;
        let mut after = share.snapshot();
        if let Value::Object(map) = &mut after {
            map.insert("use".to_owned(), Value::from(what));
            if !written.is_empty() {
                map.insert(
                    "written".to_owned(),
                    Value::from(written.iter().map(ToString::to_string).collect::<Vec<_>>()),
                );
            }
        }
        self.audit_share(&mut conn, ctx, share, "used", None, Some(after))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_share(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        share: &Share,
        action: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<()> {
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::Share,
                target_id: share.id.to_string(),
                action,
                before,
                after,
                ctx,
                events: Vec::new(),
            },
        )
        .await
    }
}
