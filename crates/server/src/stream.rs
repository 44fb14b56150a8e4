//! Stream mode: one WebSocket connection of an installed app, speaking DingTalk's Stream protocol.
//!
//! A connection serves every installation of its app (one per organization; `eventCorpId` names it). It
//! loops: ask the store for due events ([`tenon_store::Tenant::stream_pump`]), send each as an `EVENT` frame,
//! and wait for the next commit of this process, an acknowledgement, or the poll interval (writes of other
//! nodes do not wake it). Acknowledgements name the frame's `messageId`; the store keeps what is
//! unacknowledged, so nothing here must survive a crash. `SYSTEM` `ping` frames and WebSocket pings go out
//! regularly; a client that answers nothing for two intervals is dropped. On shutdown every connection gets a
//! `SYSTEM` `disconnect` frame, stops sending, and hands its unacknowledged events to the app's next
//! connection; so does a connection whose app was uninstalled everywhere or whose client secret was
//! rotated (re-checked whenever [`tenon_store::Store::credential_changes`] moves, for any node's rotation).
//!
//! Frames are built here and nowhere else: every header value is a string, `data` is JSON text, and a frame
//! stays under [`FRAME_BYTES_MAX`] by replacing a large event's `data` with a reference to
//! `GET /api/v1/events/{id}`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use serde_json::{Value, json};
use tenon_dingtalk::events::{dingtalk_type, native_types};
use tenon_model::events;
use tenon_model::{ClientAppId, Event, EventFormat, InstallationId, OrgId, StreamConnectionId};
use tenon_store::{STREAM_CONNECTION_TOUCH_EVERY, StreamClaim, Tenant};
use tokio::time::Instant;
use uuid::Uuid;

use crate::state::AppState;

/// Largest frame sent (the Java SDK refuses frames of 256 KiB and more), with room for the headers.
pub const FRAME_BYTES_MAX: usize = 250 * 1024;
/// How often a connection looks for due events when nothing woke it (commits of other nodes, the 60 s rule).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// After a `disconnect` frame, how long acknowledgements are still read before the socket is closed.
const DISCONNECT_GRACE: Duration = Duration::from_secs(5);
/// Message ids of unacknowledged frames a connection remembers at most (the store's queue bounds them too).
const MESSAGES_TRACKED_MAX: usize = 20_000;

/// The node's stream connections: tells them when the node is going away, and counts them so the node can
/// wait for their goodbyes.
#[derive(Clone)]
pub struct StreamHub {
    closing: tokio::sync::watch::Sender<bool>,
    open: Arc<tokio::sync::watch::Sender<usize>>,
    /// The ids of this node's recorded connections, refreshed together by [`keep_alive`].
    live: Arc<Mutex<HashSet<StreamConnectionId>>>,
}

impl Default for StreamHub {
    fn default() -> Self {
        StreamHub {
            closing: tokio::sync::watch::Sender::new(false),
            open: Arc::new(tokio::sync::watch::Sender::new(0)),
            live: Arc::new(Mutex::new(HashSet::new())),
        }
    }
}

impl StreamHub {
    /// Sends `disconnect` on every connection and makes them hand their unacknowledged events on.
    pub fn disconnect_all(&self) {
        self.closing.send_replace(true);
    }

    /// Waits until every connection has ended, or `deadline` passed.
    pub async fn wait_idle(&self, deadline: Duration) {
        let mut open = self.open.subscribe();
        let _ = tokio::time::timeout(deadline, open.wait_for(|n| *n == 0)).await;
    }

