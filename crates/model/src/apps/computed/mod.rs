//! Computed fields — formula, lookup, rollup, count — and the bridge between tables and the formula
//! language: which formula type each field has, cell values to formula values and back, checking a
//! formula or a lookup against the tables, and the order in which a record's formulas are computed.
//!
//! Pure: the store loads the tables and runs the SQL; this module decides.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tenon_formula::rollup::Aggregate;
use tenon_formula::{self as formula, Diagnostic, Formula, Type};

mod values;

pub use values::{cell_value, eval_formula, summarize, value_cell};

use crate::apps::field::{FieldKind, FieldRef, Storage};
use crate::apps::{CellValue, Field, TableSchema};
use crate::ids::FieldId;
use crate::validation::{DetailCode, Invalid, Reason};

/// A formula field's formula, as it travels from the client (names) to storage (ids) and back.
#[derive(Debug, Clone)]
pub enum FormulaDef {
    /// As a client typed it, with `{Field name}` references; not checked yet.
    Source(String),
    /// As loaded from storage (`{field id}` references) with the result type found when it was saved;
    /// checked against the table when the table's schema is loaded.
    Stored {
        stored: String,
        result: Type,
        clock: bool,
    },
    /// Checked against the table.
    Checked(CheckedFormula),
}

/// A checked formula and whether its value depends on the clock — through `TODAY()`/`NOW()` or through a
/// field that does.
#[derive(Debug, Clone)]
pub struct CheckedFormula {
    pub formula: Arc<Formula>,
    pub clock: bool,
}

impl CheckedFormula {
    /// A formula checked against `schema`: it reads the clock itself or reads a field computed when read.
    pub fn new(formula: Formula, schema: &TableSchema) -> CheckedFormula {
        let clock = formula.uses_clock()
            || formula.references().any(|id| {
                id.as_str()
                    .parse::<FieldId>()
                    .ok()
                    .and_then(|id| schema.field(id))
                    .is_some_and(|field| field.kind.storage() == Storage::Virtual)
            });
        CheckedFormula {
            formula: Arc::new(formula),
            clock,
        }
    }
}

impl std::ops::Deref for CheckedFormula {
    type Target = Formula;
    fn deref(&self) -> &Formula {
        &self.formula
    }
}

impl PartialEq for FormulaDef {
    fn eq(&self, other: &Self) -> bool {
        match (self.stored(), other.stored()) {
            (Some(a), Some(b)) => a == b,
            _ => self.text() == other.text(),
        }
    }
}

impl FormulaDef {
    pub fn checked(&self) -> Option<&Formula> {
        match self {
            FormulaDef::Checked(checked) => Some(&checked.formula),
            _ => None,
        }
    }

    /// The text people read: names when checked, as typed before.
    pub fn text(&self) -> &str {
        match self {
            FormulaDef::Source(text) => text,
            FormulaDef::Stored { stored, .. } => stored,
            FormulaDef::Checked(formula) => formula.text(),
        }
    }

    /// The stored form (field ids), once known.
    pub fn stored(&self) -> Option<&str> {
        match self {
            FormulaDef::Source(_) => None,
            FormulaDef::Stored { stored, .. } => Some(stored),
            FormulaDef::Checked(formula) => Some(formula.stored()),
        }
    }

    pub fn result_type(&self) -> Option<&Type> {
        match self {
            FormulaDef::Source(_) => None,
            FormulaDef::Stored { result, .. } => Some(result),
            FormulaDef::Checked(formula) => Some(formula.result_type()),
        }
    }

    /// Whether the value depends on the clock (and is therefore computed when read, never stored).
    pub fn uses_clock(&self) -> bool {
        match self {
            FormulaDef::Source(_) => false,
            FormulaDef::Stored { clock, .. } => *clock,
            FormulaDef::Checked(checked) => checked.clock,
        }
    }
}

