//! Grouped aggregates of a table, computed in SQL: group keys (fields, date buckets in a time zone,
//! multi-valued fields exploded so a record counts in each group it belongs to) and metrics (count, sum,
//! avg, min, max, count_distinct). Decimals are summed exactly on both backends (NUMERIC on PostgreSQL,
//! scaled integers on SQLite) and averages are divided in Rust, so both backends give the same digits.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, Offset, TimeZone as _, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use tenon_model::TimeZone;
use tenon_model::apps::aggregate::{AggregateSpec, Bucket, MetricKind};
use tenon_model::apps::filter::Filter;
use tenon_model::apps::{CellValue, FieldKind, Storage, TableSchema};
use uuid::Uuid;

use super::cells;
use super::query::{self, SqlText, column};
use crate::apps::ddl;
use crate::exec::{Arg, Backend, DynRow, quote};
use crate::{Result, Tenant};

/// A group key's value.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupValue {
    Empty,
    Cell(CellValue),
    /// The first day of a date bucket.
    Bucket(NaiveDate),
    /// One element of a multi-valued field: a linked record, member or department id.
    Id(Uuid),
    /// One choice of a multi-select.
    Name(String),
}

/// A metric's value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Count(i64),
    Decimal(Option<Decimal>),
    Integer(Option<i64>),
    Cell(Option<CellValue>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub keys: Vec<GroupValue>,
    pub metrics: Vec<MetricValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub groups: Vec<Group>,
    /// More groups existed than were returned (no `limit` was given and the cap was reached).
    pub truncated: bool,
}

