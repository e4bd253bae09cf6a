"""TestState on the local AWS, against the API reference
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html) and the
developer guide (https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html).
"""
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.conftest import REGION, training_request


def call_test_state(aws, definition, **request):
    response = aws("stepfunctions").test_state(definition=json.dumps(definition), **request)
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def test_a_pass_state_with_inspection_levels(aws):
    state = {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"},
             "ResultPath": "$.out", "Next": "Then"}
    info = call_test_state(aws, state, input=json.dumps({"a": 1, "b": 2}))
    assert info == {"status": "SUCCEEDED", "nextState": "Then",
                    "output": json.dumps({"a": 1, "b": 2, "out": {"sum": 3}},
                                         separators=(",", ":"))}
    debug = call_test_state(aws, state, input=json.dumps({"a": 1, "b": 2}), inspectionLevel="DEBUG")
    data = debug["inspectionData"]
    assert json.loads(data["input"]) == {"a": 1, "b": 2}
    assert json.loads(data["afterParameters"]) == {"sum": 3}
    assert json.loads(data["afterResultPath"]) == {"a": 1, "b": 2, "out": {"sum": 3}}


def test_a_choice_rule_says_which_state_comes_next(aws):
    choice = {"QueryLanguage": "JSONata", "Type": "Choice", "Default": "Wait", "Choices": [
        {"Condition": "{% $states.input.EndpointStatus = 'InService' %}", "Next": "Done"},
        {"Condition": "{% $states.input.EndpointStatus = 'Failed' %}", "Next": "Alert"}]}
    for status, expected in (("InService", "Done"), ("Failed", "Alert"), ("Creating", "Wait")):
        result = call_test_state(aws, choice, input=json.dumps({"EndpointStatus": status}))
        assert (result["status"], result["nextState"]) == ("SUCCEEDED", expected)


def test_a_state_picked_from_a_whole_definition_with_variables(aws):
    """stateName: "the definition must contain a fully-formed state machine definition";
    variables: "JSON object literal that sets variables used in the state under test"."""
    definition = {"QueryLanguage": "JSONata", "StartAt": "Train", "States": {
        "Train": {"Type": "Pass", "Next": "Alert"},
        "Alert": {"Type": "Pass", "End": True, "Assign": {"sent": True},
                  "Output": {"Subject": "[ERROR] Model Training failed!",
                             "Message": "{% 'Training failed in execution ' & $run & '. Error: '"
                                        " & $states.input.Error %}"}}}}
    result = call_test_state(aws, definition, stateName="Alert", inspectionLevel="DEBUG",
                        input=json.dumps({"Error": "States.TaskFailed"}),
                        variables=json.dumps({"run": "run-1"}))
    assert result["status"] == "SUCCEEDED" and "nextState" not in result
    assert json.loads(result["output"])["Message"] == (
        "Training failed in execution run-1. Error: States.TaskFailed")
    assert json.loads(result["inspectionData"]["variables"]) == {"run": "run-1", "sent": True}


def test_a_sync_sagemaker_task_with_a_mocked_result(aws):
    """A .sync task needs a mock on TestState; its mocked result goes through the state's
    Output as a real result would."""
    task = {"QueryLanguage": "JSONata", "Type": "Task", "Next": "Deploy",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Arguments": dict(training_request(aws, "{% $states.input.job %}")),
            "Output": {"model": "{% $states.result.ModelArtifacts.S3ModelArtifacts %}"}}
    result = call_test_state(aws, task, input=json.dumps({"job": "j-1"}), mock={"result": json.dumps(
        {"TrainingJobName": "j-1", "TrainingJobStatus": "Completed",
         "ModelArtifacts": {"S3ModelArtifacts": "s3://b/j-1/output/model.tar.gz"}})})
    assert result == {"status": "SUCCEEDED", "nextState": "Deploy",
                      "output": json.dumps({"model": "s3://b/j-1/output/model.tar.gz"},
                                           separators=(",", ":"))}
    with pytest.raises(ClientError) as refused:
        call_test_state(aws, task, input=json.dumps({"job": "j-1"}))
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_mocked_errors_end_retriable_or_caught(aws):
    task = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": training_request(aws, "j-2"), "End": True,
            "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify Failure",
                       "ResultPath": "$.error"}]}
    throttled = {"errorOutput": {"error": "SageMaker.AmazonSageMakerException",
                                 "cause": "Rate exceeded"}}
    assert call_test_state(aws, task, mock=throttled)["status"] == "RETRIABLE"
    failed = call_test_state(aws, task, input=json.dumps({"run": 1}), mock={"errorOutput": {
        "error": "States.TaskFailed", "cause": "bad data"}})
    assert failed["status"] == "CAUGHT_ERROR" and failed["nextState"] == "Notify Failure"
    assert json.loads(failed["output"]) == {"run": 1, "error": {"Error": "States.TaskFailed",
                                                                "Cause": "bad data"}}


def test_a_mock_is_refused_for_a_pass_state(aws):
    """AWS: "State type 'Pass' is not supported when a mock is specified"."""
    with pytest.raises(ClientError) as refused:
        call_test_state(aws, {"Type": "Pass", "End": True}, mock={"result": "{}"})
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "State type 'Pass' is not supported when a mock is specified"}


def test_botocore_sends_test_state_to_a_sync_prefixed_host(server):
    """botocore adds the operation's host prefix (`sync-`) to the endpoint URL's host, even for a
    custom endpoint_url: http://127.0.0.1:PORT becomes http://sync-127.0.0.1:PORT, which does
    not resolve. Clients of the local AWS turn it off (Config(inject_host_prefix=False), or the
    environment variable AWS_DISABLE_HOST_PREFIX_INJECTION=true)."""
    session = boto3.Session(region_name=REGION, **server.credentials.for_boto3())
    definition = json.dumps({"Type": "Pass", "End": True})
    prefixed = session.client("stepfunctions", endpoint_url=server.url,
                              config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(EndpointConnectionError, match="sync-127.0.0.1"):
        prefixed.test_state(definition=definition)
    plain = session.client("stepfunctions", endpoint_url=server.url,
                           config=Config(inject_host_prefix=False))
    assert plain.test_state(definition=definition)["status"] == "SUCCEEDED"


def test_a_jsonata_task_shows_its_evaluated_arguments_also_when_mocked(aws):
    """API reference, InspectionData.afterArguments: 'The effective input after the JSONata
    Arguments field is applied' (moto's TestState records it for JSONPath Parameters only)."""
    notify = {"QueryLanguage": "JSONata", "Type": "Task",
              "Resource": "arn:aws:states:::sns:publish", "Next": "Fail",
              "Arguments": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                            "Message": "{% 'Error: ' & $error.Error & ', run ' & "
                                       "$states.input.run %}"}}
    tested = call_test_state(aws, notify, input=json.dumps({"run": 7}), inspectionLevel="DEBUG",
                             variables=json.dumps({"error": {"Error": "States.TaskFailed"}}),
                             mock={"result": json.dumps({"MessageId": "m-1"})})
    assert (tested["status"], tested["output"]) == ("SUCCEEDED", '{"MessageId":"m-1"}')
    assert json.loads(tested["inspectionData"]["afterArguments"]) == {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
        "Message": "Error: States.TaskFailed, run 7"}
