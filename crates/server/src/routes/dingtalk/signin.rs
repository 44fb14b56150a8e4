//! Login-free sign-in (免登, issue #21 item 7a) for mini-apps and H5 pages, on Tenon's installed apps,
//! sessions and members:
//!
//! 1. `GET /oauth2/authorize?client_id=&redirect_uri=&state=`: a member logged in to Tenon (session
//!    cookie; else the log-in page first) is sent back to `redirect_uri` with `?authCode=&state=`. The code
//!    is single-use, lives 5 minutes and is bound to the app's installation in the member's organization.
//!    `redirect_uri` must be one the app registered (`redirect_uris`, ignoring its query): any other, or
//!    an unknown app, gets a refusal page (400, HTML) before any log-in, never a redirect.
//! 2. `POST /v1.0/oauth2/userAccessToken` `{clientId, clientSecret, code, grantType: "authorization_code"}`
//!    → `{accessToken, refreshToken, expireIn, corpId}`: the access token is a Tenon personal token of the
//!    member (`tnp_…`, the installation's scopes, `access_token_ttl`), listed with the member's tokens and
//!    revocable there; `grantType: "refresh_token"` with the single-use `refreshToken` (30 days) gives a
//!    new pair.
//! 3. `GET /v1.0/contact/users/me` with the user token (`directory:read`): who signed in. Or, on oapi, `POST
//!    /topapi/v2/user/getuserinfo` `{code}` with the app's own token spends the code for the member's
//!    `userid` (40078 for a bad code).

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use serde::Deserialize;
use tenon_auth::{SecretDigest, SecretKind};
use tenon_dingtalk::errors::OapiErrorBody;
use tenon_dingtalk::signin::{
    ContactUser, UserInfo, UserInfoResponse, UserTokenRequest, UserTokenResponse, split_mobile,
};
use tenon_dingtalk::{OapiError, V1Error};
use tenon_model::{
    Actor, DetailCode, FieldError, Installation, MemberId, MemberStatus, Name, Role,
};
use tenon_store::{DingTalkGrantKind, NewToken, WriteContext, dingtalk_unionid};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::errors::{OapiFailure, V1Failure};
use super::oapi::{body_params, oapi_answer};
use super::oauth::read;
use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery};
use crate::state::AppState;

oapi_answer!(UserInfoAnswer, UserInfoResponse);

/// How long an `authCode` may be spent.
const CODE_TTL: TimeDelta = TimeDelta::minutes(5);
/// How long a `refreshToken` may be spent.
const REFRESH_TTL: TimeDelta = TimeDelta::days(30);
/// Characters of a `state` at most (as of a `redirect_uri`).
const STATE_CHARS_MAX: usize = tenon_model::credentials::REDIRECT_URI_CHARS_MAX;

/// `GET /oauth2/authorize`. DingTalk's other parameters (`response_type`, `scope`, `prompt`) are accepted
/// and ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// The app's client id (app key).
    pub client_id: Option<String>,
    /// Where the member is sent back, `http://` or `https://`, without a fragment.
    pub redirect_uri: Option<String>,
    /// Given back unchanged.
    pub state: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub prompt: Option<String>,
}

fn bad_parameter(field: &str, code: DetailCode, reason: &str) -> ApiError {
    ApiError::invalid_request(format!("{field}: {reason}"))
        .with_detail(FieldError::new(field, code, reason))
}

/// The app's installation in `org`, if it has one.
async fn installation_in(
    state: &AppState,
    client_id: &str,
    org: tenon_model::OrgId,
) -> ApiResult<Option<Installation>> {
    let Some(found) = state.store().find_client(client_id).await? else {
        return Ok(None);
    };
    Ok(state
        .store()
        .installations_of_client(found.client.id)
        .await?
        .into_iter()
        .find(|installation| installation.org_id == org))
}

