//! A flow as people write it, in the `flows:` section of a `tenon.app/v1` file:
//!
//! ```yaml
//! flows:
//!   - key: t2_followup
//!     trigger: {record: orders, on: enter, when: '{状态} = "已签收"'}
//!     steps:
//!       - {key: f, type: create_record, table: followups, fields: {customer: '{trigger.fields.客户}'}}
//!       - {key: tell, type: notify, channel: inbox, to: {members: '{trigger.fields.owner}'}, text: '回访 {{ trigger.fields.customer }}'}
//! ```
//!
//! [`Flow::parse`] checks the shape only (unknown keys, step types, the trigger's form); publishing
//! ([`crate::compile`]) checks it against the tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_model::apps::ApiKey;
use tenon_model::{Checker, DetailCode, Invalid};

use crate::trigger::On;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "enabled", skip_serializing_if = "is_true")]
    pub enabled: bool,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

fn enabled() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// What starts a run. Exactly one of `record`, `manual`, `webhook`, `schedule` and `approval`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The table (key, in the file's app) whose record changes start runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<On>,
    /// For `updated` and `change`: only changes of these fields (keys or names) count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// A condition on the record's stored fields (no `TODAY()`/`NOW()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Started by `POST /api/v1/flows/{flow}/runs {"payload": {…}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<Manual>,
    /// Started by `POST /api/v1/hooks/{slug}` (a secret slug the flow gets when published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// Runs at the slots of a cron pattern in a named zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Events of an approval process's instances: `{approval: {process: CODE, on: [approved, refused]}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalTrigger>,
}

/// An approval trigger: the instances of process `process` (its code) reaching one of the events `on`
/// (`approval.instance.<on>`). Steps read `{trigger.instance_id}`, `{trigger.event}`, `{trigger.status}`,
/// `{trigger.result}`, `{trigger.business_id}`, `{trigger.initiator}`, `{trigger.record_id}` and
/// `{trigger.fields.<field>}` (the record of the process's table, as the approval's transaction leaves it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalTrigger {
    pub process: String,
    #[serde(default)]
    pub on: Vec<ApprovalOn>,
}

/// The instance events an approval trigger fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOn {
    Started,
    Approved,
    Refused,
    Withdrawn,
    Terminated,
}

impl ApprovalOn {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalOn::Started => "started",
            ApprovalOn::Approved => "approved",
            ApprovalOn::Refused => "refused",
            ApprovalOn::Withdrawn => "withdrawn",
            ApprovalOn::Terminated => "terminated",
        }
    }

    /// The trigger's event for an event type (`approval.instance.approved` → `Approved`).
    pub fn of_event(event_type: &str) -> Option<ApprovalOn> {
        match event_type.strip_prefix("approval.instance.")? {
            "started" => Some(ApprovalOn::Started),
            "approved" => Some(ApprovalOn::Approved),
            "refused" => Some(ApprovalOn::Refused),
            "withdrawn" => Some(ApprovalOn::Withdrawn),
            "terminated" => Some(ApprovalOn::Terminated),
            _ => None,
        }
    }
}

/// A manual trigger's typed inputs, read as `{trigger.payload.<key>}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
}

/// A schedule: `{cron: "0 9 * * MON-FRI", zone: "Asia/Shanghai"}` (5 or 6 fields; see
/// [`crate::schedule`]). Steps read `{trigger.scheduled_for}` (the slot's instant) and `{trigger.date}`
/// (its date in the zone), and — as a manual run's — `{trigger.payload.<key>}` of typed `inputs`, which
/// the schedule fills with `payload` (constants, checked against the inputs at publish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub cron: String,
    pub zone: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub payload: serde_json::Map<String, Value>,
}

/// A webhook trigger: `trigger: {webhook: {}}`. The request's JSON body is the run's payload
/// (`{trigger.payload.<key>}` for the typed `inputs`; templates see the whole body).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Typed inputs the body must carry (other keys of the body are kept but not typed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// Requests must carry a Standard Webhooks signature made with the flow's `hook_secret`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed: bool,
    /// The request waits for the run to end and answers its result (else 202 with the run's id).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: InputType,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    Text,
    Number,
    Integer,
    Boolean,
    Date,
    DateTime,
    Ids,
}

