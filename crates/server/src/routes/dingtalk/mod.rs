//! The DingTalk-compatible API (#21): software written for DingTalk runs against Tenon by changing only the
//! host. Served at the root beside the native API — `/v1.0/*` ([`oauth`]) and the oapi family
//! (`/gettoken`, `/topapi/*`, [`oapi`]) — and registered through `routes!` like every route, so it is in
//! the OpenAPI document under the tag `dingtalk`.
//!
//! Shapes and codes come from the pure `tenon-dingtalk` crate; this module does the HTTP: [`errors`] is
//! the one error layer that makes every answer of the two families DingTalk-shaped, and [`issue_token`]
//! is the client-credentials check the token endpoints share with `POST /api/v1/oauth/token`'s rules.

use tenon_auth::{SecretDigest, SecretKind};
use tenon_model::{Actor, Installation};
use tenon_store::{StoreError, WriteContext};

use crate::state::AppState;

pub mod callbacks;
pub mod contact;
pub mod directory;
pub mod errors;
pub mod messages;
pub mod oapi;
pub mod oauth;
pub mod signin;
pub mod workflow;
pub mod workflow_actions;
pub mod workflow_oapi;

/// Why an app's credentials got no token.
#[derive(Debug)]
pub(crate) enum TokenRefusal {
    /// Unknown client id or wrong secret.
    BadCredentials,
    /// The app is installed in no organization, or not in the one named.
    NotInstalled,
    /// The app is installed in several organizations and none was named.
    SeveralOrganizations,
    Store(StoreError),
}

impl From<StoreError> for TokenRefusal {
    fn from(error: StoreError) -> Self {
        TokenRefusal::Store(error)
    }
}

/// A token issued to an app.
#[derive(Debug)]
pub(crate) struct Issued {
    pub access_token: String,
    pub expires_in: i64,
}

/// Checks an installed app's client id and secret and issues a Tenon access token (`tna_…`) with the
/// installation's scopes, in `organization` when named (else the app's only installation).
pub(crate) async fn issue_token(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
    organization: Option<&str>,
) -> Result<Issued, TokenRefusal> {
    let Some(found) = state.store().find_client(client_id).await? else {
        return Err(TokenRefusal::BadCredentials);
    };
    if !SecretDigest::of(client_secret).matches(&SecretDigest(found.secret_digest)) {
        return Err(TokenRefusal::BadCredentials);
    }
    let mut installations = state
        .store()
        .installations_of_client(found.client.id)
        .await?;
    let installation: Installation = match organization {
        Some(org) => installations
            .into_iter()
            .find(|installation| installation.org_id.to_string() == org)
            .ok_or(TokenRefusal::NotInstalled)?,
        None if installations.len() > 1 => return Err(TokenRefusal::SeveralOrganizations),
        None => installations.pop().ok_or(TokenRefusal::NotInstalled)?,
    };
    let secret = tenon_auth::mint(SecretKind::AccessToken);
    let ttl = state.config().access_token_ttl;
    let ctx = WriteContext {
        actor: Actor::App {
            installation_id: installation.id,
            name: installation.app_name.to_string(),
        },
        request_id: Some(crate::request_id::current()),
    };
    state
        .store()
        .tenant(installation.org_id)
        .issue_access_token(
            &ctx,
            &installation,
            installation.scopes,
            secret.digest.as_bytes(),
            state.store().now() + ttl,
        )
        .await?;
    Ok(Issued {
        access_token: secret.plaintext,
        expires_in: ttl.num_seconds(),
    })
}
