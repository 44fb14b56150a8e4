//! What the builder and the record detail need from the API: checking a formula as it is typed, and a
//! record's history readable with `records:read`.

use super::*;

async fn attendance(ui: &TestUi) -> (String, String) {
    let app = ui
        .api(
            Method::POST,
            "/api/v1/apps",
            Some(json!({"name": "值班考勤"})),
        )
        .await;
    let app = app["id"].as_str().unwrap().to_owned();
    let table = ui
        .api(
            Method::POST,
            &format!("/api/v1/apps/{app}/tables"),
            Some(json!({"name": "考勤记录"})),
        )
        .await;
    let table = table["id"].as_str().unwrap().to_owned();
    for body in [
        json!({"name": "姓名", "type": "text", "key": "name"}),
        json!({"name": "工时", "type": "number", "key": "hours", "options": {"precision": 1}}),
    ] {
        ui.api(
            Method::POST,
            &format!("/api/v1/apps/{app}/tables/{table}/fields"),
            Some(body),
        )
        .await;
    }
    (app, table)
}

ui_tests! {
    async fn a_formula_is_checked_with_its_result_type_or_its_diagnostics_at_their_spans(ui) {
        let (app, table) = attendance(&ui).await;
        let path = format!("/api/v1/apps/{app}/tables/{table}/formula-check");
        let checked = ui.api(Method::POST, &path, Some(json!({"formula": "{工时} * 2"}))).await;
        assert_eq!(checked["valid"], true, "{checked}");
        assert_eq!(checked["result"]["type"], "number", "{checked}");
        assert_eq!(checked["diagnostics"], json!([]));
        let formula = "{工时} + {不存在}";
        let checked = ui.api(Method::POST, &path, Some(json!({"formula": formula}))).await;
        assert_eq!(checked["valid"], false);
        assert_eq!(checked["result"], Value::Null);
        let diagnostic = &checked["diagnostics"][0];
        assert_eq!(diagnostic["code"], "formula_unknown_field", "{checked}");
        let start = diagnostic["params"]["start"].as_u64().unwrap() as usize;
        let end = diagnostic["params"]["end"].as_u64().unwrap() as usize;
        let chars: Vec<char> = formula.chars().collect();
        let at: String = chars[start.min(chars.len())..end.min(chars.len())].iter().collect();
        let bytes = formula.get(start..end).unwrap_or_default();
        assert!(at.contains("不存在") || bytes.contains("不存在"), "the span {start}..{end} covers the unknown field: {checked}");
        // A condition must give TRUE or FALSE.
        let checked = ui
            .api(Method::POST, &path, Some(json!({"formula": "{工时}", "condition": true})))
            .await;
        assert_eq!(checked["diagnostics"][0]["code"], "formula_not_condition", "{checked}");
        // A field's own formula cannot name itself.
        let formula_field = ui
            .api(
                Method::POST,
                &format!("/api/v1/apps/{app}/tables/{table}/fields"),
                Some(json!({"name": "双倍", "type": "formula", "key": "double", "options": {"formula": "{工时} * 2"}})),
            )
            .await;
        assert_eq!(formula_field["key"], "double");
        let checked = ui
            .api(Method::POST, &path, Some(json!({"formula": "{双倍} + 1", "field": "double"})))
            .await;
        assert_eq!(checked["valid"], false, "{checked}");
        // Unknown tables are 404; the check needs apps:read.
        let token = token_for(&ui.store, &ui.org, ScopeSet::parse(["records:read"]).unwrap()).await;
        let authorization = format!("Bearer {token}");
        let reply = ui
            .send(Method::POST, &path, &[("authorization", &authorization)], Some(json!({"formula": "1"})))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        ui
    }

    async fn a_records_history_names_who_when_and_each_field_before_and_after(ui) {
        let (app, table) = attendance(&ui).await;
        let records = format!("/api/v1/apps/{app}/tables/{table}/records");
        let created = ui
            .api(Method::POST, &records, Some(json!({"records": [{"fields": {"name": "张三", "hours": "8"}}]})))
            .await;
        let id = created["records"][0]["id"].as_str().unwrap().to_owned();
        ui.api(Method::PATCH, &format!("{records}/{id}"), Some(json!({"fields": {"hours": "7.5"}}))).await;
        ui.api(Method::PATCH, &format!("{records}/{id}"), Some(json!({"fields": {"name": "张三丰"}}))).await;
        // records:read is enough (the audit log itself is admin-only).
        let token = token_for(&ui.store, &ui.org, ScopeSet::parse(["records:read"]).unwrap()).await;
        let authorization = format!("Bearer {token}");
        let reply = ui
            .send(Method::GET, &format!("{records}/{id}/history"), &[("authorization", &authorization)], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let history = reply.json();
        let items = history["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{history}");
        assert_eq!(items[0]["action"], "updated");
        assert_eq!(items[0]["changes"], json!([{"field": "name", "name": "姓名", "before": "张三", "after": "张三丰"}]));
        assert_eq!(items[1]["changes"][0]["field"], "hours");
        assert_eq!(items[1]["changes"][0]["name"], "工时");
        assert_eq!(items[2]["action"], "created");
        assert!(items[2]["changes"].as_array().unwrap().iter().any(|c| c["after"] == "张三"));
        assert!(items[0]["actor"]["name"].as_str().is_some_and(|name| !name.is_empty()));
        assert!(items[0]["at"].as_str().is_some());
        // Paging.
        let reply = ui
            .send(Method::GET, &format!("{records}/{id}/history?page_size=2"), &[("authorization", &authorization)], None)
            .await;
        let page = reply.json();
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let cursor = page["next_cursor"].as_str().unwrap();
        let reply = ui
            .send(Method::GET, &format!("{records}/{id}/history?page_size=2&cursor={cursor}"), &[("authorization", &authorization)], None)
            .await;
        assert_eq!(reply.json()["items"].as_array().unwrap().len(), 1);
        // Without records:read: 403; another organization: 404.
        let token = token_for(&ui.store, &ui.org, ScopeSet::parse(["apps:read"]).unwrap()).await;
        let reply = ui
            .send(Method::GET, &format!("{records}/{id}/history"), &[("authorization", &format!("Bearer {token}"))], None)
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let (other, _) = create_org(&ui.store, "别的学校", &format!("{}@example.com", unique()), None).await;
        let token = token_for(&ui.store, &other, ScopeSet::parse(["admin"]).unwrap()).await;
        let reply = ui
            .send(Method::GET, &format!("{records}/{id}/history"), &[("authorization", &format!("Bearer {token}"))], None)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        ui
    }
}

ui_tests! {
    async fn a_grid_view_orders_and_hides_columns_and_an_unknown_view_is_404(ui) {
        let (app, table) = attendance(&ui).await;
        let view = ui
            .api(
                Method::POST,
                &format!("/api/v1/apps/{app}/tables/{table}/views"),
                Some(json!({"name": "只看工时", "type": "grid", "config": {
                    "fields": [{"field": "hours", "width": 200}, {"field": "name", "hidden": true}],
                    "sort": "-hours", "group_by": "hours", "row_height": "tall"
                }})),
            )
            .await;
        let view_id = view["id"].as_str().unwrap().to_owned();
        let cookie = ui.log_in().await;
        for path in [
            format!("/apps/{app}/tables/{table}"),
            format!("/apps/{app}/tables/{table}?view={view_id}"),
            format!("/apps/{app}/tables/{table}?view={}", view["key"].as_str().unwrap()),
        ] {
            for lang in ["zh-CN", "en"] {
                let page = ui.page(&path, &cookie, lang).await;
                assert_eq!(page.status, StatusCode::OK, "{path}");
                // The first grid view is the default: one column, 工时; 姓名 is hidden.
                assert!(page.text.contains("data-key=\"hours\">工时</th>"), "{path}");
                assert!(!page.text.contains(">姓名</th>"), "{path}: the hidden field has no column");
                assert!(page.text.contains("aria-colcount=\"2\""), "{path}");
                assert!(page.text.contains(">只看工时</a>"), "{path}: the view's tab");
            }
        }
        let missing = ui
            .page(&format!("/apps/{app}/tables/{table}?view=no-such-view"), &cookie, "en")
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        ui
    }
}

ui_tests! {
    async fn the_records_api_gives_a_positional_window_in_the_sort_order(ui) {
        let (app, table) = attendance(&ui).await;
        let base = format!("/api/v1/apps/{app}/tables/{table}/records");
        // Every 25th record has no hours: empty values sort first ascending and last descending.
        let records: Vec<Value> = (0..250)
            .map(|i| match i % 25 {
                0 => json!({"fields": {"name": format!("学生{i:03}")}}),
                _ => json!({"fields": {"name": format!("学生{i:03}"), "hours": (i % 7).to_string()}}),
            })
            .collect();
        ui.api(Method::POST, &base, Some(json!({"records": records}))).await;
        let names = |page: &Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["fields"]["name"].as_str().unwrap().to_owned())
                .collect()
        };
        // In creation order: rows 200..250.
        let page = ui.api(Method::GET, &format!("{base}?offset=200&page_size=100&count=true"), None).await;
        assert_eq!(page["total"], 250);
        assert_eq!(names(&page), (200..250).map(|i| format!("学生{i:03}")).collect::<Vec<_>>());
        assert!(page["next_cursor"].is_null());
        // In a sort's order (hours is not indexed): the window is the same slice of the full sorted list.
        let all = ui.api(Method::GET, &format!("{base}?sort=-hours,name&page_size=1000"), None).await;
        let window = ui
            .api(Method::GET, &format!("{base}?sort=-hours,name&offset=123&page_size=10"), None)
            .await;
        assert_eq!(names(&window), names(&all)[123..133].to_vec());
        // Its next_cursor continues where the window ends.
        let cursor = window["next_cursor"].as_str().unwrap();
        let next = ui
            .api(Method::GET, &format!("{base}?sort=-hours,name&page_size=5&cursor={cursor}"), None)
            .await;
        assert_eq!(names(&next), names(&all)[133..138].to_vec());
        // With the count, a window in the second half is read from the end in the reverse order: the same
        // slices, at the edges too, in both sorts and both directions of the empty values.
        for sort in ["-hours,name", "hours,-name"] {
            let all = ui.api(Method::GET, &format!("{base}?sort={sort}&page_size=1000"), None).await;
            let all = names(&all);
            assert_eq!(all.len(), 250);
            for (offset, size) in [(124, 10), (125, 10), (126, 10), (200, 50), (200, 49), (240, 10), (241, 10), (249, 1), (249, 5), (3, 300)] {
                let window = ui
                    .api(Method::GET, &format!("{base}?sort={sort}&offset={offset}&page_size={size}&count=true"), None)
                    .await;
                let end = (offset + size).min(250);
                assert_eq!(names(&window), all[offset..end].to_vec(), "sort {sort}, offset {offset}, size {size}");
                assert_eq!(window["total"], 250);
                assert_eq!(window["next_cursor"].is_null(), end == 250, "sort {sort}, offset {offset}, size {size}");
            }
            let past = ui.api(Method::GET, &format!("{base}?sort={sort}&offset=250&count=true"), None).await;
            assert_eq!(past["items"].as_array().unwrap().len(), 0);
            assert_eq!(past["total"], 250);
        }
        // Past the end: empty; with a cursor: refused, naming the parameter.
        let past = ui.api(Method::GET, &format!("{base}?offset=900"), None).await;
        assert_eq!(past["items"].as_array().unwrap().len(), 0);
        let both = ui
            .send(Method::GET, &format!("{base}?offset=3&cursor={cursor}"), &[("authorization", &format!("Bearer {}", ui.admin_token))], None)
            .await;
        assert_eq!(both.status, StatusCode::BAD_REQUEST);
        assert_eq!(both.json()["error"]["details"][0]["field"], "offset");
        ui
    }
}

