//! `tenon bench --suite dingtalk`: the DingTalk-compatible API beside the native routes it is built on, in
//! one run, with one token (the facade moves it into `Authorization`, so both sides authenticate alike).
//!
//! - `POST /topapi/v2/user/get` beside `GET /api/v1/members/{id}`;
//! - `POST /topapi/v2/user/list` (one department, 50 per page) beside `GET /api/v1/members?department_id=…
//!   &page_size=50`;
//! - `GET /v1.0/workflow/processInstances` beside `GET /api/v1/approvals/{id}`.
//!
//! Each pair is measured interleaved (a native request, then its DingTalk twin), so drift hits both
//! alike; the figure is the server-side p50 (`Server-Timing`) and the ratio DingTalk ÷ native (target:
//! ≤ 1.2×).

use std::sync::Arc;

use serde_json::json;

use crate::bench::{fail, json_of, percentile, send};
use crate::cli::BenchArgs;
use crate::commands::Failure;

/// Members in the measured department (the user list reads one page of 50 of them).
const MEMBERS: usize = 60;
/// Requests of each route sent before measuring.
const WARMUP: usize = 100;
/// The DingTalk ratio the issue asks for.
const TARGET: f64 = 1.2;

/// One measured pair: the native route and its DingTalk twin.
struct Pair {
    label: &'static str,
    native_label: &'static str,
    native: Box<dyn Fn() -> reqwest::RequestBuilder>,
    dingtalk: Box<dyn Fn() -> reqwest::RequestBuilder>,
}

/// An oapi answer must say `errcode` 0 (oapi errors are HTTP 200).
async fn oapi_ok(request: reqwest::RequestBuilder) -> Result<(), Failure> {
    let body = json_of(request).await?;
    if body["errcode"] != 0 {
        return Err(fail(format!("the oapi request failed: {body}")));
    }
    Ok(())
}

