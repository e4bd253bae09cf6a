"""A container program (`train`, `serve`, or any entry point of a local image) run as a process.

There is no Docker here: `docker run IMAGE train` becomes the image's `train` program started with
a folder standing in for /opt/ml (named by the OPT_ML environment variable; see images.py). Every
job kind (training, processing, transform) and every endpoint starts its program through
`Program`, so how a program is started, stopped and read lives in one place:

- it runs in its own process group (its children are stopped with it), with its output (stdout
  and stderr together) readable line by line;
- `terminate()` sends SIGTERM to the group, as SageMaker does, and SIGKILL after a grace time;
  `kill()` ends it at once.

A Python program of this interpreter starts warm (forked from an interpreter that has already
imported the image's libraries; see warm.py), anything else as a new process. When a Python
program cannot start warm, it starts as a new process and the first line of its output says why.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from . import warm
from .images import program_environment

FALLBACK_NOTE = "[local AWS] {program} started as a new process (not warm): {reason}"


class Program:
    def __init__(self, program_dir: Path, command: list[str] | str, workdir: Path,
                 environment: dict | None = None, opt_ml: Path | None = None):
        """Start `command` (a program of the image, then its arguments) in `workdir`, with the
        image's environment, `environment` on top and OPT_ML naming `opt_ml` (default:
        `workdir`)."""
        command = [command] if isinstance(command, str) else list(command)
        program = command[0] if os.path.isabs(command[0]) else str(Path(program_dir) / command[0])
        env = program_environment(program_dir, opt_ml or workdir, environment)
        self.opt_ml = Path(opt_ml or workdir)  # the folder that stands in for /opt/ml
        self.notes: list[str] = []  # why a Python program did not start warm
        self.process = None
        if warm.runs_on_this_python(Path(program), env["PATH"]):
            try:
                if not warm.warm_enabled():
                    raise warm.WarmUnavailable(f"{warm.WARM_SETTING} is off")
                self.process = warm.ZYGOTES.start(program_dir, [program, *command[1:]],
                                                  workdir, env)
            except warm.WarmUnavailable as reason:
                self.notes.append(FALLBACK_NOTE.format(program=Path(program).name,
                                                       reason=reason))
        if self.process is None:
            self.process = subprocess.Popen([program, *command[1:]], cwd=workdir, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.process.pid

    @property
    def warm(self) -> bool:
        """Whether the program was forked from its image's warm interpreter."""
        return isinstance(self.process, warm.WarmChild)

    def lines(self) -> Iterator[str]:
        """The program's output, a line at a time, until it closes its output (preceded by the
        reason it did not start warm, if it is a Python program that did not)."""
        yield from self.notes
        for raw in self.process.stdout:
            yield raw.decode("utf-8", errors="replace").rstrip("\n")

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def _signal_group(self, signum: int) -> bool:
        try:
            os.killpg(self.pid, signum)
            return True
        except ProcessLookupError:
            return False

    def terminate(self, grace_seconds: float = 10.0, wait: bool = False):
        """SIGTERM the program's process group; SIGKILL if it is still there after the grace
        time. With `wait`, return only once it has ended; otherwise watch from a thread."""
        if not self.running() or not self._signal_group(signal.SIGTERM):
            return

        def kill_when_late():
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                self.kill()

        if wait:
            kill_when_late()
        else:
            threading.Thread(target=kill_when_late, daemon=True).start()

    def kill(self):
        """SIGKILL the program's process group and reap it."""
        if self._signal_group(signal.SIGKILL):
            self.process.wait()
