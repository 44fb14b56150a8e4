//! An installed third-party app's webhooks over HTTP: an app registered by one organization (its vendor)
//! and installed in another subscribes with its own access token, hears only the organization that token
//! belongs to and only the types its scopes allow, and hears nothing more once it is uninstalled.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::webhooks::Receiver;
use crate::{Reply, TestApp, api_tests};

const APP_SCOPES: [&str; 2] = ["records:read", "events:manage"];

async fn notes(app: &TestApp, token: &str) {
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "Notes", "key": "notes"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post("/api/v1/apps/notes/tables", token, json!({"name": "Notes", "key": "notes", "fields": [{"name": "Title", "key": "title", "type": "text"}]}))
        .await
        .expect(StatusCode::CREATED);
}

async fn create_note(app: &TestApp, token: &str, title: &str) -> String {
    app.post(
        "/api/v1/apps/notes/tables/notes/records",
        token,
        json!({"fields": {"title": title}}),
    )
    .await
    .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The client-credentials grant for the app in one organization.
async fn access_token(app: &TestApp, client_id: &str, secret: &str, org: &str) -> String {
    let reply = app
        .call(
            reqwest::Method::POST,
            "/api/v1/oauth/token",
            None,
            Some(
                json!({"grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret, "organization": org}),
            ),
        )
        .await;
    reply.expect(StatusCode::OK)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deliveries(app: &TestApp, token: &str, subscription: &str) -> Vec<Value> {
    app.get(
        &format!("/api/v1/subscriptions/{subscription}/deliveries"),
        token,
    )
    .await
    .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls a subscription's delivery log (newest first) until `done` holds, with a deadline.
async fn wait_deliveries(
    app: &TestApp,
    token: &str,
    subscription: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(app, token, subscription).await;
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn record_ids(received: &[crate::webhooks::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json["subject"]["record_id"].as_str().unwrap().to_owned())
        .collect()
}

api_tests! {
    async fn an_installed_apps_subscription_hears_only_its_organization_and_scopes_until_uninstalled(app) {
        // The vendor's organization registers the app (and so has it installed too).
        let (vendor, _, vendor_admin) = app.other_org().await;
        let registered = app.post("/api/v1/clients", &vendor_admin, json!({"name": "Sync ISV", "scopes": APP_SCOPES})).await.expect(StatusCode::CREATED).clone();
        let client_id = registered["client_id"].as_str().unwrap().to_owned();
        let secret = registered["client_secret"].as_str().unwrap().to_owned();
        // Organization A installs it with records:read and events:manage, without directory:read.
        let installed = app.post("/api/v1/installations", &app.admin_token, json!({"client_id": client_id, "scopes": APP_SCOPES})).await.expect(StatusCode::CREATED).clone();
        assert_eq!(installed["registered_here"], false);
        let installation = installed["id"].as_str().unwrap().to_owned();
        let token = access_token(&app, &client_id, &secret, &app.org.id.to_string()).await;
        notes(&app, &app.admin_token).await;
        notes(&app, &vendor_admin).await;

        let receiver = Receiver::start().await;
        let created = app.post("/api/v1/subscriptions", &token, json!({"url": receiver.url, "event_types": ["record.*"]})).await.expect(StatusCode::CREATED).clone();
        let subscription = created["id"].as_str().unwrap().to_owned();
        // A type its scopes do not allow is refused when the subscription is made, alone or among others.
        for types in [json!(["member.*"]), json!(["record.created", "member.created"])] {
            let refused = app.post("/api/v1/subscriptions", &token, json!({"url": receiver.url, "event_types": types})).await;
            let error = refused.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
            assert!(error["message"].as_str().unwrap().contains("directory:read"), "{error}");
        }
        // The app sees its one subscription; the organization sees it as the app's.
        let listed = app.get("/api/v1/subscriptions", &token).await.expect(StatusCode::OK).clone();
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        app.get(&format!("/api/v1/subscriptions/{subscription}"), &app.admin_token).await.expect(StatusCode::OK);

        // A write in the vendor's organization, where the app is installed too, and one in A.
        let vendor_receiver = Receiver::start().await;
        app.post("/api/v1/subscriptions", &vendor_admin, json!({"url": vendor_receiver.url, "event_types": ["record.*"]})).await.expect(StatusCode::CREATED);
        let in_vendor = create_note(&app, &vendor_admin, "vendor's own").await;
        let in_a = create_note(&app, &app.admin_token, "in A").await;
        app.post("/api/v1/members", &app.admin_token, crate::member_body("Not for the app")).await.expect(StatusCode::CREATED);
        assert_eq!(record_ids(&vendor_receiver.wait_for(1).await), [in_vendor.as_str()], "the vendor's write was delivered there");
        let received = receiver.wait_for(1).await;
        assert_eq!(record_ids(&received), [in_a.as_str()]);
        assert_eq!(received[0].json["organization"], app.org.id.to_string());
        // Its log was fanned out past both writes: it holds A's record event alone.
        let log = wait_deliveries(&app, &token, &subscription, "A's event delivered", |l| l.len() == 1 && l[0]["status"] == "delivered").await;
        assert_eq!(log[0]["event_type"], "record.created");
        assert_eq!(record_ids(&receiver.received()), [in_a.as_str()], "nothing of the vendor's organization, no member event");

        // A failed attempt leaves a retry pending; then A uninstalls the app.
        receiver.reply_next(&[(500, None)]);
        let failed = create_note(&app, &app.admin_token, "fails once").await;
        wait_deliveries(&app, &token, &subscription, "the failed attempt", |l| l.len() == 2 && l[0]["attempts"] == 1 && l[0]["status"] == "pending").await;
        assert_eq!(record_ids(&receiver.received()), [in_a.as_str(), failed.as_str()]);
        app.delete(&format!("/api/v1/installations/{installation}"), &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.get("/api/v1/me", &token).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app.get(&format!("/api/v1/subscriptions/{subscription}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");

        // Past the retry's time, and past a later write that the organization's own subscription receives
        // and logs as delivered, the app has been sent nothing more.
        let control = Receiver::start().await;
        let control_sub = app.post("/api/v1/subscriptions", &app.admin_token, json!({"url": control.url, "event_types": ["record.*"]})).await.expect(StatusCode::CREATED).clone();
        let control_sub = control_sub["id"].as_str().unwrap().to_owned();
        app.clock.advance(TimeDelta::minutes(10));
        let later = create_note(&app, &app.admin_token, "after uninstalling").await;
        assert_eq!(record_ids(&control.wait_for(1).await), [later.as_str()]);
        wait_deliveries(&app, &app.admin_token, &control_sub, "the later write delivered", |l| l.len() == 1 && l[0]["status"] == "delivered").await;
        assert_eq!(record_ids(&receiver.received()), [in_a.as_str(), failed.as_str()], "no retry and no new event after uninstalling");
        // The vendor's installation is untouched: the app still gets a token there.
        let vendor_token = access_token(&app, &client_id, &secret, &vendor.id.to_string()).await;
        let me: Reply = app.get("/api/v1/me", &vendor_token).await;
        assert_eq!(me.expect(StatusCode::OK)["organization"]["id"], vendor.id.to_string());
        app
    }
}
