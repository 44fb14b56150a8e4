//! Cell values: what a record holds in one field, parsed and checked from the JSON a client sends.
//!
//! Inputs are forgiving where it is safe (numbers as JSON numbers or strings, one id or a list, a
//! `{"id"}` object or a bare id) and strict where data could be lost: a number with more decimals than its
//! field keeps is refused, not rounded; an unknown select choice is refused, not created.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone as _, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::apps::field::{Bounds, Choice, FieldKind};
use crate::validation::{DetailCode, Reason};
use crate::values::{Email, TimeZone};

/// Longest text a single-line field accepts, in characters.
pub const TEXT_CHARS_MAX: usize = 10_000;
/// Longest long text, in characters.
pub const LONG_TEXT_CHARS_MAX: usize = 1_000_000;
/// Most ids one multi-valued cell may hold.
pub const CELL_IDS_MAX: usize = 1000;

/// A typed, checked value. `None` (outside this type) is the empty cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// text, long text, e-mail, phone, URL, single select (the choice name), autonumber.
    Text(String),
    /// number, currency, percent (a fraction).
    Decimal(Decimal),
    /// rating, duration (seconds).
    Integer(i64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// multi select: choice names, in the order given.
    Names(Vec<String>),
    /// member, department, link, attachment: ids, in the order given.
    Ids(Vec<Uuid>),
}

/// What parsing needs besides the value: the organization's time zone for naive date-times.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    pub org_time_zone: TimeZone,
}

