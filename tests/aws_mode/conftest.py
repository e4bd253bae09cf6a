"""The AWS backend's code paths against moto in-process: no endpoint override, fake credentials,
nothing leaves the machine. These tests run in an interpreter of their own (tests/test_aws_mode.py
starts it): mock_aws resets moto's backends, which the main session's in-process local AWS
shares."""
import pytest
from moto import mock_aws

import helpers


@pytest.fixture
def aws_backend(monkeypatch, tmp_path):
    """helpers.connect() on the AWS backend, inside a fresh mock_aws."""
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    monkeypatch.setenv("TUTORIAL_REGION", "eu-west-1")
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path / "unused"))
    for variable in ("TUTORIAL_BUCKET", "TUTORIAL_TRAINING_INSTANCE_TYPE",
                     "TUTORIAL_ENDPOINT_INSTANCE_TYPE", "TUTORIAL_POLICIES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # fake: mock_aws answers every call
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield helpers.connect()
