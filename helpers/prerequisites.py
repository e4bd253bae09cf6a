"""What the document asks for before any workflow runs: a bucket, two IAM roles, an SNS topic.

The document's policies are kept as JSON files in helpers/policies/; the roles get their
least-privilege variants (helpers/policies/scoped/, see helpers.permissions) unless
TUTORIAL_POLICIES=document asks for the document's own.
Every function here is idempotent: running it again changes nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import config
from .permissions import scoped_policy
from .names import Names

POLICY_DIR = Path(__file__).resolve().parent / "policies"
SERIES_TAG = {"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE}
# role name -> (trust policy file, permissions policy file, inline policy name)
ROLES = {
    config.SAGEMAKER_ROLE: ("sagemaker-trust-policy.json", "sagemaker-execution-policy.json",
                            "SageMakerExecutionPolicy"),
    config.WORKFLOW_ROLE: ("stepfunctions-trust-policy.json",
                           "stepfunctions-execution-policy.json",
                           "StepFunctionsExecutionWithSageMakerTask"),
}


def load_policy(file_name: str) -> dict:
    return json.loads((POLICY_DIR / file_name).read_text())


def ensure_bucket(aws) -> str:
    """Create the series' bucket unless it exists; returns 'created' or 'existed'."""
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=aws.bucket)
        return "existed"
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise  # 403: the name is taken by another account, or we lack permission
    kwargs = {}
    if aws.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    s3.create_bucket(Bucket=aws.bucket, **kwargs)
    # The tag says the series made this bucket, so that clean-up may delete it (and only it).
    s3.put_bucket_tagging(Bucket=aws.bucket, Tagging={"TagSet": [SERIES_TAG]})
    return "created"


def role_policy(aws, role_name: str) -> dict:
    """The permissions the role gets: the least-privilege variant by default, the document's
    own policy with TUTORIAL_POLICIES=document."""
    if aws.settings.policies == "document":
        return load_policy(ROLES[role_name][1])
    return scoped_policy(role_name, Names.from_aws(aws))


def ensure_role(aws, role_name: str) -> str:
    """Create the role with its trust policy and put its policy (`role_policy`) on it."""
    trust_file, _, policy_name = ROLES[role_name]
    iam = aws.client("iam")
    trust = json.dumps(load_policy(trust_file))
    try:
        iam.get_role(RoleName=role_name)
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
        iam.tag_role(RoleName=role_name, Tags=[SERIES_TAG])
        outcome = "existed"
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust,
                        Description="Created by the SageMaker + Step Functions tutorial",
                        Tags=[SERIES_TAG])
        outcome = "created"
    iam.put_role_policy(RoleName=role_name, PolicyName=policy_name,
                        PolicyDocument=json.dumps(role_policy(aws, role_name)))
    return outcome


def ensure_topic(aws) -> str:
    """SNS CreateTopic is itself idempotent; we only report whether the topic was there."""
    sns = aws.client("sns")
    arn = Names.from_aws(aws).topic_arn
    existed = any(t["TopicArn"] == arn for page in sns.get_paginator("list_topics").paginate()
                  for t in page["Topics"])
    sns.create_topic(Name=aws.settings.topic)
    # Tagged apart from CreateTopic: that call fails on an existing topic with other tags.
    sns.tag_resource(ResourceArn=arn, Tags=[SERIES_TAG])
    return "existed" if existed else "created"


def ensure_all(aws) -> pd.DataFrame:
    """Create whatever is missing; a table of each prerequisite and what happened to it."""
    names = Names.from_aws(aws)
    rows = [("S3 bucket", f"s3://{aws.bucket}", ensure_bucket(aws))]
    for role_name in ROLES:
        rows.append(("IAM role", names.role_arn(role_name), ensure_role(aws, role_name)))
    rows.append(("SNS topic", names.topic_arn, ensure_topic(aws)))
    return pd.DataFrame(rows, columns=["resource", "name", "this run"])
