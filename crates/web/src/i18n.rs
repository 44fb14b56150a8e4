//! The message catalogs (Fluent, `i18n/en.ftl` and `i18n/zh-CN.ftl`, embedded) and the choice of language.
//!
//! Every text a page shows — titles, labels, `aria-label`s, errors — is a catalog message; templates call
//! `t("key", name=value)`, which fails the render for a key the catalog lacks (tests render every
//! template in both languages). API errors are translated from their stable `code` and `params`:
//! `error-<code>` and `detail-<code>` messages, handed to the islands as a JSON slice of the catalog.
//!
//! The catalogs keep one message per line (`key = text`, `{ $param }` placeholders), so a test can
//! compare keys and placeholders of the two languages without a Fluent parser.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// Cookie holding the language a person chose with the language switch.
pub const LANG_COOKIE: &str = "tenon_lang";

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    ZhCn,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The BCP 47 tag, as in `<html lang>`.
    pub const fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(raw: &str) -> Option<Lang> {
        let raw = raw.trim().to_ascii_lowercase();
        if raw == "zh" || raw.starts_with("zh-") || raw.starts_with("zh_") {
            Some(Lang::ZhCn)
        } else if raw == "en" || raw.starts_with("en-") || raw.starts_with("en_") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The catalog source.
    pub fn source(self) -> &'static str {
        match self {
            Lang::ZhCn => include_str!("../i18n/zh-CN.ftl"),
            Lang::En => include_str!("../i18n/en.ftl"),
        }
    }

    fn catalog(self) -> &'static Catalog {
        match self {
            Lang::ZhCn => &ZH_CN,
            Lang::En => &EN,
        }
    }
}

impl From<tenon_model::Locale> for Lang {
    fn from(locale: tenon_model::Locale) -> Self {
        match locale {
            tenon_model::Locale::ZhCn => Lang::ZhCn,
            tenon_model::Locale::En => Lang::En,
        }
    }
}

/// The page's language: the person's choice (the language switch's cookie), else the browser's
/// `Accept-Language` (in the order of its weights), else the organization's locale, else English.
pub fn negotiate(headers: &HeaderMap, organization: Option<tenon_model::Locale>) -> Lang {
    if let Some(chosen) = cookie(headers, LANG_COOKIE).and_then(|value| Lang::parse(&value)) {
        return chosen;
    }
    if let Some(accepted) = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(from_accept_language)
    {
        return accepted;
    }
    organization.map_or(Lang::En, Lang::from)
}

fn from_accept_language(header: &str) -> Option<Lang> {
    let mut ranked: Vec<(f32, Lang)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let lang = Lang::parse(pieces.next()?)?;
            let weight = pieces
                .find_map(|piece| piece.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (weight > 0.0).then_some((weight, lang))
        })
        .collect();
    // Stable: equal weights keep the header's order.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.first().map(|(_, lang)| *lang)
}

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

struct Catalog {
    bundle: FluentBundle<FluentResource>,
}

fn load(lang: Lang) -> Catalog {
    let id: unic_langid::LanguageIdentifier = lang
        .tag()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Unicode isolation marks around placeables would show up in `aria-label`s and tests.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(resource, errors)| {
            tracing::error!(?errors, lang = lang.tag(), "catalog has syntax errors");
            resource
        });
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(?errors, lang = lang.tag(), "catalog has duplicate messages");
    }
    Catalog { bundle }
}

static ZH_CN: LazyLock<Catalog> = LazyLock::new(|| load(Lang::ZhCn));
static EN: LazyLock<Catalog> = LazyLock::new(|| load(Lang::En));

/// A message with its arguments, or `None` when the catalog has no such message.
pub fn message(lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> Option<String> {
    let bundle = &lang.catalog().bundle;
    let pattern = bundle.get_message(key)?.value()?;
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    if !errors.is_empty() {
        tracing::warn!(
            ?errors,
            key,
            lang = lang.tag(),
            "message formatted with errors"
        );
    }
    Some(text.into_owned())
}

/// The messages as written in the catalog (`key = text` lines), in file order.
pub fn entries(lang: Lang) -> Vec<(&'static str, &'static str)> {
    lang.source()
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, text)| (key.trim(), text.trim()))
        .collect()
}

/// What the islands need, as `{key: text}` with `{ $param }` placeholders left in: every message whose key
/// starts with `js-`, `error-`, `detail-`, `field-type-` or `operator-`, and the pinned names the view
/// tools' island builds controls with (`add-condition`, `condition-*`) and the attachment dialog's
/// `upload-file`.
pub fn client_slice(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    entries(lang)
        .into_iter()
        .filter(|(key, _)| {
            [
                "js-",
                "error-",
                "detail-",
                "field-type-",
                "operator-",
                "condition-",
            ]
            .iter()
            .any(|prefix| key.starts_with(prefix))
                || *key == "add-condition"
                || *key == "upload-file"
        })
        .collect()
}
