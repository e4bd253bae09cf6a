"""Warm programs (local_aws/warm.py): an image's Python programs forked from an interpreter that
has imported the image's libraries must behave as a plain start of the program would: their own
process, files, environment and exit status; an edit takes effect on the next start; and a
program that cannot start warm starts plainly and says so in its log.

The contract is SageMaker's for a container program
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-dockerfile.html):
the program's exit status decides Completed/Failed, /opt/ml/output/failure gives the reason, and
stdout/stderr go to CloudWatch Logs.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from local_aws import warm
from local_aws.programs import Program
from tests.conftest import register_image, training_request, wait_for_job

PYTHON_SHEBANG = "#!/usr/bin/env python3\n"

# Two copies run at once: each records what it can see once both are running (a barrier on a
# folder both are told about), including what the other one set in its memory and environment.
PROBE = PYTHON_SHEBANG + '''
import json, os, sys, time
from pathlib import Path
import csv  # a module the zygote has imported ahead: shared code, not shared state

me = os.environ["PROBE_NAME"]
Path("mine.txt").write_text(me)
os.environ["SET_BY_" + me] = "yes"
csv.set_by = getattr(csv, "set_by", []) + [me]
barrier = Path(os.environ["BARRIER"])
(barrier / me).write_text(str(os.getpid()))
deadline = time.monotonic() + 30
while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
print(json.dumps({"name": me, "pid": os.getpid(), "pgid": os.getpgid(0), "cwd": os.getcwd(),
                  "files": sorted(os.listdir(".")), "opt_ml": os.environ["OPT_ML"],
                  "secret": os.environ.get("PROBE_SECRET"),
                  "env_set_by": sorted(k for k in os.environ if k.startswith("SET_BY_")),
                  "csv_set_by": csv.set_by, "argv": sys.argv}))
'''


def make_program(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / name
    program.write_text(text)
    program.chmod(0o755)
    return program


def run(program_dir: Path, command, workdir: Path, environment=None) -> tuple[Program, list, int]:
    workdir.mkdir(parents=True, exist_ok=True)
    program = Program(program_dir, command, workdir, environment)
    lines = list(program.lines())
    return program, lines, program.wait(30)


@pytest.fixture
def warm_on(monkeypatch):
    monkeypatch.setenv(warm.WARM_SETTING, "1")


def test_two_concurrent_warm_jobs_see_neither_each_others_files_nor_environment(tmp_path,
                                                                                 warm_on):
    programs = tmp_path / "image"
    make_program(programs, "train", PROBE)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    started = []
    for name in ("a", "b"):
        workdir = tmp_path / f"job-{name}"
        workdir.mkdir()
        started.append(Program(programs, ["train", name], workdir, {
            "PROBE_NAME": name, "BARRIER": str(barrier), "PROBE_SECRET": f"secret-{name}"}))
    assert all(program.warm for program in started)
    reports = {}
    for program in started:
        lines = list(program.lines())
        assert program.wait(30) == 0, lines
        report = json.loads(lines[-1])
        reports[report["name"]] = report
    assert reports["a"]["pid"] != reports["b"]["pid"]
    for name, other in (("a", "b"), ("b", "a")):
        report = reports[name]
        assert report["pgid"] == report["pid"]  # its own process group, as a plain start
        assert Path(report["cwd"]) == (tmp_path / f"job-{name}").resolve()
        assert report["files"] == ["mine.txt"]  # its own folder only
        assert Path(report["opt_ml"]) == tmp_path / f"job-{name}"
        assert report["secret"] == f"secret-{name}"
        assert report["env_set_by"] == [f"SET_BY_{name}"]  # not the other's variable
        assert report["csv_set_by"] == [name]  # not the other's change to a shared module
        assert report["argv"] == [str(programs / "train"), name]
        assert (tmp_path / f"job-{name}" / "mine.txt").read_text() == name
        assert other not in report["files"]


def test_an_edit_to_the_program_and_its_modules_takes_effect_on_the_next_start(tmp_path,
                                                                               warm_on):
    programs = tmp_path / "image"
    make_program(programs, "train", PYTHON_SHEBANG + "import helper_module\n"
                 "print('train v1', helper_module.VERSION)\n")
    (programs / "helper_module.py").write_text("VERSION = 'module v1'\n")
    first, lines, code = run(programs, "train", tmp_path / "one")
    assert first.warm and code == 0 and lines == ["train v1 module v1"]
    make_program(programs, "train", PYTHON_SHEBANG + "import helper_module\n"
                 "print('train v2', helper_module.VERSION)\n")
    (programs / "helper_module.py").write_text("VERSION = 'module v2'\n")
    second, lines, code = run(programs, "train", tmp_path / "two")
    assert second.warm and code == 0 and lines == ["train v2 module v2"]


def test_exit_status_traceback_and_output_are_those_of_a_plain_start(tmp_path, monkeypatch):
    programs = tmp_path / "image"
    make_program(programs, "exits", PYTHON_SHEBANG + "import sys\nprint('out')\n"
                 "print('err', file=sys.stderr)\nsys.exit(7)\n")
    make_program(programs, "raises", PYTHON_SHEBANG + "def fit():\n"
                 "    raise ValueError('bad data')\nfit()\n")
    make_program(programs, "says", PYTHON_SHEBANG + "import sys\nsys.exit('a message')\n")
    for name in ("exits", "raises", "says"):
        monkeypatch.setenv(warm.WARM_SETTING, "0")
        plain, plain_lines, plain_code = run(programs, name, tmp_path / f"{name}-plain")
        monkeypatch.setenv(warm.WARM_SETTING, "1")
        warm_program, lines, code = run(programs, name, tmp_path / f"{name}-warm")
        assert warm_program.warm and not plain.warm
        assert code == plain_code
        assert sorted(lines) == sorted(plain_lines[1:])  # after the plain start's note
    assert code == 1 and lines == ["a message"]
    _, lines, code = run(programs, "raises", tmp_path / "raises-again")
    assert code == 1 and lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith(f'  File "{programs / "raises"}", line 4')  # the program's frame
    assert lines[-1] == "ValueError: bad data"


def test_a_warm_program_is_stopped_with_sigterm_then_sigkill(tmp_path, warm_on):
    programs = tmp_path / "image"
    make_program(programs, "sleeps", PYTHON_SHEBANG + "import time\nprint('up', flush=True)\n"
                 "time.sleep(60)\n")
    make_program(programs, "stubborn", PYTHON_SHEBANG + "import signal, time\n"
                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                 "time.sleep(60)\n")
    for name, grace, expected in (("sleeps", 10, -signal.SIGTERM),
                                  ("stubborn", 0.5, -signal.SIGKILL)):
        (tmp_path / name).mkdir()
        program = Program(programs, name, tmp_path / name)
        assert program.warm
        assert next(program.lines()) == "up"
        program.terminate(grace_seconds=grace, wait=True)
        assert program.wait(10) == expected and not program.running()


def test_a_python_program_that_cannot_start_warm_starts_plainly_and_says_so(tmp_path,
                                                                           monkeypatch):
    programs = tmp_path / "image"
    make_program(programs, "train", PYTHON_SHEBANG + "print('trained')\n")
    monkeypatch.setenv(warm.WARM_SETTING, "0")
    program, lines, code = run(programs, "train", tmp_path / "off")
    assert not program.warm and code == 0
    note = f"[local AWS] train started as a new process (not warm): {warm.WARM_SETTING} is off"
    assert lines == [note, "trained"]


def test_when_the_zygote_died_the_next_program_starts_plainly_then_warm_again(tmp_path,
                                                                              warm_on):
    programs = tmp_path / "image"
    make_program(programs, "train", PYTHON_SHEBANG + "print('trained')\n")
    first, _, _ = run(programs, "train", tmp_path / "one")
    assert first.warm
    zygote = warm.ZYGOTES._zygotes[programs.resolve()]
    os.killpg(zygote.process.pid, signal.SIGKILL)
    zygote.process.wait()
    second, lines, code = run(programs, "train", tmp_path / "two")
    assert not second.warm and code == 0
    assert lines[0].startswith("[local AWS] train started as a new process (not warm): the "
                               "warm interpreter for ") and "had ended" in lines[0]
    assert lines[1:] == ["trained"]
    third, lines, code = run(programs, "train", tmp_path / "three")
    assert third.warm and code == 0 and lines == ["trained"]


def test_a_program_whose_zygote_dies_dies_with_it_and_is_reported_killed(tmp_path, warm_on):
    programs = tmp_path / "image"
    make_program(programs, "sleeps", PYTHON_SHEBANG + "import time\nprint('up', flush=True)\n"
                 "time.sleep(60)\n")
    (tmp_path / "job").mkdir()
    program = Program(programs, "sleeps", tmp_path / "job")
    assert program.warm and next(program.lines()) == "up"
    zygote = warm.ZYGOTES._zygotes[programs.resolve()]
    os.killpg(zygote.process.pid, signal.SIGKILL)  # its own group: not the program's
    assert program.wait(10) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _exists(program.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _exists(program.pid), "the program outlived its zygote"


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_program_that_is_not_python_starts_as_before(tmp_path, warm_on):
    programs = tmp_path / "image"
    make_program(programs, "train", "#!/bin/sh\necho \"shell $OPT_ML\"\nexit 3\n")
    program, lines, code = run(programs, "train", tmp_path / "job")
    # No note: a plain start is how a shell program always starts, and its log (the tail of
    # which is an AlgorithmError's FailureReason) stays exactly its own output.
    assert not program.warm and code == 3 and lines == [f"shell {tmp_path / 'job'}"]


def test_the_image_libraries_are_imported_ahead_but_not_its_own_modules(tmp_path):
    programs = tmp_path / "image"
    make_program(programs, "train", PYTHON_SHEBANG + "import json\nfrom sklearn import tree\n"
                 "from local_thing import x\nimport own_package.part\n")
    (programs / "local_thing.py").write_text("x = 1\n")
    (programs / "own_package").mkdir()
    (programs / "notes.txt").write_text("import not_python\n")
    assert warm.modules_to_preload(programs) == ["json", "sklearn", "sklearn.tree"]


def test_a_warm_training_job_completes_and_a_plain_one_says_why_in_its_log(aws, tmp_path,
                                                                           monkeypatch):
    """Through the local SageMaker: the real image's `train`, warm and not."""
    logs = aws("logs")

    def job_log(name):
        stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                           logStreamNamePrefix=f"{name}/")["logStreams"][0]
        return [e["message"] for e in logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=stream["logStreamName"])["events"]]

    names = {}
    for setting in ("1", "0"):
        monkeypatch.setenv(warm.WARM_SETTING, setting)
        names[setting] = f"warm-{setting}-{time.time_ns()}"
        aws("sagemaker").create_training_job(**training_request(aws, names[setting]))
        assert wait_for_job(aws, names[setting])["TrainingJobStatus"] == "Completed"
    warm_log, plain_log = job_log(names["1"]), job_log(names["0"])
    assert warm_log[0].startswith("Hyperparameters: ")
    assert plain_log[0] == (f"[local AWS] train started as a new process (not warm): "
                            f"{warm.WARM_SETTING} is off")
    # the same program, the same output (but for the job's own folder in the last line)
    assert [m.split(" to ")[0] for m in plain_log[1:]] == [m.split(" to ")[0] for m in warm_log]


def test_a_failed_warm_job_reports_its_failure_file(aws, tmp_path, warm_on):
    programs = tmp_path / "image"
    make_program(programs, "train", PYTHON_SHEBANG + "import os, sys\nfrom pathlib import Path\n"
                 "Path(os.environ['OPT_ML'], 'output', 'failure').write_text('no good')\n"
                 "sys.exit(2)\n")
    image = register_image(aws, f"warm-fail-{tmp_path.name.lower()[-30:]}", programs)
    name = f"warm-fail-{time.time_ns()}"
    aws("sagemaker").create_training_job(**training_request(aws, name, image=image))
    job = wait_for_job(aws, name)
    assert job["TrainingJobStatus"] == "Failed" and job["FailureReason"] == "no good"
