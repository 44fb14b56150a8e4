//! `tenon bench --suite ui`: the browser UI's figures of issues #22 and #23, over HTTP against the real
//! server, logged in with a session cookie as a browser is.
//!
//! - Page weight: the JavaScript and CSS each page loads, raw and gzipped (level 6, what a compressing
//!   proxy sends; Tenon itself serves them uncompressed); the public form page with everything it loads.
//! - Server-side times from each response's `Server-Timing` (time inside Tenon, without the network):
//!   pages, the public form's page and a submission with its proof of work, a grid cell edit (`PATCH` with
//!   `If-Match`, as the grid island sends it) and 200-row windows at any position of a 20-field table (in
//!   the default order and sorted by an unindexed text field), a kanban and a calendar page, and the six-widget dashboard's data.
//!
//! Every figure is printed beside `GET /healthz` (no authentication, no database) measured in the same
//! run, and the report ends with each target and whether it is met.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use serde_json::Value;

use crate::bench::{fail, percentile};
use crate::bench_records::urlencode;
use crate::bench_ui_seed::{APP, Seeded, mix, seed};
use crate::cli::BenchArgs;
use crate::commands::Failure;

/// Rows in a grid window (the grid island's `PAGE`).
pub(crate) const WINDOW: u64 = 200;
/// Public form submissions sent from one address (the per-address limit allows a burst of 20).
const SUBMISSIONS_PER_ADDRESS: usize = 15;

/// One answer: status, `Server-Timing` and client-side time in milliseconds, the body.
pub(crate) struct Answer {
    pub status: u16,
    pub server_ms: f64,
    pub client_ms: f64,
    pub body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|error| fail(format!("not JSON: {error}")))
    }
}

/// A keep-alive client with the benchmark's token (for seeding) and a session cookie (for what a browser
/// does).
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    cookie: String,
}

impl Client {
    async fn exec(&self, request: reqwest::RequestBuilder) -> Result<Answer, Failure> {
        let sent = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|error| fail(format!("request failed: {error}")))?;
        let status = response.status().as_u16();
        let server_ms = response
            .headers()
            .get("server-timing")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split("dur=").nth(1))
            .and_then(|millis| millis.parse::<f64>().ok())
            .unwrap_or(0.0);
        let body = response
            .bytes()
            .await
            .map_err(|error| fail(format!("body read failed: {error}")))?
            .to_vec();
        Ok(Answer {
            status,
            server_ms,
            client_ms: sent.elapsed().as_secs_f64() * 1000.0,
            body,
        })
    }

    /// `exec`, failing unless the answer is a success.
    async fn ok(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Answer, Failure> {
        let answer = self.exec(request).await?;
        if !(200..300).contains(&answer.status) {
            return Err(fail(format!(
                "{what} answered {}: {}",
                answer.status,
                answer.text().chars().take(400).collect::<String>()
            )));
        }
        Ok(answer)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn api_post(&self, path: &str, body: &Value) -> Result<Answer, Failure> {
        let request = self.http.post(self.url(path)).bearer_auth(&self.token);
        self.ok(&format!("POST {path}"), request.json(body)).await
    }

    pub(crate) async fn api_put(&self, path: &str, body: &Value) -> Result<Answer, Failure> {
        let request = self.http.put(self.url(path)).bearer_auth(&self.token);
        self.ok(&format!("PUT {path}"), request.json(body)).await
    }

    /// A GET with the session cookie: a page, or the API as an island calls it.
    async fn get(&self, path: &str) -> Result<Answer, Failure> {
        let mut request = self
            .http
            .get(self.url(path))
            .header("accept-language", "zh-CN");
        if !self.cookie.is_empty() {
            request = request.header("cookie", &self.cookie);
        }
        self.ok(&format!("GET {path}"), request).await
    }

    /// A JSON PATCH with the session cookie, from this site, as an island sends it.
    async fn patch(&self, path: &str, body: &Value, version: i64) -> Result<Answer, Failure> {
        let request = self
            .http
            .patch(self.url(path))
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .header("if-match", format!("\"{version}\""))
            .json(body);
        self.ok(&format!("PATCH {path}"), request).await
    }
}

/// Measured samples of one figure, in milliseconds.
#[derive(Default)]
pub(crate) struct Samples {
    pub server: Vec<f64>,
    pub client: Vec<f64>,
}

impl Samples {
    fn push(&mut self, answer: &Answer) {
        self.server.push(answer.server_ms);
        self.client.push(answer.client_ms);
    }

    fn sorted(mut self) -> Samples {
        self.server.sort_by(f64::total_cmp);
        self.client.sort_by(f64::total_cmp);
        self
    }

    pub(crate) fn server_p50(&self) -> f64 {
        percentile(&self.server, 0.5)
    }
}

/// GETs `path` with the session `warm` times unmeasured, then `n` times measured.
async fn repeat_get(
    client: &Client,
    path: &str,
    warm: usize,
    n: usize,
) -> Result<Samples, Failure> {
    for _ in 0..warm {
        client.get(path).await?;
    }
    let mut samples = Samples::default();
    for _ in 0..n {
        samples.push(&client.get(path).await?);
    }
    Ok(samples.sorted())
}

/// Logs in as the benchmark's administrator and returns the session cookie (`name=value`).
async fn log_in(http: &reqwest::Client, base: &str) -> Result<String, Failure> {
    let response = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": crate::bench::ADMIN_EMAIL, "password": crate::bench::ADMIN_PASSWORD}))
        .send()
        .await
        .map_err(|error| fail(format!("log-in failed: {error}")))?;
    if !response.status().is_success() {
        return Err(fail(format!("log-in answered {}", response.status())));
    }
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(tenon_server::auth::SESSION_COOKIE))
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| fail("the log-in set no session cookie"))
}

