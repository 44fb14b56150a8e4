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

const APP: &str = "/api/v1/apps/evbench/tables/items/records";
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

pub async fn events_suite(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchArgs,
    postgres: bool,
) -> Result<(), Failure> {
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
    };
    send(post(
        "/api/v1/apps",
        json!({"name": "Events bench", "key": "evbench"}),
    ))
    .await?;
    send(post(
        "/api/v1/apps/evbench/tables",
        json!({"name": "Items", "key": "items", "fields": [
            {"name": "Title", "key": "title", "type": "text"},
            {"name": "Amount", "key": "amount", "type": "number"}
        ]}),
    ))
    .await?;
    let records = args.records.clamp(BULK, RECORDS_PER_PHASE_MAX);
    let mut next_row = 0;

    let without = phase(http, base, token, records, &mut next_row, &[]).await?;
    let one = {
        let receivers = vec![Receiver::start().await?];
        let subscriptions = subscribe(http, base, token, &receivers).await?;
        let measured = phase(http, base, token, records, &mut next_row, &receivers).await?;
        unsubscribe(http, base, token, &subscriptions).await?;
        measured
    };
    let sixteen = {
        let mut receivers = Vec::new();
        for _ in 0..16 {
            receivers.push(Receiver::start().await?);
        }
        let subscriptions = subscribe(http, base, token, &receivers).await?;
        let measured = phase(http, base, token, records, &mut next_row, &receivers).await?;
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
            http.post(format!("{base}{APP}"))
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
