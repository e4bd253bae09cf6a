"""Workflow variables (`Assign`) in moto's interpreter: five workarounds.

- moto stores a state's Assign before evaluating its Output, so Output reads the new values; on
  AWS "variables are assigned after Output is evaluated" (both read the values of state entry).
- moto 5.2.5 keeps an `Assign` string literal as its raw JSON text: `"say \\"hi\\""` is stored
  with its backslashes (every other string literal is unescaped). Fixed at parse time.
- The history's `assignedVariables` are "a serialized JSON representation" of each value (API
  reference, StateExitedEventDetails); moto writes strings as `f'"{value}"'`, which is not JSON
  for a value holding a quote or a newline. Written with json.dumps here.
- Assigning an outer-scope variable inside a Map iteration or a Parallel branch (AWS: "cannot
  assign") escapes moto as a Python error; it fails the state with States.Runtime here.
- AWS's size limits are not enforced by moto: a single variable, and all variables of one Assign
  field, at most 256 KiB; everything stored in an execution at most 10 MiB
  (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html). Past them the
  state fails with States.DataLimitExceeded, the error AWS reports for data over a quota (which,
  as AWS documents for that error, no Catch with States.ALL catches).
"""
from __future__ import annotations

import json

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.antlt4utils.antlr4utils import from_string_literal
from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_terminal import (  # noqa: E501
    AssignTemplateValueTerminalLit,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

MAX_VARIABLE_BYTES = 256 * 1024
MAX_ASSIGN_BYTES = 256 * 1024
MAX_EXECUTION_VARIABLES_BYTES = 10 * 1024 * 1024


def size_of(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _data_limit_exceeded(env, cause: str):
    _fail(env, StatesErrorNameType.StatesStatesDataLimitExceeded, cause)


def _fail(env, error_type, cause: str):
    error = error_type.to_name()
    raise FailureEventException(FailureEvent(
        env=env, error_name=StatesErrorName(typ=error_type),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
            error=error, cause=cause))))


def check_sizes(env, declarations: dict):
    """AWS's limits for the values one Assign field is about to store."""
    for name, value in declarations.items():
        if size_of(value) > MAX_VARIABLE_BYTES:
            _data_limit_exceeded(env, f"The value assigned to the variable '{name}' is larger "
                                      f"than {MAX_VARIABLE_BYTES} bytes.")
    if size_of(declarations) > MAX_ASSIGN_BYTES:
        _data_limit_exceeded(env, f"The variables assigned by this state are larger than "
                                  f"{MAX_ASSIGN_BYTES} bytes together.")
    store = env.variable_store
    stored = {**store._outer_scope, **store._inner_scope, **declarations}
    if size_of(stored) > MAX_EXECUTION_VARIABLES_BYTES:
        _data_limit_exceeded(env, f"The variables of this execution would be larger than "
                                  f"{MAX_EXECUTION_VARIABLES_BYTES} bytes.")


def _pending(store) -> dict:
    if not hasattr(store, "pending_assignments"):
        store.pending_assignments = {}
    return store.pending_assignments


def _eval_assign(self, env):
    # Every binding is evaluated with the values of state entry, as in moto; the values are
    # stored when the state ends (see _eval_state), so that its Output, evaluated after its
    # Assign by moto, still reads the values of state entry, as on AWS.
    declarations = {}
    for declaration_binding in self.declaration_bindings:
        declaration_binding.eval(env=env)
        declarations.update(env.stack.pop())
    check_sizes(env, declarations)
    store = env.variable_store
    for identifier in declarations:
        if identifier in store._outer_scope:
            # moto raises a Python error here, which its Map state then reports as "Custom
            # Error Names MUST NOT begin with the prefix 'States.'".
            _fail(env, StatesErrorNameType.StatesRuntime,
                  f"The variable '{identifier}' belongs to an outer scope: a Map iteration or a "
                  "Parallel branch can read it but not assign it.")
    store._declaration_tracing.update(declarations)
    _pending(store).update(declarations)


def _eval_state(original):
    def eval_body(self, env):
        store = env.variable_store
        try:
            original(self, env)
        except BaseException:
            _pending(store).clear()  # a state that fails assigns nothing
            raise
        pending = _pending(store)
        for identifier, value in pending.items():
            store.set(variable_identifier=identifier, variable_value=value)
        pending.clear()
    return eval_body


def _assigned_variables(self) -> dict[str, str]:
    pending = _pending(self)
    return {name: json.dumps(pending[name] if name in pending else self.get(name),
                             separators=(",", ":"), ensure_ascii=False)
            for name in self._declaration_tracing}


def _visit_assign_string_literal(self, ctx):
    return AssignTemplateValueTerminalLit(value=from_string_literal(ctx.string_literal()))


_installed = False
# moto's own functions that install() replaces, for the tests that notice when moto fixes them.
MOTO_ORIGINALS: dict = {}


def install():
    global _installed
    if _installed:
        return
    _installed = True
    MOTO_ORIGINALS.update(get_assigned_variables=VariableStore.get_assigned_variables)
    AssignDecl._eval_body = _eval_assign
    CommonStateField._eval_body = _eval_state(CommonStateField._eval_body)
    VariableStore.get_assigned_variables = _assigned_variables
    Preprocessor.visitAssign_template_value_terminal_string_literal = \
        _visit_assign_string_literal
