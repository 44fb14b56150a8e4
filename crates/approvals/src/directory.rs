//! The organization as approver rules see it: members (active or not, their departments), departments
//! (parent, heads), custom roles and the administrators — a snapshot the store loads in the command's
//! transaction — and the resolution of rules over it.

use std::collections::{BTreeMap, HashMap, HashSet};

use tenon_model::apps::CellValue;
use tenon_model::{DepartmentId, FieldId, MemberId};

use crate::compile::{FieldSource, ProcessFields};
use crate::definition::{APPROVERS_MAX, Rule};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryMember {
    pub id: MemberId,
    pub active: bool,
    /// In the order the member's departments were given; the first is their main one.
    pub departments: Vec<DepartmentId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryDepartment {
    pub id: DepartmentId,
    pub parent: Option<DepartmentId>,
    pub heads: Vec<MemberId>,
}

/// What rule resolution reads of the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectorySnapshot {
    pub members: HashMap<MemberId, DirectoryMember>,
    pub departments: HashMap<DepartmentId, DirectoryDepartment>,
    /// Custom roles by key: their members in order.
    pub roles: HashMap<String, Vec<MemberId>>,
    /// Active owners and admins, in id order (where `no_approver: admin` sends tasks).
    pub admins: Vec<MemberId>,
}

impl DirectorySnapshot {
    pub fn is_active(&self, member: MemberId) -> bool {
        self.members
            .get(&member)
            .is_some_and(|member| member.active)
    }

    /// The department an instance starts from: the one given, else the member's first.
    pub fn start_department(
        &self,
        member: MemberId,
        given: Option<DepartmentId>,
    ) -> Option<DepartmentId> {
        given.or_else(|| {
            self.members
                .get(&member)
                .and_then(|member| member.departments.first().copied())
        })
    }

    /// Managers level by level above `member` from `start`: level 1 is the start department's heads, or
    /// its parent's when the member heads it; departments without (other) active heads are skipped.
    pub fn manager_levels(
        &self,
        member: MemberId,
        start: Option<DepartmentId>,
    ) -> Vec<Vec<MemberId>> {
        let mut levels = Vec::new();
        let Some(mut current) = start.and_then(|id| self.departments.get(&id)) else {
            return levels;
        };
        if current.heads.contains(&member) {
            match current.parent.and_then(|id| self.departments.get(&id)) {
                Some(parent) => current = parent,
                None => return levels,
            }
        }
        // The tree has no cycles; the bound only protects against a corrupt snapshot.
        for _ in 0..=self.departments.len() {
            let heads: Vec<MemberId> = current
                .heads
                .iter()
                .copied()
                .filter(|head| *head != member && self.is_active(*head))
                .collect();
            if !heads.is_empty() {
                levels.push(heads);
            }
            match current.parent.and_then(|id| self.departments.get(&id)) {
                Some(parent) => current = parent,
                None => break,
            }
        }
        levels
    }

