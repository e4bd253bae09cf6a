"""Deleting everything the series made, then checking that nothing is left.

`plan(aws)` lists what exists; `delete(aws, plan)` removes it in dependency order (endpoints
before their configurations and models, a bucket's objects before the bucket, a role's policies
before the role); `leftovers(aws)` is `plan(aws)` again, empty when all is gone. Idempotent.
Training jobs are not listed: SageMaker keeps them (they cost nothing) and has no delete.
"""
from __future__ import annotations

import json

import pandas as pd
from botocore.exceptions import ClientError

from . import config, prerequisites
from .alerts import queue_name
from .config import (CONFIG_PREFIX, ENDPOINT_LOG_GROUP, ENDPOINT_NAME, MODEL_PREFIX,
                     TRAINING_LOG_GROUP)
from .display import Collapsible
from .names import Names


def _missing(error) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ValidationException":  # SageMaker's way of saying a resource does not exist
        return "Could not find" in error.response["Error"].get("Message", "")
    return code in ("NoSuchBucket", "404", "NoSuchEntity", "ResourceNotFoundException",
                    "RepositoryNotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
                    "NotFound", "QueueDoesNotExist", "StateMachineDoesNotExist")


def plan(aws) -> list[tuple[str, str]]:
    """(kind, name) of everything of the series' that exists now, in deletion order."""
    names = Names.from_aws(aws)
    sagemaker, items = aws.client("sagemaker"), []
    items += [("endpoint", e["EndpointName"]) for e in sagemaker.list_endpoints(
        NameContains=ENDPOINT_NAME)["Endpoints"] if e["EndpointName"] == ENDPOINT_NAME]
    items += [("endpoint configuration", c["EndpointConfigName"]) for page in
              sagemaker.get_paginator("list_endpoint_configs").paginate(NameContains=CONFIG_PREFIX)
              for c in page["EndpointConfigs"] if c["EndpointConfigName"].startswith(CONFIG_PREFIX)]
    items += [("model", m["ModelName"]) for page in sagemaker.get_paginator("list_models")
              .paginate(NameContains=MODEL_PREFIX) for m in page["Models"]
              if m["ModelName"].startswith(MODEL_PREFIX)]
    # A running tuning job (notebook 10's are named tune-...) keeps starting billable training
    # jobs: stop it (tuning jobs, like training jobs, cannot be deleted; stopped, they cost nothing).
    items += [("tuning job", j["HyperParameterTuningJobName"]) for page in
              sagemaker.get_paginator("list_hyper_parameter_tuning_jobs").paginate(
                  NameContains=config.TUNING_JOB_PREFIX, StatusEquals="InProgress")
              for j in page["HyperParameterTuningJobSummaries"]
              if j["HyperParameterTuningJobName"].startswith(config.TUNING_JOB_PREFIX)]
    items += [("state machine", m["stateMachineArn"]) for page in
              aws.client("stepfunctions").get_paginator("list_state_machines").paginate()
              for m in page["stateMachines"] if m["name"].startswith(config.STATE_MACHINE_PREFIX)]
    s3 = aws.client("s3")
    try:
        items += [("S3 object", f"s3://{aws.bucket}/{o['Key']}") for page in
                  s3.get_paginator("list_objects_v2").paginate(Bucket=aws.bucket,
                                                               Prefix=config.DATA_PREFIX + "/")
                  for o in page.get("Contents", [])]
        tags = s3.get_bucket_tagging(Bucket=aws.bucket)["TagSet"]
        if prerequisites.SERIES_TAG in tags:
            items.append(("S3 bucket", aws.bucket))
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("NoSuchBucket", "NoSuchTagSet", "404"):
            raise
    sns = aws.client("sns")
    items += [("SNS subscription", s["SubscriptionArn"]) for page in
              sns.get_paginator("list_subscriptions").paginate() for s in page["Subscriptions"]
              if s["TopicArn"] == names.topic_arn and s["SubscriptionArn"].startswith("arn:")]
    items += [("SNS topic", t["TopicArn"]) for page in sns.get_paginator("list_topics").paginate()
              for t in page["Topics"] if t["TopicArn"] == names.topic_arn]
    items += [("SQS queue", url) for url in aws.client("sqs").list_queues(
        QueueNamePrefix=queue_name(aws)).get("QueueUrls", []) if url.endswith(queue_name(aws))]
    iam = aws.client("iam")
    for role in prerequisites.ROLES:
        try:
            iam.get_role(RoleName=role)
            items.append(("IAM role", role))
        except iam.exceptions.NoSuchEntityException:
            pass
    items += _log_items(aws, names)
    try:
        aws.client("ecr").describe_repositories(repositoryNames=[config.IMAGE_REPOSITORY])
        items.append(("ECR repository", config.IMAGE_REPOSITORY))
    except aws.client("ecr").exceptions.RepositoryNotFoundException:
        pass
    return items


