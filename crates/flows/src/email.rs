//! The `email` step: a message through the organization's SMTP server, without I/O.
//!
//! ```yaml
//! - {key: mail, type: email, connection: office_smtp, to: '{trigger.fields.email}',
//!    subject: '订单 {{ trigger.fields.customer }}', text: '金额 {{ trigger.fields.amount }} 元'}
//! ```
//!
//! `to` and `cc` are formulas giving addresses (one, a list, or text separated by commas); `subject`,
//! `text` and `html` are MiniJinja templates over the run's values. The connection (kind `smtp`) names
//! the server (`host`, `port`, `tls`: `none`, `starttls` or `tls`), the sender (`from`) and the
//! `username`; its secret is the `password`. A message is not idempotent: a send whose answer was lost
//! becomes `unknown_outcome`. SMTP's transient refusals (4xx) retry, permanent ones (5xx) fail the step.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_model::{Checker, DetailCode};

use crate::scope::{check_template, render};

/// Most recipients (to and cc together) of one message.
pub const RECIPIENTS_MAX: usize = 100;
/// TLS modes of an `smtp` connection.
pub const TLS_MODES: &[&str] = &["none", "starttls", "tls"];

/// The step as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailStep {
    pub key: String,
    pub connection: String,
    /// A formula giving addresses.
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// The compiled step: `to` and `cc` stored formulas, the rest templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailSpec {
    pub connection: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// How the worker talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// Plain SMTP (a relay on a trusted network, tests).
    None,
    /// Plain, upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// An `smtp` connection's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub from: String,
    pub username: Option<String>,
}

impl SmtpServer {
    /// From a connection's config (checked when it was written).
    pub fn from_config(config: &Value) -> SmtpServer {
        let tls = match config.get("tls").and_then(Value::as_str) {
            Some("none") => Tls::None,
            Some("tls") => Tls::Tls,
            _ => Tls::Starttls,
        };
        let port = config
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(match tls {
                Tls::Tls => 465,
                Tls::Starttls => 587,
                Tls::None => 25,
            });
        let text = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_owned);
        SmtpServer {
            host: text("host").unwrap_or_default(),
            port,
            tls,
            from: text("from").unwrap_or_default(),
            username: text("username"),
        }
    }
}

/// A message rendered from a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Checks the step at `at` (its templates; `to`/`cc` are checked as formulas by the caller).
pub fn compile(
    step: &EmailStep,
    to: String,
    cc: Option<String>,
    at: &str,
    check: &mut Checker,
) -> Option<EmailSpec> {
    let mut fine = true;
    let mut template = |field: &str, text: &str| {
        if let Err(reason) = check_template(text) {
            check.push(
                format!("{at}.{field}"),
                DetailCode::InvalidValue,
                format!("the template does not parse: {reason}"),
            );
            fine = false;
        }
    };
    template("subject", &step.subject);
    template("text", &step.text);
    if let Some(html) = &step.html {
        template("html", html);
    }
    fine.then(|| EmailSpec {
        connection: step.connection.clone(),
        to,
        cc,
        subject: step.subject.clone(),
        text: step.text.clone(),
        html: step.html.clone(),
    })
}

/// Addresses from a formula's value: the texts of a list, or text split at commas and semicolons.
pub fn addresses_of(value: &Value) -> Vec<String> {
    crate::sms::phones_of(value)
}

/// A plausible address: one `@` with text on both sides, no spaces or angle brackets.
fn plausible(address: &str) -> bool {
    let mut parts = address.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c.is_control())
}

impl Mail {
    /// A plain message to one address, its text already rendered (a `notify`'s e-mail): the subject
    /// is `title`, else the text's first line (at most 100 characters).
    pub fn plain(from: &str, to: &str, title: Option<&str>, text: &str) -> Result<Mail, String> {
        if !plausible(to) {
            return Err(format!("\"{to}\" is not an e-mail address"));
        }
        let subject: String = title
            .unwrap_or_else(|| text.lines().next().unwrap_or_default())
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        Ok(Mail {
            from: from.to_owned(),
            to: vec![to.to_owned()],
            cc: Vec::new(),
            subject,
            text: text.to_owned(),
            html: None,
        })
    }
}

impl EmailSpec {
    /// Renders the message over the run's context, with the addresses the formulas gave.
    pub fn render(
        &self,
        context: &Value,
        from: &str,
        to: Vec<String>,
        cc: Vec<String>,
    ) -> Result<Mail, String> {
        if to.is_empty() {
            return Err("to: the formula gives no address".to_owned());
        }
        if to.len() + cc.len() > RECIPIENTS_MAX {
            return Err(format!(
                "a message goes to at most {RECIPIENTS_MAX} recipients; this one to {}",
                to.len() + cc.len()
            ));
        }
        for address in to.iter().chain(&cc) {
            if !plausible(address) {
                return Err(format!("\"{address}\" is not an e-mail address"));
            }
        }
        let subject = render(&self.subject, context).map_err(|e| format!("subject: {e}"))?;
        if subject.contains(['\r', '\n']) {
            return Err("subject: a subject is one line".to_owned());
        }
        Ok(Mail {
            from: from.to_owned(),
            to,
            cc,
            subject,
            text: render(&self.text, context).map_err(|e| format!("text: {e}"))?,
            html: self
                .html
                .as_deref()
                .map(|html| render(html, context).map_err(|e| format!("html: {e}")))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_renders_and_bad_addresses_fail_it() {
        let spec = EmailSpec {
            connection: "smtp".into(),
            to: String::new(),
            cc: None,
            subject: "订单 {{ trigger.fields.customer }}".into(),
            text: "金额 {{ trigger.fields.amount }}".into(),
            html: None,
        };
        let context = json!({"trigger": {"fields": {"customer": "甲", "amount": "10.00"}}});
        let mail = spec
            .render(
                &context,
                "tenon@example.com",
                vec!["a@example.com".into()],
                Vec::new(),
            )
            .unwrap();
        assert_eq!(
            (mail.subject.as_str(), mail.text.as_str()),
            ("订单 甲", "金额 10.00")
        );
        assert!(
            spec.render(
                &context,
                "x@example.com",
                vec!["not an address".into()],
                Vec::new()
            )
            .is_err()
        );
        assert!(
            spec.render(&context, "x@example.com", Vec::new(), Vec::new())
                .is_err()
        );
        assert_eq!(
            SmtpServer::from_config(
                &json!({"host": "smtp.example.com", "tls": "tls", "from": "a@example.com"})
            )
            .port,
            465
        );
    }
}
