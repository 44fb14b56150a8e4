//! App permissions (issue #19): who in the organization may read, create, update, delete and export which
//! rows and fields of an app's tables.
//!
//! The document is JSON (the same under `permissions:` in a definition):
//! `{"roles": [{"key", "name", "who": {"everyone"?, "members", "departments", "roles", "sub_departments"?},
//! "grants": [{"table", "actions": {"read": true | "<row rule>", "create", "update", "delete", "export"},
//! "fields": {"hidden": [keys], "read_only": [keys]}}]}]}`. An absent action is not granted; `export`
//! follows `read`'s rows. Row rules are formulas over the record and the person ([`rule`]); they are
//! lowered to record filters, so the store applies them in SQL with bound values.
//!
//! [`PermissionsDoc::parse`] checks the shape (unknown keys are refused) and [`PermissionsDoc::check`]
//! checks it against the app (tables, fields, custom roles, departments and members). [`access`] resolves
//! what one member may do with one table; [`reveal`] hides the computed fields that would reveal a
//! hidden field.

pub mod access;
pub mod reveal;
pub mod rule;

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::apps::TableSchema;
use crate::ids::{DepartmentId, MemberId};
use crate::validation::{DetailCode, FieldError, Invalid};

pub use access::{Person, Rows, TableAccess};
pub use reveal::looked_up_tables;
pub use rule::RowRule;

/// Most app roles a document may have.
pub const ROLES_MAX: usize = 100;
/// Most grants one role may have.
pub const GRANTS_MAX: usize = 200;

/// The five actions a grant may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordAction {
    Read,
    Create,
    Update,
    Delete,
    Export,
}

impl RecordAction {
    pub const ALL: [RecordAction; 5] = [
        RecordAction::Read,
        RecordAction::Create,
        RecordAction::Update,
        RecordAction::Delete,
        RecordAction::Export,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RecordAction::Read => "read",
            RecordAction::Create => "create",
            RecordAction::Update => "update",
            RecordAction::Delete => "delete",
            RecordAction::Export => "export",
        }
    }

    pub fn parse(raw: &str) -> Option<RecordAction> {
        RecordAction::ALL
            .into_iter()
            .find(|action| action.as_str() == raw)
    }
}

/// What an action allows: every row, or the rows a rule accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionRule {
    All,
    /// The rule as written.
    Rule(String),
}

/// Who an app role is for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Who {
    /// Every member of the organization (the shipped templates' base roles: directory ids are not
    /// portable between organizations).
    pub everyone: bool,
    pub members: Vec<String>,
    pub departments: Vec<String>,
    /// Custom role keys (`/api/v1/roles`).
    pub roles: Vec<String>,
    /// Members of sub-departments of `departments` count too.
    pub sub_departments: bool,
}

/// One grant: a table, the actions allowed on it and the fields hidden or read-only.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// Table key (or id).
    pub table: String,
    /// In [`RecordAction::ALL`] order; absent actions are not granted.
    pub actions: Vec<(RecordAction, ActionRule)>,
    pub hidden: Vec<String>,
    pub read_only: Vec<String>,
}

impl Grant {
    pub fn action(&self, action: RecordAction) -> Option<&ActionRule> {
        self.actions
            .iter()
            .find(|(own, _)| *own == action)
            .map(|(_, rule)| rule)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppRole {
    pub key: String,
    pub name: String,
    pub who: Who,
    pub grants: Vec<Grant>,
}

/// An app's permissions document, its shape checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PermissionsDoc {
    pub roles: Vec<AppRole>,
}

/// What a document is checked against: the app's tables and the organization's directory.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    pub tables: &'a [TableSchema],
    /// Custom roles: (key, name).
    pub roles: &'a [(String, String)],
    pub departments: &'a HashSet<DepartmentId>,
    pub members: &'a HashSet<MemberId>,
}

fn problem(path: &str, code: DetailCode, message: impl Into<String>) -> FieldError {
    FieldError::new(path, code, message)
}

