//! Parsing a process from its JSON tree, every problem at its path.

use serde_json::{Map, Value};
use tenon_model::DetailCode::{InvalidValue, Required};
use tenon_model::apps::ApiKey;
use tenon_model::{Checker, DetailCode, FieldError, Invalid, MemberId, Name};

use super::*;

impl Process {
    /// Parses a process at `path` (empty for a request body, `processes[0]` in a file).
    pub fn parse(value: &Value, path: &str) -> Result<Process, Invalid> {
        let mut check = Checker::default();
        let at = |name: &str| join(path, name);
        let Some(object) = value.as_object() else {
            return Err(Invalid::one(
                if path.is_empty() { "body" } else { path },
                InvalidValue,
                "a process is an object with code, name, table and nodes",
            ));
        };
        known_keys(
            &mut check,
            object,
            path,
            &[
                "code",
                "name",
                "table",
                "app",
                "initiator",
                "record_status",
                "settings",
                "cc",
                "nodes",
            ],
        );
        let code = required_text(&mut check, object, &at("code")).and_then(|code| {
            let valid = !code.is_empty()
                && code.len() <= 64
                && code.starts_with(|c: char| c.is_ascii_alphabetic())
                && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                check.format(
                    at("code"), "key",
                    "use 1 to 64 of A-Z, a-z, 0-9 and _, starting with a letter (e.g. EXPENSE_CLAIM)",
                );
            }
            valid.then_some(code)
        });
        let name = required_text(&mut check, object, &at("name"))
            .and_then(|name| check.field(&at("name"), Name::parse(&name)));
        let table = required_text(&mut check, object, &at("table"));
        let initiator = object
            .get("initiator")
            .filter(|value| !value.is_null())
            .and_then(|value| parse_initiator(&mut check, value, &at("initiator")));
        let record_status = object
            .get("record_status")
            .filter(|value| !value.is_null())
            .and_then(|value| parse_record_status(&mut check, value, &at("record_status")));
        let settings = match object.get("settings").filter(|value| !value.is_null()) {
            Some(value) => parse_settings(&mut check, value, &at("settings")),
            None => Settings::default(),
        };
        let cc = match object.get("cc").filter(|value| !value.is_null()) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| parse_cc(&mut check, item, &format!("{}[{i}]", at("cc"))))
                .collect(),
            Some(_) => {
                check.push(at("cc"), InvalidValue, "a list of {at, approvers}");
                Vec::new()
            }
        };
        let nodes = match object.get("nodes") {
            Some(Value::Array(items)) if !items.is_empty() => {
                if items.len() > NODES_MAX {
                    check.too_many(
                        at("nodes"),
                        NODES_MAX,
                        format!("a process has at most {NODES_MAX} nodes"),
                    );
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        parse_node(&mut check, item, &format!("{}[{i}]", at("nodes")))
                    })
                    .collect()
            }
            _ => {
                check.push(
                    at("nodes"),
                    Required,
                    "a process needs a list of at least one node",
                );
                Vec::new()
            }
        };
        let (Some(code), Some(name), Some(table)) = (code, name, table) else {
            return Err(check.into_invalid());
        };
        check.finish()?;
        Ok(Process {
            code,
            name,
            table,
            initiator,
            record_status,
            settings,
            cc,
            nodes,
        })
    }
}

pub(crate) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn known_keys(check: &mut Checker, object: &Map<String, Value>, path: &str, known: &[&str]) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            check.add(
                FieldError::new(
                    join(path, key),
                    DetailCode::UnknownOption,
                    format!("unknown key; use {}", known.join(", ")),
                )
                .with("allowed", known.to_vec()),
            );
        }
    }
}

fn required_text(check: &mut Checker, object: &Map<String, Value>, path: &str) -> Option<String> {
    let name = path.rsplit('.').next().unwrap_or(path);
    match object.get(name) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => {
            check.push(path, Required, "required text");
            None
        }
    }
}

fn text_at(check: &mut Checker, value: Option<&Value>, path: &str) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(_) => {
            check.push(path, InvalidValue, "must be text");
            None
        }
    }
}

fn member_id(check: &mut Checker, value: &Value, path: &str) -> Option<MemberId> {
    match value.as_str().map(str::parse::<MemberId>) {
        Some(Ok(id)) => Some(id),
        _ => {
            check.format(path, "id", "must be a member id");
            None
        }
    }
}