ui_tests! {
    async fn the_field_dialog_has_a_time_zone_and_attachment_limits_and_the_islands_get_upload_file(ui) {
        let (app, table) = attendance(&ui).await;
        let cookie = ui.log_in().await;
        for (lang, zone, types, size, upload) in [
            ("zh-CN", "时区", "允许的文件类型", "单个文件上限（MB）", "\"upload-file\":\"上传文件\""),
            ("en", "Time zone", "Allowed file types", "Largest file (MB)", "\"upload-file\":\"Upload file\""),
        ] {
            let page = ui.page(&format!("/apps/{app}/tables/{table}"), &cookie, lang).await;
            assert_eq!(page.status, StatusCode::OK);
            let text = &page.text;
            // Each input is named by its label, and shown for the types that take the option.
            assert!(text.contains(&format!("<label for=\"field-time-zone\">{zone}</label>")), "{lang}");
            assert!(text.contains("name=\"options.time_zone\" list=\"field-time-zones\""), "{lang}");
            assert!(text.contains("data-types=\"date datetime created_time modified_time\""), "{lang}");
            assert!(text.contains(&format!("<label for=\"field-file-types\">{types}</label>")), "{lang}");
            assert!(text.contains(&format!("<label for=\"field-max-size\">{size}</label>")), "{lang}");
            assert!(text.contains("name=\"options.max_size_mb\" type=\"number\" min=\"1\" max=\"1024\""), "{lang}");
            // The attachment dialog's button is built by the grid island from the page's messages.
            assert!(text.contains(upload), "{lang}: the islands' messages carry upload-file");
        }
        ui
    }
}
