"""Executions in moto's Step Functions (its parser backend): workarounds and additions.

- StartExecution without a name: moto's parser backend names the execution `None` (ARN ending in
  `:None`, `$$.Execution.Name` null, a second unnamed start fails with ExecutionAlreadyExists).
  AWS names it with a UUID (API reference, StartExecution: "If you don't provide a name ... a
  universally unique identifier (UUID)"); the Data Science SDK's `workflow.execute()` relies on it.
- An execution whose output is a JSON string (`"done"`) is described with the bare text (`done`),
  which is not JSON: moto's DescribeExecution passes a `str` output through unencoded.
"""
from __future__ import annotations

import uuid

from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.test_state.execution import TestStateExecution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend


def _start_execution(original):
    def start_execution(self, state_machine_arn, name=None, execution_input=None,
                        trace_header=None):
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input,
                        trace_header)
    return start_execution


def _reflect_execution_status(original):
    def reflect(self):
        original(self)
        execution = self.execution
        if isinstance(execution, TestStateExecution):
            return  # TestState writes its own output
        if execution.exec_status is not None and execution.exec_status.value == "SUCCEEDED":
            execution.output = to_json_str(execution.output)  # a JSON text, whatever the value
    return reflect


_installed = False
# moto's own functions that install() replaces, for the tests that notice when moto fixes them.
MOTO_ORIGINALS: dict = {}


def install():
    global _installed
    if _installed:
        return
    _installed = True
    MOTO_ORIGINALS.update(start_execution=StepFunctionsParserBackend.start_execution)
    StepFunctionsParserBackend.start_execution = _start_execution(
        StepFunctionsParserBackend.start_execution)
    BaseExecutionWorkerCommunication._reflect_execution_status = _reflect_execution_status(
        BaseExecutionWorkerCommunication._reflect_execution_status)
