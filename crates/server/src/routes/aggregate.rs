//! `GET …/tables/{table}/aggregate`: grouped metrics computed in the database, for dashboards and
//! statistics — nights booked per month, duty absences per class, sales per customer.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tenon_exchange::render::{decimal, instant};
use tenon_model::apps::aggregate::{AggregateSpec, Bucket, GroupKey, MetricKind, parse};
use tenon_model::apps::filter::{Filter, FilterContext};
use tenon_model::apps::{CellValue, Field, FieldKind, LinkTarget, Storage, TableSchema};
use tenon_model::{DepartmentId, DetailCode, FieldError, MemberId};
use tenon_store::{GroupValue, MetricValue, Tenant};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::service::access::{self, Access};
use crate::state::AppState;
use tenon_model::apps::permissions::RecordAction;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AggregateParams {
    /// Comma-separated group keys: fields, or date fields with a bucket (`booked_at:month`; day, week,
    /// month, quarter, year in the organization's time zone). Multi-valued fields count a record in
    /// each group it belongs to.
    pub group_by: Option<String>,
    /// Comma-separated: `count`, `sum:<field>`, `avg:<field>`, `min:<field>`, `max:<field>`,
    /// `count_distinct:<field>` (default `count`).
    pub metrics: Option<String>,
    /// A JSON filter tree, as for listing records.
    pub filter: Option<String>,
    /// Order groups by metrics or keys: `-count`, `-sum:amount`, `customer`.
    pub sort: Option<String>,
    /// Return only the first N groups (top-N with `sort`).
    pub limit: Option<u32>,
}

/// Groups of records with their metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateOut {
    /// One object per group: `key` (the group's value under each `group_by` label: text, a number, a
    /// bucket such as `2026-11`, `{"id", "name"}` for links, members and departments, or null) and one
    /// entry per metric label (`count`, `sum:amount`, …).
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<Map<String, Value>>,
    /// More groups existed than were returned (no `limit` was given and the cap was reached).
    pub truncated: bool,
}

/// Aggregate a table's records.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/aggregate", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), AggregateParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, description = "{\"groups\": [{\"key\": {…}, \"count\": 2, \"sum:amount\": \"1130.34\"}], \"truncated\": false}", body = AggregateOut),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "The filter compares a select field with a value that is none of its choices (`unknown_choice`, listing them)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn aggregate(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<AggregateParams>,
) -> ApiResult<axum::Json<AggregateOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let org = tenant.organization().await?;
    let spec = parse(
        &schema,
        params.group_by.as_deref(),
        params.metrics.as_deref(),
        params.sort.as_deref(),
        params.limit,
    )
    .map_err(ApiError::bad_query)?;
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    access.require(RecordAction::Read)?;
    access.require_visible(
        &schema,
        spec.group_by.iter().map(|key| key.field.id).chain(
            spec.metrics
                .iter()
                .filter_map(|metric| metric.field.as_ref().map(|f| f.id)),
        ),
    )?;
    let today = state
        .store()
        .now()
        .with_timezone(&org.time_zone.tz())
        .date_naive();
    let context = FilterContext {
        today,
        time_zone: org.time_zone,
    };
    let filter = match params
        .filter
        .as_deref()
        .filter(|raw| !raw.trim().is_empty())
    {
        None => None,
        Some(raw) => {
            let value: Value = serde_json::from_str(raw).map_err(|error| {
                ApiError::bad_query(
                    FieldError::new(
                        "filter",
                        DetailCode::InvalidFormat,
                        format!("not JSON: {error}"),
                    )
                    .with("format", "json"),
                )
            })?;
            Some(Filter::parse(&value, &schema, &context).map_err(ApiError::bad_filter)?)
        }
    };
    access.check_query(&schema, filter.as_ref(), &[], None)?;
    let filter = access::both(
        filter,
        access.filter(RecordAction::Read, &schema, &context)?,
    );
    Ok(axum::Json(
        aggregate_groups(&tenant, &schema, &spec, filter.as_ref(), org.time_zone).await?,
    ))
}

/// Runs a checked aggregation and renders its groups as the aggregate route answers them (also used by
/// dashboards).
pub(crate) async fn aggregate_groups(
    tenant: &Tenant<'_>,
    schema: &TableSchema,
    spec: &AggregateSpec,
    filter: Option<&Filter>,
    time_zone: tenon_model::TimeZone,
) -> ApiResult<AggregateOut> {
    let result = tenant.aggregate(schema, spec, filter, time_zone).await?;
    let names = Names::load(tenant, schema, spec, &result).await?;
    let groups: Vec<Map<String, Value>> = result
        .groups
        .iter()
        .map(|group| {
            let mut object = Map::new();
            let key: Map<String, Value> = spec
                .group_by
                .iter()
                .zip(&group.keys)
                .map(|(key, value)| (key.label.clone(), names.key(key, value)))
                .collect();
            object.insert("key".to_owned(), Value::Object(key));
            for (metric, value) in spec.metrics.iter().zip(&group.metrics) {
                object.insert(
                    metric.label.clone(),
                    metric_json(metric.kind, metric.field.as_ref(), value),
                );
            }
            object
        })
        .collect();
    Ok(AggregateOut {
        groups,
        truncated: result.truncated,
    })
}

