//! What one member may do with one table: the grants of the app roles that name them, merged.
//!
//! A member is named by a role when the role says `everyone`, lists them, one of their departments (or, with
//! `sub_departments`, a department above one of theirs), or a custom role they hold. Their grants on the
//! table merge as a union: an action is allowed when any grant allows it, on the rows any of those grants'
//! rules accept (every row if one grant says `true`); a field is hidden when every grant hides it, and
//! read-only when every grant that allows writing makes it read-only or hides it.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::rule::{RowRule, RuleError};
use super::{ActionRule, Grant, PermissionsDoc, RecordAction, Who, grant_table};
use crate::apps::TableSchema;
use crate::ids::{DepartmentId, FieldId, MemberId};

/// The person a request acts for, computed once per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub member: MemberId,
    /// The member's departments, in order (the first is CURRENT_DEPARTMENT()).
    pub departments: Vec<DepartmentId>,
    /// The custom roles the member holds: (key, name).
    pub roles: Vec<(String, String)>,
    /// Every department of the organization with its parent, for sub-departments.
    pub parents: HashMap<DepartmentId, Option<DepartmentId>>,
}

impl Person {
    /// Holds the custom role with this key or name.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles
            .iter()
            .any(|(key, name)| key == role || name == role)
    }

    /// `roots` (department ids) and every department below them.
    pub fn with_sub_departments(&self, roots: &[String]) -> Vec<String> {
        let mut out: Vec<String> = roots.to_vec();
        for department in self.parents.keys() {
            if self
                .ancestors(*department)
                .iter()
                .skip(1)
                .any(|above| roots.contains(&above.to_string()))
                && !out.contains(&department.to_string())
            {
                out.push(department.to_string());
            }
        }
        out.sort();
        out
    }

    /// The department and those above it, nearest first (stops at a cycle).
    fn ancestors(&self, department: DepartmentId) -> Vec<DepartmentId> {
        let mut chain = vec![department];
        let mut at = department;
        while let Some(Some(parent)) = self.parents.get(&at) {
            if chain.contains(parent) {
                break;
            }
            chain.push(*parent);
            at = *parent;
        }
        chain
    }

    /// Whether an app role's `who` names this person.
    pub fn is_named_by(&self, who: &Who) -> bool {
        if who.everyone || who.members.iter().any(|id| *id == self.member.to_string()) {
            return true;
        }
        if who.roles.iter().any(|role| self.has_role(role)) {
            return true;
        }
        self.departments.iter().any(|own| {
            let candidates = if who.sub_departments {
                self.ancestors(*own)
            } else {
                vec![*own]
            };
            candidates
                .iter()
                .any(|department| who.departments.contains(&department.to_string()))
        })
    }
}

/// The rows an action is allowed on.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// Not granted.
    None,
    All,
    /// The rows any of these rules accept.
    Rules(Vec<RowRule>),
}

impl Rows {
    pub fn granted(&self) -> bool {
        !matches!(self, Rows::None)
    }

    /// The filter (records API JSON shape) the rows must pass, `None` for every row.
    pub fn filter(
        &self,
        schema: &TableSchema,
        person: &Person,
    ) -> Result<Option<Value>, RuleError> {
        Ok(match self {
            Rows::All => None,
            Rows::None => Some(json!({"or": []})),
            Rows::Rules(rules) => Some(json!({
                "or": rules
                    .iter()
                    .map(|rule| rule.lower(schema, person))
                    .collect::<Result<Vec<_>, _>>()?
            })),
        })
    }

    fn merge(&mut self, rule: &ActionRule) {
        match rule {
            ActionRule::All => *self = Rows::All,
            ActionRule::Rule(text) => {
                let Some(parsed) = RowRule::stored(text) else {
                    return;
                };
                match self {
                    Rows::All => {}
                    Rows::None => *self = Rows::Rules(vec![parsed]),
                    Rows::Rules(rules) => rules.push(parsed),
                }
            }
        }
    }
}

/// A grant that names the member, for explanations.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantSource {
    pub role_key: String,
    pub role_name: String,
    pub grant: Grant,
}

/// What one member may do with one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableAccess {
    /// In [`RecordAction::ALL`] order.
    rows: [Rows; 5],
    pub hidden: BTreeSet<FieldId>,
    pub read_only: BTreeSet<FieldId>,
    /// The grants this access comes from.
    pub sources: Vec<GrantSource>,
}

impl TableAccess {
    /// Everything on every row: owners, admins, organization tokens, apps without permissions.
    pub fn full() -> TableAccess {
        TableAccess {
            rows: [Rows::All, Rows::All, Rows::All, Rows::All, Rows::All],
            hidden: BTreeSet::new(),
            read_only: BTreeSet::new(),
            sources: Vec::new(),
        }
    }

    /// Merges the grants on `schema`'s table of the roles that name `person`.
    pub fn resolve(doc: &PermissionsDoc, schema: &TableSchema, person: &Person) -> TableAccess {
        let mut rows = [Rows::None, Rows::None, Rows::None, Rows::None, Rows::None];
        let mut hidden: Option<BTreeSet<FieldId>> = None;
        let mut read_only: Option<BTreeSet<FieldId>> = None;
        let mut sources = Vec::new();
        let ids = |keys: &[String]| -> BTreeSet<FieldId> {
            keys.iter()
                .filter_map(|key| schema.field_by_key(key).map(|field| field.id))
                .collect()
        };
        for role in doc
            .roles
            .iter()
            .filter(|role| person.is_named_by(&role.who))
        {
            for grant in &role.grants {
                let same_table = grant_table(std::slice::from_ref(schema), &grant.table).is_some();
                if !same_table {
                    continue;
                }
                for (i, action) in RecordAction::ALL.into_iter().enumerate() {
                    if let Some(rule) = grant.action(action) {
                        rows[i].merge(rule);
                    }
                }
                let own_hidden = ids(&grant.hidden);
                let mut own_locked = ids(&grant.read_only);
                own_locked.extend(own_hidden.iter().copied());
                hidden = Some(match hidden {
                    None => own_hidden,
                    Some(before) => before.intersection(&own_hidden).copied().collect(),
                });
                let writes = grant.action(RecordAction::Create).is_some()
                    || grant.action(RecordAction::Update).is_some();
                if writes {
                    read_only = Some(match read_only {
                        None => own_locked,
                        Some(before) => before.intersection(&own_locked).copied().collect(),
                    });
                }
                sources.push(GrantSource {
                    role_key: role.key.clone(),
                    role_name: role.name.clone(),
                    grant: grant.clone(),
                });
            }
        }
        let hidden = hidden.unwrap_or_default();
        let mut read_only = read_only.unwrap_or_default();
        read_only.extend(hidden.iter().copied());
        TableAccess {
            rows,
            hidden,
            read_only,
            sources,
        }
    }

    pub fn rows(&self, action: RecordAction) -> &Rows {
        let index = RecordAction::ALL
            .iter()
            .position(|own| *own == action)
            .unwrap_or(0);
        &self.rows[index]
    }

    /// Every action on every row and no field rule.
    pub fn is_full(&self) -> bool {
        self.rows.iter().all(|rows| *rows == Rows::All)
            && self.hidden.is_empty()
            && self.read_only.is_empty()
    }

    pub fn is_hidden(&self, field: FieldId) -> bool {
        self.hidden.contains(&field)
    }
}
