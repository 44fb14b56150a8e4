//! `tenon bench --suite ui` at tiny sizes, so the suite keeps working as the UI changes: it seeds every
//! table, opens every page, edits cells, submits the public form and prints every figure and target; and
//! `--suite dingtalk`, which prints each DingTalk route beside its native route.
//! Only built with the `bench` feature: `cargo test -p tenon --features bench --test cli -- bench_`.

use super::*;

async fn bench_ui_runs_at_tiny_sizes_and_reports_every_figure(backend: TestBackend) {
    let env = Env::new(backend).await;
    let output = env.run(&[
        "bench",
        "--suite",
        "ui",
        "--records",
        "400",
        "--grid-rows",
        "450",
        "--cards",
        "120",
        "--events",
        "60",
        "--samples",
        "4",
    ]);
    let out = success(&output);
    assert!(
        out.contains("ui suite — grid 450 rows × 20 fields"),
        "{out}"
    );
    for figure in [
        "page: log-in page (first page)",
        "page: grid page, 20-field table",
        "kanban page, 120 cards",
        "calendar page, 60 events",
        "dashboard data, 6 widgets, 400 rows",
        "grid: first window + count",
        "grid: last window (Ctrl+End)",
        "grid: cell edit (PATCH, If-Match)",
        "public form page (first byte)",
        "public form submission (with proof)",
        "public form page + everything it loads",
        "targets (issues #22 and #23",
        "dashboard data, 6 widgets",
    ] {
        assert!(out.contains(figure), "no {figure:?} in:\n{out}");
    }
    // The pages showed what was loaded: cards in every column (50 at most each), events in the month.
    let shown = out
        .lines()
        .find(|line| line.contains("the kanban page showed"))
        .expect("what the boards showed");
    let numbers: Vec<usize> = shown
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 3, "{shown}");
    assert_eq!(
        numbers[0], 120,
        "every card of a small kanban is shown: {shown}"
    );
    assert!(numbers[1] > 0 && numbers[2] > 0, "{shown}");
    // Page weights are measured, not zero.
    let first = out
        .lines()
        .find(|line| line.starts_with("log-in page (first page)"))
        .expect("the first page's weight");
    let gzip: f64 = first
        .split_whitespace()
        .nth_back(1)
        .and_then(|kib| kib.parse().ok())
        .expect("gzip KiB");
    assert!(gzip > 1.0, "{first}");
}

on_both_backends!(bench_ui_runs_at_tiny_sizes_and_reports_every_figure);

/// `tenon bench --suite dingtalk` at a tiny size: each DingTalk route is printed beside its native route
/// with both server-side p50s and their ratio.
async fn bench_dingtalk_prints_each_route_beside_its_native_route(backend: TestBackend) {
    let env = Env::new(backend).await;
    let output = env.run(&["bench", "--suite", "dingtalk", "--requests", "5"]);
    let out = success(&output);
    for (dingtalk, native) in [
        ("POST /topapi/v2/user/get", "GET /api/v1/members/{id}"),
        (
            "POST /topapi/v2/user/list",
            "GET /api/v1/members?department_id",
        ),
        (
            "GET /v1.0/workflow/processInstances",
            "GET /api/v1/approvals/{id}",
        ),
    ] {
        let line = out
            .lines()
            .find(|line| line.starts_with(dingtalk))
            .unwrap_or_else(|| panic!("no {dingtalk:?} in:\n{out}"));
        assert!(line.contains(native), "{line}");
        let ratio: f64 = line
            .split_whitespace()
            .find_map(|word| word.strip_suffix('×'))
            .and_then(|ratio| ratio.parse().ok())
            .unwrap_or_else(|| panic!("no ratio in {line}"));
        assert!(ratio > 0.0, "{line}");
    }
}

on_both_backends!(bench_dingtalk_prints_each_route_beside_its_native_route);
