//! Webhook subscriptions of one organization: create, list, change, delete, rotate the secret, the
//! delivery log, and manual redelivery.
//!
//! A subscription belongs to the organization, or to one installed app (`installation_id`), which alone
//! may see it. Its signing secret is stored in plain text because signing needs it (a digest cannot
//! sign); it never appears in audit snapshots, lists or logs, only in the answers to create and rotate.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::subscriptions::{Delivery, DeliveryAttempt, DeliveryStatus, Subscription};
use tenon_model::{
    Action, AppId, DeliveryId, EventId, InstallationId, Page, PageRequest, SubscriptionId, TableId,
    TargetKind,
};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::exec::{Arg, Conn, Sql};
use crate::sql::SqlText;
use crate::{Result, StoreError, Tenant, WriteContext};

/// Events one redelivery request may queue at most.
pub const REDELIVER_EVENTS_MAX: u32 = 10_000;
/// Attempts shown per delivery in the delivery log (the newest).
const ATTEMPTS_SHOWN_MAX: usize = 20;

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub installation_id: Option<InstallationId>,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub app_id: Option<AppId>,
    pub table_id: Option<TableId>,
    pub secret: String,
    /// A DingTalk-format subscription's callback settings; `None` for a Standard Webhooks one.
    pub dingtalk: Option<DingTalkCallback>,
}

/// A DingTalk-format subscription's callback settings (issue #21 item 6).
#[derive(Debug, Clone)]
pub struct DingTalkCallback {
    /// The DingTalk event types asked for (`user_add_org`…).
    pub event_types: Vec<String>,
    /// The token signatures are made with.
    pub token: String,
    /// The EncodingAESKey (43 characters).
    pub aes_key: String,
}

/// A change to a subscription; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub app_id: Option<Option<AppId>>,
    pub table_id: Option<Option<TableId>>,
    /// `true` re-enables a disabled subscription (and forgets its failures).
    pub enabled: Option<bool>,
}

