"""Execution input for the `training-parameters` workflow (§3): built for a deployment, and
checked before `start_execution`, so that a mistake is reported by field, not by a failed run."""
from __future__ import annotations

import re

from local_aws import IMAGE_URI

from . import data
from .names import Names
from .workflows import EXECUTION_INPUT_SCHEMA, new_execution_name, start

JOB_NAME_LIMIT = 63
NAME_PART = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")


class InputError(ValueError):
    """The execution input is not valid; `problems` maps each bad field to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("Invalid execution input:\n" + "\n".join(
            f"- {field}: {problem}" for field, problem in problems.items()))


def training_input(aws, model_prefix: str, hyperparameters: dict,
                   data_prefix: str = data.TRAINING_PREFIX, content_type: str = "text/csv") -> dict:
    """An execution input for this deployment: its image, role, bucket and topic."""
    names = Names.from_aws(aws)
    return {"ModelPrefix": model_prefix, "TrainingImage": names.image_uri,
            "TrainingDataUri": f"s3://{names.bucket}/{data_prefix}",
            "OutputPath": names.output_path, "TrainingRoleArn": names.sagemaker_role_arn,
            "ContentType": content_type, "Hyperparameters": hyperparameters,
            "AlertTopicArn": names.topic_arn}


def problems(execution_input: dict, bucket: str, execution_name: str) -> dict[str, str]:
    """Every problem of the input, by field (an empty dict when there is none)."""
    found = {}
    for field, kind in EXECUTION_INPUT_SCHEMA.items():
        if field not in execution_input:
            found[field] = "missing"
        elif not isinstance(execution_input[field], kind):
            found[field] = (f"must be a {'map' if kind is dict else 'string'}, got "
                            f"{type(execution_input[field]).__name__}")
    for field in sorted(set(execution_input) - set(EXECUTION_INPUT_SCHEMA)):
        found[field] = "not a field of this workflow's input"
    value = {k: v for k, v in execution_input.items() if k not in found}
    if "ModelPrefix" in value:
        prefix = value["ModelPrefix"]
        length = len(prefix) + 1 + len(execution_name)
        if not NAME_PART.match(prefix):
            found["ModelPrefix"] = ("letters, digits and hyphens only, starting and ending with "
                                    f"a letter or digit; got {prefix!r}")
        elif length > JOB_NAME_LIMIT:
            found["ModelPrefix"] = (f"the job name '{prefix}-{execution_name}' would be {length} "
                                    f"characters; SageMaker allows {JOB_NAME_LIMIT}")
    if "TrainingImage" in value and not IMAGE_URI.match(value["TrainingImage"]):
        found["TrainingImage"] = ("must be an ECR image, <account>.dkr.ecr.<region>.amazonaws.com"
                                  f"/<repository>[:tag]; got {value['TrainingImage']!r}")
    for field in ("TrainingDataUri", "OutputPath"):
        if field in value and not value[field].startswith(f"s3://{bucket}/"):
            found[field] = f"must be in the series' bucket, s3://{bucket}/...; got {value[field]!r}"
    if "TrainingRoleArn" in value and not ROLE_ARN.match(value["TrainingRoleArn"]):
        found["TrainingRoleArn"] = f"must be an IAM role ARN; got {value['TrainingRoleArn']!r}"
    if "AlertTopicArn" in value and not TOPIC_ARN.match(value["AlertTopicArn"]):
        found["AlertTopicArn"] = f"must be an SNS topic ARN; got {value['AlertTopicArn']!r}"
    if "ContentType" in value and not value["ContentType"].strip():
        found["ContentType"] = "must not be empty"
    bad = sorted(k for k, v in value.get("Hyperparameters", {}).items()
                 if not isinstance(k, str) or not isinstance(v, str))
    if bad:
        found["Hyperparameters"] = ("SageMaker takes string values only; not strings: "
                                    + ", ".join(map(str, bad)) + " (write \"5\", not 5)")
    return found


def validate(aws, execution_input: dict, execution_name: str):
    """Raise InputError naming each invalid field."""
    found = problems(execution_input, aws.bucket, execution_name)
    if found:
        raise InputError(found)


def start_validated(aws, state_machine_arn: str, execution_input: dict,
                    name: str | None = None) -> str:
    """Validate the input, then start the execution; returns its ARN."""
    name = name or new_execution_name()
    validate(aws, execution_input, name)
    return start(aws, state_machine_arn, name, execution_input)
