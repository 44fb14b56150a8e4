//! Apps as code: an app's whole schema as one definition, and the migration from what exists to what a
//! definition describes, as a list of steps that `diff` shows and `import` applies.
//!
//! A link pair is described once, on the field that owns it (the one created first), with `inverse_key`,
//! `inverse_name` and `inverse_multiple`; the inverse field is not listed on the other table.

use std::collections::HashMap;
use std::fmt;

use crate::FieldId;
use crate::apps::field::{FieldKind, FieldSpec, LinkTarget};
use crate::apps::view::{View, ViewType};
use crate::apps::{ApiKey, App, Field, TableSchema};
use crate::values::Name;

#[derive(Debug, Clone, PartialEq)]
pub struct AppDefinition {
    pub key: ApiKey,
    pub name: Name,
    pub description: Option<String>,
    pub tables: Vec<TableDefinition>,
    /// Matched to existing dashboards by key (checked against the tables when applied).
    pub dashboards: Vec<crate::apps::dashboard::Dashboard>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub key: ApiKey,
    pub name: Name,
    pub primary_field: Option<ApiKey>,
    pub unique_together: Vec<Vec<ApiKey>>,
    /// Composite indexes, each a list of field keys in index order.
    pub indexes: Vec<Vec<ApiKey>>,
    /// Every field has a key (definitions are matched to existing schemas by key).
    pub fields: Vec<FieldSpec>,
    /// (condition formula as typed, message).
    pub validation_rules: Vec<(String, String)>,
    /// Matched to existing views by key.
    pub views: Vec<ViewDefinition>,
}

/// A view as a definition describes it (checked against the table when applied).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewDefinition {
    pub key: ApiKey,
    pub name: Name,
    pub view_type: ViewType,
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl AppDefinition {
    /// Every view whose `public.as_role` names none of `roles` — the keys of the permissions roles the
    /// app will have after the import (the file's, else the stored ones) — at
    /// `tables[t].views[v].config.public.as_role`, the file's own indexes.
    pub fn check_public_roles(&self, roles: &[String]) -> Result<(), crate::Invalid> {
        let problems: Vec<crate::FieldError> = self
            .tables
            .iter()
            .enumerate()
            .flat_map(|(t, table)| {
                table.views.iter().enumerate().filter_map(move |(v, view)| {
                    crate::apps::view::unknown_public_role(
                        &view.config,
                        roles,
                        &format!("tables[{t}].views[{v}].config"),
                    )
                })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::Invalid(problems))
        }
    }
}

impl TableDefinition {
    pub fn field(&self, key: &ApiKey) -> Option<&FieldSpec> {
        self.fields
            .iter()
            .find(|spec| spec.key.as_ref() == Some(key))
    }
}

/// One step of a migration. Steps reference tables and fields by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateApp,
    UpdateApp,
    /// Creates the table with its fields that are not links.
    CreateTable {
        table: ApiKey,
    },
    /// Adds a field to an existing table, or a link field to any table.
    AddField {
        table: ApiKey,
        field: ApiKey,
    },
    UpdateField {
        table: ApiKey,
        field: ApiKey,
        changes: Vec<&'static str>,
    },
    DeleteField {
        table: ApiKey,
        field: ApiKey,
    },
    /// Sets name, primary field and composite unique keys.
    UpdateTable {
        table: ApiKey,
        changes: Vec<&'static str>,
    },
    DeleteTable {
        table: ApiKey,
    },
    /// Creates, changes and deletes views to match the definition (views hold no data).
    UpdateViews {
        table: ApiKey,
    },
    /// Creates, changes and deletes the app's dashboards to match the definition (they hold no data).
    UpdateDashboards,
}

impl Step {
    /// Whether the step destroys data.
    pub fn deletes(&self) -> bool {
        matches!(self, Step::DeleteField { .. } | Step::DeleteTable { .. })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateApp => write!(f, "+ app"),
            Step::UpdateApp => write!(f, "~ app: name or description"),
            Step::CreateTable { table } => write!(f, "+ table {table}"),
            Step::AddField { table, field } => write!(f, "+ field {table}.{field}"),
            Step::UpdateField {
                table,
                field,
                changes,
            } => write!(f, "~ field {table}.{field}: {}", changes.join(", ")),
            Step::DeleteField { table, field } => {
                write!(f, "- field {table}.{field} (and its values)")
            }
            Step::UpdateTable { table, changes } => {
                write!(f, "~ table {table}: {}", changes.join(", "))
            }
            Step::DeleteTable { table } => write!(f, "- table {table} (and its records)"),
            Step::UpdateViews { table } => write!(f, "~ views of table {table}"),
            Step::UpdateDashboards => write!(f, "~ dashboards"),
        }
    }
}