/// Parses one cell. `Ok(None)` is an empty cell (JSON null, "", []).
pub fn parse_cell(
    kind: &FieldKind,
    value: &Value,
    ctx: &ParseContext,
) -> Result<Option<CellValue>, Reason> {
    if is_empty(value) {
        return Ok(None);
    }
    let cell = match kind {
        FieldKind::Text {
            min_length,
            max_length,
            pattern,
        } => {
            let text = text(value, TEXT_CHARS_MAX)?;
            if text.contains(['\n', '\r']) {
                return Err(Reason::new(
                    DetailCode::LineBreak,
                    "a single-line text cannot contain line breaks; use long_text",
                ));
            }
            check_length(&text, *min_length, *max_length)?;
            if let Some(pattern) = pattern
                && !pattern.is_match(&text)
            {
                return Err(Reason::new(
                    DetailCode::PatternMismatch,
                    format!("does not match the pattern {}", pattern.as_str()),
                )
                .with("pattern", pattern.as_str()));
            }
            CellValue::Text(text)
        }
        FieldKind::LongText {
            min_length,
            max_length,
        } => {
            let text = text(value, LONG_TEXT_CHARS_MAX)?;
            check_length(&text, *min_length, *max_length)?;
            CellValue::Text(text)
        }
        FieldKind::Number { precision, bounds }
        | FieldKind::Currency {
            precision, bounds, ..
        } => CellValue::Decimal(decimal(value, *precision, bounds)?),
        FieldKind::Percent { precision, bounds } => {
            CellValue::Decimal(decimal(value, precision + 2, bounds)?)
        }
        FieldKind::Date { .. } => CellValue::Date(date(value)?),
        FieldKind::DateTime { time_zone } => {
            CellValue::DateTime(datetime(value, time_zone.unwrap_or(ctx.org_time_zone))?)
        }
        FieldKind::Duration { bounds } => {
            let seconds = duration(value)?;
            check_bounds(Decimal::from(seconds), bounds)?;
            CellValue::Integer(seconds)
        }
        FieldKind::Checkbox => match value {
            Value::Bool(flag) => CellValue::Bool(*flag),
            _ => return Err(Reason::wrong_type("boolean", "must be true or false")),
        },
        FieldKind::SingleSelect { choices } => {
            let name = text(value, TEXT_CHARS_MAX)?;
            CellValue::Text(choice(&name, choices)?)
        }
        FieldKind::MultiSelect { choices } => {
            let names = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|item| text(item, TEXT_CHARS_MAX))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => vec![text(value, TEXT_CHARS_MAX)?],
            };
            let mut checked: Vec<String> = Vec::with_capacity(names.len());
            for name in names {
                let name = choice(&name, choices)?;
                if !checked.contains(&name) {
                    checked.push(name);
                }
            }
            CellValue::Names(checked)
        }
        FieldKind::Rating { max } => {
            let out_of_range = || {
                Reason::new(
                    DetailCode::OutOfRange,
                    format!("must be a whole number from 1 to {max}"),
                )
                .with("min", 1)
                .with("max", *max)
            };
            let rating = value.as_i64().ok_or_else(out_of_range)?;
            if !(1..=*max).contains(&rating) {
                return Err(out_of_range());
            }
            CellValue::Integer(rating)
        }
        FieldKind::Email => {
            let text = text(value, 254)?;
            CellValue::Text(Email::parse(&text)?.as_str().to_owned())
        }
        FieldKind::Phone => {
            let text = text(value, 64)?;
            let ok = text.chars().filter(char::is_ascii_digit).count() >= 3
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().#*,;ext".contains(c));
            if !ok {
                return Err(Reason::format(
                    "phone",
                    "must be a phone number (digits with + - ( ) and spaces)",
                ));
            }
            CellValue::Text(text)
        }
        FieldKind::Url => {
            let text = text(value, 2048)?;
            let lower = text.to_ascii_lowercase();
            let ok = (lower.starts_with("http://") || lower.starts_with("https://"))
                && text.len() > 8
                && !text.contains(char::is_whitespace);
            if !ok {
                return Err(Reason::format(
                    "url",
                    "must be an http:// or https:// URL without spaces",
                ));
            }
            CellValue::Text(text)
        }
        FieldKind::Member { multiple } | FieldKind::Department { multiple } => {
            CellValue::Ids(ids(value, *multiple)?)
        }
        FieldKind::Link { multiple, .. } => CellValue::Ids(ids(value, *multiple)?),
        FieldKind::Attachment { .. } => CellValue::Ids(ids(value, true)?),
        FieldKind::Autonumber { .. }
        | FieldKind::CreatedTime { .. }
        | FieldKind::CreatedBy
        | FieldKind::ModifiedTime { .. }
        | FieldKind::ModifiedBy
        | FieldKind::Formula { .. }
        | FieldKind::Lookup { .. }
        | FieldKind::Rollup { .. }
        | FieldKind::Count { .. } => {
            return Err(Reason::new(
                DetailCode::ReadOnly,
                "is computed by Tenon and cannot be written",
            ));
        }
    };
    Ok(Some(cell))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn text(value: &Value, max_chars: usize) -> Result<String, Reason> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err(Reason::wrong_type("string", "must be a string")),
    };
    if text.chars().count() > max_chars {
        return Err(Reason::too_long(max_chars));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Reason::control_characters());
    }
    Ok(text)
}

fn check_length(text: &str, min: Option<u32>, max: Option<u32>) -> Result<(), Reason> {
    let n_chars = text.chars().count();
    if let Some(min) = min
        && n_chars < min as usize
    {
        return Err(Reason::too_short(min as usize));
    }
    if let Some(max) = max
        && n_chars > max as usize
    {
        return Err(Reason::too_long(max as usize));
    }
    Ok(())
}

/// The largest scaled value SQLite's 64-bit integers hold, so every stored number fits both backends.
fn fits_storage(value: Decimal, scale: u32) -> bool {
    let factor = Decimal::from_i128_with_scale(10_i128.pow(scale), 0);
    value
        .checked_mul(factor)
        .is_some_and(|scaled| scaled.abs() <= Decimal::from(i64::MAX))
}