    fn enter(&self) -> OpenConnection {
        self.open.send_modify(|n| *n += 1);
        OpenConnection(self.open.clone())
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashSet<StreamConnectionId>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `id` refreshed while the returned guard lives.
    fn serve(&self, id: StreamConnectionId) -> ServedConnection {
        self.live().insert(id);
        ServedConnection {
            live: self.live.clone(),
            id,
        }
    }
}

/// A recorded connection this node refreshes while it lives.
struct ServedConnection {
    live: Arc<Mutex<HashSet<StreamConnectionId>>>,
    id: StreamConnectionId,
}

impl Drop for ServedConnection {
    fn drop(&mut self) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Refreshes every stream connection of this node every [`STREAM_CONNECTION_TOUCH_EVERY`], in one
/// statement, until aborted: the node's lease on what it has in flight. When the node dies the rows go
/// stale after [`tenon_store::STREAM_CONNECTION_STALE_AFTER`], and the app's connections on other nodes,
/// which look every [`POLL_INTERVAL`], take the events over.
pub async fn keep_alive(state: AppState) {
    let mut tick = tokio::time::interval(STREAM_CONNECTION_TOUCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ids: Vec<StreamConnectionId> = state.stream_hub().live().iter().copied().collect();
        if let Err(error) = state.store().touch_stream_connections(&ids).await {
            tracing::warn!(%error, "could not refresh the stream connections");
        }
    }
}

/// Counts one connection as open while it lives.
struct OpenConnection(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// At a node's start: connections of its previous run are gone (see
/// [`tenon_store::Store::forget_stream_connections_of_previous_run`]).
pub async fn node_started(state: &AppState) {
    match state
        .store()
        .forget_stream_connections_of_previous_run()
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            connections = n,
            "stream connections of the previous run forgotten"
        ),
        Err(error) => {
            tracing::warn!(%error, "could not forget the previous run's stream connections")
        }
    }
}

/// How long a node shutting down waits for its stream connections to say goodbye.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(7);

/// What a ticket granted: the app, and the event type patterns it subscribed to.
#[derive(Debug, Clone)]
pub struct StreamClient {
    pub client_app_id: ClientAppId,
    pub client_id: String,
    pub topics: Vec<String>,
    /// The client secret's digest the ticket was opened with: a rotated secret ends the connection.
    pub secret_digest: Vec<u8>,
    /// Subscribed before the ticket was taken, so no rotation after it goes unseen.
    pub credential_changes: tokio::sync::watch::Receiver<u64>,
}

/// What a connection subscribed to: native type patterns (`*`, `record.*`, `member.updated`) and DingTalk
/// event types (`user_modify_org`). A DingTalk type selects exactly the events rendered under that name,
/// as a DingTalk-format subscription's callbacks do: `user_modify_org` is the `member.updated` events that
/// do not set `left`, `user_leave_org` those that do and every `member.deleted`. The cursor passes the
/// events of a subscribed native type that no topic wants, as it passes events of other types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topics {
    patterns: Vec<String>,
    dingtalk: Vec<&'static str>,
}

impl Topics {
    pub fn new<S: AsRef<str>>(topics: &[S]) -> Topics {
        let mut parsed = Topics::default();
        for topic in topics {
            let topic = topic.as_ref();
            match tenon_dingtalk::events::EVENT_TYPES
                .iter()
                .find(|name| **name == topic)
            {
                Some(name) => parsed.dingtalk.push(*name),
                None => parsed.patterns.push(topic.to_owned()),
            }
        }
        parsed
    }

    /// The native types whose events may be wanted, in documentation order.
    pub fn types(&self) -> Vec<&'static str> {
        events::EVENT_TYPES
            .into_iter()
            .filter(|native| {
                self.patterns
                    .iter()
                    .any(|pattern| events::pattern_matches(pattern, native))
                    || self
                        .dingtalk
                        .iter()
                        .any(|name| native_types(name).is_some_and(|n| n.contains(native)))
            })
            .collect()
    }

    /// Whether a topic wants this event: its type matches a pattern, or its DingTalk rendering is a
    /// subscribed DingTalk type.
    pub fn wants(&self, event_type: &str, data: &Value) -> bool {
        self.patterns
            .iter()
            .any(|pattern| events::pattern_matches(pattern, event_type))
            || dingtalk_type(event_type, data).is_some_and(|name| self.dingtalk.contains(&name))
    }
}

