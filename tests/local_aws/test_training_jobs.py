"""The local SageMaker's training jobs, through boto3, against AWS's documented behaviour."""
import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BUCKET, training_request, wait_for_job


def unique(prefix="job"):
    return f"{prefix}-{time.time_ns()}"


def read_archive(aws, uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def test_a_job_runs_the_container_and_completes_like_sagemaker(aws):
    name = unique()
    arn = aws("sagemaker").create_training_job(**training_request(
        aws, name, AlgorithmSpecification={
            "TrainingImage": aws.image, "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:accuracy",
                                   "Regex": r"train_accuracy: ([0-9.]+)"}]}))["TrainingJobArn"]
    assert arn.endswith(f":training-job/{name}")
    assert aws("sagemaker").describe_training_job(TrainingJobName=name)[
        "TrainingJobStatus"] == "InProgress"

    job = wait_for_job(aws, name)
    assert job["TrainingJobStatus"] == "Completed"
    assert job["SecondaryStatus"] == "Completed"
    assert job["HyperParameters"] == {"max_leaf_nodes": "5"}
    assert job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    expected = f"s3://{BUCKET}/output/{name}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == expected
    assert "decision-tree-model.pkl" in read_archive(aws, expected)
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 0.9 < metrics["train:accuracy"] <= 1.0


def test_training_output_goes_to_cloudwatch_logs(aws, server):
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name))
    wait_for_job(aws, name)
    logs = aws("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix=f"{name}/")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{name}/algo-1-")
    messages = [e["message"] for e in logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"])["events"]]
    assert any(m.startswith("train_accuracy: ") for m in messages)
    # The program runs in a directory standing in for /opt/ml; its log shows /opt/ml, as the
    # container's log does on AWS, not that directory.
    assert "Saved the model to /opt/ml/model/decision-tree-model.pkl" in messages
    assert not any(str(server.state_dir) in m for m in messages)


def test_failure_reason_is_the_failure_file(aws):
    aws("s3").put_object(Bucket=BUCKET, Key="bad/train/data.csv",
                         Body=b"setosa,5.1,3.5,1.4,0.2\nsetosa,4.9,oops,1.4,0.2\n")
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name, prefix="bad/train/"))
    job = wait_for_job(aws, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "training/data.csv, row 2, column 3: 'oops' is not a number."
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == ""


def test_failure_reason_is_cut_at_1024_characters(aws, script_image):
    image = script_image('{ printf "%1024s" "" | tr " " a; printf "%976s" "" | tr " " b; } '
                         '> "$OPT_ML/output/failure"; exit 3\n')
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name, image=image))
    job = wait_for_job(aws, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "a" * 1024


def test_without_failure_file_the_reason_names_the_exit_code(aws, script_image):
    image = script_image('echo "something broke" >&2; exit 7\n')
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name, image=image))
    job = wait_for_job(aws, name)
    assert job["FailureReason"].startswith("AlgorithmError: ")
    assert "something broke" in job["FailureReason"] and "exit code: 7" in job["FailureReason"]


def test_max_runtime_stops_the_program(aws, script_image):
    image = script_image("sleep 60\n")
    name = unique()
    started = time.monotonic()
    aws("sagemaker").create_training_job(**training_request(
        aws, name, image=image, StoppingCondition={"MaxRuntimeInSeconds": 1}))
    job = wait_for_job(aws, name, timeout=30)
    assert time.monotonic() - started < 15
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_stop_training_job(aws, script_image):
    image = script_image("sleep 60\n")
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name, image=image))
    for _ in range(100):
        if aws("sagemaker").describe_training_job(TrainingJobName=name)[
                "SecondaryStatus"] == "Training":
            break
        time.sleep(0.05)
    aws("sagemaker").stop_training_job(TrainingJobName=name)
    job = wait_for_job(aws, name, timeout=30)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    with pytest.raises(ClientError, match="status Stopped"):
        aws("sagemaker").stop_training_job(TrainingJobName=name)


