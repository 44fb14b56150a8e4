//! Row rules: formulas over the record and the person (`{班主任} = CURRENT_MEMBER()`,
//! `INCLUDES({负责人}, CURRENT_MEMBER())`, `IN_DEPARTMENT({部门}, CURRENT_DEPARTMENTS(), TRUE)`,
//! `HAS_ROLE("财务")`, `{状态} != "已归档"`), lowered to a record filter for one person.
//!
//! The person's values are constants of a request, so a rule becomes a filter tree whose leaves compare
//! a field with bound values; the store compiles it to SQL like any filter, on every read path (pages,
//! `total`, aggregates, exports) and as the guard of writes. A rule is a condition built from `AND`,
//! `OR`, `NOT`, `TRUE`/`FALSE`, `HAS_ROLE`, comparisons of a field with a constant or a person function,
//! `INCLUDES`, `IN_DEPARTMENT` and `ISBLANK`; anything else is refused with its span when the permissions
//! are saved. The person functions are in the formula catalog (`docs/formula.md`).
//!
//! For a field holding several values (members, departments, multiple choices) `=` means "includes" and
//! `!=` "does not include". A person value that is empty (no department) matches no record with `=` and
//! every record with `!=`.

use serde_json::{Value, json};
use tenon_formula::syntax::{BinaryOp, Expr, ExprKind, Span, UnaryOp};

use super::access::Person;
use crate::apps::filter::{Filter, FilterContext};
use crate::apps::{Field, Storage, TableSchema};
use crate::ids::{DepartmentId, MemberId};
use crate::validation::{DetailCode, FieldError};

/// A row rule whose syntax and fields have been checked against a table.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRule {
    text: String,
    expr: Expr,
}

/// Why a rule cannot be lowered: where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub span: Span,
    pub code: DetailCode,
    pub message: String,
}

impl RuleError {
    fn new(span: Span, code: DetailCode, message: impl Into<String>) -> Self {
        RuleError {
            span,
            code,
            message: message.into(),
        }
    }

    /// As a detail of a 422 (path set by the caller), with the span as `start`/`end`.
    pub fn into_field_error(self) -> FieldError {
        let error = FieldError::new(
            "",
            self.code,
            format!(
                "{} (at characters {}..{} of the rule)",
                self.message, self.span.start, self.span.end
            ),
        );
        if self.code == DetailCode::NotFound {
            // HAS_ROLE naming no role: `not_found` documents `what` only.
            error.with("what", "role")
        } else {
            error
                .with("start", self.span.start)
                .with("end", self.span.end)
        }
    }
}

fn type_error(span: Span, message: impl Into<String>) -> RuleError {
    RuleError::new(span, DetailCode::FormulaType, message)
}

/// A constant a field is compared with.
#[derive(Debug, Clone)]
enum Constant {
    One(Value),
    /// Several candidates (CURRENT_DEPARTMENTS()).
    Many(Vec<String>),
    /// The person has no such value.
    Missing,
}

impl RowRule {
    /// Parses `text` and checks it against `schema` (fields, functions, operators), with the organization's
    /// custom roles for `HAS_ROLE`. Errors carry spans.
    pub fn check(
        text: &str,
        schema: &TableSchema,
        roles: &[(String, String)],
    ) -> Result<RowRule, Vec<FieldError>> {
        let expr = tenon_formula::parse(text).map_err(|found| {
            crate::apps::computed::diagnostics("", &found)
                .0
                .into_iter()
                .collect::<Vec<_>>()
        })?;
        let rule = RowRule {
            text: text.to_owned(),
            expr,
        };
        // A probe person with one department and every role: every leaf is built and checked.
        let probe = Person {
            member: MemberId::from_uuid(uuid::Uuid::nil()),
            departments: vec![DepartmentId::from_uuid(uuid::Uuid::nil())],
            roles: roles.to_vec(),
            parents: Default::default(),
        };
        let ctx = FilterContext {
            today: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
            time_zone: crate::values::TimeZone::UTC,
        };
        let lowering = Lowering {
            schema,
            person: &probe,
            check: Some(&ctx),
            roles: Some(roles),
        };
        lowering
            .condition(&rule.expr)
            .map_err(|error| vec![error.into_field_error()])?;
        Ok(rule)
    }

