"""Executions as AWS starts them: without a name, a UUID (API reference, StartExecution, `name`:
"If you don't provide a name for the execution, Step Functions automatically generates a
universally unique identifier (UUID) as the execution name"); the Data Science SDK's own calls."""
import json
import re
import time

from helpers.sdk import Workflow, steps
from tests.conftest import run_state_machine

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_an_unnamed_execution_is_named_with_a_uuid(aws):
    definition = {"StartAt": "Name", "States": {"Name": {
        "Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": True}}}
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(name=f"unnamed-{time.time_ns()}", roleArn=aws.sfn_role_arn,
                                   definition=json.dumps(definition))["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    names = [first.rsplit(":", 1)[1], second.rsplit(":", 1)[1]]
    assert all(UUID.match(name) for name in names) and names[0] != names[1]
    while sfn.describe_execution(executionArn=first)["status"] == "RUNNING":
        time.sleep(0.05)
    assert json.loads(sfn.describe_execution(executionArn=first)["output"]) == {"name": names[0]}


def test_the_data_science_sdks_execute_and_list_executions(aws):
    """`workflow.execute()` twice without a name, then `workflow.list_executions()`: both
    executions, named, SUCCEEDED."""
    workflow = Workflow(name=f"sdk-{time.time_ns()}", role=aws.sfn_role_arn,
                        definition=steps.Chain([steps.Pass("Hello", result={"hello": "world"})]),
                        client=aws("stepfunctions"))
    workflow.create()
    executions = [workflow.execute(), workflow.execute(inputs={"a": 1})]
    outputs = [execution.get_output(wait=True) for execution in executions]
    assert outputs == [{"hello": "world"}, {"hello": "world"}]
    listed = workflow.list_executions()
    assert len(listed) == 2
    assert {e.execution_arn for e in listed} == {e.execution_arn for e in executions}
    assert all(UUID.match(e.name) and e.status == "SUCCEEDED" for e in listed)


def test_a_string_output_is_described_as_json(aws):
    described, _ = run_state_machine(aws, {"StartAt": "S", "States": {
        "S": {"Type": "Pass", "Result": "done", "End": True}}})
    assert described["output"] == '"done"'
