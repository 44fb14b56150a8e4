//! Field types and their options: the registry every table column is built from.
//!
//! Each type has a snake_case id (the contract), a set of option names, a physical storage class (see
//! [`Storage`]) and a JSON representation (rendered by the server). Options arrive as a JSON object and are
//! parsed here; unknown option names are reported separately ([`SpecError::UnknownOptions`]) because the
//! API answers them with 400, while bad option values are ordinary validation errors (422).

use std::fmt;

use regex::Regex;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use tenon_formula::Type;
use tenon_formula::rollup::Aggregate;

use crate::apps::computed::FormulaDef;
use crate::apps::key::ApiKey;
use crate::ids::{FieldId, TableId};
use crate::validation::{Invalid, Reason};
use crate::values::{Name, TimeZone};

/// Largest decimal precision a number field may have. With 8 decimals, SQLite's scaled 64-bit integers
/// still hold values up to about 92 billion.
pub const PRECISION_MAX: u32 = 8;
/// Most choices a select field may offer.
pub const CHOICES_MAX: usize = 1000;
/// Highest rating scale.
pub const RATING_MAX: i64 = 10;
/// Largest attachment limit a field may set, in MiB.
pub const ATTACHMENT_MB_MAX: u32 = 1024;

/// The snake_case type ids of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Currency,
    Percent,
    Date,
    DateTime,
    Duration,
    Checkbox,
    SingleSelect,
    MultiSelect,
    Rating,
    Email,
    Phone,
    Url,
    Member,
    Department,
    Attachment,
    Link,
    Autonumber,
    CreatedTime,
    CreatedBy,
    ModifiedTime,
    ModifiedBy,
    Formula,
    Lookup,
    Rollup,
    Count,
}

