//! `/api/v1/flows` and `/api/v1/flow-runs`: connection flows (published through app import, `flows:` of a
//! `tenon.app/v1` file), their runs with the step journal, and a person's commands — start a manual
//! flow, cancel a run, retry a failed step. Reference: docs/flows.md.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_flows::RunStatus;
use tenon_model::{DetailCode, FieldError, FlowRunId, Page};
use tenon_store::flows::{FlowRun, Hook, RunFilter, StepEntry, StoredFlow};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PageParams, Paged};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowOut {
    pub id: String,
    #[schema(example = "t2_followup")]
    pub key: String,
    pub name: String,
    pub app_id: Option<String>,
    /// The table of the record trigger, or of the approval trigger's process, if the flow has one.
    pub table_id: Option<String>,
    pub enabled: bool,
    /// The published version; runs keep the version they started with.
    pub version: i32,
    /// The definition as published.
    #[schema(value_type = Object)]
    pub definition: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A webhook flow's `POST` address (`/api/v1/hooks/<secret slug>`): whoever knows it starts runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_url: Option<String>,
    /// A signed webhook flow's Standard Webhooks secret (`whsec_…`), which requests are signed with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_secret: Option<String>,
}

impl FlowOut {
    /// The flow with its hook, if it has one.
    pub fn with_hook(flow: StoredFlow, hooks: &[Hook]) -> Self {
        let hook = hooks.iter().find(|hook| hook.flow_id == flow.id);
        let mut out = FlowOut::from(flow);
        if let Some(hook) = hook {
            out.hook_url = Some(format!("/api/v1/hooks/{}", hook.slug));
            out.hook_secret = hook.secret.clone();
        }
        out
    }
}

