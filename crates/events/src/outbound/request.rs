//! Outbound requests beyond webhook deliveries: the flows' `http` step (any method, headers and body)
//! through the same guarded client — the policy's resolver, no redirects, no proxy, the body read up to
//! [`RESPONSE_BYTES_MAX`].

use std::time::Duration;

use reqwest::Url;

use super::{RESPONSE_BYTES_MAX, RetryAfter, Sender, describe, ip_literal};

/// A request to send.
#[derive(Clone)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// What came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundReply {
    /// An answer (any status): the body's first [`RESPONSE_BYTES_MAX`] bytes as text.
    Answered {
        status: u16,
        body: String,
        retry_after: Option<RetryAfter>,
    },
    /// The policy refused the target (or the URL is not one): sending again changes nothing.
    Blocked(String),
    /// No answer in time.
    Timeout(String),
    /// No connection could be made: nothing was sent.
    Connect(String),
    /// The connection broke after it was made (while the request or its answer was under way): the
    /// target may have acted on the request.
    Broken(String),
}

impl Sender {
    /// Sends `request`; redirects are answers (3xx), not followed.
    pub async fn request(&self, request: OutboundRequest) -> OutboundReply {
        let url = match Url::parse(&request.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(_) => {
                return OutboundReply::Blocked(
                    "the URL must start with http:// or https://".into(),
                );
            }
            Err(error) => return OutboundReply::Blocked(format!("not a URL: {error}")),
        };
        if let Some(ip) = url.host_str().and_then(ip_literal)
            && let Err(blocked) = self.policy.check_ip(ip)
        {
            return OutboundReply::Blocked(blocked.to_string());
        }
        let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
            return OutboundReply::Blocked(format!("{} is not an HTTP method", request.method));
        };
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => return OutboundReply::Connect(error),
        };
        let mut builder = client.request(method, url).timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(error) => return failed(&error),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(RetryAfter::parse);
        let mut bytes = Vec::new();
        while bytes.len() < RESPONSE_BYTES_MAX {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) => return failed(&error),
            }
        }
        bytes.truncate(RESPONSE_BYTES_MAX);
        OutboundReply::Answered {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            retry_after,
        }
    }
}

fn failed(error: &reqwest::Error) -> OutboundReply {
    let reason = describe(error);
    if reason.starts_with("blocked:") || error.is_builder() {
        OutboundReply::Blocked(reason)
    } else if error.is_connect() {
        // Refused, unreachable, or no connection in time (a connect timeout is both): no byte of the
        // request went out, so sending it again is safe even to a target that keeps no key.
        OutboundReply::Connect(reason)
    } else if error.is_timeout() {
        OutboundReply::Timeout(reason)
    } else {
        OutboundReply::Broken(reason)
    }
}
