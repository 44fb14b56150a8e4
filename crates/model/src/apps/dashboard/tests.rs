//! Dashboards: their shape, derived keys, the period before, a widget's filter with its period.

use chrono::NaiveDate;
use serde_json::json;

use super::*;

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[test]
fn a_dashboard_parses_with_derived_widget_keys_and_default_widths() {
    let value = json!({"key": "sales", "name": "Sales", "widgets": [
        {"title": "Orders", "type": "number", "table": "orders", "date_field": "created", "period": "this_month", "compare": true},
        {"title": "Orders", "type": "chart", "chart": "line", "table": "orders", "group_by": "created:week", "metrics": ["count", "sum:amount"]},
        {"key": "ar", "title": "Receivables", "type": "ledger", "book": "主账套", "account": 1122},
    ]});
    let dashboard = Dashboard::parse(&value, "").unwrap();
    let keys: Vec<&str> = dashboard.widgets.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["orders", "orders_2", "ar"]);
    assert_eq!(dashboard.widgets[0].width, 3);
    assert_eq!(dashboard.widgets[1].width, 6);
    assert_eq!(dashboard.widgets[1].source["key"], "orders_2");
    match &dashboard.widgets[2].kind {
        WidgetKind::Ledger {
            account,
            measure,
            period,
            ..
        } => {
            assert_eq!(account, "1122");
            assert_eq!(*measure, LedgerMeasure::Balance);
            assert_eq!(period, "this_month");
        }
        other => panic!("not a ledger widget: {other:?}"),
    }
    assert_eq!(
        Dashboard::parse(&dashboard.to_json(), "").unwrap(),
        dashboard
    );
}

#[test]
fn every_problem_of_a_dashboard_comes_back_at_its_path() {
    let value = json!({"name": "Sales", "colour": "red", "widgets": [
        {"title": "A", "type": "gauge"},
        {"title": "B", "type": "number", "table": "orders", "compare": true, "size": 2},
        {"type": "top", "table": "orders", "limit": 500},
        {"title": "D", "type": "ledger", "book": "b", "account": "1", "period": "next_week"},
    ]});
    let invalid = Dashboard::parse(&value, "dashboards[0]").unwrap_err();
    let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
    for wanted in [
        "dashboards[0].colour",
        "dashboards[0].widgets[0].type",
        "dashboards[0].widgets[1].size",
        "dashboards[0].widgets[1].compare",
        "dashboards[0].widgets[2].title",
        "dashboards[0].widgets[2].group_by",
        "dashboards[0].widgets[2].limit",
        "dashboards[0].widgets[3].period",
    ] {
        assert!(fields.contains(&wanted), "{wanted} missing from {fields:?}");
    }
}

#[test]
fn a_period_and_the_one_before_it() {
    let today = day("2026-03-15");
    let ((from, to), (before_from, before_to)) = period_ranges("this_month", today).unwrap();
    assert_eq!((from, to), (day("2026-03-01"), day("2026-04-01")));
    assert_eq!(
        (before_from, before_to),
        (day("2026-02-01"), day("2026-03-01"))
    );
    let (_, before) = period_ranges("this_year", today).unwrap();
    assert_eq!(before, (day("2025-01-01"), day("2026-01-01")));
    let (now, before) = period_ranges("last_7_days", today).unwrap();
    assert_eq!(now, (day("2026-03-09"), day("2026-03-16")));
    assert_eq!(before, (day("2026-03-02"), day("2026-03-09")));
    assert!(period_ranges("next_month", today).is_none());
}

#[test]
fn a_widget_filter_folds_its_period_in() {
    let value = json!({"key": "d", "name": "D", "widgets": [
        {"title": "Won", "type": "number", "table": "orders", "metric": "sum:amount",
         "filter": {"field": "stage", "op": "eq", "value": "won"}, "date_field": "won_on", "period": "this_month"},
    ]});
    let dashboard = Dashboard::parse(&value, "").unwrap();
    let kind = &dashboard.widgets[0].kind;
    assert_eq!(
        kind.record_filter(day("2026-03-15"), true).unwrap(),
        json!({"and": [{"field": "stage", "op": "eq", "value": "won"},
                       {"field": "won_on", "op": "between", "value": ["2026-02-01", "2026-02-28"]}]})
    );
    let ask = kind.aggregate_ask().unwrap();
    assert_eq!((ask.group_by, ask.metrics.as_str()), (None, "sum:amount"));
}
