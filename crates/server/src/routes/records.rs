//! `/api/v1/apps/{app}/tables/{table}/records`: the REST API every table gets.
//!
//! Shapes follow Airtable's closely: a record is `{"id", "version", "created_at", "modified_at",
//! "fields"}`; one record is created from `{"fields"}`, many from `{"records": [...]}` (up to 1000, one
//! transaction, all or nothing); lists take `filter` (a JSON tree), `sort`, `fields`, `page_size`,
//! `cursor`, `count`, `key_by` and `expand`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::apps::{CellValue, TableSchema};
use tenon_model::{DetailCode, FieldError, FieldId, RecordId};
use tenon_store::{IdempotencyKey, RECORDS_PER_WRITE_MAX, RecordUpdate, StoreError, WriteOutcome};

use crate::auth::{Authed, Authenticated, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiBytes, ApiQuery, page_request, parse_json, path_id};
use crate::routes::records_io::{
    KeyBy, RenderContext, decode_cursor, encode_cursor, key_by, parse_context,
};
use crate::service::access::{self, Access};
use crate::service::records::{self, ListProblem, ListRequest};
use crate::state::AppState;
use tenon_model::apps::permissions::RecordAction;

pub use crate::routes::records_shapes::*;

/// With `?typecast=true`, names in `records` become ids (and prefixes choices) before they are parsed.
async fn typecast(
    state: &AppState,
    auth: &Authenticated,
    schema: &TableSchema,
    params: &WriteParams,
    mut records: Vec<&mut Map<String, Value>>,
    path: impl Fn(usize) -> String,
) -> ApiResult<()> {
    if !params.typecast.unwrap_or(false) {
        return Ok(());
    }
    let tenant = state.store().tenant(auth.principal.org_id);
    let errors = tenon_exchange::typecast::typecast(&tenant, schema, &mut records, path).await?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(tenon_model::Invalid(errors).into())
    }
}

/// The field references of a comma-separated query parameter.
fn references(raw: &str) -> Vec<&str> {
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect()
}

fn no_field(param: &str, reference: &str) -> ApiError {
    ApiError::bad_query(FieldError::new(
        param,
        DetailCode::UnknownField,
        format!("no field \"{reference}\""),
    ))
}

