//! `/api/v1/events`: the outbox, oldest first, for consumers that catch up after being away.
//!
//! Any credential may read it, and sees the event types its scopes allow: `record.*` with
//! `records:read`, `schema.changed` with `apps:read`, `member.*` and `department.*` with `directory:read`,
//! `voucher.posted` with `ledger:read`, `app.*` with `admin`. Asking by `types` for a type the credential may not read is 403.
//! A member of an app with permissions sees only the record events her read rule and field rules allow
//! ([`crate::service::event_sight`]).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::events::{self, EVENT_TYPE_PATTERNS_MAX};
use tenon_model::{Event, EventId, Page, PageRequest, ScopeSet};
use tenon_store::EVENTS_PER_READ_MAX;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, insufficient_scope, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, PageParams, Paged};
use crate::service::event_sight::EventSight;
use crate::state::AppState;

/// One event: the body of a webhook delivery, an item of the event list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Unique and sortable; the `webhook-id` of its deliveries.
    pub id: String,
    /// e.g. `record.created`, `record.updated`, `record.deleted`, `schema.changed`, `member.updated`,
    /// `department.created`, `app.installed`, `app.uninstalled`, `voucher.posted`.
    #[serde(rename = "type")]
    #[schema(example = "record.updated")]
    pub event_type: String,
    /// The organization's id.
    pub organization: String,
    pub occurred_at: DateTime<Utc>,
    /// `{"type": "member"|"token"|"app"|"system"|"flow"|"share", "id", "name"}`.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    /// What changed: `app_id`, `table_id`, `record_id`; or `member_id`, `department_id`,
    /// `installation_id`; or `book_id`, `voucher_id`.
    #[schema(value_type = Object)]
    pub subject: serde_json::Value,
    /// `{"before", "after", "changed"}`: the object (a record's fields by key) before and after the
    /// change (`null` where it did not exist) and the keys whose values differ. `schema.changed` adds
    /// `object` (`app`, `table`, `field`, `view`) and `action` (`created`, `updated`, `deleted`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for EventOut {
    fn from(event: Event) -> Self {
        EventOut {
            id: event.id.to_string(),
            event_type: event.event_type,
            organization: event.org_id.to_string(),
            occurred_at: event.occurred_at,
            actor: event.actor,
            subject: event.subject,
            data: event.data,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    /// List the events committed after this event id (exclusive). `cursor` does the same for pages.
    /// An event older than the retention may be gone: then 410 `event_expired`.
    pub after: Option<String>,
    /// Comma-separated types or families: `record.created,member.*`. Default: every type the
    /// credential may read.
    pub types: Option<String>,
}

/// Past events, oldest first (commit order), so a consumer that was down can catch up.
///
/// Events are kept for the server's retention (`--event-retention-days`, 30 days by default); an `after`
/// that names an event deleted since is 410 `event_expired`: start again without `after`.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(EventListParams, PageParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Paged<EventOut>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "`after` names no event of this organization", body = ErrorBody),
        (status = 410, description = "`event_expired`: `after` names an event older than the retention, \
            deleted since; the message says how many days events are kept. Start again without `after`", body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
    ApiQuery(params): ApiQuery<EventListParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<EventOut>>> {
    let types = readable_requested_types(params.types.as_deref(), auth.principal.scopes)?;
    let mut request: PageRequest<EventId> = page.to_request()?;
    if request.after.is_none()
        && let Some(after) = params.after.as_deref().filter(|a| !a.is_empty())
    {
        let id = after.parse().map_err(|_| {
            ApiError::bad_query(tenon_model::Reason::format("id", "not an event id").at("after"))
        })?;
        request.after = Some(id);
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let mut sight = EventSight::of(&auth.principal.actor);
    if sight.sees_everything() {
        let page = tenant.list_events(&types, request).await?;
        return Ok(axum::Json(Paged::from_page(page, EventOut::from)));
    }
    // A member: read on past the events she may not see until the page is full or the outbox ends.
    let mut seq = match request.after {
        None => 0,
        Some(id) => tenant.event_cursor(id).await?,
    };
    let size = request.size();
    let mut visible = Vec::new();
    while !types.is_empty() {
        let batch = tenant
            .events_after(seq, &types, EVENTS_PER_READ_MAX)
            .await?;
        let Some(last) = batch.last() else { break };
        seq = last.seq;
        let exhausted = batch.len() < EVENTS_PER_READ_MAX as usize;
        visible.extend(sight.filter(&state, &tenant, batch).await?);
        if exhausted || visible.len() > size as usize {
            break;
        }
    }
    let page = Page::from_overfetch(visible, size, |event: &Event| event.id);
    Ok(axum::Json(Paged::from_page(page, EventOut::from)))
}

/// Parses `types` (patterns) and checks the credential may read every type they select.
pub(crate) fn readable_requested_types(
    raw: Option<&str>,
    scopes: ScopeSet,
) -> ApiResult<Vec<&'static str>> {
    let Some(raw) = raw.filter(|raw| !raw.trim().is_empty()) else {
        return Ok(events::readable_types(scopes));
    };
    let patterns: Vec<&str> = raw.split(',').map(str::trim).collect();
    check_patterns(&patterns, "types")?;
    let types = events::expand_patterns(&patterns);
    check_readable(&types, scopes)?;
    Ok(types)
}

/// Every pattern names a known type; not too many.
pub(crate) fn check_patterns(patterns: &[&str], field: &str) -> ApiResult<()> {
    if patterns.len() > EVENT_TYPE_PATTERNS_MAX {
        let reason = format!("at most {EVENT_TYPE_PATTERNS_MAX} types");
        return Err(
            ApiError::invalid_request(format!("{field}: {reason}")).with_detail(
                tenon_model::Reason::too_many(EVENT_TYPE_PATTERNS_MAX, reason).at(field),
            ),
        );
    }
    if let Some(unknown) = patterns.iter().find(|p| !events::pattern_is_known(p)) {
        let reason = format!(
            "\"{unknown}\" is not an event type; types are {}, a family such as record.*, or *",
            events::EVENT_TYPES.join(", ")
        );
        return Err(ApiError::invalid_request(format!("{field}: {reason}"))
            .with_detail(tenon_model::Reason::format("event_type", reason).at(field)));
    }
    Ok(())
}

/// 403 when a type needs a scope the credential does not hold.
pub(crate) fn check_readable(types: &[&str], scopes: ScopeSet) -> ApiResult<()> {
    for event_type in types {
        if let Some(scope) = events::scope_for(event_type)
            && !scopes.grants(scope)
        {
            return Err(insufficient_scope(
                scope,
                format!("events of type {event_type} need the scope {scope}"),
            ));
        }
    }
    Ok(())
}
