"""Fault injection: bounded in count, scope and time, and always cleared."""
import time

import pytest
from botocore.exceptions import ClientError

from local_aws import faults
from tests.conftest import training_request, wait_for_job


def test_a_fault_rejects_exactly_n_calls_with_the_aws_error(aws, server):
    name = f"faulty-{time.time_ns()}"
    with faults.injected(server.url, "CreateTrainingJob", "ThrottlingException", times=2,
                         name_contains=name) as fault:
        for _ in range(2):
            with pytest.raises(ClientError) as error:
                aws("sagemaker").create_training_job(**training_request(aws, name))
            assert error.value.response["Error"]["Code"] == "ThrottlingException"
            assert error.value.response["Error"]["Message"] == "Rate exceeded"
        aws("sagemaker").create_training_job(**training_request(aws, name))  # third call passes
    assert fault["used"] == 2
    assert faults.list_faults(server.url) == []
    wait_for_job(aws, name)


def test_a_scoped_fault_does_not_touch_other_names(aws, server):
    with faults.injected(server.url, "CreateTrainingJob", "ThrottlingException", times=5,
                         name_contains="only-this-execution") as fault:
        other = f"other-{time.time_ns()}"
        aws("sagemaker").create_training_job(**training_request(aws, other))
    assert fault["used"] == 0
    wait_for_job(aws, other)


def test_a_fault_is_cleared_even_when_the_block_fails(server):
    with pytest.raises(RuntimeError):
        with faults.injected(server.url, "CreateTrainingJob", "ThrottlingException", times=3):
            raise RuntimeError("the learner's cell broke")
    assert faults.list_faults(server.url) == []


def test_a_forgotten_fault_expires():
    injector = faults.FaultInjector()
    injector.arm("CreateTrainingJob", "ThrottlingException", times=3, ttl_seconds=0.2)
    assert len(injector.active()) == 1
    time.sleep(0.3)
    assert injector.active() == []
    assert injector.take("CreateTrainingJob", {"TrainingJobName": "x"}) is None


@pytest.mark.parametrize("arguments, message", [
    (dict(operation="DeleteEverything", error="ThrottlingException", times=1), "operation must"),
    (dict(operation="CreateTrainingJob", error="Teapot", times=1), "error must be one of"),
    (dict(operation="CreateTrainingJob", error="ThrottlingException", times=0), "times must"),
    (dict(operation="CreateTrainingJob", error="ThrottlingException", times=101), "times must"),
    (dict(operation="CreateTrainingJob", error="ThrottlingException", times=1,
          ttl_seconds=86400), "ttl_seconds"),
])
def test_bad_faults_are_refused_with_a_reason(server, arguments, message):
    with pytest.raises(faults.FaultError, match=message):
        faults.arm(server.url, **arguments)
    assert faults.list_faults(server.url) == []


@pytest.mark.parametrize("error", sorted(faults.KNOWN_ERRORS))
@pytest.mark.parametrize("operation", ["CreateTrainingJob", "DescribeTrainingJob",
                                       "StopTrainingJob"])
def test_every_operation_and_error_the_readme_lists_is_injected(aws, server, operation, error):
    """README: "Operations: CreateTrainingJob, DescribeTrainingJob, StopTrainingJob; errors:
    ThrottlingException, ResourceLimitExceeded, InternalFailure, ServiceUnavailable". The next
    call after the fault is the operation's own answer (here a cheap ValidationException)."""
    name = f"fault-{operation.lower()[:8]}-{time.time_ns()}"
    sagemaker = aws("sagemaker")  # no client-side retries: each call reaches the server once
    call = {
        "CreateTrainingJob": lambda: sagemaker.create_training_job(**training_request(
            aws, name, RoleArn="arn:aws:iam::123456789012:role/no-such-role")),
        "DescribeTrainingJob": lambda: sagemaker.describe_training_job(TrainingJobName=name),
        "StopTrainingJob": lambda: sagemaker.stop_training_job(TrainingJobName=name),
    }[operation]
    status, message = faults.KNOWN_ERRORS[error]
    with faults.injected(server.url, operation, error, times=1, name_contains=name) as fault:
        with pytest.raises(ClientError) as injected:
            call()
        with pytest.raises(ClientError) as after:
            call()
    response = injected.value.response
    assert (response["Error"]["Code"], response["Error"]["Message"]) == (error, message)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert after.value.response["Error"]["Code"] == "ValidationException"
    assert fault["used"] == 1
    assert faults.list_faults(server.url) == []
