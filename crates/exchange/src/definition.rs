//! Apps as code: an app's schema in one YAML or JSON file, the same format that `GET …/export` writes and
//! `POST /api/v1/apps/import` and `tenon app import|diff` read.
//!
//! ```yaml
//! format: tenon.app/v1
//! key: housing
//! name: 住房预约
//! tables:
//!   - key: bookings
//!     name: Bookings
//!     primary_field: guest
//!     unique_together: [[guest, check_in]]
//!     indexes: [[room, nights]]
//!     fields:
//!       - {key: guest, name: Guest, type: text, required: true}
//!       - {key: room, name: Room, type: link, options: {table: rooms, multiple: false, inverse_key: bookings}}
//!       - {key: nights, name: Nights, type: formula, options: {formula: "DATETIME_DIFF({Check out}, {Check in}, \"days\")"}}
//!     validation_rules:
//!       - {formula: "{Nights} <= 30", message: 每次最多住 30 晚}
//!     views:
//!       - {key: board, name: Board, type: kanban, config: {group_field: status}}
//! dashboards:
//!   - key: overview
//!     name: Overview
//!     widgets:
//!       - {title: Nights this month, type: number, table: bookings, metric: "sum:nights", date_field: check_in, period: this_month}
//! ```
//!
//! A `key` left out (of the app, a table, a field or a view) is derived from the `name` as the API derives
//! it (`入住日期` → `ru_zhu_ri_qi`, `_2` added when a sibling has it), so the same file always gives the
//! same keys. Every problem of a file — each missing name, each key that cannot be derived — comes back in
//! one answer.

use serde::{Deserialize, Serialize};
use tenon_model::apps::ApiKey;
use tenon_model::apps::dashboard::{DASHBOARDS_PER_APP_MAX, Dashboard};
use tenon_model::apps::definition::{
    AppDefinition, CurrentApp, TableDefinition, ViewDefinition, owns_link,
};
use tenon_model::apps::view::ViewType;
use tenon_model::{Checker, DetailCode, Invalid, Name};

use crate::ExchangeError;
use crate::fields::{FieldFile, field_file, field_spec};

/// The format tag written into every definition file.
pub const FORMAT: &str = "tenon.app/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFile {
    #[serde(default = "format")]
    pub format: String,
    /// Derived from the name when absent (docs/fields.md: `入住日期` → `ru_zhu_ri_qi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tables: Vec<TableFile>,
    /// Dashboards (docs/dashboards.md): `{key, name, widgets: [...]}`, checked against the tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dashboards: Vec<serde_json::Value>,
    /// Custom roles approval rules name (`{key, name}`; members are given in the directory, not here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleFile>,
    /// Approval processes on the app's tables, as `POST /api/v1/processes` takes them (docs/approvals.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<serde_json::Value>,
    /// Connection flows (docs/flows.md): published with the import unless it skips them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<serde_json::Value>,
    /// Voucher rules (docs/ledger-rules.md): published with the flows (and skipped with them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voucher_rules: Vec<serde_json::Value>,
    /// App permissions (docs/permissions.md): roles, grants, row and field rules, as
    /// `PUT /api/v1/apps/{app}/permissions` takes them; set after the tables when imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<serde_json::Value>,
    /// Values rule and step formulas read as `{params.<key>}` (numbers, text, booleans).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    pub key: String,
    pub name: String,
}

/// The roles and processes of a file, checked for shape (publishing checks them against the tables).
pub fn approvals(file: &AppFile) -> Result<tenon_store::approvals::FileApprovals, ExchangeError> {
    let mut check = Checker::default();
    let mut approvals = tenon_store::approvals::FileApprovals::default();
    for (r, role) in file.roles.iter().enumerate() {
        let key = check.field(&format!("roles[{r}].key"), ApiKey::parse(&role.key));
        let name = check.field(&format!("roles[{r}].name"), Name::parse(&role.name));
        if let (Some(key), Some(name)) = (key, name) {
            approvals.roles.push((key, name));
        }
    }
    for (p, process) in file.processes.iter().enumerate() {
        let path = format!("processes[{p}]");
        if process.get("app").is_some() {
            check.push(
                format!("{path}.app"),
                DetailCode::NotAllowed,
                "a process of a definition file runs on a table of the file's app",
            );
        }
        match tenon_approvals::Process::parse(process, &path) {
            Ok(parsed) => {
                if approvals.processes.iter().any(
                    |(_, other): &(serde_json::Value, tenon_approvals::Process)| {
                        other.code == parsed.code
                    },
                ) {
                    check.push(
                        format!("{path}.code"),
                        DetailCode::NotUnique,
                        format!("{} is the code of another process", parsed.code),
                    );
                }
                approvals.processes.push((process.clone(), parsed));
            }
            Err(invalid) => invalid.0.into_iter().for_each(|error| check.add(error)),
        }
    }
    check.finish()?;
    Ok(approvals)
}

