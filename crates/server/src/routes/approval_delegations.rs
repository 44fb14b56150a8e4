//! `/api/v1/approval-delegations`: standing delegations (代理审批). A member names ahead of time who gets
//! their approval tasks while they are away — every process or some, from `starts_at` (default now) until
//! `ends_at` (open-ended without it). A session or personal token sets its own member's; an organization
//! token or a credential holding `admin` names `from`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::{Checker, DetailCode, MemberId, Reason, Scope};
use tenon_store::approvals::{ApprovalDelegation, NewDelegation};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authed, Authenticated, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::routes::approvals::{acting, member_id};
use crate::state::AppState;

/// A delegation.
#[derive(Debug, Serialize, ToSchema)]
pub struct DelegationOut {
    pub id: String,
    /// The member whose tasks are handed on.
    pub from: String,
    /// The member who receives them.
    pub to: String,
    /// Process codes it covers; `null`: every process.
    pub processes: Option<Vec<String>>,
    pub starts_at: DateTime<Utc>,
    /// `null`: until deleted.
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DelegationList {
    pub items: Vec<DelegationOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationCreate {
    /// The delegating member: the caller's own by default; another member's needs `admin`.
    pub from: Option<String>,
    /// The member who receives the tasks.
    pub to: String,
    /// Process codes (at most 200); leave out for every process.
    pub processes: Option<Vec<String>>,
    /// Default: now.
    pub starts_at: Option<DateTime<Utc>>,
    /// Leave out for a delegation that lasts until deleted.
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DelegationListParams {
    /// `me` (the caller's member) or a member id: delegations of this member.
    pub from: Option<String>,
    /// `me` or a member id: delegations to this member.
    pub to: Option<String>,
}

impl From<ApprovalDelegation> for DelegationOut {
    fn from(delegation: ApprovalDelegation) -> Self {
        DelegationOut {
            id: delegation.id.to_string(),
            from: delegation.from.to_string(),
            to: delegation.to.to_string(),
            processes: delegation.processes,
            starts_at: delegation.starts_at,
            ends_at: delegation.ends_at,
            created_at: delegation.created_at,
        }
    }
}

/// The caller's own member, or `None` for a credential acting for nobody.
fn own_member(auth: &Authenticated) -> ApiResult<Option<MemberId>> {
    Ok(acting(auth, None)?.member)
}

fn holds_admin(auth: &Authenticated) -> bool {
    auth.principal.scopes.grants(Scope::Admin)
}

/// `me` or a member id, in a query.
fn query_member(
    auth: &Authenticated,
    field: &str,
    raw: Option<&str>,
) -> ApiResult<Option<MemberId>> {
    match raw {
        None => Ok(None),
        Some("me") => own_member(auth)?.map(Some).ok_or_else(|| {
            ApiError::bad_query(
                Reason::new(
                    DetailCode::NotAllowed,
                    "the credential acts for no member; name a member id",
                )
                .at(field),
            )
        }),
        Some(raw) => raw.parse::<MemberId>().map(Some).map_err(|_| {
            ApiError::bad_query(Reason::format("id", "not `me` or a member id").at(field))
        }),
    }
}

/// List delegations, oldest first.
#[utoipa::path(get, path = "/api/v1/approval-delegations", tag = "approvals",
    params(DelegationListParams),
    security(("bearer" = ["approvals:read"]), ("session" = ["approvals:read"])),
    responses((status = 200, body = DelegationList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_delegations(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    ApiQuery(params): ApiQuery<DelegationListParams>,
) -> ApiResult<axum::Json<DelegationList>> {
    let from = query_member(&auth, "from", params.from.as_deref())?;
    let to = query_member(&auth, "to", params.to.as_deref())?;
    let delegations = state
        .store()
        .tenant(auth.principal.org_id)
        .list_delegations(from, to)
        .await?;
    Ok(axum::Json(DelegationList {
        items: delegations.into_iter().map(DelegationOut::from).collect(),
    }))
}

/// Create a standing delegation: from now (or `starts_at`) until `ends_at`, every task of the covered
/// processes that would start for `from` starts for `to` (with an automatic `redirect_task` record).
#[utoipa::path(post, path = "/api/v1/approval-delegations", tag = "approvals", request_body = DelegationCreate,
    security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
    responses((status = 201, body = DelegationOut), (status = 400, body = ErrorBody),
        (status = 403, description = "Another member's delegation without `admin`", body = ErrorBody),
        (status = 409, description = "`delegation_overlap`: another delegation of the member covers part of the time and processes", body = ErrorBody),
        (status = 422, description = "Unknown or inactive members, unknown processes, times out of order; nothing was written", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_delegation(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    ApiJson(body): ApiJson<DelegationCreate>,
) -> ApiResult<(StatusCode, axum::Json<DelegationOut>)> {
    let mut check = Checker::default();
    let own = own_member(&auth)?;
    let from = match body.from.as_deref() {
        Some(raw) => member_id(&mut check, "from", raw),
        None if own.is_none() => {
            check.push(
                "from",
                DetailCode::Required,
                "the credential acts for no member; name from",
            );
            None
        }
        None => own,
    };
    let to = member_id(&mut check, "to", &body.to);
    let (Some(from), Some(to)) = (from, to) else {
        return Err(check.into_invalid().into());
    };
    check.finish()?;
    if Some(from) != own && !holds_admin(&auth) {
        return Err(ApiError::new(
            tenon_model::ErrorCode::InsufficientScope,
            "setting another member's delegation needs the scope admin",
        )
        .with("scope", Scope::Admin.as_str()));
    }
    let created = state
        .store()
        .tenant(auth.principal.org_id)
        .create_delegation(
            &auth.write_context(),
            NewDelegation {
                from,
                to,
                processes: body.processes,
                starts_at: body.starts_at,
                ends_at: body.ends_at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// Get a delegation.
#[utoipa::path(get, path = "/api/v1/approval-delegations/{id}", tag = "approvals",
    params(("id" = String, Path, description = "Delegation id")),
    security(("bearer" = ["approvals:read"]), ("session" = ["approvals:read"])),
    responses((status = 200, body = DelegationOut), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_delegation(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DelegationOut>> {
    let id: Uuid = path_id(&id, "delegation")?;
    let delegation = state
        .store()
        .tenant(auth.principal.org_id)
        .delegation(id)
        .await?;
    Ok(axum::Json(delegation.into()))
}

/// End a delegation now by deleting it. Tasks it already handed on stay with the delegate. Without
/// `admin`, only the delegating member's own (another's is 404).
#[utoipa::path(delete, path = "/api/v1/approval-delegations/{id}", tag = "approvals",
    params(("id" = String, Path, description = "Delegation id")),
    security(("bearer" = ["approvals:write"]), ("session" = ["approvals:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_delegation(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: Uuid = path_id(&id, "delegation")?;
    let only_from = if holds_admin(&auth) {
        None
    } else {
        Some(own_member(&auth)?.ok_or_else(|| ApiError::not_found("delegation"))?)
    };
    state
        .store()
        .tenant(auth.principal.org_id)
        .delete_delegation(&auth.write_context(), id, only_from)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
