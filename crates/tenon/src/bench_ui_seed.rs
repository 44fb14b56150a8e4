//! The ui suite's data, made through the REST API as a builder would: one app with a 20-field grid table,
//! a kanban table, a calendar table, an orders table under a six-widget dashboard (with the composite
//! indexes its aggregates read), and a small table behind a public form. Values are deterministic (a
//! counter-driven mix), so two runs load the same rows.

use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Value, json};

use crate::bench::fail;
use crate::bench_ui::Client;
use crate::commands::Failure;

pub(crate) const APP: &str = "uibench";
/// Records per bulk request (the API's maximum).
const BULK: u64 = 1000;

/// What the measurements need to find again.
pub(crate) struct Seeded {
    pub kanban_view: String,
    pub calendar_view: String,
    /// The day the calendar is opened at (its month holds most events).
    pub calendar_date: String,
    pub form_slug: String,
}

/// The month the calendar shows: its events spread over nine weeks from two weeks before it.
pub(crate) const CALENDAR_MONTH: (i32, u32) = (2026, 11);

/// A cheap, deterministic mix of `n` (splitmix64), for spreading values.
pub(crate) fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const STATUSES: [&str; 5] = ["待办", "进行中", "审核", "完成", "搁置"];
const REPS: [&str; 8] = [
    "王芳", "李强", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽",
];
const CITIES: [&str; 6] = ["杭州", "上海", "深圳", "成都", "武汉", "沈阳"];
const REGIONS: [&str; 6] = ["华东", "华南", "华北", "华中", "西南", "东北"];

fn money(n: u64) -> String {
    format!("{}.{:02}", mix(n) % 100_000, mix(n + 7) % 100)
}

fn field(name: &str, key: &str, kind: &str) -> Value {
    json!({"name": name, "key": key, "type": kind})
}

fn select(name: &str, key: &str, kind: &str, choices: &[&str]) -> Value {
    json!({"name": name, "key": key, "type": kind, "options": {"choices": choices}})
}

/// The grid table's 20 fields: text, long text, numbers, money, dates, choices, a checkbox, an email.
fn grid_fields() -> Value {
    json!([
        field("名称", "name", "text"),
        field("编号", "code", "text"),
        field("客户", "customer", "text"),
        field("联系人", "contact", "text"),
        field("城市", "city", "text"),
        field("备注", "notes", "long_text"),
        field("说明", "details", "long_text"),
        field("数量", "qty", "number"),
        field("重量", "weight", "number"),
        field("评分", "score", "number"),
        field("单价", "price", "currency"),
        field("金额", "amount", "currency"),
        field("下单日期", "ordered", "date"),
        field("交付日期", "due", "date"),
        field("更新时间", "touched", "datetime"),
        select("状态", "status", "single_select", &STATUSES),
        select("区域", "region", "single_select", &REGIONS),
        select(
            "标签",
            "tags",
            "multi_select",
            &["加急", "大客户", "新客户", "复购"]
        ),
        field("已付款", "paid", "checkbox"),
        field("邮箱", "email", "email")
    ])
}

fn day(n: u64, span: u64) -> String {
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    (first + Days::new(mix(n) % span)).to_string()
}

fn grid_row(n: u64) -> Value {
    let surname = SURNAMES[(mix(n) % 8) as usize];
    json!({"fields": {
        "name": format!("{surname}记订单 {n}"),
        "code": format!("SO-{n:07}"),
        "customer": format!("{}氏贸易有限公司", SURNAMES[(mix(n + 1) % 8) as usize]),
        "contact": format!("{surname}先生"),
        "city": CITIES[(mix(n + 2) % 6) as usize],
        "notes": format!("第 {n} 单：按合同约定分两批交付，第二批随发票。"),
        "details": if n.is_multiple_of(3) { Value::Null } else { json!("客户要求周末前到货") },
        "qty": mix(n + 3) % 500,
        "weight": mix(n + 4) % 10_000,
        "score": mix(n + 5) % 100,
        "price": money(n + 6),
        "amount": money(n + 8),
        "ordered": day(n, 700),
        "due": day(n + 9, 760),
        "touched": format!("{}T{:02}:{:02}:00Z", day(n + 10, 700), mix(n) % 24, mix(n + 1) % 60),
        "status": STATUSES[(mix(n + 11) % 5) as usize],
        "region": REGIONS[(mix(n + 12) % 6) as usize],
        "tags": if n.is_multiple_of(4) { json!(["加急", "大客户"]) } else { json!([]) },
        "paid": n.is_multiple_of(2),
        "email": format!("buyer{n}@example.com")
    }})
}

