//! A kanban ordered by hand (issue #23): its `order_field` (a number field) sorts each column first,
//! empty places first, before the view's own sort; the page hands the island the field and its
//! decimals, each card its place, and the Move to… dialog Move up / Move down. Only a number field may
//! hold the order.

use super::*;

/// Where `name`'s card stands in `text` (panics when it is not there).
fn at(text: &str, name: &str) -> usize {
    text.find(&format!("aria-label=\"{name}\""))
        .unwrap_or_else(|| panic!("no card {name} in {text}"))
}

ui_tests! {
    async fn a_kanban_ordered_by_hand_sorts_each_column_by_its_order_field_first(ui) {
        let app = ui.api(Method::POST, "/api/v1/apps", Some(json!({"name": "排序"}))).await;
        let table = ui
            .api(Method::POST, &format!("/api/v1/apps/{}/tables", app["id"].as_str().unwrap()),
                Some(json!({"name": "待办"})))
            .await;
        let base = format!("/api/v1/apps/{}/tables/{}", app["id"].as_str().unwrap(), table["id"].as_str().unwrap());
        let field = |body: Value| {
            let ui = &ui;
            let base = &base;
            async move {
                ui.api(Method::POST, &format!("{base}/fields"), Some(body)).await["key"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let name = field(json!({"name": "事项", "type": "text"})).await;
        let state = field(json!({"name": "状态", "type": "single_select",
            "options": {"choices": [{"name": "待办"}, {"name": "完成"}]}})).await;
        let order = field(json!({"name": "顺序", "type": "number"})).await;
        // Made in this order; their places say otherwise (甲 last, 丙 without a place comes first).
        for (title, column, place) in [("甲", "待办", json!("200")), ("乙", "待办", json!("100")),
            ("丙", "待办", Value::Null), ("丁", "完成", json!("100"))] {
            ui.api(Method::POST, &format!("{base}/records"),
                Some(json!({"fields": {&name: title, &state: column, &order: place}}))).await;
        }
        // The view's own sort names the order field descending: the order field still comes first,
        // ascending, once.
        let view = ui
            .api(Method::POST, &format!("{base}/views"), Some(json!({"name": "看板", "type": "kanban",
                "config": {"group_field": state, "order_field": order, "sort": format!("-{order}")}})))
            .await;
        let view_id = view["id"].as_str().unwrap().to_owned();
        let cookie = ui.log_in().await;
        let path = format!("{}?view={view_id}", base.trim_start_matches("/api/v1"));
        let page = ui.page(&path, &cookie, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let board = page.text.split("class=\"board-body\"").nth(1).unwrap();
        assert!(at(board, "丙") < at(board, "乙") && at(board, "乙") < at(board, "甲"), "{board}");
        assert!(page.text.contains(&format!("data-order-field=\"{order}\" data-order-precision=\"0\"")), "{}", page.text);
        let card = |title: &str| board[at(board, title)..].split("</li>").next().unwrap().to_owned();
        assert!(card("乙").contains("data-rank=\"100\""), "{}", card("乙"));
        assert!(card("丙").contains("data-rank=\"\""), "{}", card("丙"));
        assert!(!card("甲").contains("<dt>顺序</dt>"), "the place is not shown on the card: {}", card("甲"));
        // The hint and the Move to… dialog say how to move a card within its column.
        assert!(page.text.contains("或本列的其他位置"), "{}", page.text);
        assert!(page.text.contains("data-order=\"up\">上移</button>") && page.text.contains("data-order=\"down\">下移</button>"));
        // The settings dialog offers number fields only, the stored one chosen.
        assert!(page.text.contains(&format!("<option value=\"{order}\" selected>顺序</option>")), "{}", page.text);
        let select = page.text.split("name=\"config.order_field\"").nth(1).unwrap().split("</select>").next().unwrap();
        assert!(page.text.contains("未选卡片顺序字段时，卡片按视图的排序排列"), "the dialog's order hint");
        assert!(select.contains("无：卡片按排序排列") && !select.contains(&format!("value=\"{name}\"")), "{select}");
        // The part read again live: in English, the same order.
        let part = ui.page(&format!("{}/views/{view_id}/part", base.trim_start_matches("/api/v1")), &cookie, "en").await;
        assert!(at(&part.text, "丙") < at(&part.text, "乙") && at(&part.text, "乙") < at(&part.text, "甲"), "{}", part.text);

        // The view's records over the API follow the same order (ties in creation order).
        let listed = ui.api(Method::GET, &format!("{base}/views/{view_id}/records"), None).await;
        let titles: Vec<&str> = listed["items"].as_array().unwrap().iter()
            .map(|item| item["fields"][&name].as_str().unwrap()).collect();
        assert_eq!(titles, ["丙", "乙", "丁", "甲"], "{listed}");

        // A text field cannot hold the order: 422 naming the setting, the view unchanged.
        let authorization = format!("Bearer {}", ui.admin_token);
        let refused = ui
            .send(Method::PATCH, &format!("{base}/views/{view_id}"), &[("authorization", &authorization)],
                Some(json!({"name": "看板", "type": "kanban", "config": {"group_field": state, "order_field": name}})))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        let error = refused.json();
        assert_eq!(error["error"]["details"][0]["field"], "config.order_field", "{error}");
        let stored = ui.api(Method::GET, &format!("{base}/views/{view_id}"), None).await;
        assert_eq!(stored["config"]["order_field"], json!(order), "{stored}");

        // The card fields: the order field hidden there is not on the cards; listed, it is.
        for (hidden, shown) in [(true, false), (false, true)] {
            ui.api(Method::PATCH, &format!("{base}/views/{view_id}"), Some(json!({"name": "看板", "type": "kanban",
                "config": {"group_field": state, "order_field": order, "fields": [{"field": order, "hidden": hidden}]}}))).await;
            let page = ui.page(&path, &cookie, "zh-CN").await;
            let board = page.text.split("class=\"board-body\"").nth(1).unwrap();
            let card = board[at(board, "乙")..].split("</li>").next().unwrap();
            assert_eq!(card.contains("<dt>顺序</dt>"), shown, "hidden {hidden}: {card}");
        }

        // Without an order field the column follows the view's sort (here the order field descending)
        // and no card carries a place.
        ui.api(Method::PATCH, &format!("{base}/views/{view_id}"),
            Some(json!({"name": "看板", "type": "kanban",
                "config": {"group_field": state, "order_field": null, "sort": format!("-{order}")}}))).await;
        let page = ui.page(&path, &cookie, "en").await;
        let board = page.text.split("class=\"board-body\"").nth(1).unwrap();
        assert!(at(board, "甲") < at(board, "乙"), "{board}");
        assert!(!board.contains("data-rank="), "{board}");
        assert!(page.text.contains("data-order-field=\"\""));

        // The order field deleted while a view still names it: the board keeps the view's filter and
        // shows its cards, without hand order.
        ui.api(Method::PATCH, &format!("{base}/views/{view_id}"), Some(json!({"name": "看板", "type": "kanban",
            "config": {"group_field": state, "order_field": order,
                "filter": {"field": name, "op": "ne", "value": "丁"}}}))).await;
        ui.api(Method::DELETE, &format!("{base}/fields/{order}"), None).await;
        let page = ui.page(&path, &cookie, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let board = page.text.split("class=\"board-body\"").nth(1).unwrap();
        assert!(at(board, "甲") < at(board, "乙"), "creation order: {board}");
        assert!(!board.contains("aria-label=\"丁\""), "the view's filter still applies: {board}");
        assert!(page.text.contains("data-order-field=\"\""));
        ui
    }
}
