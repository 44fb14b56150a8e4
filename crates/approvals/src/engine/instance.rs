//! Commands on the instance as a whole — withdraw, terminate, comment, CC — and the platform's own:
//! timers coming due and members leaving.

use std::collections::HashSet;

use tenon_model::{ApprovalTaskId, DetailCode, Invalid, MemberId};

use super::actions::{
    check_comment, check_member_count, members_exist, node_kind, redirect, running,
};
use super::run::Run;
use super::{Refusal, StatusWrite, TimerKind};
use crate::definition::{INITIATOR, NodeKind, TimeoutAction, Withdraw};
use crate::history::{Acting, RecordKind};
use crate::state::{InstanceStatus, TaskResult, TaskStatus};

fn end_by(run: &mut Run, withdrawn: bool, comment: Option<String>, by: &Acting) {
    run.cancel_everything();
    run.record(
        RecordKind::TerminateProcessInstance,
        Some(by),
        None,
        None,
        comment,
        Vec::new(),
        false,
    );
    let now = run.now;
    let event_type = if withdrawn {
        "approval.instance.withdrawn"
    } else {
        "approval.instance.terminated"
    };
    run.change_instance(event_type, |instance| {
        instance.status = InstanceStatus::Terminated;
        instance.withdrawn = withdrawn;
        instance.finished_at = Some(now);
    });
    let status = run.state.process.process.record_status.as_ref();
    run.status = Some(StatusWrite {
        value: status.and_then(|status| {
            if withdrawn {
                status.withdrawn.clone()
            } else {
                status.terminated.clone()
            }
        }),
        comment: None,
    });
}

pub(super) fn withdraw(run: &mut Run, comment: Option<String>, by: &Acting) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    running(run)?;
    if by.member != Some(run.instance().initiator) {
        return Err(Refusal::NotInitiator);
    }
    match run.state.process.process.settings.withdraw {
        Withdraw::Always => {}
        Withdraw::Never => {
            return Err(Refusal::NotAllowed(
                "this process does not let the initiator withdraw".into(),
            ));
        }
        Withdraw::BeforeAction => {
            let acted = run
                .state
                .tasks
                .iter()
                .any(|task| task.status == TaskStatus::Completed && task.node != INITIATOR);
            if acted {
                return Err(Refusal::NotAllowed(
                    "an approver has acted; this process allows withdrawing only before".into(),
                ));
            }
        }
    }
    end_by(run, true, comment, by);
    Ok(())
}

pub(super) fn terminate(
    run: &mut Run,
    comment: Option<String>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    running(run)?;
    if !by.admin {
        return Err(Refusal::NotAllowed(
            "only an administrator may terminate an instance".into(),
        ));
    }
    end_by(run, false, comment, by);
    Ok(())
}

pub(super) fn remark(run: &mut Run, text: String, by: &Acting) -> Result<(), Refusal> {
    if run.instance().status == InstanceStatus::New {
        return Err(Refusal::Stale("the instance has not started".into()));
    }
    if text.trim().is_empty() {
        return Err(Refusal::Invalid(Invalid::one(
            "text",
            DetailCode::Required,
            "write the comment",
        )));
    }
    check_comment(&Some(text.clone()), "text")?;
    run.record(
        RecordKind::AddRemark,
        Some(by),
        None,
        None,
        Some(text),
        Vec::new(),
        false,
    );
    Ok(())
}

pub(super) fn cc(
    run: &mut Run,
    members: Vec<MemberId>,
    comment: Option<String>,
    by: &Acting,
) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    if run.instance().status == InstanceStatus::New {
        return Err(Refusal::Stale("the instance has not started".into()));
    }
    check_member_count(&members)?;
    members_exist(run, &members, "members")?;
    let mut seen = HashSet::new();
    let members: Vec<MemberId> = members.into_iter().filter(|m| seen.insert(*m)).collect();
    run.cc(members, None, Some(by), false);
    if let (Some(record), Some(comment)) = (run.records.last_mut(), comment) {
        record.comment = Some(comment).filter(|text| !text.trim().is_empty());
    }
    Ok(())
}