impl FieldType {
    pub const ALL: [FieldType; 28] = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Number,
        FieldType::Currency,
        FieldType::Percent,
        FieldType::Date,
        FieldType::DateTime,
        FieldType::Duration,
        FieldType::Checkbox,
        FieldType::SingleSelect,
        FieldType::MultiSelect,
        FieldType::Rating,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
        FieldType::Member,
        FieldType::Department,
        FieldType::Attachment,
        FieldType::Link,
        FieldType::Autonumber,
        FieldType::CreatedTime,
        FieldType::CreatedBy,
        FieldType::ModifiedTime,
        FieldType::ModifiedBy,
        FieldType::Formula,
        FieldType::Lookup,
        FieldType::Rollup,
        FieldType::Count,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Number => "number",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Duration => "duration",
            FieldType::Checkbox => "checkbox",
            FieldType::SingleSelect => "single_select",
            FieldType::MultiSelect => "multi_select",
            FieldType::Rating => "rating",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Member => "member",
            FieldType::Department => "department",
            FieldType::Attachment => "attachment",
            FieldType::Link => "link",
            FieldType::Autonumber => "autonumber",
            FieldType::CreatedTime => "created_time",
            FieldType::CreatedBy => "created_by",
            FieldType::ModifiedTime => "modified_time",
            FieldType::ModifiedBy => "modified_by",
            FieldType::Formula => "formula",
            FieldType::Lookup => "lookup",
            FieldType::Rollup => "rollup",
            FieldType::Count => "count",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Reason> {
        FieldType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = FieldType::ALL.iter().map(|kind| kind.as_str()).collect();
                Reason::not_one_of(
                    &names,
                    format!(
                        "\"{raw}\" is not a field type; use one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// The option names this type accepts (documented per type in docs/fields.md).
    pub fn option_names(self) -> &'static [&'static str] {
        match self {
            FieldType::Text => &["min_length", "max_length", "pattern"],
            FieldType::LongText => &["min_length", "max_length"],
            FieldType::Number | FieldType::Percent => &["precision", "min", "max"],
            FieldType::Currency => &["currency", "precision", "min", "max"],
            FieldType::Date
            | FieldType::DateTime
            | FieldType::CreatedTime
            | FieldType::ModifiedTime => &["time_zone"],
            FieldType::Duration => &["min", "max"],
            FieldType::SingleSelect | FieldType::MultiSelect => &["choices"],
            FieldType::Rating => &["max"],
            FieldType::Member | FieldType::Department => &["multiple"],
            FieldType::Attachment => &["max_size_mb", "types"],
            FieldType::Link => &[
                "table",
                "multiple",
                "inverse_key",
                "inverse_name",
                "inverse_multiple",
            ],
            FieldType::Autonumber => &["prefix", "date_pattern", "digits"],
            FieldType::Formula => &["formula"],
            FieldType::Lookup => &["link", "field"],
            FieldType::Rollup => &["link", "field", "function"],
            FieldType::Count => &["link"],
            FieldType::Checkbox
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::CreatedBy
            | FieldType::ModifiedBy => &[],
        }
    }

    /// Whether clients may write values of this type (computed types are read-only).
    pub const fn is_writable(self) -> bool {
        !matches!(
            self,
            FieldType::Autonumber
                | FieldType::CreatedTime
                | FieldType::CreatedBy
                | FieldType::ModifiedTime
                | FieldType::ModifiedBy
                | FieldType::Formula
                | FieldType::Lookup
                | FieldType::Rollup
                | FieldType::Count
        )
    }

    /// Whether the type's values are computed from other fields (formula, lookup, rollup, count).
    pub const fn is_computed(self) -> bool {
        matches!(
            self,
            FieldType::Formula | FieldType::Lookup | FieldType::Rollup | FieldType::Count
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a field's values live in SQL. `Column` types have a column `f_<id>` in the table; the others live in
/// a junction table (links) or in the system columns every table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// TEXT.
    Text,
    /// NUMERIC(28, scale) on PostgreSQL; INTEGER holding value × 10^scale on SQLite.
    Decimal { scale: u32 },
    /// BIGINT / INTEGER.
    Integer,
    /// BOOLEAN / INTEGER 0 or 1.
    Boolean,
    /// DATE / TEXT `YYYY-MM-DD`.
    Date,
    /// TIMESTAMPTZ / fixed-width RFC 3339 TEXT in UTC.
    DateTime,
    /// JSONB / TEXT holding a JSON array.
    JsonArray,
    /// A junction table per link field pair.
    Junction,
    /// `created_at` / `modified_at` / `created_by` / `modified_by` system columns.
    System,
    /// No column: computed whenever it is read (formulas that use `TODAY()` or `NOW()`).
    Virtual,
}

impl Storage {
    /// The storage of computed values of a formula type.
    pub fn of_type(ty: &Type) -> Storage {
        match ty {
            Type::Number { scale } => Storage::Decimal { scale: *scale },
            Type::Boolean => Storage::Boolean,
            Type::Date => Storage::Date,
            Type::DateTime => Storage::DateTime,
            Type::List(_) => Storage::JsonArray,
            Type::Text | Type::Blank => Storage::Text,
        }
    }
}

/// One choice of a select field. Records store the choice's name; renaming a choice rewrites them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub name: String,
    pub color: String,
}

/// The palette choices are coloured from when the client gives no colour.
pub const CHOICE_COLORS: [&str; 10] = [
    "blue", "cyan", "teal", "green", "yellow", "orange", "red", "pink", "purple", "gray",
];

/// A regular expression text values must match, kept with its source.
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        regex::RegexBuilder::new(raw)
            .size_limit(1 << 20)
            .build()
            .map(Pattern)
            .map_err(|error| {
                Reason::format(
                    "regex",
                    format!("is not a valid regular expression: {error}"),
                )
            })
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Lower and upper bounds, in the field's own unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
}

/// Which table a link points to, before and after it is resolved against the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// As the client wrote it: a table key or id.
    Named(String),
    Resolved(TableId),
}

/// A field another field refers to (a lookup's link, the looked-up field), before and after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// As the client wrote it: a field key, id or name.
    Named(String),
    Resolved(FieldId),
}

impl FieldRef {
    pub fn id(&self) -> Option<FieldId> {
        match self {
            FieldRef::Resolved(id) => Some(*id),
            FieldRef::Named(_) => None,
        }
    }
}

/// A field's type with its options.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text {
        min_length: Option<u32>,
        max_length: Option<u32>,
        pattern: Option<Pattern>,
    },
    LongText {
        min_length: Option<u32>,
        max_length: Option<u32>,
    },
    Number {
        precision: u32,
        bounds: Bounds,
    },
    Currency {
        currency: String,
        precision: u32,
        bounds: Bounds,
    },
    /// Values are fractions (0.06 is 6 %); `precision` counts decimals of the percentage.
    Percent {
        precision: u32,
        bounds: Bounds,
    },
    Date {
        time_zone: Option<TimeZone>,
    },
    DateTime {
        time_zone: Option<TimeZone>,
    },
    /// Seconds.
    Duration {
        bounds: Bounds,
    },
    Checkbox,
    SingleSelect {
        choices: Vec<Choice>,
    },
    MultiSelect {
        choices: Vec<Choice>,
    },
    Rating {
        max: i64,
    },
    Email,
    Phone,
    Url,
    Member {
        multiple: bool,
    },
    Department {
        multiple: bool,
    },
    Attachment {
        max_size_mb: u32,
        types: Vec<String>,
    },
    Link {
        table: LinkTarget,
        multiple: bool,
        inverse: Option<FieldId>,
    },
    Autonumber {
        prefix: String,
        date_pattern: Option<DatePattern>,
        digits: u32,
    },
    CreatedTime {
        time_zone: Option<TimeZone>,
    },
    CreatedBy,
    ModifiedTime {
        time_zone: Option<TimeZone>,
    },
    ModifiedBy,
    /// A value computed from the record's other fields.
    Formula {
        formula: FormulaDef,
    },
    /// The values of `field` on the records linked through `link` (a list).
    Lookup {
        link: FieldRef,
        field: FieldRef,
        /// The list type, once resolved against the linked table.
        result: Option<Type>,
    },
    /// `function` over the values of `field` on the records linked through `link`.
    Rollup {
        link: FieldRef,
        field: FieldRef,
        function: Aggregate,
        result: Option<Type>,
    },
    /// How many records are linked through `link`.
    Count {
        link: FieldRef,
    },
}

