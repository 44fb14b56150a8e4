//! DingTalk's callback encryption, as its `DingCallbackCrypto` helpers (Java, Python, Node) implement it.
//!
//! - The key is the subscription's **EncodingAESKey**: 43 characters of `[A-Za-z0-9]`, the base64 of 32
//!   bytes without its `=`. It is the AES-256 key, and its first 16 bytes are the CBC IV.
//! - The plaintext is `random(16) + msg_len(4, big-endian) + msg + owner_key` (the owner key is the app
//!   key of an app's subscription, else the organization id — DingTalk's `corpId`/`suiteKey`), padded
//!   with PKCS#7 to a multiple of **32** bytes (not AES's 16), encrypted with AES-256-CBC and sent as base64
//!   (`encrypt`).
//! - `msg_signature` is the hex SHA-1 of the sorted concatenation of token, timestamp, nonce and
//!   `encrypt`.
//!
//! Pure: the caller gives the random bytes, the timestamp and the nonce.

use aes::Aes256;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha1::{Digest, Sha1};

/// Characters of an EncodingAESKey.
pub const AES_KEY_CHARS: usize = 43;
/// The block PKCS#7 pads to (DingTalk's, twice AES's).
const PAD_BLOCK: usize = 32;
/// Plaintext a callback carries at most (the message's length is a 4-byte field; anything near it is
/// not a callback).
const MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Base64 that accepts keys whose last character has trailing bits (DingTalk's keys are 43 random
/// characters; its own helpers decode with lenient decoders).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a callback could not be opened, or a key not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The EncodingAESKey is not 43 characters of `[A-Za-z0-9]`.
    AesKey,
    /// `msg_signature` does not match.
    Signature,
    /// `encrypt` is not base64 of whole blocks, or its padding or layout is wrong.
    Cipher,
    /// The plaintext names another owner key (corpId/suiteKey).
    Owner,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CryptoError::AesKey => "the aes_key must be 43 characters of A-Z, a-z and 0-9",
            CryptoError::Signature => "the msg_signature does not match",
            CryptoError::Cipher => "the encrypt value does not decrypt to a DingTalk message",
            CryptoError::Owner => "the message is for another corpId or app key",
        })
    }
}

impl std::error::Error for CryptoError {}

