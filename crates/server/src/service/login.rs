//! Logging a person in with e-mail and password: throttling per address, the password check off the
//! async workers, the session.
//!
//! Failures are counted per e-mail address, whether or not the address exists, and after five the address
//! is locked for 30 s, doubling with each further failure up to an hour (`tenon_auth::lock_seconds_after`):
//! a lock says nothing about whether an account exists, and unknown addresses cost as much time as known
//! ones (a password is checked against nothing).

use chrono::{DateTime, TimeDelta, Utc};
use tenon_auth::{SecretKind, lock_seconds_after};
use tenon_model::{Actor, Email, Member, MemberStatus, Organization};
use tenon_store::{LoginCandidate, StoreError, WriteContext};

use crate::error::ApiError;
use crate::state::AppState;

/// What a person sends.
#[derive(Debug)]
pub struct Credentials {
    pub email: Email,
    pub password: String,
    /// The organization's id, when the address and password match members of several.
    pub organization: Option<String>,
}

/// A session opened.
#[derive(Debug)]
pub struct LoggedIn {
    pub member: Member,
    pub organization: Organization,
    /// The cookie's value (shown once; only its digest is stored).
    pub secret: String,
    pub ttl: TimeDelta,
}

/// Why no session was opened.
#[derive(Debug)]
pub enum LoginRefused {
    /// Too many failures for this address; try again after this many seconds.
    Locked { seconds: i64 },
    /// No active member with this address and password.
    WrongCredentials,
    /// The address and password match members of these organizations (id, name): the person chooses.
    SeveralOrganizations(Vec<(String, String)>),
    /// The store or the password workers failed.
    Failed(ApiError),
}

impl From<StoreError> for LoginRefused {
    fn from(error: StoreError) -> Self {
        LoginRefused::Failed(error.into())
    }
}

impl From<ApiError> for LoginRefused {
    fn from(error: ApiError) -> Self {
        LoginRefused::Failed(error)
    }
}

/// Checks the credentials and opens a session for `request_id`'s request.
pub async fn log_in(
    state: &AppState,
    credentials: Credentials,
    request_id: String,
) -> Result<LoggedIn, LoginRefused> {
    let store = state.store();
    let email = credentials.email;
    let now = store.now();
    let throttle = store.login_throttle(email.as_str()).await?;
    if let Some(until) = locked(throttle.locked_until, now) {
        return Err(LoginRefused::Locked {
            seconds: (until - now).num_seconds().max(1),
        });
    }
    let organization = credentials.organization;
    let candidates: Vec<LoginCandidate> = store
        .login_candidates(&email)
        .await?
        .into_iter()
        .filter(|candidate| {
            candidate.status == MemberStatus::Active && candidate.password_hash.is_some()
        })
        .filter(|candidate| {
            organization
                .as_ref()
                .is_none_or(|org| candidate.org_id.to_string() == *org)
        })
        .collect();
    let password = credentials.password;
    let matching: Vec<LoginCandidate> = state
        .password_work(move || {
            if candidates.is_empty() {
                tenon_auth::verify_against_nothing(&password);
            }
            candidates
                .into_iter()
                .filter(|candidate| {
                    candidate
                        .password_hash
                        .as_deref()
                        .is_some_and(|hash| tenon_auth::verify_password(&password, hash))
                })
                .collect()
        })
        .await?;
    let member = match matching.as_slice() {
        [] => {
            store
                .record_login_failure(email.as_str(), lock_seconds_after)
                .await?;
            return Err(LoginRefused::WrongCredentials);
        }
        [one] => one.clone(),
        several => {
            return Err(LoginRefused::SeveralOrganizations(
                several
                    .iter()
                    .map(|candidate| (candidate.org_id.to_string(), candidate.org_name.clone()))
                    .collect(),
            ));
        }
    };
    store.clear_login_failures(email.as_str()).await?;
    let tenant = store.tenant(member.org_id);
    let secret = tenon_auth::mint(SecretKind::Session);
    let ttl = state.config().session_ttl;
    let ctx = WriteContext {
        actor: Actor::Member {
            id: member.member_id,
            name: member.member_name.clone(),
        },
        request_id: Some(request_id),
    };
    tenant
        .create_session(&ctx, member.member_id, secret.digest.as_bytes(), now + ttl)
        .await?;
    Ok(LoggedIn {
        member: tenant.member(member.member_id).await?,
        organization: tenant.organization().await?,
        secret: secret.plaintext,
        ttl,
    })
}

fn locked(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    until.filter(|until| *until > now)
}
