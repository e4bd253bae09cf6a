"""RedriveExecution on the local AWS, against AWS's documentation:
- API reference, RedriveExecution
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html
- developer guide, "Redriving executions"
  https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html
- DescribeExecution's redriveStatus / redriveStatusReason
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
- ExecutionRedrivenEventDetails
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionRedrivenEventDetails.html
A missing S3 object makes a state fail (the aws-sdk integration's HeadObject); putting it there
is "fixing the data", after which the same execution is redriven."""
import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_aws.moto_hooks import redrive
from tests.conftest import BUCKET, REGION

HEAD = "arn:aws:states:::aws-sdk:s3:headObject"


def head(key_expression: str, **fields) -> dict:
    return {"Type": "Task", "Resource": HEAD,
            "Parameters": {"Bucket": BUCKET, "Key.$": key_expression},
            "ResultSelector": {"size.$": "$.ContentLength"}, **fields}


def start(aws, definition: dict, execution_input=None, name=None) -> str:
    sfn = aws("stepfunctions")
    unique = f"r{time.time_ns()}"
    machine = sfn.create_state_machine(name=f"sm-{unique}", definition=json.dumps(definition),
                                       roleArn=aws.sfn_role_arn)["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, name=name or unique,
                               input=json.dumps(execution_input or {}))["executionArn"]


def wait(aws, execution: str, timeout: float = 30) -> dict:
    sfn = aws("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end in time"
        time.sleep(0.05)
    return described


def history(aws, execution: str) -> list[dict]:
    return aws("stepfunctions").get_execution_history(executionArn=execution,
                                                      maxResults=1000)["events"]


def entered(events, state: str) -> list[dict]:
    return [e for e in events if e["type"].endswith("StateEntered")
            and e["stateEnteredEventDetails"]["name"] == state]


def put(aws, key: str):
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=b"fixed")


def unique_key(prefix: str) -> str:
    return f"redrive/{prefix}-{time.time_ns()}"


TWO_STEPS = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"key.$": "$.key", "prepared": True},
                "Next": "Read data"},
    "Read data": head("$.key", ResultPath="$.data", Next="Report"),
    "Report": {"Type": "Pass", "Parameters": {"key.$": "$.key", "size.$": "$.data.size",
                                              "redrives.$": "$$.Execution.RedriveCount"},
               "End": True}}}


def failed_run(aws, definition=TWO_STEPS, key=None):
    key = key or unique_key("two-steps")
    execution = start(aws, definition, {"key": key})
    assert wait(aws, execution)["status"] == "FAILED"
    return execution, key


def test_a_failed_execution_continues_from_the_failed_state_with_its_input(aws):
    """Developer guide: 'continues the failed execution from the unsuccessful step and uses the
    same input ... the successful steps ... aren't rerun'; same execution ARN."""
    execution, key = failed_run(aws)
    put(aws, key)
    answer = aws("stepfunctions").redrive_execution(executionArn=execution)
    assert isinstance(answer["redriveDate"], dt.datetime)
    described = wait(aws, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"key": key, "size": 5, "redrives": 1}
    events = history(aws, execution)
    assert len(entered(events, "Prepare")) == 1, "the state that succeeded is not rerun"
    first, again = entered(events, "Read data")
    assert again["stateEnteredEventDetails"]["input"] == \
        first["stateEnteredEventDetails"]["input"], "the failed state gets its own input again"
    assert json.loads(first["stateEnteredEventDetails"]["input"]) == {"key": key,
                                                                      "prepared": True}


def test_the_history_keeps_its_events_and_continues_after_execution_redriven(aws):
    """ExecutionRedrivenEventDetails: redriveCount, the number of times it was redriven."""
    execution, key = failed_run(aws)
    before = history(aws, execution)
    put(aws, key)
    aws("stepfunctions").redrive_execution(executionArn=execution)
    wait(aws, execution)
    events = history(aws, execution)
    assert events[:len(before)] == before
    redriven = events[len(before)]
    assert redriven["type"] == "ExecutionRedriven"
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert [e["type"] for e in before][-1] == "ExecutionFailed"


