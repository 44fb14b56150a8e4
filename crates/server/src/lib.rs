//! Tenon's HTTP API: the only crate that knows HTTP and JSON.
//!
//! [`router`] builds the whole application (routes, OpenAPI document, API reference page, middleware);
//! [`serve`] runs it on a bound listener until a shutdown signal, letting in-flight requests finish. Tests
//! bind `127.0.0.1:0` and call [`serve`] exactly as `tenon serve` does.
//!
//! Middleware, outermost first: request id (set if absent, echoed back) → tracing span → request id in
//! scope for error bodies → the DingTalk facade's error layer (`routes::dingtalk::errors`) → timing (`Server-Timing`) → panic guard → timeout → body limit → routing →
//! [`openapi::guard`]: authentication and rate limit (skipped by public routes, which ignore credentials),
//! then the refusal of query parameters the route does not document → route.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

mod approval_timers;
pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod pow;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod service;
pub mod state;
pub mod stream;

pub use error::{ApiError, ApiResult};
pub use state::{AppState, ServerConfig};

/// The default of the largest request body accepted (`--max-body-size`); bulk record writes need more
/// than axum's 2 MiB default.
pub const BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// A request that takes longer is answered 408 and its work dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often idle rate-limit buckets are forgotten.
const LIMITER_SWEEP_INTERVAL: Duration = Duration::from_secs(300);
/// How often expired sessions and access tokens are deleted.
const CREDENTIAL_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = routes::api().split_for_parts();
    openapi::complete(doc)
}

/// The whole application (the API alone).
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The whole application with more routes beside the API (the browser UI of `tenon-web`). They get the
/// outer middleware (request id, tracing, `Server-Timing`, panic guard, timeout, body limit) but not the
/// API's per-route guard; they authenticate with [`auth::admit`] themselves (a page answers a lost
/// session with a redirect, not a JSON 401).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let (api, doc) = routes::api().split_for_parts();
    let doc = openapi::complete(doc);
    let operations = std::sync::Arc::new(openapi::Operations::of(&doc));
    let api = api.route_layer(middleware::from_fn_with_state(
        (state.clone(), operations),
        openapi::guard,
    ));
    let header = axum::http::HeaderName::from_static(request_id::HEADER);
    let body_limit = state.config().max_body_bytes;
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .merge(extra)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(header.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let id = request.headers().get(request_id::HEADER).and_then(|value| value.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                }))
                .layer(PropagateRequestIdLayer::new(header))
                .layer(middleware::from_fn(request_id::scope))
                .layer(middleware::from_fn(routes::dingtalk::errors::layer))
                .layer(middleware::from_fn(server_timing))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(middleware::from_fn(timeout))
                .layer(DefaultBodyLimit::max(body_limit))
                .layer(axum::Extension(extract::BodyLimit(body_limit))),
        )
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Router::new(), shutdown).await
}

/// [`serve`] with more routes beside the API (see [`router_with`]).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    extra: Router<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    stream::node_started(&state).await;
    let maintenance = tokio::spawn(maintain(state.clone()));
    let stream_lease = tokio::spawn(stream::keep_alive(state.clone()));
    // Stream connections outlive the HTTP connection they were upgraded from: tell them to go, and wait
    // (bounded) for their goodbyes after the HTTP side has stopped.
    let hub = state.stream_hub().clone();
    let closing = hub.clone();
    let shutdown = async move {
        shutdown.await;
        closing.disconnect_all();
    };
    let workers = tenon_events::spawn_workers(
        state.store().clone(),
        state.sender().clone(),
        state.config().delivery.clone(),
    );
    let timers = approval_timers::spawn(state.store().clone());
    let flow_workers = tenon_connect::spawn_flow_workers(
        state.store().clone(),
        state.config().flows.clone(),
        state.sender().clone(),
    );
    let pruner = tenon_events::spawn_pruner(
        state.store().clone(),
        state.config().delivery.event_retention_days,
    );
    let app =
        router_with(state, extra).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    hub.wait_idle(stream::SHUTDOWN_WAIT).await;
    maintenance.abort();
    // A timer fired half-way rolls back and fires again after its lease.
    timers.abort();
    stream_lease.abort();
    // A delivery cut short here is retried after its lease, by this node or another.
    for worker in workers {
        worker.abort();
    }
    // A flow step cut short rolls back; its run is claimed again after its lease.
    for worker in flow_workers {
        worker.abort();
    }
    // A pruning batch cut short rolls back; the next start prunes again.
    if let Some(pruner) = pruner {
        pruner.abort();
    }
    served
}

/// Background chores of a node: forget idle rate-limit buckets, purge expired credentials, the used
/// proofs of work that expired and the public form uploads never submitted whose time ran out.
async fn maintain(state: AppState) {
    let mut sweep = tokio::time::interval(LIMITER_SWEEP_INTERVAL);
    let mut purge = tokio::time::interval(CREDENTIAL_PURGE_INTERVAL);
    loop {
        tokio::select! {
            _ = sweep.tick() => state.limiter().forget_idle(),
            _ = purge.tick() => {
                match state.store().purge_expired_credentials().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired sessions and access tokens deleted"),
                    Err(error) => tracing::warn!(%error, "could not purge expired credentials"),
                }
                if let Err(error) = state.store().purge_spent_challenges().await {
                    tracing::warn!(%error, "could not forget expired proofs of work");
                }
                match state.store().purge_expired_form_uploads().await {
                    Ok(purged) if purged.uploads == 0 => {}
                    Ok(purged) => tracing::info!(
                        uploads = purged.uploads,
                        files = purged.files,
                        "expired form uploads never submitted deleted"
                    ),
                    Err(error) => tracing::warn!(%error, "could not purge expired form uploads"),
                }
            }
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        tenon_model::ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    )
}

/// Answers 408 in the error shape when a request takes longer than [`REQUEST_TIMEOUT`] to produce its
/// response (a stream's body, once started, is not limited), and drops the work.
async fn timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            tenon_model::ErrorCode::RequestTimeout,
            format!(
                "the request took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .with("seconds", REQUEST_TIMEOUT.as_secs())
        .into_response(),
    }
}

/// Adds `Server-Timing: app;dur=<ms>`: the time spent inside Tenon, without the network.
async fn server_timing(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={millis:.3}")) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        tenon_model::ErrorCode::Internal,
        "the server failed to complete the request",
    )
    .into_response()
}
