//! The `http` step and the organization's connections, without I/O: the step's publish checks, the
//! request rendered from a run's values, the answer mapped into the step's output, and which requests
//! may be sent again when a worker died before journaling the answer.
//!
//! ```yaml
//! - key: push
//!   type: http
//!   method: POST
//!   connection: erp                        # a connection of kind http: base_url and auth
//!   url: '/orders/{{ trigger.record_id }}'  # a path under the connection's base_url (or a full URL)
//!   headers: {X-Source: tenon}
//!   body: '{"customer": {{ trigger.fields.customer | tojson }}}'
//!   timeout: 10s
//!   retry: {attempts: 3}
//!   output: {number: /data/number}          # JSON pointers into the answer's body
//! ```
//!
//! A request is journaled `running` with its idempotency key (`<run>:<step>`, sent as `Idempotency-Key`)
//! before it is sent. If the worker dies before the answer is journaled, the request's outcome is
//! unknown: `GET`, `HEAD`, `PUT`, `DELETE` and `OPTIONS` (and any step marked `idempotent: true`, whose
//! target honours the key) are sent again; anything else becomes `unknown_outcome` and a person decides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tenon_model::{Checker, DetailCode};

use crate::retry::RetryPolicy;
use crate::scope::{check_template, render};

/// Methods a step may use.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// The default and the longest timeout of one request, in milliseconds (below the run's 60 s lease).
pub const TIMEOUT_DEFAULT_MS: u64 = 10_000;
pub const TIMEOUT_MAX_MS: u64 = 30_000;
/// Most attempts a step's `retry` may ask for.
pub const ATTEMPTS_MAX: u32 = 10;
/// The answer's body is kept up to this many bytes.
pub const RESPONSE_BYTES_MAX: usize = 256 * 1024;
/// Output names the step itself sets.
const RESERVED: &[&str] = &["status", "body", "headers"];

/// The step as written in a definition file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    pub key: String,
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output: BTreeMap<String, String>,
}

fn get() -> String {
    "GET".to_owned()
}

/// `retry: {attempts: n}`: attempts in all (1 = no retry); the waits are the default ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub attempts: u32,
}

/// The compiled step a version keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSpec {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub timeout_ms: u64,
    pub attempts: u32,
    pub idempotent: bool,
    #[serde(default)]
    pub output: Vec<(String, String)>,
}

