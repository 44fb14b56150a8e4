//! The `tenon` binary as scripts use it: exact stdout, exit codes, and the CLI working beside a running
//! server. Each test runs on SQLite (a fresh data folder) and on PostgreSQL (a fresh database).

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use tenon_store::DatabaseConfig;
use tenon_store::testing::{TestBackend, TestDatabase};

struct Env {
    database: TestDatabase,
}

impl Env {
    async fn new(backend: TestBackend) -> Env {
        Env {
            database: TestDatabase::create(backend).await,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenon"));
        command
            .args(args)
            .arg("--data")
            .arg(self.database.dir.path())
            .env_remove("TENON_DATABASE_URL");
        if let DatabaseConfig::Postgres { url } = &self.database.config {
            command.arg("--database").arg(url);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("tenon runs")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

#[track_caller]
fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(output)
}

async fn org_token_and_client_print_only_what_scripts_capture(backend: TestBackend) {
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "湖州优品",
        "--admin-email",
        "boss@example.com",
        "--admin-password",
        "a long password",
    ]));
    let org = org.trim_end_matches('\n');
    assert!(
        !org.contains('\n') && org.parse::<tenon_model::OrgId>().is_ok(),
        "stdout was {org:?}"
    );

    let token = success(&env.run(&[
        "token",
        "create",
        "--org",
        org,
        "--name",
        "ci",
        "--scopes",
        "directory:read,directory:write",
    ]));
    let token = token.trim_end_matches('\n');
    assert!(
        token.starts_with("tnp_") && !token.contains(char::is_whitespace),
        "stdout was {token:?}"
    );

    let client = success(&env.run(&[
        "client",
        "create",
        "--org",
        "湖州优品",
        "--name",
        "Kingdee",
        "--scopes",
        "ledger:read",
    ]));
    let fields: Vec<&str> = client.trim_end_matches('\n').split(' ').collect();
    assert_eq!(fields.len(), 2, "stdout was {client:?}");
    assert!(fields[0].starts_with("tnc_") && fields[1].starts_with("tncs_"));

    let listed = success(&env.run(&["org", "list"]));
    assert_eq!(listed, format!("{org}\t湖州优品\n"));
    env.database.cleanup().await;
}

async fn failures_have_distinct_exit_codes_and_print_nothing_on_stdout(backend: TestBackend) {
    let env = Env::new(backend).await;
    let invalid = env.run(&[
        "org",
        "create",
        "X",
        "--admin-email",
        "not-an-email",
        "--admin-password",
        "short",
    ]);
    assert_eq!(invalid.status.code(), Some(5));
    assert!(stdout(&invalid).is_empty());
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(
        stderr.contains("--admin-email") && stderr.contains("--admin-password"),
        "{stderr}"
    );

    let missing = env.run(&[
        "token",
        "create",
        "--org",
        "no-such-org",
        "--name",
        "x",
        "--scopes",
        "admin",
    ]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(stdout(&missing).is_empty());

    let org = success(&env.run(&[
        "org",
        "create",
        "Acme",
        "--admin-email",
        "a@example.com",
        "--admin-password",
        "a long password",
    ]));
    let bad_scope = env.run(&[
        "token",
        "create",
        "--org",
        org.trim(),
        "--name",
        "x",
        "--scopes",
        "directory:delete",
    ]);
    assert_eq!(bad_scope.status.code(), Some(5));

    let usage = env.run(&["token", "create"]);
    assert_eq!(usage.status.code(), Some(2));
    for help in [
        &["--help"][..],
        &["serve", "--help"],
        &["org", "create", "--help"],
        &["token", "create", "--help"],
        &["client", "create", "--help"],
        &["migrate", "--help"],
        &["ledger", "export", "--help"],
        &["ledger", "import", "--help"],
    ] {
        let output = env.run(help);
        assert!(
            output.status.success() && stdout(&output).contains("Usage"),
            "{help:?}"
        );
    }
    env.database.cleanup().await;
}

/// Kills the server if a test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn cli_works_while_the_server_runs_and_sigterm_stops_it_cleanly(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let mut server = Server(
        env.command(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );
    let mut first_line = String::new();
    BufReader::new(server.0.stdout.take().expect("stdout"))
        .read_line(&mut first_line)
        .expect("banner");
    let base = first_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("address in banner")
        .to_owned();

    // While it runs, the CLI writes to the same database.
    let org = success(&env.run(&[
        "org",
        "create",
        "Live",
        "--admin-email",
        "live@example.com",
        "--admin-password",
        "a long password",
    ]));
    let token = success(&env.run(&[
        "token",
        "create",
        "--org",
        org.trim(),
        "--name",
        "live",
        "--scopes",
        "directory:read",
    ]));
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let me = http
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.expect("json");
    assert_eq!(me["organization"]["id"], org.trim());

    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs")
            .success()
    );
    let status = server.0.wait().expect("server exits");
    assert!(
        status.success(),
        "SIGTERM should stop the server cleanly, got {status:?}"
    );
    env.database.cleanup().await;
}

