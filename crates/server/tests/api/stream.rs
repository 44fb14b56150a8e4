//! Stream mode over a real WebSocket (DingTalk Stream protocol): the handshake, frames, acknowledgements,
//! per-record order, redelivery after 60 s by the test clock, redelivery on the next connection, scopes.

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{TestApp, api_tests};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame that must come.
const FRAME_DEADLINE: Duration = Duration::from_secs(15);

pub async fn notes(app: &TestApp) {
    app.post(
        "/api/v1/apps",
        &app.admin_token,
        json!({"name": "Notes", "key": "notes"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/notes/tables", &app.admin_token, json!({"name": "Notes", "key": "notes", "fields": [
        {"name": "Title", "key": "title", "type": "text"}, {"name": "Body", "key": "body", "type": "long_text"}]}))
        .await
        .expect(StatusCode::CREATED);
}

pub async fn create_note(app: &TestApp, title: &str) -> String {
    let created = app
        .post(
            "/api/v1/apps/notes/tables/notes/records",
            &app.admin_token,
            json!({"fields": {"title": title}}),
        )
        .await;
    created.expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A third-party app installed here with `scopes`: (client id, client secret).
pub async fn stream_app(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let created = app
        .post(
            "/api/v1/clients",
            &app.admin_token,
            json!({"name": "Streamer", "scopes": scopes}),
        )
        .await;
    let body = created.expect(StatusCode::CREATED);
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn open(app: &TestApp, client_id: &str, secret: &str) -> crate::Reply {
    open_with(app, client_id, secret, &["*"]).await
}

/// `connections/open` with one `EVENT` subscription per topic.
async fn open_with(app: &TestApp, client_id: &str, secret: &str, topics: &[&str]) -> crate::Reply {
    let subscriptions: Vec<Value> = topics
        .iter()
        .map(|topic| json!({"type": "EVENT", "topic": topic}))
        .collect();
    app.call(
        Method::POST,
        "/v1.0/gateway/connections/open",
        None,
        Some(json!({
            "clientId": client_id, "clientSecret": secret, "subscriptions": subscriptions,
            "ua": "tenon-test", "localIp": "127.0.0.1", "extras": {"anything": 1}
        })),
    )
    .await
}

pub(crate) async fn connect(app: &TestApp, client_id: &str, secret: &str) -> Socket {
    connect_with(app, client_id, secret, &["*"]).await
}

/// A connection subscribed to `topics` (event types, families, DingTalk types).
pub(crate) async fn connect_with(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    topics: &[&str],
) -> Socket {
    let reply = open_with(app, client_id, secret, topics).await;
    let body = reply.expect(StatusCode::OK);
    let url = format!(
        "{}?ticket={}",
        body["endpoint"].as_str().unwrap(),
        body["ticket"].as_str().unwrap()
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    socket
}

/// The next EVENT frame (SYSTEM frames are checked and answered), within the deadline.
pub(crate) async fn next_event(socket: &mut Socket) -> Value {
    let deadline = tokio::time::Instant::now() + FRAME_DEADLINE;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("an EVENT frame in time")
            .expect("open socket")
            .expect("frame");
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(frame["specVersion"], "1.0");
        let headers = frame["headers"].as_object().unwrap();
        assert!(
            headers.values().all(Value::is_string),
            "every header value is a string: {frame}"
        );
        assert!(headers["messageId"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(frame["data"].is_string(), "data is JSON text: {frame}");
        if frame["type"] == "EVENT" {
            return frame;
        }
        assert_eq!(frame["type"], "SYSTEM", "{frame}");
    }
}

fn envelope(frame: &Value) -> Value {
    serde_json::from_str(frame["data"].as_str().unwrap()).unwrap()
}

/// (eventType, record id) of an EVENT frame.
fn what(frame: &Value) -> (String, String) {
    let envelope = envelope(frame);
    (
        frame["headers"]["eventType"].as_str().unwrap().to_owned(),
        envelope["subject"]["record_id"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

pub(crate) async fn ack(socket: &mut Socket, frame: &Value, code: u16, data: Value) {
    let ack = json!({"code": code, "headers": {"messageId": frame["headers"]["messageId"], "contentType": "application/json"}, "message": "OK", "data": data.to_string()});
    socket
        .send(Message::Text(ack.to_string().into()))
        .await
        .unwrap();
}

fn pair(event_type: &str, id: &str) -> (String, String) {
    (event_type.to_owned(), id.to_owned())
}

/// Polls until the app has no live connection (the server noticed a close), within the deadline.
pub async fn until_no_connection(app: &TestApp, client_id: &str) {
    let client = app
        .store
        .find_client(client_id)
        .await
        .unwrap()
        .unwrap()
        .client
        .id;
    let deadline = tokio::time::Instant::now() + FRAME_DEADLINE;
    while app.store.live_stream_connections(client).await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never noticed the closed connection"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the `SYSTEM` `disconnect` frame, closes the socket, and waits until the server forgot it.
async fn until_told_to_disconnect(app: &TestApp, client_id: &str, socket: &mut Socket) {
    let deadline = tokio::time::Instant::now() + FRAME_DEADLINE;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("disconnect in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message
            && text.contains("\"disconnect\"")
        {
            break;
        }
    }
    socket.close(None).await.unwrap();
    until_no_connection(app, client_id).await;
}

api_tests! {
    async fn an_uninstalled_app_is_told_to_disconnect_and_cannot_open_again(app) {
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "Leaving", "scopes": ["records:read"]})).await.expect(StatusCode::CREATED).clone();
        let (client_id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
        let mut socket = connect(&app, client_id, secret).await;
        app.delete(&format!("/api/v1/installations/{}", created["id"].as_str().unwrap()), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        until_told_to_disconnect(&app, client_id, &mut socket).await;
        open(&app, client_id, secret).await.expect_error(StatusCode::FORBIDDEN, "not_installed");
        app
    }

    async fn a_rotated_secret_ends_the_connections_opened_with_the_old_one(app) {
        let created = app.post("/api/v1/clients", &app.admin_token, json!({"name": "Rotating", "scopes": ["records:read"]})).await.expect(StatusCode::CREATED).clone();
        let (client_id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
        let mut socket = connect(&app, client_id, secret).await;
        let unused = open(&app, client_id, secret).await.expect(StatusCode::OK).clone();
        let rotated = app.post(&format!("/api/v1/installations/{}/rotate-secret", created["id"].as_str().unwrap()), &app.admin_token, json!({})).await.expect(StatusCode::OK).clone();
        // A ticket opened with the old secret opens nothing now.
        let stale = format!("{}?ticket={}", unused["endpoint"].as_str().unwrap(), unused["ticket"].as_str().unwrap());
        assert!(tokio_tungstenite::connect_async(stale).await.is_err(), "a ticket of the old secret still connects");
        until_told_to_disconnect(&app, client_id, &mut socket).await;
        open(&app, client_id, secret).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let _socket = connect(&app, client_id, rotated["client_secret"].as_str().unwrap()).await;
        app
    }

    async fn an_app_back_after_the_retention_is_told_in_its_first_frame_how_many_events_expired(app) {
        notes(&app).await;
        let (client_id, secret) = stream_app(&app, &["records:read"]).await;
        let seen = create_note(&app, "seen").await;
        let mut socket = connect(&app, &client_id, &secret).await;
        let frame = next_event(&mut socket).await;
        assert_eq!(what(&frame), pair("record.created", &seen));
        assert!(envelope(&frame).get("events_expired").is_none());
        ack(&mut socket, &frame, 200, json!({})).await;
        socket.close(None).await.unwrap();
        until_no_connection(&app, &client_id).await;

        // Away, the app misses two record events; the member is not something its scopes read.
        let one = create_note(&app, "one").await;
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{one}"), &app.admin_token, json!({"fields": {"title": "uno"}})).await.expect(StatusCode::OK);
        app.post("/api/v1/members", &app.admin_token, crate::member_body("Away")).await.expect(StatusCode::CREATED);
        let events = app.get("/api/v1/events?types=record.*", &app.admin_token).await.expect(StatusCode::OK).clone();
        let missed: Vec<Value> = events["items"].as_array().unwrap().iter().filter(|e| e["subject"]["record_id"] == json!(one)).cloned().collect();
        assert_eq!(missed.len(), 2);
        app.clock.advance(TimeDelta::days(31));
        let kept = create_note(&app, "after the retention").await;
        tenon_events::prune_expired(&app.store, std::num::NonZeroU32::new(30).unwrap()).await.unwrap();

        let mut socket = connect(&app, &client_id, &secret).await;
        let frame = next_event(&mut socket).await;
        assert_eq!(what(&frame), pair("record.created", &kept));
        assert_eq!(envelope(&frame)["events_expired"], json!({
            "count": 2,
            "first_id": missed[0]["id"], "last_id": missed[1]["id"],
            "first_occurred_at": missed[0]["occurred_at"], "last_occurred_at": missed[1]["occurred_at"],
            "retention_days": 30,
        }));
        ack(&mut socket, &frame, 200, json!({})).await;
        let later = create_note(&app, "later").await;
        let frame = next_event(&mut socket).await;
        assert_eq!(what(&frame), pair("record.created", &later));
        assert!(envelope(&frame).get("events_expired").is_none(), "told once");
        app
    }

    async fn open_answers_an_endpoint_and_a_single_use_ticket_or_an_error(app) {
        let (client_id, secret) = stream_app(&app, &["records:read"]).await;
        let reply = open(&app, &client_id, &secret).await;
        let body = reply.expect(StatusCode::OK).clone();
        assert_eq!(body["endpoint"], json!(format!("ws://{}/connect", app.base.trim_start_matches("http://"))));
        assert!(body["ticket"].as_str().is_some_and(|t| t.len() > 40));
        open(&app, &client_id, "tncs_wrong").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        open(&app, "tnc_nobody", &secret).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let bad_topic = app.call(Method::POST, "/v1.0/gateway/connections/open", None, Some(json!({"clientId": client_id, "clientSecret": secret, "subscriptions": [{"type": "EVENT", "topic": "ledger.posted"}]}))).await;
        bad_topic.expect_error(StatusCode::BAD_REQUEST, "invalid_request");
        let missing = app.call(Method::POST, "/v1.0/gateway/connections/open", None, Some(json!({"clientId": client_id}))).await;
        assert!(missing.status.is_client_error(), "{}", missing.body);

        // The ticket opens one WebSocket, once.
        let url = format!("{}?ticket={}", body["endpoint"].as_str().unwrap(), body["ticket"].as_str().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(&url).await.expect("first use");
        drop(socket);
        let refused = tokio_tungstenite::connect_async(&url).await;
        assert!(matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 401), "{refused:?}");
        // And only within 90 s.
        let late = open(&app, &client_id, &secret).await.expect(StatusCode::OK).clone();
        app.clock.advance(TimeDelta::seconds(91));
        let url = format!("{}?ticket={}", late["endpoint"].as_str().unwrap(), late["ticket"].as_str().unwrap());
        assert!(tokio_tungstenite::connect_async(&url).await.is_err(), "an expired ticket is refused");
        app.get("/connect?ticket=x", &app.admin_token).await.expect_error(StatusCode::UPGRADE_REQUIRED, "upgrade_required");
        app
    }

    async fn events_arrive_one_per_record_in_order_are_redelivered_after_60_s_and_respect_scopes(app) {
        notes(&app).await;
        let (client_id, secret) = stream_app(&app, &["records:read"]).await;
        // Committed before the app connects: they wait for it.
        let a = create_note(&app, "a").await;
        app.patch(&format!("/api/v1/apps/notes/tables/notes/records/{a}"), &app.admin_token, json!({"fields": {"title": "a2"}})).await.expect(StatusCode::OK);
        let b = create_note(&app, "b").await;
        app.post("/api/v1/members", &app.admin_token, crate::member_body("Not for records:read")).await.expect(StatusCode::CREATED);
        let mut socket = connect(&app, &client_id, &secret).await;

        let first = next_event(&mut socket).await;
        let second = next_event(&mut socket).await;
        assert_eq!(vec![what(&first), what(&second)], vec![pair("record.created", &a), pair("record.created", &b)], "a's update waits for a's creation");
        let headers = &first["headers"];
        assert_eq!(headers["topic"], "*");
        assert_eq!(headers["contentType"], "application/json");
        assert_eq!(headers["eventCorpId"], json!(app.org.id.to_string()));
        assert_eq!(headers["eventId"], envelope(&first)["id"]);
        assert!(headers["time"].as_str().unwrap().parse::<i64>().is_ok() && headers["eventBornTime"].as_str().unwrap().parse::<i64>().is_ok());
        assert_eq!(envelope(&first)["type"], "record.created");

        // The Python SDK echoes the event as its ack data; that is done, whatever the event holds.
        ack(&mut socket, &first, 200, envelope(&first)).await;
        let third = next_event(&mut socket).await;
        assert_eq!(what(&third), pair("record.updated", &a));
        // LATER and error codes are not done.
        ack(&mut socket, &third, 200, json!({"status": "LATER"})).await;
        ack(&mut socket, &second, 500, json!({})).await;

        app.clock.advance(TimeDelta::seconds(61));
        let again: Vec<Value> = vec![next_event(&mut socket).await, next_event(&mut socket).await];
        let mut redelivered: Vec<(String, String)> = again.iter().map(what).collect();
        redelivered.sort();
        assert_eq!(redelivered, vec![pair("record.created", &b), pair("record.updated", &a)]);
        let again_b = again.iter().find(|f| what(f) == pair("record.created", &b)).unwrap();
        assert_eq!(again_b["headers"]["eventId"], second["headers"]["eventId"], "the event id is stable");
        assert_ne!(again_b["headers"]["messageId"], second["headers"]["messageId"], "the message id is new per attempt");
        for frame in &again {
            ack(&mut socket, frame, 200, json!({"status": "SUCCESS"})).await;
        }
        // The member event never comes (no directory:read): the next frame is the next record's.
        let c = create_note(&app, "c").await;
        assert_eq!(what(&next_event(&mut socket).await), pair("record.created", &c));
        app
    }

    async fn an_unacknowledged_event_goes_to_the_next_connection_at_once_and_large_events_point_to_the_api(app) {
        notes(&app).await;
        let (client_id, secret) = stream_app(&app, &["records:read"]).await;
        let a = create_note(&app, "a").await;
        let mut socket = connect(&app, &client_id, &secret).await;
        let sent = next_event(&mut socket).await;
        assert_eq!(what(&sent), pair("record.created", &a));
        drop(socket);
        until_no_connection(&app, &client_id).await;
        let mut socket = connect(&app, &client_id, &secret).await;
        let again = next_event(&mut socket).await;
        assert_eq!(again["headers"]["eventId"], sent["headers"]["eventId"]);
        ack(&mut socket, &again, 200, json!({})).await;

        // An event too large for one frame carries a reference instead of its data.
        let body = "长".repeat(120_000);
        let big = app.post("/api/v1/apps/notes/tables/notes/records", &app.admin_token, json!({"fields": {"title": "big", "body": body}})).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let deadline = tokio::time::Instant::now() + FRAME_DEADLINE;
        let raw = loop {
            let message = tokio::time::timeout_at(deadline, socket.next()).await.expect("frame in time").unwrap().unwrap();
            if let Message::Text(text) = message && text.contains("\"EVENT\"") {
                break text.to_string();
            }
        };
        assert!(raw.len() < 256 * 1024, "frame of {} bytes", raw.len());
        let frame: Value = serde_json::from_str(&raw).unwrap();
        let envelope = envelope(&frame);
        assert_eq!(envelope["subject"]["record_id"], json!(big));
        let href = envelope["data"]["href"].as_str().unwrap();
        let full = app.get(href, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(full["data"]["after"]["body"], json!(body));
        app
    }
}

/// A node that shuts down says `disconnect`; what was in flight goes, at once, to the client's connection
/// to the next node (here: the same database served again, as after a restart).
async fn a_planned_disconnect_hands_unacknowledged_events_to_the_next_node(
    backend: tenon_store::testing::TestBackend,
) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let first = TestApp::spawn(&database, config.clone()).await;
    notes(&first).await;
    let (client_id, secret) = stream_app(&first, &["records:read"]).await;
    let a = create_note(&first, "a").await;
    let mut socket = connect(&first, &client_id, &secret).await;
    let sent = next_event(&mut socket).await;
    assert_eq!(what(&sent), pair("record.created", &a));
    let goodbye = async {
        let deadline = tokio::time::Instant::now() + FRAME_DEADLINE;
        loop {
            let message = tokio::time::timeout_at(deadline, socket.next())
                .await
                .expect("disconnect in time")
                .unwrap()
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "SYSTEM" && frame["headers"]["topic"] == "disconnect" {
                // As the SDKs do: close, then reconnect.
                socket.close(None).await.unwrap();
                return frame;
            }
        }
    };
    let ((), disconnect) = tokio::join!(first.stop(), goodbye);
    assert!(
        disconnect["headers"]["messageId"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(disconnect["data"].is_string());

    let second = TestApp::spawn(&database, config).await;
    let mut socket = connect(&second, &client_id, &secret).await;
    let again = next_event(&mut socket).await;
    assert_eq!(again["headers"]["eventId"], sent["headers"]["eventId"]);
    assert_eq!(again["headers"]["attempt"], "2");
    ack(&mut socket, &again, 200, json!({})).await;
    drop(socket);
    second.stop().await;
    database.cleanup().await;
}

mod a_planned_disconnect_hands_unacknowledged_events_to_the_next_node {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::a_planned_disconnect_hands_unacknowledged_events_to_the_next_node(
            TestBackend::Sqlite,
        )
        .await;
    }

    #[tokio::test]
    async fn postgres() {
        super::a_planned_disconnect_hands_unacknowledged_events_to_the_next_node(
            TestBackend::Postgres,
        )
        .await;
    }
}

/// Two nodes on one database: a ticket from one opens the WebSocket on the other, and a write on the first
/// reaches the client through the second (by polling, since another node's commits do not wake it). The app
/// is installed in two organizations and hears each, told apart by `eventCorpId`.
async fn two_nodes_share_tickets_and_an_app_hears_every_organization_it_is_installed_in(
    backend: tenon_store::testing::TestBackend,
) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let node_a = TestApp::spawn(&database, config.clone()).await;
    let node_b = TestApp::spawn(&database, config).await;
    notes(&node_a).await;
    let (client_id, secret) = stream_app(&node_a, &["records:read"]).await;
    // node_b's organization installs the same app, with its own scopes.
    node_b
        .post(
            "/api/v1/installations",
            &node_b.admin_token,
            json!({"client_id": client_id, "scopes": ["directory:read"]}),
        )
        .await
        .expect(StatusCode::CREATED);

    let ticket = open(&node_a, &client_id, &secret)
        .await
        .expect(StatusCode::OK)
        .clone();
    let url = format!(
        "ws://{}/connect?ticket={}",
        node_b.base.trim_start_matches("http://"),
        ticket["ticket"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("node b accepts node a's ticket");

    let a = create_note(&node_a, "written on node a").await;
    let from_a = next_event(&mut socket).await;
    assert_eq!(what(&from_a), pair("record.created", &a));
    assert_eq!(
        from_a["headers"]["eventCorpId"],
        json!(node_a.org.id.to_string())
    );
    ack(&mut socket, &from_a, 200, json!({})).await;

    let member = node_b
        .post(
            "/api/v1/members",
            &node_b.admin_token,
            crate::member_body("In B"),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .clone();
    let from_b = next_event(&mut socket).await;
    assert_eq!(from_b["headers"]["eventType"], "member.created");
    assert_eq!(
        from_b["headers"]["eventCorpId"],
        json!(node_b.org.id.to_string())
    );
    assert_eq!(envelope(&from_b)["subject"]["member_id"], member);
    ack(&mut socket, &from_b, 200, json!({})).await;
    drop(socket);
    node_b.stop().await;
    node_a.stop().await;
    database.cleanup().await;
}

mod two_nodes_share_tickets_and_an_app_hears_every_organization_it_is_installed_in {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::two_nodes_share_tickets_and_an_app_hears_every_organization_it_is_installed_in(
            TestBackend::Sqlite,
        )
        .await;
    }

    #[tokio::test]
    async fn postgres() {
        super::two_nodes_share_tickets_and_an_app_hears_every_organization_it_is_installed_in(
            TestBackend::Postgres,
        )
        .await;
    }
}

/// `SYSTEM` ping frames and WebSocket pings go out; a client that answers nothing for two intervals is
/// dropped (a half-open socket), and its events are released.
async fn pings_go_out_and_a_silent_client_is_dropped(backend: tenon_store::testing::TestBackend) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        // Long enough that a test process starved of CPU on a busy machine still answers within two
        // intervals while it reads; the drop below waits for the silence, however long it takes.
        stream_ping_interval: Duration::from_secs(1),
        ..tenon_server::ServerConfig::default()
    };
    let app = TestApp::spawn(&database, config).await;
    let (client_id, secret) = stream_app(&app, &["records:read"]).await;
    let mut socket = connect(&app, &client_id, &secret).await;
    let (mut ping_frame, mut websocket_ping) = (false, false);
    let deadline = tokio::time::Instant::now() + FRAME_DEADLINE;
    while !(ping_frame && websocket_ping) {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("pings in time")
            .unwrap()
            .unwrap();
        match message {
            Message::Ping(_) => websocket_ping = true,
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    (&frame["type"], &frame["headers"]["topic"]),
                    (&json!("SYSTEM"), &json!("ping")),
                    "{frame}"
                );
                let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
                assert!(data["opaque"].is_string(), "{frame}");
                // The SDKs echo the ping's data in their acknowledgement.
                let echo = json!({"code": 200, "headers": {"messageId": frame["headers"]["messageId"], "contentType": "application/json"}, "message": "OK", "data": frame["data"]});
                socket
                    .send(Message::Text(echo.to_string().into()))
                    .await
                    .unwrap();
                ping_frame = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // From now on the client reads nothing, so it answers no ping either.
    until_no_connection(&app, &client_id).await;
    drop(socket);
    app.stop().await;
    database.cleanup().await;
}

mod pings_go_out_and_a_silent_client_is_dropped {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::pings_go_out_and_a_silent_client_is_dropped(TestBackend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::pings_go_out_and_a_silent_client_is_dropped(TestBackend::Postgres).await;
    }
}

/// A node that crashed with an event in flight: its connection row is never refreshed again. Once the row
/// is older than `STREAM_CONNECTION_STALE_AFTER` (4 s), the app's connection to another node gets the event
/// within 5 s. The crashed node is a connection recorded and pumped through the store, as a node does,
/// then abandoned; the live node is a real server.
async fn a_crashed_nodes_in_flight_events_reach_another_node_within_5_s_of_the_lease_ending(
    backend: tenon_store::testing::TestBackend,
) {
    let database = tenon_store::testing::TestDatabase::create(backend).await;
    let config = tenon_server::ServerConfig {
        secure_cookies: false,
        ..tenon_server::ServerConfig::default()
    };
    let node = TestApp::spawn(&database, config).await;
    notes(&node).await;
    let (client_id, secret) = stream_app(&node, &["records:read"]).await;
    let a = create_note(&node, "in flight on the crashed node").await;
    let client = node
        .store
        .find_client(&client_id)
        .await
        .unwrap()
        .unwrap()
        .client;
    let installation = node
        .store
        .installations_of_client(client.id)
        .await
        .unwrap()
        .remove(0);
    let crashed = node.store.open_stream_connection(client.id).await.unwrap();
    let claimed = node
        .store
        .tenant(node.org.id)
        .stream_pump(installation.id, crashed, &["record.created"])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].event.subject["record_id"], json!(a));

    let mut socket = connect(&node, &client_id, &secret).await;
    // While the crashed node's lease runs, the event is its own.
    let early = tokio::time::timeout(Duration::from_millis(1500), next_event(&mut socket)).await;
    assert!(
        early.is_err(),
        "nothing is sent while the lease runs: {early:?}"
    );
    node.clock
        .advance(tenon_store::STREAM_CONNECTION_STALE_AFTER + TimeDelta::milliseconds(1));
    let lease_ended = tokio::time::Instant::now();
    let again = next_event(&mut socket).await;
    assert!(
        lease_ended.elapsed() < Duration::from_secs(5),
        "redelivered {:?} after the lease ended",
        lease_ended.elapsed()
    );
    assert_eq!(what(&again), pair("record.created", &a));
    assert_eq!(
        again["headers"]["eventId"],
        json!(claimed[0].event.id.to_string())
    );
    assert_eq!(again["headers"]["attempt"], "2");
    ack(&mut socket, &again, 200, json!({})).await;
    // The live node refreshes its own connection at the moved clock within a second or so; the crashed
    // one stays stale.
    let mut live = 0;
    for _ in 0..50 {
        live = node.store.live_stream_connections(client.id).await.unwrap();
        if live == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live, 1, "the live node's connection only");
    drop(socket);
    node.stop().await;
    database.cleanup().await;
}

mod a_crashed_nodes_in_flight_events_reach_another_node_within_5_s_of_the_lease_ending {
    use tenon_store::testing::TestBackend;

    #[tokio::test]
    async fn sqlite() {
        super::a_crashed_nodes_in_flight_events_reach_another_node_within_5_s_of_the_lease_ending(
            TestBackend::Sqlite,
        )
        .await;
    }

    #[tokio::test]
    async fn postgres() {
        super::a_crashed_nodes_in_flight_events_reach_another_node_within_5_s_of_the_lease_ending(
            TestBackend::Postgres,
        )
        .await;
    }
}