    /// The active heads of a department.
    pub fn heads_of(&self, department: DepartmentId) -> Vec<MemberId> {
        self.departments
            .get(&department)
            .map(|department| {
                department
                    .heads
                    .iter()
                    .copied()
                    .filter(|head| self.is_active(*head))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What the rules of one node are resolved against.
#[derive(Debug)]
pub struct Resolution<'a> {
    pub directory: &'a DirectorySnapshot,
    pub fields: &'a ProcessFields,
    pub values: &'a BTreeMap<FieldId, CellValue>,
    pub created_by: Option<MemberId>,
    pub modified_by: Option<MemberId>,
    pub initiator: MemberId,
    pub start_department: Option<DepartmentId>,
    /// The initiator's choices for this node (`selected` rules).
    pub selected: &'a [MemberId],
}

/// Too many approvers resolved for one node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the approvers resolve to {0} members; a node takes at most {APPROVERS_MAX}")]
pub struct TooManyApprovers(pub usize);

impl Resolution<'_> {
    /// The active members the rules name, in rule order, each once.
    pub fn resolve(&self, rules: &[Rule]) -> Result<Vec<MemberId>, TooManyApprovers> {
        let mut found = Vec::new();
        for rule in rules {
            self.resolve_rule(rule, &mut found);
        }
        let mut seen = HashSet::new();
        found.retain(|member| seen.insert(*member) && self.directory.is_active(*member));
        if found.len() > APPROVERS_MAX {
            return Err(TooManyApprovers(found.len()));
        }
        Ok(found)
    }

    fn resolve_rule(&self, rule: &Rule, found: &mut Vec<MemberId>) {
        let levels = || {
            self.directory
                .manager_levels(self.initiator, self.start_department)
        };
        match rule {
            Rule::Members(members) => found.extend(members),
            Rule::Role(role) => found.extend(
                self.directory
                    .roles
                    .get(role)
                    .into_iter()
                    .flatten()
                    .copied(),
            ),
            Rule::Manager(level) => found.extend(
                levels()
                    .into_iter()
                    .nth(*level as usize - 1)
                    .unwrap_or_default(),
            ),
            Rule::ManagerChainToLevel(level) => {
                found.extend(levels().into_iter().take(*level as usize).flatten());
            }
            Rule::ManagerChainToRole(role) => {
                let holders: HashSet<MemberId> = self
                    .directory
                    .roles
                    .get(role)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect();
                for level in levels() {
                    let reached = level.iter().any(|head| holders.contains(head));
                    found.extend(level);
                    if reached {
                        break;
                    }
                }
            }
            Rule::DepartmentHead => {
                if let Some(department) = self.start_department {
                    found.extend(self.directory.heads_of(department));
                }
            }
            Rule::Selected(_) => found.extend(self.selected),
            Rule::Initiator => found.push(self.initiator),
            Rule::Field(key) => found.extend(self.field_members(key)),
        }
    }

    /// The members a field rule names on this record.
    pub fn field_members(&self, key: &str) -> Vec<MemberId> {
        let Some(field) = self.fields.get(key) else {
            return Vec::new();
        };
        match field {
            FieldSource::CreatedBy => self.created_by.into_iter().collect(),
            FieldSource::ModifiedBy => self.modified_by.into_iter().collect(),
            FieldSource::Member(id) => match self.values.get(id) {
                Some(CellValue::Ids(ids)) => {
                    ids.iter().map(|id| MemberId::from_uuid(*id)).collect()
                }
                _ => Vec::new(),
            },
            FieldSource::MemberLookup(id) => match self.values.get(id) {
                Some(CellValue::Names(texts)) => {
                    texts.iter().filter_map(|text| text.parse().ok()).collect()
                }
                Some(CellValue::Ids(ids)) => {
                    ids.iter().map(|id| MemberId::from_uuid(*id)).collect()
                }
                _ => Vec::new(),
            },
            FieldSource::Department(id) => match self.values.get(id) {
                Some(CellValue::Ids(ids)) => ids
                    .iter()
                    .flat_map(|id| self.directory.heads_of(DepartmentId::from_uuid(*id)))
                    .collect(),
                _ => Vec::new(),
            },
            FieldSource::Other { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn department(
        id: DepartmentId,
        parent: Option<DepartmentId>,
        heads: &[MemberId],
    ) -> DirectoryDepartment {
        DirectoryDepartment {
            id,
            parent,
            heads: heads.to_vec(),
        }
    }

    #[test]
    fn a_heads_first_level_is_the_parents_head_and_empty_levels_are_skipped() {
        let (ceo, cfo, lead, clerk) = (
            MemberId::new(),
            MemberId::new(),
            MemberId::new(),
            MemberId::new(),
        );
        let (root, finance, empty, team) = (
            DepartmentId::new(),
            DepartmentId::new(),
            DepartmentId::new(),
            DepartmentId::new(),
        );
        let mut directory = DirectorySnapshot::default();
        for (id, parent, heads) in [
            (root, None, vec![ceo]),
            (finance, Some(root), vec![cfo]),
            (empty, Some(finance), vec![]),
            (team, Some(empty), vec![lead]),
        ] {
            directory
                .departments
                .insert(id, department(id, parent, &heads));
        }
        for (id, department) in [(ceo, root), (cfo, finance), (lead, team), (clerk, team)] {
            directory.members.insert(
                id,
                DirectoryMember {
                    id,
                    active: true,
                    departments: vec![department],
                },
            );
        }
        assert_eq!(
            directory.manager_levels(clerk, Some(team)),
            vec![vec![lead], vec![cfo], vec![ceo]]
        );
        assert_eq!(
            directory.manager_levels(lead, Some(team)),
            vec![vec![cfo], vec![ceo]]
        );
        assert!(directory.manager_levels(ceo, Some(root)).is_empty());
    }
}
