//! Login backoff: after a few free failures, each further failure locks the address for twice as long.

/// Failed logins allowed before the first lock.
pub const LOGIN_FAILURES_FREE: u32 = 5;
/// The first lock lasts this long; each further failure doubles it.
const LOGIN_LOCK_SECONDS_FIRST: i64 = 30;
/// No lock lasts longer than an hour, so an attacker cannot lock a person out for days.
pub const LOGIN_LOCK_SECONDS_MAX: i64 = 3600;

/// How long to refuse logins after the `failures`-th consecutive failure (0 = not locked).
pub fn lock_seconds_after(failures: u32) -> i64 {
    if failures < LOGIN_FAILURES_FREE {
        return 0;
    }
    let doublings = (failures - LOGIN_FAILURES_FREE).min(20);
    LOGIN_LOCK_SECONDS_FIRST
        .saturating_mul(1 << doublings)
        .min(LOGIN_LOCK_SECONDS_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_after_free_failures_doubles_and_caps() {
        assert_eq!(lock_seconds_after(0), 0);
        assert_eq!(lock_seconds_after(LOGIN_FAILURES_FREE - 1), 0);
        assert_eq!(lock_seconds_after(LOGIN_FAILURES_FREE), 30);
        assert_eq!(lock_seconds_after(LOGIN_FAILURES_FREE + 1), 60);
        assert_eq!(lock_seconds_after(LOGIN_FAILURES_FREE + 2), 120);
        assert_eq!(lock_seconds_after(1000), LOGIN_LOCK_SECONDS_MAX);
    }
}