fn metric_json(kind: MetricKind, field: Option<&Field>, value: &MetricValue) -> Value {
    match value {
        MetricValue::Count(n) => Value::from(*n),
        MetricValue::Integer(n) => n.map_or(Value::Null, Value::from),
        MetricValue::Decimal(None) | MetricValue::Cell(None) => Value::Null,
        MetricValue::Decimal(Some(value)) => {
            match (kind, field.map(|field| field.kind.storage())) {
                (MetricKind::Sum, Some(Storage::Decimal { scale })) => {
                    decimal(*value, scale, false)
                }
                _ => Value::String(value.normalize().to_string()),
            }
        }
        MetricValue::Cell(Some(cell)) => field.map_or(Value::Null, |field| scalar(field, cell)),
    }
}

/// A single-valued cell as records show it.
fn scalar(field: &Field, cell: &CellValue) -> Value {
    match (&field.kind, cell) {
        (FieldKind::Number { precision, .. }, CellValue::Decimal(value)) => {
            decimal(*value, *precision, *precision == 0)
        }
        (FieldKind::Currency { precision, .. }, CellValue::Decimal(value)) => {
            decimal(*value, *precision, false)
        }
        (FieldKind::Percent { precision, .. }, CellValue::Decimal(value)) => {
            decimal(*value, precision + 2, false)
        }
        (_, CellValue::Text(text)) => Value::String(text.clone()),
        (_, CellValue::Integer(n)) => Value::from(*n),
        (_, CellValue::Bool(flag)) => Value::Bool(*flag),
        (_, CellValue::Date(date)) => Value::String(date.to_string()),
        (_, CellValue::DateTime(time)) => instant(*time),
        (_, CellValue::Decimal(value)) => Value::String(value.normalize().to_string()),
        (_, CellValue::Names(names)) => Value::from(names.clone()),
        (_, CellValue::Ids(ids)) => {
            Value::from(ids.iter().map(ToString::to_string).collect::<Vec<_>>())
        }
    }
}

fn bucket_label(bucket: Bucket, start: chrono::NaiveDate) -> String {
    match bucket {
        Bucket::Day => start.to_string(),
        Bucket::Week => {
            let week = start.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Bucket::Month => format!("{}-{:02}", start.year(), start.month()),
        Bucket::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
        Bucket::Year => start.year().to_string(),
    }
}

/// Names of the linked records, members and departments that appear as group keys, fetched in bulk.
struct Names {
    by_field: HashMap<tenon_model::FieldId, HashMap<Uuid, String>>,
}

impl Names {
    async fn load(
        tenant: &Tenant<'_>,
        schema: &TableSchema,
        spec: &AggregateSpec,
        result: &tenon_store::Aggregation,
    ) -> ApiResult<Names> {
        let mut by_field = HashMap::new();
        for (i, key) in spec.group_by.iter().enumerate() {
            let ids: Vec<Uuid> = result
                .groups
                .iter()
                .filter_map(|group| match group.keys.get(i) {
                    Some(GroupValue::Id(id)) => Some(*id),
                    _ => None,
                })
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if ids.is_empty() {
                continue;
            }
            let names = match &key.field.kind {
                FieldKind::Link {
                    table: LinkTarget::Resolved(target),
                    ..
                } => {
                    let target = if *target == schema.table.id {
                        schema.clone()
                    } else {
                        tenant.table_schema_by_id(*target).await?
                    };
                    tenant.record_names(&target, &ids).await?
                }
                FieldKind::Member { .. } => {
                    let ids: Vec<MemberId> = ids.iter().copied().map(MemberId::from).collect();
                    let names = tenant.member_names(&ids).await?;
                    names
                        .into_iter()
                        .map(|(id, name)| (*id.as_uuid(), name))
                        .collect()
                }
                _ => {
                    let ids: Vec<DepartmentId> =
                        ids.iter().copied().map(DepartmentId::from).collect();
                    let names = tenant.department_names(&ids).await?;
                    names
                        .into_iter()
                        .map(|(id, name)| (*id.as_uuid(), name))
                        .collect()
                }
            };
            by_field.insert(key.field.id, names);
        }
        Ok(Names { by_field })
    }

    fn key(&self, key: &GroupKey, value: &GroupValue) -> Value {
        match value {
            GroupValue::Empty => Value::Null,
            GroupValue::Bucket(start) => Value::String(
                key.bucket
                    .map_or_else(|| start.to_string(), |bucket| bucket_label(bucket, *start)),
            ),
            GroupValue::Name(name) => Value::String(name.clone()),
            GroupValue::Id(id) => {
                let name = self
                    .by_field
                    .get(&key.field.id)
                    .and_then(|names| names.get(id))
                    .cloned()
                    .unwrap_or_default();
                json!({"id": id.to_string(), "name": name})
            }
            GroupValue::Cell(cell) => scalar(&key.field, cell),
        }
    }
}
