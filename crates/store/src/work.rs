//! Which of a node's workers a commit wakes.
//!
//! Each `tenon serve` runs workers that look for work after local commits: the delivery workers (events
//! to fan out, deliveries due), the flow workers (runs due) and the approval timer task (reminders and
//! timeouts due). Each look is a statement. A commit wakes only the workers whose work its writes made:
//! a write marks its transaction ([`Conn::mark`], bits beside the caches' in [`crate::cache`]) where it
//! appends events, queues deliveries or re-enables a subscription, makes a flow run due, or sets an
//! approval timer; after the commit [`OnCommit`] wakes the matching [`Work`] signals — one waiting worker
//! each (`notify_one`: the others need not look too; a worker that takes a full batch wakes the next).
//! Every commit still wakes [`crate::Store::commits`] (the event streams wait on it). Work that comes due
//! by time alone, or that another node made, is found by the workers' polls, as before.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::cache::Caches;
use crate::exec::{AfterCommit, Conn};

/// Mark: the transaction appended events, queued deliveries or made a subscription deliver again.
pub(crate) const DELIVERIES: u8 = 16;
/// Mark: the transaction made a flow run due (a new run, a run queued again, a wait ended).
pub(crate) const FLOW_RUNS: u8 = 32;
/// Mark: the transaction set approval timers.
pub(crate) const APPROVAL_TIMERS: u8 = 64;

/// Work a commit can make for this node's workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Events to fan out to subscriptions, deliveries to send.
    Deliveries,
    /// Flow runs to advance.
    FlowRuns,
    /// Approval reminders and timeouts.
    ApprovalTimers,
}

impl Work {
    const ALL: [Work; 3] = [Work::Deliveries, Work::FlowRuns, Work::ApprovalTimers];

    fn mark(self) -> u8 {
        match self {
            Work::Deliveries => DELIVERIES,
            Work::FlowRuns => FLOW_RUNS,
            Work::ApprovalTimers => APPROVAL_TIMERS,
        }
    }
}

/// One signal per [`Work`].
#[derive(Default)]
pub(crate) struct Signals([Notify; 3]);

impl Signals {
    pub(crate) fn of(&self, work: Work) -> &Notify {
        &self.0[work as usize]
    }

    /// Wakes one worker of every kind of work `marks` names: an idle one, or else the next to finish
    /// what it does (`notify_one` keeps a permit). One look finds the work; a worker that finds more
    /// than it takes makes work that wakes the next (a fan-out queues deliveries).
    pub(crate) fn wake(&self, marks: u8) {
        for work in Work::ALL {
            if marks & work.mark() != 0 {
                self.of(work).notify_one();
            }
        }
    }

    /// Wakes every worker (the clock moved: what came due is anybody's).
    pub(crate) fn wake_all(&self) {
        for work in Work::ALL {
            self.of(work).notify_waiters();
            self.of(work).notify_one();
        }
    }
}

/// What a store's transactions do after they commit: invalidate the caches their writes made stale and
/// wake the workers of the work they made.
pub(crate) struct OnCommit {
    pub(crate) caches: Arc<Caches>,
    pub(crate) signals: Arc<Signals>,
}

impl AfterCommit for OnCommit {
    fn committed(&self, marks: u8) {
        self.caches.invalidate(marks);
        self.signals.wake(marks);
    }
}

/// Records that a write on `conn` made `marks`' work: in a transaction for its commit to wake, outside one
/// (the write has committed) at once. Call it after the write.
pub(crate) fn made(conn: &Conn<'_>, signals: &Signals, marks: u8) {
    if !conn.mark(marks) {
        signals.wake(marks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_wakes_only_the_work_it_made() {
        let signals = Signals::default();
        let deliveries = signals.of(Work::Deliveries).notified();
        let flows = signals.of(Work::FlowRuns).notified();
        let timers = signals.of(Work::ApprovalTimers).notified();
        tokio::pin!(deliveries, flows, timers);
        for waiting in [deliveries.as_mut(), flows.as_mut(), timers.as_mut()] {
            waiting.enable();
        }
        // A cache mark wakes nobody; a flow run wakes the flow workers alone.
        signals.wake(crate::cache::SCHEMA | FLOW_RUNS);
        let now = |waiting: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>| {
            futures_util::FutureExt::now_or_never(waiting).is_some()
        };
        assert!(now(flows.as_mut()));
        assert!(!now(deliveries.as_mut()));
        assert!(!now(timers.as_mut()));
        signals.wake_all();
        assert!(now(deliveries.as_mut()));
        assert!(now(timers.as_mut()));
    }
}