fn object<'a>(
    value: &'a Value,
    path: &str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<&'a Map<String, Value>> {
    let Some(map) = value.as_object() else {
        errors.push(
            problem(path, DetailCode::WrongType, "must be an object").with("expected", "object"),
        );
        return None;
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            errors.push(
                problem(
                    &at,
                    DetailCode::UnknownOption,
                    format!("unknown key \"{key}\""),
                )
                .with("allowed", allowed.to_vec()),
            );
        }
    }
    Some(map)
}

fn text(value: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) -> String {
    match value {
        Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
        Some(Value::String(_)) => {
            errors.push(problem(path, DetailCode::Empty, "must not be empty"));
            String::new()
        }
        None | Some(Value::Null) => {
            errors.push(problem(path, DetailCode::Required, "is required"));
            String::new()
        }
        Some(_) => {
            errors.push(
                problem(path, DetailCode::WrongType, "must be a string").with("expected", "string"),
            );
            String::new()
        }
    }
}

fn texts(value: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| text(Some(item), &format!("{path}[{i}]"), errors))
            .collect(),
        Some(_) => {
            errors.push(
                problem(path, DetailCode::WrongType, "must be a list of strings")
                    .with("expected", "array"),
            );
            Vec::new()
        }
    }
}

impl PermissionsDoc {
    /// The keys of the document's roles (what a published grid's `public.as_role` may name).
    pub fn role_keys(&self) -> Vec<String> {
        self.roles.iter().map(|role| role.key.clone()).collect()
    }

    /// Reads the document's shape; every problem is reported with its path (`roles[0].grants[1].table`).
    pub fn parse(value: &Value) -> Result<PermissionsDoc, Invalid> {
        let mut errors = Vec::new();
        let mut doc = PermissionsDoc::default();
        if let Some(root) = object(value, "", &["roles"], &mut errors) {
            match root.get("roles") {
                None | Some(Value::Null) => {}
                Some(Value::Array(roles)) => {
                    if roles.len() > ROLES_MAX {
                        errors.push(
                            problem(
                                "roles",
                                DetailCode::TooMany,
                                format!("at most {ROLES_MAX} roles"),
                            )
                            .with("max", ROLES_MAX),
                        );
                    }
                    for (i, role) in roles.iter().enumerate() {
                        if let Some(role) = parse_role(role, &format!("roles[{i}]"), &mut errors) {
                            doc.roles.push(role);
                        }
                    }
                }
                Some(_) => errors.push(
                    problem("roles", DetailCode::WrongType, "must be a list")
                        .with("expected", "array"),
                ),
            }
        }
        if errors.is_empty() {
            Ok(doc)
        } else {
            Err(Invalid(errors))
        }
    }

    /// The document as JSON, the shape [`PermissionsDoc::parse`] reads.
    pub fn to_json(&self) -> Value {
        let roles: Vec<Value> = self
            .roles
            .iter()
            .map(|role| {
                let mut who = json!({
                    "members": role.who.members,
                    "departments": role.who.departments,
                    "roles": role.who.roles,
                });
                if role.who.sub_departments {
                    who["sub_departments"] = Value::Bool(true);
                }
                if role.who.everyone {
                    who["everyone"] = Value::Bool(true);
                }
                let grants: Vec<Value> = role
                    .grants
                    .iter()
                    .map(|grant| {
                        let actions: Map<String, Value> = grant
                            .actions
                            .iter()
                            .map(|(action, rule)| {
                                let value = match rule {
                                    ActionRule::All => Value::Bool(true),
                                    ActionRule::Rule(text) => Value::String(text.clone()),
                                };
                                (action.as_str().to_owned(), value)
                            })
                            .collect();
                        json!({
                            "table": grant.table,
                            "actions": actions,
                            "fields": {"hidden": grant.hidden, "read_only": grant.read_only},
                        })
                    })
                    .collect();
                json!({"key": role.key, "name": role.name, "who": who, "grants": grants})
            })
            .collect();
        json!({ "roles": roles })
    }

