//! The page of a signed record link (`/s/{token}`) as a browser without JavaScript uses it: the chosen
//! fields only, read-only or in a plain form; refused values come back with what was typed; a saved
//! edit reaches the record; a revoked link is a 410 page saying so, in the visitor's language. And the
//! members' side on the table page: the record detail's share tab, a grid view's publish dialog with its
//! link and QR code, and the QR code of a new link (`POST /qr.svg`), which draws only this site's links.

use super::*;

/// A stay with its record; answers the record's id.
async fn stay(ui: &TestUi) -> String {
    ui.api(
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "爱心住房", "key": "housing"})),
    )
    .await;
    ui.api(
        Method::POST,
        "/api/v1/apps/housing/tables",
        Some(json!({"name": "入住", "key": "stays", "fields": [
            {"name": "姓名", "key": "guest", "type": "text"},
            {"name": "晚数", "key": "nights", "type": "number", "options": {"max": 90}},
            {"name": "满意度", "key": "rating", "type": "single_select", "options": {"choices": [{"name": "满意"}, {"name": "一般"}]}},
            {"name": "身份证号", "key": "id_number", "type": "text"}
        ]})),
    )
    .await;
    let record = ui
        .api(
            Method::POST,
            "/api/v1/apps/housing/tables/stays/records",
            Some(json!({"fields": {"guest": "王家", "nights": 3, "id_number": "110101"}})),
        )
        .await;
    record["id"].as_str().unwrap().to_owned()
}

async fn make_link(ui: &TestUi, record: &str, body: Value) -> Value {
    ui.api(
        Method::POST,
        &format!("/api/v1/apps/housing/tables/stays/records/{record}/share"),
        Some(body),
    )
    .await
}

