//! `/api/v1/subscriptions`: webhook subscriptions, their delivery log, redelivery and test pings.
//!
//! Every route needs `events:manage`. A subscription made by an installed app belongs to that app: only
//! it sees it, and it receives only the event types its installation's scopes allow (checked when it
//! subscribes and again whenever events are fanned out). A subscription's event types must be readable by
//! its creator (`record.*` needs `records:read`, and so on). The signing secret is shown only in the
//! answers to create and rotate-secret.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::events::expand_patterns;
use tenon_model::subscriptions::{Delivery, DeliveryStatus, Subscription};
use tenon_model::{
    Actor, AppId, Checker, DeliveryId, DetailCode, EventId, Invalid, SubscriptionId, TableId,
};
use tenon_store::{NewSubscription, SubscriptionOwner, SubscriptionPatch};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, Authenticated, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, OptionalJson, PageParams, Paged, path_id};
use crate::routes::dingtalk::callbacks;
use crate::routes::events::{check_patterns, check_readable};
use crate::state::AppState;

/// Characters of a description at most.
const DESCRIPTION_CHARS_MAX: usize = 500;
/// Characters of a URL at most.
const URL_CHARS_MAX: usize = 2000;

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionOut {
    pub id: String,
    /// Where events are posted.
    #[schema(example = "https://hooks.example.com/tenon")]
    pub url: String,
    pub description: Option<String>,
    /// Types and families: `record.created`, `record.*`, `*`; DingTalk's names (`user_add_org`…) for a
    /// DingTalk-format subscription.
    pub event_types: Vec<String>,
    /// `native` (Standard Webhooks) or `dingtalk` (DingTalk's encrypted callbacks; docs/dingtalk.md).
    #[schema(example = "native")]
    pub format: &'static str,
    pub filter: SubscriptionFilter,
    /// The installed app that owns the subscription; `null` for the organization's own.
    pub installation_id: Option<String>,
    /// `false` after five days of failed deliveries without a success, or when disabled by request.
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; `null` while deliveries succeed.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Only events of this app and/or table (by id); absent parts do not filter.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionFilter {
    pub app_id: Option<String>,
    pub table_id: Option<String>,
}

impl From<Subscription> for SubscriptionOut {
    fn from(s: Subscription) -> Self {
        SubscriptionOut {
            id: s.id.to_string(),
            url: s.url,
            description: s.description,
            format: if s.dingtalk_event_types.is_some() {
                "dingtalk"
            } else {
                "native"
            },
            event_types: s.dingtalk_event_types.unwrap_or(s.event_types),
            filter: SubscriptionFilter {
                app_id: s.app_id.map(|id| id.to_string()),
                table_id: s.table_id.map(|id| id.to_string()),
            },
            installation_id: s.installation_id.map(|id| id.to_string()),
            enabled: s.enabled,
            disabled_reason: s.disabled_reason,
            failing_since: s.failing_since,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A subscription with its signing secret, shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionWithSecret {
    #[serde(flatten)]
    pub subscription: SubscriptionOut,
    /// The Standard Webhooks signing secret: `whsec_` and the base64 of 32 random bytes.
    #[schema(example = "whsec_…")]
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCreate {
    #[schema(example = "https://hooks.example.com/tenon")]
    pub url: String,
    #[schema(example = json!(["record.created", "record.updated"]))]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub filter: Option<SubscriptionFilter>,
    pub description: Option<String>,
    /// `native` (the default: Standard Webhooks, native types) or `dingtalk`: DingTalk's encrypted
    /// callbacks, with DingTalk's event types (`user_add_org`…) and `dingtalk` settings. Creating one sends
    /// an encrypted `check_url`, which must be answered with the encrypted `success`.
    #[schema(example = "native")]
    pub format: Option<String>,
    /// A DingTalk-format subscription's token and EncodingAESKey.
    pub dingtalk: Option<crate::routes::dingtalk::callbacks::DingTalkSettings>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Replaces the filter as a whole.
    pub filter: Option<SubscriptionFilter>,
    #[serde(default, deserialize_with = "crate::routes::nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled subscription.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `dead` (every attempt of the retry schedule failed).
    pub status: &'static str,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The latest attempts, oldest first.
    pub attempt_log: Vec<AttemptOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub at: DateTime<Utc>,
    /// `null` when no response arrived (refused, timed out, blocked).
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the response body (at most 1,024 characters).
    pub response_excerpt: Option<String>,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        DeliveryOut {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            finished_at: d.finished_at,
            attempt_log: d
                .attempt_log
                .into_iter()
                .map(|a| AttemptOut {
                    at: a.at,
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                    response_excerpt: a.response_excerpt,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverRequest {
    /// The first event to deliver again.
    pub event_id: String,
    /// The last event of the range (inclusive); absent: only `event_id`.
    pub to_event_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivered {
    /// Deliveries queued (events of the range that match the subscription).
    pub queued: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PingResult {
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    /// The id of the `webhook.ping` message sent.
    pub message_id: String,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

fn owner(auth: &Authenticated) -> SubscriptionOwner {
    match &auth.principal.actor {
        Actor::App {
            installation_id, ..
        } => SubscriptionOwner::Installation(*installation_id),
        _ => SubscriptionOwner::Organization,
    }
}

/// Checks the URL (syntax and outbound policy) into `check`.
async fn check_url(state: &AppState, check: &mut Checker, url: &str) {
    if url.chars().count() > URL_CHARS_MAX {
        check.add(tenon_model::Reason::too_long(URL_CHARS_MAX).at("url"));
        return;
    }
    if let Err(blocked) = state.sender().policy().check_url(url).await {
        check.push("url", DetailCode::BlockedAddress, blocked.0);
    }
}

fn check_types(auth: &Authenticated, types: &[String]) -> ApiResult<()> {
    let patterns: Vec<&str> = types.iter().map(String::as_str).collect();
    if patterns.is_empty() {
        return Err(Invalid::from(
            tenon_model::FieldError::new(
                "event_types",
                DetailCode::TooFew,
                "name at least one event type",
            )
            .with("min", 1),
        )
        .into());
    }
    check_patterns(&patterns, "event_types")?;
    check_readable(&expand_patterns(&patterns), auth.principal.scopes)
}

async fn check_filter(
    state: &AppState,
    auth: &Authenticated,
    check: &mut Checker,
    filter: &SubscriptionFilter,
) -> (Option<AppId>, Option<TableId>) {
    let tenant = state.store().tenant(auth.principal.org_id);
    let mut app = None;
    let mut table = None;
    if let Some(raw) = &filter.app_id {
        match raw.parse::<AppId>() {
            Ok(id) if tenant.app(raw).await.is_ok() => app = Some(id),
            _ => check.add(
                tenon_model::Reason::not_found("app", "no app with this id").at("filter.app_id"),
            ),
        }
    }
    if let Some(raw) = &filter.table_id {
        match raw.parse::<TableId>() {
            Ok(id) if tenant.table_schema_by_id(id).await.is_ok() => table = Some(id),
            _ => check.add(
                tenon_model::Reason::not_found("table", "no table with this id")
                    .at("filter.table_id"),
            ),
        }
    }
    (app, table)
}

fn check_description(check: &mut Checker, description: Option<&str>) {
    if description.is_some_and(|d| d.chars().count() > DESCRIPTION_CHARS_MAX) {
        check.add(tenon_model::Reason::too_long(DESCRIPTION_CHARS_MAX).at("description"));
    }
}

/// Subscribe a URL to events. The answer carries the signing secret, this once.
#[utoipa::path(
    post, path = "/api/v1/subscriptions", tag = "events",
    request_body = SubscriptionCreate,
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 201, body = SubscriptionWithSecret),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_subscription(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    ApiJson(body): ApiJson<SubscriptionCreate>,
) -> ApiResult<(StatusCode, axum::Json<SubscriptionWithSecret>)> {
    let format = callbacks::check_format(body.format.as_deref(), body.dingtalk, &body.event_types)?;
    let (event_types, dingtalk) = match format {
        callbacks::Format::Native => (body.event_types, None),
        callbacks::Format::DingTalk { native, callback } => (native, Some(callback)),
    };
    check_types(&auth, &event_types)?;
    let mut check = Checker::default();
    check_url(&state, &mut check, &body.url).await;
    check_description(&mut check, body.description.as_deref());
    let filter = body.filter.unwrap_or_default();
    let (app_id, table_id) = check_filter(&state, &auth, &mut check, &filter).await;
    check.finish()?;
    if let Some(callback) = &dingtalk {
        let owner_key = callbacks::owner_key(&state, &auth).await?;
        callbacks::check_url_handshake(&state, &body.url, callback, &owner_key).await?;
    }
    let secret = tenon_events::signing::generate_secret();
    let installation_id = match owner(&auth) {
        SubscriptionOwner::Installation(id) => Some(id),
        SubscriptionOwner::Organization => None,
    };
    let subscription = state
        .store()
        .tenant(auth.principal.org_id)
        .create_subscription(
            &auth.write_context(),
            NewSubscription {
                installation_id,
                url: body.url,
                description: body.description,
                event_types,
                app_id,
                table_id,
                secret: secret.clone(),
                dingtalk,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SubscriptionWithSecret {
            subscription: subscription.into(),
            secret,
        }),
    ))
}

/// The subscriptions the caller may see: an installed app sees its own, others see all.
#[utoipa::path(
    get, path = "/api/v1/subscriptions", tag = "events",
    params(PageParams),
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 200, body = Paged<SubscriptionOut>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<SubscriptionOut>>> {
    let page = state
        .store()
        .tenant(auth.principal.org_id)
        .list_subscriptions(owner(&auth), page.to_request()?)
        .await?;
    Ok(axum::Json(Paged::from_page(page, SubscriptionOut::from)))
}

#[utoipa::path(
    get, path = "/api/v1/subscriptions/{id}", tag = "events",
    params(("id" = String, Path, description = "Subscription id")),
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 200, body = SubscriptionOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_subscription(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<SubscriptionOut>> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    let subscription = state
        .store()
        .tenant(auth.principal.org_id)
        .subscription(owner(&auth), id)
        .await?;
    Ok(axum::Json(subscription.into()))
}

/// Change a subscription; `"enabled": true` re-enables a disabled one.
#[utoipa::path(
    patch, path = "/api/v1/subscriptions/{id}", tag = "events",
    params(("id" = String, Path, description = "Subscription id")),
    request_body = SubscriptionUpdate,
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 200, body = SubscriptionOut), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn update_subscription(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionUpdate>,
) -> ApiResult<axum::Json<SubscriptionOut>> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    let tenant = state.store().tenant(auth.principal.org_id);
    // 404 before 422: a subscription of someone else is not there to validate against.
    let current = tenant.subscription(owner(&auth), id).await?;
    if current.dingtalk_event_types.is_some() && (body.url.is_some() || body.event_types.is_some())
    {
        // A new URL or new types would need a new check_url handshake and new settings.
        return Err(ApiError::validation(Invalid::from(
            tenon_model::FieldError::new(
                if body.url.is_some() {
                    "url"
                } else {
                    "event_types"
                },
                DetailCode::NotAllowed,
                "a DingTalk-format subscription's URL and event types are fixed; create a new subscription",
            ),
        )));
    }
    if let Some(types) = &body.event_types {
        check_types(&auth, types)?;
    }
    let mut check = Checker::default();
    if let Some(url) = &body.url {
        check_url(&state, &mut check, url).await;
    }
    check_description(
        &mut check,
        body.description.as_ref().and_then(Option::as_deref),
    );
    let filter = match &body.filter {
        Some(filter) => Some(check_filter(&state, &auth, &mut check, filter).await),
        None => None,
    };
    check.finish()?;
    let patch = SubscriptionPatch {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        app_id: filter.map(|(app, _)| app),
        table_id: filter.map(|(_, table)| table),
        enabled: body.enabled,
    };
    let subscription = tenant
        .update_subscription(&auth.write_context(), owner(&auth), id, patch)
        .await?;
    Ok(axum::Json(subscription.into()))
}

/// Delete a subscription with its delivery log; nothing more is sent to it.
#[utoipa::path(
    delete, path = "/api/v1/subscriptions/{id}", tag = "events",
    params(("id" = String, Path, description = "Subscription id")),
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn delete_subscription(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    state
        .store()
        .tenant(auth.principal.org_id)
        .delete_subscription(&auth.write_context(), owner(&auth), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the signing secret; the answer carries the new one, this once.
#[utoipa::path(
    post, path = "/api/v1/subscriptions/{id}/rotate-secret", tag = "events",
    params(("id" = String, Path, description = "Subscription id")),
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 200, body = SubscriptionWithSecret), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn rotate_subscription_secret(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
    OptionalJson(_empty): OptionalJson<crate::extract::EmptyBody>,
) -> ApiResult<axum::Json<SubscriptionWithSecret>> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    let secret = tenon_events::signing::generate_secret();
    let subscription = state
        .store()
        .tenant(auth.principal.org_id)
        .rotate_subscription_secret(&auth.write_context(), owner(&auth), id, secret.clone())
        .await?;
    Ok(axum::Json(SubscriptionWithSecret {
        subscription: subscription.into(),
        secret,
    }))
}

/// The delivery log, newest first: every delivery with its status and latest attempts.
#[utoipa::path(
    get, path = "/api/v1/subscriptions/{id}/deliveries", tag = "events",
    params(("id" = String, Path, description = "Subscription id"), DeliveryListParams, PageParams),
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 200, body = Paged<DeliveryOut>), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeliveryListParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<DeliveryOut>>> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_query(
                tenon_model::Reason::not_one_of(
                    &["pending", "delivered", "dead"],
                    "must be pending, delivered or dead",
                )
                .at("status"),
            )
        })?),
    };
    let request: tenon_model::PageRequest<DeliveryId> = page.to_request()?;
    let page = state
        .store()
        .tenant(auth.principal.org_id)
        .list_deliveries(owner(&auth), id, status, request)
        .await?;
    Ok(axum::Json(Paged::from_page(page, DeliveryOut::from)))
}

/// Queue one event, or a range of events, again for this subscription (those of its types and filter).
#[utoipa::path(
    post, path = "/api/v1/subscriptions/{id}/redeliver", tag = "events",
    params(("id" = String, Path, description = "Subscription id")),
    request_body = RedeliverRequest,
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 202, body = Redelivered), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RedeliverRequest>,
) -> ApiResult<(StatusCode, axum::Json<Redelivered>)> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let subscription = tenant.subscription(owner(&auth), id).await?;
    let mut check = Checker::default();
    let from: Option<EventId> = check.field(
        "event_id",
        body.event_id
            .parse()
            .map_err(|_| tenon_model::Reason::format("id", "not an event id")),
    );
    let to: Option<Option<EventId>> = check.optional("to_event_id", body.to_event_id, |raw| {
        raw.parse()
            .map_err(|_| tenon_model::Reason::format("id", "not an event id"))
    });
    let (Some(from), Some(to)) = (from, to) else {
        return Err(check.into_invalid().into());
    };
    // The types it may receive now: its patterns, narrowed by the caller's scopes.
    let types: Vec<&str> = expand_patterns(&subscription.event_types)
        .into_iter()
        .filter(|t| {
            tenon_model::events::scope_for(t).is_some_and(|s| auth.principal.scopes.grants(s))
        })
        .collect();
    let queued = match tenant
        .redeliver(&auth.write_context(), owner(&auth), id, from, to, &types)
        .await
    {
        Ok(queued) => queued,
        Err(tenon_store::StoreError::NotFound { what: "event" }) => {
            return Err(ApiError::validation(Invalid::from(
                tenon_model::Reason::not_found("event", "no such event").at("event_id"),
            )));
        }
        Err(tenon_store::StoreError::EventExpired { retention_days }) => {
            // Which of the two ids the retention deleted: `event_id` when it is that one.
            let field = if to.is_some() && tenant.event(from).await?.is_some() {
                "to_event_id"
            } else {
                "event_id"
            };
            return Err(ApiError::event_expired(field, retention_days));
        }
        Err(other) => return Err(other.into()),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(Redelivered { queued })))
}

