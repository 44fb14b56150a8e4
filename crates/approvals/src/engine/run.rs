//! One command's work in progress: the state being changed and what the change leaves behind (records,
//! events, the status to write, timers), with the small steps every action is made of.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tenon_model::{ActivationId, ApprovalTaskId, MemberId};

use super::{Refusal, Reminder, StatusWrite, Timer, TimerKind, Transition};
use crate::definition::Method;
use crate::directory::DirectorySnapshot;
use crate::history::{Acting, ApprovalEvent, OperationRecord, RecordKind, Snapshot};
use crate::state::{
    Activation, ActivationStatus, Group, Instance, InstanceState, Task, TaskResult, TaskStatus,
};

/// Steps one command may take through the graph and its groups before it is called a runaway.
pub(crate) const STEPS_MAX: usize = 10_000;

pub(crate) struct Run {
    /// The tasks that ran before the command (they keep their timers).
    running_before: HashSet<ApprovalTaskId>,
    pub state: InstanceState,
    pub now: DateTime<Utc>,
    pub records: Vec<OperationRecord>,
    pub events: Vec<ApprovalEvent>,
    pub status: Option<StatusWrite>,
    pub timers: Vec<Timer>,
    pub reminders: Vec<Reminder>,
    /// The comment of the refusal that ends the instance, for the record's comment field.
    pub refusal_comment: Option<String>,
}

impl Run {
    pub fn new(state: InstanceState, now: DateTime<Utc>) -> Run {
        let running_before = state
            .tasks
            .iter()
            .filter(|task| task.status == TaskStatus::Running)
            .map(|task| task.id)
            .collect();
        Run {
            running_before,
            state,
            now,
            records: Vec::new(),
            events: Vec::new(),
            status: None,
            timers: Vec::new(),
            reminders: Vec::new(),
            refusal_comment: None,
        }
    }

    pub fn finish(mut self, action: &'static str) -> Transition {
        if !self.records.is_empty() || !self.events.is_empty() {
            self.state.instance.row_version += 1;
        }
        self.set_timers();
        Transition {
            state: self.state,
            records: self.records,
            events: self.events,
            status: self.status,
            timers: self.timers,
            reminders: self.reminders,
            action,
        }
    }

    /// Every task that started running in this command — created, or resumed after the approvers added
    /// before it — gets its reminder and timeout, due from now. A task created paused (the transfer of a
    /// paused task) gets them when it resumes; one that ended within the command gets none.
    fn set_timers(&mut self) {
        let settings = self.state.process.process.settings;
        if settings.remind_after_hours.is_none() && settings.timeout.is_none() {
            return;
        }
        for task in &self.state.tasks {
            if task.status != TaskStatus::Running || self.running_before.contains(&task.id) {
                continue;
            }
            if let Some(hours) = settings.remind_after_hours {
                self.timers.push(Timer {
                    task: task.id,
                    kind: TimerKind::Remind,
                    due: self.now + TimeDelta::hours(i64::from(hours)),
                });
            }
            if let Some(timeout) = settings.timeout {
                self.timers.push(Timer {
                    task: task.id,
                    kind: TimerKind::Timeout,
                    due: self.now + TimeDelta::hours(i64::from(timeout.after_hours)),
                });
            }
        }
    }

    pub fn directory(&self) -> Result<Arc<DirectorySnapshot>, Refusal> {
        self.state.directory.clone().ok_or(Refusal::NeedsDirectory)
    }

    pub fn instance(&self) -> &Instance {
        &self.state.instance
    }

