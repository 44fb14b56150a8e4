//! What DingTalk-format events and login-free sign-in (issue #21 items 6 and 7a, migration
//! `0035_dingtalk_events`) keep beside the native tables: the userid an event names a member by (kept after
//! the member is deleted, `dingtalk_former_users`), and the
//! single-use grants of sign-in — `authCode`s (5 minutes) and refresh tokens — kept as digests, each bound
//! to one installation and one member; and where an app's sign-in may send members back (its registered
//! redirect URIs, migration `0041_client_redirect_uris`).

use chrono::{DateTime, Utc};
use tenon_model::{Action, DetailCode, InstallationId, MemberId, OAuthClient, OrgId, TargetKind};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::Sql;
use crate::{Result, Store, StoreError, Tenant, WriteContext};

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
    /// Replaces the redirect URIs of the app installed here as `id`, which this organization must have
    /// registered (else a conflict, nothing changes). The URIs arrive checked (no whitespace in any).
    /// Refuses (409, as [`Tenant::set_client_redirect_uris`] would) unless this organization registered
    /// the installed app: a check before a change that must not half-apply.
    pub async fn check_client_registered_here(&self, id: InstallationId) -> Result<()> {
        let installation = self.installation(id).await?;
        let here = self
            .store
            .find_client(&installation.client_id)
            .await?
            .is_some_and(|found| found.client.owner_org_id == self.org_id);
        if here {
            Ok(())
        } else {
            Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
                "only the organization that registered the app can change its redirect URIs",
            ))
        }
    }

    pub async fn set_client_redirect_uris(
        &self,
        ctx: &WriteContext,
        id: InstallationId,
        uris: &[String],
    ) -> Result<OAuthClient> {
        let installation = self.installation(id).await?;
        let Some(before) = self.store.find_client(&installation.client_id).await? else {
            return Err(StoreError::not_found("installation"));
        };
        let before = before.client;
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                Sql::new(
                    "UPDATE oauth_clients SET redirect_uris = $3, updated_at = $4 \
                     WHERE id = $1 AND owner_organization_id = $2",
                )
                .bind(installation.client_app_id)
                .bind(self.org_id)
                .bind(uris.join(" "))
                .bind(self.store.now()),
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::conflict(
                None,
                DetailCode::Conflict,
                "only the organization that registered the app can change its redirect URIs",
            ));
        }
        let snapshot = |uris: &[String]| {
            let mut value = audit::installation_snapshot(&installation);
            value["redirect_uris"] = serde_json::json!(uris);
            value
        };
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Installation,
                target_id: id.to_string(),
                action: Action::Updated,
                before: Some(snapshot(&before.redirect_uris)),
                after: Some(snapshot(uris)),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(OAuthClient {
            redirect_uris: uris.to_vec(),
            ..before
        })
    }

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
