//! The run and step state machines, and the walk that says which step a run does next.
//!
//! Runs: `queued` → `running` ⇄ `waiting` → `succeeded` | `failed` | `canceled`; a failed run goes back to
//! `queued` when a person retries a step. Steps: `pending` → `running` → `succeeded` | `retry_wait` |
//! `failed` | `skipped` | `unknown_outcome`; `retry_wait` → `running` when due.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Waiting,
    Succeeded,
    Failed,
    Canceled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    RetryWait,
    Failed,
    Skipped,
    UnknownOutcome,
}

/// What happens to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    /// A worker takes it (a queued run, or a waiting one whose time came).
    Claim,
    /// A step waits (a retry later, a `wait`).
    Wait,
    /// Every step is done.
    Succeed,
    /// A step failed for good.
    Fail,
    /// A person cancels it.
    Cancel,
    /// A person retries a failed step: the run is queued again.
    Retry,
}

/// A transition the machine does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} run cannot {event:?}")]
pub struct Illegal {
    pub from: RunStatus,
    pub event: RunEvent,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Succeeded, failed or canceled: only a person's retry moves a failed run again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Canceled
        )
    }

    pub fn apply(self, event: RunEvent) -> Result<RunStatus, Illegal> {
        use RunEvent as E;
        use RunStatus as S;
        let next = match (self, event) {
            (S::Queued | S::Waiting, E::Claim) => S::Running,
            (S::Running, E::Wait) => S::Waiting,
            (S::Running, E::Succeed) => S::Succeeded,
            (S::Running, E::Fail) => S::Failed,
            (S::Queued | S::Running | S::Waiting, E::Cancel) => S::Canceled,
            (S::Failed, E::Retry) => S::Queued,
            (from, event) => return Err(Illegal { from, event }),
        };
        Ok(next)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StepStatus {
    pub const ALL: [StepStatus; 7] = [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::Succeeded,
        StepStatus::RetryWait,
        StepStatus::Failed,
        StepStatus::Skipped,
        StepStatus::UnknownOutcome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::RetryWait => "retry_wait",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::UnknownOutcome => "unknown_outcome",
        }
    }

    pub fn parse(text: &str) -> Option<StepStatus> {
        StepStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Done with, one way or another: the walk moves past it (a failed one ends the run).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Failed
        )
    }

    /// Whether a step may move from `self` to `to`.
    pub fn can_become(self, to: StepStatus) -> bool {
        use StepStatus as S;
        matches!(
            (self, to),
            (S::Pending | S::RetryWait, S::Running)
                | (S::Pending, S::Skipped)
                | (
                    S::Running,
                    S::Succeeded | S::RetryWait | S::Failed | S::UnknownOutcome
                )
                // A person retries a failed step or resolves an unclear one.
                | (S::Failed | S::UnknownOutcome, S::Pending)
                | (S::UnknownOutcome, S::Succeeded)
        )
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of a version in execution order, with the `if` branches it sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub key: String,
    /// `(if step key, branch)`: the step runs only where every such `if` took that branch.
    pub guard: Vec<(String, bool)>,
}

/// What a step left in the journal, as the walk needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journaled {
    pub status: StepStatus,
    /// For an `if`: the branch it took.
    pub branch: Option<bool>,
}

/// What a run does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Execute this step (it is pending, retrying, or was running when a worker died).
    Execute(String),
    /// Journal this step as skipped (its branch was not taken).
    Skip(String),
    /// A step waits for a person (`unknown_outcome`): the run waits.
    Blocked(String),
    /// A step failed for good: the run fails.
    Failed(String),
    /// Every step is settled.
    Done,
}

