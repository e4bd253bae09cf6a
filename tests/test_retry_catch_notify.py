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


def test_the_detailed_alert_carries_the_jobs_failure_reason_whole(local, detailed):
    arn, described = run(local, detailed, "detailed", bad_data=True)
    assert described["status"] == "FAILED"
    job = f"sagemaker-bring-your-own-{described['name']}-0"
    message = helpers.alerts.receive(local, at_least=1, timeout=5)["message"][0]
    # The Cause (DescribeTrainingJob as a JSON string) was parsed and only FailureReason kept.
    assert message == (f"Training failed in execution {described['name']}. Error: "
                       f"States.TaskFailed. Cause: training job {job} failed: "
                       "training/iris_malformed.csv, row 73, column 3: '?' is not a number.")
    states = helpers.exercises.common.states_entered(local, arn)
    assert states[-5:] == ["Did the job run?", "Read the job's description",
                           "Keep its FailureReason", "Notify Failure", "Fail"]
    jobs = local.client("sagemaker").list_training_jobs(NameContains=described["name"])
    assert [j["TrainingJobName"] for j in jobs["TrainingJobSummaries"]] == [job]


def test_the_detailed_alert_of_a_rejected_request_carries_its_message(local, detailed):
    arn, described = run(local, detailed, "rejected", rejections=5)  # 1 try + 4 retries
    assert described["status"] == "FAILED"
    assert len(helpers.executions.retries(local, arn)) == 4
    message = helpers.alerts.receive(local, at_least=1, timeout=5)["message"][0]
    assert message.startswith(f"Training failed in execution {described['name']}. Error: "
                              "SageMaker.AmazonSageMakerException. Cause: Rate exceeded")
    assert "Read the job's description" not in helpers.exercises.common.states_entered(local, arn)


def test_the_detailed_variant_retries_under_new_job_names(local, detailed):
    arn, described = run(local, detailed, "renamed", rejections=2)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["TrainingJobName"] == \
        f"sagemaker-bring-your-own-{described['name']}-2"


def single_retry_workflow(local, name, **retry):
    """The §1 training step with one Retry for a rejected request, as its own state machine."""
    names = workflows.Names.from_aws(local)
    step = workflows.training_step(names, local)
    step.add_retry(helpers.sdk.Retry(error_equals=["SageMaker.AmazonSageMakerException"],
                                     **retry))
    return workflows.create_or_update(
        local, workflows.workflow(name, helpers.sdk.steps.Chain([step]), names, local))


def test_max_delay_seconds_caps_the_growing_wait(local):
    # IntervalSeconds 1, BackoffRate 3: 1, 3, 9 s; MaxDelaySeconds 2 makes them 1, 2, 2.
    # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    arn = single_retry_workflow(local, "test-max-delay", interval_seconds=1, backoff_rate=3.0,
                                max_attempts=3, max_delay_seconds=2)
    arn, described = run(local, arn, "capped", rejections=3)
    assert described["status"] == "SUCCEEDED"
    waits = list(helpers.executions.retries(local, arn)["waited (s)"])
    for waited, capped in zip(waits, [1.0, 2.0, 2.0]):
        assert capped - 0.05 <= waited <= capped + 0.35, waits


def test_full_jitter_waits_a_random_part_of_the_computed_wait(local):
    # JitterStrategy FULL: a random wait between 0 and the computed one (2, 3, 3 here). Four
    # waits all within 10% of their maximum would happen by chance once in 10,000 runs.
    arn = single_retry_workflow(local, "test-jitter", interval_seconds=2, backoff_rate=1.5,
                                max_attempts=4, max_delay_seconds=3, jitter_strategy="FULL")
    arn, described = run(local, arn, "jittered", rejections=4)
    assert described["status"] == "SUCCEEDED"
    waits = list(helpers.executions.retries(local, arn)["waited (s)"])
    computed = [2.0, 3.0, 3.0, 3.0]
    assert all(waited <= most + 0.35 for waited, most in zip(waits, computed)), waits
    assert any(waited < 0.9 * most for waited, most in zip(waits, computed)), waits


def test_a_retry_after_the_job_was_created_collides_with_its_own_name(local, section2):
    """The trap $$.State.RetryCount avoids: §2's job name retried after its job exists."""
    names = workflows.Names.from_aws(local)
    step = workflows.training_step(names, local)  # the document's name: no RetryCount
    step.add_retry(helpers.sdk.steps.Retry(**workflows.RETRY_SAGEMAKER_EXCEPTION))
    step.add_retry(helpers.sdk.steps.Retry(error_equals=["States.TaskFailed"],
                                           interval_seconds=1, max_attempts=1))
    arn = workflows.create_or_update(
        local, workflows.workflow("test-same-name", helpers.sdk.steps.Chain([step]), names, local))
    arn, described = run(local, arn, "same-name", bad_data=True)
    assert described["status"] == "FAILED"
    failures = helpers.executions.failures(local, arn)
    # The job fails; the retry's CreateTrainingJob is rejected for the name it reuses, and that
    # rejection is SageMaker.AmazonSageMakerException, retried 5 times in vain.
    assert list(failures["error"]) == ["States.TaskFailed"] + [
        "SageMaker.AmazonSageMakerException"] * 6
    assert all("must be unique" in reason for reason in failures["reason"][1:])
    jobs = local.client("sagemaker").list_training_jobs(NameContains=described["name"])
    assert len(jobs["TrainingJobSummaries"]) == 1


def test_section_2_is_the_documents_json():
    expected = json.loads((FIXTURES / "document-section2-training-retry-notify.json").read_text())
    definition = workflows.definition(workflows.training_retry_notify(workflows.Names(**DOCUMENT)))
    assert definition == expected


def test_the_detailed_variant_is_section_2_with_the_documented_changes():
    expected = json.loads((FIXTURES / "document-section2-training-retry-notify.json").read_text())
    states = expected["States"]
    training = states["SageMakerModelTraining"]
    training["Parameters"]["TrainingJobName.$"] = (
        "States.Format('sagemaker-bring-your-own-{}-{}', $$.Execution.Name, $$.State.RetryCount)")
    training["Retry"] = [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"],
                          "IntervalSeconds": 1, "MaxAttempts": 4, "BackoffRate": 2.0,
                          "MaxDelaySeconds": 4, "JitterStrategy": "FULL"}]
    training["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                          "Next": "Did the job run?"}]
    states["Did the job run?"] = {
        "Type": "Choice", "Default": "Notify Failure",
        "Choices": [{"Variable": "$.error.Error", "StringEquals": "States.TaskFailed",
                     "Next": "Read the job's description"}]}
    states["Read the job's description"] = {
        "Type": "Pass", "ResultPath": "$.error", "Next": "Keep its FailureReason",
        "Parameters": {"Error.$": "$.error.Error", "Job.$": "States.StringToJson($.error.Cause)"}}
    states["Keep its FailureReason"] = {
        "Type": "Pass", "ResultPath": "$.error", "Next": "Notify Failure",
        "Parameters": {"Error.$": "$.error.Error", "Cause.$": (
            "States.Format('training job {} failed: {}', $.error.Job.TrainingJobName, "
            "$.error.Job.FailureReason)")}}
    notify = states["Notify Failure"]["Parameters"]
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
