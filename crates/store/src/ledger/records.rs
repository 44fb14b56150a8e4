//! Vouchers from business records by a rule, idempotent by the record's source identifier: the same record
//! never produces two vouchers; a changed record (higher version, other content) produces a reversal of the
//! old voucher and a new one — or, while the old voucher is not posted, replaces it in place (same number).

use super::{BookLock, BookRef};
use tenon_ledger::VoucherState;
use tenon_ledger::expr::{Record, Value};
use tenon_model::{BookId, VoucherId};
use uuid::Uuid;

use super::{StoredVoucher, invalid};
use crate::exec::{Conn, Sql};
use crate::{Result, StoreError, Tenant, WriteContext};
use tenon_model::DetailCode;

/// A business record to book by a rule. The record arrives inline until the data engine exists; `source_key`
/// (e.g. `crm/orders/1001`) identifies it across versions.
#[derive(Debug, Clone)]
pub struct FromRecord {
    pub rule: String,
    pub source_key: String,
    pub version: i64,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Post the voucher at once (reviewed and posted by the caller) instead of leaving a draft.
    pub post: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First time this record was booked.
    Created,
    /// The record was booked before with the same content: nothing new.
    Unchanged,
    /// The record changed: the old voucher was reversed and a new one made.
    Replaced,
}

#[derive(Debug, Clone)]
pub struct RecordResult {
    pub outcome: RecordOutcome,
    pub voucher: StoredVoucher,
    pub reversal: Option<StoredVoucher>,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    rule: String,
    version: i64,
    fields: sqlx::types::Json<serde_json::Value>,
    voucher_id: Uuid,
}

impl Tenant<'_> {
    /// Books a business record by a rule, idempotently: the same source and content return the voucher made
    /// before; a newer version with other content reverses that voucher and makes a new one.
    pub async fn voucher_from_record(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        input: FromRecord,
    ) -> Result<RecordResult> {
        let rule = tenon_ledger::rules::find(&input.rule).map_err(|reason| {
            invalid("rule", DetailCode::NotOneOf, reason)
                .with("allowed", tenon_ledger::rules::RULE_NAMES.to_vec())
        })?;
        let record: Record = input
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect();
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book_locked(&mut conn, book, BookLock::Share)
            .await?;
        let state = if input.post {
            VoucherState::Posted
        } else {
            VoucherState::Draft
        };
        tenon_ledger::voucher::check_created_state(&book.settings, state)
            .map_err(|refused| StoreError::conflict_at("post", refused.0))?;
        let link: Option<LinkRow> = conn
            .fetch_optional(
                Sql::new("SELECT rule, version, fields, voucher_id FROM ledger_record_links WHERE organization_id = $1 AND book_id = $2 AND source_key = $3")
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(input.source_key.as_str()),
            )
            .await?;
        let fields = serde_json::Value::Object(input.fields.clone());
        let mut reversal = None;
        if let Some(link) = &link {
            let previous = self
                .load_voucher(&mut conn, book.id, VoucherId::from_uuid(link.voucher_id))
                .await?
                .ok_or_else(|| StoreError::not_found("voucher"))?;
            if link.fields.0 == fields && link.rule == input.rule {
                if input.version > link.version {
                    self.write_link(&mut conn, book.id, &input, previous.id, true)
                        .await?;
                    tx.commit().await?;
                }
                return Ok(RecordResult {
                    outcome: RecordOutcome::Unchanged,
                    voucher: previous,
                    reversal: None,
                });
            }
            if input.version <= link.version {
                return Err(StoreError::conflict(
                    Some("source.version"),
                    DetailCode::Conflict,
                    format!(
                        "version {} of {} was already booked with other content (booked version: {}); send a higher version",
                        input.version, input.source_key, link.version
                    ),
                ));
            }
            let draft = tenon_ledger::rules::apply(
                &rule,
                &self.load_chart(&mut conn, book.id).await?,
                &record,
            )?;
            if previous.voucher.state != VoucherState::Posted {
                // A draft is corrected in place (same number), never reversed.
                let (voucher, _) = self
                    .correct_voucher_in(&mut conn, ctx, &book, &previous, draft, state)
                    .await?;
                self.write_link(&mut conn, book.id, &input, voucher.id, true)
                    .await?;
                tx.commit().await?;
                return Ok(RecordResult {
                    outcome: RecordOutcome::Replaced,
                    voucher,
                    reversal: None,
                });
            }
            reversal = Some(
                self.reverse_in(&mut conn, ctx, &book, &previous, draft.date)
                    .await?,
            );
        }
        let draft = tenon_ledger::rules::apply(
            &rule,
            &self.load_chart(&mut conn, book.id).await?,
            &record,
        )?;
        let voucher = self
            .insert_vouchers(&mut conn, ctx, &book, vec![(draft, None)], state)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StoreError::Corrupt("a voucher was written but not returned".to_owned())
            })?;
        self.write_link(&mut conn, book.id, &input, voucher.id, link.is_some())
            .await?;
        tx.commit().await?;
        let outcome = if link.is_some() {
            RecordOutcome::Replaced
        } else {
            RecordOutcome::Created
        };
        Ok(RecordResult {
            outcome,
            voucher,
            reversal,
        })
    }

    async fn write_link(
        &self,
        conn: &mut Conn<'_>,
        book_id: BookId,
        input: &FromRecord,
        voucher_id: VoucherId,
        exists: bool,
    ) -> Result<()> {
        let sql = if exists {
            Sql::new(
                "UPDATE ledger_record_links SET rule = $4, version = $5, fields = $6, voucher_id = $7, updated_at = $8 \
                      WHERE organization_id = $1 AND book_id = $2 AND source_key = $3",
            )
        } else {
            Sql::new(
                "INSERT INTO ledger_record_links (organization_id, book_id, source_key, rule, version, fields, voucher_id, updated_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
        };
        conn.execute(
            sql.bind(self.org_id)
                .bind(book_id)
                .bind(input.source_key.as_str())
                .bind(input.rule.as_str())
                .bind(input.version)
                .bind(serde_json::Value::Object(input.fields.clone()))
                .bind(voucher_id)
                .bind(self.store.now()),
        )
        .await?;
        Ok(())
    }
}
