//! Credentials and who acts: API tokens, third-party apps and their installations, and the authenticated
//! principal every request runs as.

use chrono::{DateTime, Utc};

use crate::directory::MemberStatus;
use crate::errors::DetailCode;
use crate::ids::{
    ClientAppId, FlowId, FlowRunId, InstallationId, MemberId, OrgId, ShareId, TokenId,
};
use crate::rate::RateLimit;
use crate::role::Role;
use crate::scope::ScopeSet;
use crate::validation::Checker;
use crate::values::Name;

/// Redirect URIs an app may register at most.
pub const REDIRECT_URIS_MAX: usize = 10;

/// Characters of a redirect URI at most (a registered one, or a sign-in's `redirect_uri`).
pub const REDIRECT_URI_CHARS_MAX: usize = 2000;

/// What a bearer token was issued as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Created by a person or the CLI; lives until it expires or is revoked.
    Personal,
    /// Issued to an installed third-party app by the OAuth2 client-credentials grant; short-lived.
    AppAccess,
}

impl TokenKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::AppAccess => "app_access",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "personal" => Some(TokenKind::Personal),
            "app_access" => Some(TokenKind::AppAccess),
            _ => None,
        }
    }
}

/// A token's metadata. The secret itself is never stored; its SHA-256 is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub org_id: OrgId,
    pub kind: TokenKind,
    pub name: Name,
    /// The member a personal token acts for; `None` for organization tokens made by the CLI and for app tokens.
    pub member_id: Option<MemberId>,
    /// The installation an app access token was issued to.
    pub installation_id: Option<InstallationId>,
    pub scopes: ScopeSet,
    /// Overrides the platform default when set.
    pub rate_limit: Option<RateLimit>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ApiToken {
    /// Whether the token may be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

/// A registered third-party application. Registration is global; access is per installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub id: ClientAppId,
    /// The public OAuth2 `client_id`.
    pub client_id: String,
    pub name: Name,
    /// The organization that registered the app.
    pub owner_org_id: OrgId,
    /// Where DingTalk-style sign-in (`/oauth2/authorize`) may send a member back (`http(s)://` URLs
    /// without query or fragment); empty: nowhere.
    pub redirect_uris: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A third-party application installed in one organization with the scopes that organization granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: InstallationId,
    pub org_id: OrgId,
    pub client_app_id: ClientAppId,
    pub client_id: String,
    pub app_name: Name,
    pub scopes: ScopeSet,
    pub rate_limit: Option<RateLimit>,
    /// How its stream frames name events: native types, or DingTalk's (`user_add_org`…).
    pub event_format: EventFormat,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How events are rendered for an installed app or a subscription: Tenon's own envelope, or DingTalk's
/// event names and shapes (issue #21; the renderings live in `tenon-dingtalk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventFormat {
    #[default]
    Native,
    DingTalk,
}

impl EventFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventFormat::Native => "native",
            EventFormat::DingTalk => "dingtalk",
        }
    }

    pub fn parse(text: &str) -> Option<EventFormat> {
        match text {
            "native" => Some(EventFormat::Native),
            "dingtalk" => Some(EventFormat::DingTalk),
            _ => None,
        }
    }
}

/// Who performed an action, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person, through a login session.
    Member { id: MemberId, name: String },
    /// A personal or organization API token, possibly on behalf of a member (`member_name`: that member's
    /// name when the token was authenticated).
    Token {
        id: TokenId,
        name: String,
        member_id: Option<MemberId>,
        member_name: Option<String>,
    },
    /// An installed third-party app.
    App {
        installation_id: InstallationId,
        name: String,
    },
    /// The platform itself: the CLI, the demo seeding, migrations.
    System,
    /// A run of a connection flow: `id` is the run, `name` the flow's key. `flow` and `depth` say which
    /// flow wrote (its own writes never trigger it) and how deep runs nest (at most
    /// `tenon_flows::DEPTH_MAX`).
    Flow {
        run_id: FlowRunId,
        name: String,
        flow_id: FlowId,
        depth: u32,
    },
    /// A visitor using a signed record link (no account): `id` is the link, `name` says it was one
    /// (in the organization's language). The link's maker bounds what it may do; the visitor is not them.
    Share { id: ShareId, name: String },
}

impl Actor {
    pub const fn kind(&self) -> &'static str {
        match self {
            Actor::Member { .. } => "member",
            Actor::Token { .. } => "token",
            Actor::App { .. } => "app",
            Actor::System => "system",
            Actor::Flow { .. } => "flow",
            Actor::Share { .. } => "share",
        }
    }
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Member { id, .. } => Some(id.to_string()),
            Actor::Token { id, .. } => Some(id.to_string()),
            Actor::App {
                installation_id, ..
            } => Some(installation_id.to_string()),
            Actor::System => None,
            Actor::Flow { run_id, .. } => Some(run_id.to_string()),
            Actor::Share { id, .. } => Some(id.to_string()),
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Actor::Member { name, .. }
            | Actor::Token { name, .. }
            | Actor::App { name, .. }
            | Actor::Flow { name, .. }
            | Actor::Share { name, .. } => name,
            Actor::System => "system",
        }
    }
    /// Who a record names as its author (`created_by` / `modified_by`): the member when a session or a
    /// member's personal token writes, otherwise the actor itself (an organization token, an app
    /// installation, the system). The actor stays in the audit entry and the event.
    pub fn author(&self) -> Actor {
        match self {
            Actor::Token {
                member_id: Some(id),
                member_name: Some(name),
                ..
            } => Actor::Member {
                id: *id,
                name: name.clone(),
            },
            other => other.clone(),
        }
    }

    /// The member behind the action, if any.
    pub fn member_id(&self) -> Option<MemberId> {
        match self {
            Actor::Member { id, .. } => Some(*id),
            Actor::Token { member_id, .. } => *member_id,
            Actor::App { .. } | Actor::System | Actor::Flow { .. } | Actor::Share { .. } => None,
        }
    }
}

