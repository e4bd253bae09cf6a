"""Units of the helpers: configuration, definitions, the command line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config, workflows

FIXTURES = Path(__file__).parent / "fixtures"
DOCUMENT = dict(account_id="305326993135", region="ap-southeast-1", bucket="temp-305326993135",
                topic="whitespace_alerts")


def test_settings_defaults(monkeypatch):
    for name in ("TUTORIAL_BACKEND", "TUTORIAL_REGION", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "TUTORIAL_BUCKET", "TUTORIAL_LOCAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    current = config.settings()
    assert (current.backend, current.region, current.bucket, current.local_port) == (
        "local", "us-east-1", None, 0)


@pytest.mark.parametrize("name, value, message", [
    ("TUTORIAL_BACKEND", "azure", "TUTORIAL_BACKEND must be one of local, aws"),
    ("TUTORIAL_LOCAL_PORT", "http", "TUTORIAL_LOCAL_PORT must be a port number"),
])
def test_bad_settings_say_what_is_wrong(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=message):
        config.settings()


def test_the_training_workflow_is_the_documents_section_1():
    names = workflows.Names(**DOCUMENT)
    expected = json.loads((FIXTURES / "document-section1-training.json").read_text())
    assert workflows.definition(workflows.training(names)) == expected


def test_definitions_parse_as_asl():
    from local_aws import parse_definition
    for name in workflows.BUILDERS:
        definition = workflows.definition(workflows.build(name, workflows.Names(**DOCUMENT)))
        program = parse_definition(json.dumps(definition))
        assert program.start_at.start_at_name == definition["StartAt"]


@pytest.mark.parametrize("workflow, fixture", [
    ("training", "document-section1-training.json"),
    ("training-retry-notify", "document-section2-training-retry-notify.json"),
])
def test_cli_asl_with_the_documents_names(workflow, fixture):
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "asl", workflow, "--account", DOCUMENT["account_id"],
         "--region", DOCUMENT["region"], "--bucket", DOCUMENT["bucket"], "--topic",
         DOCUMENT["topic"]], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == json.loads((FIXTURES / fixture).read_text())


def test_cli_asl_unknown_workflow():
    result = subprocess.run([sys.executable, "-m", "helpers", "asl", "nope", "--account", "1",
                             "--region", "r", "--bucket", "b", "--topic", "t"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "unknown workflow 'nope'; one of: " in result.stdout
    assert all(name in result.stdout for name in workflows.BUILDERS)


def test_execution_names_leave_room_in_the_job_name():
    name = workflows.new_execution_name()
    assert len(f"{workflows.TRAINING_JOB_PREFIX}-{name}") <= 63
    assert name != workflows.new_execution_name()
