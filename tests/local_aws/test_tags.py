"""SageMaker tags on the local backend: given at creation, added, listed and deleted by ARN."""
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import training_request, wait_for_job

SERIES = {"Key": "created-by", "Value": "sagemaker-step-functions-tutorial"}


def test_tags_given_at_creation_are_listed_added_and_deleted(aws):
    sagemaker = aws("sagemaker")
    name = f"tagged-{time.time_ns()}"
    arn = sagemaker.create_training_job(**training_request(aws, name, Tags=[SERIES]))[
        "TrainingJobArn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [SERIES]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"},
                                              {"Key": "created-by", "Value": "someone"}])
    assert {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]} == {
        "created-by": "someone", "team": "ml"}
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "created-by", "Value": "someone"}]
    wait_for_job(aws, name)


def test_an_untagged_resource_has_no_tags(aws):
    sagemaker = aws("sagemaker")
    name = f"untagged-{time.time_ns()}"
    arn = sagemaker.create_training_job(**training_request(aws, name))["TrainingJobArn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == []
    wait_for_job(aws, name)


def test_too_many_tags_are_rejected_before_anything_is_created(aws):
    sagemaker = aws("sagemaker")
    name = f"bad-tags-{time.time_ns()}"
    tags = [{"Key": f"k{n}", "Value": "v"} for n in range(51)]  # AWS allows 50
    with pytest.raises(ClientError) as error:
        sagemaker.create_training_job(**training_request(aws, name, Tags=tags))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "at most 50 tags" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sagemaker.describe_training_job(TrainingJobName=name)
