//! Who is looking at a page: the session the API's authentication middleware found, or a redirect to the
//! log-in page that brings the person back to the same address afterwards.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tenon_server::auth::{Authenticated, SESSION_COOKIE};

/// Middleware: authenticates a page request like the API does ([`tenon_server::auth::admit`]: session
/// cookie or bearer token, rate limit); a wrong or ended credential answers 401, which
/// [`redirect_to_login`] turns into the log-in page.
pub async fn authenticate(
    State(state): State<tenon_server::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match tenon_server::auth::admit(&state, &mut request).await {
        Ok(admitted) => admitted.finish(next.run(request).await),
        Err(response) => response,
    }
}

/// Middleware around the private pages: a missing or ended session sends the person to `/login?next=…`
/// (and forgets the dead cookie); the page they wanted opens again after logging in.
pub async fn redirect_to_login(request: Request, next: Next) -> Response {
    let wanted = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let response = next.run(request).await;
    if response.status() != StatusCode::UNAUTHORIZED || !is_read {
        return response;
    }
    login_redirect(&wanted)
}

/// `303 See Other` to the log-in page, clearing the session cookie.
pub fn login_redirect(wanted: &str) -> Response {
    let target = if wanted == "/" {
        "/login".to_owned()
    } else {
        let next: String = form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
        format!("/login?next={next}")
    };
    let mut response = Redirect::to(&target).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A page's viewer: a person logged in with a session cookie. Bearer tokens do not open pages.
#[derive(Debug, Clone)]
pub struct Viewer(pub Authenticated);

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(authenticated)
                if matches!(authenticated.via, tenon_server::auth::Via::Session { .. }) =>
            {
                Ok(Viewer(authenticated.clone()))
            }
            _ => {
                let wanted = parts.uri.path_and_query().map_or("/", |path| path.as_str());
                Err(login_redirect(wanted))
            }
        }
    }
}

/// Middleware for public pages that also serve members (the public form page): a good session cookie puts
/// its principal in the request's extensions; a wrong or ended one is ignored, since the page is public.
pub async fn optional(
    State(state): State<tenon_server::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let _ = tenon_server::auth::admit(&state, &mut request).await;
    next.run(request).await
}

/// The person behind the session cookie, if any (bearer tokens do not count).
#[derive(Debug, Clone)]
pub struct MaybeViewer(pub Option<Authenticated>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeViewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeViewer(
            parts
                .extensions
                .get::<Authenticated>()
                .filter(|found| matches!(found.via, tenon_server::auth::Via::Session { .. }))
                .cloned(),
        ))
    }
}
