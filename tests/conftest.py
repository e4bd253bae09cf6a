"""Shared fixtures: an in-process local AWS (fast, for backend semantics) and helpers to build
small test images and state machines on it."""
from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from local_aws.images import local_image_manifest
from local_aws.server import LocalAwsServer

REPO = Path(__file__).resolve().parents[1]
# tests/aws_mode runs in an interpreter of its own (see tests/test_aws_mode.py).
collect_ignore = [] if os.environ.get("TUTORIAL_AWS_MODE_TESTS") else ["aws_mode"]
REGION = "us-east-1"
BUCKET = "test-bucket-local-aws"


def pytest_collection_modifyitems(items):
    """Tests marked `long` (whole notebooks, the series, shared expensive set-up) first: started
    last, one of them is a tail that one worker runs while the other idles. The sort is stable, so
    tests that must run in order keep it."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True, scope="session")
def no_real_aws():
    """No test may reach AWS: fake credentials, no profile."""
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION=REGION)
    os.environ.pop("AWS_PROFILE", None)


def worker_id() -> str:
    """pytest-xdist's name for this worker process ("gw0", "gw1"...), "main" without xdist. Each
    worker is a process with its own session fixtures: its own local AWS, state and temporary
    folders (tmp_path_factory is per worker too), so tests on different workers share nothing."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    local = LocalAwsServer(state_dir=tmp_path_factory.mktemp(f"local-aws-{worker_id()}"),
                           max_parallel_jobs=2).start()
    yield local
    local.stop()


class Clients:
    def __init__(self, url, credentials):
        # Signed with the server's own key pair: it refuses every other (local_aws/auth.py).
        self._session = boto3.Session(region_name=REGION, **credentials.for_boto3())
        self._url = url
        self._cache = {}

    def __call__(self, service):
        if service not in self._cache:
            # No client-side retries: boto3 would otherwise retry injected throttling itself.
            # No host prefix: see helpers.aws.LOCAL_CLIENT_CONFIG.
            self._cache[service] = self._session.client(
                service, endpoint_url=self._url, config=Config(retries={"total_max_attempts": 1},
                                                               inject_host_prefix=False))
        return self._cache[service]


@pytest.fixture(scope="session")
def aws(server):
    """boto3 clients of the in-process local AWS, with a role, a bucket and the real image."""
    clients = Clients(server.url, server.credentials)
    account = clients("sts").get_caller_identity()["Account"]
    for role, service in (("sm-role", "sagemaker"), ("sfn-role", "states")):
        clients("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))
    clients("s3").create_bucket(Bucket=BUCKET)
    clients.account = account
    clients.role_arn = f"arn:aws:iam::{account}:role/sm-role"
    clients.sfn_role_arn = f"arn:aws:iam::{account}:role/sfn-role"
    clients.image = register_image(clients, "byo", REPO / "container" / "decision_trees")
    clients("s3").upload_file(str(REPO / "data" / "iris.csv"), BUCKET, "iris/train/iris.csv")
    return clients


def series_aws(server, session: boto3.Session | None = None):
    """The helpers' view of the in-process local AWS (through `session`, if given), with the
    series' prerequisites, image, data and an empty alert inbox."""
    import helpers
    from helpers import config
    from helpers.aws import Aws
    settings = config.Settings(backend="local", region=REGION, bucket=None,
                               topic="test-alerts", local_port=0, state_dir=server.state_dir)
    aws = Aws(settings, session or boto3.Session(region_name=REGION,
                                                 **server.credentials.for_boto3()),
              server.url)
    helpers.rebuild(aws)
    helpers.alerts.subscribe_queue(aws)
    helpers.alerts.receive(aws)  # each test starts with an empty alert inbox
    return aws


@pytest.fixture
def local(server):
    """`series_aws`, re-created for each test: a clean-up test may have deleted the series'
    resources, and an earlier test's alerts must not be read as this one's."""
    return series_aws(server)


def run_workflow(aws, workflow, execution_input=None, bad_data=False) -> str:
    """Create or update a series workflow, run it once (with iris_malformed.csv added to the
    training data if `bad_data`), wait for the end; returns the execution's ARN."""
    import contextlib

    import helpers
    arn = helpers.workflows.create_or_update(aws, workflow)
    with (helpers.data.temporarily_added(aws, "iris_malformed.csv") if bad_data
          else contextlib.nullcontext()):
        execution = helpers.workflows.start(aws, arn, execution_input=execution_input)
        helpers.executions.wait(aws, execution, timeout=120)
    return execution


def register_image(clients, repository: str, program_dir: Path) -> str:
    ecr = clients("ecr")
    try:
        ecr.create_repository(repositoryName=repository)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    try:
        ecr.put_image(repositoryName=repository, imageTag="latest",
                      imageManifest=local_image_manifest(program_dir))
    except ecr.exceptions.ImageAlreadyExistsException:
        pass
    account = clients("sts").get_caller_identity()["Account"]
    return f"{account}.dkr.ecr.{REGION}.amazonaws.com/{repository}"


@pytest.fixture
def script_image(aws, tmp_path):
    """Make an image whose `train` is the given shell script; returns its URI."""
    def make(script: str) -> str:
        program_dir = tmp_path / "programs"
        program_dir.mkdir(exist_ok=True)
        train = program_dir / "train"
        train.write_text("#!/bin/sh\n" + script)
        train.chmod(train.stat().st_mode | stat.S_IEXEC)
        return register_image(aws, f"script-{tmp_path.name.lower()[-40:]}", program_dir)
    return make


def training_request(aws, name: str, image: str | None = None, prefix: str = "iris/train/",
                     **overrides) -> dict:
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image or aws.image,
                                   "TrainingInputMode": "File"},
        "RoleArn": aws.role_arn,
        "HyperParameters": {"max_leaf_nodes": "5"},
        "InputDataConfig": [{"ChannelName": "training", "ContentType": "text/csv",
                             "DataSource": {"S3DataSource": {
                                 "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}",
                                 "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    request.update(overrides)
    return request


def wait_for_job(aws, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = aws("sagemaker").describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"training job {name} did not end within {timeout} s")


def run_state_machine(aws, definition: dict, execution_input: dict | None = None,
                      name: str | None = None, timeout: float = 90) -> tuple[dict, list]:
    """Create a state machine, run it once, wait; returns (describe_execution, history events)."""
    sfn = aws("stepfunctions")
    unique = f"t{time.time_ns()}"
    arn = sfn.create_state_machine(name=f"sm-{unique}", definition=json.dumps(definition),
                                   roleArn=aws.sfn_role_arn)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=name or unique,
                                    input=json.dumps(execution_input or {}))["executionArn"]
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not end in time"
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return described, events
