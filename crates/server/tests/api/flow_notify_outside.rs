//! `notify` to people outside the inbox, and the message steps inside a `for_each` (issue #18):
//! `to.phones` go out through the step's `sms` connection and `to.emails` through its `email`
//! connection, one message per phone or address, each journaled before it is sent with the key
//! `<run>:<step>:<delivery>`; a retry resumes at the delivery that failed. In a `for_each`,
//! `collect: per_recipient` sends each phone and address one message listing its items; `sms` and
//! `email` steps send one message per item with the key `<run>:<step>:<item>`, and a retried loop does
//! not send again to the items already sent. Checked against the in-test vendor and SMTP fakes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::flow_messages::{a_run, fake_smtp, fake_vendor, order};
use crate::flow_steps::{ORDERS, crm, details, import, run_in};
use crate::{TestApp, api_tests};

async fn aliyun(app: &TestApp, base: &str) {
    app.post(
        "/api/v1/connections",
        &app.admin_token,
        json!({"key": "aliyun", "name": "阿里云短信", "kind": "aliyun_sms",
               "config": {"base_url": base, "sign_name": "天工"},
               "secrets": {"access_key_id": "LTAI-test-id", "access_key_secret": "aliyun-s3cret"}}),
    )
    .await
    .expect(StatusCode::CREATED);
}

async fn office(app: &TestApp, port: u16) {
    app.post("/api/v1/connections", &app.admin_token,
        json!({"key": "office", "name": "Office mail", "kind": "smtp",
               "config": {"host": "127.0.0.1", "port": port, "tls": "none", "from": "flows@tenon.example"},
               "secrets": {"password": "smtp-s3cret"}}))
        .await.expect(StatusCode::CREATED);
}

/// The query parameters of an Aliyun request the fake saw.
fn query(raw: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str(raw).unwrap()
}

/// A manual flow looping over every order with `inner` as its one step.
fn loop_flow(key: &str, inner: Value) -> Value {
    json!({"key": key, "trigger": {"manual": {}}, "steps": [
        {"key": "f", "type": "find", "table": "orders", "limit": 1000},
        {"key": "each", "type": "for_each", "items": "{steps.f.output.ids}", "table": "orders", "steps": [inner]}
    ]})
}

/// A fake Aliyun that answers OK, each request held until the test releases it while `hold` is set;
/// it counts the phone numbers sent to and signals each arrival.
struct HeldVendor {
    base: String,
    phones: Arc<Mutex<Vec<String>>>,
    hold: Arc<Mutex<Option<Arc<tokio::sync::Notify>>>>,
    arrived: Arc<tokio::sync::Notify>,
}

