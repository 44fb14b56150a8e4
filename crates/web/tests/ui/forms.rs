//! The public form page (`/f/{slug}`) as a browser without JavaScript uses it: a plain form post, errors
//! at each field with the values kept, the thank-you page; and the abuse guard — the honeypot, the proof
//! of work, the owner's daily cap, the per-address limit with its "try again" page.

use super::*;

/// A housing app with a table and a public form over three of its fields; answers the form's slug.
async fn housing(ui: &TestUi, extra: Value) -> (String, String) {
    let app = ui
        .api(
            Method::POST,
            "/api/v1/apps",
            Some(json!({"name": "爱心住房", "key": "housing"})),
        )
        .await;
    assert_eq!(app["key"], "housing");
    ui.api(
        Method::POST,
        "/api/v1/apps/housing/tables",
        Some(json!({"name": "申请", "key": "requests", "fields": [
            {"name": "姓名", "key": "guest", "type": "text"},
            {"name": "电话", "key": "phone", "type": "phone"},
            {"name": "晚数", "key": "nights", "type": "number", "options": {"max": 90}},
            {"name": "来源", "key": "source", "type": "text"},
            {"name": "内部备注", "key": "note", "type": "text"}
        ]})),
    )
    .await;
    let mut config = json!({
        "title": "入住申请",
        "fields": [
            {"field": "phone", "required": true, "help": "志愿者用这个号码联系您"},
            {"field": "guest", "label": "入住人姓名"},
            "nights",
            {"field": "source", "hidden": true, "default": "公开表单"}
        ],
        "public": true,
        "success_message": "已收到您的申请。"
    });
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    let view = ui
        .api(
            Method::POST,
            "/api/v1/apps/housing/tables/requests/views",
            Some(json!({"name": "申请表", "type": "form", "config": config})),
        )
        .await;
    let slug = view["public_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    (slug, view["id"].as_str().unwrap().to_owned())
}

async fn post_form(ui: &TestUi, path: &str, pairs: &[(&str, &str)]) -> Page {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let response = ui
        .http
        .post(format!("{}{path}", ui.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    Page {
        status,
        headers,
        text,
    }
}

async fn records(ui: &TestUi) -> Vec<Value> {
    let page = ui
        .api(
            Method::GET,
            "/api/v1/apps/housing/tables/requests/records",
            None,
        )
        .await;
    page["items"].as_array().unwrap().clone()
}

/// The page's proof-of-work challenge, solved as the page's script would.
fn solved(page: &Page) -> String {
    let start = page
        .text
        .find("class=\"pow-challenge\">")
        .expect("a challenge")
        + "class=\"pow-challenge\">".len();
    let end = start + page.text[start..].find("</script>").unwrap();
    let challenge: tenon_server::pow::Challenge =
        serde_json::from_str(&page.text[start..end]).unwrap();
    tenon_server::pow::solve(&challenge).expect("solvable")
}

ui_tests! {
    async fn a_public_form_is_filled_in_without_javascript(ui) {
        let (slug, _) = housing(&ui, json!({})).await;
        let path = format!("/f/{slug}");
        // In the organization's language, with the fields in the form's order, labels and help.
        let page = ui.send(Method::GET, &path, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("<html lang=\"zh-CN\">"));
        assert!(page.header("content-security-policy").unwrap().contains("script-src 'self'"));
        let phone = page.text.find(">电话").expect("the phone field");
        let guest = page.text.find(">入住人姓名").expect("the label override");
        assert!(phone < guest, "the form's order");
        assert!(page.text.contains("志愿者用这个号码联系您"));
        assert!(page.text.contains("aria-required=\"true\""));
        assert!(!page.text.contains("内部备注") && !page.text.contains("公开表单"), "only the form's visible fields");
        assert!(page.text.contains(">提交</button>"), "the default submit label");
        let english = ui.send(Method::GET, &format!("{path}?lang=en"), &[], None).await;
        assert!(english.text.contains("<html lang=\"en\">") && english.text.contains(">Submit</button>"));

        // A missing required field and a bad number: the form again, the values kept, a message at each.
        let refused = post_form(&ui, &path, &[("guest", "王芳"), ("nights", "百"), ("altcha", "")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert!(refused.text.contains("value=\"王芳\""), "the typed value is kept");
        assert!(refused.text.contains("value=\"百\""));
        assert_eq!(refused.text.matches("class=\"field-error\"").count(), 2, "{}", refused.text);
        assert!(refused.text.contains("请修改标出的项目后再提交"));
        assert!(records(&ui).await.is_empty(), "nothing written");

        // Filled in right: the thank-you, one record with the hidden field's default.
        let done = post_form(&ui, &path, &[("guest", "王芳"), ("phone", "13800000000"), ("nights", "3")]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert!(done.text.contains("已收到您的申请。"));
        let written = records(&ui).await;
        assert_eq!(written.len(), 1);
        assert_eq!(written[0]["fields"]["guest"], "王芳");
        assert_eq!(written[0]["fields"]["source"], "公开表单");

        // The honeypot: looks like success, writes nothing.
        let bot = post_form(&ui, &path, &[("guest", "bot"), ("phone", "13800000001"), ("website", "http://spam.example")]).await;
        assert_eq!(bot.status, StatusCode::OK);
        assert!(bot.text.contains("已收到您的申请。"));
        assert_eq!(records(&ui).await.len(), 1);
        ui
    }

    async fn the_proof_of_work_and_the_daily_cap_refuse_and_write_nothing(ui) {
        let (slug, _) = housing(&ui, json!({"daily_limit": 1})).await;
        let path = format!("/f/{slug}?lang=en");
        let page = ui.send(Method::GET, &path, &[], None).await;
        // A wrong proof: refused, said why, nothing written.
        let forged = post_form(&ui, &path, &[("phone", "13800000000"), ("altcha", "eyJhbGdvcml0aG0iOiJTSEEtMjU2In0=")]).await;
        assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(forged.text.contains("check did not pass, so nothing was saved"), "{}", forged.text);
        assert!(forged.text.contains("value=\"13800000000\""));
        assert!(records(&ui).await.is_empty());
        // A solved one passes, once.
        let proof = solved(&page);
        let done = post_form(&ui, &path, &[("phone", "13800000000"), ("altcha", &proof)]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let replayed = post_form(&ui, &path, &[("phone", "13800000002"), ("altcha", &proof)]).await;
        assert_eq!(replayed.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Over the owner's daily cap: refused with the reason, nothing written.
        let fresh = ui.send(Method::GET, &path, &[], None).await;
        let over = post_form(&ui, &path, &[("phone", "13800000003"), ("altcha", &solved(&fresh))]).await;
        assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS, "{}", over.text);
        assert!(over.text.contains("takes 1 submissions a day and is full today"), "{}", over.text);
        assert_eq!(records(&ui).await.len(), 1);
        // The JSON API meets the same cap.
        let api = ui
            .send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"phone": "13800000004"}})))
            .await;
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS, "{}", api.text);
        assert_eq!(api.json()["error"]["details"][0]["code"], "limit_reached");
        assert_eq!(records(&ui).await.len(), 1);
        ui
    }

    async fn a_visitor_over_the_rate_limit_gets_a_page_saying_when_to_try_again(ui) {
        let (slug, _) = housing(&ui, json!({})).await;
        let path = format!("/f/{slug}");
        let mut limited = None;
        // Without a proof (JavaScript off) the stricter limit applies: a burst of 5.
        for i in 0..12 {
            let phone = format!("1380000{i:04}");
            let reply = post_form(&ui, &path, &[("phone", &phone)]).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                // The form stays, with what was typed, to be sent again later.
                assert!(reply.text.contains(&format!("value=\"{phone}\"")), "{}", reply.text);
                limited = Some((i, reply));
                break;
            }
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        }
        let (taken, page) = limited.expect("the visitor is limited");
        assert!(taken >= 5, "a burst of 5 is taken, got {taken}");
        assert!(page.text.contains("<html lang=\"zh-CN\">"));
        assert!(page.text.contains("您的提交太频繁了。本次未保存，请"), "{}", page.text);
        assert_eq!(records(&ui).await.len(), taken);
        ui
    }

    async fn a_form_field_entry_with_an_unknown_key_is_refused(ui) {
        housing(&ui, json!({})).await;
        let authorization = format!("Bearer {}", ui.admin_token);
        let reply = ui
            .send(
                Method::POST,
                "/api/v1/apps/housing/tables/requests/views",
                &[("authorization", &authorization)],
                Some(json!({"name": "Broken", "type": "form", "config": {"fields": [
                    {"field": "guest", "help": "轮椅、婴儿床等特殊需要 Wheelchair access", "a cot or other needs": null}
                ]}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        assert_eq!(reply.json()["error"]["details"][0]["field"], "config.fields[0].a cot or other needs");
        assert_eq!(reply.json()["error"]["details"][0]["code"], "unknown_option");
        ui
    }

    async fn a_members_only_form_asks_to_log_in_and_records_who_submitted(ui) {
        let (slug, _) = housing(&ui, json!({"members_only": true})).await;
        let path = format!("/f/{slug}");
        let anonymous = ui.send(Method::GET, &path, &[], None).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        assert_eq!(anonymous.header("location"), Some(format!("/login?next=%2Ff%2F{slug}").as_str()));
        // Not open to the anonymous JSON API either.
        let api = ui.send(Method::GET, &format!("/api/v1/forms/{slug}"), &[], None).await;
        assert_eq!(api.status, StatusCode::NOT_FOUND);

        let cookie = ui.log_in().await;
        let page = ui.send(Method::GET, &path, &[("cookie", &cookie)], None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("phone", "13800000009"), ("guest", "张三")])
            .finish();
        let posted = ui
            .http
            .post(format!("{}{path}", ui.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie)
            .header("origin", ui.base.as_str())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::OK);
        let written = records(&ui).await;
        assert_eq!(written.len(), 1);
        let id = written[0]["id"].as_str().unwrap();
        let history = ui
            .api(Method::GET, &format!("/api/v1/apps/housing/tables/requests/records/{id}/history"), None)
            .await;
        assert!(history.to_string().contains("王老师") && history.to_string().contains("member"), "{history}");
        // A cross-site post with the member's cookie writes nothing.
        let forged = ui
            .http
            .post(format!("{}{path}", ui.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .body(body)
            .send()
            .await
            .unwrap();
        // (The session is refused for the cross-site write, so the page asks to log in.)
        assert_ne!(forged.status(), StatusCode::OK);
        assert_eq!(records(&ui).await.len(), 1);
        ui
    }
}