/// A decimal with at most `scale` decimals (more are refused, never rounded away).
pub fn decimal(value: &Value, scale: u32, bounds: &Bounds) -> Result<Decimal, Reason> {
    let parsed = match value {
        Value::Number(number) => number.to_string().parse::<Decimal>().ok(),
        Value::String(text) => text.trim().parse::<Decimal>().ok(),
        _ => None,
    };
    let number = parsed.ok_or_else(|| {
        Reason::format(
            "number",
            "must be a number (a JSON number or a decimal string)",
        )
    })?;
    let number = number.normalize();
    if number.scale() > scale {
        return Err(Reason::new(
            DetailCode::TooPrecise,
            format!("has {} decimals; this field keeps {scale}", number.scale()),
        )
        .with("scale", scale));
    }
    if !fits_storage(number, scale) {
        return Err(
            Reason::new(DetailCode::TooLarge, "is too large for this field")
                .with("max", "99999999999999999999999999"),
        );
    }
    check_bounds(number, bounds)?;
    Ok(number)
}

fn check_bounds(value: Decimal, bounds: &Bounds) -> Result<(), Reason> {
    if let Some(min) = bounds.min
        && value < min
    {
        return Err(Reason::new(
            DetailCode::TooSmall,
            format!("must be at least {}", min.normalize()),
        )
        .with("min", min.normalize().to_string()));
    }
    if let Some(max) = bounds.max
        && value > max
    {
        return Err(Reason::new(
            DetailCode::TooLarge,
            format!("must be at most {}", max.normalize()),
        )
        .with("max", max.normalize().to_string()));
    }
    Ok(())
}

fn date(value: &Value) -> Result<NaiveDate, Reason> {
    let text = value
        .as_str()
        .ok_or_else(|| Reason::format("date", "must be a date string YYYY-MM-DD"))?;
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Reason::format("date", format!("\"{text}\" is not a date YYYY-MM-DD")))?;
    check_year(date)?;
    Ok(date)
}

fn check_year(date: NaiveDate) -> Result<(), Reason> {
    use chrono::Datelike;
    if (1..=9999).contains(&date.year()) {
        Ok(())
    } else {
        Err(Reason::new(
            DetailCode::OutOfRange,
            "the year must be between 1 and 9999",
        )
        .with("min", "0001-01-01")
        .with("max", "9999-12-31"))
    }
}

/// RFC 3339 with an offset, or a local date-time (`2026-11-24T08:00`, `2026-11-24 08:00:00`) in `tz`.
pub fn datetime(value: &Value, tz: TimeZone) -> Result<DateTime<Utc>, Reason> {
    let text = value
        .as_str()
        .ok_or_else(|| Reason::format("date_time", "must be a date-time string"))?
        .trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        check_year(parsed.date_naive())?;
        return Ok(truncate_micros(parsed.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            check_year(naive.date())?;
            let local = tz
                .tz()
                .from_local_datetime(&naive)
                .earliest()
                .ok_or_else(|| {
                    Reason::format(
                        "date_time",
                        format!(
                            "\"{text}\" does not exist in {} (a daylight-saving gap)",
                            tz.name()
                        ),
                    )
                })?;
            return Ok(truncate_micros(local.with_timezone(&Utc)));
        }
    }
    Err(Reason::format(
        "date_time",
        format!("\"{text}\" is not a date-time; use RFC 3339 such as 2026-11-24T08:00:00+08:00"),
    ))
}

fn truncate_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = time.timestamp_subsec_nanos();
    time - chrono::TimeDelta::nanoseconds(i64::from(nanos % 1000))
}

/// Seconds, from a JSON number or `h:mm` / `h:mm:ss`.
fn duration(value: &Value) -> Result<i64, Reason> {
    if let Some(seconds) = value.as_i64() {
        return Ok(seconds);
    }
    let bad = || Reason::format("duration", "must be whole seconds or a duration h:mm[:ss]");
    let text = value.as_str().ok_or_else(bad)?;
    let parts: Vec<&str> = text.trim().split(':').collect();
    let numbers: Vec<i64> = parts
        .iter()
        .map(|part| part.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    match numbers.as_slice() {
        [h, m] if (0..60).contains(m) && *h >= 0 => Ok(h * 3600 + m * 60),
        [h, m, s] if (0..60).contains(m) && (0..60).contains(s) && *h >= 0 => {
            Ok(h * 3600 + m * 60 + s)
        }
        _ => Err(bad()),
    }
}

/// Typecast of a select value: the choice named exactly `text`, or else the one whose name begins with
/// `text` and a space (`"缺勤"` → `"缺勤 Absent"`). Several such choices is `ambiguous` (listing them);
/// none is `unknown_choice` (listing every choice).
pub fn cast_choice(text: &str, choices: &[Choice]) -> Result<String, Reason> {
    let text = text.trim();
    if let Some(exact) = choices.iter().find(|choice| choice.name == text) {
        return Ok(exact.name.clone());
    }
    let candidates: Vec<&str> = choices
        .iter()
        .map(|choice| choice.name.as_str())
        .filter(|name| {
            !text.is_empty()
                && name
                    .strip_prefix(text)
                    .is_some_and(|rest| rest.starts_with(' '))
        })
        .collect();
    match candidates.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => choice(text, choices),
        several => Err(ambiguous(
            text,
            several.iter().map(|name| (*name).to_owned()).collect(),
        )),
    }
}