impl From<StoredFlow> for FlowOut {
    fn from(flow: StoredFlow) -> Self {
        FlowOut {
            id: flow.id.to_string(),
            key: flow.key,
            name: flow.name,
            app_id: flow.app_id.map(|id| id.to_string()),
            table_id: flow.table_id.map(|id| id.to_string()),
            enabled: flow.enabled,
            version: flow.version,
            definition: flow.definition,
            created_at: flow.created_at,
            updated_at: flow.updated_at,
            hook_url: None,
            hook_secret: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowList {
    pub items: Vec<FlowOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    pub key: String,
    #[serde(rename = "type")]
    #[schema(example = "create_record")]
    pub step_type: String,
    /// `pending`, `running`, `succeeded`, `retry_wait`, `failed`, `skipped` or `unknown_outcome`.
    pub status: String,
    pub attempts: i32,
    /// What the step computed from its formulas (field values, the record, the recipients).
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// What later steps read as `{steps.<key>.output.…}` (at most 64 KiB).
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// `{"kind", "message", "attempt"}` of the last failed attempt.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<StepEntry> for StepOut {
    fn from(step: StepEntry) -> Self {
        StepOut {
            key: step.key,
            step_type: step.step_type,
            status: step.status.as_str().to_owned(),
            attempts: step.attempts,
            input: step.input,
            output: step.output,
            error: step.error,
            started_at: step.started_at,
            finished_at: step.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowRunOut {
    pub id: String,
    pub flow: String,
    pub flow_id: String,
    pub version: i32,
    /// `queued`, `running`, `waiting`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    /// What started the run: `{"type": "record", "on", "change", "event_id", "record_id", "fields", …}`,
    /// `{"type": "approval", "event", "event_id", "instance_id", "status", "result", "record_id",
    /// "fields", …}` or `{"type": "manual", "payload", "by"}`.
    #[schema(value_type = Object)]
    pub trigger: Value,
    /// How deep the run nests (a run started by another run's write is one deeper; at most 8).
    pub depth: u32,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a waiting run is due again.
    pub next_at: Option<DateTime<Utc>>,
    /// The step journal (only on `GET /api/v1/flow-runs/{id}` and the commands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepOut>>,
}

impl FlowRunOut {
    fn new(run: FlowRun, with_steps: bool) -> Self {
        FlowRunOut {
            id: run.id.to_string(),
            flow: run.flow_key,
            flow_id: run.flow_id.to_string(),
            version: run.version,
            status: run.status.as_str().to_owned(),
            trigger: run.trigger,
            depth: run.depth,
            error: run.error,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            next_at: (run.status == RunStatus::Waiting).then_some(run.next_at),
            steps: with_steps.then(|| run.steps.into_iter().map(StepOut::from).collect()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    /// Only runs in this status.
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The flow's inputs (`trigger: {manual: {inputs: […]}}`), read as `{trigger.payload.<key>}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

/// List flows, by key.
#[utoipa::path(get, path = "/api/v1/flows", tag = "flows",
    security(("bearer" = ["flows:read"]), ("session" = ["flows:read"])),
    responses((status = 200, body = FlowList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_flows(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsRead>,
) -> ApiResult<axum::Json<FlowList>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let flows = tenant.list_flows().await?;
    let hooks = tenant.flow_hooks().await?;
    Ok(axum::Json(FlowList {
        items: flows
            .into_iter()
            .map(|flow| FlowOut::with_hook(flow, &hooks))
            .collect(),
    }))
}

/// Get a flow by id or key.
#[utoipa::path(get, path = "/api/v1/flows/{flow}", tag = "flows",
    params(("flow" = String, Path, description = "Flow id or key")),
    security(("bearer" = ["flows:read"]), ("session" = ["flows:read"])),
    responses((status = 200, body = FlowOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_flow(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsRead>,
    Path(flow): Path<String>,
) -> ApiResult<axum::Json<FlowOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let flow = tenant.flow(&flow).await?;
    let hooks: Vec<Hook> = tenant.flow_hook(flow.id).await?.into_iter().collect();
    Ok(axum::Json(FlowOut::with_hook(flow, &hooks)))
}

/// A flow's runs, newest first (without their journals).
#[utoipa::path(get, path = "/api/v1/flows/{flow}/runs", tag = "flows",
    params(("flow" = String, Path, description = "Flow id or key"), RunListParams, PageParams),
    security(("bearer" = ["flows:read"]), ("session" = ["flows:read"])),
    responses((status = 200, body = Paged<FlowRunOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_runs(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsRead>,
    Path(flow): Path<String>,
    ApiQuery(params): ApiQuery<RunListParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<FlowRunOut>>> {
    let status = match params.status.as_deref() {
        None => None,
        Some(raw) => Some(RunStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_query(
                FieldError::new("status", DetailCode::NotOneOf, "not a run status").with(
                    "allowed",
                    "queued, running, waiting, succeeded, failed, canceled",
                ),
            )
        })?),
    };
    let page = page.to_request::<FlowRunId>()?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let flow = tenant.flow(&flow).await?;
    let runs = tenant
        .flow_runs(
            flow.id,
            &RunFilter {
                status,
                before: page.after,
                limit: page.size() + 1,
            },
        )
        .await?;
    let page = Page::from_overfetch(runs, page.size(), |run| run.id);
    Ok(axum::Json(Paged::from_page(page, |run| {
        FlowRunOut::new(run, false)
    })))
}

/// Start a run of a manual flow with its payload. With an `Idempotency-Key` header, a repeated request
/// returns the run the first one started (per credential).
#[utoipa::path(post, path = "/api/v1/flows/{flow}/runs", tag = "flows",
    params(("flow" = String, Path, description = "Flow id or key")),
    request_body = StartRun,
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 201, description = "The run, queued", body = FlowRunOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The flow starts on its trigger, or is disabled", body = ErrorBody),
        (status = 422, description = "The payload does not fit the flow's inputs", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn start_run(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path(flow): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StartRun>,
) -> ApiResult<(StatusCode, axum::Json<FlowRunOut>)> {
    let key = match headers.get("idempotency-key") {
        None => None,
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
    };
    let key = key.map(|key| format!("{}:{key}", auth.principal.rate_key));
    let run = state
        .store()
        .tenant(auth.principal.org_id)
        .start_flow_run(
            &auth.write_context(),
            &flow,
            body.payload
                .unwrap_or_else(|| Value::Object(Default::default())),
            key.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(FlowRunOut::new(run, true))))
}

fn run_id(raw: &str) -> ApiResult<FlowRunId> {
    raw.parse().map_err(|_| ApiError::not_found("flow run"))
}

/// A run with its step journal: per step its input, output, attempts, error and timings.
#[utoipa::path(get, path = "/api/v1/flow-runs/{id}", tag = "flows",
    params(("id" = String, Path, description = "Run id")),
    security(("bearer" = ["flows:read"]), ("session" = ["flows:read"])),
    responses((status = 200, body = FlowRunOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_run(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsRead>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<FlowRunOut>> {
    let run = state
        .store()
        .tenant(auth.principal.org_id)
        .flow_run(run_id(&id)?)
        .await?;
    Ok(axum::Json(FlowRunOut::new(run, true)))
}

/// Cancel a queued, running or waiting run; its finished steps stay done.
#[utoipa::path(post, path = "/api/v1/flow-runs/{id}/cancel", tag = "flows",
    params(("id" = String, Path, description = "Run id")),
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 200, body = FlowRunOut), (status = 404, body = ErrorBody),
        (status = 409, description = "The run has ended", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<FlowRunOut>> {
    let run = state
        .store()
        .tenant(auth.principal.org_id)
        .cancel_flow_run(&auth.write_context(), run_id(&id)?)
        .await?;
    Ok(axum::Json(FlowRunOut::new(run, true)))
}

/// Retry the failed step of a failed run (with the run's version); the steps before it are not repeated.
#[utoipa::path(post, path = "/api/v1/flow-runs/{id}/steps/{step}/retry", tag = "flows",
    params(("id" = String, Path, description = "Run id"), ("step" = String, Path, description = "Step key")),
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 200, description = "The run, queued again", body = FlowRunOut), (status = 404, body = ErrorBody),
        (status = 409, description = "The run or the step has not failed", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn retry_step(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path((id, step)): Path<(String, String)>,
) -> ApiResult<axum::Json<FlowRunOut>> {
    let run = state
        .store()
        .tenant(auth.principal.org_id)
        .retry_flow_step(&auth.write_context(), run_id(&id)?, &step)
        .await?;
    Ok(axum::Json(FlowRunOut::new(run, true)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotOut {
    /// The slot's instant (a skipped wall time's slot is the DST gap's end).
    pub slot: DateTime<Utc>,
    /// `run` (its run started) or `missed` (after downtime, more than an hour old).
    pub status: String,
    pub run_id: Option<String>,
    /// Earlier slots of the same downtime that were passed over.
    pub skipped: i32,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotList {
    pub items: Vec<SlotOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotParams {
    /// How many slots, newest first (1–1000, default 100).
    pub limit: Option<u32>,
}

/// The slots a schedule flow's scheduler handled, newest first: each `run` (with its run) or `missed`.
#[utoipa::path(get, path = "/api/v1/flows/{flow}/slots", tag = "flows",
    params(("flow" = String, Path, description = "Flow id or key"), SlotParams),
    security(("bearer" = ["flows:read"]), ("session" = ["flows:read"])),
    responses((status = 200, body = SlotList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_slots(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsRead>,
    Path(flow): Path<String>,
    ApiQuery(params): ApiQuery<SlotParams>,
) -> ApiResult<axum::Json<SlotList>> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_query(
            FieldError::new(
                "limit",
                DetailCode::OutOfRange,
                "must be between 1 and 1000",
            )
            .with("min", 1)
            .with("max", 1000),
        ));
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let flow = tenant.flow(&flow).await?;
    let slots = tenant.schedule_slots(flow.id, limit).await?;
    Ok(axum::Json(SlotList {
        items: slots
            .into_iter()
            .map(|slot| SlotOut {
                slot: slot.slot,
                status: slot.status,
                run_id: slot.run_id.map(|id| id.to_string()),
                skipped: slot.skipped,
                recorded_at: slot.recorded_at,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowPatch {
    /// A disabled flow starts no runs (its triggers are ignored, its hook answers 404); started runs go on.
    pub enabled: bool,
}

/// Enable or disable a flow (its definition changes only by import).
#[utoipa::path(patch, path = "/api/v1/flows/{flow}", tag = "flows",
    params(("flow" = String, Path, description = "Flow id or key")),
    request_body = FlowPatch,
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 200, body = FlowOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_flow(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path(flow): Path<String>,
    ApiJson(body): ApiJson<FlowPatch>,
) -> ApiResult<axum::Json<FlowOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let flow = tenant
        .set_flow_enabled(&auth.write_context(), &flow, body.enabled)
        .await?;
    let hooks: Vec<Hook> = tenant.flow_hook(flow.id).await?.into_iter().collect();
    Ok(axum::Json(FlowOut::with_hook(flow, &hooks)))
}

/// Delete a flow with its versions, runs and their journals, its hook and its schedule's slots.
#[utoipa::path(delete, path = "/api/v1/flows/{flow}", tag = "flows",
    params(("flow" = String, Path, description = "Flow id or key")),
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_flow(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path(flow): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store()
        .tenant(auth.principal.org_id)
        .delete_flow(&auth.write_context(), &flow)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start the run's flow again with the run's trigger data, as a new run of the flow's current version
/// (its `trigger.replay_of` names this run).
#[utoipa::path(post, path = "/api/v1/flow-runs/{id}/replay", tag = "flows",
    params(("id" = String, Path, description = "Run id")),
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 201, description = "The new run, queued", body = FlowRunOut), (status = 404, body = ErrorBody),
        (status = 409, description = "The flow is disabled", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn replay_run(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<FlowRunOut>)> {
    let run = state
        .store()
        .tenant(auth.principal.org_id)
        .replay_flow_run(&auth.write_context(), run_id(&id)?)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(FlowRunOut::new(run, true))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// `done`: the step happened (it counts as succeeded); `retry`: it did not (it runs again).
    #[schema(example = "done")]
    pub outcome: String,
}

/// Decide a step whose outcome is unknown (an outside call that may or may not have happened); the run
/// goes on.
#[utoipa::path(post, path = "/api/v1/flow-runs/{id}/steps/{step}/resolve", tag = "flows",
    params(("id" = String, Path, description = "Run id"), ("step" = String, Path, description = "Step key")),
    request_body = Resolve,
    security(("bearer" = ["flows:write"]), ("session" = ["flows:write"])),
    responses((status = 200, description = "The run, queued again", body = FlowRunOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The step's outcome is not unknown", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn resolve_step(
    State(state): State<AppState>,
    auth: Authed<scopes::FlowsWrite>,
    Path((id, step)): Path<(String, String)>,
    ApiJson(body): ApiJson<Resolve>,
) -> ApiResult<axum::Json<FlowRunOut>> {
    let resolution = match body.outcome.as_str() {
        "done" => tenon_store::flows::Resolution::Done,
        "retry" => tenon_store::flows::Resolution::Retry,
        _ => {
            return Err(ApiError::validation(tenon_model::Invalid(vec![
                FieldError::new("outcome", DetailCode::NotOneOf, "must be done or retry")
                    .with("allowed", "done, retry"),
            ])));
        }
    };
    let run = state
        .store()
        .tenant(auth.principal.org_id)
        .resolve_flow_step(&auth.write_context(), run_id(&id)?, &step, resolution)
        .await?;
    Ok(axum::Json(FlowRunOut::new(run, true)))
}
