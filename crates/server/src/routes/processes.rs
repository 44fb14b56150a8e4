//! `/api/v1/processes`: approval processes — a draft as written, published versions that instances keep.
//! The body is a process definition as in `tenon.app/v1` files (`processes:`), plus `app` (the app whose
//! table it runs on).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_store::approvals::{ProcessVersion, StoredProcess};
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, OptionalJson};
use crate::state::AppState;

/// A process definition (see docs/approvals.md): `{"app", "code", "name", "table", "initiator"?,
/// "record_status"?, "settings"?, "cc"?, "nodes": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct ProcessDefinition(pub Value);

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessOut {
    pub id: String,
    #[schema(example = "DUTY_APPEAL")]
    pub code: String,
    pub name: String,
    pub app_id: String,
    pub table_id: String,
    /// The definition as last written.
    #[schema(value_type = Object)]
    pub draft: Value,
    /// The last published version; `null` before the first publish.
    pub published_version: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredProcess> for ProcessOut {
    fn from(process: StoredProcess) -> Self {
        ProcessOut {
            id: process.id.to_string(),
            code: process.code,
            name: process.name,
            app_id: process.app_id.to_string(),
            table_id: process.table_id.to_string(),
            draft: process.draft,
            published_version: (process.published_version > 0).then_some(process.published_version),
            created_at: process.created_at,
            updated_at: process.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessVersionOut {
    pub version: i32,
    #[schema(value_type = Object)]
    pub definition: Value,
    pub published_at: DateTime<Utc>,
}

impl From<ProcessVersion> for ProcessVersionOut {
    fn from(version: ProcessVersion) -> Self {
        ProcessVersionOut {
            version: version.version,
            definition: version.definition,
            published_at: version.published_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessList {
    pub items: Vec<ProcessOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessVersionList {
    pub items: Vec<ProcessVersionOut>,
}

/// Create a process with its draft (publish it to start instances).
#[utoipa::path(post, path = "/api/v1/processes", tag = "approvals", request_body = ProcessDefinition,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 201, body = ProcessOut), (status = 400, body = ErrorBody),
        (status = 409, description = "A process with this code exists", body = ErrorBody),
        (status = 422, description = "Every problem of the definition, at its path", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_process(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, axum::Json<ProcessOut>)> {
    let process = state
        .store()
        .tenant(auth.principal.org_id)
        .create_process(&auth.write_context(), body)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(process.into())))
}

/// List processes, by code.
#[utoipa::path(get, path = "/api/v1/processes", tag = "approvals",
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = ProcessList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_processes(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
) -> ApiResult<axum::Json<ProcessList>> {
    let processes = state
        .store()
        .tenant(auth.principal.org_id)
        .list_processes()
        .await?;
    Ok(axum::Json(ProcessList {
        items: processes.into_iter().map(ProcessOut::from).collect(),
    }))
}

/// Get a process with its draft.
#[utoipa::path(get, path = "/api/v1/processes/{code}", tag = "approvals",
    params(("code" = String, Path, description = "Process code")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = ProcessOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_process(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<ProcessOut>> {
    let process = state
        .store()
        .tenant(auth.principal.org_id)
        .process(&code)
        .await?;
    Ok(axum::Json(process.into()))
}

/// Replace a process's draft.
#[utoipa::path(put, path = "/api/v1/processes/{code}/draft", tag = "approvals",
    params(("code" = String, Path, description = "Process code")), request_body = ProcessDefinition,
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, body = ProcessOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "Every problem of the definition, at its path", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn put_draft(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<axum::Json<ProcessOut>> {
    let process = state
        .store()
        .tenant(auth.principal.org_id)
        .put_process_draft(&auth.write_context(), &code, body)
        .await?;
    Ok(axum::Json(process.into()))
}

/// Publish the draft as the next version (checked against the table, roles and members).
#[utoipa::path(post, path = "/api/v1/processes/{code}/publish", tag = "approvals",
    params(("code" = String, Path, description = "Process code")),
    security(("bearer" = ["apps:write"]), ("session" = ["apps:write"])),
    responses((status = 200, body = ProcessOut), (status = 404, body = ErrorBody),
        (status = 422, description = "A cycle, an unreachable node, no default, a failing condition, an unknown field, role or member, a status that is not a choice — each at its path (`nodes[1].branches[0].when`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn publish_process(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<ProcessOut>> {
    let process = state
        .store()
        .tenant(auth.principal.org_id)
        .publish_process(&auth.write_context(), &code)
        .await?;
    Ok(axum::Json(process.into()))
}

/// The published versions of a process, oldest first.
#[utoipa::path(get, path = "/api/v1/processes/{code}/versions", tag = "approvals",
    params(("code" = String, Path, description = "Process code")),
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = ProcessVersionList), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_versions(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<ProcessVersionList>> {
    let versions = state
        .store()
        .tenant(auth.principal.org_id)
        .process_versions(&code)
        .await?;
    Ok(axum::Json(ProcessVersionList {
        items: versions.into_iter().map(ProcessVersionOut::from).collect(),
    }))
}

/// What a forecast is for: a record (or cells not saved) and an initiator.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastIn {
    pub record: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, Value>>,
    pub initiator: Option<String>,
    pub dept: Option<String>,
    pub selected_approvers: Option<std::collections::BTreeMap<String, Vec<String>>>,
    pub actioner: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastNodeOut {
    pub node: String,
    /// `approval`, `handle`, `cc`, `condition` or `end`.
    #[serde(rename = "type")]
    pub node_type: String,
    /// `or`, `and`, `one_by_one`, or `{"vote": percent}`; `null` for nodes without approvers.
    #[schema(value_type = Option<Object>)]
    pub method: Option<Value>,
    /// Who would be asked, in order: for an approver whose standing delegation covers the process, the
    /// delegate (listed in `delegations`).
    pub approvers: Vec<String>,
    /// Each approver whose task would start for their delegate: `{"from": approver, "to": delegate}`.
    pub delegations: Vec<ForecastDelegationOut>,
}

/// An approver of a forecast node replaced by their delegate (代理审批).
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastDelegationOut {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastOut {
    /// The nodes an instance would visit if every approver agreed, in order, with who would be asked.
    pub nodes: Vec<ForecastNodeOut>,
}

/// The path an instance of the published version would take for a record and an initiator if every
/// approver agreed.
#[utoipa::path(post, path = "/api/v1/processes/{code}/forecast", tag = "approvals",
    params(("code" = String, Path, description = "Process code")), request_body = ForecastIn,
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = ForecastOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "Unknown record, initiator or approvers (named by field), or no published version", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn forecast(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path(code): Path<String>,
    OptionalJson(body): OptionalJson<ForecastIn>,
) -> ApiResult<axum::Json<ForecastOut>> {
    use tenon_model::{Checker, DepartmentId, MemberId, Reason, RecordId};
    let input = body.unwrap_or_default();
    let by = crate::routes::approvals::acting(&auth, input.actioner.as_deref())?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let mut check = Checker::default();
    let id = |check: &mut Checker, field: &str, raw: Option<&str>| -> Option<uuid::Uuid> {
        raw.and_then(|raw| {
            check.field(
                field,
                raw.parse::<uuid::Uuid>()
                    .map_err(|_| Reason::format("id", "not an id")),
            )
        })
    };
    let record = id(&mut check, "record", input.record.as_deref()).map(RecordId::from_uuid);
    let initiator =
        id(&mut check, "initiator", input.initiator.as_deref()).map(MemberId::from_uuid);
    let department = id(&mut check, "dept", input.dept.as_deref()).map(DepartmentId::from_uuid);
    let mut selected = std::collections::BTreeMap::new();
    for (node, members) in input.selected_approvers.unwrap_or_default() {
        let ids = members
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                id(
                    &mut check,
                    &format!("selected_approvers.{node}[{i}]"),
                    Some(raw),
                )
                .map(MemberId::from_uuid)
            })
            .collect();
        selected.insert(node, ids);
    }
    let mut fields = None;
    if let Some(cells) = &input.fields {
        let process = tenant.process(&code).await?;
        let schema = tenant.table_schema_by_id(process.table_id).await?;
        let parse = crate::routes::records_io::parse_context(&state, auth.principal.org_id).await?;
        match tenon_model::apps::input::parse_record_fields(
            &schema,
            cells,
            &parse,
            tenon_model::apps::input::WriteMode::Create,
            "fields",
        ) {
            Ok(parsed) => fields = Some(tenon_model::apps::input::present(parsed)),
            Err(problems) => problems.into_iter().for_each(|problem| check.add(problem)),
        }
    }
    check.finish()?;
    let nodes = tenant
        .forecast_approval(
            &code,
            tenon_store::approvals::ForecastRequest {
                record,
                fields,
                initiator,
                department,
                selected,
                by,
            },
        )
        .await
        .map_err(crate::routes::approvals::command_error)?;
    Ok(axum::Json(ForecastOut {
        nodes: nodes
            .into_iter()
            .map(|node| ForecastNodeOut {
                node: node.node,
                node_type: node.node_type.to_owned(),
                method: node.method.map(|method| method.to_json()),
                approvers: node.approvers.iter().map(ToString::to_string).collect(),
                delegations: node
                    .delegated
                    .iter()
                    .map(|(from, to)| ForecastDelegationOut {
                        from: from.to_string(),
                        to: to.to_string(),
                    })
                    .collect(),
            })
            .collect(),
    }))
}
