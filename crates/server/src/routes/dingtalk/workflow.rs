//! v1.0 workflow (审批, #21 part 2) over the native approvals: `POST /v1.0/workflow/forms` (a table of the
//! app `dingtalk_forms` and a published process with one `or` node of selected approvers, in one
//! transaction), `GET …/forms/schemas/processCodes` (any process's form), `POST …/processInstances` (the
//! record and the instance in one transaction, through the native start) and `GET …/processInstances`
//! (the instance with DingTalk's spellings). The actions are in [`super::workflow_actions`]. Token in
//! `x-acs-dingtalk-access-token`; scopes those of the native routes (`apps:*` for forms, `approvals:*`).

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use tenon_approvals::Acting;
use tenon_dingtalk::V1Error;
use tenon_dingtalk::lenient::Params;
use tenon_dingtalk::workflow::{
    ComponentError, FORM_APP_KEY, FORM_APP_NAME, FORM_COMPONENTS_MAX, FormCreateRequest,
    FormCreateResponse, ProcessCodeResult, StartInstanceRequest, StartInstanceResponse,
    component_field, form_process, record_fields, selected_nodes,
};
use tenon_dingtalk::workflow_render::{
    FormSchemaResponse, FormValueOut, GetInstanceResponse, InstanceContext, OperationView,
    SchemaField, dingtalk_minute, render_instance, render_schema,
};
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::apps::{ApiKey, CellValue, FieldKind, TableSchema};
use tenon_model::{Actor, ApprovalId, MemberId, Name, Scope};
use tenon_store::approvals::StartApproval;
use tenon_store::{DingTalkForm, Tenant};

use super::errors::{OapiFailure, V1Failure};
use super::oauth::read;
use crate::auth::{Authed, Authenticated, scopes};
use crate::error::ApiError;
use crate::extract::ApiBytes;
use crate::routes::approvals::command_error;
use crate::routes::apps::{FieldCreate, field_spec};
use crate::routes::records_io::parse_context;
use crate::state::AppState;

/// Why a workflow request failed, whichever family asked: each family answers it in its own shape
/// (v1.0 400/403, oapi `errcode` 40035/60011); a native error is translated by the error layer.
#[derive(Debug)]
pub(super) enum Failure {
    Missing(String),
    Invalid(String),
    Denied(String),
    Native(ApiError),
}

impl Failure {
    pub(super) fn v1(self) -> Response {
        match self {
            Failure::Missing(message) => {
                V1Failure::new(V1Error::MissingParameter, message).into_response()
            }
            Failure::Invalid(message) => invalid(message).into_response(),
            Failure::Denied(message) => {
                V1Failure::new(V1Error::AccessDenied, message).into_response()
            }
            Failure::Native(error) => error.into_response(),
        }
    }

    pub(super) fn oapi(self) -> Response {
        use tenon_dingtalk::OapiError;
        match self {
            Failure::Missing(message) | Failure::Invalid(message) => {
                OapiFailure::new(OapiError::MissingParameters, message).into_response()
            }
            Failure::Denied(message) => {
                OapiFailure::new(OapiError::NoPermission, message).into_response()
            }
            Failure::Native(error) => error.into_response(),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Native(error)
    }
}

impl From<tenon_store::StoreError> for Failure {
    fn from(error: tenon_store::StoreError) -> Self {
        Failure::Native(error.into())
    }
}

/// Returns the failure's response from the handler.
macro_rules! try_v1 {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(failure) => return IntoResponse::into_response(failure),
        }
    };
}
pub(super) use try_v1;

pub(super) fn missing(name: &str) -> V1Failure {
    V1Failure::new(V1Error::MissingParameter, format!("{name} is required"))
}

pub(super) fn invalid(message: impl Into<String>) -> V1Failure {
    V1Failure::new(V1Error::InvalidParameter, message)
}

/// A required text parameter of a body.
pub(super) fn required(value: Option<String>, name: &str) -> Result<String, V1Failure> {
    value
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| missing(name))
}

fn component_failure(error: ComponentError) -> V1Failure {
    match error {
        ComponentError::Missing(message) => V1Failure::new(V1Error::MissingParameter, message),
        ComponentError::Invalid(message) => invalid(message),
    }
}

/// A native error on a v1.0 path: the error layer gives it DingTalk's shape by its code.
pub(super) fn native(error: impl Into<ApiError>) -> Response {
    error.into().into_response()
}

