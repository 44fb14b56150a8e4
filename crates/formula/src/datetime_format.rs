//! moment.js-style date formats (the tokens Airtable documents) for DATETIME_FORMAT, TEXT and
//! DATETIME_PARSE. Text in `[brackets]` is copied as is.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::eval::Flow;
use crate::value::{EvalError, Value};

/// Tokens, longest first so that `YYYY` wins over `YY`.
const TOKENS: &[&str] = &[
    "YYYY", "YY", "MMMM", "MMM", "MM", "M", "DDDD", "DD", "Do", "D", "dddd", "ddd", "d", "HH", "H",
    "hh", "h", "mm", "m", "ss", "s", "SSS", "A", "a", "ZZ", "Z", "X", "x", "Q", "E",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

enum Piece<'a> {
    Token(&'static str),
    Literal(&'a str),
}

fn pieces(format: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = format;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            out.push(Piece::Literal(&inner[..end]));
            rest = inner.get(end + 1..).unwrap_or("");
        } else if let Some(token) = TOKENS.iter().find(|token| rest.starts_with(**token)) {
            out.push(Piece::Token(token));
            rest = &rest[token.len()..];
        } else {
            let width = rest.chars().next().map_or(1, char::len_utf8);
            out.push(Piece::Literal(&rest[..width]));
            rest = &rest[width..];
        }
    }
    out
}

fn ordinal(day: u32) -> String {
    let suffix = match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

/// Formats a local date-time; `offset_seconds` is the zone's offset for `Z`/`ZZ`.
pub(crate) fn format(at: NaiveDateTime, offset_seconds: i32, format: &str) -> String {
    let mut out = String::new();
    let hour12 = match at.hour() % 12 {
        0 => 12,
        other => other,
    };
    for piece in pieces(format) {
        let token = match piece {
            Piece::Literal(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Token(token) => token,
        };
        let weekday = at.weekday().num_days_from_sunday() as usize;
        let text = match token {
            "YYYY" => format!("{:04}", at.year()),
            "YY" => format!("{:02}", at.year().rem_euclid(100)),
            "MMMM" => MONTHS[at.month0() as usize].to_owned(),
            "MMM" => MONTHS[at.month0() as usize][..3].to_owned(),
            "MM" => format!("{:02}", at.month()),
            "M" => at.month().to_string(),
            "DDDD" => format!("{:03}", at.ordinal()),
            "DD" => format!("{:02}", at.day()),
            "Do" => ordinal(at.day()),
            "D" => at.day().to_string(),
            "dddd" => WEEKDAYS[weekday].to_owned(),
            "ddd" => WEEKDAYS[weekday][..3].to_owned(),
            "d" => weekday.to_string(),
            "E" => (at.weekday().num_days_from_monday() + 1).to_string(),
            "HH" => format!("{:02}", at.hour()),
            "H" => at.hour().to_string(),
            "hh" => format!("{hour12:02}"),
            "h" => hour12.to_string(),
            "mm" => format!("{:02}", at.minute()),
            "m" => at.minute().to_string(),
            "ss" => format!("{:02}", at.second()),
            "s" => at.second().to_string(),
            "SSS" => format!("{:03}", at.nanosecond() / 1_000_000),
            "A" => if at.hour() < 12 { "AM" } else { "PM" }.to_owned(),
            "a" => if at.hour() < 12 { "am" } else { "pm" }.to_owned(),
            "Z" | "ZZ" => {
                let sign = if offset_seconds < 0 { '-' } else { '+' };
                let minutes = offset_seconds.unsigned_abs() / 60;
                let separator = if token == "Z" { ":" } else { "" };
                format!("{sign}{:02}{separator}{:02}", minutes / 60, minutes % 60)
            }
            "X" => (at.and_utc().timestamp() - i64::from(offset_seconds)).to_string(),
            "x" => (at.and_utc().timestamp_millis() - i64::from(offset_seconds) * 1000).to_string(),
            "Q" => (at.month0() / 3 + 1).to_string(),
            _ => String::new(),
        };
        out.push_str(&text);
    }
    out
}

/// The chrono pattern for a moment-style format, for parsing.
fn chrono_pattern(format: &str) -> Option<String> {
    let mut out = String::new();
    for piece in pieces(format) {
        match piece {
            Piece::Literal(text) => out.push_str(&text.replace('%', "%%")),
            Piece::Token(token) => out.push_str(match token {
                "YYYY" => "%Y",
                "YY" => "%y",
                "MMMM" => "%B",
                "MMM" => "%b",
                "MM" | "M" => "%m",
                "DD" | "D" => "%d",
                "HH" | "H" => "%H",
                "hh" | "h" => "%I",
                "mm" | "m" => "%M",
                "ss" | "s" => "%S",
                "A" | "a" => "%p",
                "Z" | "ZZ" => "%z",
                _ => return None,
            }),
        }
    }
    Some(out)
}

fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Flow<DateTime<Utc>> {
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|instant| instant.with_timezone(&Utc))
        .ok_or(Value::Error(EvalError::InvalidDate))
}

/// Reads a datetime: ISO 8601 (with or without an offset) or the given moment-style format; times without
/// an offset are in `zone`, dates alone are local midnight.
pub(crate) fn parse(text: &str, format: Option<&str>, zone: Tz) -> Flow<DateTime<Utc>> {
    let text = text.trim();
    let invalid = || Value::Error(EvalError::InvalidDate);
    if let Some(format) = format {
        let pattern = chrono_pattern(format).ok_or_else(invalid)?;
        if let Ok(instant) = DateTime::parse_from_str(text, &pattern) {
            return Ok(instant.with_timezone(&Utc));
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, &pattern) {
            return local_to_utc(naive, zone);
        }
        let date = NaiveDate::parse_from_str(text, &pattern).map_err(|_| invalid())?;
        return local_to_utc(date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?, zone);
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, pattern) {
            return local_to_utc(naive, zone);
        }
    }
    for pattern in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, pattern) {
            return local_to_utc(date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?, zone);
        }
    }
    Err(invalid())
}
