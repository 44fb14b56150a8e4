//! Record triggers: which change of a record starts a run.
//!
//! - `created`, `updated` (narrowed by `fields`), `deleted`; with a `when`, the record must satisfy it
//!   (after the change; before it for a deletion);
//! - on a `when` condition: `enter` (false → true, a creation included), `leave` (true → false, a deletion
//!   included), `change` (true before and after, and a listed field — any field without a list — moved).
//!
//! The store evaluates `when` on the record's stored values before and after the write and asks
//! [`fires`]; a condition that cannot be evaluated (an error value) counts as false.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tenon_model::FieldId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum On {
    Created,
    Updated,
    Deleted,
    Enter,
    Leave,
    Change,
    /// `enter`, `change` or `leave`: a voucher rule's `sync: auto` flow (`rule:<key>`); not written in
    /// files.
    Sync,
}

impl On {
    pub fn as_str(self) -> &'static str {
        match self {
            On::Created => "created",
            On::Updated => "updated",
            On::Deleted => "deleted",
            On::Enter => "enter",
            On::Leave => "leave",
            On::Change => "change",
            On::Sync => "sync",
        }
    }

    pub fn parse(text: &str) -> Option<On> {
        [
            On::Created,
            On::Updated,
            On::Deleted,
            On::Enter,
            On::Leave,
            On::Change,
        ]
        .into_iter()
        .find(|on| on.as_str() == text)
    }

    /// `enter`, `leave` and `change` are about a condition: they need `when`.
    pub fn needs_when(self) -> bool {
        matches!(self, On::Enter | On::Leave | On::Change | On::Sync)
    }
}

/// What happened to a record in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
        }
    }
}

/// A record trigger ready to match: what it listens to, the fields that narrow it (ids), whether it has
/// a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub on: On,
    pub fields: Vec<FieldId>,
    pub has_when: bool,
}

/// Whether a change fires the trigger. `before`/`after`: the `when` condition on the record's state
/// before and after (`false` where the record did not exist, and when there is no condition);
/// `changed`: the fields whose stored value moved.
pub fn fires(
    watch: &Watch,
    change: Change,
    changed: &HashSet<FieldId>,
    before: bool,
    after: bool,
) -> bool {
    let (before, after) = match change {
        Change::Created => (false, after),
        Change::Updated => (before, after),
        Change::Deleted => (before, false),
    };
    let narrowed = || watch.fields.is_empty() || watch.fields.iter().any(|f| changed.contains(f));
    match watch.on {
        On::Created => change == Change::Created && (!watch.has_when || after),
        On::Updated => {
            change == Change::Updated
                && !changed.is_empty()
                && narrowed()
                && (!watch.has_when || after)
        }
        On::Deleted => change == Change::Deleted && (!watch.has_when || before),
        On::Enter => !before && after,
        On::Leave => before && !after,
        On::Change => {
            change == Change::Updated && before && after && !changed.is_empty() && narrowed()
        }
        On::Sync => {
            (before != after)
                || (change == Change::Updated && before && after && !changed.is_empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(on: On, fields: Vec<FieldId>, has_when: bool) -> Watch {
        Watch {
            on,
            fields,
            has_when,
        }
    }

    #[test]
    fn enter_fires_on_false_to_true_and_on_a_creation_that_satisfies_it() {
        let w = watch(On::Enter, vec![], true);
        let none = HashSet::new();
        assert!(fires(&w, Change::Created, &none, false, true));
        assert!(!fires(&w, Change::Created, &none, false, false));
        let one: HashSet<FieldId> = [FieldId::new()].into();
        assert!(fires(&w, Change::Updated, &one, false, true));
        assert!(!fires(&w, Change::Updated, &one, true, true));
        assert!(!fires(&w, Change::Deleted, &none, true, false));
    }

    #[test]
    fn leave_fires_on_true_to_false_and_on_deleting_a_record_that_satisfied_it() {
        let w = watch(On::Leave, vec![], true);
        let one: HashSet<FieldId> = [FieldId::new()].into();
        assert!(fires(&w, Change::Updated, &one, true, false));
        assert!(!fires(&w, Change::Updated, &one, false, false));
        assert!(fires(&w, Change::Deleted, &HashSet::new(), true, false));
        assert!(!fires(&w, Change::Created, &HashSet::new(), false, true));
    }

    #[test]
    fn change_needs_the_condition_on_both_sides_and_a_listed_field_moved() {
        let listed = FieldId::new();
        let other = FieldId::new();
        let w = watch(On::Change, vec![listed], true);
        assert!(fires(&w, Change::Updated, &[listed].into(), true, true));
        assert!(!fires(&w, Change::Updated, &[other].into(), true, true));
        assert!(!fires(&w, Change::Updated, &[listed].into(), false, true));
    }

    #[test]
    fn updated_is_narrowed_by_fields_and_filtered_by_when() {
        let listed = FieldId::new();
        let other = FieldId::new();
        let w = watch(On::Updated, vec![listed], false);
        assert!(fires(
            &w,
            Change::Updated,
            &[listed, other].into(),
            false,
            false
        ));
        assert!(!fires(&w, Change::Updated, &[other].into(), false, false));
        assert!(!fires(&w, Change::Created, &[listed].into(), false, false));
        let w = watch(On::Updated, vec![], true);
        assert!(fires(&w, Change::Updated, &[other].into(), false, true));
        assert!(!fires(&w, Change::Updated, &[other].into(), true, false));
    }

    #[test]
    fn sync_fires_on_enter_change_and_leave() {
        let w = watch(On::Sync, vec![], true);
        let one: HashSet<FieldId> = [FieldId::new()].into();
        let none = HashSet::new();
        assert!(fires(&w, Change::Created, &none, false, true));
        assert!(fires(&w, Change::Updated, &one, false, true));
        assert!(fires(&w, Change::Updated, &one, true, true));
        assert!(fires(&w, Change::Updated, &one, true, false));
        assert!(fires(&w, Change::Deleted, &none, true, false));
        assert!(!fires(&w, Change::Updated, &one, false, false));
        assert!(!fires(&w, Change::Updated, &none, true, true));
        assert!(!fires(&w, Change::Created, &none, false, false));
    }

    #[test]
    fn created_and_deleted_fire_once_for_their_change_only() {
        let any = HashSet::new();
        let created = watch(On::Created, vec![], false);
        assert!(fires(&created, Change::Created, &any, false, false));
        assert!(!fires(&created, Change::Updated, &any, false, false));
        let deleted = watch(On::Deleted, vec![], true);
        assert!(fires(&deleted, Change::Deleted, &any, true, false));
        assert!(!fires(&deleted, Change::Deleted, &any, false, false));
    }
}
