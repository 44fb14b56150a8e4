//! The evaluator: computes a checked [`Formula`] for one record in Rust. Operators, logic and math live
//! here; text and date functions in `eval_text` and `eval_date`.
//!
//! It never panics and never fails as a whole: a runtime problem becomes a [`Value::Error`] that behaves as
//! empty (see the null semantics in the crate docs). Recursion follows the tree, whose depth the parser
//! bounds.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::check::Formula;
use crate::functions::Func;
use crate::ir::{Node, NodeKind};
use crate::num::{self, Rounding};
use crate::schema::Type;
use crate::value::{EvalContext, EvalError, Value};

/// Early exit of a function: the value to return (empty, or the error of an argument).
pub(crate) type Flow<T> = Result<T, Value>;

pub(crate) struct Env<'a> {
    pub inputs: &'a [Value],
    pub ctx: &'a EvalContext,
    /// Regular expressions written as literals, compiled once when the formula was checked.
    pub regexes: &'a [(crate::syntax::Span, regex::Regex)],
}

impl Formula {
    /// Evaluates the formula. `inputs[i]` is the value of `self.fields()[i]` (missing ones count as empty).
    pub fn eval(&self, inputs: &[Value], ctx: &EvalContext) -> Value {
        eval(
            &self.root,
            &Env {
                inputs,
                ctx,
                regexes: &self.regexes,
            },
        )
    }
}

pub(crate) fn eval(node: &Node, env: &Env<'_>) -> Value {
    crate::deep(|| eval_node(node, env))
}

fn eval_node(node: &Node, env: &Env<'_>) -> Value {
    match &node.kind {
        NodeKind::Literal(value) => value.clone(),
        NodeKind::Field(index) => field_value(env.inputs.get(*index), &node.ty),
        NodeKind::Call(func, args) => call(*func, node, args, env).unwrap_or_else(|value| value),
    }
}

/// A field's value as the formula sees it: numbers at the field's scale, `""` as empty.
fn field_value(input: Option<&Value>, ty: &Type) -> Value {
    match (input, ty) {
        (None | Some(Value::Empty), _) => Value::Empty,
        (Some(Value::Number(value)), Type::Number { scale }) => {
            lift(num::rescale(*value, *scale).map(Value::Number))
        }
        (Some(Value::Text(text)), Type::Text) => Value::text(text.as_str()),
        (Some(Value::List(items)), Type::List(inner)) => Value::List(
            items
                .iter()
                .map(|item| field_value(Some(item), inner))
                .collect(),
        ),
        (Some(value @ Value::Bool(_)), Type::Boolean)
        | (Some(value @ Value::Date(_)), Type::Date)
        | (Some(value @ Value::DateTime(_)), Type::DateTime)
        | (Some(value @ Value::Error(_)), _) => value.clone(),
        (Some(_), _) => Value::Error(EvalError::InvalidArgument(
            "a field's value does not match its type",
        )),
    }
}

pub(crate) fn lift(result: Result<Value, EvalError>) -> Value {
    result.unwrap_or_else(Value::Error)
}

/// The number in `value`; empty and errors exit.
pub(crate) fn need_number(value: Value) -> Flow<Decimal> {
    match value {
        Value::Number(number) => Ok(number),
        Value::Error(error) => Err(Value::Error(error)),
        _ => Err(Value::Empty),
    }
}

/// The whole number in `value` (truncated toward zero).
pub(crate) fn need_int(value: Value) -> Flow<i64> {
    num::to_i64(need_number(value)?).map_err(Value::Error)
}

/// A text argument that must not be empty; empty and errors exit.
pub(crate) fn need_text(value: Value) -> Flow<String> {
    match value {
        Value::Text(text) => Ok(text),
        Value::Error(error) => Err(Value::Error(error)),
        _ => Err(Value::Empty),
    }
}

pub(crate) fn fail<T>(error: EvalError) -> Flow<T> {
    Err(Value::Error(error))
}

pub(crate) fn number(result: Result<Decimal, EvalError>) -> Flow<Value> {
    result.map(Value::Number).map_err(Value::Error)
}

/// Compares two non-empty values of comparable types.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Some(x.cmp(y)),
        (Value::Text(x), Value::Text(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `=`: two empties are equal; empty never equals a value.
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => true,
        (false, false) => compare(a, b) == Some(Ordering::Equal),
        _ => false,
    }
}

