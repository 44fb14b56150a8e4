//! Cron parsing and slots, across 2027's DST changes: Europe/Berlin springs forward on 28 March
//! (02:00 CET → 03:00 CEST, at 01:00Z) and falls back on 31 October (03:00 CEST → 02:00 CET, at 01:00Z);
//! Asia/Shanghai keeps UTC+8 all year. Nothing here reads the host's zone.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use chrono_tz::Europe::Berlin;

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn slots(pattern: &str, zone: Tz, after: &str, until: &str) -> Vec<String> {
    Cron::parse(pattern)
        .unwrap()
        .slots(zone, utc(after), utc(until), 1000)
        .into_iter()
        .map(|slot| slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .collect()
}

#[test]
fn patterns_parse_in_five_and_six_fields_with_names_ranges_and_steps() {
    assert!(Cron::parse("0 9 * * *").is_ok());
    assert!(Cron::parse("15 0 9 * * MON-FRI").is_ok());
    assert!(Cron::parse("*/15 8-18 1,15 JAN-mar ?").is_ok());
    assert!(Cron::parse("0 0 * * 7").is_ok());
    for (bad, says) in [
        ("0 9 * *", "5 fields"),
        ("60 9 * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour"),
        ("0 9 * * MON-XYZ", "day of week"),
        ("*/0 * * * *", "step"),
        ("0 9 5-1 * *", "backwards"),
        ("0 0 30 2 *", "never matches"),
    ] {
        let error = Cron::parse(bad).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

#[test]
fn sunday_is_zero_and_seven_and_restricted_day_fields_match_either() {
    // 2027-01-03 is a Sunday.
    assert_eq!(
        slots(
            "0 12 * * 7",
            Utc.into_tz(),
            "2027-01-01T00:00:00Z",
            "2027-01-11T00:00:00Z"
        ),
        ["2027-01-03T12:00:00Z", "2027-01-10T12:00:00Z"]
    );
    assert_eq!(
        slots(
            "0 12 * * 0",
            Utc.into_tz(),
            "2027-01-01T00:00:00Z",
            "2027-01-11T00:00:00Z"
        ),
        ["2027-01-03T12:00:00Z", "2027-01-10T12:00:00Z"]
    );
    // The 5th, or a Monday (4th, 11th).
    assert_eq!(
        slots(
            "0 0 5 * MON",
            Utc.into_tz(),
            "2027-01-01T00:00:00Z",
            "2027-01-12T00:00:00Z"
        ),
        [
            "2027-01-04T00:00:00Z",
            "2027-01-05T00:00:00Z",
            "2027-01-11T00:00:00Z"
        ]
    );
}

trait IntoTz {
    fn into_tz(self) -> Tz;
}

impl IntoTz for Utc {
    fn into_tz(self) -> Tz {
        chrono_tz::UTC
    }
}

#[test]
fn berlin_a_skipped_wall_time_fires_once_at_the_gaps_end() {
    // 02:30 every day: 01:30Z in winter, the gap's end (03:00 CEST = 01:00Z) on 28 March, 00:30Z after.
    assert_eq!(
        slots(
            "30 2 * * *",
            Berlin,
            "2027-03-26T12:00:00Z",
            "2027-03-29T12:00:00Z"
        ),
        [
            "2027-03-27T01:30:00Z",
            "2027-03-28T01:00:00Z",
            "2027-03-29T00:30:00Z"
        ]
    );
    // Every quarter hour of 02:xx: the four skipped wall times give one slot.
    assert_eq!(
        slots(
            "*/15 2 * * *",
            Berlin,
            "2027-03-27T23:00:00Z",
            "2027-03-29T01:00:00Z"
        ),
        [
            "2027-03-28T01:00:00Z",
            "2027-03-29T00:00:00Z",
            "2027-03-29T00:15:00Z",
            "2027-03-29T00:30:00Z",
            "2027-03-29T00:45:00Z"
        ]
    );
    // 02:00, 02:30 (skipped) and 03:00 all land on the gap's end: one run there, then 03:30 CEST.
    assert_eq!(
        slots(
            "0,30 1,2,3 28 3 *",
            Berlin,
            "2027-03-27T23:00:00Z",
            "2027-03-28T03:00:00Z"
        ),
        [
            "2027-03-28T00:00:00Z",
            "2027-03-28T00:30:00Z",
            "2027-03-28T01:00:00Z",
            "2027-03-28T01:30:00Z"
        ]
    );
}

#[test]
fn berlin_a_repeated_wall_time_fires_once_at_its_first_occurrence() {
    // 02:30 on 31 October happens at 00:30Z (CEST) and again at 01:30Z (CET): only the first.
    assert_eq!(
        slots(
            "30 2 * * *",
            Berlin,
            "2027-10-30T00:00:00Z",
            "2027-11-01T12:00:00Z"
        ),
        [
            "2027-10-30T00:30:00Z",
            "2027-10-31T00:30:00Z",
            "2027-11-01T01:30:00Z"
        ]
    );
    // Every half hour through the fold: the repeated 02:00 and 02:30 (01:00Z, 01:30Z) do not fire again.
    assert_eq!(
        slots(
            "*/30 * * * *",
            Berlin,
            "2027-10-30T23:45:00Z",
            "2027-10-31T02:45:00Z"
        ),
        [
            "2027-10-31T00:00:00Z",
            "2027-10-31T00:30:00Z",
            "2027-10-31T02:00:00Z",
            "2027-10-31T02:30:00Z"
        ]
    );
    // Asked from inside the second pass, the next slot is after the fold.
    let cron = Cron::parse("30 2 * * *").unwrap();
    assert_eq!(
        cron.next_slot(Berlin, utc("2027-10-31T01:10:00Z")),
        Some(utc("2027-11-01T01:30:00Z"))
    );
}

#[test]
fn shanghai_keeps_its_wall_time_through_the_year_and_berlins_changes() {
    let all = slots(
        "0 9 * * *",
        Shanghai,
        "2026-12-31T12:00:00Z",
        "2027-12-31T12:00:00Z",
    );
    assert_eq!(all.len(), 365);
    assert!(
        all.iter().all(|slot| slot.ends_with("T01:00:00Z")),
        "{all:?}"
    );
    assert!(all.contains(&"2027-03-28T01:00:00Z".to_owned()));
    assert!(all.contains(&"2027-10-31T01:00:00Z".to_owned()));
    // The same pattern in Berlin moves by an hour in UTC at each change.
    let berlin = slots(
        "0 9 * * *",
        Berlin,
        "2027-03-27T00:00:00Z",
        "2027-03-29T00:00:00Z",
    );
    assert_eq!(berlin, ["2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z"]);
    let berlin = slots(
        "0 9 * * *",
        Berlin,
        "2027-10-30T00:00:00Z",
        "2027-11-01T00:00:00Z",
    );
    assert_eq!(berlin, ["2027-10-30T07:00:00Z", "2027-10-31T08:00:00Z"]);
}

#[test]
fn six_fields_have_seconds() {
    assert_eq!(
        slots(
            "15 0 9 * * MON-FRI",
            Shanghai,
            "2027-01-01T00:00:00Z",
            "2027-01-05T00:00:00Z"
        ),
        ["2027-01-01T01:00:15Z", "2027-01-04T01:00:15Z"]
    );
}

#[test]
fn after_downtime_the_latest_slot_runs_within_an_hour_else_it_is_missed() {
    let cron = Cron::parse("0 * * * *").unwrap();
    let handled = utc("2027-03-01T00:00:00Z");
    assert_eq!(
        due(&cron, Berlin, handled, utc("2027-03-01T00:59:00Z")),
        Due::Nothing
    );
    // Down from 00:00 to 03:20: slots 01:00, 02:00, 03:00 passed; 03:00 runs, the two before do not.
    assert_eq!(
        due(&cron, Berlin, handled, utc("2027-03-01T03:20:00Z")),
        Due::Run {
            slot: utc("2027-03-01T03:00:00Z"),
            skipped: 2
        }
    );
    // A daily slot an hour and a minute old is recorded missed.
    let daily = Cron::parse("0 9 * * *").unwrap();
    assert_eq!(
        due(
            &daily,
            Shanghai,
            utc("2027-03-01T00:00:00Z"),
            utc("2027-03-03T02:01:00Z")
        ),
        Due::Missed {
            slot: utc("2027-03-03T01:00:00Z"),
            skipped: 2
        }
    );
    assert_eq!(
        due(
            &daily,
            Shanghai,
            utc("2027-03-01T00:00:00Z"),
            utc("2027-03-03T02:00:00Z")
        ),
        Due::Run {
            slot: utc("2027-03-03T01:00:00Z"),
            skipped: 2
        }
    );
    // The slot at the gap's end counts as due like any other.
    let gap = Cron::parse("30 2 * * *").unwrap();
    assert_eq!(
        due(
            &gap,
            Berlin,
            utc("2027-03-27T12:00:00Z"),
            utc("2027-03-28T01:05:00Z")
        ),
        Due::Run {
            slot: utc("2027-03-28T01:00:00Z"),
            skipped: 0
        }
    );
}

#[test]
fn zones_are_iana_names() {
    assert!(zone("Asia/Shanghai").is_ok());
    assert!(zone("Mars/Olympus").unwrap_err().contains("IANA"));
}
