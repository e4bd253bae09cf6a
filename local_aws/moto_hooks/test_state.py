"""Step Functions' TestState API on moto's interpreter (moto 5.2.5 has the pieces, copied from
LocalStack: a TestState parser, environment and execution, but its HTTP layer answers 404).

What AWS documents (API reference, TestState; developer guide, "Testing states with TestState"
https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html) and is done here:
- one state, given alone or picked from a whole definition with `stateName`;
- `input`, `variables`, `inspectionLevel` INFO (output, status, nextState), DEBUG (also the
  data-processing steps: input, afterInputPath, afterParameters / afterArguments, result,
  afterResultSelector, afterResultPath, variables) and TRACE (the same, no HTTP tasks here);
- `mock`: a Task's `result` (a JSON string) or `errorOutput` ({error, cause}) instead of calling
  the service; a mock is refused for Pass, Wait, Choice, Succeed and Fail states, and required for
  `.sync` / `.waitForTaskToken` tasks, as on AWS. A mocked error that a Retry matches ends
  RETRIABLE, one a Catch matches CAUGHT_ERROR (with the catcher's Next), as AWS reports them.
Not done (refused with a ValidationException naming it): Map and Parallel states, `context`,
`stateConfiguration`, `revealSecrets` (no HTTP tasks locally).
"""
from __future__ import annotations

import copy
import datetime as dt
import json

from moto.stepfunctions.parser.api import InspectionLevel
from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore
from moto.stepfunctions.parser.backend.state_machine import TestStateMachine
from moto.stepfunctions.parser.backend.test_state.execution import TestStateExecution
from moto.stepfunctions.parser.backend.test_state.execution_worker import (
    TestStateExecutionWorker,
)
from moto.stepfunctions.parser.mocking.mock_config import (
    MockedResponseReturn,
    MockedResponseThrow,
    MockTestCase,
    StateMockedResponses,
)

NOT_MOCKABLE = ("Pass", "Wait", "Choice", "Succeed", "Fail")
STATE_NAME = "TestState"  # what moto's TestState parser calls the state under test


class TestStateRefused(Exception):
    """AWS's ValidationException for a TestState request."""


def _refuse(message: str):
    raise TestStateRefused(message)


def _state_under_test(definition: dict, state_name: str | None) -> dict:
    if state_name is None:
        if "States" in definition and "Type" not in definition:
            _refuse("The definition is a state machine: name the state to test with stateName.")
        return definition
    found = _find_state(definition.get("States", {}), state_name)
    if found is None:
        _refuse(f"State '{state_name}' was not found in the definition.")
    state = copy.deepcopy(found)
    if "QueryLanguage" in definition and "QueryLanguage" not in state:
        state["QueryLanguage"] = definition["QueryLanguage"]
    return state


def _find_state(states: dict, name: str):
    if name in states:
        return states[name]
    for state in states.values():
        for nested in [*state.get("Branches", []), state.get("ItemProcessor") or {},
                       state.get("Iterator") or {}]:
            found = _find_state(nested.get("States", {}), name)
            if found is not None:
                return found
    return None


def _check(state: dict, mock: dict | None, request: dict):
    state_type = state.get("Type")
    for field in ("context", "stateConfiguration"):
        if request.get(field):
            _refuse(f"The local AWS does not support TestState's {field}.")
    if mock is not None and state_type in NOT_MOCKABLE:
        _refuse(f"State type '{state_type}' is not supported when a mock is specified")
    if state_type in ("Map", "Parallel"):
        _refuse(f"The local AWS does not support TestState for {state_type} states.")
    resource = state.get("Resource", "")
    if state_type == "Task" and mock is None and (
            resource.endswith(".sync") or resource.endswith(".sync:2")
            or resource.endswith(".waitForTaskToken") or ":activity:" in resource):
        _refuse(f"A mock is required to test the resource {resource} with TestState.")


class _Worker(TestStateExecutionWorker):
    variables: dict = {}
    mock_test_case: MockTestCase | None = None

    def _get_evaluation_environment(self):
        env = super()._get_evaluation_environment()
        store = VariableStore()
        for name, value in self.variables.items():
            store.set(name, value)
        store.reset_tracing()
        env.variable_store = store
        env.mock_test_case = self.mock_test_case
        return env


class _Execution(TestStateExecution):
    worker_settings: dict = {}

    def _get_start_execution_worker(self):
        worker = super()._get_start_execution_worker()
        worker.__class__ = _Worker
        worker.variables = self.worker_settings["variables"]
        worker.mock_test_case = self.worker_settings["mock"]
        return worker


def _mock_test_case(mock: dict | None) -> MockTestCase | None:
    """The mock as moto's mocked mode takes it: the same answer for every try."""
    if mock is None:
        return None
    if "errorOutput" in mock:
        error = mock["errorOutput"]
        response = MockedResponseThrow(0, 99, error.get("error"), error.get("cause"))
    elif "result" in mock:
        try:
            response = MockedResponseReturn(0, 99, json.loads(mock["result"]))
        except ValueError:
            _refuse("The mocked result is not valid JSON.")
    else:
        _refuse("A mock needs a result or an errorOutput.")
    return MockTestCase("TestState", "TestState",
                        [StateMockedResponses(STATE_NAME, "mock", [response])])


