//! Liveness and readiness probes.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up. Touches nothing else.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// The process can serve requests: the database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "The database does not answer", body = ErrorBody))
)]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<axum::Json<Health>> {
    state.store().ping().await.map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        ApiError::new(
            tenon_model::ErrorCode::Unavailable,
            "the database does not answer",
        )
    })?;
    Ok(axum::Json(Health { status: "ok" }))
}
