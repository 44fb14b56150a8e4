//! The OpenAPI 3.1 document: generated from the route annotations, completed here with what is not per
//! route (title, licence, security schemes, tags).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenon_model::{DetailCode, ErrorCode, FieldError};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, LicenseBuilder, OpenApi, Ref, RefOr};

use crate::error::ApiError;
use crate::state::AppState;

/// A file that is one object (an app definition in JSON or YAML, a Kingdee voucher file), as a body's
/// schema.
pub struct JsonObject;

impl utoipa::PartialSchema for JsonObject {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("A document whose top level is an object"))
            .into()
    }
}

impl utoipa::ToSchema for JsonObject {}

/// A file in the media type the response names (CSV, XML, a spreadsheet, an uploaded file), as a body's
/// schema: any content.
pub struct FileContent;

impl utoipa::PartialSchema for FileContent {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .description(Some("The file, in the media type the response names"))
            .into()
    }
}

impl utoipa::ToSchema for FileContent {}

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
    components.add_security_scheme(
        "dingtalk_header",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-acs-dingtalk-access-token",
            "DingTalk v1.0: a token from /v1.0/oauth2/accessToken, /v1.0/oauth2/{corpId}/token or /gettoken",
        ))),
    );
    components.add_security_scheme(
        "dingtalk_query",
        SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
            "access_token",
            "DingTalk oapi: a token from /gettoken or the v1.0 token endpoints",
        ))),
    );
    add_common_responses(&mut doc);
    describe_responses(&mut doc);
    doc
}

/// The answers every operation of a kind can give, whatever its handler does, added to each operation
/// that can give them (a route may document one itself with a more precise description):
///
/// - every operation: 405 (`Allow` lists the methods), 408 (the request timeout) and, unless it is
///   `/healthz` (which touches nothing), 503 when the database does not answer;
/// - with credentials: 401 (`WWW-Authenticate`), 403 and 429 (`Retry-After`);
/// - with path parameters: 404 (ids are opaque: a malformed one names nothing);
/// - with query parameters: 400 (an unknown, missing or malformed parameter);
/// - with a body: 400 (unreadable), 413 (over `--max-body-size`) and 415 (not the declared media type);
///   a JSON body also 422 (well-formed, refused).
fn add_common_responses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|requirements| !requirements.is_empty());
            let parameters = operation.parameters.iter().flatten();
            let (mut in_path, mut in_query) = (false, false);
            for parameter in parameters {
                if let RefOr::T(parameter) = parameter {
                    in_path |= parameter.parameter_in == ParameterIn::Path;
                    in_query |= parameter.parameter_in == ParameterIn::Query;
                }
            }
            let body_types: Vec<String> = operation
                .request_body
                .as_ref()
                .map(|body| match body {
                    RefOr::T(body) => body.content.keys().cloned().collect(),
                    RefOr::Ref(_) => vec!["application/json".to_owned()],
                })
                .unwrap_or_default();
            let json_body = body_types.iter().any(|kind| kind.contains("json"));
            let family = crate::routes::dingtalk::errors::Family::of(path);
            if family == Some(crate::routes::dingtalk::errors::Family::V1) {
                add_v1_responses(operation, secured, in_path, !body_types.is_empty());
                continue;
            }
            if family.is_some() {
                // oapi: every answer is HTTP 200, errors included (`errcode`).
                continue;
            }
            let oauth = path == "/api/v1/oauth/token";
            let mut wanted: Vec<(&str, &str, Option<&str>)> = vec![
                (
                    "405",
                    "The path does not take this method (`method_not_allowed`); `Allow` lists those it takes",
                    Some("Allow"),
                ),
                (
                    "408",
                    "The request took longer than the server allows (`request_timeout`)",
                    None,
                ),
            ];
            if path != "/healthz" {
                wanted.push(("503", "The database does not answer (`unavailable`); retry after `Retry-After` seconds", Some("Retry-After")));
            }
            if secured {
                wanted.push(("401", "No valid credentials (`unauthenticated`): missing, unknown, expired or revoked", Some("WWW-Authenticate")));
                wanted.push(("403", "The credential lacks the scope this needs (`insufficient_scope`, with `WWW-Authenticate`) or the role", None));
                wanted.push(("429", "The credential's rate limit is spent (`rate_limited`); retry after `Retry-After` seconds", Some("Retry-After")));
            }
            if in_path {
                wanted.push((
                    "404",
                    "Nothing of that id or key in this organization (`not_found`)",
                    None,
                ));
            }
            if in_query && !oauth {
                wanted.push(("400", "A query parameter is unknown, missing or malformed (`invalid_request`, `details[].field` names it)", None));
            }
            if !body_types.is_empty() {
                if !oauth {
                    wanted.push((
                        "400",
                        "The body cannot be read (`malformed_json`, `invalid_request`)",
                        None,
                    ));
                    wanted.push((
                        "415",
                        "The body is not of the declared media type (`unsupported_media_type`)",
                        None,
                    ));
                }
                wanted.push(("413", "The body is larger than the server's limit (`payload_too_large`, `params.limit` in bytes)", None));
                if json_body && !oauth {
                    wanted.push(("422", "The input is well-formed but refused (`validation_failed`); `details` lists every problem", None));
                }
            }
            for (status, description, header) in wanted {
                let entry = operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .build(),
                        )
                    });
                // A route's own entry for the status keeps its description; it gains the header.
                if let (RefOr::T(response), Some(name)) = (entry, header) {
                    response.headers.entry(name.to_owned()).or_insert_with(|| {
                        let kind = if name == "Retry-After" {
                            Type::Integer
                        } else {
                            Type::String
                        };
                        HeaderBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(kind)))
                            .build()
                            .into()
                    });
                }
            }
        }
    }
}

