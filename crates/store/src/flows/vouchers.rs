//! The voucher steps' requests (`kingdee_voucher`, `yonyou_voucher`), built in the step's journaling
//! transaction: the voucher formula evaluated over the run's values, the Tenon voucher loaded with its
//! book's code and dimension codes, the ledger's exchange payload of it (Kingdee's `GL_VOUCHER` Save
//! model, U8's EAI voucher document, YonSuite's voucher save body — the `yonyou_voucher` step speaks
//! U8's EAI or YonSuite's open API by its connection's kind), the connection's secrets opened; then the
//! push claimed in the organization's memory of pushes ([`super::pushes`]): a voucher pushed before is
//! answered from it.

use std::ops::ControlFlow;

use serde_json::{Value, json};
use tenon_flows::StepStatus;
use tenon_flows::compile::{CompiledFlow, CompiledStep};
use tenon_flows::connection::Auth;
use tenon_flows::kingdee::{self, Login, Push};
use tenon_flows::retry::Failure;
use tenon_flows::voucher::{Vendor, VoucherSpec};
use tenon_flows::{yonsuite, yonyou};
use tenon_ledger::exchange::{self, Books};
use tenon_model::{BookId, VoucherId};

use super::actions::StepFailure;
use super::outside::{OutsideCall, journal_input, refused};
use super::pushes::{Claimed, PushKey, remembered};
use super::steps::{Advance, position};
use super::{FlowRun, StepEntry};
use crate::Tenant;
use crate::exec::{Conn, Sql};
use crate::ledger::{BookLock, BookRef};

/// What the worker does with a voucher step's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoucherPush {
    /// Kingdee's conversation: log in (or reuse the session), ask by key, save.
    Kingdee(Box<Push>),
    /// U8's EAI POST (the call's url and body); an unclear outcome is `unknown_outcome`.
    YonyouU8 { voucher_id: String },
    /// YonSuite's conversation: a token (or the node's), the save with Tenon's `resubmitCheckKey`.
    YonSuite(Box<yonsuite::Push>),
}

impl VoucherPush {
    /// The Tenon voucher's id.
    pub fn voucher_id(&self) -> &str {
        match self {
            VoucherPush::Kingdee(push) => &push.voucher_id,
            VoucherPush::YonyouU8 { voucher_id } => voucher_id,
            VoucherPush::YonSuite(push) => &push.voucher_id,
        }
    }

    /// The connection kind it goes over.
    pub fn kind(&self) -> &'static str {
        match self {
            VoucherPush::Kingdee(_) => "kingdee",
            VoucherPush::YonyouU8 { .. } => "yonyou_u8",
            VoucherPush::YonSuite(_) => "yonsuite",
        }
    }

    /// Whether a push whose answer was never journaled may be sent again: Kingdee asks by key first,
    /// YonSuite keeps the key; U8 can do neither.
    pub fn resendable(&self) -> bool {
        !matches!(self, VoucherPush::YonyouU8 { .. })
    }
}

