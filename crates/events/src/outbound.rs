//! Outbound requests: where webhooks may go, and the one HTTP client that sends them.
//!
//! By default a webhook may reach only public addresses: loopback, private (RFC 1918, unique local),
//! link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, unspecified, multicast and other
//! special-purpose addresses are blocked. The host name is resolved by our own resolver, every address it
//! returns is checked, and the connection goes to those checked addresses (no second lookup that a
//! rebinding DNS server could answer differently). Redirects are never followed, and response bodies are
//! read up to [`RESPONSE_BYTES_MAX`]. Operators widen the policy with `--outbound-allow` /
//! `TENON_OUTBOUND_ALLOW`: comma-separated host names, IP addresses and CIDR blocks.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::signing;

mod request;

pub use request::{OutboundReply, OutboundRequest};

/// Response bytes read at most; the rest is not read.
pub const RESPONSE_BYTES_MAX: usize = 64 * 1024;
/// Characters of the response kept in the delivery log.
pub const RESPONSE_EXCERPT_CHARS_MAX: usize = tenon_store::RESPONSE_EXCERPT_CHARS_MAX;
const USER_AGENT: &str = concat!("Tenon-Webhooks/", env!("CARGO_PKG_VERSION"));

/// A target the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blocked: {0}")]
pub struct Blocked(pub String);

/// Where webhooks may go besides public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl OutboundPolicy {
    /// Parses `host, 10.0.0.0/8, 127.0.0.1`. An empty list allows public addresses only.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut policy = OutboundPolicy::default();
        for item in list
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            if let Ok(net) = item.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                policy.hosts.push(item.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "\"{item}\" is not a host name, an IP address or a CIDR block"
                ));
            }
        }
        Ok(policy)
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    /// Whether a webhook may connect to `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Blocked> {
        let ip = canonical(ip);
        if self.nets.iter().any(|net| net.contains(&ip)) || is_public(ip) {
            Ok(())
        } else {
            Err(Blocked(format!(
                "{ip} is a private, loopback, link-local or otherwise non-public address \
                 (allow it with --outbound-allow)"
            )))
        }
    }

    /// Checks a webhook URL: http or https, a host, and (after resolving it) only allowed addresses.
    pub async fn check_url(&self, raw: &str) -> Result<Url, Blocked> {
        let url = Url::parse(raw).map_err(|error| Blocked(format!("not a URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Blocked(
                "the URL must start with http:// or https://".into(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Blocked("the URL must not carry credentials".into()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| Blocked("the URL has no host".into()))?
            .to_owned();
        if let Some(ip) = ip_literal(&host) {
            self.check_ip(ip)?;
        } else if !self.allows_host(&host) {
            let port = url.port_or_known_default().unwrap_or(443);
            self.resolve_checked(&host, port).await?;
        }
        Ok(url)
    }

    async fn resolve_checked(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Blocked> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| Blocked(format!("cannot resolve {host}: {error}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Blocked(format!("{host} has no address")));
        }
        if !self.allows_host(host) {
            // Every address must pass: a DNS answer that mixes a public and a private address is refused.
            for addr in &addrs {
                self.check_ip(addr.ip())?;
            }
        }
        Ok(addrs)
    }
}

/// An IPv4 address mapped into IPv6 is judged as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Globally routable unicast addresses only.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 can reach private IPv4
        }
    }
}

/// The resolver the HTTP client uses: resolves, then refuses the name if any address is blocked.
struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = policy.resolve_checked(&host, 0).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// A receiver's `Retry-After` (RFC 9110 §10.2.3): a number of seconds, or an HTTP date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 120`.
    Seconds(u64),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// Reads a header value: delay-seconds (digits only), or an HTTP date in the IMF-fixdate form or
    /// the obsolete RFC 850 and asctime forms that recipients must still accept. Anything else is `None`:
    /// the schedule alone decides.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
            return value.parse().ok().map(RetryAfter::Seconds);
        }
        httpdate::parse_http_date(value)
            .ok()
            .map(|at| RetryAfter::At(DateTime::<Utc>::from(at)))
    }

    /// The delay this asks for, counted from `now` (the store's clock, which also schedules the retry):
    /// a date in the past asks for none.
    pub fn delay_from(self, now: DateTime<Utc>) -> TimeDelta {
        match self {
            RetryAfter::Seconds(seconds) => i64::try_from(seconds)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .unwrap_or(TimeDelta::MAX),
            RetryAfter::At(at) => (at - now).max(TimeDelta::zero()),
        }
    }
}

