//! Evaluation of date and time functions. Dates are calendar dates; datetimes are UTC instants whose
//! calendar parts are read in the organization's time zone (from the [`EvalContext`]).

use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::eval::{Env, Flow, eval, fail, need_int};
use crate::functions::Func;
use crate::ir::{Node, Unit};
use crate::value::{EvalContext, EvalError, Value};

/// WORKDAY and NETWORKDAYS walk at most this many days.
pub const WORKDAY_SPAN_MAX: i64 = 100_000;

fn invalid_date<T>() -> Flow<T> {
    fail(EvalError::InvalidDate)
}

fn in_range(date: NaiveDate) -> Flow<NaiveDate> {
    if (1..=9999).contains(&date.year()) {
        Ok(date)
    } else {
        invalid_date()
    }
}

fn instant_in_range(instant: DateTime<Utc>) -> Flow<DateTime<Utc>> {
    if (1..=9999).contains(&instant.year()) {
        Ok(instant)
    } else {
        invalid_date()
    }
}

/// The local calendar date and time of a date or datetime.
pub(crate) fn local(value: &Value, zone: Tz) -> Option<NaiveDateTime> {
    match value {
        Value::Date(date) => date.and_hms_opt(0, 0, 0),
        Value::DateTime(instant) => Some(instant.with_timezone(&zone).naive_local()),
        _ => None,
    }
}

/// The local date-time of a date or datetime; a local date outside years 1–9999 is an invalid date.
fn need_local(value: Value, zone: Tz) -> Flow<NaiveDateTime> {
    let at = match value {
        Value::Error(error) => return Err(Value::Error(error)),
        other => local(&other, zone).ok_or(Value::Empty)?,
    };
    if (1..=9999).contains(&at.year()) {
        Ok(at)
    } else {
        invalid_date()
    }
}

/// The UTC instant of a local time in `zone`; in a gap (spring forward) the time after the gap.
fn from_local(naive: NaiveDateTime, zone: Tz) -> Flow<DateTime<Utc>> {
    let resolved = zone.from_local_datetime(&naive).earliest().or_else(|| {
        zone.from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
    });
    resolved
        .map(|instant| instant.with_timezone(&Utc))
        .ok_or(Value::Error(EvalError::InvalidDate))
}

fn add_months(date: NaiveDate, months: i64) -> Flow<NaiveDate> {
    let magnitude =
        u32::try_from(months.unsigned_abs()).map_err(|_| Value::Error(EvalError::InvalidDate))?;
    let moved = if months >= 0 {
        date.checked_add_months(Months::new(magnitude))
    } else {
        date.checked_sub_months(Months::new(magnitude))
    };
    in_range(moved.ok_or(Value::Error(EvalError::InvalidDate))?)
}

fn add_days(date: NaiveDate, days: i64) -> Flow<NaiveDate> {
    let moved = Duration::try_days(days).and_then(|delta| date.checked_add_signed(delta));
    in_range(moved.ok_or(Value::Error(EvalError::InvalidDate))?)
}

/// `date ± days` and `date − date`.
pub(crate) fn date_arith(func: Func, lhs: Value, rhs: Value) -> Flow<Value> {
    match (lhs, rhs) {
        (Value::Date(a), Value::Date(b)) => Ok(Value::Number(Decimal::from((a - b).num_days()))),
        (Value::Date(date), other) => {
            let days = need_int(other)?;
            add_days(date, if func == Func::Sub { -days } else { days }).map(Value::Date)
        }
        (other, Value::Date(date)) => add_days(date, need_int(other)?).map(Value::Date),
        (Value::Error(error), _) | (_, Value::Error(error)) => fail(error),
        _ => Ok(Value::Empty),
    }
}

/// Whole calendar months from `b` to `a` (a − b), truncated toward zero, as moment.js counts them.
pub(crate) fn month_diff(a: NaiveDateTime, b: NaiveDateTime) -> i64 {
    let months = (i64::from(a.year()) * 12 + i64::from(a.month0()))
        - (i64::from(b.year()) * 12 + i64::from(b.month0()));
    let a_rest = (a.day(), a.time());
    let b_rest = (b.day(), b.time());
    if months > 0 && a_rest < b_rest {
        months - 1
    } else if months < 0 && a_rest > b_rest {
        months + 1
    } else {
        months
    }
}