/// Who asks: an installed app sees only its own subscriptions; anyone else sees all of the organization's.
#[derive(Debug, Clone, Copy)]
pub enum SubscriptionOwner {
    Organization,
    Installation(InstallationId),
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    pub id: Uuid,
    pub installation_id: Option<Uuid>,
    pub url: String,
    pub description: Option<String>,
    pub event_types: sqlx::types::Json<Vec<String>>,
    pub app_id: Option<Uuid>,
    pub table_id: Option<Uuid>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub dingtalk_event_types: Option<sqlx::types::Json<Vec<String>>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRow {
    pub(crate) fn into_model(self) -> Subscription {
        Subscription {
            id: SubscriptionId::from_uuid(self.id),
            installation_id: self.installation_id.map(InstallationId::from_uuid),
            url: self.url,
            description: self.description,
            event_types: self.event_types.0,
            app_id: self.app_id.map(AppId::from_uuid),
            table_id: self.table_id.map(TableId::from_uuid),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since,
            dingtalk_event_types: self.dingtalk_event_types.map(|types| types.0),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

macro_rules! subscription_columns {
    () => {
        "id, installation_id, url, description, event_types, app_id, table_id, enabled, \
         disabled_reason, failing_since, dingtalk_event_types, created_at, updated_at"
    };
}
pub(crate) use subscription_columns;

fn snapshot(subscription: &Subscription) -> Value {
    json!({
        "id": subscription.id.to_string(),
        "installation_id": subscription.installation_id.map(|id| id.to_string()),
        "url": subscription.url,
        "description": subscription.description,
        "event_types": subscription.event_types,
        "dingtalk_event_types": subscription.dingtalk_event_types,
        "app_id": subscription.app_id.map(|id| id.to_string()),
        "table_id": subscription.table_id.map(|id| id.to_string()),
        "enabled": subscription.enabled,
    })
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    subscription_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    delivery_id: Uuid,
    at: DateTime<Utc>,
    status_code: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
    response_excerpt: Option<String>,
}

impl Tenant<'_> {
    pub async fn create_subscription(
        &self,
        ctx: &WriteContext,
        new: NewSubscription,
    ) -> Result<Subscription> {
        let now = self.store.now();
        let id = SubscriptionId::new();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        // Starts after the last committed event: a subscription hears what happens from now on (older
        // events can be redelivered on request).
        let (cursor,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT COALESCE(MAX(last_seq), 0) FROM event_counters WHERE organization_id = $1",
                )
                .bind(self.org_id),
            )
            .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO subscriptions (organization_id, id, installation_id, url, description, \
                 event_types, app_id, table_id, secret, enabled, disabled_reason, failing_since, \
                 cursor_seq, created_at, updated_at, format, dingtalk_event_types, dingtalk_token, \
                 dingtalk_aes_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, $11, $12, $12, $13, $14, \
                 $15, $16)",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(new.installation_id)
            .bind(new.url)
            .bind(new.description)
            .bind(json!(new.event_types))
            .bind(new.app_id.map(|id| *id.as_uuid()))
            .bind(new.table_id.map(|id| *id.as_uuid()))
            .bind(new.secret)
            .bind(true)
            .bind(cursor)
            .bind(now)
            .bind(if new.dingtalk.is_some() {
                "dingtalk"
            } else {
                "native"
            })
            .bind(new.dingtalk.as_ref().map(|d| json!(d.event_types)))
            .bind(new.dingtalk.as_ref().map(|d| d.token.clone()))
            .bind(new.dingtalk.map(|d| d.aes_key)),
        )
        .await?;
        let subscription = self.load_subscription(&mut conn, id).await?;
        self.audit_subscription(&mut conn, ctx, Action::Created, None, Some(&subscription))
            .await?;
        tx.commit().await?;
        Ok(subscription)
    }

    async fn load_subscription(
        &self,
        conn: &mut Conn<'_>,
        id: SubscriptionId,
    ) -> Result<Subscription> {
        let row: Option<SubscriptionRow> = conn
            .fetch_optional(
                Sql::new(concat!(
                    "SELECT ",
                    subscription_columns!(),
                    " FROM subscriptions WHERE organization_id = $1 AND id = $2"
                ))
                .bind(self.org_id)
                .bind(id),
            )
            .await?;
        row.map(SubscriptionRow::into_model)
            .ok_or_else(|| StoreError::not_found("subscription"))
    }

    /// The subscription, if `owner` may see it.
    pub async fn subscription(
        &self,
        owner: SubscriptionOwner,
        id: SubscriptionId,
    ) -> Result<Subscription> {
        let mut pooled = self.store.pools.read().await?;
        let subscription = self.load_subscription(&mut pooled.conn(), id).await?;
        visible(owner, subscription)
    }

    pub async fn list_subscriptions(
        &self,
        owner: SubscriptionOwner,
        page: PageRequest<SubscriptionId>,
    ) -> Result<Page<Subscription, SubscriptionId>> {
        let installation = match owner {
            SubscriptionOwner::Organization => None,
            SubscriptionOwner::Installation(id) => Some(*id.as_uuid()),
        };
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<SubscriptionRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(concat!(
                    "SELECT ",
                    subscription_columns!(),
                    " FROM subscriptions WHERE organization_id = $1 AND id > $2 \
                     AND ($3 IS NULL OR installation_id = $3) ORDER BY id LIMIT $4"
                ))
                .bind(self.org_id)
                .bind(page.after.map_or(Uuid::nil(), |id| *id.as_uuid()))
                .bind(installation)
                .bind(page.size() + 1),
            )
            .await?;
        let items = rows.into_iter().map(SubscriptionRow::into_model).collect();
        Ok(Page::from_overfetch(
            items,
            page.size(),
            |s: &Subscription| s.id,
        ))
    }

