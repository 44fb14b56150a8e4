//! The checked tree: every node typed, names resolved to field slots and function variants. Built only by
//! the checker; read by the evaluator and the SQL compiler.

use crate::functions::Func;
use crate::schema::Type;
use crate::syntax::Span;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Literal(Value),
    /// Index into [`Formula::fields`](crate::Formula::fields).
    Field(usize),
    Call(Func, Vec<Node>),
}

impl Node {
    pub fn literal(value: Value, ty: Type, span: Span) -> Self {
        Node {
            kind: NodeKind::Literal(value),
            ty,
            span,
        }
    }

    /// Whether `predicate` holds for this node or any node below it.
    pub fn any(&self, predicate: &dyn Fn(&Node) -> bool) -> bool {
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            if predicate(node) {
                return true;
            }
            if let NodeKind::Call(_, args) = &node.kind {
                stack.extend(args.iter());
            }
        }
        false
    }

    /// The constant integer this node is (`2`, `-1`), if it is one.
    pub fn literal_int(&self) -> Option<i64> {
        match &self.kind {
            NodeKind::Literal(Value::Number(value)) if value.fract().is_zero() => {
                i64::try_from(value.trunc().mantissa() / 10i128.pow(value.scale())).ok()
            }
            NodeKind::Call(Func::Neg, args) => args.first()?.literal_int().map(|value| -value),
            _ => None,
        }
    }

    /// The constant text this node is, if it is one.
    pub fn literal_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Literal(Value::Text(text)) => Some(text),
            _ => None,
        }
    }
}

/// A calendar or clock unit named in DATEADD, DATETIME_DIFF, IS_SAME and DATEDIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Unit {
    Years,
    Quarters,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
}

impl Unit {
    /// Airtable's (moment.js's) unit names: `years`/`year`/`y`, `quarters`/`Q`, `months`/`M`, `weeks`/`w`,
    /// `days`/`d`, `hours`/`h`, `minutes`/`m`, `seconds`/`s`. Long names ignore case; `M` and `m` differ.
    pub fn parse(text: &str) -> Option<Unit> {
        match text {
            "M" => return Some(Unit::Months),
            "m" => return Some(Unit::Minutes),
            "Q" => return Some(Unit::Quarters),
            _ => {}
        }
        let unit = match text.to_ascii_lowercase().as_str() {
            "years" | "year" | "y" => Unit::Years,
            "quarters" | "quarter" => Unit::Quarters,
            "months" | "month" => Unit::Months,
            "weeks" | "week" | "w" => Unit::Weeks,
            "days" | "day" | "d" => Unit::Days,
            "hours" | "hour" | "h" => Unit::Hours,
            "minutes" | "minute" => Unit::Minutes,
            "seconds" | "second" | "s" => Unit::Seconds,
            _ => return None,
        };
        Some(unit)
    }

    /// Whether the unit needs a time of day (hours, minutes, seconds).
    pub fn is_clock(self) -> bool {
        matches!(self, Unit::Hours | Unit::Minutes | Unit::Seconds)
    }
}
