"""JSONata in the local Step Functions, against AWS's documented results.

Pages: transforming data with JSONata
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html, workflow variables
https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html, and the state pages
they link. The evaluator is jsonata-python (see local_aws/moto_hooks/jsonata.py for why).

Library comparison behind the choice (JSONata 2.0.6 test suite, 1,625 cases, 5 s per case; speed:
compile + evaluate of four Step Functions-shaped expressions, this machine, µs per call):

| library (PyPI)          | engine                         | passed | µs/call | wheels              |
|-------------------------|--------------------------------|--------|---------|---------------------|
| jsonata-python 0.7.1    | pure Python, port of jsonata-java | 1575 | 350   | any platform        |
| jlens 0.25.0            | Rust                           | 1584   | 17      | abi3: Linux, macOS, Windows |
| jsonatapy 2.2.13        | Rust                           | 1580   | 16      | no current Intel macOS |
| jsonata2py 0.1.3        | pure Python, translated to Python | 1582 | 30 (cached) | any platform |
| jsonata-rs 0.1.4        | Rust port of jsonata-java      | 1552   | 51      | Linux, Apple-silicon macOS only |
| zopyx-pyjsonata 0.3.7   | Stedi's jsonata-rs bindings    | 1231 (panics) | 56 | Linux x86-64 |
"""
import json

import pytest

from tests.conftest import run_state_machine


def run(aws, states: dict, execution_input=None, start="A", query_language="JSONata"):
    definition = {"QueryLanguage": query_language, "StartAt": start, "States": states}
    return run_state_machine(aws, definition, execution_input or {})


def output_of(aws, expression_or_template, execution_input=None, assign=None):
    states = {"A": {"Type": "Pass", "Output": expression_or_template, "End": True}}
    if assign:
        states = {"Vars": {"Type": "Pass", "Assign": assign, "Next": "A"}, **states}
    described, _ = run(aws, states, execution_input, start="Vars" if assign else "A")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return json.loads(described["output"])


def test_the_documented_conversion_from_jsonpath_gives_the_documented_result(aws):
    """transforming-data.html: the same Parameters in JSONPath and Arguments in JSONata, input
    {"title": "Doctor"}, variable customerName "María"."""
    expected = {"static": "Hello", "title": "Doctor", "name": "María",
                "not-evaluated": "$customerName"}
    assert output_of(aws, {"static": "Hello", "title": "{% $states.input.title %}",
                           "name": "{% $customerName %}", "not-evaluated": "$customerName"},
                     {"title": "Doctor"}, assign={"customerName": "María"}) == expected
    jsonpath = {"Vars": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "A"},
                "A": {"Type": "Pass", "End": True, "Parameters": {
                    "static": "Hello", "title.$": "$.title", "name.$": "$customerName",
                    "not-evaluated": "$customerName"}}}
    described, _ = run(aws, jsonpath, {"title": "Doctor"}, start="Vars",
                       query_language="JSONPath")
    assert json.loads(described["output"]) == expected


