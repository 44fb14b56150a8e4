//! The memory of voucher pushes (issue #18): a voucher pushed once over a connection is never posted
//! again — a replay answers the remembered number without calling Kingdee or U8 (`already_pushed`), two
//! runs pushing one voucher at once make one call (the second waits for the first), an unclear U8 push
//! holds the voucher until a person resolves it (`done` remembers it, `retry` lets it be sent again),
//! and one organization's memory is its own. Also: a U8 connection refused is retried while a U8 that
//! took the request and hangs is an unknown outcome; a 429's `Retry-After` (seconds or an HTTP date) is
//! waited out by both voucher steps.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tenon_store::Clock;

use crate::flow_http::{step_at, step_in};
use crate::flow_steps::run_in;
use crate::flow_vouchers::{
    import, kingdee, kingdee_step, newest_in, note_of, paid_order, push_runs, shop, step, u8,
};
use crate::vendor_fakes::Script;
use crate::{TestApp, api_tests};

fn u8_step(extra: Value) -> Value {
    let mut step = json!({"key": "k", "type": "yonyou_voucher", "connection": "u8",
                          "voucher": "{steps.sync.output.voucher_id}"});
    for (k, v) in extra.as_object().unwrap() {
        step[k] = v.clone();
    }
    step
}

/// Replays run `id`: the new run's id.
async fn replay(app: &TestApp, id: &str) -> String {
    app.post(
        &format!("/api/v1/flow-runs/{id}/replay"),
        &app.admin_token,
        json!({}),
    )
    .await
    .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Seconds from the test clock's now to the run's `next_at`.
async fn wait_of(app: &TestApp, run: &str) -> i64 {
    let run = run_in(app, run, "waiting").await;
    let next: chrono::DateTime<chrono::Utc> = run["next_at"].as_str().unwrap().parse().unwrap();
    (next - app.clock.now()).num_seconds()
}

api_tests! {
    async fn a_replayed_voucher_push_answers_the_remembered_number_without_calling_the_vendor(app) {
        let kd = kingdee(&app).await;
        let u = u8(&app).await;
        let mut file = shop(kingdee_step(json!({})));
        // The same voucher goes to Kingdee and then to U8.
        file["flows"][0]["steps"].as_array_mut().unwrap().insert(2, u8_step(json!({"key": "u"})));
        import(&app, file).await.expect(StatusCode::CREATED);
        let order = paid_order(&app, "甲公司", "113.00").await;
        let first = newest_in(&app, 1, "succeeded").await;
        assert_eq!(step(&first, "k")["output"]["already_pushed"], false, "{first}");
        assert_eq!(step(&first, "u")["output"]["already_pushed"], false, "{first}");
        let (kd_calls, u8_posts) = (kd.calls(), u.posts());
        assert_eq!((kd.saves(), u8_posts), (1, 1));
        // A replay runs the flow again on the same order: the sync finds the same voucher, and neither
        // vendor hears of it again.
        let replayed = replay(&app, first["id"].as_str().unwrap()).await;
        let again = run_in(&app, &replayed, "succeeded").await;
        assert_eq!(step(&again, "sync")["output"]["voucher_id"], step(&first, "sync")["output"]["voucher_id"]);
        let k = &step(&again, "k")["output"];
        assert_eq!(k["already_pushed"], true, "{again}");
        assert_eq!(k["number"], step(&first, "k")["output"]["number"]);
        assert_eq!(k["pushed_by_run"], first["id"]);
        let u8_output = &step(&again, "u")["output"];
        assert_eq!(u8_output["already_pushed"], true, "{again}");
        assert_eq!(u8_output["number"], "记-0001");
        assert_eq!(kd.calls(), kd_calls, "no login, query or save for a remembered push");
        assert_eq!(u.posts(), u8_posts, "U8 was not called again");
        assert_eq!(note_of(&app, &order).await, "1");
        app
    }

    async fn two_runs_pushing_one_voucher_at_once_make_one_call(app) {
        let u = u8(&app).await;
        let hold = Arc::new(tokio::sync::Notify::new());
        u.script([Script::Hold(hold.clone())]);
        import(&app, shop(u8_step(json!({"timeout": "30s"})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        for _ in 0..300 {
            if u.posts() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(u.posts(), 1, "U8 took the document and holds its answer");
        let first = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        // A second run for the same voucher while the first push is under way: it waits, sends nothing.
        let second = replay(&app, &first).await;
        let waiting = step_in(&app, &second, "k", "retry_wait").await;
        let message = waiting["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("being pushed by run {first}")), "{waiting}");
        assert_eq!(u.posts(), 1);
        hold.notify_one();
        let done = run_in(&app, &first, "succeeded").await;
        assert_eq!(step(&done, "k")["output"]["number"], "记-0001");
        app.clock.advance(TimeDelta::seconds(40));
        let after = run_in(&app, &second, "succeeded").await;
        assert_eq!(step(&after, "k")["output"]["already_pushed"], true, "{after}");
        assert_eq!(step(&after, "k")["output"]["number"], "记-0001");
        assert_eq!(step(&after, "k")["attempts"], 2);
        assert_eq!(u.posts(), 1, "one call to U8 for one voucher");
        app
    }

    async fn an_unclear_u8_push_holds_the_voucher_until_a_person_resolves_it(app) {
        let u = u8(&app).await;
        u.script([Script::Drop]);
        import(&app, shop(u8_step(json!({})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        let first = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        step_in(&app, &first, "k", "unknown_outcome").await;
        // Another run for the voucher waits for the person: U8 may have it.
        let second = replay(&app, &first).await;
        let waiting = step_in(&app, &second, "k", "retry_wait").await;
        assert!(waiting["error"]["message"].as_str().unwrap().contains("outcome is unknown"), "{waiting}");
        assert_eq!(u.posts(), 1);
        // The person finds nothing in U8 and says retry: the first run sends it again, once.
        app.post(&format!("/api/v1/flow-runs/{first}/steps/k/resolve"), &app.admin_token,
            json!({"outcome": "retry"})).await.expect(StatusCode::OK);
        let done = run_in(&app, &first, "succeeded").await;
        assert_eq!(step(&done, "k")["output"]["already_pushed"], false);
        assert_eq!(u.posts(), 2);
        app.clock.advance(TimeDelta::seconds(40));
        let after = run_in(&app, &second, "succeeded").await;
        assert_eq!(step(&after, "k")["output"]["already_pushed"], true, "{after}");
        assert_eq!(step(&after, "k")["output"]["number"], step(&done, "k")["output"]["number"]);
        assert_eq!(u.posts(), 2, "the waiting run sent nothing");
        // Next voucher: unclear again, and this time the person finds it in U8 (`done`): remembered,
        // with no number Tenon could know.
        u.script([Script::Drop]);
        paid_order(&app, "乙公司", "226.00").await;
        let third = push_runs(&app, 3).await[0]["id"].as_str().unwrap().to_owned();
        step_in(&app, &third, "k", "unknown_outcome").await;
        app.post(&format!("/api/v1/flow-runs/{third}/steps/k/resolve"), &app.admin_token,
            json!({"outcome": "done"})).await.expect(StatusCode::OK);
        run_in(&app, &third, "succeeded").await;
        let fourth = replay(&app, &third).await;
        let remembered = run_in(&app, &fourth, "succeeded").await;
        let output = &step(&remembered, "k")["output"];
        assert_eq!(output["already_pushed"], true, "{remembered}");
        assert_eq!(output["resolved"], "done");
        assert_eq!(output["number"], Value::Null);
        assert_eq!(u.posts(), 3);
        app
    }

    async fn one_organizations_pushes_are_its_own(app) {
        let kd = kingdee(&app).await;
        import(&app, shop(kingdee_step(json!({})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        let first = newest_in(&app, 1, "succeeded").await;
        let run_id = first["id"].as_str().unwrap();
        let (_, _, other) = app.other_org().await;
        // The other organization cannot replay or resolve this organization's run.
        app.post(&format!("/api/v1/flow-runs/{run_id}/replay"), &other, json!({}))
            .await.expect(StatusCode::NOT_FOUND);
        app.post(&format!("/api/v1/flow-runs/{run_id}/steps/k/resolve"), &other,
            json!({"outcome": "done"})).await.expect(StatusCode::NOT_FOUND);
        // Its own connection of the same key, to the same Kingdee, and its own order: pushed for real.
        app.post("/api/v1/connections", &other,
            json!({"key": "kd", "name": "金蝶", "kind": "kingdee",
                   "config": {"base_url": kd.base, "acct_id": "A1", "username": "api"},
                   "secrets": {"password": "k-pass"}}))
            .await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/import", &other, shop(kingdee_step(json!({})))).await.expect(StatusCode::CREATED);
        app.post("/api/v1/apps/shop/tables/orders/records", &other,
            json!({"fields": {"customer": "丙公司", "status": "已收款", "amount": "339.00", "on": "2026-11-20"}}))
            .await.expect(StatusCode::CREATED);
        let mut pushed = None;
        for _ in 0..300 {
            let runs = app.get("/api/v1/flows/push/runs", &other).await.expect(StatusCode::OK)["items"].clone();
            if runs[0]["status"] == "succeeded" {
                pushed = Some(runs[0]["id"].as_str().unwrap().to_owned());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pushed = pushed.expect("the other organization's run succeeds");
        let run = app.get(&format!("/api/v1/flow-runs/{pushed}"), &other).await.expect(StatusCode::OK).clone();
        assert_eq!(step(&run, "k")["output"]["already_pushed"], false, "{run}");
        assert_eq!(kd.vouchers().len(), 2, "one voucher per organization");
        // And this organization's replay still answers from its own memory.
        let calls = kd.calls();
        let replayed = replay(&app, run_id).await;
        let again = run_in(&app, &replayed, "succeeded").await;
        assert_eq!(step(&again, "k")["output"]["already_pushed"], true);
        assert_eq!(kd.calls(), calls);
        app
    }

    async fn a_refused_u8_connection_is_retried_and_a_hanging_one_is_an_unknown_outcome(app) {
        // A port nobody listens on: the connection is refused before any byte is sent.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "u8", "name": "用友 U8", "kind": "yonyou_u8",
                   "config": {"base_url": format!("http://{address}")}}))
            .await.expect(StatusCode::CREATED);
        import(&app, shop(u8_step(json!({"timeout": "1s"})))).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        let run = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        let refused = step_in(&app, &run, "k", "retry_wait").await;
        assert_eq!(refused["error"]["kind"], "connect", "{refused}");
        // A U8 that accepts the connection and never answers: the document may be in.
        let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = hanging.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((socket, _)) = hanging.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                kept.push(socket);
            }
        });
        app.patch("/api/v1/connections/u8", &app.admin_token,
            json!({"config": {"base_url": format!("http://{port}")}}))
            .await.expect(StatusCode::OK);
        app.clock.advance(TimeDelta::seconds(40));
        let unknown = step_at(&app, &run, "k", "unknown_outcome", Some(2)).await;
        assert!(unknown["error"]["message"].as_str().unwrap().contains("did not answer"), "{unknown}");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        app
    }

    async fn a_429_retry_after_is_waited_out_by_kingdee_and_u8(app) {
        let kd = kingdee(&app).await;
        let u = u8(&app).await;
        kd.script([Script::Limit("7200".to_owned())]);
        // U8 is asked after Kingdee's wait (7,201 s on): three hours after that.
        let date = (app.clock.now() + TimeDelta::seconds(7201) + TimeDelta::hours(3)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        u.script([Script::Limit(date)]);
        let mut file = shop(kingdee_step(json!({})));
        file["flows"][0]["steps"].as_array_mut().unwrap().insert(2, u8_step(json!({"key": "u"})));
        import(&app, file).await.expect(StatusCode::CREATED);
        paid_order(&app, "甲公司", "113.00").await;
        let run = push_runs(&app, 1).await[0]["id"].as_str().unwrap().to_owned();
        let limited = step_in(&app, &run, "k", "retry_wait").await;
        assert!(limited["error"]["message"].as_str().unwrap().contains("HTTP 429"), "{limited}");
        let wait = wait_of(&app, &run).await;
        assert!((7200..=7201).contains(&wait), "Kingdee's 2 h, not the 30 s backoff: {wait}");
        app.clock.advance(TimeDelta::seconds(7201));
        step_in(&app, &run, "u", "retry_wait").await;
        assert_eq!(step(&run_in(&app, &run, "waiting").await, "k")["status"], "succeeded");
        let wait = wait_of(&app, &run).await;
        assert!((3 * 3600 - 1..=3 * 3600).contains(&wait), "U8's date, three hours on: {wait}");
        app.clock.advance(TimeDelta::hours(3));
        let done = run_in(&app, &run, "succeeded").await;
        assert_eq!(step(&done, "u")["attempts"], 2);
        assert_eq!((kd.saves(), u.posts()), (2, 2));
        app
    }
}
