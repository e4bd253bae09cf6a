"""Workaround: moto 5.2.5 reports any `States.*` error raised inside a Map iteration or a
Parallel branch, or named by a Fail state (States.TaskFailed, States.QueryEvaluationError, ...), as
States.Runtime "Custom Error Names MUST NOT begin with the prefix 'States.'": both places wrap the
branch's error name in CustomErrorName, which refuses the States. prefix. On AWS the Map or
Parallel state fails with the branch's own error, which its Retry and Catch then match.

Seen when the server stops under a running Map (issue 17): the iterations' training jobs end
Stopped, or the interpreter can no longer reach the server, and each iteration's States.TaskFailed
or States.Runtime became States.Runtime "Custom Error Names MUST NOT begin with the prefix
'States.'" (tests/test_hardening.py reproduces it). A States.* name moto does not know is kept
as it was reported rather than raising."""
from __future__ import annotations

from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    ILLEGAL_CUSTOM_ERROR_PREFIX,
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import mock_eval_utils
from moto.stepfunctions.parser.asl.component.state.fail import state_fail


class ReportedErrorName(ErrorName):
    """A States.* error name moto has no constant for, kept as it was reported."""


def named(error_name: str | None):
    """The ErrorName object for an error name, States.* included; never raises."""
    if error_name is not None and error_name.startswith(ILLEGAL_CUSTOM_ERROR_PREFIX):
        try:
            return StatesErrorName.from_name(error_name)
        except (KeyError, ValueError):
            return ReportedErrorName(error_name=error_name)
    return CustomErrorName(error_name=error_name)


def install():
    # Both modules imported the class by name: rebinding it there is what counts.
    iteration_worker.CustomErrorName = named
    branches_decl.CustomErrorName = named
    state_fail.CustomErrorName = named
    mock_eval_utils.CustomErrorName = named  # a mocked error (TestState)
