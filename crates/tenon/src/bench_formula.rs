//! `tenon bench --suite formula`: formula fields at scale, over HTTP, each figure beside the same query
//! written by hand in SQL on the same SQLite file in the same run (the floor): a page filtered and sorted
//! on a stored formula field, a grouped aggregate over it, and a filter on a formula computed when read
//! (`TODAY()`), which no column can serve.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tenon_store::baseline;

use crate::bench::{fail, percentile, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

const TABLE: &str = "/api/v1/apps/formula_bench/tables/sales";
const BULK: u64 = 1000;
/// Queries measured per kind.
const RUNS: usize = 40;
const REGIONS: [&str; 5] = ["华东", "华南", "华北", "西部", "海外"];

fn row(n: u64) -> Value {
    let cents = i64::try_from((n * 7919) % 100_000).unwrap_or(0);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
        + chrono::Days::new(n % 365);
    json!({"fields": {
        "price": rust_decimal::Decimal::new(cents, 2).to_string(),
        "qty": n % 20,
        "region": REGIONS[(n % 5) as usize],
        "booked": day.to_string(),
    }})
}

fn p50_ms(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    percentile(samples, 0.5) / 1000.0
}

fn durations_ms(samples: &[Duration]) -> f64 {
    let mut micros: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    p50_ms(&mut micros)
}

/// Times `path` `RUNS` times: (client µs, server µs from Server-Timing).
async fn time_get(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
) -> Result<(Vec<f64>, Vec<f64>, Value), Failure> {
    let mut client = Vec::with_capacity(RUNS);
    let mut server = Vec::with_capacity(RUNS);
    let mut last = Value::Null;
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let timing = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("dur=").nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let status = response.status();
        last = response.json().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!("GET {path}: {status} {last}")));
        }
        client.push(started.elapsed().as_secs_f64() * 1e6);
        server.push(timing * 1000.0);
    }
    Ok((client, server, last))
}

pub async fn formula_suite(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchArgs,
    data: &Path,
    postgres: bool,
) -> Result<(), Failure> {
    let post = |path: String, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
    };
    send(post(
        "/api/v1/apps".to_owned(),
        json!({"name": "Formula bench", "key": "formula_bench"}),
    ))
    .await?;
    send(post(
        "/api/v1/apps/formula_bench/tables".to_owned(),
        json!({"name": "Sales", "key": "sales", "fields": [
            {"name": "单价", "key": "price", "type": "currency"},
            {"name": "数量", "key": "qty", "type": "number"},
            {"name": "Region", "key": "region", "type": "single_select", "options": {"choices": REGIONS}},
            {"name": "Booked", "key": "booked", "type": "date"},
            {"name": "金额", "key": "total", "type": "formula", "options": {"formula": "ROUND({单价} * {数量}, 2)"}, "indexed": true},
            {"name": "Age", "key": "age", "type": "formula", "options": {"formula": "DATETIME_DIFF(TODAY(), {Booked}, \"days\")"}}
        ],
        // What a dashboard grouping by region and summing the amount asks for: the aggregate reads
        // this index alone.
        "indexes": [["region", "total"]]}),
    ))
    .await?;
    let total_rows = args.records.max(BULK);
    let started = Instant::now();
    let mut n = 0;
    while n < total_rows {
        let batch: Vec<Value> = (n..n + BULK).map(row).collect();
        send(post(format!("{TABLE}/records"), json!({"records": batch}))).await?;
        n += BULK;
    }
    let load_rate = total_rows as f64 / started.elapsed().as_secs_f64();

    let filter = json!({"field": "total", "op": "gt", "value": "15000"});
    let page = format!(
        "{TABLE}/records?page_size=50&sort=-total&filter={}",
        crate::bench_records::urlencode(&filter.to_string())
    );
    let (mut page_client, mut page_server, body) = time_get(http, base, token, &page).await?;
    if body["items"].as_array().is_none_or(Vec::is_empty) {
        return Err(fail("the formula page query returned no records"));
    }
    let grouped = format!("{TABLE}/aggregate?group_by=region&metrics=sum:total,count");
    let (mut group_client, mut group_server, _) = time_get(http, base, token, &grouped).await?;
    let clock_filter = json!({"field": "age", "op": "lt", "value": 30});
    let clock = format!(
        "{TABLE}/records?page_size=50&filter={}",
        crate::bench_records::urlencode(&clock_filter.to_string())
    );
    let (mut clock_client, mut clock_server, _) = time_get(http, base, token, &clock).await?;

    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    println!();
    println!(
        "formula suite — Tenon on {backend} over HTTP, {total_rows} rows; loaded at {load_rate:.0} records/s with the formulas computed"
    );
    let floor = if postgres {
        None
    } else {
        let schema: Value = http
            .get(format!("{base}{TABLE}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?
            .json()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let id = |key: &str| -> Result<tenon_model::FieldId, Failure> {
            schema["fields"]
                .as_array()
                .and_then(|fields| fields.iter().find(|f| f["key"] == key))
                .and_then(|f| f["id"].as_str())
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| fail(format!("no field {key}")))
        };
        let table: tenon_model::TableId = schema["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| fail("no table id"))?;
        Some(
            baseline::formula_floor(
                &data.join("tenon.db"),
                table,
                [id("price")?, id("qty")?, id("region")?, id("total")?],
                1_500_000,
                RUNS,
            )
            .await?,
        )
    };
    println!(
        "{:<52} {:>12} {:>12} {:>14} {:>8}",
        "measurement (p50)", "client", "server", "hand SQL", "ratio"
    );
    let line = |name: &str, client: f64, server: f64, floor: Option<f64>| match floor {
        Some(floor) => println!(
            "{name:<52} {client:>9.2} ms {server:>9.2} ms {floor:>11.2} ms {:>7.1}×",
            server / floor
        ),
        None => println!(
            "{name:<52} {client:>9.2} ms {server:>9.2} ms {:>14} {:>8}",
            "-", "-"
        ),
    };
    line(
        "filter + sort on a stored formula, page of 50",
        p50_ms(&mut page_client),
        p50_ms(&mut page_server),
        floor.as_ref().map(|f| durations_ms(&f.filter_sort)),
    );
    line(
        "grouped aggregate: sum of the formula by region",
        p50_ms(&mut group_client),
        p50_ms(&mut group_server),
        floor.as_ref().map(|f| durations_ms(&f.grouped)),
    );
    line(
        "filter on a TODAY() formula (computed per row)",
        p50_ms(&mut clock_client),
        p50_ms(&mut clock_server),
        None,
    );
    if let Some(floor) = &floor {
        println!(
            "{:<52} {:>38.2} ms",
            "hand SQL computing price × qty in the query instead",
            durations_ms(&floor.computed_filter_sort)
        );
    }
    println!("(the in-Rust evaluator's rate: `cargo bench -p tenon-formula`)");
    Ok(())
}
