//! Stream mode's handshake, compatible with DingTalk's Stream protocol so the `dingtalk-stream` SDKs
//! connect with only `DINGTALK_OPENAPI_ENDPOINT` changed.
//!
//! `POST /v1.0/gateway/connections/open` checks an installed app's client id and secret and answers 200 with
//! both `endpoint` and `ticket`, or a non-2xx error (the Python SDK crashes on a 200 without `endpoint`).
//! `endpoint` is `ws://HOST:PORT/connect` (`wss://` when the request came over TLS, as
//! `X-Forwarded-Proto: https` from the proxy in front says), always with an explicit port, from the
//! request's `Host` (or `X-Forwarded-Host` / `X-Forwarded-Port`): the address the client used to reach
//! Tenon is the one it can reach the WebSocket at. The ticket is single-use, valid for 90 s, and kept as
//! a digest in the database, so any node behind the load balancer accepts it. `GET /connect?ticket=…`
//! upgrades to the WebSocket that [`crate::stream`] serves.

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, uri::Authority};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tenon_auth::SecretDigest;
use tenon_model::events;
use tenon_model::{DetailCode, ErrorCode, FieldError};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::stream::StreamClient;

/// Subscriptions a connection may ask for at most.
const SUBSCRIPTIONS_MAX: usize = 32;

/// The body the DingTalk Stream SDKs send. Fields Tenon does not use (`ua`, `localIp`, `extras`) are
/// accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenConnection {
    /// An installed app's client id (`tenon client create`).
    pub client_id: String,
    pub client_secret: String,
    /// `{"type": "EVENT", "topic": "*"}` receives every event type the app's scopes allow; a topic may also
    /// be a type or family such as `record.*`, or a DingTalk event type such as `user_add_org` (exactly the
    /// events rendered under that name). `CALLBACK` subscriptions are accepted and never called.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Subscription {
    #[serde(rename = "type")]
    #[schema(example = "EVENT")]
    pub kind: String,
    #[schema(example = "*")]
    pub topic: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTicket {
    /// Where to open the WebSocket, e.g. `ws://127.0.0.1:8080/connect`; append `?ticket=`.
    pub endpoint: String,
    /// Single-use, valid for 90 s.
    pub ticket: String,
}

/// Open a stream connection (DingTalk Stream protocol): check the app's credentials, get a ticket.
#[utoipa::path(
    post, path = "/v1.0/gateway/connections/open", tag = "stream",
    request_body = OpenConnection,
    responses(
        (status = 200, description = "Where and with what ticket to connect", body = ConnectionTicket),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn open_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OpenConnection>,
) -> ApiResult<axum::Json<ConnectionTicket>> {
    let topics = event_topics(&body.subscriptions)?;
    let endpoint = endpoint(&headers)?;
    let store = state.store();
    let bad_credentials = || {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "unknown clientId or wrong clientSecret",
        )
    };
    let found = store
        .find_client(&body.client_id)
        .await?
        .ok_or_else(bad_credentials)?;
    if !SecretDigest::of(&body.client_secret).matches(&SecretDigest(found.secret_digest)) {
        return Err(bad_credentials());
    }
    if store
        .installations_of_client(found.client.id)
        .await?
        .is_empty()
    {
        return Err(ApiError::new(
            ErrorCode::NotInstalled,
            "the app is not installed in any organization",
        ));
    }
    let ticket = format!(
        "tnst_{}{}",
        tenon_auth::mint_slug(),
        tenon_auth::mint_slug()
    );
    store
        .create_stream_ticket(
            SecretDigest::of(&ticket).as_bytes(),
            found.client.id,
            &topics,
        )
        .await?;
    Ok(axum::Json(ConnectionTicket { endpoint, ticket }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectParams {
    /// The ticket from `POST /v1.0/gateway/connections/open`.
    pub ticket: Option<String>,
}

/// The stream WebSocket (DingTalk Stream protocol): EVENT and SYSTEM frames out, acknowledgements in.
#[utoipa::path(
    get, path = "/connect", tag = "stream",
    params(ConnectParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 426, body = ErrorBody),
    )
)]
pub async fn connect(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ConnectParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let Some(ticket) = params.ticket.filter(|t| !t.is_empty()) else {
        return Err(
            ApiError::invalid_request("query parameter ticket is missing").with_details(vec![
                FieldError::new("ticket", DetailCode::Required, "required"),
            ]),
        );
    };
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            ErrorCode::UpgradeRequired,
            format!("open this URL as a WebSocket: {rejection}"),
        )
    })?;
    // Before the ticket is taken, so the connection sees every credential change after it.
    let credential_changes = state.store().credential_changes();
    let granted = state
        .store()
        .take_stream_ticket(SecretDigest::of(&ticket).as_bytes())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the ticket is unknown, used or expired; open a new connection",
            )
        })?;
    let found = state
        .store()
        .installations_of_client(granted.client_app_id)
        .await?;
    let client_id = found
        .first()
        .map(|installation| installation.client_id.clone())
        .unwrap_or_default();
    let client = StreamClient {
        client_app_id: granted.client_app_id,
        client_id,
        topics: granted.topics,
        secret_digest: granted.secret_digest,
        credential_changes,
    };
    Ok(upgrade.on_upgrade(move |socket| crate::stream::serve_connection(socket, state, client)))
}