/// An existing app with its tables and their views, as the plan compares them.
#[derive(Debug, Clone)]
pub struct CurrentApp {
    pub app: App,
    pub tables: Vec<TableSchema>,
    pub views: HashMap<crate::ids::TableId, Vec<View>>,
    /// The app's dashboards, in order.
    pub dashboards: Vec<crate::apps::dashboard::Dashboard>,
}

/// Whether existing views match the definition's (same keys in order, names, types and settings).
fn same_views(current: &[View], wanted: &[ViewDefinition]) -> bool {
    current.len() == wanted.len()
        && current.iter().zip(wanted).all(|(have, want)| {
            have.key == want.key
                && have.name == want.name
                && have.view_type == want.view_type
                && have.config == want.config
        })
}

/// Whether a link field owns its pair (was created first); the other side is described by the owner.
pub fn owns_link(field: &Field) -> bool {
    match &field.kind {
        FieldKind::Link {
            inverse: Some(inverse),
            ..
        } => field.id < *inverse,
        _ => true,
    }
}

/// Whether a field is added after every table and link exists (it reads other fields).
fn comes_late(kind: &FieldKind) -> bool {
    kind.field_type().is_computed()
}

/// The order steps run in: plain fields and links first, computed fields once what they read exists,
/// computed fields deleted before what they read, table settings last.
fn rank(step: &Step, definition: &AppDefinition, current: Option<&CurrentApp>) -> u8 {
    let wanted = |table: &ApiKey, field: &ApiKey| {
        definition
            .tables
            .iter()
            .find(|t| t.key == *table)
            .and_then(|t| t.field(field))
            .is_some_and(|spec| comes_late(&spec.kind))
    };
    let existing = |table: &ApiKey, field: &ApiKey| {
        current
            .and_then(|current| current.tables.iter().find(|t| t.table.key == *table))
            .and_then(|schema| schema.field_by_key(field.as_str()))
            .is_some_and(|field| comes_late(&field.kind))
    };
    match step {
        Step::CreateApp | Step::UpdateApp | Step::CreateTable { .. } => 0,
        Step::AddField { table, field } | Step::UpdateField { table, field, .. } => {
            if wanted(table, field) { 3 } else { 1 }
        }
        Step::DeleteField { table, field } => {
            if existing(table, field) {
                0
            } else {
                2
            }
        }
        Step::UpdateTable { .. } | Step::UpdateViews { .. } => 4,
        Step::UpdateDashboards => 6,
        Step::DeleteTable { .. } => 5,
    }
}

/// The steps that turn `current` (or nothing) into `definition`.
pub fn plan(definition: &AppDefinition, current: Option<&CurrentApp>) -> Vec<Step> {
    let mut steps = unordered_plan(definition, current);
    steps.sort_by_key(|step| rank(step, definition, current));
    order_computed(&mut steps, definition);
    steps
}

/// Puts the steps that add or change computed fields in an order where each comes after the computed
/// fields it reads (a rollup over another table's formula, a formula over a lookup), whatever the order of
/// the tables in the file. A cycle keeps the file order (and the import reports it).
/// A field of a definition: (table key, field key).
type FieldAt = (ApiKey, ApiKey);

