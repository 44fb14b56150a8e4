//! Apps and tables through files: export, import, diff and progress.

use super::*;

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
    // A published grid shows the table as a role the app will have: diff and import refuse another (5).
    let published = dir.join("published.yaml");
    std::fs::write(&published, "key: duty\nname: Duty\ntables:\n  - key: roster\n    name: Roster\n    fields:\n      - {key: student, name: Student, type: text, required: true, unique: true}\n    views:\n      - {key: board, name: Board, type: grid, config: {public: {enabled: true, as_role: ghost}}}\n").unwrap();
    for command in ["diff", "import"] {
        let refused = env.run(&["app", command, "--org", org, published.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(5), "{command}: {refused:?}");
        assert!(stdout(&refused).is_empty(), "{command}: {refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("tables[0].views[0].config.public.as_role"),
            "{command}: {stderr}"
        );
    }
    env.database.cleanup().await;
}

on_both_backends!(apps_and_tables_move_through_files_with_diff_and_progress,);
