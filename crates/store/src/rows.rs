//! Row shapes as both drivers decode them, and their conversion into model types.
//!
//! A stored value that no longer parses (a name that is too long, an unknown role) is reported as
//! [`StoreError::Corrupt`]: the database only ever receives validated values, so this means a bug or a
//! hand edit, and it must be loud.

use chrono::{DateTime, Utc};
use tenon_model::{
    ApiToken, AuditEntry, AuditId, ClientAppId, Department, DepartmentId, Email, Installation,
    InstallationId, Locale, Member, MemberId, MemberStatus, Mobile, Name, OAuthClient,
    OptionalText, OrgId, Organization, RateLimit, Role, ScopeSet, TimeZone, TokenId, TokenKind,
};
use uuid::Uuid;

use crate::StoreError;

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?} does not parse"))
}

pub(crate) fn name(value: String) -> Result<Name, StoreError> {
    Name::parse(&value).map_err(|_| corrupt("name", &value))
}

pub(crate) fn scopes(value: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse(value.split(' ')).map_err(|_| corrupt("scope list", value))
}

pub(crate) fn rate_limit(value: Option<String>) -> Result<Option<RateLimit>, StoreError> {
    value
        .map(|text| RateLimit::parse(&text).map_err(|_| corrupt("rate limit", &text)))
        .transpose()
}

// Column lists are macros so that `concat!` can splice them into `&'static str` statements.

macro_rules! organization_columns {
    () => {
        "id, name, time_zone, locale, root_department_id, created_at"
    };
}
pub(crate) use organization_columns;

macro_rules! member_columns {
    () => {
        "id, name, email, mobile, job_title, employee_no, status, role, \
         password_hash IS NOT NULL AS has_password, created_at, updated_at"
    };
}
pub(crate) use member_columns;

macro_rules! department_columns {
    () => {
        "id, name, parent_id, sort_order, number, created_at, updated_at"
    };
}
pub(crate) use department_columns;

macro_rules! token_columns {
    () => {
        "organization_id, id, kind, name, member_id, installation_id, scopes, \
         rate_limit, expires_at, last_used_at, revoked_at, created_at"
    };
}
pub(crate) use token_columns;

macro_rules! client_columns {
    () => {
        "id, client_id, name, owner_organization_id, redirect_uris, created_at"
    };
}
pub(crate) use client_columns;

/// Columns of `installations i JOIN oauth_clients c`.
macro_rules! installation_columns {
    () => {
        "i.organization_id, i.id, i.client_app_id, c.client_id, c.name AS app_name, \
         i.scopes, i.rate_limit, i.event_format, i.created_at, i.updated_at"
    };
}
pub(crate) use installation_columns;

macro_rules! audit_columns {
    () => {
        "id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, \
         before, after, request_id"
    };
}
pub(crate) use audit_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct OrganizationRow {
    pub id: Uuid,
    pub name: String,
    pub time_zone: String,
    pub locale: String,
    pub root_department_id: Uuid,
    pub created_at: DateTime<Utc>,
}

