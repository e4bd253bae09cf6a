"""Local endpoints through boto3: ping-driven status, invocation, model errors, updates without a
failed request, rollback, delete."""
import threading
import time

import pytest
from botocore.exceptions import ClientError

from helpers import workflows
from local_aws import faults
from tests.conftest import REGION, run_state_machine, training_request, wait_for_job


def wait_for_endpoint(aws, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = aws("sagemaker").describe_endpoint(EndpointName=name)
        if endpoint["EndpointStatus"] not in ("Creating", "Updating"):
            return endpoint
        time.sleep(0.05)
    raise AssertionError(f"endpoint {name} still {endpoint['EndpointStatus']}")


@pytest.fixture(scope="module")
def configs(aws):
    """Two trained models, each with an endpoint configuration: {leaves: config name}."""
    sagemaker, names = aws("sagemaker"), {}
    for leaves in ("3", "8"):
        job = f"hosted-{leaves}-{time.time_ns()}"
        sagemaker.create_training_job(**training_request(
            aws, job, HyperParameters={"max_leaf_nodes": leaves}))
        artifacts = wait_for_job(aws, job)["ModelArtifacts"]["S3ModelArtifacts"]
        sagemaker.create_model(ModelName=job, ExecutionRoleArn=aws.role_arn, PrimaryContainer={
            "Image": aws.image, "ModelDataUrl": artifacts})
        sagemaker.create_endpoint_config(EndpointConfigName=job, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": job, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        names[leaves] = job
    return names


@pytest.fixture
def endpoint(aws, configs):
    name = f"ep-{time.time_ns()}"
    aws("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=configs["3"])
    yield name
    try:
        aws("sagemaker").delete_endpoint(EndpointName=name)
    except ClientError:
        pass


def invoke(aws, name, body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", content_type="text/csv"):
    return aws("sagemaker-runtime").invoke_endpoint(EndpointName=name, ContentType=content_type,
                                                    Body=body)


def test_creating_until_ping_answers_then_in_service(aws, endpoint):
    assert aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == \
        "Creating"
    described = wait_for_endpoint(aws, endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    response = invoke(aws, endpoint)
    assert response["Body"].read() == b"setosa\nvirginica\n"
    assert response["ContentType"].startswith("text/csv")
    assert response["InvokedProductionVariant"] == "AllTraffic"


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"{}", "application/json", 415, "only supports text/csv"),
    (b"1,2\n", "text/csv", 400, "needs 4 features, got 2"),
    (b"", "text/csv", 400, "no rows"),
    (b"\xff\xfe\x00", "text/csv", 400, "not UTF-8"),
])
def test_container_errors_come_back_as_model_error(aws, endpoint, body, content_type, status,
                                                   message):
    wait_for_endpoint(aws, endpoint)
    with pytest.raises(ClientError) as error:
        invoke(aws, endpoint, body, content_type)
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error.value.response["OriginalStatusCode"] == status
    assert message in error.value.response["OriginalMessage"]
    assert invoke(aws, endpoint)["Body"].read() == b"setosa\nvirginica\n"  # still serving


def test_an_unknown_endpoint_and_an_oversized_payload_are_rejected(aws, endpoint):
    with pytest.raises(ClientError, match="Endpoint nowhere of account .* not found"):
        invoke(aws, "nowhere")
    wait_for_endpoint(aws, endpoint)
    with pytest.raises(ClientError, match="over the 6291456 byte limit"):
        invoke(aws, endpoint, b"1" * (6 * 1024 * 1024 + 1))


def test_update_switches_model_without_a_failed_request(aws, endpoint, configs):
    wait_for_endpoint(aws, endpoint)
    failures, answered, stop = [], [0], threading.Event()

    def keep_asking():
        while not stop.is_set():
            try:
                invoke(aws, endpoint)["Body"].read()
                answered[0] += 1
            except Exception as error:  # noqa: BLE001 - any failure is what we count
                failures.append(repr(error))

    threads = [threading.Thread(target=keep_asking) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    aws("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName=configs["8"])
    assert aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == \
        "Updating"
    described = wait_for_endpoint(aws, endpoint)
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == configs["8"]
    assert failures == [] and answered[0] > 20


def config_with_serve(aws, tmp_path, script_image, model_data_url, serve_script) -> str:
    """A model and endpoint configuration whose image's `serve` is the given shell script."""
    image = script_image("exit 0\n")
    serve = tmp_path / "programs" / "serve"
    serve.write_text("#!/bin/sh\n" + serve_script)
    serve.chmod(0o755)
    name = f"serve-script-{time.time_ns()}"
    aws("sagemaker").create_model(ModelName=name, ExecutionRoleArn=aws.role_arn,
                                  PrimaryContainer={"Image": image,
                                                    "ModelDataUrl": model_data_url})
    aws("sagemaker").create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    return name


def model_data_url(aws, config_name):
    model = aws("sagemaker").describe_model(ModelName=config_name)
    return model["PrimaryContainer"]["ModelDataUrl"]


def test_a_container_that_never_pings_fails_the_endpoint(aws, tmp_path, script_image, configs):
    name = config_with_serve(aws, tmp_path, script_image, model_data_url(aws, configs["3"]),
                             "echo 'cannot start' >&2\nexit 3\n")
    aws("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_endpoint(aws, name)
    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "exited with code 3" in described["FailureReason"]
    aws("sagemaker").delete_endpoint(EndpointName=name)


def test_a_failed_update_keeps_the_old_model_in_service(aws, endpoint, configs, tmp_path,
                                                        script_image):
    wait_for_endpoint(aws, endpoint)
    name = config_with_serve(aws, tmp_path, script_image, model_data_url(aws, configs["3"]),
                             "exit 1\n")
    aws("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
    described = wait_for_endpoint(aws, endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == configs["3"]
    assert "did not pass the ping health check" in described["FailureReason"]
    assert invoke(aws, endpoint)["Body"].read() == b"setosa\nvirginica\n"


def test_delete_stops_the_container(aws, server, endpoint):
    wait_for_endpoint(aws, endpoint)
    serving = server.hosting.running_programs()
    aws("sagemaker").delete_endpoint(EndpointName=endpoint)
    assert server.hosting.running_programs() == serving - 1
    with pytest.raises(ClientError, match="not found"):
        invoke(aws, endpoint)
    assert endpoint not in [e["EndpointName"] for e in
                            aws("sagemaker").list_endpoints()["Endpoints"]]


def test_duplicates_and_missing_references_are_rejected(aws, configs, endpoint):
    sagemaker = aws("sagemaker")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=configs["3"])
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.create_endpoint(EndpointName="other", EndpointConfigName="no-such-config")
    with pytest.raises(ClientError, match="Could not find model"):
        sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "no-such-model",
            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    wait_for_endpoint(aws, endpoint)


def test_a_burst_of_500_requests_from_several_threads(aws, endpoint):
    wait_for_endpoint(aws, endpoint)
    failures, answers, lock = [], [], threading.Lock()

    def ask(count):
        for _ in range(count):
            try:
                body = invoke(aws, endpoint)["Body"].read()
                with lock:
                    answers.append(body)
            except Exception as error:  # noqa: BLE001 - any failure is what we count
                with lock:
                    failures.append(repr(error))

    threads = [threading.Thread(target=ask, args=(100,)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(answers) == 500 and set(answers) == {b"setosa\nvirginica\n"}
    assert invoke(aws, endpoint)["Body"].read() == b"setosa\nvirginica\n"  # still serving


# What DescribeEndpoint answers for a missing endpoint, and how Step Functions' AWS SDK
# integration reports it: `<Service>.<Error>` (the local AWS: SageMaker.ValidationException,
# see moto_hooks/stepfunctions.py), the message plus "(Service: SageMaker, Status Code: ...)" as
# Cause (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
# §5's workflow routes on that Cause (helpers.workflows.ENDPOINT_NOT_FOUND_CAUSE).
DESCRIBE_ENDPOINT = {"StartAt": "Find", "States": {"Find": {
    "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
    "Parameters": {"EndpointName.$": "$.name"}, "End": True}}}


def test_describe_endpoint_of_a_missing_endpoint_names_its_arn(aws):
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").describe_endpoint(EndpointName="no-such-endpoint")
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == ('Could not find endpoint "arn:aws:sagemaker:'
                                f'{REGION}:{aws.account}:endpoint/no-such-endpoint".')


def test_describe_endpoint_checks_the_name_before_looking_it_up(aws):
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").describe_endpoint(EndpointName="not_a_valid_name")
    message = raised.value.response["Error"]["Message"]
    assert "failed to satisfy constraint" in message and "Could not find" not in message


def test_a_missing_endpoint_through_step_functions(aws):
    described, events = run_state_machine(aws, DESCRIBE_ENDPOINT, {"name": "no-such-endpoint"})
    assert described["status"] == "FAILED"
    failed = next(e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed")
    assert failed["error"] in workflows.ENDPOINT_LOOKUP_ERRORS
    assert failed["cause"].startswith('Could not find endpoint "arn:aws:sagemaker:')
    assert "(Service: SageMaker, Status Code: 400, Request ID: " in failed["cause"]


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_other_lookup_errors_never_have_the_not_found_cause(aws, server, endpoint, code):
    with faults.injected(server.url, "DescribeEndpoint", code, times=1, name_contains=endpoint):
        described, events = run_state_machine(aws, DESCRIBE_ENDPOINT, {"name": endpoint})
    assert described["status"] == "FAILED"
    failed = next(e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed")
    assert failed["error"] == "SageMaker.SageMakerException"  # undeclared: the same name
    assert not failed["cause"].startswith("Could not find endpoint")
    wait_for_endpoint(aws, endpoint)