fn order_computed(steps: &mut [Step], definition: &AppDefinition) {
    let node = |step: &Step| match step {
        Step::AddField { table, field } | Step::UpdateField { table, field, .. } => {
            Some((table.clone(), field.clone()))
        }
        _ => None,
    };
    let spec_of = |table: &ApiKey, field: &ApiKey| {
        definition
            .tables
            .iter()
            .find(|t| t.key == *table)
            .and_then(|t| t.field(field))
    };
    let computed: Vec<usize> = (0..steps.len())
        .filter(|&i| {
            node(&steps[i])
                .and_then(|(table, field)| spec_of(&table, &field))
                .is_some_and(|spec| comes_late(&spec.kind))
        })
        .collect();
    if computed.len() < 2 {
        return;
    }
    let inputs = |table: &ApiKey, field: &ApiKey| -> Vec<(ApiKey, ApiKey)> {
        let Some(owner) = definition.tables.iter().find(|t| t.key == *table) else {
            return Vec::new();
        };
        let Some(spec) = owner.field(field) else {
            return Vec::new();
        };
        match &spec.kind {
            FieldKind::Formula { formula } => {
                let text = formula.text();
                owner
                    .fields
                    .iter()
                    .filter(|other| text.contains(&format!("{{{}}}", other.name)))
                    .filter_map(|other| other.key.clone().map(|key| (owner.key.clone(), key)))
                    .collect()
            }
            FieldKind::Lookup { link, field, .. } | FieldKind::Rollup { link, field, .. } => {
                let (crate::apps::FieldRef::Named(link), crate::apps::FieldRef::Named(read)) =
                    (link, field)
                else {
                    return Vec::new();
                };
                // The linked table: named by this table's link, or the table whose link has it as inverse.
                let target = owner
                    .fields
                    .iter()
                    .find(|f| f.key.as_ref().is_some_and(|key| key.as_str() == link))
                    .and_then(|f| match &f.kind {
                        FieldKind::Link {
                            table: LinkTarget::Named(name),
                            ..
                        } => Some(name.clone()),
                        _ => None,
                    })
                    .or_else(|| {
                        definition
                            .tables
                            .iter()
                            .find(|t| {
                                t.fields.iter().any(|f| {
                                    f.inverse_key
                                        .as_ref()
                                        .is_some_and(|key| key.as_str() == link)
                                })
                            })
                            .map(|t| t.key.to_string())
                    });
                target
                    .and_then(|target| ApiKey::parse(&target).ok())
                    .zip(ApiKey::parse(read).ok())
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    };
    let originals: Vec<Step> = computed.iter().map(|&i| steps[i].clone()).collect();
    let keys: Vec<(ApiKey, ApiKey)> = originals.iter().filter_map(node).collect();
    let mut ordered: Vec<usize> = Vec::with_capacity(keys.len());
    let mut state = vec![0u8; keys.len()];
    fn visit(
        i: usize,
        keys: &[FieldAt],
        inputs: &dyn Fn(&ApiKey, &ApiKey) -> Vec<FieldAt>,
        state: &mut [u8],
        ordered: &mut Vec<usize>,
    ) {
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        for input in inputs(&keys[i].0, &keys[i].1) {
            if let Some(j) = keys.iter().position(|key| *key == input) {
                visit(j, keys, inputs, state, ordered);
            }
        }
        state[i] = 2;
        ordered.push(i);
    }
    for i in 0..keys.len() {
        visit(i, &keys, &inputs, &mut state, &mut ordered);
    }
    for (slot, from) in computed.iter().zip(ordered) {
        steps[*slot] = originals[from].clone();
    }
}

fn unordered_plan(definition: &AppDefinition, current: Option<&CurrentApp>) -> Vec<Step> {
    let Some(current) = current else {
        let mut steps = vec![Step::CreateApp];
        steps.extend(definition.tables.iter().map(|table| Step::CreateTable {
            table: table.key.clone(),
        }));
        for table in &definition.tables {
            for spec in table.fields.iter().filter(|spec| created_apart(&spec.kind)) {
                if let Some(key) = &spec.key {
                    steps.push(Step::AddField {
                        table: table.key.clone(),
                        field: key.clone(),
                    });
                }
            }
            if table.primary_field.is_some()
                || !table.unique_together.is_empty()
                || !table.indexes.is_empty()
                || !table.validation_rules.is_empty()
            {
                steps.push(Step::UpdateTable {
                    table: table.key.clone(),
                    changes: vec![
                        "primary_field",
                        "unique_together",
                        "indexes",
                        "validation_rules",
                    ],
                });
            }
            if !table.views.is_empty() {
                steps.push(Step::UpdateViews {
                    table: table.key.clone(),
                });
            }
        }
        if !definition.dashboards.is_empty() {
            steps.push(Step::UpdateDashboards);
        }
        return steps;
    };
    let mut steps = Vec::new();
    if current.app.name != definition.name || current.app.description != definition.description {
        steps.push(Step::UpdateApp);
    }
    let existing: HashMap<&ApiKey, &TableSchema> = current
        .tables
        .iter()
        .map(|schema| (&schema.table.key, schema))
        .collect();
    let keys = crate::apps::Keys::of_schemas(&current.tables);
    let mut later = Vec::new();
    for table in &definition.tables {
        match existing.get(&table.key) {
            None => {
                steps.push(Step::CreateTable {
                    table: table.key.clone(),
                });
                for spec in table.fields.iter().filter(|spec| created_apart(&spec.kind)) {
                    if let Some(key) = &spec.key {
                        later.push(Step::AddField {
                            table: table.key.clone(),
                            field: key.clone(),
                        });
                    }
                }
                if table.primary_field.is_some()
                    || !table.unique_together.is_empty()
                    || !table.indexes.is_empty()
                    || !table.validation_rules.is_empty()
                {
                    later.push(Step::UpdateTable {
                        table: table.key.clone(),
                        changes: vec![
                            "primary_field",
                            "unique_together",
                            "indexes",
                            "validation_rules",
                        ],
                    });
                }
                if !table.views.is_empty() {
                    later.push(Step::UpdateViews {
                        table: table.key.clone(),
                    });
                }
            }
            Some(schema) => {
                for spec in &table.fields {
                    let Some(key) = &spec.key else { continue };
                    match schema.field_by_key(key.as_str()) {
                        None => later.push(Step::AddField {
                            table: table.key.clone(),
                            field: key.clone(),
                        }),
                        Some(field) => {
                            let changes = field_changes(field, spec, &keys);
                            if !changes.is_empty() {
                                later.push(Step::UpdateField {
                                    table: table.key.clone(),
                                    field: key.clone(),
                                    changes,
                                });
                            }
                        }
                    }
                }
                for field in &schema.fields {
                    if owns_link(field) && table.field(&field.key).is_none() {
                        later.push(Step::DeleteField {
                            table: table.key.clone(),
                            field: field.key.clone(),
                        });
                    }
                }
                let mut changes = Vec::new();
                if schema.table.name != table.name {
                    changes.push("name");
                }
                let primary = schema.primary_field().map(|field| &field.key);
                if table.primary_field.is_some() && primary != table.primary_field.as_ref() {
                    changes.push("primary_field");
                }
                if group_keys(schema, &schema.table.unique_together)
                    != table
                        .unique_together
                        .iter()
                        .map(|group| group.iter().collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                {
                    changes.push("unique_together");
                }
                if group_keys(schema, &schema.table.indexes)
                    != table
                        .indexes
                        .iter()
                        .map(|group| group.iter().collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                {
                    changes.push("indexes");
                }
                let current_rules: Vec<(&str, &str)> = schema
                    .table
                    .validation_rules
                    .iter()
                    .map(|rule| (rule.formula.text(), rule.message.as_str()))
                    .collect();
                let wanted_rules: Vec<(&str, &str)> = table
                    .validation_rules
                    .iter()
                    .map(|(formula, message)| (formula.as_str(), message.as_str()))
                    .collect();
                if current_rules != wanted_rules {
                    changes.push("validation_rules");
                }
                let current_views = current
                    .views
                    .get(&schema.table.id)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if !same_views(current_views, &table.views) {
                    later.push(Step::UpdateViews {
                        table: table.key.clone(),
                    });
                }
                if !changes.is_empty() {
                    later.push(Step::UpdateTable {
                        table: table.key.clone(),
                        changes,
                    });
                }
            }
        }
    }
    steps.extend(later);
    if current.dashboards != definition.dashboards {
        steps.push(Step::UpdateDashboards);
    }
    for schema in &current.tables {
        if !definition
            .tables
            .iter()
            .any(|table| table.key == schema.table.key)
        {
            steps.push(Step::DeleteTable {
                table: schema.table.key.clone(),
            });
        }
    }
    steps
}

/// Fields not created with their table: links (the other table may not exist yet) and computed fields
/// (what they read may not exist yet).
pub fn created_apart(kind: &FieldKind) -> bool {
    matches!(kind, FieldKind::Link { .. }) || comes_late(kind)
}

/// What differs between an existing field and its definition.
fn field_changes(field: &Field, spec: &FieldSpec, keys: &crate::apps::Keys) -> Vec<&'static str> {
    let mut changes = Vec::new();
    if field.name != spec.name {
        changes.push("name");
    }
    if field.field_type() != spec.kind.field_type() {
        changes.push("type");
    } else if !same_options(&field.kind, &spec.kind, keys) {
        changes.push("options");
    }
    if field.required != spec.required {
        changes.push("required");
    }
    if field.unique != spec.unique {
        changes.push("unique");
    }
    if field.indexed != spec.indexed {
        changes.push("indexed");
    }
    if field.default != spec.default {
        changes.push("default");
    }
    changes
}

fn same_options(current: &FieldKind, wanted: &FieldKind, keys: &crate::apps::Keys) -> bool {
    use crate::apps::KeyLookup;
    match (current, wanted) {
        (
            FieldKind::Lookup { .. } | FieldKind::Rollup { .. } | FieldKind::Count { .. },
            FieldKind::Lookup { .. } | FieldKind::Rollup { .. } | FieldKind::Count { .. },
        ) => current.options_json(keys) == wanted.options_json(keys),
        (
            FieldKind::Link {
                table: LinkTarget::Resolved(id),
                multiple,
                ..
            },
            FieldKind::Link {
                table: LinkTarget::Named(name),
                multiple: wanted_multiple,
                ..
            },
        ) => keys.table_key(*id).is_some_and(|key| key == *name) && multiple == wanted_multiple,
        (
            FieldKind::SingleSelect { choices: have } | FieldKind::MultiSelect { choices: have },
            FieldKind::SingleSelect { choices: want } | FieldKind::MultiSelect { choices: want },
        ) => {
            have.len() == want.len()
                && have
                    .iter()
                    .zip(want)
                    .all(|(a, b)| a.name == b.name && a.color == b.color)
        }
        (current, wanted) => current == wanted,
    }
}

/// Gives the definition's select choices the ids of existing choices of the same name, so that a
/// definition written without ids does not read as "every choice replaced".
pub fn adopt_choice_ids(spec: &mut FieldSpec, existing: &Field) {
    let (FieldKind::SingleSelect { choices: wanted } | FieldKind::MultiSelect { choices: wanted }) =
        &mut spec.kind
    else {
        return;
    };
    let (FieldKind::SingleSelect { choices: have } | FieldKind::MultiSelect { choices: have }) =
        &existing.kind
    else {
        return;
    };
    for choice in wanted.iter_mut() {
        if have.iter().any(|current| current.id == choice.id) {
            continue;
        }
        if let Some(current) = have.iter().find(|current| current.name == choice.name) {
            choice.id = current.id.clone();
        }
    }
}

/// Groups of field ids (unique keys, composite indexes) as the keys of their fields.
fn group_keys<'a>(schema: &'a TableSchema, groups: &[Vec<FieldId>]) -> Vec<Vec<&'a ApiKey>> {
    groups
        .iter()
        .map(|group| {
            group
                .iter()
                .filter_map(|id| schema.field(*id).map(|field| &field.key))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(key: &str, config: serde_json::Value) -> ViewDefinition {
        ViewDefinition {
            key: ApiKey::parse(key).unwrap(),
            name: Name::parse(key).unwrap(),
            view_type: ViewType::Grid,
            config: config.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn a_published_grid_names_one_of_the_roles_the_app_will_have() {
        let table = TableDefinition {
            key: ApiKey::parse("rooms").unwrap(),
            name: Name::parse("Rooms").unwrap(),
            primary_field: None,
            unique_together: Vec::new(),
            indexes: Vec::new(),
            fields: Vec::new(),
            validation_rules: Vec::new(),
            views: vec![
                view("all", json!({})),
                view(
                    "free",
                    json!({"public": {"enabled": true, "as_role": "guests"}}),
                ),
                view(
                    "off",
                    json!({"public": {"enabled": false, "as_role": null}}),
                ),
            ],
        };
        let app = AppDefinition {
            key: ApiKey::parse("hostel").unwrap(),
            name: Name::parse("Hostel").unwrap(),
            description: None,
            tables: vec![table.clone(), table],
            dashboards: Vec::new(),
        };
        assert!(app.check_public_roles(&["guests".to_owned()]).is_ok());
        let problems = app.check_public_roles(&["staff".to_owned()]).unwrap_err().0;
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "tables[0].views[1].config.public.as_role",
                "tables[1].views[1].config.public.as_role"
            ]
        );
        assert_eq!(problems[0].code, crate::DetailCode::UnknownOption);
    }
}