async fn held_vendor() -> HeldVendor {
    let phones: Arc<Mutex<Vec<String>>> = Arc::default();
    let hold: Arc<Mutex<Option<Arc<tokio::sync::Notify>>>> = Arc::default();
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (seen, held, signal) = (phones.clone(), hold.clone(), arrived.clone());
    let router = axum::Router::new().route(
        "/",
        axum::routing::post(move |axum::extract::RawQuery(raw): axum::extract::RawQuery| {
            let (seen, held, signal) = (seen.clone(), held.clone(), arrived.clone());
            async move {
                seen.lock().unwrap().push(query(&raw.unwrap_or_default())["PhoneNumbers"].clone());
                let wait = held.lock().unwrap().clone();
                signal.notify_one();
                if let Some(wait) = wait {
                    wait.notified().await;
                }
                axum::Json(json!({"Code": "OK", "Message": "OK", "BizId": "b", "RequestId": "req-held"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    HeldVendor {
        base,
        phones,
        hold,
        arrived: signal,
    }
}

async fn start(app: &TestApp, flow: &str) -> String {
    let started = app
        .post(
            &format!("/api/v1/flows/{flow}/runs"),
            &app.admin_token,
            json!({"payload": {}}),
        )
        .await
        .expect(StatusCode::CREATED)
        .clone();
    started["id"].as_str().unwrap().to_owned()
}

/// A notify to two phones whose first text message reached Aliyun without its answer: the worker's lease
/// ran out and the step is `unknown_outcome` at delivery 0. The vendor and the run's id.
async fn first_text_lost(app: &TestApp) -> (HeldVendor, String) {
    let vendor = held_vendor().await;
    aliyun(app, &vendor.base).await;
    import(app, crm(json!([{"key": "tell", "trigger": {"record": "orders", "on": "created"}, "steps": [
        {"key": "n", "type": "notify", "to": {"phones": "\"13800000000,13900000000\""}, "text": "Order {{ trigger.fields.customer }}",
         "sms": {"connection": "aliyun", "template": "SMS_1"}}
    ]}]))).await.expect(StatusCode::CREATED);
    let hold = Arc::new(tokio::sync::Notify::new());
    *vendor.hold.lock().unwrap() = Some(hold.clone());
    let arrived = vendor.arrived.notified();
    order(app, "ACME", "").await;
    tokio::time::timeout(Duration::from_secs(10), arrived)
        .await
        .expect("Aliyun got the first message");
    // The worker waits on Aliyun; its lease runs out and the other worker claims the run.
    app.clock.advance(chrono::TimeDelta::minutes(2));
    let id = crate::flow_steps::runs(app, "tell").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = crate::flow_http::step_in(app, &id, "n", "unknown_outcome").await;
    assert_eq!(unknown["input"]["outside"]["delivery"], 0, "{unknown}");
    *vendor.hold.lock().unwrap() = None;
    hold.notify_waiters();
    (vendor, id)
}

api_tests! {
    async fn notify_sends_each_phone_and_address_one_message_and_a_retry_resumes_at_the_failed_one(app) {
        let (base, vendor) = fake_vendor(true).await;
        let (port, mails) = fake_smtp().await;
        aliyun(&app, &base).await;
        office(&app, port).await;
        import(&app, crm(json!([{"key": "tell", "trigger": {"record": "orders", "on": "created"}, "steps": [
            {"key": "n", "type": "notify", "channel": "inbox",
             "to": {"members": "{trigger.fields.owner}", "phones": "\"13800000000, 13900000000\"",
                    "emails": "{trigger.fields.note}"},
             "title": "New order", "text": "Order {{ trigger.fields.customer }}",
             "sms": {"connection": "aliyun", "template": "SMS_154950909", "param": "order"},
             "email": {"connection": "office"}}
        ]}]))).await.expect(StatusCode::CREATED);
        // The second text message is throttled once: the step waits and resumes at it.
        vendor.lock().unwrap().answers.push_back((200, json!({"Code": "OK", "Message": "OK", "BizId": "b0", "RequestId": "req-0"})));
        vendor.lock().unwrap().answers.push_back((200, json!({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"})));
        app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": "ACME", "owner": [app.owner.id.to_string()],
            "note": "buyer@example.com; boss@example.com"}})).await.expect(StatusCode::CREATED);
        let waiting = a_run(&app, "tell", "waiting").await;
        let step = &waiting["steps"][0];
        assert_eq!(step["status"], "retry_wait", "{waiting}");
        assert!(step["error"]["message"].as_str().unwrap().starts_with("delivery 1 (sms to 13900000000): Aliyun SMS isv.BUSINESS_LIMIT_CONTROL"), "{step}");
        assert_eq!(step["input"]["sent"], 1);
        app.clock.advance(chrono::TimeDelta::seconds(40));
        let run = a_run(&app, "tell", "succeeded").await;
        let id = run["id"].as_str().unwrap();
        let step = &run["steps"][0];
        assert_eq!(step["attempts"], 2);
        // The member's inbox got one message, once.
        let owner_token = member_token(&app, &app.owner.id.to_string()).await;
        let inbox = crate::approval_reminders::inbox(&app, &owner_token).await;
        assert_eq!(inbox.len(), 1, "{inbox:?}");
        assert_eq!(inbox[0]["text"], "Order ACME");
        assert_eq!(step["output"]["notifications"].as_array().unwrap().len(), 1, "{step}");
        let sent: Vec<(&str, &str)> = step["output"]["deliveries"].as_array().unwrap().iter()
            .map(|d| (d["channel"].as_str().unwrap(), d["to"].as_str().unwrap())).collect();
        assert_eq!(sent, [("sms", "13800000000"), ("sms", "13900000000"), ("email", "buyer@example.com"), ("email", "boss@example.com")]);
        // Three requests to Aliyun: the first phone once, the throttled one twice; the text in the template.
        let seen = vendor.lock().unwrap().seen.clone();
        assert!(seen.iter().all(|(ok, _, _)| *ok), "every request was signed");
        let phones: Vec<String> = seen.iter().map(|(_, q, _)| query(q)["PhoneNumbers"].clone()).collect();
        assert_eq!(phones, ["13800000000", "13900000000", "13900000000"]);
        let last = query(&seen[2].1);
        assert_eq!(serde_json::from_str::<Value>(&last["TemplateParam"]).unwrap(), json!({"order": "Order ACME"}));
        assert_eq!(last["TemplateCode"], "SMS_154950909");
        assert_eq!(last["SignName"], "天工");
        assert_eq!(query(&seen[0].1)["OutId"], format!("{id}:n:0"));
        assert_eq!(last["OutId"], format!("{id}:n:1"));
        // One e-mail per address, the title as the subject, each with its delivery's Message-ID.
        let mails = mails.lock().unwrap().clone();
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].to, ["<buyer@example.com>"]);
        assert_eq!(mails[1].to, ["<boss@example.com>"]);
        assert!(mails[0].data.contains("Subject: New order\n") && mails[0].data.contains("Order ACME"), "{}", mails[0].data);
        assert!(mails[1].data.contains(&format!("Message-ID: <{id}.n.3@tenon.flows>")), "{}", mails[1].data);
        assert!(!run.to_string().contains("s3cret"), "no credential in the journal: {run}");
        app
    }

    async fn per_recipient_sends_each_phone_and_address_one_message_listing_its_items(app) {
        let (base, vendor) = fake_vendor(false).await;
        let (port, mails) = fake_smtp().await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "tencent", "name": "腾讯云短信", "kind": "tencent_sms",
                   "config": {"base_url": base, "sign_name": "天工", "sdk_app_id": "1400006666"},
                   "secrets": {"secret_id": "AKID-test", "secret_key": "tencent-s3cret"}}))
            .await.expect(StatusCode::CREATED);
        office(&app, port).await;
        import(&app, crm(json!([loop_flow("digest",
            json!({"key": "tell", "type": "notify", "to": {"phones": "{item.note}", "emails": "{item.customer} & \"@example.com\""},
                   "collect": "per_recipient", "title": "Your orders", "text": "Amount {{ item.fields.amount }}",
                   "sms": {"connection": "tencent", "template": "1234567"}, "email": {"connection": "office"}}))])))
            .await.expect(StatusCode::CREATED);
        for (customer, phone, amount) in [("li", "+8613800000000", "1"), ("zhang", "+8613900000000", "2"), ("li", "+8613800000000", "3")] {
            app.post(ORDERS, &app.admin_token, json!({"fields": {"customer": customer, "note": phone, "amount": amount}}))
                .await.expect(StatusCode::CREATED);
        }
        let id = start(&app, "digest").await;
        let done = run_in(&app, &id, "succeeded").await;
        let each = &done["steps"][1];
        assert_eq!(each["output"]["count"], 3, "{done}");
        assert_eq!(each["output"]["deliveries"].as_array().unwrap().len(), 4, "{each}");
        // One text message per phone, its items a line each (Tencent's one template parameter).
        let seen = vendor.lock().unwrap().seen.clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let mut texts: Vec<(Value, Value)> = seen.iter().map(|(_, _, body)| (body["PhoneNumberSet"].clone(), body["TemplateParamSet"].clone())).collect();
        texts.sort_by_key(|(phones, _)| phones.to_string());
        assert_eq!(texts, [
            (json!(["+8613800000000"]), json!(["Amount 1.00\nAmount 3.00"])),
            (json!(["+8613900000000"]), json!(["Amount 2.00"])),
        ]);
        // One e-mail per address.
        let mails = mails.lock().unwrap().clone();
        let mut to: Vec<String> = mails.iter().map(|m| m.to.join(",")).collect();
        to.sort();
        assert_eq!(to, ["<li@example.com>", "<zhang@example.com>"]);
        let li = mails.iter().find(|m| m.to[0] == "<li@example.com>").unwrap();
        assert!(li.data.contains("Amount 1.00\nAmount 3.00"), "{}", li.data);
        assert!(li.data.contains("Subject: Your orders\n"), "{}", li.data);
        app
    }

    async fn a_text_message_whose_answer_was_lost_is_not_sent_again_and_done_goes_on_at_the_next(app) {
        let (vendor, id) = first_text_lost(&app).await;
        // A person says it arrived: the step goes on at the second phone, the first not sent again.
        app.post(&format!("/api/v1/flow-runs/{id}/steps/n/resolve"), &app.admin_token, json!({"outcome": "done"}))
            .await.expect(StatusCode::OK);
        let done = run_in(&app, &id, "succeeded").await;
        assert_eq!(*vendor.phones.lock().unwrap(), ["13800000000", "13900000000"]);
        let delivered = &done["steps"][0]["output"]["deliveries"];
        assert_eq!(delivered[0]["output"]["resolved"], "done", "{done}");
        assert_eq!(delivered[1]["output"]["request_id"], "req-held", "{done}");
        app
    }

    async fn a_text_message_whose_answer_was_lost_is_sent_again_when_a_person_says_retry(app) {
        let (vendor, id) = first_text_lost(&app).await;
        // A person finds nothing at Aliyun and says retry: that message goes again, then the next.
        app.post(&format!("/api/v1/flow-runs/{id}/steps/n/resolve"), &app.admin_token, json!({"outcome": "retry"}))
            .await.expect(StatusCode::OK);
        let done = run_in(&app, &id, "succeeded").await;
        assert_eq!(*vendor.phones.lock().unwrap(), ["13800000000", "13800000000", "13900000000"]);
        let delivered = &done["steps"][0]["output"]["deliveries"];
        assert_eq!(delivered.as_array().unwrap().len(), 2, "{done}");
        assert_eq!(delivered[0]["output"]["request_id"], "req-held", "{done}");
        assert_eq!(delivered[1]["output"]["request_id"], "req-held", "{done}");
        app
    }

    async fn publish_refuses_outside_recipients_without_a_connection_of_their_kind(app) {
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "erp", "name": "ERP", "kind": "http", "config": {"base_url": "https://erp.example"}}))
            .await.expect(StatusCode::CREATED);
        let notify = |key: &str, extra: Value| {
            let mut step = json!({"key": "n", "type": "notify", "to": {"phones": "\"13800000000\"", "emails": "\"a@example.com\""}, "text": "hi"});
            for (name, value) in extra.as_object().unwrap() {
                step[name] = value.clone();
            }
            json!({"key": key, "trigger": {"manual": {}}, "steps": [step]})
        };
        let bad = json!([
            notify("none", json!({})),
            notify("unknown", json!({"sms": {"connection": "nope", "template": "T"}, "email": {"connection": "erp"}})),
            notify("empty", json!({"sms": {"connection": "erp", "template": ""}, "email": {"connection": ""}})),
            loop_flow("per_item", json!({"key": "n", "type": "notify", "to": {"phones": "{item.note}"}, "text": "hi",
                                          "sms": {"connection": "erp", "template": "T"}})),
        ]);
        let error = import(&app, crm(bad)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        assert_eq!(details(&error), [
            ("flows[0].steps[0].email".to_owned(), "required".to_owned()),
            ("flows[0].steps[0].sms".to_owned(), "required".to_owned()),
            ("flows[1].steps[0].email.connection".to_owned(), "not_allowed".to_owned()),
            ("flows[1].steps[0].sms.connection".to_owned(), "not_found".to_owned()),
            ("flows[2].steps[0].email.connection".to_owned(), "required".to_owned()),
            ("flows[2].steps[0].sms.connection".to_owned(), "not_allowed".to_owned()),
            ("flows[2].steps[0].sms.template".to_owned(), "required".to_owned()),
            ("flows[3].steps[1].steps[0].collect".to_owned(), "required".to_owned()),
            ("flows[3].steps[1].steps[0].sms.connection".to_owned(), "not_allowed".to_owned()),
        ], "{error}");
        app.get("/api/v1/flows/none", &app.admin_token).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        app
    }

    async fn an_sms_step_in_a_for_each_sends_per_item_and_a_retry_does_not_resend_the_items_sent(app) {
        let (base, vendor) = fake_vendor(true).await;
        aliyun(&app, &base).await;
        import(&app, crm(json!([loop_flow("texts",
            json!({"key": "s", "type": "sms", "connection": "aliyun", "phones": "{item.note}", "template": "SMS_1",
                   "params": {"customer": "{item.customer}", "n": "{loop.index}"}}))])))
            .await.expect(StatusCode::CREATED);
        for (customer, phone) in [("甲", "13800000000"), ("乙", "13900000000"), ("丙", "13700000000")] {
            order(&app, customer, phone).await;
        }
        // Item 1's template is refused: the loop fails there, item 0 sent once.
        vendor.lock().unwrap().answers.push_back((200, json!({"Code": "OK", "Message": "OK", "BizId": "b0", "RequestId": "req-0"})));
        vendor.lock().unwrap().answers.push_back((200, json!({"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法"})));
        let id = start(&app, "texts").await;
        let failed = run_in(&app, &id, "failed").await;
        assert!(failed["steps"][1]["error"]["message"].as_str().unwrap().starts_with("item 1, step s: Aliyun SMS isv.SMS_TEMPLATE_ILLEGAL"), "{failed}");
        assert_eq!(vendor.lock().unwrap().seen.len(), 2);
        // The retry resumes at item 1: item 0 is not sent again.
        app.post(&format!("/api/v1/flow-runs/{id}/steps/each/retry"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let done = run_in(&app, &id, "succeeded").await;
        assert_eq!(done["steps"][1]["output"]["count"], 3, "{done}");
        let seen = vendor.lock().unwrap().seen.clone();
        let sent: Vec<(String, String, String)> = seen.iter().map(|(_, q, _)| {
            let q = query(q);
            (q["PhoneNumbers"].clone(), q["TemplateParam"].clone(), q["OutId"].clone())
        }).collect();
        assert_eq!(sent, [
            ("13800000000".to_owned(), r#"{"customer":"甲","n":"0"}"#.to_owned(), format!("{id}:s:0")),
            ("13900000000".to_owned(), r#"{"customer":"乙","n":"1"}"#.to_owned(), format!("{id}:s:1")),
            ("13900000000".to_owned(), r#"{"customer":"乙","n":"1"}"#.to_owned(), format!("{id}:s:1")),
            ("13700000000".to_owned(), r#"{"customer":"丙","n":"2"}"#.to_owned(), format!("{id}:s:2")),
        ]);
        app
    }

    async fn an_email_step_in_a_for_each_sends_per_item_and_a_retry_does_not_resend_the_items_sent(app) {
        let (port, mails) = fake_smtp().await;
        office(&app, port).await;
        import(&app, crm(json!([loop_flow("mails",
            json!({"key": "m", "type": "email", "connection": "office", "to": "{item.note}",
                   "subject": "Order {{ item.fields.customer }}", "text": "Item {{ loop.index }}"}))])))
            .await.expect(StatusCode::CREATED);
        for (customer, address) in [("A", "a@example.com"), ("B", "bounce@example.com"), ("C", "c@example.com")] {
            order(&app, customer, address).await;
        }
        let id = start(&app, "mails").await;
        let failed = run_in(&app, &id, "failed").await;
        assert!(failed["steps"][1]["error"]["message"].as_str().unwrap().contains("item 1, step m:"), "{failed}");
        assert_eq!(mails.lock().unwrap().len(), 1);
        // A retry resumes at the refused item (refused again): item 0's message is not sent twice.
        app.post(&format!("/api/v1/flow-runs/{id}/steps/each/retry"), &app.admin_token, json!({})).await.expect(StatusCode::OK);
        let again = run_in(&app, &id, "failed").await;
        assert_eq!(again["steps"][1]["attempts"], 2, "{again}");
        let got = mails.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, ["<a@example.com>"]);
        assert!(got[0].data.contains("Subject: Order A\n") && got[0].data.contains("Item 0"), "{}", got[0].data);
        assert!(got[0].data.contains(&format!("Message-ID: <{id}.m.0@tenon.flows>")), "{}", got[0].data);
        app
    }
}