/// Checks the step at `at` (`flows[0].steps[1]`).
pub fn compile(step: &HttpStep, at: &str, outer: &mut Checker) -> Option<HttpSpec> {
    let mut local = Checker::default();
    let check = &mut local;
    let method = step.method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        check.add(
            tenon_model::Reason::not_one_of(
                METHODS,
                format!("method is one of {}", METHODS.join(", ")),
            )
            .at(format!("{at}.method")),
        );
    }
    let mut template = |field: String, text: &str| {
        if let Err(reason) = check_template(text) {
            check.push(
                field,
                DetailCode::InvalidValue,
                format!("the template does not parse: {reason}"),
            );
        }
    };
    template(format!("{at}.url"), &step.url);
    for (name, value) in &step.headers {
        template(format!("{at}.headers.{name}"), value);
    }
    if let Some(body) = &step.body {
        template(format!("{at}.body"), body);
    }
    let absolute = step.url.starts_with("http://") || step.url.starts_with("https://");
    match &step.connection {
        Some(_) if absolute => check.push(
            format!("{at}.url"),
            DetailCode::NotAllowed,
            "with a connection the url is a path under its base_url (/…): its credentials go nowhere else",
        ),
        Some(_) if !step.url.starts_with('/') => check.format(
            format!("{at}.url"),
            "url",
            "with a connection the url is a path under its base_url, starting with /",
        ),
        None if !absolute => check.format(
            format!("{at}.url"),
            "url",
            "the url starts with http:// or https:// (or give a connection and a path)",
        ),
        _ => {}
    }
    for name in step.headers.keys() {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let lower = name.to_ascii_lowercase();
        if !token {
            check.push(
                format!("{at}.headers.{name}"),
                DetailCode::InvalidValue,
                "a header name is letters, digits and - (an HTTP token)",
            );
        } else if matches!(
            lower.as_str(),
            "authorization" | "host" | "content-length" | "idempotency-key"
        ) {
            check.push(
                format!("{at}.headers.{name}"),
                DetailCode::NotAllowed,
                format!("{name} is set by Tenon (credentials come from a connection)"),
            );
        }
    }
    let timeout_ms = match &step.timeout {
        None => TIMEOUT_DEFAULT_MS,
        Some(text) => match crate::wait::parse_duration(text) {
            Ok(wait) => {
                let ms = u64::try_from(wait.num_milliseconds()).unwrap_or(u64::MAX);
                if ms > TIMEOUT_MAX_MS {
                    check.add(
                        tenon_model::Reason::new(
                            DetailCode::TooLarge,
                            "a request waits at most 30s",
                        )
                        .with("max", "30s")
                        .at(format!("{at}.timeout")),
                    );
                }
                ms
            }
            Err(reason) => {
                check.format(format!("{at}.timeout"), "duration", reason);
                TIMEOUT_DEFAULT_MS
            }
        },
    };
    let attempts = step
        .retry
        .as_ref()
        .map_or(RetryPolicy::default().attempts, |r| r.attempts);
    if attempts == 0 || attempts > ATTEMPTS_MAX {
        check.add(
            tenon_model::Reason::new(DetailCode::OutOfRange, "retry.attempts is from 1 to 10")
                .with("min", 1)
                .with("max", ATTEMPTS_MAX)
                .at(format!("{at}.retry.attempts")),
        );
    }
    for (name, pointer) in &step.output {
        if tenon_model::apps::ApiKey::parse(name).is_err() || RESERVED.contains(&name.as_str()) {
            check.push(
                format!("{at}.output.{name}"),
                DetailCode::InvalidValue,
                "an output name is a short identifier (letters, digits, _), not status, body or headers",
            );
        }
        if !pointer.is_empty() && !pointer.starts_with('/') {
            check.push(
                format!("{at}.output.{name}"),
                DetailCode::InvalidValue,
                "a JSON pointer into the answer's body: /data/number (RFC 6901)",
            );
        }
    }
    if !local.is_clean() {
        local
            .into_invalid()
            .0
            .into_iter()
            .for_each(|error| outer.add(error));
        return None;
    }
    Some(HttpSpec {
        method,
        url: step.url.clone(),
        connection: step.connection.clone(),
        headers: step
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: step.body.clone(),
        timeout_ms,
        attempts,
        idempotent: step.idempotent.unwrap_or(false),
        output: step
            .output
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// A request rendered from a run's values (no credentials yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub method: String,
    /// The URL, or with a connection the path under its `base_url`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl HttpSpec {
    /// Renders the url, headers and body over the run's context (`{"trigger", "steps"}`).
    pub fn render(&self, context: &Value) -> Result<Rendered, String> {
        let url = render(&self.url, context).map_err(|e| format!("url: {e}"))?;
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let value = render(value, context).map_err(|e| format!("headers.{name}: {e}"))?;
            if value.contains(['\r', '\n']) {
                return Err(format!("headers.{name}: a header value is one line"));
            }
            headers.push((name.clone(), value));
        }
        let body = match &self.body {
            Some(body) => Some(render(body, context).map_err(|e| format!("body: {e}"))?),
            None => None,
        };
        Ok(Rendered {
            method: self.method.clone(),
            url,
            headers,
            body,
        })
    }

    /// Whether a request whose answer was never journaled may be sent again.
    pub fn resendable(&self) -> bool {
        self.idempotent
            || matches!(
                self.method.as_str(),
                "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS"
            )
    }

    /// The step's retry policy: its attempts, the default waits.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.attempts,
            ..RetryPolicy::default()
        }
    }

    /// A 2xx answer as the step's output: `{status, body, <name>: value at its pointer…}`. The body is
    /// its JSON when it parses, else its text; a pointer that finds nothing gives null.
    pub fn output(&self, status: u16, body: &str) -> Value {
        let parsed: Value =
            serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        let mut out = Map::new();
        out.insert("status".to_owned(), json!(status));
        for (name, pointer) in &self.output {
            out.insert(name.clone(), flow_text(parsed.pointer(pointer)));
        }
        out.insert("body".to_owned(), parsed);
        Value::Object(out)
    }
}

