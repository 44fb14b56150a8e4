//! The public form page, `GET /f/{slug}` and `POST /f/{slug}`: a plain HTML form that works with
//! JavaScript off (an `application/x-www-form-urlencoded` post to the same address), phone first, in the
//! form's language (the organization's, unless the visitor picks the other with the switch, `?lang=`).
//! A submission goes through the same code as the JSON API (`tenon_server::routes::forms::submit`).
//!
//! Abuse guard: the per-address rate limit (a limited visitor gets a page saying when to try again), the
//! owner's daily cap, a honeypot field (filled: the visitor sees the thank-you, nothing is written) and,
//! when JavaScript runs, a proof of work (ALTCHA format) solved by `assets/form.js`. Without JavaScript
//! there is no proof: the post is taken but also counts against a stricter per-address limit.
//!
//! Prefill: the link may give values of the fields the owner allows (`prefill` in the field's entry) as
//! URL parameters (`?channel=wechat`); a shown field starts with the value, a hidden one (or a link
//! field, which the page never offers as a picker) is fixed by it — the form posts back to the same
//! address, so the fixed values come from the link, not from inputs. A parameter naming a field the owner
//! did not allow is ignored, and the page says so.
//!
//! Files: a form with an attachment field posts `multipart/form-data` (see [`multipart`]); the files are
//! stored for the page's one-time submission key (a hidden input) before the values are checked, so a
//! refused post shows them again, kept, and only this submission can use them.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fluent_bundle::FluentValue;
use serde::Serialize;
use serde_json::{Map, Value};
use tenon_model::apps::FieldKind;
use tenon_server::routes::form_uploads;
use tenon_server::routes::forms::{self, FormField, Origin, PublicForm, Submission};
use tenon_server::{ApiError, AppState};

use crate::i18n::{self, Lang};
use crate::pages::{error_page, json_block};
use crate::public_page::{
    self, InputOut, SwitchOut, input_out, posted_under, respond, text, texts_of, typed_value,
};
use crate::session::{MaybeViewer, login_redirect};

pub mod multipart;
mod post;
mod prefill;
pub mod preview;
mod subtable;

use post::posted;
use prefill::{FormQuery, Prefill, address, prefilled};

/// The honeypot's input name: people never see it; bots fill it.
pub const HONEYPOT: &str = "website";
/// The proof of work's input name (ALTCHA's).
pub const PROOF: &str = "altcha";
/// Largest post the page takes (its files together); a field's own limit may be lower.
pub const BODY_BYTES_MAX: usize = 32 * 1024 * 1024;
/// The one-time submission key's input name: the files uploaded with a post belong to it.
pub const SUBMISSION: &str = "submission";

/// A fresh one-time submission key (128 random bits).
fn new_submission_key() -> String {
    tenon_auth::mint_slug()
}

#[derive(Debug, Serialize)]
struct FileOut {
    id: String,
    name: String,
}

