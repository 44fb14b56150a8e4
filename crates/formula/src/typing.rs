//! Typing rules of every function: arity, argument types, constant arguments, and the result type with
//! its static scale. Scale rules: `+ - %` keep the larger scale, `*` adds scales, `/` and AVERAGE add 6
//! to the larger scale; all are capped at [`SCALE_MAX`], rounding half away from zero.

use crate::functions::Func;
use crate::ir::{Node, Unit};
use crate::schema::{SCALE_MAX, Type};

/// Division keeps this many decimal places more than its inputs.
pub const DIVISION_EXTRA_SCALE: u32 = 6;

pub(crate) struct TypeError {
    /// The argument at fault, if one is.
    pub arg: Option<usize>,
    pub message: String,
}

fn fail<T>(arg: Option<usize>, message: impl Into<String>) -> Result<T, TypeError> {
    Err(TypeError {
        arg,
        message: message.into(),
    })
}

fn is_number(ty: &Type) -> bool {
    matches!(ty, Type::Number { .. } | Type::Blank)
}

fn is_text(ty: &Type) -> bool {
    matches!(ty, Type::Text | Type::Blank)
}

fn is_bool(ty: &Type) -> bool {
    matches!(ty, Type::Boolean | Type::Blank)
}

fn is_datelike(ty: &Type) -> bool {
    matches!(ty, Type::Date | Type::DateTime | Type::Blank)
}

fn is_scalar(ty: &Type) -> bool {
    !matches!(ty, Type::List(_))
}

/// The common type of two branches (IF, SWITCH, …).
pub(crate) fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Blank, other) | (other, Type::Blank) => Some(other.clone()),
        (Type::Number { scale: x }, Type::Number { scale: y }) => Some(Type::number((*x).max(*y))),
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}

/// Whether values of the two types can be compared with `=` and `<`.
fn comparable(a: &Type, b: &Type) -> bool {
    matches!(a, Type::Blank)
        || matches!(b, Type::Blank)
        || unify(a, b).is_some_and(|ty| is_scalar(&ty))
}

fn arity(func: Func, args: &[Node], min: usize, max: usize) -> Result<(), TypeError> {
    if args.len() < min || args.len() > max {
        let expected = match (min, max) {
            (min, max) if min == max => format!("{min}"),
            (min, usize::MAX) => format!("at least {min}"),
            (min, max) => format!("{min} to {max}"),
        };
        let plural = if matches!((min, max), (1, 1) | (1, usize::MAX)) {
            ""
        } else {
            "s"
        };
        return fail(
            None,
            format!(
                "{} takes {expected} argument{plural}, got {}",
                func.name(),
                args.len()
            ),
        );
    }
    Ok(())
}

fn expect(
    func: Func,
    args: &[Node],
    index: usize,
    what: &str,
    ok: fn(&Type) -> bool,
) -> Result<(), TypeError> {
    match args.get(index) {
        Some(node) if !ok(&node.ty) => fail(
            Some(index),
            format!(
                "{} expects {what} as argument {}, found {}",
                func.name(),
                index + 1,
                node.ty
            ),
        ),
        _ => Ok(()),
    }
}

fn number_scale(args: &[Node]) -> u32 {
    args.iter()
        .map(|node| match &node.ty {
            Type::List(inner) => inner.scale(),
            other => other.scale(),
        })
        .max()
        .unwrap_or(0)
}

/// The constant `places` argument of ROUND & co.; default 0.
fn places(func: Func, args: &[Node], index: usize, default: i64) -> Result<i64, TypeError> {
    let Some(node) = args.get(index) else {
        return Ok(default);
    };
    match node.literal_int() {
        Some(places) if (-20..=i64::from(SCALE_MAX)).contains(&places) => Ok(places),
        _ => fail(
            Some(index),
            format!(
                "{} needs a whole number from -20 to {SCALE_MAX} written out as its number of places",
                func.name()
            ),
        ),
    }
}

