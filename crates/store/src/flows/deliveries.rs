//! A `notify`'s messages to people outside the inbox: `to.phones` through its `sms` connection and
//! `to.emails` through its `email` connection, one message per phone number or address.
//!
//! The members' inbox messages commit with the step's first journal row, which also keeps the list of
//! deliveries (`input.deliveries`: channel, recipient, title, text) and how many went out (`sent`).
//! Each delivery is then an outside request like an `sms` or `email` step's: journaled `running` with
//! the request (`input.outside`) and its idempotency key `<run>:<step>:<delivery index>` before it is
//! sent, its answer journaled after (`input.delivered`), then the next. A failure retries or fails the
//! step as the message steps do, and a retry resumes at the delivery that failed: the inbox messages and
//! the deliveries already sent are not repeated. A delivery whose answer was lost is not sent again
//! (a message is not idempotent): the step becomes `unknown_outcome`, and a person resolves it.
//!
//! A `for_each` with `collect: per_recipient` notifies gathers each phone's and address's lines over
//! the items and delivers the same way when the loop ends (the `for_each`'s step, the inner notify's
//! key in each delivery).

use serde_json::{Map, Value, json};
use tenon_flows::StepStatus;
use tenon_flows::compile::{Action, CompiledFlow};
use tenon_flows::definition::{NotifyEmail, NotifySms};
use tenon_flows::sms::{Params, SmsSpec};

use super::FlowRun;
use super::actions::{Outcome, StepFailure};
use super::control::Progress;
use super::outside::{OutsideCall, journal_input};
use super::steps::position;
use crate::Tenant;
use crate::exec::Conn;

/// The most messages one step sends to phones and addresses.
pub const NOTIFY_DELIVERIES_MAX: usize = 1_000;

/// The template variable a `notify`'s text goes into, unless `sms.param` names another.
const SMS_PARAM_DEFAULT: &str = "content";

/// The deliveries of a notify's journal input (`phones`, `emails`, `title`, `text`).
pub(super) fn deliveries_of(step: &str, input: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for (channel, list) in [("sms", "phones"), ("email", "emails")] {
        for to in input[list].as_array().into_iter().flatten() {
            out.push(json!({"step": step, "channel": channel, "to": to,
                            "title": input["title"], "text": input["text"]}));
        }
    }
    out
}

/// The deliveries a loop collected: per notify step, each phone's and address's lines, one message
/// each (the title the first item's).
pub(super) fn collected_deliveries(collected: &Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for (step, entry) in collected {
        for (channel, list) in [("sms", "phones"), ("email", "emails")] {
            for (to, lines) in entry[list].as_object().into_iter().flatten() {
                let text = lines
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n");
                out.push(json!({"step": step, "channel": channel, "to": to,
                                "title": entry["title"], "text": text}));
            }
        }
    }
    out
}

/// The step's journal input with its deliveries to make (none sent yet); `result` is the step's
/// output so far, which the deliveries' answers join.
pub(super) fn with_deliveries(
    mut input: Value,
    deliveries: Vec<Value>,
    result: Value,
) -> std::result::Result<Value, StepFailure> {
    if deliveries.len() > NOTIFY_DELIVERIES_MAX {
        return Err(StepFailure::mapping(
            format!(
                "{} messages to phones and addresses; a step sends at most {NOTIFY_DELIVERIES_MAX}",
                deliveries.len()
            ),
            &Value::Null,
        ));
    }
    input["deliveries"] = json!(deliveries);
    input["sent"] = json!(0);
    input["delivered"] = json!([]);
    input["result"] = result;
    Ok(input)
}

/// The journal input once the pending delivery is settled: without `outside` and, when it was sent
/// (`output`), with its answer and the next delivery due.
pub(crate) fn delivery_answered(mut input: Value, output: Option<Value>) -> Value {
    let pending = input
        .as_object_mut()
        .and_then(|map| map.remove("outside"))
        .unwrap_or(Value::Null);
    if let Some(output) = output {
        let n = pending["delivery"].as_u64().unwrap_or(0);
        let delivery = &input["deliveries"][usize::try_from(n).unwrap_or(0)];
        let answered =
            json!({"channel": delivery["channel"], "to": delivery["to"], "output": output});
        if let Some(list) = input["delivered"].as_array_mut() {
            list.push(answered);
        } else {
            input["delivered"] = json!([answered]);
        }
        input["sent"] = json!(n + 1);
    }
    input
}

/// A notify's `sms` and `email` options: the step `key` itself, or a notify inside the `for_each`.
fn options<'a>(
    action: &'a Action,
    key: &str,
    own: &str,
) -> Option<(Option<&'a NotifySms>, Option<&'a NotifyEmail>)> {
    let notify = match action {
        Action::ForEach { steps, .. } => &steps.iter().find(|inner| inner.key == key)?.action,
        own_step if key == own => own_step,
        _ => return None,
    };
    match notify {
        Action::Notify { sms, email, .. } => Some((sms.as_ref(), email.as_ref())),
        _ => None,
    }
}

