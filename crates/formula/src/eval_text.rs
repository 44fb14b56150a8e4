//! Evaluation of text, list and floating-point math functions. Positions and lengths count characters
//! (Unicode scalar values), never bytes; an empty text argument counts as `""`.

use rust_decimal::Decimal;
use rust_decimal::MathematicalOps;

use crate::eval::{Env, Flow, eval, fail, need_int, need_number};
use crate::functions::Func;
use crate::ir::Node;
use crate::num::{self, Rounding};
use crate::schema::Type;
use crate::value::{EvalError, Value};

/// The longest text REPT produces, in characters.
pub const REPT_CHARS_MAX: usize = 10_000;
/// The regular expression size limit (bytes of compiled program), against patterns that explode.
const REGEX_SIZE_MAX: usize = 1 << 20;

/// The value as text, as `&` and CONCAT write it: numbers without trailing zeros, booleans as TRUE/FALSE,
/// dates as YYYY-MM-DD, datetimes as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`; empty as "".
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Empty | Value::Error(_) => String::new(),
        Value::Number(number) => number_text(*number),
        Value::Text(text) => text.clone(),
        Value::Bool(true) => "TRUE".into(),
        Value::Bool(false) => "FALSE".into(),
        Value::Date(date) => date.format("%Y-%m-%d").to_string(),
        Value::DateTime(instant) => instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        Value::List(items) => items
            .iter()
            .filter(|item| !item.is_empty())
            .map(to_text)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A number without trailing zeros (`1.50` → `1.5`, `-0.00` → `0`).
pub fn number_text(number: Decimal) -> String {
    if number.is_zero() {
        "0".to_owned()
    } else {
        number.normalize().to_string()
    }
}

/// A text argument; empty (and an error, which behaves as empty) counts as "".
fn text_arg(value: Value) -> Flow<String> {
    Ok(to_text(&value))
}

