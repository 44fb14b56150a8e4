//! Credentials: personal API tokens, third-party apps (OAuth2 clients), their installations per
//! organization, and the access tokens issued to installed apps.
//!
//! Secrets arrive here already digested (SHA-256); this crate never sees a plaintext token.

use chrono::{DateTime, TimeDelta, Utc};
use tenon_model::{
    Action, ApiToken, ClientAppId, DetailCode, Installation, InstallationId, MemberId,
    MemberStatus, Name, OAuthClient, Page, PageRequest, RateLimit, Reason, ScopeSet, TargetKind,
    TokenId, TokenKind,
};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::error::unique_violation;
use crate::exec::{Conn, Sql};
use crate::rows::{
    self, ClientRow, InstallationRow, TokenRow, client_columns, installation_columns, token_columns,
};
use crate::sql::SqlText;
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// `last_used_at` is refreshed at most this often, so authentication stays a read on the hot path.
pub const TOKEN_TOUCH_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// A personal (or organization) token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: Name,
    /// The member the token acts for; `None` makes an organization token (the CLI's).
    pub member_id: Option<MemberId>,
    pub scopes: ScopeSet,
    pub rate_limit: Option<RateLimit>,
    pub expires_at: Option<DateTime<Utc>>,
    pub digest: [u8; 32],
}

/// A third-party app to register in (and install into) the registering organization.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    pub name: Name,
    pub client_id: String,
    pub secret_digest: [u8; 32],
    pub scopes: ScopeSet,
    pub rate_limit: Option<RateLimit>,
    /// Where the app's sign-in may send members back (`/oauth2/authorize`), checked by the caller.
    pub redirect_uris: Vec<String>,
}

/// An already registered app to install in an organization.
#[derive(Debug, Clone)]
pub struct NewInstallation {
    pub client_id: String,
    pub scopes: ScopeSet,
    pub rate_limit: Option<RateLimit>,
}

/// A client as the token endpoint needs it: the app and the digest of its secret.
#[derive(Debug, Clone)]
pub struct OAuthClientSecretCheck {
    pub client: OAuthClient,
    pub secret_digest: [u8; 32],
}

pub use tenon_model::credentials::{AuthenticatedToken, TokenMember};

#[derive(sqlx::FromRow)]
struct AuthRow {
    #[sqlx(flatten)]
    token: TokenRow,
    member_name: Option<String>,
    member_role: Option<String>,
    member_status: Option<String>,
    installation_client_app_id: Option<Uuid>,
    installation_scopes: Option<String>,
    installation_rate_limit: Option<String>,
    installation_event_format: Option<String>,
    installation_created_at: Option<DateTime<Utc>>,
    installation_updated_at: Option<DateTime<Utc>>,
    client_id: Option<String>,
    app_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    #[sqlx(flatten)]
    client: ClientRow,
    secret_digest: Vec<u8>,
}

impl Store {
    /// Looks a bearer token up by its digest, across organizations: the token decides the tenant.
    pub async fn authenticate_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<AuthenticatedToken>> {
        if self.caches.fresh()
            && let Some(found) = self.caches.auth.get(digest)
        {
            return Ok(Some(found));
        }
        let generation = self.caches.auth.generation();
        let found = self.load_authenticated_token(digest).await?;
        if let Some(found) = &found {
            self.caches.auth.insert(*digest, found.clone(), generation);
        }
        Ok(found)
    }

