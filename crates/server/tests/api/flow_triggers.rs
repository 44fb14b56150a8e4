//! Webhook and schedule triggers of connection flows over HTTP (issue #18): `POST /api/v1/hooks/{slug}`
//! (secret slug, `Idempotency-Key` kept 24 hours, Standard Webhooks signatures, the 1 MiB limit, `wait`),
//! and schedules in named zones across 2027's DST changes on the test clock (gap's end, first occurrence
//! of a repeated time, missed slots after downtime), with the slots each scheduler tick recorded.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Reply, TestApp, api_tests};

const INBOUND: &str = "/api/v1/apps/intake/tables/inbound/records";
const TICKS: &str = "/api/v1/apps/intake/tables/ticks/records";

fn intake(flows: Value) -> Value {
    json!({
        "format": "tenon.app/v1", "key": "intake", "name": "Intake",
        "tables": [
            {"key": "inbound", "name": "Inbound", "fields": [
                {"key": "customer", "name": "客户", "type": "text"},
                {"key": "source", "name": "来源", "type": "text"}
            ]},
            {"key": "ticks", "name": "Ticks", "fields": [
                {"key": "flow", "name": "Flow", "type": "text"},
                {"key": "day", "name": "Day", "type": "date"},
                {"key": "at", "name": "At", "type": "datetime"}
            ]}
        ],
        "flows": flows
    })
}

fn hook_flow(key: &str, webhook: Value) -> Value {
    json!({
        "key": key, "trigger": {"webhook": webhook},
        "steps": [{"key": "f", "type": "create_record", "table": "inbound",
                   "fields": {"customer": "{trigger.payload.customer}", "source": format!("\"{key}\"")}}]
    })
}

async fn post_hook(app: &TestApp, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut request = app
        .http
        .post(format!("{}{url}", app.base))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    Reply::from(request.send().await.unwrap()).await
}

async fn runs(app: &TestApp, flow: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/flows/{flow}/runs"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (bounded) until every run of `flow` has ended and there are `count`.
async fn settled(app: &TestApp, flow: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let found = runs(app, flow).await;
        if found.len() == count
            && found
                .iter()
                .all(|r| r["status"] == "succeeded" || r["status"] == "failed")
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{flow}: not {count} ended runs: {:?}",
        runs(app, flow).await
    );
}

async fn records(app: &TestApp, path: &str) -> Vec<Value> {
    app.get(&format!("{path}?page_size=1000"), &app.admin_token)
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = tenon_events::signing::secret_key(secret).unwrap();
    tenon_events::signing::signature(&key, id, timestamp, body)
}

