//! Third-party apps: `/api/v1/clients` registers one (and installs it here), `/api/v1/installations`
//! installs existing apps, changes what they may do, rotates secrets and uninstalls them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_auth::SecretKind;
use tenon_model::{Checker, EventFormat, Installation, InstallationId, Name, OAuthClient, OrgId};
use tenon_store::{ClientRegistration, NewInstallation};
use utoipa::ToSchema;

use crate::auth::{Authed, scope_names, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, OptionalJson, PageParams, Paged, path_id};
use crate::routes::nullable;
use crate::routes::tokens::{parse_rate_limit, parse_scopes};
use crate::state::AppState;

/// An app installed in the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallationOut {
    /// The installation's id (not the app's client id).
    pub id: String,
    /// The app's public OAuth2 client id.
    pub client_id: String,
    pub name: String,
    /// What this organization allows the app to do.
    pub scopes: Vec<&'static str>,
    /// The app's rate limit in this organization; `null` uses the platform default.
    pub rate_limit: Option<String>,
    /// Whether this organization registered the app (and so may rotate its secret).
    pub registered_here: bool,
    /// How its stream frames name events: `native`, or `dingtalk` (DingTalk's `eventType`s such as
    /// `user_add_org`, camelCase `data`; only the directory events DingTalk has). See docs/dingtalk.md.
    #[schema(example = "native")]
    pub event_format: &'static str,
    /// Where the app's DingTalk-style sign-in (`GET /oauth2/authorize`) may send a member back: the app's
    /// registered URIs (`http://` or `https://`, no query or fragment). A `redirect_uri` matches when,
    /// without its query, it equals one of them; empty: sign-in is refused. Only the organization that
    /// registered the app may change them. See docs/dingtalk.md.
    pub redirect_uris: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl InstallationOut {
    fn new(installation: Installation, org_id: OrgId, client: Option<OAuthClient>) -> Self {
        let owner_org_id = client.as_ref().map(|client| client.owner_org_id);
        InstallationOut {
            id: installation.id.to_string(),
            client_id: installation.client_id,
            name: installation.app_name.into_string(),
            scopes: scope_names(installation.scopes),
            rate_limit: installation.rate_limit.map(|limit| limit.to_string()),
            registered_here: owner_org_id == Some(org_id),
            event_format: installation.event_format.as_str(),
            redirect_uris: client
                .map(|client| client.redirect_uris)
                .unwrap_or_default(),
            created_at: installation.created_at,
            updated_at: installation.updated_at,
        }
    }
}

