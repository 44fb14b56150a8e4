//! Dashboards: a part of an app (`dashboards:` in `tenon.app/v1`) that puts figures on one screen — a
//! number, a chart, a top-N table, a ledger figure, a view's first rows — each a widget of a grid.
//!
//! A dashboard is kept as the JSON its author wrote (with derived widget keys filled in); this module
//! checks its shape ([`Dashboard::parse`]) and, given the app's tables and views, that everything it names
//! exists ([`check::check_references`]). What a widget shows is computed by the server with the
//! aggregate and ledger queries.
//!
//! ```yaml
//! dashboards:
//!   - key: sales
//!     name: 销售看板 Sales
//!     widgets:
//!       - {key: orders, title: 本月订单 Orders this month, type: number, table: orders, metric: count,
//!          date_field: created, period: this_month, compare: true}
//!       - {title: 按周 By week, type: chart, chart: line, table: orders, group_by: "created:week",
//!          metrics: [count, "sum:amount"]}
//!       - {title: 前五客户 Top 5 customers, type: top, table: orders, group_by: customer, metric: "sum:amount", limit: 5}
//!       - {title: 应收账款 Receivables, type: ledger, book: 主账套, account: "1122", measure: balance}
//!       - {title: 最新订单 Latest orders, type: records, table: orders, view: open, limit: 5}
//! ```

use chrono::{Datelike, Days, Months, NaiveDate};
use serde_json::{Map, Value};

use crate::apps::ApiKey;
use crate::apps::filter::{RELATIVE_DAYS, relative_days};
use crate::validation::{Checker, DetailCode, FieldError, Invalid, Reason};
use crate::values::Name;

pub mod check;

/// Most dashboards an app may have.
pub const DASHBOARDS_PER_APP_MAX: usize = 50;
/// Most widgets on one dashboard.
pub const WIDGETS_MAX: usize = 40;
/// Most rows a top-N or records widget shows.
pub const WIDGET_ROWS_MAX: u32 = 100;
/// Most characters of a widget's title.
pub const TITLE_MAX: usize = 200;
/// Columns of the dashboard grid (a widget's `width` is from 1 to this).
pub const GRID_COLUMNS: u8 = 12;

/// A checked dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub key: ApiKey,
    pub name: Name,
    pub widgets: Vec<Widget>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Widget {
    pub key: ApiKey,
    pub title: String,
    /// Grid columns taken (1–12).
    pub width: u8,
    pub kind: WidgetKind,
    /// The widget as written, with its key filled in (what is stored and exported).
    pub source: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartType {
    Bar,
    Line,
    Pie,
}

impl ChartType {
    pub const ALL: [&'static str; 3] = ["bar", "line", "pie"];
    pub const fn as_str(self) -> &'static str {
        match self {
            ChartType::Bar => "bar",
            ChartType::Line => "line",
            ChartType::Pie => "pie",
        }
    }
    fn parse(raw: &str) -> Option<ChartType> {
        match raw {
            "bar" => Some(ChartType::Bar),
            "line" => Some(ChartType::Line),
            "pie" => Some(ChartType::Pie),
            _ => None,
        }
    }
}

/// A period of records: the date field and a relative range (`this_month`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPeriod {
    pub date_field: String,
    pub range: String,
}

/// What a ledger widget reads of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerMeasure {
    /// The closing balance at the end of the period.
    Balance,
    /// The net amount posted in the period, on the account's normal side.
    Movement,
}

impl LedgerMeasure {
    pub const fn as_str(self) -> &'static str {
        match self {
            LedgerMeasure::Balance => "balance",
            LedgerMeasure::Movement => "movement",
        }
    }
}

/// The ledger periods a widget may show.
pub const LEDGER_PERIODS: [&str; 3] = ["this_month", "last_month", "this_year"];