/// Sets the clock and waits (bounded) until `flow` has `count` slots recorded.
async fn slots_after(app: &TestApp, at: &str, flow: &str, count: usize) -> Vec<Value> {
    app.clock.set(at.parse::<DateTime<Utc>>().unwrap());
    for _ in 0..100 {
        let slots = app
            .get(&format!("/api/v1/flows/{flow}/slots"), &app.admin_token)
            .await
            .expect(StatusCode::OK)["items"]
            .as_array()
            .unwrap()
            .clone();
        if slots.len() >= count {
            assert_eq!(slots.len(), count, "{flow} at {at}: {slots:?}");
            return slots;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{flow} at {at}: fewer than {count} slots");
}

api_tests! {
    async fn a_webhook_starts_one_run_per_idempotency_key_and_refuses_bad_requests_without_a_run(app) {
        let flows = json!([hook_flow("hook_in", json!({"inputs": [{"key": "customer", "type": "text", "required": true}]}))]);
        let imported = app.post("/api/v1/apps/import", &app.admin_token, intake(flows.clone())).await.expect(StatusCode::CREATED).clone();
        let url = imported["flows"][0]["hook_url"].as_str().expect("the import answers the hook_url").to_owned();
        assert!(url.starts_with("/api/v1/hooks/") && url.len() > "/api/v1/hooks/".len() + 40, "{url}");
        let flow = app.get("/api/v1/flows/hook_in", &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(flow["hook_url"], url.as_str());
        assert!(flow.get("hook_secret").is_none(), "{flow}");
        // No credential: the slug is the secret. A repeat with the same key answers the same run.
        let body = serde_json::to_vec(&json!({"customer": "甲", "order": {"no": "SO-1", "lines": [1, 2]}})).unwrap();
        let key = [("idempotency-key", "k-1".to_owned())];
        let first = post_hook(&app, &url, &key, body.clone()).await.expect(StatusCode::ACCEPTED).clone();
        assert_eq!(first["status"], "queued");
        let again = post_hook(&app, &url, &key, body.clone()).await.expect(StatusCode::ACCEPTED).clone();
        assert_eq!(again["run_id"], first["run_id"]);
        let ended = settled(&app, "hook_in", 1).await;
        assert_eq!(ended[0]["status"], "succeeded", "{ended:?}");
        assert_eq!(ended[0]["trigger"]["type"], "webhook");
        assert_eq!(ended[0]["trigger"]["payload"]["order"]["no"], "SO-1");
        assert_eq!(records(&app, INBOUND).await.len(), 1);
        // Refused, and no run: unknown hook 404, body over 1 MiB 413, not JSON 400, input missing 422.
        post_hook(&app, "/api/v1/hooks/nope", &[], body.clone()).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let big = format!("{{\"customer\": \"{}\"}}", "x".repeat(1024 * 1024));
        post_hook(&app, &url, &[], big.into_bytes()).await.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        post_hook(&app, &url, &[], b"{nope".to_vec()).await.expect_error(StatusCode::BAD_REQUEST, "malformed_json");
        let missing = post_hook(&app, &url, &[], b"{\"order\": 1}".to_vec()).await;
        let error = missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "payload.customer");
        assert_eq!(runs(&app, "hook_in").await.len(), 1);
        // Without a key every request is a run; 24 hours on, the old key starts a new one.
        post_hook(&app, &url, &[], serde_json::to_vec(&json!({"customer": "乙"})).unwrap()).await.expect(StatusCode::ACCEPTED);
        app.clock.advance(chrono::TimeDelta::hours(23));
        let within = post_hook(&app, &url, &key, body.clone()).await.expect(StatusCode::ACCEPTED).clone();
        assert_eq!(within["run_id"], first["run_id"]);
        app.clock.advance(chrono::TimeDelta::hours(2));
        let later = post_hook(&app, &url, &key, body.clone()).await.expect(StatusCode::ACCEPTED).clone();
        assert_ne!(later["run_id"], first["run_id"]);
        settled(&app, "hook_in", 3).await;
        assert_eq!(records(&app, INBOUND).await.len(), 3);
        // `?wait=true` answers the ended run with its steps' outputs.
        let waited = post_hook(&app, &format!("{url}?wait=true"), &[], serde_json::to_vec(&json!({"customer": "丙"})).unwrap()).await
            .expect(StatusCode::OK).clone();
        assert_eq!(waited["status"], "succeeded", "{waited}");
        assert_eq!(waited["output"]["f"]["customer"], "丙");
        // A new version keeps the hook's address.
        let mut changed = flows;
        changed[0]["name"] = json!("入站");
        let reimported = app.post("/api/v1/apps/import", &app.admin_token, intake(changed)).await.expect(StatusCode::OK).clone();
        assert_eq!(reimported["flows"][0]["version"], 2);
        assert_eq!(reimported["flows"][0]["hook_url"], url.as_str());
        // A manual start of a webhook flow is refused; another organization does not see the flow.
        app.post("/api/v1/flows/hook_in/runs", &app.admin_token, json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        let (_, _, other) = app.other_org().await;
        app.get("/api/v1/flows/hook_in", &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn a_signed_webhook_wants_a_standard_webhooks_signature_and_its_secret_is_stored_sealed(app) {
        let flows = json!([hook_flow("signed_in", json!({"signed": true, "inputs": [{"key": "customer", "type": "text"}]}))]);
        app.post("/api/v1/apps/import", &app.admin_token, intake(flows)).await.expect(StatusCode::CREATED);
        let flow = app.get("/api/v1/flows/signed_in", &app.admin_token).await.expect(StatusCode::OK).clone();
        let url = flow["hook_url"].as_str().unwrap().to_owned();
        let secret = flow["hook_secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        // The database keeps it sealed with the secret key, never in clear.
        let flow_id: tenon_model::FlowId = flow["id"].as_str().unwrap().parse().unwrap();
        let stored = app.store.tenant(app.org.id).flow_hook_stored_secret(flow_id).await.unwrap().unwrap();
        assert!(stored.starts_with("sealed:") && !stored.contains(&secret) && !stored.contains(&secret[6..]), "{stored}");
        let body = serde_json::to_vec(&json!({"customer": "签名"})).unwrap();
        let now = app.store.now().timestamp();
        let headers = |id: &str, timestamp: i64, signature: String| {
            vec![("webhook-id", id.to_owned()), ("webhook-timestamp", timestamp.to_string()), ("webhook-signature", signature)]
        };
        // Missing, wrong, stale: 401, and no run.
        post_hook(&app, &url, &[], body.clone()).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let wrong = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", now, &body);
        post_hook(&app, &url, &headers("msg_1", now, wrong), body.clone()).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let stale = now - 600;
        post_hook(&app, &url, &headers("msg_1", stale, sign(&secret, "msg_1", stale, &body)), body.clone()).await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let tampered = serde_json::to_vec(&json!({"customer": "篡改"})).unwrap();
        post_hook(&app, &url, &headers("msg_1", now, sign(&secret, "msg_1", now, &body)), tampered).await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(runs(&app, "signed_in").await.len(), 0);
        // Right: 202; the same webhook-id again (a sender's retry) is the same run.
        let good = headers("msg_1", now, format!("v1,bm9wZQ== {}", sign(&secret, "msg_1", now, &body)));
        let first = post_hook(&app, &url, &good, body.clone()).await.expect(StatusCode::ACCEPTED).clone();
        let retry = post_hook(&app, &url, &good, body.clone()).await.expect(StatusCode::ACCEPTED).clone();
        assert_eq!(first["run_id"], retry["run_id"]);
        settled(&app, "signed_in", 1).await;
        let made = records(&app, INBOUND).await;
        assert_eq!(made.len(), 1);
        assert_eq!(made[0]["fields"]["customer"], "签名");
        app
    }

    async fn schedules_fire_in_their_zone_across_2027s_dst_changes_once_per_slot(app) {
        let tick = |key: &str, cron: &str, zone: &str| json!({
            "key": key, "trigger": {"schedule": {"cron": cron, "zone": zone}},
            "steps": [{"key": "t", "type": "create_record", "table": "ticks",
                       "fields": {"flow": format!("\"{key}\""), "day": "{trigger.date}", "at": "{trigger.scheduled_for}"}}]
        });
        // Bad patterns and zones are refused with their paths.
        let bad = app.post("/api/v1/apps/import", &app.admin_token, intake(json!([tick("bad", "0 9 * *", "Mars/Olympus")]))).await;
        let error = bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["flows[0].trigger.schedule.cron", "flows[0].trigger.schedule.zone"]);
        let flows = json!([tick("berlin", "30 2 * * *", "Europe/Berlin"), tick("shanghai", "0 9 * * *", "Asia/Shanghai")]);
        app.post("/api/v1/apps/import", &app.admin_token, intake(flows)).await.expect(StatusCode::CREATED);
        // Down from 2026-11-25 to 2027-03-27 12:00Z: the latest slot of each is hours old: missed.
        let berlin = slots_after(&app, "2027-03-27T12:00:00Z", "berlin", 1).await;
        assert_eq!((berlin[0]["slot"].as_str(), berlin[0]["status"].as_str()), (Some("2027-03-27T01:30:00Z"), Some("missed")));
        assert!(berlin[0]["skipped"].as_i64().unwrap() > 100, "{berlin:?}");
        let shanghai = slots_after(&app, "2027-03-27T12:00:00Z", "shanghai", 1).await;
        assert_eq!((shanghai[0]["slot"].as_str(), shanghai[0]["status"].as_str()), (Some("2027-03-27T01:00:00Z"), Some("missed")));
        // 28 March: Berlin's 02:30 does not exist; it fires at the gap's end, 03:00 CEST = 01:00Z.
        let berlin = slots_after(&app, "2027-03-28T01:00:30Z", "berlin", 2).await;
        assert_eq!((berlin[0]["slot"].as_str(), berlin[0]["status"].as_str()), (Some("2027-03-28T01:00:00Z"), Some("run")));
        let shanghai = slots_after(&app, "2027-03-28T01:00:30Z", "shanghai", 2).await;
        assert_eq!(shanghai[0]["slot"], "2027-03-28T01:00:00Z");
        // 29 March: 02:30 CEST = 00:30Z; Shanghai's 09:00 is still 01:00Z, not due yet.
        slots_after(&app, "2027-03-29T00:30:10Z", "berlin", 3).await;
        // 31 October: 02:30 happens twice (00:30Z CEST, 01:30Z CET): only the first runs.
        let berlin = slots_after(&app, "2027-10-31T00:30:05Z", "berlin", 4).await;
        assert_eq!((berlin[0]["slot"].as_str(), berlin[0]["status"].as_str()), (Some("2027-10-31T00:30:00Z"), Some("run")));
        // Shanghai's slot of that day, 01:00Z, was 23.5 hours old at 00:30Z: missed. At 01:30:05Z (the
        // repeated 02:30 in Berlin) Shanghai's 09:00 of the 31st runs, and Berlin nothing.
        slots_after(&app, "2027-10-31T00:30:05Z", "shanghai", 3).await;
        slots_after(&app, "2027-10-31T01:30:05Z", "shanghai", 4).await;
        let berlin = app.get("/api/v1/flows/berlin/slots", &app.admin_token).await.expect(StatusCode::OK)["items"].clone();
        assert_eq!(berlin.as_array().unwrap().len(), 4, "{berlin}");
        let berlin = slots_after(&app, "2027-11-01T01:30:05Z", "berlin", 5).await;
        assert_eq!(berlin[0]["slot"], "2027-11-01T01:30:00Z");
        let shanghai = slots_after(&app, "2027-11-01T01:30:05Z", "shanghai", 5).await;
        let statuses: Vec<(&str, &str)> = shanghai.iter().map(|s| (s["slot"].as_str().unwrap(), s["status"].as_str().unwrap())).collect();
        assert_eq!(statuses, [
            ("2027-11-01T01:00:00Z", "run"),
            ("2027-10-31T01:00:00Z", "run"),
            ("2027-10-30T01:00:00Z", "missed"),
            ("2027-03-28T01:00:00Z", "run"),
            ("2027-03-27T01:00:00Z", "missed"),
        ]);
        // One run per `run` slot, each writing its slot and its date in the zone.
        let berlin_runs = settled(&app, "berlin", 4).await;
        assert!(berlin_runs.iter().all(|r| r["status"] == "succeeded"), "{berlin_runs:?}");
        settled(&app, "shanghai", 3).await;
        let mut made: Vec<(String, String, String)> = records(&app, TICKS).await.iter().map(|r| (
            r["fields"]["flow"].as_str().unwrap().to_owned(),
            r["fields"]["day"].as_str().unwrap().to_owned(),
            r["fields"]["at"].as_str().unwrap().to_owned(),
        )).collect();
        made.sort();
        let days: Vec<(&str, &str)> = made.iter().map(|(f, d, _)| (f.as_str(), d.as_str())).collect();
        assert_eq!(days, [
            ("berlin", "2027-03-28"), ("berlin", "2027-03-29"), ("berlin", "2027-10-31"), ("berlin", "2027-11-01"),
            ("shanghai", "2027-03-28"), ("shanghai", "2027-10-31"), ("shanghai", "2027-11-01"),
        ]);
        let at: DateTime<Utc> = made[0].2.parse().unwrap();
        assert_eq!(at, "2027-03-28T01:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let mut fired: Vec<&str> = berlin_runs.iter().map(|r| r["trigger"]["scheduled_for"].as_str().unwrap()).collect();
        fired.sort_unstable();
        assert_eq!(fired, ["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]);
        app
    }

    async fn a_schedule_fills_its_typed_inputs_with_its_payload(app) {
        let daily = |payload: Value| json!([{
            "key": "daily",
            "trigger": {"schedule": {"cron": "* * * * *", "zone": "Asia/Shanghai",
                "inputs": [{"key": "source", "type": "text", "required": true}, {"key": "days", "type": "integer"}],
                "payload": payload}},
            "steps": [{"key": "f", "type": "create_record", "table": "inbound",
                       "fields": {"customer": "{trigger.payload.source} & \"-\" & ({trigger.payload.days} + 1)",
                                  "source": "{trigger.date}"}}]
        }]);
        // A payload that does not fit the inputs is refused with its paths, nothing published.
        let bad = app.post("/api/v1/apps/import", &app.admin_token, intake(daily(json!({"days": "3", "other": 1})))).await;
        let error = bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let mut found: Vec<(&str, &str)> = error["details"].as_array().unwrap().iter()
            .map(|d| (d["field"].as_str().unwrap(), d["code"].as_str().unwrap()))
            .collect();
        found.sort_unstable();
        assert_eq!(found, [
            ("flows[0].trigger.schedule.payload.days", "invalid_value"),
            ("flows[0].trigger.schedule.payload.other", "unknown_field"),
            ("flows[0].trigger.schedule.payload.source", "required"),
        ], "{error}");
        app.get("/api/v1/flows/daily", &app.admin_token).await.expect(StatusCode::NOT_FOUND);
        app.post("/api/v1/apps/import", &app.admin_token, intake(daily(json!({"source": "日报", "days": 2}))))
            .await
            .expect(StatusCode::CREATED);
        // The next minute's slot runs with the payload, typed as a manual run's.
        app.clock.advance(chrono::TimeDelta::seconds(61));
        let ran = settled(&app, "daily", 1).await;
        assert_eq!(ran[0]["status"], "succeeded", "{ran:?}");
        let run = app.get(&format!("/api/v1/flow-runs/{}", ran[0]["id"].as_str().unwrap()), &app.admin_token)
            .await
            .expect(StatusCode::OK)
            .clone();
        assert_eq!(run["trigger"]["payload"], json!({"source": "日报", "days": 2}), "{run}");
        let made = records(&app, INBOUND).await;
        assert_eq!(made.len(), 1, "{made:?}");
        assert_eq!(made[0]["fields"]["customer"], "日报-3");
        assert_eq!(made[0]["fields"]["source"], run["trigger"]["date"]);
        app
    }

    async fn runs_are_replayed_unknown_outcomes_resolved_and_flows_disabled_and_deleted(app) {
        let flow = json!({
            "key": "two", "trigger": {"webhook": {"inputs": [{"key": "customer", "type": "text"}]}},
            "steps": [
                {"key": "f", "type": "create_record", "table": "inbound", "fields": {"customer": "{trigger.payload.customer}"}},
                {"key": "g", "type": "create_record", "table": "ticks", "fields": {"flow": "\"two\""}}
            ]
        });
        let imported = app.post("/api/v1/apps/import", &app.admin_token, intake(json!([flow]))).await.expect(StatusCode::CREATED).clone();
        let url = imported["flows"][0]["hook_url"].as_str().unwrap().to_owned();
        let started = post_hook(&app, &url, &[], serde_json::to_vec(&json!({"customer": "丁"})).unwrap()).await.expect(StatusCode::ACCEPTED).clone();
        let run_id = started["run_id"].as_str().unwrap().to_owned();
        settled(&app, "two", 1).await;
        // Only a step whose outcome is unknown is resolved.
        let resolve = |step: &str| format!("/api/v1/flow-runs/{run_id}/steps/{step}/resolve");
        app.post(&resolve("f"), &app.admin_token, json!({"outcome": "done"})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app.post(&resolve("nope"), &app.admin_token, json!({"outcome": "done"})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let error = app.post(&resolve("f"), &app.admin_token, json!({"outcome": "maybe"})).await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(error["details"][0]["field"], "outcome");
        // An outside step whose answer was lost is `unknown_outcome` (no connector of this version makes
        // one: the journal is put in that state directly), and its run waits for a person.
        let unclear = || async {
            tenon_store::testing::execute(&app.store, "UPDATE flow_steps SET status = 'unknown_outcome' WHERE key = 'f'".to_owned()).await;
            tenon_store::testing::execute(&app.store, "DELETE FROM flow_steps WHERE key = 'g'".to_owned()).await;
            tenon_store::testing::execute(&app.store, "UPDATE flow_runs SET status = 'waiting', finished_at = NULL".to_owned()).await;
        };
        unclear().await;
        // `done`: the step counts as succeeded, the run goes on from the next step.
        let resolved = app.post(&resolve("f"), &app.admin_token, json!({"outcome": "done"})).await.expect(StatusCode::OK).clone();
        assert_eq!(resolved["status"], "queued");
        assert_eq!(resolved["steps"][0]["status"], "succeeded");
        assert_eq!(resolved["steps"][0]["output"]["resolved"], "done");
        settled(&app, "two", 1).await;
        assert_eq!((records(&app, INBOUND).await.len(), records(&app, TICKS).await.len()), (1, 2));
        // `retry`: the step runs again, then the rest.
        unclear().await;
        app.post(&resolve("f"), &app.admin_token, json!({"outcome": "retry"})).await.expect(StatusCode::OK);
        let ended = settled(&app, "two", 1).await;
        assert_eq!(ended[0]["status"], "succeeded");
        assert_eq!((records(&app, INBOUND).await.len(), records(&app, TICKS).await.len()), (2, 3));
        // Replay: a new run with the same trigger data.
        let replayed = app.post(&format!("/api/v1/flow-runs/{run_id}/replay"), &app.admin_token, json!({})).await.expect(StatusCode::CREATED).clone();
        assert_ne!(replayed["id"], run_id.as_str());
        assert_eq!(replayed["trigger"]["replay_of"], run_id.as_str());
        assert_eq!(replayed["trigger"]["payload"]["customer"], "丁");
        settled(&app, "two", 2).await;
        assert_eq!(records(&app, INBOUND).await.len(), 3);
        // Disabled: the hook is 404 and replays are refused; enabled again, it answers.
        let reader = app.token(&["flows:read"]).await;
        app.patch("/api/v1/flows/two", &reader, json!({"enabled": false})).await.expect_error(StatusCode::FORBIDDEN, "insufficient_scope");
        let off = app.patch("/api/v1/flows/two", &app.admin_token, json!({"enabled": false})).await.expect(StatusCode::OK).clone();
        assert_eq!(off["enabled"], false);
        assert_eq!(off["hook_url"], url.as_str());
        post_hook(&app, &url, &[], b"{}".to_vec()).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.post(&format!("/api/v1/flow-runs/{run_id}/replay"), &app.admin_token, json!({})).await.expect_error(StatusCode::CONFLICT, "conflict");
        app.patch("/api/v1/flows/two", &app.admin_token, json!({"enabled": true})).await.expect(StatusCode::OK);
        post_hook(&app, &url, &[], serde_json::to_vec(&json!({"customer": "戊"})).unwrap()).await.expect(StatusCode::ACCEPTED);
        settled(&app, "two", 3).await;
        // Another organization cannot touch it.
        let (_, _, other) = app.other_org().await;
        app.post(&format!("/api/v1/flow-runs/{run_id}/replay"), &other, json!({})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.patch("/api/v1/flows/two", &other, json!({"enabled": false})).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.delete("/api/v1/flows/two", &other).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        // Deleted: with its runs and hook; the records its runs wrote stay.
        app.delete("/api/v1/flows/two", &app.admin_token).await.expect(StatusCode::NO_CONTENT);
        app.get("/api/v1/flows/two", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/flow-runs/{run_id}"), &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        post_hook(&app, &url, &[], b"{}".to_vec()).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(tenon_store::testing::table_rows(&app.store, "flow_runs").await, 0);
        assert_eq!(records(&app, INBOUND).await.len(), 4);
        app
    }
}
