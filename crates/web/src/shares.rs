//! The page of a signed record link, `GET /s/{token}` and `POST /s/{token}`: one record's chosen fields,
//! read-only, or (an edit link) a plain form changing the editable ones that works with JavaScript off (an
//! `application/x-www-form-urlencoded` post to the same address). The page is in the organization's
//! language unless the visitor picks the other with the switch (`?lang=`).
//!
//! Opening and editing go through the same code as the JSON API (`tenon_server::routes::share_links`):
//! the token, expiry, revocation, the maker's current access and the per-address limits are checked
//! there, and every use is audited there. A link that is gone answers 410 with a page saying so.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fluent_bundle::FluentValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenon_model::apps::FieldType;
use tenon_server::routes::share_links::{self, OpenShare, SharedField};
use tenon_server::{ApiError, AppState};

use crate::i18n::{self, Lang};
use crate::public_page::{
    self, InputOut, SwitchOut, input_out, pairs, posted_under, shown, text, texts_of, typed_value,
};

#[derive(Debug, Deserialize)]
pub struct ShareQuery {
    lang: Option<String>,
}

#[derive(Debug, Serialize)]
struct FieldOut {
    /// The input (its id `s-1`, …); its value as text: what a read-only field shows, what an input holds.
    #[serde(flatten)]
    input: InputOut,
    label: String,
    editable: bool,
}

#[derive(Debug, Serialize)]
struct Context {
    lang: &'static str,
    title: String,
    /// `view`: the fields; `gone`: the link no longer opens; `limited`: too many requests.
    state: &'static str,
    fields: Vec<FieldOut>,
    /// The form posts here (an edit link with at least one editable field), else empty.
    action: String,
    switch: SwitchOut,
    /// Above the fields: saved, or what to correct.
    notice: Option<String>,
    form_error: Option<String>,
    /// The explanation of a `gone` or `limited` page.
    message: String,
    expires: String,
    /// Who shared the record, and from which organization ("" on the refusal pages).
    shared_by: String,
}

/// The page's language: `?lang=` (the switch), else the language cookie, else `fallback`.
fn language(query: Option<&str>, headers: &HeaderMap, fallback: Option<Lang>) -> Lang {
    public_page::chosen(query, headers)
        .or(fallback)
        .unwrap_or_else(|| i18n::negotiate(headers, None))
}

/// The texts an input holds for a stored value (a date-time in the organization's zone, without one).
fn input_texts(open: &OpenShare, shared: &SharedField, value: &Value) -> Vec<String> {
    match (shared.field.field_type(), value) {
        (FieldType::DateTime, Value::String(raw)) => chrono::DateTime::parse_from_rfc3339(raw)
            .map(|at| {
                at.with_timezone(&open.organization.time_zone.tz())
                    .format("%Y-%m-%dT%H:%M")
                    .to_string()
            })
            .map_or_else(|_| vec![raw.clone()], |text| vec![text]),
        _ => texts_of(Some(value)),
    }
}

fn field_out(
    lang: Lang,
    open: &OpenShare,
    index: usize,
    shared: &SharedField,
    value: &Value,
    errors: &[(String, String)],
) -> FieldOut {
    let texts = input_texts(open, shared, value);
    let text = if shared.editable {
        texts.first().cloned().unwrap_or_default()
    } else {
        shown(lang, value)
    };
    FieldOut {
        input: input_out(
            &shared.field,
            format!("s-{index}"),
            &texts,
            text,
            matches!(value, Value::Bool(true)),
            errors,
        ),
        label: shared.field.name.to_string(),
        editable: shared.editable,
    }
}

fn switch(token: &str, lang: Lang) -> SwitchOut {
    public_page::switch(lang, |other| format!("/s/{token}?lang={}", other.tag()))
}

fn respond(status: StatusCode, context: &Context, lang: Lang) -> Response {
    // The token is in the address: the security headers' `Referrer-Policy: same-origin` keeps it from
    // other sites, and the page's own `<meta name="referrer">` from every site.
    public_page::respond("share.html", context, status, lang, "the record link page")
}

/// The record's page. `values`: what the inputs hold (the record's values, or what was posted).
#[allow(clippy::too_many_arguments)]
fn render(
    status: StatusCode,
    token: &str,
    lang: Lang,
    open: &OpenShare,
    values: &Map<String, Value>,
    errors: &[(String, String)],
    notice: Option<String>,
    form_error: Option<String>,
) -> Response {
    let fields: Vec<FieldOut> = open
        .fields
        .iter()
        .enumerate()
        .map(|(index, shared)| {
            let value = values
                .get(shared.field.key.as_str())
                .unwrap_or(&Value::Null);
            field_out(lang, open, index + 1, shared, value, errors)
        })
        .collect();
    let expires = open
        .share
        .expires_at
        .with_timezone(&open.organization.time_zone.tz())
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let context = Context {
        lang: lang.tag(),
        title: open.schema.table.name.to_string(),
        state: "view",
        action: if open.editable().next().is_some() {
            format!("/s/{token}?lang={}", lang.tag())
        } else {
            String::new()
        },
        fields,
        switch: switch(token, lang),
        notice,
        form_error,
        message: String::new(),
        expires,
        shared_by: match &open.shared_by {
            Some(name) => text(
                lang,
                "share-shared-by",
                &[
                    ("name", FluentValue::from(name.as_str())),
                    (
                        "organization",
                        FluentValue::from(open.organization.name.as_str()),
                    ),
                ],
            ),
            None => text(
                lang,
                "share-shared-by-organization",
                &[(
                    "organization",
                    FluentValue::from(open.organization.name.as_str()),
                )],
            ),
        },
    };
    respond(status, &context, lang)
}

