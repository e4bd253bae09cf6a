"""The cost guard's estimate, and the instance types: the document's locally, the cheapest that
work on AWS, overridable, checked."""
import pytest

from helpers import config, costs, workflows
from helpers.aws import Aws

AWS_NAMES = workflows.Names("000000000000", "us-east-1", "a-bucket", "alerts",
                            config.AWS_TRAINING_INSTANCE_TYPE, config.AWS_ENDPOINT_INSTANCE_TYPE)


def definition(name, names=AWS_NAMES):
    return workflows.definition(workflows.build(name, names))


def test_one_training_job_for_section_1():
    table = costs.estimate(definition("training"))
    assert list(table["creates"]) == ["1 training job(s)"]
    assert list(table["$ per hour"]) == [costs.TRAINING_PRICE_PER_HOUR["ml.m5.large"]]


def test_map_jobs_are_counted_per_item():
    training = definition("train-multiple")
    items = workflows.map_items(training, {"HyperparameterSets": [{}, {}, {}, {}]})
    table = costs.estimate(training, items)
    assert list(table["creates"]) == ["1 training job(s)", "1 training job(s)",
                                      "4 training job(s)"]
    assert costs.summary(training, items).endswith("about $0.06.")


def test_the_endpoint_is_billed_by_the_hour_until_deleted():
    text = costs.summary(definition("train-and-host"))
    assert "1 endpoint instance(s) on ml.t2.medium ($0.056/h), billed for every hour until " \
           "deleted" in text
    assert "per day while the endpoint exists" in text


def test_an_unpriced_instance_type_is_said_and_not_totalled():
    names = workflows.Names("000000000000", "us-east-1", "b", "t", "ml.p4d.24xlarge",
                            "ml.g5.xlarge")
    text = costs.summary(definition("train-and-host", names))
    assert "price unknown here" in text and "Typical cost" not in text


def test_locally_the_guard_says_nothing_bills():
    local = Aws(config.Settings("local", "us-east-1", None, "t", 0, config.REPO_ROOT), None,
                "http://127.0.0.1:1")
    assert costs.guard(local, definition("training")).startswith(
        "Nothing bills on the local backend. On AWS, with these instance types, this run would "
        "create")


def test_the_aws_defaults_are_the_cheapest_listed():
    assert config.AWS_TRAINING_INSTANCE_TYPE == min(costs.TRAINING_PRICE_PER_HOUR,
                                                    key=costs.TRAINING_PRICE_PER_HOUR.get)
    assert config.AWS_ENDPOINT_INSTANCE_TYPE == min(costs.HOSTING_PRICE_PER_HOUR,
                                                    key=costs.HOSTING_PRICE_PER_HOUR.get)


def test_instance_types_follow_the_backend_and_can_be_set(monkeypatch):
    monkeypatch.setenv("TUTORIAL_BACKEND", "local")
    monkeypatch.delenv("TUTORIAL_TRAINING_INSTANCE_TYPE", raising=False)
    assert config.settings().training_instance_type == "ml.c4.2xlarge"  # the document's
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    assert config.settings().training_instance_type == config.AWS_TRAINING_INSTANCE_TYPE
    monkeypatch.setenv("TUTORIAL_TRAINING_INSTANCE_TYPE", "ml.c5.xlarge")
    assert config.settings().training_instance_type == "ml.c5.xlarge"
    monkeypatch.setenv("TUTORIAL_TRAINING_INSTANCE_TYPE", "c5.xlarge")
    with pytest.raises(config.ConfigError, match="must be a SageMaker instance type"):
        config.settings()
    monkeypatch.setenv("TUTORIAL_POLICIES", "admin")
    monkeypatch.delenv("TUTORIAL_TRAINING_INSTANCE_TYPE")
    with pytest.raises(config.ConfigError, match="TUTORIAL_POLICIES must be one of"):
        config.settings()
