//! `tenon bench --suite events`: webhooks end to end, in one run.
//!
//! 1. Bulk record creates with no subscription (the outbox alone): the write baseline.
//! 2. One subscription to one receiver: events per second from the first write until the receiver has
//!    answered every event, and the bulk create rate meanwhile.
//! 3. Sixteen subscriptions, each to its own receiver: the same, with 16 deliveries per record.
//!
//! The receivers are HTTP servers in this process on 127.0.0.1 (the benchmark starts `tenon serve` with
//! `--outbound-allow 127.0.0.1`), answering 204 at once and counting distinct event ids. The ratios put
//! the write rate with subscriptions beside the rate without, measured on the same server.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bench::{fail, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

/// The app the events suite writes to; the records suite's overhead runs use their own.
const APP_KEY: &str = "evbench";
const OVERHEAD_APP_KEY: &str = "ovbench";

fn records_path(app_key: &str) -> String {
    format!("/api/v1/apps/{app_key}/tables/items/records")
}
/// Records per bulk request (the API's maximum).
const BULK: u64 = 1000;
/// Records written per phase at most (`--records` lowers it).
const RECORDS_PER_PHASE_MAX: u64 = 10_000;
/// How long a phase may wait for its deliveries.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(600);

/// A webhook receiver: distinct event ids seen, and when the last one arrived.
struct Receiver {
    url: String,
    seen: Arc<Mutex<(HashSet<String>, Option<Instant>)>>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Result<Receiver, Failure> {
        let seen = Arc::new(Mutex::new((HashSet::new(), None)));
        let state = seen.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let state = state.clone();
                async move {
                    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                        let mut seen = state
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        seen.0.insert(id.to_owned());
                        seen.1 = Some(Instant::now());
                    }
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| fail(format!("cannot bind a receiver: {error}")))?;
        let address = listener
            .local_addr()
            .map_err(|error| fail(error.to_string()))?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Receiver {
            url: format!("http://{address}/hook"),
            seen,
            server,
        })
    }

    fn reset(&self) {
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (HashSet::new(), None);
    }

    fn count(&self) -> (usize, Option<Instant>) {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (seen.0.len(), seen.1)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What one phase measured.
struct Phase {
    write_rate: f64,
    events_per_second: Option<f64>,
}

/// Creates the events benchmark's app and table.
async fn create_table(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    app_key: &str,
) -> Result<String, Failure> {
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
    };
    send(post(
        "/api/v1/apps",
        json!({"name": format!("Events bench {app_key}"), "key": app_key}),
    ))
    .await?;
    send(post(
        &format!("/api/v1/apps/{app_key}/tables"),
        json!({"name": "Items", "key": "items", "fields": [
            {"name": "Title", "key": "title", "type": "text"},
            {"name": "Amount", "key": "amount", "type": "number"}
        ]}),
    ))
    .await?;
    Ok(records_path(app_key))
}

/// One run of the write-overhead measurement: the bulk create rate with no subscription, then with
/// sixteen subscriptions delivering to sixteen receivers.
#[derive(Debug, Clone, Copy)]
pub struct OverheadRun {
    pub without: f64,
    pub with_sixteen: f64,
    pub delivered_per_second: f64,
}

impl OverheadRun {
    /// The fraction of the write rate lost while delivering.
    pub fn overhead(&self) -> f64 {
        1.0 - self.with_sixteen / self.without
    }
}

/// `runs` runs of [`OverheadRun`] on the same server, `records` records per phase (the records suite's
/// fourth figure). Each run subscribes sixteen receivers, writes, waits for every delivery, and
/// unsubscribes, so the next run's "without" phase has no subscription.
pub async fn overhead_runs(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    records: u64,
    runs: usize,
) -> Result<Vec<OverheadRun>, Failure> {
    let path = create_table(http, base, token, OVERHEAD_APP_KEY).await?;
    let records = records.clamp(BULK, RECORDS_PER_PHASE_MAX);
    let mut receivers = Vec::new();
    for _ in 0..16 {
        receivers.push(Receiver::start().await?);
    }
    let mut next_row = 0;
    let mut measured = Vec::with_capacity(runs);
    for _ in 0..runs {
        let without = phase(http, base, token, &path, records, &mut next_row, &[]).await?;
        for receiver in &receivers {
            receiver.reset();
        }
        let subscriptions = subscribe(http, base, token, &receivers).await?;
        let with = phase(http, base, token, &path, records, &mut next_row, &receivers).await?;
        unsubscribe(http, base, token, &subscriptions).await?;
        measured.push(OverheadRun {
            without: without.write_rate,
            with_sixteen: with.write_rate,
            delivered_per_second: with.events_per_second.unwrap_or(0.0),
        });
    }
    Ok(measured)
}

