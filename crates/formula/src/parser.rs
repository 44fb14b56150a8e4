//! The parser: formula text to a [`syntax::Expr`](crate::syntax::Expr) tree, or diagnostics with spans.
//!
//! Built with chumsky's Pratt parser; the grammar is in the crate documentation. Limits keep hostile input
//! harmless: the text is at most [`SOURCE_BYTES_MAX`] bytes, and trees deeper than [`DEPTH_MAX`] are
//! refused, so the checker, evaluator and compiler — which recurse — never overflow the stack. chumsky
//! grows its own stack while parsing (the `stacker` feature), so deep input cannot overflow it either.

use chumsky::pratt::{infix, left, prefix};
use chumsky::prelude::*;
use rust_decimal::Decimal;

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::syntax::{BinaryOp, Expr, ExprKind, Span, UnaryOp};

/// The longest formula accepted, in bytes (Excel's limit is 8,192 characters).
pub const SOURCE_BYTES_MAX: usize = 8192;
/// The deepest expression tree accepted: nesting of calls, operators and parentheses together.
pub const DEPTH_MAX: u32 = 200;

type Extra<'src> = extra::Err<Rich<'src, char>>;

/// Parses formula text.
pub fn parse(source: &str) -> Result<Expr, Vec<Diagnostic>> {
    if source.len() > SOURCE_BYTES_MAX {
        return Err(vec![Diagnostic::new(
            DiagnosticKind::Limit,
            Span::new(0, source.len()),
            format!(
                "the formula is {} bytes long; the limit is {SOURCE_BYTES_MAX}",
                source.len()
            ),
        )]);
    }
    let (output, errors) = parser().parse(source).into_output_errors();
    if !errors.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = errors.iter().map(to_diagnostic).collect();
        diagnostics.truncate(5);
        return Err(diagnostics);
    }
    let Some(expr) = output else {
        return Err(vec![Diagnostic::new(
            DiagnosticKind::Syntax,
            Span::new(0, 0),
            "the formula is empty",
        )]);
    };
    if expr.depth > DEPTH_MAX {
        return Err(vec![Diagnostic::new(
            DiagnosticKind::Limit,
            expr.span,
            format!("the formula is nested too deeply (more than {DEPTH_MAX} levels)"),
        )]);
    }
    Ok(expr)
}

fn to_diagnostic(error: &Rich<'_, char>) -> Diagnostic {
    let span = Span::new(error.span().start, error.span().end);
    let found = match error.found() {
        Some(ch) => format!("{ch:?}"),
        None => "the end of the formula".to_owned(),
    };
    let message = match error.reason() {
        chumsky::error::RichReason::Custom(message) => message.clone(),
        chumsky::error::RichReason::ExpectedFound { expected, .. } => {
            let mut names: Vec<String> =
                expected.iter().map(|pattern| pattern.to_string()).collect();
            names.sort();
            names.dedup();
            if names.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", names.join(", "))
            }
        }
    };
    Diagnostic::new(DiagnosticKind::Syntax, span, message)
}

fn span_of(span: SimpleSpan) -> Span {
    Span::new(span.start, span.end)
}

fn keyword<'src>(
    word: &'static str,
) -> impl Parser<'src, &'src str, &'src str, Extra<'src>> + Clone {
    text::ascii::ident()
        .try_map(move |ident: &'src str, span| {
            if ident.eq_ignore_ascii_case(word) {
                Ok(ident)
            } else {
                Err(Rich::custom(span, format!("expected {word}")))
            }
        })
        .labelled(word)
}

fn escaped_until<'src>(close: char) -> impl Parser<'src, &'src str, String, Extra<'src>> + Clone {
    let escape = just('\\').ignore_then(any().map(|ch: char| match ch {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }));
    escape
        .or(any().filter(move |ch: &char| *ch != close && *ch != '\\'))
        .repeated()
        .collect::<String>()
}

