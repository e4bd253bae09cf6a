"""`arn:aws:states:::sagemaker:*` Tasks in moto's interpreter: outputs and AWS's error names."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BUCKET, run_state_machine, training_request


def training_task(aws, job_name_expr="States.Format('job-{}', $$.Execution.Name)", sync=True,
                  **overrides):
    parameters = training_request(aws, "unused", **overrides)
    del parameters["TrainingJobName"]
    parameters["TrainingJobName.$"] = job_name_expr
    return {"Type": "Task", "Parameters": parameters,
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob" + (".sync" if sync else "")}


def with_catch(task, retry=None):
    task = dict(task, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], Next="Done")
    if retry:
        task["Retry"] = retry
    return {"StartAt": "Train", "States": {
        "Train": task,
        "Caught": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"}}}


def test_sync_task_waits_and_outputs_describe_training_job(aws):
    definition = {"StartAt": "Train", "States": {"Train": dict(training_task(aws), End=True)}}
    execution, events = run_state_machine(aws, definition, name=f"ok-{time.time_ns()}")
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["TrainingJobName"] == f"job-{execution['name']}"
    assert output["TrainingJobStatus"] == "Completed"
    assert output["ModelArtifacts"]["S3ModelArtifacts"].endswith(
        f"/{output['TrainingJobName']}/output/model.tar.gz")
    assert isinstance(output["CreationTime"], int)  # epoch milliseconds, as Step Functions shows
    types = [e["type"] for e in events]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                     "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    submitted = next(e for e in events if e["type"] == "TaskSubmitted")
    assert "TrainingJobArn" in json.loads(submitted["taskSubmittedEventDetails"]["output"])


def test_request_response_task_returns_at_once_with_the_arn(aws):
    definition = {"StartAt": "Train",
                  "States": {"Train": dict(training_task(aws, sync=False), End=True)}}
    execution, _ = run_state_machine(aws, definition)
    assert execution["status"] == "SUCCEEDED"
    assert list(json.loads(execution["output"])) == ["TrainingJobArn"]


def test_a_failed_job_is_states_task_failed_with_describe_as_cause(aws):
    aws("s3").put_object(Bucket=BUCKET, Key="broken/train/x.csv", Body=b"a,1\nb,not-a-number\n")
    definition = with_catch(training_task(aws, prefix="broken/train/"))
    execution, events = run_state_machine(aws, definition)
    assert execution["status"] == "SUCCEEDED"  # the Catch handled it
    caught = json.loads(execution["output"])
    assert caught["Error"] == "States.TaskFailed"
    cause = json.loads(caught["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert cause["FailureReason"] == (
        "training/x.csv, row 2, column 2: 'not-a-number' is not a number.")
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert len(failed) == 1 and failed[0]["taskFailedEventDetails"]["error"] == "States.TaskFailed"


def test_a_rejected_create_is_amazon_sagemaker_exception_and_is_retried(aws):
    name = f"fixed-{time.time_ns()}"
    aws("sagemaker").create_training_job(**training_request(aws, name))  # the name is now taken
    retry = [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "IntervalSeconds": 1,
              "MaxAttempts": 1, "BackoffRate": 1.0}]
    definition = with_catch(training_task(aws, job_name_expr=f"States.Format('{name}')"), retry)
    execution, events = run_state_machine(aws, definition)
    failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["SageMaker.AmazonSageMakerException"] * 2
    assert "Training job names must be unique" in failures[0]["cause"]
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException;" in \
        failures[0]["cause"]
    assert json.loads(execution["output"])["Error"] == "SageMaker.AmazonSageMakerException"


def test_non_string_hyperparameters_are_rejected_as_sagemaker_does(aws):
    definition = with_catch(training_task(aws, HyperParameters={"max_leaf_nodes": 5}))
    execution, _ = run_state_machine(aws, definition)
    caught = json.loads(execution["output"])
    assert caught["Error"] == "SageMaker.AmazonSageMakerException"
    assert "must be strings" in caught["Cause"]


def test_a_stopped_job_fails_the_task(aws, script_image):
    image = script_image("sleep 60\n")
    definition = with_catch(training_task(aws, image=image,
                                          StoppingCondition={"MaxRuntimeInSeconds": 1}))
    execution, _ = run_state_machine(aws, definition)
    caught = json.loads(execution["output"])
    assert caught["Error"] == "States.TaskFailed"
    assert json.loads(caught["Cause"])["SecondaryStatus"] == "MaxRuntimeExceeded"


@pytest.mark.parametrize("resource", [
    "arn:aws:states:::sagemaker:createTrainingJob.waitForTaskToken",
    "arn:aws:states:::sagemaker:createModel.sync",
    "arn:aws:states:::sagemaker:deleteEverything",
])
def test_unsupported_integrations_are_refused_when_the_state_machine_is_created(aws, resource):
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
                                                   "Parameters": {}, "End": True}}}
    with pytest.raises(ClientError) as error:
        aws("stepfunctions").create_state_machine(
            name=f"bad-{time.time_ns()}", definition=json.dumps(definition),
            roleArn=aws.sfn_role_arn)
    # AWS answers InvalidDefinition (moto 5.2.5 alone: an empty code; see test_refusals.py).
    assert error.value.response["Error"]["Code"] == "InvalidDefinition"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"The resource provided {resource} not recognized" in error.value.response["Error"][
        "Message"]


def test_a_jsonata_training_task_takes_arguments_and_outputs_states_result(aws):
    """The SageMaker integration in a JSONata state: `Arguments` instead of `Parameters`, the
    job's description as `$states.result` (transforming-data.html; connect-sagemaker.html)."""
    arguments = training_request(aws, "unused")
    arguments["TrainingJobName"] = "{% 'jsonata-' & $states.context.Execution.Name %}"
    definition = {"QueryLanguage": "JSONata", "StartAt": "Train", "States": {"Train": {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Arguments": arguments, "End": True,
        "Output": {"job": "{% $states.result.TrainingJobName %}",
                   "status": "{% $states.result.TrainingJobStatus %}"}}}}
    execution, _ = run_state_machine(aws, definition)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {"job": f"jsonata-{execution['name']}",
                                               "status": "Completed"}
