//! Moving through the graph: entering nodes (conditions, CC, approvers resolved once on entry, automatic
//! passes), deciding groups and activations as tasks end, and ending the instance.

use tenon_model::MemberId;
use tenon_model::apps::computed::eval_formula;
use tenon_model::apps::formula::EvalContext;

use super::Refusal;
use super::StatusWrite;
use super::run::{Run, STEPS_MAX};
use crate::definition::{
    CcAt, Dedupe, END, INITIATOR, InitiatorIsApprover, Method, NoApprover, NodeKind, OnRefuse, Rule,
};
use crate::directory::Resolution;
use crate::history::{RecordKind, Snapshot};
use crate::state::{ActivationStatus, Decision, InstanceStatus, TaskResult, TaskStatus};

/// How a group or an activation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Open,
    Passed,
    Refused,
}

impl Run {
    /// The members `rules` resolve to for `node` now.
    pub fn resolve(&self, rules: &[Rule], node: &str) -> Result<Vec<MemberId>, Refusal> {
        let directory = self.directory()?;
        let instance = &self.state.instance;
        let resolution = Resolution {
            directory: &directory,
            fields: &self.state.process.fields,
            values: &instance.values,
            created_by: instance.created_by,
            modified_by: instance.modified_by,
            initiator: instance.initiator,
            start_department: directory.start_department(instance.initiator, instance.department),
            selected: instance
                .selected
                .get(node)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        resolution
            .resolve(rules)
            .map_err(|too_many| Refusal::TooManyApprovers(too_many.0))
    }

    /// Enters `target` and keeps going through nodes that need nobody (conditions, CC, automatic
    /// passes) until tasks wait or the instance ends.
    pub fn enter(&mut self, target: &str) -> Result<(), Refusal> {
        let mut target = target.to_owned();
        for _ in 0..STEPS_MAX {
            if target == END {
                return self.end_with(Decision::Agree);
            }
            let process = self.state.process.clone();
            let Some(node) = process.process.node(&target) else {
                return Err(Refusal::Stale(format!("the process has no node {target}")));
            };
            match &node.kind {
                NodeKind::End => {
                    let activation = self.open_activation(&node.key, Method::Or, Vec::new(), 0);
                    self.close_activation(activation, ActivationStatus::Passed);
                    return self.end_with(Decision::Agree);
                }
                NodeKind::Condition { branches, default } => {
                    let activation = self.open_activation(&node.key, Method::Or, Vec::new(), 0);
                    self.close_activation(activation, ActivationStatus::Passed);
                    let formulas = process.conditions.get(&node.key);
                    let context = EvalContext::new(self.now, self.state.time_zone.tz());
                    let chosen = branches.iter().enumerate().find(|(b, _)| {
                        formulas
                            .and_then(|formulas| formulas.get(*b))
                            .is_some_and(|formula| {
                                eval_formula(formula, &self.state.instance.values, &context)
                                    .is_true()
                            })
                    });
                    target = chosen.map_or(default, |(_, branch)| &branch.next).clone();
                }
                NodeKind::Cc { approvers, next } => {
                    let activation = self.open_activation(&node.key, Method::Or, Vec::new(), 0);
                    self.close_activation(activation, ActivationStatus::Passed);
                    let members = self.resolve(approvers, &node.key)?;
                    self.cc(members, Some(node.key.clone()), None, true);
                    target = next.clone();
                }
                NodeKind::Approval {
                    method,
                    approvers,
                    next,
                }
                | NodeKind::Handle {
                    method,
                    approvers,
                    next,
                } => {
                    let mut members = self.resolve(approvers, &node.key)?;
                    self.initiator_setting(&mut members)?;
                    if members.is_empty() {
                        members = match process.process.settings.no_approver {
                            NoApprover::Pass => Vec::new(),
                            NoApprover::Admin => self.directory()?.admins.clone(),
                            NoApprover::Member(member) => {
                                if self.directory()?.is_active(member) {
                                    vec![member]
                                } else {
                                    Vec::new()
                                }
                            }
                        };
                    }
                    // After delegation, each member once: a delegate who is also an approver of the
                    // node (or stands in for two) decides once.
                    let mut members = self.one_task_each(members);
                    if members.is_empty() {
                        let activation = self.open_activation(&node.key, *method, Vec::new(), 0);
                        self.close_activation(activation, ActivationStatus::Passed);
                        self.record_at_node(RecordKind::ExecuteTaskAuto, &node.key, Vec::new());
                        target = next.clone();
                        continue;
                    }
                    let voters = u32::try_from(members.len()).unwrap_or(u32::MAX);
                    let (now, waiting) = if *method == Method::OneByOne {
                        let rest = members.split_off(1);
                        (members, rest)
                    } else {
                        (members, Vec::new())
                    };
                    let activation = self.open_activation(&node.key, *method, waiting, voters);
                    let activation_id = self.state.activations[activation].id;
                    for member in now {
                        // An OR node that passed by itself (an automatic pass) asks nobody else.
                        if *method == Method::Or && self.or_decided(activation_id, 0) {
                            break;
                        }
                        self.start_task(activation, 0, member);
                    }
                    match self.settle(activation)? {
                        Outcome::Open => return Ok(()),
                        Outcome::Passed => {
                            self.pass_activation(activation);
                            target = next.clone();
                        }
                        Outcome::Refused => return self.refuse_activation(activation),
                    }
                }
            }
        }
        Err(Refusal::Stale(
            "the process does not come to rest; check it for a loop".into(),
        ))
    }

    /// Applies the initiator-is-approver setting to a node's approvers.
    fn initiator_setting(&mut self, members: &mut Vec<MemberId>) -> Result<(), Refusal> {
        let initiator = self.state.instance.initiator;
        if self.state.process.process.settings.initiator_is_approver == InitiatorIsApprover::Manager
            && let Some(at) = members.iter().position(|member| *member == initiator)
        {
            let directory = self.directory()?;
            let start = directory.start_department(initiator, self.state.instance.department);
            let managers = directory
                .manager_levels(initiator, start)
                .into_iter()
                .next()
                .unwrap_or_default();
            if !managers.is_empty() {
                members.splice(at..=at, managers);
                let mut seen = std::collections::HashSet::new();
                members.retain(|member| seen.insert(*member));
            }
        }
        Ok(())
    }

    /// Whether `member`'s task at this activation passes by itself (initiator auto-pass, de-duplication).
    fn passes_by_itself(&self, activation: usize, member: MemberId) -> bool {
        let settings = self.state.process.process.settings;
        if settings.initiator_is_approver == InitiatorIsApprover::AutoPass
            && member == self.state.instance.initiator
        {
            return true;
        }
        let current = self.state.activations[activation].id;
        let agreed_at = |activation_id| {
            self.state.tasks.iter().any(|task| {
                task.activation == activation_id
                    && task.assignee == member
                    && task.result == Some(TaskResult::Agree)
            })
        };
        match settings.dedupe {
            Dedupe::Off => false,
            Dedupe::KeepFirst => self
                .state
                .activations
                .iter()
                .any(|other| other.id != current && agreed_at(other.id)),
            Dedupe::Consecutive => self.state.activations[..activation]
                .iter()
                .rev()
                .find(|other| {
                    other.node != INITIATOR
                        && self
                            .state
                            .tasks
                            .iter()
                            .any(|task| task.activation == other.id)
                })
                .is_some_and(|previous| agreed_at(previous.id)),
        }
    }

    fn is_handle(&self, activation: usize) -> bool {
        let node = &self.state.activations[activation].node;
        matches!(
            self.state.process.process.node(node).map(|node| &node.kind),
            Some(NodeKind::Handle { .. })
        ) || node == INITIATOR
    }

    /// The result an agreeing task of this activation gets: `done` at a handle node, else `agree`.
    pub fn agree_result(&self, activation: usize) -> TaskResult {
        if self.is_handle(activation) {
            TaskResult::Done
        } else {
            TaskResult::Agree
        }
    }

    /// A running task for `member` in a group, passed at once when the settings say so.
    pub fn start_task(&mut self, activation: usize, group: u32, member: MemberId) -> usize {
        let idx = self.create_task(activation, group, member);
        // The assignee, who may be the member's delegate.
        let member = self.state.tasks[idx].assignee;
        if group == 0 && self.passes_by_itself(activation, member) {
            let result = self.agree_result(activation);
            self.complete(idx, result, "approval.task.auto_approved");
            self.record(
                RecordKind::ExecuteTaskAuto,
                None,
                Some(idx),
                Some(result),
                None,
                Vec::new(),
                true,
            );
        }
        idx
    }

    fn task_outcome(&self, activation: usize, task: &crate::state::Task) -> Option<Outcome> {
        match (task.status, task.result) {
            (TaskStatus::Completed, Some(TaskResult::Agree | TaskResult::Done)) => {
                let groups = &self.state.activations[activation].groups;
                for group in groups
                    .iter()
                    .filter(|group| group.parent == Some(task.id) && !group.before)
                {
                    match self.group_outcome(activation, group.number) {
                        Outcome::Passed => {}
                        other => return Some(other),
                    }
                }
                Some(Outcome::Passed)
            }
            (TaskStatus::Completed, Some(TaskResult::Refuse)) => Some(Outcome::Refused),
            (TaskStatus::Completed, Some(TaskResult::Returned)) => Some(Outcome::Open),
            (TaskStatus::Completed, _) | (TaskStatus::Canceled, _) => None,
            _ => Some(Outcome::Open),
        }
    }

    pub(crate) fn group_outcome(&self, activation: usize, number: u32) -> Outcome {
        let entry = &self.state.activations[activation];
        let Some(group) = entry.groups.iter().find(|group| group.number == number) else {
            return Outcome::Open;
        };
        let outcomes: Vec<Outcome> = self
            .state
            .tasks
            .iter()
            .filter(|task| task.activation == entry.id && task.group == number)
            .filter_map(|task| self.task_outcome(activation, task))
            .collect();
        let agreed = outcomes.iter().filter(|o| **o == Outcome::Passed).count();
        let refused = outcomes.iter().filter(|o| **o == Outcome::Refused).count();
        let open = outcomes.iter().filter(|o| **o == Outcome::Open).count();
        match group.method {
            Method::Or => {
                if agreed > 0 {
                    Outcome::Passed
                } else if refused > 0 {
                    Outcome::Refused
                } else {
                    Outcome::Open
                }
            }
            Method::And | Method::OneByOne => {
                if refused > 0 {
                    Outcome::Refused
                } else if open == 0 && group.waiting.is_empty() {
                    Outcome::Passed
                } else {
                    Outcome::Open
                }
            }
            Method::Vote { pass_percent } => {
                let total = group.voters as usize;
                let needed = usize::from(pass_percent) * total;
                if agreed * 100 >= needed {
                    Outcome::Passed
                } else if total.saturating_sub(refused) * 100 < needed {
                    Outcome::Refused
                } else {
                    Outcome::Open
                }
            }
        }
    }

    /// Decides what can be decided in an activation after a task changed: add-sign groups close and
    /// resume or refuse, one-by-one groups start their next task, and group 0 says how the activation
    /// stands.
    pub fn settle(&mut self, activation: usize) -> Result<Outcome, Refusal> {
        for _ in 0..STEPS_MAX {
            let mut progressed = false;
            let groups = self.state.activations[activation].groups.clone();
            for group in groups.iter().rev() {
                if group.closed {
                    continue;
                }
                let outcome = self.group_outcome(activation, group.number);
                let activation_id = self.state.activations[activation].id;
                match (outcome, group.parent) {
                    (Outcome::Open, _)
                        if group.method == Method::Or
                            && self.or_decided(activation_id, group.number) =>
                    {
                        // An OR group has its one agreement (waiting for approvers added after it):
                        // nobody else in the group decides any more.
                        if self.cancel_group(activation, group.number) {
                            progressed = true;
                            break;
                        }
                    }
                    (Outcome::Open, _) => {
                        let idle = !self.state.tasks.iter().any(|task| {
                            task.activation == activation_id
                                && task.group == group.number
                                && task.status.is_open()
                        });
                        if group.method == Method::OneByOne && idle && !group.waiting.is_empty() {
                            let member = self.state.activations[activation].groups
                                [group.number as usize]
                                .waiting
                                .remove(0);
                            if let Some(member) =
                                self.next_in_turn(activation, group.number, member)?
                            {
                                self.start_task(activation, group.number, member);
                            }
                            progressed = true;
                            break;
                        }
                    }
                    (decided, Some(parent)) => {
                        self.cancel_group(activation, group.number);
                        self.state.activations[activation].groups[group.number as usize].closed =
                            true;
                        if decided == Outcome::Refused {
                            return Ok(Outcome::Refused);
                        }
                        if group.before
                            && let Some(idx) = self.task_index(parent)
                            && self.state.tasks[idx].status == TaskStatus::Paused
                        {
                            self.change_task(idx, "approval.task.resumed", |task| {
                                task.status = TaskStatus::Running;
                            });
                        }
                        progressed = true;
                        break;
                    }
                    (decided, None) => return Ok(decided),
                }
            }
            if !progressed {
                return Ok(Outcome::Open);
            }
        }
        Err(Refusal::Stale("the node does not come to rest".into()))
    }

    /// Who gets the task of a one-by-one approver whose turn came: the member — or, when they are no
    /// longer active, whom a member leaving hands their tasks to ([`Run::replacement`]) — unless that
    /// task would start for a member who already has one in the group, open or agreed (then nobody:
    /// they decided, or decide, once).
    fn next_in_turn(
        &self,
        activation: usize,
        group: u32,
        member: MemberId,
    ) -> Result<Option<MemberId>, Refusal> {
        let directory = self.directory()?;
        let member = if directory.is_active(member) {
            member
        } else {
            match self.replacement(member)? {
                Some(to) => to,
                None => return Ok(None),
            }
        };
        let assignee = self.delegate(member);
        let activation_id = self.state.activations[activation].id;
        let decided_already = self.state.tasks.iter().any(|task| {
            task.activation == activation_id
                && task.group == group
                && task.assignee == assignee
                && (task.status.is_open()
                    || matches!(task.result, Some(TaskResult::Agree | TaskResult::Done)))
        });
        Ok((!decided_already).then_some(member))
    }

    /// Whom the tasks of `member`, who left, go to: their nearest active manager, else as the process's
    /// no-approver setting says (an administrator, or the named member); `None`: nobody (they pass).
    pub fn replacement(&self, member: MemberId) -> Result<Option<MemberId>, Refusal> {
        let directory = self.directory()?;
        let start = directory.start_department(member, None);
        Ok(directory
            .manager_levels(member, start)
            .into_iter()
            .flatten()
            .find(|head| *head != member && directory.is_active(*head))
            .or_else(|| match self.state.process.process.settings.no_approver {
                NoApprover::Admin => directory
                    .admins
                    .iter()
                    .copied()
                    .find(|admin| *admin != member),
                NoApprover::Member(other) if other != member && directory.is_active(other) => {
                    Some(other)
                }
                _ => None,
            }))
    }

    /// Whether a task of an OR group has agreed (its group may still wait for approvers it added after).
    fn or_decided(&self, activation: tenon_model::ActivationId, number: u32) -> bool {
        self.state.tasks.iter().any(|task| {
            task.activation == activation
                && task.group == number
                && task.status == TaskStatus::Completed
                && matches!(task.result, Some(TaskResult::Agree | TaskResult::Done))
        })
    }

    /// Cancels the open tasks of a group and, with them, the groups they added. Returns whether it
    /// canceled anything.
    fn cancel_group(&mut self, activation: usize, number: u32) -> bool {
        let activation_id = self.state.activations[activation].id;
        let before = self.events.len();
        let mut numbers = vec![number];
        while let Some(number) = numbers.pop() {
            let canceled: Vec<tenon_model::ApprovalTaskId> = self
                .state
                .tasks
                .iter()
                .filter(|task| {
                    task.activation == activation_id
                        && task.group == number
                        && task.status.is_open()
                })
                .map(|task| task.id)
                .collect();
            self.cancel_tasks(|task| canceled.contains(&task.id));
            for group in &mut self.state.activations[activation].groups {
                if group
                    .parent
                    .is_some_and(|parent| canceled.contains(&parent))
                    && !group.closed
                {
                    group.closed = true;
                    group.waiting.clear();
                    numbers.push(group.number);
                }
            }
        }
        self.events.len() > before
    }

    /// Settles an activation after one of its tasks changed and moves on when it is decided.
    pub fn proceed(&mut self, activation: usize) -> Result<(), Refusal> {
        match self.settle(activation)? {
            Outcome::Open => Ok(()),
            Outcome::Refused => self.refuse_activation(activation),
            Outcome::Passed => {
                let node = self.state.activations[activation].node.clone();
                self.pass_activation(activation);
                let next = match self
                    .state
                    .process
                    .process
                    .node(&node)
                    .map(|node| &node.kind)
                {
                    Some(NodeKind::Approval { next, .. } | NodeKind::Handle { next, .. }) => {
                        next.clone()
                    }
                    _ => self
                        .state
                        .process
                        .process
                        .nodes
                        .first()
                        .map_or_else(|| END.to_owned(), |first| first.key.clone()),
                };
                self.enter(&next)
            }
        }
    }

    /// An activation passed: its other open tasks end.
    pub fn pass_activation(&mut self, activation: usize) {
        let id = self.state.activations[activation].id;
        self.cancel_tasks(|task| task.activation == id);
        self.close_activation(activation, ActivationStatus::Passed);
    }

    /// An activation refused: its open tasks end, and the instance ends refused or goes back to the
    /// initiator, as the process says.
    pub fn refuse_activation(&mut self, activation: usize) -> Result<(), Refusal> {
        let id = self.state.activations[activation].id;
        self.cancel_tasks(|task| task.activation == id);
        self.close_activation(activation, ActivationStatus::Refused);
        match self.state.process.process.settings.on_refuse {
            OnRefuse::End => self.end_with(Decision::Refuse),
            // An initiator who left cannot resubmit: the instance ends refused.
            OnRefuse::ReturnToInitiator if !self.initiator_active()? => {
                self.end_with(Decision::Refuse)
            }
            OnRefuse::ReturnToInitiator => {
                self.back_to_initiator();
                Ok(())
            }
        }
    }

    /// Whether the initiator is still an active member (one who left gets no task to resubmit).
    pub fn initiator_active(&self) -> Result<bool, Refusal> {
        Ok(self.directory()?.is_active(self.state.instance.initiator))
    }

    /// Everything open ends; the initiator gets a task to resubmit (or withdraw). Callers check that
    /// the initiator is active ([`Run::initiator_active`]).
    pub fn back_to_initiator(&mut self) {
        self.cancel_everything();
        let initiator = self.state.instance.initiator;
        let activation = self.open_activation(INITIATOR, Method::Or, Vec::new(), 1);
        self.create_task_exact(activation, 0, initiator);
    }

    /// CC'd members: a record and an `approval.cc` event (nothing when nobody resolves).
    pub fn cc(
        &mut self,
        members: Vec<MemberId>,
        node: Option<String>,
        by: Option<&crate::history::Acting>,
        automatic: bool,
    ) {
        if members.is_empty() {
            return;
        }
        self.record(
            RecordKind::ProcessCc,
            by,
            None,
            None,
            None,
            members.clone(),
            automatic,
        );
        if let Some(record) = self.records.last_mut() {
            record.node.clone_from(&node);
        }
        self.event("approval.cc", None, Some(Snapshot::Cc { members, node }));
    }

    /// The CC rules of the process's settings that apply `at` (start, or finish when approved).
    pub fn cc_at(&mut self, finish: bool) -> Result<(), Refusal> {
        let rules: Vec<Rule> = self
            .state
            .process
            .process
            .cc
            .iter()
            .filter(|cc| match cc.at {
                CcAt::Both => true,
                CcAt::Start => !finish,
                CcAt::Finish => finish,
            })
            .flat_map(|cc| cc.approvers.clone())
            .collect();
        if rules.is_empty() {
            return Ok(());
        }
        let members = self.resolve(&rules, "")?;
        self.cc(members, None, None, true);
        Ok(())
    }

    /// Ends the instance with `decision`: the finish record, the instance event, CC at finish (approved
    /// only) and the record status.
    pub fn end_with(&mut self, decision: Decision) -> Result<(), Refusal> {
        self.cancel_everything();
        let now = self.now;
        self.record(
            RecordKind::FinishProcessInstance,
            None,
            None,
            None,
            None,
            Vec::new(),
            true,
        );
        let event_type = match decision {
            Decision::Agree => "approval.instance.approved",
            Decision::Refuse => "approval.instance.refused",
        };
        self.change_instance(event_type, |instance| {
            instance.status = InstanceStatus::Completed;
            instance.result = Some(decision);
            instance.finished_at = Some(now);
        });
        if decision == Decision::Agree {
            self.cc_at(true)?;
        }
        let status = self.state.process.process.record_status.as_ref();
        let value = status.and_then(|status| match decision {
            Decision::Agree => status.agree.clone(),
            Decision::Refuse => status.refuse.clone(),
        });
        let comment = (decision == Decision::Refuse)
            .then(|| self.refusal_comment.clone())
            .flatten();
        self.status = Some(StatusWrite { value, comment });
        Ok(())
    }
}
