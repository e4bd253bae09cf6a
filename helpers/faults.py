"""Rehearsing failures on the local backend: make the next CreateTrainingJob calls fail with an
AWS error (throttling, a service limit...) and watch the workflow's Retry and Catch react.

    with helpers.faults.injected(aws, "CreateTrainingJob", "ThrottlingException", times=3,
                                 name_contains=execution_name) as fault:
        ...run the execution...
    fault["used"]  # how many calls it rejected

Faults fire a fixed number of times, only for requests naming `name_contains` (scope them to
one execution), expire after two minutes, and are cleared when the `with` block ends. AWS cannot
be told to throttle you, so this exists on the local backend only: on AWS, `injected` says so and
the block runs without a fault.
"""
from __future__ import annotations

import contextlib

from local_aws import faults as local_faults

KNOWN_ERRORS = tuple(local_faults.KNOWN_ERRORS)


UNAVAILABLE_ON_AWS = ("Fault injection exists on the local backend only: AWS cannot be told to "
                      "reject your calls. This run gets no injected errors.")


class FaultInjectionUnavailable(RuntimeError):
    pass


def _url(aws) -> str:
    if not aws.settings.is_local:
        raise FaultInjectionUnavailable(UNAVAILABLE_ON_AWS)
    return aws.endpoint_url


@contextlib.contextmanager
def injected(aws, operation: str, error: str, times: int, name_contains: str | None = None):
    """Arm a fault for the `with` block; the value bound by `as` reports "used" on exit."""
    if not aws.settings.is_local:
        print(UNAVAILABLE_ON_AWS)
        yield {"operation": operation, "error": error, "times": times, "used": 0}
        return
    with local_faults.injected(_url(aws), operation, error, times,
                               name_contains=name_contains) as fault:
        yield fault


def active(aws) -> list[dict]:
    """The faults armed right now (an empty list when none is)."""
    return local_faults.list_faults(_url(aws))


def clear(aws) -> list[dict]:
    """Disarm every fault; returns what was cleared."""
    return local_faults.clear(_url(aws))
