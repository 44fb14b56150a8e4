use chrono::TimeDelta;
use tenon_model::{Name, RateLimit, Scope, ScopeSet, TokenKind};
use tenon_store::{ClientRegistration, NewInstallation, NewToken, StoreError, WriteContext};

use crate::{backend_tests, new_org};

fn ctx() -> WriteContext {
    WriteContext::system()
}

fn digest(seed: u8) -> [u8; 32] {
    let mut bytes = [seed; 32];
    bytes[0] = rand_byte();
    bytes
}

fn rand_byte() -> u8 {
    (tenon_model::OrgId::new().as_uuid().as_u128() & 0xff) as u8
}

backend_tests! {
    async fn token_is_found_by_digest_and_revocation_sticks(store) {
        let (org, owner) = new_org(&store, "Acme").await;
        let tenant = store.tenant(org.id);
        let digest = digest(7);
        let token = tenant
            .create_token(&ctx(), NewToken {
                name: Name::parse("CI").unwrap(),
                member_id: Some(owner.id),
                scopes: ScopeSet::of([Scope::DirectoryRead]),
                rate_limit: Some(RateLimit::parse("5/min").unwrap()),
                expires_at: Some(store.now() + TimeDelta::days(1)),
                digest,
            })
            .await
            .unwrap();
        let found = store.authenticate_token(&digest).await.unwrap().unwrap();
        assert_eq!(found.token, token);
        assert_eq!(found.member.unwrap().id, owner.id);
        assert!(store.authenticate_token(&[0u8; 32]).await.unwrap().is_none());
        store.touch_token(&token, store.now()).await.unwrap();
        assert!(tenant.token(token.id).await.unwrap().last_used_at.is_some());
        let revoked = tenant.revoke_token(&ctx(), token.id).await.unwrap();
        assert!(revoked.revoked_at.is_some());
        let found = store.authenticate_token(&digest).await.unwrap().unwrap();
        assert!(!found.token.is_live(store.now()));
    }

    async fn app_registered_in_one_org_installs_in_another_and_uninstall_kills_tokens(store) {
        let (a, _) = new_org(&store, "A").await;
        let (b, _) = new_org(&store, "B").await;
        let (client, installation_a) = store
            .tenant(a.id)
            .register_client(&ctx(), ClientRegistration {
                name: Name::parse("Kingdee sync").unwrap(),
                client_id: format!("tnc_{}", crate::uuid_suffix()),
                secret_digest: digest(1),
                scopes: ScopeSet::of([Scope::LedgerRead]),
                rate_limit: None,
                redirect_uris: Vec::new(),
            })
            .await
            .unwrap();
        assert_eq!(installation_a.org_id, a.id);
        let checked = store.find_client(&client.client_id).await.unwrap().unwrap();
        assert_eq!(checked.client, client);
        let installation_b = store
            .tenant(b.id)
            .install(&ctx(), NewInstallation { client_id: client.client_id.clone(), scopes: ScopeSet::of([Scope::DirectoryRead]), rate_limit: None })
            .await
            .unwrap();
        let again = store
            .tenant(b.id)
            .install(&ctx(), NewInstallation { client_id: client.client_id.clone(), scopes: ScopeSet::EMPTY, rate_limit: None })
            .await;
        assert!(matches!(again, Err(StoreError::Conflict { .. })));
        assert_eq!(store.installations_of_client(client.id).await.unwrap().len(), 2);

        let token_digest = digest(9);
        let token = store
            .tenant(b.id)
            .issue_access_token(&ctx(), &installation_b, installation_b.scopes, &token_digest, store.now() + TimeDelta::hours(2))
            .await
            .unwrap();
        assert_eq!(token.kind, TokenKind::AppAccess);
        let found = store.authenticate_token(&token_digest).await.unwrap().unwrap();
        assert_eq!(found.token.org_id, b.id);
        assert_eq!(found.installation.unwrap().scopes, ScopeSet::of([Scope::DirectoryRead]));

        // B cannot rotate the secret of A's app; A can.
        assert!(matches!(store.tenant(b.id).rotate_client_secret(&ctx(), installation_b.id, &digest(3)).await, Err(StoreError::Conflict { .. })));
        store.tenant(a.id).rotate_client_secret(&ctx(), installation_a.id, &digest(4)).await.unwrap();

        store.tenant(b.id).uninstall(&ctx(), installation_b.id).await.unwrap();
        assert!(store.authenticate_token(&token_digest).await.unwrap().is_none());
        // A does not see B's installation.
        assert!(matches!(store.tenant(a.id).installation(installation_b.id).await, Err(StoreError::NotFound { .. })));
    }

    async fn login_failures_count_up_and_lock_then_clear(store) {
        let key = format!("user-{}@example.com", crate::uuid_suffix());
        for expected in 1..=5u32 {
            let throttle = store.record_login_failure(&key, tenon_lock).await.unwrap();
            assert_eq!(throttle.failures, expected);
        }
        let throttle = store.login_throttle(&key).await.unwrap();
        assert_eq!(throttle.failures, 5);
        assert!(throttle.locked_until.unwrap() > store.now());
        store.clear_login_failures(&key).await.unwrap();
        assert_eq!(store.login_throttle(&key).await.unwrap(), Default::default());
    }
}

fn tenon_lock(failures: u32) -> i64 {
    if failures >= 5 { 30 } else { 0 }
}
