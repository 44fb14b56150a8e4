//! What a public form's link fills in: the `?lang=` switch, and values of the fields whose entry allows
//! `prefill` — shown fields start with them, hidden (and link) fields are fixed by them. A parameter
//! naming another field of the table is ignored and reported; any other parameter is ignored silently.

use serde_json::{Map, Value};
use tenon_model::apps::FieldType;
use tenon_server::routes::forms::{self, FormField, PublicForm};

use super::{PageInput, Typed};
use crate::i18n::Lang;

/// The page's query: `lang` (the switch) and the values the link prefills.
#[derive(Debug, Default)]
pub struct FormQuery {
    pub lang: Option<String>,
    pub pairs: Vec<(String, String)>,
}

impl FormQuery {
    pub fn parse(raw: Option<&str>) -> FormQuery {
        let mut query = FormQuery::default();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if name == "lang" {
                query.lang = Some(value.into_owned());
            } else {
                query.pairs.push((name.into_owned(), value.into_owned()));
            }
        }
        query
    }
}

/// What the link fills in: the allowed values by field key, and the fields it named but may not fill.
#[derive(Debug, Default)]
pub struct Prefill {
    pub allowed: Vec<(String, String)>,
    pub ignored: Vec<String>,
}

impl Prefill {
    /// Parameters naming a field the form lets the link prefill are taken (first value wins); those
    /// naming another field of the table are ignored and reported; any other parameter (a messenger's
    /// tracking tag) is ignored silently.
    pub fn of(form: &PublicForm, query: &FormQuery) -> Prefill {
        let mut prefill = Prefill::default();
        for (name, value) in &query.pairs {
            match form.accepted_field(name).filter(|entry| entry.prefill) {
                Some(entry) => {
                    let key = entry.field.key.to_string();
                    if !prefill.allowed.iter().any(|(known, _)| *known == key) {
                        prefill.allowed.push((key, value.clone()));
                    }
                }
                None if form.schema.resolve_field(name).is_some()
                    && !prefill.ignored.contains(name) =>
                {
                    prefill.ignored.push(name.clone());
                }
                None => {}
            }
        }
        prefill
    }

    /// The values the link fixes: those of fields the page does not show as inputs.
    pub fn fixed<'a>(
        &'a self,
        form: &'a PublicForm,
    ) -> impl Iterator<Item = (&'a FormField, &'a str)> {
        self.allowed.iter().filter_map(|(key, value)| {
            let entry = form.accepted_field(key)?;
            (entry.hidden || !forms::fillable_on_page(entry.field.field_type()))
                .then_some((entry, value.as_str()))
        })
    }
}

/// The page's own address in `lang`, with the values the link fixes (the post goes back there, so
/// they come from the link, never from inputs) — and, for the language switch, those it prefills.
pub fn address(form: &PublicForm, lang: Lang, page: &PageInput, with_prefills: bool) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("lang", lang.tag());
    if with_prefills {
        for (key, value) in &page.prefill.allowed {
            query.append_pair(key, value);
        }
    } else {
        for (entry, value) in page.prefill.fixed(form) {
            query.append_pair(entry.field.key.as_str(), value);
        }
    }
    format!("/f/{}?{}", form.slug, query.finish())
}

/// The values the link prefills into shown fields, as the page's inputs take them.
pub fn prefilled(form: &PublicForm, prefill: &Prefill) -> Typed {
    let mut typed = Map::new();
    for (key, value) in &prefill.allowed {
        let Some(entry) = form.accepted_field(key) else {
            continue;
        };
        if entry.hidden || !forms::fillable_on_page(entry.field.field_type()) {
            continue;
        }
        let value = match entry.field.field_type() {
            FieldType::Checkbox => {
                Value::Bool(matches!(value.as_str(), "true" | "1" | "yes" | "是"))
            }
            FieldType::MultiSelect => Value::Array(
                value
                    .split([',', '，'])
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_owned()))
                    .collect(),
            ),
            FieldType::Attachment => continue,
            _ => Value::String(value.clone()),
        };
        typed.insert(key.clone(), value);
    }
    typed
}
