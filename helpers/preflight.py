"""Before anything is created on AWS: are there credentials, is the region one with SageMaker
and Step Functions, and may this identity do what the notebooks do? Each check says exactly
what is missing and what to do about it.

Permissions are asked of IAM's policy simulator (iam:SimulatePrincipalPolicy) for the identity
the credentials belong to, so the answer includes every policy attached to it (not SCPs or
permission boundaries: the simulator's own limits). If the identity may not simulate, the check
says so and the first call without permission will name itself in an AccessDenied error.
"""
from __future__ import annotations

import re

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

# What the notebooks ask AWS to do with the learner's own credentials, by the step that needs it.
# tests/test_preflight.py records every call the helpers make and checks that it is listed here.
# (The roles' permissions are helpers.permissions' business.)
LEARNER_ACTIONS = {
    "00 · roles, bucket, topic": [
        "iam:CreateRole", "iam:GetRole", "iam:PutRolePolicy", "iam:TagRole",
        "iam:UpdateAssumeRolePolicy", "iam:ListRolePolicies", "s3:CreateBucket",
        "s3:PutBucketTagging", "sns:CreateTopic", "sns:TagResource", "sns:ListTopics"],
    "01 · image": ["ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:TagResource",
                   "ecr:GetAuthorizationToken", "ecr:InitiateLayerUpload",
                   "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
                   "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages"],
    "02 · data": ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"],
    "03-07 · workflows": [
        "states:CreateStateMachine", "states:UpdateStateMachine", "states:TagResource",
        "states:DescribeStateMachine", "states:ListStateMachines", "states:StartExecution",
        "states:DescribeExecution", "states:GetExecutionHistory", "states:ListExecutions",
        "states:DescribeStateMachineForExecution", "states:StopExecution", "iam:PassRole",
        "sagemaker:DescribeTrainingJob", "sagemaker:ListTrainingJobs", "logs:FilterLogEvents",
        "logs:DescribeLogStreams", "sqs:CreateQueue", "sqs:TagQueue", "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:ReceiveMessage",
        "sqs:DeleteMessage", "sns:Subscribe"],
    "07 · endpoint": ["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint",
                      "sagemaker:DeleteEndpoint"],
    "12 · JSONata, TestState, redrive": ["states:TestState", "states:RedriveExecution",
                                         "states:ValidateStateMachineDefinition"],
    "99 · clean-up": [
        "states:DeleteStateMachine", "sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs",
        "sagemaker:ListModels", "sagemaker:DeleteModel", "sagemaker:DeleteEndpointConfig",
        "s3:GetBucketTagging", "s3:DeleteBucket", "sns:ListSubscriptions", "sns:Unsubscribe",
        "sns:DeleteTopic", "sqs:ListQueues", "sqs:DeleteQueue", "iam:DeleteRolePolicy",
        "iam:DeleteRole", "ecr:DeleteRepository", "logs:DescribeLogGroups",
        "logs:DeleteLogGroup", "logs:DeleteLogStream", "sagemaker:ListHyperParameterTuningJobs",
        "sagemaker:StopHyperParameterTuningJob"],
}
# How a boto3 call is named in IAM, where that is not "<service prefix>:<operation>".
SERVICE_PREFIXES = {"stepfunctions": "states", "sagemaker-runtime": "sagemaker"}
S3_ACTIONS = {"ListObjectsV2": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
              "HeadObject": "s3:GetObject", "CreateMultipartUpload": "s3:PutObject",
              "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
              "DeleteObjects": "s3:DeleteObject"}
NEEDS_NO_PERMISSION = {("sts", "GetCallerIdentity")}  # AWS answers it for any identity
_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/")


def iam_action(service: str, operation: str) -> str | None:
    """The IAM action a boto3 call (service name, operation name) needs; None if none."""
    if (service, operation) in NEEDS_NO_PERMISSION:
        return None
    if service == "s3":
        return S3_ACTIONS.get(operation, f"s3:{operation}")
    return f"{SERVICE_PREFIXES.get(service, service)}:{operation}"


def principal_arn(caller_arn: str) -> str:
    """The IAM identity behind a caller ARN (an assumed role's session -> the role)."""
    match = _ASSUMED_ROLE.match(caller_arn)
    if match:
        partition, account, role = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return caller_arn


def _credentials(aws) -> tuple[tuple, str | None]:
    try:
        identity = aws.client("sts").get_caller_identity()
    except NoCredentialsError:
        return ("credentials", "missing", "No AWS credentials found. Run `aws configure` (or "
                "`aws sso login --profile NAME` and set AWS_PROFILE=NAME), then run this again."
                ), None
    except ClientError as error:
        return ("credentials", "missing", f"AWS refused the credentials "
                f"({error.response['Error']['Code']}): they are wrong or expired. Refresh them "
                "(e.g. `aws sso login`) and run this again."), None
    except BotoCoreError as error:
        return ("credentials", "missing", f"Could not reach AWS STS: {error}"), None
    return ("credentials", "ok", f"{identity['Arn']} in account {identity['Account']}"), \
        identity["Arn"]


def _region(aws) -> tuple:
    region = aws.region
    missing = [service for service in ("sagemaker", "stepfunctions", "sns")
               if region not in boto3.Session().get_available_regions(service)]
    if missing:
        offered = boto3.Session().get_available_regions("sagemaker")
        return ("region", "missing", f"{region} offers no {', '.join(missing)}. Set "
                f"TUTORIAL_REGION to one that does, e.g. {', '.join(offered[:4])}.")
    return ("region", "ok", f"{region} offers SageMaker, Step Functions and SNS")


def _permissions(aws, caller_arn: str) -> list[tuple]:
    if caller_arn.endswith(":root"):
        return [("permissions", "ok", "These are the account's root credentials: everything is "
                 "allowed. Prefer an IAM user or role for day-to-day work.")]
    iam = aws.client("iam")
    rows = []
    for step, actions in LEARNER_ACTIONS.items():
        try:
            results = [result for page in iam.get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=principal_arn(caller_arn), ActionNames=actions)
                for result in page["EvaluationResults"]]
        except (ClientError, BotoCoreError) as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            return [("permissions", "not checked", f"IAM's policy simulator answered {code}, so "
                     "the permissions could not be checked in advance (it needs "
                     "iam:SimulatePrincipalPolicy). A call that lacks permission will fail with "
                     "AccessDenied and name the action.")]
        denied = sorted(r["EvalActionName"] for r in results if r["EvalDecision"] != "allowed")
        rows.append((f"permissions {step}", "missing" if denied else "ok",
                     f"not allowed: {', '.join(denied)}. Ask your administrator for them (or for "
                     "a policy such as AmazonSageMakerFullAccess plus IAM role creation)."
                     if denied else f"{len(actions)} actions allowed"))
    return rows


def check(aws) -> pd.DataFrame:
    """One row per check: what was checked, ok / missing / not checked, and the detail."""
    if aws.settings.is_local:
        rows = [("backend", "ok", f"local: {aws.describe()}; no credentials or permissions are "
                 "needed, nothing bills")]
    else:
        credentials, caller = _credentials(aws)
        rows = [credentials, _region(aws)]
        if caller:
            rows += _permissions(aws, caller)
    return pd.DataFrame(rows, columns=["check", "status", "detail"])


def ready(table: pd.DataFrame) -> bool:
    return not (table["status"] == "missing").any()
