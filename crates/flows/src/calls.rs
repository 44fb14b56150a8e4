//! `call_flow` across flows, checked at publish: the flow called exists and is a manual one, the payload
//! names its inputs (the required ones given), and no flow calls itself through others (a cycle would
//! nest runs until the depth limit).

use std::collections::{HashMap, HashSet};

use tenon_model::{DetailCode, FieldError};

use crate::compile::{Action, CompiledFlow, CompiledStep, CompiledTrigger};
use crate::definition::{Flow, Input, Step, walk};

/// What a flow being called looks like to its callers.
#[derive(Debug, Clone, PartialEq)]
pub struct Callee {
    /// Its inputs; `None` when it is not a manual flow (it cannot be called).
    pub inputs: Option<Vec<Input>>,
    /// The flows it calls.
    pub calls: Vec<String>,
}

impl Flow {
    pub fn callee(&self) -> Callee {
        let mut calls = Vec::new();
        walk(&self.steps, "", &mut |step, _| {
            if let Step::CallFlow { flow, .. } = step {
                calls.push(flow.clone());
            }
        });
        Callee {
            inputs: self.trigger.manual.as_ref().map(|m| m.inputs.clone()),
            calls,
        }
    }
}

impl CompiledFlow {
    pub fn callee(&self) -> Callee {
        fn collect(steps: &[CompiledStep], calls: &mut Vec<String>) {
            for step in steps {
                match &step.action {
                    Action::CallFlow { flow, .. } => calls.push(flow.clone()),
                    Action::ForEach { steps, .. } => collect(steps, calls),
                    _ => {}
                }
            }
        }
        let mut calls = Vec::new();
        collect(&self.steps, &mut calls);
        Callee {
            inputs: match &self.trigger {
                CompiledTrigger::Manual { inputs } => Some(inputs.clone()),
                _ => None,
            },
            calls,
        }
    }
}

/// Checks the `call_flow` steps of `file` (flow `i` at `flows[i]`); `stored` gives the organization's
/// other flows by key. Every problem, with its path.
pub fn check_calls(file: &[&Flow], stored: &dyn Fn(&str) -> Option<Callee>) -> Vec<FieldError> {
    let in_file: HashMap<&str, Callee> =
        file.iter().map(|f| (f.key.as_str(), f.callee())).collect();
    let lookup =
        |key: &str| -> Option<Callee> { in_file.get(key).cloned().or_else(|| stored(key)) };
    let mut problems = Vec::new();
    for (i, flow) in file.iter().enumerate() {
        let mut found: Vec<(String, &String, Vec<&String>)> = Vec::new();
        walk(
            &flow.steps,
            &format!("flows[{i}].steps"),
            &mut |step, at| {
                if let Step::CallFlow { flow, payload, .. } = step {
                    found.push((at.to_owned(), flow, payload.keys().collect()));
                }
            },
        );
        for (at, target, given) in found {
            let Some(callee) = lookup(target) else {
                problems.push(
                    tenon_model::Reason::not_found("flow", format!("there is no flow {target}"))
                        .at(format!("{at}.flow")),
                );
                continue;
            };
            let Some(inputs) = &callee.inputs else {
                problems.push(FieldError::new(
                    format!("{at}.flow"),
                    DetailCode::NotAllowed,
                    format!(
                        "flow {target} starts on its trigger; only a manual flow can be called"
                    ),
                ));
                continue;
            };
            for name in &given {
                if !inputs.iter().any(|input| &&input.key == name) {
                    problems.push(FieldError::new(
                        format!("{at}.payload.{name}"),
                        DetailCode::UnknownField,
                        format!("flow {target} has no input {name}"),
                    ));
                }
            }
            for input in inputs.iter().filter(|input| input.required) {
                if !given.contains(&&input.key) {
                    problems.push(FieldError::new(
                        format!("{at}.payload.{}", input.key),
                        DetailCode::Required,
                        format!("flow {target} requires the input {}", input.key),
                    ));
                }
            }
            if let Some(cycle) = path_back(target, &flow.key, &lookup) {
                problems.push(FieldError::new(
                    format!("{at}.flow"),
                    DetailCode::NotAllowed,
                    format!("a call cycle: {} → {}", flow.key, cycle.join(" → ")),
                ));
            }
        }
    }
    problems
}

/// The calls from `from` that lead back to `home` (`from → … → home`), if any.
fn path_back(
    from: &str,
    home: &str,
    lookup: &dyn Fn(&str) -> Option<Callee>,
) -> Option<Vec<String>> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Vec<String>> = vec![vec![from.to_owned()]];
    while let Some(path) = stack.pop() {
        let last = path.last().cloned().unwrap_or_default();
        if last == home {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in lookup(&last).map(|c| c.calls).unwrap_or_default() {
            let mut longer = path.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flow(value: serde_json::Value) -> Flow {
        Flow::parse(&value, "f").unwrap()
    }

    #[test]
    fn calls_need_a_manual_flow_its_inputs_and_no_cycle() {
        let a = flow(json!({"key": "a", "trigger": {"manual": {}}, "steps": [
            {"key": "c", "type": "call_flow", "flow": "b", "payload": {"n": "1", "x": "2"}}]}));
        let b = flow(json!({"key": "b", "trigger": {"manual": {"inputs": [
            {"key": "n", "type": "integer", "required": true}, {"key": "m", "type": "text", "required": true}]}},
            "steps": [{"key": "c", "type": "call_flow", "flow": "stored", "payload": {}}]}));
        let stored = |key: &str| {
            (key == "stored").then(|| Callee {
                inputs: Some(Vec::new()),
                calls: vec!["a".to_owned()],
            })
        };
        let problems = check_calls(&[&a, &b], &stored);
        let mut found: Vec<(String, DetailCode)> =
            problems.iter().map(|p| (p.field.clone(), p.code)).collect();
        found.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            found,
            [
                ("flows[0].steps[0].flow".to_owned(), DetailCode::NotAllowed),
                (
                    "flows[0].steps[0].payload.m".to_owned(),
                    DetailCode::Required
                ),
                (
                    "flows[0].steps[0].payload.x".to_owned(),
                    DetailCode::UnknownField
                ),
                ("flows[1].steps[0].flow".to_owned(), DetailCode::NotAllowed),
            ]
        );
        assert!(
            problems[2].reason.contains("a → b → stored → a"),
            "{problems:?}"
        );
        let record = flow(
            json!({"key": "r", "trigger": {"record": "t", "on": "created"}, "steps": [
            {"key": "c", "type": "call_flow", "flow": "a"}, {"key": "d", "type": "call_flow", "flow": "nope"}]}),
        );
        let problems = check_calls(&[&record, &a], &|_| None);
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["flows[0].steps[1].flow", "flows[1].steps[0].flow"]);
    }
}
