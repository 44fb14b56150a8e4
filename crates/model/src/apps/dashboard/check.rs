//! A dashboard against its app: the tables, fields and views its widgets name exist and fit, the
//! metrics and group keys are ones the aggregate computes, the filters parse. Also what each widget asks
//! the aggregate for, with its period folded into its filter.

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use super::{Dashboard, RecordPeriod, WidgetKind, period_ranges};
use crate::apps::TableSchema;
use crate::apps::aggregate::{self, AggregateSpec};
use crate::apps::field::{FieldKind, Storage};
use crate::apps::filter::{Filter, FilterContext};
use crate::validation::{Checker, DetailCode, FieldError, Invalid, Reason};

/// The app a dashboard belongs to, as the check reads it.
pub trait AppLookup {
    /// A table of the app by key (or id or name).
    fn table(&self, reference: &str) -> Option<&TableSchema>;
    /// Whether the table has a view with this key (or id).
    fn has_view(&self, table: &TableSchema, view: &str) -> bool;
}

/// What the aggregate is asked for one widget (`group_by`, `metrics`, `sort`, `limit` as the
/// aggregate route takes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateAsk {
    pub group_by: Option<String>,
    pub metrics: String,
    pub sort: Option<String>,
    pub limit: Option<u32>,
}

impl WidgetKind {
    /// The aggregate a number, chart or top widget needs (none for ledger and records widgets).
    pub fn aggregate_ask(&self) -> Option<AggregateAsk> {
        match self {
            WidgetKind::Number { metric, .. } => Some(AggregateAsk {
                group_by: None,
                metrics: metric.clone(),
                sort: None,
                limit: None,
            }),
            WidgetKind::Chart {
                group_by,
                metrics,
                limit,
                ..
            } => {
                // A date bucket reads in time order; other groups largest first.
                let sort = if group_by.contains(':') {
                    group_by.clone()
                } else {
                    format!("-{}", metrics.first().map_or("count", String::as_str))
                };
                Some(AggregateAsk {
                    group_by: Some(group_by.clone()),
                    metrics: metrics.join(","),
                    sort: Some(sort),
                    limit: *limit,
                })
            }
            WidgetKind::Top {
                group_by,
                metric,
                limit,
                ..
            } => Some(AggregateAsk {
                group_by: Some(group_by.clone()),
                metrics: metric.clone(),
                sort: Some(format!("-{metric}")),
                limit: Some(*limit),
            }),
            WidgetKind::Ledger { .. } | WidgetKind::Records { .. } => None,
        }
    }

    fn record_parts(&self) -> (Option<&Value>, Option<&RecordPeriod>) {
        match self {
            WidgetKind::Number { filter, period, .. }
            | WidgetKind::Chart { filter, period, .. }
            | WidgetKind::Top { filter, period, .. } => (filter.as_ref(), period.as_ref()),
            _ => (None, None),
        }
    }

    /// The widget's filter with its period folded in (the period before with `previous`), as a filter
    /// tree the records API takes; `None` when neither is set.
    pub fn record_filter(&self, today: NaiveDate, previous: bool) -> Option<Value> {
        let (filter, period) = self.record_parts();
        let range = period.and_then(|period| {
            let (now, before) = period_ranges(&period.range, today)?;
            let (from, to) = if previous { before } else { now };
            let last = to.checked_sub_days(Days::new(1))?;
            Some(json!({"field": period.date_field, "op": "between",
                "value": [from.to_string(), last.to_string()]}))
        });
        match (filter.cloned(), range) {
            (None, None) => None,
            (Some(filter), None) => Some(filter),
            (None, Some(range)) => Some(range),
            (Some(filter), Some(range)) => Some(json!({"and": [filter, range]})),
        }
    }
}

/// The aggregate of a widget, parsed against its table (the same check the aggregate route makes).
pub fn aggregate_spec(
    schema: &TableSchema,
    ask: &AggregateAsk,
) -> Result<AggregateSpec, FieldError> {
    aggregate::parse(
        schema,
        ask.group_by.as_deref(),
        Some(&ask.metrics),
        ask.sort.as_deref(),
        ask.limit,
    )
}

/// Checks that every table, field and view the dashboard's widgets name exists in the app and fits
/// (`not_found` naming the table or view, `unknown_field` the field). Ledger books and accounts are
/// checked by the caller, which can read the ledger.
pub fn check_references(
    dashboard: &Dashboard,
    path: &str,
    app: &dyn AppLookup,
    ctx: &FilterContext,
) -> Result<(), Invalid> {
    let mut check = Checker::default();
    for (i, widget) in dashboard.widgets.iter().enumerate() {
        let at = format!("{}[{i}]", super::join(path, "widgets"));
        let Some(table_ref) = widget.kind.table() else {
            continue;
        };
        let Some(schema) = app.table(table_ref) else {
            check.add(
                Reason::not_found("table", format!("the app has no table \"{table_ref}\""))
                    .at(format!("{at}.table")),
            );
            continue;
        };
        if let WidgetKind::Records { view, .. } = &widget.kind {
            if !app.has_view(schema, view) {
                check.add(
                    Reason::not_found(
                        "view",
                        format!("table \"{}\" has no view \"{view}\"", schema.table.key),
                    )
                    .at(format!("{at}.view")),
                );
            }
            continue;
        }
        if let Some(ask) = widget.kind.aggregate_ask()
            && let Err(error) = aggregate_spec(schema, &ask)
        {
            // The aggregate names `metrics` and `group_by`; a widget says `metric` where it has one.
            let setting = match (&widget.kind, error.field.as_str()) {
                (WidgetKind::Number { .. } | WidgetKind::Top { .. }, "metrics" | "sort") => {
                    "metric"
                }
                (_, "sort") => "metrics",
                (_, other) => other,
            }
            .to_owned();
            check.add(error.at(format!("{at}.{setting}")));
        }
        let (filter, period) = widget.kind.record_parts();
        if let Some(filter) = filter
            && let Err(error) = Filter::parse(filter, schema, ctx)
        {
            let field = format!("{at}.{}", error.field);
            check.add(error.at(field));
        }
        if let Some(period) = period {
            match schema.resolve_field(&period.date_field) {
                None => check.push(
                    format!("{at}.date_field"),
                    DetailCode::UnknownField,
                    format!(
                        "table \"{}\" has no field \"{}\"",
                        schema.table.key, period.date_field
                    ),
                ),
                Some(field) => {
                    let dated = matches!(field.kind.storage(), Storage::Date | Storage::DateTime)
                        || matches!(
                            field.kind,
                            FieldKind::CreatedTime { .. } | FieldKind::ModifiedTime { .. }
                        );
                    if !dated {
                        check.push(
                            format!("{at}.date_field"),
                            DetailCode::NotAllowed,
                            format!("field \"{}\" is not a date", field.key),
                        );
                    }
                }
            }
        }
    }
    check.finish()
}

impl AppLookup for crate::apps::definition::CurrentApp {
    fn table(&self, reference: &str) -> Option<&TableSchema> {
        self.tables
            .iter()
            .find(|s| s.table.key.as_str() == reference)
            .or_else(|| {
                self.tables.iter().find(|s| {
                    s.table.id.to_string() == reference || s.table.name.as_str() == reference
                })
            })
    }

    fn has_view(&self, table: &TableSchema, view: &str) -> bool {
        self.views.get(&table.table.id).is_some_and(|views| {
            views
                .iter()
                .any(|known| known.key.as_str() == view || known.id.to_string() == view)
        })
    }
}
