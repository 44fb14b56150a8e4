//! `tenon bench --suite approvals`: the approval engine over HTTP, in one run.
//!
//! 1. The baseline: single-record creates (`POST …/records`) over the same connections — one audited write
//!    with its event, what an approval action is made of at the least.
//! 2. Approvals: each connection starts an instance of a 3-node process on a new record (`fields`) and
//!    approves its three tasks, one after the other (4 actions per instance). Actions per second, and the
//!    server-side p50/p99 of the actions (`Server-Timing`), beside the baseline's.
//! 3. A to-do list: one member's running tasks (`GET /api/v1/approval-tasks?assignee=…&status=running`)
//!    among `--tasks` tasks (1,000,000 by default; most of them seeded directly into the store), p50/p99
//!    server-side, beside `GET /healthz` measured in the same run.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tenon_model::{ApprovalId, MemberId, OrgId};
use tenon_store::{DatabaseConfig, Store, SystemClock};

use crate::bench::{fail, percentile, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

/// Instances started per connection at most (`--requests` / 4 across all connections otherwise).
const INSTANCES_PER_CONNECTION_MAX: usize = 200;
/// To-do list reads measured.
const TODO_READS: usize = 500;

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> Result<(f64, Value), Failure> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|error| fail(format!("request failed: {error}")))?;
    let status = response.status();
    let server_us = server_timing(&response);
    let body: Value = response
        .json()
        .await
        .map_err(|error| fail(format!("body read failed: {error}")))?;
    if !status.is_success() {
        return Err(fail(format!("benchmark request answered {status}: {body}")));
    }
    Ok((server_us, body))
}

fn server_timing(response: &reqwest::Response) -> f64 {
    response
        .headers()
        .get("server-timing")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split("dur=").nth(1))
        .and_then(|millis| millis.parse::<f64>().ok())
        .map_or(0.0, |millis| millis * 1000.0)
}

