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

impl Compiler<'_> {
    fn date_count(&mut self, node: &Node) -> Sql {
        let count = self.integer(node)?;
        Ok(if self.pg() {
            format!("(LEAST(GREATEST({count}, -{DATE_COUNT_MAX}), {DATE_COUNT_MAX}) + 0 * {count})")
        } else {
            format!("max(min({count}, {DATE_COUNT_MAX}), -{DATE_COUNT_MAX})")
        })
    }

    /// NULL unless the date `sql` is within years 1–9999.
    fn date_guard(&self, sql: &str) -> String {
        if self.pg() {
            format!(
                "(CASE WHEN {sql} BETWEEN DATE '0001-01-01' AND DATE '9999-12-31' THEN {sql} END)"
            )
        } else {
            format!(
                "(CASE WHEN length({sql}) = 10 AND {sql} BETWEEN '0001-01-01' AND '9999-12-31' THEN {sql} END)"
            )
        }
    }

    fn datetime_guard(&self, sql: &str) -> String {
        if self.pg() {
            format!(
                "(CASE WHEN {sql} >= TIMESTAMPTZ '0001-01-01 00:00:00+00' AND {sql} < TIMESTAMPTZ '10000-01-01 00:00:00+00' THEN {sql} END)"
            )
        } else {
            format!(
                "(CASE WHEN length({sql}) = 27 AND {sql} BETWEEN '0001-01-01' AND '9999-12-31T23:59:59.999999Z' THEN {sql} END)"
            )
        }
    }

    /// The calendar date (or local date-time) of a date or datetime, for the part functions.
    fn calendar(&mut self, node: &Node) -> Sql {
        match node.ty {
            Type::DateTime => self.local_datetime(node),
            _ => self.expr(node),
        }
    }

    /// `date + days` with a day count already clamped.
    fn add_days(&self, date: &str, days: &str) -> String {
        let moved = if self.pg() {
            format!("({date} + {days})")
        } else {
            format!("date({date}, ({days}) || ' days')")
        };
        self.date_guard(&moved)
    }

    fn add_months(&self, date: &str, months: &str) -> String {
        let moved = if self.pg() {
            format!("CAST({date} + make_interval(months => {months}) AS DATE)")
        } else {
            format!("date({date}, ({months}) || ' months', 'floor')")
        };
        self.date_guard(&moved)
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
                let month = self.date_count(&args[1])?;
                let day = self.date_count(&args[2])?;
                let built = if pg {
                    format!(
                        "CAST(make_date({year}, 1, 1) + make_interval(months => {month} - 1, days => {day} - 1) AS DATE)"
                    )
                } else {
                    format!(
                        "date(printf('%04d-01-01', {year}), ({month} - 1) || ' months', ({day} - 1) || ' days')"
                    )
                };
                Ok(format!(
                    "(CASE WHEN {year} BETWEEN 1 AND 9999 THEN {} END)",
                    self.date_guard(&built)
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
                        format!(
                            "({at} + make_interval(secs => CAST({count} AS BIGINT) * {seconds}))"
                        )
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
                    (false, true) => format!("(({a} - {b}) * 86400)"),
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
                let months = self.date_count(&args[1])?;
                let moved = if pg {
                    format!(
                        "CAST(make_date(CAST(extract(year from {date}) AS INTEGER), CAST(extract(month from {date}) AS INTEGER), 1) + make_interval(months => {months} + 1) - interval '1 day' AS DATE)"
                    )
                } else {
                    format!("date({date}, 'start of month', ({months} + 1) || ' months', '-1 day')")
                };
                Ok(self.date_guard(&moved))
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
