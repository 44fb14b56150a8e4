//! The steps that span transactions: `wait` (the run sleeps until an instant computed once and
//! journaled) and `for_each` (its steps run once per item, a batch of items per transaction, the batch's
//! writes committing with the step's progress: each item exactly once).
//!
//! An outside step (`http`, `robot`, `sms`, `email`) inside a `for_each` ends the transaction: the
//! items done so far, the item's earlier steps (`partial`: the item, the next step, their outputs and
//! branches) and the request (`outside`) are journaled together, `running`, before the worker sends it
//! with the key `<run>:<step>:<item index>`; its answer is journaled into `partial` and the loop goes on
//! at the next step. A request whose answer was lost is sent again only when that is safe, as outside
//! the loop; otherwise the `for_each` becomes `unknown_outcome` and a person resolves it (`done`: the
//! item goes on past the step; `retry`: it is sent again).
//!
//! `collect: per_recipient` notifies gather each member's, phone's and address's lines over the items;
//! when the loop ends the members' inbox messages commit and the phones and addresses are sent to one by
//! one (`deliveries`), the loop `running` until the last is answered.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use tenon_flows::StepStatus;
use tenon_flows::compile::{Action, CompiledFlow};
use tenon_flows::scope::{ids_of, record_json, value_json};
use tenon_model::apps::formula;
use tenon_model::{MemberId, RecordId, TimeZone};

use super::FlowRun;
use super::actions::{Outcome, Step, StepFailure, context};
use super::deliveries::{collected_deliveries, with_deliveries};
use super::messages::{email_formulas, sms_formulas, stored_values};
use super::outside::{LoopCall, OutsideCall, journal_input};
use super::steps::position;
use crate::Tenant;
use crate::exec::Conn;

/// Items of a `for_each` done per transaction.
pub const FOR_EACH_BATCH: usize = 100;

/// What a step did in this transaction.
pub(super) enum Progress {
    /// It is done.
    Done(Outcome),
    /// It goes on: journaled `running` with `input` (what it resumes from) and `output`; the run sleeps
    /// until `until`, or (without) goes on at once.
    Holds {
        input: Value,
        output: Option<Value>,
        until: Option<DateTime<Utc>>,
    },
    /// An outside step of a `for_each` item: journaled `running` with `input` (the loop's progress and
    /// the request), committed, then sent.
    Outside {
        input: Value,
        call: Box<OutsideCall>,
    },
    /// The step journaled itself (an outcome nobody knows): the run waits for a person.
    Parked,
}

/// A loop's journal input: its items, the items done, and the item under way.
fn loop_input(list: &[Value], done: usize, partial: Option<&Value>) -> Value {
    let mut input = json!({"items": list, "done": done});
    if let Some(partial) = partial {
        input["partial"] = partial.clone();
    }
    input
}

/// A loop's journal input once its pending request is settled: without `outside` and, when it
/// answered (`output`), with the answer among the item's outputs and the item at its next step.
pub(super) fn loop_answered(mut input: Value, key: &str, output: Option<Value>) -> Value {
    if let Some(map) = input.as_object_mut() {
        map.remove("outside");
    }
    if let Some(output) = output {
        let partial = &mut input["partial"];
        partial["outputs"][key] = output;
        let next = partial["next"].as_u64().unwrap_or(0) + 1;
        partial["next"] = json!(next);
    }
    input
}

