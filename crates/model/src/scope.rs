//! Scopes: what a credential may do. The names are a public contract.
//!
//! `admin` implies every other scope. A [`ScopeSet`] is a small bit set, so checking a scope on every
//! request costs one AND.

use std::fmt;
use std::str::FromStr;

/// One permission a credential can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    DirectoryRead,
    DirectoryWrite,
    AppsRead,
    AppsWrite,
    RecordsRead,
    RecordsWrite,
    EventsManage,
    LedgerRead,
    LedgerWrite,
    ApprovalsRead,
    ApprovalsWrite,
    FlowsRead,
    FlowsWrite,
    Admin,
}

impl Scope {
    /// Every scope, in the order of the public documentation.
    pub const ALL: [Scope; 14] = [
        Scope::DirectoryRead,
        Scope::DirectoryWrite,
        Scope::AppsRead,
        Scope::AppsWrite,
        Scope::RecordsRead,
        Scope::RecordsWrite,
        Scope::EventsManage,
        Scope::LedgerRead,
        Scope::LedgerWrite,
        Scope::ApprovalsRead,
        Scope::ApprovalsWrite,
        Scope::FlowsRead,
        Scope::FlowsWrite,
        Scope::Admin,
    ];

    /// The contract name, e.g. `directory:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::DirectoryRead => "directory:read",
            Scope::DirectoryWrite => "directory:write",
            Scope::AppsRead => "apps:read",
            Scope::AppsWrite => "apps:write",
            Scope::RecordsRead => "records:read",
            Scope::RecordsWrite => "records:write",
            Scope::EventsManage => "events:manage",
            Scope::LedgerRead => "ledger:read",
            Scope::LedgerWrite => "ledger:write",
            Scope::ApprovalsRead => "approvals:read",
            Scope::ApprovalsWrite => "approvals:write",
            Scope::FlowsRead => "flows:read",
            Scope::FlowsWrite => "flows:write",
            Scope::Admin => "admin",
        }
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a scope name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope \"{0}\"")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes. `admin` in the set grants every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u32);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        scopes
            .into_iter()
            .fold(Self::EMPTY, |set, scope| set.with(scope))
    }

    #[must_use]
    pub const fn with(self, scope: Scope) -> Self {
        ScopeSet(self.0 | scope.bit())
    }

    /// Whether a credential holding this set may act with `scope`.
    pub const fn grants(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// Whether every scope of `other` is granted by this set (used when a credential mints another).
    pub fn covers(self, other: ScopeSet) -> bool {
        other.iter().all(|scope| self.grants(scope))
    }

    /// The scopes both sets grant, spelled out: a personal token is limited by its member's role today, an
    /// app's token by what its installation allows today. `admin` survives only if both grant it.
    pub fn effective_with(self, other: ScopeSet) -> ScopeSet {
        Scope::ALL
            .into_iter()
            .filter(|scope| self.grants(*scope) && other.grants(*scope))
            .collect::<ScopeSet>()
            .compact()
    }

    /// Drops scopes that `admin` in the set already implies.
    fn compact(self) -> ScopeSet {
        if self.0 & Scope::Admin.bit() != 0 {
            ScopeSet::of([Scope::Admin])
        } else {
            self
        }
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes literally in the set (not the ones `admin` implies), in documentation order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.0 & scope.bit() != 0)
    }

    /// Parses a list of scope names; duplicates collapse.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownScope> {
        names
            .into_iter()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::of)
    }

    /// Space-separated names, the OAuth2 `scope` form and the storage form.
    pub fn to_space_separated(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self::of(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_grants_everything_and_survives_only_when_both_grant_it() {
        let admin = ScopeSet::of([Scope::Admin]);
        assert!(Scope::ALL.iter().all(|scope| admin.grants(*scope)));
        let reader = ScopeSet::of([Scope::DirectoryRead, Scope::RecordsRead]);
        assert_eq!(admin.effective_with(reader), reader);
        assert_eq!(reader.effective_with(admin), reader);
        assert_eq!(admin.effective_with(admin), admin);
        assert_eq!(
            reader.effective_with(ScopeSet::of([Scope::LedgerRead])),
            ScopeSet::EMPTY
        );
        assert!(admin.covers(reader));
        assert!(!reader.covers(admin));
    }

    #[test]
    fn scope_names_round_trip_and_unknown_names_are_refused() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        let set = ScopeSet::parse(["directory:read", "ledger:write", "directory:read"]).unwrap();
        assert_eq!(set.to_space_separated(), "directory:read ledger:write");
        assert!(ScopeSet::parse(["directory:delete"]).is_err());
    }
}
