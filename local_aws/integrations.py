"""What a Step Functions optimized service integration (`arn:aws:states:::<service>:<action>`)
does, in the local AWS's own terms; `moto_hooks.stepfunctions.TaskService` connects one to moto's
interpreter.

An integration says which actions (and which with `.sync`) it offers and which request fields each
takes, makes the call, for `.sync` polls until the job ends, and names errors as Step Functions
does (`<Service>.<Code>Exception`, `States.TaskFailed`).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable


class TaskFailed(Exception):
    """A `.sync` job that ran and failed (or was stopped): the state fails with
    States.TaskFailed, and `cause` (the job's description, as JSON) is the Cause."""

    def __init__(self, cause):
        super().__init__("task failed")
        self.cause = cause


class TaskIntegration:
    service: str = ""

    def parameters(self, action: str, sync: bool) -> set[str] | None:
        """The request fields `action` takes, or None if it is not offered (with `.sync`, if
        `sync`)."""
        raise NotImplementedError

    def offered(self) -> list[str]:
        """The Task resources (`arn:aws:states:::<service>:<action>[.sync]`) offered."""
        return []

    def call(self, region: str, action: str, parameters: dict) -> dict:
        """Make the request; its response is the state's result (without `.sync`)."""
        raise NotImplementedError

    def sync_poller(self, region: str, action: str, parameters: dict,
                    response: dict) -> Callable[[], dict | None]:
        """For `.sync`: a function that returns the state's result once the job has ended well,
        None while it runs, and raises TaskFailed when it failed."""
        raise NotImplementedError

    def error(self, exception: Exception) -> tuple[str, str] | None:
        """(error name, cause) for an exception of `call` or the poller, or None to let the
        interpreter name it."""
        return None


def to_state_output(value):
    """Boto3 response -> what Step Functions passes on: timestamps as epoch milliseconds, no
    ResponseMetadata."""
    if isinstance(value, dict):
        return {k: to_state_output(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [to_state_output(v) for v in value]
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return value
