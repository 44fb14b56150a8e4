//! Schedules: 5- or 6-field cron in a named zone, and the slots they give.
//!
//! `minute hour day-of-month month day-of-week`, or with a leading `second`. Each field takes `*` (`?`
//! for the two day fields), a number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, and lists of those
//! separated by commas; months take `JAN`–`DEC` and days of the week `SUN`–`SAT` (0 and 7 are Sunday).
//! When both day fields are restricted a day matching either counts (as in Vixie cron).
//!
//! Slots are wall-clock times in the flow's zone, never the host's, turned into instants:
//!
//! - a wall time the zone skips (the gap of a spring-forward change) fires once, at the gap's end — all
//!   the skipped wall times of one gap give that one instant;
//! - a wall time the zone repeats (the fold of a fall-back change) fires once, at its first occurrence.
//!
//! [`missed`] decides what a scheduler does after downtime: the latest missed slot runs if it is at most
//! an hour old; otherwise it is recorded as missed.
//!
//! Pure: "now" is an argument.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// How far [`Cron::next_wall`] looks for a matching wall time (a pattern like `0 0 30 2 *` never
/// matches; publishing refuses it).
const HORIZON_DAYS: i64 = 366 * 5;
/// A missed slot older than this is not run late.
pub const LATE_LIMIT_MINUTES: i64 = 60;

/// A parsed cron pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_star: bool,
    weekdays_star: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses one field into a bit set over `min..=max`.
fn field(text: &str, name: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |part: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(part)) {
            // Month names start at 1, weekday names at 0 (Sunday).
            let first = if names.len() == 12 { 1 } else { 0 };
            return Ok(u32::try_from(i).unwrap_or(0) + first);
        }
        let n: u32 = part
            .parse()
            .map_err(|_| format!("{name}: {part} is not a number"))?;
        if n < min || n > max {
            return Err(format!("{name}: {n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("{name}: an empty list item"));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("{name}: the step {step} is not a positive number")
                    })?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (from, to) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("{name}: the range {range} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `a/n` runs from a to the end.
            (a, if step.is_some() { max } else { a })
        };
        let step = step.unwrap_or(1);
        let mut n = from;
        while n <= to {
            bits |= 1 << n;
            n += step;
        }
    }
    Ok(bits)
}

impl Cron {
    /// Parses a 5- or 6-field pattern.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let parts: Vec<&str> = match parts.len() {
            5 => std::iter::once("0").chain(parts).collect(),
            6 => parts,
            n => {
                return Err(format!(
                    "a cron pattern has 5 fields (minute hour day month weekday) or 6 (with seconds first), not {n}"
                ));
            }
        };
        let weekdays = field(parts[5], "day of week", 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        let cron = Cron {
            seconds: field(parts[0], "second", 0, 59, &[])?,
            minutes: field(parts[1], "minute", 0, 59, &[])?,
            hours: u32::try_from(field(parts[2], "hour", 0, 23, &[])?).unwrap_or(0),
            days: u32::try_from(field(parts[3], "day of month", 1, 31, &[])?).unwrap_or(0),
            months: u16::try_from(field(parts[4], "month", 1, 12, &MONTHS)?).unwrap_or(0),
            weekdays: u8::try_from(weekdays).unwrap_or(0),
            days_star: parts[3] == "*" || parts[3] == "?",
            weekdays_star: parts[5] == "*" || parts[5] == "?",
        };
        if cron
            .next_wall(
                NaiveDate::from_ymd_opt(2000, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .unwrap_or_default(),
            )
            .is_none()
        {
            return Err("the pattern never matches a date".to_owned());
        }
        Ok(cron)
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.days_star, self.weekdays_star) {
            (true, true) => true,
            (false, true) => day,
            (true, false) => weekday,
            (false, false) => day || weekday,
        }
    }

    /// The first wall time strictly after `after` that the pattern matches (within five years).
    pub fn next_wall(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let limit = after + Duration::days(HORIZON_DAYS);
        let mut t = after.with_nanosecond(0)? + Duration::seconds(1);
        while t <= limit {
            if self.months & (1 << t.month()) == 0 {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.with_minute(0)?.with_second(0)? + Duration::hours(1);
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t = t.with_second(0)? + Duration::minutes(1);
                continue;
            }
            if self.seconds & (1 << t.second()) == 0 {
                t += Duration::seconds(1);
                continue;
            }
            return Some(t);
        }
        None
    }

    /// The first slot strictly after `after`, as an instant: wall times in `zone`; a skipped wall time
    /// gives the gap's end, a repeated one its first occurrence.
    pub fn next_slot(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = after.with_timezone(&zone).naive_local();
        loop {
            wall = self.next_wall(wall)?;
            let instant = instant_of(zone, wall)?;
            if instant > after {
                return Some(instant);
            }
        }
    }

    /// The slots in `(after, until]`, in order, at most `max` of them.
    pub fn slots(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        max: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut found = Vec::new();
        let mut cursor = after;
        while found.len() < max {
            match self.next_slot(zone, cursor) {
                Some(slot) if slot <= until => {
                    found.push(slot);
                    cursor = slot;
                }
                _ => break,
            }
        }
        found
    }

    /// The latest slot in `(after, until]`, if any (without listing the others).
    pub fn latest_slot(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let first = self.next_slot(zone, after).filter(|slot| *slot <= until)?;
        // Step back from `until` by growing windows so a long downtime costs little.
        let mut window = Duration::minutes(1);
        loop {
            let from = (until - window).max(first);
            let found = self.slots(zone, from - Duration::seconds(1), until, usize::MAX);
            if let Some(last) = found.into_iter().rfind(|slot| *slot > after) {
                return Some(last);
            }
            if from == first {
                return Some(first);
            }
            window = window * 4;
        }
    }
}

/// The instant of a wall time in `zone`: the earlier of a repeated one, the gap's end for a skipped one.
pub fn instant_of(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(time) => Some(time.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.min(second).with_timezone(&Utc)),
        LocalResult::None => {
            // The first whole minute after `wall` that exists is the gap's end.
            let mut t = wall.with_second(0)?.with_nanosecond(0)?;
            for _ in 0..(48 * 60) {
                t += Duration::minutes(1);
                match zone.from_local_datetime(&t) {
                    LocalResult::Single(time) => return Some(time.with_timezone(&Utc)),
                    LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
                    LocalResult::None => {}
                }
            }
            None
        }
    }
}

/// What a scheduler does with the slots it has not handled, at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Nothing came due.
    Nothing,
    /// Run this slot (the latest one due, at most an hour old); `skipped` earlier ones are not run.
    Run { slot: DateTime<Utc>, skipped: usize },
    /// The latest slot due is more than an hour old: record it missed; `skipped` earlier ones too.
    Missed { slot: DateTime<Utc>, skipped: usize },
}

/// Which slot to run after `handled` (the last slot run or recorded; the flow's publication at first),
/// at `now`: after downtime only the latest slot due counts, run if it is at most
/// [`LATE_LIMIT_MINUTES`] old, else recorded as missed.
pub fn due(cron: &Cron, zone: Tz, handled: DateTime<Utc>, now: DateTime<Utc>) -> Due {
    let Some(latest) = cron.latest_slot(zone, handled, now) else {
        return Due::Nothing;
    };
    // Count (bounded) the slots passed over, for the record.
    let skipped = cron
        .slots(zone, handled, latest, 10_000)
        .len()
        .saturating_sub(1);
    if now - latest <= Duration::minutes(LATE_LIMIT_MINUTES) {
        Due::Run {
            slot: latest,
            skipped,
        }
    } else {
        Due::Missed {
            slot: latest,
            skipped,
        }
    }
}

/// A zone by its IANA name.
pub fn zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("{name} is not an IANA time zone (like Asia/Shanghai)"))
}

#[cfg(test)]
mod tests;
