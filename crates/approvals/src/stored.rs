//! What the store keeps of an instance besides its columns and task rows: the activations with their
//! groups, the record's values at submit, the initiator's selections and start department — one JSON
//! object (`approval_instances.state`) that only the engine reads — and back, losslessly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tenon_model::{ActivationId, ApprovalTaskId, DepartmentId, MemberId};

use crate::definition::Method;
use crate::state::{Activation, ActivationStatus, Group, Instance, optional_time, time};

/// `{"withdrawn", "department", "values", "created_by", "modified_by", "selected", "activations"}`.
pub fn state_json(instance: &Instance, activations: &[Activation]) -> Value {
    let ids =
        |members: &[MemberId]| -> Vec<String> { members.iter().map(ToString::to_string).collect() };
    json!({
        "withdrawn": instance.withdrawn,
        "department": instance.department.map(|id| id.to_string()),
        "values": crate::values::to_json(&instance.values),
        "created_by": instance.created_by.map(|id| id.to_string()),
        "modified_by": instance.modified_by.map(|id| id.to_string()),
        "selected": instance
            .selected
            .iter()
            .map(|(node, members)| (node.clone(), json!(ids(members))))
            .collect::<serde_json::Map<String, Value>>(),
        "activations": activations.iter().map(|activation| json!({
            "id": activation.id.to_string(),
            "node": activation.node,
            "visit": activation.visit,
            "status": activation.status.as_str(),
            "created_at": time(activation.created_at),
            "finished_at": optional_time(activation.finished_at),
            "groups": activation.groups.iter().map(|group| json!({
                "number": group.number,
                "method": group.method.to_json(),
                "parent": group.parent.map(|id| id.to_string()),
                "before": group.before,
                "waiting": ids(&group.waiting),
                "voters": group.voters,
                "closed": group.closed,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Fills `instance`'s kept fields from [`state_json`]'s object and returns its activations.
pub fn read_state(instance: &mut Instance, state: &Value) -> Result<Vec<Activation>, String> {
    fn id<T: std::str::FromStr>(value: &Value, what: &str) -> Result<Option<T>, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) => text
                .parse()
                .map(Some)
                .map_err(|_| format!("{what} \"{text}\" is not an id")),
            other => Err(format!("{what} is {other}, not an id")),
        }
    }
    fn members(value: &Value, what: &str) -> Result<Vec<MemberId>, String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| id::<MemberId>(item, what)?.ok_or_else(|| format!("{what} is null")))
            .collect()
    }
    fn at(value: &Value, what: &str) -> Result<Option<DateTime<Utc>>, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) => DateTime::parse_from_rfc3339(text)
                .map(|at| Some(at.with_timezone(&Utc)))
                .map_err(|_| format!("{what} \"{text}\" is not a time")),
            other => Err(format!("{what} is {other}, not a time")),
        }
    }
    instance.withdrawn = state["withdrawn"].as_bool().unwrap_or(false);
    instance.department = id::<DepartmentId>(&state["department"], "department")?;
    instance.values = crate::values::from_json(&state["values"]);
    instance.created_by = id(&state["created_by"], "created_by")?;
    instance.modified_by = id(&state["modified_by"], "modified_by")?;
    instance.selected = state["selected"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(node, list)| Ok((node.clone(), members(list, "selected")?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    let mut activations = Vec::new();
    for raw in state["activations"].as_array().into_iter().flatten() {
        let mut groups = Vec::new();
        for group in raw["groups"].as_array().into_iter().flatten() {
            groups.push(Group {
                number: u32::try_from(group["number"].as_u64().unwrap_or(0))
                    .map_err(|_| "group number out of range".to_owned())?,
                method: Method::from_json(&group["method"])
                    .ok_or_else(|| format!("group method {} is unknown", group["method"]))?,
                parent: id::<ApprovalTaskId>(&group["parent"], "group parent")?,
                before: group["before"].as_bool().unwrap_or(false),
                waiting: members(&group["waiting"], "waiting")?,
                voters: u32::try_from(group["voters"].as_u64().unwrap_or(0))
                    .map_err(|_| "voters out of range".to_owned())?,
                closed: group["closed"].as_bool().unwrap_or(false),
            });
        }
        activations.push(Activation {
            id: id::<ActivationId>(&raw["id"], "activation")?
                .ok_or_else(|| "activation without id".to_owned())?,
            node: raw["node"].as_str().unwrap_or_default().to_owned(),
            visit: u32::try_from(raw["visit"].as_u64().unwrap_or(1))
                .map_err(|_| "visit out of range".to_owned())?,
            status: raw["status"]
                .as_str()
                .and_then(ActivationStatus::parse)
                .ok_or_else(|| format!("activation status {} is unknown", raw["status"]))?,
            groups,
            created_at: at(&raw["created_at"], "created_at")?
                .ok_or_else(|| "activation without created_at".to_owned())?,
            finished_at: at(&raw["finished_at"], "finished_at")?,
        });
    }
    Ok(activations)
}
