//! Publish checks of the `wait`, `upsert`, `for_each` and `ledger_sync` steps.

use tenon_model::apps::TableSchema;
use tenon_model::apps::formula::{self, Type};
use tenon_model::{Checker, DetailCode, FieldId};

use super::{Action, CompiledStep, Compiler, Flat, Processes, Tables, flatten, table_id};
use crate::definition::Step;
use crate::scope::{ScopeSchema, field_named};

/// What the steps of a `for_each` read besides the run's values: `{item.id}` and `{item.<key or name>}`
/// (records of `table`) or `{item.value}`, and `{loop.index}` (from 0), `{loop.count}`.
pub(super) fn add_item(scope: &mut ScopeSchema, table: Option<&TableSchema>) {
    let integer = formula::FieldKind::Integer;
    scope.add(
        "loop.index",
        &["loop.index".to_owned()],
        integer.clone(),
        &["loop", "index"],
    );
    scope.add(
        "loop.count",
        &["loop.count".to_owned()],
        integer,
        &["loop", "count"],
    );
    match table {
        Some(table) => {
            scope.add(
                "item.id",
                &["item.id".to_owned()],
                formula::FieldKind::Text,
                &["item", "id"],
            );
            for field in &table.fields {
                let Some(kind) = crate::scope::flow_kind(&field.kind) else {
                    continue;
                };
                scope.add(
                    &format!("item.{}", field.id),
                    &[
                        format!("item.{}", field.key),
                        format!("item.{}", field.name.as_str()),
                    ],
                    kind,
                    &["item", "fields", field.key.as_str()],
                );
            }
        }
        None => scope.add(
            "item.value",
            &["item.value".to_owned()],
            formula::FieldKind::Text,
            &["item", "value"],
        ),
    }
}

/// Compiles a `for_each`: its items, its table, and its steps against what they read.
pub(super) fn for_each(
    check: &mut Checker,
    base: &ScopeSchema,
    (items, table, steps): (&str, Option<&str>, &[Step]),
    tables: &[TableSchema],
    processes: Processes<'_>,
    at: &str,
) -> Option<Action> {
    let schema = base.schema();
    let mut c = Compiler {
        check,
        schema: &schema,
        at,
        processes,
    };
    let table = match table {
        Some(key) => Some(c.table(tables, key)?),
        None => None,
    };
    let items = c
        .formula("items", items)
        .and_then(|formula| match formula.result_type() {
            Type::List(_) | Type::Text | Type::Blank => Some(formula.stored().to_owned()),
            other => {
                c.type_error(
                    "items",
                    items,
                    format!("items is a list (record ids, values); this formula gives {other}"),
                );
                None
            }
        });
    if steps.is_empty() {
        c.check.push(
            format!("{at}.steps"),
            DetailCode::Required,
            "a for_each needs at least one step",
        );
    }
    let mut order: Vec<Flat<'_>> = Vec::new();
    flatten(steps, &format!("{at}.steps"), &[], &mut order);
    let mut body: Vec<CompiledStep> = Vec::new();
    for (step, path, guard) in order {
        if matches!(
            step,
            Step::Wait { .. }
                | Step::ForEach { .. }
                | Step::KingdeeVoucher(_)
                | Step::YonyouVoucher(_)
                | Step::Sql(_)
                | Step::CallFlow { .. }
                | Step::WaitApproval { .. }
        ) {
            check.push(
                format!("{path}.type"),
                DetailCode::NotAllowed,
                format!(
                    "a {} step cannot run inside a for_each: each item's steps commit together",
                    step.type_name()
                ),
            );
            continue;
        }
        if let Step::Notify {
            to, collect: None, ..
        } = step
            && (to.phones.is_some() || to.emails.is_some())
        {
            // Each item's own text message or e-mail would be an outside request per item and
            // recipient; the loop gathers them and sends each recipient one.
            check.push(
                format!("{path}.collect"),
                DetailCode::Required,
                "inside a for_each, a notify to phones or emails takes collect: per_recipient",
            );
        }
        let mut scope = base.clone();
        add_item(&mut scope, table);
        for done in &body {
            add_output(&mut scope, &done.key, &done.action, tables);
        }
        let schema = scope.schema();
        let mut c = Compiler {
            check,
            schema: &schema,
            at: &path,
            processes,
        };
        let action = c.step(step, tables);
        body.push(CompiledStep {
            key: step.key().to_owned(),
            guard,
            action: action.unwrap_or(Action::If {
                condition: "TRUE()".to_owned(),
            }),
        });
    }
    Some(Action::ForEach {
        items: items?,
        table_id: table.map(|t| t.table.id.to_string()),
        steps: body,
    })
}