    /// Appends an operation record.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        kind: RecordKind,
        by: Option<&Acting>,
        task: Option<usize>,
        result: Option<TaskResult>,
        comment: Option<String>,
        members: Vec<MemberId>,
        automatic: bool,
    ) {
        self.state.instance.last_record_seq += 1;
        let (task_id, node) = match task {
            Some(idx) => (
                Some(self.state.tasks[idx].id),
                Some(self.state.tasks[idx].node.clone()),
            ),
            None => (None, None),
        };
        self.records.push(OperationRecord {
            seq: self.state.instance.last_record_seq,
            kind,
            actor: by.and_then(|by| by.member),
            credential: by.map_or(tenon_model::Actor::System, |by| by.credential.clone()),
            task: task_id,
            node,
            result,
            comment: comment.filter(|text| !text.trim().is_empty()),
            members,
            automatic,
            at: self.now,
        });
    }

    /// A record about a node rather than a task (a CC node, an automatic pass with nobody to approve).
    pub fn record_at_node(&mut self, kind: RecordKind, node: &str, members: Vec<MemberId>) {
        self.record(kind, None, None, None, None, members, true);
        if let Some(record) = self.records.last_mut() {
            record.node = Some(node.to_owned());
        }
    }

    pub fn event(
        &mut self,
        event_type: &'static str,
        before: Option<Snapshot>,
        after: Option<Snapshot>,
    ) {
        self.state.instance.last_event_seq += 1;
        self.events.push(ApprovalEvent {
            event_type,
            instance_seq: self.state.instance.last_event_seq,
            before,
            after,
        });
    }

    /// Changes the instance and appends `event_type` with it before and after.
    pub fn change_instance(
        &mut self,
        event_type: &'static str,
        change: impl FnOnce(&mut Instance),
    ) {
        let before = self.state.instance.clone();
        change(&mut self.state.instance);
        let after = self.state.instance.clone();
        self.event(
            event_type,
            Some(Snapshot::Instance(Box::new(before))),
            Some(Snapshot::Instance(Box::new(after))),
        );
    }

    /// Changes a task and appends `event_type` with it before and after.
    pub fn change_task(
        &mut self,
        idx: usize,
        event_type: &'static str,
        change: impl FnOnce(&mut Task),
    ) {
        let before = self.state.tasks[idx].clone();
        change(&mut self.state.tasks[idx]);
        let after = self.state.tasks[idx].clone();
        self.event(
            event_type,
            Some(Snapshot::Task(Box::new(before))),
            Some(Snapshot::Task(Box::new(after))),
        );
    }

    /// Ends a task with a result.
    pub fn complete(&mut self, idx: usize, result: TaskResult, event_type: &'static str) {
        let now = self.now;
        self.change_task(idx, event_type, |task| {
            task.status = TaskStatus::Completed;
            task.result = Some(result);
            task.finished_at = Some(now);
        });
    }

    /// Who a task meant for `member` starts for now: their delegate (the end of their chain of standing
    /// delegations covering this process), or the member.
    pub fn delegate(&self, member: MemberId) -> MemberId {
        crate::delegation::delegate_of(
            &self.state.delegations,
            member,
            &self.state.instance.process_code,
            self.now,
        )
    }

    /// `members` (in order, each once) without those whose task would start for the same member as an
    /// earlier one's — a delegate who is also an approver, or the delegate of two approvers, gets one
    /// task, in the first place it comes (the rule of docs/approvals.md, "Delegation").
    pub fn one_task_each(&self, members: Vec<MemberId>) -> Vec<MemberId> {
        let mut assignees = HashSet::new();
        members
            .into_iter()
            .filter(|member| assignees.insert(self.delegate(*member)))
            .collect()
    }

    /// A new running task for `member` in group `group` of activation `activation` — or for the member
    /// their standing delegation names, with an automatic `redirect_task` record `[member, delegate]`.
    pub fn create_task(&mut self, activation: usize, group: u32, member: MemberId) -> usize {
        let delegate = self.delegate(member);
        let idx = self.create_task_exact(activation, group, delegate);
        if delegate != member {
            self.record(
                RecordKind::RedirectTask,
                None,
                Some(idx),
                None,
                None,
                vec![member, delegate],
                true,
            );
        }
        idx
    }

    /// A new running task for exactly `member` (the initiator's own task to resubmit is never delegated).
    pub fn create_task_exact(&mut self, activation: usize, group: u32, member: MemberId) -> usize {
        let node = self.state.activations[activation].node.clone();
        let task = Task {
            id: ApprovalTaskId::new(),
            instance: self.state.instance.id,
            number: 0,
            activation: self.state.activations[activation].id,
            node,
            group,
            assignee: member,
            status: TaskStatus::Running,
            result: None,
            created_at: self.now,
            finished_at: None,
        };
        self.event(
            "approval.task.created",
            None,
            Some(Snapshot::Task(Box::new(task.clone()))),
        );
        self.state.tasks.push(task);
        self.state.tasks.len() - 1
    }

    /// Reminds the assignee of the running task `idx` (once per task per command).
    pub fn remind(&mut self, idx: usize, by: Option<MemberId>, comment: Option<&str>) {
        let task = &self.state.tasks[idx];
        if task.status == TaskStatus::Running
            && !self
                .reminders
                .iter()
                .any(|reminder| reminder.task == task.id)
        {
            self.reminders.push(Reminder {
                task: task.id,
                assignee: task.assignee,
                by,
                comment: comment.map(str::to_owned),
            });
        }
    }

    /// Cancels the open tasks `which` selects.
    pub fn cancel_tasks(&mut self, which: impl Fn(&Task) -> bool) {
        let now = self.now;
        let open: Vec<usize> = (0..self.state.tasks.len())
            .filter(|&i| self.state.tasks[i].status.is_open() && which(&self.state.tasks[i]))
            .collect();
        for idx in open {
            self.change_task(idx, "approval.task.canceled", |task| {
                task.status = TaskStatus::Canceled;
                task.finished_at = Some(now);
            });
        }
    }

    /// Cancels every open task and closes every open activation (the instance ends or is returned).
    pub fn cancel_everything(&mut self) {
        self.cancel_tasks(|_| true);
        let now = self.now;
        for activation in &mut self.state.activations {
            if activation.status == ActivationStatus::Open {
                activation.status = ActivationStatus::Canceled;
                activation.finished_at = Some(now);
            }
        }
    }

    /// A new open activation of `node` with its group 0.
    pub fn open_activation(
        &mut self,
        node: &str,
        method: Method,
        waiting: Vec<MemberId>,
        voters: u32,
    ) -> usize {
        let visit = self
            .state
            .activations
            .iter()
            .filter(|activation| activation.node == node)
            .count() as u32
            + 1;
        self.state.activations.push(Activation {
            id: ActivationId::new(),
            node: node.to_owned(),
            visit,
            status: ActivationStatus::Open,
            groups: vec![Group {
                number: 0,
                method,
                parent: None,
                before: false,
                waiting,
                voters,
                closed: false,
            }],
            created_at: self.now,
            finished_at: None,
        });
        self.state.activations.len() - 1
    }

    /// Ends an activation.
    pub fn close_activation(&mut self, activation: usize, status: ActivationStatus) {
        let entry = &mut self.state.activations[activation];
        entry.status = status;
        entry.finished_at = Some(self.now);
    }

    pub fn activation_index(&self, id: ActivationId) -> Option<usize> {
        self.state
            .activations
            .iter()
            .position(|activation| activation.id == id)
    }

    pub fn task_index(&self, id: ApprovalTaskId) -> Option<usize> {
        self.state.tasks.iter().position(|task| task.id == id)
    }
}
