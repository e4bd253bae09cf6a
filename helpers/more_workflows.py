"""The series' workflows beyond the document (notebooks 08-09), built with the Data Science SDK:
the answer keys the notebooks' own constructions are compared with (helpers.workflows.reference).

- `batch-transform` (08): train, register the model, then score a whole held-out file with a
  batch transform job whose predictions are joined to their input rows.
- `evaluate-before-deploy` (09): train, evaluate the model on held-out data in a processing job,
  and deploy it only if its accuracy clears a threshold; otherwise alert.
"""
from __future__ import annotations

import io
import json
import time

import pandas as pd

from . import config, data, executions, sdk, workflows
from .names import Names
from .sdk import Intrinsic, Transformer, steps

BY_RUN = "$$.Execution.Name"
# Where batch transform writes, one folder per execution: <prefix>/<execution>/<input>.out
TRANSFORM_OUTPUT_PREFIX = f"{config.DATA_PREFIX}/batch-transform"
# The held-out file the notebooks score: the validation split, label in the first column.
HELD_OUT_FILE = "iris.csv"


def batch_model_name() -> Intrinsic:
    return Intrinsic(f"States.Format('{config.MODEL_PREFIX}batch-{{}}', {BY_RUN})")


def transformer(names: Names, aws=None) -> Transformer:
    """The SDK's Transformer: what a batch transform job runs on and how it assembles its
    output. (Its model name is a stand-in: the TransformStep names the model of this run.)"""
    return Transformer(
        model_name="set-by-the-transform-step", instance_count=1,
        instance_type=names.training_instance_type, strategy="MultiRecord",
        assemble_with="Line", accept="text/csv",
        output_path=Intrinsic(f"States.Format('s3://{names.bucket}/{TRANSFORM_OUTPUT_PREFIX}"
                              f"/{{}}', {BY_RUN})"),
        sagemaker_session=sdk.sagemaker_session(workflows._boto_session(names, aws)))


def transform_step(names: Names, aws=None, state_id: str = "Score the held-out file"):
    """Batch transform over the validation split: the label column is kept from the model
    (InputFilter $[1:]), joined back to each prediction (JoinSource Input), and the output keeps
    the label and the prediction (OutputFilter $[0,-1])."""
    return steps.TransformStep(
        state_id, transformer=transformer(names, aws),
        job_name=Intrinsic(f"States.Format('byo-batch-{{}}', {BY_RUN})"),
        model_name=batch_model_name(),
        data=f"s3://{names.bucket}/{data.SPLIT_PREFIXES['validation']}",
        content_type="text/csv", split_type="Line",
        input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]",
        tags=workflows.SAGEMAKER_TAGS)


def batch_transform(names: Names, aws=None):
    """08: train, create the model, batch-transform the held-out file; any failure alerts."""
    train = workflows.split_training_step(names, aws, "Train model",
                                          f"States.Format('byo-batch-{{}}', {BY_RUN})",
                                          {"max_leaf_nodes": "8"})
    model = steps.ModelStep("Create model", model=train.get_expected_model(),
                            model_name=batch_model_name(), tags=workflows.SAGEMAKER_TAGS)
    transform = transform_step(names, aws)
    notify = workflows.failure_notification(names, Intrinsic(
        "States.Format('Batch transform failed in execution {}. Error: {}. Cause: {}', "
        f"{BY_RUN}, $.error.Error, $.error.Cause)"),
        subject="[ERROR] Batch transform failed!")
    for task in (train, model, transform):
        task.add_catch(steps.Catch(error_equals=["States.ALL"], result_path="$.error",
                                   next_step=notify))
    return workflows.workflow("batch-transform", steps.Chain([train, model, transform]),
                              names, aws)


def transform_output_uri(described_job: dict, input_file: str = HELD_OUT_FILE) -> str:
    """Where a transform job wrote the predictions for one input file (its DescribeTransformJob,
    e.g. a TransformStep's output): <S3OutputPath>/<file>.out."""
    return f"{described_job['TransformOutput']['S3OutputPath'].rstrip('/')}/{input_file}.out"