/// Whether `text` is a usable EncodingAESKey.
pub fn valid_aes_key(text: &str) -> bool {
    text.len() == AES_KEY_CHARS && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An encrypted message as DingTalk sends it and expects it back: `{"msg_signature", "timeStamp",
/// "nonce", "encrypt"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sealed {
    pub msg_signature: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    pub nonce: String,
    pub encrypt: String,
}

/// One subscription's token, key and owner key.
#[derive(Clone)]
pub struct CallbackCrypto {
    token: String,
    key: [u8; 32],
    owner_key: String,
}

impl std::fmt::Debug for CallbackCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackCrypto")
            .field("owner_key", &self.owner_key)
            .finish_non_exhaustive()
    }
}

impl CallbackCrypto {
    pub fn new(token: &str, aes_key: &str, owner_key: &str) -> Result<Self, CryptoError> {
        if !valid_aes_key(aes_key) {
            return Err(CryptoError::AesKey);
        }
        let bytes = LENIENT.decode(aes_key).map_err(|_| CryptoError::AesKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::AesKey)?;
        Ok(CallbackCrypto {
            token: token.to_owned(),
            key,
            owner_key: owner_key.to_owned(),
        })
    }

    /// The hex SHA-1 of the sorted token, timestamp, nonce and `encrypt`.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        let mut parts = [self.token.as_str(), timestamp, nonce, encrypt];
        parts.sort_unstable();
        let digest = Sha1::digest(parts.concat().as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// `encrypt` for `message`, with the 16 random bytes DingTalk puts in front.
    pub fn encrypt(&self, message: &str, random: [u8; 16]) -> String {
        let message = message.as_bytes();
        let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
        let mut plain = Vec::with_capacity(20 + message.len() + self.owner_key.len() + PAD_BLOCK);
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&length.to_be_bytes());
        plain.extend_from_slice(message);
        plain.extend_from_slice(self.owner_key.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        plain.extend(std::iter::repeat_n(u8::try_from(pad).unwrap_or(0), pad));
        let length = plain.len();
        let encryptor = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into());
        // Whole blocks, no padding added here: cannot fail.
        let sealed = encryptor
            .encrypt_padded_mut::<NoPadding>(&mut plain, length)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        STANDARD.encode(sealed)
    }

    /// The message in `encrypt`, if it decrypts, is well formed and names this owner key.
    pub fn decrypt(&self, encrypt: &str) -> Result<String, CryptoError> {
        let mut bytes = STANDARD
            .decode(encrypt.trim())
            .or_else(|_| LENIENT.decode(encrypt.trim()))
            .map_err(|_| CryptoError::Cipher)?;
        if bytes.is_empty() || bytes.len() % 16 != 0 {
            return Err(CryptoError::Cipher);
        }
        let decryptor = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv().into());
        let plain = decryptor
            .decrypt_padded_mut::<NoPadding>(&mut bytes)
            .map_err(|_| CryptoError::Cipher)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::Cipher)?);
        if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
            return Err(CryptoError::Cipher);
        }
        let plain = &plain[..plain.len() - pad];
        if plain.len() < 20 {
            return Err(CryptoError::Cipher);
        }
        let length = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
        if length > MESSAGE_BYTES_MAX || 20 + length > plain.len() {
            return Err(CryptoError::Cipher);
        }
        let message = &plain[20..20 + length];
        let owner = &plain[20 + length..];
        if owner != self.owner_key.as_bytes() {
            return Err(CryptoError::Owner);
        }
        String::from_utf8(message.to_vec()).map_err(|_| CryptoError::Cipher)
    }

    /// Encrypts and signs `message`.
    pub fn seal(&self, message: &str, random: [u8; 16], timestamp: &str, nonce: &str) -> Sealed {
        let encrypt = self.encrypt(message, random);
        Sealed {
            msg_signature: self.signature(timestamp, nonce, &encrypt),
            time_stamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
            encrypt,
        }
    }

    /// Checks the signature, then decrypts.
    pub fn open(&self, sealed: &Sealed) -> Result<String, CryptoError> {
        let expected = self.signature(&sealed.time_stamp, &sealed.nonce, &sealed.encrypt);
        if !expected.eq_ignore_ascii_case(sealed.msg_signature.trim()) {
            return Err(CryptoError::Signature);
        }
        self.decrypt(&sealed.encrypt)
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // DingTalk's published example (its callback documentation and demos): token, EncodingAESKey and
    // suite key, and a `check_create_suite_url` message with its signature.
    const TOKEN: &str = "123456";
    const AES_KEY: &str = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij";
    const OWNER: &str = "suite4xxxxxxxxxxxxxxx";
    const SIGNATURE: &str = "5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0";
    const TIMESTAMP: &str = "1445827045067";
    const NONCE: &str = "nEXhMP4r";
    const ENCRYPT: &str = "1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdUBmfxjZ8Ej23JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9PhSBdHlegK+AGGanfwjXuQ9+0pZcy0w9lQ==";
    const MESSAGE: &str = r#"{"EventType":"check_create_suite_url","Random":"LPIdSnlF","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}"#;
    /// The random prefix inside the example's plaintext.
    const RANDOM: &[u8; 16] = b"hU3bEfGZZewzhG5a";

    fn crypto() -> CallbackCrypto {
        CallbackCrypto::new(TOKEN, AES_KEY, OWNER).unwrap()
    }

    #[test]
    fn the_published_example_verifies_and_decrypts() {
        let sealed = Sealed {
            msg_signature: SIGNATURE.to_owned(),
            time_stamp: TIMESTAMP.to_owned(),
            nonce: NONCE.to_owned(),
            encrypt: ENCRYPT.to_owned(),
        };
        assert_eq!(crypto().signature(TIMESTAMP, NONCE, ENCRYPT), SIGNATURE);
        assert_eq!(crypto().open(&sealed).unwrap(), MESSAGE);
    }

    #[test]
    fn encrypting_the_example_with_its_random_gives_its_ciphertext() {
        assert_eq!(crypto().encrypt(MESSAGE, *RANDOM), ENCRYPT);
        let sealed = crypto().seal(MESSAGE, *RANDOM, TIMESTAMP, NONCE);
        assert_eq!(sealed.msg_signature, SIGNATURE);
        assert_eq!(sealed.encrypt, ENCRYPT);
    }

    #[test]
    fn messages_round_trip_at_every_length_around_the_pad_block() {
        let crypto = crypto();
        for length in 0..80 {
            let message: String = "é".repeat(length / 2) + &"x".repeat(length % 2);
            let encrypt = crypto.encrypt(&message, [7; 16]);
            let bytes = STANDARD.decode(&encrypt).unwrap();
            assert_eq!(bytes.len() % PAD_BLOCK, 0, "padded to 32 bytes");
            assert_eq!(crypto.decrypt(&encrypt).unwrap(), message);
        }
        assert_eq!(
            crypto.decrypt(&crypto.encrypt("success", [1; 16])).unwrap(),
            "success"
        );
    }

    #[test]
    fn wrong_signatures_owners_keys_and_ciphertexts_are_refused() {
        let crypto = crypto();
        let mut sealed = crypto.seal("success", [3; 16], "1", "n");
        sealed.nonce = "m".to_owned();
        assert_eq!(crypto.open(&sealed), Err(CryptoError::Signature));
        let other = CallbackCrypto::new(TOKEN, AES_KEY, "dingother").unwrap();
        assert_eq!(other.decrypt(ENCRYPT), Err(CryptoError::Owner));
        let other_key =
            CallbackCrypto::new(TOKEN, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", OWNER)
                .unwrap();
        assert!(other_key.decrypt(ENCRYPT).is_err());
        assert_eq!(crypto.decrypt("not base64!"), Err(CryptoError::Cipher));
        assert_eq!(crypto.decrypt("AAAA"), Err(CryptoError::Cipher));
        assert_eq!(crypto.decrypt(""), Err(CryptoError::Cipher));
        for key in [
            "short",
            "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3i+",
            &"a".repeat(44),
        ] {
            assert_eq!(
                CallbackCrypto::new(TOKEN, key, OWNER).map(|_| ()),
                Err(CryptoError::AesKey)
            );
        }
    }
}
