//! DingTalk-format subscriptions (issue #21 item 6): `POST /api/v1/subscriptions` with `"format":
//! "dingtalk"`, DingTalk event names (`user_add_org`…) and `"dingtalk": {"token", "aes_key"}` subscribes a URL
//! to DingTalk's encrypted HTTP callbacks. Here: the checks of such a request and the `check_url`
//! registration handshake — the URL must answer the encrypted `success`, else the subscription is not
//! made (422). Deliveries are `tenon_events::dingtalk`'s.

use serde::Deserialize;
use tenon_dingtalk::crypto::{CallbackCrypto, valid_aes_key};
use tenon_dingtalk::events::{EVENT_TYPES, check_url_payload, native_types};
use tenon_model::{Actor, DetailCode, FieldError, Invalid};
use tenon_store::DingTalkCallback;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Characters of a callback token at most.
const TOKEN_CHARS_MAX: usize = 128;

/// A DingTalk-format subscription's callback settings, as set in DingTalk's developer console.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DingTalkSettings {
    /// The token signatures (`msg_signature`) are made with: 1–128 characters.
    #[schema(example = "123456")]
    pub token: String,
    /// The EncodingAESKey: 43 characters of `A-Z`, `a-z`, `0-9`.
    #[schema(example = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij")]
    pub aes_key: String,
}

/// What a subscription request's format comes to.
#[derive(Debug)]
pub(crate) enum Format {
    /// Standard Webhooks, native types.
    Native,
    /// DingTalk's callbacks: the native types to fan out, and the settings to store.
    DingTalk {
        native: Vec<String>,
        callback: DingTalkCallback,
    },
}

fn invalid(field: &str, code: DetailCode, reason: impl Into<String>) -> ApiError {
    refused(FieldError::new(field, code, reason))
}

fn refused(error: FieldError) -> ApiError {
    ApiError::validation(Invalid::from(error))
}

/// Checks `format`, `dingtalk` and the event types against each other. DingTalk names need `format:
/// dingtalk` and native ones the native format: a subscription of both is 422.
pub(crate) fn check_format(
    format: Option<&str>,
    settings: Option<DingTalkSettings>,
    types: &[String],
) -> ApiResult<Format> {
    let is_dingtalk = |name: &String| EVENT_TYPES.contains(&name.as_str());
    match format.unwrap_or("native") {
        "native" => {
            if types.iter().any(is_dingtalk) {
                return Err(invalid(
                    "event_types",
                    DetailCode::NotAllowed,
                    "DingTalk event types (user_add_org…) need \"format\": \"dingtalk\"",
                ));
            }
            if settings.is_some() {
                return Err(invalid(
                    "dingtalk",
                    DetailCode::NotAllowed,
                    "dingtalk settings go with \"format\": \"dingtalk\"",
                ));
            }
            Ok(Format::Native)
        }
        "dingtalk" => {
            let Some(settings) = settings else {
                return Err(invalid(
                    "dingtalk",
                    DetailCode::Required,
                    "a DingTalk-format subscription needs {\"token\", \"aes_key\"}",
                ));
            };
            if types.is_empty() {
                return Err(refused(
                    FieldError::new(
                        "event_types",
                        DetailCode::TooFew,
                        "name at least one DingTalk event type",
                    )
                    .with("min", 1),
                ));
            }
            if let Some(other) = types.iter().find(|name| !is_dingtalk(name)) {
                return Err(invalid(
                    "event_types",
                    DetailCode::NotAllowed,
                    format!(
                        "\"{other}\" is not a DingTalk event type; a DingTalk-format subscription takes {} \
                         (native and DingTalk names do not mix)",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
            let token_chars = settings.token.chars().count();
            if token_chars == 0 || token_chars > TOKEN_CHARS_MAX {
                return Err(refused(
                    FieldError::new(
                        "dingtalk.token",
                        DetailCode::OutOfRange,
                        format!("must be 1 to {TOKEN_CHARS_MAX} characters"),
                    )
                    .with("min", 1)
                    .with("max", TOKEN_CHARS_MAX),
                ));
            }
            if !valid_aes_key(&settings.aes_key) {
                return Err(invalid(
                    "dingtalk.aes_key",
                    DetailCode::InvalidValue,
                    "must be 43 characters of A-Z, a-z and 0-9 (DingTalk's EncodingAESKey)",
                ));
            }
            let mut native: Vec<String> = Vec::new();
            for name in types {
                for native_type in native_types(name).unwrap_or_default() {
                    if !native.iter().any(|known| known == native_type) {
                        native.push((*native_type).to_owned());
                    }
                }
            }
            Ok(Format::DingTalk {
                native,
                callback: DingTalkCallback {
                    event_types: types.to_vec(),
                    token: settings.token,
                    aes_key: settings.aes_key,
                },
            })
        }
        other => Err(refused(
            FieldError::new(
                "format",
                DetailCode::NotOneOf,
                format!("\"{other}\" is not a format; use native or dingtalk"),
            )
            .with("allowed", vec!["native", "dingtalk"]),
        )),
    }
}

/// DingTalk's corpId/suiteKey for a subscription `auth` makes: its app key when an installed app makes
/// it, else the organization id.
pub(crate) async fn owner_key(state: &AppState, auth: &Authenticated) -> ApiResult<String> {
    Ok(match &auth.principal.actor {
        Actor::App {
            installation_id, ..
        } => {
            state
                .store()
                .tenant(auth.principal.org_id)
                .installation(*installation_id)
                .await?
                .client_id
        }
        _ => auth.principal.org_id.to_string(),
    })
}

/// The `check_url` handshake: the URL must answer the encrypted `success` (422 at `url` otherwise).
pub(crate) async fn check_url_handshake(
    state: &AppState,
    url: &str,
    callback: &DingTalkCallback,
    owner_key: &str,
) -> ApiResult<()> {
    let crypto =
        CallbackCrypto::new(&callback.token, &callback.aes_key, owner_key).map_err(|error| {
            invalid(
                "dingtalk.aes_key",
                DetailCode::InvalidValue,
                error.to_string(),
            )
        })?;
    let payload = check_url_payload(state.store().now().timestamp_millis());
    let sent =
        tenon_events::dingtalk::send_callback(state.sender(), url, &crypto, &payload.to_string())
            .await;
    if sent.accepted {
        return Ok(());
    }
    let why = sent
        .result
        .error
        .or_else(|| {
            sent.result
                .status_code
                .map(|status| format!("the receiver answered HTTP {status}"))
        })
        .unwrap_or_else(|| "no answer".to_owned());
    Err(invalid(
        "url",
        DetailCode::InvalidValue,
        format!("the check_url callback was not answered with the encrypted success: {why}"),
    ))
}