/// Sign in to an app without a password (DingTalk 免登): a member logged in to Tenon is sent back to the
/// app with a single-use `authCode`.
#[utoipa::path(
    get, path = "/oauth2/authorize", tag = "dingtalk",
    params(AuthorizeParams),
    responses(
        (status = 302, description = "Back to `redirect_uri` with `authCode` and `state`; or, without a session, to the log-in page, which comes back here"),
        (status = 400, description = "A missing or malformed parameter, or an app not installed in the member's organization (JSON); an unknown app or a `redirect_uri` the app did not register: a refusal page (HTML), never a redirect",
            content((ErrorBody = "application/json"), (String = "text/html"))),
    )
)]
pub async fn dingtalk_authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ApiQuery(params): ApiQuery<AuthorizeParams>,
) -> ApiResult<Response> {
    let client_id = params
        .client_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad_parameter("client_id", DetailCode::Required, "is required"))?;
    let redirect = params
        .redirect_uri
        .filter(|uri| !uri.is_empty())
        .ok_or_else(|| bad_parameter("redirect_uri", DetailCode::Required, "is required"))?;
    if tenon_model::credentials::redirect_problem(&redirect).is_some() {
        return Err(bad_parameter(
            "redirect_uri",
            DetailCode::InvalidValue,
            "must be an http:// or https:// URL without a fragment",
        ));
    }
    // The allow-list comes before any log-in: an unknown app or an unregistered address is refused
    // on a page, and nobody is sent anywhere.
    let Some(client) = state.store().find_client(&client_id).await? else {
        return Ok(refusal_page(
            &client_id,
            "未知的应用。",
            "No app has this client id.",
        ));
    };
    let without_query = redirect.split('?').next().unwrap_or_default();
    if !client
        .client
        .redirect_uris
        .iter()
        .any(|uri| uri == without_query)
    {
        return Ok(refusal_page(
            client.client.name.as_str(),
            "该应用没有登记这个回调地址（redirect_uri），因此不会把您送往那里。请应用的管理员在 Tenon 中登记它（安装的 redirect_uris）。",
            "This app did not register this redirect_uri, so you are not sent there. The app's administrator registers it in Tenon (the installation's redirect_uris).",
        ));
    }
    let state_text = params.state.unwrap_or_default();
    if state_text.chars().count() > STATE_CHARS_MAX {
        return Err(ApiError::invalid_request("state: too long")
            .with_detail(tenon_model::Reason::too_long(STATE_CHARS_MAX).at("state")));
    }
    let Some(viewer) = crate::auth::session_viewer(&state, &headers).await? else {
        let wanted = uri.path_and_query().map_or("/", |path| path.as_str());
        let next: String = form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
        return Ok(found(&format!("/login?next={next}")));
    };
    let Actor::Member { id: member_id, .. } = viewer.principal.actor else {
        return Err(ApiError::unauthenticated("log in to Tenon first"));
    };
    let Some(installation) = installation_in(&state, &client_id, viewer.principal.org_id).await?
    else {
        let reason = "names no app installed in your organization";
        return Err(
            ApiError::invalid_request(format!("client_id: {reason}")).with_detail(
                FieldError::new("client_id", DetailCode::NotFound, reason).with("what", "client"),
            ),
        );
    };
    let code = format!("{}{}", tenon_auth::mint_slug(), tenon_auth::mint_slug());
    state
        .store()
        .tenant(viewer.principal.org_id)
        .create_dingtalk_grant(
            DingTalkGrantKind::Code,
            SecretDigest::of(&code).as_bytes(),
            installation.id,
            member_id,
            state.store().now() + CODE_TTL,
        )
        .await?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("authCode", &code);
    query.append_pair("state", &state_text);
    let separator = if redirect.contains('?') { '&' } else { '?' };
    Ok(found(&format!("{redirect}{separator}{}", query.finish())))
}