/// The addresses a page loads: scripts, style sheets and icons (`src` and `href` of `<script>`,
/// `<link rel="stylesheet|icon">` and `<img>`), in order, without repeats.
fn resources(html: &str, images: bool) -> Vec<String> {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let rest = &tag[start..];
        Some(unescape(&rest[..rest.find('"')?]))
    };
    let mut found: Vec<String> = Vec::new();
    for (at, _) in html.match_indices('<') {
        let tag = &html[at..html[at..].find('>').map_or(html.len(), |end| at + end)];
        let url = if tag.starts_with("<script") {
            attribute(tag, "src")
        } else if tag.starts_with("<link")
            && (tag.contains("rel=\"stylesheet\"") || tag.contains("rel=\"icon\""))
        {
            attribute(tag, "href")
        } else if images && tag.starts_with("<img") {
            attribute(tag, "src")
        } else {
            None
        };
        if let Some(url) = url.filter(|url| !found.contains(url)) {
            found.push(url);
        }
    }
    found
}

/// An attribute's text as the browser reads it (the templates escape `/`, `&`, quotes).
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn gzipped_len(bytes: &[u8]) -> Result<usize, Failure> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder
        .write_all(bytes)
        .map_err(|error| fail(error.to_string()))?;
    Ok(encoder
        .finish()
        .map_err(|error| fail(error.to_string()))?
        .len())
}

/// A page's weight: bytes raw and gzipped of its JavaScript and CSS (and, with `everything`, of the page
/// itself and every other file it loads).
pub(crate) struct Weight {
    pub raw: usize,
    pub gzipped: usize,
    pub files: usize,
}

struct Weigher<'a> {
    client: &'a Client,
    /// Raw and gzipped sizes by address.
    sizes: HashMap<String, (usize, usize)>,
}

