"""Hyperparameter tuning jobs on the local AWS (local_aws/tuning.py).

AWS documentation the expectations come from:
- CreateHyperParameterTuningJob:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html
- DescribeHyperParameterTuningJob (BestTrainingJob, TrainingJobStatusCounters,
  ObjectiveStatusCounters):
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHyperParameterTuningJob.html
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ObjectiveStatusCounters.html
- ListTrainingJobsForHyperParameterTuningJob, HyperParameterTrainingJobSummary:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobsForHyperParameterTuningJob.html
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTrainingJobSummary.html
- Grid and Random search ("You do not need to specify the MaxNumberOfTrainingJobs ... If
  specified, [it] should equal the total number of distinct categorical combinations"):
  https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html
- The tuning job's name (<= 32 characters), HyperParameterTuningJobSummary:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobSummary.html
- Step Functions' optimized integration, createHyperParameterTuningJob.sync:
  https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html
"""
from __future__ import annotations

import itertools
import json
import random
import re
import time

import pytest
from botocore.exceptions import ClientError

from local_aws import tuning
from tests.conftest import BUCKET, run_state_machine

OBJECTIVE = "train:accuracy"
METRICS = [{"Name": OBJECTIVE, "Regex": r"train_accuracy: ([0-9.]+)"}]


def tuning_request(aws, name: str, strategy: str, ranges: dict, max_jobs: int | None = None,
                   parallel: int = 2, image: str | None = None, **config) -> dict:
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy, "ResourceLimits": limits, "ParameterRanges": ranges,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": OBJECTIVE},
            **config},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": image or aws.image,
                                       "TrainingInputMode": "File", "MetricDefinitions": METRICS},
            "RoleArn": aws.role_arn,
            "StaticHyperParameters": {},
            "InputDataConfig": [{"ChannelName": "training", "ContentType": "text/csv",
                                 "DataSource": {"S3DataSource": {
                                     "S3DataType": "S3Prefix",
                                     "S3Uri": f"s3://{BUCKET}/iris/train/",
                                     "S3DataDistributionType": "FullyReplicated"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300}}}


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def wait_for_tuning(aws, name: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    sagemaker = aws("sagemaker")
    while time.monotonic() < deadline:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"tuning job {name} did not end within {timeout} s")


def training_jobs_of(aws, name: str, **request) -> list[dict]:
    return aws("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, **request)["TrainingJobSummaries"]


def test_grid_runs_every_combination_and_counts_the_failed_job(aws):
    name = unique("grid")
    # max_leaf_nodes 1 is refused by the container's train program: that job fails.
    aws("sagemaker").create_hyper_parameter_tuning_job(**tuning_request(
        aws, name, "Grid", {"CategoricalParameterRanges": [
            {"Name": "max_leaf_nodes", "Values": ["1", "3", "16"]}]}))
    job = wait_for_tuning(aws, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"] == {"Completed": 2, "InProgress": 0,
                                                "RetryableError": 0, "NonRetryableError": 1,
                                                "Stopped": 0}
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 1}
    summaries = training_jobs_of(aws, name)
    assert sorted(s["TunedHyperParameters"]["max_leaf_nodes"] for s in summaries) == \
        ["1", "16", "3"]
    for summary in summaries:  # AWS names them <tuning job>-<NNN>-<8 hex>
        assert re.fullmatch(rf"{name}-00[1-3]-[0-9a-f]{{8}}", summary["TrainingJobName"])
        assert summary["TuningJobName"] == name
    (failed,) = [s for s in summaries if s["TrainingJobStatus"] == "Failed"]
    assert failed["ObjectiveStatus"] == "Failed" and "max_leaf_nodes" in failed["FailureReason"]
    best = job["BestTrainingJob"]
    scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(
        s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in scored)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == OBJECTIVE
    assert best["TunedHyperParameters"]["max_leaf_nodes"] in ("3", "16")
    described = aws("sagemaker").describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert described["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    assert described["HyperParameters"]["_tuning_objective_metric"] == OBJECTIVE
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("model.tar.gz")


def test_random_search_stays_in_its_ranges_and_its_parallel_limit(aws):
    name = unique("random")
    aws("sagemaker").create_hyper_parameter_tuning_job(**tuning_request(
        aws, name, "Random", {"IntegerParameterRanges": [
            {"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "20",
             "ScalingType": "Auto"}]}, max_jobs=4, parallel=1, RandomSeed=7))
    job = wait_for_tuning(aws, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    summaries = training_jobs_of(aws, name, SortBy="CreationTime")
    assert all(2 <= int(s["TunedHyperParameters"]["max_leaf_nodes"]) <= 20 for s in summaries)
    # MaxParallelTrainingJobs 1: each job is created after the one before it ended.
    for before, after in itertools.pairwise(summaries):
        assert after["CreationTime"] >= before["TrainingEndTime"]
    by_value = training_jobs_of(aws, name, SortBy="FinalObjectiveMetricValue",
                                SortOrder="Descending")
    assert by_value[0]["TrainingJobName"] == job["BestTrainingJob"]["TrainingJobName"]


def test_random_draws_follow_the_seed_and_the_scaling():
    ranges = {"IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "1000",
                                          "ScalingType": "Logarithmic"}],
              "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001",
                                             "MaxValue": "0.1"}],
              "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}
    first = [tuning.random_choice(ranges, random.Random(3)) for _ in range(1)]
    again = [tuning.random_choice(ranges, random.Random(3)) for _ in range(1)]
    assert first == again
    draws = [tuning.random_choice(ranges, random.Random(seed)) for seed in range(200)]
    assert all(isinstance(v, str) for d in draws for v in d.values())  # hyperparameters: strings
    assert all(0.001 <= float(d["lr"]) <= 0.1 for d in draws)
    # Log-uniform over 1..1000: about a third of the draws fall under 10 (uniform: 1 %).
    assert sum(int(d["n"]) < 10 for d in draws) > 40