fn field_list(
    schema: &TableSchema,
    raw: Option<&str>,
    param: &str,
) -> ApiResult<Option<Vec<FieldId>>> {
    let Some(raw) = raw else { return Ok(None) };
    references(raw)
        .into_iter()
        .map(|reference| {
            schema
                .resolve_field(reference)
                .map(|field| field.id)
                .ok_or_else(|| no_field(param, reference))
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// Maps store problems with records to field paths of the request.
pub(crate) fn record_problems(error: StoreError, schema: &TableSchema, bulk: bool) -> ApiError {
    if let StoreError::RuleBroken(problems) = error {
        let details = problems
            .into_iter()
            .map(|problem| {
                let path = if bulk {
                    format!("records[{}].fields", problem.index)
                } else {
                    "fields".to_owned()
                };
                problem.reason.at(path)
            })
            .collect();
        return ApiError::validation(tenon_model::Invalid(details));
    }
    let StoreError::InvalidRecords(problems) = error else {
        return error.into();
    };
    let details: Vec<FieldError> = problems
        .into_iter()
        .map(|problem| {
            let prefix = if bulk {
                format!("records[{}].", problem.index)
            } else {
                String::new()
            };
            let field = match problem.field.and_then(|id| schema.field(id)) {
                Some(field) => format!("{prefix}fields.{}", field.key),
                None => format!("{prefix}id"),
            };
            problem.reason.at(field)
        })
        .collect();
    if !bulk && details.iter().all(|detail| detail.field == "id") {
        return ApiError::not_found("record");
    }
    ApiError::validation(tenon_model::Invalid(details))
}

async fn render_many(
    state: &AppState,
    auth: &Authenticated,
    schema: &TableSchema,
    records: &[tenon_model::apps::Record],
    key_by: KeyBy,
    only: Option<&[FieldId]>,
    expand: &[FieldId],
) -> ApiResult<Vec<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let sights =
        access::expand_sights(state, &tenant, &auth.principal.actor, schema, expand).await?;
    let context = RenderContext::load_for(
        state.store(),
        auth.principal.org_id,
        schema,
        records,
        key_by,
        expand,
        &sights,
    )
    .await?;
    Ok(records
        .iter()
        .map(|record| context.record(schema, record, only))
        .collect())
}

/// List records: filtered, sorted, paginated by cursor.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/records", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ListParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, body = RecordPageOut), (status = 400, description = "A bad filter, sort or parameter", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "The filter compares a select field with a value that is none of its choices (`unknown_choice`, listing them)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_records(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<axum::Json<Value>> {
    let org = auth.principal.org_id;
    let tenant = state.store().tenant(org);
    let schema = tenant.table_schema(&app, &table).await?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let filter: Option<Value> = params
        .filter
        .as_deref()
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| {
            serde_json::from_str(raw).map_err(|error| {
                ApiError::bad_query(
                    tenon_model::Reason::format("json", format!("not JSON: {error}")).at("filter"),
                )
            })
        })
        .transpose()?;
    let after = params
        .cursor
        .as_deref()
        .filter(|raw| !raw.is_empty())
        .map(decode_cursor)
        .transpose()?;
    if after.is_some() && params.offset.unwrap_or(0) > 0 {
        return Err(ApiError::bad_query(
            tenon_model::Reason::not_allowed(
                "offset and cursor exclude each other: continue a window with its next_cursor",
            )
            .at("offset"),
        ));
    }
    let request = ListRequest {
        filter: filter.as_ref(),
        sort: params.sort.as_deref().unwrap_or(""),
        fields: params.fields.as_deref().map(references),
        formula: params
            .formula
            .as_deref()
            .filter(|raw| !raw.trim().is_empty()),
        offset: params.offset.unwrap_or(0),
        page: page_request(params.page_size, after)?,
        count: params.count.unwrap_or(false),
    };
    let mut query =
        records::record_query(&schema, request, &context).map_err(|problem| match problem {
            ListProblem::Filter(error) => ApiError::bad_filter(error),
            ListProblem::Sort(error) => ApiError::bad_query(error.at("sort")),
            ListProblem::Field(reference) => no_field("fields", &reference),
            ListProblem::Formula(invalid) => {
                ApiError::invalid_request(format!("query parameter formula: {invalid}"))
                    .with_details(invalid.0)
            }
        })?;
    let access = access::restrict_list(&tenant, &auth, &schema, &mut query, &context).await?;
    let expand = field_list(&schema, params.expand.as_deref(), "expand")?.unwrap_or_default();
    access.require_visible(&schema, expand.iter().copied())?;
    let key_by = key_by(params.key_by.as_deref())?;
    let sights =
        access::expand_sights(&state, &tenant, &auth.principal.actor, &schema, &expand).await?;
    let page = records::list_for(&state, org, &schema, &query, key_by, &expand, &sights)
        .await
        .map_err(|error| match error {
            StoreError::Invalid(invalid) => {
                ApiError::invalid_request(invalid.to_string()).with_details(invalid.0)
            }
            other => other.into(),
        })?;
    let mut body =
        json!({"items": page.items, "next_cursor": page.next.as_ref().map(encode_cursor)});
    if let (Some(total), Value::Object(map)) = (page.total, &mut body) {
        map.insert("total".to_owned(), Value::from(total));
    }
    Ok(axum::Json(body))
}