impl Weigher<'_> {
    async fn size(&mut self, url: &str) -> Result<(usize, usize), Failure> {
        if let Some(size) = self.sizes.get(url) {
            return Ok(*size);
        }
        let answer = self.client.get(url).await?;
        let size = (answer.body.len(), gzipped_len(&answer.body)?);
        self.sizes.insert(url.to_owned(), size);
        Ok(size)
    }

    async fn weigh(&mut self, html: &str, everything: bool) -> Result<Weight, Failure> {
        let mut weight = Weight {
            raw: 0,
            gzipped: 0,
            files: 0,
        };
        if everything {
            weight.raw += html.len();
            weight.gzipped += gzipped_len(html.as_bytes())?;
        }
        for url in resources(html, everything) {
            let path = url.split('?').next().unwrap_or("");
            let code = path.ends_with(".js") || path.ends_with(".css");
            if !code && !everything {
                continue;
            }
            let (raw, gzipped) = self.size(&url).await?;
            weight.raw += raw;
            weight.gzipped += gzipped;
            weight.files += 1;
        }
        Ok(weight)
    }
}

/// Figures printed in the report, in order: a label, the samples, the target (server p50, ms).
pub(crate) struct Row {
    pub label: String,
    pub samples: Samples,
    pub target_ms: Option<f64>,
}

