//! Retry decisions: which failures try again, and when.
//!
//! Connect errors, timeouts, 408, 429 (honouring `Retry-After`), 5xx and a database that is briefly
//! unavailable retry; other 4xx, mapping errors (a formula's value a field refuses) and refusals fail at
//! once. By default a step is tried 5 times over about 10 hours: the waits are 30 s, 5 min, 1 h and 8 h,
//! each ±20 % (jitter, so retries of many runs spread out); a longer `Retry-After` wins, up to a day.

use chrono::Duration;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made.
    Connect,
    /// No answer in time.
    Timeout,
    /// An HTTP answer with this status (and its `Retry-After`, in seconds, if any).
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// The database (or another internal resource) was unavailable.
    Unavailable,
    /// A value could not be computed or a field refused it: retrying gives the same answer.
    Mapping,
    /// The target refused the request for good (not found, not allowed, invalid).
    Refused,
}

impl Failure {
    pub fn retries(&self) -> bool {
        match self {
            Failure::Connect | Failure::Timeout | Failure::Unavailable => true,
            Failure::Status { code, .. } => matches!(code, 408 | 429 | 500..=599),
            Failure::Mapping | Failure::Refused => false,
        }
    }
}

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after attempt n (1-based) is `waits[n - 1]` (the last repeats).
    pub waits: Vec<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            waits: vec![
                Duration::seconds(30),
                Duration::minutes(5),
                Duration::hours(1),
                Duration::hours(8),
            ],
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    Fail,
}

/// The longest a `Retry-After` may make a step wait.
pub const RETRY_AFTER_MAX: Duration = Duration::days(1);

impl RetryPolicy {
    /// After attempt `attempt` (1-based) failed with `failure`. `jitter` is a sample in `[-1, 1]` (the
    /// caller draws it), scaling the wait by up to ±20 %.
    pub fn decide(&self, attempt: u32, failure: &Failure, jitter: f64) -> Decision {
        if !failure.retries() || attempt >= self.attempts || self.waits.is_empty() {
            return Decision::Fail;
        }
        let index = usize::try_from(attempt.saturating_sub(1))
            .unwrap_or(usize::MAX)
            .min(self.waits.len() - 1);
        let base = self.waits[index];
        let jitter = jitter.clamp(-1.0, 1.0) * 0.2;
        let millis = base.num_milliseconds() as f64 * (1.0 + jitter);
        let mut wait = Duration::milliseconds(millis.round() as i64);
        if let Failure::Status {
            retry_after: Some(after),
            ..
        } = failure
        {
            wait = wait.max((*after).min(RETRY_AFTER_MAX));
        }
        Decision::RetryAfter(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_retry_and_others_fail_at_once() {
        let policy = RetryPolicy::default();
        for failure in [
            Failure::Connect,
            Failure::Timeout,
            Failure::Unavailable,
            Failure::Status {
                code: 503,
                retry_after: None,
            },
            Failure::Status {
                code: 408,
                retry_after: None,
            },
            Failure::Status {
                code: 429,
                retry_after: None,
            },
        ] {
            assert!(
                matches!(policy.decide(1, &failure, 0.0), Decision::RetryAfter(_)),
                "{failure:?}"
            );
        }
        for failure in [
            Failure::Mapping,
            Failure::Refused,
            Failure::Status {
                code: 400,
                retry_after: None,
            },
            Failure::Status {
                code: 404,
                retry_after: None,
            },
        ] {
            assert_eq!(
                policy.decide(1, &failure, 0.0),
                Decision::Fail,
                "{failure:?}"
            );
        }
    }

    #[test]
    fn five_tries_spread_over_about_ten_hours() {
        let policy = RetryPolicy::default();
        let mut total = Duration::zero();
        let mut attempt = 1;
        while let Decision::RetryAfter(wait) = policy.decide(attempt, &Failure::Timeout, 0.0) {
            total += wait;
            attempt += 1;
        }
        assert_eq!(attempt, 5);
        assert!(
            total > Duration::hours(9) && total < Duration::hours(10),
            "{total}"
        );
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_a_day() {
        let policy = RetryPolicy::default();
        let asked = |secs| Failure::Status {
            code: 429,
            retry_after: Some(Duration::seconds(secs)),
        };
        assert_eq!(
            policy.decide(1, &asked(120), 0.0),
            Decision::RetryAfter(Duration::seconds(120))
        );
        assert_eq!(
            policy.decide(1, &asked(10), 0.0),
            Decision::RetryAfter(Duration::seconds(30))
        );
        assert_eq!(
            policy.decide(1, &asked(10 * 86_400), 0.0),
            Decision::RetryAfter(RETRY_AFTER_MAX)
        );
    }
}