/// Create one record from `{"fields"}`, or up to 1000 from `{"records": [...]}` in one transaction.
/// An `Idempotency-Key` header makes retries safe: the same key and body return the first result.
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/records", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result"), WriteParams),
    request_body(content((RecordWrite = "application/json"), (RecordsCreate = "application/json"))),
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 201, description = "The record, or {\"records\": [...]} in the order given", body = RecordsCreated),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Idempotency-Key reused for another request", body = ErrorBody),
        (status = 422, description = "Per field and per record index; nothing was written", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_records(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table)): Path<(String, String)>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<WriteParams>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    crate::extract::require_json(&headers)?;
    // Read once: the shape says which of the two bodies it is.
    let shape: Value = parse_json(&body)?;
    let bulk = shape.get("records").is_some();
    let mut inputs: Vec<Map<String, Value>> = if bulk {
        crate::extract::from_value::<RecordsCreate>(shape)?
            .records
            .into_iter()
            .map(|record| record.fields)
            .collect()
    } else {
        vec![crate::extract::from_value::<RecordWrite>(shape)?.fields]
    };
    if inputs.len() > RECORDS_PER_WRITE_MAX {
        return Err(tenon_model::Invalid::from(
            tenon_model::Reason::too_many(
                RECORDS_PER_WRITE_MAX,
                format!("at most {RECORDS_PER_WRITE_MAX} records per request"),
            )
            .at("records"),
        )
        .into());
    }
    if inputs.is_empty() {
        return Err(tenon_model::Invalid::from(
            FieldError::new("records", DetailCode::TooFew, "give at least one record")
                .with("min", 1),
        )
        .into());
    }
    typecast(
        &state,
        &auth,
        &schema,
        &params,
        inputs.iter_mut().collect(),
        |index| {
            if bulk {
                format!("records[{index}].fields")
            } else {
                "fields".to_owned()
            }
        },
    )
    .await?;
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let mut rows = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (index, fields) in inputs.iter().enumerate() {
        let path = if bulk {
            format!("records[{index}].fields")
        } else {
            "fields".to_owned()
        };
        match parse_record_fields(&schema, fields, &parse, WriteMode::Create, &path) {
            Ok(cells) => rows.push(present(cells)),
            Err(problems) => errors.extend(problems),
        }
    }
    if !errors.is_empty() {
        return Err(tenon_model::Invalid(errors).into());
    }
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let guard = access.guard(RecordAction::Create, &schema, &context)?;
    if !access.table.read_only.is_empty() {
        // Only the fields the request names: a read-only field's default is not the member's write.
        for (row, fields) in rows.iter().zip(&inputs) {
            match parse_record_fields(&schema, fields, &parse, WriteMode::Update, "fields") {
                Ok(given) => access.require_writable(&schema, &given)?,
                Err(_) => access.require_writable(&schema, row)?,
            }
        }
    }
    let idempotency = idempotency_key(&headers, &auth, &app, &table, &body)?;
    let outcome = tenant
        .create_records_guarded(
            &auth.write_context(),
            &schema,
            rows,
            parse.org_time_zone,
            idempotency.as_ref(),
            &guard,
        )
        .await
        .map_err(|error| record_problems(error, &schema, bulk))?;
    let (records, replayed) = match outcome {
        WriteOutcome::Written(records) => (records, false),
        WriteOutcome::Replayed(records) => (records, true),
    };
    let visible = access.visible(&schema, None);
    let rendered = render_many(
        &state,
        &auth,
        &schema,
        &records,
        KeyBy::Key,
        visible.as_deref(),
        &[],
    )
    .await?;
    let body = if bulk {
        json!({"records": rendered})
    } else {
        rendered.into_iter().next().unwrap_or(Value::Null)
    };
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn idempotency_key(
    headers: &HeaderMap,
    auth: &Authenticated,
    app: &str,
    table: &str,
    body: &[u8],
) -> ApiResult<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| !key.is_empty() && key.len() <= 255)
        .ok_or_else(|| {
            ApiError::invalid_request("Idempotency-Key must be 1 to 255 visible characters")
        })?;
    let mut digest = Sha256::new();
    digest.update(app.as_bytes());
    digest.update([0]);
    digest.update(table.as_bytes());
    digest.update([0]);
    digest.update(body);
    Ok(Some(IdempotencyKey {
        credential: auth.principal.rate_key,
        key: key.to_owned(),
        fingerprint: digest.finalize().into(),
    }))
}