/// The member a DingTalk `userid` names (an active member of the organization), else `InvalidParameter`.
pub(super) async fn member_of(
    tenant: &Tenant<'_>,
    userid: &str,
    name: &str,
) -> Result<MemberId, Failure> {
    match tenant.dingtalk_user(userid).await? {
        Some(user) => Ok(user.member_id),
        None => Err(Failure::Invalid(format!("{name}: no user {userid}"))),
    }
}

/// The member a request acts for: the named one; a personal token (a signed-in user) may name only its
/// own member.
pub(super) fn acting_as(auth: &Authenticated, member: Option<MemberId>) -> Result<Acting, Failure> {
    let own = match &auth.principal.actor {
        Actor::Member { id, .. } => Some(*id),
        Actor::Token { member_id, .. } => *member_id,
        Actor::App { .. } | Actor::System | Actor::Flow { .. } | Actor::Share { .. } => None,
    };
    if own.is_some() && member.is_some() && own != member {
        return Err(Failure::Denied(
            "a user's token acts only as that user".to_owned(),
        ));
    }
    Ok(Acting {
        member: member.or(own),
        credential: auth.principal.actor.clone(),
        admin: auth.principal.scopes.grants(Scope::Admin),
    })
}

/// The parameters of a GET's query.
pub(super) fn query_params(query: Option<String>) -> Params {
    Params::from_pairs(
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned())),
    )
}

