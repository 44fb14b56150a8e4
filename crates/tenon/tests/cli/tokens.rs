//! Organizations and tokens: what scripts capture from stdout.

use super::*;

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

async fn token_create_member_makes_a_personal_token_within_the_members_role(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let (org, admin) = org_with_admin(&env);
    let org = org.as_str();
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

/// A new organization and an admin token of it, as the CLI prints them.
fn org_with_admin(env: &Env) -> (String, String) {
    let org = success(&env.run(&[
        "org",
        "create",
        "湖州优品",
        "--admin-email",
        "boss@example.com",
        "--admin-password",
        "a long password",
    ]));
    let org = org.trim().to_owned();
    let admin = success(&env.run(&[
        "token", "create", "--org", &org, "--name", "admin", "--scopes", "admin",
    ]));
    (org, admin.trim().to_owned())
}

/// `tenon client create` of a `directory:read` app named `name`, with `extra` options.
fn create_client(env: &Env, org: &str, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "client",
        "create",
        "--org",
        org,
        "--name",
        name,
        "--scopes",
        "directory:read",
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// The organization's installations, as `GET /api/v1/installations` lists them on a server started
/// on `env`.
async fn installations(env: &Env, admin: &str) -> Vec<serde_json::Value> {
    let (_server, base) = start_server(env, &[]);
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/installations"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["items"].as_array().unwrap().clone()
}

/// `tenon client create --event-format dingtalk` installs the app with DingTalk-format stream frames.
async fn client_create_sets_the_installations_event_format(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let (org, admin) = org_with_admin(&env);
    let client_id = |created: String| created.split(' ').next().unwrap().to_owned();
    let dingtalk = client_id(success(&create_client(
        &env,
        &org,
        "DingTalk sync",
        &["--event-format", "dingtalk"],
    )));
    let plain = client_id(success(&create_client(&env, &org, "Plain", &[])));
    let refused = create_client(&env, &org, "Bad", &["--event-format", "xml"]);
    assert!(!refused.status.success());
    let listed = installations(&env, &admin).await;
    let format_of = |client_id: &str| {
        listed
            .iter()
            .find(|item| item["client_id"] == client_id)
            .map(|item| item["event_format"].clone())
    };
    assert_eq!(
        format_of(&dingtalk),
        Some(serde_json::json!("dingtalk")),
        "{listed:?}"
    );
    assert_eq!(
        format_of(&plain),
        Some(serde_json::json!("native")),
        "{listed:?}"
    );
    env.database.cleanup().await;
}

/// `tenon client create --redirect-uri …` registers the app's sign-in redirect URIs, checked as the
/// API checks `redirect_uris`: a bad one refuses the whole command (exit 5, nothing created).
async fn client_create_registers_redirect_uris_checked_like_the_api(backend: TestBackend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::new(backend).await;
    let (org, admin) = org_with_admin(&env);
    let created = success(&create_client(
        &env,
        &org,
        "Mini app",
        &[
            "--redirect-uri",
            "https://h5.example.com/signed-in",
            "--redirect-uri",
            "http://127.0.0.1:8080/cb",
            "--redirect-uri",
            "https://h5.example.com/signed-in",
        ],
    ));
    let client_id = created.split(' ').next().unwrap().to_owned();
    let refused = create_client(
        &env,
        &org,
        "Bad",
        &[
            "--redirect-uri",
            "https://ok.example/cb",
            "--redirect-uri",
            "https://h5.example.com/cb?x=1",
            "--redirect-uri",
            "ftp://files.example",
        ],
    );
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    assert_eq!(stdout(&refused), "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--redirect-uri[1]")
            && stderr.contains("--redirect-uri[2]")
            && !stderr.contains("--redirect-uri[0]"),
        "{stderr}"
    );
    let listed = installations(&env, &admin).await;
    assert_eq!(
        listed.len(),
        1,
        "the refused app was not created: {listed:?}"
    );
    assert_eq!(listed[0]["client_id"], client_id.as_str());
    assert_eq!(
        listed[0]["redirect_uris"],
        serde_json::json!([
            "https://h5.example.com/signed-in",
            "http://127.0.0.1:8080/cb"
        ]),
        "{listed:?}"
    );
    env.database.cleanup().await;
}

on_both_backends!(
    org_token_and_client_print_only_what_scripts_capture,
    token_create_member_makes_a_personal_token_within_the_members_role,
    client_create_sets_the_installations_event_format,
    client_create_registers_redirect_uris_checked_like_the_api,
);
