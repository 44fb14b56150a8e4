//! Outside steps (`http`, `robot`, `sms`, `email`, `sql`, the voucher steps, and a `notify`'s
//! messages to phones and addresses): a request to another system cannot commit with the step's
//! journal row, so it is done in three moves, each fenced by the claim's epoch:
//!
//! 1. [`Tenant::outside_step`] renders the request from the run's values, opens the connection's
//!    secrets, and journals the step `running` with the request (never its credentials) and its
//!    idempotency key `<run>:<step>` — committed before anything is sent;
//! 2. the worker (`tenon-connect`) sends it, with `Idempotency-Key`;
//! 3. [`Store::finish_outside_step`] journals the answer: a 2xx's output (mapped by the step's JSON
//!    pointers), or a failure retried or failed as [`tenon_flows::retry`] decides.
//!
//! A worker that dies between 1 and 3 leaves the step `running`. The next claim sends the request again
//! if that is safe ([`tenon_flows::http::HttpSpec::resendable`]: `GET`, `PUT`, `DELETE`…, or a step
//! marked `idempotent`); otherwise the step becomes `unknown_outcome`, `flow.step.unknown_outcome` is
//! appended and the run waits for a person (`POST …/steps/{step}/resolve`).

use std::ops::ControlFlow;

use chrono::Duration;
use serde_json::{Map, Value, json};
use tenon_flows::StepStatus;
use tenon_flows::compile::{Action, CompiledFlow};
use tenon_flows::connection::{Auth, http_auth, robot_auth};
use tenon_flows::http::{HttpSpec, join};
use tenon_flows::retry::Failure;
use tenon_flows::robot::RobotSpec;
use tenon_model::{FlowRunId, OrgId, TargetKind};

use super::actions::{StepFailure, context};
use super::control::loop_answered;
use super::deliveries::delivery_answered;
use super::messages::{email_formulas, sms_formulas};
use super::runs::Claim;
use super::steps::{Advance, cap, flow_context, position};
use super::{FlowRun, StepEntry};
use crate::audit::{self, NamedChange};
use crate::events::ExplicitEvent;
use crate::exec::{Conn, Sql};
use crate::{Result, Store, StoreError, Tenant};

/// The most of a request's body the journal keeps.
const JOURNAL_BODY_CHARS_MAX: usize = 16 * 1024;

/// A request a worker is to send for an outside step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideCall {
    pub org_id: OrgId,
    pub run_id: FlowRunId,
    pub step: String,
    /// The attempt this send is (the journal's `attempts`).
    pub attempt: i32,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: std::time::Duration,
    /// Sent as `Idempotency-Key`: the same for every attempt of the step.
    pub idempotency_key: String,
    /// The connection's key, if the step names one.
    pub connection: Option<String>,
    /// The connection's credentials (its `Debug` shows none).
    pub auth: Auth,
    /// An `email` step's message: sent over SMTP instead of HTTP.
    pub mail: Option<Box<super::OutboundMail>>,
    /// A voucher step's push: Kingdee's conversation, or U8's POST (see [`super::VoucherPush`]).
    pub voucher: Option<Box<super::VoucherPush>>,
    /// An `sql` step's statement: run over a database connection instead of HTTP.
    pub sql: Option<Box<super::SqlRun>>,
    /// An outside step inside a `for_each` (`step` is then the loop's key).
    pub inner: Option<LoopCall>,
    /// A `notify`'s message to a phone or an address: its index in the step's `deliveries` (`step`
    /// is the notify's, or the `for_each`'s that collected it; see [`super::deliveries`]).
    pub delivery: Option<usize>,
}

/// Which step of which item of a `for_each` a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopCall {
    /// The inner step's key.
    pub key: String,
    /// The item's index (from 0).
    pub item: usize,
}

