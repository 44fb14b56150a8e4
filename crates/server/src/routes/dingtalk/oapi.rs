//! The oapi family: `GET /gettoken?appkey=&appsecret=` → `{"errcode": 0, "errmsg": "ok", "access_token",
//! "expires_in"}`. Every answer is HTTP 200; errors carry an integer `errcode` (40035 missing parameter or
//! an app installed in several organizations, 40096 unknown app key or wrong secret).

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::OapiError;
use tenon_dingtalk::lenient::Params;
use tenon_dingtalk::oauth::{GetTokenQuery, GetTokenResponse};

use super::errors::OapiFailure;
use super::{TokenRefusal, issue_token};
use crate::error::ApiError;
use crate::state::AppState;

/// Get an app's access token (DingTalk `gettoken`).
#[utoipa::path(
    get, path = "/gettoken", tag = "dingtalk",
    params(GetTokenQuery),
    responses(
        (status = 200, description = "`errcode` 0 and a token, or an error: 40035 (missing parameter; an app installed in several organizations uses `POST /v1.0/oauth2/{corpId}/token`), 40096 (unknown app key or wrong secret)", body = GetTokenResponse),
    )
)]
pub async fn dingtalk_gettoken(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::from_pairs(
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned())),
    );
    let (Ok(Some(appkey)), Ok(Some(appsecret))) = (params.text("appkey"), params.text("appsecret"))
    else {
        return OapiFailure::new(
            OapiError::MissingParameters,
            "appkey and appsecret are required",
        )
        .into_response();
    };
    match issue_token(&state, &appkey, &appsecret, None).await {
        Ok(issued) => axum::Json(GetTokenResponse {
            errcode: 0,
            errmsg: "ok".to_owned(),
            access_token: issued.access_token,
            expires_in: issued.expires_in,
            request_id: crate::request_id::current(),
        })
        .into_response(),
        Err(TokenRefusal::BadCredentials | TokenRefusal::NotInstalled) => OapiFailure::new(
            OapiError::InvalidAppKeyOrSecret,
            "unknown appkey, wrong appsecret, or an app installed in no organization",
        )
        .into_response(),
        Err(TokenRefusal::SeveralOrganizations) => OapiFailure::new(
            OapiError::MissingParameters,
            "the app is installed in several organizations; use POST /v1.0/oauth2/{corpId}/token",
        )
        .into_response(),
        Err(TokenRefusal::Store(error)) => ApiError::from(error).into_response(),
    }
}
