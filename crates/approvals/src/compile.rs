//! Publish checks: a process against its table (fields, choices, conditions), the organization's roles and
//! members, and itself as a graph (targets exist, no cycle, every node reachable) — every problem at its
//! path (`processes[0].nodes[1].branches[0].when`). A process that passes is a [`CompiledProcess`]: its
//! field references resolved to ids and its conditions checked, ready for the engine.
//!
//! A published version is kept [`freeze`]d: the definition as written plus the field ids and the stored
//! form of its conditions, so renaming a field does not change a version; [`thaw`] loads it back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tenon_model::apps::computed::{diagnostics, formula_schema};
use tenon_model::apps::formula::{self, Formula};
use tenon_model::apps::{FieldKind, TableSchema};
use tenon_model::{Checker, DetailCode, FieldId, Invalid, MemberId};

use crate::definition::{
    APPROVERS_MAX, END, InitiatorRule, NoApprover, Node, NodeKind, Process, Rule, join,
};

/// What a field reference of a process reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSource {
    Member(FieldId),
    /// A lookup of a member field through a link: member ids as text.
    MemberLookup(FieldId),
    /// A department field: approvers are its heads.
    Department(FieldId),
    /// The record's creator (the `created_by` column, or a field of that type).
    CreatedBy,
    ModifiedBy,
    /// Any other field (the record-status field, its comment field).
    Other(FieldId),
}

impl FieldSource {
    fn tag(self) -> (&'static str, Option<FieldId>) {
        match self {
            FieldSource::Member(id) => ("member", Some(id)),
            FieldSource::MemberLookup(id) => ("member_lookup", Some(id)),
            FieldSource::Department(id) => ("department", Some(id)),
            FieldSource::CreatedBy => ("created_by", None),
            FieldSource::ModifiedBy => ("modified_by", None),
            FieldSource::Other(id) => ("other", Some(id)),
        }
    }

    fn from_tag(tag: &str, id: Option<FieldId>) -> Option<FieldSource> {
        Some(match tag {
            "member" => FieldSource::Member(id?),
            "member_lookup" => FieldSource::MemberLookup(id?),
            "department" => FieldSource::Department(id?),
            "created_by" => FieldSource::CreatedBy,
            "modified_by" => FieldSource::ModifiedBy,
            "other" => FieldSource::Other(id?),
            _ => return None,
        })
    }

    pub fn field_id(self) -> Option<FieldId> {
        self.tag().1
    }
}

/// Field references of a process, by the reference as written.
pub type ProcessFields = HashMap<String, FieldSource>;

/// The record-status field and the field that receives a refusal's comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFields {
    pub field: FieldId,
    pub comment_field: Option<FieldId>,
}

/// A process that passed its publish checks.
#[derive(Debug, Clone)]
pub struct CompiledProcess {
    pub process: Process,
    pub fields: ProcessFields,
    /// Each condition node's branch formulas, in branch order.
    pub conditions: HashMap<String, Vec<Arc<Formula>>>,
    pub status: Option<StatusFields>,
}

/// What a process may name besides its table: the organization's role keys and member ids.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub roles: &'a HashSet<String>,
    pub members: &'a HashSet<MemberId>,
}