/// A registered app with its credentials. The secret is shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCredentials {
    #[serde(flatten)]
    pub installation: InstallationOut,
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCreate {
    #[schema(example = "Kingdee connector")]
    pub name: String,
    /// Scopes granted to the app in this organization.
    pub scopes: Vec<String>,
    pub rate_limit: Option<String>,
    /// `native` (the default) or `dingtalk`: how stream frames name events.
    pub event_format: Option<String>,
    /// Where DingTalk-style sign-in may send members back (at most 10; see `InstallationOut`).
    pub redirect_uris: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallationCreate {
    /// The client id of an app registered in Tenon.
    pub client_id: String,
    pub scopes: Vec<String>,
    pub rate_limit: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallationUpdate {
    /// Replaces the scopes; narrowing takes effect on the app's live tokens at once.
    pub scopes: Option<Vec<String>>,
    /// `null` returns to the platform default.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub rate_limit: Option<Option<String>>,
    /// `native` or `dingtalk`: how stream frames name events.
    pub event_format: Option<String>,
    /// Replaces the app's redirect URIs for DingTalk-style sign-in (at most 10); only the organization
    /// that registered the app may (else 409, nothing changes).
    pub redirect_uris: Option<Vec<String>>,
}

/// Reads an `event_format` into `check`: `Some(None)` when absent.
fn parse_event_format(check: &mut Checker, raw: Option<String>) -> Option<Option<EventFormat>> {
    check.optional("event_format", raw, |raw| {
        EventFormat::parse(&raw).ok_or_else(|| {
            tenon_model::Reason::not_one_of(&["native", "dingtalk"], "must be native or dingtalk")
        })
    })
}

/// Reads `redirect_uris` into `check`: `Some(None)` when absent.
fn parse_redirect_uris(
    check: &mut Checker,
    raw: Option<Vec<String>>,
) -> Option<Option<Vec<String>>> {
    match raw {
        None => Some(None),
        Some(raw) => tenon_model::check_redirect_uris(check, "redirect_uris", raw).map(Some),
    }
}

async fn owner_of(state: &AppState, installation: &Installation) -> ApiResult<Option<OAuthClient>> {
    Ok(state
        .store()
        .find_client(&installation.client_id)
        .await?
        .map(|found| found.client))
}

/// Register a third-party app and install it in this organization.
#[utoipa::path(
    post, path = "/api/v1/clients", tag = "credentials",
    request_body = ClientCreate,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 201, body = ClientCredentials),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_client(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    ApiJson(body): ApiJson<ClientCreate>,
) -> ApiResult<(StatusCode, axum::Json<ClientCredentials>)> {
    let mut check = Checker::default();
    let name = check.field("name", Name::parse(&body.name));
    let scopes = parse_scopes(&mut check, "scopes", &body.scopes);
    let rate_limit = parse_rate_limit(&mut check, body.rate_limit);
    let event_format = parse_event_format(&mut check, body.event_format);
    let redirect_uris = parse_redirect_uris(&mut check, body.redirect_uris);
    let (Some(name), Some(scopes), Some(rate_limit), Some(event_format), Some(redirect_uris)) =
        (name, scopes, rate_limit, event_format, redirect_uris)
    else {
        return Err(check.into_invalid().into());
    };
    let secret = tenon_auth::mint(SecretKind::ClientSecret);
    let registration = ClientRegistration {
        name,
        client_id: tenon_auth::mint_client_id(),
        secret_digest: secret.digest.0,
        scopes,
        rate_limit,
        redirect_uris: redirect_uris.unwrap_or_default(),
    };
    let org_id = auth.principal.org_id;
    let (client, installation) = state
        .store()
        .tenant(org_id)
        .register_client(&auth.write_context(), registration)
        .await?;
    let installation = match event_format {
        Some(format) if format != installation.event_format => {
            state
                .store()
                .tenant(org_id)
                .update_installation(
                    &auth.write_context(),
                    installation.id,
                    None,
                    None,
                    Some(format),
                )
                .await?
        }
        _ => installation,
    };
    let installation = InstallationOut::new(installation, org_id, Some(client));
    Ok((
        StatusCode::CREATED,
        axum::Json(ClientCredentials {
            installation,
            client_secret: secret.plaintext,
        }),
    ))
}

/// List the apps installed in this organization.
#[utoipa::path(
    get, path = "/api/v1/installations", tag = "credentials",
    params(PageParams),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = Paged<InstallationOut>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_installations(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<InstallationOut>>> {
    let org_id = auth.principal.org_id;
    let page = state
        .store()
        .tenant(org_id)
        .list_installations(page.to_request()?)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for installation in page.items {
        let owner = owner_of(&state, &installation).await?;
        items.push(InstallationOut::new(installation, org_id, owner));
    }
    let next_cursor = page
        .next_after
        .map(|id| crate::extract::encode_cursor(id.as_uuid()));
    Ok(axum::Json(Paged { items, next_cursor }))
}

/// Install an app that is registered in Tenon (by any organization) into this one.
#[utoipa::path(
    post, path = "/api/v1/installations", tag = "credentials",
    request_body = InstallationCreate,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 201, body = InstallationOut),
        (status = 400, body = ErrorBody), (status = 409, description = "Already installed", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn create_installation(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    ApiJson(body): ApiJson<InstallationCreate>,
) -> ApiResult<(StatusCode, axum::Json<InstallationOut>)> {
    let mut check = Checker::default();
    let scopes = parse_scopes(&mut check, "scopes", &body.scopes);
    let rate_limit = parse_rate_limit(&mut check, body.rate_limit);
    let (Some(scopes), Some(rate_limit)) = (scopes, rate_limit) else {
        return Err(check.into_invalid().into());
    };
    let org_id = auth.principal.org_id;
    let new = NewInstallation {
        client_id: body.client_id,
        scopes,
        rate_limit,
    };
    let installation = state
        .store()
        .tenant(org_id)
        .install(&auth.write_context(), new)
        .await?;
    let owner = owner_of(&state, &installation).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(InstallationOut::new(installation, org_id, owner)),
    ))
}

