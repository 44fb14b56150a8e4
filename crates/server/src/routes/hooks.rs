//! `POST /api/v1/hooks/{slug}`: the webhook trigger of a flow (`trigger: {webhook: {}}`). The slug is the
//! credential: secret, minted when the flow is first published, shown as the flow's `hook_url`. A signed
//! hook (`webhook: {signed: true}`) also wants a Standard Webhooks signature made with the flow's
//! `hook_secret`. Reference: docs/flows.md.
//!
//! Checks, in order: an unknown slug (or a disabled flow) is 404, a body over 1 MiB 413, a missing or
//! wrong signature 401, a body that is not JSON 400, a body without the hook's typed inputs 422 — none of
//! them starts a run. Otherwise one run starts (one per `Idempotency-Key`, or `webhook-id` of a signed
//! request, within 24 hours): 202 `{run_id}`, or with `wait` (the flow's or `?wait=true`) the run's result
//! once it ends.

use std::time::Duration;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_flows::RunStatus;
use tenon_model::ErrorCode;
use tenon_store::flows::{FlowRun, Hook};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery};
use crate::state::AppState;

/// The largest body a hook accepts.
pub const HOOK_BODY_BYTES_MAX: usize = 1024 * 1024;
/// How far a signed request's `webhook-timestamp` may be from the server's clock.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;
/// How long a request with `wait` waits for the run to end before it answers 202.
pub const WAIT_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HookParams {
    /// Wait (up to 30 s) for the run to end and answer its result; the flow's `webhook: {wait: true}`
    /// does the same for every request.
    pub wait: Option<bool>,
}

/// What a hook request answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookOut {
    pub run_id: String,
    /// The run's status: `queued` (202) or, after waiting, `succeeded` or `failed` (200).
    pub status: String,
    /// After waiting: each step's output by step key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// After waiting, for a failed run: `{"step", "error"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub error: Option<Value>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Checks a Standard Webhooks signature: `webhook-id`, `webhook-timestamp` within 5 minutes of the
/// server's clock, and one of the `v1,<base64>` signatures of `webhook-signature` matching.
fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    let refused = |why: &str| ApiError::unauthenticated(format!("the webhook signature {why}"));
    let id = header(headers, "webhook-id").ok_or_else(|| refused("is missing: no webhook-id"))?;
    let timestamp: i64 = header(headers, "webhook-timestamp")
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| refused("is missing: no webhook-timestamp"))?;
    if (now.timestamp() - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(refused(
            "is too old or too new: webhook-timestamp is more than 5 minutes from now",
        ));
    }
    let key = tenon_events::signing::secret_key(secret).ok_or_else(|| {
        tracing::error!("a hook's secret is not a whsec_ secret");
        ApiError::new(ErrorCode::Internal, ErrorCode::Internal.template())
    })?;
    let expected = tenon_events::signing::signature(&key, id, timestamp, body);
    let given = header(headers, "webhook-signature").unwrap_or("");
    let matches = given
        .split_whitespace()
        .any(|candidate| constant_time_eq(candidate.as_bytes(), expected.as_bytes()));
    if matches {
        Ok(())
    } else {
        Err(refused("does not match"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn idempotency_key(headers: &HeaderMap, signed: bool) -> ApiResult<Option<&str>> {
    let key = match headers.get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|key| !key.is_empty() && key.len() <= 255)
                .ok_or_else(|| {
                    ApiError::invalid_request("Idempotency-Key must be 1 to 255 visible characters")
                })?,
        ),
        // A signed request's id is its sender's idempotency key (Standard Webhooks).
        None if signed => header(headers, "webhook-id").filter(|id| id.len() <= 255),
        None => None,
    };
    Ok(key)
}

fn result(run: FlowRun) -> HookOut {
    let ended = matches!(
        run.status,
        RunStatus::Succeeded | RunStatus::Failed | RunStatus::Canceled
    );
    let output = ended.then(|| {
        Value::Object(
            run.steps
                .iter()
                .filter_map(|step| Some((step.key.clone(), step.output.clone()?)))
                .collect(),
        )
    });
    HookOut {
        run_id: run.id.to_string(),
        status: run.status.as_str().to_owned(),
        output,
        error: run.error,
    }
}

/// Start a run of a webhook flow with the request's JSON body as its payload.
#[utoipa::path(post, path = "/api/v1/hooks/{slug}", tag = "flows",
    params(("slug" = String, Path, description = "The hook's secret slug (the flow's hook_url)"), HookParams,
        ("Idempotency-Key" = Option<String>, Header, description = "A repeat within 24 hours answers the first request's run"),
        ("webhook-id" = Option<String>, Header, description = "Standard Webhooks: the message id (the idempotency key of a signed request without Idempotency-Key)"),
        ("webhook-timestamp" = Option<String>, Header, description = "Standard Webhooks: Unix seconds, within 5 minutes of the server's clock"),
        ("webhook-signature" = Option<String>, Header, description = "Standard Webhooks: v1,<base64 HMAC-SHA256>; required by a signed hook")),
    request_body(content = Object, description = "Any JSON; the run's {trigger.payload}"),
    responses((status = 202, description = "The run started (or the one an earlier request with the same key started)", body = HookOut),
        (status = 200, description = "With wait: the run ended", body = HookOut),
        (status = 400, body = ErrorBody),
        (status = 401, description = "A signed hook's signature is missing, stale or wrong", body = ErrorBody),
        (status = 404, description = "No such hook, or its flow is disabled", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 422, description = "The body lacks the hook's typed inputs", body = ErrorBody)))]
pub async fn receive(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(params): ApiQuery<HookParams>,
    request: Request,
) -> ApiResult<Response> {
    let store = state.store();
    let hook: Hook = store
        .find_hook(&slug)
        .await?
        .ok_or_else(|| ApiError::not_found("hook"))?;
    let headers = request.headers().clone();
    let ApiBytes(body) = ApiBytes::from_request(request, &state).await?;
    if let Some(secret) = &hook.secret {
        verify(secret, &headers, &body, store.now())?;
    }
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {error}"),
            )
        })?
    };
    let key = idempotency_key(&headers, hook.secret.is_some())?;
    let tenant = store.tenant(hook.org_id);
    let started = tenant.start_hook_run(&hook, payload, key).await?;
    if !(started.wait || params.wait.unwrap_or(false)) {
        return Ok((StatusCode::ACCEPTED, axum::Json(result(started.run))).into_response());
    }
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    let mut run = started.run;
    loop {
        if matches!(
            run.status,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Canceled
        ) {
            return Ok((StatusCode::OK, axum::Json(result(run))).into_response());
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((StatusCode::ACCEPTED, axum::Json(result(run))).into_response());
        }
        let woken = store.commits().notified();
        let _ = tokio::time::timeout(Duration::from_millis(100), woken).await;
        run = tenant.flow_run(run.id).await?;
    }
}
