"""`make lab` starts JupyterLab where people run it, root included (a plain Python container, a
cloud VM): Jupyter refuses root unless told --allow-root, and the Makefile tells it so then."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from local_aws import free_port

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
TOKEN = "make-lab-test"
ROOT_REFUSAL = "Running as root is not recommended"


def _jupyter_env(tmp_path: Path) -> dict:
    # Its runtime and config files in the test's folder, not the user's home.
    return {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}


def _stop(process: subprocess.Popen):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def _listening(pid: int) -> set[str]:
    addresses = set()
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for connection in process.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                addresses.add(connection.laddr.ip)
    return addresses


@pytest.mark.timeout(180)
def test_make_lab_starts_jupyterlab_on_loopback_even_as_root(tmp_path):
    port = free_port()
    # -o: the venv counts as installed (the test must not reinstall it).
    process = subprocess.Popen(
        ["make", "-o", f"{VENV}/.installed", "lab", f"VENV={VENV}", f"LAB_PORT={port}",
         f"LAB_ARGS=--no-browser --ServerApp.token={TOKEN}"],
        cwd=REPO, env=_jupyter_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"make lab exited:\n{process.stdout.read()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}",
                                            timeout=2) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, "JupyterLab did not answer in 120 s"
                time.sleep(0.5)
        assert _listening(process.pid) == {"127.0.0.1"}
    finally:
        _stop(process)
    output = process.stdout.read()
    assert ROOT_REFUSAL not in output
    if os.geteuid() == 0:
        assert "--allow-root" in output  # make echoes the command it ran


@pytest.mark.timeout(120)
def test_jupyter_itself_refuses_root_without_allow_root(tmp_path):
    """What the Makefile works around (so the test above proves something when run as root);
    as another user, Jupyter has nothing to refuse."""
    if os.geteuid() != 0:
        pytest.skip("not root: Jupyter has no root refusal to show")
    done = subprocess.run([str(VENV / "bin" / "jupyter"), "lab", "--ip=127.0.0.1",
                           f"--port={free_port()}", "--no-browser", str(REPO / "notebooks")],
                          env=_jupyter_env(tmp_path), capture_output=True, text=True,
                          timeout=100, check=False)
    assert done.returncode != 0 and ROOT_REFUSAL in done.stderr + done.stdout