/// What came of sending an [`OutsideCall`].
#[derive(Debug, Clone)]
pub enum OutsideAnswer {
    /// An HTTP answer: its status, body (text, capped) and `Retry-After`.
    Answered {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// No answer: `Failure::Connect`, `Failure::Timeout`, or `Failure::Refused` (a target the outbound
    /// policy blocks), with the reason.
    Failed { failure: Failure, reason: String },
    /// The request went out and its outcome is unclear (no answer in time, the connection broke after
    /// it was sent): an unsafe connector's step (U8) becomes `unknown_outcome`; others retry.
    Unclear(String),
    /// A connector that held a conversation and judged it (Kingdee: login, query, save): the step's
    /// output.
    Output(Value),
}

impl Store {
    /// Journals the answer of an outside step's request (see the module documentation).
    pub async fn finish_outside_step(
        &self,
        claim: &Claim,
        call: &OutsideCall,
        answer: OutsideAnswer,
    ) -> Result<Advance> {
        self.tenant(claim.org_id)
            .finish_outside(claim, call, answer)
            .await
    }
}

impl Tenant<'_> {
    /// Step 1: journals the request `running` and hands it to the worker; or, for a request sent before
    /// whose answer is unknown, resends it or marks the step `unknown_outcome`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn outside_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
        entry: Option<&StepEntry>,
        attempts: i32,
    ) -> std::result::Result<Advance, StepFailure> {
        let none = Value::Null;
        let step = &compiled.steps[index];
        let key = step.key.as_str();
        let at = position(compiled, key);
        let resendable = match &step.action {
            Action::Http(spec) => spec.resendable(),
            Action::Voucher(spec) => spec.resendable(),
            Action::Sql(spec) => spec.resendable(),
            _ => false,
        };
        if let Some(entry) = entry.filter(|e| e.status == StepStatus::Running)
            && !resendable
            && !self.keeps_key(conn, &step.action).await
        {
            self.unknown_outcome(conn, run, key, at, entry, step.action.type_name(), None)
                .await
                .map_err(|e| StepFailure::store(e, &none))?;
            return Ok(Advance::Waiting);
        }
        let run_context = context(run);
        let idempotency_key = format!("{}:{key}", run.id);
        let call = match &step.action {
            Action::Http(spec) => {
                self.http_call(conn, run, key, spec, &run_context, idempotency_key)
                    .await?
            }
            Action::Robot(spec) => {
                self.robot_call(conn, run, key, spec, &run_context, idempotency_key)
                    .await?
            }
            Action::Sms(spec) => {
                let values = self
                    .step_values(conn, run, compiled, index, &sms_formulas(spec))
                    .await?;
                self.sms_call(conn, run, key, spec, &values, idempotency_key)
                    .await?
            }
            Action::Email(spec) => {
                let values = self
                    .step_values(conn, run, compiled, index, &email_formulas(spec))
                    .await?;
                self.email_call(conn, run, key, spec, &values, &run_context, idempotency_key)
                    .await?
            }
            Action::Sql(spec) => self.sql_call(conn, run, compiled, index, spec).await?,
            Action::Voucher(spec) => {
                match self
                    .voucher_step(conn, run, compiled, index, spec, attempts)
                    .await?
                {
                    ControlFlow::Continue(call) => call,
                    ControlFlow::Break(ended) => return Ok(ended),
                }
            }
            _ => return Err(refused(format!("step {key} is not an outside step"))),
        };
        let input = journal_input(&call);
        self.journal(
            conn,
            run.id,
            key,
            at,
            step.action.type_name(),
            StepStatus::Running,
            attempts,
            None,
            Some(input),
            None,
            None,
        )
        .await
        .map_err(|e| StepFailure::store(e, &none))?;
        Ok(Advance::Outside(Box::new(OutsideCall {
            attempt: attempts,
            ..call
        })))
    }

    /// An `http` step's request, rendered over `context` (the run's values, or a loop item's).
    pub(super) async fn http_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        spec: &HttpSpec,
        context: &Value,
        idempotency_key: String,
    ) -> std::result::Result<OutsideCall, StepFailure> {
        let none = Value::Null;
        let rendered = spec
            .render(context)
            .map_err(|reason| StepFailure::mapping(reason, &none))?;
        let (url, auth) = match &spec.connection {
            Some(name) => {
                let found = self
                    .connection_secrets(conn, name)
                    .await
                    .map_err(|e| StepFailure::store(e, &none))?;
                let Some((connection, secrets)) = found else {
                    return Err(refused(format!(
                        "the organization has no connection {name}"
                    )));
                };
                if connection.kind != "http" {
                    return Err(refused(format!(
                        "connection {name} is of kind {}, not http",
                        connection.kind
                    )));
                }
                let base = connection.config["base_url"].as_str().unwrap_or_default();
                let url = join(base, &rendered.url).map_err(|r| StepFailure::mapping(r, &none))?;
                (url, http_auth(&connection.config, &secrets))
            }
            None => (rendered.url.clone(), Auth::None),
        };
        Ok(OutsideCall {
            org_id: self.org_id,
            run_id: run.id,
            step: key.to_owned(),
            attempt: 0,
            method: rendered.method,
            url,
            headers: rendered.headers,
            body: rendered.body,
            timeout: std::time::Duration::from_millis(spec.timeout_ms),
            idempotency_key,
            connection: spec.connection.clone(),
            auth,
            mail: None,
            voucher: None,
            sql: None,
            inner: None,
            delivery: None,
        })
    }

    /// A `robot` step's message, rendered over `context`.
    pub(super) async fn robot_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        spec: &RobotSpec,
        context: &Value,
        idempotency_key: String,
    ) -> std::result::Result<OutsideCall, StepFailure> {
        let none = Value::Null;
        let body = spec
            .body(context)
            .map_err(|reason| StepFailure::mapping(reason, &none))?;
        let name = &spec.connection;
        let found = self
            .connection_secrets(conn, name)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        let Some((connection, secrets)) = found else {
            return Err(refused(format!(
                "the organization has no connection {name}"
            )));
        };
        if connection.kind != "dingtalk_robot" {
            return Err(refused(format!(
                "connection {name} is of kind {}, not dingtalk_robot",
                connection.kind
            )));
        }
        let (url, auth) = robot_auth(&connection.config, &secrets);
        Ok(OutsideCall {
            org_id: self.org_id,
            run_id: run.id,
            step: key.to_owned(),
            attempt: 0,
            method: "POST".to_owned(),
            url,
            headers: Vec::new(),
            body: Some(body),
            timeout: std::time::Duration::from_millis(tenon_flows::http::TIMEOUT_DEFAULT_MS),
            idempotency_key,
            connection: Some(name.clone()),
            auth,
            mail: None,
            voucher: None,
            sql: None,
            inner: None,
            delivery: None,
        })
    }

    /// A request was sent (or may have been) and its answer never journaled, and sending it again is
    /// not safe: a person decides.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn unknown_outcome(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        at: i32,
        entry: &StepEntry,
        step_type: &str,
        why: Option<&str>,
    ) -> Result<()> {
        let message = match why {
            Some(why) => format!(
                "the request was sent but its outcome is unclear ({why}): resolve the step with done \
                 (it took effect) or retry (send it again)"
            ),
            None => "the request was sent (or may have been) but its answer was not journaled: \
                     resolve the step with done (it took effect) or retry (send it again)"
                .to_owned(),
        };
        let error = json!({
            "kind": "unknown_outcome",
            "message": message,
            "attempt": entry.attempts,
        });
        self.journal(
            conn,
            run.id,
            key,
            at,
            step_type,
            StepStatus::UnknownOutcome,
            entry.attempts,
            None,
            entry.input.clone(),
            None,
            Some(error.clone()),
        )
        .await?;
        if matches!(step_type, "kingdee_voucher" | "yonyou_voucher") {
            self.voucher_push_unknown(conn, run.id, key).await?;
        }
        self.park(conn, run, Duration::days(1)).await?;
        let data = json!({
            "run": {
                "id": run.id.to_string(),
                "flow": run.flow_key,
                "flow_id": run.flow_id.to_string(),
                "version": run.version,
                "status": "waiting",
            },
            "step": {"key": key, "type": step_type, "input": entry.input, "error": error},
        });
        audit::record_with_events(
            conn,
            self,
            NamedChange {
                target_kind: TargetKind::FlowRun,
                target_id: run.id.to_string(),
                action: "unknown_outcome",
                before: None,
                after: Some(data.clone()),
                ctx: &flow_context(run),
                events: vec![ExplicitEvent {
                    id: tenon_model::EventId::new(),
                    event_type: "flow.step.unknown_outcome",
                    subject: json!({"type": "flow_run", "id": run.id.to_string()}),
                    subject_key: format!("flow_run:{}", run.id),
                    app_id: None,
                    table_id: None,
                    data,
                }],
            },
        )
        .await
    }

    /// Step 3: journals the answer (fenced: a worker that lost its claim changes nothing).
    async fn finish_outside(
        &self,
        claim: &Claim,
        call: &OutsideCall,
        answer: OutsideAnswer,
    ) -> Result<Advance> {
        let Some((mut tx, run)) = self.fenced_run(claim).await? else {
            return Ok(Advance::Lost);
        };
        let mut conn = tx.conn();
        let Some(entry) = run.steps.iter().find(|e| {
            e.key == call.step && e.status == StepStatus::Running && e.attempts == call.attempt
        }) else {
            // Another attempt took over (a stalled worker's answer): keep the journal as it is.
            return Ok(Advance::Lost);
        };
        let input = entry.input.clone().unwrap_or(Value::Null);
        if let Some(inner) = &call.inner {
            // The loop's pending request must still be this one (item and step).
            let pending = &input["outside"];
            if pending["step"] != inner.key.as_str()
                || pending["item"].as_u64() != u64::try_from(inner.item).ok()
            {
                return Ok(Advance::Lost);
            }
        }
        if let Some(n) = call.delivery
            && input["outside"]["delivery"].as_u64() != u64::try_from(n).ok()
        {
            // The step's pending delivery is another (a stalled worker's answer).
            return Ok(Advance::Lost);
        }
        let compiled = self
            .committed_flow_version(&mut conn, run.flow_id, run.version)
            .await?;
        let step = compiled
            .step(&call.step)
            .ok_or_else(|| StoreError::Corrupt(format!("no step {}", call.step)))?;
        let action = match (&call.inner, &step.action) {
            (None, action) => action,
            (Some(inner), Action::ForEach { steps, .. }) => steps
                .iter()
                .find(|s| s.key == inner.key)
                .map(|s| &s.action)
                .ok_or_else(|| StoreError::Corrupt(format!("no step {}", inner.key)))?,
            (Some(_), _) => {
                return Err(StoreError::Corrupt(format!(
                    "step {} is not a for_each",
                    call.step
                )));
            }
        };
        let judged = match (action, &answer) {
            // A notify's message: judged as the `sms` or `email` step's.
            (_, OutsideAnswer::Answered { status, body, .. }) if call.delivery.is_some() => {
                match (&call.mail, &call.auth) {
                    (Some(_), _) => (200..300)
                        .contains(status)
                        .then(|| Ok(json!({"reply": body}))),
                    (None, Auth::Tc3 { .. }) => Some(tenon_flows::sms::judge(
                        tenon_flows::sms::Vendor::Tencent,
                        *status,
                        body,
                    )),
                    (None, _) => Some(tenon_flows::sms::judge(
                        tenon_flows::sms::Vendor::Aliyun,
                        *status,
                        body,
                    )),
                }
            }
            (Action::Http(spec), OutsideAnswer::Answered { status, body, .. })
                if (200..300).contains(status) =>
            {
                Some(Ok(spec.output(*status, body)))
            }
            (Action::Robot(_), OutsideAnswer::Answered { status, body, .. }) => {
                Some(tenon_flows::robot::judge(*status, body))
            }
            (Action::Sms(_), OutsideAnswer::Answered { status, body, .. }) => {
                let vendor = match call.auth {
                    Auth::Tc3 { .. } => tenon_flows::sms::Vendor::Tencent,
                    _ => tenon_flows::sms::Vendor::Aliyun,
                };
                Some(tenon_flows::sms::judge(vendor, *status, body))
            }
            (Action::Email(_), OutsideAnswer::Answered { status, body, .. })
                if (200..300).contains(status) =>
            {
                Some(Ok(json!({"reply": body})))
            }
            (_, OutsideAnswer::Output(output)) => Some(Ok(output.clone())),
            (Action::Voucher(_), OutsideAnswer::Answered { status, body, .. }) => {
                let voucher_id = call
                    .voucher
                    .as_deref()
                    .map_or("", super::VoucherPush::voucher_id);
                Some(tenon_flows::yonyou::judge(*status, body, voucher_id))
            }
            (Action::Voucher(_) | Action::Sql(_), OutsideAnswer::Unclear(why))
                if !resendable(action) && call.inner.is_none() =>
            {
                // U8 keeps no key: a person decides whether the voucher arrived.
                let entry = entry.clone();
                let at = position(&compiled, &call.step);
                self.unknown_outcome(
                    &mut conn,
                    &run,
                    &call.step,
                    at,
                    &entry,
                    step.action.type_name(),
                    Some(why),
                )
                .await?;
                tx.commit().await?;
                return Ok(Advance::Waiting);
            }
            _ => None,
        };
        let (failure, reason) = match (judged, answer) {
            (Some(Ok(mut output)), _) => {
                if let (Action::Voucher(_), None) = (action, &call.inner) {
                    output["already_pushed"] = json!(false);
                    self.voucher_pushed(&mut conn, run.id, &call.step, &output, self.store.now())
                        .await?;
                }
                let (status, input, output) = match &call.inner {
                    // The step goes on at its next delivery, in the same attempt.
                    None if call.delivery.is_some() => (
                        StepStatus::Running,
                        delivery_answered(input, Some(cap(output))),
                        entry.output.clone(),
                    ),
                    // The loop goes on at the item's next step, in the same attempt.
                    Some(inner) => (
                        StepStatus::Running,
                        loop_answered(input, &inner.key, Some(cap(output))),
                        entry.output.clone(),
                    ),
                    None => (StepStatus::Succeeded, input, Some(cap(output))),
                };
                self.journal(
                    &mut conn,
                    run.id,
                    &call.step,
                    position(&compiled, &call.step),
                    step.action.type_name(),
                    status,
                    call.attempt,
                    None,
                    Some(input),
                    output,
                    None,
                )
                .await?;
                tx.commit().await?;
                return Ok(Advance::Continue);
            }
            (Some(Err(judged)), _) => judged,
            (
                None,
                OutsideAnswer::Answered {
                    status,
                    body,
                    retry_after,
                },
            ) => (
                Failure::Status {
                    code: status,
                    retry_after,
                },
                format!("HTTP {status}: {}", excerpt(&body)),
            ),
            (None, OutsideAnswer::Failed { failure, reason }) => (failure, reason),
            (None, OutsideAnswer::Unclear(reason)) => (Failure::Timeout, reason),
            (None, OutsideAnswer::Output(_)) => {
                return Err(StoreError::Corrupt("an output was not judged".to_owned()));
            }
        };
        let failed = match &call.inner {
            // A retry resumes at this delivery (those sent stay sent).
            None if call.delivery.is_some() => {
                let n = call.delivery.unwrap_or(0);
                let delivery = &input["deliveries"][n];
                StepFailure {
                    failure,
                    reason: format!(
                        "delivery {n} ({} to {}): {reason}",
                        delivery["channel"].as_str().unwrap_or_default(),
                        delivery["to"].as_str().unwrap_or_default()
                    ),
                    input: Box::new(delivery_answered(input, None)),
                }
            }
            // A retry of the loop resumes at this item and step (its earlier steps stay done).
            Some(inner) => StepFailure {
                failure,
                reason: format!("item {}, step {}: {reason}", inner.item, inner.key),
                input: Box::new(loop_answered(input, &inner.key, None)),
            },
            None => StepFailure {
                failure,
                reason,
                input: Box::new(input),
            },
        };
        drop(tx);
        self.step_failed(claim, &compiled, &call.step, call.attempt, failed)
            .await
    }
}

