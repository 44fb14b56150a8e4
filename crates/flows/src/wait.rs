//! The `wait` step: how long, and until when.
//!
//! `for` is a duration — `90s`, `5m`, `1h30m`, `3d`, `2w` (units `s`, `m`, `h`, `d`, `w`, in any
//! combination), or ISO 8601 (`PT1H`, `P3D`, `P1DT12H`). `until` is a formula giving a date (the run wakes
//! at 00:00 of that date in the wait's zone, or at the wall time `at`) or an instant. A wall time that
//! does not exist on that date (the spring-forward gap) wakes at the gap's end; one that happens twice
//! (the autumn fold) at its first occurrence. The instant is computed once, when the step first runs, and
//! journaled: later changes of what the formula reads do not move it.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone as _, Timelike, Utc};
use tenon_model::TimeZone;
use tenon_model::apps::formula;

/// The longest a `wait` may last (`for`): ten years.
pub const WAIT_MAX: Duration = Duration::days(3653);

/// Parses a `for` duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "\"{text}\" is not a duration: write e.g. 90s, 5m, 1h30m, 3d, 2w or ISO 8601 PT1H, P3D"
        )
    };
    let total = if let Some(iso) = text.strip_prefix('P').or_else(|| text.strip_prefix('p')) {
        iso_duration(iso).ok_or_else(invalid)?
    } else {
        units(text, false).ok_or_else(invalid)?
    };
    if total <= Duration::zero() {
        return Err(format!("\"{text}\": a wait lasts longer than nothing"));
    }
    if total > WAIT_MAX {
        return Err(format!("\"{text}\": a wait lasts at most ten years"));
    }
    Ok(total)
}

/// `1h30m` (`minutes_as_m` false) or the time part of ISO 8601.
fn units(text: &str, iso_time: bool) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if c == ' ' && number.is_empty() {
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        let unit = match (c.to_ascii_lowercase(), iso_time) {
            ('s', _) => Duration::try_seconds(n)?,
            ('m', _) => Duration::try_minutes(n)?,
            ('h', _) => Duration::try_hours(n)?,
            ('d', false) => Duration::try_days(n)?,
            ('w', false) => Duration::try_weeks(n)?,
            _ => return None,
        };
        total = total.checked_add(&unit)?;
        any = true;
    }
    (number.is_empty() && any).then_some(total)
}

/// ISO 8601 after the `P`: `[nW][nD][T[nH][nM][nS]]`.
fn iso_duration(text: &str) -> Option<Duration> {
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut total = Duration::zero();
    if !date.is_empty() {
        total = total.checked_add(&units(date, false)?)?;
        if date.to_ascii_lowercase().contains(['h', 's']) || date.contains('m') {
            return None;
        }
    }
    if let Some(time) = time {
        total = total.checked_add(&units(time, true)?)?;
    }
    (!text.is_empty()).then_some(total)
}

/// Parses `at`, a wall time `HH:MM` or `HH:MM:SS`.
pub fn parse_at(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M"))
        .map_err(|_| format!("\"{text}\" is not a wall time such as 09:30"))
}

/// The instant a date's wall time `at` (00:00 without one) happens in `zone`: the gap's end for a time
/// the clocks skip, the first occurrence for one they repeat.
pub fn local_instant(date: NaiveDate, at: Option<NaiveTime>, zone: TimeZone) -> DateTime<Utc> {
    let zone = zone.tz();
    let wall = date.and_time(at.unwrap_or(NaiveTime::MIN));
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(time) => time.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: the first wall minute after it that exists is the instant the clocks jumped.
            let mut probe = wall - Duration::seconds(i64::from(wall.second()));
            for _ in 0..(26 * 60) {
                probe += Duration::minutes(1);
                if let Some(time) = zone.from_local_datetime(&probe).earliest() {
                    return time.with_timezone(&Utc);
                }
            }
            wall.and_utc()
        }
    }
}

/// When a `wait` with `until` wakes: `value` is the formula's result (a date or an instant).
pub fn wake_at(
    value: &formula::Value,
    at: Option<NaiveTime>,
    zone: TimeZone,
) -> Result<DateTime<Utc>, String> {
    match value {
        formula::Value::Date(date) => Ok(local_instant(*date, at, zone)),
        formula::Value::DateTime(time) => Ok(*time),
        formula::Value::List(items) if items.len() == 1 => wake_at(&items[0], at, zone),
        formula::Value::Empty => Err("until gives no date".to_owned()),
        formula::Value::Error(error) => Err(format!("until gives an error: {error:?}")),
        other => Err(format!("until gives {other:?}, not a date or an instant")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_short_and_iso_forms() {
        for (text, seconds) in [
            ("90s", 90),
            ("5m", 300),
            ("1h30m", 5400),
            ("3d", 3 * 86_400),
            ("2w", 14 * 86_400),
            ("PT1H", 3600),
            ("P3D", 3 * 86_400),
            ("P1DT12H", 86_400 + 12 * 3600),
            ("PT90M", 5400),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::seconds(seconds)),
                "{text}"
            );
        }
        for bad in [
            "", "1", "h", "1y", "0s", "P", "PT", "1h 2", "P1H", "-1h", "99999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_date_wakes_at_midnight_or_at_its_wall_time_in_the_zone() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert_eq!(
            local_instant(date, None, TimeZone::SHANGHAI).to_rfc3339(),
            "2026-11-28T16:00:00+00:00"
        );
        let at = parse_at("09:30").unwrap();
        assert_eq!(
            local_instant(date, Some(at), TimeZone::parse("Europe/Berlin").unwrap()).to_rfc3339(),
            "2026-11-29T08:30:00+00:00"
        );
        assert!(parse_at("25:00").is_err());
    }

    #[test]
    fn skipped_wall_times_wake_at_the_gap_end_and_repeated_ones_at_the_first() {
        // Berlin, 2027-03-28: 02:00 → 03:00 (CET → CEST); 02:30 does not exist.
        let spring = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        let at = parse_at("02:30").unwrap();
        assert_eq!(
            local_instant(spring, Some(at), TimeZone::parse("Europe/Berlin").unwrap()).to_rfc3339(),
            "2027-03-28T01:00:00+00:00"
        );
        // 2027-10-31: 03:00 → 02:00; 02:30 happens twice, first in CEST.
        let autumn = NaiveDate::from_ymd_opt(2027, 10, 31).unwrap();
        assert_eq!(
            local_instant(autumn, Some(at), TimeZone::parse("Europe/Berlin").unwrap()).to_rfc3339(),
            "2027-10-31T00:30:00+00:00"
        );
    }

    #[test]
    fn until_takes_dates_and_instants_and_refuses_the_rest() {
        let zone = TimeZone::SHANGHAI;
        let instant = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
        assert_eq!(
            wake_at(&formula::Value::DateTime(instant), None, zone),
            Ok(instant)
        );
        assert!(wake_at(&formula::Value::Empty, None, zone).is_err());
        assert!(wake_at(&formula::Value::text("x"), None, zone).is_err());
    }
}