/// The flows of a file, checked for shape (publishing checks them against the tables): each as written
/// and parsed at `flows[i]`; keys unique in the file.
pub fn flows(file: &AppFile) -> Result<tenon_store::flows::FileFlows, ExchangeError> {
    let mut check = Checker::default();
    let mut flows = tenon_store::flows::FileFlows::default();
    for (i, value) in file.flows.iter().enumerate() {
        let path = format!("flows[{i}]");
        match tenon_flows::Flow::parse(value, &path) {
            Ok(flow) => {
                if flows.flows.iter().any(|(_, other)| other.key == flow.key) {
                    check.push(
                        format!("{path}.key"),
                        DetailCode::NotUnique,
                        format!("{} is the key of another flow of the file", flow.key),
                    );
                }
                flows.flows.push((value.clone(), flow));
            }
            Err(invalid) => invalid.0.into_iter().for_each(|error| check.add(error)),
        }
    }
    for (key, value) in &file.params {
        if ApiKey::parse(key).is_err() {
            check.push(
                format!("params.{key}"),
                DetailCode::InvalidFormat,
                "a parameter's key is a short identifier (letters, digits, _)",
            );
        } else if tenon_flows::scope::param_kind(value).is_none() {
            check.push(
                format!("params.{key}"),
                DetailCode::InvalidValue,
                "a parameter is a number (at most 8 decimal places), a text or a boolean",
            );
        } else {
            flows.params.insert(key.clone(), value.clone());
        }
    }
    for (i, value) in file.voucher_rules.iter().enumerate() {
        let path = format!("voucher_rules[{i}]");
        match tenon_ledger::rules::RuleDefinition::parse(value, &path) {
            Ok(rule) => {
                if flows.rules.iter().any(|(_, other)| other.key == rule.key) {
                    check.push(
                        format!("{path}.key"),
                        DetailCode::NotUnique,
                        format!(
                            "{} is the key of another voucher rule of the file",
                            rule.key
                        ),
                    );
                }
                flows.rules.push((value.clone(), rule));
            }
            Err(invalid) => invalid.0.into_iter().for_each(|error| check.add(error)),
        }
    }
    check.finish()?;
    Ok(flows)
}

