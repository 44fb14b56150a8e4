//! Diagnostics: a message about a span of the formula, rendered for people with the offending text.

use std::fmt;

use crate::syntax::Span;

/// What kind of problem a diagnostic reports, for callers that answer with stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagnosticKind {
    /// The text does not parse (or is empty).
    Syntax,
    /// A `{field}` reference names no field (or a deleted one).
    UnknownField,
    /// A call names no function.
    UnknownFunction,
    /// An argument or operand has the wrong type, or a function the wrong number of arguments.
    Type,
    /// A condition does not give TRUE or FALSE.
    NotCondition,
    /// The formula is too long or too deep, or a number too precise.
    Limit,
    /// A regular expression literal is invalid.
    Regex,
}

/// One problem in a formula, pointing at the text that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: DiagnosticKind,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn new(kind: DiagnosticKind, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            span,
            message: message.into(),
        }
    }

    /// The message with the formula line and a caret under the span, for people and snapshot tests.
    pub fn render(&self, source: &str) -> String {
        let start = floor_char_boundary(source, self.span.start.min(source.len()));
        let end = floor_char_boundary(source, self.span.end.min(source.len())).max(start);
        let line_start = source[..start].rfind('\n').map_or(0, |index| index + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |index| start + index);
        let line = &source[line_start..line_end];
        let pad = source[line_start..start].chars().count();
        let width = source[start..end.min(line_end)].chars().count().max(1);
        format!(
            "error: {}\n  | {line}\n  | {}{}",
            self.message,
            " ".repeat(pad),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}: {}",
            self.span.start, self.span.end, self.message
        )
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}
