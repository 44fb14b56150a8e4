//! The node's key for secrets at rest (`tenon serve --secret-key-file`): XChaCha20-Poly1305 with a fresh
//! 24-byte nonce per seal and the caller's associated data (see [`crate::connections`]). Below the crate
//! root, which holds one.

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Bytes of a secret key (the key file holds exactly these, raw).
pub const SECRET_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// The node's key for secrets at rest (`tenon serve --secret-key-file`; nodes sharing a database share
/// it).
#[derive(Clone)]
pub struct SecretKey(Arc<XChaCha20Poly1305>, Arc<[u8; SECRET_KEY_BYTES]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<SecretKey, String> {
        if bytes.len() != SECRET_KEY_BYTES {
            return Err(format!(
                "a secret key is {SECRET_KEY_BYTES} bytes; this one has {}",
                bytes.len()
            ));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes).map_err(|e| e.to_string())?;
        let mut raw = [0u8; SECRET_KEY_BYTES];
        raw.copy_from_slice(bytes);
        Ok(SecretKey(Arc::new(cipher), Arc::new(raw)))
    }

    /// A key for another purpose (a MAC), never the sealing key itself: SHA-256 of a domain label, the
    /// purpose and the key's bytes.
    pub(crate) fn derive(&self, purpose: &str) -> [u8; SECRET_KEY_BYTES] {
        let mut hasher = Sha256::new();
        hasher.update(b"tenon derived key\0");
        hasher.update(purpose.as_bytes());
        hasher.update([0u8]);
        hasher.update(self.1.as_slice());
        hasher.finalize().into()
    }

    /// 32 random bytes for a new key file.
    pub fn generate() -> [u8; SECRET_KEY_BYTES] {
        let mut bytes = [0u8; SECRET_KEY_BYTES];
        rand::fill(&mut bytes);
        bytes
    }

    pub(crate) fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::fill(&mut nonce);
        let sealed = self
            .0
            .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad })
            .map_err(|_| StoreError::Config("cannot encrypt a secret".to_owned()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return Err(StoreError::Corrupt(
                "a sealed secret is too short".to_owned(),
            ));
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce
            .try_into()
            .map_err(|_| StoreError::Corrupt("a sealed secret's nonce".to_owned()))?;
        self.0
            .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
            .map_err(|_| {
                StoreError::Config(
                    "a connection's secrets do not open with this node's secret key (another --secret-key-file?)"
                        .to_owned(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let key = SecretKey::from_bytes(&SecretKey::generate()).unwrap();
        let sealed = key.seal(b"org:a", b"s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.open(b"org:a", &sealed).unwrap(), b"s3cret");
        assert!(key.open(b"org:b", &sealed).is_err(), "another row's data");
        let other = SecretKey::from_bytes(&SecretKey::generate()).unwrap();
        assert!(other.open(b"org:a", &sealed).is_err(), "another key");
        assert!(SecretKey::from_bytes(&[0u8; 16]).is_err());
    }
}
