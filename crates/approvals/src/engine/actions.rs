//! The commands: who may do what to which task, and what each does.

use std::collections::HashSet;

use tenon_model::{Actor, ApprovalTaskId, DetailCode, Invalid, MemberId};

use super::run::Run;
use super::{Command, Position, Refusal, ReturnTo, StatusWrite, Submission};
use crate::definition::{APPROVERS_MAX, INITIATOR, Method, NodeKind, Rule};
use crate::directory::Resolution;
use crate::history::{Acting, RecordKind};
use crate::state::{ActivationStatus, Group, InstanceStatus, TaskResult, TaskStatus};

/// An add-sign or CC names 1 to [`APPROVERS_MAX`] members: none is `required`, more is `too_many`.
pub(super) fn check_member_count(members: &[MemberId]) -> Result<(), Refusal> {
    if members.is_empty() {
        return Err(Refusal::Invalid(Invalid::one(
            "members",
            DetailCode::Required,
            format!("name 1 to {APPROVERS_MAX} members"),
        )));
    }
    if members.len() > APPROVERS_MAX {
        return Err(Refusal::Invalid(Invalid::from(
            tenon_model::Reason::too_many(
                APPROVERS_MAX,
                format!(
                    "{} members named; name at most {APPROVERS_MAX}",
                    members.len()
                ),
            )
            .at("members"),
        )));
    }
    Ok(())
}

/// Longest comment, in characters.
pub const COMMENT_CHARS_MAX: usize = 2000;

pub(super) fn dispatch(run: &mut Run, command: Command) -> Result<&'static str, Refusal> {
    if let Some(by) = command.acting() {
        check_actioner(run, by)?;
    }
    match command {
        Command::Start {
            initiator,
            department,
            selected,
            submission,
            by,
        } => start(run, initiator, department, selected, submission, &by).map(|()| "started"),
        Command::Approve {
            task,
            comment,
            resubmission,
            by,
        } => approve(run, task, comment, resubmission, &by).map(|()| "approved"),
        Command::Refuse { task, comment, by } => {
            refuse(run, task, comment, &by).map(|()| "refused")
        }
        Command::Transfer {
            task,
            to,
            comment,
            by,
        } => transfer(run, task, to, comment, &by).map(|()| "transferred"),
        Command::AddSign {
            task,
            members,
            position,
            method,
            comment,
            by,
        } => add_sign(run, task, members, position, method, comment, &by).map(|()| "add_signed"),
        Command::Return {
            task,
            to,
            comment,
            by,
        } => send_back(run, task, to, comment, &by).map(|()| "returned"),
        Command::Withdraw { comment, by } => {
            super::instance::withdraw(run, comment, &by).map(|()| "withdrawn")
        }
        Command::Terminate { comment, by } => {
            super::instance::terminate(run, comment, &by).map(|()| "terminated")
        }
        Command::Comment { text, by } => {
            super::instance::remark(run, text, &by).map(|()| "commented")
        }
        Command::Cc {
            members,
            comment,
            by,
        } => super::instance::cc(run, members, comment, &by).map(|()| "cc"),
        Command::Remind { comment, by } => {
            super::instance::remind(run, comment, &by).map(|()| "reminded")
        }
        Command::Timer { task, kind } => super::instance::timer(run, task, kind),
        Command::MemberLeft { member } => {
            super::instance::member_left(run, member).map(|()| "reassigned")
        }
    }
}

/// The member an organization token or app names (`actioner`) is an active member of the organization;
/// a session or personal token acts as its own member, who is not checked again.
fn check_actioner(run: &Run, by: &Acting) -> Result<(), Refusal> {
    let own = match &by.credential {
        Actor::Member { id, .. } => Some(*id),
        Actor::Token { member_id, .. } => *member_id,
        Actor::App { .. } | Actor::System | Actor::Flow { .. } | Actor::Share { .. } => None,
    };
    match by.member {
        Some(member) if Some(member) != own && !run.directory()?.is_active(member) => {
            Err(Refusal::Invalid(Invalid::from(
                tenon_model::Reason::not_found(
                    "member",
                    format!("no active member {member} in this organization"),
                )
                .at("actioner"),
            )))
        }
        _ => Ok(()),
    }
}