/// The page of a link that does not open: gone (410), unknown (404), too many requests (429).
fn refused_page(token: &str, lang: Lang, error: &ApiError) -> Response {
    let status = error.status();
    let (state, message) = match status {
        StatusCode::GONE => {
            let reason = error
                .param("reason")
                .and_then(Value::as_str)
                .unwrap_or("expired");
            ("gone", text(lang, &format!("share-gone-{reason}"), &[]))
        }
        StatusCode::TOO_MANY_REQUESTS => {
            let seconds = public_page::retry_after(error);
            (
                "limited",
                text(
                    lang,
                    "share-rate-limited",
                    &[("seconds", FluentValue::from(seconds))],
                ),
            )
        }
        StatusCode::NOT_FOUND => ("gone", text(lang, "share-not-found", &[])),
        _ => {
            if status.is_server_error() {
                tracing::error!(message = error.message(), "a record link failed");
            }
            return crate::pages::error_page(lang, None, status);
        }
    };
    let context = Context {
        lang: lang.tag(),
        title: text(lang, "share-title", &[]),
        state,
        fields: Vec::new(),
        action: String::new(),
        switch: switch(token, lang),
        notice: None,
        form_error: None,
        message,
        expires: String::new(),
        shared_by: String::new(),
    };
    respond(status, &context, lang)
}

/// The record's values as the API renders them, by field key.
async fn record_values(state: &AppState, open: &OpenShare) -> Result<Map<String, Value>, ApiError> {
    let rendered = share_links::render(state, open).await?;
    Ok(rendered["record"]["fields"]
        .as_object()
        .cloned()
        .unwrap_or_default())
}

/// Opens the link, and the page's language (the organization's, else the browser's, unless the visitor
/// chose); a link that does not open answers its page.
async fn opened(
    state: &AppState,
    token: &str,
    peer: SocketAddr,
    query: &ShareQuery,
    headers: &HeaderMap,
) -> Result<(OpenShare, Lang), Response> {
    match share_links::open(state, token, peer.ip()).await {
        Ok(open) => {
            let locale = Lang::from(open.organization.locale);
            let lang = language(query.lang.as_deref(), headers, Some(locale));
            Ok((open, lang))
        }
        Err(error) => {
            let locale = share_links::locale_of(state, token).await;
            let lang = language(query.lang.as_deref(), headers, locale.map(Lang::from));
            Err(refused_page(token, lang, &error))
        }
    }
}

/// `GET /s/{token}`: the record's chosen fields.
pub async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(query): Query<ShareQuery>,
    headers: HeaderMap,
) -> Response {
    let (open, lang) = match opened(&state, &token, peer, &query, &headers).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let shown = async {
        share_links::audit_read(&state, &open).await?;
        record_values(&state, &open).await
    };
    match shown.await {
        Ok(values) => render(
            StatusCode::OK,
            &token,
            lang,
            &open,
            &values,
            &[],
            None,
            None,
        ),
        Err(error) => refused_page(&token, lang, &error),
    }
}

/// The posted strings as the values the API takes, by field key: every editable field, an empty input
/// clearing the field.
fn typed_values(open: &OpenShare, posted: &[(String, String)]) -> Map<String, Value> {
    let mut typed = Map::new();
    for shared in open.editable() {
        let key = shared.field.key.as_str();
        // A link edits no attachment field (`share_links::editable_type`).
        let value = typed_value(shared.field.field_type(), &posted_under(posted, key));
        typed.insert(key.to_owned(), value);
    }
    typed
}

/// A field problem in the page's language (`detail-<code>` with its parameters, shown as the page shows
/// values).
fn detail_message(lang: Lang, detail: &tenon_model::FieldError) -> String {
    public_page::detail_message(lang, detail, |value| shown(lang, value))
}

/// `POST /s/{token}`: an edit from the page. Refused values come back with what was typed and a message
/// at each field; nothing is written.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(query): Query<ShareQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (open, lang) = match opened(&state, &token, peer, &query, &headers).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let typed = typed_values(&open, &pairs(&body));
    match share_links::edit(&state, &open, &token, peer.ip(), &typed).await {
        Ok(record) => {
            let open = open.with_record(record);
            match record_values(&state, &open).await {
                Ok(values) => render(
                    StatusCode::OK,
                    &token,
                    lang,
                    &open,
                    &values,
                    &[],
                    Some(text(lang, "share-saved", &[])),
                    None,
                ),
                Err(error) => refused_page(&token, lang, &error),
            }
        }
        Err(error)
            if matches!(
                error.status(),
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN
            ) =>
        {
            let mut errors = Vec::new();
            let mut form_error = None;
            for detail in error.details() {
                let message = detail_message(lang, detail);
                match detail.field.strip_prefix("fields.") {
                    Some(key) if !key.contains('.') => errors.push((key.to_owned(), message)),
                    _ => form_error = Some(message),
                }
            }
            let form_error = form_error.or_else(|| {
                Some(if error.status() == StatusCode::FORBIDDEN {
                    text(lang, "share-not-allowed", &[])
                } else {
                    text(lang, "form-fix-errors", &[])
                })
            });
            // Read-only fields show the record; editable ones what was typed.
            let mut values = record_values(&state, &open).await.unwrap_or_default();
            values.extend(typed);
            render(
                error.status(),
                &token,
                lang,
                &open,
                &values,
                &errors,
                None,
                form_error,
            )
        }
        Err(error) => refused_page(&token, lang, &error),
    }
}