/// The topics of the `EVENT` subscriptions: event type patterns and DingTalk types, every one naming
/// known types.
fn event_topics(subscriptions: &[Subscription]) -> ApiResult<Vec<String>> {
    if subscriptions.len() > SUBSCRIPTIONS_MAX {
        return Err(ApiError::invalid_request(format!(
            "subscriptions: at most {SUBSCRIPTIONS_MAX}"
        )));
    }
    let mut topics = Vec::new();
    for (index, subscription) in subscriptions.iter().enumerate() {
        if !subscription.kind.eq_ignore_ascii_case("EVENT") {
            continue;
        }
        // A DingTalk name (`user_modify_org`) is kept as it is: it selects the events rendered under
        // that name, not every event of the native types that render it (`crate::stream::Topics`).
        if !events::pattern_is_known(&subscription.topic)
            && tenon_dingtalk::events::native_types(&subscription.topic).is_none()
        {
            let field = format!("subscriptions[{index}].topic");
            let reason = format!(
                "\"{}\" is not an event type; use *, a type such as record.created, a family such as record.*, or a DingTalk type such as user_add_org",
                subscription.topic
            );
            return Err(
                ApiError::invalid_request(format!("{field}: {reason}")).with_details(vec![
                    tenon_model::Reason::format("event_type", reason).at(field),
                ]),
            );
        }
        topics.push(subscription.topic.clone());
    }
    Ok(topics)
}

/// `ws[s]://host:port/connect` as the client reached this server (see the module doc).
fn endpoint(headers: &HeaderMap) -> ApiResult<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let secure = header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .ok_or_else(|| ApiError::invalid_request("the request has no Host header"))?;
    let authority: Authority = host
        .parse()
        .map_err(|_| ApiError::invalid_request("the Host header is not a host name"))?;
    let port = authority
        .port_u16()
        .or_else(|| header("x-forwarded-port").and_then(|p| p.parse().ok()))
        .unwrap_or(if secure { 443 } else { 80 });
    let scheme = if secure { "wss" } else { "ws" };
    Ok(format!("{scheme}://{}:{port}/connect", authority.host()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_for(pairs: &[(&'static str, &'static str)]) -> String {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        endpoint(&headers).unwrap_or_default()
    }

    #[test]
    fn endpoints_always_name_scheme_host_and_port() {
        assert_eq!(
            endpoint_for(&[("host", "127.0.0.1:8080")]),
            "ws://127.0.0.1:8080/connect"
        );
        assert_eq!(
            endpoint_for(&[("host", "tenon.example")]),
            "ws://tenon.example:80/connect"
        );
        assert_eq!(
            endpoint_for(&[("host", "[::1]:3000")]),
            "ws://[::1]:3000/connect"
        );
        assert_eq!(
            endpoint_for(&[
                ("host", "10.0.0.5:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "tenon.example")
            ]),
            "wss://tenon.example:443/connect"
        );
        assert_eq!(
            endpoint_for(&[
                ("host", "tenon.example"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-port", "8443")
            ]),
            "wss://tenon.example:8443/connect"
        );
    }
}
