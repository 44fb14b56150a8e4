//! v1.0 workflow (审批) shapes: forms (`POST /v1.0/workflow/forms`, `GET …/forms/schemas/processCodes`),
//! instances (`POST|GET /v1.0/workflow/processInstances`, `…/execute`, `…/terminate`), task redirects,
//! forecasts and instance id queries — with DingTalk's keys and JSON types as its SDK reads them.
//!
//! A DingTalk form is a table of the organization's app [`FORM_APP_KEY`]; its components map to field
//! types ([`component_field`]); its process is a published Tenon process with one `or` node of `selected`
//! approvers ([`form_process`]). The renderings of native instances are in [`crate::workflow_render`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// The app whose tables are the forms made through `POST /v1.0/workflow/forms`.
pub const FORM_APP_KEY: &str = "dingtalk_forms";
/// Its name, when the first form creates it.
pub const FORM_APP_NAME: &str = "DingTalk forms";
/// The key of a form process's one approval node.
pub const FORM_NODE_KEY: &str = "approver";
/// Components of one form at most (DingTalk's designer allows about this many).
pub const FORM_COMPONENTS_MAX: usize = 100;

/// `{name, description, formComponents, processCode, templateConfig}`; unknown keys are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormCreateRequest {
    pub name: Option<String>,
    /// Accepted and ignored (a process has no description).
    pub description: Option<String>,
    #[serde(default)]
    pub form_components: Option<Vec<FormComponent>>,
    /// Updating an existing form; Tenon refuses it (400 `InvalidParameter`).
    pub process_code: Option<String>,
}

/// `{componentType, props}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormComponent {
    pub component_type: Option<String>,
    #[serde(default)]
    pub props: Option<FormComponentProps>,
}

/// The props Tenon reads; the others (`placeholder`, `bizAlias`, …) are accepted and ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormComponentProps {
    pub component_id: Option<String>,
    /// The field's name.
    pub label: Option<String>,
    pub required: Option<bool>,
    /// Choices of `DDSelectField`/`DDMultiSelectField`: `[{key, value}]`, `value` being the choice's name.
    #[serde(default)]
    pub options: Option<Vec<SelectOption>>,
    /// Decimals of a `NumberField` (default 4).
    pub precision: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SelectOption {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// `{"result": {"processCode"}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormCreateResponse {
    pub result: ProcessCodeResult,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCodeResult {
    pub process_code: String,
}

/// Why a form component has no field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentError {
    /// A required prop is missing (`MissingParameter`).
    Missing(String),
    /// An unknown component type or a bad prop (`InvalidParameter`).
    Invalid(String),
}

/// The native field (`POST /api/v1/apps/{app}/tables` `fields[i]`: `{"name", "type", "required",
/// "options"}`) of the `index`-th component.
pub fn component_field(component: &FormComponent, index: usize) -> Result<Value, ComponentError> {
    let at = format!("formComponents[{index}]");
    let kind = component
        .component_type
        .as_deref()
        .filter(|kind| !kind.is_empty())
        .ok_or_else(|| ComponentError::Missing(format!("{at}.componentType is required")))?;
    let props = component
        .props
        .as_ref()
        .ok_or_else(|| ComponentError::Missing(format!("{at}.props is required")))?;
    let label = props
        .label
        .as_deref()
        .map(str::trim)
        .filter(|label| !label.is_empty())
        .ok_or_else(|| ComponentError::Missing(format!("{at}.props.label is required")))?;
    let choices = || -> Result<Value, ComponentError> {
        let names: Vec<&str> = props
            .options
            .iter()
            .flatten()
            .filter_map(|option| option.value.as_deref().or(option.key.as_deref()))
            .collect();
        if names.is_empty() {
            return Err(ComponentError::Missing(format!(
                "{at}.props.options: a select needs at least one option"
            )));
        }
        Ok(json!({"choices": names}))
    };
    let (field_type, options) = match kind {
        "TextField" => ("text", json!({})),
        "TextareaField" => ("long_text", json!({})),
        "NumberField" => ("number", json!({"precision": props.precision.unwrap_or(4)})),
        "MoneyField" => ("currency", json!({"currency": "CNY", "precision": 2})),
        "DDSelectField" => ("single_select", choices()?),
        "DDMultiSelectField" => ("multi_select", choices()?),
        "DDDateField" => ("date", json!({})),
        "DDAttachment" => ("attachment", json!({})),
        other => {
            return Err(ComponentError::Invalid(format!(
                "{at}.componentType {other:?} is not supported: TextField, TextareaField, NumberField, \
                 MoneyField, DDSelectField, DDMultiSelectField, DDDateField or DDAttachment"
            )));
        }
    };
    Ok(json!({
        "name": label,
        "type": field_type,
        "required": props.required.unwrap_or(false),
        "options": options,
    }))
}