fn format() -> String {
    FORMAT.to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFile {
    /// Derived from the name when absent, unique among the file's tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_field: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_together: Vec<Vec<String>>,
    /// Composite indexes, each a list of field keys in index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Vec<String>>,
    #[serde(default)]
    pub fields: Vec<FieldFile>,
    /// Conditions every record must satisfy: `{"formula": "{Nights} <= 30", "message": "…"}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_rules: Vec<RuleFile>,
    /// Saved views: `{"key", "name", "type", "config"}` as the views API takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<ViewFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub formula: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFile {
    /// Derived from the name when absent, unique among the table's views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub view_type: String,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// Whether a definition file is YAML or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Yaml,
    Json,
}

impl FileFormat {
    /// From a media type or file extension; YAML unless it says JSON.
    pub fn guess(hint: &str) -> FileFormat {
        if hint.to_ascii_lowercase().contains("json") {
            FileFormat::Json
        } else {
            FileFormat::Yaml
        }
    }
}

/// Reads a definition file (JSON is also valid YAML, but its errors read better from the JSON parser).
pub fn read(text: &str, format: FileFormat) -> Result<AppFile, ExchangeError> {
    match format {
        FileFormat::Json => serde_json::from_str(text)
            .map_err(|error| ExchangeError::Format(format!("not an app definition: {error}"))),
        FileFormat::Yaml => serde_norway::from_str(text)
            .map_err(|error| ExchangeError::Format(format!("not an app definition: {error}"))),
    }
}

pub fn write(file: &AppFile, format: FileFormat) -> Result<String, ExchangeError> {
    match format {
        FileFormat::Json => serde_json::to_string_pretty(file)
            .map(|text| text + "\n")
            .map_err(|error| ExchangeError::Format(error.to_string())),
        FileFormat::Yaml => {
            serde_norway::to_string(file).map_err(|error| ExchangeError::Format(error.to_string()))
        }
    }
}

/// Checks a file into a definition: names valid, keys given or derived from the names, fields parsed
/// with their options. Every problem of the file comes back in one answer.
pub fn check(file: AppFile) -> Result<AppDefinition, ExchangeError> {
    if file.format != FORMAT {
        return Err(Invalid::from(
            tenon_model::Reason::not_one_of(
                &[FORMAT],
                format!(
                    "\"{}\" is not a format this Tenon reads; use {FORMAT}",
                    file.format
                ),
            )
            .at("format"),
        )
        .into());
    }
    let mut check = Checker::default();
    let name = required_name(&mut check, "name", file.name);
    let key = key_or_derived(&mut check, "key", file.key, name.as_ref(), &[]);
    let table_keys = explicit_keys(file.tables.iter().map(|table| table.key.as_deref()));
    let mut tables = Vec::with_capacity(file.tables.len());
    let mut derived_table_keys: Vec<ApiKey> = Vec::new();
    for (t, table) in file.tables.into_iter().enumerate() {
        let path = format!("tables[{t}]");
        let table_name = required_name(&mut check, &format!("{path}.name"), table.name);
        let derived = table.key.is_none();
        let taken: Vec<ApiKey> = table_keys
            .iter()
            .chain(&derived_table_keys)
            .cloned()
            .collect();
        let table_key = key_or_derived(
            &mut check,
            &format!("{path}.key"),
            table.key,
            table_name.as_ref(),
            &taken,
        );
        if let (true, Some(key)) = (derived, &table_key) {
            derived_table_keys.push(key.clone());
        }
        let primary_field = check.optional(
            &format!("{path}.primary_field"),
            table.primary_field,
            |raw| ApiKey::parse(&raw),
        );
        let unique_together = key_groups(
            &mut check,
            &format!("{path}.unique_together"),
            &table.unique_together,
        );
        let indexes = key_groups(&mut check, &format!("{path}.indexes"), &table.indexes);
        let field_keys = explicit_keys(table.fields.iter().map(|field| field.key.as_deref()));
        let mut derived_field_keys: Vec<ApiKey> = Vec::new();
        let mut fields = Vec::with_capacity(table.fields.len());
        for (f, mut field) in table.fields.into_iter().enumerate() {
            let at = format!("{path}.fields[{f}]");
            if field.key.is_none() {
                let field_name = field.name.as_deref().and_then(|raw| Name::parse(raw).ok());
                let taken: Vec<ApiKey> = field_keys
                    .iter()
                    .chain(&derived_field_keys)
                    .cloned()
                    .collect();
                match key_or_derived(
                    &mut check,
                    &format!("{at}.key"),
                    None,
                    field_name.as_ref(),
                    &taken,
                ) {
                    Some(key) => {
                        derived_field_keys.push(key.clone());
                        field.key = Some(key.to_string());
                    }
                    // The name's own problem (if any) is reported by `field_spec`.
                    None if field.name.is_some() => {}
                    None => {
                        check.push(format!("{at}.name"), DetailCode::Required, "is required");
                        continue;
                    }
                }
            }
            match field_spec(field, &at) {
                Ok(spec) => fields.push(spec),
                Err(ExchangeError::Invalid(invalid)) => {
                    invalid.0.into_iter().for_each(|error| check.add(error))
                }
                Err(other) => return Err(other),
            }
        }
        let view_keys = explicit_keys(table.views.iter().map(|view| view.key.as_deref()));
        let mut views = Vec::with_capacity(table.views.len());
        for (v, view) in table.views.into_iter().enumerate() {
            let at = format!("{path}.views[{v}]");
            let name = required_name(&mut check, &format!("{at}.name"), view.name);
            let explicit = view.key.is_some();
            let taken: Vec<ApiKey> = if explicit {
                Vec::new()
            } else {
                view_keys
                    .iter()
                    .chain(views.iter().map(|known: &ViewDefinition| &known.key))
                    .cloned()
                    .collect()
            };
            let key = key_or_derived(
                &mut check,
                &format!("{at}.key"),
                view.key,
                name.as_ref(),
                &taken,
            );
            let view_type = ViewType::parse(&view.view_type);
            if view_type.is_none() {
                check.add(
                    tenon_model::Reason::not_one_of(
                        &["grid", "kanban", "calendar", "gallery", "form"],
                        "must be grid, kanban, calendar, gallery or form",
                    )
                    .at(format!("{at}.type")),
                );
            }
            if let (Some(key), Some(name), Some(view_type)) = (key, name, view_type) {
                if views.iter().any(|known: &ViewDefinition| known.key == key) {
                    check.push(
                        format!("{at}.key"),
                        DetailCode::NotUnique,
                        format!("\"{key}\" is used by another view"),
                    );
                }
                views.push(ViewDefinition {
                    key,
                    name,
                    view_type,
                    config: view.config,
                });
            }
        }
        let validation_rules = table
            .validation_rules
            .into_iter()
            .map(|rule| (rule.formula, rule.message))
            .collect();
        if let (Some(key), Some(name), Some(primary_field)) = (table_key, table_name, primary_field)
        {
            tables.push(TableDefinition {
                key,
                name,
                primary_field,
                unique_together,
                indexes,
                fields,
                validation_rules,
                views,
            });
        }
    }
    for (i, table) in tables.iter().enumerate() {
        if tables[..i].iter().any(|other| other.key == table.key) {
            check.push(
                format!("tables[{i}].key"),
                DetailCode::NotUnique,
                format!("\"{}\" is used by another table", table.key),
            );
        }
    }
    let mut dashboards: Vec<Dashboard> = Vec::with_capacity(file.dashboards.len());
    if file.dashboards.len() > DASHBOARDS_PER_APP_MAX {
        check.too_many(
            "dashboards",
            DASHBOARDS_PER_APP_MAX,
            format!("an app has at most {DASHBOARDS_PER_APP_MAX} dashboards"),
        );
    }
    for (d, value) in file.dashboards.iter().enumerate() {
        let at = format!("dashboards[{d}]");
        match Dashboard::parse(value, &at) {
            Ok(dashboard) => {
                if dashboards.iter().any(|known| known.key == dashboard.key) {
                    check.push(
                        format!("{at}.key"),
                        DetailCode::NotUnique,
                        format!("\"{}\" is used by another dashboard", dashboard.key),
                    );
                }
                dashboards.push(dashboard);
            }
            Err(invalid) => invalid.0.into_iter().for_each(|error| check.add(error)),
        }
    }
    let (Some(key), Some(name)) = (key, name) else {
        return Err(check.into_invalid().into());
    };
    check.finish()?;
    Ok(AppDefinition {
        key,
        name,
        description: file.description,
        tables,
        dashboards,
    })
}

/// A name the file must give (`required` when absent).
fn required_name(check: &mut Checker, path: &str, raw: Option<String>) -> Option<Name> {
    match raw {
        Some(raw) => check.field(path, Name::parse(&raw)),
        None => {
            check.push(path, DetailCode::Required, "is required");
            None
        }
    }
}

/// The valid keys a file gives explicitly, which derived keys must not take.
fn explicit_keys<'a>(keys: impl Iterator<Item = Option<&'a str>>) -> Vec<ApiKey> {
    keys.flatten()
        .filter_map(|raw| ApiKey::parse(raw).ok())
        .collect()
}