fn key_at(check: &mut Checker, value: Option<&Value>, path: &str) -> Option<String> {
    match value {
        Some(Value::String(text)) => check
            .field(path, ApiKey::parse(text))
            .map(|key| key.to_string()),
        _ => {
            check.push(path, Required, "required: a key (a-z, 0-9 and _)");
            None
        }
    }
}

fn parse_initiator(check: &mut Checker, value: &Value, path: &str) -> Option<InitiatorRule> {
    let object = value.as_object().filter(|object| object.len() == 1);
    let Some((kind, inner)) = object.and_then(|object| object.iter().next()) else {
        check.push(
            path,
            InvalidValue,
            "one of {field: <key>}, {member: <id>} or {created_by: true}",
        );
        return None;
    };
    let at = join(path, kind);
    match kind.as_str() {
        "field" => text_at(check, Some(inner), &at).map(InitiatorRule::Field),
        "member" => member_id(check, inner, &at).map(InitiatorRule::Member),
        "created_by" if inner == &Value::Bool(true) => Some(InitiatorRule::CreatedBy),
        _ => {
            check.push(
                path,
                InvalidValue,
                "one of {field: <key>}, {member: <id>} or {created_by: true}",
            );
            None
        }
    }
}

fn parse_record_status(check: &mut Checker, value: &Value, path: &str) -> Option<RecordStatus> {
    let Some(object) = value.as_object() else {
        check.push(
            path,
            InvalidValue,
            "an object: {field, running, agree, refuse, withdrawn, terminated, comment_field}",
        );
        return None;
    };
    known_keys(
        check,
        object,
        path,
        &[
            "field",
            "running",
            "agree",
            "refuse",
            "withdrawn",
            "terminated",
            "comment_field",
        ],
    );
    let field = text_at(check, object.get("field"), &join(path, "field"));
    if field.is_none() {
        check.push(
            join(path, "field"),
            Required,
            "required: the single-select field",
        );
    }
    let mut text = |name: &str| text_at(check, object.get(name), &join(path, name));
    let running = text("running");
    let agree = text("agree");
    let refuse = text("refuse");
    let withdrawn = text("withdrawn");
    let terminated = text("terminated");
    let comment_field = text("comment_field");
    Some(RecordStatus {
        field: field?,
        running,
        agree,
        refuse,
        withdrawn,
        terminated,
        comment_field,
    })
}

fn choice<T: Copy>(
    check: &mut Checker,
    value: Option<&Value>,
    path: &str,
    options: &[(&str, T)],
    default: T,
) -> T {
    match value {
        None | Some(Value::Null) => default,
        Some(Value::String(text)) => match options.iter().find(|(name, _)| name == text) {
            Some((_, value)) => *value,
            None => {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                check.add(
                    tenon_model::Reason::not_one_of(
                        &names,
                        format!("use one of {}", names.join(", ")),
                    )
                    .at(path),
                );
                default
            }
        },
        Some(_) => {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            check.add(
                tenon_model::Reason::not_one_of(&names, format!("use one of {}", names.join(", ")))
                    .at(path),
            );
            default
        }
    }
}

fn hours(check: &mut Checker, value: Option<&Value>, path: &str) -> Option<u32> {
    match value {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (1..=24 * 365).contains(&n) => Some(n),
            _ => {
                check.push(path, InvalidValue, "a whole number of hours from 1 to 8760");
                None
            }
        },
    }
}