    async fn load_authenticated_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<AuthenticatedToken>> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(
            "SELECT t.organization_id, t.id, t.kind, t.name, t.member_id, t.installation_id, t.scopes, \
               t.rate_limit, t.expires_at, t.last_used_at, t.revoked_at, t.created_at, \
               m.name AS member_name, m.role AS member_role, m.status AS member_status, \
               i.client_app_id AS installation_client_app_id, i.scopes AS installation_scopes, \
               i.rate_limit AS installation_rate_limit, i.event_format AS installation_event_format, \
               i.created_at AS installation_created_at, \
               i.updated_at AS installation_updated_at, c.client_id, c.name AS app_name \
             FROM api_tokens t \
             LEFT JOIN members m ON m.organization_id = t.organization_id AND m.id = t.member_id \
             LEFT JOIN installations i ON i.organization_id = t.organization_id AND i.id = t.installation_id \
             LEFT JOIN oauth_clients c ON c.id = i.client_app_id \
             WHERE t.digest = $1",
        )
        .bind(digest.as_slice());
        let Some(row) = pooled.conn().fetch_optional::<AuthRow>(sql).await? else {
            return Ok(None);
        };
        let token = row.token.into_model()?;
        let member = match (
            token.member_id,
            row.member_name,
            row.member_role,
            row.member_status,
        ) {
            (Some(id), Some(name), Some(role), Some(status)) => Some(TokenMember {
                id,
                name,
                role: role.parse().map_err(|()| rows::corrupt("role", &role))?,
                status: MemberStatus::parse(&status)
                    .ok_or_else(|| rows::corrupt("status", &status))?,
            }),
            _ => None,
        };
        let installation = match (
            token.installation_id,
            row.installation_client_app_id,
            row.installation_scopes,
            row.client_id,
            row.app_name,
            row.installation_created_at,
            row.installation_updated_at,
        ) {
            (
                Some(id),
                Some(client_app_id),
                Some(scopes),
                Some(client_id),
                Some(app_name),
                Some(created_at),
                Some(updated_at),
            ) => Some(Installation {
                id,
                org_id: token.org_id,
                client_app_id: ClientAppId::from_uuid(client_app_id),
                client_id,
                app_name: rows::name(app_name)?,
                scopes: rows::scopes(&scopes)?,
                rate_limit: rows::rate_limit(row.installation_rate_limit)?,
                event_format: rows::event_format(row.installation_event_format.as_deref())?,
                created_at,
                updated_at,
            }),
            _ => None,
        };
        Ok(Some(AuthenticatedToken {
            token,
            member,
            installation,
        }))
    }

    /// Records that a token was used at `now`, unless that was recorded less than a minute ago.
    pub async fn touch_token(&self, token: &ApiToken, now: DateTime<Utc>) -> Result<()> {
        if token
            .last_used_at
            .is_some_and(|last| now - last < TOKEN_TOUCH_INTERVAL)
        {
            return Ok(());
        }
        let mut tx = self.begin_tx().await?;
        tx.conn()
            .execute(
                Sql::new("UPDATE api_tokens SET last_used_at = $3 WHERE organization_id = $1 AND id = $2")
                    .bind(token.org_id)
                    .bind(token.id)
                    .bind(now),
            )
            .await?;
        tx.commit().await?;
        // The cached copy still has the old last use; the next request reads the new one.
        self.caches
            .auth
            .remove_where(|found| found.token.id == token.id && found.token.org_id == token.org_id);
        Ok(())
    }

    /// The app registered under a public client id, with its secret's digest.
    pub async fn find_client(&self, client_id: &str) -> Result<Option<OAuthClientSecretCheck>> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(concat!(
            "SELECT ",
            client_columns!(),
            ", secret_digest FROM oauth_clients WHERE client_id = $1"
        ))
        .bind(client_id);
        let Some(row) = pooled.conn().fetch_optional::<SecretRow>(sql).await? else {
            return Ok(None);
        };
        let secret_digest: [u8; 32] =
            row.secret_digest.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt("client secret digest is not 32 bytes".to_owned())
            })?;
        Ok(Some(OAuthClientSecretCheck {
            client: row.client.into_model()?,
            secret_digest,
        }))
    }

    /// Every organization an app is installed in.
    pub async fn installations_of_client(
        &self,
        client_app_id: ClientAppId,
    ) -> Result<Vec<Installation>> {
        let mut pooled = self.pools.read().await?;
        let sql = Sql::new(concat!(
            "SELECT ",
            installation_columns!(),
            " FROM installations i JOIN oauth_clients c ON c.id = i.client_app_id WHERE i.client_app_id = $1 ORDER BY i.id"
        ))
        .bind(client_app_id);
        let rows: Vec<InstallationRow> = pooled.conn().fetch_all(sql).await?;
        rows.into_iter().map(InstallationRow::into_model).collect()
    }
}