/// The answers of a DingTalk v1.0 operation beside its own, all `{"code", "message", "requestid"}`
/// (`routes::dingtalk::errors`): 405, 408, 503 everywhere; with a token 400 (missing or invalid), 403 and
/// 429; with path parameters 404; with a body 400 and 413.
fn add_v1_responses(
    operation: &mut utoipa::openapi::path::Operation,
    secured: bool,
    in_path: bool,
    body: bool,
) {
    let mut wanted: Vec<(&str, &str)> = vec![
        ("405", "`InvalidAction.MethodNotAllowed`"),
        ("408", "`RequestTimeout`"),
        ("503", "`ServiceUnavailable`"),
    ];
    if secured {
        wanted.push(("400", "`AuthenticationFailed.MissingParameter` (no token), `InvalidAuthentication`, `MissingParameter`, `InvalidParameter`"));
        wanted.push((
            "403",
            "`Forbidden.AccessDenied.AccessTokenPermissionDenied`",
        ));
        wanted.push(("429", "`Throttling`"));
    }
    if in_path {
        wanted.push(("404", "`resource.not.found`"));
    }
    if body {
        wanted.push(("400", "`MissingParameter`, `InvalidParameter`"));
        wanted.push(("413", "`RequestEntityTooLarge`"));
    }
    for (status, description) in wanted {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("V1ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    }
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

/// What the server needs to know of each documented operation at run time, read from the document so that
/// the server does what the document says: the query parameters it takes, and whether it is public.
#[derive(Debug, Default)]
pub struct Operations(HashMap<(Method, String), OperationFacts>);

#[derive(Debug, Default)]
pub struct OperationFacts {
    /// The query parameters the operation declares.
    pub query: Vec<String>,
    /// No security requirement: the route authenticates nothing (`/healthz`, public forms, login, the token
    /// endpoint…), so it does not look at an `Authorization` header or a session cookie at all.
    pub public: bool,
}

impl Operations {
    pub fn of(doc: &OpenApi) -> Self {
        let mut known = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let query: Vec<String> = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|parameter| match parameter {
                        RefOr::T(parameter) if parameter.parameter_in == ParameterIn::Query => {
                            Some(parameter.name.clone())
                        }
                        _ => None,
                    })
                    .collect();
                let public = operation
                    .security
                    .as_ref()
                    .is_none_or(|requirements| requirements.is_empty());
                known.insert((method, path.clone()), OperationFacts { query, public });
            }
        }
        Operations(known)
    }

    /// The facts of an operation; `None` for one the document does not describe.
    pub fn get(&self, method: &Method, path: &str) -> Option<&OperationFacts> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.0.get(&(method.clone(), path.to_owned()))
    }
}

/// Runs before every documented route, after routing: authenticates (unless the route is public, which
/// ignores credentials), then answers 400 to a query parameter the route does not document (`fliter=`,
/// `filterByFormula=`), naming it and the parameters the route takes — ignored, it would answer the whole
/// table as if it had been applied. A route that exists only by a flag of `tenon serve` (the test clock)
/// answers 404 to every caller, before authentication, when the flag is off.
pub async fn guard(
    State((state, operations)): State<(AppState, Arc<Operations>)>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let facts = matched
        .as_ref()
        .and_then(|matched| operations.get(request.method(), matched.as_str()));
    if matched
        .as_ref()
        .is_some_and(|matched| matched.as_str() == crate::routes::test_clock::PATH)
        && state.config().test_clock.is_none()
    {
        return ApiError::not_found("route").into_response();
    }
    let public = facts.is_some_and(|facts| facts.public);
    let admitted = if public {
        crate::auth::Admitted::none()
    } else {
        if let Some(family) = crate::routes::dingtalk::errors::Family::of(request.uri().path())
            && let Some(refusal) =
                crate::routes::dingtalk::errors::carry_token(family, &mut request)
        {
            return refusal;
        }
        match crate::auth::admit(&state, &mut request).await {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal,
        }
    };
    if let (Some(facts), Some(query)) = (facts, request.uri().query())
        && let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| !facts.query.iter().any(|known| known == name))
    {
        return admitted.finish(unknown_parameter(&name, &facts.query).into_response());
    }
    let response = next.run(request).await;
    admitted.finish(response)
}

fn unknown_parameter(name: &str, allowed: &[String]) -> ApiError {
    let list = if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed.join(", ")
    };
    let reason = format!("is not a parameter of this route; it takes {list}");
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("unknown query parameter {name}: this route takes {list}"),
    )
    .with_detail(
        FieldError::new(name, DetailCode::UnknownParameter, reason)
            .with("allowed", allowed.to_vec()),
    )
}