fn parse_settings(check: &mut Checker, value: &Value, path: &str) -> Settings {
    let mut settings = Settings::default();
    let Some(object) = value.as_object() else {
        check.push(path, InvalidValue, "an object");
        return settings;
    };
    known_keys(
        check,
        object,
        path,
        &[
            "dedupe",
            "initiator_is_approver",
            "no_approver",
            "withdraw",
            "on_refuse",
            "comment_required_on_refuse",
            "remind_after_hours",
            "timeout",
        ],
    );
    settings.dedupe = choice(
        check,
        object.get("dedupe"),
        &join(path, "dedupe"),
        &[
            ("off", Dedupe::Off),
            ("keep_first", Dedupe::KeepFirst),
            ("consecutive", Dedupe::Consecutive),
        ],
        Dedupe::Off,
    );
    settings.initiator_is_approver = choice(
        check,
        object.get("initiator_is_approver"),
        &join(path, "initiator_is_approver"),
        &[
            ("approve_self", InitiatorIsApprover::ApproveSelf),
            ("auto_pass", InitiatorIsApprover::AutoPass),
            ("manager", InitiatorIsApprover::Manager),
        ],
        InitiatorIsApprover::ApproveSelf,
    );
    settings.no_approver = match object.get("no_approver") {
        Some(Value::Object(inner)) => match inner.get("member") {
            Some(id) if inner.len() == 1 => member_id(check, id, &join(path, "no_approver.member"))
                .map_or(NoApprover::Pass, NoApprover::Member),
            _ => {
                check.push(
                    join(path, "no_approver"),
                    InvalidValue,
                    "pass, admin or {member: <id>}",
                );
                NoApprover::Pass
            }
        },
        other => choice(
            check,
            other,
            &join(path, "no_approver"),
            &[("pass", NoApprover::Pass), ("admin", NoApprover::Admin)],
            NoApprover::Pass,
        ),
    };
    settings.withdraw = choice(
        check,
        object.get("withdraw"),
        &join(path, "withdraw"),
        &[
            ("always", Withdraw::Always),
            ("before_action", Withdraw::BeforeAction),
            ("never", Withdraw::Never),
        ],
        Withdraw::Always,
    );
    settings.on_refuse = choice(
        check,
        object.get("on_refuse"),
        &join(path, "on_refuse"),
        &[
            ("end", OnRefuse::End),
            ("return_to_initiator", OnRefuse::ReturnToInitiator),
        ],
        OnRefuse::End,
    );
    settings.comment_required_on_refuse = match object.get("comment_required_on_refuse") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            check.push(
                join(path, "comment_required_on_refuse"),
                InvalidValue,
                "true or false",
            );
            false
        }
    };
    settings.remind_after_hours = hours(
        check,
        object.get("remind_after_hours"),
        &join(path, "remind_after_hours"),
    );
    settings.timeout = match object.get("timeout") {
        None | Some(Value::Null) => None,
        Some(Value::Object(inner)) => {
            let at = join(path, "timeout");
            let after = hours(check, inner.get("after_hours"), &join(&at, "after_hours"));
            if after.is_none() {
                check.push(
                    join(&at, "after_hours"),
                    Required,
                    "required: hours until the action",
                );
            }
            let action = choice(
                check,
                inner.get("action"),
                &join(&at, "action"),
                &[
                    ("approve", Some(TimeoutAction::Approve)),
                    ("refuse", Some(TimeoutAction::Refuse)),
                ],
                None,
            );
            if action.is_none() {
                check.push(join(&at, "action"), Required, "required: approve or refuse");
            }
            after.zip(action).map(|(after_hours, action)| Timeout {
                after_hours,
                action,
            })
        }
        Some(_) => {
            check.push(join(path, "timeout"), InvalidValue, "{after_hours, action}");
            None
        }
    };
    settings
}

fn parse_cc(check: &mut Checker, value: &Value, path: &str) -> Option<CcRule> {
    let Some(object) = value.as_object() else {
        check.push(
            path,
            InvalidValue,
            "{at: start|finish|both, approvers: [...]}",
        );
        return None;
    };
    known_keys(check, object, path, &["at", "approvers"]);
    let at = choice(
        check,
        object.get("at"),
        &join(path, "at"),
        &[
            ("start", CcAt::Start),
            ("finish", CcAt::Finish),
            ("both", CcAt::Both),
        ],
        CcAt::Finish,
    );
    let approvers = parse_rules(check, object.get("approvers"), &join(path, "approvers"));
    Some(CcRule { at, approvers })
}

