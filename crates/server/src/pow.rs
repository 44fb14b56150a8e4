//! Proof of work for public forms, in ALTCHA's format (no third party): the page gets a challenge —
//! `{"algorithm": "SHA-256", "challenge", "maxnumber", "salt", "signature"}`, where `challenge` is the hex
//! SHA-256 of `salt` followed by a secret number below `maxnumber`, and `signature` the hex HMAC-SHA-256 of
//! `challenge` under this process's key. The browser finds the number and sends back
//! `base64(JSON {"algorithm", "challenge", "number", "salt", "signature"})`; the server checks the
//! signature, the hash, the expiry (`?expires=<unix seconds>` inside the salt) and that the challenge was
//! not used before.
//!
//! The key is random per process: a challenge outlives neither a restart nor a move to another node
//! behind a load balancer (the visitor then gets a fresh one with the refusal).

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The solver tries at most this many numbers (about a second in a phone's browser).
pub const MAX_NUMBER: u64 = 50_000;

/// How long a challenge stays good.
pub const LIFETIME_SECONDS: i64 = 20 * 60;

static KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    key
});

/// Challenges already used, with their expiry (forgotten once expired).
static USED: LazyLock<DashMap<String, i64>> = LazyLock::new(DashMap::new);

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

fn sign(challenge: &str) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(KEY.as_slice()) {
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

/// A fresh challenge, good for [`LIFETIME_SECONDS`] from `now`.
pub fn challenge(now: DateTime<Utc>) -> Challenge {
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
        signature: sign(&challenge),
        challenge,
        maxnumber: MAX_NUMBER,
        salt,
    }
}

/// Checks a solution (the base64 payload) and marks its challenge used.
pub fn verify(payload: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    let bytes = STANDARD
        .decode(payload.trim())
        .map_err(|_| Refusal::Malformed)?;
    let solution: Solution = serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)?;
    if solution.algorithm != "SHA-256" || solution.number > MAX_NUMBER {
        return Err(Refusal::Wrong);
    }
    let expected = sign(&solution.challenge);
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
    let now = now.timestamp();
    if expires < now {
        return Err(Refusal::Expired);
    }
    USED.retain(|_, until| *until >= now);
    if USED.insert(solution.challenge, expires).is_some() {
        return Err(Refusal::Replayed);
    }
    Ok(())
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

    #[test]
    fn a_solved_challenge_passes_once_and_a_forged_or_stale_one_never() {
        let now = at(1_800_000_000);
        let challenge = challenge(now);
        assert_eq!(challenge.algorithm, "SHA-256");
        let solved = solve(&challenge).unwrap_or_default();
        assert_eq!(verify(&solved, now), Ok(()));
        assert_eq!(verify(&solved, now), Err(Refusal::Replayed));

        let stale = challenge_solution(now);
        assert_eq!(
            verify(&stale, at(1_800_000_000 + LIFETIME_SECONDS + 1)),
            Err(Refusal::Expired)
        );

        let mut forged = super::challenge(now);
        forged.signature = "00".repeat(32);
        let forged = solve(&forged).unwrap_or_default();
        assert_eq!(verify(&forged, now), Err(Refusal::Wrong));
        assert_eq!(verify("not base64!", now), Err(Refusal::Malformed));
    }

    fn challenge_solution(now: DateTime<Utc>) -> String {
        solve(&challenge(now)).unwrap_or_default()
    }
}