/// The next thing to do, walking the plan in order over the journal.
pub fn next(plan: &[Planned], journal: &HashMap<String, Journaled>) -> Next {
    for step in plan {
        match journal.get(&step.key).map(|entry| entry.status) {
            Some(StepStatus::Succeeded | StepStatus::Skipped) => continue,
            Some(StepStatus::Failed) => return Next::Failed(step.key.clone()),
            Some(StepStatus::UnknownOutcome) => return Next::Blocked(step.key.clone()),
            Some(StepStatus::Pending | StepStatus::Running | StepStatus::RetryWait) | None => {}
        }
        let taken = step.guard.iter().all(|(branch_of, wanted)| {
            journal.get(branch_of).is_some_and(|entry| {
                entry.status == StepStatus::Succeeded && entry.branch == Some(*wanted)
            })
        });
        return if taken {
            Next::Execute(step.key.clone())
        } else {
            Next::Skip(step.key.clone())
        };
    }
    Next::Done
}

/// Whether a step — for a `for_each`, a step inside it — sends a request to an outside system (a `notify`
/// to phones or e-mail addresses included): what a batch leaves to a transaction of its own.
pub fn reaches_outside(action: &crate::compile::Action) -> bool {
    use crate::compile::Action;
    match action {
        Action::Http(_)
        | Action::Robot(_)
        | Action::Sms(_)
        | Action::Email(_)
        | Action::Voucher(_)
        | Action::Sql(_) => true,
        Action::Notify { phones, emails, .. } => phones.is_some() || emails.is_some(),
        Action::ForEach { steps, .. } => steps.iter().any(|step| reaches_outside(&step.action)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(key: &str, guard: &[(&str, bool)]) -> Planned {
        Planned {
            key: key.to_owned(),
            guard: guard.iter().map(|(k, b)| ((*k).to_owned(), *b)).collect(),
        }
    }

    fn done(branch: Option<bool>) -> Journaled {
        Journaled {
            status: StepStatus::Succeeded,
            branch,
        }
    }

    #[test]
    fn the_walk_executes_the_taken_branch_and_skips_the_other() {
        let plan = vec![
            planned("check", &[]),
            planned("yes", &[("check", true)]),
            planned("no", &[("check", false)]),
            planned("after", &[]),
        ];
        let mut journal = HashMap::new();
        assert_eq!(next(&plan, &journal), Next::Execute("check".into()));
        journal.insert("check".to_owned(), done(Some(false)));
        assert_eq!(next(&plan, &journal), Next::Skip("yes".into()));
        journal.insert(
            "yes".to_owned(),
            Journaled {
                status: StepStatus::Skipped,
                branch: None,
            },
        );
        assert_eq!(next(&plan, &journal), Next::Execute("no".into()));
        journal.insert("no".to_owned(), done(None));
        assert_eq!(next(&plan, &journal), Next::Execute("after".into()));
        journal.insert("after".to_owned(), done(None));
        assert_eq!(next(&plan, &journal), Next::Done);
    }

    #[test]
    fn a_failed_step_fails_the_run_and_an_unclear_one_blocks_it() {
        let plan = vec![planned("a", &[]), planned("b", &[])];
        let mut journal = HashMap::new();
        journal.insert(
            "a".to_owned(),
            Journaled {
                status: StepStatus::UnknownOutcome,
                branch: None,
            },
        );
        assert_eq!(next(&plan, &journal), Next::Blocked("a".into()));
        if let Some(entry) = journal.get_mut("a") {
            entry.status = StepStatus::Failed;
        }
        assert_eq!(next(&plan, &journal), Next::Failed("a".into()));
    }

    #[test]
    fn a_step_running_when_its_worker_died_is_executed_again() {
        let plan = vec![planned("a", &[])];
        let journal = HashMap::from([(
            "a".to_owned(),
            Journaled {
                status: StepStatus::Running,
                branch: None,
            },
        )]);
        assert_eq!(next(&plan, &journal), Next::Execute("a".into()));
    }

    #[test]
    fn final_runs_move_only_by_a_retry_of_a_failed_one() {
        for status in RunStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for event in [
                RunEvent::Claim,
                RunEvent::Wait,
                RunEvent::Succeed,
                RunEvent::Fail,
                RunEvent::Cancel,
            ] {
                assert!(status.apply(event).is_err(), "{status} {event:?}");
            }
        }
        assert_eq!(
            RunStatus::Failed.apply(RunEvent::Retry),
            Ok(RunStatus::Queued)
        );
        assert!(RunStatus::Succeeded.apply(RunEvent::Retry).is_err());
    }
}
