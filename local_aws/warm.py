"""Warm programs: an image's Python programs started from an interpreter that has already imported
the image's libraries.

Most of a local training job is its `train` program importing scikit-learn, pandas and numpy
(about 1.7 s on the reference machine; fitting 150 rows takes milliseconds). So, per image, the
local AWS keeps a *zygote*: a Python process (this interpreter, the one a plain start would run
the program with) that has imported every module the image's programs import, and that forks one
child per job. The child is the job's program, as a plain start would make it:

- its own process, in its own process group (stopped with its children, as before), set before
  the local AWS learns its pid, so a stop can never miss it;
- its own working directory and environment (OPT_ML, the job's Environment, ...), stdout and
  stderr on the pipe the local AWS reads, stdin /dev/null;
- the program file run as `__main__` (runpy), read from disk at each start, so an edit to `train`
  (or to a module next to it: only libraries from outside the image are imported ahead) takes
  effect on the next job;
- its own exit status, which the zygote passes back (the same codes: SystemExit's, 1 for an
  uncaught exception with its traceback on stderr, -N for a signal); SIGTERM/SIGKILL reach it
  directly; its memory is returned when it ends.

What differs from a plain start, and why it does not matter here: modules imported ahead read
their import-time settings (e.g. thread counts from environment variables) from the local AWS's
environment, not the job's; the hash seed is the zygote's. Random generators are re-seeded.

The warm path is used only for a program whose `#!` line names this interpreter (by the image's
PATH, as a plain start would resolve it). Programs that are not Python (e.g. shell scripts) start
as they always did. When a Python program cannot start warm (TUTORIAL_LOCAL_WARM_PROGRAMS=0, the
zygote failed to start or died), it starts plainly and `Program` says so in the program's output.
"""
from __future__ import annotations

import ast
import atexit
import importlib
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import traceback
from pathlib import Path

WARM_SETTING = "TUTORIAL_LOCAL_WARM_PROGRAMS"
READY_TIMEOUT_SECONDS = 120
MAX_MESSAGE_BYTES = 1 << 20


class WarmUnavailable(RuntimeError):
    """Why a program cannot start warm; it starts plainly instead."""


def warm_enabled() -> bool:
    return os.environ.get(WARM_SETTING, "1").strip().lower() not in ("0", "false", "no", "off")


def runs_on_this_python(program: Path, search_path: str) -> bool:
    """Whether a plain start of `program` would run it with this interpreter: its `#!` line names
    `python...` (directly or through /usr/bin/env), resolved as the kernel would, is this
    interpreter (same file, in the same directory, so the same site-packages)."""
    try:
        with open(program, "rb") as file:
            first = file.readline(256).decode("utf-8", errors="replace")
    except OSError:
        return False
    if not first.startswith("#!"):
        return False
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
        interpreter = shutil.which(words[0], path=search_path) if words else None
    else:
        interpreter = words[0] if words else None
    if not interpreter or not os.path.basename(interpreter).startswith("python") or \
            len(words) > 1:  # interpreter options (e.g. `python3 -u`) are not handled: plain
        return False
    here = Path(sys.executable)
    try:
        return (Path(interpreter).parent.resolve() == here.parent.resolve()
                and os.path.samefile(interpreter, here))
    except OSError:
        return False


def modules_to_preload(program_dir: Path) -> list[str]:
    """Every absolute import in the image's Python files (programs with a python `#!` line and
    *.py), except the image's own modules, which must be read fresh at each start."""
    program_dir = Path(program_dir)
    own = {p.stem for p in program_dir.glob("*.py")} | {
        p.name for p in program_dir.iterdir() if p.is_dir()}
    names: set[str] = set()
    for path in program_dir.iterdir():
        if not path.is_file():
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if path.suffix != ".py" and not (text.startswith("#!") and "python" in
                                         text.split("\n", 1)[0]):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)  # and what may be submodules (`from sklearn import tree`)
                names.update(f"{node.module}.{alias.name}" for alias in node.names
                             if alias.name != "*")
    return sorted(n for n in names if n.split(".")[0] not in own and n != "__future__")