#[derive(Debug, Clone, PartialEq)]
pub enum WidgetKind {
    /// One aggregate (`count`, `sum:amount`…) of the records that pass the filter (and fall in the period).
    Number {
        table: String,
        metric: String,
        filter: Option<Value>,
        period: Option<RecordPeriod>,
        /// Also show the same figure for the period before.
        compare: bool,
    },
    /// Groups (by a field or a date bucket) with one or more metrics, drawn as a bar, line or pie chart.
    Chart {
        table: String,
        chart: ChartType,
        group_by: String,
        metrics: Vec<String>,
        filter: Option<Value>,
        period: Option<RecordPeriod>,
        limit: Option<u32>,
    },
    /// The first `limit` groups by one metric, largest first.
    Top {
        table: String,
        group_by: String,
        metric: String,
        limit: u32,
        filter: Option<Value>,
        period: Option<RecordPeriod>,
    },
    /// A trial-balance account's balance or movement in a period.
    Ledger {
        book: String,
        account: String,
        measure: LedgerMeasure,
        period: String,
    },
    /// A view's first rows.
    Records {
        table: String,
        view: String,
        limit: u32,
    },
}

impl WidgetKind {
    pub const TYPES: [&'static str; 5] = ["number", "chart", "top", "ledger", "records"];

    pub const fn type_name(&self) -> &'static str {
        match self {
            WidgetKind::Number { .. } => "number",
            WidgetKind::Chart { .. } => "chart",
            WidgetKind::Top { .. } => "top",
            WidgetKind::Ledger { .. } => "ledger",
            WidgetKind::Records { .. } => "records",
        }
    }

    /// The table of the app the widget reads (none for a ledger widget).
    pub fn table(&self) -> Option<&str> {
        match self {
            WidgetKind::Number { table, .. }
            | WidgetKind::Chart { table, .. }
            | WidgetKind::Top { table, .. }
            | WidgetKind::Records { table, .. } => Some(table),
            WidgetKind::Ledger { .. } => None,
        }
    }

    /// The settings each type takes besides `key`, `title`, `type` and `width`.
    fn settings(type_name: &str) -> &'static [&'static str] {
        match type_name {
            "number" => &[
                "table",
                "metric",
                "filter",
                "date_field",
                "period",
                "compare",
            ],
            "chart" => &[
                "table",
                "chart",
                "group_by",
                "metrics",
                "filter",
                "date_field",
                "period",
                "limit",
            ],
            "top" => &[
                "table",
                "group_by",
                "metric",
                "limit",
                "filter",
                "date_field",
                "period",
            ],
            "ledger" => &["book", "account", "measure", "period"],
            "records" => &["table", "view", "limit"],
            _ => &[],
        }
    }

    fn default_width(type_name: &str) -> u8 {
        match type_name {
            "number" | "ledger" => 3,
            "records" => 12,
            _ => 6,
        }
    }
}