    /// Re-reads a stored rule (already checked when it was saved).
    pub fn stored(text: &str) -> Option<RowRule> {
        tenon_formula::parse(text).ok().map(|expr| RowRule {
            text: text.to_owned(),
            expr,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The rule as a filter tree (JSON, the records API's filter shape) for `person`.
    pub fn lower(&self, schema: &TableSchema, person: &Person) -> Result<Value, RuleError> {
        Lowering {
            schema,
            person,
            check: None,
            roles: None,
        }
        .condition(&self.expr)
    }
}

fn constant(value: bool) -> Value {
    if value {
        json!({"and": []})
    } else {
        json!({"or": []})
    }
}

struct Lowering<'a> {
    schema: &'a TableSchema,
    person: &'a Person,
    /// When checking: each leaf is parsed as a filter here, so a refused operator has its span.
    check: Option<&'a FilterContext>,
    /// When checking: the organization's roles, which `HAS_ROLE` must name.
    roles: Option<&'a [(String, String)]>,
}

impl Lowering<'_> {
    fn condition(&self, expr: &Expr) -> Result<Value, RuleError> {
        match &expr.kind {
            ExprKind::Bool(value) => Ok(constant(*value)),
            ExprKind::Field(_) => {
                let field = self.field(expr)?;
                self.leaf(
                    expr.span,
                    field,
                    BinaryOp::Eq,
                    Constant::One(Value::Bool(true)),
                )
            }
            ExprKind::Unary(UnaryOp::Not, inner) => Ok(json!({"not": self.condition(inner)?})),
            ExprKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), left, right) => {
                let group = if *op == BinaryOp::And { "and" } else { "or" };
                Ok(json!({group: [self.condition(left)?, self.condition(right)?]}))
            }
            ExprKind::Binary(
                op @ (BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge),
                left,
                right,
            ) => self.comparison(expr.span, *op, left, right),
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(expr, &name.to_ascii_uppercase(), *name_span, args),
            _ => Err(type_error(
                expr.span,
                "a row rule is a condition: AND, OR, NOT, a comparison of a field, INCLUDES, \
                 IN_DEPARTMENT, ISBLANK or HAS_ROLE",
            )),
        }
    }

    fn arity(&self, expr: &Expr, args: &[Expr], min: usize, max: usize) -> Result<(), RuleError> {
        if args.len() < min || args.len() > max {
            return Err(type_error(
                expr.span,
                format!("takes {min} to {max} arguments, not {}", args.len()),
            ));
        }
        Ok(())
    }