async fn apps_and_tables_move_through_files_with_diff_and_progress(backend: TestBackend) {
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "School",
        "--admin-email",
        "t@example.com",
        "--admin-password",
        "a long password",
    ]));
    let org = org.trim();
    let dir = env.database.dir.path();
    let definition = dir.join("duty.yaml");
    std::fs::write(
        &definition,
        "key: duty\nname: Duty\ntables:\n  - key: roster\n    name: Roster\n    fields:\n      - {key: student, name: Student, type: text, required: true, unique: true}\n      - {key: week, name: Week, type: number}\n",
    )
    .unwrap();
    let diff = success(&env.run(&["app", "diff", "--org", org, definition.to_str().unwrap()]));
    assert_eq!(diff, "+ app\n+ table roster\n");
    let imported =
        success(&env.run(&["app", "import", "--org", org, definition.to_str().unwrap()]));
    assert!(
        imported.trim().parse::<tenon_model::AppId>().is_ok(),
        "prints the app id: {imported:?}"
    );
    assert_eq!(
        success(&env.run(&["app", "diff", "--org", org, definition.to_str().unwrap()])),
        ""
    );

    let csv = dir.join("roster.csv");
    std::fs::write(&csv, "Pupil,Week\n小明,47\n小红,x\n").unwrap();
    let import = |partial: bool| {
        let mut args = vec![
            "table",
            "import",
            "--org",
            org,
            "--app",
            "duty",
            "--table",
            "roster",
            "--map",
            "Pupil=student",
            csv.to_str().unwrap(),
        ];
        if partial {
            args.push("--partial");
        }
        env.run(&args)
    };
    // All or nothing by default, and a refused row is a failure (exit code 5) either way.
    let refused = import(false);
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    let summary = stdout(&refused);
    assert!(
        summary.starts_with("2 rows read, 1 refused: nothing imported"),
        "{summary}"
    );
    assert!(summary.contains("line 3 (week)"), "{summary}");
    let partial = import(true);
    assert_eq!(partial.status.code(), Some(5), "{partial:?}");
    let summary = stdout(&partial);
    assert!(
        summary.starts_with("2 rows read, imported 1, 1 not imported"),
        "{summary}"
    );
    assert!(summary.contains("line 3 (week)"), "{summary}");
    let out = dir.join("out.xlsx");
    let output = env.run(&[
        "table",
        "export",
        "--org",
        org,
        "--app",
        "duty",
        "--table",
        "roster",
        "--out",
        out.to_str().unwrap(),
    ]);
    success(&output);
    let sheet = tenon_exchange::tabular::read(
        &std::fs::read(&out).unwrap(),
        tenon_exchange::tabular::TableFormat::Xlsx,
    )
    .unwrap();
    assert_eq!(sheet.headers, ["Student", "Week"]);
    assert_eq!(
        sheet.rows,
        [vec![serde_json::json!("小明"), serde_json::json!(47)]]
    );

    // Headers are field names without --map; --upsert-on updates the record a row matches on a unique
    // field and creates the others.
    let upsert = dir.join("upsert.csv");
    std::fs::write(&upsert, "Student,Week\n小明,48\n小刚,49\n").unwrap();
    let upserted = success(&env.run(&[
        "table",
        "import",
        "--org",
        org,
        "--app",
        "duty",
        "--table",
        "roster",
        "--upsert-on",
        "student",
        upsert.to_str().unwrap(),
    ]));
    assert!(
        upserted.starts_with("2 rows read, imported 2 (1 updated), 0 not imported"),
        "{upserted}"
    );
    let not_unique = env.run(&[
        "table",
        "import",
        "--org",
        org,
        "--app",
        "duty",
        "--table",
        "roster",
        "--upsert-on",
        "week",
        upsert.to_str().unwrap(),
    ]);
    assert_eq!(not_unique.status.code(), Some(5), "{not_unique:?}");

    let exported = success(&env.run(&["app", "export", "--org", org, "duty", "--format", "json"]));
    let json: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(json["tables"][0]["fields"][1]["type"], "number");
    let shrunk = dir.join("shrunk.yaml");
    std::fs::write(&shrunk, "key: duty\nname: Duty\ntables:\n  - key: roster\n    name: Roster\n    fields:\n      - {key: student, name: Student, type: text, required: true, unique: true}\n").unwrap();
    let refused = env.run(&["app", "import", "--org", org, shrunk.to_str().unwrap()]);
    assert_eq!(
        refused.status.code(),
        Some(4),
        "deleting a field needs --allow-deletions"
    );
    success(&env.run(&[
        "app",
        "import",
        "--org",
        org,
        "--allow-deletions",
        shrunk.to_str().unwrap(),
    ]));
    env.database.cleanup().await;
}

