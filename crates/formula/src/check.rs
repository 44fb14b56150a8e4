//! The type checker: resolves field references against a [`Schema`], resolves function names, checks
//! argument types and infers each node's [`Type`] (with the static scale of numbers). Its output, a
//! [`Formula`], is the only thing the evaluator and the SQL compiler accept.

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::functions::{self, FUNCTIONS, Func};
use crate::ir::{Node, NodeKind};
use crate::parser;
use crate::schema::{Field, FieldId, Schema, Type};
use crate::syntax::{BinaryOp, Expr, ExprKind, Span, UnaryOp, quote_field};
use crate::typing;
use crate::value::Value;

/// A formula that parsed and type-checked against a schema.
#[derive(Debug, Clone)]
pub struct Formula {
    pub(crate) root: Node,
    /// The referenced fields, each once, in order of first appearance; `Node::Field(i)` indexes here.
    pub(crate) fields: Vec<Field>,
    text: String,
    stored: String,
    /// Literal patterns of the REGEX_ functions, compiled once (by the pattern's span).
    pub(crate) regexes: Vec<(Span, regex::Regex)>,
}

/// How field references are written in the text being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefMode {
    Names,
    Ids,
}

/// Checks a formula a person typed (`{Field name}` references).
pub fn check(source: &str, schema: &Schema) -> Result<Formula, Vec<Diagnostic>> {
    check_with(source, schema, RefMode::Names)
}

/// Checks a stored formula (`{field id}` references), as returned by [`Formula::stored`].
pub fn check_stored(stored: &str, schema: &Schema) -> Result<Formula, Vec<Diagnostic>> {
    check_with(stored, schema, RefMode::Ids)
}

/// Checks a condition — a validation rule, a filter, a branch condition: a formula whose value is TRUE or
/// FALSE (empty counts as FALSE).
pub fn check_condition(source: &str, schema: &Schema) -> Result<Formula, Vec<Diagnostic>> {
    let formula = check(source, schema)?;
    match formula.result_type() {
        Type::Boolean => Ok(formula),
        other => Err(vec![Diagnostic::new(
            DiagnosticKind::NotCondition,
            formula.root.span,
            format!(
                "a condition must be TRUE or FALSE; this formula gives {other} (compare it: … = …, … > …)"
            ),
        )]),
    }
}

impl Formula {
    /// The result type (numbers with their scale), for the field definition.
    pub fn result_type(&self) -> &Type {
        &self.root.ty
    }

    /// The formula with `{Field name}` references, by the schema's current names.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The formula with `{field id}` references: what to save, so renames keep it working.
    pub fn stored(&self) -> &str {
        &self.stored
    }

    /// The fields the formula reads, each once; [`Formula::eval`] takes their values in this order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The ids of the fields the formula reads (its dependencies).
    pub fn references(&self) -> impl Iterator<Item = &FieldId> {
        self.fields.iter().map(|field| &field.id)
    }

    /// Whether the value depends on the clock (TODAY/NOW): such values must be computed when read.
    pub fn uses_clock(&self) -> bool {
        self.root
            .any(&|node| matches!(node.kind, NodeKind::Call(Func::Today | Func::Now, _)))
    }
}

fn check_with(source: &str, schema: &Schema, mode: RefMode) -> Result<Formula, Vec<Diagnostic>> {
    let expr = parser::parse(source)?;
    let mut checker = Checker {
        schema,
        mode,
        fields: Vec::new(),
        errors: Vec::new(),
    };
    let root = checker.expr(&expr);
    match root {
        Some(root) if checker.errors.is_empty() => {
            let regexes = literal_regexes(&root)?;
            let (text, stored) = rewrite_refs(source, &expr, schema, mode);
            Ok(Formula {
                root,
                fields: checker.fields,
                text,
                stored,
                regexes,
            })
        }
        _ => Err(checker.errors),
    }
}

