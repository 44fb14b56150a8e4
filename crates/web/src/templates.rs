//! The page templates (`templates/*.html`, embedded) and their environment: strict undefined (a missing
//! variable fails the render), HTML autoescape, and two functions — `t(key, **params)` for catalog
//! messages (an unknown key fails the render) and `asset(path)` for a static file's cache-busting URL.

use std::sync::LazyLock;

use fluent_bundle::FluentValue;
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use rust_embed::RustEmbed;
use serde::Serialize;

use crate::i18n::{self, Lang};

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(environment);

/// The names of every template (`login.html`, …).
pub fn names() -> Vec<String> {
    Templates::iter().map(|name| name.into_owned()).collect()
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_loader(|name| {
        Ok(Templates::get(name).map(|file| String::from_utf8_lossy(&file.data).into_owned()))
    });
    env.add_function("t", translate);
    env.add_function("asset", |path: &str| crate::assets::url(path));
    env
}

/// `t("key", name=value, …)`: the message in the page's language (the context's `lang`).
fn translate(state: &State, key: &str, params: Kwargs) -> Result<String, Error> {
    let tag = state
        .lookup("lang")
        .and_then(|lang| lang.as_str().map(str::to_owned))
        .ok_or_else(|| Error::new(ErrorKind::UndefinedError, "the context has no `lang`"))?;
    let lang = Lang::parse(&tag)
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("unknown lang {tag}")))?;
    let mut args: Vec<(&str, FluentValue<'_>)> = Vec::new();
    for name in params.args() {
        let value: Value = params.get(name)?;
        let value = match value.kind() {
            ValueKind::Number => match value.as_i64() {
                Some(n) => FluentValue::from(n),
                None => FluentValue::from(value.to_string()),
            },
            _ => FluentValue::from(value.to_string()),
        };
        args.push((name, value));
    }
    params.assert_all_used()?;
    i18n::message(lang, key, &args).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("the {} catalog has no message {key}", lang.tag()),
        )
    })
}

/// Renders `name` with `context` (which must hold `lang`).
pub fn render(name: &str, context: impl Serialize) -> Result<String, Error> {
    ENV.get_template(name)?
        .render(Value::from(minijinja::value::Serde(context)))
}
