//! Public forms' proofs of work already used (`pow_spent`, issue #23): a solved challenge is taken once,
//! by whichever node sharing the database sees it first, and forgotten after it expires.

use crate::exec::Sql;
use crate::{Result, Store};

impl Store {
    /// Marks a solved challenge used, good until `expires_at` (unix seconds); `false` when it was used
    /// before, on this node or another.
    pub async fn spend_challenge(&self, challenge: &str, expires_at: i64) -> Result<bool> {
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let taken = conn
            .execute(
                Sql::new(
                    "INSERT INTO pow_spent (challenge, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (challenge) DO NOTHING",
                )
                .bind(challenge)
                .bind(expires_at),
            )
            .await?;
        tx.commit().await?;
        Ok(taken == 1)
    }

    /// Forgets used challenges past their expiry (they are refused as expired anyway).
    pub async fn purge_spent_challenges(&self) -> Result<u64> {
        let now = self.now().timestamp();
        let mut tx = self.begin_tx().await?;
        let mut conn = tx.conn();
        let purged = conn
            .execute(Sql::new("DELETE FROM pow_spent WHERE expires_at < $1").bind(now))
            .await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// A 32-byte key for `purpose` derived from the node's secret key (`--secret-key-file`, shared by the
    /// nodes of one database), or `None` when the store has none.
    pub fn derived_key(&self, purpose: &str) -> Option<[u8; 32]> {
        self.secret_key.as_ref().map(|key| key.derive(purpose))
    }
}