def _last_output(aws, execution_arn: str, action: str, kind: str) -> dict:
    """The `.sync` output (the job's description) of the last `action` task an execution ran to
    its end, from the execution's history."""
    jobs = [json.loads(event["taskSucceededEventDetails"]["output"])
            for event in executions.events(aws, execution_arn)
            if event.get("taskSucceededEventDetails", {}).get("resource", "").startswith(action)]
    if not jobs:
        raise LookupError(f"the execution ran no {kind} to its end")
    return jobs[-1]


def transform_of(aws, execution_arn: str) -> dict:
    """The DescribeTransformJob of the (last) transform task an execution ran."""
    return _last_output(aws, execution_arn, "createTransformJob", "transform job")


def latest_successful_run(aws, workflow_name: str) -> str | None:
    """The ARN of the latest SUCCEEDED execution of sagemaker-byo-<workflow_name>, or None."""
    sfn = aws.client("stepfunctions")
    arn = (f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:"
           f"{config.STATE_MACHINE_PREFIX}{workflow_name}")
    try:
        runs = [e for e in sfn.list_executions(stateMachineArn=arn)["executions"]
                if e["status"] == "SUCCEEDED"]
    except sfn.exceptions.StateMachineDoesNotExist:
        return None
    return max(runs, key=lambda e: e["startDate"])["executionArn"] if runs else None


def wait_for_transform(aws, job_name: str, timeout: float = 600) -> dict:
    """DescribeTransformJob once the job has ended (polling every second; locally it is quick)."""
    sagemaker, deadline = aws.client("sagemaker"), time.monotonic() + timeout
    while True:
        job = sagemaker.describe_transform_job(TransformJobName=job_name)
        if job["TransformJobStatus"] not in ("InProgress", "Stopping"):
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"transform job {job_name} still {job['TransformJobStatus']}")
        time.sleep(0.2 if aws.settings.is_local else 10)


def read_predictions(aws, described_job: dict, input_file: str = HELD_OUT_FILE) -> pd.DataFrame:
    """A transform job's output for one input file, as a table (no header: one row per input
    row, the columns its OutputFilter kept)."""
    bucket, _, key = transform_output_uri(described_job, input_file)[len("s3://"):].partition("/")
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return pd.read_csv(io.BytesIO(body), header=None)


# ---- 09: evaluate before deploying ------------------------------------------------------------

EVALUATION_PREFIX = f"{config.DATA_PREFIX}/evaluation"


def evaluation_step(names: Names, aws=None, state_id: str = "Evaluate on held-out data"):
    """A processing job running the image's `evaluate` program: the training job's model and the
    held-out split in, evaluation.json out (one folder per execution); its description is kept
    under $.evaluation, next to the training job's."""
    processor = sdk.Processor(
        role=names.sagemaker_role_arn, image_uri=names.image_uri, instance_count=1,
        instance_type=names.training_instance_type, volume_size_in_gb=1,
        sagemaker_session=sdk.sagemaker_session(workflows._boto_session(names, aws)))
    return steps.ProcessingStep(
        state_id, processor=processor,
        job_name=Intrinsic(f"States.Format('byo-eval-{{}}', {BY_RUN})"),
        container_entrypoint=["evaluate"],
        inputs=[sdk.ProcessingInput(source=Intrinsic("$.ModelArtifacts.S3ModelArtifacts"),
                                    destination="/opt/ml/processing/model", input_name="model"),
                sdk.ProcessingInput(
                    source=f"s3://{names.bucket}/{data.SPLIT_PREFIXES['validation']}",
                    destination="/opt/ml/processing/test", input_name="test")],
        outputs=[sdk.ProcessingOutput(
            source="/opt/ml/processing/evaluation", output_name="evaluation",
            destination=Intrinsic(f"States.Format('s3://{names.bucket}/{EVALUATION_PREFIX}/{{}}',"
                                  f" {BY_RUN})"))],
        tags=workflows.SAGEMAKER_TAGS, result_path="$.evaluation")


