//! Failures: distinct exit codes and nothing on stdout.

use super::*;

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

on_both_backends!(failures_have_distinct_exit_codes_and_print_nothing_on_stdout,);