impl Dashboard {
    /// Checks a dashboard's shape: `{key, name, widgets: [...]}`. Every problem comes back at once, at
    /// its path under `path` (`dashboards[0].widgets[2].table`).
    pub fn parse(value: &Value, path: &str) -> Result<Dashboard, Invalid> {
        let mut check = Checker::default();
        let at = |name: &str| join(path, name);
        let Some(object) = value.as_object() else {
            return Err(Invalid::from(
                Reason::wrong_type("object", "a dashboard is an object {key, name, widgets}")
                    .at(path.to_owned()),
            ));
        };
        for name in object.keys() {
            if !["key", "name", "widgets"].contains(&name.as_str()) {
                check.add(unknown(&at(name), &["key", "name", "widgets"]));
            }
        }
        let name = match object.get("name").and_then(Value::as_str) {
            Some(raw) => check.field(&at("name"), Name::parse(raw)),
            None => {
                check.push(at("name"), DetailCode::Required, "is required (text)");
                None
            }
        };
        let key = match object.get("key") {
            Some(Value::String(raw)) => check.field(&at("key"), ApiKey::parse(raw)),
            Some(_) => {
                check.add(Reason::wrong_type("string", "must be text").at(at("key")));
                None
            }
            None => name
                .as_ref()
                .and_then(|name| ApiKey::derive(name.as_str()))
                .or_else(|| {
                    check.push(
                        at("key"),
                        DetailCode::Required,
                        "no key is given and none can be derived from the name; give one",
                    );
                    None
                }),
        };
        let mut widgets = Vec::new();
        match object.get("widgets") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > WIDGETS_MAX {
                    check.too_many(
                        at("widgets"),
                        WIDGETS_MAX,
                        format!("a dashboard has at most {WIDGETS_MAX} widgets"),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    let wpath = format!("{}[{i}]", at("widgets"));
                    if let Some(widget) = parse_widget(&mut check, item, &wpath, &widgets, i) {
                        widgets.push(widget);
                    }
                }
            }
            Some(_) => check
                .add(Reason::wrong_type("array", "must be a list of widgets").at(at("widgets"))),
        }
        check.finish()?;
        match (key, name) {
            (Some(key), Some(name)) => Ok(Dashboard { key, name, widgets }),
            _ => Err(Invalid::one(path, DetailCode::Required, "key and name")),
        }
    }

    /// The dashboard as written (what is stored and exported): `{key, name, widgets}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "key": self.key.as_str(),
            "name": self.name.as_str(),
            "widgets": self.widgets.iter().map(|w| Value::Object(w.source.clone())).collect::<Vec<_>>(),
        })
    }

    pub fn widget(&self, key: &str) -> Option<&Widget> {
        self.widgets
            .iter()
            .find(|widget| widget.key.as_str() == key)
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn unknown(at: &str, allowed: &[&str]) -> FieldError {
    FieldError::new(
        at,
        DetailCode::UnknownOption,
        format!("unknown setting; this takes: {}", allowed.join(", ")),
    )
    .with("allowed", allowed.to_vec())
}

fn parse_widget(
    outer: &mut Checker,
    value: &Value,
    path: &str,
    before: &[Widget],
    index: usize,
) -> Option<Widget> {
    let Some(object) = value.as_object() else {
        outer.add(Reason::wrong_type("object", "a widget is an object").at(path.to_owned()));
        return None;
    };
    let mut local = Checker::default();
    let check = &mut local;
    let at = |name: &str| join(path, name);
    let type_name = match object.get("type").and_then(Value::as_str) {
        Some(raw) if WidgetKind::TYPES.contains(&raw) => raw,
        _ => {
            outer.add(
                Reason::not_one_of(
                    &WidgetKind::TYPES,
                    "must be number, chart, top, ledger or records",
                )
                .at(at("type")),
            );
            return None;
        }
    };
    let settings = WidgetKind::settings(type_name);
    let mut allowed = vec!["key", "title", "type", "width"];
    allowed.extend_from_slice(settings);
    for name in object.keys() {
        if !allowed.contains(&name.as_str()) {
            check.add(unknown(&at(name), &allowed));
        }
    }
    let title = match object.get("title").and_then(Value::as_str).map(str::trim) {
        Some(text) if !text.is_empty() && text.chars().count() <= TITLE_MAX => text.to_owned(),
        Some(text) if !text.is_empty() => {
            check.add(Reason::too_long(TITLE_MAX).at(at("title")));
            String::new()
        }
        _ => {
            check.push(
                at("title"),
                DetailCode::Required,
                "a widget needs a title (text)",
            );
            String::new()
        }
    };
    let key = match object.get("key") {
        Some(Value::String(raw)) => check.field(&at("key"), ApiKey::parse(raw)),
        Some(_) => {
            check.add(Reason::wrong_type("string", "must be text").at(at("key")));
            None
        }
        None => match ApiKey::derive(&title)
            .or_else(|| ApiKey::parse(&format!("w{}", index + 1)).ok())
        {
            Some(base) => Some(ApiKey::unique_among(base, |taken| {
                before.iter().any(|w| w.key.as_str() == taken)
            })),
            None => {
                check.push(at("key"), DetailCode::Required, "give the widget a key");
                None
            }
        },
    };
    if let Some(key) = &key
        && before.iter().any(|w| w.key == *key)
    {
        check.push(
            at("key"),
            DetailCode::NotUnique,
            format!("\"{key}\" is the key of another widget"),
        );
    }
    let width = match object.get("width") {
        None | Some(Value::Null) => WidgetKind::default_width(type_name),
        Some(value) => match value.as_u64() {
            Some(n) if (1..=u64::from(GRID_COLUMNS)).contains(&n) => n as u8,
            _ => {
                check.add(
                    FieldError::new(
                        at("width"),
                        DetailCode::OutOfRange,
                        format!("must be from 1 to {GRID_COLUMNS} (grid columns)"),
                    )
                    .with("min", 1)
                    .with("max", GRID_COLUMNS),
                );
                1
            }
        },
    };
    let text = |check: &mut Checker, name: &str, required: bool| -> Option<String> {
        match object.get(name) {
            Some(Value::String(raw)) if !raw.trim().is_empty() => Some(raw.trim().to_owned()),
            None | Some(Value::Null) if !required => None,
            _ => {
                check.push(
                    at(name),
                    DetailCode::Required,
                    format!("a {type_name} widget needs {name} (text)"),
                );
                None
            }
        }
    };
    let rows = |check: &mut Checker, default: u32| -> u32 {
        match object.get("limit") {
            None | Some(Value::Null) => default,
            Some(value) => match value.as_u64() {
                Some(n) if (1..=u64::from(WIDGET_ROWS_MAX)).contains(&n) => n as u32,
                _ => {
                    check.add(
                        FieldError::new(
                            at("limit"),
                            DetailCode::OutOfRange,
                            format!("must be from 1 to {WIDGET_ROWS_MAX}"),
                        )
                        .with("min", 1)
                        .with("max", WIDGET_ROWS_MAX),
                    );
                    default
                }
            },
        }
    };
    let filter = object
        .get("filter")
        .filter(|value| !value.is_null())
        .cloned();
    let period = |check: &mut Checker| -> Option<RecordPeriod> {
        let field = text(check, "date_field", false);
        let range = text(check, "period", false);
        match (field, range) {
            (None, None) => None,
            (Some(date_field), Some(range)) => {
                if !RELATIVE_DAYS.contains(&range.as_str()) {
                    check.add(
                        Reason::not_one_of(&RELATIVE_DAYS, format!("\"{range}\" is not a period"))
                            .at(at("period")),
                    );
                }
                Some(RecordPeriod { date_field, range })
            }
            (Some(_), None) => {
                check.push(
                    at("period"),
                    DetailCode::Required,
                    "date_field needs a period (this_month…)",
                );
                None
            }
            (None, Some(_)) => {
                check.push(
                    at("date_field"),
                    DetailCode::Required,
                    "a period needs the date field it is read on",
                );
                None
            }
        }
    };
    let kind = match type_name {
        "number" => {
            let table = text(check, "table", true);
            let metric = text(check, "metric", false).unwrap_or_else(|| "count".to_owned());
            let period = period(check);
            let compare = match object.get("compare") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(flag)) => *flag,
                Some(_) => {
                    check.add(
                        Reason::wrong_type("boolean", "must be true or false").at(at("compare")),
                    );
                    false
                }
            };
            if compare && period.is_none() {
                check.push(
                    at("compare"),
                    DetailCode::Required,
                    "a comparison needs date_field and period (the period before is compared)",
                );
            }
            WidgetKind::Number {
                table: table.unwrap_or_default(),
                metric,
                filter,
                period,
                compare,
            }
        }
        "chart" => {
            let table = text(check, "table", true);
            let chart = match object.get("chart").and_then(Value::as_str) {
                None => ChartType::Bar,
                Some(raw) => ChartType::parse(raw).unwrap_or_else(|| {
                    check.add(
                        Reason::not_one_of(&ChartType::ALL, "must be bar, line or pie")
                            .at(at("chart")),
                    );
                    ChartType::Bar
                }),
            };
            let group_by = text(check, "group_by", true);
            let metrics = match object.get("metrics") {
                None | Some(Value::Null) => vec!["count".to_owned()],
                Some(Value::String(raw)) => raw
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect(),
                Some(Value::Array(items))
                    if items.iter().all(Value::is_string) && !items.is_empty() =>
                {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|m| m.trim().to_owned())
                        .collect()
                }
                Some(_) => {
                    check.add(
                        Reason::wrong_type(
                            "array",
                            "must be a list of metrics (count, sum:<field>…)",
                        )
                        .at(at("metrics")),
                    );
                    Vec::new()
                }
            };
            let limit = match object.get("limit") {
                None | Some(Value::Null) => None,
                Some(_) => Some(rows(check, 10)),
            };
            let period = period(check);
            WidgetKind::Chart {
                table: table.unwrap_or_default(),
                chart,
                group_by: group_by.unwrap_or_default(),
                metrics,
                filter,
                period,
                limit,
            }
        }
        "top" => {
            let table = text(check, "table", true);
            let group_by = text(check, "group_by", true);
            let metric = text(check, "metric", false).unwrap_or_else(|| "count".to_owned());
            let limit = rows(check, 5);
            let period = period(check);
            WidgetKind::Top {
                table: table.unwrap_or_default(),
                group_by: group_by.unwrap_or_default(),
                metric,
                limit,
                filter,
                period,
            }
        }
        "ledger" => {
            let book = text(check, "book", true);
            let account = match object.get("account") {
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => text(check, "account", true),
            };
            let measure = match object.get("measure").and_then(Value::as_str) {
                None | Some("balance") => LedgerMeasure::Balance,
                Some("movement") => LedgerMeasure::Movement,
                Some(_) => {
                    check.add(
                        Reason::not_one_of(&["balance", "movement"], "must be balance or movement")
                            .at(at("measure")),
                    );
                    LedgerMeasure::Balance
                }
            };
            let period = text(check, "period", false).unwrap_or_else(|| "this_month".to_owned());
            if !LEDGER_PERIODS.contains(&period.as_str()) {
                check.add(
                    Reason::not_one_of(
                        &LEDGER_PERIODS,
                        "must be this_month, last_month or this_year",
                    )
                    .at(at("period")),
                );
            }
            WidgetKind::Ledger {
                book: book.unwrap_or_default(),
                account: account.unwrap_or_default(),
                measure,
                period,
            }
        }
        _ => {
            let table = text(check, "table", true);
            let view = text(check, "view", true);
            let limit = rows(check, 5);
            WidgetKind::Records {
                table: table.unwrap_or_default(),
                view: view.unwrap_or_default(),
                limit,
            }
        }
    };
    if !local.is_clean() {
        local
            .into_invalid()
            .0
            .into_iter()
            .for_each(|error| outer.add(error));
        return None;
    }
    let key = key?;
    let mut source = object.clone();
    source.insert("key".to_owned(), Value::String(key.to_string()));
    Some(Widget {
        key,
        title,
        width,
        kind,
        source,
    })
}

/// The days of a relative period (`this_month`…) and of the period just before it, as half-open ranges
/// `[from, to)`: the month before a month, the year before a year, the same number of days before a run
/// of days.
pub fn period_ranges(
    range: &str,
    today: NaiveDate,
) -> Option<((NaiveDate, NaiveDate), (NaiveDate, NaiveDate))> {
    let (from, to) = relative_days(range, today)?;
    let previous = match range {
        "this_month" | "last_month" => (from.checked_sub_months(Months::new(1))?, from),
        "this_year" => (NaiveDate::from_ymd_opt(from.year() - 1, 1, 1)?, from),
        _ => {
            let days = u64::try_from((to - from).num_days()).ok()?;
            (from.checked_sub_days(Days::new(days))?, from)
        }
    };
    Some(((from, to), previous))
}

#[cfg(test)]
mod tests;
