//! Tenon's browser UI: server-rendered pages for people who do not program.
//!
//! Pages are minijinja templates ([`templates`]) rendered in the person's language from Fluent catalogs
//! ([`i18n`]); the few keystroke-level parts are TypeScript islands bundled by esbuild into fixed-name files
//! that are committed and embedded with the templates ([`assets`]), so running Tenon never needs Node.
//! Pages read through the store's services (this crate owns no SQL); every write a page makes goes through
//! the public REST API, which stays the contract.
//!
//! [`router`] is mounted beside the API by `tenon_server::serve_with`. Every response of this router
//! carries the security headers of [`security`]: a Content-Security-Policy without `unsafe-inline` or
//! `unsafe-eval` and with `frame-ancestors 'none'`.

use axum::Router;
use axum::middleware;
use axum::routing::get;
use tenon_server::AppState;

pub mod assets;
pub mod board_settings;
pub mod boards;
pub mod dashboards;
pub mod designer;
pub mod i18n;
pub mod pages;
pub mod public_form;
pub(crate) mod public_page;
pub mod public_views;
pub mod publish;
pub mod security;
pub mod session;
pub mod shares;
pub mod templates;

/// The UI's routes, with their own session handling (a lost session redirects to the log-in page).
pub fn router(state: AppState) -> Router<AppState> {
    let private = Router::new()
        .route("/", get(pages::home))
        .route("/apps/{app}", get(pages::app))
        .route("/apps/{app}/tables/{table}", get(pages::table))
        .route(
            "/apps/{app}/tables/{table}/views/{view}/part",
            get(boards::part),
        )
        .route(
            "/apps/{app}/tables/{table}/views/{view}/preview",
            get(public_form::preview::preview).post(public_form::preview::draft),
        )
        .route(
            "/apps/{app}/tables/{table}/views/{view}/qr.svg",
            get(designer::qr),
        )
        .route("/qr.svg", axum::routing::post(designer::link_qr))
        .route("/apps/{app}/dashboards/{key}", get(dashboards::dashboard))
        .route("/admin", get(pages::admin))
        .route("/admin/{section}", get(pages::admin))
        .route("/admin/webhooks/{id}", get(pages::admin_webhook))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::authenticate,
        ))
        .layer(middleware::from_fn(session::redirect_to_login));
    let public = Router::new()
        .route("/login", get(pages::login))
        .route(
            "/f/{slug}",
            get(public_form::show)
                .post(public_form::submit)
                .layer(axum::extract::DefaultBodyLimit::max(
                    public_form::BODY_BYTES_MAX,
                ))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    session::optional,
                )),
        )
        .route("/s/{token}", get(shares::show).post(shares::submit))
        .route(
            "/v/{slug}",
            get(public_views::show).post(public_views::find),
        )
        .route("/static/{*path}", get(assets::serve));
    Router::new()
        .merge(private)
        .merge(public)
        .layer(middleware::from_fn(security::headers))
}
