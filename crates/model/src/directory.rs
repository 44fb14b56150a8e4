//! The directory: organizations, their department tree and their members.

use chrono::{DateTime, Utc};

use crate::ids::{DepartmentId, MemberId, OrgId};
use crate::role::Role;
use crate::values::{Email, Locale, Mobile, Name, OptionalText, TimeZone};

/// A tenant. Every row of tenant data carries its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: Name,
    pub time_zone: TimeZone,
    pub locale: Locale,
    /// Created with the organization; never deleted or moved.
    pub root_department_id: DepartmentId,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationPatch {
    pub name: Option<Name>,
    pub time_zone: Option<TimeZone>,
    pub locale: Option<Locale>,
}

/// Whether a member still works for the organization. A member who left keeps their history
/// (audit entries, records they created) but can no longer log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    Active,
    Left,
}

impl MemberStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Left => "left",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(MemberStatus::Active),
            "left" => Some(MemberStatus::Left),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub name: Name,
    pub email: Option<Email>,
    pub mobile: Option<Mobile>,
    pub job_title: OptionalText,
    pub employee_no: OptionalText,
    pub status: MemberStatus,
    pub role: Role,
    /// Departments the member belongs to, in the order they were given.
    pub department_ids: Vec<DepartmentId>,
    /// The subset of `department_ids` the member heads.
    pub head_of_department_ids: Vec<DepartmentId>,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A member to create. Department ids are checked against the organization by the store.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub name: Name,
    pub email: Option<Email>,
    pub mobile: Option<Mobile>,
    pub job_title: OptionalText,
    pub employee_no: OptionalText,
    pub role: Role,
    /// Empty means the organization's root department.
    pub department_ids: Vec<DepartmentId>,
    /// An argon2id PHC string, already hashed by the caller; `None` means the member cannot log in yet.
    pub password_hash: Option<String>,
}

/// A partial update. `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    pub name: Option<Name>,
    pub email: Option<Option<Email>>,
    pub mobile: Option<Option<Mobile>>,
    pub job_title: Option<OptionalText>,
    pub employee_no: Option<OptionalText>,
    pub status: Option<MemberStatus>,
    pub role: Option<Role>,
    pub department_ids: Option<Vec<DepartmentId>>,
}

impl MemberPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.mobile.is_none()
            && self.job_title.is_none()
            && self.employee_no.is_none()
            && self.status.is_none()
            && self.role.is_none()
            && self.department_ids.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub id: DepartmentId,
    pub name: Name,
    /// `None` only for the organization's root department.
    pub parent_id: Option<DepartmentId>,
    /// Position among siblings; lower comes first.
    pub sort_order: i64,
    /// DingTalk's `dept_id`: 1 for the root, then one more for each department the organization creates
    /// (departments of before the DingTalk API were numbered in id order).
    pub number: i64,
    pub head_ids: Vec<MemberId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDepartment {
    pub name: Name,
    /// `None` puts the department under the organization's root.
    pub parent_id: Option<DepartmentId>,
    pub sort_order: i64,
    /// Heads become members of the department if they were not already.
    pub head_ids: Vec<MemberId>,
}

#[derive(Debug, Clone, Default)]
pub struct DepartmentPatch {
    pub name: Option<Name>,
    pub parent_id: Option<DepartmentId>,
    pub sort_order: Option<i64>,
    pub head_ids: Option<Vec<MemberId>>,
}

impl DepartmentPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.parent_id.is_none()
            && self.sort_order.is_none()
            && self.head_ids.is_none()
    }
}