    fn call(
        &self,
        expr: &Expr,
        name: &str,
        name_span: Span,
        args: &[Expr],
    ) -> Result<Value, RuleError> {
        match name {
            "AND" | "OR" => {
                self.arity(expr, args, 1, 255)?;
                let parts = args
                    .iter()
                    .map(|arg| self.condition(arg))
                    .collect::<Result<Vec<_>, _>>()?;
                let group = if name == "AND" { "and" } else { "or" };
                Ok(json!({ group: parts }))
            }
            "NOT" => {
                self.arity(expr, args, 1, 1)?;
                Ok(json!({"not": self.condition(&args[0])?}))
            }
            "TRUE" | "FALSE" => {
                self.arity(expr, args, 0, 0)?;
                Ok(constant(name == "TRUE"))
            }
            "HAS_ROLE" => {
                self.arity(expr, args, 1, 1)?;
                let ExprKind::Text(role) = &args[0].kind else {
                    return Err(type_error(
                        args[0].span,
                        "HAS_ROLE takes a role's key or name in quotes",
                    ));
                };
                if let Some(roles) = self.roles
                    && !roles.iter().any(|(key, name)| key == role || name == role)
                {
                    return Err(RuleError::new(
                        args[0].span,
                        DetailCode::NotFound,
                        format!("no role \"{role}\" in this organization (see /api/v1/roles)"),
                    ));
                }
                Ok(constant(self.person.has_role(role)))
            }
            "ISBLANK" => {
                self.arity(expr, args, 1, 1)?;
                let field = self.field(&args[0])?;
                self.raw_leaf(expr.span, field, "is_empty", None)
            }
            "INCLUDES" => {
                self.arity(expr, args, 2, 2)?;
                let field = self.field(&args[0])?;
                if field.kind.storage() != Storage::JsonArray {
                    return Err(type_error(
                        args[0].span,
                        format!(
                            "INCLUDES takes a field of several values (members, departments, choices); \
                             {{{}}} holds one value: compare it with =",
                            field.name
                        ),
                    ));
                }
                let value = self.value(&args[1])?;
                self.leaf(expr.span, field, BinaryOp::Eq, value)
            }
            "IN_DEPARTMENT" => {
                self.arity(expr, args, 2, 3)?;
                let field = self.field(&args[0])?;
                let sub = match args.get(2).map(|arg| &arg.kind) {
                    None => false,
                    Some(ExprKind::Bool(flag)) => *flag,
                    Some(ExprKind::Call {
                        name, args: none, ..
                    }) if none.is_empty()
                        && (name.eq_ignore_ascii_case("TRUE")
                            || name.eq_ignore_ascii_case("FALSE")) =>
                    {
                        name.eq_ignore_ascii_case("TRUE")
                    }
                    Some(_) => {
                        return Err(type_error(
                            args[2].span,
                            "the third argument is TRUE (sub-departments too) or FALSE",
                        ));
                    }
                };
                let roots: Vec<String> = match self.value(&args[1])? {
                    Constant::One(Value::String(id)) => vec![id],
                    Constant::Many(ids) => ids,
                    Constant::Missing => Vec::new(),
                    Constant::One(_) => {
                        return Err(type_error(
                            args[1].span,
                            "the second argument is departments: CURRENT_DEPARTMENTS(), \
                             CURRENT_DEPARTMENT() or a department id",
                        ));
                    }
                };
                let ids = if sub {
                    self.person.with_sub_departments(&roots)
                } else {
                    roots
                };
                self.leaf(expr.span, field, BinaryOp::Eq, Constant::Many(ids))
            }
            "CURRENT_MEMBER" | "CURRENT_DEPARTMENT" | "CURRENT_DEPARTMENTS" => Err(type_error(
                expr.span,
                format!("{name}() is a value, not a condition: compare a field with it"),
            )),
            _ => Err(RuleError::new(
                name_span,
                DetailCode::FormulaUnknownFunction,
                format!(
                    "{name} cannot be used in a row rule; use AND, OR, NOT, comparisons, INCLUDES, \
                     IN_DEPARTMENT, ISBLANK, HAS_ROLE, CURRENT_MEMBER, CURRENT_DEPARTMENT, \
                     CURRENT_DEPARTMENTS"
                ),
            )),
        }
    }

    fn field(&self, expr: &Expr) -> Result<&Field, RuleError> {
        let ExprKind::Field(reference) = &expr.kind else {
            return Err(type_error(expr.span, "expected a field, as {name}"));
        };
        let field = self.schema.resolve_field(reference).ok_or_else(|| {
            RuleError::new(
                expr.span,
                DetailCode::FormulaUnknownField,
                format!(
                    "no field {{{reference}}} in table {}",
                    self.schema.table.key
                ),
            )
        })?;
        if matches!(field.kind.storage(), Storage::Virtual | Storage::Junction) {
            return Err(type_error(
                expr.span,
                format!(
                    "{{{}}} is computed when read or a link: a row rule compares stored fields",
                    field.name
                ),
            ));
        }
        Ok(field)
    }