/// Checks a payload against typed inputs: every key an input's, required ones given (not null), each
/// value of its input's type (`text` a string, `number` a number or decimal text, `integer` a whole
/// number, `boolean`, `date` `YYYY-MM-DD`, `date_time` RFC 3339, `ids` a list of strings). Problems are
/// named at `<at>.<key>`.
pub fn check_payload(
    inputs: &[Input],
    given: &serde_json::Map<String, Value>,
    at: &str,
    check: &mut Checker,
) {
    for key in given.keys() {
        if !inputs.iter().any(|input| &input.key == key) {
            check.push(
                format!("{at}.{key}"),
                DetailCode::UnknownField,
                "the flow has no such input",
            );
        }
    }
    for input in inputs {
        let path = format!("{at}.{}", input.key);
        match given.get(&input.key) {
            None | Some(Value::Null) => {
                if input.required {
                    check.push(path, DetailCode::Required, "is required");
                }
            }
            Some(value) => {
                let fits = match input.kind {
                    InputType::Text => value.is_string(),
                    InputType::Number => {
                        value.is_number()
                            || value
                                .as_str()
                                .is_some_and(|t| t.parse::<rust_decimal::Decimal>().is_ok())
                    }
                    InputType::Integer => value.is_i64(),
                    InputType::Boolean => value.is_boolean(),
                    InputType::Date => value
                        .as_str()
                        .is_some_and(|t| chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok()),
                    InputType::DateTime => value
                        .as_str()
                        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
                    InputType::Ids => value
                        .as_array()
                        .is_some_and(|items| items.iter().all(Value::is_string)),
                };
                if !fits {
                    check.push(
                        path,
                        DetailCode::InvalidValue,
                        format!("must be {:?}", input.kind).to_lowercase(),
                    );
                }
            }
        }
    }
}