    pub async fn update_subscription(
        &self,
        ctx: &WriteContext,
        owner: SubscriptionOwner,
        id: SubscriptionId,
        patch: SubscriptionPatch,
    ) -> Result<Subscription> {
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = visible(owner, self.load_subscription(&mut conn, id).await?)?;
        let mut after = before.clone();
        if let Some(url) = patch.url {
            after.url = url;
        }
        if let Some(description) = patch.description {
            after.description = description;
        }
        if let Some(types) = patch.event_types {
            after.event_types = types;
        }
        if let Some(app) = patch.app_id {
            after.app_id = app;
        }
        if let Some(table) = patch.table_id {
            after.table_id = table;
        }
        if let Some(enabled) = patch.enabled {
            if enabled && !before.enabled {
                after.failing_since = None;
                after.disabled_reason = None;
            }
            if !enabled {
                after.disabled_reason = Some("disabled by request".to_owned());
            }
            after.enabled = enabled;
        }
        conn.execute(
            Sql::new(
                "UPDATE subscriptions SET url = $3, description = $4, event_types = $5, app_id = $6, \
                 table_id = $7, enabled = $8, disabled_reason = $9, failing_since = $10, updated_at = $11 \
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(after.url.clone())
            .bind(after.description.clone())
            .bind(json!(after.event_types))
            .bind(after.app_id.map(|id| *id.as_uuid()))
            .bind(after.table_id.map(|id| *id.as_uuid()))
            .bind(after.enabled)
            .bind(after.disabled_reason.clone())
            .bind(after.failing_since)
            .bind(now),
        )
        .await?;
        if after.enabled && !before.enabled {
            // It delivers again from its cursor.
            self.store.made_work(&conn, crate::work::DELIVERIES);
        }
        let after = self.load_subscription(&mut conn, id).await?;
        self.audit_subscription(&mut conn, ctx, Action::Updated, Some(&before), Some(&after))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the subscription with its deliveries and their log.
    pub async fn delete_subscription(
        &self,
        ctx: &WriteContext,
        owner: SubscriptionOwner,
        id: SubscriptionId,
    ) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let before = visible(owner, self.load_subscription(&mut conn, id).await?)?;
        conn.execute(
            Sql::new("DELETE FROM subscriptions WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id),
        )
        .await?;
        self.audit_subscription(&mut conn, ctx, Action::Deleted, Some(&before), None)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the signing secret; deliveries from now on are signed with the new one.
    pub async fn rotate_subscription_secret(
        &self,
        ctx: &WriteContext,
        owner: SubscriptionOwner,
        id: SubscriptionId,
        secret: String,
    ) -> Result<Subscription> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let subscription = visible(owner, self.load_subscription(&mut conn, id).await?)?;
        conn.execute(
            Sql::new(
                "UPDATE subscriptions SET secret = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
            )
            .bind(self.org_id)
            .bind(id)
            .bind(secret)
            .bind(self.store.now()),
        )
        .await?;
        self.audit_subscription(
            &mut conn,
            ctx,
            Action::SecretChanged,
            Some(&subscription),
            Some(&subscription),
        )
        .await?;
        tx.commit().await?;
        Ok(subscription)
    }

    /// The signing secret, for a test ping.
    pub async fn subscription_secret(
        &self,
        owner: SubscriptionOwner,
        id: SubscriptionId,
    ) -> Result<(Subscription, String)> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let subscription = visible(owner, self.load_subscription(&mut conn, id).await?)?;
        let (secret,): (String,) = conn
            .fetch_one(
                Sql::new("SELECT secret FROM subscriptions WHERE organization_id = $1 AND id = $2")
                    .bind(self.org_id)
                    .bind(id),
            )
            .await?;
        Ok((subscription, secret))
    }

    /// The delivery log, newest first, each delivery with its latest attempts.
    pub async fn list_deliveries(
        &self,
        owner: SubscriptionOwner,
        id: SubscriptionId,
        status: Option<DeliveryStatus>,
        page: PageRequest<DeliveryId>,
    ) -> Result<Page<Delivery, DeliveryId>> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        visible(owner, self.load_subscription(&mut conn, id).await?)?;
        let rows: Vec<DeliveryRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT d.id, d.subscription_id, e.id AS event_id, e.type AS event_type, d.status, \
                     CAST(d.attempts AS BIGINT) AS attempts, d.next_attempt_at, d.created_at, d.finished_at \
                     FROM deliveries d JOIN events e \
                       ON e.organization_id = d.organization_id AND e.seq = d.event_seq \
                     WHERE d.organization_id = $1 AND d.subscription_id = $2 AND ($3 IS NULL OR d.id < $3) \
                       AND ($4 IS NULL OR d.status = $4) \
                     ORDER BY d.id DESC LIMIT $5",
                )
                .bind(self.org_id)
                .bind(id)
                .bind(page.after.map(|id| *id.as_uuid()))
                .bind(status.map(DeliveryStatus::as_str))
                .bind(page.size() + 1),
            )
            .await?;
        let mut sql = SqlText::new(conn.backend());
        sql.push(
            "SELECT delivery_id, at, CAST(status_code AS BIGINT) AS status_code, latency_ms, error, \
             response_excerpt FROM delivery_attempts WHERE organization_id = ",
        )
        .arg(self.org_id)
        .push(" AND delivery_id IN ")
        .list(
            rows.iter()
                .map(|row| Arg::Uuid(Some(row.id)))
                .chain(std::iter::once(Arg::Uuid(Some(Uuid::nil())))),
        )
        .push(" ORDER BY id DESC");
        let attempts: Vec<AttemptRow> = conn.fetch_all(sql.into_sql()).await?;
        let deliveries = rows
            .into_iter()
            .map(|row| {
                let status = DeliveryStatus::parse(&row.status).unwrap_or(DeliveryStatus::Pending);
                let mut attempt_log: Vec<DeliveryAttempt> = attempts
                    .iter()
                    .filter(|attempt| attempt.delivery_id == row.id)
                    .take(ATTEMPTS_SHOWN_MAX)
                    .map(|attempt| DeliveryAttempt {
                        at: attempt.at,
                        status_code: attempt.status_code,
                        latency_ms: attempt.latency_ms,
                        error: attempt.error.clone(),
                        response_excerpt: attempt.response_excerpt.clone(),
                    })
                    .collect();
                attempt_log.reverse();
                Delivery {
                    id: DeliveryId::from_uuid(row.id),
                    subscription_id: SubscriptionId::from_uuid(row.subscription_id),
                    event_id: EventId::from_uuid(row.event_id),
                    event_type: row.event_type,
                    status,
                    attempts: row.attempts,
                    next_attempt_at: (status == DeliveryStatus::Pending)
                        .then_some(row.next_attempt_at),
                    created_at: row.created_at,
                    finished_at: row.finished_at,
                    attempt_log,
                }
            })
            .collect();
        Ok(Page::from_overfetch(
            deliveries,
            page.size(),
            |d: &Delivery| d.id,
        ))
    }

    /// Queues the events from `from` to `to` (inclusive; `None`: only `from`) again for the subscription,
    /// those of its types, as new deliveries due now. Returns how many were queued.
    pub async fn redeliver(
        &self,
        ctx: &WriteContext,
        owner: SubscriptionOwner,
        id: SubscriptionId,
        from: EventId,
        to: Option<EventId>,
        types: &[&str],
    ) -> Result<u64> {
        let now = self.store.now();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let subscription = visible(owner, self.load_subscription(&mut conn, id).await?)?;
        let seq_of = |event: EventId| {
            Sql::new("SELECT seq FROM events WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(event)
        };
        // An id the retention deleted is `EventExpired`, one that never existed `NotFound`.
        let from_seq = match conn.fetch_optional::<(i64,)>(seq_of(from)).await? {
            Some((seq,)) => seq,
            None => return Err(self.missing_event(&mut conn, from).await?),
        };
        let to_seq = match to {
            None => from_seq,
            Some(to) => match conn.fetch_optional::<(i64,)>(seq_of(to)).await? {
                Some((seq,)) => seq,
                None => return Err(self.missing_event(&mut conn, to).await?),
            },
        };
        if to_seq < from_seq {
            return Err(StoreError::Invalid(
                tenon_model::FieldError::new(
                    "to",
                    tenon_model::DetailCode::BeforeOther,
                    "must not be before from",
                )
                .with("other", "from")
                .into(),
            ));
        }
        let events = self
            .events_after_in(&mut conn, from_seq - 1, types, REDELIVER_EVENTS_MAX + 1)
            .await?;
        let events: Vec<_> = events
            .into_iter()
            .filter(|event| event.seq <= to_seq)
            .filter(|event| crate::deliveries::passes_filter(&subscription, event))
            .collect();
        if events.len() > REDELIVER_EVENTS_MAX as usize {
            return Err(StoreError::Invalid(
                tenon_model::Reason::too_many(
                    REDELIVER_EVENTS_MAX as usize,
                    format!("a redelivery queues at most {REDELIVER_EVENTS_MAX} events"),
                )
                .at("to")
                .into(),
            ));
        }
        let queued =
            crate::deliveries::queue(&mut conn, self.org_id, id, &events, now, None).await?;
        self.store.made_work(&conn, crate::work::DELIVERIES);
        audit::record(
            &mut conn,
            self,
            Change {
                target_kind: TargetKind::Subscription,
                target_id: id.to_string(),
                action: Action::Updated,
                before: None,
                after: Some(json!({"redelivered": queued, "from": from.to_string(), "to": to.map(|t| t.to_string())})),
                ctx,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn audit_subscription(
        &self,
        conn: &mut Conn<'_>,
        ctx: &WriteContext,
        action: Action,
        before: Option<&Subscription>,
        after: Option<&Subscription>,
    ) -> Result<()> {
        let id = after
            .or(before)
            .map(|s| s.id.to_string())
            .unwrap_or_default();
        audit::record(
            conn,
            self,
            Change {
                target_kind: TargetKind::Subscription,
                target_id: id,
                action,
                before: before.map(snapshot),
                after: after.map(snapshot),
                ctx,
            },
        )
        .await
    }
}

/// An installed app sees only its own subscriptions; another's is "not found".
fn visible(owner: SubscriptionOwner, subscription: Subscription) -> Result<Subscription> {
    match owner {
        SubscriptionOwner::Installation(id) if subscription.installation_id != Some(id) => {
            Err(StoreError::not_found("subscription"))
        }
        _ => Ok(subscription),
    }
}