/// Compiles the REGEX_ functions' literal patterns; an invalid one is a diagnostic at its span.
fn literal_regexes(root: &Node) -> Result<Vec<(Span, regex::Regex)>, Vec<Diagnostic>> {
    let mut regexes = Vec::new();
    let mut errors = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if let NodeKind::Call(func, args) = &node.kind {
            if matches!(
                func,
                Func::RegexMatch | Func::RegexExtract | Func::RegexReplace
            ) && let Some(pattern) = args.get(1).and_then(Node::literal_text)
            {
                match crate::eval_text::compile_regex(pattern) {
                    Ok(regex) => regexes.push((args[1].span, regex)),
                    Err(error) => errors.push(Diagnostic::new(
                        DiagnosticKind::Regex,
                        args[1].span,
                        format!("invalid regular expression: {error}"),
                    )),
                }
            }
            stack.extend(args.iter());
        }
    }
    if errors.is_empty() {
        Ok(regexes)
    } else {
        Err(errors)
    }
}

/// The source with every reference rewritten by name and by id.
fn rewrite_refs(source: &str, expr: &Expr, schema: &Schema, mode: RefMode) -> (String, String) {
    let mut text = String::with_capacity(source.len());
    let mut stored = String::with_capacity(source.len());
    let mut last = 0;
    for (reference, span) in expr.field_refs() {
        let field = match mode {
            RefMode::Names => schema.by_name(reference),
            RefMode::Ids => schema.by_id(&FieldId::new(reference)),
        };
        let Some(field) = field else { continue };
        text.push_str(&source[last..span.start]);
        stored.push_str(&source[last..span.start]);
        text.push_str(&quote_field(&field.name));
        stored.push_str(&quote_field(field.id.as_str()));
        last = span.end;
    }
    text.push_str(&source[last..]);
    stored.push_str(&source[last..]);
    (text, stored)
}

