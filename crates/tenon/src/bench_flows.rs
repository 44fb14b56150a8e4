//! `tenon bench --suite flows`: connection flows over HTTP (issue #18), in one run.
//!
//! 1. Runs: `--runs` paid orders created over `--concurrency` connections; each starts flow `chain`
//!    (record created → a row in another table → `ledger_sync`, which posts the order's voucher). The
//!    figures come from the runs' own journal: runs per second from the first run's creation (in the
//!    order's transaction) to the last one's finish, and trigger-to-finish p50/p99 (`finished_at −
//!    created_at` of each run). Every run must succeed.
//! 2. The watch hook's write cost: bulk creates of 100 records into a table five flows watch (their
//!    conditions never hold, so no run starts: what is measured is evaluating them before and after) and
//!    into a twin table no flow watches, interleaved; server-side p50 of both and the overhead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::bench::{fail, json_of, percentile, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

/// Records per bulk create in the watch-hook phase.
const BULK: usize = 100;
/// Bulk creates per table in the watch-hook phase (after a tenth as many to warm up).
const BULK_ROUNDS: usize = 60;
/// Orders sent (and their runs finished) before measuring.
const WARMUP_RUNS: usize = 50;
/// How long the runs may take to finish before the suite gives up.
const DRAIN_LIMIT: Duration = Duration::from_secs(900);

const ORDERS: &str = "/api/v1/apps/flowbench/tables/orders/records";

/// The app: orders booked by a voucher rule through flow `chain`; `watched` (five flows watch it) and
/// `plain` (none does), alike.
fn app_file() -> Value {
    let fields = json!([
        {"key": "name", "name": "名称", "type": "text"},
        {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
        {"key": "stage", "name": "阶段", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "赢单"}]}}
    ]);
    let watchers: Vec<Value> = (1..=5)
        .map(|i| {
            json!({"key": format!("watch_{i}"), "trigger": {"record": "watched", "on": "enter",
                   "when": format!("AND({{阶段}} = \"赢单\", {{金额}} > {i}000000000)")},
                   "steps": [{"key": "note", "type": "update_record", "table": "watched",
                              "record": "{trigger.record_id}", "fields": {"name": "\"seen\""}}]})
        })
        .collect();
    let mut flows = vec![json!({
        "key": "chain", "trigger": {"record": "orders", "on": "created"},
        "steps": [
            {"key": "log", "type": "create_record", "table": "log",
             "fields": {"order": "{trigger.fields.客户}", "amount": "{trigger.fields.金额}"}},
            {"key": "sync", "type": "ledger_sync", "rule": "vr_bench", "record": "{trigger.record_id}"}
        ]
    })];
    flows.extend(watchers);
    json!({
        "format": "tenon.app/v1", "key": "flowbench", "name": "Flow bench",
        "tables": [
            {"key": "orders", "name": "订单", "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "status", "name": "状态", "type": "single_select", "options": {"choices": [{"name": "新建"}, {"name": "已收款"}]}},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}},
                {"key": "on", "name": "日期", "type": "date"}
            ]},
            {"key": "log", "name": "流水", "fields": [
                {"key": "order", "name": "订单", "type": "text"},
                {"key": "amount", "name": "金额", "type": "number", "options": {"precision": 2}}
            ]},
            {"key": "watched", "name": "有人盯的表", "fields": fields},
            {"key": "plain", "name": "无人盯的表", "fields": fields}
        ],
        "voucher_rules": [{
            "key": "vr_bench", "name": "销售收款", "book": {"name": "基准账套", "template": "cas"}, "table": "orders",
            "when": "{状态} = \"已收款\"", "date": "{日期}", "word": "记", "summary": "\"销售 \" & {客户}",
            "lines": [
                {"account": "AR", "debit": "{金额}", "dimensions": {"customer": "{客户}"}},
                {"account": "REVENUE", "credit": "ROUND({金额} / 1.13, 2)"},
                {"account": "VAT_OUTPUT", "credit": "{金额} - ROUND({金额} / 1.13, 2)"}
            ]
        }],
        "flows": flows
    })
}

