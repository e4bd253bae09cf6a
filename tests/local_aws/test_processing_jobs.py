"""Local processing jobs through boto3 and Step Functions, as AWS documents them:
- API reference, CreateProcessingJob, ProcessingS3Input (downloaded into LocalPath before the
  container starts), ProcessingS3Output ("LocalPath ... will be created by the platform and exist
  when your container's entrypoint is invoked"), AppSpecification, DescribeProcessingJob:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingS3Output.html
- Developer guide, "Save and Access Metadata Information About Your Processing Job": the first
  1 KB of /opt/ml/output/message is ExitMessage, whatever the outcome:
  https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html
- Step Functions, "Create and manage Amazon SageMaker AI jobs": createProcessingJob.sync outputs
  DescribeProcessingJob's response."""
import json
import stat
import tempfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    BUCKET,
    register_image,
    run_state_machine,
    training_request,
    wait_for_job,
)

# A processing program: copies its input file to its output folder with what it was given.
WORK = """#!/bin/sh
# usage: work --in <file> --out=<folder>
echo "arguments: $*"
input="$2"; output="${3#--out=}"
{ cat "$input"; echo "greeting=$GREETING"; echo "job=$PROCESSING_JOB_NAME"; } > "$output/copy.txt"
if [ -n "$FAIL" ]; then echo "gave up: $FAIL" > "$OPT_ML/output/message"; exit 3; fi
sleep "${SLEEP:-0}"
"""


def unique(prefix):
    return f"{prefix}-{time.time_ns()}"


@pytest.fixture(scope="module")
def work_image(aws, tmp_path_factory):
    programs = tmp_path_factory.mktemp("work-programs")
    work = programs / "work"
    work.write_text(WORK)
    work.chmod(work.stat().st_mode | stat.S_IEXEC)
    return register_image(aws, "processing-work", programs)


@pytest.fixture(scope="module")
def model_artifacts(aws):
    job = unique("pj-train")
    aws("sagemaker").create_training_job(**training_request(aws, job, HyperParameters={
        "max_leaf_nodes": "3"}))
    return wait_for_job(aws, job)["ModelArtifacts"]["S3ModelArtifacts"]


def processing_request(aws, name, image, inputs=(), outputs=(), **overrides):
    request = {
        "ProcessingJobName": name, "RoleArn": aws.role_arn,
        "AppSpecification": {"ImageUri": image},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                  "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 1}},
        "ProcessingInputs": [{"InputName": n, "S3Input": {
            "S3Uri": uri, "LocalPath": path, "S3DataType": "S3Prefix", "S3InputMode": "File"}}
            for n, uri, path in inputs],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": n, "S3Output": {
            "S3Uri": uri, "LocalPath": path, "S3UploadMode": "EndOfJob"}}
            for n, uri, path in outputs]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    request.update(overrides)
    return request


def wait_for_processing(aws, name, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = aws("sagemaker").describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.05)
    raise AssertionError("processing job did not end in time")


def work_job(aws, image, environment=None, **overrides):
    prefix = unique("pj")
    aws("s3").put_object(Bucket=BUCKET, Key=f"{prefix}/in/data.txt", Body=b"hello\n")
    name = unique("work")
    request = processing_request(
        aws, name, image,
        inputs=[("data", f"s3://{BUCKET}/{prefix}/in/", "/opt/ml/processing/in")],
        outputs=[("copy", f"s3://{BUCKET}/{prefix}/out", "/opt/ml/processing/out")],
        AppSpecification={"ImageUri": image, "ContainerEntrypoint": ["work"],
                          "ContainerArguments": ["--in", "/opt/ml/processing/in/data.txt",
                                                 "--out=/opt/ml/processing/out"]},
        Environment={"GREETING": "hi", **(environment or {})}, **overrides)
    aws("sagemaker").create_processing_job(**request)
    return name, prefix


def test_inputs_in_arguments_rewritten_environment_and_outputs_uploaded(aws, work_image):
    name, prefix = work_job(aws, work_image)
    job = wait_for_processing(aws, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"]
    copy = aws("s3").get_object(Bucket=BUCKET, Key=f"{prefix}/out/copy.txt")["Body"].read()
    assert copy.decode() == f"hello\ngreeting=hi\njob={name}\n"
    assert "ExitMessage" not in job  # no /opt/ml/output/message written
    listed = aws("sagemaker").list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [j["ProcessingJobStatus"] for j in listed] == ["Completed"]
    streams = aws("logs").describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                               logStreamNamePrefix=name)["logStreams"]
    events = aws("logs").get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                        logStreamName=streams[0]["logStreamName"])["events"]
    # The program was given this machine's folder (it wrote copy.txt there); its log shows the
    # container's path, as on AWS, and no path of this machine.
    assert any("--out=/opt/ml/processing/out" in e["message"] for e in events)
    assert not any(str(Path(tempfile.gettempdir())) in e["message"] for e in events)