impl Tenant<'_> {
    pub async fn aggregate(
        &self,
        schema: &TableSchema,
        spec: &AggregateSpec,
        filter: Option<&Filter>,
        time_zone: TimeZone,
    ) -> Result<Aggregation> {
        let mut pooled = self.store.pools.read().await?;
        self.aggregate_in(&mut pooled.conn(), schema, spec, filter, time_zone)
            .await
    }

    /// [`Tenant::aggregate`] in the caller's connection (a flow's `aggregate` step, in its transaction).
    pub(crate) async fn aggregate_in(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        schema: &TableSchema,
        spec: &AggregateSpec,
        filter: Option<&Filter>,
        time_zone: TimeZone,
    ) -> Result<Aggregation> {
        let backend = conn.backend();
        let mut sql = SqlText::new(backend);
        let mut joins = String::new();
        let mut key_sql = Vec::new();
        for (i, key) in spec.group_by.iter().enumerate() {
            let field = &key.field;
            let expression = match field.kind.storage() {
                Storage::JsonArray => {
                    let col = column(&field.kind, field.id);
                    match backend {
                        Backend::Postgres => joins.push_str(&format!(
                            " LEFT JOIN LATERAL jsonb_array_elements_text({col}) AS e{i}(v) ON TRUE"
                        )),
                        Backend::Sqlite => {
                            joins.push_str(&format!(" LEFT JOIN json_each({col}) AS e{i}"))
                        }
                    }
                    match backend {
                        Backend::Postgres => format!("e{i}.v"),
                        Backend::Sqlite => format!("e{i}.value"),
                    }
                }
                Storage::Junction => {
                    let FieldKind::Link {
                        inverse: Some(inverse),
                        ..
                    } = field.kind
                    else {
                        continue;
                    };
                    let (mine, other) = if field.id < inverse {
                        ("source_id", "target_id")
                    } else {
                        ("target_id", "source_id")
                    };
                    joins.push_str(&format!(
                        " LEFT JOIN {} AS j{i} ON j{i}.{mine} = r.id",
                        quote(&ddl::junction_name(field.id, inverse))
                    ));
                    format!("j{i}.{other}")
                }
                _ => String::new(),
            };
            key_sql.push(expression);
        }
        let pregroup = pregroups(backend, spec, &key_sql);
        // Expressions with bound values (time zone offsets) are written into the statement in order.
        sql.push("SELECT ");
        for (i, key) in spec.group_by.iter().enumerate() {
            if !key_sql[i].is_empty() {
                sql.push(&key_sql[i]).push(&format!(" AS k{i}, "));
                continue;
            }
            let col = column(&key.field.kind, key.field.id);
            match key.bucket {
                None => {
                    sql.push(&col).push(&format!(" AS k{i}, "));
                }
                Some(bucket) => {
                    let local_date = |sql: &mut SqlText| -> Result<()> {
                        if matches!(key.field.kind.storage(), Storage::Date) {
                            sql.push(&col);
                            return Ok(());
                        }
                        let tz = match &key.field.kind {
                            FieldKind::DateTime {
                                time_zone: Some(zone),
                            }
                            | FieldKind::CreatedTime {
                                time_zone: Some(zone),
                            }
                            | FieldKind::ModifiedTime {
                                time_zone: Some(zone),
                            } => *zone,
                            _ => time_zone,
                        };
                        local_date_sql(sql, &col, tz);
                        Ok(())
                    };
                    bucket_sql(&mut sql, bucket, local_date)?;
                    sql.push(&format!(" AS k{i}, "));
                }
            }
            key_sql[i] = format!("k{i}");
        }
        sql.push(if pregroup {
            "SUM(pc) AS c"
        } else {
            "COUNT(*) AS c"
        });
        let mut metric_columns = Vec::new();
        for (m, metric) in spec.metrics.iter().enumerate() {
            let Some(field) = &metric.field else {
                metric_columns.push(None);
                continue;
            };
            let col = column(&field.kind, field.id);
            if pregroup {
                // The metrics of the day groups, combined (count_distinct never pregroups).
                let combined = match metric.kind {
                    MetricKind::Count | MetricKind::CountDistinct => None,
                    MetricKind::Avg => Some(format!(", SUM(ps{m}) AS s{m}, SUM(pn{m}) AS n{m}")),
                    MetricKind::Min => Some(format!(", MIN(ps{m}) AS s{m}")),
                    MetricKind::Max => Some(format!(", MAX(ps{m}) AS s{m}")),
                    MetricKind::Sum => Some(format!(", SUM(ps{m}) AS s{m}")),
                };
                if let Some(combined) = &combined {
                    sql.push(combined);
                }
                metric_columns.push(combined.map(|_| m));
                continue;
            }
            match metric.kind {
                MetricKind::Count => metric_columns.push(None),
                MetricKind::Sum => {
                    sql.push(&format!(", SUM({col}) AS s{m}"));
                    metric_columns.push(Some(m));
                }
                MetricKind::Avg => {
                    // The count of values divides the sum in Rust, at the field's exact scale.
                    sql.push(&format!(", SUM({col}) AS s{m}, COUNT({col}) AS n{m}"));
                    metric_columns.push(Some(m));
                }
                MetricKind::Min => {
                    sql.push(&format!(", MIN({col}) AS s{m}"));
                    metric_columns.push(Some(m));
                }
                MetricKind::Max => {
                    sql.push(&format!(", MAX({col}) AS s{m}"));
                    metric_columns.push(Some(m));
                }
                MetricKind::CountDistinct => {
                    sql.push(&format!(", COUNT(DISTINCT {col}) AS s{m}"));
                    metric_columns.push(Some(m));
                }
            }
        }
        let table = quote(&ddl::table_name(schema.table.id));
        if pregroup {
            let (columns, partials) = pregroup_columns(spec);
            let select: Vec<String> = columns
                .iter()
                .map(|col| format!("{col} AS {}", col.strip_prefix("r.").unwrap_or(col)))
                .collect();
            sql.push(&format!(
                " FROM (SELECT {}, COUNT(*) AS pc{partials} FROM {table} AS r WHERE ",
                select.join(", ")
            ));
            where_clause(&mut sql, filter)?;
            sql.push(&format!(" GROUP BY {}) AS r", columns.join(", ")));
        } else {
            sql.push(&format!(" FROM {table} AS r{joins} WHERE "));
            where_clause(&mut sql, filter)?;
        }
        if !spec.group_by.is_empty() {
            let keys: Vec<String> = (0..spec.group_by.len()).map(|i| format!("k{i}")).collect();
            let group_list: Vec<String> = match backend {
                // PostgreSQL groups by output positions; SQLite accepts the aliases.
                Backend::Postgres => (1..=spec.group_by.len()).map(|i| i.to_string()).collect(),
                Backend::Sqlite => keys.clone(),
            };
            sql.push(" GROUP BY ").push(&group_list.join(", "));
        }
        let mut order = Vec::new();
        for sort in &spec.sort {
            let direction = if sort.descending { "DESC" } else { "ASC" };
            if let Some(i) = spec.group_by.iter().position(|key| key.label == sort.label) {
                let nulls = if sort.descending {
                    "NULLS LAST"
                } else {
                    "NULLS FIRST"
                };
                order.push(format!("k{i} {direction} {nulls}"));
                continue;
            }
            if let Some(m) = spec
                .metrics
                .iter()
                .position(|metric| metric.label == sort.label)
            {
                let metric = &spec.metrics[m];
                let expression = match (metric.kind, &metric.field) {
                    (MetricKind::Count, _) | (_, None) if pregroup => "SUM(pc)".to_owned(),
                    (MetricKind::Count, _) | (_, None) => "COUNT(*)".to_owned(),
                    (MetricKind::Avg, Some(_)) if pregroup => {
                        format!("CAST(SUM(ps{m}) AS REAL) / SUM(pn{m})")
                    }
                    (MetricKind::Avg, Some(field)) => {
                        format!("AVG({})", column(&field.kind, field.id))
                    }
                    (_, Some(_)) => format!("s{m}"),
                };
                let nulls = if sort.descending {
                    "NULLS LAST"
                } else {
                    "NULLS FIRST"
                };
                order.push(format!("{expression} {direction} {nulls}"));
            }
        }
        // Ties are broken by the keys, empty first, so both backends return the same order.
        order.extend((0..spec.group_by.len()).map(|i| format!("k{i} ASC NULLS FIRST")));
        if !order.is_empty() {
            sql.push(" ORDER BY ").push(&order.join(", "));
        }
        let cap = spec
            .limit
            .unwrap_or(tenon_model::apps::aggregate::GROUPS_MAX);
        sql.limit(u64::from(cap) + 1);
        let rows = conn.fetch_rows(sql.into_sql()).await?;
        let truncated = spec.limit.is_none() && rows.len() > cap as usize;
        let mut groups = Vec::with_capacity(rows.len().min(cap as usize));
        for row in rows.iter().take(cap as usize) {
            let mut keys = Vec::with_capacity(spec.group_by.len());
            for (i, key) in spec.group_by.iter().enumerate() {
                keys.push(group_value(row, i, key, backend)?);
            }
            let count_idx = spec.group_by.len();
            let count = row.int(count_idx)?.unwrap_or(0);
            let mut idx = count_idx + 1;
            let mut metrics = Vec::with_capacity(spec.metrics.len());
            for metric in &spec.metrics {
                let Some(field) = &metric.field else {
                    metrics.push(MetricValue::Count(count));
                    continue;
                };
                let value = match metric.kind {
                    MetricKind::Count => MetricValue::Count(count),
                    MetricKind::CountDistinct => {
                        let value = MetricValue::Count(row.int(idx)?.unwrap_or(0));
                        idx += 1;
                        value
                    }
                    MetricKind::Sum => {
                        let sum = sum_value(row, idx, &field.kind, backend)?;
                        idx += 1;
                        sum
                    }
                    MetricKind::Avg => {
                        let sum = sum_value(row, idx, &field.kind, backend)?;
                        let n = row.int(idx + 1)?.unwrap_or(0);
                        idx += 2;
                        match sum {
                            MetricValue::Decimal(Some(total)) if n > 0 => MetricValue::Decimal(
                                Some(average(total, n, decimal_scale(&field.kind) + 2)),
                            ),
                            MetricValue::Integer(Some(total)) if n > 0 => {
                                MetricValue::Decimal(Some(average(Decimal::from(total), n, 2)))
                            }
                            _ => MetricValue::Decimal(None),
                        }
                    }
                    MetricKind::Min | MetricKind::Max => {
                        let value = MetricValue::Cell(extreme(row, idx, &field.kind)?);
                        idx += 1;
                        value
                    }
                };
                metrics.push(value);
            }
            groups.push(Group { keys, metrics });
        }
        Ok(Aggregation { groups, truncated })
    }
}