#[allow(clippy::too_many_lines)]
pub async fn approvals_suite(
    http: &reqwest::Client,
    base: &str,
    token: &Arc<String>,
    args: &BenchArgs,
    data: &std::path::Path,
    database: Option<&str>,
    org: OrgId,
) -> Result<(), Failure> {
    println!();
    println!(
        "approvals: a 3-node process (或签 each), start + 3 approvals per instance, {} connections",
        args.concurrency
    );
    let mut members = Vec::new();
    for name in ["发起人", "一级", "二级", "三级", "旁人"] {
        let (_, member) = post(
            http,
            format!("{base}/api/v1/members"),
            token,
            json!({"name": name}),
        )
        .await?;
        members.push(member["id"].as_str().unwrap_or_default().to_owned());
    }
    post(http, format!("{base}/api/v1/apps/import"), token, json!({
        "format": "tenon.app/v1", "key": "apbench", "name": "Approvals bench",
        "tables": [{"key": "claims", "name": "Claims", "fields": [
            {"key": "title", "name": "Title", "type": "text"},
            {"key": "amount", "name": "Amount", "type": "number", "options": {"precision": 2}},
            {"key": "status", "name": "Status", "type": "single_select", "options": {"choices": [{"name": "审批中"}, {"name": "通过"}, {"name": "拒绝"}]}}
        ]}],
        "processes": [{"code": "BENCH", "name": "Bench", "table": "claims",
            "record_status": {"field": "status", "running": "审批中", "agree": "通过", "refuse": "拒绝"},
            "nodes": [
                {"key": "n1", "type": "approval", "method": "or", "approvers": [{"members": [members[1]]}], "next": "n2"},
                {"key": "n2", "type": "approval", "method": "or", "approvers": [{"members": [members[2]]}], "next": "n3"},
                {"key": "n3", "type": "approval", "method": "or", "approvers": [{"members": [members[3]]}], "next": "end"}
            ]}]
    })).await?;

    let connections = args.concurrency.max(1);
    let per_connection = (args.requests / 4 / connections).clamp(1, INSTANCES_PER_CONNECTION_MAX);
    let records_url = format!("{base}/api/v1/apps/apbench/tables/claims/records");

    // 1. The baseline: as many single-record creates as approval actions, over the same connections.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (http, url, token) = (http.clone(), records_url.clone(), Arc::clone(token));
        tasks.push(tokio::spawn(async move {
            let mut timings = Vec::new();
            for i in 0..per_connection * 4 {
                let body = json!({"fields": {"title": format!("c{c} r{i}"), "amount": "12.50"}});
                timings.push(post(&http, url.clone(), &token, body).await?.0);
            }
            Ok::<Vec<f64>, Failure>(timings)
        }));
    }
    let mut baseline = Vec::new();
    for task in tasks {
        baseline.extend(task.await.map_err(|error| fail(error.to_string()))??);
    }
    let baseline_rate = baseline.len() as f64 / started.elapsed().as_secs_f64();
    baseline.sort_by(f64::total_cmp);

    // 2. Approvals.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (http, base, token, initiator) = (
            http.clone(),
            base.to_owned(),
            Arc::clone(token),
            members[0].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut timings = Vec::new();
            let mut last = String::new();
            for i in 0..per_connection {
                let body = json!({"process": "BENCH", "initiator": initiator,
                    "fields": {"title": format!("c{c} i{i}"), "amount": "88.00"}});
                let (us, mut instance) =
                    post(&http, format!("{base}/api/v1/approvals"), &token, body).await?;
                timings.push(us);
                last = instance["id"].as_str().unwrap_or_default().to_owned();
                for _ in 0..3 {
                    let task = instance["tasks"]
                        .as_array()
                        .and_then(|tasks| tasks.iter().find(|task| task["status"] == "running"))
                        .and_then(|task| task["id"].as_str())
                        .ok_or_else(|| fail(format!("no running task: {instance}")))?
                        .to_owned();
                    let (us, next) = post(
                        &http,
                        format!("{base}/api/v1/approval-tasks/{task}/approve"),
                        &token,
                        json!({}),
                    )
                    .await?;
                    timings.push(us);
                    instance = next;
                }
                if instance["result"] != "agree" {
                    return Err(fail(format!("the instance did not end agreed: {instance}")));
                }
            }
            Ok::<(Vec<f64>, String), Failure>((timings, last))
        }));
    }
    let mut actions = Vec::new();
    let mut an_instance = String::new();
    for task in tasks {
        let (timings, last) = task.await.map_err(|error| fail(error.to_string()))??;
        actions.extend(timings);
        an_instance = last;
    }
    let action_rate = actions.len() as f64 / started.elapsed().as_secs_f64();
    actions.sort_by(f64::total_cmp);
    println!(
        "{:<38} {:>10} {:>12} {:>12} {:>10}",
        "", "per s", "server p50", "server p99", "p50 ×base"
    );
    let base_p50 = percentile(&baseline, 0.5);
    println!(
        "{:<38} {:>10.0} {:>9.3} ms {:>9.3} ms {:>10.2}",
        "POST …/records, one record (baseline)",
        baseline_rate,
        base_p50 / 1000.0,
        percentile(&baseline, 0.99) / 1000.0,
        1.0
    );
    println!(
        "{:<38} {:>10.0} {:>9.3} ms {:>9.3} ms {:>10.2}",
        format!("approval actions ({} instances)", actions.len() / 4),
        action_rate,
        percentile(&actions, 0.5) / 1000.0,
        percentile(&actions, 0.99) / 1000.0,
        percentile(&actions, 0.5) / base_p50.max(1.0)
    );
    println!(
        "  actions/s ÷ baseline writes/s: {:.2}",
        action_rate / baseline_rate.max(1.0)
    );

    // 3. The to-do list among many tasks.
    let seeded = args.tasks.saturating_sub(actions.len() as u64);
    let config =
        DatabaseConfig::from_options(database, data).map_err(|error| fail(error.to_string()))?;
    let store = Store::connect(&config, Arc::new(SystemClock))
        .await
        .map_err(|error| fail(error.to_string()))?;
    let me: MemberId = members[4].parse().map_err(|_| fail("member id"))?;
    let crowd: MemberId = members[1].parse().map_err(|_| fail("member id"))?;
    let instance: ApprovalId = an_instance.parse().map_err(|_| fail("instance id"))?;
    let loading = Instant::now();
    store
        .tenant(org)
        .seed_tasks_for_benchmark(instance, me, crowd, seeded)
        .await
        .map_err(|error| fail(error.to_string()))?;
    store.close().await;
    println!(
        "to-do list: {} tasks in the organization ({seeded} seeded in {:.1} s; 1 in 100 is the member's, 1 in 10 of those running)",
        seeded + actions.len() as u64,
        loading.elapsed().as_secs_f64()
    );
    let todo = format!("{base}/api/v1/approval-tasks?assignee={me}&status=running&page_size=50");
    let mut healthz = Vec::new();
    let mut reads = Vec::new();
    for _ in 0..50 {
        send(http.get(&todo).bearer_auth(token.as_str())).await?;
    }
    for _ in 0..TODO_READS {
        let sent = Instant::now();
        send(http.get(format!("{base}/healthz"))).await?;
        healthz.push(sent.elapsed().as_secs_f64() * 1e6);
        reads.push(send(http.get(&todo).bearer_auth(token.as_str())).await?);
    }
    healthz.sort_by(f64::total_cmp);
    reads.sort_by(f64::total_cmp);
    println!(
        "GET /api/v1/approval-tasks (running, 50 per page): server p50 {:.3} ms, p99 {:.3} ms; client p50 of GET /healthz {:.3} ms (baseline), ratio {:.2}",
        percentile(&reads, 0.5) / 1000.0,
        percentile(&reads, 0.99) / 1000.0,
        percentile(&healthz, 0.5) / 1000.0,
        percentile(&reads, 0.5) / percentile(&healthz, 0.5).max(1.0)
    );
    Ok(())
}
