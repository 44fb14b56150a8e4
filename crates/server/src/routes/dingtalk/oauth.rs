//! The v1.0 token endpoints: `POST /v1.0/oauth2/accessToken` (`{appKey, appSecret}` → `{accessToken,
//! expireIn}`) and `POST /v1.0/oauth2/{corpId}/token` (`{client_id, client_secret, grant_type}` →
//! `{access_token, expires_in}`, snake_case as DingTalk has it). The app key is an installed app's client
//! id (`tenon client create`); the token is a Tenon access token with the installation's scopes, good for
//! both families and the native API. An app installed in several organizations must name one: only the
//! second endpoint can (`corpId` is the organization id), the first answers `MissingParameter`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tenon_dingtalk::V1Error;
use tenon_dingtalk::oauth::{
    AccessTokenRequest, AccessTokenResponse, CorpTokenRequest, CorpTokenResponse,
};

use super::errors::V1Failure;
use super::{TokenRefusal, issue_token};
use crate::error::ApiError;
use crate::extract::ApiBytes;
use crate::state::AppState;

/// Get an app's access token (DingTalk `oauth2/accessToken`).
#[utoipa::path(
    post, path = "/v1.0/oauth2/accessToken", tag = "dingtalk",
    request_body = AccessTokenRequest,
    responses(
        (status = 200, description = "An access token for the app's only organization", body = AccessTokenResponse),
        (status = 400, description = "`MissingParameter` (also when the app is installed in several organizations: use `/v1.0/oauth2/{corpId}/token`), `InvalidParameter`, `invalidClientIdOrSecret`", body = tenon_dingtalk::V1ErrorBody),
        (status = 413, body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_access_token(State(state): State<AppState>, body: ApiBytes) -> Response {
    let request: AccessTokenRequest = match read(&body) {
        Ok(request) => request,
        Err(failure) => return failure.into_response(),
    };
    let (Some(app_key), Some(app_secret)) = (
        request.app_key.filter(|key| !key.is_empty()),
        request.app_secret.filter(|secret| !secret.is_empty()),
    ) else {
        return V1Failure::new(
            V1Error::MissingParameter,
            "appKey and appSecret are required",
        )
        .into_response();
    };
    match issue_token(&state, &app_key, &app_secret, None).await {
        Ok(issued) => axum::Json(AccessTokenResponse {
            access_token: issued.access_token,
            expire_in: issued.expires_in,
        })
        .into_response(),
        Err(TokenRefusal::BadCredentials | TokenRefusal::NotInstalled) => V1Failure::new(
            V1Error::InvalidClientIdOrSecret,
            "unknown appKey, wrong appSecret, or an app installed in no organization",
        )
        .into_response(),
        Err(TokenRefusal::SeveralOrganizations) => V1Failure::new(
            V1Error::MissingParameter,
            "the app is installed in several organizations; use POST /v1.0/oauth2/{corpId}/token",
        )
        .into_response(),
        Err(TokenRefusal::Store(error)) => ApiError::from(error).into_response(),
    }
}

/// Get an app's access token in one organization (DingTalk `oauth2/{corpId}/token`).
#[utoipa::path(
    post, path = "/v1.0/oauth2/{corpId}/token", tag = "dingtalk",
    params(("corpId" = String, Path, description = "The organization's id")),
    request_body = CorpTokenRequest,
    responses(
        (status = 200, description = "An access token for the organization", body = CorpTokenResponse),
        (status = 400, description = "`invalid.client` (unknown client, wrong secret, or not installed in `corpId`), `unsupported.grant.type`, `MissingParameter`, `InvalidParameter`", body = tenon_dingtalk::V1ErrorBody),
        (status = 404, body = tenon_dingtalk::V1ErrorBody),
        (status = 413, body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_corp_token(
    State(state): State<AppState>,
    Path(corp_id): Path<String>,
    body: ApiBytes,
) -> Response {
    let request: CorpTokenRequest = match read(&body) {
        Ok(request) => request,
        Err(failure) => return failure.into_response(),
    };
    let present = |value: Option<String>| value.filter(|text| !text.is_empty());
    let (Some(client_id), Some(client_secret), Some(grant_type)) = (
        present(request.client_id),
        present(request.client_secret),
        present(request.grant_type),
    ) else {
        return V1Failure::new(
            V1Error::MissingParameter,
            "client_id, client_secret and grant_type are required",
        )
        .into_response();
    };
    if grant_type != "client_credentials" {
        return V1Failure::new(
            V1Error::UnsupportedGrantType,
            format!("grant_type \"{grant_type}\" is not supported; use client_credentials"),
        )
        .into_response();
    }
    match issue_token(&state, &client_id, &client_secret, Some(&corp_id)).await {
        Ok(issued) => axum::Json(CorpTokenResponse {
            access_token: issued.access_token,
            expires_in: issued.expires_in,
        })
        .into_response(),
        Err(TokenRefusal::BadCredentials) => V1Failure::new(
            V1Error::InvalidClient,
            "unknown client_id or wrong client_secret",
        )
        .into_response(),
        Err(TokenRefusal::NotInstalled | TokenRefusal::SeveralOrganizations) => V1Failure::new(
            V1Error::InvalidClient,
            "the app is not installed in that organization",
        )
        .into_response(),
        Err(TokenRefusal::Store(error)) => ApiError::from(error).into_response(),
    }
}

/// A v1.0 JSON body (an empty one is `{}`); unknown keys are ignored, a wrong type is `InvalidParameter`.
pub(crate) fn read<T: DeserializeOwned>(body: &ApiBytes) -> Result<T, V1Failure> {
    let bytes: &[u8] = if body.0.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body.0
    };
    serde_json::from_slice(bytes).map_err(|error| {
        V1Failure::new(
            V1Error::InvalidParameter,
            format!("the body is not a valid request: {error}"),
        )
    })
}