impl OrganizationRow {
    pub fn into_model(self) -> Result<Organization, StoreError> {
        Ok(Organization {
            id: OrgId::from_uuid(self.id),
            time_zone: TimeZone::parse(&self.time_zone)
                .map_err(|_| corrupt("time zone", &self.time_zone))?,
            locale: Locale::parse(&self.locale).map_err(|_| corrupt("locale", &self.locale))?,
            name: name(self.name)?,
            root_department_id: DepartmentId::from_uuid(self.root_department_id),
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub job_title: Option<String>,
    pub employee_no: Option<String>,
    pub status: String,
    pub role: String,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One membership of a member in a department.
#[derive(sqlx::FromRow, Clone, Copy)]
pub(crate) struct MembershipRow {
    pub member_id: Uuid,
    pub department_id: Uuid,
    pub is_head: bool,
}

impl MemberRow {
    /// `memberships` may hold other members' rows too; only this member's are taken, in their stored order.
    pub fn into_model(self, memberships: &[MembershipRow]) -> Result<Member, StoreError> {
        let mine = memberships.iter().filter(|row| row.member_id == self.id);
        let department_ids = mine
            .clone()
            .map(|row| DepartmentId::from_uuid(row.department_id))
            .collect();
        let head_of_department_ids = mine
            .filter(|row| row.is_head)
            .map(|row| DepartmentId::from_uuid(row.department_id))
            .collect();
        Ok(Member {
            id: MemberId::from_uuid(self.id),
            email: self
                .email
                .map(|v| Email::parse(&v).map_err(|_| corrupt("e-mail", &v)))
                .transpose()?,
            mobile: self
                .mobile
                .map(|v| Mobile::parse(&v).map_err(|_| corrupt("mobile", &v)))
                .transpose()?,
            job_title: optional_text(self.job_title)?,
            employee_no: optional_text(self.employee_no)?,
            status: MemberStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            role: self
                .role
                .parse::<Role>()
                .map_err(|()| corrupt("role", &self.role))?,
            name: name(self.name)?,
            department_ids,
            head_of_department_ids,
            has_password: self.has_password,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn optional_text(value: Option<String>) -> Result<OptionalText, StoreError> {
    match value {
        None => Ok(OptionalText::NONE),
        Some(text) => OptionalText::parse(&text).map_err(|_| corrupt("text", &text)),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DepartmentRow {
    pub id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub sort_order: i64,
    pub number: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A head of a department.
#[derive(sqlx::FromRow, Clone, Copy)]
pub(crate) struct HeadRow {
    pub department_id: Uuid,
    pub member_id: Uuid,
}

impl DepartmentRow {
    pub fn into_model(self, heads: &[HeadRow]) -> Result<Department, StoreError> {
        let head_ids = heads
            .iter()
            .filter(|row| row.department_id == self.id)
            .map(|row| MemberId::from_uuid(row.member_id))
            .collect();
        Ok(Department {
            id: DepartmentId::from_uuid(self.id),
            name: name(self.name)?,
            parent_id: self.parent_id.map(DepartmentId::from_uuid),
            sort_order: self.sort_order,
            number: self.number,
            head_ids,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub organization_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub member_id: Option<Uuid>,
    pub installation_id: Option<Uuid>,
    pub scopes: String,
    pub rate_limit: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl TokenRow {
    pub fn into_model(self) -> Result<ApiToken, StoreError> {
        Ok(ApiToken {
            id: TokenId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.organization_id),
            kind: TokenKind::parse(&self.kind).ok_or_else(|| corrupt("token kind", &self.kind))?,
            name: name(self.name)?,
            member_id: self.member_id.map(MemberId::from_uuid),
            installation_id: self.installation_id.map(InstallationId::from_uuid),
            scopes: scopes(&self.scopes)?,
            rate_limit: rate_limit(self.rate_limit)?,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub owner_organization_id: Uuid,
    pub redirect_uris: String,
    pub created_at: DateTime<Utc>,
}

impl ClientRow {
    pub fn into_model(self) -> Result<OAuthClient, StoreError> {
        Ok(OAuthClient {
            id: ClientAppId::from_uuid(self.id),
            client_id: self.client_id,
            name: name(self.name)?,
            owner_org_id: OrgId::from_uuid(self.owner_organization_id),
            redirect_uris: self
                .redirect_uris
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstallationRow {
    pub organization_id: Uuid,
    pub id: Uuid,
    pub client_app_id: Uuid,
    pub client_id: String,
    pub app_name: String,
    pub scopes: String,
    pub rate_limit: Option<String>,
    pub event_format: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored event format (`None`, from an outer join: the default).
pub(crate) fn event_format(text: Option<&str>) -> Result<tenon_model::EventFormat, StoreError> {
    let text = text.unwrap_or("native");
    tenon_model::EventFormat::parse(text).ok_or_else(|| corrupt("event_format", text))
}

impl InstallationRow {
    pub fn into_model(self) -> Result<Installation, StoreError> {
        Ok(Installation {
            id: InstallationId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.organization_id),
            client_app_id: ClientAppId::from_uuid(self.client_app_id),
            client_id: self.client_id,
            app_name: name(self.app_name)?,
            scopes: scopes(&self.scopes)?,
            rate_limit: rate_limit(self.rate_limit)?,
            event_format: event_format(Some(&self.event_format))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<sqlx::types::Json<serde_json::Value>>,
    pub after: Option<sqlx::types::Json<serde_json::Value>>,
    pub request_id: Option<String>,
}

impl AuditRow {
    pub fn into_model(self) -> AuditEntry {
        AuditEntry {
            id: AuditId::from_uuid(self.id),
            at: self.at,
            actor_kind: self.actor_kind,
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            action: self.action,
            target_kind: self.target_kind,
            target_id: self.target_id,
            before: self.before.map(|json| json.0),
            after: self.after.map(|json| json.0),
            request_id: self.request_id,
        }
    }
}