/// Create a form and its approval process (DingTalk `workflow/forms`).
#[utoipa::path(
    post, path = "/v1.0/workflow/forms", tag = "dingtalk",
    request_body = FormCreateRequest,
    security(("dingtalk_header" = ["apps:write"])),
    responses(
        (status = 200, description = "The new process's code: a table of the app `dingtalk_forms` (made if missing) and a published process with one `or` node of approvers chosen at the start", body = FormCreateResponse),
        (status = 400, description = "`MissingParameter` (`name`, `formComponents`, a component's `label`), `InvalidParameter` (an unknown `componentType`, `processCode` given: forms cannot be changed, a wrong JSON type)", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_form_create(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsWrite>,
    body: ApiBytes,
) -> Response {
    let request: FormCreateRequest = try_v1!(read(&body));
    let name = try_v1!(required(request.name, "name"));
    if request.process_code.is_some_and(|code| !code.is_empty()) {
        return invalid("processCode: changing a form is not supported; create a new one")
            .into_response();
    }
    let components = request.form_components.unwrap_or_default();
    if components.is_empty() {
        return missing("formComponents").into_response();
    }
    if components.len() > FORM_COMPONENTS_MAX {
        return invalid(format!(
            "formComponents: at most {FORM_COMPONENTS_MAX} components"
        ))
        .into_response();
    }
    let mut fields = Vec::with_capacity(components.len());
    for (index, component) in components.iter().enumerate() {
        let field = try_v1!(component_field(component, index).map_err(component_failure));
        let input = FieldCreate {
            name: field["name"].as_str().unwrap_or_default().to_owned(),
            key: None,
            field_type: field["type"].as_str().unwrap_or_default().to_owned(),
            options: field["options"].as_object().cloned(),
            required: field["required"].as_bool().unwrap_or(false),
            unique: false,
            indexed: false,
            default: None,
        };
        match field_spec(input, &format!("formComponents[{index}]")) {
            Ok(spec) => fields.push(spec),
            Err(error) => {
                return invalid(format!("formComponents[{index}]: {}", error.message()))
                    .into_response();
            }
        }
    }
    let table_name =
        try_v1!(Name::parse(&name).map_err(|error| invalid(format!("name: {}", error.message))));
    let random = uuid::Uuid::now_v7()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    let code = format!("PROC_{}", &random[12..]);
    let table_key = code.to_ascii_lowercase();
    let (Ok(app_key), Ok(app_name), Ok(table_key_parsed)) = (
        ApiKey::parse(FORM_APP_KEY),
        Name::parse(FORM_APP_NAME),
        ApiKey::parse(&table_key),
    ) else {
        return V1Failure::new(V1Error::Internal, "the form's keys are not valid").into_response();
    };
    let form = DingTalkForm {
        app_key,
        app_name,
        table_key: table_key_parsed,
        name: table_name,
        fields,
        process: form_process(&code, &name, &table_key),
    };
    let org = auth.principal.org_id;
    let parse = match parse_context(&state, org).await {
        Ok(parse) => parse,
        Err(error) => return native(error),
    };
    match state
        .store()
        .tenant(org)
        .dingtalk_create_form(&auth.write_context(), form, &parse)
        .await
    {
        Ok(process) => axum::Json(FormCreateResponse {
            result: ProcessCodeResult {
                process_code: process.code,
            },
        })
        .into_response(),
        Err(error) => native(error),
    }
}

/// The fields of a table as a form's components.
fn schema_fields(schema: &TableSchema) -> Vec<SchemaField> {
    schema
        .fields
        .iter()
        .map(|field| SchemaField {
            key: field.key.as_str().to_owned(),
            name: field.name.as_str().to_owned(),
            field_type: field.kind.field_type().as_str().to_owned(),
            required: field.required,
            choices: match &field.kind {
                FieldKind::SingleSelect { choices } | FieldKind::MultiSelect { choices } => {
                    choices.iter().map(|choice| choice.name.clone()).collect()
                }
                _ => Vec::new(),
            },
        })
        .collect()
}

/// A process's form (DingTalk `workflow/forms/schemas/processCodes`).
#[utoipa::path(
    get, path = "/v1.0/workflow/forms/schemas/processCodes", tag = "dingtalk",
    params(
        ("processCode" = String, Query, description = "Any process's code (made here or through `/api/v1/processes`)"),
        ("appUuid" = Option<String>, Query, description = "Accepted and ignored"),
    ),
    security(("dingtalk_header" = ["apps:read"])),
    responses(
        (status = 200, description = "The process's table as components (`componentName` by field type; `props.id` the field key)", body = FormSchemaResponse),
        (status = 400, description = "`MissingParameter` (`processCode`)", body = tenon_dingtalk::V1ErrorBody),
        (status = 404, description = "`resource.not.found`: no such process in the organization", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_form_schema(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = query_params(query);
    let code = try_v1!(
        params
            .text("processCode")
            .map_err(|error| invalid(error.to_string()))
            .and_then(|code| required(code, "processCode"))
    );
    let tenant = state.store().tenant(auth.principal.org_id);
    let process = match tenant.process(&code).await {
        Ok(process) => process,
        Err(error) => return native(error),
    };
    let schema = match tenant.table_schema_by_id(process.table_id).await {
        Ok(schema) => schema,
        Err(error) => return native(error),
    };
    let time =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    axum::Json(render_schema(
        &process.name,
        &process.code,
        process.published_version > 0,
        &time(process.created_at),
        &time(process.updated_at),
        &schema_fields(&schema),
    ))
    .into_response()
}

/// Start an approval instance (DingTalk `workflow/processInstances`).
#[utoipa::path(
    post, path = "/v1.0/workflow/processInstances", tag = "dingtalk",
    request_body = StartInstanceRequest,
    security(("dingtalk_header" = ["approvals:write"])),
    responses(
        (status = 200, description = "The instance's id: the record (values by field name) and the instance were made in one transaction", body = StartInstanceResponse),
        (status = 400, description = "`MissingParameter` (`processCode`, `originatorUserId`), `InvalidParameter` (an unknown user, department or process, `approvers[i]` beyond the process's selected nodes, a value its field refuses); nothing is written", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_instance_start(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsWrite>,
    body: ApiBytes,
) -> Response {
    let request: StartInstanceRequest = try_v1!(read(&body));
    let mut choices: Vec<Choice> = Vec::new();
    for (index, approver) in request
        .approvers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        choices.push(Choice {
            node: NodeRef::Nth(index),
            userids: approver.user_ids.unwrap_or_default(),
            at: format!("approvers[{index}].userIds"),
        });
    }
    for (index, target) in request
        .target_select_actioners
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        choices.push(Choice {
            node: NodeRef::Key(target.actioner_key.unwrap_or_default()),
            userids: target.actioner_user_ids.unwrap_or_default(),
            at: format!("targetSelectActioners[{index}].actionerKey"),
        });
    }
    let start = StartInput {
        code: request.process_code,
        originator: request.originator_user_id,
        dept: request.dept_id,
        choices,
        values: request.form_component_values.unwrap_or_default(),
        names: ["processCode", "originatorUserId"],
    };
    match start_instance(&state, &auth, start).await {
        Ok(instance_id) => axum::Json(StartInstanceResponse { instance_id }).into_response(),
        Err(failure) => failure.v1(),
    }
}

/// Which `selected` node a start's approvers fill.
#[derive(Debug, Clone)]
pub(super) enum NodeRef {
    /// The i-th node with a `selected` rule, in definition order.
    Nth(usize),
    Key(String),
}

/// Approvers a start chooses for one node.
#[derive(Debug, Clone)]
pub(super) struct Choice {
    pub node: NodeRef,
    pub userids: Vec<String>,
    /// The parameter, for errors.
    pub at: String,
}

/// A start as either family asks for it.
#[derive(Debug, Clone)]
pub(super) struct StartInput {
    pub code: Option<String>,
    pub originator: Option<String>,
    pub dept: Option<i64>,
    pub choices: Vec<Choice>,
    pub values: Vec<tenon_dingtalk::workflow::FormComponentValue>,
    /// The family's names of the process code and originator parameters.
    pub names: [&'static str; 2],
}

fn required_failure(value: Option<String>, name: &str) -> Result<String, Failure> {
    value
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| Failure::Missing(format!("{name} is required")))
}

/// The department numbered `number` (`None`, 0 or -1: none named).
pub(super) async fn department_of(
    tenant: &Tenant<'_>,
    number: Option<i64>,
) -> Result<Option<tenon_model::DepartmentId>, Failure> {
    match number.filter(|number| *number > 0) {
        None => Ok(None),
        Some(number) => match tenant.dingtalk_department_id(number).await? {
            Some(id) => Ok(Some(id)),
            None => Err(Failure::Invalid(format!("deptId: no department {number}"))),
        },
    }
}

/// Parses a start's (or forecast's) values against the process's table.
pub(super) async fn parse_values(
    state: &AppState,
    tenant: &Tenant<'_>,
    table: tenon_model::TableId,
    values: &[tenon_dingtalk::workflow::FormComponentValue],
    org: tenon_model::OrgId,
) -> Result<BTreeMap<tenon_model::FieldId, CellValue>, Failure> {
    let cells = record_fields(values).map_err(|error| match error {
        ComponentError::Missing(message) => Failure::Missing(message),
        ComponentError::Invalid(message) => Failure::Invalid(message),
    })?;
    let schema = tenant.table_schema_by_id(table).await?;
    let parse = parse_context(state, org).await?;
    match parse_record_fields(
        &schema,
        &cells,
        &parse,
        WriteMode::Create,
        "formComponentValues",
    ) {
        Ok(parsed) => Ok(present(parsed)),
        Err(problems) => {
            let reasons: Vec<String> = problems
                .iter()
                .map(|problem| format!("{}: {}", problem.field, problem.reason))
                .collect();
            Err(Failure::Invalid(reasons.join("; ")))
        }
    }
}

/// Starts an instance with its record in one transaction: the new instance's id.
pub(super) async fn start_instance(
    state: &AppState,
    auth: &Authenticated,
    input: StartInput,
) -> Result<String, Failure> {
    let [code_name, originator_name] = input.names;
    let code = required_failure(input.code, code_name)?;
    let originator = required_failure(input.originator, originator_name)?;
    let tenant = state.store().tenant(auth.principal.org_id);
    let Some((process, definition)) = tenant.dingtalk_published(&code).await? else {
        return Err(Failure::Invalid(format!("{code_name}: no process {code}")));
    };
    let initiator = member_of(&tenant, &originator, originator_name).await?;
    let department = department_of(&tenant, input.dept).await?;
    let nodes = selected_nodes(&definition);
    let mut selected: BTreeMap<String, Vec<MemberId>> = BTreeMap::new();
    for choice in input.choices {
        let node = match &choice.node {
            NodeRef::Nth(index) => nodes.get(*index).cloned().ok_or_else(|| {
                Failure::Invalid(format!(
                    "{}: the process has {} node(s) whose approvers are chosen",
                    choice.at,
                    nodes.len()
                ))
            })?,
            NodeRef::Key(key) if nodes.contains(key) => key.clone(),
            NodeRef::Key(key) => {
                return Err(Failure::Invalid(format!(
                    "{}: no node {key:?} whose approvers are chosen",
                    choice.at
                )));
            }
        };
        if choice.userids.is_empty() {
            return Err(Failure::Missing(format!("{} is required", choice.at)));
        }
        let mut members = Vec::with_capacity(choice.userids.len());
        for userid in &choice.userids {
            members.push(member_of(&tenant, userid, &choice.at).await?);
        }
        selected.insert(node, members);
    }
    let fields = parse_values(
        state,
        &tenant,
        process.table_id,
        &input.values,
        auth.principal.org_id,
    )
    .await?;
    let start = StartApproval {
        process: code,
        record: None,
        fields: Some(fields),
        initiator: Some(initiator),
        department,
        selected,
        by: acting_as(auth, Some(initiator))?,
    };
    let answer = tenant
        .start_approval(&auth.write_context(), start, None)
        .await
        .map_err(command_error)?;
    Ok(answer.body["id"].as_str().unwrap_or_default().to_owned())
}

/// A cell as DingTalk's `formComponentValues` show it: text.
fn cell_text(cell: &CellValue) -> String {
    match cell {
        CellValue::Text(text) => text.clone(),
        CellValue::Decimal(number) => number.normalize().to_string(),
        CellValue::Integer(number) => number.to_string(),
        CellValue::Bool(value) => value.to_string(),
        CellValue::Date(date) => date.format("%Y-%m-%d").to_string(),
        CellValue::DateTime(at) => dingtalk_minute(*at),
        CellValue::Names(names) => serde_json::to_string(names).unwrap_or_default(),
        CellValue::Ids(ids) => {
            serde_json::to_string(&ids.iter().map(ToString::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        }
    }
}

/// Get an approval instance (DingTalk `workflow/processInstances`).
#[utoipa::path(
    get, path = "/v1.0/workflow/processInstances", tag = "dingtalk",
    params(("processInstanceId" = String, Query, description = "The instance's id (`instanceId` of the start)")),
    security(("dingtalk_header" = ["approvals:read"])),
    responses(
        (status = 200, description = "`success` is the string \"true\"; the instance with its record's values, tasks (`taskId` the task's number) and operation records, times `yyyy-MM-ddTHH:mmZ` (UTC)", body = GetInstanceResponse),
        (status = 400, description = "`MissingParameter` (`processInstanceId`), `InvalidParameter` (not an instance id)", body = tenon_dingtalk::V1ErrorBody),
        (status = 404, description = "`resource.not.found`: no such instance in the organization", body = tenon_dingtalk::V1ErrorBody),
    )
)]
pub async fn dingtalk_instance_get(
    State(state): State<AppState>,
    auth: Authed<scopes::ApprovalsRead>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = query_params(query);
    let raw = try_v1!(
        params
            .text("processInstanceId")
            .map_err(|error| invalid(error.to_string()))
            .and_then(|id| required(id, "processInstanceId"))
    );
    let Ok(id) = raw.parse::<ApprovalId>() else {
        return invalid("processInstanceId: not an instance id").into_response();
    };
    let tenant = state.store().tenant(auth.principal.org_id);
    match instance_answer(&tenant, id).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => native(error),
    }
}

/// The instance as `GET /v1.0/workflow/processInstances` shows it.
pub(super) async fn instance_answer(
    tenant: &Tenant<'_>,
    id: ApprovalId,
) -> Result<GetInstanceResponse, tenon_store::StoreError> {
    let tenon_store::DingTalkInstance {
        state,
        operations,
        schema,
        record,
        process_name,
        people,
    } = tenant.dingtalk_instance(id).await?;
    let form_values = schema
        .fields
        .iter()
        .map(|field| FormValueOut {
            id: field.key.as_str().to_owned(),
            name: field.name.as_str().to_owned(),
            value: record
                .cells
                .get(&field.id)
                .map(cell_text)
                .unwrap_or_default(),
            component_type: tenon_dingtalk::workflow::component_type(
                field.kind.field_type().as_str(),
            )
            .to_owned(),
        })
        .collect();
    let instance = &state.instance;
    let originator = people.get(&instance.initiator);
    let (dept_id, dept_name) = originator
        .and_then(|person| person.department.as_ref())
        .map_or_else(
            || ("1".to_owned(), String::new()),
            |(number, name)| (number.to_string(), name.clone()),
        );
    let context = InstanceContext {
        title: tenon_dingtalk::events::instance_title(
            originator
                .map(|person| person.name.as_str())
                .unwrap_or_default(),
            &process_name,
        ),
        originator_dept_id: dept_id,
        originator_dept_name: dept_name,
        form_values,
    };
    let operations: Vec<OperationView<'_>> = operations
        .iter()
        .map(|operation| OperationView {
            kind: operation.kind,
            actor: operation.actor,
            node: operation.node.as_deref(),
            result: operation.result,
            comment: operation.comment.as_deref(),
            members: &operation.members,
            at: operation.at,
        })
        .collect();
    // A member the directory no longer has is named by its id, as the native answer names it.
    let userid = |member: MemberId| {
        people
            .get(&member)
            .map_or_else(|| member.to_string(), |person| person.userid.clone())
    };
    Ok(render_instance(
        instance,
        &state.tasks,
        &operations,
        context,
        &userid,
    ))
}