struct Checker<'a> {
    schema: &'a Schema,
    mode: RefMode,
    fields: Vec<Field>,
    errors: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(
        &mut self,
        kind: DiagnosticKind,
        span: Span,
        message: impl Into<String>,
    ) -> Option<Node> {
        self.errors.push(Diagnostic::new(kind, span, message));
        None
    }

    fn expr(&mut self, expr: &Expr) -> Option<Node> {
        crate::deep(|| self.expr_node(expr))
    }

    fn expr_node(&mut self, expr: &Expr) -> Option<Node> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Number(value) => {
                if value.scale() > crate::schema::SCALE_MAX {
                    return self.error(
                        DiagnosticKind::Limit,
                        span,
                        format!(
                            "{value} has more than {} decimal places",
                            crate::schema::SCALE_MAX
                        ),
                    );
                }
                Some(Node::literal(
                    Value::Number(*value),
                    Type::number(value.scale()),
                    span,
                ))
            }
            ExprKind::Text(text) => {
                Some(Node::literal(Value::text(text.clone()), Type::Text, span))
            }
            ExprKind::Bool(value) => Some(Node::literal(Value::Bool(*value), Type::Boolean, span)),
            ExprKind::Date(date) => Some(Node::literal(Value::Date(*date), Type::Date, span)),
            ExprKind::DateTime(instant) => Some(Node::literal(
                Value::DateTime(*instant),
                Type::DateTime,
                span,
            )),
            ExprKind::Field(reference) => self.field(reference, span),
            ExprKind::Unary(op, operand) => {
                let operand = self.expr(operand)?;
                match op {
                    UnaryOp::Plus => match operand.ty {
                        Type::Number { .. } | Type::Blank => Some(Node { span, ..operand }),
                        ref other => self.error(
                            DiagnosticKind::Type,
                            span,
                            format!("unary + expects a number, found {other}"),
                        ),
                    },
                    UnaryOp::Neg => self.call(Func::Neg, vec![operand], span, span),
                    UnaryOp::Not => self.call(Func::Not, vec![operand], span, span),
                }
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let lhs = self.expr(lhs);
                let rhs = self.expr(rhs);
                let func = match op {
                    BinaryOp::Add => Func::Add,
                    BinaryOp::Sub => Func::Sub,
                    BinaryOp::Mul => Func::Mul,
                    BinaryOp::Div => Func::Div,
                    BinaryOp::Mod => Func::Mod,
                    BinaryOp::Concat => Func::Concat,
                    BinaryOp::Eq => Func::Eq,
                    BinaryOp::Ne => Func::Ne,
                    BinaryOp::Lt => Func::Lt,
                    BinaryOp::Le => Func::Le,
                    BinaryOp::Gt => Func::Gt,
                    BinaryOp::Ge => Func::Ge,
                    BinaryOp::And => Func::And,
                    BinaryOp::Or => Func::Or,
                };
                self.call(func, vec![lhs?, rhs?], span, span)
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => {
                let Some(doc) = functions::lookup(name) else {
                    let names = FUNCTIONS.iter().map(|doc| doc.name);
                    let upper = name.to_ascii_uppercase();
                    let hint = suggest(&upper, names)
                        .map(|best| format!(" — did you mean {best}?"))
                        .unwrap_or_default();
                    return self.error(
                        DiagnosticKind::UnknownFunction,
                        *name_span,
                        format!("unknown function {name}{hint}"),
                    );
                };
                let mut checked = Vec::with_capacity(args.len());
                let mut failed = false;
                for arg in args {
                    match self.expr(arg) {
                        Some(node) => checked.push(node),
                        None => failed = true,
                    }
                }
                if failed {
                    return None;
                }
                self.call(doc.func, checked, *name_span, span)
            }
        }
    }

    fn field(&mut self, reference: &str, span: Span) -> Option<Node> {
        let schema = self.schema;
        let found = match self.mode {
            RefMode::Names => schema.by_name(reference),
            RefMode::Ids => schema.by_id(&FieldId::new(reference)),
        };
        let Some(field) = found else {
            return match self.mode {
                RefMode::Names => {
                    let names = schema.fields().iter().map(|field| field.name.as_str());
                    let hint = suggest(reference, names)
                        .map(|best| format!(" — did you mean \"{best}\"?"))
                        .unwrap_or_default();
                    self.error(
                        DiagnosticKind::UnknownField,
                        span,
                        format!(
                            "{}: no field named \"{reference}\"{hint}",
                            quote_field(reference)
                        ),
                    )
                }
                RefMode::Ids => self.error(
                    DiagnosticKind::UnknownField,
                    span,
                    format!(
                        "{}: the field this formula used has been deleted",
                        quote_field(reference)
                    ),
                ),
            };
        };
        let index = match self.fields.iter().position(|known| known.id == field.id) {
            Some(index) => index,
            None => {
                self.fields.push(field.clone());
                self.fields.len() - 1
            }
        };
        Some(Node {
            kind: NodeKind::Field(index),
            ty: field.kind.formula_type(),
            span,
        })
    }

    fn call(&mut self, func: Func, args: Vec<Node>, name_span: Span, span: Span) -> Option<Node> {
        match typing::result_type(func, &args) {
            Ok(ty) => Some(Node {
                kind: NodeKind::Call(func, args),
                ty,
                span,
            }),
            Err(typing::TypeError { arg, message }) => {
                let at = arg
                    .and_then(|index| args.get(index))
                    .map_or(name_span, |node| node.span);
                self.error(DiagnosticKind::Type, at, message)
            }
        }
    }
}

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
fn suggest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::levenshtein(&wanted_lower, &candidate.to_lowercase());
        if best.is_none_or(|(known, _)| distance < known) {
            best = Some((distance, candidate));
        }
    }
    let limit = (wanted.chars().count() / 3).max(2);
    best.filter(|(distance, _)| *distance <= limit)
        .map(|(_, name)| name)
}
