//! Flow workers (issue #18): the loop each of them runs inside `tenon serve --flow-workers N`.
//!
//! A worker claims due runs (a lease fenced by an epoch; see `tenon_store::flows`), then advances each
//! run's internal steps chained in one transaction (on SQLite the claimed runs share it) until it
//! finishes, waits, reaches an outside step or a step that spans transactions
//! ([`Store::advance_flow_runs`]); from there, or when that transaction rolled back because a step
//! failed, the run goes on one step per transaction until it finishes, waits, or its claim is lost. It wakes on a commit
//! of this process that made a run due (`tenon_store::Work::FlowRuns`: a write that inserted a run, a
//! wait that ended) and polls at [`FlowConfig::poll_interval`] for
//! the rest: retries coming due, runs of other nodes' writes, leases of crashed workers expiring. Times
//! come from the store's clock, so tests move time instead of waiting.
//!
//! With the workers runs the node's scheduler ([`Store::run_schedules`] every poll interval): schedule
//! triggers' slots, by the store's clock, one run per slot however many nodes tick.
//!
//! Outside steps (`http`, `robot`, `sms`, `email`, `kingdee_voucher`, `yonyou_voucher`): the store journals the request `running` and hands
//! it over ([`Advance::Outside`]); the worker sends it ([`http::send`], through `tenon_events`' guarded
//! client, with the connection's credentials and the vendors' signatures; an e-mail through
//! [`smtp::send`]) and hands the answer back ([`Store::finish_outside_step`]).
//!
//! Voucher steps: `kingdee_voucher` holds a conversation with Kingdee K/3 Cloud ([`kingdee::push`]: the
//! node's session or a login, a query by Tenon's key, the Save, a new login once when the session is
//! gone, a Save whose answer was lost reconciled by asking by key) and hands back the step's output;
//! `yonyou_voucher` POSTs U8's EAI document ([`yonyou::post`]), an unclear outcome reported as such
//! (the store makes it `unknown_outcome`).
//!
//! The `sql` step runs its statement over a PostgreSQL or MySQL/MariaDB connection ([`sql::run`]: the
//! host checked against the outbound policy, a read-only transaction unless the step allows writes, a
//! statement timeout; MySQL's in [`mysql::run`]).

use std::time::Duration;

use tenon_events::Sender;
use tenon_store::flows::{Advance, VoucherPush};
use tenon_store::{Store, Work};
use tokio::task::JoinHandle;

pub mod http;
pub mod kingdee;
pub mod mysql;
mod reply;
pub mod smtp;
pub mod sql;
pub mod yonsuite;
pub mod yonyou;

/// How many workers a node runs, and how they poll.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Workers per node (0: this node runs no flows; another node may).
    pub workers: usize,
    /// Runs a worker claims at once.
    pub batch: u32,
    /// Whether a worker advances the runs it claimed with each run's internal steps chained in one
    /// transaction (on SQLite the claimed runs share it; [`Store::advance_flow_runs`]); `false`: one
    /// step of one run per transaction.
    pub chain: bool,
    /// How often an idle worker looks for due runs without being woken.
    pub poll_interval: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            workers: 1,
            batch: 16,
            chain: true,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Starts the workers; abort the handles to stop them (a step cut short rolls back and runs again after
/// the lease, on this node or another).
/// Outside steps' requests go through `sender` (its outbound policy applies).
pub fn spawn_flow_workers(store: Store, config: FlowConfig, sender: Sender) -> Vec<JoinHandle<()>> {
    let node = uuid::Uuid::now_v7();
    let mut handles: Vec<JoinHandle<()>> = (0..config.workers)
        .map(|worker| {
            let store = store.clone();
            let config = config.clone();
            let owner = format!("{node}/{worker}");
            let sender = sender.clone();
            tokio::spawn(async move { run(owner, store, config, sender).await })
        })
        .collect();
    if config.workers > 0 {
        handles.push(tokio::spawn(schedule(store, config.poll_interval)));
    }
    handles
}

/// The scheduler: every `interval`, the slots of schedule triggers that came due.
async fn schedule(store: Store, interval: Duration) {
    loop {
        if let Err(error) = store.run_schedules().await {
            tracing::warn!(%error, "the flow scheduler's tick failed");
        }
        tokio::time::sleep(interval).await;
    }
}

async fn run(owner: String, store: Store, config: FlowConfig, sender: Sender) {
    loop {
        match round(&owner, &store, &config, &sender).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => tracing::warn!(worker = %owner, %error, "flow round failed"),
        }
        // A commit wakes one waiting worker; one made during the round left a permit, and the wait
        // ends at once.
        tokio::select! {
            () = store.work_made(Work::FlowRuns).notified() => {}
            () = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

/// Claims due runs and advances each as far as it goes. `true` when it found work.
pub async fn round(
    owner: &str,
    store: &Store,
    config: &FlowConfig,
    sender: &Sender,
) -> Result<bool, tenon_store::StoreError> {
    let claims = store.claim_flow_runs(owner, config.batch).await?;
    if claims.is_empty() {
        return Ok(false);
    }
    if claims.len() >= config.batch as usize {
        // A full batch: there may be more, for the next worker.
        store.work_made(Work::FlowRuns).notify_one();
    }
    // Chained first; a run whose transaction rolled back (a step failed, a statement erred) goes on one
    // step per transaction.
    let chained = if config.chain {
        match store.advance_flow_runs(&claims).await {
            Ok(advances) => advances,
            Err(error) => {
                tracing::warn!(worker = %owner, %error, "a batch of flow steps failed to commit");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let mut chained = chained.into_iter();
    for claim in claims {
        let mut advanced = match chained.next().flatten() {
            Some(advance) => Ok(advance),
            None => store.advance_flow_run(&claim).await,
        };
        loop {
            match advanced {
                Ok(Advance::Continue) => advanced = store.advance_flow_run(&claim).await,
                Ok(Advance::Outside(call)) => {
                    let answer = match (&call.mail, call.voucher.as_deref(), call.sql.as_deref()) {
                        (_, _, Some(run)) => sql::run(sender, &call, run).await,
                        (Some(_), _, _) => smtp::send(sender, &call).await,
                        (_, Some(VoucherPush::Kingdee(push)), _) => {
                            kingdee::push(sender, &call, push, store.now()).await
                        }
                        (_, Some(VoucherPush::YonyouU8 { .. }), _) => {
                            yonyou::post(sender, &call, store.now()).await
                        }
                        (_, Some(VoucherPush::YonSuite(push)), _) => {
                            yonsuite::push(sender, &call, push, store.now()).await
                        }
                        (None, None, None) => http::send(sender, &call, store.now()).await,
                    };
                    advanced = store.finish_outside_step(&claim, &call, answer).await;
                }
                Ok(Advance::Waiting | Advance::Finished(_) | Advance::Lost) => break,
                Err(error) => {
                    // The run's lease expires and it is claimed again.
                    tracing::warn!(worker = %owner, run = %claim.run_id, %error, "a flow step failed to commit");
                    break;
                }
            }
        }
    }
    Ok(true)
}
