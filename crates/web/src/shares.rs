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
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use fluent_bundle::FluentValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenon_model::apps::{FieldKind, FieldType};
use tenon_server::routes::share_links::{self, OpenShare, SharedField};
use tenon_server::{ApiError, AppState};

use crate::i18n::{self, Lang};
use crate::templates;

#[derive(Debug, Deserialize)]
pub struct ShareQuery {
    lang: Option<String>,
}

#[derive(Debug, Serialize)]
struct ChoiceOut {
    value: String,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct FieldOut {
    key: String,
    /// The input's id (`s-1`, …).
    id: String,
    label: String,
    editable: bool,
    /// How the page asks for it: `textarea`, `checkbox`, `select`, `checkboxes`, or an input type.
    control: &'static str,
    inputmode: &'static str,
    choices: Vec<ChoiceOut>,
    /// The value as text (what a read-only field shows, what an input holds).
    value: String,
    checked: bool,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SwitchOut {
    tag: &'static str,
    label: &'static str,
    href: String,
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
}

fn text(lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    i18n::message(lang, key, args).unwrap_or_else(|| key.to_owned())
}

/// The page's language: `?lang=` (the switch), else the language cookie, else `fallback`.
fn language(query: Option<&str>, headers: &HeaderMap, fallback: Option<Lang>) -> Lang {
    query
        .and_then(Lang::parse)
        .or_else(|| i18n::cookie(headers, i18n::LANG_COOKIE).and_then(|value| Lang::parse(&value)))
        .or(fallback)
        .unwrap_or_else(|| i18n::negotiate(headers, None))
}

fn control_of(kind: &FieldKind) -> (&'static str, &'static str) {
    match kind.field_type() {
        FieldType::LongText => ("textarea", ""),
        FieldType::Number | FieldType::Currency | FieldType::Percent => ("text", "decimal"),
        FieldType::Date => ("date", ""),
        FieldType::DateTime => ("datetime-local", ""),
        FieldType::Checkbox => ("checkbox", ""),
        FieldType::SingleSelect | FieldType::Rating => ("select", ""),
        FieldType::MultiSelect => ("checkboxes", ""),
        FieldType::Email => ("email", "email"),
        FieldType::Phone => ("tel", "tel"),
        FieldType::Url => ("url", "url"),
        _ => ("text", ""),
    }
}

fn choices_of(kind: &FieldKind) -> Vec<String> {
    match kind {
        FieldKind::SingleSelect { choices } | FieldKind::MultiSelect { choices } => {
            choices.iter().map(|choice| choice.name.clone()).collect()
        }
        FieldKind::Rating { max } => (1..=*max).map(|n| n.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// A rendered value as the page shows it: names of linked things, lists joined, ticks as words.
fn shown(lang: Lang, value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(true) => text(lang, "share-yes", &[]),
        Value::Bool(false) => text(lang, "share-no", &[]),
        Value::Array(items) => items
            .iter()
            .map(|item| shown(lang, item))
            .filter(|item| !item.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => ["name", "title", "filename", "value", "id"]
            .iter()
            .find_map(|key| map.get(*key))
            .map(|inner| shown(lang, inner))
            .unwrap_or_default(),
    }
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
        (_, Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        (_, Value::String(text)) => vec![text.clone()],
        (_, Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
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
    let key = shared.field.key.to_string();
    let (control, inputmode) = control_of(&shared.field.kind);
    let texts = input_texts(open, shared, value);
    FieldOut {
        id: format!("s-{index}"),
        label: shared.field.name.to_string(),
        editable: shared.editable,
        control,
        inputmode,
        choices: choices_of(&shared.field.kind)
            .into_iter()
            .map(|choice| ChoiceOut {
                selected: texts.contains(&choice),
                value: choice,
            })
            .collect(),
        value: if shared.editable {
            texts.first().cloned().unwrap_or_default()
        } else {
            shown(lang, value)
        },
        checked: matches!(value, Value::Bool(true)),
        error: errors
            .iter()
            .find(|(field, _)| *field == key)
            .map(|(_, message)| message.clone()),
        key,
    }
}

fn switch(token: &str, lang: Lang) -> SwitchOut {
    let other = match lang {
        Lang::ZhCn => Lang::En,
        Lang::En => Lang::ZhCn,
    };
    SwitchOut {
        tag: other.tag(),
        label: match other {
            Lang::ZhCn => "简体中文",
            Lang::En => "English",
        },
        href: format!("/s/{token}?lang={}", other.tag()),
    }
}

fn respond(status: StatusCode, context: &Context, lang: Lang) -> Response {
    match templates::render("share.html", context) {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            // The token is in the address: the security headers' `Referrer-Policy: same-origin` keeps it
            // from other sites, and the page's own `<meta name="referrer">` from every site.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "the record link page failed to render");
            crate::pages::error_page(lang, None, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
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
            let seconds = error
                .param("retry_after")
                .and_then(Value::as_i64)
                .unwrap_or(60);
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

/// `GET /s/{token}`: the record's chosen fields.
pub async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(query): Query<ShareQuery>,
    headers: HeaderMap,
) -> Response {
    let opened = share_links::open(&state, &token, peer.ip()).await;
    let open = match opened {
        Ok(open) => open,
        Err(error) => {
            let locale = share_links::locale_of(&state, &token).await;
            let lang = language(query.lang.as_deref(), &headers, locale.map(Lang::from));
            return refused_page(&token, lang, &error);
        }
    };
    let lang = language(
        query.lang.as_deref(),
        &headers,
        Some(Lang::from(open.organization.locale)),
    );
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

/// Reads the posted body: every `name=value` pair, in order.
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The posted strings as the values the API takes, by field key: every editable field, an empty input
/// clearing the field.
fn typed_values(open: &OpenShare, posted: &[(String, String)]) -> Map<String, Value> {
    let mut typed = Map::new();
    for shared in open.editable() {
        let key = shared.field.key.as_str();
        let values: Vec<&str> = posted
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .collect();
        let value = match shared.field.field_type() {
            FieldType::Checkbox => Value::Bool(values.iter().any(|v| !v.is_empty())),
            FieldType::MultiSelect => Value::Array(
                values
                    .iter()
                    .filter(|v| !v.is_empty())
                    .map(|v| Value::String((*v).to_owned()))
                    .collect(),
            ),
            FieldType::Rating => match values.first().map(|v| v.trim()) {
                Some(raw) if !raw.is_empty() => raw
                    .parse::<i64>()
                    .map_or_else(|_| Value::String(raw.to_owned()), Value::from),
                _ => Value::Null,
            },
            _ => match values.first() {
                Some(raw) if !raw.trim().is_empty() => Value::String((*raw).to_owned()),
                _ => Value::Null,
            },
        };
        typed.insert(key.to_owned(), value);
    }
    typed
}

/// A field problem in the page's language (`detail-<code>` with its parameters).
fn detail_message(lang: Lang, detail: &tenon_model::FieldError) -> String {
    let args: Vec<(&str, FluentValue<'_>)> = detail
        .params
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Number(n) => n
                    .as_i64()
                    .map_or_else(|| FluentValue::from(n.to_string()), FluentValue::from),
                other => FluentValue::from(shown(lang, other)),
            };
            (name, value)
        })
        .collect();
    i18n::message(lang, &format!("detail-{}", detail.code.as_str()), &args)
        .unwrap_or_else(|| detail.reason.clone())
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
    let open = match share_links::open(&state, &token, peer.ip()).await {
        Ok(open) => open,
        Err(error) => {
            let locale = share_links::locale_of(&state, &token).await;
            let lang = language(query.lang.as_deref(), &headers, locale.map(Lang::from));
            return refused_page(&token, lang, &error);
        }
    };
    let lang = language(
        query.lang.as_deref(),
        &headers,
        Some(Lang::from(open.organization.locale)),
    );
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