fn card_row(n: u64) -> Value {
    // One card in twenty has no status: the kanban's last column.
    let status = if n % 20 == 19 {
        Value::Null
    } else {
        json!(STATUSES[(mix(n) % 5) as usize])
    };
    json!({"fields": {
        "title": format!("任务 {n}：{}核对合同条款", SURNAMES[(mix(n + 1) % 8) as usize]),
        "status": status,
        "owner": REPS[(mix(n + 2) % 8) as usize],
        "due": day(n, 400),
        "points": mix(n + 3) % 13
    }})
}

/// The calendar's first day: two weeks before the month shown.
fn calendar_first() -> NaiveDate {
    let (year, month) = CALENDAR_MONTH;
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default() - Days::new(14)
}

fn event_row(n: u64) -> Value {
    let start = calendar_first() + Days::new(mix(n) % 63);
    // A third of the events last two to four days.
    let end = n
        .is_multiple_of(3)
        .then(|| (start + Days::new(2 + mix(n + 1) % 3)).to_string());
    json!({"fields": {
        "title": format!("{}的会议 {n}", REPS[(mix(n + 2) % 8) as usize]),
        "starts": start.to_string(),
        "ends": end
    }})
}

fn order_row(n: u64, today: NaiveDate) -> Value {
    // Two years of orders up to today, so "this month" and the monthly chart both have data.
    let booked = today - Days::new(mix(n) % 730);
    json!({"fields": {
        "customer": format!("{}氏商行 {}", SURNAMES[(mix(n + 1) % 8) as usize], mix(n + 2) % 5000),
        "amount": money(n + 3),
        "booked_on": booked.to_string(),
        "rep": REPS[(mix(n + 4) % 8) as usize],
        "region": REGIONS[(mix(n + 5) % 6) as usize]
    }})
}

async fn post(client: &Client, path: &str, body: Value) -> Result<Value, Failure> {
    let answer = client.api_post(path, &body).await?;
    serde_json::from_slice(&answer.body).map_err(|error| fail(format!("{path}: {error}")))
}

async fn load(
    client: &Client,
    table: &str,
    rows: u64,
    row: impl Fn(u64) -> Value,
) -> Result<(), Failure> {
    let path = format!("/api/v1/apps/{APP}/tables/{table}/records");
    let mut n = 0;
    while n < rows {
        let end = (n + BULK).min(rows);
        let batch: Vec<Value> = (n..end).map(&row).collect();
        post(client, &path, json!({"records": batch})).await?;
        n = end;
    }
    Ok(())
}

