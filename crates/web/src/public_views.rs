//! The page of a published grid view, `GET /v/{slug}`: its rows as a plain table, 25 a page with a link
//! to the next, without an account and without JavaScript, in the organization's language unless the
//! visitor picks the other (`?lang=`). Loading and paging go through the same code as the JSON API
//! (`tenon_server::routes::public_views`): the role's read rule and hidden fields apply there. A view
//! with a self-service lookup shows a form instead (`POST /v/{slug}`: number and the phone's last four
//! digits), answered by `tenon_server::routes::public_lookup`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fluent_bundle::FluentValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_server::AppState;
use tenon_server::routes::public_lookup;
use tenon_server::routes::public_views::{self, PublicView};

use crate::i18n::{self, Lang};
use crate::public_page::{self, SwitchOut, pairs, shown, text};

#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    lang: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct Pair {
    label: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct LookupOut {
    /// The form posts here.
    action: String,
    /// What the visitor typed (kept when nothing matched).
    number: String,
    /// The record found, as label and value pairs.
    found: Option<Vec<Pair>>,
    /// Why nothing is shown: no match, a malformed entry, too many tries.
    message: Option<String>,
}

#[derive(Debug, Serialize)]
struct Context {
    lang: &'static str,
    title: String,
    /// A lookup view: the form (and its answer) instead of rows.
    lookup: Option<LookupOut>,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The next page's address, if there is one.
    next: Option<String>,
    /// Back to the first page, when this is not it.
    first: Option<String>,
    switch: SwitchOut,
}

fn address(slug: &str, lang: Lang, cursor: Option<&str>) -> String {
    match cursor {
        Some(cursor) => format!("/v/{slug}?lang={}&cursor={cursor}", lang.tag()),
        None => format!("/v/{slug}?lang={}", lang.tag()),
    }
}

fn render(lang: Lang, public: &PublicView, json: &Value, on_first: bool) -> Response {
    let rows = json["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    public
                        .fields
                        .iter()
                        .map(|field| shown(lang, &item["fields"][field.key.as_str()]))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let context = Context {
        lang: lang.tag(),
        title: public.view.name.to_string(),
        lookup: None,
        columns: public
            .fields
            .iter()
            .map(|field| field.name.to_string())
            .collect(),
        rows,
        next: json["next_cursor"]
            .as_str()
            .map(|cursor| address(&public.slug, lang, Some(cursor))),
        first: (!on_first).then(|| address(&public.slug, lang, None)),
        switch: switch(&public.slug, lang),
    };
    respond(lang, &context)
}

fn respond(lang: Lang, context: &Context) -> Response {
    respond_with(lang, StatusCode::OK, context)
}

fn respond_with(lang: Lang, status: StatusCode, context: &Context) -> Response {
    public_page::respond(
        "public_view.html",
        context,
        status,
        lang,
        "the published view",
    )
}

fn switch(slug: &str, lang: Lang) -> SwitchOut {
    public_page::switch(lang, |other| address(slug, other, None))
}

/// A lookup view's page: the form, with the record found or why nothing is shown.
fn render_lookup(
    lang: Lang,
    status: StatusCode,
    public: &PublicView,
    number: String,
    found: Option<&Value>,
    message: Option<String>,
) -> Response {
    let found = found.map(|record| {
        public
            .fields
            .iter()
            .map(|field| Pair {
                label: field.name.to_string(),
                value: shown(lang, &record["fields"][field.key.as_str()]),
            })
            .collect()
    });
    let context = Context {
        lang: lang.tag(),
        title: public.view.name.to_string(),
        lookup: Some(LookupOut {
            action: address(&public.slug, lang, None),
            number,
            found,
            message,
        }),
        columns: Vec::new(),
        rows: Vec::new(),
        next: None,
        first: None,
        switch: switch(&public.slug, lang),
    };
    respond_with(lang, status, &context)
}

/// Loads the published view, and the page's language (the organization's unless the visitor chose; the
/// browser's when the view does not load); a view that does not load answers the error page.
async fn loaded(
    state: &AppState,
    slug: &str,
    peer: SocketAddr,
    query: &ViewQuery,
    headers: &HeaderMap,
) -> Result<(PublicView, Lang), Response> {
    let chosen = public_page::chosen(query.lang.as_deref(), headers);
    match public_views::load(state, slug, peer.ip()).await {
        Ok(public) => {
            let lang = chosen.unwrap_or_else(|| Lang::from(public.organization.locale));
            Ok((public, lang))
        }
        Err(error) => {
            let lang = chosen.unwrap_or_else(|| i18n::negotiate(headers, None));
            Err(crate::pages::error_page(lang, None, error.status()))
        }
    }
}

/// `POST /v/{slug}`: a lookup from the page (`number`, `phone_last4`).
pub async fn find(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    Query(query): Query<ViewQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (public, lang) = match loaded(&state, &slug, peer, &query, &headers).await {
        Ok(loaded) => loaded,
        Err(refused) => return refused,
    };
    if !public.is_lookup() {
        return crate::pages::error_page(lang, None, StatusCode::METHOD_NOT_ALLOWED);
    }
    let posted = pairs(&body);
    let value_of = |name: &str| {
        posted
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let number = value_of("number");
    let found = public_lookup::lookup(
        &state,
        &public,
        &number,
        &value_of("phone_last4"),
        peer.ip(),
    )
    .await;
    match found {
        Ok(record) => render_lookup(lang, StatusCode::OK, &public, number, Some(&record), None),
        Err(error) => {
            let status = error.status();
            let message = match status {
                StatusCode::TOO_MANY_REQUESTS => text(
                    lang,
                    "share-rate-limited",
                    &[(
                        "seconds",
                        FluentValue::from(public_page::retry_after(&error)),
                    )],
                ),
                StatusCode::UNPROCESSABLE_ENTITY => text(lang, "pview-lookup-invalid", &[]),
                StatusCode::NOT_FOUND => text(lang, "pview-lookup-none", &[]),
                _ => {
                    tracing::error!(message = error.message(), "a lookup failed");
                    return crate::pages::error_page(lang, None, status);
                }
            };
            render_lookup(lang, status, &public, number, None, Some(message))
        }
    }
}

/// `GET /v/{slug}`: a page of the view's rows (or, for a lookup view, the lookup form).
pub async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    Query(query): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let (public, lang) = match loaded(&state, &slug, peer, &query, &headers).await {
        Ok(loaded) => loaded,
        Err(refused) => return refused,
    };
    if public.is_lookup() {
        return render_lookup(lang, StatusCode::OK, &public, String::new(), None, None);
    }
    let cursor = query.cursor.as_deref().filter(|raw| !raw.is_empty());
    let after = match cursor
        .map(tenon_server::routes::records_io::decode_cursor)
        .transpose()
    {
        Ok(after) => after,
        Err(error) => return crate::pages::error_page(lang, None, error.status()),
    };
    match public_views::page(&state, &public, after).await {
        Ok(page) => render(
            lang,
            &public,
            &public_views::to_json(&public, &page),
            cursor.is_none(),
        ),
        Err(error) => {
            if error.status().is_server_error() {
                tracing::error!(message = error.message(), "a published view failed");
            }
            crate::pages::error_page(lang, None, error.status())
        }
    }
}
