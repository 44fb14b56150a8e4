//! The `aggregate` step: the aggregate API's groups and metrics, computed in the step's transaction.
//! Output: `{"groups": [{"key": {<label>: value}, <metric label>: value…}], "truncated"}`, and for an
//! ungrouped one the metrics at the top too (`{steps.a.output.sum:amount}`). Group keys and metrics are
//! flow values: links, members and departments as ids, decimals as text, date buckets labelled as the
//! API labels them (`2026-11`, `2026-W48`, `2026-Q4`).

use chrono::Datelike;
use serde_json::{Map, Value, json};
use tenon_flows::scope::cell_json;
use tenon_model::apps::TableSchema;
use tenon_model::apps::aggregate::{Bucket, MetricKind, parse};
use tenon_model::apps::filter::{Filter, FilterContext};
use tenon_model::apps::{Storage, formula::EvalContext};

use super::actions::{Outcome, StepFailure};
use crate::Tenant;
use crate::exec::Conn;
use crate::records::{GroupValue, MetricValue};

/// What an `aggregate` step computes, as compiled.
pub(super) struct AggregateAsk<'a> {
    pub group_by: Option<&'a str>,
    pub metrics: &'a str,
    pub filter: Option<&'a Value>,
    pub sort: Option<&'a str>,
    pub limit: Option<u32>,
}

impl Tenant<'_> {
    pub(super) async fn aggregate_step(
        &self,
        conn: &mut Conn<'_>,
        target: &TableSchema,
        ask: &AggregateAsk<'_>,
        eval: &EvalContext,
    ) -> std::result::Result<Outcome, StepFailure> {
        let input = json!({
            "group_by": ask.group_by, "metrics": ask.metrics, "filter": ask.filter,
            "sort": ask.sort, "limit": ask.limit,
        });
        let invalid = |error: tenon_model::FieldError| {
            StepFailure::mapping(format!("{}: {}", error.field, error.reason), &input)
        };
        let spec =
            parse(target, ask.group_by, Some(ask.metrics), ask.sort, ask.limit).map_err(invalid)?;
        let zone = self
            .zone(conn)
            .await
            .map_err(|e| StepFailure::store(e, &input))?;
        let filter = match ask.filter {
            Some(tree) => {
                let context = FilterContext {
                    today: eval.today(),
                    time_zone: zone,
                };
                Some(Filter::parse(tree, target, &context).map_err(invalid)?)
            }
            None => None,
        };
        let result = self
            .aggregate_in(conn, target, &spec, filter.as_ref(), zone)
            .await
            .map_err(|e| StepFailure::store(e, &input))?;
        let groups: Vec<Value> = result
            .groups
            .iter()
            .map(|group| {
                let mut object = Map::new();
                let key: Map<String, Value> = spec
                    .group_by
                    .iter()
                    .zip(&group.keys)
                    .map(|(key, value)| (key.label.clone(), key_json(key.bucket, value)))
                    .collect();
                object.insert("key".to_owned(), Value::Object(key));
                for (metric, value) in spec.metrics.iter().zip(&group.metrics) {
                    let scale = match (metric.kind, metric.field.as_ref().map(|f| f.kind.storage()))
                    {
                        (MetricKind::Sum, Some(Storage::Decimal { scale })) => Some(scale),
                        _ => None,
                    };
                    object.insert(metric.label.clone(), metric_json(value, scale));
                }
                Value::Object(object)
            })
            .collect();
        let mut output = Map::new();
        if spec.group_by.is_empty() {
            for metric in &spec.metrics {
                let value = groups
                    .first()
                    .and_then(|group| group.get(&metric.label))
                    .cloned()
                    .unwrap_or(match metric.kind {
                        MetricKind::Count | MetricKind::CountDistinct => json!(0),
                        _ => Value::Null,
                    });
                output.insert(metric.label.clone(), value);
            }
        }
        output.insert("groups".to_owned(), Value::Array(groups));
        output.insert("truncated".to_owned(), json!(result.truncated));
        Ok(Outcome {
            input,
            output: Value::Object(output),
            branch: None,
        })
    }
}

fn key_json(bucket: Option<Bucket>, value: &GroupValue) -> Value {
    match value {
        GroupValue::Empty => Value::Null,
        GroupValue::Cell(cell) => cell_json(cell),
        GroupValue::Id(id) => json!(id.to_string()),
        GroupValue::Name(name) => json!(name),
        GroupValue::Bucket(start) => json!(match bucket.unwrap_or(Bucket::Day) {
            Bucket::Day => start.to_string(),
            Bucket::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Bucket::Month => format!("{}-{:02}", start.year(), start.month()),
            Bucket::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
            Bucket::Year => start.year().to_string(),
        }),
    }
}

fn metric_json(value: &MetricValue, scale: Option<u32>) -> Value {
    match value {
        MetricValue::Count(n) => json!(n),
        MetricValue::Integer(n) => n.map_or(Value::Null, |n| json!(n)),
        MetricValue::Decimal(None) | MetricValue::Cell(None) => Value::Null,
        MetricValue::Decimal(Some(value)) => {
            let mut value = *value;
            match scale {
                Some(scale) => value.rescale(scale),
                None => value = value.normalize(),
            }
            json!(value.to_string())
        }
        MetricValue::Cell(Some(cell)) => cell_json(cell),
    }
}
