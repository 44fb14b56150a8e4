//! The dashboard page for a builder: each widget's own tools (move up, move down, edit), the widget and
//! delete dialogs, and the page following ledger events only when it shows a ledger widget.

use super::*;

ui_tests! {
    async fn a_builder_gets_each_widgets_tools_and_the_delete_dialog_and_ledger_widgets_follow_vouchers(ui) {
        let app = ui.api(Method::POST, "/api/v1/apps", Some(json!({"name": "销售"}))).await;
        let app_id = app["id"].as_str().unwrap().to_owned();
        let table = ui
            .api(Method::POST, &format!("/api/v1/apps/{app_id}/tables"), Some(json!({"name": "订单"})))
            .await;
        let table_id = table["id"].as_str().unwrap().to_owned();
        let board = format!("/api/v1/apps/{app_id}/dashboards/boss");
        ui.api(Method::PUT, &board, Some(json!({"name": "老板看板", "widgets": [
            {"key": "count", "title": "订单数", "type": "number", "table": table_id},
            {"key": "cash", "title": "现金", "type": "ledger", "book": "主账套", "account": "1001"}
        ]}))).await;
        let cookie = ui.log_in().await;
        let page = ui.page(&format!("/apps/{app_id}/dashboards/boss"), &cookie, "zh-CN").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = &page.text;
        assert_eq!(html.matches(">编辑组件</button>").count(), 2, "{html}");
        assert_eq!(html.matches(">上移</button>").count(), 2);
        // The first widget cannot move up, the last cannot move down.
        assert!(html.contains(r#"data-widget-action="up" disabled>上移"#), "{html}");
        assert!(html.contains(r#"data-widget-action="down" disabled>下移"#), "{html}");
        assert!(html.contains(r#"<dialog id="edit-widget-dialog""#));
        assert!(html.contains(r#"data-method="DELETE" data-url="/api/v1/apps/"#) && html.contains(">删除仪表盘</button>"));
        assert!(html.contains(r#"data-ledger-events="true""#), "a ledger widget follows voucher.posted");
        let english = ui.page(&format!("/apps/{app_id}/dashboards/boss"), &cookie, "en").await;
        assert!(english.text.contains(">Edit widget</button>") && english.text.contains(">Delete dashboard</button>"));
        assert!(english.text.contains(">Remove widget</button>"));
        // Without a ledger widget the page hears record events only.
        ui.api(Method::PUT, &board, Some(json!({"name": "老板看板", "widgets": [
            {"key": "count", "title": "订单数", "type": "number", "table": table_id}
        ]}))).await;
        let page = ui.page(&format!("/apps/{app_id}/dashboards/boss"), &cookie, "zh-CN").await;
        assert!(!page.text.contains("data-ledger-events"));
        ui
    }
}
