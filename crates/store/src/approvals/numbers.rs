//! An organization's approval numbers: business ids (审批编号, per day) and task numbers, from its
//! `approval_counters` row.
//!
//! On PostgreSQL a number is taken on a connection of its own and committed at once
//! (`Pools::take_number`): a command never holds the counter while it waits for a lock, and a refused one
//! leaves a gap. On SQLite a number is taken in the command's transaction; when the transaction read the
//! counter along with its first statement ([`ReadAlong`](super::instances::ReadAlong)), it has held the
//! single writer since, so the numbers after what it read are its own and the counter's step goes,
//! unread, with its next statement.

use tenon_model::TimeZone;

use crate::exec::{Conn, Sql};
use crate::{Backend, Result, Tenant};

impl Tenant<'_> {
    /// 审批编号: the organization's date and the day's number, `20261125000001`. `read`: the counter's
    /// day and last number as this transaction read them (SQLite).
    pub(super) async fn next_business_id(
        &self,
        conn: &mut Conn<'_>,
        zone: TimeZone,
        read: Option<(String, i64)>,
    ) -> Result<String> {
        let day = self
            .store
            .now()
            .with_timezone(&zone.tz())
            .format("%Y%m%d")
            .to_string();
        if let Some((read_day, last)) = read
            && conn.backend() == Backend::Sqlite
        {
            let number = if read_day == day { last + 1 } else { 1 };
            conn.execute_unobserved(
                Sql::new(
                    "UPDATE approval_counters SET business_day = $2, last_business = $3 \
                     WHERE organization_id = $1",
                )
                .bind(self.org_id)
                .bind(day.as_str())
                .bind(number),
            )
            .await?;
            return Ok(format!("{day}{number:06}"));
        }
        let (number,): (i64,) = self
            .store
            .pools
            .take_number(
                conn,
                Sql::new(
                    "INSERT INTO approval_counters (organization_id, last_task, business_day, last_business) \
                     VALUES ($1, 0, $2, 1) ON CONFLICT (organization_id) DO UPDATE SET \
                     last_business = CASE WHEN approval_counters.business_day = $2 \
                     THEN approval_counters.last_business + 1 ELSE 1 END, business_day = $2 \
                     RETURNING last_business",
                )
                .bind(self.org_id)
                .bind(day.as_str()),
            )
            .await?;
        Ok(format!("{day}{number:06}"))
    }

    /// Reserves `count` task numbers; returns the first. `last_task`: the organization's last number as
    /// this transaction read it (SQLite).
    pub(super) async fn reserve_task_numbers(
        &self,
        conn: &mut Conn<'_>,
        count: i64,
        last_task: Option<i64>,
    ) -> Result<i64> {
        if let Some(last) = last_task
            && conn.backend() == Backend::Sqlite
        {
            conn.execute_unobserved(
                Sql::new(
                    "UPDATE approval_counters SET last_task = last_task + $2 WHERE organization_id = $1",
                )
                .bind(self.org_id)
                .bind(count),
            )
            .await?;
            return Ok(last + 1);
        }
        let (last,): (i64,) = self
            .store
            .pools
            .take_number(
                conn,
                Sql::new(
                    "INSERT INTO approval_counters (organization_id, last_task, business_day, last_business) \
                     VALUES ($1, $2, '', 0) ON CONFLICT (organization_id) DO UPDATE SET \
                     last_task = approval_counters.last_task + $2 RETURNING last_task",
                )
                .bind(self.org_id)
                .bind(count),
            )
            .await?;
        Ok(last - count + 1)
    }
}
