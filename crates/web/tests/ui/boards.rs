//! Kanban, calendar and gallery views rendered on the server: columns by choice with their counts and
//! first cards, "load more" pages, a calendar month with ranges, the time zone of date-times.

use super::*;

async fn sheet(ui: &TestUi) -> (String, Value, Value, Value) {
    let app = ui
        .api(Method::POST, "/api/v1/apps", Some(json!({"name": "看板"})))
        .await;
    let app_id = app["id"].as_str().unwrap().to_owned();
    let table = ui
        .api(
            Method::POST,
            &format!("/api/v1/apps/{app_id}/tables"),
            Some(json!({"name": "考勤记录"})),
        )
        .await;
    let base = format!(
        "/api/v1/apps/{app_id}/tables/{}",
        table["id"].as_str().unwrap()
    );
    let name = ui
        .api(
            Method::POST,
            &format!("{base}/fields"),
            Some(json!({"name": "姓名", "type": "text"})),
        )
        .await;
    let state = ui
        .api(
            Method::POST,
            &format!("{base}/fields"),
            Some(json!({"name": "状态", "type": "single_select",
                "options": {"choices": [{"name": "出勤"}, {"name": "请假"}]}})),
        )
        .await;
    let at = ui
        .api(
            Method::POST,
            &format!("{base}/fields"),
            Some(json!({"name": "时间", "type": "datetime"})),
        )
        .await;
    (
        base,
        name["key"].clone(),
        state["key"].clone(),
        at["key"].clone(),
    )
}

fn page_path(base: &str) -> String {
    base.trim_start_matches("/api/v1").to_owned()
}

ui_tests! {
    async fn a_kanban_shows_the_first_cards_of_each_column_and_loads_more(ui) {
        let (base, name, state, _) = sheet(&ui).await;
        let records: Vec<Value> = (0..60)
            .map(|i| {
                let mut fields = serde_json::Map::new();
                fields.insert(name.as_str().unwrap().to_owned(), json!(format!("学生{i:02}")));
                let choice = if i < 55 { json!("出勤") } else if i < 58 { json!("请假") } else { Value::Null };
                fields.insert(state.as_str().unwrap().to_owned(), choice);
                json!({"fields": fields})
            })
            .collect();
        ui.api(Method::POST, &format!("{base}/records"), Some(json!({"records": records}))).await;
        let view = ui
            .api(
                Method::POST,
                &format!("{base}/views"),
                Some(json!({"name": "看板", "type": "kanban", "config": {"group_field": state, "sort": name}})),
            )
            .await;
        let view_id = view["id"].as_str().unwrap();
        let cookie = ui.log_in().await;
        let page = ui.page(&format!("{}?view={view_id}", page_path(&base)), &cookie, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        // Columns are lists named by their choice, plus the records without one; counts are the totals.
        for (choice, total) in [("出勤", 55), ("请假", 3), ("未填写", 2)] {
            assert!(page.text.contains(&format!("role=\"list\" aria-label=\"{choice}\"")), "{choice}");
            assert!(page.text.contains(&format!("data-total=\"{total}\"")), "{choice}: {total}");
        }
        // The first 50 cards of 出勤, then a button for the rest.
        let cards = page.text.matches("class=\"board-card\"").count();
        assert_eq!(cards, 50 + 3 + 2);
        assert!(page.text.contains("aria-label=\"学生49\"") && !page.text.contains("aria-label=\"学生50\""), "{}", page.text);
        assert!(page.text.contains("data-more=\"50\" data-column=\"0\""));
        assert!(page.text.contains("移动到…"));
        let more = ui
            .page(&format!("{}/views/{view_id}/part?column=0&offset=50", page_path(&base)), &cookie, "zh-CN")
            .await;
        assert_eq!(more.status, StatusCode::OK);
        assert_eq!(more.text.matches("class=\"board-card\"").count(), 5);
        assert!(more.text.contains("aria-label=\"学生50\"") && more.text.contains("aria-label=\"学生54\""));
        assert!(!more.text.contains("more-next"), "no more after the last card");
        // The whole board again (what the island reads after a change), in English.
        let part = ui.page(&format!("{}/views/{view_id}/part", page_path(&base)), &cookie, "en").await;
        assert!(part.text.contains("aria-label=\"Not set\"") && !part.text.contains("<html"));
        // Anonymous visitors are sent to log in; a grid view has no board part.
        let anonymous = ui
            .send(Method::GET, &format!("{}/views/{view_id}/part", page_path(&base)), &[], None)
            .await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        let grid = ui
            .api(Method::POST, &format!("{base}/views"), Some(json!({"name": "表格", "type": "grid"})))
            .await;
        let none = ui
            .page(&format!("{}/views/{}/part", page_path(&base), grid["id"].as_str().unwrap()), &cookie, "en")
            .await;
        assert_eq!(none.status, StatusCode::NOT_FOUND);
        ui
    }

    async fn a_calendar_shows_a_month_in_the_organizations_time_zone(ui) {
        let (base, name, _, at) = sheet(&ui).await;
        // 2026-11-09T18:30Z is the 10th in Shanghai (the test organization's zone is set below).
        let mut fields = serde_json::Map::new();
        fields.insert(name.as_str().unwrap().to_owned(), json!("张三"));
        fields.insert(at.as_str().unwrap().to_owned(), json!("2026-11-09T18:30:00Z"));
        ui.api(Method::POST, &format!("{base}/records"), Some(json!({"fields": fields}))).await;
        // Five more on the 10th (10:00 in Shanghai): a month's day shows four, then "2 more".
        let more: Vec<Value> = (0..5)
            .map(|i| {
                let mut fields = serde_json::Map::new();
                fields.insert(name.as_str().unwrap().to_owned(), json!(format!("学生{i}")));
                fields.insert(at.as_str().unwrap().to_owned(), json!("2026-11-10T02:00:00Z"));
                json!({"fields": fields})
            })
            .collect();
        ui.api(Method::POST, &format!("{base}/records"), Some(json!({"records": more}))).await;
        ui.api(Method::PATCH, "/api/v1/organization", Some(json!({"time_zone": "Asia/Shanghai"}))).await;
        let view = ui
            .api(Method::POST, &format!("{base}/views"), Some(json!({"name": "日历", "type": "calendar", "config": {"date_field": at}})))
            .await;
        let view_id = view["id"].as_str().unwrap();
        let cookie = ui.log_in().await;
        let page = ui
            .page(&format!("{}?view={view_id}&date=2026-11-20", page_path(&base)), &cookie, "zh-CN")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("2026年11月"));
        // Monday 2026-10-26 to Sunday 2026-12-06: six weeks.
        assert_eq!(page.text.matches("<td class=\"day").count(), 42);
        let tenth = page.text.split("data-date=\"2026-11-10\"").nth(1).unwrap();
        let tenth = tenth.split("</td>").next().unwrap();
        assert!(tenth.contains(">张三</button>"), "{}", page.text);
        assert_eq!(tenth.matches("class=\"event\"").count(), 4, "{tenth}");
        assert!(tenth.contains("还有 2 项"), "{tenth}");
        let week = ui
            .page(&format!("{}?view={view_id}&date=2026-11-10&mode=week", page_path(&base)), &cookie, "en")
            .await;
        assert_eq!(week.text.matches("<td class=\"day").count(), 7);
        assert!(week.text.contains("November 2026"));
        ui
    }
}