pub(crate) fn call(func: Func, node: &Node, args: &[Node], env: &Env<'_>) -> Flow<Value> {
    use Func::*;
    let arg = |index: usize| args.get(index).map_or(Value::Empty, |node| eval(node, env));
    let count_arg = |index: usize, default: i64| -> Flow<i64> {
        if index < args.len() {
            need_int(arg(index))
        } else {
            Ok(default)
        }
    };
    match func {
        Concat => {
            let mut out = String::new();
            for node in args {
                out.push_str(&text_arg(eval(node, env))?);
            }
            Ok(Value::text(out))
        }
        Left | Right => {
            let text = text_arg(arg(0))?;
            let count = count_arg(1, 1)?;
            if count < 0 {
                return fail(EvalError::InvalidArgument("the count is negative"));
            }
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let taken: String = if func == Left {
                text.chars().take(count).collect()
            } else {
                let total = text.chars().count();
                text.chars().skip(total.saturating_sub(count)).collect()
            };
            Ok(Value::text(taken))
        }
        Mid => {
            let text = text_arg(arg(0))?;
            let start = need_int(arg(1))?;
            let count = need_int(arg(2))?;
            if start < 1 || count < 0 {
                return fail(EvalError::InvalidArgument(
                    "MID needs a start of 1 or more and a count of 0 or more",
                ));
            }
            let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
            let take = usize::try_from(count).unwrap_or(usize::MAX);
            Ok(Value::text(
                text.chars().skip(skip).take(take).collect::<String>(),
            ))
        }
        Len => Ok(Value::Number(Decimal::from(
            text_arg(arg(0))?.chars().count(),
        ))),
        Lower => Ok(Value::text(text_arg(arg(0))?.to_lowercase())),
        Upper => Ok(Value::text(text_arg(arg(0))?.to_uppercase())),
        Trim => Ok(Value::text(
            text_arg(arg(0))?.trim_matches(TRIMMED).to_owned(),
        )),
        Substitute => {
            let text = text_arg(arg(0))?;
            let old = text_arg(arg(1))?;
            let new = text_arg(arg(2))?;
            if old.is_empty() {
                return Ok(Value::text(text));
            }
            if args.len() < 4 {
                return Ok(Value::text(text.replace(&old, &new)));
            }
            let index = need_int(arg(3))?;
            if index < 1 {
                return fail(EvalError::InvalidArgument("SUBSTITUTE's index starts at 1"));
            }
            match text
                .match_indices(&old)
                .nth(usize::try_from(index - 1).unwrap_or(usize::MAX))
            {
                Some((at, _)) => Ok(Value::text(format!(
                    "{}{new}{}",
                    &text[..at],
                    &text[at + old.len()..]
                ))),
                None => Ok(Value::text(text)),
            }
        }
        Find | Search => {
            let mut needle = text_arg(arg(0))?;
            let mut haystack = text_arg(arg(1))?;
            let start = count_arg(2, 1)?.max(1);
            if func == Search {
                needle = needle.to_lowercase();
                haystack = haystack.to_lowercase();
            }
            Ok(Value::Number(Decimal::from(find(
                &needle, &haystack, start,
            ))))
        }
        Replace => {
            let text = text_arg(arg(0))?;
            let start = need_int(arg(1))?.max(1);
            let count = need_int(arg(2))?.max(0);
            let new = text_arg(arg(3))?;
            let keep = usize::try_from(start - 1).unwrap_or(usize::MAX);
            let skip = keep.saturating_add(usize::try_from(count).unwrap_or(usize::MAX));
            let head: String = text.chars().take(keep).collect();
            let tail: String = text.chars().skip(skip).collect();
            Ok(Value::text(format!("{head}{new}{tail}")))
        }
        Rept => {
            let text = text_arg(arg(0))?;
            let count = need_int(arg(1))?;
            if count < 0 {
                return fail(EvalError::InvalidArgument("REPT's count is negative"));
            }
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            if text.chars().count().saturating_mul(count) > REPT_CHARS_MAX {
                return fail(EvalError::TextTooLong(REPT_CHARS_MAX));
            }
            Ok(Value::text(text.repeat(count)))
        }
        Text => {
            let value = arg(0);
            if let Value::Error(error) = value {
                return fail(error);
            }
            if args.len() < 2 {
                return Ok(Value::text(to_text(&value)));
            }
            let format = text_arg(arg(1))?;
            match value {
                Value::Number(number) => format_number(number, &format).map(Value::text),
                Value::Date(_) | Value::DateTime(_) => {
                    crate::eval_date::format_value(&value, Some(&format), env.ctx.time_zone)
                        .map(Value::text)
                }
                other => Ok(Value::text(to_text(&other))),
            }
        }
        T => Ok(match arg(0) {
            value @ (Value::Text(_) | Value::Error(_)) => value,
            _ => Value::Empty,
        }),
        Exact => Ok(Value::Bool(text_arg(arg(0))? == text_arg(arg(1))?)),
        RegexMatch | RegexExtract | RegexReplace => {
            let text = text_arg(arg(0))?;
            let compiled;
            let regex = match env.regexes.iter().find(|(span, _)| *span == args[1].span) {
                Some((_, regex)) => regex,
                None => {
                    compiled = compile_regex(&text_arg(arg(1))?)
                        .map_err(|error| Value::Error(EvalError::InvalidRegex(error)))?;
                    &compiled
                }
            };
            Ok(match func {
                RegexMatch => Value::Bool(regex.is_match(&text)),
                RegexExtract => regex
                    .find(&text)
                    .map_or(Value::Empty, |found| Value::text(found.as_str())),
                _ => Value::text(
                    regex
                        .replace_all(&text, text_arg(arg(2))?.as_str())
                        .into_owned(),
                ),
            })
        }
        EncodeUrlComponent => Ok(Value::text(encode_url_component(&text_arg(arg(0))?))),
        Fixed => {
            let number = need_number(arg(0))?;
            let places = args.get(1).and_then(Node::literal_int).unwrap_or(2);
            let rounded = num::round_to(
                number,
                places,
                Rounding::HalfAway,
                u32::try_from(places.max(0)).unwrap_or(0),
            )
            .map_err(Value::Error)?;
            Ok(Value::text(if rounded.is_zero() {
                num::rescale(Decimal::ZERO, rounded.scale())
                    .map_err(Value::Error)?
                    .to_string()
            } else {
                rounded.to_string()
            }))
        }
        ValueOf => {
            let text = text_arg(arg(0))?;
            if text.trim().is_empty() {
                return Ok(Value::Empty);
            }
            let number = parse_number(&text).ok_or(Value::Error(EvalError::NotANumber))?;
            num::rescale(number, node.ty.scale())
                .map(Value::Number)
                .map_err(Value::Error)
        }
        ArrayJoin => {
            let separator = if args.len() > 1 {
                text_arg(arg(1))?
            } else {
                ", ".to_owned()
            };
            let items = match arg(0) {
                Value::List(items) => items,
                Value::Error(error) => return fail(error),
                other => vec![other],
            };
            let parts: Vec<String> = items
                .iter()
                .filter(|item| !item.is_empty())
                .map(to_text)
                .collect();
            Ok(Value::text(parts.join(&separator)))
        }
        ArrayUnique | ArrayCompact => {
            let items = match arg(0) {
                Value::List(items) => items,
                Value::Empty => return Ok(Value::Empty),
                Value::Error(error) => return fail(error),
                other => vec![other],
            };
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                let keep = if func == ArrayCompact {
                    !item.is_empty()
                } else {
                    !out.iter().any(|known| crate::eval::equals(known, &item))
                };
                if keep {
                    out.push(item);
                }
            }
            Ok(Value::List(out))
        }
        ArrayFlatten => {
            let mut out = Vec::new();
            for node in args {
                match eval(node, env) {
                    Value::Error(error) => return fail(error),
                    value => flatten_into(value, &mut out),
                }
            }
            if out.is_empty() {
                return Ok(Value::Empty);
            }
            let items = match &node.ty {
                Type::List(items) => items.as_ref(),
                other => other,
            };
            Ok(Value::List(
                out.into_iter()
                    .map(|item| crate::eval::conform(item, items))
                    .collect(),
            ))
        }
        Split => {
            let text = match arg(0) {
                Value::Error(error) => return fail(error),
                value => to_text(&value),
            };
            let separator = match arg(1) {
                Value::Error(error) => return fail(error),
                value => to_text(&value),
            };
            let pieces: Vec<Value> = if separator.is_empty() {
                vec![Value::text(text)]
            } else {
                text.split(separator.as_str()).map(Value::text).collect()
            };
            let pieces: Vec<Value> = pieces
                .into_iter()
                .filter(|piece| !piece.is_empty())
                .collect();
            Ok(if pieces.is_empty() {
                Value::Empty
            } else {
                Value::List(pieces)
            })
        }
        _ => fail(EvalError::InvalidArgument("not a text function")),
    }
}