    /// Checks the document against the app: every table, field, custom role, department and member it
    /// names exists, keys are unique, and every row rule type-checks (with its span).
    pub fn check(&self, context: &CheckContext<'_>) -> Result<(), Invalid> {
        let mut errors = Vec::new();
        let mut keys = HashSet::new();
        for (r, role) in self.roles.iter().enumerate() {
            let path = format!("roles[{r}]");
            if !keys.insert(role.key.as_str()) {
                errors.push(problem(
                    &format!("{path}.key"),
                    DetailCode::Duplicate,
                    format!("two roles have the key \"{}\"", role.key),
                ));
            }
            for (i, member) in role.who.members.iter().enumerate() {
                let known = member
                    .parse::<MemberId>()
                    .is_ok_and(|id| context.members.contains(&id));
                if !known {
                    errors.push(
                        problem(
                            &format!("{path}.who.members[{i}]"),
                            DetailCode::NotFound,
                            format!("no member \"{member}\" in this organization"),
                        )
                        .with("what", "member"),
                    );
                }
            }
            for (i, department) in role.who.departments.iter().enumerate() {
                let known = department
                    .parse::<DepartmentId>()
                    .is_ok_and(|id| context.departments.contains(&id));
                if !known {
                    errors.push(
                        problem(
                            &format!("{path}.who.departments[{i}]"),
                            DetailCode::NotFound,
                            format!("no department \"{department}\" in this organization"),
                        )
                        .with("what", "department"),
                    );
                }
            }
            for (i, custom) in role.who.roles.iter().enumerate() {
                if !context.roles.iter().any(|(key, _)| key == custom) {
                    errors.push(
                        problem(
                            &format!("{path}.who.roles[{i}]"),
                            DetailCode::NotFound,
                            format!(
                                "no role \"{custom}\" in this organization (see /api/v1/roles)"
                            ),
                        )
                        .with("what", "role"),
                    );
                }
            }
            for (g, grant) in role.grants.iter().enumerate() {
                check_grant(grant, &format!("{path}.grants[{g}]"), context, &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid(errors))
        }
    }
}

/// The table of a grant, by key or id.
pub fn grant_table<'a>(tables: &'a [TableSchema], reference: &str) -> Option<&'a TableSchema> {
    tables.iter().find(|schema| {
        schema.table.key.as_str() == reference || schema.table.id.to_string() == reference
    })
}

fn check_grant(
    grant: &Grant,
    path: &str,
    context: &CheckContext<'_>,
    errors: &mut Vec<FieldError>,
) {
    let Some(schema) = grant_table(context.tables, &grant.table) else {
        errors.push(
            problem(
                &format!("{path}.table"),
                DetailCode::NotFound,
                format!("no table \"{}\" in this app", grant.table),
            )
            .with("what", "table"),
        );
        return;
    };
    for (list, name) in [(&grant.hidden, "hidden"), (&grant.read_only, "read_only")] {
        for (i, key) in list.iter().enumerate() {
            if schema.field_by_key(key).is_none() {
                errors.push(problem(
                    &format!("{path}.fields.{name}[{i}]"),
                    DetailCode::UnknownField,
                    format!("no field \"{key}\" in table {}", schema.table.key),
                ));
            }
        }
    }
    for (action, rule) in &grant.actions {
        if let ActionRule::Rule(text) = rule
            && let Err(found) = RowRule::check(text, schema, context.roles)
        {
            let at = format!("{path}.actions.{}", action.as_str());
            errors.extend(found.into_iter().map(|error| error.at(at.clone())));
        }
    }
}

