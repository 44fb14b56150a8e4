//! Table files over HTTP: import CSV or Excel into a table (rows that cannot be written are reported by
//! line and field), export a table as CSV or Excel.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tenon_exchange::import::{ImportOptions, import_table};
use tenon_exchange::tabular::{self, TableFormat};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery};
use crate::routes::app_code::exchange_error;
use crate::routes::records_io::parse_context;
use crate::service::access::{self, Access};
use crate::service::records;
use crate::state::AppState;
use tenon_model::apps::permissions::{RecordAction, Rows};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TableImportParams {
    /// `csv` or `xlsx` (default: from the Content-Type).
    pub format: Option<String>,
    /// Check every row, write nothing.
    pub dry_run: Option<bool>,
    /// Write the valid rows even when others are refused. By default the import is all or nothing: when
    /// any row is refused, nothing is written (`imported` is 0) and `errors` lists every refused row.
    pub partial: Option<bool>,
    /// URL-encoded JSON object mapping file headers to field keys, e.g. `{"入住人": "guest"}`.
    pub mapping: Option<String>,
    /// Update the records the rows match instead of creating new ones: a unique field's key, or the
    /// comma-separated keys of a `unique_together` group (`student,week`). A row matching a record
    /// changes the cells it gives (blank cells keep the record's values); the other rows create records.
    #[param(example = "code")]
    pub upsert_on: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TableExportParams {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorOut {
    /// The line in the file; the header is line 1.
    pub line: usize,
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReportOut {
    pub rows: usize,
    /// Records written, created or updated (in a dry run: that would be).
    pub imported: usize,
    /// Of `imported`, the records that existed and were updated (`upsert_on`).
    pub updated: usize,
    pub errors: Vec<RowErrorOut>,
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
    /// Whether valid rows were written although others were refused.
    pub partial: bool,
}

/// Import a CSV or Excel file into a table, all or nothing (one transaction): when any row is refused,
/// nothing is written and every refused row is reported with its line, field and reason. With
/// `partial=true`, valid rows are written (in batches of 1000, each one transaction) and the others
/// reported. Headers match field keys or names (or `mapping`); a blank cell takes the field's default;
/// links, members, departments and choices are typecast (named instead of given by id). With
/// `upsert_on`, rows matching a record on a unique field (or `unique_together` group) update it.
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/import", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), TableImportParams),
    request_body(content = crate::extract::FileBytes, content_type = "text/csv", description = "A CSV (UTF-8 or GB18030) or Excel file with a header row"),
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 200, body = ImportReportOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn import(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table)): Path<(String, String)>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<TableImportParams>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<axum::Json<ImportReportOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    // The member's app role first: a refused import says so before anything about its file.
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    if !access.table.is_full() {
        // An import creates and updates (upserts) rows in bulk: only for a member allowed to create and
        // update every row and every field.
        for action in [RecordAction::Create, RecordAction::Update] {
            access.require(action)?;
            if *access.table.rows(action) != Rows::All || !access.table.read_only.is_empty() {
                return Err(ApiError::new(
                    tenon_model::ErrorCode::ActionForbidden,
                    "an import needs create and update on every row and field of the table",
                )
                .with("action", action.as_str()));
            }
        }
    }
    let hint = params
        .format
        .clone()
        .or_else(|| {
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let format =
        TableFormat::parse(hint.split(';').next().unwrap_or("").trim()).ok_or_else(|| {
            ApiError::invalid_request("give format=csv or format=xlsx, or a matching Content-Type")
        })?;
    let mapping: HashMap<String, String> = match params.mapping.as_deref() {
        None => HashMap::new(),
        Some(raw) => serde_json::from_str(raw).map_err(|_| {
            ApiError::invalid_request("mapping must be a JSON object of header → field key")
        })?,
    };
    let sheet = tabular::read(&body, format).map_err(exchange_error)?;
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let options = ImportOptions {
        mapping,
        dry_run: params.dry_run.unwrap_or(false),
        partial: params.partial.unwrap_or(false),
        upsert_on: params
            .upsert_on
            .as_deref()
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let report = import_table(
        &tenant,
        &auth.write_context(),
        &schema,
        sheet,
        &parse,
        &options,
        &mut |_, _| {},
    )
    .await
    .map_err(exchange_error)?;
    Ok(axum::Json(ImportReportOut {
        rows: report.rows,
        imported: report.imported,
        updated: report.updated,
        errors: report
            .errors
            .into_iter()
            .map(|error| RowErrorOut {
                line: error.line,
                field: error.field,
                reason: error.reason,
            })
            .collect(),
        ignored_columns: report.ignored_columns,
        dry_run: report.dry_run,
        partial: report.partial,
    }))
}

/// Export a table's records as CSV (UTF-8 with BOM, opens in Excel) or as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/export", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), TableExportParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, description = "The file: CSV, or Excel with `format=xlsx`",
        content((crate::openapi::FileContent = "text/csv"), (crate::openapi::FileContent = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<TableExportParams>,
) -> ApiResult<Response> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let format =
        TableFormat::parse(params.format.as_deref().unwrap_or("csv")).ok_or_else(|| {
            ApiError::bad_query(
                tenon_model::Reason::not_one_of(&["csv", "xlsx"], "must be csv or xlsx")
                    .at("format"),
            )
        })?;
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    access.require(RecordAction::Read)?;
    access.require(RecordAction::Export)?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    // Export follows read's rows (and an export rule, if the grant has one).
    let rows = access::both(
        access.filter(RecordAction::Read, &schema, &context)?,
        access.filter(RecordAction::Export, &schema, &context)?,
    );
    let visible = access.visible(&schema, None);
    let sheet = tenon_exchange::export::table_sheet_of(
        state.store(),
        auth.principal.org_id,
        &schema,
        rows,
        visible.as_deref(),
    )
    .await?;
    let (bytes, content_type, extension) = match format {
        TableFormat::Csv => (
            tabular::write_csv(&sheet).map_err(exchange_error)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        TableFormat::Xlsx => (
            tabular::write_xlsx(&sheet, schema.table.name.as_str()).map_err(exchange_error)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.{extension}\"",
        schema.table.key
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