/// The key given, or one derived from the name as the API derives it (docs/fields.md), made unique
/// among `taken` with `_2`, `_3`…; `required` when there is neither a key nor a name that yields one.
fn key_or_derived(
    check: &mut Checker,
    path: &str,
    raw: Option<String>,
    name: Option<&Name>,
    taken: &[ApiKey],
) -> Option<ApiKey> {
    if let Some(raw) = raw {
        return check.field(path, ApiKey::parse(&raw));
    }
    match name.and_then(|name| ApiKey::derive(name.as_str())) {
        Some(base) => Some(ApiKey::unique_among(base, |key| {
            taken.iter().any(|known| known.as_str() == key)
        })),
        None => {
            let reason = match name {
                Some(name) => format!(
                    "no key is given and none can be derived from the name \"{name}\"; give one"
                ),
                None => "no key is given and there is no name to derive one from".to_owned(),
            };
            check.push(path, DetailCode::Required, reason);
            None
        }
    }
}

/// The definition file of an existing app. Inverse link fields are described by their owners.
pub fn export(current: &CurrentApp) -> AppFile {
    let app = &current.app;
    let tables = current.tables.as_slice();
    AppFile {
        format: FORMAT.to_owned(),
        key: Some(app.key.to_string()),
        name: Some(app.name.to_string()),
        description: app.description.clone(),
        tables: tables
            .iter()
            .map(|schema| {
                let key_of = |id: &tenon_model::FieldId| {
                    schema
                        .field(*id)
                        .map(|field| field.key.to_string())
                        .unwrap_or_default()
                };
                TableFile {
                    key: Some(schema.table.key.to_string()),
                    name: Some(schema.table.name.to_string()),
                    primary_field: schema.table.primary_field_id.as_ref().map(key_of),
                    unique_together: schema
                        .table
                        .unique_together
                        .iter()
                        .map(|group| group.iter().map(key_of).collect())
                        .collect(),
                    indexes: schema
                        .table
                        .indexes
                        .iter()
                        .map(|group| group.iter().map(key_of).collect())
                        .collect(),
                    fields: schema
                        .fields
                        .iter()
                        .filter(|field| owns_link(field))
                        .map(|field| field_file(field, tables))
                        .collect(),
                    validation_rules: schema
                        .table
                        .validation_rules
                        .iter()
                        .map(|rule| RuleFile {
                            formula: rule.formula.text().to_owned(),
                            message: rule.message.clone(),
                        })
                        .collect(),
                    views: current
                        .views
                        .get(&schema.table.id)
                        .into_iter()
                        .flatten()
                        .map(|view| ViewFile {
                            key: Some(view.key.to_string()),
                            name: Some(view.name.to_string()),
                            view_type: view.view_type.as_str().to_owned(),
                            config: view.config.clone(),
                        })
                        .collect(),
                }
            })
            .collect(),
        dashboards: current.dashboards.iter().map(Dashboard::to_json).collect(),
        roles: Vec::new(),
        processes: Vec::new(),
        flows: Vec::new(),
        voucher_rules: Vec::new(),
        permissions: None,
        params: Default::default(),
    }
}