impl Tenant<'_> {
    /// A voucher step, before it is journaled `running`: its request, built and claimed in the
    /// organization's memory of pushes (`Continue`: send it); or the step ended here (`Break`: no
    /// voucher to push, a push answered from the memory, or waiting for a person).
    pub(super) async fn voucher_step(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
        spec: &VoucherSpec,
        attempts: i32,
    ) -> std::result::Result<ControlFlow<Advance, OutsideCall>, StepFailure> {
        let step = &compiled.steps[index];
        let at = position(compiled, &step.key);
        let values = self
            .step_values(conn, run, compiled, index, &[spec.voucher.as_str()])
            .await?;
        let Some(call) = self
            .voucher_call(conn, run, &step.key, spec, &values[0])
            .await?
        else {
            // No voucher (a sync that only reversed, or none): nothing to push.
            let input = json!({"voucher": null});
            let output = json!({"pushed": false, "voucher_id": null});
            return self
                .voucher_step_done(conn, run, step, at, attempts, input, output)
                .await;
        };
        self.claim_push(conn, run, step, at, spec, call, attempts)
            .await
    }

    /// Journals the step `succeeded` without a request sent: the run goes on.
    #[allow(clippy::too_many_arguments)]
    async fn voucher_step_done(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        step: &CompiledStep,
        at: i32,
        attempts: i32,
        input: Value,
        output: Value,
    ) -> std::result::Result<ControlFlow<Advance, OutsideCall>, StepFailure> {
        self.journal(
            conn,
            run.id,
            &step.key,
            at,
            step.action.type_name(),
            StepStatus::Succeeded,
            attempts,
            None,
            Some(input),
            Some(output),
            None,
        )
        .await
        .map_err(|e| StepFailure::store(e, &Value::Null))?;
        Ok(ControlFlow::Break(Advance::Continue))
    }

    /// Claims `call`'s push (see [`super::pushes`]): `Continue` → send it; else the step ended here
    /// (answered from the memory, or waiting for a person).
    #[allow(clippy::too_many_arguments)]
    async fn claim_push(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        step: &CompiledStep,
        at: i32,
        spec: &VoucherSpec,
        call: OutsideCall,
        attempts: i32,
    ) -> std::result::Result<ControlFlow<Advance, OutsideCall>, StepFailure> {
        let key = step.key.as_str();
        let Some(push) = call.voucher.as_deref() else {
            return Ok(ControlFlow::Continue(call));
        };
        let (voucher_id, vendor, resendable) =
            (push.voucher_id().to_owned(), push.kind(), push.resendable());
        let input = json!({"voucher": voucher_id, "connection": spec.connection});
        let Ok(voucher) = voucher_id.parse::<VoucherId>() else {
            return Err(StepFailure::mapping("not a voucher's id", &input));
        };
        let claimed = self
            .claim_voucher_push(
                conn,
                run.id,
                key,
                attempts,
                &PushKey {
                    connection: &spec.connection,
                    voucher_id: *voucher.as_uuid(),
                    vendor,
                    resendable,
                },
            )
            .await
            .map_err(|e| StepFailure::store(e, &input))?;
        match claimed {
            Claimed::Send => Ok(ControlFlow::Continue(call)),
            Claimed::Pushed { output, run: first } => {
                let output = remembered(output, &voucher_id, first);
                self.voucher_step_done(conn, run, step, at, attempts, input, output)
                    .await
            }
            // Nothing was sent: asking again later is safe.
            Claimed::Busy(reason) => Err(StepFailure {
                failure: Failure::Unavailable,
                reason,
                input: Box::new(input),
            }),
            Claimed::Unknown(why) => {
                let entry = StepEntry {
                    key: key.to_owned(),
                    position: at,
                    step_type: step.action.type_name().to_owned(),
                    status: StepStatus::Running,
                    attempts,
                    branch: None,
                    input: Some(journal_input(&call)),
                    output: None,
                    error: None,
                    started_at: None,
                    finished_at: None,
                };
                self.unknown_outcome(
                    conn,
                    run,
                    key,
                    at,
                    &entry,
                    step.action.type_name(),
                    Some(&why),
                )
                .await
                .map_err(|e| StepFailure::store(e, &Value::Null))?;
                Ok(ControlFlow::Break(Advance::Waiting))
            }
        }
    }

    /// A voucher step's request for the voucher its formula gave (`given`); `None` when it gave none
    /// (nothing to push).
    async fn voucher_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        spec: &VoucherSpec,
        given: &Value,
    ) -> std::result::Result<Option<OutsideCall>, StepFailure> {
        let given = match given {
            Value::String(text) => text.trim().to_owned(),
            Value::Array(items) if items.len() == 1 => {
                items[0].as_str().unwrap_or_default().trim().to_owned()
            }
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if given.is_empty() {
            return Ok(None);
        }
        let input = json!({"voucher": given});
        let Ok(voucher_id) = given.parse::<VoucherId>() else {
            return Err(StepFailure::mapping(
                format!("voucher: {given:?} is not a voucher's id"),
                &input,
            ));
        };
        let found: Option<(uuid::Uuid,)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT book_id FROM ledger_vouchers WHERE organization_id = $1 AND id = $2",
                )
                .bind(self.org_id)
                .bind(voucher_id),
            )
            .await
            .map_err(|e| StepFailure::store(crate::StoreError::from(e), &input))?;
        let Some((book_id,)) = found else {
            return Err(refused(format!(
                "the organization has no voucher {voucher_id}"
            )));
        };
        let book_id = BookId::from_uuid(book_id);
        let book = self
            .find_book_locked(conn, &BookRef::Id(book_id), BookLock::Share)
            .await
            .map_err(|e| match e {
                crate::StoreError::NotFound { .. } => {
                    refused(format!("the book of voucher {voucher_id} is gone"))
                }
                e => StepFailure::store(e, &input),
            })?;
        let stored = self
            .load_voucher(conn, book_id, voucher_id)
            .await
            .map_err(|e| StepFailure::store(e, &input))?
            .ok_or_else(|| refused(format!("the organization has no voucher {voucher_id}")))?;
        // A draft or reviewed voucher may still be replaced in place (same id, new amounts): pushed now,
        // the vendor would keep the first amounts while a query by key says it is there.
        if stored.voucher.state != tenon_ledger::VoucherState::Posted {
            return Err(refused(format!(
                "voucher {voucher_id} is {}, not posted: only posted vouchers are pushed (post it, then retry this step)",
                stored.voucher.state.as_str()
            )));
        }
        let mut books = Books::new(&book.settings.name, book.settings.base_currency);
        books.code = book.code.clone();
        books.fiscal_year_start_month = book.settings.fiscal_year_start_month;
        books.dimension_values = self
            .dimension_values_of(conn, book_id)
            .await
            .map_err(|e| StepFailure::store(e, &input))?;
        books.vouchers = vec![stored.voucher.clone()];
        let (connection, secrets) = self
            .connection_of(conn, &spec.connection, spec.vendor.connection_kinds())
            .await?;
        let config = &connection.config;
        let setting = |name: &str| {
            config
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let secret = |name: &str| secrets.get(name).cloned();
        let timeout = std::time::Duration::from_millis(spec.timeout_ms);
        let base_url = setting("base_url").unwrap_or_default();
        let call = match spec.vendor {
            Vendor::YonyouU8 if connection.kind == "yonsuite" => {
                let codes = |name: &str| -> std::collections::BTreeMap<String, String> {
                    config
                        .get(name)
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.trim().to_owned())))
                        .collect()
                };
                let settings = exchange::yonsuite::Settings {
                    accbook_code: setting("accbook_code").unwrap_or_default(),
                    voucher_types: codes("voucher_types"),
                    auxiliary: codes("auxiliary"),
                    maker_mobile: setting("maker_mobile"),
                    maker_email: setting("maker_email"),
                };
                let id = voucher_id.to_string();
                let resubmit = yonsuite::resubmit_key(&id);
                let body = exchange::yonsuite::voucher_body(
                    &books,
                    &settings,
                    &stored.voucher,
                    &id,
                    &resubmit,
                )
                .map_err(refused)?;
                let push = yonsuite::Push {
                    token_url: setting("token_url")
                        .unwrap_or_else(|| yonsuite::default_token_url(&base_url)),
                    base_url: base_url.clone(),
                    app_key: setting("app_key").unwrap_or_default(),
                    app_secret: secret("app_secret").unwrap_or_default(),
                    key: resubmit,
                    voucher_id: id,
                    body: body.to_string(),
                };
                OutsideCall {
                    org_id: self.org_id,
                    run_id: run.id,
                    step: key.to_owned(),
                    attempt: 0,
                    method: "POST".to_owned(),
                    // Journaled as is: the token travels only in the worker's request.
                    url: format!("{}{}", base_url.trim_end_matches('/'), yonsuite::SAVE_PATH),
                    headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                    body: Some(push.body.clone()),
                    timeout,
                    idempotency_key: push.key.clone(),
                    connection: Some(spec.connection.clone()),
                    auth: Auth::None,
                    mail: None,
                    voucher: Some(Box::new(VoucherPush::YonSuite(Box::new(push)))),
                    sql: None,
                    inner: None,
                    delivery: None,
                }
            }
            Vendor::Kingdee => {
                let model = exchange::kingdee::voucher_save(
                    &books,
                    &exchange::Options::default(),
                    &stored.voucher,
                )["Model"]
                    .clone();
                let login = match (secret("app_secret"), setting("app_id")) {
                    (Some(app_secret), Some(app_id)) => Login::AppSecret { app_id, app_secret },
                    _ => Login::Password(secret("password").unwrap_or_default()),
                };
                let push = Push {
                    base_url: base_url.clone(),
                    acct_id: setting("acct_id").unwrap_or_default(),
                    username: setting("username").unwrap_or_default(),
                    login,
                    lcid: config
                        .get("lcid")
                        .and_then(Value::as_u64)
                        .unwrap_or(kingdee::LCID_DEFAULT),
                    key_field: setting("key_field")
                        .unwrap_or_else(|| kingdee::KEY_FIELD_DEFAULT.to_owned()),
                    key: kingdee::voucher_key(&voucher_id.to_string()),
                    voucher_id: voucher_id.to_string(),
                    model,
                };
                OutsideCall {
                    org_id: self.org_id,
                    run_id: run.id,
                    step: key.to_owned(),
                    attempt: 0,
                    method: "POST".to_owned(),
                    url: kingdee::url(&base_url, kingdee::SAVE_PATH),
                    headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                    body: Some(push.save_body()),
                    timeout,
                    idempotency_key: push.key.clone(),
                    connection: Some(spec.connection.clone()),
                    auth: Auth::None,
                    mail: None,
                    voucher: Some(Box::new(VoucherPush::Kingdee(Box::new(push)))),
                    sql: None,
                    inner: None,
                    delivery: None,
                }
            }
            Vendor::YonyouU8 => {
                let document = exchange::yonyou::voucher_document(
                    &books,
                    &setting("sender").unwrap_or_else(|| yonyou::SENDER_DEFAULT.to_owned()),
                    &setting("receiver").unwrap_or_else(|| yonyou::RECEIVER_DEFAULT.to_owned()),
                );
                let path = setting("path").unwrap_or_else(|| yonyou::PATH_DEFAULT.to_owned());
                let auth = match (setting("username"), secret("password")) {
                    (Some(username), Some(password)) => Auth::Basic { username, password },
                    _ => Auth::None,
                };
                OutsideCall {
                    org_id: self.org_id,
                    run_id: run.id,
                    step: key.to_owned(),
                    attempt: 0,
                    method: "POST".to_owned(),
                    url: format!("{}{path}", base_url.trim_end_matches('/')),
                    headers: vec![("Content-Type".to_owned(), yonyou::CONTENT_TYPE.to_owned())],
                    body: Some(String::from_utf8_lossy(&document).into_owned()),
                    timeout,
                    idempotency_key: format!("{}:{key}", run.id),
                    connection: Some(spec.connection.clone()),
                    auth,
                    mail: None,
                    voucher: Some(Box::new(VoucherPush::YonyouU8 {
                        voucher_id: voucher_id.to_string(),
                    })),
                    sql: None,
                    inner: None,
                    delivery: None,
                }
            }
        };
        Ok(Some(call))
    }
}