/// The page refusing a sign-in (400): what was refused, in both languages, naming the app; nothing
/// from the request is sent anywhere.
fn refusal_page(app: &str, zh: &str, en: &str) -> Response {
    let app = escape_html(app);
    let body = format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>无法登录 · Sign-in refused</title></head><body>\
         <h1>无法登录 · Sign-in refused</h1>\
         <p lang=\"zh-CN\">应用 <strong>{app}</strong>：{zh}</p>\
         <p lang=\"en\">App <strong>{app}</strong>: {en}</p></body></html>\n"
    );
    let mut response = (StatusCode::BAD_REQUEST, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `302 Found` to `location`.
fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Get a user access token for a sign-in code (DingTalk `oauth2/userAccessToken`).
#[utoipa::path(
    post, path = "/v1.0/oauth2/userAccessToken", tag = "dingtalk",
    request_body = UserTokenRequest,
    responses(
        (status = 200, description = "A token acting for the member who signed in", body = UserTokenResponse),
        (status = 400, description = "`MissingParameter`, `InvalidParameter` (an unknown, used, expired or other app's code or refresh token), `invalidClientIdOrSecret`, `unsupported.grant.type`", body = tenon_dingtalk::V1ErrorBody),
        (status = 413, body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_user_token(State(state): State<AppState>, body: ApiBytes) -> Response {
    match user_token(&state, &body).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(Refused::V1(failure)) => failure.into_response(),
        Err(Refused::Api(error)) => error.into_response(),
    }
}

enum Refused {
    V1(V1Failure),
    Api(ApiError),
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused::Api(error)
    }
}

impl From<tenon_store::StoreError> for Refused {
    fn from(error: tenon_store::StoreError) -> Self {
        Refused::Api(error.into())
    }
}

fn refused(error: V1Error, message: &str) -> Refused {
    Refused::V1(V1Failure::new(error, message))
}

async fn user_token(state: &AppState, body: &ApiBytes) -> Result<UserTokenResponse, Refused> {
    let request: UserTokenRequest = read(body).map_err(Refused::V1)?;
    let present = |value: Option<String>| value.filter(|text| !text.is_empty());
    let (Some(client_id), Some(client_secret), Some(grant_type)) = (
        present(request.client_id),
        present(request.client_secret),
        present(request.grant_type),
    ) else {
        return Err(refused(
            V1Error::MissingParameter,
            "clientId, clientSecret and grantType are required",
        ));
    };
    let (kind, grant, name) = match grant_type.as_str() {
        "authorization_code" => (DingTalkGrantKind::Code, present(request.code), "code"),
        "refresh_token" => (
            DingTalkGrantKind::Refresh,
            present(request.refresh_token),
            "refreshToken",
        ),
        _ => {
            return Err(refused(
                V1Error::UnsupportedGrantType,
                "grantType must be authorization_code or refresh_token",
            ));
        }
    };
    let Some(grant) = grant else {
        return Err(refused(
            V1Error::MissingParameter,
            &format!("{name} is required"),
        ));
    };
    let Some(found) = state.store().find_client(&client_id).await? else {
        return Err(refused(
            V1Error::InvalidClientIdOrSecret,
            "unknown clientId or wrong clientSecret",
        ));
    };
    if !SecretDigest::of(&client_secret).matches(&SecretDigest(found.secret_digest)) {
        return Err(refused(
            V1Error::InvalidClientIdOrSecret,
            "unknown clientId or wrong clientSecret",
        ));
    }
    let bad_grant = || {
        refused(
            V1Error::InvalidParameter,
            "the code or refresh token is unknown, used, expired, or another app's",
        )
    };
    let taken = state
        .store()
        .take_dingtalk_grant(kind, SecretDigest::of(&grant).as_bytes())
        .await?
        .ok_or_else(bad_grant)?;
    let installation = state
        .store()
        .installations_of_client(found.client.id)
        .await?
        .into_iter()
        .find(|installation| installation.id == taken.installation_id)
        .ok_or_else(bad_grant)?;
    let tenant = state.store().tenant(installation.org_id);
    let member = tenant.member(taken.member_id).await?;
    if member.status != MemberStatus::Active {
        return Err(bad_grant());
    }
    let ctx = WriteContext {
        actor: Actor::App {
            installation_id: installation.id,
            name: installation.app_name.to_string(),
        },
        request_id: Some(crate::request_id::current()),
    };
    let app: String = installation.app_name.as_str().chars().take(60).collect();
    let name = Name::parse(&format!("{app} (DingTalk sign-in)"))
        .map_err(|reason| ApiError::invalid_request(reason.message))?;
    let ttl = state.config().access_token_ttl;
    let access = tenon_auth::mint(SecretKind::PersonalToken);
    tenant
        .create_token(
            &ctx,
            NewToken {
                name,
                member_id: Some(member.id),
                scopes: installation.scopes,
                rate_limit: None,
                expires_at: Some(state.store().now() + ttl),
                digest: access.digest.0,
            },
        )
        .await?;
    let refresh = format!(
        "tndr_{}{}",
        tenon_auth::mint_slug(),
        tenon_auth::mint_slug()
    );
    tenant
        .create_dingtalk_grant(
            DingTalkGrantKind::Refresh,
            SecretDigest::of(&refresh).as_bytes(),
            installation.id,
            member.id,
            state.store().now() + REFRESH_TTL,
        )
        .await?;
    Ok(UserTokenResponse {
        access_token: access.plaintext,
        refresh_token: refresh,
        expire_in: ttl.num_seconds(),
        corp_id: installation.org_id.to_string(),
    })
}

/// The member a user token acts for.
fn signed_in(actor: &Actor) -> Option<MemberId> {
    match actor {
        Actor::Token {
            member_id: Some(id),
            ..
        }
        | Actor::Member { id, .. } => Some(*id),
        _ => None,
    }
}

/// The signed-in user (DingTalk `contact/users/{unionId}` with `me`).
#[utoipa::path(
    get, path = "/v1.0/contact/users/{unionId}", tag = "dingtalk",
    params(("unionId" = String, Path, description = "`me`, or the signed-in user's own unionId")),
    security(("dingtalk_header" = ["directory:read"])),
    responses(
        (status = 200, description = "Who the user token acts for", body = ContactUser),
        (status = 404, description = "`resource.not.found`: an app's token (it acts for no user), or another user's unionId", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_contact_user(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    Path(union_id): Path<String>,
) -> Response {
    let Some(member_id) = signed_in(&auth.principal.actor) else {
        return V1Failure::new(
            V1Error::NotFound,
            "the token acts for no user: use a user access token (POST /v1.0/oauth2/userAccessToken)",
        )
        .into_response();
    };
    let unionid = dingtalk_unionid(member_id);
    if union_id != "me" && union_id != unionid {
        return V1Failure::new(
            V1Error::NotFound,
            "a user token reads only its own user: use me",
        )
        .into_response();
    }
    let member = match state
        .store()
        .tenant(auth.principal.org_id)
        .member(member_id)
        .await
    {
        Ok(member) => member,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let (mobile, state_code) = match member.mobile.as_ref() {
        Some(mobile) => {
            let (number, code) = split_mobile(mobile.as_str());
            (Some(number), code)
        }
        None => (None, None),
    };
    axum::Json(ContactUser {
        nick: member.name.into_string(),
        avatar_url: String::new(),
        mobile,
        open_id: unionid.clone(),
        union_id: unionid,
        email: member.email.map(|email| email.as_str().to_owned()),
        state_code,
    })
    .into_response()
}

/// Spend a sign-in code for the user's `userid` (DingTalk `topapi/v2/user/getuserinfo`).
#[utoipa::path(
    post, path = "/topapi/v2/user/getuserinfo", tag = "dingtalk",
    params(("access_token" = Option<String>, Query, description = "The app's access token (`/gettoken`)")),
    request_body(content(
        (Option<serde_json::Value> = "application/json"),
        (Option<serde_json::Value> = "application/x-www-form-urlencoded"),
    ), description = "`{\"code\": \"…\"}`: an `authCode` of `/oauth2/authorize` for this app"),
    security(("dingtalk_query" = ["directory:read"])),
    responses(
        (status = 200, description = "`errcode` 0 and the user, or an error: 88 (token), 40035 (no code), 40078 (an unknown, used, expired or other app's code)", body = UserInfoAnswer),
    )
)]
pub async fn dingtalk_getuserinfo(
    State(state): State<AppState>,
    auth: Authed<scopes::DirectoryRead>,
    headers: HeaderMap,
    body: ApiBytes,
) -> Response {
    let params = match body_params(&headers, &body) {
        Ok(params) => params,
        Err(failure) => return failure.into_response(),
    };
    let code = match params.text("code") {
        Ok(Some(code)) if !code.is_empty() => code,
        _ => {
            return OapiFailure::new(OapiError::MissingParameters, "code is required")
                .into_response();
        }
    };
    let bad_code = || {
        OapiFailure::new(
            OapiError::InvalidAuthCode,
            "the code is unknown, used, expired, or another app's",
        )
        .into_response()
    };
    let Actor::App {
        installation_id, ..
    } = &auth.principal.actor
    else {
        return bad_code();
    };
    let installation_id = *installation_id;
    let taken = match state
        .store()
        .take_dingtalk_grant(DingTalkGrantKind::Code, SecretDigest::of(&code).as_bytes())
        .await
    {
        Ok(Some(taken))
            if taken.installation_id == installation_id
                && taken.org_id == auth.principal.org_id =>
        {
            taken
        }
        Ok(_) => return bad_code(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let tenant = state.store().tenant(taken.org_id);
    let member = match tenant.member(taken.member_id).await {
        Ok(member) if member.status == MemberStatus::Active => member,
        Ok(_) => return bad_code(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let userid = match tenant.dingtalk_userid_of(member.id).await {
        Ok(userid) => userid,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let sys_level = match member.role {
        Role::Owner => 1,
        Role::Admin => 2,
        Role::Member => 0,
    };
    axum::Json(UserInfoResponse {
        errcode: 0,
        errmsg: "ok".to_owned(),
        result: UserInfo {
            userid,
            device_id: String::new(),
            sys: sys_level != 0,
            sys_level,
            associated_unionid: String::new(),
            unionid: dingtalk_unionid(member.id),
            name: member.name.into_string(),
        },
        request_id: crate::request_id::current(),
    })
    .into_response()
}
