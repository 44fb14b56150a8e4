"""Drives Tenon's DingTalk workflow API (#21 part 2) with DingTalk's official Python SDK (alibabacloud-dingtalk
2.2.65, installed by .ci/run), changing nothing but the endpoint: a form is created and its schema read, an
instance started, read, agreed and read again, and a second instance terminated by its originator. Prints
one JSON line per step; exits non-zero on any failure, including a wrong JSON type in an answer.

Usage: dingtalk_workflow_client.py HOST:PORT APP_KEY APP_SECRET ORIGINATOR_USERID APPROVER_USERID
"""

import json
import re
import sys

from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_dingtalk.workflow_1_0 import models as wf
from alibabacloud_dingtalk.workflow_1_0.client import Client as WorkflowClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$")


def step(name, **fields):
    print(json.dumps({"step": name, **fields}, ensure_ascii=False), flush=True)


def expect_type(name, value, kind):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise SystemExit(f"{name}: expected {kind.__name__}, got {value!r}")


def expect_time(name, value):
    expect_type(name, value, str)
    if not TIME.match(value):
        raise SystemExit(f"{name}: {value!r} is not yyyy-MM-ddTHH:mmZ")


def check_instance(body):
    """The types of a GetProcessInstance answer."""
    expect_type("success", body.success, str)
    result = body.result
    for name in ["title", "status", "result", "business_id", "originator_user_id", "originator_dept_id"]:
        expect_type(name, getattr(result, name), str)
    expect_time("createTime", result.create_time)
    expect_type("tasks", result.tasks, list)
    expect_type("operationRecords", result.operation_records, list)
    expect_type("formComponentValues", result.form_component_values, list)
    for task in result.tasks:
        expect_type("taskId", task.task_id, int)
        for name in ["user_id", "status", "result", "activity_id"]:
            expect_type(f"task.{name}", getattr(task, name), str)
        expect_time("task.createTime", task.create_time)
    for record in result.operation_records:
        for name in ["type", "result", "date"]:
            expect_type(f"record.{name}", getattr(record, name), str)
    for value in result.form_component_values:
        for name in ["name", "value", "id", "component_type"]:
            expect_type(f"value.{name}", getattr(value, name), str)
    return result


def main():
    endpoint, key, secret, originator, approver = sys.argv[1:6]
    config = open_api_models.Config(endpoint=endpoint, protocol="http")
    token = OAuthClient(config).get_access_token(
        oauth_models.GetAccessTokenRequest(app_key=key, app_secret=secret)
    ).body.access_token
    client = WorkflowClient(config)
    runtime = util_models.RuntimeOptions()

    def headers(kind):
        return kind(x_acs_dingtalk_access_token=token)

    created = client.form_create_with_options(
        wf.FormCreateRequest(
            name="SDK 请假",
            description="from the SDK",
            form_components=[
                wf.FormComponent(
                    component_type="TextField",
                    props=wf.FormComponentProps(component_id="TextField_1", label="事由", required=True),
                ),
                wf.FormComponent(component_type="NumberField", props=wf.FormComponentProps(label="天数")),
                wf.FormComponent(
                    component_type="DDSelectField",
                    props=wf.FormComponentProps(
                        label="类型",
                        options=[wf.SelectOption(key="a", value="年假"), wf.SelectOption(key="b", value="病假")],
                    ),
                ),
            ],
        ),
        headers(wf.FormCreateHeaders),
        runtime,
    )
    code = created.body.result.process_code
    expect_type("processCode", code, str)
    step("formCreate", process_code=code)

    schema = client.query_schema_by_process_code_with_options(
        wf.QuerySchemaByProcessCodeRequest(process_code=code), headers(wf.QuerySchemaByProcessCodeHeaders), runtime
    ).body.result
    items = schema.schema_content.items
    for item in items:
        expect_type("componentName", item.component_name, str)
        expect_type("props.required", item.props.required, bool)
    step("schema", components=[item.component_name for item in items], form_name=schema.name)

    def start(reason):
        answer = client.start_process_instance_with_options(
            wf.StartProcessInstanceRequest(
                process_code=code,
                originator_user_id=originator,
                dept_id=1,
                approvers=[wf.StartProcessInstanceRequestApprovers(action_type="OR", user_ids=[approver])],
                form_component_values=[
                    wf.StartProcessInstanceRequestFormComponentValues(name="事由", value=reason),
                    wf.StartProcessInstanceRequestFormComponentValues(name="天数", value="2"),
                    wf.StartProcessInstanceRequestFormComponentValues(name="类型", value="年假"),
                ],
            ),
            headers(wf.StartProcessInstanceHeaders),
            runtime,
        )
        expect_type("instanceId", answer.body.instance_id, str)
        return answer.body.instance_id

    def get(instance):
        return check_instance(
            client.get_process_instance_with_options(
                wf.GetProcessInstanceRequest(process_instance_id=instance),
                headers(wf.GetProcessInstanceHeaders),
                runtime,
            ).body
        )

    instance = start("rest")
    running = get(instance)
    task_id = running.tasks[0].task_id
    step("start", instance_id=instance, status=running.status, task_id=task_id, approver=running.tasks[0].user_id,
         values={value.name: value.value for value in running.form_component_values})

    executed = client.execute_process_instance_with_options(
        wf.ExecuteProcessInstanceRequest(
            process_instance_id=instance, actioner_user_id=approver, task_id=task_id, result="agree", remark="ok"
        ),
        headers(wf.ExecuteProcessInstanceHeaders),
        runtime,
    ).body
    expect_type("execute.success", executed.success, bool)
    expect_type("execute.result", executed.result, bool)
    agreed = get(instance)
    expect_time("finishTime", agreed.finish_time)
    step("agree", success=executed.success, result=executed.result, status=agreed.status, outcome=agreed.result,
         task_result=agreed.tasks[0].result, records=[record.type for record in agreed.operation_records])

    second = start("changed my mind")
    terminated = client.terminate_process_instance_with_options(
        wf.TerminateProcessInstanceRequest(
            process_instance_id=second, is_system=False, operating_user_id=originator, remark="withdrawn"
        ),
        headers(wf.TerminateProcessInstanceHeaders),
        runtime,
    ).body
    expect_type("terminate.success", terminated.success, bool)
    expect_type("terminate.result", terminated.result, bool)
    step("terminate", instance_id=second, success=terminated.success, result=terminated.result,
         status=get(second).status)


if __name__ == "__main__":
    main()
