"""`make tutorial`, the README's first command, run as a learner runs it: the Makefile's target on
a copy of the repository (so that its build/ is the copy's), every notebook on the learner's path
(without the worked solutions), build/summary.json and the site written, and the local AWS it
started stopped afterwards."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest

from local_aws import control
from series_tools import series
from tests.conftest import REPO

# Measured on the 2-core machine loaded by other sessions (2026-12-02, load average 14-20):
# this test ran 9 notebooks in 735 s (`make tutorial`'s own summary: 670 s, the slowest notebook
# 139 s), then 12 notebooks in 789 s. The budget allows 250 s per notebook, whatever the series'
# length: about four times the average.
SECONDS_PER_NOTEBOOK = 250
TUTORIAL_BUDGET_SECONDS = SECONDS_PER_NOTEBOOK * len(series.notebooks())


def copy_of_the_repository(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)  # mtimes kept: make sees nothing newer
    return target


@pytest.mark.long
@pytest.mark.timeout(TUTORIAL_BUDGET_SECONDS)
def test_make_tutorial_runs_the_learners_path_writes_the_summary_and_site_and_stops(tmp_path):
    copy = copy_of_the_repository(tmp_path / "repository")
    venv = Path(sys.prefix)
    state_dir = tmp_path / "state"
    environment = {**os.environ, "TUTORIAL_BACKEND": "local",
                   "TUTORIAL_STATE_DIR": str(state_dir), "PYTHONPATH": str(copy)}
    # This environment's packages are installed already: `-o` keeps make from reinstalling them.
    made = subprocess.run(["make", "-o", f"{venv}/.installed", "tutorial", f"VENV={venv}"],
                          cwd=copy, env=environment, capture_output=True, text=True,
                          timeout=TUTORIAL_BUDGET_SECONDS - 30, check=False)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    names = [path.name for path in series.notebooks()]
    assert f"{len(names)}/{len(names)} notebooks ran in" in made.stdout

    summary = json.loads((copy / "build" / "summary.json").read_text())
    assert (summary["backend"], summary["solutions"]) == ("local", False)
    assert [(n["notebook"], n["status"]) for n in summary["notebooks"]] == \
        [(name, "ok") for name in names]
    for name in names:  # the learner's copies: no worked solution in them
        executed = nbformat.read(copy / "build" / "notebooks" / name, as_version=4)
        assert not [cell for cell in executed.cells
                    if "solution" in cell.get("metadata", {}).get("tags", [])], name
    index = (copy / "build" / "site" / "index.html").read_text()
    for name in names:
        assert Path(name).stem in index

    assert control.status(state_dir) is None, "the local AWS make tutorial started still runs"
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(state_dir) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []
