//! Local time of a datetime in SQL. PostgreSQL converts with `AT TIME ZONE` and the zone name bound as a
//! parameter. SQLite knows no time zones, so the compiler writes the zone's UTC offsets as a CASE over the
//! zone's transitions between 1900 and 2100 (from the same tz database the evaluator uses); zones with
//! more than [`TRANSITIONS_MAX`] transitions there (daylight saving time) are not compiled for SQLite.

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::{Compiler, Sql, not_compilable};
use crate::ir::Node;

/// The most offset changes a zone may have in 1900–2100 to be compiled for SQLite.
pub const TRANSITIONS_MAX: usize = 40;
/// Longest datetime SQL repeated once per transition.
const REPEATED_SQL_BYTES_MAX: usize = 256;

fn offset_at(zone: Tz, instant: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The offset in force from 1900 on, and each later change (instant, new offset), found by weekly
/// sampling and bisection to the second.
pub(crate) fn transitions(zone: Tz) -> (i32, Vec<(DateTime<Utc>, i32)>) {
    let start = NaiveDate::from_ymd_opt(1900, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc());
    let end = NaiveDate::from_ymd_opt(2100, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc());
    let (Some(start), Some(end)) = (start, end) else {
        return (0, Vec::new());
    };
    let initial = offset_at(zone, start);
    let mut changes = Vec::new();
    let mut previous = start;
    let mut previous_offset = initial;
    let week = Duration::days(7);
    while previous < end {
        let next = previous + week;
        let next_offset = offset_at(zone, next);
        if next_offset != previous_offset {
            // Several changes inside one week are not in the tz database; find the one.
            // Offsets change on whole seconds: bisect on seconds so `high` is the first one in force.
            let (mut low, mut high) = (previous.timestamp(), next.timestamp());
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                let at = DateTime::from_timestamp(middle, 0).unwrap_or(previous);
                if offset_at(zone, at) == previous_offset {
                    low = middle
                } else {
                    high = middle
                }
            }
            changes.push((
                DateTime::from_timestamp(high, 0).unwrap_or(next),
                next_offset,
            ));
            previous_offset = next_offset;
        }
        previous = next;
        if changes.len() > TRANSITIONS_MAX {
            break;
        }
    }
    (initial, changes)
}

/// The UTC instants between which the zone's local date is within years 1–9999: a lower bound only when
/// the zone is behind UTC at year 1, an upper one only when it is ahead at year 9999.
fn local_bounds(zone: Tz) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let at = |year, month, day| {
        NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|naive| naive.and_utc())
    };
    let (Some(first), Some(last), Some(end)) = (
        at(1, 1, 1),
        at(9999, 12, 31),
        at(9999, 12, 31).map(|day| day + Duration::days(1)),
    ) else {
        return (None, None);
    };
    let low_offset = offset_at(zone, first);
    let high_offset = offset_at(zone, last);
    let low = (low_offset < 0).then(|| first + Duration::seconds(i64::from(-low_offset)));
    let high = (high_offset > 0).then(|| end - Duration::seconds(i64::from(high_offset)));
    (low, high)
}

impl Compiler<'_> {
    /// The local date-time of the datetime `node`: PostgreSQL `timestamp`; SQLite text
    /// `YYYY-MM-DDTHH:MM:SS` (which SQLite's date functions read).
    pub fn local_datetime(&mut self, node: &Node) -> Sql {
        let sql = self.expr(node)?;
        let zone = self.ctx.time_zone;
        // Local dates outside years 1–9999 are invalid, as in the evaluator: compare the instant with the
        // UTC bounds of that range in this zone (cheaper than testing the converted value).
        let (low, high) = local_bounds(zone);
        let pg = self.pg();
        let literal = |instant: DateTime<Utc>| {
            let text = instant.format("%Y-%m-%dT%H:%M:%S%.6fZ");
            if pg {
                format!("TIMESTAMPTZ '{text}'")
            } else {
                format!("'{text}'")
            }
        };
        let mut conditions = Vec::new();
        if let Some(low) = low {
            conditions.push(format!("{sql} >= {}", literal(low)));
        }
        if let Some(high) = high {
            conditions.push(format!("{sql} < {}", literal(high)));
        }
        let guard = |local: String| {
            if conditions.is_empty() {
                local
            } else {
                format!("(CASE WHEN {} THEN {local} END)", conditions.join(" AND "))
            }
        };
        if pg {
            let name = self.bind_text(zone.name().to_owned(), "TEXT");
            return Ok(guard(format!("({sql} AT TIME ZONE {name})")));
        }
        let (initial, changes) = transitions(zone);
        if changes.len() > TRANSITIONS_MAX {
            return not_compilable(
                node,
                format!(
                    "the time zone {} changes its offset too often for SQLite; evaluate in Rust",
                    zone.name()
                ),
            );
        }
        let offset = if changes.is_empty() {
            initial.to_string()
        } else {
            if sql.len() > REPEATED_SQL_BYTES_MAX {
                return not_compilable(
                    node,
                    "the datetime expression is too long to convert to local time in SQLite",
                );
            }
            let mut case = String::from("(CASE");
            let mut current = initial;
            for (instant, offset) in &changes {
                case.push_str(&format!(
                    " WHEN {sql} < '{}' THEN {current}",
                    instant.format("%Y-%m-%dT%H:%M:%S%.6fZ")
                ));
                current = *offset;
            }
            case.push_str(&format!(" ELSE {current} END)"));
            case
        };
        Ok(guard(format!(
            "strftime('%Y-%m-%dT%H:%M:%S', substr({sql}, 1, 19), ({offset}) || ' seconds')"
        )))
    }
}
