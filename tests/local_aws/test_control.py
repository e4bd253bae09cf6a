"""The local AWS as a process: start, reuse, status, stop, stale state, busy port."""
import json
import socket
import subprocess
import sys

import psutil
import pytest

from local_aws import control


@pytest.fixture
def state_dir(tmp_path):
    yield tmp_path
    control.stop(tmp_path)


def test_start_status_stop(state_dir):
    info, started = control.start(state_dir)
    assert started and info.url == f"http://127.0.0.1:{info.port}"
    assert control.status(state_dir) == info
    listening = {c.laddr.ip for c in psutil.Process(info.pid).net_connections()
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}
    assert control.stop(state_dir) == info
    assert not psutil.pid_exists(info.pid) or psutil.Process(info.pid).status() == "zombie"
    assert control.status(state_dir) is None
    assert control.stop(state_dir) is None


def test_a_second_start_reuses_the_running_server(state_dir):
    first, started = control.start(state_dir)
    second, started_again = control.start(state_dir)
    assert started and not started_again and first == second


def test_a_stale_state_file_is_replaced(state_dir):
    (state_dir / control.STATE_FILE).write_text(json.dumps({
        "pid": 999999, "port": 1, "url": "http://127.0.0.1:1", "started": "x",
        "instance": "gone"}))
    assert control.status(state_dir) is None
    info, started = control.start(state_dir)
    assert started and info.instance != "gone"


def test_a_busy_port_gets_a_clear_message(state_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(control.LocalAwsError, match="is in use by another program"):
            control.start(state_dir, port=busy.getsockname()[1])


def test_the_cli_reports_status(state_dir):
    env = {"TUTORIAL_STATE_DIR": str(state_dir), "PATH": ""}
    result = subprocess.run([sys.executable, "-m", "helpers", "local", "status"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 3 and "not running" in result.stdout
    started = subprocess.run([sys.executable, "-m", "helpers", "local", "start"],
                             capture_output=True, text=True, env=env)
    assert "Local AWS running at http://127.0.0.1:" in started.stdout
    stopped = subprocess.run([sys.executable, "-m", "helpers", "local", "stop"],
                             capture_output=True, text=True, env=env)
    assert "Stopped the local AWS" in stopped.stdout