fn where_clause(sql: &mut SqlText, filter: Option<&Filter>) -> Result<()> {
    match filter {
        Some(filter) => query::filter(sql, filter)?,
        None => {
            sql.push("1 = 1");
        }
    }
    Ok(())
}

/// Whether to group by the keys' columns first and cut the day groups into weeks, months, quarters or
/// years after. Grouping by `substr(date, 1, 7)` sorts every row (no index orders by it); grouping by
/// the date column follows an index on it, and a month then rolls up a few dozen day groups. SQLite only
/// (PostgreSQL hashes the groups either way); not with exploded keys or `count_distinct`, whose day
/// groups would not add up.
fn pregroups(backend: Backend, spec: &AggregateSpec, key_sql: &[String]) -> bool {
    backend == Backend::Sqlite
        && key_sql.iter().all(String::is_empty)
        && spec.group_by.iter().any(|key| {
            matches!(
                key.bucket,
                Some(Bucket::Week | Bucket::Month | Bucket::Quarter | Bucket::Year)
            ) && matches!(key.field.kind.storage(), Storage::Date)
        })
        && spec
            .metrics
            .iter()
            .all(|metric| metric.kind != MetricKind::CountDistinct)
}

/// The inner statement's group columns (each under its own name, so the outer statement's `r.<column>`
/// finds it) and its partial metrics (`ps{m}`, with `pn{m}` counting an average's values).
fn pregroup_columns(spec: &AggregateSpec) -> (Vec<String>, String) {
    let mut columns: Vec<String> = Vec::new();
    for key in &spec.group_by {
        let col = column(&key.field.kind, key.field.id);
        if !columns.contains(&col) {
            columns.push(col);
        }
    }
    let mut partials = String::new();
    for (m, metric) in spec.metrics.iter().enumerate() {
        let Some(field) = &metric.field else {
            continue;
        };
        let col = column(&field.kind, field.id);
        match metric.kind {
            MetricKind::Count | MetricKind::CountDistinct => {}
            MetricKind::Sum => partials.push_str(&format!(", SUM({col}) AS ps{m}")),
            MetricKind::Avg => {
                partials.push_str(&format!(", SUM({col}) AS ps{m}, COUNT({col}) AS pn{m}"))
            }
            MetricKind::Min => partials.push_str(&format!(", MIN({col}) AS ps{m}")),
            MetricKind::Max => partials.push_str(&format!(", MAX({col}) AS ps{m}")),
        }
    }
    (columns, partials)
}