/// The identity a request that authenticated runs as. Its organization is the tenant for every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_id: OrgId,
    pub actor: Actor,
    pub scopes: ScopeSet,
    /// The credential's own limit, or `None` for the platform default.
    pub rate_limit: Option<RateLimit>,
    /// What rate limits are counted against: one bucket per token, per app installation, or per member's
    /// sessions, so that minting new tokens does not reset an app's budget.
    pub rate_key: uuid::Uuid,
}

/// A token found by its digest, with what decides its rights today: the member it acts for (role and
/// status may have changed since it was made) or the installation it was issued to (whose scopes may have
/// been narrowed since).
#[derive(Debug, Clone)]
pub struct AuthenticatedToken {
    pub token: ApiToken,
    pub member: Option<TokenMember>,
    pub installation: Option<Installation>,
}

/// The member a token acts for, as it is now.
#[derive(Debug, Clone)]
pub struct TokenMember {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
    pub status: MemberStatus,
}

/// Why `uri` cannot be a sign-in's `redirect_uri` (`http://` or `https://`, no fragment, whitespace
/// or control characters, at most [`REDIRECT_URI_CHARS_MAX`] characters), if it cannot.
pub fn redirect_problem(uri: &str) -> Option<&'static str> {
    let lower = uri.to_ascii_lowercase();
    let bad = !(lower.starts_with("http://") || lower.starts_with("https://"))
        || uri.contains('#')
        || uri.chars().any(|c| c.is_control() || c.is_whitespace())
        || uri.chars().count() > REDIRECT_URI_CHARS_MAX;
    bad.then_some("must be an http:// or https:// URL without a fragment, at most 2000 characters")
}

/// Why `uri` cannot be registered as an app's redirect URI (as [`redirect_problem`], and no query: a
/// `redirect_uri` is matched without its query), if it cannot.
pub fn registrable_redirect(uri: &str) -> Option<&'static str> {
    let host = uri.split_once("://").map_or("", |(_, rest)| rest);
    redirect_problem(uri)
        .or_else(|| uri.contains('?').then_some("must not have a query"))
        .or_else(|| (host.is_empty() || host.starts_with('/')).then_some("must name a host"))
}

/// Checks the redirect URIs an app registers — at most [`REDIRECT_URIS_MAX`], each
/// [`registrable_redirect`] — recording problems at `at` (the list) and `at[index]` (one URI); the
/// URIs, each once in the order given, when all are good. The API's `redirect_uris` and the CLI's
/// `--redirect-uri` both go through it.
pub fn check_redirect_uris(check: &mut Checker, at: &str, raw: Vec<String>) -> Option<Vec<String>> {
    let mut bad = false;
    if raw.len() > REDIRECT_URIS_MAX {
        check.too_many(at, REDIRECT_URIS_MAX, "too many redirect URIs");
        bad = true;
    }
    for (index, uri) in raw.iter().enumerate() {
        if let Some(reason) = registrable_redirect(uri) {
            check.push(format!("{at}[{index}]"), DetailCode::InvalidValue, reason);
            bad = true;
        }
    }
    let mut uris: Vec<String> = Vec::with_capacity(raw.len());
    for uri in raw {
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    (!bad).then_some(uris)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(raw: &[&str]) -> (Option<Vec<String>>, Vec<String>) {
        let mut check = Checker::default();
        let uris = check_redirect_uris(
            &mut check,
            "redirect_uris",
            raw.iter().map(|uri| (*uri).to_owned()).collect(),
        );
        let at = check
            .into_invalid()
            .0
            .into_iter()
            .map(|error| error.field)
            .collect();
        (uris, at)
    }

    #[test]
    fn registered_redirect_uris_are_http_urls_with_a_host_and_no_query_kept_once() {
        assert_eq!(
            checked(&[
                "https://a.example/cb",
                "http://b.example",
                "https://a.example/cb"
            ]),
            (
                Some(vec![
                    "https://a.example/cb".to_owned(),
                    "http://b.example".to_owned()
                ]),
                vec![]
            )
        );
        assert_eq!(
            checked(&[
                "https://a.example/cb",
                "ftp://a.example",
                "https://a.example/?x=1",
                "https:///cb",
                "https://a.example/#f"
            ]),
            (
                None,
                vec![
                    "redirect_uris[1]".to_owned(),
                    "redirect_uris[2]".to_owned(),
                    "redirect_uris[3]".to_owned(),
                    "redirect_uris[4]".to_owned()
                ]
            )
        );
        let many: Vec<String> = (0..=REDIRECT_URIS_MAX)
            .map(|i| format!("https://a.example/{i}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(checked(&many), (None, vec!["redirect_uris".to_owned()]));
    }
}
