"""The local AWS as one server: moto (Step Functions executing real ASL, S3, IAM, SNS, SQS, ECR,
CloudWatch Logs, STS...) with our SageMaker in front and registered with the interpreter.

Run as a process with `python -m local_aws.server --port N --state-dir DIR` (what
`python -m helpers local start` does), or in a thread with `LocalAwsServer(...).start()` (tests).
It listens on 127.0.0.1 only, and answers only requests signed with the key pair in its state
directory (auth.py); its own calls back into itself (and moto's interpreter's) are signed too.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import threading
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from werkzeug.serving import make_server

from . import auth, moto_hooks
from .api import LocalAwsApp
from .control import HOST, STATE_FILE
from .faults import FaultInjector
from .hosting import LocalHosting
from .moto_hooks.config import DEFAULT_ACCOUNT_ID, QuietRequestHandler, moto_app
from .processing import LocalProcessing
from .sagemaker import LocalSageMaker
from .stepfunctions_sagemaker import SageMakerIntegration
from .transform import LocalTransform

class ClientFactory:
    """boto3 clients of this local AWS, for the server's own calls (S3 downloads, logs...).
    `for_tasks=True` makes the clients a Task state calls a service with: the request goes out
    as it is (the service judges it, not boto3) and is tried once (the state's Retry decides)."""

    def __init__(self, endpoint_url: str, credentials: auth.LocalCredentials,
                 for_tasks: bool = False):
        self._endpoint_url = endpoint_url
        self._config = (Config(parameter_validation=False, retries={"total_max_attempts": 1},
                               read_timeout=3600, inject_host_prefix=False) if for_tasks
                        else Config(retries={"max_attempts": 1}, inject_host_prefix=False))
        self._session = boto3.session.Session(**credentials.for_boto3())
        self._lock = threading.Lock()
        self._cache = {}

    def __call__(self, service: str, region: str):
        with self._lock:  # boto3 client creation is not thread-safe
            key = (service, region)
            if key not in self._cache:
                self._cache[key] = self._session.client(
                    service, region_name=region, endpoint_url=self._endpoint_url,
                    config=self._config)
            return self._cache[key]


class AnotherServerRuns(RuntimeError):
    """A second LocalAwsServer in a process where one already serves."""


class LocalAwsServer:
    """The local AWS. One per process: it sets moto's process-wide configuration (the port
    moto's Step Functions interpreter calls back on, the SageMaker integration it runs Task
    states with), so a second one on another port would have its workflows call the first.
    Starting a second raises AnotherServerRuns; after `stop()` a new one may start."""

    _current: "LocalAwsServer | None" = None
    _current_lock = threading.Lock()

    def __init__(self, port: int = 0, state_dir: Path | str = ".local-aws",
                 max_parallel_jobs: int | None = None):
        self._claim_the_process()
        self.state_dir = Path(state_dir).resolve()
        self.credentials = auth.ensure_credentials(self.state_dir)  # makes the dir 0700 too
        (self.state_dir / "jobs").mkdir(mode=0o700, parents=True, exist_ok=True)
        self.instance = uuid.uuid4().hex
        self.started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        # Bind first: with port 0 the OS picks a free port, which everything below must know.
        self._http = make_server(HOST, port, self._dispatch, threaded=True,
                                 request_handler=QuietRequestHandler)
        self.port = self._http.server_port
        self.url = f"http://{HOST}:{self.port}"
        moto_hooks.install(self.port)
        moto_hooks.sign_interpreter_calls(self.credentials)
        auth.remember(self.url, self.credentials)
        clients = ClientFactory(self.url, self.credentials)
        moto_hooks.register_integration(SageMakerIntegration(
            ClientFactory(self.url, self.credentials, for_tasks=True)))
        jobs = max_parallel_jobs or int(os.environ.get("TUTORIAL_LOCAL_MAX_TRAINING_JOBS", 0)) \
            or os.cpu_count() or 1
        self.sagemaker = LocalSageMaker(clients, DEFAULT_ACCOUNT_ID,
                                        self.state_dir / "jobs", max_parallel_jobs=jobs)
        self.hosting = LocalHosting(clients, DEFAULT_ACCOUNT_ID,
                                    self.state_dir / "jobs")
        # The other job kinds share training's local limit (sagemaker.slots).
        self.transform = LocalTransform(clients, DEFAULT_ACCOUNT_ID, self.state_dir / "jobs",
                                        self.sagemaker.slots, self.hosting)
        self.processing = LocalProcessing(clients, DEFAULT_ACCOUNT_ID, self.state_dir / "jobs",
                                          self.sagemaker.slots)
        self.faults = FaultInjector()
        self.app = LocalAwsApp(moto_app(), self.sagemaker,
                               self.hosting, self.faults, self._admin,
                               job_kinds=self.job_kinds(),
                               signature_checker=auth.SignatureChecker(self.credentials))
        self._thread = None
        self._serving = True  # set up: the process is this server's until stop()

    def _claim_the_process(self):
        with LocalAwsServer._current_lock:
            running = LocalAwsServer._current
            if running is not None and getattr(running, "_serving", False):
                raise AnotherServerRuns(
                    f"A local AWS already runs in this process ({running.url}, state "
                    f"{running.state_dir}): one LocalAwsServer per process, because moto's "
                    "configuration is process-wide. Stop it first (server.stop()), or start "
                    "another as a process of its own: python -m local_aws.server --port N")
            LocalAwsServer._current = self  # a server whose set-up failed does not count

    def job_kinds(self) -> tuple:
        """The SageMaker job kinds besides training, each with its API operations."""
        return (self.transform, self.processing)

    def _dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def _admin(self, method: str, path: str, body: dict):
        if path == "/_tutorial/health":
            return 200, self.info()
        if path == "/_tutorial/faults" or path.startswith("/_tutorial/faults/"):
            return self.faults.admin(method, path, body)
        return 404, {"message": f"no admin route {method} {path}"}

    def info(self) -> dict:
        return {"instance": self.instance, "pid": os.getpid(), "port": self.port, "url": self.url,
                "started": self.started,
                "training_programs_running": self.sagemaker.running_programs(),
                "endpoints_serving": self.hosting.running_programs(),
                "other_job_programs_running": sum(kind.running_programs()
                                                  for kind in self.job_kinds()),
                "max_parallel_training_jobs": self.sagemaker.max_parallel_jobs}

    def serve_forever(self):
        self._http.serve_forever()

    def start(self) -> "LocalAwsServer":
        """Serve from a background thread (for tests and embedding)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="local-aws")
        self._thread.start()
        return self

    def stop(self):
        self.sagemaker.shutdown()
        for kind in self.job_kinds():
            kind.shutdown()
        self.hosting.shutdown()
        self._http.shutdown()
        self._http.server_close()
        if self._thread:
            self._thread.join(timeout=10)
        self._serving = False


def write_state(server: LocalAwsServer, log_file: str | None):
    """Record where the server is, atomically, for `local status` and the notebooks to find."""
    state = {**server.info(), "log": log_file}
    tmp = server.state_dir / (STATE_FILE + ".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(json.dumps(state, indent=2))
    tmp.replace(server.state_dir / STATE_FILE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", default=".local-aws")
    parser.add_argument("--log-file")
    args = parser.parse_args(argv)
    # Everything this process and its programs write (jobs, models, logs) is its owner's alone.
    os.umask(0o077)
    server = LocalAwsServer(port=args.port, state_dir=args.state_dir)

    def shut_down(*_):
        # serve_forever() must be stopped from another thread.
        threading.Thread(target=server._http.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    write_state(server, args.log_file)
    print(f"Local AWS listening on {server.url} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.sagemaker.shutdown()
        server.hosting.shutdown()
        state_file = server.state_dir / STATE_FILE
        try:
            if json.loads(state_file.read_text()).get("instance") == server.instance:
                state_file.unlink()
        except (OSError, ValueError):
            pass
        print("Local AWS stopped", flush=True)


if __name__ == "__main__":
    main()