/// Appends the non-empty items of `value` to `out`, flattening nested lists.
fn flatten_into(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::List(items) => {
            for item in items {
                flatten_into(item, out);
            }
        }
        value if value.is_empty() => {}
        value => out.push(value),
    }
}

/// Compiles a pattern with the size limit that keeps exploding patterns harmless.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_MAX)
        .build()
        .map_err(|error| error.to_string())
}

/// What TRIM removes at both ends.
pub(crate) const TRIMMED: &[char] = &[' ', '\t', '\n', '\r'];

/// 1-based character position of `needle` in `haystack` at or after `start`; 0 when absent.
fn find(needle: &str, haystack: &str, start: i64) -> i64 {
    let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
    let Some((byte_start, _)) = haystack
        .char_indices()
        .nth(skip)
        .or_else(|| (haystack.chars().count() == skip).then_some((haystack.len(), ' ')))
    else {
        return 0;
    };
    match haystack[byte_start..].find(needle) {
        Some(offset) => {
            let chars_before = haystack[..byte_start + offset].chars().count();
            i64::try_from(chars_before).map_or(0, |count| count + 1)
        }
        None => 0,
    }
}

/// Reads "1,234.50", "$12", "¥ 3", "-4.5%", "1e3" is not accepted.
fn parse_number(text: &str) -> Option<Decimal> {
    let mut cleaned: String = text
        .chars()
        .filter(|ch| !matches!(ch, ',' | ' ' | '$' | '¥' | '￥' | '€' | '£'))
        .collect();
    let percent = cleaned.ends_with('%');
    if percent {
        cleaned.pop();
    }
    let number = Decimal::from_str_exact(&cleaned).ok()?;
    if percent {
        number.checked_div(Decimal::ONE_HUNDRED)
    } else {
        Some(number)
    }
}

