//! The OpenAPI 3.1 document: generated from the route annotations, completed here with what is not per
//! route (title, licence, security schemes, tags).

use axum::http::StatusCode;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, LicenseBuilder, OpenApi, RefOr};

/// Adds the document-wide parts to the generated paths.
pub fn complete(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("Tenon API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The open API of a Tenon organization. Authenticate with `Authorization: Bearer <token>` \
             (a personal token, or an access token from `POST /api/v1/oauth/token`); a browser uses the session \
             cookie from `POST /api/v1/auth/login`. The security requirement of each operation lists the scope it \
             needs; `admin` implies every scope. Errors share one shape, `{\"error\": {\"code\", \"message\", \
             \"params\", \"details\": [{\"field\", \"code\", \"params\", \"reason\"}], \"request_id\"}}`, with \
             stable codes listed in docs/errors.md, except the token endpoint, which answers RFC 6749 errors. \
             Lists are cursor-paginated: pass `next_cursor` as `cursor`.",
        ))
        .license(Some(LicenseBuilder::new().name("Apache-2.0").identifier(Some("Apache-2.0")).build()))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A Tenon token"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::auth::SESSION_COOKIE,
            "The session cookie set by POST /api/v1/auth/login",
        ))),
    );
    describe_responses(&mut doc);
    doc
}

/// OpenAPI requires a description on every response; routes give one where it adds something, and the
/// rest get the status's reason phrase (`Unauthorized`, `Too Many Requests`, …).
fn describe_responses(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason())
                        .unwrap_or("Response")
                        .to_owned();
                }
            }
        }
    }
}