pub async fn ui_suite(base: &str, token: &str, args: &BenchArgs) -> Result<(), Failure> {
    let http = reqwest::Client::builder()
        .build()
        .map_err(|error| fail(error.to_string()))?;
    let cookie = log_in(&http, base).await?;
    let client = Client {
        http,
        base: base.to_owned(),
        token: token.to_owned(),
        cookie,
    };
    let samples = args.samples.max(1);
    let warm = (samples / 10).max(1);
    let grid_rows = args.grid_rows.max(WINDOW);

    let started = Instant::now();
    let seeded = seed(&client, grid_rows, args.cards, args.events, args.records).await?;
    let seeding = started.elapsed();

    let mut rows: Vec<Row> = Vec::new();
    rows.push(Row {
        label: "GET /healthz (baseline)".to_owned(),
        samples: repeat_get(&client, "/healthz", warm, samples).await?,
        target_ms: None,
    });

    // Pages, and what each loads.
    let app = format!("/apps/{APP}");
    let kanban = format!("{app}/tables/tasks?view={}", seeded.kanban_view);
    let calendar = format!(
        "{app}/tables/meetings?view={}&date={}",
        seeded.calendar_view, seeded.calendar_date
    );
    let pages: Vec<(&str, String)> = vec![
        ("log-in page (first page)", "/login".to_owned()),
        ("home (apps)", "/".to_owned()),
        ("app page", app.clone()),
        ("grid page, 20-field table", format!("{app}/tables/grid")),
        ("dashboard page", format!("{app}/dashboards/boss")),
        ("admin: members", "/admin/members".to_owned()),
    ];
    let mut weigher = Weigher {
        client: &client,
        sizes: HashMap::new(),
    };
    let mut weights: Vec<(String, Weight)> = Vec::new();
    for (label, path) in &pages {
        let html = client.get(path).await?.text();
        weights.push(((*label).to_owned(), weigher.weigh(&html, false).await?));
        rows.push(Row {
            label: format!("page: {label}"),
            samples: repeat_get(&client, path, warm, samples).await?,
            target_ms: Some(10.0),
        });
    }

    // The kanban and the calendar: only their visible part is read.
    let kanban_page = client.get(&kanban).await?.text();
    let cards_shown = kanban_page.matches("class=\"board-card\"").count();
    weights.push((
        "kanban page".to_owned(),
        weigher.weigh(&kanban_page, false).await?,
    ));
    rows.push(Row {
        label: format!("kanban page, {} cards", args.cards),
        samples: repeat_get(&client, &kanban, warm, samples).await?,
        target_ms: Some(100.0),
    });
    let calendar_page = client.get(&calendar).await?.text();
    let events_shown = calendar_page.matches("class=\"event\"").count();
    weights.push((
        "calendar page".to_owned(),
        weigher.weigh(&calendar_page, false).await?,
    ));
    rows.push(Row {
        label: format!("calendar page, {} events", args.events),
        samples: repeat_get(&client, &calendar, warm, samples).await?,
        target_ms: Some(100.0),
    });

    // The dashboard's data, as its island asks for it; every widget must answer.
    let data_path = format!("/api/v1/apps/{APP}/dashboards/boss/data");
    let data = client.get(&data_path).await?.json()?;
    let widgets = data["widgets"].as_array().map_or(0, Vec::len);
    if let Some(failed) = data["widgets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|widget| !widget["error"].is_null())
    {
        return Err(fail(format!("a dashboard widget failed: {failed}")));
    }
    rows.push(Row {
        label: format!("dashboard data, {widgets} widgets, {} rows", args.records),
        samples: repeat_get(&client, &data_path, warm, samples).await?,
        target_ms: Some(200.0),
    });
    // Each widget alone, to see where the time goes.
    for key in crate::bench_ui_seed::WIDGETS {
        rows.push(Row {
            label: format!("  one widget: {key}"),
            samples: repeat_get(
                &client,
                &format!("{data_path}?widgets={key}"),
                1,
                samples.div_ceil(3),
            )
            .await?,
            target_ms: None,
        });
    }

    // The grid: 200-row windows, then cell edits on rows they returned.
    let (grid_rows_out, edited) = grid(&client, grid_rows, warm, samples).await?;
    rows.extend(grid_rows_out);

    // The public form: the page, then submissions with a solved proof of work.
    let form_path = format!("/f/{}", seeded.form_slug);
    let form_html = client.get(&form_path).await?.text();
    let form_weight = weigher.weigh(&form_html, true).await?;
    rows.push(Row {
        label: "public form page (first byte)".to_owned(),
        samples: repeat_get(&client, &form_path, warm, samples).await?,
        target_ms: Some(5.0),
    });
    rows.push(Row {
        label: "public form submission (with proof)".to_owned(),
        samples: submissions(base, &seeded, samples).await?,
        target_ms: Some(20.0),
    });

    crate::bench_ui_report::report(
        args,
        seeding,
        &rows,
        &weights,
        &form_weight,
        (cards_shown, events_shown, edited),
    );
    Ok(())
}

/// Windows at the top (with the count, as the grid opens), anywhere, and at the end (Ctrl+End), also sorted
/// by an unindexed text field; then cell edits of rows those windows returned. Returns the rows of the
/// report and how many records were edited.
async fn grid(
    client: &Client,
    rows: u64,
    warm: usize,
    samples: usize,
) -> Result<(Vec<Row>, usize), Failure> {
    let records = format!("/api/v1/apps/{APP}/tables/grid/records");
    let windows = rows.div_ceil(WINDOW);
    let at = |window: u64| format!("{records}?page_size={WINDOW}&offset={}", window * WINDOW);
    let first = repeat_get(client, &format!("{}&count=true", at(0)), warm, samples).await?;
    let last = repeat_get(client, &at(windows - 1), warm, samples).await?;
    let mut anywhere = Samples::default();
    let mut targets: Vec<(String, i64)> = Vec::new();
    for i in 0..warm + samples {
        let answer = client.get(&at(mix(i as u64) % windows)).await?;
        if i >= warm {
            anywhere.push(&answer);
        }
        if targets.len() < samples {
            // One row of each window: edits land all over the table.
            let page = answer.json()?;
            if let Some(item) = page["items"].get((mix(i as u64 + 1) % WINDOW) as usize)
                && let (Some(id), Some(version)) = (item["id"].as_str(), item["version"].as_i64())
                && !targets.iter().any(|(known, _)| known == id)
            {
                targets.push((id.to_owned(), version));
            }
        }
    }
    if targets.is_empty() {
        return Err(fail("the grid's windows returned no records"));
    }
    // The same windows in the order of an unindexed text field (the customer, with many ties), as a grid
    // sorted by it asks for them.
    let sorted = |window: u64| format!("{}&sort=customer", at(window));
    let mut sorted_anywhere = Samples::default();
    for i in 0..warm + samples {
        let answer = client.get(&sorted(mix(i as u64 + 7) % windows)).await?;
        if i >= warm {
            sorted_anywhere.push(&answer);
        }
    }
    let sorted_last = repeat_get(client, &sorted(windows - 1), warm, samples).await?;
    let mut edits = Samples::default();
    for i in 0..warm + samples {
        let slot = i % targets.len();
        let (id, version) = &targets[slot];
        let body =
            serde_json::json!({"fields": {"notes": format!("第 {i} 次修改：改为下周二送货")}});
        let answer = client
            .patch(&format!("{records}/{id}"), &body, *version)
            .await?;
        let next = answer.json()?["version"]
            .as_i64()
            .ok_or_else(|| fail("an edit answered no version"))?;
        targets[slot].1 = next;
        if i >= warm {
            edits.push(&answer);
        }
    }
    let edited = targets.len();
    Ok((
        vec![
            Row {
                label: "grid: first window + count".to_owned(),
                samples: first,
                target_ms: Some(100.0),
            },
            Row {
                label: "grid: window at a random position".to_owned(),
                samples: anywhere.sorted(),
                target_ms: Some(100.0),
            },
            Row {
                label: "grid: last window (Ctrl+End)".to_owned(),
                samples: last,
                target_ms: Some(100.0),
            },
            Row {
                label: "grid: random window, sorted by an unindexed text field".to_owned(),
                samples: sorted_anywhere.sorted(),
                target_ms: Some(100.0),
            },
            Row {
                label: "grid: last window, sorted by an unindexed text field".to_owned(),
                samples: sorted_last,
                target_ms: Some(100.0),
            },
            Row {
                label: "grid: cell edit (PATCH, If-Match)".to_owned(),
                samples: edits.sorted(),
                target_ms: Some(50.0),
            },
        ],
        edited,
    ))
}

/// Public form submissions as a visitor's browser makes them: the page (for a fresh challenge), the
/// proof solved, the form posted. Each address may send a burst of 20, so the submissions come from
/// successive loopback addresses (127.0.0.2, 127.0.0.3, …: Linux routes all of 127/8 to `lo`).
async fn submissions(base: &str, seeded: &Seeded, samples: usize) -> Result<Samples, Failure> {
    let path = format!("/f/{}", seeded.form_slug);
    let mut measured = Samples::default();
    let mut visitor: Option<Client> = None;
    let warm = (samples / 10).max(1);
    for i in 0..warm + samples {
        if i % SUBMISSIONS_PER_ADDRESS == 0 {
            let host = u8::try_from(2 + i / SUBMISSIONS_PER_ADDRESS)
                .ok()
                .filter(|host| *host < 255)
                .ok_or_else(|| {
                    fail("too many submissions for one loopback network: lower --samples")
                })?;
            let http = reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
                .build()
                .map_err(|error| fail(error.to_string()))?;
            visitor = Some(Client {
                http,
                base: base.to_owned(),
                token: String::new(),
                cookie: String::new(),
            });
        }
        let Some(visitor) = visitor.as_ref() else {
            return Err(fail("no visitor"));
        };
        let page = visitor.get(&path).await?.text();
        let challenge = page
            .split("class=\"pow-challenge\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .ok_or_else(|| fail("the form page has no proof-of-work challenge"))?;
        let challenge: tenon_server::pow::Challenge = serde_json::from_str(challenge)
            .map_err(|error| fail(format!("the challenge does not parse: {error}")))?;
        let proof = tenon_server::pow::solve(&challenge)
            .ok_or_else(|| fail("the challenge has no solution"))?;
        let fields = [
            ("name", format!("访客 {i}")),
            ("phone", "+86 138 0013 8000".to_owned()),
            ("email", format!("visitor{i}@example.com")),
            ("arrive", "2026-12-24".to_owned()),
            ("room", "双人间".to_owned()),
            ("note", "晚上九点后到达，请留门。".to_owned()),
            ("website", String::new()),
            ("altcha", proof),
        ];
        let body = fields
            .iter()
            .map(|(name, value)| format!("{name}={}", urlencode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let request = visitor
            .http
            .post(visitor.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let answer = visitor.ok(&format!("POST {path}"), request).await?;
        if !answer.text().contains("public-done") {
            return Err(fail(format!(
                "a submission was not taken: {}",
                answer.text().chars().take(600).collect::<String>()
            )));
        }
        if i >= warm {
            measured.push(&answer);
        }
    }
    Ok(measured.sorted())
}