/// Checks `process` against `table` (one of `tables`, the app's tables, which lookups reach into).
pub fn compile(
    process: Process,
    table: &TableSchema,
    tables: &[TableSchema],
    known: Known<'_>,
    path: &str,
) -> Result<CompiledProcess, Invalid> {
    let mut check = Checker::default();
    let mut refs = Refs {
        table,
        tables,
        fields: ProcessFields::new(),
    };
    if let Some(initiator) = &process.initiator {
        match initiator {
            InitiatorRule::Field(field) => {
                let source = refs.add(
                    &mut check,
                    field,
                    &join(&join(path, "initiator"), "field"),
                    true,
                );
                if matches!(source, Some(FieldSource::Department(_))) {
                    check.push(
                        join(&join(path, "initiator"), "field"), DetailCode::NotAllowed,
                        "an initiator is one member: use a member field, a member lookup or created_by",
                    );
                }
            }
            InitiatorRule::Member(member) => {
                if !known.members.contains(member) {
                    check.not_found(
                        join(&join(path, "initiator"), "member"),
                        "member",
                        format!("no member {member} in this organization"),
                    );
                }
            }
            InitiatorRule::CreatedBy => {}
        }
    }
    let mut status = None;
    if let Some(record_status) = &process.record_status {
        let at = join(path, "record_status");
        match table.resolve_field(&record_status.field) {
            Some(field) => match &field.kind {
                FieldKind::SingleSelect { choices } => {
                    refs.fields
                        .insert(record_status.field.clone(), FieldSource::Other(field.id));
                    for (name, value) in [
                        ("running", &record_status.running),
                        ("agree", &record_status.agree),
                        ("refuse", &record_status.refuse),
                        ("withdrawn", &record_status.withdrawn),
                        ("terminated", &record_status.terminated),
                    ] {
                        if let Some(value) = value
                            && !choices.iter().any(|choice| choice.name == *value)
                        {
                            check.push(
                                join(&at, name),
                                DetailCode::InvalidValue,
                                format!("\"{value}\" is not a choice of {}", field.key),
                            );
                        }
                    }
                    let comment_field = match &record_status.comment_field {
                        None => None,
                        Some(reference) => match table.resolve_field(reference) {
                            Some(comment)
                                if matches!(
                                    comment.kind,
                                    FieldKind::Text { .. } | FieldKind::LongText { .. }
                                ) =>
                            {
                                refs.fields
                                    .insert(reference.clone(), FieldSource::Other(comment.id));
                                Some(comment.id)
                            }
                            Some(_) => {
                                check.push(
                                    join(&at, "comment_field"),
                                    DetailCode::NotAllowed,
                                    "must be a text field",
                                );
                                None
                            }
                            None => {
                                check.push(
                                    join(&at, "comment_field"),
                                    DetailCode::UnknownField,
                                    format!(
                                        "table {} has no field \"{reference}\"",
                                        table.table.key
                                    ),
                                );
                                None
                            }
                        },
                    };
                    status = Some(StatusFields {
                        field: field.id,
                        comment_field,
                    });
                }
                _ => check.push(
                    join(&at, "field"),
                    DetailCode::NotAllowed,
                    "must be a single-select field",
                ),
            },
            None => check.push(
                join(&at, "field"),
                DetailCode::UnknownField,
                format!(
                    "table {} has no field \"{}\"",
                    table.table.key, record_status.field
                ),
            ),
        }
    }
    if let NoApprover::Member(member) = process.settings.no_approver
        && !known.members.contains(&member)
    {
        check.not_found(
            join(path, "settings.no_approver.member"),
            "member",
            format!("no member {member} in this organization"),
        );
    }
    let mut rules = |check: &mut Checker, rules: &[Rule], at: &str| {
        let mut listed = 0;
        for (r, rule) in rules.iter().enumerate() {
            check_rule(
                check,
                rule,
                &format!("{at}[{r}]"),
                known,
                &mut |check, field, at| {
                    refs.add(check, field, at, true);
                },
            );
            if let Rule::Members(members) = rule {
                listed += members.len();
            }
        }
        if listed > APPROVERS_MAX {
            check.too_many(
                at,
                APPROVERS_MAX,
                format!("at most {APPROVERS_MAX} approvers"),
            );
        }
    };
    for (c, cc) in process.cc.iter().enumerate() {
        rules(
            &mut check,
            &cc.approvers,
            &format!("{}[{c}].approvers", join(path, "cc")),
        );
    }
    let condition_schema = formula_schema(table, &|_| String::new(), &HashSet::new());
    let mut conditions = HashMap::new();
    for (i, node) in process.nodes.iter().enumerate() {
        let at = format!("{}[{i}]", join(path, "nodes"));
        match &node.kind {
            NodeKind::Approval { approvers, .. }
            | NodeKind::Handle { approvers, .. }
            | NodeKind::Cc { approvers, .. } => {
                if approvers.is_empty() {
                    check.push(
                        join(&at, "approvers"),
                        DetailCode::Required,
                        "name at least one approver rule",
                    );
                }
                rules(&mut check, approvers, &join(&at, "approvers"));
            }
            NodeKind::Condition { branches, .. } => {
                let mut formulas = Vec::with_capacity(branches.len());
                for (b, branch) in branches.iter().enumerate() {
                    match formula::check_condition(&branch.when, &condition_schema) {
                        Ok(formula) => formulas.push(Arc::new(formula)),
                        Err(found) => {
                            let when = format!("{}[{b}].when", join(&at, "branches"));
                            for error in diagnostics(&when, &found).0 {
                                check.add(error);
                            }
                        }
                    }
                }
                conditions.insert(node.key.clone(), formulas);
            }
            NodeKind::End => {}
        }
    }
    check_graph(&mut check, &process.nodes, path);
    check.finish()?;
    Ok(CompiledProcess {
        process,
        fields: refs.fields,
        conditions,
        status,
    })
}

