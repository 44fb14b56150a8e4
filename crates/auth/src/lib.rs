//! Secrets: how Tenon makes, hashes and checks them.
//!
//! - Passwords are hashed with argon2id (memory-hard, deliberately slow): callers run [`hash_password`] and
//!   [`verify_password`] off the async runtime (`spawn_blocking`).
//! - Tokens, client secrets and session ids are 256-bit random values; for those a single SHA-256 is enough
//!   (nothing to brute-force) and keeps request authentication in microseconds. Only the digest is stored.
//! - Login backoff is a pure function of the failure count.
//!
//! This crate reads the operating system's random source and nothing else: no network, no files, no clock.

use std::fmt;
use std::sync::OnceLock;

use argon2::Argon2;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

mod backoff;

pub use backoff::{LOGIN_FAILURES_FREE, LOGIN_LOCK_SECONDS_MAX, lock_seconds_after};

/// What a secret is for. The prefix makes leaked secrets recognizable to secret scanners and to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A personal or organization API token.
    PersonalToken,
    /// An OAuth2 access token issued to an installed app.
    AccessToken,
    /// An OAuth2 client secret.
    ClientSecret,
    /// A browser session id (the cookie value).
    Session,
    /// A signed link to one record's chosen fields (`/s/{token}`).
    Share,
}

impl SecretKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            SecretKind::PersonalToken => "tnp_",
            SecretKind::AccessToken => "tna_",
            SecretKind::ClientSecret => "tncs_",
            SecretKind::Session => "tns_",
            SecretKind::Share => "tnl_",
        }
    }
}

/// The SHA-256 digest under which a secret is stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretDigest(pub [u8; 32]);

impl SecretDigest {
    pub fn of(secret: &str) -> Self {
        SecretDigest(Sha256::digest(secret.as_bytes()).into())
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Constant-time comparison, for the few places that compare digests outside an index lookup.
    pub fn matches(&self, other: &SecretDigest) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest(..)")
    }
}

/// A freshly minted secret: the plaintext to show once, and the digest to store.
pub struct NewSecret {
    pub plaintext: String,
    pub digest: SecretDigest,
}

impl fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSecret")
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

/// Mints 256 bits of randomness from the thread-local CSPRNG, prefixed by kind.
pub fn mint(kind: SecretKind) -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let plaintext = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
    let digest = SecretDigest::of(&plaintext);
    NewSecret { plaintext, digest }
}

/// A public OAuth2 client id: not a secret, but unguessable so that ids do not leak how many apps exist.
pub fn mint_client_id() -> String {
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    format!("tnc_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The unguessable part of a public link (a form's URL): 128 random bits, URL-safe.
pub fn mint_slug() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hashing failed inside argon2 (it does not for valid parameters; the error keeps callers honest).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password with argon2id and a random salt, as a PHC string. CPU-heavy: call off the runtime.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    use argon2::PasswordHasher;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(error.to_string()))
}

/// Checks a password against a stored PHC string. A malformed hash never verifies. CPU-heavy.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::PasswordVerifier;
    let Ok(hash) = argon2::password_hash::phc::PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Spends the time of one password verification without a stored hash, so a login for an unknown
/// e-mail address takes as long as one for a known address with a wrong password.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash_password("tenon-dummy-password").ok()) {
        let _ = verify_password(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_verifies_only_itself() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsE", &phc));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn minted_secrets_are_prefixed_unique_and_digest_to_their_stored_form() {
        let a = mint(SecretKind::PersonalToken);
        let b = mint(SecretKind::PersonalToken);
        assert!(a.plaintext.starts_with("tnp_"));
        assert_eq!(a.plaintext.len(), 4 + 43);
        assert_ne!(a.plaintext, b.plaintext);
        assert!(SecretDigest::of(&a.plaintext).matches(&a.digest));
        assert!(!a.digest.matches(&b.digest));
    }
}
