//! What a formula is checked against: the table's fields (id, name, logical kind, SQL column) and the
//! types formulas compute.
//!
//! The data engine builds a [`Schema`] from its table definition. Names are what people type; ids are what
//! a stored formula keeps, so a rename never breaks one.

use std::collections::HashMap;
use std::fmt;

/// The most decimal places a number can carry. Wider results are rounded half away from zero.
pub const SCALE_MAX: u32 = 10;

/// A field's stable id as the data engine knows it (opaque to this crate).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(String);

impl FieldId {
    pub fn new(id: impl Into<String>) -> Self {
        FieldId(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A field's logical type, as the data engine stores it (see the physical layout in the crate docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// text, long_text, email, phone, url: `TEXT`.
    Text,
    /// The choice's name: `TEXT`.
    SingleSelect,
    /// number, currency or percent stored with `scale` decimal places — the model's
    /// `Storage::Decimal { scale }`; a percent is stored as a fraction (6 % = 0.06), so its scale is the
    /// percentage's precision + 2: PostgreSQL `NUMERIC(28, scale)`, SQLite `INTEGER` holding value × 10^scale.
    Number { scale: u32 },
    /// rating, duration (seconds), autonumber: `BIGINT` / `INTEGER`.
    Integer,
    /// `BOOLEAN` / `INTEGER` 0/1.
    Checkbox,
    /// `DATE` / `TEXT` 'YYYY-MM-DD'.
    Date,
    /// `TIMESTAMPTZ` / `TEXT` 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (UTC).
    DateTime,
    /// multi_select, members, departments, attachments: a JSON array of text (names or ids).
    TextList,
    /// A lookup through a link: the values of `of` on every linked record (evaluated in Rust; the data
    /// engine hands the list in).
    Lookup(Box<FieldKind>),
}

impl FieldKind {
    /// The type a reference to such a field has in a formula.
    pub fn formula_type(&self) -> Type {
        match self {
            FieldKind::Text | FieldKind::SingleSelect => Type::Text,
            FieldKind::Number { scale } => Type::Number {
                scale: (*scale).min(SCALE_MAX),
            },
            FieldKind::Integer => Type::Number { scale: 0 },
            FieldKind::Checkbox => Type::Boolean,
            FieldKind::Date => Type::Date,
            FieldKind::DateTime => Type::DateTime,
            FieldKind::TextList => Type::List(Box::new(Type::Text)),
            FieldKind::Lookup(of) => match of.formula_type() {
                Type::List(inner) => Type::List(inner),
                other => Type::List(Box::new(other)),
            },
        }
    }
}

/// A field as a formula sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub id: FieldId,
    pub name: String,
    pub kind: FieldKind,
    /// The SQL expression that reads the field's column, e.g. `"f_01j…"` or `t."f_01j…"`; written by the
    /// data engine from its own metadata, never from user input.
    pub column: String,
}

impl Field {
    /// A field whose column is `"f_<id>"`.
    pub fn new(id: impl Into<String>, name: impl Into<String>, kind: FieldKind) -> Self {
        let id = FieldId::new(id);
        let column = format!("\"f_{}\"", id.as_str().replace('"', "\"\""));
        Field {
            id,
            name: name.into(),
            kind,
            column,
        }
    }

    #[must_use]
    pub fn with_column(mut self, column: impl Into<String>) -> Self {
        self.column = column.into();
        self
    }
}

/// The fields of one table.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    fields: Vec<Field>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<FieldId, usize>,
}

impl Schema {
    pub fn new(fields: impl IntoIterator<Item = Field>) -> Self {
        let mut schema = Schema::default();
        for field in fields {
            schema
                .by_name
                .insert(field.name.clone(), schema.fields.len());
            schema.by_id.insert(field.id.clone(), schema.fields.len());
            schema.fields.push(field);
        }
        schema
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn by_name(&self, name: &str) -> Option<&Field> {
        self.by_name.get(name).map(|&index| &self.fields[index])
    }

    pub fn by_id(&self, id: &FieldId) -> Option<&Field> {
        self.by_id.get(id).map(|&index| &self.fields[index])
    }
}

/// The type of a formula value. Every value may also be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// An exact decimal with `scale` decimal places (0 ..= [`SCALE_MAX`]).
    Number {
        scale: u32,
    },
    Text,
    Boolean,
    /// A calendar date without a time.
    Date,
    /// An instant (UTC), shown in the organization's time zone.
    DateTime,
    /// Values of linked records (lookups) or of a multi-valued field.
    List(Box<Type>),
    /// The type of `BLANK()`: only ever empty; fits wherever a value is expected.
    Blank,
}

impl Type {
    pub fn number(scale: u32) -> Type {
        Type::Number {
            scale: scale.min(SCALE_MAX),
        }
    }

    pub(crate) fn scale(&self) -> u32 {
        match self {
            Type::Number { scale } => *scale,
            _ => 0,
        }
    }

    /// The JSON name of the type, for the field definition the data engine shows.
    pub fn name(&self) -> String {
        match self {
            Type::Number { scale } => format!("number({scale})"),
            Type::Text => "text".into(),
            Type::Boolean => "boolean".into(),
            Type::Date => "date".into(),
            Type::DateTime => "datetime".into(),
            Type::List(inner) => format!("list of {}", inner.name()),
            Type::Blank => "blank".into(),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Number { .. } => f.write_str("number"),
            other => f.write_str(&other.name()),
        }
    }
}