/// Creates `count` paid orders over `connections` connections (numbered from `first`).
async fn create_orders(
    http: &reqwest::Client,
    base: &str,
    token: &Arc<String>,
    first: usize,
    count: usize,
    connections: usize,
) -> Result<(), Failure> {
    let connections = connections.clamp(1, count.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let (http, url, token) = (http.clone(), format!("{base}{ORDERS}"), Arc::clone(token));
        tasks.spawn(async move {
            for n in (c..count).step_by(connections) {
                let i = first + n;
                let body = json!({"fields": {"customer": format!("客户{}", i % 97), "status": "已收款",
                                  "amount": format!("{}.{:02}", 100 + i % 900, i % 100), "on": "2026-11-20"}});
                send(http.post(&url).bearer_auth(token.as_str()).json(&body)).await?;
            }
            Ok::<(), Failure>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|error| fail(format!("a client task failed: {error}")))??;
    }
    Ok(())
}

/// Waits until flow `chain` has no queued, running or waiting run.
async fn drain(http: &reqwest::Client, base: &str, token: &str) -> Result<(), Failure> {
    let started = Instant::now();
    loop {
        let mut open = false;
        for status in ["queued", "running", "waiting"] {
            let page = json_of(
                http.get(format!(
                    "{base}/api/v1/flows/chain/runs?status={status}&page_size=1"
                ))
                .bearer_auth(token),
            )
            .await?;
            open |= page["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty());
        }
        if !open {
            return Ok(());
        }
        if started.elapsed() > DRAIN_LIMIT {
            return Err(fail("the flow runs did not finish within 15 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One run as the journal has it.
struct Run {
    status: String,
    created: DateTime<Utc>,
    finished: Option<DateTime<Utc>>,
}

/// Every run of flow `chain`, newest first.
async fn all_runs(http: &reqwest::Client, base: &str, token: &str) -> Result<Vec<Run>, Failure> {
    let mut runs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/flows/chain/runs?page_size=1000");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = json_of(http.get(url).bearer_auth(token)).await?;
        for item in page["items"].as_array().into_iter().flatten() {
            let time = |key: &str| {
                item[key]
                    .as_str()
                    .and_then(|raw| DateTime::parse_from_rfc3339(raw).ok())
                    .map(|at| at.with_timezone(&Utc))
            };
            runs.push(Run {
                status: item["status"].as_str().unwrap_or_default().to_owned(),
                created: time("created_at")
                    .ok_or_else(|| fail(format!("a run without created_at: {item}")))?,
                finished: time("finished_at"),
            });
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(runs),
        }
    }
}

pub async fn flows_suite(
    http: &reqwest::Client,
    base: &str,
    token: &Arc<String>,
    args: &BenchArgs,
    postgres: bool,
) -> Result<(), Failure> {
    println!();
    println!(
        "flows: record created → a row in another table → ledger_sync, {} runs over {} connections",
        args.runs, args.concurrency
    );
    let bearer = |request: reqwest::RequestBuilder| request.bearer_auth(token.as_str());
    json_of(bearer(http.post(format!("{base}/api/v1/apps/import"))).json(&app_file())).await?;

    // 1. Runs.
    create_orders(http, base, token, 0, WARMUP_RUNS, args.concurrency).await?;
    drain(http, base, token).await?;
    let warm = all_runs(http, base, token).await?.len();
    let wall = Instant::now();
    create_orders(http, base, token, WARMUP_RUNS, args.runs, args.concurrency).await?;
    let written = wall.elapsed();
    drain(http, base, token).await?;
    let drained = wall.elapsed();
    let mut runs = all_runs(http, base, token).await?;
    // Newest first: the measured runs are the first `runs.len() - warm`.
    runs.truncate(runs.len().saturating_sub(warm));
    if runs.len() != args.runs {
        return Err(fail(format!(
            "expected {} runs, the journal has {}",
            args.runs,
            runs.len()
        )));
    }
    let failed = runs.iter().filter(|run| run.status != "succeeded").count();
    if failed > 0 {
        return Err(fail(format!("{failed} of the runs did not succeed")));
    }
    let first = runs.iter().map(|run| run.created).min();
    let last = runs.iter().filter_map(|run| run.finished).max();
    let (Some(first), Some(last)) = (first, last) else {
        return Err(fail("no runs were measured"));
    };
    let span = (last - first).to_std().unwrap_or_default().as_secs_f64();
    let per_second = runs.len() as f64 / span.max(1e-6);
    let mut latency: Vec<f64> = runs
        .iter()
        .filter_map(|run| run.finished.map(|finished| finished - run.created))
        .map(|took| took.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0)
        .collect();
    latency.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latency, 0.5), percentile(&latency, 0.99));
    let (runs_target, p50_target) = if postgres {
        (1000.0, Some(20.0))
    } else {
        (300.0, None)
    };
    println!(
        "  runs/s (first trigger → last finish): {per_second:.0} (target ≥ {runs_target:.0}: {})",
        if per_second >= runs_target {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  trigger → finish: p50 {p50:.1} ms, p99 {p99:.1} ms{}",
        p50_target.map_or(String::new(), |target| format!(
            " (target p50 < {target:.0} ms: {})",
            if p50 < target { "met" } else { "NOT met" }
        ))
    );
    println!(
        "  client wall time: orders written in {:.2} s, every run finished {:.2} s after the first order",
        written.as_secs_f64(),
        drained.as_secs_f64()
    );

    // 2. The watch hook's cost on bulk writes.
    let bulk = |table: &str, round: usize| {
        let records: Vec<Value> = (0..BULK)
            .map(|i| json!({"fields": {"name": format!("r{round}-{i}"), "amount": format!("{i}.50"), "stage": "赢单"}}))
            .collect();
        bearer(http.post(format!(
            "{base}/api/v1/apps/flowbench/tables/{table}/records"
        )))
        .json(&json!({"records": records}))
    };
    for round in 0..BULK_ROUNDS / 10 {
        send(bulk("plain", round)).await?;
        send(bulk("watched", round)).await?;
    }
    let (mut plain, mut watched) = (Vec::new(), Vec::new());
    for round in 0..BULK_ROUNDS {
        plain.push(send(bulk("plain", round)).await?);
        watched.push(send(bulk("watched", round)).await?);
    }
    plain.sort_by(f64::total_cmp);
    watched.sort_by(f64::total_cmp);
    let (plain_p50, watched_p50) = (percentile(&plain, 0.5), percentile(&watched, 0.5));
    let overhead = (watched_p50 / plain_p50.max(1.0) - 1.0) * 100.0;
    println!(
        "  bulk create of {BULK} records, server p50: no flow watching {:.2} ms, five flows watching {:.2} ms: {overhead:+.1} % (target < 15 %: {})",
        plain_p50 / 1000.0,
        watched_p50 / 1000.0,
        if overhead < 15.0 { "met" } else { "NOT met" }
    );
    Ok(())
}
