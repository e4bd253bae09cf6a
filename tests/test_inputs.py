"""§3's execution input: every bad field is named, a good input passes."""
import pytest

from helpers import inputs

BUCKET = "series-bucket"
NAME = "run-20261125-120000-abcd"  # 24 characters, like helpers.workflows.new_execution_name()
GOOD = {"ModelPrefix": "iris-tree",
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-bring-your-own",
        "TrainingDataUri": f"s3://{BUCKET}/sagemaker_bring_your_own/input/data/train/",
        "OutputPath": f"s3://{BUCKET}/sagemaker_bring_your_own/output/models",
        "TrainingRoleArn": "arn:aws:iam::123456789012:role/u-SageMakerExecutionRole",
        "ContentType": "text/csv", "Hyperparameters": {"max_leaf_nodes": "3"},
        "AlertTopicArn": "arn:aws:sns:us-east-1:123456789012:sagemaker-workflow-alerts"}


def test_a_good_input_has_no_problems():
    assert inputs.problems(GOOD, BUCKET, NAME) == {}


@pytest.mark.parametrize("field, value, message", [
    ("ModelPrefix", "x" * 39, "would be 64 characters; SageMaker allows 63"),
    ("ModelPrefix", "under_score", "letters, digits and hyphens only"),
    ("ModelPrefix", 7, "must be a string, got int"),
    ("TrainingImage", "docker.io/library/python", "must be an ECR image"),
    ("TrainingDataUri", "s3://another-bucket/data/", "must be in the series' bucket"),
    ("OutputPath", "/tmp/models", "must be in the series' bucket"),
    ("TrainingRoleArn", "u-SageMakerExecutionRole", "must be an IAM role ARN"),
    ("ContentType", " ", "must not be empty"),
    ("Hyperparameters", {"max_leaf_nodes": 3}, "not strings: max_leaf_nodes"),
    ("Hyperparameters", "max_leaf_nodes=3", "must be a map, got str"),
    ("AlertTopicArn", "whitespace_alerts", "must be an SNS topic ARN"),
])
def test_each_bad_field_is_named(field, value, message):
    found = inputs.problems(dict(GOOD, **{field: value}), BUCKET, NAME)
    assert list(found) == [field] and message in found[field]


def test_the_longest_prefix_that_fits_passes():
    assert inputs.problems(dict(GOOD, ModelPrefix="x" * 38), BUCKET, NAME) == {}


def test_missing_and_unknown_fields_are_named_all_at_once():
    broken = {k: v for k, v in GOOD.items() if k not in ("TrainingImage", "AlertTopicArn")}
    broken["Surprise"] = 1
    with pytest.raises(inputs.InputError) as error:
        raise inputs.InputError(inputs.problems(broken, BUCKET, NAME))
    assert error.value.problems == {"TrainingImage": "missing", "AlertTopicArn": "missing",
                                    "Surprise": "not a field of this workflow's input"}
    assert "- TrainingImage: missing" in str(error.value)
