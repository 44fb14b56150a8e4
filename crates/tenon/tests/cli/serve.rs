//! The CLI beside a running server: signals, the test clock and approval timeouts.

use super::*;

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

on_both_backends!(
    cli_works_while_the_server_runs_and_sigterm_stops_it_cleanly,
    the_test_clock_moves_only_when_told_and_survives_a_restart,
    an_approval_timeout_fires_when_the_test_clock_passes_it,
);