def series_training_jobs(aws, names: Names | None = None) -> set[str]:
    """The training jobs run with the series' role (there is no DeleteTrainingJob: they stay)."""
    names, sagemaker = names or Names.from_aws(aws), aws.client("sagemaker")
    return {job["TrainingJobName"]
            for page in sagemaker.get_paginator("list_training_jobs").paginate()
            for job in page["TrainingJobSummaries"]
            if sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])[
                "RoleArn"] == names.sagemaker_role_arn}


def _log_items(aws, names: Names) -> list[tuple[str, str]]:
    """The endpoint's log group, and the training log streams of the series' jobs (those run
    with the series' role: the training log group is shared with any other SageMaker use)."""
    logs = aws.client("logs")
    items = [("log group", g["logGroupName"]) for g in logs.describe_log_groups(
        logGroupNamePrefix=ENDPOINT_LOG_GROUP)["logGroups"]
        if g["logGroupName"] == ENDPOINT_LOG_GROUP]
    series_jobs = series_training_jobs(aws, names)
    try:
        streams = [s["logStreamName"] for page in logs.get_paginator("describe_log_streams")
                   .paginate(logGroupName=TRAINING_LOG_GROUP) for s in page["logStreams"]]
    except logs.exceptions.ResourceNotFoundException:
        streams = []
    items += [("log stream", f"{TRAINING_LOG_GROUP}:{stream}") for stream in streams
              if stream.split("/")[0] in series_jobs]
    return items


def _delete_one(aws, kind: str, name: str):
    if kind == "endpoint":
        aws.client("sagemaker").delete_endpoint(EndpointName=name)
    elif kind == "endpoint configuration":
        aws.client("sagemaker").delete_endpoint_config(EndpointConfigName=name)
    elif kind == "model":
        aws.client("sagemaker").delete_model(ModelName=name)
    elif kind == "state machine":
        aws.client("stepfunctions").delete_state_machine(stateMachineArn=name)
    elif kind == "tuning job":
        aws.client("sagemaker").stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    elif kind == "S3 object":
        bucket, _, key = name[len("s3://"):].partition("/")
        aws.client("s3").delete_object(Bucket=bucket, Key=key)
    elif kind == "S3 bucket":
        aws.client("s3").delete_bucket(Bucket=name)
    elif kind == "SNS subscription":
        aws.client("sns").unsubscribe(SubscriptionArn=name)
    elif kind == "SNS topic":
        aws.client("sns").delete_topic(TopicArn=name)
    elif kind == "SQS queue":
        aws.client("sqs").delete_queue(QueueUrl=name)
    elif kind == "IAM role":
        iam = aws.client("iam")
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
    elif kind == "log group":
        aws.client("logs").delete_log_group(logGroupName=name)
    elif kind == "log stream":
        group, _, stream = name.partition(":")
        aws.client("logs").delete_log_stream(logGroupName=group, logStreamName=stream)
    elif kind == "ECR repository":
        aws.client("ecr").delete_repository(repositoryName=name, force=True)
    else:
        raise ValueError(f"unknown kind {kind!r}")


def delete(aws, items: list[tuple[str, str]]) -> pd.DataFrame:
    """Delete the planned items; a table of each and what happened."""
    rows = []
    for kind, name in items:
        try:
            _delete_one(aws, kind, name)
            outcome = "deleted"
        except ClientError as error:
            outcome = "already gone" if _missing(error) else f"failed: {error}"
        rows.append({"kind": kind, "name": name, "outcome": outcome})
    return pd.DataFrame(rows, columns=["kind", "name", "outcome"])


def as_table(items: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["kind", "name"])


class Overview:
    """A count per kind (and per outcome, for what `delete` returns), with the full list folded
    under it: a clean-up can list hundreds of S3 objects and log streams."""

    def __init__(self, table: pd.DataFrame, title: str):
        keys = [column for column in table.columns if column != "name"]
        self.counts = table.groupby(keys, sort=False).size().rename("count").reset_index()
        self.full = Collapsible(table.to_string(index=False),
                                f"{title}: all {len(table)}, one per line", fold_above=0)

    def _repr_html_(self):
        return self.counts.to_html(index=False) + self.full._repr_html_()

    def __repr__(self):
        return f"{self.counts.to_string(index=False)}\n{self.full!r}"


def overview(items, title: str = "Items") -> Overview | str:
    """`plan`'s list or `delete`'s table as a count per kind, the full list collapsed."""
    table = items if isinstance(items, pd.DataFrame) else as_table(items)
    return Overview(table, title) if len(table) else f"{title}: nothing."


def summary(items: list[tuple[str, str]]) -> str:
    counts = pd.Series([kind for kind, _ in items], dtype=object).value_counts()
    return json.dumps(counts.to_dict()) if len(counts) else "nothing"