def test_channels_are_downloaded_with_s3_prefix_semantics(aws, script_image):
    s3 = aws("s3")
    for key in ("prefix/in/a.csv", "prefix/in/sub/b.csv", "prefix/inside.csv", "prefix/other/c"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    # `train` records the files it was given, as the model.
    image = script_image('cd "$OPT_ML/input/data/training" && find . -type f | sort '
                         '> "$OPT_ML/model/files.txt"\n'
                         'cp "$OPT_ML/input/config/"*.json "$OPT_ML/model/"\n')
    name = unique()
    aws("sagemaker").create_training_job(**training_request(
        aws, name, image=image, prefix="prefix/in", HyperParameters={"depth": "3"}))
    job = wait_for_job(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    files = read_archive(aws, job["ModelArtifacts"]["S3ModelArtifacts"])
    # Every key starting with "prefix/in" (so inside.csv too), relative to "prefix/".
    assert files["files.txt"].decode().split() == ["./in/a.csv", "./in/sub/b.csv", "./inside.csv"]
    assert json.loads(files["hyperparameters.json"]) == {"depth": "3"}
    assert json.loads(files["inputdataconfig.json"])["training"]["ContentType"] == "text/csv"
    assert json.loads(files["resourceconfig.json"])["current_host"] == "algo-1"


def test_an_empty_channel_fails_the_job_with_aws_reason(aws):
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name, prefix="nothing/here/"))
    job = wait_for_job(aws, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith('ClientError: No S3 objects found under S3 URL '
                                           f'"s3://{BUCKET}/nothing/here/"')


@pytest.mark.parametrize("bad_name, message", [
    ("x" * 64, "Member must have length less than or equal to 63"),
    ("has_underscore", "Member must satisfy regular expression pattern"),
    ("-leading-dash", "Member must satisfy regular expression pattern"),
])
def test_invalid_names_are_rejected(aws, bad_name, message):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_training_job(**training_request(aws, bad_name))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


def test_a_63_character_name_is_accepted(aws):
    name = ("a" * 40 + unique("")) [:63]
    aws("sagemaker").create_training_job(**training_request(aws, name))
    assert wait_for_job(aws, name)["TrainingJobStatus"] == "Completed"


def test_a_duplicate_name_is_rejected_as_aws_does(aws):
    name = unique()
    aws("sagemaker").create_training_job(**training_request(aws, name))
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_training_job(**training_request(aws, name))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Training job names must be unique" in error.value.response["Error"]["Message"]
    wait_for_job(aws, name)


@pytest.mark.parametrize("change, message", [
    ({"RoleArn": "arn:aws:iam::123456789012:role/no-such-role"}, "Could not assume role"),
    ({"AlgorithmSpecification": {"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                                  "missing", "TrainingInputMode": "File"}},
     "not found"),
    ({"OutputDataConfig": {"S3OutputPath": "/tmp/out"}}, "S3OutputPath"),
])
def test_bad_requests_are_rejected_with_a_reason(aws, change, message):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_training_job(**training_request(aws, unique(), **change))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert message in error.value.response["Error"]["Message"]


def test_a_role_sagemaker_cannot_assume_is_rejected(aws):
    role = aws.sfn_role_arn  # trusted by states.amazonaws.com only
    with pytest.raises(ClientError, match="Could not assume role"):
        aws("sagemaker").create_training_job(**training_request(aws, unique(), RoleArn=role))


def test_describe_of_an_unknown_job(aws):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").describe_training_job(TrainingJobName="never-created")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_list_training_jobs_filters_and_pages(aws):
    marker = unique("listed")
    for i in range(3):
        aws("sagemaker").create_training_job(**training_request(aws, f"{marker}-{i}"))
    for i in range(3):
        wait_for_job(aws, f"{marker}-{i}")
    sagemaker = aws("sagemaker")
    found = sagemaker.list_training_jobs(NameContains=marker)["TrainingJobSummaries"]
    assert sorted(s["TrainingJobName"] for s in found) == [f"{marker}-{i}" for i in range(3)]
    first = sagemaker.list_training_jobs(NameContains=marker, MaxResults=2)
    assert len(first["TrainingJobSummaries"]) == 2 and "NextToken" in first
    rest = sagemaker.list_training_jobs(NameContains=marker, MaxResults=2,
                                        NextToken=first["NextToken"])
    assert len(rest["TrainingJobSummaries"]) == 1
    assert sagemaker.list_training_jobs(NameContains=marker, StatusEquals="Failed")[
        "TrainingJobSummaries"] == []


def test_jobs_beyond_the_parallel_limit_wait_visibly(aws, server, script_image):
    image = script_image("sleep 1\n")
    names = [unique("queued") for _ in range(server.sagemaker.max_parallel_jobs + 1)]
    for name in names:
        aws("sagemaker").create_training_job(**training_request(aws, name, image=image))
    messages = set()
    for _ in range(40):
        for name in names:
            job = aws("sagemaker").describe_training_job(TrainingJobName=name)
            messages |= {t["StatusMessage"] for t in job["SecondaryStatusTransitions"]}
        if any("Waiting for a free local training slot" in m for m in messages):
            break
        time.sleep(0.05)
    assert any("Waiting for a free local training slot" in m for m in messages)
    assert all(wait_for_job(aws, n)["TrainingJobStatus"] == "Completed" for n in names)


def test_other_sagemaker_operations_still_reach_moto(aws):
    assert aws("sagemaker").list_notebook_instances()["NotebookInstances"] == []
