//! The message steps (issue #18) against local fakes of their vendors: `sms` through a fake Aliyun
//! (ACS3-HMAC-SHA256) and a fake Tencent Cloud (TC3-HMAC-SHA256), each checking the request's signature
//! itself and answering success, throttling (the step retries) or a permanent refusal (the step fails);
//! `email` through a fake SMTP server that records the message. No secret reaches a run's journal.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{KeyInit as _, Mac as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use crate::flow_steps::{ORDERS, crm, details, import, only_run, runs};
use crate::{TestApp, api_tests};

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// What a fake vendor received (after checking its signature) and what it answers next.
#[derive(Default)]
pub(crate) struct Vendor {
    pub(crate) answers: VecDeque<(u16, Value)>,
    /// Each request: whether its signature was right, its query and its JSON body.
    pub(crate) seen: Vec<(bool, String, Value)>,
}

pub(crate) type Shared = Arc<Mutex<Vendor>>;

/// Aliyun's check, written from its documentation (not with Tenon's signer): canonical request from
/// what arrived, HMAC-SHA256 with the AccessKey secret.
fn aliyun_signature_ok(headers: &HeaderMap, query: &str, body: &[u8]) -> bool {
    let authorization = header(headers, "authorization");
    let Some(rest) = authorization.strip_prefix("ACS3-HMAC-SHA256 ") else {
        return false;
    };
    let part = |name: &str| {
        rest.split(',')
            .find_map(|p| p.trim().strip_prefix(name))
            .unwrap_or("")
            .to_owned()
    };
    if part("Credential=") != "LTAI-test-id" {
        return false;
    }
    let signed = part("SignedHeaders=");
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort();
    let lines: String = signed
        .split(';')
        .map(|name| format!("{name}:{}\n", header(headers, name).trim()))
        .collect();
    let canonical = format!(
        "POST\n/\n{}\n{lines}\n{signed}\n{}",
        pairs.join("&"),
        sha256_hex(body)
    );
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
    header(headers, "x-acs-content-sha256") == sha256_hex(body)
        && signed.split(';').any(|n| n == "x-acs-signature-nonce")
        && part("Signature=") == hex(&hmac(b"aliyun-s3cret", to_sign.as_bytes()))
}

/// Tencent's check, written from its documentation: the derived key `TC3<secret>` → date → service →
/// `tc3_request`.
fn tencent_signature_ok(headers: &HeaderMap, body: &[u8]) -> bool {
    let authorization = header(headers, "authorization");
    let Some(rest) = authorization.strip_prefix("TC3-HMAC-SHA256 ") else {
        return false;
    };
    let part = |name: &str| {
        rest.split(',')
            .find_map(|p| p.trim().strip_prefix(name))
            .unwrap_or("")
            .to_owned()
    };
    let credential = part("Credential=");
    let mut scope = credential.splitn(2, '/');
    let (id, scope) = (scope.next().unwrap_or(""), scope.next().unwrap_or(""));
    let date = scope.split('/').next().unwrap_or("");
    let timestamp = header(headers, "x-tc-timestamp");
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        header(headers, "content-type"),
        header(headers, "host"),
        sha256_hex(body)
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = hmac(
        &hmac(&hmac(b"TC3tencent-s3cret", date.as_bytes()), b"sms"),
        b"tc3_request",
    );
    id == "AKID-test"
        && scope.ends_with("/sms/tc3_request")
        && header(headers, "x-tc-action") == "SendSms"
        && part("Signature=") == hex(&hmac(&key, to_sign.as_bytes()))
}