/// A value found in an answer as a flow value of type text (numbers and booleans as their text, objects
/// and lists as JSON).
fn flow_text(found: Option<&Value>) -> Value {
    match found {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(text)) => Value::String(text.clone()),
        Some(other) => Value::String(other.to_string()),
    }
}

/// Joins a connection's `base_url` and a rendered path. The path must start with `/` or `?`, so its
/// values cannot move the request to another host.
pub fn join(base_url: &str, path: &str) -> Result<String, String> {
    if !(path.starts_with('/') || path.starts_with('?')) || path.starts_with("//") {
        return Err(format!(
            "the rendered url \"{path}\" is not a path under the connection's base_url"
        ));
    }
    Ok(format!("{}{path}", base_url.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(value: Value) -> HttpStep {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn publish_checks_name_each_bad_option() {
        let mut check = Checker::default();
        let spec = compile(
            &step(
                json!({"key": "h", "method": "FETCH", "url": "example.com/x",
                "headers": {"Authorization": "x", "bad name": "y"}, "timeout": "2m",
                "retry": {"attempts": 0}, "output": {"status": "/a", "n": "a"}}),
            ),
            "flows[0].steps[1]",
            &mut check,
        );
        assert!(spec.is_none());
        let mut fields: Vec<String> = check
            .finish()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "flows[0].steps[1].headers.Authorization",
                "flows[0].steps[1].headers.bad name",
                "flows[0].steps[1].method",
                "flows[0].steps[1].output.n",
                "flows[0].steps[1].output.status",
                "flows[0].steps[1].retry.attempts",
                "flows[0].steps[1].timeout",
                "flows[0].steps[1].url",
            ]
        );
    }

    #[test]
    fn a_connection_takes_a_path_and_a_path_cannot_change_the_host() {
        let mut check = Checker::default();
        assert!(
            compile(
                &step(json!({"key": "h", "connection": "erp", "url": "https://evil.example/x"})),
                "s",
                &mut check
            )
            .is_none()
        );
        assert_eq!(
            join("https://erp.example/api/", "/orders/1").unwrap(),
            "https://erp.example/api/orders/1"
        );
        assert!(join("https://erp.example", "@evil.example/x").is_err());
        assert!(join("https://erp.example", "//evil.example/x").is_err());
    }

    #[test]
    fn the_request_renders_from_the_run_and_the_answer_maps_by_pointer() {
        let mut check = Checker::default();
        let spec = compile(
            &step(json!({"key": "h", "method": "post", "url": "https://x.example/o/{{ trigger.record_id }}",
                "body": "{\"c\": {{ trigger.fields.customer | tojson }}}", "output": {"no": "/data/no", "n": "/data/n", "gone": "/nope"}})),
            "s",
            &mut check,
        )
        .unwrap();
        let context =
            json!({"trigger": {"record_id": "r1", "fields": {"customer": "甲\"乙"}}, "steps": {}});
        let rendered = spec.render(&context).unwrap();
        assert_eq!(rendered.url, "https://x.example/o/r1");
        assert_eq!(rendered.body.as_deref(), Some("{\"c\": \"甲\\\"乙\"}"));
        assert!(!spec.resendable(), "a POST is not sent again blindly");
        let output = spec.output(201, r#"{"data": {"no": "K-7", "n": 3}}"#);
        assert_eq!(output["no"], "K-7");
        assert_eq!(output["n"], "3");
        assert_eq!(output["gone"], Value::Null);
        assert_eq!(output["status"], 201);
    }
}
