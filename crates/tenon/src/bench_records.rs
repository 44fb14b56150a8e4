//! `tenon bench --suite records`: the data engine over HTTP, each figure beside raw SQLite doing the same
//! work with prepared statements in the same run (single-row insert-and-commit; prepared inserts in one
//! transaction; the same filtered, sorted query; a lookup by id), on SQLite in the server's own file. Get
//! by id is also put beside the unauthenticated `/healthz` measured just before it, and the bulk write
//! rate with sixteen webhook receivers beside the rate without, five times. It ends with issue #16's four
//! figures and whether each meets its target.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use tenon_store::baseline::{self, bench_row};

use crate::bench::{fail, format_kib, percentile, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

const APP: &str = "/api/v1/apps/bench/tables/bookings/records";
/// Records per bulk request (the API's maximum).
const BULK: u64 = 1000;
/// Sequential single-record creates and lookups measured.
const SINGLE: usize = 2000;
/// Page queries measured.
const QUERIES: usize = 300;
/// Requests sent before a serial measurement.
const WARMUP: usize = 200;
/// Records written per phase of the write-overhead measurement.
const OVERHEAD_RECORDS: u64 = 10_000;
/// Runs of the write-overhead measurement.
const OVERHEAD_RUNS: usize = 5;

fn row_json(n: u64) -> Value {
    let (guest, nights, deposit, check_in) = bench_row(n);
    let deposit = rust_decimal::Decimal::new(deposit, 2);
    json!({"fields": {"guest": guest, "nights": nights, "deposit": deposit.to_string(), "check_in": check_in}})
}

fn micros(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    percentile(samples, q)
}

#[allow(clippy::too_many_arguments)]
pub async fn records_suite(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchArgs,
    data: &Path,
    postgres: bool,
    rss: impl Fn() -> Option<u64>,
) -> Result<(), Failure> {
    let post = |path: String, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
    };
    send(post(
        "/api/v1/apps".to_owned(),
        json!({"name": "Bench", "key": "bench"}),
    ))
    .await?;
    send(post(
        "/api/v1/apps/bench/tables".to_owned(),
        json!({"name": "Bookings", "key": "bookings", "fields": [
            {"name": "Guest", "key": "guest", "type": "text"},
            {"name": "Nights", "key": "nights", "type": "number", "indexed": true},
            {"name": "Deposit", "key": "deposit", "type": "currency", "indexed": true},
            {"name": "Check-in", "key": "check_in", "type": "date"}
        ]}),
    ))
    .await?;

    // 1. Single-record creates, one keep-alive connection.
    let mut single_client = Vec::with_capacity(SINGLE);
    let mut single_server = Vec::with_capacity(SINGLE);
    for n in 0..SINGLE as u64 {
        let started = Instant::now();
        single_server.push(send(post(APP.to_owned(), row_json(n))).await?);
        single_client.push(started.elapsed().as_secs_f64() * 1e6);
    }

    // 2. Bulk creates of 1000 records per request, until the table holds `records` rows.
    let total = args.records.max(BULK);
    let started = Instant::now();
    let mut n = SINGLE as u64;
    let mut bulk_rates = Vec::new();
    while n < SINGLE as u64 + total {
        let batch: Vec<Value> = (n..n + BULK).map(row_json).collect();
        let sent = Instant::now();
        send(post(APP.to_owned(), json!({"records": batch}))).await?;
        bulk_rates.push(BULK as f64 / sent.elapsed().as_secs_f64());
        n += BULK;
    }
    let bulk_rate = total as f64 / started.elapsed().as_secs_f64();
    let rss_loaded = rss();

    // 3. A filtered, sorted page of 25 over the loaded table.
    let filter = json!({"and": [{"field": "nights", "op": "gte", "value": 3}, {"field": "deposit", "op": "between", "value": ["1000", "9000"]}]});
    let query = format!(
        "{APP}?page_size=25&sort=-deposit&filter={}",
        urlencode(&filter.to_string())
    );
    let mut page_client = Vec::with_capacity(QUERIES);
    let mut page_server = Vec::with_capacity(QUERIES);
    let mut ids = Vec::new();
    for i in 0..QUERIES {
        let started = Instant::now();
        let response = http
            .get(format!("{base}{query}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let server = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("dur=").nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            * 1000.0;
        let body: Value = response.json().await.map_err(|e| fail(e.to_string()))?;
        page_client.push(started.elapsed().as_secs_f64() * 1e6);
        page_server.push(server);
        if i == 0 {
            ids = body["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    if ids.is_empty() {
        return Err(fail("the benchmark query returned no records"));
    }

    // 4. Get one record by id, serially, beside the unauthenticated `/healthz` (no database) just before.
    for _ in 0..WARMUP {
        send(http.get(format!("{base}/healthz"))).await?;
    }
    let started = Instant::now();
    for _ in 0..SINGLE {
        send(http.get(format!("{base}/healthz"))).await?;
    }
    let healthz_rate = SINGLE as f64 / started.elapsed().as_secs_f64();
    for i in 0..WARMUP {
        send(
            http.get(format!("{base}{APP}/{}", ids[i % ids.len()]))
                .bearer_auth(token),
        )
        .await?;
    }
    let started = Instant::now();
    let mut get_client = Vec::with_capacity(SINGLE);
    let mut get_server = Vec::with_capacity(SINGLE);
    for i in 0..SINGLE {
        let sent = Instant::now();
        let server_us = send(
            http.get(format!("{base}{APP}/{}", ids[i % ids.len()]))
                .bearer_auth(token),
        )
        .await?;
        get_client.push(sent.elapsed().as_secs_f64() * 1e6);
        get_server.push(server_us);
    }
    let get_rate = SINGLE as f64 / started.elapsed().as_secs_f64();
    let rss_after = rss();

    // 5. The bulk write overhead while delivering events to sixteen receivers, five runs.
    let overhead =
        crate::bench_events::overhead_runs(http, base, token, OVERHEAD_RECORDS, OVERHEAD_RUNS)
            .await?;

    // The raw baseline, same rows, same machine, same run; on SQLite in Tenon's own file (a table of its
    // own, while the server is idle).
    let raw_file = if postgres {
        data.join("baseline.db")
    } else {
        data.join("tenon.db")
    };
    let raw = baseline::measure(&raw_file, SINGLE, total, QUERIES).await?;
    let mut raw_single: Vec<f64> = raw
        .single_insert
        .iter()
        .map(|d| d.as_secs_f64() * 1e6)
        .collect();
    let mut raw_page: Vec<f64> = raw
        .page_query
        .iter()
        .map(|d| d.as_secs_f64() * 1e6)
        .collect();
    let raw_get_rate = raw.get_by_id.len() as f64
        / raw
            .get_by_id
            .iter()
            .map(|d| d.as_secs_f64())
            .sum::<f64>()
            .max(1e-9);

    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    println!();
    println!(
        "records suite — Tenon on {backend} over HTTP vs raw SQLite in-process, {total} rows loaded"
    );
    println!(
        "{:<44} {:>16} {:>16} {:>8}",
        "measurement", "Tenon", "raw SQLite", "ratio"
    );
    let single_p50 = micros(&mut single_client, 0.5);
    let raw_single_p50 = micros(&mut raw_single, 0.5);
    println!(
        "{:<44} {:>13.3} ms {:>13.3} ms {:>7.1}×",
        "single create p50 (client, keep-alive)",
        single_p50 / 1000.0,
        raw_single_p50 / 1000.0,
        single_p50 / raw_single_p50
    );
    println!(
        "{:<44} {:>13.3} ms",
        "single create p50 (server-side)",
        micros(&mut single_server, 0.5) / 1000.0
    );
    println!(
        "{:<44} {:>13.3} ms",
        "single create p99 (client)",
        micros(&mut single_client, 0.99) / 1000.0
    );
    println!(
        "{:<44} {:>12.0} r/s {:>12.0} r/s {:>8.2}",
        "bulk create, 1000 per request",
        bulk_rate,
        raw.bulk_rows_per_second,
        bulk_rate / raw.bulk_rows_per_second
    );
    println!(
        "{:<44} {:>12.0} r/s",
        "bulk create, first 50 requests (empty table)",
        bulk_rates.iter().take(50).sum::<f64>() / bulk_rates.len().clamp(1, 50) as f64
    );
    let page_p50 = micros(&mut page_client, 0.5);
    let raw_page_p50 = micros(&mut raw_page, 0.5);
    println!(
        "{:<44} {:>13.3} ms {:>13.3} ms {:>7.1}×",
        "filtered + sorted page of 25, p50 (client)",
        page_p50 / 1000.0,
        raw_page_p50 / 1000.0,
        page_p50 / raw_page_p50
    );
    println!(
        "{:<44} {:>13.3} ms",
        "filtered + sorted page of 25, p50 (server)",
        micros(&mut page_server, 0.5) / 1000.0
    );
    println!(
        "{:<44} {:>12.0} r/s {:>12.0} r/s {:>8.2}",
        "get one by id, serial",
        get_rate,
        raw_get_rate,
        get_rate / raw_get_rate
    );
    println!(
        "{:<44} {:>13.3} ms",
        "get one by id, p50 (client)",
        micros(&mut get_client, 0.5) / 1000.0
    );
    println!(
        "{:<44} {:>13.3} ms",
        "get one by id, p50 (server-side)",
        micros(&mut get_server, 0.5) / 1000.0
    );
    println!("{:<44} {:>16}", "RSS after loading", format_kib(rss_loaded));
    println!("{:<44} {:>16}", "RSS after queries", format_kib(rss_after));
    println!();
    println!(
        "bulk write overhead while delivering to 16 receivers ({OVERHEAD_RECORDS} records per phase, {OVERHEAD_RUNS} runs)"
    );
    println!(
        "{:<6} {:>16} {:>16} {:>16} {:>10}",
        "run", "no subs rec/s", "16 subs rec/s", "delivered ev/s", "overhead"
    );
    for (i, run) in overhead.iter().enumerate() {
        println!(
            "{:<6} {:>16.0} {:>16.0} {:>16.0} {:>9.1} %",
            i + 1,
            run.without,
            run.with_sixteen,
            run.delivered_per_second,
            run.overhead() * 100.0
        );
    }
    let worst = overhead
        .iter()
        .map(crate::bench_events::OverheadRun::overhead)
        .fold(f64::NEG_INFINITY, f64::max);

    // The four figures of issue #16, each against its floor measured above.
    let bulk_ratio = bulk_rate / raw.bulk_rows_per_second;
    let single_ratio = single_p50 / raw_single_p50;
    let get_ratio = get_rate / healthz_rate;
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!();
    println!("targets (issue #16)");
    println!(
        "  bulk create ÷ raw prepared insert (same file)   {bulk_ratio:>6.2}   target ≥ 0.80  {}",
        verdict(bulk_ratio >= 0.8)
    );
    println!(
        "  single create p50 ÷ raw single insert p50        {single_ratio:>6.2}×  target ≤ 2.00× {}",
        verdict(single_ratio <= 2.0)
    );
    println!(
        "  get by id rate ÷ /healthz rate ({:.0} req/s)     {get_ratio:>6.2}   target ≥ 0.60  {}",
        healthz_rate,
        verdict(get_ratio >= 0.6)
    );
    println!(
        "  worst write overhead, 16 receivers, {OVERHEAD_RUNS} runs      {:>5.1} %   target < 15 %  {}",
        worst * 100.0,
        verdict(worst < 0.15)
    );
    Ok(())
}

pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