/// A formula type as stored in field metadata: `{"type": "number", "scale": 2}`, `{"type": "list", "of": …}`.
pub fn type_to_json(ty: &Type) -> Value {
    match ty {
        Type::Number { scale } => json!({"type": "number", "scale": scale}),
        Type::Text => json!({"type": "text"}),
        Type::Boolean => json!({"type": "boolean"}),
        Type::Date => json!({"type": "date"}),
        Type::DateTime => json!({"type": "datetime"}),
        Type::List(inner) => json!({"type": "list", "of": type_to_json(inner)}),
        Type::Blank => json!({"type": "blank"}),
    }
}

pub fn type_from_json(value: &Value) -> Option<Type> {
    Some(match value.get("type")?.as_str()? {
        "number" => Type::number(u32::try_from(value.get("scale")?.as_u64()?).ok()?),
        "text" => Type::Text,
        "boolean" => Type::Boolean,
        "date" => Type::Date,
        "datetime" => Type::DateTime,
        "list" => Type::List(Box::new(type_from_json(value.get("of")?)?)),
        "blank" => Type::Blank,
        _ => return None,
    })
}

/// The result of a computed field as the API shows it: `{"type": "number", "precision": 2}`,
/// `{"type": "text"}`, `{"type": "list", "of": {…}}`.
pub fn result_json(ty: &Type) -> Value {
    match ty {
        Type::Number { scale } => json!({"type": "number", "precision": scale}),
        Type::Boolean => json!({"type": "checkbox"}),
        Type::List(inner) => json!({"type": "list", "of": result_json(inner)}),
        other => json!({"type": type_name(other)}),
    }
}

fn type_name(ty: &Type) -> &'static str {
    match ty {
        Type::Number { .. } => "number",
        Type::Text => "text",
        Type::Boolean => "checkbox",
        Type::Date => "date",
        Type::DateTime => "datetime",
        Type::List(_) => "list",
        Type::Blank => "blank",
    }
}

/// How formulas see a field, or `None` when formulas cannot refer to it (links and the actor columns).
pub fn formula_kind(kind: &FieldKind) -> Option<formula::FieldKind> {
    use formula::FieldKind as F;
    Some(match kind {
        FieldKind::Text { .. }
        | FieldKind::LongText { .. }
        | FieldKind::Email
        | FieldKind::Phone
        | FieldKind::Url
        | FieldKind::Autonumber { .. } => F::Text,
        FieldKind::SingleSelect { .. } => F::SingleSelect,
        FieldKind::Number { .. } | FieldKind::Currency { .. } | FieldKind::Percent { .. } => {
            match kind.storage() {
                Storage::Decimal { scale } => F::Number { scale },
                _ => return None,
            }
        }
        FieldKind::Duration { .. } | FieldKind::Rating { .. } | FieldKind::Count { .. } => {
            F::Integer
        }
        FieldKind::Checkbox => F::Checkbox,
        FieldKind::Date { .. } => F::Date,
        FieldKind::DateTime { .. }
        | FieldKind::CreatedTime { .. }
        | FieldKind::ModifiedTime { .. } => F::DateTime,
        FieldKind::MultiSelect { .. }
        | FieldKind::Member { .. }
        | FieldKind::Department { .. }
        | FieldKind::Attachment { .. } => F::TextList,
        FieldKind::Link { .. } | FieldKind::CreatedBy | FieldKind::ModifiedBy => return None,
        FieldKind::Rollup { .. } if matches!(kind.storage(), Storage::Integer) => F::Integer,
        FieldKind::Formula { .. } | FieldKind::Lookup { .. } | FieldKind::Rollup { .. } => {
            kind_of_type(&kind.value_type()?)?
        }
    })
}

fn kind_of_type(ty: &Type) -> Option<formula::FieldKind> {
    use formula::FieldKind as F;
    Some(match ty {
        Type::Number { scale } => F::Number { scale: *scale },
        Type::Text | Type::Blank => F::Text,
        Type::Boolean => F::Checkbox,
        Type::Date => F::Date,
        Type::DateTime => F::DateTime,
        Type::List(inner) => F::Lookup(Box::new(kind_of_type(inner)?)),
    })
}

