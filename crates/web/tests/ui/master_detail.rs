//! Master–detail forms on the page `/f/{slug}` as a browser without JavaScript posts them: rows named
//! `lines[0][qty]`, "Add row" / "Remove row" answered by the server, a refused line shown at its cell
//! with every value kept; and a member's rows limited by her app role.

use super::*;

const ORDERS: &str = "/api/v1/apps/shop/tables/orders";
const LINES: &str = "/api/v1/apps/shop/tables/lines";

/// Orders with lines (a rollup of their amounts) and a form whose `lines` entry is a sub-table;
/// answers the form's slug.
async fn shop(ui: &TestUi, extra: Value) -> String {
    ui.api(
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "茶店", "key": "shop"})),
    )
    .await;
    ui.api(
        Method::POST,
        "/api/v1/apps/shop/tables",
        Some(json!({"name": "订单", "key": "orders", "fields": [
            {"name": "客户", "key": "customer", "type": "text", "required": true},
            {"name": "渠道", "key": "channel", "type": "text"}
        ]})),
    )
    .await;
    ui.api(Method::POST, "/api/v1/apps/shop/tables", Some(json!({"name": "订单明细", "key": "lines", "fields": [
        {"name": "商品", "key": "product", "type": "text", "required": true},
        {"name": "数量", "key": "qty", "type": "number"},
        {"name": "单价", "key": "price", "type": "currency"},
        {"name": "金额", "key": "amount", "type": "formula", "options": {"formula": "ROUND({单价} * {数量}, 2)"}},
        {"name": "订单", "key": "order", "type": "link", "options": {"table": "orders", "multiple": false, "inverse_key": "lines", "inverse_name": "明细"}}
    ]}))).await;
    ui.api(Method::POST, &format!("{ORDERS}/fields"), Some(json!({"name": "合计", "key": "total", "type": "rollup", "options": {"link": "lines", "field": "amount", "function": "sum"}}))).await;
    let mut config = json!({
        "fields": ["customer", {"field": "lines", "subtable": {"fields": ["product", "qty", "price"], "min_rows": 1, "max_rows": 3}}],
        "public": true
    });
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    let view = ui
        .api(
            Method::POST,
            &format!("{ORDERS}/views"),
            Some(json!({"name": "下单", "type": "form", "config": config})),
        )
        .await;
    view["public_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// A clerk of the shop, logged in: her session cookie and member id.
pub(crate) async fn clerk(ui: &TestUi) -> (String, Value) {
    let email = format!("clerk{}@shop.example", unique());
    ui.api(
        Method::POST,
        "/api/v1/members",
        Some(
            json!({"name": "店员", "email": email, "role": "member", "password": "member-pass-1"}),
        ),
    )
    .await;
    let reply = ui
        .send(
            Method::POST,
            "/api/v1/auth/login",
            &[],
            Some(json!({"email": email, "password": "member-pass-1"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let cookie = reply
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let member = ui
        .api(Method::GET, "/api/v1/members?page_size=100", None)
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email.as_str())
        .unwrap()["id"]
        .clone();
    (cookie, member)
}

async fn post(ui: &TestUi, path: &str, cookie: Option<&str>, pairs: &[(&str, &str)]) -> Page {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut request = ui
        .http
        .post(format!("{}{path}", ui.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(cookie) = cookie {
        request = request
            .header("cookie", cookie)
            .header("origin", ui.base.as_str());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    Page {
        status,
        headers,
        text,
    }
}

async fn count(ui: &TestUi, table: &str) -> usize {
    ui.api(Method::GET, &format!("{table}/records"), None).await["items"]
        .as_array()
        .unwrap()
        .len()
}

ui_tests! {
    async fn an_order_with_its_lines_is_posted_without_javascript(ui) {
        let slug = shop(&ui, json!({})).await;
        let path = format!("/f/{slug}");
        let page = ui.send(Method::GET, &path, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("<caption id=\"s-1-label\" data-user-content>明细"), "{}", page.text);
        assert!(page.text.contains("name=\"lines[0][product]\""));
        assert!(!page.text.contains("name=\"lines[1][product]\""), "min_rows: one row to start");
        assert!(page.text.contains(">添加一行</button>"));

        // Add row: the page again with two rows, the values kept, nothing written.
        let added = post(&ui, &path, None, &[("customer", "王芳"), ("lines[0][product]", "龙井"), ("lines[0][qty]", "2"), ("subtable", "add:lines")]).await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.text);
        assert!(added.text.contains("name=\"lines[1][product]\""));
        assert!(added.text.contains("value=\"龙井\"") && added.text.contains("value=\"王芳\""));
        assert!(added.text.contains(">删除此行</button>"));
        assert_eq!(count(&ui, ORDERS).await, 0);
        // At max_rows the add button is gone.
        let full = post(&ui, &path, None, &[("lines[0][product]", "a"), ("lines[1][product]", "b"), ("lines[2][product]", "c")]).await;
        assert_eq!(full.status, StatusCode::UNPROCESSABLE_ENTITY, "no customer: {}", full.text);
        assert!(full.text.contains("name=\"lines[2][product]\"") && !full.text.contains(">添加一行</button>"), "{}", full.text);
        // Remove row 0: row 1 moves up.
        let removed = post(&ui, &path, None, &[("lines[0][product]", "龙井"), ("lines[1][product]", "茶杯"), ("subtable", "remove:lines:0")]).await;
        assert!(removed.text.contains("value=\"茶杯\"") && !removed.text.contains("value=\"龙井\""), "{}", removed.text);
        assert!(removed.text.contains("name=\"lines[0][product]\"") && !removed.text.contains("name=\"lines[1][product]\""));

        // A refused line: the page again, the error at that cell, every value kept, nothing written.
        let refused = post(&ui, &path, None, &[
            ("customer", "王芳"),
            ("lines[0][product]", "龙井"), ("lines[0][qty]", "2"), ("lines[0][price]", "30"),
            ("lines[1][product]", ""), ("lines[1][qty]", ""), ("lines[1][price]", ""),
            ("lines[2][product]", "茶杯"), ("lines[2][qty]", "六"), ("lines[2][price]", "5.5"),
        ]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert!(refused.text.contains("id=\"s-1-r3-c2\" name=\"lines[2][qty]\" type=\"text\" value=\"六\" inputmode=\"decimal\" aria-invalid=\"true\""), "the error at the page's third row (the empty one is skipped): {}", refused.text);
        assert!(refused.text.contains("id=\"s-1-r3-c2-error\""));
        assert!(refused.text.contains("value=\"龙井\"") && refused.text.contains("value=\"5.5\""));
        assert!(refused.text.contains("请修改标出的项目后再提交"));
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (0, 0));
        // Too many rows for the form: said above the table.
        let many = post(&ui, &path, None, &[("customer", "王芳"), ("lines[0][product]", "a"), ("lines[1][product]", "b"), ("lines[2][product]", "c"), ("lines[3][product]", "d")]).await;
        assert_eq!(many.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", many.text);
        assert!(many.text.contains("id=\"s-1-error\""), "{}", many.text);

        // Right: the thank-you, one order with both lines and its total.
        let done = post(&ui, &path, None, &[
            ("customer", "王芳"),
            ("lines[0][product]", "龙井"), ("lines[0][qty]", "2"), ("lines[0][price]", "30"),
            ("lines[1][product]", "茶杯"), ("lines[1][qty]", "6"), ("lines[1][price]", "5.5"),
        ]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let orders = ui.api(Method::GET, &format!("{ORDERS}/records"), None).await;
        assert_eq!(orders["items"].as_array().unwrap().len(), 1);
        assert_eq!(orders["items"][0]["fields"]["total"], "93.00");
        assert_eq!(count(&ui, LINES).await, 2);
        ui
    }

    async fn a_members_rows_need_her_app_roles_create_on_the_linked_table(ui) {
        let slug = shop(&ui, json!({"members_only": true})).await;
        let path = format!("/f/{slug}");
        let (cookie, member) = clerk(&ui).await;
        // Clerks may create orders, and only cheap lines.
        ui.api(Method::PUT, "/api/v1/apps/shop/permissions", Some(json!({"roles": [
            {"key": "clerks", "name": "店员", "who": {"members": [member]}, "grants": [
                {"table": "orders", "actions": {"read": true, "create": true}},
                {"table": "lines", "actions": {"read": true, "create": "{单价} < 100"}}
            ]}
        ]}))).await;
        let line = |price: &'static str| vec![("customer", "熟客"), ("lines[0][product]", "茶"), ("lines[0][qty]", "1"), ("lines[0][price]", price)];
        let dear = post(&ui, &path, Some(&cookie), &line("500")).await;
        assert_eq!(dear.status, StatusCode::FORBIDDEN, "{}", dear.text);
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (0, 0), "nothing written");
        let cheap = post(&ui, &path, Some(&cookie), &line("20")).await;
        assert_eq!(cheap.status, StatusCode::OK, "{}", cheap.text);
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (1, 1));
        // Without create on the lines at all, the form refuses the member's rows.
        ui.api(Method::PUT, "/api/v1/apps/shop/permissions", Some(json!({"roles": [
            {"key": "clerks", "name": "店员", "who": {"members": [member]}, "grants": [
                {"table": "orders", "actions": {"read": true, "create": true}},
                {"table": "lines", "actions": {"read": true}}
            ]}
        ]}))).await;
        let refused = post(&ui, &path, Some(&cookie), &line("20")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (1, 1));
        ui
    }

    async fn a_members_order_needs_her_app_roles_create_on_the_forms_table(ui) {
        let slug = shop(&ui, json!({"members_only": true})).await;
        let path = format!("/f/{slug}");
        let (cookie, member) = clerk(&ui).await;
        let line = |customer: &'static str| vec![("customer", customer), ("lines[0][product]", "茶"), ("lines[0][qty]", "1"), ("lines[0][price]", "20")];
        // Only regulars' orders, then none at all.
        ui.api(Method::PUT, "/api/v1/apps/shop/permissions", Some(json!({"roles": [
            {"key": "clerks", "name": "店员", "who": {"members": [member]}, "grants": [
                {"table": "orders", "actions": {"read": true, "create": "{客户} = \"熟客\""}},
                {"table": "lines", "actions": {"read": true, "create": true}}
            ]}
        ]}))).await;
        let refused = post(&ui, &path, Some(&cookie), &line("生客")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (0, 0), "nothing written");
        let regular = post(&ui, &path, Some(&cookie), &line("熟客")).await;
        assert_eq!(regular.status, StatusCode::OK, "{}", regular.text);
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (1, 1));
        ui.api(Method::PUT, "/api/v1/apps/shop/permissions", Some(json!({"roles": [
            {"key": "clerks", "name": "店员", "who": {"members": [member]}, "grants": [
                {"table": "orders", "actions": {"read": true}},
                {"table": "lines", "actions": {"read": true, "create": true}}
            ]}
        ]}))).await;
        let refused = post(&ui, &path, Some(&cookie), &line("熟客")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(refused.text.contains("你的应用角色不允许在这个表中新建记录。"), "{}", refused.text);
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (1, 1), "nothing written");
        ui
    }

    async fn a_hidden_fields_default_is_not_the_members_own_value(ui) {
        // The form fixes the channel (hidden, with a default); her role makes the channel read-only.
        let fields = json!(["customer", {"field": "channel", "hidden": true, "default": "门店"},
            {"field": "lines", "subtable": {"fields": ["product", "qty", "price"], "min_rows": 1, "max_rows": 3}}]);
        let slug = shop(&ui, json!({"members_only": true, "fields": fields})).await;
        let path = format!("/f/{slug}");
        let (cookie, member) = clerk(&ui).await;
        ui.api(Method::PUT, "/api/v1/apps/shop/permissions", Some(json!({"roles": [
            {"key": "clerks", "name": "店员", "who": {"members": [member]}, "grants": [
                {"table": "orders", "actions": {"read": true, "create": true}, "fields": {"hidden": [], "read_only": ["channel"]}},
                {"table": "lines", "actions": {"read": true, "create": true}}
            ]}
        ]}))).await;
        let pairs = [("customer", "熟客"), ("lines[0][product]", "茶"), ("lines[0][qty]", "1"), ("lines[0][price]", "20")];
        let done = post(&ui, &path, Some(&cookie), &pairs).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let orders = ui.api(Method::GET, &format!("{ORDERS}/records"), None).await;
        assert_eq!(orders["items"][0]["fields"]["channel"], "门店", "{orders}");
        assert_eq!((count(&ui, ORDERS).await, count(&ui, LINES).await), (1, 1), "the order and its line");
        ui
    }
}
