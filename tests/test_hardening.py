"""Issue 9's cases: concurrency, killed programs and servers, nothing left behind. Each test is
bounded in time and talks to 127.0.0.1 only."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

import helpers
from helpers import workflows
from local_aws import control
from series_tools import series
from tests.conftest import REPO, register_image, run_state_machine, training_request


def test_ten_concurrent_executions_all_succeed_within_the_slot_limit(local, server):
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.training(names, local))
    stamp = time.time_ns()
    executions = [workflows.start(local, arn, f"c{stamp}-{i}") for i in range(10)]
    most_running, done = 0, False

    def watch():
        nonlocal most_running
        while not done:
            most_running = max(most_running, server.sagemaker.running_programs())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = [helpers.executions.wait(local, arn_, timeout=180) for arn_ in executions]
    finally:
        done = True
        watcher.join()
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 10
    jobs = [json.loads(r["output"]) for r in results]
    assert len({job["ModelArtifacts"]["S3ModelArtifacts"] for job in jobs}) == 10
    streams = {s["logStreamName"].split("/")[0] for s in local.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="sagemaker-bring-your-own-c"
        f"{stamp}")["logStreams"]}
    assert len(streams) == 10
    assert 1 <= most_running <= server.sagemaker.max_parallel_jobs
    waited = [t for job in jobs for t in job["SecondaryStatusTransitions"]
              if "Waiting for a free local training slot" in t["StatusMessage"]]
    assert waited, "jobs beyond the limit should say that they wait"


def test_a_killed_training_program_fails_the_job_and_the_catch_sees_it(aws, script_image):
    image = script_image("kill -9 $$\n")
    task = training_request(aws, "unused", image=image)
    del task["TrainingJobName"]
    task["TrainingJobName.$"] = "States.Format('killed-{}', $$.Execution.Name)"
    definition = {"StartAt": "Train", "States": {
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "Parameters": task, "Next": "Done",
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}}}
    execution, _ = run_state_machine(aws, definition)
    cause = json.loads(json.loads(execution["output"])["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert cause["FailureReason"].startswith("AlgorithmError: ")
    assert "exit code: -9" in cause["FailureReason"]


def test_a_single_class_trains(aws):
    aws("s3").put_object(Bucket="test-bucket-local-aws", Key="one-class/train/x.csv",
                         Body=b"only,1,2\nonly,2,3\nonly,3,4\n")
    name = f"one-class-{time.time_ns()}"
    aws("sagemaker").create_training_job(**training_request(aws, name, prefix="one-class/train/"))
    from tests.conftest import wait_for_job
    assert wait_for_job(aws, name)["TrainingJobStatus"] == "Completed"


@pytest.fixture
def process_backend(tmp_path, monkeypatch):
    """The local AWS as a real process, in a state dir of its own, stopped afterwards."""
    state_dir = tmp_path / "state"
    monkeypatch.setenv("TUTORIAL_BACKEND", "local")
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(state_dir))
    yield state_dir
    control.stop(state_dir)
    assert not (state_dir / "jobs").exists()
    assert not [p for p in psutil.process_iter(["pid"]) if _runs_under(p, state_dir)]


def _runs_under(process, state_dir) -> bool:
    try:
        return process.environ().get("OPT_ML", "").startswith(str(state_dir))
    except psutil.Error:
        return False


def test_a_server_killed_between_notebooks_is_replaced_and_says_so(process_backend, capsys):
    aws = helpers.connect()
    helpers.prerequisites.ensure_bucket(aws)
    killed = control.status(process_backend)
    os.kill(killed.pid, signal.SIGKILL)
    psutil.Process(killed.pid).wait(5) if psutil.pid_exists(killed.pid) else None
    capsys.readouterr()
    aws = helpers.connect()
    said = capsys.readouterr().out
    assert f"(pid {killed.pid}) is gone" in said and "Started the local AWS" in said
    assert control.status(process_backend).pid != killed.pid
    assert helpers.prerequisites.ensure_bucket(aws) == "created"  # a fresh, empty state


def test_a_server_killed_during_training_does_not_hang_the_learner(process_backend):
    aws = helpers.connect(quiet=True)
    helpers.rebuild(aws, upto="prerequisites")

    class Clients:  # the conftest helpers' interface over this Aws
        def __call__(self, service):
            return aws.client(service)

    clients = Clients()
    clients.role_arn = workflows.Names.from_aws(aws).sagemaker_role_arn
    slow = register_image(clients, "slow-training", _slow_program_dir(process_backend))
    request = training_request(clients, f"slow-{time.time_ns()}", image=slow,
                               prefix="nothing-needed/")
    request["InputDataConfig"] = []
    request["OutputDataConfig"] = {"S3OutputPath": f"s3://{aws.bucket}/out"}
    definition = {"StartAt": "Train", "States": {"Train": {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": request, "End": True}}}
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name="slow", definition=json.dumps(definition),
                                   roleArn=workflows.Names.from_aws(aws).workflow_role_arn)[
        "stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="slow-run")["executionArn"]
    deadline = time.monotonic() + 30
    while not [p for p in psutil.process_iter(["pid"]) if _runs_under(p, process_backend)]:
        assert time.monotonic() < deadline, "the slow training program never started"
        time.sleep(0.1)
    os.kill(control.status(process_backend).pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(helpers.executions.LocalAwsGone, match="Run this notebook again"):
        helpers.executions.wait(aws, execution)
    assert time.monotonic() - started < 15
    # The orphaned training program is ended by the next start (or stop) of the local AWS.
    control.start(process_backend)
    assert not [p for p in psutil.process_iter(["pid"]) if _runs_under(p, process_backend)]


def _slow_program_dir(state_dir):
    programs = state_dir.parent / "slow-programs"
    programs.mkdir(parents=True, exist_ok=True)
    (programs / "train").write_text("#!/bin/sh\nsleep 60\n")
    (programs / "train").chmod(0o755)
    return programs


def test_a_million_row_csv_trains_with_bounded_memory(tmp_path):
    """Peak memory of `train` on 1,000,000 rows (30 MB of CSV), measured in a child of its own."""
    script = (
        "import random, resource, sys\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from helpers import container\n"
        f"tmp = Path({str(tmp_path)!r})\n"
        "rng = random.Random(0)\n"
        "with open(tmp / 'big.csv', 'w') as f:\n"
        "    for _ in range(1_000_000):\n"
        "        x = [rng.random() for _ in range(4)]\n"
        "        f.write(('a' if x[0] + x[1] > 1 else 'b') + ','"
        " + ','.join(f'{v:.4f}' for v in x) + '\\n')\n"
        "result = container.local_train(tmp / 'opt_ml', tmp / 'big.csv')\n"
        "print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=240).stdout.split()
    code, peak_kib = int(output[0]), int(output[1])
    assert code == 0
    assert peak_kib / 1024 < 600, f"train peaked at {peak_kib / 1024:.0f} MiB on 1M rows"


# The series twice in a row on one backend took more than pytest's global 300 s on a loaded 2-core
# machine as one test: it is split into one test per notebook and pass, sharing one backend, each
# with its own budget. Measured there (2026-12-02, load average 14-24 from other sessions: far
# more than two CPU burners), both passes and 99 took about 2,000 s; the slowest, 06 (first pass),
# SLOWEST_NOTEBOOK_SECONDS, then 04 (194 s). The budget allows three times the slowest.
SLOWEST_NOTEBOOK_SECONDS = 330
NOTEBOOK_BUDGET_SECONDS = 3 * SLOWEST_NOTEBOOK_SECONDS
SERIES = [path for path in series.notebooks() if not path.name.startswith("99")]
CLEAN_UP = series.notebooks()[-1]


@pytest.fixture(scope="class")
def one_backend(tmp_path_factory):
    """A local AWS process shared by the tests of a class, in a state dir of its own."""
    state_dir = tmp_path_factory.mktemp("one-backend") / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUTORIAL_BACKEND", "local")
        patch.setenv("TUTORIAL_STATE_DIR", str(state_dir))
        yield state_dir
        control.stop(state_dir)
    assert not (state_dir / "jobs").exists()
    assert not [p for p in psutil.process_iter(["pid"]) if _runs_under(p, state_dir)]


# With pytest-xdist, `--dist loadgroup` keeps these on one worker, in order.
@pytest.mark.long
@pytest.mark.xdist_group("the-series-twice")
class TestTheSeriesRunsTwiceInARowOnOneBackend:
    """Learners press "Run all" twice: every notebook must succeed again on the same backend
    (99, the clean-up, runs last, once). The tests run in order and share the backend."""

    @pytest.mark.timeout(NOTEBOOK_BUDGET_SECONDS)
    @pytest.mark.parametrize("attempt, notebook", [
        pytest.param(attempt, path, id=f"{attempt}-{path.stem[:2]}")
        for attempt in ("first", "second") for path in SERIES])
    def test_each_notebook_succeeds(self, one_backend, attempt, notebook):
        result = series.execute(notebook, one_backend.parent / attempt,
                                timeout=NOTEBOOK_BUDGET_SECONDS)
        assert result["status"] == "ok", result

    @pytest.mark.timeout(NOTEBOOK_BUDGET_SECONDS)
    def test_then_the_clean_up_leaves_nothing(self, one_backend):
        result = series.execute(CLEAN_UP, one_backend.parent / "cleanup",
                                timeout=NOTEBOOK_BUDGET_SECONDS)
        assert result["status"] == "ok", result
        assert helpers.cleanup.plan(helpers.connect(quiet=True)) == []


@pytest.mark.parametrize("jobs_end_first", [True, False], ids=["jobs-end-first", "server-first"])
def test_a_server_stopping_under_a_running_map_records_an_aws_error(jobs_end_first):
    """moto reported the iterations' States.TaskFailed (or States.Runtime) as States.Runtime
    "Custom Error Names MUST NOT begin with the prefix 'States.'" (local_aws/moto_hooks/errors.py).
    AWS fails the Map with the iteration's own error."""
    child = subprocess.run([sys.executable, "-m", "tests.local_aws.map_under_a_stopping_server",
                            "jobs-end-first" if jobs_end_first else "server-first"],
                           capture_output=True, text=True, timeout=150, cwd=REPO, check=False)
    assert child.returncode == 0, child.stderr[-3000:]
    ended = json.loads(child.stdout.strip().splitlines()[-1])
    assert ended["status"] == "FAILED"
    # Which comes first, the stopped job's description or the closed port, is a race when the
    # server stops by itself; both are what AWS reports for such an iteration.
    assert ended["error"] in (("States.TaskFailed",) if jobs_end_first
                              else ("States.TaskFailed", "States.Runtime")), ended
    if ended["error"] == "States.TaskFailed":
        assert json.loads(ended["cause"])["TrainingJobStatus"] == "Stopped"
    assert "MUST NOT" not in child.stdout + child.stderr
