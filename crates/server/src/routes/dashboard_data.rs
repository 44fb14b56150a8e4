//! What a dashboard's widgets show: each widget's query (the aggregate, the ledger's general ledger, a
//! view's first rows), run one after the other; a widget whose query fails carries its error in place.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};
use tenon_ledger::{AccountCode, Direction, Period, money};
use tenon_model::apps::dashboard::check::aggregate_spec;
use tenon_model::apps::dashboard::{LedgerMeasure, Widget, WidgetKind};
use tenon_model::apps::definition::CurrentApp;
use tenon_model::apps::filter::{Filter, FilterContext};
use tenon_model::{ErrorCode, Scope};
use tenon_store::StoredDashboard;
use tenon_store::ledger::BookRef;
use utoipa::ToSchema;

use crate::auth::{Authenticated, insufficient_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::page_request;
use crate::routes::aggregate::aggregate_groups;
use crate::routes::dashboards::widget_error;
use crate::routes::records_io::KeyBy;
use crate::service::access::{self, Access};
use crate::service::records::{ListProblem, ListRequest, filter_context, list, record_query};
use crate::state::AppState;
use tenon_model::apps::permissions::RecordAction;

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardDataOut {
    pub key: String,
    pub name: String,
    /// The organization's today, which relative periods are read from.
    pub today: String,
    pub widgets: Vec<WidgetDataOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetDataOut {
    pub key: String,
    pub title: String,
    /// `number`, `chart`, `top`, `ledger` or `records`.
    #[serde(rename = "type")]
    pub widget_type: &'static str,
    pub width: u8,
    /// The table the widget reads (its key and id), for a page that follows record events.
    pub table: Option<String>,
    pub table_id: Option<String>,
    /// The ledger book a ledger widget reads, as the widget names it.
    pub book: Option<String>,
    /// That book's id once the book exists, for a page that follows `voucher.posted` events.
    pub book_id: Option<String>,
    /// By type — number: `{metric, value, previous}`; chart: `{chart, group_by, metrics, groups,
    /// truncated}` (groups as `…/aggregate` answers them); top: `{group_by, metric, groups}`; ledger:
    /// `{book, book_id, account, account_name, measure, period, amount, side}`; records: `{view, fields, items}`.
    /// `null` when the widget failed.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// `{code, message, params, details}` when the widget's query failed (the other widgets still answer).
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

pub async fn dashboard_data(
    state: &AppState,
    auth: &Authenticated,
    current: &CurrentApp,
    stored: &StoredDashboard,
    wanted: Option<&[&str]>,
) -> ApiResult<DashboardDataOut> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let org = tenant.organization().await?;
    let context = filter_context(state, &org);
    let chosen: Vec<&Widget> = stored
        .dashboard
        .widgets
        .iter()
        .filter(|widget| wanted.is_none_or(|wanted| wanted.contains(&widget.key.as_str())))
        .collect();
    // The widgets' queries run at once, each on its own read connection: a dashboard answers in about
    // the time of its slowest widget, not the sum of them.
    let results = futures_util::future::join_all(
        chosen
            .iter()
            .map(|widget| widget_data(state, auth, current, widget, &context)),
    )
    .await;
    let mut widgets = Vec::with_capacity(chosen.len());
    for (widget, result) in chosen.into_iter().zip(results) {
        let schema = widget.kind.table().and_then(|table| {
            tenon_model::apps::dashboard::check::AppLookup::table(current, table)
        });
        let book_id = result
            .as_ref()
            .ok()
            .and_then(|data| data.get("book_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (data, error) = match result {
            Ok(data) => (Some(data), None),
            Err(error) => (None, Some(widget_error(error))),
        };
        widgets.push(WidgetDataOut {
            key: widget.key.to_string(),
            title: widget.title.clone(),
            widget_type: widget.kind.type_name(),
            width: widget.width,
            table: schema.map(|schema| schema.table.key.to_string()),
            table_id: schema.map(|schema| schema.table.id.to_string()),
            book: match &widget.kind {
                WidgetKind::Ledger { book, .. } => Some(book.clone()),
                _ => None,
            },
            book_id,
            data,
            error,
        });
    }
    Ok(DashboardDataOut {
        key: stored.dashboard.key.to_string(),
        name: stored.dashboard.name.to_string(),
        today: context.today.to_string(),
        widgets,
    })
}

async fn widget_data(
    state: &AppState,
    auth: &Authenticated,
    current: &CurrentApp,
    widget: &Widget,
    context: &FilterContext,
) -> ApiResult<Value> {
    let tenant = state.store().tenant(auth.principal.org_id);
    if let WidgetKind::Ledger {
        book,
        account,
        measure,
        period,
    } = &widget.kind
    {
        if !auth.principal.scopes.grants(Scope::LedgerRead) {
            return Err(insufficient_scope(
                Scope::LedgerRead,
                "a ledger widget needs the scope ledger:read".to_owned(),
            ));
        }
        return ledger_figure(state, auth, book, account, *measure, period, context.today).await;
    }
    let table = widget.kind.table().unwrap_or_default();
    let schema = tenon_model::apps::dashboard::check::AppLookup::table(current, table)
        .ok_or_else(|| ApiError::not_found("table"))?;
    if let WidgetKind::Records { view, limit, .. } = &widget.kind {
        let view = tenant.view(schema.table.id, view).await?;
        let keys = view.field_keys();
        let request = ListRequest {
            filter: view.filter(),
            sort: view.sort().unwrap_or(""),
            fields: keys
                .as_ref()
                .map(|keys| keys.iter().map(String::as_str).collect()),
            formula: None,
            page: page_request(Some(*limit), None)?,
            offset: 0,
            count: false,
        };
        let stale = |message: String| {
            ApiError::new(
                ErrorCode::Conflict,
                format!("view {}: {message}; update the view", view.key),
            )
        };
        let mut query =
            record_query(schema, request, context).map_err(|problem| match problem {
                ListProblem::Filter(error) | ListProblem::Sort(error) => stale(error.reason),
                ListProblem::Field(key) => stale(format!("no field \"{key}\"")),
                ListProblem::Formula(invalid) => stale(invalid.to_string()),
            })?;
        // The member's app permissions (#19): a dashboard never widens what its viewer may read.
        crate::service::access::restrict_list(&tenant, auth, schema, &mut query, context).await?;
        let page = list(
            state,
            auth.principal.org_id,
            schema,
            &query,
            KeyBy::Key,
            &[],
        )
        .await?;
        return Ok(json!({"view": view.key.as_str(), "fields": keys, "items": page.items}));
    }
    let ask = widget
        .kind
        .aggregate_ask()
        .ok_or_else(|| ApiError::invalid_request("not an aggregate widget"))?;
    let spec = aggregate_spec(schema, &ask).map_err(ApiError::bad_query)?;
    // The member's app permissions (#19), as on `…/aggregate`: read granted, no hidden field grouped or
    // measured, the read rule ANDed to the widget's filter.
    let access = Access::load(&tenant, &auth.principal.actor, schema).await?;
    access.require(RecordAction::Read)?;
    access.require_visible(
        schema,
        spec.group_by.iter().map(|key| key.field.id).chain(
            spec.metrics
                .iter()
                .filter_map(|metric| metric.field.as_ref().map(|field| field.id)),
        ),
    )?;
    let rule = access.filter(RecordAction::Read, schema, context)?;
    let filter_of = |previous: bool| -> ApiResult<Option<Filter>> {
        let own = widget
            .kind
            .record_filter(context.today, previous)
            .map(|value| Filter::parse(&value, schema, context).map_err(ApiError::bad_filter))
            .transpose()?;
        access.check_query(schema, own.as_ref(), &[], None)?;
        Ok(access::both(own, rule.clone()))
    };
    let groups = aggregate_groups(
        &tenant,
        schema,
        &spec,
        filter_of(false)?.as_ref(),
        context.time_zone,
    )
    .await?;
    Ok(match &widget.kind {
        WidgetKind::Number {
            metric, compare, ..
        } => {
            let value_of = |out: &crate::routes::aggregate::AggregateOut| {
                out.groups
                    .first()
                    .and_then(|group| group.get(metric.as_str()))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let previous = if *compare {
                let before = aggregate_groups(
                    &tenant,
                    schema,
                    &spec,
                    filter_of(true)?.as_ref(),
                    context.time_zone,
                )
                .await?;
                value_of(&before)
            } else {
                Value::Null
            };
            json!({"metric": metric, "value": value_of(&groups), "previous": previous})
        }
        WidgetKind::Chart {
            chart,
            group_by,
            metrics,
            ..
        } => json!({"chart": chart.as_str(), "group_by": group_by, "metrics": metrics,
                    "groups": groups.groups, "truncated": groups.truncated}),
        WidgetKind::Top {
            group_by, metric, ..
        } => json!({"group_by": group_by, "metric": metric, "groups": groups.groups}),
        WidgetKind::Ledger { .. } | WidgetKind::Records { .. } => Value::Null,
    })
}

/// A ledger account's closing balance, or its net movement on its normal side, for the period.
async fn ledger_figure(
    state: &AppState,
    auth: &Authenticated,
    book: &str,
    account: &str,
    measure: LedgerMeasure,
    period: &str,
    today: NaiveDate,
) -> ApiResult<Value> {
    let code = AccountCode::parse(account).map_err(|reason| {
        ApiError::validation(tenon_model::Invalid::from(
            tenon_model::Reason::format("account_code", reason).at("account"),
        ))
    })?;
    let this_month = Period::of(today);
    let at = match period {
        "last_month" => this_month.previous().unwrap_or(this_month),
        _ => this_month,
    };
    let tenant = state.store().tenant(auth.principal.org_id);
    // The book's id too, so a page following `voucher.posted` events knows which widgets a voucher moves.
    let book_id = tenant.ledger_book(&BookRef::parse(book)).await?.id;
    let ledger = tenant
        .general_ledger(&BookRef::Id(book_id), at, at, Some(&code))
        .await?;
    let Some(row) = ledger.accounts.first() else {
        return Err(ApiError::not_found("account"));
    };
    let Some(figures) = row.periods.last() else {
        return Err(ApiError::not_found("period"));
    };
    let (amount, side) = match measure {
        LedgerMeasure::Balance => (
            money::amount_text(figures.closing.amount),
            figures.closing.side.as_str().to_owned(),
        ),
        LedgerMeasure::Movement => {
            let (debit, credit) = if period == "this_year" {
                (figures.year_debit, figures.year_credit)
            } else {
                (figures.debit, figures.credit)
            };
            let net = match row.direction {
                Direction::Debit => debit - credit,
                Direction::Credit => credit - debit,
            };
            (money::amount_text(net), row.direction.as_str().to_owned())
        }
    };
    let period_label = if period == "this_year" {
        today.year().to_string()
    } else {
        at.to_string()
    };
    Ok(
        json!({"book": book, "book_id": book_id.to_string(), "account": row.code.to_string(), "account_name": row.name,
              "measure": measure.as_str(), "period": period_label, "amount": amount, "side": side}),
    )
}