@pytest.mark.parametrize("expression, expected", [
    # Step Functions' own functions (transforming-data.html, "Step Functions provided JSONata
    # functions"), with the page's examples.
    ("$partition([1,2,3,4,5,6,7,8,9], 3)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ("$partition([1,2,3,4,5], 2)", [[1, 2], [3, 4], [5]]),
    ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
    ("$range(10, 0, -5)", [10, 5, 0]),
    ("$hash('input data', 'SHA-256')",
     "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ("$hash('input data', 'MD5')", "812f45842bc6d66ee14572ce20db8e86"),
    ("$parse('{\"foo\": \"bar\"}')", {"foo": "bar"}),
    ("$random(42) = $random(42)", True),  # seeded: the same number each time
    ("$random() >= 0 and $random() < 1", True),
    ("$length($uuid())", 36),
    # JSONata 2.0.6 itself
    ("$sum([1, 2, 3]) & ' items'", "6 items"),
    ("$uppercase('sagemaker')", "SAGEMAKER"),
    ("{'a': 1}.a", 1),
    ("null", None),
])
def test_functions(aws, expression, expected):
    assert output_of(aws, {"value": "{% " + expression + " %}"})["value"] == expected


def test_states_input_context_and_variables_with_any_characters(aws):
    out = output_of(aws, {
        "job": "{% $states.input.job & '-' & $states.context.Execution.Name %}",
        "quoted": "{% $said %}", "items": "{% $states.input.items[price > 1].name %}"},
        {"job": "train", "items": [{"name": "a", "price": 1}, {"name": "b", "price": 2}]},
        assign={"said": "she said \"hi\"\nthen left"})
    assert out["job"].startswith("train-t") and out["quoted"] == "she said \"hi\"\nthen left"
    assert out["items"] == "b"  # a single match is a value, not an array (JSONata)


def test_an_undefined_result_is_a_query_evaluation_error_naming_the_field(aws):
    """AWS: "The JSONata expression '...' specified for the field 'Output/...' returned nothing
    (undefined)", with an EvaluationFailed event (transforming-data.html, "Errors")."""
    described, events = run(aws, {"A": {"Type": "Pass", "End": True,
                                        "Output": {"result": "{% $states.input.missing %}"}}})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.QueryEvaluationError"
    assert described["cause"] == (
        "An error occurred while executing the state 'A' (entered at the event id #2). The "
        "JSONata expression '$states.input.missing' specified for the field 'Output/result' "
        "returned nothing (undefined).")
    failed = next(e for e in events if e["type"] == "EvaluationFailed")
    assert failed["evaluationFailedEventDetails"]["location"] == "Output/result"
    assert failed["evaluationFailedEventDetails"]["state"] == "A"


def test_an_evaluation_error_carries_jsonatas_code(aws):
    states = {"A": {"Type": "Pass", "Output": "{% $states.input.n + 'one' %}", "End": True}}
    described, _ = run(aws, states, {"n": 1})
    assert described["error"] == "States.QueryEvaluationError"
    assert "specified for the field 'Output' threw an error during evaluation. T2002: " in \
        described["cause"]
    # $eval is not offered by Step Functions: it is not a function there.
    described, _ = run(aws, {"A": {"Type": "Pass", "Output": "{% $eval('1+1') %}", "End": True}})
    assert "T1006" in described["cause"]


def test_every_field_that_takes_jsonata(aws):
    """Choice Condition, Wait Seconds, Map Items/ItemSelector, Fail Error/Cause, Catch Output and
    Assign, Task Arguments and TimeoutSeconds (the state pages' JSONata fields)."""
    states = {
        "Start": {"Type": "Pass", "Assign": {"limit": 2}, "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": "{% $limit - 2 %}", "Next": "Each"},
        "Each": {"Type": "Map", "Items": "{% $states.input.values %}",
                 "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}"},
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Id",
                                   "States": {"Id": {"Type": "Pass", "End": True}}},
                 "Output": "{% $states.result.v %}", "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sts:getCallerIdentity",
                 "Arguments": {}, "TimeoutSeconds": "{% $limit * 30 %}",
                 "Assign": {"account": "{% $states.result.Account %}"},
                 "Output": "{% $states.input %}", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Default": "Small",
                 "Choices": [{"Condition": "{% $sum($states.input) > $limit * 10 %}",
                              "Next": "Fail"}]},
        "Small": {"Type": "Succeed"},
        "Fail": {"Type": "Fail", "Error": "{% 'TooBig' & $string($count($states.input)) %}",
                 "Cause": "{% 'sum ' & $string($sum($states.input)) & ' in ' & $account %}"},
    }
    described, events = run(aws, states, {"values": [1, 2, 3]}, start="Start")
    assert described["status"] == "FAILED"
    assert described["error"] == "TooBig3"
    assert described["cause"] == f"sum 60 in {aws.account}"


def test_mixed_query_languages_in_one_workflow(aws):
    """A JSONPath workflow may have JSONata states (not the reverse: transforming-data.html)."""
    states = {"Path": {"Type": "Pass", "Parameters": {"n.$": "$.n"},
                       "Assign": {"seen.$": "$.n"}, "Next": "Ata"},
              "Ata": {"Type": "Pass", "QueryLanguage": "JSONata",
                      "Output": "{% $states.input.n + $seen %}", "End": True}}
    described, _ = run(aws, states, {"n": 20}, start="Path", query_language="JSONPath")
    assert json.loads(described["output"]) == 40
