//! The requests of the message steps `sms` and `email`, built in the step's journaling transaction:
//! their formulas (phone numbers, addresses, template parameters) evaluated over the run's values (or a
//! `for_each` item's), the connection's secrets opened, the vendor's request laid out unsigned (the
//! worker signs it when it sends: vendors compare the signature's time with their clocks). A `notify`'s
//! messages to phones and addresses are built here too (see `deliveries`).

use serde_json::Value;
use tenon_flows::compile::CompiledFlow;
use tenon_flows::connection::Auth;
use tenon_flows::email::{EmailSpec, SmtpServer, addresses_of};
use tenon_flows::scope::{ScopeSchema, value_json};
use tenon_flows::sms::{self, Params, SmsMessage, SmsSpec, Vendor};
use tenon_model::apps::formula::{self, EvalContext};

use super::FlowRun;
use super::actions::{StepFailure, context};
use super::outside::{OutsideCall, refused};
use crate::Tenant;
use crate::exec::Conn;

/// An e-mail for the worker to send: the server and the rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMail {
    pub server: SmtpServer,
    pub mail: tenon_flows::email::Mail,
}

/// The values of stored formulas over `context` (the run's values, or a loop item's), as JSON.
pub(super) fn stored_values(
    scope: &ScopeSchema,
    context: &Value,
    eval: &EvalContext,
    stored: &[&str],
) -> std::result::Result<Vec<Value>, StepFailure> {
    let none = Value::Null;
    let schema = scope.schema();
    let mut values = Vec::with_capacity(stored.len());
    for source in stored {
        let checked = formula::check_stored(source, &schema).map_err(|_| {
            StepFailure::mapping(
                "a formula of the step no longer checks against the tables",
                &none,
            )
        })?;
        let value = scope.eval(&checked, context, None, eval);
        if let formula::Value::Error(error) = &value {
            return Err(StepFailure::mapping(
                format!("a formula of the step gives an error: {error:?}"),
                &none,
            ));
        }
        values.push(value_json(&value));
    }
    Ok(values)
}

/// The formulas of an `sms` step, in the order [`Tenant::sms_call`] reads their values: the phones,
/// then the parameters.
pub(super) fn sms_formulas(spec: &SmsSpec) -> Vec<&str> {
    let mut stored: Vec<&str> = vec![spec.phones.as_str()];
    match &spec.params {
        Params::Named(named) => stored.extend(named.iter().map(|(_, f)| f.as_str())),
        Params::Ordered(values) => stored.extend(values.iter().map(String::as_str)),
    }
    stored
}

/// The formulas of an `email` step, in the order [`Tenant::email_call`] reads their values: `to`,
/// then `cc`.
pub(super) fn email_formulas(spec: &EmailSpec) -> Vec<&str> {
    let mut stored = vec![spec.to.as_str()];
    stored.extend(spec.cc.as_deref());
    stored
}

