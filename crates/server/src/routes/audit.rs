//! `/api/v1/audit`: who changed what, newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenon_model::{AuditEntry, TargetKind};
use tenon_store::AuditFilter;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, PageParams, Paged};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: AuditActor,
    /// `<target_type>.<what happened>`, e.g. `member.updated`, `token.revoked`.
    #[schema(example = "member.updated")]
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// The object before the change (`null` for creations); secrets never appear.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The object after the change (`null` for deletions).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `member`, `token`, `app`, `system`, `flow` or `share` (a visitor through a signed record link).
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

impl From<AuditEntry> for AuditEntryOut {
    fn from(entry: AuditEntry) -> Self {
        AuditEntryOut {
            id: entry.id.to_string(),
            at: entry.at,
            actor: AuditActor {
                kind: entry.actor_kind,
                id: entry.actor_id,
                name: entry.actor_name,
            },
            action: entry.action,
            target_type: entry.target_kind,
            target_id: entry.target_id,
            before: entry.before,
            after: entry.after,
            request_id: entry.request_id,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// One of `organization`, `member`, `department`, `token`, `installation`, `session`, `app`, `table`,
    /// `field`, `record`, `attachment`, `view`, `ledger_book`, `ledger_account`, `voucher`, `subscription`,
    /// `role`, `process`, `approval`, `flow`, `flow_run`, `approval_delegation`, `dashboard`, `share`,
    /// `connection`.
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Only entries by this actor: the `actor.id` of the entries (a member's, token's or app's id).
    pub actor_id: Option<String>,
    /// Only entries at or after this instant (RFC 3339, e.g. `2026-12-01T00:00:00+08:00`).
    pub since: Option<String>,
    /// Only entries before this instant (RFC 3339).
    pub until: Option<String>,
}

/// An RFC 3339 instant from the query, or a `bad_query` naming the parameter.
fn instant(raw: Option<&str>, name: &'static str) -> ApiResult<Option<DateTime<Utc>>> {
    raw.map(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::bad_query(
                    tenon_model::Reason::format("date_time", "must be an RFC 3339 date-time")
                        .at(name),
                )
            })
    })
    .transpose()
}

/// The audit log, newest entry first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(AuditListParams, PageParams),
    security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, body = Paged<AuditEntryOut>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn list_audit(
    State(state): State<AppState>,
    auth: Authed<scopes::Admin>,
    ApiQuery(params): ApiQuery<AuditListParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<AuditEntryOut>>> {
    let target_kind = match params.target_type.as_deref() {
        None => None,
        Some(raw) => Some(TargetKind::parse(raw).ok_or_else(|| {
            let kinds = TargetKind::ALL.map(TargetKind::as_str);
            ApiError::bad_query(
                tenon_model::Reason::not_one_of(
                    &kinds,
                    format!("must be one of {}", kinds.join(", ")),
                )
                .at("target_type"),
            )
        })?),
    };
    let filter = AuditFilter {
        target_kind,
        target_id: params.target_id,
        actor_id: params.actor_id,
        since: instant(params.since.as_deref(), "since")?,
        until: instant(params.until.as_deref(), "until")?,
    };
    let entries = state
        .store()
        .tenant(auth.principal.org_id)
        .list_audit(&filter, page.to_request()?)
        .await?;
    Ok(axum::Json(Paged::from_page(entries, AuditEntryOut::from)))
}