/// The field references of a process being checked.
struct Refs<'a> {
    table: &'a TableSchema,
    tables: &'a [TableSchema],
    fields: ProcessFields,
}

impl Refs<'_> {
    /// Resolves a reference (a people field when `people`), recording it or the problem.
    fn add(
        &mut self,
        check: &mut Checker,
        reference: &str,
        at: &str,
        people: bool,
    ) -> Option<FieldSource> {
        match field_source(reference, self.table, self.tables) {
            Some(source) => {
                if people && matches!(source, FieldSource::Other(_)) {
                    check.push(
                        at, DetailCode::NotAllowed,
                        format!("\"{reference}\" is not a member, department, member lookup, created_by or modified_by field"),
                    );
                }
                self.fields.insert(reference.to_owned(), source);
                Some(source)
            }
            None => {
                check.push(
                    at,
                    DetailCode::UnknownField,
                    format!(
                        "table {} has no field \"{reference}\"",
                        self.table.table.key
                    ),
                );
                None
            }
        }
    }
}

fn check_rule(
    check: &mut Checker,
    rule: &Rule,
    at: &str,
    known: Known<'_>,
    field: &mut dyn FnMut(&mut Checker, &str, &str),
) {
    match rule {
        Rule::Members(members) => {
            for (m, member) in members.iter().enumerate() {
                if !known.members.contains(member) {
                    check.not_found(
                        format!("{at}.members[{m}]"),
                        "member",
                        format!("no member {member} in this organization"),
                    );
                }
            }
        }
        Rule::Role(role) | Rule::ManagerChainToRole(role) => {
            if !known.roles.contains(role) {
                let key = if matches!(rule, Rule::Role(_)) {
                    "role"
                } else {
                    "manager_chain.role"
                };
                check.not_found(
                    join(at, key),
                    "role",
                    format!("no role \"{role}\" in this organization"),
                );
            }
        }
        Rule::Selected(range) => {
            for (r, inner) in range.iter().enumerate() {
                check_rule(check, inner, &format!("{at}.selected[{r}]"), known, field);
            }
        }
        Rule::Field(reference) => field(check, reference, &join(at, "field")),
        Rule::Manager(_)
        | Rule::ManagerChainToLevel(_)
        | Rule::DepartmentHead
        | Rule::Initiator => {}
    }
}