/// The table's fields as formulas see them. `column` gives the SQL expression of a field's value (for
/// compiling to SQL; checking alone may pass anything). `except` leaves fields out (the formula's own
/// field and what depends on it, so no formula can refer to itself).
pub fn formula_schema(
    schema: &TableSchema,
    column: &dyn Fn(&Field) -> String,
    except: &HashSet<FieldId>,
) -> formula::Schema {
    formula::Schema::new(
        schema
            .fields
            .iter()
            .filter(|field| !except.contains(&field.id))
            .filter_map(|field| {
                let kind = formula_kind(&field.kind)?;
                Some(
                    formula::Field::new(field.id.to_string(), field.name.as_str(), kind)
                        .with_column(column(field)),
                )
            }),
    )
}

/// Diagnostics as field errors at `path`, each with the formula and a caret under the problem.
pub fn diagnostics(path: &str, found: &[Diagnostic]) -> Invalid {
    Invalid(
        found
            .iter()
            .map(|diagnostic| {
                crate::FieldError::new(
                    path,
                    diagnostic_code(diagnostic.kind),
                    format!(
                        "{} (at characters {}..{} of the formula)",
                        diagnostic.message, diagnostic.span.start, diagnostic.span.end
                    ),
                )
                .with("start", diagnostic.span.start)
                .with("end", diagnostic.span.end)
            })
            .collect(),
    )
}

/// The detail code of a formula diagnostic.
pub fn diagnostic_code(kind: formula::DiagnosticKind) -> DetailCode {
    use formula::DiagnosticKind as Kind;
    match kind {
        Kind::Syntax => DetailCode::FormulaSyntax,
        Kind::UnknownField => DetailCode::FormulaUnknownField,
        Kind::UnknownFunction => DetailCode::FormulaUnknownFunction,
        Kind::Type => DetailCode::FormulaType,
        Kind::NotCondition => DetailCode::FormulaNotCondition,
        Kind::Limit => DetailCode::FormulaLimit,
        Kind::Regex => DetailCode::FormulaRegex,
    }
}

/// The fields that (directly or through other formulas) depend on `field` in the same table.
pub fn dependents_in_table(schema: &TableSchema, field: FieldId) -> HashSet<FieldId> {
    let mut found: HashSet<FieldId> = HashSet::new();
    let mut frontier = vec![field];
    while let Some(next) = frontier.pop() {
        for candidate in &schema.fields {
            if found.contains(&candidate.id) {
                continue;
            }
            if same_table_inputs(&candidate.kind).contains(&next) {
                found.insert(candidate.id);
                frontier.push(candidate.id);
            }
        }
    }
    found
}

