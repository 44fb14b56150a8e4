//! Issue #23's leftovers on the server side: a board's 视图设置|View settings dialog (and a view broken by
//! a deleted field offering it), calendar days across Berlin's daylight-saving changes, the form
//! designer's phone preview page.

use super::*;

struct Sheet {
    base: String,
    name: String,
    state: String,
}

async fn sheet(ui: &TestUi) -> Sheet {
    let app = ui
        .api(Method::POST, "/api/v1/apps", Some(json!({"name": "设置"})))
        .await;
    let table = ui
        .api(
            Method::POST,
            &format!("/api/v1/apps/{}/tables", app["id"].as_str().unwrap()),
            Some(json!({"name": "考勤记录"})),
        )
        .await;
    let base = format!(
        "/api/v1/apps/{}/tables/{}",
        app["id"].as_str().unwrap(),
        table["id"].as_str().unwrap()
    );
    let name = field(ui, &base, json!({"name": "姓名", "type": "text"})).await;
    let state = field(
        ui,
        &base,
        json!({"name": "状态", "type": "single_select",
            "options": {"choices": [{"name": "出勤"}, {"name": "请假"}]}}),
    )
    .await;
    Sheet { base, name, state }
}

async fn field(ui: &TestUi, base: &str, body: Value) -> String {
    let made = ui
        .api(Method::POST, &format!("{base}/fields"), Some(body))
        .await;
    made["key"].as_str().unwrap().to_owned()
}

fn page_path(base: &str) -> String {
    base.trim_start_matches("/api/v1").to_owned()
}

/// The cell of `date` in a calendar page.
fn cell<'a>(page: &'a str, date: &str) -> &'a str {
    page.split(&format!("data-date=\"{date}\""))
        .nth(1)
        .and_then(|rest| rest.split("</td>").next())
        .unwrap_or_else(|| panic!("no cell {date}"))
}

