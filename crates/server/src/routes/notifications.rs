//! `GET /api/v1/me/notifications`: the caller's inbox — messages flows' `notify` steps (channel `inbox`),
//! approval reminders (催办) and DingTalk work notifications (`topapi/message/corpconversation/asyncsend_v2`)
//! left for them, newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tenon_model::{NotificationId, Page};
use tenon_store::flows::Notification;
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, PageParams, Paged};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: String,
    pub title: Option<String>,
    pub text: String,
    /// Where it came from: a flow's `notify` step `{"flow", "flow_id", "run_id", "step"}`, or an approval
    /// reminder `{"type": "approval.remind", "instance_id", "process", "business_id", "task_ids", "by"}`, or
    /// a DingTalk work notification `{"type": "dingtalk.work_notification", "task_id", "agent_id", "msg"}`.
    #[schema(value_type = Object)]
    pub source: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationOut {
    fn from(n: Notification) -> Self {
        NotificationOut {
            id: n.id.to_string(),
            title: n.title,
            text: n.text,
            source: n.source,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// The caller's inbox, newest first. Only a member (a session or a member's token) has one.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "auth",
    params(PageParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Paged<NotificationOut>), (status = 400, body = ErrorBody),
        (status = 409, description = "The credential acts for no member", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    auth: Authed<scopes::AnyScope>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<Paged<NotificationOut>>> {
    let member = auth.principal.actor.member_id().ok_or_else(|| {
        ApiError::new(
            tenon_model::ErrorCode::Conflict,
            "this credential acts for no member, so it has no inbox",
        )
    })?;
    let page = page.to_request::<NotificationId>()?;
    let items = state
        .store()
        .tenant(auth.principal.org_id)
        .notifications(member, page.after, page.size() + 1)
        .await?;
    let page = Page::from_overfetch(items, page.size(), |n| n.id);
    Ok(axum::Json(Paged::from_page(page, NotificationOut::from)))
}