async fn post_page(ui: &TestUi, path: &str, pairs: &[(&str, &str)]) -> Page {
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

ui_tests! {
    async fn a_read_link_page_shows_only_the_chosen_fields(ui) {
        let record = stay(&ui).await;
        let link = make_link(&ui, &record, json!({"fields": ["guest", "nights"], "mode": "read"})).await;
        let token = link["token"].as_str().unwrap();
        let page = ui.send(Method::GET, &format!("/s/{token}"), &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("<html lang=\"zh-CN\">"), "the organization's language");
        assert!(page.text.contains("王家") && page.text.contains(">3<"), "{}", page.text);
        assert!(!page.text.contains("110101") && !page.text.contains("身份证号"), "a field the link does not show");
        assert!(!page.text.contains("<form"), "a read link has no form");
        // The token in the address never goes to another site as a referrer.
        assert_eq!(page.header("referrer-policy"), Some("same-origin"));
        assert!(page.text.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
        let english = ui.send(Method::GET, &format!("/s/{token}?lang=en"), &[], None).await;
        assert!(english.text.contains("<html lang=\"en\">") && english.text.contains("This link works until"));
        // Who shared it: here an organization token, so the organization.
        assert!(page.text.contains("测试学校与你分享了这条记录。"), "{}", page.text);
        assert!(english.text.contains("测试学校 shared this record with you."), "{}", english.text);
        ui
    }

    async fn an_edit_link_page_saves_and_keeps_refused_values(ui) {
        let record = stay(&ui).await;
        let link = make_link(&ui, &record, json!({"fields": ["guest", "nights", "rating"], "mode": "edit"})).await;
        let token = link["token"].as_str().unwrap();
        let path = format!("/s/{token}");
        let page = ui.send(Method::GET, &path, &[], None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.contains("<form") && page.text.contains("name=\"nights\"") && page.text.contains("value=\"王家\""), "{}", page.text);
        // Too many nights: the form comes back with what was typed and the message at the field.
        let refused = post_page(&ui, &format!("{path}?lang=en"), &[("guest", "王家人"), ("nights", "120"), ("rating", "满意")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert!(refused.text.contains("value=\"王家人\"") && refused.text.contains("value=\"120\""), "{}", refused.text);
        assert!(refused.text.contains("class=\"field-error\""), "{}", refused.text);
        let stored = ui.api(Method::GET, &format!("/api/v1/apps/housing/tables/stays/records/{record}"), None).await;
        assert_eq!(stored["fields"]["guest"], "王家", "nothing was written");
        let saved = post_page(&ui, &path, &[("guest", "王家人"), ("nights", "4"), ("rating", "满意")]).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        assert!(saved.text.contains("已保存"), "{}", saved.text);
        let stored = ui.api(Method::GET, &format!("/api/v1/apps/housing/tables/stays/records/{record}"), None).await;
        assert_eq!(stored["fields"]["guest"], "王家人");
        assert_eq!(stored["fields"]["nights"], 4);
        assert_eq!(stored["fields"]["rating"], "满意");
        assert_eq!(stored["fields"]["id_number"], "110101");

        // Revoked: a 410 page in the visitor's language, for the page and for a post.
        let id = link["id"].as_str().unwrap();
        ui.api(Method::DELETE, &format!("/api/v1/apps/housing/tables/stays/records/{record}/shares/{id}"), None).await;
        let gone = ui.send(Method::GET, &path, &[], None).await;
        assert_eq!(gone.status, StatusCode::GONE);
        assert!(gone.text.contains("分享者已收回此链接"), "{}", gone.text);
        let gone = post_page(&ui, &format!("{path}?lang=en"), &[("guest", "x")]).await;
        assert_eq!(gone.status, StatusCode::GONE);
        assert!(gone.text.contains("withdrawn"), "{}", gone.text);
        let unknown = ui.send(Method::GET, "/s/tnl_nothing", &[], None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        ui
    }

    async fn a_lookup_page_finds_the_visitors_own_record_only(ui) {
        let record = stay(&ui).await;
        ui.api(Method::POST, "/api/v1/apps/housing/tables/stays/fields", Some(json!({"name": "电话", "key": "phone", "type": "phone"}))).await;
        ui.api(Method::PATCH, &format!("/api/v1/apps/housing/tables/stays/records/{record}"), Some(json!({"fields": {"phone": "138 0000 5678"}}))).await;
        ui.api(Method::PUT, "/api/v1/apps/housing/permissions", Some(json!({"roles": [
            {"key": "guests", "name": "住客", "grants": [{"table": "stays", "actions": {"read": true}, "fields": {"hidden": ["id_number"]}}]}
        ]}))).await;
        let view = ui
            .api(Method::POST, "/api/v1/apps/housing/tables/stays/views", Some(json!({"name": "查询入住", "type": "grid",
                "config": {"fields": ["guest", "nights", "id_number"], "public": {"enabled": true, "as_role": "guests", "lookup": {"number": "nights", "phone": "phone"}}}})))
            .await;
        let slug = view["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let path = format!("/v/{slug}");
        let page = ui.send(Method::GET, &path, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("name=\"phone_last4\"") && !page.text.contains("王家"), "a form, no rows: {}", page.text);
        let miss = post_page(&ui, &path, &[("number", "3"), ("phone_last4", "0000")]).await;
        assert_eq!(miss.status, StatusCode::NOT_FOUND);
        assert!(miss.text.contains("没有与此编号和号码后四位相符的记录") && !miss.text.contains("王家"), "{}", miss.text);
        let hit = post_page(&ui, &path, &[("number", "3"), ("phone_last4", "5678")]).await;
        assert_eq!(hit.status, StatusCode::OK, "{}", hit.text);
        assert!(hit.text.contains("王家") && !hit.text.contains("110101"), "the role hides the ID number: {}", hit.text);
        ui
    }

    async fn the_table_page_offers_sharing_and_publishing_and_draws_only_our_links_as_qr_codes(ui) {
        let record = stay(&ui).await;
        let cookie = ui.log_in().await;
        let view = ui
            .api(Method::POST, "/api/v1/apps/housing/tables/stays/views", Some(json!({"name": "全部", "type": "grid"})))
            .await;
        let id = view["id"].as_str().unwrap();
        let path = format!("/apps/housing/tables/stays?view={id}");
        let page = ui.page(&path, &cookie, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("id=\"record-tab-share\"") && page.text.contains("生成链接"), "the share tab");
        assert!(page.text.contains("data-open=\"publish-view-dialog\""), "the publish button");
        assert!(!page.text.contains("id=\"view-publish-link\""), "no link while unpublished");
        // Published as no role: the dialog shows the page's link and its QR code.
        ui.api(Method::PATCH, &format!("/api/v1/apps/housing/tables/stays/views/{id}"), Some(json!({"name": "全部", "type": "grid", "config": {"public": {"enabled": true}}}))).await;
        let page = ui.page(&path, &cookie, "en").await;
        let link = page.text.split("id=\"view-publish-link\" readonly value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_else(|| panic!("{}", page.text)).replace("&#x2f;", "/");
        assert!(link.contains("/v/"), "{link}");
        let qr = ui.send(Method::GET, &format!("/apps/housing/tables/stays/views/{id}/qr.svg"), &[("cookie", &cookie)], None).await;
        assert_eq!(qr.status, StatusCode::OK);
        assert!(qr.text.starts_with("<?xml") || qr.text.contains("<svg"), "{}", qr.text);
        let slug = link.rsplit("/v/").next().unwrap();
        let public = ui.send(Method::GET, &format!("/v/{slug}"), &[], None).await;
        assert_eq!(public.status, StatusCode::OK, "{}", public.text);

        // A new record link's QR code: drawn for a link of this site, refused for anything else.
        let made = make_link(&ui, &record, json!({"fields": ["guest"], "mode": "read"})).await;
        let url = made["url"].as_str().unwrap().to_owned();
        let origin = ui.base.clone();
        let draw = |body: String| {
            let cookie = cookie.clone();
            let origin = origin.clone();
            let http = ui.http.clone();
            async move {
                http.post(format!("{origin}/qr.svg"))
                    .header("cookie", cookie)
                    .header("origin", origin.clone())
                    .header("content-type", "text/plain")
                    .body(body)
                    .send()
                    .await
                    .expect("request sent")
            }
        };
        let ours = draw(url.clone()).await;
        assert_eq!(ours.status(), StatusCode::OK);
        assert_eq!(ours.headers()["content-type"], "image/svg+xml");
        assert!(ours.text().await.unwrap().contains("<svg"));
        for other in ["https://evil.example/s/abc".to_owned(), format!("{origin}/apps/housing"), format!("{origin}/s/"), format!("{origin}/s/a b"), "hello".to_owned()] {
            assert_eq!(draw(other.clone()).await.status(), StatusCode::BAD_REQUEST, "{other}");
        }
        // Without a session there is no picture: the visitor is sent to log in, as on every member page.
        let anonymous = ui.http.post(format!("{origin}/qr.svg")).body(url).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
        assert!(!anonymous.text().await.unwrap().contains("<svg"));
        ui
    }
}
