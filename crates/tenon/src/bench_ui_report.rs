//! The ui suite's report: every figure beside `/healthz`, the page weights, then each target of issues
//! #22 and #23 and whether it is met.

use crate::bench::percentile;
use crate::bench_ui::{Row, WINDOW, Weight};
use crate::cli::BenchArgs;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

pub(crate) fn report(
    args: &BenchArgs,
    seeding: std::time::Duration,
    rows: &[Row],
    weights: &[(String, Weight)],
    form: &Weight,
    (cards_shown, events_shown, edited): (usize, usize, usize),
) {
    let kib = |bytes: usize| bytes as f64 / 1024.0;
    println!();
    println!(
        "ui suite — grid {} rows × 20 fields, kanban {} cards, calendar {} events ({} month), dashboard over {} rows; loaded in {:.1} s",
        args.grid_rows.max(WINDOW),
        args.cards,
        args.events,
        crate::bench_ui_seed::calendar_month_label(),
        args.records,
        seeding.as_secs_f64()
    );
    println!(
        "{} measured requests per figure; server = Server-Timing (inside Tenon), client = over loopback",
        args.samples.max(1)
    );
    println!(
        "{:<48} {:>11} {:>11} {:>11} {:>10} {:>9} {:>8}",
        "measurement", "server p50", "server p95", "client p50", "×healthz", "target", ""
    );
    let baseline = rows
        .first()
        .map_or(1.0, |row| percentile(&row.samples.client, 0.5).max(1e-6));
    for row in rows {
        let p50 = row.samples.server_p50();
        let client = percentile(&row.samples.client, 0.5);
        let (target, met) = match row.target_ms {
            Some(target) => (format!("< {target:.0} ms"), verdict(p50 < target)),
            None => (String::new(), ""),
        };
        println!(
            "{:<48} {:>8.3} ms {:>8.3} ms {:>8.3} ms {:>9.1}× {:>9} {:>8}",
            row.label,
            p50,
            percentile(&row.samples.server, 0.95),
            client,
            client / baseline,
            target,
            met
        );
    }
    println!(
        "  (the kanban page showed {cards_shown} cards, the calendar {events_shown} events; {edited} grid records were edited)"
    );
    println!();
    println!(
        "{:<48} {:>11} {:>11} {:>6}",
        "page weight: JavaScript + CSS", "raw KiB", "gzip KiB", "files"
    );
    for (label, weight) in weights {
        println!(
            "{:<48} {:>11.1} {:>11.1} {:>6}",
            label,
            kib(weight.raw),
            kib(weight.gzipped),
            weight.files
        );
    }
    println!(
        "{:<48} {:>11.1} {:>11.1} {:>6}",
        "public form page + everything it loads",
        kib(form.raw),
        kib(form.gzipped),
        form.files + 1
    );

    let first = weights
        .iter()
        .take(2)
        .map(|(_, weight)| weight.gzipped)
        .max()
        .unwrap_or(0);
    let any = weights
        .iter()
        .map(|(_, weight)| weight.gzipped)
        .max()
        .unwrap_or(0);
    let worst = |prefix: &str| {
        rows.iter()
            .filter(|row| row.label.starts_with(prefix))
            .map(|row| row.samples.server_p50())
            .fold(0.0, f64::max)
    };
    println!();
    println!("targets (issues #22 and #23; server-side p50 unless said)");
    let line = |name: &str, figure: String, target: &str, met: bool| {
        println!(
            "  {name:<54} {figure:>12}   target {target:<10} {}",
            verdict(met)
        );
    };
    let pages = worst("page: ");
    line(
        "first page JS + CSS, gzipped (log-in, home)",
        format!("{:.1} KB", first as f64 / 1000.0),
        "≤ 100 KB",
        first <= 100_000,
    );
    line(
        "any page JS + CSS, gzipped (largest)",
        format!("{:.1} KB", any as f64 / 1000.0),
        "≤ 150 KB",
        any <= 150_000,
    );
    line(
        "public form page with everything, gzipped",
        format!("{:.1} KB", form.gzipped as f64 / 1000.0),
        "≤ 30 KB",
        form.gzipped <= 30_000,
    );
    line(
        "pages render (slowest page's p50)",
        format!("{pages:.3} ms"),
        "< 10 ms",
        pages < 10.0,
    );
    let form_get = worst("public form page");
    line(
        "public form first byte",
        format!("{form_get:.3} ms"),
        "< 5 ms",
        form_get < 5.0,
    );
    let submit = worst("public form submission");
    line(
        "public form submission",
        format!("{submit:.3} ms"),
        "< 20 ms",
        submit < 20.0,
    );
    let edit = worst("grid: cell edit");
    line(
        "cell edit round trip",
        format!("{edit:.3} ms"),
        "< 50 ms",
        edit < 50.0,
    );
    let window = rows
        .iter()
        .filter(|row| row.label.starts_with("grid: ") && row.label.contains("window"))
        .map(|row| row.samples.server_p50())
        .fold(0.0, f64::max);
    line(
        "200-row window at any position (slowest)",
        format!("{window:.3} ms"),
        "< 100 ms",
        window < 100.0,
    );
    let kanban = worst("kanban page");
    line(
        "kanban visible part",
        format!("{kanban:.3} ms"),
        "< 100 ms",
        kanban < 100.0,
    );
    let calendar = worst("calendar page");
    line(
        "calendar visible part",
        format!("{calendar:.3} ms"),
        "< 100 ms",
        calendar < 100.0,
    );
    let dashboard = worst("dashboard data");
    line(
        "dashboard data, 6 widgets",
        format!("{dashboard:.3} ms"),
        "< 200 ms",
        dashboard < 200.0,
    );
    println!(
        "  not measured here (browser tests): ≤ 2,000 cells in the DOM, scrolling without blank frames"
    );
}