    /// A constant side of a comparison.
    fn value(&self, expr: &Expr) -> Result<Constant, RuleError> {
        Ok(match &expr.kind {
            ExprKind::Text(text) => Constant::One(Value::String(text.clone())),
            ExprKind::Number(number) => Constant::One(
                serde_json::from_str(&number.to_string())
                    .unwrap_or_else(|_| Value::String(number.to_string())),
            ),
            ExprKind::Bool(flag) => Constant::One(Value::Bool(*flag)),
            ExprKind::Date(date) => Constant::One(Value::String(date.to_string())),
            ExprKind::DateTime(at) => Constant::One(Value::String(at.to_rfc3339())),
            ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
                ExprKind::Number(number) => {
                    let negated = (-*number).to_string();
                    Constant::One(serde_json::from_str(&negated).unwrap_or(Value::String(negated)))
                }
                _ => return Err(not_constant(expr)),
            },
            ExprKind::Call { name, args, .. } if args.is_empty() => {
                match name.to_ascii_uppercase().as_str() {
                    "CURRENT_MEMBER" => {
                        Constant::One(Value::String(self.person.member.to_string()))
                    }
                    "CURRENT_DEPARTMENT" => match self.person.departments.first() {
                        Some(id) => Constant::One(Value::String(id.to_string())),
                        None => Constant::Missing,
                    },
                    "CURRENT_DEPARTMENTS" => Constant::Many(
                        self.person
                            .departments
                            .iter()
                            .map(ToString::to_string)
                            .collect(),
                    ),
                    "TRUE" => Constant::One(Value::Bool(true)),
                    "FALSE" => Constant::One(Value::Bool(false)),
                    _ => return Err(not_constant(expr)),
                }
            }
            _ => return Err(not_constant(expr)),
        })
    }

    fn comparison(
        &self,
        span: Span,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
    ) -> Result<Value, RuleError> {
        let (field_side, value_side, op) = match (&left.kind, &right.kind) {
            (ExprKind::Field(_), _) => (left, right, op),
            (_, ExprKind::Field(_)) => (
                right,
                left,
                match op {
                    BinaryOp::Lt => BinaryOp::Gt,
                    BinaryOp::Le => BinaryOp::Ge,
                    BinaryOp::Gt => BinaryOp::Lt,
                    BinaryOp::Ge => BinaryOp::Le,
                    same => same,
                },
            ),
            _ => {
                return Err(type_error(
                    span,
                    "a comparison in a row rule has a field on one side, as {状态} != \"已归档\"",
                ));
            }
        };
        let field = self.field(field_side)?;
        let value = self.value(value_side)?;
        self.leaf(span, field, op, value)
    }

    /// A comparison of `field` with a constant, for either a one-value or a several-values field.
    fn leaf(
        &self,
        span: Span,
        field: &Field,
        op: BinaryOp,
        value: Constant,
    ) -> Result<Value, RuleError> {
        let list = field.kind.storage() == Storage::JsonArray;
        let ordering = match op {
            BinaryOp::Lt => Some("lt"),
            BinaryOp::Le => Some("lte"),
            BinaryOp::Gt => Some("gt"),
            BinaryOp::Ge => Some("gte"),
            _ => None,
        };
        if list && ordering.is_some() {
            return Err(type_error(
                span,
                format!("{{{}}} holds several values: use = or INCLUDES", field.name),
            ));
        }
        let negate = op == BinaryOp::Ne;
        let positive = match (value, ordering) {
            (Constant::Missing, _) => return Ok(constant(negate)),
            (Constant::Many(ids), _) if ids.is_empty() => return Ok(constant(negate)),
            (Constant::Many(ids), None) => {
                let op = if list { "has_any" } else { "in" };
                self.raw_leaf(span, field, op, Some(json!(ids)))?
            }
            (Constant::Many(_), Some(_)) => {
                return Err(type_error(span, "compare with one value, not a list"));
            }
            (Constant::One(value), Some(op)) => self.raw_leaf(span, field, op, Some(value))?,
            (Constant::One(value), None) if list => {
                self.raw_leaf(span, field, "has_any", Some(json!([value])))?
            }
            (Constant::One(value), None) => self.raw_leaf(span, field, "eq", Some(value))?,
        };
        Ok(if negate {
            json!({ "not": positive })
        } else {
            positive
        })
    }

    fn raw_leaf(
        &self,
        span: Span,
        field: &Field,
        op: &str,
        value: Option<Value>,
    ) -> Result<Value, RuleError> {
        let mut leaf = json!({"field": field.id.to_string(), "op": op});
        if let Some(value) = value {
            leaf["value"] = value;
        }
        if let Some(ctx) = self.check {
            Filter::parse(&leaf, self.schema, ctx).map_err(|error| {
                type_error(
                    span,
                    format!("{{{}}} cannot be compared so: {}", field.name, error.reason),
                )
            })?;
        }
        Ok(leaf)
    }
}

fn not_constant(expr: &Expr) -> RuleError {
    type_error(
        expr.span,
        "compare with a constant (text, number, date, TRUE/FALSE) or CURRENT_MEMBER(), \
         CURRENT_DEPARTMENT(), CURRENT_DEPARTMENTS()",
    )
}
