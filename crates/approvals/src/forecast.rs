//! A forecast: the path an instance would take for a record and an initiator if every approver agreed —
//! the nodes in order with the members each would ask — found by running the engine itself on a copy.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tenon_model::{MemberId, TimeZone};

use crate::compile::CompiledProcess;
use crate::definition::Method;
use crate::directory::DirectorySnapshot;
use crate::engine::{Command, Refusal, apply};
use crate::history::Acting;
use crate::state::{Instance, InstanceState, InstanceStatus, TaskStatus};

/// Approvals a forecast simulates at most before it stops.
const FORECAST_STEPS_MAX: usize = 1000;

/// One node on the forecast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastNode {
    pub node: String,
    pub node_type: &'static str,
    pub method: Option<Method>,
    /// Who would be asked, in order (one-by-one approvers included).
    pub approvers: Vec<MemberId>,
}

/// The path of an instance started with `start` (a [`Command::Start`]) on `instance` (new).
pub fn forecast(
    process: Arc<CompiledProcess>,
    directory: Arc<DirectorySnapshot>,
    time_zone: TimeZone,
    instance: Instance,
    start: Command,
    now: DateTime<Utc>,
) -> Result<Vec<ForecastNode>, Refusal> {
    let mut state = InstanceState {
        process: process.clone(),
        directory: Some(directory),
        delegations: Arc::from([]),
        time_zone,
        instance,
        activations: Vec::new(),
        tasks: Vec::new(),
    };
    state = apply(&state, start, now)?.state;
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
        state = apply(&state, approve, now)?.state;
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
            Some(ForecastNode {
                node: node.key.clone(),
                node_type: node.kind.type_name(),
                method: method.filter(|_| !approvers.is_empty()),
                approvers,
            })
        })
        .collect();
    Ok(path)
}