/// Where an unacknowledged frame's event is queued.
#[derive(Debug, Clone, Copy)]
struct Sent {
    org_id: OrgId,
    installation_id: InstallationId,
    event_seq: i64,
}

/// Serves one upgraded connection until the client leaves, stops answering, or the node shuts down.
pub async fn serve_connection(mut socket: WebSocket, state: AppState, client: StreamClient) {
    let _open = state.stream_hub().enter();
    let store = state.store().clone();
    let connection_id = match store.open_stream_connection(client.client_app_id).await {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "could not record a stream connection");
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let _served = state.stream_hub().serve(connection_id);
    tracing::info!(%connection_id, client_id = %client.client_id, "stream connection opened");
    let mut connection = Connection {
        state,
        topics: Topics::new(&client.topics),
        client,
        connection_id,
        sent: HashMap::new(),
        by_event: HashMap::new(),
    };
    let reason = connection.run(&mut socket).await;
    if let Err(error) = store.close_stream_connection(connection_id).await {
        tracing::warn!(%error, %connection_id, "could not forget a closed stream connection");
    }
    tracing::info!(%connection_id, reason, "stream connection closed");
}

/// The digest of the app's client secret now; `None` when the app is gone or the store cannot say.
async fn current_secret(store: &tenon_store::Store, client_id: &str) -> Option<Vec<u8>> {
    match store.find_client(client_id).await {
        Ok(found) => found.map(|found| found.secret_digest.to_vec()),
        Err(error) => {
            tracing::warn!(%error, "could not read a stream client's secret");
            None
        }
    }
}

struct Connection {
    state: AppState,
    client: StreamClient,
    /// The client's topics, parsed once.
    topics: Topics,
    connection_id: StreamConnectionId,
    /// Message id → the queued event it carries.
    sent: HashMap<String, Sent>,
    /// (installation, event seq) → the message id of its latest attempt, to forget superseded attempts.
    by_event: HashMap<(InstallationId, i64), String>,
}