/// Excel-style number patterns: `0`, `0.00`, `#,##0.00`, `0%`, with literal text around (`¥#,##0.00`).
fn format_number(number: Decimal, pattern: &str) -> Flow<String> {
    let first = pattern.find(['0', '#']);
    let last = pattern.rfind(['0', '#', '.', ',']);
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(pattern.to_owned());
    };
    let (prefix, body, suffix) = (
        &pattern[..first],
        &pattern[first..=last],
        &pattern[last + 1..],
    );
    let percent = suffix.contains('%');
    let places = body.split_once('.').map_or(0, |(_, decimals)| {
        decimals
            .chars()
            .filter(|ch| matches!(ch, '0' | '#'))
            .count()
    });
    let places = u32::try_from(places)
        .unwrap_or(0)
        .min(crate::schema::SCALE_MAX);
    let value = if percent {
        number * Decimal::ONE_HUNDRED
    } else {
        number
    };
    let rounded = num::round_to(value, i64::from(places), Rounding::HalfAway, places)
        .map_err(Value::Error)?;
    let text = rounded.abs().to_string();
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(whole, fraction)| (whole, fraction));
    let whole = if body.contains(',') {
        group_thousands(whole)
    } else {
        whole.to_owned()
    };
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    Ok(format!("{sign}{prefix}{whole}{fraction}{suffix}"))
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, ch) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn encode_url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// POWER, SQRT, EXP, LN, LOG, LOG10 with rust_decimal's series; rounded to `scale`.
pub(crate) fn float_math(
    func: Func,
    first: Value,
    second: Option<Value>,
    scale: u32,
) -> Flow<Value> {
    let x = need_number(first)?;
    let invalid = |what| Value::Error(EvalError::InvalidNumber(what));
    let result = match func {
        Func::Power => {
            let exponent = need_number(second.unwrap_or(Value::Empty))?;
            if x.is_zero() && exponent.is_sign_negative() {
                return fail(EvalError::DivisionByZero);
            }
            if x.is_sign_negative() && !exponent.fract().is_zero() {
                return Err(invalid("a negative number to a fractional power"));
            }
            if exponent.fract().is_zero() && exponent.abs() <= Decimal::from(1000) {
                let whole = num::to_i64(exponent).map_err(Value::Error)?;
                x.checked_powi(whole)
            } else {
                x.checked_powd(exponent)
            }
        }
        Func::Sqrt if x.is_sign_negative() && !x.is_zero() => {
            return Err(invalid("the square root of a negative number"));
        }
        Func::Sqrt => x.sqrt(),
        Func::Exp => x.checked_exp(),
        Func::Ln | Func::Log | Func::Log10 if x <= Decimal::ZERO => {
            return Err(invalid("the logarithm of a number that is not positive"));
        }
        Func::Ln => x.checked_ln(),
        Func::Log10 => x.checked_log10(),
        _ => {
            let base = match second {
                Some(value) => need_number(value)?,
                None => Decimal::TEN,
            };
            if base <= Decimal::ZERO || base == Decimal::ONE {
                return Err(invalid("a logarithm base must be positive and not 1"));
            }
            match (x.checked_ln(), base.checked_ln()) {
                (Some(numerator), Some(denominator)) => numerator.checked_div(denominator),
                _ => None,
            }
        }
    };
    let result = result.ok_or(Value::Error(EvalError::Overflow))?;
    num::rescale(result, scale)
        .map(Value::Number)
        .map_err(Value::Error)
}