impl Tenant<'_> {
    /// Whether a `yonyou_voucher` step goes over a `yonsuite` connection (YonSuite keeps Tenon's key,
    /// so a push sent before without a journaled answer is sent again), asked only after a worker died
    /// mid-request.
    async fn keeps_key(&self, conn: &mut Conn<'_>, action: &Action) -> bool {
        let Action::Voucher(spec) = action else {
            return false;
        };
        let kind: Option<(String,)> = conn
            .fetch_optional(
                Sql::new("SELECT kind FROM connections WHERE organization_id = $1 AND key = $2")
                    .bind(self.org_id)
                    .bind(spec.connection.as_str()),
            )
            .await
            // Not known: the safe answer (a person decides) rather than a second send.
            .unwrap_or(None);
        kind.is_some_and(|(kind,)| kind == "yonsuite")
    }
}

/// Whether a step's request may be sent again when its outcome is unclear.
fn resendable(action: &Action) -> bool {
    match action {
        Action::Http(spec) => spec.resendable(),
        Action::Voucher(spec) => spec.resendable(),
        Action::Sql(spec) => spec.resendable(),
        _ => false,
    }
}

/// What the journal keeps of a request (never the connection's credentials).
pub(super) fn journal_input(call: &OutsideCall) -> Value {
    let cut = |text: &str| {
        text.chars()
            .take(JOURNAL_BODY_CHARS_MAX)
            .collect::<String>()
    };
    if let Some(outbound) = &call.mail {
        let mail = &outbound.mail;
        return json!({
            "server": call.url,
            "from": mail.from,
            "to": mail.to,
            "cc": mail.cc,
            "subject": mail.subject,
            "text": cut(&mail.text),
            "html": mail.html.as_deref().map(cut),
            "connection": call.connection,
            "idempotency_key": call.idempotency_key,
        });
    }
    if let Some(sql) = &call.sql {
        return json!({
            "database": call.url,
            "query": call.body.as_deref().map(cut),
            "params": sql.params,
            "allow_write": sql.allow_write,
            "connection": call.connection,
            "idempotency_key": call.idempotency_key,
        });
    }
    json!({
        "method": call.method,
        "url": call.url,
        "headers": call.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>(),
        "body": call.body.as_deref().map(cut),
        "connection": call.connection,
        "idempotency_key": call.idempotency_key,
    })
}

pub(super) fn refused(reason: String) -> StepFailure {
    StepFailure {
        failure: Failure::Refused,
        reason,
        input: Box::new(Value::Null),
    }
}

/// The start of an answer's body, for an error message.
fn excerpt(body: &str) -> String {
    let text: String = body.chars().take(500).collect();
    if text.len() < body.len() {
        format!("{text}…")
    } else {
        text
    }
}
