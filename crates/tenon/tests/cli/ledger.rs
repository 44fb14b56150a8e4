//! Ledger files: import and export in every format, and refusals of bad input.

use super::*;

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

on_both_backends!(
    ledger_files_import_and_export_in_every_format_with_the_same_totals,
    ledger_commands_refuse_bad_input_with_distinct_exit_codes,
);
