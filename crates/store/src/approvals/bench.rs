//! What `tenon bench --suite approvals` needs of the store beyond the API: many tasks, fast.

use tenon_model::{ApprovalId, MemberId};
use uuid::Uuid;

use crate::exec::{Backend, Sql};
use crate::{Result, Tenant};

impl Tenant<'_> {
    /// For `tenon bench --suite approvals`: `count` tasks on `instance` (its own numbers, far above the
    /// counter's), one in 100 assigned to `member` (one in 10 of those running), the rest to `crowd`,
    /// inserted by the database itself. Not for anything but a benchmark's to-do list.
    pub async fn seed_tasks_for_benchmark(
        &self,
        instance: ApprovalId,
        member: MemberId,
        crowd: MemberId,
        count: u64,
    ) -> Result<()> {
        const BATCH: u64 = 100_000;
        let (activation,): (Uuid,) = {
            let mut pooled = self.store.pools.read().await?;
            pooled
                .conn()
                .fetch_one(
                    Sql::new(
                        "SELECT activation_id FROM approval_tasks WHERE organization_id = $1 AND instance_id = $2 LIMIT 1",
                    )
                    .bind(self.org_id)
                    .bind(instance),
                )
                .await?
        };
        let now = self.store.now();
        let mut done = 0u64;
        while done < count {
            let size = (count - done).min(BATCH);
            let mut tx = self.store.begin_tx().await?;
            let mut conn = tx.conn();
            let sql = match conn.backend() {
                Backend::Postgres => Sql::new(
                    "INSERT INTO approval_tasks (organization_id, id, instance_id, number, activation_id, node, \
                     task_group, assignee, status, result, created_at, finished_at) \
                     SELECT $1, gen_random_uuid(), $2, $3 + g, $4, 'seed', 0, \
                     CASE WHEN g % 100 = 0 THEN $5 ELSE $6 END, \
                     CASE WHEN g % 1000 = 0 THEN 'running' ELSE 'completed' END, \
                     CASE WHEN g % 1000 = 0 THEN NULL ELSE 'agree' END, $7, $7 \
                     FROM generate_series(CAST(1 AS BIGINT), $8) AS g",
                ),
                Backend::Sqlite => Sql::new(
                    "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $8) \
                     INSERT INTO approval_tasks (organization_id, id, instance_id, number, activation_id, node, \
                     task_group, assignee, status, result, created_at, finished_at) \
                     SELECT $1, randomblob(16), $2, $3 + g, $4, 'seed', 0, \
                     CASE WHEN g % 100 = 0 THEN $5 ELSE $6 END, \
                     CASE WHEN g % 1000 = 0 THEN 'running' ELSE 'completed' END, \
                     CASE WHEN g % 1000 = 0 THEN NULL ELSE 'agree' END, $7, $7 FROM s",
                ),
            };
            let offset = 1_000_000_000_000i64 + i64::try_from(done).unwrap_or(0);
            conn.execute(
                sql.bind(self.org_id)
                    .bind(instance)
                    .bind(offset)
                    .bind(activation)
                    .bind(member)
                    .bind(crowd)
                    .bind(now)
                    .bind(i64::try_from(size).unwrap_or(i64::MAX)),
            )
            .await?;
            tx.commit().await?;
            done += size;
        }
        Ok(())
    }
}
