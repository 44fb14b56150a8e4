//! The one clock the platform reads. Tests replace it with a [`ManualClock`] to move time on purpose.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock, truncated to microseconds (what both databases keep), so a value read back
/// equals the value written.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_micros(Utc::now())
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(truncate_to_micros(start)),
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = truncate_to_micros(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = time.timestamp_subsec_nanos();
    time - TimeDelta::nanoseconds(i64::from(nanos % 1000))
}

/// The clock of `tenon serve --test-clock`: it stands still until `POST /api/v1/_test/clock` moves it,
/// and it is kept in a file (`<data>/test-clock`, one RFC 3339 instant) so a restarted node resumes at
/// the same instant. It starts at the file's instant, or at the wall clock's when there is no file.
#[derive(Debug)]
pub struct TestClock {
    now: ManualClock,
    file: std::path::PathBuf,
}

impl TestClock {
    /// Opens the clock kept in `file`; a missing file starts it at the wall clock (and writes it).
    pub fn open(file: impl Into<std::path::PathBuf>) -> std::io::Result<TestClock> {
        let file = file.into();
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let start = match std::fs::read_to_string(&file) {
            Ok(text) => DateTime::parse_from_rfc3339(text.trim())
                .map(|time| time.with_timezone(&Utc))
                .map_err(|error| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not an RFC 3339 instant: {error}", file.display()),
                    )
                })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Utc::now(),
            Err(error) => return Err(error),
        };
        let clock = TestClock {
            now: ManualClock::new(start),
            file,
        };
        clock.save(clock.now())?;
        Ok(clock)
    }

    /// Moves the clock to `to` (forward or back) and keeps it in the file first, so what a client was
    /// told survives a crash.
    pub fn set(&self, to: DateTime<Utc>) -> std::io::Result<DateTime<Utc>> {
        let to = truncate_to_micros(to);
        self.save(to)?;
        self.now.set(to);
        Ok(to)
    }

    fn save(&self, time: DateTime<Utc>) -> std::io::Result<()> {
        let text = time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let temporary = self.file.with_extension("tmp");
        std::fs::write(&temporary, format!("{text}\n"))?;
        std::fs::rename(&temporary, &self.file)
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        self.now.now()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_stands_still_moves_when_set_and_resumes_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("test-clock");
        let clock = TestClock::open(&file).unwrap();
        let first = clock.now();
        assert_eq!(clock.now(), first, "it stands still");
        let later = first + TimeDelta::hours(49);
        assert_eq!(clock.set(later).unwrap(), later);
        assert_eq!(clock.now(), later);
        drop(clock);
        assert_eq!(
            TestClock::open(&file).unwrap().now(),
            later,
            "kept across restarts"
        );
        std::fs::write(&file, "not a time").unwrap();
        assert!(TestClock::open(&file).is_err());
    }
}
