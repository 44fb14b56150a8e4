//! Webhook triggers: a flow with `trigger: {webhook: {}}` gets a secret slug when first published
//! (`POST /api/v1/hooks/{slug}`), kept across its versions; a signed hook also gets a Standard Webhooks
//! secret (`whsec_…`), stored sealed with the node's secret key (XChaCha20-Poly1305, as connections'
//! secrets; the organization and the flow are the associated data) as `sealed:<base64>`: the database
//! never holds it in clear. A hook stored in clear before it was sealed still works, and is sealed when
//! its flow is next published.
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

/// How a sealed hook secret starts in the `secret` column.
const SEALED: &str = "sealed:";

fn hook_aad(org: OrgId, flow: FlowId) -> Vec<u8> {
    format!("tenon.hook:{}:{}", org.as_uuid(), flow.as_uuid()).into_bytes()
}

impl Store {
    /// A row as a hook, its secret opened.
    fn open_hook(&self, row: HookRow) -> Result<Hook> {
        let org_id = OrgId::from_uuid(row.organization_id);
        let flow_id = FlowId::from_uuid(row.flow_id);
        let secret = match row.secret {
            Some(stored) if stored.starts_with(SEALED) => {
                let sealed = base64::engine::general_purpose::STANDARD
                    .decode(&stored[SEALED.len()..])
                    .map_err(|_| StoreError::Corrupt("a sealed hook secret".to_owned()))?;
                let key = self.secret_key.as_ref().ok_or_else(|| {
                    StoreError::Config(
                        "this node has no secret key to open a signed hook's secret".to_owned(),
                    )
                })?;
                let plain = key.open(&hook_aad(org_id, flow_id), &sealed)?;
                Some(
                    String::from_utf8(plain)
                        .map_err(|_| StoreError::Corrupt("a hook secret".to_owned()))?,
                )
            }
            other => other,
        };
        Ok(Hook {
            org_id,
            flow_id,
            slug: row.slug,
            secret,
        })
    }

    /// A hook secret sealed for its row.
    fn seal_hook_secret(&self, org: OrgId, flow: FlowId, secret: &str) -> Result<String> {
        let key = self.secret_key.as_ref().ok_or_else(|| {
            StoreError::conflict(
                Some("flows"),
                tenon_model::DetailCode::Conflict,
                "a signed webhook's secret is stored encrypted, and this server has no secret key \
                 (tenon serve --secret-key-file)",
            )
        })?;
        let sealed = key.seal(&hook_aad(org, flow), secret.as_bytes())?;
        Ok(format!(
            "{SEALED}{}",
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
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
        row.map(|row| self.open_hook(row)).transpose()
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
            let (stored,): (Option<String>,) = conn
                .fetch_one(
                    Sql::new(
                        "SELECT secret FROM flow_hooks WHERE organization_id = $1 AND flow_id = $2",
                    )
                    .bind(self.org_id)
                    .bind(flow),
                )
                .await?;
            // A new secret, or one stored in clear before secrets were sealed: seal it (in place).
            let clear = match stored {
                None => Some(new_secret()),
                Some(text) if !text.starts_with(SEALED) => Some(text),
                Some(_) => None,
            };
            if let Some(clear) = clear {
                let sealed = self.store.seal_hook_secret(self.org_id, flow, &clear)?;
                conn.execute(
                    Sql::new(
                        "UPDATE flow_hooks SET secret = $3 WHERE organization_id = $1 AND flow_id = $2",
                    )
                    .bind(self.org_id)
                    .bind(flow)
                    .bind(sealed),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// What the database holds for a flow's hook secret (sealed): for tests that it is not in clear.
    pub async fn flow_hook_stored_secret(&self, flow: FlowId) -> Result<Option<String>> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(Option<String>,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT secret FROM flow_hooks WHERE organization_id = $1 AND flow_id = $2",
                )
                .bind(self.org_id)
                .bind(flow),
            )
            .await?;
        Ok(row.and_then(|(secret,)| secret))
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
        row.map(|row| self.store.open_hook(row)).transpose()
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
        rows.into_iter()
            .map(|row| self.store.open_hook(row))
            .collect()
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