/// One step: `{key, type, …}`. Values of `fields`, `record`, `condition`, `where` and `to.members` are
/// formulas; `text` and `title` are MiniJinja templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    CreateRecord {
        key: String,
        table: String,
        #[serde(default)]
        fields: BTreeMap<String, Value>,
    },
    UpdateRecord {
        key: String,
        table: String,
        record: String,
        #[serde(default)]
        fields: BTreeMap<String, Value>,
    },
    DeleteRecord {
        key: String,
        table: String,
        record: String,
    },
    Get {
        key: String,
        table: String,
        record: String,
    },
    Find {
        key: String,
        table: String,
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    If {
        key: String,
        condition: String,
        #[serde(default)]
        then: Vec<Step>,
        #[serde(default, rename = "else")]
        otherwise: Vec<Step>,
    },
    Notify {
        key: String,
        #[serde(default = "inbox")]
        channel: String,
        to: Recipients,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        text: String,
        /// `per_recipient` (inside a `for_each`): each recipient gets one message when the loop ends,
        /// its text the lines of the items that named them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collect: Option<String>,
        /// How `to.phones` are reached: an SMS connection and the template the text goes into.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sms: Option<NotifySms>,
        /// How `to.emails` are reached: an SMTP connection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<NotifyEmail>,
    },
    /// Waits `for` a duration (`90s`, `5m`, `1h30m`, `3d`, `2w`, or ISO 8601 `PT1H`), or `until` a
    /// formula's date (00:00 in the zone, or the wall time `at`) or instant.
    Wait {
        key: String,
        #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
        /// The zone of `until`'s dates (IANA); the organization's when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zone: Option<String>,
    },
    /// Creates a record, or updates the one whose `on` fields (a unique field or a `unique_together`
    /// group) have the values given.
    Upsert {
        key: String,
        table: String,
        on: Vec<String>,
        #[serde(default)]
        fields: BTreeMap<String, Value>,
    },
    /// Groups and metrics of a table's records, as `GET …/aggregate` computes them (`group_by`, `metrics`,
    /// `sort`, `limit`, and `filter` as a JSON filter tree).
    Aggregate {
        key: String,
        table: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_by: Option<String>,
        metrics: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sort: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Starts a run of another flow (a manual one) with `payload` (its inputs, formulas), and by default
    /// waits for it to finish.
    CallFlow {
        key: String,
        flow: String,
        #[serde(default)]
        payload: BTreeMap<String, Value>,
        #[serde(default = "enabled")]
        wait: bool,
    },
    /// Starts an instance of approval process `process` (its code) on a record: `record` (a formula
    /// giving the id of a record of the process's table) or `fields` (formulas; the record is created in
    /// the step's transaction). The initiator is `initiator` (a formula giving a member id), else the
    /// process's `initiator` rule.
    StartApproval {
        key: String,
        process: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<BTreeMap<String, Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initiator: Option<String>,
    },
    /// The run waits (`waiting`) until the approval instance `approval` (a formula giving its id) is
    /// finished; its output is the instance (`status`, `result`…).
    WaitApproval { key: String, approval: String },
    /// Books the record `record` (a formula giving its id) by the voucher rule `rule` (its key): posts,
    /// leaves alone, corrects or reverses its voucher (docs/ledger-rules.md).
    LedgerSync {
        key: String,
        rule: String,
        record: String,
    },
    /// Calls an outside HTTP endpoint (see [`crate::http`]).
    Http(crate::http::HttpStep),
    /// Sends a message through a DingTalk custom robot (see [`crate::robot`]).
    Robot(crate::robot::RobotStep),
    /// Sends a text message through Aliyun or Tencent Cloud (see [`crate::sms`]).
    Sms(crate::sms::SmsStep),
    /// Sends an e-mail through an SMTP server (see [`crate::email`]).
    Email(crate::email::EmailStep),
    /// Pushes a Tenon voucher to Kingdee K/3 Cloud (see [`crate::voucher`]).
    KingdeeVoucher(crate::voucher::VoucherStep),
    /// Pushes a Tenon voucher to Yonyou U8 through EAI (see [`crate::voucher`]).
    YonyouVoucher(crate::voucher::VoucherStep),
    /// One statement against an external PostgreSQL database (see [`crate::sql`]).
    Sql(crate::sql::SqlStep),
    /// Runs `steps` once per item of `items` (a formula giving a list; record ids of `table` when given).
    ForEach {
        key: String,
        items: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        steps: Vec<Step>,
    },
}

fn inbox() -> String {
    "inbox".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    /// A formula giving member ids (a member field, a list of ids, one id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<String>,
    /// Keys of custom roles (`/api/v1/roles`): their members when the step runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// A formula giving phone numbers (people who need not be members): one text message each,
    /// through the step's `sms` connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phones: Option<String>,
    /// A formula giving e-mail addresses: one e-mail each, through the step's `email` connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<String>,
}

/// A `notify`'s SMS: vendors send only approved templates, so the text goes into one template
/// variable (`param`, `content` unless given; Tencent's only parameter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySms {
    pub connection: String,
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_name: Option<String>,
}

/// A `notify`'s e-mail: the connection; the subject is the title (else the text's first line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyEmail {
    pub connection: String,
}

impl Step {
    pub fn key(&self) -> &str {
        match self {
            Step::CreateRecord { key, .. }
            | Step::UpdateRecord { key, .. }
            | Step::DeleteRecord { key, .. }
            | Step::Get { key, .. }
            | Step::Find { key, .. }
            | Step::If { key, .. }
            | Step::Notify { key, .. }
            | Step::Wait { key, .. }
            | Step::Upsert { key, .. }
            | Step::CallFlow { key, .. }
            | Step::Aggregate { key, .. }
            | Step::StartApproval { key, .. }
            | Step::WaitApproval { key, .. }
            | Step::LedgerSync { key, .. }
            | Step::ForEach { key, .. } => key,
            Step::Http(step) => &step.key,
            Step::Robot(step) => &step.key,
            Step::Sms(step) => &step.key,
            Step::Email(step) => &step.key,
            Step::KingdeeVoucher(step) | Step::YonyouVoucher(step) => &step.key,
            Step::Sql(step) => &step.key,
        }
    }