/// What one webhook request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    /// The receiver's `Retry-After`, if it sent one that parses.
    pub retry_after: Option<RetryAfter>,
}

impl SendResult {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// The webhook HTTP client: guarded resolver, no redirects, no proxy, timeouts. The client (with its TLS
/// roots) is built on the first send, so a node that never sends a webhook does not carry it.
#[derive(Debug, Clone)]
pub struct Sender {
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    timeout: Duration,
    policy: Arc<OutboundPolicy>,
}

impl Sender {
    pub fn new(policy: OutboundPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Sender {
            client: Arc::new(OnceLock::new()),
            timeout,
            policy: Arc::new(policy),
        })
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .dns_resolver(Arc::new(GuardedResolver {
                        policy: self.policy.clone(),
                    }))
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout.min(Duration::from_secs(10)))
                    .user_agent(USER_AGENT)
                    .build()
                    .map_err(|error| format!("cannot build the webhook client: {error}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Posts `body` to `url`, signed with `secret` as message `id` at the current Unix time.
    pub async fn send(&self, url: &str, secret: &str, id: &str, body: Vec<u8>) -> SendResult {
        let Some(key) = signing::secret_key(secret) else {
            return failed(
                "the subscription's secret is malformed".into(),
                Instant::now(),
            );
        };
        // Receivers compare the timestamp with their own clock, so it is the wall clock, not the store's.
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = signing::signature(&key, id, timestamp, &body);
        let headers = [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        self.post(url, &headers, body).await.0
    }

    /// Posts a JSON `body` to `url` as it is (a DingTalk callback: its signature is in the URL's query),
    /// and returns the response's text (up to [`RESPONSE_BYTES_MAX`]) beside the result.
    pub async fn send_plain(&self, url: &str, body: Vec<u8>) -> (SendResult, String) {
        self.post(url, &[], body).await
    }

    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> (SendResult, String) {
        let started = Instant::now();
        let url = match Url::parse(url) {
            Ok(url) => url,
            Err(error) => {
                return (
                    failed(format!("not a URL: {error}"), started),
                    String::new(),
                );
            }
        };
        // The resolver sees host names only: IP literals are checked here.
        if let Some(ip) = url.host_str().and_then(ip_literal)
            && let Err(blocked) = self.policy.check_ip(ip)
        {
            return (failed(blocked.to_string(), started), String::new());
        }
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => return (failed(error, started), String::new()),
        };
        let mut request = client.post(url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => return (failed(describe(&error), started), String::new()),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(RetryAfter::parse);
        let mut bytes = Vec::new();
        let mut error = None;
        while bytes.len() < RESPONSE_BYTES_MAX {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(read_error) => {
                    error = Some(describe(&read_error));
                    break;
                }
            }
        }
        bytes.truncate(RESPONSE_BYTES_MAX);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let excerpt: String = text.chars().take(RESPONSE_EXCERPT_CHARS_MAX).collect();
        if (300..400).contains(&status) && error.is_none() {
            error = Some("redirects are not followed".into());
        }
        let result = SendResult {
            status_code: Some(status),
            latency_ms: elapsed_ms(started),
            error,
            response_excerpt: (!excerpt.is_empty()).then_some(excerpt),
            retry_after,
        };
        (result, text)
    }
}

/// A request that got no response.
fn failed(error: String, started: Instant) -> SendResult {
    SendResult {
        status_code: None,
        latency_ms: elapsed_ms(started),
        error: Some(error),
        response_excerpt: None,
        retry_after: None,
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A transport error in a line, with the policy's reason when the resolver refused the host.
fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(blocked) = current.downcast_ref::<Blocked>() {
            return blocked.to_string();
        }
        source = current.source();
    }
    if error.is_connect() && error.is_timeout() {
        return "connection failed: timed out before connecting".into();
    }
    if error.is_timeout() {
        return "timed out".into();
    }
    if error.is_connect() {
        return format!("connection failed: {}", root_cause(error));
    }
    root_cause(error)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn private_loopback_link_local_and_special_addresses_are_blocked_by_default() {
        let policy = OutboundPolicy::default();
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                policy.check_ip(blocked.parse().unwrap()).is_err(),
                "{blocked} passed"
            );
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(
                policy.check_ip(public.parse().unwrap()).is_ok(),
                "{public} blocked"
            );
        }
    }

