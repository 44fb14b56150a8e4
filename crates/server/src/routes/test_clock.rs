//! `/api/v1/_test/clock`: the clock of `tenon serve --test-clock`, for end-to-end tests of what time
//! drives (approval reminders and timeouts, delivery retries, flows' waits). Without the flag it answers
//! 404 to every caller — with or without credentials, whatever they hold — as if it did not exist (the
//! API's guard answers before authenticating). With it, `admin` only.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSet {
    /// The instant the node's clock shows from now on (RFC 3339).
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockOut {
    pub now: DateTime<Utc>,
}

/// The route's path (the guard knows it to answer 404 without the flag).
pub const PATH: &str = "/api/v1/_test/clock";

fn clock(state: &AppState) -> ApiResult<&tenon_store::TestClock> {
    state
        .config()
        .test_clock
        .as_deref()
        .ok_or_else(|| ApiError::not_found("route"))
}

/// The test clock's instant (only with `tenon serve --test-clock`; 404 otherwise).
#[utoipa::path(
    get, path = "/api/v1/_test/clock", tag = "operations",
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = ClockOut), (status = 404, description = "The node runs without --test-clock", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_clock(
    State(state): State<AppState>,
    _auth: Authed<scopes::Admin>,
) -> ApiResult<axum::Json<ClockOut>> {
    let now = tenon_store::Clock::now(clock(&state)?);
    Ok(axum::Json(ClockOut { now }))
}

/// Moves the test clock of `tenon serve --test-clock` (forward or back), keeps it in `<data>/test-clock`,
/// and wakes the workers that wait on time so what came due happens now. 404 without the flag.
#[utoipa::path(
    post, path = "/api/v1/_test/clock", tag = "operations",
    request_body = ClockSet,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = ClockOut), (status = 404, description = "The node runs without --test-clock", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn set_clock(
    State(state): State<AppState>,
    _auth: Authed<scopes::Admin>,
    ApiJson(body): ApiJson<ClockSet>,
) -> ApiResult<axum::Json<ClockOut>> {
    let now = clock(&state)?
        .set(body.now)
        .map_err(|error| ApiError::internal("cannot keep the test clock", &error))?;
    tracing::info!(%now, "test clock set");
    state.store().wake_workers();
    Ok(axum::Json(ClockOut { now }))
}