fn args_values<'a>(args: &'a [Node], env: &'a Env<'_>) -> impl Iterator<Item = Value> + 'a {
    args.iter().map(move |arg| eval(arg, env))
}

/// The numbers among the arguments and their list items; empties and errors are skipped.
fn numbers(args: &[Node], env: &Env<'_>) -> Flow<Vec<Decimal>> {
    let mut out = Vec::new();
    for value in args_values(args, env) {
        match value {
            Value::Number(number) => out.push(number),
            Value::List(items) => {
                for item in items {
                    if let Value::Number(number) = item {
                        out.push(number)
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn call(func: Func, node: &Node, args: &[Node], env: &Env<'_>) -> Flow<Value> {
    use Func::*;
    let scale = node.ty.scale();
    let arg = |index: usize| args.get(index).map_or(Value::Empty, |node| eval(node, env));
    match func {
        Add | Sub if node.ty == Type::Date || args[0].ty == Type::Date => {
            crate::eval_date::date_arith(func, arg(0), arg(1))
        }
        Add => number(num::add(need_number(arg(0))?, need_number(arg(1))?, scale)),
        Sub => number(num::sub(need_number(arg(0))?, need_number(arg(1))?, scale)),
        Mul => number(num::mul(need_number(arg(0))?, need_number(arg(1))?, scale)),
        Div => number(num::div(need_number(arg(0))?, need_number(arg(1))?, scale)),
        Mod => number(num::modulo(
            need_number(arg(0))?,
            need_number(arg(1))?,
            scale,
        )),
        Neg => number(num::rescale(-need_number(arg(0))?, scale)),
        Abs => number(num::rescale(need_number(arg(0))?.abs(), scale)),
        Eq => Ok(Value::Bool(equals(&arg(0), &arg(1)))),
        Ne => Ok(Value::Bool(!equals(&arg(0), &arg(1)))),
        Lt | Le | Gt | Ge => {
            let ordering = compare(&arg(0), &arg(1));
            Ok(Value::Bool(match (func, ordering) {
                (_, None) => false,
                (Lt, Some(order)) => order == Ordering::Less,
                (Le, Some(order)) => order != Ordering::Greater,
                (Gt, Some(order)) => order == Ordering::Greater,
                (_, Some(order)) => order != Ordering::Less,
            }))
        }
        And => Ok(Value::Bool(
            args.iter().all(|node| eval(node, env).is_true()),
        )),
        Or => Ok(Value::Bool(
            args.iter().any(|node| eval(node, env).is_true()),
        )),
        Xor => Ok(Value::Bool(
            args_values(args, env).filter(Value::is_true).count() % 2 == 1,
        )),
        Not => Ok(Value::Bool(!arg(0).is_true())),
        If => {
            let chosen = if arg(0).is_true() { 1 } else { 2 };
            Ok(conform(arg(chosen), &node.ty))
        }
        Ifs => {
            for pair in (0..args.len()).step_by(2) {
                if arg(pair).is_true() {
                    return Ok(conform(arg(pair + 1), &node.ty));
                }
            }
            Ok(Value::Empty)
        }
        Switch => {
            let subject = arg(0);
            let pairs_end = if args.len().is_multiple_of(2) {
                args.len() - 1
            } else {
                args.len()
            };
            for pair in (1..pairs_end).step_by(2) {
                if equals(&subject, &arg(pair)) {
                    return Ok(conform(arg(pair + 1), &node.ty));
                }
            }
            Ok(if pairs_end < args.len() {
                conform(arg(pairs_end), &node.ty)
            } else {
                Value::Empty
            })
        }
        IsBlank => Ok(Value::Bool(match arg(0) {
            Value::List(items) => items.iter().all(Value::is_empty),
            other => other.is_empty(),
        })),
        IsError => Ok(Value::Bool(arg(0).error().is_some())),
        IfError => Ok(match arg(0) {
            Value::Error(_) => conform(arg(1), &node.ty),
            other => conform(other, &node.ty),
        }),
        Blank => Ok(Value::Empty),
        True => Ok(Value::Bool(true)),
        False => Ok(Value::Bool(false)),
        Sum => {
            let mut total = Decimal::ZERO;
            for value in numbers(args, env)? {
                total = num::add(total, value, scale).map_err(Value::Error)?;
            }
            number(num::rescale(total, scale))
        }
        Average => {
            let values = numbers(args, env)?;
            if values.is_empty() {
                return Ok(Value::Empty);
            }
            let mut total = Decimal::ZERO;
            for value in &values {
                total = num::add(total, *value, scale).map_err(Value::Error)?;
            }
            number(num::div(total, Decimal::from(values.len()), scale))
        }
        Min | Max => {
            let values = numbers(args, env)?;
            let best = if func == Min {
                values.into_iter().min()
            } else {
                values.into_iter().max()
            };
            match best {
                Some(best) => number(num::rescale(best, scale)),
                None => Ok(Value::Empty),
            }
        }
        Count | CountA | CountAll => {
            let mut count = 0u64;
            for value in args_values(args, env) {
                let items = match value {
                    Value::List(items) => items,
                    other => vec![other],
                };
                count += items
                    .iter()
                    .filter(|item| match func {
                        Count => matches!(item, Value::Number(_)),
                        CountA => !item.is_empty(),
                        _ => true,
                    })
                    .count() as u64;
            }
            Ok(Value::Number(Decimal::from(count)))
        }
        Round | RoundUp | RoundDown | Trunc | Int => {
            let value = need_number(arg(0))?;
            let places = args.get(1).and_then(Node::literal_int).unwrap_or(0);
            let rounding = match func {
                Round => Rounding::HalfAway,
                RoundUp => Rounding::Up,
                RoundDown | Trunc => Rounding::Down,
                _ => Rounding::Floor,
            };
            number(num::round_to(value, places, rounding, scale))
        }
        Ceiling | Floor => {
            let value = need_number(arg(0))?;
            let significance = if args.len() > 1 {
                need_number(arg(1))?.abs()
            } else {
                Decimal::ONE
            };
            if significance.is_zero() {
                return Ok(Value::Number(
                    num::rescale(Decimal::ZERO, scale).map_err(Value::Error)?,
                ));
            }
            let quotient = num::div(value, significance, 0).map_err(Value::Error)?;
            // `div` rounds half away; step to the multiple on the requested side.
            let mut multiple = num::mul(quotient, significance, scale).map_err(Value::Error)?;
            if func == Ceiling && multiple < value {
                multiple = num::add(multiple, significance, scale).map_err(Value::Error)?;
            } else if func == Floor && multiple > value {
                multiple = num::sub(multiple, significance, scale).map_err(Value::Error)?;
            }
            number(num::rescale(multiple, scale))
        }
        Sign => {
            let value = need_number(arg(0))?;
            Ok(Value::Number(Decimal::from(if value.is_zero() {
                0
            } else if value.is_sign_negative() {
                -1
            } else {
                1
            })))
        }
        Even | Odd => {
            let value = need_number(arg(0))?;
            let magnitude = num::round_to(value.abs(), 0, Rounding::Up, 0).map_err(Value::Error)?;
            let magnitude = num::to_i64(magnitude).map_err(Value::Error)?;
            let magnitude = if (magnitude % 2 == 1) == (func == Odd) {
                magnitude
            } else {
                magnitude + 1
            };
            let negative = value.is_sign_negative() && !value.is_zero();
            Ok(Value::Number(Decimal::from(if negative {
                -magnitude
            } else {
                magnitude
            })))
        }
        Power | Sqrt | Exp | Ln | Log | Log10 => crate::eval_text::float_math(
            func,
            arg(0),
            args.get(1).map(|node| eval(node, env)),
            scale,
        ),
        ValueOf | Concat | Left | Right | Mid | Len | Lower | Upper | Trim | Substitute | Find
        | Search | Replace | Rept | Text | T | Exact | RegexMatch | RegexExtract | RegexReplace
        | EncodeUrlComponent | Fixed | ArrayJoin | ArrayUnique | ArrayCompact | ArrayFlatten
        | Split => crate::eval_text::call(func, node, args, env),
        Today | Now | Date | Year | Month | Day | Hour | Minute | Second | Weekday | Weeknum
        | DateAdd | DatetimeDiff | Datedif | Workday | Networkdays | DatetimeFormat
        | DatetimeParse | Datevalue | Datestr | Eomonth | Edate | IsBefore | IsAfter | IsSame => {
            crate::eval_date::call(func, args, env)
        }
    }
}

/// A branch's value in the type of the whole expression (numbers at the unified scale).
pub(crate) fn conform(value: Value, ty: &Type) -> Value {
    match (value, ty) {
        (Value::Number(number), Type::Number { scale }) => {
            lift(num::rescale(number, *scale).map(Value::Number))
        }
        (value, _) => value,
    }
}