/// Adds an app's approval processes (their drafts, as last written; `app` is the file's) and the custom
/// roles they name (`{key, name}`, without members) to its definition file, so that importing the file
/// again publishes nothing new.
pub fn export_approvals(
    file: &mut AppFile,
    app: tenon_model::AppId,
    processes: Vec<tenon_store::approvals::StoredProcess>,
    roles: Vec<tenon_store::approvals::OrgRole>,
) {
    fn named_roles(value: &serde_json::Value, found: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("role", serde_json::Value::String(role)) => {
                            found.insert(role.clone());
                        }
                        _ => named_roles(inner, found),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| named_roles(item, found))
            }
            _ => {}
        }
    }
    let mut named = std::collections::BTreeSet::new();
    let mut drafts = Vec::new();
    for process in processes
        .into_iter()
        .filter(|process| process.app_id == app)
    {
        named_roles(&process.draft, &mut named);
        let mut draft = process.draft;
        if let Some(object) = draft.as_object_mut() {
            object.remove("app");
        }
        drafts.push(draft);
    }
    file.roles = roles
        .into_iter()
        .filter(|role| named.contains(&role.key))
        .map(|role| RoleFile {
            key: role.key,
            name: role.name,
        })
        .collect();
    file.processes = drafts;
}

/// Adds an app's flows (each definition as last published, by key) to its definition file, so that
/// importing the file again publishes nothing new.
pub fn export_flows(
    file: &mut AppFile,
    app: tenon_model::AppId,
    flows: Vec<tenon_store::flows::StoredFlow>,
) {
    // A voucher rule's own flow (`rule:<key>`, from `sync: auto`) comes with the rule, not in `flows:`.
    let mut flows: Vec<_> = flows
        .into_iter()
        .filter(|flow| flow.app_id == Some(app) && !flow.key.starts_with("rule:"))
        .collect();
    flows.sort_by(|a, b| a.key.cmp(&b.key));
    file.flows = flows.into_iter().map(|flow| flow.definition).collect();
}

/// Adds an app's voucher rules (each definition as last published, by key) to its definition file.
pub fn export_voucher_rules(
    file: &mut AppFile,
    app: tenon_model::AppId,
    rules: Vec<tenon_store::ledger::StoredRule>,
) {
    let mut rules: Vec<_> = rules
        .into_iter()
        .filter(|rule| rule.app_id == app)
        .collect();
    rules.sort_by(|a, b| a.key.cmp(&b.key));
    file.voucher_rules = rules.into_iter().map(|rule| rule.definition).collect();
}

/// Adds an app's `params:` to its definition file.
pub fn export_params(
    file: &mut AppFile,
    params: std::collections::BTreeMap<String, serde_json::Value>,
) {
    file.params = params;
}

/// Groups of field keys (`unique_together`, `indexes`), each key checked where it stands.
fn key_groups(check: &mut Checker, path: &str, groups: &[Vec<String>]) -> Vec<Vec<ApiKey>> {
    groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            group
                .iter()
                .enumerate()
                .filter_map(|(i, raw)| {
                    check.field(&format!("{path}[{g}][{i}]"), ApiKey::parse(raw))
                })
                .collect()
        })
        .collect()
}