/// Send a signed `webhook.ping` message to the subscription's URL now and report how it went.
#[utoipa::path(
    post, path = "/api/v1/subscriptions/{id}/ping", tag = "events",
    params(("id" = String, Path, description = "Subscription id")),
    security(("bearer" = ["events:manage"]), ("session" = ["events:manage"])),
    responses(
        (status = 200, body = PingResult), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn ping(
    State(state): State<AppState>,
    auth: Authed<scopes::EventsManage>,
    Path(id): Path<String>,
    OptionalJson(_empty): OptionalJson<crate::extract::EmptyBody>,
) -> ApiResult<axum::Json<PingResult>> {
    let id: SubscriptionId = path_id(&id, "subscription")?;
    let (subscription, secret) = state
        .store()
        .tenant(auth.principal.org_id)
        .subscription_secret(owner(&auth), id)
        .await?;
    if subscription.dingtalk_event_types.is_some() {
        return Err(ApiError::validation(Invalid::from(
            tenon_model::FieldError::new(
                "id",
                DetailCode::NotAllowed,
                "a DingTalk-format subscription is not pinged; its check_url handshake ran when it was created",
            ),
        )));
    }
    let message_id = EventId::new().to_string();
    let body = serde_json::json!({
        "id": message_id,
        "type": "webhook.ping",
        "organization": auth.principal.org_id.to_string(),
        "occurred_at": state.store().now(),
        "actor": {"type": auth.principal.actor.kind(), "id": auth.principal.actor.id(), "name": auth.principal.actor.name()},
        "subject": {"subscription_id": subscription.id.to_string()},
        "data": {},
    });
    let result = state
        .sender()
        .send(
            &subscription.url,
            &secret,
            &message_id,
            serde_json::to_vec(&body).unwrap_or_default(),
        )
        .await;
    Ok(axum::Json(PingResult {
        delivered: result.succeeded(),
        message_id,
        status_code: result.status_code,
        latency_ms: result.latency_ms,
        error: result.error,
        response_excerpt: result.response_excerpt,
    }))
}