/// The fields of its own table a computed field reads: a formula's references, a lookup's link.
pub fn same_table_inputs(kind: &FieldKind) -> Vec<FieldId> {
    match kind {
        FieldKind::Formula { formula } => match formula {
            FormulaDef::Checked(checked) => checked
                .references()
                .filter_map(|id| id.as_str().parse().ok())
                .collect(),
            FormulaDef::Stored { stored, .. } => stored_references(stored),
            FormulaDef::Source(_) => Vec::new(),
        },
        FieldKind::Lookup { link, .. }
        | FieldKind::Rollup { link, .. }
        | FieldKind::Count { link } => link.id().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Field ids between braces in a stored formula (a superset is harmless: it only orders computation).
pub fn stored_references(stored: &str) -> Vec<FieldId> {
    stored
        .split('{')
        .skip(1)
        .filter_map(|part| part.split('}').next())
        .filter_map(|id| id.parse().ok())
        .collect()
}

/// Checks a formula typed by a client against the table (leaving out `own` and its dependents).
pub fn check_formula(
    source: &str,
    schema: &TableSchema,
    own: Option<FieldId>,
    path: &str,
) -> Result<CheckedFormula, Invalid> {
    let mut except = own
        .map(|id| dependents_in_table(schema, id))
        .unwrap_or_default();
    except.extend(own);
    let formula_schema = formula_schema(schema, &|_| String::new(), &except);
    let checked =
        formula::check(source, &formula_schema).map_err(|found| diagnostics(path, &found))?;
    Ok(CheckedFormula::new(checked, schema))
}

/// Replaces every stored formula of the schema by its checked form (after a load). A stored formula that
/// no longer checks is reported: it names the field and why.
pub fn check_stored_formulas(schema: &mut TableSchema) -> Result<(), String> {
    let formula_schema = formula_schema(schema, &|_| String::new(), &HashSet::new());
    for field in &mut schema.fields {
        if let FieldKind::Formula {
            formula: FormulaDef::Stored { stored, clock, .. },
        } = &field.kind
        {
            let clock = *clock;
            let checked = formula::check_stored(stored, &formula_schema).map_err(|found| {
                let reasons: Vec<String> = found.iter().map(ToString::to_string).collect();
                format!("formula of field {}: {}", field.key, reasons.join("; "))
            })?;
            field.kind = FieldKind::Formula {
                formula: FormulaDef::Checked(CheckedFormula {
                    formula: Arc::new(checked),
                    clock,
                }),
            };
        }
    }
    for rule in &mut schema.table.validation_rules {
        if let FormulaDef::Stored { stored, .. } = &rule.formula {
            let checked = formula::check_stored(stored, &formula_schema).map_err(|found| {
                let reasons: Vec<String> = found.iter().map(ToString::to_string).collect();
                format!(
                    "validation rule \"{}\": {}",
                    rule.message,
                    reasons.join("; ")
                )
            })?;
            rule.formula = FormulaDef::Checked(CheckedFormula {
                formula: Arc::new(checked),
                clock: false,
            });
        }
    }
    Ok(())
}

/// Checks validation rules typed by a client (conditions) against the table.
pub fn check_rules(
    rules: &[(String, String)],
    schema: &TableSchema,
    path: &str,
) -> Result<Vec<crate::apps::ValidationRule>, Invalid> {
    let mut check = crate::validation::Checker::default();
    let formula_schema = formula_schema(schema, &|_| String::new(), &HashSet::new());
    if rules.len() > crate::apps::VALIDATION_RULES_MAX {
        check.add(
            Reason::too_many(
                crate::apps::VALIDATION_RULES_MAX,
                format!(
                    "a table has at most {} validation rules",
                    crate::apps::VALIDATION_RULES_MAX
                ),
            )
            .at(path),
        );
    }
    let mut checked = Vec::with_capacity(rules.len());
    for (i, (source, message)) in rules.iter().enumerate() {
        if message.trim().is_empty() {
            check.push(
                format!("{path}[{i}].message"),
                DetailCode::Required,
                "say what is wrong when the rule is broken",
            );
        }
        match formula::check_condition(source, &formula_schema) {
            Ok(formula) => checked.push(crate::apps::ValidationRule {
                formula: FormulaDef::Checked(CheckedFormula {
                    formula: Arc::new(formula),
                    clock: false,
                }),
                message: message.trim().to_owned(),
            }),
            Err(found) => {
                for error in diagnostics(&format!("{path}[{i}].formula"), &found).0 {
                    check.add(error);
                }
            }
        }
    }
    check.finish()?;
    Ok(checked)
}

/// The validation rules a record breaks: their messages.
pub fn broken_rules(
    schema: &TableSchema,
    cells: &BTreeMap<FieldId, CellValue>,
    ctx: &formula::EvalContext,
) -> Vec<String> {
    schema
        .table
        .validation_rules
        .iter()
        .filter_map(|rule| {
            let formula = rule.formula.checked()?;
            (!eval_formula(formula, cells, ctx).is_true()).then(|| rule.message.clone())
        })
        .collect()
}

/// The stored formula fields of a table in an order where each comes after the formulas it reads.
/// Fails with the fields of a cycle.
pub fn formula_order(schema: &TableSchema) -> Result<Vec<&Field>, Vec<FieldId>> {
    let formulas: BTreeMap<FieldId, &Field> = schema
        .fields
        .iter()
        .filter(|field| matches!(field.kind, FieldKind::Formula { .. }))
        .map(|field| (field.id, field))
        .collect();
    let mut order = Vec::with_capacity(formulas.len());
    let mut done: HashSet<FieldId> = HashSet::new();
    let mut visiting: Vec<FieldId> = Vec::new();
    fn visit<'a>(
        id: FieldId,
        formulas: &BTreeMap<FieldId, &'a Field>,
        done: &mut HashSet<FieldId>,
        visiting: &mut Vec<FieldId>,
        order: &mut Vec<&'a Field>,
    ) -> Result<(), Vec<FieldId>> {
        if done.contains(&id) {
            return Ok(());
        }
        if let Some(at) = visiting.iter().position(|known| *known == id) {
            return Err(visiting[at..].to_vec());
        }
        let Some(field) = formulas.get(&id) else {
            return Ok(());
        };
        visiting.push(id);
        for input in same_table_inputs(&field.kind) {
            visit(input, formulas, done, visiting, order)?;
        }
        visiting.pop();
        done.insert(id);
        order.push(field);
        Ok(())
    }
    for id in formulas.keys() {
        visit(*id, &formulas, &mut done, &mut visiting, &mut order)?;
    }
    Ok(order)
}

/// Checks a lookup, rollup or count against its table and the linked table, and fills in its result
/// type. `linked` is the schema of the table the link points to.
pub fn resolve_link_field(
    kind: FieldKind,
    schema: &TableSchema,
    linked: &dyn Fn(FieldId) -> Option<TableSchema>,
    path: &str,
) -> Result<FieldKind, Invalid> {
    let link_of = |reference: &FieldRef| -> Result<(FieldId, TableSchema), Invalid> {
        let name = match reference {
            FieldRef::Named(name) => name.clone(),
            FieldRef::Resolved(id) => id.to_string(),
        };
        let field = schema.resolve_field(&name).ok_or_else(|| {
            Invalid::one(
                format!("{path}.link"),
                DetailCode::UnknownField,
                format!("no field \"{name}\" in the table"),
            )
        })?;
        if !matches!(field.kind, FieldKind::Link { .. }) {
            return Err(Invalid::one(
                format!("{path}.link"),
                DetailCode::NotAllowed,
                format!("field \"{}\" is not a link", field.key),
            ));
        }
        let other = linked(field.id).ok_or_else(|| {
            Invalid::from(
                Reason::not_found(
                    "table",
                    format!("the table linked by \"{}\" is gone", field.key),
                )
                .at(format!("{path}.link")),
            )
        })?;
        Ok((field.id, other))
    };
    let target_of = |other: &TableSchema,
                     reference: &FieldRef|
     -> Result<(FieldId, formula::FieldKind), Invalid> {
        let name = match reference {
            FieldRef::Named(name) => name.clone(),
            FieldRef::Resolved(id) => id.to_string(),
        };
        let field = other.resolve_field(&name).ok_or_else(|| {
            Invalid::one(
                format!("{path}.field"),
                DetailCode::UnknownField,
                format!("no field \"{name}\" in table {}", other.table.key),
            )
        })?;
        let kind = formula_kind(&field.kind).ok_or_else(|| {
            Invalid::one(
                format!("{path}.field"),
                DetailCode::NotAllowed,
                format!(
                    "field \"{}\" ({}) cannot be looked up",
                    field.key,
                    field.field_type()
                ),
            )
        })?;
        if field.kind.storage() == Storage::Virtual {
            return Err(Invalid::one(
                format!("{path}.field"),
                DetailCode::NotAllowed,
                format!(
                    "field \"{}\" uses TODAY() or NOW() and is computed when read; it cannot be looked up or summarized",
                    field.key
                ),
            ));
        }
        Ok((field.id, kind))
    };
    Ok(match kind {
        FieldKind::Count { link } => FieldKind::Count {
            link: FieldRef::Resolved(link_of(&link)?.0),
        },
        FieldKind::Lookup { link, field, .. } => {
            let (link, other) = link_of(&link)?;
            let (field, element) = target_of(&other, &field)?;
            let result = formula::FieldKind::Lookup(Box::new(element)).formula_type();
            FieldKind::Lookup {
                link: FieldRef::Resolved(link),
                field: FieldRef::Resolved(field),
                result: Some(result),
            }
        }
        FieldKind::Rollup {
            link,
            field,
            function,
            ..
        } => {
            let (link, other) = link_of(&link)?;
            let (field, element) = target_of(&other, &field)?;
            let element_type = match element.formula_type() {
                Type::List(inner) => *inner,
                other => other,
            };
            let result = function.result_type(&element_type).map_err(|reason| {
                Invalid::one(
                    format!("{path}.function"),
                    DetailCode::NotAllowed,
                    format!(
                        "{} cannot summarize this field: {reason}",
                        crate::apps::field::aggregate_name(function)
                    ),
                )
            })?;
            FieldKind::Rollup {
                link: FieldRef::Resolved(link),
                field: FieldRef::Resolved(field),
                function,
                result: Some(result),
            }
        }
        other => other,
    })
}

/// The names the rollup `function` option takes.
pub fn parse_aggregate(name: &str) -> Option<Aggregate> {
    Aggregate::parse(name)
}

/// For each computed field of a table that reads a linked table: (the link field, the field it reads
/// there; `None` for a count).
pub fn link_inputs(schema: &TableSchema) -> HashMap<FieldId, Vec<(FieldId, Option<FieldId>)>> {
    let mut inputs: HashMap<FieldId, Vec<(FieldId, Option<FieldId>)>> = HashMap::new();
    for field in &schema.fields {
        match &field.kind {
            FieldKind::Lookup {
                link, field: read, ..
            }
            | FieldKind::Rollup {
                link, field: read, ..
            } => {
                if let Some(link) = link.id() {
                    inputs.entry(field.id).or_default().push((link, read.id()));
                }
            }
            FieldKind::Count { link } => {
                if let Some(link) = link.id() {
                    inputs.entry(field.id).or_default().push((link, None));
                }
            }
            _ => {}
        }
    }
    inputs
}

/// Whether the table has stored computed fields (which a write must keep current).
pub fn has_stored_computed(schema: &TableSchema) -> bool {
    schema
        .fields
        .iter()
        .any(|field| field.field_type().is_computed() && field.kind.storage() != Storage::Virtual)
}

/// Computed fields of the app's tables (other than those in `removed`) that read any field of
/// `removed`: as (table, field). A field cannot go (or change type) while something reads it.
pub fn readers_of_fields<'a>(
    tables: &'a [TableSchema],
    removed: &HashSet<FieldId>,
) -> Vec<(&'a TableSchema, &'a Field)> {
    let mut readers = Vec::new();
    for table in tables {
        for field in &table.fields {
            if removed.contains(&field.id) {
                continue;
            }
            if field_inputs(&field.kind)
                .iter()
                .any(|id| removed.contains(id))
            {
                readers.push((table, field));
            }
        }
    }
    readers
}