impl Connection {
    async fn run(&mut self, socket: &mut WebSocket) -> &'static str {
        let store = self.state.store().clone();
        let mut closing = self.state.stream_hub().closing.subscribe();
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        // A client silent for two ping intervals is gone (half-open sockets included).
        let ping_interval = self.state.config().stream_ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
        let mut last_heard = Instant::now();
        let mut pump_now = true;
        // Credentials changed somewhere: the app's secret may have been rotated (on any node).
        let mut credentials = self.client.credential_changes.clone();
        loop {
            if *closing.borrow_and_update() {
                return self.planned_disconnect(socket).await;
            }
            // Created before reading, so a commit during the pump still wakes the wait below.
            let commits = store.commits().clone();
            let notified = commits.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pump_now {
                pump_now = false;
                match self.pump().await {
                    Ok(None) => return self.planned_disconnect(socket).await,
                    Ok(Some(frames)) => {
                        for frame in frames {
                            if socket.send(Message::Text(frame.into())).await.is_err() {
                                return "send failed";
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "stream pump failed; retrying"),
                }
            }
            tokio::select! {
                message = socket.recv() => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => pump_now |= self.acknowledge(&text).await,
                        Some(Ok(Message::Close(_))) | None => return "closed by the client",
                        Some(Err(_)) => return "connection lost",
                        Some(Ok(_)) => {}
                    }
                }
                () = &mut notified => pump_now = true,
                _ = poll.tick() => pump_now = true,
                _ = ping.tick() => {
                    if last_heard.elapsed() > 2 * ping_interval {
                        return "client silent";
                    }
                    let opaque = Uuid::now_v7().to_string();
                    let frame = system_frame("ping", &json!({"opaque": opaque}), self.now_ms());
                    if socket.send(Message::Text(frame.into())).await.is_err()
                        || socket.send(Message::Ping(opaque.into_bytes().into())).await.is_err()
                    {
                        return "send failed";
                    }
                }
                changed = closing.changed() => {
                    if changed.is_err() {
                        return self.planned_disconnect(socket).await;
                    }
                }
                changed = credentials.changed() => {
                    if changed.is_err() {
                        return self.planned_disconnect(socket).await;
                    }
                    let now = current_secret(&store, &self.client.client_id).await;
                    if now.is_some_and(|now| now != self.client.secret_digest) {
                        // The app must open a new connection with its new secret.
                        return self.planned_disconnect(socket).await;
                    }
                }
            }
        }
    }

    /// Claims due events of every installation of the app and returns their frames; `None` when the app
    /// is installed nowhere any more (the connection then says goodbye).
    async fn pump(&mut self) -> tenon_store::Result<Option<Vec<String>>> {
        let store = self.state.store().clone();
        let installations = store
            .installations_of_client(self.client.client_app_id)
            .await?;
        if installations.is_empty() {
            return Ok(None);
        }
        let mut frames = Vec::new();
        for installation in installations {
            // A DingTalk-format installation hears only the events DingTalk has names for.
            let dingtalk = installation.event_format == EventFormat::DingTalk;
            let types: Vec<&str> = self
                .topics
                .types()
                .into_iter()
                .filter(|t| events::scope_for(t).is_some_and(|s| installation.scopes.grants(s)))
                .filter(|t| !dingtalk || tenon_dingtalk::events::renders(t))
                .collect();
            if types.is_empty() {
                // Callback-only subscriptions, or scopes that read no event family: nothing to pump.
                continue;
            }
            let tenant: Tenant<'_> = store.tenant(installation.org_id);
            let topics = &self.topics;
            let wanted = |event: &Event| topics.wants(&event.event_type, &event.data);
            let claims = tenant
                .stream_pump_wanted(installation.id, self.connection_id, &types, &wanted)
                .await?;
            for claim in claims {
                let frame = if dingtalk {
                    match tenon_events::dingtalk::render(&store, &claim.event).await? {
                        Some(rendering) => dingtalk_frame(
                            &claim,
                            &rendering,
                            &self.client.client_id,
                            self.now_ms(),
                        ),
                        None => {
                            // Nothing DingTalk can be told (a department deleted before its events
                            // carried its number): done without a frame, as a callback is.
                            tenant
                                .stream_ack(installation.id, &claim.message_id)
                                .await?;
                            continue;
                        }
                    }
                } else {
                    event_frame(&claim, &self.client.client_id, self.now_ms())
                };
                frames.push(frame);
                self.remember(installation.org_id, installation.id, &claim);
            }
        }
        Ok(Some(frames))
    }

    fn remember(&mut self, org_id: OrgId, installation_id: InstallationId, claim: &StreamClaim) {
        let key = (installation_id, claim.event.seq);
        if let Some(previous) = self.by_event.insert(key, claim.message_id.clone()) {
            self.sent.remove(&previous);
        }
        if self.sent.len() >= MESSAGES_TRACKED_MAX {
            // Unreachable while the store bounds the queue; forgetting only costs a redelivery.
            self.sent.clear();
            self.by_event.clear();
        }
        self.sent.insert(
            claim.message_id.clone(),
            Sent {
                org_id,
                installation_id,
                event_seq: claim.event.seq,
            },
        );
    }

    /// Handles a client frame; `true` when an event was acknowledged (the next event of its record may go).
    async fn acknowledge(&mut self, text: &str) -> bool {
        let Some(ack) = Ack::parse(text) else {
            tracing::debug!("stream frame that is not an acknowledgement ignored");
            return false;
        };
        let Some(sent) = self.sent.get(&ack.message_id).copied() else {
            // A ping's echo, or an attempt superseded by a redelivery.
            return false;
        };
        if !ack.done {
            // Redelivered by the 60 s rule.
            return false;
        }
        self.sent.remove(&ack.message_id);
        self.by_event
            .remove(&(sent.installation_id, sent.event_seq));
        match self
            .state
            .store()
            .tenant(sent.org_id)
            .stream_ack(sent.installation_id, &ack.message_id)
            .await
        {
            Ok(acknowledged) => acknowledged,
            Err(error) => {
                tracing::warn!(%error, "could not record a stream acknowledgement");
                false
            }
        }
    }

    /// Says `disconnect`, gives up the connection's events at once, reads late acknowledgements for a
    /// moment, then closes.
    async fn planned_disconnect(&mut self, socket: &mut WebSocket) -> &'static str {
        let frame = system_frame(
            "disconnect",
            &json!({"reason": "the server is shutting down, or the app was uninstalled; reconnect"}),
            self.now_ms(),
        );
        let _ = socket.send(Message::Text(frame.into())).await;
        if let Err(error) = self
            .state
            .store()
            .close_stream_connection(self.connection_id)
            .await
        {
            tracing::warn!(%error, "could not release a stream connection's events");
        }
        let deadline = tokio::time::sleep(DISCONNECT_GRACE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                message = socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => { self.acknowledge(&text).await; }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                () = &mut deadline => break,
            }
        }
        let _ = socket.send(Message::Close(None)).await;
        "planned disconnect"
    }

    fn now_ms(&self) -> i64 {
        self.state.store().now().timestamp_millis()
    }
}