def test_state(request: dict, account: str, region: str) -> dict:
    try:
        definition = json.loads(request.get("definition") or "")
        execution_input = json.loads(request.get("input") or "{}")
        variables = json.loads(request.get("variables") or "{}")
    except ValueError as error:
        _refuse(f"Invalid JSON in the request: {error}")
    if not isinstance(definition, dict) or not isinstance(variables, dict):
        _refuse("The definition and the variables must be JSON objects.")
    mock = request.get("mock")
    state = _state_under_test(definition, request.get("stateName"))
    _check(state, mock, request)
    worker_state = copy.deepcopy(state)
    # Retry and Catch are reported (RETRIABLE, CAUGHT_ERROR), not followed: the state is run
    # alone, once.
    retriers, catchers = worker_state.pop("Retry", []), worker_state.pop("Catch", [])
    if worker_state.pop("Next", None) is not None:
        worker_state["End"] = True  # moto's TestState program ends only at an End
    name = "TestState-local"
    arn = f"arn:aws:states:{region}:{account}:stateMachine:{name}"
    machine = TestStateMachine(name=name, arn=arn, role_arn=request.get("roleArn"),
                               definition=json.dumps(worker_state))
    execution = _Execution(name=name, role_arn=request.get("roleArn"),
                           exec_arn=f"arn:aws:states:{region}:{account}:execution:{name}:{name}",
                           account_id=account, region_name=region, state_machine=machine,
                           start_date=dt.datetime.now(tz=dt.timezone.utc),
                           input_data=json.dumps(execution_input), activity_store={})
    execution.worker_settings = {"variables": variables, "mock": _mock_test_case(mock)}
    execution.start()
    level = request.get("inspectionLevel") or "INFO"
    output = execution.to_test_state_output(inspection_level=InspectionLevel(level))
    env = execution.exec_worker.env
    result = {key: value for key, value in output.items()
              if key in ("output", "error", "cause", "nextState", "status")}
    result["status"] = str(result.get("status", "FAILED").value
                           if hasattr(result.get("status"), "value") else result.get("status"))
    if "output" in result:  # compact, as AWS writes it
        result["output"] = json.dumps(json.loads(result["output"]), separators=(",", ":"))
    if result["status"] == "SUCCEEDED" and "nextState" not in result and state.get("Next"):
        result["nextState"] = state["Next"]
    if result["status"] == "FAILED":
        result.update(_handled(result, retriers, catchers, execution_input, state))
    if level in ("DEBUG", "TRACE"):
        inspection = dict(output.get("inspectionData") or {})
        if state.get("QueryLanguage") == "JSONata" and "afterParameters" in inspection:
            inspection["afterArguments"] = inspection.pop("afterParameters")
        if state.get("QueryLanguage") == "JSONata" and "Arguments" in state \
                and "afterArguments" not in inspection:
            arguments = _evaluated_arguments(state, request, account, region)
            if arguments is not None:
                inspection["afterArguments"] = arguments
        assigned = {**variables, **_assigned(env)}
        if assigned:
            inspection["variables"] = json.dumps(assigned, separators=(",", ":"))
        result["inspectionData"] = inspection
    return result


def _evaluated_arguments(state: dict, request: dict, account: str, region: str) -> str | None:
    """A JSONata Task's Arguments as evaluated (AWS's afterArguments), which moto's TestState
    does not record: the same expressions, input and variables, evaluated as a Pass state's
    Output by the same interpreter."""
    as_output = {"QueryLanguage": "JSONata", "Type": "Pass", "Output": state["Arguments"],
                 "End": True}
    evaluated = test_state({"definition": json.dumps(as_output), "input": request.get("input"),
                            "variables": request.get("variables")}, account, region)
    return evaluated.get("output") if evaluated["status"] == "SUCCEEDED" else None


def _assigned(env) -> dict:
    store = env.variable_store
    return {name: store.get(name) for name in store._declaration_tracing}


def _matches(rule: dict, error: str) -> bool:
    names = rule.get("ErrorEquals", [])
    return error in names or ("States.ALL" in names and error != "States.Runtime")


def _handled(result: dict, retriers: list, catchers: list, state_input, state: dict) -> dict:
    """What AWS's TestState says of a failure its Retry or Catch handles."""
    error = result.get("error", "")
    for index, retrier in enumerate(retriers):
        if _matches(retrier, error):
            return {"status": "RETRIABLE"}
    for index, catcher in enumerate(catchers):
        if _matches(catcher, error):
            error_output = {"Error": error, "Cause": result.get("cause", "")}
            path = catcher.get("ResultPath", "$")
            if state.get("QueryLanguage") == "JSONata" or path == "$":
                output = error_output
            elif path is None:
                output = state_input
            else:
                output = dict(state_input, **{path[2:]: error_output}) \
                    if isinstance(state_input, dict) and path.startswith("$.") \
                    and "." not in path[2:] else error_output
            return {"status": "CAUGHT_ERROR", "nextState": catcher["Next"],
                    "output": json.dumps(output, separators=(",", ":"))}
    return {}