def evaluate_before_deploy(names: Names, aws=None):
    """09: train, evaluate in a processing job, read its report (the job's ExitMessage), and
    deploy only if the accuracy reaches the execution input's Threshold; otherwise alert."""
    train = workflows.split_training_step(names, aws, "Train model",
                                          f"States.Format('byo-eval-{{}}', {BY_RUN})",
                                          {"max_leaf_nodes": "8"})
    evaluate = evaluation_step(names, aws)
    report = steps.Pass("Read the report", result_path="$.report", parameters={
        "Metrics.$": "States.StringToJson($.evaluation.ExitMessage)",
        "Threshold.$": "$$.Execution.Input.Threshold"})
    model = steps.ModelStep(
        "Create model", model=train.get_expected_model(),
        model_name=Intrinsic(f"States.Format('{config.MODEL_PREFIX}eval-{{}}', {BY_RUN})"),
        tags=workflows.SAGEMAKER_TAGS)
    endpoint_config = steps.EndpointConfigStep(
        "Create endpoint configuration",
        endpoint_config_name=Intrinsic(f"States.Format('{config.CONFIG_PREFIX}eval-{{}}', "
                                       f"{BY_RUN})"),
        model_name=Intrinsic(f"States.Format('{config.MODEL_PREFIX}eval-{{}}', {BY_RUN})"),
        initial_instance_count=1, instance_type=names.endpoint_instance_type,
        tags=workflows.SAGEMAKER_TAGS)
    endpoint = steps.EndpointStep(
        "Create endpoint", endpoint_name=config.ENDPOINT_NAME,
        endpoint_config_name=Intrinsic(f"States.Format('{config.CONFIG_PREFIX}eval-{{}}', "
                                       f"{BY_RUN})"), tags=workflows.SAGEMAKER_TAGS)
    below = steps.SnsPublishStep("Alert: not deployed", parameters={
        "TopicArn": names.topic_arn, "Subject": "[WARN] Model not deployed",
        "Message": Intrinsic("States.Format('Accuracy {} is below the threshold {} in "
                             f"execution {{}}: the model was not deployed.', "
                             f"$.report.Metrics.accuracy, $.report.Threshold, {BY_RUN})")})
    below.next(steps.Fail("Below the threshold"))
    gate = steps.Choice("Accurate enough?")
    gate.add_choice(steps.ChoiceRule.NumericGreaterThanEqualsPath(
        "$.report.Metrics.accuracy", "$.report.Threshold"), model)
    gate.default_choice(below)
    notify = workflows.failure_notification(names, Intrinsic(
        "States.Format('Evaluation or deployment failed in execution {}. Error: {}. Cause: {}',"
        f" {BY_RUN}, $.error.Error, $.error.Cause)"),
        subject="[ERROR] Evaluate before deploy failed!")
    for task in (train, evaluate, model, endpoint_config, endpoint):
        task.add_catch(steps.Catch(error_equals=["States.ALL"], result_path="$.error",
                                   next_step=notify))
    model.next(endpoint_config)
    endpoint_config.next(endpoint)
    return workflows.workflow("evaluate-before-deploy",
                              steps.Chain([train, evaluate, report, gate]), names, aws)


def evaluation_report(aws, execution_arn: str) -> dict:
    """The evaluation.json a run's processing job wrote (its ProcessingOutput's S3 folder)."""
    described = _last_output(aws, execution_arn, "createProcessingJob", "processing job")
    uri = described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, _, key = uri[len("s3://"):].partition("/")
    body = aws.client("s3").get_object(Bucket=bucket, Key=f"{key.rstrip('/')}/evaluation.json")
    return json.loads(body["Body"].read())


BUILDERS = {"batch-transform": batch_transform, "evaluate-before-deploy": evaluate_before_deploy}
workflows.BUILDERS.update(BUILDERS)
