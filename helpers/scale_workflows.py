"""The answer keys of notebooks 10 (tuning) and 11 (many models with a Distributed Map).

- `tuning`: a TuningStep searches the tree's `max_leaf_nodes`; the best training job is looked up
  (aws-sdk DescribeTrainingJob) and registered as a SageMaker model, ready to deploy as in 07.
- `many_models`: a Distributed Map reads hyperparameter sets from a CSV in S3 (one row per model,
  one column per hyperparameter), trains one model per row in child executions, tolerates some
  failures and writes every child's result to S3. The Data Science SDK cannot write a Distributed
  Map (its issue #199): the Map state is raw ASL, carried into an SDK Workflow by `RawState`.
"""
from __future__ import annotations

import json

import pandas as pd

from . import config, data, workflows
from .names import Names
from .sdk import Intrinsic, steps

# ---- 10: tuning ------------------------------------------------------------------------------

# The tuning job's name: <= 32 characters (SageMaker's limit for tuning jobs); an execution name
# of workflows.new_execution_name (24 characters) fits behind this prefix.
TUNING_JOB_NAME = f"States.Format('{config.TUNING_JOB_PREFIX}{{}}', $$.Execution.Name)"
OBJECTIVE_METRIC = "validation:accuracy"


def tuner(names: Names, aws=None, max_jobs: int = 6, max_parallel_jobs: int = 2,
          strategy: str = "Random", leaves=(2, 32)):
    """A HyperparameterTuner over the tree's max_leaf_nodes, maximising validation accuracy."""
    from sagemaker.tuner import HyperparameterTuner, IntegerParameter
    return HyperparameterTuner(
        workflows.estimator(names, aws), OBJECTIVE_METRIC,
        {"max_leaf_nodes": IntegerParameter(*leaves)},
        metric_definitions=workflows.METRIC_DEFINITIONS, objective_type="Maximize",
        max_jobs=max_jobs, max_parallel_jobs=max_parallel_jobs, strategy=strategy)


def tuning_step(names: Names, aws=None, **tuner_settings):
    """`sagemaker:createHyperParameterTuningJob.sync` on the split iris data."""
    channels = {channel: workflows.sdk.TrainingInput(f"s3://{names.bucket}/{prefix}",
                                                     content_type="text/csv")
                for channel, prefix in data.SPLIT_PREFIXES.items()}
    return steps.TuningStep("Tune the tree", tuner=tuner(names, aws, **tuner_settings),
                            job_name=Intrinsic(TUNING_JOB_NAME), data=channels,
                            tags=workflows.SAGEMAKER_TAGS)


def best_job_model_steps(names: Names):
    """Look up the tuning job's best training job and register its model (07's ModelStep takes
    an SDK Model; the best job is known only at run time, so these are plain Task states)."""
    describe = steps.Task(
        "Describe the best job", resource="arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
        parameters={"TrainingJobName.$": "$.BestTrainingJob.TrainingJobName"},
        result_path="$.best")
    model = steps.Task(
        "Register the best model", resource="arn:aws:states:::sagemaker:createModel",
        parameters={"ModelName.$": f"States.Format('{config.MODEL_PREFIX}tuned-{{}}', "
                                   "$$.Execution.Name)",
                    "ExecutionRoleArn": names.sagemaker_role_arn,
                    "PrimaryContainer": {
                        "Image.$": "$.best.AlgorithmSpecification.TrainingImage",
                        "ModelDataUrl.$": "$.best.ModelArtifacts.S3ModelArtifacts"},
                    "Tags": [{"Key": key, "Value": value}
                             for key, value in workflows.SAGEMAKER_TAGS.items()]},
        result_path="$.model")
    return describe, model


def tuning(names: Names, aws=None):
    """Notebook 10: tune, find the best job, register its model."""
    describe, model = best_job_model_steps(names)
    return workflows.workflow("tuning", steps.Chain([tuning_step(names, aws), describe, model]),
                              names, aws)


# ---- 11: many models -------------------------------------------------------------------------

MANY_MODELS_PREFIX = f"{config.DATA_PREFIX}/many-models/"
HYPERPARAMETER_SETS_KEY = MANY_MODELS_PREFIX + "hyperparameter-sets.csv"
RESULTS_PREFIX = MANY_MODELS_PREFIX + "results"
# One model per row; the last one (1 leaf) is refused by the train program: a tolerated failure.
HYPERPARAMETER_SETS = pd.DataFrame({"max_leaf_nodes": ["2", "3", "4", "6", "8", "16", "32", "1"]})


