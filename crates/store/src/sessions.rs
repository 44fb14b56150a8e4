//! Human login: password checks' inputs, failure throttling, sessions, password changes.

use chrono::{DateTime, TimeDelta, Utc};
use tenon_model::{Action, Email, MemberId, MemberStatus, OrgId, Role, SessionId, TargetKind};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::Sql;
use crate::rows;
use crate::{Result, Store, StoreError, Tenant, WriteContext};

/// A session's expiry is pushed forward at most this often, so an active browser does not write on every
/// request.
pub const SESSION_TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(5);

/// A member who could be logging in with an e-mail address (one per organization that has the address).
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub org_id: OrgId,
    pub org_name: String,
    pub member_id: MemberId,
    pub member_name: String,
    pub role: Role,
    pub status: MemberStatus,
    pub password_hash: Option<String>,
}

/// Consecutive failed logins for one e-mail address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginThrottle {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A live session found by its cookie's digest.
#[derive(Debug, Clone)]
pub struct SessionLookup {
    pub org_id: OrgId,
    pub session_id: SessionId,
    pub member_id: MemberId,
    pub member_name: String,
    pub role: Role,
    pub status: MemberStatus,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    organization_id: Uuid,
    org_name: String,
    id: Uuid,
    name: String,
    role: String,
    status: String,
    password_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ThrottleRow {
    failures: i64,
    locked_until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    organization_id: Uuid,
    id: Uuid,
    member_id: Uuid,
    name: String,
    role: String,
    status: String,
    expires_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

fn role_and_status(role: &str, status: &str) -> Result<(Role, MemberStatus)> {
    Ok((
        role.parse().map_err(|()| rows::corrupt("role", role))?,
        MemberStatus::parse(status).ok_or_else(|| rows::corrupt("status", status))?,
    ))
}

/// Expired app access tokens are kept this long (for the audit trail of who used them), then purged.
const EXPIRED_TOKEN_RETENTION: TimeDelta = TimeDelta::days(1);

impl Store {
    /// Deletes app access tokens that expired more than a day ago and sessions past their expiry.
    pub async fn purge_expired_credentials(&self) -> Result<u64> {
        let now = self.now();
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let tokens = conn
            .execute(
                Sql::new("DELETE FROM api_tokens WHERE kind = 'app_access' AND expires_at < $1")
                    .bind(now - EXPIRED_TOKEN_RETENTION),
            )
            .await?;
        let sessions = conn
            .execute(Sql::new("DELETE FROM sessions WHERE expires_at < $1").bind(now))
            .await?;
        tx.commit().await?;
        Ok(tokens + sessions)
    }

    /// Members with this e-mail address, in every organization.
    pub async fn login_candidates(&self, email: &Email) -> Result<Vec<LoginCandidate>> {
        let mut pooled = self.pools.read().await?;
        let rows: Vec<CandidateRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT m.organization_id, o.name AS org_name, m.id, m.name, m.role, m.status, m.password_hash \
                     FROM members m JOIN organizations o ON o.id = m.organization_id \
                     WHERE m.email = $1 ORDER BY m.organization_id",
                )
                .bind(email.as_str()),
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                let (role, status) = role_and_status(&row.role, &row.status)?;
                Ok(LoginCandidate {
                    org_id: OrgId::from_uuid(row.organization_id),
                    org_name: row.org_name,
                    member_id: MemberId::from_uuid(row.id),
                    member_name: row.name,
                    role,
                    status,
                    password_hash: row.password_hash,
                })
            })
            .collect()
    }

    pub async fn login_throttle(&self, email_key: &str) -> Result<LoginThrottle> {
        let mut pooled = self.pools.read().await?;
        let row: Option<ThrottleRow> = pooled
            .conn()
            .fetch_optional(
                Sql::new("SELECT failures, locked_until FROM login_throttle WHERE email_key = $1")
                    .bind(email_key),
            )
            .await?;
        Ok(row.map(throttle_from_row).unwrap_or_default())
    }

    /// Counts one more failure and locks the address for `lock_seconds(failures)` seconds.
    pub async fn record_login_failure(
        &self,
        email_key: &str,
        lock_seconds: impl Fn(u32) -> i64,
    ) -> Result<LoginThrottle> {
        let now = self.now();
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let row: ThrottleRow = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO login_throttle (email_key, failures, locked_until, updated_at) VALUES ($1, 1, NULL, $2) \
                     ON CONFLICT (email_key) DO UPDATE SET failures = login_throttle.failures + 1, updated_at = $2 \
                     RETURNING failures, locked_until",
                )
                .bind(email_key)
                .bind(now),
            )
            .await?;
        let mut throttle = throttle_from_row(row);
        let seconds = lock_seconds(throttle.failures);
        if seconds > 0 {
            let until = now + TimeDelta::seconds(seconds);
            conn.execute(
                Sql::new("UPDATE login_throttle SET locked_until = $2 WHERE email_key = $1")
                    .bind(email_key)
                    .bind(until),
            )
            .await?;
            throttle.locked_until = Some(until);
        }
        tx.commit().await?;
        Ok(throttle)
    }

    pub async fn clear_login_failures(&self, email_key: &str) -> Result<()> {
        let mut tx = self.begin_tx().await?;
        tx.conn()
            .execute(Sql::new("DELETE FROM login_throttle WHERE email_key = $1").bind(email_key))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session behind a cookie, if it exists (expired ones included; the caller checks the time).
    pub async fn find_session(&self, digest: &[u8; 32]) -> Result<Option<SessionLookup>> {
        let mut pooled = self.pools.read().await?;
        let row: Option<SessionRow> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT s.organization_id, s.id, s.member_id, m.name, m.role, m.status, s.expires_at, s.last_seen_at \
                     FROM sessions s JOIN members m ON m.organization_id = s.organization_id AND m.id = s.member_id \
                     WHERE s.digest = $1",
                )
                .bind(digest.as_slice()),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (role, status) = role_and_status(&row.role, &row.status)?;
        Ok(Some(SessionLookup {
            org_id: OrgId::from_uuid(row.organization_id),
            session_id: SessionId::from_uuid(row.id),
            member_id: MemberId::from_uuid(row.member_id),
            member_name: row.name,
            role,
            status,
            expires_at: row.expires_at,
            last_seen_at: row.last_seen_at,
        }))
    }
}

