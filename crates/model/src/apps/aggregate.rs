//! Aggregations: `group_by=customer,booked_at:month` and `metrics=sum:amount,count,avg:score`, checked
//! against a table's fields. Computed in SQL by the store; this module only says what to compute.

use crate::apps::field::{FieldKind, Storage};
use crate::apps::filter::FilterError;
use crate::apps::{Field, TableSchema};
use crate::validation::DetailCode;

/// Most group keys in one aggregation.
pub const GROUP_KEYS_MAX: usize = 4;
/// Most metrics in one aggregation.
pub const METRICS_MAX: usize = 12;
/// Most groups returned (without `limit`, larger results are cut and marked truncated).
pub const GROUPS_MAX: u32 = 10_000;

/// A calendar bucket for grouping dates and date-times (in the organization's or field's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Bucket {
    pub fn parse(raw: &str) -> Option<Bucket> {
        match raw {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            "quarter" => Some(Bucket::Quarter),
            "year" => Some(Bucket::Year),
            _ => None,
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Quarter => "quarter",
            Bucket::Year => "year",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupKey {
    pub field: Field,
    pub bucket: Option<Bucket>,
    /// As the client wrote it (`booked_at:month`), the key in the answer.
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    CountDistinct,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub kind: MetricKind,
    pub field: Option<Field>,
    /// As the client wrote it (`sum:amount`), the key in the answer.
    pub label: String,
}

/// How groups are ordered: by a metric or a group key label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateSort {
    pub label: String,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    pub group_by: Vec<GroupKey>,
    pub metrics: Vec<Metric>,
    pub sort: Vec<AggregateSort>,
    pub limit: Option<u32>,
}

fn error(path: &str, code: DetailCode, message: impl Into<String>) -> FilterError {
    FilterError::new(path, code, message)
}

/// Parses the query parameters of an aggregation.
/// Formulas with `TODAY()`/`NOW()` have no column to group or aggregate in the database.
fn computed_when_read(field: &crate::apps::Field, path: &str) -> Result<(), FilterError> {
    if field.kind.storage() == Storage::Virtual {
        return Err(error(
            path,
            DetailCode::NotAllowed,
            format!(
                "field \"{}\" uses TODAY() or NOW() and is computed when read; it cannot be grouped or aggregated",
                field.key
            ),
        ));
    }
    Ok(())
}

pub fn parse(
    schema: &TableSchema,
    group_by: Option<&str>,
    metrics: Option<&str>,
    sort: Option<&str>,
    limit: Option<u32>,
) -> Result<AggregateSpec, FilterError> {
    let mut keys = Vec::new();
    for part in group_by
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (reference, bucket) = match part.split_once(':') {
            Some((reference, bucket)) => {
                let bucket = Bucket::parse(bucket).ok_or_else(|| {
                    error(
                        "group_by",
                        DetailCode::NotOneOf,
                        format!(
                            "\"{bucket}\" is not a bucket; use day, week, month, quarter or year"
                        ),
                    )
                    .with("allowed", vec!["day", "week", "month", "quarter", "year"])
                })?;
                (reference, Some(bucket))
            }
            None => (part, None),
        };
        let field = schema.resolve_field(reference).cloned().ok_or_else(|| {
            error(
                "group_by",
                DetailCode::UnknownField,
                format!("no field \"{reference}\""),
            )
        })?;
        let dated = matches!(field.kind.storage(), Storage::Date | Storage::DateTime)
            || matches!(
                field.kind,
                FieldKind::CreatedTime { .. } | FieldKind::ModifiedTime { .. }
            );
        if bucket.is_some() && !dated {
            return Err(error(
                "group_by",
                DetailCode::NotAllowed,
                format!("field \"{reference}\" is not a date; only dates take a bucket"),
            ));
        }
        computed_when_read(&field, "group_by")?;
        if matches!(
            field.kind,
            FieldKind::Attachment { .. }
                | FieldKind::CreatedBy
                | FieldKind::ModifiedBy
                | FieldKind::LongText { .. }
                | FieldKind::Lookup { .. }
        ) {
            return Err(error(
                "group_by",
                DetailCode::NotAllowed,
                format!(
                    "field \"{reference}\" of type {} cannot be grouped by",
                    field.field_type()
                ),
            ));
        }
        keys.push(GroupKey {
            field,
            bucket,
            label: part.to_owned(),
        });
    }
    if keys.len() > GROUP_KEYS_MAX {
        return Err(error(
            "group_by",
            DetailCode::TooMany,
            format!("group by at most {GROUP_KEYS_MAX} keys"),
        )
        .with("max", GROUP_KEYS_MAX));
    }
    let mut parsed_metrics = Vec::new();
    let metric_text = metrics.unwrap_or("count");
    for part in metric_text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (name, reference) = match part.split_once(':') {
            Some((name, reference)) => (name, Some(reference)),
            None => (part, None),
        };
        let kind = match name {
            "count" => MetricKind::Count,
            "sum" => MetricKind::Sum,
            "avg" => MetricKind::Avg,
            "min" => MetricKind::Min,
            "max" => MetricKind::Max,
            "count_distinct" => MetricKind::CountDistinct,
            other => {
                return Err(error(
                    "metrics", DetailCode::NotOneOf,
                    format!(
                        "\"{other}\" is not a metric; use count, sum, avg, min, max or count_distinct"
                    ),
                )
                .with(
                    "allowed",
                    vec!["count", "sum", "avg", "min", "max", "count_distinct"],
                ));
            }
        };
        let field = match (kind, reference) {
            (MetricKind::Count, None) => None,
            (MetricKind::Count, Some(_)) => {
                return Err(error(
                    "metrics",
                    DetailCode::NotAllowed,
                    "count takes no field; use count_distinct:<field>",
                ));
            }
            (_, None) => {
                return Err(error(
                    "metrics",
                    DetailCode::Required,
                    format!("{name} needs a field: {name}:<field>"),
                ));
            }
            (_, Some(reference)) => {
                let field = schema.resolve_field(reference).cloned().ok_or_else(|| {
                    error(
                        "metrics",
                        DetailCode::UnknownField,
                        format!("no field \"{reference}\""),
                    )
                })?;
                computed_when_read(&field, "metrics")?;
                let numeric = matches!(
                    field.kind.storage(),
                    Storage::Decimal { .. } | Storage::Integer
                );
                let ordered = numeric
                    || matches!(
                        field.kind.storage(),
                        Storage::Date | Storage::DateTime | Storage::Text
                    );
                let fits = match kind {
                    MetricKind::Sum | MetricKind::Avg => numeric,
                    MetricKind::Min | MetricKind::Max => ordered,
                    MetricKind::CountDistinct => !matches!(
                        field.kind.storage(),
                        Storage::Junction | Storage::JsonArray | Storage::System
                    ),
                    MetricKind::Count => true,
                };
                if !fits {
                    return Err(error(
                        "metrics",
                        DetailCode::NotAllowed,
                        format!(
                            "{name} does not apply to field \"{reference}\" of type {}",
                            field.field_type()
                        ),
                    ));
                }
                Some(field)
            }
        };
        parsed_metrics.push(Metric {
            kind,
            field,
            label: part.to_owned(),
        });
    }
    if parsed_metrics.len() > METRICS_MAX {
        return Err(error(
            "metrics",
            DetailCode::TooMany,
            format!("at most {METRICS_MAX} metrics"),
        )
        .with("max", METRICS_MAX));
    }
    let mut sorts = Vec::new();
    for part in sort
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (descending, label) = match part.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let known = parsed_metrics.iter().any(|metric| metric.label == label)
            || keys.iter().any(|key| key.label == label);
        if !known {
            return Err(error(
                "sort",
                DetailCode::NotOneOf,
                format!("\"{label}\" is neither a metric nor a group key of this aggregation"),
            )
            .with(
                "allowed",
                parsed_metrics
                    .iter()
                    .map(|metric| metric.label.clone())
                    .chain(keys.iter().map(|key| key.label.clone()))
                    .collect::<Vec<_>>(),
            ));
        }
        sorts.push(AggregateSort {
            label: label.to_owned(),
            descending,
        });
    }
    if let Some(limit) = limit
        && !(1..=GROUPS_MAX).contains(&limit)
    {
        return Err(error(
            "limit",
            DetailCode::OutOfRange,
            format!("must be between 1 and {GROUPS_MAX}"),
        )
        .with("min", 1)
        .with("max", GROUPS_MAX));
    }
    Ok(AggregateSpec {
        group_by: keys,
        metrics: parsed_metrics,
        sort: sorts,
        limit,
    })
}