fn parse_method(check: &mut Checker, object: &Map<String, Value>, path: &str) -> Method {
    let method = choice(
        check,
        object.get("method"),
        &join(path, "method"),
        &[
            ("or", Some(Method::Or)),
            ("and", Some(Method::And)),
            ("one_by_one", Some(Method::OneByOne)),
            ("vote", None),
        ],
        Some(Method::Or),
    );
    let vote = object.get("method").and_then(Value::as_str) == Some("vote");
    match (method, vote) {
        (_, true) => match object
            .get("pass_percent")
            .and_then(Value::as_u64)
            .and_then(|n| u8::try_from(n).ok())
        {
            Some(pass_percent) if (1..=100).contains(&pass_percent) => {
                Method::Vote { pass_percent }
            }
            _ => {
                check.push(
                    join(path, "pass_percent"),
                    Required,
                    "a vote needs pass_percent, a whole number from 1 to 100",
                );
                Method::Or
            }
        },
        (Some(method), false) => {
            if object.contains_key("pass_percent") {
                check.push(
                    join(path, "pass_percent"),
                    DetailCode::NotAllowed,
                    "only a vote has pass_percent",
                );
            }
            method
        }
        (None, false) => Method::Or,
    }
}

fn parse_node(check: &mut Checker, value: &Value, path: &str) -> Option<Node> {
    let Some(object) = value.as_object() else {
        check.push(
            path,
            InvalidValue,
            "a node is an object with key, type and next",
        );
        return None;
    };
    known_keys(
        check,
        object,
        path,
        &[
            "key",
            "name",
            "type",
            "method",
            "pass_percent",
            "approvers",
            "next",
            "branches",
            "default",
        ],
    );
    let key = key_at(check, object.get("key"), &join(path, "key"));
    let name = text_at(check, object.get("name"), &join(path, "name"));
    let kind_name = object.get("type").and_then(Value::as_str);
    let next = |check: &mut Checker| key_or_end(check, object.get("next"), &join(path, "next"));
    let kind = match kind_name {
        Some("approval") => {
            let method = parse_method(check, object, path);
            let approvers = parse_rules(check, object.get("approvers"), &join(path, "approvers"));
            next(check).map(|next| NodeKind::Approval {
                method,
                approvers,
                next,
            })
        }
        Some("handle") => {
            let method = parse_method(check, object, path);
            if matches!(method, Method::Vote { .. }) {
                check.push(
                    join(path, "method"),
                    InvalidValue,
                    "a handle node is or, and or one_by_one",
                );
            }
            let approvers = parse_rules(check, object.get("approvers"), &join(path, "approvers"));
            next(check).map(|next| NodeKind::Handle {
                method,
                approvers,
                next,
            })
        }
        Some("cc") => {
            let approvers = parse_rules(check, object.get("approvers"), &join(path, "approvers"));
            next(check).map(|next| NodeKind::Cc { approvers, next })
        }
        Some("condition") => {
            let branches = match object.get("branches") {
                Some(Value::Array(items)) if !items.is_empty() => {
                    if items.len() > BRANCHES_MAX {
                        check.too_many(
                            join(path, "branches"),
                            BRANCHES_MAX,
                            format!("a condition has at most {BRANCHES_MAX} branches"),
                        );
                    }
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(b, item)| {
                            let at = format!("{}[{b}]", join(path, "branches"));
                            let Some(branch) = item.as_object() else {
                                check.push(&at, InvalidValue, "a branch is {when, next}");
                                return None;
                            };
                            known_keys(check, branch, &at, &["when", "next"]);
                            let when = text_at(check, branch.get("when"), &join(&at, "when"));
                            if when.is_none() {
                                check.push(
                                    join(&at, "when"),
                                    Required,
                                    "required: a condition formula",
                                );
                            }
                            let next = key_or_end(check, branch.get("next"), &join(&at, "next"));
                            Some(Branch {
                                when: when?,
                                next: next?,
                            })
                        })
                        .collect()
                }
                _ => {
                    check.push(
                        join(path, "branches"),
                        Required,
                        "a condition needs a list of branches {when, next}",
                    );
                    Vec::new()
                }
            };
            let default = match object.get("default") {
                None | Some(Value::Null) => {
                    check.push(
                        join(path, "default"),
                        Required,
                        "a condition needs a default: where to go when no branch matches",
                    );
                    None
                }
                value => key_or_end(check, value, &join(path, "default")),
            };
            default.map(|default| NodeKind::Condition { branches, default })
        }
        Some("end") => Some(NodeKind::End),
        _ => {
            check.push(
                join(path, "type"),
                InvalidValue,
                "one of approval, handle, cc, condition, end",
            );
            None
        }
    };
    let key = key?;
    if key == INITIATOR || (key == END && !matches!(kind, Some(NodeKind::End))) {
        check.push(
            join(path, "key"),
            DetailCode::Reserved,
            format!(
                "\"{key}\" is reserved (end ends the instance; initiator is the return target)"
            ),
        );
    }
    Some(Node {
        key,
        name,
        kind: kind?,
    })
}