/// `ambiguous`: `value` matches each of `candidates` (choice names, or ids of records, members or
/// departments).
pub fn ambiguous(value: &str, candidates: Vec<String>) -> Reason {
    Reason::new(
        DetailCode::Ambiguous,
        format!(
            "\"{value}\" matches several: {}; give one exactly (or its id)",
            candidates.join(", ")
        ),
    )
    .with("value", value)
    .with("candidates", candidates)
}

fn choice(name: &str, choices: &[Choice]) -> Result<String, Reason> {
    let name = name.trim();
    choices
        .iter()
        .find(|choice| choice.name == name)
        .map(|choice| choice.name.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = choices
                .iter()
                .take(20)
                .map(|choice| choice.name.as_str())
                .collect();
            Reason::new(
                DetailCode::UnknownChoice,
                format!("\"{name}\" is not one of the choices: {}", names.join(", ")),
            )
            .with("value", name)
            .with("choices", names)
        })
}

fn ids(value: &Value, multiple: bool) -> Result<Vec<Uuid>, Reason> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if items.len() > CELL_IDS_MAX {
        return Err(Reason::too_many(
            CELL_IDS_MAX,
            format!("at most {CELL_IDS_MAX} ids"),
        ));
    }
    if !multiple && items.len() > 1 {
        return Err(Reason::too_many(
            1,
            "takes one id; this field does not allow several",
        ));
    }
    let mut ids: Vec<Uuid> = Vec::with_capacity(items.len());
    for item in items {
        let text = match item {
            Value::String(text) => text.as_str(),
            Value::Object(object) => object.get("id").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        };
        let id = Uuid::parse_str(text)
            .ok()
            .filter(|_| text.len() == 36)
            .ok_or_else(|| {
                Reason::format(
                    "id",
                    format!("{item} is not an id (give ids as strings, or objects with an \"id\")"),
                )
            })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apps::field::{FieldType, parse_kind};

    fn kind(field_type: &str, options: Value) -> FieldKind {
        parse_kind(
            FieldType::parse(field_type).unwrap(),
            options.as_object().unwrap(),
            "options",
        )
        .unwrap()
    }

    fn parse(kind: &FieldKind, value: Value) -> Result<Option<CellValue>, Reason> {
        parse_cell(
            kind,
            &value,
            &ParseContext {
                org_time_zone: TimeZone::SHANGHAI,
            },
        )
    }

    #[test]
    fn numbers_keep_every_digit_and_refuse_extra_decimals() {
        let currency = kind("currency", json!({"currency": "CNY"}));
        assert_eq!(
            parse(&currency, json!("12.50")).unwrap(),
            Some(CellValue::Decimal("12.5".parse().unwrap()))
        );
        assert_eq!(
            parse(&currency, json!(3)).unwrap(),
            Some(CellValue::Decimal(3.into()))
        );
        assert!(
            parse(&currency, json!("12.505"))
                .unwrap_err()
                .message
                .contains("3 decimals")
        );
        assert!(parse(&currency, json!("twelve")).is_err());
        assert!(
            parse(&currency, json!("99999999999999999.99"))
                .unwrap_err()
                .message
                .contains("too large")
        );
        let percent = kind("percent", json!({"precision": 1}));
        assert_eq!(
            parse(&percent, json!("0.065")).unwrap(),
            Some(CellValue::Decimal("0.065".parse().unwrap()))
        );
        assert!(parse(&percent, json!("0.0655")).is_err());
        let refused = parse(&currency, json!("12.505")).unwrap_err();
        assert_eq!(
            (refused.code, refused.params["scale"].clone()),
            (DetailCode::TooPrecise, json!(2))
        );
        let bounded = kind("number", json!({"min": 1, "max": "10"}));
        let refused = parse(&bounded, json!(11)).unwrap_err();
        assert_eq!(
            (refused.code, refused.params["max"].clone()),
            (DetailCode::TooLarge, json!("10"))
        );
        assert!(
            parse(&bounded, json!(0))
                .unwrap_err()
                .message
                .contains("at least 1")
        );
        assert!(
            parse(&bounded, json!(11))
                .unwrap_err()
                .message
                .contains("at most 10")
        );
    }

    #[test]
    fn datetimes_without_offset_are_read_in_the_fields_or_organizations_time_zone() {
        let field = kind("datetime", json!({}));
        let parsed = parse(&field, json!("2026-11-24 08:00")).unwrap();
        assert_eq!(
            parsed,
            Some(CellValue::DateTime("2026-11-24T00:00:00Z".parse().unwrap()))
        );
        let oslo = kind("datetime", json!({"time_zone": "Europe/Oslo"}));
        let parsed = parse(&oslo, json!("2026-11-24T08:00")).unwrap();
        assert_eq!(
            parsed,
            Some(CellValue::DateTime("2026-11-24T07:00:00Z".parse().unwrap()))
        );
        let explicit = parse(&oslo, json!("2026-11-24T08:00:00+08:00")).unwrap();
        assert_eq!(
            explicit,
            Some(CellValue::DateTime("2026-11-24T00:00:00Z".parse().unwrap()))
        );
        assert!(parse(&field, json!("tomorrow")).is_err());
        assert!(parse(&kind("date", json!({})), json!("2026-02-30")).is_err());
    }

    #[test]
    fn selects_accept_only_their_choices_and_computed_fields_refuse_input() {
        let select = kind(
            "multi_select",
            json!({"choices": [{"name": "booked"}, "free"]}),
        );
        assert_eq!(
            parse(&select, json!(["free", "booked", "free"])).unwrap(),
            Some(CellValue::Names(vec!["free".into(), "booked".into()]))
        );
        assert!(
            parse(&select, json!(["gone"]))
                .unwrap_err()
                .message
                .contains("not one of the choices")
        );
        let refused = parse(&select, json!(["gone"])).unwrap_err();
        assert_eq!(refused.code, DetailCode::UnknownChoice);
        assert_eq!(refused.params["value"], json!("gone"));
        assert_eq!(refused.params["choices"], json!(["booked", "free"]));
        assert!(parse(&kind("autonumber", json!({})), json!("ZS-1")).is_err());
        assert_eq!(
            parse(&kind("autonumber", json!({})), json!("ZS-1"))
                .unwrap_err()
                .code,
            DetailCode::ReadOnly
        );
        assert_eq!(parse(&kind("text", json!({})), json!("")).unwrap(), None);
        assert!(parse(&kind("text", json!({})), json!("a\nb")).is_err());
        let single = kind("member", json!({}));
        let id = Uuid::now_v7();
        assert_eq!(
            parse(&single, json!([{"id": id.to_string()}])).unwrap(),
            Some(CellValue::Ids(vec![id]))
        );
        assert!(parse(&single, json!([id.to_string(), Uuid::now_v7().to_string()])).is_err());
    }

    #[test]
    fn unknown_options_are_named() {
        let error = parse_kind(
            FieldType::Number,
            json!({"precision": 2, "scale": 3}).as_object().unwrap(),
            "options",
        );
        match error {
            Err(crate::apps::field::SpecError::UnknownOptions { names, .. }) => {
                assert_eq!(names, ["scale"])
            }
            other => panic!("expected unknown options, got {other:?}"),
        }
    }
}