/// The date part of an autonumber (`ZS-20261124-0001`); numbering restarts with each new date value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePattern {
    Yyyymmdd,
    Yyyymm,
    Yyyy,
    Yymmdd,
}

impl DatePattern {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        match raw {
            "YYYYMMDD" => Ok(DatePattern::Yyyymmdd),
            "YYYYMM" => Ok(DatePattern::Yyyymm),
            "YYYY" => Ok(DatePattern::Yyyy),
            "YYMMDD" => Ok(DatePattern::Yymmdd),
            other => Err(Reason::not_one_of(
                &["YYYYMMDD", "YYYYMM", "YYYY", "YYMMDD"],
                format!("\"{other}\" is not a date pattern; use YYYYMMDD, YYYYMM, YYYY or YYMMDD"),
            )),
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            DatePattern::Yyyymmdd => "YYYYMMDD",
            DatePattern::Yyyymm => "YYYYMM",
            DatePattern::Yyyy => "YYYY",
            DatePattern::Yymmdd => "YYMMDD",
        }
    }
    /// The chrono format of the pattern.
    pub const fn format(self) -> &'static str {
        match self {
            DatePattern::Yyyymmdd => "%Y%m%d",
            DatePattern::Yyyymm => "%Y%m",
            DatePattern::Yyyy => "%Y",
            DatePattern::Yymmdd => "%y%m%d",
        }
    }
}