/// Targets exist, node keys are unique, no cycle, every node reachable from the first.
fn check_graph(check: &mut Checker, nodes: &[Node], path: &str) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if index.insert(node.key.as_str(), i).is_some() {
            check.push(
                format!("{}[{i}].key", join(path, "nodes")),
                DetailCode::NotUnique,
                format!("\"{}\" is the key of another node", node.key),
            );
        }
    }
    let target_path = |i: usize, t: usize| match &nodes[i].kind {
        NodeKind::Condition { branches, .. } if t < branches.len() => {
            format!("{}[{i}].branches[{t}].next", join(path, "nodes"))
        }
        NodeKind::Condition { .. } => format!("{}[{i}].default", join(path, "nodes")),
        _ => format!("{}[{i}].next", join(path, "nodes")),
    };
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for (t, target) in node.kind.targets().into_iter().enumerate() {
            if target == END {
                continue;
            }
            match index.get(target) {
                Some(&j) => edges[i].push((t, j)),
                None => check.not_found(target_path(i, t), "node", format!("no node \"{target}\"")),
            }
        }
    }
    // Depth-first from the first node: a back edge is a cycle; what is never visited is unreachable.
    let mut state = vec![0u8; nodes.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    if !nodes.is_empty() {
        state[0] = 1;
        stack.push((0, 0));
    }
    while let Some((node, edge)) = stack.pop() {
        if let Some(&(t, next)) = edges[node].get(edge) {
            stack.push((node, edge + 1));
            match state[next] {
                0 => {
                    state[next] = 1;
                    stack.push((next, 0));
                }
                1 => check.push(
                    target_path(node, t), DetailCode::Cycle,
                    format!(
                        "leads back to {}: a process cannot loop (send a task back with return instead)",
                        nodes[next].key
                    ),
                ),
                _ => {}
            }
        } else {
            state[node] = 2;
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        if state[i] == 0 {
            check.push(
                format!("{}[{i}]", join(path, "nodes")),
                DetailCode::InvalidValue,
                format!(
                    "node {} cannot be reached from the first node {}",
                    node.key, nodes[0].key
                ),
            );
        }
    }
}

/// What a field reference reads, if the table has the field (`created_by`/`modified_by` always exist).
fn field_source(
    reference: &str,
    table: &TableSchema,
    tables: &[TableSchema],
) -> Option<FieldSource> {
    let Some(field) = table.resolve_field(reference) else {
        return match reference {
            "created_by" => Some(FieldSource::CreatedBy),
            "modified_by" => Some(FieldSource::ModifiedBy),
            _ => None,
        };
    };
    Some(match &field.kind {
        FieldKind::Member { .. } => FieldSource::Member(field.id),
        FieldKind::Department { .. } => FieldSource::Department(field.id),
        FieldKind::CreatedBy => FieldSource::CreatedBy,
        FieldKind::ModifiedBy => FieldSource::ModifiedBy,
        FieldKind::Lookup {
            field: looked_up, ..
        } => {
            let target = looked_up.id().and_then(|id| {
                tables
                    .iter()
                    .flat_map(|schema| &schema.fields)
                    .find(|candidate| candidate.id == id)
            });
            match target.map(|target| &target.kind) {
                Some(FieldKind::Member { .. }) => FieldSource::MemberLookup(field.id),
                _ => FieldSource::Other(field.id),
            }
        }
        _ => FieldSource::Other(field.id),
    })
}

/// A compiled process as kept with its version: the definition, field ids and stored conditions.
pub fn freeze(compiled: &CompiledProcess) -> Value {
    let fields: Map<String, Value> = compiled
        .fields
        .iter()
        .map(|(reference, source)| {
            let (tag, id) = source.tag();
            (
                reference.clone(),
                json!({"source": tag, "id": id.map(|id| id.to_string())}),
            )
        })
        .collect();
    let conditions: Map<String, Value> = compiled
        .conditions
        .iter()
        .map(|(node, formulas)| {
            (
                node.clone(),
                Value::Array(
                    formulas
                        .iter()
                        .map(|formula| json!(formula.stored()))
                        .collect(),
                ),
            )
        })
        .collect();
    json!({
        "definition": crate::definition::to_json(&compiled.process),
        "fields": fields,
        "conditions": conditions,
    })
}

/// Loads a frozen version against the table as it is now. Fails (with a reason for the operator) when a
/// field the version reads was deleted or its conditions no longer check.
pub fn thaw(frozen: &Value, table: &TableSchema) -> Result<CompiledProcess, String> {
    let process = Process::parse(&frozen["definition"], "")
        .map_err(|invalid| format!("the stored definition does not parse: {invalid}"))?;
    let mut fields = ProcessFields::new();
    for (reference, entry) in frozen["fields"].as_object().into_iter().flatten() {
        let id = entry["id"]
            .as_str()
            .and_then(|id| id.parse::<FieldId>().ok());
        let source = entry["source"]
            .as_str()
            .and_then(|tag| FieldSource::from_tag(tag, id))
            .ok_or_else(|| format!("field reference {reference} is not readable"))?;
        if let Some(id) = source.field_id()
            && table.field(id).is_none()
        {
            return Err(format!(
                "field \"{reference}\" the process reads was deleted from table {}",
                table.table.key
            ));
        }
        fields.insert(reference.clone(), source);
    }
    let schema = formula_schema(table, &|_| String::new(), &HashSet::new());
    let mut conditions = HashMap::new();
    for (node, stored) in frozen["conditions"].as_object().into_iter().flatten() {
        let formulas = stored
            .as_array()
            .into_iter()
            .flatten()
            .map(|stored| {
                let text = stored.as_str().unwrap_or_default();
                formula::check_stored(text, &schema)
                    .map(Arc::new)
                    .map_err(|found| {
                        let reasons: Vec<String> = found.iter().map(ToString::to_string).collect();
                        format!(
                            "a condition of node {node} no longer checks: {}",
                            reasons.join("; ")
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        conditions.insert(node.clone(), formulas);
    }
    let status = process.record_status.as_ref().and_then(|status| {
        let field = fields.get(&status.field)?.field_id()?;
        let comment_field = status
            .comment_field
            .as_ref()
            .and_then(|comment| fields.get(comment)?.field_id());
        Some(StatusFields {
            field,
            comment_field,
        })
    });
    Ok(CompiledProcess {
        process,
        fields,
        conditions,
        status,
    })
}