    /// The step's type as written (`create_record`, `if`…).
    pub fn type_name(&self) -> &'static str {
        match self {
            Step::CreateRecord { .. } => "create_record",
            Step::UpdateRecord { .. } => "update_record",
            Step::DeleteRecord { .. } => "delete_record",
            Step::Get { .. } => "get",
            Step::Find { .. } => "find",
            Step::If { .. } => "if",
            Step::Notify { .. } => "notify",
            Step::Wait { .. } => "wait",
            Step::Upsert { .. } => "upsert",
            Step::CallFlow { .. } => "call_flow",
            Step::Aggregate { .. } => "aggregate",
            Step::StartApproval { .. } => "start_approval",
            Step::WaitApproval { .. } => "wait_approval",
            Step::LedgerSync { .. } => "ledger_sync",
            Step::ForEach { .. } => "for_each",
            Step::Http(_) => "http",
            Step::Robot(_) => "robot",
            Step::Sms(_) => "sms",
            Step::Email(_) => "email",
            Step::KingdeeVoucher(_) => "kingdee_voucher",
            Step::YonyouVoucher(_) => "yonyou_voucher",
            Step::Sql(_) => "sql",
        }
    }
}

/// Step types the issue names that are not built yet: refused with that reason rather than as unknown.
pub const NOT_BUILT_STEPS: &[&str] = &[];

impl Flow {
    /// Parses a flow from JSON (YAML read as JSON) at `path` (`flows[0]`), checking its shape: the key,
    /// the trigger's form, step keys unique in the flow.
    pub fn parse(value: &Value, path: &str) -> Result<Flow, Invalid> {
        if let Some(steps) = value.get("steps").and_then(Value::as_array) {
            let mut check = Checker::default();
            not_built(steps, &format!("{path}.steps"), &mut check);
            check.finish()?;
        }
        let flow: Flow = serde_path_to_error::deserialize(value).map_err(|error| {
            let at = error.path().to_string();
            let field = if at == "." || at.is_empty() {
                path.to_owned()
            } else {
                format!("{path}.{at}")
            };
            Invalid::one(field, DetailCode::InvalidValue, error.inner().to_string())
        })?;
        let mut check = Checker::default();
        check.field(&format!("{path}.key"), ApiKey::parse(&flow.key));
        flow.trigger.check(&format!("{path}.trigger"), &mut check);
        if flow.steps.is_empty() {
            check.push(
                format!("{path}.steps"),
                DetailCode::Required,
                "a flow needs at least one step",
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut count = 0;
        walk(&flow.steps, &format!("{path}.steps"), &mut |step, at| {
            count += 1;
            if ApiKey::parse(step.key()).is_err() {
                check.push(
                    format!("{at}.key"),
                    DetailCode::InvalidFormat,
                    "a step key is a short identifier (letters, digits, _)",
                );
            }
            if !seen.insert(step.key().to_owned()) {
                check.push(
                    format!("{at}.key"),
                    DetailCode::NotUnique,
                    format!("{} is the key of another step of this flow", step.key()),
                );
            }
        });
        if count > crate::STEPS_MAX {
            check.too_many(
                format!("{path}.steps"),
                crate::STEPS_MAX,
                "a flow has at most 200 steps",
            );
        }
        check.finish()?;
        Ok(flow)
    }
}

/// Refuses the issue's step types that this build does not run yet, naming them.
fn not_built(steps: &[Value], path: &str, check: &mut Checker) {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(kind) = step.get("type").and_then(Value::as_str)
            && NOT_BUILT_STEPS.contains(&kind)
        {
            check.push(
                format!("{at}.type"),
                DetailCode::NotAllowed,
                format!("the {kind} step is not available in this version of Tenon"),
            );
        }
        for branch in ["then", "else", "steps"] {
            if let Some(nested) = step.get(branch).and_then(Value::as_array) {
                not_built(nested, &format!("{at}.{branch}"), check);
            }
        }
    }
}

/// Visits every step in execution order (pre-order: an `if`, then its `then`, then its `else`; a
/// `for_each`, then its `steps`) with its path.
pub fn walk<'a>(steps: &'a [Step], path: &str, visit: &mut dyn FnMut(&'a Step, &str)) {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{path}[{i}]");
        visit(step, &at);
        if let Step::If {
            then, otherwise, ..
        } = step
        {
            walk(then, &format!("{at}.then"), visit);
            walk(otherwise, &format!("{at}.else"), visit);
        }
        if let Step::ForEach { steps, .. } = step {
            walk(steps, &format!("{at}.steps"), visit);
        }
    }
}

