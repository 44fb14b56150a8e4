//! Rate limits per credential: a GCRA token bucket (governor) per token, per app installation, or per
//! member's sessions, each with the credential's own quota or the platform default; and per visitor of a
//! public page (a form, a shared link, a published view, a lookup), keyed by what they use and their
//! address ([`visitor_limit`]).
//!
//! Buckets live in this process: with several Tenon nodes behind a load balancer, each node enforces the
//! limit on its own share of the traffic (ARCHITECTURE.md says so). Idle buckets are dropped once they
//! would have refilled anyway, so memory stays bounded by the number of recently active credentials.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Gcra};
use sha2::{Digest, Sha256};
use tenon_model::{ErrorCode, RateLimit};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

type Bucket = Gcra<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

struct Entry {
    limit: RateLimit,
    bucket: Arc<Bucket>,
    last_used: std::sync::Mutex<Instant>,
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Unlimited,
    Allowed {
        policy: Policy,
        remaining: u32,
        reset_seconds: u64,
    },
    Limited {
        policy: Policy,
        retry_after_seconds: u64,
    },
}

/// The quota behind a decision, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub requests: u32,
    pub period_seconds: u32,
    pub burst: u32,
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: DashMap<Uuid, Entry>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// Counts one request against `key` under `limit`.
    pub fn check(&self, key: Uuid, limit: RateLimit) -> Decision {
        let RateLimit::Limited {
            requests,
            period_seconds,
            burst,
        } = limit
        else {
            return Decision::Unlimited;
        };
        let policy = Policy {
            requests: requests.get(),
            period_seconds: period_seconds.get(),
            burst: burst.get(),
        };
        let bucket = self.bucket(key, limit, requests, period_seconds, burst);
        match bucket.check() {
            Ok(snapshot) => Decision::Allowed {
                policy,
                remaining: snapshot.remaining_burst_capacity(),
                reset_seconds: seconds_until_full(&snapshot, &policy),
            },
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision::Limited {
                    policy,
                    retry_after_seconds: ceil_seconds(wait).max(1),
                }
            }
        }
    }

    fn bucket(
        &self,
        key: Uuid,
        limit: RateLimit,
        requests: NonZeroU32,
        period_seconds: NonZeroU32,
        burst: NonZeroU32,
    ) -> Arc<Bucket> {
        let now = Instant::now();
        if let Some(entry) = self.buckets.get(&key)
            && entry.limit == limit
        {
            *entry
                .last_used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
            return Arc::clone(&entry.bucket);
        }
        // A new credential, or its limit changed: start a fresh bucket with the new quota.
        let replenish_every = Duration::from_secs(u64::from(period_seconds.get())) / requests.get();
        let quota = Quota::with_period(replenish_every.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(requests))
            .allow_burst(burst);
        let bucket = Arc::new(Gcra::direct(quota).with_middleware::<StateInformationMiddleware>());
        self.buckets.insert(
            key,
            Entry {
                limit,
                bucket: Arc::clone(&bucket),
                last_used: std::sync::Mutex::new(now),
            },
        );
        bucket
    }

    /// Drops buckets idle for longer than they take to refill: forgetting them changes no decision.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        self.buckets.retain(|_, entry| {
            let RateLimit::Limited {
                requests,
                period_seconds,
                burst,
            } = entry.limit
            else {
                return false;
            };
            let refill =
                Duration::from_secs(u64::from(period_seconds.get())) * burst.get() / requests.get();
            let last_used = *entry
                .last_used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            now.duration_since(last_used) <= refill
        });
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// The bucket of a visitor's key (`"form:{slug}:{address}"` and the like): the first 16 bytes of its
/// SHA-256, so keys of any length share one map without keeping addresses in it.
pub fn visitor_bucket(key: &str) -> Uuid {
    let digest: [u8; 32] = Sha256::digest(key).into();
    let mut bucket = [0u8; 16];
    bucket.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bucket)
}

/// Counts one visitor request against `key` under `limit` (a [`RateLimit`] text; an unreadable one is
/// no limit): 429 `rate_limited` — "too many {what}; retry after N s", with `retry_after` and a
/// `Retry-After` header — once the bucket is empty.
pub fn visitor_limit(limiter: &RateLimiter, key: &str, limit: &str, what: &str) -> ApiResult<()> {
    let limit = RateLimit::parse(limit).unwrap_or(RateLimit::Off);
    if let Decision::Limited {
        retry_after_seconds,
        ..
    } = limiter.check(visitor_bucket(key), limit)
    {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many {what}; retry after {retry_after_seconds} s"),
        )
        .with("retry_after", retry_after_seconds)
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds)));
    }
    Ok(())
}

fn seconds_until_full(snapshot: &StateSnapshot, policy: &Policy) -> u64 {
    let missing = u64::from(
        policy
            .burst
            .saturating_sub(snapshot.remaining_burst_capacity()),
    );
    let per_request = f64::from(policy.period_seconds) / f64::from(policy.requests.max(1));
    // Whole seconds, rounded up: a client that waits this long finds the bucket full.
    (missing as f64 * per_request).ceil() as u64
}

fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_allowed_then_limited_with_a_retry_time() {
        let limiter = RateLimiter::default();
        let key = Uuid::now_v7();
        let limit = RateLimit::parse("1/h,burst=2").unwrap();
        assert!(matches!(
            limiter.check(key, limit),
            Decision::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            limiter.check(key, limit),
            Decision::Allowed { remaining: 0, .. }
        ));
        match limiter.check(key, limit) {
            Decision::Limited {
                retry_after_seconds,
                policy,
            } => {
                assert!(
                    retry_after_seconds > 3000 && retry_after_seconds <= 3600,
                    "{retry_after_seconds}"
                );
                assert_eq!(policy.burst, 2);
            }
            other => panic!("expected a limit, got {other:?}"),
        }
        // Another credential has its own bucket.
        assert!(matches!(
            limiter.check(Uuid::now_v7(), limit),
            Decision::Allowed { .. }
        ));
        assert_eq!(limiter.check(key, RateLimit::Off), Decision::Unlimited);
    }

    #[test]
    fn a_visitor_limit_answers_429_with_retry_after_once_its_bucket_is_empty() {
        let limiter = RateLimiter::default();
        let key = format!("form:{}:127.0.0.1", Uuid::now_v7());
        assert!(visitor_limit(&limiter, &key, "1/h,burst=1", "submissions").is_ok());
        let refused = visitor_limit(&limiter, &key, "1/h,burst=1", "submissions").unwrap_err();
        let response = axum::response::IntoResponse::into_response(refused);
        assert_eq!(response.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 3000 && retry <= 3600, "{retry}");
        // Another key (another address) has its own bucket; an unreadable limit is no limit.
        assert!(visitor_limit(&limiter, &format!("{key}x"), "1/h,burst=1", "submissions").is_ok());
        assert!(visitor_limit(&limiter, &key, "nonsense", "submissions").is_ok());
        assert_eq!(visitor_bucket(&key), visitor_bucket(&key));
    }

    #[test]
    fn a_changed_limit_starts_a_fresh_bucket() {
        let limiter = RateLimiter::default();
        let key = Uuid::now_v7();
        let tight = RateLimit::parse("1/h,burst=1").unwrap();
        assert!(matches!(
            limiter.check(key, tight),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check(key, tight),
            Decision::Limited { .. }
        ));
        let loose = RateLimit::parse("100/s").unwrap();
        assert!(matches!(
            limiter.check(key, loose),
            Decision::Allowed { remaining: 199, .. }
        ));
    }
}
