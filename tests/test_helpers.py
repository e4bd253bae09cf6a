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


def test_the_sdks_retry_takes_max_delay_and_jitter_and_keeps_refusing_unknown_fields():
    from helpers import sdk
    retry = sdk.Retry(error_equals=["E"], interval_seconds=1, max_delay_seconds=4,
                      jitter_strategy="FULL")
    assert retry.to_dict() == {"ErrorEquals": ["E"], "IntervalSeconds": 1,
                               "MaxDelaySeconds": 4, "JitterStrategy": "FULL"}
    with pytest.raises(TypeError, match="not supported"):
        sdk.Retry(error_equals=["E"], max_delay=4)
    with pytest.raises(TypeError, match="not supported"):  # why the subclass exists
        sdk.steps.Retry(error_equals=["E"], max_delay_seconds=4)


def test_collapsed_folds_a_long_value_under_its_summary():
    from helpers.display import Collapsed
    folded = Collapsed({"a": 1, "b": [1, 2]}, "The definition")
    assert folded.summary == "The definition (7 lines)"
    assert folded._repr_html_().startswith("<details><summary>The definition (7 lines)</summary>")
    assert repr(folded).startswith("The definition (7 lines):\n{\n  \"a\": 1")


def test_a_training_job_is_cut_to_the_fields_that_matter():
    from helpers.executions import training_job_essentials
    job = {"TrainingJobName": "j", "TrainingJobStatus": "Failed", "FailureReason": "bad row",
           "RoleArn": "arn", "SecondaryStatusTransitions": [], "HyperParameters": {}}
    assert training_job_essentials(job) == {"TrainingJobName": "j", "TrainingJobStatus": "Failed",
                                            "FailureReason": "bad row", "HyperParameters": {}}


def test_a_history_detail_is_one_short_line():
    from helpers.executions import DETAIL_CHARACTERS, _detail
    cause = "Rate exceeded (Service: AmazonSageMaker;\n Status Code: 400; " + "x" * 200
    detail = _detail({"taskFailedEventDetails": {"error": "SageMaker.E", "cause": cause}})
    assert len(detail) == DETAIL_CHARACTERS and detail.endswith("…") and "\n" not in detail
    assert _detail({"taskFailedEventDetails": {"error": "E", "cause": "short"}}) == "E: short"


def test_a_program_excerpt_is_the_named_functions_with_where_they_are():
    from helpers import container
    excerpt = container.program_excerpt("predictor.py", "ping")
    first, *body = excerpt.splitlines()
    assert first.startswith("# container/decision_trees/predictor.py, lines ")
    assert body[0] == '@app.route("/ping", methods=["GET"])' and body[1] == "def ping():"
    assert "def invocations" not in excerpt
    with pytest.raises(ValueError, match="no top-level function 'nope'"):
        container.program_excerpt("train", "nope")


def test_the_settings_table_shows_no_path_of_this_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path))
    assert dict(config.settings().rows())["state_dir"] == "(TUTORIAL_STATE_DIR)"
    monkeypatch.delenv("TUTORIAL_STATE_DIR")
    assert dict(config.settings().rows())["state_dir"] == ".local-aws"