impl Trigger {
    fn check(&self, path: &str, check: &mut Checker) {
        let kinds = [
            ("record", self.record.is_some()),
            ("manual", self.manual.is_some()),
            ("webhook", self.webhook.is_some()),
            ("schedule", self.schedule.is_some()),
            ("approval", self.approval.is_some()),
        ];
        let given: Vec<&str> = kinds
            .iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
        if given.len() > 1 {
            check.push(
                format!("{path}.{}", given[1]),
                DetailCode::NotAllowed,
                "a trigger is one of: a record trigger, a manual one, a webhook, a schedule, an approval trigger",
            );
        }
        if given.is_empty() {
            check.push(
                path.to_owned(),
                DetailCode::Required,
                "give the trigger: {record: <table>, on: …}, {manual: {}}, {webhook: {}}, {schedule: {cron, zone}} or {approval: {process, on}}",
            );
        } else if self.record.is_some() {
            let on = self.on.unwrap_or(On::Created);
            if on == On::Sync {
                check.push(
                    format!("{path}.on"),
                    DetailCode::NotOneOf,
                    "on: created, updated, deleted, enter, leave or change (sync belongs to a voucher rule's own flow)",
                );
            }
            if self.on.is_none() {
                check.push(
                    format!("{path}.on"),
                    DetailCode::Required,
                    "on: created, updated, deleted, enter, leave or change",
                );
            }
            if on.needs_when() && self.when.is_none() {
                check.push(
                    format!("{path}.when"),
                    DetailCode::Required,
                    format!("on: {} needs a when condition", on.as_str()),
                );
            }
            if !self.fields.is_empty() && !matches!(on, On::Updated | On::Change) {
                check.push(
                    format!("{path}.fields"),
                    DetailCode::NotAllowed,
                    "fields narrows on: updated and on: change only",
                );
            }
        }
        if self.record.is_none() {
            for (name, given) in [
                ("on", self.on.is_some()),
                ("when", self.when.is_some()),
                ("fields", !self.fields.is_empty()),
            ] {
                if given {
                    check.push(
                        format!("{path}.{name}"),
                        DetailCode::NotAllowed,
                        format!("{name} belongs to a record trigger"),
                    );
                }
            }
        }
        if let Some(approval) = &self.approval
            && approval.on.is_empty()
        {
            check.push(
                format!("{path}.approval.on"),
                DetailCode::Required,
                "on: the instance events that start a run (started, approved, refused, withdrawn, terminated)",
            );
        }
        if let Some(schedule) = &self.schedule {
            if let Err(reason) = crate::schedule::Cron::parse(&schedule.cron) {
                check.add(
                    tenon_model::FieldError::new(
                        format!("{path}.schedule.cron"),
                        DetailCode::InvalidFormat,
                        reason,
                    )
                    .with("format", "cron"),
                );
            }
            if let Err(reason) = crate::schedule::zone(&schedule.zone) {
                check.add(
                    tenon_model::FieldError::new(
                        format!("{path}.schedule.zone"),
                        DetailCode::InvalidFormat,
                        reason,
                    )
                    .with("format", "time_zone"),
                );
            }
        }
        let inputs = match (&self.manual, &self.webhook, &self.schedule) {
            (Some(manual), _, _) => Some(("manual", &manual.inputs)),
            (None, Some(webhook), _) => Some(("webhook", &webhook.inputs)),
            (None, None, Some(schedule)) => {
                check_payload(
                    &schedule.inputs,
                    &schedule.payload,
                    &format!("{path}.schedule.payload"),
                    check,
                );
                Some(("schedule", &schedule.inputs))
            }
            (None, None, None) => None,
        };
        if let Some((kind, inputs)) = inputs {
            let mut seen = std::collections::HashSet::new();
            for (i, input) in inputs.iter().enumerate() {
                if !seen.insert(input.key.as_str()) {
                    check.push(
                        format!("{path}.{kind}.inputs[{i}].key"),
                        DetailCode::NotUnique,
                        format!("{} is the key of another input", input.key),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