    #[test]
    fn the_allow_list_takes_hosts_addresses_and_cidr_blocks() {
        let policy = OutboundPolicy::parse("127.0.0.1, hooks.internal ,10.0.0.0/8").unwrap();
        assert!(policy.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.check_ip("127.0.0.2".parse().unwrap()).is_err());
        assert!(policy.check_ip("10.9.9.9".parse().unwrap()).is_ok());
        assert!(policy.allows_host("HOOKS.internal."));
        assert!(OutboundPolicy::parse("a b").is_err());
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date_relative_to_now() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 0, 0).unwrap();
        let seconds = RetryAfter::parse(" 120 ").unwrap();
        assert_eq!(seconds, RetryAfter::Seconds(120));
        assert_eq!(seconds.delay_from(now), TimeDelta::seconds(120));
        assert_eq!(
            RetryAfter::parse("0").unwrap().delay_from(now),
            TimeDelta::zero()
        );
        let date = RetryAfter::parse("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            date,
            RetryAfter::At(Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap())
        );
        assert_eq!(date.delay_from(now), TimeDelta::minutes(28));
        // The obsolete forms a recipient must still accept name the same instant.
        for obsolete in [
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(RetryAfter::parse(obsolete), Some(date), "{obsolete}");
        }
        // A date already past asks for no delay, however far past.
        assert_eq!(
            date.delay_from(now + TimeDelta::hours(1)),
            TimeDelta::zero()
        );
        assert_eq!(
            RetryAfter::parse("Thu, 01 Jan 1970 00:00:00 GMT")
                .unwrap()
                .delay_from(now),
            TimeDelta::zero()
        );
        // A delay too large for a TimeDelta saturates (the schedule caps it at a day anyway).
        assert_eq!(
            RetryAfter::parse("18446744073709551615")
                .unwrap()
                .delay_from(now),
            TimeDelta::MAX
        );
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        for garbage in [
            "",
            "   ",
            "-5",
            "+5",
            "1.5",
            "5 s",
            "soon",
            "99999999999999999999999",
            "Wed, 21 Oct 2015 07:28:00",
            "Wed, 21 Oct 2015 07:28:00 +0800",
            "2015-10-21T07:28:00Z",
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(RetryAfter::parse(garbage), None, "{garbage:?}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_before_any_request() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/",
            "ftp://example.com/",
            "http://user:pw@example.com/",
        ] {
            assert!(policy.check_url(url).await.is_err(), "{url} passed");
        }
        let sender = Sender::new(policy, Duration::from_secs(2)).unwrap();
        let result = sender
            .send(
                "http://10.0.0.1/hook",
                &signing::generate_secret(),
                "evt",
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(result.status_code, None);
        assert!(result.error.unwrap().starts_with("blocked:"));
        let result = sender
            .send(
                "http://localhost:9/hook",
                &signing::generate_secret(),
                "evt",
                b"{}".to_vec(),
            )
            .await;
        assert!(
            result.error.unwrap().starts_with("blocked:"),
            "the resolver refuses names of private addresses"
        );
    }
}