/// `remind` (催办): the assignees of every running task. A task paused for the approvers added before it
/// waits for them, so they (running) are reminded instead.
pub(super) fn remind(run: &mut Run, comment: Option<String>, by: &Acting) -> Result<(), Refusal> {
    check_comment(&comment, "comment")?;
    running(run)?;
    let comment = comment.filter(|text| !text.trim().is_empty());
    for idx in 0..run.state.tasks.len() {
        run.remind(idx, by.member, comment.as_deref());
    }
    Ok(())
}

/// A timer of a task came due: a reminder reminds its assignee, a timeout decides it as the process
/// says. A timer of a task that no longer runs does nothing. Returns the audit action's name.
pub(super) fn timer(
    run: &mut Run,
    id: ApprovalTaskId,
    kind: TimerKind,
) -> Result<&'static str, Refusal> {
    let Some(idx) = run.task_index(id) else {
        return Ok("timer");
    };
    let live = run.instance().status == InstanceStatus::Running
        && run.state.tasks[idx].status == TaskStatus::Running;
    if !live {
        return Ok("timer");
    }
    if kind == TimerKind::Remind {
        run.remind(idx, None, None);
        return Ok("reminded");
    }
    let Some(timeout) = run.state.process.process.settings.timeout else {
        return Ok("timer");
    };
    let activation = run
        .activation_index(run.state.tasks[idx].activation)
        .ok_or_else(|| Refusal::Stale("the task's node visit is gone".into()))?;
    let (result, event_type) = match (timeout.action, node_kind(run, idx)) {
        // The initiator's resubmit task waits for the initiator.
        (_, None) => return Ok("timer"),
        (TimeoutAction::Approve, _) | (TimeoutAction::Refuse, Some(NodeKind::Handle { .. })) => {
            (run.agree_result(activation), "approval.task.auto_approved")
        }
        (TimeoutAction::Refuse, _) => (TaskResult::Refuse, "approval.task.refused"),
    };
    run.complete(idx, result, event_type);
    run.record(
        RecordKind::ExecuteTaskAuto,
        None,
        Some(idx),
        Some(result),
        None,
        Vec::new(),
        true,
    );
    run.proceed(activation).map(|()| "timer")
}

pub(super) fn member_left(run: &mut Run, member: MemberId) -> Result<(), Refusal> {
    if run.instance().status != InstanceStatus::Running {
        return Ok(());
    }
    let replacement = run.replacement(member)?;
    let system = Acting::system();
    for activation in &mut run.state.activations {
        for group in &mut activation.groups {
            match replacement {
                Some(to) => group.waiting.iter_mut().for_each(|waiting| {
                    if *waiting == member {
                        *waiting = to;
                    }
                }),
                None => group.waiting.retain(|waiting| *waiting != member),
            }
        }
    }
    let open: Vec<ApprovalTaskId> = run
        .state
        .tasks
        .iter()
        .filter(|task| task.assignee == member && task.status.is_open())
        .map(|task| task.id)
        .collect();
    for id in open {
        let Some(idx) = run.task_index(id) else {
            continue;
        };
        if !run.state.tasks[idx].status.is_open() {
            continue;
        }
        let activation = run.activation_index(run.state.tasks[idx].activation);
        match replacement {
            Some(to) => {
                redirect(run, idx, to);
                run.record(
                    RecordKind::RedirectTask,
                    Some(&system),
                    Some(idx),
                    Some(TaskResult::Redirected),
                    None,
                    vec![to],
                    true,
                );
            }
            None => {
                let Some(activation) = activation else {
                    continue;
                };
                let result = run.agree_result(activation);
                run.complete(idx, result, "approval.task.auto_approved");
                run.record(
                    RecordKind::ExecuteTaskAuto,
                    None,
                    Some(idx),
                    Some(result),
                    None,
                    Vec::new(),
                    true,
                );
                if run.instance().status == InstanceStatus::Running {
                    run.proceed(activation)?;
                }
            }
        }
    }
    Ok(())
}
