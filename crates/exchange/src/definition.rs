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
//! ```

use serde::{Deserialize, Serialize};
use tenon_model::apps::ApiKey;
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
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tables: Vec<TableFile>,
}

fn format() -> String {
    FORMAT.to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFile {
    pub key: String,
    pub name: String,
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
    pub key: String,
    pub name: String,
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

/// Checks a file into a definition: keys everywhere, names valid, fields parsed with their options.
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
    let key = check.field("key", ApiKey::parse(&file.key));
    let name = check.field("name", Name::parse(&file.name));
    let mut tables = Vec::with_capacity(file.tables.len());
    for (t, table) in file.tables.into_iter().enumerate() {
        let path = format!("tables[{t}]");
        let table_key = check.field(&format!("{path}.key"), ApiKey::parse(&table.key));
        let table_name = check.field(&format!("{path}.name"), Name::parse(&table.name));
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
        let mut fields = Vec::with_capacity(table.fields.len());
        for (f, field) in table.fields.into_iter().enumerate() {
            if field.key.is_none() {
                check.push(
                    format!("{path}.fields[{f}].key"),
                    DetailCode::Required,
                    "every field of a definition needs a key",
                );
                continue;
            }
            match field_spec(field, &format!("{path}.fields[{f}]")) {
                Ok(spec) => fields.push(spec),
                Err(ExchangeError::Invalid(invalid)) => {
                    invalid.0.into_iter().for_each(|error| check.add(error))
                }
                Err(other) => return Err(other),
            }
        }
        let mut views = Vec::with_capacity(table.views.len());
        for (v, view) in table.views.into_iter().enumerate() {
            let at = format!("{path}.views[{v}]");
            let key = check.field(&format!("{at}.key"), ApiKey::parse(&view.key));
            let name = check.field(&format!("{at}.name"), Name::parse(&view.name));
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
    let (Some(key), Some(name)) = (key, name) else {
        return Err(check.into_invalid().into());
    };
    check.finish()?;
    Ok(AppDefinition {
        key,
        name,
        description: file.description,
        tables,
    })
}

/// The definition file of an existing app. Inverse link fields are described by their owners.
pub fn export(current: &CurrentApp) -> AppFile {
    let app = &current.app;
    let tables = current.tables.as_slice();
    AppFile {
        format: FORMAT.to_owned(),
        key: app.key.to_string(),
        name: app.name.to_string(),
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
                    key: schema.table.key.to_string(),
                    name: schema.table.name.to_string(),
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
                            key: view.key.to_string(),
                            name: view.name.to_string(),
                            view_type: view.view_type.as_str().to_owned(),
                            config: view.config.clone(),
                        })
                        .collect(),
                }
            })
            .collect(),
    }
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