fn diff(a: &Value, b: &Value, unit: Unit, zone: Tz) -> Flow<i64> {
    let seconds = match (a, b) {
        (Value::Date(x), Value::Date(y)) => (*x - *y).num_days() * 86_400,
        (Value::DateTime(x), Value::DateTime(y)) => (*x - *y).num_seconds(),
        _ => return Err(Value::Empty),
    };
    Ok(match unit {
        Unit::Seconds => seconds,
        Unit::Minutes => seconds / 60,
        Unit::Hours => seconds / 3_600,
        Unit::Days => seconds / 86_400,
        Unit::Weeks => seconds / 604_800,
        Unit::Months | Unit::Quarters | Unit::Years => {
            let months = month_diff(need_local(a.clone(), zone)?, need_local(b.clone(), zone)?);
            match unit {
                Unit::Months => months,
                Unit::Quarters => months / 3,
                _ => months / 12,
            }
        }
    })
}

fn weekday(date: NaiveDate, monday: bool) -> u32 {
    if monday {
        date.weekday().num_days_from_monday()
    } else {
        date.weekday().num_days_from_sunday()
    }
}

fn is_workday(date: NaiveDate, holidays: &[NaiveDate]) -> bool {
    date.weekday().num_days_from_monday() < 5 && !holidays.contains(&date)
}

fn holidays(value: Option<Value>) -> Flow<Vec<NaiveDate>> {
    match value {
        None | Some(Value::Empty) => Ok(Vec::new()),
        Some(Value::Text(text)) => text
            .split([',', ';', ' ', '\n'])
            .filter(|part| !part.is_empty())
            .map(|part| {
                NaiveDate::parse_from_str(part, "%Y-%m-%d")
                    .map_err(|_| Value::Error(EvalError::InvalidDate))
            })
            .collect(),
        Some(Value::List(items)) => Ok(items
            .iter()
            .filter_map(|item| match item {
                Value::Date(date) => Some(*date),
                _ => None,
            })
            .collect()),
        Some(Value::Error(error)) => fail(error),
        Some(_) => invalid_date(),
    }
}