pub(super) fn check_comment(comment: &Option<String>, field: &str) -> Result<(), Refusal> {
    match comment {
        Some(text) if text.chars().count() > COMMENT_CHARS_MAX => Err(Refusal::Invalid(
            Invalid::from(tenon_model::Reason::too_long(COMMENT_CHARS_MAX).at(field)),
        )),
        _ => Ok(()),
    }
}

pub(super) fn running(run: &Run) -> Result<(), Refusal> {
    match run.instance().status {
        InstanceStatus::Running => Ok(()),
        InstanceStatus::New => Err(Refusal::Stale("the instance has not started".into())),
        InstanceStatus::Completed | InstanceStatus::Terminated => Err(Refusal::Finished),
    }
}

/// The running task `id`, and whether `by` acts for its assignee as an agent.
fn actionable(run: &Run, id: ApprovalTaskId, by: &Acting) -> Result<(usize, bool), Refusal> {
    let idx = run.task_index(id).ok_or(Refusal::TaskNotFound)?;
    running(run)?;
    let task = &run.state.tasks[idx];
    let agent = match by.member {
        Some(member) if member == task.assignee => false,
        _ if by.admin => true,
        _ => return Err(Refusal::NotAssignee),
    };
    match task.status {
        TaskStatus::Running => Ok((idx, agent)),
        TaskStatus::Paused => Err(Refusal::Stale(
            "the task waits for the approvers added before it".into(),
        )),
        status => Err(Refusal::Stale(format!("the task is {}", status.as_str()))),
    }
}

fn execute_kind(agent: bool) -> RecordKind {
    if agent {
        RecordKind::ExecuteTaskAgent
    } else {
        RecordKind::ExecuteTaskNormal
    }
}

pub(super) fn members_exist(run: &Run, members: &[MemberId], field: &str) -> Result<(), Refusal> {
    let directory = run.directory()?;
    let unknown: Vec<tenon_model::FieldError> = members
        .iter()
        .enumerate()
        .filter(|(_, member)| !directory.is_active(**member))
        .map(|(i, member)| {
            tenon_model::FieldError::new(
                format!("{field}[{i}]"),
                DetailCode::NotFound,
                format!("no active member {member} in this organization"),
            )
            .with("what", "member")
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Invalid(Invalid(unknown)))
    }
}

