//! Webhook triggers: a flow with `trigger: {webhook: {}}` gets a secret slug when first published
//! (`POST /api/v1/hooks/{slug}`), kept across its versions; a signed hook also gets a Standard Webhooks
//! secret (`whsec_…`).
//!
//! A request starts one run, inserted with its trigger key in one transaction: with an `Idempotency-Key`
//! (or a signed request's `webhook-id`) the key is `hook:key:<key>`, so a repeat within
//! [`HOOK_KEY_HOURS`] answers the first run; after that the old run's key is moved aside
//! (`…#<run id>`) and the repeat starts a new run. Without a key every request starts a run.

use base64::Engine;
use chrono::Duration;
use serde_json::{Value, json};
use tenon_flows::compile::CompiledTrigger;
use tenon_flows::definition::Input;
use tenon_model::{FlowId, FlowRunId, OrgId};
use uuid::Uuid;

use super::FlowRun;
use crate::exec::{Conn, Sql};
use crate::{Result, Store, StoreError, Tenant};

/// How long an `Idempotency-Key` of a hook request answers the same run.
pub const HOOK_KEY_HOURS: i64 = 24;

/// A hook as a request finds it by its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub org_id: OrgId,
    pub flow_id: FlowId,
    pub slug: String,
    /// The Standard Webhooks secret of a signed hook.
    pub secret: Option<String>,
}

/// What a hook request started.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRun {
    pub run: FlowRun,
    /// `false` when an earlier request with the same key started it.
    pub created: bool,
    /// The flow asks the request to wait for the run's result.
    pub wait: bool,
}

#[derive(sqlx::FromRow)]
struct HookRow {
    slug: String,
    organization_id: Uuid,
    flow_id: Uuid,
    secret: Option<String>,
}

impl HookRow {
    fn into_hook(self) -> Hook {
        Hook {
            org_id: OrgId::from_uuid(self.organization_id),
            flow_id: FlowId::from_uuid(self.flow_id),
            slug: self.slug,
            secret: self.secret,
        }
    }
}

/// 256 random bits from the thread-local CSPRNG, as 64 hex digits.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

impl Store {
    /// The hook with this slug, in any organization.
    pub async fn find_hook(&self, slug: &str) -> Result<Option<Hook>> {
        let mut pooled = self.pools.read().await?;
        let row: Option<HookRow> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT slug, organization_id, flow_id, secret FROM flow_hooks WHERE slug = $1",
                )
                .bind(slug),
            )
            .await?;
        Ok(row.map(HookRow::into_hook))
    }
}