/// A client's acknowledgement: `{"code": 200, "headers": {"messageId": …}, "message", "data"}`.
#[derive(Debug, PartialEq, Eq)]
pub struct Ack {
    pub message_id: String,
    /// `code == 200`, unless `data` is an object whose `status` is `"LATER"` (the Java SDK's retry).
    pub done: bool,
}

impl Ack {
    pub fn parse(text: &str) -> Option<Ack> {
        let frame: Value = serde_json::from_str(text).ok()?;
        let message_id = frame["headers"]["messageId"].as_str()?.to_owned();
        let code = frame["code"]
            .as_i64()
            .or_else(|| frame["code"].as_str().and_then(|c| c.parse().ok()));
        let later = match &frame["data"] {
            Value::String(text) => serde_json::from_str::<Value>(text)
                .ok()
                .is_some_and(|data| data["status"] == "LATER"),
            Value::Object(data) => data.get("status").is_some_and(|s| s == "LATER"),
            _ => false,
        };
        Some(Ack {
            message_id,
            done: code == Some(200) && !later,
        })
    }
}

/// An `EVENT` frame for a claimed event. A frame that would reach [`FRAME_BYTES_MAX`] carries the envelope
/// with `data` replaced by `{"omitted": true, "href": "/api/v1/events/<id>"}`.
pub fn event_frame(claim: &StreamClaim, client_id: &str, now_ms: i64) -> String {
    let event = &claim.event;
    let headers = json!({
        "topic": "*",
        "messageId": claim.message_id,
        "eventId": event.id.to_string(),
        "eventType": event.event_type,
        "eventCorpId": event.org_id.to_string(),
        "eventUnifiedAppId": client_id,
        "eventBornTime": event.occurred_at.timestamp_millis().to_string(),
        "contentType": "application/json",
        "time": now_ms.to_string(),
        "attempt": claim.attempt.to_string(),
    });
    let mut envelope = events::delivery_body(event, claim.events_expired.as_ref());
    let frame = |envelope: &Value| {
        json!({"specVersion": "1.0", "type": "EVENT", "headers": headers, "data": envelope.to_string()})
            .to_string()
    };
    let full = frame(&envelope);
    if full.len() < FRAME_BYTES_MAX {
        return full;
    }
    envelope["data"] = json!({
        "omitted": true,
        "reason": "the event is too large for one frame; fetch it",
        "href": format!("/api/v1/events/{}", event.id),
    });
    frame(&envelope)
}