/// The component type that shows a native field type (the reverse of [`component_field`]; types DingTalk
/// has no component for show as `TextField`).
pub fn component_type(field_type: &str) -> &'static str {
    match field_type {
        "long_text" => "TextareaField",
        "number" | "percent" | "rating" | "duration" | "autonumber" => "NumberField",
        "currency" => "MoneyField",
        "single_select" => "DDSelectField",
        "multi_select" => "DDMultiSelectField",
        "date" | "datetime" | "created_time" | "modified_time" => "DDDateField",
        "attachment" => "DDAttachment",
        "member" | "created_by" | "modified_by" => "InnerContactField",
        "department" => "DepartmentField",
        _ => "TextField",
    }
}

/// The native process of a form: one `or` node whose approvers the initiator selects (any member).
pub fn form_process(code: &str, name: &str, table_key: &str) -> Value {
    json!({
        "code": code,
        "name": name,
        "table": table_key,
        "nodes": [{
            "key": FORM_NODE_KEY,
            "name": "审批人",
            "type": "approval",
            "method": "or",
            "approvers": [{"selected": []}],
            "next": "end",
        }],
    })
}

/// The keys of the nodes with a `selected` approver rule, in the order of the definition's `nodes`:
/// `approvers[i]` of a start fills the i-th.
pub fn selected_nodes(definition: &Value) -> Vec<String> {
    definition["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| {
            node["approvers"]
                .as_array()
                .is_some_and(|rules| rules.iter().any(|rule| rule.get("selected").is_some()))
        })
        .filter_map(|node| node["key"].as_str().map(str::to_owned))
        .collect()
}

/// `{name, value, details, id, componentType, …}` of a start or forecast; `name` names the field.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormComponentValue {
    pub name: Option<String>,
    pub id: Option<String>,
    pub value: Option<String>,
    pub component_type: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub details: Option<Value>,
}

/// The native record `fields` of a start's values, by field name (else `id`): a value that is a JSON
/// array's text (`"[\"A\",\"B\"]"`, multi-selects and attachments) is that array; an empty value is unset.
pub fn record_fields(values: &[FormComponentValue]) -> Result<Map<String, Value>, ComponentError> {
    let mut fields = Map::new();
    for (index, value) in values.iter().enumerate() {
        let name = value
            .name
            .as_deref()
            .or(value.id.as_deref())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                ComponentError::Missing(format!("formComponentValues[{index}].name is required"))
            })?;
        let text = value.value.clone().unwrap_or_default();
        let cell = if text.trim_start().starts_with('[') {
            serde_json::from_str::<Value>(&text)
                .ok()
                .filter(Value::is_array)
                .unwrap_or(Value::String(text))
        } else if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        };
        if fields.insert(name.to_owned(), cell).is_some() {
            return Err(ComponentError::Invalid(format!(
                "formComponentValues[{index}]: {name} is given twice"
            )));
        }
    }
    Ok(fields)
}

