//! What the public pages share — the form page (`/f/{slug}`, [`crate::public_form`]), the record link page
//! (`/s/{token}`, [`crate::shares`]) and the published view page (`/v/{slug}`, [`crate::public_views`]):
//! the language a visitor chose and the switch to the other, catalog texts, how a field is asked for
//! (its control and choices), posted strings as typed values, rendered values as text, field problems
//! in the page's language, and the uncached HTML response.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use fluent_bundle::FluentValue;
use serde::Serialize;
use serde_json::Value;
use tenon_model::apps::{Field, FieldKind, FieldType};
use tenon_server::ApiError;

use crate::i18n::{self, Lang};
use crate::templates;

/// A catalog text in `lang` (the key itself when the catalog lacks it).
pub(crate) fn text(lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    i18n::message(lang, key, args).unwrap_or_else(|| key.to_owned())
}

/// The language the visitor chose: `?lang=` (the switch), else the language cookie.
pub(crate) fn chosen(query: Option<&str>, headers: &HeaderMap) -> Option<Lang> {
    query
        .and_then(Lang::parse)
        .or_else(|| i18n::cookie(headers, i18n::LANG_COOKIE).and_then(|value| Lang::parse(&value)))
}

/// The language switch: a link to the page in the other language.
#[derive(Debug, Serialize)]
pub(crate) struct SwitchOut {
    tag: &'static str,
    label: &'static str,
    href: String,
}

/// The switch from `lang` to the other language; `href` gives the page's address in a language.
pub(crate) fn switch(lang: Lang, href: impl FnOnce(Lang) -> String) -> SwitchOut {
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
        href: href(other),
    }
}

/// One choice of a select or of a group of checkboxes.
#[derive(Debug, Serialize)]
pub(crate) struct ChoiceOut {
    value: String,
    selected: bool,
}

/// What the public pages' templates show of every field's input (a page's field entry flattens it
/// next to its own parts).
#[derive(Debug, Serialize)]
pub(crate) struct InputOut {
    pub key: String,
    /// The input's id (`f-1`, `s-1`, …).
    pub id: String,
    /// How the page asks for it: `textarea`, `checkbox`, `select`, `checkboxes`, or an input type.
    pub control: &'static str,
    pub inputmode: &'static str,
    pub choices: Vec<ChoiceOut>,
    /// What the input holds (or, read-only, what the page shows).
    pub value: String,
    pub checked: bool,
    /// The problem a refused post reported at the field.
    pub error: Option<String>,
}

/// A field's input: `given` the texts it was given (choices among them are selected), `value` what it
/// holds, `errors` a refused post's problems by field key.
pub(crate) fn input_out(
    field: &Field,
    id: String,
    given: &[String],
    value: String,
    checked: bool,
    errors: &[(String, String)],
) -> InputOut {
    let key = field.key.to_string();
    let (control, inputmode) = control_of(&field.kind);
    InputOut {
        error: error_at(errors, &key),
        key,
        id,
        control,
        inputmode,
        choices: choices(&field.kind, given),
        value,
        checked,
    }
}

/// How a field is asked for on a page: the control (`textarea`, `checkbox`, `select`, `checkboxes`, or
/// an input type) and the input mode.
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
        FieldType::Attachment => ("file", ""),
        _ => ("text", ""),
    }
}

