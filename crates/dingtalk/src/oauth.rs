//! The token endpoints' shapes: `GET /gettoken` (oapi), `POST /v1.0/oauth2/accessToken` and
//! `POST /v1.0/oauth2/{corpId}/token` (v1.0; snake_case in this one alone, as DingTalk has it).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What every token of the facade lives: DingTalk's 7200 s.
pub const TOKEN_SECONDS: i64 = 7200;

/// `GET /gettoken?appkey=&appsecret=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetTokenQuery {
    /// An installed app's client id (`tenon client create`).
    pub appkey: Option<String>,
    /// The app's client secret.
    pub appsecret: Option<String>,
}

/// `{"errcode": 0, "errmsg": "ok", "access_token", "expires_in": 7200, "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GetTokenResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    /// A Tenon access token (`tna_…`), good for both families and the native API.
    pub access_token: String,
    #[schema(example = 7200)]
    pub expires_in: i64,
    pub request_id: String,
}

/// `POST /v1.0/oauth2/accessToken`. Unknown keys are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenRequest {
    /// An installed app's client id.
    #[serde(default)]
    pub app_key: Option<String>,
    #[serde(default)]
    pub app_secret: Option<String>,
}

/// `{"accessToken", "expireIn": 7200}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenResponse {
    pub access_token: String,
    #[schema(example = 7200)]
    pub expire_in: i64,
}

/// `POST /v1.0/oauth2/{corpId}/token`. Unknown keys are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CorpTokenRequest {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Must be `client_credentials`.
    #[serde(default)]
    #[schema(example = "client_credentials")]
    pub grant_type: Option<String>,
}

/// `{"access_token", "expires_in": 7200}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CorpTokenResponse {
    pub access_token: String,
    #[schema(example = 7200)]
    pub expires_in: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_ignore_unknown_keys_and_responses_use_dingtalks_keys_and_types() {
        let request: AccessTokenRequest =
            serde_json::from_str(r#"{"appKey": "k", "appSecret": "s", "extra": 1}"#).unwrap();
        assert_eq!(request.app_key.as_deref(), Some("k"));
        assert_eq!(request.app_secret.as_deref(), Some("s"));
        let empty: AccessTokenRequest = serde_json::from_str("{}").unwrap();
        assert!(empty.app_key.is_none());
        let corp: CorpTokenRequest = serde_json::from_str(
            r#"{"client_id": "k", "client_secret": "s", "grant_type": "client_credentials", "scope": "x"}"#,
        )
        .unwrap();
        assert_eq!(corp.grant_type.as_deref(), Some("client_credentials"));
        let response = serde_json::to_value(AccessTokenResponse {
            access_token: "tna_x".to_owned(),
            expire_in: TOKEN_SECONDS,
        })
        .unwrap();
        assert_eq!(
            response,
            serde_json::json!({"accessToken": "tna_x", "expireIn": 7200})
        );
        let response = serde_json::to_value(CorpTokenResponse {
            access_token: "tna_x".to_owned(),
            expires_in: TOKEN_SECONDS,
        })
        .unwrap();
        assert_eq!(
            response,
            serde_json::json!({"access_token": "tna_x", "expires_in": 7200})
        );
        let response = serde_json::to_value(GetTokenResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            access_token: "tna_x".to_owned(),
            expires_in: TOKEN_SECONDS,
            request_id: "r".to_owned(),
        })
        .unwrap();
        assert_eq!(
            response,
            serde_json::json!({"errcode": 0, "errmsg": "ok", "access_token": "tna_x", "expires_in": 7200, "request_id": "r"})
        );
    }
}
