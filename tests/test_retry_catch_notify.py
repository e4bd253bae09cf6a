"""Document §2 on the local backend: Retry spacing and counts, Catch, one SNS alert per failed
execution, and the improved variant."""
import json
from pathlib import Path

import pytest

import helpers
from helpers import workflows
from tests.test_helpers import DOCUMENT

FIXTURES = Path(__file__).parent / "fixtures"
POLICY_WAITS = [1.0, 1.1, 1.21, 1.331, 1.4641]  # IntervalSeconds 1, BackoffRate 1.1


@pytest.fixture
def section2(local):
    names = workflows.Names.from_aws(local)
    return workflows.create_or_update(local, workflows.training_retry_notify(names, local))


@pytest.fixture
def detailed(local):
    names = workflows.Names.from_aws(local)
    return workflows.create_or_update(local, workflows.training_retry_notify_detailed(names, local))


def run(aws, state_machine_arn, prefix, rejections=0, bad_data=False):
    helpers.alerts.receive(aws)  # start with an empty inbox
    name = workflows.new_execution_name(prefix)
    with helpers.faults.injected(aws, "CreateTrainingJob", "ThrottlingException",
                                 times=max(rejections, 1), name_contains=name if rejections
                                 else "no-such-name") as fault:
        if bad_data:
            with helpers.data.temporarily_added(aws, "iris_malformed.csv"):
                arn = workflows.start(aws, state_machine_arn, name)
                described = helpers.executions.wait(aws, arn, timeout=120)
        else:
            arn = workflows.start(aws, state_machine_arn, name)
            described = helpers.executions.wait(aws, arn, timeout=120)
    assert fault["used"] == rejections
    return arn, described


@pytest.mark.parametrize("rejections", [2, 5])
def test_up_to_max_attempts_rejections_are_retried_with_back_off(local, section2, rejections):
    arn, described = run(local, section2, "retried", rejections)
    assert described["status"] == "SUCCEEDED"
    waits = helpers.executions.retries(local, arn)
    assert list(waits["after error"]) == ["SageMaker.AmazonSageMakerException"] * rejections
    waited_seconds = list(waits["waited (s)"])
    for waited, policy in zip(waited_seconds, POLICY_WAITS):
        # Never shorter than the policy (waits must grow: a missing back-off, 1.0 s every time,
        # fails here); longer by up to a second or half the wait, which a loaded machine adds.
        assert policy - 0.05 <= waited <= policy + max(1.0, policy / 2), (waited_seconds, policy)
    assert helpers.alerts.receive(local, timeout=1).empty  # no alert for a success


def test_more_rejections_than_max_attempts_end_in_the_catch(local, section2):
    arn, described = run(local, section2, "gave-up", rejections=6)
    assert described["status"] == "FAILED"
    assert len(helpers.executions.retries(local, arn)) == 5
    states = list(helpers.executions.history(local, arn)["state"])
    assert states[-3:] == ["Notify Failure", "Fail", "Fail"]
    alerts = helpers.alerts.receive(local, at_least=1, timeout=5)
    assert list(alerts["subject"]) == ["[ERROR] Model Training failed!"]
    assert list(alerts["message"]) == ["Error during model training!"]


def test_a_failed_job_is_caught_and_announced_exactly_once(local, section2):
    arn, described = run(local, section2, "bad-data", bad_data=True)
    assert described["status"] == "FAILED"
    failures = helpers.executions.failures(local, arn)
    assert list(failures["error"]) == ["States.TaskFailed"]  # not retried: no Retry matches it
    assert failures["reason"][0] == ("training/iris_malformed.csv, row 73, column 3: '?' is not "
                                     "a number.")
    alerts = helpers.alerts.receive(local, at_least=1, timeout=5)
    assert list(alerts["message"]) == ["Error during model training!"]
    assert helpers.alerts.receive(local, timeout=1).empty  # and nothing more arrives
    keys = helpers.data.list_objects(local, helpers.data.TRAINING_PREFIX)["object"]
    assert not any(key.endswith("iris_malformed.csv") for key in keys)  # the swap was undone


def test_the_detailed_alert_names_the_error_and_cause(local, detailed):
    arn, described = run(local, detailed, "detailed", bad_data=True)
    assert described["status"] == "FAILED"
    message = helpers.alerts.receive(local, at_least=1, timeout=5)["message"][0]
    assert message.startswith(f"Training failed in execution {described['name']}. "
                              "Error: States.TaskFailed. Cause: {")
    assert "row 73, column 3" in message
    jobs = local.client("sagemaker").list_training_jobs(NameContains=described["name"])
    assert [j["TrainingJobName"] for j in jobs["TrainingJobSummaries"]] == [
        f"sagemaker-bring-your-own-{described['name']}-0"]


def test_the_detailed_variant_retries_under_new_job_names(local, detailed):
    arn, described = run(local, detailed, "renamed", rejections=2)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["TrainingJobName"] == \
        f"sagemaker-bring-your-own-{described['name']}-2"


def test_section_2_is_the_documents_json():
    expected = json.loads((FIXTURES / "document-section2-training-retry-notify.json").read_text())
    definition = workflows.definition(workflows.training_retry_notify(workflows.Names(**DOCUMENT)))
    assert definition == expected


def test_the_detailed_variant_is_section_2_with_the_three_documented_changes():
    expected = json.loads((FIXTURES / "document-section2-training-retry-notify.json").read_text())
    training = expected["States"]["SageMakerModelTraining"]
    training["Parameters"]["TrainingJobName.$"] = (
        "States.Format('sagemaker-bring-your-own-{}-{}', $$.Execution.Name, $$.State.RetryCount)")
    training["Catch"][0]["ResultPath"] = "$.error"
    notify = expected["States"]["Notify Failure"]["Parameters"]
    del notify["Message"]
    notify["Message.$"] = ("States.Format('Training failed in execution {}. Error: {}. Cause: "
                           "{}', $$.Execution.Name, $.error.Error, $.error.Cause)")
    definition = workflows.definition(
        workflows.training_retry_notify_detailed(workflows.Names(**DOCUMENT)))
    assert definition == expected


def statuses_drawn(local, execution_arn) -> dict:
    """The data-status of each state in the execution's coloured graph."""
    import xml.etree.ElementTree as ElementTree
    svg = helpers.graph.draw_execution(local, execution_arn).svg
    return {g.get("data-state"): g.get("data-status")
            for g in ElementTree.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")
            if g.get("data-status")}


def test_the_graph_is_coloured_by_what_happened(local, section2):
    happy, _ = run(local, section2, "coloured-ok")
    assert statuses_drawn(local, happy) == {"SageMakerModelTraining": "succeeded",
                                            "Notify Failure": "not started",
                                            "Fail": "not started"}
    gave_up, _ = run(local, section2, "coloured-gave-up", rejections=6)
    assert statuses_drawn(local, gave_up) == {"SageMakerModelTraining": "caught",
                                              "Notify Failure": "succeeded", "Fail": "failed"}
    assert "SageMakerModelTraining ↻ retry ×5" in helpers.graph.draw_execution(
        local, gave_up).svg