fn throttle_from_row(row: ThrottleRow) -> LoginThrottle {
    LoginThrottle {
        failures: u32::try_from(row.failures).unwrap_or(u32::MAX),
        locked_until: row.locked_until,
    }
}

impl Tenant<'_> {
    pub async fn create_session(
        &self,
        ctx: &WriteContext,
        member_id: MemberId,
        digest: &[u8; 32],
        expires_at: DateTime<Utc>,
    ) -> Result<SessionId> {
        let id = SessionId::new();
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new(
                "INSERT INTO sessions (digest, organization_id, id, member_id, created_at, expires_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $5)",
            )
            .bind(digest.as_slice())
            .bind(self.org_id)
            .bind(id)
            .bind(member_id)
            .bind(now)
            .bind(expires_at),
        )
        .await?;
        self.audit_session(&mut conn, ctx, id, member_id, Action::LoggedIn)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Slides a session's expiry forward when it was last pushed more than five minutes ago.
    pub async fn touch_session(
        &self,
        session: &SessionLookup,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = self.store.now();
        if now - session.last_seen_at < SESSION_TOUCH_INTERVAL {
            return Ok(());
        }
        let mut tx = self.store.begin_tx().await?;
        tx.conn()
            .execute(
                Sql::new(
                    "UPDATE sessions SET last_seen_at = $3, expires_at = $4 WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(session.session_id)
                .bind(now)
                .bind(expires_at),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn end_session(
        &self,
        ctx: &WriteContext,
        session_id: SessionId,
        member_id: MemberId,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new("DELETE FROM sessions WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(session_id),
        )
        .await?;
        self.audit_session(&mut conn, ctx, session_id, member_id, Action::LoggedOut)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored password hash of a member (`None` if they have no password).
    pub async fn password_hash(&self, member_id: MemberId) -> Result<Option<String>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(Option<String>,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT password_hash FROM members WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(member_id),
            )
            .await?;
        row.map(|(hash,)| hash)
            .ok_or_else(|| StoreError::not_found("member"))
    }

    /// Replaces a member's password hash and ends every session of theirs except `keep`.
    pub async fn set_password(
        &self,
        ctx: &WriteContext,
        member_id: MemberId,
        password_hash: &str,
        keep: Option<SessionId>,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                Sql::new(
                    "UPDATE members SET password_hash = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(member_id)
                .bind(password_hash)
                .bind(self.store.now()),
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("member"));
        }
        conn.execute(
            Sql::new(
                "DELETE FROM sessions WHERE organization_id = $1 AND member_id = $2 AND id <> $3",
            )
            .bind(self.org_id)
            .bind(member_id)
            .bind(keep.map(|id| *id.as_uuid()).unwrap_or(Uuid::nil())),
        )
        .await?;
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Member,
                target_id: member_id.to_string(),
                action: Action::SecretChanged,
                before: None,
                after: None,
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_session(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        ctx: &WriteContext,
        session_id: SessionId,
        member_id: MemberId,
        action: Action,
    ) -> Result<()> {
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Session,
                target_id: session_id.to_string(),
                action,
                before: None,
                after: Some(serde_json::json!({ "member_id": member_id.to_string() })),
                ctx,
            },
        )
        .await
    }
}
