//! Metadata rows of apps, tables and fields, and their conversion to model types. Field options are kept
//! as JSON in the API's own option names (so stored definitions read like exported ones), except links,
//! which store the resolved table id and the inverse field id, and computed fields, which store field ids
//! and the result type found when they were saved.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tenon_model::apps::computed;
use tenon_model::apps::field::aggregate_name;
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{
    ApiKey, App, Field, FieldKind, FieldRef, FieldType, FormulaDef, LinkTarget, NoKeys, SpecError,
    Table, TableSchema, ValidationRule,
};
use tenon_model::{AppId, FieldId, Name, TableId};
use uuid::Uuid;

use crate::StoreError;
use crate::rows::corrupt;

macro_rules! app_columns {
    () => {
        "id, key, name, description, schema_version, created_at, updated_at"
    };
}
pub(crate) use app_columns;

macro_rules! table_columns {
    () => {
        "id, app_id, key, name, primary_field_id, unique_together, indexes, validation_rules, position, created_at, \
         updated_at"
    };
}
pub(crate) use table_columns;

macro_rules! field_columns {
    () => {
        "id, table_id, key, name, type, options, required, is_unique, indexed, default_value, position, \
         created_at, updated_at"
    };
}
pub(crate) use field_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct AppRow {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AppRow {
    pub fn into_model(self) -> Result<App, StoreError> {
        Ok(App {
            id: AppId::from_uuid(self.id),
            key: ApiKey::parse(&self.key).map_err(|_| corrupt("app key", &self.key))?,
            name: Name::parse(&self.name).map_err(|_| corrupt("app name", &self.name))?,
            description: self.description,
            schema_version: self.schema_version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TableRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub key: String,
    pub name: String,
    pub primary_field_id: Option<Uuid>,
    pub unique_together: sqlx::types::Json<Vec<Vec<Uuid>>>,
    pub indexes: sqlx::types::Json<Vec<Vec<Uuid>>>,
    pub validation_rules: sqlx::types::Json<Value>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TableRow {
    pub fn into_model(self) -> Result<Table, StoreError> {
        Ok(Table {
            id: TableId::from_uuid(self.id),
            app_id: AppId::from_uuid(self.app_id),
            key: ApiKey::parse(&self.key).map_err(|_| corrupt("table key", &self.key))?,
            name: Name::parse(&self.name).map_err(|_| corrupt("table name", &self.name))?,
            primary_field_id: self.primary_field_id.map(FieldId::from_uuid),
            unique_together: self
                .unique_together
                .0
                .into_iter()
                .map(|group| group.into_iter().map(FieldId::from_uuid).collect())
                .collect(),
            indexes: self
                .indexes
                .0
                .into_iter()
                .map(|group| group.into_iter().map(FieldId::from_uuid).collect())
                .collect(),
            validation_rules: rules_from_stored(&self.validation_rules.0)?,
            position: self.position,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FieldRow {
    pub id: Uuid,
    pub table_id: Uuid,
    pub key: String,
    pub name: String,
    #[sqlx(rename = "type")]
    pub field_type: String,
    pub options: sqlx::types::Json<Value>,
    pub required: bool,
    pub is_unique: bool,
    pub indexed: bool,
    pub default_value: Option<sqlx::types::Json<Value>>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FieldRow {
    pub fn into_model(self) -> Result<Field, StoreError> {
        let field_type = FieldType::parse(&self.field_type)
            .map_err(|_| corrupt("field type", &self.field_type))?;
        let options = self.options.0.as_object().cloned().unwrap_or_default();
        Ok(Field {
            id: FieldId::from_uuid(self.id),
            table_id: TableId::from_uuid(self.table_id),
            key: ApiKey::parse(&self.key).map_err(|_| corrupt("field key", &self.key))?,
            name: Name::parse(&self.name).map_err(|_| corrupt("field name", &self.name))?,
            kind: kind_from_stored(field_type, &options)?,
            required: self.required,
            unique: self.is_unique,
            indexed: self.indexed,
            default: self.default_value.map(|json| json.0),
            position: self.position,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The stored JSON of a field's options.
pub(crate) fn kind_to_stored(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Link {
            table,
            multiple,
            inverse,
        } => {
            let table = match table {
                LinkTarget::Resolved(id) => id.to_string(),
                LinkTarget::Named(name) => name.clone(),
            };
            json!({ "table_id": table, "multiple": multiple, "inverse_field_id": inverse.map(|id| id.to_string()) })
        }
        FieldKind::Formula { formula } => json!({
            "formula": formula.stored().unwrap_or(formula.text()),
            "result": formula.result_type().map(computed::type_to_json),
            "clock": formula.uses_clock(),
        }),
        FieldKind::Lookup {
            link,
            field,
            result,
        } => json!({
            "link": link.id().map(|id| id.to_string()),
            "field": field.id().map(|id| id.to_string()),
            "result": result.as_ref().map(computed::type_to_json),
        }),
        FieldKind::Rollup {
            link,
            field,
            function,
            result,
        } => json!({
            "link": link.id().map(|id| id.to_string()),
            "field": field.id().map(|id| id.to_string()),
            "function": aggregate_name(*function),
            "result": result.as_ref().map(computed::type_to_json),
        }),
        FieldKind::Count { link } => json!({"link": link.id().map(|id| id.to_string())}),
        other => other.options_json(&NoKeys),
    }
}

/// A computed field's stored options (ids and the result type found when it was saved).
fn computed_from_stored(
    field_type: FieldType,
    options: &Map<String, Value>,
) -> Result<FieldKind, StoreError> {
    let bad = || {
        corrupt(
            "computed field options",
            &Value::Object(options.clone()).to_string(),
        )
    };
    let id = |name: &str| -> Result<FieldRef, StoreError> {
        options
            .get(name)
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<FieldId>().ok())
            .map(FieldRef::Resolved)
            .ok_or_else(bad)
    };
    let result = || {
        options
            .get("result")
            .and_then(computed::type_from_json)
            .ok_or_else(bad)
    };
    Ok(match field_type {
        FieldType::Formula => FieldKind::Formula {
            formula: FormulaDef::Stored {
                stored: options
                    .get("formula")
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_owned(),
                result: result()?,
                clock: options
                    .get("clock")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            },
        },
        FieldType::Lookup => FieldKind::Lookup {
            link: id("link")?,
            field: id("field")?,
            result: Some(result()?),
        },
        FieldType::Rollup => FieldKind::Rollup {
            link: id("link")?,
            field: id("field")?,
            function: options
                .get("function")
                .and_then(Value::as_str)
                .and_then(computed::parse_aggregate)
                .ok_or_else(bad)?,
            result: Some(result()?),
        },
        _ => FieldKind::Count { link: id("link")? },
    })
}

/// The stored JSON of validation rules (formulas with field ids).
pub(crate) fn rules_to_stored(rules: &[ValidationRule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|rule| json!({"formula": rule.formula.stored().unwrap_or(rule.formula.text()), "message": rule.message}))
            .collect(),
    )
}

fn rules_from_stored(value: &Value) -> Result<Vec<ValidationRule>, StoreError> {
    let bad = || corrupt("validation rules", &value.to_string());
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|rule| {
            Ok(ValidationRule {
                formula: FormulaDef::Stored {
                    stored: rule
                        .get("formula")
                        .and_then(Value::as_str)
                        .ok_or_else(bad)?
                        .to_owned(),
                    result: tenon_model::apps::formula::Type::Boolean,
                    clock: false,
                },
                message: rule
                    .get("message")
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_owned(),
            })
        })
        .collect()
}

/// Checks the stored formulas (fields and validation rules) of a freshly loaded schema against it.
pub(crate) fn finish_schema(mut schema: TableSchema) -> Result<TableSchema, StoreError> {
    if !schema.table.validation_rules.is_empty()
        || schema
            .fields
            .iter()
            .any(|field| matches!(field.kind, FieldKind::Formula { .. }))
    {
        computed::check_stored_formulas(&mut schema)
            .map_err(|reason| corrupt("formula", &reason))?;
    }
    Ok(schema)
}

pub(crate) fn kind_from_stored(
    field_type: FieldType,
    options: &Map<String, Value>,
) -> Result<FieldKind, StoreError> {
    if field_type.is_computed() {
        return computed_from_stored(field_type, options);
    }
    if field_type == FieldType::Link {
        let table = options
            .get("table_id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<TableId>().ok())
            .ok_or_else(|| corrupt("link table", &format!("{options:?}")))?;
        let inverse = options
            .get("inverse_field_id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<FieldId>().ok());
        let multiple = options
            .get("multiple")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        return Ok(FieldKind::Link {
            table: LinkTarget::Resolved(table),
            multiple,
            inverse,
        });
    }
    parse_kind(field_type, options, "options").map_err(|error| match error {
        SpecError::UnknownOptions { names, .. } => corrupt("field options", &names.join(",")),
        SpecError::Invalid(invalid) => corrupt("field options", &invalid.to_string()),
    })
}

/// One row of the joined app/table/fields query (a table without fields yields one row with no field).
#[derive(sqlx::FromRow)]
pub(crate) struct SchemaRow {
    #[sqlx(flatten)]
    app: PrefixedApp,
    #[sqlx(flatten)]
    table: PrefixedTable,
    f_id: Option<Uuid>,
    f_table_id: Option<Uuid>,
    f_key: Option<String>,
    f_name: Option<String>,
    f_type: Option<String>,
    f_options: Option<sqlx::types::Json<Value>>,
    f_required: Option<bool>,
    f_is_unique: Option<bool>,
    f_indexed: Option<bool>,
    f_default_value: Option<sqlx::types::Json<Value>>,
    f_position: Option<i64>,
    f_created_at: Option<DateTime<Utc>>,
    f_updated_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct PrefixedApp {
    a_id: Uuid,
    a_key: String,
    a_name: String,
    a_description: Option<String>,
    a_schema_version: i64,
    a_created_at: DateTime<Utc>,
    a_updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PrefixedTable {
    t_id: Uuid,
    t_app_id: Uuid,
    t_key: String,
    t_name: String,
    t_primary_field_id: Option<Uuid>,
    t_unique_together: sqlx::types::Json<Vec<Vec<Uuid>>>,
    t_indexes: sqlx::types::Json<Vec<Vec<Uuid>>>,
    t_validation_rules: sqlx::types::Json<Value>,
    t_position: i64,
    t_created_at: DateTime<Utc>,
    t_updated_at: DateTime<Utc>,
}

impl SchemaRow {
    pub(crate) fn into_schema(
        rows: Vec<SchemaRow>,
    ) -> Result<Option<tenon_model::apps::TableSchema>, StoreError> {
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else {
            return Ok(None);
        };
        let app = AppRow {
            id: first.app.a_id,
            key: first.app.a_key.clone(),
            name: first.app.a_name.clone(),
            description: first.app.a_description.clone(),
            schema_version: first.app.a_schema_version,
            created_at: first.app.a_created_at,
            updated_at: first.app.a_updated_at,
        }
        .into_model()?;
        let table = TableRow {
            id: first.table.t_id,
            app_id: first.table.t_app_id,
            key: first.table.t_key.clone(),
            name: first.table.t_name.clone(),
            primary_field_id: first.table.t_primary_field_id,
            unique_together: sqlx::types::Json(first.table.t_unique_together.0.clone()),
            indexes: sqlx::types::Json(first.table.t_indexes.0.clone()),
            validation_rules: sqlx::types::Json(first.table.t_validation_rules.0.clone()),
            position: first.table.t_position,
            created_at: first.table.t_created_at,
            updated_at: first.table.t_updated_at,
        }
        .into_model()?;
        let mut fields = Vec::new();
        for row in std::iter::once(first).chain(rows) {
            let (
                Some(id),
                Some(table_id),
                Some(key),
                Some(name),
                Some(field_type),
                Some(options),
                Some(required),
                Some(is_unique),
                Some(indexed),
                Some(position),
                Some(created_at),
                Some(updated_at),
            ) = (
                row.f_id,
                row.f_table_id,
                row.f_key,
                row.f_name,
                row.f_type,
                row.f_options,
                row.f_required,
                row.f_is_unique,
                row.f_indexed,
                row.f_position,
                row.f_created_at,
                row.f_updated_at,
            )
            else {
                continue;
            };
            fields.push(
                FieldRow {
                    id,
                    table_id,
                    key,
                    name,
                    field_type,
                    options,
                    required,
                    is_unique,
                    indexed,
                    default_value: row.f_default_value,
                    position,
                    created_at,
                    updated_at,
                }
                .into_model()?,
            );
        }
        Ok(Some(finish_schema(TableSchema { app, table, fields })?))
    }
}