def test_a_failing_program_fails_the_job_with_exit_message_and_no_outputs(aws, work_image):
    name, prefix = work_job(aws, work_image, {"FAIL": "bad data"})
    job = wait_for_processing(aws, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ")
    assert job["FailureReason"].endswith("exit code: 3")
    assert job["ExitMessage"] == "gave up: bad data\n"
    assert "Contents" not in aws("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/out")


def test_max_runtime_and_stop_end_in_stopped(aws, work_image):
    slow, _ = work_job(aws, work_image, {"SLEEP": "30"},
                       StoppingCondition={"MaxRuntimeInSeconds": 1})
    stopped, _ = work_job(aws, work_image, {"SLEEP": "30"})
    time.sleep(0.5)
    aws("sagemaker").stop_processing_job(ProcessingJobName=stopped)
    assert wait_for_processing(aws, slow)["ProcessingJobStatus"] == "Stopped"
    assert wait_for_processing(aws, stopped)["ProcessingJobStatus"] == "Stopped"


@pytest.mark.parametrize("change, message", [
    ({"ProcessingInputs": [{"InputName": "x", "S3Input": {
        "S3Uri": f"s3://{BUCKET}/x", "LocalPath": "/tmp/x", "S3DataType": "S3Prefix",
        "S3InputMode": "File"}}]}, "must be a folder under /opt/ml/processing/"),
    ({"AppSpecification": {"ImageUri": "IMAGE"}}, "no default entry point"),
    ({"ProcessingJobName": "bad_name"}, "processingJobName"),
    ({"RoleArn": "arn:aws:iam::123456789012:role/no-such-role"}, "Could not assume role"),
])
def test_invalid_requests_are_validation_exceptions(aws, work_image, change, message):
    request = processing_request(aws, unique("bad"), work_image,
                                 AppSpecification={"ImageUri": work_image,
                                                   "ContainerEntrypoint": ["work"]})
    request.update(change)
    if request["AppSpecification"]["ImageUri"] == "IMAGE":
        request["AppSpecification"]["ImageUri"] = work_image
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_processing_job(**request)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


def test_a_key_leaving_the_input_folder_fails_the_job_before_anything_runs(aws, work_image):
    prefix = unique("pj")
    aws("s3").put_object(Bucket=BUCKET, Key=f"{prefix}/in/../../escape.txt", Body=b"x")
    name = unique("escape")
    aws("sagemaker").create_processing_job(**processing_request(
        aws, name, work_image,
        inputs=[("data", f"s3://{BUCKET}/{prefix}/in/", "/opt/ml/processing/in")],
        AppSpecification={"ImageUri": work_image, "ContainerEntrypoint": ["work"]}))
    job = wait_for_processing(aws, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "would be written outside its folder" in job["FailureReason"]


def evaluation_task(aws, model_artifacts, test_prefix, report_uri):
    """What notebook 09 builds: `evaluate` as a processing job, its ExitMessage parsed."""
    parameters = processing_request(
        aws, "unused", aws.image,
        inputs=[("model", model_artifacts, "/opt/ml/processing/model"),
                ("test", f"s3://{BUCKET}/{test_prefix}", "/opt/ml/processing/test")],
        outputs=[("evaluation", report_uri, "/opt/ml/processing/evaluation")],
        AppSpecification={"ImageUri": aws.image, "ContainerEntrypoint": ["evaluate"]})
    del parameters["ProcessingJobName"]
    parameters["ProcessingJobName.$"] = "States.Format('eval-{}', $$.Execution.Name)"
    return {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
            "Parameters": parameters,
            "ResultSelector": {"ProcessingJobName.$": "$.ProcessingJobName",
                               "Metrics.$": "States.StringToJson($.ExitMessage)"}}


@pytest.mark.parametrize("threshold, branch", [(0.5, "Deploy"), (1.01, "Alert")])
def test_sync_evaluation_gates_a_choice_on_its_exit_message(aws, model_artifacts, threshold,
                                                            branch):
    test_prefix, report = unique("pj-test") + "/", unique("pj-report")
    aws("s3").upload_file(str(__import__("helpers").container.DATA_DIR / "iris.csv"), BUCKET,
                          f"{test_prefix}iris.csv")
    definition = {"StartAt": "Evaluate", "States": {
        "Evaluate": dict(evaluation_task(aws, model_artifacts, test_prefix,
                                         f"s3://{BUCKET}/{report}"), Next="Good enough?"),
        "Good enough?": {"Type": "Choice", "Choices": [{
            "Variable": "$.Metrics.accuracy", "NumericGreaterThanEquals": threshold,
            "Next": "Deploy"}], "Default": "Alert"},
        "Deploy": {"Type": "Pass", "End": True, "Result": "Deploy"},
        "Alert": {"Type": "Pass", "End": True, "Result": "Alert"}}}
    execution, _ = run_state_machine(aws, definition)
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == branch
    body = aws("s3").get_object(Bucket=BUCKET, Key=f"{report}/evaluation.json")["Body"].read()
    assert 0.9 < json.loads(body)["multiclass_classification_metrics"]["accuracy"]["value"]
