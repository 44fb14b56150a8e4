//! Apps as code over HTTP: export an app's definition, and import one — creating the app, or migrating an
//! existing one to it (`dry_run=true` only shows the steps).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_exchange::ExchangeError;
use tenon_exchange::definition::{self, FileFormat};
use tenon_model::apps::definition::plan;
use tenon_model::{DetailCode, ErrorCode, FieldError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery};
use crate::routes::apps::AppOut;
use crate::routes::records_io::parse_context;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `yaml` (default) or `json`.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Only compute and return the steps.
    pub dry_run: Option<bool>,
    /// Allow steps that delete tables or fields (and their data); without it such an import is refused.
    pub allow_deletions: Option<bool>,
    /// `off` imports the app without publishing the file's flows (default `on`).
    pub flows: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    /// The app after the import (`null` for a dry run of a new app).
    pub app: Option<AppOut>,
    /// The migration, one line per step: `+ table rooms`, `~ field bookings.nights: type`, `- field …`.
    pub steps: Vec<String>,
    pub applied: bool,
    /// The app's flows after the import (a webhook flow with its `hook_url`); empty for a dry run.
    pub flows: Vec<crate::routes::flows::FlowOut>,
}

pub(crate) fn exchange_error(error: ExchangeError) -> ApiError {
    match error {
        ExchangeError::Format(message) => ApiError::invalid_request(message),
        ExchangeError::Invalid(invalid) => invalid.into(),
        ExchangeError::UnknownOptions {
            path,
            names,
            allowed,
        } => ApiError::invalid_request(format!("unknown option names: {}", names.join(", ")))
            .with_details(
                names
                    .iter()
                    .map(|name| {
                        FieldError::new(
                            format!("{path}.{name}"),
                            DetailCode::UnknownOption,
                            format!("unknown option; this type takes: {}", allowed.join(", ")),
                        )
                        .with("allowed", allowed.clone())
                    })
                    .collect(),
            ),
        ExchangeError::Store(error) => error.into(),
    }
}

