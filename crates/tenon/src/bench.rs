//! `tenon bench`: measures this very build over real HTTP.
//!
//! It starts `tenon serve` as a child process on a fresh database (so cold start and memory are the
//! server's own), creates an organization and a token with the CLI, and then drives the server with a
//! keep-alive client: first one connection in sequence (latency: client-side p50/p99, and server-side from
//! the `Server-Timing` header), then many connections at once (throughput). Every route is printed beside
//! `GET /healthz` — no authentication, no database — measured in the same run, so the ratio shows what
//! authentication and storage cost, whatever the machine.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{BenchArgs, StorageArgs};
use crate::commands::{EXIT_FAILURE, Failure};

/// Requests sent before measuring, to warm connections, caches and the allocator.
const WARMUP_REQUESTS: usize = 500;

/// The benchmark organization's administrator (the ui suite logs in as them to open pages).
pub(crate) const ADMIN_EMAIL: &str = "bench@example.com";
pub(crate) const ADMIN_PASSWORD: &str = "bench-password-123";

struct ServerProcess {
    child: Child,
    base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn fail(message: impl Into<String>) -> Failure {
    Failure::new(EXIT_FAILURE, message)
}

pub async fn run(storage: &StorageArgs, args: BenchArgs) -> Result<(), Failure> {
    let exe = std::env::current_exe()
        .map_err(|error| fail(format!("cannot find the tenon binary: {error}")))?;
    let scratch = std::env::temp_dir().join(format!("tenon-bench-{}", tenon_model::OrgId::new()));
    std::fs::create_dir_all(&scratch)
        .map_err(|error| fail(format!("cannot create {}: {error}", scratch.display())))?;
    let result = measure(&exe, &scratch, storage.database.as_deref(), &args).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn storage_args(command: &mut Command, data: &Path, database: Option<&str>) {
    command
        .arg("--data")
        .arg(data)
        .env_remove("TENON_DATABASE_URL");
    if let Some(database) = database {
        command.arg("--database").arg(database);
    }
}

async fn measure(
    exe: &PathBuf,
    data: &Path,
    database: Option<&str>,
    args: &BenchArgs,
) -> Result<(), Failure> {
    let backend = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "Tenon benchmark — {backend}, {} build, {cores} cores",
        if cfg!(debug_assertions) {
            "DEBUG (numbers are not meaningful)"
        } else {
            "release"
        }
    );

    // Migrate first, so cold start measures a server start, not the creation of the schema.
    let mut migrate = Command::new(exe);
    migrate.arg("migrate");
    storage_args(&mut migrate, data, database);
    run_cli(&mut migrate)?;

    let started = Instant::now();
    let mut command = Command::new(exe);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "off"])
        // The events suite's webhook receivers listen on 127.0.0.1.
        .args(["--outbound-allow", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    storage_args(&mut command, data, database);
    let mut child = command
        .spawn()
        .map_err(|error| fail(format!("cannot start tenon serve: {error}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no stdout from tenon serve"))?;
    let mut banner = String::new();
    BufReader::new(stdout)
        .read_line(&mut banner)
        .map_err(|error| fail(format!("no banner: {error}")))?;
    let listening = started.elapsed();
    let base = banner
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .ok_or_else(|| fail("no address in the banner"))?
        .to_owned();
    let server = ServerProcess { child, base };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(1))
        .build()
        .map_err(|error| fail(error.to_string()))?;
    wait_ready(&http, &server.base).await?;
    let ready = started.elapsed();
    let idle_rss = rss_kib(server.child.id());
    println!(
        "cold start: {:.1} ms to listening, {:.1} ms to ready (GET /readyz answers)",
        ms(listening),
        ms(ready)
    );
    println!("idle RSS after start: {}", format_kib(idle_rss));

    let mut org = Command::new(exe);
    org.args([
        "org",
        "create",
        "Bench Co",
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password",
        ADMIN_PASSWORD,
    ]);
    storage_args(&mut org, data, database);
    let org_id = run_cli(&mut org)?;
    let mut token = Command::new(exe);
    token.args([
        "token",
        "create",
        "--org",
        org_id.trim(),
        "--name",
        "bench",
        "--scopes",
        "admin",
    ]);
    storage_args(&mut token, data, database);
    let token = Arc::new(run_cli(&mut token)?.trim().to_owned());

    if args.suite == "all" || args.suite == "core" {
        core_suite(&http, &server, &token, args).await?;
    }
    if args.suite == "all" || args.suite == "records" {
        crate::bench_records::records_suite(
            &http,
            &server.base,
            &token,
            args,
            data,
            database.is_some(),
            || rss_kib(server.child.id()),
        )
        .await?;
    }
    if args.suite == "all" || args.suite == "formula" {
        crate::bench_formula::formula_suite(
            &http,
            &server.base,
            &token,
            args,
            data,
            database.is_some(),
        )
        .await?;
    }
    if args.suite == "all" || args.suite == "approvals" {
        let org: tenon_model::OrgId = org_id
            .trim()
            .parse()
            .map_err(|_| fail("the organization id does not parse"))?;
        crate::bench_approvals::approvals_suite(
            &http,
            &server.base,
            &token,
            args,
            data,
            database,
            org,
        )
        .await?;
    }
    if args.suite == "all" || args.suite == "events" {
        crate::bench_events::events_suite(&http, &server.base, &token, args, database.is_some())
            .await?;
    }
    if args.suite == "all" || args.suite == "dingtalk" {
        crate::bench_dingtalk::dingtalk_suite(&http, &server.base, &token, args).await?;
    }
    if args.suite == "all" || args.suite == "flows" {
        crate::bench_flows::flows_suite(&http, &server.base, &token, args, database.is_some())
            .await?;
    }
    if args.suite == "all" || args.suite == "permissions" {
        let org = org_id.trim().to_owned();
        let mint = |email: &str| -> Result<String, Failure> {
            let mut command = Command::new(exe);
            command.args([
                "token",
                "create",
                "--org",
                org.as_str(),
                "--name",
                "bench",
                "--scopes",
                "records:read",
                "--member",
                email,
            ]);
            storage_args(&mut command, data, database);
            Ok(run_cli(&mut command)?.trim().to_owned())
        };
        crate::bench_permissions::permissions_suite(
            &http,
            &server.base,
            &token,
            args,
            ADMIN_EMAIL,
            mint,
        )
        .await?;
    }
    if args.suite == "all" || args.suite == "ui" {
        crate::bench_ui::ui_suite(&server.base, &token, args).await?;
    }
    println!();
    println!("RSS after load: {}", format_kib(rss_kib(server.child.id())));
    drop(server);
    Ok(())
}

async fn core_suite(
    http: &reqwest::Client,
    server: &ServerProcess,
    token: &Arc<String>,
    args: &BenchArgs,
) -> Result<(), Failure> {
    let routes: Vec<(&str, Route)> = vec![
        ("GET /healthz (baseline)", Route::Healthz),
        ("GET /api/v1/me", Route::Me),
        ("POST /api/v1/members", Route::CreateMember),
    ];
    println!();
    println!(
        "{:<26} {:>10} {:>9} {:>9} {:>11} {:>13} {:>9}",
        "route",
        "seq req/s",
        "p50 µs",
        "p99 µs",
        "server p50",
        &format!("{}-conn req/s", args.concurrency),
        "p50 ×base"
    );
    let mut baseline_p50 = None;
    for (label, route) in routes {
        let sequential = sequential(http, &server.base, token, route, args.requests).await?;
        let throughput = concurrent(
            http,
            &server.base,
            token,
            route,
            args.requests,
            args.concurrency,
        )
        .await?;
        let p50 = percentile(&sequential.client_us, 0.50);
        let base = *baseline_p50.get_or_insert(p50);
        println!(
            "{:<26} {:>10.0} {:>9.0} {:>9.0} {:>8.3} ms {:>13.0} {:>9.2}",
            label,
            sequential.per_second,
            p50,
            percentile(&sequential.client_us, 0.99),
            percentile(&sequential.server_us, 0.50) / 1000.0,
            throughput,
            p50 / base,
        );
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Healthz,
    Me,
    CreateMember,
}

impl Route {
    fn request(
        self,
        http: &reqwest::Client,
        base: &str,
        token: &str,
        n: usize,
    ) -> reqwest::RequestBuilder {
        match self {
            Route::Healthz => http.get(format!("{base}/healthz")),
            Route::Me => http.get(format!("{base}/api/v1/me")).bearer_auth(token),
            Route::CreateMember => http.post(format!("{base}/api/v1/members")).bearer_auth(token).json(
                &json!({"name": format!("成员 {n}"), "employee_no": format!("B{n}-{}", tenon_model::MemberId::new())}),
            ),
        }
    }
}

struct Sequential {
    client_us: Vec<f64>,
    server_us: Vec<f64>,
    per_second: f64,
}

/// A setup request's JSON answer; any non-2xx answer fails the benchmark with its body.
pub(crate) async fn json_of(
    request: reqwest::RequestBuilder,
) -> Result<serde_json::Value, Failure> {
    let response = request
        .send()
        .await
        .map_err(|error| fail(format!("request failed: {error}")))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|error| fail(format!("body read failed: {error}")))?;
    if !status.is_success() {
        return Err(fail(format!("setup request answered {status}: {body}")));
    }
    Ok(body)
}

pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<f64, Failure> {
    let response = request
        .send()
        .await
        .map_err(|error| fail(format!("request failed: {error}")))?;
    let status = response.status();
    let server_us = response
        .headers()
        .get("server-timing")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split("dur=").nth(1))
        .and_then(|millis| millis.parse::<f64>().ok())
        .map_or(0.0, |millis| millis * 1000.0);
    let body = response
        .bytes()
        .await
        .map_err(|error| fail(format!("body read failed: {error}")))?;
    if !status.is_success() {
        return Err(fail(format!(
            "benchmark request answered {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(server_us)
}

async fn sequential(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    route: Route,
    n: usize,
) -> Result<Sequential, Failure> {
    for i in 0..WARMUP_REQUESTS {
        send(route.request(http, base, token, i)).await?;
    }
    let mut client_us = Vec::with_capacity(n);
    let mut server_us = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let sent = Instant::now();
        server_us.push(send(route.request(http, base, token, WARMUP_REQUESTS + i)).await?);
        client_us.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64();
    client_us.sort_by(f64::total_cmp);
    server_us.sort_by(f64::total_cmp);
    Ok(Sequential {
        client_us,
        server_us,
        per_second,
    })
}

async fn concurrent(
    http: &reqwest::Client,
    base: &str,
    token: &Arc<String>,
    route: Route,
    n: usize,
    connections: usize,
) -> Result<f64, Failure> {
    let connections = connections.max(1);
    let per_task = n.div_ceil(connections);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for task in 0..connections {
        let (http, base, token) = (http.clone(), base.to_owned(), Arc::clone(token));
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                send(route.request(&http, &base, &token, 1_000_000 * (task + 1) + i)).await?;
            }
            Ok::<(), Failure>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|error| fail(error.to_string()))??;
    }
    Ok((per_task * connections) as f64 / started.elapsed().as_secs_f64())
}

async fn wait_ready(http: &reqwest::Client, base: &str) -> Result<(), Failure> {
    for _ in 0..2000 {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(fail("the server did not become ready"))
}

fn run_cli(command: &mut Command) -> Result<String, Failure> {
    let output = command
        .output()
        .map_err(|error| fail(format!("cannot run tenon: {error}")))?;
    if !output.status.success() {
        return Err(fail(format!(
            "tenon failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Resident memory of a process, from `/proc` (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn format_kib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unknown (no /proc)".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}
