//! Sending an `email` step's message over SMTP (lettre, rustls): the connection's server and login,
//! checked against the outbound policy like every outside request (private addresses only with
//! `tenon serve --outbound-allow`). The message's `Message-ID` is made from the step's idempotency
//! key, so a receiver that sees it twice can tell.

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tenon_events::Sender;
use tenon_flows::connection::Auth;
use tenon_flows::email::{Mail, Tls};
use tenon_flows::retry::Failure;
use tenon_store::flows::{OutboundMail, OutsideAnswer, OutsideCall};

fn failed(failure: Failure, reason: impl Into<String>) -> OutsideAnswer {
    OutsideAnswer::Failed {
        failure,
        reason: reason.into(),
    }
}

/// Sends `call`'s message and says what came of it: the server's reply (as a 2xx "answer"), or why
/// not — transient SMTP refusals (4xx) retry, permanent ones (5xx) fail the step.
pub async fn send(sender: &Sender, call: &OutsideCall) -> OutsideAnswer {
    let Some(outbound) = &call.mail else {
        return failed(Failure::Refused, "the step has no message to send");
    };
    let OutboundMail { server, mail } = outbound.as_ref();
    let target = format!("http://{}:{}/", server.host, server.port);
    if let Err(blocked) = sender.policy().check_url(&target).await {
        return failed(Failure::Refused, blocked.0);
    }
    let message = match message(mail, &call.idempotency_key) {
        Ok(message) => message,
        Err(reason) => return failed(Failure::Mapping, reason),
    };
    let builder = match server.tls {
        Tls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &server.host,
        )),
        Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&server.host),
        Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&server.host),
    };
    let mut builder = match builder {
        Ok(builder) => builder.port(server.port).timeout(Some(call.timeout)),
        Err(error) => return failed(Failure::Refused, error.to_string()),
    };
    if let Auth::Smtp {
        username: Some(username),
        password: Some(password),
    } = &call.auth
    {
        builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
    }
    match builder.build().send(message).await {
        Ok(response) => OutsideAnswer::Answered {
            status: 200,
            body: format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ),
            retry_after: None,
        },
        Err(error) if error.is_timeout() => failed(Failure::Timeout, error.to_string()),
        Err(error) if error.is_transient() => failed(Failure::Unavailable, error.to_string()),
        Err(error) if error.is_permanent() => failed(Failure::Refused, error.to_string()),
        Err(error) => failed(Failure::Connect, error.to_string()),
    }
}

/// The message: plain text, or plain text and HTML as alternatives.
fn message(mail: &Mail, idempotency_key: &str) -> Result<Message, String> {
    let mailbox = |address: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|error| format!("\"{address}\": {error}"))
    };
    let mut builder = Message::builder()
        .from(mailbox(&mail.from)?)
        .subject(mail.subject.clone())
        .message_id(Some(format!(
            "<{}@tenon.flows>",
            idempotency_key.replace(':', ".")
        )));
    for to in &mail.to {
        builder = builder.to(mailbox(to)?);
    }
    for cc in &mail.cc {
        builder = builder.cc(mailbox(cc)?);
    }
    let built = match &mail.html {
        None => builder.singlepart(SinglePart::plain(mail.text.clone())),
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            html.clone(),
        )),
    };
    built.map_err(|error| error.to_string())
}
