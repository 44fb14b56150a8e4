//! v1.0 contact: `POST /v1.0/contact/users/search` `{queryWord, offset, size}` → `{"hasMore", "totalCount",
//! "list": [userid]}`, matching name, mobile or job number (`directory:read`; token in
//! `x-acs-dingtalk-access-token`). A member's `userid` is the one chosen for it, else its member id.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tenon_dingtalk::V1Error;
use tenon_dingtalk::contact::{SEARCH_SIZE_MAX, SearchUserRequest, SearchUserResponse};
use tenon_model::MemberId;

use super::errors::V1Failure;
use super::oauth::read;
use crate::auth::Authed;
use crate::auth::scopes::DirectoryRead;
use crate::error::ApiError;
use crate::extract::ApiBytes;
use crate::state::AppState;

/// Search users (DingTalk `contact/users/search`).
#[utoipa::path(
    post, path = "/v1.0/contact/users/search", tag = "dingtalk",
    request_body = SearchUserRequest,
    security(("dingtalk_header" = ["directory:read"])),
    responses(
        (status = 200, description = "The matching users' ids", body = SearchUserResponse),
    )
)]
pub async fn dingtalk_search_users(
    State(state): State<AppState>,
    auth: Authed<DirectoryRead>,
    body: ApiBytes,
) -> Response {
    let request: SearchUserRequest = match read(&body) {
        Ok(request) => request,
        Err(failure) => return failure.into_response(),
    };
    let Some(word) = request.query_word.filter(|word| !word.is_empty()) else {
        return V1Failure::new(V1Error::MissingParameter, "queryWord is required").into_response();
    };
    let offset = request.offset.unwrap_or(0);
    let size = request.size.unwrap_or(10);
    if offset < 0 || !(1..=SEARCH_SIZE_MAX).contains(&size) {
        return V1Failure::new(
            V1Error::InvalidParameter,
            format!("offset must be at least 0 and size between 1 and {SEARCH_SIZE_MAX}"),
        )
        .into_response();
    }
    let store = state.store().tenant(auth.principal.org_id);
    match store.dingtalk_search_users(&word, offset, size).await {
        Ok((total, matches)) => {
            let shown = i64::try_from(matches.len()).unwrap_or(i64::MAX);
            axum::Json(SearchUserResponse {
                has_more: offset.saturating_add(shown) < total,
                total_count: total,
                list: matches
                    .into_iter()
                    .map(|found| {
                        found
                            .userid
                            .unwrap_or_else(|| MemberId::from_uuid(found.member_id).to_string())
                    })
                    .collect(),
            })
            .into_response()
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}