fn id_of(view: &Value) -> Result<String, Failure> {
    view["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| fail(format!("a view without an id: {view}")))
}

/// Makes the app and loads every table (the largest last), printing how long each load took.
pub(crate) async fn seed(
    client: &Client,
    grid_rows: u64,
    cards: u64,
    events: u64,
    orders: u64,
) -> Result<Seeded, Failure> {
    let tables = format!("/api/v1/apps/{APP}/tables");
    post(
        client,
        "/api/v1/apps",
        json!({"name": "界面基准 UI bench", "key": APP}),
    )
    .await?;

    // A small table behind a public form: what an outsider fills in on a phone.
    post(client, &tables, json!({"name": "住宿申请", "key": "applications", "fields": [
        field("姓名", "name", "text"), field("电话", "phone", "phone"), field("邮箱", "email", "email"),
        field("到达日期", "arrive", "date"), select("房型", "room", "single_select", &["单人间", "双人间", "套房"]),
        field("留言", "note", "long_text")
    ]}))
    .await?;
    let form = post(client, &format!("{tables}/applications/views"), json!({"name": "申请表", "type": "form", "config": {
        "title": "住宿申请 / Apply for a room", "description": "请填写以下信息，我们会在一个工作日内联系您。",
        "fields": ["name", {"field": "phone", "required": true, "help": "手机号码"}, "email", "arrive", "room", "note"],
        "public": true}})).await?;
    let form_slug = form["public_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .map(str::to_owned)
        .ok_or_else(|| fail(format!("the form has no public link: {form}")))?;

    post(client, &tables, json!({"name": "任务", "key": "tasks", "fields": [
        field("标题", "title", "text"), select("状态", "status", "single_select", &STATUSES),
        field("负责人", "owner", "text"), field("截止日期", "due", "date"), field("点数", "points", "number")
    ]}))
    .await?;
    let kanban = post(
        client,
        &format!("{tables}/tasks/views"),
        json!({"name": "看板", "type": "kanban", "config": {"group_field": "status"}}),
    )
    .await?;
    load(client, "tasks", cards, card_row).await?;

    post(client, &tables, json!({"name": "会议", "key": "meetings", "fields": [
        field("标题", "title", "text"), field("开始", "starts", "date"), field("结束", "ends", "date")
    ]}))
    .await?;
    let calendar = post(
        client,
        &format!("{tables}/meetings/views"),
        json!({"name": "日历", "type": "calendar",
        "config": {"date_field": "starts", "end_date_field": "ends"}}),
    )
    .await?;
    load(client, "meetings", events, event_row).await?;

    post(
        client,
        &tables,
        json!({"name": "订单明细", "key": "grid", "fields": grid_fields()}),
    )
    .await?;
    load(client, "grid", grid_rows, grid_row).await?;

    // The dashboard's table: the composite indexes its aggregates read (period sums, sums by rep and
    // by region), as its builder would declare them.
    post(
        client,
        &tables,
        json!({"name": "订单", "key": "orders", "fields": [
        field("客户", "customer", "text"),
        {"name": "金额", "key": "amount", "type": "currency", "indexed": true},
        {"name": "下单日期", "key": "booked_on", "type": "date", "indexed": true},
        select("销售", "rep", "single_select", &REPS),
        select("区域", "region", "single_select", &REGIONS)
    ], "indexes": [["booked_on", "amount"], ["rep", "amount"], ["region", "amount"]]}),
    )
    .await?;
    post(
        client,
        &format!("{tables}/orders/views"),
        json!({"name": "最新订单", "key": "latest", "type": "grid",
        "config": {"fields": ["customer", "amount", "booked_on", "rep"], "sort": "-booked_on"}}),
    )
    .await?;
    let today = chrono::Utc::now().date_naive();
    load(client, "orders", orders, |n| order_row(n, today)).await?;
    client
        .api_put(
            &format!("/api/v1/apps/{APP}/dashboards/boss"),
            &json!({"name": "老板看板", "widgets": dashboard_widgets()}),
        )
        .await?;

    let (year, month) = CALENDAR_MONTH;
    Ok(Seeded {
        kanban_view: id_of(&kanban)?,
        calendar_view: id_of(&calendar)?,
        calendar_date: NaiveDate::from_ymd_opt(year, month, 15)
            .map(|day| day.to_string())
            .unwrap_or_default(),
        form_slug,
    })
}

/// The dashboard's widgets, by key.
pub(crate) const WIDGETS: [&str; 6] =
    ["count", "amount", "by_month", "by_rep", "regions", "latest"];

/// Six widgets over the orders table: two numbers of this month, a monthly line, a bar by rep, the top
/// regions and the latest orders.
fn dashboard_widgets() -> Value {
    json!([
        {"key": "count", "title": "本月订单", "type": "number", "table": "orders", "metric": "count",
         "date_field": "booked_on", "period": "this_month", "compare": true},
        {"key": "amount", "title": "本月金额", "type": "number", "table": "orders", "metric": "sum:amount",
         "date_field": "booked_on", "period": "this_month"},
        {"key": "by_month", "title": "按月", "type": "chart", "chart": "line", "table": "orders",
         "group_by": "booked_on:month", "metrics": ["count", "sum:amount"]},
        {"key": "by_rep", "title": "按销售", "type": "chart", "chart": "bar", "table": "orders",
         "group_by": "rep", "metrics": "sum:amount"},
        {"key": "regions", "title": "前五区域", "type": "top", "table": "orders", "group_by": "region",
         "metric": "sum:amount", "limit": 5},
        {"key": "latest", "title": "最新订单", "type": "records", "table": "orders", "view": "latest", "limit": 10}
    ])
}

/// The first day of the calendar's month, for the report.
pub(crate) fn calendar_month_label() -> String {
    let (year, month) = CALENDAR_MONTH;
    NaiveDate::from_ymd_opt(year, month, 1)
        .map(|day| format!("{}-{:02}", day.year(), day.month()))
        .unwrap_or_default()
}