/// How a formula reads an ungrouped aggregate's metric.
pub(super) fn metric_kind(metric: &tenon_model::apps::aggregate::Metric) -> formula::FieldKind {
    use tenon_model::apps::aggregate::MetricKind;
    match metric.kind {
        MetricKind::Count | MetricKind::CountDistinct => formula::FieldKind::Integer,
        MetricKind::Sum | MetricKind::Avg => formula::FieldKind::Number { scale: 8 },
        MetricKind::Min | MetricKind::Max => metric
            .field
            .as_ref()
            .and_then(|field| crate::scope::flow_kind(&field.kind))
            .unwrap_or(formula::FieldKind::Text),
    }
}

/// What a step leaves for later steps to read: `{steps.<key>.output.…}`.
pub(super) fn add_output<T: Tables + ?Sized>(
    scope: &mut ScopeSchema,
    key: &str,
    action: &Action,
    tables: &T,
) {
    let prefix = format!("steps.{key}");
    let mut one = |name: &str, kind: formula::FieldKind| {
        scope.add(
            &format!("{prefix}.{name}"),
            &[format!("{prefix}.output.{name}")],
            kind,
            &["steps", key, "output", name],
        );
    };
    match action {
        Action::CreateRecord { table_id: id, .. }
        | Action::UpdateRecord { table_id: id, .. }
        | Action::Upsert { table_id: id, .. }
        | Action::Get { table_id: id, .. } => {
            one("id", formula::FieldKind::Text);
            if let Some(table) = table_id(id).and_then(|id| tables.by_id(id)) {
                scope.add_record(&prefix, "output", table);
            }
        }
        Action::Find { .. } => {
            one("ids", formula::FieldKind::TextList);
            one("count", formula::FieldKind::Integer);
            one("first", formula::FieldKind::Text);
        }
        Action::If { .. } => one("result", formula::FieldKind::Checkbox),
        Action::Wait { .. } => one("until", formula::FieldKind::DateTime),
        Action::ForEach { .. } => one("count", formula::FieldKind::Integer),
        Action::CallFlow { .. } => {
            one("run_id", formula::FieldKind::Text);
            one("status", formula::FieldKind::Text);
        }
        Action::Aggregate {
            table_id: id,
            group_by,
            metrics,
            ..
        } => {
            one("truncated", formula::FieldKind::Checkbox);
            if let Some(table) = table_id(id).and_then(|id| tables.by_id(id)) {
                add_metrics(&mut one, table, group_by.as_deref(), metrics);
            }
        }
        Action::StartApproval { .. } | Action::WaitApproval { .. } => {
            for name in ["id", "status", "result", "business_id", "initiator"] {
                one(name, formula::FieldKind::Text);
            }
            scope.add(
                &format!("{prefix}.record_id"),
                &[format!("{prefix}.output.record.id")],
                formula::FieldKind::Text,
                &["steps", key, "output", "record", "id"],
            );
        }
        Action::LedgerSync { .. } => {
            for name in ["outcome", "book", "voucher_id", "reversal_id"] {
                one(name, formula::FieldKind::Text);
            }
        }
        Action::Http(spec) => {
            one("status", formula::FieldKind::Integer);
            for (name, _) in &spec.output {
                one(name, formula::FieldKind::Text);
            }
        }
        Action::Robot(_) => {
            one("errcode", formula::FieldKind::Integer);
            one("errmsg", formula::FieldKind::Text);
        }
        Action::Sms(_) => one("request_id", formula::FieldKind::Text),
        Action::Email(_) => one("reply", formula::FieldKind::Text),
        Action::Sql(_) => {
            one("count", formula::FieldKind::Integer);
            one("truncated", formula::FieldKind::Checkbox);
            one("value", formula::FieldKind::Text);
            one("affected", formula::FieldKind::Integer);
        }
        Action::Voucher(spec) => {
            let names: &[&str] = match spec.vendor {
                crate::voucher::Vendor::Kingdee => &["id", "number", "voucher_id", "key"],
                crate::voucher::Vendor::YonyouU8 => &["number", "message", "voucher_id"],
            };
            for name in names {
                one(name, formula::FieldKind::Text);
            }
            one("pushed", formula::FieldKind::Checkbox);
            one("already_pushed", formula::FieldKind::Checkbox);
            // A remembered push names the run that made it; a push a person resolved says `done`.
            one("pushed_by_run", formula::FieldKind::Text);
            one("resolved", formula::FieldKind::Text);
            if spec.vendor == crate::voucher::Vendor::Kingdee {
                one("existing", formula::FieldKind::Checkbox);
            }
        }
        Action::DeleteRecord { .. } | Action::Notify { .. } => {}
    }
    if let Action::Upsert { .. } = action {
        scope.add(
            &format!("{prefix}.created"),
            &[format!("{prefix}.output.created")],
            formula::FieldKind::Checkbox,
            &["steps", key, "output", "created"],
        );
    }
}