/// A fake vendor at `/`: checks the signature (`aliyun` or `tencent`), records the request, answers
/// the next scripted answer (or the vendor's success).
pub(crate) async fn fake_vendor(aliyun: bool) -> (String, Shared) {
    let state: Shared = Arc::default();
    let shared = state.clone();
    let router = axum::Router::new().route(
        "/",
        axum::routing::post(move |axum::extract::RawQuery(query): axum::extract::RawQuery, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            async move {
                let query = query.unwrap_or_default();
                let ok = if aliyun { aliyun_signature_ok(&headers, &query, &body) } else { tencent_signature_ok(&headers, &body) };
                let mut vendor = shared.lock().unwrap();
                vendor.seen.push((ok, query, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                let (status, answer) = if !ok {
                    if aliyun {
                        (400, json!({"Code": "IncompleteSignature", "Message": "signature mismatch"}))
                    } else {
                        (200, json!({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}, "RequestId": "r0"}}))
                    }
                } else {
                    vendor.answers.pop_front().unwrap_or_else(|| {
                        if aliyun {
                            (200, json!({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "req-1"}))
                        } else {
                            (200, json!({"Response": {"SendStatusSet": [{"SerialNo": "2640:1", "PhoneNumber": "+8613800000000",
                                "Fee": 1, "Code": "Ok", "Message": "send success"}], "RequestId": "req-2"}}))
                        }
                    })
                };
                (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, state)
}

fn sms_flow(connection: &str, params: Value) -> Value {
    json!([{"key": "tell", "trigger": {"record": "orders", "on": "created"}, "steps": [
        {"key": "sms", "type": "sms", "connection": connection, "phones": "{trigger.fields.note}",
         "template": "SMS_154950909", "params": params},
        {"key": "save", "type": "update_record", "table": "orders", "record": "{trigger.record_id}",
         "fields": {"customer": "{trigger.fields.customer} & \" \" & {steps.sms.output.request_id}"}}
    ]}])
}

pub(crate) async fn order(app: &TestApp, customer: &str, note: &str) {
    app.post(
        ORDERS,
        &app.admin_token,
        json!({"fields": {"customer": customer, "note": note}}),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// Waits (bounded) for a run of `flow` in `status`, and answers it with its steps.
pub(crate) async fn a_run(app: &TestApp, flow: &str, status: &str) -> Value {
    for _ in 0..300 {
        if let Some(run) = runs(app, flow)
            .await
            .into_iter()
            .find(|r| r["status"] == status)
        {
            return app
                .get(
                    &format!("/api/v1/flow-runs/{}", run["id"].as_str().unwrap()),
                    &app.admin_token,
                )
                .await
                .expect(StatusCode::OK)
                .clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {status} run of {flow}");
}

api_tests! {
    async fn an_sms_through_aliyun_is_signed_retried_when_throttled_and_fails_on_a_refusal(app) {
        let (base, vendor) = fake_vendor(true).await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "aliyun", "name": "阿里云短信", "kind": "aliyun_sms",
                   "config": {"base_url": base, "sign_name": "天工"},
                   "secrets": {"access_key_id": "LTAI-test-id", "access_key_secret": "aliyun-s3cret"}}))
            .await.expect(StatusCode::CREATED);
        import(&app, crm(sms_flow("aliyun", json!({"customer": "{trigger.fields.customer}"})))).await.expect(StatusCode::CREATED);
        vendor.lock().unwrap().answers.push_back((200, json!({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"})));
        order(&app, "甲公司", "13800000000").await;
        let waiting = a_run(&app, "tell", "waiting").await;
        assert_eq!(waiting["steps"][0]["status"], "retry_wait", "{waiting}");
        assert!(waiting["steps"][0]["error"]["message"].as_str().unwrap().contains("isv.BUSINESS_LIMIT_CONTROL"));
        // The first wait is 30 s ±20 %.
        app.clock.advance(chrono::TimeDelta::seconds(40));
        let run = only_run(&app, "tell", "succeeded").await;
        assert_eq!(run["steps"][0]["attempts"], 2);
        assert_eq!(run["steps"][0]["output"]["request_id"], "req-1");
        let text = run.to_string();
        assert!(!text.contains("aliyun-s3cret") && !text.contains("LTAI-test-id"), "no credential in the journal: {text}");
        let seen = vendor.lock().unwrap().seen.clone();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|(ok, _, _)| *ok), "every request carried a valid ACS3 signature");
        let query: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&seen[1].1).unwrap();
        assert_eq!(query["PhoneNumbers"], "13800000000");
        assert_eq!(query["SignName"], "天工");
        assert_eq!(query["TemplateCode"], "SMS_154950909");
        assert_eq!(serde_json::from_str::<Value>(&query["TemplateParam"]).unwrap(), json!({"customer": "甲公司"}));
        assert_eq!(query["OutId"], format!("{}:sms", run["id"].as_str().unwrap()));
        // A template Aliyun refuses: the step fails at once, with Aliyun's code.
        vendor.lock().unwrap().answers.push_back((200, json!({"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法"})));
        order(&app, "乙公司", "13900000000").await;
        let failed = a_run(&app, "tell", "failed").await;
        assert_eq!(failed["steps"][0]["attempts"], 1);
        assert_eq!(failed["steps"][0]["error"]["message"], "Aliyun SMS isv.SMS_TEMPLATE_ILLEGAL: 模板不合法");
        app
    }

    async fn an_sms_through_tencent_carries_a_valid_tc3_signature_and_ordered_params(app) {
        let (base, vendor) = fake_vendor(false).await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "tencent", "name": "腾讯云短信", "kind": "tencent_sms",
                   "config": {"base_url": base, "sign_name": "天工", "sdk_app_id": "1400006666"},
                   "secrets": {"secret_id": "AKID-test", "secret_key": "tencent-s3cret"}}))
            .await.expect(StatusCode::CREATED);
        import(&app, crm(sms_flow("tencent", json!(["{trigger.fields.customer}", "\"3\""])))).await.expect(StatusCode::CREATED);
        vendor.lock().unwrap().answers.push_back((200, json!({"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "too fast"}, "RequestId": "r1"}})));
        order(&app, "丙公司", "+8613800000000").await;
        a_run(&app, "tell", "waiting").await;
        app.clock.advance(chrono::TimeDelta::seconds(40));
        let run = only_run(&app, "tell", "succeeded").await;
        assert_eq!(run["steps"][0]["output"]["request_id"], "req-2");
        assert!(!run.to_string().contains("tencent-s3cret"), "{run}");
        let seen = vendor.lock().unwrap().seen.clone();
        assert!(seen.iter().all(|(ok, _, _)| *ok), "every request carried a valid TC3 signature");
        assert_eq!(seen[1].2["PhoneNumberSet"], json!(["+8613800000000"]));
        assert_eq!(seen[1].2["TemplateParamSet"], json!(["丙公司", "3"]));
        assert_eq!(seen[1].2["SmsSdkAppId"], "1400006666");
        // A key Tencent does not know: the signature fails, and so does the step, at once.
        app.patch("/api/v1/connections/tencent", &app.admin_token, json!({"secrets": {"secret_key": "wrong"}}))
            .await.expect(StatusCode::OK);
        order(&app, "丁公司", "+8613900000000").await;
        let failed = a_run(&app, "tell", "failed").await;
        assert!(failed["steps"][0]["error"]["message"].as_str().unwrap().starts_with("Tencent SMS AuthFailure.SignatureFailure"), "{failed}");
        app
    }

    async fn sms_and_email_steps_name_connections_of_their_kind(app) {
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "erp", "name": "ERP", "kind": "http", "config": {"base_url": "https://erp.example"}}))
            .await.expect(StatusCode::CREATED);
        let bad = app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "sms", "name": "短信", "kind": "tencent_sms", "config": {"sign_name": "天工"}, "secrets": {"secret_id": "x"}}))
            .await;
        assert_eq!(details(&bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone()), vec![
            ("config.sdk_app_id".to_owned(), "required".to_owned()),
            ("secrets.secret_key".to_owned(), "required".to_owned()),
        ]);
        let flows = json!([{"key": "bad", "trigger": {"manual": {}}, "steps": [
            {"key": "s", "type": "sms", "connection": "erp", "phones": "\"138\"", "template": "T", "params": {"a": "{nope}"}},
            {"key": "m", "type": "email", "connection": "mail", "to": "\"a@example.com\"", "subject": "{{ x", "text": "t"}
        ]}]);
        let error = import(&app, crm(flows)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone();
        let found: Vec<String> = details(&error).into_iter().map(|(field, _)| field).collect();
        assert_eq!(found, ["flows[0].steps[0].connection", "flows[0].steps[0].params.a", "flows[0].steps[1].connection", "flows[0].steps[1].subject"], "{error}");
        app
    }
}

/// What the fake SMTP server was told: the login, the envelope and the message's text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Smtp {
    pub(crate) auth: Vec<String>,
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) data: String,
}

