//! What DingTalk-format events and login-free sign-in (issue #21 items 6 and 7a, migration
//! `0035_dingtalk_events`) keep beside the native tables: the userid an event names a member by (kept after
//! the member is deleted, `dingtalk_former_users`), and the
//! single-use grants of sign-in — `authCode`s (5 minutes) and refresh tokens — kept as digests, each bound
//! to one installation and one member. Where an app's sign-in may send members back (its registered
//! redirect URIs) is set in `clients`.

use chrono::{DateTime, Utc};
use tenon_model::{InstallationId, MemberId, OrgId};
use uuid::Uuid;

use crate::exec::Sql;
use crate::{Result, Store, Tenant};

/// What a sign-in grant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DingTalkGrantKind {
    /// An `authCode` from `/oauth2/authorize`.
    Code,
    /// A user access token's `refreshToken`.
    Refresh,
}

impl DingTalkGrantKind {
    const fn as_str(self) -> &'static str {
        match self {
            DingTalkGrantKind::Code => "code",
            DingTalkGrantKind::Refresh => "refresh",
        }
    }
}

/// A grant taken: who signed in, for which installed app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DingTalkGrant {
    pub org_id: OrgId,
    pub installation_id: InstallationId,
    pub member_id: MemberId,
}

impl Tenant<'_> {
    /// The userid DingTalk names a member by: the one chosen for it (`dingtalk_users`, or for a deleted
    /// member `dingtalk_former_users`), else its member id.
    pub async fn dingtalk_userid_of(&self, member_id: MemberId) -> Result<String> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(String,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT userid FROM dingtalk_users WHERE organization_id = $1 AND member_id = $2 \
                     UNION ALL SELECT userid FROM dingtalk_former_users \
                     WHERE organization_id = $1 AND member_id = $2",
                )
                .bind(self.org_id)
                .bind(member_id),
            )
            .await?;
        Ok(row.map_or_else(|| member_id.to_string(), |(userid,)| userid))
    }

    /// Keeps a grant's digest until `expires_at`.
    pub async fn create_dingtalk_grant(
        &self,
        kind: DingTalkGrantKind,
        digest: &[u8; 32],
        installation_id: InstallationId,
        member_id: MemberId,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        tx.conn()
            .execute(
                Sql::new(
                    "INSERT INTO dingtalk_grants (digest, organization_id, kind, installation_id, \
                     member_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(digest.as_slice())
                .bind(self.org_id)
                .bind(kind.as_str())
                .bind(installation_id)
                .bind(member_id)
                .bind(expires_at)
                .bind(self.store.now()),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Takes a grant: it is deleted whatever follows (single use), and returned if it was of this kind
    /// and had not expired. Expired grants of every organization are deleted on the way.
    pub async fn take_dingtalk_grant(
        &self,
        kind: DingTalkGrantKind,
        digest: &[u8; 32],
    ) -> Result<Option<DingTalkGrant>> {
        let now = self.now();
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let row: Option<(Uuid, String, Uuid, Uuid, DateTime<Utc>)> = conn
            .fetch_optional(
                Sql::new(
                    "DELETE FROM dingtalk_grants WHERE digest = $1 \
                     RETURNING organization_id, kind, installation_id, member_id, expires_at",
                )
                .bind(digest.as_slice()),
            )
            .await?;
        conn.execute(Sql::new("DELETE FROM dingtalk_grants WHERE expires_at <= $1").bind(now))
            .await?;
        tx.commit().await?;
        Ok(
            row.and_then(|(org, stored_kind, installation, member, expires_at)| {
                (stored_kind == kind.as_str() && expires_at > now).then(|| DingTalkGrant {
                    org_id: OrgId::from_uuid(org),
                    installation_id: InstallationId::from_uuid(installation),
                    member_id: MemberId::from_uuid(member),
                })
            }),
        )
    }
}