class Zygote:
    """The local AWS's side of one image's zygote process."""

    def __init__(self, program_dir: Path):
        self.program_dir = Path(program_dir)
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._problem: str | None = None
        try:
            # stdin is a pipe the zygote watches: when the local AWS goes, so do the zygote
            # and the programs it started.
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import local_aws.warm as w; w.child_main(w.zygote_main())",
                 str(theirs.fileno()), str(self.program_dir)],
                pass_fds=[theirs.fileno()], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, cwd=self.program_dir, start_new_session=True)
        finally:
            theirs.close()
        self._errors = ""
        threading.Thread(target=self._keep_errors, daemon=True,
                         name=f"zygote-errors-{self.program_dir.name}").start()
        threading.Thread(target=self._await_ready, daemon=True,
                         name=f"zygote-{self.program_dir.name}").start()

    def _keep_errors(self):
        """Read what the zygote writes on stderr (so it never blocks on a full pipe); keep the
        end, to say why it failed."""
        for line in self.process.stderr:
            self._errors = (self._errors + line.decode(errors="replace"))[-2000:]

    def _await_ready(self):
        try:
            message = self._control.recv(64)
        except OSError as error:
            message, self._problem = b"", str(error)
        if message != b"ready":
            self.process.wait()
            self._problem = (f"the warm interpreter for {self.program_dir} did not start (exit "
                             f"code {self.process.returncode}): {self._errors.strip()[-500:]}")
        self._ready.set()

    def alive(self) -> bool:
        return self.process.poll() is None and self._problem is None

    def start(self, argv: list[str], cwd: Path, env: dict) -> WarmChild:
        """Fork the job's program from the zygote; WarmUnavailable if that cannot be done."""
        if not self._ready.wait(READY_TIMEOUT_SECONDS):
            raise WarmUnavailable(f"the warm interpreter for {self.program_dir} is not ready "
                                  f"after {READY_TIMEOUT_SECONDS} s")
        if not self.alive():
            raise WarmUnavailable(self._problem or f"the warm interpreter for {self.program_dir}"
                                  f" ended (exit code {self.process.returncode})")
        reader, writer = os.pipe()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode()
        try:
            with self._lock:
                socket.send_fds(self._control, [request], [writer, theirs.fileno()])
            reply = json.loads(mine.recv(MAX_MESSAGE_BYTES) or b'{"error": "no answer"}')
        except (OSError, ValueError) as error:
            os.close(reader)
            mine.close()
            raise WarmUnavailable(f"the warm interpreter for {self.program_dir} did not "
                                  f"answer: {error}") from None
        finally:
            os.close(writer)
            theirs.close()
        if "pid" not in reply:
            os.close(reader)
            mine.close()
            raise WarmUnavailable(f"the warm interpreter could not start it: {reply['error']}")
        return WarmChild(reply["pid"], os.fdopen(reader, "rb"), mine)

    def stop(self):
        """End the zygote (the programs it started end with it) and reap it."""
        self._control.close()
        if self.process.poll() is None:
            self.process.stdin.close()  # its cue to stop
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class WarmChild:
    """A forked program, with the interface of subprocess.Popen that Program uses."""

    def __init__(self, pid: int, stdout, status_socket: socket.socket):
        self.pid, self.stdout, self._status_socket = pid, stdout, status_socket
        self.returncode: int | None = None
        self._ended = threading.Event()
        threading.Thread(target=self._await_exit, daemon=True, name=f"warm-{pid}").start()

    def _await_exit(self):
        try:
            message = self._status_socket.recv(MAX_MESSAGE_BYTES)
            code = json.loads(message)["exit"] if message else None
        except (OSError, ValueError, KeyError):
            code = None
        # No status means the zygote itself was killed, and the program with it.
        self.returncode = -signal.SIGKILL if code is None else code
        self._status_socket.close()
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        return self.returncode


class Zygotes:
    """One zygote per image (program directory), started on the first job of that image."""

    def __init__(self):
        self._zygotes: dict[Path, Zygote] = {}
        self._lock = threading.Lock()

    def start(self, program_dir: Path, argv: list[str], cwd: Path, env: dict) -> WarmChild:
        key = Path(program_dir).resolve()
        with self._lock:
            zygote = self._zygotes.get(key)
            if zygote is None or (zygote._ready.is_set() and not zygote.alive()):
                if zygote is not None:  # it died: say so for this job, start a new one for the next
                    del self._zygotes[key]
                    zygote.stop()
                    raise WarmUnavailable(f"the warm interpreter for {key} had ended (exit "
                                          f"code {zygote.process.returncode}); a new one is "
                                          "starting for the next program")
                zygote = self._zygotes[key] = Zygote(key)
        return zygote.start(argv, cwd, env)

    def stop_all(self):
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.stop()


