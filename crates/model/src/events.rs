//! Events: what the outbox says happened, and who may hear it.
//!
//! An [`Event`] is one committed change (a record created, a member updated, a schema changed, an app
//! installed). Its [`Event::envelope`] is the public JSON shape: the body of a webhook, an item of
//! `GET /api/v1/events`, the payload of a stream frame. Each event type belongs to a family whose read
//! scope a consumer must hold ([`scope_for`]): record events need `records:read`, and so on.
//! Pure: the store assigns ids, sequence numbers and times.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{EventId, OrgId, Scope, ScopeSet};

/// Every event type Tenon emits, in documentation order.
pub const EVENT_TYPES: [&str; 13] = [
    "record.created",
    "record.updated",
    "record.deleted",
    "schema.changed",
    "member.created",
    "member.updated",
    "member.deleted",
    "department.created",
    "department.updated",
    "department.deleted",
    "app.installed",
    "app.updated",
    "app.uninstalled",
];

/// Event types a subscription may name at most (patterns included).
pub const EVENT_TYPE_PATTERNS_MAX: usize = 32;

/// The scope a consumer needs to receive events of this type: the read scope of the family.
/// `None` for a type Tenon does not emit.
pub fn scope_for(event_type: &str) -> Option<Scope> {
    let family = event_type.split_once('.').map_or(event_type, |(f, _)| f);
    match family {
        "record" => Some(Scope::RecordsRead),
        "schema" => Some(Scope::AppsRead),
        "member" | "department" => Some(Scope::DirectoryRead),
        // Which apps are installed, with what scopes, is an administrator's business.
        "app" => Some(Scope::Admin),
        _ => None,
    }
}

/// The event types a credential holding `scopes` may receive.
pub fn readable_types(scopes: ScopeSet) -> Vec<&'static str> {
    EVENT_TYPES
        .into_iter()
        .filter(|event_type| scope_for(event_type).is_some_and(|scope| scopes.grants(scope)))
        .collect()
}

/// A subscription's type pattern: an exact type (`record.created`), a family (`record.*`) or `*`.
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(family) => event_type
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == event_type,
    }
}

/// Whether a pattern names at least one type Tenon emits.
pub fn pattern_is_known(pattern: &str) -> bool {
    EVENT_TYPES
        .into_iter()
        .any(|event_type| pattern_matches(pattern, event_type))
}

/// The concrete types a list of patterns selects, in documentation order.
pub fn expand_patterns<S: AsRef<str>>(patterns: &[S]) -> Vec<&'static str> {
    EVENT_TYPES
        .into_iter()
        .filter(|event_type| {
            patterns
                .iter()
                .any(|pattern| pattern_matches(pattern.as_ref(), event_type))
        })
        .collect()
}

/// One committed change, as stored in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    /// The organization's commit order: strictly increasing, without gaps between committed events of one
    /// transaction, never reused.
    pub seq: i64,
    pub org_id: OrgId,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// `{"type": "member"|"token"|"app"|"system", "id": …, "name": …}`.
    pub actor: Value,
    /// Ids of what changed: `app_id`, `table_id`, `record_id`, or `member_id`, `department_id`,
    /// `installation_id`.
    pub subject: Value,
    /// Events of one subject key are delivered in `seq` order (`record:<id>`, `member:<id>`, …).
    pub subject_key: String,
    pub data: Value,
}

impl Event {
    /// The public JSON shape: `id`, `type`, `organization`, `occurred_at`, `actor`, `subject`, `data`.
    pub fn envelope(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "type": self.event_type,
            "organization": self.org_id.to_string(),
            "occurred_at": self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "actor": self.actor,
            "subject": self.subject,
            "data": self.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_types_families_and_everything() {
        assert!(pattern_matches("record.created", "record.created"));
        assert!(!pattern_matches("record.created", "record.updated"));
        assert!(pattern_matches("record.*", "record.deleted"));
        assert!(!pattern_matches("record.*", "records.deleted"));
        assert!(pattern_matches("*", "app.installed"));
        assert!(!pattern_is_known("ledger.*"));
        assert_eq!(
            expand_patterns(&["member.*", "app.installed"]),
            vec![
                "member.created",
                "member.updated",
                "member.deleted",
                "app.installed"
            ]
        );
    }

    #[test]
    fn every_type_has_a_family_scope_and_scopes_select_types() {
        assert!(EVENT_TYPES.iter().all(|t| scope_for(t).is_some()));
        let readable = readable_types(ScopeSet::of([Scope::RecordsRead]));
        assert_eq!(
            readable,
            vec!["record.created", "record.updated", "record.deleted"]
        );
        assert_eq!(
            readable_types(ScopeSet::of([Scope::Admin])).len(),
            EVENT_TYPES.len()
        );
    }
}
