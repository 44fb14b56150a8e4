//! Sending an outside step's request: the connection's credentials added at the last moment (an
//! `hmac` signature needs the send time), through the events crate's guarded client.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tenon_events::{OutboundReply, OutboundRequest, Sender};
use tenon_flows::connection::Auth;
use tenon_flows::retry::Failure;
use tenon_store::flows::{OutsideAnswer, OutsideCall};

/// Sends `call` and says what came of it (with the store's clock for a `Retry-After` date).
pub async fn send(
    sender: &Sender,
    call: &OutsideCall,
    now: chrono::DateTime<chrono::Utc>,
) -> OutsideAnswer {
    answer_of(request(sender, call).await, now)
}

/// Sends `call` with its credentials: the transport's reply.
pub async fn request(sender: &Sender, call: &OutsideCall) -> OutboundReply {
    let body = call.body.clone().unwrap_or_default();
    let mut headers = call.headers.clone();
    let mut url = call.url.clone();
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if call.body.is_some() && !has(&headers, "content-type") {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    headers.push(("Idempotency-Key".to_owned(), call.idempotency_key.clone()));
    match &call.auth {
        Auth::None => {}
        Auth::Bearer(token) => {
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")))
        }
        Auth::Basic { username, password } => {
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            headers.push(("Authorization".to_owned(), format!("Basic {pair}")));
        }
        Auth::Hmac(key) => {
            // Receivers compare the timestamp with their own clock: the wall clock, not the store's.
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            headers.push(("X-Tenon-Timestamp".to_owned(), timestamp.to_string()));
            headers.push((
                "X-Tenon-Signature".to_owned(),
                signature(key, timestamp, &body),
            ));
        }
        Auth::Acs3 {
            access_key_id,
            access_key_secret,
            action,
            version,
        } => {
            // Aliyun compares x-acs-date with its clock (15 minutes): the wall clock, not the store's.
            let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let nonce = uuid::Uuid::now_v7().simple().to_string();
            let (host, path, query) = parts(&url);
            let signed = tenon_flows::sign::Acs3 {
                method: &call.method,
                host,
                path,
                query,
                action,
                version,
                body: body.as_bytes(),
                date: &date,
                nonce: &nonce,
            };
            headers.extend(signed.headers(access_key_id, access_key_secret));
        }
        Auth::Tc3 {
            secret_id,
            secret_key,
            service,
        } => {
            // Tencent compares X-TC-Timestamp with its clock (5 minutes): the wall clock.
            let timestamp = chrono::Utc::now().timestamp();
            let (host, _, _) = parts(&url);
            let signed = tenon_flows::sign::Tc3 {
                host,
                service,
                body: body.as_bytes(),
                timestamp,
            };
            headers.push(("X-TC-Timestamp".to_owned(), timestamp.to_string()));
            headers.push((
                "Authorization".to_owned(),
                signed.authorization(secret_id, secret_key),
            ));
        }
        // Sent over SMTP (`crate::smtp`), never here.
        Auth::Smtp { .. } => {}
        Auth::DingTalkRobot { access_token, sign } => {
            url.push_str(&format!("?access_token={}", encode(access_token)));
            if let Some(secret) = sign {
                // DingTalk checks the timestamp against its clock (within an hour): the wall clock.
                let millis = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                url.push_str(&format!(
                    "&timestamp={millis}&sign={}",
                    encode(&robot_sign(secret, millis))
                ));
            }
        }
    }
    sender
        .request(OutboundRequest {
            method: call.method.clone(),
            url,
            headers,
            body: call.body.as_ref().map(|b| b.clone().into_bytes()),
            timeout: call.timeout,
        })
        .await
}

/// A transport's reply as an outside step's answer (a broken connection as a connect failure: retried).
pub fn answer_of(reply: OutboundReply, now: chrono::DateTime<chrono::Utc>) -> OutsideAnswer {
    match reply {
        OutboundReply::Answered {
            status,
            body,
            retry_after,
        } => OutsideAnswer::Answered {
            status,
            body,
            retry_after: retry_after.map(|after| after.delay_from(now)),
        },
        OutboundReply::Blocked(reason) => OutsideAnswer::Failed {
            failure: Failure::Refused,
            reason,
        },
        OutboundReply::Timeout(reason) => OutsideAnswer::Failed {
            failure: Failure::Timeout,
            reason,
        },
        OutboundReply::Connect(reason) | OutboundReply::Broken(reason) => OutsideAnswer::Failed {
            failure: Failure::Connect,
            reason,
        },
    }
}

/// A URL's `host[:port]`, path (`/` when none) and query (after `?`, as written).
fn parts(url: &str) -> (&str, &str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    match before_query.find('/') {
        Some(at) => (&before_query[..at], &before_query[at..], query),
        None => (before_query, "/", query),
    }
}

/// A DingTalk robot's `sign`: base64 of HMAC-SHA256 with the secret as key over
/// `"<timestamp ms>\n<secret>"` (before URL encoding).
pub fn robot_sign(secret: &str, millis: u128) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{millis}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`.
pub fn signature(key: &str, timestamp: u64, body: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_robot_sign_is_base64_hmac_of_the_timestamp_and_secret_and_is_url_encoded() {
        let sign = robot_sign("SEC000", 1_700_000_000_000);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&sign)
                .unwrap()
                .len(),
            32
        );
        assert_ne!(sign, robot_sign("SEC000", 1_700_000_000_001));
        assert_eq!(encode("a+b/c="), "a%2Bb%2Fc%3D");
    }

    #[test]
    fn a_url_splits_into_host_path_and_query() {
        assert_eq!(
            parts("http://127.0.0.1:8080/?A=1&B=2"),
            ("127.0.0.1:8080", "/", "A=1&B=2")
        );
        assert_eq!(
            parts("https://sms.example.com"),
            ("sms.example.com", "/", "")
        );
        assert_eq!(parts("https://x.example/a/b"), ("x.example", "/a/b", ""));
    }

    #[test]
    fn the_hmac_signature_covers_the_timestamp_and_the_body() {
        // RFC 4231 test case 2's key and message, framed as "<timestamp>.<body>".
        let a = signature("Jefe", 1, "what do ya want for nothing?");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature("Jefe", 2, "what do ya want for nothing?"));
        assert_ne!(a, signature("Jefe", 1, "what do ya want for nothing!"));
    }
}