/// An app's definition as YAML or JSON (the format `POST /api/v1/apps/import` reads).
#[utoipa::path(get, path = "/api/v1/apps/{app}/export", tag = "apps", params(("app" = String, Path, description = "App id or key"), ExportParams),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, description = "The definition: YAML, or JSON with `format=json`",
        content((crate::openapi::JsonObject = "application/yaml"), (crate::openapi::JsonObject = "application/json"))), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn export_app(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(app): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let current = state
        .store()
        .tenant(auth.principal.org_id)
        .current_app(&app)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let format = match params.format.as_deref().unwrap_or("yaml") {
        "yaml" => FileFormat::Yaml,
        "json" => FileFormat::Json,
        _ => {
            return Err(ApiError::bad_query(
                tenon_model::Reason::not_one_of(&["yaml", "json"], "must be yaml or json")
                    .at("format"),
            ));
        }
    };
    let tenant = state.store().tenant(auth.principal.org_id);
    let mut file = definition::export(&current);
    definition::export_approvals(
        &mut file,
        current.app.id,
        tenant.list_processes().await?,
        tenant.list_roles().await?,
    );
    definition::export_flows(&mut file, current.app.id, tenant.list_flows().await?);
    definition::export_voucher_rules(
        &mut file,
        current.app.id,
        tenant.list_voucher_rules().await?,
    );
    definition::export_params(&mut file, tenant.app_params(current.app.id).await?);
    file.permissions = tenant.app_permissions(current.app.id).await?;
    let text = definition::write(&file, format).map_err(exchange_error)?;
    let content_type = if format == FileFormat::Json {
        "application/json"
    } else {
        "application/yaml; charset=utf-8"
    };
    let disposition = format!(
        "attachment; filename=\"{}.{}\"",
        current.app.key,
        if format == FileFormat::Json {
            "json"
        } else {
            "yaml"
        }
    );
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Create an app from a definition, or migrate the app with the same key to it.
#[utoipa::path(post, path = "/api/v1/apps/import", tag = "apps", params(ImportParams),
    request_body(content = String, content_type = "application/yaml", description = "An app definition in YAML or JSON (Content-Type application/json)"),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, description = "Applied to an existing app, or a dry run", body = ImportOut), (status = 201, description = "A new app", body = ImportOut),
        (status = 400, description = "Not a definition, or unknown option names", body = ErrorBody),
        (status = 409, description = "The migration deletes data and allow_deletions is not set", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn import_app(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ImportParams>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/yaml");
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid_request("the definition is not UTF-8 text"))?;
    let file = definition::read(text, FileFormat::guess(content_type)).map_err(exchange_error)?;
    let approvals = definition::approvals(&file).map_err(exchange_error)?;
    // Permissions are checked for shape now, against the tables once they are applied.
    let permissions = file
        .permissions
        .as_ref()
        .map(|value| {
            tenon_model::apps::permissions::PermissionsDoc::parse(value).map_err(|invalid| {
                ApiError::validation(tenon_model::Invalid(
                    invalid
                        .0
                        .into_iter()
                        .map(|error| {
                            let at = format!("permissions.{}", error.field);
                            error.at(at)
                        })
                        .collect(),
                ))
            })
        })
        .transpose()?;
    let flows = match params.flows.as_deref() {
        None | Some("on") => definition::flows(&file).map_err(exchange_error)?,
        Some("off") => tenon_store::flows::FileFlows::default(),
        Some(_) => {
            return Err(ApiError::bad_query(
                FieldError::new("flows", DetailCode::NotOneOf, "must be on or off")
                    .with("allowed", "on, off"),
            ));
        }
    };
    let wanted = definition::check(file).map_err(exchange_error)?;
    for (i, dashboard) in wanted.dashboards.iter().enumerate() {
        crate::routes::dashboards::check_ledger_accounts(
            &state,
            auth.principal.org_id,
            dashboard,
            &format!("dashboards[{i}]"),
        )
        .await?;
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let current = tenant.current_app(wanted.key.as_str()).await?;
    let steps = plan(&wanted, current.as_ref());
    // A published grid shows the table as one of the app's roles: those of the file's permissions, else
    // the app's stored ones (the import keeps them).
    let roles = match (&permissions, &current) {
        (Some(doc), _) => doc.role_keys(),
        (None, Some(current)) => {
            crate::routes::public_views::role_keys(&tenant, current.app.id).await?
        }
        (None, None) => Vec::new(),
    };
    wanted.check_public_roles(&roles)?;
    let mut lines: Vec<String> = steps.iter().map(ToString::to_string).collect();
    let new_roles = match &permissions {
        Some(doc) => crate::routes::permissions::missing_roles(&tenant, doc).await?,
        None => Vec::new(),
    };
    for (key, name) in &new_roles {
        lines.push(format!(
            "create the custom role {key} ({name}), without members"
        ));
    }
    if permissions.is_some() {
        lines.push("set the app's permissions".to_owned());
    }
    if params.dry_run.unwrap_or(false) {
        let app = current.map(|current| AppOut::from(current.app));
        return Ok(axum::Json(ImportOut {
            app,
            steps: lines,
            applied: false,
            flows: Vec::new(),
        })
        .into_response());
    }
    if steps.iter().any(|step| step.deletes()) && !params.allow_deletions.unwrap_or(false) {
        let details = steps
            .iter()
            .filter(|step| step.deletes())
            .map(|step| FieldError::new("steps", DetailCode::Conflict, step.to_string()))
            .collect();
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the import deletes tables or fields with their data; repeat it with allow_deletions=true to proceed",
        )
        .with_details(details));
    }
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let created = current.is_none();
    let app = tenant
        .apply_app_file(
            &auth.write_context(),
            &wanted,
            &steps,
            &parse,
            tenon_auth::mint_slug,
            &approvals,
            &flows,
        )
        .await?;
    for (key, name) in &new_roles {
        tenant
            .create_role(&auth.write_context(), key, name, &[])
            .await?;
    }
    if let Some(doc) = &permissions {
        crate::routes::permissions::store_permissions(&tenant, &auth, &app, doc)
            .await
            .map_err(|error| error.at_prefix("permissions"))?;
    }
    let hooks = tenant.flow_hooks().await?;
    let flows = tenant
        .list_flows()
        .await?
        .into_iter()
        .filter(|flow| flow.app_id == Some(app.id))
        .map(|flow| crate::routes::flows::FlowOut::with_hook(flow, &hooks))
        .collect();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(ImportOut {
            app: Some(app.into()),
            steps: lines,
            applied: true,
            flows,
        }),
    )
        .into_response())
}
