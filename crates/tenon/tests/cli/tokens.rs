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

/// `tenon client create --event-format dingtalk` installs the app with DingTalk-format stream frames.
async fn client_create_sets_the_installations_event_format(backend: TestBackend) {
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
    let mut clients = vec![];
    for (name, format) in [("DingTalk sync", Some("dingtalk")), ("Plain", None)] {
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
        if let Some(format) = format {
            args.extend(["--event-format", format]);
        }
        let created = success(&env.run(&args));
        clients.push(created.split(' ').next().unwrap().to_owned());
    }
    let refused = env.run(&[
        "client",
        "create",
        "--org",
        org,
        "--name",
        "Bad",
        "--scopes",
        "directory:read",
        "--event-format",
        "xml",
    ]);
    assert!(!refused.status.success());
    let (_server, base) = start_server(&env, &[]);
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/installations"))
        .bearer_auth(admin.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let format_of = |client_id: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["client_id"] == client_id)
            .map(|item| item["event_format"].clone())
    };
    assert_eq!(
        format_of(&clients[0]),
        Some(serde_json::json!("dingtalk")),
        "{listed}"
    );
    assert_eq!(
        format_of(&clients[1]),
        Some(serde_json::json!("native")),
        "{listed}"
    );
    env.database.cleanup().await;
}

on_both_backends!(
    org_token_and_client_print_only_what_scripts_capture,
    token_create_member_makes_a_personal_token_within_the_members_role,
    client_create_sets_the_installations_event_format,
);