fn parse_role(value: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<AppRole> {
    let map = object(value, path, &["key", "name", "who", "grants"], errors)?;
    let key = text(map.get("key"), &format!("{path}.key"), errors);
    if !key.is_empty() && crate::apps::ApiKey::parse(&key).is_err() {
        errors.push(
            problem(
                &format!("{path}.key"),
                DetailCode::InvalidFormat,
                "a key is lowercase letters, digits and underscores, starting with a letter",
            )
            .with("format", "key"),
        );
    }
    let name = text(map.get("name"), &format!("{path}.name"), errors);
    let mut who = Who::default();
    if let Some(raw) = map.get("who").filter(|raw| !raw.is_null()) {
        let who_path = format!("{path}.who");
        if let Some(who_map) = object(
            raw,
            &who_path,
            &[
                "everyone",
                "members",
                "departments",
                "roles",
                "sub_departments",
            ],
            errors,
        ) {
            who.members = texts(
                who_map.get("members"),
                &format!("{who_path}.members"),
                errors,
            );
            who.departments = texts(
                who_map.get("departments"),
                &format!("{who_path}.departments"),
                errors,
            );
            who.roles = texts(who_map.get("roles"), &format!("{who_path}.roles"), errors);
            for (key, flag) in [
                ("sub_departments", &mut who.sub_departments),
                ("everyone", &mut who.everyone),
            ] {
                match who_map.get(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::Bool(value)) => *flag = *value,
                    Some(_) => errors.push(
                        problem(
                            &format!("{who_path}.{key}"),
                            DetailCode::WrongType,
                            "must be true or false",
                        )
                        .with("expected", "boolean"),
                    ),
                }
            }
        }
    }
    let mut grants = Vec::new();
    match map.get("grants") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > GRANTS_MAX {
                errors.push(
                    problem(
                        &format!("{path}.grants"),
                        DetailCode::TooMany,
                        format!("at most {GRANTS_MAX} grants per role"),
                    )
                    .with("max", GRANTS_MAX),
                );
            }
            for (i, item) in items.iter().enumerate() {
                if let Some(grant) = parse_grant(item, &format!("{path}.grants[{i}]"), errors) {
                    grants.push(grant);
                }
            }
        }
        Some(_) => errors.push(
            problem(
                &format!("{path}.grants"),
                DetailCode::WrongType,
                "must be a list",
            )
            .with("expected", "array"),
        ),
    }
    Some(AppRole {
        key,
        name,
        who,
        grants,
    })
}

fn parse_grant(value: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Grant> {
    let map = object(value, path, &["table", "actions", "fields"], errors)?;
    let table = text(map.get("table"), &format!("{path}.table"), errors);
    let mut actions = Vec::new();
    let actions_path = format!("{path}.actions");
    let allowed: Vec<&str> = RecordAction::ALL.iter().map(|a| a.as_str()).collect();
    if let Some(raw) = map.get("actions").filter(|raw| !raw.is_null())
        && let Some(action_map) = object(raw, &actions_path, &allowed, errors)
    {
        for action in RecordAction::ALL {
            let at = format!("{actions_path}.{}", action.as_str());
            match action_map.get(action.as_str()) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(true)) => actions.push((action, ActionRule::All)),
                Some(Value::String(rule)) if !rule.trim().is_empty() => {
                    actions.push((action, ActionRule::Rule(rule.clone())));
                }
                Some(_) => errors.push(
                    problem(
                        &at,
                        DetailCode::WrongType,
                        "an action is true (every row) or a row-rule formula; leave it out to not grant it",
                    )
                    .with("expected", "boolean"),
                ),
            }
        }
    }
    let mut hidden = Vec::new();
    let mut read_only = Vec::new();
    if let Some(raw) = map.get("fields").filter(|raw| !raw.is_null()) {
        let fields_path = format!("{path}.fields");
        if let Some(fields) = object(raw, &fields_path, &["hidden", "read_only"], errors) {
            hidden = texts(
                fields.get("hidden"),
                &format!("{fields_path}.hidden"),
                errors,
            );
            read_only = texts(
                fields.get("read_only"),
                &format!("{fields_path}.read_only"),
                errors,
            );
        }
    }
    Some(Grant {
        table,
        actions,
        hidden,
        read_only,
    })
}

#[cfg(test)]
mod tests;
