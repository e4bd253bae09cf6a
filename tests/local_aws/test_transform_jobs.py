"""Local batch transform jobs through boto3 and Step Functions, as AWS documents them:
- API reference, CreateTransformJob / TransformInput (SplitType, ContentType) / TransformOutput
  (S3OutputPath: "<input object>.out" in the corresponding subfolder, uploaded only for objects
  that succeeded; Accept; AssembleWith) / DataProcessing (InputFilter, JoinSource, OutputFilter):
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html
- Developer guide, "Associate Prediction Results with Input Records" (CSV rows as JSON arrays,
  the prediction appended to the input row):
  https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html
- Step Functions, "Create and manage Amazon SageMaker AI jobs": createTransformJob.sync outputs
  DescribeTransformJob's response."""
import io
import json
import stat
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    BUCKET,
    register_image,
    run_state_machine,
    training_request,
    wait_for_job,
)

ROWS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.0,3.4,1.5,0.2", "6.3,2.9,5.6,1.8"]
# A `serve` program that answers each request with one line per record it received:
# "<records in this request>|<Content-Type>|<Accept>|<the record>", so a test sees how the job
# batched its requests and which headers it sent.
ECHO_SERVE = r'''#!/usr/bin/env python3
import os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        time.sleep(float(os.environ.get("ECHO_DELAY", "0")))
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        records = [r for r in body.split("\n") if r]
        out = "".join(f"{len(records)}|{self.headers['Content-Type']}|"
                      f"{self.headers.get('Accept')}|{r}\n" for r in records)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(out.encode())

print("echo serving", flush=True)
ThreadingHTTPServer((os.environ.get("SERVE_BIND_HOST", "127.0.0.1"),
                     int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''


def unique(prefix):
    return f"{prefix}-{time.time_ns()}"


@pytest.fixture(scope="module")
def iris_model(aws):
    """A model of the real image, trained on iris."""
    job = unique("bt-train")
    aws("sagemaker").create_training_job(**training_request(aws, job))
    artifacts = wait_for_job(aws, job)["ModelArtifacts"]["S3ModelArtifacts"]
    aws("sagemaker").create_model(ModelName=job, ExecutionRoleArn=aws.role_arn,
                                  PrimaryContainer={"Image": aws.image,
                                                    "ModelDataUrl": artifacts})
    return job


@pytest.fixture(scope="module")
def echo_model(aws, tmp_path_factory):
    """A model whose container echoes what each request carried (ECHO_SERVE)."""
    programs = tmp_path_factory.mktemp("echo-programs")
    serve = programs / "serve"
    serve.write_text(ECHO_SERVE)
    serve.chmod(serve.stat().st_mode | stat.S_IEXEC)
    image = register_image(aws, "echo-serve", programs)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    aws("s3").put_object(Bucket=BUCKET, Key="echo/model.tar.gz", Body=archive.getvalue())
    name = unique("echo-model")
    aws("sagemaker").create_model(ModelName=name, ExecutionRoleArn=aws.role_arn,
                                  PrimaryContainer={"Image": image, "ModelDataUrl":
                                                    f"s3://{BUCKET}/echo/model.tar.gz"})
    return name


def put(aws, key, text):
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=text.encode())


def read(aws, key):
    return aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def transform_request(name, model, prefix, output, **overrides):
    request = {
        "TransformJobName": name, "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/{output}", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return request


def run_transform(aws, request, timeout=90):
    aws("sagemaker").create_transform_job(**request)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = aws("sagemaker").describe_transform_job(TransformJobName=request["TransformJobName"])
        if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.05)
    raise AssertionError("transform job did not end in time")


def test_every_object_under_the_prefix_gets_its_out_file(aws, iris_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}a.csv", "\n".join(ROWS[:2]) + "\n")
    put(aws, f"{prefix}more/b.csv", "\n".join(ROWS[2:]) + "\n")
    name = unique("bt")
    job = run_transform(aws, transform_request(name, iris_model, prefix, output))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TransformEndTime"] >= job["TransformStartTime"]
    assert read(aws, f"{output}/a.csv.out") == "setosa\nvirginica\n"
    assert read(aws, f"{output}/more/b.csv.out") == "setosa\nvirginica\n"
    listed = aws("sagemaker").list_transform_jobs(NameContains=name)["TransformJobSummaries"]
    assert [j["TransformJobStatus"] for j in listed] == ["Completed"]
    streams = aws("logs").describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs",
                                               logStreamNamePrefix=name)["logStreams"]
    assert streams


def test_single_record_sends_one_record_per_request_with_content_type_and_accept(
        aws, echo_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}rows.csv", "a\nb\nc\n")
    job = run_transform(aws, transform_request(
        unique("bt"), echo_model, prefix, output, BatchStrategy="SingleRecord",
        TransformOutput={"Accept": "text/plain"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read(aws, f"{output}/rows.csv.out") == \
        "1|text/csv|text/plain|a\n1|text/csv|text/plain|b\n1|text/csv|text/plain|c\n"


def test_multi_record_packs_records_up_to_max_payload(aws, echo_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    record = "x" * 1000
    put(aws, f"{prefix}big.csv", "\n".join([record] * 1500) + "\n")  # ~1.5 MB
    job = run_transform(aws, transform_request(unique("bt"), echo_model, prefix, output,
                                               BatchStrategy="MultiRecord", MaxPayloadInMB=1))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    sizes = [int(line.split("|")[0]) for line in read(aws, f"{output}/big.csv.out").split("\n")
             if line]
    assert len(sizes) == 1500
    assert sorted(set(sizes)) == [1500 - 1047, 1047]  # 1047 records of 1001 bytes fit in 1 MiB


def test_split_none_sends_the_object_whole_and_assemble_none_concatenates(aws, echo_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}whole.csv", "a\nb\n")
    job = run_transform(aws, transform_request(
        unique("bt"), echo_model, prefix, output,
        TransformInput={"SplitType": "None"}, TransformOutput={"AssembleWith": "None"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read(aws, f"{output}/whole.csv.out") == "2|text/csv|None|a\n2|text/csv|None|b\n"


def test_join_source_input_with_input_and_output_filters(aws, iris_model):
    """The id column is kept out of the model's input (InputFilter $[1:]), the prediction is
    appended to the whole input row (JoinSource Input), and OutputFilter $[0,-1] keeps the id
    and the prediction."""
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}ids.csv", "".join(f"id{i},{row}\n" for i, row in enumerate(ROWS)))
    job = run_transform(aws, transform_request(
        unique("bt"), iris_model, prefix, output,
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input",
                        "OutputFilter": "$[0,-1]"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input",
                                     "OutputFilter": "$[0,-1]"}
    assert read(aws, f"{output}/ids.csv.out") == \
        "id0,setosa\nid1,virginica\nid2,setosa\nid3,virginica\n"


def test_join_without_output_filter_appends_the_prediction_to_the_whole_row(aws, iris_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}rows.csv", ROWS[0] + "\n")
    job = run_transform(aws, transform_request(unique("bt"), iris_model, prefix, output,
                                               DataProcessing={"JoinSource": "Input"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read(aws, f"{output}/rows.csv.out") == f"{ROWS[0]},setosa\n"


def test_a_failing_record_fails_the_job_naming_object_and_record(aws, iris_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}a-good.csv", ROWS[0] + "\n")
    put(aws, f"{prefix}b-bad.csv", f"{ROWS[0]}\n{ROWS[1]}\n1,2\n")
    job = run_transform(aws, transform_request(unique("bt"), iris_model, prefix, output,
                                               BatchStrategy="SingleRecord"))
    assert job["TransformJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(f"ClientError: s3://{BUCKET}/{prefix}b-bad.csv, record 3: ")
    assert "answered 400" in reason and "needs 4 features, got 2" in reason
    # Outputs only for objects that succeeded (TransformOutput.S3OutputPath).
    assert read(aws, f"{output}/a-good.csv.out") == "setosa\n"
    with pytest.raises(ClientError):
        read(aws, f"{output}/b-bad.csv.out")


def test_an_output_filter_index_out_of_range_fails_the_job(aws, iris_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}rows.csv", ROWS[0] + "\n")
    job = run_transform(aws, transform_request(
        unique("bt"), iris_model, prefix, output,
        DataProcessing={"JoinSource": "Input", "OutputFilter": "$[0,9]"}))
    assert job["TransformJobStatus"] == "Failed"
    assert "rows.csv, record 1: OutputFilter: the index 9" in job["FailureReason"]


@pytest.mark.parametrize("overrides, message", [
    ({"ModelName": "no-such-model"}, "Could not find model"),
    ({"TransformInput": {"SplitType": "RecordIO"}}, "SplitType None and Line"),
    ({"BatchStrategy": "Everything"}, "batchStrategy"),
    ({"MaxPayloadInMB": 101}, "maxPayloadInMB"),
    ({"TransformInput": {"ContentType": "application/json"},
      "DataProcessing": {"InputFilter": "$.features"}}, "CSV input only"),
    ({"DataProcessing": {"InputFilter": "$..x"}}, "the local backend applies JSONPath"),
])
def test_invalid_requests_are_rejected_with_validation_exception(aws, iris_model, overrides,
                                                                 message):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_transform_job(**transform_request(
            unique("bt"), iris_model, "x/", "y", **overrides))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


def test_duplicate_name_is_a_validation_exception(aws, echo_model):
    prefix = unique("bt-in") + "/"
    put(aws, f"{prefix}rows.csv", "a\n")
    request = transform_request(unique("bt"), echo_model, prefix, unique("bt-out"))
    run_transform(aws, request)
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_transform_job(**request)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "already exists" in error.value.response["Error"]["Message"]


def test_stop_transform_job(aws, echo_model):
    prefix = unique("bt-in") + "/"
    put(aws, f"{prefix}rows.csv", "a\n" * 50)
    name = unique("bt")
    aws("sagemaker").create_transform_job(**transform_request(
        name, echo_model, prefix, unique("bt-out"), BatchStrategy="SingleRecord",
        Environment={"ECHO_DELAY": "0.2"}))
    time.sleep(1)
    aws("sagemaker").stop_transform_job(TransformJobName=name)
    deadline = time.monotonic() + 30
    while (job := aws("sagemaker").describe_transform_job(TransformJobName=name))[
            "TransformJobStatus"] in ("InProgress", "Stopping"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["TransformJobStatus"] == "Stopped"


def transform_task(aws, model, prefix, output, **overrides):
    parameters = transform_request("unused", model, prefix, output, **overrides)
    del parameters["TransformJobName"]
    parameters["TransformJobName.$"] = "States.Format('bt-{}', $$.Execution.Name)"
    return {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": parameters}


def test_sync_task_waits_and_outputs_describe_transform_job(aws, iris_model):
    prefix, output = unique("bt-in") + "/", unique("bt-out")
    put(aws, f"{prefix}rows.csv", ROWS[0] + "\n")
    definition = {"StartAt": "T", "States": {"T": dict(
        transform_task(aws, iris_model, prefix, output), End=True)}}
    execution, _ = run_state_machine(aws, definition)
    assert execution["status"] == "SUCCEEDED"
    described = json.loads(execution["output"])
    assert described["TransformJobName"] == f"bt-{execution['name']}"
    assert described["TransformJobStatus"] == "Completed"
    assert isinstance(described["TransformEndTime"], int)  # epoch milliseconds
    assert read(aws, f"{output}/rows.csv.out") == "setosa\n"


def test_a_failed_transform_is_states_task_failed_with_describe_as_cause(aws, iris_model):
    prefix = unique("bt-in") + "/"
    put(aws, f"{prefix}rows.csv", "1,2\n")
    definition = {"StartAt": "T", "States": {
        "T": dict(transform_task(aws, iris_model, prefix, unique("bt-out")), Next="Done",
                  Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]),
        "Caught": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}}}
    execution, _ = run_state_machine(aws, definition)
    caught = json.loads(execution["output"])
    assert caught["Error"] == "States.TaskFailed"
    cause = json.loads(caught["Cause"])
    assert cause["TransformJobStatus"] == "Failed"
    assert "rows.csv, record 1" in cause["FailureReason"]
