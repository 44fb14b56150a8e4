//! What Tenon remembers of voucher pushes (`flow_voucher_pushes`, migration `0037_voucher_pushes`): one
//! row per (organization, connection, voucher), so a replay, a re-trigger or a second run for the same
//! voucher never posts it twice — U8 has no query by Tenon's key, and Kingdee's query-then-save is not
//! atomic.
//!
//! - **Claim** ([`Tenant::claim_voucher_push`]), in the step's journaling transaction, before anything is
//!   sent: no row → the step claims it (`pushing`) and sends. A `pushed` row → the step succeeds with the
//!   remembered output (`already_pushed: true`) and sends nothing. A row another run holds while that
//!   run's step is still under way (`running`) or waits for a person (`unknown_outcome`) → this step
//!   waits and tries again later (a retry: nothing is sent). A row whose claimant moved on (its answer
//!   was a clear failure, its run was canceled or failed) is taken over — except where the claimant may
//!   have sent the voucher without an answer and the vendor is unsafe (U8): then this step inherits the
//!   question and becomes `unknown_outcome`.
//! - **Answer** ([`Tenant::voucher_pushed`]): a success makes the row `pushed` with the step's output (the
//!   vendor's number) in the answer's transaction; an unclear answer of U8 makes it `unknown`
//!   ([`Tenant::voucher_push_unknown`], with the step's `unknown_outcome`).
//! - **Resolve** ([`Tenant::resolve_voucher_push`]): a person's `done` on the claiming step makes the row
//!   `pushed` (the number unknown: `null`); `retry` drops the row, so the step's next attempt — or any
//!   run's — claims it afresh and sends.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::FlowRunId;
use uuid::Uuid;

use super::commands::Resolution;
use crate::exec::{Conn, Sql};
use crate::{Result, Tenant};

/// What a voucher step may do after claiming its push.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Claimed {
    /// The step holds the claim: send.
    Send,
    /// Pushed before (by `run`): the remembered output.
    Pushed { output: Value, run: Uuid },
    /// Another run's push of the voucher is under way or unresolved: wait and ask again.
    Busy(String),
    /// An earlier push may have reached the unsafe vendor unanswered: a person decides (this step now
    /// holds the question).
    Unknown(String),
}

/// Which push a step claims.
pub(super) struct PushKey<'a> {
    pub connection: &'a str,
    pub voucher_id: Uuid,
    pub vendor: &'a str,
    /// Whether an unanswered send may be repeated (Kingdee asks by key first; U8 cannot).
    pub resendable: bool,
}

#[derive(sqlx::FromRow)]
struct PushRow {
    state: String,
    run_id: Uuid,
    step: String,
    output: Option<sqlx::types::Json<Value>>,
}