/// An `EVENT` frame of a DingTalk-format installation: DingTalk's `eventType` (`user_add_org`…) and its
/// camelCase `data` with the userid or department number (`tenon_dingtalk::events`).
pub fn dingtalk_frame(
    claim: &StreamClaim,
    rendering: &tenon_events::dingtalk::Rendering,
    client_id: &str,
    now_ms: i64,
) -> String {
    let event = &claim.event;
    let corp_id = event.org_id.to_string();
    let born = event.occurred_at.timestamp_millis();
    let data = tenon_dingtalk::events::stream_data(
        &rendering.subject,
        &corp_id,
        &event.id.to_string(),
        born,
    );
    json!({
        "specVersion": "1.0",
        "type": "EVENT",
        "headers": {
            "topic": "*",
            "messageId": claim.message_id,
            "eventId": event.id.to_string(),
            "eventType": rendering.event_type,
            "eventCorpId": corp_id,
            "eventUnifiedAppId": client_id,
            "eventBornTime": born.to_string(),
            "contentType": "application/json",
            "time": now_ms.to_string(),
            "attempt": claim.attempt.to_string(),
        },
        "data": data.to_string(),
    })
    .to_string()
}

/// A `SYSTEM` frame (`ping`, `disconnect`) with its own message id.
pub fn system_frame(topic: &str, data: &Value, now_ms: i64) -> String {
    json!({
        "specVersion": "1.0",
        "type": "SYSTEM",
        "headers": {
            "topic": topic,
            "messageId": Uuid::now_v7().to_string(),
            "contentType": "application/json",
            "time": now_ms.to_string(),
        },
        "data": data.to_string(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dingtalk_topic_wants_exactly_the_events_rendered_under_its_name() {
        let member = |before: &str, after: &str| json!({"before": {"status": before}, "after": {"status": after}});
        let (modified, left) = (member("active", "active"), member("active", "left"));
        let deleted = json!({"before": {"status": "active"}, "after": null});

        let modify = Topics::new(&["user_modify_org"]);
        assert_eq!(modify.types(), ["member.updated"]);
        assert!(modify.wants("member.updated", &modified));
        assert!(!modify.wants("member.updated", &left));
        assert!(!modify.wants("member.deleted", &deleted));

        let leave = Topics::new(&["user_leave_org"]);
        assert_eq!(leave.types(), ["member.updated", "member.deleted"]);
        assert!(!leave.wants("member.updated", &modified));
        assert!(leave.wants("member.updated", &left));
        assert!(leave.wants("member.deleted", &deleted));

        // A native pattern beside it wants every event of its types.
        let both = Topics::new(&["user_leave_org", "member.*"]);
        assert!(both.wants("member.updated", &modified));
        assert!(!both.wants("department.created", &json!({})));
        let all = Topics::new(&["*"]);
        assert_eq!(all.types(), events::EVENT_TYPES);
        assert!(all.wants("record.created", &json!({})));
    }

    #[test]
    fn acks_are_done_on_200_unless_data_asks_for_later() {
        let ack = |text: &str| Ack::parse(text).map(|a| a.done);
        assert_eq!(
            ack(
                r#"{"code":200,"headers":{"messageId":"m"},"message":"OK","data":"{\"status\":\"SUCCESS\"}"}"#
            ),
            Some(true)
        );
        // The Python SDK echoes the event itself; a field named status inside it does not matter.
        assert_eq!(
            ack(
                r#"{"code":200,"headers":{"messageId":"m"},"data":"{\"data\":{\"status\":\"LATER\"}}"}"#
            ),
            Some(true)
        );
        assert_eq!(
            ack(r#"{"code":200,"headers":{"messageId":"m"},"data":"{\"status\":\"LATER\"}"}"#),
            Some(false)
        );
        assert_eq!(
            ack(r#"{"code":500,"headers":{"messageId":"m"},"data":""}"#),
            Some(false)
        );
        assert_eq!(
            ack(r#"{"code":404,"headers":{"messageId":"m"}}"#),
            Some(false)
        );
        assert_eq!(ack(r#"{"code":200,"headers":{}}"#), None);
        assert_eq!(ack("not json"), None);
    }
}
