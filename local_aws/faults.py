"""Fault injection: make the local SageMaker reject the next calls of one operation with an AWS
error, to watch Retry and Catch work (AWS itself cannot be asked to throttle you on demand).

A fault is always bounded, so it cannot be left on by accident:
- it fires a fixed number of `times` (at most 100), then is gone;
- it can be scoped to requests whose name (e.g. TrainingJobName) contains a string, such as the
  execution's name, so a fault armed for one execution never hits another;
- it expires after `ttl_seconds` (default 120) even if nobody clears it;
- `injected(...)` is a context manager that clears it on exit, whatever happens inside.

Server side: `FaultInjector`, consulted by the API before each SageMaker operation.
Client side: `arm`, `list_faults`, `clear`, `injected`, speaking to the server's admin API
(`/_tutorial/faults`).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

MAX_TIMES = 100
DEFAULT_TTL_SECONDS = 120
# Error code -> (HTTP status, AWS's message) for the errors worth rehearsing.
KNOWN_ERRORS = {
    "ThrottlingException": (400, "Rate exceeded"),
    "ResourceLimitExceeded": (400, "The account-level service limit for training jobs is "
                                   "exceeded (injected by the local AWS)."),
    "InternalFailure": (500, "An internal error occurred (injected by the local AWS)."),
    "ServiceUnavailable": (503, "Service is unavailable (injected by the local AWS)."),
    "AccessDeniedException": (400, "User is not authorized to perform this action (injected by "
                                   "the local AWS)."),
}
# The request field that names the resource, per operation (for `name_contains`).
NAME_FIELDS = {"CreateTrainingJob": "TrainingJobName", "DescribeTrainingJob": "TrainingJobName",
               "StopTrainingJob": "TrainingJobName", "DescribeEndpoint": "EndpointName"}


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    id: int
    operation: str
    error: str
    status: int
    message: str
    times: int
    name_contains: str | None
    expires_at: float
    used: int = 0
    armed_at: float = field(default_factory=time.time)

    @property
    def active(self) -> bool:
        return self.used < self.times and time.time() < self.expires_at

    def matches(self, operation: str, request: dict) -> bool:
        if operation != self.operation or not self.active:
            return False
        if self.name_contains is None:
            return True
        return self.name_contains in str(request.get(NAME_FIELDS.get(operation, ""), ""))


class FaultInjector:
    """The server's armed faults (thread-safe)."""

    def __init__(self):
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def arm(self, operation: str, error: str, times: int, name_contains: str | None = None,
            message: str | None = None, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> Fault:
        if operation not in NAME_FIELDS:
            raise FaultError(f"operation must be one of {', '.join(NAME_FIELDS)}; got "
                             f"{operation!r}")
        if error not in KNOWN_ERRORS:
            raise FaultError(f"error must be one of {', '.join(KNOWN_ERRORS)}; got {error!r}")
        if not isinstance(times, int) or not 1 <= times <= MAX_TIMES:
            raise FaultError(f"times must be an integer from 1 to {MAX_TIMES}; got {times!r}")
        if not 0 < float(ttl_seconds) <= 3600:
            raise FaultError("ttl_seconds must be more than 0 and at most 3600")
        status, default_message = KNOWN_ERRORS[error]
        fault = Fault(id=next(self._ids), operation=operation, error=error, status=status,
                      message=message or default_message, times=times,
                      name_contains=name_contains, expires_at=time.time() + float(ttl_seconds))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, operation: str, request: dict) -> Fault | None:
        """The fault that fires for this request, if any (counting it as used)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(operation, request):
                    fault.used += 1
                    return fault
        return None

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.active]

    def clear(self, fault_id: int | None = None) -> list[Fault]:
        with self._lock:
            cleared = [f for f in self._faults if fault_id in (None, f.id)]
            self._faults = [f for f in self._faults if f not in cleared]
            return cleared

    def admin(self, method: str, path: str, body: dict):
        """The `/_tutorial/faults[/<id>]` admin routes: (status, JSON body)."""
        fault_id = path.rstrip("/").rsplit("/", 1)[-1]
        fault_id = int(fault_id) if fault_id.isdigit() else None
        if method == "GET":
            return 200, {"faults": [asdict(f) for f in self.active()]}
        if method == "POST":
            try:
                fault = self.arm(**body)
            except (FaultError, TypeError, ValueError) as error:
                return 400, {"message": str(error)}
            return 200, {"fault": asdict(fault)}
        if method == "DELETE":
            return 200, {"cleared": [asdict(f) for f in self.clear(fault_id)]}
        return 405, {"message": f"{method} is not allowed here"}


# ---- client side --------------------------------------------------------------------------

def _call(url: str, method: str, path: str = "", body: dict | None = None) -> dict:
    # The admin API is signed like every request (auth.py), with the server's key pair.
    from .auth import credentials_for, signed_headers
    target = f"{url}/_tutorial/faults{path}"
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(
        target, method=method, data=data or None,
        headers=signed_headers(credentials_for(url), method, target, data,
                               {"Content-Type": "application/json"}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise FaultError(json.loads(error.read()).get("message", str(error))) from None


def arm(url: str, operation: str, error: str, times: int, name_contains: str | None = None,
        message: str | None = None, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> dict:
    body = {"operation": operation, "error": error, "times": times, "ttl_seconds": ttl_seconds,
            "name_contains": name_contains, "message": message}
    return _call(url, "POST", body=body)["fault"]


def list_faults(url: str) -> list[dict]:
    return _call(url, "GET")["faults"]


def clear(url: str, fault_id: int | None = None) -> list[dict]:
    return _call(url, "DELETE", f"/{fault_id}" if fault_id else "")["cleared"]


@contextlib.contextmanager
def injected(url: str, operation: str, error: str, times: int, **options):
    """Arm a fault for the duration of a `with` block; it is cleared on exit. The value bound by
    `as` is a dict whose "used" is filled in on exit: how many requests the fault rejected."""
    fault = arm(url, operation, error, times, **options)
    try:
        yield fault
    finally:
        cleared = clear(url, fault["id"])
        fault["used"] = cleared[0]["used"] if cleared else 0