def test_describe_and_list_show_the_redrive(aws):
    """DescribeExecution: redriveCount (0 before any), redriveDate, redriveStatus and, when
    NOT_REDRIVABLE, redriveStatusReason ('Execution is SUCCEEDED and cannot be redriven.');
    ListExecutions: redriveCount, redriveDate and the redriveFilter."""
    sfn = aws("stepfunctions")
    execution, key = failed_run(aws)
    described = sfn.describe_execution(executionArn=execution)
    assert (described["redriveCount"], described["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveDate" not in described and "redriveStatusReason" not in described
    put(aws, key)
    redrive_date = sfn.redrive_execution(executionArn=execution)["redriveDate"]
    described = wait(aws, execution)
    assert described["redriveCount"] == 1 and described["redriveDate"] == redrive_date
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."
    machine = described["stateMachineArn"]
    [listed] = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert (listed["redriveCount"], listed["redriveDate"]) == (1, redrive_date)
    assert len(sfn.list_executions(stateMachineArn=machine,
                                   redriveFilter="REDRIVEN")["executions"]) == 1
    assert sfn.list_executions(stateMachineArn=machine,
                               redriveFilter="NOT_REDRIVEN")["executions"] == []


def test_an_execution_can_be_redriven_again_and_counts_its_redrives(aws):
    execution, key = failed_run(aws)
    sfn = aws("stepfunctions")
    sfn.redrive_execution(executionArn=execution)  # the data is still missing
    assert wait(aws, execution)["status"] == "FAILED"
    put(aws, key)
    sfn.redrive_execution(executionArn=execution)
    described = wait(aws, execution)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 2)
    assert json.loads(described["output"])["redrives"] == 2
    counts = [e["executionRedrivenEventDetails"]["redriveCount"]
              for e in history(aws, execution) if e["type"] == "ExecutionRedriven"]
    assert counts == [1, 2]


def test_an_inline_map_reruns_only_its_unsuccessful_iterations(aws):
    """API reference: 'For workflows that include an Inline Map or Parallel state,
    RedriveExecution ... redrives only the iterations and branches that failed or aborted.'"""
    keys = [unique_key(f"item-{i}") for i in range(3)]
    put(aws, keys[0])
    put(aws, keys[2])
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.keys", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Read", "States": {
            "Read": head("$", ResultSelector={"size.$": "$.ContentLength",
                                               "redrives.$": "$$.Execution.RedriveCount"},
                         End=True)}}}}}
    execution = start(aws, definition, {"keys": keys})
    assert wait(aws, execution)["status"] == "FAILED"
    before = len(history(aws, execution))
    put(aws, keys[1])
    aws("stepfunctions").redrive_execution(executionArn=execution)
    described = wait(aws, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [
        {"size": 5, "redrives": 0}, {"size": 5, "redrives": 1}, {"size": 5, "redrives": 1}], \
        "the iteration that succeeded keeps its result; the failed one and the one the failure " \
        "kept from starting (MaxConcurrency 1) run on the redrive"
    after = history(aws, execution)[before:]
    rerun = [e["mapIterationStartedEventDetails"]["index"] for e in after
             if e["type"] == "MapIterationStarted"]
    assert rerun == [1, 2]


def test_a_parallel_state_reruns_only_its_unsuccessful_branches(aws):
    key = unique_key("branch")
    definition = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Fine", "States": {"Fine": {
                "Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount"},
                "End": True}}},
            {"StartAt": "Read", "States": {"Read": head("$.key", End=True)}}]}}}
    execution = start(aws, definition, {"key": key})
    assert wait(aws, execution)["status"] == "FAILED"
    put(aws, key)
    aws("stepfunctions").redrive_execution(executionArn=execution)
    described = wait(aws, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [{"redrives": 0}, {"size": 5}]
    events = history(aws, execution)
    assert len(entered(events, "Fine")) == 1 and len(entered(events, "Read")) == 2


def test_aborted_and_timed_out_executions_are_redrivable(aws):
    """'These include failed, aborted, or timed out executions'; the state machine's
    TimeoutSeconds counts again from the redrive ('reset to 0')."""
    sfn = aws("stepfunctions")
    waiting = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 1,
                                                      "End": True}}}
    aborted = start(aws, waiting)
    sfn.stop_execution(executionArn=aborted)
    assert wait(aws, aborted)["status"] == "ABORTED"
    sfn.redrive_execution(executionArn=aborted)
    assert wait(aws, aborted)["status"] == "SUCCEEDED"
    timed_out = start(aws, {**waiting, "TimeoutSeconds": 1, "States": {"Wait": {
        "Type": "Wait", "Seconds": 2, "End": True}}})
    assert wait(aws, timed_out)["status"] == "TIMED_OUT"
    sfn.redrive_execution(executionArn=timed_out)
    described = wait(aws, timed_out)
    assert (described["status"], described["redriveCount"]) == ("TIMED_OUT", 1)
    types = [e["type"] for e in history(aws, timed_out)]
    assert types.count("ExecutionTimedOut") == 2 and "ExecutionRedriven" in types