/// `{actionType, userIds}`: who approves the i-th `selected` node.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartApprovers {
    /// `AND`, `OR` or `NONE`; Tenon's form nodes are `or` whatever it says.
    pub action_type: Option<String>,
    #[serde(default)]
    pub user_ids: Option<Vec<String>>,
}

/// `{actionerKey, actionerUserIds}`: the approvers of the node `actionerKey`.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetSelectActioner {
    pub actioner_key: Option<String>,
    #[serde(default)]
    pub actioner_user_ids: Option<Vec<String>>,
}

/// `POST /v1.0/workflow/processInstances`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartInstanceRequest {
    pub process_code: Option<String>,
    pub originator_user_id: Option<String>,
    pub dept_id: Option<i64>,
    #[serde(default)]
    pub approvers: Option<Vec<StartApprovers>>,
    #[serde(default)]
    pub form_component_values: Option<Vec<FormComponentValue>>,
    #[serde(default)]
    pub target_select_actioners: Option<Vec<TargetSelectActioner>>,
}

/// `{"instanceId"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartInstanceResponse {
    pub instance_id: String,
}

/// `POST /v1.0/workflow/processInstances/execute`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteRequest {
    pub process_instance_id: Option<String>,
    pub actioner_user_id: Option<String>,
    pub task_id: Option<i64>,
    /// `agree` or `refuse`.
    pub result: Option<String>,
    pub remark: Option<String>,
}

/// `POST /v1.0/workflow/processInstances/terminate`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TerminateRequest {
    pub process_instance_id: Option<String>,
    /// Terminated by the system (an administrator's token), not by the originator.
    pub is_system: Option<bool>,
    pub operating_user_id: Option<String>,
    pub remark: Option<String>,
}

/// `{"success": true, "result": true}` (booleans) of execute and terminate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoneResponse {
    pub success: bool,
    pub result: bool,
}

/// `POST /v1.0/workflow/tasks/redirect`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectRequest {
    pub task_id: Option<i64>,
    pub to_user_id: Option<String>,
    pub operate_user_id: Option<String>,
    pub remark: Option<String>,
}

/// `{"result": true}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RedirectResponse {
    pub result: bool,
}

/// `POST /v1.0/workflow/processes/instanceIds/query`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceIdsRequest {
    pub process_code: Option<String>,
    /// Milliseconds since the epoch: instances created at or after it.
    pub start_time: Option<i64>,
    /// Milliseconds since the epoch: instances created before it (default: now).
    pub end_time: Option<i64>,
    /// The `nextToken` of the previous page (an offset).
    pub next_token: Option<i64>,
    /// 1 to 20 (default 20).
    pub max_results: Option<i64>,
    /// Only instances these users started.
    #[serde(default)]
    pub user_ids: Option<Vec<String>>,
    /// `RUNNING`, `COMPLETED`, `TERMINATED`.
    #[serde(default)]
    pub statuses: Option<Vec<String>>,
}

/// The largest page of an instance id query, as DingTalk limits it.
pub const INSTANCE_IDS_MAX: i64 = 20;

/// `{"success": true, "result": {"list", "nextToken"}}` (`nextToken` absent on the last page).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstanceIdsResponse {
    pub success: bool,
    pub result: InstanceIdsResult,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceIdsResult {
    pub list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The native instance status of DingTalk's (`RUNNING`, `COMPLETED`, `TERMINATED`).
pub fn native_instance_status(dingtalk: &str) -> Option<&'static str> {
    Some(match dingtalk {
        "RUNNING" => "running",
        "COMPLETED" => "completed",
        "TERMINATED" => "terminated",
        _ => return None,
    })
}

/// `POST /v1.0/workflow/processes/forecast`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastRequest {
    pub process_code: Option<String>,
    pub dept_id: Option<i64>,
    pub user_id: Option<String>,
    #[serde(default)]
    pub form_component_values: Option<Vec<FormComponentValue>>,
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
