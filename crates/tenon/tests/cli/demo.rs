//! `tenon serve --demo`: the demo organization's CRM dashboard answers every widget, its ledger figures
//! from 主账套 — the book the CRM's voucher rule made — and the vouchers its flow booked for the won orders.

use super::*;

/// How long the flow workers may take to book the seeded won orders after the server starts.
const BOOKED_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Revenue and receivables once both won orders of this month are booked: ¥1,130.34 and ¥28,800.00,
/// VAT (13 %) included.
const BOTH_BOOKED: [&str; 2] = ["26487.03", "29930.34"];

async fn the_demo_dashboard_reads_revenue_and_receivables_from_the_books_of_its_won_orders(
    backend: TestBackend,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let mut server = Server(
        env.command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--rate-limit",
            "off",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts"),
    );
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let (mut base, mut token) = (None, None);
    while token.is_none() {
        let line = lines
            .next()
            .expect("the server prints the demo token")
            .expect("a line");
        if base.is_none() {
            base = line
                .split_whitespace()
                .find(|word| word.starts_with("http://"))
                .map(str::to_owned);
        }
        token = line
            .trim()
            .strip_prefix("API token:")
            .map(|rest| rest.trim().to_owned());
    }
    // Whatever the server prints later goes somewhere (a closed pipe would fail its writes).
    std::thread::spawn(move || lines.for_each(drop));
    let (base, token) = (base.expect("the banner names the address"), token.unwrap());
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + BOOKED_WITHIN;
    let figures = loop {
        let data = ledger_widgets(&http, &base, &token).await;
        let widgets = data["widgets"].as_array().expect("widgets");
        assert_eq!(widgets.len(), 2, "{data}");
        // The book exists from the start: no widget ever says "not found: book".
        for widget in widgets {
            assert_eq!(widget["error"], serde_json::Value::Null, "{widget}");
            assert!(widget["data"]["amount"].is_string(), "{widget}");
        }
        let figures: Vec<String> = widgets
            .iter()
            .map(|widget| widget["data"]["amount"].as_str().unwrap().to_owned())
            .collect();
        // The flow workers book the orders one by one (on PostgreSQL several at once): wait for both.
        if figures == BOTH_BOOKED || std::time::Instant::now() >= deadline {
            break figures;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        figures, BOTH_BOOKED,
        "the won orders were not both booked within {BOOKED_WITHIN:?}"
    );
    drop(server);
    env.database.cleanup().await;
}

/// The boss view's revenue and receivables widgets, as `…/data` answers them.
async fn ledger_widgets(http: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    let answer = http
        .get(format!(
            "{base}/api/v1/apps/crm/dashboards/boss/data?widgets=revenue,receivables"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("data");
    assert_eq!(answer.status(), 200);
    answer.json::<serde_json::Value>().await.expect("json")
}

on_both_backends!(
    the_demo_dashboard_reads_revenue_and_receivables_from_the_books_of_its_won_orders
);