def refusal(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def test_running_succeeded_and_missing_executions_are_refused(aws):
    sfn = aws("stepfunctions")
    running = start(aws, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3,
                                                           "End": True}}})
    assert refusal(lambda: sfn.redrive_execution(executionArn=running)) == (
        "ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven.")
    assert sfn.describe_execution(executionArn=running)["redriveStatus"] == "NOT_REDRIVABLE"
    sfn.stop_execution(executionArn=running)
    done = start(aws, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    wait(aws, done)
    assert refusal(lambda: sfn.redrive_execution(executionArn=done)) == (
        "ExecutionNotRedrivable", "Execution is SUCCEEDED and cannot be redriven.")
    missing = done.rsplit(":", 1)[0] + ":no-such-execution"
    assert refusal(lambda: sfn.redrive_execution(executionArn=missing))[0] == \
        "ExecutionDoesNotExist"


def _moto_execution(aws, arn: str):
    return stepfunctions_parser_backends[aws.account][REGION].describe_execution(arn)


def test_past_the_redrivable_period_of_14_days_it_is_refused(aws):
    """'Your workflow execution has not exceeded the redrivable period of 14 days ... This period
    starts from the day a state machine completes its execution.'"""
    sfn = aws("stepfunctions")
    execution, _ = failed_run(aws)
    moto_execution = _moto_execution(aws, execution)
    moto_execution.stop_date -= dt.timedelta(days=13, hours=23)
    assert sfn.describe_execution(executionArn=execution)["redriveStatus"] == "REDRIVABLE"
    moto_execution.stop_date -= dt.timedelta(hours=2)
    described = sfn.describe_execution(executionArn=execution)
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution redrivable period exceeded.")
    assert refusal(lambda: sfn.redrive_execution(executionArn=execution)) == (
        "ExecutionNotRedrivable", "Execution redrivable period exceeded.")


def test_past_the_maximum_execution_time_or_history_size_it_is_refused(aws, monkeypatch):
    """'has not exceeded the maximum open time of one year'; the history must have room for the
    redrive's events (25,000 at most)."""
    sfn = aws("stepfunctions")
    execution, _ = failed_run(aws)
    moto_execution = _moto_execution(aws, execution)
    started = moto_execution.start_date
    moto_execution.start_date = started - dt.timedelta(days=366)
    assert refusal(lambda: sfn.redrive_execution(executionArn=execution))[1] == \
        "Execution has exceeded the max execution time."
    moto_execution.start_date = started
    monkeypatch.setattr(redrive, "HISTORY_EVENT_LIMIT", len(history(aws, execution)))
    assert refusal(lambda: sfn.redrive_execution(executionArn=execution))[1] == \
        "Execution history event limit exceeded."


def test_a_client_token_makes_the_call_idempotent(aws):
    """API reference, clientToken: 'The API will return idempotent responses for the last 10
    client tokens used to successfully redrive the execution.'"""
    sfn = aws("stepfunctions")
    execution, _ = failed_run(aws)
    first = sfn.redrive_execution(executionArn=execution, clientToken="fix-1")
    wait(aws, execution)
    again = sfn.redrive_execution(executionArn=execution, clientToken="fix-1")
    assert again["redriveDate"] == first["redriveDate"]
    assert sfn.describe_execution(executionArn=execution)["redriveCount"] == 1
    sfn.redrive_execution(executionArn=execution, clientToken="fix-2")
    wait(aws, execution)
    assert sfn.describe_execution(executionArn=execution)["redriveCount"] == 2


def test_through_the_data_science_sdk_and_boto3(aws):
    """The SDKs' usual calls: the Data Science SDK's execute() without a name, boto3's
    redrive_execution, the SDK's describe() and get_output()."""
    from helpers import sdk
    key = unique_key("sdk")
    definition = {**TWO_STEPS, "States": {**TWO_STEPS["States"]}}
    machine = aws("stepfunctions").create_state_machine(
        name=f"sdk-{time.time_ns()}", definition=json.dumps(definition),
        roleArn=aws.sfn_role_arn)["stateMachineArn"]
    workflow = sdk.Workflow.attach(machine, client=aws("stepfunctions"))
    execution = workflow.execute(inputs={"key": key})
    assert wait(aws, execution.execution_arn)["status"] == "FAILED"
    put(aws, key)
    aws("stepfunctions").redrive_execution(executionArn=execution.execution_arn)
    assert execution.get_output(wait=True) == {"key": key, "size": 5, "redrives": 1}
    assert execution.describe()["redriveCount"] == 1
    [listed] = workflow.list_executions(html=False)
    assert listed.execution_arn == execution.execution_arn