pub async fn events_suite(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchArgs,
    postgres: bool,
) -> Result<(), Failure> {
    let path = create_table(http, base, token, APP_KEY).await?;
    let records = args.records.clamp(BULK, RECORDS_PER_PHASE_MAX);
    let mut next_row = 0;

    let without = phase(http, base, token, &path, records, &mut next_row, &[]).await?;
    let one = {
        let receivers = vec![Receiver::start().await?];
        let subscriptions = subscribe(http, base, token, &receivers).await?;
        let measured = phase(http, base, token, &path, records, &mut next_row, &receivers).await?;
        unsubscribe(http, base, token, &subscriptions).await?;
        measured
    };
    let sixteen = {
        let mut receivers = Vec::new();
        for _ in 0..16 {
            receivers.push(Receiver::start().await?);
        }
        let subscriptions = subscribe(http, base, token, &receivers).await?;
        let measured = phase(http, base, token, &path, records, &mut next_row, &receivers).await?;
        unsubscribe(http, base, token, &subscriptions).await?;
        measured
    };

    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    println!();
    println!(
        "events suite — Tenon on {backend}, {records} records per phase, bulk creates of {BULK}"
    );
    println!(
        "{:<52} {:>14} {:>16} {:>10}",
        "phase", "write rec/s", "delivered ev/s", "write ×"
    );
    for (label, measured) in [
        ("no subscription (outbox only)", &without),
        ("1 subscription, 1 receiver", &one),
        ("16 subscriptions, 16 receivers", &sixteen),
    ] {
        println!(
            "{:<52} {:>14.0} {:>16} {:>10.3}",
            label,
            measured.write_rate,
            measured
                .events_per_second
                .map_or_else(|| "-".to_owned(), |rate| format!("{rate:.0}")),
            measured.write_rate / without.write_rate
        );
    }
    println!(
        "write overhead with subscriptions: {:+.1} % (1 receiver), {:+.1} % (16 receivers)",
        (1.0 - one.write_rate / without.write_rate) * 100.0,
        (1.0 - sixteen.write_rate / without.write_rate) * 100.0
    );
    Ok(())
}

async fn subscribe(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    receivers: &[Receiver],
) -> Result<Vec<String>, Failure> {
    let mut ids = Vec::new();
    for receiver in receivers {
        let response = http
            .post(format!("{base}/api/v1/subscriptions"))
            .bearer_auth(token)
            .json(&json!({"url": receiver.url, "event_types": ["record.created"]}))
            .send()
            .await
            .map_err(|error| fail(error.to_string()))?;
        let body: Value = response
            .json()
            .await
            .map_err(|error| fail(error.to_string()))?;
        let id = body["id"]
            .as_str()
            .ok_or_else(|| fail(format!("cannot subscribe: {body}")))?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

async fn unsubscribe(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ids: &[String],
) -> Result<(), Failure> {
    for id in ids {
        http.delete(format!("{base}/api/v1/subscriptions/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|error| fail(error.to_string()))?;
    }
    Ok(())
}

/// Writes `records` records in bulk; then waits until every receiver has every event.
async fn phase(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    records: u64,
    next_row: &mut u64,
    receivers: &[Receiver],
) -> Result<Phase, Failure> {
    let started = Instant::now();
    let end = *next_row + records;
    while *next_row < end {
        let batch: Vec<Value> = (*next_row..*next_row + BULK)
            .map(|n| json!({"fields": {"title": format!("item {n}"), "amount": n % 1000}}))
            .collect();
        send(
            http.post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&json!({"records": batch})),
        )
        .await?;
        *next_row += BULK;
    }
    let write_rate = records as f64 / started.elapsed().as_secs_f64();
    if receivers.is_empty() {
        return Ok(Phase {
            write_rate,
            events_per_second: None,
        });
    }
    let expected = usize::try_from(records).unwrap_or(usize::MAX);
    let deadline = Instant::now() + DELIVERY_DEADLINE;
    loop {
        let counts: Vec<(usize, Option<Instant>)> = receivers.iter().map(Receiver::count).collect();
        if counts.iter().all(|(n, _)| *n >= expected) {
            let last = counts
                .iter()
                .filter_map(|(_, at)| *at)
                .max()
                .unwrap_or_else(Instant::now);
            let delivered = (expected * receivers.len()) as f64;
            return Ok(Phase {
                write_rate,
                events_per_second: Some(delivered / (last - started).as_secs_f64()),
            });
        }
        if Instant::now() > deadline {
            let got: usize = counts.iter().map(|(n, _)| n).sum();
            return Err(fail(format!(
                "only {got} of {} deliveries arrived within {} s",
                expected * receivers.len(),
                DELIVERY_DEADLINE.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