fn golden_csv() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ledger/tests/golden/vouchers.csv")
}

/// The value of a `name: value` line of a summary.
#[track_caller]
fn summary_value(summary: &str, name: &str) -> String {
    summary
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name:?} in the summary:\n{summary}"))
        .to_owned()
}

async fn ledger_files_import_and_export_in_every_format_with_the_same_totals(backend: TestBackend) {
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "婚庆公司",
        "--admin-email",
        "boss@example.com",
        "--admin-password",
        "a long password",
    ]));
    let org = org.trim();
    let csv = golden_csv();
    let imported = success(&env.run(&[
        "ledger",
        "import",
        "--org",
        org,
        "--book",
        "主账套",
        "--format",
        "csv",
        csv.to_str().unwrap(),
    ]));
    assert!(imported.contains("into book 主账套 ["), "{imported}");
    assert!(imported.contains("(created): 3 vouchers"), "{imported}");
    assert_eq!(summary_value(&imported, "total debit"), "1323.00");
    let book_id = imported
        .split('[')
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap()
        .to_owned();

    for format in ["kingdee", "yonyou-u8", "saft", "csv"] {
        let file = env.database.dir.path().join(format!("october.{format}"));
        // --book takes the id as well as the name; --from/--to as well as --period.
        let range: &[&str] = if format == "csv" {
            &["--from", "2026-09", "--to", "2026-10"]
        } else {
            &["--period", "2026-10"]
        };
        let book = if format == "saft" {
            book_id.as_str()
        } else {
            "主账套"
        };
        let mut args = vec![
            "ledger",
            "export",
            "--org",
            "婚庆公司",
            "--book",
            book,
            "--format",
            format,
            "--out",
            file.to_str().unwrap(),
        ];
        args.extend_from_slice(range);
        let exported = success(&env.run(&args));
        assert_eq!(
            summary_value(&exported, "vouchers"),
            "3",
            "{format}: {exported}"
        );
        assert_eq!(
            summary_value(&exported, "total credit"),
            "1323.00",
            "{format}"
        );
        let copy = format!("副本-{format}");
        if format == "yonyou-u8" {
            // U8's EAI reads one document per file: the chart (code) first, then the vouchers.
            let chart = env.database.dir.path().join("october-code.xml");
            success(&env.run(&[
                "ledger",
                "export",
                "--org",
                "婚庆公司",
                "--book",
                "主账套",
                "--format",
                format,
                "--period",
                "2026-10",
                "--document",
                "code",
                "--out",
                chart.to_str().unwrap(),
            ]));
            let text = std::fs::read_to_string(&chart).unwrap();
            assert!(
                text.lines()
                    .nth(1)
                    .unwrap()
                    .starts_with("<ufinterface roottag=\"code\""),
                "{text}"
            );
            assert!(!text.contains("tenon-u8"), "{text}");
            success(&env.run(&[
                "ledger",
                "import",
                "--org",
                org,
                "--book",
                &copy,
                "--format",
                format,
                chart.to_str().unwrap(),
            ]));
            let vouchers = std::fs::read_to_string(&file).unwrap();
            assert!(
                vouchers
                    .lines()
                    .nth(1)
                    .unwrap()
                    .starts_with("<ufinterface roottag=\"voucher\""),
                "{vouchers}"
            );
        }
        let back = success(&env.run(&[
            "ledger",
            "import",
            "--org",
            org,
            "--book",
            &copy,
            "--format",
            format,
            file.to_str().unwrap(),
        ]));
        assert_eq!(
            (
                summary_value(&back, "vouchers"),
                summary_value(&back, "lines"),
                summary_value(&back, "total debit")
            ),
            (
                "3".to_owned(),
                summary_value(&imported, "lines"),
                "1323.00".to_owned()
            ),
            "{format}: {back}"
        );
        // A second import of the same file is refused whole: its numbers are taken.
        let again = env.run(&[
            "ledger",
            "import",
            "--org",
            org,
            "--book",
            &copy,
            "--format",
            format,
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            again.status.code(),
            Some(4),
            "{format}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert!(String::from_utf8_lossy(&again.stderr).contains("was this file imported before?"));
    }
    env.database.cleanup().await;
}

async fn ledger_commands_refuse_bad_input_with_distinct_exit_codes(backend: TestBackend) {
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "Acme",
        "--admin-email",
        "a@example.com",
        "--admin-password",
        "a long password",
    ]));
    let org = org.trim();
    let out = env.database.dir.path().join("out.xml");
    let out = out.to_str().unwrap();
    let missing = env.run(&[
        "ledger",
        "export",
        "--org",
        org,
        "--book",
        "无此账套",
        "--format",
        "saft",
        "--period",
        "2026-10",
        "--out",
        out,
    ]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(stdout(&missing).is_empty());
    let format = env.run(&[
        "ledger", "export", "--org", org, "--book", "x", "--format", "sap", "--period", "2026-10",
        "--out", out,
    ]);
    assert_eq!(format.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&format.stderr).contains("--format"),
        "{format:?}"
    );
    let document = env.run(&[
        "ledger",
        "export",
        "--org",
        org,
        "--book",
        "x",
        "--format",
        "yonyou-u8",
        "--period",
        "2026-10",
        "--document",
        "ledger",
        "--out",
        out,
    ]);
    assert_eq!(document.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&document.stderr).contains("--document"),
        "{document:?}"
    );
    let both = env.run(&[
        "ledger", "export", "--org", org, "--book", "x", "--format", "saft", "--period", "2026-10",
        "--from", "2026-01", "--to", "2026-02", "--out", out,
    ]);
    assert_eq!(both.status.code(), Some(2));

    // A file that cannot be booked is refused with where and why, and nothing is written.
    let bad = env.database.dir.path().join("bad.xml");
    std::fs::write(&bad, "<AuditFile><Header/></AuditFile>").unwrap();
    let refused = env.run(&[
        "ledger",
        "import",
        "--org",
        org,
        "--book",
        "新账套",
        "--format",
        "saft",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("bad.xml cannot be imported") && stderr.contains("namespace"),
        "{stderr}"
    );

    // --dry-run reads and summarizes, and writes nothing.
    let csv = golden_csv();
    let dry = success(&env.run(&[
        "ledger",
        "import",
        "--org",
        org,
        "--book",
        "试算",
        "--format",
        "csv",
        "--dry-run",
        csv.to_str().unwrap(),
    ]));
    assert_eq!(summary_value(&dry, "vouchers"), "3");
    let after = env.run(&[
        "ledger", "export", "--org", org, "--book", "试算", "--format", "csv", "--period",
        "2026-10", "--out", out,
    ]);
    assert_eq!(after.status.code(), Some(3), "the dry run created no book");
    env.database.cleanup().await;
}