pub(crate) fn call(func: Func, args: &[Node], env: &Env<'_>) -> Flow<Value> {
    use Func::*;
    let ctx: &EvalContext = env.ctx;
    let zone = ctx.time_zone;
    let arg = |index: usize| args.get(index).map_or(Value::Empty, |node| eval(node, env));
    let number = |value: i64| Ok(Value::Number(Decimal::from(value)));
    match func {
        Today => Ok(Value::Date(ctx.today())),
        Now => Ok(Value::DateTime(ctx.now)),
        Date => {
            let year = need_int(arg(0))?;
            let month = need_int(arg(1))?;
            let day = need_int(arg(2))?;
            if !(1..=9999).contains(&year) {
                return invalid_date();
            }
            let base = NaiveDate::from_ymd_opt(i32::try_from(year).unwrap_or(0), 1, 1)
                .ok_or(Value::Error(EvalError::InvalidDate))?;
            let first = add_months(
                base,
                month
                    .checked_sub(1)
                    .ok_or(Value::Error(EvalError::InvalidDate))?,
            )?;
            add_days(
                first,
                day.checked_sub(1)
                    .ok_or(Value::Error(EvalError::InvalidDate))?,
            )
            .map(Value::Date)
        }
        Year | Month | Day | Hour | Minute | Second => {
            let at = need_local(arg(0), zone)?;
            number(i64::from(match func {
                Year => u32::try_from(at.year()).unwrap_or(0),
                Month => at.month(),
                Day => at.day(),
                Hour => at.hour(),
                Minute => at.minute(),
                _ => at.second(),
            }))
        }
        Weekday | Weeknum => {
            let date = need_local(arg(0), zone)?.date();
            let monday = crate::typing::monday_start(func, args, 1).unwrap_or(false);
            if func == Weekday {
                return number(i64::from(weekday(date, monday)));
            }
            let first = NaiveDate::from_ymd_opt(date.year(), 1, 1).ok_or(Value::Empty)?;
            number(i64::from(
                (date.ordinal0() + weekday(first, monday)) / 7 + 1,
            ))
        }
        DateAdd => {
            let value = arg(0);
            let count = need_int(arg(1))?;
            let Ok(Some(unit)) = crate::typing::unit_arg(func, args, 2) else {
                return Ok(Value::Empty);
            };
            let months = match unit {
                Unit::Years => count.checked_mul(12),
                Unit::Quarters => count.checked_mul(3),
                Unit::Months => Some(count),
                _ => None,
            };
            match (value, months) {
                (Value::Date(date), Some(months)) => add_months(date, months).map(Value::Date),
                (Value::Date(date), None) => {
                    let days = if unit == Unit::Weeks {
                        count.checked_mul(7)
                    } else {
                        Some(count)
                    };
                    add_days(date, days.ok_or(Value::Error(EvalError::InvalidDate))?)
                        .map(Value::Date)
                }
                (value @ Value::DateTime(_), Some(months)) => {
                    let at = need_local(value, zone)?;
                    let moved = add_months(at.date(), months)?.and_time(at.time());
                    instant_in_range(from_local(moved, zone)?).map(Value::DateTime)
                }
                (Value::DateTime(instant), None) => {
                    let seconds_per = match unit {
                        Unit::Weeks => 604_800,
                        Unit::Days => 86_400,
                        Unit::Hours => 3_600,
                        Unit::Minutes => 60,
                        _ => 1,
                    };
                    let moved = count
                        .checked_mul(seconds_per)
                        .and_then(Duration::try_seconds)
                        .and_then(|delta| instant.checked_add_signed(delta));
                    instant_in_range(moved.ok_or(Value::Error(EvalError::InvalidDate))?)
                        .map(Value::DateTime)
                }
                (Value::Error(error), _) => fail(error),
                _ => Ok(Value::Empty),
            }
        }
        DatetimeDiff => {
            let unit = crate::typing::unit_arg(func, args, 2)
                .ok()
                .flatten()
                .unwrap_or(Unit::Seconds);
            number(diff(&arg(0), &arg(1), unit, zone)?)
        }
        Datedif => {
            let (start, end) = (arg(0), arg(1));
            let (Value::Date(first), Value::Date(last)) = (&start, &end) else {
                return Err(start
                    .error()
                    .or(end.error())
                    .cloned()
                    .map_or(Value::Empty, Value::Error));
            };
            if first > last {
                return fail(EvalError::InvalidArgument(
                    "DATEDIF's start is after its end",
                ));
            }
            let unit = match args[2]
                .literal_text()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("M") => Unit::Months,
                Some("Y") => Unit::Years,
                _ => Unit::Days,
            };
            number(diff(&end, &start, unit, zone)?)
        }
        Workday => {
            let Value::Date(mut date) = arg(0) else {
                return Err(arg(0).error().cloned().map_or(Value::Empty, Value::Error));
            };
            let days = need_int(arg(1))?;
            if days.abs() > WORKDAY_SPAN_MAX {
                return fail(EvalError::InvalidArgument(
                    "WORKDAY's day count is too large",
                ));
            }
            let holidays = holidays(args.get(2).map(|node| eval(node, env)))?;
            let step = if days >= 0 { 1 } else { -1 };
            let mut left = days.abs();
            while left > 0 {
                date = add_days(date, step)?;
                if is_workday(date, &holidays) {
                    left -= 1;
                }
            }
            Ok(Value::Date(date))
        }
        Networkdays => {
            let (Value::Date(start), Value::Date(end)) = (arg(0), arg(1)) else {
                return Ok(Value::Empty);
            };
            if (end - start).num_days().abs() > WORKDAY_SPAN_MAX {
                return fail(EvalError::InvalidArgument(
                    "NETWORKDAYS spans too many days",
                ));
            }
            let holidays = holidays(args.get(2).map(|node| eval(node, env)))?;
            let (low, high, sign) = if start <= end {
                (start, end, 1)
            } else {
                (end, start, -1)
            };
            let count = low
                .iter_days()
                .take_while(|day| *day <= high)
                .filter(|day| is_workday(*day, &holidays))
                .count();
            number(sign * i64::try_from(count).unwrap_or(0))
        }
        DatetimeFormat => {
            let value = arg(0);
            if let Value::Error(error) = value {
                return fail(error);
            }
            let format = if args.len() > 1 {
                Some(crate::eval::need_text(arg(1))?)
            } else {
                None
            };
            let zone = match args.get(2) {
                Some(node) => crate::eval::need_text(eval(node, env))?
                    .parse::<Tz>()
                    .map_err(|_| {
                        Value::Error(EvalError::InvalidArgument("not an IANA time zone"))
                    })?,
                None => zone,
            };
            format_value(&value, format.as_deref(), zone).map(Value::text)
        }
        DatetimeParse => {
            let text = crate::eval::need_text(arg(0))?;
            let format = if args.len() > 1 {
                Some(crate::eval::need_text(arg(1))?)
            } else {
                None
            };
            crate::datetime_format::parse(&text, format.as_deref(), zone).map(Value::DateTime)
        }
        Datevalue => match arg(0) {
            Value::Text(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| Value::Error(EvalError::InvalidDate)),
            other => Ok(Value::Date(need_local(other, zone)?.date())),
        },
        Datestr => Ok(Value::text(
            need_local(arg(0), zone)?
                .date()
                .format("%Y-%m-%d")
                .to_string(),
        )),
        Eomonth | Edate => {
            let date = need_local(arg(0), zone)?.date();
            let months = need_int(arg(1))?;
            if func == Edate {
                return add_months(date, months).map(Value::Date);
            }
            let first = date.with_day(1).ok_or(Value::Empty)?;
            let next = add_months(
                first,
                months
                    .checked_add(1)
                    .ok_or(Value::Error(EvalError::InvalidDate))?,
            )?;
            add_days(next, -1).map(Value::Date)
        }
        IsBefore | IsAfter => {
            let ordering = crate::eval::compare(&arg(0), &arg(1));
            Ok(Value::Bool(
                ordering
                    == Some(if func == IsBefore {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }),
            ))
        }
        IsSame => {
            let (a, b) = (arg(0), arg(1));
            if a.is_empty() || b.is_empty() {
                return Ok(Value::Bool(false));
            }
            let Ok(Some(unit)) = crate::typing::unit_arg(func, args, 2) else {
                return Ok(Value::Bool(crate::eval::equals(&a, &b)));
            };
            let (x, y) = (need_local(a, zone)?, need_local(b, zone)?);
            let same = match unit {
                Unit::Years => x.year() == y.year(),
                Unit::Quarters => x.year() == y.year() && x.month0() / 3 == y.month0() / 3,
                Unit::Months => (x.year(), x.month()) == (y.year(), y.month()),
                Unit::Weeks => {
                    let start = |at: NaiveDateTime| {
                        at.date() - Duration::days(i64::from(weekday(at.date(), false)))
                    };
                    start(x) == start(y)
                }
                Unit::Days => x.date() == y.date(),
                Unit::Hours => x.date() == y.date() && x.hour() == y.hour(),
                Unit::Minutes => {
                    x.date() == y.date() && (x.hour(), x.minute()) == (y.hour(), y.minute())
                }
                Unit::Seconds => {
                    x.date() == y.date()
                        && (x.hour(), x.minute(), x.second()) == (y.hour(), y.minute(), y.second())
                }
            };
            Ok(Value::Bool(same))
        }
        _ => fail(EvalError::InvalidArgument("not a date function")),
    }
}

/// A date or datetime as text with a moment.js-style format (default `YYYY-MM-DD`, or
/// `YYYY-MM-DD HH:mm` for datetimes), in `zone`.
pub(crate) fn format_value(value: &Value, format: Option<&str>, zone: Tz) -> Flow<String> {
    let at = need_local(value.clone(), zone)?;
    let default = if matches!(value, Value::DateTime(_)) {
        "YYYY-MM-DD HH:mm"
    } else {
        "YYYY-MM-DD"
    };
    let offset = match value {
        Value::DateTime(instant) => instant
            .with_timezone(&zone)
            .offset()
            .fix()
            .local_minus_utc(),
        _ => 0,
    };
    Ok(crate::datetime_format::format(
        at,
        offset,
        format.unwrap_or(default),
    ))
}