/// An ungrouped aggregate's metrics, read by label: `{steps.a.output.sum:amount}`.
pub(super) fn add_metrics(
    one: &mut dyn FnMut(&str, formula::FieldKind),
    table: &TableSchema,
    group_by: Option<&str>,
    metrics: &str,
) {
    if group_by.is_some_and(|g| !g.trim().is_empty()) {
        return;
    }
    if let Ok(spec) = tenon_model::apps::aggregate::parse(table, None, Some(metrics), None, None) {
        for metric in &spec.metrics {
            one(&metric.label, metric_kind(metric));
        }
    }
}

impl Compiler<'_> {
    /// A `call_flow`: its payload's formulas (the flow called is checked across flows at publish).
    pub(super) fn call_flow(
        &mut self,
        flow: &str,
        payload: &std::collections::BTreeMap<String, serde_json::Value>,
        wait: bool,
    ) -> Action {
        let mut inputs = Vec::new();
        for (name, value) in payload {
            let at = format!("payload.{name}");
            if let Some(source) = self.source(&at, value)
                && let Some(formula) = self.formula(&at, &source)
            {
                inputs.push((name.clone(), formula.stored().to_owned()));
            }
        }
        Action::CallFlow {
            flow: flow.to_owned(),
            payload: inputs,
            wait,
        }
    }

    /// A formula whose result has the wrong type: `formula_type` over the whole source.
    pub(super) fn type_error(&mut self, field: &str, source: &str, reason: String) {
        self.check.add(
            tenon_model::FieldError::new(
                format!("{}.{field}", self.at),
                DetailCode::FormulaType,
                reason,
            )
            .with("start", 0)
            .with("end", source.chars().count()),
        );
    }

    /// An `aggregate`: what the aggregate API would accept for `table`.
    pub(super) fn aggregate(
        &mut self,
        table: &TableSchema,
        group_by: &Option<String>,
        metrics: &str,
        filter: &Option<serde_json::Value>,
        sort: &Option<String>,
        limit: Option<u32>,
    ) -> Option<Action> {
        let here = self.at.to_owned();
        let mut fine = true;
        if let Err(error) = tenon_model::apps::aggregate::parse(
            table,
            group_by.as_deref(),
            Some(metrics),
            sort.as_deref(),
            limit,
        ) {
            let field = format!("{here}.{}", error.field);
            self.check.add(error.at(field));
            fine = false;
        }
        if let Some(tree) = filter {
            // Relative dates in the tree are resolved when the step runs; here only its shape counts.
            let context = tenon_model::apps::filter::FilterContext {
                today: chrono::NaiveDate::MIN,
                time_zone: tenon_model::TimeZone::UTC,
            };
            if let Err(error) = tenon_model::apps::filter::Filter::parse(tree, table, &context) {
                let field = if error.field.starts_with("filter") {
                    format!("{here}.{}", error.field)
                } else {
                    format!("{here}.filter.{}", error.field)
                };
                self.check.add(error.at(field));
                fine = false;
            }
        }
        fine.then(|| Action::Aggregate {
            table_id: table.table.id.to_string(),
            group_by: group_by.clone(),
            metrics: metrics.to_owned(),
            filter: filter.clone(),
            sort: sort.clone(),
            limit,
        })
    }

    pub(super) fn wait(
        &mut self,
        duration: Option<&str>,
        until: Option<&str>,
        at: Option<&str>,
        zone: Option<&str>,
    ) -> Option<Action> {
        let here = self.at.to_owned();
        match (duration, until) {
            (Some(_), Some(_)) => {
                self.check.push(
                    format!("{here}.until"),
                    DetailCode::NotAllowed,
                    "a wait has either for (a duration) or until (a date or an instant), not both",
                );
                return None;
            }
            (None, None) => {
                self.check.push(
                    format!("{here}.for"),
                    DetailCode::Required,
                    "give for (a duration such as 3d) or until (a formula giving a date or an instant)",
                );
                return None;
            }
            _ => {}
        }
        if let Some(text) = duration {
            for (name, given) in [("at", at.is_some()), ("zone", zone.is_some())] {
                if given {
                    self.check.push(
                        format!("{here}.{name}"),
                        DetailCode::NotAllowed,
                        format!("{name} belongs to until"),
                    );
                }
            }
            return match crate::wait::parse_duration(text) {
                Ok(wait) => Some(Action::Wait {
                    seconds: Some(wait.num_seconds()),
                    until: None,
                    at: None,
                    zone: None,
                }),
                Err(reason) => {
                    self.check.format(format!("{here}.for"), "duration", reason);
                    None
                }
            };
        }
        let wall = match at.map(crate::wait::parse_at) {
            Some(Err(reason)) => {
                self.check.format(format!("{here}.at"), "time", reason);
                None
            }
            Some(Ok(time)) => Some(Some(time.format("%H:%M:%S").to_string())),
            None => Some(None),
        };
        let zone = match zone.map(tenon_model::TimeZone::parse) {
            Some(Err(reason)) => {
                self.check.add(reason.at(format!("{here}.zone")));
                None
            }
            Some(Ok(zone)) => Some(Some(zone.name().to_owned())),
            None => Some(None),
        };
        let formula = self.formula("until", until.unwrap_or_default())?;
        let kind = formula.result_type();
        let fits = match &kind {
            Type::Date | Type::DateTime | Type::Blank => true,
            Type::List(of) => matches!(**of, Type::Date | Type::DateTime),
            _ => false,
        };
        if !fits {
            self.type_error(
                "until",
                until.unwrap_or_default(),
                format!("until gives a date or an instant; this formula gives {kind}"),
            );
            return None;
        }
        if at.is_some() && *kind == Type::DateTime {
            self.check.push(
                format!("{here}.at"),
                DetailCode::NotAllowed,
                "at is the wall time of a date; until gives an instant already",
            );
            return None;
        }
        Some(Action::Wait {
            seconds: None,
            until: Some(formula.stored().to_owned()),
            at: wall?,
            zone: zone?,
        })
    }

    /// The ids of `on`: a unique field or the fields of a `unique_together` group, each given a value.
    pub(super) fn upsert_on(
        &mut self,
        table: &TableSchema,
        on: &[String],
        fields: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Option<Vec<String>> {
        let here = self.at.to_owned();
        let mut ids: Vec<FieldId> = Vec::new();
        for (i, name) in on.iter().enumerate() {
            match field_named(table, name) {
                Some(field) => {
                    ids.push(field.id);
                    let given = fields
                        .keys()
                        .any(|key| field_named(table, key).is_some_and(|f| f.id == field.id));
                    if !given {
                        self.check.push(
                            format!("{here}.on[{i}]"),
                            DetailCode::Required,
                            format!(
                                "give {name} a value in fields: the upsert matches records on it"
                            ),
                        );
                    }
                }
                None => self.check.not_found(
                    format!("{here}.on[{i}]"),
                    "field",
                    format!("{} has no field {name}", table.table.key),
                ),
            }
        }
        if ids.len() != on.len() {
            return None;
        }
        let groups: Vec<Vec<FieldId>> = table
            .fields
            .iter()
            .filter(|field| field.unique)
            .map(|field| vec![field.id])
            .chain(table.table.unique_together.iter().cloned())
            .collect();
        let same = |group: &Vec<FieldId>| {
            group.len() == ids.len() && group.iter().all(|id| ids.contains(id))
        };
        if on.is_empty() || !groups.iter().any(same) {
            let allowed: Vec<String> = groups
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .filter_map(|id| table.field(*id))
                        .map(|f| f.key.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            let reason = if allowed.is_empty() {
                format!(
                    "table {} has no unique field or unique_together group to match records on",
                    table.table.key
                )
            } else {
                format!(
                    "an upsert matches records on a unique field or a unique_together group: {}",
                    allowed.join("; ")
                )
            };
            self.check.add(
                tenon_model::FieldError::new(format!("{here}.on"), DetailCode::NotOneOf, reason)
                    .with("allowed", allowed),
            );
            return None;
        }
        Some(ids.iter().map(ToString::to_string).collect())
    }
}

impl Compiler<'_> {
    /// A `ledger_sync` step: `rule` is a voucher rule's key (the rule itself is checked where the app's
    /// rules are published), `record` a formula giving the record's id.
    pub(super) fn ledger_sync(&mut self, rule: &str, record: &str) -> Option<Action> {
        if tenon_model::apps::ApiKey::parse(rule).is_err() {
            self.check.push(
                format!("{}.rule", self.at),
                DetailCode::InvalidFormat,
                "rule is a voucher rule's key",
            );
        }
        Some(Action::LedgerSync {
            rule: rule.to_owned(),
            record: self.record(record)?,
        })
    }
}