impl Tenant<'_> {
    /// Gives a webhook flow its slug (and a signed one its secret) if it has none yet; called when a
    /// version is published.
    pub(crate) async fn ensure_hook(
        &self,
        conn: &mut Conn<'_>,
        flow: FlowId,
        trigger: &CompiledTrigger,
    ) -> Result<()> {
        let CompiledTrigger::Webhook { signed, .. } = trigger else {
            return Ok(());
        };
        conn.execute(
            Sql::new(
                "INSERT INTO flow_hooks (slug, organization_id, flow_id, secret, created_at) \
                 VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (organization_id, flow_id) DO NOTHING",
            )
            .bind(random_hex())
            .bind(self.org_id)
            .bind(flow)
            .bind(self.store.now()),
        )
        .await?;
        if *signed {
            conn.execute(
                Sql::new(
                    "UPDATE flow_hooks SET secret = $3 WHERE organization_id = $1 AND flow_id = $2 AND secret IS NULL",
                )
                .bind(self.org_id)
                .bind(flow)
                .bind(new_secret()),
            )
            .await?;
        }
        Ok(())
    }

    /// A flow's hook (slug and secret), if it has a webhook trigger.
    pub async fn flow_hook(&self, flow: FlowId) -> Result<Option<Hook>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<HookRow> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT slug, organization_id, flow_id, secret FROM flow_hooks \
                     WHERE organization_id = $1 AND flow_id = $2",
                )
                .bind(self.org_id)
                .bind(flow),
            )
            .await?;
        Ok(row.map(HookRow::into_hook))
    }

    /// The hooks of the organization's flows.
    pub async fn flow_hooks(&self) -> Result<Vec<Hook>> {
        let mut pooled = self.store.pools.read().await?;
        let rows: Vec<HookRow> = pooled
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT slug, organization_id, flow_id, secret FROM flow_hooks WHERE organization_id = $1",
                )
                .bind(self.org_id),
            )
            .await?;
        Ok(rows.into_iter().map(HookRow::into_hook).collect())
    }

    /// `POST /api/v1/hooks/{slug}`: starts a run of the hook's flow with `payload` (checked against the
    /// webhook's inputs: 422 at `payload.<key>`). With `key`, a repeat within [`HOOK_KEY_HOURS`] answers
    /// the first request's run. A disabled flow, or one whose trigger is no longer a webhook, is 404.
    pub async fn start_hook_run(
        &self,
        hook: &Hook,
        payload: Value,
        key: Option<&str>,
    ) -> Result<HookRun> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let flow = self
            .load_flow(&mut conn, &hook.flow_id.to_string())
            .await?
            .filter(|flow| flow.enabled)
            .ok_or_else(|| StoreError::not_found("hook"))?;
        let compiled = self.flow_version(&mut conn, flow.id, flow.version).await?;
        let CompiledTrigger::Webhook { inputs, wait, .. } = &compiled.trigger else {
            return Err(StoreError::not_found("hook"));
        };
        check_inputs(inputs, &payload)?;
        let now = self.store.now();
        let trigger_key = match key {
            Some(key) => {
                let trigger_key = format!("hook:key:{key}");
                let earlier: Option<(Uuid, chrono::DateTime<chrono::Utc>)> = conn
                    .fetch_optional(
                        Sql::new(
                            "SELECT id, created_at FROM flow_runs \
                             WHERE organization_id = $1 AND flow_id = $2 AND trigger_key = $3",
                        )
                        .bind(self.org_id)
                        .bind(flow.id)
                        .bind(trigger_key.as_str()),
                    )
                    .await?;
                if let Some((id, created_at)) = earlier {
                    if created_at + Duration::hours(HOOK_KEY_HOURS) > now {
                        let run = self
                            .load_run(&mut conn, FlowRunId::from_uuid(id))
                            .await?
                            .ok_or_else(|| StoreError::not_found("flow run"))?;
                        tx.commit().await?;
                        return Ok(HookRun {
                            run,
                            created: false,
                            wait: *wait,
                        });
                    }
                    // The key has expired: the old run keeps it under another name.
                    conn.execute(
                        Sql::new(
                            "UPDATE flow_runs SET trigger_key = $4 \
                             WHERE organization_id = $1 AND flow_id = $2 AND trigger_key = $3",
                        )
                        .bind(self.org_id)
                        .bind(flow.id)
                        .bind(trigger_key.as_str())
                        .bind(format!("{trigger_key}#{id}")),
                    )
                    .await?;
                }
                trigger_key
            }
            None => format!("hook:request:{}", Uuid::now_v7()),
        };
        let request = Uuid::now_v7().to_string();
        let trigger = json!({
            "type": "webhook",
            "payload": payload,
            "idempotency_key": key,
            "request": request,
            "received_at": now,
        });
        let id = self
            .insert_run(&mut conn, flow.id, flow.version, &trigger_key, trigger, 0)
            .await?;
        let run = self
            .load_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("flow run"))?;
        tx.commit().await?;
        // A concurrent request with the same key may have inserted the run first.
        let created = run.trigger["request"] == json!(request);
        Ok(HookRun {
            run,
            created,
            wait: *wait,
        })
    }
}

/// The typed inputs a webhook's body must carry; other keys are kept (templates see them).
fn check_inputs(inputs: &[Input], payload: &Value) -> Result<()> {
    if inputs.is_empty() {
        return Ok(());
    }
    let given = payload.as_object().cloned().unwrap_or_default();
    let declared: serde_json::Map<String, Value> = given
        .into_iter()
        .filter(|(key, _)| inputs.iter().any(|input| &input.key == key))
        .collect();
    if !payload.is_object() {
        return Err(tenon_model::Invalid::one(
            "payload",
            tenon_model::DetailCode::InvalidValue,
            "the body is a JSON object carrying the hook's inputs",
        )
        .into());
    }
    super::runs::check_payload(inputs, Value::Object(declared)).map(|_| ())
}
