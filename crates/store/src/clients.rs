//! What only the organization that registered a third-party app may change of it: its client secret and
//! where its DingTalk-style sign-in may send members back (its redirect URIs, migration
//! `0041_client_redirect_uris`). Both go through one statement that refuses (409, nothing changed) an
//! organization that only installed the app, and leave one audit entry on the installation.

use serde_json::{Value, json};
use tenon_model::{Action, DetailCode, Installation, InstallationId, OAuthClient};

use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};

/// A change of a registered app.
enum ClientChange<'a> {
    /// A new client secret (its digest); the old one stops working.
    Secret(&'a [u8; 32]),
    /// The redirect URIs, replaced (`before` is for the audit entry).
    RedirectUris {
        before: &'a [String],
        after: &'a [String],
    },
}

impl Tenant<'_> {
    /// Replaces the client secret of an app this organization registered; the old secret stops working.
    pub async fn rotate_client_secret(
        &self,
        ctx: &WriteContext,
        id: InstallationId,
        secret_digest: &[u8; 32],
    ) -> Result<Installation> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let installation = self
            .load_installation(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("installation"))?;
        self.change_registered_client(
            &mut conn,
            ctx,
            &installation,
            ClientChange::Secret(secret_digest),
        )
        .await?;
        // Stream tickets opened with the old secret open nothing any more.
        conn.execute(
            Sql::new("DELETE FROM stream_tickets WHERE client_app_id = $1")
                .bind(installation.client_app_id),
        )
        .await?;
        tx.commit().await?;
        Ok(installation)
    }

    /// Refuses (409, as [`Tenant::set_client_redirect_uris`] would) unless this organization registered
    /// the app installed here as `id`: a check before a change that must not half-apply.
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
            Err(refused(&ClientChange::RedirectUris {
                before: &[],
                after: &[],
            }))
        }
    }

    /// Replaces the redirect URIs of the app installed here as `id`, which this organization must have
    /// registered (else a conflict, nothing changes). The URIs arrive checked (no whitespace in any).
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
        self.change_registered_client(
            &mut conn,
            ctx,
            &installation,
            ClientChange::RedirectUris {
                before: &before.redirect_uris,
                after: uris,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(OAuthClient {
            redirect_uris: uris.to_vec(),
            ..before
        })
    }

    /// Changes the app installed here as `installation` if this organization registered it (else a
    /// conflict), and audits the change on the installation.
    async fn change_registered_client(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        installation: &Installation,
        change: ClientChange<'_>,
    ) -> Result<()> {
        let (secret_digest, redirect_uris) = match &change {
            ClientChange::Secret(digest) => (Some(digest.to_vec()), None),
            ClientChange::RedirectUris { after, .. } => (None, Some(after.join(" "))),
        };
        let changed = conn
            .execute(
                Sql::new(
                    "UPDATE oauth_clients SET secret_digest = COALESCE($3, secret_digest), \
                     redirect_uris = COALESCE($4, redirect_uris), updated_at = $5 \
                     WHERE id = $1 AND owner_organization_id = $2",
                )
                .bind(installation.client_app_id)
                .bind(self.org_id)
                .bind(secret_digest)
                .bind(redirect_uris)
                .bind(self.store.now()),
            )
            .await?;
        if changed == 0 {
            return Err(refused(&change));
        }
        let snapshot = |uris: Option<&[String]>| -> Value {
            let mut value = crate::audit::installation_snapshot(installation);
            if let Some(uris) = uris {
                value["redirect_uris"] = json!(uris);
            }
            value
        };
        let (action, before, after) = match change {
            ClientChange::Secret(_) => (Action::SecretChanged, None, None),
            ClientChange::RedirectUris { before, after } => {
                (Action::Updated, Some(before), Some(after))
            }
        };
        self.audit_installation_change(
            conn,
            ctx,
            action,
            installation.id,
            Some(snapshot(before)),
            Some(snapshot(after)),
        )
        .await
    }
}

/// The refusal of a change by an organization that did not register the app.
fn refused(change: &ClientChange<'_>) -> StoreError {
    let message = match change {
        ClientChange::Secret(_) => {
            "only the organization that registered the app can rotate its client secret"
        }
        ClientChange::RedirectUris { .. } => {
            "only the organization that registered the app can change its redirect URIs"
        }
    };
    StoreError::conflict(None, DetailCode::Conflict, message)
}