#[derive(Debug, Serialize)]
struct FixedOut {
    label: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct FieldOut {
    /// The input (its id `f-1`, …; a file field's control is `file`).
    #[serde(flatten)]
    input: InputOut,
    label: String,
    help: Option<String>,
    required: bool,
    /// A file field: the types it takes (`accept`), its size limit, and the files kept from an earlier
    /// post of this submission.
    accept: String,
    max_mb: u32,
    files: Vec<FileOut>,
}

#[derive(Debug, Serialize)]
struct Context {
    lang: &'static str,
    title: String,
    description: Option<String>,
    fields: Vec<FieldOut>,
    /// The form's own label for the button (else the catalog's `form-submit`).
    submit_label: Option<String>,
    action: String,
    switch: SwitchOut,
    /// A message above the form (proof of work refused, nothing filled in…).
    form_error: Option<String>,
    /// `done`: the thank-you; `limited`: the rate limit or daily cap page; else the form.
    state: &'static str,
    message: String,
    challenge: String,
    honeypot: &'static str,
    proof: &'static str,
    submission_name: &'static str,
    submission: String,
    /// The form takes files: it posts `multipart/form-data`.
    multipart: bool,
    /// The link named fields the owner does not let it fill: said, and ignored.
    prefill_notice: Option<String>,
    /// Values the link fixes that the visitor may see (a linked record's label, never a picker).
    fixed: Vec<FixedOut>,
    /// The form's sub-tables (rows of a linked table) and the name of their add/remove buttons.
    subtables: Vec<subtable::SubtableOut>,
    subtable_action: &'static str,
    preview: bool,
}

/// The page's language: `?lang=` (the switch), else the language cookie, else the organization's.
fn language(query: Option<&str>, headers: &HeaderMap, form: &PublicForm) -> Lang {
    public_page::chosen(query, headers).unwrap_or_else(|| Lang::from(form.organization.locale))
}

/// The values a visitor typed, by field key (several for a multi-select).
pub(crate) type Typed = Map<String, Value>;

fn field_out(
    i: usize,
    entry: &FormField,
    typed: &Typed,
    errors: &[(String, String)],
    files: &[(tenon_model::FieldId, tenon_store::Attachment)],
) -> FieldOut {
    let given = typed.get(entry.field.key.as_str());
    let given_texts = texts_of(given);
    let (accept, max_mb) = match &entry.field.kind {
        FieldKind::Attachment { max_size_mb, types } => (types.join(","), *max_size_mb),
        _ => (String::new(), 0),
    };
    let files = files
        .iter()
        .filter(|(field, _)| *field == entry.field.id)
        .map(|(_, file)| FileOut {
            id: file.id.to_string(),
            name: file.filename.clone(),
        })
        .collect();
    // A file input holds no value (the files kept are listed).
    let value = match &entry.field.kind {
        FieldKind::Attachment { .. } => String::new(),
        _ => given_texts.first().cloned().unwrap_or_default(),
    };
    FieldOut {
        input: input_out(
            &entry.field,
            format!("f-{i}"),
            &given_texts,
            value,
            matches!(given, Some(Value::Bool(true))),
            errors,
        ),
        label: entry.label.clone(),
        help: entry.help.clone(),
        required: entry.required,
        accept,
        max_mb,
        files,
    }
}

/// What a page shows besides the values: the link's prefill, the submission key, the files kept.
pub(crate) struct PageInput {
    prefill: Prefill,
    submission: String,
    files: Vec<(tenon_model::FieldId, tenon_store::Attachment)>,
    /// The sub-tables' rows as typed, which page row each submitted row was, and their problems.
    rows: subtable::Rows,
    positions: Vec<Vec<usize>>,
    problems: subtable::Problems,
    /// The designer's preview: nothing can be submitted, and no language switch.
    preview: bool,
}

/// Renders the page with `status`.
#[allow(clippy::too_many_arguments)]
fn render(
    now: tenon_server::pow::Issuer,
    form: &PublicForm,
    lang: Lang,
    status: StatusCode,
    state: &'static str,
    typed: &Typed,
    errors: &[(String, String)],
    form_error: Option<String>,
    message: String,
    page: &PageInput,
) -> Response {
    let fields: Vec<FieldOut> = form
        .visible()
        .filter(|entry| forms::fillable_on_page(entry.field.field_type()))
        .enumerate()
        .map(|(i, entry)| field_out(i + 1, entry, typed, errors, &page.files))
        .collect();
    let prefill_notice = (!page.prefill.ignored.is_empty()).then(|| {
        text(
            lang,
            "form-prefill-ignored",
            &[("fields", FluentValue::from(page.prefill.ignored.join(", ")))],
        )
    });
    let fixed = page
        .prefill
        .fixed(form)
        .filter(|(entry, _)| !entry.hidden)
        .map(|(entry, value)| FixedOut {
            label: entry.label.clone(),
            value: value.to_owned(),
        })
        .collect();
    let context = Context {
        lang: lang.tag(),
        title: form.title(),
        description: form.description(),
        multipart: fields.iter().any(|field| field.input.control == "file"),
        fields,
        submit_label: form.submit_label(),
        action: address(form, lang, page, false),
        switch: public_page::switch(lang, |other| address(form, other, page, true)),
        form_error,
        state,
        message,
        challenge: json_block(&now.challenge()),
        honeypot: HONEYPOT,
        proof: PROOF,
        submission_name: SUBMISSION,
        submission: page.submission.clone(),
        prefill_notice,
        fixed,
        subtables: subtable::out(form, &page.rows, &page.problems),
        subtable_action: subtable::ACTION,
        preview: page.preview,
    };
    respond(
        "public_form.html",
        &context,
        status,
        lang,
        "the public form",
    )
}

/// `GET /f/{slug}`: the form, with what the link prefills.
pub async fn show(
    State(state): State<AppState>,
    viewer: MaybeViewer,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = FormQuery::parse(raw.as_deref());
    let form = match forms::load(&state, &slug).await {
        Ok(form) => form,
        Err(error) => return failed(&headers, query.lang.as_deref(), &error),
    };
    if let Err(back) = member_of(&form, &viewer, &query) {
        return login_redirect(&back);
    }
    let lang = language(query.lang.as_deref(), &headers, &form);
    let page = PageInput {
        prefill: Prefill::of(&form, &query),
        submission: new_submission_key(),
        files: Vec::new(),
        rows: subtable::initial(&form),
        positions: Vec::new(),
        problems: subtable::Problems::default(),
        preview: false,
    };
    render(
        tenon_server::pow::Issuer::of(state.store()),
        &form,
        lang,
        StatusCode::OK,
        "form",
        &prefilled(&form, &page.prefill),
        &[],
        None,
        String::new(),
        &page,
    )
}

fn failed(headers: &HeaderMap, lang: Option<&str>, error: &ApiError) -> Response {
    let lang = lang
        .and_then(Lang::parse)
        .unwrap_or_else(|| i18n::negotiate(headers, None));
    error_page(lang, None, error.status())
}

/// For a members-only form: the member submitting (a visitor without a session of the form's
/// organization is sent to log in, and comes back here: `Err` holds where). `None` for a public form.
fn member_of(
    form: &PublicForm,
    viewer: &MaybeViewer,
    query: &FormQuery,
) -> Result<Option<tenon_model::Actor>, String> {
    if !form.members_only() {
        return Ok(None);
    }
    match &viewer.0 {
        Some(found) if found.principal.org_id == form.organization.id => {
            Ok(Some(found.principal.actor.clone()))
        }
        _ => {
            // Back to the same link, with what it prefills.
            let mut back = form_urlencoded::Serializer::new(String::new());
            if let Some(lang) = query.lang.as_deref().and_then(Lang::parse) {
                back.append_pair("lang", lang.tag());
            }
            back.extend_pairs(&query.pairs);
            let back = back.finish();
            Err(if back.is_empty() {
                format!("/f/{}", form.slug)
            } else {
                format!("/f/{}?{back}", form.slug)
            })
        }
    }
}

/// Turns the posted strings into the JSON values the API takes, by field key.
fn typed_values(form: &PublicForm, posted: &[(String, String)]) -> Typed {
    let mut typed = Map::new();
    for entry in form
        .visible()
        .filter(|entry| forms::fillable_on_page(entry.field.field_type()))
    {
        let key = entry.field.key.as_str();
        let value = typed_value(entry.field.field_type(), &posted_under(posted, key));
        typed.insert(key.to_owned(), value);
    }
    typed
}

/// `POST /f/{slug}`: a submission from the page.
#[allow(clippy::too_many_arguments)]
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    viewer: MaybeViewer,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = FormQuery::parse(raw.as_deref());
    let form = match forms::load(&state, &slug).await {
        Ok(form) => form,
        Err(error) => return failed(&headers, query.lang.as_deref(), &error),
    };
    let lang = language(query.lang.as_deref(), &headers, &form);
    let actor = match member_of(&form, &viewer, &query) {
        Ok(actor) => actor,
        Err(back) => return login_redirect(&back),
    };
    // A member's post carries the session cookie: it must come from this site.
    if actor.is_some()
        && let Err(error) =
            tenon_server::auth::check_same_origin(&axum::http::Method::POST, &headers)
    {
        return error_page(lang, None, error.status());
    }
    let Some(posted) = posted(&headers, body).await else {
        return error_page(lang, None, StatusCode::BAD_REQUEST);
    };
    let value_of = |name: &str| {
        posted
            .pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let honeypot = value_of(HONEYPOT).is_some_and(|value| !value.trim().is_empty());
    let proof = value_of(PROOF);
    let submission = value_of(SUBMISSION)
        .filter(|key| !key.trim().is_empty())
        .unwrap_or_else(new_submission_key);
    let mut page = PageInput {
        prefill: Prefill::of(&form, &query),
        submission,
        files: Vec::new(),
        rows: subtable::posted(&form, &posted.pairs),
        positions: Vec::new(),
        problems: subtable::Problems::default(),
        preview: false,
    };
    let mut typed = typed_values(&form, &posted.pairs);
    let now = tenon_server::pow::Issuer::of(state.store());
    // The files first (a bot's are not stored): bound to this submission, they are shown again when
    // the values are refused.
    let uploaded = if honeypot {
        Ok(Vec::new())
    } else {
        form_uploads::upload(
            &state,
            &form,
            peer.ip(),
            &page.submission,
            actor.clone(),
            posted.files,
        )
        .await
    };
    let tenant = state.store().tenant(form.organization.id);
    page.files = tenant
        .pending_form_uploads(form.view.id, &forms::submission_hash(&page.submission))
        .await
        .unwrap_or_default();
    let uploaded = match uploaded {
        Ok(uploaded) => uploaded,
        Err(error) => return refused(now, &form, lang, &typed, &error, &mut page),
    };
    for (field, file) in &uploaded {
        if let Some(entry) = form.fields.iter().find(|entry| entry.field.id == *field)
            && let Some(Value::Array(ids)) = typed.get_mut(entry.field.key.as_str())
        {
            ids.push(Value::String(file.id.to_string()));
        }
    }
    let mut given: Map<String, Value> = typed
        .iter()
        .filter(|(_, value)| match value {
            Value::Null => false,
            Value::Array(items) => !items.is_empty(),
            _ => true,
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for (entry, value) in page.prefill.fixed(&form) {
        given.insert(entry.field.key.to_string(), Value::String(value.to_owned()));
    }
    // "Add row" / "Remove row": the page again, with the rows changed and nothing written.
    if subtable::apply_action(&form, &posted.pairs, &mut page.rows) {
        return render(
            now,
            &form,
            lang,
            StatusCode::OK,
            "form",
            &typed,
            &[],
            None,
            String::new(),
            &page,
        );
    }
    let (rows, positions) = subtable::submitted(&form, &page.rows);
    if !form.subtables.is_empty() {
        given.extend(rows);
        page.positions = positions;
    }
    let outcome = forms::submit(
        &state,
        &form,
        peer.ip(),
        Submission {
            given,
            origin: Origin::Page { proof },
            actor,
            honeypot,
            key: Some(page.submission.clone()),
        },
    )
    .await;
    let now = tenon_server::pow::Issuer::of(state.store());
    match outcome {
        Ok(done) => {
            let message = match form.success_message() {
                Some(_) => done.message,
                None if done.updated => text(lang, "form-updated", &[]),
                None => text(lang, "form-thanks", &[]),
            };
            render(
                now,
                &form,
                lang,
                StatusCode::OK,
                "done",
                &typed,
                &[],
                None,
                message,
                &page,
            )
        }
        Err(error) => refused(now, &form, lang, &typed, &error, &mut page),
    }
}

/// The page for a refused submission: the form again with the values kept and a message at each
/// field, or the "try again later" page.
fn refused(
    now: tenon_server::pow::Issuer,
    form: &PublicForm,
    lang: Lang,
    typed: &Typed,
    error: &ApiError,
    page: &mut PageInput,
) -> Response {
    match error.status() {
        StatusCode::TOO_MANY_REQUESTS => {
            let wait = public_page::retry_after(error);
            let message = if let Some(detail) = error
                .details()
                .iter()
                .find(|detail| detail.field == "daily_limit")
            {
                let max = detail
                    .params
                    .get("max")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                text(lang, "form-daily-limit", &[("max", FluentValue::from(max))])
            } else {
                text(
                    lang,
                    "form-rate-limited",
                    &[("seconds", FluentValue::from(wait))],
                )
            };
            // Over the daily cap the form is closed for today; over the per-address limit the form
            // stays, with what was typed, to be sent again later.
            let daily = error
                .details()
                .iter()
                .any(|detail| detail.field == "daily_limit");
            render(
                now,
                form,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                if daily { "limited" } else { "form" },
                typed,
                &[],
                (!daily).then(|| message.clone()),
                message,
                page,
            )
        }
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
            let mut errors = Vec::new();
            let mut form_error = None;
            for detail in error.details() {
                let message = detail_message(lang, detail);
                if page
                    .problems
                    .take(form, &page.positions, &detail.field, &message)
                {
                    continue;
                }
                match detail.field.strip_prefix("fields.") {
                    Some(key) if !key.contains('.') => {
                        let key = form
                            .fields
                            .iter()
                            .find(|entry| {
                                entry.field.key.as_str() == key || entry.field.name.as_str() == key
                            })
                            .map_or(key.to_owned(), |entry| entry.field.key.to_string());
                        if !errors.iter().any(|(known, _)| *known == key) {
                            errors.push((key, message));
                        }
                    }
                    _ if detail.field == PROOF => {
                        form_error = Some(text(lang, "form-proof-failed", &[]));
                    }
                    _ => form_error = Some(message),
                }
            }
            // A problem with a value the link fixed has no input to stand at: it is said above the form.
            let shown = |key: &str| {
                form.visible().any(|entry| {
                    entry.field.key.as_str() == key
                        && forms::fillable_on_page(entry.field.field_type())
                })
            };
            errors.retain(|(key, message)| {
                if shown(key) {
                    return true;
                }
                let label = form
                    .fields
                    .iter()
                    .find(|entry| entry.field.key.as_str() == key)
                    .map_or(key.as_str(), |entry| entry.label.as_str());
                form_error = Some(format!("{label}: {message}"));
                false
            });
            let form_error = form_error.or_else(|| Some(text(lang, "form-fix-errors", &[])));
            render(
                now,
                form,
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                "form",
                typed,
                &errors,
                form_error,
                String::new(),
                page,
            )
        }
        status => {
            if status.is_server_error() {
                tracing::error!(message = error.message(), "a public form submission failed");
            }
            let message = public_page::error_message(lang, error);
            render(
                now,
                form,
                lang,
                status,
                "form",
                typed,
                &[],
                Some(message),
                String::new(),
                page,
            )
        }
    }
}

/// A field problem in the page's language (`detail-<code>` with its parameters; a list's items joined).
fn detail_message(lang: Lang, detail: &tenon_model::FieldError) -> String {
    public_page::detail_message(lang, detail, |value| match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_owned)
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    })
}
