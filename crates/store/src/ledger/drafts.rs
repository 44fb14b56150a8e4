//! Deleting a draft voucher: the later unposted vouchers of its period and word close up, so numbering stays
//! gap-free.

use tenon_ledger::VoucherState;
use tenon_model::{Action, DetailCode, TargetKind, VoucherId};
use uuid::Uuid;

use super::BookRef;
use super::vouchers::voucher_snapshot;
use crate::audit::{self, Change};
use crate::exec::Sql;
use crate::{Result, StoreError, Tenant, WriteContext};

/// A voucher whose number moved when a draft before it was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renumbered {
    pub id: VoucherId,
    pub before: u32,
    pub number: u32,
}

impl Tenant<'_> {
    /// Deletes a draft voucher and keeps its (period, word) gap-free: the later vouchers of the same
    /// period and word — drafts or reviewed, never posted — move down by one number, as Kingdee's 凭证整理
    /// does. Refused (409) for a voucher that is not a draft, and when a later voucher of its period and
    /// word is posted (its number can no longer change). One audit entry for the deletion and one per
    /// renumbered voucher. A voucher made from a business record frees that record to make a new one.
    pub async fn delete_draft_voucher(
        &self,
        ctx: &WriteContext,
        book: &BookRef,
        id: VoucherId,
    ) -> Result<Vec<Renumbered>> {
        let mut tx = self.store.begin_tx().await?;
        let mut conn = tx.conn();
        let book = self
            .find_book(&mut conn, book)
            .await?
            .ok_or_else(|| StoreError::not_found("book"))?;
        let stored = self
            .load_voucher(&mut conn, book.id, id)
            .await?
            .ok_or_else(|| StoreError::not_found("voucher"))?;
        let renumbered = self.delete_draft_in(&mut conn, ctx, &book, &stored).await?;
        tx.commit().await?;
        Ok(renumbered)
    }

    /// [`Self::delete_draft_voucher`] in the caller's transaction.
    pub(crate) async fn delete_draft_in(
        &self,
        conn: &mut crate::exec::Conn<'_>,
        ctx: &WriteContext,
        book: &super::Book,
        stored: &super::StoredVoucher,
    ) -> Result<Vec<Renumbered>> {
        let id = stored.id;
        let v = &stored.voucher;
        if v.state != VoucherState::Draft {
            return Err(StoreError::conflict(
                Some("state"),
                DetailCode::Conflict,
                format!(
                    "voucher {}-{} is {}; only drafts are deleted (reverse a posted voucher instead)",
                    v.word.as_str(),
                    v.number,
                    v.state.as_str()
                ),
            ));
        }
        Self::check_open(book, v.period)?;
        // The counter row first: it serializes this with every writer numbering the same (period, word).
        let (last,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "UPDATE ledger_numbers SET last_number = last_number - 1 WHERE organization_id = $1 AND book_id = $2 \
                     AND period = $3 AND word = $4 RETURNING last_number + 1",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(v.period.key())
                .bind(v.word.as_str()),
            )
            .await?;
        let later: Vec<(Uuid, i64, String)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT id, number, state FROM ledger_vouchers WHERE organization_id = $1 AND book_id = $2 \
                     AND period = $3 AND word = $4 AND number > $5 ORDER BY number",
                )
                .bind(self.org_id)
                .bind(book.id)
                .bind(v.period.key())
                .bind(v.word.as_str())
                .bind(i64::from(v.number)),
            )
            .await?;
        if let Some((_, number, _)) = later.iter().find(|(_, _, state)| state == "posted") {
            return Err(StoreError::conflict(
                Some("number"),
                DetailCode::Conflict,
                format!(
                    "voucher {word}-{number} after {word}-{} is posted, so the numbers of {} cannot close up; \
                     keep this draft (change its lines) instead",
                    v.number,
                    v.period,
                    word = v.word.as_str()
                ),
            ));
        }
        if i64::try_from(later.len()).ok() != Some(last - i64::from(v.number)) {
            return Err(StoreError::Corrupt(format!(
                "numbering of {} {} is not gap-free (last {last}, voucher {}, {} later)",
                v.period,
                v.word.as_str(),
                v.number,
                later.len()
            )));
        }
        conn.execute(
            Sql::new(
                "DELETE FROM ledger_record_links WHERE organization_id = $1 AND voucher_id = $2",
            )
            .bind(self.org_id)
            .bind(id),
        )
        .await?;
        conn.execute(
            Sql::new("DELETE FROM ledger_vouchers WHERE organization_id = $1 AND id = $2")
                .bind(self.org_id)
                .bind(id),
        )
        .await?;
        // Two steps, so that no row ever takes a number another row still holds (unique keys are checked
        // row by row on both backends).
        for sql in [
            "UPDATE ledger_vouchers SET number = -number WHERE organization_id = $1 AND book_id = $2 \
             AND period = $3 AND word = $4 AND number > $5",
            "UPDATE ledger_vouchers SET number = -number - 1 WHERE organization_id = $1 AND book_id = $2 \
             AND period = $3 AND word = $4 AND number < 0",
        ] {
            conn.execute(
                Sql::new(sql)
                    .bind(self.org_id)
                    .bind(book.id)
                    .bind(v.period.key())
                    .bind(v.word.as_str())
                    .bind(i64::from(v.number)),
            )
            .await?;
        }
        let mut renumbered = Vec::with_capacity(later.len());
        for (later_id, number, _) in later {
            let before =
                u32::try_from(number).map_err(|_| super::corrupt("voucher number", number))?;
            renumbered.push(Renumbered {
                id: VoucherId::from_uuid(later_id),
                before,
                number: before - 1,
            });
        }
        let mut changes = vec![Change {
            target_kind: TargetKind::Voucher,
            target_id: id.to_string(),
            action: Action::Deleted,
            before: Some(voucher_snapshot(stored)),
            after: None,
            ctx,
        }];
        for moved in &renumbered {
            changes.push(Change {
                target_kind: TargetKind::Voucher,
                target_id: moved.id.to_string(),
                action: Action::Updated,
                before: Some(serde_json::json!({"period": v.period.to_string(), "word": v.word.as_str(), "number": moved.before})),
                after: Some(serde_json::json!({"period": v.period.to_string(), "word": v.word.as_str(), "number": moved.number})),
                ctx,
            });
        }
        audit::record_many(conn, self, changes).await?;
        Ok(renumbered)
    }
}