impl Tenant<'_> {
    /// Claims the push of `key.voucher_id` over `key.connection` for step `step` of `run` (see the module
    /// documentation).
    pub(super) async fn claim_voucher_push(
        &self,
        conn: &mut Conn<'_>,
        run: FlowRunId,
        step: &str,
        attempt: i32,
        key: &PushKey<'_>,
    ) -> Result<Claimed> {
        let now = self.store.now();
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO flow_voucher_pushes (organization_id, connection, voucher_id, vendor, state, \
                     run_id, step, attempt, claimed_at) VALUES ($1, $2, $3, $4, 'pushing', $5, $6, $7, $8) \
                     ON CONFLICT (organization_id, connection, voucher_id) DO NOTHING",
                )
                .bind(self.org_id)
                .bind(key.connection)
                .bind(key.voucher_id)
                .bind(key.vendor)
                .bind(run)
                .bind(step)
                .bind(attempt)
                .bind(now),
            )
            .await?;
        if inserted == 1 {
            return Ok(Claimed::Send);
        }
        let Some(row): Option<PushRow> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT state, run_id, step, output FROM flow_voucher_pushes \
                     WHERE organization_id = $1 AND connection = $2 AND voucher_id = $3",
                )
                .bind(self.org_id)
                .bind(key.connection)
                .bind(key.voucher_id),
            )
            .await?
        else {
            // Dropped between the two statements (a person's `retry`): ask again shortly.
            return Ok(Claimed::Busy(format!(
                "the push of voucher {} changed hands: trying again",
                key.voucher_id
            )));
        };
        if row.state == "pushed" {
            return Ok(Claimed::Pushed {
                output: row.output.map_or(Value::Null, |json| json.0),
                run: row.run_id,
            });
        }
        let ours = row.run_id == *run.as_uuid() && row.step == step;
        let (run_status, step_status) = if ours {
            (None, None)
        } else {
            self.claimant_state(conn, row.run_id, &row.step).await?
        };
        let open = matches!(
            run_status.as_deref(),
            Some("queued" | "running" | "waiting")
        );
        let unsettled = matches!(step_status.as_deref(), Some("running" | "unknown_outcome"));
        if !ours && open && unsettled {
            let why = if row.state == "unknown" {
                "its outcome is unknown: resolve that step first"
            } else {
                "it is under way"
            };
            return Ok(Claimed::Busy(format!(
                "voucher {} is being pushed by run {} (step {}) and {why}",
                key.voucher_id, row.run_id, row.step
            )));
        }
        // The claimant may have sent it without an answer: an unsafe vendor cannot be asked.
        let settled = matches!(
            step_status.as_deref(),
            Some("pending" | "retry_wait" | "failed" | "skipped" | "succeeded")
        );
        let inherit = !ours && (row.state == "unknown" || (!key.resendable && !settled));
        let state = if inherit { "unknown" } else { "pushing" };
        let taken = conn
            .execute(
                Sql::new(
                    "UPDATE flow_voucher_pushes SET state = $4, run_id = $5, step = $6, attempt = $7, \
                     claimed_at = $8 WHERE organization_id = $1 AND connection = $2 AND voucher_id = $3 \
                     AND run_id = $9 AND step = $10 AND state = $11",
                )
                .bind(self.org_id)
                .bind(key.connection)
                .bind(key.voucher_id)
                .bind(state)
                .bind(run)
                .bind(step)
                .bind(attempt)
                .bind(now)
                .bind(row.run_id)
                .bind(row.step.as_str())
                .bind(row.state.as_str()),
            )
            .await?;
        if taken != 1 {
            return Ok(Claimed::Busy(format!(
                "the push of voucher {} changed hands: trying again",
                key.voucher_id
            )));
        }
        if inherit {
            return Ok(Claimed::Unknown(format!(
                "an earlier push of voucher {} by run {} (step {}) may have reached the vendor unanswered",
                key.voucher_id, row.run_id, row.step
            )));
        }
        Ok(Claimed::Send)
    }

    /// The claiming run's status and its step's, if they still exist.
    async fn claimant_state(
        &self,
        conn: &mut Conn<'_>,
        run: Uuid,
        step: &str,
    ) -> Result<(Option<String>, Option<String>)> {
        let found: Option<(String, Option<String>)> = conn
            .fetch_optional(
                Sql::new(
                    "SELECT r.status, s.status FROM flow_runs r LEFT JOIN flow_steps s \
                     ON s.organization_id = r.organization_id AND s.run_id = r.id AND s.key = $3 \
                     WHERE r.organization_id = $1 AND r.id = $2",
                )
                .bind(self.org_id)
                .bind(run)
                .bind(step),
            )
            .await?;
        Ok(found.map_or((None, None), |(run, step)| (Some(run), step)))
    }

    /// Step `step` of `run` pushed its voucher: the row it claimed remembers `output`.
    pub(super) async fn voucher_pushed(
        &self,
        conn: &mut Conn<'_>,
        run: FlowRunId,
        step: &str,
        output: &Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let number = match &output["number"] {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        conn.execute(
            Sql::new(
                "UPDATE flow_voucher_pushes SET state = 'pushed', number = $4, output = $5, pushed_at = $6 \
                 WHERE organization_id = $1 AND run_id = $2 AND step = $3 AND state <> 'pushed'",
            )
            .bind(self.org_id)
            .bind(run)
            .bind(step)
            .bind(number)
            .bind(output.clone())
            .bind(now),
        )
        .await?;
        Ok(())
    }

    /// Step `step` of `run` became `unknown_outcome`: its claim waits for a person.
    pub(super) async fn voucher_push_unknown(
        &self,
        conn: &mut Conn<'_>,
        run: FlowRunId,
        step: &str,
    ) -> Result<()> {
        conn.execute(
            Sql::new(
                "UPDATE flow_voucher_pushes SET state = 'unknown' \
                 WHERE organization_id = $1 AND run_id = $2 AND step = $3 AND state = 'pushing'",
            )
            .bind(self.org_id)
            .bind(run)
            .bind(step),
        )
        .await?;
        Ok(())
    }

    /// A person resolved step `step` of `run`: `done` → the voucher counts as pushed (number unknown);
    /// `retry` → the claim is dropped and claimed again by the next push.
    pub(super) async fn resolve_voucher_push(
        &self,
        conn: &mut Conn<'_>,
        run: FlowRunId,
        step: &str,
        resolution: Resolution,
    ) -> Result<()> {
        match resolution {
            Resolution::Done => {
                let now = self.store.now();
                conn.execute(
                    Sql::new(
                        "UPDATE flow_voucher_pushes SET state = 'pushed', number = NULL, pushed_at = $4, \
                         output = $5 WHERE organization_id = $1 AND run_id = $2 AND step = $3 \
                         AND state <> 'pushed'",
                    )
                    .bind(self.org_id)
                    .bind(run)
                    .bind(step)
                    .bind(now)
                    .bind(json!({"pushed": true, "number": null, "resolved": "done"})),
                )
                .await?;
            }
            Resolution::Retry => {
                conn.execute(
                    Sql::new(
                        "DELETE FROM flow_voucher_pushes WHERE organization_id = $1 AND run_id = $2 \
                         AND step = $3 AND state <> 'pushed'",
                    )
                        .bind(self.org_id)
                        .bind(run)
                        .bind(step),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// A remembered push as a later step's output.
pub(super) fn remembered(output: Value, voucher_id: &str, run: Uuid) -> Value {
    let mut output = match output {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    output.insert("pushed".to_owned(), json!(true));
    output.insert("voucher_id".to_owned(), json!(voucher_id));
    output.insert("already_pushed".to_owned(), json!(true));
    output.insert("pushed_by_run".to_owned(), json!(run.to_string()));
    Value::Object(output)
}
