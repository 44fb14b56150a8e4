//! Low-code apps: an organization has apps, an app has tables, a table has typed fields, and records fill
//! the tables. Names are any Unicode and can change freely; every object also has a stable id and an API
//! key (a slug unique in its parent) that clients use.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ids::{AppId, FieldId, RecordId, TableId};
use crate::values::Name;

pub mod aggregate;
pub mod computed;
pub mod dashboard;
pub mod definition;
pub mod field;
pub mod filter;
pub mod form_subtable;
pub mod input;
pub mod key;
pub mod options;
pub mod permissions;
pub mod value;
pub mod view;

pub use computed::FormulaDef;
pub use field::{
    Choice, DatePattern, FieldKind, FieldRef, FieldSpec, FieldType, KeyLookup, LinkTarget, NoKeys,
    SpecError, Storage,
};
pub use key::ApiKey;
pub use tenon_formula as formula;
pub use value::{CellValue, ParseContext, parse_cell};

/// Most fields a table may have.
pub const FIELDS_PER_TABLE_MAX: usize = 500;
/// Most tables an app may have.
pub const TABLES_PER_APP_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub id: AppId,
    pub key: ApiKey,
    pub name: Name,
    pub description: Option<String>,
    /// Incremented by every schema change of any of the app's tables.
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub id: TableId,
    pub app_id: AppId,
    pub key: ApiKey,
    pub name: Name,
    /// The field whose value names a record wherever it appears.
    pub primary_field_id: Option<FieldId>,
    /// Groups of fields whose values together must be unique.
    pub unique_together: Vec<Vec<FieldId>>,
    /// Composite (non-unique) indexes, each a list of fields in index order, e.g. a group-by field and
    /// the field summed, so a grouped aggregate reads the index alone.
    pub indexes: Vec<Vec<FieldId>>,
    /// Conditions every record must satisfy when it is written.
    pub validation_rules: Vec<ValidationRule>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A condition (a formula that must be TRUE) records of a table must satisfy, and the message a write
/// that breaks it gets.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRule {
    pub formula: FormulaDef,
    pub message: String,
}

/// Most validation rules a table may have.
pub const VALIDATION_RULES_MAX: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: FieldId,
    pub table_id: TableId,
    pub key: ApiKey,
    pub name: Name,
    pub kind: FieldKind,
    pub required: bool,
    pub unique: bool,
    /// An index was asked for (sorting or filtering large tables by this field).
    pub indexed: bool,
    /// The value new records get when the field is not given (as the client wrote it; checked on save).
    pub default: Option<Value>,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Field {
    pub fn field_type(&self) -> FieldType {
        self.kind.field_type()
    }
}

/// A table with its app and fields (ordered by position): everything needed to read or write records.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub app: App,
    pub table: Table,
    pub fields: Vec<Field>,
}

impl TableSchema {
    pub fn field(&self, id: FieldId) -> Option<&Field> {
        self.fields.iter().find(|field| field.id == id)
    }

    pub fn field_by_key(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.key.as_str() == key)
    }

    pub fn field_by_name(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name.as_str() == name)
    }

    /// A field by key, id or name, in that order (clients may address fields any of the three ways).
    pub fn resolve_field(&self, reference: &str) -> Option<&Field> {
        self.field_by_key(reference)
            .or_else(|| {
                reference
                    .parse::<FieldId>()
                    .ok()
                    .and_then(|id| self.field(id))
            })
            .or_else(|| self.field_by_name(reference))
    }

    pub fn primary_field(&self) -> Option<&Field> {
        self.table.primary_field_id.and_then(|id| self.field(id))
    }
}

/// Keys of tables and fields by id, to show references by key.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub tables: std::collections::HashMap<TableId, String>,
    pub fields: std::collections::HashMap<FieldId, String>,
}

impl Keys {
    pub fn of_schemas(schemas: &[TableSchema]) -> Keys {
        Keys {
            tables: schemas
                .iter()
                .map(|schema| (schema.table.id, schema.table.key.to_string()))
                .collect(),
            fields: schemas
                .iter()
                .flat_map(|schema| &schema.fields)
                .map(|field| (field.id, field.key.to_string()))
                .collect(),
        }
    }
}

impl KeyLookup for Keys {
    fn table_key(&self, table: TableId) -> Option<String> {
        self.tables.get(&table).cloned()
    }
    fn field_key(&self, field: FieldId) -> Option<String> {
        self.fields.get(&field).cloned()
    }
}

/// Who wrote a record, as kept in its `created_by` / `modified_by` system columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordActor {
    /// `member`, `token`, `app` or `system`.
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

/// A stored record: system columns and the values of its column-stored fields. Links are loaded on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: RecordId,
    /// Starts at 1; every change adds 1 (optimistic concurrency with `If-Match`).
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub created_by: Option<RecordActor>,
    pub modified_by: Option<RecordActor>,
    pub cells: BTreeMap<FieldId, CellValue>,
}
