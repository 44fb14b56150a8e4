//! Metadata rows of apps, tables and fields, and their conversion to model types. Field options are kept
//! as JSON in the API's own option names (so stored definitions read like exported ones), except links,
//! which store the resolved table id and the inverse field id.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tenon_model::apps::field::parse_kind;
use tenon_model::apps::{ApiKey, App, Field, FieldKind, FieldType, LinkTarget, SpecError, Table};
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
        "id, app_id, key, name, primary_field_id, unique_together, position, created_at, updated_at"
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
        other => other.options_json(|_| None),
    }
}

pub(crate) fn kind_from_stored(
    field_type: FieldType,
    options: &Map<String, Value>,
) -> Result<FieldKind, StoreError> {
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