fn decimal_scale(kind: &FieldKind) -> u32 {
    match kind.storage() {
        Storage::Decimal { scale } => scale,
        _ => 0,
    }
}

/// `total / n`, rounded half away from zero to `scale` decimals.
fn average(total: Decimal, n: i64, scale: u32) -> Decimal {
    (total / Decimal::from(n))
        .round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

fn sum_value(row: &DynRow, idx: usize, kind: &FieldKind, backend: Backend) -> Result<MetricValue> {
    Ok(match kind.storage() {
        Storage::Decimal { scale } => match backend {
            Backend::Postgres => {
                MetricValue::Decimal(row.decimal(idx, scale)?.map(|d| d.normalize()))
            }
            // SQLite sums scaled integers exactly (as long as they fit 64 bits).
            Backend::Sqlite => {
                MetricValue::Decimal(row.int(idx)?.map(|n| Decimal::new(n, scale).normalize()))
            }
        },
        _ => match backend {
            // PostgreSQL's SUM of BIGINT is NUMERIC.
            Backend::Postgres => {
                MetricValue::Integer(row.decimal(idx, 0)?.and_then(|d| i64::try_from(d).ok()))
            }
            Backend::Sqlite => MetricValue::Integer(row.int(idx)?),
        },
    })
}

fn extreme(row: &DynRow, idx: usize, kind: &FieldKind) -> Result<Option<CellValue>> {
    match kind {
        FieldKind::CreatedTime { .. } | FieldKind::ModifiedTime { .. } => {
            Ok(row.datetime(idx)?.map(CellValue::DateTime))
        }
        kind => cells::from_row(row, idx, kind),
    }
}

fn group_value(
    row: &DynRow,
    i: usize,
    key: &tenon_model::apps::aggregate::GroupKey,
    backend: Backend,
) -> Result<GroupValue> {
    let field = &key.field;
    if key.bucket.is_some() {
        return Ok(row.date(i)?.map_or(GroupValue::Empty, GroupValue::Bucket));
    }
    Ok(match field.kind.storage() {
        Storage::JsonArray => match &field.kind {
            FieldKind::MultiSelect { .. } => {
                row.text(i)?.map_or(GroupValue::Empty, GroupValue::Name)
            }
            _ => row
                .text(i)?
                .and_then(|text| Uuid::parse_str(&text).ok())
                .map_or(GroupValue::Empty, GroupValue::Id),
        },
        Storage::Junction => {
            let id: Option<Uuid> = match backend {
                Backend::Postgres | Backend::Sqlite => {
                    // A record without links yields NULL from the LEFT JOIN.
                    row.uuid(i).ok()
                }
            };
            id.map_or(GroupValue::Empty, GroupValue::Id)
        }
        Storage::System => match &field.kind {
            FieldKind::CreatedTime { .. } | FieldKind::ModifiedTime { .. } => {
                row.datetime(i)?.map_or(GroupValue::Empty, |time| {
                    GroupValue::Cell(CellValue::DateTime(time))
                })
            }
            _ => GroupValue::Empty,
        },
        _ => cells::from_row(row, i, &field.kind)?.map_or(GroupValue::Empty, GroupValue::Cell),
    })
}

/// Appends the first day of the bucket holding the date `local_date` writes.
fn bucket_sql(
    sql: &mut SqlText,
    bucket: Bucket,
    local_date: impl Fn(&mut SqlText) -> Result<()>,
) -> Result<()> {
    match (sql.backend, bucket) {
        (_, Bucket::Day) => local_date(sql)?,
        (Backend::Postgres, bucket) => {
            let unit = match bucket {
                Bucket::Week => "week",
                Bucket::Month => "month",
                Bucket::Quarter => "quarter",
                _ => "year",
            };
            sql.push(&format!("CAST(date_trunc('{unit}', "));
            local_date(sql)?;
            sql.push(") AS DATE)");
        }
        (Backend::Sqlite, Bucket::Week) => {
            // The Monday of the date's ISO week.
            sql.push("date(");
            local_date(sql)?;
            sql.push(", 'weekday 0', '-6 days')");
        }
        (Backend::Sqlite, Bucket::Month) => {
            sql.push("substr(");
            local_date(sql)?;
            sql.push(", 1, 7) || '-01'");
        }
        (Backend::Sqlite, Bucket::Quarter) => {
            sql.push("(substr(");
            local_date(sql)?;
            sql.push(", 1, 5) || printf('%02d', ((CAST(substr(");
            local_date(sql)?;
            sql.push(", 6, 2) AS INTEGER) - 1) / 3) * 3 + 1) || '-01')");
        }
        (Backend::Sqlite, _) => {
            sql.push("substr(");
            local_date(sql)?;
            sql.push(", 1, 4) || '-01-01'");
        }
    }
    Ok(())
}

/// The local date of an instant column in a time zone. PostgreSQL knows the zone; SQLite gets the
/// zone's UTC offsets with the instants they change at, so daylight saving is exact there too.
fn local_date_sql(sql: &mut SqlText, col: &str, tz: TimeZone) {
    match sql.backend {
        Backend::Postgres => {
            sql.push(&format!("CAST(({col} AT TIME ZONE "))
                .arg(Arg::Text(Some(tz.name().to_owned())))
                .push(") AS DATE)");
        }
        Backend::Sqlite => {
            let changes = offset_changes(tz);
            sql.push(&format!("date({col}, "));
            if changes.len() == 1 {
                sql.arg(Arg::Text(Some(modifier(changes[0].1))));
            } else {
                sql.push("CASE");
                for window in changes.windows(2) {
                    let (_, offset) = window[0];
                    let (until, _) = window[1];
                    sql.push(&format!(" WHEN {col} < "))
                        .arg(Arg::Time(Some(until)))
                        .push(" THEN ")
                        .arg(Arg::Text(Some(modifier(offset))));
                }
                let last = changes.last().map_or(0, |(_, offset)| *offset);
                sql.push(" ELSE ")
                    .arg(Arg::Text(Some(modifier(last))))
                    .push(" END");
            }
            sql.push(")");
        }
    }
}

fn modifier(offset_seconds: i32) -> String {
    format!("{offset_seconds:+} seconds")
}

/// `(from, offset)` pairs: the UTC offset in seconds from each instant on (1970 to 2100), cached per zone.
/// From which instant a zone has which UTC offset, in seconds.
type OffsetChanges = Vec<(DateTime<Utc>, i32)>;

fn offset_changes(tz: TimeZone) -> OffsetChanges {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, OffsetChanges>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(tz.name())
    {
        return found.clone();
    }
    let offset_at = |at: DateTime<Utc>| {
        tz.tz()
            .offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let start = Utc
        .with_ymd_and_hms(1970, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let end = Utc
        .with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut changes = vec![(start, offset_at(start))];
    let mut at = start;
    let step = chrono::TimeDelta::hours(6);
    while at < end {
        let next = at + step;
        let offset = offset_at(next);
        if offset != changes.last().map_or(offset, |(_, last)| *last) {
            // Narrow the change down to the minute.
            let (mut low, mut high) = (at, next);
            while high - low > chrono::TimeDelta::minutes(1) {
                let middle = low + (high - low) / 2;
                if offset_at(middle) == offset {
                    high = middle
                } else {
                    low = middle
                }
            }
            changes.push((high, offset));
        }
        at = next;
    }
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(tz.name(), changes.clone());
    changes
}