/// Change several records: `{"records": [{"id", "fields", "version"?}]}`, in one transaction.
#[utoipa::path(patch, path = "/api/v1/apps/{app}/tables/{table}/records", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), WriteParams), request_body = RecordsUpdate,
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 200, body = RecordsOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "A version did not match; nothing was written", body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_records(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<WriteParams>,
    crate::extract::ApiJson(mut body): crate::extract::ApiJson<RecordsUpdate>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    typecast(
        &state,
        &auth,
        &schema,
        &params,
        body.records
            .iter_mut()
            .map(|record| &mut record.fields)
            .collect(),
        |index| format!("records[{index}].fields"),
    )
    .await?;
    if body.records.len() > RECORDS_PER_WRITE_MAX {
        return Err(tenon_model::Invalid::from(
            tenon_model::Reason::too_many(
                RECORDS_PER_WRITE_MAX,
                format!("at most {RECORDS_PER_WRITE_MAX} records per request"),
            )
            .at("records"),
        )
        .into());
    }
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let mut updates = Vec::with_capacity(body.records.len());
    let mut errors = Vec::new();
    for (index, record) in body.records.iter().enumerate() {
        let Ok(id) = record.id.parse::<RecordId>() else {
            errors.push(
                tenon_model::Reason::format("id", "not a record id")
                    .at(format!("records[{index}].id")),
            );
            continue;
        };
        match parse_record_fields(
            &schema,
            &record.fields,
            &parse,
            WriteMode::Update,
            &format!("records[{index}].fields"),
        ) {
            Ok(cells) => updates.push(RecordUpdate {
                id,
                expected_version: record.version,
                cells,
            }),
            Err(problems) => errors.extend(problems),
        }
    }
    if !errors.is_empty() {
        return Err(tenon_model::Invalid(errors).into());
    }
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let guard = access.guard(RecordAction::Update, &schema, &context)?;
    for update in &updates {
        access.require_writable(&schema, &update.cells)?;
    }
    let records = tenant
        .update_records_guarded(&auth.write_context(), &schema, updates, &guard)
        .await
        .map_err(|error| record_problems(error, &schema, true))?;
    let visible = access.visible(&schema, None);
    let rendered = render_many(
        &state,
        &auth,
        &schema,
        &records,
        KeyBy::Key,
        visible.as_deref(),
        &[],
    )
    .await?;
    Ok(axum::Json(json!({"records": rendered})))
}