pub async fn dingtalk_suite(
    http: &reqwest::Client,
    base: &str,
    token: &Arc<String>,
    args: &BenchArgs,
) -> Result<(), Failure> {
    println!();
    println!("dingtalk: DingTalk-compatible routes beside their native routes (server-side p50)");
    let bearer = |request: reqwest::RequestBuilder| request.bearer_auth(token.as_str());
    // A department of MEMBERS members; the first is read by user/get (its userid: the member id).
    let department = json_of(
        bearer(http.post(format!("{base}/api/v1/departments"))).json(&json!({"name": "钉钉基准"})),
    )
    .await?;
    let department_id = department["id"].as_str().unwrap_or_default().to_owned();
    let number = department["number"]
        .as_i64()
        .ok_or_else(|| fail(format!("no department number: {department}")))?;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let member = json_of(
            bearer(http.post(format!("{base}/api/v1/members"))).json(&json!({
                "name": format!("钉钉成员 {i}"),
                "mobile": format!("139{:08}", 10_000_000 + i),
                "department_ids": [department_id],
            })),
        )
        .await?;
        members.push(member["id"].as_str().unwrap_or_default().to_owned());
    }
    // A form (its table and process) and one instance, through the DingTalk API itself.
    let v1 = |request: reqwest::RequestBuilder| {
        request.header("x-acs-dingtalk-access-token", token.as_str())
    };
    let form = json_of(
        v1(http.post(format!("{base}/v1.0/workflow/forms"))).json(&json!({
            "name": "基准请假",
            "formComponents": [
                {"componentType": "TextField", "props": {"label": "事由", "required": true}},
                {"componentType": "NumberField", "props": {"label": "天数"}},
            ],
        })),
    )
    .await?;
    let code = form["result"]["processCode"]
        .as_str()
        .ok_or_else(|| fail(format!("no process code: {form}")))?
        .to_owned();
    let started = json_of(
        v1(http.post(format!("{base}/v1.0/workflow/processInstances"))).json(&json!({
            "processCode": code, "originatorUserId": members[0], "deptId": number,
            "approvers": [{"actionType": "OR", "userIds": [members[1]]}],
            "formComponentValues": [{"name": "事由", "value": "bench"}, {"name": "天数", "value": "2"}],
        })),
    )
    .await?;
    let instance = started["instanceId"]
        .as_str()
        .ok_or_else(|| fail(format!("no instance: {started}")))?
        .to_owned();

    let oapi = |path: &str| format!("{base}{path}?access_token={token}");
    let pairs = vec![
        Pair {
            label: "POST /topapi/v2/user/get",
            native_label: "GET /api/v1/members/{id}",
            native: Box::new({
                let (http, url, token) = (
                    http.clone(),
                    format!("{base}/api/v1/members/{}", members[0]),
                    Arc::clone(token),
                );
                move || http.get(&url).bearer_auth(token.as_str())
            }),
            dingtalk: Box::new({
                let (http, url, userid) = (
                    http.clone(),
                    oapi("/topapi/v2/user/get"),
                    members[0].clone(),
                );
                move || http.post(&url).json(&json!({"userid": userid}))
            }),
        },
        Pair {
            label: "POST /topapi/v2/user/list",
            native_label: "GET /api/v1/members?department_id",
            native: Box::new({
                let (http, url, token) = (
                    http.clone(),
                    format!("{base}/api/v1/members?department_id={department_id}&page_size=50"),
                    Arc::clone(token),
                );
                move || http.get(&url).bearer_auth(token.as_str())
            }),
            dingtalk: Box::new({
                let (http, url) = (http.clone(), oapi("/topapi/v2/user/list"));
                move || {
                    http.post(&url)
                        .json(&json!({"dept_id": number, "cursor": 0, "size": 50}))
                }
            }),
        },
        Pair {
            label: "GET /v1.0/workflow/processInstances",
            native_label: "GET /api/v1/approvals/{id}",
            native: Box::new({
                let (http, url, token) = (
                    http.clone(),
                    format!("{base}/api/v1/approvals/{instance}"),
                    Arc::clone(token),
                );
                move || http.get(&url).bearer_auth(token.as_str())
            }),
            dingtalk: Box::new({
                let (http, url, token) = (
                    http.clone(),
                    format!("{base}/v1.0/workflow/processInstances?processInstanceId={instance}"),
                    Arc::clone(token),
                );
                move || {
                    http.get(&url)
                        .header("x-acs-dingtalk-access-token", token.as_str())
                }
            }),
        },
    ];
    // The oapi answers are HTTP 200 even for errors: check each once before timing them.
    oapi_ok((pairs[0].dingtalk)()).await?;
    oapi_ok((pairs[1].dingtalk)()).await?;
    println!(
        "{:<38} {:>12} {:<34} {:>12} {:>8} {:>7}",
        "DingTalk route", "server p50", "native route", "server p50", "ratio", "≤ 1.2×"
    );
    let samples = args.requests.max(1);
    for pair in &pairs {
        for _ in 0..WARMUP {
            send((pair.native)()).await?;
            send((pair.dingtalk)()).await?;
        }
        let mut native = Vec::with_capacity(samples);
        let mut dingtalk = Vec::with_capacity(samples);
        for _ in 0..samples {
            native.push(send((pair.native)()).await?);
            dingtalk.push(send((pair.dingtalk)()).await?);
        }
        native.sort_by(f64::total_cmp);
        dingtalk.sort_by(f64::total_cmp);
        let (native_p50, dingtalk_p50) = (percentile(&native, 0.5), percentile(&dingtalk, 0.5));
        let ratio = dingtalk_p50 / native_p50.max(1.0);
        println!(
            "{:<38} {:>9.3} ms {:<34} {:>9.3} ms {:>7.2}× {:>7}",
            pair.label,
            dingtalk_p50 / 1000.0,
            pair.native_label,
            native_p50 / 1000.0,
            ratio,
            if ratio <= TARGET { "yes" } else { "NO" }
        );
    }
    Ok(())
}
