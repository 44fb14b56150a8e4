//! `tenon bench --suite permissions` (issue #19): what a row rule costs a member. A table of `--records`
//! orders (1,000,000 by default) owned in turn by ten members; an app role lets one of them read only
//! her own (`{owner} = CURRENT_MEMBER()`: a tenth of the rows). The same requests are sent with her
//! personal token and with the organization administrator's (a member too, so both go through the same
//! access check; an administrator is never limited), interleaved, server-side p50 from `Server-Timing`:
//! a page of 25 (default order, and sorted by an indexed amount), a grouped aggregate over the whole
//! table, and a get by id of one of her orders. Targets: page and aggregate within 1.5× of the
//! administrator's; the access check adds < 50 µs p50 to a get by id.

use serde_json::{Value, json};

use crate::bench::{fail, json_of, percentile, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

const TABLE: &str = "/api/v1/apps/perm/tables/orders";
/// Records per bulk request (the API's maximum).
const BULK: u64 = 1000;
/// Members owning the orders in turn; the first is the limited reader.
const OWNERS: u64 = 10;
const REGIONS: [&str; 5] = ["华东", "华南", "华北", "西部", "海外"];

fn order(n: u64, owners: &[String]) -> Value {
    json!({"fields": {
        "title": format!("订单 {n}"),
        "owner": owners[(n % OWNERS) as usize],
        "region": REGIONS[(n / 7 % REGIONS.len() as u64) as usize],
        "amount": format!("{}.{:02}", (n * 7919) % 100_000, n % 100),
    }})
}

/// The server-side p50 in µs of `samples` interleaved requests of `path` with each token (after a
/// tenth as many to warm up), as (administrator, member).
async fn compare(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    member: &str,
    path: &str,
    samples: usize,
) -> Result<(f64, f64), Failure> {
    let (mut a, mut m) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for i in 0..samples + samples / 10 {
        let admin_us = send(http.get(format!("{base}{path}")).bearer_auth(admin)).await?;
        let member_us = send(http.get(format!("{base}{path}")).bearer_auth(member)).await?;
        if i >= samples / 10 {
            a.push(admin_us);
            m.push(member_us);
        }
    }
    a.sort_by(f64::total_cmp);
    m.sort_by(f64::total_cmp);
    Ok((percentile(&a, 0.5), percentile(&m, 0.5)))
}

/// Runs the suite; `mint` makes a personal token acting for the member with the given e-mail address.
pub async fn permissions_suite(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    args: &BenchArgs,
    admin_email: &str,
    mint: impl Fn(&str) -> Result<String, Failure>,
) -> Result<(), Failure> {
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
    };
    let mut owners = Vec::new();
    for n in 0..OWNERS {
        let member = json_of(post(
            "/api/v1/members",
            json!({"name": format!("销售 {n}"), "email": format!("sales{n}@example.com")}),
        ))
        .await?;
        owners.push(member["id"].as_str().unwrap_or_default().to_owned());
    }
    json_of(post(
        "/api/v1/apps",
        json!({"name": "Permissions bench", "key": "perm"}),
    ))
    .await?;
    json_of(post(
        "/api/v1/apps/perm/tables",
        json!({"name": "Orders", "key": "orders", "fields": [
            {"name": "Title", "key": "title", "type": "text"},
            {"name": "Owner", "key": "owner", "type": "member"},
            {"name": "Region", "key": "region", "type": "text"},
            {"name": "Amount", "key": "amount", "type": "currency", "indexed": true}
        ]}),
    ))
    .await?;
    let total = args.records.max(BULK);
    let loading = std::time::Instant::now();
    let mut n = 0;
    while n < total {
        let batch: Vec<Value> = (n..n + BULK).map(|n| order(n, &owners)).collect();
        send(post(&format!("{TABLE}/records"), json!({"records": batch}))).await?;
        n += BULK;
    }
    let loaded = loading.elapsed().as_secs_f64();
    json_of(
        http.put(format!("{base}/api/v1/apps/perm/permissions"))
            .bearer_auth(token)
            .json(&json!({"roles": [{"key": "sales", "name": "销售",
                "who": {"members": [owners[0]], "departments": [], "roles": []},
                "grants": [{"table": "orders", "actions": {"read": "{owner} = CURRENT_MEMBER()"},
                    "fields": {"hidden": [], "read_only": []}}]}]})),
    )
    .await?;
    let admin = mint(admin_email)?;
    let member = mint("sales0@example.com")?;

    // Her page must hold only her orders, and her aggregate count a tenth of the rows.
    let page = json_of(
        http.get(format!("{base}{TABLE}/records?page_size=25"))
            .bearer_auth(&member),
    )
    .await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    if items.len() != 25
        || items
            .iter()
            .any(|item| item["fields"]["owner"]["id"] != json!(owners[0]))
    {
        return Err(fail(format!(
            "the member's page is not 25 of her own orders: {page}"
        )));
    }
    let counted = json_of(
        http.get(format!("{base}{TABLE}/aggregate?metrics=count"))
            .bearer_auth(&member),
    )
    .await?;
    if counted["groups"][0]["count"] != json!(total / OWNERS) {
        return Err(fail(format!(
            "the member's count is not a tenth of {total}: {counted}"
        )));
    }
    let her_order = items[0]["id"].as_str().unwrap_or_default().to_owned();

    let samples = args.samples.max(20);
    println!();
    println!(
        "permissions: {total} orders loaded in {loaded:.1} s; a member whose row rule matches {} of them \
         beside the administrator, {samples} requests each, interleaved, server-side p50",
        total / OWNERS
    );
    println!(
        "{:<58} {:>12} {:>12} {:>9}",
        "request", "admin", "member", "ratio"
    );
    let mut verdicts = Vec::new();
    for (label, path) in [
        (
            "page of 25 (default order)",
            format!("{TABLE}/records?page_size=25"),
        ),
        (
            "page of 25 sorted by amount (indexed), descending",
            format!("{TABLE}/records?page_size=25&sort=-amount"),
        ),
        (
            "aggregate: count and sum(amount) by region",
            format!("{TABLE}/aggregate?group_by=region&metrics=count,sum:amount"),
        ),
    ] {
        let (a, m) = compare(http, base, &admin, &member, &path, samples).await?;
        println!(
            "{label:<58} {:>9.3} ms {:>9.3} ms {:>8.2}×",
            a / 1000.0,
            m / 1000.0,
            m / a
        );
        verdicts.push((label, m / a));
    }
    let (a, m) = compare(
        http,
        base,
        &admin,
        &member,
        &format!("{TABLE}/records/{her_order}"),
        samples * 5,
    )
    .await?;
    println!(
        "{:<58} {:>9.3} ms {:>9.3} ms {:>8.2}×",
        "get by id (one of her orders)",
        a / 1000.0,
        m / 1000.0,
        m / a
    );
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!();
    println!("targets (issue #19)");
    for (label, ratio) in verdicts {
        println!(
            "  {label:<56} {ratio:>5.2}×  target ≤ 1.50× {}",
            verdict(ratio <= 1.5)
        );
    }
    let added = m - a;
    println!(
        "  {:<56} {added:>5.0} µs target < 50 µs {}",
        "access check added to a get by id (p50 difference)",
        verdict(added < 50.0)
    );
    Ok(())
}