fn parser<'src>() -> impl Parser<'src, &'src str, Expr, Extra<'src>> {
    recursive(|expr| {
        let number = text::digits(10)
            .then(just('.').then(text::digits(10)).or_not())
            .to_slice()
            .validate(|digits: &str, e, emitter| {
                let value = Decimal::from_str_exact(digits).unwrap_or_else(|_| {
                    emitter.emit(Rich::custom(e.span(), format!("the number {digits} is too large or too precise")));
                    Decimal::ZERO
                });
                Expr::leaf(ExprKind::Number(value), span_of(e.span()))
            })
            .labelled("number");

        let string = escaped_until('"')
            .delimited_by(just('"'), just('"'))
            .or(escaped_until('\'').delimited_by(just('\''), just('\'')))
            .map_with(|text, e| Expr::leaf(ExprKind::Text(text), span_of(e.span())))
            .labelled("text");

        let field = escaped_until('}')
            .delimited_by(just('{'), just('}'))
            .validate(|name: String, e, emitter| {
                if name.is_empty() {
                    emitter.emit(Rich::custom(e.span(), "empty field reference {}: write the field's name between the braces"));
                }
                Expr::leaf(ExprKind::Field(name), span_of(e.span()))
            })
            .labelled("field reference");

        let date = none_of("#")
            .repeated()
            .to_slice()
            .delimited_by(just('#'), just('#'))
            .validate(|text: &str, e, emitter| {
                let kind = parse_date_literal(text).unwrap_or_else(|| {
                    emitter.emit(Rich::custom(
                        e.span(),
                        format!("#{text}# is not a date (#2026-11-25#) or a UTC datetime (#2026-11-25T08:30:00Z#)"),
                    ));
                    ExprKind::Bool(false)
                });
                Expr::leaf(kind, span_of(e.span()))
            })
            .labelled("date");

        let args = expr
            .clone()
            .separated_by(just(',').padded())
            .allow_trailing()
            .collect::<Vec<Expr>>()
            .delimited_by(just('(').padded(), just(')'));
        let ident = text::ascii::ident().map_with(|name: &str, e| (name.to_owned(), span_of(e.span())));
        let call_or_bool = ident.then(args.or_not()).validate(|((name, name_span), args), e, emitter| {
            let span = span_of(e.span());
            match args {
                Some(args) => Expr::call(name, name_span, args, span),
                None if name.eq_ignore_ascii_case("TRUE") => Expr::leaf(ExprKind::Bool(true), span),
                None if name.eq_ignore_ascii_case("FALSE") => Expr::leaf(ExprKind::Bool(false), span),
                None => {
                    emitter.emit(Rich::custom(
                        e.span(),
                        format!("unknown name {name}: write a field as {{{name}}}, a function as {name}(…), text as \"{name}\""),
                    ));
                    Expr::leaf(ExprKind::Bool(false), span)
                }
            }
        });

        // Parentheses keep the inner span (a field reference's span must be exactly its braces, as the
        // stored text is rewritten by spans) but count as a level of nesting.
        let parenthesized = expr.clone().delimited_by(just('(').padded(), just(')')).map(|inner: Expr| Expr {
            depth: inner.depth.saturating_add(1),
            ..inner
        });

        let atom = choice((number, string, field, date, call_or_bool, parenthesized))
            .padded()
            .labelled("a value");

        let op = |symbol: &'static str| just(symbol).padded().labelled("an operator");
        let binary = |op: BinaryOp| {
            move |lhs: Expr, _, rhs: Expr, e: &mut chumsky::input::MapExtra<'src, '_, &'src str, Extra<'src>>| {
                Expr::binary(op, lhs, rhs, span_of(e.span()))
            }
        };
        let unary = |op: UnaryOp| {
            move |_, operand: Expr, e: &mut chumsky::input::MapExtra<'src, '_, &'src str, Extra<'src>>| {
                Expr::unary(op, operand, span_of(e.span()))
            }
        };
        atom.pratt((
            prefix(8, op("-"), unary(UnaryOp::Neg)),
            prefix(8, op("+"), unary(UnaryOp::Plus)),
            infix(left(7), op("*"), binary(BinaryOp::Mul)),
            infix(left(7), op("/"), binary(BinaryOp::Div)),
            infix(left(7), op("%"), binary(BinaryOp::Mod)),
            infix(left(6), op("+"), binary(BinaryOp::Add)),
            infix(left(6), op("-"), binary(BinaryOp::Sub)),
            infix(left(5), op("&"), binary(BinaryOp::Concat)),
            infix(left(4), op("!="), binary(BinaryOp::Ne)),
            infix(left(4), op("<>"), binary(BinaryOp::Ne)),
            infix(left(4), op("<="), binary(BinaryOp::Le)),
            infix(left(4), op(">="), binary(BinaryOp::Ge)),
            infix(left(4), op("<"), binary(BinaryOp::Lt)),
            infix(left(4), op(">"), binary(BinaryOp::Gt)),
            infix(left(4), op("="), binary(BinaryOp::Eq)),
            prefix(3, keyword("NOT").padded(), unary(UnaryOp::Not)),
            infix(left(2), keyword("AND").padded(), binary(BinaryOp::And)),
            infix(left(1), keyword("OR").padded(), binary(BinaryOp::Or)),
        ))
    })
    .then_ignore(end())
}

fn parse_date_literal(text: &str) -> Option<ExprKind> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return (text.len() == 10).then_some(ExprKind::Date(date));
    }
    let instant = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    if !text.ends_with('Z') {
        return None;
    }
    Some(ExprKind::DateTime(instant.with_timezone(&chrono::Utc)))
}