/// Starts `tenon serve` with `extra` arguments; returns it and its base URL.
fn start_server(env: &Env, extra: &[&str]) -> (Server, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut server = Server(
        env.command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );
    let mut first_line = String::new();
    BufReader::new(server.0.stdout.take().expect("stdout"))
        .read_line(&mut first_line)
        .expect("banner");
    let base = first_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("address in banner")
        .to_owned();
    (server, base)
}

async fn the_test_clock_moves_only_when_told_and_survives_a_restart(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "Clockwork",
        "--admin-email",
        "clock@example.com",
        "--admin-password",
        "a long password",
    ]));
    let token = success(&env.run(&[
        "token",
        "create",
        "--org",
        org.trim(),
        "--name",
        "clock",
        "--scopes",
        "admin",
    ]));
    let token = token.trim().to_owned();
    let reader = success(&env.run(&[
        "token",
        "create",
        "--org",
        org.trim(),
        "--name",
        "reader",
        "--scopes",
        "directory:read",
    ]));
    let http = reqwest::Client::new();
    let clock_url = |base: &str| format!("{base}/api/v1/_test/clock");

    // Without the flag the route does not exist.
    let (server, base) = start_server(&env, &[]);
    let answer = http
        .post(clock_url(&base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"now": "2030-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    drop(server);
    assert!(!env.database.dir.path().join("test-clock").exists());

    let (server, base) = start_server(&env, &["--test-clock"]);
    let first: serde_json::Value = http
        .get(clock_url(&base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again: serde_json::Value = http
        .get(clock_url(&base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["now"], again["now"], "the clock stands still");

    // Only admin moves it; a bad instant is refused and moves nothing.
    let refused = http
        .post(clock_url(&base))
        .bearer_auth(reader.trim())
        .json(&serde_json::json!({"now": "2030-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let bad = http
        .post(clock_url(&base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"now": "tomorrow"}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());

    let set = http
        .post(clock_url(&base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"now": "2030-01-01T08:00:00+08:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let set: serde_json::Value = set.json().await.unwrap();
    assert_eq!(set["now"], "2030-01-01T00:00:00Z");

    // What the store writes follows it.
    let department: serde_json::Value = http
        .post(format!("{base}/api/v1/departments"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "钟表部"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = department["created_at"].as_str().expect("created_at");
    assert!(created.starts_with("2030-01-01T00:00:00"), "{department}");
    drop(server);

    // A restarted node resumes at the same instant.
    let (_server, base) = start_server(&env, &["--test-clock"]);
    let resumed: serde_json::Value = http
        .get(clock_url(&base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["now"], "2030-01-01T00:00:00Z");
    env.database.cleanup().await;
}

async fn token_create_member_makes_a_personal_token_within_the_members_role(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "湖州优品",
        "--admin-email",
        "boss@example.com",
        "--admin-password",
        "a long password",
    ]));
    let org = org.trim();
    let admin = success(&env.run(&[
        "token", "create", "--org", org, "--name", "admin", "--scopes", "admin",
    ]));
    let (_server, base) = start_server(&env, &[]);
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/api/v1/members"))
        .bearer_auth(admin.trim())
        .json(&serde_json::json!({"name": "Clerk", "email": "clerk@example.com", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let clerk: serde_json::Value = created.json().await.unwrap();

    let token = success(&env.run(&[
        "token",
        "create",
        "--org",
        org,
        "--name",
        "clerk",
        "--scopes",
        "approvals:read,approvals:write",
        "--member",
        "Clerk@Example.com",
    ]));
    let token = token.trim_end_matches('\n');
    assert!(
        token.starts_with("tnp_") && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    let me: serde_json::Value = http
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["member"]["id"], clerk["id"], "{me}");
    assert_eq!(
        me["scopes"],
        serde_json::json!(["approvals:read", "approvals:write"])
    );

    // Nobody by that address: 3; scopes beyond a member's role: 5. Nothing printed on stdout.
    let unknown = env.run(&[
        "token",
        "create",
        "--org",
        org,
        "--name",
        "x",
        "--scopes",
        "approvals:read",
        "--member",
        "nobody@example.com",
    ]);
    assert_eq!(unknown.status.code(), Some(3));
    assert_eq!(stdout(&unknown), "");
    let beyond = env.run(&[
        "token",
        "create",
        "--org",
        org,
        "--name",
        "x",
        "--scopes",
        "admin",
        "--member",
        "clerk@example.com",
    ]);
    assert_eq!(beyond.status.code(), Some(5));
    assert_eq!(stdout(&beyond), "");
    env.database.cleanup().await;
}

async fn an_approval_timeout_fires_when_the_test_clock_passes_it(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let org = success(&env.run(&[
        "org",
        "create",
        "武夷山茶",
        "--admin-email",
        "tea@example.com",
        "--admin-password",
        "a long password",
    ]));
    let token = success(&env.run(&[
        "token",
        "create",
        "--org",
        org.trim(),
        "--name",
        "admin",
        "--scopes",
        "admin",
    ]));
    let token = token.trim().to_owned();
    let (_server, base) = start_server(&env, &["--test-clock"]);
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let status = |reply: reqwest::Response| reply.status().as_u16();
    assert_eq!(status(post("/api/v1/apps/import", serde_json::json!({
        "format": "tenon.app/v1", "key": "tea", "name": "茶",
        "tables": [{"key": "refunds", "name": "退款", "fields": [{"key": "amount", "name": "金额", "type": "number"}]}]
    })).await.unwrap()), 201);
    let lead: serde_json::Value = post(
        "/api/v1/members",
        serde_json::json!({"name": "主管", "email": "lead@example.com"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let clerk: serde_json::Value = post(
        "/api/v1/members",
        serde_json::json!({"name": "客服", "email": "clerk@example.com"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        status(
            post(
                "/api/v1/roles",
                serde_json::json!({"key": "lead", "name": "主管", "member_ids": [lead["id"]]})
            )
            .await
            .unwrap()
        ),
        201
    );
    assert_eq!(status(post("/api/v1/processes", serde_json::json!({
        "app": "tea", "code": "TEA_REFUND", "name": "退款", "table": "refunds",
        "settings": {"timeout": {"after_hours": 24, "action": "approve"}},
        "nodes": [{"key": "review", "type": "approval", "method": "or", "approvers": [{"role": "lead"}], "next": "end"}]
    })).await.unwrap()), 201);
    assert_eq!(
        status(
            post(
                "/api/v1/processes/TEA_REFUND/publish",
                serde_json::json!({})
            )
            .await
            .unwrap()
        ),
        200
    );
    let started: serde_json::Value = post("/api/v1/approvals", serde_json::json!({"process": "TEA_REFUND", "initiator": clerk["id"], "fields": {"amount": 30}}))
        .await.unwrap().json().await.unwrap();
    assert_eq!(started["status"], "running", "{started}");
    let instance = format!(
        "{base}/api/v1/approvals/{}",
        started["id"].as_str().unwrap()
    );
    let now: serde_json::Value = http
        .get(format!("{base}/api/v1/_test/clock"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(now["now"].as_str().unwrap()).unwrap();

    // 23 hours: nothing happens. 25 hours: the timeout passes the task.
    let moved = post(
        "/api/v1/_test/clock",
        serde_json::json!({"now": (now + chrono::TimeDelta::hours(23)).to_rfc3339()}),
    )
    .await
    .unwrap();
    assert_eq!(moved.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let waiting: serde_json::Value = http
        .get(&instance)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(waiting["status"], "running");
    post(
        "/api/v1/_test/clock",
        serde_json::json!({"now": (now + chrono::TimeDelta::hours(25)).to_rfc3339()}),
    )
    .await
    .unwrap();
    let mut done = waiting;
    for _ in 0..100 {
        done = http
            .get(&instance)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done["status"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        (done["status"].as_str(), done["result"].as_str()),
        (Some("completed"), Some("agree")),
        "{done}"
    );
    let kinds: Vec<&str> = done["operation_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "start_process_instance",
            "execute_task_auto",
            "finish_process_instance"
        ]
    );
    assert!(
        done["finished_at"].as_str().unwrap().starts_with(
            &(now + chrono::TimeDelta::hours(25))
                .format("%Y-%m-%dT%H")
                .to_string()
        ),
        "{done}"
    );
    env.database.cleanup().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(tenon_store::testing::TestBackend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(tenon_store::testing::TestBackend::Postgres).await
            }
        }
    )*};
}

on_both_backends!(
    org_token_and_client_print_only_what_scripts_capture,
    failures_have_distinct_exit_codes_and_print_nothing_on_stdout,
    cli_works_while_the_server_runs_and_sigterm_stops_it_cleanly,
    apps_and_tables_move_through_files_with_diff_and_progress,
    ledger_files_import_and_export_in_every_format_with_the_same_totals,
    ledger_commands_refuse_bad_input_with_distinct_exit_codes,
    the_test_clock_moves_only_when_told_and_survives_a_restart,
    token_create_member_makes_a_personal_token_within_the_members_role,
    an_approval_timeout_fires_when_the_test_clock_passes_it,
);
