"""Workflow variables (Assign) in the local Step Functions, as the developer guide documents them:
https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html"""
import json

from tests.conftest import run_state_machine
from tests.local_aws.test_jsonata import output_of, run


def test_assigned_values_are_seen_from_the_next_state_on(aws):
    """"Variables are assigned ... after the state's Output is evaluated": in one state, Output
    reads the value from before its Assign."""
    states = {"A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
              "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"}, "Output": {"old": "{% $x %}"},
                    "Next": "C"},
              "C": {"Type": "Pass", "Output": {"before": "{% $states.input.old %}",
                                               "now": "{% $x %}"}, "End": True}}
    described, events = run(aws, states)
    assert json.loads(described["output"]) == {"before": 1, "now": 2}
    exited = [e["stateExitedEventDetails"] for e in events if e["type"] == "PassStateExited"]
    assert exited[0]["assignedVariables"] == {"x": "1"}
    assert exited[1]["assignedVariables"] == {"x": "2"}


def test_the_documented_assign_example_and_any_string(aws):
    """The page's example Assign, and a value that needs escaping in the history's JSON."""
    states = {"A": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42,
                                               "available": True, "note": "a \"quoted\"\nline"},
                    "Next": "B"},
              "B": {"Type": "Pass", "End": True, "Output": {
                  "all": "{% [$productName, $count, $available, $note] %}"}}}
    described, events = run(aws, states)
    assert json.loads(described["output"])["all"] == ["product1", 42, True, "a \"quoted\"\nline"]
    assigned = next(e for e in events if e["type"] == "PassStateExited")[
        "stateExitedEventDetails"]["assignedVariables"]
    assert {name: json.loads(value) for name, value in assigned.items()} == {
        "productName": "product1", "count": 42, "available": True, "note": "a \"quoted\"\nline"}


def test_map_iterations_read_outer_variables_and_keep_their_own(aws):
    """"Variable scope": an iteration reads the outer scope; what it assigns stays in it."""
    states = {"A": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "M"},
              "M": {"Type": "Map", "Items": [1, 2, 3], "Next": "After", "ItemProcessor": {
                  "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {
                      "I": {"Type": "Pass", "Assign": {"mine": "{% $states.input %}"},
                            "Next": "J"},
                      "J": {"Type": "Pass", "Output": "{% $mine * $factor %}", "End": True}}}},
              "After": {"Type": "Pass", "End": True,
                        "Output": {"results": "{% $states.input %}", "factor": "{% $factor %}"}}}
    described, _ = run(aws, states)
    assert json.loads(described["output"]) == {"results": [10, 20, 30], "factor": 10}


def test_a_parallel_branch_cannot_assign_an_outer_variable(aws):
    states = {"A": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "P"},
              "P": {"Type": "Parallel", "End": True, "Branches": [{
                  "StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"factor": 2},
                                                   "End": True}}}]}}
    described, _ = run(aws, states)
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert "'factor' belongs to an outer scope" in described["cause"]


def test_a_task_failure_inside_map_keeps_its_error_name(aws):
    """A Map fails with its iteration's error (here States.TaskFailed), which Catch matches."""
    states = {"M": {"Type": "Map", "Items": [1], "End": True,
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "F",
                                      "States": {"F": {"Type": "Fail",
                                                       "Error": "States.TaskFailed"}}}},
              "Caught": {"Type": "Pass", "Output": "{% $states.input.Error %}", "End": True}}
    described, events = run(aws, states, start="M")
    assert described["status"] == "SUCCEEDED", (described, [e["type"] for e in events])
    assert json.loads(described["output"]) == "States.TaskFailed"


def test_size_limits(aws):
    """At most 256 KiB per variable (and per Assign field), 10 MiB per execution."""
    too_big = "{% $join($map([1..270000], function($v) {'x'}), '') %}"
    described, _ = run(aws, {"A": {"Type": "Pass", "Assign": {"big": too_big}, "End": True}})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"
    assert "'big' is larger than 262144 bytes" in described["cause"]
    half = "{% $join($map([1..140000], function($v) {'x'}), '') %}"
    described, _ = run(aws, {"A": {"Type": "Pass", "Assign": {"a": half, "b": half},
                                   "End": True}})
    assert described["error"] == "States.DataLimitExceeded"
    assert output_of(aws, "{% $length($a) %}", assign={"a": half}) == 140000


def test_jsonpath_states_read_variables_with_a_path(aws):
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"cfg": {"sizes": [5, 6]}}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"second.$": "$cfg.sizes[1]", "all.$": "$cfg"},
              "End": True}}}
    described, _ = run_state_machine(aws, definition)
    assert json.loads(described["output"]) == {"second": 6, "all": {"sizes": [5, 6]}}
