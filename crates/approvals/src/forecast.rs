//! A forecast: the path an instance would take for a record and an initiator if every approver agreed —
//! the nodes in order with the members each would ask — found by running the engine itself on a copy,
//! standing delegations included (a delegate is asked in place of the approver, and said to be).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tenon_model::{MemberId, TimeZone};

use crate::compile::CompiledProcess;
use crate::definition::Method;
use crate::delegation::Delegation;
use crate::directory::DirectorySnapshot;
use crate::engine::{Command, Refusal, apply};
use crate::history::{Acting, RecordKind};
use crate::state::{Instance, InstanceState, InstanceStatus, TaskStatus};

/// Approvals a forecast simulates at most before it stops.
const FORECAST_STEPS_MAX: usize = 1000;

/// One node on the forecast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastNode {
    pub node: String,
    pub node_type: &'static str,
    pub method: Option<Method>,
    /// Who would be asked, in order (one-by-one approvers included): a delegate in place of the approver
    /// whose delegation covers the process.
    pub approvers: Vec<MemberId>,
    /// `(approver, delegate)` for each approver whose task would start for their delegate.
    pub delegated: Vec<(MemberId, MemberId)>,
}

/// The path of an instance started with `start` (a [`Command::Start`]) on `instance` (new), with the
/// standing `delegations` that apply now.
pub fn forecast(
    process: Arc<CompiledProcess>,
    directory: Arc<DirectorySnapshot>,
    delegations: Arc<[Delegation]>,
    time_zone: TimeZone,
    instance: Instance,
    start: Command,
    now: DateTime<Utc>,
) -> Result<Vec<ForecastNode>, Refusal> {
    let mut state = InstanceState {
        process: process.clone(),
        directory: Some(directory),
        delegations,
        time_zone,
        instance,
        activations: Vec::new(),
        tasks: Vec::new(),
    };
    // Tasks that started for a delegate: the automatic `redirect_task` records `[approver, delegate]`.
    let mut delegated = Vec::new();
    let mut keep = |transition: crate::engine::Transition| {
        for record in &transition.records {
            if record.kind == RecordKind::RedirectTask
                && record.automatic
                && let (Some(task), [from, to]) = (record.task, record.members.as_slice())
            {
                delegated.push((task, *from, *to));
            }
        }
        transition.state
    };
    state = keep(apply(&state, start, now)?);
    for _ in 0..FORECAST_STEPS_MAX {
        if state.instance.status != InstanceStatus::Running {
            break;
        }
        let Some(task) = state
            .tasks
            .iter()
            .find(|task| task.status == TaskStatus::Running)
            .map(|task| (task.id, task.assignee))
        else {
            break;
        };
        let approve = Command::Approve {
            task: task.0,
            comment: None,
            resubmission: None,
            by: Acting {
                member: Some(task.1),
                credential: tenon_model::Actor::System,
                admin: false,
            },
        };
        state = keep(apply(&state, approve, now)?);
    }
    let path = state
        .activations
        .iter()
        .filter_map(|activation| {
            let node = process.process.node(&activation.node)?;
            let mut approvers: Vec<MemberId> = state
                .tasks
                .iter()
                .filter(|task| task.activation == activation.id && task.group == 0)
                .map(|task| task.assignee)
                .collect();
            if let Some(group) = activation.groups.first() {
                approvers.extend(group.waiting.iter().copied());
            }
            let method = activation.groups.first().map(|group| group.method);
            let delegated = state
                .tasks
                .iter()
                .filter(|task| task.activation == activation.id && task.group == 0)
                .filter_map(|task| {
                    delegated
                        .iter()
                        .find(|(id, _, _)| *id == task.id)
                        .map(|(_, from, to)| (*from, *to))
                })
                .collect();
            Some(ForecastNode {
                node: node.key.clone(),
                node_type: node.kind.type_name(),
                method: method.filter(|_| !approvers.is_empty()),
                approvers,
                delegated,
            })
        })
        .collect();
    Ok(path)
}
