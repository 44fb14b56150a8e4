//! Every page in both languages, its security headers, the redirect to the log-in page, the same-origin
//! rule for cookie writes, the choice of language and the static files.

use super::*;

/// English words left on a zh-CN page: text between tags and accessible labels, without scripts and
/// data blocks. Allowed: `Tenon` (the brand), `English` (the language switch's own name), key names and
/// product names that Chinese text writes in Latin letters.
fn english_on(html: &str) -> Vec<String> {
    let scripts = regex::Regex::new(r"(?s)<script\b.*?</script>").unwrap();
    let html = scripts.replace_all(html, "");
    let words = regex::Regex::new(r"[A-Za-z]{2,}").unwrap();
    let allowed = |text: &str| {
        let mut rest = text.to_owned();
        for word in ALLOWED_LATIN {
            rest = rest.replace(word, "");
        }
        !words.is_match(&rest)
    };
    let mut found = Vec::new();
    let text = regex::Regex::new(r">([^<]+)<").unwrap();
    for capture in text.captures_iter(&html) {
        let piece = capture[1].trim();
        if !piece.is_empty() && !allowed(piece) {
            found.push(piece.to_owned());
        }
    }
    let labels = regex::Regex::new(r#"(?:aria-label|title|placeholder)="([^"]*)""#).unwrap();
    for capture in labels.captures_iter(&html) {
        if !allowed(&capture[1]) {
            found.push(capture[0].to_owned());
        }
    }
    found
}

/// Words zh-CN text may write in Latin letters (and `MB`, the unit Chinese text writes sizes in).
const ALLOWED_LATIN: &[&str] = &[
    "Tenon", "English", "Enter", "Esc", "Tab", "F2", "Ctrl", "Excel", "WPS", "Webhook", "API",
    "TRUE", "FALSE", "Space", "Delete", "Alt", "MB",
];

#[track_caller]
fn assert_secure(page: &Page) {
    let csp = page
        .header("content-security-policy")
        .expect("every UI answer has a CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(
        page.header("server-timing").is_some(),
        "pages report Server-Timing"
    );
}

#[track_caller]
fn assert_page(page: &Page, status: StatusCode, lang: &str) {
    assert_eq!(page.status, status, "{}", page.text);
    assert_secure(page);
    assert!(
        page.text.contains(&format!("<html lang=\"{lang}\">")),
        "html lang is {lang}"
    );
    // No inline script, style attribute or hx-on: the CSP would block them.
    let inline = regex::Regex::new(r"<script(?:\s[^>]*)?>[^<]").unwrap();
    for found in inline.find_iter(&page.text) {
        assert!(
            page.text[found.start()..].starts_with("<script type=\"application/json\""),
            "inline script: {}",
            found.as_str()
        );
    }
    assert!(!page.text.contains(" style="), "a style attribute");
    assert!(!page.text.contains("hx-on"), "an hx-on attribute");
    if lang == "zh-CN" {
        assert_eq!(
            english_on(&page.text),
            Vec::<String>::new(),
            "untranslated text"
        );
    }
}

ui_tests! {
    async fn every_page_renders_in_both_languages(ui) {
        let app = ui.api(Method::POST, "/api/v1/apps", Some(json!({"name": "值班考勤"}))).await;
        let app_id = app["id"].as_str().unwrap().to_owned();
        let table = ui
            .api(Method::POST, &format!("/api/v1/apps/{app_id}/tables"), Some(json!({"name": "考勤记录"})))
            .await;
        let table_id = table["id"].as_str().unwrap().to_owned();
        let name_field = ui.api(
            Method::POST,
            &format!("/api/v1/apps/{app_id}/tables/{table_id}/fields"),
            Some(json!({"name": "姓名", "type": "text"})),
        )
        .await;
        // A kanban, a calendar and a gallery view, with a record on each.
        let base = format!("/api/v1/apps/{app_id}/tables/{table_id}");
        let state = ui
            .api(Method::POST, &format!("{base}/fields"), Some(json!({"name": "状态", "type": "single_select",
                "options": {"choices": [{"name": "出勤"}, {"name": "请假"}]}})))
            .await;
        let day = ui
            .api(Method::POST, &format!("{base}/fields"), Some(json!({"name": "日期", "type": "date"})))
            .await;
        let today = chrono::Utc::now().date_naive().to_string();
        let mut values = serde_json::Map::new();
        values.insert(name_field["key"].as_str().unwrap().to_owned(), json!("张三"));
        values.insert(state["key"].as_str().unwrap().to_owned(), json!("出勤"));
        values.insert(day["key"].as_str().unwrap().to_owned(), json!(today));
        ui.api(Method::POST, &format!("{base}/records"), Some(json!({"fields": values})))
            .await;
        let mut boards = Vec::new();
        for (kind, config) in [
            ("kanban", json!({"group_field": state["key"]})),
            ("calendar", json!({"date_field": day["key"]})),
            ("gallery", json!({})),
        ] {
            let view = ui
                .api(Method::POST, &format!("{base}/views"), Some(json!({"name": format!("视图{}", boards.len()), "type": kind, "config": config})))
                .await;
            boards.push(view["id"].as_str().unwrap().to_owned());
        }
        let form = ui
            .api(
                Method::POST,
                &format!("/api/v1/apps/{app_id}/tables/{table_id}/views"),
                Some(json!({"name": "登记表", "type": "form", "config": {"fields": [{"field": "姓名", "required": true, "help": "填写全名"}], "public": true}})),
            )
            .await;
        let form_id = form["id"].as_str().unwrap().to_owned();
        let slug = form["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let record = ui.api(Method::GET, &format!("{base}/records"), None).await["items"][0]["id"].as_str().unwrap().to_owned();
        let link = ui
            .api(Method::POST, &format!("{base}/records/{record}/share"), Some(json!({"fields": [name_field["key"], state["key"]], "mode": "edit"})))
            .await;
        let share_token = link["token"].as_str().unwrap().to_owned();
        let published = ui
            .api(Method::POST, &format!("{base}/views"), Some(json!({"name": "公开名单", "type": "grid", "config": {"public": {"enabled": true}}})))
            .await;
        let view_slug = published["public_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        ui.api(
            Method::PUT,
            &format!("/api/v1/apps/{app_id}/dashboards/duty"),
            Some(json!({"name": "值班看板", "widgets": [{"title": "人数", "type": "number", "table": table_id.clone()}]})),
        )
        .await;
        let cookie = ui.log_in().await;
        let pages = [
            ("/", StatusCode::OK, "home.html"),
            (&format!("/apps/{app_id}/tables/{table_id}?view={}", boards[0]) as &str, StatusCode::OK, "board.html"),
            (&format!("/apps/{app_id}/tables/{table_id}?view={}", boards[1]), StatusCode::OK, "board_part.html"),
            (&format!("/apps/{app_id}/tables/{table_id}?view={}&mode=week", boards[1]), StatusCode::OK, "board_part.html"),
            (&format!("/apps/{app_id}/tables/{table_id}?view={}", boards[2]), StatusCode::OK, "card.html"),
            (&format!("/apps/{app_id}/tables/{table_id}?view={form_id}") as &str, StatusCode::OK, "form_designer.html"),
            (&format!("/f/{slug}"), StatusCode::OK, "public_form.html"),
            ("/f/no-such-form", StatusCode::NOT_FOUND, "error.html"),
            (&format!("/s/{share_token}"), StatusCode::OK, "share.html"),
            ("/s/no-such-link", StatusCode::NOT_FOUND, "share.html"),
            (&format!("/v/{view_slug}"), StatusCode::OK, "public_view.html"),
            (&format!("/apps/{app_id}") as &str, StatusCode::OK, "app.html"),
            (&format!("/apps/{app_id}") as &str, StatusCode::OK, "delete_dialog.html"),
            (&format!("/apps/{app_id}/tables/{table_id}"), StatusCode::OK, "table.html"),
            (&format!("/apps/{app_id}/dashboards/duty"), StatusCode::OK, "dashboard.html"),
            (&format!("/apps/{app_id}/dashboards/no-such"), StatusCode::NOT_FOUND, "error.html"),
            ("/apps/no-such-app", StatusCode::NOT_FOUND, "error.html"),
            ("/admin", StatusCode::OK, "admin.html"),
            ("/admin/members", StatusCode::OK, "admin.html"),
            ("/admin/departments", StatusCode::OK, "admin.html"),
            ("/admin/roles", StatusCode::OK, "admin.html"),
            ("/admin/tokens", StatusCode::OK, "admin.html"),
            ("/admin/apps", StatusCode::OK, "admin.html"),
            ("/admin/webhooks", StatusCode::OK, "admin.html"),
            ("/admin/webhooks/0190c6a2-0000-7000-8000-000000000000", StatusCode::OK, "admin.html"),
            ("/admin/audit", StatusCode::OK, "admin.html"),
            ("/admin/settings", StatusCode::OK, "admin.html"),
            ("/admin/no-such-section", StatusCode::NOT_FOUND, "error.html"),
            ("/login", StatusCode::OK, "login.html"),
        ]
        .map(|(path, status, template)| (path.to_owned(), status, template));
        for lang in ["zh-CN", "en"] {
            for (path, status, _) in &pages {
                let page = ui.page(path, &cookie, lang).await;
                assert_page(&page, *status, lang);
            }
        }
        // Every template is reached above (layout.html by all of them).
        let mut reached: Vec<&str> = pages.iter().map(|(_, _, template)| *template).collect();
        reached.dedup();
        reached.push("layout.html");
        reached.sort_unstable();
        reached.dedup();
        let mut names = tenon_web::templates::names();
        names.sort_unstable();
        assert_eq!(names, reached, "a template no test renders");
        // The header names the organization and the person; the grid's column headers are field names.
        let home = ui.page("/", &cookie, "zh-CN").await;
        assert!(home.text.contains("测试学校") && home.text.contains("王老师"));
        // The app page's delete dialog is the shared one: its address written segment by segment.
        let app_page = ui.page(&format!("/apps/{app_id}"), &cookie, "zh-CN").await;
        assert!(app_page.text.contains(r#"<dialog id="delete-app-dialog" aria-labelledby="delete-app-dialog-heading">"#), "{}", app_page.text);
        assert!(app_page.text.contains(&format!(r#"data-url="/api/v1/apps/{app_id}""#)) && app_page.text.contains(r#"<input id="delete-app-dialog-name" data-confirm-input"#));
        let grid = ui.page(&format!("/apps/{app_id}/tables/{table_id}"), &cookie, "en").await;
        assert!(grid.text.contains("role=\"grid\"") && grid.text.contains(">姓名</th>"));
        ui
    }

    async fn private_pages_send_anonymous_visitors_to_log_in_and_back(ui) {
        let page = ui.send(Method::GET, "/apps/x?y=1", &[], None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.header("location"), Some("/login?next=%2Fapps%2Fx%3Fy%3D1"));
        assert_secure(&page);
        // An ended session: the same, and the dead cookie is cleared.
        let page = ui
            .send(Method::GET, "/", &[("cookie", "tenon_session=ended")], None)
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.header("location"), Some("/login"));
        assert!(page.header("set-cookie").unwrap().contains("Max-Age=0"));
        // A bearer token is for the API, not for pages.
        let authorization = format!("Bearer {}", ui.admin_token);
        let page = ui
            .send(Method::GET, "/", &[("authorization", &authorization)], None)
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        // The log-in page keeps only a local `next`.
        for (next, kept) in [("/apps/1", "/apps/1"), ("https://evil.example/", "/"), ("//evil.example", "/")] {
            let path = format!("/login?next={}", next.replace(':', "%3A").replace('/', "%2F"));
            let page = ui.send(Method::GET, &path, &[], None).await;
            assert!(page.text.contains(&format!("data-next=\"{}\"", kept.replace('/', "&#x2f;"))), "{next}: {}", page.text);
        }
        ui
    }

    async fn a_cross_site_cookie_write_writes_nothing(ui) {
        let cookie = ui.log_in().await;
        let before = ui.api(Method::GET, "/api/v1/apps", None).await["items"].as_array().unwrap().len();
        for headers in [
            [("cookie", cookie.as_str()), ("origin", "http://evil.example")],
            [("cookie", cookie.as_str()), ("sec-fetch-site", "cross-site")],
        ] {
            let reply = ui
                .send(Method::POST, "/api/v1/apps", &headers, Some(json!({"name": "伪造"})))
                .await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
            assert_eq!(reply.json()["error"]["code"], "cross_site_request");
        }
        let after = ui.api(Method::GET, "/api/v1/apps", None).await["items"].as_array().unwrap().len();
        assert_eq!(before, after);
        // A log-in from another site is refused too.
        let reply = ui
            .send(
                Method::POST,
                "/api/v1/auth/login",
                &[("sec-fetch-site", "cross-site")],
                Some(json!({ "email": ui.owner_email, "password": OWNER_PASSWORD })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        assert!(reply.header("set-cookie").is_none());
        ui
    }

    async fn the_language_is_the_persons_choice_then_the_browsers_then_the_organizations(ui) {
        let cookie = ui.log_in().await;
        let lang_of = |page: Page| {
            regex::Regex::new(r#"<html lang="([^"]+)">"#).unwrap().captures(&page.text).unwrap()[1].to_owned()
        };
        // The organization's locale (zh-CN) when the browser names neither language.
        let page = ui.send(Method::GET, "/", &[("cookie", &cookie), ("accept-language", "fr")], None).await;
        assert_eq!(lang_of(page), "zh-CN");
        let page = ui
            .send(Method::GET, "/", &[("cookie", &cookie), ("accept-language", "fr, en-GB;q=0.8, zh;q=0.5")], None)
            .await;
        assert_eq!(lang_of(page), "en");
        let chosen = format!("{cookie}; tenon_lang=zh-CN");
        let page = ui.send(Method::GET, "/", &[("cookie", &chosen), ("accept-language", "en")], None).await;
        assert_eq!(lang_of(page), "zh-CN");
        // The log-in page, without an organization: the browser's language, else English.
        let page = ui.send(Method::GET, "/login", &[("accept-language", "zh-CN,zh;q=0.9")], None).await;
        assert_eq!(lang_of(page), "zh-CN");
        let page = ui.send(Method::GET, "/login", &[], None).await;
        assert_eq!(lang_of(page), "en");
        ui
    }

    async fn static_files_are_cached_by_hash_and_never_sniffed(ui) {
        let login = ui.send(Method::GET, "/login", &[], None).await;
        let src = regex::Regex::new(r#"src="([^"]*islands\.js[^"]*)""#).unwrap().captures(&login.text).unwrap()[1]
            .replace("&#x2f;", "/");
        assert!(src.contains("?v="), "{src}");
        let script = ui.send(Method::GET, &src, &[], None).await;
        assert_eq!(script.status, StatusCode::OK);
        assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
        assert!(script.header("cache-control").unwrap().contains("immutable"));
        let etag = script.header("etag").unwrap().to_owned();
        let again = ui.send(Method::GET, &src, &[("if-none-match", &etag)], None).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        let missing = ui.send(Method::GET, "/static/nothing.js", &[], None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        ui
    }
}

ui_tests! {
    async fn admin_pages_are_for_admins_only(ui) {
        let email = format!("member{}@school.example", unique());
        ui.api(
            Method::POST,
            "/api/v1/members",
            Some(json!({"name": "李老师", "email": email, "role": "member", "password": "member-pass-1"})),
        )
        .await;
        let reply = ui
            .send(Method::POST, "/api/v1/auth/login", &[], Some(json!({"email": email, "password": "member-pass-1"})))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let member = reply.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
        let owner = ui.log_in().await;
        for section in ["", "/members", "/departments", "/roles", "/tokens", "/apps", "/webhooks", "/audit", "/settings", "/webhooks/0190c6a2-0000-7000-8000-000000000000"] {
            let path = format!("/admin{section}");
            for lang in ["zh-CN", "en"] {
                let page = ui.page(&path, &member, lang).await;
                assert_page(&page, StatusCode::FORBIDDEN, lang);
                let page = ui.page(&path, &owner, lang).await;
                assert_page(&page, StatusCode::OK, lang);
            }
            let anonymous = ui.send(Method::GET, &path, &[], None).await;
            assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{path}");
        }
        // The header offers the admin link to admins only.
        let home = ui.page("/", &member, "en").await;
        assert!(!home.text.contains("href=\"/admin\""));
        let home = ui.page("/", &owner, "en").await;
        assert!(home.text.contains("href=\"/admin\""));
        ui
    }
}