class RawState(steps.states.State):
    """A state the Data Science SDK cannot write, given as its ASL (e.g. a Distributed Map: the
    SDK's issue #199). Next/End are still the SDK's, so it chains like any other step."""

    def __init__(self, state_id: str, asl: dict):
        super().__init__(state_id, asl["Type"])
        self.asl = {key: value for key, value in asl.items() if key not in ("Next", "End")}

    def to_dict(self):
        out = dict(self.asl)
        if self.next_step is not None:
            out["Next"] = self.next_step.state_id
        else:
            out["End"] = True
        return out


def upload_hyperparameter_sets(aws, sets: pd.DataFrame = HYPERPARAMETER_SETS,
                               key: str = HYPERPARAMETER_SETS_KEY) -> str:
    """Put the sets in S3 as a CSV with a header row; returns its s3:// URI."""
    aws.client("s3").put_object(Bucket=aws.bucket, Key=key,
                                Body=sets.to_csv(index=False).encode())
    return f"s3://{aws.bucket}/{key}"


def train_one_model_state(names: Names, aws=None) -> dict:
    """The child workflow's one state: 06's training task on the split data, its job name and
    hyperparameters from the child's input."""
    task = workflows.split_training_step(names, aws, "Train this model", "$.JobName",
                                         Intrinsic("$.Hyperparameters"))
    return dict(task.to_dict(), ResultSelector={
        "TrainingJobName.$": "$.TrainingJobName", "HyperParameters.$": "$.HyperParameters",
        "FinalMetricDataList.$": "$.FinalMetricDataList",
        "TrainingStartTime.$": "$.TrainingStartTime", "TrainingEndTime.$": "$.TrainingEndTime"})


def distributed_map_state(names: Names, aws=None, tolerated_percentage: int = 25,
                          max_concurrency: int = 2) -> dict:
    """The Distributed Map: items from the CSV, one child execution each, results to S3."""
    state = {
        "Type": "Map",
        "Label": "ManyModels",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                       "Parameters": {"Bucket": names.bucket, "Key": HYPERPARAMETER_SETS_KEY}},
        "ItemSelector": {
            "Hyperparameters.$": "$$.Map.Item.Value",
            "JobName.$": "States.Format('{}-model-{}', $$.Execution.Name, $$.Map.Item.Index)"},
        "MaxConcurrency": max_concurrency,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Train this model",
                          "States": {"Train this model": train_one_model_state(names, aws)}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": names.bucket, "Prefix": RESULTS_PREFIX}},
    }
    if tolerated_percentage:
        state["ToleratedFailurePercentage"] = tolerated_percentage
    return state


def many_models(names: Names, aws=None):
    """Notebook 11: one model per row of a CSV in S3, with a Distributed Map."""
    return workflows.workflow("many-models", steps.Chain([
        RawState("Train one model per row", distributed_map_state(names, aws))]), names, aws)


def map_run_results(aws, described_execution: dict) -> dict[str, list[dict]]:
    """The child executions' results a Distributed Map's ResultWriter wrote, by status, read
    through the manifest.json the execution's output points to."""
    output = json.loads(described_execution["output"])
    details = output["ResultWriterDetails"]
    s3 = aws.client("s3")
    manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])[
        "Body"].read())
    return {status: [result for file in files for result in json.loads(s3.get_object(
        Bucket=manifest["DestinationBucket"], Key=file["Key"])["Body"].read())]
        for status, files in manifest["ResultFiles"].items()}


def results_table(results: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per child execution: its hyperparameters, status, and the model's accuracies."""
    rows = []
    for status, entries in results.items():
        for entry in entries:
            item = json.loads(entry["Input"])
            row = {"status": status, **item.get("Hyperparameters", {})}
            if status == "SUCCEEDED":
                job = json.loads(entry["Output"])
                row["job"] = job["TrainingJobName"]
                row.update({m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]})
            else:
                row["error"] = entry.get("Error")
            rows.append(row)
    return pd.DataFrame(rows)


BUILDERS = {"tuning": tuning, "many-models": many_models}
