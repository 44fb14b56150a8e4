//! Rate limits: how many requests a credential may make.
//!
//! Text form (the contract of `--rate-limit`, `TENON_RATE_LIMIT` and the `rate_limit` option of tokens and
//! installations): `off`, or `<N>/<unit>` with unit `s`, `min` or `h`, optionally followed by `,burst=<M>`.
//! Without an explicit burst, a credential may burst to twice its per-period rate.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use crate::validation::Reason;

/// The platform default: a busy integration, not a toy.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::Limited {
    requests: non_zero(1000),
    period_seconds: NonZeroU32::MIN,
    burst: non_zero(2000),
};

const fn non_zero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimit {
    Off,
    /// `requests` per `period_seconds` sustained, with up to `burst` at once.
    Limited {
        requests: NonZeroU32,
        period_seconds: NonZeroU32,
        burst: NonZeroU32,
    },
}

impl RateLimit {
    pub fn parse(raw: &str) -> Result<Self, Reason> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(RateLimit::Off);
        }
        let bad = || {
            Reason::format(
                "rate_limit",
                format!(
                    "\"{raw}\" is not a rate limit: use off, or <N>/s, <N>/min or <N>/h, optionally with ,burst=<M>"
                ),
            )
        };
        let (rate, burst) = match raw.split_once(',') {
            Some((rate, burst)) => (rate.trim(), Some(burst.trim())),
            None => (raw, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let requests: NonZeroU32 = count.trim().parse().map_err(|_| bad())?;
        let period_seconds = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            _ => return Err(bad()),
        };
        let period_seconds = NonZeroU32::new(period_seconds).ok_or_else(bad)?;
        let burst = match burst {
            None => requests.saturating_mul(NonZeroU32::new(2).ok_or_else(bad)?),
            Some(burst) => {
                let value = burst.strip_prefix("burst=").ok_or_else(bad)?;
                value.trim().parse().map_err(|_| bad())?
            }
        };
        Ok(RateLimit::Limited {
            requests,
            period_seconds,
            burst,
        })
    }
}

impl FromStr for RateLimit {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimit::Off => f.write_str("off"),
            RateLimit::Limited {
                requests,
                period_seconds,
                burst,
            } => {
                let unit = match period_seconds.get() {
                    1 => "s",
                    60 => "min",
                    _ => "h",
                };
                write!(f, "{requests}/{unit}")?;
                if burst.get() != requests.get().saturating_mul(2) {
                    write!(f, ",burst={burst}")?;
                }
                Ok(())
            }
        }
    }
}