impl Tenant<'_> {
    /// A `wait`: the instant is computed the first time and read back from the journal after.
    pub(super) async fn wait_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
    ) -> std::result::Result<Progress, StepFailure> {
        let none = Value::Null;
        let step = &compiled.steps[index];
        let Action::Wait {
            seconds,
            until,
            at,
            zone,
        } = &step.action
        else {
            return Err(StepFailure::mapping("not a wait step", &none));
        };
        let now = self.store.now();
        let journaled = run
            .steps
            .iter()
            .find(|entry| entry.key == step.key && entry.status == StepStatus::Running)
            .and_then(|entry| {
                entry
                    .input
                    .as_ref()?
                    .get("until")?
                    .as_str()
                    .map(str::to_owned)
            })
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|time| time.with_timezone(&Utc));
        let wake = match (journaled, seconds, until) {
            (Some(time), _, _) => time,
            (None, Some(seconds), _) => now + Duration::seconds(*seconds),
            (None, None, Some(stored)) => {
                let tables = self
                    .version_tables(conn, compiled)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let scope = compiled.scope_at(index, tables.0.as_slice());
                let formula = formula::check_stored(stored, &scope.schema()).map_err(|_| {
                    StepFailure::mapping("until no longer checks against the tables", &none)
                })?;
                let eval = self
                    .eval_context(conn)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let value = scope.eval(&formula, &context(run), None, &eval);
                let zone = match zone {
                    Some(name) => TimeZone::parse(name).map_err(|reason| {
                        StepFailure::mapping(format!("zone: {}", reason.message), &none)
                    })?,
                    None => self
                        .zone(conn)
                        .await
                        .map_err(|e| StepFailure::store(e, &none))?,
                };
                let wall = at
                    .as_deref()
                    .map(tenon_flows::wait::parse_at)
                    .transpose()
                    .map_err(|reason| StepFailure::mapping(reason, &none))?;
                tenon_flows::wait::wake_at(&value, wall, zone).map_err(|reason| {
                    StepFailure::mapping(reason, &json!({"until": value_json(&value)}))
                })?
            }
            (None, None, None) => return Err(StepFailure::mapping("a wait without a time", &none)),
        };
        let at = json!(wake.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        if wake <= now {
            Ok(Progress::Done(Outcome {
                input: json!({"until": at}),
                output: json!({"until": at}),
                branch: None,
            }))
        } else {
            Ok(Progress::Holds {
                input: json!({"until": at}),
                output: None,
                until: Some(wake),
            })
        }
    }

    /// A `for_each`: the items are computed the first time (and kept in the journal's input with the
    /// count done); each call runs the steps for the next batch of items.
    pub(super) async fn for_each_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
    ) -> std::result::Result<Progress, StepFailure> {
        let none = Value::Null;
        let step = &compiled.steps[index];
        let Action::ForEach {
            items,
            table_id,
            steps,
        } = &step.action
        else {
            return Err(StepFailure::mapping("not a for_each step", &none));
        };
        // The loop ended and its collected messages to phones and addresses are going out.
        if let Some(input) = run
            .steps
            .iter()
            .find(|entry| entry.key == step.key)
            .and_then(|entry| entry.input.clone())
            .filter(|input| input.get("deliveries").is_some())
        {
            return self
                .resume_deliveries(conn, run, compiled, index, input)
                .await;
        }
        let tables = self
            .version_tables(conn, compiled)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        let eval = self
            .eval_context(conn)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        let run_context = context(run);
        let target = match table_id {
            Some(id) => Some(
                tables
                    .table(id)
                    .ok_or_else(|| StepFailure::mapping("the step's table was deleted", &none))?,
            ),
            None => None,
        };
        // Computed once: the journal keeps the items and how many are done.
        let kept = run
            .steps
            .iter()
            .find(|entry| entry.key == step.key)
            .and_then(|entry| entry.input.clone())
            .filter(|input| input.get("items").is_some_and(Value::is_array));
        // `collect: per_recipient` messages so far: by step key, `{title, members: {id: [text]}}`.
        let mut collected = kept
            .as_ref()
            .and_then(|input| input.get("collected"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let (list, done, partial, pending) = match kept {
            Some(input) => (
                input["items"].as_array().cloned().unwrap_or_default(),
                input["done"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0),
                input.get("partial").cloned(),
                input.get("outside").cloned(),
            ),
            None => {
                let scope = compiled.scope_at(index, tables.0.as_slice());
                let formula = formula::check_stored(items, &scope.schema()).map_err(|_| {
                    StepFailure::mapping("items no longer checks against the tables", &none)
                })?;
                let value = scope.eval(&formula, &run_context, None, &eval);
                let list: Vec<Value> = if target.is_some() {
                    ids_of(&value).into_iter().map(Value::String).collect()
                } else {
                    match &value {
                        formula::Value::List(values) => values.iter().map(value_json).collect(),
                        formula::Value::Empty => Vec::new(),
                        formula::Value::Error(error) => {
                            return Err(StepFailure::mapping(
                                format!("items gives an error: {error:?}"),
                                &none,
                            ));
                        }
                        one => vec![value_json(one)],
                    }
                };
                if list.len() > tenon_flows::FOR_EACH_ITEMS_MAX {
                    return Err(StepFailure::mapping(
                        format!(
                            "items gives {} items; a for_each runs for at most 10,000",
                            list.len()
                        ),
                        &json!({"count": list.len()}),
                    ));
                }
                (list, 0, None, None)
            }
        };
        if let Some(pending) = &pending {
            // A request was journaled and its answer never was: send it again only if that is safe.
            let resendable = steps
                .iter()
                .find(|inner| pending["step"] == inner.key.as_str())
                .is_some_and(
                    |inner| matches!(&inner.action, Action::Http(spec) if spec.resendable()),
                );
            if !resendable {
                let entry = run.steps.iter().find(|entry| entry.key == step.key);
                if let Some(entry) = entry {
                    self.unknown_outcome(
                        conn,
                        run,
                        &step.key,
                        position(compiled, &step.key),
                        entry,
                        "for_each",
                        None,
                    )
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                    return Ok(Progress::Parked);
                }
            }
        }
        let count = list.len();
        let end = (done + FOR_EACH_BATCH).min(count);
        // What the journal keeps if this transaction rolls back: the progress it started from.
        let start_input = with_collected(loop_input(&list, done, partial.as_ref()), &collected);
        let scopes: Vec<_> = (0..steps.len())
            .map(|j| compiled.body_scope_at(index, j, tables.0.as_slice()))
            .collect();
        // The batch's records, read at once.
        let mut records = HashMap::new();
        if let Some(target) = target {
            let mut ids = Vec::new();
            for item in &list[done..end] {
                let text = item.as_str().unwrap_or_default();
                let id: RecordId = text.parse().map_err(|_| {
                    StepFailure::mapping(format!("items: {text} is not a record id"), &start_input)
                })?;
                ids.push(id);
            }
            for record in self
                .load_records(conn, target, &ids, None)
                .await
                .map_err(|e| StepFailure::store(e, &start_input))?
            {
                records.insert(record.id.to_string(), record);
            }
        }
        for (i, item) in list.iter().enumerate().take(end).skip(done) {
            let mut item_context = run_context.clone();
            let item_json = match target {
                Some(target) => {
                    let id = item.as_str().unwrap_or_default();
                    let record = records.get(id).ok_or_else(|| StepFailure {
                        failure: tenon_flows::retry::Failure::Refused,
                        reason: format!("item {i}: no record {id} in table {}", target.table.key),
                        input: Box::new(start_input.clone()),
                    })?;
                    json!({"id": id, "fields": record_json(target, record)})
                }
                None => json!({"value": item}),
            };
            item_context["item"] = item_json;
            item_context["loop"] = json!({"index": i, "count": count});
            let mut branches: HashMap<String, bool> = HashMap::new();
            let mut item_outputs = Map::new();
            let mut first = 0;
            // The item's earlier steps ran in an earlier transaction (before an outside step).
            if let Some(resumed) = partial
                .as_ref()
                .filter(|p| p["item"].as_u64() == u64::try_from(i).ok())
            {
                first = resumed["next"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0);
                if let Some(outputs) = resumed["outputs"].as_object() {
                    for (key, output) in outputs {
                        item_outputs.insert(key.clone(), output.clone());
                        set_output(&mut item_context, key, output.clone());
                    }
                }
                if let Some(taken) = resumed["branches"].as_object() {
                    for (key, branch) in taken {
                        branches.insert(key.clone(), branch.as_bool().unwrap_or(false));
                    }
                }
            }
            for (j, inner) in steps.iter().enumerate().skip(first) {
                let taken = inner
                    .guard
                    .iter()
                    .all(|(key, branch)| branches.get(key.as_str()) == Some(branch));
                if !taken {
                    continue;
                }
                if let Action::Http(_) | Action::Robot(_) | Action::Sms(_) | Action::Email(_) =
                    &inner.action
                {
                    let key = format!("{}:{}:{i}", run.id, inner.key);
                    let built = match &inner.action {
                        Action::Http(spec) => {
                            self.http_call(conn, run, &inner.key, spec, &item_context, key)
                                .await
                        }
                        Action::Robot(spec) => {
                            self.robot_call(conn, run, &inner.key, spec, &item_context, key)
                                .await
                        }
                        Action::Sms(spec) => {
                            match stored_values(
                                &scopes[j],
                                &item_context,
                                &eval,
                                &sms_formulas(spec),
                            ) {
                                Ok(values) => {
                                    self.sms_call(conn, run, &inner.key, spec, &values, key)
                                        .await
                                }
                                Err(failed) => Err(failed),
                            }
                        }
                        Action::Email(spec) => {
                            match stored_values(
                                &scopes[j],
                                &item_context,
                                &eval,
                                &email_formulas(spec),
                            ) {
                                Ok(values) => {
                                    self.email_call(
                                        conn,
                                        run,
                                        &inner.key,
                                        spec,
                                        &values,
                                        &item_context,
                                        key,
                                    )
                                    .await
                                }
                                Err(failed) => Err(failed),
                            }
                        }
                        _ => Err(StepFailure::mapping("not an outside step", &none)),
                    };
                    let call = built.map_err(|failed| StepFailure {
                        failure: failed.failure,
                        reason: format!("item {i}, step {}: {}", inner.key, failed.reason),
                        input: Box::new(start_input.clone()),
                    })?;
                    let partial = json!({"item": i, "next": j, "outputs": item_outputs, "branches": branches});
                    let mut input =
                        with_collected(loop_input(&list, i, Some(&partial)), &collected);
                    input["outside"] =
                        json!({"item": i, "step": inner.key, "request": journal_input(&call)});
                    return Ok(Progress::Outside {
                        input,
                        call: Box::new(OutsideCall {
                            step: step.key.clone(),
                            inner: Some(LoopCall {
                                key: inner.key.clone(),
                                item: i,
                            }),
                            ..call
                        }),
                    });
                }
                let here = Step {
                    run,
                    key: &inner.key,
                    tables: &tables,
                    scope: &scopes[j],
                    context: &item_context,
                    eval: &eval,
                };
                let outcome = self
                    .perform(conn, &here, &inner.action)
                    .await
                    .map_err(|failed| StepFailure {
                        failure: failed.failure,
                        reason: format!("item {i}, step {}: {}", inner.key, failed.reason),
                        input: Box::new({
                            let mut input = start_input.clone();
                            input["item"] = json!(i);
                            input["step"] = json!(inner.key);
                            input["input"] = *failed.input;
                            input
                        }),
                    })?;
                if let Action::Notify {
                    per_recipient: true,
                    ..
                } = &inner.action
                {
                    collect(&mut collected, &inner.key, &outcome.input);
                }
                if let Some(branch) = outcome.branch {
                    branches.insert(inner.key.clone(), branch);
                }
                item_outputs.insert(inner.key.clone(), outcome.output.clone());
                set_output(&mut item_context, &inner.key, outcome.output);
            }
        }
        if end >= count {
            let mut output = json!({"count": count});
            if let Some(by_step) = collected.as_object().filter(|c| !c.is_empty()) {
                output["notifications"] = self
                    .send_collected(conn, run, by_step)
                    .await
                    .map_err(|e| StepFailure::store(e, &start_input))?;
                let deliveries = collected_deliveries(by_step);
                if !deliveries.is_empty() {
                    // The inbox messages commit with the list of messages to send and the first
                    // one's request; a failure here rolls the batch back and retries it.
                    let input = with_deliveries(json!({"count": count}), deliveries, output)
                        .map_err(|failed| StepFailure {
                            input: Box::new(start_input.clone()),
                            ..failed
                        })?;
                    return self
                        .deliver(conn, run, compiled, index, input)
                        .await
                        .map_err(|failed| StepFailure {
                            input: Box::new(start_input.clone()),
                            ..failed
                        });
                }
            }
            Ok(Progress::Done(Outcome {
                input: json!({"count": count}),
                output,
                branch: None,
            }))
        } else {
            Ok(Progress::Holds {
                input: with_collected(loop_input(&list, end, None), &collected),
                output: Some(json!({"count": count, "done": end})),
                until: None,
            })
        }
    }
}

/// A loop's journal input with the messages collected so far (none: as it was).
fn with_collected(mut input: Value, collected: &Value) -> Value {
    if collected.as_object().is_some_and(|c| !c.is_empty()) {
        input["collected"] = collected.clone();
    }
    input
}

/// Adds an item's `collect: per_recipient` message (the notify's journal input: `members`, `title`,
/// `text`) to each of its members' lists; the title is the first item's.
fn collect(collected: &mut Value, key: &str, message: &Value) {
    let entry = &mut collected[key];
    if entry.is_null() {
        *entry = json!({"title": message["title"], "members": {}});
    }
    // Phones and addresses (see `deliveries`) are gathered as members are.
    for list in ["members", "phones", "emails"] {
        for recipient in message[list].as_array().into_iter().flatten() {
            let Some(recipient) = recipient.as_str() else {
                continue;
            };
            let lines = &mut entry[list][recipient];
            if lines.is_null() {
                *lines = json!([]);
            }
            if let Some(lines) = lines.as_array_mut() {
                lines.push(message["text"].clone());
            }
        }
    }
}

impl Tenant<'_> {
    /// Sends the messages a loop collected: per step, one to each member, its text the items' texts a
    /// line each. Returns the notification ids by step key.
    async fn send_collected(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        by_step: &Map<String, Value>,
    ) -> crate::Result<Value> {
        let mut sent = Map::new();
        for (key, entry) in by_step {
            let title = entry["title"].as_str();
            let source = json!({
                "flow": run.flow_key,
                "flow_id": run.flow_id.to_string(),
                "run_id": run.id.to_string(),
                "step": key,
            });
            let mut ids = Vec::new();
            for (member, lines) in entry["members"].as_object().into_iter().flatten() {
                let Ok(member) = member.parse::<MemberId>() else {
                    continue;
                };
                let text = lines
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n");
                let notified = self
                    .notify_in(conn, &[member], title, &text, source.clone())
                    .await?;
                ids.extend(notified.iter().map(ToString::to_string));
            }
            sent.insert(key.clone(), json!(ids));
        }
        Ok(Value::Object(sent))
    }
}

/// Puts a step's output where later steps of the item read it: `{steps.<key>.output…}`.
fn set_output(context: &mut Value, key: &str, output: Value) {
    if let Some(Value::Object(outputs)) = context.get_mut("steps") {
        outputs.insert(key.to_owned(), json!({"output": output}));
    } else {
        let mut outputs = Map::new();
        outputs.insert(key.to_owned(), json!({"output": output}));
        context["steps"] = Value::Object(outputs);
    }
}
