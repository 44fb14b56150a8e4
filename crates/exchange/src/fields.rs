//! A field definition as clients and files write it — name, key, type, options, flags, default — checked
//! into a model [`FieldSpec`]. Shared by the HTTP API and app definition files.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{ApiKey, Field, FieldKind, FieldSpec, FieldType, Keys, TableSchema};
use tenon_model::{Checker, Name};

use crate::ExchangeError;

/// A field as written: `{"name", "key", "type", "options", "required", "unique", "indexed", "default"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub options: Map<String, Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub indexed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// Checks a field definition. A link's `inverse_key`, `inverse_name` and `inverse_multiple` options
/// describe the inverse field on the other table. `path` prefixes error fields.
pub fn field_spec(file: FieldFile, path: &str) -> Result<FieldSpec, ExchangeError> {
    let mut check = Checker::default();
    let name = match &file.name {
        Some(raw) => check.field(&format!("{path}.name"), Name::parse(raw)),
        None => {
            check.push(
                format!("{path}.name"),
                tenon_model::DetailCode::Required,
                "is required",
            );
            None
        }
    };
    let key = check.optional(&format!("{path}.key"), file.key, |raw| ApiKey::parse(&raw));
    let field_type = check.field(&format!("{path}.type"), FieldType::parse(&file.field_type));
    let mut options = file.options;
    let (mut inverse_key, mut inverse_name, mut inverse_multiple) = (None, None, true);
    if field_type == Some(FieldType::Link) {
        if let Some(raw) = options.remove("inverse_key") {
            inverse_key = check.field(
                &format!("{path}.options.inverse_key"),
                ApiKey::parse(raw.as_str().unwrap_or("")),
            );
        }
        if let Some(raw) = options.remove("inverse_name") {
            inverse_name = check.field(
                &format!("{path}.options.inverse_name"),
                Name::parse(raw.as_str().unwrap_or("")),
            );
        }
        if let Some(raw) = options.remove("inverse_multiple") {
            match raw.as_bool() {
                Some(flag) => inverse_multiple = flag,
                None => check.add(
                    tenon_model::Reason::wrong_type("boolean", "must be true or false")
                        .at(format!("{path}.options.inverse_multiple")),
                ),
            }
        }
    }
    let (Some(name), Some(key), Some(field_type)) = (name, key, field_type) else {
        return Err(check.into_invalid().into());
    };
    check.finish()?;
    let kind = parse_kind(field_type, &options, &format!("{path}.options"))?;
    Ok(FieldSpec {
        name,
        key,
        kind,
        required: file.required,
        unique: file.unique,
        indexed: file.indexed,
        default: file.default,
        inverse_key,
        inverse_name,
        inverse_multiple,
    })
}

/// A field as a definition file shows it. A link names its table by key and carries its inverse's key,
/// name and `multiple` (found in `tables`).
pub fn field_file(field: &Field, tables: &[TableSchema]) -> FieldFile {
    let mut options = match field.kind.options_json(&Keys::of_schemas(tables)) {
        Value::Object(options) => options,
        _ => Map::new(),
    };
    if let FieldKind::Link {
        inverse: Some(inverse),
        ..
    } = &field.kind
    {
        options.remove("inverse_field_id");
        if let Some(inverse) = tables
            .iter()
            .flat_map(|schema| &schema.fields)
            .find(|candidate| candidate.id == *inverse)
        {
            options.insert("inverse_key".to_owned(), Value::from(inverse.key.as_str()));
            options.insert(
                "inverse_name".to_owned(),
                Value::from(inverse.name.as_str()),
            );
            let multiple = matches!(inverse.kind, FieldKind::Link { multiple: true, .. });
            options.insert("inverse_multiple".to_owned(), Value::from(multiple));
        }
    }
    FieldFile {
        name: Some(field.name.to_string()),
        key: Some(field.key.to_string()),
        field_type: field.field_type().as_str().to_owned(),
        options,
        required: field.required,
        unique: field.unique,
        indexed: field.indexed,
        default: field.default.clone(),
    }
}