/// A fake SMTP server speaking just enough to take messages; a recipient starting with `bounce`
/// is refused for good (550).
pub(crate) async fn fake_smtp() -> (u16, Arc<Mutex<Vec<Smtp>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<Smtp>>> = Arc::default();
    let shared = got.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let shared = shared.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut mail = Smtp::default();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-fake\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("AUTH PLAIN") {
                        mail.auth.push(line[11..].to_owned());
                        b"235 2.7.0 ok\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = line[10..].to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        if line.contains("bounce") {
                            b"550 5.1.1 no such user\r\n"
                        } else {
                            mail.to.push(line[8..].to_owned());
                            b"250 ok\r\n"
                        }
                    } else if upper == "DATA" {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            mail.data.push_str(&line);
                            mail.data.push('\n');
                        }
                        shared.lock().unwrap().push(mail.clone());
                        b"250 2.0.0 queued as 42\r\n"
                    } else if upper == "QUIT" {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

api_tests! {
    async fn an_email_step_sends_the_rendered_message_through_smtp_and_a_refused_recipient_fails_it(app) {
        use base64::Engine as _;
        let (port, got) = fake_smtp().await;
        app.post("/api/v1/connections", &app.admin_token,
            json!({"key": "office", "name": "Office mail", "kind": "smtp",
                   "config": {"host": "127.0.0.1", "port": port, "tls": "none", "from": "flows@tenon.example", "username": "flows"},
                   "secrets": {"password": "smtp-s3cret"}}))
            .await.expect(StatusCode::CREATED);
        import(&app, crm(json!([{"key": "mail", "trigger": {"record": "orders", "on": "created"}, "steps": [
            {"key": "m", "type": "email", "connection": "office", "to": "{trigger.fields.note}", "cc": "\"boss@tenon.example\"",
             "subject": "Order {{ trigger.fields.customer }}", "text": "Customer {{ trigger.fields.customer | upper }} ordered."}
        ]}]))).await.expect(StatusCode::CREATED);
        order(&app, "Acme Ltd", "buyer@example.com").await;
        let run = only_run(&app, "mail", "succeeded").await;
        assert!(run["steps"][0]["output"]["reply"].as_str().unwrap().contains("queued as 42"), "{run}");
        assert_eq!(run["steps"][0]["input"]["to"], json!(["buyer@example.com"]));
        assert!(!run.to_string().contains("smtp-s3cret"), "{run}");
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let login = base64::engine::general_purpose::STANDARD.decode(got[0].auth[0].trim()).unwrap();
        assert_eq!(login, b"\0flows\0smtp-s3cret");
        assert_eq!(got[0].from, "<flows@tenon.example>");
        assert_eq!(got[0].to, ["<buyer@example.com>", "<boss@tenon.example>"]);
        assert!(got[0].data.contains("Subject: Order Acme Ltd\n"), "{}", got[0].data);
        assert!(got[0].data.contains("To: buyer@example.com\n"), "{}", got[0].data);
        assert!(got[0].data.contains("Customer ACME LTD ordered."), "{}", got[0].data);
        assert!(got[0].data.contains(&format!("Message-ID: <{}.m@tenon.flows>", run["id"].as_str().unwrap())), "{}", got[0].data);
        // A recipient the server refuses for good (550): the step fails at once with the reply.
        order(&app, "Bad Co", "bounce@example.com").await;
        let failed = a_run(&app, "mail", "failed").await;
        assert_eq!(failed["steps"][0]["attempts"], 1);
        assert!(failed["steps"][0]["error"]["message"].as_str().unwrap().contains("no such user"), "{failed}");
        app
    }
}