impl Tenant<'_> {
    pub async fn create_token(&self, ctx: &WriteContext, new: NewToken) -> Result<ApiToken> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        if let Some(member_id) = new.member_id {
            self.load_member(&mut conn, member_id)
                .await?
                .ok_or_else(|| {
                    StoreError::Invalid(
                        Reason::not_found("member", "no member with this id in the organization")
                            .at("member_id")
                            .into(),
                    )
                })?;
        }
        let token = ApiToken {
            id: TokenId::new(),
            org_id: self.org_id,
            kind: TokenKind::Personal,
            name: new.name,
            member_id: new.member_id,
            installation_id: None,
            scopes: new.scopes,
            rate_limit: new.rate_limit,
            expires_at: new.expires_at,
            last_used_at: None,
            revoked_at: None,
            created_at: self.store.now(),
        };
        self.insert_token(&mut conn, &token, &new.digest).await?;
        self.audit_token(&mut conn, ctx, Action::Created, None, Some(&token))
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Issues a short-lived access token to an installed app (the OAuth2 client-credentials grant).
    pub async fn issue_access_token(
        &self,
        ctx: &WriteContext,
        installation: &Installation,
        scopes: ScopeSet,
        digest: &[u8; 32],
        expires_at: DateTime<Utc>,
    ) -> Result<ApiToken> {
        let token = ApiToken {
            id: TokenId::new(),
            org_id: self.org_id,
            kind: TokenKind::AppAccess,
            name: installation.app_name.clone(),
            member_id: None,
            installation_id: Some(installation.id),
            scopes,
            rate_limit: None,
            expires_at: Some(expires_at),
            last_used_at: None,
            revoked_at: None,
            created_at: self.store.now(),
        };
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        self.insert_token(&mut conn, &token, digest)
            .await
            .map_err(|error| match error {
                // The installation was removed between the client check and now.
                StoreError::Database(ref db) if crate::error::is_foreign_key_violation(db) => {
                    StoreError::not_found("installation")
                }
                other => other,
            })?;
        self.audit_token(&mut conn, ctx, Action::Created, None, Some(&token))
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Personal and organization tokens (not app access tokens), oldest first.
    /// The organization's personal and organization tokens, or only `member`'s personal ones.
    pub async fn list_tokens(
        &self,
        page: PageRequest<TokenId>,
        member: Option<MemberId>,
    ) -> Result<Page<ApiToken, TokenId>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let mut sql = SqlText::new(conn.backend()).kept();
        sql.push(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE organization_id = "
        ))
        .arg(self.org_id)
        .push(" AND kind = ")
        .arg(TokenKind::Personal.as_str());
        if let Some(member) = member {
            sql.push(" AND member_id = ").arg(member);
        }
        if let Some(after) = page.after {
            sql.push(" AND id > ").arg(after);
        }
        sql.push(" ORDER BY id ASC")
            .limit(u64::from(page.size()) + 1);
        let rows: Vec<TokenRow> = conn.fetch_all(sql.into_sql()).await?;
        let tokens = rows
            .into_iter()
            .map(TokenRow::into_model)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(
            tokens,
            page.size(),
            |token: &ApiToken| token.id,
        ))
    }

    pub async fn token(&self, id: TokenId) -> Result<ApiToken> {
        let mut pooled = self.store.pools.read().await?;
        self.load_token(&mut pooled.conn(), id)
            .await?
            .ok_or_else(|| StoreError::not_found("token"))
    }

    /// Revokes a token at once. Revoking twice is allowed and keeps the first revocation time.
    pub async fn revoke_token(&self, ctx: &WriteContext, id: TokenId) -> Result<ApiToken> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_token(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("token"))?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let now = self.store.now();
        conn.execute(
            Sql::new(
                "UPDATE api_tokens SET revoked_at = $3 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(now),
        )
        .await?;
        let after = ApiToken {
            revoked_at: Some(now),
            ..before.clone()
        };
        self.audit_token(&mut conn, ctx, Action::Revoked, Some(&before), Some(&after))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Registers a third-party app owned by this organization and installs it here, in one transaction.
    pub async fn register_client(
        &self,
        ctx: &WriteContext,
        registration: ClientRegistration,
    ) -> Result<(OAuthClient, Installation)> {
        let now = self.store.now();
        let client = OAuthClient {
            id: ClientAppId::new(),
            client_id: registration.client_id,
            name: registration.name,
            owner_org_id: self.org_id,
            redirect_uris: registration.redirect_uris,
            created_at: now,
        };
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new(
                "INSERT INTO oauth_clients (id, client_id, secret_digest, name, owner_organization_id, created_at, updated_at, redirect_uris) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
            )
            .bind(client.id)
            .bind(client.client_id.as_str())
            .bind(registration.secret_digest.as_slice())
            .bind(client.name.as_str())
            .bind(self.org_id)
            .bind(now)
            .bind(client.redirect_uris.join(" ")),
        )
        .await?;
        let installation = self
            .insert_installation(
                &mut conn,
                ctx,
                &client,
                registration.scopes,
                registration.rate_limit,
            )
            .await?;
        tx.commit().await?;
        Ok((client, installation))
    }

    /// Installs an app registered by any organization into this one.
    pub async fn install(&self, ctx: &WriteContext, new: NewInstallation) -> Result<Installation> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let sql = Sql::new(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE client_id = $1"
        ))
        .bind(new.client_id.as_str());
        let client = conn
            .fetch_optional::<ClientRow>(sql)
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(
                    Reason::not_found("client", "no app is registered with this client id")
                        .at("client_id")
                        .into(),
                )
            })?
            .into_model()?;
        let installation = self
            .insert_installation(&mut conn, ctx, &client, new.scopes, new.rate_limit)
            .await?;
        tx.commit().await?;
        Ok(installation)
    }

    pub async fn list_installations(
        &self,
        page: PageRequest<InstallationId>,
    ) -> Result<Page<Installation, InstallationId>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            installation_columns!(),
            " FROM installations i JOIN oauth_clients c ON c.id = i.client_app_id \
              WHERE i.organization_id = $1 AND ($2 IS NULL OR i.id > $2) ORDER BY i.id LIMIT $3"
        ))
        .bind(self.org_id)
        .bind(page.after)
        .bind(i64::from(page.size()) + 1);
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<InstallationRow> = pooled.conn().fetch_all(sql).await?;
        let installations = rows
            .into_iter()
            .map(InstallationRow::into_model)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(
            installations,
            page.size(),
            |installation: &Installation| installation.id,
        ))
    }

    pub async fn installation(&self, id: InstallationId) -> Result<Installation> {
        let mut pooled = self.store.pools.read().await?;
        self.load_installation(&mut pooled.conn(), id)
            .await?
            .ok_or_else(|| StoreError::not_found("installation"))
    }

    /// Changes what an installed app may do. Narrowed scopes apply at once to its live access tokens.
    pub async fn update_installation(
        &self,
        ctx: &WriteContext,
        id: InstallationId,
        scopes: Option<ScopeSet>,
        rate_limit: Option<Option<RateLimit>>,
        event_format: Option<tenon_model::EventFormat>,
    ) -> Result<Installation> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_installation(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("installation"))?;
        let after = Installation {
            scopes: scopes.unwrap_or(before.scopes),
            rate_limit: rate_limit.unwrap_or(before.rate_limit),
            event_format: event_format.unwrap_or(before.event_format),
            updated_at: self.store.now(),
            ..before.clone()
        };
        conn.execute(
            Sql::new(
                "UPDATE installations SET scopes = $3, rate_limit = $4, event_format = $5, \
                 updated_at = $6 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(after.scopes.to_space_separated())
            .bind(after.rate_limit.map(|limit| limit.to_string()))
            .bind(after.event_format.as_str())
            .bind(after.updated_at),
        )
        .await?;
        self.audit_installation(&mut conn, ctx, Action::Updated, Some(&before), Some(&after))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes an app from this organization; its access tokens here stop working at once.
    pub async fn uninstall(&self, ctx: &WriteContext, id: InstallationId) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = self
            .load_installation(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("installation"))?;
        conn.execute(
            Sql::new("DELETE FROM installations WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id),
        )
        .await?;
        self.audit_installation(&mut conn, ctx, Action::Deleted, Some(&before), None)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_token(
        &self,
        conn: &mut Conn<'_>,
        token: &ApiToken,
        digest: &[u8; 32],
    ) -> Result<()> {
        conn.execute(
            Sql::new(
                "INSERT INTO api_tokens (organization_id, id, digest, kind, name, member_id, installation_id, scopes, \
                 rate_limit, expires_at, last_used_at, revoked_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, $11)",
            )
            .bind(self.org_id)
            .bind(token.id)
            .bind(digest.as_slice())
            .bind(token.kind.as_str())
            .bind(token.name.as_str())
            .bind(token.member_id)
            .bind(token.installation_id)
            .bind(token.scopes.to_space_separated())
            .bind(token.rate_limit.map(|limit| limit.to_string()))
            .bind(token.expires_at)
            .bind(token.created_at),
        )
        .await?;
        Ok(())
    }

    async fn load_token(&self, conn: &mut Conn<'_>, id: TokenId) -> Result<Option<ApiToken>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE organization_id = $1 AND id = $2"
        ))
        .bind(self.org_id)
        .bind(id);
        conn.fetch_optional::<TokenRow>(sql)
            .await?
            .map(TokenRow::into_model)
            .transpose()
    }

    pub(crate) async fn load_installation(
        &self,
        conn: &mut Conn<'_>,
        id: InstallationId,
    ) -> Result<Option<Installation>> {
        let sql = Sql::new(concat!(
            "SELECT ",
            installation_columns!(),
            " FROM installations i JOIN oauth_clients c ON c.id = i.client_app_id \
              WHERE i.organization_id = $1 AND i.id = $2"
        ))
        .bind(self.org_id)
        .bind(id);
        conn.fetch_optional::<InstallationRow>(sql)
            .await?
            .map(InstallationRow::into_model)
            .transpose()
    }

    async fn insert_installation(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        client: &OAuthClient,
        scopes: ScopeSet,
        rate_limit: Option<RateLimit>,
    ) -> Result<Installation> {
        let now = self.store.now();
        let installation = Installation {
            id: InstallationId::new(),
            org_id: self.org_id,
            client_app_id: client.id,
            client_id: client.client_id.clone(),
            app_name: client.name.clone(),
            scopes,
            rate_limit,
            event_format: tenon_model::EventFormat::Native,
            created_at: now,
            updated_at: now,
        };
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO installations (organization_id, id, client_app_id, scopes, rate_limit, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(self.org_id)
                .bind(installation.id)
                .bind(client.id)
                .bind(scopes.to_space_separated())
                .bind(rate_limit.map(|limit| limit.to_string()))
                .bind(now),
            )
            .await;
        if let Err(error) = inserted {
            return Err(match unique_violation(&error) {
                Some(_) => StoreError::conflict(
                    Some("client_id"),
                    DetailCode::NotUnique,
                    "the app is already installed in this organization",
                ),
                None => error.into(),
            });
        }
        self.audit_installation(conn, ctx, Action::Created, None, Some(&installation))
            .await?;
        Ok(installation)
    }

    async fn audit_token(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&ApiToken>,
        after: Option<&ApiToken>,
    ) -> Result<()> {
        let id = after
            .or(before)
            .map(|token| token.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Token,
                target_id: id,
                action,
                before: before.map(audit::token_snapshot),
                after: after.map(audit::token_snapshot),
                ctx,
            },
        )
        .await
    }

    async fn audit_installation(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&Installation>,
        after: Option<&Installation>,
    ) -> Result<()> {
        let Some(id) = after.or(before).map(|installation| installation.id) else {
            return Ok(());
        };
        self.audit_installation_change(
            conn,
            ctx,
            action,
            id,
            before.map(audit::installation_snapshot),
            after.map(audit::installation_snapshot),
        )
        .await
    }

    /// Audits a change of installation `id` with its snapshots before and after.
    pub(crate) async fn audit_installation_change(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        id: InstallationId,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<()> {
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Installation,
                target_id: id.to_string(),
                action,
                before,
                after,
                ctx,
            },
        )
        .await
    }
}