/// Every field a computed field reads, in any table: a formula's references, a lookup's or rollup's
/// link and the field it reads on the linked table, a count's link.
pub fn field_inputs(kind: &FieldKind) -> Vec<FieldId> {
    match kind {
        FieldKind::Formula { .. } => same_table_inputs(kind),
        FieldKind::Lookup {
            link, field: read, ..
        }
        | FieldKind::Rollup {
            link, field: read, ..
        } => link.id().into_iter().chain(read.id()).collect(),
        FieldKind::Count { link } => link.id().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// "a (table t), b (table u)": how an error names the fields that read another.
pub fn describe_readers(readers: &[(&TableSchema, &Field)]) -> String {
    readers
        .iter()
        .map(|(table, field)| format!("\"{}\" (table {})", field.key, table.table.key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validation rules of the app's tables that read any field of `removed`, named for an error.
pub fn rules_reading(tables: &[TableSchema], removed: &HashSet<FieldId>) -> Vec<String> {
    tables
        .iter()
        .flat_map(|table| {
            table.table.validation_rules.iter().filter_map(move |rule| {
                let reads = match &rule.formula {
                    FormulaDef::Checked(checked) => checked
                        .references()
                        .filter_map(|id| id.as_str().parse().ok())
                        .collect(),
                    FormulaDef::Stored { stored, .. } => stored_references(stored),
                    FormulaDef::Source(_) => Vec::new(),
                };
                reads.iter().any(|id| removed.contains(id)).then(|| {
                    format!(
                        "validation rule \"{}\" (table {})",
                        rule.message, table.table.key
                    )
                })
            })
        })
        .collect()
}