fn start(
    run: &mut Run,
    initiator: MemberId,
    department: Option<tenon_model::DepartmentId>,
    selected: std::collections::BTreeMap<String, Vec<MemberId>>,
    submission: Submission,
    by: &Acting,
) -> Result<(), Refusal> {
    if run.instance().status != InstanceStatus::New {
        return Err(Refusal::Stale("the instance has started already".into()));
    }
    let directory = run.directory()?;
    if !directory.is_active(initiator) {
        return Err(Refusal::Invalid(Invalid::from(
            tenon_model::Reason::not_found(
                "member",
                format!("no active member {initiator} in this organization"),
            )
            .at("initiator"),
        )));
    }
    if let Some(department) = department {
        let belongs = directory
            .members
            .get(&initiator)
            .is_some_and(|member| member.departments.contains(&department));
        if !belongs {
            return Err(Refusal::Invalid(Invalid::one(
                "dept",
                DetailCode::NotAllowed,
                format!("the initiator is not in department {department}"),
            )));
        }
    }
    let process = run.state.process.clone();
    let mut problems = Vec::new();
    for (key, chosen) in &selected {
        let range = process.process.node(key).and_then(|node| match &node.kind {
            NodeKind::Approval { approvers, .. }
            | NodeKind::Handle { approvers, .. }
            | NodeKind::Cc { approvers, .. } => approvers.iter().find_map(|rule| match rule {
                Rule::Selected(range) => Some(range.clone()),
                _ => None,
            }),
            _ => None,
        });
        let Some(range) = range else {
            problems.push(tenon_model::FieldError::new(
                format!("selected_approvers.{key}"),
                DetailCode::Required,
                format!("node {key} has no approvers chosen at submit"),
            ));
            continue;
        };
        let allowed: Option<HashSet<MemberId>> = if range.is_empty() {
            None
        } else {
            let resolution = Resolution {
                directory: &directory,
                fields: &process.fields,
                values: &submission.values,
                created_by: submission.created_by,
                modified_by: submission.modified_by,
                initiator,
                start_department: directory.start_department(initiator, department),
                selected: &[],
            };
            Some(
                resolution
                    .resolve(&range)
                    .map_err(|too_many| Refusal::TooManyApprovers(too_many.0))?
                    .into_iter()
                    .collect(),
            )
        };
        for (i, member) in chosen.iter().enumerate() {
            let fits = directory.is_active(*member)
                && allowed
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(member));
            if !fits {
                problems.push(tenon_model::FieldError::new(
                    format!("selected_approvers.{key}[{i}]"),
                    DetailCode::NotAllowed,
                    format!("{member} is not an active member this node lets the initiator choose"),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Refusal::Invalid(Invalid(problems)));
    }
    let now = run.now;
    run.state.instance.status = InstanceStatus::Running;
    run.state.instance.initiator = initiator;
    run.state.instance.department = department;
    run.state.instance.values = submission.values;
    run.state.instance.created_by = submission.created_by;
    run.state.instance.modified_by = submission.modified_by;
    run.state.instance.selected = selected;
    run.state.instance.created_at = now;
    run.record(
        RecordKind::StartProcessInstance,
        Some(by),
        None,
        None,
        None,
        Vec::new(),
        false,
    );
    let after = run.state.instance.clone();
    run.event(
        "approval.instance.started",
        None,
        Some(crate::history::Snapshot::Instance(Box::new(after))),
    );
    run.status = Some(StatusWrite {
        value: process
            .process
            .record_status
            .as_ref()
            .and_then(|status| status.running.clone()),
        comment: None,
    });
    run.cc_at(false)?;
    let first = process
        .process
        .nodes
        .first()
        .map(|node| node.key.clone())
        .ok_or_else(|| Refusal::Stale("the process has no node".into()))?;
    run.enter(&first)
}

fn approve(
    run: &mut Run,
    id: ApprovalTaskId,
    comment: Option<String>,
    resubmission: Option<Submission>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    let (idx, agent) = actionable(run, id, by)?;
    let activation = run
        .activation_index(run.state.tasks[idx].activation)
        .ok_or_else(|| Refusal::Stale("the task's node visit is gone".into()))?;
    if run.state.tasks[idx].node == INITIATOR {
        let submission = resubmission.ok_or(Refusal::NeedsRecord)?;
        run.complete(idx, TaskResult::Done, "approval.task.approved");
        run.record(
            execute_kind(agent),
            Some(by),
            Some(idx),
            Some(TaskResult::Done),
            comment,
            Vec::new(),
            false,
        );
        run.state.instance.values = submission.values;
        run.state.instance.created_by = submission.created_by;
        run.state.instance.modified_by = submission.modified_by;
        run.close_activation(activation, ActivationStatus::Passed);
        let first = run
            .state
            .process
            .process
            .nodes
            .first()
            .map(|node| node.key.clone())
            .ok_or_else(|| Refusal::Stale("the process has no node".into()))?;
        return run.enter(&first);
    }
    let result = run.agree_result(activation);
    run.complete(idx, result, "approval.task.approved");
    run.record(
        execute_kind(agent),
        Some(by),
        Some(idx),
        Some(result),
        comment,
        Vec::new(),
        false,
    );
    run.proceed(activation)
}

pub(super) fn node_kind(run: &Run, idx: usize) -> Option<&NodeKind> {
    run.state
        .process
        .process
        .node(&run.state.tasks[idx].node)
        .map(|node| &node.kind)
}

fn refuse(
    run: &mut Run,
    id: ApprovalTaskId,
    comment: Option<String>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    let (idx, agent) = actionable(run, id, by)?;
    match node_kind(run, idx) {
        Some(NodeKind::Handle { .. }) => {
            return Err(Refusal::NotAllowed(
                "a handle task is done, not refused (return it instead)".into(),
            ));
        }
        None => {
            return Err(Refusal::NotAllowed(
                "the initiator resubmits with approve, or withdraws the instance".into(),
            ));
        }
        _ => {}
    }
    let blank = comment.as_deref().is_none_or(|text| text.trim().is_empty());
    if run
        .state
        .process
        .process
        .settings
        .comment_required_on_refuse
        && blank
    {
        return Err(Refusal::Invalid(Invalid::one(
            "comment",
            DetailCode::Required,
            "this process needs a comment to refuse",
        )));
    }
    let activation = run
        .activation_index(run.state.tasks[idx].activation)
        .ok_or_else(|| Refusal::Stale("the task's node visit is gone".into()))?;
    run.complete(idx, TaskResult::Refuse, "approval.task.refused");
    run.refusal_comment.clone_from(&comment);
    run.record(
        execute_kind(agent),
        Some(by),
        Some(idx),
        Some(TaskResult::Refuse),
        comment,
        Vec::new(),
        false,
    );
    run.proceed(activation)
}

/// Moves a task to `to`: the old one ends `redirected`, the new one takes its place (its add-sign
/// groups, its status).
pub(super) fn redirect(run: &mut Run, idx: usize, to: MemberId) -> usize {
    let old = run.state.tasks[idx].clone();
    let activation = run
        .activation_index(old.activation)
        .unwrap_or(run.state.activations.len() - 1);
    let now = run.now;
    run.change_task(idx, "approval.task.transferred", |task| {
        task.status = TaskStatus::Completed;
        task.result = Some(TaskResult::Redirected);
        task.finished_at = Some(now);
    });
    let new = run.create_task(activation, old.group, to);
    let new_id = run.state.tasks[new].id;
    if old.status == TaskStatus::Paused {
        run.state.tasks[new].status = TaskStatus::Paused;
    }
    for group in &mut run.state.activations[activation].groups {
        if group.parent == Some(old.id) {
            group.parent = Some(new_id);
        }
    }
    new
}

fn transfer(
    run: &mut Run,
    id: ApprovalTaskId,
    to: MemberId,
    comment: Option<String>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    let (idx, _) = actionable(run, id, by)?;
    // Only an unknown member is reported at `to`; a directory still to load is asked for as such.
    members_exist(run, &[to], "to").map_err(|refusal| match refusal {
        Refusal::Invalid(_) => Refusal::Invalid(Invalid::from(
            tenon_model::Reason::not_found(
                "member",
                format!("no active member {to} in this organization"),
            )
            .at("to"),
        )),
        other => other,
    })?;
    if run.state.tasks[idx].assignee == to {
        return Err(Refusal::Invalid(Invalid::one(
            "to",
            DetailCode::InvalidValue,
            "the task is assigned to this member already",
        )));
    }
    let new = redirect(run, idx, to);
    run.record(
        RecordKind::RedirectTask,
        Some(by),
        Some(idx),
        Some(TaskResult::Redirected),
        comment,
        vec![to],
        false,
    );
    let _ = new;
    Ok(())
}

fn add_sign(
    run: &mut Run,
    id: ApprovalTaskId,
    members: Vec<MemberId>,
    position: Position,
    method: Method,
    comment: Option<String>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    let (idx, agent) = actionable(run, id, by)?;
    if node_kind(run, idx).is_none() {
        return Err(Refusal::NotAllowed(
            "the initiator's task cannot add approvers".into(),
        ));
    }
    if matches!(method, Method::Vote { .. }) {
        return Err(Refusal::Invalid(Invalid::one(
            "method",
            DetailCode::InvalidValue,
            "added approvers decide by or, and or one_by_one",
        )));
    }
    check_member_count(&members)?;
    members_exist(run, &members, "members")?;
    let assignee = run.state.tasks[idx].assignee;
    let mut seen = HashSet::new();
    for (i, member) in members.iter().enumerate() {
        if *member == assignee || !seen.insert(*member) {
            return Err(Refusal::Invalid(Invalid::one(
                format!("members[{i}]"),
                DetailCode::Duplicate,
                "already an approver of this task, or named twice",
            )));
        }
    }
    let activation = run
        .activation_index(run.state.tasks[idx].activation)
        .ok_or_else(|| Refusal::Stale("the task's node visit is gone".into()))?;
    let number = u32::try_from(run.state.activations[activation].groups.len()).unwrap_or(u32::MAX);
    // After delegation, each member once (as when a node is entered); never the task's own assignee.
    let delegated_to_assignee = |member: &MemberId| run.delegate(*member) == assignee;
    let members: Vec<MemberId> = run
        .one_task_each(members.clone())
        .into_iter()
        .filter(|member| !delegated_to_assignee(member))
        .collect();
    if members.is_empty() {
        return Err(Refusal::Invalid(Invalid::one(
            "members",
            DetailCode::InvalidValue,
            "every member named hands their tasks to this task's assignee by a delegation",
        )));
    }
    let (first, waiting) = if method == Method::OneByOne {
        (members[..1].to_vec(), members[1..].to_vec())
    } else {
        (members.clone(), Vec::new())
    };
    let task_id = run.state.tasks[idx].id;
    run.state.activations[activation].groups.push(Group {
        number,
        method,
        parent: Some(task_id),
        before: position == Position::Before,
        waiting,
        voters: u32::try_from(members.len()).unwrap_or(u32::MAX),
        closed: false,
    });
    match position {
        Position::Before => {
            run.change_task(idx, "approval.task.paused", |task| {
                task.status = TaskStatus::Paused;
            });
            run.record(
                RecordKind::AppendTaskBefore,
                Some(by),
                Some(idx),
                None,
                comment,
                members,
                false,
            );
        }
        Position::After => {
            let result = run.agree_result(activation);
            run.complete(idx, result, "approval.task.approved");
            run.record(
                RecordKind::AppendTaskAfter,
                Some(by),
                Some(idx),
                Some(result),
                comment,
                members,
                false,
            );
        }
    }
    let _ = agent;
    for member in first {
        run.start_task(activation, number, member);
    }
    run.proceed(activation)
}

fn send_back(
    run: &mut Run,
    id: ApprovalTaskId,
    to: ReturnTo,
    comment: Option<String>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    let (idx, _) = actionable(run, id, by)?;
    if node_kind(run, idx).is_none() {
        return Err(Refusal::NotAllowed(
            "the initiator's task cannot be returned".into(),
        ));
    }
    if let ReturnTo::Node(key) = &to {
        let passed = run.state.activations.iter().any(|activation| {
            activation.node == *key && activation.status == ActivationStatus::Passed
        });
        let approvable = matches!(
            run.state.process.process.node(key).map(|node| &node.kind),
            Some(NodeKind::Approval { .. } | NodeKind::Handle { .. })
        );
        if !passed || !approvable {
            return Err(Refusal::Invalid(Invalid::one(
                "to",
                DetailCode::InvalidValue,
                format!(
                    "{key} is not an approval or handle node this instance passed; return to one of those or to initiator"
                ),
            )));
        }
    }
    if to == ReturnTo::Initiator && !run.initiator_active()? {
        return Err(Refusal::Invalid(Invalid::one(
            "to",
            DetailCode::InvalidValue,
            "the initiator has left the organization; return to a node instead",
        )));
    }
    run.complete(idx, TaskResult::Returned, "approval.task.returned");
    let target = match &to {
        ReturnTo::Node(key) => key.clone(),
        ReturnTo::Initiator => INITIATOR.to_owned(),
    };
    run.record(
        RecordKind::RedirectProcess,
        Some(by),
        Some(idx),
        Some(TaskResult::Returned),
        comment,
        Vec::new(),
        false,
    );
    if let Some(record) = run.records.last_mut() {
        record.node = Some(target.clone());
    }
    match to {
        ReturnTo::Initiator => {
            run.back_to_initiator();
            Ok(())
        }
        ReturnTo::Node(key) => {
            run.cancel_everything();
            run.enter(&key)
        }
    }
}
