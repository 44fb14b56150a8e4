//! The syntax tree the parser produces: what was written, with byte spans, before any name is resolved.
//!
//! Field references keep the text between the braces (a name in a formula a person typed, a field id in a
//! stored formula); the checker resolves it. Every node records its depth so that the parser can refuse
//! trees too deep for the recursive passes without walking them recursively.

use rust_decimal::Decimal;

/// A byte range in the formula text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// 1 for a leaf; 1 + the deepest child otherwise.
    pub depth: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `12`, `3.50` (the written scale is kept: `3.50` has scale 2).
    Number(Decimal),
    /// `"text"` or `'text'`, escapes resolved.
    Text(String),
    /// `TRUE` / `FALSE` without parentheses.
    Bool(bool),
    /// `#2026-11-25#`.
    Date(chrono::NaiveDate),
    /// `#2026-11-25T08:30:00Z#` (always UTC).
    DateTime(chrono::DateTime<chrono::Utc>),
    /// `{Field name}`: the text between the braces, escapes resolved.
    Field(String),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `NAME(args…)`; the name as written (function names are case-insensitive).
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "&",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

impl Expr {
    pub(crate) fn leaf(kind: ExprKind, span: Span) -> Self {
        Expr {
            kind,
            span,
            depth: 1,
        }
    }

    pub(crate) fn unary(op: UnaryOp, operand: Expr, span: Span) -> Self {
        let depth = operand.depth.saturating_add(1);
        Expr {
            kind: ExprKind::Unary(op, Box::new(operand)),
            span,
            depth,
        }
    }

    pub(crate) fn binary(op: BinaryOp, lhs: Expr, rhs: Expr, span: Span) -> Self {
        let depth = lhs.depth.max(rhs.depth).saturating_add(1);
        Expr {
            kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            span,
            depth,
        }
    }

    pub(crate) fn call(name: String, name_span: Span, args: Vec<Expr>, span: Span) -> Self {
        let depth = args
            .iter()
            .map(|arg| arg.depth)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        Expr {
            kind: ExprKind::Call {
                name,
                name_span,
                args,
            },
            span,
            depth,
        }
    }

    /// Every field reference with its span, in source order.
    pub fn field_refs(&self) -> Vec<(&str, Span)> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(expr) = stack.pop() {
            match &expr.kind {
                ExprKind::Field(name) => out.push((name.as_str(), expr.span)),
                ExprKind::Unary(_, operand) => stack.push(operand),
                ExprKind::Binary(_, lhs, rhs) => {
                    stack.push(rhs);
                    stack.push(lhs);
                }
                ExprKind::Call { args, .. } => stack.extend(args.iter().rev()),
                _ => {}
            }
        }
        out.sort_by_key(|(_, span)| span.start);
        out
    }
}

/// Writes `text` as a field reference: `{` + text with `\` and `}` escaped + `}`.
pub fn quote_field(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('{');
    for ch in text.chars() {
        if ch == '\\' || ch == '}' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('}');
    out
}
