//! Date and time functions in SQL. Dates are `'YYYY-MM-DD'` text (SQLite) or `DATE`; datetimes are
//! fixed-width UTC text or `TIMESTAMPTZ`. Calendar parts of datetimes are read in the organization's time
//! zone (see `tz`). Results outside years 1–9999 are NULL, as the evaluator makes them errors.

use super::{Compiler, Sql, not_compilable};
use crate::functions::Func;
use crate::ir::{Node, Unit};
use crate::schema::Type;

/// Day, week and month counts are clamped to this before date arithmetic (any larger count leaves the
/// supported years anyway), so PostgreSQL never raises "out of range".
const DATE_COUNT_MAX: i64 = 4_000_000;

/// Month counts are clamped to 10,000 years, beyond which every result leaves years 1–9999.
const MONTH_COUNT_MAX: i64 = 120_000;
/// Seconds are clamped to 10,000 years too.
const SECOND_COUNT_MAX: i64 = 315_569_520_000;
/// PostgreSQL date arithmetic runs 16,000 years (40 Gregorian cycles of 146,097 days) in the future, where
/// no intermediate can fall before 4713 BC; the calendar there is identical.
const SHIFT_YEARS: i64 = 16_000;
const SHIFT_DAYS: i64 = 40 * 146_097;
const SHIFT_SECONDS: i64 = SHIFT_DAYS * 86_400;