def test_bayesian_runs_as_random_search_and_says_so(aws):
    name = unique("bayes")
    arn = aws("sagemaker").create_hyper_parameter_tuning_job(**tuning_request(
        aws, name, "Bayesian", {"IntegerParameterRanges": [
            {"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "8"}]},
        max_jobs=1, parallel=5, TrainingJobEarlyStoppingType="Auto"))["HyperParameterTuningJobArn"]
    job = wait_for_tuning(aws, name)
    assert job["HyperParameterTuningJobConfig"]["Strategy"] == "Random"
    tags = {t["Key"]: t["Value"] for t in aws("sagemaker").list_tags(ResourceArn=arn)["Tags"]}
    assert "ran a Random search" in tags["local-aws:strategy-note"]
    assert "does not stop training jobs early" in tags["local-aws:early-stopping-note"]
    # The server of the tests runs 2 training jobs at once; MaxParallelTrainingJobs 5 says so.
    assert "at most 2 training jobs run at once" in tags["local-aws:parallel-note"]
    summary = aws("sagemaker").list_hyper_parameter_tuning_jobs(NameContains=name)[
        "HyperParameterTuningJobSummaries"]
    assert [s["Strategy"] for s in summary] == ["Random"]


def test_a_tuning_job_whose_every_training_job_fails_fails(aws):
    name = unique("allfail")
    aws("sagemaker").create_hyper_parameter_tuning_job(**tuning_request(
        aws, name, "Grid", {"CategoricalParameterRanges": [
            {"Name": "max_leaf_nodes", "Values": ["0", "1"]}]}, max_jobs=2))
    job = wait_for_tuning(aws, name)
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert "BestTrainingJob" not in job and OBJECTIVE in job["FailureReason"]
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 2


def test_stopping_a_tuning_job_stops_its_training_jobs(aws, script_image):
    image = script_image("sleep 60\n")
    name = unique("stop")
    sagemaker = aws("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request(
        aws, name, "Random", {"IntegerParameterRanges": [
            {"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "8"}]},
        max_jobs=3, parallel=1, image=image))
    deadline = time.monotonic() + 30
    while not training_jobs_of(aws, name):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    job = wait_for_tuning(aws, name, timeout=60)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    assert job["TrainingJobStatusCounters"]["Stopped"] == 1
    assert [s["TrainingJobStatus"] for s in training_jobs_of(aws, name)] == ["Stopped"]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(HyperParameterTuningJobName="x" * 33), "less than or equal to 32"),
    (lambda r: r["HyperParameterTuningJobConfig"].update(ParameterRanges={
        "IntegerParameterRanges": [{"Name": "max_leaf_nodes", "MinValue": "2",
                                    "MaxValue": "8"}]}), "categorical parameter ranges only"),
    (lambda r: r["HyperParameterTuningJobConfig"]["ResourceLimits"].update(
        MaxNumberOfTrainingJobs=5), "must equal the number of distinct categorical"),
    (lambda r: r["TrainingJobDefinition"]["AlgorithmSpecification"].pop("MetricDefinitions"),
     "is not defined in the training job definition"),
    (lambda r: r.update(TrainingJobDefinitions=[r["TrainingJobDefinition"]]),
     "does not support TrainingJobDefinitions"),
])
def test_refusals(aws, change, message):
    request = tuning_request(aws, unique("bad"), "Grid", {"CategoricalParameterRanges": [
        {"Name": "max_leaf_nodes", "Values": ["3", "4"]}]})
    change(request)
    with pytest.raises(ClientError, match=message) as raised:
        aws("sagemaker").create_hyper_parameter_tuning_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_names_are_unique_and_unknown_names_are_not_found(aws):
    name = unique("dup")
    request = tuning_request(aws, name, "Grid", {"CategoricalParameterRanges": [
        {"Name": "max_leaf_nodes", "Values": ["3"]}]})
    sagemaker = aws("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**request)
    with pytest.raises(ClientError) as raised:
        sagemaker.create_hyper_parameter_tuning_job(**request)
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    wait_for_tuning(aws, name)


def test_the_sdks_tuning_step_runs_with_sync_in_a_state_machine(aws):
    import boto3
    from sagemaker.tuner import HyperparameterTuner, IntegerParameter
    from stepfunctions import steps

    from helpers import sdk
    session = sdk.sagemaker_session(boto3.Session(region_name="us-east-1",
                                                  aws_access_key_id="testing",
                                                  aws_secret_access_key="testing"))
    estimator = sdk.Estimator(image_uri=aws.image, role=aws.role_arn, instance_count=1,
                              instance_type="ml.m5.large", output_path=f"s3://{BUCKET}/tuning",
                              sagemaker_session=session, debugger_hook_config=False,
                              disable_profiler=True)
    tuner = HyperparameterTuner(estimator, OBJECTIVE,
                                {"max_leaf_nodes": IntegerParameter(2, 10)},
                                metric_definitions=METRICS, max_jobs=2, max_parallel_jobs=2,
                                strategy="Random")
    name = unique("sfn")
    step = steps.TuningStep("Tune", tuner=tuner, job_name=name, data={
        "training": sdk.TrainingInput(f"s3://{BUCKET}/iris/train/", content_type="text/csv")})
    described, _ = run_state_machine(aws, {"StartAt": "Tune", "States": {"Tune": step.to_dict()}},
                                     timeout=180)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])  # .sync: the DescribeHyperParameterTuningJob
    assert output["HyperParameterTuningJobStatus"] == "Completed"
    assert output["TrainingJobStatusCounters"]["Completed"] == 2
    assert output["BestTrainingJob"]["TrainingJobName"].startswith(f"{name}-00")


def test_a_failed_tuning_job_fails_its_sync_task(aws):
    request = tuning_request(aws, unique("sfnfail"), "Grid", {"CategoricalParameterRanges": [
        {"Name": "max_leaf_nodes", "Values": ["1"]}]})
    described, _ = run_state_machine(aws, {"StartAt": "Tune", "States": {"Tune": {
        "Type": "Task", "End": True, "Parameters": request,
        "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync"}}},
        timeout=120)
    assert described["status"] == "FAILED" and described["error"] == "States.TaskFailed"
    assert json.loads(described["cause"])["HyperParameterTuningJobStatus"] == "Failed"
