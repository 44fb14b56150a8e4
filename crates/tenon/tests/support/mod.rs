//! What the crash tests share: running the `tenon` binary of this build against a test database, a
//! `tenon serve` that is killed when its handle is dropped (so a failing test never leaves one running)
//! or on purpose with SIGKILL, calls of its API, and moving its test clock past the flow lease.

// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tenon_store::DatabaseConfig;
use tenon_store::testing::TestDatabase;

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tenon <args> --data <dir> [--database <url>]` for the test database.
pub fn command(database: &TestDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenon"));
    command
        .args(args)
        .arg("--data")
        .arg(database.dir.path())
        .env_remove("TENON_DATABASE_URL");
    if let DatabaseConfig::Postgres { url } = &database.config {
        command.arg("--database").arg(url);
    }
    command
}

/// Runs a CLI command to its end and returns its trimmed standard output; panics on failure.
pub fn run(database: &TestDatabase, args: &[&str]) -> String {
    let output = command(database, args).output().expect("tenon runs");
    assert!(
        output.status.success(),
        "tenon {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Starts `tenon serve` on a free port with rate limits off and a 0.1 s delivery poll, plus `extra`
/// arguments, and waits for its banner.
pub fn start(database: &TestDatabase, extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rate-limit",
        "off",
        "--delivery-poll",
        "0.1",
    ];
    args.extend_from_slice(extra);
    let mut child = command(database, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenon serve starts");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("banner has the address")
        .to_owned();
    Server { child, base }
}

/// Kills the server with SIGKILL (no shutdown of any kind) and reaps it.
pub fn kill(server: &mut Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// One API call with the bearer `token`: its status and JSON body (`null` when there is none).
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let mut request = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Moves the test clock (`tenon serve --test-clock`) past the flow lease, so a run the killed server
/// held is claimed again at once.
pub async fn past_the_lease(http: &reqwest::Client, base: &str, token: &str) {
    let (status, clock) = call(
        http,
        base,
        token,
        reqwest::Method::GET,
        "/api/v1/_test/clock",
        None,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{clock}");
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse().unwrap();
    let later = now + chrono::Duration::seconds(2 * tenon_store::flows::FLOW_LEASE_SECONDS);
    let (status, clock) = call(
        http,
        base,
        token,
        reqwest::Method::POST,
        "/api/v1/_test/clock",
        Some(json!({"now": later})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{clock}");
}

/// Waits (up to a minute: the machine may be loaded) until `check` holds for flow run `id`.
pub async fn run_until(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, run) = call(
            http,
            base,
            token,
            reqwest::Method::GET,
            &format!("/api/v1/flow-runs/{id}"),
            None,
        )
        .await;
        if check(&run) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} is not {what}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
