//! Proof of work for public forms, in ALTCHA's format (no third party): the page gets a challenge —
//! `{"algorithm": "SHA-256", "challenge", "maxnumber", "salt", "signature"}`, where `challenge` is the hex
//! SHA-256 of `salt` followed by a secret number below `maxnumber`, and `signature` the hex HMAC-SHA-256 of
//! `challenge` under this process's key. The browser finds the number and sends back
//! `base64(JSON {"algorithm", "challenge", "number", "salt", "signature"})`; the server checks the
//! signature, the hash, the expiry (`?expires=<unix seconds>` inside the salt) and that the challenge was
//! not used before — on any node: used challenges are kept in the database (`pow_spent`) until they
//! expire.
//!
//! The key is derived from the node's secret key (`--secret-key-file`, which the nodes of one database
//! share), so a challenge one node gave is good on every node and across restarts. A store without a
//! secret key (tests, tools) signs with a random key of the process.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The solver tries at most this many numbers (about a second in a phone's browser).
pub const MAX_NUMBER: u64 = 50_000;

/// How long a challenge stays good.
pub const LIFETIME_SECONDS: i64 = 20 * 60;

/// The process's own key, for a store without a secret key.
static PROCESS_KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    key
});

/// The key challenges are signed with on this store's nodes.
pub fn key(store: &tenon_store::Store) -> [u8; 32] {
    store
        .derived_key("public-form proof of work")
        .unwrap_or(*PROCESS_KEY)
}

/// What a page needs to hand out challenges: the store's time and key.
#[derive(Debug, Clone, Copy)]
pub struct Issuer {
    now: DateTime<Utc>,
    key: [u8; 32],
}

impl Issuer {
    pub fn of(store: &tenon_store::Store) -> Issuer {
        Issuer {
            now: store.now(),
            key: key(store),
        }
    }

    /// A fresh challenge, good for [`LIFETIME_SECONDS`].
    pub fn challenge(&self) -> Challenge {
        challenge(self.now, &self.key)
    }
}

/// A solution whose signature, hash and expiry hold: its challenge is still to be spent
/// ([`tenon_store::Store::spend_challenge`]), which refuses a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solved {
    pub challenge: String,
    /// Unix seconds.
    pub expires: i64,
}

/// A challenge as the page hands it to the solver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Challenge {
    pub algorithm: String,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// A solved challenge as the browser sends it back.
#[derive(Debug, Deserialize)]
struct Solution {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

/// Why a proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a payload of this format.
    Malformed,
    /// The signature or the hash does not match.
    Wrong,
    /// Past its expiry.
    Expired,
    /// Already used once.
    Replayed,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "the proof of work cannot be read",
            Refusal::Wrong => "the proof of work is wrong",
            Refusal::Expired => "the proof of work has expired",
            Refusal::Replayed => "the proof of work was already used",
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sign(key: &[u8; 32], challenge: &str) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice()) {
        Ok(mut mac) => {
            mac.update(challenge.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

fn digest(salt: &str, number: u64) -> String {
    hex(&Sha256::digest(format!("{salt}{number}").as_bytes()))
}

/// A fresh challenge signed with `key`, good for [`LIFETIME_SECONDS`] from `now`.
pub fn challenge(now: DateTime<Utc>, key: &[u8; 32]) -> Challenge {
    let mut random = [0u8; 12];
    rand::fill(&mut random);
    let salt = format!(
        "{}?expires={}",
        hex(&random),
        now.timestamp() + LIFETIME_SECONDS
    );
    let mut pick = [0u8; 8];
    rand::fill(&mut pick);
    let number = u64::from_le_bytes(pick) % MAX_NUMBER;
    let challenge = digest(&salt, number);
    Challenge {
        algorithm: "SHA-256".to_owned(),
        signature: sign(key, &challenge),
        challenge,
        maxnumber: MAX_NUMBER,
        salt,
    }
}

/// Checks a solution (the base64 payload): its signature under `key`, its hash and its expiry. Whether
/// it was used before is the store's to say ([`Solved`]).
pub fn verify(payload: &str, now: DateTime<Utc>, key: &[u8; 32]) -> Result<Solved, Refusal> {
    let bytes = STANDARD
        .decode(payload.trim())
        .map_err(|_| Refusal::Malformed)?;
    let solution: Solution = serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)?;
    if solution.algorithm != "SHA-256" || solution.number > MAX_NUMBER {
        return Err(Refusal::Wrong);
    }
    let expected = sign(key, &solution.challenge);
    let signed: bool = expected.len() == solution.signature.len()
        && expected
            .bytes()
            .zip(solution.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !signed || digest(&solution.salt, solution.number) != solution.challenge {
        return Err(Refusal::Wrong);
    }
    let expires = solution
        .salt
        .split_once('?')
        .and_then(|(_, query)| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("expires="))
        })
        .and_then(|value| value.parse::<i64>().ok())
        .ok_or(Refusal::Malformed)?;
    if expires < now.timestamp() {
        return Err(Refusal::Expired);
    }
    Ok(Solved {
        challenge: solution.challenge,
        expires,
    })
}

/// Solves a challenge the way the page's solver does (for tests and scripts).
pub fn solve(challenge: &Challenge) -> Option<String> {
    let number = (0..=challenge.maxnumber)
        .find(|number| digest(&challenge.salt, *number) == challenge.challenge)?;
    let payload = serde_json::json!({
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "number": number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    });
    Some(STANDARD.encode(payload.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_solved_challenge_passes_and_a_forged_stale_or_foreign_one_never() {
        let now = at(1_800_000_000);
        let challenge = challenge(now, &KEY);
        assert_eq!(challenge.algorithm, "SHA-256");
        let solved = solve(&challenge).unwrap_or_default();
        assert_eq!(
            verify(&solved, now, &KEY),
            Ok(Solved {
                challenge: challenge.challenge.clone(),
                expires: 1_800_000_000 + LIFETIME_SECONDS,
            })
        );
        // Signed under another node's key (another secret key file): refused.
        assert_eq!(verify(&solved, now, &[8; 32]), Err(Refusal::Wrong));

        let stale = challenge_solution(now);
        assert_eq!(
            verify(&stale, at(1_800_000_000 + LIFETIME_SECONDS + 1), &KEY),
            Err(Refusal::Expired)
        );

        let mut forged = super::challenge(now, &KEY);
        forged.signature = "00".repeat(32);
        let forged = solve(&forged).unwrap_or_default();
        assert_eq!(verify(&forged, now, &KEY), Err(Refusal::Wrong));
        assert_eq!(verify("not base64!", now, &KEY), Err(Refusal::Malformed));
    }

    fn challenge_solution(now: DateTime<Utc>) -> String {
        solve(&challenge(now, &KEY)).unwrap_or_default()
    }
}