ZYGOTES = Zygotes()
atexit.register(ZYGOTES.stop_all)


# ---- inside the zygote process ---------------------------------------------------------------

def zygote_main():
    """Import the image's libraries, say ready, then fork a child per request until the local
    AWS goes. Returns only in a child: its request, for child_main to run."""
    control = socket.socket(fileno=int(sys.argv[1]))
    program_dir = Path(sys.argv[2])
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    for name in modules_to_preload(program_dir):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S110 - not a module (a name in one), or one the
            pass  # program itself will report it cannot import
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.send(b"ready")
    children: dict[int, socket.socket] = {}
    while True:
        readable, _, _ = select.select([control, wake_read, sys.stdin.fileno()], [], [])
        if sys.stdin.fileno() in readable and not os.read(sys.stdin.fileno(), 1):
            break  # the local AWS closed our stdin or went away
        if wake_read in readable:
            os.read(wake_read, 4096)
            _report_ended(children)
        if control in readable:
            try:
                message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE_BYTES, 2)
            except OSError:
                break
            if not message:
                break
            output, status = fds[0], socket.socket(fileno=fds[1])
            try:
                request = json.loads(message)
                pid = os.fork()
            except (OSError, ValueError) as error:
                status.send(json.dumps({"error": str(error)}).encode())
                status.close()
                os.close(output)
                continue
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in (wake_read, wake_write):
                    os.close(fd)
                control.close()
                status.close()
                for other in children.values():
                    other.close()
                return request, output
            try:  # its own process group before anyone can signal it (the child does the same)
                os.setpgid(pid, pid)
            except OSError:
                pass  # it has done so already, or has already ended
            os.close(output)
            children[pid] = status
            status.send(json.dumps({"pid": pid}).encode())
            _report_ended(children)  # a child may have ended before it was in `children`
    for pid in children:  # the local AWS is gone: so are the programs it started
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    sys.exit(0)


def _report_ended(children: dict):
    while children:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status = children.pop(pid, None)
        if status is not None:
            try:
                status.send(json.dumps({"exit": os.waitstatus_to_exitcode(wait_status)}).encode())
            except OSError:
                pass
            status.close()


def _text_stream(fd: int):
    """What sys.stdout/stderr are with PYTHONUNBUFFERED, on a given file descriptor."""
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                            errors="backslashreplace", line_buffering=True, write_through=True)


def child_main(job):
    """In the forked child: become the program (own session, cwd, environment, output), run its
    file as __main__, exit with its status as the interpreter would."""
    request, output = job
    os.setpgid(0, 0)
    _end_with_parent()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as we do
    sys.stdout = sys.__stdout__ = _text_stream(1)
    sys.stderr = sys.__stderr__ = _text_stream(2)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    program = request["argv"][0]
    sys.argv = list(request["argv"])
    sys.path.insert(0, os.path.dirname(program))
    _reseed()
    import runpy
    try:
        runpy.run_path(program, run_name="__main__")
        code = 0
    except SystemExit as error:  # as the interpreter turns it into an exit status
        code = _exit_status(error.code)
    except BaseException as error:  # noqa: BLE001 - as the interpreter reports an uncaught one
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != program:
            tb = tb.tb_next  # from the program's own frame on, as a plain start shows it
        traceback.print_exception(type(error), error, tb or error.__traceback__)
        code = 1
    _exit(code)


def _exit_status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _exit(code: int):
    """End as the interpreter would (other threads joined, atexit handlers run, output flushed),
    but without tearing down every imported module one by one: that alone takes about half a
    second with scikit-learn loaded, and the memory is returned with the process anyway."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # it reports a failing handler itself; the status stands
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _end_with_parent():
    """Be killed if the zygote dies (Linux's PR_SET_PDEATHSIG): the local AWS, which learns a
    program's exit status from the zygote, then reports it killed, and so it is."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the zygote died before the line above: go with it
        os.kill(os.getpid(), signal.SIGKILL)


def _reseed():
    """Fresh random state per program, as a new interpreter would have."""
    import random
    random.seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
