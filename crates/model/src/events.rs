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
pub const EVENT_TYPES: [&str; 37] = [
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
    "role.created",
    "role.updated",
    "role.deleted",
    "approval.instance.started",
    "approval.instance.approved",
    "approval.instance.refused",
    "approval.instance.withdrawn",
    "approval.instance.terminated",
    "approval.task.created",
    "approval.task.approved",
    "approval.task.refused",
    "approval.task.transferred",
    "approval.task.returned",
    "approval.task.canceled",
    "approval.task.paused",
    "approval.task.resumed",
    "approval.task.auto_approved",
    "approval.cc",
    "approval.delegation.created",
    "approval.delegation.deleted",
    "flow.run.failed",
    "flow.step.unknown_outcome",
    "notification.created",
    "voucher.posted",
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
        "member" | "department" | "role" => Some(Scope::DirectoryRead),
        "approval" => Some(Scope::ApprovalsRead),
        "flow" => Some(Scope::FlowsRead),
        // A posted voucher moves the books' figures: ledger readers may hear of it.
        "voucher" => Some(Scope::LedgerRead),
        // A message left in a member's inbox: who was told what is directory business (the DingTalk
        // work notifications that emit it are sent with `directory:read`).
        "notification" => Some(Scope::DirectoryRead),
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
    /// `{"type": "member"|"token"|"app"|"system"|"flow"|"share", "id": …, "name": …}`.
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

/// Events the retention deleted before a consumer saw them: a webhook subscription disabled, or a
/// stream-mode app away, for longer than the retention. The consumer's next delivery carries it as
/// `events_expired` beside the event, so a mirror knows it must catch up from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsExpired {
    /// How many events expired unseen (of the types the consumer would have received).
    pub count: u64,
    /// The first and last of them, by commit order.
    pub first_id: EventId,
    pub last_id: EventId,
    pub first_occurred_at: DateTime<Utc>,
    pub last_occurred_at: DateTime<Utc>,
    /// The retention they were deleted under.
    pub retention_days: u32,
}

impl EventsExpired {
    /// Adds events that expired after these.
    pub fn extend(&mut self, later: &EventsExpired) {
        self.count += later.count;
        self.last_id = later.last_id;
        self.last_occurred_at = later.last_occurred_at;
        self.retention_days = later.retention_days;
    }

    /// The public JSON shape, as a delivery's or frame's `events_expired`.
    pub fn to_json(&self) -> Value {
        let time = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        json!({
            "count": self.count,
            "first_id": self.first_id.to_string(),
            "last_id": self.last_id.to_string(),
            "first_occurred_at": time(&self.first_occurred_at),
            "last_occurred_at": time(&self.last_occurred_at),
            "retention_days": self.retention_days,
        })
    }

    /// Reads [`EventsExpired::to_json`] back; `None` if it is not that shape.
    pub fn from_json(value: &Value) -> Option<EventsExpired> {
        let time = |key: &str| {
            DateTime::parse_from_rfc3339(value[key].as_str()?)
                .ok()
                .map(|at| at.with_timezone(&Utc))
        };
        let id = |key: &str| value[key].as_str()?.parse::<EventId>().ok();
        Some(EventsExpired {
            count: value["count"].as_u64()?,
            first_id: id("first_id")?,
            last_id: id("last_id")?,
            first_occurred_at: time("first_occurred_at")?,
            last_occurred_at: time("last_occurred_at")?,
            retention_days: u32::try_from(value["retention_days"].as_u64()?).ok()?,
        })
    }
}

/// The body of a delivery (webhook or stream frame): the event's envelope, with `events_expired` when
/// events expired unseen before it.
pub fn delivery_body(event: &Event, expired: Option<&EventsExpired>) -> Value {
    let mut body = event.envelope();
    if let (Some(expired), Value::Object(map)) = (expired, &mut body) {
        map.insert("events_expired".to_owned(), expired.to_json());
    }
    body
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
        assert_eq!(
            readable_types(ScopeSet::of([Scope::LedgerRead])),
            vec!["voucher.posted"]
        );
    }

    #[test]
    fn events_expired_reads_back_what_it_writes_and_extends_with_later_ones() {
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let (a, b, c) = (EventId::new(), EventId::new(), EventId::new());
        let mut first = EventsExpired {
            count: 2,
            first_id: a,
            last_id: b,
            first_occurred_at: at(0),
            last_occurred_at: at(5),
            retention_days: 30,
        };
        assert_eq!(
            EventsExpired::from_json(&first.to_json()),
            Some(first.clone())
        );
        assert_eq!(first.to_json()["first_occurred_at"], "2023-11-14T22:13:20Z");
        first.extend(&EventsExpired {
            count: 3,
            first_id: c,
            last_id: c,
            first_occurred_at: at(9),
            last_occurred_at: at(9),
            retention_days: 7,
        });
        assert_eq!((first.count, first.first_id, first.last_id), (5, a, c));
        assert_eq!(
            (
                first.first_occurred_at,
                first.last_occurred_at,
                first.retention_days
            ),
            (at(0), at(9), 7)
        );
        assert_eq!(EventsExpired::from_json(&json!({"count": 1})), None);
    }
}