impl Compiler<'_> {
    /// `count` limited to ±`max`, NULL staying NULL.
    fn clamp(&self, count: &str, max: i64) -> String {
        if self.pg() {
            format!("(LEAST(GREATEST({count}, -{max}), {max}) + 0 * {count})")
        } else {
            format!("max(min({count}, {max}), -{max})")
        }
    }

    fn date_count(&mut self, node: &Node) -> Sql {
        let count = self.integer(node)?;
        Ok(self.clamp(&count, DATE_COUNT_MAX))
    }

    /// NULL unless the date `sql` is within years 1–9999. Written with `sql` once (no CASE), so nested
    /// date arithmetic does not multiply the SQL text.
    fn date_guard(&self, sql: &str) -> String {
        if self.pg() {
            Self::pg_date_in_range(sql, 0)
        } else {
            // SQLite's date functions give NULL past 9999 and '0000-…' for year 0.
            format!("NULLIF(max({sql}, '0000-12-31'), '0000-12-31')")
        }
    }

    fn datetime_guard(&self, sql: &str) -> String {
        if self.pg() {
            Self::pg_instant_in_range(sql, 0)
        } else {
            format!(
                "NULLIF(max({sql}, '0000-12-31T23:59:59.999999Z'), '0000-12-31T23:59:59.999999Z')"
            )
        }
    }

    /// PostgreSQL: the date `shifted` (a date `shift_days` later than meant) moved back, or NULL when that is
    /// outside years 1–9999. LEAST/GREATEST pin out-of-range values (and NULL) to sentinels one day outside
    /// the range, which NULLIF then empties — no value reaches PostgreSQL's own limits, which would raise.
    fn pg_date_in_range(shifted: &str, shift_days: i64) -> String {
        let low = format!("(DATE '0001-01-01' + {})", shift_days - 1);
        let high = format!("(DATE '9999-12-31' + {})", shift_days + 1);
        format!(
            "NULLIF(NULLIF(GREATEST(LEAST({shifted}, {high}), {low}) - {shift_days}, DATE '0001-01-01' - 1), DATE '9999-12-31' + 1)"
        )
    }

    /// PostgreSQL: as [`Self::pg_date_in_range`] for an instant shifted by `shift_seconds`.
    fn pg_instant_in_range(shifted: &str, shift_seconds: i64) -> String {
        let low = format!(
            "(TIMESTAMPTZ '0001-01-01 00:00:00+00' + make_interval(secs => {shift_seconds}) - interval '1 microsecond')"
        );
        let high = format!(
            "(TIMESTAMPTZ '9999-12-31 00:00:00+00' + make_interval(secs => {}))",
            shift_seconds + 86_400
        );
        format!(
            "NULLIF(NULLIF(GREATEST(LEAST({shifted}, {high}), {low}) - make_interval(secs => {shift_seconds}), TIMESTAMPTZ '0001-01-01 00:00:00+00' - interval '1 microsecond'), TIMESTAMPTZ '10000-01-01 00:00:00+00')"
        )
    }

    /// The calendar date (or local date-time) of a date or datetime, for the part functions.
    fn calendar(&mut self, node: &Node) -> Sql {
        match node.ty {
            Type::DateTime => self.local_datetime(node),
            _ => self.expr(node),
        }
    }

    /// `date + days` (a date; `days` an integer, already clamped to ±[`DATE_COUNT_MAX`]).
    fn add_days(&self, date: &str, days: &str) -> String {
        if self.pg() {
            // PostgreSQL raises an error for dates before 4713 BC: compute 16,000 years later (a whole
            // number of 400-year cycles, so the calendar is the same) and move back in range or to NULL.
            return Self::pg_date_in_range(
                &format!("({date} + {SHIFT_DAYS} + {days})"),
                SHIFT_DAYS,
            );
        }
        self.date_guard(&format!("date({date}, ({days}) || ' days')"))
    }

    /// `date + months`, the day clamped to the month's end.
    fn add_months(&self, date: &str, months: &str) -> String {
        let months = self.clamp(months, MONTH_COUNT_MAX);
        if self.pg() {
            let shifted = format!(
                "CAST({date} + make_interval(months => {} + {months}) AS DATE)",
                SHIFT_YEARS * 12
            );
            return Self::pg_date_in_range(&shifted, SHIFT_DAYS);
        }
        self.date_guard(&format!("date({date}, ({months}) || ' months', 'floor')"))
    }

    pub(super) fn date_arith(&mut self, func: Func, node: &Node, args: &[Node]) -> Sql {
        if args[0].ty == Type::Date && args[1].ty == Type::Date {
            let a = self.expr(&args[0])?;
            let b = self.expr(&args[1])?;
            return Ok(if self.pg() {
                format!("CAST({a} - {b} AS NUMERIC)")
            } else {
                format!("CAST(julianday({a}) - julianday({b}) AS INTEGER)")
            });
        }
        let (date_node, count_node) = if args[0].ty == Type::Date {
            (&args[0], &args[1])
        } else {
            (&args[1], &args[0])
        };
        if date_node.ty != Type::Date {
            return not_compilable(node, "date arithmetic on an empty value");
        }
        let date = self.expr(date_node)?;
        let count = self.date_count(count_node)?;
        let count = if func == Func::Sub {
            format!("(-{count})")
        } else {
            count
        };
        Ok(self.add_days(&date, &count))
    }

    pub(super) fn date_call(&mut self, func: Func, node: &Node, args: &[Node]) -> Sql {
        use Func::*;
        let pg = self.pg();
        if args.first().is_some_and(|arg| arg.ty == Type::Blank) {
            return Ok(self.null(&node.ty));
        }
        match func {
            Today => Ok(self.bind_text(self.ctx.today().format("%Y-%m-%d").to_string(), "DATE")),
            Now => Ok(self.bind_text(
                self.ctx.now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "TIMESTAMPTZ",
            )),
            Date => {
                let year = self.integer(&args[0])?;
                let month = self.integer(&args[1])?;
                let day = self.date_count(&args[2])?;
                let built = if pg {
                    let first = format!("make_date({year}, 1, 1)");
                    let month_of_year = self.add_months(&first, &format!("({month} - 1)"));
                    self.add_days(&month_of_year, &format!("({day} - 1)"))
                } else {
                    let month = self.clamp(&month, MONTH_COUNT_MAX);
                    format!(
                        "date(printf('%04d-01-01', {year}), ({month} - 1) || ' months', ({day} - 1) || ' days')"
                    )
                };
                let built = if pg { built } else { self.date_guard(&built) };
                Ok(format!(
                    "(CASE WHEN {year} BETWEEN 1 AND 9999 THEN {built} END)"
                ))
            }
            Year | Month | Day | Hour | Minute | Second => {
                let at = self.calendar(&args[0])?;
                Ok(if pg {
                    let field = match func {
                        Year => "year",
                        Month => "month",
                        Day => "day",
                        Hour => "hour",
                        Minute => "minute",
                        _ => "second",
                    };
                    format!("floor(extract({field} from {at}))")
                } else {
                    let (start, length) = match func {
                        Year => (1, 4),
                        Month => (6, 2),
                        Day => (9, 2),
                        Hour => (12, 2),
                        Minute => (15, 2),
                        _ => (18, 2),
                    };
                    format!("CAST(substr({at}, {start}, {length}) AS INTEGER)")
                })
            }
            Weekday | Weeknum => {
                let monday = crate::typing::monday_start(func, args, 1).unwrap_or(false);
                let at = self.calendar(&args[0])?;
                let weekday = |sql: &str, pg: bool| {
                    let sunday = if pg {
                        format!("extract(dow from {sql})")
                    } else {
                        format!("CAST(strftime('%w', {sql}) AS INTEGER)")
                    };
                    if monday {
                        format!("(({sunday} + 6) % 7)")
                    } else {
                        sunday
                    }
                };
                if func == Weekday {
                    return Ok(self.numeric_of_integer(weekday(&at, pg)));
                }
                Ok(if pg {
                    let first =
                        format!("make_date(CAST(extract(year from {at}) AS INTEGER), 1, 1)");
                    format!(
                        "(div(extract(doy from {at}) - 1 + {}, 7) + 1)",
                        weekday(&first, true)
                    )
                } else {
                    let first = format!("date({at}, 'start of year')");
                    format!(
                        "((CAST(strftime('%j', {at}) AS INTEGER) - 1 + {}) / 7 + 1)",
                        weekday(&first, false)
                    )
                })
            }
            DateAdd | Edate => {
                let unit = if func == Edate {
                    Unit::Months
                } else {
                    crate::typing::unit_arg(func, args, 2)
                        .ok()
                        .flatten()
                        .unwrap_or(Unit::Days)
                };
                let count = self.date_count(&args[1])?;
                if args[0].ty == Type::DateTime && func == DateAdd {
                    let seconds = match unit {
                        Unit::Weeks => 604_800,
                        Unit::Days => 86_400,
                        Unit::Hours => 3_600,
                        Unit::Minutes => 60,
                        Unit::Seconds => 1,
                        _ => {
                            return not_compilable(
                                node,
                                "adding months or years to a datetime is evaluated in Rust (local calendar rules)",
                            );
                        }
                    };
                    let at = self.expr(&args[0])?;
                    let moved = if pg {
                        let shift = self.clamp(
                            &format!("(CAST({count} AS BIGINT) * {seconds})"),
                            SECOND_COUNT_MAX,
                        );
                        let shifted =
                            format!("({at} + make_interval(secs => {SHIFT_SECONDS} + {shift}))");
                        return Ok(Self::pg_instant_in_range(&shifted, SHIFT_SECONDS));
                    } else {
                        format!(
                            "(strftime('%Y-%m-%dT%H:%M:%S', substr({at}, 1, 19), ({count} * {seconds}) || ' seconds') || substr({at}, 20))"
                        )
                    };
                    return Ok(self.datetime_guard(&moved));
                }
                let date = if args[0].ty == Type::DateTime {
                    self.date_of(&args[0])?
                } else {
                    self.expr(&args[0])?
                };
                Ok(match unit {
                    Unit::Years => self.add_months(&date, &format!("({count} * 12)")),
                    Unit::Quarters => self.add_months(&date, &format!("({count} * 3)")),
                    Unit::Months => self.add_months(&date, &count),
                    Unit::Weeks => self.add_days(&date, &format!("({count} * 7)")),
                    _ => self.add_days(&date, &count),
                })
            }
            DatetimeDiff | Datedif => {
                let unit = if func == Datedif {
                    match args[2]
                        .literal_text()
                        .map(str::to_ascii_uppercase)
                        .as_deref()
                    {
                        Some("D") => Unit::Days,
                        _ => {
                            return not_compilable(
                                node,
                                "DATEDIF in months or years is evaluated in Rust",
                            );
                        }
                    }
                } else {
                    crate::typing::unit_arg(func, args, 2)
                        .ok()
                        .flatten()
                        .unwrap_or(Unit::Seconds)
                };
                if matches!(unit, Unit::Months | Unit::Quarters | Unit::Years) {
                    return not_compilable(
                        node,
                        "differences in months, quarters or years are evaluated in Rust",
                    );
                }
                let (later, earlier) = if func == Datedif {
                    (&args[1], &args[0])
                } else {
                    (&args[0], &args[1])
                };
                let a = self.expr(later)?;
                let b = self.expr(earlier)?;
                let divisor = match unit {
                    Unit::Minutes => 60,
                    Unit::Hours => 3_600,
                    Unit::Days => 86_400,
                    Unit::Weeks => 604_800,
                    _ => 1,
                };
                let seconds = match (later.ty == Type::DateTime, pg) {
                    (false, true) => format!("(CAST({a} - {b} AS NUMERIC) * 86400)"),
                    (false, false) => {
                        format!("(CAST(julianday({a}) - julianday({b}) AS INTEGER) * 86400)")
                    }
                    (true, true) => {
                        format!("trunc(extract(epoch from {a}) - extract(epoch from {b}))")
                    }
                    (true, false) => format!(
                        "(((unixepoch(substr({a}, 1, 19)) - unixepoch(substr({b}, 1, 19))) * 1000000 + CAST(substr({a}, 21, 6) AS INTEGER) - CAST(substr({b}, 21, 6) AS INTEGER)) / 1000000)"
                    ),
                };
                let value = if divisor == 1 {
                    seconds
                } else if pg {
                    format!("div({seconds}, {divisor})")
                } else {
                    format!("({seconds} / {divisor})")
                };
                let value = self.numeric_of_integer(value);
                Ok(if func == Datedif {
                    format!("(CASE WHEN {b} <= {a} THEN {value} END)")
                } else {
                    value
                })
            }
            Datevalue => match args[0].ty {
                Type::Date => self.expr(&args[0]),
                Type::DateTime => self.date_of(&args[0]),
                _ => not_compilable(node, "reading a date from text is evaluated in Rust"),
            },
            Datestr => {
                let date = if args[0].ty == Type::DateTime {
                    self.date_of(&args[0])?
                } else {
                    self.expr(&args[0])?
                };
                Ok(if pg {
                    format!("to_char({date}, 'YYYY-MM-DD')")
                } else {
                    date
                })
            }
            Eomonth => {
                let date = if args[0].ty == Type::DateTime {
                    self.date_of(&args[0])?
                } else {
                    self.expr(&args[0])?
                };
                let months = self.integer(&args[1])?;
                if pg {
                    let first =
                        format!("CAST(date_trunc('month', CAST({date} AS TIMESTAMP)) AS DATE)");
                    let next = self.add_months(&first, &format!("({months} + 1)"));
                    return Ok(self.add_days(&next, "-1"));
                }
                let months = self.clamp(&months, MONTH_COUNT_MAX);
                Ok(self.date_guard(&format!(
                    "date({date}, 'start of month', ({months} + 1) || ' months', '-1 day')"
                )))
            }
            _ => not_compilable(node, "not a date function"),
        }
    }

    /// The local date of a datetime.
    fn date_of(&mut self, node: &Node) -> Sql {
        let local = self.local_datetime(node)?;
        Ok(if self.pg() {
            format!("CAST({local} AS DATE)")
        } else {
            format!("substr({local}, 1, 10)")
        })
    }
}
