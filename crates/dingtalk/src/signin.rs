//! Login-free sign-in (免登, issue #21 item 7a): `POST /v1.0/oauth2/userAccessToken`, `GET
//! /v1.0/contact/users/{unionId}` (`me`) and the legacy `POST /topapi/v2/user/getuserinfo`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1.0/oauth2/userAccessToken`: an `authCode` (`grantType` `authorization_code`) or a
/// `refreshToken` (`grantType` `refresh_token`) for a user access token. Unknown keys are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserTokenRequest {
    /// The app's client id (app key).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The `authCode` of `/oauth2/authorize` (with `authorization_code`).
    #[serde(default)]
    pub code: Option<String>,
    /// The answer's `refreshToken` (with `refresh_token`).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// `authorization_code` or `refresh_token`.
    #[serde(default)]
    #[schema(example = "authorization_code")]
    pub grant_type: Option<String>,
}

/// `{"accessToken", "refreshToken", "expireIn", "corpId"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserTokenResponse {
    /// A Tenon personal token for the member (`tnp_…`), with the app's scopes in this organization.
    pub access_token: String,
    /// Single-use, 30 days: a new pair for `grantType` `refresh_token`.
    pub refresh_token: String,
    #[schema(example = 7200)]
    pub expire_in: i64,
    /// The organization's id.
    pub corp_id: String,
}

/// `GET /v1.0/contact/users/me`: the signed-in user.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactUser {
    pub nick: String,
    /// Always `""`: Tenon keeps no avatars.
    pub avatar_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// The same as `unionId` (Tenon has no per-app ids).
    pub open_id: String,
    pub union_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The mobile number's country code, `86` for a Chinese number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_code: Option<String>,
}

/// `result` of `topapi/v2/user/getuserinfo`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserInfo {
    pub userid: String,
    /// Always `""`: no devices.
    pub device_id: String,
    /// An administrator (owner or admin).
    pub sys: bool,
    /// 1 owner (main administrator), 2 admin (sub-administrator), 0 anyone else.
    pub sys_level: i64,
    /// Always `""`.
    pub associated_unionid: String,
    pub unionid: String,
    pub name: String,
}

/// `{"errcode": 0, "errmsg": "ok", "result", "request_id"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserInfoResponse {
    #[schema(example = 0)]
    pub errcode: i64,
    #[schema(example = "ok")]
    pub errmsg: String,
    pub result: UserInfo,
    pub request_id: String,
}

/// A Chinese mobile number as DingTalk shows it: without `+86`, with `stateCode` `86`; another number as
/// it is, without a state code.
pub fn split_mobile(mobile: &str) -> (String, Option<String>) {
    match mobile.strip_prefix("+86") {
        Some(rest) => (rest.to_owned(), Some("86".to_owned())),
        None if mobile.starts_with('+') => (mobile.to_owned(), None),
        None => (mobile.to_owned(), Some("86".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn user_token_keys_are_camel_case() {
        let request: UserTokenRequest = serde_json::from_str(
            r#"{"clientId": "k", "clientSecret": "s", "code": "c", "grantType": "authorization_code", "x": 1}"#,
        )
        .unwrap();
        assert_eq!(request.code.as_deref(), Some("c"));
        let response = UserTokenResponse {
            access_token: "a".into(),
            refresh_token: "r".into(),
            expire_in: 7200,
            corp_id: "o".into(),
        };
        assert_eq!(
            serde_json::to_value(response).unwrap(),
            serde_json::json!({"accessToken": "a", "refreshToken": "r", "expireIn": 7200, "corpId": "o"})
        );
        assert_eq!(
            split_mobile("+8613800000000"),
            ("13800000000".to_owned(), Some("86".to_owned()))
        );
        assert_eq!(
            split_mobile("+14155550100"),
            ("+14155550100".to_owned(), None)
        );
    }
}