impl Tenant<'_> {
    /// The values of stored formulas of step `index`, over the run's values (as JSON).
    pub(super) async fn step_values(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        compiled: &CompiledFlow,
        index: usize,
        stored: &[&str],
    ) -> std::result::Result<Vec<Value>, StepFailure> {
        let none = Value::Null;
        let tables = self
            .version_tables(conn, compiled)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        let scope = compiled.scope_at(index, tables.0.as_slice());
        let eval = self
            .eval_context(conn)
            .await
            .map_err(|e| StepFailure::store(e, &none))?;
        stored_values(&scope, &context(run), &eval, stored)
    }

    /// The connection `name` of one of `kinds`, with its secrets opened.
    pub(super) async fn connection_of(
        &self,
        conn: &mut Conn<'_>,
        name: &str,
        kinds: &[&str],
    ) -> std::result::Result<
        (
            crate::connections::Connection,
            std::collections::BTreeMap<String, String>,
        ),
        StepFailure,
    > {
        let found = self
            .connection_secrets(conn, name)
            .await
            .map_err(|e| StepFailure::store(e, &Value::Null))?;
        let Some((connection, secrets)) = found else {
            return Err(refused(format!(
                "the organization has no connection {name}"
            )));
        };
        if !kinds.contains(&connection.kind.as_str()) {
            return Err(refused(format!(
                "connection {name} is of kind {}, not {}",
                connection.kind,
                kinds.join(" or ")
            )));
        }
        Ok((connection, secrets))
    }

    /// An `sms` step's vendor request; `values` are those of [`sms_formulas`], `idempotency_key` the
    /// step's (`<run>:<step>`) or a loop item's (`<run>:<step>:<item>`).
    pub(super) async fn sms_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        spec: &SmsSpec,
        values: &[Value],
        idempotency_key: String,
    ) -> std::result::Result<OutsideCall, StepFailure> {
        let text = |value: &Value| match value {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let params = match &spec.params {
            Params::Named(named) => Params::Named(
                named
                    .iter()
                    .zip(&values[1..])
                    .map(|((name, _), value)| (name.clone(), text(value)))
                    .collect(),
            ),
            Params::Ordered(_) => Params::Ordered(values[1..].iter().map(text).collect()),
        };
        let (connection, secrets) = self
            .connection_of(conn, &spec.connection, &["aliyun_sms", "tencent_sms"])
            .await?;
        let config = &connection.config;
        let setting = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_owned);
        let message = SmsMessage {
            phones: sms::phones_of(&values[0]),
            template: spec.template.clone(),
            sign_name: spec
                .sign_name
                .clone()
                .or_else(|| setting("sign_name"))
                .unwrap_or_default(),
            params,
        };
        sms::check_message(&message)
            .map_err(|reason| StepFailure::mapping(reason, &Value::Null))?;
        let secret = |name: &str| secrets.get(name).cloned().unwrap_or_default();
        let (request, auth) = match Vendor::of_kind(&connection.kind) {
            Some(Vendor::Tencent) => (
                sms::tencent_request(
                    &setting("base_url").unwrap_or_else(|| sms::TENCENT_BASE_URL.to_owned()),
                    &setting("region").unwrap_or_else(|| sms::TENCENT_REGION.to_owned()),
                    &setting("sdk_app_id").unwrap_or_default(),
                    &message,
                    &idempotency_key,
                ),
                Auth::Tc3 {
                    secret_id: secret("secret_id"),
                    secret_key: secret("secret_key"),
                    service: "sms".to_owned(),
                },
            ),
            _ => (
                sms::aliyun_request(
                    &setting("base_url").unwrap_or_else(|| sms::ALIYUN_BASE_URL.to_owned()),
                    &message,
                    &idempotency_key,
                ),
                Auth::Acs3 {
                    access_key_id: secret("access_key_id"),
                    access_key_secret: secret("access_key_secret"),
                    action: sms::ALIYUN_ACTION.to_owned(),
                    version: sms::ALIYUN_VERSION.to_owned(),
                },
            ),
        };
        Ok(OutsideCall {
            org_id: self.org_id,
            run_id: run.id,
            step: key.to_owned(),
            attempt: 0,
            method: "POST".to_owned(),
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout: std::time::Duration::from_millis(tenon_flows::http::TIMEOUT_DEFAULT_MS),
            idempotency_key,
            connection: Some(spec.connection.clone()),
            auth,
            mail: None,
            voucher: None,
            sql: None,
            inner: None,
            delivery: None,
        })
    }

    /// An `email` step's message, rendered over `context`; `values` are those of [`email_formulas`].
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn email_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        spec: &EmailSpec,
        values: &[Value],
        context: &Value,
        idempotency_key: String,
    ) -> std::result::Result<OutsideCall, StepFailure> {
        self.smtp_call(
            conn,
            run,
            key,
            &spec.connection,
            |from| {
                spec.render(
                    context,
                    from,
                    addresses_of(&values[0]),
                    values.get(1).map(addresses_of).unwrap_or_default(),
                )
            },
            idempotency_key,
        )
        .await
    }

    /// A message through the SMTP connection `name`; `mail` makes it from the sender's address.
    pub(super) async fn smtp_call(
        &self,
        conn: &mut Conn<'_>,
        run: &FlowRun,
        key: &str,
        name: &str,
        mail: impl FnOnce(&str) -> Result<tenon_flows::email::Mail, String>,
        idempotency_key: String,
    ) -> std::result::Result<OutsideCall, StepFailure> {
        let (connection, secrets) = self.connection_of(conn, name, &["smtp"]).await?;
        let server = SmtpServer::from_config(&connection.config);
        let mail =
            mail(&server.from).map_err(|reason| StepFailure::mapping(reason, &Value::Null))?;
        Ok(OutsideCall {
            org_id: self.org_id,
            run_id: run.id,
            step: key.to_owned(),
            attempt: 0,
            method: "SMTP".to_owned(),
            url: format!("smtp://{}:{}", server.host, server.port),
            headers: Vec::new(),
            body: None,
            timeout: std::time::Duration::from_millis(tenon_flows::http::TIMEOUT_MAX_MS),
            idempotency_key,
            connection: Some(name.to_owned()),
            auth: Auth::Smtp {
                username: server.username.clone(),
                password: secrets.get("password").cloned(),
            },
            mail: Some(Box::new(OutboundMail { server, mail })),
            voucher: None,
            sql: None,
            inner: None,
            delivery: None,
        })
    }
}
