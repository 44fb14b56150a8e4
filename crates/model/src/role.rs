//! Roles of members in an organization and the scopes a human session gets from them.

use std::fmt;
use std::str::FromStr;

use crate::scope::{Scope, ScopeSet};

/// A member's role. Custom roles come later; these three are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Created the organization; cannot be removed while they are its only owner.
    Owner,
    Admin,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// What a logged-in member with this role may do through the API.
    pub fn scopes(self) -> ScopeSet {
        match self {
            Role::Owner | Role::Admin => ScopeSet::of([Scope::Admin]),
            Role::Member => ScopeSet::of([
                Scope::DirectoryRead,
                Scope::AppsRead,
                Scope::RecordsRead,
                Scope::RecordsWrite,
                Scope::ApprovalsRead,
                Scope::ApprovalsWrite,
            ]),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(())
    }
}
