"""Start, find and stop the local AWS server process.

The server outlives notebook kernels (notebook 01 registers the image, 03 trains with it), so it
runs as its own process, detached from whoever started it. `<state dir>/server.json` says where it
is; a lock file makes concurrent starts (two notebooks, "Run all" twice) reuse one server.
The state directory is its owner's alone (0700, files 0600) and holds the key pair every request
to the server is signed with (auth.py); `credentials(state_dir)` reads it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from . import auth

HOST = "127.0.0.1"  # loopback only: nothing outside this machine can reach the server
STATE_FILE = "server.json"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


class LocalAwsError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    port: int
    url: str
    log: str | None
    started: str
    instance: str


def read_state(state_dir: Path) -> dict | None:
    try:
        return json.loads((Path(state_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def credentials(state_dir: Path) -> auth.LocalCredentials:
    """The key pair requests to the state directory's server are signed with (made if none)."""
    return auth.ensure_credentials(Path(state_dir).resolve())


def _health(url: str, signing: auth.LocalCredentials | None,
            timeout: float = 2.0) -> dict | None:
    """The server's signed health answer (unsigned, it says only "ok")."""
    target = f"{url}/_tutorial/health"
    headers = auth.signed_headers(signing, "GET", target) if signing else {}
    try:
        request = urllib.request.Request(target, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def status(state_dir: Path) -> ServerInfo | None:
    """The running server recorded in state_dir, if it answers; None otherwise."""
    state = read_state(state_dir)
    if not state or not _alive(state["pid"]):
        return None
    signing = auth.load_credentials(state_dir)
    health = _health(state["url"], signing)
    if not health or health.get("instance") != state["instance"]:
        return None
    auth.remember(state["url"], signing)  # for this process's admin API clients (faults)
    return ServerInfo(pid=state["pid"], port=state["port"], url=state["url"],
                      log=state.get("log"), started=state["started"],
                      instance=state["instance"])


@contextlib.contextmanager
def _lock(state_dir: Path):
    auth.secure_state_dir(state_dir)
    with _owner_only_open(state_dir / "lock", os.O_WRONLY) as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _owner_only_open(path: Path, flags: int):
    """Open (creating it 0600 if needed) a file in the state directory, for writing."""
    mode = "ab" if flags & os.O_APPEND else "w"
    file = os.fdopen(os.open(path, flags | os.O_CREAT, 0o600), mode)
    auth.owner_only_file(path)  # made by an older version with looser modes
    return file


def _check_port_free(port: int):
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            raise LocalAwsError(
                f"Port {port} on {HOST} is in use by another program. Set TUTORIAL_LOCAL_PORT to "
                "a free port, or unset it to let the local AWS pick one.") from None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def end_orphans(state_dir: Path) -> list[int]:
    """End programs a killed server left behind (training programs, endpoint containers): every
    program the server starts has OPT_ML under <state dir>/jobs/. Then empty that folder."""
    jobs = str(Path(state_dir).resolve() / "jobs")
    ended = []
    for process in psutil.process_iter(["pid"]):
        try:
            if process.environ().get("OPT_ML", "").startswith(jobs):
                process.kill()
                ended.append(process.pid)
        except psutil.Error:
            continue
    psutil.wait_procs([psutil.Process(pid) for pid in ended if psutil.pid_exists(pid)],
                      timeout=5)
    shutil.rmtree(jobs, ignore_errors=True)
    return ended


def start(state_dir: Path, port: int = 0) -> tuple[ServerInfo, bool]:
    """Start the server unless one is running; returns (info, started_now)."""
    state_dir = Path(state_dir).resolve()
    with _lock(state_dir):
        running = status(state_dir)
        if running:
            return running, False
        _clear_stale(state_dir)
        end_orphans(state_dir)
        auth.ensure_credentials(state_dir)
        auth.owner_only_file(state_dir / STATE_FILE)
        if port:
            _check_port_free(port)
        log_path = state_dir / "server.log"
        with _owner_only_open(log_path, os.O_WRONLY | os.O_APPEND) as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "local_aws.server", "--port", str(port),
                 "--state-dir", str(state_dir), "--log-file", str(log_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # not killed with the kernel or terminal that started it
                cwd=Path(__file__).resolve().parents[2])
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalAwsError(f"The local AWS exited during start (code "
                                    f"{process.returncode}). Its log ({log_path}):\n"
                                    + _tail(log_path))
            info = status(state_dir)
            if info and info.pid == process.pid:
                return info, True
            time.sleep(0.1)
        process.kill()
        raise LocalAwsError(f"The local AWS did not answer within {START_TIMEOUT_SECONDS} s. "
                            f"Its log ({log_path}):\n" + _tail(log_path))


def _clear_stale(state_dir: Path) -> dict | None:
    """A state file whose server is gone (killed, machine restarted) is removed; a server that
    is alive but does not answer is ended, so two servers never fight over one state dir.
    Returns the stale state, if there was one."""
    state = read_state(state_dir)
    if not state:
        return None
    if _alive(state["pid"]) and _is_our_server(state["pid"]):
        _terminate(state["pid"])
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return state


def previous_server_gone(state_dir: Path) -> dict | None:
    """The state file of a server that is no longer there (killed, crashed), if any."""
    state = read_state(state_dir)
    if state and not status(state_dir):
        return state
    return None


def _is_our_server(pid: int) -> bool:
    try:
        return "local_aws.server" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def _terminate(pid: int):
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(STOP_TIMEOUT_SECONDS)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(5)
    except psutil.Error:
        pass


def stop(state_dir: Path) -> ServerInfo | None:
    """Stop the server (and its training programs); returns what was stopped, or None."""
    state_dir = Path(state_dir).resolve()
    with _lock(state_dir):
        state = read_state(state_dir)
        if not state:
            return None
        info = ServerInfo(pid=state["pid"], port=state["port"], url=state["url"],
                          log=state.get("log"), started=state["started"],
                          instance=state["instance"])
        if _alive(info.pid) and _is_our_server(info.pid):
            _terminate(info.pid)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        end_orphans(state_dir)
        return info
