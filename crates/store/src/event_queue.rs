//! PostgreSQL's queue of committed events waiting for their `seq`, and the numbering that empties it (see
//! [`crate::events`]): a write inserts its events into `event_queue` just before its commit and, after the
//! commit, numbers the organization's queued events in a short transaction of its own under the counter row.
//! Writes committing side by side on one node are numbered by one such transaction ([`Sequencer`]); other
//! nodes queue on the counter row, and find their events numbered or number them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tenon_model::OrgId;
use uuid::Uuid;

use crate::exec::{AfterCommitWork, Conn, Pools, Sql};

/// How often every node numbers what it finds queued: events whose writer went away (a crash) between
/// its commit and their numbering, and events another node queued.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Numbers an organization's queued events after the commits that queued them.
pub(crate) struct Sequencer {
    pools: Pools,
    /// Woken after events are numbered, as after a commit ([`crate::Store::commits`]).
    commits: Arc<tokio::sync::Notify>,
    turns: std::sync::Mutex<HashMap<OrgId, Arc<Turn>>>,
}

/// One organization's numbering on this node.
#[derive(Default)]
struct Turn {
    /// Calls of [`Sequencer::number`] so far, each after its commit.
    calls: AtomicU64,
    /// How many calls the last successful numbering covered: every call counted before it began. Held
    /// while numbering, so calls that come meanwhile wait and then find themselves covered or number once.
    covered: tokio::sync::Mutex<u64>,
}

impl Sequencer {
    /// A sequencer for `pools` (PostgreSQL's), sweeping the queue every [`SWEEP_EVERY`] from a task that
    /// ends when the sequencer is dropped.
    pub(crate) fn start(pools: Pools, commits: Arc<tokio::sync::Notify>) -> Arc<Sequencer> {
        let sequencer = Arc::new(Sequencer {
            pools,
            commits,
            turns: std::sync::Mutex::default(),
        });
        // Outside a Tokio runtime nothing writes: there is nothing to sweep.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&sequencer);
            runtime.spawn(async move {
                let mut ticker = tokio::time::interval(SWEEP_EVERY);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    let Some(sequencer) = weak.upgrade() else {
                        return;
                    };
                    match sequencer.queued_orgs().await {
                        Ok(orgs) => {
                            for org in orgs {
                                sequencer.number(org).await;
                            }
                        }
                        Err(sqlx::Error::PoolClosed) => return,
                        // Before the migrations, say.
                        Err(error) => tracing::debug!(%error, "cannot read the event queue"),
                    }
                }
            });
        }
        sequencer
    }

    /// Closes its connections; the sweep ends.
    pub(crate) async fn close(&self) {
        self.pools.close().await;
    }

    /// The work the outbox's hook leaves for after the commit: number `orgs`' queued events.
    pub(crate) fn number_after_commit(self: Arc<Self>, orgs: Vec<OrgId>) -> AfterCommitWork {
        Box::pin(async move {
            for org in orgs {
                self.number(org).await;
            }
        })
    }

    /// Numbers the organization's queued events, at least those committed before this call. A failure is
    /// logged: the events stay queued, and the next write of the organization or the sweep numbers them.
    async fn number(&self, org: OrgId) {
        let turn = Arc::clone(
            self.turns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(org)
                .or_default(),
        );
        let call = turn.calls.fetch_add(1, Ordering::AcqRel) + 1;
        let mut covered = turn.covered.lock().await;
        if *covered >= call {
            return;
        }
        // Every call counted by now came after its commit: what follows sees its events.
        let upto = turn.calls.load(Ordering::Acquire);
        match self.number_once(org).await {
            Ok(numbered) => {
                *covered = upto;
                if numbered > 0 {
                    self.commits.notify_waiters();
                }
            }
            Err(error) => {
                tracing::warn!(%error, org = %org, "cannot number queued events; they stay queued");
            }
        }
    }

    async fn number_once(&self, org: OrgId) -> Result<u64, sqlx::Error> {
        let mut tx = self.pools.begin().await?;
        let numbered = number_queued(&mut tx.conn(), org).await?;
        tx.commit().await?;
        Ok(numbered)
    }

    async fn queued_orgs(&self) -> Result<Vec<OrgId>, sqlx::Error> {
        let mut pooled = self.pools.read().await?;
        let rows: Vec<(Uuid,)> = pooled
            .conn()
            .fetch_all(Sql::new("SELECT DISTINCT organization_id FROM event_queue"))
            .await?;
        Ok(rows.into_iter().map(|(id,)| OrgId::from_uuid(id)).collect())
    }
}

/// Numbers the organization's committed queued events in `conn`'s transaction, after the counter's
/// `last_seq` in queue order, and moves them into `events`; returns how many. Takes the counter row
/// first, in a statement of its own: the move's statement then sees every event a numbering that held
/// the row before committed, and moves none twice.
pub(crate) async fn number_queued(conn: &mut Conn<'_>, org_id: OrgId) -> Result<u64, sqlx::Error> {
    conn.execute(
        Sql::new(
            "INSERT INTO event_counters (organization_id, last_seq) VALUES ($1, 0) \
             ON CONFLICT (organization_id) DO UPDATE SET last_seq = event_counters.last_seq",
        )
        .bind(org_id),
    )
    .await?;
    let (numbered,): (i64,) = conn
        .fetch_one(
            Sql::new(
                "WITH moved AS (DELETE FROM event_queue WHERE organization_id = $1 \
                   RETURNING organization_id, n, id, type, occurred_at, actor, subject, subject_key, \
                   app_id, table_id, data), \
                 numbered AS (INSERT INTO events (organization_id, seq, id, type, occurred_at, actor, \
                   subject, subject_key, app_id, table_id, data) \
                   SELECT m.organization_id, c.last_seq + row_number() OVER (ORDER BY m.n), m.id, m.type, \
                   m.occurred_at, m.actor, m.subject, m.subject_key, m.app_id, m.table_id, m.data \
                   FROM moved m JOIN event_counters c ON c.organization_id = m.organization_id \
                   RETURNING 1) \
                 UPDATE event_counters SET last_seq = last_seq + (SELECT count(*) FROM numbered) \
                 WHERE organization_id = $1 RETURNING (SELECT count(*) FROM numbered)",
            )
            .bind(org_id),
        )
        .await?;
    Ok(u64::try_from(numbered).unwrap_or_default())
}
