"""Where AWS is: boto3 clients for the chosen backend, and the account they act in.

One code path: every notebook and helper talks to AWS through `Aws.client(...)`. The backend only
decides where those clients point: the local AWS (a loopback endpoint and the key pair it made
in its state directory: it answers no one else) or AWS itself (your credentials and region).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import boto3
from botocore.config import Config

from . import config, display
from local_aws import control

# Local calls fail fast instead of retrying against a server that is not there. No host prefix:
# botocore sends some operations (Step Functions' TestState: `sync-`) to `<prefix><endpoint
# host>`, which for http://127.0.0.1:PORT is the unresolvable host sync-127.0.0.1.
LOCAL_CLIENT_CONFIG = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60,
                             inject_host_prefix=False)


@dataclass(frozen=True)
class Aws:
    settings: config.Settings
    session: boto3.Session
    endpoint_url: str | None  # None on AWS
    _clients: dict = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def client(self, service: str):
        """A boto3 client for the service (made once per Aws, then reused)."""
        with self._lock:  # creating boto3 clients is not thread-safe
            if service not in self._clients:
                self._clients[service] = (
                    self.session.client(service, endpoint_url=self.endpoint_url,
                                        config=LOCAL_CLIENT_CONFIG)
                    if self.endpoint_url else self.session.client(service))
            return self._clients[service]

    @cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def bucket(self) -> str:
        return self.settings.bucket or config.default_bucket(self.account_id, self.region)

    def describe(self) -> str:
        where = (f"the local AWS at {self.endpoint_url}" if self.endpoint_url
                 else f"AWS account {self.account_id}")
        return f"{where}, region {self.region}"


def start_local(settings: config.Settings, quiet: bool = False) -> control.ServerInfo:
    """Find the local AWS, or start it (its state starts empty: notebooks re-create what they
    need)."""
    gone = control.previous_server_gone(settings.state_dir)
    info, started = control.start(settings.state_dir, settings.local_port)
    if started and not quiet:
        if gone:
            print(f"The local AWS that was running (pid {gone['pid']}) is gone: stopped or "
                  "killed, and its state with it. Started a new one; this notebook's Setup cell "
                  "re-creates what it needs.")
        # No path of this machine in a notebook's output: the status command names the log.
        print(f"Started the local AWS at {info.url} (pid {info.pid}; "
              "`python -m helpers local status` shows its log file).")
    return info


def local_session(settings: config.Settings) -> boto3.Session:
    """A boto3 session signed with the local AWS's own key pair, read from its state directory
    (only its owner can read it; the server refuses every other key)."""
    return boto3.Session(region_name=settings.region,
                         **control.credentials(settings.state_dir).for_boto3())


def connect(quiet: bool = False) -> Aws:
    """Clients for the configured backend; starts the local AWS if it is not running.
    (It also makes tables show ARNs and S3 URIs whole.)"""
    display.configure_tables()
    settings = config.settings()
    if settings.is_local:
        info = start_local(settings, quiet=quiet)
        return Aws(settings, local_session(settings), info.url)
    return Aws(settings, boto3.Session(region_name=settings.region), None)