/// A constant unit argument, if present.
pub(crate) fn unit_arg(func: Func, args: &[Node], index: usize) -> Result<Option<Unit>, TypeError> {
    let Some(node) = args.get(index) else {
        return Ok(None);
    };
    match node.literal_text().and_then(Unit::parse) {
        Some(unit) => Ok(Some(unit)),
        None => fail(
            Some(index),
            format!(
                "{} needs a unit written as text: \"years\", \"quarters\", \"months\", \"weeks\", \"days\", \"hours\", \"minutes\" or \"seconds\"",
                func.name()
            ),
        ),
    }
}

/// A constant week start (`"Sunday"` or `"Monday"`); true for Monday.
pub(crate) fn monday_start(func: Func, args: &[Node], index: usize) -> Result<bool, TypeError> {
    let Some(node) = args.get(index) else {
        return Ok(false);
    };
    match node.literal_text().map(str::to_ascii_lowercase).as_deref() {
        Some("sunday") => Ok(false),
        Some("monday") => Ok(true),
        _ => fail(
            Some(index),
            format!(
                "{} takes \"Sunday\" or \"Monday\" as the first day of the week",
                func.name()
            ),
        ),
    }
}

/// Type-checks a call and returns its result type.
pub(crate) fn result_type(func: Func, args: &[Node]) -> Result<Type, TypeError> {
    use Func::*;
    let num = |i| expect(func, args, i, "a number", is_number);
    let text = |i| expect(func, args, i, "text", is_text);
    let logical = |i| expect(func, args, i, "a logical value", is_bool);
    let datelike = |i| expect(func, args, i, "a date", is_datelike);
    let scalar = |i| expect(func, args, i, "a single value (not a list)", is_scalar);
    let ty = |i: usize| args[i].ty.clone();
    match func {
        Add | Sub => {
            arity(func, args, 2, 2)?;
            match (&args[0].ty, &args[1].ty) {
                (Type::Date, rhs) if is_number(rhs) => Ok(Type::Date),
                (lhs, Type::Date) if func == Add && is_number(lhs) => Ok(Type::Date),
                (Type::Date, Type::Date) if func == Sub => Ok(Type::number(0)),
                _ => {
                    num(0)?;
                    num(1)?;
                    Ok(Type::number(number_scale(args)))
                }
            }
        }
        Mul => {
            arity(func, args, 2, 2)?;
            num(0)?;
            num(1)?;
            Ok(Type::number(args[0].ty.scale() + args[1].ty.scale()))
        }
        Div => {
            arity(func, args, 2, 2)?;
            num(0)?;
            num(1)?;
            Ok(Type::number(number_scale(args) + DIVISION_EXTRA_SCALE))
        }
        Mod => {
            arity(func, args, 2, 2)?;
            num(0)?;
            num(1)?;
            Ok(Type::number(number_scale(args)))
        }
        Neg | Abs => {
            arity(func, args, 1, 1)?;
            num(0)?;
            Ok(Type::number(number_scale(args)))
        }
        Concat => {
            arity(func, args, 1, usize::MAX)?;
            for index in 0..args.len() {
                expect(
                    func,
                    args,
                    index,
                    "a single value (use ARRAYJOIN for a list)",
                    is_scalar,
                )?;
            }
            Ok(Type::Text)
        }
        Eq | Ne | Lt | Le | Gt | Ge => {
            arity(func, args, 2, 2)?;
            if !comparable(&args[0].ty, &args[1].ty) {
                let symbol = func.name();
                return fail(
                    None,
                    format!("cannot compare {} {symbol} {}", args[0].ty, args[1].ty),
                );
            }
            Ok(Type::Boolean)
        }
        And | Or | Xor => {
            arity(func, args, 1, usize::MAX)?;
            (0..args.len()).try_for_each(logical)?;
            Ok(Type::Boolean)
        }
        Not => {
            arity(func, args, 1, 1)?;
            logical(0)?;
            Ok(Type::Boolean)
        }
        If => {
            arity(func, args, 2, 3)?;
            logical(0)?;
            let otherwise = args.get(2).map_or(Type::Blank, |node| node.ty.clone());
            unify(&ty(1), &otherwise).map_or_else(
                || {
                    fail(
                        Some(2),
                        format!("IF's branches differ: {} and {otherwise}", ty(1)),
                    )
                },
                Ok,
            )
        }
        Ifs => {
            if args.len() < 2 || !args.len().is_multiple_of(2) {
                return fail(None, "IFS takes pairs of condition and value");
            }
            let mut result = Type::Blank;
            for pair in (0..args.len()).step_by(2) {
                logical(pair)?;
                result = unify(&result, &ty(pair + 1)).map_or_else(
                    || {
                        fail(
                            Some(pair + 1),
                            format!("IFS's values differ: {result} and {}", ty(pair + 1)),
                        )
                    },
                    Ok,
                )?;
            }
            Ok(result)
        }
        Switch => {
            arity(func, args, 3, usize::MAX)?;
            scalar(0)?;
            let mut result = Type::Blank;
            let pairs_end = if args.len().is_multiple_of(2) {
                args.len() - 1
            } else {
                args.len()
            };
            for pair in (1..pairs_end).step_by(2) {
                if !comparable(&ty(0), &ty(pair)) {
                    return fail(
                        Some(pair),
                        format!("SWITCH compares {} with {}", ty(0), ty(pair)),
                    );
                }
                result = unify(&result, &ty(pair + 1)).map_or_else(
                    || {
                        fail(
                            Some(pair + 1),
                            format!("SWITCH's results differ: {result} and {}", ty(pair + 1)),
                        )
                    },
                    Ok,
                )?;
            }
            if pairs_end < args.len() {
                result = unify(&result, &ty(pairs_end)).map_or_else(
                    || {
                        fail(
                            Some(pairs_end),
                            format!("SWITCH's default differs: {result} and {}", ty(pairs_end)),
                        )
                    },
                    Ok,
                )?;
            }
            Ok(result)
        }
        IsBlank | IsError => {
            arity(func, args, 1, 1)?;
            Ok(Type::Boolean)
        }
        IfError => {
            arity(func, args, 2, 2)?;
            unify(&ty(0), &ty(1)).map_or_else(
                || {
                    fail(
                        Some(1),
                        format!("IFERROR's values differ: {} and {}", ty(0), ty(1)),
                    )
                },
                Ok,
            )
        }
        Blank => arity(func, args, 0, 0).map(|()| Type::Blank),
        True | False => arity(func, args, 0, 0).map(|()| Type::Boolean),
        Sum | Average | Min | Max => {
            arity(func, args, 1, usize::MAX)?;
            for (index, node) in args.iter().enumerate() {
                let element = match &node.ty {
                    Type::List(inner) => inner.as_ref(),
                    other => other,
                };
                if !is_number(element) {
                    return fail(
                        Some(index),
                        format!("{} expects numbers, found {}", func.name(), node.ty),
                    );
                }
            }
            let scale = number_scale(args);
            Ok(Type::number(if func == Average {
                scale + DIVISION_EXTRA_SCALE
            } else {
                scale
            }))
        }
        Count | CountA | CountAll => arity(func, args, 1, usize::MAX).map(|()| Type::number(0)),
        Round | RoundUp | RoundDown | Trunc => {
            arity(func, args, 1, 2)?;
            num(0)?;
            let places = places(func, args, 1, 0)?;
            Ok(Type::number(
                u32::try_from(places.max(0))
                    .unwrap_or(0)
                    .min(args[0].ty.scale()),
            ))
        }
        Int | Sign | Even | Odd => {
            arity(func, args, 1, 1)?;
            num(0)?;
            Ok(Type::number(0))
        }
        Ceiling | Floor => {
            arity(func, args, 1, 2)?;
            num(0)?;
            num(1)?;
            Ok(Type::number(number_scale(args)))
        }
        Power | Log => {
            arity(func, args, if func == Power { 2 } else { 1 }, 2)?;
            num(0)?;
            num(1)?;
            Ok(Type::number(SCALE_MAX))
        }
        Sqrt | Exp | Ln | Log10 => {
            arity(func, args, 1, 1)?;
            num(0)?;
            Ok(Type::number(SCALE_MAX))
        }
        ValueOf => {
            arity(func, args, 1, 1)?;
            text(0)?;
            Ok(Type::number(SCALE_MAX))
        }
        Left | Right => {
            arity(func, args, 1, 2)?;
            text(0)?;
            num(1)?;
            Ok(Type::Text)
        }
        Mid => {
            arity(func, args, 3, 3)?;
            text(0)?;
            num(1)?;
            num(2)?;
            Ok(Type::Text)
        }
        Len => arity(func, args, 1, 1)
            .and_then(|()| text(0))
            .map(|()| Type::number(0)),
        Lower | Upper | Trim | EncodeUrlComponent => arity(func, args, 1, 1)
            .and_then(|()| text(0))
            .map(|()| Type::Text),
        Substitute => {
            arity(func, args, 3, 4)?;
            (0..3).try_for_each(text)?;
            num(3)?;
            Ok(Type::Text)
        }
        Find | Search => {
            arity(func, args, 2, 3)?;
            text(0)?;
            text(1)?;
            num(2)?;
            Ok(Type::number(0))
        }
        Replace => {
            arity(func, args, 4, 4)?;
            text(0)?;
            num(1)?;
            num(2)?;
            text(3)?;
            Ok(Type::Text)
        }
        Rept => {
            arity(func, args, 2, 2)?;
            text(0)?;
            num(1)?;
            Ok(Type::Text)
        }
        Text => {
            arity(func, args, 1, 2)?;
            scalar(0)?;
            text(1)?;
            Ok(Type::Text)
        }
        T => arity(func, args, 1, 1).map(|()| Type::Text),
        Exact => arity(func, args, 2, 2)
            .and_then(|()| text(0))
            .and_then(|()| text(1))
            .map(|()| Type::Boolean),
        RegexMatch | RegexExtract => {
            arity(func, args, 2, 2)?;
            text(0)?;
            text(1)?;
            Ok(if func == RegexMatch {
                Type::Boolean
            } else {
                Type::Text
            })
        }
        RegexReplace => {
            arity(func, args, 3, 3)?;
            (0..3).try_for_each(text)?;
            Ok(Type::Text)
        }
        Fixed => {
            arity(func, args, 1, 2)?;
            num(0)?;
            places(func, args, 1, 2)?;
            Ok(Type::Text)
        }
        Today => arity(func, args, 0, 0).map(|()| Type::Date),
        Now => arity(func, args, 0, 0).map(|()| Type::DateTime),
        Date => {
            arity(func, args, 3, 3)?;
            (0..3).try_for_each(num)?;
            Ok(Type::Date)
        }
        Year | Month | Day => arity(func, args, 1, 1)
            .and_then(|()| datelike(0))
            .map(|()| Type::number(0)),
        Hour | Minute | Second => {
            arity(func, args, 1, 1)?;
            expect(func, args, 0, "a datetime", |ty| {
                matches!(ty, Type::DateTime | Type::Blank)
            })?;
            Ok(Type::number(0))
        }
        Weekday | Weeknum => {
            arity(func, args, 1, 2)?;
            datelike(0)?;
            monday_start(func, args, 1)?;
            Ok(Type::number(0))
        }
        DateAdd => {
            arity(func, args, 3, 3)?;
            datelike(0)?;
            num(1)?;
            let unit = unit_arg(func, args, 2)?;
            if ty(0) == Type::Date && unit.is_some_and(Unit::is_clock) {
                return fail(
                    Some(2),
                    "DATEADD adds hours, minutes and seconds to datetimes only, not to dates",
                );
            }
            Ok(if ty(0) == Type::Blank {
                Type::Blank
            } else {
                ty(0)
            })
        }
        DatetimeDiff | IsSame => {
            arity(func, args, 2, 3)?;
            datelike(0)?;
            datelike(1)?;
            if !comparable(&ty(0), &ty(1)) {
                return fail(
                    Some(1),
                    format!(
                        "{} needs two dates or two datetimes, found {} and {}",
                        func.name(),
                        ty(0),
                        ty(1)
                    ),
                );
            }
            unit_arg(func, args, 2)?;
            Ok(if func == IsSame {
                Type::Boolean
            } else {
                Type::number(0)
            })
        }
        Datedif => {
            arity(func, args, 3, 3)?;
            expect(func, args, 0, "a date", |ty| {
                matches!(ty, Type::Date | Type::Blank)
            })?;
            expect(func, args, 1, "a date", |ty| {
                matches!(ty, Type::Date | Type::Blank)
            })?;
            match args[2].literal_text() {
                Some("D" | "M" | "Y" | "d" | "m" | "y") => Ok(Type::number(0)),
                _ => fail(Some(2), "DATEDIF's unit is \"D\", \"M\" or \"Y\""),
            }
        }
        Workday | Networkdays => {
            arity(func, args, 2, 3)?;
            expect(func, args, 0, "a date", |ty| {
                matches!(ty, Type::Date | Type::Blank)
            })?;
            if func == Workday {
                num(1)?;
            } else {
                expect(func, args, 1, "a date", |ty| {
                    matches!(ty, Type::Date | Type::Blank)
                })?;
            }
            expect(func, args, 2, "text or a list of dates", |ty| {
                matches!(ty, Type::Text | Type::Blank) || *ty == Type::List(Box::new(Type::Date))
            })?;
            Ok(if func == Workday {
                Type::Date
            } else {
                Type::number(0)
            })
        }
        DatetimeFormat => {
            arity(func, args, 1, 3)?;
            datelike(0)?;
            text(1)?;
            text(2)?;
            if let Some(zone) = args.get(2).and_then(Node::literal_text)
                && zone.parse::<chrono_tz::Tz>().is_err()
            {
                return fail(
                    Some(2),
                    format!("\"{zone}\" is not an IANA time zone such as \"Asia/Shanghai\""),
                );
            }
            Ok(Type::Text)
        }
        DatetimeParse => {
            arity(func, args, 1, 2)?;
            text(0)?;
            text(1)?;
            Ok(Type::DateTime)
        }
        Datevalue => {
            arity(func, args, 1, 1)?;
            expect(func, args, 0, "text or a datetime", |ty| {
                matches!(ty, Type::Text | Type::DateTime | Type::Date | Type::Blank)
            })?;
            Ok(Type::Date)
        }
        Datestr => arity(func, args, 1, 1)
            .and_then(|()| datelike(0))
            .map(|()| Type::Text),
        Eomonth | Edate => {
            arity(func, args, 2, 2)?;
            datelike(0)?;
            num(1)?;
            Ok(Type::Date)
        }
        IsBefore | IsAfter => {
            arity(func, args, 2, 2)?;
            datelike(0)?;
            datelike(1)?;
            if !comparable(&ty(0), &ty(1)) {
                return fail(
                    Some(1),
                    format!(
                        "{} needs two dates or two datetimes, found {} and {}",
                        func.name(),
                        ty(0),
                        ty(1)
                    ),
                );
            }
            Ok(Type::Boolean)
        }
        ArrayJoin => {
            arity(func, args, 1, 2)?;
            text(1)?;
            Ok(Type::Text)
        }
        ArrayUnique | ArrayCompact => {
            arity(func, args, 1, 1)?;
            match ty(0) {
                Type::List(inner) => Ok(Type::List(inner)),
                Type::Blank => Ok(Type::Blank),
                other => Ok(Type::List(Box::new(other))),
            }
        }
        ArrayFlatten => {
            arity(func, args, 1, usize::MAX)?;
            let mut items = Type::Blank;
            for (index, node) in args.iter().enumerate() {
                let mut own = &node.ty;
                while let Type::List(inner) = own {
                    own = inner;
                }
                items = match unify(&items, own) {
                    Some(common) => common,
                    None => {
                        return fail(
                            Some(index),
                            format!(
                                "{} needs items of one type: argument {} has {} items, the ones before it {}",
                                func.name(),
                                index + 1,
                                own,
                                items
                            ),
                        );
                    }
                };
            }
            Ok(match items {
                Type::Blank => Type::Blank,
                items => Type::List(Box::new(items)),
            })
        }
        Split => {
            arity(func, args, 2, 2)?;
            text(0)?;
            text(1)?;
            Ok(Type::List(Box::new(Type::Text)))
        }
    }
}