/// A field's choices, those among `given` selected.
fn choices(kind: &FieldKind, given: &[String]) -> Vec<ChoiceOut> {
    let names: Vec<String> = match kind {
        FieldKind::SingleSelect { choices } | FieldKind::MultiSelect { choices } => {
            choices.iter().map(|choice| choice.name.clone()).collect()
        }
        FieldKind::Rating { max } => (1..=*max).map(|n| n.to_string()).collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(|value| ChoiceOut {
            selected: given.contains(&value),
            value,
        })
        .collect()
}

/// The texts an input holds for a value: a string or number, or the strings and numbers of a list.
pub(crate) fn texts_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// The problem a refused post reported at `key`, if any.
fn error_at(errors: &[(String, String)], key: &str) -> Option<String> {
    errors
        .iter()
        .find(|(field, _)| *field == key)
        .map(|(_, message)| message.clone())
}

/// Reads a posted `application/x-www-form-urlencoded` body: every `name=value` pair, in order.
pub(crate) fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The strings posted for a field (`values`, in order) as the JSON value the API takes: a checkbox is
/// ticked by any non-empty value, a multi-select or attachment field lists the non-empty ones, a rating
/// is a number, anything else is its first value; an empty input is `null`.
pub(crate) fn typed_value(field_type: FieldType, values: &[&str]) -> Value {
    match field_type {
        FieldType::Checkbox => Value::Bool(values.iter().any(|v| !v.is_empty())),
        FieldType::MultiSelect | FieldType::Attachment => Value::Array(
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
    }
}

/// The values posted under `key`, in order.
pub(crate) fn posted_under<'a>(posted: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    posted
        .iter()
        .filter(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// A rendered value as a page shows it: names of linked things, lists joined, ticks as words.
pub(crate) fn shown(lang: Lang, value: &Value) -> String {
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

/// A field problem in the page's language (`detail-<code>` with its parameters): a whole number stays a
/// number, any other parameter is the text `other` makes of it.
pub(crate) fn detail_message(
    lang: Lang,
    detail: &tenon_model::FieldError,
    other: impl Fn(&Value) -> String,
) -> String {
    let args: Vec<(&str, FluentValue<'_>)> = detail
        .params
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Number(n) => n
                    .as_i64()
                    .map_or_else(|| FluentValue::from(n.to_string()), FluentValue::from),
                // `invalid_format`'s format (`number`, `date`…) is a word of the catalog, as the grid says it.
                Value::String(format) if name == "format" => {
                    i18n::message(lang, &format!("js-format-{format}"), &[])
                        .map_or_else(|| FluentValue::from(format.clone()), FluentValue::from)
                }
                value => FluentValue::from(other(value)),
            };
            (name, value)
        })
        .collect();
    i18n::message(lang, &format!("detail-{}", detail.code.as_str()), &args)
        .unwrap_or_else(|| detail.reason.clone())
}

/// An error's message in the page's language with its parameters (an app role's action named in
/// words), else the API's English message.
pub(crate) fn error_message(lang: Lang, error: &ApiError) -> String {
    let params = error.params_json();
    let args: Vec<(&str, FluentValue<'_>)> = params
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Number(n) => n
                    .as_i64()
                    .map_or_else(|| FluentValue::from(n.to_string()), FluentValue::from),
                Value::String(action) if name == "action" => {
                    i18n::message(lang, &format!("js-action-{action}"), &[])
                        .map_or_else(|| FluentValue::from(action.clone()), FluentValue::from)
                }
                Value::String(text) => FluentValue::from(text.clone()),
                other => FluentValue::from(other.to_string()),
            };
            (name.as_str(), value)
        })
        .collect();
    i18n::message(lang, &format!("error-{}", error.code().as_str()), &args)
        .unwrap_or_else(|| error.message().to_owned())
}

/// The seconds a rate-limited visitor is told to wait (the error's `retry_after`, else a minute).
pub(crate) fn retry_after(error: &ApiError) -> i64 {
    error
        .param("retry_after")
        .and_then(Value::as_i64)
        .unwrap_or(60)
}

/// Renders `template` with `status`, never cached; a template failure is logged (as `what` failing to
/// render) and answers the error page.
pub(crate) fn respond(
    template: &str,
    context: &impl Serialize,
    status: StatusCode,
    lang: Lang,
    what: &str,
) -> Response {
    match templates::render(template, context) {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "{what} failed to render");
            crate::pages::error_page(lang, None, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}
