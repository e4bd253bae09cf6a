"""Every notebook runs on a fresh kernel against a freshly started local AWS, by itself; the
committed notebooks are clean and follow the series' shape."""
import json
import re

import nbformat
import psutil
import pytest

from series_tools import series
from local_aws import control, faults
from tests.test_exercises import check_executed_exercises

NOTEBOOKS = series.notebooks()


def test_the_series_is_numbered_in_order():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers[:8] == list(range(8)), "00-07 follow the document"
    assert numbers[:-1] == list(range(len(numbers) - 1)), "no gaps, no duplicates"
    assert numbers[-1] == 99, "clean-up comes last"


@pytest.fixture
def fresh_local_aws(tmp_path, monkeypatch):
    state_dir = tmp_path / "state"
    monkeypatch.setenv("TUTORIAL_BACKEND", "local")
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(state_dir))  # the kernel inherits it
    yield state_dir
    running = control.status(state_dir)
    assert running is not None, "the notebook should have started the local AWS"
    assert faults.list_faults(running.url) == [], "the notebook left a fault injection armed"
    info = control.stop(state_dir)
    assert info is not None, "the notebook should have started the local AWS"
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(state_dir) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == [], "processes left running after the local AWS stopped"


def outputs(notebook) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


EXPECTED_OUTPUT = {
    "00": ["u-SageMakerExecutionRole", "u-StepFunctionsExecutionWithSageMakerTask", "existed"],
    "01": ["2. serve: GET", "-> 200", "sagemaker-bring-your-own"],
    "02": ["iris.csv", "sagemaker_bring_your_own/input/data/train/"],
    "03": ["'SUCCEEDED'", "TaskSucceeded", "model.tar.gz", "train_accuracy: ",
           "Saved the model to /opt/ml/model/"],
    "04": ["('SUCCEEDED', 3)", "('FAILED', 6)", "Error during model training!",
           "row 73, column 3: '?' is not a number.", "Training failed in execution detailed-",
           "SageMakerModelTraining: caught (retried 5x)",
           # the improved alert, printed whole, carries the job's FailureReason
           "failed: training/iris_malformed.csv, row 73, column 3: '?' is not a number."],
    "05": ["- ModelPrefix: the job name", "- AlertTopicArn: missing", "wine-tree-run-",
           "$$.Execution.Input['TrainingImage']", '"ModelPrefix": "iris-tree",'],
    "06": ["validation:accuracy", "-set-3", "started (s)", "MapIterationFailed",
           "'States.TaskFailed')", "'Completed')"],
    "07": ["[OK] Model deployed", "accuracy on 45 held-out rows", "ModelError 415",
           "Find the endpoint\nUpdate endpoint\n", "sagemaker-byo-endpoint: deleted",
           'Endpoint not found?\nCreate endpoint\n', "Wait for the endpoint"],
    "99": ["Nothing of the series' is left.", "What exists: nothing."],
    "12": ["'SUCCEEDED'", "Training failed in execution jsonata-bad-", "row 73, column 3",
           "'Create endpoint'", "ExecutionRedriven", "-1-0'", "'redriveStatus': 'REDRIVABLE'"],
}
EXPECTED_OUTPUT["08"] = ["'SUCCEEDED'", "accuracy on 45 held-out rows", "iris.csv.out",
                         "batch-transform-bad/rows.csv, record 2: "]
EXPECTED_OUTPUT["09"] = ["'SUCCEEDED'", "'FAILED'", "multiclass_classification_metrics",
                         "[WARN] Model not deployed", "'Create endpoint'",
                         "sagemaker-byo-endpoint: deleted"]
EXPECTED_OUTPUT["11"] = ["'SUCCEEDED'", "SUCCEEDED_0.json", "FAILED_0.json", "States.TaskFailed",
                         "States.ExceedToleratedFailureThreshold"]
EXPECTED_OUTPUT["10"] = ["'SUCCEEDED'", "BestTrainingJob", "training job(s) of a tuning job",
                         "byo-model-tuned-run-", "TrainingJobStatusCounters"]


# The workflows each notebook constructs in its own cells. After the notebook ran, the state
# machine it created must be exactly the reference construction (helpers.workflows.reference):
# the notebook builds, the helper is the answer key.
REFERENCE_WORKFLOWS = {
    "03": ["training"],
    "04": ["training-retry-notify", "training-retry-notify-detailed"],
    "05": ["training-parameters"],
    "06": ["train-multiple"],
    "07": ["train-and-host"],
    "12": ["training-retry-notify-jsonata", "training-redrivable-jsonata"],
}
REFERENCE_WORKFLOWS["08"] = ["batch-transform"]
REFERENCE_WORKFLOWS["09"] = ["evaluate-before-deploy"]
REFERENCE_WORKFLOWS["11"] = ["many-models"]
REFERENCE_WORKFLOWS["10"] = ["tuning"]


def assert_constructions_match_references(number: str):
    import helpers
    from helpers import workflows
    aws = helpers.connect()
    names = workflows.Names.from_aws(aws)
    sfn = aws.client("stepfunctions")
    for name in REFERENCE_WORKFLOWS.get(number, []):
        reference = workflows.reference(name, names, aws)
        created = sfn.describe_state_machine(
            stateMachineArn=workflows.state_machine_arn(aws, reference))
        assert json.loads(created["definition"]) == workflows.definition(reference), (
            f"notebook {number}: the state machine {name!r} it built differs from the reference")


@pytest.mark.long
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_by_itself(path, fresh_local_aws, tmp_path):
    result = series.execute(path, tmp_path / "executed", timeout=300)
    assert result["status"] == "ok", result.get("error")
    executed = nbformat.read(tmp_path / "executed" / path.name, as_version=4)
    text = outputs(executed)
    for expected in EXPECTED_OUTPUT.get(path.name[:2], []):
        assert expected in text, f"{path.name}: {expected!r} not in its outputs"
    check_executed_exercises(executed)
    assert_constructions_match_references(path.name[:2])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_is_clean_and_shaped_like_the_series(path):
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    assert re.match(rf"# {path.name[:2]} · \S", markdown[0])
    for heading in ("## Where this fits", "## Setup", "## Recap", "## Exercises",
                    "## Clean up", "## Next"):
        assert any(m.startswith(heading) or f"\n{heading}" in m for m in markdown), heading
    assert "".join(code[0]["source"]).startswith("import helpers\n\naws = helpers.connect()")
    for cell in cells:
        for line in "".join(cell["source"]).splitlines():
            assert len(line) <= 100, f"{path.name}: line too long: {line}"
    source = json.dumps(notebook)
    assert not re.search(r"\b\d{12}\b", source), "an account id is written in the notebook"
    assert "pip install" not in source