impl Tenant<'_> {
    /// A `notify` to phones or addresses: the inbox messages first (in this transaction, with the
    /// deliveries' list), then one delivery per call; a step under way resumes at its next delivery.
    pub(super) async fn notify_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
    ) -> std::result::Result<Progress, StepFailure> {
        let key = &compiled.steps[index].key;
        let kept = run
            .steps
            .iter()
            .find(|entry| &entry.key == key)
            .and_then(|entry| entry.input.clone())
            .filter(|input| input.get("deliveries").is_some());
        if let Some(input) = kept {
            return self
                .resume_deliveries(conn, run, compiled, index, input)
                .await;
        }
        let outcome = self.execute(conn, run, compiled, index).await?;
        let first = outcome.input.clone();
        let deliveries = deliveries_of(key, &outcome.input);
        let input = with_deliveries(outcome.input, deliveries, outcome.output)?;
        // This transaction rolls back on a failure (the inbox messages too): the retry starts afresh.
        self.deliver(conn, run, compiled, index, input)
            .await
            .map_err(|failed| StepFailure {
                input: Box::new(first),
                ..failed
            })
    }

    /// A step whose journal keeps deliveries goes on with them: a delivery journaled and never
    /// answered makes the step `unknown_outcome`; otherwise the next is sent (or the step is done).
    pub(super) async fn resume_deliveries(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
        input: Value,
    ) -> std::result::Result<Progress, StepFailure> {
        let key = &compiled.steps[index].key;
        if input.get("outside").is_some() {
            let entry = run.steps.iter().find(|entry| &entry.key == key);
            if let Some(entry) = entry.filter(|e| e.status == StepStatus::Running) {
                let step_type = compiled.steps[index].action.type_name();
                self.unknown_outcome(
                    conn,
                    run,
                    key,
                    position(compiled, key),
                    entry,
                    step_type,
                    None,
                )
                .await
                .map_err(|e| StepFailure::store(e, &input))?;
                return Ok(Progress::Parked);
            }
        }
        self.deliver(conn, run, compiled, index, delivery_answered(input, None))
            .await
    }

    /// Sends the next delivery of the step's journal input, or ends the step when all went out.
    pub(super) async fn deliver(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
        mut input: Value,
    ) -> std::result::Result<Progress, StepFailure> {
        let step = &compiled.steps[index];
        let sent = input["sent"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let Some(delivery) = input["deliveries"].get(sent).cloned() else {
            let mut output = input["result"].clone();
            output["deliveries"] = input["delivered"].clone();
            return Ok(Progress::Done(Outcome {
                input,
                output,
                branch: None,
            }));
        };
        let inner = delivery["step"].as_str().unwrap_or_default();
        let to = delivery["to"].as_str().unwrap_or_default();
        let text = delivery["text"].as_str().unwrap_or_default();
        let title = delivery["title"].as_str();
        let failing = |failed: StepFailure, input: &Value| StepFailure {
            failure: failed.failure,
            reason: format!(
                "delivery {sent} ({} to {to}): {}",
                delivery["channel"].as_str().unwrap_or_default(),
                failed.reason
            ),
            input: Box::new(input.clone()),
        };
        let Some((sms, email)) = options(&step.action, inner, &step.key) else {
            return Err(StepFailure::mapping(
                format!("no notify step {inner}"),
                &input,
            ));
        };
        let idempotency_key = format!("{}:{inner}:{sent}", run.id);
        let built = match (delivery["channel"].as_str(), sms, email) {
            (Some("sms"), Some(sms), _) => {
                let param = sms.param.as_deref().unwrap_or(SMS_PARAM_DEFAULT);
                // The text is placed in the template as it is, never rendered again.
                let spec = SmsSpec {
                    connection: sms.connection.clone(),
                    phones: String::new(),
                    template: sms.template.clone(),
                    sign_name: sms.sign_name.clone(),
                    params: Params::Named(vec![(param.to_owned(), String::new())]),
                };
                self.sms_call(
                    conn,
                    run,
                    &step.key,
                    &spec,
                    &[json!(to), json!(text)],
                    idempotency_key,
                )
                .await
            }
            (Some("email"), _, Some(email)) => {
                self.smtp_call(
                    conn,
                    run,
                    &step.key,
                    &email.connection,
                    |from| tenon_flows::email::Mail::plain(from, to, title, text),
                    idempotency_key,
                )
                .await
            }
            _ => Err(StepFailure::mapping(
                "a delivery without its channel's options",
                &Value::Null,
            )),
        };
        let call = built.map_err(|failed| failing(failed, &input))?;
        input["outside"] = json!({"delivery": sent, "request": journal_input(&call)});
        Ok(Progress::Outside {
            input,
            call: Box::new(OutsideCall {
                delivery: Some(sent),
                ..call
            }),
        })
    }
}
