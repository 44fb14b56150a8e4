//! Public forms' daily caps (migration `0031_form_submissions`): a submission takes one of the day's
//! slots in the same statement that checks the count, so two visitors racing for the last slot cannot
//! both get it.

use tenon_model::ViewId;

use crate::exec::Sql;
use crate::{Result, Tenant};

impl Tenant<'_> {
    /// Takes one of the `cap` submissions the form accepts on `day` (the organization's calendar day,
    /// `YYYY-MM-DD`); `false` when the day's cap is reached (nothing is counted then).
    pub async fn take_form_slot(&self, view: ViewId, day: &str, cap: i64) -> Result<bool> {
        let mut tx = self.store.begin_tx().await?;
        let taken: Option<(i64,)> = tx
            .conn()
            .fetch_optional(
                Sql::new(
                    "INSERT INTO form_submissions (organization_id, view_id, day, count) VALUES ($1, $2, $3, 1) \
                     ON CONFLICT (organization_id, view_id, day) DO UPDATE SET count = form_submissions.count + 1 \
                     WHERE form_submissions.count < $4 RETURNING count",
                )
                .bind(self.org_id)
                .bind(*view.as_uuid())
                .bind(day)
                .bind(cap),
            )
            .await?;
        tx.commit().await?;
        Ok(taken.is_some_and(|(count,)| count <= cap))
    }

    /// Gives a slot back: the submission that took it wrote nothing after all.
    pub async fn release_form_slot(&self, view: ViewId, day: &str) -> Result<()> {
        let mut tx = self.store.begin_tx().await?;
        tx.conn()
            .execute(
                Sql::new(
                    "UPDATE form_submissions SET count = count - 1 \
                     WHERE organization_id = $1 AND view_id = $2 AND day = $3 AND count > 0",
                )
                .bind(self.org_id)
                .bind(*view.as_uuid())
                .bind(day),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many submissions the form took on `day`.
    pub async fn form_submissions_on(&self, view: ViewId, day: &str) -> Result<i64> {
        let mut pooled = self.store.pools.read().await?;
        let row: Option<(i64,)> = pooled
            .conn()
            .fetch_optional(
                Sql::new(
                    "SELECT count FROM form_submissions WHERE organization_id = $1 AND view_id = $2 AND day = $3",
                )
                .bind(self.org_id)
                .bind(*view.as_uuid())
                .bind(day),
            )
            .await?;
        Ok(row.map_or(0, |(count,)| count))
    }
}