impl FieldKind {
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldKind::Text { .. } => FieldType::Text,
            FieldKind::LongText { .. } => FieldType::LongText,
            FieldKind::Number { .. } => FieldType::Number,
            FieldKind::Currency { .. } => FieldType::Currency,
            FieldKind::Percent { .. } => FieldType::Percent,
            FieldKind::Date { .. } => FieldType::Date,
            FieldKind::DateTime { .. } => FieldType::DateTime,
            FieldKind::Duration { .. } => FieldType::Duration,
            FieldKind::Checkbox => FieldType::Checkbox,
            FieldKind::SingleSelect { .. } => FieldType::SingleSelect,
            FieldKind::MultiSelect { .. } => FieldType::MultiSelect,
            FieldKind::Rating { .. } => FieldType::Rating,
            FieldKind::Email => FieldType::Email,
            FieldKind::Phone => FieldType::Phone,
            FieldKind::Url => FieldType::Url,
            FieldKind::Member { .. } => FieldType::Member,
            FieldKind::Department { .. } => FieldType::Department,
            FieldKind::Attachment { .. } => FieldType::Attachment,
            FieldKind::Link { .. } => FieldType::Link,
            FieldKind::Autonumber { .. } => FieldType::Autonumber,
            FieldKind::CreatedTime { .. } => FieldType::CreatedTime,
            FieldKind::CreatedBy => FieldType::CreatedBy,
            FieldKind::ModifiedTime { .. } => FieldType::ModifiedTime,
            FieldKind::ModifiedBy => FieldType::ModifiedBy,
            FieldKind::Formula { .. } => FieldType::Formula,
            FieldKind::Lookup { .. } => FieldType::Lookup,
            FieldKind::Rollup { .. } => FieldType::Rollup,
            FieldKind::Count { .. } => FieldType::Count,
        }
    }

    pub fn storage(&self) -> Storage {
        match self {
            FieldKind::Text { .. }
            | FieldKind::LongText { .. }
            | FieldKind::SingleSelect { .. }
            | FieldKind::Email
            | FieldKind::Phone
            | FieldKind::Url
            | FieldKind::Autonumber { .. } => Storage::Text,
            FieldKind::Number { precision, .. } | FieldKind::Currency { precision, .. } => {
                Storage::Decimal { scale: *precision }
            }
            FieldKind::Percent { precision, .. } => Storage::Decimal {
                scale: precision + 2,
            },
            FieldKind::Duration { .. } | FieldKind::Rating { .. } => Storage::Integer,
            FieldKind::Checkbox => Storage::Boolean,
            FieldKind::Date { .. } => Storage::Date,
            FieldKind::DateTime { .. } => Storage::DateTime,
            FieldKind::MultiSelect { .. }
            | FieldKind::Member { .. }
            | FieldKind::Department { .. }
            | FieldKind::Attachment { .. } => Storage::JsonArray,
            FieldKind::Link { .. } => Storage::Junction,
            FieldKind::CreatedTime { .. }
            | FieldKind::CreatedBy
            | FieldKind::ModifiedTime { .. }
            | FieldKind::ModifiedBy => Storage::System,
            FieldKind::Formula { formula } => match formula.result_type() {
                Some(_) if formula.uses_clock() => Storage::Virtual,
                Some(result) => Storage::of_type(result),
                None => Storage::Text,
            },
            FieldKind::Lookup { .. } => Storage::JsonArray,
            FieldKind::Rollup { result, .. } => match result {
                Some(Type::Number { .. }) if is_count(self) => Storage::Integer,
                Some(ty) => Storage::of_type(ty),
                None => Storage::Text,
            },
            FieldKind::Count { .. } => Storage::Integer,
        }
    }

    /// How the field's values are represented in SQL: its storage, or for a field computed when read,
    /// the storage its values would have.
    pub fn value_storage(&self) -> Storage {
        match (self.storage(), self) {
            (Storage::Virtual, FieldKind::Formula { formula }) => formula
                .result_type()
                .map_or(Storage::Text, Storage::of_type),
            (storage, _) => storage,
        }
    }

    /// The formula type of the field's values (as formulas referring to it see them).
    pub fn value_type(&self) -> Option<Type> {
        Some(match self {
            FieldKind::Formula { formula } => formula.result_type()?.clone(),
            FieldKind::Lookup { result, .. } | FieldKind::Rollup { result, .. } => {
                result.clone()?
            }
            FieldKind::Count { .. } => Type::number(0),
            _ => return None,
        })
    }

    /// The options as the API shows them (the same names the client sends); other tables and fields are
    /// named by key.
    pub fn options_json(&self, keys: &dyn KeyLookup) -> Value {
        let mut options = Map::new();
        let mut put = |name: &str, value: Value| {
            options.insert(name.to_owned(), value);
        };
        let decimal = |value: &Decimal| Value::String(value.normalize().to_string());
        match self {
            FieldKind::Text {
                min_length,
                max_length,
                pattern,
            } => {
                min_length
                    .iter()
                    .for_each(|n| put("min_length", Value::from(*n)));
                max_length
                    .iter()
                    .for_each(|n| put("max_length", Value::from(*n)));
                pattern
                    .iter()
                    .for_each(|p| put("pattern", Value::from(p.as_str())));
            }
            FieldKind::LongText {
                min_length,
                max_length,
            } => {
                min_length
                    .iter()
                    .for_each(|n| put("min_length", Value::from(*n)));
                max_length
                    .iter()
                    .for_each(|n| put("max_length", Value::from(*n)));
            }
            FieldKind::Number { precision, bounds } | FieldKind::Percent { precision, bounds } => {
                put("precision", Value::from(*precision));
                bounds.min.iter().for_each(|v| put("min", decimal(v)));
                bounds.max.iter().for_each(|v| put("max", decimal(v)));
            }
            FieldKind::Currency {
                currency,
                precision,
                bounds,
            } => {
                put("currency", Value::from(currency.as_str()));
                put("precision", Value::from(*precision));
                bounds.min.iter().for_each(|v| put("min", decimal(v)));
                bounds.max.iter().for_each(|v| put("max", decimal(v)));
            }
            FieldKind::Date { time_zone }
            | FieldKind::DateTime { time_zone }
            | FieldKind::CreatedTime { time_zone }
            | FieldKind::ModifiedTime { time_zone } => {
                time_zone
                    .iter()
                    .for_each(|tz| put("time_zone", Value::from(tz.name())));
            }
            FieldKind::Duration { bounds } => {
                bounds.min.iter().for_each(|v| put("min", decimal(v)));
                bounds.max.iter().for_each(|v| put("max", decimal(v)));
            }
            FieldKind::SingleSelect { choices } | FieldKind::MultiSelect { choices } => {
                let choices = choices
                    .iter()
                    .map(|c| serde_json::json!({"id": c.id, "name": c.name, "color": c.color}))
                    .collect();
                put("choices", Value::Array(choices));
            }
            FieldKind::Rating { max } => put("max", Value::from(*max)),
            FieldKind::Member { multiple } | FieldKind::Department { multiple } => {
                put("multiple", Value::from(*multiple));
            }
            FieldKind::Attachment { max_size_mb, types } => {
                put("max_size_mb", Value::from(*max_size_mb));
                put("types", Value::from(types.clone()));
            }
            FieldKind::Link {
                table,
                multiple,
                inverse,
            } => {
                let table = match table {
                    LinkTarget::Named(name) => name.clone(),
                    LinkTarget::Resolved(id) => {
                        keys.table_key(*id).unwrap_or_else(|| id.to_string())
                    }
                };
                put("table", Value::from(table));
                put("multiple", Value::from(*multiple));
                inverse
                    .iter()
                    .for_each(|id| put("inverse_field_id", Value::from(id.to_string())));
            }
            FieldKind::Autonumber {
                prefix,
                date_pattern,
                digits,
            } => {
                put("prefix", Value::from(prefix.as_str()));
                date_pattern
                    .iter()
                    .for_each(|p| put("date_pattern", Value::from(p.as_str())));
                put("digits", Value::from(*digits));
            }
            FieldKind::Formula { formula } => put("formula", Value::from(formula.text())),
            FieldKind::Lookup { link, field, .. } => {
                put("link", Value::from(keys.field_ref(link)));
                put("field", Value::from(keys.field_ref(field)));
            }
            FieldKind::Rollup {
                link,
                field,
                function,
                ..
            } => {
                put("link", Value::from(keys.field_ref(link)));
                put("field", Value::from(keys.field_ref(field)));
                put("function", Value::from(aggregate_name(*function)));
            }
            FieldKind::Count { link } => put("link", Value::from(keys.field_ref(link))),
            FieldKind::Checkbox
            | FieldKind::Email
            | FieldKind::Phone
            | FieldKind::Url
            | FieldKind::CreatedBy
            | FieldKind::ModifiedBy => {}
        }
        Value::Object(options)
    }
}

