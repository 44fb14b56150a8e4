//! Events live, for browsers and dashboards: `GET /api/v1/events/stream` (Server-Sent Events), and one
//! event by id (`GET /api/v1/events/{id}`, where stream frames point when an event is too large to carry).
//!
//! The SSE stream sends `id: <event id>`, `event: <type>`, `data: <envelope>` per event, oldest first, and a
//! keep-alive comment every 15 s. It starts after `Last-Event-ID` (what `EventSource` sends when it
//! reconnects) or `after=`, else with the events committed from now on. Like the replay API it shows only the
//! types the credential's scopes allow. Nothing is acknowledged: a consumer that needs every event resumes
//! with its last event id, which the event retention may have deleted since (410 `event_expired`, as for
//! the replay API). A stream ends after 15 minutes (`EventSource` reconnects by itself), so that a
//! revoked credential stops receiving within that time. A member of an app with permissions sees only the
//! record events her read rule and field rules allow ([`crate::service::event_sight`]), here and by id.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tenon_model::{Event, EventId, OrgId};
use utoipa::IntoParams;

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::routes::events::{EventOut, check_readable, readable_requested_types};
use crate::service::event_sight::EventSight;
use crate::state::AppState;

/// Events read per query of the outbox.
const EVENTS_PER_READ: u32 = 100;
/// How often the outbox is read when no commit of this process woke the stream (other nodes, the CLI).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// A stream ends after this long; `EventSource` reconnects with `Last-Event-ID`, which authenticates again,
/// so a revoked credential or a narrowed scope takes effect within this time.
const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventStreamParams {
    /// Start after this event id; the `Last-Event-ID` header wins. Default: only events from now on.
    pub after: Option<String>,
    /// Comma-separated types or families: `record.created,member.*`. Default: every type the
    /// credential may read.
    pub types: Option<String>,
}

/// Events as they commit, as Server-Sent Events (`id`, `event`, `data`); `Last-Event-ID` resumes.
#[utoipa::path(
    get, path = "/api/v1/events/stream", tag = "events",
    params(EventStreamParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "text/event-stream of event envelopes", content_type = "text/event-stream", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 410, description = "`event_expired`: `Last-Event-ID` or `after` names an event older than \
            the retention, deleted since. Start again without them", body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn stream_events(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventStreamParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let types = readable_requested_types(params.types.as_deref(), auth.principal.scopes)?;
    let org_id = auth.principal.org_id;
    let tenant = state.store().tenant(org_id);
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (field, after) = match (last_event_id, params.after) {
        (Some(id), _) if !id.is_empty() => ("Last-Event-ID", Some(id)),
        (_, Some(id)) if !id.is_empty() => ("after", Some(id)),
        _ => ("", None),
    };
    let seq = match after {
        None => tenant.last_event_seq().await?,
        Some(text) => {
            let id: EventId = text.parse().map_err(|_| {
                ApiError::invalid_request(format!("{field}: not an event id"))
                    .with_detail(tenon_model::Reason::format("id", "not an event id").at(field))
            })?;
            tenant.event_cursor(id).await.map_err(|error| match error {
                tenon_store::StoreError::EventExpired { retention_days } => {
                    ApiError::event_expired(field, retention_days)
                }
                other => ApiError::from(other),
            })?
        }
    };
    let follower = Follower {
        sight: EventSight::of(&auth.principal.actor),
        state: state.clone(),
        org_id,
        types,
        seq,
        buffer: VecDeque::new(),
        ends_at: tokio::time::Instant::now() + STREAM_LIFETIME,
    };
    let stream = futures_util::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        let frame = SseEvent::default()
            .id(event.id.to_string())
            .event(event.event_type.clone())
            .data(serde_json::to_string(&EventOut::from(event)).unwrap_or_default());
        Some((Ok(frame), follower))
    });
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(KEEP_ALIVE_INTERVAL)
            .text("keep-alive"),
    ))
}

/// One event by id, with the same scope rule as the list.
#[utoipa::path(
    get, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "The event id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = EventOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_event(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EventOut>> {
    let id: EventId = id.parse().map_err(|_| ApiError::not_found("event"))?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let Some(event) = tenant.event(id).await? else {
        // Deleted by the retention: 410, as for a cursor; never existed: 404.
        return Err(match tenant.event_cursor(id).await {
            Err(tenon_store::StoreError::EventExpired { retention_days }) => {
                ApiError::event_expired("id", retention_days)
            }
            Err(other) => other.into(),
            Ok(_) => ApiError::not_found("event"),
        });
    };
    check_readable(&[event.event_type.as_str()], auth.principal.scopes)?;
    // An event of a record the member may not read is not found, as if it did not exist.
    let mut sight = EventSight::of(&auth.principal.actor);
    let Some(event) = sight
        .filter(&state, &tenant, vec![event])
        .await?
        .into_iter()
        .next()
    else {
        return Err(ApiError::not_found("event"));
    };
    Ok(axum::Json(EventOut::from(event)))
}

/// Reads the outbox after `seq`, waiting for commits when it has nothing.
struct Follower {
    /// The member's sight, refreshed at every read so that changed permissions apply at once.
    sight: EventSight,
    state: AppState,
    org_id: OrgId,
    types: Vec<&'static str>,
    seq: i64,
    buffer: VecDeque<Event>,
    ends_at: tokio::time::Instant,
}

impl Follower {
    /// The next event; `None` when the stream's lifetime is over.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(event);
            }
            if tokio::time::Instant::now() >= self.ends_at {
                return None;
            }
            let store = self.state.store().clone();
            let commits = store.commits().clone();
            let notified = commits.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let tenant = store.tenant(self.org_id);
            match tenant
                .events_after(self.seq, &self.types, EVENTS_PER_READ)
                .await
            {
                Ok(events) if !events.is_empty() => {
                    let last = events.last().map(|last| last.seq);
                    self.sight.refresh();
                    match self.sight.filter(&self.state, &tenant, events).await {
                        Ok(visible) => {
                            if let Some(last) = last {
                                self.seq = last;
                            }
                            self.buffer.extend(visible);
                            continue;
                        }
                        Err(error) => {
                            tracing::warn!(
                                ?error,
                                "event stream permission check failed; retrying"
                            );
                        }
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "event stream read failed; retrying"),
            }
            let _ = tokio::time::timeout(POLL_INTERVAL, notified).await;
        }
    }
}
