//! Shared state of the HTTP server: the store, the configuration, the rate limiter, the bound on
//! concurrent password hashes, and the webhook sender.

use std::sync::Arc;

use chrono::TimeDelta;
use tenon_events::{DeliveryConfig, Sender};
use tenon_model::RateLimit;
use tenon_store::Store;
use tokio::sync::Semaphore;

use crate::rate_limit::RateLimiter;

/// Password hashes that may run at once. Each argon2id hash holds 19 MiB for ~25 ms; bounding them
/// bounds memory under a login storm.
const PASSWORD_HASHES_CONCURRENT: usize = 2;

/// Server settings that are not per request.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Applied to every credential that has no limit of its own.
    pub default_rate_limit: RateLimit,
    /// Lifetime of OAuth2 access tokens issued to apps.
    pub access_token_ttl: TimeDelta,
    /// A session ends after this long without use.
    pub session_ttl: TimeDelta,
    /// Mark the session cookie `Secure` (sent over HTTPS only; browsers also accept it on localhost).
    pub secure_cookies: bool,
    /// How often stream connections get a `SYSTEM` ping frame and a WebSocket ping; a client that sends
    /// nothing for two intervals is dropped.
    pub stream_ping_interval: std::time::Duration,
    /// Webhook delivery workers started by [`crate::serve`].
    pub delivery: DeliveryConfig,
    /// Flow workers started by [`crate::serve`].
    pub flows: tenon_connect::FlowConfig,
    /// The largest request body accepted, in bytes (attachments have their own limit,
    /// `tenon_store::FILE_BYTES_MAX`); a larger one is answered 413 with the limit in `params.limit`.
    pub max_body_bytes: usize,
    /// `tenon serve --test-clock`: the store's clock, which `POST /api/v1/_test/clock` moves; `None`
    /// leaves that route unmounted (404).
    pub test_clock: Option<std::sync::Arc<tenon_store::TestClock>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            default_rate_limit: tenon_model::rate::DEFAULT_RATE_LIMIT,
            access_token_ttl: TimeDelta::hours(2),
            session_ttl: TimeDelta::days(7),
            secure_cookies: true,
            stream_ping_interval: std::time::Duration::from_secs(20),
            delivery: DeliveryConfig::default(),
            flows: tenon_connect::FlowConfig::default(),
            max_body_bytes: crate::BODY_BYTES_MAX,
            test_clock: None,
        }
    }
}

/// Cheap to clone: everything sits behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    config: ServerConfig,
    limiter: RateLimiter,
    password_hashes: Semaphore,
    stream_hub: crate::stream::StreamHub,
    /// The webhook client (outbound policy included): used by the workers and by test pings.
    sender: Sender,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig, sender: Sender) -> Self {
        AppState(Arc::new(Inner {
            store,
            config,
            limiter: RateLimiter::default(),
            password_hashes: Semaphore::new(PASSWORD_HASHES_CONCURRENT),
            stream_hub: crate::stream::StreamHub::default(),
            sender,
        }))
    }

    pub fn sender(&self) -> &Sender {
        &self.0.sender
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }

    /// The node's stream connections, told to disconnect when the node shuts down.
    pub fn stream_hub(&self) -> &crate::stream::StreamHub {
        &self.0.stream_hub
    }

    /// Runs CPU-heavy password work off the async workers, at most two at a time.
    pub async fn password_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, crate::error::ApiError> {
        let permit = self.0.password_hashes.acquire().await.map_err(|error| {
            crate::error::ApiError::internal("password semaphore closed", &error)
        })?;
        let result = tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| crate::error::ApiError::internal("password task failed", &error));
        drop(permit);
        result
    }
}