/// Get an installed app.
#[utoipa::path(
    get, path = "/api/v1/installations/{id}", tag = "credentials",
    params(("id" = String, Path, description = "Installation id")),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = InstallationOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn get_installation(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<InstallationOut>> {
    let id: InstallationId = path_id(&id, "installation")?;
    let org_id = auth.principal.org_id;
    let installation = state.store().tenant(org_id).installation(id).await?;
    let owner = owner_of(&state, &installation).await?;
    Ok(axum::Json(InstallationOut::new(
        installation,
        org_id,
        owner,
    )))
}

/// Change an installed app's scopes, rate limit, event format or (registered here) redirect URIs.
#[utoipa::path(
    patch, path = "/api/v1/installations/{id}", tag = "credentials",
    params(("id" = String, Path, description = "Installation id")),
    request_body = InstallationUpdate,
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = InstallationOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 409, description = "`redirect_uris` of an app another organization registered", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn update_installation(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InstallationUpdate>,
) -> ApiResult<axum::Json<InstallationOut>> {
    let id: InstallationId = path_id(&id, "installation")?;
    let mut check = Checker::default();
    let scopes = match body.scopes {
        None => Some(None),
        Some(names) => parse_scopes(&mut check, "scopes", &names).map(Some),
    };
    let rate_limit = match body.rate_limit {
        None => Some(None),
        Some(raw) => parse_rate_limit(&mut check, raw).map(Some),
    };
    let event_format = parse_event_format(&mut check, body.event_format);
    let redirect_uris = parse_redirect_uris(&mut check, body.redirect_uris);
    let (Some(scopes), Some(rate_limit), Some(event_format), Some(redirect_uris)) =
        (scopes, rate_limit, event_format, redirect_uris)
    else {
        return Err(check.into_invalid().into());
    };
    let org_id = auth.principal.org_id;
    let tenant = state.store().tenant(org_id);
    if redirect_uris.is_some() {
        // Refused before anything changes when another organization registered the app.
        tenant.check_client_registered_here(id).await?;
    }
    let installation = tenant
        .update_installation(&auth.write_context(), id, scopes, rate_limit, event_format)
        .await?;
    if let Some(uris) = redirect_uris {
        // Last, once the rest is saved: a refused update above has changed nothing.
        tenant
            .set_client_redirect_uris(&auth.write_context(), id, &uris)
            .await?;
    }
    let owner = owner_of(&state, &installation).await?;
    Ok(axum::Json(InstallationOut::new(
        installation,
        org_id,
        owner,
    )))
}

/// Uninstall an app: its access tokens in this organization stop working at once.
#[utoipa::path(
    delete, path = "/api/v1/installations/{id}", tag = "credentials",
    params(("id" = String, Path, description = "Installation id")),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 204, description = "Uninstalled"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn delete_installation(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: InstallationId = path_id(&id, "installation")?;
    state
        .store()
        .tenant(auth.principal.org_id)
        .uninstall(&auth.write_context(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the client secret of an app this organization registered. The old secret stops working.
#[utoipa::path(
    post, path = "/api/v1/installations/{id}/rotate-secret", tag = "credentials",
    params(("id" = String, Path, description = "Installation id")),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = ClientCredentials), (status = 404, body = ErrorBody),
        (status = 409, description = "The app was registered by another organization", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    Path(id): Path<String>,
    OptionalJson(_empty): OptionalJson<crate::extract::EmptyBody>,
) -> ApiResult<axum::Json<ClientCredentials>> {
    let id: InstallationId = path_id(&id, "installation")?;
    let secret = tenon_auth::mint(SecretKind::ClientSecret);
    let org_id = auth.principal.org_id;
    let installation = state
        .store()
        .tenant(org_id)
        .rotate_client_secret(&auth.write_context(), id, &secret.digest.0)
        .await?;
    let client = owner_of(&state, &installation).await?;
    let installation = InstallationOut::new(installation, org_id, client);
    Ok(axum::Json(ClientCredentials {
        installation,
        client_secret: secret.plaintext,
    }))
}