/// Delete several records: `{"ids": [...]}`, in one transaction.
#[utoipa::path(delete, path = "/api/v1/apps/{app}/tables/{table}/records", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")), request_body = RecordsDelete,
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 200, description = "{\"records\": [{\"id\", \"deleted\": true}]}", body = RecordsDeletedOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_records(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table)): Path<(String, String)>,
    crate::extract::ApiJson(body): crate::extract::ApiJson<RecordsDelete>,
) -> ApiResult<axum::Json<RecordsDeletedOut>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    if body.ids.len() > RECORDS_PER_WRITE_MAX {
        return Err(tenon_model::Invalid::from(
            tenon_model::Reason::too_many(
                RECORDS_PER_WRITE_MAX,
                format!("at most {RECORDS_PER_WRITE_MAX} ids per request"),
            )
            .at("ids"),
        )
        .into());
    }
    let mut ids = Vec::with_capacity(body.ids.len());
    let mut errors = Vec::new();
    for (index, raw) in body.ids.iter().enumerate() {
        match raw.parse::<RecordId>() {
            Ok(id) => ids.push(id),
            Err(_) => errors.push(
                tenon_model::Reason::format("id", "not a record id").at(format!("ids[{index}]")),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(tenon_model::Invalid(errors).into());
    }
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let guard = access.guard(RecordAction::Delete, &schema, &context)?;
    tenant
        .delete_records_guarded(&auth.write_context(), &schema, &ids, &guard)
        .await
        .map_err(|error| match error {
            StoreError::InvalidRecords(problems) => ApiError::validation(tenon_model::Invalid(
                problems
                    .into_iter()
                    .map(|problem| problem.reason.at(format!("ids[{}]", problem.index)))
                    .collect(),
            )),
            other => other.into(),
        })?;
    let records = ids
        .iter()
        .map(|id| DeletedOut {
            id: id.to_string(),
            deleted: true,
        })
        .collect();
    Ok(axum::Json(RecordsDeletedOut { records }))
}

/// Get a record; `expand` includes the linked records the caller may read (without fields hidden from her).
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables/{table}/records/{id}", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id"), ReadParams),
    security(("bearer" = ["records:read"]), ("session" = ["records:read"])),
    responses((status = 200, body = RecordOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_record(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsRead>,
    Path((app, table, id)): Path<(String, String, String)>,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> ApiResult<Response> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    let expand = field_list(&schema, params.expand.as_deref(), "expand")?.unwrap_or_default();
    let key_by = key_by(params.key_by.as_deref())?;
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    access.require(RecordAction::Read)?;
    access.require_visible(&schema, expand.iter().copied())?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let rule = access.filter(RecordAction::Read, &schema, &context)?;
    let record = tenant.record_within(&schema, id, rule.as_ref()).await?;
    let visible = access.visible(&schema, None);
    let rendered = render_many(
        &state,
        &auth,
        &schema,
        std::slice::from_ref(&record),
        key_by,
        visible.as_deref(),
        &expand,
    )
    .await?;
    let mut response =
        axum::Json(rendered.into_iter().next().unwrap_or(Value::Null)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", record.version)) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, etag);
    }
    Ok(response)
}

/// Change a record's given fields; `If-Match: <version>` makes it conditional (409 if changed since).
#[utoipa::path(patch, path = "/api/v1/apps/{app}/tables/{table}/records/{id}", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id"),
        ("If-Match" = Option<String>, Header, description = "The version the change is based on"), WriteParams),
    request_body = RecordWrite,
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 200, body = RecordOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The record changed since that version; nothing was written", body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_record(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<WriteParams>,
    crate::extract::ApiJson(mut body): crate::extract::ApiJson<RecordWrite>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    typecast(
        &state,
        &auth,
        &schema,
        &params,
        vec![&mut body.fields],
        |_| "fields".to_owned(),
    )
    .await?;
    let expected_version = match headers.get(axum::http::header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::invalid_request("If-Match must be a record version such as \"3\"")
                })?,
        ),
    };
    let parse = parse_context(&state, auth.principal.org_id).await?;
    let cells: BTreeMap<FieldId, Option<CellValue>> =
        parse_record_fields(&schema, &body.fields, &parse, WriteMode::Update, "fields")
            .map_err(tenon_model::Invalid)?;
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let guard = access.guard(RecordAction::Update, &schema, &context)?;
    access.require_writable(&schema, &cells)?;
    let records = tenant
        .update_records_guarded(
            &auth.write_context(),
            &schema,
            vec![RecordUpdate {
                id,
                expected_version,
                cells,
            }],
            &guard,
        )
        .await
        .map_err(|error| record_problems(error, &schema, false))?;
    let visible = access.visible(&schema, None);
    let rendered = render_many(
        &state,
        &auth,
        &schema,
        &records,
        KeyBy::Key,
        visible.as_deref(),
        &[],
    )
    .await?;
    Ok(axum::Json(
        rendered.into_iter().next().unwrap_or(Value::Null),
    ))
}

/// Delete a record (its links go with it).
#[utoipa::path(delete, path = "/api/v1/apps/{app}/tables/{table}/records/{id}", tag = "records",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key"), ("id" = String, Path, description = "Record id")),
    security(("bearer" = ["records:write"]), ("session" = ["records:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_record(
    State(state): State<AppState>,
    auth: Authed<scopes::RecordsWrite>,
    Path((app, table, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = state.store().tenant(auth.principal.org_id);
    let schema = tenant.table_schema(&app, &table).await?;
    let id: RecordId = path_id(&id, "record")?;
    let access = Access::load(&tenant, &auth.principal.actor, &schema).await?;
    let context = records::filter_context(&state, &tenant.organization().await?);
    let guard = access.guard(RecordAction::Delete, &schema, &context)?;
    tenant
        .delete_records_guarded(&auth.write_context(), &schema, &[id], &guard)
        .await
        .map_err(|error| record_problems(error, &schema, false))?;
    Ok(StatusCode::NO_CONTENT)
}