fn key_or_end(check: &mut Checker, value: Option<&Value>, path: &str) -> Option<String> {
    match value {
        Some(Value::String(text)) if text == END => Some(END.to_owned()),
        Some(_) => key_at(check, value, path),
        None => {
            check.push(path, Required, "required: the key of the next node, or end");
            None
        }
    }
}

fn parse_rules(check: &mut Checker, value: Option<&Value>, path: &str) -> Vec<Rule> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| parse_rule(check, item, &format!("{path}[{i}]")))
            .collect(),
        Some(_) => {
            check.push(path, InvalidValue, "a list of approver rules");
            Vec::new()
        }
    }
}

const RULE_HELP: &str = "one of {members: [ids]}, {role: <key>}, {manager: <level>}, \
    {manager_chain: <level> | {role: <key>}}, {department_head: true}, {selected: true | [rules]}, \
    {initiator: true}, {field: <key>}";

fn level(check: &mut Checker, value: &Value, path: &str) -> Option<u32> {
    match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (1..=MANAGER_LEVEL_MAX).contains(&n) => Some(n),
        _ => {
            check.push(
                path,
                InvalidValue,
                format!("a level from 1 to {MANAGER_LEVEL_MAX} (1 is the direct manager)"),
            );
            None
        }
    }
}

fn parse_rule(check: &mut Checker, value: &Value, path: &str) -> Option<Rule> {
    let object = value.as_object().filter(|object| object.len() == 1);
    let Some((kind, inner)) = object.and_then(|object| object.iter().next()) else {
        check.push(path, InvalidValue, RULE_HELP);
        return None;
    };
    let at = join(path, kind);
    match kind.as_str() {
        "members" => match inner {
            Value::Array(ids) if !ids.is_empty() => {
                if ids.len() > APPROVERS_MAX {
                    check.too_many(
                        &at,
                        APPROVERS_MAX,
                        format!("at most {APPROVERS_MAX} members"),
                    );
                }
                let members: Vec<MemberId> = ids
                    .iter()
                    .enumerate()
                    .filter_map(|(i, id)| member_id(check, id, &format!("{at}[{i}]")))
                    .collect();
                (members.len() == ids.len()).then_some(Rule::Members(members))
            }
            _ => {
                check.push(&at, InvalidValue, "a list of member ids");
                None
            }
        },
        "role" => key_at(check, Some(inner), &at).map(Rule::Role),
        "manager" => level(check, inner, &at).map(Rule::Manager),
        "manager_chain" => match inner {
            Value::Object(to) if to.len() == 1 && to.contains_key("role") => {
                key_at(check, to.get("role"), &join(&at, "role")).map(Rule::ManagerChainToRole)
            }
            Value::Object(to) if to.len() == 1 && to.contains_key("level") => to
                .get("level")
                .and_then(|value| level(check, value, &join(&at, "level")))
                .map(Rule::ManagerChainToLevel),
            other => level(check, other, &at).map(Rule::ManagerChainToLevel),
        },
        "department_head" if inner == &Value::Bool(true) => Some(Rule::DepartmentHead),
        "initiator" if inner == &Value::Bool(true) => Some(Rule::Initiator),
        "selected" => match inner {
            Value::Bool(true) => Some(Rule::Selected(Vec::new())),
            Value::Array(_) => {
                let range = parse_rules(check, Some(inner), &at);
                if range.iter().any(|rule| matches!(rule, Rule::Selected(_))) {
                    check.push(
                        &at,
                        DetailCode::NotAllowed,
                        "a range cannot itself be selected",
                    );
                }
                Some(Rule::Selected(range))
            }
            _ => {
                check.push(
                    &at,
                    InvalidValue,
                    "true (any member) or a list of rules giving the range",
                );
                None
            }
        },
        "field" => text_at(check, Some(inner), &at).map(Rule::Field),
        _ => {
            check.push(path, InvalidValue, RULE_HELP);
            None
        }
    }
}
