"""The container's programs against SageMaker's contract, run without Docker."""
import tempfile

import pytest

from helpers import container


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    opt_ml = tmp_path_factory.mktemp("opt_ml")
    result = container.local_train(opt_ml, container.DATA_DIR / "iris.csv",
                                   {"max_leaf_nodes": "3"})
    assert result.returncode == 0, result.stdout + result.stderr
    return opt_ml, result


def test_train_reads_string_hyperparameters_and_writes_the_model(trained):
    opt_ml, result = trained
    assert "Hyperparameters: {'max_leaf_nodes': 3}" in result.stdout
    assert (opt_ml / "model" / "decision-tree-model.pkl").is_file()
    assert not (opt_ml / "output" / "failure").exists()


@pytest.mark.parametrize("content, reason", [
    (b"setosa,1,2\nsetosa,1,x\n", "training/data.csv, row 2, column 3: 'x' is not a number."),
    (b"label,a,b\nsetosa,1,2\n", "is the first row a header?"),
    (b"setosa,1,2\nsetosa,1\n", "row 2: expected 3 columns like the first row, found 2."),
    (b"setosa,1,\xff\n", "training/data.csv: not UTF-8 text (byte 9)."),
    (b"setosa,1,nan\n", "row 1: a feature is missing (NaN)."),
    (b"setosa,1,2\nsetosa,,2\n", "row 2, column 2: '' is not a number."),
    (b"\n\n", "has files but no rows"),
])
def test_bad_data_fails_with_a_reason_naming_file_and_row(tmp_path, content, reason):
    csv = tmp_path / "data.csv"
    csv.write_bytes(content)
    opt_ml = tmp_path / "opt_ml"
    result = container.local_train(opt_ml, csv)
    assert result.returncode != 0
    assert reason in (opt_ml / "output" / "failure").read_text()


def test_a_bad_hyperparameter_fails_with_a_reason(tmp_path):
    result = container.local_train(tmp_path, container.DATA_DIR / "iris.csv",
                                   {"max_leaf_nodes": "many"})
    assert result.returncode != 0
    assert "max_leaf_nodes must be an integer >= 2, got 'many'" in (
        tmp_path / "output" / "failure").read_text()


def test_serve_pings_and_predicts(trained):
    opt_ml, _ = trained
    with container.LocalServe(opt_ml) as server:
        status, body = container.invoke(server.url, b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
        assert (status, body.split()) == (200, ["setosa", "virginica"])
        assert container.invoke(server.url, b"{}", "application/json")[0] == 415
        status, body = container.invoke(server.url, b"1,2\n")
        assert status == 400 and "needs 4 features, got 2" in body
        status, body = container.invoke(server.url, b"1,2,3,x\n")
        assert status == 400 and "'x' is not a number" in body
        assert container.invoke(server.url, b"")[0] == 400
        assert container.invoke(server.url, b"\xff\xfe")[0] == 400
        assert container.invoke(server.url, b"5.1,3.5,1.4,0.2\n")[0] == 200  # still serving
    assert server.process.poll() is not None  # stopped on leaving the block


def test_local_test_compares_predictions_with_truth(capsys):
    table = container.local_test(rows=6)
    assert len(table) == 6
    assert (table["predicted"] == table["true label"]).mean() >= 0.8
    printed = capsys.readouterr().out  # the container's paths, not the temporary directory's
    assert "Saved the model to /opt/ml/model/decision-tree-model.pkl" in printed
    assert tempfile.gettempdir() not in printed


def run_evaluate(opt_ml, *arguments):
    import subprocess

    from local_aws.images import program_environment
    return subprocess.run([str(container.PROGRAM_DIR / "evaluate"), *arguments], cwd=opt_ml,
                          env=program_environment(container.PROGRAM_DIR, opt_ml),
                          capture_output=True, text=True, timeout=300)


def test_evaluate_scores_held_out_data_into_a_report_and_the_exit_message(trained, tmp_path):
    """`evaluate`, the processing program: the report in SageMaker's model quality layout, the
    headline in /opt/ml/output/message (DescribeProcessingJob's ExitMessage: developer guide,
    "Save and Access Metadata Information About Your Processing Job")."""
    import json
    import shutil
    import tarfile
    trained_opt_ml, _ = trained
    opt_ml = tmp_path / "opt_ml"
    (opt_ml / "processing" / "model").mkdir(parents=True)
    with tarfile.open(opt_ml / "processing" / "model" / "model.tar.gz", "w:gz") as tar:
        tar.add(trained_opt_ml / "model" / "decision-tree-model.pkl",
                arcname="decision-tree-model.pkl")
    (opt_ml / "processing" / "test").mkdir()
    shutil.copy(container.DATA_DIR / "iris.csv", opt_ml / "processing" / "test" / "iris.csv")
    result = run_evaluate(opt_ml)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((opt_ml / "processing" / "evaluation" / "evaluation.json").read_text())
    accuracy = report["multiclass_classification_metrics"]["accuracy"]["value"]
    assert 0.9 < accuracy <= 1.0  # a 3-leaf tree on the data it learnt from
    assert report["rows"] == sum(sum(row.values()) for row in report["confusion_matrix"].values())
    headline = json.loads((opt_ml / "output" / "message").read_text())
    assert headline == {"accuracy": accuracy, "rows": report["rows"], "weighted_f1":
                        report["multiclass_classification_metrics"]["weighted_f1"]["value"]}
    assert len((opt_ml / "output" / "message").read_bytes()) < 1024  # ExitMessage's limit


def test_evaluate_without_a_model_fails_with_a_message(tmp_path):
    opt_ml = tmp_path / "opt_ml"
    (opt_ml / "processing" / "test").mkdir(parents=True)
    (opt_ml / "processing" / "test" / "t.csv").write_text("setosa,1,2,3,4\n")
    result = run_evaluate(opt_ml, "--model", str(tmp_path / "empty"))
    assert result.returncode != 0
    assert "No decision-tree-model.pkl" in (opt_ml / "output" / "message").read_text()