ui_tests! {
    async fn a_board_offers_its_settings_and_a_broken_one_offers_them_instead_of_a_new_view(ui) {
        let s = sheet(&ui).await;
        let shift = field(&ui, &s.base, json!({"name": "班次", "type": "single_select",
            "options": {"choices": [{"name": "早班"}]}})).await;
        let hours = field(&ui, &s.base, json!({"name": "工时", "type": "number"})).await;
        let view = ui
            .api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": "看板", "type": "kanban",
                "config": {"group_field": shift, "fields": [{"field": hours, "hidden": true}]}})))
            .await;
        let view_id = view["id"].as_str().unwrap();
        let cookie = ui.log_in().await;
        let path = format!("{}?view={view_id}", page_path(&s.base));
        let page = ui.page(&path, &cookie, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        // The dialog: Group by offers the single selects with the stored one chosen, and the card fields
        // (not the title) ticked as the view shows them.
        assert!(page.text.contains("id=\"view-settings-dialog\""), "{}", page.text);
        assert!(page.text.contains("data-open=\"view-settings-dialog\""));
        assert!(page.text.contains(&format!("<option value=\"{shift}\" selected>班次</option>")), "{}", page.text);
        assert!(page.text.contains(&format!("<option value=\"{}\">状态</option>", s.state)));
        assert!(page.text.contains("name=\"config.card_cover\""));
        assert!(page.text.contains(&format!("name=\"card_field\" value=\"{hours}\">")), "工时 is offered, not ticked");
        assert!(page.text.contains(&format!("name=\"card_field\" value=\"{}\">", s.state)), "the view lists its card fields: 状态 is not one");
        assert!(!page.text.contains(&format!("name=\"card_field\" value=\"{}\"", s.name)), "the title is always on the card");
        // The group field deleted: the board says to choose another in the settings, with a button.
        ui.api(Method::DELETE, &format!("{}/fields/{shift}", s.base), None).await;
        let broken = ui.page(&path, &cookie, "zh-CN").await;
        assert_eq!(broken.status, StatusCode::OK);
        assert!(broken.text.contains("请在视图设置中重新选择"), "{}", broken.text);
        assert!(!broken.text.contains("新建一个看板视图"));
        assert!(broken.text.contains("<option value=\"\" selected>请选择…</option>"), "{}", broken.text);
        let body = broken.text.split("class=\"board-body\"").nth(1).unwrap();
        assert!(body.contains("data-open=\"view-settings-dialog\""), "the message offers the dialog");
        // The board part (read again live) offers it too, in English.
        let part = ui.page(&format!("{}/views/{view_id}/part", page_path(&s.base)), &cookie, "en").await;
        assert!(part.text.contains("Choose another one in View settings."), "{}", part.text);
        assert!(part.text.contains(">View settings</button>"));
        // A gallery names its cover setting `cover_field`; a calendar offers its date fields.
        let gallery = ui
            .api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": "画廊", "type": "gallery"})))
            .await;
        let page = ui.page(&format!("{}?view={}", page_path(&s.base), gallery["id"].as_str().unwrap()), &cookie, "en").await;
        assert!(page.text.contains("name=\"config.cover_field\"") && page.text.contains("Fields on cards"), "{}", page.text);
        ui
    }

    async fn a_calendar_keeps_dates_on_their_day_across_berlins_daylight_saving_changes(ui) {
        let s = sheet(&ui).await;
        let day = field(&ui, &s.base, json!({"name": "日期", "type": "date"})).await;
        let at = field(&ui, &s.base, json!({"name": "时间", "type": "datetime"})).await;
        ui.api(Method::PATCH, "/api/v1/organization", Some(json!({"time_zone": "Europe/Berlin"}))).await;
        // Summer time starts on 2026-03-29 (02:00 → 03:00) and ends on 2026-10-25 (03:00 → 02:00).
        let rows = [
            ("甲", "2026-03-28", "2026-03-28T23:30:00Z"), // 00:30 CET on the 29th
            ("乙", "2026-03-29", "2026-03-29T22:30:00Z"), // 00:30 CEST on the 30th
            ("丙", "2026-10-25", "2026-10-24T22:30:00Z"), // 00:30 CEST on the 25th
            ("丁", "2026-10-26", "2026-10-25T23:30:00Z"), // 00:30 CET on the 26th
        ];
        let records: Vec<Value> = rows
            .iter()
            .map(|(name, date, instant)| json!({"fields": {s.name.clone(): name, day.clone(): date, at.clone(): instant}}))
            .collect();
        ui.api(Method::POST, &format!("{}/records", s.base), Some(json!({"records": records}))).await;
        let cookie = ui.log_in().await;
        for (key, expected) in [
            (&day, [("甲", "2026-03-28"), ("乙", "2026-03-29"), ("丙", "2026-10-25"), ("丁", "2026-10-26")]),
            (&at, [("甲", "2026-03-29"), ("乙", "2026-03-30"), ("丙", "2026-10-25"), ("丁", "2026-10-26")]),
        ] {
            let view = ui
                .api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": format!("日历{key}"), "type": "calendar", "config": {"date_field": key}})))
                .await;
            let view_id = view["id"].as_str().unwrap();
            for month in ["2026-03-01", "2026-10-01"] {
                let page = ui
                    .page(&format!("{}?view={view_id}&date={month}", page_path(&s.base)), &cookie, "zh-CN")
                    .await;
                assert_eq!(page.status, StatusCode::OK, "{}", page.text);
                // Its settings: the date fields, with the stored one chosen; events show only their title.
                assert!(page.text.contains(&format!("<option value=\"{key}\" selected>")), "{}", page.text);
                assert!(page.text.contains("name=\"config.end_date_field\"") && !page.text.contains("卡片上的字段"));
                for (name, date) in expected.iter().filter(|(_, date)| date[..7] == month[..7]) {
                    assert!(cell(&page.text, date).contains(&format!(">{name}</button>")), "{key}: {name} on {date}");
                    // Each day's event appears once: on its day and no other.
                    assert_eq!(page.text.matches(&format!(">{name}</button>")).count(), 1, "{key}: {name}");
                }
            }
        }
        ui
    }

    async fn the_designer_previews_a_form_as_its_public_page_framed_only_by_this_site(ui) {
        let s = sheet(&ui).await;
        let form = ui
            .api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": "报名", "type": "form",
                "config": {"title": "活动报名", "fields": [{"field": s.name, "required": true}]}})))
            .await;
        let form_id = form["id"].as_str().unwrap();
        let cookie = ui.log_in().await;
        let designer = ui.page(&format!("{}?view={form_id}", page_path(&s.base)), &cookie, "zh-CN").await;
        assert!(designer.text.contains(">手机预览</button>") && designer.text.contains("aria-pressed=\"false\""), "{}", designer.text);
        assert!(designer.text.contains(&format!("data-src=\"{}/views/{form_id}/preview\"", page_path(&s.base))));
        assert!(designer.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
        // The preview: the public page of a form that is not public yet, that submits nothing.
        let preview = ui.page(&format!("{}/views/{form_id}/preview", page_path(&s.base)), &cookie, "zh-CN").await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
        assert!(preview.text.contains("<h1 data-user-content>活动报名</h1>"));
        assert!(preview.text.contains("这是预览"));
        assert!(preview.text.contains("aria-required=\"true\""));
        assert!(preview.text.contains("<button type=\"submit\" class=\"primary\" disabled>"), "{}", preview.text);
        assert!(preview.header("content-security-policy").unwrap().contains("frame-ancestors 'self'"));
        assert_eq!(preview.header("x-frame-options"), Some("SAMEORIGIN"));
        // Not for visitors, and only of form views.
        let anonymous = ui.send(Method::GET, &format!("{}/views/{form_id}/preview", page_path(&s.base)), &[], None).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        let grid = ui.api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": "表格", "type": "grid"}))).await;
        let none = ui.page(&format!("{}/views/{}/preview", page_path(&s.base), grid["id"].as_str().unwrap()), &cookie, "en").await;
        assert_eq!(none.status, StatusCode::NOT_FOUND);
        ui
    }

    async fn only_those_who_manage_the_app_design_preview_and_draw_a_forms_qr_code(ui) {
        let s = sheet(&ui).await;
        let form = ui
            .api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": "报名", "type": "form",
                "config": {"title": "活动报名", "public": true, "fields": [{"field": s.name}]}})))
            .await;
        let form_id = form["id"].as_str().unwrap();
        let preview = format!("{}/views/{form_id}/preview", page_path(&s.base));
        let qr = format!("{}/views/{form_id}/qr.svg", page_path(&s.base));
        let owner = ui.log_in().await;
        let designer = ui.page(&format!("{}?view={form_id}", page_path(&s.base)), &owner, "zh-CN").await;
        assert!(designer.text.contains(">手机预览</button>"), "{}", designer.text);
        assert_eq!(ui.page(&preview, &owner, "zh-CN").await.status, StatusCode::OK);
        assert_eq!(ui.page(&qr, &owner, "zh-CN").await.status, StatusCode::OK);
        // A plain member of the organization reads the app but does not manage it: no designer, no
        // publish dialog, and the designer's preview and QR code are 403 as the views API is.
        let (member, _) = crate::master_detail::clerk(&ui).await;
        let page = ui.page(&format!("{}?view={form_id}", page_path(&s.base)), &member, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(!page.text.contains("手机预览") && !page.text.contains("data-island=\"form-designer\""), "{}", page.text);
        assert!(!page.text.contains("publish-view-dialog"), "{}", page.text);
        assert_eq!(ui.page(&preview, &member, "zh-CN").await.status, StatusCode::FORBIDDEN);
        assert_eq!(ui.page(&qr, &member, "zh-CN").await.status, StatusCode::FORBIDDEN);
        let patch = ui.send(Method::PATCH, &format!("{}/views/{form_id}", s.base), &[("cookie", &member)],
            Some(json!({"name": "改", "type": "form", "config": {}}))).await;
        assert_eq!(patch.status, StatusCode::FORBIDDEN, "the views API refuses her the same way");
        assert!(patch.text.contains("insufficient_scope"), "{}", patch.text);
        ui
    }

    async fn the_designers_preview_shows_the_unsaved_draft_and_never_stores_it(ui) {
        let s = sheet(&ui).await;
        let form = ui
            .api(Method::POST, &format!("{}/views", s.base), Some(json!({"name": "报名", "type": "form",
                "config": {"title": "活动报名", "fields": [{"field": s.name}]}})))
            .await;
        let form_id = form["id"].as_str().unwrap();
        let preview = format!("{}/views/{form_id}/preview", page_path(&s.base));
        let owner = ui.log_in().await;
        let cookie = format!("{owner}; tenon_lang=zh-CN");
        let post = |config: String, origin: Option<String>| {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("config", &config)
                .finish();
            let mut request = ui
                .http
                .post(format!("{}{preview}", ui.base))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            async move {
                let response = request.send().await.expect("request sent");
                (response.status(), response.headers().clone(), response.text().await.expect("body read"))
            }
        };
        // The draft: a new title, the field required with help — shown, framed only by this site.
        let draft = json!({"title": "活动报名（草稿）", "fields": [{"field": s.name, "required": true, "help": "请写全名"}]});
        let (status, headers, text) = post(draft.to_string(), Some(ui.base.clone())).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("<h1 data-user-content>活动报名（草稿）</h1>"), "{text}");
        assert!(text.contains("请写全名") && text.contains("aria-required=\"true\""), "{text}");
        assert!(text.contains("这是预览"), "{text}");
        assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'self'"));
        // Nothing was stored.
        let saved = ui.api(Method::GET, &format!("{}/views/{form_id}", s.base), None).await;
        assert_eq!(saved["config"]["title"], "活动报名", "{saved}");
        // A draft a save would refuse shows the saved form and says why.
        let broken = json!({"title": "坏的", "fields": [{"field": "no_such_field"}]});
        let (status, _, text) = post(broken.to_string(), None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("<h1 data-user-content>活动报名</h1>") && !text.contains("坏的"), "{text}");
        assert!(text.contains("你的修改暂时无法预览"), "{text}");
        let (_, _, text) = post("not json".into(), None).await;
        assert!(text.contains("你的修改暂时无法预览") && text.contains("<h1 data-user-content>活动报名</h1>"), "{text}");
        // Another site cannot post into it.
        let (status, _, _) = post(draft.to_string(), Some("https://evil.example".into())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // A plain member gets 403 as for the saved preview.
        let (member, _) = crate::master_detail::clerk(&ui).await;
        let refused = ui
            .http
            .post(format!("{}{preview}", ui.base))
            .header("cookie", member)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("config={}", draft))
            .send()
            .await
            .expect("request sent");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        ui
    }
}