/// Whether a rollup counts (its values are whole numbers, stored as integers).
fn is_count(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Rollup {
            function: Aggregate::Count | Aggregate::CountDistinct | Aggregate::CountAll,
            ..
        }
    )
}

/// The option value of a rollup function.
pub const fn aggregate_name(function: Aggregate) -> &'static str {
    match function {
        Aggregate::Count => "count",
        Aggregate::CountDistinct => "count_distinct",
        Aggregate::CountAll => "count_all",
        Aggregate::Sum => "sum",
        Aggregate::Avg => "avg",
        Aggregate::Min => "min",
        Aggregate::Max => "max",
        Aggregate::Concat => "concat",
    }
}

/// Names other tables and fields by key when options are shown.
pub trait KeyLookup {
    fn table_key(&self, table: TableId) -> Option<String>;
    fn field_key(&self, field: FieldId) -> Option<String>;

    /// A field reference as shown: its key when known.
    fn field_ref(&self, reference: &FieldRef) -> String {
        match reference {
            FieldRef::Named(name) => name.clone(),
            FieldRef::Resolved(id) => self.field_key(*id).unwrap_or_else(|| id.to_string()),
        }
    }
}

/// Shows ids where keys would go (for stored metadata).
pub struct NoKeys;

impl KeyLookup for NoKeys {
    fn table_key(&self, _: TableId) -> Option<String> {
        None
    }
    fn field_key(&self, _: FieldId) -> Option<String> {
        None
    }
}

/// A field definition could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// Option names the type does not have (the API answers 400 and names them).
    UnknownOptions {
        path: String,
        names: Vec<String>,
        allowed: Vec<&'static str>,
    },
    Invalid(Invalid),
}

impl From<Invalid> for SpecError {
    fn from(invalid: Invalid) -> Self {
        SpecError::Invalid(invalid)
    }
}

/// A field as a client describes it, checked: what to create or change to.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: Name,
    pub key: Option<ApiKey>,
    pub kind: FieldKind,
    pub required: bool,
    pub unique: bool,
    pub indexed: bool,
    /// The raw default; checked against the kind by [`crate::apps::value::parse_cell`] when applied.
    pub default: Option<Value>,
    /// For links: the inverse field's key and name on the other table.
    pub inverse_key: Option<ApiKey>,
    pub inverse_name: Option<Name>,
    pub inverse_multiple: bool,
}

pub use crate::apps::options::parse_kind;
